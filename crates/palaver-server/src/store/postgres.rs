//! The PostgreSQL store: the same history, rooms and seqs as the SQLite one, on a server several
//! Palaver nodes can share.
//!
//! It uses `postgres`, the blocking face of rust-postgres (`tokio-postgres` underneath): the
//! store's callers are the writer thread and the blocking pool, never an async task, so the
//! blocking client fits them without an async trait. A batch is one transaction: its ids are
//! drawn from one sequence (`message_ids`, shared by every node: unique, in no promised order), one statement
//! raises the counters of the batch's conversations (`INSERT .. ON CONFLICT .. DO UPDATE ..
//! RETURNING`, in key order, so two writers never wait on each other in a cycle), one statement
//! inserts every message (`UNNEST` of column arrays). The counter rows are locked until the
//! commit, so within a conversation seq order is commit order even with several writers.
//!
//! The schema carries its version in `palaver_schema`; migrations run at start under an advisory
//! lock (so nodes starting together do not race), and a newer schema than this build knows is
//! refused.

use std::collections::BTreeMap;

use postgres::{Client, NoTls, Row};

use super::{
    clamp, Backend, Change, Conversation, DirectSide, MessageKind, ReadAt, ReadMarkerRecord,
    ReadState, RoomRecord, Rows, SearchQuery, StoreError, StoredMessage,
};

/// The schema version this build writes: SQLite's numbering to 3, then 4 (the id sequence,
/// which a single-writer SQLite file does not need), 5 (full-text search: a generated
/// `tsvector` column with a GIN index), 6 (replies, reactions, edits, deletions) and 7
/// (files: their records, their bytes in 1 MiB rows, the secret that signs their links) and 8
/// (read markers).
pub const SCHEMA_VERSION: i32 = 8;

/// Any number ("palaver" in ASCII): all nodes use it to take turns migrating.
const MIGRATION_LOCK: i64 = 0x0070_616c_6176_6572;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS messages (
    id           BIGINT PRIMARY KEY,
    ts_ms        BIGINT NOT NULL,
    room_key     TEXT,
    room         TEXT,
    sender       TEXT NOT NULL,
    sender_key   TEXT NOT NULL,
    target       TEXT,
    target_key   TEXT,
    content      TEXT NOT NULL,
    sender_owner TEXT,
    target_owner TEXT,
    conv_key     TEXT NOT NULL,
    seq          BIGINT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS messages_by_conversation ON messages (conv_key, seq);
CREATE SEQUENCE IF NOT EXISTS message_ids;
CREATE TABLE IF NOT EXISTS conversations (
    conv_key TEXT PRIMARY KEY,
    last_seq BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS rooms (
    room_key   TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    topic      TEXT NOT NULL DEFAULT '',
    created_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS accounts (
    name_key   TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    password   TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS admins (
    name_key TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS room_moderators (
    room_key TEXT NOT NULL,
    name_key TEXT NOT NULL,
    PRIMARY KEY (room_key, name_key)
);
CREATE TABLE IF NOT EXISTS bans (
    kind     TEXT NOT NULL,
    target   TEXT NOT NULL,
    until_ms BIGINT,
    reason   TEXT NOT NULL,
    by_name  TEXT NOT NULL,
    PRIMARY KEY (kind, target)
);
CREATE TABLE IF NOT EXISTS mutes (
    room_key TEXT NOT NULL,
    name_key TEXT NOT NULL,
    until_ms BIGINT,
    PRIMARY KEY (room_key, name_key)
);
CREATE TABLE IF NOT EXISTS locked_rooms (
    room_key TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS room_modes (
    room_key TEXT PRIMARY KEY,
    modes TEXT NOT NULL
);
";

/// Full-text search: each message's words (`simple`: no stemming, any language; the common
/// accented Latin letters folded to their base, as SQLite's `remove_diacritics`), indexed.
const SEARCH: &str = "
ALTER TABLE messages ADD COLUMN IF NOT EXISTS search tsvector
    GENERATED ALWAYS AS (to_tsvector('simple', translate(content,
        'ÀÁÂÃÄÅàáâãäåÈÉÊËèéêëÌÍÎÏìíîïÒÓÔÕÖØòóôõöøÙÚÛÜùúûüÝýÿÑñÇçŠšŽžČčĆćĐđŁłŃńŚśŹźŻżĘęĄą',
        'AAAAAAaaaaaaEEEEeeeeIIIIiiiiOOOOOOooooooUUUUuuuuYyyNnCcSsZzCcCcDdLlNnSsZzZzEeAa'))) STORED;
CREATE INDEX IF NOT EXISTS messages_search ON messages USING GIN (search);
";

/// Replies, reactions, edits and deletions: changes are rows of their own (`change_kind`,
/// `change_of`); who reacted with what is kept apart.
const CHANGES: &str = "
ALTER TABLE messages ADD COLUMN IF NOT EXISTS change_kind TEXT;
ALTER TABLE messages ADD COLUMN IF NOT EXISTS change_of BIGINT;
ALTER TABLE messages ADD COLUMN IF NOT EXISTS reply_to BIGINT;
ALTER TABLE messages ADD COLUMN IF NOT EXISTS edited_ms BIGINT;
ALTER TABLE messages ADD COLUMN IF NOT EXISTS deleted BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX IF NOT EXISTS messages_changes ON messages (change_of) WHERE change_of IS NOT NULL;
CREATE TABLE IF NOT EXISTS read_markers (
    owner    TEXT NOT NULL,
    conv_key TEXT NOT NULL,
    seq      BIGINT NOT NULL,
    ts_ms    BIGINT NOT NULL,
    PRIMARY KEY (owner, conv_key)
);
CREATE TABLE IF NOT EXISTS reactions (
    message_id BIGINT NOT NULL,
    emoji      TEXT NOT NULL,
    user_key   TEXT NOT NULL,
    username   TEXT NOT NULL,
    at_ms      BIGINT NOT NULL,
    PRIMARY KEY (message_id, emoji, user_key)
);
CREATE TABLE IF NOT EXISTS files (
    id           TEXT PRIMARY KEY,
    digest       TEXT NOT NULL,
    name         TEXT NOT NULL,
    size         BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    owner        TEXT NOT NULL,
    uploader     TEXT NOT NULL,
    created_ms   BIGINT NOT NULL,
    message_id   BIGINT,
    conv_key     TEXT
);
CREATE INDEX IF NOT EXISTS files_by_message ON files (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS files_by_owner ON files (owner);
CREATE INDEX IF NOT EXISTS files_by_digest ON files (digest);
CREATE TABLE IF NOT EXISTS file_chunks (
    digest TEXT NOT NULL,
    n      INTEGER NOT NULL,
    data   BYTEA NOT NULL,
    PRIMARY KEY (digest, n)
);
CREATE TABLE IF NOT EXISTS secrets (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
";

/// A row's columns (`m`), and those of the message it replies to (`r`): read `FROM` [`ROWS`].
const COLUMNS: &str = "m.id, m.ts_ms, m.room_key, m.room, m.sender, m.sender_key, m.target, m.target_key, m.content, m.sender_owner, m.target_owner, m.seq, m.change_kind, m.change_of, m.reply_to, m.edited_ms, m.deleted, r.sender, r.content, r.deleted";

/// Messages with the message each replies to.
const ROWS: &str = "messages m LEFT JOIN messages r ON r.id = m.reply_to";

/// A blocking client that may be dropped anywhere: closing a connection blocks, which is not
/// allowed on an async worker (the server drops its stores when its tasks end), so there it is
/// closed on a thread of its own.
pub struct BlockingClient(Option<Client>);

/// How long connecting may take when the URL does not say (`connect_timeout`): a database
/// that does not answer is reported, not waited for without end.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl BlockingClient {
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let mut config: postgres::Config = url.parse()?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        Ok(BlockingClient(Some(config.connect(NoTls)?)))
    }
}

impl std::ops::Deref for BlockingClient {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.0.as_ref().expect("open until dropped")
    }
}

impl std::ops::DerefMut for BlockingClient {
    fn deref_mut(&mut self) -> &mut Client {
        self.0.as_mut().expect("open until dropped")
    }
}

impl Drop for BlockingClient {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                std::thread::spawn(move || drop(client));
            }
        }
    }
}

pub struct PostgresBackend {
    client: BlockingClient,
    url: String,
}

impl PostgresBackend {
    /// Connects to `url` (`postgres://user:password@host:port/database`) and brings the
    /// schema up to date.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let mut client = BlockingClient::connect(url)?;
        migrate(&mut client)?;
        Ok(PostgresBackend {
            client,
            url: url.to_string(),
        })
    }
}

/// Creates or upgrades the schema (history, rooms, accounts, moderation), one node at a time.
pub fn migrate(client: &mut Client) -> Result<(), StoreError> {
    // Up to date already (every connection of every node opens through here): nothing to lock.
    // DDL takes strong locks even when it changes nothing, which would make each new read
    // connection wait for the writer's transactions, and theirs for it.
    let current: Option<i32> = client
        .query_opt("SELECT version FROM palaver_schema", &[])
        .ok()
        .flatten()
        .map(|r| r.get(0));
    if current == Some(SCHEMA_VERSION) {
        return Ok(());
    }
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS palaver_schema (version INTEGER NOT NULL)")?;
    let version: Option<i32> = tx
        .query_opt("SELECT version FROM palaver_schema", &[])?
        .map(|r| r.get(0));
    match version {
        Some(found) if found > SCHEMA_VERSION => {
            return Err(StoreError::TooNew {
                found: i64::from(found),
                supported: i64::from(SCHEMA_VERSION),
            })
        }
        Some(_) => {}
        None => {
            tx.execute(
                "INSERT INTO palaver_schema (version) VALUES ($1)",
                &[&SCHEMA_VERSION],
            )?;
        }
    }
    // Versions 1 and 2 never existed on PostgreSQL: the schema starts at 3; 4 adds the sequence.
    tx.batch_execute(SCHEMA)?;
    tx.batch_execute(SEARCH)?;
    tx.batch_execute(CHANGES)?;
    if version.is_some_and(|v| v < 8) {
        // Reactions are keyed by their giver's owner (guests' older ones keep their name).
        tx.batch_execute(
            "UPDATE reactions SET user_key = 'account:' || user_key
              WHERE user_key IN (SELECT name_key FROM accounts)",
        )?;
    }
    catch_up_message_ids(&mut tx)?;
    tx.execute("UPDATE palaver_schema SET version = $1", &[&SCHEMA_VERSION])?;
    tx.commit()?;
    Ok(())
}

/// Moves the id sequence past the highest stored id, if it is behind (a version 3 database, or
/// messages copied in by `migrate`). Never moves it back, so a node drawing ids meanwhile is safe.
pub(super) fn catch_up_message_ids(tx: &mut postgres::Transaction<'_>) -> Result<(), StoreError> {
    tx.execute(
        "SELECT setval('message_ids', m.id)
         FROM (SELECT MAX(id) AS id FROM messages) m, message_ids s
         WHERE m.id IS NOT NULL
           AND (m.id > s.last_value OR (m.id = s.last_value AND NOT s.is_called))",
        &[],
    )?;
    Ok(())
}

fn row_to_message(row: &Row) -> StoredMessage {
    let room_key: Option<String> = row.get(2);
    let kind = match room_key {
        Some(room_key) => MessageKind::Public {
            room: row.get::<_, Option<String>>(3).unwrap_or_default(),
            room_key,
            username: row.get(4),
            username_key: row.get(5),
            owner: row.get::<_, Option<String>>(9).unwrap_or_default(),
        },
        None => MessageKind::Private {
            sender: row.get(4),
            sender_key: row.get(5),
            sender_owner: row.get::<_, Option<String>>(9).unwrap_or_default(),
            target: row.get::<_, Option<String>>(6).unwrap_or_default(),
            target_key: row.get::<_, Option<String>>(7).unwrap_or_default(),
            target_owner: row.get::<_, Option<String>>(10).unwrap_or_default(),
        },
    };
    let change_kind: Option<String> = row.get(12);
    let reply_sender: Option<String> = row.get(17);
    let state = ReadState {
        reply_to: row.get(14),
        edited_ms: row.get(15),
        deleted: row.get(16),
        reply: reply_sender.map(|sender| (sender, row.get(18), row.get(19))),
    };
    StoredMessage {
        id: row.get::<_, i64>(0) as u64,
        seq: row.get::<_, i64>(11) as u64,
        ts_ms: row.get(1),
        content: row.get(8),
        kind,
        change: Change::from_columns(change_kind.as_deref(), row.get(13)),
        state: state.into_state(),
    }
}

const FILE_COLUMNS: &str =
    "id, digest, name, size, content_type, owner, uploader, created_ms, message_id";

fn row_to_file(r: &Row) -> super::FileRecord {
    super::FileRecord {
        id: r.get(0),
        digest: r.get(1),
        name: r.get(2),
        size: r.get::<_, i64>(3) as u64,
        content_type: r.get(4),
        owner: r.get(5),
        uploader: r.get(6),
        created_ms: r.get(7),
        message_id: r.get::<_, Option<i64>>(8).map(|id| id as u64),
    }
}

/// Reads the files sent with the messages among `rows`.
fn read_attachments(client: &mut Client, rows: &mut [StoredMessage]) -> Result<(), StoreError> {
    let ids = super::live_message_ids(rows);
    if ids.is_empty() {
        return Ok(());
    }
    let files: Vec<super::FileRecord> = client
        .query(
            &format!(
                "SELECT {FILE_COLUMNS} FROM files WHERE message_id = ANY($1)
                 ORDER BY created_ms, id"
            ),
            &[&ids],
        )?
        .iter()
        .map(row_to_file)
        .collect();
    for m in rows.iter_mut() {
        m.state.attachments = files
            .iter()
            .filter(|f| f.message_id == Some(m.id))
            .map(super::FileRecord::attachment)
            .collect();
    }
    Ok(())
}

/// Links the files a batch's messages name to them (see the SQLite store's).
fn link_attachments(
    tx: &mut postgres::Transaction<'_>,
    batch: &mut [StoredMessage],
) -> Result<(), StoreError> {
    for m in batch.iter_mut() {
        if m.change.is_some() || m.state.attachments.is_empty() {
            continue;
        }
        let owner = m.author_owner().to_string();
        let key = m.conversation_key();
        let mut linked = Vec::new();
        for a in std::mem::take(&mut m.state.attachments) {
            let n = tx.execute(
                "UPDATE files SET message_id = $1, conv_key = $2
                 WHERE id = $3 AND owner = $4 AND message_id IS NULL",
                &[&clamp(m.id), &key, &a.id, &owner],
            )?;
            if n == 1 {
                linked.push(a);
            }
        }
        m.state.attachments = linked;
    }
    Ok(())
}

/// Reads the reactions of the messages among `rows` (not of changes or deleted messages).
fn read_reactions(client: &mut Client, rows: &mut [StoredMessage]) -> Result<(), StoreError> {
    let ids = super::live_message_ids(rows);
    if ids.is_empty() {
        return Ok(());
    }
    let found = client.query(
        "SELECT message_id, emoji, username FROM reactions WHERE message_id = ANY($1)
         ORDER BY at_ms, emoji, user_key",
        &[&ids],
    )?;
    let mut by_id: std::collections::HashMap<u64, Vec<(String, String)>> = Default::default();
    for r in found {
        by_id
            .entry(r.get::<_, i64>(0) as u64)
            .or_default()
            .push((r.get(1), r.get(2)));
    }
    for m in rows.iter_mut() {
        for (emoji, username) in by_id.remove(&m.id).unwrap_or_default() {
            m.state.react(&emoji, &username, true);
        }
    }
    Ok(())
}

/// Carries out a batch's changes in its transaction (see the SQLite store's `apply_changes`).
fn apply_changes(
    tx: &mut postgres::Transaction<'_>,
    batch: &mut [StoredMessage],
) -> Result<(), StoreError> {
    for m in batch.iter_mut() {
        let Some(change) = m.change else {
            continue;
        };
        let of = clamp(change.of());
        match change {
            Change::React {
                of: message,
                added: wanted,
                toggle,
            } => {
                let taken_back = match toggle || !wanted {
                    true => tx.execute(
                        "DELETE FROM reactions WHERE message_id = $1 AND emoji = $2 AND user_key = $3",
                        &[&of, &m.content, &m.reactor_key()],
                    )?,
                    false => 0,
                };
                let add = if toggle { taken_back == 0 } else { wanted };
                let added = add
                    && {
                        tx.execute(
                            "INSERT INTO reactions (message_id, emoji, user_key, username, at_ms)
                         SELECT $1, $2, $3, $4, $5 WHERE EXISTS
                           (SELECT 1 FROM messages WHERE id = $1 AND NOT deleted)
                         ON CONFLICT DO NOTHING",
                            &[&of, &m.content, &m.reactor_key(), &m.author(), &m.ts_ms],
                        )?;
                        tx.query_one(
                        "SELECT COUNT(*) FROM reactions WHERE message_id = $1 AND emoji = $2 AND user_key = $3",
                        &[&of, &m.content, &m.reactor_key()],
                    )?
                    .get::<_, i64>(0)
                        > 0
                    };
                m.change = Some(Change::React {
                    of: message,
                    added,
                    toggle,
                });
            }
            Change::Edit { .. } => {
                let edited = tx.execute(
                    "UPDATE messages SET content = $2, edited_ms = $3 WHERE id = $1 AND NOT deleted",
                    &[&of, &m.content, &m.ts_ms],
                )?;
                if edited == 0 {
                    m.content.clear();
                }
            }
            Change::Delete { .. } => {
                tx.execute(
                    "UPDATE messages SET content = '', deleted = TRUE, edited_ms = NULL WHERE id = $1",
                    &[&of],
                )?;
                tx.execute(
                    "UPDATE messages SET content = '' WHERE change_of = $1 AND change_kind = 'edit'",
                    &[&of],
                )?;
                tx.execute("DELETE FROM reactions WHERE message_id = $1", &[&of])?;
                tx.execute(
                    // No owner: never attached again (its links stay dead); swept soon.
                    "UPDATE files SET message_id = NULL, conv_key = NULL, owner = '' WHERE message_id = $1",
                    &[&of],
                )?;
            }
        }
    }
    Ok(())
}

/// Inserts messages (with their seqs) in one statement.
pub(super) fn insert_messages(
    tx: &mut postgres::Transaction<'_>,
    c: &Columns,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO messages (id, ts_ms, room_key, room, sender, sender_key, target, target_key, content, sender_owner, target_owner, conv_key, seq, change_kind, change_of, reply_to, edited_ms, deleted)
         SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bigint[], $14::text[], $15::bigint[], $16::bigint[], $17::bigint[], $18::boolean[])",
        &[
            &c.id, &c.ts_ms, &c.room_key, &c.room, &c.sender, &c.sender_key, &c.target,
            &c.target_key, &c.content, &c.sender_owner, &c.target_owner, &c.conv_key, &c.seq,
            &c.change_kind, &c.change_of, &c.reply_to, &c.edited_ms, &c.deleted,
        ],
    )?;
    Ok(())
}

/// Messages as column arrays, for one `INSERT .. SELECT * FROM UNNEST(..)`.
#[derive(Default)]
pub(super) struct Columns {
    id: Vec<i64>,
    ts_ms: Vec<i64>,
    room_key: Vec<Option<String>>,
    room: Vec<Option<String>>,
    sender: Vec<String>,
    sender_key: Vec<String>,
    target: Vec<Option<String>>,
    target_key: Vec<Option<String>>,
    content: Vec<String>,
    sender_owner: Vec<Option<String>>,
    target_owner: Vec<Option<String>>,
    conv_key: Vec<String>,
    seq: Vec<i64>,
    change_kind: Vec<Option<&'static str>>,
    change_of: Vec<Option<i64>>,
    reply_to: Vec<Option<i64>>,
    edited_ms: Vec<Option<i64>>,
    deleted: Vec<bool>,
}

impl Columns {
    pub(super) fn len(&self) -> usize {
        self.id.len()
    }

    pub(super) fn push(&mut self, m: &StoredMessage, conv_key: String) {
        self.id.push(clamp(m.id));
        self.ts_ms.push(m.ts_ms);
        self.content.push(m.content.clone());
        self.conv_key.push(conv_key);
        self.seq.push(clamp(m.seq));
        self.change_kind.push(m.change.map(Change::column));
        self.change_of.push(m.change.map(|c| clamp(c.of())));
        self.reply_to.push(m.state.reply_to.map(clamp));
        self.edited_ms.push(
            m.state
                .edited
                .as_deref()
                .and_then(palaver_proto::timestamp::parse_millis),
        );
        self.deleted.push(m.state.deleted);
        match &m.kind {
            MessageKind::Public {
                room,
                room_key,
                username,
                username_key,
                owner,
            } => {
                self.room_key.push(Some(room_key.clone()));
                self.room.push(Some(room.clone()));
                self.sender.push(username.clone());
                self.sender_key.push(username_key.clone());
                self.target.push(None);
                self.target_key.push(None);
                self.sender_owner.push(Some(owner.clone()));
                self.target_owner.push(None);
            }
            MessageKind::Private {
                sender,
                sender_key,
                sender_owner,
                target,
                target_key,
                target_owner,
            } => {
                self.room_key.push(None);
                self.room.push(None);
                self.sender.push(sender.clone());
                self.sender_key.push(sender_key.clone());
                self.target.push(Some(target.clone()));
                self.target_key.push(Some(target_key.clone()));
                self.sender_owner.push(Some(sender_owner.clone()));
                self.target_owner.push(Some(target_owner.clone()));
            }
        }
    }
}

impl Backend for PostgresBackend {
    fn seq_of(&mut self, key: &str, id: u64) -> Result<Option<u64>, StoreError> {
        let row = self.client.query_opt(
            "SELECT seq FROM messages WHERE id = $1 AND conv_key = $2",
            &[&clamp(id), &key],
        )?;
        Ok(row.map(|r| r.get::<_, i64>(0) as u64))
    }

    fn search(&mut self, query: &SearchQuery) -> Result<super::Page, StoreError> {
        if query.words.is_empty() || (query.rooms.is_empty() && !query.private) {
            return Ok(super::Page::default());
        }
        let dm = query
            .with
            .as_ref()
            .map(|with| super::dm_key(&query.me.key, with));
        let limit = query.limit as i64 + 1;
        let before_id = query.before_id.map(clamp);
        let rows = self.client.query(
            &format!(
                "SELECT {COLUMNS} FROM {ROWS}
                 WHERE m.search @@ to_tsquery('simple', $1) AND m.change_kind IS NULL
                   AND (m.room_key = ANY($2)
                        OR ($3 AND m.room_key IS NULL
                            AND (m.sender_key = $4 AND m.sender_owner = $5
                                 OR m.target_key = $4 AND m.target_owner = $5)
                            AND ($6::TEXT IS NULL OR m.conv_key = $6)))
                   AND ($7::TEXT IS NULL OR m.sender_key = $7)
                   AND ($8::BIGINT IS NULL OR m.ts_ms > $8)
                   AND ($9::BIGINT IS NULL OR m.ts_ms < $9)
                   AND ($10::BIGINT IS NULL OR m.id < $10)
                 ORDER BY m.id DESC LIMIT $11"
            ),
            &[
                &query.tsquery(),
                &query.rooms,
                &query.private,
                &query.me.key,
                &query.me.owner,
                &dm,
                &query.from,
                &query.after_ms,
                &query.before_ms,
                &before_id,
                &limit,
            ],
        )?;
        let mut messages: Vec<StoredMessage> = rows.iter().map(row_to_message).collect();
        let has_more = messages.len() > query.limit;
        messages.truncate(query.limit);
        read_reactions(&mut self.client, &mut messages)?;
        read_attachments(&mut self.client, &mut messages)?;
        Ok(super::Page { messages, has_more })
    }

    fn direct_latest(&mut self, me: &DirectSide) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = self.client.query(
            "SELECT m.sender, m.sender_key, m.target, m.ts_ms FROM messages m
             JOIN (SELECT conv_key, MAX(seq) AS last FROM messages
                   WHERE room_key IS NULL AND change_kind IS NULL
                     AND (sender_key = $1 AND sender_owner = $2 OR target_key = $1 AND target_owner = $2)
                   GROUP BY conv_key) l
               ON m.conv_key = l.conv_key AND m.seq = l.last",
            &[&me.key, &me.owner],
        )?;
        Ok(rows
            .iter()
            .map(|r| {
                let sender: String = r.get(0);
                let sender_key: String = r.get(1);
                let target: Option<String> = r.get(2);
                let other = if sender_key == me.key {
                    target.unwrap_or_default()
                } else {
                    sender
                };
                (other, r.get(3))
            })
            .collect())
    }

    fn rows(
        &mut self,
        conversation: &Conversation,
        low: u64,
        high: u64,
        newest_first: bool,
        limit: usize,
        which: Rows,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let order = if newest_first { "DESC" } else { "ASC" };
        let messages_only = match which {
            Rows::Messages => "AND m.change_kind IS NULL",
            Rows::WithChanges => "",
        };
        let key = conversation.key();
        let (low, high, limit) = (clamp(low), clamp(high), limit as i64);
        let rows = match conversation {
            Conversation::Room(_) => self.client.query(
                &format!(
                    "SELECT {COLUMNS} FROM {ROWS} WHERE m.conv_key = $1 AND m.seq > $2 AND m.seq < $3
                     {messages_only} ORDER BY m.seq {order} LIMIT $4"
                ),
                &[&key, &low, &high, &limit],
            )?,
            Conversation::Direct { me, .. } => self.client.query(
                &format!(
                    "SELECT {COLUMNS} FROM {ROWS} WHERE m.conv_key = $1 AND m.seq > $2 AND m.seq < $3
                     AND (m.sender_key = $5 AND m.sender_owner = $6 OR m.target_key = $5 AND m.target_owner = $6)
                     {messages_only} ORDER BY m.seq {order} LIMIT $4"
                ),
                &[&key, &low, &high, &limit, &me.key, &me.owner],
            )?,
        };
        let mut rows: Vec<StoredMessage> = rows.iter().map(row_to_message).collect();
        read_reactions(&mut self.client, &mut rows)?;
        read_attachments(&mut self.client, &mut rows)?;
        Ok(rows)
    }

    fn message(&mut self, id: u64) -> Result<Option<StoredMessage>, StoreError> {
        let row = self.client.query_opt(
            &format!("SELECT {COLUMNS} FROM {ROWS} WHERE m.id = $1 AND m.change_kind IS NULL"),
            &[&clamp(id)],
        )?;
        let mut found: Vec<StoredMessage> = row.iter().map(row_to_message).collect();
        read_reactions(&mut self.client, &mut found)?;
        read_attachments(&mut self.client, &mut found)?;
        Ok(found.pop())
    }

    fn append(&mut self, batch: &mut [StoredMessage]) -> Result<(), StoreError> {
        let keys: Vec<String> = batch.iter().map(StoredMessage::conversation_key).collect();
        // Counts per conversation, in key order: the rows are locked in that order.
        let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
        for key in &keys {
            *counts.entry(key).or_default() += 1;
        }
        let (conversations, added): (Vec<&str>, Vec<i64>) =
            counts.iter().map(|(k, n)| (*k, *n)).unzip();
        let mut tx = self.client.transaction()?;
        // Ids come from one sequence that every node draws from: unique, in no promised order.
        let ids = tx.query(
            "SELECT nextval('message_ids') FROM generate_series(1, $1::bigint)",
            &[&(batch.len() as i64)],
        )?;
        for (m, row) in batch.iter_mut().zip(&ids) {
            m.id = row.get::<_, i64>(0) as u64;
        }
        apply_changes(&mut tx, batch)?;
        super::wipe_edits_deleted_in(batch);
        let rows = tx.query(
            "INSERT INTO conversations (conv_key, last_seq)
             SELECT * FROM UNNEST($1::text[], $2::bigint[])
             ON CONFLICT (conv_key) DO UPDATE SET last_seq = conversations.last_seq + EXCLUDED.last_seq
             RETURNING conv_key, last_seq",
            &[&conversations, &added],
        )?;
        let mut next: BTreeMap<String, u64> = BTreeMap::new();
        for row in rows {
            let key: String = row.get(0);
            let last = row.get::<_, i64>(1) as u64;
            let n = counts.get(key.as_str()).copied().unwrap_or(0) as u64;
            next.insert(key, last - n + 1);
        }
        let mut columns = Columns::default();
        for (m, key) in batch.iter_mut().zip(keys) {
            let seq = next
                .get_mut(&key)
                .expect("every conversation of the batch was counted");
            m.seq = *seq;
            *seq += 1;
            columns.push(m, key);
        }
        insert_messages(&mut tx, &columns)?;
        link_attachments(&mut tx, batch)?;
        tx.commit()?;
        Ok(())
    }

    fn link_secret(&mut self) -> Result<String, StoreError> {
        self.client.execute(
            "INSERT INTO secrets (name, value) VALUES ('links', $1) ON CONFLICT (name) DO NOTHING",
            &[&crate::files::signing::new_secret()],
        )?;
        Ok(self
            .client
            .query_one("SELECT value FROM secrets WHERE name = 'links'", &[])?
            .get(0))
    }

    fn save_file(&mut self, f: &super::FileRecord, quota: u64) -> Result<bool, StoreError> {
        // One statement: the quota is checked where the file is counted.
        let saved = self.client.execute(
            "INSERT INTO files (id, digest, name, size, content_type, owner, uploader, created_ms)
             SELECT $1::TEXT, $2::TEXT, $3::TEXT, $4::BIGINT, $5::TEXT, $6::TEXT, $7::TEXT, $8::BIGINT
             WHERE (SELECT COALESCE(SUM(size), 0)::BIGINT FROM files WHERE owner = $6::TEXT)
                   + $4::BIGINT <= $9::BIGINT",
            &[
                &f.id,
                &f.digest,
                &f.name,
                &(f.size as i64),
                &f.content_type,
                &f.owner,
                &f.uploader,
                &f.created_ms,
                &clamp(quota),
            ],
        )?;
        Ok(saved == 1)
    }

    fn files(&mut self, ids: &[String]) -> Result<Vec<super::FileRecord>, StoreError> {
        Ok(self
            .client
            .query(
                &format!("SELECT {FILE_COLUMNS} FROM files WHERE id = ANY($1)"),
                &[&ids],
            )?
            .iter()
            .map(row_to_file)
            .collect())
    }

    fn quota_used(&mut self, owner: &str) -> Result<u64, StoreError> {
        let used: i64 = self
            .client
            .query_one(
                "SELECT COALESCE(SUM(size), 0)::BIGINT FROM files WHERE owner = $1",
                &[&owner],
            )?
            .get(0);
        Ok(used as u64)
    }

    fn stale_files(
        &mut self,
        sent_before_ms: Option<i64>,
        unlinked_before_ms: i64,
    ) -> Result<Vec<super::FileRecord>, StoreError> {
        Ok(self
            .client
            .query(
                &format!(
                    "SELECT {FILE_COLUMNS} FROM files
                     WHERE (message_id IS NULL AND created_ms < $1) OR created_ms < $2 LIMIT 1000"
                ),
                &[&unlinked_before_ms, &sent_before_ms.unwrap_or(i64::MIN)],
            )?
            .iter()
            .map(row_to_file)
            .collect())
    }

    fn remove_files(&mut self, ids: &[String]) -> Result<Vec<String>, StoreError> {
        let mut tx = self.client.transaction()?;
        let digests: Vec<String> = tx
            .query(
                "DELETE FROM files WHERE id = ANY($1) RETURNING digest",
                &[&ids],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut unused = Vec::new();
        for digest in digests {
            let users: i64 = tx
                .query_one("SELECT COUNT(*) FROM files WHERE digest = $1", &[&digest])?
                .get(0);
            if users == 0 && !unused.contains(&digest) {
                unused.push(digest);
            }
        }
        tx.commit()?;
        Ok(unused)
    }

    fn is_broken(&self) -> bool {
        self.client.is_closed()
    }

    fn reconnect(&mut self) -> Result<(), StoreError> {
        self.client = BlockingClient::connect(&self.url)?;
        Ok(())
    }

    fn save_room(&mut self, room: &RoomRecord) -> Result<(), StoreError> {
        self.client.execute(
            "INSERT INTO rooms (room_key, name, topic, created_ms) VALUES ($1, $2, $3, $4)
             ON CONFLICT (room_key) DO NOTHING",
            &[&room.key, &room.name, &room.topic, &room.created_ms],
        )?;
        Ok(())
    }

    fn set_topic(&mut self, room_key: &str, topic: &str) -> Result<(), StoreError> {
        self.client.execute(
            "UPDATE rooms SET topic = $2 WHERE room_key = $1",
            &[&room_key, &topic],
        )?;
        Ok(())
    }

    fn last_id(&mut self) -> Result<u64, StoreError> {
        let id: Option<i64> = self
            .client
            .query_one("SELECT MAX(id) FROM messages", &[])?
            .get(0);
        Ok(id.unwrap_or(0) as u64)
    }

    fn rooms(&mut self) -> Result<Vec<RoomRecord>, StoreError> {
        let rows = self.client.query(
            "SELECT r.room_key, r.name, r.topic, r.created_ms, COALESCE(c.last_seq, 0)
             FROM rooms r LEFT JOIN conversations c ON c.conv_key = r.room_key
             ORDER BY r.room_key",
            &[],
        )?;
        Ok(rows
            .iter()
            .map(|r| RoomRecord {
                key: r.get(0),
                name: r.get(1),
                topic: r.get(2),
                created_ms: r.get(3),
                last_seq: r.get::<_, i64>(4) as u64,
            })
            .collect())
    }

    fn room(&mut self, room_key: &str) -> Result<Option<RoomRecord>, StoreError> {
        let row = self.client.query_opt(
            "SELECT r.room_key, r.name, r.topic, r.created_ms, COALESCE(c.last_seq, 0)
             FROM rooms r LEFT JOIN conversations c ON c.conv_key = r.room_key
             WHERE r.room_key = $1",
            &[&room_key],
        )?;
        Ok(row.map(|r| RoomRecord {
            key: r.get(0),
            name: r.get(1),
            topic: r.get(2),
            created_ms: r.get(3),
            last_seq: r.get::<_, i64>(4) as u64,
        }))
    }

    fn reassign_owner(&mut self, from: &str, to: &str) -> Result<(), StoreError> {
        let mut tx = self.client.transaction()?;
        tx.execute(
            "UPDATE messages SET sender_owner = $2 WHERE sender_owner = $1",
            &[&from, &to],
        )?;
        tx.execute(
            "UPDATE messages SET target_owner = $2 WHERE target_owner = $1",
            &[&from, &to],
        )?;
        tx.execute(
            "UPDATE read_markers SET owner = $2 WHERE owner = $1 AND NOT EXISTS
             (SELECT 1 FROM read_markers r WHERE r.owner = $2 AND r.conv_key = read_markers.conv_key)",
            &[&from, &to],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn mark_read(
        &mut self,
        owner: &str,
        conversation: &str,
        at: Option<ReadAt>,
    ) -> Result<Option<ReadMarkerRecord>, StoreError> {
        let mut tx = self.client.transaction()?;
        let read = match at {
            None => None,
            Some(ReadAt::Seq(seq)) => tx
                .query_opt(
                    "SELECT seq, ts_ms FROM messages WHERE conv_key = $1 AND seq <= $2 AND (room_key IS NOT NULL
                     OR sender_owner = $3 OR target_owner = $3) ORDER BY seq DESC LIMIT 1",
                    &[&conversation, &clamp(seq), &owner],
                )?
                .map(|r| (r.get::<_, i64>(0), r.get::<_, i64>(1))),
            // The time as the client said it, and the newest message it covers (if any).
            Some(ReadAt::Time(ms)) => {
                let covered = tx.query_opt(
                    "SELECT seq FROM messages WHERE conv_key = $1 AND ts_ms <= $2 AND (room_key IS NOT NULL
                     OR sender_owner = $3 OR target_owner = $3) ORDER BY seq DESC LIMIT 1",
                    &[&conversation, &ms, &owner],
                )?;
                Some((covered.map_or(0, |r| r.get::<_, i64>(0)), ms))
            }
        };
        if let Some((seq, ts_ms)) = read {
            tx.execute(
                "INSERT INTO read_markers (owner, conv_key, seq, ts_ms) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (owner, conv_key) DO UPDATE SET seq = excluded.seq,
                 ts_ms = excluded.ts_ms WHERE excluded.seq > read_markers.seq
                 OR excluded.seq = read_markers.seq AND excluded.ts_ms > read_markers.ts_ms",
                &[&owner, &conversation, &seq, &ts_ms],
            )?;
        }
        let marker = tx
            .query_opt(
                "SELECT seq, ts_ms FROM read_markers WHERE owner = $1 AND conv_key = $2",
                &[&owner, &conversation],
            )?
            .map(|r| ReadMarkerRecord {
                conversation: conversation.to_string(),
                seq: r.get::<_, i64>(0) as u64,
                ts_ms: r.get(1),
            });
        tx.commit()?;
        Ok(marker)
    }

    fn read_markers(&mut self, owner: &str) -> Result<Vec<ReadMarkerRecord>, StoreError> {
        let rows = self.client.query(
            "SELECT conv_key, seq, ts_ms FROM read_markers WHERE owner = $1",
            &[&owner],
        )?;
        Ok(rows
            .iter()
            .map(|r| ReadMarkerRecord {
                conversation: r.get(0),
                seq: r.get::<_, i64>(1) as u64,
                ts_ms: r.get(2),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::contract::{contract_tests, newest, public, room, seqs};
    use crate::testing::{self, ThrowawayPostgres};

    /// A new database on the shared throwaway cluster, or `None` (skipped) without PostgreSQL.
    fn pg() -> Option<(Arc<ThrowawayPostgres>, impl Fn() -> Box<dyn Backend>)> {
        let cluster = testing::shared("store::postgres")?;
        let url = cluster.new_database();
        let open = move || Box::new(PostgresBackend::open(&url).unwrap()) as Box<dyn Backend>;
        Some((cluster, open))
    }

    contract_tests!(pg);

    #[test]
    fn two_writers_on_one_conversation_number_it_in_commit_order() {
        let Some((_cluster, open)) = pg() else {
            return;
        };
        let open = Arc::new(open);
        let writers: Vec<_> = (0..2u64)
            .map(|w| {
                let open = Arc::clone(&open);
                std::thread::spawn(move || {
                    let mut db = open();
                    let mut mine = Vec::new();
                    for b in 0..50u64 {
                        let mut batch: Vec<_> = (0..10u64)
                            .map(|i| public(w * 10_000 + b * 10 + i + 1, "general", "x", "m"))
                            .collect();
                        db.append(&mut batch).unwrap();
                        mine.extend(batch.iter().map(|m| m.seq));
                    }
                    mine
                })
            })
            .collect();
        for writer in writers {
            let mine = writer.join().unwrap();
            assert!(
                mine.windows(2).all(|w| w[0] < w[1]),
                "each writer's commits are numbered in its order"
            );
        }
        let mut db = open();
        let all = db.page(&room("general"), &newest(2_000)).unwrap();
        assert_eq!(
            seqs(&all),
            (1..=1_000).collect::<Vec<u64>>(),
            "no gap, no repeat"
        );
        let mut ids: Vec<u64> = all.messages.iter().map(|m| m.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 1_000, "both writers drew distinct ids");
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let Some(cluster) = testing::shared("store::postgres") else {
            return;
        };
        let url = cluster.new_database();
        drop(PostgresBackend::open(&url).unwrap());
        let mut client = Client::connect(&url, NoTls).unwrap();
        client
            .execute(
                "UPDATE palaver_schema SET version = $1",
                &[&(SCHEMA_VERSION + 1)],
            )
            .unwrap();
        let refused = PostgresBackend::open(&url).err().unwrap();
        assert!(refused.to_string().contains("newer"), "{refused}");
    }
}
