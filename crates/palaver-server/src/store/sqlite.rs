//! The embedded SQLite store: one file, WAL journal, durable commits.
//!
//! `synchronous=FULL` makes every commit wait for the WAL to reach the disk, so a message is
//! durable before the server acknowledges or broadcasts it. The writer's group commit is what
//! keeps that affordable: one fsync covers a whole batch.
//!
//! Each conversation (a room, or the private conversation of two users) numbers its messages:
//! `conversations` holds each one's last seq, and the transaction that stores a batch raises it
//! by the batch's count for that conversation and numbers the messages in batch order. So within
//! a conversation seq order is commit order, also if several writers shared the database.

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

use super::{
    clamp, Backend, Change, Conversation, DirectSide, MessageKind, ReadAt, ReadMarkerRecord,
    ReadState, RoomRecord, Rows, SearchQuery, StoreError, StoredMessage,
};

/// The schema version this build writes; a database with a newer one is refused.
pub const SCHEMA_VERSION: i64 = 7;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS messages (
    id           INTEGER PRIMARY KEY,
    ts_ms        INTEGER NOT NULL,
    room_key     TEXT,
    room         TEXT,
    sender       TEXT NOT NULL,
    sender_key   TEXT NOT NULL,
    target       TEXT,
    target_key   TEXT,
    dm_key       TEXT,
    content      TEXT NOT NULL,
    sender_owner TEXT,
    target_owner TEXT,
    conv_key     TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    change_kind  TEXT,
    change_of    INTEGER,
    reply_to     INTEGER,
    edited_ms    INTEGER,
    deleted      INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS messages_by_conversation ON messages(conv_key, seq);
CREATE TABLE IF NOT EXISTS conversations (
    conv_key TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS rooms (
    room_key   TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    topic      TEXT NOT NULL DEFAULT '',
    created_ms INTEGER NOT NULL
);
";

/// Version 4 to 5: a message can be replied to, reacted to, edited and deleted; changes are rows
/// of their own (`change_kind`, `change_of`).
const TO_VERSION_5: &str = "
ALTER TABLE messages ADD COLUMN change_kind TEXT;
ALTER TABLE messages ADD COLUMN change_of INTEGER;
ALTER TABLE messages ADD COLUMN reply_to INTEGER;
ALTER TABLE messages ADD COLUMN edited_ms INTEGER;
ALTER TABLE messages ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
";

/// Version 6 to 7: reactions are keyed by their giver's owner (accounts' as `account:<name>`;
/// guests' older ones keep their name). Read markers arrive with [`CHANGES`].
const TO_VERSION_7: &str = "
UPDATE reactions SET user_key = 'account:' || user_key
 WHERE user_key IN (SELECT name_key FROM accounts);
";

/// Reactions (who gave which emoji to which message), and the changes of a message (to wipe its
/// edits when it is deleted).
const CHANGES: &str = "
CREATE TABLE IF NOT EXISTS reactions (
    message_id INTEGER NOT NULL,
    emoji      TEXT NOT NULL,
    user_key   TEXT NOT NULL,
    username   TEXT NOT NULL,
    at_ms      INTEGER NOT NULL,
    PRIMARY KEY (message_id, emoji, user_key)
);
CREATE INDEX IF NOT EXISTS messages_changes ON messages(change_of) WHERE change_of IS NOT NULL;
CREATE TABLE IF NOT EXISTS files (
    id           TEXT PRIMARY KEY,
    digest       TEXT NOT NULL,
    name         TEXT NOT NULL,
    size         INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    owner        TEXT NOT NULL,
    uploader     TEXT NOT NULL,
    created_ms   INTEGER NOT NULL,
    message_id   INTEGER,
    conv_key     TEXT
);
CREATE INDEX IF NOT EXISTS files_by_message ON files(message_id) WHERE message_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS files_by_owner ON files(owner);
CREATE INDEX IF NOT EXISTS files_by_digest ON files(digest);
CREATE TABLE IF NOT EXISTS secrets (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS read_markers (
    owner    TEXT NOT NULL,
    conv_key TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    ts_ms    INTEGER NOT NULL,
    PRIMARY KEY (owner, conv_key)
);
";

/// Version 1 to 2: private messages get an owner per side. Old rows are given to an account
/// only where the name was already registered when the message was sent (a registered name is
/// refused to guests); every other old private message belongs to no one and is never shown.
const TO_VERSION_2: &str = "
ALTER TABLE messages ADD COLUMN sender_owner TEXT;
ALTER TABLE messages ADD COLUMN target_owner TEXT;
";
const TO_VERSION_2_ACCOUNTS: &str = "
UPDATE messages SET sender_owner = 'account:' || sender_key
 WHERE room_key IS NULL AND EXISTS (SELECT 1 FROM accounts a
       WHERE a.name_key = messages.sender_key AND a.created_ms <= messages.ts_ms);
UPDATE messages SET target_owner = 'account:' || target_key
 WHERE room_key IS NULL AND EXISTS (SELECT 1 FROM accounts a
       WHERE a.name_key = messages.target_key AND a.created_ms <= messages.ts_ms);
";
/// Version 2 to 3: a seq per conversation, numbered in id order (ids were in commit order).
const TO_VERSION_3: &str = "
ALTER TABLE messages ADD COLUMN conv_key TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE messages SET conv_key = CASE
    WHEN room_key IS NOT NULL THEN room_key
    WHEN sender_key <= target_key THEN sender_key || '@' || target_key
    ELSE target_key || '@' || sender_key END;
CREATE TEMP TABLE numbered (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);
INSERT INTO numbered SELECT id, ROW_NUMBER() OVER (PARTITION BY conv_key ORDER BY id) FROM messages;
UPDATE messages SET seq = numbered.n FROM numbered WHERE numbered.id = messages.id;
DROP TABLE numbered;
DROP INDEX IF EXISTS messages_by_room;
DROP INDEX IF EXISTS messages_by_dm;
CREATE TABLE IF NOT EXISTS conversations (conv_key TEXT PRIMARY KEY, last_seq INTEGER NOT NULL);
INSERT INTO conversations SELECT conv_key, MAX(seq) FROM messages GROUP BY conv_key;
";

/// Version 4: full-text search (FTS5 over the messages' content, kept by triggers).
const SEARCH: &str = "
CREATE VIRTUAL TABLE IF NOT EXISTS messages_search USING fts5(
    content, content='messages', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS messages_search_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_search (rowid, content) VALUES (new.id, new.content);
END;
CREATE TRIGGER IF NOT EXISTS messages_search_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_search (messages_search, rowid, content) VALUES ('delete', old.id, old.content);
END;
CREATE TRIGGER IF NOT EXISTS messages_search_update AFTER UPDATE OF content ON messages BEGIN
    INSERT INTO messages_search (messages_search, rowid, content) VALUES ('delete', old.id, old.content);
    INSERT INTO messages_search (rowid, content) VALUES (new.id, new.content);
END;
";

/// A row's columns (`m`), and those of the message it replies to (`r`): read `FROM` [`ROWS`].
pub(super) const COLUMNS: &str = "m.id, m.ts_ms, m.room_key, m.room, m.sender, m.sender_key, m.target, m.target_key, m.content, m.sender_owner, m.target_owner, m.seq, m.change_kind, m.change_of, m.reply_to, m.edited_ms, m.deleted, r.sender, r.content, r.deleted";

/// Messages with the message each replies to.
pub(super) const ROWS: &str = "messages m LEFT JOIN messages r ON r.id = m.reply_to";

/// Private messages only where `me` (?me_key) owned its side (?me_owner).
const MY_SIDE: &str =
    "(m.sender_key = :me_key AND m.sender_owner = :me_owner OR m.target_key = :me_key AND m.target_owner = :me_owner)";

pub struct SqliteBackend {
    conn: Connection,
}

impl SqliteBackend {
    pub fn open(path: &str) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        migrate(&conn)?;
        Ok(SqliteBackend { conn })
    }
}

/// Brings the schema to [`SCHEMA_VERSION`] in one transaction; refuses a newer one.
fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let table_exists = |name: &str| -> rusqlite::Result<bool> {
        conn.query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
            params![name],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)
    };
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    let fresh = !table_exists("messages")?;
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let result = (|| -> Result<(), StoreError> {
        if !fresh && version < 2 {
            conn.execute_batch(TO_VERSION_2)?;
            if table_exists("accounts")? {
                conn.execute_batch(TO_VERSION_2_ACCOUNTS)?;
            }
            tracing::info!("database schema upgraded to version 2 (owners of private messages)");
        }
        if !fresh && version < 3 {
            conn.execute_batch(TO_VERSION_3)?;
            tracing::info!("database schema upgraded to version 3 (a seq per conversation)");
        }
        if !fresh && version < 5 {
            conn.execute_batch(TO_VERSION_5)?;
            tracing::info!(
                "database schema upgraded to version 5 (replies, reactions, edits, deletions)"
            );
        }
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(CHANGES)?;
        if !fresh && version < 7 && table_exists("accounts")? {
            conn.execute_batch(TO_VERSION_7)?;
            tracing::info!(
                "database schema upgraded to version 7 (read markers, reactions by owner)"
            );
        }
        let indexed = table_exists("messages_search")?;
        conn.execute_batch(SEARCH)?;
        if !fresh && !indexed {
            conn.execute_batch("INSERT INTO messages_search (messages_search) VALUES ('rebuild')")?;
            tracing::info!("database schema upgraded to version 4 (full-text search)");
        }
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        Ok(())
    })();
    match result {
        Ok(()) => conn.execute_batch("COMMIT")?,
        Err(_) => {
            let _ = conn.execute_batch("ROLLBACK");
        }
    }
    result
}

pub(super) fn row_to_message(row: &Row<'_>) -> rusqlite::Result<StoredMessage> {
    let id: i64 = row.get(0)?;
    let room_key: Option<String> = row.get(2)?;
    let kind = match room_key {
        Some(room_key) => MessageKind::Public {
            room: row.get(3)?,
            room_key,
            username: row.get(4)?,
            username_key: row.get(5)?,
            owner: row.get::<_, Option<String>>(9)?.unwrap_or_default(),
        },
        None => MessageKind::Private {
            sender: row.get(4)?,
            sender_key: row.get(5)?,
            sender_owner: row.get::<_, Option<String>>(9)?.unwrap_or_default(),
            target: row.get::<_, Option<String>>(6)?.unwrap_or_default(),
            target_key: row.get::<_, Option<String>>(7)?.unwrap_or_default(),
            target_owner: row.get::<_, Option<String>>(10)?.unwrap_or_default(),
        },
    };
    let change_kind: Option<String> = row.get(12)?;
    let reply_sender: Option<String> = row.get(17)?;
    let state = ReadState {
        reply_to: row.get(14)?,
        edited_ms: row.get(15)?,
        deleted: row.get::<_, i64>(16)? != 0,
        reply: match reply_sender {
            Some(sender) => Some((sender, row.get(18)?, row.get::<_, i64>(19)? != 0)),
            None => None,
        },
    };
    Ok(StoredMessage {
        id: id as u64,
        seq: row.get::<_, i64>(11)? as u64,
        ts_ms: row.get(1)?,
        content: row.get(8)?,
        kind,
        change: Change::from_columns(change_kind.as_deref(), row.get(13)?),
        state: state.into_state(),
    })
}

/// A `files` row (`FILE_COLUMNS`).
fn row_to_file(r: &Row<'_>) -> rusqlite::Result<super::FileRecord> {
    Ok(super::FileRecord {
        id: r.get(0)?,
        digest: r.get(1)?,
        name: r.get(2)?,
        size: r.get::<_, i64>(3)? as u64,
        content_type: r.get(4)?,
        owner: r.get(5)?,
        uploader: r.get(6)?,
        created_ms: r.get(7)?,
        message_id: r.get::<_, Option<i64>>(8)?.map(|id| id as u64),
    })
}

const FILE_COLUMNS: &str =
    "id, digest, name, size, content_type, owner, uploader, created_ms, message_id";

/// Reads the files sent with the messages among `rows`.
pub(super) fn read_attachments(
    conn: &Connection,
    rows: &mut [StoredMessage],
) -> rusqlite::Result<()> {
    let ids = super::live_message_ids(rows);
    if ids.is_empty() {
        return Ok(());
    }
    let list = serde_json::to_string(&ids).expect("numbers serialise");
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {FILE_COLUMNS} FROM files
         WHERE message_id IN (SELECT value FROM json_each(?1)) ORDER BY created_ms, id"
    ))?;
    let files = stmt
        .query_map(params![list], row_to_file)?
        .collect::<Result<Vec<_>, _>>()?;
    for m in rows.iter_mut() {
        m.state.attachments = files
            .iter()
            .filter(|f| f.message_id == Some(m.id))
            .map(super::FileRecord::attachment)
            .collect();
    }
    Ok(())
}

/// Links the files a batch's messages name to them (only files of the same owner not sent
/// yet); each message keeps the attachments that were linked.
fn link_attachments(tx: &Connection, batch: &mut [StoredMessage]) -> rusqlite::Result<()> {
    for m in batch.iter_mut() {
        if m.change.is_some() || m.state.attachments.is_empty() {
            continue;
        }
        let owner = m.author_owner().to_string();
        let key = m.conversation_key();
        let mut linked = Vec::new();
        for a in std::mem::take(&mut m.state.attachments) {
            let n = tx
                .prepare_cached(
                    "UPDATE files SET message_id = ?1, conv_key = ?2
                     WHERE id = ?3 AND owner = ?4 AND message_id IS NULL",
                )?
                .execute(params![clamp(m.id), key, a.id, owner])?;
            if n == 1 {
                linked.push(a);
            }
        }
        m.state.attachments = linked;
    }
    Ok(())
}

/// Reads the reactions of the messages among `rows` (not of changes or deleted messages).
pub(super) fn read_reactions(
    conn: &Connection,
    rows: &mut [StoredMessage],
) -> rusqlite::Result<()> {
    let ids = super::live_message_ids(rows);
    if ids.is_empty() {
        return Ok(());
    }
    let list = serde_json::to_string(&ids).expect("numbers serialise");
    let mut stmt = conn.prepare_cached(
        "SELECT message_id, emoji, username FROM reactions
         WHERE message_id IN (SELECT value FROM json_each(?1)) ORDER BY at_ms, rowid",
    )?;
    let mut found: HashMap<u64, Vec<(String, String)>> = HashMap::new();
    for row in stmt.query_map(params![list], |r| {
        Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, r.get(2)?))
    })? {
        let (id, emoji, username) = row?;
        found.entry(id).or_default().push((emoji, username));
    }
    for m in rows.iter_mut() {
        for (emoji, username) in found.remove(&m.id).unwrap_or_default() {
            m.state.react(&emoji, &username, true);
        }
    }
    Ok(())
}

/// Carries out the changes of a batch about to be stored, in its transaction: toggles
/// reactions (deciding whether each was added), replaces edited texts, wipes deleted messages
/// (their text, the texts of their edits, their reactions). A change to a message deleted
/// meanwhile changes nothing, and an edit of one keeps no text.
fn apply_changes(tx: &Connection, batch: &mut [StoredMessage]) -> rusqlite::Result<()> {
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
                    true => tx
                        .prepare_cached(
                            "DELETE FROM reactions WHERE message_id = ?1 AND emoji = ?2 AND user_key = ?3",
                        )?
                        .execute(params![of, m.content, m.reactor_key()])?,
                    false => 0,
                };
                let add = if toggle { taken_back == 0 } else { wanted };
                let added = add
                    && {
                        tx.prepare_cached(
                            "INSERT INTO reactions (message_id, emoji, user_key, username, at_ms)
                         SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS
                           (SELECT 1 FROM messages WHERE id = ?1 AND deleted = 0)
                         ON CONFLICT DO NOTHING",
                        )?
                        .execute(params![
                            of,
                            m.content,
                            m.reactor_key(),
                            m.author(),
                            m.ts_ms
                        ])?;
                        tx.prepare_cached(
                        "SELECT COUNT(*) FROM reactions WHERE message_id = ?1 AND emoji = ?2 AND user_key = ?3",
                    )?
                    .query_row(params![of, m.content, m.reactor_key()], |r| r.get::<_, i64>(0))?
                        > 0
                    };
                m.change = Some(Change::React {
                    of: message,
                    added,
                    toggle,
                });
            }
            Change::Edit { .. } => {
                let edited = tx
                    .prepare_cached(
                        "UPDATE messages SET content = ?2, edited_ms = ?3 WHERE id = ?1 AND deleted = 0",
                    )?
                    .execute(params![of, m.content, m.ts_ms])?;
                if edited == 0 {
                    m.content.clear();
                }
            }
            Change::Delete { .. } => {
                tx.prepare_cached(
                    "UPDATE messages SET content = '', deleted = 1, edited_ms = NULL WHERE id = ?1",
                )?
                .execute(params![of])?;
                tx.prepare_cached(
                    "UPDATE messages SET content = '' WHERE change_of = ?1 AND change_kind = 'edit'",
                )?
                .execute(params![of])?;
                tx.prepare_cached("DELETE FROM reactions WHERE message_id = ?1")?
                    .execute(params![of])?;
                tx.prepare_cached(
                    // No owner: never attached again (its links stay dead); swept soon.
                    "UPDATE files SET message_id = NULL, conv_key = NULL, owner = '' WHERE message_id = ?1",
                )?
                .execute(params![of])?;
            }
        }
    }
    Ok(())
}

/// The SQL condition and parameters that pick a conversation's rows.
fn conversation_filter(
    conversation: &Conversation,
) -> (String, Vec<(&'static str, rusqlite::types::Value)>) {
    let key = conversation.key();
    match conversation {
        Conversation::Room(_) => ("m.conv_key = :conv".into(), vec![(":conv", key.into())]),
        Conversation::Direct { me, .. } => (
            format!("m.conv_key = :conv AND {MY_SIDE}"),
            vec![
                (":conv", key.into()),
                (":me_key", me.key.clone().into()),
                (":me_owner", me.owner.clone().into()),
            ],
        ),
    }
}

impl Backend for SqliteBackend {
    fn seq_of(&mut self, key: &str, id: u64) -> Result<Option<u64>, StoreError> {
        let seq: Option<i64> = self
            .conn
            .prepare_cached("SELECT seq FROM messages WHERE id = ?1 AND conv_key = ?2")?
            .query_row(params![clamp(id), key], |r| r.get(0))
            .optional()?;
        Ok(seq.map(|s| s as u64))
    }

    fn search(&mut self, query: &SearchQuery) -> Result<super::Page, StoreError> {
        if query.words.is_empty() {
            return Ok(super::Page::default());
        }
        let mut values: Vec<(String, rusqlite::types::Value)> = vec![
            (":q".into(), query.fts5().into()),
            (":limit".into(), (query.limit as i64 + 1).into()),
        ];
        let mut rooms = Vec::new();
        for (i, room) in query.rooms.iter().enumerate() {
            let name = format!(":r{i}");
            rooms.push(name.clone());
            values.push((name, room.clone().into()));
        }
        let mut scope = Vec::new();
        if !rooms.is_empty() {
            scope.push(format!("m.room_key IN ({})", rooms.join(", ")));
        }
        if query.private {
            values.push((":me_key".into(), query.me.key.clone().into()));
            values.push((":me_owner".into(), query.me.owner.clone().into()));
            let mut mine = format!("(m.room_key IS NULL AND {MY_SIDE})");
            if let Some(with) = &query.with {
                mine = format!("({mine} AND m.conv_key = :dm)");
                values.push((":dm".into(), super::dm_key(&query.me.key, with).into()));
            }
            scope.push(mine);
        }
        if scope.is_empty() {
            return Ok(super::Page::default());
        }
        let mut filters = vec![
            format!("({})", scope.join(" OR ")),
            "m.change_kind IS NULL".to_string(),
        ];
        if let Some(from) = &query.from {
            filters.push("m.sender_key = :from".into());
            values.push((":from".into(), from.clone().into()));
        }
        if let Some(after) = query.after_ms {
            filters.push("m.ts_ms > :after".into());
            values.push((":after".into(), after.into()));
        }
        if let Some(before) = query.before_ms {
            filters.push("m.ts_ms < :before".into());
            values.push((":before".into(), before.into()));
        }
        if let Some(id) = query.before_id {
            filters.push("m.id < :before_id".into());
            values.push((":before_id".into(), clamp(id).into()));
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM messages_search JOIN messages m ON m.id = messages_search.rowid
             LEFT JOIN messages r ON r.id = m.reply_to
             WHERE messages_search MATCH :q AND {} ORDER BY messages_search.rowid DESC LIMIT :limit",
            filters.join(" AND ")
        );
        let named: Vec<(&str, &dyn rusqlite::ToSql)> = values
            .iter()
            .map(|(name, value)| (name.as_str(), value as &dyn rusqlite::ToSql))
            .collect();
        let mut stmt = self.conn.prepare(&sql)?;
        let mut messages = stmt
            .query_map(named.as_slice(), row_to_message)?
            .collect::<Result<Vec<_>, _>>()?;
        let has_more = messages.len() > query.limit;
        messages.truncate(query.limit);
        read_reactions(&self.conn, &mut messages)?;
        read_attachments(&self.conn, &mut messages)?;
        Ok(super::Page { messages, has_more })
    }

    fn direct_latest(&mut self, me: &DirectSide) -> Result<Vec<(String, i64)>, StoreError> {
        let sql = format!(
            "SELECT m.sender, m.sender_key, m.target, m.ts_ms FROM messages m
             JOIN (SELECT m.conv_key, MAX(m.seq) AS last FROM messages m
                   WHERE m.room_key IS NULL AND m.change_kind IS NULL AND {MY_SIDE}
                   GROUP BY m.conv_key) l
               ON m.conv_key = l.conv_key AND m.seq = l.last"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt
            .query_map(
                rusqlite::named_params! {":me_key": me.key, ":me_owner": me.owner},
                |r| {
                    let (sender, sender_key, target, ts): (String, String, Option<String>, i64) =
                        (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
                    let other = if sender_key == me.key {
                        target.unwrap_or_default()
                    } else {
                        sender
                    };
                    Ok((other, ts))
                },
            )?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
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
        let (filter, mut values) = conversation_filter(conversation);
        let order = if newest_first { "DESC" } else { "ASC" };
        let messages_only = match which {
            Rows::Messages => "AND m.change_kind IS NULL",
            Rows::WithChanges => "",
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM {ROWS} WHERE {filter} AND m.seq > :low AND m.seq < :high
             {messages_only} ORDER BY m.seq {order} LIMIT :limit"
        );
        values.push((":low", clamp(low).into()));
        values.push((":high", clamp(high).into()));
        values.push((":limit", (limit as i64).into()));
        let named: Vec<(&str, &dyn rusqlite::ToSql)> = values
            .iter()
            .map(|(name, value)| (*name, value as &dyn rusqlite::ToSql))
            .collect();
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt
            .query_map(named.as_slice(), row_to_message)?
            .collect::<Result<Vec<_>, _>>()?;
        read_reactions(&self.conn, &mut rows)?;
        read_attachments(&self.conn, &mut rows)?;
        Ok(rows)
    }

    fn message(&mut self, id: u64) -> Result<Option<StoredMessage>, StoreError> {
        let found = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM {ROWS} WHERE m.id = ?1 AND m.change_kind IS NULL"
            ))?
            .query_row(params![clamp(id)], row_to_message)
            .optional()?;
        let mut found: Vec<StoredMessage> = found.into_iter().collect();
        read_reactions(&self.conn, &mut found)?;
        read_attachments(&self.conn, &mut found)?;
        Ok(found.pop())
    }

    fn append(&mut self, batch: &mut [StoredMessage]) -> Result<(), StoreError> {
        // Immediate: the write lock is taken first (waiting out other writers, such as the
        // accounts connection), so the read of the highest id below cannot leave the
        // transaction with a stale snapshot that may not write (`SQLITE_BUSY_SNAPSHOT`).
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            // Ids continue from the highest stored: one file has one writer.
            let last_id: i64 =
                tx.query_row("SELECT COALESCE(MAX(id), 0) FROM messages", [], |r| {
                    r.get(0)
                })?;
            for (m, id) in batch.iter_mut().zip(last_id as u64 + 1..) {
                m.id = id;
            }
            apply_changes(&tx, batch)?;
            super::wipe_edits_deleted_in(batch);
            // One bump of each conversation's counter per batch, then number in batch order.
            let mut counts: HashMap<String, u64> = HashMap::new();
            let keys: Vec<String> = batch.iter().map(StoredMessage::conversation_key).collect();
            for key in &keys {
                *counts.entry(key.clone()).or_default() += 1;
            }
            let mut next: HashMap<String, u64> = HashMap::with_capacity(counts.len());
            {
                let mut bump = tx.prepare_cached(
                    "INSERT INTO conversations (conv_key, last_seq) VALUES (?1, ?2)
                     ON CONFLICT(conv_key) DO UPDATE SET last_seq = last_seq + excluded.last_seq
                     RETURNING last_seq",
                )?;
                for (key, n) in counts {
                    let last: i64 = bump.query_row(params![key, clamp(n)], |r| r.get(0))?;
                    next.insert(key, last as u64 - n + 1);
                }
            }
            let mut insert = tx.prepare_cached(
                "INSERT INTO messages (id, ts_ms, room_key, room, sender, sender_key, target, target_key, dm_key, content, sender_owner, target_owner, conv_key, seq, change_kind, change_of, reply_to)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
            )?;
            for (m, key) in batch.iter_mut().zip(keys) {
                let seq = next.get_mut(&key).expect("counted above");
                m.seq = *seq;
                *seq += 1;
                let id = clamp(m.id);
                let change_kind = m.change.map(Change::column);
                let change_of = m.change.map(|c| clamp(c.of()));
                let reply_to = m.state.reply_to.map(clamp);
                match &m.kind {
                    MessageKind::Public {
                        room,
                        room_key,
                        username,
                        username_key,
                        owner,
                    } => insert.execute(params![
                        id,
                        m.ts_ms,
                        room_key,
                        room,
                        username,
                        username_key,
                        None::<&str>,
                        None::<&str>,
                        None::<&str>,
                        m.content,
                        owner,
                        None::<&str>,
                        key,
                        clamp(m.seq),
                        change_kind,
                        change_of,
                        reply_to
                    ])?,
                    MessageKind::Private {
                        sender,
                        sender_key,
                        sender_owner,
                        target,
                        target_key,
                        target_owner,
                    } => insert.execute(params![
                        id,
                        m.ts_ms,
                        None::<&str>,
                        None::<&str>,
                        sender,
                        sender_key,
                        target,
                        target_key,
                        key,
                        m.content,
                        sender_owner,
                        target_owner,
                        key,
                        clamp(m.seq),
                        change_kind,
                        change_of,
                        reply_to
                    ])?,
                };
            }
            drop(insert);
            link_attachments(&tx, batch)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn link_secret(&mut self) -> Result<String, StoreError> {
        self.conn.execute(
            "INSERT INTO secrets (name, value) VALUES ('links', ?1) ON CONFLICT(name) DO NOTHING",
            params![crate::files::signing::new_secret()],
        )?;
        let secret =
            self.conn
                .query_row("SELECT value FROM secrets WHERE name = 'links'", [], |r| {
                    r.get(0)
                })?;
        Ok(secret)
    }

    fn save_file(&mut self, f: &super::FileRecord, quota: u64) -> Result<bool, StoreError> {
        // One statement: the quota is checked where the file is counted.
        let saved = self.conn.execute(
            "INSERT INTO files (id, digest, name, size, content_type, owner, uploader, created_ms)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8
             WHERE (SELECT COALESCE(SUM(size), 0) FROM files WHERE owner = ?6) + ?4 <= ?9",
            params![
                f.id,
                f.digest,
                f.name,
                f.size as i64,
                f.content_type,
                f.owner,
                f.uploader,
                f.created_ms,
                clamp(quota)
            ],
        )?;
        Ok(saved == 1)
    }

    fn files(&mut self, ids: &[String]) -> Result<Vec<super::FileRecord>, StoreError> {
        let list = serde_json::to_string(ids).expect("strings serialise");
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {FILE_COLUMNS} FROM files WHERE id IN (SELECT value FROM json_each(?1))"
        ))?;
        let files = stmt
            .query_map(params![list], row_to_file)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(files)
    }

    fn quota_used(&mut self, owner: &str) -> Result<u64, StoreError> {
        let used: i64 = self.conn.query_row(
            "SELECT COALESCE(SUM(size), 0) FROM files WHERE owner = ?1",
            params![owner],
            |r| r.get(0),
        )?;
        Ok(used as u64)
    }

    fn stale_files(
        &mut self,
        sent_before_ms: Option<i64>,
        unlinked_before_ms: i64,
    ) -> Result<Vec<super::FileRecord>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {FILE_COLUMNS} FROM files
             WHERE (message_id IS NULL AND created_ms < ?1) OR created_ms < ?2 LIMIT 1000"
        ))?;
        let files = stmt
            .query_map(
                params![unlinked_before_ms, sent_before_ms.unwrap_or(i64::MIN)],
                row_to_file,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(files)
    }

    fn remove_files(&mut self, ids: &[String]) -> Result<Vec<String>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut unused = Vec::new();
        for id in ids {
            let digest: Option<String> = tx
                .query_row("SELECT digest FROM files WHERE id = ?1", params![id], |r| {
                    r.get(0)
                })
                .optional()?;
            tx.execute("DELETE FROM files WHERE id = ?1", params![id])?;
            if let Some(digest) = digest {
                let users: i64 = tx.query_row(
                    "SELECT COUNT(*) FROM files WHERE digest = ?1",
                    params![digest],
                    |r| r.get(0),
                )?;
                if users == 0 && !unused.contains(&digest) {
                    unused.push(digest);
                }
            }
        }
        tx.commit()?;
        Ok(unused)
    }

    fn save_room(&mut self, room: &RoomRecord) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO rooms (room_key, name, topic, created_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(room_key) DO NOTHING",
            params![room.key, room.name, room.topic, room.created_ms],
        )?;
        Ok(())
    }

    fn set_topic(&mut self, room_key: &str, topic: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE rooms SET topic = ?2 WHERE room_key = ?1",
            params![room_key, topic],
        )?;
        Ok(())
    }

    fn last_id(&mut self) -> Result<u64, StoreError> {
        let id: Option<i64> = self
            .conn
            .query_row("SELECT MAX(id) FROM messages", [], |r| r.get(0))
            .optional()?
            .flatten();
        Ok(id.unwrap_or(0) as u64)
    }

    fn rooms(&mut self) -> Result<Vec<RoomRecord>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT r.room_key, r.name, r.topic, r.created_ms, COALESCE(c.last_seq, 0)
             FROM rooms r LEFT JOIN conversations c ON c.conv_key = r.room_key
             ORDER BY r.room_key",
        )?;
        let rooms = stmt
            .query_map([], |r| {
                Ok(RoomRecord {
                    key: r.get(0)?,
                    name: r.get(1)?,
                    topic: r.get(2)?,
                    created_ms: r.get(3)?,
                    last_seq: r.get::<_, i64>(4)? as u64,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rooms)
    }

    fn reassign_owner(&mut self, from: &str, to: &str) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "UPDATE messages SET sender_owner = ?2 WHERE sender_owner = ?1",
            params![from, to],
        )?;
        tx.execute(
            "UPDATE messages SET target_owner = ?2 WHERE target_owner = ?1",
            params![from, to],
        )?;
        tx.execute(
            "UPDATE OR IGNORE read_markers SET owner = ?2 WHERE owner = ?1",
            params![from, to],
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
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let newest = |sql: &str, bound: i64| {
            tx.query_row(sql, params![conversation, bound, owner], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
            })
            .optional()
        };
        let read = match at {
            None => None,
            Some(ReadAt::Seq(seq)) => newest(
                "SELECT seq, ts_ms FROM messages WHERE conv_key = ?1 AND seq <= ?2 AND (room_key IS NOT NULL
                 OR sender_owner = ?3 OR target_owner = ?3) ORDER BY seq DESC LIMIT 1",
                clamp(seq),
            )?,
            // The time as the client said it, and the newest message it covers (if any).
            Some(ReadAt::Time(ms)) => {
                let covered = newest(
                    "SELECT seq, ts_ms FROM messages WHERE conv_key = ?1 AND ts_ms <= ?2 AND (room_key IS NOT NULL
                     OR sender_owner = ?3 OR target_owner = ?3) ORDER BY seq DESC LIMIT 1",
                    ms,
                )?;
                Some((covered.map_or(0, |(seq, _)| seq), ms))
            }
        };
        if let Some((seq, ts_ms)) = read {
            tx.execute(
                "INSERT INTO read_markers (owner, conv_key, seq, ts_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (owner, conv_key) DO UPDATE SET seq = excluded.seq,
                 ts_ms = excluded.ts_ms WHERE excluded.seq > read_markers.seq
                 OR excluded.seq = read_markers.seq AND excluded.ts_ms > read_markers.ts_ms",
                params![owner, conversation, seq, ts_ms],
            )?;
        }
        let marker = tx
            .query_row(
                "SELECT seq, ts_ms FROM read_markers WHERE owner = ?1 AND conv_key = ?2",
                params![owner, conversation],
                |r| {
                    Ok(ReadMarkerRecord {
                        conversation: conversation.to_string(),
                        seq: r.get::<_, i64>(0)? as u64,
                        ts_ms: r.get(1)?,
                    })
                },
            )
            .optional()?;
        tx.commit()?;
        Ok(marker)
    }

    fn read_markers(&mut self, owner: &str) -> Result<Vec<ReadMarkerRecord>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT conv_key, seq, ts_ms FROM read_markers WHERE owner = ?1")?;
        let rows = stmt.query_map(params![owner], |r| {
            Ok(ReadMarkerRecord {
                conversation: r.get(0)?,
                seq: r.get::<_, i64>(1)? as u64,
                ts_ms: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::contract::{contract_tests, ids, newest, public, room, seqs};
    use crate::store::DirectSide;

    fn sqlite() -> Option<(tempfile::TempDir, impl Fn() -> Box<dyn Backend>)> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db").to_str().unwrap().to_string();
        let open = move || Box::new(SqliteBackend::open(&path).unwrap()) as Box<dyn Backend>;
        Some((dir, open))
    }

    contract_tests!(sqlite);

    #[test]
    fn version_1_databases_are_upgraded_with_owners_and_seqs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE messages (id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, room_key TEXT,
                   room TEXT, sender TEXT NOT NULL, sender_key TEXT NOT NULL, target TEXT,
                   target_key TEXT, dm_key TEXT, content TEXT NOT NULL);
                 CREATE INDEX messages_by_room ON messages(room_key, id) WHERE room_key IS NOT NULL;
                 CREATE TABLE rooms (room_key TEXT PRIMARY KEY, name TEXT NOT NULL,
                   topic TEXT NOT NULL DEFAULT '', created_ms INTEGER NOT NULL);
                 CREATE TABLE accounts (name_key TEXT PRIMARY KEY, name TEXT NOT NULL,
                   password TEXT NOT NULL, created_ms INTEGER NOT NULL);
                 INSERT INTO accounts VALUES ('alice', 'alice', 'x', 1500);
                 INSERT INTO rooms VALUES ('general', 'general', '', 1);
                 INSERT INTO messages VALUES (1, 1000, NULL, NULL, 'alice', 'alice', 'bob', 'bob', 'alice' || char(0) || 'bob', 'before alice registered');
                 INSERT INTO messages VALUES (2, 2000, NULL, NULL, 'bob', 'bob', 'alice', 'alice', 'alice' || char(0) || 'bob', 'after');
                 INSERT INTO messages VALUES (3, 2001, 'general', 'general', 'bob', 'bob', NULL, NULL, NULL, 'public 1');
                 INSERT INTO messages VALUES (4, 2002, 'general', 'general', 'bob', 'bob', NULL, NULL, NULL, 'public 2');
                 PRAGMA user_version = 1;",
            )
            .unwrap();
        }
        let mut db = SqliteBackend::open(path.to_str().unwrap()).unwrap();
        let alice = Conversation::Direct {
            me: DirectSide {
                key: "alice".into(),
                owner: "account:alice".into(),
            },
            other_key: "bob".into(),
        };
        let page = db.page(&alice, &newest(50)).unwrap();
        assert_eq!((ids(&page), seqs(&page)), (vec![2], vec![2]));
        let general = db.page(&room("general"), &newest(10)).unwrap();
        assert_eq!((ids(&general), seqs(&general)), (vec![3, 4], vec![1, 2]));
        assert_eq!(db.rooms().unwrap()[0].last_seq, 2);
        // New messages continue each conversation's numbering.
        let mut next = vec![public(5, "general", "carol", "public 3")];
        db.append(&mut next).unwrap();
        assert_eq!(next[0].seq, 3);
        let version: i64 = db
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        drop(db);
        // Opening again changes nothing; a newer schema is refused.
        drop(SqliteBackend::open(path.to_str().unwrap()).unwrap());
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let refused = SqliteBackend::open(path.to_str().unwrap()).err().unwrap();
        assert!(refused.to_string().contains("newer"), "{refused}");
    }
}
