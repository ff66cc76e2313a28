//! The [`Client`] and its lower-level [`Shell`] handle: one method per WinRS operation.

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use tracing::debug;
use uuid::Uuid;

use super::config::ClientConfig;
use super::error::Error;
use super::transport::Transport;
use crate::envelope::{RequestHeader, build_request, parse_envelope};
use crate::fault::{Fault, FaultKind};
use crate::messages::{
    self, CommandOptions, ReceiveOutput, ShellOptions, Signal, joined_command_line,
};
use crate::ns;
use crate::xml::Element;

/// cmd.exe's command-line limit (KB830473).
pub const CMD_LINE_LIMIT: usize = 8191;
/// CreateProcess's command-line limit (with `WINRS_SKIP_CMD_SHELL`).
pub const CREATE_PROCESS_LIMIT: usize = 32767;

/// Refuses a command line Windows would reject: over 8191 UTF-16 units through cmd.exe,
/// over 32767 with `skip_cmd_shell`.
pub fn check_command_line(
    command: &str,
    args: &[String],
    skip_cmd_shell: bool,
) -> Result<(), Error> {
    let length = joined_command_line(command, args).encode_utf16().count();
    let limit = if skip_cmd_shell {
        CREATE_PROCESS_LIMIT
    } else {
        CMD_LINE_LIMIT
    };
    if length > limit {
        return Err(Error::CommandLineTooLong {
            length,
            limit,
            skip_cmd_shell,
        });
    }
    Ok(())
}

/// Bytes of stdin that fit one Send: what is left of the envelope after the empty Send
/// envelope and a 256-byte margin, as base64 (pypsrp's `_calc_envelope_size`).
pub(crate) fn stdin_chunk_size(max_envelope: usize, empty_send_envelope: usize) -> usize {
    (max_envelope.saturating_sub(empty_send_envelope + 256) / 4 * 3).max(1)
}

/// A WinRM client for one endpoint. Cheap to clone; clones share the connection pool.
#[derive(Clone)]
pub struct Client {
    pub(crate) transport: Arc<Transport>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.transport.endpoint())
            .finish()
    }
}

impl Client {
    /// Validates the configuration (every field; errors name it) and builds the client.
    /// Nothing is connected until the first call.
    pub fn new(config: ClientConfig) -> Result<Client, Error> {
        Ok(Client {
            transport: Arc::new(Transport::new(config)?),
        })
    }

    /// The endpoint URL.
    pub fn endpoint(&self) -> &str {
        self.transport.endpoint()
    }

    pub(crate) fn config(&self) -> &ClientConfig {
        self.transport.config()
    }

    /// Sends one request and returns the response body element, or the typed fault.
    pub(crate) async fn call(
        &self,
        action: &str,
        resource_uri: &str,
        selectors: &[(&str, &str)],
        options: &[(&str, String)],
        body: &str,
    ) -> Result<Element, Error> {
        let cfg = self.config();
        let message_id = Uuid::new_v4().to_string().to_uppercase();
        let soap = build_request(
            &RequestHeader {
                to: self.endpoint(),
                action,
                resource_uri,
                message_id: &message_id,
                max_envelope_size: cfg.max_envelope_size,
                operation_timeout: cfg.operation_timeout,
                selectors,
                options,
            },
            body,
        );
        debug!(endpoint = %self.endpoint(), action, "winrm request");
        let resp = self.transport.exchange(soap).await?;
        let endpoint = self.endpoint();
        if resp.status == StatusCode::OK || (resp.status.is_server_error() && !resp.body.is_empty())
        {
            let env =
                parse_envelope(&resp.body).map_err(|e| Error::protocol(endpoint, e, &resp.body))?;
            if let Some(fault) = Fault::from_body(&env.body) {
                return Err(Error::Fault(Box::new(fault)));
            }
            if resp.status != StatusCode::OK {
                return Err(Error::protocol(
                    endpoint,
                    "http 500 without a soap fault",
                    &resp.body,
                ));
            }
            if let Some(rel) = &env.header.relates_to {
                let rel = rel.trim_start_matches("uuid:");
                if !rel.eq_ignore_ascii_case(&message_id) {
                    return Err(Error::protocol(
                        endpoint,
                        "RelatesTo does not match the request",
                        &resp.body,
                    ));
                }
            }
            return Ok(env.body);
        }
        Err(Error::Http {
            endpoint: endpoint.to_owned(),
            status: resp.status.as_u16(),
            snippet: super::error::excerpt(&resp.body),
        })
    }

    /// Reads the listener's `MaxEnvelopeSizekb` (WS-Transfer Get of the config resource).
    pub async fn max_envelope_size_kb(&self) -> Result<u32, Error> {
        let body = self
            .call(ns::ACTION_GET, ns::RESOURCE_CONFIG, &[], &[], "")
            .await?;
        messages::parse_config_response(&body).map_err(|e| Error::protocol(self.endpoint(), e, b""))
    }

    /// Opens a shell.
    pub async fn open_shell(&self, options: &ShellOptions) -> Result<Shell, Error> {
        let (opts, body) = messages::create_request(options);
        let resp = self
            .call(ns::ACTION_CREATE, ns::RESOURCE_CMD, &[], &opts, &body)
            .await?;
        let id = messages::parse_create_response(&resp)
            .map_err(|e| Error::protocol(self.endpoint(), e, b""))?;
        debug!(endpoint = %self.endpoint(), shell_id = %id, "shell opened");
        Ok(Shell {
            client: self.clone(),
            id,
        })
    }
}

/// An open WinRS shell. Delete it with [`Shell::delete`] when done (dropping it does not).
#[derive(Debug, Clone)]
pub struct Shell {
    client: Client,
    id: String,
}

impl Shell {
    /// A handle on an existing shell id (e.g. to clean up after a lost handle).
    pub fn attach(client: &Client, shell_id: impl Into<String>) -> Shell {
        Shell {
            client: client.clone(),
            id: shell_id.into(),
        }
    }

    /// The client this shell belongs to.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The shell id.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn selectors(&self) -> [(&str, &str); 1] {
        [("ShellId", self.id.as_str())]
    }

    /// Starts a command; returns its command id. The command line is checked against the
    /// Windows limits before anything is sent.
    pub async fn command(
        &self,
        command: &str,
        args: &[String],
        options: &CommandOptions,
    ) -> Result<String, Error> {
        check_command_line(command, args, options.skip_cmd_shell)?;
        let (opts, body) = messages::command_request(command, args, options);
        let resp = self
            .client
            .call(
                ns::ACTION_COMMAND,
                ns::RESOURCE_CMD,
                &self.selectors(),
                &opts,
                &body,
            )
            .await?;
        messages::parse_command_response(&resp)
            .map_err(|e| Error::protocol(self.client.endpoint(), e, b""))
    }

    /// Sends stdin, split into Sends that fit the envelope size; the last one carries
    /// `End="true"` when `end` is set. An empty `data` with `end` sends one empty End chunk.
    pub async fn send_stdin(&self, command_id: &str, data: &[u8], end: bool) -> Result<(), Error> {
        let chunk = self.stdin_chunk_len(command_id);
        let mut pieces: Vec<&[u8]> = data.chunks(chunk).collect();
        if pieces.is_empty() {
            if !end {
                return Ok(());
            }
            pieces.push(&[]);
        }
        let last = pieces.len() - 1;
        for (i, piece) in pieces.into_iter().enumerate() {
            let body = messages::send_request(command_id, piece, end && i == last);
            self.send_with_retry(&body).await?;
        }
        Ok(())
    }

    /// Bytes of stdin one Send carries for this command.
    pub(crate) fn stdin_chunk_len(&self, command_id: &str) -> usize {
        let empty = build_request(
            &RequestHeader {
                to: self.client.endpoint(),
                action: ns::ACTION_SEND,
                resource_uri: ns::RESOURCE_CMD,
                message_id: "00000000-0000-0000-0000-000000000000",
                max_envelope_size: self.client.config().max_envelope_size,
                operation_timeout: self.client.config().operation_timeout,
                selectors: &self.selectors(),
                options: &[],
            },
            &messages::send_request(command_id, b"", true),
        );
        stdin_chunk_size(self.client.config().max_envelope_size as usize, empty.len())
    }

    async fn send_with_retry(&self, body: &str) -> Result<(), Error> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self
                .client
                .call(
                    ns::ACTION_SEND,
                    ns::RESOURCE_CMD,
                    &self.selectors(),
                    &[],
                    body,
                )
                .await
            {
                Ok(_) => return Ok(()),
                Err(Error::Fault(f))
                    if attempts < 4
                        && matches!(f.kind(), FaultKind::Busy | FaultKind::OperationTimeout) =>
                {
                    debug!(shell_id = %self.id, kind = ?f.kind(), "send not accepted yet, retrying");
                    if f.kind() == FaultKind::Busy {
                        tokio::time::sleep(Duration::from_secs(2)).await;
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// One Receive long poll. An OperationTimeout fault (nothing new within the
    /// OperationTimeout) is answered as an empty output with no command state: ask again.
    pub async fn receive(&self, command_id: &str) -> Result<ReceiveOutput, Error> {
        let opts = [(ns::OPT_KEEPALIVE, "True".to_owned())];
        let body = messages::receive_request(command_id);
        match self
            .client
            .call(
                ns::ACTION_RECEIVE,
                ns::RESOURCE_CMD,
                &self.selectors(),
                &opts,
                &body,
            )
            .await
        {
            Ok(resp) => messages::parse_receive_response(&resp)
                .map_err(|e| Error::protocol(self.client.endpoint(), e, b"")),
            Err(Error::Fault(f)) if f.kind() == FaultKind::OperationTimeout => {
                Ok(ReceiveOutput::default())
            }
            Err(e) => Err(e),
        }
    }

    /// Sends a signal to a command.
    pub async fn signal(&self, command_id: &str, signal: Signal) -> Result<(), Error> {
        let body = messages::signal_request(command_id, signal);
        self.client
            .call(
                ns::ACTION_SIGNAL,
                ns::RESOURCE_CMD,
                &self.selectors(),
                &[],
                &body,
            )
            .await?;
        Ok(())
    }

    /// Deletes the shell (killing its commands on the host).
    pub async fn delete(&self) -> Result<(), Error> {
        self.client
            .call(
                ns::ACTION_DELETE,
                ns::RESOURCE_CMD,
                &self.selectors(),
                &[],
                "",
            )
            .await?;
        debug!(shell_id = %self.id, "shell deleted");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_limits() {
        let arg = |n: usize| vec!["x".repeat(n)];
        // "cmd" + " " + n chars
        assert!(check_command_line("cmd", &arg(8191 - 4), false).is_ok());
        assert!(matches!(
            check_command_line("cmd", &arg(8191 - 3), false),
            Err(Error::CommandLineTooLong {
                length: 8192,
                limit: 8191,
                skip_cmd_shell: false
            })
        ));
        assert!(check_command_line("cmd", &arg(8191 - 3), true).is_ok());
        assert!(matches!(
            check_command_line("cmd", &arg(32767 - 3), true),
            Err(Error::CommandLineTooLong { limit: 32767, .. })
        ));
    }

    #[test]
    fn a_full_stdin_chunk_fits_the_envelope() {
        let header = |data: &[u8]| {
            build_request(
                &RequestHeader {
                    to: "http://some-host.example.com:5985/wsman",
                    action: ns::ACTION_SEND,
                    resource_uri: ns::RESOURCE_CMD,
                    message_id: "DEADBEEF-0000-0000-0000-000000000000",
                    max_envelope_size: 153600,
                    operation_timeout: Duration::from_secs(20),
                    selectors: &[("ShellId", "F15E6BF4-8A64-41F7-BDDE-13F83D9D22DD")],
                    options: &[],
                },
                &messages::send_request("F1363DFB-B5F9-4FDF-AC84-F67D2A886704", data, true),
            )
        };
        for max in [8192usize, 153_600, 512_000] {
            let empty = header(b"").len();
            let n = stdin_chunk_size(max, empty);
            let full = header(&vec![0u8; n]).len();
            assert!(full <= max, "{full} > {max}");
            assert!(full > max - 256 - 8, "chunk too small: {full} for {max}");
        }
        assert_eq!(stdin_chunk_size(1000, 900), 1);
    }
}
