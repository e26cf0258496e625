//! Files over HTTP: taking an upload and serving a download, both by signed link (see
//! `files/signing.rs`), so that neither asks the hub anything.
//!
//! - `PUT` or `POST /uploads/<ticket>`: the bytes of a file the hub granted. They are counted
//!   as they arrive and refused (413, `file_too_large`) past the size asked for, before they
//!   are kept; the uploader's quota is checked first (403, `quota_exceeded`). The bytes are
//!   hashed on the way into a temporary file, then kept under their digest and recorded. The
//!   answer is JSON: `{"id", "name", "size", "content_type"}`.
//! - `GET /files/<id>/<name>?e=<expiry>&s=<signature>`: a file sent with a message that still
//!   links it. Raster images are served inline (previews); anything else as an attachment of
//!   type `application/octet-stream`. Never as active content: `nosniff`, and a CSP that
//!   sandboxes the response and allows nothing to load.

use std::io::Write;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::json;

use super::HttpState;
use crate::files::signing::encode_path_segment;
use crate::store::FileRecord;

/// A refusal as JSON, with the protocol's error code.
fn refuse(status: StatusCode, code: palaver_proto::ErrorCode, message: &str) -> Response {
    let body = json!({"code": code.as_str(), "message": message});
    (status, axum::Json(body)).into_response()
}

/// `PUT`/`POST /uploads/<ticket>`.
pub async fn upload(
    State(state): State<Arc<HttpState>>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    use palaver_proto::ErrorCode;
    let Some(files) = state.files.clone() else {
        return refuse(
            StatusCode::NOT_FOUND,
            ErrorCode::FilesDisabled,
            ErrorCode::FilesDisabled.sentence(),
        );
    };
    let now = palaver_proto::timestamp::now_millis();
    let Some(ticket) = files.signer.upload_ticket(&token, now) else {
        return refuse(
            StatusCode::FORBIDDEN,
            ErrorCode::NotAuthorized,
            "This upload link is not valid (or no longer): ask again with `upload`.",
        );
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > ticket.size) {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::FileTooLarge,
            "More bytes than the upload was granted for.",
        );
    }
    let (reads, owner, quota) = (
        state.reads.clone(),
        ticket.owner.clone(),
        files.limits.quota_bytes,
    );
    let id = ticket.id.clone();
    let used = tokio::task::spawn_blocking(move || {
        reads.read(|db| {
            let taken = !db.files(std::slice::from_ref(&id))?.is_empty();
            Ok((taken, db.quota_used(&owner)?))
        })
    })
    .await;
    match used {
        Ok(Ok((true, _))) => {
            return refuse(
                StatusCode::CONFLICT,
                ErrorCode::NotAuthorized,
                "This upload link was used already: ask again with `upload`.",
            )
        }
        Ok(Ok((false, used))) if used.saturating_add(ticket.size) > quota => {
            return refuse(
                StatusCode::FORBIDDEN,
                ErrorCode::QuotaExceeded,
                ErrorCode::QuotaExceeded.sentence(),
            )
        }
        Ok(Ok(_)) => {}
        other => {
            tracing::error!(?other, "could not read an uploader's quota");
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::StorageFailed,
                "The server could not take the file; try again.",
            );
        }
    }
    // Into a temporary file, counted and hashed as the bytes come.
    let temp = match tempfile::NamedTempFile::new_in(&files.temp_dir) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "cannot create a temporary file for an upload");
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::StorageFailed,
                "The server could not take the file; try again.",
            );
        }
    };
    let mut writer = std::io::BufWriter::new(temp);
    let mut hash = ring::digest::Context::new(&ring::digest::SHA256);
    let mut size: u64 = 0;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return refuse(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidField,
                "The upload was cut off.",
            );
        };
        size += chunk.len() as u64;
        if size > ticket.size {
            return refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::FileTooLarge,
                "More bytes than the upload was granted for.",
            );
        }
        hash.update(&chunk);
        if writer.write_all(&chunk).is_err() {
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::StorageFailed,
                "The server could not take the file; try again.",
            );
        }
    }
    let digest: String = hash
        .finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let record = FileRecord {
        id: ticket.id.clone(),
        digest,
        name: ticket.name.clone(),
        size,
        content_type: ticket.content_type.clone(),
        owner: ticket.owner.clone(),
        uploader: ticket.uploader.clone(),
        created_ms: now,
        message_id: None,
    };
    let (reads, blobs, kept) = (
        state.reads.clone(),
        Arc::clone(&files.blobs),
        record.clone(),
    );
    let stored = tokio::task::spawn_blocking(move || -> Result<bool, crate::store::StoreError> {
        let temp = writer
            .into_inner()
            .map_err(|e| crate::store::StoreError::Pool(e.to_string()))?;
        blobs.put(&kept.digest, temp.path())?;
        // Counted again where it is recorded: uploads side by side share one quota. (The
        // same link used twice at once: the second record is refused by the id's key.)
        reads.read(|db| db.save_file(&kept, quota))
    })
    .await;
    match stored {
        Ok(Ok(false)) => refuse(
            StatusCode::FORBIDDEN,
            ErrorCode::QuotaExceeded,
            ErrorCode::QuotaExceeded.sentence(),
        ),
        Ok(Ok(true)) => {
            state.ctx.metrics.uploads.inc();
            let body = json!({
                "id": record.id,
                "name": record.name,
                "size": record.size,
                "content_type": record.content_type,
            });
            (StatusCode::CREATED, axum::Json(body)).into_response()
        }
        other => {
            tracing::error!(?other, "could not keep an uploaded file");
            refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::StorageFailed,
                "The server could not keep the file; try again.",
            )
        }
    }
}

/// A download link's query.
#[derive(Debug, serde::Deserialize)]
pub struct Signed {
    e: i64,
    s: String,
}

/// `GET /files/<id>/<name>?e=...&s=...`.
pub async fn download(
    State(state): State<Arc<HttpState>>,
    Path((id, _name)): Path<(String, String)>,
    Query(signed): Query<Signed>,
) -> Response {
    let Some(files) = state.files.clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let now = palaver_proto::timestamp::now_millis();
    if !files.signer.file_allowed(&id, signed.e, &signed.s, now) {
        return (
            StatusCode::FORBIDDEN,
            "This link is not valid, or has expired.\n",
        )
            .into_response();
    }
    let (reads, blobs) = (state.reads.clone(), Arc::clone(&files.blobs));
    let stream_from = Arc::clone(&blobs);
    let found = tokio::task::spawn_blocking(move || {
        let record = reads.read(|db| db.files(std::slice::from_ref(&id)))?;
        let Some(record) = record.into_iter().next().filter(|f| f.message_id.is_some()) else {
            return Ok(None);
        };
        // The first piece before any header: a file whose bytes are missing is a 404.
        let first = blobs.piece(&record.digest, 0)?;
        Ok::<_, crate::store::StoreError>(first.map(|first| (record, first)))
    })
    .await;
    let (record, first) = match found {
        Ok(Ok(Some(found))) => found,
        Ok(Ok(None)) => {
            return (
                StatusCode::NOT_FOUND,
                "No such file (or its message was deleted).\n",
            )
                .into_response()
        }
        other => {
            tracing::error!(?other, "could not read a file");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    state.ctx.metrics.downloads.inc();
    let inline = palaver_proto::files::inline_image(&record.content_type);
    let content_type = match inline {
        true => record.content_type.as_str(),
        false => "application/octet-stream",
    };
    let disposition = format!(
        "{}; filename*=UTF-8''{}",
        if inline { "inline" } else { "attachment" },
        encode_path_segment(&record.name)
    );
    let body = stream_blob(stream_from, record.digest.clone(), first);
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(record.size));
    let set = |headers: &mut HeaderMap, name: header::HeaderName, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    set(headers, header::CONTENT_TYPE, content_type);
    set(headers, header::CONTENT_DISPOSITION, &disposition);
    set(headers, header::CACHE_CONTROL, "private, max-age=3600");
    response
}

/// A file's bytes as a response body: the first piece, then each next one read (off the async
/// threads) only when the client has taken the one before. A slow reader holds one piece and
/// nothing else: no thread, no database connection.
fn stream_blob(
    blobs: Arc<dyn crate::files::blobs::Blobs>,
    digest: String,
    first: bytes::Bytes,
) -> Body {
    let next = futures_util::stream::unfold(Some(1u64), move |n| {
        let (blobs, digest) = (Arc::clone(&blobs), digest.clone());
        async move {
            let n = n?;
            let read = tokio::task::spawn_blocking(move || blobs.piece(&digest, n)).await;
            match read {
                Ok(Ok(Some(piece))) => Some((Ok(piece), Some(n + 1))),
                Ok(Ok(None)) => None,
                failed => {
                    tracing::error!(?failed, "could not read a file's bytes");
                    let error = std::io::Error::other("the file could not be read");
                    Some((Err(error), None))
                }
            }
        }
    });
    let first = futures_util::stream::once(async move { Ok::<_, std::io::Error>(first) });
    Body::from_stream(futures_util::StreamExt::chain(first, next))
}

/// The policy a served file gets instead of the page's: it runs nothing and loads nothing.
pub const FILE_CSP: &str = "default-src 'none'; img-src 'self'; sandbox";
