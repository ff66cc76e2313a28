//! The load: WebSocket clients following `jobs`, and a direct gRPC `Jobs/Watch` that
//! reads each event's creation time (nanoseconds) as the jobs service stamped it.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use aetherv_proto::jobs::v1 as pb;
use aetherv_proto::jobs::v1::job_event::Event as Kind;
use aetherv_proto::jobs::v1::jobs_client::JobsClient;
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio_tungstenite::tungstenite::Message;

use crate::measure::{Shared, now_micros};

#[derive(Deserialize)]
struct Frame {
    r#type: String,
    event_id: Option<u64>,
    kind: Option<String>,
    data: Option<FrameData>,
    reason: Option<String>,
}

#[derive(Deserialize)]
struct FrameData {
    state: Option<Value>,
}

fn terminal(state: &str) -> bool {
    matches!(state, "succeeded" | "failed" | "cancelled")
}

pub struct ClientEnd {
    pub finished_at: Option<Instant>,
    pub frames: u64,
    pub problem: Option<String>,
    /// Receipts of events whose creation time was not known yet: (slot, µs).
    pub pending: Vec<(usize, u64)>,
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next text frame; `Ok(None)` when nothing arrived within `limit`.
async fn next_text(socket: &mut Socket, limit: Duration) -> Result<Option<Frame>, String> {
    loop {
        let message = match tokio::time::timeout(limit, socket.next()).await {
            Err(_) => return Ok(None),
            Ok(None) => return Err("connection ended".into()),
            Ok(Some(Err(error))) => return Err(format!("websocket: {error}")),
            Ok(Some(Ok(message))) => message,
        };
        match message {
            Message::Text(text) => {
                return serde_json::from_str(text.as_str())
                    .map(Some)
                    .map_err(|error| format!("frame ({error}): {}", text.as_str()));
            }
            Message::Close(frame) => return Err(format!("closed by the server: {frame:?}")),
            _ => {}
        }
    }
}

/// Connects, subscribes to `jobs`, reports readiness after `synced`, then counts finished
/// jobs until it has seen them all, recording each event's delays.
pub async fn client(
    url: String,
    shared: Arc<Shared>,
    ready: mpsc::Sender<Result<(), String>>,
    deadline: Instant,
    permit: Option<OwnedSemaphorePermit>,
) -> ClientEnd {
    let mut end = ClientEnd {
        finished_at: None,
        frames: 0,
        problem: None,
        pending: Vec::new(),
    };
    let mut socket = match tokio_tungstenite::connect_async(url.as_str()).await {
        Ok((socket, _)) => socket,
        Err(error) => {
            let _ = ready.send(Err(format!("connect: {error}"))).await;
            return end;
        }
    };
    let subscribe = r#"{"type":"subscribe","topics":["jobs"]}"#;
    if let Err(error) = socket.send(Message::text(subscribe)).await {
        let _ = ready.send(Err(format!("subscribe: {error}"))).await;
        return end;
    }
    loop {
        match next_text(&mut socket, Duration::from_secs(60)).await {
            Ok(Some(frame)) if frame.r#type == "synced" => break,
            Ok(Some(frame)) if frame.r#type == "error" => {
                let _ = ready.send(Err("subscribe refused".into())).await;
                return end;
            }
            Ok(Some(_)) => {}
            Ok(None) => {
                let _ = ready.send(Err("no synced within 60 s".into())).await;
                return end;
            }
            Err(error) => {
                let _ = ready.send(Err(error)).await;
                return end;
            }
        }
    }
    let _ = ready.send(Ok(())).await;
    drop((ready, permit));
    let mut finished = 0usize;
    while finished < shared.expected.load(Ordering::Acquire) {
        let left = deadline.saturating_duration_since(Instant::now());
        let frame = match next_text(&mut socket, left.min(Duration::from_secs(1))).await {
            Ok(Some(frame)) => frame,
            Ok(None) if Instant::now() < deadline => continue,
            Ok(None) => {
                end.problem = Some(format!("timed out after {finished} finished jobs"));
                return end;
            }
            Err(error) => {
                end.problem = Some(format!("{error} after {finished} finished jobs"));
                return end;
            }
        };
        match frame.r#type.as_str() {
            "event" => {}
            "resync" | "topic_status" | "error" => {
                end.problem = Some(format!(
                    "{} ({}) after {finished} finished jobs",
                    frame.r#type,
                    frame.reason.unwrap_or_default()
                ));
                return end;
            }
            _ => continue,
        }
        let at = now_micros();
        end.frames += 1;
        let Some(slot) = frame.event_id.and_then(|id| shared.slot(id)) else {
            shared.outside.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        match shared.first[slot].compare_exchange(0, at, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => shared.spread.record(0),
            Err(first) => shared.spread.record(at.saturating_sub(first)),
        }
        match shared.created[slot].load(Ordering::Acquire) {
            0 => end.pending.push((slot, at)),
            created => shared.from_created.record(at.saturating_sub(created)),
        }
        let state = frame.data.and_then(|d| d.state);
        if frame.kind.as_deref() == Some("job_state_changed")
            && state.as_ref().and_then(Value::as_str).is_some_and(terminal)
        {
            finished += 1;
        }
    }
    end.finished_at = Some(Instant::now());
    let _ = socket.close(None).await;
    end
}

/// Follows every job event after `base` straight from the jobs service, storing each one's
/// creation time; returns when `expected` jobs have finished (an error after `deadline`).
pub async fn creation_times(
    jobs: String,
    shared: Arc<Shared>,
    ready: mpsc::Sender<Result<(), String>>,
    deadline: Instant,
) -> Result<Instant, String> {
    let mut client = JobsClient::connect(jobs)
        .await
        .map_err(|e| format!("jobs: {e}"))?;
    let request = pb::WatchJobsRequest {
        from_event_id: shared.base,
        ..pb::WatchJobsRequest::default()
    };
    let mut stream = client
        .watch(request)
        .await
        .map_err(|s| format!("Watch: {s:?}"))?
        .into_inner();
    let _ = ready.send(Ok(())).await;
    let mut finished = 0usize;
    while finished < shared.expected.load(Ordering::Acquire) {
        let event = match tokio::time::timeout(Duration::from_secs(1), stream.message()).await {
            Err(_) if Instant::now() < deadline => continue,
            Err(_) => return Err(format!("timed out after {finished} finished jobs")),
            Ok(Ok(Some(event))) => event,
            Ok(other) => return Err(format!("Watch ended: {other:?}")),
        };
        if let (Some(slot), Some(time)) = (shared.slot(event.event_id), event.time) {
            let micros =
                (time.seconds.max(0) as u64) * 1_000_000 + (time.nanos.max(0) as u64) / 1000;
            shared.created[slot].store(micros, Ordering::Release);
        }
        match event.event {
            Some(Kind::StateChanged(change))
                if [
                    pb::JobState::Succeeded,
                    pb::JobState::Failed,
                    pb::JobState::Cancelled,
                ]
                .map(|s| s as i32)
                .contains(&change.state) =>
            {
                finished += 1;
            }
            Some(Kind::Resync(_)) => return Err("Watch answered resync".into()),
            _ => {}
        }
    }
    Ok(Instant::now())
}

/// The jobs service's newest event id: what a fresh `Watch` reports in `synced`.
pub async fn head_event_id(jobs: &str) -> u64 {
    let mut client = match JobsClient::connect(jobs.to_string()).await {
        Ok(client) => client,
        Err(error) => panic!("jobs: {error}"),
    };
    let mut stream = match client.watch(pb::WatchJobsRequest::default()).await {
        Ok(stream) => stream.into_inner(),
        Err(status) => panic!("Watch: {status:?}"),
    };
    loop {
        match stream.message().await {
            Ok(Some(pb::JobEvent {
                event: Some(Kind::Synced(synced)),
                ..
            })) => return synced.event_id,
            Ok(Some(_)) => {}
            other => panic!("Watch ended before synced: {other:?}"),
        }
    }
}
