//! When to tell the others that you are typing, as IRCv3's `+typing` says: `active` on the first
//! key and again every 3 seconds while typing goes on, `paused` after 5 seconds without a key,
//! `done` when the message is sent or the input cleared. Nothing for commands (`/...`). Pure: the
//! desktop and terminal clients call it with the time, and send what it answers.

use palaver_proto::TypingState;

use crate::model::ConversationId;

/// `active` again after this long, while typing goes on.
pub const AGAIN_MS: i64 = 3_000;
/// `paused` after this long without a key.
pub const PAUSE_MS: i64 = 5_000;

/// What was last told, where, and when (milliseconds); the last key.
#[derive(Debug, Default, Clone)]
pub struct TypingNotifier {
    told: Option<(ConversationId, TypingState, i64)>,
    last_key_ms: i64,
}

impl TypingNotifier {
    /// The input of conversation `place` is now `text`: what to send, if anything.
    pub fn typed(
        &mut self,
        place: &ConversationId,
        text: &str,
        now_ms: i64,
    ) -> Option<TypingState> {
        self.last_key_ms = now_ms;
        let writing = !text.trim().is_empty() && !text.starts_with('/');
        let state = match writing {
            true => TypingState::Active,
            false => TypingState::Done,
        };
        let due = match &self.told {
            Some((p, s, at)) if p == place && *s == state => {
                state == TypingState::Active && now_ms - at >= AGAIN_MS
            }
            Some((p, TypingState::Done, _)) if p == place => state == TypingState::Active,
            Some(_) => true,
            None => state == TypingState::Active,
        };
        if !due {
            return None;
        }
        self.told = Some((place.clone(), state, now_ms));
        Some(state)
    }

    /// Time passed: `paused` (and where) if typing stopped a while ago.
    pub fn tick(&mut self, now_ms: i64) -> Option<(ConversationId, TypingState)> {
        match &self.told {
            Some((place, TypingState::Active, _)) if now_ms - self.last_key_ms >= PAUSE_MS => {
                let place = place.clone();
                self.told = Some((place.clone(), TypingState::Paused, now_ms));
                Some((place, TypingState::Paused))
            }
            _ => None,
        }
    }

    /// The message was sent (or the typing abandoned): `done`, where, if anything was told.
    pub fn sent(&mut self) -> Option<ConversationId> {
        match self.told.take() {
            Some((place, TypingState::Active | TypingState::Paused, _)) => Some(place),
            _ => None,
        }
    }

    /// Milliseconds until [`TypingNotifier::tick`] may have something to say.
    pub fn next_tick_in(&self, now_ms: i64) -> Option<i64> {
        match &self.told {
            Some((_, TypingState::Active, _)) => {
                Some((self.last_key_ms + PAUSE_MS - now_ms).max(0))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_then_every_three_seconds_then_paused_then_done() {
        let room = ConversationId::Room("general".into());
        let mut t = TypingNotifier::default();
        assert_eq!(t.typed(&room, "h", 0), Some(TypingState::Active));
        assert_eq!(t.typed(&room, "he", 1_000), None);
        assert_eq!(t.typed(&room, "hel", 3_100), Some(TypingState::Active));
        assert_eq!(t.tick(5_000), None);
        assert_eq!(t.tick(8_200), Some((room.clone(), TypingState::Paused)));
        assert_eq!(t.tick(9_000), None);
        assert_eq!(t.typed(&room, "hell", 9_500), Some(TypingState::Active));
        assert_eq!(t.sent(), Some(room.clone()));
        assert_eq!(t.sent(), None);
        assert_eq!(
            t.typed(&room, "/join #x", 10_000),
            None,
            "commands are not typing"
        );
        assert_eq!(t.typed(&room, "a", 10_100), Some(TypingState::Active));
        assert_eq!(
            t.typed(&room, "", 10_200),
            Some(TypingState::Done),
            "cleared"
        );
        let other = ConversationId::Direct("bob".into());
        assert_eq!(t.typed(&other, "x", 10_300), Some(TypingState::Active));
    }
}
