//! `aetherv.common.v1.Diagnostics`, registered on every server: the health status with
//! its reasons, the build and the start time.

use std::time::SystemTime;

use aetherv_proto::common::v1 as pb;
use aetherv_proto::common::v1::diagnostics_server::Diagnostics;
use tonic::{Request, Response, Status};

use crate::health::HealthHandle;

/// The diagnostics service of one server.
#[derive(Debug, Clone)]
pub(crate) struct DiagnosticsService {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) started_at: SystemTime,
    pub(crate) health: HealthHandle,
}

#[tonic::async_trait]
impl Diagnostics for DiagnosticsService {
    async fn get_status(
        &self,
        _request: Request<pb::GetStatusRequest>,
    ) -> Result<Response<pb::ServiceStatus>, Status> {
        let readiness = self.health.readiness();
        Ok(Response::new(pb::ServiceStatus {
            service: self.name.clone(),
            serving: readiness.serving,
            reasons: readiness.reasons,
            build: Some(pb::BuildInfo {
                version: self.version.clone(),
                git_commit: String::new(),
            }),
            started_at: Some(self.started_at.into()),
            since: Some(readiness.since.into()),
        }))
    }
}
