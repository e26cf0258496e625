//! A managed session with a Palaver server: join, send, receive events, survive disconnects.
//!
//! [`Client::connect`] returns once the server has welcomed you (or with why it refused). A
//! background task then owns the connection. Every frame the server sends becomes an
//! [`Event::Frame`]. Sends that carry a correlation `ref` resolve when the server acknowledges
//! that the message is stored (or refuses it).
//!
//! When the connection drops (the server restarted, the network blinked), the task reconnects
//! with exponential backoff and joins again with `since` set to its cursors (the last seq seen
//! in each room and private conversation), the rooms it was in and the session's
//! `resume_token`. The server replays everything missed, in order, before live
//! traffic, so the event stream has no gap and no duplicate. Being kicked, or a name the server
//! refuses, ends the session instead.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use palaver_proto::client_frame::Request;
use palaver_proto::{validate, ClientFrame, Cursors, ErrorCode, Secret, ServerFrame, Welcome};

use crate::connection::{Connection, ConnectionError, FrameReader, FrameWriter};
use crate::tls::{TlsSettings, Trust};

/// `join` for a guest, `login` with a password; `resume_token` continues an earlier session.
fn join_frame(
    config: &ClientConfig,
    since: Option<Cursors>,
    rooms: Vec<String>,
    resume_token: Option<Secret>,
) -> ClientFrame {
    match &config.password {
        Some(password) => ClientFrame::Login {
            username: config.username.clone(),
            password: password.clone(),
            since,
            rooms: Some(rooms),
            resume_token,
        },
        None => ClientFrame::Join {
            username: config.username.clone(),
            since,
            rooms: Some(rooms),
            resume_token,
        },
    }
}

/// The `addr` for hosts typed as one field (`node1,node2` or `node1:7001,node2`) with a default
/// port: each host without a port gets `port` (an IPv6 address gets brackets).
pub fn addresses_for(hosts: &str, port: u16) -> String {
    hosts
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(|h| {
            let has_port = match h.rsplit_once(':') {
                Some((host, p)) => {
                    p.parse::<u16>().is_ok() && (!host.contains(':') || host.ends_with(']'))
                }
                None => false,
            };
            match (has_port, h.contains(':') && !h.starts_with('[')) {
                (true, _) => h.to_string(),
                (false, true) => format!("[{h}]:{port}"),
                (false, false) => format!("{h}:{port}"),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The addresses of the config's `addr`: one, or several separated by commas (the nodes of a
/// cluster).
fn addresses(config: &ClientConfig) -> Vec<&str> {
    config
        .addr
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .collect()
}

/// Opens the connection the config asks for (plain, or TLS with the trust it was given),
/// trying its addresses in turn from the `first`-th; says which one answered.
async fn open(
    config: &ClientConfig,
    first: usize,
) -> Result<(Connection, Option<Trust>, usize), ConnectionError> {
    let addresses = addresses(config);
    let count = addresses.len().max(1);
    let mut last = None;
    for step in 0..count {
        let index = (first + step) % count;
        let addr = addresses
            .get(index)
            .copied()
            .unwrap_or(config.addr.as_str());
        let opened = match &config.tls {
            None => Connection::connect(addr).await.map(|c| (c, None)),
            Some(settings) => Connection::connect_tls(addr, settings)
                .await
                .map(|(c, trust)| (c, Some(trust))),
        };
        match opened {
            Ok((conn, trust)) => return Ok((conn, trust, index)),
            // Never try elsewhere past a certificate that is not the one pinned.
            Err(e @ ConnectionError::CertificateChanged { .. }) => return Err(e),
            Err(e) => last = Some(e),
        }
    }
    Err(last.expect("at least one address"))
}

/// How to reach the server and who to be.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `host:port`, or several separated by commas (the nodes of a cluster): a reconnect tries
    /// them in turn, from the one that last answered. A host name with several addresses is
    /// tried address by address as well.
    pub addr: String,
    pub username: String,
    /// Rooms to be in (default: `general`).
    pub rooms: Vec<String>,
    /// Reconnect when the connection drops.
    pub reconnect: bool,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// Connect with TLS (system roots, or the fingerprint pinned on first use).
    pub tls: Option<TlsSettings>,
    /// Log in to the account of `username` with this password (a guest without).
    pub password: Option<palaver_proto::Secret>,
}

impl ClientConfig {
    pub fn new(addr: impl Into<String>, username: impl Into<String>) -> Self {
        ClientConfig {
            addr: addr.into(),
            username: username.into(),
            rooms: vec![palaver_proto::DEFAULT_ROOM.to_string()],
            reconnect: true,
            backoff_initial: Duration::from_millis(250),
            backoff_max: Duration::from_secs(30),
            tls: None,
            password: None,
        }
    }
}

/// What the session tells its owner.
#[derive(Debug, Clone)]
// Events are moved through a channel one at a time; boxing every frame would cost more.
#[allow(clippy::large_enum_variant)]
pub enum Event {
    /// Joined (first time or after a reconnect).
    Connected(Box<Welcome>),
    /// A frame from the server.
    Frame(ServerFrame),
    /// The connection dropped; a reconnect follows if `reconnecting`.
    Disconnected { reason: String, reconnecting: bool },
    /// Waiting `delay` before attempt number `attempt`.
    Reconnecting { attempt: u32, delay: Duration },
    /// The session is over (quit, kicked, or the server refused us for good).
    Closed { reason: String },
    /// The connection is encrypted, and why its certificate is trusted (after `Connected`).
    Secured(Trust),
}

/// The server's answer to a message sent with [`Client::send_message`].
#[derive(Debug, Clone, PartialEq)]
pub struct Ack {
    pub id: u64,
    /// Its place in its conversation.
    pub seq: u64,
    pub timestamp: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Connection(#[from] ConnectionError),
    #[error("{message} ({code})")]
    Server { code: ErrorCode, message: String },
    #[error("invalid username: {0}")]
    InvalidUsername(String),
    #[error("not connected; the message was not sent")]
    NotConnected,
    #[error("the session has ended")]
    Ended,
}

type AckReply = oneshot::Sender<Result<Ack, ClientError>>;
type AnswerReply = oneshot::Sender<Result<ServerFrame, ClientError>>;

enum Command {
    Send(ClientFrame, Option<AckReply>),
    /// A request whose answer is whatever frame carries its `ref`.
    Ask(ClientFrame, AnswerReply),
    Quit(Option<String>),
}

/// A handle to the session; cheap to clone.
#[derive(Clone)]
pub struct Client {
    commands: mpsc::Sender<Command>,
    /// How the chat connection's certificate is trusted: the same for `https://` file links.
    tls: Option<TlsSettings>,
}

impl Client {
    /// Connects and joins. Fails with the reason if the server cannot be reached or refuses.
    pub async fn connect(
        config: ClientConfig,
    ) -> Result<(Client, mpsc::Receiver<Event>), ClientError> {
        validate::username(&config.username).map_err(|(_, m)| ClientError::InvalidUsername(m))?;
        let tls = config.tls.clone();
        let (mut conn, trust, addr_index) = open(&config, 0).await?;
        let welcome = conn
            .join_as(join_frame(&config, None, config.rooms.clone(), None))
            .await
            .map_err(|e| match e {
                ConnectionError::Refused { code, message } => ClientError::Server { code, message },
                other => ClientError::Connection(other),
            })?;
        let (events_tx, events_rx) = mpsc::channel(4096);
        let (commands_tx, commands_rx) = mpsc::channel(256);
        let mut state = SessionState {
            rooms: welcome.rooms.iter().map(|r| r.name.clone()).collect(),
            me: String::new(),
            cursors: Cursors::new(),
            resume_token: None,
            pending: HashMap::new(),
            answers: HashMap::new(),
            next_ref: 1,
            addr_index,
            config,
        };
        state.welcomed(&welcome);
        let _ = events_tx.send(Event::Connected(welcome)).await;
        if let Some(trust) = trust {
            let _ = events_tx.send(Event::Secured(trust)).await;
        }
        tokio::spawn(run(state, conn, commands_rx, events_tx));
        Ok((
            Client {
                commands: commands_tx,
                tls,
            },
            events_rx,
        ))
    }

    /// Sends any frame without waiting for an answer.
    pub async fn send(&self, frame: ClientFrame) -> Result<(), ClientError> {
        self.commands
            .send(Command::Send(frame, None))
            .await
            .map_err(|_| ClientError::Ended)
    }

    /// Sends a frame with a `ref` and waits until the server has stored it (or refused it).
    pub async fn send_acked(&self, frame: ClientFrame) -> Result<Ack, ClientError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Send(frame, Some(reply)))
            .await
            .map_err(|_| ClientError::Ended)?;
        answer.await.map_err(|_| ClientError::Ended)?
    }

    /// A public message to `room` (or `general`), acknowledged once stored.
    pub async fn send_message(
        &self,
        room: Option<&str>,
        content: &str,
    ) -> Result<Ack, ClientError> {
        self.send_acked(ClientFrame::Message {
            attachments: Vec::new(),
            reply_to: None,
            content: content.to_string(),
            room: room.map(str::to_string),
        })
        .await
    }

    /// A private message, acknowledged once stored and routed.
    pub async fn send_private(&self, target: &str, content: &str) -> Result<Ack, ClientError> {
        self.send_acked(ClientFrame::PrivateMessage {
            attachments: Vec::new(),
            reply_to: None,
            target: target.to_string(),
            content: content.to_string(),
        })
        .await
    }

    /// Sends a request and waits for the frame that answers it (carrying its `ref`), or its
    /// refusal.
    pub async fn ask(&self, frame: ClientFrame) -> Result<ServerFrame, ClientError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Ask(frame, reply))
            .await
            .map_err(|_| ClientError::Ended)?;
        answer.await.map_err(|_| ClientError::Ended)?
    }

    /// Uploads a file to the server whose HTTP listener is at `http_base` (`welcome`'s): asks
    /// for a link, sends the bytes. The answer's `id` goes in a message's `attachments`.
    pub async fn upload(
        &self,
        http_base: &str,
        name: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<crate::files::Uploaded, crate::files::FileError> {
        let ask = ClientFrame::Upload {
            name: name.to_string(),
            size: bytes.len() as u64,
            content_type: content_type.to_string(),
        };
        match self.ask(ask).await {
            Ok(ServerFrame::UploadReady { url, .. }) => {
                crate::files::put_with(http_base, &url, bytes, self.tls.as_ref()).await
            }
            Ok(other) => Err(crate::files::FileError::Http(format!(
                "unexpected answer {other:?}"
            ))),
            Err(ClientError::Server { code, message }) => {
                Err(crate::files::FileError::Refused { code, message })
            }
            Err(e) => Err(crate::files::FileError::Http(e.to_string())),
        }
    }

    /// Leaves the server politely and ends the session.
    pub async fn quit(&self, reason: Option<&str>) {
        let _ = self
            .commands
            .send(Command::Quit(reason.map(str::to_string)))
            .await;
    }
}

struct SessionState {
    config: ClientConfig,
    rooms: Vec<String>,
    /// Our name, folded (private conversations are keyed by the other name).
    me: String,
    /// The last seq seen in each conversation: where a resume starts.
    cursors: Cursors,
    /// The session's secret from its welcome: a reconnect continues the same session (a
    /// guest's private history stays its own).
    resume_token: Option<Secret>,
    pending: HashMap<u64, AckReply>,
    answers: HashMap<u64, AnswerReply>,
    next_ref: u64,
    /// Which of the config's addresses answered last.
    addr_index: usize,
}

enum Ending {
    /// Reconnect (if configured).
    Lost(String),
    /// Do not reconnect.
    Over(String),
}

async fn run(
    mut state: SessionState,
    conn: Connection,
    mut commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<Event>,
) {
    let (mut reader, mut writer) = conn.into_split();
    loop {
        let ending = serve(&mut state, &mut reader, &mut writer, &mut commands, &events).await;
        for (_, reply) in state.pending.drain() {
            let _ = reply.send(Err(ClientError::NotConnected));
        }
        for (_, reply) in state.answers.drain() {
            let _ = reply.send(Err(ClientError::NotConnected));
        }
        let reason = match ending {
            Ending::Over(reason) => {
                let _ = events.send(Event::Closed { reason }).await;
                return;
            }
            Ending::Lost(reason) => reason,
        };
        let _ = events
            .send(Event::Disconnected {
                reason: reason.clone(),
                reconnecting: state.config.reconnect,
            })
            .await;
        if !state.config.reconnect {
            let _ = events.send(Event::Closed { reason }).await;
            return;
        }
        match reconnect(&mut state, &mut commands, &events).await {
            Some(conn) => (reader, writer) = conn.into_split(),
            None => return,
        }
    }
}

/// Moves frames both ways until the connection ends.
async fn serve(
    state: &mut SessionState,
    reader: &mut FrameReader,
    writer: &mut FrameWriter,
    commands: &mut mpsc::Receiver<Command>,
    events: &mpsc::Sender<Event>,
) -> Ending {
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                None => {
                    let _ = writer.send(&ClientFrame::Quit { reason: None }).await;
                    return Ending::Over("the client was closed".into());
                }
                Some(Command::Quit(reason)) => {
                    let _ = writer.send(&ClientFrame::Quit { reason }).await;
                    let _ = writer.shutdown().await;
                    return Ending::Over("you left".into());
                }
                Some(Command::Send(frame, reply)) => {
                    let request = match reply {
                        Some(reply) => {
                            let r = state.next_ref;
                            state.next_ref += 1;
                            state.pending.insert(r, reply);
                            Request::with_ref(frame, r)
                        }
                        None => Request::new(frame),
                    };
                    if let Err(e) = writer.send_request(&request).await {
                        return Ending::Lost(e.to_string());
                    }
                }
                Some(Command::Ask(frame, reply)) => {
                    let r = state.next_ref;
                    state.next_ref += 1;
                    state.answers.insert(r, reply);
                    if let Err(e) = writer.send_request(&Request::with_ref(frame, r)).await {
                        return Ending::Lost(e.to_string());
                    }
                }
            },
            frame = reader.recv() => match frame {
                Ok(ServerFrame::Ping { .. }) => {
                    // The server checks that we are still here.
                    if let Err(e) = writer.send(&ClientFrame::Pong).await {
                        return Ending::Lost(e.to_string());
                    }
                }
                Ok(frame) => {
                    if let Some(ending) = observe(state, &frame) {
                        let _ = events.send(Event::Frame(frame)).await;
                        return ending;
                    }
                    if events.send(Event::Frame(frame)).await.is_err() {
                        return Ending::Over("nobody is listening".into());
                    }
                }
                Err(e) => return Ending::Lost(e.to_string()),
            },
        }
    }
}

fn reference_number(reference: &Option<Value>) -> Option<u64> {
    reference.as_ref().and_then(Value::as_u64)
}

impl SessionState {
    /// A welcome (first or after a reconnect): our name, our token, and a cursor at the newest
    /// message for each room we have none for (we were shown its recent window).
    fn welcomed(&mut self, welcome: &Welcome) {
        self.me = validate::fold(&welcome.username);
        if welcome.resume_token.is_some() {
            self.resume_token = welcome.resume_token.clone();
        }
        for room in &welcome.rooms {
            self.cursors
                .entry(validate::fold(&room.name))
                .or_insert(room.last_seq);
        }
    }

    /// Notes that we have seen `seq` in `conversation`.
    fn seen(&mut self, conversation: String, seq: u64) {
        let cursor = self.cursors.entry(conversation).or_default();
        *cursor = (*cursor).max(seq);
    }
}

/// A private conversation's cursor key: `@` and the other user's folded name.
fn direct(other: &str) -> String {
    format!("@{}", validate::fold(other))
}

/// Updates the session from a frame: cursors, rooms, acknowledgements.
fn observe(state: &mut SessionState, frame: &ServerFrame) -> Option<Ending> {
    if let Some(r) = frame.reference().and_then(Value::as_u64) {
        if let Some(reply) = state.answers.remove(&r) {
            let answer = match frame {
                ServerFrame::Error { code, message, .. } => Err(ClientError::Server {
                    code: *code,
                    message: message.clone(),
                }),
                other => Ok(other.clone()),
            };
            let _ = reply.send(answer);
        }
    }
    // A change moves its conversation's cursor like a message.
    let change = match frame {
        ServerFrame::Reaction(c) => Some(&c.place),
        ServerFrame::Edited(c) => Some(&c.place),
        ServerFrame::Deleted(c) => Some(&c.place),
        _ => None,
    };
    if let Some(place) = change {
        let key = match &place.room {
            Some(room) => validate::fold(room),
            None => direct(place.conversation_for(&state.me)),
        };
        state.seen(key, place.seq);
    }
    match frame {
        ServerFrame::Message(m) => state.seen(validate::fold(&m.room), m.seq),
        ServerFrame::PrivateMessage(m) => {
            let other = match validate::fold(&m.sender) == state.me {
                true => &m.target,
                false => &m.sender,
            };
            state.seen(direct(other), m.seq)
        }
        ServerFrame::PrivateConfirmation {
            seq: Some(seq),
            target,
            ..
        } => state.seen(direct(target), *seq),
        ServerFrame::Ack {
            reference,
            id,
            seq,
            timestamp,
        } => {
            if let Some(reply) = reference.as_u64().and_then(|r| state.pending.remove(&r)) {
                let _ = reply.send(Ok(Ack {
                    id: *id,
                    seq: *seq,
                    timestamp: timestamp.clone(),
                }));
            }
        }
        ServerFrame::Error {
            code,
            message,
            reference,
            ..
        } => {
            if let Some(reply) = reference_number(reference).and_then(|r| state.pending.remove(&r))
            {
                let _ = reply.send(Err(ClientError::Server {
                    code: *code,
                    message: message.clone(),
                }));
            }
            // Removed, or continued on another connection: reconnecting would only fight it.
            if matches!(code, ErrorCode::Kicked | ErrorCode::SessionReplaced) {
                return Some(Ending::Over(message.clone()));
            }
        }
        ServerFrame::JoinedRoom { room, .. } => {
            let key = validate::fold(&room.name);
            state.rooms.retain(|r| validate::fold(r) != key);
            state.rooms.push(room.name.clone());
            // Shown with its recent window: what came before is history, not missed.
            state.seen(key, room.last_seq);
        }
        ServerFrame::LeftRoom { room, .. } => {
            let key = validate::fold(room);
            state.rooms.retain(|r| validate::fold(r) != key);
            state.cursors.remove(&key);
        }
        _ => {}
    }
    None
}

/// Tries to rejoin with backoff, resuming after the last message seen. Commands sent meanwhile
/// are refused with `NotConnected` rather than queued without bound.
async fn reconnect(
    state: &mut SessionState,
    commands: &mut mpsc::Receiver<Command>,
    events: &mpsc::Sender<Event>,
) -> Option<Connection> {
    let mut delay = state.config.backoff_initial;
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let _ = events.send(Event::Reconnecting { attempt, delay }).await;
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => break,
                command = commands.recv() => match command {
                    None | Some(Command::Quit(_)) => {
                        let _ = events.send(Event::Closed { reason: "you left".into() }).await;
                        return None;
                    }
                    Some(Command::Send(_, reply)) => {
                        if let Some(reply) = reply {
                            let _ = reply.send(Err(ClientError::NotConnected));
                        }
                    }
                    Some(Command::Ask(_, reply)) => {
                        let _ = reply.send(Err(ClientError::NotConnected));
                    }
                },
            }
        }
        delay = (delay * 2).min(state.config.backoff_max);
        let (mut conn, trust) = match open(&state.config, state.addr_index).await {
            Ok((conn, trust, index)) => {
                state.addr_index = index;
                (conn, trust)
            }
            Err(e @ ConnectionError::CertificateChanged { .. }) => {
                // Never retry into a certificate that is not the one pinned.
                let _ = events
                    .send(Event::Closed {
                        reason: e.to_string(),
                    })
                    .await;
                return None;
            }
            Err(_) => continue,
        };
        let join = join_frame(
            &state.config,
            Some(state.cursors.clone()),
            state.rooms.clone(),
            state.resume_token.clone(),
        );
        match conn.join_as(join).await {
            Ok(welcome) => {
                state.welcomed(&welcome);
                let _ = events.send(Event::Connected(welcome)).await;
                if let Some(trust) = trust {
                    let _ = events.send(Event::Secured(trust)).await;
                }
                return Some(conn);
            }
            // Our old connection may still be registered until the server notices it is gone.
            Err(ConnectionError::Refused {
                code:
                    ErrorCode::UsernameTaken
                    | ErrorCode::ServerShuttingDown
                    | ErrorCode::TooManyConnections
                    | ErrorCode::ServerBusy,
                ..
            }) => {
                // Another node may answer (this one is going down, or cannot reach Redis).
                state.addr_index += 1;
                continue;
            }
            Err(ConnectionError::Refused { code, message }) => {
                let _ = events
                    .send(Event::Closed {
                        reason: format!("{message} ({code})"),
                    })
                    .await;
                return None;
            }
            Err(_) => continue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::addresses_for;

    #[test]
    fn hosts_typed_in_one_field_become_addresses() {
        assert_eq!(
            addresses_for("chat.example.org", 7878),
            "chat.example.org:7878"
        );
        assert_eq!(
            addresses_for("node1, node2:7001,,10.0.0.3", 7878),
            "node1:7878,node2:7001,10.0.0.3:7878"
        );
        assert_eq!(addresses_for("::1", 7878), "[::1]:7878");
        assert_eq!(addresses_for("[::1]:9000", 7878), "[::1]:9000");
    }
}
