//! A WebSocket client for the tests: tokio-tungstenite (a third-party implementation of the
//! protocol) with JSON helpers.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// One connection.
pub struct WsClient {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl WsClient {
    /// Connects to `url` (`ws://…/ws`).
    pub async fn connect(url: &str) -> WsClient {
        match tokio_tungstenite::connect_async(url).await {
            Ok((stream, _)) => WsClient { stream },
            Err(error) => panic!("websocket connect to {url} failed: {error}"),
        }
    }

    /// Connects with a small TCP receive buffer, so a client that stops reading pushes back
    /// on the server quickly (a slow client).
    pub async fn connect_slow(addr: std::net::SocketAddr, receive_buffer: u32) -> WsClient {
        let socket = match TcpSocket::new_v4() {
            Ok(socket) => socket,
            Err(error) => panic!("socket: {error}"),
        };
        if let Err(error) = socket.set_recv_buffer_size(receive_buffer) {
            panic!("SO_RCVBUF: {error}");
        }
        let tcp = match socket.connect(addr).await {
            Ok(tcp) => tcp,
            Err(error) => panic!("connect {addr}: {error}"),
        };
        let url = format!("ws://{addr}/ws");
        match tokio_tungstenite::client_async(url.as_str(), MaybeTlsStream::Plain(tcp)).await {
            Ok((stream, _)) => WsClient { stream },
            Err(error) => panic!("websocket handshake with {url} failed: {error}"),
        }
    }

    /// Sends one JSON text frame.
    pub async fn send(&mut self, value: Value) {
        if let Err(error) = self.stream.send(Message::text(value.to_string())).await {
            panic!("websocket send failed: {error}");
        }
    }

    /// Sends raw text.
    pub async fn send_text(&mut self, text: &str) {
        if let Err(error) = self.stream.send(Message::text(text.to_string())).await {
            panic!("websocket send failed: {error}");
        }
    }

    /// Sends a binary frame.
    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        if let Err(error) = self.stream.send(Message::binary(bytes)).await {
            panic!("websocket send failed: {error}");
        }
    }

    /// The next message (text frames parsed as JSON; a close frame as
    /// `{"type":"__close","code","reason"}`), or `None` after `limit`.
    pub async fn try_next(&mut self, limit: Duration) -> Option<Value> {
        loop {
            let message = match tokio::time::timeout(limit, self.stream.next()).await {
                Err(_) => return None,
                Ok(None) => return Some(serde_json::json!({"type": "__end"})),
                Ok(Some(Err(error))) => {
                    return Some(
                        serde_json::json!({"type": "__error", "error": error.to_string()}),
                    );
                }
                Ok(Some(Ok(message))) => message,
            };
            match message {
                Message::Text(text) => match serde_json::from_str(text.as_str()) {
                    Ok(value) => return Some(value),
                    Err(error) => panic!("server frame is not json ({error}): {text}"),
                },
                Message::Close(frame) => {
                    let (code, reason) = frame
                        .map(|CloseFrame { code, reason }| (u16::from(code), reason.to_string()))
                        .unwrap_or((1005, String::new()));
                    return Some(
                        serde_json::json!({"type": "__close", "code": code, "reason": reason}),
                    );
                }
                Message::Binary(_) => panic!("the server sent a binary frame"),
                _ => {}
            }
        }
    }

    /// The next message; panics after `limit`.
    pub async fn next(&mut self, limit: Duration) -> Value {
        match self.try_next(limit).await {
            Some(value) => value,
            None => panic!("no websocket message within {limit:?}"),
        }
    }

    /// Skips messages until one with `type`; panics after `limit` overall.
    pub async fn next_of_type(&mut self, kind: &str, limit: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let message = self.next(left).await;
            if message["type"] == kind {
                return message;
            }
            if message["type"] == "__end" || message["type"] == "__close" {
                panic!("connection ended while waiting for {kind}: {message}");
            }
        }
    }
}
