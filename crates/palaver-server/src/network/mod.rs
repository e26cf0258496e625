//! What the nodes of one Palaver network must agree on, reached through seams whose answers may
//! come later or not at all: the hub asks through [`crate::hub::HubIo`] and goes on when the
//! answer arrives. A server alone answers at once from memory; a cluster plugs a shared store
//! in behind the same traits.
//!
//! - [`names`]: who holds which name (a `join`'s claim, a rename, a take-over by the same
//!   session).
//! - [`events`]: changes to shared facts (moderation, topics) that every node applies.
//! - [`redis_names`]: the name registry of a cluster, in Redis, with leases.
//! - [`redis_events`]: those changes carried between the nodes through Redis pub/sub.

pub mod events;
pub mod names;
pub mod redis_events;
pub mod redis_names;
