//! Checks of the values tests and the control API give for out-of-band changes: the same
//! ranges the agent schemas allow, each error naming the field.

use aetherv_hyperv::VmState;

use crate::error::Error;
use crate::model::vm_ops::{NewVm, VmChange};

const MIB: u64 = 1 << 20;
const MIN_MEMORY: u64 = 32 * MIB;
const MAX_MEMORY: u64 = 12 * (1 << 40);

/// A VM name Hyper-V (and the agent, which uses it as a folder name) accepts.
pub fn vm_name(field: &str, name: &str) -> Result<(), Error> {
    let bad = |reason: &str| Err(Error::invalid(field, reason));
    if name.is_empty() || name.chars().count() > 100 {
        return bad("must be 1 to 100 characters");
    }
    if name
        .chars()
        .any(|c| c.is_control() || "\\/:*?\"<>|".contains(c))
    {
        return bad("must not contain \\ / : * ? \" < > | or control characters");
    }
    if name.starts_with(' ') || name.ends_with(' ') || name.ends_with('.') {
        return bad("must not start with a space or end with a space or a dot");
    }
    Ok(())
}

fn memory(field: &str, bytes: u64) -> Result<(), Error> {
    if !(MIN_MEMORY..=MAX_MEMORY).contains(&bytes) || !bytes.is_multiple_of(2 * MIB) {
        return Err(Error::invalid(
            field,
            "must be a multiple of 2 MiB between 32 MiB and 12 TiB",
        ));
    }
    Ok(())
}

fn cpu(field: &str, count: u32) -> Result<(), Error> {
    if !(1..=240).contains(&count) {
        return Err(Error::invalid(field, "must be between 1 and 240"));
    }
    Ok(())
}

/// An out-of-band change, given the VM's current memory settings.
pub fn vm_change(c: &VmChange, startup: u64, dynamic: Option<(u64, u64)>) -> Result<(), Error> {
    if let Some(name) = &c.name {
        vm_name("name", name)?;
    }
    if let Some(n) = c.cpu_count {
        cpu("cpu_count", n)?;
    }
    if let Some(m) = c.memory_startup_bytes {
        memory("memory_startup_bytes", m)?;
    }
    if let Some(notes) = &c.notes
        && notes.len() > 4096
    {
        return Err(Error::invalid("notes", "must be at most 4096 bytes"));
    }
    if let Some(Some(os)) = &c.guest_os_name
        && (os.is_empty() || os.len() > 256)
    {
        return Err(Error::invalid("guest_os_name", "must be 1 to 256 bytes"));
    }
    let startup = c.memory_startup_bytes.unwrap_or(startup);
    let dynamic = c.dynamic_memory.unwrap_or(dynamic);
    if let Some((min, max)) = dynamic {
        memory("memory_minimum_bytes", min)?;
        memory("memory_maximum_bytes", max)?;
        if min > startup {
            return Err(Error::invalid(
                "memory_minimum_bytes",
                "must not exceed the startup memory",
            ));
        }
        if max < startup {
            return Err(Error::invalid(
                "memory_maximum_bytes",
                "must not be below the startup memory",
            ));
        }
    }
    Ok(())
}

/// A VM to add out of band.
pub fn new_vm(n: &NewVm) -> Result<(), Error> {
    vm_name("name", &n.name)?;
    cpu("cpu_count", n.cpu_count)?;
    memory("memory_startup_bytes", n.memory_startup_bytes)?;
    if n.notes.len() > 4096 {
        return Err(Error::invalid("notes", "must be at most 4096 bytes"));
    }
    if n.state == VmState::Other {
        return Err(Error::invalid(
            "state",
            "must be a state Hyper-V reports, not Other",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(r: Result<(), Error>) -> Option<String> {
        match r {
            Err(Error::Invalid { field, .. }) => Some(field),
            _ => None,
        }
    }

    #[test]
    fn names_the_field() {
        assert!(vm_name("name", "web-prod-001").is_ok());
        assert_eq!(field(vm_name("name", "a/b")), Some("name".into()));
        assert_eq!(field(vm_name("name", "trailing.")), Some("name".into()));
        let c = VmChange {
            cpu_count: Some(0),
            ..VmChange::default()
        };
        assert_eq!(
            field(vm_change(&c, 1 << 30, None)),
            Some("cpu_count".into())
        );
        let c = VmChange {
            dynamic_memory: Some(Some((2 << 30, 4 << 30))),
            ..VmChange::default()
        };
        assert_eq!(
            field(vm_change(&c, 1 << 30, None)),
            Some("memory_minimum_bytes".into())
        );
        let c = VmChange {
            memory_startup_bytes: Some(3 * MIB),
            ..VmChange::default()
        };
        assert_eq!(
            field(vm_change(&c, 1 << 30, None)),
            Some("memory_startup_bytes".into())
        );
    }
}
