//! IRC registration: the welcome burst, capability negotiation, nick rules shared with the
//! native protocol, numerics for what is not allowed, and the timers that drop dead peers.

use std::time::Duration;

use palaver_client::proto::{ClientFrame, ServerFrame, SystemEvent};

use super::harness::{expect, TestServer};
use super::irc_client::{commands, find, Irc};

#[tokio::test]
async fn welcome_burst_announces_the_server_and_its_limits() {
    let server = TestServer::start_irc().await;
    let (_alice, burst) = Irc::register(server.irc_addr(), "alice", &[]).await;
    let seen = commands(&burst);
    for numeric in [
        "001", "002", "003", "004", "005", "251", "254", "255", "265", "266", "375", "372", "376",
    ] {
        assert!(seen.contains(&numeric), "{numeric} missing from {seen:?}");
    }
    let position = |c: &str| seen.iter().position(|s| *s == c).unwrap();
    assert!(position("001") < position("005") && position("005") < position("251"));
    assert!(position("266") < position("375"), "LUSERS before the MOTD");
    let welcome = find(&burst, "001").unwrap();
    assert_eq!(
        welcome.params[0], "alice",
        "numerics are addressed to the nick"
    );
    assert!(welcome.params[1].contains("alice"));
    let tokens: Vec<&str> = burst
        .iter()
        .filter(|m| m.command == "005")
        .flat_map(|m| m.params[1..m.params.len() - 1].iter().map(String::as_str))
        .collect();
    for token in [
        "CASEMAPPING=rfc8265",
        "CHANTYPES=#",
        "NICKLEN=32",
        "CHANNELLEN=65",
        "TOPICLEN=390",
        "LINELEN=512",
        "UTF8ONLY",
        "PREFIX=(ov)@+",
        "NETWORK=Palaver",
    ] {
        assert!(tokens.contains(&token), "{token} missing from {tokens:?}");
    }
}

#[tokio::test]
async fn cap_negotiation_holds_registration_until_cap_end() {
    let server = TestServer::start_irc().await;
    let mut irc = Irc::connect(server.irc_addr()).await;
    irc.send("CAP LS 302").await;
    let ls = irc.expect("CAP LS", |m| m.command == "CAP").await;
    assert_eq!(ls.params[..2], ["*", "LS"]);
    let offered: Vec<&str> = ls.params[2].split(' ').collect();
    for cap in [
        "cap-notify",
        "server-time",
        "message-tags",
        "echo-message",
        "batch",
        "labeled-response",
        "multi-prefix",
        "userhost-in-names",
        "away-notify",
        "draft/chathistory",
    ] {
        assert!(offered.contains(&cap), "{cap} not offered: {offered:?}");
    }
    irc.send("CAP REQ :server-time draft/multiline").await;
    let nak = irc.expect("NAK", |m| m.command == "CAP").await;
    assert_eq!(
        nak.params[1..],
        ["NAK", "server-time draft/multiline"],
        "all or nothing"
    );
    irc.send("CAP REQ :server-time echo-message").await;
    let ack = irc.expect("ACK", |m| m.command == "CAP").await;
    assert_eq!(ack.params[1..], ["ACK", "server-time echo-message"]);
    irc.send("NICK carol").await;
    irc.send("USER carol 0 * :Carol").await;
    let before_end = irc.sync().await;
    assert!(
        find(&before_end, "001").is_none(),
        "no welcome before CAP END: {before_end:?}"
    );
    irc.send("CAP LIST").await;
    let list = irc.expect("LIST", |m| m.command == "CAP").await;
    assert_eq!(list.params[1], "LIST");
    let enabled: Vec<&str> = list.params[2].split(' ').collect();
    assert!(enabled.contains(&"cap-notify"), "302 implies cap-notify");
    assert!(enabled.contains(&"server-time") && enabled.contains(&"echo-message"));
    irc.send("CAP END").await;
    let welcome = irc.expect("001", |m| m.command == "001").await;
    assert_eq!(welcome.params[0], "carol");
    irc.send("CAP FROB").await;
    let invalid = irc.expect("410", |m| m.command == "410").await;
    assert_eq!(invalid.params[1], "FROB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_reconnects_at_once_gets_its_nick_back() {
    // A bot (or a test suite) closes its socket and connects again at once with the same nick:
    // its old connection's departure may still be on its way when the new registration
    // arrives. It gets the nick, not 433, every time. (Plain blocking sockets on a thread of
    // their own, so the client does not wait for the server's tasks between the two.)
    let server = TestServer::start_irc().await;
    let addr = server.irc_addr();
    let refused = tokio::task::spawn_blocking(move || {
        use std::io::{BufRead, BufReader, Write};
        let mut refused = Vec::new();
        for round in 0..50 {
            let mut socket = std::net::TcpStream::connect(addr).unwrap();
            socket
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut lines = BufReader::new(socket.try_clone().unwrap());
            let mut wait_for = |socket: &mut std::net::TcpStream, send: &str, want: &[&str]| {
                socket.write_all(send.as_bytes()).unwrap();
                let mut line = String::new();
                loop {
                    line.clear();
                    lines.read_line(&mut line).expect("a reply");
                    let command = line.split(' ').nth(1).unwrap_or("");
                    if want.contains(&command) {
                        return command.to_string();
                    }
                }
            };
            let got = wait_for(
                &mut socket,
                "NICK foo\r\nUSER u 0 * :u\r\n",
                &["001", "433"],
            );
            if got == "433" {
                refused.push(round);
                continue;
            }
            wait_for(&mut socket, "PING foo\r\n", &["PONG"]);
            wait_for(&mut socket, "PING abcdef\r\n", &["PONG"]);
        }
        refused
    })
    .await
    .unwrap();
    assert!(refused.is_empty(), "433 in rounds {refused:?}");
}

#[tokio::test]
async fn nick_rules_and_collisions_are_the_native_rules() {
    let server = TestServer::start_irc().await;
    let _native = server.join("Bob").await;
    let mut irc = Irc::connect(server.irc_addr()).await;
    irc.send("NICK bad!nick").await;
    let erroneous = irc.expect("432", |m| m.command == "432").await;
    assert_eq!(erroneous.params[1], "bad!nick");
    irc.send("NICK").await;
    irc.expect("431 or 461", |m| m.command == "431" || m.command == "461")
        .await;
    irc.send("NICK bob").await;
    irc.send("USER bob 0 * :Bob").await;
    let taken = irc.expect("433", |m| m.command == "433").await;
    assert_eq!(
        taken.params[..2],
        ["*", "bob"],
        "case-insensitive, across protocols"
    );
    irc.send("NICK Zoë").await;
    let welcome = irc.expect("001", |m| m.command == "001").await;
    assert_eq!(welcome.params[0], "Zoë", "Unicode nicks, as natively");
    // A native client cannot take an IRC user's name either.
    let refused = palaver_client::Connection::join(server.addr(), "ZOË").await;
    assert!(refused.is_err(), "the name is taken across protocols");
}

#[tokio::test]
async fn renaming_is_seen_on_both_protocols() {
    let server = TestServer::start_irc().await;
    let mut native = server.join("nina").await;
    let (mut irc, _) = Irc::register(server.irc_addr(), "ivan", &[]).await;
    let (mut other, _) = Irc::register(server.irc_addr(), "olga", &[]).await;
    irc.send("JOIN #general").await;
    other.send("JOIN #general").await;
    irc.sync().await;
    other.sync().await;
    irc.send("NICK nina").await;
    let taken = irc.expect("433", |m| m.command == "433").await;
    assert_eq!(taken.params[..2], ["ivan", "nina"]);
    irc.send("NICK ivan2").await;
    let own = irc.expect("NICK", |m| m.command == "NICK").await;
    assert_eq!(own.source.as_deref(), Some("ivan!~ivan@irc.palaver"));
    assert_eq!(own.params, ["ivan2"]);
    let seen = other.expect("NICK", |m| m.command == "NICK").await;
    assert_eq!(seen.params, ["ivan2"]);
    let frame = expect(&mut native, "renamed", |f| {
        matches!(
            f,
            ServerFrame::System {
                event: Some(SystemEvent::Renamed),
                ..
            }
        )
    })
    .await;
    let ServerFrame::System {
        username,
        new_username,
        ..
    } = frame
    else {
        unreachable!()
    };
    assert_eq!(
        (username.as_deref(), new_username.as_deref()),
        (Some("ivan"), Some("ivan2"))
    );
    native
        .send(&ClientFrame::PrivateMessage {
            attachments: Vec::new(),
            reply_to: None,
            target: "ivan2".into(),
            content: "found you".into(),
        })
        .await
        .unwrap();
    let dm = irc.expect("PRIVMSG", |m| m.command == "PRIVMSG").await;
    assert_eq!(dm.params, ["ivan2", "found you"]);
}

#[tokio::test]
async fn commands_have_their_numerics() {
    let server = TestServer::start_irc().await;
    let mut irc = Irc::connect(server.irc_addr()).await;
    irc.send("JOIN #general").await;
    let not_registered = irc.expect("451", |m| m.command == "451").await;
    assert_eq!(not_registered.params[0], "*");
    irc.send("NICK dana").await;
    irc.send("USER dana 0 * :Dana").await;
    irc.expect("376", |m| m.command == "376").await;
    irc.send("FROBNICATE x").await;
    let unknown = irc.expect("421", |m| m.command == "421").await;
    assert_eq!(unknown.params[..2], ["dana", "FROBNICATE"]);
    irc.send("USER again 0 * :x").await;
    irc.expect("462", |m| m.command == "462").await;
    for (line, numeric) in [
        ("KICK #general", "461"),
        ("PART", "461"),
        ("PRIVMSG", "411"),
        ("PRIVMSG nobody", "412"),
        ("PRIVMSG nobody :hi", "401"),
        ("PRIVMSG #nowhere :hi", "403"),
        ("PRIVMSG #general :hi", "404"),
        ("TOPIC #nowhere", "403"),
        ("PART #nowhere", "403"),
        ("PART #general", "442"),
        ("WHOIS nobody", "401"),
        ("WHOWAS nobody", "406"),
        ("MODE #general b", "368"),
        ("MODE dana +Z", "501"),
        ("OPER a b", "464"),
        ("KILL someone", "481"),
        ("ADMIN", "256"),
        ("LINKS", "365"),
        ("INVITE nobody #general", "442"),
        ("JOIN nohash", "403"),
    ] {
        irc.send(line).await;
        let reply = irc.sync().await;
        assert!(
            reply.iter().any(|m| m.command == numeric),
            "{line:?} should answer {numeric}, got {reply:?}"
        );
    }
}

#[tokio::test]
async fn silent_peers_are_pinged_then_dropped_and_slow_registrations_closed() {
    let server = TestServer::start_with(|c| {
        c.irc_bind = Some("127.0.0.1:0".parse().unwrap());
        c.irc_ping_interval = Duration::from_millis(300);
        c.join_timeout = Duration::from_secs(1);
    })
    .await;
    let mut native = server.join("watcher").await;
    let (mut alive, _) = Irc::register(server.irc_addr(), "alive", &[]).await;
    let (mut dead, _) = Irc::register(server.irc_addr(), "dead", &[]).await;
    alive.send("JOIN #general").await;
    dead.send("JOIN #general").await;
    // `alive` answers pings, `dead` does not.
    let ping = alive.expect("PING", |m| m.command == "PING").await;
    alive.send(&format!("PONG :{}", ping.params[0])).await;
    let last_words = dead.closed().await;
    assert!(
        last_words
            .iter()
            .any(|l| l.starts_with("ERROR :Closing link: Ping timeout")),
        "{last_words:?}"
    );
    let gone = expect(&mut native, "dead left", |f| {
        matches!(f, ServerFrame::System { username: Some(u), event: Some(SystemEvent::Disconnected), .. } if u == "dead")
    })
    .await;
    assert!(matches!(gone, ServerFrame::System { .. }));
    let ping = alive.expect("PING", |m| m.command == "PING").await;
    alive.send(&format!("PONG :{}", ping.params[0])).await;
    alive.send("PRIVMSG #general :still here").await;
    expect(
        &mut native,
        "alive's message",
        |f| matches!(f, ServerFrame::Message(m) if m.content == "still here"),
    )
    .await;
    // Connecting without registering is closed after the join timeout.
    let mut lazy = Irc::connect(server.irc_addr()).await;
    lazy.send("NICK lazy").await;
    let words = lazy.closed().await;
    assert!(
        words.iter().any(|l| l.contains("registration timed out")),
        "{words:?}"
    );
}

#[tokio::test]
async fn at_shutdown_an_irc_client_is_told_then_gets_error_before_the_socket_closes() {
    let server = TestServer::start_irc().await;
    let (mut irc, _) = Irc::register(server.irc_addr(), "leaver", &[]).await;
    server.server.shutdown().await;
    let lines = irc.closed().await;
    let notice = lines
        .iter()
        .position(|l| l.contains("NOTICE") && l.contains("shutting down"));
    let error = lines.iter().position(|l| l.starts_with("ERROR :"));
    assert!(
        notice.is_some() && error.is_some() && notice < error,
        "a notice, then ERROR with the reason, then the close: {lines:?}"
    );
    assert_eq!(
        error,
        Some(lines.len() - 1),
        "ERROR is the last line: {lines:?}"
    );
}

#[tokio::test]
async fn an_admin_opers_up_from_irc_and_uses_the_admins_powers() {
    let server = TestServer::start_with(|c| {
        c.irc_bind = Some("127.0.0.1:0".parse().unwrap());
        c.admins = vec!["chief".into()];
    })
    .await;
    // The admin account, registered from an app.
    let (mut chief, _) = palaver_client::Connection::join(server.addr(), "chief")
        .await
        .unwrap();
    chief
        .send(&ClientFrame::Register {
            password: palaver_client::proto::Secret("chief-password".into()),
        })
        .await
        .unwrap();
    expect(&mut chief, "registered", |f| {
        matches!(f, ServerFrame::Registered { .. })
    })
    .await;
    let mut spammer = server.join("spammer").await;
    let (mut op, _) = Irc::register(server.irc_addr(), "watchman", &[]).await;
    op.send("KLINE spammer :spam").await;
    assert_eq!(commands(&op.sync().await), ["481"], "not an operator yet");
    op.send("OPER chief wrong-password").await;
    assert_eq!(commands(&op.sync().await), ["464"]);
    op.send("OPER chief chief-password").await;
    let opered = op.sync().await;
    assert_eq!(commands(&opered), ["381", "MODE"]);
    assert_eq!(opered[1].params, ["watchman", "+o"]);
    op.send("WHOIS watchman").await;
    assert!(find(&op.sync().await, "313").is_some(), "WHOIS says so");
    op.send("KLINE 10 spammer :spam").await;
    let done = op.sync().await;
    assert!(
        done.iter()
            .any(|m| m.command == "NOTICE" && m.params[1].contains("spammer")),
        "{done:?}"
    );
    let closed = expect(
        &mut spammer,
        "the ban",
        |f| matches!(f, ServerFrame::Error { code, .. } if code.as_str() == "banned"),
    )
    .await;
    assert!(matches!(closed, ServerFrame::Error { .. }));
    // The other admins hear of it (IRC operators as a server NOTICE).
    expect(&mut chief, "the server notice", |f| {
        matches!(f, ServerFrame::Done { action, message, reference: None } if action == "ban" && message.starts_with("watchman: "))
    })
    .await;
    op.send("KILL chief :testing").await;
    op.sync().await;
    expect(
        &mut chief,
        "killed",
        |f| matches!(f, ServerFrame::Error { code, .. } if code.as_str() == "kicked"),
    )
    .await;
}

#[tokio::test]
async fn monitor_tells_when_watched_people_come_and_go_whatever_their_client() {
    let server = TestServer::start_irc().await;
    let (mut watcher, _) = Irc::register(server.irc_addr(), "watcher", &[]).await;
    let (_ivy, _) = Irc::register(server.irc_addr(), "ivy", &[]).await;
    watcher.send("MONITOR + ivy,Carol").await;
    let status = watcher.sync().await;
    assert_eq!(commands(&status), ["730", "731"]);
    assert_eq!(status[0].params[1], "ivy");
    assert_eq!(status[1].params[1], "Carol");
    // An app user comes, and goes.
    let carol = server.join("carol").await;
    let online = watcher.expect("730", |m| m.command == "730").await;
    assert_eq!(online.params[1], "carol");
    drop(carol);
    let offline = watcher.expect("731", |m| m.command == "731").await;
    assert_eq!(offline.params[1], "carol");
    watcher.send("MONITOR L").await;
    let list = watcher.sync().await;
    assert_eq!(commands(&list), ["732", "733"]);
    assert_eq!(list[0].params[1], "carol,ivy", "as compared: case-folded");
    watcher.send("MONITOR C").await;
    watcher.send("MONITOR S").await;
    assert!(watcher.sync().await.is_empty(), "cleared");
}
