//! Where files' bytes live, content-addressed (by their SHA-256): the same bytes sent twice are
//! kept once.
//!
//! - [`DiskBlobs`]: a directory (`<database>.files/` next to a SQLite database, or
//!   `--files-dir`): one node.
//! - [`PostgresBlobs`]: the database every node of a cluster already shares, in 1 MiB rows
//!   (`file_chunks`), so a file uploaded to one node downloads from any.
//!
//! Reading goes piece by piece ([`Blobs::piece`]): a download holds one piece at a time, never
//! the whole file, and nothing (no thread, no database connection) between pieces.

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
    /// Piece `n` (from 0) of the bytes kept under `digest`, in pieces of the store's own size;
    /// `None` past the end, or when nothing is kept. Each call stands alone (nothing is held
    /// between pieces, however slowly they are asked for).
    fn piece(&self, digest: &str, n: u64) -> Result<Option<Bytes>, StoreError>;
    fn delete(&self, digest: &str) -> Result<(), StoreError>;

    /// All the bytes kept under `digest` (tests, small files).
    fn get(&self, digest: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut all = Vec::new();
        for n in 0.. {
            match self.piece(digest, n)? {
                Some(piece) => all.extend_from_slice(&piece),
                None if n == 0 => return Ok(None),
                None => break,
            }
        }
        Ok(Some(all))
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

    fn piece(&self, digest: &str, n: u64) -> Result<Option<Bytes>, StoreError> {
        use std::io::{Seek, SeekFrom};
        let mut file = match std::fs::File::open(self.path(digest)) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        file.seek(SeekFrom::Start(n * DISK_PIECE as u64))
            .map_err(io)?;
        let mut piece = vec![0u8; DISK_PIECE];
        let mut filled = 0;
        while filled < DISK_PIECE {
            let read = file.read(&mut piece[filled..]).map_err(io)?;
            if read == 0 {
                break;
            }
            filled += read;
        }
        if filled == 0 {
            return Ok(None);
        }
        piece.truncate(filled);
        Ok(Some(Bytes::from(piece)))
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

/// The most connections file transfers use at once on a node (each holds one for a row, never
/// for a whole transfer).
const BLOB_CONNECTIONS: usize = 4;

/// How long a transfer waits for one of them.
const BLOB_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

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
            let deadline = std::time::Instant::now() + BLOB_WAIT;
            while *busy >= BLOB_CONNECTIONS {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    return Err(StoreError::Pool(
                        "every file connection stayed busy; try again".into(),
                    ));
                }
                busy = freed
                    .wait_timeout(busy, left)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
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

    fn piece(&self, digest: &str, n: u64) -> Result<Option<Bytes>, StoreError> {
        let n = i32::try_from(n).unwrap_or(i32::MAX);
        self.with(|client| {
            let row = client.query_opt(
                "SELECT data FROM file_chunks WHERE digest = $1 AND n = $2",
                &[&digest, &n],
            )?;
            Ok(row.map(|row| Bytes::copy_from_slice(row.get::<_, &[u8]>(0))))
        })
    }

    fn delete(&self, digest: &str) -> Result<(), StoreError> {
        self.with(|client| {
            client.execute("DELETE FROM file_chunks WHERE digest = $1", &[&digest])?;
            Ok(())
        })
    }
}
