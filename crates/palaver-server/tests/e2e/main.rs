//! End-to-end tests: a real server on a real TCP socket (port 0, a temporary SQLite file), real
//! clients, and assertions on what a user would notice.

/// This crate runs the end-to-end tests on SQLite; `e2e_postgres` runs them on PostgreSQL.
pub const BACKEND: harness::Backend = harness::Backend::Sqlite;

mod abuse;
mod accounts;
mod bad_input;
mod chat;
mod crash;
mod devices;
mod files;
mod harness;
mod history;
mod irc_channels;
mod irc_client;
mod irc_framework;
mod irc_ircv3;
mod irc_lines;
mod irc_real_client;
mod irc_registration;
mod limits;
mod message_changes;
mod migrate;
mod moderation;
mod password_abuse;
mod private_history;
mod room_modes;
mod search;
mod sessions;
mod shutdown;
mod tls;
mod websocket;
