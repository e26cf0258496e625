//! The IRC listener's way in: bytes split into lines with IRC's limit, each parsed as an IRC
//! message. Nothing may panic, and a parsed message written back out must parse to the same
//! message (tags, source, command and parameters survive escaping and the trailing rules).

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use palaver_proto::irc::{IrcMessage, MAX_LINE_BYTES};
use palaver_proto::LineDecoder;

fuzz_target!(|data: &[u8]| {
    let mut decoder = LineDecoder::new(MAX_LINE_BYTES + 2).without_utf8_check();
    let mut buf = BytesMut::from(data);
    buf.extend_from_slice(b"\r\n");
    while let Some(line) = decoder.decode(&mut buf) {
        let Ok(line) = line else { continue };
        let Ok(text) = std::str::from_utf8(&line) else { continue };
        let Ok(message) = IrcMessage::parse(text) else { continue };
        // A parameter may not contain a space or start with ':' unless it is the last one,
        // and none may be empty unless last: such messages cannot come out of parse.
        let written = message.to_line();
        let back = IrcMessage::parse(&written)
            .unwrap_or_else(|e| panic!("{written:?} does not parse back: {e}"));
        assert_eq!(back, message, "{text:?} -> {written:?}");
    }
});
