//! `/api/v1/vms`, `/api/v1/hosts/{host}/vms` and `/api/v1/vms/{id}`: filters and sort
//! passed to inventory's `ListVms`, pages through the gateway's tokens ([`crate::paging`]:
//! offset, next and previous), and `all=true`, which streams every matching VM in one
//! response by paging through inventory 1,000 at a time (gzip-compressed by the
//! compression layer when the client accepts it) without holding the list in memory.
//! Inventory's replies are written out as JSON straight from their protobuf bytes
//! ([`crate::model::wire`]), never decoded into prost messages.

use aetherv_proto::common::v1 as common;
use aetherv_proto::inventory::v1 as pb;
use axum::Json;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::Stream;
use http::{HeaderValue, header};
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::app::{AppState, RequestContext};
use crate::error::{Dependency, FieldNames, HttpError};
use crate::model::VM_STATES;
use crate::model::wire::{VmPageView, VmView};
use crate::paging::{Paging, fingerprint};
use crate::query::{Params, check_name, check_vm_id};
use crate::upstream::{GET_VM, LIST_VMS, Upstream};
use aetherv_runtime::CallContext;

/// The sort keys, as the API names them.
const SORTS: [(&str, pb::VmSortField); 10] = [
    ("name", pb::VmSortField::Name),
    ("host", pb::VmSortField::Host),
    ("cluster", pb::VmSortField::Cluster),
    ("state", pb::VmSortField::State),
    ("cpu_count", pb::VmSortField::CpuCount),
    ("memory_assigned", pb::VmSortField::MemoryAssigned),
    ("memory_startup", pb::VmSortField::MemoryStartup),
    ("creation_time", pb::VmSortField::CreationTime),
    ("uptime", pb::VmSortField::Uptime),
    ("primary_ip", pb::VmSortField::PrimaryIp),
];

const ORDERS: [(&str, common::SortDirection); 2] = [
    ("asc", common::SortDirection::Ascending),
    ("desc", common::SortDirection::Descending),
];

/// ListVms's field paths, as REST parameters.
const LIST_FIELDS: FieldNames = &[
    ("host", "host"),
    ("cluster", "cluster"),
    ("states", "state"),
    ("name_contains", "q"),
    ("sort_field", "sort"),
    ("sort_direction", "order"),
    ("page.page_size", "page_size"),
    ("page.page_token", "page_token"),
    ("page_size", "page_size"),
    ("page_token", "page_token"),
];

/// Page size of the requests behind `all=true`.
const ALL_PAGE_SIZE: u32 = 1000;

/// The query of a VM list, validated.
struct VmQuery {
    request: pb::ListVmsRequest,
    all: bool,
    paging: Paging,
    page_size: u32,
}

fn vm_query(params: &Params, host: Option<String>) -> Result<VmQuery, HttpError> {
    let host = match host {
        Some(host) => host,
        None => params.name("host", &[])?.unwrap_or_default(),
    };
    let all = params.boolean("all")?.unwrap_or(false);
    if all {
        for conflicting in ["page_size", "page_token"] {
            if params.has(conflicting) {
                return Err(HttpError::bad_parameter(
                    conflicting,
                    "cannot be combined with all=true",
                ));
            }
        }
    }
    let page_size = params.integer("page_size", 1, 1000)?.unwrap_or(100);
    let page_token = params.text("page_token", 4096)?;
    let mut request = pb::ListVmsRequest {
        host,
        cluster: params.name("cluster", &["-"])?.unwrap_or_default(),
        states: params
            .choices("state", &VM_STATES)?
            .into_iter()
            .map(|state| state as i32)
            .collect(),
        name_contains: params.text("q", 256)?.unwrap_or("").to_string(),
        sort_field: params
            .choice("sort", &SORTS)?
            .unwrap_or(pb::VmSortField::Name) as i32,
        sort_direction: params
            .choice("order", &ORDERS)?
            .unwrap_or(common::SortDirection::Ascending) as i32,
        page: None,
    };
    let paging = Paging::parse(
        "page_token",
        page_token,
        fingerprint(&format!("vms:{request:?}")),
    )?;
    request.page = Some(common::PageRequest {
        page_size: if all { ALL_PAGE_SIZE } else { page_size },
        page_token: String::new(),
    });
    Ok(VmQuery {
        request,
        all,
        paging,
        page_size,
    })
}

/// A page of VMs.
#[derive(Debug, Serialize)]
struct VmPageJson<'a> {
    revision: u64,
    total_size: u64,
    offset: u64,
    next_page_token: Option<String>,
    prev_page_token: Option<String>,
    vms: Vec<VmView<'a>>,
}

/// One page of `request` of `size` VMs from `token`, as inventory's reply bytes (read
/// with [`VmPageView`]).
async fn page(
    upstream: &Upstream,
    context: &CallContext,
    request: &pb::ListVmsRequest,
    size: u32,
    token: String,
) -> Result<Bytes, HttpError> {
    let mut request = request.clone();
    request.page = Some(common::PageRequest {
        page_size: size,
        page_token: token,
    });
    upstream
        .call_raw(context, LIST_VMS, request, LIST_FIELDS)
        .await
}

fn read_page<'a>(upstream: &Upstream, bytes: &'a [u8]) -> Result<VmPageView<'a>, HttpError> {
    VmPageView::read(bytes).map_err(|error| upstream.bad_reply(&error))
}

async fn list(
    upstream: &Upstream,
    context: &RequestContext,
    query: VmQuery,
) -> Result<Response, HttpError> {
    let call = &context.call;
    if !query.all {
        let VmQuery {
            request,
            mut paging,
            page_size,
            ..
        } = query;
        let start = paging
            .start(u64::from(page_size), |token, count| {
                let request = request.clone();
                async move {
                    let size = u32::try_from(count).unwrap_or(ALL_PAGE_SIZE);
                    let read = page(upstream, call, &request, size, token).await?;
                    let next = read_page(upstream, &read)?.next_page_token;
                    Ok((!next.is_empty()).then(|| next.to_string()))
                }
            })
            .await?;
        let found = start.is_some();
        let read = match start {
            Some(token) => page(upstream, call, &request, page_size, token).await?,
            // The list ended before this page's offset: an empty page (with its total).
            None => page(upstream, call, &request, 1, String::new()).await?,
        };
        let mut view = read_page(upstream, &read)?;
        if !found {
            view.vms.clear();
            view.next_page_token = "";
        }
        let vms = view
            .vms
            .iter()
            .map(|vm| VmView::read(vm))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| upstream.bad_reply(&error))?;
        let (next_page_token, prev_page_token) =
            paging.links(u64::from(page_size), vms.len(), Some(view.next_page_token));
        let body = VmPageJson {
            revision: view.revision,
            total_size: view.total_size,
            offset: paging.offset,
            next_page_token,
            prev_page_token,
            vms,
        };
        return Ok(Json(body).into_response());
    }
    let first = upstream
        .call_raw(call, LIST_VMS, query.request.clone(), LIST_FIELDS)
        .await?;
    read_page(upstream, &first)?;
    let mut response = Response::new(Body::from_stream(all_pages(
        upstream.clone(),
        call.clone(),
        query.request,
        first,
    )));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// The chunks of an `all=true` body: the head with the first page, each further page, the
/// tail. Two tasks overlap the work: one asks inventory for the next page as soon as the
/// previous one arrived (its token is read from the reply's head), the other serializes
/// the pages and hands them to the socket, each through a bounded channel of two; both stop
/// when the client goes away. A failing page ends the body early (the client sees
/// truncated JSON and the log says why): the status was sent with the first page.
fn all_pages(
    upstream: Upstream,
    context: CallContext,
    request: pb::ListVmsRequest,
    first: Bytes,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let (pages, mut fetched) = mpsc::channel::<Result<Bytes, HttpError>>(2);
    tokio::spawn(fetch_pages(
        upstream,
        context,
        request,
        first.clone(),
        pages,
    ));
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(2);
    tokio::spawn(async move {
        let mut page = first;
        let mut head = true;
        let mut written = false;
        loop {
            let (chunk, next) = match serialize_page(&page, head, &mut written) {
                Ok(done) => done,
                Err(error) => {
                    tracing::warn!(%error, "the vm list stream ended early");
                    let _ = tx.send(Err(error)).await;
                    return;
                }
            };
            head = false;
            if next.is_none() {
                if tx.send(Ok(chunk)).await.is_ok() {
                    let _ = tx.send(Ok(Bytes::from_static(b"]}"))).await;
                }
                return;
            }
            if tx.send(Ok(chunk)).await.is_err() {
                return;
            }
            let error = match fetched.recv().await {
                Some(Ok(next_page)) => {
                    page = next_page;
                    continue;
                }
                Some(Err(error)) => std::io::Error::other(error),
                None => std::io::Error::other("the page fetcher stopped"),
            };
            tracing::warn!(%error, "the vm list stream ended early");
            let _ = tx.send(Err(error)).await;
            return;
        }
    });
    ReceiverStream::new(rx)
}

/// Fetches the pages after `page` into `pages`, each as soon as the one before it arrived,
/// until the last page, an error, or the reader going away.
async fn fetch_pages(
    upstream: Upstream,
    context: CallContext,
    mut request: pb::ListVmsRequest,
    mut page: Bytes,
    pages: mpsc::Sender<Result<Bytes, HttpError>>,
) {
    loop {
        let next = match VmPageView::read(&page) {
            Ok(view) => view.next_page_token.to_string(),
            Err(error) => {
                let _ = pages.send(Err(upstream.bad_reply(&error))).await;
                return;
            }
        };
        if next.is_empty() {
            return;
        }
        if let Some(request_page) = request.page.as_mut() {
            request_page.page_token = next;
        }
        let reply = upstream
            .call_raw(&context, LIST_VMS, request.clone(), LIST_FIELDS)
            .await;
        let Ok(bytes) = reply else {
            let _ = pages.send(reply).await;
            return;
        };
        if pages.send(Ok(bytes.clone())).await.is_err() {
            return;
        }
        page = bytes;
    }
}

/// One page (inventory's reply bytes) as JSON text: the head first (revision, total),
/// then the VMs comma-separated; and the token of the next page, if there is one.
fn serialize_page(
    page: &[u8],
    head: bool,
    written: &mut bool,
) -> Result<(Bytes, Option<String>), std::io::Error> {
    let view = VmPageView::read(page).map_err(std::io::Error::other)?;
    // JSON is a little larger than the protobuf it comes from.
    let mut chunk = Vec::with_capacity(page.len() * 2 + 256);
    if head {
        chunk.extend_from_slice(
            format!(
                "{{\"revision\":{},\"total_size\":{},\"offset\":0,\"next_page_token\":null,\"prev_page_token\":null,\"vms\":[",
                view.revision, view.total_size
            )
            .as_bytes(),
        );
    }
    for vm in &view.vms {
        let vm = VmView::read(vm).map_err(std::io::Error::other)?;
        if *written {
            chunk.push(b',');
        }
        serde_json::to_writer(&mut chunk, &vm).map_err(std::io::Error::other)?;
        *written = true;
    }
    let next = (!view.next_page_token.is_empty()).then(|| view.next_page_token.to_string());
    Ok((Bytes::from(chunk), next))
}

/// `GET /api/v1/vms`.
pub async fn list_vms(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    RawQuery(query): RawQuery,
) -> Result<Response, HttpError> {
    let params = Params::parse(
        query.as_deref(),
        &[
            "host",
            "cluster",
            "state",
            "q",
            "sort",
            "order",
            "page_size",
            "page_token",
            "all",
        ],
    )?;
    let query = vm_query(&params, None)?;
    let upstream = state.upstreams.require(Dependency::Inventory)?;
    list(upstream, &context, query).await
}

/// `GET /api/v1/hosts/{host}/vms`: 404 for an unknown host.
pub async fn list_host_vms(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, HttpError> {
    let host = check_name("host", &super::path_param("host", path)?)?;
    let params = Params::parse(
        query.as_deref(),
        &[
            "cluster",
            "state",
            "q",
            "sort",
            "order",
            "page_size",
            "page_token",
            "all",
        ],
    )?;
    let query = vm_query(&params, Some(host.clone()))?;
    let upstream = state.upstreams.require(Dependency::Inventory)?;
    upstream
        .call(
            upstream
                .inventory(&context.call)
                .get_host(upstream.request(pb::GetHostRequest { host })),
            &[("host", "host")],
        )
        .await?;
    list(upstream, &context, query).await
}

/// `GET /api/v1/vms/{id}`.
pub async fn get_vm(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, HttpError> {
    let id = check_vm_id("id", &super::path_param("id", path)?)?;
    Params::parse(query.as_deref(), &[])?;
    let upstream = state.upstreams.require(Dependency::Inventory)?;
    let reply = upstream
        .call_raw(
            &context.call,
            GET_VM,
            pb::GetVmRequest { vm_id: id },
            &[("vm_id", "id")],
        )
        .await?;
    let vm = VmView::read(&reply).map_err(|error| upstream.bad_reply(&error))?;
    Ok(Json(vm).into_response())
}
