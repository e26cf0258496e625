//! One account on several connections at once: a laptop, a phone, a browser tab.
//!
//! The first connection of an account holds the user (its name, rooms, modes, presence). A
//! later `login` (or SASL) of the same account on this node does not take the name over: it
//! attaches to that user as another *device* ([`Session::device_of`]). Everyone else still sees
//! one user: one name in the member lists, no join or leave when a device comes or goes.
//!
//! - What the user sends from a device is done as the user ([`Hub::request`] runs it with the
//!   user's session), and the answers go back to the connection that asked
//!   ([`Hub::asking`]): its errors, its acks, its history pages.
//! - What happens to the user reaches every device: the frames [`shared_by_devices`] lists
//!   (messages, reactions, rooms left, read markers, ...). The device that asked gets them with
//!   its `ref`, the others without. A room joined comes to each connection as its own
//!   `joined_room`, and each connection keeps its own MONITOR list.
//! - When the user's own connection ends, the user stays for its devices (*detached*: nothing
//!   is queued for the dead connection); the user leaves when its last connection does. Being
//!   kicked, killed or banned ends every device.
//!
//! A cluster attaches devices on the node that holds the name; a login to an account held on
//! another node takes the name over as before (see `docs/cluster.md`).

use palaver_proto::{ErrorCode, ServerFrame, SystemEvent};
use serde_json::Value;

use super::session::{AfterWindows, JoinAsk};
use super::{identity, Close, Hub, HubIo, Outgoing, SessionId};

/// The most devices one account may have beside its first connection.
pub const MAX_DEVICES: usize = 15;

/// Whether every connection of a user gets this frame, or only the one it answers.
pub(super) fn shared_by_devices(frame: &ServerFrame) -> bool {
    match frame {
        ServerFrame::Message(_)
        | ServerFrame::PrivateMessage(_)
        | ServerFrame::Reaction(_)
        | ServerFrame::Edited(_)
        | ServerFrame::Deleted(_)
        | ServerFrame::PrivateConfirmation { .. }
        | ServerFrame::System { .. }
        | ServerFrame::Server { .. }
        | ServerFrame::LeftRoom { .. }
        | ServerFrame::Topic { .. }
        | ServerFrame::Notice { .. }
        | ServerFrame::Typing { .. }
        | ServerFrame::TagMessage { .. }
        | ServerFrame::Away { .. }
        | ServerFrame::Renamed { .. }
        | ServerFrame::AccountChanged { .. }
        | ServerFrame::RealnameChanged { .. }
        | ServerFrame::ModeChanged { .. }
        | ServerFrame::Invited { .. }
        | ServerFrame::ReadMarker(_) => true,
        // Sent to each connection on its own (`join_room`, `attach_device`; each connection
        // keeps its own MONITOR list).
        ServerFrame::JoinedRoom { .. }
        | ServerFrame::MonitorStatus { .. }
        | ServerFrame::Welcome(_)
        | ServerFrame::UploadReady { .. }
        | ServerFrame::Error { .. }
        | ServerFrame::Ack { .. }
        | ServerFrame::Rooms { .. }
        | ServerFrame::Users { .. }
        | ServerFrame::History { .. }
        | ServerFrame::Ping { .. }
        | ServerFrame::Pong { .. }
        | ServerFrame::Resumed { .. }
        | ServerFrame::Who { .. }
        | ServerFrame::Whois { .. }
        | ServerFrame::Whowas { .. }
        | ServerFrame::Authenticated { .. }
        | ServerFrame::Registered { .. }
        | ServerFrame::PasswordChanged { .. }
        | ServerFrame::Done { .. }
        | ServerFrame::SearchResults { .. }
        | ServerFrame::Conversations { .. }
        | ServerFrame::RoomModes { .. }
        | ServerFrame::Info { .. }
        | ServerFrame::Unknown => false,
    }
}

/// The connections a frame for `session` goes to, each with the frame it gets: for a user
/// without devices (nearly always) just `session`.
pub(super) fn audience(
    sessions: &rustc_hash::FxHashMap<SessionId, super::Session>,
    asking: Option<(SessionId, SessionId)>,
    session: SessionId,
    out: &Outgoing,
) -> Audience {
    let Some(s) = sessions.get(&session) else {
        return Audience::One(session);
    };
    if s.devices.is_empty() {
        // A device's own connection, or a user alone: exactly where it was sent.
        return Audience::One(session);
    }
    // The connection that asked, when a device's request is being done as the user.
    let asker = match asking {
        Some((user, device)) if user == session => device,
        _ => session,
    };
    if !shared_by_devices(out.frame()) {
        return Audience::One(asker);
    }
    let others = out
        .frame()
        .without_reference()
        .map(|frame| out.with_frame(frame))
        .unwrap_or_else(|| out.clone());
    let mut all: Vec<(SessionId, Outgoing)> = Vec::with_capacity(s.devices.len() + 1);
    for &connection in std::iter::once(&session).chain(s.devices.iter()) {
        if connection == session && s.detached {
            continue;
        }
        let frame = if connection == asker { out } else { &others };
        all.push((connection, frame.clone()));
    }
    Audience::Several(all)
}

/// See [`audience`].
pub(super) enum Audience {
    One(SessionId),
    Several(Vec<(SessionId, Outgoing)>),
}

impl Hub {
    /// The session holding the user a connection acts for: itself, or the user it is a
    /// device of.
    pub(super) fn user_session(&self, connection: SessionId) -> SessionId {
        self.sessions
            .get(&connection)
            .and_then(|s| s.device_of)
            .unwrap_or(connection)
    }

    /// The connection answers for `session` go to: the device whose request is being done as
    /// the user, else the session itself. Work that answers later (a message in the store, a
    /// history page, a message looked up) remembers this connection.
    pub(super) fn connection_asking(&self, session: SessionId) -> SessionId {
        match self.asking {
            Some((user, device)) if user == session => device,
            _ => session,
        }
    }

    /// Runs `work` as the user of `connection`, answering `connection`.
    pub(super) fn as_user<T>(
        &mut self,
        connection: SessionId,
        work: impl FnOnce(&mut Hub, SessionId) -> T,
    ) -> T {
        let user = self.user_session(connection);
        self.answering(user, connection, |hub| work(hub, user))
    }

    /// Runs `work` for `user` answering `connection`, one of its devices; if that connection is
    /// gone meanwhile, the user's connections get the answer without its `ref`.
    pub(super) fn answering<T>(
        &mut self,
        user: SessionId,
        connection: SessionId,
        work: impl FnOnce(&mut Hub) -> T,
    ) -> T {
        let before = self.asking;
        self.asking = (user != connection && self.sessions.contains_key(&connection))
            .then_some((user, connection));
        let result = work(self);
        self.asking = before;
        result
    }

    /// Every live connection of the user held by `session`: its own (unless detached) and its
    /// devices'.
    pub(super) fn connections_of(&self, session: SessionId) -> Vec<SessionId> {
        let Some(s) = self.sessions.get(&session) else {
            return Vec::new();
        };
        let own = (!s.detached).then_some(session);
        own.into_iter().chain(s.devices.iter().copied()).collect()
    }

    /// The user this joining connection may attach to as another device: one of this node's
    /// users holding the name, logged in to the same account the connection proved it owns.
    pub(super) fn device_target(&self, connection: SessionId, key: &str) -> Option<SessionId> {
        let account = self.sessions.get(&connection)?.account.as_deref()?;
        if account != key {
            return None;
        }
        let &user = self.users.get(key)?;
        let holder = self.sessions.get(&user)?;
        (user != connection && holder.account.as_deref() == Some(account)).then_some(user)
    }

    /// Attaches a connection to its account's user: its `welcome` and `joined_room`s show the
    /// user's rooms as they are, and with cursors it gets what it missed. Nobody else hears of
    /// it.
    pub(super) fn attach_device(
        &mut self,
        connection: SessionId,
        user: SessionId,
        ask: JoinAsk,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        let Some(holder) = self.sessions.get_mut(&user) else {
            return;
        };
        let Some(u) = holder.user.as_ref() else {
            return;
        };
        let (name, room_keys) = (u.name.clone(), u.rooms.clone());
        if holder.devices.len() >= MAX_DEVICES {
            let message = format!(
                "{name} is connected {} times already, the most one account may be.",
                MAX_DEVICES + 1
            );
            let refusal = super::Refusal::new(ErrorCode::TooManyConnections, message).about(&name);
            return self.refuse(connection, refusal, reference, io);
        }
        holder.devices.push(connection);
        if let Some(s) = self.sessions.get_mut(&connection) {
            s.device_of = Some(user);
        }
        io.joined(connection, &name);
        let mut awaiting = Vec::new();
        for key in &room_keys {
            if !self.activate_room(key, io) {
                awaiting.push(key.clone());
            }
        }
        let cursors = ask.since.map(|since| self.cursors(&since));
        let has_cursor = |key: &str| cursors.as_ref().is_some_and(|c| c.rooms.contains_key(key));
        let resume_token = ask
            .resume_token
            .as_ref()
            .map_or_else(identity::new_resume_token, |t| t.expose().to_string());
        // Every room the user is in comes as a `joined_room` (general too: an IRC client
        // shows a channel only once it has its JOIN and names), its window up to now.
        let welcome = self.welcome(&name, &room_keys, resume_token);
        let mut then = vec![self.welcome_step(welcome, false)];
        then.extend(
            room_keys
                .iter()
                .filter(|k| !has_cursor(k))
                .map(|k| self.joined_room_step(k, None)),
        );
        if let Some(cursors) = cursors {
            then.push(AfterWindows::Resume {
                cursors,
                room_keys: room_keys.clone(),
            });
        }
        self.after_windows(connection, awaiting, then, io);
        self.send_read_markers(connection, io);
    }

    /// A device's connection ended: only it goes. A detached user whose last device this was
    /// leaves now.
    pub(super) fn detach_device(
        &mut self,
        connection: SessionId,
        reason: Option<String>,
        how: Close,
        io: &mut impl HubIo,
    ) {
        let Some(s) = self.sessions.remove(&connection) else {
            return;
        };
        let watched: Vec<String> = s.monitoring.iter().cloned().collect();
        self.stop_watching(connection, &watched);
        io.close(connection, how);
        let Some(user) = s.device_of else {
            return;
        };
        let Some(holder) = self.sessions.get_mut(&user) else {
            return;
        };
        holder.devices.retain(|&d| d != connection);
        if holder.detached && holder.devices.is_empty() {
            self.remove_session(user, reason, SystemEvent::Disconnected, Close::Graceful, io);
        }
    }

    /// The user's own connection ended while devices remain: the user stays for them.
    /// Returns false when there are none (the user leaves as usual).
    pub(super) fn detach_user(
        &mut self,
        session: SessionId,
        how: Close,
        io: &mut impl HubIo,
    ) -> bool {
        let Some(s) = self.sessions.get_mut(&session) else {
            return false;
        };
        if s.devices.is_empty() || s.detached {
            return false;
        }
        s.detached = true;
        s.catch_up = None;
        io.close(session, how);
        true
    }

    /// The user is removed (kicked, killed, banned, or the name taken over on another node):
    /// every device goes with it, told why.
    pub(super) fn close_devices(
        &mut self,
        session: SessionId,
        why: ErrorCode,
        io: &mut impl HubIo,
    ) {
        let devices = match self.sessions.get_mut(&session) {
            Some(s) => std::mem::take(&mut s.devices),
            None => return,
        };
        for device in devices {
            if let Some(s) = self.sessions.remove(&device) {
                let watched: Vec<String> = s.monitoring.iter().cloned().collect();
                self.stop_watching(device, &watched);
                io.close(device, Close::Abort(why));
            }
        }
    }

    /// A frame a device sent: connection matters are its own (`ping`, `quit`, passwords);
    /// joining again is refused; everything else is done as the user.
    pub(super) fn device_request(
        &mut self,
        connection: SessionId,
        request: palaver_proto::Request,
        io: &mut impl HubIo,
    ) {
        use palaver_proto::ClientFrame;
        let palaver_proto::Request {
            frame,
            reference,
            client_tags,
        } = request;
        match frame {
            // The account's password, proved by this connection too.
            ClientFrame::ChangePassword { old, new } => {
                self.change_password(connection, old, new, reference, io)
            }
            // Each connection watches its own names (IRC's MONITOR is per client).
            ClientFrame::Monitor { add, remove, clear } => {
                self.monitor(connection, add, remove, clear, reference, io)
            }
            ClientFrame::Join { .. }
            | ClientFrame::Login { .. }
            | ClientFrame::Authenticate { .. }
            | ClientFrame::Register { .. }
            | ClientFrame::Oper { .. } => {
                let name = self.user_name(connection);
                let message = format!(
                    "This connection is already joined as {name:?} (another device of the account)."
                );
                self.error_to(connection, ErrorCode::AlreadyJoined, message, reference, io);
            }
            frame => {
                let own = matches!(
                    frame,
                    ClientFrame::Ping | ClientFrame::Pong | ClientFrame::Quit { .. }
                );
                let request = palaver_proto::Request {
                    frame,
                    reference,
                    client_tags,
                };
                if own {
                    self.handle(connection, request, io)
                } else {
                    self.as_user(connection, |hub, user| hub.handle(user, request, io))
                }
            }
        }
    }

    /// The name of the user a connection acts for (empty before joining).
    pub(super) fn user_name(&self, connection: SessionId) -> String {
        let user = self.user_session(connection);
        self.sessions
            .get(&user)
            .and_then(|s| s.name())
            .unwrap_or_default()
            .to_string()
    }
}
