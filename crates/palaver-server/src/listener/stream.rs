//! A connection's two halves, plain TCP or TLS, behind one interface.
//!
//! Plain TCP keeps the allocation-free read of the original listener: wait until the socket is
//! readable, then read what is there into the connection's buffer (which exists only while it
//! holds bytes). TLS reads through rustls, which keeps its own buffers.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWrite, ReadHalf, WriteHalf};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

pub enum ReadSide {
    Plain(OwnedReadHalf),
    Tls(ReadHalf<TlsStream<TcpStream>>),
}

pub enum WriteSide {
    Plain(OwnedWriteHalf),
    Tls(WriteHalf<TlsStream<TcpStream>>),
}

/// Splits a plain connection.
pub fn plain(stream: TcpStream) -> (ReadSide, WriteSide) {
    let (r, w) = stream.into_split();
    (ReadSide::Plain(r), WriteSide::Plain(w))
}

/// Splits a TLS connection.
pub fn tls(stream: TlsStream<TcpStream>) -> (ReadSide, WriteSide) {
    let (r, w) = tokio::io::split(stream);
    (ReadSide::Tls(r), WriteSide::Tls(w))
}

impl ReadSide {
    /// Reads what is available (waiting for at least one byte) into `buf`, at most about
    /// `max_line_bytes` beyond it. Returns 0 at the end of the stream. Cancel-safe.
    pub async fn read_some(
        &mut self,
        buf: &mut BytesMut,
        max_line_bytes: usize,
    ) -> io::Result<usize> {
        let want = 8192.min(max_line_bytes + 2);
        match self {
            ReadSide::Plain(reader) => loop {
                reader.readable().await?;
                let mut chunk = [0u8; 8192];
                match reader.try_read(&mut chunk[..want]) {
                    Ok(n) => {
                        buf.extend_from_slice(&chunk[..n]);
                        return Ok(n);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    Err(e) => return Err(e),
                }
            },
            ReadSide::Tls(reader) => {
                buf.reserve(want);
                let mut limited = (&mut *reader).take(want as u64);
                limited.read_buf(buf).await
            }
        }
    }
}

impl AsyncWrite for WriteSide {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            WriteSide::Plain(w) => Pin::new(w).poll_write(cx, data),
            WriteSide::Tls(w) => Pin::new(w).poll_write(cx, data),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WriteSide::Plain(w) => Pin::new(w).poll_flush(cx),
            WriteSide::Tls(w) => Pin::new(w).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WriteSide::Plain(w) => Pin::new(w).poll_shutdown(cx),
            WriteSide::Tls(w) => Pin::new(w).poll_shutdown(cx),
        }
    }
}
