//! `GET /api/v1/schemas/jobs` and `/api/v1/schemas/jobs/{name}`: the job spec schemas of
//! `schemas/jobs/` (built into the binary), so the UI builds its forms from the same
//! schemas the jobs service validates with. Each is served self-contained: the shared
//! definitions of `defs.schema.json` are copied into its `$defs` and its references to
//! them point there, so a client resolves every `$ref` inside the one document.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};
use serde_json::{Map, Value, json};

use crate::assets::JOB_SCHEMAS;
use crate::error::HttpError;
use crate::model::jobs::JOB_TYPES;
use crate::query::Params;

const SUFFIX: &str = ".schema.json";
const DEFS: &str = "defs";
const DEFS_PREFIX: &str = "defs.schema.json#";

/// Every schema, by name (`create_vm`, ..., `defs`), as served.
fn bundled() -> &'static BTreeMap<String, Value> {
    static SCHEMAS: OnceLock<BTreeMap<String, Value>> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        let parse = |bytes: &[u8]| serde_json::from_slice::<Value>(bytes).ok();
        let defs = JOB_SCHEMAS
            .iter()
            .find(|asset| asset.path == format!("{DEFS}{SUFFIX}"))
            .and_then(|asset| parse(asset.body))
            .and_then(|defs| defs.get("$defs").cloned())
            .unwrap_or_else(|| json!({}));
        let mut schemas = BTreeMap::new();
        for asset in JOB_SCHEMAS {
            let Some(name) = asset.path.strip_suffix(SUFFIX) else {
                continue;
            };
            let Some(mut schema) = parse(asset.body) else {
                tracing::error!(file = asset.path, "a built-in job schema is not json");
                continue;
            };
            if name != DEFS {
                let refers = point_inside(&mut schema);
                if refers && let Value::Object(object) = &mut schema {
                    let own = object
                        .entry("$defs")
                        .or_insert_with(|| Value::Object(Map::new()));
                    if let (Value::Object(own), Value::Object(shared)) = (own, &defs) {
                        for (key, value) in shared {
                            own.entry(key.clone()).or_insert_with(|| value.clone());
                        }
                    }
                }
            }
            schemas.insert(name.to_string(), schema);
        }
        schemas
    })
}

/// Rewrites `$ref`s into `defs.schema.json` to the document's own `$defs`; whether any was.
fn point_inside(node: &mut Value) -> bool {
    match node {
        Value::Object(map) => {
            let mut found = false;
            if let Some(Value::String(reference)) = map.get_mut("$ref")
                && let Some(fragment) = reference.strip_prefix(DEFS_PREFIX)
            {
                *reference = format!("#{fragment}");
                found = true;
            }
            for value in map.values_mut() {
                found |= point_inside(value);
            }
            found
        }
        Value::Array(list) => list
            .iter_mut()
            .fold(false, |found, v| point_inside(v) | found),
        _ => false,
    }
}

/// `GET /api/v1/schemas/jobs`.
pub async fn index(RawQuery(query): RawQuery) -> Result<Response, HttpError> {
    Params::parse(query.as_deref(), &[])?;
    let schemas: Vec<Value> = bundled()
        .iter()
        .map(|(name, schema)| {
            let job_type = JOB_TYPES
                .iter()
                .any(|(wire, _)| wire == name)
                .then_some(name);
            json!({
                "name": name,
                "job_type": job_type,
                "title": schema["title"].as_str().unwrap_or(name),
                "description": schema["description"].as_str().unwrap_or(""),
                "url": format!("/api/v1/schemas/jobs/{name}"),
            })
        })
        .collect();
    Ok(Json(json!({"schemas": schemas})).into_response())
}

/// `GET /api/v1/schemas/jobs/{name}`.
pub async fn get(
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, HttpError> {
    let name = super::path_param("name", path)?;
    Params::parse(query.as_deref(), &[])?;
    let key = name.strip_suffix(SUFFIX).unwrap_or(&name);
    let Some(schema) = bundled().get(key) else {
        let known: Vec<&str> = bundled().keys().map(String::as_str).collect();
        return Err(HttpError::not_found("job schema", key).with_allowed(&known));
    };
    let mut response = Response::new(Body::from(schema.to_string()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // Built into the binary: it only changes with a new gateway.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_job_type_has_a_self_contained_schema() {
        let schemas = bundled();
        for (name, _) in JOB_TYPES {
            let Some(schema) = schemas.get(name) else {
                panic!("no schema for {name}");
            };
            let mut references = Vec::new();
            collect(schema, &mut references);
            for reference in references {
                let pointer = reference
                    .strip_prefix('#')
                    .unwrap_or_else(|| panic!("{name}: a $ref out of the document: {reference}"));
                assert!(
                    schema.pointer(pointer).is_some(),
                    "{name}: {reference} does not resolve"
                );
            }
        }
        assert!(schemas.contains_key(DEFS));
    }

    fn collect(node: &Value, out: &mut Vec<String>) {
        match node {
            Value::Object(map) => {
                if let Some(Value::String(reference)) = map.get("$ref") {
                    out.push(reference.clone());
                }
                map.values().for_each(|v| collect(v, out));
            }
            Value::Array(list) => list.iter().for_each(|v| collect(v, out)),
            _ => {}
        }
    }
}
