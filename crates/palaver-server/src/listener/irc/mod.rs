//! The IRC listener: IRC clients and bots in the same rooms as native clients.
//!
//! A thin translator, like the native listener: [`reader`] turns IRC lines into the same hub
//! requests a native client sends (JOIN is `join_room`, PRIVMSG is `message` or
//! `private_message`, WHOIS is `whois` ...), and [`translate`] turns the hub's frames into IRC
//! lines for this connection's nick and capabilities. Each command lives in one module under
//! [`cmd`]: its parameters, its hub requests and the replies it builds from the answers; the
//! command table there says which commands exist and what they need. Rooms are channels (`general` is
//! `#general`), users are shared across both protocols and unique across them, and a message
//! from either side reaches both with the same id and server time.
//!
//! - [`connection`]: the socket: line framing (512 bytes plus tags, 417 beyond), fakelag
//!   instead of refusals, server PINGs and the ping timeout, the registration timeout.
//! - [`caps`]: the IRCv3 capabilities offered. [`state`]: what the reader and translator share.
//! - [`lines`]: what builds a reply's lines. [`live`]: the chat as an IRC client sees it.
//! - [`numeric`]: the numeric replies, by name.
//!
//! What is supported is listed in `docs/irc.md`.

pub mod caps;
pub mod cmd;
pub mod connection;
pub mod lines;
pub mod live;
pub mod numeric;
pub mod reader;
pub mod state;
pub mod translate;

pub use state::ServerIdentity;
