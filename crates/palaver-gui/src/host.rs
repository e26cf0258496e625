//! "Host a server": a Palaver server running inside the app (the `palaver-server` library, not
//! a child process), with what its dashboard shows: status, connected users, a live log.

use std::collections::VecDeque;
use std::net::SocketAddr;

use tokio::runtime::Handle;
use tokio::sync::{broadcast, mpsc};

use palaver_server::hub::{HubEvent, UserSummary};
use palaver_server::{Server, ServerConfig, ServerEvent, ServerHandle};

/// Log lines kept on screen.
const LOG_LINES: usize = 2000;

#[derive(Debug, Clone, PartialEq)]
pub enum HostStatus {
    Stopped,
    Starting,
    Running(SocketAddr),
    Stopping,
    /// The error that stopped it (e.g. the port is taken).
    Failed(String),
}

enum HostMsg {
    Started(ServerHandle, SocketAddr),
    Failed(String),
    Stopped,
    Log(String),
    Users(Vec<UserSummary>),
}

pub struct Host {
    pub bind: String,
    pub port: String,
    pub database: String,
    pub status: HostStatus,
    pub users: Vec<UserSummary>,
    pub log: VecDeque<String>,
    pub announcement: String,
    handle: Option<ServerHandle>,
    tx: mpsc::UnboundedSender<HostMsg>,
    rx: mpsc::UnboundedReceiver<HostMsg>,
}

impl Host {
    pub fn new(bind: String, port: String, database: String) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Host {
            bind,
            port,
            database,
            status: HostStatus::Stopped,
            users: Vec::new(),
            log: VecDeque::new(),
            announcement: String::new(),
            handle: None,
            tx,
            rx,
        }
    }

    pub fn is_running(&self) -> bool {
        matches!(self.status, HostStatus::Running(_))
    }

    /// Starts the server with the form's settings.
    pub fn start(&mut self, runtime: &Handle, repaint: impl Fn() + Send + Sync + 'static) {
        if matches!(
            self.status,
            HostStatus::Running(_) | HostStatus::Starting | HostStatus::Stopping
        ) {
            return;
        }
        let address = format!("{}:{}", self.bind.trim(), self.port.trim());
        let bind = match address.parse::<SocketAddr>() {
            Ok(addr) => addr,
            Err(_) => {
                self.status = HostStatus::Failed(format!(
                    "{address:?} is not an address and port (e.g. 127.0.0.1 and 7878)."
                ));
                return;
            }
        };
        let config = ServerConfig {
            bind,
            database: self.database.trim().to_string(),
            ..ServerConfig::default()
        };
        self.status = HostStatus::Starting;
        self.push_log(format!(
            "Starting on {address} with database {}…",
            config.database
        ));
        let tx = self.tx.clone();
        let repaint = std::sync::Arc::new(repaint);
        runtime.spawn(async move {
            match Server::start(config).await {
                Ok(server) => {
                    let handle = server.handle();
                    let addr = server.local_addr();
                    let events = handle.subscribe();
                    let _ = tx.send(HostMsg::Started(handle.clone(), addr));
                    repaint();
                    let forward =
                        tokio::spawn(forward_events(events, handle, tx.clone(), repaint.clone()));
                    server.wait().await;
                    forward.abort();
                    let _ = tx.send(HostMsg::Stopped);
                    repaint();
                }
                Err(e) => {
                    let _ = tx.send(HostMsg::Failed(format!("{e:#}")));
                    repaint();
                }
            }
        });
    }

    /// Stops the server gracefully (everyone is told).
    pub fn stop(&mut self) {
        if let Some(handle) = &self.handle {
            handle.shutdown();
            self.status = HostStatus::Stopping;
            self.push_log("Stopping…".into());
        }
    }

    pub fn kick(&self, runtime: &Handle, username: &str) {
        if let Some(handle) = self.handle.clone() {
            let name = username.to_string();
            runtime.spawn(async move {
                handle.kick(&name, "removed by the host").await;
            });
        }
    }

    /// Bans a user's name for an hour.
    pub fn ban(&self, runtime: &Handle, username: &str) {
        if let Some(handle) = self.handle.clone() {
            let name = username.to_string();
            runtime.spawn(async move {
                handle.ban(&name, Some(60), "banned by the host").await;
            });
        }
    }

    /// Sends the announcement box's text to everyone.
    pub fn announce(&mut self, runtime: &Handle) {
        let text = self.announcement.trim().to_string();
        if text.is_empty() {
            return;
        }
        if let Some(handle) = self.handle.clone() {
            runtime.spawn(async move { handle.announce(text).await });
            self.announcement.clear();
        }
    }

    /// Takes in what the server's tasks reported.
    pub fn poll(&mut self) {
        while let Ok(msg) = self.rx.try_recv() {
            match msg {
                HostMsg::Started(handle, addr) => {
                    self.handle = Some(handle);
                    self.status = HostStatus::Running(addr);
                    self.push_log(format!("Running on {addr}."));
                }
                HostMsg::Failed(e) => {
                    self.push_log(format!("Could not start: {e}"));
                    self.status = HostStatus::Failed(e);
                }
                HostMsg::Stopped => {
                    self.handle = None;
                    self.users.clear();
                    self.status = HostStatus::Stopped;
                    self.push_log("Stopped.".into());
                }
                HostMsg::Log(line) => self.push_log(line),
                HostMsg::Users(users) => self.users = users,
            }
        }
    }

    fn push_log(&mut self, line: String) {
        let time = chrono::Local::now().format("%H:%M:%S");
        self.log.push_back(format!("{time}  {line}"));
        while self.log.len() > LOG_LINES {
            self.log.pop_front();
        }
    }
}

async fn forward_events(
    mut events: broadcast::Receiver<ServerEvent>,
    handle: ServerHandle,
    tx: mpsc::UnboundedSender<HostMsg>,
    repaint: std::sync::Arc<impl Fn() + Send + Sync + 'static>,
) {
    loop {
        let event = match events.recv().await {
            Ok(e) => e,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                let _ = tx.send(HostMsg::Log(format!("({n} log lines skipped)")));
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => break,
        };
        let refresh_users = matches!(
            event.event,
            HubEvent::Joined { .. }
                | HubEvent::Left { .. }
                | HubEvent::Kicked { .. }
                | HubEvent::RoomJoined { .. }
                | HubEvent::RoomLeft { .. }
        );
        let _ = tx.send(HostMsg::Log(describe(&event.event)));
        if refresh_users {
            let _ = tx.send(HostMsg::Users(handle.users().await));
        }
        repaint();
    }
}

fn describe(event: &HubEvent) -> String {
    match event {
        HubEvent::Connected { peer, .. } => format!("Connection from {peer}"),
        HubEvent::Joined { username, .. } => format!("{username} joined"),
        HubEvent::Left { username, reason } => format!("{username} left ({reason})"),
        HubEvent::RoomJoined { username, room } => format!("{username} joined #{room}"),
        HubEvent::RoomLeft { username, room } => format!("{username} left #{room}"),
        HubEvent::Message {
            room,
            username,
            content,
            ..
        } => format!("#{room} <{username}> {content}"),
        HubEvent::Private { sender, target, .. } => format!("private message {sender} → {target}"),
        HubEvent::Announced { message } => format!("Announcement: {message}"),
        HubEvent::Kicked { username, reason } => format!("{username} was kicked ({reason})"),
        HubEvent::KickedFromRoom {
            room,
            username,
            by,
            reason,
        } => format!("{username} was removed from #{room} by {by} ({reason})"),
        HubEvent::Renamed { old, new } => format!("{old} is now known as {new}"),
        HubEvent::Registered { username } => format!("{username} registered the name"),
        HubEvent::Moderation { by, message, .. } => format!("{by}: {message}"),
    }
}
