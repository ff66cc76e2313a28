//! [`Secret`]: a value (password, token, key) that prints as `"••••••"` in `Debug` and
//! `Display`, serializes as the same mask, and deserializes from the plain value, so it can
//! sit in a config struct that is logged or dumped without leaking.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a secret prints as.
pub const MASK: &str = "••••••";

/// A secret value. Read it with [`Secret::expose`], only where it is used.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret<T>(T);

/// The common case: a secret string.
pub type SecretString = Secret<String>;

impl<T> Secret<T> {
    /// Wraps a value.
    pub fn new(value: T) -> Secret<T> {
        Secret(value)
    }

    /// The value. Every call site is a place the secret leaves its wrapper: keep them few.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl SecretString {
    /// True when the secret is the empty string (not configured).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Secret<T> {
        Secret(value)
    }
}

impl From<&str> for SecretString {
    fn from(value: &str) -> SecretString {
        Secret(value.to_string())
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Secret<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Secret<T>, D::Error> {
        T::deserialize(deserializer).map(Secret)
    }
}

/// Serializes as the mask: a dumped configuration never contains the secret. An empty
/// value serializes as `""`, so an unset secret stays unset when the config loader merges
/// layers over the serialized defaults.
impl<T: AsRef<str>> Serialize for Secret<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.0.as_ref().is_empty() {
            serializer.serialize_str("")
        } else {
            serializer.serialize_str(MASK)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, Serialize)]
    struct Credentials {
        username: String,
        password: SecretString,
    }

    #[test]
    fn debug_display_and_serialize_print_the_mask() {
        let credentials: Credentials =
            match toml::from_str("username = \"svc\"\npassword = \"hunter2\"") {
                Ok(credentials) => credentials,
                Err(error) => panic!("parse: {error}"),
            };
        assert_eq!(credentials.password.expose(), "hunter2");
        let debug = format!("{credentials:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains(MASK), "{debug}");
        assert_eq!(credentials.password.to_string(), MASK);
        let dumped = match toml::to_string(&credentials) {
            Ok(dumped) => dumped,
            Err(error) => panic!("serialize: {error}"),
        };
        assert!(!dumped.contains("hunter2"), "{dumped}");
    }
}
