//! What the nodes of one Palaver network must agree on, reached through seams whose answers may
//! come later or not at all: the hub asks through [`crate::hub::HubIo`] and goes on when the
//! answer arrives. A server alone answers at once from memory; a cluster plugs Redis in behind
//! the same seams (see `docs/cluster.md`).
//!
//! - [`names`]: who holds which name (a `join`'s claim, a rename, a take-over by the same
//!   session).
//! - [`events`]: changes to shared facts (moderation, topics, kicks, announcements) that every
//!   node applies.
//! - [`presence`]: who is online on the other nodes, and in which rooms.
//! - [`fanout`]: committed messages crossing to the nodes that deliver them.
//! - [`redis_names`]: the name registry of a cluster, in Redis, with leases.
//! - [`redis_bus`]: events, presence and messages carried between the nodes by Redis pub/sub.
//! - [`redis_link`]: one Redis server or a Redis Cluster.

pub mod events;
pub mod fanout;
pub mod names;
pub mod presence;
pub mod redis_bus;
pub mod redis_link;
pub mod redis_names;
