//! The services behind the gateway: one lazily connecting channel per configured service
//! (the runtime's `connect_lazy`, so the gateway starts while they are still coming up),
//! typed clients that carry the request's caller and trace context, and the one helper every
//! unary call goes through: bounded by the service's `request_timeout` (a 504 when it
//! passes), with errors mapped by [`HttpError::from_status`]. [`Upstream::call_raw`] is the
//! same for calls whose reply the gateway writes out without decoding it into prost
//! messages first (VM lists, see [`crate::model::wire`]).

use std::future::Future;
use std::marker::PhantomData;
use std::time::Duration;

use aetherv_proto::inventory::v1::inventory_client::InventoryClient;
use aetherv_proto::jobs::v1::jobs_client::JobsClient;
use aetherv_proto::notifications::v1::notifications_client::NotificationsClient;
use aetherv_proto::remotetasks::v1::remote_tasks_client::RemoteTasksClient;
use aetherv_runtime::{CallContext, ClientConfig, ContextInterceptor};
use bytes::{Buf, Bytes};
use tonic::codec::{Codec, DecodeBuf, Decoder};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic_prost::ProstEncoder;
use tonic_prost::prost::Message;

use crate::config::Config;
use crate::error::{Dependency, FieldNames, HttpError};

/// A client whose calls carry a [`CallContext`].
pub type Traced = InterceptedService<Channel, ContextInterceptor>;

/// One configured service.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// Which service.
    pub dependency: Dependency,
    /// Its configured address.
    pub endpoint: String,
    channel: Channel,
    request_timeout: Duration,
}

impl Upstream {
    fn connect(dependency: Dependency, config: &ClientConfig) -> Option<Upstream> {
        if config.endpoint.trim().is_empty() {
            return None;
        }
        // A malformed endpoint is reported by `Config::diagnostics`; the service then
        // counts as not configured.
        let channel = aetherv_runtime::connect_lazy(config).ok()?;
        Some(Upstream {
            dependency,
            endpoint: config.endpoint.trim().to_string(),
            channel,
            request_timeout: config.request_timeout,
        })
    }

    /// The raw channel (health checks, diagnostics).
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// The configured per-call timeout.
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// An inventory client for one request.
    pub fn inventory(&self, context: &CallContext) -> InventoryClient<Traced> {
        InventoryClient::with_interceptor(self.channel.clone(), context.interceptor())
    }

    /// A remote-tasks client for one request.
    pub fn remote_tasks(&self, context: &CallContext) -> RemoteTasksClient<Traced> {
        RemoteTasksClient::with_interceptor(self.channel.clone(), context.interceptor())
    }

    /// A jobs client for one request.
    pub fn jobs(&self, context: &CallContext) -> JobsClient<Traced> {
        JobsClient::with_interceptor(self.channel.clone(), context.interceptor())
    }

    /// A notifications client for one request.
    pub fn notifications(&self, context: &CallContext) -> NotificationsClient<Traced> {
        NotificationsClient::with_interceptor(self.channel.clone(), context.interceptor())
    }

    /// A request carrying the call's deadline (`grpc-timeout`), so the service can stop.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(self.request_timeout);
        request
    }

    /// Runs one call bounded by the request timeout and maps its error. `fields` renames
    /// the request's proto field paths to REST parameters in a 400.
    pub async fn call<T, F>(&self, call: F, fields: FieldNames) -> Result<T, HttpError>
    where
        F: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        match tokio::time::timeout(self.request_timeout, call).await {
            Err(_) => Err(HttpError::timeout(self.dependency, self.request_timeout)),
            Ok(Err(status)) => Err(HttpError::from_status(self.dependency, &status, fields)),
            Ok(Ok(response)) => Ok(response.into_inner()),
        }
    }
}

/// A gRPC method: `/package.Service/Method`, and its service and method names.
#[derive(Debug, Clone, Copy)]
pub struct Method {
    /// `/package.Service/Method`.
    pub path: &'static str,
    /// `package.Service`.
    pub service: &'static str,
    /// `Method`.
    pub method: &'static str,
}

/// Inventory's `ListVms`.
pub const LIST_VMS: Method = Method {
    path: "/aetherv.inventory.v1.Inventory/ListVms",
    service: "aetherv.inventory.v1.Inventory",
    method: "ListVms",
};

/// Inventory's `GetVm`.
pub const GET_VM: Method = Method {
    path: "/aetherv.inventory.v1.Inventory/GetVm",
    service: "aetherv.inventory.v1.Inventory",
    method: "GetVm",
};

/// Sends a prost request and keeps the reply as the bytes that came (no decoding).
struct RawReply<T>(PhantomData<T>);

/// Hands a reply's bytes over as they are (no copy: a view of the receive buffer).
struct Undecoded;

impl Decoder for Undecoded {
    type Item = Bytes;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, tonic::Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

impl<T: Message + Send + 'static> Codec for RawReply<T> {
    type Encode = T;
    type Decode = Bytes;
    type Encoder = ProstEncoder<T>;
    type Decoder = Undecoded;

    fn encoder(&mut self) -> ProstEncoder<T> {
        ProstEncoder::default()
    }

    fn decoder(&mut self) -> Undecoded {
        Undecoded
    }
}

impl Upstream {
    /// Calls `method` with `message` like [`Upstream::call`] (deadline, context, error
    /// mapping) and answers the reply's protobuf bytes undecoded.
    pub async fn call_raw<T: Message + Send + 'static>(
        &self,
        context: &CallContext,
        method: Method,
        message: T,
        fields: FieldNames,
    ) -> Result<Bytes, HttpError> {
        let mut grpc = tonic::client::Grpc::new(InterceptedService::new(
            self.channel.clone(),
            context.interceptor(),
        ));
        let call = async {
            grpc.ready().await.map_err(|error| {
                tonic::Status::unknown(format!("Service was not ready: {error}"))
            })?;
            let mut request = self.request(message);
            request
                .extensions_mut()
                .insert(tonic::GrpcMethod::new(method.service, method.method));
            grpc.unary(
                request,
                http::uri::PathAndQuery::from_static(method.path),
                RawReply::<T>(PhantomData),
            )
            .await
        };
        self.call(call, fields).await
    }

    /// The error for a reply that is not the message it should be (as tonic's decoder
    /// reports one).
    pub fn bad_reply(&self, error: &crate::model::wire::WireError) -> HttpError {
        let status = tonic::Status::internal(format!("failed to decode Protobuf message: {error}"));
        HttpError::from_status(self.dependency, &status, &[])
    }
}

/// Every configured service.
#[derive(Debug, Clone)]
pub struct Upstreams {
    inventory: Option<Upstream>,
    remote_tasks: Option<Upstream>,
    jobs: Option<Upstream>,
    notifications: Option<Upstream>,
}

impl Upstreams {
    /// Channels to the services the configuration names.
    pub fn new(config: &Config) -> Upstreams {
        Upstreams {
            inventory: Upstream::connect(Dependency::Inventory, &config.inventory),
            remote_tasks: Upstream::connect(Dependency::RemoteTasks, &config.remote_tasks),
            jobs: Upstream::connect(Dependency::Jobs, &config.jobs),
            notifications: Upstream::connect(Dependency::Notifications, &config.notifications),
        }
    }

    /// One service, if configured.
    pub fn get(&self, dependency: Dependency) -> Option<&Upstream> {
        match dependency {
            Dependency::Inventory => self.inventory.as_ref(),
            Dependency::RemoteTasks => self.remote_tasks.as_ref(),
            Dependency::Jobs => self.jobs.as_ref(),
            Dependency::Notifications => self.notifications.as_ref(),
        }
    }

    /// One service, or 503 naming it when it is not configured.
    pub fn require(&self, dependency: Dependency) -> Result<&Upstream, HttpError> {
        self.get(dependency)
            .ok_or_else(|| HttpError::unavailable(dependency, "not configured"))
    }

    /// The configured services, in a fixed order.
    pub fn configured(&self) -> Vec<&Upstream> {
        [
            &self.inventory,
            &self.remote_tasks,
            &self.jobs,
            &self.notifications,
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}
