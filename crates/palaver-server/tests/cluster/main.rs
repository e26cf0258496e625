//! The nodes of a cluster (`--redis`): several servers sharing one PostgreSQL database and one
//! Redis, tested as users meet them. Each test starts its own `redis-server` (so a test may
//! restart it) and its own database in the throwaway PostgreSQL this process shares; without
//! either the tests are skipped with a message, and under `CI=true` they fail.

/// The harness's own choice of database is not used: every node of a test is given the one
/// PostgreSQL database of its cluster.
pub const BACKEND: harness::Backend = harness::Backend::Sqlite;

mod chat;
mod failure;
// Shared with the end-to-end tests, which use more of them.
#[allow(dead_code)]
#[path = "../e2e/harness.rs"]
mod harness;
#[allow(dead_code)]
#[path = "../e2e/irc_client.rs"]
mod irc_client;
mod moderation;
mod names;
mod sharded;
mod support;
