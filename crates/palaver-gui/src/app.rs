//! The application: which screen is shown, the session, the hosted server, the settings that
//! are remembered between runs. The views (`views/`) draw it; the model (`model.rs`) holds the
//! chat; the network (`net.rs`) and the hosted server (`host.rs`) run on the tokio runtime.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::runtime::{Handle, Runtime};
use tokio::sync::mpsc;

use palaver_client::ClientConfig;

use crate::host::Host;
use crate::model::{ChatModel, LineKind, Status};
use crate::net::{self, JoinError, NetEvent, Outbox};
use crate::views::chat::ChatView;

/// Remembered between runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub host: String,
    pub port: String,
    /// Connect with TLS.
    pub tls: bool,
    pub username: String,
    pub dark: bool,
    pub host_bind: String,
    pub host_port: String,
    pub host_database: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            host: "127.0.0.1".into(),
            port: "7878".into(),
            tls: false,
            username: String::new(),
            dark: true,
            host_bind: "127.0.0.1".into(),
            host_port: "7878".into(),
            host_database: "palaver.db".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Connect,
    Chat,
    Host,
}

/// The connect form's inline errors, each next to the field that caused it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ConnectErrors {
    pub username: Option<String>,
    pub address: Option<String>,
    pub other: Option<String>,
}

pub struct PalaverApp {
    /// Kept alive when the app made its own runtime.
    _runtime: Option<Arc<Runtime>>,
    pub runtime: Handle,
    pub settings: Settings,
    pub screen: Screen,
    pub connecting: bool,
    pub connect_errors: ConnectErrors,
    /// The account password typed on the connect screen (never saved).
    pub password: String,
    net: Option<mpsc::UnboundedReceiver<NetEvent>>,
    pub outbox: Option<Outbox>,
    pub chat: Option<ChatModel>,
    pub chat_view: ChatView,
    pub host: Host,
    /// Initial backoff for reconnects (shorter in tests).
    pub reconnect_initial: std::time::Duration,
    repaint: Option<egui::Context>,
    /// What went wrong off the UI's thread (a file that was not sent), to show.
    pub notes: (
        tokio::sync::mpsc::UnboundedSender<String>,
        tokio::sync::mpsc::UnboundedReceiver<String>,
    ),
}

impl PalaverApp {
    /// An app on its own tokio runtime, with remembered settings.
    pub fn new(settings: Settings) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name("palaver-net")
            .build()?;
        let handle = runtime.handle().clone();
        Ok(Self::with_runtime(
            handle,
            Some(Arc::new(runtime)),
            settings,
        ))
    }

    /// An app on an existing runtime (tests share theirs).
    pub fn with_runtime(runtime: Handle, owned: Option<Arc<Runtime>>, settings: Settings) -> Self {
        let host = Host::new(
            settings.host_bind.clone(),
            settings.host_port.clone(),
            settings.host_database.clone(),
        );
        PalaverApp {
            _runtime: owned,
            runtime,
            settings,
            screen: Screen::Connect,
            connecting: false,
            connect_errors: ConnectErrors::default(),
            password: String::new(),
            net: None,
            outbox: None,
            chat: None,
            chat_view: ChatView::default(),
            host,
            reconnect_initial: std::time::Duration::from_millis(250),
            repaint: None,
            notes: tokio::sync::mpsc::unbounded_channel(),
        }
    }

    fn repaint_fn(&self) -> impl Fn() + Send + Sync + 'static {
        let ctx = self.repaint.clone();
        move || {
            if let Some(ctx) = &ctx {
                ctx.request_repaint();
            }
        }
    }

    /// Checks the form and starts connecting.
    pub fn connect(&mut self) {
        self.connect_errors = ConnectErrors::default();
        let username = self.settings.username.trim().to_string();
        if let Err((_, message)) = palaver_proto::validate::username(&username) {
            self.connect_errors.username = Some(message);
            return;
        }
        let host = self.settings.host.trim();
        let port = self.settings.port.trim();
        if host.is_empty() || port.parse::<u16>().is_err() {
            self.connect_errors.address = Some("Enter a host and a port number (1-65535).".into());
            return;
        }
        let port: u16 = port.parse().expect("checked above");
        let addr = palaver_client::client::addresses_for(host, port);
        let mut config = ClientConfig::new(addr, username.clone());
        config.backoff_initial = self.reconnect_initial;
        config.backoff_max = std::time::Duration::from_secs(10);
        if self.settings.tls {
            config.tls = Some(palaver_client::TlsSettings::default());
        }
        if !self.password.is_empty() {
            config.password = Some(palaver_proto::Secret(self.password.clone()));
        }
        self.connecting = true;
        self.net = Some(net::connect(&self.runtime, config, self.repaint_fn()));
    }

    /// Leaves the server and goes back to the connect screen.
    /// Sends a frame on the session, if there is one.
    pub fn send(&self, frame: palaver_proto::ClientFrame) {
        if let Some(outbox) = &self.outbox {
            outbox.send(frame);
        }
    }

    pub fn disconnect(&mut self) {
        if let Some(outbox) = self.outbox.take() {
            outbox.quit(&self.runtime);
        }
        self.net = None;
        self.chat = None;
        self.connecting = false;
        self.screen = Screen::Connect;
    }

    /// Takes in everything the network and the hosted server reported since the last frame.
    pub fn poll(&mut self, ctx: &egui::Context) {
        self.repaint.get_or_insert_with(|| ctx.clone());
        self.host.poll();
        let Some(rx) = &mut self.net else {
            return;
        };
        let mut events = Vec::new();
        while let Ok(event) = rx.try_recv() {
            events.push(event);
        }
        for event in events {
            match event {
                NetEvent::Joined(client) => {
                    self.outbox = Some(Outbox::new(&self.runtime, client));
                    let server = format!(
                        "{}:{}",
                        self.settings.host.trim(),
                        self.settings.port.trim()
                    );
                    let mut chat = ChatModel::new(self.settings.username.trim(), &server);
                    // Search results have a window of their own here.
                    chat.search_in_lines = false;
                    self.chat = Some(chat);
                    self.chat_view = ChatView::default();
                    self.connecting = false;
                    self.screen = Screen::Chat;
                }
                NetEvent::JoinFailed(error) => {
                    self.connecting = false;
                    self.net = None;
                    match error {
                        JoinError::Username(m) => self.connect_errors.username = Some(m),
                        JoinError::Address(m) => self.connect_errors.address = Some(m),
                        JoinError::Other(m) => self.connect_errors.other = Some(m),
                    }
                }
                NetEvent::Client(event) => {
                    if let Some(chat) = &mut self.chat {
                        chat.apply(event);
                    }
                }
            }
        }
        while let Ok(note) = self.notes.1.try_recv() {
            if let Some(chat) = &mut self.chat {
                chat.local(crate::model::LineKind::Error, note);
            }
        }
        self.notify(ctx);
    }

    /// Raises desktop notifications for mentions and private messages while the window is
    /// not focused. A desktop without a notification service is not an error.
    fn notify(&mut self, ctx: &egui::Context) {
        let Some(chat) = &mut self.chat else {
            return;
        };
        let pending = std::mem::take(&mut chat.notify);
        let unfocused = ctx.input(|i| i.viewport().focused) == Some(false);
        if !unfocused {
            return;
        }
        for (summary, body) in pending {
            self.runtime.spawn_blocking(move || {
                let _ = notify_rust::Notification::new()
                    .appname("Palaver")
                    .summary(&summary)
                    .body(&body)
                    .show();
            });
        }
    }

    /// The status line: where we are connected, or what is happening to the connection.
    pub fn status_text(&self) -> (String, bool) {
        match (&self.chat, self.connecting) {
            (Some(chat), _) => match &chat.status {
                Status::Connected => (format!("Connected to {} as {}", chat.server, chat.me), true),
                Status::Reconnecting { attempt } if *attempt > 0 => (
                    format!(
                        "Connection lost: reconnecting to {} (attempt {attempt})…",
                        chat.server
                    ),
                    false,
                ),
                Status::Reconnecting { .. } => (
                    format!("Connection lost: reconnecting to {}…", chat.server),
                    false,
                ),
                Status::Disconnected(why) => (format!("Disconnected: {why}"), false),
            },
            (None, true) => (
                format!(
                    "Connecting to {}:{}…",
                    self.settings.host.trim(),
                    self.settings.port.trim()
                ),
                false,
            ),
            (None, false) => ("Not connected".into(), false),
        }
    }

    /// Draws the whole window.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.poll(&ctx);
        ctx.set_visuals(crate::theme::visuals(self.settings.dark));
        crate::views::top_bar(self, ui);
        match self.screen {
            Screen::Connect => crate::views::connect::show(self, ui),
            Screen::Chat => crate::views::chat::show(self, ui),
            Screen::Host => crate::views::host::show(self, ui),
        }
        // Keep polling while something may arrive without a repaint request (e.g. in tests).
        if self.connecting || self.chat.is_some() || self.host.is_running() {
            ctx.request_repaint_after(std::time::Duration::from_millis(250));
        }
    }

    /// Adds a local help or error line to the conversation shown.
    pub fn local_line(&mut self, kind: LineKind, text: impl Into<String>) {
        if let Some(chat) = &mut self.chat {
            chat.local(kind, text);
        }
    }
}

/// The desktop app: the same UI, with settings saved by eframe.
pub struct DesktopApp {
    pub app: PalaverApp,
}

impl eframe::App for DesktopApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.app.show(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        let mut settings = self.app.settings.clone();
        settings.host_bind = self.app.host.bind.clone();
        settings.host_port = self.app.host.port.clone();
        settings.host_database = self.app.host.database.clone();
        eframe::set_value(storage, SETTINGS_KEY, &settings);
    }
}

pub const SETTINGS_KEY: &str = "palaver-settings";
