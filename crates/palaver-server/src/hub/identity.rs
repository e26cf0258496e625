//! Who a private conversation belongs to: an account, or one guest session.
//!
//! Names are not identities: a guest's name is free again the moment the guest leaves, and the
//! next person to type it must not read what the last one wrote. So each side of a stored
//! private message carries an *owner*: `account:<name>` for someone logged in to an account
//! (their history follows the account), or `guest:<digest>` for a guest, where the digest is
//! the SHA-256 of the session's secret `resume_token`. Private history is shown to a side only
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

/// The owner of a guest session's private messages.
pub fn guest_owner(resume_token: &str) -> String {
    let digest = digest::digest(&digest::SHA256, resume_token.as_bytes());
    format!("guest:{}", hex(&digest.as_ref()[..16]))
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
        assert_eq!(guest_owner(&a), guest_owner(&a));
        assert_ne!(guest_owner(&a), guest_owner(&b));
        assert!(
            !guest_owner(&a).contains(&a),
            "the token itself is never stored"
        );
        assert_eq!(account_owner("alice"), "account:alice");
    }
}
