//! Where files' bytes live, content-addressed (by their SHA-256): the same bytes sent twice are
//! kept once.
//!
//! - [`DiskBlobs`]: a directory (`<database>.files/` next to a SQLite database, or
//!   `--files-dir`): one node.
//! - [`PostgresBlobs`]: the database every node of a cluster already shares, in 1 MiB rows
//!   (`file_chunks`), so a file uploaded to one node downloads from any.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::store::postgres::BlockingClient;
use crate::store::StoreError;

/// Bytes by digest. Blocking: called on the blocking pool.
pub trait Blobs: Send + Sync + 'static {
    /// Keeps the bytes of the file at `from` under `digest` (nothing if they are kept already).
    fn put(&self, digest: &str, from: &Path) -> Result<(), StoreError>;
    /// The bytes kept under `digest`.
    fn get(&self, digest: &str) -> Result<Option<Vec<u8>>, StoreError>;
    fn delete(&self, digest: &str) -> Result<(), StoreError>;
}

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
        std::fs::create_dir_all(to.parent().expect("a parent")).map_err(io)?;
        // A copy beside it, then a rename: the file appears whole or not at all.
        let partial = to.with_extension("partial");
        std::fs::copy(from, &partial).map_err(io)?;
        std::fs::File::open(&partial)
            .and_then(|f| f.sync_all())
            .map_err(io)?;
        std::fs::rename(&partial, &to).map_err(io)?;
        Ok(())
    }

    fn get(&self, digest: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match std::fs::read(self.path(digest)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
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
    client: std::sync::Mutex<Option<BlockingClient>>,
}

const CHUNK: usize = 1 << 20;

impl PostgresBlobs {
    pub fn new(url: &str) -> Self {
        PostgresBlobs {
            url: url.to_string(),
            client: std::sync::Mutex::new(None),
        }
    }

    /// Runs `f` on this store's connection (opened, or opened again after a failure).
    fn with<R>(
        &self,
        f: impl FnOnce(&mut postgres::Client) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let mut guard = self.client.lock().unwrap_or_else(|e| e.into_inner());
        if guard.as_ref().is_none_or(|c| c.is_closed()) {
            *guard = Some(BlockingClient::connect(&self.url)?);
        }
        f(guard.as_mut().expect("connected"))
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

    fn get(&self, digest: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.with(|client| {
            let rows = client.query(
                "SELECT data FROM file_chunks WHERE digest = $1 ORDER BY n",
                &[&digest],
            )?;
            if rows.is_empty() {
                return Ok(None);
            }
            let mut bytes = Vec::new();
            for row in rows {
                bytes.extend_from_slice(row.get::<_, &[u8]>(0));
            }
            Ok(Some(bytes))
        })
    }

    fn delete(&self, digest: &str) -> Result<(), StoreError> {
        self.with(|client| {
            client.execute("DELETE FROM file_chunks WHERE digest = $1", &[&digest])?;
            Ok(())
        })
    }
}
