//! Layered configuration, the same for every service:
//!
//! 1. defaults: the config type's `Default`;
//! 2. an optional TOML file — one file can serve the whole suite: each service reads the
//!    table named after its section (`[inventory]`, `[remote_tasks]`, ...); other known
//!    sections are left to their services, an unknown section is an error;
//! 3. environment variables `AETHERV_<SECTION>__<KEY>[__<SUBKEY>...]`, e.g.
//!    `AETHERV_INVENTORY__REFRESH_INTERVAL=45s` sets `inventory.refresh_interval` and
//!    `AETHERV_INVENTORY__SERVER__DRAIN_TIMEOUT=5s` sets `inventory.server.drain_timeout`
//!    (section and keys upper-cased, nesting with `__`); see [`env`];
//! 4. flags: `--config FILE`, `--set key=value` (see [`CommonArgs`]) and any typed flag a
//!    service maps onto a key with [`Loader::flag`];
//!
//! then deserialization and [`ServiceConfig::validate`]. An unknown key, a bad type or a
//! failed validation is an [`Issue`] naming the full key, the problem and where the value
//! came from: `inventory.refresh_interval: expected a duration like "30s", got "fast"
//! (from environment variable AETHERV_INVENTORY__REFRESH_INTERVAL)`.
//!
//! The loader never reads the process environment itself: callers pass the variables
//! ([`process_env`] in binaries, a literal list in tests).
//!
//! Config structs put `#[serde(default)]` on the container so every key is optional, and
//! use [`duration`] for durations (humantime: `"30s"`, `"2m"`, `"1h 30m"`). The defaults
//! are serialized to TOML and the layers merged on top, so a nested table keeps the parent
//! type's defaults for the keys no layer sets. A default never holds a secret: a
//! [`crate::Secret`] serializes as its mask when set, so its default must be empty.

mod args;
pub mod duration;
pub mod env;
mod merge;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use args::{CommonArgs, KeyValue};

/// The sections a shared configuration file may hold, one per process.
pub const KNOWN_SECTIONS: &[&str] = &[
    "remote_tasks",
    "host_deploy",
    "inventory",
    "jobs",
    "notifications",
    "gateway",
    "hvsim",
    "cli",
];

/// A service's configuration.
pub trait ServiceConfig: Serialize + DeserializeOwned + Default {
    /// The section name (`"inventory"`): the file table, the environment prefix
    /// (`AETHERV_INVENTORY__`) and the first part of every key in messages.
    const SECTION: &'static str;

    /// Checks values that types cannot (ranges, combinations). Push one issue per problem,
    /// with the key relative to the section (`"refresh_interval"`).
    fn validate(&self, issues: &mut Issues) {
        let _ = issues;
    }
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The configuration file.
    File(PathBuf),
    /// An environment variable (its name).
    Env(String),
    /// A command-line flag (as written, e.g. `--set` or `--refresh-interval`).
    Flag(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File(path) => write!(f, "from file {}", path.display()),
            Origin::Env(name) => write!(f, "from environment variable {name}"),
            Origin::Flag(flag) => write!(f, "from flag {flag}"),
        }
    }
}

/// One configuration problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// Full dotted key, `"inventory.refresh_interval"`, or the file/variable at fault.
    pub key: String,
    /// What is wrong, lower case; never contains the value of a secret key.
    pub message: String,
    /// Where the offending value came from; `None` for defaults and cross-field checks.
    pub origin: Option<Origin>,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)?;
        if let Some(origin) = &self.origin {
            write!(f, " ({origin})")?;
        }
        Ok(())
    }
}

/// Issues collected by [`ServiceConfig::validate`].
#[derive(Debug)]
pub struct Issues {
    section: &'static str,
    origins: BTreeMap<String, Origin>,
    list: Vec<Issue>,
}

impl Issues {
    /// An empty list for `section` (used by tests of `validate`).
    pub fn new(section: &'static str) -> Issues {
        Issues {
            section,
            origins: BTreeMap::new(),
            list: Vec::new(),
        }
    }

    /// Records a problem with `key` (relative to the section: `"server.drain_timeout"`).
    pub fn push(&mut self, key: &str, message: impl Into<String>) {
        let origin = origin_of(&self.origins, key);
        self.list.push(Issue {
            key: format!("{}.{key}", self.section),
            message: message.into(),
            origin,
        });
    }

    /// The problems so far.
    pub fn list(&self) -> &[Issue] {
        &self.list
    }

    /// True when nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("configuration file {}: cannot be read", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not TOML.
    #[error("configuration file {}: not valid TOML", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where and why.
        #[source]
        source: Box<toml::de::Error>,
    },
    /// Keys are unknown, values have the wrong type, or validation failed.
    #[error("invalid configuration: {}", join(.0))]
    Invalid(Vec<Issue>),
    /// The defaults could not be represented as TOML (a bug in the config type).
    #[error("configuration defaults of section {section} cannot be represented as TOML")]
    Defaults {
        /// The section.
        section: &'static str,
        /// Why.
        #[source]
        source: toml::ser::Error,
    },
}

impl Error {
    /// Every problem as one line each (for health reasons and diagnostics pages).
    pub fn reasons(&self) -> Vec<String> {
        match self {
            Error::Invalid(issues) => issues.iter().map(ToString::to_string).collect(),
            other => vec![crate::chain::display_chain(other)],
        }
    }
}

fn join(issues: &[Issue]) -> String {
    issues
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Builds a configuration from its layers. See the module documentation.
#[derive(Debug, Default)]
pub struct Loader {
    file: Option<PathBuf>,
    env: Vec<(String, String)>,
    flags: Vec<(String, String, String)>,
}

impl Loader {
    /// A loader with no file, no environment and no flags: defaults only.
    pub fn new() -> Loader {
        Loader::default()
    }

    /// Reads this TOML file (layer 2).
    pub fn file(mut self, path: impl Into<PathBuf>) -> Loader {
        self.file = Some(path.into());
        self
    }

    /// The environment (layer 3), as `(name, value)` pairs; variables outside the
    /// section's prefix are ignored.
    pub fn env<I, K, V>(mut self, vars: I) -> Loader
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.env = vars
            .into_iter()
            .map(|(name, value)| (name.into(), value.into()))
            .collect();
        self
    }

    /// Sets `key` (relative to the section, dotted) from the flag named `flag` (layer 4).
    /// Later calls win over earlier ones.
    pub fn flag(mut self, key: &str, value: impl Into<String>, flag: &str) -> Loader {
        self.flags
            .push((key.to_string(), value.into(), flag.to_string()));
        self
    }

    /// Applies `--config` and every `--set key=value`.
    pub fn args(mut self, args: &CommonArgs) -> Loader {
        if let Some(path) = &args.config {
            self.file = Some(path.clone());
        }
        for KeyValue { key, value } in &args.set {
            self = self.flag(key, value.clone(), "--set");
        }
        self
    }

    /// Merges the layers, deserializes and validates.
    pub fn load<C: ServiceConfig>(self) -> Result<C, Error> {
        let section = C::SECTION;
        let hints = toml::Table::try_from(C::default())
            .map_err(|source| Error::Defaults { section, source })?;
        let mut tree = merge::Tree::new(section, hints.clone());
        let mut issues = Vec::new();
        if let Some(path) = &self.file {
            tree.apply_file(path, &read_file(path)?, &mut issues)?;
        }
        for (name, value) in &self.env {
            if let Some(path) = env::key_path(section, name) {
                tree.apply_override(path, value, &hints, Origin::Env(name.clone()), &mut issues);
            }
        }
        for (key, value, flag) in &self.flags {
            let path = key.split('.').map(str::to_string).collect::<Vec<_>>();
            let path = if path.iter().any(String::is_empty) {
                Err(format!("key {key:?} has an empty part"))
            } else {
                Ok(path)
            };
            tree.apply_override(path, value, &hints, Origin::Flag(flag.clone()), &mut issues);
        }
        if !issues.is_empty() {
            return Err(Error::Invalid(issues));
        }
        let (config, origins) = tree.deserialize::<C>()?;
        let mut validation = Issues {
            section,
            origins,
            list: Vec::new(),
        };
        config.validate(&mut validation);
        if validation.list.is_empty() {
            Ok(config)
        } else {
            Err(Error::Invalid(validation.list))
        }
    }
}

fn read_file(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// The origin of `key` (dotted, relative to the section) or of its nearest parent.
fn origin_of(origins: &BTreeMap<String, Origin>, key: &str) -> Option<Origin> {
    let mut candidate = key;
    loop {
        if let Some(origin) = origins.get(candidate) {
            return Some(origin.clone());
        }
        candidate = &candidate[..candidate.rfind(['.', '['])?];
    }
}

/// The process environment as `(name, value)` pairs, for binaries to pass to
/// [`Loader::env`]. Only `AETHERV_` variables are kept; a value that is not UTF-8 is passed
/// on lossily converted (so validation names the key rather than the loader panicking).
pub fn process_env() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(name, value)| {
            let name = name.into_string().ok()?;
            name.starts_with("AETHERV_")
                .then(|| (name, value.to_string_lossy().into_owned()))
        })
        .collect()
}
