//! One connection to a Palaver server: requests out, frames in, one JSON object per line.

use std::time::Duration;

use bytes::BytesMut;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio_rustls::rustls;

use crate::tls::{PinningVerifier, TlsSettings, Trust};

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
    #[error(
        "The server's certificate for {host} has changed: it was {expected}, it is now {got}. \
         This could be someone intercepting the connection, or the server got a new certificate. \
         Refusing to connect. If the server's owner confirms the new fingerprint, remove the line \
         for {host} from {file}."
    )]
    CertificateChanged {
        host: String,
        expected: String,
        got: String,
        file: String,
    },
    #[error("TLS with {host} failed: {reason}")]
    Tls { host: String, reason: String },
}

/// The reading half: frames in.
pub struct FrameReader {
    reader: Box<dyn AsyncRead + Send + Unpin>,
    buf: BytesMut,
    decoder: LineDecoder,
}

/// The writing half: requests out.
pub struct FrameWriter {
    writer: BufWriter<Box<dyn AsyncWrite + Send + Unpin>>,
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

    /// Connects with TLS to `addr` (`host:port`): the certificate must be trusted by the system
    /// or match the fingerprint pinned for `addr` (pinned now if there is none; see [`Trust`]).
    pub async fn connect_tls(
        addr: &str,
        settings: &TlsSettings,
    ) -> Result<(Self, Trust), ConnectionError> {
        let (tls, trust) = tls_stream(addr, settings).await?;
        let (r, w) = tokio::io::split(tls);
        Ok((Self::from_halves(Box::new(r), Box::new(w)), trust))
    }

    pub fn from_stream(stream: TcpStream) -> Self {
        let (reader, writer) = stream.into_split();
        Self::from_halves(Box::new(reader), Box::new(writer))
    }

    fn from_halves(
        reader: Box<dyn AsyncRead + Send + Unpin>,
        writer: Box<dyn AsyncWrite + Send + Unpin>,
    ) -> Self {
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
                resume_token: None,
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

/// A TLS stream to `addr` (`host:port`) whose certificate is trusted by the system or matches the
/// fingerprint pinned for `addr` (pinned now if there is none): the chat's connection, and the
/// client library's HTTPS requests (files).
pub(crate) async fn tls_stream(
    addr: &str,
    settings: &TlsSettings,
) -> Result<(tokio_rustls::client::TlsStream<TcpStream>, Trust), ConnectionError> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|source| ConnectionError::Connect {
            addr: addr.to_string(),
            source,
        })?;
    let _ = stream.set_nodelay(true);
    let host = addr.rsplit_once(':').map(|(h, _)| h).unwrap_or(addr);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let name = rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|e| {
        ConnectionError::Tls {
            host: addr.to_string(),
            reason: e.to_string(),
        }
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(PinningVerifier::new(
        settings,
        addr.to_string(),
        Arc::clone(&provider),
    ));
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConnectionError::Tls {
            host: addr.to_string(),
            reason: e.to_string(),
        })?
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let result = connector.connect(name, stream).await;
    let outcome = verifier
        .outcome
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    match (result, outcome) {
        (Ok(tls), Some(Ok(trust))) => Ok((tls, trust)),
        (_, Some(Err(changed))) => Err(ConnectionError::CertificateChanged {
            host: addr.to_string(),
            expected: changed.expected,
            got: changed.got,
            file: settings.known_hosts.display().to_string(),
        }),
        (Err(e), _) => Err(ConnectionError::Tls {
            host: addr.to_string(),
            reason: e.to_string(),
        }),
        (Ok(_), None) => Err(ConnectionError::Tls {
            host: addr.to_string(),
            reason: "the certificate was not checked".into(),
        }),
    }
}
