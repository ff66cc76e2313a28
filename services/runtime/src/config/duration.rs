//! Serde support for durations in humantime form (`"30s"`, `"2m"`, `"1h 30m"`, `"250ms"`):
//! `#[serde(with = "aetherv_runtime::config::duration")]` on a `Duration` field, or
//! [`option`] on an `Option<Duration>`.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// Parses a humantime duration; the error says what was expected and what came.
pub fn parse(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|_| format!("expected a duration like \"30s\", got {text:?}"))
}

/// Formats a duration the way [`parse`] reads it.
pub fn format(duration: Duration) -> String {
    humantime::format_duration(duration).to_string()
}

/// Serializes as humantime text.
pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format(*duration))
}

/// Deserializes from humantime text.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let value = toml::Value::deserialize(deserializer)?;
    match value {
        toml::Value::String(text) => parse(&text).map_err(serde::de::Error::custom),
        other => Err(serde::de::Error::custom(format!(
            "expected a duration like \"30s\", got {other}"
        ))),
    }
}

/// The same for `Option<Duration>` (absent or `""` is `None`).
pub mod option {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes `Some` as humantime text; `None` is skipped by TOML.
    pub fn serialize<S: Serializer>(
        duration: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match duration {
            Some(duration) => super::serialize(duration, serializer),
            None => serializer.serialize_none(),
        }
    }

    /// Deserializes humantime text; `""` is `None`.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?;
        match text.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(text) => super::parse(text)
                .map(Some)
                .map_err(serde::de::Error::custom),
        }
    }
}
