//! A second real IRC client besides `ii`: irc-framework, the npm library behind Kiwi IRC, with
//! the IRCv3 capabilities it asks for by default, in a moderated, topic-locked room with native
//! users: refused as IRC refuses (404, 482) until a native operator gives it voice and then
//! operator status, after which it runs the room from IRC and the native users see it.
//!
//! `irc_framework.js` (next to this file) drives the library one stdin line at a time and
//! reports its events as JSON lines. The package is pinned ([`VERSION`]) and installed into
//! `target/irc-framework` (by `.ci/run`, or here when it is missing). Without Node.js or npm the
//! test says so and passes; under `CI=true` it fails instead.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use palaver_client::proto::{ClientFrame, ServerFrame, SystemEvent};
use palaver_client::Connection;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use super::harness::{
    drain, error_code, expect, expect_message, join_room, say_in, set_mode, TestServer, WAIT,
};

/// The irc-framework release the test runs (`.ci/run` installs the same).
const VERSION: &str = "4.14.0";

/// How long one step may take on the IRC side.
const STEP: Duration = Duration::from_secs(5);

fn skip(why: &str) -> Option<PathBuf> {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{why}, and CI=true requires it (.ci/run installs it)"
    );
    eprintln!("SKIPPED: {why}");
    None
}

/// The `node_modules` holding irc-framework [`VERSION`], installed with npm if it is missing.
fn irc_framework() -> Option<PathBuf> {
    let node = std::process::Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !matches!(node, Ok(status) if status.success()) {
        return skip("the irc-framework test needs Node.js (apt-get install nodejs)");
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/irc-framework");
    let modules = root.join("node_modules");
    let installed = || {
        std::fs::read_to_string(modules.join("irc-framework/package.json"))
            .ok()
            .and_then(|text| serde_json::from_str::<Value>(&text).ok())
            .is_some_and(|package| package["version"] == VERSION)
    };
    if !installed() {
        let _ = std::process::Command::new("npm")
            .args([
                "install",
                "--no-save",
                "--no-audit",
                "--no-fund",
                "--prefix",
            ])
            .arg(root)
            .arg(format!("irc-framework@{VERSION}"))
            .stdout(Stdio::null())
            .status();
    }
    if installed() {
        Some(modules)
    } else {
        skip(&format!(
            "the irc-framework test needs irc-framework@{VERSION} from npm \
             (npm install --prefix target/irc-framework irc-framework@{VERSION})"
        ))
    }
}

/// The irc-framework client, as `irc_framework.js` runs it; killed when dropped.
struct Kiwi {
    _node: Child,
    commands: ChildStdin,
    events: Lines<BufReader<ChildStdout>>,
}

impl Kiwi {
    fn start(modules: &Path, port: u16, nick: &str) -> Kiwi {
        Self::start_with_caps(modules, port, nick, &[])
    }

    /// The same, asking for these capabilities besides irc-framework's own.
    fn start_with_caps(modules: &Path, port: u16, nick: &str, caps: &[&str]) -> Kiwi {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/irc_framework.js");
        let mut node = Command::new("node")
            .arg(script)
            .arg(port.to_string())
            .arg(nick)
            .arg("127.0.0.1")
            .arg(caps.join(","))
            .env("NODE_PATH", modules)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs irc_framework.js");
        let commands = node.stdin.take().unwrap();
        let events = BufReader::new(node.stdout.take().unwrap()).lines();
        Kiwi {
            _node: node,
            commands,
            events,
        }
    }

    /// One command line for the driver (`join #stage`, `say #stage text`...).
    async fn tell(&mut self, line: &str) {
        self.commands
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap_or_else(|e| panic!("telling irc-framework {line:?}: {e}"));
        self.commands.flush().await.unwrap();
    }

    /// Reads events until one matches (within `limit`): it, and those that came before it.
    async fn until(
        &mut self,
        what: &str,
        limit: Duration,
        mut pred: impl FnMut(&Value) -> bool,
    ) -> (Value, Vec<Value>) {
        let deadline = tokio::time::Instant::now() + limit;
        let mut seen: Vec<Value> = Vec::new();
        let shown = |seen: &[Value]| {
            seen.iter()
                .map(|e| format!("\n  {e}"))
                .collect::<Vec<_>>()
                .concat()
        };
        loop {
            let line = match tokio::time::timeout_at(deadline, self.events.next_line()).await {
                Ok(Ok(Some(line))) => line,
                Ok(Ok(None)) => panic!(
                    "irc-framework exited while waiting for {what}; it had seen:{}",
                    shown(&seen)
                ),
                Ok(Err(e)) => panic!("reading irc-framework's events, waiting for {what}: {e}"),
                Err(_) => panic!(
                    "timed out after {limit:?} waiting for {what} in irc-framework; it saw \
                     meanwhile:{}",
                    shown(&seen)
                ),
            };
            let event: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("irc-framework's driver wrote {line:?}, not JSON: {e}"));
            if pred(&event) {
                return (event, seen);
            }
            seen.push(event);
        }
    }

    /// Waits for an event that matches, failing after [`STEP`].
    async fn expect(&mut self, what: &str, pred: impl FnMut(&Value) -> bool) -> Value {
        self.until(what, STEP, pred).await.0
    }

    /// Everything irc-framework reported before the server answered a PING sent now.
    async fn sync(&mut self, token: &str) -> Vec<Value> {
        self.tell(&format!("sync {token}")).await;
        let what = format!("the PONG {token}");
        self.until(&what, STEP, |e| {
            e["event"] == "pong" && e["message"] == token
        })
        .await
        .1
    }

    /// `names #channel` and its answer, see [`names`].
    async fn names(&mut self, channel: &str) -> Vec<String> {
        self.tell(&format!("names {channel}")).await;
        let list = self
            .expect(&format!("the NAMES of {channel}"), |e| {
                e["event"] == "userlist" && e["channel"] == channel
            })
            .await;
        names(&list)
    }
}

/// A `userlist` as irc-framework parsed it, written with prefixes again and sorted by nick:
/// `["ann", "+kiwi", "@olga"]`.
fn names(userlist: &Value) -> Vec<String> {
    let mut users: Vec<(String, String)> = userlist["users"]
        .as_array()
        .unwrap_or_else(|| panic!("a userlist without users: {userlist}"))
        .iter()
        .map(|user| {
            let prefixes = user["modes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|mode| match mode.as_str() {
                    Some("o") => "@",
                    Some("v") => "+",
                    other => panic!("a mode {other:?} in NAMES: {userlist}"),
                })
                .collect::<String>();
            (user["nick"].as_str().unwrap().to_string(), prefixes)
        })
        .collect();
    users.sort();
    users
        .into_iter()
        .map(|(nick, prefixes)| format!("{prefixes}{nick}"))
        .collect()
}

fn is_privmsg(event: &Value, text: &str) -> bool {
    event["event"] == "privmsg" && event["message"] == text
}

/// Waits for a `mode_changed` with these modes and returns who set them, and the parameters.
async fn expect_mode(conn: &mut Connection, what: &str, want: &str) -> (String, Vec<String>) {
    match expect(conn, what, |f| {
        matches!(f, ServerFrame::ModeChanged { room, modes, .. } if room == "stage" && modes == want)
    })
    .await
    {
        ServerFrame::ModeChanged {
            username, params, ..
        } => (username, params),
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn irc_framework_and_native_users_share_a_moderated_room() {
    let Some(modules) = irc_framework() else {
        return;
    };
    let server = TestServer::start_irc().await;

    // olga creates the room (so she is its operator) and makes it moderated and topic-locked.
    let mut olga = server.join("olga").await;
    let joined = join_room(&mut olga, "stage", None).await;
    let ServerFrame::JoinedRoom { operators, .. } = joined else {
        panic!("olga could not create stage: {joined:?}")
    };
    assert_eq!(operators, ["olga"]);
    set_mode(&mut olga, "stage", "+mt", &[]).await;
    expect_mode(&mut olga, "olga's +mt", "+mt").await;
    let mut ann = server.join("ann").await;
    let joined = join_room(&mut ann, "stage", None).await;
    let ServerFrame::JoinedRoom { room, .. } = joined else {
        panic!("ann could not join stage: {joined:?}")
    };
    assert_eq!(room.modes.as_deref(), Some("+nmt"));

    // kiwi connects with irc-framework's default capabilities and joins #stage.
    let mut kiwi = Kiwi::start(&modules, server.irc_addr().port(), "kiwi");
    let registered = kiwi
        .until("kiwi's registration (001)", WAIT, |e| {
            e["event"] == "registered"
        })
        .await
        .0;
    assert_eq!(registered["nick"], "kiwi");
    let caps = registered["caps"].as_array().expect("caps");
    for cap in [
        "multi-prefix",
        "userhost-in-names",
        "server-time",
        "message-tags",
    ] {
        assert!(
            caps.iter().any(|c| c.as_str() == Some(cap)),
            "irc-framework did not get {cap}: {caps:?}"
        );
    }
    kiwi.tell("join #stage").await;
    kiwi.expect("kiwi's JOIN #stage", |e| {
        e["event"] == "join" && e["nick"] == "kiwi" && e["channel"] == "#stage"
    })
    .await;
    let list = kiwi
        .expect("the NAMES of #stage after joining", |e| {
            e["event"] == "userlist"
        })
        .await;
    assert_eq!(names(&list), ["ann", "kiwi", "@olga"]);
    // Kiwi IRC asks for the channel's modes when it joins.
    kiwi.tell("mode #stage").await;
    let modes = kiwi
        .expect("the modes of #stage (324)", |e| {
            e["event"] == "channel info" && e["raw_modes"].is_string()
        })
        .await;
    assert_eq!(modes["channel"], "#stage");
    assert_eq!(modes["raw_modes"], "+nmt");
    for native in [&mut olga, &mut ann] {
        expect(native, "kiwi joining stage", |f| {
            matches!(f, ServerFrame::System { username: Some(u), room: Some(r), event: Some(SystemEvent::Joined), .. } if u == "kiwi" && r == "stage")
        })
        .await;
    }

    // Without voice kiwi is refused (404), and nobody gets the message.
    kiwi.tell("say #stage may I speak?").await;
    let refused = kiwi
        .expect("404 ERR_CANNOTSENDTOCHAN", |e| e["event"] == "irc error")
        .await;
    assert_eq!(refused["error"], "cannot_send_to_channel", "{refused}");
    assert_eq!(refused["channel"], "#stage");
    for native in [&mut olga, &mut ann] {
        let seen = drain(native).await;
        assert!(
            !seen
                .iter()
                .any(|f| matches!(f, ServerFrame::Message(m) if m.content == "may I speak?")),
            "a refused message was delivered: {seen:?}"
        );
    }
    // So is a native user without voice, and kiwi does not get that message either.
    say_in(&mut ann, "stage", "me neither?").await;
    let refused = expect(&mut ann, "ann's refusal", |f| error_code(f).is_some()).await;
    assert_eq!(error_code(&refused), Some("moderated"));
    let seen = kiwi.sync("after-ann").await;
    assert!(
        !seen.iter().any(|e| e["event"] == "privmsg"),
        "kiwi got a message in a moderated room: {seen:?}"
    );

    // olga gives kiwi voice from the app: kiwi sees the MODE and its `+` in NAMES.
    set_mode(&mut olga, "stage", "+v", &["kiwi"]).await;
    let voiced = kiwi
        .expect("MODE #stage +v kiwi", |e| e["event"] == "mode")
        .await;
    assert_eq!(voiced["nick"], "olga");
    assert_eq!(voiced["target"], "#stage");
    assert_eq!(voiced["raw_modes"], "+v");
    assert_eq!(voiced["raw_params"], json!(["kiwi"]));
    assert_eq!(kiwi.names("#stage").await, ["ann", "+kiwi", "@olga"]);
    expect_mode(&mut ann, "olga's +v kiwi", "+v").await;

    // Now kiwi's messages reach the native users, and an operator's reach kiwi.
    kiwi.tell("say #stage hello from Kiwi IRC").await;
    for native in [&mut olga, &mut ann] {
        let m = expect_message(native, "hello from Kiwi IRC").await;
        assert_eq!((m.username.as_str(), m.room.as_str()), ("kiwi", "stage"));
    }
    say_in(&mut olga, "stage", "welcome on stage, kiwi").await;
    let got = kiwi
        .expect("olga's message in #stage", |e| {
            is_privmsg(e, "welcome on stage, kiwi")
        })
        .await;
    assert_eq!(got["nick"], "olga");
    assert_eq!(got["target"], "#stage");

    // +t: voice is not enough to set the topic (482); the operator's topic reaches kiwi.
    kiwi.tell("topic #stage kiwi's stage").await;
    let refused = kiwi
        .expect("482 ERR_CHANOPRIVSNEEDED", |e| e["event"] == "irc error")
        .await;
    assert_eq!(refused["error"], "chanop_privs_needed", "{refused}");
    assert_eq!(refused["channel"], "#stage");
    let seen = drain(&mut olga).await;
    assert!(
        !seen.iter().any(|f| matches!(f, ServerFrame::Topic { .. })),
        "a refused topic was set: {seen:?}"
    );
    olga.send(&ClientFrame::Topic {
        room: "stage".into(),
        topic: "Olga's stage".into(),
    })
    .await
    .unwrap();
    let topic = kiwi
        .expect("olga's TOPIC", |e| {
            e["event"] == "topic" && e["nick"] == "olga"
        })
        .await;
    assert_eq!(topic["channel"], "#stage");
    assert_eq!(topic["topic"], "Olga's stage");

    // olga makes kiwi an operator (multi-prefix shows both of its prefixes)...
    set_mode(&mut olga, "stage", "+o", &["kiwi"]).await;
    let opped = kiwi
        .expect("MODE #stage +o kiwi", |e| e["event"] == "mode")
        .await;
    assert_eq!(opped["nick"], "olga");
    assert_eq!(opped["raw_modes"], "+o");
    assert_eq!(opped["raw_params"], json!(["kiwi"]));
    assert_eq!(kiwi.names("#stage").await, ["ann", "@+kiwi", "@olga"]);

    // ...and kiwi, from IRC, lifts +m and sets the topic: the native users see both from kiwi.
    kiwi.tell("mode #stage -m").await;
    let unmoderated = kiwi
        .expect("kiwi's own MODE -m", |e| e["event"] == "mode")
        .await;
    assert_eq!(unmoderated["nick"], "kiwi");
    assert_eq!(unmoderated["raw_modes"], "-m");
    for native in [&mut olga, &mut ann] {
        let (by, params) = expect_mode(native, "kiwi's -m", "-m").await;
        assert_eq!(by, "kiwi");
        assert!(params.is_empty(), "{params:?}");
    }
    kiwi.tell("topic #stage Kiwi runs the stage now").await;
    kiwi.expect("kiwi's own TOPIC", |e| {
        e["event"] == "topic" && e["nick"] == "kiwi"
    })
    .await;
    for native in [&mut olga, &mut ann] {
        let topic = expect(
            native,
            "kiwi's topic",
            |f| matches!(f, ServerFrame::Topic { topic, .. } if topic == "Kiwi runs the stage now"),
        )
        .await;
        let ServerFrame::Topic { room, username, .. } = topic else {
            unreachable!()
        };
        assert_eq!((room.as_str(), username.as_str()), ("stage", "kiwi"));
    }

    // Unmoderated: ann, without voice, speaks again and kiwi reads her.
    say_in(&mut ann, "stage", "free to speak again").await;
    let got = kiwi
        .expect("ann's message after -m", |e| {
            is_privmsg(e, "free to speak again")
        })
        .await;
    assert_eq!(got["nick"], "ann");
    assert_eq!(got["target"], "#stage");

    // kiwi quits; the native users see it leave with its reason.
    kiwi.tell("quit see you").await;
    kiwi.expect("the connection closing", |e| e["event"] == "close")
        .await;
    let left = expect(&mut olga, "kiwi leaving", |f| {
        matches!(f, ServerFrame::System { username: Some(u), event: Some(SystemEvent::Disconnected), .. } if u == "kiwi")
    })
    .await;
    let ServerFrame::System { reason, .. } = left else {
        unreachable!()
    };
    assert_eq!(reason.as_deref(), Some("Quit: see you"));
}

/// The message-tags a `privmsg` or `tagmsg` event carried.
fn tag<'a>(event: &'a Value, name: &str) -> Option<&'a str> {
    event["tags"][name].as_str()
}

#[tokio::test]
async fn irc_framework_reacts_replies_and_redacts_with_message_tags() {
    let Some(modules) = irc_framework() else {
        return;
    };
    let server = TestServer::start_irc().await;
    let mut ann = server.join("ann").await;
    let port = server.irc_addr().port();
    let mut kiwi = Kiwi::start_with_caps(&modules, port, "kiwi", &["draft/message-redaction"]);
    let registered = kiwi
        .until("kiwi's registration", WAIT, |e| e["event"] == "registered")
        .await
        .0;
    let caps = registered["caps"].as_array().expect("caps");
    for cap in ["message-tags", "draft/message-redaction"] {
        assert!(caps.iter().any(|c| c == cap), "{cap}: {caps:?}");
    }
    kiwi.tell("join #general").await;
    kiwi.expect("kiwi's JOIN", |e| {
        e["event"] == "join" && e["nick"] == "kiwi"
    })
    .await;

    // ann asks; kiwi sees the msgid and reacts to it, then replies to it.
    say_in(&mut ann, "general", "who wants coffee?").await;
    let asked = kiwi
        .expect("ann's question", |e| is_privmsg(e, "who wants coffee?"))
        .await;
    let question = tag(&asked, "msgid").expect("a msgid").to_string();
    kiwi.tell(&format!("react #general {question} ☕")).await;
    let reaction = expect(&mut ann, "kiwi's reaction", |f| {
        matches!(f, ServerFrame::Reaction(_))
    })
    .await;
    let ServerFrame::Reaction(r) = reaction else {
        unreachable!()
    };
    assert_eq!(
        (
            r.place.id.to_string(),
            r.emoji.as_str(),
            r.place.username.as_str(),
            r.added
        ),
        (question.clone(), "☕", "kiwi", true)
    );
    kiwi.tell(&format!("reply #general {question} me, please"))
        .await;
    let answer = expect_message(&mut ann, "me, please").await;
    assert_eq!(
        answer.state.reply_to.map(|id| id.to_string()),
        Some(question.clone())
    );
    assert_eq!(
        answer.state.reply_preview.map(|p| p.content),
        Some("who wants coffee?".into())
    );

    // ann reacts to kiwi's answer and replies to it: kiwi reads both from the tags.
    ann.send(&ClientFrame::React {
        id: answer.id,
        emoji: ":+1:".into(),
        on: None,
    })
    .await
    .unwrap();
    let reacted = kiwi
        .expect("ann's reaction", |e| {
            e["event"] == "tagmsg" && e["nick"] == "ann"
        })
        .await;
    assert_eq!(tag(&reacted, "+draft/react"), Some("👍"), "{reacted}");
    assert_eq!(
        tag(&reacted, "+draft/reply"),
        Some(answer.id.to_string().as_str())
    );
    ann.send(&ClientFrame::Message {
        attachments: Vec::new(),
        content: "coming up".into(),
        room: Some("general".into()),
        reply_to: Some(answer.id),
    })
    .await
    .unwrap();
    let replied = kiwi
        .expect("ann's reply", |e| is_privmsg(e, "coming up"))
        .await;
    assert_eq!(
        tag(&replied, "+draft/reply"),
        Some(answer.id.to_string().as_str())
    );

    // An edit reaches kiwi as a correction tagged with the message it corrects.
    ann.send(&ClientFrame::Edit {
        id: answer.id,
        content: "x".into(),
    })
    .await
    .unwrap();
    let refused = expect(&mut ann, "a refused edit", |f| error_code(f).is_some()).await;
    assert_eq!(
        error_code(&refused),
        Some("not_authorized"),
        "kiwi's message, not ann's"
    );
    ann.send(&ClientFrame::Edit {
        id: question.parse().unwrap(),
        content: "who wants tea?".into(),
    })
    .await
    .unwrap();
    let corrected = kiwi
        .expect("ann's correction", |e| is_privmsg(e, "* who wants tea?"))
        .await;
    assert_eq!(tag(&corrected, "+draft/edit"), Some(question.as_str()));

    // kiwi may not redact ann's message, and may redact its own: ann sees it deleted.
    kiwi.tell(&format!("raw REDACT #general {question}")).await;
    let fail = kiwi
        .expect("FAIL REDACT", |e| {
            e["event"] == "unknown command" && e["command"] == "FAIL"
        })
        .await;
    assert_eq!(fail["params"][1], "REDACT_FORBIDDEN", "{fail}");
    kiwi.tell(&format!("raw REDACT #general {} :oops", answer.id))
        .await;
    let deleted = expect(
        &mut ann,
        "kiwi's redaction",
        |f| matches!(f, ServerFrame::Deleted(d) if d.place.id == answer.id),
    )
    .await;
    let ServerFrame::Deleted(d) = deleted else {
        unreachable!()
    };
    assert_eq!(d.place.username, "kiwi");

    // ann deletes her question: kiwi gets the REDACT.
    ann.send(&ClientFrame::Delete {
        id: question.parse().unwrap(),
    })
    .await
    .unwrap();
    let redact = kiwi
        .expect("REDACT from ann", |e| {
            e["event"] == "unknown command" && e["command"] == "REDACT"
        })
        .await;
    assert_eq!(redact["params"], json!(["#general", question]));
    kiwi.tell("quit done").await;
}
