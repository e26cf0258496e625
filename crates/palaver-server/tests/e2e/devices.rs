//! One account on two devices at once, over real sockets: what one device does (a reaction,
//! an edit, reading a room) reaches the other at once, and a device that was away gets it on
//! resume. Everyone else sees one user.

use palaver_client::proto::read_marker::ReadMarker;
use palaver_client::proto::{ClientFrame, Cursors, Secret, ServerFrame};
use palaver_client::Connection;

use super::harness::{drain, expect, expect_message, say_in, TestServer};

const PASSWORD: &str = "dana's long password";

/// A connection logged in to dana's account, resuming from `since` if given.
async fn dana(server: &TestServer, since: Option<Cursors>) -> Connection {
    let mut conn = Connection::connect(server.addr()).await.unwrap();
    conn.join_as(ClientFrame::Login {
        username: "dana".into(),
        password: Secret(PASSWORD.into()),
        since,
        rooms: None,
        resume_token: None,
    })
    .await
    .expect("dana logs in");
    conn
}

/// dana joins and registers her name (her first device).
async fn registered_dana(server: &TestServer) -> Connection {
    let mut first = server.join("dana").await;
    let register = ClientFrame::Register {
        password: Secret(PASSWORD.into()),
    };
    first.send(&register).await.unwrap();
    expect(&mut first, "registered", |f| {
        matches!(f, ServerFrame::Registered { .. })
    })
    .await;
    first
}

async fn send_with_ref(conn: &mut Connection, frame: ClientFrame, reference: &str) {
    let mut value = serde_json::to_value(&frame).unwrap();
    value["ref"] = reference.into();
    conn.send_raw(format!("{value}\n").as_bytes())
        .await
        .unwrap();
}

async fn read_marker(conn: &mut Connection, room: &str) -> ReadMarker {
    let frame = expect(
        conn,
        "read_marker",
        |f| matches!(f, ServerFrame::ReadMarker(m) if m.room.as_deref() == Some(room)),
    )
    .await;
    match frame {
        ServerFrame::ReadMarker(m) => m,
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn a_reaction_an_edit_and_a_read_marker_reach_the_other_device_and_survive_a_resume() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    // dana registers on her laptop, then logs in on her phone too.
    let mut laptop = registered_dana(&server).await;
    drain(&mut alice).await;
    let mut phone = dana(&server, None).await;

    // alice sees one dana: no second arrival.
    let seen = drain(&mut alice).await;
    assert!(
        !seen.iter().any(|f| matches!(f, ServerFrame::System { .. })),
        "{seen:?}"
    );

    // alice asks; both devices see it. The phone reacts, and the laptop sees the reaction.
    say_in(&mut alice, "general", "lunch at noon?").await;
    let question = expect_message(&mut laptop, "lunch at noon?").await;
    expect_message(&mut phone, "lunch at noon?").await;
    let react = ClientFrame::React {
        id: question.id,
        emoji: "👍".into(),
        on: None,
    };
    send_with_ref(&mut phone, react, "r").await;
    let frame = expect(&mut laptop, "the phone's reaction", |f| {
        matches!(f, ServerFrame::Reaction(_))
    })
    .await;
    let ServerFrame::Reaction(reaction) = frame else {
        unreachable!()
    };
    assert_eq!(
        (
            reaction.place.id,
            reaction.emoji.as_str(),
            reaction.place.username.as_str()
        ),
        (question.id, "👍", "dana")
    );

    // The laptop answers; the phone fixes the typo, and the laptop sees the edit.
    say_in(&mut laptop, "general", "yes, see yuo there").await;
    let answer = expect_message(&mut phone, "yes, see yuo there").await;
    let edit = ClientFrame::Edit {
        id: answer.id,
        content: "yes, see you there".into(),
    };
    send_with_ref(&mut phone, edit, "e").await;
    let frame = expect(&mut laptop, "the phone's edit", |f| {
        matches!(f, ServerFrame::Edited(_))
    })
    .await;
    let ServerFrame::Edited(edited) = frame else {
        unreachable!()
    };
    assert_eq!(edited.content, "yes, see you there");

    // The phone reads general up to the answer: the laptop is told (and the phone, with its ref).
    let mark = ClientFrame::MarkRead {
        room: Some("general".into()),
        with: None,
        seq: Some(answer.seq),
        timestamp: None,
    };
    send_with_ref(&mut phone, mark, "m").await;
    let on_laptop = read_marker(&mut laptop, "general").await;
    assert_eq!(on_laptop.seq, answer.seq);
    assert!(on_laptop.reference.is_none());
    assert!(on_laptop.timestamp.is_some());
    let on_phone = read_marker(&mut phone, "general").await;
    assert_eq!(
        (on_phone.seq, on_phone.reference),
        (answer.seq, Some("m".into()))
    );

    // The laptop goes away (lid closed) after seeing everything so far.
    let cursors: Cursors = [("general".to_string(), edited.place.seq)]
        .into_iter()
        .collect();
    drop(laptop);
    // alice still sees dana (the phone is on): no departure.
    let seen = drain(&mut alice).await;
    assert!(
        !seen.iter().any(|f| matches!(f, ServerFrame::System { .. })),
        "{seen:?}"
    );

    // Meanwhile, on the phone: alice writes again; dana reacts, edits and reads it all.
    say_in(&mut alice, "general", "great, booked a table").await;
    let booked = expect_message(&mut phone, "great, booked a table").await;
    let react = ClientFrame::React {
        id: booked.id,
        emoji: "🎉".into(),
        on: None,
    };
    send_with_ref(&mut phone, react, "r2").await;
    let edit = ClientFrame::Edit {
        id: answer.id,
        content: "yes, see you there!".into(),
    };
    send_with_ref(&mut phone, edit, "e2").await;
    let newest = expect(
        &mut phone,
        "the second edit",
        |f| matches!(f, ServerFrame::Edited(e) if e.content.ends_with('!')),
    )
    .await;
    let ServerFrame::Edited(newest) = newest else {
        unreachable!()
    };
    let mark = ClientFrame::MarkRead {
        room: Some("general".into()),
        with: None,
        seq: Some(newest.place.seq),
        timestamp: None,
    };
    send_with_ref(&mut phone, mark, "m2").await;
    assert_eq!(
        read_marker(&mut phone, "general").await.seq,
        newest.place.seq
    );

    // The laptop comes back with its cursor: the reaction and the edit are replayed, and its
    // marker is where the phone left it.
    let mut laptop = dana(&server, Some(cursors)).await;
    let mut replay = Vec::new();
    let mut marker = None;
    loop {
        match expect(&mut laptop, "the replay", |_| true).await {
            ServerFrame::Resumed { complete, .. } => {
                assert!(complete);
                break;
            }
            ServerFrame::ReadMarker(m) => marker = Some(m),
            frame => replay.push(frame),
        }
    }
    let replayed_reaction = replay.iter().any(|f| {
        matches!(f, ServerFrame::Reaction(r) if r.place.id == booked.id && r.emoji == "🎉" && r.added)
    });
    assert!(replayed_reaction, "the reaction is replayed: {replay:?}");
    let replayed_edit = replay.iter().any(|f| {
        matches!(f, ServerFrame::Edited(e) if e.place.id == answer.id && e.content == "yes, see you there!")
    });
    assert!(replayed_edit, "the edit is replayed: {replay:?}");
    let marker = match marker {
        Some(m) => m,
        None => read_marker(&mut laptop, "general").await,
    };
    assert_eq!(marker.seq, newest.place.seq, "the marker the phone set");
}

#[tokio::test]
async fn a_private_conversation_read_on_one_device_is_read_on_the_other() {
    let server = TestServer::start().await;
    let mut bob = server.join("bob").await;
    let mut laptop = registered_dana(&server).await;
    let mut phone = dana(&server, None).await;
    super::harness::private(&mut bob, "dana", "are you free?").await;
    let mut seqs = Vec::new();
    for device in [&mut laptop, &mut phone] {
        let frame = expect(device, "bob's question", |f| {
            matches!(f, ServerFrame::PrivateMessage(_))
        })
        .await;
        let ServerFrame::PrivateMessage(m) = frame else {
            unreachable!()
        };
        seqs.push(m.seq);
    }
    assert_eq!(seqs[0], seqs[1]);
    let mark = ClientFrame::MarkRead {
        room: None,
        with: Some("Bob".into()),
        seq: Some(seqs[0]),
        timestamp: None,
    };
    phone.send(&mark).await.unwrap();
    let frame = expect(&mut laptop, "the marker", |f| {
        matches!(f, ServerFrame::ReadMarker(_))
    })
    .await;
    let ServerFrame::ReadMarker(m) = frame else {
        unreachable!()
    };
    assert_eq!((m.with.as_deref(), m.seq), (Some("bob"), seqs[0]));
}

#[tokio::test]
async fn an_irc_client_logged_in_to_the_account_is_another_device_of_the_same_user() {
    use base64::Engine;
    let server = TestServer::start_irc().await;
    let mut bob = server.join("bob").await;
    let mut app = registered_dana(&server).await;
    drain(&mut bob).await;

    // dana's IRC client logs in with SASL: it is shown general (JOIN and names), bob sees
    // nothing new.
    let mut irc = super::irc_client::Irc::connect(server.irc_addr()).await;
    irc.send("CAP LS 302").await;
    irc.send("CAP REQ :sasl echo-message message-tags").await;
    irc.send("AUTHENTICATE PLAIN").await;
    irc.expect("AUTHENTICATE +", |m| m.command == "AUTHENTICATE")
        .await;
    let plain = base64::engine::general_purpose::STANDARD.encode(format!("dana\0dana\0{PASSWORD}"));
    irc.send(&format!("AUTHENTICATE {plain}")).await;
    irc.expect("903", |m| m.command == "903").await;
    irc.send("NICK dana").await;
    irc.send("USER d 0 * :Dana").await;
    irc.send("CAP END").await;
    irc.expect("001", |m| m.command == "001").await;
    irc.expect("JOIN #general", |m| {
        m.command == "JOIN" && m.params[0] == "#general"
    })
    .await;
    let names = irc.expect("names", |m| m.command == "353").await;
    let listed = names.params.last().unwrap();
    assert!(
        listed.contains("bob") && listed.contains("dana"),
        "{names:?}"
    );
    irc.expect("366", |m| m.command == "366").await;
    let seen = drain(&mut bob).await;
    assert!(
        !seen.iter().any(|f| matches!(f, ServerFrame::System { .. })),
        "{seen:?}"
    );

    // A private message sent from the app shows on IRC as dana's own (echo-message); bob's
    // answer reaches both.
    super::harness::private(&mut app, "bob", "lunch?").await;
    let echo = irc
        .expect("the app's message", |m| m.command == "PRIVMSG")
        .await;
    assert_eq!(echo.params, ["bob", "lunch?"]);
    assert!(echo
        .source
        .as_deref()
        .unwrap_or_default()
        .starts_with("dana!"));
    super::harness::private(&mut bob, "dana", "yes").await;
    let answer = irc.expect("bob's answer", |m| m.command == "PRIVMSG").await;
    assert_eq!(answer.params, ["dana", "yes"]);
    expect(
        &mut app,
        "bob's answer",
        |f| matches!(f, ServerFrame::PrivateMessage(m) if m.content == "yes"),
    )
    .await;
}
