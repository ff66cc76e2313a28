//! One task from queue to result: wait for its slots (or a cancel, the caller's deadline,
//! the caller going away), run the agent operation with the run timeout, forward the
//! agent's log and progress lines as they arrive, then report the result.
//!
//! The task's stream is a bounded channel read by the gRPC response. Log and progress
//! events are offered without waiting: when the reader is too slow to keep up they are
//! dropped (counted, logged once, and visible to the reader as a gap in `sequence`), so a
//! slow reader never stalls the remote command nor holds its slots. The result waits for
//! the reader. A reader that goes away cancels the task: the remote command is stopped.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aetherv_hyperv::{AgentEvent, CallOptions, HostAgent, HostTarget};
use aetherv_runtime::ErrorCode;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::category::TaskId;
use super::failure::{self, CANCELLED, TIMEOUT};
use super::metrics::Metrics;
use super::registry::Registry;
use super::scheduler::Ticket;
use super::task::{Ending, EventKind, LogLevel, TaskEvent, TaskFailure, TaskResult, TaskSpec};

/// What a runner needs from the service.
pub struct RunnerContext {
    /// Runs the operation.
    pub agent: Arc<dyn HostAgent>,
    /// The host's target.
    pub target: HostTarget,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Where Cancel finds the task.
    pub registry: Arc<Registry>,
    /// Time given to the agent past the run timeout to stop the command and answer,
    /// before the call is abandoned (its clean-up then continues in the background).
    pub stop_grace: Duration,
}

/// Writes a task's events with their sequence numbers.
struct Emitter {
    task_id: TaskId,
    sequence: u64,
    sender: mpsc::Sender<TaskEvent>,
    dropped: u64,
}

impl Emitter {
    fn event(&mut self, kind: EventKind) -> TaskEvent {
        self.sequence += 1;
        TaskEvent {
            task_id: self.task_id.clone(),
            sequence: self.sequence,
            time: SystemTime::now(),
            kind,
        }
    }

    /// Offers an event without waiting; a full channel drops it (the gap shows).
    fn offer(&mut self, kind: EventKind) {
        let event = self.event(kind);
        if let Err(mpsc::error::TrySendError::Full(_)) = self.sender.try_send(event) {
            self.dropped += 1;
            if self.dropped == 1 {
                tracing::warn!(task = %self.task_id, "the reader of this task is too slow: log and progress events are being dropped");
            }
        }
    }

    /// Sends the last event, waiting for the reader (if it is still there).
    async fn finish(&mut self, result: TaskResult) {
        let event = self.event(EventKind::Finished(result));
        // A reader that is gone needs no result.
        let _ = self.sender.send(event).await;
    }
}

/// Why a task left the queue without starting.
enum Dequeued {
    Cancelled,
    CallerGone,
    Deadline,
}

/// Runs one task to its end. `ended` tells Cancel how it ended.
pub async fn run(
    context: RunnerContext,
    spec: TaskSpec,
    task_id: TaskId,
    mut ticket: Ticket,
    events: mpsc::Sender<TaskEvent>,
    cancel: CancellationToken,
    ended: watch::Sender<Option<Ending>>,
) {
    let mut emitter = Emitter {
        task_id: task_id.clone(),
        sequence: 0,
        sender: events.clone(),
        dropped: 0,
    };
    emitter.offer(EventKind::Accepted {
        queue_position: ticket.position,
    });
    let queued_at = Instant::now();
    let deadline = spec.deadline;
    let granted = tokio::select! {
        biased;
        () = cancel.cancelled() => Err(Dequeued::Cancelled),
        () = events.closed() => Err(Dequeued::CallerGone),
        () = sleep_until(deadline) => Err(Dequeued::Deadline),
        guard = ticket.granted() => guard.ok_or(Dequeued::Cancelled),
    };
    let queued_for = queued_at.elapsed();
    let slots = match granted {
        Ok(slots) => slots,
        Err(reason) => {
            // A grant racing with the reason is released with the ticket.
            ticket.withdraw();
            let (code, agent_code, why) = match reason {
                Dequeued::Cancelled => (ErrorCode::Cancelled, CANCELLED, "was cancelled"),
                Dequeued::CallerGone => (
                    ErrorCode::Cancelled,
                    CANCELLED,
                    "was abandoned by its caller",
                ),
                Dequeued::Deadline => (
                    ErrorCode::DeadlineExceeded,
                    TIMEOUT,
                    "reached the caller's deadline",
                ),
            };
            let failure = TaskFailure::local(
                code,
                agent_code,
                format!(
                    "{} on host {} {why} while queued (after {})",
                    spec.request.operation(),
                    spec.host,
                    humanize(queued_for)
                ),
            );
            let result = TaskResult {
                outcome: Err(failure),
                run_duration: Duration::ZERO,
                exit_code: None,
            };
            conclude(
                &context,
                &spec,
                &task_id,
                queued_for,
                None,
                &result,
                Ending::Dequeued,
                &ended,
            );
            emitter.finish(result).await;
            return;
        }
    };
    drop(ticket);

    tracing::info!(
        task = %task_id,
        host = %spec.host,
        operation = %spec.request.operation(),
        category = %spec.category,
        queued_ms = queued_for.as_millis() as u64,
        "task started"
    );
    emitter.offer(EventKind::Started { queued_for });
    let started = Instant::now();
    // The caller's deadline bounds the run as well.
    let run_timeout = match deadline {
        Some(deadline) => spec
            .timeout
            .min(deadline.saturating_duration_since(started)),
        None => spec.timeout,
    };
    let (agent_events, mut agent_rx) = mpsc::channel::<AgentEvent>(64);
    let options = CallOptions {
        timeout: Some(run_timeout),
        cancel: cancel.clone(),
    };
    // A boxed future (Unpin): polled in place, and dropped for real below.
    let mut call = context
        .agent
        .call(&context.target, spec.request.clone(), options, agent_events);
    let abandon = tokio::time::sleep(run_timeout + context.stop_grace);
    tokio::pin!(abandon);
    let mut caller_gone = false;
    let returned = loop {
        tokio::select! {
            result = &mut call => break Some(result),
            Some(event) = agent_rx.recv() => forward(&mut emitter, event),
            () = events.closed(), if !caller_gone => {
                caller_gone = true;
                cancel.cancel();
            }
            () = &mut abandon => break None,
        }
    };
    // The call is over (or abandoned: dropping it hands the clean-up to the agent).
    drop(call);
    while let Ok(event) = agent_rx.try_recv() {
        forward(&mut emitter, event);
    }
    let run_duration = started.elapsed();
    let (outcome, exit_code, ending) = match returned {
        Some(Ok(outcome)) => (Ok(outcome.data), Some(0), Ending::Completed),
        Some(Err(error)) => {
            let (failure, exit_code) = failure::classify(&error);
            let ending = if matches!(error, aetherv_hyperv::Error::Cancelled { .. }) {
                Ending::Stopped
            } else {
                Ending::Completed
            };
            (Err(failure), exit_code, ending)
        }
        None => {
            let failure = TaskFailure::local(
                ErrorCode::DeadlineExceeded,
                TIMEOUT,
                format!(
                    "{} on host {} did not finish within {} and did not stop within {} more; it was abandoned",
                    spec.request.operation(),
                    spec.host,
                    humanize(run_timeout),
                    humanize(context.stop_grace)
                ),
            );
            (Err(failure), None, Ending::Completed)
        }
    };
    drop(slots);
    let result = TaskResult {
        outcome,
        run_duration,
        exit_code,
    };
    conclude(
        &context,
        &spec,
        &task_id,
        queued_for,
        Some(run_duration),
        &result,
        ending,
        &ended,
    );
    if emitter.dropped > 0 {
        tracing::warn!(task = %task_id, dropped = emitter.dropped, "events dropped for a slow reader");
    }
    emitter.finish(result).await;
}

fn forward(emitter: &mut Emitter, event: AgentEvent) {
    let kind = match event {
        AgentEvent::Log(line) => EventKind::from_log(line),
        AgentEvent::Progress(line) => EventKind::Progress(line),
        AgentEvent::Change(line) => EventKind::HostEvent(line),
        AgentEvent::Stderr(text) => EventKind::Log {
            level: LogLevel::Debug,
            message: text,
        },
    };
    emitter.offer(kind);
}

/// Records the end: metrics, the log line, the registry and the watch Cancel waits on.
#[allow(clippy::too_many_arguments)]
fn conclude(
    context: &RunnerContext,
    spec: &TaskSpec,
    task_id: &TaskId,
    queued_for: Duration,
    ran: Option<Duration>,
    result: &TaskResult,
    ending: Ending,
    ended: &watch::Sender<Option<Ending>>,
) {
    let operation = spec.request.operation();
    let failure = result.outcome.as_ref().err();
    context.metrics.finished(
        spec.category,
        operation,
        ran,
        failure.map(|f| (f.code, f.agent_code.as_str())),
    );
    let duration_ms = ran.unwrap_or_default().as_millis() as u64;
    let queued_ms = queued_for.as_millis() as u64;
    match failure {
        None => tracing::info!(
            task = %task_id, host = %spec.host, operation = %operation, category = %spec.category,
            duration_ms, queued_ms, outcome = "ok", "task finished"
        ),
        Some(failure) => tracing::warn!(
            task = %task_id, host = %spec.host, operation = %operation, category = %spec.category,
            duration_ms, queued_ms, outcome = %failure.code, agent_code = %failure.agent_code,
            error = %failure.message, "task finished"
        ),
    }
    ended.send_replace(Some(ending));
    context.registry.finish(task_id);
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// A duration for messages: "1.5s", "250ms", "2m".
pub fn humanize(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1000 {
        format!("{millis}ms")
    } else if millis.is_multiple_of(60_000) {
        format!("{}m", millis / 60_000)
    } else if millis.is_multiple_of(1000) {
        format!("{}s", millis / 1000)
    } else {
        format!("{:.1}s", duration.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(n: u32) -> EventKind {
        EventKind::Log {
            level: LogLevel::Info,
            message: format!("line {n}"),
        }
    }

    #[tokio::test]
    async fn a_slow_reader_loses_log_lines_with_a_visible_gap_but_never_the_result() {
        let (sender, mut receiver) = mpsc::channel(3);
        let mut emitter = Emitter {
            task_id: TaskId::random(),
            sequence: 0,
            sender,
            dropped: 0,
        };
        emitter.offer(EventKind::Accepted { queue_position: 0 });
        for n in 0..5 {
            emitter.offer(log(n));
        }
        assert_eq!(emitter.dropped, 3);
        let reader = tokio::spawn(async move {
            let mut sequences = Vec::new();
            while let Some(event) = receiver.recv().await {
                sequences.push((event.sequence, matches!(event.kind, EventKind::Finished(_))));
            }
            sequences
        });
        let result = TaskResult {
            outcome: Ok(serde_json::Map::new()),
            run_duration: Duration::ZERO,
            exit_code: Some(0),
        };
        emitter.finish(result).await;
        drop(emitter);
        let sequences = reader.await.unwrap_or_default();
        assert_eq!(
            sequences,
            [(1, false), (2, false), (3, false), (7, true)],
            "events 4-6 were dropped; the gap shows it; the result arrived"
        );
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(humanize(Duration::from_millis(250)), "250ms");
        assert_eq!(humanize(Duration::from_secs(2)), "2s");
        assert_eq!(humanize(Duration::from_millis(1500)), "1.5s");
        assert_eq!(humanize(Duration::from_secs(300)), "5m");
    }
}
