//! The HTTP side of the listener: per-connection authentication (NTLM/Negotiate with
//! message encryption, Basic), and sealing of request and response bodies.

use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use tokio::sync::Mutex;
use tracing::debug;

use super::dispatch::{Caller, dispatch};
use super::{AuthScheme, ServerEvent, ServerInner};
use crate::encryption;
use crate::ns;
use crate::ntlm::{AcceptStep, NtlmAcceptor, SealingContext};

/// Authentication state of one TCP connection (the NTLM context belongs to it).
#[derive(Default)]
pub(crate) struct ConnState {
    acceptor: Option<NtlmAcceptor>,
    sealing: Option<SealingContext>,
    user: Option<String>,
}

enum Credentials {
    Negotiate(Vec<u8>),
    Basic(String, String),
    None,
    Unsupported,
}

fn credentials(req: &Request<Incoming>) -> Credentials {
    let Some(v) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Credentials::None;
    };
    let Some((scheme, value)) = v.trim().split_once(' ') else {
        return Credentials::Unsupported;
    };
    if scheme.eq_ignore_ascii_case("Negotiate") || scheme.eq_ignore_ascii_case("NTLM") {
        return B64
            .decode(value.trim())
            .map_or(Credentials::Unsupported, Credentials::Negotiate);
    }
    if scheme.eq_ignore_ascii_case("Basic") {
        let decoded = B64
            .decode(value.trim())
            .ok()
            .and_then(|d| String::from_utf8(d).ok());
        if let Some((u, p)) = decoded.as_deref().and_then(|d| d.split_once(':')) {
            return Credentials::Basic(u.to_owned(), p.to_owned());
        }
    }
    Credentials::Unsupported
}

fn response(
    status: StatusCode,
    content_type: Option<&'static str>,
    body: Vec<u8>,
) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::SERVER,
        HeaderValue::from_static("Microsoft-HTTPAPI/2.0"),
    );
    if let Some(ct) = content_type {
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    r
}

fn unauthorized(server: &ServerInner, secure: bool, token: Option<&[u8]>) -> Response<Full<Bytes>> {
    let mut r = response(StatusCode::UNAUTHORIZED, None, Vec::new());
    let h = r.headers_mut();
    match token {
        Some(t) => {
            if let Ok(v) = HeaderValue::from_str(&format!("Negotiate {}", B64.encode(t))) {
                h.append(header::WWW_AUTHENTICATE, v);
            }
        }
        None => {
            if server.config.allow_ntlm {
                h.append(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Negotiate"),
                );
            }
            if server.basic_allowed(secure) {
                h.append(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"WSMAN\""),
                );
            }
        }
    }
    r
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Handles one HTTP request on a connection.
pub(crate) async fn handle(
    server: Arc<ServerInner>,
    state: Arc<Mutex<ConnState>>,
    peer: SocketAddr,
    secure: bool,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    if !req.uri().path().eq_ignore_ascii_case(&server.config.path) {
        return response(StatusCode::NOT_FOUND, None, Vec::new());
    }
    if req.method() != http::Method::POST {
        return response(StatusCode::METHOD_NOT_ALLOWED, None, Vec::new());
    }
    let creds = credentials(&req);
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let limit = server.config.max_envelope_size_kb as usize * 1024 * 2 + 64 * 1024;
    let body = match Limited::new(req.into_body(), limit).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return response(StatusCode::PAYLOAD_TOO_LARGE, None, Vec::new()),
    };
    let mut st = state.lock().await;
    let mut final_token = None;
    let mut basic_user = None;
    match creds {
        Credentials::Negotiate(token) => {
            if !server.config.allow_ntlm {
                return unauthorized(&server, secure, None);
            }
            let is_first = token.starts_with(b"NTLMSSP\0") && token.get(8) == Some(&1)
                || token.first() == Some(&0x60);
            if is_first {
                st.user = None;
                st.sealing = None;
                match NtlmAcceptor::for_first_token(
                    &token,
                    &server.acceptor_users,
                    &server.config.computer_name,
                ) {
                    Ok(a) => st.acceptor = Some(a),
                    Err(_) => return unauthorized(&server, secure, None),
                }
            }
            let Some(mut acceptor) = st.acceptor.take() else {
                return unauthorized(&server, secure, None);
            };
            match acceptor.step(&token, &server.acceptor_users) {
                Ok(AcceptStep::Continue(out)) => {
                    st.acceptor = Some(acceptor);
                    return unauthorized(&server, secure, Some(&out));
                }
                Ok(AcceptStep::Done {
                    user,
                    final_token: t,
                }) => {
                    debug!(%peer, user = %user, "ntlm authenticated");
                    let _ = server.events.send(ServerEvent::Authenticated {
                        peer,
                        user: user.clone(),
                        scheme: AuthScheme::Negotiate,
                    });
                    st.user = Some(user);
                    st.sealing = Some(acceptor.into_sealing());
                    final_token = t;
                }
                Err(_) => {
                    debug!(%peer, "ntlm authentication refused");
                    let _ = server
                        .events
                        .send(ServerEvent::AuthenticationFailed { peer });
                    return unauthorized(&server, secure, None);
                }
            }
        }
        Credentials::Basic(user, password) => {
            let known = server
                .config
                .users
                .iter()
                .find(|u| u.username.eq_ignore_ascii_case(&user));
            let good = known.is_some_and(|u| {
                constant_time_eq(u.password.expose().as_bytes(), password.as_bytes())
            });
            if !server.basic_allowed(secure) || !good {
                let _ = server
                    .events
                    .send(ServerEvent::AuthenticationFailed { peer });
                return unauthorized(&server, secure, None);
            }
            let _ = server.events.send(ServerEvent::Authenticated {
                peer,
                user: user.clone(),
                scheme: AuthScheme::Basic,
            });
            basic_user = Some(user);
        }
        Credentials::Unsupported => return unauthorized(&server, secure, None),
        Credentials::None => {
            if st.user.is_none() || st.sealing.is_none() && !secure {
                return unauthorized(&server, secure, None);
            }
        }
    }
    let basic = basic_user.is_some();
    let Some(user) = basic_user.or_else(|| st.user.clone()) else {
        return unauthorized(&server, secure, None);
    };
    let mut resp = if body.is_empty() {
        response(StatusCode::OK, None, Vec::new())
    } else if encryption::is_encrypted_content_type(&content_type) {
        let Some(sealing) = st.sealing.as_mut() else {
            return response(StatusCode::BAD_REQUEST, None, Vec::new());
        };
        let plain = match sealing.decrypt_body(&body) {
            Ok(p) => p,
            Err(e) => {
                debug!(%peer, error = %e, "cannot decrypt request body");
                return response(StatusCode::BAD_REQUEST, None, Vec::new());
            }
        };
        let caller = Caller {
            user: &user,
            peer,
            secure,
            host: host.as_deref(),
        };
        let (status, soap) = dispatch(&server, &caller, &plain).await;
        match st.sealing.as_mut().map(|s| s.encrypt_body(soap.as_bytes())) {
            Some(Ok(sealed)) => response(status, Some(encryption::CONTENT_TYPE), sealed),
            _ => response(StatusCode::INTERNAL_SERVER_ERROR, None, Vec::new()),
        }
    } else if secure || basic || server.config.allow_unencrypted {
        let caller = Caller {
            user: &user,
            peer,
            secure,
            host: host.as_deref(),
        };
        let (status, soap) = dispatch(&server, &caller, &body).await;
        response(status, Some(ns::SOAP_CONTENT_TYPE), soap.into_bytes())
    } else {
        // Windows with AllowUnencrypted=false: HTTP 500 with an empty body.
        response(StatusCode::INTERNAL_SERVER_ERROR, None, Vec::new())
    };
    if let Some(t) = final_token
        && let Ok(v) = HeaderValue::from_str(&format!("Negotiate {}", B64.encode(t)))
    {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as B64;
    use bytes::Bytes;
    use http::{Request, StatusCode, header};
    use http_body_util::{BodyExt, Full};
    use hyper_util::rt::TokioIo;

    use crate::encryption;
    use crate::envelope::{RequestHeader, build_request, parse_envelope};
    use crate::fault::Fault;
    use crate::messages::{self, ShellOptions};
    use crate::ns;
    use crate::ntlm::NtlmClient;
    use crate::server::{ProcessFuture, ProcessIo, ServerConfig, ServerUser, WinrmServer};

    fn create_envelope() -> String {
        let (opts, body) = messages::create_request(&ShellOptions::default());
        build_request(
            &RequestHeader {
                to: "http://127.0.0.1/wsman",
                action: ns::ACTION_CREATE,
                resource_uri: ns::RESOURCE_CMD,
                message_id: "6D1F4B2A-0000-4000-8000-000000000001",
                max_envelope_size: 153_600,
                operation_timeout: Duration::from_secs(20),
                selectors: &[],
                options: &opts,
            },
            &body,
        )
    }

    /// Windows' own client sends the first sealed body on the Type-3 request itself.
    #[tokio::test]
    async fn sealed_body_on_the_type3_request_is_accepted() {
        let handler = |_: crate::server::CommandRequest,
                       _: ProcessIo|
         -> Result<ProcessFuture, Fault> { Ok(Box::pin(async { 0 })) };
        let config = ServerConfig::new("SIMHOST", vec![ServerUser::new("vagrant", "pw-1")]);
        let server = WinrmServer::new(config, Arc::new(handler)).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let srv = server.clone();
        let task = tokio::spawn(async move {
            let (tcp, peer) = listener.accept().await.unwrap();
            let _ = srv.serve_connection(tcp, peer).await;
        });
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .unwrap();
        tokio::spawn(conn);
        let post = |auth: String, ct: &'static str, body: Vec<u8>| {
            Request::post("/wsman")
                .header(header::HOST, addr.to_string())
                .header(header::AUTHORIZATION, auth)
                .header(header::CONTENT_TYPE, ct)
                .body(Full::new(Bytes::from(body)))
                .unwrap()
        };

        let mut client = NtlmClient::new("vagrant", "pw-1", "127.0.0.1").unwrap();
        let t1 = client.step(None).unwrap();
        let resp = sender
            .send_request(post(
                format!("Negotiate {}", B64.encode(&t1)),
                ns::SOAP_CONTENT_TYPE,
                Vec::new(),
            ))
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        let challenge =
            crate::client::challenge_token_for_tests(resp.headers()).expect("a challenge");
        let _ = resp.into_body().collect().await;
        let t3 = client.step(Some(&challenge)).unwrap();
        let mut sealing = client.into_sealing();
        let create = create_envelope();
        let sealed = sealing.encrypt_body(create.as_bytes()).unwrap();
        sender.ready().await.unwrap();
        let resp = sender
            .send_request(post(
                format!("Negotiate {}", B64.encode(&t3)),
                encryption::CONTENT_TYPE,
                sealed,
            ))
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let ct = resp.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(encryption::is_encrypted_content_type(&ct));
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let plain = sealing.decrypt_body(&body).unwrap();
        let env = parse_envelope(&plain).unwrap();
        assert!(
            !messages::parse_create_response(&env.body)
                .unwrap()
                .is_empty()
        );
        assert_eq!(server.shell_count(), 1);

        // The same session, now without an Authorization header: a plaintext body on
        // HTTP is refused with an empty 500, a sealed one is served.
        sender.ready().await.unwrap();
        let mut req = post(
            String::new(),
            ns::SOAP_CONTENT_TYPE,
            create.clone().into_bytes(),
        );
        req.headers_mut().remove(header::AUTHORIZATION);
        let resp = sender.send_request(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            resp.into_body()
                .collect()
                .await
                .unwrap()
                .to_bytes()
                .is_empty()
        );
        sender.ready().await.unwrap();
        let mut req = post(
            String::new(),
            encryption::CONTENT_TYPE,
            sealing.encrypt_body(create.as_bytes()).unwrap(),
        );
        req.headers_mut().remove(header::AUTHORIZATION);
        let resp = sender.send_request(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert!(sealing.decrypt_body(&body).is_ok());
        assert_eq!(server.shell_count(), 2);
        task.abort();
    }
}
