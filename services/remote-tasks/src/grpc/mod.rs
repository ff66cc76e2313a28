//! `aetherv.remotetasks.v1.RemoteTasks` over the domain's [`Tasks`]: converts requests
//! (edge validation in [`request`]), calls the domain, converts answers ([`convert`]).
//! With an invalid configuration every call answers FAILED_PRECONDITION with the reasons.

pub mod convert;
pub mod request;

use std::pin::Pin;
use std::time::Duration;

use aetherv_proto::remotetasks::v1 as pb;
use aetherv_proto::remotetasks::v1::remote_tasks_server::RemoteTasks;
use aetherv_runtime::{ApiError, ErrorCode};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status};

use crate::domain::Tasks;

/// How long Cancel waits for a running task to be stopped on its host.
pub const CANCEL_WAIT: Duration = Duration::from_secs(60);

/// The service: ready with its tasks, or refusing with the configuration's problems.
#[derive(Debug, Clone)]
pub enum RemoteTasksService {
    /// Configuration valid.
    Ready(Tasks),
    /// Configuration invalid: the reasons, one line each.
    Misconfigured(Vec<String>),
}

type RunStream = Pin<Box<dyn Stream<Item = Result<pb::RunEvent, Status>> + Send>>;

impl RemoteTasksService {
    fn tasks(&self) -> Result<&Tasks, Status> {
        match self {
            RemoteTasksService::Ready(tasks) => Ok(tasks),
            RemoteTasksService::Misconfigured(reasons) => Err(misconfigured(reasons).into()),
        }
    }
}

/// FAILED_PRECONDITION naming every configuration problem.
fn misconfigured(reasons: &[String]) -> ApiError {
    let error = ApiError::new(
        ErrorCode::FailedPrecondition,
        format!(
            "remote-tasks cannot run tasks: its configuration is invalid: {}",
            reasons.join("; ")
        ),
    );
    reasons
        .iter()
        .enumerate()
        .fold(error, |error, (index, reason)| {
            error.with_metadata(format!("reason_{}", index + 1), reason.clone())
        })
}

#[tonic::async_trait]
impl RemoteTasks for RemoteTasksService {
    type RunStream = RunStream;

    async fn run(&self, request: Request<pb::RunRequest>) -> Result<Response<RunStream>, Status> {
        let tasks = self.tasks()?;
        let deadline = request::deadline(request.metadata());
        let input = request::run_input(request.into_inner(), deadline)?;
        let events = tasks
            .submit(input)
            .map_err(|error| convert::submit_error(&error))?;
        // Dropping this stream (the client went away) closes the channel: the task's runner
        // notices and cancels it.
        let stream = ReceiverStream::new(events).map(|event| Ok(convert::event(event)));
        Ok(Response::new(Box::pin(stream)))
    }

    async fn cancel(
        &self,
        request: Request<pb::CancelRequest>,
    ) -> Result<Response<pb::CancelResponse>, Status> {
        let tasks = self.tasks()?;
        let id = request::task_id(&request.into_inner().task_id)?;
        let outcome = tasks
            .cancel(&id, CANCEL_WAIT)
            .await
            .map_err(|error| convert::cancel_error(&error))?;
        Ok(Response::new(convert::cancel_outcome(outcome)))
    }

    async fn metrics(
        &self,
        _request: Request<pb::MetricsRequest>,
    ) -> Result<Response<pb::MetricsResponse>, Status> {
        let tasks = self.tasks()?;
        Ok(Response::new(convert::metrics(tasks.snapshot())))
    }

    async fn list_hosts(
        &self,
        _request: Request<pb::ListHostsRequest>,
    ) -> Result<Response<pb::ListHostsResponse>, Status> {
        let tasks = self.tasks()?;
        Ok(Response::new(convert::hosts(tasks.hosts())))
    }
}
