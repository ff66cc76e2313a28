//! Connections the server can cut when its drain deadline passes. tonic serves each
//! accepted connection in a task of its own, so dropping the `serve` future stops
//! accepting but leaves those tasks (and the calls on them) running; wrapping every
//! accepted socket in [`AbortableIo`] lets the server fail their I/O at the deadline, which
//! makes hyper close the connection and end its task.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::server::{Connected, TcpConnectInfo};

/// A TCP connection whose reads and writes fail once `abort` is cancelled.
pub(crate) struct AbortableIo {
    inner: TcpStream,
    aborted: BoxFuture<'static, ()>,
    is_aborted: bool,
}

impl AbortableIo {
    pub(crate) fn new(inner: TcpStream, abort: &CancellationToken) -> AbortableIo {
        AbortableIo {
            inner,
            aborted: abort.clone().cancelled_owned().boxed(),
            is_aborted: false,
        }
    }

    /// `Err` once aborted; registers the waker for the abort otherwise.
    fn check(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        if !self.is_aborted && self.aborted.poll_unpin(cx).is_ready() {
            self.is_aborted = true;
        }
        if self.is_aborted {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "drain deadline passed",
            ));
        }
        Ok(())
    }
}

impl AsyncRead for AbortableIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.check(cx)?;
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for AbortableIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.check(cx)?;
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check(cx)?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Shutting down an aborted connection is what we want anyway.
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl Connected for AbortableIo {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.inner.connect_info()
    }
}
