//! Where files' bytes live, content-addressed (by their SHA-256): the same bytes sent twice are
//! kept once.
//!
//! - [`DiskBlobs`]: a directory (`<database>.files/` next to a SQLite database, or
//!   `--files-dir`): one node.
//! - [`PostgresBlobs`]: the database every node of a cluster already shares, in 1 MiB rows
//!   (`file_chunks`), so a file uploaded to one node downloads from any.
//!
//! Reading streams: a download holds one chunk at a time (plus what the connection buffers),
//! never the whole file.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};

use bytes::Bytes;

use crate::store::postgres::BlockingClient;
use crate::store::StoreError;

/// Bytes by digest. Blocking: called on the blocking pool.
pub trait Blobs: Send + Sync + 'static {
    /// Keeps the bytes of the file at `from` under `digest` (nothing if they are kept already).
    fn put(&self, digest: &str, from: &Path) -> Result<(), StoreError>;
    /// Hands the bytes kept under `digest` to `chunk`, in order, a piece at a time, until it
    /// returns false (the reader went away). False when nothing is kept under `digest`.
    fn read(&self, digest: &str, chunk: &mut dyn FnMut(Bytes) -> bool) -> Result<bool, StoreError>;
    fn delete(&self, digest: &str) -> Result<(), StoreError>;

    /// All the bytes kept under `digest` (tests, small files).
    fn get(&self, digest: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut all = Vec::new();
        let kept = self.read(digest, &mut |piece| {
            all.extend_from_slice(&piece);
            true
        })?;
        Ok(kept.then_some(all))
    }
}

/// The size of the pieces a file on disk is read in.
const DISK_PIECE: usize = 256 * 1024;

/// Files in a directory, `<dir>/<first two hex digits>/<digest>`.
pub struct DiskBlobs {
    dir: PathBuf,
}

impl DiskBlobs {
    pub fn open(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(DiskBlobs { dir })
    }

    fn path(&self, digest: &str) -> PathBuf {
        self.dir.join(&digest[..2.min(digest.len())]).join(digest)
    }
}

fn io(e: std::io::Error) -> StoreError {
    StoreError::Pool(format!("file storage: {e}"))
}

impl Blobs for DiskBlobs {
    fn put(&self, digest: &str, from: &Path) -> Result<(), StoreError> {
        let to = self.path(digest);
        if to.exists() {
            return Ok(());
        }
        let parent = to.parent().expect("a parent");
        std::fs::create_dir_all(parent).map_err(io)?;
        // A copy beside it under a name of its own (two uploads of the same bytes may race),
        // then a rename: the file appears whole or not at all.
        let mut partial = tempfile::Builder::new()
            .suffix(".partial")
            .tempfile_in(parent)
            .map_err(io)?;
        let mut source = std::fs::File::open(from).map_err(io)?;
        std::io::copy(&mut source, partial.as_file_mut()).map_err(io)?;
        partial.as_file().sync_all().map_err(io)?;
        partial.persist(&to).map_err(|e| io(e.error))?;
        Ok(())
    }

    fn read(&self, digest: &str, chunk: &mut dyn FnMut(Bytes) -> bool) -> Result<bool, StoreError> {
        let mut file = match std::fs::File::open(self.path(digest)) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(io(e)),
        };
        loop {
            let mut piece = vec![0u8; DISK_PIECE];
            let n = file.read(&mut piece).map_err(io)?;
            if n == 0 {
                return Ok(true);
            }
            piece.truncate(n);
            if !chunk(Bytes::from(piece)) {
                return Ok(true);
            }
        }
    }

    fn delete(&self, digest: &str) -> Result<(), StoreError> {
        match std::fs::remove_file(self.path(digest)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(e)),
            _ => Ok(()),
        }
    }
}

/// The bytes in PostgreSQL, 1 MiB a row.
pub struct PostgresBlobs {
    url: String,
    /// Connections not in use.
    idle: Mutex<Vec<BlockingClient>>,
    /// How many are in use, at most [`BLOB_CONNECTIONS`] (more uploads and downloads wait).
    busy: (Mutex<usize>, Condvar),
}

const CHUNK: usize = 1 << 20;

/// The most connections file transfers use at once on a node.
const BLOB_CONNECTIONS: usize = 4;

impl PostgresBlobs {
    pub fn new(url: &str) -> Self {
        PostgresBlobs {
            url: url.to_string(),
            idle: Mutex::new(Vec::new()),
            busy: (Mutex::new(0), Condvar::new()),
        }
    }

    /// Runs `f` on one of this store's connections (an idle one, or a new one), waiting while
    /// [`BLOB_CONNECTIONS`] are in use; a connection that failed is dropped.
    fn with<R>(
        &self,
        f: impl FnOnce(&mut postgres::Client) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let (count, freed) = &self.busy;
        {
            let mut busy = count.lock().unwrap_or_else(|e| e.into_inner());
            while *busy >= BLOB_CONNECTIONS {
                busy = freed.wait(busy).unwrap_or_else(|e| e.into_inner());
            }
            *busy += 1;
        }
        let release = || {
            *count.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
            freed.notify_one();
        };
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut client = match idle.filter(|c| !c.is_closed()) {
            Some(client) => client,
            None => match BlockingClient::connect(&self.url) {
                Ok(client) => client,
                Err(e) => {
                    release();
                    return Err(e);
                }
            },
        };
        let result = f(&mut client);
        if !client.is_closed() {
            self.idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(client);
        }
        release();
        result
    }
}

impl Blobs for PostgresBlobs {
    fn put(&self, digest: &str, from: &Path) -> Result<(), StoreError> {
        let mut file = std::fs::File::open(from).map_err(io)?;
        self.with(|client| {
            let mut tx = client.transaction()?;
            let kept: i64 = tx
                .query_one(
                    "SELECT COUNT(*) FROM file_chunks WHERE digest = $1",
                    &[&digest],
                )?
                .get(0);
            if kept > 0 {
                return Ok(());
            }
            let mut n: i32 = 0;
            let mut buf = vec![0u8; CHUNK];
            loop {
                let mut filled = 0;
                while filled < CHUNK {
                    let read = file.read(&mut buf[filled..]).map_err(io)?;
                    if read == 0 {
                        break;
                    }
                    filled += read;
                }
                if filled == 0 && n > 0 {
                    break;
                }
                tx.execute(
                    "INSERT INTO file_chunks (digest, n, data) VALUES ($1, $2, $3)
                     ON CONFLICT DO NOTHING",
                    &[&digest, &n, &&buf[..filled]],
                )?;
                n += 1;
                if filled < CHUNK {
                    break;
                }
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn read(&self, digest: &str, chunk: &mut dyn FnMut(Bytes) -> bool) -> Result<bool, StoreError> {
        use postgres::fallible_iterator::FallibleIterator;
        self.with(|client| {
            // One query, its rows (1 MiB each) taken as they arrive.
            let mut rows = client.query_raw(
                "SELECT data FROM file_chunks WHERE digest = $1 ORDER BY n",
                [digest],
            )?;
            let mut any = false;
            while let Some(row) = rows.next()? {
                any = true;
                if !chunk(Bytes::copy_from_slice(row.get::<_, &[u8]>(0))) {
                    break;
                }
            }
            Ok(any)
        })
    }

    fn delete(&self, digest: &str) -> Result<(), StoreError> {
        self.with(|client| {
            client.execute("DELETE FROM file_chunks WHERE digest = $1", &[&digest])?;
            Ok(())
        })
    }
}
