//! Reactions, replies, edits and deletions over real sockets: who may do what, what everyone
//! sees live, what history and search show afterwards, and what a resume replays.

use palaver_client::proto::{ChatMessage, ClientFrame, Cursors, ServerFrame};
use palaver_client::Connection;

use super::harness::{
    drain, error_code, expect, expect_message, join_room, private, room_history, say_in, TestServer,
};

/// Sends a request with a `ref` and returns its answer: the `ack`, or the refusal.
async fn ask(conn: &mut Connection, frame: ClientFrame, reference: &str) -> ServerFrame {
    let mut value = serde_json::to_value(&frame).unwrap();
    value["ref"] = reference.into();
    conn.send_raw(format!("{value}\n").as_bytes())
        .await
        .unwrap();
    expect(conn, reference, |f| {
        f.reference().and_then(|r| r.as_str()) == Some(reference)
    })
    .await
}

fn react(id: u64, emoji: &str) -> ClientFrame {
    ClientFrame::React {
        on: None,
        id,
        emoji: emoji.into(),
    }
}

fn edit(id: u64, content: &str) -> ClientFrame {
    ClientFrame::Edit {
        id,
        content: content.into(),
    }
}

fn public(m: &ChatMessage) -> &palaver_client::proto::PublicMessage {
    match m {
        ChatMessage::Message(m) => m,
        other => panic!("not a public message: {other:?}"),
    }
}

#[tokio::test]
async fn reactions_edits_and_deletions_reach_the_room_and_stay_in_history() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    let mut bob = server.join("bob").await;
    say_in(&mut alice, "general", "the deploy is tonight").await;
    let sent = expect_message(&mut bob, "the deploy is tonight").await;

    // bob reacts: everyone in the room sees it, bob included.
    let ack = ask(&mut bob, react(sent.id, "👍"), "r1").await;
    assert!(matches!(ack, ServerFrame::Ack { .. }), "{ack:?}");
    for conn in [&mut alice, &mut bob] {
        let seen = expect(conn, "reaction", |f| matches!(f, ServerFrame::Reaction(_))).await;
        let ServerFrame::Reaction(r) = seen else {
            unreachable!()
        };
        assert_eq!(
            (
                r.place.id,
                r.emoji.as_str(),
                r.place.username.as_str(),
                r.added
            ),
            (sent.id, "👍", "bob", true)
        );
        assert_eq!(r.place.room.as_deref(), Some("general"));
    }

    // Someone else's message cannot be edited, nor deleted by a member who is no moderator.
    let refused = ask(&mut bob, edit(sent.id, "the deploy is cancelled"), "e1").await;
    assert_eq!(error_code(&refused), Some("not_authorized"), "{refused:?}");
    let refused = ask(&mut bob, ClientFrame::Delete { id: sent.id }, "d1").await;
    assert_eq!(error_code(&refused), Some("not_authorized"), "{refused:?}");
    let refused = ask(&mut bob, react(999_999, "👍"), "r2").await;
    assert_eq!(error_code(&refused), Some("unknown_message"));
    let refused = ask(&mut bob, react(sent.id, "two words"), "r3").await;
    assert_eq!(error_code(&refused), Some("invalid_field"));

    // Its author edits it.
    let ack = ask(&mut alice, edit(sent.id, "the deploy is tomorrow"), "e2").await;
    assert!(matches!(ack, ServerFrame::Ack { .. }), "{ack:?}");
    let seen = expect(&mut bob, "edited", |f| matches!(f, ServerFrame::Edited(_))).await;
    let ServerFrame::Edited(e) = seen else {
        unreachable!()
    };
    assert_eq!(
        (e.place.id, e.content.as_str()),
        (sent.id, "the deploy is tomorrow")
    );

    // A reply shows what it answers.
    alice
        .send(&ClientFrame::Message {
            attachments: Vec::new(),
            content: "good, more time".into(),
            room: Some("general".into()),
            reply_to: Some(sent.id),
        })
        .await
        .unwrap();
    let reply = expect_message(&mut bob, "good, more time").await;
    assert_eq!(reply.state.reply_to, Some(sent.id));
    let preview = reply.state.reply_preview.expect("a preview");
    assert_eq!(
        (preview.username.as_str(), preview.content.as_str()),
        ("alice", "the deploy is tomorrow")
    );

    // Someone joining later sees the message as it is now.
    let mut carol = server.join("carol").await;
    let shown = room_history(&mut carol, "general").await;
    let now = public(&shown[0]);
    assert_eq!(now.content, "the deploy is tomorrow");
    assert!(now.state.edited.is_some());
    assert_eq!(now.state.reactions[0].users, ["bob"]);
    assert_eq!(shown.len(), 2, "history holds messages, not their changes");

    // Deleted: gone from history and search, everywhere.
    let ack = ask(&mut alice, ClientFrame::Delete { id: sent.id }, "d2").await;
    assert!(matches!(ack, ServerFrame::Ack { .. }), "{ack:?}");
    expect(
        &mut carol,
        "deleted",
        |f| matches!(f, ServerFrame::Deleted(d) if d.place.id == sent.id),
    )
    .await;
    let shown = room_history(&mut carol, "general").await;
    let gone = public(&shown[0]);
    assert!(gone.state.deleted);
    assert_eq!(gone.content, "");
    assert!(gone.state.reactions.is_empty());
    assert!(public(&shown[1]).state.reply_preview.is_none());
    for word in ["tomorrow", "tonight"] {
        carol
            .send(&ClientFrame::Search {
                query: word.into(),
                room: None,
                with: None,
                from: None,
                after: None,
                before: None,
                before_id: None,
                limit: None,
            })
            .await
            .unwrap();
        let found = expect(&mut carol, "results", |f| {
            matches!(f, ServerFrame::SearchResults { .. })
        })
        .await;
        let ServerFrame::SearchResults { messages, .. } = found else {
            unreachable!()
        };
        assert!(messages.is_empty(), "{word}: {messages:?}");
    }
    let refused = ask(&mut bob, react(sent.id, "👍"), "r4").await;
    assert_eq!(error_code(&refused), Some("message_deleted"));
    // Entering an empty room makes an operator, not someone who may erase others' history.
    join_room(&mut bob, "empty", None).await;
    join_room(&mut alice, "empty", None).await;
    say_in(&mut alice, "empty", "keep me").await;
    let kept = expect_message(&mut bob, "keep me").await;
    let refused = ask(&mut bob, ClientFrame::Delete { id: kept.id }, "d0").await;
    assert_eq!(error_code(&refused), Some("not_authorized"), "{refused:?}");
}

#[tokio::test]
async fn nobody_outside_a_conversation_can_touch_its_messages() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    let mut bob = server.join("bob").await;
    let mut mallory = server.join("mallory").await;
    join_room(&mut alice, "ops", None).await;
    say_in(&mut alice, "ops", "ops only").await;
    let in_ops = expect_message(&mut alice, "ops only").await;
    private(&mut alice, "bob", "just between us").await;
    let dm = match expect(&mut bob, "dm", |f| {
        matches!(f, ServerFrame::PrivateMessage(_))
    })
    .await
    {
        ServerFrame::PrivateMessage(m) => m,
        _ => unreachable!(),
    };
    for (id, what) in [
        (in_ops.id, "a room mallory is not in"),
        (dm.id, "someone else's dm"),
    ] {
        for (frame, r) in [
            (react(id, "👀"), "a"),
            (edit(id, "mine now"), "b"),
            (ClientFrame::Delete { id }, "c"),
        ] {
            let refused = ask(&mut mallory, frame, r).await;
            assert_eq!(error_code(&refused), Some("unknown_message"), "{what}");
        }
        let reply = ClientFrame::Message {
            attachments: Vec::new(),
            content: "replying".into(),
            room: Some("general".into()),
            reply_to: Some(id),
        };
        let refused = ask(&mut mallory, reply, "d").await;
        assert_eq!(error_code(&refused), Some("unknown_message"), "{what}");
    }
    // The two of them react in their private conversation: both see it, nobody else.
    let ack = ask(&mut bob, react(dm.id, "❤️"), "r").await;
    assert!(matches!(ack, ServerFrame::Ack { .. }), "{ack:?}");
    for conn in [&mut alice, &mut bob] {
        let seen = expect(conn, "reaction", |f| matches!(f, ServerFrame::Reaction(_))).await;
        let ServerFrame::Reaction(r) = seen else {
            unreachable!()
        };
        assert_eq!(r.place.conversation_for("alice"), "bob");
        assert_eq!(r.place.conversation_for("bob"), "alice");
    }
    let others = drain(&mut mallory).await;
    assert!(
        !others.iter().any(|f| matches!(f, ServerFrame::Reaction(_))),
        "{others:?}"
    );
}

#[tokio::test]
async fn changes_made_while_you_were_away_are_replayed_on_resume() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    let mut bob = Connection::connect(server.addr()).await.unwrap();
    let welcome = bob
        .join_as(ClientFrame::Join {
            username: "bob".into(),
            since: None,
            rooms: None,
            resume_token: None,
        })
        .await
        .unwrap();
    let token = welcome.resume_token.clone();
    say_in(&mut bob, "general", "I'll be back").await;
    let sent = expect_message(&mut bob, "I'll be back").await;
    private(&mut alice, "bob", "see you").await;
    let dm = match expect(&mut bob, "dm", |f| {
        matches!(f, ServerFrame::PrivateMessage(_))
    })
    .await
    {
        ServerFrame::PrivateMessage(m) => m,
        _ => unreachable!(),
    };
    let cursors: Cursors = [
        ("general".to_string(), sent.seq),
        ("@alice".to_string(), dm.seq),
    ]
    .into_iter()
    .collect();
    drop(bob);

    // While bob is away: a reaction to his message, an edit of alice's private one.
    let ack = ask(&mut alice, react(sent.id, "👋"), "r").await;
    assert!(matches!(ack, ServerFrame::Ack { .. }), "{ack:?}");
    let ack = ask(&mut alice, edit(dm.id, "see you soon"), "e").await;
    assert!(matches!(ack, ServerFrame::Ack { .. }), "{ack:?}");

    let mut bob = Connection::connect(server.addr()).await.unwrap();
    bob.join_as(ClientFrame::Join {
        username: "bob".into(),
        since: Some(cursors),
        rooms: None,
        resume_token: token,
    })
    .await
    .unwrap();
    let mut replay = Vec::new();
    loop {
        match expect(&mut bob, "replay", |_| true).await {
            ServerFrame::Resumed { complete, .. } => {
                assert!(complete);
                break;
            }
            frame => replay.push(frame),
        }
    }
    let reaction = replay.iter().find_map(|f| match f {
        ServerFrame::Reaction(r) => Some(r),
        _ => None,
    });
    let reaction = reaction.unwrap_or_else(|| panic!("the reaction is replayed: {replay:?}"));
    assert_eq!(
        (reaction.place.id, reaction.emoji.as_str()),
        (sent.id, "👋")
    );
    assert!(reaction.place.seq > sent.seq, "it moves the cursor on");
    let edited = replay.iter().find_map(|f| match f {
        ServerFrame::Edited(e) => Some(e),
        _ => None,
    });
    let edited = edited.unwrap_or_else(|| panic!("the edit is replayed: {replay:?}"));
    assert_eq!(
        (edited.place.id, edited.content.as_str()),
        (dm.id, "see you soon")
    );
}

#[tokio::test]
async fn typing_reaches_the_others_live_from_either_protocol() {
    use super::irc_client::Irc;
    use palaver_client::proto::TypingState;

    let server = TestServer::start_irc().await;
    let mut alice = server.join("alice").await;
    let mut bob = server.join("bob").await;
    let (mut irc, _) = Irc::register(server.irc_addr(), "ivy", &["message-tags"]).await;
    irc.send("JOIN #general").await;
    irc.expect("ivy's join", |m| m.command == "JOIN").await;
    irc.sync().await;

    alice
        .send(&ClientFrame::Typing {
            room: Some("general".into()),
            target: None,
            state: TypingState::Active,
        })
        .await
        .unwrap();
    let seen = expect(&mut bob, "alice typing", |f| {
        matches!(f, ServerFrame::Typing { .. })
    })
    .await;
    let ServerFrame::Typing {
        room,
        username,
        state,
        ..
    } = seen
    else {
        unreachable!()
    };
    assert_eq!(
        (room.as_deref(), username.as_str(), state),
        (Some("general"), "alice", TypingState::Active)
    );
    let tagmsg = irc
        .expect("TAGMSG +typing", |m| m.command == "TAGMSG")
        .await;
    assert_eq!(tagmsg.tag("+typing"), Some(Some("active")));
    assert!(tagmsg
        .source
        .as_deref()
        .unwrap_or_default()
        .starts_with("alice!"));
    let own = drain(&mut alice).await;
    assert!(
        !own.iter().any(|f| matches!(f, ServerFrame::Typing { .. })),
        "not back to the one typing: {own:?}"
    );

    // From IRC: the apps get `typing`, privately too.
    irc.send("@+typing=paused TAGMSG bob").await;
    let seen = expect(&mut bob, "ivy typing", |f| {
        matches!(f, ServerFrame::Typing { .. })
    })
    .await;
    let ServerFrame::Typing {
        target,
        username,
        state,
        ..
    } = seen
    else {
        unreachable!()
    };
    assert_eq!(
        (target.as_deref(), username.as_str(), state),
        (Some("bob"), "ivy", TypingState::Paused)
    );
    let others = drain(&mut alice).await;
    assert!(
        !others
            .iter()
            .any(|f| matches!(f, ServerFrame::Typing { .. })),
        "a private typing notice stays private: {others:?}"
    );
}

#[tokio::test]
async fn irc_formatting_and_the_apps_rich_text_are_one() {
    use super::irc_client::Irc;

    let server = TestServer::start_irc().await;
    let mut alice = server.join("alice").await;
    let (mut irc, _) = Irc::register(server.irc_addr(), "ivy", &[]).await;
    irc.send("JOIN #general").await;
    irc.expect("ivy's join", |m| m.command == "JOIN").await;
    irc.send("PRIVMSG #general :\u{2}bold\u{2} and \u{1D}italic\u{1D}, 2*3*4 stays")
        .await;
    let got = expect(
        &mut alice,
        "ivy's message",
        |f| matches!(f, ServerFrame::Message(m) if m.username == "ivy"),
    )
    .await;
    let ServerFrame::Message(m) = got else {
        unreachable!()
    };
    assert_eq!(m.content, "**bold** and _italic_, 2\\*3\\*4 stays");
    say_in(
        &mut alice,
        "general",
        "**hi** *there*, see [docs](https://docs.rs)",
    )
    .await;
    let line = irc
        .expect("alice's message", |m| m.command == "PRIVMSG")
        .await;
    assert_eq!(
        line.params[1],
        "\u{2}hi\u{2} \u{1D}there\u{1D}, see docs (https://docs.rs)"
    );
}
