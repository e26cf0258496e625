//! Joining: a connection becomes a user. In order: the name is admitted (valid, allowed, not
//! banned, not taken, except by an older connection of the same session, which is replaced; not
//! a look-alike), the rooms to enter are chosen (as asked, default `general`, within the limits),
//! the user is registered and enters them, the rooms' members are told, and the joiner gets its
//! `welcome`, its `joined_room`s and, with cursors, the replay of what it missed: once the
//! windows of the rooms it enters are in memory (`windows.rs`).

use serde_json::Value;

use palaver_proto::{
    timestamp, validate, Cursors, ErrorCode, Limits, Secret, ServerFrame, SystemEvent, Welcome,
    DEFAULT_ROOM, PROTOCOL_VERSION,
};

use super::identity::{self, SessionKey};
use super::session::{sanitize_ident, AfterWindows, JoinAsk, JoinCursors, PendingClaim, User};
use super::{Close, Hub, HubEvent, HubIo, Refusal, SessionId, SystemNotice};
use crate::network::names::NameClaim;
use crate::network::presence::PresenceChange;
use crate::store::{Conversation, DirectSide, ResumeScope};

/// At most this many names are listed in `welcome`; `users_online` has the full count.
const WELCOME_USERS_MAX: usize = 200;

/// A name granted: as shown, folded, and the session it belongs to.
struct Admitted {
    name: String,
    key: String,
    session_key: SessionKey,
}

impl Hub {
    /// A `join` (or a `login` whose password was right): the name is checked here, then
    /// claimed through the network's name registry; the join goes on in [`Hub::name_claimed`].
    pub(super) fn join(
        &mut self,
        session: SessionId,
        raw_name: &str,
        ask: JoinAsk,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        let name = match self.admit_name(session, raw_name) {
            Ok(name) => name,
            Err(refusal) => return self.refuse(session, refusal, reference, io),
        };
        // An account already online here: this connection is another of its devices.
        if let Some(user) = self.device_target(session, &validate::fold(&name)) {
            return self.attach_device(session, user, ask, reference, io);
        }
        // A returning session (same token) may take its name over from its old connection,
        // which may not know yet that it is dead; anyone else finds the name taken.
        let resume_token = ask
            .resume_token
            .as_ref()
            .map_or_else(identity::new_resume_token, |t| t.expose().to_string());
        let claim = NameClaim {
            key: validate::fold(&name),
            lookalikes: validate::lookalike_keys(&name),
            session_key: identity::session_key(&resume_token),
            holder: self.holder(session),
            name,
        };
        let pending = PendingClaim::Join {
            ask,
            resume_token,
            reference,
            asked_again: false,
        };
        self.claim_name(session, claim, pending, io);
    }

    /// The rest of a join, once its name is granted.
    pub(super) fn join_claimed(
        &mut self,
        session: SessionId,
        claim: NameClaim,
        ask: JoinAsk,
        resume_token: String,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        let admitted = Admitted {
            name: claim.name,
            key: claim.key,
            session_key: claim.session_key,
        };
        let JoinAsk { since, rooms, .. } = ask;
        self.ensure_default_room(io);
        let (room_names, refusals) = self.rooms_to_enter(rooms);
        let (room_keys, awaiting) = self.enter(session, &admitted, &room_names, io);

        // Conversations the client has cursors for are replayed from there; the rooms it has
        // none for show their recent window, as on a first join.
        let since_given = since.is_some();
        let cursors = since.map(|since| self.cursors(&since)).unwrap_or_default();
        let with_history = room_keys.iter().any(|k| k == DEFAULT_ROOM)
            && !cursors.rooms.contains_key(DEFAULT_ROOM);
        let welcome = self.welcome(&admitted.name, &room_keys, resume_token);
        let mut then = vec![self.welcome_step(welcome, with_history)];
        then.extend(
            refusals
                .into_iter()
                .map(|refusal| AfterWindows::Refuse(refusal, reference.clone())),
        );
        // Rooms other than general get their own joined_room frame with their recent messages.
        then.extend(
            room_keys
                .iter()
                .filter(|k| *k != DEFAULT_ROOM && !cursors.rooms.contains_key(*k))
                .map(|k| self.joined_room_step(k, None)),
        );
        if since_given {
            then.push(AfterWindows::Resume {
                cursors,
                room_keys: room_keys.clone(),
            });
        }
        self.after_windows(session, awaiting, then, io);
        self.announce_arrival(session, &admitted.name, &room_keys, io);
        self.send_read_markers(session, io);
    }

    /// Whether this connection may ask for the name: valid, allowed (accounts), not banned.
    /// (Whether someone else holds it is the name registry's to say.)
    fn admit_name(&mut self, session: SessionId, raw_name: &str) -> Result<String, Refusal> {
        let name = validate::username(raw_name).map_err(|r| Refusal::from(r).about(raw_name))?;
        let key = validate::fold(&name);
        self.may_use_name(session, &name, &key)
            .map_err(|r| Refusal::from(r).about(&name))?;
        if let Some(message) = self.name_ban(&key) {
            return Err(Refusal::new(ErrorCode::Banned, message).about(&name));
        }
        Ok(name)
    }

    /// The rooms to enter: as asked (default: general), valid, distinct, within the limits; and
    /// a refusal for each of the others.
    fn rooms_to_enter(&self, rooms: Option<Vec<String>>) -> (Vec<(String, String)>, Vec<Refusal>) {
        let mut room_names: Vec<(String, String)> = Vec::new();
        let mut refusals = Vec::new();
        for raw in rooms.unwrap_or_else(|| vec![DEFAULT_ROOM.to_string()]) {
            let room = match validate::room_name(&raw) {
                Ok(room) => room,
                Err(refusal) => {
                    refusals.push(Refusal::from(refusal).about(&raw));
                    continue;
                }
            };
            let room_key = validate::fold(&room);
            if room_names.iter().any(|(k, _)| *k == room_key) {
                continue;
            }
            let new_rooms = room_names
                .iter()
                .filter(|(k, _)| !self.rooms.contains_key(k))
                .count();
            let refusal = if self
                .rooms
                .get(&room_key)
                .is_some_and(|r| r.members.len() >= self.config.max_members_per_room)
            {
                Some(Refusal::new(
                    ErrorCode::RoomFull,
                    format!("Not joined to {room:?}: it has as many members as the server allows."),
                ))
            } else if room_names.len() >= self.config.max_rooms_per_user {
                Some(Refusal::new(
                    ErrorCode::TooManyRooms,
                    format!(
                        "Not joined to {room:?}: you may be in at most {} rooms.",
                        self.config.max_rooms_per_user
                    ),
                ))
            } else if !self.rooms.contains_key(&room_key)
                && self.rooms.len() + new_rooms >= self.config.max_rooms
            {
                Some(Refusal::new(
                    ErrorCode::TooManyRooms,
                    format!(
                        "Room {room:?} was not created: the server has as many rooms as it allows."
                    ),
                ))
            } else {
                None
            };
            match refusal {
                Some(refusal) => refusals.push(refusal.about(&room)),
                None => room_names.push((room_key, room)),
            }
        }
        (room_names, refusals)
    }

    /// Makes the session a user and puts it in its rooms; returns the rooms' keys and those whose
    /// windows are still being read.
    fn enter(
        &mut self,
        session: SessionId,
        admitted: &Admitted,
        room_names: &[(String, String)],
        io: &mut impl HubIo,
    ) -> (Vec<String>, Vec<String>) {
        let Admitted {
            name,
            key,
            session_key,
        } = admitted;
        self.users.insert(key.clone(), session);
        self.forget_remote_name(key);
        self.names.insert(name.clone());
        self.monitor_news(name, true, io);
        self.max_users_online = self.max_users_online.max(self.names.len());
        let mut room_keys = Vec::with_capacity(room_names.len());
        let mut awaiting = Vec::new();
        for (room_key, room_name) in room_names {
            if !self.rooms.contains_key(room_key) {
                self.create_room(room_name.clone(), io);
            }
            if !self.activate_room(room_key, io) {
                awaiting.push(room_key.clone());
            }
            self.add_member(session, room_key);
            room_keys.push(room_key.clone());
        }
        let s = self.sessions.get_mut(&session).expect("session exists");
        let ident = sanitize_ident(s.profile.ident.as_deref(), name);
        let now = timestamp::now_millis();
        s.user = Some(User {
            // A returning guest continues its session (and its private history); everyone
            // else starts a new one.
            session_key: *session_key,
            address: User::address_of(name, &ident, s.profile.protocol),
            name: name.clone(),
            key: key.clone(),
            rooms: room_keys.clone(),
            ident,
            realname: s.profile.realname.clone().unwrap_or_else(|| name.clone()),
            away: None,
            invisible: false,
            active_ms: now,
            joined_ms: now,
            read_markers: Default::default(),
        });
        io.joined(session, name);
        io.event(HubEvent::Joined {
            session,
            username: name.clone(),
        });
        if let Some(user) = self.online_user(session) {
            self.tell_presence(PresenceChange::Entered(user), io);
        }
        (room_keys, awaiting)
    }

    /// The `welcome` (its `history` is filled in once general's window is in memory).
    pub(super) fn welcome(
        &self,
        name: &str,
        room_keys: &[String],
        resume_token: String,
    ) -> Welcome {
        Welcome {
            username: name.to_string(),
            server: "palaver".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            protocol: PROTOCOL_VERSION,
            limits: Limits {
                max_frame_bytes: self.config.max_frame_bytes,
                max_message_bytes: self.config.max_message_bytes,
                rate_per_second: self.config.rate_per_second,
                rate_burst: self.config.rate_burst,
                history_page_max: self.config.history_page_max as u32,
                max_upload_bytes: self.files.as_ref().map_or(0, |f| f.limits.max_bytes),
            },
            http_base: self.files.as_ref().and_then(|f| f.http_base.clone()),
            rooms: room_keys
                .iter()
                .filter_map(|k| {
                    self.rooms.get(k).map(|r| palaver_proto::RoomInfo {
                        last_seq: self.last_seq_of(k),
                        ..self.room_info(r)
                    })
                })
                .collect(),
            users: self.first_names_online(WELCOME_USERS_MAX),
            users_online: self.names.len() + self.remote.len(),
            history: Vec::new(),
            timestamp: timestamp::format_millis(timestamp::now_millis()),
            resume_token: Some(Secret(resume_token)),
        }
    }

    /// Tells each room the user entered that it joined.
    fn announce_arrival(
        &mut self,
        session: SessionId,
        name: &str,
        room_keys: &[String],
        io: &mut impl HubIo,
    ) {
        let source = self.address(session);
        for room_key in room_keys {
            let room_name = self.rooms[room_key].name.clone();
            let notice = SystemNotice::arrival(name, room_key, &room_name, source.clone());
            self.system_to_room(room_key, notice, Some(session), io);
        }
    }

    /// A client's cursors, keyed as the hub keys conversations: rooms by folded name, private
    /// conversations by the other user's folded name. Unknown names are skipped.
    pub(super) fn cursors(&self, since: &Cursors) -> JoinCursors {
        let mut cursors = JoinCursors::default();
        for (conversation, &seq) in since {
            match conversation.strip_prefix('@') {
                Some(other) => {
                    if let Ok(other) = validate::username(other) {
                        cursors.directs.insert(validate::fold(&other), seq);
                    }
                }
                None => {
                    let room = conversation.trim_start_matches('#');
                    if let Ok(room) = validate::room_name(room) {
                        cursors.rooms.insert(validate::fold(&room), seq);
                    }
                }
            }
        }
        cursors
    }

    /// Closes the old connection of a session that has come back on a new one.
    pub(super) fn replace_session(&mut self, old: SessionId, io: &mut impl HubIo) {
        let message = "You connected again from elsewhere, so this connection was closed.";
        self.error_to(old, ErrorCode::SessionReplaced, message, None, io);
        // The name is held elsewhere now: the user's other devices go with it.
        self.close_devices(old, ErrorCode::SessionReplaced, io);
        self.remove_session(
            old,
            Some("reconnected".into()),
            SystemEvent::Disconnected,
            Close::Graceful,
            io,
        );
    }

    /// Replays what a returning client missed (each conversation after its cursor) before any
    /// live frame: live frames wait meanwhile (see [`Hub::resume_done`]).
    pub(super) fn start_resume(
        &mut self,
        session: SessionId,
        cursors: JoinCursors,
        room_keys: &[String],
        io: &mut impl HubIo,
    ) {
        let s = &self.sessions[&self.user_session(session)];
        let me = DirectSide {
            key: s.user.as_ref().expect("joined").key.clone(),
            owner: s.owner(),
        };
        let mut conversations = Vec::new();
        for key in room_keys {
            let (Some(&after), Some(room)) = (cursors.rooms.get(key), self.rooms.get(key)) else {
                continue;
            };
            // A room whose newest message the client has seen has nothing to replay.
            if after < room.last_seq {
                conversations.push((Conversation::Room(key.clone()), after, Some(room.last_seq)));
            }
        }
        for (other_key, after) in cursors.directs {
            let me = me.clone();
            conversations.push((Conversation::Direct { me, other_key }, after, None));
        }
        if conversations.is_empty() {
            let marker = ServerFrame::Resumed {
                replayed: 0,
                complete: true,
            };
            return self.send_to(session, &marker, io);
        }
        if let Some(s) = self.sessions.get_mut(&session) {
            s.resuming = true;
            s.catch_up.get_or_insert_with(Vec::new);
        }
        let scope = ResumeScope {
            conversations,
            limit: self.config.max_resume,
        };
        io.replay_missed(session, scope);
    }

    /// Adds a member to a room; whoever enters an empty room (on every node) becomes its
    /// operator.
    pub(super) fn add_member(&mut self, session: SessionId, room_key: &str) {
        if let Some(room) = self.rooms.get_mut(room_key) {
            if room.members.is_empty() && self.remote.count_in(room_key) == 0 {
                room.operators.insert(session);
            }
            room.members.insert(session);
        }
    }
}
