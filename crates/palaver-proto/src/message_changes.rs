//! What becomes of a message after it was sent: reactions, edits, a deletion, and the message it
//! replies to.
//!
//! A change is stored in the message's conversation with the conversation's next seq, so it
//! travels like a message (in order, to every node, in a resume's replay). Live and in a replay it
//! is a frame of its own ([`Reaction`], [`Edited`], [`Deleted`]); in history it is folded into the
//! message it changed ([`MessageState`], flattened into `message` and `private_message`).

use serde::{Deserialize, Serialize};

/// The most bytes a reaction's emoji (or `:shortcode:`) may have.
pub const MAX_EMOJI_BYTES: usize = 64;

/// The most characters of the replied-to message a reply shows.
pub const REPLY_PREVIEW_CHARS: usize = 200;

/// A message as it is now, beside its text: fields a message has only when they apply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageState {
    /// The id of the message this one answers (in the same conversation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<u64>,
    /// Who wrote the message answered, and the start of its text (absent once it is deleted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_preview: Option<ReplyPreview>,
    /// When it was last edited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited: Option<String>,
    /// Deleted: its content is empty.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    /// The reactions it has, in the order they were first given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<ReactionCount>,
    /// The files sent with it (none once it is deleted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

/// A file sent with a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// The file's id (what `attachments` of a `message` names).
    pub id: String,
    pub name: String,
    /// Bytes.
    pub size: u64,
    pub content_type: String,
    /// Where to download it: a path on the server's HTTP listener (join it to `welcome`'s
    /// `http_base`), signed and expiring (see `docs/security.md`).
    #[serde(default)]
    pub url: String,
}

impl Attachment {
    /// Whether clients may show it as an image (the server serves these types inline).
    pub fn is_image(&self) -> bool {
        crate::files::inline_image(&self.content_type)
    }
}

impl MessageState {
    pub fn is_plain(&self) -> bool {
        *self == MessageState::default()
    }

    /// Applies a change frame to the message it changed (whose text is `content`); anything
    /// else changes nothing. Applying a change twice is applying it once.
    pub fn apply(&mut self, content: &mut String, change: &crate::ChatMessage) {
        match change {
            crate::ChatMessage::Reaction(r) if !self.deleted => {
                self.react(&r.emoji, &r.place.username, r.added)
            }
            crate::ChatMessage::Edited(e) if !self.deleted => {
                content.clone_from(&e.content);
                self.edited = Some(e.place.timestamp.clone());
            }
            crate::ChatMessage::Deleted(_) => {
                content.clear();
                self.deleted = true;
                self.edited = None;
                self.reactions.clear();
                self.attachments.clear();
            }
            _ => {}
        }
    }

    /// Applies a change of the message this one replies to, to its preview.
    pub fn apply_to_reply(&mut self, change: &crate::ChatMessage) {
        match change {
            crate::ChatMessage::Edited(e) => {
                if let Some(preview) = &mut self.reply_preview {
                    *preview = ReplyPreview::new(&preview.username, &e.content);
                }
            }
            crate::ChatMessage::Deleted(_) => self.reply_preview = None,
            _ => {}
        }
    }

    /// Adds or takes back `username`'s `emoji` (nothing if that is already so).
    pub fn react(&mut self, emoji: &str, username: &str, added: bool) {
        let at = self.reactions.iter().position(|r| r.emoji == emoji);
        match (at, added) {
            (Some(i), true) => {
                let users = &mut self.reactions[i].users;
                if !users.iter().any(|u| u == username) {
                    users.push(username.to_string());
                }
            }
            (None, true) => self.reactions.push(ReactionCount {
                emoji: emoji.to_string(),
                users: vec![username.to_string()],
            }),
            (Some(i), false) => {
                self.reactions[i].users.retain(|u| u != username);
                if self.reactions[i].users.is_empty() {
                    self.reactions.remove(i);
                }
            }
            (None, false) => {}
        }
    }
}

/// The message a reply answers, as the reply shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyPreview {
    pub username: String,
    /// At most [`REPLY_PREVIEW_CHARS`] characters of its text.
    pub content: String,
}

impl ReplyPreview {
    pub fn new(username: &str, content: &str) -> Self {
        ReplyPreview {
            username: username.to_string(),
            content: content.chars().take(REPLY_PREVIEW_CHARS).collect(),
        }
    }
}

/// One emoji on a message and who gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionCount {
    pub emoji: String,
    pub users: Vec<String>,
}

/// Where a change happened: a room, or (for a private conversation) the other person as
/// `username` sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangePlace {
    /// The message changed.
    pub id: u64,
    /// The change's own place in the conversation.
    #[serde(default)]
    pub seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Who made the change.
    pub username: String,
    pub timestamp: String,
}

impl ChangePlace {
    /// The conversation as `me` names it: the room, or the other person.
    pub fn conversation_for(&self, me: &str) -> &str {
        match (&self.room, &self.target) {
            (Some(room), _) => room,
            (None, Some(target))
                if crate::validate::fold(&self.username) == crate::validate::fold(me) =>
            {
                target
            }
            _ => &self.username,
        }
    }
}

/// `username` added (or took back) a reaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    #[serde(flatten)]
    pub place: ChangePlace,
    pub emoji: String,
    pub added: bool,
}

/// A message's new text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edited {
    #[serde(flatten)]
    pub place: ChangePlace,
    pub content: String,
}

/// A message deleted by `username` (its author, a moderator or an admin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deleted {
    #[serde(flatten)]
    pub place: ChangePlace,
}

/// Whether `emoji` can be a reaction: not blank, no whitespace or control characters, at most
/// [`MAX_EMOJI_BYTES`].
pub fn valid_reaction(emoji: &str) -> bool {
    !emoji.is_empty()
        && emoji.len() <= MAX_EMOJI_BYTES
        && !emoji.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reactions_toggle_per_user_and_keep_their_order() {
        let mut s = MessageState::default();
        s.react("👍", "bob", true);
        s.react("🎉", "carol", true);
        s.react("👍", "carol", true);
        s.react("👍", "carol", true);
        assert_eq!(s.reactions[0].users, ["bob", "carol"]);
        s.react("👍", "bob", false);
        s.react("👍", "carol", false);
        assert_eq!(s.reactions.len(), 1);
        assert_eq!(s.reactions[0].emoji, "🎉");
        s.react("🎉", "nobody", false);
        assert_eq!(s.reactions[0].users, ["carol"]);
    }

    #[test]
    fn a_change_names_its_conversation_for_each_side() {
        let place = ChangePlace {
            id: 1,
            seq: 2,
            room: None,
            target: Some("bob".into()),
            username: "Alice".into(),
            timestamp: "t".into(),
        };
        assert_eq!(place.conversation_for("alice"), "bob");
        assert_eq!(place.conversation_for("bob"), "Alice");
    }

    #[test]
    fn reaction_frames_are_flat_on_the_wire() {
        let r = Reaction {
            place: ChangePlace {
                id: 9,
                seq: 3,
                room: Some("general".into()),
                target: None,
                username: "bob".into(),
                timestamp: "t".into(),
            },
            emoji: "👍".into(),
            added: true,
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["id"], 9);
        assert_eq!(v["room"], "general");
        assert_eq!(v["emoji"], "👍");
        assert!(v.get("target").is_none());
        assert_eq!(serde_json::from_value::<Reaction>(v).unwrap(), r);
    }

    #[test]
    fn reaction_emoji_rules() {
        assert!(valid_reaction("👍"));
        assert!(valid_reaction(":thumbsup:"));
        assert!(!valid_reaction(""));
        assert!(!valid_reaction("a b"));
        assert!(!valid_reaction(&"x".repeat(65)));
    }
}
