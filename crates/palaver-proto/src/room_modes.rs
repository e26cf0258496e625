//! A room's modes, as IRC channel modes: the rules for who may enter, speak and change the
//! topic, the same whatever protocol a member uses.
//!
//! - `+t` only operators set the topic; `+s` secret (not listed, not shown to non-members);
//!   `+i` invite only; `+k key` a key to enter; `+l n` at most n members; `+m` moderated (only
//!   voiced members and operators speak); `+b mask` bans (`nick!ident@host` with `*` and `?`);
//!   `+n` (no messages from outside) is always on.
//! - `+o nick` / `+v nick` give (and `-o`/`-v` take) a member's operator status or voice.
//!
//! A change is written as IRC writes it, a mode string and its parameters (`+kl-m secret 10`),
//! natively too; [`parse`] turns it into typed [`ModeChange`]s and [`render`] back.

use serde::{Deserialize, Serialize};

/// The most ban masks one room keeps (ISUPPORT `MAXLIST=b:...`).
pub const MAX_BANS: usize = 100;
/// The longest key, in bytes (ISUPPORT `KEYLEN`).
pub const MAX_KEY_BYTES: usize = 32;

/// A room's modes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomModes {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub topic_lock: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub invite_only: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub moderated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bans: Vec<BanMask>,
}

/// A ban on a room: who set it, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanMask {
    pub mask: String,
    pub by: String,
    pub at_ms: i64,
}

/// One change of a room's modes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModeChange {
    TopicLock(bool),
    Secret(bool),
    InviteOnly(bool),
    Moderated(bool),
    /// `+n`/`-n`: accepted, and always on.
    NoOutside(bool),
    /// `+k key` / `-k`.
    Key(Option<String>),
    /// `+l n` / `-l`.
    Limit(Option<u32>),
    Ban {
        mask: String,
        on: bool,
    },
    /// `+b` with no mask: the list.
    BanList,
    Operator {
        nick: String,
        on: bool,
    },
    Voice {
        nick: String,
        on: bool,
    },
}

/// A letter that could not be taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModeError {
    /// Not a mode this server has.
    Unknown(char),
    /// A mode that needs a parameter came without one (or a bad one: `+l x`).
    MissingParameter(char),
}

/// Parses a mode string and its parameters: `("+kl-m", ["secret", "10"])`.
pub fn parse(modes: &str, params: &[String]) -> (Vec<ModeChange>, Vec<ModeError>) {
    let mut changes = Vec::new();
    let mut errors = Vec::new();
    let mut params = params.iter();
    let mut on = true;
    for letter in modes.chars() {
        let change = match letter {
            '+' => {
                on = true;
                continue;
            }
            '-' => {
                on = false;
                continue;
            }
            't' => ModeChange::TopicLock(on),
            's' => ModeChange::Secret(on),
            'i' => ModeChange::InviteOnly(on),
            'm' => ModeChange::Moderated(on),
            'n' => ModeChange::NoOutside(on),
            'k' if on => match params.next().map(|k| clip(k.trim(), MAX_KEY_BYTES)) {
                Some(key) if !key.is_empty() && !key.contains([' ', ',']) => {
                    ModeChange::Key(Some(key))
                }
                _ => {
                    errors.push(ModeError::MissingParameter('k'));
                    continue;
                }
            },
            'k' => {
                // `-k` may name the key (CHANMODES type B: a parameter either way) or not.
                params.next();
                ModeChange::Key(None)
            }
            'l' if on => match params.next().and_then(|n| n.parse::<u32>().ok()) {
                Some(n) if n > 0 => ModeChange::Limit(Some(n)),
                _ => {
                    errors.push(ModeError::MissingParameter('l'));
                    continue;
                }
            },
            'l' => ModeChange::Limit(None),
            'b' => match params.next() {
                Some(mask) => ModeChange::Ban {
                    mask: normalize_mask(mask),
                    on,
                },
                None => ModeChange::BanList,
            },
            'o' | 'v' => match params.next() {
                Some(nick) => {
                    let nick = nick.clone();
                    if letter == 'o' {
                        ModeChange::Operator { nick, on }
                    } else {
                        ModeChange::Voice { nick, on }
                    }
                }
                None => {
                    errors.push(ModeError::MissingParameter(letter));
                    continue;
                }
            },
            other => {
                errors.push(ModeError::Unknown(other));
                continue;
            }
        };
        changes.push(change);
    }
    (changes, errors)
}

/// Changes as a mode string and its parameters: `+kv-m`, `["secret", "ann"]`.
pub fn render(changes: &[ModeChange]) -> (String, Vec<String>) {
    let mut modes = String::new();
    let mut params = Vec::new();
    let mut sign = None;
    for change in changes {
        let (on, letter, param) = match change {
            ModeChange::TopicLock(on) => (*on, 't', None),
            ModeChange::Secret(on) => (*on, 's', None),
            ModeChange::InviteOnly(on) => (*on, 'i', None),
            ModeChange::Moderated(on) => (*on, 'm', None),
            ModeChange::NoOutside(on) => (*on, 'n', None),
            ModeChange::Key(Some(key)) => (true, 'k', Some(key.clone())),
            ModeChange::Key(None) => (false, 'k', Some("*".to_string())),
            ModeChange::Limit(Some(n)) => (true, 'l', Some(n.to_string())),
            ModeChange::Limit(None) => (false, 'l', None),
            ModeChange::Ban { mask, on } => (*on, 'b', Some(mask.clone())),
            ModeChange::BanList => continue,
            ModeChange::Operator { nick, on } => (*on, 'o', Some(nick.clone())),
            ModeChange::Voice { nick, on } => (*on, 'v', Some(nick.clone())),
        };
        if sign != Some(on) {
            modes.push(if on { '+' } else { '-' });
            sign = Some(on);
        }
        modes.push(letter);
        params.extend(param);
    }
    (modes, params)
}

impl RoomModes {
    /// The modes as IRC's 324 shows them: `+intk key` (the key only to those who may see it).
    pub fn summary(&self, show_key: bool) -> (String, Vec<String>) {
        let mut modes = String::from("+n");
        let mut params = Vec::new();
        for (on, letter) in [
            (self.invite_only, 'i'),
            (self.moderated, 'm'),
            (self.secret, 's'),
            (self.topic_lock, 't'),
        ] {
            if on {
                modes.push(letter);
            }
        }
        if let Some(key) = &self.key {
            modes.push('k');
            params.push(if show_key { key.clone() } else { "*".into() });
        }
        if let Some(limit) = self.limit {
            modes.push('l');
            params.push(limit.to_string());
        }
        (modes, params)
    }

    /// Applies one change of the room's own modes (not membership, not the list query);
    /// true if it changed anything.
    pub fn apply(&mut self, change: &ModeChange, by: &str, now_ms: i64) -> bool {
        fn set<T: PartialEq>(field: &mut T, value: T) -> bool {
            let changed = *field != value;
            *field = value;
            changed
        }
        match change {
            ModeChange::TopicLock(on) => set(&mut self.topic_lock, *on),
            ModeChange::Secret(on) => set(&mut self.secret, *on),
            ModeChange::InviteOnly(on) => set(&mut self.invite_only, *on),
            ModeChange::Moderated(on) => set(&mut self.moderated, *on),
            ModeChange::Key(key) => set(&mut self.key, key.clone()),
            ModeChange::Limit(limit) => set(&mut self.limit, *limit),
            ModeChange::Ban { mask, on: true } => {
                if self.bans.len() >= MAX_BANS || self.bans.iter().any(|b| b.mask == *mask) {
                    return false;
                }
                self.bans.push(BanMask {
                    mask: mask.clone(),
                    by: by.to_string(),
                    at_ms: now_ms,
                });
                true
            }
            ModeChange::Ban { mask, on: false } => {
                let before = self.bans.len();
                self.bans.retain(|b| b.mask != *mask);
                self.bans.len() != before
            }
            ModeChange::NoOutside(_)
            | ModeChange::BanList
            | ModeChange::Operator { .. }
            | ModeChange::Voice { .. } => false,
        }
    }

    /// Whether `address` (`nick!ident@host`) matches one of the room's bans.
    pub fn bans_address(&self, address: &str) -> bool {
        let address = address.to_lowercase();
        self.bans
            .iter()
            .any(|b| mask_matches(&b.mask.to_lowercase(), &address))
    }
}

/// A room's mode letters (`+nt`) after a change (`-t+m`): what a client shows without asking
/// again. Membership changes (`o`, `v`) and bans (`b`) leave the letters as they were.
pub fn letters_after(current: &str, change: &str) -> String {
    let mut letters: Vec<char> = current
        .chars()
        .filter(|c| c.is_ascii_alphabetic())
        .collect();
    let mut on = true;
    for c in change.chars() {
        match c {
            '+' => on = true,
            '-' => on = false,
            'b' | 'o' | 'v' => {}
            c if c.is_ascii_alphabetic() => {
                letters.retain(|l| *l != c);
                if on {
                    letters.push(c);
                }
            }
            _ => {}
        }
    }
    if !letters.contains(&'n') {
        letters.insert(0, 'n');
    }
    let order = "nimstkl";
    letters.sort_by_key(|c| order.find(*c).unwrap_or(order.len()));
    format!("+{}", letters.into_iter().collect::<String>())
}

/// A mask as IRC servers complete it: `nick` is `nick!*@*`, `nick!ident` is `nick!ident@*`,
/// `*@host` is `*!*@host`.
pub fn normalize_mask(mask: &str) -> String {
    let mask = mask.trim();
    match (mask.contains('!'), mask.contains('@')) {
        (true, true) => mask.to_string(),
        (true, false) => format!("{mask}@*"),
        (false, true) => format!("*!{mask}"),
        (false, false) => format!("{mask}!*@*"),
    }
}

/// Matches `*` (any run) and `?` (one character), as IRC masks do.
pub fn mask_matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

fn clip(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_mode_string_takes_its_parameters_in_order() {
        let (changes, errors) = parse("+kl-m+vb", &strings(&["pw", "10", "ann", "bad!*@*"]));
        assert!(errors.is_empty());
        assert_eq!(
            changes,
            [
                ModeChange::Key(Some("pw".into())),
                ModeChange::Limit(Some(10)),
                ModeChange::Moderated(false),
                ModeChange::Voice {
                    nick: "ann".into(),
                    on: true
                },
                ModeChange::Ban {
                    mask: "bad!*@*".into(),
                    on: true
                },
            ]
        );
        assert_eq!(
            render(&changes),
            (
                "+kl-m+vb".to_string(),
                strings(&["pw", "10", "ann", "bad!*@*"])
            )
        );
    }

    #[test]
    fn missing_parameters_and_unknown_letters_are_errors_and_the_rest_still_counts() {
        let (changes, errors) = parse("+lXo", &[]);
        assert_eq!(changes, []);
        assert_eq!(
            errors,
            [
                ModeError::MissingParameter('l'),
                ModeError::Unknown('X'),
                ModeError::MissingParameter('o')
            ]
        );
        let (changes, _) = parse("+b", &[]);
        assert_eq!(changes, [ModeChange::BanList]);
    }

    #[test]
    fn summary_hides_the_key_from_those_who_may_not_see_it() {
        let mut modes = RoomModes::default();
        for change in parse("+tkl", &strings(&["pw", "5"])).0 {
            modes.apply(&change, "op", 0);
        }
        assert_eq!(modes.summary(true), ("+ntkl".into(), strings(&["pw", "5"])));
        assert_eq!(modes.summary(false), ("+ntkl".into(), strings(&["*", "5"])));
    }

    #[test]
    fn letters_follow_a_change() {
        assert_eq!(letters_after("+nt", "-t+mk"), "+nmk");
        assert_eq!(letters_after("", "+ov"), "+n");
        assert_eq!(letters_after("+n", "+il"), "+nil");
    }

    #[test]
    fn bans_match_completed_masks_case_insensitively() {
        let mut modes = RoomModes::default();
        modes.apply(
            &ModeChange::Ban {
                mask: normalize_mask("Bad"),
                on: true,
            },
            "op",
            0,
        );
        assert!(modes.bans_address("bad!~bad@irc.palaver"));
        assert!(!modes.bans_address("good!~bad@irc.palaver"));
        assert_eq!(normalize_mask("*@host"), "*!*@host");
        assert!(mask_matches("al*", "alice") && !mask_matches("al*", "bob"));
        assert!(mask_matches("?ob", "bob") && !mask_matches("?ob", "blob"));
    }
}
