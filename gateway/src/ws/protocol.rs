//! The WebSocket protocol's messages: parsing and validating what clients send (an error
//! names the field, e.g. `topics[0].after`), and building what the server sends. See
//! `gateway/API.md` for the protocol.

use aetherv_runtime::ErrorCode;
use axum::extract::ws::Utf8Bytes;
use serde_json::{Map, Value, json};

use super::cursor::Cursor;
use super::feed::{ResyncReason, Status};
use crate::error::HttpError;

/// The protocol version in `hello`.
pub const PROTOCOL_VERSION: u32 = 1;

/// A client message.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientMessage {
    /// Subscribe (or re-subscribe) to topics.
    Subscribe(Vec<TopicRequest>),
    /// End subscriptions.
    Unsubscribe(Vec<String>),
    /// Liveness check; the id is echoed.
    Ping(Value),
}

/// One topic of a `subscribe`.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicRequest {
    /// The topic name.
    pub topic: String,
    /// Resume after this position; `None`: live from now.
    pub after: Option<Cursor>,
}

fn invalid(field: &str, description: &str) -> HttpError {
    HttpError::new(
        ErrorCode::InvalidArgument,
        format!("{field}: {description}"),
    )
    .with_detail("field", field)
}

fn check_keys(object: &Map<String, Value>, prefix: &str, known: &[&str]) -> Result<(), HttpError> {
    match object.keys().find(|key| !known.contains(&key.as_str())) {
        Some(key) => {
            let shown: String = key.chars().take(64).collect();
            let field = if prefix.is_empty() {
                shown
            } else {
                format!("{prefix}.{shown}")
            };
            Err(invalid(
                &field,
                &format!("unknown field (known: {})", known.join(", ")),
            ))
        }
        None => Ok(()),
    }
}

/// Parses a text frame.
pub fn parse(text: &str) -> Result<ClientMessage, HttpError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|error| invalid("message", &format!("not valid json ({error})")))?;
    let Value::Object(object) = value else {
        return Err(invalid("message", "must be a json object"));
    };
    let kind = match object.get("type") {
        Some(Value::String(kind)) => kind.as_str(),
        Some(_) => return Err(invalid("type", "must be a string")),
        None => return Err(invalid("type", "is required")),
    };
    match kind {
        "subscribe" => {
            check_keys(&object, "", &["type", "topics"])?;
            let topics = topic_list(&object)?;
            let mut requests = Vec::with_capacity(topics.len());
            for (index, item) in topics.iter().enumerate() {
                requests.push(topic_request(index, item)?);
            }
            Ok(ClientMessage::Subscribe(requests))
        }
        "unsubscribe" => {
            check_keys(&object, "", &["type", "topics"])?;
            let topics = topic_list(&object)?;
            let mut names = Vec::with_capacity(topics.len());
            for (index, item) in topics.iter().enumerate() {
                let request = topic_request(index, item)?;
                if request.after.is_some() {
                    return Err(invalid(
                        &format!("topics[{index}].after"),
                        "is not allowed here",
                    ));
                }
                names.push(request.topic);
            }
            Ok(ClientMessage::Unsubscribe(names))
        }
        "ping" => {
            check_keys(&object, "", &["type", "id"])?;
            let id = object.get("id").cloned().unwrap_or(Value::Null);
            match &id {
                Value::Null | Value::Number(_) => {}
                Value::String(text) if text.chars().count() <= 64 => {}
                _ => {
                    return Err(invalid(
                        "id",
                        "must be a number or a string of at most 64 characters",
                    ));
                }
            }
            Ok(ClientMessage::Ping(id))
        }
        other => {
            let shown: String = other.chars().take(32).collect();
            Err(invalid(
                "type",
                &format!(
                    "unknown message type {shown:?} (expected subscribe, unsubscribe or ping)"
                ),
            ))
        }
    }
}

fn topic_list(object: &Map<String, Value>) -> Result<&Vec<Value>, HttpError> {
    match object.get("topics") {
        Some(Value::Array(list)) if !list.is_empty() => Ok(list),
        Some(Value::Array(_)) => Err(invalid("topics", "must not be empty")),
        Some(_) => Err(invalid("topics", "must be an array")),
        None => Err(invalid("topics", "is required")),
    }
}

fn topic_request(index: usize, item: &Value) -> Result<TopicRequest, HttpError> {
    let field = format!("topics[{index}]");
    let (topic, after) = match item {
        Value::String(topic) => (topic.as_str(), None),
        Value::Object(object) => {
            check_keys(object, &field, &["topic", "after"])?;
            let topic = match object.get("topic") {
                Some(Value::String(topic)) => topic.as_str(),
                Some(_) => return Err(invalid(&format!("{field}.topic"), "must be a string")),
                None => return Err(invalid(&format!("{field}.topic"), "is required")),
            };
            let after = match object.get("after") {
                None | Some(Value::Null) => None,
                Some(Value::Number(number)) => match number.as_u64() {
                    Some(number) => Some(Cursor::Through(number)),
                    None => {
                        return Err(invalid(
                            &format!("{field}.after"),
                            "must be a cursor string or a non-negative integer",
                        ));
                    }
                },
                Some(Value::String(text)) => match Cursor::parse(text) {
                    Some(cursor) => Some(cursor),
                    None => {
                        return Err(invalid(
                            &format!("{field}.after"),
                            "is not a cursor (expected \"<revision>\", \"<revision>.<n>\" or \"<event id>\")",
                        ));
                    }
                },
                Some(_) => {
                    return Err(invalid(
                        &format!("{field}.after"),
                        "must be a cursor string or a non-negative integer",
                    ));
                }
            };
            (topic, after)
        }
        _ => {
            return Err(invalid(
                &field,
                "must be a topic name or {\"topic\", \"after\"}",
            ));
        }
    };
    if topic.is_empty() || topic.len() > 128 {
        return Err(invalid(
            &format!("{field}.topic"),
            "must be 1 to 128 characters",
        ));
    }
    Ok(TopicRequest {
        topic: topic.to_string(),
        after,
    })
}

fn frame(value: Value) -> Utf8Bytes {
    Utf8Bytes::from(value.to_string())
}

fn cursor_value(cursor: Option<Cursor>) -> Value {
    cursor.map_or(Value::Null, |cursor| Value::String(cursor.to_string()))
}

/// The first frame.
pub fn hello(
    connection_id: &str,
    dev_mode: bool,
    topics: &[&str],
    idle_timeout_seconds: u64,
    ping_interval_seconds: u64,
    max_topics: usize,
    server_time: &str,
) -> Utf8Bytes {
    frame(json!({
        "type": "hello",
        "protocol": PROTOCOL_VERSION,
        "connection_id": connection_id,
        "server_time": server_time,
        "dev_mode": dev_mode,
        "topics": topics,
        "idle_timeout_seconds": idle_timeout_seconds,
        "ping_interval_seconds": ping_interval_seconds,
        "max_topics": max_topics,
    }))
}

/// `subscribed`.
pub fn subscribed(topic: &str, after: Option<Cursor>) -> Utf8Bytes {
    frame(json!({"type": "subscribed", "topic": topic, "after": cursor_value(after)}))
}

/// `synced`.
pub fn synced(topic: &str, cursor: Option<Cursor>) -> Utf8Bytes {
    frame(json!({"type": "synced", "topic": topic, "cursor": cursor_value(cursor)}))
}

/// `resync`.
pub fn resync(topic: &str, reason: ResyncReason, cursor: Option<Cursor>) -> Utf8Bytes {
    frame(
        json!({"type": "resync", "topic": topic, "reason": reason.as_str(), "cursor": cursor_value(cursor)}),
    )
}

/// `topic_status`: the gateway's own stream of the topic is down (with why) or up.
pub fn topic_status(topic: &str, status: &Status) -> Utf8Bytes {
    frame(json!({
        "type": "topic_status",
        "topic": topic,
        "status": if status.up { "up" } else { "down" },
        "reason": status.reason,
        "since": status.since,
    }))
}

/// `unsubscribed`.
pub fn unsubscribed(topic: &str) -> Utf8Bytes {
    frame(json!({"type": "unsubscribed", "topic": topic}))
}

/// `pong`.
pub fn pong(id: Value, server_time: &str) -> Utf8Bytes {
    frame(json!({"type": "pong", "id": id, "server_time": server_time}))
}

/// `error`, about a topic or the message as a whole.
pub fn error(topic: Option<&str>, error: &HttpError) -> Utf8Bytes {
    let mut value = json!({"type": "error"});
    if let Some(topic) = topic {
        value["topic"] = Value::String(topic.to_string());
    }
    value["error"] = error.body()["error"].clone();
    frame(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribe_takes_names_or_objects_with_cursors() {
        let message = parse(
            r#"{"type":"subscribe","topics":["inventory",{"topic":"jobs","after":"12.3"},{"topic":"x","after":5}]}"#,
        );
        assert_eq!(
            message.ok(),
            Some(ClientMessage::Subscribe(vec![
                TopicRequest {
                    topic: "inventory".into(),
                    after: None
                },
                TopicRequest {
                    topic: "jobs".into(),
                    after: Some(Cursor::Within(12, 3))
                },
                TopicRequest {
                    topic: "x".into(),
                    after: Some(Cursor::Through(5))
                },
            ]))
        );
    }

    #[test]
    fn bad_messages_name_the_field() {
        let field = |text: &str| {
            parse(text).err().and_then(|e| {
                e.details
                    .get("field")
                    .and_then(|f| f.as_str().map(String::from))
            })
        };
        assert_eq!(field("nope").as_deref(), Some("message"));
        assert_eq!(field(r#"{"topics":[]}"#).as_deref(), Some("type"));
        assert_eq!(
            field(r#"{"type":"subscribe","topics":[]}"#).as_deref(),
            Some("topics")
        );
        assert_eq!(
            field(r#"{"type":"subscribe","topics":[{"topic":"inventory","after":"x"}]}"#)
                .as_deref(),
            Some("topics[0].after")
        );
        assert_eq!(
            field(r#"{"type":"subscribe","topics":[{"topic":"inventory","colour":1}]}"#).as_deref(),
            Some("topics[0].colour")
        );
        assert_eq!(
            field(r#"{"type":"ping","extra":1}"#).as_deref(),
            Some("extra")
        );
        assert_eq!(field(r#"{"type":"dance"}"#).as_deref(), Some("type"));
        assert!(matches!(
            parse(r#"{"type":"ping","id":"a"}"#),
            Ok(ClientMessage::Ping(_))
        ));
    }
}
