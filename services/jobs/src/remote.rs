//! The [`Executor`] over remote-tasks' gRPC API: a step is one `Run` (its events become
//! the step's output, progress and task id), a cancel is remote-tasks' `Cancel` of that
//! task (it answers once the command is stopped on the host, and the run then ends with
//! its CANCELLED result). Also the host's resource catalogue (`host.resources`, category
//! inventory) for the pre-checks, and `ListHosts` for readiness. Jobs never talk to a
//! host itself.

use std::time::Duration;

use aetherv_hyperv::{HostId, ResourceCatalogue};
use aetherv_proto::common::v1 as common;
use aetherv_proto::remotetasks::v1 as pb;
use aetherv_proto::remotetasks::v1::remote_tasks_client::RemoteTasksClient;
use aetherv_runtime::{ApiError, CallContext, Caller, ClientConfig, ErrorCode, TraceContext};
use futures::future::BoxFuture;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tonic::codec::CompressionEncoding;
use tonic::transport::Channel;

use crate::SERVICE_NAME;
use crate::domain::model::Level;
use crate::domain::plan::Category;
use crate::engine::ports::{Executor, RunError, RunEvent, RunRequest};

/// Time allowed beyond a run's timeout for queueing in remote-tasks and the way back.
pub const QUEUE_ALLOWANCE: Duration = Duration::from_secs(600);

/// remote-tasks as the jobs service uses it.
#[derive(Debug, Clone)]
pub struct RemoteTasks {
    client: RemoteTasksClient<Channel>,
    request_timeout: Duration,
}

/// The context of a call made for `requester` (or for the service itself).
pub fn context_for(requester: Option<&str>) -> CallContext {
    let caller = requester
        .and_then(|text| Caller::parse(text).ok())
        .or_else(|| Caller::service(SERVICE_NAME.trim_start_matches("aetherv-")).ok());
    CallContext {
        caller,
        trace: TraceContext::new_root(),
    }
}

fn level(value: i32) -> Level {
    match common::LogLevel::try_from(value) {
        Ok(common::LogLevel::Debug) => Level::Debug,
        Ok(common::LogLevel::Warning) => Level::Warning,
        Ok(common::LogLevel::Error) => Level::Error,
        _ => Level::Info,
    }
}

/// The error of a failed result.
fn task_error(host: &HostId, operation: &str, error: Option<pb::TaskError>) -> ApiError {
    let Some(task) = error else {
        return ApiError::new(
            ErrorCode::Internal,
            format!("{operation} on host {host} failed without an error"),
        );
    };
    let code = common::ErrorCode::try_from(task.code)
        .ok()
        .and_then(ErrorCode::from_proto)
        .unwrap_or(ErrorCode::Internal);
    let mut error = ApiError::new(code, task.message).with_agent_code(task.agent_code);
    if !task.details_json.is_empty() {
        error = error.with_metadata("details", task.details_json);
    }
    error.with_metadata("host", host.as_str())
}

impl RemoteTasks {
    /// A client of `config.endpoint` (connects on first use).
    pub fn new(config: &ClientConfig) -> Result<RemoteTasks, aetherv_runtime::client::Error> {
        let channel = aetherv_runtime::connect_lazy(config)?;
        Ok(RemoteTasks {
            client: RemoteTasksClient::new(channel)
                .max_decoding_message_size(64 << 20)
                .accept_compressed(CompressionEncoding::Gzip),
            request_timeout: config.request_timeout,
        })
    }

    /// Answers when remote-tasks answers `ListHosts`.
    pub async fn ping(&self) -> Result<(), ApiError> {
        let mut request = tonic::Request::new(pb::ListHostsRequest {});
        request.set_timeout(self.request_timeout);
        context_for(None).attach(&mut request);
        self.client
            .clone()
            .list_hosts(request)
            .await
            .map(|_| ())
            .map_err(|status| ApiError::from_status(&status))
    }

    /// The host's resource catalogue (`host.resources`, category inventory).
    pub async fn catalogue(&self, host: &HostId) -> Result<ResourceCatalogue, ApiError> {
        let request = RunRequest {
            host: host.clone(),
            operation: aetherv_hyperv::Operation::HostResources,
            category: Category::Control,
            params: aetherv_runtime::Secret::new(Value::Object(Default::default())),
            correlation_id: String::new(),
            timeout: self.request_timeout,
            requester: None,
        };
        let data = self
            .run_with(
                request,
                pb::Category::Inventory,
                &|_| {},
                CancellationToken::new(),
            )
            .await
            .map_err(|(RunError::Refused(error) | RunError::Failed(error))| error)?;
        serde_json::from_value(data).map_err(|_| {
            ApiError::new(
                ErrorCode::Internal,
                format!("host.resources of host {host} returned a catalogue jobs cannot read"),
            )
        })
    }

    async fn run_with(
        &self,
        request: RunRequest,
        category: pb::Category,
        events: &(dyn Fn(RunEvent) + Send + Sync),
        cancel: CancellationToken,
    ) -> Result<Value, RunError> {
        let host = request.host.clone();
        let operation = request.operation.as_str();
        let mut call = tonic::Request::new(pb::RunRequest {
            host: host.to_string(),
            operation: operation.to_owned(),
            params_json: request.params.expose().to_string(),
            category: category as i32,
            timeout: prost_types::Duration::try_from(request.timeout).ok(),
            correlation_id: request.correlation_id.clone(),
        });
        call.set_timeout(request.timeout + QUEUE_ALLOWANCE);
        context_for(request.requester.as_deref()).attach(&mut call);
        let mut client = self.client.clone();
        let mut stream = tokio::select! {
            biased;
            () = cancel.cancelled() => {
                return Err(RunError::Refused(ApiError::new(ErrorCode::Cancelled, format!("{operation} on host {host} was cancelled before remote-tasks accepted it"))));
            }
            started = client.run(call) => match started {
                Ok(response) => response.into_inner(),
                Err(status) => return Err(RunError::Refused(refused(&host, operation, &status))),
            },
        };
        let mut task_id: Option<String> = None;
        let mut cancel_sent = false;
        loop {
            let message = tokio::select! {
                biased;
                () = cancel.cancelled(), if !cancel_sent => {
                    let Some(task) = task_id.clone() else {
                        return Err(RunError::Refused(ApiError::new(ErrorCode::Cancelled, format!("{operation} on host {host} was cancelled before remote-tasks accepted it"))));
                    };
                    cancel_sent = true;
                    self.cancel(&task).await;
                    continue;
                }
                message = stream.message() => message,
            };
            let event = match message {
                Ok(Some(event)) => event,
                Ok(None) => {
                    return Err(RunError::Failed(ApiError::new(
                        ErrorCode::Unavailable,
                        format!("remote-tasks ended {operation} on host {host} without a result"),
                    )));
                }
                Err(status) if task_id.is_none() => {
                    return Err(RunError::Refused(refused(&host, operation, &status)));
                }
                Err(status) => {
                    let error = ApiError::from_status(&status);
                    return Err(RunError::Failed(ApiError::new(
                        error.code,
                        format!(
                            "remote-tasks stream of {operation} on host {host} broke: {}",
                            error.message
                        ),
                    )));
                }
            };
            match event.event {
                Some(pb::run_event::Event::Accepted(_)) => {
                    task_id = Some(event.task_id.clone());
                    events(RunEvent::Accepted {
                        task_id: event.task_id,
                    });
                }
                Some(pb::run_event::Event::Started(_)) => events(RunEvent::Started),
                Some(pb::run_event::Event::Log(log)) => events(RunEvent::Log {
                    level: level(log.level),
                    message: log.message,
                }),
                Some(pb::run_event::Event::Progress(progress)) => events(RunEvent::Progress {
                    step: progress.step,
                    percent: progress.percent,
                    message: progress.message,
                }),
                // Only inventory.watch writes host events; jobs never runs it.
                Some(pb::run_event::Event::HostEvent(_)) => {}
                Some(pb::run_event::Event::Result(result)) => {
                    if !result.ok {
                        return Err(RunError::Failed(task_error(&host, operation, result.error)));
                    }
                    return serde_json::from_str(&result.data_json).map_err(|_| {
                        RunError::Failed(ApiError::new(
                            ErrorCode::Internal,
                            format!("{operation} on host {host} returned data that is not json"),
                        ))
                    });
                }
                None => {}
            }
        }
    }

    /// Asks remote-tasks to stop a task (it answers once the command is stopped).
    async fn cancel(&self, task_id: &str) {
        let mut request = tonic::Request::new(pb::CancelRequest {
            task_id: task_id.to_owned(),
        });
        request.set_timeout(Duration::from_secs(90));
        context_for(None).attach(&mut request);
        if let Err(status) = self.client.clone().cancel(request).await {
            tracing::warn!(task = task_id, code = ?status.code(), message = status.message(), "remote-tasks did not cancel a task");
        }
    }
}

fn refused(host: &HostId, operation: &str, status: &tonic::Status) -> ApiError {
    let error = ApiError::from_status(status);
    ApiError {
        message: format!(
            "remote-tasks refused {operation} on host {host}: {}",
            error.message
        ),
        ..error
    }
}

impl Executor for RemoteTasks {
    fn run<'a>(
        &'a self,
        request: RunRequest,
        events: &'a (dyn Fn(RunEvent) + Send + Sync),
        cancel: CancellationToken,
    ) -> BoxFuture<'a, Result<Value, RunError>> {
        let category = match request.category {
            Category::Control => pb::Category::Control,
            Category::Io => pb::Category::Io,
        };
        Box::pin(self.run_with(request, category, events, cancel))
    }
}
