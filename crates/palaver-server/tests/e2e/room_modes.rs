//! Room modes (IRC's channel modes) and invitations: one set of rules whatever the client. A
//! moderated room silences native and IRC users without voice alike; a key, a ban mask or an
//! invite-only room keeps natives out as it keeps IRC users out; a topic lock holds for both.

use palaver_client::proto::{ClientFrame, ServerFrame};

use super::harness::{
    drain, error_code, expect, expect_message, join_room, say_in, set_mode, TestServer,
};
use super::irc_client::{commands, find, Irc};

#[tokio::test]
async fn a_moderated_room_silences_everyone_without_voice_whatever_their_client() {
    let server = TestServer::start_irc().await;
    let mut op = server.join("olga").await;
    assert!(matches!(
        join_room(&mut op, "stage", None).await,
        ServerFrame::JoinedRoom { .. }
    ));
    let mut ann = server.join("ann").await;
    join_room(&mut ann, "stage", None).await;
    let (mut irc, _) = Irc::register(server.irc_addr(), "ian", &[]).await;
    irc.send("JOIN #stage").await;
    irc.sync().await;

    set_mode(&mut op, "stage", "+m", &[]).await;
    let seen = irc.expect("MODE +m", |m| m.command == "MODE").await;
    assert_eq!(seen.params, ["#stage", "+m"]);
    assert_eq!(seen.source.as_deref(), Some("olga!~olga@native.palaver"));
    expect(&mut ann, "mode_changed", |f| {
        matches!(f, ServerFrame::ModeChanged { modes, username, .. } if modes == "+m" && username == "olga")
    })
    .await;

    say_in(&mut ann, "stage", "can I talk?").await;
    let refused = expect(&mut ann, "refusal", |f| error_code(f).is_some()).await;
    assert_eq!(error_code(&refused), Some("moderated"));
    irc.send("PRIVMSG #stage :me neither?").await;
    let refused = irc.expect("404", |m| m.command == "404").await;
    assert_eq!(refused.params[1], "#stage");
    say_in(&mut op, "stage", "operators speak").await;
    expect_message(&mut ann, "operators speak").await;

    // Voice, given from IRC terms by a native operator to an IRC user and a native user.
    set_mode(&mut op, "stage", "+vv", &["ian", "ann"]).await;
    let voiced = irc.expect("MODE +vv", |m| m.command == "MODE").await;
    assert_eq!(voiced.params, ["#stage", "+vv", "ian", "ann"]);
    irc.send("NAMES #stage").await;
    let names = irc.sync().await;
    assert_eq!(find(&names, "353").unwrap().params[3], "+ann +ian @olga");
    irc.send("PRIVMSG #stage :now I may").await;
    expect_message(&mut op, "now I may").await;
    say_in(&mut ann, "stage", "and so may I").await;
    expect_message(&mut op, "and so may I").await;

    // Only operators change modes: ann (voiced, not an operator) may not; neither may IRC's ian.
    set_mode(&mut ann, "stage", "-m", &[]).await;
    let refused = expect(&mut ann, "refusal", |f| error_code(f).is_some()).await;
    assert_eq!(error_code(&refused), Some("not_authorized"));
    irc.send("MODE #stage -m").await;
    let refused = irc.expect("482", |m| m.command.starts_with('4')).await;
    assert_eq!(refused.command, "482");
    assert_eq!(refused.params[1], "#stage");
}

#[tokio::test]
async fn a_key_a_ban_mask_and_invite_only_keep_natives_out_as_they_keep_irc_users_out() {
    let server = TestServer::start_irc().await;
    let (mut op, _) = Irc::register(server.irc_addr(), "oscar", &["invite-notify"]).await;
    op.send("JOIN #den").await;
    op.sync().await;

    op.send("MODE #den +k sesame").await;
    op.expect("MODE +k", |m| m.command == "MODE").await;
    let mut nina = server.join("nina").await;
    let refused = join_room(&mut nina, "den", None).await;
    assert_eq!(error_code(&refused), Some("wrong_room_key"));
    let refused = join_room(&mut nina, "den", Some("wrong")).await;
    assert_eq!(error_code(&refused), Some("wrong_room_key"));
    assert!(matches!(
        join_room(&mut nina, "den", Some("sesame")).await,
        ServerFrame::JoinedRoom { .. }
    ));
    let (mut irc, _) = Irc::register(server.irc_addr(), "ivy", &[]).await;
    irc.send("JOIN #den").await;
    assert_eq!(commands(&irc.sync().await), ["475"]);
    irc.send("JOIN #den sesame").await;
    assert_eq!(commands(&irc.sync().await)[0], "JOIN");
    op.send("MODE #den -k").await;
    op.expect("MODE -k", |m| m.command == "MODE").await;

    // A ban mask in IRC terms keeps a native user out (and the list shows it).
    op.send("MODE #den +b bob").await;
    let ban = op.expect("MODE +b", |m| m.command == "MODE").await;
    assert_eq!(ban.params, ["#den", "+b", "bob!*@*"]);
    let mut bob = server.join("bob").await;
    let refused = join_room(&mut bob, "den", None).await;
    assert_eq!(error_code(&refused), Some("banned_from_room"));
    op.send("MODE #den b").await;
    let list = op.sync().await;
    assert_eq!(commands(&list), ["367", "368"]);
    assert_eq!(list[0].params[1..4], ["#den", "bob!*@*", "oscar"]);

    // Invite only: refused until invited, from IRC, and then let in once.
    op.send("MODE #den +i").await;
    op.expect("MODE +i", |m| m.command == "MODE").await;
    let mut carol = server.join("carol").await;
    let refused = join_room(&mut carol, "den", None).await;
    assert_eq!(error_code(&refused), Some("invite_only"));
    op.send("INVITE carol #den").await;
    let answer = op.sync().await;
    assert_eq!(find(&answer, "341").unwrap().params[1..], ["carol", "#den"]);
    expect(
        &mut carol,
        "invited",
        |f| matches!(f, ServerFrame::Invited { room, by, .. } if room == "den" && by == "oscar"),
    )
    .await;
    assert!(matches!(
        join_room(&mut carol, "den", None).await,
        ServerFrame::JoinedRoom { .. }
    ));
    carol
        .send(&ClientFrame::LeaveRoom {
            room: "den".into(),
            reason: None,
        })
        .await
        .unwrap();
    drain(&mut carol).await;
    let refused = join_room(&mut carol, "den", None).await;
    assert_eq!(
        error_code(&refused),
        Some("invite_only"),
        "an invitation is used once"
    );

    // A native member invites from the app; the IRC user gets an INVITE line.
    let (mut zed, _) = Irc::register(server.irc_addr(), "zed", &[]).await;
    op.send("MODE #den -i").await;
    op.expect("MODE -i", |m| m.command == "MODE").await;
    nina.send(&ClientFrame::Invite {
        room: "den".into(),
        username: "zed".into(),
    })
    .await
    .unwrap();
    let invite = zed.expect("INVITE", |m| m.command == "INVITE").await;
    assert_eq!(invite.params, ["zed", "#den"]);
    assert_eq!(invite.source.as_deref(), Some("nina!~nina@native.palaver"));
    let notified = op.expect("invite-notify", |m| m.command == "INVITE").await;
    assert_eq!(notified.params, ["zed", "#den"]);
}

#[tokio::test]
async fn a_topic_lock_holds_for_both_protocols_and_modes_are_shown() {
    let server = TestServer::start_irc().await;
    let mut op = server.join("olga").await;
    join_room(&mut op, "news", None).await;
    set_mode(&mut op, "news", "+tl", &["10"]).await;
    let mut ann = server.join("ann").await;
    let joined = join_room(&mut ann, "news", None).await;
    let ServerFrame::JoinedRoom { room, .. } = joined else {
        panic!("{joined:?}")
    };
    assert_eq!(room.modes.as_deref(), Some("+ntl"));
    ann.send(&ClientFrame::Topic {
        room: "news".into(),
        topic: "mine now".into(),
    })
    .await
    .unwrap();
    let refused = expect(&mut ann, "refusal", |f| error_code(f).is_some()).await;
    assert_eq!(error_code(&refused), Some("not_authorized"));
    let (mut irc, _) = Irc::register(server.irc_addr(), "ian", &[]).await;
    irc.send("JOIN #news").await;
    irc.sync().await;
    irc.send("TOPIC #news :or mine").await;
    assert_eq!(commands(&irc.sync().await), ["482"]);
    irc.send("MODE #news").await;
    let modes = irc.sync().await;
    assert_eq!(commands(&modes), ["324", "329"]);
    assert_eq!(modes[0].params[1..], ["#news", "+ntl", "10"]);
    op.send(&ClientFrame::Topic {
        room: "news".into(),
        topic: "Operators' news".into(),
    })
    .await
    .unwrap();
    let topic = irc.expect("TOPIC", |m| m.command == "TOPIC").await;
    assert_eq!(topic.params[1], "Operators' news");
}
