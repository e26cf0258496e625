//! Files sent with messages: the limits, the links, and where the bytes are kept.
//!
//! Sending a file takes three steps (see `docs/protocol.md`): the client asks (`upload`: name,
//! size, type) and the hub answers with a signed upload link if the size is within
//! `--max-upload-bytes` and the sender within the upload rate; the client sends the bytes to
//! that link over HTTP (`listener/http/files.rs`: counted as they come, refused past the size
//! asked for or the sender's quota, hashed, kept in [`blobs`], recorded in the `files` table);
//! then a message names the file in its `attachments`, and the store links it to the message
//! in the transaction that stores the message. Whoever can read the conversation gets the file's
//! signed, expiring link ([`signing`]) with the message; deleting the message unlinks its files,
//! and `--file-retention-days` removes old ones.

pub mod blobs;
pub mod retention;
pub mod signing;

use std::sync::Arc;
use std::time::Duration;

use palaver_proto::message_changes::MessageState;
use palaver_proto::ChatMessage;

pub use signing::Signer;

/// How long a file link works after it was handed out.
pub const LINK_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long an upload link works.
pub const UPLOAD_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// The limits on files.
#[derive(Debug, Clone, PartialEq)]
pub struct FileLimits {
    /// The largest file, in bytes (0: files are off).
    pub max_bytes: u64,
    /// What one account (or guest session) may keep, in bytes.
    pub quota_bytes: u64,
    /// Uploads one session may start per minute.
    pub per_minute: u32,
    /// Files older than this are removed (with the link from their message).
    pub retention: Option<Duration>,
}

impl Default for FileLimits {
    fn default() -> Self {
        FileLimits {
            max_bytes: 25 * 1024 * 1024,
            quota_bytes: 1024 * 1024 * 1024,
            per_minute: 10,
            retention: None,
        }
    }
}

/// Everything the server needs to take and serve files.
pub struct Files {
    pub limits: FileLimits,
    pub signer: Signer,
    pub blobs: Arc<dyn blobs::Blobs>,
    /// Where uploads are written while they arrive.
    pub temp_dir: std::path::PathBuf,
}

impl std::fmt::Debug for Files {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Files")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Files {
    /// Gives each attachment of a message its link, good for [`LINK_LIFETIME`] from `now_ms`
    /// (rounded up to the hour, so that everyone is sent the same link for a while).
    pub fn sign(&self, state: &mut MessageState, now_ms: i64) {
        sign_with(&self.signer, state, now_ms)
    }

    pub fn sign_chat(&self, chat: &mut ChatMessage, now_ms: i64) {
        match chat {
            ChatMessage::Message(m) => self.sign(&mut m.state, now_ms),
            ChatMessage::PrivateMessage(m) => self.sign(&mut m.state, now_ms),
            _ => {}
        }
    }
}

/// See [`Files::sign`].
pub fn sign_with(signer: &Signer, state: &mut MessageState, now_ms: i64) {
    if state.attachments.is_empty() {
        return;
    }
    const HOUR: i64 = 3600 * 1000;
    let expires = (now_ms + LINK_LIFETIME.as_millis() as i64).div_euclid(HOUR) * HOUR + HOUR;
    for a in &mut state.attachments {
        a.url = signer.file_url(&a.id, &a.name, expires);
    }
}
