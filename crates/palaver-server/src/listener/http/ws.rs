//! The WebSocket transport: one line per message, each way.
//!
//! `/ws` speaks the native protocol (one JSON object per text message) or, when the client asks
//! for the IRCv3 subprotocol `text.ircv3.net` or `binary.ircv3.net`, IRC (one line per message,
//! without CRLF). Either way the connection runs the same loop as over TCP (`connection.rs`,
//! `irc/connection.rs`), with the same limits and error codes: these types only turn messages
//! into lines and frames into messages.

use std::collections::VecDeque;
use std::io;

use axum::extract::ws::{Message, Utf8Bytes, WebSocket};
use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};

use palaver_proto::CodecError;

use crate::listener::transport::{lines_of, FrameSink, Incoming};

/// What a WebSocket carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsProtocol {
    /// The native protocol: JSON text messages.
    Native,
    /// IRC lines as text messages (`text.ircv3.net`).
    IrcText,
    /// IRC lines as binary messages (`binary.ircv3.net`): not necessarily UTF-8.
    IrcBinary,
}

impl WsProtocol {
    pub const IRC_TEXT: &'static str = "text.ircv3.net";
    pub const IRC_BINARY: &'static str = "binary.ircv3.net";

    /// The protocol for the subprotocol the server selected (none: native).
    pub fn selected(name: Option<&str>) -> Self {
        match name {
            Some(Self::IRC_TEXT) => WsProtocol::IrcText,
            Some(Self::IRC_BINARY) => WsProtocol::IrcBinary,
            _ => WsProtocol::Native,
        }
    }
}

/// Lines arriving as WebSocket messages.
pub struct WsLines {
    stream: SplitStream<WebSocket>,
    lines: VecDeque<Result<Bytes, CodecError>>,
    max_line_bytes: usize,
    check_utf8: bool,
}

/// Splits an upgraded WebSocket into its two sides. Lines longer than `max_line_bytes` are
/// refused (`frame_too_large`) as on TCP; native lines must be UTF-8 (`invalid_utf8`).
pub fn split(socket: WebSocket, protocol: WsProtocol, max_line_bytes: usize) -> (WsLines, WsSink) {
    let (sink, stream) = socket.split();
    let lines = WsLines {
        stream,
        lines: VecDeque::new(),
        max_line_bytes,
        check_utf8: protocol == WsProtocol::Native,
    };
    (lines, WsSink { sink, protocol })
}

impl WsLines {
    fn push(&mut self, mut line: Bytes) {
        // Tolerate a line ending the sender added anyway.
        while line.last().is_some_and(|b| matches!(b, b'\r' | b'\n')) {
            line.truncate(line.len() - 1);
        }
        let line = if line.len() > self.max_line_bytes {
            Err(CodecError::FrameTooLarge {
                limit: self.max_line_bytes,
            })
        } else if self.check_utf8 && std::str::from_utf8(&line).is_err() {
            Err(CodecError::InvalidUtf8)
        } else {
            Ok(line)
        };
        self.lines.push_back(line);
    }
}

impl Incoming for WsLines {
    async fn receive(&mut self) -> bool {
        match self.stream.next().await {
            Some(Ok(Message::Text(text))) => {
                self.push(Bytes::from(text));
                true
            }
            Some(Ok(Message::Binary(bytes))) => {
                self.push(bytes);
                true
            }
            // Heard from the peer (tungstenite answers pings itself).
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => true,
            Some(Ok(Message::Close(_)) | Err(_)) | None => false,
        }
    }

    fn next_line(&mut self) -> Option<Result<Bytes, CodecError>> {
        self.lines.pop_front()
    }

    fn backlog(&self) -> usize {
        self.lines
            .iter()
            .map(|l| l.as_ref().map_or(0, Bytes::len))
            .sum()
    }

    fn shrink(&mut self) {
        if self.lines.is_empty() && self.lines.capacity() > 8 {
            self.lines = VecDeque::new();
        }
    }
}

/// Frames leaving as WebSocket messages, one line each.
pub struct WsSink {
    sink: SplitSink<WebSocket, Message>,
    protocol: WsProtocol,
}

impl WsSink {
    fn message(&self, line: Bytes) -> io::Result<Message> {
        Ok(match self.protocol {
            WsProtocol::IrcBinary => Message::Binary(line),
            WsProtocol::Native | WsProtocol::IrcText => {
                // Frames are made from UTF-8 text; a line that is not is not sent as text.
                Message::Text(Utf8Bytes::try_from(line).map_err(io::Error::other)?)
            }
        })
    }
}

impl FrameSink for WsSink {
    async fn send_frames(&mut self, frames: &mut VecDeque<Bytes>) -> io::Result<()> {
        while let Some(frame) = frames.pop_front() {
            for line in lines_of(&frame) {
                let message = self.message(line)?;
                self.sink.feed(message).await.map_err(io::Error::other)?;
            }
        }
        self.sink.flush().await.map_err(io::Error::other)
    }

    async fn send_last_words(&mut self, line: Vec<u8>) -> io::Result<()> {
        for line in lines_of(&Bytes::from(line)) {
            let message = self.message(line)?;
            self.sink.feed(message).await.map_err(io::Error::other)?;
        }
        self.sink.flush().await.map_err(io::Error::other)
    }

    async fn finish(&mut self) {
        let _ = self.sink.close().await;
    }
}
