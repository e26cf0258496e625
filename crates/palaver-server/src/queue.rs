//! The bounded outbound queue of one connection: encoded frames (shared `Bytes`) waiting for the
//! connection's writer.
//!
//! The hub only ever `try_push`es: a full queue means the reader on the other end is too slow, and
//! the hub disconnects it rather than wait. History pages and resume replays `push` with
//! backpressure instead (they run in their own tasks and may wait). The writer takes everything
//! queued in one go (`pop_all`), so a burst costs one lock and, usually, one write.
//!
//! An idle connection's queue owns no buffer: the deque allocates on first use. That matters at
//! tens of thousands of connections, where a channel's preallocated block per connection would
//! cost more than everything else a connection holds.

use std::collections::VecDeque;
use std::sync::Mutex;

use bytes::Bytes;
use tokio::sync::Notify;

/// What became of a `try_push`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    Queued,
    /// At capacity: the consumer is too slow.
    Full,
    /// The connection is closing; nothing more is accepted.
    Closed,
}

#[derive(Debug, Default)]
struct Inner {
    frames: VecDeque<Bytes>,
    /// Bytes in `frames`.
    bytes: usize,
    closed: bool,
}

#[derive(Debug)]
pub struct OutboundQueue {
    inner: Mutex<Inner>,
    capacity: usize,
    max_bytes: usize,
    /// Signals the writer that frames arrived (or the queue closed).
    ready: Notify,
    /// Signals waiting pushers that there is room (or the queue closed).
    space: Notify,
    /// True while a history page for this connection is being read or queued: one at a time.
    paging: std::sync::atomic::AtomicBool,
}

impl OutboundQueue {
    /// A queue of at most `capacity` frames and `max_bytes` bytes (a single larger frame is
    /// still accepted into an empty queue, so a big history page can always go out).
    pub fn new(capacity: usize, max_bytes: usize) -> Self {
        OutboundQueue {
            inner: Mutex::new(Inner::default()),
            capacity: capacity.max(1),
            max_bytes: max_bytes.max(1),
            ready: Notify::new(),
            space: Notify::new(),
            paging: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Claims the connection's one history-page slot; false if a page is already on its way.
    pub fn start_paging(&self) -> bool {
        !self.paging.swap(true, std::sync::atomic::Ordering::AcqRel)
    }

    pub fn end_paging(&self) {
        self.paging
            .store(false, std::sync::atomic::Ordering::Release);
    }

    /// Frames the queue holds at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the deque inconsistent; carry on.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a frame unless the queue is full or closed. Never waits.
    pub fn try_push(&self, frame: Bytes) -> Push {
        let mut inner = self.lock();
        if inner.closed {
            return Push::Closed;
        }
        let was_empty = inner.frames.is_empty();
        if inner.frames.len() >= self.capacity
            || (!was_empty && inner.bytes + frame.len() > self.max_bytes)
        {
            return Push::Full;
        }
        inner.bytes += frame.len();
        inner.frames.push_back(frame);
        drop(inner);
        if was_empty {
            self.ready.notify_one();
        }
        Push::Queued
    }

    /// Queues a frame, waiting for room. Fails only if the queue is closed.
    pub async fn push(&self, frame: Bytes) -> Result<(), Bytes> {
        loop {
            let room = self.space.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            match self.try_push(frame.clone()) {
                Push::Queued => return Ok(()),
                Push::Closed => return Err(frame),
                Push::Full => room.await,
            }
        }
    }

    /// Moves every queued frame into `into` (which should be empty), waiting until there is at
    /// least one. Returns false once the queue is closed and drained.
    pub async fn pop_all(&self, into: &mut VecDeque<Bytes>) -> bool {
        loop {
            let ready = self.ready.notified();
            tokio::pin!(ready);
            ready.as_mut().enable();
            {
                let mut inner = self.lock();
                if !inner.frames.is_empty() {
                    std::mem::swap(&mut inner.frames, into);
                    inner.bytes = 0;
                    // Do not keep a burst's worth of capacity around on an idle connection.
                    if inner.frames.capacity() > 256 {
                        inner.frames = VecDeque::new();
                    }
                    drop(inner);
                    self.space.notify_waiters();
                    return true;
                }
                if inner.closed {
                    return false;
                }
            }
            ready.await;
        }
    }

    /// Appends whatever is queued to `into`, without waiting.
    pub fn take_more(&self, into: &mut VecDeque<Bytes>) {
        let mut inner = self.lock();
        if inner.frames.is_empty() {
            return;
        }
        into.extend(inner.frames.drain(..));
        inner.bytes = 0;
        drop(inner);
        self.space.notify_waiters();
    }

    /// Accepts nothing more; the writer drains what is queued and then stops.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_one();
        self.space.notify_waiters();
    }

    pub fn len(&self) -> usize {
        self.lock().frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn bounded_fifo_that_drains_in_batches() {
        let q = OutboundQueue::new(3, 1 << 20);
        for n in 0..3 {
            assert_eq!(q.try_push(Bytes::from(vec![n])), Push::Queued);
        }
        assert_eq!(q.try_push(Bytes::from_static(b"x")), Push::Full);
        let mut batch = VecDeque::new();
        assert!(q.pop_all(&mut batch).await);
        assert_eq!(
            batch.iter().map(|b| b[0]).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        assert!(q.is_empty());
        q.close();
        assert_eq!(q.try_push(Bytes::from_static(b"late")), Push::Closed);
        batch.clear();
        assert!(!q.pop_all(&mut batch).await);
    }

    #[tokio::test]
    async fn bytes_are_bounded_too_but_one_big_frame_always_fits() {
        let q = OutboundQueue::new(100, 10);
        assert_eq!(
            q.try_push(Bytes::from(vec![0; 25])),
            Push::Queued,
            "alone, it fits"
        );
        assert_eq!(q.try_push(Bytes::from(vec![0; 1])), Push::Full);
        let mut batch = VecDeque::new();
        assert!(q.pop_all(&mut batch).await);
        assert_eq!(q.try_push(Bytes::from(vec![0; 6])), Push::Queued);
        assert_eq!(q.try_push(Bytes::from(vec![0; 4])), Push::Queued);
        assert_eq!(q.try_push(Bytes::from(vec![0; 1])), Push::Full);
    }

    #[tokio::test]
    async fn closing_lets_the_writer_drain_first() {
        let q = OutboundQueue::new(8, 1 << 20);
        q.try_push(Bytes::from_static(b"a"));
        q.close();
        let mut batch = VecDeque::new();
        assert!(q.pop_all(&mut batch).await);
        assert_eq!(batch.len(), 1);
        batch.clear();
        assert!(!q.pop_all(&mut batch).await);
    }

    #[tokio::test]
    async fn push_waits_for_room() {
        let q = Arc::new(OutboundQueue::new(1, 1 << 20));
        q.try_push(Bytes::from_static(b"1"));
        let pusher = {
            let q = q.clone();
            tokio::spawn(async move { q.push(Bytes::from_static(b"2")).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!pusher.is_finished(), "waits while full");
        let mut batch = VecDeque::new();
        assert!(q.pop_all(&mut batch).await);
        assert!(pusher.await.unwrap().is_ok());
        batch.clear();
        assert!(q.pop_all(&mut batch).await);
        assert_eq!(&batch[0][..], b"2");
    }

    #[tokio::test]
    async fn the_writer_wakes_for_frames_pushed_while_it_waits() {
        let q = Arc::new(OutboundQueue::new(8, 1 << 20));
        let writer = {
            let q = q.clone();
            tokio::spawn(async move {
                let mut batch = VecDeque::new();
                q.pop_all(&mut batch).await;
                batch.len()
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        q.try_push(Bytes::from_static(b"hello"));
        assert_eq!(
            tokio::time::timeout(Duration::from_secs(2), writer)
                .await
                .unwrap()
                .unwrap(),
            1
        );
    }
}
