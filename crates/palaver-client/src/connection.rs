//! One connection to a Palaver server: requests out, frames in, one JSON object per line.

use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpStream, ToSocketAddrs};

use palaver_proto::client_frame::Request;
use palaver_proto::{ClientFrame, CodecError, ErrorCode, LineDecoder, ServerFrame, Welcome};

/// Server frames can carry pages of history; accept lines up to this size.
pub const MAX_SERVER_FRAME_BYTES: usize = 8 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("connection error: {0}")]
    Io(#[from] std::io::Error),
    #[error("the server closed the connection")]
    Closed,
    #[error("the server sent a line that is not a valid frame: {0}")]
    BadFrame(String),
    #[error("{message} ({code})")]
    Refused { code: ErrorCode, message: String },
    #[error("timed out waiting for the server")]
    Timeout,
}

/// The reading half: frames in.
pub struct FrameReader {
    reader: OwnedReadHalf,
    buf: BytesMut,
    decoder: LineDecoder,
}

/// The writing half: requests out.
pub struct FrameWriter {
    writer: BufWriter<OwnedWriteHalf>,
}

/// A connection, both halves.
pub struct Connection {
    pub reader: FrameReader,
    pub writer: FrameWriter,
}

impl Connection {
    pub async fn connect(
        addr: impl ToSocketAddrs + std::fmt::Display,
    ) -> Result<Self, ConnectionError> {
        let shown = addr.to_string();
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|source| ConnectionError::Connect {
                addr: shown,
                source,
            })?;
        let _ = stream.set_nodelay(true);
        Ok(Self::from_stream(stream))
    }

    pub fn from_stream(stream: TcpStream) -> Self {
        let (reader, writer) = stream.into_split();
        Connection {
            reader: FrameReader {
                reader,
                buf: BytesMut::with_capacity(8192),
                decoder: LineDecoder::new(MAX_SERVER_FRAME_BYTES),
            },
            writer: FrameWriter {
                writer: BufWriter::new(writer),
            },
        }
    }

    /// Connects and joins; returns the welcome, or the server's refusal (e.g. `username_taken`).
    pub async fn join(
        addr: impl ToSocketAddrs + std::fmt::Display,
        username: &str,
    ) -> Result<(Connection, Box<Welcome>), ConnectionError> {
        let mut conn = Connection::connect(addr).await?;
        let welcome = conn
            .join_as(ClientFrame::Join {
                username: username.to_string(),
                since: None,
                rooms: None,
            })
            .await?;
        Ok((conn, welcome))
    }

    /// Sends a join frame and waits for the welcome (or the error refusing it).
    pub async fn join_as(&mut self, join: ClientFrame) -> Result<Box<Welcome>, ConnectionError> {
        self.send(&join).await?;
        loop {
            match self.recv_timeout(Duration::from_secs(10)).await? {
                ServerFrame::Welcome(welcome) => return Ok(welcome),
                ServerFrame::Error { code, message, .. } => {
                    return Err(ConnectionError::Refused { code, message })
                }
                _ => continue,
            }
        }
    }

    pub async fn send(&mut self, frame: &ClientFrame) -> Result<(), ConnectionError> {
        self.writer.send(frame).await
    }

    pub async fn send_request(&mut self, request: &Request) -> Result<(), ConnectionError> {
        self.writer.send_request(request).await
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), ConnectionError> {
        self.writer.send_raw(bytes).await
    }

    pub async fn recv(&mut self) -> Result<ServerFrame, ConnectionError> {
        self.reader.recv().await
    }

    pub async fn recv_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<ServerFrame, ConnectionError> {
        tokio::time::timeout(timeout, self.recv())
            .await
            .map_err(|_| ConnectionError::Timeout)?
    }

    pub fn into_split(self) -> (FrameReader, FrameWriter) {
        (self.reader, self.writer)
    }
}

impl FrameReader {
    /// The next frame; `Closed` at end of stream.
    pub async fn recv(&mut self) -> Result<ServerFrame, ConnectionError> {
        loop {
            if let Some(line) = self.decoder.decode(&mut self.buf) {
                let line =
                    line.map_err(|e: CodecError| ConnectionError::BadFrame(e.to_string()))?;
                return serde_json::from_slice(&line)
                    .map_err(|e| ConnectionError::BadFrame(e.to_string()));
            }
            if self.reader.read_buf(&mut self.buf).await? == 0 {
                return Err(ConnectionError::Closed);
            }
        }
    }
}

impl FrameWriter {
    pub async fn send(&mut self, frame: &ClientFrame) -> Result<(), ConnectionError> {
        let line = palaver_proto::encode_frame(frame);
        self.send_raw(&line).await
    }

    pub async fn send_request(&mut self, request: &Request) -> Result<(), ConnectionError> {
        let line = palaver_proto::encode_frame(request);
        self.send_raw(&line).await
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), ConnectionError> {
        self.writer.write_all(bytes).await?;
        self.writer.flush().await?;
        Ok(())
    }

    pub async fn shutdown(&mut self) -> Result<(), ConnectionError> {
        self.writer.shutdown().await?;
        Ok(())
    }
}
