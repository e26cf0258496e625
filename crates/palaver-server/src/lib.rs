//! The Palaver chat server, as a library (the `palaver-server` binary and the desktop app's
//! "host a server" screen both run it).
//!
//! A map of the modules, following one message from socket to socket:
//!
//! - [`listener`]: accepts TCP connections; per connection, a reader task turns bytes into
//!   requests (line codec, rate limit, join timeout) and a writer task drains the connection's
//!   bounded outbound queue into the socket.
//! - [`hub`]: the chat core as a state machine (users, rooms, routing, presence). No I/O.
//! - [`metrics`]: what `/metrics` reports (Prometheus).
//! - [`network`]: what the nodes of a network agree on (names online), behind traits.
//! - [`runtime`]: the task that owns the hub and carries out its effects: queues, store, history.
//! - [`store`]: history and rooms behind a trait; SQLite with group commit by default.
//! - [`queue`]: each connection's bounded outbound queue of shared frames.
//! - [`limits`]: token buckets and connection counting.
//! - [`passwords`]: how often passwords may be tried, and the threads that hash them.
//! - [`config`]: flags, environment variables and the TOML file.
//! - [`server`]: starts all of the above and stops it gracefully ([`Server`], [`ServerHandle`]).
//! - [`testing`]: a throwaway PostgreSQL cluster for tests.

pub mod config;
pub mod files;
pub mod hub;
pub mod limits;
pub mod listener;
pub mod metrics;
pub mod network;
pub mod passwords;
pub mod queue;
pub mod runtime;
pub mod server;
pub mod store;
pub mod testing;

pub use config::ServerConfig;
pub use server::{Server, ServerEvent, ServerHandle};
