//! Typed identities of the things the agent protocol names: hosts, VMs, disks, NICs and
//! requests. Each parses (and so validates) its text form once, at the edge.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// An identity that did not parse. `kind` names what was being parsed ("host id", "vm id", …).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind}: {reason}")]
pub struct Error {
    /// What was being parsed.
    pub kind: &'static str,
    /// Why it was refused (never the value itself, which may be long or hostile).
    pub reason: &'static str,
}

fn invalid(kind: &'static str, reason: &'static str) -> Error {
    Error { kind, reason }
}

/// Implements Display, FromStr, serde (as the text form) and JsonSchema for a text id.
macro_rules! text_id {
    ($ty:ident, $pattern:expr, $description:literal) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl FromStr for $ty {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                Self::parse(s)
            }
        }
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = Cow::<str>::deserialize(deserializer)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($ty))
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({ "type": "string", "pattern": $pattern, "description": $description })
            }
        }
    };
}

/// A host's identity: its configured name, lower-cased (a DNS name or an IPv4 address).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostId(String);

impl HostId {
    /// Lower-cases `name` and checks it is a DNS name: 1–253 characters, labels of
    /// letters, digits and '-' (not at either end) separated by single dots.
    pub fn parse(name: &str) -> Result<Self, Error> {
        const KIND: &str = "host id";
        if name.is_empty() || name.len() > 253 {
            return Err(invalid(KIND, "must be 1 to 253 characters"));
        }
        for label in name.split('.') {
            if label.is_empty() || label.len() > 63 {
                return Err(invalid(
                    KIND,
                    "each dot-separated label must be 1 to 63 characters",
                ));
            }
            if !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                return Err(invalid(
                    KIND,
                    "only letters, digits, '-' and '.' are allowed",
                ));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(invalid(KIND, "a label may not start or end with '-'"));
            }
        }
        Ok(Self(name.to_ascii_lowercase()))
    }

    /// The lower-case name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

text_id!(
    HostId,
    "^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$",
    "A host's configured name, lower case."
);

/// A VM's identity: its Hyper-V GUID, always shown lower case and hyphenated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VmId(Uuid);

impl VmId {
    /// Parses the canonical form: 36 characters, lower case, hyphenated, no braces.
    pub fn parse(text: &str) -> Result<Self, Error> {
        const KIND: &str = "vm id";
        let uuid = Uuid::try_parse(text).map_err(|_| {
            invalid(
                KIND,
                "must be a GUID like 0f8fad5b-d9cb-469f-a165-70867728950e",
            )
        })?;
        let canonical = uuid.hyphenated().to_string();
        if canonical != text {
            return Err(invalid(
                KIND,
                "must be lower case, hyphenated, without braces",
            ));
        }
        Ok(Self(uuid))
    }

    /// Wraps a GUID.
    pub fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid)
    }

    /// A random (v4) id, for simulated VMs.
    pub fn random() -> Self {
        Self(Uuid::new_v4())
    }

    /// The GUID.
    pub fn uuid(&self) -> Uuid {
        self.0
    }

    fn as_str(&self) -> String {
        self.0.hyphenated().to_string()
    }
}

impl fmt::Display for VmId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}
impl FromStr for VmId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}
impl Serialize for VmId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.as_str())
    }
}
impl<'de> Deserialize<'de> for VmId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Cow::<str>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}
impl JsonSchema for VmId {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("VmId")
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
            "description": "A VM's Hyper-V GUID, lower case."
        })
    }
}

/// Checks `Microsoft:<guid>(\<guid>)…` with the given trailing segments.
fn is_hyperv_device_id(text: &str, guids: usize, tail: &[fn(&str) -> bool]) -> bool {
    let Some(rest) = text.strip_prefix("Microsoft:") else {
        return false;
    };
    let parts: Vec<&str> = rest.split('\\').collect();
    if parts.len() != guids + tail.len() {
        return false;
    }
    let (head, rest) = parts.split_at(guids);
    head.iter()
        .all(|p| p.len() == 36 && Uuid::try_parse(p).is_ok())
        && rest.iter().zip(tail).all(|(part, check)| check(part))
}

fn is_small_number(part: &str) -> bool {
    (1..=2).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit())
}

/// A virtual hard disk drive's identity, as Get-VMHardDiskDrive reports it:
/// `Microsoft:<VM GUID>\<controller GUID>\<controller number>\<location>\D`.
/// Compared case-insensitively (Hyper-V prints upper case).
#[derive(Debug, Clone, Eq)]
pub struct DiskId(String);

impl DiskId {
    /// Checks the shape above.
    pub fn parse(text: &str) -> Result<Self, Error> {
        if is_hyperv_device_id(text, 2, &[is_small_number, is_small_number, |p| p == "D"]) {
            Ok(Self(text.to_owned()))
        } else {
            Err(invalid(
                "disk id",
                "must look like Microsoft:<guid>\\<guid>\\<n>\\<n>\\D",
            ))
        }
    }

    /// The id as the host wrote it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl PartialEq for DiskId {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}
impl std::hash::Hash for DiskId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.to_ascii_uppercase().hash(state);
    }
}

text_id!(
    DiskId,
    "^Microsoft:[0-9A-Fa-f-]{36}\\\\[0-9A-Fa-f-]{36}\\\\[0-9]{1,2}\\\\[0-9]{1,2}\\\\D$",
    "A virtual hard disk drive's Hyper-V id."
);

/// A network adapter's identity, as Get-VMNetworkAdapter reports it:
/// `Microsoft:<VM GUID>\<adapter GUID>`. Compared case-insensitively.
#[derive(Debug, Clone, Eq)]
pub struct NicId(String);

impl NicId {
    /// Checks the shape above.
    pub fn parse(text: &str) -> Result<Self, Error> {
        if is_hyperv_device_id(text, 2, &[]) {
            Ok(Self(text.to_owned()))
        } else {
            Err(invalid("nic id", "must look like Microsoft:<guid>\\<guid>"))
        }
    }

    /// The id as the host wrote it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl PartialEq for NicId {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}
impl std::hash::Hash for NicId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.to_ascii_uppercase().hash(state);
    }
}

text_id!(
    NicId,
    "^Microsoft:[0-9A-Fa-f-]{36}\\\\[0-9A-Fa-f-]{36}$",
    "A network adapter's Hyper-V id."
);

/// The id a caller gives a request (a job or task id), 1–128 characters of letters,
/// digits and `. _ : -`, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CorrelationId(String);

impl CorrelationId {
    /// Checks the shape above.
    pub fn parse(text: &str) -> Result<Self, Error> {
        const KIND: &str = "correlation id";
        let valid_char = |b: u8| b.is_ascii_alphanumeric() || b"._:-".contains(&b);
        match text.as_bytes().first() {
            None => Err(invalid(KIND, "must not be empty")),
            Some(_) if text.len() > 128 => Err(invalid(KIND, "must be at most 128 characters")),
            Some(first) if !first.is_ascii_alphanumeric() => {
                Err(invalid(KIND, "must start with a letter or digit"))
            }
            Some(_) if !text.bytes().all(valid_char) => Err(invalid(
                KIND,
                "only letters, digits and . _ : - are allowed",
            )),
            Some(_) => Ok(Self(text.to_owned())),
        }
    }

    /// A fresh random id (a v4 UUID).
    pub fn random() -> Self {
        Self(Uuid::new_v4().to_string())
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

text_id!(
    CorrelationId,
    "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$",
    "The caller's id for a request."
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_ids_are_lower_cased_dns_names() {
        assert_eq!(
            HostId::parse("HV-01.Lab.Example").map(|h| h.0),
            Ok("hv-01.lab.example".into())
        );
        assert_eq!(
            HostId::parse("127.0.10.1").map(|h| h.0),
            Ok("127.0.10.1".into())
        );
        for bad in ["", "a..b", "-a", "a-", "a_b", "a b", &"x".repeat(64)] {
            assert!(HostId::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn vm_ids_must_be_canonical() {
        let id = "0f8fad5b-d9cb-469f-a165-70867728950e";
        assert_eq!(VmId::parse(id).map(|v| v.to_string()), Ok(id.to_owned()));
        assert!(VmId::parse(&id.to_uppercase()).is_err());
        assert!(VmId::parse(&format!("{{{id}}}")).is_err());
        assert!(VmId::parse("0f8fad5bd9cb469fa16570867728950e").is_err());
    }

    #[test]
    fn device_ids_have_the_hyperv_shape_and_compare_case_insensitively() {
        let g = "0F8FAD5B-D9CB-469F-A165-70867728950E";
        let disk = format!("Microsoft:{g}\\83F8638B-8DCA-4152-9EDA-2CA8B33039B4\\0\\1\\D");
        assert!(DiskId::parse(&disk).is_ok());
        assert_eq!(
            DiskId::parse(&disk),
            DiskId::parse(&disk.replace(g, &g.to_lowercase()))
        );
        assert!(DiskId::parse(&disk.replace("\\D", "\\L")).is_err());
        assert!(DiskId::parse(&format!("Microsoft:{g}\\{g}\\100\\1\\D")).is_err());
        let nic = format!("Microsoft:{g}\\{g}");
        assert!(NicId::parse(&nic).is_ok());
        assert!(NicId::parse(&format!("{nic}\\x")).is_err());
        assert!(NicId::parse(g).is_err());
    }

    #[test]
    fn correlation_ids() {
        assert!(CorrelationId::parse("job-42:step.1_a").is_ok());
        assert!(CorrelationId::parse(CorrelationId::random().as_str()).is_ok());
        for bad in ["", "-a", "a b", "a/b", &"a".repeat(129)] {
            assert!(CorrelationId::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
