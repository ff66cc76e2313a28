//! Submitting a job: parse and check the spec, gather the facts its pre-checks need
//! (inventory's host and VM, the host's catalogue cached for a short while), check them,
//! plan the steps and build the job.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use aetherv_hyperv::{HostId, ResourceCatalogue};
use aetherv_proto::common::v1::{FieldViolation, PointerKind};
use aetherv_runtime::{ApiError, ErrorCode};
use tokio::time::Instant;

use super::ports::Fleet;
use crate::domain::checks;
use crate::domain::facts::Facts;
use crate::domain::model::{Job, JobId, JobState, Step};
use crate::domain::plan::{PlannedStep, plan};
use crate::domain::store::Store;
use crate::spec::{self, JobType, ParsedSpec, Spec, Violation};

/// The host catalogues, each kept for a short while.
pub struct CatalogueCache {
    ttl: Duration,
    entries: Mutex<HashMap<HostId, (Instant, Arc<ResourceCatalogue>)>>,
}

impl CatalogueCache {
    /// Entries live `ttl`.
    pub fn new(ttl: Duration) -> CatalogueCache {
        CatalogueCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<HostId, (Instant, Arc<ResourceCatalogue>)>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The host's catalogue, from the cache when fresh, else from `fleet`.
    pub async fn get(
        &self,
        fleet: &dyn Fleet,
        host: &HostId,
    ) -> Result<Arc<ResourceCatalogue>, ApiError> {
        let now = Instant::now();
        if let Some((at, catalogue)) = self.entries().get(host)
            && now.duration_since(*at) < self.ttl
        {
            return Ok(catalogue.clone());
        }
        let catalogue = Arc::new(fleet.catalogue(host).await?);
        let mut entries = self.entries();
        entries.retain(|_, (at, _)| now.duration_since(*at) < self.ttl);
        entries.insert(host.clone(), (now, catalogue.clone()));
        Ok(catalogue)
    }
}

/// INVALID_ARGUMENT listing every violation as a JSON pointer into `spec_json`.
pub fn invalid_spec(job_type: JobType, violations: Vec<Violation>) -> ApiError {
    let summary = violations
        .iter()
        .map(|v| {
            let at = if v.pointer.is_empty() {
                "/"
            } else {
                &v.pointer
            };
            format!("{at} {}", v.description)
        })
        .collect::<Vec<_>>()
        .join("; ");
    let mut error = ApiError::new(
        ErrorCode::InvalidArgument,
        format!(
            "spec_json is not a valid {} spec: {summary}",
            job_type.as_str()
        ),
    );
    for v in violations {
        error = error.with_violation(FieldViolation {
            field: v.pointer,
            pointer_kind: PointerKind::JsonPointer as i32,
            description: v.description,
            rule: v.rule,
            allowed: v.allowed,
        });
    }
    error
}

fn unavailable(what: &str, error: &ApiError) -> ApiError {
    ApiError::new(
        ErrorCode::Unavailable,
        format!("the pre-checks could not ask {what}: {}", error.message),
    )
    .with_metadata("dependency", what)
}

/// Whether the spec names anything in the host's catalogue.
fn needs_catalogue(spec: &Spec) -> bool {
    match spec {
        Spec::CreateVm { .. } | Spec::ManagedDeployment { .. } => true,
        Spec::CreateDisk { disk, .. } => disk.image.is_some() || disk.storage_class.is_some(),
        Spec::CreateNic { nic, .. } => nic.network.is_some(),
        Spec::UpdateNic { changes, .. } => changes.network.is_some(),
        _ => false,
    }
}

/// Gathers the facts the checks of `spec` need.
pub async fn gather(
    spec: &Spec,
    fleet: &dyn Fleet,
    catalogues: &CatalogueCache,
    store: &Store,
) -> Result<Facts, ApiError> {
    let host = spec.host();
    // The host and the VM are asked for at once: one round trip of latency, not two.
    let vm_facts = async {
        match spec.vm_id() {
            Some(vm) => fleet.vm(vm).await.map(Some),
            None => Ok(None),
        }
    };
    let (host_facts, vm_facts) = tokio::join!(fleet.host(host), vm_facts);
    let mut facts = Facts {
        host: host_facts.map_err(|e| unavailable("inventory", &e))?,
        ..Facts::default()
    };
    if facts.host.is_none() {
        facts.known_hosts = fleet.hosts().await.unwrap_or_default();
        return Ok(facts);
    }
    if let Some(vm) = spec.vm_id() {
        facts.vm = vm_facts
            .map_err(|e| unavailable("inventory", &e))?
            .flatten();
        facts.earlier_job = store.active_on_vm(vm).map(|id| id.to_string());
    }
    if let Some(new) = spec.new_vm() {
        facts.name_taken_by = fleet
            .vm_named(host, &new.name)
            .await
            .map_err(|e| unavailable("inventory", &e))?;
        facts.name_claimed_by = store.creating(host, &new.name).map(|id| id.to_string());
    }
    if needs_catalogue(spec) {
        facts.catalogue = Some(
            catalogues
                .get(fleet, host)
                .await
                .map_err(|e| unavailable("the host's resource catalogue", &e))?,
        );
    }
    Ok(facts)
}

/// A new job (pending) from a checked spec.
pub struct Prepared {
    /// The job.
    pub job: Job,
    /// Its plan.
    pub plan: Arc<Vec<PlannedStep>>,
}

/// Checks `parsed` against `facts` and builds the job.
pub fn prepare(
    job_type: JobType,
    parsed: &ParsedSpec,
    facts: &Facts,
    requester: String,
    request_id: Option<String>,
) -> Result<Prepared, ApiError> {
    let resolved = checks::check(&parsed.spec, facts)?;
    let steps = plan(&parsed.spec, resolved.family);
    let job = Job {
        id: JobId::random(),
        seq: 0,
        job_type,
        state: JobState::Pending,
        waiting: None,
        host: parsed.spec.host().clone(),
        vm_id: parsed.spec.vm_id(),
        vm_name: resolved.vm_name,
        requester,
        spec: parsed.redacted.clone(),
        steps: steps
            .iter()
            .enumerate()
            .map(|(i, step)| Step::new(i as u32, step.name.clone(), step.kind.operation()))
            .collect(),
        created_resources: Vec::new(),
        output: Default::default(),
        output_truncated: 0,
        percent: 0,
        error: None,
        created_at: SystemTime::now(),
        started_at: None,
        finished_at: None,
        attempt: 1,
        cancel_requested: false,
        last_event_id: 0,
        request_id,
    };
    Ok(Prepared {
        job,
        plan: Arc::new(steps),
    })
}

/// Parses a spec, answering INVALID_ARGUMENT with every violation.
pub fn parse(job_type: JobType, text: &str) -> Result<ParsedSpec, ApiError> {
    spec::parse(job_type, text).map_err(|violations| invalid_spec(job_type, violations))
}
