//! The agent protocol's JSON Schemas (`schemas/agent/`), embedded in the binary and
//! compiled once into validators that resolve `$ref`s among themselves, offline.
//!
//! Validation errors carry a JSON pointer to the offending field and a message that never
//! repeats the value (values may be secrets).

use std::collections::HashMap;
use std::sync::LazyLock;

use jsonschema::error::ValidationErrorKind;
use jsonschema::{Draft, Registry, ValidationError, Validator};
use serde_json::Value;

use crate::agent_error::FieldError;
use crate::operation::{Operation, Params};

/// The base URI of every schema's `$id`; `$ref`s between files are relative to it.
/// Nothing is ever fetched from it.
pub const SCHEMA_BASE_URI: &str = "https://aetherv.example/schemas/agent/";

macro_rules! schema_files {
    ($($name:literal),* $(,)?) => {
        /// Every schema file of `schemas/agent/`: (file name, contents).
        pub const SCHEMA_FILES: &[(&str, &str)] = &[
            $( ($name, include_str!(concat!("../../../schemas/agent/", $name))), )*
        ];
    };
}

schema_files!(
    "defs.schema.json",
    "error.schema.json",
    "request.schema.json",
    "output-line.schema.json",
    "agent.info.params.schema.json",
    "agent.info.result.schema.json",
    "noop.params.schema.json",
    "noop.result.schema.json",
    "inventory.collect.params.schema.json",
    "inventory.collect.result.schema.json",
    "inventory.watch.params.schema.json",
    "inventory.watch.result.schema.json",
    "host.resources.params.schema.json",
    "host.resources.result.schema.json",
    "vm.power.params.schema.json",
    "vm.power.result.schema.json",
    "vm.create.params.schema.json",
    "vm.create.result.schema.json",
    "vm.update.params.schema.json",
    "vm.update.result.schema.json",
    "vm.delete.params.schema.json",
    "vm.delete.result.schema.json",
    "disk.create.params.schema.json",
    "disk.create.result.schema.json",
    "disk.resize.params.schema.json",
    "disk.resize.result.schema.json",
    "disk.delete.params.schema.json",
    "disk.delete.result.schema.json",
    "nic.create.params.schema.json",
    "nic.create.result.schema.json",
    "nic.update.params.schema.json",
    "nic.update.result.schema.json",
    "nic.delete.params.schema.json",
    "nic.delete.result.schema.json",
);

/// The file name of an operation's params schema, e.g. "vm.power.params.schema.json".
pub fn params_schema_file(operation: Operation) -> String {
    format!("{}.params.schema.json", operation.as_str())
}

/// The file name of an operation's result schema, e.g. "vm.power.result.schema.json".
pub fn result_schema_file(operation: Operation) -> String {
    format!("{}.result.schema.json", operation.as_str())
}

/// A document did not validate, or the schemas could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// The document breaks the schema; every problem, each with its pointer.
    #[error("{} does not match {schema}: {}", document, join(errors))]
    Invalid {
        /// What was validated ("vm.power params", "output line", …).
        document: String,
        /// The schema file it was validated against.
        schema: String,
        /// Every problem found.
        errors: Vec<FieldError>,
    },
    /// The embedded schemas failed to compile (a build defect; the crate's tests catch it).
    #[error("the embedded agent schemas do not compile: {0}")]
    Unusable(String),
}

impl SchemaError {
    /// The field errors (empty for `Unusable`).
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            SchemaError::Invalid { errors, .. } => errors,
            SchemaError::Unusable(_) => &[],
        }
    }
}

fn join(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(FieldError::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The compiled validators.
struct Compiled {
    by_file: HashMap<&'static str, Validator>,
}

static COMPILED: LazyLock<Result<Compiled, String>> = LazyLock::new(compile);

fn compile() -> Result<Compiled, String> {
    let mut documents = Vec::with_capacity(SCHEMA_FILES.len());
    for (name, text) in SCHEMA_FILES {
        let document: Value =
            serde_json::from_str(text).map_err(|e| format!("{name} is not JSON: {e}"))?;
        documents.push((*name, document));
    }
    let registry = Registry::new()
        .draft(Draft::Draft202012)
        .retrieve_known_draft_meta_schemas(false)
        .extend(
            documents
                .iter()
                .map(|(name, document)| (format!("{SCHEMA_BASE_URI}{name}"), document)),
        )
        .and_then(|builder| builder.prepare())
        .map_err(|e| format!("registry: {e}"))?;
    let mut by_file = HashMap::with_capacity(documents.len());
    for (name, document) in &documents {
        let validator = jsonschema::options()
            .with_draft(Draft::Draft202012)
            .with_registry(&registry)
            .should_validate_formats(true)
            .offline()
            .build(document)
            .map_err(|e| format!("{name}: {e}"))?;
        by_file.insert(*name, validator);
    }
    Ok(Compiled { by_file })
}

/// Compiles the schemas now rather than on first use; reports why they cannot be used.
pub fn ensure_compiled() -> Result<(), SchemaError> {
    COMPILED
        .as_ref()
        .map(|_| ())
        .map_err(|e| SchemaError::Unusable(e.clone()))
}

/// Validates `instance` against the schema file `file` (one of [`SCHEMA_FILES`]).
pub fn validate_against(file: &str, document: &str, instance: &Value) -> Result<(), SchemaError> {
    let compiled = COMPILED
        .as_ref()
        .map_err(|e| SchemaError::Unusable(e.clone()))?;
    let validator = compiled
        .by_file
        .get(file)
        .ok_or_else(|| SchemaError::Unusable(format!("no schema file named {file}")))?;
    // The common case: a valid document. `is_valid` stops at nothing and builds no error
    // values; only an invalid document pays for collecting every error.
    if validator.is_valid(instance) {
        return Ok(());
    }
    let mut errors: Vec<FieldError> = validator
        .iter_errors(instance)
        .flat_map(|error| field_errors(&error))
        .collect();
    if errors.is_empty() {
        return Ok(());
    }
    errors.sort_by(|a, b| a.pointer.cmp(&b.pointer));
    errors.dedup();
    Err(SchemaError::Invalid {
        document: document.to_owned(),
        schema: file.to_owned(),
        errors,
    })
}

/// Turns one jsonschema error into field errors that name the field and not the value.
fn field_errors(error: &ValidationError<'_>) -> Vec<FieldError> {
    let at = error.instance_path().as_str();
    let field = |pointer: String, message: &str| FieldError {
        pointer,
        message: message.to_owned(),
    };
    match error.kind() {
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            vec![field(format!("{at}/{}", escape(name)), "is required")]
        }
        ValidationErrorKind::AdditionalProperties { unexpected }
        | ValidationErrorKind::UnevaluatedProperties { unexpected } => unexpected
            .iter()
            .map(|name| field(format!("{at}/{}", escape(name)), "is not an allowed field"))
            .collect(),
        ValidationErrorKind::FalseSchema => vec![field(at.to_owned(), "is not allowed here")],
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            if let Some(names) = required_alternatives(context) {
                return vec![field(
                    at.to_owned(),
                    &format!("needs one of: {}", names.join(", ")),
                )];
            }
            match tagged_alternative(context) {
                Some(branch) => branch.iter().flat_map(field_errors).collect(),
                None => vec![field(
                    at.to_owned(),
                    &error.masked_with("value").to_string(),
                )],
            }
        }
        _ => vec![field(
            at.to_owned(),
            &error.masked_with("value").to_string(),
        )],
    }
}

/// When every alternative of an anyOf/oneOf failed only for a missing property, the
/// properties that would have satisfied it ("needs one of: network, switch_name").
fn required_alternatives(context: &[Vec<ValidationError<'static>>]) -> Option<Vec<String>> {
    let mut names = Vec::with_capacity(context.len());
    for branch in context {
        let [only] = branch.as_slice() else {
            return None;
        };
        let ValidationErrorKind::Required { property } = only.kind() else {
            return None;
        };
        names.push(property.as_str()?.to_owned());
    }
    (!names.is_empty()).then_some(names)
}

/// For a tagged union (branches told apart by a `const` property such as `type`), the
/// errors of the one branch whose tag matched, so they point into the line.
fn tagged_alternative<'a>(
    context: &'a [Vec<ValidationError<'static>>],
) -> Option<&'a [ValidationError<'static>]> {
    let mut matching = context.iter().filter(|branch| {
        !branch
            .iter()
            .any(|e| matches!(e.kind(), ValidationErrorKind::Constant { .. }))
    });
    let branch = matching.next()?;
    matching.next().is_none().then_some(branch.as_slice())
}

/// Escapes a property name for a JSON pointer (RFC 6901).
fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// Validates an operation's params: its schema, then the rules the schema cannot express
/// (e.g. memory minimum <= startup <= maximum). Pointers are relative to the params.
pub fn validate_params(operation: Operation, params: &Value) -> Result<(), SchemaError> {
    let file = params_schema_file(operation);
    let document = format!("{operation} params");
    validate_against(&file, &document, params)?;
    // The schema passed, so this only fails if the types and the schema disagree; the
    // serde message is left out because it can quote the value.
    let typed =
        Params::from_value(operation, params.clone()).map_err(|_| SchemaError::Invalid {
            document: document.clone(),
            schema: file.clone(),
            errors: vec![FieldError {
                pointer: String::new(),
                message: "matches the schema but not the params type".to_owned(),
            }],
        })?;
    let errors = typed.check();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(SchemaError::Invalid {
            document,
            schema: file,
            errors,
        })
    }
}

/// Validates an operation's result `data`. Pointers are relative to the data.
pub fn validate_result(operation: Operation, data: &Value) -> Result<(), SchemaError> {
    validate_against(
        &result_schema_file(operation),
        &format!("{operation} result"),
        data,
    )
}

/// Validates a whole request (envelope and params schema; not the cross-field rules,
/// which [`validate_params`] adds).
pub fn validate_request(request: &Value) -> Result<(), SchemaError> {
    validate_against("request.schema.json", "request", request)
}

/// Validates one line of agent output (the envelope; a result's data is checked by
/// [`validate_result`]).
pub fn validate_output_line(line: &Value) -> Result<(), SchemaError> {
    validate_against("output-line.schema.json", "output line", line)
}
