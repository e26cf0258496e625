//! Password work, bounded: who may try a password how often ([`throttle`]), and the threads
//! that do the hashing ([`workers`]).
//!
//! [`Passwords`] is what the runtime holds. Every password operation (`login`, `authenticate`,
//! `register`, `change_password`) first takes a token from the throttle, on the hub's task and
//! without hashing, then goes to the hashing threads' bounded queue; its answer goes back to the
//! hub as a message. A refusal (throttled, or the queue full) is answered at once with its code.
//! So the memory and CPU that password hashing can take are fixed by configuration
//! (`workers` × 19 MiB), not by what clients send.

pub mod throttle;
pub mod workers;

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;

use palaver_proto::ErrorCode;

use crate::runtime::HubMsg;
use crate::store::accounts::Accounts;
pub use throttle::{Attempt, AttemptThrottle, ThrottleConfig};
pub use workers::{HashWorkers, WorkersConfig};

/// How password work is limited.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PasswordConfig {
    pub throttle: ThrottleConfig,
    pub workers: WorkersConfig,
}

/// The slow part: hashing or checking, against the accounts store.
type Work = Box<dyn FnOnce(&Accounts) -> Result<(), ErrorCode> + Send>;
/// The message that tells the hub how it went.
type Answer = Box<dyn FnOnce(Result<(), ErrorCode>) -> HubMsg + Send>;

/// One password operation on its way to a hashing thread.
struct Job {
    work: Work,
    answer: Answer,
    hub: mpsc::Sender<HubMsg>,
}

/// The accounts store with its throttle and hashing threads.
pub struct Passwords {
    throttle: AttemptThrottle,
    workers: HashWorkers<Job>,
    /// When a full queue was last logged (at most once a second: a flood must not flood the log).
    last_busy_log: Option<Instant>,
}

impl Passwords {
    pub fn start(accounts: Arc<Accounts>, config: &PasswordConfig) -> std::io::Result<Self> {
        tracing::info!(
            threads = config.workers.threads(),
            queue = config.workers.queue,
            "password hashing threads"
        );
        let workers = HashWorkers::start(config.workers, move |job: Job| {
            let result = (job.work)(&accounts);
            let _ = job.hub.blocking_send((job.answer)(result));
        })?;
        Ok(Passwords {
            throttle: AttemptThrottle::new(config.throttle.clone()),
            workers,
            last_busy_log: None,
        })
    }

    /// Runs `work` on a hashing thread if `attempt` is allowed, and sends the hub
    /// `answer(result)`: the work's result, or the code that refused it (`too_many_attempts`,
    /// `server_busy`).
    pub fn run(
        &mut self,
        attempt: Attempt<'_>,
        hub: mpsc::Sender<HubMsg>,
        work: impl FnOnce(&Accounts) -> Result<(), ErrorCode> + Send + 'static,
        answer: impl FnOnce(Result<(), ErrorCode>) -> HubMsg + Send + 'static,
    ) {
        let job = Job {
            work: Box::new(work),
            answer: Box::new(answer),
            hub,
        };
        let now = Instant::now();
        let refused = match self.throttle.try_attempt(attempt, now) {
            Err(code) => (code, job),
            Ok(()) => match self.workers.try_run(job) {
                Ok(()) => return,
                Err(job) => {
                    if self
                        .last_busy_log
                        .is_none_or(|last| now.duration_since(last).as_secs() >= 1)
                    {
                        self.last_busy_log = Some(now);
                        tracing::warn!(
                            "the password hashing queue is full: refusing with server_busy"
                        );
                    }
                    (ErrorCode::ServerBusy, job)
                }
            },
        };
        let (code, job) = refused;
        tokio::spawn(async move {
            let _ = job.hub.send((job.answer)(Err(code))).await;
        });
    }
}
