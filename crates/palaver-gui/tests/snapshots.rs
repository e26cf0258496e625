//! Snapshot tests: the main screens rendered to PNG (wgpu on the machine's adapter; Mesa's
//! software Vulkan driver on CI) and compared with `tests/snapshots/*.png`.
//!
//! Update after an intended change: `UPDATE_SNAPSHOTS=true cargo test -p palaver-gui --test snapshots`.
//! Without any Vulkan driver the tests skip with a message, except under `CI=true`, where
//! `.ci/run` installs Mesa and a skip would hide a broken setup.

use egui_kittest::Harness;

use palaver_client::proto::{
    timestamp, ChatMessage, PrivateMessage, PublicMessage, RoomInfo, ServerFrame, SystemEvent,
    Welcome,
};
use palaver_client::Event;
use palaver_gui::model::ChatModel;
use palaver_gui::{PalaverApp, Screen, Settings};

fn renderer_available() -> bool {
    let dirs = [
        "/usr/share/vulkan/icd.d",
        "/etc/vulkan/icd.d",
        "/usr/local/share/vulkan/icd.d",
    ];
    let found = dirs.iter().any(|d| {
        std::fs::read_dir(d)
            .map(|mut e| e.next().is_some())
            .unwrap_or(false)
    });
    if !found {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "no Vulkan driver for snapshot rendering: install mesa-vulkan-drivers (CI=true)"
            );
        }
        eprintln!("SKIPPED: no Vulkan driver found for snapshot rendering (apt-get install mesa-vulkan-drivers libvulkan1)");
    }
    found
}

fn harness(app: PalaverApp) -> Harness<'static, PalaverApp> {
    Harness::builder()
        .with_size(egui::vec2(960.0, 600.0))
        .build_ui_state(|ui, app: &mut PalaverApp| app.show(ui), app)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

const T0: i64 = 1_795_600_000_000; // 2026-11-25 09:46:40 UTC

fn public(id: u64, user: &str, text: &str, minutes: i64) -> ChatMessage {
    ChatMessage::Message(PublicMessage {
        state: Default::default(),
        id,
        seq: id,
        room: "general".into(),
        username: user.into(),
        content: text.into(),
        timestamp: timestamp::format_millis(T0 + minutes * 60_000),
    })
}

fn demo_chat() -> ChatModel {
    let mut chat = ChatModel::new("alice", "chat.example.org:7878");
    chat.apply(Event::Connected(Box::new(Welcome {
        http_base: None,
        username: "alice".into(),
        server: "palaver".into(),
        version: "0.1.0".into(),
        protocol: 1,
        limits: palaver_client::proto::Limits {
            max_upload_bytes: 0,
            max_frame_bytes: 16384,
            max_message_bytes: 4096,
            rate_per_second: 5.0,
            rate_burst: 10,
            history_page_max: 200,
        },
        rooms: vec![RoomInfo {
            name: "general".into(),
            topic: "Palaver demo: say hi!".into(),
            members: 3,
            topic_by: None,
            topic_at: None,
            created: None,
            last_seq: 5,
            modes: None,
        }],
        users: vec!["alice".into(), "bob".into(), "carol".into()],
        users_online: 3,
        history: vec![
            public(1, "bob", "Morning everyone! Did the build pass?", 0),
            public(2, "carol", "It did 🎉 all green", 1),
            public(3, "alice", "Great, shipping it", 2),
            public(4, "bob", "/me does a little dance", 3),
            public(5, "carol", "alice, can you review the hub changes?", 4),
        ],
        timestamp: timestamp::format_millis(T0),
        resume_token: None,
    })));
    let ts = |m: i64| timestamp::format_millis(T0 + m * 60_000);
    chat.apply(Event::Frame(ServerFrame::System {
        message: "dave joined the chat".into(),
        timestamp: ts(5),
        room: Some("general".into()),
        event: Some(SystemEvent::Joined),
        username: Some("dave".into()),
        new_username: None,
        by: None,
        reason: None,
    }));
    chat.apply(Event::Frame(ServerFrame::Server {
        message: "Maintenance at noon".into(),
        timestamp: ts(6),
    }));
    chat.apply(Event::Frame(ServerFrame::PrivateMessage(PrivateMessage {
        state: Default::default(),
        id: 6,
        seq: 1,
        sender: "bob".into(),
        target: "alice".into(),
        content: "psst: lunch at 12?".into(),
        timestamp: ts(7),
    })));
    chat
}

fn settings() -> Settings {
    Settings {
        username: "alice".into(),
        ..Settings::default()
    }
}

#[test]
fn snapshot_connect_screen_with_an_error() {
    if !renderer_available() {
        return;
    }
    let rt = runtime();
    let mut app = PalaverApp::with_runtime(
        rt.handle().clone(),
        None,
        Settings {
            username: "bad name".into(),
            ..Settings::default()
        },
    );
    app.connect();
    let mut harness = harness(app);
    harness.run_steps(3);
    harness.snapshot("connect_screen");
}

#[test]
fn snapshot_chat_screen_dark_and_light() {
    if !renderer_available() {
        return;
    }
    // Timestamps are shown in local time: pin the zone.
    std::env::set_var("TZ", "UTC");
    let rt = runtime();
    let mut app = PalaverApp::with_runtime(rt.handle().clone(), None, settings());
    app.chat = Some(demo_chat());
    app.screen = Screen::Chat;
    let mut harness = harness(app);
    harness.run_steps(4);
    harness.snapshot("chat_screen_dark");
    harness.state_mut().settings.dark = false;
    harness.run_steps(3);
    harness.snapshot("chat_screen_light");
}

#[test]
fn snapshot_host_screen() {
    if !renderer_available() {
        return;
    }
    let rt = runtime();
    let mut app = PalaverApp::with_runtime(rt.handle().clone(), None, settings());
    app.screen = Screen::Host;
    let mut harness = harness(app);
    harness.run_steps(3);
    harness.snapshot("host_screen");
}
