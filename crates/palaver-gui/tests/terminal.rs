//! The terminal client: its full-screen UI drawn on ratatui's test backend and driven with key
//! events against a real in-process server, and the real `palaver chat --plain` binary in a pipe.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;

use palaver_client::proto::{ClientFrame, ServerFrame};
use palaver_client::{Client, ClientConfig, Connection, Event};
use palaver_gui::model::ChatModel;
use palaver_gui::terminal::{render, tui::TuiApp};
use palaver_server::{Server, ServerConfig};

struct World {
    runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
    server: Option<Server>,
}

impl World {
    fn new(adjust: impl FnOnce(&mut ServerConfig)) -> World {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut config = ServerConfig {
            bind: "127.0.0.1:0".parse().unwrap(),
            database: dir.path().join("t.db").to_string_lossy().into_owned(),
            ..ServerConfig::default()
        };
        config.hub.rate_per_second = 0.0;
        adjust(&mut config);
        let server = runtime.block_on(Server::start(config)).unwrap();
        World {
            runtime,
            _dir: dir,
            server: Some(server),
        }
    }

    fn addr(&self) -> std::net::SocketAddr {
        self.server.as_ref().unwrap().local_addr()
    }

    fn join(&self, name: &str) -> Connection {
        self.runtime
            .block_on(Connection::join(self.addr(), name))
            .unwrap()
            .0
    }

    /// A terminal UI joined as `name`, with its event stream.
    fn tui(&self, name: &str) -> (TuiApp, tokio::sync::mpsc::Receiver<Event>) {
        let config = ClientConfig::new(self.addr().to_string(), name);
        let (client, events) = self.runtime.block_on(Client::connect(config)).unwrap();
        let app = TuiApp::new(
            ChatModel::new(name, &self.addr().to_string()),
            client,
            self.runtime.handle().clone(),
        );
        (app, events)
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.shutdown());
        }
    }
}

/// Applies session events until `done` holds (10 s at most).
fn pump(
    app: &mut TuiApp,
    events: &mut tokio::sync::mpsc::Receiver<Event>,
    what: &str,
    done: impl Fn(&TuiApp) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done(app) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        match events.try_recv() {
            Ok(event) => app.on_event(event),
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

fn screen(app: &mut TuiApp, width: u16, height: u16) -> (String, ratatui::buffer::Buffer) {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| render::draw(f, app)).unwrap();
    let buffer = terminal.backend().buffer().clone();
    let mut text = String::new();
    for y in 0..buffer.area.height {
        for x in 0..buffer.area.width {
            text.push_str(buffer[(x, y)].symbol());
        }
        text.push('\n');
    }
    (text, buffer)
}

/// The style of the first cell of `needle` on screen.
fn style_of(text: &str, buffer: &ratatui::buffer::Buffer, needle: &str) -> ratatui::style::Style {
    let width = buffer.area.width as usize;
    for (y, row) in text.lines().enumerate() {
        if let Some(byte) = row.find(needle) {
            let x = row[..byte].chars().count();
            assert!(x < width);
            return buffer[(x as u16, y as u16)].style();
        }
    }
    panic!("{needle:?} is not on screen:\n{text}");
}

fn typed(app: &mut TuiApp, text: &str) {
    for c in text.chars() {
        app.on_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    }
}

fn key(app: &mut TuiApp, code: KeyCode) {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE));
}

fn has_line(app: &TuiApp, text: &str) -> bool {
    app.model
        .conversations
        .iter()
        .any(|c| c.lines.iter().any(|l| l.text == text))
}

fn expect_frame(
    world: &World,
    conn: &mut Connection,
    pred: impl Fn(&ServerFrame) -> bool,
) -> ServerFrame {
    world.runtime.block_on(async {
        loop {
            let frame = conn
                .recv_timeout(Duration::from_secs(10))
                .await
                .expect("frame");
            if pred(&frame) {
                return frame;
            }
        }
    })
}

#[test]
fn the_terminal_ui_shows_each_kind_in_its_colour_and_sends_what_is_typed() {
    let world = World::new(|_| {});
    let mut bob = world.join("bob");
    let (mut app, mut events) = world.tui("alice");
    pump(&mut app, &mut events, "welcome", |a| {
        !a.model.conversations.is_empty()
    });

    world
        .runtime
        .block_on(bob.send(&ClientFrame::Message {
            attachments: Vec::new(),
            reply_to: None,
            content: "hi alice".into(),
            room: None,
        }))
        .unwrap();
    pump(&mut app, &mut events, "bob's message", |a| {
        has_line(a, "hi alice")
    });

    typed(&mut app, "hello bob");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.input, "");
    let got = expect_frame(
        &world,
        &mut bob,
        |f| matches!(f, ServerFrame::Message(m) if m.username == "alice"),
    );
    let ServerFrame::Message(m) = got else {
        unreachable!()
    };
    assert_eq!(m.content, "hello bob");
    pump(&mut app, &mut events, "own echo", |a| {
        has_line(a, "hello bob")
    });

    world
        .runtime
        .block_on(bob.send(&ClientFrame::PrivateMessage {
            attachments: Vec::new(),
            reply_to: None,
            target: "alice".into(),
            content: "psst".into(),
        }))
        .unwrap();
    pump(&mut app, &mut events, "private message", |a| {
        has_line(a, "psst")
    });
    world
        .runtime
        .block_on(async { palaver_server_announce(&world).await });
    pump(&mut app, &mut events, "announcement", |a| {
        has_line(a, "Maintenance at noon")
    });

    let (text, buffer) = screen(&mut app, 100, 24);
    assert!(text.contains("<bob> hi alice"), "{text}");
    assert!(text.contains("<alice> hello bob"), "{text}");
    assert!(text.contains("! Maintenance at noon"), "{text}");
    assert!(text.contains("connected to"), "status line: {text}");
    assert!(
        text.contains("@bob (1)"),
        "unread private conversation listed: {text}"
    );
    let dark = |k, a| render::kind_style(k, a);
    use palaver_gui::model::LineKind;
    assert_eq!(
        style_of(&text, &buffer, "<alice>").fg,
        dark(LineKind::Own, Some("alice")).fg,
        "own messages in blue"
    );
    assert_eq!(
        style_of(&text, &buffer, "<bob>").fg,
        dark(LineKind::Other, Some("bob")).fg,
        "bob in his colour"
    );
    assert_eq!(
        style_of(&text, &buffer, "! Maintenance").fg,
        dark(LineKind::Server, None).fg,
        "server in red"
    );
    assert_ne!(
        dark(LineKind::Own, None).fg,
        dark(LineKind::Server, None).fg
    );

    // Switch to the private conversation: the private line is drawn in its colour.
    app.on_key(KeyEvent::new(KeyCode::Char('n'), KeyModifiers::CONTROL));
    let (text, buffer) = screen(&mut app, 100, 24);
    assert!(
        text.contains("@bob>"),
        "prompt shows the conversation: {text}"
    );
    assert_eq!(
        style_of(&text, &buffer, "<bob> psst").fg,
        dark(LineKind::PrivateReceived, Some("bob")).fg
    );

    // Typing in a direct conversation writes privately.
    typed(&mut app, "see you");
    key(&mut app, KeyCode::Enter);
    let got = expect_frame(&world, &mut bob, |f| {
        matches!(f, ServerFrame::PrivateMessage(_))
    });
    let ServerFrame::PrivateMessage(pm) = got else {
        unreachable!()
    };
    assert_eq!(
        (pm.sender.as_str(), pm.content.as_str()),
        ("alice", "see you")
    );
}

async fn palaver_server_announce(world: &World) {
    world
        .server
        .as_ref()
        .unwrap()
        .handle()
        .announce("Maintenance at noon")
        .await;
}

#[test]
fn keys_complete_recall_run_commands_and_the_screen_survives_resizing() {
    let world = World::new(|_| {});
    let mut bob = world.join("bob");
    let (mut app, mut events) = world.tui("alice");
    pump(&mut app, &mut events, "welcome", |a| {
        !a.model.conversations.is_empty()
    });

    typed(&mut app, "b");
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.input, "bob: ");
    typed(&mut app, "ready?");
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Up);
    assert_eq!(app.input, "bob: ready?");
    app.on_key(KeyEvent::new(KeyCode::Char('w'), KeyModifiers::CONTROL));
    assert_eq!(app.input, "bob: ");
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.input, "");
    typed(&mut app, "oops");
    app.on_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    assert_eq!(app.input, "");

    typed(&mut app, "/join #rust");
    key(&mut app, KeyCode::Enter);
    pump(&mut app, &mut events, "joined #rust", |a| {
        a.model.conversations.iter().any(|c| c.title == "rust")
    });
    typed(&mut app, "/msg bob psst");
    key(&mut app, KeyCode::Enter);
    let got = expect_frame(&world, &mut bob, |f| {
        matches!(f, ServerFrame::PrivateMessage(_))
    });
    assert!(matches!(got, ServerFrame::PrivateMessage(m) if m.content == "psst"));
    typed(&mut app, "/nonsense");
    key(&mut app, KeyCode::Enter);
    assert!(app.model.conversations.iter().any(|c| c
        .lines
        .iter()
        .any(|l| l.text.contains("Unknown command /nonsense"))));
    typed(&mut app, "/help");
    key(&mut app, KeyCode::Enter);

    for (w, h) in [(120, 40), (60, 15), (30, 8), (200, 50)] {
        let (text, _) = screen(&mut app, w, h);
        assert!(text.contains("#rust") || w < 40, "{w}x{h}: {text}");
    }
    typed(&mut app, "/quit");
    key(&mut app, KeyCode::Enter);
    assert!(app.quit);
}

#[test]
fn page_up_loads_older_history() {
    let world = World::new(|_| {});
    let mut bob = world.join("bob");
    world.runtime.block_on(async {
        for n in 0..200 {
            bob.send(&ClientFrame::Message {
                attachments: Vec::new(),
                reply_to: None,
                content: format!("old {n}"),
                room: None,
            })
            .await
            .unwrap();
        }
    });
    expect_frame(
        &world,
        &mut bob,
        |f| matches!(f, ServerFrame::Message(m) if m.content == "old 199"),
    );
    let (mut app, mut events) = world.tui("alice");
    pump(&mut app, &mut events, "recent history", |a| {
        has_line(a, "old 199")
    });
    assert!(!has_line(&app, "old 0"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !has_line(&app, "old 0") {
        assert!(Instant::now() < deadline, "history did not load");
        key(&mut app, KeyCode::PageUp);
        while let Ok(event) = events.try_recv() {
            app.on_event(event);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let (text, _) = screen(&mut app, 100, 30);
    assert!(text.contains("scrolled up"), "{text}");
}

/// `palaver chat --user bot` against the world's server, in a pipe (its output as asked).
fn bot(world: &World, stdout: Stdio) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_palaver"))
        .args([
            "chat",
            "--user",
            "bot",
            "--host",
            "127.0.0.1",
            "--port",
            &world.addr().port().to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The real binary in a pipe: lines in are sent, messages out are printed, end of input exits 0
/// after everything was acknowledged, within the server's default rate limit.
#[test]
fn plain_mode_in_a_pipe_sends_every_line_and_prints_every_message() {
    let world = World::new(|c| {
        c.hub.rate_per_second = 5.0;
        c.hub.rate_burst = 10;
    });
    let mut alice = world.join("alice");
    let mut child = bot(&world, Stdio::piped());
    let mut stdin = child.stdin.take().unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });

    writeln!(stdin, "hello from the bot").unwrap();
    expect_frame(
        &world,
        &mut alice,
        |f| matches!(f, ServerFrame::Message(m) if m.content == "hello from the bot"),
    );
    world
        .runtime
        .block_on(alice.send(&ClientFrame::Message {
            attachments: Vec::new(),
            reply_to: None,
            content: "hi bot".into(),
            room: None,
        }))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let printed = loop {
        let line = lines_rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the bot prints alice's message");
        if line.contains("<alice>") {
            break line;
        }
    };
    assert!(
        printed.starts_with('[') && printed.ends_with("] #general <alice> hi bot"),
        "{printed}"
    );

    // A private message and a burst longer than the rate limit's burst, then end of input.
    writeln!(stdin, "/msg alice psst").unwrap();
    for n in 0..20 {
        writeln!(stdin, "line {n}").unwrap();
    }
    drop(stdin);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the bot exits at end of input"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut errors = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut errors).unwrap();
    assert!(status.success(), "exit {status:?}; stderr:\n{errors}");
    assert!(
        !errors.contains("rate_limited"),
        "paced below the limit:\n{errors}"
    );

    // Everything arrived, in order, the private message privately.
    let mut public = Vec::new();
    let mut private = None;
    world.runtime.block_on(async {
        while public.len() < 20 {
            match alice
                .recv_timeout(Duration::from_secs(10))
                .await
                .expect("all lines arrive")
            {
                ServerFrame::Message(m) if m.username == "bot" => public.push(m.content),
                ServerFrame::PrivateMessage(m) => private = Some(m.content),
                _ => {}
            }
        }
    });
    assert_eq!(private.as_deref(), Some("psst"));
    assert_eq!(
        public,
        (0..20).map(|n| format!("line {n}")).collect::<Vec<_>>()
    );
}

#[test]
fn plain_mode_reports_a_refused_connection_and_a_taken_name_with_a_failing_exit_code() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = Command::new(env!("CARGO_BIN_EXE_palaver"))
        .args([
            "chat",
            "--plain",
            "--user",
            "bot",
            "--port",
            &closed.to_string(),
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot connect to 127.0.0.1:{closed}")),
        "{err}"
    );

    let world = World::new(|_| {});
    let _taken = world.join("bot");
    let out = Command::new(env!("CARGO_BIN_EXE_palaver"))
        .args([
            "chat",
            "--plain",
            "--user",
            "BOT",
            "--port",
            &world.addr().port().to_string(),
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already taken"), "{err}");
}

#[test]
fn the_status_line_follows_a_server_restart_and_nothing_is_lost() {
    let mut world = World::new(|_| {});
    let addr = world.addr();
    let (mut app, mut events) = world.tui("alice");
    pump(&mut app, &mut events, "welcome", |a| {
        !a.model.conversations.is_empty()
    });
    let server = world.server.take().unwrap();
    world.runtime.block_on(server.shutdown());
    pump(&mut app, &mut events, "reconnecting", |a| {
        matches!(
            a.model.status,
            palaver_gui::model::Status::Reconnecting { .. }
        )
    });
    let (text, _) = screen(&mut app, 100, 20);
    assert!(text.contains("connection lost: reconnecting"), "{text}");

    let mut config = ServerConfig {
        bind: addr,
        database: world
            ._dir
            .path()
            .join("t.db")
            .to_string_lossy()
            .into_owned(),
        ..ServerConfig::default()
    };
    config.hub.rate_per_second = 0.0;
    world.server = Some(world.runtime.block_on(Server::start(config)).unwrap());
    let mut bob = world.join("bob");
    world
        .runtime
        .block_on(bob.send(&ClientFrame::Message {
            attachments: Vec::new(),
            reply_to: None,
            content: "while you were away".into(),
            room: None,
        }))
        .unwrap();
    pump(&mut app, &mut events, "missed message", |a| {
        has_line(a, "while you were away")
    });
    pump(&mut app, &mut events, "connected", |a| {
        a.model.status == palaver_gui::model::Status::Connected
    });
    let (text, _) = screen(&mut app, 100, 20);
    assert!(text.contains("[connected to"), "{text}");
    assert_eq!(text.matches("while you were away").count(), 1, "{text}");
}

/// `/upload PATH` from a script: the file goes to the conversation, acknowledged before exit.
#[test]
fn plain_mode_uploads_a_file_to_the_conversation() {
    let world = World::new(|c| c.http_bind = Some("127.0.0.1:0".parse().unwrap()));
    let mut alice = world.join("alice");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("minutes.txt");
    std::fs::write(&path, b"we agreed on everything\n").unwrap();
    let mut child = bot(&world, Stdio::null());
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "/upload {}", path.display()).unwrap();
    drop(stdin);
    let got = expect_frame(
        &world,
        &mut alice,
        |f| matches!(f, ServerFrame::Message(m) if !m.state.attachments.is_empty()),
    );
    let ServerFrame::Message(m) = got else {
        unreachable!()
    };
    assert_eq!(m.username, "bot");
    assert_eq!(
        (
            m.state.attachments[0].name.as_str(),
            m.state.attachments[0].size
        ),
        ("minutes.txt", 24)
    );
    let status = child.wait().unwrap();
    let mut errors = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut errors).unwrap();
    assert!(status.success(), "exit {status:?}; stderr:\n{errors}");
}
