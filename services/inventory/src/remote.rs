//! The [`Collector`] over remote-tasks' gRPC API: the fleet from `ListHosts`, one host's
//! inventory from `Run("inventory.collect", category INVENTORY)`, one host's changes from
//! `Run("inventory.watch", category WATCH)`. Inventory never talks to a host itself.

use std::time::Duration;

use aetherv_hyperv::HostId;
use aetherv_hyperv::ops::inventory::InventoryCollectResult;
use aetherv_proto::remotetasks::v1 as pb;
use aetherv_proto::remotetasks::v1::remote_tasks_client::RemoteTasksClient;
use aetherv_runtime::{ApiError, CallContext, ClientConfig, ErrorCode};
use futures::future::BoxFuture;
use tonic::Code;
use tonic::codec::CompressionEncoding;
use tonic::transport::Channel;

use crate::refresh::collector::{CollectError, Collector, WatchSignal};

/// Extra time a call may take beyond the operation's timeout (queueing and transport).
const CALL_MARGIN: Duration = Duration::from_secs(5);
/// Extra run time a watch may take beyond its length (starting PowerShell, subscribing,
/// the last Wait-Event).
const WATCH_RUN_MARGIN: Duration = Duration::from_secs(60);
/// Extra time a watch call may take beyond its run timeout (queueing behind the host's
/// previous watch while it is being stopped, and transport).
const WATCH_CALL_MARGIN: Duration = Duration::from_secs(60);

/// remote-tasks as seen by inventory.
#[derive(Debug, Clone)]
pub struct RemoteTasks {
    client: RemoteTasksClient<Channel>,
    request_timeout: Duration,
}

impl RemoteTasks {
    /// A client of `config.endpoint` (connects on first use).
    pub fn new(config: &ClientConfig) -> Result<RemoteTasks, aetherv_runtime::client::Error> {
        let channel = aetherv_runtime::connect_lazy(config)?;
        let client = RemoteTasksClient::new(channel)
            // A host with many VMs answers more than tonic's 4 MiB default. Accepting gzip
            // keeps working with a remote-tasks that compresses (ours answers plainly).
            .max_decoding_message_size(64 << 20)
            .accept_compressed(CompressionEncoding::Gzip);
        Ok(RemoteTasks {
            client,
            request_timeout: config.request_timeout,
        })
    }

    async fn collect_host(
        &self,
        host: &HostId,
        context: &CallContext,
        timeout: Duration,
    ) -> Result<InventoryCollectResult, CollectError> {
        let mut request = tonic::Request::new(pb::RunRequest {
            host: host.as_str().to_string(),
            operation: "inventory.collect".to_string(),
            params_json: "{}".to_string(),
            category: pb::Category::Inventory as i32,
            timeout: prost_types::Duration::try_from(timeout).ok(),
            correlation_id: String::new(),
        });
        // The whole call: queueing in remote-tasks, the run, and the way back.
        request.set_timeout(timeout + CALL_MARGIN);
        context.attach(&mut request);
        let mut stream = self
            .client
            .clone()
            .run(request)
            .await
            .map_err(|status| refused_or_failed(host, &status))?
            .into_inner();
        loop {
            let event = stream
                .message()
                .await
                .map_err(|status| refused_or_failed(host, &status))?;
            let Some(event) = event else {
                return Err(CollectError::Failed(ApiError::new(
                    ErrorCode::Unavailable,
                    format!("remote-tasks ended the run on host {host} without a result"),
                )));
            };
            match event.event {
                Some(pb::run_event::Event::Result(result)) => return outcome(host, result),
                Some(pb::run_event::Event::Log(line)) => {
                    tracing::debug!(%host, message = %line.message, "agent log");
                }
                _ => {}
            }
        }
    }
}

impl RemoteTasks {
    async fn watch_host(
        &self,
        host: &HostId,
        seconds: u32,
        signals: &(dyn Fn(WatchSignal) + Send + Sync),
    ) -> Result<(), ApiError> {
        let run_timeout = Duration::from_secs(u64::from(seconds)) + WATCH_RUN_MARGIN;
        let mut request = tonic::Request::new(pb::RunRequest {
            host: host.as_str().to_string(),
            operation: "inventory.watch".to_string(),
            params_json: serde_json::json!({ "seconds": seconds }).to_string(),
            category: pb::Category::Watch as i32,
            timeout: prost_types::Duration::try_from(run_timeout).ok(),
            correlation_id: String::new(),
        });
        request.set_timeout(run_timeout + WATCH_CALL_MARGIN);
        if let Ok(context) = CallContext::background("inventory") {
            context.attach(&mut request);
        }
        let broke = |status: tonic::Status| {
            let error = ApiError::from_status(&status);
            ApiError {
                message: format!(
                    "inventory.watch on host {host}: remote-tasks: {}",
                    error.message
                ),
                ..error
            }
        };
        let mut stream = self
            .client
            .clone()
            .run(request)
            .await
            .map_err(broke)?
            .into_inner();
        loop {
            let Some(event) = stream.message().await.map_err(broke)? else {
                return Err(ApiError::new(
                    ErrorCode::Unavailable,
                    format!("remote-tasks ended the watch of host {host} without a result"),
                ));
            };
            match event.event {
                Some(pb::run_event::Event::Started(_)) => signals(WatchSignal::Started),
                Some(pb::run_event::Event::HostEvent(change)) => {
                    let vm = (!change.vm_id.is_empty()).then_some(change.vm_id);
                    signals(WatchSignal::Changed(vm));
                }
                Some(pb::run_event::Event::Result(result)) => {
                    return outcome_of_watch(host, result);
                }
                _ => {}
            }
        }
    }
}

fn outcome_of_watch(host: &HostId, result: pb::Result) -> Result<(), ApiError> {
    if result.ok {
        return Ok(());
    }
    Err(task_failure(host, "inventory.watch", result.error))
}

/// A failed run's error as an [`ApiError`] (its code, message and agent code).
fn task_failure(host: &HostId, operation: &str, error: Option<pb::TaskError>) -> ApiError {
    let Some(task) = error else {
        return ApiError::new(
            ErrorCode::Internal,
            format!("{operation} on host {host} failed without an error"),
        );
    };
    let code = aetherv_proto::common::v1::ErrorCode::try_from(task.code)
        .ok()
        .and_then(ErrorCode::from_proto)
        .unwrap_or(ErrorCode::Internal);
    ApiError::new(code, task.message).with_agent_code(task.agent_code)
}

fn refused_or_failed(host: &HostId, status: &tonic::Status) -> CollectError {
    let error = ApiError::from_status(status);
    if status.code() == Code::ResourceExhausted {
        return CollectError::Refused(error);
    }
    let message = if status.code() == Code::DeadlineExceeded {
        format!("inventory.collect on host {host} did not finish in time")
    } else {
        format!("remote-tasks: {}", error.message)
    };
    CollectError::Failed(ApiError { message, ..error })
}

fn outcome(host: &HostId, result: pb::Result) -> Result<InventoryCollectResult, CollectError> {
    if result.ok {
        return serde_json::from_str(&result.data_json).map_err(|error| {
            CollectError::Failed(ApiError::new(
                ErrorCode::Internal,
                format!(
                    "inventory.collect on host {host} returned data inventory cannot read: {error}"
                ),
            ))
        });
    }
    Err(CollectError::Failed(task_failure(
        host,
        "inventory.collect",
        result.error,
    )))
}

impl Collector for RemoteTasks {
    fn list_hosts(&self) -> BoxFuture<'_, Result<Vec<HostId>, ApiError>> {
        Box::pin(async move {
            let mut request = tonic::Request::new(pb::ListHostsRequest {});
            request.set_timeout(self.request_timeout);
            if let Ok(context) = CallContext::background("inventory") {
                context.attach(&mut request);
            }
            let response = self
                .client
                .clone()
                .list_hosts(request)
                .await
                .map_err(|status| ApiError::from_status(&status))?
                .into_inner();
            let mut hosts = Vec::with_capacity(response.hosts.len());
            for configured in response.hosts {
                match HostId::parse(&configured.host) {
                    Ok(host) => hosts.push(host),
                    Err(error) => {
                        tracing::warn!(%error, "remote-tasks listed a host id inventory cannot use; skipped");
                    }
                }
            }
            Ok(hosts)
        })
    }

    fn collect<'a>(
        &'a self,
        host: &'a HostId,
        context: &'a CallContext,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<InventoryCollectResult, CollectError>> {
        Box::pin(self.collect_host(host, context, timeout))
    }

    fn watch<'a>(
        &'a self,
        host: &'a HostId,
        seconds: u32,
        signals: &'a (dyn Fn(WatchSignal) + Send + Sync),
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(self.watch_host(host, seconds, signals))
    }
}
