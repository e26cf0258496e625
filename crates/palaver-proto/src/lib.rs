//! The Palaver wire protocol, with no I/O in it.
//!
//! Palaver speaks newline-delimited JSON: one UTF-8 JSON object per `\n`-terminated line over a
//! byte stream (TCP today, TLS and WebSocket later). This crate is everything both ends need to
//! agree on, and nothing that touches a socket:
//!
//! - [`codec`]: splits a byte stream into lines with a hard size limit and checks UTF-8.
//! - [`client_frame`]: what a client may send, and a strict parser that names the field at fault.
//! - [`server_frame`]: what the server sends, serialisable and (for clients) deserialisable.
//! - [`error_code`]: the stable snake_case error codes and the sentence a person reads.
//! - [`validate`]: the rules for usernames, room names and message content.
//! - [`timestamp`]: RFC 3339 UTC timestamps with milliseconds.
//! - [`irc`]: IRC message lines (Modern IRC + IRCv3 message tags), for the IRC listener.
//! - [`files`]: file names and content types as stored, and which are shown inline.
//! - [`emoji`]: emoji and their `:shortcodes:` (completion, replacement, one spelling per reaction).
//! - [`message_changes`]: reactions, edits, deletions and replies, live and in history.
//! - [`read_marker`]: how far a user has read each conversation, on all of their devices.
//! - [`rich_text`]: the Markdown subset messages use, and IRC's formatting codes both ways.
//! - [`room_modes`]: a room's modes (IRC's channel modes) and the mode strings that change them.
//!
//! The nine message types of the original classroom protocol (`join`, `message`,
//! `private_message`, `private_confirmation`, `system`, `server`, `error`) keep their names and
//! fields, so a client written for it chats with Palaver unchanged. See `docs/protocol.md`.

pub mod client_frame;
pub mod codec;
pub mod emoji;
pub mod error_code;
pub mod files;
pub mod irc;
pub mod message_changes;
pub mod read_marker;
pub mod rich_text;
pub mod room_modes;
pub mod server_frame;
pub mod timestamp;
pub mod validate;

pub use client_frame::{
    parse_request, ClientFrame, Cursors, FrameError, HistoryScope, Request, Secret, TypingState,
};
pub use codec::{encode_frame, CodecError, LineDecoder, DEFAULT_MAX_FRAME_BYTES};
pub use error_code::ErrorCode;
pub use server_frame::{
    ChatMessage, ConversationNews, Limits, PrivateMessage, PublicMessage, RoomInfo, ServerFrame,
    SystemEvent, UserInfo, Welcome,
};

/// The room everyone starts in, and where a `message` without a `room` goes.
pub const DEFAULT_ROOM: &str = "general";

/// This protocol's version, sent in `welcome`.
pub const PROTOCOL_VERSION: u32 = 2;
