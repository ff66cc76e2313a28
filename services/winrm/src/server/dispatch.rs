//! SOAP dispatch: one plaintext request envelope in, one response envelope (or fault) out.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;

use super::handler::ShellInfo;
use super::{ServerEvent, ServerInner};
use crate::envelope::{Envelope, build_response, parse_envelope};
use crate::fault::{self, Fault};
use crate::messages::{self, CreatedShell};
use crate::ns;

/// Who is calling, and how.
pub(crate) struct Caller<'a> {
    pub user: &'a str,
    pub peer: SocketAddr,
    pub secure: bool,
    pub host: Option<&'a str>,
}

fn fault_response(f: &Fault, relates_to: &str) -> (StatusCode, String) {
    (StatusCode::INTERNAL_SERVER_ERROR, f.to_envelope(relates_to))
}

fn ok(action: &str, relates_to: &str, body: &str) -> (StatusCode, String) {
    (
        StatusCode::OK,
        build_response(&format!("{action}Response"), relates_to, body),
    )
}

fn sender_fault(server: &ServerInner, subcode: &str, code: u32, message: &str) -> Fault {
    Fault::new(
        "s:Sender",
        subcode,
        code,
        &server.config.computer_name,
        message,
    )
}

/// Handles one request envelope.
pub(crate) async fn dispatch(
    server: &Arc<ServerInner>,
    caller: &Caller<'_>,
    body: &[u8],
) -> (StatusCode, String) {
    let machine = server.config.computer_name.clone();
    let max_bytes = server.config.max_envelope_size_kb as usize * 1024;
    let env = match parse_envelope(body) {
        Ok(env) => env,
        Err(_) => {
            let f = sender_fault(
                server,
                "w:SchemaValidationError",
                fault::CODE_INVALID_HEADER,
                "The SOAP XML in the message does not match the corresponding XML schema definition. Change the XML and retry. ",
            );
            return fault_response(&f, "");
        }
    };
    let relates_to = env.header.message_id.clone().unwrap_or_default();
    if body.len() > max_bytes {
        let f = sender_fault(
            server,
            "w:EncodingLimit",
            fault::CODE_MAX_ENVELOPE_SIZE_EXCEEDED,
            "The WS-Management service cannot process the request because the envelope size in the request is too large. ",
        );
        return fault_response(&f, &relates_to);
    }
    if env.header.message_id.is_none() {
        let f = sender_fault(
            server,
            "a:InvalidMessageInformationHeader",
            fault::CODE_INVALID_HEADER,
            "The WS-Management service cannot process the request. The request has no MessageID. ",
        );
        return fault_response(&f, &relates_to);
    }
    let timeout = match env.header.operation_timeout() {
        Ok(t) => t
            .unwrap_or(Duration::from_secs(60))
            .min(Duration::from_millis(server.config.max_timeout_ms)),
        Err(_) => {
            let f = sender_fault(
                server,
                "a:InvalidMessageInformationHeader",
                fault::CODE_INVALID_HEADER,
                "The WS-Management service cannot process the request because the OperationTimeout header is not valid. ",
            );
            return fault_response(&f, &relates_to);
        }
    };
    let client_max = match env.header.max_envelope_size() {
        Ok(Some(v)) if v < 8192 => {
            let f = sender_fault(
                server,
                "w:EncodingLimit",
                fault::CODE_ENCODING_LIMIT,
                "The WS-Management service cannot process the request because the MaxEnvelopeSize is smaller than 8192. ",
            );
            return fault_response(&f, &relates_to);
        }
        Ok(Some(v)) => (v as usize).min(max_bytes),
        Ok(None) => max_bytes,
        Err(_) => {
            let f = sender_fault(
                server,
                "a:InvalidMessageInformationHeader",
                fault::CODE_INVALID_HEADER,
                "The WS-Management service cannot process the request because the MaxEnvelopeSize header is not valid. ",
            );
            return fault_response(&f, &relates_to);
        }
    };
    let action = env.header.action.clone().unwrap_or_default();
    let resource = env.header.resource_uri.clone().unwrap_or_default();
    let expected_resource = if action == ns::ACTION_GET {
        ns::RESOURCE_CONFIG
    } else {
        ns::RESOURCE_CMD
    };
    if !resource.eq_ignore_ascii_case(expected_resource) {
        let f = Fault {
            wsman_code: None,
            ..sender_fault(
                server,
                "w:DestinationUnreachable",
                0,
                "The WS-Management service cannot process the request because the resource URI is not supported. ",
            )
        };
        return fault_response(&f, &relates_to);
    }
    let result = match action.as_str() {
        ns::ACTION_CREATE => create(server, caller, &env),
        ns::ACTION_GET => Ok(messages::config_response(
            server.config.max_envelope_size_kb,
            server.config.max_timeout_ms,
            server.config.allow_unencrypted,
            server.config.allow_basic,
        )),
        _ => {
            let shell_id = env
                .header
                .selector("ShellId")
                .unwrap_or_default()
                .to_owned();
            match server.shells.get(&shell_id, caller.user) {
                None => Err(Fault::unknown_shell(&machine, &shell_id)),
                Some(shell) => shell_op(server, &shell, &action, &env, timeout, client_max).await,
            }
        }
    };
    match result {
        Ok(body) => ok(&action, &relates_to, &body),
        Err(f) => fault_response(&f, &relates_to),
    }
}

fn bad_request(server: &ServerInner, e: impl std::fmt::Display) -> Fault {
    sender_fault(
        server,
        "w:InvalidParameter",
        fault::CODE_INVALID_PARAMETER,
        &format!("The parameter is incorrect. {e} "),
    )
}

fn create(server: &Arc<ServerInner>, caller: &Caller<'_>, env: &Envelope) -> Result<String, Fault> {
    let opts = messages::parse_create_request(&env.header, &env.body)
        .map_err(|e| bad_request(server, e))?;
    let shell_id = uuid::Uuid::new_v4().to_string().to_ascii_uppercase();
    let shell = server.shells.insert(ShellInfo {
        shell_id: shell_id.clone(),
        user: caller.user.to_owned(),
        client: caller.peer,
        codepage: opts.codepage,
        no_profile: opts.no_profile.unwrap_or(false),
        environment: opts.environment.clone(),
        working_directory: opts.working_directory.clone(),
    });
    let _ = server.events.send(ServerEvent::ShellCreated {
        shell_id: shell_id.clone(),
        user: caller.user.to_owned(),
    });
    let scheme = if caller.secure { "https" } else { "http" };
    let address = format!(
        "{scheme}://{}{}",
        caller.host.unwrap_or("localhost"),
        server.config.path
    );
    Ok(messages::create_response(&CreatedShell {
        shell_id: &shell.info.shell_id,
        address: &address,
        owner: caller.user,
        client_ip: &caller.peer.ip().to_string(),
        working_directory: opts.working_directory.as_deref(),
        idle_timeout: opts.idle_timeout.unwrap_or(server.config.idle_timeout),
    }))
}

async fn shell_op(
    server: &Arc<ServerInner>,
    shell: &Arc<super::shells::ShellEntry>,
    action: &str,
    env: &Envelope,
    timeout: Duration,
    client_max: usize,
) -> Result<String, Fault> {
    let machine = server.config.computer_name.as_str();
    let shell_id = shell.info.shell_id.clone();
    match action {
        ns::ACTION_COMMAND => {
            let line = messages::parse_command_request(&env.header, &env.body)
                .map_err(|e| bad_request(server, e))?;
            let command_line = line.joined();
            let id = shell.start(server, server.handler.as_ref(), line)?;
            let _ = server.events.send(ServerEvent::CommandStarted {
                shell_id,
                command_id: id.clone(),
                command_line,
            });
            Ok(messages::command_response(&id))
        }
        ns::ACTION_SEND => {
            let chunks =
                messages::parse_send_request(&env.body).map_err(|e| bad_request(server, e))?;
            let command_id = chunks
                .first()
                .and_then(|c| c.command_id.clone())
                .unwrap_or_default();
            let (bytes, end) = shell.send(machine, chunks, timeout).await?;
            let _ = server.events.send(ServerEvent::StdinReceived {
                shell_id,
                command_id,
                bytes,
                end,
            });
            Ok("<rsp:SendResponse/>".to_owned())
        }
        ns::ACTION_RECEIVE => {
            let command_id = messages::parse_receive_request(&env.body)
                .map_err(|e| bad_request(server, e))?
                .ok_or_else(|| Fault::invalid_parameter(machine))?;
            // Room for the data as base64 inside the client's envelope, less the envelope.
            let max_data = (client_max.saturating_sub(4096) / 4 * 3).max(1024);
            match shell.receive(machine, &command_id, timeout, max_data).await {
                Ok(out) => Ok(messages::receive_response(&command_id, &out)),
                Err(f) => {
                    if f.wsman_code == Some(fault::CODE_OPERATION_TIMEOUT) {
                        let _ = server.events.send(ServerEvent::ReceiveTimedOut {
                            shell_id,
                            command_id,
                        });
                    }
                    Err(f)
                }
            }
        }
        ns::ACTION_SIGNAL => {
            let (command_id, signal) =
                messages::parse_signal_request(&env.body).map_err(|e| bad_request(server, e))?;
            let command_id = command_id.ok_or_else(|| Fault::invalid_parameter(machine))?;
            shell.signal(machine, &command_id, signal)?;
            let _ = server.events.send(ServerEvent::Signalled {
                shell_id,
                command_id,
                signal,
            });
            Ok("<rsp:SignalResponse/>".to_owned())
        }
        ns::ACTION_DELETE => {
            server.shells.remove(&shell.info.shell_id, &shell.info.user);
            let _ = server.events.send(ServerEvent::ShellDeleted { shell_id });
            Ok(String::new())
        }
        _ => Err(Fault {
            wsman_code: None,
            ..sender_fault(
                server,
                "a:ActionNotSupported",
                0,
                "The action is not supported by the service. ",
            )
        }),
    }
}
