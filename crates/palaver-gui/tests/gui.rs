//! The real desktop UI, driven through its accessibility tree with egui_kittest, against a real
//! Palaver server running in the same process on a real TCP socket.

use std::time::{Duration, Instant};

use egui::Key;
use egui_kittest::kittest::{NodeT, Queryable};
use egui_kittest::Harness;

use palaver_client::proto::{ClientFrame, ServerFrame};
use palaver_gui::host::HostStatus;
use palaver_gui::model::{ConversationId, LineKind, Status};
use palaver_gui::{PalaverApp, Screen, Settings};
use palaver_server::{Server, ServerConfig};

struct World {
    runtime: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        World {
            runtime,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn config(&self, bind: &str) -> ServerConfig {
        let mut config = ServerConfig {
            bind: bind.parse().unwrap(),
            database: self
                .dir
                .path()
                .join("chat.db")
                .to_string_lossy()
                .into_owned(),
            ..ServerConfig::default()
        };
        config.hub.rate_per_second = 0.0;
        config
    }

    fn start_server(&self, bind: &str) -> Server {
        self.runtime
            .block_on(Server::start(self.config(bind)))
            .expect("server starts")
    }

    /// A server that takes files (its HTTP listener on a free port too).
    fn start_server_with_files(&self) -> Server {
        let mut config = self.config("127.0.0.1:0");
        config.http_bind = Some("127.0.0.1:0".parse().unwrap());
        self.runtime
            .block_on(Server::start(config))
            .expect("server starts")
    }

    fn app(&self, host: &str, port: u16) -> Harness<'static, PalaverApp> {
        let settings = Settings {
            host: host.into(),
            port: port.to_string(),
            ..Settings::default()
        };
        let mut app = PalaverApp::with_runtime(self.runtime.handle().clone(), None, settings);
        app.reconnect_initial = Duration::from_millis(50);
        Harness::builder()
            .with_size(egui::vec2(1000.0, 650.0))
            .build_ui_state(|ui, app: &mut PalaverApp| app.show(ui), app)
    }
}

/// Runs frames until `done` holds, failing with `what` after 10 seconds.
fn run_until(
    harness: &mut Harness<'_, PalaverApp>,
    what: &str,
    mut done: impl FnMut(&PalaverApp) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        harness.step();
        if done(harness.state()) {
            harness.step();
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn rendered(app: &PalaverApp, kind: LineKind, text: &str) -> bool {
    app.chat_view
        .rendered
        .iter()
        .any(|(k, t)| *k == kind && t == text)
}

/// The text field with this accessible name.
fn field<'t>(harness: &'t Harness<'_, PalaverApp>, name: &'t str) -> egui_kittest::Node<'t> {
    harness
        .get_all_by_label(name)
        .find(|n| {
            matches!(
                n.accesskit_node().role(),
                egui::accesskit::Role::TextInput
                    | egui::accesskit::Role::MultilineTextInput
                    | egui::accesskit::Role::PasswordInput
            )
        })
        .unwrap_or_else(|| panic!("no text field named {name:?}"))
}

/// Types a name on the connect screen and clicks Connect.
fn connect_as(harness: &mut Harness<'_, PalaverApp>, name: &str) {
    field(harness, "Username").click();
    harness.step();
    field(harness, "Username").type_text(name);
    harness.step();
    harness.get_by_label("Connect").click();
    harness.step();
}

fn say(harness: &mut Harness<'_, PalaverApp>, text: &str) {
    focus_field(harness, "Message");
    field(harness, "Message").type_text(text);
    harness.step();
    assert!(
        harness.state().chat_view.input.ends_with(text),
        "the text went into the input: {:?}",
        harness.state().chat_view.input
    );
    harness.key_press(Key::Enter);
    harness.step();
}

/// Clicks a field, as a user does. The click lands where the field was in the frame before:
/// on a busy machine the layout may still be settling (the screen just changed), so if the
/// click missed, the field is focused the way a screen reader would.
fn focus_field(harness: &mut Harness<'_, PalaverApp>, name: &str) {
    field(harness, name).click();
    harness.step();
    if !field(harness, name).accesskit_node().is_focused() {
        harness.step();
        field(harness, name).focus();
        harness.step();
    }
}

#[test]
fn two_people_chat_publicly_and_privately_and_see_each_other_come_and_go() {
    let world = World::new();
    let server = world.start_server("127.0.0.1:0");
    let port = server.local_addr().port();
    let mut alice = world.app("127.0.0.1", port);
    let mut bob = world.app("127.0.0.1", port);

    connect_as(&mut alice, "alice");
    run_until(&mut alice, "alice joins", |a| a.screen == Screen::Chat);
    connect_as(&mut bob, "bob");
    run_until(&mut bob, "bob joins", |a| a.screen == Screen::Chat);
    run_until(&mut alice, "bob's join notice", |a| {
        rendered(a, LineKind::System, "bob joined the chat")
    });

    say(&mut alice, "hello bob 👋");
    run_until(&mut alice, "alice's own message", |a| {
        rendered(a, LineKind::Own, "alice: hello bob 👋")
    });
    run_until(&mut bob, "bob sees it", |a| {
        rendered(a, LineKind::Other, "alice: hello bob 👋")
    });
    assert_eq!(
        alice.state().chat_view.input,
        "",
        "the input is cleared after sending"
    );

    // Bob opens a direct conversation from the member list and writes privately.
    bob.get_by_label("alice").click();
    bob.step();
    assert!(matches!(
        bob.state().chat.as_ref().unwrap().active().unwrap().id,
        ConversationId::Direct(_)
    ));
    say(&mut bob, "psst, just you");
    run_until(&mut bob, "bob's sent private message", |a| {
        rendered(a, LineKind::PrivateSent, "bob: psst, just you")
    });
    // Alice gets an unread badge on a new direct conversation, opens it and reads.
    run_until(&mut alice, "unread badge", |a| {
        a.chat
            .as_ref()
            .unwrap()
            .conversations
            .iter()
            .any(|c| c.title == "bob" && c.unread == 1)
    });
    alice.get_by_label("@ bob  (1)").click();
    run_until(&mut alice, "the private message", |a| {
        rendered(a, LineKind::PrivateReceived, "bob: psst, just you")
    });

    // Bob leaves; Alice's general room says so.
    bob.get_by_label("Disconnect").click();
    bob.step();
    assert_eq!(bob.state().screen, Screen::Connect);
    alice.get_by_label("# general").click();
    run_until(&mut alice, "bob's leave notice", |a| {
        rendered(a, LineKind::System, "bob left the chat")
    });
    world.runtime.block_on(server.shutdown());
}

#[test]
fn connect_errors_show_next_to_their_cause() {
    let world = World::new();
    let server = world.start_server("127.0.0.1:0");
    let port = server.local_addr().port();

    let mut app = world.app("127.0.0.1", port);
    connect_as(&mut app, "no spaces allowed");
    app.step();
    let error = app
        .state()
        .connect_errors
        .username
        .clone()
        .expect("username error");
    assert!(error.contains("Invalid username"), "{error}");
    assert!(
        app.query_by_label_contains("Invalid username").is_some(),
        "shown on screen"
    );

    // A name someone already uses.
    let _taken = world
        .runtime
        .block_on(palaver_client::Connection::join(
            server.local_addr(),
            "taken",
        ))
        .unwrap();
    app.state_mut().settings.username.clear();
    connect_as(&mut app, "TAKEN");
    run_until(&mut app, "taken-name error", |a| {
        a.connect_errors.username.is_some()
    });
    assert!(app.query_by_label_contains("already taken").is_some());
    assert_eq!(app.state().screen, Screen::Connect);

    // Nobody listening: the host and port are named.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut refused = world.app("127.0.0.1", closed);
    connect_as(&mut refused, "carol");
    run_until(&mut refused, "refused error", |a| {
        a.connect_errors.address.is_some()
    });
    let shown = format!("Could not connect to 127.0.0.1:{closed}");
    assert!(
        refused.query_by_label_contains(&shown).is_some(),
        "{:?}",
        refused.state().connect_errors
    );
    world.runtime.block_on(server.shutdown());
}

#[test]
fn the_client_reconnects_after_a_server_restart_without_loss_or_duplicates() {
    let world = World::new();
    let server = world.start_server("127.0.0.1:0");
    let addr = server.local_addr();
    let mut alice = world.app("127.0.0.1", addr.port());
    connect_as(&mut alice, "alice");
    run_until(&mut alice, "join", |a| a.screen == Screen::Chat);
    say(&mut alice, "before the restart");
    run_until(&mut alice, "echo", |a| {
        rendered(a, LineKind::Own, "alice: before the restart")
    });

    world.runtime.block_on(server.shutdown());
    run_until(&mut alice, "reconnecting status", |a| {
        matches!(a.chat.as_ref().unwrap().status, Status::Reconnecting { .. })
    });
    assert!(alice.state().status_text().0.contains("reconnecting"));

    let server = world.start_server(&addr.to_string());
    // Someone speaks while alice may still be away.
    let (mut bob, _) = world
        .runtime
        .block_on(palaver_client::Connection::join(addr, "bob"))
        .unwrap();
    world
        .runtime
        .block_on(bob.send(&ClientFrame::Message {
            attachments: Vec::new(),
            reply_to: None,
            content: "while you were away".into(),
            room: None,
        }))
        .unwrap();
    run_until(&mut alice, "the missed message", |a| {
        rendered(a, LineKind::Other, "bob: while you were away")
    });
    run_until(&mut alice, "connected again", |a| {
        a.chat.as_ref().unwrap().status == Status::Connected
    });
    say(&mut alice, "after the restart");
    run_until(&mut alice, "new echo", |a| {
        rendered(a, LineKind::Own, "alice: after the restart")
    });
    let general = &alice.state().chat.as_ref().unwrap().conversations[0];
    let texts: Vec<&str> = general
        .lines
        .iter()
        .filter(|l| l.id.is_some())
        .map(|l| l.text.as_str())
        .collect();
    assert_eq!(
        texts,
        [
            "before the restart",
            "while you were away",
            "after the restart"
        ]
    );
    let _ = world
        .runtime
        .block_on(bob.recv_timeout(Duration::from_secs(1)));
    world.runtime.block_on(server.shutdown());
}

#[test]
fn the_host_dashboard_starts_lists_kicks_announces_and_stops() {
    let world = World::new();
    let mut host = world.app("127.0.0.1", 7878);
    host.get_by_label("🖥 Host a server").click();
    host.step();
    assert_eq!(host.state().screen, Screen::Host);
    let db = world
        .dir
        .path()
        .join("hosted.db")
        .to_string_lossy()
        .into_owned();
    {
        let app = host.state_mut();
        app.host.port = "0".into();
        app.host.database = db;
    }
    host.get_by_label("▶ Start").click();
    run_until(&mut host, "running", |a| a.host.is_running());
    let HostStatus::Running(addr) = host.state().host.status.clone() else {
        unreachable!()
    };
    assert!(host
        .query_all_by_label_contains(&format!("Running on {addr}"))
        .next()
        .is_some());

    let (mut carol, _) = world
        .runtime
        .block_on(palaver_client::Connection::join(addr, "carol"))
        .unwrap();
    run_until(&mut host, "carol listed", |a| {
        a.host.users.iter().any(|u| u.username == "carol")
    });
    assert!(host.query_by_label("carol").is_some());
    assert!(host
        .state()
        .host
        .log
        .iter()
        .any(|l| l.contains("carol joined")));

    field(&host, "Announcement").click();
    host.step();
    field(&host, "Announcement").type_text("Class starts in 5 minutes");
    host.step();
    host.get_by_label("Announce").click();
    host.step();
    let frame = world.runtime.block_on(async {
        loop {
            match carol.recv_timeout(Duration::from_secs(10)).await.unwrap() {
                ServerFrame::Server { message, .. } => break message,
                _ => continue,
            }
        }
    });
    assert_eq!(frame, "Class starts in 5 minutes");

    host.get_by_label("Kick").click();
    host.step();
    let kicked = world.runtime.block_on(async {
        loop {
            match carol.recv_timeout(Duration::from_secs(10)).await {
                Ok(ServerFrame::Error { code, .. }) => break code.as_str().to_string(),
                Ok(_) => continue,
                Err(e) => panic!("{e}"),
            }
        }
    });
    assert_eq!(kicked, "kicked");
    run_until(&mut host, "carol gone from the list", |a| {
        a.host.users.is_empty()
    });

    // Ban: the name is out at once and refused when it comes back.
    let (mut dave, _) = world
        .runtime
        .block_on(palaver_client::Connection::join(addr, "dave"))
        .unwrap();
    run_until(&mut host, "dave listed", |a| {
        a.host.users.iter().any(|u| u.username == "dave")
    });
    host.get_by_label("Ban 1h").click();
    host.step();
    let banned = world.runtime.block_on(async {
        loop {
            match dave.recv_timeout(Duration::from_secs(10)).await {
                Ok(ServerFrame::Error { code, .. }) => break code.as_str().to_string(),
                Ok(_) => continue,
                Err(e) => panic!("{e}"),
            }
        }
    });
    assert_eq!(banned, "banned");
    let again = world
        .runtime
        .block_on(palaver_client::Connection::join(addr, "dave"));
    assert!(again.is_err(), "a banned name cannot come back");
    run_until(&mut host, "dave gone from the list", |a| {
        a.host.users.is_empty()
    });

    // A second host on the same port says why it cannot start.
    let mut second = world.app("127.0.0.1", 7878);
    {
        let app = second.state_mut();
        app.screen = Screen::Host;
        app.host.port = addr.port().to_string();
        app.host.database = world
            .dir
            .path()
            .join("other.db")
            .to_string_lossy()
            .into_owned();
    }
    second.step();
    second.get_by_label("▶ Start").click();
    run_until(&mut second, "port taken", |a| {
        matches!(a.host.status, HostStatus::Failed(_))
    });
    assert!(second
        .query_all_by_label_contains("cannot listen")
        .next()
        .is_some());

    host.get_by_label("⏹ Stop").click();
    run_until(&mut host, "stopped", |a| {
        a.host.status == HostStatus::Stopped
    });
}

#[test]
fn a_conversation_of_100000_messages_draws_only_what_is_in_view() {
    let world = World::new();
    let mut harness = world.app("127.0.0.1", 1);
    {
        let app = harness.state_mut();
        let mut chat = palaver_gui::model::ChatModel::new("alice", "test");
        let history: Vec<_> = (1..=100_000u64)
            .map(|id| {
                palaver_client::proto::ChatMessage::Message(palaver_client::proto::PublicMessage {
                    state: Default::default(),
                    id,
                    seq: id,
                    room: "general".into(),
                    username: if id % 3 == 0 {
                        "alice".into()
                    } else {
                        format!("user{}", id % 7)
                    },
                    content: format!("message number {id}"),
                    timestamp: palaver_client::proto::timestamp::format_millis(
                        1_800_000_000_000 + id as i64 * 1000,
                    ),
                })
            })
            .collect();
        chat.apply(palaver_client::Event::Frame(ServerFrame::History {
            room: Some("general".into()),
            with: None,
            messages: history,
            has_more: false,
            reference: None,
        }));
        app.chat = Some(chat);
        app.screen = Screen::Chat;
    }
    for _ in 0..5 {
        harness.step();
    }
    let app = harness.state();
    assert_eq!(
        app.chat.as_ref().unwrap().conversations[0].lines.len(),
        100_000
    );
    assert!(
        app.chat_view.rows_drawn > 5 && app.chat_view.rows_drawn < 100,
        "drew {} rows",
        app.chat_view.rows_drawn
    );
    let last = app.chat_view.rendered.last().expect("rows drawn");
    assert!(
        last.1.ends_with("message number 100000"),
        "follows the newest: {last:?}"
    );
    assert!(app.chat_view.at_bottom);
}

#[test]
fn scrolling_to_the_top_loads_older_history_and_keys_complete_and_recall() {
    let world = World::new();
    let server = world.start_server("127.0.0.1:0");
    let addr = server.local_addr();
    // Bob stays online (so his name can be completed later).
    let _bob = world.runtime.block_on(async {
        let (mut bob, _) = palaver_client::Connection::join(addr, "bob").await.unwrap();
        for n in 0..300 {
            bob.send(&ClientFrame::Message {
                attachments: Vec::new(),
                reply_to: None,
                content: format!("old message {n}"),
                room: None,
            })
            .await
            .unwrap();
        }
        loop {
            if let ServerFrame::Message(m) =
                bob.recv_timeout(Duration::from_secs(10)).await.unwrap()
            {
                if m.content == "old message 299" {
                    break bob;
                }
            }
        }
    });
    let mut alice = world.app("127.0.0.1", addr.port());
    connect_as(&mut alice, "alice");
    run_until(&mut alice, "join", |a| a.screen == Screen::Chat);
    run_until(&mut alice, "recent history", |a| {
        rendered(a, LineKind::Other, "bob: old message 299")
    });
    let shown = |a: &PalaverApp| {
        a.chat.as_ref().unwrap().conversations[0]
            .lines
            .iter()
            .filter(|l| l.id.is_some())
            .count()
    };
    assert_eq!(shown(alice.state()), 50, "the welcome shows the last 50");

    // Scroll the conversation up with the mouse wheel until the server has sent everything.
    let deadline = Instant::now() + Duration::from_secs(20);
    while shown(alice.state()) < 300 {
        assert!(
            Instant::now() < deadline,
            "history did not load: {} shown",
            shown(alice.state())
        );
        alice.hover_at(egui::pos2(500.0, 300.0));
        alice.event(egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Point,
            delta: egui::vec2(0.0, 2000.0),
            modifiers: egui::Modifiers::NONE,
            phase: egui::TouchPhase::Move,
            source: egui::MouseWheelSource::Wheel,
        });
        alice.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    let general = &alice.state().chat.as_ref().unwrap().conversations[0];
    let ids: Vec<u64> = general.lines.iter().filter_map(|l| l.id).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "older pages slot in above, in order"
    );
    assert!(!general.has_more);

    // Tab completes a name from the member list; Up recalls the last line sent.
    field(&alice, "Message").click();
    alice.step();
    field(&alice, "Message").type_text("b");
    alice.step();
    alice.key_press(Key::Tab);
    alice.step();
    assert_eq!(alice.state().chat_view.input, "bob: ");
    field(&alice, "Message").type_text("thanks!");
    alice.step();
    alice.key_press(Key::Enter);
    alice.step();
    run_until(&mut alice, "sent", |a| {
        rendered(a, LineKind::Own, "alice: bob: thanks!")
    });
    alice.key_press(Key::ArrowUp);
    alice.step();
    assert_eq!(alice.state().chat_view.input, "bob: thanks!");
    world.runtime.block_on(server.shutdown());
}

/// Waits on the async side for a frame from the server that matches.
fn frame_from(
    world: &World,
    conn: &mut palaver_client::Connection,
    what: &str,
    pred: impl Fn(&ServerFrame) -> bool,
) -> ServerFrame {
    world.runtime.block_on(async {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match conn.recv_timeout(left).await {
                Ok(frame) if pred(&frame) => return frame,
                Ok(_) => continue,
                Err(e) => panic!("waiting for {what}: {e}"),
            }
        }
    })
}

/// Clicks the field named `name` and types `text` into it.
fn type_into(harness: &mut Harness<'_, PalaverApp>, name: &str, text: &str) {
    focus_field(harness, name);
    field(harness, name).type_text(text);
    harness.step();
    harness.step();
}

/// Hovers the row showing `text` (so that its actions show) and clicks the action `label`.
fn act_on(harness: &mut Harness<'_, PalaverApp>, text: &str, label: &str) {
    harness.get_by_label_contains(text).hover();
    harness.step();
    harness.step();
    harness.get_by_label(label).click();
    harness.step();
    harness.step();
}

#[test]
fn reactions_replies_edits_deletions_emoji_and_typing_on_the_desktop() {
    let world = World::new();
    let server = world.start_server("127.0.0.1:0");
    let addr = server.local_addr();
    let mut bob = world.runtime.block_on(async {
        let (bob, _) = palaver_client::Connection::join(addr, "bob").await.unwrap();
        bob
    });
    let mut alice = world.app("127.0.0.1", addr.port());
    connect_as(&mut alice, "alice");
    run_until(&mut alice, "join", |a| a.screen == Screen::Chat);
    world.runtime.block_on(async {
        bob.send(&ClientFrame::Message {
            attachments: Vec::new(),
            reply_to: None,
            content: "lunch at noon?".into(),
            room: None,
        })
        .await
        .unwrap();
    });
    run_until(&mut alice, "bob's question", |a| {
        rendered(a, LineKind::Other, "bob: lunch at noon?")
    });
    let question = alice.state().chat.as_ref().unwrap().conversations[0]
        .lines
        .iter()
        .find(|l| l.text == "lunch at noon?")
        .and_then(|l| l.id)
        .unwrap();

    // React through the picker: filter, click.
    act_on(&mut alice, "bob: lunch at noon?", "React");
    type_into(&mut alice, "Search emoji", "tada");
    alice.get_by_label("Emoji 🎉").click();
    alice.step();
    let got = frame_from(&world, &mut bob, "alice's reaction", |f| {
        matches!(f, ServerFrame::Reaction(_))
    });
    let ServerFrame::Reaction(r) = got else {
        unreachable!()
    };
    assert_eq!(
        (
            r.place.id,
            r.emoji.as_str(),
            r.place.username.as_str(),
            r.added
        ),
        (question, "🎉", "alice", true)
    );
    run_until(&mut alice, "the chip under the message", |a| {
        a.chat.as_ref().unwrap().conversations[0]
            .lines
            .iter()
            .any(|l| l.id == Some(question) && l.state.reactions.len() == 1)
    });
    alice.get_by_label("🎉 1");

    // Reply: the bar, then the message answers the question.
    act_on(&mut alice, "bob: lunch at noon?", "Reply");
    alice.get_by_label_contains("Replying to bob: lunch at noon?");
    say(&mut alice, "yes, see you :tada:");
    let got = frame_from(
        &world,
        &mut bob,
        "alice's reply",
        |f| matches!(f, ServerFrame::Message(m) if m.username == "alice"),
    );
    let ServerFrame::Message(reply) = got else {
        unreachable!()
    };
    assert_eq!(
        reply.content, "yes, see you 🎉",
        ":shortcodes: become emoji"
    );
    assert_eq!(reply.state.reply_to, Some(question));

    // The emoji button inserts into the message; Tab completes a :shortcode:.
    alice.get_by_label("Emoji").click();
    alice.step();
    alice.step();
    type_into(&mut alice, "Search emoji", "thumbsup");
    alice.key_press(Key::Enter);
    alice.step();
    field(&alice, "Message").click();
    alice.step();
    field(&alice, "Message").type_text(" and :rocke");
    alice.step();
    alice.key_press(Key::Tab);
    alice.step();
    assert_eq!(alice.state().chat_view.input, "👍 and 🚀");
    alice.key_press(Key::Enter);
    alice.step();
    frame_from(
        &world,
        &mut bob,
        "the emoji message",
        |f| matches!(f, ServerFrame::Message(m) if m.content == "👍 and 🚀"),
    );

    // Up in the empty input edits my newest message.
    run_until(&mut alice, "my message shown", |a| {
        rendered(a, LineKind::Own, "alice: 👍 and 🚀")
    });
    field(&alice, "Message").click();
    alice.step();
    alice.key_press(Key::ArrowUp);
    alice.step();
    alice.step();
    assert_eq!(alice.state().chat_view.input, "👍 and 🚀");
    field(&alice, "Message").type_text("!");
    alice.step();
    alice.key_press(Key::Enter);
    alice.step();
    let got = frame_from(&world, &mut bob, "the edit", |f| {
        matches!(f, ServerFrame::Edited(_))
    });
    let ServerFrame::Edited(e) = got else {
        unreachable!()
    };
    assert_eq!(e.content, "👍 and 🚀!");
    run_until(&mut alice, "(edited)", |a| {
        rendered(a, LineKind::Own, "alice: 👍 and 🚀! (edited)")
    });

    // Delete, after confirming.
    act_on(&mut alice, "alice: 👍 and 🚀!", "Delete");
    alice.get_by_label("Delete message?");
    alice.get_all_by_label("Delete").last().unwrap().click();
    alice.step();
    frame_from(
        &world,
        &mut bob,
        "the deletion",
        |f| matches!(f, ServerFrame::Deleted(d) if d.place.id == e.place.id),
    );
    run_until(&mut alice, "message deleted", |a| {
        rendered(a, LineKind::Own, "alice: message deleted")
    });

    // bob types: alice sees it, and it goes when his message comes.
    world.runtime.block_on(async {
        bob.send(&ClientFrame::Typing {
            room: Some("general".into()),
            target: None,
            state: palaver_client::proto::TypingState::Active,
        })
        .await
        .unwrap();
    });
    run_until(&mut alice, "bob is typing", |_| true);
    let deadline = Instant::now() + Duration::from_secs(10);
    while alice.query_by_label("bob is typing…").is_none() {
        assert!(Instant::now() < deadline, "no typing indicator");
        alice.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(server);
}

#[test]
fn a_search_result_opens_its_conversation_at_the_message() {
    let world = World::new();
    let server = world.start_server("127.0.0.1:0");
    let addr = server.local_addr();
    let _bob = world.runtime.block_on(async {
        let (mut bob, _) = palaver_client::Connection::join(addr, "bob").await.unwrap();
        let mut texts = vec!["the secret word is pineapple".to_string()];
        texts.extend((0..150).map(|n| format!("filler {n}")));
        for text in texts {
            bob.send(&ClientFrame::Message {
                attachments: Vec::new(),
                reply_to: None,
                content: text,
                room: None,
            })
            .await
            .unwrap();
        }
        loop {
            if let ServerFrame::Message(m) =
                bob.recv_timeout(Duration::from_secs(10)).await.unwrap()
            {
                if m.content == "filler 149" {
                    break bob;
                }
            }
        }
    });
    let mut alice = world.app("127.0.0.1", addr.port());
    connect_as(&mut alice, "alice");
    run_until(&mut alice, "recent history", |a| {
        rendered(a, LineKind::Other, "bob: filler 149")
    });
    field(&alice, "Search messages").click();
    alice.step();
    field(&alice, "Search messages").type_text("pineapple");
    alice.step();
    alice.key_press(Key::Enter);
    alice.step();
    run_until(&mut alice, "the results", |a| {
        a.chat
            .as_ref()
            .and_then(|c| c.search.as_ref())
            .is_some_and(|s| s.messages.len() == 1)
    });
    alice.get_by_label("1 found for \"pineapple\".");
    alice
        .get_by_label_contains("the secret word is pineapple")
        .click();
    alice.step();
    run_until(&mut alice, "the conversation at that message", |a| {
        rendered(a, LineKind::Other, "bob: the secret word is pineapple")
    });
    let chat = alice.state().chat.as_ref().unwrap();
    assert!(chat.conversations[0].detached, "reading older messages");
    assert!(
        !rendered(alice.state(), LineKind::Other, "bob: filler 149"),
        "the newest are not what is shown"
    );
    alice.get_by_label("Back to the newest").click();
    alice.step();
    run_until(&mut alice, "the newest again", |a| {
        rendered(a, LineKind::Other, "bob: filler 149")
    });
    assert!(!alice.state().chat.as_ref().unwrap().conversations[0].detached);
    drop(server);
}

/// A file dropped on the window, as the desktop reports it.
#[derive(Debug)]
struct Dropped(std::path::PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

#[test]
fn a_file_dropped_on_the_window_is_sent_to_the_conversation() {
    let world = World::new();
    let server = world.start_server_with_files();
    let addr = server.local_addr();
    let mut bob = world.runtime.block_on(async {
        let (bob, _) = palaver_client::Connection::join(addr, "bob").await.unwrap();
        bob
    });
    let mut alice = world.app("127.0.0.1", addr.port());
    connect_as(&mut alice, "alice");
    run_until(&mut alice, "join", |a| {
        a.chat.as_ref().is_some_and(|c| c.max_upload_bytes > 0)
    });
    let path = world.dir.path().join("minutes.txt");
    std::fs::write(&path, b"we agreed on everything\n").unwrap();
    alice
        .input_mut()
        .dropped_files
        .push(std::sync::Arc::new(Dropped(path)));
    alice.step();
    let got = frame_from(
        &world,
        &mut bob,
        "the file",
        |f| matches!(f, ServerFrame::Message(m) if !m.state.attachments.is_empty()),
    );
    let ServerFrame::Message(m) = got else {
        unreachable!()
    };
    assert_eq!(m.username, "alice");
    assert_eq!(m.state.attachments[0].name, "minutes.txt");
    assert_eq!(m.state.attachments[0].size, 24);
    run_until(&mut alice, "the file in the conversation", |a| {
        a.chat.as_ref().unwrap().conversations[0]
            .lines
            .iter()
            .any(|l| l.state.attachments.len() == 1)
    });
    alice.get_by_label_contains("File: minutes.txt (24 B)");
    drop(server);
}

#[test]
fn reading_on_another_device_clears_the_unread_count_here_and_reading_here_reaches_it() {
    use palaver_client::proto::Secret;
    let world = World::new();
    let server = world.start_server("127.0.0.1:0");
    let addr = server.local_addr();
    const PASSWORD: &str = "dana's long password";
    // dana's account, made from a first connection.
    let mut bob = world.runtime.block_on(async {
        let (mut dana, _) = palaver_client::Connection::join(addr, "dana")
            .await
            .unwrap();
        let register = ClientFrame::Register {
            password: Secret(PASSWORD.into()),
        };
        dana.send(&register).await.unwrap();
        loop {
            let frame = dana.recv_timeout(Duration::from_secs(10)).await.unwrap();
            if matches!(frame, ServerFrame::Registered { .. }) {
                break;
            }
        }
        drop(dana);
        let (bob, _) = palaver_client::Connection::join(addr, "bob").await.unwrap();
        bob
    });
    // The desktop logs in to dana's account.
    let mut desktop = world.app("127.0.0.1", addr.port());
    desktop.step();
    field(&desktop, "Password (if the name is registered)").click();
    desktop.step();
    field(&desktop, "Password (if the name is registered)").type_text(PASSWORD);
    desktop.step();
    connect_as(&mut desktop, "dana");
    run_until(&mut desktop, "dana logged in", |a| a.screen == Screen::Chat);
    // And so does her phone (here, the client library).
    let mut phone_conn = world.runtime.block_on(async {
        let mut conn = palaver_client::Connection::connect(addr).await.unwrap();
        conn.join_as(ClientFrame::Login {
            username: "dana".into(),
            password: Secret(PASSWORD.into()),
            since: None,
            rooms: None,
            resume_token: None,
        })
        .await
        .expect("the phone logs in too");
        conn
    });

    // bob writes to dana privately: an unread badge on the desktop (general is shown).
    let seq = world.runtime.block_on(async {
        bob.send(&ClientFrame::PrivateMessage {
            target: "dana".into(),
            content: "are you coming?".into(),
            reply_to: None,
            attachments: Vec::new(),
        })
        .await
        .unwrap();
        loop {
            let frame = phone_conn
                .recv_timeout(Duration::from_secs(10))
                .await
                .unwrap();
            if let ServerFrame::PrivateMessage(m) = frame {
                break m.seq;
            }
        }
    });
    let unread_with_bob = |a: &PalaverApp| {
        a.chat
            .as_ref()
            .unwrap()
            .conversations
            .iter()
            .find(|c| c.title == "bob")
            .map(|c| c.unread)
    };
    run_until(&mut desktop, "the unread badge", |a| {
        unread_with_bob(a) == Some(1)
    });
    desktop.get_by_label("@ bob  (1)");

    // dana reads it on her phone: the desktop's badge goes.
    world.runtime.block_on(async {
        phone_conn
            .send(&ClientFrame::MarkRead {
                room: None,
                with: Some("bob".into()),
                seq: Some(seq),
                timestamp: None,
            })
            .await
            .unwrap();
    });
    run_until(&mut desktop, "the badge cleared by the phone", |a| {
        unread_with_bob(a) == Some(0)
    });
    desktop.get_by_label("@ bob");

    // bob writes in general, which the desktop shows: the desktop reads it, and the phone is
    // told how far.
    let general_seq = world.runtime.block_on(async {
        bob.send(&ClientFrame::Message {
            room: None,
            content: "see you at noon".into(),
            reply_to: None,
            attachments: Vec::new(),
        })
        .await
        .unwrap();
        loop {
            let frame = phone_conn
                .recv_timeout(Duration::from_secs(10))
                .await
                .unwrap();
            if let ServerFrame::Message(m) = frame {
                break m.seq;
            }
        }
    });
    run_until(&mut desktop, "bob's message shown", |a| {
        rendered(a, LineKind::Other, "bob: see you at noon")
    });
    let marker = world.runtime.block_on(async {
        loop {
            let frame = phone_conn
                .recv_timeout(Duration::from_secs(10))
                .await
                .unwrap();
            if let ServerFrame::ReadMarker(m) = frame {
                if m.room.as_deref() == Some("general") && m.seq >= general_seq {
                    break m;
                }
            }
        }
    });
    assert_eq!(marker.seq, general_seq);
    drop(phone_conn);
    world.runtime.block_on(server.shutdown());
}

#[test]
fn a_picture_sent_is_previewed_in_the_conversation() {
    let world = World::new();
    let server = world.start_server_with_files();
    let mut alice = world.app("127.0.0.1", server.local_addr().port());
    connect_as(&mut alice, "alice");
    run_until(&mut alice, "join", |a| {
        a.chat.as_ref().is_some_and(|c| c.max_upload_bytes > 0)
    });
    // A wide picture, dropped on the window.
    let picture = image::RgbaImage::from_pixel(800, 400, image::Rgba([30, 120, 200, 255]));
    let path = world.dir.path().join("sky.png");
    image::DynamicImage::ImageRgba8(picture)
        .save(&path)
        .unwrap();
    alice
        .input_mut()
        .dropped_files
        .push(std::sync::Arc::new(Dropped(path)));
    alice.step();
    run_until(&mut alice, "the preview", |a| {
        let chat = a.chat.as_ref().unwrap();
        chat.conversations[0]
            .lines
            .iter()
            .flat_map(|l| &l.state.attachments)
            .any(|f| {
                matches!(
                    a.chat_view.previews.get(&f.id),
                    Some(palaver_gui::previews::Preview::Ready(_))
                )
            })
    });
    alice.get_by_label("Picture: sky.png");
    drop(server);
}
