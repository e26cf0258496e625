//! Typing indicators: relayed live to the room's other members or to the one written to,
//! never stored and never answered (a lost one costs nothing: clients expire them).
//!
//! A native client sends `typing`; an IRC client sends a `TAGMSG` with `+typing`, which also
//! reaches the other IRC clients as the TAGMSG it was (see `profile_requests.rs`). Everyone who
//! did not get it that way gets a `typing` frame, which the IRC listener shows to IRC clients
//! with message-tags as `TAGMSG` with `+typing`.

use palaver_proto::{timestamp, ServerFrame, TypingState};

use super::{Hub, HubIo, Outgoing, SessionId};
use crate::network::fanout::RelayTo;

impl Hub {
    /// `session` is typing in `room` or to `target`. `from_irc`: it came as a TAGMSG, which
    /// the IRC sessions have had already.
    pub(super) fn typing(
        &mut self,
        session: SessionId,
        (room, target): (Option<String>, Option<String>),
        state: TypingState,
        from_irc: bool,
        io: &mut impl HubIo,
    ) {
        if self.muted(session, None) {
            return;
        }
        let Some(address) = self.address(session) else {
            return;
        };
        let (username, _) = self.user_of(session);
        let (room_name, target_name, recipients, elsewhere) = match (room, target) {
            (Some(raw), _) => {
                let key = palaver_proto::validate::fold(raw.trim_start_matches('#'));
                let Some(room) = self
                    .rooms
                    .get(&key)
                    .filter(|r| r.members.contains(&session))
                else {
                    return;
                };
                if self.muted(session, Some(&key)) || self.speech_refusal(session, &key).is_some() {
                    return;
                }
                let members: Vec<SessionId> = room.members.iter().copied().collect();
                (
                    Some(room.name.clone()),
                    None,
                    members,
                    Some(RelayTo::Room(key)),
                )
            }
            (None, Some(raw)) => match self.online(&raw) {
                Some(t) => {
                    let (name, _) = self.user_of(t);
                    (None, Some(name), vec![t], None)
                }
                None => match self.remote_user_named(&raw) {
                    Some(user) => (
                        None,
                        Some(user.name.clone()),
                        Vec::new(),
                        Some(RelayTo::Connection(user.holder)),
                    ),
                    None => return,
                },
            },
            (None, None) => return,
        };
        let frame = ServerFrame::Typing {
            room: room_name,
            target: target_name,
            username,
            state,
            timestamp: timestamp::format_millis(self.now()),
        };
        let mut sender = self.sender_of(session);
        sender.one_line = from_irc;
        let out = Outgoing::message_from(frame, address, None, sender);
        // Each connection decides by its wire (`Outgoing::for_wire`: IRC had the TAGMSG).
        for r in recipients {
            if r != session {
                self.send_out(r, &out, io);
            }
        }
        if let Some(to) = elsewhere {
            self.relay(to, &out, io);
        }
    }
}
