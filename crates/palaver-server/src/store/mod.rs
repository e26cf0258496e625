//! History and rooms, behind one trait so the embedded SQLite default and a server database
//! (PostgreSQL) are interchangeable.
//!
//! - [`Backend`]: the blocking operations a store must offer. Each backend instance is one
//!   database connection, used by one thread at a time.
//! - [`writer`]: the single writer thread. It group-commits: whatever messages queued up while
//!   the previous transaction was committing go into the next one, so storing costs one commit per
//!   batch, not per message.
//! - [`sqlite`]: the SQLite backend (WAL journal, `synchronous=FULL`: a message is on disk when
//!   its transaction returns, which is before anyone is told about it).
//! - [`postgres`]: the PostgreSQL backend (`--database postgres://...`), same behaviour.
//! - [`accounts`], [`account_rows`]: accounts and moderation, on either.

pub mod account_rows;
pub mod accounts;
mod contract;
pub mod migrate;
pub mod pool;
pub mod postgres;
pub mod sqlite;
pub mod writer;

use palaver_proto::message_changes::{ChangePlace, Deleted, Edited, MessageState, Reaction};
use palaver_proto::{timestamp, ChatMessage, PrivateMessage, PublicMessage};

pub use pool::ReadPool;
pub use writer::{StoreDone, StoreWriter, WriteOp};

/// The key a private conversation is filed under: both folded names, in order, joined by `@`
/// (which no name or room has, so it never collides with a room's key).
pub fn dm_key(a_key: &str, b_key: &str) -> String {
    if a_key <= b_key {
        format!("{a_key}@{b_key}")
    } else {
        format!("{b_key}@{a_key}")
    }
}

/// Where a read marker is to move: up to a message's seq, or up to a time (IRC's
/// `draft/read-marker`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadAt {
    Seq(u64),
    Time(i64),
}

/// A read marker as stored: the seq and time of the newest message read in a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadMarkerRecord {
    pub conversation: String,
    pub seq: u64,
    pub ts_ms: i64,
}

/// A message as stored: one row of history. A row is a message, or a change to an earlier
/// message of its conversation (`change`: a reaction, an edit, a deletion), which takes the
/// conversation's next seq like a message so that it travels and resumes like one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Unique on the server; says nothing of order.
    pub id: u64,
    /// Its place in its conversation, assigned by the store in the transaction that commits it
    /// (0 until then): within a conversation, seq order is commit order.
    pub seq: u64,
    /// Milliseconds since the Unix epoch.
    pub ts_ms: i64,
    /// The text; for a reaction, its emoji; for an edit, the new text.
    pub content: String,
    pub kind: MessageKind,
    /// What this row changes, if it is a change (`kind` then says who made it, and where).
    pub change: Option<Change>,
    /// The message as it is now: `reply_to` is stored with it; the rest (its reply's preview,
    /// edits, deletion, reactions) is read back with it.
    pub state: MessageState,
}

/// A change to the message `of`, made by the row's sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A reaction given or taken back: with `toggle`, the store decides in the transaction
    /// (taken back if it was there, else `added`); without, `added` says which is wanted. Once
    /// stored, `added` says what happened.
    React { of: u64, added: bool, toggle: bool },
    /// The message's text replaced (by the row's content).
    Edit { of: u64 },
    /// The message deleted: its text, edits and reactions are wiped.
    Delete { of: u64 },
}

impl Change {
    /// The message changed.
    pub fn of(self) -> u64 {
        match self {
            Change::React { of, .. } | Change::Edit { of } | Change::Delete { of } => of,
        }
    }

    /// How the store writes it (`change_kind`).
    pub fn column(self) -> &'static str {
        match self {
            Change::React { added: true, .. } => "react",
            Change::React { added: false, .. } => "unreact",
            Change::Edit { .. } => "edit",
            Change::Delete { .. } => "delete",
        }
    }

    /// Read back from `change_kind` and `change_of`.
    pub fn from_columns(kind: Option<&str>, of: Option<i64>) -> Option<Change> {
        let of = of? as u64;
        Some(match kind? {
            "react" => Change::React {
                of,
                added: true,
                toggle: false,
            },
            "unreact" => Change::React {
                of,
                added: false,
                toggle: false,
            },
            "edit" => Change::Edit { of },
            _ => Change::Delete { of },
        })
    }
}

/// In a batch about to be stored, the edits of a message that a later change of the same batch
/// deletes keep no text: the store's wipe of earlier edits cannot see rows not inserted yet.
pub(crate) fn wipe_edits_deleted_in(batch: &mut [StoredMessage]) {
    for i in 0..batch.len() {
        if let Some(Change::Delete { of }) = batch[i].change {
            for earlier in batch[..i].iter_mut() {
                if earlier.change == Some(Change::Edit { of }) {
                    earlier.content.clear();
                }
            }
        }
    }
}

/// The ids of the messages among `rows` that can have reactions and files (not changes, not
/// deleted), as the databases keep them; what is read alongside a page.
pub(crate) fn live_message_ids(rows: &[StoredMessage]) -> Vec<i64> {
    rows.iter()
        .filter(|m| m.change.is_none() && !m.state.deleted)
        .map(|m| clamp(m.id))
        .collect()
}

/// The state of a message read from the store: its columns and the message it replies to.
pub(crate) struct ReadState {
    pub reply_to: Option<i64>,
    pub edited_ms: Option<i64>,
    pub deleted: bool,
    /// The replied-to message's sender, content and deletion (from a join).
    pub reply: Option<(String, String, bool)>,
}

impl ReadState {
    pub(crate) fn into_state(self) -> MessageState {
        MessageState {
            reply_to: self.reply_to.map(|id| id as u64),
            reply_preview: match self.reply {
                Some((username, content, false)) => Some(
                    palaver_proto::message_changes::ReplyPreview::new(&username, &content),
                ),
                _ => None,
            },
            edited: self.edited_ms.map(timestamp::format_millis),
            deleted: self.deleted,
            reactions: Vec::new(),
            attachments: Vec::new(),
        }
    }
}

/// A file as the store records it (its bytes are in `files::blobs`, under `digest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    /// Random, unguessable (see `files::signing`).
    pub id: String,
    /// The SHA-256 of its bytes, hex.
    pub digest: String,
    pub name: String,
    pub size: u64,
    pub content_type: String,
    /// Who uploaded it: its owner (account or guest session) and name as shown.
    pub owner: String,
    pub uploader: String,
    pub created_ms: i64,
    /// The message it was sent with (none while waiting to be sent, or once unlinked).
    pub message_id: Option<u64>,
}

impl FileRecord {
    pub fn attachment(&self) -> palaver_proto::message_changes::Attachment {
        palaver_proto::message_changes::Attachment {
            id: self.id.clone(),
            name: self.name.clone(),
            size: self.size,
            content_type: self.content_type.clone(),
            url: String::new(),
        }
    }
}

/// Which rows a read returns: messages only (history pages, windows), or changes too (what a
/// resume or a gap fill replays in seq order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rows {
    Messages,
    WithChanges,
}

/// Who a stored message was for. Names are kept as shown and as folded keys (for lookups).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageKind {
    /// `owner` owns the author's side (see `hub/identity.rs`): only the same account (or guest
    /// session) may edit or delete it. Empty for messages stored before owners were kept.
    Public {
        room: String,
        room_key: String,
        username: String,
        username_key: String,
        owner: String,
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
    /// The conversation it belongs to: the room's key, or both users' keys in order.
    pub fn conversation_key(&self) -> String {
        match &self.kind {
            MessageKind::Public { room_key, .. } => room_key.clone(),
            MessageKind::Private {
                sender_key,
                target_key,
                ..
            } => dm_key(sender_key, target_key),
        }
    }

    /// Who sent it, as shown.
    pub fn author(&self) -> &str {
        match &self.kind {
            MessageKind::Public { username, .. } => username,
            MessageKind::Private { sender, .. } => sender,
        }
    }

    /// Who sent it, folded.
    pub fn author_key(&self) -> &str {
        match &self.kind {
            MessageKind::Public { username_key, .. } => username_key,
            MessageKind::Private { sender_key, .. } => sender_key,
        }
    }

    /// Whose reaction a reaction row is: the author's owner (so that someone who takes a
    /// guest's name later cannot take the guest's reactions back), or the name where no owner
    /// is known.
    pub fn reactor_key(&self) -> &str {
        match self.author_owner() {
            "" => self.author_key(),
            owner => owner,
        }
    }

    /// Who owns the author's side (an account or a guest session; empty if unknown).
    pub fn author_owner(&self) -> &str {
        match &self.kind {
            MessageKind::Public { owner, .. } => owner,
            MessageKind::Private { sender_owner, .. } => sender_owner,
        }
    }

    /// The message as clients see it (or, for a change, the change frame).
    pub fn to_chat(&self) -> ChatMessage {
        let timestamp = timestamp::format_millis(self.ts_ms);
        if let Some(change) = self.change {
            let (room, target) = match &self.kind {
                MessageKind::Public { room, .. } => (Some(room.clone()), None),
                MessageKind::Private { target, .. } => (None, Some(target.clone())),
            };
            let place = ChangePlace {
                id: change.of(),
                seq: self.seq,
                room,
                target,
                username: self.author().to_string(),
                timestamp,
            };
            return match change {
                Change::React { added, .. } => ChatMessage::Reaction(Reaction {
                    place,
                    emoji: self.content.clone(),
                    added,
                }),
                Change::Edit { .. } => ChatMessage::Edited(Edited {
                    place,
                    content: self.content.clone(),
                }),
                Change::Delete { .. } => ChatMessage::Deleted(Deleted { place }),
            };
        }
        match &self.kind {
            MessageKind::Public { room, username, .. } => ChatMessage::Message(PublicMessage {
                id: self.id,
                seq: self.seq,
                room: room.clone(),
                username: username.clone(),
                content: self.content.clone(),
                timestamp,
                state: self.state.clone(),
            }),
            MessageKind::Private { sender, target, .. } => {
                ChatMessage::PrivateMessage(PrivateMessage {
                    id: self.id,
                    seq: self.seq,
                    sender: sender.clone(),
                    target: target.clone(),
                    content: self.content.clone(),
                    timestamp,
                    state: self.state.clone(),
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
    /// The seq of its newest message (read from the store; not written by `save_room`).
    pub last_seq: u64,
}

/// A page of history, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    pub messages: Vec<StoredMessage>,
    /// True when more exist beyond this page (older ones for `page`, newer for `after`).
    pub has_more: bool,
}

/// One side of private conversations: a folded name and its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectSide {
    pub key: String,
    pub owner: String,
}

/// Which conversation to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conversation {
    /// A room, by its folded name.
    Room(String),
    /// The private conversation of `me` with `other_key`, only the messages whose side for `me`
    /// had `me.owner` (see `hub/identity.rs`).
    Direct { me: DirectSide, other_key: String },
}

impl Conversation {
    /// The key its messages are filed under.
    pub fn key(&self) -> String {
        match self {
            Conversation::Room(key) => key.clone(),
            Conversation::Direct { me, other_key } => dm_key(&me.key, other_key),
        }
    }
}

/// Which page of a conversation: the newest `limit` messages below the bounds, oldest first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageQuery {
    /// Only seqs below this.
    pub before: Option<u64>,
    /// Only messages before the message with this id (none if there is no such message).
    pub before_id: Option<u64>,
    /// Only messages after the message with this id (none if there is no such message).
    pub after_id: Option<u64>,
    /// The message with this id and those around it: half the page before it, the rest from
    /// it on (empty if there is no such message).
    pub around_id: Option<u64>,
    /// The oldest `limit` within the bounds, instead of the newest.
    pub oldest_first: bool,
    pub limit: usize,
}

/// Which conversations have news: a user's rooms and private conversations whose newest message
/// is between two times (IRC's `CHATHISTORY TARGETS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetsQuery {
    pub me: DirectSide,
    /// The rooms to look at: (key, name as shown).
    pub rooms: Vec<(String, String)>,
    /// Only conversations whose newest message is after this and before that (milliseconds,
    /// both excluded).
    pub after_ms: i64,
    pub before_ms: i64,
    pub limit: usize,
}

/// A full-text search over what one user may read: the rooms they are in and their own side of
/// their private conversations, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// The words to find (each a prefix: `deplo` finds "deploy").
    pub words: Vec<String>,
    pub me: DirectSide,
    /// The rooms searched: the user's, or the one asked for (if the user is in it).
    pub rooms: Vec<String>,
    /// Search private conversations too; with `with`, only the one with that name (folded).
    pub private: bool,
    pub with: Option<String>,
    /// Only messages sent by this name (folded).
    pub from: Option<String>,
    /// Only messages sent after / before these times (milliseconds, excluded).
    pub after_ms: Option<i64>,
    pub before_ms: Option<i64>,
    /// Only messages older than this one (paging).
    pub before_id: Option<u64>,
    pub limit: usize,
}

impl SearchQuery {
    /// The words as FTS5 wants them: each quoted (whatever it holds), each a prefix.
    pub fn fts5(&self) -> String {
        self.words
            .iter()
            .map(|w| format!("\"{}\"*", w.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The words as PostgreSQL's `to_tsquery` wants them: each a prefix, all required.
    pub fn tsquery(&self) -> String {
        self.words
            .iter()
            .map(|w| format!("'{}':*", w.replace('\\', "").replace('\'', "''")))
            .collect::<Vec<_>>()
            .join(" & ")
    }
}

/// A conversation and the time of its newest message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastMessage {
    /// The room (as shown), or the other person of a private conversation (as last written).
    pub room: Option<String>,
    pub with: Option<String>,
    pub ts_ms: i64,
}

/// What a resuming client missed: each conversation after its cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumeScope {
    /// Conversations, the last seq the client saw in each, and (where this node knows it) the
    /// last seq delivered when the resume began: what comes after arrives live.
    pub conversations: Vec<(Conversation, u64, Option<u64>)>,
    /// Messages read per page.
    pub limit: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] ::postgres::Error),
    #[error("the store writer has stopped")]
    Stopped,
    #[error("no read connection: {0}")]
    Pool(String),
    #[error("the database's schema is version {found}, newer than this build of Palaver understands (up to {supported}): run a newer palaver-server")]
    TooNew { found: i64, supported: i64 },
}

/// The operations every store offers. Implementations are blocking; callers run them on the
/// writer thread or a blocking-task pool, never on an async worker, and never on the hub's task.
pub trait Backend: Send + 'static {
    /// Stores a batch in one transaction: all of it, or (on error) none of it. Each message
    /// gets the next seq of its conversation inside that transaction.
    fn append(&mut self, batch: &mut [StoredMessage]) -> Result<(), StoreError>;
    /// Stores a new room; a room already stored under its key (made by another node) stays as
    /// it is.
    fn save_room(&mut self, room: &RoomRecord) -> Result<(), StoreError>;
    fn set_topic(&mut self, room_key: &str, topic: &str) -> Result<(), StoreError>;
    /// One room, with the seq of its newest message.
    fn room(&mut self, room_key: &str) -> Result<Option<RoomRecord>, StoreError> {
        Ok(self.rooms()?.into_iter().find(|r| r.key == room_key))
    }
    /// The highest message id stored, or 0.
    fn last_id(&mut self) -> Result<u64, StoreError>;
    /// Every room, with the seq of its newest message.
    fn rooms(&mut self) -> Result<Vec<RoomRecord>, StoreError>;
    /// The seq of the message `id` in the conversation filed under `key`, if there is one.
    fn seq_of(&mut self, key: &str, id: u64) -> Result<Option<u64>, StoreError>;
    /// At most `limit` rows of a conversation with `low < seq < high`, newest first
    /// (`newest_first`) or oldest first: its messages, as they are now (their reply's preview,
    /// edits, deletion and reactions read with them), and with [`Rows::WithChanges`] the changes
    /// too.
    fn rows(
        &mut self,
        conversation: &Conversation,
        low: u64,
        high: u64,
        newest_first: bool,
        limit: usize,
        which: Rows,
    ) -> Result<Vec<StoredMessage>, StoreError>;

    /// The message `id` (not a change), as it is now, wherever it is.
    fn message(&mut self, id: u64) -> Result<Option<StoredMessage>, StoreError>;

    /// The secret that signs links (made once, then the same for every node).
    fn link_secret(&mut self) -> Result<String, StoreError>;
    /// Records an uploaded file (not yet sent with a message) if its owner's files, with it,
    /// stay within `quota` bytes; false if they would not.
    fn save_file(&mut self, file: &FileRecord, quota: u64) -> Result<bool, StoreError>;
    /// The files with these ids (those that exist).
    fn files(&mut self, ids: &[String]) -> Result<Vec<FileRecord>, StoreError>;
    /// The bytes kept for an owner's files.
    fn quota_used(&mut self, owner: &str) -> Result<u64, StoreError>;
    /// Files to remove: sent before `sent_before_ms` (retention), or not linked to a message
    /// (never sent, or their message deleted) and uploaded before `unlinked_before_ms`.
    fn stale_files(
        &mut self,
        sent_before_ms: Option<i64>,
        unlinked_before_ms: i64,
    ) -> Result<Vec<FileRecord>, StoreError>;
    /// Removes files' records; the digests no file uses any more (their bytes may go).
    fn remove_files(&mut self, ids: &[String]) -> Result<Vec<String>, StoreError>;

    /// A page of a conversation: the newest `limit` messages within the query's bounds (or the
    /// oldest, with `oldest_first`; or those around `around_id`), oldest first; `has_more` tells
    /// whether more exist beyond the page in the direction read. A `before_id`, `after_id` or
    /// `around_id` that names no message of the conversation gives an empty page.
    fn page(&mut self, conversation: &Conversation, query: &PageQuery) -> Result<Page, StoreError> {
        let key = conversation.key();
        let mut high = query.before.unwrap_or(u64::MAX);
        if let Some(id) = query.before_id {
            match self.seq_of(&key, id)? {
                Some(seq) => high = high.min(seq),
                None => return Ok(Page::default()),
            }
        }
        let low = match query.after_id {
            Some(id) => match self.seq_of(&key, id)? {
                Some(seq) => seq,
                None => return Ok(Page::default()),
            },
            None => 0,
        };
        if let Some(id) = query.around_id {
            let Some(seq) = self.seq_of(&key, id)? else {
                return Ok(Page::default());
            };
            let earlier = query.limit.saturating_sub(1) / 2;
            let mut messages = self.rows(
                conversation,
                low,
                seq.min(high),
                true,
                earlier + 1,
                Rows::Messages,
            )?;
            let has_more = messages.len() > earlier;
            messages.truncate(earlier);
            messages.reverse();
            let later = query.limit - messages.len();
            messages.extend(self.rows(
                conversation,
                seq - 1,
                high,
                false,
                later,
                Rows::Messages,
            )?);
            return Ok(Page { messages, has_more });
        }
        let mut messages = self.rows(
            conversation,
            low,
            high,
            !query.oldest_first,
            query.limit + 1,
            Rows::Messages,
        )?;
        let has_more = messages.len() > query.limit;
        messages.truncate(query.limit);
        if !query.oldest_first {
            messages.reverse();
        }
        Ok(Page { messages, has_more })
    }

    /// Up to `limit` rows of a conversation after seq `after` (messages and changes: what a
    /// resume or a gap fill replays), oldest first; `has_more` tells whether more follow.
    fn after(
        &mut self,
        conversation: &Conversation,
        after: u64,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let mut messages = self.rows(
            conversation,
            after,
            u64::MAX,
            false,
            limit + 1,
            Rows::WithChanges,
        )?;
        let has_more = messages.len() > limit;
        messages.truncate(limit);
        Ok(Page { messages, has_more })
    }
    /// The newest message of each private conversation of `me` (on its side): the other
    /// person's name as last written, and the time.
    fn direct_latest(&mut self, me: &DirectSide) -> Result<Vec<(String, i64)>, StoreError>;

    /// The conversations of a [`TargetsQuery`] whose newest message is within its times,
    /// oldest news first, at most `limit`.
    fn targets(&mut self, query: &TargetsQuery) -> Result<Vec<LastMessage>, StoreError> {
        let mut found = Vec::new();
        for (key, name) in &query.rooms {
            let newest = self.rows(
                &Conversation::Room(key.clone()),
                0,
                u64::MAX,
                true,
                1,
                Rows::Messages,
            )?;
            if let Some(m) = newest.first() {
                found.push(LastMessage {
                    room: Some(name.clone()),
                    with: None,
                    ts_ms: m.ts_ms,
                });
            }
        }
        for (other, ts_ms) in self.direct_latest(&query.me)? {
            found.push(LastMessage {
                room: None,
                with: Some(other),
                ts_ms,
            });
        }
        found.retain(|t| t.ts_ms > query.after_ms && t.ts_ms < query.before_ms);
        found.sort_by_key(|t| t.ts_ms);
        found.truncate(query.limit);
        Ok(found)
    }

    /// Messages matching a [`SearchQuery`], newest first, at most `limit`, and whether more
    /// match.
    fn search(&mut self, query: &SearchQuery) -> Result<Page, StoreError>;
    /// Moves `owner`'s read marker in `conversation` forward, or only reads it (`None`): to
    /// the newest message at or before a seq (none there: no change), or to a time as given,
    /// with the newest message at or before it (seq 0 if none: IRC marks by time). Markers
    /// order by seq, then time; they never go back. The marker as it is then, if any.
    fn mark_read(
        &mut self,
        owner: &str,
        conversation: &str,
        at: Option<ReadAt>,
    ) -> Result<Option<ReadMarkerRecord>, StoreError>;
    /// All of `owner`'s read markers.
    fn read_markers(&mut self, owner: &str) -> Result<Vec<ReadMarkerRecord>, StoreError>;

    /// Gives the private messages of owner `from` to owner `to`, on both sides.
    fn reassign_owner(&mut self, from: &str, to: &str) -> Result<(), StoreError>;
    /// Whether the connection is known to be unusable (the database server closed it).
    fn is_broken(&self) -> bool {
        false
    }
    /// Replaces a broken connection with a new one (a database server that came back).
    fn reconnect(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Whether the database answers (a cheap indexed read), for readiness checks.
    fn check(&mut self) -> Result<(), StoreError> {
        self.seq_of("", 0).map(|_| ())
    }
}

/// An id or seq as the databases keep it (a signed 64-bit integer; larger values are clamped).
fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Whether a `--database` value names a PostgreSQL server (else it is a SQLite file).
pub fn is_postgres(database: &str) -> bool {
    database.starts_with("postgres://") || database.starts_with("postgresql://")
}

/// Opens the backend a `--database` value names, once per connection wanted.
pub fn open(database: &str) -> Result<Box<dyn Backend>, StoreError> {
    if is_postgres(database) {
        return Ok(Box::new(postgres::PostgresBackend::open(database)?));
    }
    let path = database.strip_prefix("sqlite://").unwrap_or(database);
    Ok(Box::new(sqlite::SqliteBackend::open(path)?))
}
