//! Signed, expiring links: what lets the HTTP listener serve a file or take an upload without
//! asking the hub who may. Whoever may read a conversation is sent its files' links; a link is
//! a path with an expiry and an HMAC-SHA256 of both under the server's secret (kept in the
//! database, so every node of a cluster signs and checks alike). Without the secret a link can
//! be neither made nor changed; after its expiry it is refused.
//!
//! - a file: `/files/<id>/<name>?e=<expiry>&s=<signature>`, signed over the id and expiry;
//! - an upload: `/uploads/<ticket>`, the ticket being what was asked (uploader, name, size,
//!   content type, expiry) and its signature.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::hmac;

/// What an upload was granted for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UploadTicket {
    /// The id the file will have: a link takes one file (a second upload to it is refused).
    pub id: String,
    /// The uploader's name as shown, and their owner (account or guest session).
    pub uploader: String,
    pub owner: String,
    pub name: String,
    pub size: u64,
    pub content_type: String,
    /// Milliseconds since the epoch.
    pub expires_ms: i64,
}

/// Signs and checks links with the server's secret.
pub struct Signer {
    key: hmac::Key,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(..)")
    }
}

impl Signer {
    /// A signer with this secret (at least 32 random bytes, base64).
    pub fn new(secret: &[u8]) -> Self {
        Signer {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    fn sign(&self, what: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.key, what.as_bytes()).as_ref())
    }

    fn verify(&self, what: &str, signature: &str) -> bool {
        URL_SAFE_NO_PAD
            .decode(signature)
            .is_ok_and(|tag| hmac::verify(&self.key, what.as_bytes(), &tag).is_ok())
    }

    /// The link of file `id` (shown as `name`), good until `expires_ms`.
    pub fn file_url(&self, id: &str, name: &str, expires_ms: i64) -> String {
        let signature = self.sign(&format!("file:{id}:{expires_ms}"));
        format!(
            "/files/{id}/{}?e={expires_ms}&s={signature}",
            encode_path_segment(name)
        )
    }

    /// Whether a file link's expiry and signature are right at `now_ms`.
    pub fn file_allowed(&self, id: &str, expires_ms: i64, signature: &str, now_ms: i64) -> bool {
        expires_ms > now_ms && self.verify(&format!("file:{id}:{expires_ms}"), signature)
    }

    /// The upload link for a ticket.
    pub fn upload_url(&self, ticket: &UploadTicket) -> String {
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(ticket).expect("a ticket serialises"));
        let signature = self.sign(&format!("upload:{body}"));
        format!("/uploads/{body}.{signature}")
    }

    /// The ticket an upload link carries, if it was signed here and has not expired.
    pub fn upload_ticket(&self, token: &str, now_ms: i64) -> Option<UploadTicket> {
        let (body, signature) = token.split_once('.')?;
        if !self.verify(&format!("upload:{body}"), signature) {
            return None;
        }
        let ticket: UploadTicket =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).ok()?).ok()?;
        (ticket.expires_ms > now_ms).then_some(ticket)
    }
}

/// A file name as one path segment (percent-encoded, so that any name is a safe path).
pub fn encode_path_segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A fresh random secret (32 bytes, base64) for a new database.
pub fn new_secret() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system's random numbers");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A new file id: 128 random bits, hex (unguessable).
pub fn new_file_id() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system's random numbers");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_links_check_their_signature_and_expiry() {
        let signer = Signer::new(b"a secret of the server, 32 bytes!");
        let url = signer.file_url("abc", "cat photo.png", 2_000);
        assert!(
            url.starts_with("/files/abc/cat%20photo.png?e=2000&s="),
            "{url}"
        );
        let signature = url.rsplit("&s=").next().unwrap();
        assert!(signer.file_allowed("abc", 2_000, signature, 1_000));
        assert!(
            !signer.file_allowed("abc", 2_000, signature, 2_000),
            "expired"
        );
        assert!(
            !signer.file_allowed("abd", 2_000, signature, 1_000),
            "another file"
        );
        assert!(
            !signer.file_allowed("abc", 9_000, signature, 1_000),
            "a longer expiry"
        );
        let other = Signer::new(b"another server's secret, 32 bytes");
        assert!(!other.file_allowed("abc", 2_000, signature, 1_000));
    }

    #[test]
    fn upload_tickets_cannot_be_changed() {
        let signer = Signer::new(b"a secret of the server, 32 bytes!");
        let ticket = UploadTicket {
            id: new_file_id(),
            uploader: "alice".into(),
            owner: "account:alice".into(),
            name: "a.txt".into(),
            size: 10,
            content_type: "text/plain".into(),
            expires_ms: 5_000,
        };
        let url = signer.upload_url(&ticket);
        let token = url.strip_prefix("/uploads/").unwrap();
        assert_eq!(signer.upload_ticket(token, 1_000), Some(ticket.clone()));
        assert_eq!(signer.upload_ticket(token, 6_000), None, "expired");
        let bigger = UploadTicket {
            size: 10_000_000,
            ..ticket
        };
        let forged_body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&bigger).unwrap());
        let signature = token.split_once('.').unwrap().1;
        assert_eq!(
            signer.upload_ticket(&format!("{forged_body}.{signature}"), 1_000),
            None
        );
    }
}
