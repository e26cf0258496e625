//! The one place the network's shared facts change: bans, mutes, locks, moderators, deleted
//! rooms and topics (see `network/events.rs`).
//!
//! A command made here becomes a [`NetworkEvent`] and goes through [`Hub::change`]: applied,
//! stored, published to the other nodes. An event from another node goes through
//! [`Hub::network_event`]: applied only (the node that made it stored it). Either way
//! [`Hub::apply`] updates the facts and tells this node's sessions what follows from them.

use std::sync::Arc;

use palaver_proto::{timestamp, ErrorCode, ServerFrame, SystemEvent};

use super::moderation::{Ban, BanTarget, ModerationRecord};
use super::{Close, Hub, HubIo, Outgoing, SessionId, SystemNotice};
use crate::network::events::NetworkEvent;

impl Hub {
    /// A change made on this node: applied, stored, and published to the other nodes.
    pub(super) fn change(&mut self, event: NetworkEvent, io: &mut impl HubIo) {
        match &event {
            NetworkEvent::Moderation { record, .. } => io.save_moderation(record.clone()),
            NetworkEvent::RoomModes {
                room_key, modes, ..
            } => io.save_moderation(ModerationRecord::RoomModes {
                room_key: room_key.clone(),
                modes: modes.clone(),
            }),
            NetworkEvent::Invite { .. } => {}
            NetworkEvent::Replaced { .. }
            | NetworkEvent::Kick { .. }
            | NetworkEvent::RoomKick { .. }
            | NetworkEvent::Announce { .. }
            | NetworkEvent::RoomCreated { .. } => {}
            NetworkEvent::Topic {
                room_key, topic, ..
            } => io.save_topic(room_key, topic),
        }
        self.apply(&event, io);
        io.publish(&event);
    }

    /// A change made on another node (already stored there).
    pub fn network_event(&mut self, event: &NetworkEvent, io: &mut impl HubIo) {
        self.apply(event, io);
        self.reap_slow(io);
    }

    /// Updates the shared facts and tells this node's sessions what follows from the change.
    fn apply(&mut self, event: &NetworkEvent, io: &mut impl HubIo) {
        match event {
            NetworkEvent::Moderation { by, record } => self.apply_moderation(by, record, io),
            NetworkEvent::Replaced { holder } => {
                if holder.node == self.config.node && self.sessions.contains_key(&holder.session) {
                    self.replace_session(holder.session, io);
                }
            }
            NetworkEvent::Topic {
                room_key,
                topic,
                by,
                source,
                at_ms,
            } => self.apply_topic(room_key, topic, by, source.as_deref(), *at_ms, io),
            NetworkEvent::Kick { holder, reason } => {
                if holder.node == self.config.node && self.sessions.contains_key(&holder.session) {
                    self.kick_here(holder.session, reason.clone(), io);
                }
            }
            NetworkEvent::RoomKick {
                holder,
                room_key,
                by,
                source,
                reason,
            } => {
                if holder.node == self.config.node {
                    let source = source.as_deref().map(Arc::from);
                    let reason = reason.clone();
                    self.remove_from_room(holder.session, room_key, by, source, reason, io);
                }
            }
            NetworkEvent::Announce { message } => self.announce_here(message, io),
            NetworkEvent::RoomModes { .. } => self.apply_room_modes(event, io),
            NetworkEvent::Invite {
                room_key,
                name,
                by,
                source,
            } => self.apply_invite(room_key, name, by, source.as_deref(), io),
            NetworkEvent::RoomCreated {
                room_key,
                name,
                created_ms,
            } => self.room_created_elsewhere(room_key, name, *created_ms),
        }
    }

    fn apply_moderation(&mut self, by: &str, record: &ModerationRecord, io: &mut impl HubIo) {
        let m = &mut self.moderation;
        match record {
            ModerationRecord::Ban(ban) => {
                m.bans.insert(ban.target.clone(), ban.clone());
                self.disconnect_banned(ban, io);
            }
            ModerationRecord::Unban(target) => {
                m.bans.remove(target);
            }
            ModerationRecord::Moderator {
                room_key,
                name_key,
                granted,
            } => {
                let set = m.moderators.entry(room_key.clone()).or_default();
                if *granted {
                    set.insert(name_key.clone());
                } else {
                    set.remove(name_key);
                }
            }
            ModerationRecord::Mute {
                room_key,
                name_key,
                until_ms,
            } => {
                m.mutes
                    .insert((room_key.clone(), name_key.clone()), *until_ms);
            }
            ModerationRecord::Unmute { room_key, name_key } => {
                m.mutes.remove(&(room_key.clone(), name_key.clone()));
            }
            ModerationRecord::Lock { room_key, locked } => {
                if *locked {
                    m.locked.insert(room_key.clone());
                } else {
                    m.locked.remove(room_key);
                }
                let Some(name) = self.rooms.get(room_key).map(|r| r.name.clone()) else {
                    return;
                };
                let text = if *locked {
                    format!("{by} locked #{name}: only its moderators may enter")
                } else {
                    format!("{by} unlocked #{name}")
                };
                let notice = SystemNotice {
                    text,
                    event: Some(SystemEvent::Other),
                    username: by.to_string(),
                    ..SystemNotice::default()
                };
                self.system_to_room(room_key, notice, None, io);
            }
            ModerationRecord::RoomModes { room_key, modes } => {
                if *modes == Default::default() {
                    m.room_modes.remove(room_key);
                } else {
                    m.room_modes.insert(room_key.clone(), modes.clone());
                }
            }
            ModerationRecord::DeleteRoom { room_key } => {
                m.locked.remove(room_key);
                m.room_modes.remove(room_key);
                m.moderators.remove(room_key);
                self.room_deleted(room_key, by, io);
            }
        }
    }

    /// Disconnects this node's sessions a ban covers, but the one who made it.
    pub(super) fn disconnect_banned(&mut self, ban: &Ban, io: &mut impl HubIo) {
        let covered: Vec<SessionId> = self
            .sessions
            .values()
            .filter(|s| s.name() != Some(ban.by.as_str()))
            .filter(|s| match &ban.target {
                BanTarget::Name(key) => s.user.as_ref().is_some_and(|u| &u.key == key),
                BanTarget::Address(ip) => s
                    .peer
                    .parse::<std::net::SocketAddr>()
                    .is_ok_and(|p| p.ip() == *ip),
            })
            .map(|s| s.id)
            .collect();
        for victim in covered {
            self.error_to(victim, ErrorCode::Banned, ban.describe(), None, io);
            self.remove_session(
                victim,
                Some("banned".into()),
                SystemEvent::Kicked,
                Close::Graceful,
                io,
            );
        }
    }

    /// A room is gone: its members here are told they left it.
    fn room_deleted(&mut self, room_key: &str, by: &str, io: &mut impl HubIo) {
        self.unfollow(room_key, io);
        self.remote.forget_room(room_key);
        let Some(removed) = self.rooms.remove(room_key) else {
            return;
        };
        for member in removed.members {
            if let Some(user) = self.sessions.get_mut(&member).and_then(|s| s.user.as_mut()) {
                user.rooms.retain(|k| k != room_key);
            }
            let left = ServerFrame::LeftRoom {
                room: removed.name.clone(),
                by: Some(by.to_string()),
                reason: Some("the room was deleted".into()),
                reference: None,
            };
            self.send_to(member, &left, io);
        }
    }

    fn apply_topic(
        &mut self,
        room_key: &str,
        topic: &str,
        by: &str,
        source: Option<&str>,
        at_ms: i64,
        io: &mut impl HubIo,
    ) {
        let Some(room) = self.rooms.get_mut(room_key) else {
            return;
        };
        room.topic = topic.to_string();
        room.topic_by = Some(by.to_string());
        room.topic_ms = Some(at_ms);
        let room_name = room.name.clone();
        let source: Option<Arc<str>> = source.map(Arc::from);
        let frame = ServerFrame::Topic {
            room: room_name.clone(),
            topic: topic.to_string(),
            username: by.to_string(),
            timestamp: timestamp::format_millis(at_ms),
        };
        let out = Outgoing::build(frame, source.clone(), None);
        self.fan_out(room_key, &out, None, io);
        let text = if topic.is_empty() {
            format!("{by} cleared the topic of #{room_name}")
        } else {
            format!("{by} set the topic of #{room_name} to: {topic}")
        };
        let notice = SystemNotice {
            text,
            event: Some(SystemEvent::Topic),
            username: by.to_string(),
            source,
            ..SystemNotice::default()
        };
        self.system_to_room(room_key, notice, None, io);
    }
}
