//! Who a private conversation belongs to: an account, or one guest session.
//!
//! Names are not identities: a guest's name is free again the moment the guest leaves, and the
//! next person to type it must not read what the last one wrote. So each side of a stored
//! private message carries an *owner*: `account:<name>` for someone logged in to an account
//! (their history follows the account), or `guest:<session key>` for a guest, where the session
//! key is the SHA-256 of the session's secret `resume_token`. The same key lets a reconnect with
//! the token take its name over from a connection of the same session that has not noticed it
//! is dead yet. Private history is shown to a side only
//! when both its name and its owner match. A guest who reconnects with the token from its
//! `welcome` is the same owner again; anyone else who takes the name is a new owner and sees
//! nothing of the old one's conversations.
//!
//! Only the digest is stored, never the token, so reading the database does not give a way to
//! resume someone's session.

use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};

/// A fresh resume token: 32 random bytes as 64 lowercase hex digits.
pub fn new_resume_token() -> String {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system's random number generator works");
    hex(&bytes)
}

/// What identifies a session without revealing its token: the first 128 bits of the token's
/// SHA-256. Two connections with the same token are the same session.
pub type SessionKey = [u8; 16];

pub fn session_key(resume_token: &str) -> SessionKey {
    let digest = digest::digest(&digest::SHA256, resume_token.as_bytes());
    let mut key = [0; 16];
    key.copy_from_slice(&digest.as_ref()[..16]);
    key
}

/// The owner of a guest session's private messages.
pub fn guest_owner(session_key: &SessionKey) -> String {
    format!("guest:{}", hex(session_key))
}

/// The owner of an account's private messages (`key` is the folded name).
pub fn account_owner(key: &str) -> String {
    format!("account:{key}")
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_fresh_and_owners_are_stable() {
        let a = new_resume_token();
        let b = new_resume_token();
        assert_ne!(a, b);
        assert!(palaver_proto::validate::resume_token(&a), "{a}");
        assert_eq!(session_key(&a), session_key(&a));
        assert_ne!(session_key(&a), session_key(&b));
        assert!(
            !guest_owner(&session_key(&a)).contains(&a),
            "the token itself is never stored"
        );
        assert_eq!(account_owner("alice"), "account:alice");
    }
}
