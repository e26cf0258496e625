//! Rooms' modes (IRC's channel modes) and invitations: the rules for who may enter a room,
//! speak in it and set its topic, the same for every protocol.
//!
//! A room's operators are whoever entered it while it was empty, those given `+o`, its
//! moderators and the admins; they change its modes (`mode`), invite (`invite`), kick. The
//! rules: `+b` masks keep matching users out (and silent); `+i` lets in only those invited;
//! `+k` asks for the key; `+l` caps the members; `+m` lets only voiced members and operators
//! speak; `+t` lets only operators set the topic; `+s` hides the room from non-members. An
//! invitation gets past `+i`, `+k` and `+l`, once.
//!
//! Modes are stored with the other moderation records and shared through a
//! [`NetworkEvent::RoomModes`]; a member's operator status and voice live with its session, on
//! its node, and travel in the same event. A room nobody adopted (it has no moderators) loses
//! its modes when its last member leaves, as an IRC channel does; one with moderators keeps
//! them, as a registered channel does.

use std::sync::Arc;

use serde_json::Value;

use palaver_proto::room_modes::{self, ModeChange, ModeError, RoomModes};
use palaver_proto::{timestamp, validate, ErrorCode, ServerFrame};

use super::{Hub, HubIo, Outgoing, Refusal, SessionId};
use crate::network::events::{MemberStatus, NetworkEvent, Status};
use crate::network::names::Holder;

impl Hub {
    /// A room's modes (none: the defaults).
    pub(super) fn modes_of(&self, room_key: &str) -> Option<&RoomModes> {
        self.moderation.room_modes.get(room_key)
    }

    /// A room's modes as a listing shows them (`+nt`), without parameters.
    pub(super) fn modes_letters(&self, room_key: &str) -> Option<String> {
        let modes = self.modes_of(room_key)?;
        Some(modes.summary(false).0)
    }

    /// Whether a room is secret (`+s`) and `session` is not in it: hidden from them.
    pub(super) fn hidden_from(&self, session: SessionId, room_key: &str) -> bool {
        self.modes_of(room_key).is_some_and(|m| m.secret)
            && !self
                .rooms
                .get(room_key)
                .is_some_and(|r| r.members.contains(&session))
    }

    /// Why `session` may not enter an existing room, if it may not (`key` as given).
    pub(super) fn entry_refusal(
        &self,
        session: SessionId,
        room_key: &str,
        key: Option<&str>,
    ) -> Option<Refusal> {
        let modes = self.modes_of(room_key)?;
        let room = self.rooms.get(room_key)?;
        let name = &room.name;
        if self.moderates(session, room_key) {
            return None;
        }
        let user_key = self.sessions.get(&session)?.user.as_ref()?.key.clone();
        if let Some(address) = self.address(session) {
            if modes.bans_address(&address) {
                let message = format!("You are banned from #{name}.");
                return Some(Refusal::new(ErrorCode::BannedFromRoom, message).about(name));
            }
        }
        let invited = self
            .moderation
            .invites
            .contains(&(room_key.to_string(), user_key));
        if invited {
            return None;
        }
        if modes.invite_only {
            let message = format!("#{name} is invite-only; one of its operators must invite you.");
            return Some(Refusal::new(ErrorCode::InviteOnly, message).about(name));
        }
        if let Some(expected) = &modes.key {
            if key != Some(expected.as_str()) {
                let message = format!("#{name} needs a key to enter; yours is missing or wrong.");
                return Some(Refusal::new(ErrorCode::WrongRoomKey, message).about(name));
            }
        }
        if let Some(limit) = modes.limit {
            let members = room.members.len() + self.remote.count_in(room_key);
            if members >= limit as usize {
                let message = format!("#{name} is full: at most {limit} members (+l).");
                return Some(Refusal::new(ErrorCode::RoomFull, message).about(name));
            }
        }
        None
    }

    /// An invitation is used up by entering.
    pub(super) fn entered(&mut self, session: SessionId, room_key: &str) {
        if let Some(user) = self.sessions.get(&session).and_then(|s| s.user.as_ref()) {
            let entry = (room_key.to_string(), user.key.clone());
            self.moderation.invites.remove(&entry);
        }
    }

    /// Why `session` may not speak in a room, if it may not (`+m`, `+b`).
    pub(super) fn speech_refusal(&self, session: SessionId, room_key: &str) -> Option<Refusal> {
        let modes = self.modes_of(room_key)?;
        if self.moderates(session, room_key) {
            return None;
        }
        let room = self.rooms.get(room_key)?;
        let name = &room.name;
        if self
            .address(session)
            .is_some_and(|a| modes.bans_address(&a))
        {
            let message = format!("You are banned from #{name} and cannot speak in it.");
            return Some(Refusal::new(ErrorCode::BannedFromRoom, message).about(name));
        }
        if modes.moderated && !room.voiced.contains(&session) {
            let message = format!("#{name} is moderated: only members with voice may speak.");
            return Some(Refusal::new(ErrorCode::Moderated, message).about(name));
        }
        None
    }

    /// Whether `session` may set the topic of a room (`+t` keeps it to operators).
    pub(super) fn may_set_topic(&self, session: SessionId, room_key: &str) -> bool {
        !self.modes_of(room_key).is_some_and(|m| m.topic_lock) || self.moderates(session, room_key)
    }

    /// The last member left a room: a room nobody adopted (no moderators, like an IRC channel
    /// that is not registered) loses its modes and invitations, as an IRC channel does when it
    /// empties; an adopted one keeps them.
    pub(super) fn room_emptied(&mut self, room_key: &str, io: &mut impl HubIo) {
        self.moderation.invites.retain(|(room, _)| room != room_key);
        let adopted = self
            .moderation
            .moderators
            .get(room_key)
            .is_some_and(|m| !m.is_empty());
        if adopted || self.modes_of(room_key).is_none() {
            return;
        }
        let event = NetworkEvent::RoomModes {
            room_key: room_key.to_string(),
            modes: RoomModes::default(),
            members: Vec::new(),
            by: "the server".into(),
            source: None,
            change: String::new(),
            params: Vec::new(),
            at_ms: timestamp::now_millis(),
        };
        self.change(event, io);
    }

    /// `mode`: a room's modes (no `modes`), its ban list (`b`), or a change.
    pub(super) fn mode_request(
        &mut self,
        session: SessionId,
        raw_room: &str,
        modes: Option<String>,
        params: Vec<String>,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        let Some(name) = self.or_refuse_about(
            session,
            validate::room_name(raw_room),
            raw_room,
            &reference,
            io,
        ) else {
            return;
        };
        let room_key = validate::fold(&name);
        let Some(room) = self.rooms.get(&room_key) else {
            let message = format!("There is no room named {name:?}.");
            let refusal = Refusal::new(ErrorCode::UnknownRoom, message).about(&name);
            return self.refuse(session, refusal, reference, io);
        };
        let room_name = room.name.clone();
        let member = room.members.contains(&session);
        let (changes, errors) = room_modes::parse(modes.as_deref().unwrap_or(""), &params);
        let only_list = changes.iter().all(|c| *c == ModeChange::BanList);
        if errors.is_empty() && only_list {
            if self.hidden_from(session, &room_key) {
                let message = format!("There is no room named {name:?}.");
                let refusal = Refusal::new(ErrorCode::UnknownRoom, message).about(&name);
                return self.refuse(session, refusal, reference, io);
            }
            let current = self.modes_of(&room_key).cloned().unwrap_or_default();
            let (letters, values) = current.summary(member);
            let frame = ServerFrame::RoomModes {
                room: room_name,
                modes: letters,
                params: values,
                bans: if changes.is_empty() {
                    Vec::new()
                } else {
                    current.bans.clone()
                },
                created: Some(timestamp::format_millis(self.rooms[&room_key].created_ms)),
                reference,
            };
            return self.send_to(session, &frame, io);
        }
        if !self.moderates(session, &room_key) {
            let message = format!("Only the operators of #{room_name} may change its modes.");
            let refusal = Refusal::new(ErrorCode::NotAuthorized, message).about(&room_name);
            return self.refuse(session, refusal, reference, io);
        }
        for error in errors {
            let refusal = match error {
                ModeError::Unknown(letter) => Refusal::new(
                    ErrorCode::UnknownMode,
                    format!("{letter:?} is not a room mode here."),
                ),
                ModeError::MissingParameter(letter) => Refusal::new(
                    ErrorCode::MissingField,
                    format!("The mode {letter:?} needs a parameter."),
                ),
            };
            let letter = match error {
                ModeError::Unknown(c) | ModeError::MissingParameter(c) => c,
            };
            self.refuse(
                session,
                refusal.about(letter.to_string()),
                reference.clone(),
                io,
            );
        }
        let (by, _) = self.user_of(session);
        let now = timestamp::now_millis();
        let mut modes = self.modes_of(&room_key).cloned().unwrap_or_default();
        let mut applied = Vec::new();
        let mut members = Vec::new();
        for change in changes {
            match &change {
                ModeChange::Operator { nick, on } | ModeChange::Voice { nick, on } => {
                    let status = if matches!(change, ModeChange::Operator { .. }) {
                        Status::Operator
                    } else {
                        Status::Voice
                    };
                    match self.member_named(&room_key, nick) {
                        Ok((holder, shown)) => {
                            members.push(MemberStatus {
                                holder,
                                status,
                                on: *on,
                            });
                            applied.push(match status {
                                Status::Operator => ModeChange::Operator {
                                    nick: shown,
                                    on: *on,
                                },
                                Status::Voice => ModeChange::Voice {
                                    nick: shown,
                                    on: *on,
                                },
                            });
                        }
                        Err(refusal) => self.refuse(session, refusal, reference.clone(), io),
                    }
                }
                ModeChange::BanList | ModeChange::NoOutside(_) => {}
                _ => {
                    if modes.apply(&change, &by, now) {
                        applied.push(change);
                    }
                }
            }
        }
        if applied.is_empty() {
            return;
        }
        let (change, params) = room_modes::render(&applied);
        let event = NetworkEvent::RoomModes {
            room_key,
            modes,
            members,
            by,
            source: self.address(session).map(|a| a.to_string()),
            change,
            params,
            at_ms: now,
        };
        // The answer is the change itself, which every member sees.
        self.change(event, io);
    }

    /// A member of a room by name, here or on another node: its connection and its name as
    /// shown.
    fn member_named(&self, room_key: &str, raw: &str) -> Result<(Holder, String), Refusal> {
        let room_name = self
            .rooms
            .get(room_key)
            .map(|r| r.name.clone())
            .unwrap_or_default();
        if let Some(id) = self.online(raw) {
            let (name, _) = self.user_of(id);
            if !self
                .rooms
                .get(room_key)
                .is_some_and(|r| r.members.contains(&id))
            {
                let message = format!("{name} is not in #{room_name}.");
                return Err(Refusal::new(ErrorCode::TargetNotInRoom, message).about(name));
            }
            return Ok((self.holder(id), name));
        }
        match self.remote_user_named(raw) {
            Some(u) if u.rooms.iter().any(|(k, _)| k == room_key) => Ok((u.holder, u.name)),
            Some(u) => {
                let message = format!("{} is not in #{room_name}.", u.name);
                Err(Refusal::new(ErrorCode::TargetNotInRoom, message).about(u.name))
            }
            None => {
                let shown: String = raw.chars().take(40).collect();
                let message = format!("Nobody named {shown:?} is online.");
                Err(Refusal::new(ErrorCode::UnknownUser, message).about(shown))
            }
        }
    }

    /// A change of a room's modes, made here or on another node.
    pub(super) fn apply_room_modes(&mut self, event: &NetworkEvent, io: &mut impl HubIo) {
        let NetworkEvent::RoomModes {
            room_key,
            modes,
            members,
            by,
            source,
            change,
            params,
            at_ms,
        } = event
        else {
            return;
        };
        if *modes == RoomModes::default() {
            self.moderation.room_modes.remove(room_key);
        } else {
            self.moderation
                .room_modes
                .insert(room_key.clone(), modes.clone());
        }
        let node = self.config.node;
        let Some(room) = self.rooms.get_mut(room_key) else {
            return;
        };
        for m in members.iter().filter(|m| m.holder.node == node) {
            let set = match m.status {
                Status::Operator => &mut room.operators,
                Status::Voice => &mut room.voiced,
            };
            if !room.members.contains(&m.holder.session) {
                continue;
            }
            if m.on {
                set.insert(m.holder.session);
            } else {
                set.remove(&m.holder.session);
            }
        }
        let frame = ServerFrame::ModeChanged {
            room: room.name.clone(),
            username: by.clone(),
            modes: change.clone(),
            params: params.clone(),
            timestamp: timestamp::format_millis(*at_ms),
            reference: None,
        };
        let source: Option<Arc<str>> = source.as_deref().map(Arc::from);
        let out = Outgoing::build(frame, source, None);
        self.fan_out(room_key, &out, None, io);
    }

    /// `invite`: someone into a room (its operators only, when it is invite-only).
    pub(super) fn invite_request(
        &mut self,
        session: SessionId,
        raw_room: &str,
        raw_user: &str,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        let Some(room_key) = self.member_room(session, raw_room, &reference, io) else {
            return;
        };
        let room_name = self.rooms[&room_key].name.clone();
        if self.modes_of(&room_key).is_some_and(|m| m.invite_only)
            && !self.moderates(session, &room_key)
        {
            let message = format!("Only the operators of #{room_name} may invite people into it.");
            let refusal = Refusal::new(ErrorCode::NotAuthorized, message).about(&room_name);
            return self.refuse(session, refusal, reference, io);
        }
        let target = match self.online(raw_user) {
            Some(id) => {
                let (name, _) = self.user_of(id);
                let inside = self.rooms[&room_key].members.contains(&id);
                Some((name, inside))
            }
            None => self.remote_user_named(raw_user).map(|u| {
                let inside = u.rooms.iter().any(|(k, _)| *k == room_key);
                (u.name, inside)
            }),
        };
        let Some((name, inside)) = target else {
            let shown: String = raw_user.chars().take(40).collect();
            let message = format!("Nobody named {shown:?} is online.");
            let refusal = Refusal::new(ErrorCode::UnknownUser, message).about(shown);
            return self.refuse(session, refusal, reference, io);
        };
        if inside {
            let message = format!("{name} is already in #{room_name}.");
            let refusal = Refusal::new(ErrorCode::AlreadyInRoom, message).about(&name);
            return self.refuse(session, refusal, reference, io);
        }
        let (by, _) = self.user_of(session);
        let answer = ServerFrame::Invited {
            room: room_name,
            username: name.clone(),
            by: by.clone(),
            reference,
        };
        self.send_to(session, &answer, io);
        let event = NetworkEvent::Invite {
            room_key,
            name,
            by,
            source: self.address(session).map(|a| a.to_string()),
        };
        self.change(event, io);
    }

    /// An invitation, made here or on another node: remembered on every node (whichever the
    /// invitee enters from), told to the invitee and to the room's operators here.
    pub(super) fn apply_invite(
        &mut self,
        room_key: &str,
        name: &str,
        by: &str,
        source: Option<&str>,
        io: &mut impl HubIo,
    ) {
        let name_key = validate::fold(name);
        self.moderation
            .invites
            .insert((room_key.to_string(), name_key.clone()));
        let Some(room) = self.rooms.get(room_key) else {
            return;
        };
        let frame = ServerFrame::Invited {
            room: room.name.clone(),
            username: name.to_string(),
            by: by.to_string(),
            reference: None,
        };
        let out = Outgoing::build(frame, source.map(Arc::from), None);
        let mut told: Vec<SessionId> = room
            .operators
            .iter()
            .copied()
            .filter(|s| self.sessions.get(s).and_then(|s| s.name()) != Some(by))
            .collect();
        if let Some(&invitee) = self.users.get(&name_key) {
            told.push(invitee);
        }
        for session in told {
            self.send_out(session, &out, io);
        }
    }
}
