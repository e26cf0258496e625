//! A frame on its way out of the hub: built once, shared by every session it goes to, and
//! encoded at most once per wire format.
//!
//! The hub speaks in [`ServerFrame`]s and knows nothing of wire formats. A fan-out hands the same
//! [`Outgoing`] (an `Arc`) to every member; the native listener asks for [`Outgoing::json`],
//! which the first caller encodes and every later one clones, so a message to ten thousand
//! members is serialised once. The IRC listener translates the frame instead, and uses the two
//! facts a frame alone does not carry: the `nick!ident@host` address of the user it is about
//! ([`Outgoing::source`]) and, for events about one user that are sent once per shared room
//! (a departure, a rename), a number common to all copies ([`Outgoing::event`]) so that it can
//! announce them once, as IRC's QUIT and NICK are.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use palaver_proto::{encode_frame, ServerFrame};

#[derive(Debug, Clone)]
pub struct Outgoing(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    frame: ServerFrame,
    source: Option<Arc<str>>,
    event: Option<u64>,
    json: OnceLock<Bytes>,
}

impl Outgoing {
    pub fn new(frame: ServerFrame) -> Self {
        Self::build(frame, None, None)
    }

    /// A frame about the user at `source` (`nick!ident@host`).
    pub fn from_user(frame: ServerFrame, source: Arc<str>) -> Self {
        Self::build(frame, Some(source), None)
    }

    pub fn build(frame: ServerFrame, source: Option<Arc<str>>, event: Option<u64>) -> Self {
        Outgoing(Arc::new(Inner {
            frame,
            source,
            event,
            json: OnceLock::new(),
        }))
    }

    pub fn frame(&self) -> &ServerFrame {
        &self.0.frame
    }

    /// The address of the user this frame is about, if any.
    pub fn source(&self) -> Option<&str> {
        self.0.source.as_deref()
    }

    /// Shared by the copies of one per-user event sent to several rooms.
    pub fn event(&self) -> Option<u64> {
        self.0.event
    }

    /// The native wire encoding: one JSON line, encoded on first use.
    pub fn json(&self) -> Bytes {
        self.0
            .json
            .get_or_init(|| encode_frame(&self.0.frame))
            .clone()
    }
}
