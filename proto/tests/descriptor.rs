//! The contract as reflection serves it: every service is in `FILE_DESCRIPTOR_SET`, and
//! every service, method, message, field and enum carries a comment (the descriptor set
//! keeps the source comments, so `grpcurl describe` shows them).

use aetherv_proto::{DIAGNOSTICS_SERVICE_NAME, FILE_DESCRIPTOR_SET, SERVICE_NAMES};
use prost::Message;
use prost_types::{DescriptorProto, FileDescriptorProto, FileDescriptorSet};

fn descriptor_set() -> FileDescriptorSet {
    match FileDescriptorSet::decode(FILE_DESCRIPTOR_SET) {
        Ok(set) => set,
        Err(error) => panic!("FILE_DESCRIPTOR_SET does not decode: {error}"),
    }
}

fn aetherv_files(set: &FileDescriptorSet) -> Vec<&FileDescriptorProto> {
    set.file
        .iter()
        .filter(|file| file.package().starts_with("aetherv."))
        .collect()
}

#[test]
fn every_service_is_in_the_descriptor_set() {
    let set = descriptor_set();
    let mut services: Vec<String> = aetherv_files(&set)
        .iter()
        .flat_map(|file| {
            file.service
                .iter()
                .map(move |service| format!("{}.{}", file.package(), service.name()))
        })
        .collect();
    services.sort();
    let mut expected: Vec<String> = SERVICE_NAMES
        .iter()
        .chain([&DIAGNOSTICS_SERVICE_NAME])
        .map(|name| name.to_string())
        .collect();
    expected.sort();
    assert_eq!(services, expected);
}

#[test]
fn every_package_is_in_the_descriptor_set() {
    let set = descriptor_set();
    let mut packages: Vec<&str> = aetherv_files(&set)
        .iter()
        .map(|file| file.package())
        .collect();
    packages.sort();
    assert_eq!(
        packages,
        [
            "aetherv.common.v1",
            "aetherv.hostdeploy.v1",
            "aetherv.inventory.v1",
            "aetherv.jobs.v1",
            "aetherv.notifications.v1",
            "aetherv.remotetasks.v1",
        ]
    );
}

#[test]
fn the_well_known_types_are_in_the_descriptor_set() {
    let set = descriptor_set();
    for name in [
        "google/protobuf/timestamp.proto",
        "google/protobuf/duration.proto",
    ] {
        assert!(
            set.file.iter().any(|file| file.name() == name),
            "{name} missing: reflection clients could not resolve imports"
        );
    }
}

/// An element of a file that must be commented, with its source-info path.
struct Element {
    what: String,
    path: Vec<i32>,
}

// Field numbers of FileDescriptorProto / DescriptorProto / ServiceDescriptorProto used in
// source-info paths (descriptor.proto).
const FILE_MESSAGE_TYPE: i32 = 4;
const FILE_ENUM_TYPE: i32 = 5;
const FILE_SERVICE: i32 = 6;
const MESSAGE_FIELD: i32 = 2;
const MESSAGE_NESTED_TYPE: i32 = 3;
const SERVICE_METHOD: i32 = 2;

fn message_elements(
    message: &DescriptorProto,
    prefix: &str,
    path: Vec<i32>,
    out: &mut Vec<Element>,
) {
    let name = format!("{prefix}.{}", message.name());
    // An empty request or response message (`MetricsRequest {}`) says nothing a comment
    // would add: the RPC's comment covers it.
    if !message.field.is_empty() {
        out.push(Element {
            what: format!("message {name}"),
            path: path.clone(),
        });
    }
    for (index, field) in message.field.iter().enumerate() {
        let mut field_path = path.clone();
        field_path.extend([MESSAGE_FIELD, index as i32]);
        out.push(Element {
            what: format!("field {name}.{}", field.name()),
            path: field_path,
        });
    }
    for (index, nested) in message.nested_type.iter().enumerate() {
        // Map entries are synthesised by protoc and carry no source.
        if nested
            .options
            .as_ref()
            .is_some_and(|options| options.map_entry())
        {
            continue;
        }
        let mut nested_path = path.clone();
        nested_path.extend([MESSAGE_NESTED_TYPE, index as i32]);
        message_elements(nested, &name, nested_path, out);
    }
}

#[test]
fn every_service_method_message_field_and_enum_is_commented() {
    let set = descriptor_set();
    let mut missing = Vec::new();
    for file in aetherv_files(&set) {
        let Some(info) = file.source_code_info.as_ref() else {
            panic!(
                "{} has no source info: comments would not reach reflection",
                file.name()
            );
        };
        let commented = |path: &[i32]| {
            info.location.iter().any(|location| {
                location.path == path
                    && (!location.leading_comments().trim().is_empty()
                        || !location.trailing_comments().trim().is_empty())
            })
        };
        let mut elements = Vec::new();
        for (index, service) in file.service.iter().enumerate() {
            elements.push(Element {
                what: format!("service {}", service.name()),
                path: vec![FILE_SERVICE, index as i32],
            });
            for (method_index, method) in service.method.iter().enumerate() {
                elements.push(Element {
                    what: format!("rpc {}.{}", service.name(), method.name()),
                    path: vec![
                        FILE_SERVICE,
                        index as i32,
                        SERVICE_METHOD,
                        method_index as i32,
                    ],
                });
            }
        }
        for (index, message) in file.message_type.iter().enumerate() {
            message_elements(
                message,
                file.package(),
                vec![FILE_MESSAGE_TYPE, index as i32],
                &mut elements,
            );
        }
        for (index, enumeration) in file.enum_type.iter().enumerate() {
            elements.push(Element {
                what: format!("enum {}.{}", file.package(), enumeration.name()),
                path: vec![FILE_ENUM_TYPE, index as i32],
            });
        }
        for element in elements {
            if !commented(&element.path) {
                missing.push(format!("{}: {}", file.name(), element.what));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "uncommented elements:\n{}",
        missing.join("\n")
    );
}
