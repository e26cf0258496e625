//! `palaver-server migrate --from palaver.db --to postgres://...`: moves a single node's SQLite
//! database to PostgreSQL, the path from one node to several.
//!
//! Everything is copied as it is: messages with their ids, seqs, timestamps and owners, each
//! conversation's counter, replies, reactions, read markers, edits and deletions, rooms and topics, accounts with their password hashes (no password
//! is ever seen), admins, moderators, bans, mutes and locks. The target must be empty (a half-copied or
//! already used database is refused rather than mixed). Messages go over in chunks, in id order,
//! with progress reported; at the end every table's rows are counted on both sides and any
//! difference is an error.

use postgres::{Client, NoTls};
use rusqlite::{params, Connection};

use super::postgres::{insert_messages, Columns};
use super::sqlite::{row_to_message, COLUMNS, ROWS};
use super::{StoreError, StoredMessage};

/// Messages copied per chunk (one transaction each on the target).
const CHUNK: usize = 5_000;

/// The tables compared at the end, in copy order.
const TABLES: [&str; 14] = [
    "rooms",
    "conversations",
    "messages",
    "accounts",
    "admins",
    "room_moderators",
    "bans",
    "mutes",
    "locked_rooms",
    "room_modes",
    "reactions",
    "read_markers",
    "files",
    "secrets",
];

/// How many rows each table had on both sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    pub counts: Vec<(&'static str, u64)>,
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the target database is not empty ({table} has {rows} rows): migrate into a new, empty database")]
    TargetNotEmpty { table: &'static str, rows: u64 },
    #[error("after copying, {table} has {in_sqlite} rows in the SQLite database but {in_postgres} on PostgreSQL")]
    CountsDiffer {
        table: &'static str,
        in_sqlite: u64,
        in_postgres: u64,
    },
    #[error("--to must be a postgres:// URL, and --from a SQLite file")]
    WrongKinds,
}

impl From<rusqlite::Error> for MigrateError {
    fn from(e: rusqlite::Error) -> Self {
        MigrateError::Store(e.into())
    }
}

impl From<postgres::Error> for MigrateError {
    fn from(e: postgres::Error) -> Self {
        MigrateError::Store(e.into())
    }
}

fn count_sqlite(conn: &Connection, table: &str) -> Result<u64, MigrateError> {
    let n: i64 = conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))?;
    Ok(n as u64)
}

fn count_postgres(client: &mut Client, table: &str) -> Result<u64, MigrateError> {
    let n: i64 = client
        .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])?
        .get(0);
    Ok(n as u64)
}

/// Copies `from` (a SQLite file) into `to` (an empty PostgreSQL database); `progress` is told
/// (messages copied, messages in all) after each chunk.
pub fn migrate(
    from: &str,
    to: &str,
    mut progress: impl FnMut(u64, u64),
) -> Result<Copied, MigrateError> {
    if super::is_postgres(from) || !super::is_postgres(to) {
        return Err(MigrateError::WrongKinds);
    }
    let from = from.strip_prefix("sqlite://").unwrap_or(from);
    // Both sides at the current schema (this upgrades an old SQLite file first).
    drop(super::sqlite::SqliteBackend::open(from)?);
    drop(super::account_rows::SqliteAccountRows::open(from)?);
    let source = Connection::open(from)?;
    let mut target = Client::connect(to, NoTls)?;
    super::postgres::migrate(&mut target)?;
    for table in TABLES {
        let rows = count_postgres(&mut target, table)?;
        if rows > 0 {
            return Err(MigrateError::TargetNotEmpty { table, rows });
        }
    }

    copy_small_tables(&source, &mut target)?;
    let total = count_sqlite(&source, "messages")?;
    let mut copied = 0u64;
    let mut after_id = i64::MIN;
    loop {
        let chunk = read_messages(&source, after_id)?;
        let Some(last) = chunk.last() else {
            break;
        };
        after_id = i64::try_from(last.id).unwrap_or(i64::MAX);
        let mut columns = Columns::default();
        for m in &chunk {
            columns.push(m, m.conversation_key());
        }
        let mut tx = target.transaction()?;
        insert_messages(&mut tx, &columns)?;
        tx.commit()?;
        copied += columns.len() as u64;
        progress(copied, total);
    }
    copy_file_bytes(from, &source, &mut target)?;
    // New messages on PostgreSQL draw their ids after the copied ones.
    let mut tx = target.transaction()?;
    super::postgres::catch_up_message_ids(&mut tx)?;
    tx.commit()?;

    let mut counts = Vec::new();
    for table in TABLES {
        let (s, t) = (
            count_sqlite(&source, table)?,
            count_postgres(&mut target, table)?,
        );
        if s != t {
            return Err(MigrateError::CountsDiffer {
                table,
                in_sqlite: s,
                in_postgres: t,
            });
        }
        counts.push((table, s));
    }
    Ok(Copied { counts })
}

/// Rooms, conversation counters, accounts and moderation: small, copied row by row in one
/// transaction.
fn copy_small_tables(source: &Connection, target: &mut Client) -> Result<(), MigrateError> {
    let mut tx = target.transaction()?;
    let mut stmt = source.prepare("SELECT room_key, name, topic, created_ms FROM rooms")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (key, name, topic, created): (String, String, String, i64) =
            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
        tx.execute(
            "INSERT INTO rooms (room_key, name, topic, created_ms) VALUES ($1, $2, $3, $4)",
            &[&key, &name, &topic, &created],
        )?;
    }
    let mut stmt = source.prepare("SELECT conv_key, last_seq FROM conversations")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (key, last): (String, i64) = (r.get(0)?, r.get(1)?);
        tx.execute(
            "INSERT INTO conversations (conv_key, last_seq) VALUES ($1, $2)",
            &[&key, &last],
        )?;
    }
    let mut stmt = source.prepare("SELECT name_key, name, password, created_ms FROM accounts")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (key, name, password, created): (String, String, String, i64) =
            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
        tx.execute(
            "INSERT INTO accounts (name_key, name, password, created_ms) VALUES ($1, $2, $3, $4)",
            &[&key, &name, &password, &created],
        )?;
    }
    let mut stmt = source.prepare("SELECT name_key FROM admins")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let key: String = r.get(0)?;
        tx.execute("INSERT INTO admins (name_key) VALUES ($1)", &[&key])?;
    }
    let mut stmt = source.prepare("SELECT room_key, name_key FROM room_moderators")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (room, key): (String, String) = (r.get(0)?, r.get(1)?);
        tx.execute(
            "INSERT INTO room_moderators (room_key, name_key) VALUES ($1, $2)",
            &[&room, &key],
        )?;
    }
    let mut stmt = source.prepare("SELECT kind, target, until_ms, reason, by_name FROM bans")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (kind, target, until, reason, by): (String, String, Option<i64>, String, String) =
            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
        tx.execute(
            "INSERT INTO bans (kind, target, until_ms, reason, by_name) VALUES ($1, $2, $3, $4, $5)",
            &[&kind, &target, &until, &reason, &by],
        )?;
    }
    let mut stmt = source.prepare("SELECT room_key, name_key, until_ms FROM mutes")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (room, key, until): (String, String, Option<i64>) = (r.get(0)?, r.get(1)?, r.get(2)?);
        tx.execute(
            "INSERT INTO mutes (room_key, name_key, until_ms) VALUES ($1, $2, $3)",
            &[&room, &key, &until],
        )?;
    }
    let mut stmt = source.prepare("SELECT room_key FROM locked_rooms")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let room: String = r.get(0)?;
        tx.execute("INSERT INTO locked_rooms (room_key) VALUES ($1)", &[&room])?;
    }
    let mut stmt = source.prepare("SELECT room_key, modes FROM room_modes")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (room, modes): (String, String) = (r.get(0)?, r.get(1)?);
        tx.execute(
            "INSERT INTO room_modes (room_key, modes) VALUES ($1, $2)",
            &[&room, &modes],
        )?;
    }
    let mut stmt =
        source.prepare("SELECT message_id, emoji, user_key, username, at_ms FROM reactions")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (id, emoji, key, name, at): (i64, String, String, String, i64) =
            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
        tx.execute(
            "INSERT INTO reactions (message_id, emoji, user_key, username, at_ms)
             VALUES ($1, $2, $3, $4, $5)",
            &[&id, &emoji, &key, &name, &at],
        )?;
    }
    let mut stmt = source.prepare("SELECT owner, conv_key, seq, ts_ms FROM read_markers")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (owner, conv, seq, at): (String, String, i64, i64) =
            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
        tx.execute(
            "INSERT INTO read_markers (owner, conv_key, seq, ts_ms) VALUES ($1, $2, $3, $4)",
            &[&owner, &conv, &seq, &at],
        )?;
    }
    let mut stmt = source.prepare(
        "SELECT id, digest, name, size, content_type, owner, uploader, created_ms, message_id, conv_key FROM files",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (id, digest, name, size, content_type): (String, String, String, i64, String) =
            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
        let (owner, uploader, created, message, conv): (
            String,
            String,
            i64,
            Option<i64>,
            Option<String>,
        ) = (r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?);
        tx.execute(
            "INSERT INTO files (id, digest, name, size, content_type, owner, uploader, created_ms, message_id, conv_key)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            &[&id, &digest, &name, &size, &content_type, &owner, &uploader, &created, &message, &conv],
        )?;
    }
    // The secret too: links handed out before the move keep working.
    let mut stmt = source.prepare("SELECT name, value FROM secrets")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (name, value): (String, String) = (r.get(0)?, r.get(1)?);
        tx.execute(
            "INSERT INTO secrets (name, value) VALUES ($1, $2)",
            &[&name, &value],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// Files' bytes, from the directory beside the SQLite file (`<file>.files`) into PostgreSQL's
/// `file_chunks`, where every node of a cluster reads them.
fn copy_file_bytes(
    from: &str,
    source: &Connection,
    target: &mut Client,
) -> Result<(), MigrateError> {
    let dir = std::path::PathBuf::from(format!("{from}.files"));
    let mut stmt = source.prepare("SELECT DISTINCT digest FROM files")?;
    let digests: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for digest in digests {
        let path = dir.join(&digest[..2.min(digest.len())]).join(&digest);
        let bytes = std::fs::read(&path).map_err(|e| {
            MigrateError::Store(StoreError::Pool(format!(
                "file bytes missing at {}: {e}",
                path.display()
            )))
        })?;
        let mut tx = target.transaction()?;
        for (n, chunk) in bytes.chunks(1 << 20).enumerate() {
            tx.execute(
                "INSERT INTO file_chunks (digest, n, data) VALUES ($1, $2, $3)",
                &[&digest, &(n as i32), &chunk],
            )?;
        }
        if bytes.is_empty() {
            tx.execute(
                "INSERT INTO file_chunks (digest, n, data) VALUES ($1, 0, $2)",
                &[&digest, &&b""[..]],
            )?;
        }
        tx.commit()?;
    }
    Ok(())
}

/// Up to [`CHUNK`] messages after `after_id`, in id order.
fn read_messages(source: &Connection, after_id: i64) -> Result<Vec<StoredMessage>, MigrateError> {
    let mut stmt = source.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM {ROWS} WHERE m.id > ?1 ORDER BY m.id LIMIT ?2"
    ))?;
    let messages = stmt
        .query_map(params![after_id, CHUNK as i64], row_to_message)?
        .map(|m| {
            m.map(|mut m| {
                // A NUL (allowed in early versions) cannot live in PostgreSQL text.
                m.content = m.content.replace('\0', "\u{FFFD}");
                m
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(messages)
}
