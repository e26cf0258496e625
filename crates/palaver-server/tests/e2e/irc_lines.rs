//! IRC line handling: 512 bytes plus tags, 417 beyond, a line without an end never buffered
//! past the limit, input a byte at a time, bare LF, and non-UTF-8 refused without harm.

use std::time::Duration;

use tokio::io::AsyncWriteExt;

use palaver_client::proto::{ServerFrame, SystemEvent};

use super::harness::{expect, TestServer};
use super::irc_client::{commands, Irc};

#[tokio::test]
async fn lines_over_512_bytes_get_417_and_the_connection_carries_on() {
    let server = TestServer::start_irc().await;
    let mut native = server.join("reader").await;
    let (mut irc, _) = Irc::register(server.irc_addr(), "writer", &[]).await;
    irc.send("JOIN #general").await;
    irc.sync().await;
    // Exactly 512 bytes with CRLF is allowed.
    let prefix = "PRIVMSG #general :";
    let fits = format!("{prefix}{}", "a".repeat(510 - prefix.len()));
    assert_eq!(fits.len() + 2, 512);
    irc.send(&fits).await;
    let long = "a".repeat(510 - prefix.len());
    expect(
        &mut native,
        "the 512-byte line",
        |f| matches!(f, ServerFrame::Message(m) if m.content == long),
    )
    .await;
    // One byte more is too long.
    irc.send(&format!("{fits}b")).await;
    let reply = irc.sync().await;
    assert_eq!(commands(&reply), ["417"], "{reply:?}");
    assert_eq!(reply[0].params[0], "writer");
    // Tags do not count against the 512 (up to their own limit of 8191).
    irc.send(&format!(
        "@+example={} PRIVMSG #general :tagged",
        "t".repeat(4000)
    ))
    .await;
    expect(
        &mut native,
        "tagged",
        |f| matches!(f, ServerFrame::Message(m) if m.content == "tagged"),
    )
    .await;
    // A line of 100 kB without an end: one 417, then the next line works.
    irc.writer
        .write_all("x".repeat(100_000).as_bytes())
        .await
        .unwrap();
    irc.send("").await;
    irc.send("PRIVMSG #general :after the flood").await;
    let reply = irc.sync().await;
    assert_eq!(commands(&reply), ["417"], "{reply:?}");
    expect(
        &mut native,
        "after",
        |f| matches!(f, ServerFrame::Message(m) if m.content == "after the flood"),
    )
    .await;
}

#[tokio::test]
async fn input_fed_byte_by_byte_works() {
    let server = TestServer::start_irc().await;
    let mut native = server.join("reader").await;
    let mut irc = Irc::connect(server.irc_addr()).await;
    let script = "NICK slow\r\nUSER slow 0 * :Slow Typist\r\nJOIN #general\nPRIVMSG #general :one byte at a time ✓\r\n";
    for byte in script.as_bytes() {
        irc.writer.write_all(&[*byte]).await.unwrap();
        irc.writer.flush().await.unwrap();
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    let welcome = irc.expect("001", |m| m.command == "001").await;
    assert_eq!(welcome.params[0], "slow");
    let m = expect(&mut native, "the message", |f| {
        matches!(f, ServerFrame::Message(_))
    })
    .await;
    let ServerFrame::Message(m) = m else {
        unreachable!()
    };
    assert_eq!(
        (m.username.as_str(), m.content.as_str()),
        ("slow", "one byte at a time ✓")
    );
}

#[tokio::test]
async fn invalid_utf8_is_refused_and_the_connection_carries_on() {
    let server = TestServer::start_irc().await;
    let (mut irc, _) = Irc::register(server.irc_addr(), "latin1", &[]).await;
    irc.writer
        .write_all(b"PRIVMSG #general :caf\xe9\r\n")
        .await
        .unwrap();
    let reply = irc.sync().await;
    assert_eq!(commands(&reply), ["FAIL"]);
    assert_eq!(reply[0].params[..2], ["PRIVMSG", "INVALID_UTF8"]);
}

#[tokio::test]
async fn thousands_of_lines_at_once_are_an_excess_flood_but_a_paste_is_only_slowed() {
    let server = TestServer::start_with(|c| {
        c.irc_bind = Some("127.0.0.1:0".parse().unwrap());
        c.hub.rate_per_second = 5.0;
        c.hub.rate_burst = 10;
    })
    .await;
    let mut native = server.join("watcher").await;

    // A paste of 30 lines: over the rate, so it is slowed (fakelag), and all of it arrives.
    let (mut paster, _) = Irc::register(server.irc_addr(), "paster", &[]).await;
    paster.send("JOIN #general").await;
    paster.sync().await;
    let paste: String = (0..30)
        .map(|n| format!("PRIVMSG #general :paste {n}\r\n"))
        .collect();
    paster.writer.write_all(paste.as_bytes()).await.unwrap();
    for n in 0..30 {
        let text = format!("paste {n}");
        expect(
            &mut native,
            "a pasted line",
            |f| matches!(f, ServerFrame::Message(m) if m.content == text),
        )
        .await;
    }

    // 10,000 lines in one go: disconnected at once, not drained for half an hour.
    let (mut flooder, _) = Irc::register(server.irc_addr(), "flooder", &[]).await;
    flooder.send("JOIN #general").await;
    flooder.sync().await;
    let flood: String = (0..10_000)
        .map(|n| format!("PRIVMSG #general :flood {n}\r\n"))
        .collect();
    let mut writer = flooder.writer;
    let sending = tokio::spawn(async move {
        // The server stops reading once it has had enough; the write may fail then.
        let _ = writer.write_all(flood.as_bytes()).await;
        writer
    });
    flooder.writer = match tokio::time::timeout(Duration::from_secs(2), sending).await {
        Ok(writer) => writer.unwrap(),
        Err(_) => panic!("the server should read the flood until it decides"),
    };
    let lines = flooder.closed().await;
    assert!(
        lines
            .iter()
            .any(|l| l == "ERROR :Closing link: Excess Flood"),
        "{lines:?}"
    );
    let mut relayed = 0;
    loop {
        match expect(&mut native, "the flooder's departure", |f| {
            matches!(f, ServerFrame::Message(_) | ServerFrame::System { .. })
        })
        .await
        {
            ServerFrame::Message(m) if m.content.starts_with("flood ") => relayed += 1,
            ServerFrame::System { message, .. }
                if message == "flooder left the chat (flooding)" =>
            {
                break
            }
            _ => {}
        }
    }
    assert!(relayed < 100, "{relayed} flood lines were relayed");
}

#[tokio::test]
async fn a_quit_that_waits_behind_a_burst_still_says_why_when_the_client_closes_at_once() {
    let server = TestServer::start_with(|c| {
        c.irc_bind = Some("127.0.0.1:0".parse().unwrap());
        c.hub.rate_per_second = 2.0;
        c.hub.rate_burst = 2;
    })
    .await;
    let mut native = server.join("watcher").await;
    let (mut quitter, _) = Irc::register(server.irc_addr(), "quitter", &[]).await;
    quitter.send("JOIN #general").await;
    quitter.sync().await;
    // A burst, then QUIT, then the socket closes at once (as irc-framework does): the QUIT is
    // still waiting its turn when the connection ends.
    let burst: String = (0..6)
        .map(|n| format!("PRIVMSG #general :burst {n}\r\n"))
        .chain(std::iter::once("QUIT :see you\r\n".to_string()))
        .collect();
    quitter.writer.write_all(burst.as_bytes()).await.unwrap();
    drop(quitter);
    let left = expect(&mut native, "quitter left", |f| {
        matches!(f, ServerFrame::System { event: Some(SystemEvent::Disconnected), username: Some(u), .. } if u == "quitter")
    })
    .await;
    assert!(
        matches!(&left, ServerFrame::System { reason: Some(r), .. } if r == "Quit: see you"),
        "{left:?}"
    );
}
