//! Roles and moderation: admins (named in the configuration or with `palaver-server
//! admin add`, effective once logged in to their account), moderators per room (granted by an
//! admin), and what they may do: announce, ban accounts or addresses for a while or for good,
//! mute, lock and delete rooms, grant moderators, kick. Everyone else gets `not_authorized`.
//! Every action is logged (a [`HubEvent::Moderation`]); bans, moderators, mutes and locks are
//! stored, so they survive restarts (and, with a shared database, are seen by every node that
//! starts).

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use serde_json::Value;

use palaver_proto::room_modes::RoomModes;
use palaver_proto::{timestamp, validate, ErrorCode, ServerFrame, DEFAULT_ROOM};

use super::{Hub, HubEvent, HubIo, Refusal, SessionId};
use crate::network::events::NetworkEvent;

/// What a ban is on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum BanTarget {
    /// A folded name (account or guest).
    Name(String),
    Address(IpAddr),
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Ban {
    pub target: BanTarget,
    /// Milliseconds since the epoch; `None` until lifted.
    pub until_ms: Option<i64>,
    pub reason: String,
    pub by: String,
}

impl Ban {
    fn active(&self, now: i64) -> bool {
        self.until_ms.is_none_or(|until| until > now)
    }

    pub(super) fn describe(&self) -> String {
        let until = match self.until_ms {
            Some(ms) => format!(" until {}", timestamp::format_millis(ms)),
            None => String::new(),
        };
        let reason = if self.reason.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.reason)
        };
        format!("You are banned from this server{until}{reason}.")
    }
}

/// What moderation keeps across restarts, as loaded at startup and written as it changes.
#[derive(Debug, Clone, Default)]
pub struct ModerationState {
    /// Folded account names.
    pub admins: Vec<String>,
    /// (room key, folded account name).
    pub moderators: Vec<(String, String)>,
    pub bans: Vec<Ban>,
    /// Mutes: room key (`None`: everywhere), folded name, until (ms; `None`: until lifted).
    pub mutes: Vec<(Option<String>, String, Option<i64>)>,
    /// Keys of locked rooms.
    pub locked: Vec<String>,
    /// Rooms' modes (IRC's channel modes), by room key.
    pub room_modes: Vec<(String, RoomModes)>,
}

/// A change for the store.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ModerationRecord {
    Ban(Ban),
    Unban(BanTarget),
    Moderator {
        room_key: String,
        name_key: String,
        granted: bool,
    },
    DeleteRoom {
        room_key: String,
    },
    Mute {
        room_key: Option<String>,
        name_key: String,
        until_ms: Option<i64>,
    },
    Unmute {
        room_key: Option<String>,
        name_key: String,
    },
    Lock {
        room_key: String,
        locked: bool,
    },
    /// A room's modes, all of them (a room with none is forgotten).
    RoomModes {
        room_key: String,
        modes: RoomModes,
    },
}

/// Moderation state in the hub.
#[derive(Debug, Default)]
pub struct Moderation {
    pub(super) admins: HashSet<String>,
    pub(super) moderators: HashMap<String, HashSet<String>>,
    pub(super) bans: HashMap<BanTarget, Ban>,
    /// (room key or None for everywhere, folded name) -> until (ms) or None.
    pub(super) mutes: HashMap<(Option<String>, String), Option<i64>>,
    pub(super) locked: HashSet<String>,
    /// Rooms' modes, by room key (a room with none has no entry).
    pub(super) room_modes: HashMap<String, RoomModes>,
    /// (room key, folded name) invited into the room, until they enter it (in memory only).
    pub(super) invites: HashSet<(String, String)>,
}

fn until(minutes: Option<u64>) -> Option<i64> {
    minutes.map(|m| timestamp::now_millis() + (m.min(10 * 365 * 24 * 60) as i64) * 60_000)
}

impl Hub {
    /// Loads admins, moderators and bans (at startup).
    pub fn load_moderation(&mut self, state: ModerationState) {
        let m = &mut self.moderation;
        m.admins
            .extend(state.admins.iter().map(|a| validate::fold(a)));
        for (room, name) in state.moderators {
            m.moderators.entry(room).or_default().insert(name);
        }
        for ban in state.bans {
            m.bans.insert(ban.target.clone(), ban);
        }
        for (room, name, until_ms) in state.mutes {
            m.mutes.insert((room, name), until_ms);
        }
        m.locked.extend(state.locked);
        m.room_modes.extend(state.room_modes);
    }

    /// The stored moderation and rooms, read again after this cluster node's subscription came
    /// back: what changed while it heard nothing (a ban, a lifted mute, a lock, a topic, a new
    /// room) takes effect here, as if the event had arrived.
    pub fn reload_shared(
        &mut self,
        state: ModerationState,
        rooms: Vec<crate::store::RoomRecord>,
        io: &mut impl HubIo,
    ) {
        let m = &mut self.moderation;
        m.admins
            .extend(state.admins.iter().map(|a| validate::fold(a)));
        m.moderators.clear();
        for (room, name) in state.moderators {
            m.moderators.entry(room).or_default().insert(name);
        }
        m.mutes = state
            .mutes
            .into_iter()
            .map(|(room, name, until)| ((room, name), until))
            .collect();
        m.locked = state.locked.into_iter().collect();
        m.room_modes = state.room_modes.into_iter().collect();
        m.bans = state
            .bans
            .iter()
            .map(|ban| (ban.target.clone(), ban.clone()))
            .collect();
        let now = palaver_proto::timestamp::now_millis();
        for ban in state
            .bans
            .iter()
            .filter(|b| b.until_ms.is_none_or(|u| u > now))
        {
            self.disconnect_banned(ban, io);
        }
        for record in rooms {
            match self.rooms.get_mut(&record.key) {
                Some(room) => room.topic = record.topic,
                None => self.room_created_elsewhere(&record.key, &record.name, record.created_ms),
            }
        }
        self.reap_slow(io);
    }

    pub(super) fn is_admin(&self, session: SessionId) -> bool {
        self.sessions.get(&session).is_some_and(|s| {
            [&s.account, &s.oper]
                .into_iter()
                .flatten()
                .any(|a| self.moderation.admins.contains(a))
        })
    }

    /// `kill`: an admin disconnects someone from the server (IRC's KILL).
    pub(super) fn kill_request(
        &mut self,
        session: SessionId,
        raw: &str,
        reason: Option<String>,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        if !self.is_admin(session) {
            let message = "Only admins (IRC operators) may disconnect people from the server.";
            return self.error_to(session, ErrorCode::NotAuthorized, message, reference, io);
        }
        let (by, _) = self.user_of(session);
        let reason = format!("by {by}: {}", reason.unwrap_or_default().trim());
        let reason = reason.trim_end_matches([':', ' ']).to_string();
        if !self.kick(raw, &reason, io) {
            let shown: String = raw.chars().take(40).collect();
            let message = format!("Nobody named {shown:?} is online.");
            let refusal = Refusal::new(ErrorCode::UnknownUser, message).about(shown);
            return self.refuse(session, refusal, reference, io);
        }
        let message = format!("{raw} was disconnected ({reason}).");
        self.tell_admins(session, "kill", &message, io);
        let frame = ServerFrame::Done {
            action: "kill".into(),
            message,
            reference,
        };
        self.send_to(session, &frame, io);
    }

    /// Admins, the room's moderators, and its operator (who entered it while it was empty).
    pub(super) fn moderates(&self, session: SessionId, room_key: &str) -> bool {
        if self.is_admin(session) {
            return true;
        }
        if self
            .rooms
            .get(room_key)
            .is_some_and(|r| r.operators.contains(&session))
        {
            return true;
        }
        let account = self.sessions.get(&session).and_then(|s| s.account.as_ref());
        account.is_some_and(|a| {
            self.moderation
                .moderators
                .get(room_key)
                .is_some_and(|m| m.contains(a))
        })
    }

    /// Admins and the room's registered moderators (accounts granted the room), not its
    /// operators of the moment: whoever enters an empty room becomes one, and deleting other
    /// people's messages is for lasting roles.
    pub(super) fn moderates_lastingly(&self, session: SessionId, room_key: &str) -> bool {
        if self.is_admin(session) {
            return true;
        }
        let account = self.sessions.get(&session).and_then(|s| s.account.as_ref());
        account.is_some_and(|a| {
            self.moderation
                .moderators
                .get(room_key)
                .is_some_and(|m| m.contains(a))
        })
    }

    /// The ban on a name, if one is in force.
    pub(super) fn name_ban(&self, key: &str) -> Option<String> {
        let now = timestamp::now_millis();
        self.moderation
            .bans
            .get(&BanTarget::Name(key.to_string()))
            .filter(|b| b.active(now))
            .map(Ban::describe)
    }

    /// The ban on an address (`ip:port` as the connection reports it), if one is in force.
    pub(super) fn address_ban(&self, peer: &str) -> Option<String> {
        let ip = peer.parse::<std::net::SocketAddr>().ok()?.ip();
        let now = timestamp::now_millis();
        self.moderation
            .bans
            .get(&BanTarget::Address(ip))
            .filter(|b| b.active(now))
            .map(Ban::describe)
    }

    /// Whether a muted user may not speak in `room_key` now.
    pub(super) fn muted(&self, session: SessionId, room_key: Option<&str>) -> bool {
        let Some(key) = self
            .sessions
            .get(&session)
            .and_then(|s| s.user.as_ref())
            .map(|u| u.key.clone())
        else {
            return false;
        };
        let now = timestamp::now_millis();
        let active = |scope: Option<String>| {
            self.moderation
                .mutes
                .get(&(scope, key.clone()))
                .is_some_and(|until| until.is_none_or(|u| u > now))
        };
        active(None) || room_key.is_some_and(|r| active(Some(r.to_string())))
    }

    pub(super) fn room_locked(&self, room_key: &str) -> bool {
        self.moderation.locked.contains(room_key)
    }

    fn done(
        &mut self,
        session: SessionId,
        action: &str,
        message: String,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        let by = self.user_of(session).0;
        tracing::info!(%by, action, %message, "moderation");
        io.event(HubEvent::Moderation {
            by: by.clone(),
            action: action.to_string(),
            message: message.clone(),
        });
        self.tell_admins(session, action, &format!("{by}: {message}"), io);
        let frame = ServerFrame::Done {
            action: action.into(),
            message,
            reference,
        };
        self.send_to(session, &frame, io);
    }

    /// A server notice to the admins here but `except` (IRC operators see it as a NOTICE from
    /// the server): what another admin or moderator did.
    fn tell_admins(&mut self, except: SessionId, action: &str, text: &str, io: &mut impl HubIo) {
        let admins: Vec<SessionId> = self
            .sessions
            .keys()
            .copied()
            .filter(|s| *s != except && self.is_admin(*s))
            .collect();
        let frame = ServerFrame::Done {
            action: action.into(),
            message: text.to_string(),
            reference: None,
        };
        for admin in admins {
            self.send_to(admin, &frame, io);
        }
    }

    /// Refuses an action only `what` (admins, moderators) may take.
    fn not_authorized(
        &mut self,
        session: SessionId,
        what: &str,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        let message = format!("Only {what} may do that.");
        self.error_to(session, ErrorCode::NotAuthorized, message, reference, io);
    }

    pub(super) fn announce_request(
        &mut self,
        session: SessionId,
        message: String,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        if !self.is_admin(session) {
            return self.not_authorized(session, "admins", reference, io);
        }
        let text: String = message.trim().chars().take(1000).collect();
        self.announce(&text, io);
        self.done(
            session,
            "announce",
            format!("Announced: {text}"),
            reference,
            io,
        );
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn ban(
        &mut self,
        session: SessionId,
        username: Option<String>,
        address: Option<String>,
        minutes: Option<u64>,
        reason: Option<String>,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        if !self.is_admin(session) {
            return self.not_authorized(session, "admins", reference, io);
        }
        let target = match (username, address) {
            (Some(name), _) => BanTarget::Name(validate::fold(&name)),
            (None, Some(address)) => match address.parse::<IpAddr>() {
                Ok(ip) => BanTarget::Address(ip),
                Err(_) => {
                    let message = format!("{address:?} is not an IP address.");
                    return self.error_to(session, ErrorCode::InvalidField, message, reference, io);
                }
            },
            (None, None) => return,
        };
        let by = self.user_of(session).0;
        let ban = Ban {
            target: target.clone(),
            until_ms: until(minutes),
            reason: reason.unwrap_or_default().chars().take(300).collect(),
            by: by.clone(),
        };
        let record = ModerationRecord::Ban(ban);
        self.change(NetworkEvent::Moderation { by, record }, io);
        let what = match &target {
            BanTarget::Name(name) => format!("the name {name:?}"),
            BanTarget::Address(ip) => format!("the address {ip}"),
        };
        let how_long = match minutes {
            Some(m) => format!(" for {m} minutes"),
            None => String::new(),
        };
        self.done(
            session,
            "ban",
            format!("Banned {what}{how_long}."),
            reference,
            io,
        );
    }

    /// The server operator (the dashboard) bans a name.
    pub fn operator_ban(
        &mut self,
        username: &str,
        minutes: Option<u64>,
        reason: &str,
        io: &mut impl HubIo,
    ) {
        let ban = Ban {
            target: BanTarget::Name(validate::fold(username)),
            until_ms: until(minutes),
            reason: reason.chars().take(300).collect(),
            by: "the operator".into(),
        };
        io.event(HubEvent::Moderation {
            by: "the operator".into(),
            action: "ban".into(),
            message: format!("Banned {username:?}"),
        });
        let by = ban.by.clone();
        let record = ModerationRecord::Ban(ban);
        self.change(NetworkEvent::Moderation { by, record }, io);
        self.reap_slow(io);
    }

    pub(super) fn unban(
        &mut self,
        session: SessionId,
        username: Option<String>,
        address: Option<String>,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        if !self.is_admin(session) {
            return self.not_authorized(session, "admins", reference, io);
        }
        let target = match (username, address.and_then(|a| a.parse::<IpAddr>().ok())) {
            (Some(name), _) => BanTarget::Name(validate::fold(&name)),
            (None, Some(ip)) => BanTarget::Address(ip),
            (None, None) => return,
        };
        let lifted = self.moderation.bans.contains_key(&target);
        let by = self.user_of(session).0;
        let record = ModerationRecord::Unban(target);
        self.change(NetworkEvent::Moderation { by, record }, io);
        let message = if lifted {
            "The ban is lifted."
        } else {
            "There was no such ban."
        };
        self.done(session, "unban", message.into(), reference, io);
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn mute(
        &mut self,
        session: SessionId,
        username: String,
        room: Option<String>,
        minutes: Option<u64>,
        unmute: bool,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        let room_key = room
            .as_deref()
            .map(|r| validate::fold(r.trim_start_matches('#')));
        let allowed = match &room_key {
            Some(key) => self.moderates(session, key),
            None => self.is_admin(session),
        };
        if !allowed {
            let who = if room_key.is_some() {
                "the room's moderators and admins"
            } else {
                "admins"
            };
            return self.not_authorized(session, who, reference, io);
        }
        let key = validate::fold(&username);
        let scope = match &room_key {
            Some(r) => format!("in #{r}"),
            None => "everywhere".into(),
        };
        let by = self.user_of(session).0;
        if unmute {
            let record = ModerationRecord::Unmute {
                room_key,
                name_key: key,
            };
            self.change(NetworkEvent::Moderation { by, record }, io);
            return self.done(
                session,
                "unmute",
                format!("{username} may speak {scope} again."),
                reference,
                io,
            );
        }
        let record = ModerationRecord::Mute {
            room_key,
            name_key: key,
            until_ms: until(minutes),
        };
        self.change(NetworkEvent::Moderation { by, record }, io);
        let how_long = minutes
            .map(|m| format!(" for {m} minutes"))
            .unwrap_or_default();
        self.done(
            session,
            "mute",
            format!("{username} is muted {scope}{how_long}."),
            reference,
            io,
        );
    }

    pub(super) fn lock_room(
        &mut self,
        session: SessionId,
        room: String,
        locked: bool,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        let key = validate::fold(room.trim_start_matches('#'));
        let Some(name) = self.rooms.get(&key).map(|r| r.name.clone()) else {
            let message = format!("There is no room named {room:?}.");
            let refusal = Refusal::new(ErrorCode::UnknownRoom, message).about(room.as_str());
            return self.refuse(session, refusal, reference, io);
        };
        if !self.moderates(session, &key) {
            return self.not_authorized(session, "the room's moderators and admins", reference, io);
        }
        let by = self.user_of(session).0;
        let text = if locked {
            format!("{by} locked #{name}: only its moderators may enter")
        } else {
            format!("{by} unlocked #{name}")
        };
        let record = ModerationRecord::Lock {
            room_key: key,
            locked,
        };
        self.change(NetworkEvent::Moderation { by, record }, io);
        self.done(session, "lock_room", text, reference, io);
    }

    pub(super) fn delete_room(
        &mut self,
        session: SessionId,
        room: String,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        if !self.is_admin(session) {
            return self.not_authorized(session, "admins", reference, io);
        }
        let key = validate::fold(room.trim_start_matches('#'));
        if key == DEFAULT_ROOM {
            let message = "general is where everyone starts; it cannot be deleted.";
            return self.error_to(session, ErrorCode::InvalidField, message, reference, io);
        }
        let Some(name) = self.rooms.get(&key).map(|r| r.name.clone()) else {
            let message = format!("There is no room named {room:?}.");
            let refusal = Refusal::new(ErrorCode::UnknownRoom, message).about(room.as_str());
            return self.refuse(session, refusal, reference, io);
        };
        let by = self.user_of(session).0;
        let record = ModerationRecord::DeleteRoom { room_key: key };
        self.change(NetworkEvent::Moderation { by, record }, io);
        let message = format!("#{name} is deleted.");
        self.done(session, "delete_room", message, reference, io);
    }

    pub(super) fn grant(
        &mut self,
        session: SessionId,
        room: String,
        username: String,
        revoke: bool,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        if !self.is_admin(session) {
            return self.not_authorized(session, "admins", reference, io);
        }
        let room_key = validate::fold(room.trim_start_matches('#'));
        let name_key = validate::fold(&username);
        if !self.registered.contains(&name_key) {
            let message = format!("Only accounts can moderate: {username:?} is not registered.");
            return self.error_to(session, ErrorCode::AccountRequired, message, reference, io);
        }
        let by = self.user_of(session).0;
        let record = ModerationRecord::Moderator {
            room_key: room_key.clone(),
            name_key,
            granted: !revoke,
        };
        self.change(NetworkEvent::Moderation { by, record }, io);
        let message = if revoke {
            format!("{username} no longer moderates #{room_key}.")
        } else {
            format!("{username} moderates #{room_key}.")
        };
        self.done(session, "grant", message, reference, io);
    }
}
