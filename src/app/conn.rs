//! The gRPC listener's connections, tuned for many small request/response exchanges, and closed
//! when their client has gone silent.
//!
//! It must not: look at the bytes that pass through, or close a connection that is in use.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};
use tonic::transport::server::{Connected, TcpConnectInfo};

/// An accepted gRPC connection.
///
/// Two settings make a Check's answer leave in one write system call instead of two or three
/// (and, on a worker's event loop, together with the answers of the other Checks that were
/// ready at the same time: see `workers`):
///
/// - `TCP_NODELAY`: with Nagle's algorithm on, a response can wait for the peer's delayed ACK
///   (40 ms on Linux). tonic sets it only on listeners it binds itself.
/// - No vectored writes: h2 then copies DATA frames of up to 1 KiB into its write buffer (instead
///   of chaining those over 256 bytes and flushing them on their own), so a `CheckResponse`'s
///   HEADERS, DATA and trailers leave together. An allow with identity headers and dynamic
///   metadata is about 930 bytes; measured with `scripts/bench-load.py`, this took the write calls
///   per Check from 2 to 1 (on tokio's multi-thread scheduler, before the workers).
///
/// A connection whose client sends nothing for its idle timeout is closed (reading from it
/// fails with `TimedOut`, and the server drops it): an abandoned connection costs about 32 KiB of
/// buffers, and nothing else would ever free it. Envoy sends Checks, or at least its pings, far
/// more often. The check is lazy, to keep it off the path of every read: a timer fires every
/// idle timeout, and the connection is closed when nothing was read since the last time it
/// fired, so a silent connection is closed between one and two idle timeouts after its last
/// byte.
#[derive(Debug)]
pub(crate) struct CheckConnection {
    stream: TcpStream,
    idle_timeout: Duration,
    /// When to look again whether anything was read.
    timer: Pin<Box<Sleep>>,
    /// Whether something was read since the timer last fired.
    active: bool,
}

impl CheckConnection {
    /// `stream`, closed once its client has sent nothing for `idle_timeout` (see the type).
    /// Call it within the runtime that serves the connection: its timer belongs there.
    pub(crate) fn new(stream: TcpStream, idle_timeout: Duration) -> io::Result<Self> {
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            idle_timeout,
            timer: Box::pin(tokio::time::sleep(idle_timeout)),
            active: false,
        })
    }

    /// `Ready` once the connection has been silent for an idle timeout; otherwise the timer is
    /// armed to wake the reader.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        while self.timer.as_mut().poll(cx).is_ready() {
            if !std::mem::take(&mut self.active) {
                return Poll::Ready(());
            }
            let next = Instant::now() + self.idle_timeout;
            self.timer.as_mut().reset(next);
        }
        Poll::Pending
    }
}

impl Connected for CheckConnection {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.stream.connect_info()
    }
}

impl AsyncRead for CheckConnection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(result) => {
                this.active |= buf.filled().len() > before;
                Poll::Ready(result)
            }
            Poll::Pending => match this.poll_idle(cx) {
                Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the client sent nothing for the idle timeout",
                ))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl AsyncWrite for CheckConnection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    // `is_write_vectored` keeps its default, `false`: see the type's documentation.
}
