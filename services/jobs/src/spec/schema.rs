//! The job spec schemas (`schemas/jobs/`), embedded in the binary and compiled once into
//! validators that resolve `$ref`s among themselves, offline. A failed validation is a list
//! of [`Violation`]s, each with the JSON pointer of the offending field and the schema
//! keyword that failed; messages never repeat the value (it may be a secret).

use std::collections::HashMap;
use std::sync::LazyLock;

use jsonschema::error::ValidationErrorKind;
use jsonschema::{Draft, Registry, ValidationError, Validator};
use serde_json::Value;

use super::{JobType, Violation};

/// The base URI of every job schema's `$id`. Nothing is ever fetched from it.
pub const SCHEMA_BASE_URI: &str = "https://aetherv.example/schemas/jobs/";

macro_rules! schema_files {
    ($($name:literal),* $(,)?) => {
        /// Every file of `schemas/jobs/`: (file name, contents). The gateway serves these.
        pub const SCHEMA_FILES: &[(&str, &str)] = &[
            $( ($name, include_str!(concat!("../../../../schemas/jobs/", $name))), )*
        ];
    };
}

schema_files!(
    "defs.schema.json",
    "create_vm.schema.json",
    "update_vm.schema.json",
    "delete_vm.schema.json",
    "start_vm.schema.json",
    "shutdown_vm.schema.json",
    "stop_vm.schema.json",
    "reset_vm.schema.json",
    "save_vm.schema.json",
    "pause_vm.schema.json",
    "resume_vm.schema.json",
    "create_disk.schema.json",
    "resize_disk.schema.json",
    "delete_disk.schema.json",
    "create_nic.schema.json",
    "update_nic.schema.json",
    "delete_nic.schema.json",
    "managed_deployment.schema.json",
    "noop.schema.json",
);

/// The schema file of a job type's spec, e.g. `create_vm.schema.json`.
pub fn schema_file(job_type: JobType) -> String {
    format!("{}.schema.json", job_type.as_str())
}

/// The parsed schema documents, by file name.
pub(crate) static DOCUMENTS: LazyLock<Result<HashMap<&'static str, Value>, String>> =
    LazyLock::new(|| {
        SCHEMA_FILES
            .iter()
            .map(|(name, text)| {
                serde_json::from_str(text)
                    .map(|document| (*name, document))
                    .map_err(|error| format!("{name} is not JSON: {error}"))
            })
            .collect()
    });

static COMPILED: LazyLock<Result<HashMap<&'static str, Validator>, String>> =
    LazyLock::new(compile);

fn compile() -> Result<HashMap<&'static str, Validator>, String> {
    let documents = DOCUMENTS.as_ref().map_err(Clone::clone)?;
    let registry = Registry::new()
        .draft(Draft::Draft202012)
        .retrieve_known_draft_meta_schemas(false)
        .extend(
            documents
                .iter()
                .map(|(name, document)| (format!("{SCHEMA_BASE_URI}{name}"), document)),
        )
        .and_then(|builder| builder.prepare())
        .map_err(|error| format!("registry: {error}"))?;
    let mut compiled = HashMap::with_capacity(documents.len());
    for (name, document) in documents {
        let validator = jsonschema::options()
            .with_draft(Draft::Draft202012)
            .with_registry(&registry)
            .should_validate_formats(true)
            .offline()
            .build(document)
            .map_err(|error| format!("{name}: {error}"))?;
        compiled.insert(*name, validator);
    }
    Ok(compiled)
}

/// Compiles the schemas now; `Err` says why they cannot be used (a build defect).
pub fn ensure_compiled() -> Result<(), String> {
    COMPILED.as_ref().map(|_| ()).map_err(Clone::clone)
}

/// Validates a spec against its type's schema: every violation, sorted by pointer.
pub fn validate(job_type: JobType, spec: &Value) -> Result<(), Vec<Violation>> {
    let compiled = COMPILED.as_ref().map_err(|error| {
        vec![Violation::new(
            "",
            "schema",
            format!("the job schemas cannot be used: {error}"),
        )]
    })?;
    let file = schema_file(job_type);
    let Some(validator) = compiled.get(file.as_str()) else {
        return Err(vec![Violation::new(
            "",
            "schema",
            format!("no schema for job type {}", job_type.as_str()),
        )]);
    };
    let mut violations: Vec<Violation> = validator
        .iter_errors(spec)
        .flat_map(|error| violations_of(&error))
        .collect();
    if violations.is_empty() {
        return Ok(());
    }
    violations.sort_by(|a, b| (&a.pointer, &a.rule).cmp(&(&b.pointer, &b.rule)));
    violations.dedup();
    Err(violations)
}

/// One jsonschema error as violations naming the field and the keyword, never the value.
fn violations_of(error: &ValidationError<'_>) -> Vec<Violation> {
    let at = error.instance_path().as_str();
    match error.kind() {
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            let path = error.evaluation_path().as_str();
            let (rule, description) = if path.split('/').any(|s| s == "dependentRequired") {
                (
                    "dependentRequired",
                    "is required with the other fields given",
                )
            } else {
                ("required", "is required")
            };
            vec![Violation::new(
                format!("{at}/{}", escape(name)),
                rule,
                description,
            )]
        }
        ValidationErrorKind::AdditionalProperties { unexpected }
        | ValidationErrorKind::UnevaluatedProperties { unexpected } => unexpected
            .iter()
            .map(|name| {
                Violation::new(
                    format!("{at}/{}", escape(name)),
                    "additionalProperties",
                    "is not a field of this spec",
                )
            })
            .collect(),
        ValidationErrorKind::FalseSchema => vec![Violation::new(
            at,
            conditional_keyword(error),
            "is not allowed with the other fields given",
        )],
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            match required_alternatives(context) {
                Some(names) => vec![Violation::new(
                    at,
                    error.kind().keyword(),
                    format!("needs one of: {}", names.join(", ")),
                )],
                None => vec![Violation::new(
                    at,
                    error.kind().keyword(),
                    error.masked_with("the value").to_string(),
                )],
            }
        }
        kind => vec![Violation::new(
            at,
            kind.keyword(),
            error.masked_with("the value").to_string(),
        )],
    }
}

/// For a `false` schema, the keyword that put it there (`else`, `then`,
/// `dependentSchemas`, ...), found on the way from the root to the error.
fn conditional_keyword(error: &ValidationError<'_>) -> &'static str {
    const KEYWORDS: [&str; 5] = ["dependentSchemas", "then", "else", "not", "items"];
    let path = error.evaluation_path().as_str();
    path.rsplit('/')
        .find_map(|segment| KEYWORDS.into_iter().find(|k| *k == segment))
        .unwrap_or("false")
}

/// When every alternative of an anyOf/oneOf failed only for a missing property, the
/// properties that would have satisfied it.
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

/// Escapes a property name for a JSON pointer (RFC 6901).
pub fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}
