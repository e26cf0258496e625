//! Who holds which name, across every node of a network: the seam a `join` (and a rename)
//! claims its name through.
//!
//! A claim is an effect, like a password check: the hub asks ([`NameClaim`]), the registry
//! answers ([`ClaimAnswer`]), and the hub goes on in [`crate::hub::Hub::name_claimed`]. On one
//! node the answer comes at once from [`LocalNames`], a map in the hub's task; a cluster answers
//! later, from a store every node shares, and the hub holds the session's other requests until
//! then.
//!
//! A name is free, taken, or held by an older connection of the same session (the same resume
//! token, so the same [`SessionKey`]): then the claim takes it over and names the holder it
//! replaces, which its node closes. A name that looks like one held by someone else (the same
//! skeleton, `validate::lookalike_keys`) is refused too. A release only frees what the releasing
//! holder still holds, so the closing of a replaced connection never frees its successor's name.

use std::collections::HashMap;

use crate::hub::identity::SessionKey;
use crate::hub::SessionId;

/// A node of the network; a server alone is node 0.
pub type NodeId = u32;

/// One connection, anywhere in the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Holder {
    pub node: NodeId,
    pub session: SessionId,
}

/// A request for a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameClaim {
    /// As shown.
    pub name: String,
    /// Folded (`validate::fold`): what uniqueness is about.
    pub key: String,
    /// Its look-alike keys (`validate::lookalike_keys`).
    pub lookalikes: Vec<String>,
    /// The claiming session's key: an older connection of the same session gives way.
    pub session_key: SessionKey,
    pub holder: Holder,
}

/// What the registry said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimAnswer {
    /// The name is the claimant's; `replaces` is the older connection of the same session that
    /// held it (to be closed by its node).
    Granted {
        replaces: Option<Holder>,
    },
    Refused(ClaimRefusal),
}

/// Why a name was not granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimRefusal {
    /// Someone else holds it.
    Taken,
    /// Someone else holds a name that looks like it (shown as they chose it).
    LooksLike { other: String },
    /// The registry could not be asked (a cluster's shared store is down): try again later.
    Unavailable,
}

/// The registry of names online.
pub trait NameRegistry: Send {
    /// Asks for a name. `Some` is the answer now; `None` means it arrives later, through
    /// [`crate::runtime::HubMsg::NameClaimed`].
    fn claim(&mut self, claim: &NameClaim) -> Option<ClaimAnswer>;
    /// Frees `key` if `holder` still holds it (with its look-alikes).
    fn release(&mut self, key: &str, holder: Holder);
    /// Releases still on their way, to wait for before the process ends (a node shutting
    /// down frees its names at once rather than when their leases end).
    fn releasing(&mut self) -> Vec<tokio::task::JoinHandle<()>> {
        Vec::new()
    }
}

#[derive(Debug)]
struct Held {
    name: String,
    holder: Holder,
    session_key: SessionKey,
}

/// The registry of a server alone: two maps, answered at once.
#[derive(Debug, Default)]
pub struct LocalNames {
    /// Folded name -> who holds it.
    held: HashMap<String, Held>,
    /// Look-alike key -> the folded name that claimed it.
    lookalikes: HashMap<String, String>,
}

impl LocalNames {
    pub fn len(&self) -> usize {
        self.held.len()
    }

    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    fn answer(&mut self, claim: &NameClaim) -> ClaimAnswer {
        let mut replaces = None;
        if let Some(held) = self.held.get(&claim.key) {
            if held.holder == claim.holder {
                // A rename that only changes case keeps its own name.
            } else if held.session_key == claim.session_key {
                replaces = Some(held.holder);
            } else {
                return ClaimAnswer::Refused(ClaimRefusal::Taken);
            }
        }
        // Someone else's look-alike (a holder's own names never stand in its way).
        let other = claim
            .lookalikes
            .iter()
            .filter_map(|k| self.lookalikes.get(k))
            .filter(|owner| **owner != claim.key)
            .filter_map(|owner| self.held.get(owner))
            .find(|held| held.holder != claim.holder);
        if let Some(other) = other {
            return ClaimAnswer::Refused(ClaimRefusal::LooksLike {
                other: other.name.clone(),
            });
        }
        if let Some(old) = self.held.remove(&claim.key) {
            self.drop_lookalikes(&claim.key, &old.name);
        }
        for k in &claim.lookalikes {
            self.lookalikes.insert(k.clone(), claim.key.clone());
        }
        self.held.insert(
            claim.key.clone(),
            Held {
                name: claim.name.clone(),
                holder: claim.holder,
                session_key: claim.session_key,
            },
        );
        ClaimAnswer::Granted { replaces }
    }

    fn drop_lookalikes(&mut self, key: &str, name: &str) {
        for k in palaver_proto::validate::lookalike_keys(name) {
            if self.lookalikes.get(&k).is_some_and(|owner| owner == key) {
                self.lookalikes.remove(&k);
            }
        }
    }
}

impl NameRegistry for LocalNames {
    fn claim(&mut self, claim: &NameClaim) -> Option<ClaimAnswer> {
        Some(self.answer(claim))
    }

    fn release(&mut self, key: &str, holder: Holder) {
        if self.held.get(key).is_some_and(|h| h.holder == holder) {
            let held = self.held.remove(key).expect("checked");
            self.drop_lookalikes(key, &held.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palaver_proto::validate;

    fn claim(name: &str, session: SessionId, session_key: u8) -> NameClaim {
        NameClaim {
            name: name.into(),
            key: validate::fold(name),
            lookalikes: validate::lookalike_keys(name),
            session_key: [session_key; 16],
            holder: Holder { node: 0, session },
        }
    }

    fn granted(replaces: Option<SessionId>) -> Option<ClaimAnswer> {
        Some(ClaimAnswer::Granted {
            replaces: replaces.map(|session| Holder { node: 0, session }),
        })
    }

    #[test]
    fn a_name_is_held_by_one_session_at_a_time() {
        let mut names = LocalNames::default();
        assert_eq!(names.claim(&claim("alice", 1, 1)), granted(None));
        assert_eq!(
            names.claim(&claim("Alice", 2, 2)),
            Some(ClaimAnswer::Refused(ClaimRefusal::Taken)),
            "case does not make a new name"
        );
        // The same session (same token) on a new connection takes it over.
        assert_eq!(names.claim(&claim("alice", 3, 1)), granted(Some(1)));
        // The replaced connection's release does not free its successor's name.
        names.release(
            "alice",
            Holder {
                node: 0,
                session: 1,
            },
        );
        assert_eq!(
            names.claim(&claim("alice", 4, 4)),
            Some(ClaimAnswer::Refused(ClaimRefusal::Taken))
        );
        names.release(
            "alice",
            Holder {
                node: 0,
                session: 3,
            },
        );
        assert_eq!(names.claim(&claim("alice", 4, 4)), granted(None));
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn look_alikes_are_refused_until_released() {
        let mut names = LocalNames::default();
        assert_eq!(names.claim(&claim("paypal", 1, 1)), granted(None));
        assert_eq!(
            names.claim(&claim("paypaI", 2, 2)),
            Some(ClaimAnswer::Refused(ClaimRefusal::LooksLike {
                other: "paypal".into()
            }))
        );
        // The holder itself may change the case of its name.
        assert_eq!(names.claim(&claim("PayPal", 1, 1)), granted(None));
        // Or rename to a look-alike of its own name (and then let the old one go).
        assert_eq!(names.claim(&claim("paypa1", 1, 1)), granted(None));
        names.release(
            "paypal",
            Holder {
                node: 0,
                session: 1,
            },
        );
        assert_eq!(
            names.claim(&claim("paypal", 2, 2)),
            Some(ClaimAnswer::Refused(ClaimRefusal::LooksLike {
                other: "paypa1".into()
            }))
        );
        names.release(
            "paypa1",
            Holder {
                node: 0,
                session: 1,
            },
        );
        assert!(names.is_empty());
        assert_eq!(names.claim(&claim("paypaI", 2, 2)), granted(None));
    }
}
