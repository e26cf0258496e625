//! A fixed set of threads that hash passwords, fed by a bounded queue.
//!
//! One argon2id hash holds 19 MiB while it runs, so hashing is the one thing a handful of clients
//! could use to make the server's memory balloon (and, through the allocator keeping freed
//! blocks per thread, keep it there). Hashing therefore never runs on the general blocking pool:
//! `workers` threads of its own take jobs from a queue of at most `queue` waiting jobs. The
//! memory hashing can take is `workers` × 19 MiB at any moment, whatever clients send; a job
//! that finds the queue full is refused at once (`server_busy`) instead of waiting without end.

use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

/// The workers' size: threads and waiting jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkersConfig {
    /// Hashing threads; 0 picks half the machine's cores (at least one).
    pub workers: usize,
    /// Jobs that may wait for a thread.
    pub queue: usize,
}

impl Default for WorkersConfig {
    fn default() -> Self {
        WorkersConfig {
            workers: 0,
            queue: 64,
        }
    }
}

impl WorkersConfig {
    /// The number of threads this configuration starts.
    pub fn threads(&self) -> usize {
        if self.workers > 0 {
            return self.workers;
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        (cores / 2).max(1)
    }
}

/// The handle to the hashing threads; they end when it is dropped (after the jobs queued).
pub struct HashWorkers<T> {
    jobs: SyncSender<T>,
    threads: usize,
}

impl<T: Send + 'static> HashWorkers<T> {
    /// Starts the threads; each job is handed to `handle` on one of them.
    pub fn start(
        config: WorkersConfig,
        handle: impl Fn(T) + Send + Sync + 'static,
    ) -> std::io::Result<Self> {
        let threads = config.threads();
        let (jobs, queue) = mpsc::sync_channel::<T>(config.queue);
        let queue = Arc::new(Mutex::new(queue));
        let handle = Arc::new(handle);
        for n in 0..threads {
            let (queue, handle) = (Arc::clone(&queue), Arc::clone(&handle));
            std::thread::Builder::new()
                .name(format!("palaver-hash-{n}"))
                .spawn(move || loop {
                    // The lock is held only while waiting for a job, never while hashing.
                    let job = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    match job {
                        Ok(job) => handle(job),
                        Err(_) => return,
                    }
                })?;
        }
        Ok(HashWorkers { jobs, threads })
    }

    /// Threads hashing (the most hashes running at once).
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Queues a job for the next free thread, or gives it back at once when the queue is full.
    pub fn try_run(&self, job: T) -> Result<(), T> {
        match self.jobs.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(job) | TrySendError::Disconnected(job)) => Err(job),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn at_most_workers_run_and_a_full_queue_refuses() {
        type Job = Box<dyn FnOnce() + Send>;
        let config = WorkersConfig {
            workers: 2,
            queue: 3,
        };
        let workers = HashWorkers::start(config, |job: Job| job()).unwrap();
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let release_rx = Arc::new(Mutex::new(release_rx));
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let mut accepted = 0;
        let mut refused = 0;
        for _ in 0..20 {
            let (running, most) = (Arc::clone(&running), Arc::clone(&most));
            let (release_rx, done_tx) = (Arc::clone(&release_rx), done_tx.clone());
            let job = move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                let _ = release_rx.lock().unwrap().recv();
                running.fetch_sub(1, Ordering::SeqCst);
                let _ = done_tx.send(());
            };
            match workers.try_run(Box::new(job)) {
                Ok(()) => accepted += 1,
                Err(_) => refused += 1,
            }
            // Let the threads pick up what they can before the next job.
            std::thread::sleep(Duration::from_millis(5));
        }
        // Two running (taken off the queue) and three waiting.
        assert_eq!(accepted, 5);
        assert_eq!(refused, 15);
        for _ in 0..accepted {
            release_tx.send(()).unwrap();
        }
        for _ in 0..accepted {
            done_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
        assert_eq!(workers.threads(), 2);
    }
}
