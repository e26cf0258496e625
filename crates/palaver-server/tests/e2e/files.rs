//! Files over real sockets: asked for on the chat connection, sent and fetched over HTTP with
//! signed links, shown with the message to whoever can read it and to nobody else.

use std::net::SocketAddr;

use palaver_client::proto::{ChatMessage, ClientFrame, ServerFrame};
use palaver_client::Connection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::harness::{error_code, expect, join_room, room_history, TestServer};

/// What an HTTP request got back.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request on a connection of its own.
async fn http(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> Answer {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server may refuse before reading everything: a failed write is its answer.
    let _ = stream.write_all(body).await;
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP answer: {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"))
    {
        body = unchunk(&body);
    }
    Answer {
        status,
        headers,
        body,
    }
}

fn unchunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = raw.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = usize::from_str_radix(std::str::from_utf8(&raw[..end]).unwrap().trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[end + 2..end + 2 + size]);
        raw = &raw[end + 2 + size + 2..];
    }
}

async fn start() -> TestServer {
    TestServer::start_with(|c| {
        c.http_bind = Some("127.0.0.1:0".parse().unwrap());
        c.files.max_bytes = 100_000;
    })
    .await
}

fn http_addr(server: &TestServer) -> SocketAddr {
    server.server.addresses().http.expect("the HTTP listener")
}

/// Asks to upload and sends the bytes: the new file's id.
async fn upload(
    server: &TestServer,
    conn: &mut Connection,
    name: &str,
    content_type: &str,
    bytes: &[u8],
) -> String {
    let url = upload_link(conn, name, content_type, bytes.len() as u64).await;
    let answer = http(http_addr(server), "PUT", &url, bytes).await;
    assert_eq!(
        answer.status,
        201,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let file: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(file["size"], bytes.len());
    file["id"].as_str().unwrap().to_string()
}

async fn upload_link(conn: &mut Connection, name: &str, content_type: &str, size: u64) -> String {
    conn.send(&ClientFrame::Upload {
        name: name.into(),
        size,
        content_type: content_type.into(),
    })
    .await
    .unwrap();
    match expect(conn, "upload_ready", |f| {
        matches!(
            f,
            ServerFrame::UploadReady { .. } | ServerFrame::Error { .. }
        )
    })
    .await
    {
        ServerFrame::UploadReady { url, .. } => url,
        other => panic!("no upload link: {other:?}"),
    }
}

fn attachments_of(frame: &ServerFrame) -> Vec<palaver_proto::message_changes::Attachment> {
    match frame {
        ServerFrame::Message(m) => m.state.attachments.clone(),
        ServerFrame::PrivateMessage(m) => m.state.attachments.clone(),
        _ => Vec::new(),
    }
}

#[tokio::test]
async fn a_file_reaches_its_room_and_only_those_who_can_read_it_can_download_it() {
    let server = start().await;
    let mut alice = server.join("alice").await;
    let mut bob = server.join("bob").await;
    let mut mallory = server.join("mallory").await;
    join_room(&mut alice, "ops", None).await;
    join_room(&mut bob, "ops", None).await;
    let notes = b"the secret plan, line by line\n".repeat(100);
    let id = upload(
        &server,
        &mut alice,
        "../plan notes.txt",
        "text/plain",
        &notes,
    )
    .await;

    // Someone else cannot send alice's file, nor a made-up one.
    mallory
        .send(&ClientFrame::Message {
            content: "look".into(),
            room: None,
            reply_to: None,
            attachments: vec![id.clone()],
        })
        .await
        .unwrap();
    let refused = expect(&mut mallory, "refusal", |f| error_code(f).is_some()).await;
    assert_eq!(error_code(&refused), Some("unknown_file"));

    alice
        .send(&ClientFrame::Message {
            content: "the plan".into(),
            room: Some("ops".into()),
            reply_to: None,
            attachments: vec![id.clone()],
        })
        .await
        .unwrap();
    let got = expect(
        &mut bob,
        "the message with its file",
        |f| matches!(f, ServerFrame::Message(m) if m.content == "the plan"),
    )
    .await;
    let file = attachments_of(&got).pop().expect("an attachment");
    assert_eq!(
        (file.id.as_str(), file.name.as_str(), file.size),
        (id.as_str(), "plan notes.txt", notes.len() as u64),
        "the name lost its path"
    );
    let downloaded = http(http_addr(&server), "GET", &file.url, b"").await;
    assert_eq!(downloaded.status, 200);
    assert_eq!(downloaded.body, notes);
    assert_eq!(
        downloaded.header("content-type"),
        Some("application/octet-stream")
    );
    assert!(downloaded
        .header("content-disposition")
        .unwrap()
        .starts_with("attachment; filename*=UTF-8''plan%20notes.txt"));
    assert_eq!(downloaded.header("x-content-type-options"), Some("nosniff"));
    assert!(downloaded
        .header("content-security-policy")
        .unwrap()
        .contains("sandbox"));

    // History shows it too, with a working link.
    let messages = room_history(&mut bob, "ops").await;
    let ChatMessage::Message(m) = &messages[0] else {
        panic!("{messages:?}")
    };
    assert_eq!(m.state.attachments[0].id, id);

    // mallory, not in #ops, never got a link; a forged or changed one does not work.
    let seen = super::harness::drain(&mut mallory).await;
    assert!(
        !seen.iter().any(|f| !attachments_of(f).is_empty()),
        "{seen:?}"
    );
    let forged = file.url.replace(&id[..4], "0000");
    assert_eq!(
        http(http_addr(&server), "GET", &forged, b"").await.status,
        403
    );
    let (path, query) = file.url.split_once('?').unwrap();
    let later = query.replace("e=", "e=9");
    let stretched = format!("{path}?{later}");
    assert_eq!(
        http(http_addr(&server), "GET", &stretched, b"")
            .await
            .status,
        403
    );
    let unsigned = format!("/files/{id}/x?e=99999999999999&s=abc");
    assert_eq!(
        http(http_addr(&server), "GET", &unsigned, b"").await.status,
        403
    );

    // Deleting the message takes the file's link away.
    alice.send(&ClientFrame::Delete { id: m.id }).await.unwrap();
    expect(&mut bob, "deleted", |f| {
        matches!(f, ServerFrame::Deleted(_))
    })
    .await;
    assert_eq!(
        http(http_addr(&server), "GET", &file.url, b"").await.status,
        404
    );
}

#[tokio::test]
async fn an_oversized_upload_is_refused_before_any_byte_is_sent() {
    let server = start().await;
    let mut alice = server.join("alice").await;
    alice
        .send(&ClientFrame::Upload {
            name: "video.mp4".into(),
            size: 100_001,
            content_type: "video/mp4".into(),
        })
        .await
        .unwrap();
    let refused = expect(&mut alice, "refusal", |f| {
        matches!(
            f,
            ServerFrame::Error { .. } | ServerFrame::UploadReady { .. }
        )
    })
    .await;
    assert_eq!(
        error_code(&refused),
        Some("file_too_large"),
        "no link, no byte sent"
    );

    // A link takes one file.
    let url = upload_link(&mut alice, "once.txt", "text/plain", 4).await;
    assert_eq!(
        http(http_addr(&server), "PUT", &url, b"once").await.status,
        201
    );
    let again = http(http_addr(&server), "PUT", &url, b"more").await;
    assert_eq!(again.status, 409, "a second upload to one link");

    // A link for 10 bytes takes no more than 10.
    let url = upload_link(&mut alice, "small.txt", "text/plain", 10).await;
    let answer = http(http_addr(&server), "PUT", &url, &[b'x'; 50_000]).await;
    assert_eq!(answer.status, 413);
    let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(body["code"], "file_too_large");
    // A link cannot be stretched to more bytes.
    let (prefix, signature) = url.rsplit_once('.').unwrap();
    let tampered = format!("{prefix}x.{signature}");
    assert_eq!(
        http(http_addr(&server), "PUT", &tampered, b"0123456789")
            .await
            .status,
        403
    );
}

#[tokio::test]
async fn images_are_previewed_and_nothing_runs_from_the_chats_origin() {
    let server = start().await;
    let mut alice = server.join("alice").await;
    let mut bob = server.join("bob").await;
    let png = b"\x89PNG\r\n\x1a\n not really a picture";
    let svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>";
    let picture = upload(&server, &mut alice, "cat.png", "image/png", png).await;
    let drawing = upload(&server, &mut alice, "evil.svg", "image/svg+xml", svg).await;
    alice
        .send(&ClientFrame::PrivateMessage {
            target: "bob".into(),
            content: String::new(),
            reply_to: None,
            attachments: vec![picture, drawing],
        })
        .await
        .unwrap();
    let got = expect(&mut bob, "files alone", |f| {
        matches!(f, ServerFrame::PrivateMessage(_))
    })
    .await;
    let files = attachments_of(&got);
    assert_eq!(files.len(), 2);
    assert!(files[0].is_image() && !files[1].is_image());
    let image = http(http_addr(&server), "GET", &files[0].url, b"").await;
    assert_eq!(image.header("content-type"), Some("image/png"));
    assert!(image
        .header("content-disposition")
        .unwrap()
        .starts_with("inline"));
    let script = http(http_addr(&server), "GET", &files[1].url, b"").await;
    assert_eq!(script.status, 200);
    assert_eq!(
        script.header("content-type"),
        Some("application/octet-stream")
    );
    assert!(script
        .header("content-disposition")
        .unwrap()
        .starts_with("attachment"));
}
