//! `upload`: the hub grants an upload link (see `files/mod.rs`) to a joined session, within
//! the size limit and the upload rate; the bytes then go to the HTTP listener, never through
//! the hub. A message naming uploaded files is checked in `message_changes.rs` (the files must
//! be the sender's and not sent yet) and linked to them by the store.

use std::sync::Arc;

use serde_json::Value;

use palaver_proto::{timestamp, ErrorCode, ServerFrame};

use super::refusal::Refusal;
use super::{Hub, HubIo, SessionId};
use crate::files::signing::UploadTicket;
use crate::files::{FileLimits, Signer, UPLOAD_LIFETIME};

/// What the hub knows of files: the limits, the signer, and where clients reach HTTP.
#[derive(Debug, Clone)]
pub struct FileGrants {
    pub limits: FileLimits,
    pub signer: Arc<Signer>,
    /// The HTTP listener as clients outside a browser reach it (`welcome`'s `http_base`).
    pub http_base: Option<String>,
}

impl Hub {
    /// Takes files from now on (the server has an HTTP listener to take them).
    pub fn enable_files(&mut self, grants: FileGrants) {
        self.files = Some(grants);
    }

    /// Gives a message's attachments their links.
    pub(super) fn sign(&self, state: &mut palaver_proto::message_changes::MessageState) {
        if let Some(files) = &self.files {
            crate::files::sign_with(&files.signer, state, timestamp::now_millis());
        }
    }

    pub(super) fn sign_chat(&self, chat: &mut palaver_proto::ChatMessage) {
        match chat {
            palaver_proto::ChatMessage::Message(m) => self.sign(&mut m.state),
            palaver_proto::ChatMessage::PrivateMessage(m) => self.sign(&mut m.state),
            _ => {}
        }
    }

    pub(super) fn upload(
        &mut self,
        session: SessionId,
        (name, size, content_type): (String, u64, String),
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        let name = palaver_proto::files::sanitise_name(&name);
        let Some(files) = self.files.clone().filter(|f| f.limits.max_bytes > 0) else {
            let refusal = Refusal::new(
                ErrorCode::FilesDisabled,
                ErrorCode::FilesDisabled.sentence(),
            );
            return self.refuse(session, refusal, reference, io);
        };
        if size > files.limits.max_bytes {
            let text = format!(
                "{name} is {} bytes; files may be at most {} bytes.",
                size, files.limits.max_bytes
            );
            let refusal = Refusal::new(ErrorCode::FileTooLarge, text).about(name);
            return self.refuse(session, refusal, reference, io);
        }
        if self.muted(session, None) {
            let refusal = Refusal::new(ErrorCode::Muted, "You are muted for now.");
            return self.refuse(session, refusal, reference, io);
        }
        let now = self.now();
        let Some(s) = self.sessions.get_mut(&session) else {
            return;
        };
        s.uploads.retain(|at| now - at < 60_000);
        if s.uploads.len() >= files.limits.per_minute as usize {
            let text = format!(
                "At most {} uploads a minute; wait a moment.",
                files.limits.per_minute
            );
            let refusal = Refusal::new(ErrorCode::RateLimited, text);
            return self.refuse(session, refusal, reference, io);
        }
        s.uploads.push_back(now);
        let owner = s.owner();
        let (uploader, _) = self.user_of(session);
        let expires_ms = now + UPLOAD_LIFETIME.as_millis() as i64;
        let ticket = UploadTicket {
            id: crate::files::signing::new_file_id(),
            uploader,
            owner,
            name,
            size,
            content_type: palaver_proto::files::sanitise_content_type(&content_type),
            expires_ms,
        };
        let ready = ServerFrame::UploadReady {
            url: files.signer.upload_url(&ticket),
            expires: timestamp::format_millis(expires_ms),
            reference,
        };
        self.send_to(session, &ready, io);
    }
}
