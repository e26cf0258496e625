//! Line framing: bytes in, complete lines out, never more than a fixed number of bytes buffered.
//!
//! The classroom seeds called `recv(1024)` and hoped each call held exactly one message. TCP makes
//! no such promise: a read can hold half a message or three. [`LineDecoder`] keeps the bytes of an
//! unfinished line and hands out each complete line once its `\n` arrives.
//!
//! The limit is the point. A peer that sends a megabyte without a newline must not make us hold a
//! megabyte: once a partial line passes `max_line_bytes`, the decoder drops what it holds,
//! reports [`CodecError::FrameTooLarge`] once, and discards everything up to the next newline.
//! The stream then carries on with the next line, so one oversized message costs its sender one
//! error, not the connection.

use bytes::{Buf, Bytes, BytesMut};
use serde::Serialize;

/// Default limit for one line, newline excluded: 16 KiB.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 16 * 1024;

/// What can be wrong with a line before it is even parsed as JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The line grew past the limit; its bytes were discarded up to the next newline.
    #[error("frame larger than {limit} bytes")]
    FrameTooLarge { limit: usize },
    /// The line is not valid UTF-8.
    #[error("frame is not valid UTF-8")]
    InvalidUtf8,
}

/// Splits a byte stream into `\n`-terminated lines of at most `max_line_bytes` bytes.
#[derive(Debug)]
pub struct LineDecoder {
    max_line_bytes: usize,
    /// Refuse lines that are not UTF-8 (on by default).
    check_utf8: bool,
    /// True while skipping the rest of an oversized line.
    discarding: bool,
    /// How far into the buffer we already looked for a newline, so each byte is scanned once.
    scanned: usize,
}

impl LineDecoder {
    pub fn new(max_line_bytes: usize) -> Self {
        Self {
            max_line_bytes,
            check_utf8: true,
            discarding: false,
            scanned: 0,
        }
    }

    /// Hands out lines whatever their encoding; the caller checks (the IRC listener names the
    /// command of a line it refuses for not being UTF-8).
    pub fn without_utf8_check(mut self) -> Self {
        self.check_utf8 = false;
        self
    }

    pub fn max_line_bytes(&self) -> usize {
        self.max_line_bytes
    }

    /// Takes the next complete line out of `buf`, if there is one.
    ///
    /// Returns `None` when more bytes are needed. The returned line excludes the `\n` and a
    /// trailing `\r` (so `\r\n` clients work too). Empty lines are skipped. After this returns
    /// `None`, `buf` holds at most `max_line_bytes` bytes.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Option<Result<Bytes, CodecError>> {
        loop {
            if self.discarding {
                match memchr(&buf[..], b'\n') {
                    Some(newline) => {
                        buf.advance(newline + 1);
                        self.discarding = false;
                        self.scanned = 0;
                        continue;
                    }
                    None => {
                        buf.clear();
                        return None;
                    }
                }
            }
            let newline = memchr(&buf[self.scanned..], b'\n').map(|i| i + self.scanned);
            match newline {
                Some(end) => {
                    self.scanned = 0;
                    let mut line = buf.split_to(end + 1);
                    line.truncate(end);
                    if line.last() == Some(&b'\r') {
                        line.truncate(end - 1);
                    }
                    if line.len() > self.max_line_bytes {
                        return Some(Err(CodecError::FrameTooLarge {
                            limit: self.max_line_bytes,
                        }));
                    }
                    if line.iter().all(|b| b.is_ascii_whitespace()) {
                        continue;
                    }
                    if self.check_utf8 && std::str::from_utf8(&line).is_err() {
                        return Some(Err(CodecError::InvalidUtf8));
                    }
                    return Some(Ok(line.freeze()));
                }
                None if buf.len() > self.max_line_bytes => {
                    // Allow one byte for a '\r' that may precede the newline.
                    if buf.len() == self.max_line_bytes + 1 && buf.last() == Some(&b'\r') {
                        self.scanned = buf.len();
                        return None;
                    }
                    buf.clear();
                    self.scanned = 0;
                    self.discarding = true;
                    return Some(Err(CodecError::FrameTooLarge {
                        limit: self.max_line_bytes,
                    }));
                }
                None => {
                    self.scanned = buf.len();
                    return None;
                }
            }
        }
    }
}

fn memchr(haystack: &[u8], needle: u8) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

/// Encodes a frame as one JSON line, newline included, ready to be shared among recipients.
pub fn encode_frame<T: Serialize>(frame: &T) -> Bytes {
    let mut out = Vec::with_capacity(128);
    // Serialising our own frame types cannot fail: they hold only strings, numbers and lists.
    serde_json::to_writer(&mut out, frame).expect("frame serialises");
    out.push(b'\n');
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(decoder: &mut LineDecoder, buf: &mut BytesMut) -> Vec<Result<String, CodecError>> {
        std::iter::from_fn(|| decoder.decode(buf))
            .map(|r| r.map(|b| String::from_utf8(b.to_vec()).unwrap()))
            .collect()
    }

    #[test]
    fn splits_merged_and_split_lines() {
        let mut d = LineDecoder::new(64);
        let mut buf = BytesMut::from(&b"{\"a\":1}\n{\"b\":2}\n{\"c\""[..]);
        assert_eq!(
            lines(&mut d, &mut buf),
            vec![Ok("{\"a\":1}".into()), Ok("{\"b\":2}".into())]
        );
        buf.extend_from_slice(b":3}\r\n");
        assert_eq!(lines(&mut d, &mut buf), vec![Ok("{\"c\":3}".into())]);
        assert!(buf.is_empty());
    }

    #[test]
    fn skips_blank_lines() {
        let mut d = LineDecoder::new(64);
        let mut buf = BytesMut::from(&b"\n\r\n  \nx\n"[..]);
        assert_eq!(lines(&mut d, &mut buf), vec![Ok("x".into())]);
    }

    #[test]
    fn oversized_line_is_reported_once_and_skipped_without_buffering() {
        let mut d = LineDecoder::new(16);
        let mut buf = BytesMut::new();
        let mut errors = 0;
        for _ in 0..1000 {
            buf.extend_from_slice(&[b'x'; 1000]);
            while let Some(r) = d.decode(&mut buf) {
                assert_eq!(r, Err(CodecError::FrameTooLarge { limit: 16 }));
                errors += 1;
            }
            assert!(buf.len() <= 16, "buffered {} bytes", buf.len());
        }
        buf.extend_from_slice(b"tail\nok\n");
        assert_eq!(lines(&mut d, &mut buf), vec![Ok("ok".into())]);
        assert_eq!(errors, 1);
    }

    #[test]
    fn line_exactly_at_limit_passes_and_one_over_fails() {
        let mut d = LineDecoder::new(4);
        let mut buf = BytesMut::from(&b"abcd\r\nabcde\nz\n"[..]);
        assert_eq!(
            lines(&mut d, &mut buf),
            vec![
                Ok("abcd".into()),
                Err(CodecError::FrameTooLarge { limit: 4 }),
                Ok("z".into())
            ]
        );
    }

    #[test]
    fn invalid_utf8_is_an_error_for_that_line_only() {
        let mut d = LineDecoder::new(64);
        let mut buf = BytesMut::from(&b"\xff\xfe\nok\n"[..]);
        assert_eq!(
            lines(&mut d, &mut buf),
            vec![Err(CodecError::InvalidUtf8), Ok("ok".into())]
        );
    }

    #[test]
    fn byte_at_a_time_matches_all_at_once() {
        let input = "{\"type\":\"message\",\"content\":\"héllo 👋\"}\n{\"type\":\"ping\"}\n";
        let mut d = LineDecoder::new(128);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for b in input.bytes() {
            buf.extend_from_slice(&[b]);
            while let Some(r) = d.decode(&mut buf) {
                out.push(String::from_utf8(r.unwrap().to_vec()).unwrap());
            }
        }
        assert_eq!(out, input.lines().map(String::from).collect::<Vec<_>>());
    }

    #[test]
    fn encode_appends_newline() {
        let bytes = encode_frame(&serde_json::json!({"type":"pong"}));
        assert_eq!(&bytes[..], b"{\"type\":\"pong\"}\n");
    }
}
