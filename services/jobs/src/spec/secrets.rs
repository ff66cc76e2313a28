//! Secrets in specs. A schema marks a secret property with `"x-secret": true`; its
//! location is a pointer pattern (`/secret`, `/guest/password`, `/users/*/password` for
//! array items). The service keeps the spec with those values replaced by the mask for
//! everything it shows ([`redact`]), and scrubs the values out of every text it stores or
//! sends: output lines, step results, error messages ([`Scrubber`]).

use std::borrow::Cow;
use std::collections::BTreeSet;

use aetherv_runtime::MASK;
use serde_json::Value;

use super::JobType;
use super::schema::{DOCUMENTS, escape, schema_file};

/// How deep a schema walk follows properties, items and `$ref`s.
const MAX_DEPTH: usize = 16;

/// The pointer patterns of every `x-secret` property of a job type's spec (`*` stands for
/// any array index).
pub fn secret_pointers(job_type: JobType) -> Vec<String> {
    let Ok(documents) = DOCUMENTS.as_ref() else {
        return Vec::new();
    };
    let file = schema_file(job_type);
    let Some(root) = documents.get(file.as_str()) else {
        return Vec::new();
    };
    let mut found = BTreeSet::new();
    walk(root, file.as_str(), "", 0, &mut found);
    found.into_iter().collect()
}

/// Resolves a `$ref` among the job schemas: `defs.schema.json#/$defs/x` or `#/$defs/x`.
fn resolve(reference: &str, current: &str) -> Option<(&'static Value, &'static str)> {
    let documents: &'static std::collections::HashMap<&'static str, Value> =
        DOCUMENTS.as_ref().ok()?;
    let (file, fragment) = reference.split_once('#').unwrap_or((reference, ""));
    let key = if file.is_empty() { current } else { file };
    let (name, document) = documents.get_key_value(key)?;
    let target = if fragment.is_empty() {
        document
    } else {
        document.pointer(fragment)?
    };
    Some((target, *name))
}

fn walk(schema: &Value, file: &str, at: &str, depth: usize, found: &mut BTreeSet<String>) {
    if depth > MAX_DEPTH {
        return;
    }
    let Some(object) = schema.as_object() else {
        return;
    };
    if object.get("x-secret") == Some(&Value::Bool(true)) {
        found.insert(at.to_owned());
    }
    if let Some(reference) = object.get("$ref").and_then(Value::as_str)
        && let Some((target, target_file)) = resolve(reference, file)
    {
        walk(target, target_file, at, depth + 1, found);
    }
    if let Some(properties) = object.get("properties").and_then(Value::as_object) {
        for (name, property) in properties {
            walk(
                property,
                file,
                &format!("{at}/{}", escape(name)),
                depth + 1,
                found,
            );
        }
    }
    if let Some(items) = object.get("items") {
        walk(items, file, &format!("{at}/*"), depth + 1, found);
    }
    for keyword in ["allOf", "anyOf", "oneOf"] {
        for branch in object
            .get(keyword)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            walk(branch, file, at, depth + 1, found);
        }
    }
}

/// The values at a pointer pattern (`*` matches every array index).
fn values_at<'a>(value: &'a Value, pattern: &str, out: &mut Vec<&'a Value>) {
    let Some(rest) = pattern.strip_prefix('/') else {
        if pattern.is_empty() {
            out.push(value);
        }
        return;
    };
    let (head, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if head == "*" {
        for item in value.as_array().into_iter().flatten() {
            values_at(item, tail, out);
        }
        return;
    }
    let name = head.replace("~1", "/").replace("~0", "~");
    if let Some(child) = value.get(name.as_str()) {
        values_at(child, tail, out);
    }
}

fn mask_at(value: &mut Value, pattern: &str) {
    let Some(rest) = pattern.strip_prefix('/') else {
        if pattern.is_empty() && !value.is_null() {
            *value = Value::String(MASK.to_owned());
        }
        return;
    };
    let (head, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if head == "*" {
        if let Some(items) = value.as_array_mut() {
            for item in items {
                mask_at(item, tail);
            }
        }
        return;
    }
    let name = head.replace("~1", "/").replace("~0", "~");
    if let Some(child) = value.get_mut(name.as_str()) {
        mask_at(child, tail);
    }
}

/// `spec` with the value at every pattern replaced by the mask.
pub fn redact(spec: &Value, patterns: &[String]) -> Value {
    let mut redacted = spec.clone();
    for pattern in patterns {
        mask_at(&mut redacted, pattern);
    }
    redacted
}

/// Replaces a job's secret values wherever they appear in text.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Scrubber {
    /// The secret strings, longest first (so a secret containing another is masked whole),
    /// each also in its JSON-escaped form.
    needles: Vec<String>,
}

impl std::fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scrubber")
            .field("secrets", &self.needles.len())
            .finish()
    }
}

impl Scrubber {
    /// The secrets of `spec` at `patterns` (strings; numbers and booleans as their text).
    pub fn from_spec(spec: &Value, patterns: &[String]) -> Scrubber {
        let mut values = Vec::new();
        for pattern in patterns {
            values_at(spec, pattern, &mut values);
        }
        let mut needles = BTreeSet::new();
        for value in values {
            let text = match value {
                Value::String(text) => text.clone(),
                Value::Null => continue,
                other => other.to_string(),
            };
            if text.is_empty() {
                continue;
            }
            if let Ok(quoted) = serde_json::to_string(&text) {
                let escaped = &quoted[1..quoted.len() - 1];
                if escaped != text {
                    needles.insert(escaped.to_owned());
                }
            }
            needles.insert(text);
        }
        let mut needles: Vec<String> = needles.into_iter().collect();
        needles.sort_by_key(|needle| std::cmp::Reverse(needle.len()));
        Scrubber { needles }
    }

    /// True when there is nothing to scrub.
    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// `text` with every secret value replaced by the mask.
    pub fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for needle in &self.needles {
            if out.contains(needle.as_str()) {
                out = Cow::Owned(out.replace(needle.as_str(), MASK));
            }
        }
        out
    }

    /// `value` with every string scrubbed (keys included).
    pub fn scrub_value(&self, value: &Value) -> Value {
        if self.is_empty() {
            return value.clone();
        }
        match value {
            Value::String(text) => Value::String(self.scrub(text).into_owned()),
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| self.scrub_value(v)).collect())
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (self.scrub(k).into_owned(), self.scrub_value(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}
