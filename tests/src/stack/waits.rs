//! The `wait_for_*` helpers of [`TestStack`]: each polls the running services (over their
//! real APIs) until a condition holds, and fails with what it saw last.

use std::time::Duration;

use aetherv_proto::inventory::v1 as pb;
use aetherv_proto::jobs::v1 as jpb;
use aetherv_proto::notifications::v1 as npb;

use super::TestStack;
use crate::error::Error;
use crate::wait::{Outcome, wait_for};

/// The bound on waiting for the stack's own start-up steps.
const START_LIMIT: Duration = Duration::from_secs(60);

impl TestStack {
    /// Waits until the gateway's `/readyz` says every service is ready.
    pub async fn wait_for_ready(&self) -> Result<(), Error> {
        let url = self.url("/readyz")?;
        wait_for("the gateway's /readyz", START_LIMIT, || async {
            let reply = self.http.get(&url).await?;
            let body = reply.json()?;
            Ok(if body["ready"] == true {
                Outcome::Done(())
            } else {
                Outcome::NotYet(body.to_string())
            })
        })
        .await
    }

    /// inventory's summary.
    pub async fn summary(&self) -> Result<pb::Summary, Error> {
        self.inventory()?
            .get_summary(pb::GetSummaryRequest {})
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| Error::grpc("Inventory/GetSummary", status))
    }

    /// Waits until inventory has refreshed every host, all are reachable, and it holds as
    /// many VMs as the simulator has; returns that summary.
    pub async fn wait_for_converged(&self) -> Result<pb::Summary, Error> {
        let hosts = u32::try_from(self.fleet.hosts().len()).unwrap_or(u32::MAX);
        wait_for("inventory to converge", START_LIMIT, || async {
            let vms: usize = self.fleet.hosts().iter().map(|h| h.vms().len()).sum();
            let summary = self.summary().await?;
            let reachable = summary
                .hosts_by_status
                .iter()
                .find(|c| c.status == pb::HostStatus::Reachable as i32)
                .map_or(0, |c| c.count);
            let done = summary
                .refresh
                .as_ref()
                .is_some_and(|r| r.initial_refresh_done)
                && reachable == hosts
                && summary.vms_total as usize == vms;
            Ok(if done {
                Outcome::Done(summary)
            } else {
                Outcome::NotYet(format!(
                    "{reachable}/{hosts} hosts reachable, {}/{vms} vms, refresh {:?}",
                    summary.vms_total, summary.refresh
                ))
            })
        })
        .await
    }

    /// Every host inventory knows.
    pub async fn hosts(&self) -> Result<Vec<pb::Host>, Error> {
        self.inventory()?
            .list_hosts(pb::ListHostsRequest::default())
            .await
            .map(|r| r.into_inner().hosts)
            .map_err(|status| Error::grpc("Inventory/ListHosts", status))
    }

    /// One VM from inventory.
    pub async fn vm(&self, id: &str) -> Result<pb::Vm, Error> {
        self.inventory()?
            .get_vm(pb::GetVmRequest {
                vm_id: id.to_string(),
            })
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| Error::grpc("Inventory/GetVm", status))
    }

    /// Waits until inventory's record of `host` satisfies `check`; returns it.
    pub async fn wait_for_host<F>(
        &self,
        host: &str,
        limit: Duration,
        check: F,
    ) -> Result<pb::Host, Error>
    where
        F: Fn(&pb::Host) -> bool,
    {
        wait_for(&format!("host {host}"), limit, || {
            let found = self.hosts();
            let check = &check;
            async move {
                let hosts = found.await?;
                Ok(match hosts.into_iter().find(|h| h.host == host) {
                    Some(record) if check(&record) => Outcome::Done(record),
                    Some(record) => Outcome::NotYet(format!("{record:?}")),
                    None => Outcome::NotYet("not listed".to_string()),
                })
            }
        })
        .await
    }

    /// Waits until inventory's record of VM `id` satisfies `check`; returns it.
    pub async fn wait_for_vm<F>(&self, id: &str, limit: Duration, check: F) -> Result<pb::Vm, Error>
    where
        F: Fn(&pb::Vm) -> bool,
    {
        wait_for(&format!("vm {id}"), limit, || {
            let found = self.vm(id);
            let check = &check;
            async move {
                Ok(match found.await {
                    Ok(vm) if check(&vm) => Outcome::Done(vm),
                    Ok(vm) => Outcome::NotYet(format!("{vm:?}")),
                    Err(error) => Outcome::NotYet(error.to_string()),
                })
            }
        })
        .await
    }

    /// Waits until the notifications service holds one satisfying `check`; returns it.
    pub async fn wait_for_notification<F>(
        &self,
        what: &str,
        limit: Duration,
        check: F,
    ) -> Result<npb::Notification, Error>
    where
        F: Fn(&npb::Notification) -> bool,
    {
        wait_for(what, limit, || {
            let client = self.notifications();
            let check = &check;
            async move {
                let listed = client?
                    .list(npb::ListNotificationsRequest {
                        limit: 1000,
                        unread_only: false,
                    })
                    .await
                    .map_err(|status| Error::grpc("Notifications/List", status))?
                    .into_inner();
                let titles: Vec<String> = listed
                    .notifications
                    .iter()
                    .map(|n| format!("{} ({})", n.title, n.dedup_key))
                    .collect();
                Ok(match listed.notifications.into_iter().find(|n| check(n)) {
                    Some(found) => Outcome::Done(found),
                    None => Outcome::NotYet(format!("{titles:?}")),
                })
            }
        })
        .await
    }

    /// Waits until job `id` has finished (succeeded, failed or cancelled); returns it.
    pub async fn wait_for_job(&self, id: &str, limit: Duration) -> Result<jpb::Job, Error> {
        wait_for(&format!("job {id} to finish"), limit, || async {
            let job = self
                .jobs()?
                .get(jpb::GetJobRequest {
                    job_id: id.to_string(),
                    include_output: false,
                })
                .await
                .map_err(|status| Error::grpc("Jobs/Get", status))?
                .into_inner();
            let finished = [
                jpb::JobState::Succeeded,
                jpb::JobState::Failed,
                jpb::JobState::Cancelled,
            ]
            .iter()
            .any(|s| *s as i32 == job.state);
            Ok(if finished {
                Outcome::Done(job)
            } else {
                Outcome::NotYet(format!("{job:?}"))
            })
        })
        .await
    }

    /// Asks inventory to refresh `host` now and waits for that refresh.
    pub async fn refresh_host(&self, host: &str) -> Result<pb::RefreshHostResponse, Error> {
        self.inventory()?
            .refresh_host(pb::RefreshHostRequest {
                host: host.to_string(),
            })
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| Error::grpc("Inventory/RefreshHost", status))
    }
}
