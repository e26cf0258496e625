//! The users of the other nodes of a cluster, as this node knows them: who is online where, and
//! in which rooms (see `network/presence.rs` for how the nodes tell each other).
//!
//! This node tells the others about its own users as they change ([`Hub::tell_presence`]), and
//! applies what the others tell ([`Hub::presence`]): member lists, `users` and private messages
//! then work across nodes, and members here see the notices of joins and departures on other
//! nodes, built by the same [`SystemNotice`] constructors as the local ones.

use std::collections::BTreeSet;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use palaver_proto::{timestamp, validate, SystemEvent, UserInfo};

use super::{Hub, HubIo, SessionId, SystemNotice};
use crate::network::fanout::{Post, Relay, RelayTo};
use crate::network::names::{Holder, NodeId};
use crate::network::presence::{
    OnlineUser, Presence, PresenceChange, NODE_SILENCE, SNAPSHOT_CHUNK,
};

/// The users of the other nodes.
#[derive(Debug, Default)]
pub struct RemoteUsers {
    /// Folded name -> the user.
    by_key: FxHashMap<String, OnlineUser>,
    /// Connection -> folded name.
    by_holder: FxHashMap<Holder, String>,
    /// Names as shown, sorted.
    pub names: BTreeSet<String>,
    /// Room key -> its members there, by folded name.
    by_room: FxHashMap<String, BTreeSet<String>>,
    /// When each other node was last heard from (milliseconds).
    heard: FxHashMap<NodeId, i64>,
    /// Nodes taken for dead: one heard from again was not (it was silent, or this node was
    /// deaf), and is asked who is online there.
    forgotten: rustc_hash::FxHashSet<NodeId>,
    /// This node's subscription is down: silence means nothing then.
    deaf: bool,
}

impl RemoteUsers {
    pub fn get(&self, key: &str) -> Option<&OnlineUser> {
        self.by_key.get(key)
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// A room deleted: nobody is in it any more.
    pub fn forget_room(&mut self, room_key: &str) {
        for key in self.by_room.remove(room_key).unwrap_or_default() {
            if let Some(user) = self.by_key.get_mut(&key) {
                user.rooms.retain(|(k, _)| k != room_key);
            }
        }
    }

    /// The users in a room.
    pub fn in_room<'a>(&'a self, room_key: &str) -> impl Iterator<Item = &'a OnlineUser> + 'a {
        self.by_room
            .get(room_key)
            .into_iter()
            .flatten()
            .filter_map(|key| self.by_key.get(key))
    }

    /// How many users of other nodes are in a room.
    pub fn count_in(&self, room_key: &str) -> usize {
        self.by_room.get(room_key).map_or(0, BTreeSet::len)
    }

    fn insert(&mut self, user: OnlineUser) {
        // Whoever had the name before (a rename, a take-over) is gone from it.
        if let Some(old) = self.by_key.get(&user.key).map(|u| u.holder) {
            if old != user.holder {
                self.remove(old);
            }
        }
        if let Some(old_key) = self.by_holder.get(&user.holder).cloned() {
            if old_key != user.key {
                self.remove(user.holder);
            }
        }
        for (room_key, _) in &user.rooms {
            self.enter(room_key, &user.key);
        }
        self.names.insert(user.name.clone());
        self.by_holder.insert(user.holder, user.key.clone());
        self.by_key.insert(user.key.clone(), user);
    }

    fn remove(&mut self, holder: Holder) -> Option<OnlineUser> {
        let key = self.by_holder.remove(&holder)?;
        // The name may have passed to another connection meanwhile: that one stays.
        if self.by_key.get(&key).is_none_or(|u| u.holder != holder) {
            return None;
        }
        let user = self.by_key.remove(&key)?;
        self.names.remove(&user.name);
        for (room_key, _) in &user.rooms {
            self.leave(room_key, &user.key);
        }
        Some(user)
    }

    fn enter(&mut self, room_key: &str, key: &str) {
        self.by_room
            .entry(room_key.to_string())
            .or_default()
            .insert(key.to_string());
    }

    fn leave(&mut self, room_key: &str, key: &str) {
        if let Some(members) = self.by_room.get_mut(room_key) {
            members.remove(key);
            if members.is_empty() {
                self.by_room.remove(room_key);
            }
        }
    }

    fn user_mut(&mut self, holder: Holder) -> Option<&mut OnlineUser> {
        let key = self.by_holder.get(&holder)?;
        self.by_key.get_mut(key)
    }
}

impl Hub {
    /// Tells the other nodes about a change of one of this node's users.
    pub(super) fn tell_presence(&mut self, change: PresenceChange, io: &mut impl HubIo) {
        if self.config.clustered {
            io.post(Post::Presence(Presence::Change(change)));
        }
    }

    /// A user of this node, as the other nodes are told about it.
    pub(super) fn online_user(&self, session: SessionId) -> Option<OnlineUser> {
        let s = self.sessions.get(&session)?;
        let user = s.user.as_ref()?;
        Some(OnlineUser {
            holder: self.holder(session),
            name: user.name.clone(),
            key: user.key.clone(),
            owner: s.owner(),
            address: user.address.to_string(),
            rooms: user
                .rooms
                .iter()
                .filter_map(|k| self.rooms.get(k).map(|r| (k.clone(), r.name.clone())))
                .collect(),
            joined_ms: user.joined_ms,
            away: user.away.clone(),
            account: s.account.as_ref().map(|_| user.name.clone()),
            realname: Some(user.realname.clone()),
        })
    }

    /// What `who` and `whois` say about a user of another node.
    pub(super) fn remote_user_info(user: &OnlineUser, detailed: bool) -> UserInfo {
        let (ident, host) = user
            .address
            .split_once('!')
            .and_then(|(_, rest)| rest.split_once('@'))
            .unwrap_or(("", ""));
        let protocol = if host.starts_with("irc.") {
            "irc"
        } else {
            "native"
        };
        UserInfo {
            username: user.name.clone(),
            ident: ident.to_string(),
            host: host.to_string(),
            realname: user.name.clone(),
            protocol: protocol.to_string(),
            away: user.away.clone(),
            operator: false,
            rooms: detailed.then(|| user.rooms.iter().map(|(_, name)| name.clone()).collect()),
            voice: false,
            admin: false,
            account: None,
            operator_of: Vec::new(),
            connected: timestamp::format_millis(user.joined_ms),
            idle_seconds: None,
            left: None,
        }
    }

    /// The first `n` names online (sorted), here and on the other nodes.
    pub(super) fn first_names_online(&self, n: usize) -> Vec<String> {
        let mut names: Vec<String> = self.names.iter().take(n).cloned().collect();
        names.extend(self.remote.names.iter().take(n).cloned());
        names.sort();
        names.dedup();
        names.truncate(n);
        names
    }

    /// The user of another node going by a name a client typed (any case), if any.
    pub(super) fn remote_user_named(&self, raw: &str) -> Option<OnlineUser> {
        let name = palaver_proto::validate::username(raw).ok()?;
        self.remote
            .get(&palaver_proto::validate::fold(&name))
            .cloned()
    }

    /// A private message from another node for one of this node's connections.
    pub fn remote_direct(&mut self, post: crate::network::fanout::DirectPost, io: &mut impl HubIo) {
        if post.to.node != self.config.node {
            return;
        }
        let session = post.to.session;
        let holds = self
            .sessions
            .get(&session)
            .and_then(|s| s.user.as_ref())
            .is_some_and(|u| u.key == post.target_key);
        if !holds {
            // The user left or moved: the message is in its history.
            return;
        }
        let Some(s) = self.sessions.get_mut(&session) else {
            return;
        };
        // A post tried again (Redis did not answer the first time) may arrive twice.
        let seen = (post.message.id(), post.message.seq());
        if s.remote_directs.contains(&seen) {
            return;
        }
        if s.remote_directs.len() >= 64 {
            s.remote_directs.pop_front();
        }
        s.remote_directs.push_back(seen);
        self.deliver(session, &post.outgoing(), io);
        self.reap_slow(io);
    }

    /// What another node tells about its users.
    pub fn presence(&mut self, presence: Presence, io: &mut impl HubIo) {
        let node = presence.node();
        self.remote.heard.insert(node, timestamp::now_millis());
        if self.remote.forgotten.remove(&node)
            && !matches!(
                presence,
                Presence::Snapshot { .. } | Presence::Leaving { .. }
            )
        {
            // Its users were dropped here: ask again who is online.
            let me = self.config.node;
            io.post(Post::Presence(Presence::Hello { node: me }));
        }
        match presence {
            Presence::Change(change) => self.remote_change(change, io),
            Presence::Hello { node } => self.send_snapshot(Some(node), io),
            Presence::Snapshot { node, part, users } => {
                if part == 0 {
                    self.forget_node(node, None, io);
                }
                for user in users {
                    if let Some(old) = self.remote.by_key.get(&user.key).map(|u| u.holder) {
                        self.remove_remote(old);
                    }
                    self.insert_remote(user);
                }
            }
            Presence::Alive { .. } => {}
            Presence::Leaving { node } => {
                self.remote.heard.remove(&node);
                self.forget_node(node, Some("server restarting"), io);
            }
        }
        self.reap_slow(io);
    }

    /// Every few seconds: a node not heard from for too long is dead, and its users have left.
    pub fn cluster_tick(&mut self, io: &mut impl HubIo) {
        if self.remote.deaf {
            return;
        }
        let now = timestamp::now_millis();
        let silence = NODE_SILENCE.as_millis() as i64;
        let dead: Vec<NodeId> = self
            .remote
            .heard
            .iter()
            .filter(|(_, at)| now - **at > silence)
            .map(|(node, _)| *node)
            .collect();
        for node in dead {
            tracing::warn!(node, "a node went silent: its users have left");
            self.remote.heard.remove(&node);
            self.remote.forgotten.insert(node);
            self.forget_node(node, Some("connection lost"), io);
        }
        self.reap_slow(io);
    }

    /// This node's subscription to the others dropped: until it is back, a silent node is not
    /// taken for dead.
    pub fn bus_lost(&mut self) {
        self.remote.deaf = true;
    }

    /// The subscription stands again: every node gets a fresh while to be heard from.
    pub(super) fn hear_again(&mut self) {
        self.remote.deaf = false;
        let now = timestamp::now_millis();
        for at in self.remote.heard.values_mut() {
            *at = now;
        }
    }

    /// Tells who is online here: to the node that asked (`to`), or to every node (after this
    /// node's subscription came back, the others may have taken it for dead).
    pub(super) fn send_snapshot(&mut self, to: Option<NodeId>, io: &mut impl HubIo) {
        if !self.config.clustered {
            return;
        }
        let users: Vec<OnlineUser> = self
            .users
            .values()
            .filter_map(|&s| self.online_user(s))
            .collect();
        let node = self.config.node;
        if users.is_empty() {
            let empty = Presence::Snapshot {
                node,
                part: 0,
                users,
            };
            return io.post(snapshot_post(to, empty));
        }
        for (part, chunk) in users.chunks(SNAPSHOT_CHUNK).enumerate() {
            let snapshot = Presence::Snapshot {
                node,
                part,
                users: chunk.to_vec(),
            };
            io.post(snapshot_post(to, snapshot));
        }
    }

    fn remote_change(&mut self, change: PresenceChange, io: &mut impl HubIo) {
        match change {
            PresenceChange::Entered(user) => {
                if self.remote.by_holder.contains_key(&user.holder) {
                    // Heard before (a post sent again): nothing new to tell.
                    return self.insert_remote(user);
                }
                if let Some(old) = self.remote.by_key.get(&user.key).map(|u| u.holder) {
                    // The user came back on another connection: the old one has left.
                    self.remote_departed(
                        old,
                        Some("reconnected".into()),
                        SystemEvent::Disconnected,
                        io,
                    );
                }
                let source: Arc<str> = Arc::from(user.address.as_str());
                for (room_key, room_name) in &user.rooms {
                    let notice = SystemNotice::arrival(
                        &user.name,
                        room_key,
                        room_name,
                        Some(source.clone()),
                    );
                    self.system_to_room(room_key, notice, None, io);
                }
                let name = user.name.clone();
                self.insert_remote(user);
                self.monitor_news(&name, true, io);
            }
            PresenceChange::JoinedRoom {
                holder,
                room_key,
                room_name,
            } => {
                let Some(user) = self.remote.user_mut(holder) else {
                    return;
                };
                if user.rooms.iter().any(|(k, _)| *k == room_key) {
                    return;
                }
                user.rooms.push((room_key.clone(), room_name.clone()));
                let (key, name, source) = (
                    user.key.clone(),
                    user.name.clone(),
                    Arc::from(user.address.as_str()),
                );
                let sender = crate::hub::outgoing::Sender {
                    one_line: false,
                    account: user.account.clone(),
                    realname: user.realname.clone(),
                };
                self.remote.enter(&room_key, &key);
                let notice = SystemNotice {
                    sender,
                    ..SystemNotice::joined_room(&name, &room_name, Some(source))
                };
                self.system_to_room(&room_key, notice, None, io);
            }
            PresenceChange::LeftRoom {
                holder,
                room_key,
                reason,
                by,
                source,
            } => {
                let Some(user) = self.remote.user_mut(holder) else {
                    return;
                };
                let Some(at) = user.rooms.iter().position(|(k, _)| *k == room_key) else {
                    return;
                };
                let (_, room_name) = user.rooms.remove(at);
                let (key, name, address) = (
                    user.key.clone(),
                    user.name.clone(),
                    Arc::<str>::from(user.address.as_str()),
                );
                self.remote.leave(&room_key, &key);
                let notice = match by {
                    Some(by) => {
                        SystemNotice::removed(&name, &room_name, &by, reason, source.map(Arc::from))
                    }
                    None => SystemNotice::left_room(&name, &room_name, reason, Some(address)),
                };
                self.system_to_room(&room_key, notice, None, io);
            }
            PresenceChange::Renamed {
                holder,
                name,
                key,
                address,
            } => {
                let Some(mut user) = self.remove_remote(holder) else {
                    return;
                };
                let (old, old_address) =
                    (user.name.clone(), Arc::<str>::from(user.address.as_str()));
                user.name = name.clone();
                user.key = key;
                user.address = address;
                let seq = self.next_event_seq();
                for (room_key, _) in &user.rooms {
                    let notice = SystemNotice::renamed(&old, &name, old_address.clone(), seq);
                    self.system_to_room(room_key, notice, None, io);
                }
                let renamed = validate::fold(&old) != user.key;
                self.insert_remote(user);
                if renamed {
                    self.monitor_news(&old, false, io);
                    self.monitor_news(&name, true, io);
                }
            }
            PresenceChange::Away { holder, message } => {
                let Some(user) = self.remote.user_mut(holder) else {
                    return;
                };
                user.away = message.clone();
                let (name, source) = (user.name.clone(), Arc::<str>::from(user.address.as_str()));
                let rooms: Vec<String> = user.rooms.iter().map(|(k, _)| k.clone()).collect();
                // Members here who share a room with it learn it (IRC's away-notify).
                let neighbours: BTreeSet<SessionId> = rooms
                    .iter()
                    .filter_map(|k| self.rooms.get(k))
                    .flat_map(|r| r.members.iter().copied())
                    .collect();
                let frame = palaver_proto::ServerFrame::Away {
                    username: name,
                    message,
                    reference: None,
                };
                let out = super::Outgoing::from_user(frame, source);
                for session in neighbours {
                    self.deliver(session, &out, io);
                }
            }
            PresenceChange::Departed {
                holder,
                reason,
                event,
            } => self.remote_departed(holder, reason, event, io),
        }
    }

    /// A user of another node left the chat: members here are told, in each of its rooms.
    fn remote_departed(
        &mut self,
        holder: Holder,
        reason: Option<String>,
        event: SystemEvent,
        io: &mut impl HubIo,
    ) {
        let Some(user) = self.remove_remote(holder) else {
            return;
        };
        self.monitor_news(&user.name, false, io);
        let source: Arc<str> = Arc::from(user.address.as_str());
        let seq = self.next_event_seq();
        for (room_key, _) in &user.rooms {
            let notice =
                SystemNotice::departure(&user.name, reason.clone(), event, source.clone(), seq);
            self.system_to_room(room_key, notice, None, io);
        }
    }

    /// Forgets every user of a node (with notices when `reason` says why they left).
    fn forget_node(&mut self, node: NodeId, reason: Option<&str>, io: &mut impl HubIo) {
        let holders: Vec<Holder> = self
            .remote
            .by_holder
            .keys()
            .filter(|h| h.node == node)
            .copied()
            .collect();
        for holder in holders {
            match reason {
                Some(reason) => {
                    self.remote_departed(holder, Some(reason.into()), SystemEvent::Disconnected, io)
                }
                None => {
                    self.remove_remote(holder);
                }
            }
        }
    }

    fn insert_remote(&mut self, user: OnlineUser) {
        self.remote.insert(user);
    }

    fn remove_remote(&mut self, holder: Holder) -> Option<OnlineUser> {
        self.remote.remove(holder)
    }

    /// Sends a frame that is not stored to a room's other nodes or a connection's node.
    pub(super) fn relay(&mut self, to: RelayTo, out: &super::Outgoing, io: &mut impl HubIo) {
        if self.config.clustered {
            io.post(Post::Relay(Relay::new(self.config.node, to, out)));
        }
    }

    /// A frame that is not stored, from another node: to this node's members of the room, or
    /// to the one connection. A `TAGMSG` is for IRC connections only, as on its own node.
    pub fn relayed(&mut self, relay: Relay, io: &mut impl HubIo) {
        let out = relay.outgoing();
        let recipients: Vec<SessionId> = match &relay.to {
            RelayTo::Room(key) => self
                .rooms
                .get(key)
                .map(|r| r.members.iter().copied().collect())
                .unwrap_or_default(),
            RelayTo::Connection(holder) if holder.node == self.config.node => {
                let joined = self
                    .sessions
                    .get(&holder.session)
                    .is_some_and(|s| s.user.is_some());
                joined.then_some(holder.session).into_iter().collect()
            }
            RelayTo::Connection(_) => Vec::new(),
        };
        // Each connection decides by its wire (`Outgoing::for_wire`).
        for session in recipients {
            self.deliver(session, &out, io);
        }
        self.reap_slow(io);
    }

    /// A user of this node now holds `key`: an entry for the same name on another node is stale
    /// (the session moved here, or that connection is closing) and goes, without a notice.
    pub(super) fn forget_remote_name(&mut self, key: &str) {
        if let Some(holder) = self.remote.get(key).map(|u| u.holder) {
            self.remote.remove(holder);
        }
    }

    /// What a room's listing says, with its members on the other nodes counted.
    pub(super) fn room_info(&self, room: &super::room::Room) -> palaver_proto::RoomInfo {
        let mut info = room.info();
        info.members += self.remote.count_in(&room.key);
        info.modes = self.modes_letters(&room.key);
        info
    }
}

/// A snapshot to one node (through its channel) or to all (on the presence channel).
fn snapshot_post(to: Option<NodeId>, presence: Presence) -> Post {
    match to {
        Some(node) => Post::PresenceTo { node, presence },
        None => Post::Presence(presence),
    }
}
