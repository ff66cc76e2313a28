//! `aetherv.inventory.v1.Inventory`: each handler checks its request, asks the store or
//! the refresher, and converts the answer.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use aetherv_proto::common::v1::PageResponse;
use aetherv_proto::inventory::v1 as pb;
use aetherv_proto::inventory::v1::inventory_server::Inventory;
use aetherv_runtime::{ApiError, CallContext, DrainSignal, ErrorCode};
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::{convert, request, watch};
use crate::domain::store::Store;
use crate::domain::summary::summarize;
use crate::refresh::engine::{Error as RefreshError, Refresher};

/// The service's handles.
#[derive(Clone)]
pub struct InventoryService {
    store: Arc<Store>,
    refresher: Arc<Refresher>,
    interval: Duration,
    heartbeat: Duration,
    drain: DrainSignal,
}

impl InventoryService {
    /// A service over `store`, refreshing through `refresher`.
    pub fn new(
        refresher: Arc<Refresher>,
        interval: Duration,
        heartbeat: Duration,
        drain: DrainSignal,
    ) -> InventoryService {
        InventoryService {
            store: refresher.store().clone(),
            refresher,
            interval,
            heartbeat,
            drain,
        }
    }

    fn refresh_status(
        &self,
        initial_refresh_done: bool,
        slow_hosts: Vec<String>,
    ) -> pb::RefreshStatus {
        self.refresher.with_stats(|stats| {
            let cycle = stats.last_cycle.unwrap_or_default();
            pb::RefreshStatus {
                interval: Some(convert::duration(self.interval)),
                initial_refresh_done: initial_refresh_done && stats.fleet_listed,
                last_cycle_duration: stats.last_cycle.map(|c| convert::duration(c.duration)),
                overrun: cycle.overrun,
                slow_hosts,
                average_host_refresh: Some(convert::duration(stats.average_refresh())),
                max_start_delay: stats
                    .last_cycle
                    .map(|c| convert::duration(c.max_start_delay)),
                cycles_completed: stats.cycles_completed,
                fleet_listed: stats.fleet_listed,
            }
        })
    }
}

fn not_found_host(host: &str) -> Status {
    ApiError::new(
        ErrorCode::NotFound,
        format!("host {host} is not configured"),
    )
    .with_metadata("host", host)
    .into()
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchEvent, Status>> + Send>>;

#[tonic::async_trait]
impl Inventory for InventoryService {
    async fn get_summary(
        &self,
        _request: Request<pb::GetSummaryRequest>,
    ) -> Result<Response<pb::Summary>, Status> {
        let summary = self.store.read(summarize);
        let initial_done = summary.hosts.iter().all(|h| h.last_refresh.is_some());
        let slow_hosts = summary
            .hosts
            .iter()
            .filter(|h| h.slow)
            .map(|h| h.id.to_string())
            .collect();
        Ok(Response::new(pb::Summary {
            revision: summary.revision,
            hosts_total: summary.hosts_total,
            hosts_by_status: summary
                .hosts_by_status
                .iter()
                .map(|(status, count)| pb::HostStatusCount {
                    status: convert::host_status(*status) as i32,
                    count: *count,
                })
                .collect(),
            vms_total: summary.vms_total,
            vms_by_state: summary
                .vms_by_state
                .iter()
                .map(|(state, count)| pb::VmStateCount {
                    state: convert::vm_state(*state) as i32,
                    count: *count,
                })
                .collect(),
            clusters_total: summary.clusters.len() as u32,
            standalone_hosts: summary.standalone_hosts,
            stale_vms: summary.stale_vms,
            capacity: Some(convert::capacity(&summary.capacity)),
            host_capacity: summary
                .hosts
                .iter()
                .map(|host| pb::HostCapacity {
                    host: host.id.to_string(),
                    cluster: host
                        .cluster
                        .as_ref()
                        .map(|c| c.to_string())
                        .unwrap_or_default(),
                    status: convert::host_status(host.status) as i32,
                    capacity: Some(convert::capacity(&host.capacity)),
                })
                .collect(),
            cluster_capacity: summary
                .clusters
                .iter()
                .map(|cluster| pb::ClusterCapacity {
                    cluster: cluster.name.to_string(),
                    capacity: Some(convert::capacity(&cluster.capacity)),
                })
                .collect(),
            refresh: Some(self.refresh_status(initial_done, slow_hosts)),
        }))
    }

    async fn list_clusters(
        &self,
        _request: Request<pb::ListClustersRequest>,
    ) -> Result<Response<pb::ListClustersResponse>, Status> {
        let (clusters, revision) = self.store.read(|fleet| {
            (
                fleet.clusters().map(|c| convert::cluster(c)).collect(),
                fleet.revision(),
            )
        });
        Ok(Response::new(pb::ListClustersResponse {
            clusters,
            revision,
        }))
    }

    async fn list_hosts(
        &self,
        request: Request<pb::ListHostsRequest>,
    ) -> Result<Response<pb::ListHostsResponse>, Status> {
        let request = request.into_inner();
        let cluster = request::cluster_filter("cluster", &request.cluster)?;
        let statuses = request::host_statuses("statuses", &request.statuses)?;
        let (hosts, revision) = self.store.read(|fleet| {
            let hosts = fleet
                .hosts()
                .filter(|host| statuses.is_empty() || statuses.contains(&host.status))
                .filter(|host| match &cluster {
                    crate::domain::query::ClusterFilter::Any => true,
                    crate::domain::query::ClusterFilter::Standalone => host.cluster.is_none(),
                    crate::domain::query::ClusterFilter::Named(name) => {
                        host.cluster.as_ref().is_some_and(|c| c.as_str() == name)
                    }
                })
                .map(|host| convert::host(host))
                .collect();
            (hosts, fleet.revision())
        });
        Ok(Response::new(pb::ListHostsResponse { hosts, revision }))
    }

    async fn get_host(
        &self,
        request: Request<pb::GetHostRequest>,
    ) -> Result<Response<pb::Host>, Status> {
        let id = request::host_id("host", &request.get_ref().host)?;
        self.store
            .read(|fleet| fleet.host(&id).map(|host| convert::host(host)))
            .map(Response::new)
            .ok_or_else(|| not_found_host(id.as_str()))
    }

    async fn list_vms(
        &self,
        request: Request<pb::ListVmsRequest>,
    ) -> Result<Response<pb::ListVmsResponse>, Status> {
        let query = request::vm_query(request.get_ref())?;
        let page = self.store.list_vms(&query);
        let now = OffsetDateTime::now_utc();
        Ok(Response::new(pb::ListVmsResponse {
            vms: page.vms.iter().map(|vm| convert::vm(vm, now)).collect(),
            page: Some(PageResponse {
                next_page_token: page.next_page_token.unwrap_or_default(),
                total_size: page.total as u64,
            }),
            revision: page.revision,
        }))
    }

    async fn get_vm(&self, request: Request<pb::GetVmRequest>) -> Result<Response<pb::Vm>, Status> {
        let id = request::vm_id("vm_id", &request.get_ref().vm_id)?;
        let vm = self.store.read(|fleet| fleet.vms().by_id(&id).cloned());
        match vm {
            Some(vm) => Ok(Response::new(convert::vm(&vm, OffsetDateTime::now_utc()))),
            None => Err(ApiError::new(
                ErrorCode::NotFound,
                format!("vm {id} is not in the inventory"),
            )
            .with_metadata("vm_id", id.to_string())
            .into()),
        }
    }

    async fn refresh_host(
        &self,
        request: Request<pb::RefreshHostRequest>,
    ) -> Result<Response<pb::RefreshHostResponse>, Status> {
        let context = CallContext::from_request(&request);
        let id = request::host_id("host", &request.get_ref().host)?;
        let outcome = match self.refresher.refresh(&id, &context).await {
            Ok(outcome) => outcome,
            Err(RefreshError::UnknownHost(_)) => return Err(not_found_host(id.as_str())),
            Err(error @ RefreshError::Refused { .. }) => {
                let mut api = ApiError::from_error(&error).with_metadata("host", id.as_str());
                if let RefreshError::Refused { source, .. } = &error {
                    api.metadata.extend(source.metadata.clone());
                }
                return Err(api.into());
            }
            Err(error) => return Err(ApiError::from_error(&error).into()),
        };
        Ok(Response::new(pb::RefreshHostResponse {
            ok: outcome.ok,
            host: outcome.host.as_deref().map(convert::host),
            error: outcome.error.as_ref().map(ApiError::to_detail),
            duration: Some(convert::duration(outcome.duration)),
            revision: outcome.revision,
            vms_added: outcome.counts.added,
            vms_changed: outcome.counts.changed,
            vms_removed: outcome.counts.removed,
        }))
    }

    type WatchStream = WatchStream;

    async fn watch(
        &self,
        request: Request<pb::WatchRequest>,
    ) -> Result<Response<WatchStream>, Status> {
        let from = request.get_ref().from_revision;
        let subscription = self.store.subscribe(from);
        let (sender, receiver) = mpsc::channel(watch::STREAM_BUFFER);
        tokio::spawn(watch::feed(
            self.store.clone(),
            subscription,
            sender,
            self.heartbeat,
            self.drain.clone(),
        ));
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }
}
