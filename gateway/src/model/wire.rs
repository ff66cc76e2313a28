//! Inventory's `Vm` and `ListVmsResponse` read straight from their protobuf bytes and
//! written as the API's JSON without building the prost messages first: every string is
//! borrowed from the received bytes, repeated fields (addresses, adapters, disks) are
//! walked while serializing, so a page of 1,000 VMs costs no allocation per VM. The JSON is
//! the same, field for field and byte for byte, as [`super::VmJson`] of the decoded message
//! (a test holds the two together). Decoding follows protobuf's rules as prost does: fields
//! in any order, the last occurrence of a scalar wins, unknown fields skipped, strings
//! checked to be UTF-8.

use serde::ser::{Error as _, SerializeSeq, SerializeStruct};
use serde::{Serialize, Serializer};

use super::{
    controller_type_name, disk_type_name, non_empty, os_family_name, power_action_names, rfc3339,
    state_name,
};

/// Bytes that are not the message they should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The bytes end inside a field.
    #[error("protobuf message is truncated")]
    Truncated,
    /// A field uses a wire type protobuf 3 does not produce (groups) or the field's type
    /// does not allow.
    #[error("protobuf field {field} has an unexpected wire type {wire_type}")]
    WireType {
        /// The field number.
        field: u32,
        /// Its wire type.
        wire_type: u8,
    },
    /// A string field is not UTF-8.
    #[error("protobuf field {field} is not valid utf-8")]
    Utf8 {
        /// The field number.
        field: u32,
    },
}

/// One field's value as it is on the wire.
#[derive(Debug, Clone, Copy)]
enum Value<'a> {
    Varint(u64),
    Fixed64,
    Bytes(&'a [u8]),
    Fixed32,
}

/// Walks the fields of one message.
struct Fields<'a> {
    bytes: &'a [u8],
}

fn varint(bytes: &mut &[u8]) -> Result<u64, WireError> {
    let mut value: u64 = 0;
    for shift in 0..10 {
        let (&byte, rest) = bytes.split_first().ok_or(WireError::Truncated)?;
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << (shift * 7);
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(WireError::Truncated)
}

fn take<'a>(bytes: &mut &'a [u8], len: usize) -> Result<&'a [u8], WireError> {
    if bytes.len() < len {
        return Err(WireError::Truncated);
    }
    let (head, rest) = bytes.split_at(len);
    *bytes = rest;
    Ok(head)
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, Value<'a>), WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.bytes.is_empty() {
            return None;
        }
        let field = (|| {
            let key = varint(&mut self.bytes)?;
            let number = u32::try_from(key >> 3).map_err(|_| WireError::Truncated)?;
            let wire_type = (key & 7) as u8;
            let value = match wire_type {
                0 => Value::Varint(varint(&mut self.bytes)?),
                1 => {
                    take(&mut self.bytes, 8)?;
                    Value::Fixed64
                }
                2 => {
                    let len = usize::try_from(varint(&mut self.bytes)?)
                        .map_err(|_| WireError::Truncated)?;
                    Value::Bytes(take(&mut self.bytes, len)?)
                }
                5 => {
                    take(&mut self.bytes, 4)?;
                    Value::Fixed32
                }
                _ => {
                    return Err(WireError::WireType {
                        field: number,
                        wire_type,
                    });
                }
            };
            Ok((number, value))
        })();
        if field.is_err() {
            self.bytes = &[];
        }
        Some(field)
    }
}

fn fields(bytes: &[u8]) -> Fields<'_> {
    Fields { bytes }
}

fn wrong(field: u32, value: Value<'_>) -> WireError {
    let wire_type = match value {
        Value::Varint(_) => 0,
        Value::Fixed64 => 1,
        Value::Bytes(_) => 2,
        Value::Fixed32 => 5,
    };
    WireError::WireType { field, wire_type }
}

fn number(field: u32, value: Value<'_>) -> Result<u64, WireError> {
    match value {
        Value::Varint(v) => Ok(v),
        other => Err(wrong(field, other)),
    }
}

fn bytes(field: u32, value: Value<'_>) -> Result<&[u8], WireError> {
    match value {
        Value::Bytes(b) => Ok(b),
        other => Err(wrong(field, other)),
    }
}

fn text(field: u32, value: Value<'_>) -> Result<&str, WireError> {
    std::str::from_utf8(bytes(field, value)?).map_err(|_| WireError::Utf8 { field })
}

/// `google.protobuf.Timestamp` / `Duration`: seconds and nanos, merged field by field.
fn seconds_nanos(
    into: &mut Option<(i64, i32)>,
    field: u32,
    value: Value<'_>,
) -> Result<(), WireError> {
    let mut parsed = into.unwrap_or_default();
    for entry in fields(bytes(field, value)?) {
        match entry? {
            (1, v) => parsed.0 = number(1, v)? as i64,
            (2, v) => parsed.1 = number(2, v)? as i32,
            _ => {}
        }
    }
    *into = Some(parsed);
    Ok(())
}

fn timestamp(parts: Option<(i64, i32)>) -> Option<prost_types::Timestamp> {
    parts.map(|(seconds, nanos)| prost_types::Timestamp { seconds, nanos })
}

/// Every value of a repeated string field, as JSON strings.
struct Strings<'a> {
    message: &'a [u8],
    field: u32,
}

impl Serialize for Strings<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(None)?;
        for entry in fields(self.message) {
            let (field, value) = entry.map_err(S::Error::custom)?;
            if field == self.field {
                seq.serialize_element(text(field, value).map_err(S::Error::custom)?)?;
            }
        }
        seq.end()
    }
}

/// Every embedded message of a repeated field, each read by `read` and serialized.
struct Messages<'a, T> {
    message: &'a [u8],
    field: u32,
    read: fn(&'a [u8]) -> Result<T, WireError>,
}

impl<'a, T: Serialize> Serialize for Messages<'a, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(None)?;
        for entry in fields(self.message) {
            let (field, value) = entry.map_err(S::Error::custom)?;
            if field == self.field {
                let body = bytes(field, value).map_err(S::Error::custom)?;
                seq.serialize_element(&(self.read)(body).map_err(S::Error::custom)?)?;
            }
        }
        seq.end()
    }
}

/// `Nic`, borrowed from its bytes; serializes as [`super::NicJson`].
#[derive(Debug, Default)]
pub struct NicView<'a> {
    message: &'a [u8],
    id: &'a str,
    name: &'a str,
    switch_name: &'a str,
    vlan_id: Option<u32>,
    mac_address: &'a str,
    network_name: &'a str,
}

impl<'a> NicView<'a> {
    /// Reads a `Nic`.
    pub fn read(message: &'a [u8]) -> Result<NicView<'a>, WireError> {
        let mut nic = NicView {
            message,
            ..NicView::default()
        };
        for entry in fields(message) {
            match entry? {
                (1, v) => nic.id = text(1, v)?,
                (2, v) => nic.name = text(2, v)?,
                (3, v) => nic.switch_name = text(3, v)?,
                (4, v) => nic.vlan_id = Some(number(4, v)? as u32),
                (5, v) => nic.mac_address = text(5, v)?,
                (6, v) => {
                    text(6, v)?;
                }
                (7, v) => nic.network_name = text(7, v)?,
                _ => {}
            }
        }
        Ok(nic)
    }
}

impl Serialize for NicView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("NicJson", 7)?;
        out.serialize_field("id", self.id)?;
        out.serialize_field("name", self.name)?;
        out.serialize_field("switch_name", &non_empty(self.switch_name))?;
        out.serialize_field("vlan_id", &self.vlan_id)?;
        out.serialize_field("mac_address", self.mac_address)?;
        let ips = Strings {
            message: self.message,
            field: 6,
        };
        out.serialize_field("ip_addresses", &ips)?;
        out.serialize_field("network_name", &non_empty(self.network_name))?;
        out.end()
    }
}

/// `Disk`, borrowed from its bytes; serializes as [`super::DiskJson`].
#[derive(Debug, Default)]
pub struct DiskView<'a> {
    id: &'a str,
    name: &'a str,
    path: &'a str,
    disk_type: i32,
    capacity_bytes: u64,
    file_size_bytes: u64,
    controller_type: i32,
    controller_number: u32,
    controller_location: u32,
}

impl<'a> DiskView<'a> {
    /// Reads a `Disk`.
    pub fn read(message: &'a [u8]) -> Result<DiskView<'a>, WireError> {
        let mut disk = DiskView::default();
        for entry in fields(message) {
            match entry? {
                (1, v) => disk.id = text(1, v)?,
                (2, v) => disk.name = text(2, v)?,
                (3, v) => disk.path = text(3, v)?,
                (4, v) => disk.disk_type = number(4, v)? as i32,
                (5, v) => disk.capacity_bytes = number(5, v)?,
                (6, v) => disk.file_size_bytes = number(6, v)?,
                (7, v) => disk.controller_type = number(7, v)? as i32,
                (8, v) => disk.controller_number = number(8, v)? as u32,
                (9, v) => disk.controller_location = number(9, v)? as u32,
                _ => {}
            }
        }
        Ok(disk)
    }
}

impl Serialize for DiskView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("DiskJson", 9)?;
        out.serialize_field("id", self.id)?;
        out.serialize_field("name", self.name)?;
        out.serialize_field("path", self.path)?;
        out.serialize_field("type", disk_type_name(self.disk_type))?;
        out.serialize_field("capacity_bytes", &self.capacity_bytes)?;
        out.serialize_field("file_size_bytes", &self.file_size_bytes)?;
        out.serialize_field(
            "controller_type",
            controller_type_name(self.controller_type),
        )?;
        out.serialize_field("controller_number", &self.controller_number)?;
        out.serialize_field("controller_location", &self.controller_location)?;
        out.end()
    }
}

/// `Vm`, borrowed from its bytes; serializes as [`super::VmJson`].
#[derive(Debug, Default)]
pub struct VmView<'a> {
    message: &'a [u8],
    /// The VM id.
    pub id: &'a str,
    name: &'a str,
    host: &'a str,
    cluster: &'a str,
    state: i32,
    cpu_count: u32,
    memory_assigned_bytes: u64,
    memory_startup_bytes: u64,
    memory_minimum_bytes: Option<u64>,
    memory_maximum_bytes: Option<u64>,
    dynamic_memory_enabled: bool,
    generation: u32,
    configuration_version: &'a str,
    notes: &'a str,
    os_name: &'a str,
    os_family: i32,
    creation_time: Option<(i64, i32)>,
    uptime: Option<(i64, i32)>,
    clustered: bool,
    primary_ip: &'a str,
    stale: bool,
    observed_at: Option<(i64, i32)>,
    revision: u64,
}

impl<'a> VmView<'a> {
    /// Reads a `Vm`, checking its adapters and disks too.
    pub fn read(message: &'a [u8]) -> Result<VmView<'a>, WireError> {
        let mut vm = VmView {
            message,
            ..VmView::default()
        };
        for entry in fields(message) {
            match entry? {
                (1, v) => vm.id = text(1, v)?,
                (2, v) => vm.name = text(2, v)?,
                (3, v) => vm.host = text(3, v)?,
                (4, v) => vm.cluster = text(4, v)?,
                (5, v) => vm.state = number(5, v)? as i32,
                (6, v) => vm.cpu_count = number(6, v)? as u32,
                (7, v) => vm.memory_assigned_bytes = number(7, v)?,
                (8, v) => vm.memory_startup_bytes = number(8, v)?,
                (9, v) => vm.memory_minimum_bytes = Some(number(9, v)?),
                (10, v) => vm.memory_maximum_bytes = Some(number(10, v)?),
                (11, v) => vm.dynamic_memory_enabled = number(11, v)? != 0,
                (12, v) => vm.generation = number(12, v)? as u32,
                (13, v) => vm.configuration_version = text(13, v)?,
                (14, v) => vm.notes = text(14, v)?,
                (15, v) => vm.os_name = text(15, v)?,
                (16, v) => vm.os_family = number(16, v)? as i32,
                (17, v) => seconds_nanos(&mut vm.creation_time, 17, v)?,
                (18, v) => seconds_nanos(&mut vm.uptime, 18, v)?,
                (19, v) => vm.clustered = number(19, v)? != 0,
                (20, v) => {
                    text(20, v)?;
                }
                (21, v) => vm.primary_ip = text(21, v)?,
                (22, v) => {
                    NicView::read(bytes(22, v)?)?;
                }
                (23, v) => {
                    DiskView::read(bytes(23, v)?)?;
                }
                (24, v) => vm.stale = number(24, v)? != 0,
                (25, v) => seconds_nanos(&mut vm.observed_at, 25, v)?,
                (26, v) => vm.revision = number(26, v)?,
                (field @ (28 | 29), v) => {
                    text(field, v)?;
                }
                _ => {}
            }
        }
        Ok(vm)
    }
}

impl Serialize for VmView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("VmJson", 27)?;
        out.serialize_field("id", self.id)?;
        out.serialize_field("name", self.name)?;
        out.serialize_field("host", self.host)?;
        out.serialize_field("cluster", &non_empty(self.cluster))?;
        out.serialize_field("state", state_name(self.state))?;
        out.serialize_field(
            "power_actions",
            &ActionNames {
                state: self.state,
                stale: self.stale,
            },
        )?;
        out.serialize_field("cpu_count", &self.cpu_count)?;
        out.serialize_field("memory_assigned_bytes", &self.memory_assigned_bytes)?;
        out.serialize_field("memory_startup_bytes", &self.memory_startup_bytes)?;
        out.serialize_field("memory_minimum_bytes", &self.memory_minimum_bytes)?;
        out.serialize_field("memory_maximum_bytes", &self.memory_maximum_bytes)?;
        out.serialize_field("dynamic_memory_enabled", &self.dynamic_memory_enabled)?;
        out.serialize_field("generation", &self.generation)?;
        out.serialize_field("configuration_version", self.configuration_version)?;
        out.serialize_field("notes", self.notes)?;
        out.serialize_field("os_name", &non_empty(self.os_name))?;
        out.serialize_field("os_family", os_family_name(self.os_family))?;
        out.serialize_field(
            "creation_time",
            &rfc3339(timestamp(self.creation_time).as_ref()),
        )?;
        let uptime = self
            .uptime
            .map_or(0.0, |(s, n)| s as f64 + f64::from(n) / 1e9);
        out.serialize_field("uptime_seconds", &uptime)?;
        out.serialize_field("clustered", &self.clustered)?;
        let ips = Strings {
            message: self.message,
            field: 20,
        };
        out.serialize_field("ip_addresses", &ips)?;
        out.serialize_field("primary_ip", &non_empty(self.primary_ip))?;
        let nics = Messages {
            message: self.message,
            field: 22,
            read: NicView::read,
        };
        out.serialize_field("nics", &nics)?;
        let disks = Messages {
            message: self.message,
            field: 23,
            read: DiskView::read,
        };
        out.serialize_field("disks", &disks)?;
        out.serialize_field("stale", &self.stale)?;
        out.serialize_field(
            "observed_at",
            &rfc3339(timestamp(self.observed_at).as_ref()),
        )?;
        out.serialize_field("revision", &self.revision)?;
        out.end()
    }
}

/// The power actions of a VM in `state`, as a JSON list (no list is built).
struct ActionNames {
    state: i32,
    stale: bool,
}

impl Serialize for ActionNames {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(power_action_names(self.state, self.stale))
    }
}

/// `ListVmsResponse`, borrowed from its bytes.
#[derive(Debug, Default)]
pub struct VmPageView<'a> {
    /// The VMs, each still encoded.
    pub vms: Vec<&'a [u8]>,
    /// `page.next_page_token` (`""` on the last page).
    pub next_page_token: &'a str,
    /// `page.total_size`.
    pub total_size: u64,
    /// `revision`.
    pub revision: u64,
}

impl<'a> VmPageView<'a> {
    /// Reads a `ListVmsResponse` (the VMs themselves are read by [`VmView::read`]).
    pub fn read(message: &'a [u8]) -> Result<VmPageView<'a>, WireError> {
        let mut page = VmPageView::default();
        for entry in fields(message) {
            match entry? {
                (1, v) => page.vms.push(bytes(1, v)?),
                (2, v) => {
                    for inner in fields(bytes(2, v)?) {
                        match inner? {
                            (1, v) => page.next_page_token = text(1, v)?,
                            (2, v) => page.total_size = number(2, v)?,
                            _ => {}
                        }
                    }
                }
                (3, v) => page.revision = number(3, v)?,
                _ => {}
            }
        }
        Ok(page)
    }
}

#[cfg(test)]
mod tests;
