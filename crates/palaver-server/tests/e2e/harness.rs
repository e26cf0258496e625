//! Starting servers and clients for the tests, and waiting for frames.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use palaver_client::proto::{ChatMessage, ClientFrame, ServerFrame};
use palaver_client::Connection;
use palaver_server::{Server, ServerConfig};

pub const WAIT: Duration = Duration::from_secs(10);

/// Which store a test crate runs the end-to-end tests on (`crate::BACKEND`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The `--database` for a test's store at `path`: that SQLite file, or (in the PostgreSQL run)
/// a database of the throwaway cluster, the same one for the same path (a restarted server
/// finds its history). Without PostgreSQL the PostgreSQL run falls back to SQLite, saying so
/// once; under `CI=true` it fails instead.
pub fn database_for(path: &std::path::Path) -> String {
    if crate::BACKEND == Backend::Sqlite {
        return path.to_string_lossy().into_owned();
    }
    static DATABASES: std::sync::Mutex<Option<std::collections::HashMap<PathBuf, String>>> =
        std::sync::Mutex::new(None);
    let Some(cluster) = palaver_server::testing::shared("the end-to-end tests") else {
        return path.to_string_lossy().into_owned();
    };
    let mut databases = DATABASES.lock().unwrap_or_else(|p| p.into_inner());
    databases
        .get_or_insert_with(Default::default)
        .entry(path.to_path_buf())
        .or_insert_with(|| cluster.new_database())
        .clone()
}

/// A server on a free port with its own database; limits relaxed unless a test sets them.
pub struct TestServer {
    pub server: Server,
    /// Keeps the database directory alive as long as the server.
    pub _dir: tempfile::TempDir,
}

pub fn test_config(db: PathBuf) -> ServerConfig {
    let mut config = ServerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        database: database_for(&db),
        ..ServerConfig::default()
    };
    config.hub.rate_per_second = 1000.0;
    config.hub.rate_burst = 1000;
    // Tests open many connections from 127.0.0.1; the flood test sets its own limit.
    config.max_new_connections_per_minute = 0;
    config
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path().join("palaver.db"));
        adjust(&mut config);
        let server = Server::start(config).await.expect("server starts");
        TestServer { server, _dir: dir }
    }

    /// A server with its IRC listener on a free port too.
    pub async fn start_irc() -> TestServer {
        Self::start_with(|c| c.irc_bind = Some("127.0.0.1:0".parse().unwrap())).await
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    pub fn irc_addr(&self) -> SocketAddr {
        self.server.irc_addr().expect("the IRC listener is on")
    }

    pub async fn join(&self, name: &str) -> Connection {
        let (conn, welcome) = Connection::join(self.addr(), name).await.expect("join");
        assert_eq!(welcome.username, name);
        conn
    }
}

/// Receives frames until one matches, failing after [`WAIT`].
pub async fn expect(
    conn: &mut Connection,
    what: &str,
    mut pred: impl FnMut(&ServerFrame) -> bool,
) -> ServerFrame {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match conn.recv_timeout(left).await {
            Ok(frame) if pred(&frame) => return frame,
            Ok(_) => continue,
            Err(e) => panic!("waiting for {what}: {e}"),
        }
    }
}

/// Receives every frame up to the pong answering a ping: what arrived before it.
pub async fn drain(conn: &mut Connection) -> Vec<ServerFrame> {
    conn.send(&ClientFrame::Ping).await.unwrap();
    let mut seen = Vec::new();
    loop {
        match conn.recv_timeout(WAIT).await.expect("frames until pong") {
            ServerFrame::Pong { .. } => return seen,
            other => seen.push(other),
        }
    }
}

pub fn error_code(frame: &ServerFrame) -> Option<&'static str> {
    match frame {
        ServerFrame::Error { code, .. } => Some(code.as_str()),
        _ => None,
    }
}

pub async fn say(conn: &mut Connection, text: &str) {
    conn.send(&ClientFrame::Message {
        attachments: Vec::new(),
        reply_to: None,
        content: text.into(),
        room: None,
    })
    .await
    .unwrap();
}

/// Waits for a public message with this content and returns it.
pub async fn expect_message(
    conn: &mut Connection,
    content: &str,
) -> palaver_client::proto::PublicMessage {
    match expect(
        conn,
        content,
        |f| matches!(f, ServerFrame::Message(m) if m.content == content),
    )
    .await
    {
        ServerFrame::Message(m) => m,
        _ => unreachable!(),
    }
}

/// The connection is closed by the server (after any frames still queued).
pub async fn expect_closed(conn: &mut Connection) -> Vec<ServerFrame> {
    let mut seen = Vec::new();
    loop {
        match conn.recv_timeout(WAIT).await {
            Ok(frame) => seen.push(frame),
            Err(palaver_client::ConnectionError::Closed)
            | Err(palaver_client::ConnectionError::Io(_)) => return seen,
            Err(e) => panic!("expected the server to close the connection, got {e}"),
        }
    }
}

/// Waits for a `server` announcement and returns its text.
pub async fn expect_announcement(conn: &mut Connection) -> String {
    match expect(conn, "announcement", |f| {
        matches!(f, ServerFrame::Server { .. })
    })
    .await
    {
        ServerFrame::Server { message, .. } => message,
        _ => unreachable!(),
    }
}

/// A `palaver-server` process of its own: to read its memory, or to kill it with SIGKILL.
pub struct ServerProcess {
    child: std::process::Child,
    pub addr: SocketAddr,
    /// Its `--database`.
    pub database: String,
    dir: Option<tempfile::TempDir>,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ServerProcess {
    /// A server on a new database of its own, with `flags`.
    pub async fn start(flags: &[&str]) -> ServerProcess {
        let dir = tempfile::tempdir().unwrap();
        let database = database_for(&dir.path().join("p.db"));
        Self::start_on(database, Some(dir), flags).await
    }

    /// A server on `database` (kept alive by `dir`, if it is a file there).
    pub async fn start_on(
        database: String,
        dir: Option<tempfile::TempDir>,
        flags: &[&str],
    ) -> ServerProcess {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_palaver-server"))
            .args([
                "--bind",
                &addr.to_string(),
                "--no-irc",
                "--no-http",
                "--no-stdin",
            ])
            .args(["--database", &database])
            .args(["--log-level", "warn"])
            .args(flags)
            .stdin(std::process::Stdio::null())
            .spawn()
            .expect("palaver-server runs");
        let deadline = tokio::time::Instant::now() + WAIT;
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the server did not start"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        ServerProcess {
            child,
            addr,
            database,
            dir,
        }
    }

    /// Kills the process at once (SIGKILL: no shutdown, no flush) and gives back what a new
    /// server needs to start on the same database.
    pub fn kill9(mut self) -> (String, Option<tempfile::TempDir>) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
        (std::mem::take(&mut self.database), self.dir.take())
    }

    /// Peak resident memory so far, in MiB.
    pub fn peak_mib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kb: u64 = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .expect("VmHWM in /proc");
        kb / 1024
    }
}

/// Enters a room (with its key, if given): `joined_room`, or the refusal.
pub async fn join_room(conn: &mut Connection, room: &str, key: Option<&str>) -> ServerFrame {
    conn.send(&ClientFrame::JoinRoom {
        room: room.into(),
        key: key.map(str::to_string),
    })
    .await
    .unwrap();
    expect(conn, "joined or refused", |f| {
        matches!(
            f,
            ServerFrame::JoinedRoom { .. } | ServerFrame::Error { .. }
        )
    })
    .await
}

/// Changes a room's modes, as IRC writes them.
pub async fn set_mode(conn: &mut Connection, room: &str, modes: &str, params: &[&str]) {
    conn.send(&ClientFrame::Mode {
        room: room.into(),
        modes: Some(modes.into()),
        params: params.iter().map(|p| p.to_string()).collect(),
    })
    .await
    .unwrap();
}

/// Says something in a room.
pub async fn say_in(conn: &mut Connection, room: &str, text: &str) {
    conn.send(&ClientFrame::Message {
        attachments: Vec::new(),
        reply_to: None,
        content: text.into(),
        room: Some(room.into()),
    })
    .await
    .unwrap();
}

/// Sends a private message and waits for its confirmation.
pub async fn private(from: &mut Connection, to: &str, text: &str) {
    from.send(&ClientFrame::PrivateMessage {
        attachments: Vec::new(),
        reply_to: None,
        target: to.into(),
        content: text.into(),
    })
    .await
    .unwrap();
    expect(
        from,
        "confirmation",
        |f| matches!(f, ServerFrame::PrivateConfirmation { content, .. } if content == text),
    )
    .await;
}

/// The newest page (up to 50) of a room's history, oldest first.
pub async fn room_history(conn: &mut Connection, room: &str) -> Vec<ChatMessage> {
    conn.send(&ClientFrame::History {
        room: Some(room.into()),
        with: None,
        before: None,
        before_id: None,
        after_id: None,
        around_id: None,
        oldest_first: false,
        limit: Some(50),
    })
    .await
    .unwrap();
    match expect(conn, "history", |f| {
        matches!(f, ServerFrame::History { .. })
    })
    .await
    {
        ServerFrame::History { messages, .. } => messages,
        _ => unreachable!(),
    }
}
