//! IRCv3 capabilities: server-time and message-tags, echo-message, labeled-response with batch,
//! userhost-in-names, and draft/chathistory served from the same store as native history.

use palaver_client::proto::ServerFrame;

use super::harness::{expect, expect_message, say, TestServer};
use super::irc_client::{commands, find, Irc};

const ALL: &[&str] = &[
    "server-time",
    "message-tags",
    "echo-message",
    "labeled-response",
    "batch",
    "userhost-in-names",
    "multi-prefix",
    "draft/chathistory",
];

#[tokio::test]
async fn echo_message_and_labeled_responses() {
    let server = TestServer::start_irc().await;
    let mut native = server.join("app").await;
    let (mut irc, _) = Irc::register(server.irc_addr(), "v3", ALL).await;
    let (mut plain, _) = Irc::register(server.irc_addr(), "plain", &[]).await;
    plain.send("JOIN #general").await;
    plain.sync().await;

    irc.send("@label=j1 JOIN #general").await;
    let open = irc.message().await;
    assert_eq!(open.command, "BATCH");
    assert_eq!(open.tag("label"), Some(Some("j1")));
    assert_eq!(open.params[1], "labeled-response");
    let id = open.params[0].trim_start_matches('+').to_string();
    let rest = irc.until("end of batch", |m| m.command == "BATCH").await;
    assert_eq!(commands(&rest), ["JOIN", "353", "366", "BATCH"]);
    assert!(rest[..3]
        .iter()
        .all(|m| m.tag("batch") == Some(Some(id.as_str()))));
    assert_eq!(rest[3].params, [format!("-{id}")]);
    let names = &rest[1].params[3];
    assert!(
        names.contains("v3!~v3@irc.palaver") && names.contains("app!~app@native.palaver"),
        "{names}"
    );

    // The echo carries the label, the msgid and the time the others see.
    irc.send("@label=m1 PRIVMSG #general :echoed").await;
    let echo = irc.expect("echo", |m| m.command == "PRIVMSG").await;
    assert_eq!(echo.tag("label"), Some(Some("m1")));
    assert_eq!(echo.source.as_deref(), Some("v3!~v3@irc.palaver"));
    let seen = expect_message(&mut native, "echoed").await;
    assert_eq!(echo.tag("msgid"), Some(Some(seen.id.to_string().as_str())));
    assert_eq!(echo.tag("time"), Some(Some(seen.timestamp.as_str())));
    let other = plain.expect("PRIVMSG", |m| m.command == "PRIVMSG").await;
    assert!(other.tags.is_empty(), "no tags without the caps: {other:?}");
    // Without echo-message the sender gets nothing back.
    plain.send("PRIVMSG #general :no echo").await;
    assert!(find(&plain.sync().await, "PRIVMSG").is_none());

    irc.send("@label=p1 PING :x").await;
    let pong = irc.expect("PONG", |m| m.command == "PONG").await;
    assert_eq!(pong.tag("label"), Some(Some("p1")));
    irc.send("@label=n1 NOTICE nobody :x").await;
    let ack = irc.expect("ACK", |m| m.command == "ACK").await;
    assert_eq!(ack.tag("label"), Some(Some("n1")), "no reply becomes ACK");
    irc.send("@label=w1 WHOIS app").await;
    let batch = irc.message().await;
    assert_eq!(
        (batch.command.as_str(), batch.tag("label")),
        ("BATCH", Some(Some("w1")))
    );
    let rest = irc.until("end", |m| m.command == "BATCH").await;
    assert_eq!(commands(&rest)[0], "311");
    irc.send("@label=u1 FROB").await;
    let unknown = irc.expect("421", |m| m.command == "421").await;
    assert_eq!(unknown.tag("label"), Some(Some("u1")));

    // Several targets under one label: one batch with every echo.
    irc.send("@label=m2 PRIVMSG #general,app :to both").await;
    let open = irc.expect("BATCH", |m| m.command == "BATCH").await;
    assert_eq!(open.tag("label"), Some(Some("m2")));
    let rest = irc.until("end", |m| m.command == "BATCH").await;
    let targets: Vec<&str> = rest
        .iter()
        .filter(|m| m.command == "PRIVMSG")
        .map(|m| m.params[0].as_str())
        .collect();
    assert_eq!(targets, ["#general", "app"]);

    // A private message echo.
    irc.send("@label=d1 PRIVMSG app :private").await;
    let echo = irc.expect("echo", |m| m.command == "PRIVMSG").await;
    assert_eq!(echo.params, ["app", "private"]);
    assert_eq!(echo.tag("label"), Some(Some("d1")));
    expect(
        &mut native,
        "dm",
        |f| matches!(f, ServerFrame::PrivateMessage(m) if m.content == "private"),
    )
    .await;
}

#[tokio::test]
async fn chathistory_reads_the_native_history() {
    let server = TestServer::start_irc().await;
    let mut native = server.join("app").await;
    for i in 0..5 {
        say(&mut native, &format!("old {i}")).await;
        expect_message(&mut native, &format!("old {i}")).await;
    }
    let (mut irc, _) = Irc::register(server.irc_addr(), "reader", ALL).await;
    irc.send("JOIN #general").await;
    irc.sync().await;
    irc.send("CHATHISTORY LATEST #general * 3").await;
    let start = irc.expect("BATCH", |m| m.command == "BATCH").await;
    assert_eq!(start.params[1..], ["chathistory", "#general"]);
    let batch = irc.until("end", |m| m.command == "BATCH").await;
    let texts: Vec<&str> = batch
        .iter()
        .filter(|m| m.command == "PRIVMSG")
        .map(|m| m.params[1].as_str())
        .collect();
    assert_eq!(texts, ["old 2", "old 3", "old 4"], "oldest first");
    // The sender's address is the one live lines show for an app user.
    let sources: Vec<&str> = batch
        .iter()
        .filter(|m| m.command == "PRIVMSG")
        .filter_map(|m| m.source.as_deref())
        .collect();
    assert_eq!(sources, ["app!~app@native.palaver"; 3]);
    let first_id = batch[0].tag("msgid").flatten().unwrap().to_string();
    irc.send(&format!("CHATHISTORY BEFORE #general msgid={first_id} 10"))
        .await;
    irc.expect("BATCH", |m| m.command == "BATCH").await;
    let older = irc.until("end", |m| m.command == "BATCH").await;
    let texts: Vec<&str> = older
        .iter()
        .filter(|m| m.command == "PRIVMSG")
        .map(|m| m.params[1].as_str())
        .collect();
    assert_eq!(texts, ["old 0", "old 1"]);
    // LATEST after a message: the newest ones, but only those after it.
    irc.send(&format!("CHATHISTORY LATEST #general msgid={first_id} 10"))
        .await;
    irc.expect("BATCH", |m| m.command == "BATCH").await;
    let newer = irc.until("end", |m| m.command == "BATCH").await;
    let texts: Vec<&str> = newer
        .iter()
        .filter(|m| m.command == "PRIVMSG")
        .map(|m| m.params[1].as_str())
        .collect();
    assert_eq!(texts, ["old 3", "old 4"]);
    irc.send("CHATHISTORY LATEST #secret * 3").await;
    let fail = irc.expect("FAIL", |m| m.command == "FAIL").await;
    assert_eq!(fail.params[..2], ["CHATHISTORY", "INVALID_TARGET"]);
    irc.send("CHATHISTORY AROUND #general * 3").await;
    let fail = irc.expect("FAIL", |m| m.command == "FAIL").await;
    assert_eq!(fail.params[..2], ["CHATHISTORY", "INVALID_PARAMS"]);
    // Two requests back to back (a client loading two windows): both answered, in order.
    irc.send("CHATHISTORY LATEST #general * 1\r\nCHATHISTORY LATEST #general * 2")
        .await;
    let mut sizes = Vec::new();
    while sizes.len() < 2 {
        irc.expect("BATCH start", |m| m.command == "BATCH").await;
        let batch = irc.until("end", |m| m.command == "BATCH").await;
        assert!(!batch.iter().any(|m| m.command == "FAIL"), "{batch:?}");
        sizes.push(batch.iter().filter(|m| m.command == "PRIVMSG").count());
    }
    assert_eq!(sizes, [1, 2]);
}

#[tokio::test]
async fn extended_join_account_tag_account_notify_and_setname() {
    let server = TestServer::start_irc().await;
    let caps = [
        "extended-join",
        "account-tag",
        "account-notify",
        "setname",
        "message-tags",
    ];
    let (mut alice, _) = Irc::register(server.irc_addr(), "alice", &caps).await;
    alice.send("JOIN #caps").await;
    let own = alice.sync().await;
    assert_eq!(own[0].command, "JOIN");
    assert_eq!(
        own[0].params,
        ["#caps", "*", "alice the tester"],
        "extended-join, own"
    );
    let (mut bob, _) = Irc::register(server.irc_addr(), "bob", &[]).await;
    bob.send("JOIN #caps").await;
    bob.sync().await;
    let join = alice.expect("bob's JOIN", |m| m.command == "JOIN").await;
    assert_eq!(
        join.params,
        ["#caps", "*", "bob the tester"],
        "a guest: no account"
    );

    // bob registers his nick: alice hears of the account, and his messages carry it.
    bob.send("REGISTER * bob@example.org bobs-password").await;
    bob.expect("REGISTER SUCCESS", |m| m.command == "REGISTER")
        .await;
    let account = alice.expect("ACCOUNT", |m| m.command == "ACCOUNT").await;
    assert_eq!(account.params, ["bob"]);
    assert_eq!(account.source.as_deref(), Some("bob!~bob@irc.palaver"));
    bob.send("PRIVMSG #caps :with my account").await;
    let said = alice.expect("PRIVMSG", |m| m.command == "PRIVMSG").await;
    assert_eq!(said.tag("account").flatten(), Some("bob"));
    // An app user's name change of real name reaches alice as SETNAME.
    bob.send("SETNAME :Robert Tables").await;
    let renamed = alice.expect("SETNAME", |m| m.command == "SETNAME").await;
    assert_eq!(renamed.params, ["Robert Tables"]);
    alice.send("WHOIS bob").await;
    let whois = alice.sync().await;
    assert_eq!(find(&whois, "311").unwrap().params[5], "Robert Tables");
    // A native user who joins shows as a guest with its real name.
    let mut app = server.join("appuser").await;
    app.send(&palaver_client::proto::ClientFrame::JoinRoom {
        room: "caps".into(),
        key: None,
    })
    .await
    .unwrap();
    let join = alice
        .expect("the app's JOIN", |m| m.command == "JOIN")
        .await;
    assert_eq!(join.params[..2], ["#caps", "*"]);
}
