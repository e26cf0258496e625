//! Stable, machine-readable error codes, each with a sentence a person understands.
//!
//! Every `error` frame carries a `code` from this list and a `message`. Clients switch on the code
//! (it never changes once published) and show the message. Adding a code is a protocol change:
//! document it in `docs/protocol.md`.

use serde::{Deserialize, Serialize};

macro_rules! error_codes {
    ($($variant:ident => $code:literal, $sentence:literal;)*) => {
        /// Every error a client can meet, by stable code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode {
            $($variant,)*
            /// A code this version does not know (a newer server); clients keep the message.
            #[serde(other)]
            Unknown,
        }

        impl ErrorCode {
            /// Every known code, in documentation order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The snake_case code as it appears on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                    ErrorCode::Unknown => "unknown",
                }
            }

            /// A generic sentence for the code, used when there is nothing more specific to say.
            pub fn sentence(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $sentence,)*
                    ErrorCode::Unknown => "The server reported an error this client does not know.",
                }
            }
        }
    };
}

error_codes! {
    InvalidJson => "invalid_json", "That line is not a valid JSON object.";
    InvalidUtf8 => "invalid_utf8", "That line is not valid UTF-8 text.";
    FrameTooLarge => "frame_too_large", "That line is longer than the server accepts; it was discarded.";
    UnknownType => "unknown_type", "The server does not know that message type.";
    MissingField => "missing_field", "A required field is missing.";
    InvalidField => "invalid_field", "A field has the wrong type or an impossible value.";
    NotJoined => "not_joined", "Join with a username first.";
    AlreadyJoined => "already_joined", "You have already joined.";
    InvalidUsername => "invalid_username", "Usernames are 1 to 32 letters, digits, '_', '-' or '.'.";
    UsernameTaken => "username_taken", "That username is already taken; choose another.";
    EmptyContent => "empty_content", "The message is empty.";
    ContentTooLong => "content_too_long", "The message is longer than the server accepts.";
    UnknownUser => "unknown_user", "Nobody with that username is online.";
    UnknownRoom => "unknown_room", "There is no room with that name.";
    InvalidRoomName => "invalid_room_name", "Room names are 1 to 64 letters, digits, '_', '-' or '.'.";
    NotInRoom => "not_in_room", "You are not in that room; join it first.";
    TooManyRooms => "too_many_rooms", "You are in as many rooms as the server allows.";
    RateLimited => "rate_limited", "You are sending too fast; that message was not sent.";
    Flooding => "flooding", "You kept sending too fast after being warned, so you were disconnected.";
    SlowConsumer => "slow_consumer", "You were reading too slowly and fell too far behind, so you were disconnected.";
    JoinTimeout => "join_timeout", "No join arrived in time, so the connection was closed.";
    TooManyConnections => "too_many_connections", "The server has too many connections (in total or from your address).";
    Kicked => "kicked", "You were removed from the server.";
    ServerShuttingDown => "server_shutting_down", "The server is shutting down.";
    StorageFailed => "storage_failed", "The server could not store that message; it was not sent.";
    NotAuthorized => "not_authorized", "You are not allowed to do that.";
    TargetNotInRoom => "target_not_in_room", "That user is not in that room.";
    TlsRequired => "tls_required", "This port speaks TLS; connect with TLS.";
    InvalidCredentials => "invalid_credentials", "That name and password do not match an account.";
    AccountRequired => "account_required", "Log in with an account to use that name (or this server).";
    TooManyAttempts => "too_many_attempts", "Too many password attempts; wait a minute and try again.";
    AlreadyRegistered => "already_registered", "That name is already registered.";
    WeakPassword => "weak_password", "Passwords must be at least 8 characters.";
    RoomFull => "room_full", "That room has as many members as the server allows.";
    Banned => "banned", "You are banned from this server.";
    Muted => "muted", "You are muted and cannot send messages here for now.";
    RoomLocked => "room_locked", "That room is locked; only its moderators may enter.";
    ServerBusy => "server_busy", "The server is too busy to do that right now; try again in a moment.";
    SessionReplaced => "session_replaced", "This session continued on a new connection, so this one was closed.";
    PingTimeout => "ping_timeout", "Nothing arrived from you for too long (not even an answer to a ping), so the connection was closed.";
    InviteOnly => "invite_only", "That room is invite-only (+i); one of its operators must invite you.";
    WrongRoomKey => "wrong_room_key", "That room needs a key (+k) to enter; yours is missing or wrong.";
    BannedFromRoom => "banned_from_room", "You are banned from that room (+b).";
    Moderated => "moderated", "That room is moderated (+m): only members with voice and its operators may speak.";
    UnknownMode => "unknown_mode", "That is not a room mode this server has.";
    AlreadyInRoom => "already_in_room", "That user is already in that room.";
    ListFull => "list_full", "That list is full.";
    UnknownMessage => "unknown_message", "There is no such message, or you cannot see it.";
    MessageDeleted => "message_deleted", "That message was deleted.";
    FileTooLarge => "file_too_large", "That file is larger than the server accepts.";
    QuotaExceeded => "quota_exceeded", "You have stored as many files as the server allows; delete some messages with files first.";
    UnknownFile => "unknown_file", "There is no such file of yours waiting to be sent.";
    FilesDisabled => "files_disabled", "This server does not take files.";
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialise_as_their_snake_case_names() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            let back: ErrorCode = serde_json::from_str(&json).unwrap();
            assert_eq!(back, *code);
        }
    }

    #[test]
    fn unknown_codes_from_a_newer_server_are_tolerated() {
        let code: ErrorCode = serde_json::from_str("\"quantum_flux\"").unwrap();
        assert_eq!(code, ErrorCode::Unknown);
    }
}
