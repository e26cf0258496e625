//! The single writer thread and its group commit.
//!
//! All writes go through one bounded queue to one thread that owns the write connection. The
//! thread takes everything waiting in the queue (up to `max_batch` messages), stores it in one
//! transaction, and reports the batch back, in order, on the completion channel. While it
//! commits, new messages queue up and form the next batch: under load batches grow and the cost
//! of each commit (an fsync) is shared by more messages; when idle, a lone message is committed
//! at once. Under steady moderate load (a commit less than 5 ms ago) a small batch waits 1 ms
//! for company, which keeps commits to about a thousand a second. Nothing is acknowledged or
//! broadcast before its batch is committed.
//!
//! The queue is bounded, so a store that cannot keep up slows the hub down (and through it, TCP
//! slows the senders) instead of growing memory. Completions go on an unbounded channel that the
//! hub drains first: it carries at most what the bounded queue let in, and keeping it unbounded
//! means the writer never waits on the hub while the hub waits on the writer.

use std::thread::JoinHandle;

use tokio::sync::mpsc;

use super::{Backend, RoomRecord, StoredMessage};

/// A writer that committed less than this long ago counts as busy.
const BUSY: std::time::Duration = std::time::Duration::from_millis(5);
/// How long a busy writer gathers more messages before committing a small batch.
const GATHER: std::time::Duration = std::time::Duration::from_millis(1);

/// Something to write.
#[derive(Debug)]
// Nearly every op is a message: boxing it would cost an allocation per message to save memory
// on the rare other ops.
#[allow(clippy::large_enum_variant)]
pub enum WriteOp {
    Message(StoredMessage),
    /// A new room (one stored already stays as it is).
    Room(RoomRecord),
    Topic {
        room_key: String,
        topic: String,
    },
    /// Private messages of one owner become another's (after every message queued before).
    ReassignOwner {
        from: String,
        to: String,
    },
}

/// What became of a batch of messages.
#[derive(Debug)]
pub enum StoreDone {
    /// Durably stored, in id order.
    Stored(Vec<StoredMessage>),
    /// Not stored (the transaction failed); the error is for the log.
    Failed(Vec<StoredMessage>, String),
}

fn reassign_owners(backend: &mut dyn Backend, reassign: &mut Vec<(String, String)>) {
    for (from, to) in reassign.drain(..) {
        if let Err(e) = backend.reassign_owner(&from, &to) {
            tracing::error!(error = %e, "could not give a guest's private history to its new account");
        }
    }
}

/// The handle to the writer thread.
pub struct StoreWriter {
    tx: mpsc::Sender<WriteOp>,
    thread: JoinHandle<()>,
}

impl StoreWriter {
    /// Starts the writer thread with a queue of `queue` operations and batches of at most
    /// `max_batch` messages.
    pub fn spawn(
        backend: Box<dyn Backend>,
        done: mpsc::UnboundedSender<StoreDone>,
        queue: usize,
        max_batch: usize,
    ) -> Self {
        Self::spawn_measured(backend, done, queue, max_batch, None)
    }

    /// As [`StoreWriter::spawn`], recording each batch's size and commit time in `metrics`.
    pub fn spawn_measured(
        mut backend: Box<dyn Backend>,
        done: mpsc::UnboundedSender<StoreDone>,
        queue: usize,
        max_batch: usize,
        metrics: Option<std::sync::Arc<crate::metrics::Metrics>>,
    ) -> Self {
        let (tx, mut rx) = mpsc::channel::<WriteOp>(queue);
        let thread = std::thread::Builder::new()
            .name("palaver-store-writer".into())
            .spawn(move || {
                let mut batch = Vec::with_capacity(max_batch);
                let mut reassign = Vec::new();
                let mut last_commit = std::time::Instant::now() - BUSY;
                while let Some(first) = rx.blocking_recv() {
                    let mut next = Some(first);
                    let mut waited = false;
                    loop {
                        while let Some(op) = next.take() {
                            match op {
                                WriteOp::Message(m) => batch.push(m),
                                WriteOp::Room(room) => {
                                    if let Err(e) = backend.save_room(&room) {
                                        tracing::error!(room = %room.name, error = %e, "could not save room");
                                    }
                                }
                                WriteOp::Topic { room_key, topic } => {
                                    if let Err(e) = backend.set_topic(&room_key, &topic) {
                                        tracing::error!(room = %room_key, error = %e, "could not save a topic");
                                    }
                                }
                                // After this batch: it may hold the owner's earlier messages.
                                WriteOp::ReassignOwner { from, to } => reassign.push((from, to)),
                            }
                            if batch.len() < max_batch && reassign.is_empty() {
                                next = rx.try_recv().ok();
                            }
                        }
                        // Busy (committed a moment ago) and the batch is small: gather for a
                        // moment longer, so commits (each an fsync) stay few under steady load.
                        if waited || batch.len() * 8 >= max_batch || last_commit.elapsed() >= BUSY {
                            break;
                        }
                        waited = true;
                        std::thread::sleep(GATHER);
                        next = rx.try_recv().ok();
                        if next.is_none() {
                            break;
                        }
                    }
                    if batch.is_empty() {
                        reassign_owners(backend.as_mut(), &mut reassign);
                        continue;
                    }
                    last_commit = std::time::Instant::now();
                    let mut taken = std::mem::replace(&mut batch, Vec::with_capacity(max_batch));
                    // A database that went away and came back: a new connection (until it is
                    // back, each batch fails and its senders are told).
                    let reconnected = match backend.is_broken() {
                        true => backend.reconnect(),
                        false => Ok(()),
                    };
                    let appended = reconnected.and_then(|()| backend.append(&mut taken));
                    if let Some(m) = &metrics {
                        m.store_batch_size.observe(taken.len() as f64);
                        m.store_commit_seconds
                            .observe(last_commit.elapsed().as_secs_f64());
                    }
                    let outcome = match appended {
                        Ok(()) => StoreDone::Stored(taken),
                        Err(e) => {
                            tracing::error!(error = %e, messages = taken.len(), "could not store messages");
                            StoreDone::Failed(taken, e.to_string())
                        }
                    };
                    reassign_owners(backend.as_mut(), &mut reassign);
                    if done.send(outcome).is_err() {
                        // Nobody listens for completions any more (shutdown); keep storing.
                    }
                }
            })
            .expect("spawn store writer thread");
        StoreWriter { tx, thread }
    }

    /// A sender for write operations.
    pub fn sender(&self) -> mpsc::Sender<WriteOp> {
        self.tx.clone()
    }

    /// Closes the queue and waits until everything queued is stored. Other senders must have been
    /// dropped first, or this waits for them.
    pub fn finish(self) {
        drop(self.tx);
        if self.thread.join().is_err() {
            tracing::error!("store writer thread panicked");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{sqlite::SqliteBackend, MessageKind};

    #[test]
    fn batches_are_reported_in_order_and_everything_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let path = path.to_str().unwrap();
        let (done_tx, mut done_rx) = mpsc::unbounded_channel();
        let writer = StoreWriter::spawn(
            Box::new(SqliteBackend::open(path).unwrap()),
            done_tx,
            1024,
            64,
        );
        let tx = writer.sender();
        for id in 1..=500u64 {
            tx.blocking_send(WriteOp::Message(StoredMessage {
                change: None,
                state: Default::default(),
                id,
                seq: 0,
                ts_ms: id as i64,
                content: format!("m{id}"),
                kind: MessageKind::Public {
                    owner: String::new(),
                    room: "general".into(),
                    room_key: "general".into(),
                    username: "a".into(),
                    username_key: "a".into(),
                },
            }))
            .unwrap();
        }
        drop(tx);
        writer.finish();
        let mut seen = Vec::new();
        while let Ok(StoreDone::Stored(batch)) = done_rx.try_recv() {
            assert!(batch.len() <= 64);
            seen.extend(batch.into_iter().map(|m| m.id));
        }
        assert_eq!(seen, (1..=500).collect::<Vec<_>>());
        let mut db = SqliteBackend::open(path).unwrap();
        assert_eq!(db.last_id().unwrap(), 500);
    }
}
