//! Job specs: the JSON a caller submits for each job type, its schema in `schemas/jobs/`
//! ([`schema`]), its typed form ([`types`]), the rules a schema cannot express
//! ([`rules`]), and the secrets it may hold ([`secrets`]). [`parse`] runs all of them in
//! that order and answers either a [`ParsedSpec`] or every [`Violation`] found.

pub mod rules;
pub mod schema;
pub mod secrets;
pub mod types;

use serde_json::Value;

pub use secrets::Scrubber;
pub use types::{DiskSpec, NicSpec, Spec, VmSpec};

/// Largest spec accepted, in bytes of JSON text.
pub const MAX_SPEC_BYTES: usize = 1 << 20;

/// What a job does; one schema per type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobType {
    /// Create a VM (and clone its boot disk).
    CreateVm,
    /// Change CPU, memory, dynamic memory, notes.
    UpdateVm,
    /// Delete a VM.
    DeleteVm,
    /// Power on.
    StartVm,
    /// Graceful guest shutdown.
    ShutdownVm,
    /// Turn off.
    StopVm,
    /// Hard reset.
    ResetVm,
    /// Save state.
    SaveVm,
    /// Pause.
    PauseVm,
    /// Resume from pause.
    ResumeVm,
    /// Add a disk.
    CreateDisk,
    /// Grow a disk.
    ResizeDisk,
    /// Remove a disk.
    DeleteDisk,
    /// Add a network adapter.
    CreateNic,
    /// Change a network adapter.
    UpdateNic,
    /// Remove a network adapter.
    DeleteNic,
    /// VM, disks, adapters, start: one job.
    ManagedDeployment,
    /// A round trip to the host's agent.
    Noop,
}

impl JobType {
    /// Every type, in the proto's order.
    pub const ALL: [JobType; 18] = [
        JobType::CreateVm,
        JobType::UpdateVm,
        JobType::DeleteVm,
        JobType::StartVm,
        JobType::ShutdownVm,
        JobType::StopVm,
        JobType::ResetVm,
        JobType::SaveVm,
        JobType::PauseVm,
        JobType::ResumeVm,
        JobType::CreateDisk,
        JobType::ResizeDisk,
        JobType::DeleteDisk,
        JobType::CreateNic,
        JobType::UpdateNic,
        JobType::DeleteNic,
        JobType::ManagedDeployment,
        JobType::Noop,
    ];

    /// The snake_case name, as the schema files are named (`create_vm`).
    pub fn as_str(self) -> &'static str {
        match self {
            JobType::CreateVm => "create_vm",
            JobType::UpdateVm => "update_vm",
            JobType::DeleteVm => "delete_vm",
            JobType::StartVm => "start_vm",
            JobType::ShutdownVm => "shutdown_vm",
            JobType::StopVm => "stop_vm",
            JobType::ResetVm => "reset_vm",
            JobType::SaveVm => "save_vm",
            JobType::PauseVm => "pause_vm",
            JobType::ResumeVm => "resume_vm",
            JobType::CreateDisk => "create_disk",
            JobType::ResizeDisk => "resize_disk",
            JobType::DeleteDisk => "delete_disk",
            JobType::CreateNic => "create_nic",
            JobType::UpdateNic => "update_nic",
            JobType::DeleteNic => "delete_nic",
            JobType::ManagedDeployment => "managed_deployment",
            JobType::Noop => "noop",
        }
    }

    /// A label for people ("Create VM").
    pub fn label(self) -> &'static str {
        match self {
            JobType::CreateVm => "Create VM",
            JobType::UpdateVm => "Update VM",
            JobType::DeleteVm => "Delete VM",
            JobType::StartVm => "Start VM",
            JobType::ShutdownVm => "Shut down VM",
            JobType::StopVm => "Turn off VM",
            JobType::ResetVm => "Reset VM",
            JobType::SaveVm => "Save VM",
            JobType::PauseVm => "Pause VM",
            JobType::ResumeVm => "Resume VM",
            JobType::CreateDisk => "Add disk",
            JobType::ResizeDisk => "Grow disk",
            JobType::DeleteDisk => "Remove disk",
            JobType::CreateNic => "Add network adapter",
            JobType::UpdateNic => "Change network adapter",
            JobType::DeleteNic => "Remove network adapter",
            JobType::ManagedDeployment => "Deploy VM",
            JobType::Noop => "Round trip",
        }
    }

    /// The type of that snake_case name.
    pub fn from_name(name: &str) -> Option<JobType> {
        JobType::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// One thing wrong with a spec (or with what it names on the host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// RFC 6901 JSON pointer into the spec ("" for the whole spec).
    pub pointer: String,
    /// The schema keyword ("minimum", "required") or the service's rule ("memory_order").
    pub rule: String,
    /// What is wrong, lower case, never the value.
    pub description: String,
    /// Values that would be valid, when the set is small.
    pub allowed: Vec<String>,
}

impl Violation {
    /// A violation without a list of valid values.
    pub fn new(
        pointer: impl Into<String>,
        rule: impl Into<String>,
        description: impl Into<String>,
    ) -> Violation {
        Violation {
            pointer: pointer.into(),
            rule: rule.into(),
            description: description.into(),
            allowed: Vec::new(),
        }
    }

    /// Adds the valid values.
    pub fn allowing(mut self, allowed: Vec<String>) -> Violation {
        self.allowed = allowed;
        self
    }
}

/// A spec that passed its schema and rules.
#[derive(Debug, Clone)]
pub struct ParsedSpec {
    /// The typed spec.
    pub spec: Spec,
    /// The spec as submitted, with every secret replaced by the mask (for display).
    pub redacted: Value,
    /// Scrubs the spec's secret values out of any text.
    pub scrubber: Scrubber,
}

/// Parses and checks a spec: JSON, the type's schema, the typed form, then the rules the
/// schema cannot express. `Err` holds every violation found at the first stage that failed.
pub fn parse(job_type: JobType, text: &str) -> Result<ParsedSpec, Vec<Violation>> {
    if text.len() > MAX_SPEC_BYTES {
        return Err(vec![Violation::new(
            "",
            "maxLength",
            format!("the spec is larger than {MAX_SPEC_BYTES} bytes"),
        )]);
    }
    let value: Value = serde_json::from_str(text).map_err(|error| {
        vec![Violation::new(
            "",
            "json",
            format!(
                "is not valid JSON (line {}, column {})",
                error.line(),
                error.column()
            ),
        )]
    })?;
    schema::validate(job_type, &value)?;
    let spec = Spec::from_value(job_type, &value).map_err(|error| {
        vec![Violation::new(
            "",
            "type",
            format!("matches the schema but not the service's types: {error}"),
        )]
    })?;
    let broken = rules::check(&spec);
    if !broken.is_empty() {
        return Err(broken);
    }
    let pointers = secrets::secret_pointers(job_type);
    let scrubber = Scrubber::from_spec(&value, &pointers);
    let redacted = secrets::redact(&value, &pointers);
    Ok(ParsedSpec {
        spec,
        redacted,
        scrubber,
    })
}
