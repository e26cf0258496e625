//! The web client in a real browser: Debian's Chromium driven through ChromeDriver (WebDriver,
//! with fantoccini), headless, offline, with a fresh profile per page. Users chat with each
//! other and with TCP clients, reconnect across server restarts, type while the server is down,
//! use a phone-sized screen; axe-core checks accessibility; an IRC client runs over WebSocket in
//! the page. Without Chromium and ChromeDriver the tests skip with a message; under `CI=true`
//! they fail.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use palaver_client::proto::{ClientFrame, ServerFrame};
use palaver_client::Connection;
use palaver_server::testing::chromium::{self, ChromeDriver};
use palaver_server::{Server, ServerConfig};

const WAIT: Duration = Duration::from_secs(15);
const ENTER: &str = "\u{E007}";

// ----- the browser -----

struct Driver {
    driver: ChromeDriver,
    chromium: PathBuf,
}

static DRIVER: OnceLock<Option<Driver>> = OnceLock::new();

extern "C" fn stop_driver() {
    if let Some(Some(d)) = DRIVER.get() {
        d.driver.stop();
    }
}

/// ChromeDriver, started once for this test process; `None` (with a message) without one.
fn driver() -> Option<&'static Driver> {
    DRIVER
        .get_or_init(|| {
            let Some((chromium, chromedriver)) = chromium::find() else {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "the browser tests need chromium and chromium-driver (CI=true)"
                );
                eprintln!("SKIPPED: the browser tests need Chromium and ChromeDriver (Debian: chromium chromium-driver)");
                return None;
            };
            let driver = ChromeDriver::start(&chromedriver).expect("chromedriver starts");
            unsafe { libc::atexit(stop_driver) };
            Some(Driver { driver, chromium })
        })
        .as_ref()
}

/// A page of the web client, in a browser of its own.
struct Page {
    client: Client,
    _profile: tempfile::TempDir,
}

impl Page {
    async fn open(driver: &Driver, url: &str, phone: bool) -> Page {
        let profile = tempfile::tempdir().unwrap();
        let phone = phone.then_some((390, 844));
        let caps = chromium::capabilities(&driver.chromium, profile.path(), (1200, 800), phone);
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&driver.driver.url())
            .await
            .expect("a browser session");
        client.goto(url).await.unwrap();
        Page {
            client,
            _profile: profile,
        }
    }

    async fn js(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// Waits until `condition` (a JavaScript expression) is true.
    async fn wait(&self, what: &str, condition: &str) {
        let script = format!("return Boolean({condition});");
        let deadline = Instant::now() + WAIT;
        loop {
            if self.js(&script).await == json!(true) {
                return;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn type_into(&self, css: &str, text: &str) {
        let field = self.client.find(Locator::Css(css)).await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    async fn join(&self, name: &str) {
        self.wait("the connect screen", "document.getElementById('username')")
            .await;
        self.type_into("#username", name).await;
        self.click("#join-button").await;
        self.wait("the chat", "!document.getElementById('chat').hidden")
            .await;
        self.wait(
            "connected",
            "document.getElementById('status').dataset.state === 'connected'",
        )
        .await;
    }

    /// Fills in the connect form and presses Join (the outcome is the caller's to check).
    async fn join_attempt(&self, name: &str, password: &str) {
        self.wait("the connect screen", "document.getElementById('username')")
            .await;
        self.type_into("#username", name).await;
        if !password.is_empty() {
            self.type_into("#password", password).await;
        }
        self.click("#join-button").await;
    }

    async fn say(&self, text: &str) {
        self.type_into("#message", &format!("{text}{ENTER}")).await;
    }

    /// The texts of the conversation's lines, as shown.
    async fn lines(&self) -> Vec<String> {
        let v = self
            .js("return [...document.querySelectorAll('#log .line .body')].map(e => e.textContent);")
            .await;
        serde_json::from_value(v).unwrap()
    }

    async fn wait_for_line(&self, text: &str) {
        let condition = format!(
            "[...document.querySelectorAll('#log .line .body')].some(e => e.textContent === {})",
            json!(text)
        );
        self.wait(&format!("the line {text:?}"), &condition).await;
    }

    async fn close(self) {
        let _ = self.client.close().await;
    }
}

// ----- the server -----

fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn config(db: &Path, http: SocketAddr) -> ServerConfig {
    let mut config = ServerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        http_bind: Some(http),
        database: db.to_string_lossy().into_owned(),
        ..ServerConfig::default()
    };
    config.hub.rate_per_second = 1000.0;
    config.hub.rate_burst = 1000;
    config.max_new_connections_per_minute = 0;
    config
}

struct Site {
    server: Server,
    http: SocketAddr,
    dir: tempfile::TempDir,
}

impl Site {
    async fn start() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let http = free_port();
        let server = Server::start(config(&dir.path().join("p.db"), http))
            .await
            .unwrap();
        Site { server, http, dir }
    }

    fn url(&self) -> String {
        format!("http://{}/", self.http)
    }

    /// Stops the server; `start_again` brings it back on the same ports and database.
    async fn stop(self) -> (SocketAddr, tempfile::TempDir) {
        self.server.shutdown().await;
        (self.http, self.dir)
    }

    async fn start_again(http: SocketAddr, dir: tempfile::TempDir) -> Site {
        let deadline = Instant::now() + WAIT;
        loop {
            match Server::start(config(&dir.path().join("p.db"), http)).await {
                Ok(server) => return Site { server, http, dir },
                Err(e) => {
                    assert!(Instant::now() < deadline, "restart: {e:#}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    async fn tcp(&self, name: &str) -> Connection {
        Connection::join(self.server.local_addr(), name)
            .await
            .unwrap()
            .0
    }
}

async fn expect(conn: &mut Connection, what: &str, pred: impl Fn(&ServerFrame) -> bool) {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match conn.recv_timeout(left).await {
            Ok(frame) if pred(&frame) => return,
            Ok(_) => continue,
            Err(e) => panic!("waiting for {what}: {e}"),
        }
    }
}

async fn message(conn: &mut Connection, content: &str) {
    conn.send(&ClientFrame::Message {
        attachments: Vec::new(),
        reply_to: None,
        content: content.into(),
        room: None,
    })
    .await
    .unwrap();
}

// ----- the scenarios -----

#[tokio::test]
async fn two_browser_users_and_a_tcp_user_chat_publicly_and_privately() {
    let Some(driver) = driver() else { return };
    let site = Site::start().await;
    let alice = Page::open(driver, &site.url(), false).await;
    alice.join("alice").await;
    let bob = Page::open(driver, &site.url(), false).await;
    bob.join("bob").await;
    let mut carol = site.tcp("carol").await;

    alice.say("hello everyone").await;
    bob.wait_for_line("alice: hello everyone").await;
    expect(&mut carol, "alice's message", |f| {
        matches!(f, ServerFrame::Message(m) if m.username == "alice" && m.content == "hello everyone")
    })
    .await;
    message(&mut carol, "hi browsers").await;
    alice.wait_for_line("carol: hi browsers").await;
    bob.wait_for_line("carol: hi browsers").await;

    // Bob writes to alice privately by clicking her name in the member list.
    bob.wait(
        "alice in the member list",
        "[...document.querySelectorAll('#members .member')].some(b => b.textContent === 'alice')",
    )
    .await;
    bob.js("[...document.querySelectorAll('#members .member')].find(b => b.textContent === 'alice').click();")
        .await;
    bob.say("psst, alice").await;
    // Alice sees an unread badge on the new conversation and in the tab's title.
    alice
        .wait(
            "the unread badge",
            "document.querySelector('[data-key=\"@bob\"] .badge')?.textContent === '1'",
        )
        .await;
    assert_eq!(
        alice.js("return document.title;").await,
        json!("(1) Palaver")
    );
    alice.click("[data-key=\"@bob\"]").await;
    alice.wait_for_line("bob: psst, alice").await;
    assert_eq!(alice.js("return document.title;").await, json!("Palaver"));

    // Private messages with the TCP user, both ways.
    alice.say("/msg carol hello carol").await;
    expect(&mut carol, "alice's private message", |f| {
        matches!(f, ServerFrame::PrivateMessage(m) if m.sender == "alice" && m.content == "hello carol")
    })
    .await;
    carol
        .send(&ClientFrame::PrivateMessage {
            attachments: Vec::new(),
            reply_to: None,
            target: "bob".into(),
            content: "just for bob".into(),
        })
        .await
        .unwrap();
    bob.wait(
        "carol's conversation",
        "document.querySelector('[data-key=\"@carol\"] .badge')",
    )
    .await;
    bob.click("[data-key=\"@carol\"]").await;
    bob.wait_for_line("carol: just for bob").await;

    alice.close().await;
    bob.close().await;
}

#[tokio::test]
async fn scrolling_up_loads_older_pages_in_order() {
    let Some(driver) = driver() else { return };
    let site = Site::start().await;
    let mut old = site.tcp("old").await;
    for i in 1..=260 {
        message(&mut old, &format!("message {i}")).await;
    }
    expect(
        &mut old,
        "the last message",
        |f| matches!(f, ServerFrame::Message(m) if m.content == "message 260"),
    )
    .await;
    let page = Page::open(driver, &site.url(), false).await;
    page.join("reader").await;
    page.wait_for_line("old: message 260").await;
    // Scroll to the top until the first message is there.
    let deadline = Instant::now() + WAIT;
    while page.js("return [...document.querySelectorAll('#log .line .body')].some(e => e.textContent === 'old: message 1');").await != json!(true) {
        assert!(Instant::now() < deadline, "older pages did not load");
        page.js("const l = document.getElementById('log'); l.scrollTop = 0; l.dispatchEvent(new Event('scroll'));")
            .await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let shown: Vec<String> = page
        .lines()
        .await
        .into_iter()
        .filter(|l| l.starts_with("old: message "))
        .collect();
    let expected: Vec<String> = (1..=260).map(|i| format!("old: message {i}")).collect();
    assert_eq!(shown, expected, "every message once, in order");
    page.close().await;
}

#[tokio::test]
async fn after_a_server_restart_the_page_shows_what_it_missed_once() {
    let Some(driver) = driver() else { return };
    let site = Site::start().await;
    let page = Page::open(driver, &site.url(), false).await;
    page.join("alice").await;
    let mut bob = site.tcp("bob").await;
    message(&mut bob, "before the restart").await;
    page.wait_for_line("bob: before the restart").await;
    drop(bob);

    let (http, dir) = site.stop().await;
    page.wait(
        "reconnecting",
        "document.getElementById('status').dataset.state === 'reconnecting'",
    )
    .await;
    let site = Site::start_again(http, dir).await;
    let mut bob = site.tcp("bob").await;
    for i in 1..=3 {
        message(&mut bob, &format!("missed {i}")).await;
    }
    page.wait_for_line("bob: missed 3").await;
    page.wait(
        "connected",
        "document.getElementById('status').dataset.state === 'connected'",
    )
    .await;
    message(&mut bob, "live again").await;
    page.wait_for_line("bob: live again").await;
    let lines = page.lines().await;
    for text in [
        "bob: before the restart",
        "bob: missed 1",
        "bob: missed 2",
        "bob: missed 3",
        "bob: live again",
    ] {
        assert_eq!(
            lines.iter().filter(|l| *l == text).count(),
            1,
            "{text} once: {lines:?}"
        );
    }
    page.close().await;
}

#[tokio::test]
async fn a_message_typed_while_the_server_is_down_is_delivered_once() {
    let Some(driver) = driver() else { return };
    let site = Site::start().await;
    let page = Page::open(driver, &site.url(), false).await;
    page.join("alice").await;
    let (http, dir) = site.stop().await;
    page.wait(
        "reconnecting",
        "document.getElementById('status').dataset.state === 'reconnecting'",
    )
    .await;
    page.say("typed while offline").await;
    page.wait(
        "the pending line",
        "document.querySelector('#log .line.pending .pending-state')",
    )
    .await;

    let site = Site::start_again(http, dir).await;
    let mut bob = site.tcp("bob").await;
    expect(&mut bob, "the offline message", |f| {
        matches!(f, ServerFrame::Message(m) if m.username == "alice" && m.content == "typed while offline")
    })
    .await;
    page.wait(
        "nothing pending",
        "!document.querySelector('#log .line.pending')",
    )
    .await;
    // Nothing more arrives: it was sent once.
    message(&mut bob, "marker").await;
    let mut copies = 0;
    loop {
        match bob.recv_timeout(WAIT).await.unwrap() {
            ServerFrame::Message(m) if m.content == "typed while offline" => copies += 1,
            ServerFrame::Message(m) if m.content == "marker" => break,
            _ => {}
        }
    }
    assert_eq!(copies, 0, "no second copy reached bob");
    let lines = page.lines().await;
    assert_eq!(
        lines
            .iter()
            .filter(|l| *l == "alice: typed while offline")
            .count(),
        1,
        "{lines:?}"
    );
    page.close().await;
}

#[tokio::test]
async fn a_phone_sized_screen_is_usable_without_scrolling_sideways() {
    let Some(driver) = driver() else { return };
    let site = Site::start().await;
    let page = Page::open(driver, &site.url(), true).await;
    assert_eq!(page.js("return window.innerWidth;").await, json!(390));
    page.join("phone").await;
    page.say("a long line to check that nothing overflows sideways: abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz").await;
    page.wait_for_line("phone: a long line to check that nothing overflows sideways: abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz").await;
    let widths = page
        .js("return [document.documentElement.scrollWidth, document.documentElement.clientWidth];")
        .await;
    assert!(widths[0].as_i64() <= widths[1].as_i64(), "{widths}");
    // The conversation list is a drawer.
    page.click("#drawer-button").await;
    page.wait(
        "the drawer",
        "document.getElementById('chat').classList.contains('drawer-open')",
    )
    .await;
    // With the members of the room, since there is no room for them beside the conversation.
    page.wait(
        "the members in the drawer",
        "[...document.querySelectorAll('#drawer-members .member')].some(b => b.textContent === 'phone' && b.offsetParent !== null)",
    )
    .await;
    page.close().await;
}

/// axe-core (the npm package), injected into the page.
fn axe_source() -> Option<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/axe");
    let file = root.join("node_modules/axe-core/axe.min.js");
    if !file.exists() {
        let _ = Command::new("npm")
            .args([
                "install",
                "--no-save",
                "--no-audit",
                "--no-fund",
                "--prefix",
            ])
            .arg(&root)
            .arg("axe-core@4.10.3")
            .status();
    }
    match std::fs::read_to_string(&file) {
        Ok(source) => Some(source),
        Err(_) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "the accessibility test needs axe-core (npm install axe-core) (CI=true)"
            );
            eprintln!("SKIPPED: the accessibility test needs axe-core from npm");
            None
        }
    }
}

async fn serious_violations(page: &Page, axe: &str) -> Vec<Value> {
    page.client.execute(axe, vec![]).await.unwrap();
    let result = page
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document).then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target)}))));",
            vec![],
        )
        .await
        .unwrap();
    result
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
        .cloned()
        .collect()
}

#[tokio::test]
async fn axe_finds_no_serious_accessibility_violation() {
    let Some(driver) = driver() else { return };
    let Some(axe) = axe_source() else { return };
    let site = Site::start().await;
    let mut bob = site.tcp("bob").await;
    message(&mut bob, "something to read").await;
    for theme in ["dark", "light"] {
        let page = Page::open(driver, &site.url(), false).await;
        page.js(&format!(
            "localStorage.setItem('palaver.theme', '{theme}'); location.reload();"
        ))
        .await;
        page.wait("the connect screen", "document.getElementById('username')")
            .await;
        let found = serious_violations(&page, &axe).await;
        assert!(found.is_empty(), "connect screen, {theme}: {found:#?}");
        page.join(&format!("reader{theme}")).await;
        page.wait_for_line("bob: something to read").await;
        let found = serious_violations(&page, &axe).await;
        assert!(found.is_empty(), "chat, {theme}: {found:#?}");
        page.close().await;
    }
    drop(bob);
}

#[tokio::test]
async fn an_irc_client_over_websocket_in_the_page_chats_with_a_native_user() {
    let Some(driver) = driver() else { return };
    let site = Site::start().await;
    let page = Page::open(driver, &site.url(), false).await;
    page.wait("the page", "document.readyState === 'complete'")
        .await;
    let mut native = site.tcp("native").await;
    // The page opens its own WebSocket asking for IRC, registers and joins #general.
    page.js("window.ircLines = [];
         const ws = new WebSocket(`ws://${location.host}/ws`, 'text.ircv3.net');
         window.irc = ws;
         ws.onopen = () => { ws.send('NICK webirc'); ws.send('USER webirc 0 * :Web IRC'); };
         ws.onmessage = (e) => {
           window.ircLines.push(e.data);
           if (e.data.includes(' 001 ')) ws.send('JOIN #general');
           if (e.data.includes(' 366 ')) ws.send('PRIVMSG #general :hello from IRC in a browser');
         };")
        .await;
    page.wait("the IRC registration", "window.irc.protocol === 'text.ircv3.net' && window.ircLines.some(l => l.includes(' 001 webirc '))").await;
    expect(&mut native, "the IRC user's message", |f| {
        matches!(f, ServerFrame::Message(m) if m.username == "webirc" && m.content == "hello from IRC in a browser")
    })
    .await;
    message(&mut native, "hello IRC").await;
    page.wait(
        "the native user's message over IRC",
        "window.ircLines.some(l => l.startsWith(':native!') && l.endsWith('PRIVMSG #general :hello IRC'))",
    )
    .await;
    page.close().await;
}

#[tokio::test]
async fn a_name_registered_in_the_browser_needs_its_password_afterwards() {
    let Some(driver) = driver() else { return };
    let site = Site::start().await;
    let page = Page::open(driver, &site.url(), false).await;
    page.wait("the connect screen", "document.getElementById('username')")
        .await;
    page.type_into("#username", "carla").await;
    page.type_into("#password", "a long enough secret").await;
    page.click("#register-button").await;
    page.wait_for_line("carla is now an account: log in with its password next time.")
        .await;
    page.close().await;

    // Another visitor without the password is refused and told why.
    let other = Page::open(driver, &site.url(), false).await;
    other.join_attempt("carla", "").await;
    other
        .wait(
            "the refusal",
            "document.getElementById('connect-error').textContent.includes('registered')",
        )
        .await;
    assert_eq!(
        other
            .js("return document.getElementById('chat').hidden;")
            .await,
        json!(true)
    );
    other.close().await;

    // With it, carla is back.
    let again = Page::open(driver, &site.url(), false).await;
    again.join_attempt("carla", "a long enough secret").await;
    again
        .wait("the chat", "!document.getElementById('chat').hidden")
        .await;
    again.say("back with my account").await;
    again.wait_for_line("carla: back with my account").await;
    again.close().await;
}

/// Waits for a frame that matches and returns it.
async fn frame(
    conn: &mut Connection,
    what: &str,
    pred: impl Fn(&ServerFrame) -> bool,
) -> ServerFrame {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match conn.recv_timeout(left).await {
            Ok(frame) if pred(&frame) => return frame,
            Ok(_) => continue,
            Err(e) => panic!("waiting for {what}: {e}"),
        }
    }
}

#[tokio::test]
async fn the_emoji_picker_writes_and_reacts() {
    let Some(driver) = driver() else { return };
    let site = Site::start().await;
    let mut bob = site.tcp("bob").await;
    let page = Page::open(driver, &site.url(), false).await;
    page.join("alice").await;
    message(&mut bob, "lunch at noon?").await;
    page.wait_for_line("bob: lunch at noon?").await;

    // The picker's button: filter, choose, send.
    page.click("#emoji-button").await;
    page.wait(
        "the picker",
        "document.getElementById('emoji-filter')?.offsetParent !== null",
    )
    .await;
    page.type_into("#emoji-filter", "tada").await;
    page.wait(
        "the filtered emoji",
        "document.querySelector('#emoji-list button.emoji-item[data-emoji=\"🎉\"]')",
    )
    .await;
    page.click("#emoji-list button.emoji-item[data-emoji=\"🎉\"]")
        .await;
    page.wait(
        "the emoji in the message",
        "document.getElementById('message').value.includes('🎉')",
    )
    .await;
    page.type_into("#message", &format!(" yes :+1:{ENTER}"))
        .await;
    let got = frame(
        &mut bob,
        "alice's answer",
        |f| matches!(f, ServerFrame::Message(m) if m.username == "alice"),
    )
    .await;
    let ServerFrame::Message(answer) = got else {
        unreachable!()
    };
    assert_eq!(answer.content, "🎉 yes 👍", ":shortcodes: become emoji");

    // React to bob's message with the picker: bob sees it, the chip shows.
    let question = page
        .js("return [...document.querySelectorAll('#log .line')].find(l => l.textContent.includes('lunch at noon?')).dataset.id;")
        .await;
    let id = question.as_str().unwrap().to_string();
    page.js(&format!(
        "document.querySelector('.line[data-id=\"{id}\"] .actions button[data-action=\"react\"]').click();"
    ))
    .await;
    page.wait(
        "the picker",
        "document.getElementById('emoji-filter')?.offsetParent !== null",
    )
    .await;
    page.type_into("#emoji-filter", "rocket").await;
    page.wait(
        "the rocket",
        "document.querySelector('#emoji-list button.emoji-item[data-emoji=\"🚀\"]')",
    )
    .await;
    page.click("#emoji-list button.emoji-item[data-emoji=\"🚀\"]")
        .await;
    let got = frame(&mut bob, "the reaction", |f| {
        matches!(f, ServerFrame::Reaction(_))
    })
    .await;
    let ServerFrame::Reaction(r) = got else {
        unreachable!()
    };
    assert_eq!(
        (r.place.id.to_string(), r.emoji.as_str(), r.added),
        (id.clone(), "🚀", true)
    );
    page.wait(
        "the chip",
        &format!("document.querySelector('.line[data-id=\"{id}\"] .reactions .chip[data-emoji=\"🚀\"].mine')"),
    )
    .await;
    page.close().await;
}

#[tokio::test]
async fn a_search_result_opens_the_conversation_at_the_message() {
    let Some(driver) = driver() else { return };
    let site = Site::start().await;
    let mut bob = site.tcp("bob").await;
    message(&mut bob, "the secret word is pineapple").await;
    for i in 0..150 {
        message(&mut bob, &format!("filler {i}")).await;
    }
    expect(
        &mut bob,
        "the last filler",
        |f| matches!(f, ServerFrame::Message(m) if m.content == "filler 149"),
    )
    .await;
    let page = Page::open(driver, &site.url(), false).await;
    page.join("alice").await;
    page.wait_for_line("bob: filler 149").await;
    page.type_into("#search", &format!("pineapple{ENTER}"))
        .await;
    page.wait(
        "one result",
        "document.querySelectorAll('#search-results .search-result').length === 1",
    )
    .await;
    page.wait(
        "the word marked",
        "document.querySelector('#search-results mark')?.textContent.toLowerCase() === 'pineapple'",
    )
    .await;
    page.click("#search-results .search-result").await;
    page.wait(
        "the message shown",
        "[...document.querySelectorAll('#log .line .body')].some(e => e.textContent === 'bob: the secret word is pineapple')",
    )
    .await;
    page.wait(
        "the message highlighted",
        "[...document.querySelectorAll('#log .line.flash')].some(l => l.textContent.includes('pineapple'))",
    )
    .await;
    page.close().await;
}

/// A 1×1 red PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53,
    0xde, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x08, 0xd7, 0x63, 0xf8, 0xcf, 0xc0, 0x00,
    0x00, 0x03, 0x01, 0x01, 0x00, 0x18, 0xdd, 0x8d, 0xb0, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e,
    0x44, 0xae, 0x42, 0x60, 0x82,
];

#[tokio::test]
async fn a_picture_dropped_on_the_conversation_is_sent_and_previewed() {
    let Some(driver) = driver() else { return };
    let site = Site::start().await;
    let mut bob = site.tcp("bob").await;
    let page = Page::open(driver, &site.url(), false).await;
    page.join("alice").await;
    page.wait(
        "the attach button",
        "!document.getElementById('attach-button').hidden",
    )
    .await;
    // What a desktop drag and drop gives the page: a drop event with a file.
    let bytes: Vec<String> = PNG.iter().map(|b| b.to_string()).collect();
    page.js(&format!(
        "const file = new File([new Uint8Array([{}])], 'red dot.png', {{type: 'image/png'}});
         const data = new DataTransfer(); data.items.add(file);
         const target = document.querySelector('section.conversation');
         for (const type of ['dragenter', 'dragover', 'drop']) {{
           target.dispatchEvent(new DragEvent(type, {{bubbles: true, cancelable: true, dataTransfer: data}}));
         }}",
        bytes.join(",")
    ))
    .await;
    page.wait(
        "the upload done",
        "document.querySelector('#pending-files .pending-file.done')",
    )
    .await;
    page.type_into("#message", &format!("look{ENTER}")).await;
    let got = frame(
        &mut bob,
        "the picture",
        |f| matches!(f, ServerFrame::Message(m) if !m.state.attachments.is_empty()),
    )
    .await;
    let ServerFrame::Message(m) = got else {
        unreachable!()
    };
    assert_eq!(m.content, "look");
    let file = &m.state.attachments[0];
    assert_eq!(
        (file.name.as_str(), file.size, file.content_type.as_str()),
        ("red dot.png", PNG.len() as u64, "image/png")
    );
    page.wait(
        "the preview, loaded",
        &format!("document.querySelector('.line[data-id=\"{}\"] .attachments img.preview')?.naturalWidth === 1", m.id),
    )
    .await;
    page.close().await;
}

#[tokio::test]
async fn reading_in_the_browser_reaches_the_other_device_and_reading_there_clears_the_badge() {
    let Some(driver) = driver() else { return };
    let site = Site::start().await;
    const PASSWORD: &str = "dana's long password";
    // dana's account, registered from a first connection.
    let mut first = site.tcp("dana").await;
    first
        .send(&ClientFrame::Register {
            password: palaver_client::proto::Secret(PASSWORD.into()),
        })
        .await
        .unwrap();
    expect(&mut first, "registered", |f| {
        matches!(f, ServerFrame::Registered { .. })
    })
    .await;
    drop(first);
    let mut bob = site.tcp("bob").await;

    // dana in the browser, and on her phone (the client library).
    let page = Page::open(driver, &site.url(), false).await;
    page.join_attempt("dana", PASSWORD).await;
    page.wait("the chat", "!document.getElementById('chat').hidden")
        .await;
    let mut phone = Connection::connect(site.server.local_addr()).await.unwrap();
    phone
        .join_as(ClientFrame::Login {
            username: "dana".into(),
            password: palaver_client::proto::Secret(PASSWORD.into()),
            since: None,
            rooms: None,
            resume_token: None,
        })
        .await
        .expect("the phone logs in too");

    // bob writes to dana privately: the browser shows it unread (general is shown).
    bob.send(&ClientFrame::PrivateMessage {
        target: "dana".into(),
        content: "are you coming?".into(),
        reply_to: None,
        attachments: Vec::new(),
    })
    .await
    .unwrap();
    let ServerFrame::PrivateMessage(dm) = frame(&mut phone, "bob's question", |f| {
        matches!(f, ServerFrame::PrivateMessage(_))
    })
    .await
    else {
        unreachable!()
    };
    let badge = "document.querySelector('.conversation-button[data-key=\"@bob\"] .badge')";
    page.wait("the unread badge", &format!("{badge}?.textContent === '1'"))
        .await;

    // dana reads it on her phone: the browser's badge goes.
    phone
        .send(&ClientFrame::MarkRead {
            room: None,
            with: Some("bob".into()),
            seq: Some(dm.seq),
            timestamp: None,
        })
        .await
        .unwrap();
    page.wait("the badge cleared by the phone", &format!("!{badge}"))
        .await;

    // bob writes in general, which the browser shows: the browser reads it, and the phone is
    // told how far.
    message(&mut bob, "see you at noon").await;
    page.wait_for_line("bob: see you at noon").await;
    let ServerFrame::Message(said) = frame(
        &mut phone,
        "bob's message",
        |f| matches!(f, ServerFrame::Message(m) if m.content == "see you at noon"),
    )
    .await
    else {
        unreachable!()
    };
    let marker = frame(&mut phone, "the browser's read marker", |f| {
        matches!(f, ServerFrame::ReadMarker(m) if m.room.as_deref() == Some("general") && m.seq >= said.seq)
    })
    .await;
    let ServerFrame::ReadMarker(marker) = marker else {
        unreachable!()
    };
    assert_eq!(marker.seq, said.seq);
    page.close().await;
}
