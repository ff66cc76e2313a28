//! The OpenAPI document is a valid 3.1 document and covers exactly the routes the router
//! serves: the list comes from the router's own table, so adding a route without
//! documenting it fails here.

mod support;

use std::collections::BTreeSet;

use serde_json::Value;
use support::openapi::{document, resolve};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

fn documented() -> BTreeSet<(String, String)> {
    let mut set = BTreeSet::new();
    let Some(paths) = document()["paths"].as_object() else {
        panic!("paths is not an object");
    };
    for (path, item) in paths {
        for method in METHODS {
            if item.get(method).is_some() {
                set.insert((method.to_string(), path.clone()));
            }
        }
    }
    set
}

#[test]
fn every_route_the_router_serves_is_documented_and_nothing_else() {
    let served: BTreeSet<(String, String)> = aetherv_gateway::routes()
        .into_iter()
        .map(|route| (route.method.as_str().to_lowercase(), route.path.to_string()))
        .collect();
    assert!(
        served.len() >= 19,
        "the route table looks empty: {served:?}"
    );
    let documented = documented();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from openapi.json: {undocumented:?}"
    );
    let stale: Vec<_> = documented.difference(&served).collect();
    assert!(
        stale.is_empty(),
        "openapi.json documents routes nobody serves: {stale:?}"
    );
}

fn walk<'a>(node: &'a Value, out: &mut Vec<&'a str>) {
    match node {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                out.push(reference);
            }
            map.values().for_each(|v| walk(v, out));
        }
        Value::Array(list) => list.iter().for_each(|v| walk(v, out)),
        _ => {}
    }
}

#[test]
fn the_document_is_openapi_3_1_with_resolvable_refs_and_valid_schemas() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let mut references = Vec::new();
    walk(doc, &mut references);
    assert!(references.len() > 50);
    for reference in references {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("external ref {reference}"));
        assert!(
            doc.pointer(pointer).is_some(),
            "unresolved $ref {reference}"
        );
    }
    let Some(schemas) = doc["components"]["schemas"].as_object() else {
        panic!("components.schemas missing");
    };
    for (name, schema) in schemas {
        // Each component, with the document around it so its $refs resolve, is a valid
        // JSON Schema 2020-12 (OpenAPI 3.1's dialect).
        let mut wrapper = doc.clone();
        wrapper["$ref"] = Value::String(format!("#/components/schemas/{name}"));
        if let Err(error) = jsonschema::meta::validate(schema) {
            panic!("components.schemas.{name} is not a valid JSON Schema: {error}");
        }
        if let Err(error) = jsonschema::draft202012::new(&wrapper) {
            panic!("components.schemas.{name} does not compile: {error}");
        }
    }
}

#[test]
fn every_operation_declares_its_path_parameters_and_responses() {
    let Some(paths) = document()["paths"].as_object() else {
        panic!("paths is not an object");
    };
    for (path, item) in paths {
        let template: BTreeSet<String> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(String::from)
            .collect();
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let declared: BTreeSet<String> = operation["parameters"]
                .as_array()
                .map(|list| {
                    list.iter()
                        .map(resolve)
                        .filter(|p| p["in"] == "path")
                        .filter_map(|p| p["name"].as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(declared, template, "{method} {path}: path parameters");
            assert!(
                operation["operationId"].is_string(),
                "{method} {path}: operationId"
            );
            let Some(responses) = operation["responses"].as_object() else {
                panic!("{method} {path}: no responses");
            };
            assert!(!responses.is_empty(), "{method} {path}: no responses");
            for (status, response) in responses {
                assert!(
                    resolve(response)["description"].is_string(),
                    "{method} {path} {status}: response without description"
                );
            }
            if path.starts_with("/api/v1/") && path != "/api/v1/openapi.json" {
                assert!(
                    responses.contains_key("400") || responses.contains_key("503"),
                    "{method} {path}: error responses"
                );
            }
        }
    }
}
