//! Every bad input gets its error code, and nobody else notices.

use palaver_client::proto::{ClientFrame, ServerFrame};
use tokio::io::AsyncWriteExt;

use crate::harness::*;

async fn expect_error(conn: &mut palaver_client::Connection, code: &str) -> String {
    let frame = expect(conn, code, |f| matches!(f, ServerFrame::Error { .. })).await;
    let ServerFrame::Error {
        code: got, message, ..
    } = frame
    else {
        unreachable!()
    };
    assert_eq!(got.as_str(), code, "message was: {message}");
    assert!(!message.is_empty());
    message
}

#[tokio::test]
async fn each_bad_input_gets_its_code_and_the_connection_keeps_working() {
    let server = TestServer::start().await;
    let mut bystander = server.join("bystander").await;
    let mut conn = palaver_client::Connection::connect(server.addr())
        .await
        .unwrap();

    let before_join: Vec<(Vec<u8>, &str)> = vec![
        (b"{nope\n".to_vec(), "invalid_json"),
        (b"[1,2,3]\n".to_vec(), "invalid_json"),
        (b"\xff\xfe\xfd\n".to_vec(), "invalid_utf8"),
        (b"{\"type\":\"teleport\"}\n".to_vec(), "unknown_type"),
        (b"{\"username\":\"x\"}\n".to_vec(), "missing_field"),
        (b"{\"type\":\"message\"}\n".to_vec(), "missing_field"),
        (
            b"{\"type\":\"join\",\"username\":42}\n".to_vec(),
            "invalid_field",
        ),
        (
            b"{\"type\":\"join\",\"username\":[\"a\"]}\n".to_vec(),
            "invalid_field",
        ),
        (
            b"{\"type\":\"history\",\"before\":123456789012345678901234567890}\n".to_vec(),
            "invalid_field",
        ),
        (
            b"{\"type\":\"history\",\"before\":-5}\n".to_vec(),
            "invalid_field",
        ),
        (
            b"{\"type\":\"message\",\"content\":\"too early\"}\n".to_vec(),
            "not_joined",
        ),
        (
            b"{\"type\":\"join\",\"username\":\"\"}\n".to_vec(),
            "invalid_username",
        ),
        (
            b"{\"type\":\"join\",\"username\":\"bystander\"}\n".to_vec(),
            "username_taken",
        ),
    ];
    for (input, code) in &before_join {
        conn.send_raw(input).await.unwrap();
        expect_error(&mut conn, code).await;
    }
    // Deeply nested JSON is refused, not a stack overflow.
    let mut deep = b"{\"type\":\"message\",\"content\":".to_vec();
    deep.extend(std::iter::repeat_n(b'[', 100_000));
    deep.extend(std::iter::repeat_n(b']', 100_000));
    deep.extend_from_slice(b"}\n");
    // (200 kB is over the 16 KiB line limit: frame_too_large. Within the limit, nesting is caught by the parser.)
    conn.send_raw(&deep).await.unwrap();
    expect_error(&mut conn, "frame_too_large").await;
    let nested = format!(
        "{{\"type\":\"ping\",\"x\":{}{}}}\n",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    conn.send_raw(nested.as_bytes()).await.unwrap();
    expect_error(&mut conn, "invalid_json").await;

    // A megabyte without a newline: refused once, and the line after it is read normally.
    conn.send_raw(&vec![b'x'; 1024 * 1024]).await.unwrap();
    conn.send_raw(b"\n{\"type\":\"join\",\"username\":\"survivor\"}\n")
        .await
        .unwrap();
    let message = expect_error(&mut conn, "frame_too_large").await;
    assert!(message.contains("16384"), "{message}");
    expect(&mut conn, "welcome after the flood", |f| {
        matches!(f, ServerFrame::Welcome(_))
    })
    .await;

    let after_join: Vec<(String, &str)> = vec![
        (
            "{\"type\":\"join\",\"username\":\"again\"}".into(),
            "already_joined",
        ),
        (
            "{\"type\":\"message\",\"content\":\"   \"}".into(),
            "empty_content",
        ),
        (
            format!(
                "{{\"type\":\"message\",\"content\":\"{}\"}}",
                "y".repeat(5000)
            ),
            "content_too_long",
        ),
        // A NUL cannot be stored (PostgreSQL text has none): refused, and nobody else's
        // message in the same batch is lost to it.
        (
            "{\"type\":\"message\",\"content\":\"a\\u0000b\"}".into(),
            "invalid_field",
        ),
        (
            "{\"type\":\"topic\",\"room\":\"general\",\"topic\":\"a\\u0000b\"}".into(),
            "invalid_field",
        ),
        (
            "{\"type\":\"message\",\"content\":\"x\",\"room\":\"nowhere\"}".into(),
            "unknown_room",
        ),
        (
            "{\"type\":\"message\",\"content\":\"x\",\"room\":\"bad room!\"}".into(),
            "invalid_room_name",
        ),
        (
            "{\"type\":\"private_message\",\"target\":\"ghost\",\"content\":\"x\"}".into(),
            "unknown_user",
        ),
        (
            "{\"type\":\"leave_room\",\"room\":\"nowhere\"}".into(),
            "unknown_room",
        ),
        (
            "{\"type\":\"history\",\"room\":\"a\",\"with\":\"b\"}".into(),
            "invalid_field",
        ),
    ];
    for (input, code) in &after_join {
        conn.send_raw(format!("{input}\n").as_bytes())
            .await
            .unwrap();
        expect_error(&mut conn, code).await;
    }

    // Errors echo the client's ref.
    conn.send_raw(b"{\"type\":\"message\",\"ref\":\"r-9\"}\n")
        .await
        .unwrap();
    let frame = expect(&mut conn, "error with ref", |f| {
        matches!(f, ServerFrame::Error { .. })
    })
    .await;
    let ServerFrame::Error { reference, .. } = frame else {
        unreachable!()
    };
    assert_eq!(reference, Some(serde_json::json!("r-9")));

    // A connection that dies mid-line does not disturb anyone.
    let mut half = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    half.write_all(b"{\"type\":\"join\",\"username\":\"half\"}\n{\"type\":\"mess")
        .await
        .unwrap();
    drop(half);

    // Through all of it the survivor and the bystander chat normally.
    say(&mut conn, "still here").await;
    expect_message(&mut bystander, "still here").await;
    expect_message(&mut conn, "still here").await;
}

#[tokio::test]
async fn a_client_that_never_joins_is_closed_after_the_timeout() {
    let server =
        TestServer::start_with(|c| c.join_timeout = std::time::Duration::from_millis(500)).await;
    let mut idle = palaver_client::Connection::connect(server.addr())
        .await
        .unwrap();
    let frames = expect_closed(&mut idle).await;
    assert_eq!(
        frames.iter().filter_map(error_code).collect::<Vec<_>>(),
        vec!["join_timeout"]
    );
    // A client that joins in time is not affected.
    let mut ok = server.join("punctual").await;
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    ok.send(&ClientFrame::Ping).await.unwrap();
    expect(&mut ok, "pong", |f| matches!(f, ServerFrame::Pong { .. })).await;
}
