//! A test HTTP server that replays a recording: each request our client sends is compared
//! with the next recorded request (action, resource URI, selectors, options, body), and
//! answered with the recorded Windows response (RelatesTo rewritten to the new MessageID,
//! HTTP 500 where the recording had a transport error). Basic auth over plain HTTP.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use aetherv_winrm::envelope::{Envelope, parse_envelope};
use aetherv_winrm::messages;
use aetherv_winrm::ns;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::recordings::Message;

#[derive(Default)]
struct State {
    pending: VecDeque<Message>,
    mismatches: Vec<String>,
    served: usize,
}

pub struct Replay {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
    /// Signal codes may differ (our `run` sends terminate where pypsrp sent ctrl_c).
    pub allow_other_signal: bool,
}

impl Drop for Replay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Replay {
    pub async fn start(messages: Vec<Message>, allow_other_signal: bool) -> Replay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            pending: messages.into(),
            ..State::default()
        }));
        let st = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let st = st.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        let st = st.clone();
                        async move {
                            Ok::<_, std::convert::Infallible>(
                                answer(st, req, allow_other_signal).await,
                            )
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), svc)
                        .await;
                });
            }
        });
        Replay {
            addr,
            state,
            task,
            allow_other_signal,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/wsman", self.addr)
    }

    /// Panics unless every recorded message was requested, in order, and matched.
    pub fn assert_complete(&self) {
        let st = self.state.lock().unwrap();
        assert!(
            st.mismatches.is_empty(),
            "requests differ from the recording: {:#?}",
            st.mismatches
        );
        assert!(
            st.pending.is_empty(),
            "{} recorded messages were never requested",
            st.pending.len()
        );
    }

    pub fn served(&self) -> usize {
        self.state.lock().unwrap().served
    }
}

async fn answer(
    st: Arc<Mutex<State>>,
    req: Request<Incoming>,
    allow_other_signal: bool,
) -> Response<Full<Bytes>> {
    let has_basic = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Basic "));
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mut st = st.lock().unwrap();
    let fail = |st: &mut State, why: String| {
        st.mismatches.push(why);
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::BAD_REQUEST;
        r
    };
    if !has_basic {
        return fail(&mut st, "request without basic credentials".into());
    }
    let Some(msg) = st.pending.pop_front() else {
        return fail(&mut st, "request after the end of the recording".into());
    };
    let rec = parse_envelope(msg.request.as_bytes()).expect("recorded request parses");
    let act = match parse_envelope(&body) {
        Ok(a) => a,
        Err(e) => return fail(&mut st, format!("request does not parse: {e}")),
    };
    if let Err(why) = compare(&rec, &act, allow_other_signal) {
        return fail(&mut st, why);
    }
    st.served += 1;
    let rec_id = rec.header.message_id.clone().unwrap_or_default();
    let new_id = act.header.message_id.clone().unwrap_or_default();
    let response = msg.response.replace(&rec_id, &new_id);
    let mut r = Response::new(Full::new(Bytes::from(response)));
    *r.status_mut() = StatusCode::from_u16(msg.http_status.unwrap_or(200)).unwrap();
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        ns::SOAP_CONTENT_TYPE.parse().unwrap(),
    );
    r
}

fn norm_pairs(pairs: &[(String, String)]) -> Vec<(String, String)> {
    let mut v: Vec<_> = pairs
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_ascii_lowercase()))
        .collect();
    v.sort();
    v
}

/// Compares what a client sent with what pypsrp sent to Windows.
pub fn compare(rec: &Envelope, act: &Envelope, allow_other_signal: bool) -> Result<(), String> {
    let (rh, ah) = (&rec.header, &act.header);
    let action = rh.action.clone().unwrap_or_default();
    if rh.action != ah.action {
        return Err(format!(
            "action {:?} != recorded {:?}",
            ah.action, rh.action
        ));
    }
    let eq_ci = |a: &Option<String>, b: &Option<String>| {
        a.as_deref().map(str::to_ascii_lowercase) == b.as_deref().map(str::to_ascii_lowercase)
    };
    if !eq_ci(&rh.resource_uri, &ah.resource_uri) {
        return Err(format!(
            "{action}: resource {:?} != {:?}",
            ah.resource_uri, rh.resource_uri
        ));
    }
    if norm_pairs(&rh.selectors) != norm_pairs(&ah.selectors) {
        return Err(format!(
            "{action}: selectors {:?} != {:?}",
            ah.selectors, rh.selectors
        ));
    }
    if norm_pairs(&rh.options) != norm_pairs(&ah.options) {
        return Err(format!(
            "{action}: options {:?} != {:?}",
            ah.options, rh.options
        ));
    }
    if rh.max_envelope_size != ah.max_envelope_size
        || rh.operation_timeout().ok() != ah.operation_timeout().ok()
    {
        return Err(format!("{action}: MaxEnvelopeSize/OperationTimeout differ"));
    }
    let body_eq = match action.as_str() {
        ns::ACTION_CREATE => {
            messages::parse_create_request(rh, &rec.body).ok()
                == messages::parse_create_request(ah, &act.body).ok()
        }
        ns::ACTION_COMMAND => {
            messages::parse_command_request(rh, &rec.body).ok()
                == messages::parse_command_request(ah, &act.body).ok()
        }
        ns::ACTION_SEND => {
            let norm = |e: &Envelope| {
                messages::parse_send_request(&e.body).ok().map(|v| {
                    v.into_iter()
                        .map(|c| (c.data, c.end, c.command_id.map(|s| s.to_ascii_lowercase())))
                        .collect::<Vec<_>>()
                })
            };
            norm(rec) == norm(act)
        }
        ns::ACTION_RECEIVE => {
            let norm = |e: &Envelope| {
                messages::parse_receive_request(&e.body)
                    .ok()
                    .map(|o| o.map(|s| s.to_ascii_lowercase()))
            };
            norm(rec) == norm(act)
        }
        ns::ACTION_SIGNAL => {
            let r = messages::parse_signal_request(&rec.body).ok();
            let a = messages::parse_signal_request(&act.body).ok();
            match (r, a) {
                (Some((ri, rs)), Some((ai, as_))) => {
                    ri.map(|s| s.to_ascii_lowercase()) == ai.map(|s| s.to_ascii_lowercase())
                        && (allow_other_signal || rs == as_)
                }
                _ => false,
            }
        }
        ns::ACTION_DELETE | ns::ACTION_GET => {
            rec.body.children.is_empty() && act.body.children.is_empty()
        }
        _ => false,
    };
    if !body_eq {
        return Err(format!("{action}: body differs"));
    }
    Ok(())
}
