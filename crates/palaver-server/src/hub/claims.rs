//! A name claimed through the network's registry (`network/names.rs`): the effect a `join` and
//! a rename wait on, like a password check.
//!
//! The claim goes out through [`HubIo::claim_name`]; its answer comes back at once (a server
//! alone) or later ([`Hub::name_claimed`], a cluster). Meanwhile the session's other requests are
//! held, in order, and run once the answer is in, so a client that sends its first message
//! right behind its `join` loses nothing. A granted name whose connection is gone by then is
//! given back.

use palaver_proto::{ErrorCode, Request};

use super::session::PendingClaim;
use super::{Hub, HubIo, Refusal, SessionId};
use crate::network::events::NetworkEvent;
use crate::network::names::{ClaimAnswer, ClaimRefusal, Holder, NameClaim};

/// Requests one session may have held while its name is being claimed.
const HELD_MAX: usize = 64;

impl Hub {
    /// This node's connection `session`, as the network knows it.
    pub(super) fn holder(&self, session: SessionId) -> Holder {
        Holder {
            node: self.config.node,
            session,
        }
    }

    /// Asks the registry for a name; `pending` is what to do once it answers.
    pub(super) fn claim_name(
        &mut self,
        session: SessionId,
        claim: NameClaim,
        pending: PendingClaim,
        io: &mut impl HubIo,
    ) {
        let s = self.sessions.get_mut(&session).expect("session exists");
        s.claim = Some(Box::new(pending));
        if let Some(answer) = io.claim_name(&claim) {
            self.name_claimed(claim, answer, io);
        }
    }

    /// The registry's answer to a claim: the join or rename goes on, or is refused; then the
    /// requests held meanwhile run.
    pub fn name_claimed(&mut self, claim: NameClaim, answer: ClaimAnswer, io: &mut impl HubIo) {
        let session = claim.holder.session;
        let Some(pending) = self.sessions.get_mut(&session).and_then(|s| s.claim.take()) else {
            // The connection is gone: give the name back.
            if matches!(answer, ClaimAnswer::Granted { .. }) {
                io.release_name(&claim.key, claim.holder);
            }
            return;
        };
        match answer {
            ClaimAnswer::Granted { replaces } => {
                match replaces {
                    Some(old) if old.node == self.config.node => {
                        self.replace_session(old.session, io)
                    }
                    // The old connection is on another node: that node closes it.
                    Some(old) => io.publish(&NetworkEvent::Replaced { holder: old }),
                    None => {}
                }
                match *pending {
                    PendingClaim::Join {
                        ask,
                        resume_token,
                        reference,
                        ..
                    } => self.join_claimed(session, claim, ask, resume_token, reference, io),
                    PendingClaim::Rename { reference, asker } => {
                        self.answering(session, asker, |hub| {
                            hub.rename_claimed(session, claim, reference, io)
                        })
                    }
                }
            }
            ClaimAnswer::Refused(ClaimRefusal::Taken)
                if matches!(
                    *pending,
                    PendingClaim::Join {
                        asked_again: false,
                        ..
                    }
                ) && io.claim_name_later(&claim) =>
            {
                // The holder may be a connection that has just closed, its departure still on
                // its way (a client that reconnects at once, as bots and test suites do): ask
                // once more in a moment before refusing.
                let mut pending = pending;
                if let PendingClaim::Join { asked_again, .. } = pending.as_mut() {
                    *asked_again = true;
                }
                if let Some(s) = self.sessions.get_mut(&session) {
                    s.claim = Some(pending);
                }
                return;
            }
            ClaimAnswer::Refused(why) => {
                let refusal = refusal(&claim.name, why);
                let asker = pending.asker().unwrap_or(session);
                let reference = pending.reference();
                self.answering(session, asker, |hub| {
                    hub.refuse(session, refusal, reference, io)
                });
            }
        }
        self.run_held(session, io);
        // The user's devices' requests waited for it too.
        let devices = self
            .sessions
            .get(&session)
            .map(|s| s.devices.clone())
            .unwrap_or_default();
        for device in devices {
            self.run_held(device, io);
        }
        self.reap_slow(io);
    }

    /// A claim's second asking (see [`HubIo::claim_name_later`]), if its session still waits.
    pub fn claim_again(&mut self, claim: NameClaim, io: &mut impl HubIo) {
        let waiting = self
            .sessions
            .get(&claim.holder.session)
            .is_some_and(|s| s.claim.is_some());
        if !waiting {
            return;
        }
        if let Some(answer) = io.claim_name(&claim) {
            self.name_claimed(claim, answer, io);
        }
    }

    /// Holds a request that arrived while the session's name is being claimed, or while a
    /// password of a joined session is being checked (`oper`, `register`, a new password), so
    /// that what follows is answered after it (IRC's PING after OPER); gives it back (to be
    /// handled now) if the session is waiting for neither.
    pub(super) fn hold_if_waiting(
        &mut self,
        session: SessionId,
        request: Request,
        io: &mut impl HubIo,
    ) -> Option<Request> {
        // A device waits for its user's rename too (one claim at a time per user).
        let user_claiming = self
            .sessions
            .get(&session)
            .and_then(|s| s.device_of)
            .and_then(|u| self.sessions.get(&u))
            .is_some_and(|u| u.claim.is_some());
        let s = self.sessions.get_mut(&session)?;
        let checking = s.login.is_some() && (s.user.is_some() || s.device_of.is_some());
        if s.claim.is_none() && !checking && !s.looking_up && !user_claiming {
            return Some(request);
        }
        if s.held.len() < HELD_MAX {
            s.held.push(request);
        } else {
            let message =
                "Too many requests while your name is being checked; wait for the answer.";
            self.error_to(
                session,
                ErrorCode::RateLimited,
                message,
                request.reference,
                io,
            );
        }
        None
    }

    pub(super) fn run_held(&mut self, session: SessionId, io: &mut impl HubIo) {
        let held = match self.sessions.get_mut(&session) {
            Some(s) => std::mem::take(&mut s.held),
            None => return,
        };
        for request in held {
            self.request(session, request, io);
        }
    }
}

/// Why a claim was refused, as the client is told.
fn refusal(name: &str, why: ClaimRefusal) -> Refusal {
    match why {
        ClaimRefusal::Taken => Refusal::new(
            ErrorCode::UsernameTaken,
            format!("The username {name:?} is already taken; choose another."),
        ),
        ClaimRefusal::LooksLike { other } => Refusal::new(
            ErrorCode::UsernameTaken,
            format!(
                "The username {name:?} looks too much like {other:?}, who is online; choose another."
            ),
        ),
        ClaimRefusal::Unavailable => Refusal::new(
            ErrorCode::ServerBusy,
            "Names cannot be checked right now; try again in a moment.",
        ),
    }
    .about(name)
}
