//! `aetherv.jobs.v1.Jobs`: each handler checks its request, asks the engine or the store,
//! and converts the answer.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use aetherv_proto::jobs::v1 as pb;
use aetherv_proto::jobs::v1::jobs_server::Jobs;
use aetherv_runtime::{CallContext, DrainSignal};
use tokio::sync::{Semaphore, mpsc};
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::task::TaskTracker;
use tonic::{Request, Response, Status};

use super::{convert, request, watch};
use crate::domain::store::not_found;
use crate::engine::{Engine, Submission};

/// The service's handles.
#[derive(Clone)]
pub struct JobsService {
    engine: Engine,
    heartbeat: Duration,
    drain: DrainSignal,
    watchers: Arc<Semaphore>,
    max_watchers: usize,
    streams: TaskTracker,
}

impl JobsService {
    /// A service over `engine`; at most `max_watchers` Watch streams, each fed by a task
    /// tracked in `streams`.
    pub fn new(
        engine: Engine,
        heartbeat: Duration,
        max_watchers: usize,
        drain: DrainSignal,
        streams: TaskTracker,
    ) -> JobsService {
        JobsService {
            engine,
            heartbeat,
            drain,
            watchers: Arc::new(Semaphore::new(max_watchers.max(1))),
            max_watchers: max_watchers.max(1),
            streams,
        }
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::JobEvent, Status>> + Send>>;

#[tonic::async_trait]
impl Jobs for JobsService {
    async fn submit(
        &self,
        request: Request<pb::SubmitRequest>,
    ) -> Result<Response<pb::SubmitResponse>, Status> {
        let requester = CallContext::from_request(&request)
            .caller
            .map_or_else(String::new, |caller| caller.to_string());
        let message = request.into_inner();
        let checked = request::submit(&message)?;
        let job = self
            .engine
            .submit(Submission {
                job_type: checked.job_type,
                spec_json: message.spec_json,
                request_id: checked.request_id,
                requester,
            })
            .await?;
        Ok(Response::new(pb::SubmitResponse {
            job_id: job.id.to_string(),
            job: Some(convert::job(&job)),
        }))
    }

    async fn get(&self, request: Request<pb::GetJobRequest>) -> Result<Response<pb::Job>, Status> {
        let message = request.into_inner();
        let id = request::job_id(&message.job_id)?;
        let job = self
            .engine
            .store()
            .get(&id, message.include_output)
            .ok_or_else(|| not_found(&id))?;
        Ok(Response::new(convert::job(&job)))
    }

    async fn list(
        &self,
        request: Request<pb::ListJobsRequest>,
    ) -> Result<Response<pb::ListJobsResponse>, Status> {
        let checked = request::list(request.get_ref())?;
        let page = self
            .engine
            .store()
            .list(&checked.filter, checked.before, checked.size);
        Ok(Response::new(pb::ListJobsResponse {
            jobs: page.jobs.iter().map(convert::job).collect(),
            page: Some(request::page_response(
                &checked.filter,
                page.next_before,
                page.total,
            )),
        }))
    }

    async fn cancel(
        &self,
        request: Request<pb::CancelJobRequest>,
    ) -> Result<Response<pb::Job>, Status> {
        let id = request::job_id(&request.get_ref().job_id)?;
        let job = self.engine.cancel(&id).await?;
        Ok(Response::new(convert::job(&job)))
    }

    async fn retry(
        &self,
        request: Request<pb::RetryJobRequest>,
    ) -> Result<Response<pb::Job>, Status> {
        let id = request::job_id(&request.get_ref().job_id)?;
        let job = self.engine.retry(&id)?;
        Ok(Response::new(convert::job(&job)))
    }

    type WatchStream = EventStream;

    async fn watch(
        &self,
        request: Request<pb::WatchJobsRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let message = request.into_inner();
        let job = match message.job_id.as_str() {
            "" => None,
            text => Some(request::job_id(text)?),
        };
        let permit = self
            .watchers
            .clone()
            .try_acquire_owned()
            .map_err(|_| watch::too_many(self.max_watchers))?;
        let store = self.engine.store().clone();
        let subscription = store.subscribe(
            message.from_event_id,
            job.as_ref(),
            message.include_output,
            None,
        )?;
        let (sender, receiver) = mpsc::channel(watch::STREAM_BUFFER);
        self.streams.spawn(watch::feed(
            store,
            watch::Watch {
                job,
                include_output: message.include_output,
            },
            subscription,
            sender,
            self.heartbeat,
            self.drain.clone(),
            permit,
        ));
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }
}
