//! End-to-end tests: a real server on a real TCP socket (port 0, a temporary SQLite file), real
//! clients, and assertions on what a user would notice.

mod bad_input;
mod chat;
mod harness;
mod history;
mod limits;
mod shutdown;
