//! The environment layer's naming: `AETHERV_<SECTION>__<KEY>[__<SUBKEY>...]`.
//!
//! - The section is upper-cased as is (`remote_tasks` → `AETHERV_REMOTE_TASKS__`).
//! - Each key part is lower-cased; parts are separated by a double underscore, so a single
//!   underscore stays inside a key (`REFRESH_INTERVAL` → `refresh_interval`).
//! - The value is typed by the key's default: a string key takes the text as is; an
//!   integer, float or boolean key parses it (`"true"`/`"false"`); an array or table key
//!   takes a TOML inline value (`["a", "b"]`, `{ name = "hv01" }`). A key without a default
//!   (an `Option` that defaults to `None`) takes the text as a TOML value when it parses as
//!   one and as a string otherwise (quote it, `'"123"'`, to force a string).

/// The prefix of a section's variables.
pub fn prefix(section: &str) -> String {
    format!("AETHERV_{}__", section.to_ascii_uppercase())
}

/// The key path a variable sets, or `None` when the variable belongs to another section or
/// is not an Aether-V variable. `Some(Err(_))` when it has the prefix but no valid key.
pub fn key_path(section: &str, name: &str) -> Option<Result<Vec<String>, String>> {
    let rest = name.strip_prefix(&prefix(section))?;
    let parts: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
    if parts.iter().any(String::is_empty) {
        return Some(Err(format!(
            "variable {name} does not name a key (empty part between \"__\")"
        )));
    }
    Some(Ok(parts))
}

/// The variable that sets `key` (dotted, relative to the section).
pub fn variable_for(section: &str, key: &str) -> String {
    let parts: Vec<String> = key.split('.').map(str::to_ascii_uppercase).collect();
    format!("{}{}", prefix(section), parts.join("__"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_sections_and_nested_keys() {
        assert_eq!(
            key_path("inventory", "AETHERV_INVENTORY__REFRESH_INTERVAL"),
            Some(Ok(vec!["refresh_interval".to_string()]))
        );
        assert_eq!(
            key_path(
                "remote_tasks",
                "AETHERV_REMOTE_TASKS__SERVER__DRAIN_TIMEOUT"
            ),
            Some(Ok(vec!["server".to_string(), "drain_timeout".to_string()]))
        );
        assert_eq!(key_path("inventory", "AETHERV_JOBS__HISTORY_LIMIT"), None);
        assert_eq!(key_path("inventory", "AETHERV_TEST_VENV"), None);
        assert_eq!(key_path("inventory", "PATH"), None);
        assert!(matches!(
            key_path("inventory", "AETHERV_INVENTORY__SERVER____X"),
            Some(Err(_))
        ));
        assert!(matches!(
            key_path("inventory", "AETHERV_INVENTORY__"),
            Some(Err(_))
        ));
        assert_eq!(
            variable_for("remote_tasks", "server.drain_timeout"),
            "AETHERV_REMOTE_TASKS__SERVER__DRAIN_TIMEOUT"
        );
    }
}
