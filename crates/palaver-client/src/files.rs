//! Files over the server's HTTP listener: sending an upload's bytes to the link the server
//! granted, and fetching a file by its link (hyper's HTTP/1 client). An `https://` base is
//! reached over TLS with the same trust as the chat connection (the system's roots, or the
//! certificate pinned for that address: see [`crate::TlsSettings`]).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::rt::{TokioExecutor, TokioIo};

use palaver_proto::ErrorCode;

use crate::tls::TlsSettings;

/// A file the server kept: the answer to an upload.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Uploaded {
    pub id: String,
    pub name: String,
    pub size: u64,
    pub content_type: String,
}

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("the server refused the file: {message} ({code})")]
    Refused { code: ErrorCode, message: String },
    #[error("HTTP: {0}")]
    Http(String),
    #[error("this server takes no files")]
    NoFiles,
}

/// `base` (`welcome`'s `http_base`) and a path the server gave.
fn url(base: &str, path: &str) -> Result<hyper::Uri, FileError> {
    format!("{}{path}", base.trim_end_matches('/'))
        .parse()
        .map_err(|e| FileError::Http(format!("{e}")))
}

/// The longest one file request may take, connecting and transferring (a server that stops
/// answering is given up on).
const EXCHANGE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// Sends one request; the answer's status and body.
async fn exchange(
    request: hyper::Request<Full<Bytes>>,
    tls: Option<&TlsSettings>,
) -> Result<(hyper::StatusCode, Bytes), FileError> {
    tokio::time::timeout(EXCHANGE_TIMEOUT, exchange_now(request, tls))
        .await
        .map_err(|_| FileError::Http("the server did not answer in time".into()))?
}

async fn exchange_now(
    request: hyper::Request<Full<Bytes>>,
    tls: Option<&TlsSettings>,
) -> Result<(hyper::StatusCode, Bytes), FileError> {
    let http = |e: &dyn std::fmt::Display| FileError::Http(e.to_string());
    let response = match request.uri().scheme_str() {
        Some("https") => {
            let uri = request.uri();
            let host = uri.host().ok_or_else(|| http(&"no host in the link"))?;
            let addr = format!("{host}:{}", uri.port_u16().unwrap_or(443));
            let default = TlsSettings::default();
            let (stream, _) = crate::connection::tls_stream(&addr, tls.unwrap_or(&default))
                .await
                .map_err(|e| http(&e))?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream))
                    .await
                    .map_err(|e| http(&e))?;
            tokio::spawn(connection);
            let mut request = request;
            let authority = request.uri().authority().map(|a| a.to_string());
            if let Some(authority) = authority.and_then(|a| a.parse().ok()) {
                request.headers_mut().insert(hyper::header::HOST, authority);
            }
            sender.send_request(request).await.map_err(|e| http(&e))?
        }
        _ => {
            let client = HttpClient::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
            client.request(request).await.map_err(|e| http(&e))?
        }
    };
    let status = response.status();
    let body = response.into_body().collect().await.map_err(|e| http(&e))?;
    Ok((status, body.to_bytes()))
}

/// Sends `bytes` to an upload link.
pub async fn put(base: &str, path: &str, bytes: Vec<u8>) -> Result<Uploaded, FileError> {
    put_with(base, path, bytes, None).await
}

/// [`put`], trusting an `https://` base as `tls` says.
pub async fn put_with(
    base: &str,
    path: &str,
    bytes: Vec<u8>,
    tls: Option<&TlsSettings>,
) -> Result<Uploaded, FileError> {
    let request = hyper::Request::put(url(base, path)?)
        .header("content-type", "application/octet-stream")
        .body(Full::new(Bytes::from(bytes)))
        .map_err(|e| FileError::Http(e.to_string()))?;
    let (status, body) = exchange(request, tls).await?;
    if status.is_success() {
        return serde_json::from_slice(&body).map_err(|e| FileError::Http(e.to_string()));
    }
    let refusal: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    Err(FileError::Refused {
        code: serde_json::from_value(refusal["code"].clone()).unwrap_or(ErrorCode::Unknown),
        message: refusal["message"]
            .as_str()
            .unwrap_or("the upload failed")
            .to_string(),
    })
}

/// Fetches a file by its link.
pub async fn get(base: &str, path: &str) -> Result<Vec<u8>, FileError> {
    get_with(base, path, None).await
}

/// [`get`], trusting an `https://` base as `tls` says.
pub async fn get_with(
    base: &str,
    path: &str,
    tls: Option<&TlsSettings>,
) -> Result<Vec<u8>, FileError> {
    let request = hyper::Request::get(url(base, path)?)
        .body(Full::new(Bytes::new()))
        .map_err(|e| FileError::Http(e.to_string()))?;
    let (status, body) = exchange(request, tls).await?;
    match status.is_success() {
        true => Ok(body.to_vec()),
        false => Err(FileError::Http(format!("{status}"))),
    }
}
