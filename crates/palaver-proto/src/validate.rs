//! The rules for names and content, shared by the server (which enforces them) and clients
//! (which check before sending, to show a mistake next to the field that caused it).
//!
//! Usernames: 1 to 32 characters after NFC normalisation; Unicode letters and digits, `_`, `-`
//! and `.`. Uniqueness is case-insensitive: [`fold`] gives the key two names collide on, so
//! `alice` and `ALICE` are the same person. Room names follow the same alphabet, up to 64
//! characters, and are also compared folded.

use unicode_normalization::UnicodeNormalization;

use crate::error_code::ErrorCode;

pub const MAX_USERNAME_CHARS: usize = 32;
pub const MAX_ROOM_CHARS: usize = 64;

/// Returns the NFC-normalised username, or why it is not acceptable.
pub fn username(raw: &str) -> Result<String, (ErrorCode, String)> {
    name(raw, MAX_USERNAME_CHARS).map_err(|why| {
        (
            ErrorCode::InvalidUsername,
            format!("Invalid username: {why}. Usernames are 1 to {MAX_USERNAME_CHARS} letters, digits, '_', '-' or '.'."),
        )
    })
}

/// Returns the NFC-normalised room name (a leading `#` is accepted and dropped), or why not.
pub fn room_name(raw: &str) -> Result<String, (ErrorCode, String)> {
    let raw = raw.strip_prefix('#').unwrap_or(raw);
    name(raw, MAX_ROOM_CHARS).map_err(|why| {
        (
            ErrorCode::InvalidRoomName,
            format!("Invalid room name: {why}. Room names are 1 to {MAX_ROOM_CHARS} letters, digits, '_', '-' or '.'."),
        )
    })
}

fn name(raw: &str, max_chars: usize) -> Result<String, String> {
    let normalised: String = raw.nfc().collect();
    let count = normalised.chars().count();
    if count == 0 {
        return Err("it is empty".into());
    }
    if count > max_chars {
        return Err(format!("it has {count} characters"));
    }
    if let Some(bad) = normalised
        .chars()
        .find(|c| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return Err(format!("{bad:?} is not allowed"));
    }
    Ok(normalised)
}

/// The case-insensitive key under which names are unique: NFC, then lowercase.
/// Whether a `resume_token` has the form the server hands out: 64 lowercase hex digits.
pub fn resume_token(token: &str) -> bool {
    token.len() == 64
        && token
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

pub fn fold(name: &str) -> String {
    name.nfc().flat_map(char::to_lowercase).collect()
}

/// The keys under which names that look alike collide, from the Unicode TS #39 skeleton (each
/// character replaced by its confusable prototype: Cyrillic `а` by Latin `a`, `I` by `l`, `0` by
/// `O` ...). The skeleton is case-sensitive and names are not, so there are two: the skeleton
/// of the lowercased name (`ALICE` is `alice`) and the lowercased skeleton of the name as
/// written (`aIice`, with a capital i, is `alice`). Two names look alike when any of their keys
/// are equal; two people online may not have names that look alike.
pub fn lookalike_keys(name: &str) -> Vec<String> {
    let nfc: String = name.nfc().collect();
    let folded: String = nfc.chars().flat_map(char::to_lowercase).collect();
    let first: String = unicode_security::skeleton(&folded).collect();
    let written: String = unicode_security::skeleton(&nfc)
        .flat_map(char::to_lowercase)
        .collect();
    let second: String = unicode_security::skeleton(&written).collect();
    if first == second {
        vec![first]
    } else {
        vec![first, second]
    }
}

/// True when two names look alike (see [`lookalike_keys`]).
pub fn look_alike(a: &str, b: &str) -> bool {
    let b_keys = lookalike_keys(b);
    lookalike_keys(a).iter().any(|k| b_keys.contains(k))
}

/// Checks a message body: not blank, at most `max_bytes` bytes of UTF-8.
pub fn content(raw: &str, max_bytes: usize) -> Result<(), (ErrorCode, String)> {
    if raw.trim().is_empty() {
        return Err((ErrorCode::EmptyContent, "The message is empty.".into()));
    }
    if raw.contains('\0') {
        return Err((
            ErrorCode::InvalidField,
            "Messages may not contain the NUL character (U+0000).".into(),
        ));
    }
    if raw.len() > max_bytes {
        return Err((
            ErrorCode::ContentTooLong,
            format!(
                "The message is {} bytes; the server accepts at most {max_bytes}.",
                raw.len()
            ),
        ));
    }
    Ok(())
}

/// A word as search compares it: lowercase, without accents (`Café` is `cafe`).
pub fn search_fold(word: &str) -> String {
    use unicode_normalization::char::is_combining_mark;
    use unicode_normalization::UnicodeNormalization;
    word.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The words of a search: letters and digits, folded; at most 10 of at most 64 characters.
pub fn search_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| search_fold(&w.chars().take(64).collect::<String>()))
        .take(10)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_unicode_letters_digits_and_punctuation() {
        for ok in ["alice", "Bob_2", "a.b-c", "Zoë", "日本語", "x"] {
            assert!(username(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_empty_long_and_odd_characters() {
        for bad in [
            "",
            "a b",
            "a@b",
            "<script>",
            "tab\t",
            &"x".repeat(33),
            "emoji😀",
        ] {
            let (code, _) = username(bad).unwrap_err();
            assert_eq!(code, ErrorCode::InvalidUsername, "{bad:?}");
        }
        assert!(username(&"é".repeat(32)).is_ok(), "32 characters, 64 bytes");
    }

    #[test]
    fn normalises_to_nfc_so_lookalikes_collide() {
        let decomposed = "Zoe\u{301}"; // e + combining acute
        assert_eq!(username(decomposed).unwrap(), "Zoé");
        assert_eq!(fold(decomposed), fold("ZOÉ"));
    }

    #[test]
    fn lookalike_names_share_a_key() {
        for lookalike in ["aIice", "\u{430}lice", "ALICE", "a\u{217C}ice", "Alice"] {
            assert!(look_alike(lookalike, "alice"), "{lookalike:?}");
        }
        assert!(!look_alike("alicia", "alice"));
        assert!(!look_alike("bob", "rob"));
        assert!(look_alike("b0b", "bob"), "digit zero and letter o");
    }

    #[test]
    fn folding_is_case_insensitive() {
        assert_eq!(fold("ALICE"), fold("alice"));
        assert_ne!(fold("alice"), fold("alice2"));
    }

    #[test]
    fn room_names_accept_a_hash_prefix() {
        assert_eq!(room_name("#rust").unwrap(), "rust");
        assert_eq!(room_name("#").unwrap_err().0, ErrorCode::InvalidRoomName);
    }

    #[test]
    fn content_rules() {
        assert!(content("hi", 10).is_ok());
        assert_eq!(content("  \n", 10).unwrap_err().0, ErrorCode::EmptyContent);
        assert_eq!(
            content("0123456789x", 10).unwrap_err().0,
            ErrorCode::ContentTooLong
        );
    }

    #[test]
    fn search_words_are_folded_letters_and_digits() {
        assert_eq!(
            search_words("Café, déploiement v2!"),
            ["cafe", "deploiement", "v2"]
        );
        assert!(search_words("  ,;  ").is_empty());
        assert_eq!(search_words(&"w ".repeat(30)).len(), 10);
    }
}
