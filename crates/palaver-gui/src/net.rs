//! The network side of the desktop client: it runs on a tokio runtime, off the UI thread, and
//! talks to the UI through channels. The UI never waits on a socket: it drains what arrived at
//! the start of each frame and queues what it sends.

use tokio::runtime::Handle;
use tokio::sync::mpsc;

use palaver_client::client::ClientError;
use palaver_client::{Client, ClientConfig, ConnectionError, Event};
use palaver_proto::{ClientFrame, ErrorCode};

/// Why joining failed, by the field the user should look at.
#[derive(Debug, Clone, PartialEq)]
pub enum JoinError {
    /// The name: invalid or taken.
    Username(String),
    /// The address: refused, unreachable, not a Palaver server.
    Address(String),
    Other(String),
}

/// What the network side reports to the UI.
// Events move through a channel one at a time; boxing every one would cost more.
#[allow(clippy::large_enum_variant)]
pub enum NetEvent {
    Joined(Client),
    JoinFailed(JoinError),
    Client(Event),
}

/// Starts connecting; events (the join's outcome, then the session's events) arrive on the
/// returned channel. `repaint` is called after each, to wake the UI.
pub fn connect(
    runtime: &Handle,
    config: ClientConfig,
    repaint: impl Fn() + Send + 'static,
) -> mpsc::UnboundedReceiver<NetEvent> {
    let (tx, rx) = mpsc::unbounded_channel();
    runtime.spawn(async move {
        let addr = config.addr.clone();
        match Client::connect(config).await {
            Ok((client, mut events)) => {
                let _ = tx.send(NetEvent::Joined(client));
                repaint();
                while let Some(event) = events.recv().await {
                    if tx.send(NetEvent::Client(event)).is_err() {
                        break;
                    }
                    repaint();
                }
            }
            Err(e) => {
                let _ = tx.send(NetEvent::JoinFailed(classify(&addr, e)));
                repaint();
            }
        }
    });
    rx
}

fn classify(addr: &str, error: ClientError) -> JoinError {
    match error {
        ClientError::InvalidUsername(m) => JoinError::Username(m),
        ClientError::Server { code, message } => match code {
            ErrorCode::UsernameTaken | ErrorCode::InvalidUsername => JoinError::Username(message),
            _ => JoinError::Other(message),
        },
        ClientError::Connection(ConnectionError::Connect { source, .. }) => {
            let why = match source.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    "connection refused (is the server running?)".to_string()
                }
                _ => source.to_string(),
            };
            JoinError::Address(format!("Could not connect to {addr}: {why}"))
        }
        ClientError::Connection(ConnectionError::BadFrame(_)) => {
            JoinError::Address(format!("{addr} does not look like a Palaver server."))
        }
        other => JoinError::Other(other.to_string()),
    }
}

/// Sends frames in order, without making the UI wait.
#[derive(Clone)]
pub struct Outbox {
    tx: mpsc::UnboundedSender<ClientFrame>,
    client: Client,
}

impl Outbox {
    pub fn new(runtime: &Handle, client: Client) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<ClientFrame>();
        let sender = client.clone();
        runtime.spawn(async move {
            while let Some(frame) = rx.recv().await {
                if sender.send(frame).await.is_err() {
                    break;
                }
            }
        });
        Outbox { tx, client }
    }

    pub fn send(&self, frame: ClientFrame) {
        let _ = self.tx.send(frame);
    }

    /// Sends the file at `path` to a conversation (`room`, or privately to `target`): uploads
    /// it to the server's HTTP listener at `http_base`, then sends a message with it. Anything
    /// that goes wrong is told on `notes`, for the conversation shown.
    pub fn send_file(
        &self,
        runtime: &Handle,
        (http_base, path, max_bytes): (String, std::path::PathBuf, u64),
        to: crate::commands::Target,
        notes: mpsc::UnboundedSender<String>,
    ) {
        let client = self.client.clone();
        runtime.spawn(async move {
            if let Err(why) = upload_to(&client, (http_base, path, max_bytes), to).await {
                let _ = notes.send(why);
            }
        });
    }

    pub fn quit(&self, runtime: &Handle) {
        let client = self.client.clone();
        runtime.spawn(async move { client.quit(None).await });
    }
}

/// Sends the file at `path` to a conversation: reads it (not at all when it is over
/// `max_bytes`), uploads it to the server at `http_base`, and sends a message with it, waiting
/// for its acknowledgement. The sentence saying why it was not sent, if it was not.
pub async fn upload_to(
    client: &palaver_client::Client,
    (http_base, path, max_bytes): (String, std::path::PathBuf, u64),
    to: crate::commands::Target,
) -> Result<(), String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    // Not read at all when it is too large (the server would refuse it anyway).
    if let Ok(meta) = tokio::fs::metadata(&path).await {
        if max_bytes > 0 && meta.len() > max_bytes {
            return Err(format!(
                "{name} is {} bytes; this server takes files of at most {max_bytes}.",
                meta.len()
            ));
        }
    }
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|e| format!("Cannot read {}: {e}", path.display()))?;
    let content_type = content_type_of(&name);
    let uploaded = client
        .upload(&http_base, &name, content_type, bytes)
        .await
        .map_err(|e| format!("{name} was not sent: {e}"))?;
    let frame = match to {
        crate::commands::Target::Room(room) => ClientFrame::Message {
            content: String::new(),
            room: Some(room),
            reply_to: None,
            attachments: vec![uploaded.id],
        },
        crate::commands::Target::Direct(target) => ClientFrame::PrivateMessage {
            target,
            content: String::new(),
            reply_to: None,
            attachments: vec![uploaded.id],
        },
    };
    client
        .send_acked(frame)
        .await
        .map(|_| ())
        .map_err(|e| format!("{name} was not sent: {e}"))
}

/// A file's content type, from its name's extension (the server serves only raster images
/// inline; the rest is a download whatever it says).
pub fn content_type_of(name: &str) -> &'static str {
    let extension = name
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match extension.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "pdf" => "application/pdf",
        "txt" | "log" | "md" => "text/plain",
        "zip" => "application/zip",
        "json" => "application/json",
        _ => "application/octet-stream",
    }
}
