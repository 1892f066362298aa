//! The gRPC listener's connections, tuned for many small request/response exchanges.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
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
#[derive(Debug)]
pub(crate) struct CheckConnection(TcpStream);

impl CheckConnection {
    pub(crate) fn new(stream: TcpStream) -> io::Result<Self> {
        stream.set_nodelay(true)?;
        Ok(Self(stream))
    }
}

impl Connected for CheckConnection {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.0.connect_info()
    }
}

impl AsyncRead for CheckConnection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for CheckConnection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }

    // `is_write_vectored` keeps its default, `false`: see the type's documentation.
}
