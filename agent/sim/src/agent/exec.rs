//! Runs one agent operation on a host's model, writing `log`/`progress` lines as the work
//! happens and taking the simulated time Hyper-V would take.
//!
//! Four shapes of work:
//! - reads (`agent.info`, `noop`, `inventory.collect`, `host.resources`) answer at once;
//! - `inventory.watch` writes an `event` line for every change of the host's VMs as it
//!   happens (any mutation of the model: other operations, the control API, power
//!   transitions ending) and answers after `seconds` of real time;
//! - configuration changes are checked on a copy of the model first (a refusal answers at
//!   once), then take their time, then apply — so an interrupted change changes nothing;
//! - `vm.power` begins the transition at once (the VM shows the transitional state) and
//!   waits for it; `disk.create` reserves space and a controller location, copies for a
//!   time proportional to the bytes, then attaches — an interrupted copy gives everything
//!   back and attaches nothing.
//!
//! Ctrl+C (WinRS Signal ctrl_c) answers CANCELLED; Signal terminate drops the future.

use std::time::Duration;

use aetherv_hyperv::ops::agent::{AgentInfoResult, NoopResult};
use aetherv_hyperv::ops::disk::DiskCreateParams;
use aetherv_hyperv::ops::inventory::{InventoryWatchParams, InventoryWatchResult};
use aetherv_hyperv::ops::vm::{VmPowerParams, VmPowerResult};
use aetherv_hyperv::{AgentError, EventLine, Operation, Params, Timestamp, VmId};
use serde::Serialize;
use serde_json::{Map, Value};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::emit::Emitter;
use crate::clock::SimInstant;
use crate::host::SimHost;
use crate::model::disk_ops::{self, DiskPlan};
use crate::model::power::{self, PowerPlan};
use crate::model::state::durations;
use crate::model::{HostModel, errors, nic_ops, vm_ops};

/// One operation's context.
pub struct Call<'a> {
    /// The host.
    pub host: &'a SimHost,
    /// Its stdout.
    pub out: &'a Emitter,
    /// Fires on Ctrl+C / terminate.
    pub cancel: &'a CancellationToken,
    /// The request's correlation id.
    pub correlation_id: &'a str,
    /// SHA-256 of the agent script received.
    pub agent_sha256: &'a str,
    /// The agent bundle's version.
    pub agent_version: &'a str,
}

struct Interrupted;

impl Call<'_> {
    async fn wait_until(&self, until: SimInstant) -> Result<(), Interrupted> {
        tokio::select! {
            _ = self.host.clock().sleep_until(until) => Ok(()),
            _ = self.cancel.cancelled() => Err(Interrupted),
        }
    }

    async fn wait(&self, d: Duration) -> Result<(), Interrupted> {
        self.wait_until(self.host.now() + d).await
    }

    /// Checks `op` on a copy, waits `duration(&preview)`, then applies it for real.
    async fn check_wait_apply<T>(
        &self,
        step: &str,
        duration: impl Fn(&T) -> Duration,
        op: impl Fn(&mut HostModel, SimInstant) -> Result<T, AgentError>,
    ) -> Result<T, AgentError> {
        let preview = self.host.with_model(|m, now| {
            let mut copy = m.clone();
            op(&mut copy, now)
        })?;
        if self.wait(duration(&preview)).await.is_err() {
            return Err(errors::cancelled(Some(step), "nothing was changed"));
        }
        self.host.with_model(|m, now| op(m, now))
    }
}

/// Configuration changes take [`durations::CONFIGURE`] whatever they change.
fn configure<T>(_: &T) -> Duration {
    durations::CONFIGURE
}

fn to_map<T: Serialize>(value: T) -> Result<Map<String, Value>, AgentError> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(AgentError::new(
            aetherv_hyperv::ErrorDetails::Internal(aetherv_hyperv::InternalDetails {
                exception_type: "System.InvalidOperationException".to_owned(),
                script_stack_trace: None,
            }),
            "the result could not be serialised",
        )),
    }
}

/// The VM a request concerns, if any (for injected errors).
pub fn vm_of(params: &Params) -> Option<VmId> {
    Some(match params {
        Params::VmPower(p) => p.vm_id,
        Params::VmUpdate(p) => p.vm_id,
        Params::VmDelete(p) => p.vm_id,
        Params::DiskCreate(p) => p.vm_id,
        Params::DiskResize(p) => p.vm_id,
        Params::DiskDelete(p) => p.vm_id,
        Params::NicCreate(p) => p.vm_id,
        Params::NicUpdate(p) => p.vm_id,
        Params::NicDelete(p) => p.vm_id,
        _ => return None,
    })
}

/// Runs the operation; the result data or the agent error.
pub async fn execute(call: &Call<'_>, params: Params) -> Result<Map<String, Value>, AgentError> {
    let op = params.operation();
    call.out.info(format!("Executing {op} operation")).await;
    call.out
        .info(format!("Correlation ID: {}", call.correlation_id))
        .await;
    let host = call.host;
    match params {
        Params::AgentInfo(_) => to_map(agent_info(call)),
        Params::Noop(p) => to_map(NoopResult {
            echo: p.0,
            correlation_id: call.correlation_id.to_owned(),
        }),
        Params::InventoryCollect(p) => {
            let inventory =
                host.with_model(|m, now| m.inventory(now, Timestamp::now(), p.vm_ids.as_deref()));
            call.out
                .info(format!(
                    "Collected {} virtual machines",
                    inventory.vms.len()
                ))
                .await;
            to_map(inventory)
        }
        Params::InventoryWatch(p) => to_map(watch(call, &p).await?),
        Params::HostResources(_) => to_map(host.resources()),
        Params::VmPower(p) => to_map(vm_power(call, &p).await?),
        Params::VmCreate(p) => {
            call.out
                .info(format!(
                    "New-VM -Name '{}' -Generation {}",
                    p.name,
                    p.generation.number()
                ))
                .await;
            let id = call
                .check_wait_apply("New-VM", configure, |m, now| {
                    vm_ops::create(m, now, Timestamp::now(), &p)
                })
                .await?;
            to_map(host.vm(id).ok_or_else(|| errors::vm_not_found(id))?)
        }
        Params::VmUpdate(p) => {
            call.out
                .info("Set-VM / Set-VMProcessor / Set-VMMemory")
                .await;
            call.check_wait_apply("Set-VM", configure, |m, now| vm_ops::update(m, now, &p))
                .await?;
            to_map(
                host.vm(p.vm_id)
                    .ok_or_else(|| errors::vm_not_found(p.vm_id))?,
            )
        }
        Params::VmDelete(p) => {
            let deleted = call
                .check_wait_apply(
                    "Remove-VM",
                    |d: &vm_ops::Deleted| {
                        durations::CONFIGURE
                            + if d.turned_off {
                                durations::TURN_OFF
                            } else {
                                Duration::ZERO
                            }
                    },
                    |m, now| vm_ops::delete(m, now, &p),
                )
                .await?;
            if deleted.turned_off {
                call.out.info("Stop-VM -TurnOff -Force").await;
            }
            if deleted.cluster_role_removed {
                call.out
                    .info("Remove-ClusterGroup -RemoveResources -Force")
                    .await;
            }
            call.out
                .info(format!("Remove-VM -Name '{}' -Force", deleted.result.name))
                .await;
            for path in &deleted.result.deleted_disk_paths {
                call.out.info(format!("Remove-Item '{path}'")).await;
            }
            to_map(deleted.result)
        }
        Params::DiskCreate(p) => to_map(disk_create(call, &p).await?),
        Params::DiskResize(p) => {
            call.out
                .info(format!("Resize-VHD -SizeBytes {}", p.size_bytes))
                .await;
            let (_, disk) = call
                .check_wait_apply(
                    "Resize-VHD",
                    |(d, _): &(Duration, _)| *d,
                    |m, now| disk_ops::resize(m, now, &p),
                )
                .await?;
            to_map(disk)
        }
        Params::DiskDelete(p) => {
            call.out.info("Remove-VMHardDiskDrive").await;
            let result = call
                .check_wait_apply("Remove-VMHardDiskDrive", configure, |m, now| {
                    disk_ops::delete(m, now, &p)
                })
                .await?;
            if result.file_deleted {
                call.out
                    .info(format!("Remove-Item '{}'", result.path))
                    .await;
            }
            to_map(result)
        }
        Params::NicCreate(p) => {
            call.out.info("Add-VMNetworkAdapter").await;
            to_map(
                call.check_wait_apply("Add-VMNetworkAdapter", configure, |m, now| {
                    nic_ops::create(m, now, &p)
                })
                .await?,
            )
        }
        Params::NicUpdate(p) => {
            call.out
                .info("Set-VMNetworkAdapter / Set-VMNetworkAdapterVlan")
                .await;
            to_map(
                call.check_wait_apply("Set-VMNetworkAdapter", configure, |m, now| {
                    nic_ops::update(m, now, &p)
                })
                .await?,
            )
        }
        Params::NicDelete(p) => {
            call.out.info("Remove-VMNetworkAdapter").await;
            to_map(
                call.check_wait_apply("Remove-VMNetworkAdapter", configure, |m, now| {
                    nic_ops::delete(m, now, &p)
                })
                .await?,
            )
        }
    }
}

/// `inventory.watch`: event lines as the model changes, until `seconds` (real time) have
/// passed; Ctrl+C answers CANCELLED. Power transitions that end while watching are
/// applied when they end, so their new state is reported then.
async fn watch(
    call: &Call<'_>,
    p: &InventoryWatchParams,
) -> Result<InventoryWatchResult, AgentError> {
    let host = call.host;
    let seconds = p.seconds_or_default();
    let mut changes = host.subscribe_changes();
    let started = tokio::time::Instant::now();
    let until = started + Duration::from_secs(seconds.into());
    call.out
        .info(format!("watching for changes for {seconds} seconds"))
        .await;
    let mut events: u64 = 0;
    loop {
        let next_transition = host.next_transition();
        let settle = async {
            match next_transition {
                Some(at) => host.clock().sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = tokio::time::sleep_until(until) => break,
            () = call.cancel.cancelled() => {
                return Err(errors::cancelled(Some("watch"), "the watch was stopped"));
            }
            received = changes.recv() => {
                let line = match received {
                    Ok(line) => line,
                    // Changes were missed: the whole host must be collected again.
                    Err(RecvError::Lagged(_)) => EventLine::host(),
                    Err(RecvError::Closed) => break,
                };
                call.out.event(line).await;
                events += 1;
            }
            () = settle => host.settle(),
        }
    }
    Ok(InventoryWatchResult {
        events,
        watched_seconds: started.elapsed().as_secs(),
    })
}

fn agent_info(call: &Call<'_>) -> AgentInfoResult {
    let facts = call.host.with_model(|m, _| m.facts().clone());
    AgentInfoResult {
        agent_version: call.agent_version.to_owned(),
        agent_sha256: call.agent_sha256.to_owned(),
        protocol_versions: vec![aetherv_hyperv::PROTOCOL_VERSION],
        operations: Operation::ALL
            .iter()
            .map(|o| o.as_str().to_owned())
            .collect(),
        powershell_version: facts.powershell_version,
        os_version: facts.os_version,
        os_caption: facts.os_caption,
        computer_name: facts.computer_name,
        fqdn: facts.fqdn,
        hyperv_module_present: true,
        hyperv_module_version: Some(facts.hyperv_module_version),
        hyperv_service_present: true,
        hyperv_service_running: true,
        cluster_name: facts.cluster_name,
        time_utc: Timestamp::now(),
    }
}

async fn vm_power(call: &Call<'_>, p: &VmPowerParams) -> Result<VmPowerResult, AgentError> {
    let host = call.host;
    let wait = p
        .shutdown_timeout_seconds
        .map_or(durations::SHUTDOWN_WAIT_DEFAULT, |s| {
            Duration::from_secs(s.into())
        });
    let plan = host.with_model(|m, now| power::begin(m, now, p.vm_id, p.action, wait))?;
    call.out.info(p.action.cmdlet().to_owned()).await;
    let mut turned_off = false;
    let (previous, pending) = match plan {
        PowerPlan::Transition { previous, .. } | PowerPlan::Done { previous, .. } => {
            (previous, plan)
        }
        PowerPlan::GuestIgnoresShutdown { previous, wait } => {
            call.out
                .info(format!(
                    "Waiting up to {} seconds for the guest to shut down",
                    wait.as_secs()
                ))
                .await;
            if call.wait(wait).await.is_err() {
                return Err(errors::cancelled(
                    Some("shutdown"),
                    "the virtual machine is still running",
                ));
            }
            let turn_off = p.turn_off_after_timeout.unwrap_or(false);
            let next = host.with_model(|m, now| {
                power::finish_ignored_shutdown(m, now, p.vm_id, wait, turn_off)
            })?;
            call.out
                .log(
                    aetherv_hyperv::LogLevel::Warning,
                    "The guest did not shut down in time; turning the virtual machine off",
                )
                .await;
            turned_off = true;
            (previous, next)
        }
    };
    if let PowerPlan::Transition { via, to, until, .. } = pending {
        call.out.info(format!("The virtual machine is {via}")).await;
        if call.wait_until(until).await.is_err() {
            return Err(errors::cancelled(
                Some(&format!("wait for {to}")),
                &format!("the virtual machine continues to {to}"),
            ));
        }
    }
    let state = host
        .with_model(|m, now| {
            m.settle(now);
            m.vm(p.vm_id).map(|v| v.state)
        })
        .ok_or_else(|| errors::vm_not_found(p.vm_id))?;
    call.out
        .info(format!("The virtual machine is {state}"))
        .await;
    Ok(VmPowerResult {
        vm_id: p.vm_id,
        action: p.action,
        previous_state: previous,
        state,
        turned_off_after_timeout: turned_off,
    })
}

/// Gives a plan's space and location back unless the disk was attached.
struct PlanGuard<'a> {
    host: &'a SimHost,
    plan: Option<DiskPlan>,
}

impl Drop for PlanGuard<'_> {
    fn drop(&mut self) {
        if let Some(plan) = self.plan.take() {
            self.host
                .with_model(|m, _| disk_ops::abort_create(m, &plan));
        }
    }
}

fn controller_name(c: aetherv_hyperv::ControllerType) -> &'static str {
    match c {
        aetherv_hyperv::ControllerType::Scsi => "SCSI",
        aetherv_hyperv::ControllerType::Ide => "IDE",
    }
}

fn gib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 30) as f64
}

async fn disk_create(
    call: &Call<'_>,
    p: &DiskCreateParams,
) -> Result<aetherv_hyperv::Disk, AgentError> {
    let host = call.host;
    let plan = host.with_model(|m, now| disk_ops::plan_create(m, now, p))?;
    let mut guard = PlanGuard {
        host,
        plan: Some(plan.clone()),
    };
    let step = if plan.image.is_some() {
        "copy image"
    } else {
        "create disk"
    };
    match &plan.image {
        Some(image) => {
            call.out
                .info(format!(
                    "Copy-Item '{image}' -Destination '{}'",
                    plan.file.path
                ))
                .await
        }
        None => {
            call.out
                .info(format!(
                    "New-VHD -Path '{}' -SizeBytes {}",
                    plan.file.path, plan.file.capacity_bytes
                ))
                .await
        }
    }
    let start = host.now();
    let steps: u32 = if plan.bytes_to_write > 0 { 20 } else { 1 };
    for i in 1..=steps {
        let until = start + plan.duration.mul_f64(f64::from(i) / f64::from(steps));
        if call.wait_until(until).await.is_err() {
            drop(guard);
            return Err(errors::cancelled(
                Some(step),
                "no disk was attached and the partial file was removed",
            ));
        }
        if plan.bytes_to_write > 0 {
            let done = plan.bytes_to_write as f64 * f64::from(i) / f64::from(steps);
            call.out
                .progress(
                    step,
                    (i * 100 / steps).min(99) as u8,
                    Some(format!(
                        "{:.1} of {:.1} GiB",
                        gib(done as u64),
                        gib(plan.bytes_to_write)
                    )),
                )
                .await;
        }
    }
    guard.plan = None;
    let disk = host.with_model(|m, now| disk_ops::commit_create(m, now, &plan))?;
    call.out.progress(step, 100, None).await;
    call.out
        .info(format!(
            "Add-VMHardDiskDrive -ControllerType {} -ControllerNumber {} -ControllerLocation {}",
            controller_name(disk.controller_type),
            disk.controller_number,
            disk.controller_location
        ))
        .await;
    Ok(disk)
}
