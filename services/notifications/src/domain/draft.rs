//! Validation of a Publish at the edge: every field is checked, every problem reported
//! with the field it concerns (proto field paths: `title`, `related.id`, `metadata`), and
//! an accepted draft is scrubbed of secret-looking values ([`super::scrub`]).

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::model::{Category, DedupKey, Draft, EntityKind, Level, Related};
use super::scrub::{is_secret_key, scrub_text};
use aetherv_runtime::MASK;

/// Longest title, in characters.
pub const TITLE_MAX: usize = 200;
/// Longest message, in characters.
pub const MESSAGE_MAX: usize = 4000;
/// Most metadata entries.
pub const METADATA_ENTRIES_MAX: usize = 32;
/// Longest metadata key, in characters.
pub const METADATA_KEY_MAX: usize = 64;
/// Longest metadata value, in characters.
pub const METADATA_VALUE_MAX: usize = 1024;
/// Longest related id, name or host, in characters.
pub const RELATED_FIELD_MAX: usize = 256;

/// One invalid field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The proto field path (`title`, `related.id`, `metadata`).
    pub field: String,
    /// What is wrong, lower case; never echoes a value.
    pub description: String,
}

impl Violation {
    /// A violation of `field`.
    pub fn new(field: &str, description: impl Into<String>) -> Violation {
        Violation {
            field: field.to_string(),
            description: description.into(),
        }
    }
}

/// The related entity as received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelatedInput {
    /// `None` when unspecified or unknown.
    pub kind: Option<EntityKind>,
    /// The entity's id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Host.
    pub host: String,
}

/// A Publish as received, before validation. Enumerations the transport could not map
/// (unspecified or unknown numbers) are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DraftInput {
    /// Severity.
    pub level: Option<Level>,
    /// Area.
    pub category: Option<Category>,
    /// Title.
    pub title: String,
    /// Message.
    pub message: String,
    /// Related entity, when given.
    pub related: Option<RelatedInput>,
    /// Metadata entries.
    pub metadata: Vec<(String, String)>,
    /// De-duplication key; empty when none.
    pub dedup_key: String,
}

/// An accepted draft and the fields that had secret-looking values masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The draft to publish.
    pub draft: Draft,
    /// Fields scrubbed (`title`, `message`, `metadata.<key>`), for a log line.
    pub scrubbed: Vec<String>,
}

/// Characters allowed in a metadata key.
fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

/// Checks length and control characters of one text field. `multiline` admits `\n`,
/// `\r` and `\t`.
fn check_text(
    field: &str,
    text: &str,
    min: usize,
    max: usize,
    multiline: bool,
    violations: &mut Vec<Violation>,
) {
    let length = text.chars().count();
    if min > 0 && text.trim().is_empty() {
        violations.push(Violation::new(field, "required (must not be blank)"));
    } else if length > max {
        violations.push(Violation::new(
            field,
            format!("must be at most {max} characters, got {length}"),
        ));
    }
    let allowed = |c: char| multiline && matches!(c, '\n' | '\r' | '\t');
    if text.chars().any(|c| c.is_control() && !allowed(c)) {
        let what = if multiline {
            "must not contain control characters other than newline and tab"
        } else {
            "must not contain control characters"
        };
        violations.push(Violation::new(field, what));
    }
}

fn check_related(input: &RelatedInput, violations: &mut Vec<Violation>) -> Option<Related> {
    if input.kind.is_none() {
        violations.push(Violation::new(
            "related.kind",
            "required: one of system, cluster, host, vm, disk, nic, job, deployment",
        ));
    }
    check_text(
        "related.id",
        &input.id,
        1,
        RELATED_FIELD_MAX,
        false,
        violations,
    );
    check_text(
        "related.name",
        &input.name,
        0,
        RELATED_FIELD_MAX,
        false,
        violations,
    );
    check_text(
        "related.host",
        &input.host,
        0,
        RELATED_FIELD_MAX,
        false,
        violations,
    );
    Some(Related {
        kind: input.kind?,
        id: input.id.clone(),
        name: input.name.clone(),
        host: input.host.clone(),
    })
}

fn check_metadata(
    entries: &[(String, String)],
    violations: &mut Vec<Violation>,
) -> BTreeMap<String, String> {
    if entries.len() > METADATA_ENTRIES_MAX {
        violations.push(Violation::new(
            "metadata",
            format!(
                "must have at most {METADATA_ENTRIES_MAX} entries, got {}",
                entries.len()
            ),
        ));
    }
    let mut metadata = BTreeMap::new();
    for (index, (key, value)) in entries.iter().enumerate() {
        let length = key.chars().count();
        if key.is_empty() || length > METADATA_KEY_MAX || !key.chars().all(is_key_char) {
            violations.push(Violation::new(
                "metadata",
                format!(
                    "key #{} must be 1..{METADATA_KEY_MAX} characters of letters, digits, '_', '-' and '.'",
                    index + 1
                ),
            ));
            continue;
        }
        let field = format!("metadata.{key}");
        check_text(&field, value, 0, METADATA_VALUE_MAX, true, violations);
        metadata.insert(key.clone(), value.clone());
    }
    metadata
}

/// `text` scrubbed; `field` recorded when something was masked.
fn clean(field: String, text: String, scrubbed: &mut Vec<String>) -> String {
    match scrub_text(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(masked) => {
            scrubbed.push(field);
            masked
        }
    }
}

/// Validates and scrubs a Publish; `Err` lists every violation.
pub fn check(input: DraftInput) -> Result<Checked, Vec<Violation>> {
    let mut violations = Vec::new();
    if input.level.is_none() {
        violations.push(Violation::new(
            "level",
            "required: one of info, success, warning, error",
        ));
    }
    if input.category.is_none() {
        violations.push(Violation::new(
            "category",
            "required: one of system, host, vm, job, deployment",
        ));
    }
    check_text("title", &input.title, 1, TITLE_MAX, false, &mut violations);
    check_text(
        "message",
        &input.message,
        0,
        MESSAGE_MAX,
        true,
        &mut violations,
    );
    let related = input
        .related
        .as_ref()
        .and_then(|related| check_related(related, &mut violations));
    let metadata = check_metadata(&input.metadata, &mut violations);
    let dedup_key = if input.dedup_key.is_empty() {
        None
    } else {
        DedupKey::parse(&input.dedup_key)
            .map_err(|problem| violations.push(Violation::new("dedup_key", problem)))
            .ok()
    };
    let (Some(level), Some(category), true) = (input.level, input.category, violations.is_empty())
    else {
        return Err(violations);
    };
    let mut scrubbed = Vec::new();
    let title = clean("title".to_string(), input.title, &mut scrubbed);
    let message = clean("message".to_string(), input.message, &mut scrubbed);
    let metadata = metadata
        .into_iter()
        .map(|(key, value)| {
            let field = format!("metadata.{key}");
            let value = if is_secret_key(&key) && !value.is_empty() && value != MASK {
                scrubbed.push(field);
                MASK.to_string()
            } else {
                clean(field, value, &mut scrubbed)
            };
            (key, value)
        })
        .collect();
    Ok(Checked {
        draft: Draft {
            level,
            category,
            title,
            message,
            related,
            metadata,
            dedup_key,
        },
        scrubbed,
    })
}
