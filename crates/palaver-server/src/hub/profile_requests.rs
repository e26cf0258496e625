//! The requests about people rather than messages: notices, away, renaming, `who`, `whois`,
//! `whowas`, kicking from a room, and server statistics. Both protocols use them; they are what
//! IRC's NOTICE, AWAY, NICK, WHO, WHOIS, WHOWAS, KICK and LUSERS become.

use std::collections::BTreeSet;

use serde_json::Value;

use palaver_proto::room_modes::mask_matches as glob_match;
use palaver_proto::{timestamp, validate, ErrorCode, ServerFrame, UserInfo};

use super::session::{PendingClaim, Profile, Session, User};
use super::{Hub, HubEvent, HubIo, Outgoing, Refusal, SessionId, SystemNotice, WHOWAS_KEEP};
use crate::network::events::NetworkEvent;
use crate::network::fanout::RelayTo;
use crate::network::names::NameClaim;
use crate::network::presence::PresenceChange;

/// The longest away message kept, in bytes (IRC's AWAYLEN).
pub const MAX_AWAY_BYTES: usize = 200;
/// The longest real name kept, in bytes.
pub const MAX_REALNAME_BYTES: usize = 200;
/// The longest kick reason kept, in bytes (IRC's KICKLEN).
pub const MAX_REASON_BYTES: usize = 300;

/// The most users one `who` with a mask lists.
const MAX_WHO_MATCHES: usize = 500;

/// At most `max` bytes of `text`, cut at a character boundary.
pub(super) fn clip(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

impl Hub {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn notice(
        &mut self,
        session: SessionId,
        content: String,
        room: Option<String>,
        target: Option<String>,
        reference: Option<Value>,
        client_tags: Option<super::outgoing::ClientTags>,
        io: &mut impl HubIo,
    ) {
        if !self.content_ok(session, &content, &reference, io) {
            return;
        }
        let (username, _) = self.user_of(session);
        let source = self.address(session);
        let sender = self.sender_of(session);
        let now = timestamp::format_millis(self.now());
        match target {
            Some(raw) => {
                let found = self.online(&raw);
                if let (None, Some(remote)) = (found, self.remote_user_named(&raw)) {
                    // A user of another node: the notice goes to its node, and back to the
                    // sender.
                    let frame = ServerFrame::Notice {
                        room: None,
                        target: Some(remote.name.clone()),
                        username,
                        content,
                        timestamp: now,
                    };
                    let out = Outgoing::message_from(
                        frame,
                        source.expect("joined"),
                        client_tags,
                        sender.clone(),
                    );
                    self.relay(RelayTo::Connection(remote.holder), &out, io);
                    return self.send_out(session, &out, io);
                }
                let Some(target_session) = found else {
                    let shown: String = raw.chars().take(40).collect();
                    let message = format!("Nobody named {shown:?} is online.");
                    let refusal = Refusal::new(ErrorCode::UnknownUser, message).about(shown);
                    return self.refuse(session, refusal, reference, io);
                };
                let (target_name, _) = self.user_of(target_session);
                let frame = ServerFrame::Notice {
                    room: None,
                    target: Some(target_name),
                    username,
                    content,
                    timestamp: now,
                };
                let out = Outgoing::message_from(
                    frame,
                    source.expect("joined"),
                    client_tags,
                    sender.clone(),
                );
                self.send_out(target_session, &out, io);
                if target_session != session {
                    self.send_out(session, &out, io);
                }
            }
            None => {
                let raw = room.unwrap_or_else(|| palaver_proto::DEFAULT_ROOM.to_string());
                let Some(key) = self.member_room(session, &raw, &reference, io) else {
                    return;
                };
                let frame = ServerFrame::Notice {
                    room: Some(self.rooms[&key].name.clone()),
                    target: None,
                    username,
                    content,
                    timestamp: now,
                };
                let out = Outgoing::message_from(
                    frame,
                    source.expect("joined"),
                    client_tags,
                    sender.clone(),
                );
                self.fan_out(&key, &out, None, io);
                self.relay(RelayTo::Room(key), &out, io);
            }
        }
    }

    /// Relays a TAGMSG to the IRC sessions of a room or to one user, and back to its sender.
    /// Native clients have nothing to show for tags alone, so they are not sent it.
    pub(super) fn tag_message(
        &mut self,
        session: SessionId,
        room: Option<String>,
        target: Option<String>,
        reference: Option<Value>,
        client_tags: Option<super::outgoing::ClientTags>,
        io: &mut impl HubIo,
    ) {
        let Some(tags) = client_tags else {
            return;
        };
        let (username, _) = self.user_of(session);
        let source = self.address(session).expect("joined");
        let now = timestamp::format_millis(self.now());
        let seq = self.next_event_seq();
        // Where else it goes: the room's other nodes, or the target's node.
        let mut elsewhere = None;
        let (room_name, recipients): (Option<String>, Vec<SessionId>) = match (&room, &target) {
            (Some(raw), _) => {
                let Some(key) = self.member_room(session, raw, &reference, io) else {
                    return;
                };
                let room = &self.rooms[&key];
                elsewhere = Some(RelayTo::Room(key.clone()));
                (
                    Some(room.name.clone()),
                    room.members.iter().copied().collect(),
                )
            }
            (None, Some(raw)) => {
                let found = self.online(raw);
                if let (None, Some(remote)) = (found, self.remote_user_named(raw)) {
                    elsewhere = Some(RelayTo::Connection(remote.holder));
                }
                let Some(t) = found.or(elsewhere.as_ref().map(|_| session)) else {
                    let shown: String = raw.chars().take(40).collect();
                    let message = format!("Nobody named {shown:?} is online.");
                    let refusal = Refusal::new(ErrorCode::UnknownUser, message).about(shown);
                    return self.refuse(session, refusal, reference, io);
                };
                (None, vec![t, session])
            }
            (None, None) => return,
        };
        let target = match (&room_name, target) {
            (None, Some(raw)) => validate::username(&raw).ok(),
            _ => None,
        };
        let frame = ServerFrame::TagMessage {
            room: room_name,
            target,
            username,
            timestamp: now,
        };
        let out = Outgoing::tagged(frame, source, seq, tags, self.sender_of(session));
        // Each connection decides by its wire: IRC ones get it (`Outgoing::for_wire`).
        let mut seen = BTreeSet::new();
        for r in recipients {
            if seen.insert(r) {
                self.send_out(r, &out, io);
            }
        }
        if let Some(to) = elsewhere {
            self.relay(to, &out, io);
        }
    }

    /// The sessions sharing at least one room with `session` (not itself).
    /// `set_realname`: a new real name, told to those sharing a room (IRC's SETNAME).
    pub(super) fn set_realname(
        &mut self,
        session: SessionId,
        realname: String,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        let realname = clip(realname.trim(), MAX_REALNAME_BYTES);
        if realname.is_empty() {
            let message = "A real name may not be empty.";
            return self.error_to(session, ErrorCode::InvalidField, message, reference, io);
        }
        let Some(user) = self
            .sessions
            .get_mut(&session)
            .and_then(|s| s.user.as_mut())
        else {
            return;
        };
        user.realname = realname.clone();
        let (username, source) = (user.name.clone(), user.address.clone());
        let news = ServerFrame::RealnameChanged {
            username: username.clone(),
            realname: realname.clone(),
            reference: None,
        };
        let out = Outgoing::from_user(news, source.clone());
        self.tell_neighbours(session, &out, io);
        let own = ServerFrame::RealnameChanged {
            username,
            realname,
            reference,
        };
        self.send_out(session, &Outgoing::from_user(own, source), io);
    }

    /// Sends a frame about `session`'s user to everyone here who shares a room with it.
    pub(super) fn tell_neighbours(
        &mut self,
        session: SessionId,
        out: &Outgoing,
        io: &mut impl HubIo,
    ) {
        for neighbour in self.neighbours(session) {
            self.send_out(neighbour, out, io);
        }
    }

    fn neighbours(&self, session: SessionId) -> BTreeSet<SessionId> {
        let mut out = BTreeSet::new();
        if let Some(user) = self.sessions.get(&session).and_then(|s| s.user.as_ref()) {
            for key in &user.rooms {
                if let Some(room) = self.rooms.get(key) {
                    out.extend(room.members.iter().copied().filter(|m| *m != session));
                }
            }
        }
        out
    }

    pub(super) fn set_away(
        &mut self,
        session: SessionId,
        message: Option<String>,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        let message = message
            .map(|m| clip(m.trim(), MAX_AWAY_BYTES))
            .filter(|m| !m.is_empty());
        let Some(user) = self
            .sessions
            .get_mut(&session)
            .and_then(|s| s.user.as_mut())
        else {
            return;
        };
        user.away = message.clone();
        let (name, source) = (user.name.clone(), user.address.clone());
        let others = Outgoing::from_user(
            ServerFrame::Away {
                username: name.clone(),
                message: message.clone(),
                reference: None,
            },
            source.clone(),
        );
        self.tell_neighbours(session, &others, io);
        let own = ServerFrame::Away {
            username: name,
            message: message.clone(),
            reference,
        };
        self.send_out(session, &Outgoing::from_user(own, source), io);
        let holder = self.holder(session);
        self.tell_presence(PresenceChange::Away { holder, message }, io);
    }

    pub(super) fn rename(
        &mut self,
        session: SessionId,
        raw: &str,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        let Some(new) = self.or_refuse_about(session, validate::username(raw), raw, &reference, io)
        else {
            return;
        };
        let new_key = validate::fold(&new);
        let (old, _) = self.user_of(session);
        if new == old {
            return;
        }
        let user = self.sessions[&session].user.as_ref().expect("joined");
        let claim = NameClaim {
            key: new_key,
            lookalikes: validate::lookalike_keys(&new),
            session_key: user.session_key,
            holder: self.holder(session),
            name: new,
        };
        let asker = self.connection_asking(session);
        let pending = PendingClaim::Rename { reference, asker };
        self.claim_name(session, claim, pending, io);
    }

    /// The rest of a rename, once the new name is granted: the old one is given back.
    pub(super) fn rename_claimed(
        &mut self,
        session: SessionId,
        claim: NameClaim,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        let (new, new_key) = (claim.name, claim.key);
        let (old, old_key) = self.user_of(session);
        let s = self.sessions.get_mut(&session).expect("joined");
        let protocol = s.profile.protocol;
        let user = s.user.as_mut().expect("joined");
        let old_address = user.address.clone();
        user.name = new.clone();
        user.key = new_key.clone();
        user.address = User::address_of(&new, &user.ident, protocol);
        let rooms = user.rooms.clone();
        self.users.remove(&old_key);
        self.users.insert(new_key.clone(), session);
        self.forget_remote_name(&new_key);
        if new_key != old_key {
            io.release_name(&old_key, self.holder(session));
        }
        self.names.remove(&old);
        self.names.insert(new.clone());
        if new_key != old_key {
            self.monitor_news(&old, false, io);
            self.monitor_news(&new, true, io);
        }
        let seq = self.next_event_seq();
        for key in &rooms {
            let notice = SystemNotice::renamed(&old, &new, old_address.clone(), seq);
            self.system_to_room(key, notice, Some(session), io);
        }
        if let Some(user) = self.online_user(session) {
            let renamed = PresenceChange::Renamed {
                holder: user.holder,
                name: user.name,
                key: user.key,
                address: user.address,
            };
            self.tell_presence(renamed, io);
        }
        let own = ServerFrame::Renamed {
            old: old.clone(),
            new: new.clone(),
            reference,
        };
        self.send_out(session, &Outgoing::from_user(own, old_address), io);
        io.event(HubEvent::Renamed { old, new });
    }

    /// What `who`, `whois` and `whowas` say about a session's user.
    fn user_info(&self, s: &Session, detailed: bool) -> Option<UserInfo> {
        let user = s.user.as_ref()?;
        let rooms: Vec<&super::room::Room> = user
            .rooms
            .iter()
            .filter_map(|k| self.rooms.get(k))
            .collect();
        Some(UserInfo {
            username: user.name.clone(),
            ident: user.ident.clone(),
            host: s.profile.protocol.host().to_string(),
            realname: user.realname.clone(),
            protocol: s.profile.protocol.as_str().to_string(),
            away: user.away.clone(),
            operator: false,
            rooms: detailed.then(|| rooms.iter().map(|r| r.name.clone()).collect()),
            voice: false,
            admin: self.is_admin(s.id),
            account: s.account.as_ref().map(|_| user.name.clone()),
            operator_of: if detailed {
                rooms
                    .iter()
                    .filter(|r| r.operators.contains(&s.id))
                    .map(|r| r.name.clone())
                    .collect()
            } else {
                Vec::new()
            },
            connected: timestamp::format_millis(user.joined_ms),
            idle_seconds: detailed
                .then(|| ((timestamp::now_millis() - user.active_ms).max(0) / 1000) as u64),
            left: None,
        })
    }

    pub(super) fn who(
        &mut self,
        session: SessionId,
        room: Option<String>,
        username: Option<String>,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        let (room_name, mut users) = match (room, username) {
            (Some(raw), _) => {
                let key = validate::room_name(&raw).ok().map(|n| validate::fold(&n));
                let Some(room) = key
                    .and_then(|k| self.rooms.get(&k))
                    .filter(|r| !self.hidden_from(session, &r.key))
                else {
                    let shown: String = raw.chars().take(70).collect();
                    let message = format!("There is no room named {shown:?}.");
                    let refusal = Refusal::new(ErrorCode::UnknownRoom, message).about(shown);
                    return self.refuse(session, refusal, reference, io);
                };
                let users: Vec<UserInfo> = room
                    .members
                    .iter()
                    .filter_map(|id| self.sessions.get(id))
                    .filter_map(|s| {
                        let mut info = self.user_info(s, false)?;
                        info.operator = room.operators.contains(&s.id);
                        info.voice = room.voiced.contains(&s.id);
                        Some(info)
                    })
                    .chain(
                        self.remote
                            .in_room(&room.key)
                            .map(|u| Self::remote_user_info(u, false)),
                    )
                    .collect();
                (Some(room.name.clone()), users)
            }
            (None, Some(raw)) if raw.contains(['*', '?']) => {
                // A mask (`*`, `al*`): everyone whose name matches, up to a bound.
                let pattern = validate::fold(&raw);
                let mine: Vec<String> = self.sessions[&session]
                    .user
                    .as_ref()
                    .map(|u| u.rooms.clone())
                    .unwrap_or_default();
                // The invisible (+i) are found by a mask only by those sharing a room.
                let visible = |s: &&Session| {
                    s.id == session
                        || s.user.as_ref().is_some_and(|u| {
                            !u.invisible || u.rooms.iter().any(|r| mine.contains(r))
                        })
                };
                let users: Vec<UserInfo> = self
                    .users
                    .iter()
                    .filter(|(key, _)| glob_match(&pattern, key))
                    .filter_map(|(_, id)| self.sessions.get(id))
                    .filter(visible)
                    .filter_map(|s| self.user_info(s, false))
                    .take(MAX_WHO_MATCHES)
                    .collect();
                (None, users)
            }
            (None, Some(raw)) => {
                let found = self
                    .online(&raw)
                    .and_then(|id| self.sessions.get(&id))
                    .and_then(|s| self.user_info(s, false))
                    .or_else(|| {
                        let user = self.remote_user_named(&raw)?;
                        Some(Self::remote_user_info(&user, false))
                    });
                (None, found.into_iter().collect())
            }
            (None, None) => (None, Vec::new()),
        };
        users.sort_by(|a, b| a.username.cmp(&b.username));
        let secret = room_name
            .as_deref()
            .is_some_and(|r| self.modes_of(&validate::fold(r)).is_some_and(|m| m.secret));
        let frame = ServerFrame::Who {
            room: room_name,
            users,
            secret,
            reference,
        };
        self.send_to(session, &frame, io);
    }

    pub(super) fn whois(
        &mut self,
        session: SessionId,
        raw: &str,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        let found = self
            .online(raw)
            .and_then(|id| self.sessions.get(&id))
            .and_then(|s| self.user_info(s, true))
            .or_else(|| {
                let user = self.remote_user_named(raw)?;
                Some(Self::remote_user_info(&user, true))
            });
        match found {
            Some(mut user) => {
                // Secret rooms (+s) are not shown to those outside them.
                let hidden = |name: &String| self.hidden_from(session, &validate::fold(name));
                if let Some(rooms) = &mut user.rooms {
                    rooms.retain(|r| !hidden(r));
                }
                user.operator_of.retain(|r| !hidden(r));
                let frame = ServerFrame::Whois {
                    user: Box::new(user),
                    reference,
                };
                self.send_to(session, &frame, io)
            }
            None => {
                let shown: String = raw.chars().take(40).collect();
                let message = format!("Nobody named {shown:?} is online.");
                let refusal = Refusal::new(ErrorCode::UnknownUser, message).about(shown);
                self.refuse(session, refusal, reference, io)
            }
        }
    }

    pub(super) fn whowas(
        &mut self,
        session: SessionId,
        raw: &str,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        let key = validate::fold(raw);
        let entries: Vec<UserInfo> = self
            .whowas
            .iter()
            .rev()
            .filter(|u| validate::fold(&u.username) == key)
            .cloned()
            .collect();
        let frame = ServerFrame::Whowas {
            username: raw.chars().take(40).collect(),
            entries,
            reference,
        };
        self.send_to(session, &frame, io);
    }

    /// Remembers a departing (or renamed) user for `whowas`.
    pub(super) fn remember_departed(&mut self, profile: &Profile, user: &User) {
        if self.whowas.len() >= WHOWAS_KEEP {
            self.whowas.pop_front();
        }
        self.whowas.push_back(UserInfo {
            username: user.name.clone(),
            ident: user.ident.clone(),
            host: profile.protocol.host().to_string(),
            realname: user.realname.clone(),
            protocol: profile.protocol.as_str().to_string(),
            away: None,
            operator: false,
            rooms: None,
            voice: false,
            admin: false,
            account: None,
            operator_of: Vec::new(),
            connected: timestamp::format_millis(user.joined_ms),
            idle_seconds: None,
            left: Some(timestamp::format_millis(timestamp::now_millis())),
        });
    }

    pub(super) fn kick_from_room(
        &mut self,
        session: SessionId,
        raw_room: &str,
        raw_user: &str,
        reason: Option<String>,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        let Some(key) = self.member_room(session, raw_room, &reference, io) else {
            return;
        };
        let room_name = self.rooms[&key].name.clone();
        if !self.moderates(session, &key) {
            let message =
                format!("Only operators and moderators of #{room_name} may remove people from it.");
            return self.error_to(session, ErrorCode::NotAuthorized, message, reference, io);
        }
        let (by, _) = self.user_of(session);
        let reason = reason
            .map(|r| clip(r.trim(), MAX_REASON_BYTES))
            .filter(|r| !r.is_empty());
        let source = self.address(session);
        if let Some(victim) = self.online(raw_user) {
            let (victim_name, _) = self.user_of(victim);
            if !self.rooms[&key].members.contains(&victim) {
                let message = format!("{victim_name} is not in #{room_name}.");
                let refusal = Refusal::new(ErrorCode::TargetNotInRoom, message).about(&victim_name);
                return self.refuse(session, refusal, reference, io);
            }
            return self.remove_from_room(victim, &key, &by, source, reason, io);
        }
        // A member on another node: its node removes it (and tells everyone).
        let remote = validate::username(raw_user)
            .ok()
            .and_then(|name| self.remote.get(&validate::fold(&name)))
            .map(|u| {
                (
                    u.holder,
                    u.name.clone(),
                    u.rooms.iter().any(|(k, _)| *k == key),
                )
            });
        match remote {
            Some((holder, _, true)) => {
                let kick = NetworkEvent::RoomKick {
                    holder,
                    room_key: key,
                    by,
                    source: source.map(|s| s.to_string()),
                    reason,
                };
                self.change(kick, io);
            }
            Some((_, victim_name, false)) => {
                let message = format!("{victim_name} is not in #{room_name}.");
                let refusal = Refusal::new(ErrorCode::TargetNotInRoom, message).about(&victim_name);
                self.refuse(session, refusal, reference, io);
            }
            None => {
                let shown: String = raw_user.chars().take(40).collect();
                let message = format!("Nobody named {shown:?} is online.");
                let refusal = Refusal::new(ErrorCode::UnknownUser, message).about(shown);
                self.refuse(session, refusal, reference, io);
            }
        }
    }

    /// Removes a member of this node from a room, by `by` (whose address is `source`).
    pub(super) fn remove_from_room(
        &mut self,
        victim: SessionId,
        key: &str,
        by: &str,
        source: Option<std::sync::Arc<str>>,
        reason: Option<String>,
        io: &mut impl HubIo,
    ) {
        let Some(room_name) = self.rooms.get(key).map(|r| r.name.clone()) else {
            return;
        };
        if !self.rooms[key].members.contains(&victim) {
            return;
        }
        let (victim_name, _) = self.user_of(victim);
        let notice =
            SystemNotice::removed(&victim_name, &room_name, by, reason.clone(), source.clone());
        self.system_to_room(key, notice, Some(victim), io);
        if let Some(user) = self.sessions.get_mut(&victim).and_then(|s| s.user.as_mut()) {
            user.rooms.retain(|k| k != key);
        }
        self.leave_room_quietly(victim, key, io);
        let left = ServerFrame::LeftRoom {
            room: room_name.clone(),
            by: Some(by.to_string()),
            reason: reason.clone(),
            reference: None,
        };
        self.send_out(victim, &Outgoing::build(left, source.clone(), None), io);
        let change = PresenceChange::LeftRoom {
            holder: self.holder(victim),
            room_key: key.to_string(),
            reason: reason.clone(),
            by: Some(by.to_string()),
            source: source.map(|s| s.to_string()),
        };
        self.tell_presence(change, io);
        io.event(HubEvent::KickedFromRoom {
            room: room_name,
            username: victim_name,
            by: by.to_string(),
            reason: reason.unwrap_or_default(),
        });
    }

    pub(super) fn info(
        &mut self,
        session: SessionId,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        let frame = ServerFrame::Info {
            users_online: self.names.len(),
            max_users_online: self.max_users_online,
            connections: self.sessions.len(),
            rooms: self.rooms.len(),
            started: timestamp::format_millis(self.started_ms),
            reference,
        };
        self.send_to(session, &frame, io);
    }
}
