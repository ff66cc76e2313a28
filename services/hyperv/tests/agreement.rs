//! The Rust types and the hand-written schemas describe the same JSON: JSON Schemas are
//! derived from the types with schemars (serialisation contract: what we emit) and both
//! sides are reduced to a shape — property names, which are required, whether unknown
//! properties are refused, the JSON types, the allowed constants, nullability, array
//! items — and compared recursively. Any drift on either side fails with its path.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use aetherv_hyperv::ops::agent::*;
use aetherv_hyperv::ops::disk::*;
use aetherv_hyperv::ops::inventory::*;
use aetherv_hyperv::ops::nic::*;
use aetherv_hyperv::ops::vm::*;
use aetherv_hyperv::*;
use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::Value;

/// The JSON a schema allows, reduced to what both sides must agree on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Shape {
    /// Anything.
    Any,
    /// One of these JSON types ("string", "integer", "number", "boolean").
    Scalar(BTreeSet<String>),
    /// One of these constants (as JSON text).
    Enum(BTreeSet<String>),
    /// An object.
    Object {
        properties: BTreeMap<String, Shape>,
        required: BTreeSet<String>,
        closed: bool,
    },
    /// An array of these.
    Array(Box<Shape>),
    /// The inner shape, or null.
    Nullable(Box<Shape>),
    /// Any of these.
    Union(Vec<Shape>),
}

/// Schema documents by name: "" for the Rust-derived root, file names for ours.
struct Documents<'a> {
    by_name: BTreeMap<&'a str, &'a Value>,
}

impl<'a> Documents<'a> {
    fn resolve(&self, current: &'a str, reference: &str) -> (&'a str, &'a Value) {
        let (file, fragment) = reference.split_once('#').unwrap_or((reference, ""));
        let name = if file.is_empty() {
            current
        } else {
            self.by_name
                .keys()
                .find(|k| **k == file)
                .copied()
                .unwrap_or_else(|| panic!("unknown $ref file {file}"))
        };
        let document = self.by_name[name];
        let target = document
            .pointer(fragment)
            .unwrap_or_else(|| panic!("$ref {reference} points nowhere in {name:?}"));
        (name, target)
    }

    fn shape(&self, current: &'a str, node: &'a Value) -> Shape {
        let Value::Object(map) = node else {
            return Shape::Any;
        };
        if let Some(Value::String(reference)) = map.get("$ref") {
            let (name, target) = self.resolve(current, reference);
            return self.shape(name, target);
        }
        let mut alternatives: Vec<Shape> = Vec::new();
        for key in ["oneOf", "anyOf"] {
            if let Some(Value::Array(branches)) = map.get(key) {
                // Branches that only add a format or a required list constrain, not shape.
                let shaped: Vec<&Value> = branches
                    .iter()
                    .filter(|b| {
                        b.as_object()
                            .is_some_and(|o| o.keys().any(|k| SHAPING.contains(&k.as_str())))
                    })
                    .collect();
                alternatives.extend(shaped.into_iter().map(|b| self.shape(current, b)));
            }
        }
        let own = self.own_shape(current, map);
        if alternatives.is_empty() {
            return own;
        }
        if own != Shape::Any {
            alternatives = alternatives
                .into_iter()
                .map(|a| intersect(&own, a))
                .collect();
        }
        union(alternatives)
    }

    fn own_shape(&self, current: &'a str, map: &'a serde_json::Map<String, Value>) -> Shape {
        if let Some(value) = map.get("const") {
            return constants([value]);
        }
        if let Some(Value::Array(values)) = map.get("enum") {
            return constants(values);
        }
        let types: BTreeSet<String> = match map.get("type") {
            Some(Value::String(t)) => [t.clone()].into(),
            Some(Value::Array(ts)) => ts
                .iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect(),
            _ if map.contains_key("properties") => ["object".to_owned()].into(),
            _ => BTreeSet::new(),
        };
        if types.is_empty() {
            return Shape::Any;
        }
        let mut shapes = Vec::new();
        let mut scalars = BTreeSet::new();
        for t in &types {
            match t.as_str() {
                "object" => {
                    let properties = match map.get("properties") {
                        Some(Value::Object(p)) => p
                            .iter()
                            .map(|(k, v)| (k.clone(), self.shape(current, v)))
                            .collect(),
                        _ => BTreeMap::new(),
                    };
                    let required = match map.get("required") {
                        Some(Value::Array(r)) => r
                            .iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect(),
                        _ => BTreeSet::new(),
                    };
                    let closed = map.get("additionalProperties") == Some(&Value::Bool(false));
                    shapes.push(Shape::Object {
                        properties,
                        required,
                        closed,
                    });
                }
                "array" => {
                    let items = map
                        .get("items")
                        .map_or(Shape::Any, |i| self.shape(current, i));
                    shapes.push(Shape::Array(Box::new(items)));
                }
                "null" => shapes.push(constants([&Value::Null])),
                other => {
                    scalars.insert(other.to_owned());
                }
            }
        }
        if !scalars.is_empty() {
            shapes.push(Shape::Scalar(scalars));
        }
        union(shapes)
    }
}

/// Keywords that give a subschema a shape of its own (others only constrain).
const SHAPING: &[&str] = &[
    "type",
    "$ref",
    "const",
    "enum",
    "properties",
    "items",
    "oneOf",
    "anyOf",
];

fn constants<'v>(values: impl IntoIterator<Item = &'v Value>) -> Shape {
    let mut set: BTreeSet<String> = values.into_iter().map(Value::to_string).collect();
    if set.remove("null") {
        if set.is_empty() {
            return Shape::Enum(["null".to_owned()].into());
        }
        return Shape::Nullable(Box::new(Shape::Enum(set)));
    }
    Shape::Enum(set)
}

/// A branch of a oneOf/anyOf under a node that also has its own `type`: a const branch
/// stays a const; an untyped branch takes the node's shape.
fn intersect(own: &Shape, branch: Shape) -> Shape {
    match branch {
        Shape::Any => own.clone(),
        other => other,
    }
}

/// Normalises a set of alternatives: enums merge, `null` becomes nullability, one
/// alternative is itself.
fn union(shapes: Vec<Shape>) -> Shape {
    let mut flat = Vec::new();
    for shape in shapes {
        match shape {
            Shape::Union(inner) => flat.extend(inner),
            other => flat.push(other),
        }
    }
    let mut nullable = false;
    let mut enums = BTreeSet::new();
    let mut rest = Vec::new();
    for shape in flat {
        match shape {
            Shape::Enum(values) if values.len() == 1 && values.contains("null") => nullable = true,
            Shape::Enum(values) => enums.extend(values),
            Shape::Nullable(inner) => {
                nullable = true;
                match *inner {
                    Shape::Enum(values) => enums.extend(values),
                    other => rest.push(other),
                }
            }
            other => rest.push(other),
        }
    }
    if !enums.is_empty() {
        rest.push(Shape::Enum(enums));
    }
    rest.sort();
    rest.dedup();
    if rest.is_empty() && nullable {
        return Shape::Enum(["null".to_owned()].into());
    }
    let inner = match rest.len() {
        0 => Shape::Any,
        1 => rest.remove(0),
        _ => Shape::Union(rest),
    };
    if nullable {
        Shape::Nullable(Box::new(inner))
    } else {
        inner
    }
}

/// Differences between two shapes, each with its path.
fn compare(path: &str, rust: &Shape, schema: &Shape, diffs: &mut Vec<String>) {
    match (rust, schema) {
        (
            Shape::Object {
                properties: rp,
                required: rr,
                closed: rc,
            },
            Shape::Object {
                properties: sp,
                required: sr,
                closed: sc,
            },
        ) => {
            for name in rp.keys().filter(|k| !sp.contains_key(*k)) {
                diffs.push(format!(
                    "{path}/{name}: in the Rust type, not in the schema"
                ));
            }
            for name in sp.keys().filter(|k| !rp.contains_key(*k)) {
                diffs.push(format!(
                    "{path}/{name}: in the schema, not in the Rust type"
                ));
            }
            if rr != sr {
                diffs.push(format!(
                    "{path}: required differs: rust {rr:?}, schema {sr:?}"
                ));
            }
            if rc != sc {
                diffs.push(format!(
                    "{path}: unknown properties refused: rust {rc}, schema {sc}"
                ));
            }
            for (name, r) in rp {
                if let Some(s) = sp.get(name) {
                    compare(&format!("{path}/{name}"), r, s, diffs);
                }
            }
        }
        (Shape::Array(r), Shape::Array(s)) => compare(&format!("{path}[]"), r, s, diffs),
        (Shape::Nullable(r), Shape::Nullable(s)) => compare(path, r, s, diffs),
        (Shape::Union(r), Shape::Union(s)) if r.len() == s.len() => {
            for (i, (r, s)) in r.iter().zip(s).enumerate() {
                compare(&format!("{path}|{i}"), r, s, diffs);
            }
        }
        (r, s) if r == s => {}
        (r, s) => diffs.push(format!("{path}: rust {r:?}, schema {s:?}")),
    }
}

fn rust_schema<T: JsonSchema>() -> Value {
    let generator = SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator();
    serde_json::to_value(generator.into_root_schema_for::<T>()).unwrap()
}

fn hand_written() -> BTreeMap<&'static str, Value> {
    SCHEMA_FILES
        .iter()
        .map(|(name, text)| (*name, serde_json::from_str(text).unwrap()))
        .collect()
}

/// Compares the type `T` with the schema at `location` ("file#/pointer").
fn differences<T: JsonSchema>(location: &str) -> Vec<String> {
    let ours = hand_written();
    let rust = rust_schema::<T>();
    let mut by_name: BTreeMap<&str, &Value> = ours.iter().map(|(k, v)| (*k, v)).collect();
    by_name.insert("", &rust);
    let documents = Documents { by_name };
    let (file, fragment) = location.split_once('#').unwrap_or((location, ""));
    let schema_node = ours[file].pointer(fragment).unwrap();
    let rust_shape = documents.shape("", &rust);
    let schema_shape = documents.shape(file, schema_node);
    let mut diffs = Vec::new();
    compare(location, &rust_shape, &schema_shape, &mut diffs);
    diffs
}

macro_rules! pairs {
    ($($ty:ty => $location:expr,)*) => {
        vec![$( (stringify!($ty), $location.to_string(), differences::<$ty> as fn(&str) -> Vec<String>), )*]
    };
}

/// (Rust type name, schema location, comparison).
type Pair = (&'static str, String, fn(&str) -> Vec<String>);

/// A change to a schema document.
type Mutation = Box<dyn Fn(&mut Value)>;

fn all_pairs() -> Vec<Pair> {
    let params = |op: Operation| params_schema_file(op);
    let result = |op: Operation| result_schema_file(op);
    use Operation as O;
    pairs! {
        AgentInfoParams => params(O::AgentInfo),
        AgentInfoResult => result(O::AgentInfo),
        NoopParams => params(O::Noop),
        NoopResult => result(O::Noop),
        InventoryCollectParams => params(O::InventoryCollect),
        InventoryCollectResult => result(O::InventoryCollect),
        InventoryWatchParams => params(O::InventoryWatch),
        InventoryWatchResult => result(O::InventoryWatch),
        HostResourcesParams => params(O::HostResources),
        ResourceCatalogue => result(O::HostResources),
        VmPowerParams => params(O::VmPower),
        VmPowerResult => result(O::VmPower),
        VmCreateParams => params(O::VmCreate),
        Vm => result(O::VmCreate),
        VmUpdateParams => params(O::VmUpdate),
        Vm => result(O::VmUpdate),
        VmDeleteParams => params(O::VmDelete),
        VmDeleteResult => result(O::VmDelete),
        DiskCreateParams => params(O::DiskCreate),
        Disk => result(O::DiskCreate),
        DiskResizeParams => params(O::DiskResize),
        Disk => result(O::DiskResize),
        DiskDeleteParams => params(O::DiskDelete),
        DiskDeleteResult => result(O::DiskDelete),
        NicCreateParams => params(O::NicCreate),
        Nic => result(O::NicCreate),
        NicUpdateParams => params(O::NicUpdate),
        Nic => result(O::NicUpdate),
        NicDeleteParams => params(O::NicDelete),
        NicDeleteResult => result(O::NicDelete),
        OutputLine => "output-line.schema.json",
        AgentErrorCode => "error.schema.json#/$defs/code",
        FieldError => "error.schema.json#/$defs/field-error",
        InvalidRequestDetails => "error.schema.json#/$defs/invalid-request",
        UnsupportedProtocolDetails => "error.schema.json#/$defs/unsupported-protocol",
        UnsupportedOperationDetails => "error.schema.json#/$defs/unsupported-operation",
        AgentIntegrityDetails => "error.schema.json#/$defs/agent-integrity",
        HypervUnavailableDetails => "error.schema.json#/$defs/hyperv-unavailable",
        VmNotFoundDetails => "error.schema.json#/$defs/vm-not-found",
        NotFoundDetails => "error.schema.json#/$defs/not-found",
        AlreadyExistsDetails => "error.schema.json#/$defs/already-exists",
        InvalidStateDetails => "error.schema.json#/$defs/invalid-state",
        InsufficientResourcesDetails => "error.schema.json#/$defs/insufficient-resources",
        OperationFailedDetails => "error.schema.json#/$defs/operation-failed",
        TimeoutDetails => "error.schema.json#/$defs/timeout",
        CancelledDetails => "error.schema.json#/$defs/cancelled",
        InternalDetails => "error.schema.json#/$defs/internal",
        VmState => "defs.schema.json#/$defs/vm-state",
        PowerAction => "defs.schema.json#/$defs/power-action",
        Warning => "defs.schema.json#/$defs/warning",
    }
}

#[test]
fn every_rust_type_matches_its_schema() {
    let mut all = Vec::new();
    for (ty, location, check) in all_pairs() {
        for diff in check(&location) {
            all.push(format!("{ty}: {diff}"));
        }
    }
    assert!(
        all.is_empty(),
        "types and schemas disagree:\n{}",
        all.join("\n")
    );
}

#[test]
fn every_operation_is_compared() {
    let compared: BTreeSet<String> = all_pairs().into_iter().map(|(_, l, _)| l).collect();
    for operation in Operation::ALL {
        assert!(
            compared.contains(&params_schema_file(*operation)),
            "{operation} params"
        );
        assert!(
            compared.contains(&result_schema_file(*operation)),
            "{operation} result"
        );
    }
}

/// The comparison can fail: a schema with a field renamed, a field made optional, an
/// extra enum value or a nullable field made non-null are all reported.
#[test]
fn drift_is_detected() {
    let ours = hand_written();
    let rust = rust_schema::<Nic>();
    let base = ours["defs.schema.json"].clone();
    let mutations: Vec<(&str, Mutation)> = vec![
        (
            "renamed",
            Box::new(|d| {
                let nic = &mut d["$defs"]["nic"]["properties"];
                let v = nic.as_object_mut().unwrap().remove("switch_name").unwrap();
                nic["switch"] = v;
            }),
        ),
        (
            "optional",
            Box::new(|d| {
                d["$defs"]["nic"]["required"]
                    .as_array_mut()
                    .unwrap()
                    .retain(|v| v != "vlan_id");
            }),
        ),
        (
            "non-null",
            Box::new(|d| {
                d["$defs"]["nic"]["properties"]["network_name"]["type"] = "string".into();
            }),
        ),
        (
            "open",
            Box::new(|d| {
                d["$defs"]["nic"]
                    .as_object_mut()
                    .unwrap()
                    .remove("additionalProperties");
            }),
        ),
        (
            "integer",
            Box::new(|d| {
                d["$defs"]["nic"]["properties"]["mac_address_static"] =
                    serde_json::json!({"type": "integer"});
            }),
        ),
    ];
    for (label, mutate) in mutations {
        let mut changed = base.clone();
        mutate(&mut changed);
        let mut by_name: BTreeMap<&str, &Value> = ours.iter().map(|(k, v)| (*k, v)).collect();
        by_name.insert("defs.schema.json", &changed);
        by_name.insert("", &rust);
        let documents = Documents { by_name };
        let schema_shape = documents.shape("defs.schema.json", &changed["$defs"]["nic"]);
        let rust_shape = documents.shape("", &rust);
        let mut diffs = Vec::new();
        compare("nic", &rust_shape, &schema_shape, &mut diffs);
        assert!(!diffs.is_empty(), "mutation {label} went unnoticed");
    }
    let mut diffs = Vec::new();
    let mut by_name: BTreeMap<&str, &Value> = ours.iter().map(|(k, v)| (*k, v)).collect();
    by_name.insert("", &rust);
    let documents = Documents { by_name };
    compare(
        "nic",
        &documents.shape("", &rust),
        &documents.shape("defs.schema.json", &base["$defs"]["nic"]),
        &mut diffs,
    );
    assert!(diffs.is_empty(), "{diffs:?}");
    let _ = common::full_nic();
}
