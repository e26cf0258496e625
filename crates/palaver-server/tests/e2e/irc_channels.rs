//! IRC channels and messages, and the same rooms seen from both protocols: an IRC user and a
//! native user in `#general`, talking both ways, privately too, seeing each other come and go.

use palaver_client::proto::{ClientFrame, ServerFrame, SystemEvent};

use super::harness::{expect, expect_message, say, TestServer};
use super::irc_client::{commands, find, Irc};

#[tokio::test]
async fn join_names_topic_part() {
    let server = TestServer::start_irc().await;
    let (mut alice, _) = Irc::register(server.irc_addr(), "alice", &[]).await;
    let (mut bob, _) = Irc::register(server.irc_addr(), "bob", &[]).await;
    alice.send("JOIN #rust").await;
    let joined = alice.sync().await;
    assert_eq!(commands(&joined), ["JOIN", "353", "366"], "{joined:?}");
    assert_eq!(
        joined[0].source.as_deref(),
        Some("alice!~alice@irc.palaver")
    );
    assert_eq!(joined[0].params, ["#rust"]);
    assert_eq!(
        joined[1].params,
        ["alice", "=", "#rust", "@alice"],
        "the creator is operator"
    );
    bob.send("JOIN #rust").await;
    let seen = alice.expect("bob's JOIN", |m| m.command == "JOIN").await;
    assert_eq!(seen.source.as_deref(), Some("bob!~bob@irc.palaver"));
    let names = bob.sync().await;
    let list = &find(&names, "353").unwrap().params[3];
    assert_eq!(list, "@alice bob");
    bob.send("JOIN #rust").await;
    assert!(bob.sync().await.is_empty(), "joining again says nothing");

    bob.send("TOPIC #rust :Rust and friends").await;
    for irc in [&mut alice, &mut bob] {
        let topic = irc.expect("TOPIC", |m| m.command == "TOPIC").await;
        assert_eq!(topic.params, ["#rust", "Rust and friends"]);
        assert_eq!(topic.source.as_deref(), Some("bob!~bob@irc.palaver"));
    }
    alice.send("TOPIC #rust").await;
    let reply = alice.sync().await;
    assert_eq!(commands(&reply), ["332", "333"]);
    assert_eq!(reply[0].params[1..], ["#rust", "Rust and friends"]);
    assert_eq!(reply[1].params[1..3], ["#rust", "bob"]);

    alice.send("LIST").await;
    let list = alice.sync().await;
    let rust = list
        .iter()
        .find(|m| m.command == "322" && m.params[1] == "#rust")
        .expect("322 for #rust");
    assert_eq!(rust.params[2..], ["2", "Rust and friends"]);
    assert_eq!(list.last().unwrap().command, "323");

    alice.send("MODE #rust").await;
    let modes = alice.sync().await;
    assert_eq!(commands(&modes), ["324", "329"]);
    assert_eq!(modes[0].params[1..], ["#rust", "+n"]);

    bob.send("PART #rust :bye").await;
    let part = alice.expect("PART", |m| m.command == "PART").await;
    assert_eq!(part.params[0], "#rust");
    assert_eq!(part.source.as_deref(), Some("bob!~bob@irc.palaver"));
    let own = bob.sync().await;
    assert_eq!(commands(&own), ["PART"]);
    bob.send("PART #rust").await;
    assert_eq!(commands(&bob.sync().await), ["442"]);
}

#[tokio::test]
async fn irc_and_native_users_share_rooms_and_messages() {
    let server = TestServer::start_irc().await;
    let mut carol = server.join("carol").await;
    let (mut dave, _) =
        Irc::register(server.irc_addr(), "dave", &["server-time", "message-tags"]).await;
    dave.send("JOIN #general").await;
    let joined = dave.sync().await;
    let names = &find(&joined, "353").expect("names").params[3];
    assert!(
        names
            .split(' ')
            .any(|n| n.trim_start_matches('@') == "carol"),
        "{names}"
    );
    let notice = expect(&mut carol, "dave joined", |f| {
        matches!(f, ServerFrame::System { event: Some(SystemEvent::Joined), username: Some(u), .. } if u == "dave")
    })
    .await;
    assert!(matches!(notice, ServerFrame::System { room: Some(r), .. } if r == "general"));
    carol
        .send(&ClientFrame::Users {
            room: Some("general".into()),
        })
        .await
        .unwrap();
    let users = expect(&mut carol, "users", |f| {
        matches!(f, ServerFrame::Users { .. })
    })
    .await;
    let ServerFrame::Users { users, .. } = users else {
        unreachable!()
    };
    assert!(users.contains(&"dave".to_string()), "{users:?}");

    // Native to IRC: same id and server time.
    say(&mut carol, "hello from the app").await;
    let sent = expect_message(&mut carol, "hello from the app").await;
    let got = dave.expect("PRIVMSG", |m| m.command == "PRIVMSG").await;
    assert_eq!(got.params, ["#general", "hello from the app"]);
    assert_eq!(got.source.as_deref(), Some("carol!~carol@native.palaver"));
    assert_eq!(got.tag("time"), Some(Some(sent.timestamp.as_str())));
    assert_eq!(got.tag("msgid"), Some(Some(sent.id.to_string().as_str())));

    // IRC to native.
    dave.send("PRIVMSG #general :hello from irssi").await;
    let m = expect_message(&mut carol, "hello from irssi").await;
    assert_eq!((m.room.as_str(), m.username.as_str()), ("general", "dave"));
    // A CTCP ACTION is the app's /me, both ways.
    dave.send("PRIVMSG #general :\u{1}ACTION waves\u{1}").await;
    expect_message(&mut carol, "/me waves").await;
    say(&mut carol, "/me waves back").await;
    let action = dave.expect("ACTION", |m| m.command == "PRIVMSG").await;
    assert_eq!(action.params[1], "\u{1}ACTION waves back\u{1}");

    // Private messages both ways.
    carol
        .send(&ClientFrame::PrivateMessage {
            attachments: Vec::new(),
            reply_to: None,
            target: "dave".into(),
            content: "psst".into(),
        })
        .await
        .unwrap();
    let dm = dave.expect("DM", |m| m.command == "PRIVMSG").await;
    assert_eq!(dm.params, ["dave", "psst"]);
    assert_eq!(dm.source.as_deref(), Some("carol!~carol@native.palaver"));
    dave.send("PRIVMSG carol :psst back").await;
    let back = expect(&mut carol, "DM back", |f| {
        matches!(f, ServerFrame::PrivateMessage(_))
    })
    .await;
    let ServerFrame::PrivateMessage(back) = back else {
        unreachable!()
    };
    assert_eq!(
        (back.sender.as_str(), back.content.as_str()),
        ("dave", "psst back")
    );

    // A native message longer than an IRC line arrives whole, in pieces, in order.
    let long: String = (0..300)
        .map(|i| format!("w{i} "))
        .collect::<String>()
        .trim_end()
        .to_string();
    say(&mut carol, &long).await;
    let mut pieces: Vec<String> = Vec::new();
    while pieces.concat().len() < long.len() {
        let m = dave.expect("piece", |m| m.command == "PRIVMSG").await;
        pieces.push(m.params[1].clone());
    }
    assert!(pieces.len() > 1);
    assert_eq!(pieces.concat(), long);

    // NOTICE is relayed, never stored, and answers nothing.
    dave.send("NOTICE #general :heads up").await;
    let n = expect(&mut carol, "notice", |f| {
        matches!(f, ServerFrame::Notice { .. })
    })
    .await;
    assert!(
        matches!(n, ServerFrame::Notice { content, username, .. } if content == "heads up" && username == "dave")
    );
    dave.send("NOTICE nobody :x").await;
    assert!(dave.sync().await.is_empty(), "no error for a NOTICE");

    // Leaving: one QUIT per user, seen natively as a departure.
    let (mut erin, _) = Irc::register(server.irc_addr(), "erin", &[]).await;
    erin.send("JOIN #general,#side").await;
    dave.send("JOIN #side").await;
    erin.sync().await;
    dave.sync().await;
    erin.send("QUIT :gone fishing").await;
    let words = erin.closed().await;
    assert!(words.iter().any(|l| l.starts_with("ERROR")), "{words:?}");
    let quit = dave.expect("QUIT", |m| m.command == "QUIT").await;
    assert_eq!(quit.params, ["Quit: gone fishing"]);
    let after = dave.sync().await;
    assert!(
        find(&after, "QUIT").is_none(),
        "one QUIT for two shared channels: {after:?}"
    );
    let left = expect(&mut carol, "erin left", |f| {
        matches!(f, ServerFrame::System { event: Some(SystemEvent::Disconnected), username: Some(u), .. } if u == "erin")
    })
    .await;
    assert!(
        matches!(left, ServerFrame::System { reason: Some(r), .. } if r == "Quit: gone fishing")
    );
}

#[tokio::test]
async fn who_whois_whowas_away_and_kick() {
    let server = TestServer::start_irc().await;
    let (mut op, _) = Irc::register(server.irc_addr(), "op", &["away-notify"]).await;
    op.send("JOIN #ops").await;
    op.sync().await;
    let (mut user, _) = Irc::register(server.irc_addr(), "user", &[]).await;
    user.send("JOIN #ops").await;
    user.sync().await;
    let mut native = server.join("app").await;
    native
        .send(&ClientFrame::JoinRoom {
            room: "ops".into(),
            key: None,
        })
        .await
        .unwrap();
    expect(&mut native, "joined", |f| {
        matches!(f, ServerFrame::JoinedRoom { .. })
    })
    .await;
    // Both IRC users see the app join before anything else.
    for irc in [&mut op, &mut user] {
        irc.expect("app's JOIN", |m| {
            m.command == "JOIN" && m.source.as_deref() == Some("app!~app@native.palaver")
        })
        .await;
    }

    op.send("WHO #ops").await;
    let who = op.sync().await;
    let rows: Vec<_> = who.iter().filter(|m| m.command == "352").collect();
    assert_eq!(rows.len(), 3, "{who:?}");
    let op_row = rows.iter().find(|m| m.params[5] == "op").unwrap();
    assert_eq!(
        op_row.params[1..7],
        ["#ops", "~op", "irc.palaver", "palaver", "op", "H@"]
    );
    assert_eq!(op_row.params[7], "0 op the tester");
    let app_row = rows.iter().find(|m| m.params[5] == "app").unwrap();
    assert_eq!(app_row.params[3], "native.palaver");
    assert_eq!(who.last().unwrap().command, "315");

    op.send("WHOIS app").await;
    let whois = op.sync().await;
    assert_eq!(commands(&whois), ["311", "319", "312", "320", "317", "318"]);
    assert!(whois[1].params[2].split(' ').any(|c| c == "#ops"));

    user.send("AWAY :lunch").await;
    assert_eq!(commands(&user.sync().await), ["306"]);
    let away = op.expect("AWAY", |m| m.command == "AWAY").await;
    assert_eq!(away.params, ["lunch"]);
    op.send("WHOIS user").await;
    let whois = op.sync().await;
    assert_eq!(find(&whois, "301").unwrap().params[2], "lunch");
    user.send("AWAY").await;
    assert_eq!(commands(&user.sync().await), ["305"]);
    assert!(op
        .expect("back", |m| m.command == "AWAY")
        .await
        .params
        .is_empty());

    // Only the room's operator may kick; everyone sees it.
    user.send("KICK #ops app :no").await;
    assert_eq!(commands(&user.sync().await), ["482"]);
    op.send("KICK #ops nobody").await;
    assert_eq!(commands(&op.sync().await), ["401"]);
    op.send("KICK #ops user :behave").await;
    let kick = user.expect("KICK", |m| m.command == "KICK").await;
    assert_eq!(kick.params, ["#ops", "user", "behave"]);
    assert_eq!(kick.source.as_deref(), Some("op!~op@irc.palaver"));
    let seen = op.expect("KICK", |m| m.command == "KICK").await;
    assert_eq!(seen.params, ["#ops", "user", "behave"]);
    let native_saw = expect(&mut native, "kicked", |f| {
        matches!(
            f,
            ServerFrame::System {
                event: Some(SystemEvent::Kicked),
                ..
            }
        )
    })
    .await;
    assert!(
        matches!(native_saw, ServerFrame::System { by: Some(b), username: Some(u), .. } if b == "op" && u == "user")
    );
    op.send("KICK #ops user").await;
    assert_eq!(commands(&op.sync().await), ["441"]);
    user.send("PRIVMSG #ops :let me in").await;
    assert_eq!(commands(&user.sync().await), ["404"]);

    user.send("QUIT").await;
    user.closed().await;
    op.send("WHOWAS user").await;
    let was = op.sync().await;
    assert_eq!(commands(&was), ["314", "312", "369"]);
    assert_eq!(
        was[0].params[1..6],
        ["user", "~user", "irc.palaver", "*", "user the tester"]
    );
}
