//! The end-to-end tests of `tests/e2e`, run again with every server on PostgreSQL: a throwaway
//! cluster started for this test process (see `palaver_server::testing`), a database per test.
//! Without PostgreSQL on the machine they run on SQLite again and say so; under `CI=true` they
//! fail instead.

pub const BACKEND: harness::Backend = harness::Backend::Postgres;

#[path = "../e2e/abuse.rs"]
mod abuse;
#[path = "../e2e/accounts.rs"]
mod accounts;
#[path = "../e2e/bad_input.rs"]
mod bad_input;
#[path = "../e2e/chat.rs"]
mod chat;
#[path = "../e2e/crash.rs"]
mod crash;
#[path = "../e2e/devices.rs"]
mod devices;
#[path = "../e2e/files.rs"]
mod files;
#[path = "../e2e/harness.rs"]
mod harness;
#[path = "../e2e/history.rs"]
mod history;
#[path = "../e2e/irc_channels.rs"]
mod irc_channels;
#[path = "../e2e/irc_client.rs"]
mod irc_client;
#[path = "../e2e/irc_ircv3.rs"]
mod irc_ircv3;
#[path = "../e2e/irc_lines.rs"]
mod irc_lines;
#[path = "../e2e/irc_real_client.rs"]
mod irc_real_client;
#[path = "../e2e/irc_registration.rs"]
mod irc_registration;
#[path = "../e2e/limits.rs"]
mod limits;
#[path = "../e2e/message_changes.rs"]
mod message_changes;
#[path = "../e2e/moderation.rs"]
mod moderation;
#[path = "../e2e/password_abuse.rs"]
mod password_abuse;
#[path = "../e2e/private_history.rs"]
mod private_history;
#[path = "../e2e/room_modes.rs"]
mod room_modes;
#[path = "../e2e/search.rs"]
mod search;
#[path = "../e2e/sessions.rs"]
mod sessions;
#[path = "../e2e/shutdown.rs"]
mod shutdown;
#[path = "../e2e/tls.rs"]
mod tls;
#[path = "../e2e/websocket.rs"]
mod websocket;
