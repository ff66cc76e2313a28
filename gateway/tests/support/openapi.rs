//! The gateway's OpenAPI document as a test oracle: every response a test sees is validated
//! against the schema the document gives for that route, method and status.

use std::sync::OnceLock;

use serde_json::{Value, json};

/// The document, parsed once.
pub fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let text = include_str!("../../openapi.json");
        match serde_json::from_str(text) {
            Ok(value) => value,
            Err(error) => panic!("openapi.json is not json: {error}"),
        }
    })
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// A JSON pointer as a URI fragment (braces of path templates percent-encoded).
fn fragment(pointer: &str) -> String {
    pointer.replace('{', "%7B").replace('}', "%7D")
}

/// Follows `$ref`s inside the document.
pub fn resolve(node: &Value) -> &Value {
    let mut current = node;
    for _ in 0..10 {
        let Some(reference) = current.get("$ref").and_then(Value::as_str) else {
            return current;
        };
        let Some(pointer) = reference.strip_prefix('#') else {
            panic!("external $ref {reference}");
        };
        current = match document().pointer(pointer) {
            Some(target) => target,
            None => panic!("unresolved $ref {reference}"),
        };
    }
    panic!("$ref chain too long");
}

/// Validates `body` against the JSON schema documented for `method path` answering
/// `status`; panics with every error.
pub fn check(method: &str, path: &str, status: u16, body: &Value) {
    let operation = document()
        .pointer(&format!(
            "/paths/{}/{}",
            escape(path),
            method.to_lowercase()
        ))
        .unwrap_or_else(|| panic!("{method} {path} is not documented"));
    let responses = &operation["responses"];
    let Some(response) = responses.get(status.to_string()) else {
        panic!("{method} {path} does not document status {status}; body: {body}");
    };
    // Where the response object lives: inline, or a shared one under components.
    let base = match response.get("$ref").and_then(Value::as_str) {
        Some(reference) => reference.to_string(),
        None => format!(
            "#/paths/{}/{}/responses/{status}",
            escape(path),
            method.to_lowercase()
        ),
    };
    let response = resolve(response);
    if response
        .pointer("/content/application~1json/schema")
        .is_none()
    {
        panic!("{method} {path} {status} documents no json body");
    }
    let mut wrapper = document().clone();
    wrapper["$ref"] = json!(fragment(&format!(
        "{base}/content/application~1json/schema"
    )));
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&wrapper);
    let validator = match validator {
        Ok(validator) => validator,
        Err(error) => {
            panic!("the documented schema of {method} {path} {status} does not compile: {error}")
        }
    };
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path} {status}: the body does not match the OpenAPI document:\n{}\nbody: {body}",
        errors.join("\n")
    );
}

/// Validates `value` against `components.schemas.<name>`.
pub fn check_component(name: &str, value: &Value) {
    let mut wrapper = document().clone();
    wrapper["$ref"] = json!(format!("#/components/schemas/{name}"));
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&wrapper);
    let validator = match validator {
        Ok(validator) => validator,
        Err(error) => panic!("components.schemas.{name} does not compile: {error}"),
    };
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{name}: {}\nvalue: {value}",
        errors.join("\n")
    );
}
