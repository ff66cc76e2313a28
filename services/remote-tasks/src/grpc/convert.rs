//! Domain → proto: run events, metrics, hosts, and the errors of submit and cancel.

use std::time::Duration;

use aetherv_hyperv::{AuthKind, FieldError};
use aetherv_proto::common::v1 as common;
use aetherv_proto::remotetasks::v1 as pb;
use aetherv_runtime::{ApiError, ErrorCode};

use crate::domain::metrics::Latency;
use crate::domain::scheduler::Rejection;
use crate::domain::{
    CancelError, CancelOutcome, Category, EventKind, HostInfo, LogLevel, Snapshot, SubmitError,
    TaskEvent, TaskResult,
};

/// The proto category.
pub fn category(category: Category) -> pb::Category {
    match category {
        Category::Inventory => pb::Category::Inventory,
        Category::Control => pb::Category::Control,
        Category::Io => pb::Category::Io,
        Category::Deploy => pb::Category::Deploy,
        Category::Watch => pb::Category::Watch,
    }
}

fn duration(duration: Duration) -> prost_types::Duration {
    prost_types::Duration::try_from(duration).unwrap_or(prost_types::Duration {
        seconds: i64::MAX,
        nanos: 0,
    })
}

/// One stream event.
pub fn event(event: TaskEvent) -> pb::RunEvent {
    use pb::run_event::Event;
    let kind = match event.kind {
        EventKind::Accepted { queue_position } => Event::Accepted(pb::Accepted { queue_position }),
        EventKind::Started { queued_for } => Event::Started(pb::Started {
            queued_for: Some(duration(queued_for)),
        }),
        EventKind::Log { level, message } => Event::Log(pb::LogLine {
            level: log_level(level) as i32,
            message,
        }),
        EventKind::Progress(line) => Event::Progress(pb::Progress {
            step: line.step,
            percent: u32::from(line.percent),
            message: line.message.unwrap_or_default(),
        }),
        EventKind::HostEvent(line) => Event::HostEvent(host_event(&line)),
        EventKind::Finished(result) => Event::Result(task_result(result)),
    };
    pb::RunEvent {
        task_id: event.task_id.to_string(),
        sequence: event.sequence,
        time: Some(event.time.into()),
        event: Some(kind),
    }
}

fn host_event(line: &aetherv_hyperv::EventLine) -> pb::HostEvent {
    use aetherv_hyperv::{EventChange, EventSubject};
    pb::HostEvent {
        kind: match line.kind {
            EventSubject::Vm => "vm",
            EventSubject::Host => "host",
        }
        .to_owned(),
        change: match line.change {
            EventChange::Created => "created",
            EventChange::Modified => "modified",
            EventChange::Deleted => "deleted",
        }
        .to_owned(),
        vm_id: line.vm_id.map(|id| id.to_string()).unwrap_or_default(),
    }
}

fn log_level(level: LogLevel) -> common::LogLevel {
    match level {
        LogLevel::Debug => common::LogLevel::Debug,
        LogLevel::Info => common::LogLevel::Info,
        LogLevel::Warning => common::LogLevel::Warning,
        LogLevel::Error => common::LogLevel::Error,
    }
}

fn task_result(result: TaskResult) -> pb::Result {
    let (ok, data_json, error) = match result.outcome {
        Ok(data) => (true, serde_json::to_string(&data).unwrap_or_default(), None),
        Err(failure) => (
            false,
            String::new(),
            Some(pb::TaskError {
                code: failure.code.to_proto() as i32,
                agent_code: failure.agent_code,
                message: failure.message,
                details_json: failure
                    .details
                    .map(|details| details.to_string())
                    .unwrap_or_default(),
            }),
        ),
    };
    pb::Result {
        ok,
        data_json,
        error,
        run_duration: Some(duration(result.run_duration)),
        exit_code: result.exit_code,
    }
}

/// The error status of a refused Run.
pub fn submit_error(error: &SubmitError) -> ApiError {
    let message = error.to_string();
    match error {
        SubmitError::UnknownHost(host) => {
            ApiError::new(ErrorCode::NotFound, message).with_metadata("host", host.as_str())
        }
        SubmitError::TimeoutTooLong { category, max } => {
            let description = format!(
                "must be at most {}s for category {category}",
                max.as_secs_f64()
            );
            ApiError::invalid_field("timeout", &description)
        }
        SubmitError::InvalidParams { errors, .. } => {
            let details = errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            errors.iter().fold(
                ApiError::new(ErrorCode::InvalidArgument, format!("{message}: {details}")),
                |api, field| api.with_json_violation(&field.pointer, rule(field), &field.message),
            )
        }
        SubmitError::QueueFull(rejection) => {
            let api = ApiError::new(ErrorCode::ResourceExhausted, message);
            match rejection {
                Rejection::CategoryQueueFull { category, capacity } => api
                    .with_metadata("category", category.as_str())
                    .with_metadata("queue_capacity", capacity.to_string()),
                Rejection::HostQueueFull { host, capacity } => api
                    .with_metadata("host", host.as_str())
                    .with_metadata("queue_capacity", capacity.to_string()),
            }
        }
        SubmitError::ShuttingDown => ApiError::new(ErrorCode::Unavailable, message),
    }
}

/// The JSON Schema keyword behind a field error, when the message tells.
fn rule(field: &FieldError) -> &'static str {
    match field.message.as_str() {
        "is required" => "required",
        "is not an allowed field" => "additionalProperties",
        message if message.starts_with("needs one of") => "anyOf",
        _ => "",
    }
}

/// The error status of a failed Cancel.
pub fn cancel_error(error: &CancelError) -> ApiError {
    let code = match error {
        CancelError::UnknownTask(_) => ErrorCode::NotFound,
        CancelError::NotStopped { .. } => ErrorCode::DeadlineExceeded,
    };
    ApiError::new(code, error.to_string())
}

/// The Cancel answer.
pub fn cancel_outcome(outcome: CancelOutcome) -> pb::CancelResponse {
    let outcome = match outcome {
        CancelOutcome::Dequeued => pb::CancelOutcome::Dequeued,
        CancelOutcome::Stopped => pb::CancelOutcome::Stopped,
        CancelOutcome::AlreadyFinished => pb::CancelOutcome::AlreadyFinished,
    };
    pb::CancelResponse {
        outcome: outcome as i32,
    }
}

/// The configured hosts.
pub fn hosts(hosts: Vec<HostInfo>) -> pb::ListHostsResponse {
    pb::ListHostsResponse {
        hosts: hosts
            .into_iter()
            .map(|host| pb::ConfiguredHost {
                host: host.host.to_string(),
                endpoint: host.endpoint,
                auth: match host.auth {
                    AuthKind::Ntlm => pb::AuthKind::Ntlm,
                    AuthKind::Basic => pb::AuthKind::Basic,
                } as i32,
                insecure: host.insecure,
            })
            .collect(),
    }
}

fn latency(latency: Latency) -> pb::Latency {
    pb::Latency {
        samples: latency.samples,
        p50: Some(duration(latency.p50)),
        p90: Some(duration(latency.p90)),
        p99: Some(duration(latency.p99)),
        max: Some(duration(latency.max)),
    }
}

/// The Metrics answer.
pub fn metrics(snapshot: Snapshot) -> pb::MetricsResponse {
    let Snapshot {
        time,
        load,
        figures,
        limits,
    } = snapshot;
    let categories = Category::ALL
        .iter()
        .map(|&c| {
            let figures = figures.categories.get(c);
            let load = load.categories.get(c);
            pb::CategoryMetrics {
                category: category(c) as i32,
                queue_depth: load.waiting,
                in_flight: load.running,
                completed: figures.completed,
                failed: figures.failed,
                rejected: figures.rejected,
                latency: Some(latency(figures.latency)),
            }
        })
        .collect();
    let hosts = load
        .hosts
        .into_iter()
        .map(|(host, load)| pb::HostMetrics {
            host: host.to_string(),
            in_flight: load.running,
            queue_depth: load.waiting,
            in_flight_by_category: Category::ALL
                .iter()
                .filter(|&&c| *load.running_by_category.get(c) > 0)
                .map(|&c| pb::CategoryCount {
                    category: category(c) as i32,
                    count: *load.running_by_category.get(c),
                })
                .collect(),
        })
        .collect();
    let operations = figures
        .operations
        .into_iter()
        .map(|(c, operation, l)| pb::OperationMetrics {
            category: category(c) as i32,
            operation: operation.as_str().to_string(),
            latency: Some(latency(l)),
        })
        .collect();
    let failures = figures
        .failures
        .into_iter()
        .map(|(code, agent_code, count)| pb::FailureCount {
            code: code.to_proto() as i32,
            agent_code,
            count,
        })
        .collect();
    pb::MetricsResponse {
        time: Some(time.into()),
        in_flight: load.running,
        categories,
        hosts,
        operations,
        failures,
        limits: Some(pb::Limits {
            global_in_flight: limits.global_in_flight,
            per_host_in_flight: limits.per_host_in_flight,
            per_host_queue_capacity: limits.per_host_queue_capacity,
            categories: Category::ALL
                .iter()
                .map(|&c| {
                    let limit = limits.category(c);
                    pb::CategoryLimits {
                        category: category(c) as i32,
                        in_flight: limit.in_flight,
                        per_host_in_flight: limit.per_host_in_flight,
                        queue_capacity: limit.queue_capacity,
                        default_timeout: Some(duration(limit.default_timeout)),
                        max_timeout: Some(duration(limit.max_timeout)),
                    }
                })
                .collect(),
        }),
    }
}
