//! The Palaver client library: what the desktop app, the terminal client, the benchmark and the
//! tests use to talk to a server.
//!
//! - [`connection`]: one TCP connection speaking JSON lines; send a request, receive a frame.
//!   Nothing happens behind your back (the tests use it to see exactly what the server sends).
//! - [`tls`]: TLS with system roots or trust-on-first-use pinning.
//! - [`client`]: a managed session: joins, keeps the connection, matches acknowledgements to what
//!   you sent, and when the connection drops, reconnects with backoff and resumes from the last
//!   message it saw, so nothing is lost.
//! - [`files`]: sending and fetching files over the server's HTTP listener.

pub mod client;
pub mod connection;
pub mod files;
pub mod tls;

pub use client::{Client, ClientConfig, Event};
pub use connection::{Connection, ConnectionError};
pub use palaver_proto as proto;
pub use tls::{TlsSettings, Trust};
