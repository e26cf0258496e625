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

use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;

use palaver_proto::{encode_frame, ServerFrame};

/// What IRC clients are told about the user a frame is from, besides the address: the account
/// (IRCv3 `account-tag`, `extended-join`), the real name (`extended-join`), and whether a
/// message came as one IRC line (relayed on one line, cut to fit, not split).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Sender {
    #[serde(default)]
    pub one_line: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realname: Option<String>,
}

/// IRCv3 client-only tags (`+draft/reply=...`) that travel with a message, shared by its copies.
pub type ClientTags = Arc<[(String, Option<String>)]>;

#[derive(Debug, Clone)]
pub struct Outgoing(Arc<Inner>, Wire);

/// Which connections a frame is for by their wire, decided when it is built (so that delivery
/// reads it without following the shared frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wire {
    Every,
    IrcOnly,
    AppsOnly,
}

impl Wire {
    fn of(frame: &ServerFrame, sender: &Sender) -> Wire {
        match frame {
            ServerFrame::TagMessage { .. } => Wire::IrcOnly,
            ServerFrame::Typing { .. } if sender.one_line => Wire::AppsOnly,
            _ => Wire::Every,
        }
    }
}

#[derive(Debug)]
struct Inner {
    frame: ServerFrame,
    source: Option<Arc<str>>,
    event: Option<u64>,
    /// Client-only tags that came with a message (IRCv3 message-tags), relayed, never stored.
    client_tags: Option<ClientTags>,
    /// What IRC clients are told about the user the frame is from, besides the address.
    sender: Sender,
    json: OnceLock<Bytes>,
    /// Other wire formats' encodings, by a key the wire chooses (see [`Outgoing::cached`]).
    others: Mutex<Vec<(u32, Bytes)>>,
}

impl Outgoing {
    fn wrap(inner: Inner) -> Self {
        let wire = Wire::of(&inner.frame, &inner.sender);
        Outgoing(Arc::new(inner), wire)
    }

    pub fn new(frame: ServerFrame) -> Self {
        Self::build(frame, None, None)
    }

    /// A frame about the user at `source` (`nick!ident@host`).
    pub fn from_user(frame: ServerFrame, source: Arc<str>) -> Self {
        Self::build(frame, Some(source), None)
    }

    pub fn build(frame: ServerFrame, source: Option<Arc<str>>, event: Option<u64>) -> Self {
        Outgoing::wrap(Inner {
            frame,
            source,
            event,
            client_tags: None,
            sender: Sender::default(),
            json: OnceLock::new(),
            others: Mutex::new(Vec::new()),
        })
    }

    /// A frame numbered `event` (a TAGMSG's msgid) with client-only tags.
    pub fn tagged(
        frame: ServerFrame,
        source: Arc<str>,
        event: u64,
        client_tags: ClientTags,
        sender: Sender,
    ) -> Self {
        Outgoing::wrap(Inner {
            frame,
            source: Some(source),
            event: Some(event),
            client_tags: Some(client_tags),
            sender,
            json: OnceLock::new(),
            others: Mutex::new(Vec::new()),
        })
    }

    /// A message from the user at `source`, with the client-only tags it was sent with.
    pub fn message(frame: ServerFrame, source: Arc<str>, client_tags: Option<ClientTags>) -> Self {
        Self::message_from(frame, source, client_tags, Sender::default())
    }

    /// [`Outgoing::message`], with what IRC clients are told about the sender.
    pub fn message_from(
        frame: ServerFrame,
        source: Arc<str>,
        client_tags: Option<ClientTags>,
        sender: Sender,
    ) -> Self {
        Outgoing::wrap(Inner {
            frame,
            source: Some(source),
            event: None,
            client_tags,
            sender,
            json: OnceLock::new(),
            others: Mutex::new(Vec::new()),
        })
    }

    /// The same frame as told to someone else (another frame, same sender, tags and number).
    pub fn with_frame(&self, frame: ServerFrame) -> Self {
        Outgoing::wrap(Inner {
            frame,
            source: self.0.source.clone(),
            event: self.0.event,
            client_tags: self.0.client_tags.clone(),
            sender: self.0.sender.clone(),
            json: OnceLock::new(),
            others: Mutex::new(Vec::new()),
        })
    }

    /// Whether a connection speaking `protocol` is sent this frame: a `tag_message` (client-only
    /// tags) only goes to IRC, and a `typing` that came from IRC only to the apps (IRC
    /// connections had its TAGMSG). Decided per connection, so a user's IRC and app devices
    /// each get their own.
    pub fn for_wire(&self, protocol: super::Protocol) -> bool {
        match self.1 {
            Wire::Every => true,
            Wire::IrcOnly => protocol == super::Protocol::Irc,
            Wire::AppsOnly => protocol != super::Protocol::Irc,
        }
    }

    /// The client-only tags the message was sent with.
    pub fn client_tags(&self) -> &[(String, Option<String>)] {
        self.0.client_tags.as_deref().unwrap_or(&[])
    }

    pub fn frame(&self) -> &ServerFrame {
        &self.0.frame
    }

    /// What IRC clients are told about the user the frame is from.
    pub fn sender(&self) -> &Sender {
        &self.0.sender
    }

    /// [`Outgoing::build`] about a user IRC clients are told more of (a join: `extended-join`).
    pub fn build_from(
        frame: ServerFrame,
        source: Option<Arc<str>>,
        event: Option<u64>,
        sender: Sender,
    ) -> Self {
        Outgoing::wrap(Inner {
            frame,
            source,
            event,
            client_tags: None,
            sender,
            json: OnceLock::new(),
            others: Mutex::new(Vec::new()),
        })
    }

    /// The address of the user this frame is about, if any.
    pub fn source(&self) -> Option<&str> {
        self.0.source.as_deref()
    }

    /// Shared by the copies of one per-user event sent to several rooms.
    pub fn event(&self) -> Option<u64> {
        self.0.event
    }

    /// An encoding for another wire format, made once per `key` and shared by every recipient
    /// that asks with the same key (IRC: one per combination of the capabilities that change
    /// the line, so a fan-out to a thousand IRC clients formats the line once or twice).
    pub fn cached(&self, key: u32, encode: impl FnOnce() -> Option<Bytes>) -> Option<Bytes> {
        let mut others = self.0.others.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, bytes)) = others.iter().find(|(k, _)| *k == key) {
            return Some(bytes.clone());
        }
        let bytes = encode()?;
        others.push((key, bytes.clone()));
        Some(bytes)
    }

    /// The native wire encoding: one JSON line, encoded on first use.
    pub fn json(&self) -> Bytes {
        self.0
            .json
            .get_or_init(|| encode_frame(&self.0.frame))
            .clone()
    }
}
