//! The merged TOML tree of the layers, with the origin of every value, and its
//! deserialization into the config type with the key named on every error.

use std::collections::BTreeMap;
use std::path::Path;

use toml::{Table, Value};

use super::{Error, Issue, KNOWN_SECTIONS, Origin, ServiceConfig, origin_of};

/// The section's table as the layers build it.
pub(super) struct Tree {
    section: &'static str,
    table: Table,
    /// Dotted key (relative to the section) → where its value came from.
    origins: BTreeMap<String, Origin>,
}

impl Tree {
    /// Starts from the defaults, so a layer that sets one key of a nested table keeps the
    /// parent's defaults for the others (serde alone would take the nested type's own
    /// `Default`).
    pub(super) fn new(section: &'static str, defaults: Table) -> Tree {
        Tree {
            section,
            table: defaults,
            origins: BTreeMap::new(),
        }
    }

    /// Merges the section's table of a configuration file.
    pub(super) fn apply_file(
        &mut self,
        path: &Path,
        text: &str,
        issues: &mut Vec<Issue>,
    ) -> Result<(), Error> {
        let file: Table = toml::from_str(text).map_err(|source| Error::Parse {
            path: path.to_path_buf(),
            source: Box::new(source),
        })?;
        let origin = Origin::File(path.to_path_buf());
        for (name, value) in file {
            if name == self.section {
                match value {
                    Value::Table(table) => {
                        let mut prefix = Vec::new();
                        self.merge_table(&mut prefix, table, &origin);
                    }
                    other => issues.push(Issue {
                        key: name,
                        message: format!(
                            "expected a table [{}], got a {}",
                            self.section,
                            other.type_str()
                        ),
                        origin: Some(origin.clone()),
                    }),
                }
            } else if !KNOWN_SECTIONS.contains(&name.as_str()) {
                issues.push(Issue {
                    key: name,
                    message: format!("unknown section (known: {})", KNOWN_SECTIONS.join(", ")),
                    origin: Some(origin.clone()),
                });
            }
        }
        Ok(())
    }

    fn merge_table(&mut self, prefix: &mut Vec<String>, table: Table, origin: &Origin) {
        for (name, value) in table {
            prefix.push(name);
            match value {
                Value::Table(nested) => self.merge_table(prefix, nested, origin),
                leaf => self.set(prefix, leaf, origin.clone()),
            }
            prefix.pop();
        }
    }

    /// Sets one key from an environment variable or a flag, typing the text by the default.
    pub(super) fn apply_override(
        &mut self,
        path: Result<Vec<String>, String>,
        text: &str,
        hints: &Table,
        origin: Origin,
        issues: &mut Vec<Issue>,
    ) {
        let path = match path {
            Ok(path) => path,
            Err(message) => {
                issues.push(Issue {
                    key: self.section.to_string(),
                    message,
                    origin: Some(origin),
                });
                return;
            }
        };
        match typed_value(hint_at(hints, &path), text) {
            Ok(value) => self.set(&path, value, origin),
            Err(message) => issues.push(Issue {
                key: format!("{}.{}", self.section, path.join(".")),
                message,
                origin: Some(origin),
            }),
        }
    }

    fn set(&mut self, path: &[String], value: Value, origin: Origin) {
        let Some((last, parents)) = path.split_last() else {
            return;
        };
        let mut table = &mut self.table;
        for part in parents {
            let entry = table
                .entry(part.clone())
                .or_insert_with(|| Value::Table(Table::new()));
            if !entry.is_table() {
                // A later layer turns a scalar into a table: the later layer wins.
                *entry = Value::Table(Table::new());
            }
            let Value::Table(next) = entry else { return };
            table = next;
        }
        table.insert(last.clone(), value);
        self.origins.insert(path.join("."), origin);
    }

    /// Deserializes the tree into `C`, naming the key of the first bad value and every
    /// unknown key.
    pub(super) fn deserialize<C: ServiceConfig>(
        self,
    ) -> Result<(C, BTreeMap<String, Origin>), Error> {
        let Tree {
            section,
            table,
            origins,
        } = self;
        let mut unknown = Vec::new();
        let mut record = |path: serde_ignored::Path<'_>| unknown.push(path.to_string());
        let deserializer = serde_ignored::Deserializer::new(Value::Table(table), &mut record);
        let config: Result<C, _> = serde_path_to_error::deserialize(deserializer);
        match config {
            Err(error) => {
                let key = error.path().to_string();
                let message = error.inner().message().trim().to_string();
                Err(Error::Invalid(vec![Issue {
                    key: format!("{section}.{key}"),
                    origin: origin_of(&origins, &key),
                    message,
                }]))
            }
            Ok(_) if !unknown.is_empty() => Err(Error::Invalid(
                unknown
                    .iter()
                    .map(|key| Issue {
                        key: format!("{section}.{key}"),
                        message: "unknown key".to_string(),
                        origin: origin_of(&origins, key),
                    })
                    .collect(),
            )),
            Ok(config) => Ok((config, origins)),
        }
    }
}

/// The default's value at `path`, if the default has one.
fn hint_at<'a>(hints: &'a Table, path: &[String]) -> Option<&'a Value> {
    let (last, parents) = path.split_last()?;
    let mut table = hints;
    for part in parents {
        table = table.get(part)?.as_table()?;
    }
    table.get(last)
}

/// The text of a variable or flag as a TOML value of the default's type.
fn typed_value(hint: Option<&Value>, text: &str) -> Result<Value, String> {
    match hint {
        Some(Value::String(_)) => Ok(Value::String(text.to_string())),
        Some(Value::Integer(_)) => text
            .trim()
            .parse::<i64>()
            .map(Value::Integer)
            .map_err(|_| format!("expected an integer, got {text:?}")),
        Some(Value::Float(_)) => text
            .trim()
            .parse::<f64>()
            .map(Value::Float)
            .map_err(|_| format!("expected a number, got {text:?}")),
        Some(Value::Boolean(_)) => match text.trim() {
            "true" => Ok(Value::Boolean(true)),
            "false" => Ok(Value::Boolean(false)),
            _ => Err(format!("expected true or false, got {text:?}")),
        },
        Some(Value::Array(_)) => match inline_value(text) {
            Some(value @ Value::Array(_)) => Ok(value),
            _ => Err(format!(
                "expected a TOML array like [\"a\", \"b\"], got {text:?}"
            )),
        },
        Some(Value::Table(_)) => match inline_value(text) {
            Some(value @ Value::Table(_)) => Ok(value),
            _ => Err(format!(
                "expected a TOML inline table like {{ key = \"value\" }}, got {text:?}"
            )),
        },
        Some(Value::Datetime(_)) | None => {
            Ok(inline_value(text).unwrap_or_else(|| Value::String(text.to_string())))
        }
    }
}

/// Parses `text` as one TOML value.
fn inline_value(text: &str) -> Option<Value> {
    let mut table: Table = toml::from_str(&format!("value = {text}")).ok()?;
    table.remove("value")
}
