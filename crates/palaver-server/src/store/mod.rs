//! History and rooms, behind one trait so the embedded SQLite default and a server database
//! (PostgreSQL, later) are interchangeable.
//!
//! - [`Backend`]: the blocking operations a store must offer. Each backend instance is one
//!   database connection, used by one thread at a time.
//! - [`writer`]: the single writer thread. It group-commits: whatever messages queued up while
//!   the previous transaction was committing go into the next one, so storing costs one commit per
//!   batch, not per message.
//! - [`sqlite`]: the SQLite backend (WAL journal, `synchronous=FULL`: a message is on disk when
//!   its transaction returns, which is before anyone is told about it).

pub mod accounts;
pub mod sqlite;
pub mod writer;

use palaver_proto::{timestamp, ChatMessage, PrivateMessage, PublicMessage};

pub use writer::{StoreDone, StoreWriter, WriteOp};

/// A message as stored: one row of history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    pub id: u64,
    /// Milliseconds since the Unix epoch.
    pub ts_ms: i64,
    pub content: String,
    pub kind: MessageKind,
}

/// Who a stored message was for. Names are kept as shown and as folded keys (for lookups).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageKind {
    Public {
        room: String,
        room_key: String,
        username: String,
        username_key: String,
    },
    /// Each side also has its owner (an account or a guest session, see `hub/identity.rs`):
    /// history is shown to a side only when both name and owner match.
    Private {
        sender: String,
        sender_key: String,
        sender_owner: String,
        target: String,
        target_key: String,
        target_owner: String,
    },
}

impl StoredMessage {
    /// The message as clients see it.
    pub fn to_chat(&self) -> ChatMessage {
        let timestamp = timestamp::format_millis(self.ts_ms);
        match &self.kind {
            MessageKind::Public { room, username, .. } => ChatMessage::Message(PublicMessage {
                id: self.id,
                room: room.clone(),
                username: username.clone(),
                content: self.content.clone(),
                timestamp,
            }),
            MessageKind::Private { sender, target, .. } => {
                ChatMessage::PrivateMessage(PrivateMessage {
                    id: self.id,
                    sender: sender.clone(),
                    target: target.clone(),
                    content: self.content.clone(),
                    timestamp,
                })
            }
        }
    }
}

/// A room as stored: its names and topic. Members are not stored: presence is live state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomRecord {
    pub key: String,
    pub name: String,
    pub topic: String,
    pub created_ms: i64,
}

/// A page of history, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    pub messages: Vec<StoredMessage>,
    /// True when older messages exist before the first one of this page.
    pub has_more: bool,
}

/// One side of private conversations: a folded name and its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectSide {
    pub key: String,
    pub owner: String,
}

/// Where missed messages are looked for when a client resumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumeScope {
    /// Messages with ids in `(since, upto]`.
    pub since: u64,
    pub upto: u64,
    /// Public messages of these rooms (folded keys)...
    pub room_keys: Vec<String>,
    /// ...and private messages from or to this user (folded key) that this owner had.
    pub user_key: String,
    pub owner: String,
    pub limit: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("unsupported database {0:?}: give a SQLite file path (postgres:// is not available in this build)")]
    Unsupported(String),
    #[error("the store writer has stopped")]
    Stopped,
    #[error("the database's schema is version {found}, newer than this build of Palaver understands (up to {supported}): run a newer palaver-server")]
    TooNew { found: i64, supported: i64 },
}

/// The operations every store offers. Implementations are blocking; callers run them on the
/// writer thread or a blocking-task pool, never directly on an async worker (except for the
/// hub's short room-activation read, see `docs/architecture.md`).
pub trait Backend: Send + 'static {
    /// Stores a batch in one transaction: all of it, or (on error) none of it.
    fn append(&mut self, batch: &[StoredMessage]) -> Result<(), StoreError>;
    fn save_room(&mut self, room: &RoomRecord) -> Result<(), StoreError>;
    /// The highest message id stored, or 0.
    fn last_id(&mut self) -> Result<u64, StoreError>;
    fn rooms(&mut self) -> Result<Vec<RoomRecord>, StoreError>;
    /// Up to `limit` public messages of a room with ids below `before`, oldest first.
    fn room_page(&mut self, room_key: &str, before: u64, limit: usize) -> Result<Page, StoreError>;
    /// Up to `limit` private messages between `me` and another user with ids below `before`,
    /// oldest first: only those whose side for `me` had the owner `my_owner`.
    fn direct_page(
        &mut self,
        me: &DirectSide,
        other_key: &str,
        before: u64,
        limit: usize,
    ) -> Result<Page, StoreError>;
    /// Gives the private messages of owner `from` to owner `to`, on both sides.
    fn reassign_owner(&mut self, from: &str, to: &str) -> Result<(), StoreError>;
    /// Messages a resuming client missed, oldest first, at most `scope.limit`; `has_more` tells
    /// whether the limit cut the list short.
    fn missed(&mut self, scope: &ResumeScope) -> Result<Page, StoreError>;
}

/// Opens the backend a `--database` value names, once per connection wanted.
pub fn open(database: &str) -> Result<Box<dyn Backend>, StoreError> {
    if database.starts_with("postgres://") || database.starts_with("postgresql://") {
        return Err(StoreError::Unsupported(database.to_string()));
    }
    let path = database.strip_prefix("sqlite://").unwrap_or(database);
    Ok(Box::new(sqlite::SqliteBackend::open(path)?))
}
