//! Params and result types of each operation, one module per area. Results that are a
//! shared shape (a VM, a disk, a NIC, the catalogue) use the types of [`crate::Vm`] etc.

pub mod agent;
pub mod disk;
pub mod inventory;
pub mod nic;
pub mod vm;
