//! The wire views against prost's decoding and `VmJson`.

use super::*;
use crate::model::VmJson;
use aetherv_proto::common::v1 as common;
use aetherv_proto::inventory::v1 as pb;
use tonic_prost::prost::Message;

fn timestamp(seconds: i64, nanos: i32) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp { seconds, nanos })
}

fn full() -> pb::Vm {
    pb::Vm {
        id: "6f1c2a8e-0b7d-4c1e-9a53-2f0e7d1b9c44".to_string(),
        name: "web \"01\" \\ é ✓ \u{1}".to_string(),
        host: "hv01.lab.local".to_string(),
        cluster: "cluster-a".to_string(),
        state: pb::VmState::Running as i32,
        cpu_count: 4,
        memory_assigned_bytes: u64::MAX,
        memory_startup_bytes: 2 << 30,
        memory_minimum_bytes: Some(0),
        memory_maximum_bytes: Some(8 << 30),
        dynamic_memory_enabled: true,
        generation: 2,
        configuration_version: "10.0".to_string(),
        notes: "line 1\nline 2\ttab".to_string(),
        os_name: "Windows Server 2022".to_string(),
        os_family: pb::OsFamily::Windows as i32,
        creation_time: timestamp(1_700_000_000, 999_999_999),
        uptime: Some(prost_types::Duration {
            seconds: 12_345,
            nanos: 678_900_000,
        }),
        clustered: true,
        ip_addresses: vec!["10.0.0.5".to_string(), "fe80::1".to_string()],
        primary_ip: "10.0.0.5".to_string(),
        nics: vec![
            pb::Nic {
                id: "Microsoft:ABC\\DEF".to_string(),
                name: "Network Adapter".to_string(),
                switch_name: "External".to_string(),
                vlan_id: Some(0),
                mac_address: "00:15:5D:01:02:03".to_string(),
                ip_addresses: vec!["10.0.0.5".to_string()],
                network_name: "prod".to_string(),
                mac_address_static: true,
            },
            pb::Nic::default(),
        ],
        disks: vec![
            pb::Disk {
                id: "Microsoft:DISK\\1".to_string(),
                name: "Hard Drive".to_string(),
                path: "C:\\ClusterStorage\\v1\\web01.vhdx".to_string(),
                r#type: pb::DiskType::Differencing as i32,
                capacity_bytes: 127 << 30,
                file_size_bytes: 4 << 30,
                controller_type: pb::ControllerType::Ide as i32,
                controller_number: 1,
                controller_location: 1,
            },
            pb::Disk {
                r#type: 99,
                controller_type: -3,
                ..pb::Disk::default()
            },
        ],
        stale: false,
        observed_at: timestamp(1_764_163_625, 5),
        revision: 1_764_000_000_123_456,
        secure_boot_enabled: Some(true),
        secure_boot_template: "MicrosoftWindows".to_string(),
        configuration_path: "C:\\VMs".to_string(),
    }
}

fn as_json_both_ways(vm: &pb::Vm) -> (String, String) {
    let bytes = vm.encode_to_vec();
    let decoded = pb::Vm::decode(bytes.as_slice()).unwrap_or_default();
    let expected = serde_json::to_string(&VmJson::new(&decoded)).unwrap_or_default();
    let view = VmView::read(&bytes).map(|view| serde_json::to_string(&view));
    let actual = match view {
        Ok(Ok(text)) => text,
        other => format!("{other:?}"),
    };
    (expected, actual)
}

#[test]
fn a_vm_reads_as_the_same_json_as_its_decoded_message() {
    let mut cases = vec![full(), pb::Vm::default()];
    for (state, stale) in [
        (pb::VmState::Off, false),
        (pb::VmState::Paused, false),
        (pb::VmState::Saved, true),
        (pb::VmState::Creating, false),
    ] {
        cases.push(pb::Vm {
            state: state as i32,
            stale,
            os_family: pb::OsFamily::Linux as i32,
            memory_minimum_bytes: None,
            cluster: String::new(),
            ..full()
        });
    }
    // Unknown enum values, times out of range, negative durations.
    cases.push(pb::Vm {
        state: 1234,
        os_family: -1,
        creation_time: timestamp(i64::MAX, 0),
        observed_at: timestamp(-62_135_596_800, 0),
        uptime: Some(prost_types::Duration {
            seconds: -5,
            nanos: -1,
        }),
        ..full()
    });
    for vm in &cases {
        let (expected, actual) = as_json_both_ways(vm);
        assert_eq!(actual, expected);
    }
}

#[test]
fn concatenated_messages_merge_as_protobuf_says() {
    let first = full();
    let second = pb::Vm {
        name: "renamed".to_string(),
        ip_addresses: vec!["192.0.2.1".to_string()],
        creation_time: timestamp(0, 7),
        memory_maximum_bytes: None,
        ..pb::Vm::default()
    };
    let mut bytes = first.encode_to_vec();
    bytes.extend(second.encode_to_vec());
    let merged = pb::Vm::decode(bytes.as_slice()).unwrap_or_default();
    let expected = serde_json::to_string(&VmJson::new(&merged)).unwrap_or_default();
    let actual = VmView::read(&bytes).map(|view| serde_json::to_string(&view).ok());
    assert_eq!(actual, Ok(Some(expected)));
}

#[test]
fn a_page_reads_its_vms_token_total_and_revision() {
    let page = pb::ListVmsResponse {
        vms: vec![full(), pb::Vm::default()],
        page: Some(common::PageResponse {
            next_page_token: "MXwwMDAx".to_string(),
            total_size: 50_000,
        }),
        revision: 42,
    };
    let bytes = page.encode_to_vec();
    let view = VmPageView::read(&bytes);
    let Ok(view) = view else {
        panic!("page: {view:?}");
    };
    assert_eq!(view.vms.len(), 2);
    assert_eq!(view.next_page_token, "MXwwMDAx");
    assert_eq!(view.total_size, 50_000);
    assert_eq!(view.revision, 42);
    assert_eq!(view.vms[0], full().encode_to_vec().as_slice());
}

#[test]
fn broken_bytes_are_refused() {
    let bytes = full().encode_to_vec();
    for cut in [1, 10, bytes.len() / 2, bytes.len() - 1] {
        assert!(VmView::read(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    // Field 2 (name) holding bytes that are not UTF-8.
    assert_eq!(
        VmView::read(&[0x12, 2, 0xff, 0xfe]).map(|_| ()),
        Err(WireError::Utf8 { field: 2 })
    );
    // Field 1 (id) as a varint.
    assert_eq!(
        VmView::read(&[0x08, 1]).map(|_| ()),
        Err(WireError::WireType {
            field: 1,
            wire_type: 0
        })
    );
    // A group (wire type 3).
    assert!(VmView::read(&[0x0b]).is_err());
}
