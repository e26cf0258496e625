//! Reactions, edits, deletions and replies: requests about a message sent earlier.
//!
//! The hub does not keep every message, so such a request first reads the message it names
//! ([`HubIo::find_message`], off the hub's task); the session's later requests wait meanwhile,
//! so that what it sends stays in order. With the message in hand the rules are checked here,
//! the same for every protocol:
//!
//! - anyone who can read a message may react to it and reply to it: a member of its room, or
//!   a party of its private conversation on their own side (its owner, see `identity.rs`);
//! - only its author (the same name *and* owner: a later guest with the name is someone else)
//!   may edit it;
//! - its author may delete it, and so may the room's moderators and the admins.
//!
//! A change is then stored as a row of the message's conversation (`store::Change`) and, once
//! committed, delivered like a message ([`Hub::stored`]): in seq order to the room's members on
//! every node, or to both parties of a private conversation.

use serde_json::Value;

use palaver_proto::message_changes::{valid_reaction, MessageState, ReplyPreview};

/// The most files one message may carry.
pub const MAX_ATTACHMENTS: usize = 10;
use palaver_proto::{validate, ErrorCode};

use super::outgoing::ClientTags;
use super::refusal::Refusal;
use super::{Hub, HubIo, Pending, SessionId};
use crate::store::{dm_key, Change, MessageKind, StoredMessage};

/// A request waiting for the message it names (if any) and the files it sends (if any).
#[derive(Debug, Clone, PartialEq)]
pub struct MessageLookup {
    pub session: SessionId,
    pub id: Option<u64>,
    pub files: Vec<String>,
    pub reference: Option<Value>,
    pub then: AfterLookup,
}

/// An IRC `TAGMSG` as it came: where it went, and its client-only tags.
#[derive(Debug, Clone, PartialEq)]
pub struct TagRelay {
    pub room: Option<String>,
    pub target: Option<String>,
    pub client_tags: ClientTags,
}

/// The reaction an IRC `TAGMSG`'s tags ask for: `+draft/react` (or `+draft/unreact`) with the
/// emoji, and the message in `+draft/reply`. Returns (message id, emoji, whether added).
pub fn tagged_reaction(tags: &[(String, Option<String>)]) -> Option<(u64, String, bool)> {
    let tag = |name: &str| {
        tags.iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.clone())
    };
    let id = tag("+draft/reply")?.parse().ok()?;
    match (tag("+draft/react"), tag("+draft/unreact")) {
        (Some(emoji), _) => Some((id, emoji, true)),
        (_, Some(emoji)) => Some((id, emoji, false)),
        _ => None,
    }
}

/// What to do with the message once read.
#[derive(Debug, Clone, PartialEq)]
pub enum AfterLookup {
    /// `on`: only add (true) or only take back (false); absent: toggle.
    React {
        emoji: String,
        on: Option<bool>,
        /// An IRC `TAGMSG` that asked for it: relayed as it came when there is no message to
        /// react to here (IRC's tags are only relayed; the msgid may mean something to the
        /// other clients).
        relay: Option<TagRelay>,
    },
    Edit {
        content: String,
    },
    Delete,
    /// Send a message (answering the message named, if one is): in a room (`room`), or to
    /// `target` privately, with the files named.
    Send {
        room: Option<String>,
        target: Option<String>,
        content: String,
        client_tags: Option<ClientTags>,
    },
}

impl Hub {
    /// An IRC `TAGMSG` relayed as it came (see [`TagRelay`]).
    fn relay_tags(
        &mut self,
        session: SessionId,
        relay: TagRelay,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        let TagRelay {
            room,
            target,
            client_tags,
        } = relay;
        self.tag_message(session, room, target, reference, Some(client_tags), io);
    }

    /// `react`, `edit`, `delete`, or a message with `reply_to` or `attachments`: reads the
    /// message (and the files) first.
    pub(super) fn about_message(
        &mut self,
        session: SessionId,
        (id, files): (Option<u64>, Vec<String>),
        then: AfterLookup,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        match &then {
            AfterLookup::React {
                emoji,
                relay: Some(relay),
                ..
            } if !valid_reaction(emoji) => {
                let relay = relay.clone();
                return self.relay_tags(session, relay, reference, io);
            }
            AfterLookup::React { emoji, .. } if !valid_reaction(emoji) => {
                let refusal = Refusal::new(
                    ErrorCode::InvalidField,
                    "A reaction is one emoji (or :shortcode:), without spaces.",
                )
                .about(emoji.chars().take(64).collect::<String>());
                return self.refuse(session, refusal, reference, io);
            }
            _ if files.len() > MAX_ATTACHMENTS => {
                let text = format!("At most {MAX_ATTACHMENTS} files go with one message.");
                let refusal = Refusal::new(ErrorCode::InvalidField, text).about("attachments");
                return self.refuse(session, refusal, reference, io);
            }
            // A message of files alone may have no text.
            AfterLookup::Send { content, .. } if content.is_empty() && !files.is_empty() => {}
            AfterLookup::Edit { content } | AfterLookup::Send { content, .. }
                if !self.content_ok(session, content, &reference, io) =>
            {
                return;
            }
            _ => {}
        }
        // The connection that asked waits for the answer (a device of the user, maybe).
        let session = self.connection_asking(session);
        let Some(s) = self.sessions.get_mut(&session) else {
            return;
        };
        s.looking_up = true;
        io.find_message(MessageLookup {
            session,
            id,
            files,
            reference,
            then,
        });
    }

    /// The message a request named, as the store has it now (`None`: there is no such message,
    /// or it could not be read).
    pub fn message_found(
        &mut self,
        lookup: MessageLookup,
        found: Option<StoredMessage>,
        files: Vec<crate::store::FileRecord>,
        io: &mut impl HubIo,
    ) {
        let session = lookup.session;
        let Some(s) = self.sessions.get_mut(&session) else {
            return;
        };
        s.looking_up = false;
        let user = self.user_session(session);
        if self.sessions.get(&user).is_some_and(|u| u.user.is_some()) {
            self.as_user(session, |hub, user| {
                let lookup = MessageLookup {
                    session: user,
                    ..lookup
                };
                hub.carry_out(lookup, found, files, io)
            });
        }
        self.run_held(session, io);
        self.reap_slow(io);
    }

    fn carry_out(
        &mut self,
        lookup: MessageLookup,
        found: Option<StoredMessage>,
        files: Vec<crate::store::FileRecord>,
        io: &mut impl HubIo,
    ) {
        let MessageLookup {
            session,
            id,
            files: asked,
            reference,
            then,
        } = lookup;
        let Some(id) = id else {
            // A message with files and no reply.
            if let AfterLookup::Send {
                room,
                target,
                content,
                client_tags,
            } = then
            {
                let Some(state) = self.attach(session, &asked, files, &reference, io) else {
                    return;
                };
                let place = (room, target);
                self.send_prepared(session, place, content, state, reference, client_tags, io);
            }
            return;
        };
        // For IRC clients `+draft/reply` is a hint: a message answering what is not there (or
        // not to be seen) is sent as a plain message.
        let found = found.filter(|m| self.may_read(session, m));
        let answerable = found.as_ref().is_some_and(|m| !m.state.deleted);
        let irc = self
            .sessions
            .get(&self.connection_asking(session))
            .is_some_and(|s| s.profile.protocol == super::Protocol::Irc);
        if let (false, true, AfterLookup::Send { .. }) = (answerable, irc, &then) {
            let AfterLookup::Send {
                room,
                target,
                content,
                client_tags,
            } = then
            else {
                return;
            };
            let Some(state) = self.attach(session, &asked, files, &reference, io) else {
                return;
            };
            let place = (room, target);
            return self.send_prepared(session, place, content, state, reference, client_tags, io);
        }
        if let (false, AfterLookup::React { relay: Some(_), .. }) = (answerable, &then) {
            let AfterLookup::React {
                relay: Some(relay), ..
            } = then
            else {
                return;
            };
            return self.relay_tags(session, relay, reference, io);
        }
        let Some(message) = found else {
            let refusal = Refusal::new(
                ErrorCode::UnknownMessage,
                format!("There is no message {id}, or you cannot see it."),
            )
            .about(id.to_string());
            return self.refuse(session, refusal, reference, io);
        };
        if message.state.deleted {
            let refusal = Refusal::new(ErrorCode::MessageDeleted, "That message was deleted.")
                .about(id.to_string());
            return self.refuse(session, refusal, reference, io);
        }
        let authored = self.authored(session, &message);
        let change = match then {
            AfterLookup::Send {
                room,
                target,
                content,
                client_tags,
            } => {
                let Some(state) = self.attach(session, &asked, files, &reference, io) else {
                    return;
                };
                return self.reply(
                    session,
                    &message,
                    (room, target),
                    (content, state),
                    reference,
                    client_tags,
                    io,
                );
            }
            AfterLookup::React { emoji, on, .. } => {
                if let Some(refusal) = self.speech_refusal_about(session, &message) {
                    return self.refuse(session, refusal, reference, io);
                }
                let change = Change::React {
                    of: id,
                    added: on.unwrap_or(true),
                    toggle: on.is_none(),
                };
                (change, emoji)
            }
            AfterLookup::Edit { content } => {
                if !authored {
                    return self.not_yours(session, "edit", reference, io);
                }
                if let Some(refusal) = self.speech_refusal_about(session, &message) {
                    return self.refuse(session, refusal, reference, io);
                }
                (Change::Edit { of: id }, content)
            }
            AfterLookup::Delete => {
                let moderator = match &message.kind {
                    MessageKind::Public { room_key, .. } => {
                        self.moderates_lastingly(session, room_key)
                    }
                    MessageKind::Private { .. } => false,
                };
                if !authored && !moderator {
                    return self.not_yours(session, "delete", reference, io);
                }
                (Change::Delete { of: id }, String::new())
            }
        };
        self.persist_change(session, &message, change, reference, io);
    }

    /// Whether the session may read the message: a member of its room, or a party of its
    /// private conversation on its own side.
    pub(super) fn may_read(&self, session: SessionId, message: &StoredMessage) -> bool {
        let Some(s) = self.sessions.get(&session) else {
            return false;
        };
        let Some(user) = &s.user else {
            return false;
        };
        match &message.kind {
            MessageKind::Public { room_key, .. } => self
                .rooms
                .get(room_key)
                .is_some_and(|r| r.members.contains(&session)),
            MessageKind::Private {
                sender_key,
                sender_owner,
                target_key,
                target_owner,
                ..
            } => {
                let owner = s.owner();
                (*sender_key == user.key && *sender_owner == owner)
                    || (*target_key == user.key && *target_owner == owner)
            }
        }
    }

    /// Whether the session wrote the message: the same name and the same owner.
    fn authored(&self, session: SessionId, message: &StoredMessage) -> bool {
        let Some(s) = self.sessions.get(&session) else {
            return false;
        };
        let owner = message.author_owner();
        s.user
            .as_ref()
            .is_some_and(|u| u.key == message.author_key())
            && !owner.is_empty()
            && owner == s.owner()
    }

    /// Why the session may not change what is said in the message's room now (muted, `+m`, a
    /// ban mask), if it may not.
    fn speech_refusal_about(&self, session: SessionId, message: &StoredMessage) -> Option<Refusal> {
        match &message.kind {
            MessageKind::Public { room_key, room, .. } => {
                if self.muted(session, Some(room_key)) {
                    let text = format!("You are muted in #{room} for now.");
                    return Some(Refusal::new(ErrorCode::Muted, text).about(room.as_str()));
                }
                self.speech_refusal(session, room_key)
            }
            MessageKind::Private { .. } => self
                .muted(session, None)
                .then(|| Refusal::new(ErrorCode::Muted, "You are muted for now.")),
        }
    }

    fn not_yours(
        &mut self,
        session: SessionId,
        what: &str,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        let text = format!("You can only {what} your own messages.");
        self.refuse(
            session,
            Refusal::new(ErrorCode::NotAuthorized, text),
            reference,
            io,
        );
    }

    /// A reply: sent like any message of its conversation, which must be the replied one's.
    #[allow(clippy::too_many_arguments)]
    fn reply(
        &mut self,
        session: SessionId,
        to: &StoredMessage,
        (room, target): (Option<String>, Option<String>),
        (content, attached): (String, MessageState),
        reference: Option<Value>,
        client_tags: Option<ClientTags>,
        io: &mut impl HubIo,
    ) {
        let (_, me) = self.user_of(session);
        let same = match (&room, &target) {
            (Some(room), _) => validate::fold(room) == to.conversation_key(),
            (None, Some(target)) => {
                dm_key(&me, &validate::fold(target)) == to.conversation_key()
                    && self.same_other_side(session, to, target)
            }
            (None, None) => false,
        };
        if !same {
            let refusal = Refusal::new(
                ErrorCode::UnknownMessage,
                "A reply answers a message of the same conversation.",
            )
            .about(to.id.to_string());
            return self.refuse(session, refusal, reference, io);
        }
        // The preview is read back with the reply from now on; live, it goes with it.
        let state = MessageState {
            reply_to: Some(to.id),
            reply_preview: Some(ReplyPreview::new(to.author(), &to.content)),
            ..attached
        };
        self.send_prepared(
            session,
            (room, target),
            content,
            state,
            reference,
            client_tags,
            io,
        );
    }

    /// Whether the one now holding the name `target` owns the other side of the private
    /// message `to` (a later guest with the name must not be shown its words).
    fn same_other_side(&self, session: SessionId, to: &StoredMessage, target: &str) -> bool {
        let MessageKind::Private {
            sender_owner,
            target_owner,
            ..
        } = &to.kind
        else {
            return false;
        };
        let mine = self.sessions.get(&session).map(|s| s.owner());
        let theirs = match mine.as_deref() == Some(sender_owner.as_str()) {
            true => target_owner,
            false => sender_owner,
        };
        let now = match self.online(target) {
            Some(t) => self.sessions.get(&t).map(|s| s.owner()),
            None => self.remote_user_named(target).map(|u| u.owner),
        };
        now.as_deref() == Some(theirs.as_str())
    }

    /// Sends a message whose reply and files were checked.
    #[allow(clippy::too_many_arguments)]
    fn send_prepared(
        &mut self,
        session: SessionId,
        (room, target): (Option<String>, Option<String>),
        content: String,
        state: MessageState,
        reference: Option<Value>,
        client_tags: Option<ClientTags>,
        io: &mut impl HubIo,
    ) {
        match (room, target) {
            (Some(room), _) => self.public_message(
                session,
                content,
                Some(room),
                state,
                reference,
                client_tags,
                io,
            ),
            (None, Some(target)) => {
                self.private_message(session, &target, content, state, reference, client_tags, io)
            }
            (None, None) => {}
        }
    }

    /// The files a message names, as its attachments, if each is the sender's and not sent
    /// yet; otherwise the refusal (`unknown_file`, about the first that is not).
    fn attach(
        &mut self,
        session: SessionId,
        asked: &[String],
        found: Vec<crate::store::FileRecord>,
        reference: &Option<Value>,
        io: &mut impl HubIo,
    ) -> Option<MessageState> {
        let owner = self.sessions.get(&session)?.owner();
        let mut attachments: Vec<palaver_proto::message_changes::Attachment> = Vec::new();
        for id in asked {
            let file = found
                .iter()
                .find(|f| f.id == *id && f.owner == owner && f.message_id.is_none());
            match file {
                Some(f) if !attachments.iter().any(|a| a.id == f.id) => {
                    attachments.push(f.attachment())
                }
                Some(_) => {}
                None => {
                    let refusal = Refusal::new(
                        ErrorCode::UnknownFile,
                        "No file of yours waiting to be sent has that id.",
                    )
                    .about(id.chars().take(64).collect::<String>());
                    self.refuse(session, refusal, reference.clone(), io);
                    return None;
                }
            }
        }
        Some(MessageState {
            attachments,
            ..MessageState::default()
        })
    }

    /// Stores a change to `message` made by `session`; [`Hub::stored`] delivers it.
    fn persist_change(
        &mut self,
        session: SessionId,
        message: &StoredMessage,
        (change, content): (Change, String),
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        let (username, username_key) = self.user_of(session);
        let owner = self.sessions[&session].owner();
        let kind = match &message.kind {
            MessageKind::Public { room, room_key, .. } => MessageKind::Public {
                room: room.clone(),
                room_key: room_key.clone(),
                username,
                username_key,
                owner,
            },
            MessageKind::Private {
                sender,
                sender_key,
                sender_owner,
                target,
                target_key,
                target_owner,
            } => {
                // The other party, as the message has it.
                let (other, other_key, other_owner) = if *sender_key == username_key {
                    (target, target_key, target_owner)
                } else {
                    (sender, sender_key, sender_owner)
                };
                MessageKind::Private {
                    sender: username,
                    sender_key: username_key,
                    sender_owner: owner,
                    target: other.clone(),
                    target_key: other_key.clone(),
                    target_owner: other_owner.clone(),
                }
            }
        };
        // The other party's connection, here or on another node, for a private change.
        // Only whoever owns that side now: a later guest with the name is someone else.
        let (target, remote_target) = match &kind {
            MessageKind::Private {
                target_key,
                target_owner,
                ..
            } => {
                let here = self
                    .online(target_key)
                    .filter(|t| self.sessions[t].owner() == *target_owner);
                let elsewhere = match here {
                    Some(_) => None,
                    None => self
                        .remote_user_named(target_key)
                        .filter(|u| u.owner == *target_owner)
                        .map(|u| u.holder),
                };
                (here, elsewhere)
            }
            MessageKind::Public { .. } => (None, None),
        };
        let ts_ms = self.now();
        let source = self.mark_active(session, ts_ms);
        self.pending.push_back(Pending {
            origin: self.connection_asking(session),
            user: session,
            reference,
            target,
            remote_target,
            source,
            client_tags: None,
            sender: self.sender_of(session),
        });
        io.persist(StoredMessage {
            id: 0,
            seq: 0,
            ts_ms,
            content,
            kind,
            change: Some(change),
            state: Default::default(),
        });
    }
}

impl Hub {
    /// A change the store committed: to the room's members in seq order (on every node), or to
    /// both parties of a private conversation.
    pub(super) fn deliver_change(
        &mut self,
        change: &StoredMessage,
        pending: &Pending,
        io: &mut impl HubIo,
    ) {
        let chat = change.to_chat();
        let out = super::Outgoing::message_from(
            chat.clone().into_frame(),
            pending.source.clone(),
            pending.client_tags.clone(),
            pending.sender.clone(),
        );
        match &change.kind {
            MessageKind::Public { room_key, .. } => {
                if self.config.clustered {
                    let post = crate::network::fanout::RoomPost::new(
                        self.config.node,
                        room_key,
                        &chat,
                        &pending.source,
                        &pending.client_tags,
                        pending.sender.clone(),
                    );
                    io.post(crate::network::fanout::Post::Room(post));
                }
                self.sequence(room_key, chat, out, io);
            }
            MessageKind::Private { target_key, .. } => {
                let here = pending.target.filter(|t| {
                    *t != pending.origin
                        && self
                            .sessions
                            .get(t)
                            .and_then(|s| s.user.as_ref())
                            .is_some_and(|u| u.key == *target_key)
                });
                if let Some(t) = here {
                    self.send_out(t, &out, io);
                } else if let Some(to) = pending.remote_target {
                    let post = crate::network::fanout::DirectPost::new(
                        to,
                        target_key,
                        &chat,
                        &pending.source,
                        &pending.client_tags,
                        pending.sender.clone(),
                    );
                    io.post(crate::network::fanout::Post::Direct {
                        node: to.node,
                        post,
                    });
                }
                // The sender's own copy, on every device of theirs.
                self.send_out(pending.user, &out, io);
            }
        }
    }
}
