//! The schema files themselves: valid against the 2020-12 meta-schema, every `$ref`
//! resolves, every file embedded, every property described, strict objects, and the
//! closed lists (operations, error codes, states, actions) equal to the Rust ones.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use aetherv_hyperv::*;
use serde_json::Value;

fn documents() -> BTreeMap<&'static str, Value> {
    SCHEMA_FILES
        .iter()
        .map(|(name, text)| (*name, serde_json::from_str(text).unwrap()))
        .collect()
}

/// Every (JSON pointer, node) of a document.
fn walk<'a>(pointer: String, node: &'a Value, out: &mut Vec<(String, &'a Value)>) {
    out.push((pointer.clone(), node));
    match node {
        Value::Object(map) => {
            for (key, child) in map {
                let escaped = key.replace('~', "~0").replace('/', "~1");
                walk(format!("{pointer}/{escaped}"), child, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                walk(format!("{pointer}/{i}"), child, out);
            }
        }
        _ => {}
    }
}

fn nodes(document: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    walk(String::new(), document, &mut out);
    out
}

#[test]
fn the_schemas_compile() {
    ensure_compiled().unwrap();
}

#[test]
fn every_schema_is_valid_against_the_meta_schema() {
    for (name, document) in documents() {
        assert_eq!(
            document["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{name}"
        );
        if let Err(e) = jsonschema::meta::validate(&document) {
            panic!("{name} is not a valid schema: {e}");
        }
    }
    // The check can fail: a misspelt type is refused.
    let broken = serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "strng"
    });
    assert!(jsonschema::meta::validate(&broken).is_err());
}

#[test]
fn every_file_is_embedded_and_identified_by_its_name() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas/agent");
    let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".json"))
        .collect();
    let embedded: BTreeSet<String> = SCHEMA_FILES.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(on_disk, embedded);
    for (name, document) in documents() {
        assert_eq!(
            document["$id"],
            format!("{SCHEMA_BASE_URI}{name}"),
            "{name}"
        );
        for key in ["title", "description"] {
            assert!(
                document[key].as_str().is_some_and(|t| !t.is_empty()),
                "{name} has no {key}"
            );
        }
    }
}

#[test]
fn every_operation_has_a_params_and_a_result_schema_and_a_request_branch() {
    let documents = documents();
    let request = &documents["request.schema.json"];
    let wire: Vec<&str> = Operation::ALL.iter().map(|o| o.as_str()).collect();
    let enumerated: Vec<&str> = request["properties"]["operation"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(enumerated, wire);
    let branches: Vec<(&str, &str)> = request["allOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["if"]["properties"]["operation"]["const"]
                    .as_str()
                    .unwrap(),
                b["then"]["properties"]["params"]["$ref"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(branches.len(), Operation::ALL.len());
    for operation in Operation::ALL {
        let params = params_schema_file(*operation);
        assert!(documents.contains_key(params.as_str()), "{params} missing");
        let result = result_schema_file(*operation);
        assert!(documents.contains_key(result.as_str()), "{result} missing");
        assert!(
            branches.contains(&(operation.as_str(), params.as_str())),
            "request.schema.json does not bind {operation} to {params}"
        );
        assert_eq!(Operation::from_wire(operation.as_str()), Some(*operation));
        assert_eq!(serde_json::to_value(operation).unwrap(), operation.as_str());
    }
}

#[test]
fn every_ref_resolves() {
    let documents = documents();
    let mut count = 0;
    for (name, document) in &documents {
        for (at, node) in nodes(document) {
            let Some(reference) = node.get("$ref").and_then(Value::as_str) else {
                continue;
            };
            count += 1;
            let (file, fragment) = reference.split_once('#').unwrap_or((reference, ""));
            let target_doc = if file.is_empty() {
                document
            } else {
                documents
                    .get(file)
                    .unwrap_or_else(|| panic!("{name}{at}: $ref to unknown file {reference}"))
            };
            assert!(
                target_doc.pointer(fragment).is_some(),
                "{name}{at}: $ref {reference} points nowhere"
            );
        }
    }
    assert!(count > 100, "only {count} $refs found: the walk is broken");
}

#[test]
fn every_property_is_described() {
    for (name, document) in documents() {
        for (at, node) in nodes(&document) {
            let Some(Value::Object(properties)) = node.get("properties") else {
                continue;
            };
            // Partial constraints inside if/then/else/dependentSchemas restate known fields.
            if at.contains("/if")
                || at.contains("/then")
                || at.contains("/else")
                || at.contains("/dependentSchemas")
            {
                continue;
            }
            for (property, schema) in properties {
                assert!(
                    schema["description"]
                        .as_str()
                        .is_some_and(|d| !d.is_empty()),
                    "{name}{at}/properties/{property} has no description"
                );
            }
        }
    }
}

#[test]
fn objects_are_strict_and_results_always_carry_every_field() {
    for (name, document) in documents() {
        let is_params = name.contains(".params.") || name == "request.schema.json";
        for (at, node) in nodes(&document) {
            if node.get("type") != Some(&Value::from("object")) {
                continue;
            }
            let Some(Value::Object(properties)) = node.get("properties") else {
                continue;
            };
            assert_eq!(
                node.get("additionalProperties"),
                Some(&Value::Bool(false)),
                "{name}{at} must set additionalProperties false"
            );
            if is_params || name == "output-line.schema.json" {
                continue;
            }
            let required: BTreeSet<&str> = node["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let all: BTreeSet<&str> = properties.keys().map(String::as_str).collect();
            assert_eq!(
                required, all,
                "{name}{at}: every result field must be required (null when absent)"
            );
        }
    }
}

fn consts(node: &Value) -> Vec<(String, String)> {
    node["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["const"].as_str().unwrap().to_owned(),
                b["description"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn the_error_codes_are_the_rust_list_with_the_same_descriptions() {
    let documents = documents();
    let error = &documents["error.schema.json"];
    let listed = consts(&error["$defs"]["code"]);
    let rust: Vec<(String, String)> = AgentErrorCode::ALL
        .iter()
        .map(|c| (c.as_str().to_owned(), c.description().to_owned()))
        .collect();
    assert_eq!(listed, rust);
    for code in AgentErrorCode::ALL {
        assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        let branch = error["allOf"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["if"]["properties"]["code"]["const"] == code.as_str())
            .unwrap_or_else(|| panic!("no details branch for {code}"));
        let target = branch["then"]["properties"]["details"]["$ref"]
            .as_str()
            .unwrap();
        let kebab = code.as_str().to_lowercase().replace('_', "-");
        assert_eq!(target, format!("#/$defs/{kebab}"));
        assert!(error.pointer(&format!("/$defs/{kebab}")).is_some());
    }
}

#[test]
fn vm_states_and_power_actions_are_the_rust_lists() {
    let documents = documents();
    let defs = &documents["defs.schema.json"]["$defs"];
    let states: Vec<String> = consts(&defs["vm-state"])
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    let rust: Vec<String> = VmState::ALL.iter().map(|s| s.as_str().to_owned()).collect();
    assert_eq!(states, rust);
    let actions: Vec<String> = consts(&defs["power-action"])
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    let rust: Vec<String> = PowerAction::ALL
        .iter()
        .map(|a| a.as_str().to_owned())
        .collect();
    assert_eq!(actions, rust);
    for state in VmState::ALL {
        assert_eq!(serde_json::to_value(state).unwrap(), state.as_str());
    }
    for action in PowerAction::ALL {
        assert_eq!(serde_json::to_value(action).unwrap(), action.as_str());
    }
}
