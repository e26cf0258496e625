//! Read connections: a pool (r2d2) of store connections for the blocking pool's reads (room
//! windows, history pages, resume replays).
//!
//! One shared connection behind a lock made every reader wait for the slowest page; with a
//! pool, a slow read holds one connection and the others go on (SQLite in WAL mode and
//! PostgreSQL both serve several readers at once). A connection PostgreSQL has closed is
//! replaced, not handed out again. Reads never run on the hub's task.

use std::time::Duration;

use super::{Backend, StoreError};

/// Read connections a server keeps at most.
pub const READ_CONNECTIONS: u32 = 4;

/// How long a read waits for a free connection before it fails (and is answered
/// `storage_failed`).
const WAIT: Duration = Duration::from_secs(30);

/// Opens store connections for the pool.
struct Opener {
    database: String,
}

impl r2d2::ManageConnection for Opener {
    type Connection = Box<dyn Backend>;
    type Error = StoreError;

    fn connect(&self) -> Result<Box<dyn Backend>, StoreError> {
        super::open(&self.database)
    }

    fn is_valid(&self, _conn: &mut Box<dyn Backend>) -> Result<(), StoreError> {
        Ok(())
    }

    fn has_broken(&self, conn: &mut Box<dyn Backend>) -> bool {
        conn.is_broken()
    }
}

/// A pool of read connections to one database.
#[derive(Clone)]
pub struct ReadPool(r2d2::Pool<Opener>);

impl ReadPool {
    /// A pool of up to `size` connections to `database` (a `--database` value); one is opened
    /// now, so a database that cannot be read is found at start.
    pub fn open(database: &str, size: u32) -> Result<Self, StoreError> {
        let pool = r2d2::Pool::builder()
            .max_size(size.max(1))
            .min_idle(Some(1))
            .connection_timeout(WAIT)
            .test_on_check_out(false)
            .build(Opener {
                database: database.to_string(),
            })
            .map_err(|e| StoreError::Pool(e.to_string()))?;
        Ok(ReadPool(pool))
    }

    /// Runs `read` on a connection of the pool (blocking: call it on the blocking pool).
    pub fn read<T>(
        &self,
        read: impl FnOnce(&mut dyn Backend) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.0.get().map_err(|e| StoreError::Pool(e.to_string()))?;
        read(conn.as_mut())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::contract::{public, room};

    /// Two readers at once each hold a connection of their own.
    #[test]
    fn readers_do_not_wait_for_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db").to_str().unwrap().to_string();
        let mut writer = crate::store::open(&path).unwrap();
        writer
            .append(&mut [public(0, "general", "alice", "hello")])
            .unwrap();
        let pool = ReadPool::open(&path, 2).unwrap();
        let (inside_tx, inside_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let slow = {
            let pool = pool.clone();
            std::thread::spawn(move || {
                pool.read(|_db| {
                    inside_tx.send(()).unwrap();
                    release_rx.recv().unwrap();
                    Ok(())
                })
            })
        };
        inside_rx.recv().unwrap();
        // The slow reader holds one connection; this read gets the other at once.
        let page = pool
            .read(|db| db.page(&room("general"), &crate::store::contract::newest(10)))
            .unwrap();
        assert_eq!(page.messages[0].content, "hello");
        release_tx.send(()).unwrap();
        slow.join().unwrap().unwrap();
    }
}
