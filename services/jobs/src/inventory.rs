//! The [`Fleet`] over inventory's gRPC API (`GetHost`, `ListHosts`, `GetVm`, `ListVms`,
//! `RefreshHost`), with the host's catalogue from remote-tasks (`host.resources`).

use std::time::Duration;

use aetherv_hyperv::{ControllerType, Generation, HostId, ResourceCatalogue, VmId, VmState};
use aetherv_proto::common::v1 as common;
use aetherv_proto::inventory::v1 as pb;
use aetherv_proto::inventory::v1::inventory_client::InventoryClient;
use aetherv_runtime::{ApiError, ClientConfig, ErrorCode};
use futures::future::BoxFuture;
use tonic::Code;
use tonic::codec::CompressionEncoding;
use tonic::transport::Channel;

use crate::domain::facts::{DiskFacts, HostFacts, HostStatus, NicFacts, VmFacts};
use crate::engine::ports::Fleet;
use crate::remote::{RemoteTasks, context_for};

/// Inventory (and the catalogue through remote-tasks).
#[derive(Debug, Clone)]
pub struct Inventory {
    client: InventoryClient<Channel>,
    remote: RemoteTasks,
    request_timeout: Duration,
    refresh_timeout: Duration,
}

fn request<T>(message: T, timeout: Duration) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(timeout);
    context_for(None).attach(&mut request);
    request
}

fn failed(status: &tonic::Status) -> ApiError {
    ApiError::from_status(status)
}

/// Inventory's VM state as a Hyper-V state (its own Creating/Deleting read as Other).
pub fn vm_state(state: i32) -> VmState {
    match pb::VmState::try_from(state) {
        Ok(pb::VmState::Running) => VmState::Running,
        Ok(pb::VmState::Off) => VmState::Off,
        Ok(pb::VmState::Saved) => VmState::Saved,
        Ok(pb::VmState::Paused) => VmState::Paused,
        Ok(pb::VmState::Starting) => VmState::Starting,
        Ok(pb::VmState::Stopping) => VmState::Stopping,
        Ok(pb::VmState::Saving) => VmState::Saving,
        Ok(pb::VmState::Pausing) => VmState::Pausing,
        Ok(pb::VmState::Resuming) => VmState::Resuming,
        Ok(pb::VmState::Resetting) => VmState::Reset,
        _ => VmState::Other,
    }
}

/// Inventory's host record as the checks see it.
pub fn host_facts(host: &HostId, record: &pb::Host) -> HostFacts {
    let status = match pb::HostStatus::try_from(record.status) {
        Ok(pb::HostStatus::Reachable) => HostStatus::Reachable,
        Ok(pb::HostStatus::Unreachable) => HostStatus::Unreachable(record.status_reason.clone()),
        _ => HostStatus::Unknown,
    };
    HostFacts {
        host: host.clone(),
        status,
        cpu_cores: record.cpu_cores,
        switches: record
            .virtual_switches
            .iter()
            .map(|s| s.name.clone())
            .collect(),
    }
}

/// Inventory's VM record as the checks see it; `None` when its ids are unusable.
pub fn vm_facts(record: &pb::Vm) -> Option<VmFacts> {
    Some(VmFacts {
        id: VmId::parse(&record.id).ok()?,
        name: record.name.clone(),
        host: HostId::parse(&record.host).ok()?,
        state: vm_state(record.state),
        generation: if record.generation == 1 {
            Generation::One
        } else {
            Generation::Two
        },
        memory_startup_bytes: record.memory_startup_bytes,
        dynamic_memory_enabled: record.dynamic_memory_enabled,
        memory_minimum_bytes: record.memory_minimum_bytes,
        memory_maximum_bytes: record.memory_maximum_bytes,
        disks: record
            .disks
            .iter()
            .map(|d| DiskFacts {
                id: d.id.clone(),
                path: d.path.clone(),
                capacity_bytes: d.capacity_bytes,
                controller_type: if d.controller_type == pb::ControllerType::Ide as i32 {
                    ControllerType::Ide
                } else {
                    ControllerType::Scsi
                },
            })
            .collect(),
        nics: record
            .nics
            .iter()
            .map(|n| NicFacts {
                id: n.id.clone(),
                name: n.name.clone(),
            })
            .collect(),
    })
}

impl Inventory {
    /// A client of inventory at `config.endpoint`, with `remote` for catalogues.
    pub fn new(
        config: &ClientConfig,
        remote: RemoteTasks,
        refresh_timeout: Duration,
    ) -> Result<Inventory, aetherv_runtime::client::Error> {
        let channel = aetherv_runtime::connect_lazy(config)?;
        Ok(Inventory {
            client: InventoryClient::new(channel)
                .max_decoding_message_size(64 << 20)
                .accept_compressed(CompressionEncoding::Gzip),
            remote,
            request_timeout: config.request_timeout,
            refresh_timeout,
        })
    }

    /// Answers when inventory answers `GetSummary`.
    pub async fn ping(&self) -> Result<(), ApiError> {
        self.client
            .clone()
            .get_summary(request(pb::GetSummaryRequest {}, self.request_timeout))
            .await
            .map(|_| ())
            .map_err(|status| failed(&status))
    }
}

impl Fleet for Inventory {
    fn host<'a>(&'a self, host: &'a HostId) -> BoxFuture<'a, Result<Option<HostFacts>, ApiError>> {
        Box::pin(async move {
            let message = pb::GetHostRequest {
                host: host.to_string(),
            };
            match self
                .client
                .clone()
                .get_host(request(message, self.request_timeout))
                .await
            {
                Ok(response) => Ok(Some(host_facts(host, &response.into_inner()))),
                Err(status) if status.code() == Code::NotFound => Ok(None),
                Err(status) => Err(failed(&status)),
            }
        })
    }

    fn hosts(&self) -> BoxFuture<'_, Result<Vec<String>, ApiError>> {
        Box::pin(async move {
            let response = self
                .client
                .clone()
                .list_hosts(request(
                    pb::ListHostsRequest::default(),
                    self.request_timeout,
                ))
                .await
                .map_err(|status| failed(&status))?;
            Ok(response
                .into_inner()
                .hosts
                .into_iter()
                .map(|h| h.host)
                .collect())
        })
    }

    fn vm(&self, vm: VmId) -> BoxFuture<'_, Result<Option<VmFacts>, ApiError>> {
        Box::pin(async move {
            let message = pb::GetVmRequest {
                vm_id: vm.to_string(),
            };
            match self
                .client
                .clone()
                .get_vm(request(message, self.request_timeout))
                .await
            {
                Ok(response) => Ok(vm_facts(&response.into_inner())),
                Err(status) if status.code() == Code::NotFound => Ok(None),
                Err(status) => Err(failed(&status)),
            }
        })
    }

    fn vm_named<'a>(
        &'a self,
        host: &'a HostId,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<VmId>, ApiError>> {
        Box::pin(async move {
            let message = pb::ListVmsRequest {
                host: host.to_string(),
                name_contains: name.chars().take(256).collect(),
                page: Some(common::PageRequest {
                    page_size: 1000,
                    page_token: String::new(),
                }),
                ..pb::ListVmsRequest::default()
            };
            let response = self
                .client
                .clone()
                .list_vms(request(message, self.request_timeout))
                .await
                .map_err(|status| failed(&status))?;
            Ok(response
                .into_inner()
                .vms
                .iter()
                .find(|vm| vm.name.eq_ignore_ascii_case(name))
                .and_then(|vm| VmId::parse(&vm.id).ok()))
        })
    }

    fn catalogue<'a>(
        &'a self,
        host: &'a HostId,
    ) -> BoxFuture<'a, Result<ResourceCatalogue, ApiError>> {
        Box::pin(self.remote.catalogue(host))
    }

    fn refresh<'a>(&'a self, host: &'a HostId) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(async move {
            let message = pb::RefreshHostRequest {
                host: host.to_string(),
            };
            let response = self
                .client
                .clone()
                .refresh_host(request(message, self.refresh_timeout))
                .await
                .map_err(|status| failed(&status))?
                .into_inner();
            if response.ok {
                return Ok(());
            }
            Err(response
                .error
                .and_then(ApiError::from_detail)
                .unwrap_or_else(|| {
                    ApiError::new(
                        ErrorCode::Unavailable,
                        format!("refresh of host {host} failed"),
                    )
                }))
        })
    }
}
