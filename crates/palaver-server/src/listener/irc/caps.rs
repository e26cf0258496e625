//! The IRCv3 capabilities this server offers, as a small bit set.
//!
//! Each is implemented as its specification says; `docs/irc.md` lists them. `chghost` is
//! offered and never needed: addresses here do not change while a user is online.

/// One capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cap {
    pub name: &'static str,
    bit: u32,
}

macro_rules! caps {
    ($($konst:ident = $name:literal, $bit:literal;)*) => {
        $(pub const $konst: Cap = Cap { name: $name, bit: 1 << $bit };)*
        /// Every capability offered, in the order `CAP LS` lists them.
        pub const ALL: &[Cap] = &[$($konst,)*];
    };
}

caps! {
    AWAY_NOTIFY = "away-notify", 0;
    BATCH = "batch", 1;
    CAP_NOTIFY = "cap-notify", 2;
    CHATHISTORY = "draft/chathistory", 3;
    ECHO_MESSAGE = "echo-message", 4;
    LABELED_RESPONSE = "labeled-response", 5;
    MESSAGE_TAGS = "message-tags", 6;
    MULTI_PREFIX = "multi-prefix", 7;
    SERVER_TIME = "server-time", 8;
    USERHOST_IN_NAMES = "userhost-in-names", 9;
    SASL = "sasl", 10;
    ACCOUNT_REGISTRATION = "draft/account-registration", 11;
    INVITE_NOTIFY = "invite-notify", 12;
    ACCOUNT_TAG = "account-tag", 13;
    EXTENDED_JOIN = "extended-join", 14;
    CHGHOST = "chghost", 15;
    ACCOUNT_NOTIFY = "account-notify", 16;
    SETNAME = "setname", 17;
    MESSAGE_REDACTION = "draft/message-redaction", 18;
    READ_MARKER = "draft/read-marker", 19;
}

/// The capabilities a connection has enabled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapSet(u32);

impl CapSet {
    pub fn has(self, cap: Cap) -> bool {
        self.0 & cap.bit != 0
    }

    pub fn set(&mut self, cap: Cap, on: bool) {
        if on {
            self.0 |= cap.bit;
        } else {
            self.0 &= !cap.bit;
        }
    }

    /// Only the capabilities in `mask`, as a number (a cache key).
    pub fn bits_in(self, mask: &[Cap]) -> u32 {
        mask.iter()
            .filter(|c| self.has(**c))
            .fold(0, |acc, c| acc | c.bit)
    }

    /// The enabled capabilities' names, space-separated.
    pub fn names(self) -> String {
        ALL.iter()
            .filter(|c| self.has(**c))
            .map(|c| c.name)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Looks up a capability by name.
pub fn find(name: &str) -> Option<Cap> {
    ALL.iter()
        .copied()
        .find(|c| c.name.eq_ignore_ascii_case(name))
}

/// `CAP LS` entries; version 302 clients see the values (`sasl=PLAIN`, the registration
/// rules).
pub fn ls_entries(version_302: bool) -> Vec<String> {
    ALL.iter()
        .map(|c| match (*c, version_302) {
            (SASL, true) => "sasl=PLAIN".to_string(),
            (ACCOUNT_REGISTRATION, true) => {
                "draft/account-registration=custom-account-name".to_string()
            }
            _ => c.name.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_and_list() {
        let mut set = CapSet::default();
        set.set(SERVER_TIME, true);
        set.set(BATCH, true);
        assert!(set.has(BATCH) && set.has(SERVER_TIME) && !set.has(ECHO_MESSAGE));
        assert_eq!(set.names(), "batch server-time");
        set.set(BATCH, false);
        assert_eq!(set.names(), "server-time");
        assert_eq!(find("ECHO-message"), Some(ECHO_MESSAGE));
        assert_eq!(find("sasl"), Some(SASL));
        assert_eq!(find("draft/multiline"), None);
    }
}
