//! The network side of a host: its listeners on its loopback address, served through
//! `aetherv_winrm`'s server, following the host's responsiveness knob:
//! - normal: accept and serve;
//! - unresponsive: accept TCP and never answer — reads and writes of every connection,
//!   new and existing, wait until the knob changes (TLS handshakes included);
//! - refuse: the listener is closed (connects get RST/ECONNREFUSED) and existing
//!   connections are cut; it is bound again on the same port when the knob changes.

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use aetherv_winrm::server::WinrmServer;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::error::Error;
use crate::host::SimHost;
use crate::knobs::Responsiveness;

/// The address of host `index` counting from `base`: the last octet runs 1–254, then the
/// next /24 (`127.0.10.254` is followed by `127.0.11.1`). Stays inside 127.0.0.0/8.
pub fn host_address(base: Ipv4Addr, index: u32) -> Result<Ipv4Addr, Error> {
    let [a, b, c, d] = base.octets();
    if a != 127 {
        return Err(Error::invalid("base_address", "must be in 127.0.0.0/8"));
    }
    if d == 0 || d == 255 {
        return Err(Error::invalid(
            "base_address",
            "its last octet must be 1 to 254",
        ));
    }
    let position = u32::from(d - 1) + index;
    let block = u32::from(b) * 256 + u32::from(c) + position / 254;
    let last = position % 254 + 1;
    if block > 0xffff {
        return Err(Error::invalid(
            "base_address",
            "too many hosts for 127.0.0.0/8 from this base",
        ));
    }
    Ok(Ipv4Addr::new(
        127,
        (block >> 8) as u8,
        (block & 0xff) as u8,
        last as u8,
    ))
}

/// Binds a listener.
pub async fn bind(addr: SocketAddr, what: &str) -> Result<TcpListener, Error> {
    TcpListener::bind(addr).await.map_err(|source| Error::Bind {
        what: what.to_owned(),
        addr,
        source,
    })
}

type Wait = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A connection that stops moving bytes while its host is unresponsive.
pub struct GatedIo<T> {
    inner: T,
    gate: watch::Receiver<Responsiveness>,
    read_wait: Option<Wait>,
    write_wait: Option<Wait>,
}

impl<T> GatedIo<T> {
    /// Wraps `inner`, gated by `gate`.
    pub fn new(inner: T, gate: watch::Receiver<Responsiveness>) -> GatedIo<T> {
        GatedIo {
            inner,
            gate,
            read_wait: None,
            write_wait: None,
        }
    }
}

fn poll_gate(
    gate: &watch::Receiver<Responsiveness>,
    wait: &mut Option<Wait>,
    cx: &mut Context<'_>,
) -> Poll<()> {
    if *gate.borrow() != Responsiveness::Unresponsive {
        *wait = None;
        return Poll::Ready(());
    }
    let fut = wait.get_or_insert_with(|| {
        let mut rx = gate.clone();
        Box::pin(async move {
            // An error means the host is gone: let the connection proceed and end.
            let _ = rx.wait_for(|r| *r != Responsiveness::Unresponsive).await;
        })
    });
    ready!(fut.as_mut().poll(cx));
    *wait = None;
    Poll::Ready(())
}

impl<T: AsyncRead + Unpin> AsyncRead for GatedIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(poll_gate(&this.gate, &mut this.read_wait, cx));
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for GatedIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(poll_gate(&this.gate, &mut this.write_wait, cx));
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(poll_gate(&this.gate, &mut this.write_wait, cx));
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

fn serve(
    conns: &mut JoinSet<()>,
    host: &SimHost,
    server: &WinrmServer,
    tls: &Option<TlsAcceptor>,
    tcp: TcpStream,
    peer: SocketAddr,
) {
    let _ = tcp.set_nodelay(true);
    let io = GatedIo::new(tcp, host.watch_responsiveness());
    let (server, tls) = (server.clone(), tls.clone());
    conns.spawn(async move {
        let result = match tls {
            Some(t) => server.serve_tls_connection(io, peer, &t).await,
            None => server.serve_connection(io, peer).await,
        };
        if let Err(e) = result {
            debug!(%peer, error = %e, "winrm connection ended with an error");
        }
    });
}

/// Serves one listener of one host until `shutdown`, following its responsiveness.
pub async fn supervise(
    host: SimHost,
    server: WinrmServer,
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shutdown: CancellationToken,
) {
    let Ok(addr) = listener.local_addr() else {
        return;
    };
    let mut listener = Some(listener);
    let mut conns = JoinSet::new();
    let mut knob = host.watch_responsiveness();
    loop {
        let mode = *knob.borrow_and_update();
        if mode == Responsiveness::Refuse {
            listener = None;
            conns.abort_all();
            tokio::select! {
                _ = shutdown.cancelled() => break,
                r = knob.changed() => if r.is_err() { break },
            }
            continue;
        }
        let Some(l) = listener.as_ref() else {
            match TcpListener::bind(addr).await {
                Ok(l) => listener = Some(l),
                Err(e) => {
                    warn!(%addr, error = %e, "cannot listen again; retrying");
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                    }
                }
            }
            continue;
        };
        tokio::select! {
            _ = shutdown.cancelled() => break,
            r = knob.changed() => if r.is_err() { break },
            accepted = l.accept() => match accepted {
                Ok((tcp, peer)) => serve(&mut conns, &host, &server, &tls, tcp, peer),
                Err(e) => debug!(%addr, error = %e, "accept failed"),
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    conns.shutdown().await;
    server.close_all_shells();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_skip_network_and_broadcast_octets() {
        let base = Ipv4Addr::new(127, 0, 10, 1);
        assert_eq!(
            host_address(base, 0).ok(),
            Some(Ipv4Addr::new(127, 0, 10, 1))
        );
        assert_eq!(
            host_address(base, 253).ok(),
            Some(Ipv4Addr::new(127, 0, 10, 254))
        );
        assert_eq!(
            host_address(base, 254).ok(),
            Some(Ipv4Addr::new(127, 0, 11, 1))
        );
        assert_eq!(
            host_address(base, 499).ok(),
            Some(Ipv4Addr::new(127, 0, 11, 246))
        );
        assert_eq!(
            host_address(Ipv4Addr::new(127, 0, 20, 200), 60).ok(),
            Some(Ipv4Addr::new(127, 0, 21, 6))
        );
        assert!(host_address(Ipv4Addr::new(10, 0, 0, 1), 0).is_err());
        assert!(host_address(Ipv4Addr::new(127, 0, 10, 0), 0).is_err());
        assert!(host_address(Ipv4Addr::new(127, 255, 255, 254), 1).is_err());
    }
}
