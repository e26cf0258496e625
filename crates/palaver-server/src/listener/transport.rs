//! What a connection is carried over, behind two small traits: [`Incoming`] (where its lines
//! come from) and [`FrameSink`] (where its frames go). A byte stream (TCP, TLS) is split into
//! lines by the bounded [`LineDecoder`]; a WebSocket (`http/ws.rs`) brings one line per message.
//! The connection loops (`connection.rs` for the native protocol, `irc/connection.rs` for IRC)
//! and the writer are written once against these traits, so a new way in adds a transport, not
//! a third copy of a loop.

use std::collections::VecDeque;
use std::future::Future;
use std::io;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use palaver_proto::{CodecError, LineDecoder};

use super::stream::{ReadSide, WriteSide};

/// Where a connection's lines come from.
pub trait Incoming: Send {
    /// Waits until more input has arrived; false when the peer is gone. Cancel-safe: it is
    /// raced against timers and the hub's orders.
    fn receive(&mut self) -> impl Future<Output = bool> + Send;
    /// The next complete line received (without its line ending), if any.
    fn next_line(&mut self) -> Option<Result<Bytes, CodecError>>;
    /// Bytes received and not yet taken as lines (IRC's receive queue).
    fn backlog(&self) -> usize;
    /// Gives back buffers that hold nothing (an idle connection keeps none).
    fn shrink(&mut self);
}

/// Where a connection's frames go. Each frame is one or more complete lines, each ending in
/// `\n` (IRC's in `\r\n`).
pub trait FrameSink: Send + 'static {
    /// Writes every frame in `frames` (emptying it), in order.
    fn send_frames(
        &mut self,
        frames: &mut VecDeque<Bytes>,
    ) -> impl Future<Output = io::Result<()>> + Send;
    /// Writes the protocol's last words after an abort, which may have cut a write short.
    fn send_last_words(&mut self, line: Vec<u8>) -> impl Future<Output = io::Result<()>> + Send;
    /// Ends the connection's sending side.
    fn finish(&mut self) -> impl Future<Output = ()> + Send;
}

/// A byte stream split into lines.
pub struct StreamLines {
    reader: ReadSide,
    buf: BytesMut,
    decoder: LineDecoder,
}

impl StreamLines {
    pub fn new(reader: ReadSide, decoder: LineDecoder) -> Self {
        StreamLines {
            reader,
            buf: BytesMut::new(),
            decoder,
        }
    }
}

impl Incoming for StreamLines {
    async fn receive(&mut self) -> bool {
        let max = self.decoder.max_line_bytes();
        matches!(self.reader.read_some(&mut self.buf, max).await, Ok(n) if n > 0)
    }

    fn next_line(&mut self) -> Option<Result<Bytes, CodecError>> {
        self.decoder.decode(&mut self.buf)
    }

    fn backlog(&self) -> usize {
        self.buf.len()
    }

    fn shrink(&mut self) {
        if self.buf.is_empty() && self.buf.capacity() > 0 {
            self.buf = BytesMut::new();
        }
    }
}

impl FrameSink for WriteSide {
    fn send_frames(
        &mut self,
        frames: &mut VecDeque<Bytes>,
    ) -> impl Future<Output = io::Result<()>> + Send {
        write_frames(self, frames)
    }

    async fn send_last_words(&mut self, line: Vec<u8>) -> io::Result<()> {
        // A write may have been cut off mid-line: start on a line of its own (clients skip
        // blank lines).
        let mut bytes = b"\r\n".to_vec();
        bytes.extend_from_slice(&line);
        self.write_all(&bytes).await
    }

    async fn finish(&mut self) {
        let _ = self.shutdown().await;
    }
}

/// Writes every frame in `frames` (emptying it). A lone frame is written as it is; a burst is
/// joined into one buffer per 256 KiB and written with one call each. The buffer lives only for
/// the burst, so an idle connection keeps none.
async fn write_frames<W: AsyncWrite + Unpin>(
    writer: &mut W,
    frames: &mut VecDeque<Bytes>,
) -> io::Result<()> {
    const BURST_BYTES: usize = 256 * 1024;
    if frames.len() == 1 {
        let frame = frames.pop_front().expect("one frame");
        return writer.write_all(&frame).await;
    }
    while !frames.is_empty() {
        let mut size = 0;
        let count = frames
            .iter()
            .take_while(|f| {
                size += f.len();
                size - f.len() < BURST_BYTES
            })
            .count();
        let mut burst = Vec::with_capacity(size);
        for frame in frames.drain(..count) {
            burst.extend_from_slice(&frame);
        }
        writer.write_all(&burst).await?;
    }
    Ok(())
}

/// The lines of a frame, without their endings (for transports that carry one line per
/// message).
pub fn lines_of(frame: &Bytes) -> impl Iterator<Item = Bytes> + '_ {
    let mut start = 0;
    std::iter::from_fn(move || {
        while start < frame.len() {
            let end = frame[start..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(frame.len(), |i| start + i);
            let mut line_end = end;
            if line_end > start && frame[line_end - 1] == b'\r' {
                line_end -= 1;
            }
            let line = frame.slice(start..line_end);
            start = end + 1;
            if !line.is_empty() {
                return Some(line);
            }
        }
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_into_lines_without_endings() {
        let frame = Bytes::from_static(b":a PRIVMSG #x :hi\r\n:a PRIVMSG #x :there\r\n");
        let lines: Vec<Bytes> = lines_of(&frame).collect();
        assert_eq!(
            lines,
            [&b":a PRIVMSG #x :hi"[..], &b":a PRIVMSG #x :there"[..]]
        );
        let json = Bytes::from_static(b"{\"type\":\"pong\"}\n");
        assert_eq!(
            lines_of(&json).collect::<Vec<_>>(),
            [&b"{\"type\":\"pong\"}"[..]]
        );
        assert_eq!(lines_of(&Bytes::from_static(b"\r\n\n")).count(), 0);
    }
}
