//! Query-string validation at the edge: every route declares the parameters it takes; an
//! unknown or repeated parameter, or a bad value, is a 400 naming it. An empty value
//! (`?host=`) counts as not given, so HTML forms and URL builders can leave fields blank.

use std::collections::BTreeMap;

use crate::error::HttpError;

/// The parameters of one request, checked against the names a route accepts.
#[derive(Debug, Default)]
pub struct Params {
    values: BTreeMap<String, String>,
}

impl Params {
    /// Parses `raw` (the part after `?`) and refuses names outside `allowed` and names
    /// given twice.
    pub fn parse(raw: Option<&str>, allowed: &[&str]) -> Result<Params, HttpError> {
        let mut values = BTreeMap::new();
        for (name, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            if name.is_empty() && value.is_empty() {
                continue;
            }
            if !allowed.contains(&name.as_ref()) {
                let shown: String = name.chars().take(64).collect();
                let mut error = HttpError::bad_parameter(&shown, "unknown query parameter");
                error.message = if allowed.is_empty() {
                    format!("{shown}: unknown query parameter (this route takes none)")
                } else {
                    format!(
                        "{shown}: unknown query parameter (known: {})",
                        allowed.join(", ")
                    )
                };
                return Err(error.with_allowed(allowed));
            }
            if values.contains_key(name.as_ref()) {
                return Err(HttpError::bad_parameter(&name, "given more than once"));
            }
            values.insert(name.into_owned(), value.into_owned());
        }
        values.retain(|_, value| !value.is_empty());
        Ok(Params { values })
    }

    /// Whether `name` was given (with a value).
    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// A free-text value, at most `max_chars` characters.
    pub fn text(&self, name: &str, max_chars: usize) -> Result<Option<&str>, HttpError> {
        let Some(value) = self.values.get(name) else {
            return Ok(None);
        };
        if value.chars().count() > max_chars {
            return Err(HttpError::bad_parameter(
                name,
                format!("at most {max_chars} characters"),
            ));
        }
        if value.chars().any(char::is_control) {
            return Err(HttpError::bad_parameter(
                name,
                "must not contain control characters",
            ));
        }
        Ok(Some(value))
    }

    /// A host or cluster name: lower-cased, `[a-z0-9._-]`, 1..=253 characters (`extra`
    /// lists whole values also accepted, e.g. `-`).
    pub fn name(&self, name: &str, extra: &[&str]) -> Result<Option<String>, HttpError> {
        let Some(value) = self.values.get(name) else {
            return Ok(None);
        };
        if extra.contains(&value.as_str()) {
            return Ok(Some(value.clone()));
        }
        check_name(name, value).map(Some)
    }

    /// An integer in `min..=max`.
    pub fn integer(&self, name: &str, min: u32, max: u32) -> Result<Option<u32>, HttpError> {
        let Some(value) = self.values.get(name) else {
            return Ok(None);
        };
        match value.parse::<u32>() {
            Ok(number) if (min..=max).contains(&number) => Ok(Some(number)),
            _ => Err(HttpError::bad_parameter(
                name,
                format!("must be an integer between {min} and {max}"),
            )),
        }
    }

    /// `true` or `false`.
    pub fn boolean(&self, name: &str) -> Result<Option<bool>, HttpError> {
        match self.values.get(name).map(String::as_str) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(_) => Err(HttpError::bad_parameter(name, "must be true or false")
                .with_allowed(&["true", "false"])),
        }
    }

    /// One of `choices` (`(wire name, value)`), case-insensitive.
    pub fn choice<T: Copy>(
        &self,
        name: &str,
        choices: &[(&str, T)],
    ) -> Result<Option<T>, HttpError> {
        let Some(value) = self.values.get(name) else {
            return Ok(None);
        };
        lookup(name, value, choices).map(Some)
    }

    /// A comma list of `choices`, each case-insensitive, without duplicates.
    pub fn choices<T: Copy + PartialEq>(
        &self,
        name: &str,
        choices: &[(&str, T)],
    ) -> Result<Vec<T>, HttpError> {
        let Some(value) = self.values.get(name) else {
            return Ok(Vec::new());
        };
        let mut list = Vec::new();
        for item in value.split(',').map(str::trim) {
            if item.is_empty() {
                return Err(HttpError::bad_parameter(
                    name,
                    "has an empty item in its list",
                ));
            }
            let parsed = lookup(name, item, choices)?;
            if !list.contains(&parsed) {
                list.push(parsed);
            }
        }
        Ok(list)
    }
}

fn lookup<T: Copy>(name: &str, value: &str, choices: &[(&str, T)]) -> Result<T, HttpError> {
    choices
        .iter()
        .find(|(wire, _)| wire.eq_ignore_ascii_case(value))
        .map(|(_, parsed)| *parsed)
        .ok_or_else(|| {
            let names: Vec<&str> = choices.iter().map(|(wire, _)| *wire).collect();
            let shown: String = value.chars().take(64).collect();
            HttpError::bad_parameter(
                name,
                format!(
                    "unknown value {shown:?} (expected one of: {})",
                    names.join(", ")
                ),
            )
            .with_allowed(&names)
        })
}

/// Checks a host or cluster name (a path or query parameter) and lower-cases it.
pub fn check_name(parameter: &str, value: &str) -> Result<String, HttpError> {
    let valid = !value.is_empty()
        && value.len() <= 253
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if valid {
        Ok(value.to_ascii_lowercase())
    } else {
        Err(HttpError::bad_parameter(
            parameter,
            "must be 1 to 253 letters, digits, dots, hyphens or underscores",
        ))
    }
}

/// Checks a VM id (a Hyper-V GUID, any case) and lower-cases it.
pub fn check_vm_id(parameter: &str, value: &str) -> Result<String, HttpError> {
    let groups: Vec<&str> = value.split('-').collect();
    let lengths = [8, 4, 4, 4, 12];
    let valid = groups.len() == lengths.len()
        && groups.iter().zip(lengths).all(|(group, length)| {
            group.len() == length && group.chars().all(|c| c.is_ascii_hexdigit())
        });
    if valid {
        Ok(value.to_ascii_lowercase())
    } else {
        Err(HttpError::bad_parameter(
            parameter,
            "must be a vm id (a guid like 3f2a9c1e-0b4d-4e8f-9a51-6c2d7e8f9a01)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_repeated_parameters_are_named() {
        let error = Params::parse(Some("host=a&colour=red"), &["host"]).err();
        assert_eq!(
            error.map(|e| e.details.get("parameter").cloned()),
            Some(Some("colour".into()))
        );
        let error = Params::parse(Some("host=a&host=b"), &["host"]).err();
        assert_eq!(
            error.map(|e| e.message),
            Some("host: given more than once".into())
        );
    }

    #[test]
    fn values_are_typed_and_empty_means_absent() {
        let params = Params::parse(
            Some("page_size=50&all=&state=Running,off"),
            &["page_size", "all", "state"],
        );
        let Ok(params) = params else {
            panic!("valid query refused");
        };
        assert_eq!(params.integer("page_size", 1, 1000).ok(), Some(Some(50)));
        assert_eq!(params.boolean("all").ok(), Some(None));
        let states = params.choices("state", &[("running", 1), ("off", 2)]);
        assert_eq!(states.ok(), Some(vec![1, 2]));
        let bad = Params::parse(Some("page_size=0"), &["page_size"])
            .and_then(|p| p.integer("page_size", 1, 1000));
        assert!(bad.is_err());
    }

    #[test]
    fn ids_and_names_are_checked_and_lower_cased() {
        assert_eq!(
            check_vm_id("id", "3F2A9C1E-0B4D-4E8F-9A51-6C2D7E8F9A01")
                .ok()
                .as_deref(),
            Some("3f2a9c1e-0b4d-4e8f-9a51-6c2d7e8f9a01")
        );
        assert!(check_vm_id("id", "3f2a9c1e").is_err());
        assert!(check_vm_id("id", "zf2a9c1e-0b4d-4e8f-9a51-6c2d7e8f9a01").is_err());
        assert_eq!(
            check_name("host", "HV01.Lab").ok().as_deref(),
            Some("hv01.lab")
        );
        assert!(check_name("host", "hv01/../x").is_err());
    }
}
