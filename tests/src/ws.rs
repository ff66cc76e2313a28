//! A `/ws` client: tokio-tungstenite (a third-party implementation of the WebSocket
//! protocol) speaking the gateway's JSON frames (`gateway/API.md`).

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::error::Error;

/// One connection.
pub struct WsClient {
    url: String,
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl WsClient {
    /// Connects to `url` (`ws://…/ws`) and reads the `hello` frame.
    pub async fn connect(url: &str) -> Result<WsClient, Error> {
        let (stream, _) =
            tokio_tungstenite::connect_async(url)
                .await
                .map_err(|e| Error::WebSocket {
                    url: url.to_string(),
                    message: format!("connect: {e}"),
                })?;
        let mut client = WsClient {
            url: url.to_string(),
            stream,
        };
        let hello = client.next(Duration::from_secs(10)).await?;
        if hello.as_ref().map(|h| &h["type"]) != Some(&json!("hello")) {
            return Err(client.error(format!("expected a hello frame, got {hello:?}")));
        }
        Ok(client)
    }

    fn error(&self, message: String) -> Error {
        Error::WebSocket {
            url: self.url.clone(),
            message,
        }
    }

    /// Sends one JSON frame.
    pub async fn send(&mut self, frame: Value) -> Result<(), Error> {
        self.stream
            .send(Message::text(frame.to_string()))
            .await
            .map_err(|e| Error::WebSocket {
                url: self.url.clone(),
                message: format!("send: {e}"),
            })
    }

    /// Subscribes to `topic` (after `cursor` when given) and waits for `subscribed`.
    pub async fn subscribe(&mut self, topic: &str, after: Option<&str>) -> Result<(), Error> {
        let mut entry = json!({"topic": topic});
        if let Some(cursor) = after {
            entry["after"] = json!(cursor);
        }
        self.send(json!({"type": "subscribe", "topics": [entry]}))
            .await?;
        self.wait_for("a subscribed frame", Duration::from_secs(10), |frame| {
            frame["type"] == "subscribed" && frame["topic"] == topic
        })
        .await
        .map(|_| ())
    }

    /// The next text frame as JSON, `None` after `limit`. A closed connection is an error.
    pub async fn next(&mut self, limit: Duration) -> Result<Option<Value>, Error> {
        let deadline = Instant::now() + limit;
        loop {
            let message = match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Err(_) => return Ok(None),
                Ok(None) => return Err(self.error("the connection ended".to_string())),
                Ok(Some(Err(e))) => return Err(self.error(format!("receive: {e}"))),
                Ok(Some(Ok(message))) => message,
            };
            match message {
                Message::Text(text) => {
                    return serde_json::from_str(text.as_str())
                        .map(Some)
                        .map_err(|e| self.error(format!("frame is not json ({e}): {text}")));
                }
                Message::Close(frame) => {
                    return Err(self.error(format!("closed by the server: {frame:?}")));
                }
                _ => {}
            }
        }
    }

    /// Reads frames until one satisfies `matches`; [`Error::Timeout`] after `limit`, with
    /// the last frame seen.
    pub async fn wait_for<F>(
        &mut self,
        what: &str,
        limit: Duration,
        mut matches: F,
    ) -> Result<Value, Error>
    where
        F: FnMut(&Value) -> bool,
    {
        let deadline = Instant::now() + limit;
        let mut last = String::from("no frame");
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await? {
                Some(frame) if matches(&frame) => return Ok(frame),
                Some(frame) => last = frame.to_string(),
                None => {
                    return Err(Error::Timeout {
                        what: format!("{what} on {}", self.url),
                        limit,
                        last,
                    });
                }
            }
        }
    }

    /// Closes the connection.
    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
    }
}
