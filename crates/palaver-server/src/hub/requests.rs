//! One handler per client frame. Each validates, changes the hub's state, and answers.
//!
//! Every refusal is an `error` frame with a stable code, the client's `ref` echoed back, and a
//! sentence that names what was wrong ("Nobody named \"bob\" is online."). Nothing a client sends
//! can make a handler panic.

use serde_json::Value;

use palaver_proto::message_changes::MessageState;
use palaver_proto::TypingState;
use palaver_proto::{
    timestamp, validate, ClientFrame, ErrorCode, Request, ServerFrame, DEFAULT_ROOM,
};

use super::message_changes::AfterLookup;
use super::session::{JoinAsk, PendingLogin};
use super::{Hub, HubEvent, HubIo, Outgoing, Pending, Refusal, SessionId, SystemNotice};

use crate::network::events::NetworkEvent;
use crate::network::presence::PresenceChange;
use crate::store::{Conversation, DirectSide, MessageKind, PageQuery, StoredMessage};

/// Two optional RFC 3339 times as milliseconds, or the sentence saying which is not a time.
fn time_window(
    after: &Option<String>,
    before: &Option<String>,
) -> Result<(Option<i64>, Option<i64>), String> {
    let when = |t: &Option<String>| match t {
        None => Ok(None),
        Some(t) => timestamp::parse_millis(t).map(Some).ok_or_else(|| {
            format!("{t:?} is not a time (RFC 3339, like 2026-11-29T12:00:00.000Z).")
        }),
    };
    Ok((when(after)?, when(before)?))
}

/// Results per `search` page unless the client asks for another number.
const SEARCH_PAGE: usize = 20;

/// What a `search` asks for.
pub(super) struct SearchAsk {
    text: String,
    room: Option<String>,
    with: Option<String>,
    from: Option<String>,
    after: Option<String>,
    before: Option<String>,
    before_id: Option<u64>,
    limit: Option<u32>,
}

/// History requests of one session that may wait while a page is read.
const HISTORY_WAITING_MAX: usize = 8;

/// Who a private message is for, as stored.
struct Recipient {
    name: String,
    key: String,
    owner: String,
}

impl Hub {
    /// A frame from a session.
    pub fn request(&mut self, session: SessionId, request: Request, io: &mut impl HubIo) {
        let Some(request) = self.hold_if_waiting(session, request, io) else {
            return;
        };
        if self
            .sessions
            .get(&session)
            .is_some_and(|s| s.device_of.is_some())
        {
            self.device_request(session, request, io);
            return self.reap_slow(io);
        }
        self.handle(session, request, io);
    }

    /// A frame from a session, as its user (see `devices.rs` for a device's).
    pub(super) fn handle(&mut self, session: SessionId, request: Request, io: &mut impl HubIo) {
        let Request {
            frame,
            reference,
            client_tags,
        } = request;
        let client_tags: Option<super::outgoing::ClientTags> =
            (!client_tags.is_empty()).then(|| client_tags.into());
        let joined = self.sessions[&session].user.is_some();
        match frame {
            ClientFrame::Ping => {
                let pong = Outgoing::new(ServerFrame::Pong {
                    timestamp: timestamp::format_millis(timestamp::now_millis()),
                    reference,
                });
                // A barrier: the answers to everything sent before the ping come first, including
                // the acks of messages still on their way through the store.
                let s = self.sessions.get_mut(&session).expect("checked above");
                if s.in_flight > 0 {
                    s.after_in_flight.push(pong);
                } else {
                    self.send_out(session, &pong, io);
                }
            }
            // The answer to a keepalive ping; the connection already noted that the client lives.
            ClientFrame::Pong => {}
            ClientFrame::Quit { reason } => {
                let reason = reason
                    .map(|r| r.chars().take(200).collect::<String>())
                    .filter(|r| !r.trim().is_empty());
                self.disconnect(session, super::Departure::Quit(reason), io);
            }
            _ if self.shutting_down => {
                self.error_to(
                    session,
                    ErrorCode::ServerShuttingDown,
                    ErrorCode::ServerShuttingDown.sentence(),
                    reference,
                    io,
                );
            }
            ClientFrame::Join {
                username,
                since,
                rooms,
                resume_token,
            } => {
                if joined {
                    let name = self.sessions[&session]
                        .name()
                        .unwrap_or_default()
                        .to_string();
                    self.error_to(
                        session,
                        ErrorCode::AlreadyJoined,
                        format!("You have already joined as {name:?}."),
                        reference,
                        io,
                    );
                } else {
                    let ask = JoinAsk {
                        since,
                        rooms,
                        resume_token,
                    };
                    self.join(session, &username, ask, reference, io);
                }
            }
            ClientFrame::Login {
                username,
                password,
                since,
                rooms,
                resume_token,
            } => {
                let then = PendingLogin {
                    join: Some(JoinAsk {
                        since,
                        rooms,
                        resume_token,
                    }),
                    username,
                    reference,
                    oper: false,
                };
                self.login(session, password, then, io)
            }
            ClientFrame::Authenticate { username, password } => {
                let then = PendingLogin {
                    join: None,
                    username,
                    reference,
                    oper: false,
                };
                self.login(session, password, then, io)
            }
            _ if !joined => {
                self.error_to(
                    session,
                    ErrorCode::NotJoined,
                    "Join with a username first: {\"type\":\"join\",\"username\":\"...\"}.",
                    reference,
                    io,
                );
            }
            ClientFrame::Message {
                content,
                room,
                reply_to,
                attachments,
            } if reply_to.is_some() || !attachments.is_empty() => {
                let room = Some(room.unwrap_or_else(|| DEFAULT_ROOM.to_string()));
                let then = AfterLookup::Send {
                    room,
                    target: None,
                    content,
                    client_tags,
                };
                self.about_message(session, (reply_to, attachments), then, reference, io)
            }
            ClientFrame::PrivateMessage {
                target,
                content,
                reply_to,
                attachments,
            } if reply_to.is_some() || !attachments.is_empty() => {
                let then = AfterLookup::Send {
                    room: None,
                    target: Some(target),
                    content,
                    client_tags,
                };
                self.about_message(session, (reply_to, attachments), then, reference, io)
            }
            ClientFrame::Message { content, room, .. } => {
                let state = MessageState::default();
                self.public_message(session, content, room, state, reference, client_tags, io)
            }
            ClientFrame::PrivateMessage {
                target, content, ..
            } => {
                let state = MessageState::default();
                self.private_message(session, &target, content, state, reference, client_tags, io)
            }
            ClientFrame::Upload {
                name,
                size,
                content_type,
            } => self.upload(session, (name, size, content_type), reference, io),
            ClientFrame::React { id, emoji, on } => {
                let emoji = palaver_proto::emoji::normalise_reaction(&emoji);
                let then = AfterLookup::React {
                    emoji,
                    on,
                    relay: None,
                };
                self.about_message(session, (Some(id), Vec::new()), then, reference, io)
            }
            ClientFrame::Edit { id, content } => {
                let then = AfterLookup::Edit { content };
                self.about_message(session, (Some(id), Vec::new()), then, reference, io)
            }
            ClientFrame::Delete { id } => self.about_message(
                session,
                (Some(id), Vec::new()),
                AfterLookup::Delete,
                reference,
                io,
            ),
            ClientFrame::JoinRoom { room, key } => {
                self.join_room(session, &room, key.as_deref(), reference, io)
            }
            ClientFrame::Mode {
                room,
                modes,
                params,
            } => self.mode_request(session, &room, modes, params, reference, io),
            ClientFrame::Invite { room, username } => {
                self.invite_request(session, &room, &username, reference, io)
            }
            ClientFrame::Oper { username, password } => {
                self.oper(session, username, password, reference, io)
            }
            ClientFrame::Search {
                query,
                room,
                with,
                from,
                after,
                before,
                before_id,
                limit,
            } => {
                let ask = SearchAsk {
                    text: query,
                    room,
                    with,
                    from,
                    after,
                    before,
                    before_id,
                    limit,
                };
                self.search(session, ask, reference, io)
            }
            ClientFrame::Monitor { add, remove, clear } => {
                self.monitor(session, add, remove, clear, reference, io)
            }
            ClientFrame::Conversations {
                after,
                before,
                limit,
            } => self.conversations(session, after, before, limit, reference, io),
            ClientFrame::SetRealname { realname } => {
                self.set_realname(session, realname, reference, io)
            }
            ClientFrame::Invisible { on } => {
                if let Some(user) = self
                    .sessions
                    .get_mut(&session)
                    .and_then(|s| s.user.as_mut())
                {
                    user.invisible = on;
                }
            }
            ClientFrame::Kill { username, reason } => {
                self.kill_request(session, &username, reason, reference, io)
            }
            ClientFrame::LeaveRoom { room, reason } => {
                self.leave_room(session, &room, reason, reference, io)
            }
            ClientFrame::Rooms => {
                let mut rooms: Vec<_> = self
                    .rooms
                    .values()
                    .filter(|r| !self.hidden_from(session, &r.key))
                    .map(|r| self.room_info(r))
                    .collect();
                rooms.sort_by_cached_key(|r| validate::fold(&r.name));
                self.send_to(session, &ServerFrame::Rooms { rooms, reference }, io);
            }
            ClientFrame::Users { room } => self.list_users(session, room, reference, io),
            ClientFrame::Topic { room, topic } => {
                self.set_topic(session, &room, topic, reference, io)
            }
            ClientFrame::History {
                room,
                with,
                before,
                before_id,
                after_id,
                around_id,
                oldest_first,
                limit,
            } => {
                let bounds = PageQuery {
                    before,
                    before_id,
                    after_id,
                    around_id,
                    oldest_first,
                    limit: 0,
                };
                self.history(session, room, with, bounds, limit, reference, io)
            }
            ClientFrame::Notice {
                content,
                room,
                target,
            } => self.notice(session, content, room, target, reference, client_tags, io),
            ClientFrame::TagMessage { room, target }
                if client_tags
                    .as_deref()
                    .and_then(super::message_changes::tagged_reaction)
                    .is_some() =>
            {
                // A reaction (IRC's `+draft/react`): stored and shown to everyone.
                let tags = client_tags.expect("tagged");
                let (id, emoji, on) =
                    super::message_changes::tagged_reaction(&tags).expect("a reaction");
                let then = AfterLookup::React {
                    emoji: palaver_proto::emoji::normalise_reaction(&emoji),
                    on: Some(on),
                    relay: Some(super::message_changes::TagRelay {
                        room,
                        target,
                        client_tags: tags,
                    }),
                };
                self.about_message(session, (Some(id), Vec::new()), then, reference, io)
            }
            ClientFrame::TagMessage { room, target } => {
                // `+typing` from IRC reaches the native clients as `typing`.
                let typing = client_tags.as_ref().and_then(|tags| {
                    tags.iter()
                        .find(|(k, _)| k == "+typing")
                        .and_then(|(_, v)| TypingState::parse(v.as_deref()?))
                });
                let place = (room.clone(), target.clone());
                self.tag_message(session, room, target, reference, client_tags, io);
                if let Some(state) = typing {
                    self.typing(session, place, state, true, io);
                }
            }
            ClientFrame::Typing {
                room,
                target,
                state,
            } => self.typing(session, (room, target), state, false, io),
            ClientFrame::MarkRead {
                room,
                with,
                seq,
                timestamp,
            } => self.mark_read(session, room, with, seq, timestamp, reference, io),
            ClientFrame::Away { message } => self.set_away(session, message, reference, io),
            ClientFrame::Rename { username } => self.rename(session, &username, reference, io),
            ClientFrame::Who { room, username } => self.who(session, room, username, reference, io),
            ClientFrame::Whois { username } => self.whois(session, &username, reference, io),
            ClientFrame::Whowas { username } => self.whowas(session, &username, reference, io),
            ClientFrame::Kick {
                room,
                username,
                reason,
            } => self.kick_from_room(session, &room, &username, reason, reference, io),
            ClientFrame::Info => self.info(session, reference, io),
            ClientFrame::Register { password } => self.register(session, password, reference, io),
            ClientFrame::Announce { message } => {
                self.announce_request(session, message, reference, io)
            }
            ClientFrame::Ban {
                username,
                address,
                minutes,
                reason,
            } => self.ban(session, username, address, minutes, reason, reference, io),
            ClientFrame::Unban { username, address } => {
                self.unban(session, username, address, reference, io)
            }
            ClientFrame::Mute {
                username,
                room,
                minutes,
            } => self.mute(session, username, room, minutes, false, reference, io),
            ClientFrame::Unmute { username, room } => {
                self.mute(session, username, room, None, true, reference, io)
            }
            ClientFrame::LockRoom { room, locked } => {
                self.lock_room(session, room, locked, reference, io)
            }
            ClientFrame::DeleteRoom { room } => self.delete_room(session, room, reference, io),
            ClientFrame::Grant {
                room,
                username,
                revoke,
            } => self.grant(session, room, username, revoke, reference, io),
            ClientFrame::ChangePassword { old, new } => {
                self.change_password(session, old, new, reference, io)
            }
        }
        self.reap_slow(io);
    }

    /// A room's `joined_room` with its window up to seq `upto` (what came later reaches the
    /// session live).
    pub(super) fn send_joined_room(
        &mut self,
        session: SessionId,
        room_key: &str,
        upto: u64,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        let Some(room) = self.rooms.get(room_key) else {
            return;
        };
        // Never past what was delivered (a room this node subscribed to meanwhile).
        let upto = upto.min(room.last_seq);
        let mut members: Vec<String> = room
            .members
            .iter()
            .filter_map(|id| self.sessions.get(id).and_then(|s| s.name()))
            .map(str::to_string)
            .chain(self.remote.in_room(room_key).map(|u| u.name.clone()))
            .collect();
        members.sort();
        members.dedup();
        let mut operators: Vec<String> = room
            .operators
            .iter()
            .filter_map(|id| self.sessions.get(id).and_then(|s| s.name()))
            .map(str::to_string)
            .collect();
        operators.sort();
        let frame = ServerFrame::JoinedRoom {
            room: palaver_proto::RoomInfo {
                last_seq: upto,
                ..self.room_info(room)
            },
            members,
            operators,
            history: self.window_of(room_key, upto),
            read_marker: self.known_read_marker(session, room_key),
            reference,
        };
        // Each connection gets its own (see `join_room`, `devices.rs`).
        let user = self.user_session(session);
        let out = Outgoing::build(frame, self.address(user), None);
        self.deliver_here(session, &out, io);
    }

    /// Resolves a room a member names: it must exist and they must be in it.
    pub(super) fn member_room(
        &mut self,
        session: SessionId,
        raw: &str,
        reference: &Option<Value>,
        io: &mut impl HubIo,
    ) -> Option<String> {
        let name = self.or_refuse_about(session, validate::room_name(raw), raw, reference, io)?;
        let key = validate::fold(&name);
        if !self.rooms.contains_key(&key) {
            let message = format!("There is no room named {name:?}.");
            let refusal = Refusal::new(ErrorCode::UnknownRoom, message).about(&name);
            self.refuse(session, refusal, reference.clone(), io);
            return None;
        }
        if !self.rooms[&key].members.contains(&session) {
            let message = format!("You are not in {name:?}; join it first.");
            let refusal = Refusal::new(ErrorCode::NotInRoom, message).about(&name);
            self.refuse(session, refusal, reference.clone(), io);
            return None;
        }
        Some(key)
    }

    /// Whether message content may be sent (not blank, not too long); if not, the session
    /// has been told why.
    pub(super) fn content_ok(
        &mut self,
        session: SessionId,
        content: &str,
        reference: &Option<Value>,
        io: &mut impl HubIo,
    ) -> bool {
        let max = self.config.max_message_bytes;
        self.or_refuse(session, validate::content(content, max), reference, io)
            .is_some()
    }

    /// The checked value, or (having told the session why, with its `ref`) `None`.
    pub(super) fn or_refuse<T>(
        &mut self,
        session: SessionId,
        checked: Result<T, (ErrorCode, String)>,
        reference: &Option<Value>,
        io: &mut impl HubIo,
    ) -> Option<T> {
        match checked {
            Ok(value) => Some(value),
            Err((code, message)) => {
                self.error_to(session, code, message, reference.clone(), io);
                None
            }
        }
    }

    /// [`Hub::or_refuse`] for a check of a name the client gave: the refusal is about it.
    pub(super) fn or_refuse_about<T>(
        &mut self,
        session: SessionId,
        checked: Result<T, (ErrorCode, String)>,
        subject: &str,
        reference: &Option<Value>,
        io: &mut impl HubIo,
    ) -> Option<T> {
        match checked {
            Ok(value) => Some(value),
            Err(refusal) => {
                let refusal = Refusal::from(refusal).about(subject);
                self.refuse(session, refusal, reference.clone(), io);
                None
            }
        }
    }

    /// What IRC clients are told about `session`'s user besides the address: its account, its
    /// real name, and whether what it sends came as one IRC line (relayed on one line too).
    pub(super) fn sender_of(&self, session: SessionId) -> super::outgoing::Sender {
        let Some(s) = self.sessions.get(&session) else {
            return Default::default();
        };
        let user = s.user.as_ref();
        // The wire of the connection that sent it (a device of the user, maybe).
        let irc = self
            .sessions
            .get(&self.connection_asking(session))
            .is_some_and(|c| c.profile.protocol == super::Protocol::Irc);
        super::outgoing::Sender {
            one_line: irc,
            account: s.account.as_ref().and(user.map(|u| u.name.clone())),
            realname: user.map(|u| u.realname.clone()),
        }
    }

    pub(super) fn user_of(&self, session: SessionId) -> (String, String) {
        let user = self.sessions[&session].user.as_ref().expect("joined");
        (user.name.clone(), user.key.clone())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn public_message(
        &mut self,
        session: SessionId,
        content: String,
        room: Option<String>,
        state: MessageState,
        reference: Option<Value>,
        client_tags: Option<super::outgoing::ClientTags>,
        io: &mut impl HubIo,
    ) {
        let raw_room = room.unwrap_or_else(|| DEFAULT_ROOM.to_string());
        let Some(room_key) = self.member_room(session, &raw_room, &reference, io) else {
            return;
        };
        if self.muted(session, Some(&room_key)) {
            let message =
                format!("You are muted in #{raw_room} for now; the message was not sent.");
            let refusal = Refusal::new(ErrorCode::Muted, message).about(&raw_room);
            return self.refuse(session, refusal, reference, io);
        }
        if let Some(refusal) = self.speech_refusal(session, &room_key) {
            return self.refuse(session, refusal, reference, io);
        }
        // Files alone need no text.
        let files_only = content.is_empty() && !state.attachments.is_empty();
        if !files_only && !self.content_ok(session, &content, &reference, io) {
            return;
        }
        let (username, username_key) = self.user_of(session);
        let owner = self.sessions[&session].owner();
        let ts_ms = self.now();
        let source = self.mark_active(session, ts_ms);
        self.pending.push_back(Pending {
            origin: self.connection_asking(session),
            user: session,
            reference,
            target: None,
            remote_target: None,
            source,
            client_tags,
            sender: self.sender_of(session),
        });
        io.persist(StoredMessage {
            id: 0,
            seq: 0,
            ts_ms,
            content,
            kind: MessageKind::Public {
                room: self.rooms[&room_key].name.clone(),
                room_key,
                username,
                username_key,
                owner,
            },
            change: None,
            state,
        });
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn private_message(
        &mut self,
        session: SessionId,
        raw_target: &str,
        content: String,
        state: MessageState,
        reference: Option<Value>,
        client_tags: Option<super::outgoing::ClientTags>,
        io: &mut impl HubIo,
    ) {
        // Files alone need no text.
        let files_only = content.is_empty() && !state.attachments.is_empty();
        if !files_only && !self.content_ok(session, &content, &reference, io) {
            return;
        }
        if self.muted(session, None) {
            let message = "You are muted for now; the message was not sent.";
            return self.error_to(session, ErrorCode::Muted, message, reference, io);
        }
        let target = self.online(raw_target);
        if target.is_none() {
            if let Some(user) = self.remote_user_named(raw_target) {
                let message = (content, state);
                return self.private_to_remote(session, user, message, reference, client_tags, io);
            }
        }
        let Some(target_session) = target else {
            let shown: String = raw_target.chars().take(40).collect();
            let confirmation = ServerFrame::PrivateConfirmation {
                state: Default::default(),
                id: None,
                seq: None,
                target: shown.clone(),
                content,
                delivered: false,
                timestamp: timestamp::format_millis(timestamp::now_millis()),
                reference: reference.clone(),
            };
            self.send_to(session, &confirmation, io);
            let message = format!("Nobody named {shown:?} is online; the message was not sent.");
            let refusal = Refusal::new(ErrorCode::UnknownUser, message).about(shown);
            return self.refuse(session, refusal, reference, io);
        };
        let (target, target_key) = self.user_of(target_session);
        let target_owner = self.sessions[&target_session].owner();
        let away = self.sessions[&target_session]
            .user
            .as_ref()
            .and_then(|u| u.away.clone());
        if let Some(message) = away {
            // The message is still delivered; the sender learns why there may be no answer.
            let frame = ServerFrame::Away {
                username: target.clone(),
                message: Some(message),
                reference: reference.clone(),
            };
            self.send_to(session, &frame, io);
        }
        let recipient = Recipient {
            name: target,
            key: target_key,
            owner: target_owner,
        };
        self.persist_private(
            session,
            Some(target_session),
            None,
            recipient,
            (content, state),
            reference,
            client_tags,
            io,
        );
    }

    /// A private message to a user of another node: stored here, then sent to its node.
    fn private_to_remote(
        &mut self,
        session: SessionId,
        target: crate::network::presence::OnlineUser,
        message: (String, MessageState),
        reference: Option<Value>,
        client_tags: Option<super::outgoing::ClientTags>,
        io: &mut impl HubIo,
    ) {
        if let Some(message) = target.away.clone() {
            // As for a user here: delivered, and the sender learns why there may be no answer.
            let frame = ServerFrame::Away {
                username: target.name.clone(),
                message: Some(message),
                reference: reference.clone(),
            };
            self.send_to(session, &frame, io);
        }
        let recipient = Recipient {
            name: target.name,
            key: target.key,
            owner: target.owner,
        };
        let elsewhere = Some(target.holder);
        self.persist_private(
            session,
            None,
            elsewhere,
            recipient,
            message,
            reference,
            client_tags,
            io,
        );
    }

    /// Stores a private message from `session` to `recipient` (online here as `here`, or on
    /// another node as `elsewhere`); [`Hub::stored`] delivers it.
    #[allow(clippy::too_many_arguments)]
    fn persist_private(
        &mut self,
        session: SessionId,
        here: Option<SessionId>,
        elsewhere: Option<crate::network::names::Holder>,
        recipient: Recipient,
        (content, state): (String, MessageState),
        reference: Option<Value>,
        client_tags: Option<super::outgoing::ClientTags>,
        io: &mut impl HubIo,
    ) {
        let (sender, sender_key) = self.user_of(session);
        let sender_owner = self.sessions[&session].owner();
        let ts_ms = self.now();
        let source = self.mark_active(session, ts_ms);
        self.pending.push_back(Pending {
            origin: self.connection_asking(session),
            user: session,
            reference,
            target: here,
            remote_target: elsewhere,
            source,
            client_tags,
            sender: self.sender_of(session),
        });
        io.persist(StoredMessage {
            id: 0,
            seq: 0,
            ts_ms,
            content,
            kind: MessageKind::Private {
                sender,
                sender_key,
                sender_owner,
                target: recipient.name,
                target_key: recipient.key,
                target_owner: recipient.owner,
            },
            change: None,
            state,
        });
    }

    /// Notes that a session sent a message (idle time, the ping barrier); returns its address.
    pub(super) fn mark_active(&mut self, session: SessionId, now_ms: i64) -> std::sync::Arc<str> {
        let connection = self.connection_asking(session);
        if let Some(c) = self.sessions.get_mut(&connection) {
            c.in_flight += 1;
        }
        let s = self.sessions.get_mut(&session).expect("joined");
        let user = s.user.as_mut().expect("joined");
        user.active_ms = now_ms;
        user.address.clone()
    }

    fn join_room(
        &mut self,
        session: SessionId,
        raw: &str,
        room_password: Option<&str>,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        let Some(name) =
            self.or_refuse_about(session, validate::room_name(raw), raw, &reference, io)
        else {
            return;
        };
        let key = validate::fold(&name);
        let (username, _) = self.user_of(session);
        let in_rooms = self.sessions[&session]
            .user
            .as_ref()
            .map_or(0, |u| u.rooms.len());
        if self
            .rooms
            .get(&key)
            .is_some_and(|r| r.members.contains(&session))
        {
            // In it already: the room again, to the connection that asked.
            let upto = self.rooms[&key].last_seq;
            let asker = self.connection_asking(session);
            return self.send_joined_room(asker, &key, upto, reference, io);
        }
        if self
            .rooms
            .get(&key)
            .is_some_and(|r| r.members.len() >= self.config.max_members_per_room)
        {
            let message = format!(
                "#{name} has {} members, the most a room may have here.",
                self.config.max_members_per_room
            );
            let refusal = Refusal::new(ErrorCode::RoomFull, message).about(&name);
            return self.refuse(session, refusal, reference, io);
        }
        if let Some(refusal) = self.entry_refusal(session, &key, room_password) {
            return self.refuse(session, refusal, reference, io);
        }
        if self.room_locked(&key) && !self.moderates(session, &key) {
            let message = format!("#{name} is locked: only its moderators may enter for now.");
            let refusal = Refusal::new(ErrorCode::RoomLocked, message).about(&name);
            return self.refuse(session, refusal, reference, io);
        }
        if in_rooms >= self.config.max_rooms_per_user {
            let message = format!(
                "You are in {in_rooms} rooms, the most the server allows; leave one first."
            );
            let refusal = Refusal::new(ErrorCode::TooManyRooms, message).about(&name);
            return self.refuse(session, refusal, reference, io);
        }
        if !self.rooms.contains_key(&key) {
            if self.rooms.len() >= self.config.max_rooms {
                let message = "The server has as many rooms as it allows; join an existing one.";
                let refusal = Refusal::new(ErrorCode::TooManyRooms, message).about(&name);
                return self.refuse(session, refusal, reference, io);
            }
            self.create_room(name, io);
        }
        let ready = self.activate_room(&key, io);
        self.add_member(session, &key);
        self.entered(session, &key);
        if let Some(user) = self
            .sessions
            .get_mut(&session)
            .and_then(|s| s.user.as_mut())
        {
            user.rooms.push(key.clone());
        }
        // Every connection of the user shows the room (the one that asked with its `ref`),
        // each once the window is in, holding its live frames meanwhile.
        let awaiting = if ready { Vec::new() } else { vec![key.clone()] };
        let asker = self.connection_asking(session);
        for connection in self.connections_of(session) {
            let reference = (connection == asker).then(|| reference.clone()).flatten();
            let then = vec![self.joined_room_step(&key, reference)];
            self.after_windows(connection, awaiting.clone(), then, io);
        }
        let room_name = self.rooms[&key].name.clone();
        let notice = SystemNotice {
            sender: self.sender_of(session),
            ..SystemNotice::joined_room(&username, &room_name, self.address(session))
        };
        self.system_to_room(&key, notice, Some(session), io);
        let joined = PresenceChange::JoinedRoom {
            holder: self.holder(session),
            room_key: key.clone(),
            room_name: room_name.clone(),
        };
        self.tell_presence(joined, io);
        let away = self.sessions[&session]
            .user
            .as_ref()
            .and_then(|u| u.away.clone());
        if let (Some(message), Some(source)) = (away, self.address(session)) {
            // Members learn at once that the newcomer is away (IRC's away-notify on join).
            let frame = ServerFrame::Away {
                username: username.clone(),
                message: Some(message),
                reference: None,
            };
            self.fan_out(&key, &Outgoing::from_user(frame, source), Some(session), io);
        }
        io.event(HubEvent::RoomJoined {
            username,
            room: room_name,
        });
    }

    fn leave_room(
        &mut self,
        session: SessionId,
        raw: &str,
        reason: Option<String>,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        let Some(key) = self.member_room(session, raw, &reference, io) else {
            return;
        };
        let (username, _) = self.user_of(session);
        let source = self.address(session);
        if let Some(user) = self
            .sessions
            .get_mut(&session)
            .and_then(|s| s.user.as_mut())
        {
            user.rooms.retain(|k| *k != key);
        }
        self.leave_room_quietly(session, &key, io);
        let room_name = self.rooms[&key].name.clone();
        let reason = reason
            .map(|r| {
                super::profile_requests::clip(r.trim(), super::profile_requests::MAX_REASON_BYTES)
            })
            .filter(|r| !r.is_empty());
        let left = ServerFrame::LeftRoom {
            room: room_name.clone(),
            by: None,
            reason: reason.clone(),
            reference,
        };
        self.send_out(session, &Outgoing::build(left, source.clone(), None), io);
        let notice = SystemNotice::left_room(&username, &room_name, reason.clone(), source);
        self.system_to_room(&key, notice, None, io);
        let left = PresenceChange::LeftRoom {
            holder: self.holder(session),
            room_key: key.clone(),
            reason,
            by: None,
            source: None,
        };
        self.tell_presence(left, io);
        io.event(HubEvent::RoomLeft {
            username,
            room: room_name,
        });
    }

    fn list_users(
        &mut self,
        session: SessionId,
        room: Option<String>,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        let (room_name, members): (Option<String>, Vec<SessionId>) = match room {
            None => (None, self.users.values().copied().collect()),
            Some(raw) => {
                let key = validate::room_name(&raw).ok().map(|n| validate::fold(&n));
                match key.and_then(|k| self.rooms.get(&k)) {
                    Some(r) => (Some(r.name.clone()), r.members.iter().copied().collect()),
                    None => {
                        let message = format!("There is no room named {raw:?}.");
                        let refusal = Refusal::new(ErrorCode::UnknownRoom, message).about(&raw);
                        return self.refuse(session, refusal, reference, io);
                    }
                }
            }
        };
        let mut users: Vec<String> = members
            .iter()
            .filter_map(|id| self.sessions.get(id).and_then(|s| s.name()))
            .map(str::to_string)
            .collect();
        // And those on the other nodes of a cluster.
        match &room_name {
            None => users.extend(self.remote.names.iter().cloned()),
            Some(name) => {
                let key = validate::fold(name);
                users.extend(self.remote.in_room(&key).map(|u| u.name.clone()));
            }
        }
        users.sort();
        users.dedup();
        let frame = ServerFrame::Users {
            room: room_name,
            users,
            reference,
        };
        self.send_to(session, &frame, io);
    }

    fn set_topic(
        &mut self,
        session: SessionId,
        raw: &str,
        topic: String,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        let Some(key) = self.member_room(session, raw, &reference, io) else {
            return;
        };
        if !self.may_set_topic(session, &key) {
            let name = self.rooms[&key].name.clone();
            let message = format!("Only the operators of #{name} may set its topic (+t).");
            let refusal = Refusal::new(ErrorCode::NotAuthorized, message).about(&name);
            return self.refuse(session, refusal, reference, io);
        }
        if topic.len() > self.config.max_topic_bytes {
            let message = format!(
                "The topic is {} bytes; the server accepts at most {}.",
                topic.len(),
                self.config.max_topic_bytes
            );
            return self.error_to(session, ErrorCode::ContentTooLong, message, reference, io);
        }
        if topic.contains('\0') {
            let message = "Topics may not contain the NUL character (U+0000).";
            return self.error_to(session, ErrorCode::InvalidField, message, reference, io);
        }
        let topic = topic.trim().to_string();
        // Set even when it is the same: every member sees it set again (as on IRC servers).
        let event = NetworkEvent::Topic {
            room_key: key,
            topic,
            by: self.user_of(session).0,
            source: self.address(session).map(|a| a.to_string()),
            at_ms: timestamp::now_millis(),
        };
        self.change(event, io);
    }

    #[allow(clippy::too_many_arguments)]
    fn history(
        &mut self,
        session: SessionId,
        room: Option<String>,
        with: Option<String>,
        bounds: PageQuery,
        limit: Option<u32>,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        let (conversation, room, with, newest) = match with {
            Some(other) => {
                let checked = validate::username(&other);
                let Some(other) = self.or_refuse_about(session, checked, &other, &reference, io)
                else {
                    return;
                };
                let s = &self.sessions[&session];
                let me = DirectSide {
                    key: s.user.as_ref().expect("joined").key.clone(),
                    owner: s.owner(),
                };
                let other_key = validate::fold(&other);
                (
                    Conversation::Direct { me, other_key },
                    None,
                    Some(other),
                    None,
                )
            }
            None => {
                let raw = room.unwrap_or_else(|| DEFAULT_ROOM.to_string());
                let Some(key) = self.member_room(session, &raw, &reference, io) else {
                    return;
                };
                let room = &self.rooms[&key];
                let (name, newest) = (room.name.clone(), room.last_seq);
                (Conversation::Room(key), Some(name), None, Some(newest))
            }
        };
        let limit = limit
            .map(|l| l as usize)
            .unwrap_or(self.config.history_on_join)
            .min(self.config.history_page_max);
        // A room's page ends at what was delivered: what is stored but not yet delivered
        // arrives live, and must not come twice.
        let before = match newest {
            Some(newest) => Some(bounds.before.unwrap_or(u64::MAX).min(newest + 1)),
            None => bounds.before,
        };
        let query = super::HistoryQuery {
            session,
            reference,
            read: super::io::HistoryRead::Page {
                conversation,
                room,
                with,
                page: PageQuery {
                    before,
                    limit,
                    ..bounds
                },
            },
        };
        self.read_history(session, query, io);
    }

    /// `conversations`: the rooms this session is in and its private conversations whose newest
    /// message is between two times.
    pub(super) fn conversations(
        &mut self,
        session: SessionId,
        after: Option<String>,
        before: Option<String>,
        limit: Option<u32>,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        let (after_ms, before_ms) = match time_window(&after, &before) {
            Ok((a, b)) => (a.unwrap_or(i64::MIN), b.unwrap_or(i64::MAX)),
            Err(message) => {
                return self.error_to(session, ErrorCode::InvalidField, message, reference, io)
            }
        };
        let s = &self.sessions[&session];
        let user = s.user.as_ref().expect("joined");
        let me = DirectSide {
            key: user.key.clone(),
            owner: s.owner(),
        };
        let rooms = user
            .rooms
            .iter()
            .filter_map(|k| self.rooms.get(k).map(|r| (k.clone(), r.name.clone())))
            .collect();
        let limit = limit
            .map(|l| l as usize)
            .unwrap_or(self.config.history_page_max)
            .min(self.config.history_page_max);
        let query = super::HistoryQuery {
            session,
            reference,
            read: super::io::HistoryRead::Conversations(crate::store::TargetsQuery {
                me,
                rooms,
                after_ms,
                before_ms,
                limit,
            }),
        };
        self.read_history(session, query, io);
    }

    /// `search`: the words in the rooms this session is in and its private conversations (or
    /// only the room, or only the conversation with someone), newest first.
    pub(super) fn search(
        &mut self,
        session: SessionId,
        ask: SearchAsk,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        let words = validate::search_words(&ask.text);
        if words.is_empty() {
            let message = "Nothing to search for: give at least one word.";
            return self.error_to(session, ErrorCode::InvalidField, message, reference, io);
        }
        let (after_ms, before_ms) = match time_window(&ask.after, &ask.before) {
            Ok(window) => window,
            Err(message) => {
                return self.error_to(session, ErrorCode::InvalidField, message, reference, io)
            }
        };
        let (rooms, private, with) = match (&ask.room, &ask.with) {
            (Some(raw), _) => {
                let Some(key) = self.member_room(session, raw, &reference, io) else {
                    return;
                };
                (vec![key], false, None)
            }
            (None, Some(other)) => (Vec::new(), true, Some(validate::fold(other))),
            (None, None) => {
                let user = self.sessions[&session].user.as_ref().expect("joined");
                (user.rooms.clone(), true, None)
            }
        };
        let s = &self.sessions[&session];
        let me = DirectSide {
            key: s.user.as_ref().expect("joined").key.clone(),
            owner: s.owner(),
        };
        let query = crate::store::SearchQuery {
            words,
            me,
            rooms,
            private,
            with,
            from: ask.from.as_deref().map(validate::fold),
            after_ms,
            before_ms,
            before_id: ask.before_id,
            limit: ask
                .limit
                .map(|l| l as usize)
                .unwrap_or(SEARCH_PAGE)
                .clamp(1, self.config.history_page_max),
        };
        let read = super::io::HistoryRead::Search {
            text: ask.text,
            query,
        };
        let query = super::HistoryQuery {
            session,
            reference,
            read,
        };
        self.read_history(session, query, io);
    }

    /// Starts a history read, or queues it behind this session's read under way.
    fn read_history(
        &mut self,
        session: SessionId,
        mut query: super::HistoryQuery,
        io: &mut impl HubIo,
    ) {
        // The page goes to the connection that asked (a device of the user, maybe).
        let session = self.connection_asking(session);
        query.session = session;
        let Some(s) = self.sessions.get_mut(&session) else {
            return;
        };
        // One page is read at a time per session; the next ones wait their turn, in order (a
        // client loading two windows at once asks twice), up to a bound.
        if s.paging {
            if s.pages_waiting.len() >= HISTORY_WAITING_MAX {
                let message = format!(
                    "At most {HISTORY_WAITING_MAX} history requests may wait; wait for the pages you asked for."
                );
                let reference = query.reference;
                return self.error_to(session, ErrorCode::RateLimited, message, reference, io);
            }
            s.pages_waiting.push_back(query);
        } else {
            s.paging = true;
            io.fetch_history(query);
        }
        // The page is read off the hub's task; a later `ping` waits for it like for a message
        // in the store (see `history_done`).
        s.in_flight += 1;
    }

    /// A history page (or its refusal) has been queued for the session: the next one waiting
    /// is read.
    pub fn history_done(&mut self, session: SessionId, io: &mut impl HubIo) {
        if let Some(s) = self.sessions.get_mut(&session) {
            match s.pages_waiting.pop_front() {
                Some(next) => io.fetch_history(next),
                None => s.paging = false,
            }
        }
        self.landed(session, io);
        self.reap_slow(io);
    }
}
