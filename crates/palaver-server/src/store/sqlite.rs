//! The embedded SQLite store: one file, WAL journal, durable commits.
//!
//! `synchronous=FULL` makes every commit wait for the WAL to reach the disk, so a message is
//! durable before the server acknowledges or broadcasts it. The writer's group commit is what
//! keeps that affordable: one fsync covers a whole batch.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{
    Backend, DirectSide, MessageKind, Page, ResumeScope, RoomRecord, StoreError, StoredMessage,
};

/// The schema version this build writes; a database with a newer one is refused.
pub const SCHEMA_VERSION: i64 = 2;

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
    target_owner TEXT
);
CREATE INDEX IF NOT EXISTS messages_by_room ON messages(room_key, id) WHERE room_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_by_dm ON messages(dm_key, id) WHERE dm_key IS NOT NULL;
CREATE TABLE IF NOT EXISTS rooms (
    room_key   TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    topic      TEXT NOT NULL DEFAULT '',
    created_ms INTEGER NOT NULL
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

const COLUMNS: &str = "id, ts_ms, room_key, room, sender, sender_key, target, target_key, content, sender_owner, target_owner";

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
        conn.execute_batch(SCHEMA)?;
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

/// The key a private conversation is filed under: both folded names, in order.
pub fn dm_key(a_key: &str, b_key: &str) -> String {
    if a_key <= b_key {
        format!("{a_key}\u{0}{b_key}")
    } else {
        format!("{b_key}\u{0}{a_key}")
    }
}

fn row_to_message(row: &Row<'_>) -> rusqlite::Result<StoredMessage> {
    let id: i64 = row.get(0)?;
    let room_key: Option<String> = row.get(2)?;
    let kind = match room_key {
        Some(room_key) => MessageKind::Public {
            room: row.get(3)?,
            room_key,
            username: row.get(4)?,
            username_key: row.get(5)?,
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
    Ok(StoredMessage {
        id: id as u64,
        ts_ms: row.get(1)?,
        content: row.get(8)?,
        kind,
    })
}

/// Turns a newest-first list fetched with one extra row into an oldest-first page.
fn page_from_newest_first(mut rows: Vec<StoredMessage>, limit: usize) -> Page {
    let has_more = rows.len() > limit;
    rows.truncate(limit);
    rows.reverse();
    Page {
        messages: rows,
        has_more,
    }
}

fn clamp_id(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}

impl Backend for SqliteBackend {
    fn append(&mut self, batch: &[StoredMessage]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO messages (id, ts_ms, room_key, room, sender, sender_key, target, target_key, dm_key, content, sender_owner, target_owner)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?;
            for m in batch {
                let id = clamp_id(m.id);
                match &m.kind {
                    MessageKind::Public {
                        room,
                        room_key,
                        username,
                        username_key,
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
                        None::<&str>,
                        None::<&str>
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
                        dm_key(sender_key, target_key),
                        m.content,
                        sender_owner,
                        target_owner
                    ])?,
                };
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn save_room(&mut self, room: &RoomRecord) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO rooms (room_key, name, topic, created_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(room_key) DO UPDATE SET topic = excluded.topic",
            params![room.key, room.name, room.topic, room.created_ms],
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
            "SELECT room_key, name, topic, created_ms FROM rooms ORDER BY room_key",
        )?;
        let rooms = stmt
            .query_map([], |r| {
                Ok(RoomRecord {
                    key: r.get(0)?,
                    name: r.get(1)?,
                    topic: r.get(2)?,
                    created_ms: r.get(3)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rooms)
    }

    fn room_page(&mut self, room_key: &str, before: u64, limit: usize) -> Result<Page, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM messages WHERE room_key = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3"
        ))?;
        let rows = stmt
            .query_map(
                params![room_key, clamp_id(before), limit as i64 + 1],
                row_to_message,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(page_from_newest_first(rows, limit))
    }

    fn direct_page(
        &mut self,
        me: &DirectSide,
        other_key: &str,
        before: u64,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM messages WHERE dm_key = ?1 AND id < ?2
             AND (sender_key = ?4 AND sender_owner = ?5 OR target_key = ?4 AND target_owner = ?5)
             ORDER BY id DESC LIMIT ?3"
        ))?;
        let rows = stmt
            .query_map(
                params![
                    dm_key(&me.key, other_key),
                    clamp_id(before),
                    limit as i64 + 1,
                    me.key,
                    me.owner
                ],
                row_to_message,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(page_from_newest_first(rows, limit))
    }

    fn reassign_owner(&mut self, from: &str, to: &str) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "UPDATE messages SET sender_owner = ?2 WHERE sender_owner = ?1",
            params![from, to],
        )?;
        tx.execute(
            "UPDATE messages SET target_owner = ?2 WHERE target_owner = ?1",
            params![from, to],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn missed(&mut self, scope: &ResumeScope) -> Result<Page, StoreError> {
        // Room keys are few (a user's rooms); inline them as parameters ?5.. .
        let placeholders: Vec<String> = (0..scope.room_keys.len())
            .map(|i| format!("?{}", i + 6))
            .collect();
        let room_clause = if placeholders.is_empty() {
            String::new()
        } else {
            format!("room_key IN ({}) OR ", placeholders.join(","))
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM messages WHERE id > ?1 AND id <= ?2
             AND ({room_clause}room_key IS NULL
                  AND (sender_key = ?3 AND sender_owner = ?5 OR target_key = ?3 AND target_owner = ?5))
             ORDER BY id ASC LIMIT ?4"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let mut values: Vec<rusqlite::types::Value> = vec![
            clamp_id(scope.since).into(),
            clamp_id(scope.upto).into(),
            scope.user_key.clone().into(),
            (scope.limit as i64 + 1).into(),
            scope.owner.clone().into(),
        ];
        values.extend(scope.room_keys.iter().map(|k| k.clone().into()));
        let mut rows = stmt
            .query_map(rusqlite::params_from_iter(values), row_to_message)?
            .collect::<Result<Vec<_>, _>>()?;
        let has_more = rows.len() > scope.limit;
        rows.truncate(scope.limit);
        Ok(Page {
            messages: rows,
            has_more,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(id: u64, room: &str, user: &str, text: &str) -> StoredMessage {
        StoredMessage {
            id,
            ts_ms: 1_000 + id as i64,
            content: text.into(),
            kind: MessageKind::Public {
                room: room.into(),
                room_key: room.to_lowercase(),
                username: user.into(),
                username_key: user.to_lowercase(),
            },
        }
    }

    /// A private message; each side's owner is `name#n` (the n-th holder of the name).
    fn private(id: u64, from: &str, to: &str, text: &str) -> StoredMessage {
        let side = |s: &str| match s.split_once('#') {
            Some((name, _)) => (name.to_string(), format!("guest:{s}")),
            None => (s.to_string(), format!("guest:{s}#1")),
        };
        let ((sender, sender_owner), (target, target_owner)) = (side(from), side(to));
        StoredMessage {
            id,
            ts_ms: 1_000 + id as i64,
            content: text.into(),
            kind: MessageKind::Private {
                sender_key: sender.to_lowercase(),
                sender,
                sender_owner,
                target_key: target.to_lowercase(),
                target,
                target_owner,
            },
        }
    }

    fn me(name: &str) -> DirectSide {
        let owner = if name.contains('#') {
            format!("guest:{name}")
        } else {
            format!("guest:{name}#1")
        };
        DirectSide {
            key: name.split('#').next().unwrap().to_lowercase(),
            owner,
        }
    }

    fn open_temp() -> (tempfile::TempDir, SqliteBackend) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let backend = SqliteBackend::open(path.to_str().unwrap()).unwrap();
        (dir, backend)
    }

    #[test]
    fn pages_backwards_oldest_first() {
        let (_dir, mut db) = open_temp();
        let batch: Vec<_> = (1..=10)
            .map(|i| public(i, "general", "alice", &format!("m{i}")))
            .collect();
        db.append(&batch).unwrap();
        db.append(&[public(11, "rust", "bob", "elsewhere")])
            .unwrap();
        assert_eq!(db.last_id().unwrap(), 11);

        let page = db.room_page("general", u64::MAX, 4).unwrap();
        let ids: Vec<u64> = page.messages.iter().map(|m| m.id).collect();
        assert_eq!(ids, vec![7, 8, 9, 10]);
        assert!(page.has_more);
        let page = db.room_page("general", 3, 4).unwrap();
        assert_eq!(
            page.messages.iter().map(|m| m.id).collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert!(!page.has_more);
        assert_eq!(page.messages[0], batch[0]);
    }

    #[test]
    fn private_history_belongs_to_its_two_parties() {
        let (_dir, mut db) = open_temp();
        db.append(&[
            private(1, "alice", "bob", "a->b"),
            private(2, "bob", "alice", "b->a"),
            private(3, "alice", "carol", "a->c"),
        ])
        .unwrap();
        let page = db.direct_page(&me("bob"), "alice", u64::MAX, 50).unwrap();
        assert_eq!(
            page.messages.iter().map(|m| m.id).collect::<Vec<_>>(),
            vec![1, 2]
        );
        let page = db.direct_page(&me("carol"), "bob", u64::MAX, 50).unwrap();
        assert!(page.messages.is_empty());
    }

    #[test]
    fn a_later_holder_of_a_name_sees_none_of_the_earlier_ones_private_history() {
        let (_dir, mut db) = open_temp();
        db.append(&[
            private(1, "alice", "bob", "to the first bob"),
            private(2, "bob", "alice", "from the first bob"),
            private(3, "bob", "carol", "first bob to carol"),
            private(4, "alice", "bob#2", "to the second bob"),
        ])
        .unwrap();
        let ids = |page: Page| page.messages.iter().map(|m| m.id).collect::<Vec<_>>();
        assert_eq!(
            ids(db.direct_page(&me("bob#2"), "alice", u64::MAX, 50).unwrap()),
            vec![4]
        );
        assert!(db
            .direct_page(&me("bob#2"), "carol", u64::MAX, 50)
            .unwrap()
            .messages
            .is_empty());
        assert_eq!(
            ids(db.direct_page(&me("bob"), "alice", u64::MAX, 50).unwrap()),
            vec![1, 2]
        );
        // alice was alice all along: she sees her conversations with both.
        assert_eq!(
            ids(db.direct_page(&me("alice"), "bob", u64::MAX, 50).unwrap()),
            vec![1, 2, 4]
        );
        let scope = |who: &str| ResumeScope {
            since: 0,
            upto: 10,
            room_keys: vec![],
            user_key: me(who).key,
            owner: me(who).owner,
            limit: 100,
        };
        assert_eq!(ids(db.missed(&scope("bob#2")).unwrap()), vec![4]);
        assert_eq!(ids(db.missed(&scope("bob")).unwrap()), vec![1, 2, 3]);
        // The first bob registers: his messages become the account's.
        db.reassign_owner("guest:bob#1", "account:bob").unwrap();
        let account = DirectSide {
            key: "bob".into(),
            owner: "account:bob".into(),
        };
        assert_eq!(
            ids(db.direct_page(&account, "alice", u64::MAX, 50).unwrap()),
            vec![1, 2]
        );
        assert!(db.missed(&scope("bob")).unwrap().messages.is_empty());
    }

    #[test]
    fn version_1_databases_are_upgraded_and_old_private_messages_kept_only_for_accounts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE messages (id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, room_key TEXT,
                   room TEXT, sender TEXT NOT NULL, sender_key TEXT NOT NULL, target TEXT,
                   target_key TEXT, dm_key TEXT, content TEXT NOT NULL);
                 CREATE TABLE accounts (name_key TEXT PRIMARY KEY, name TEXT NOT NULL,
                   password TEXT NOT NULL, created_ms INTEGER NOT NULL);
                 INSERT INTO accounts VALUES ('alice', 'alice', 'x', 1500);
                 INSERT INTO messages VALUES (1, 1000, NULL, NULL, 'alice', 'alice', 'bob', 'bob', 'alice' || char(0) || 'bob', 'before alice registered');
                 INSERT INTO messages VALUES (2, 2000, NULL, NULL, 'bob', 'bob', 'alice', 'alice', 'alice' || char(0) || 'bob', 'after');
                 INSERT INTO messages VALUES (3, 2001, 'general', 'general', 'bob', 'bob', NULL, NULL, NULL, 'public');
                 PRAGMA user_version = 1;",
            )
            .unwrap();
        }
        let mut db = SqliteBackend::open(path.to_str().unwrap()).unwrap();
        let alice = DirectSide {
            key: "alice".into(),
            owner: "account:alice".into(),
        };
        let page = db.direct_page(&alice, "bob", u64::MAX, 50).unwrap();
        assert_eq!(
            page.messages.iter().map(|m| m.id).collect::<Vec<_>>(),
            vec![2]
        );
        assert_eq!(
            db.room_page("general", u64::MAX, 10)
                .unwrap()
                .messages
                .len(),
            1
        );
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

    #[test]
    fn missed_messages_cover_my_rooms_and_my_private_messages_only() {
        let (_dir, mut db) = open_temp();
        db.append(&[
            public(1, "general", "x", "old"),
            public(2, "general", "x", "g"),
            public(3, "secret", "x", "not mine"),
            private(4, "bob", "alice", "to me"),
            private(5, "alice", "bob", "from me"),
            private(6, "bob", "carol", "not mine"),
            public(7, "general", "x", "too new"),
        ])
        .unwrap();
        let page = db
            .missed(&ResumeScope {
                since: 1,
                upto: 6,
                room_keys: vec!["general".into()],
                user_key: "alice".into(),
                owner: "guest:alice#1".into(),
                limit: 100,
            })
            .unwrap();
        assert_eq!(
            page.messages.iter().map(|m| m.id).collect::<Vec<_>>(),
            vec![2, 4, 5]
        );
        assert!(!page.has_more);
    }

    #[test]
    fn rooms_and_topics_persist() {
        let (dir, mut db) = open_temp();
        let mut room = RoomRecord {
            key: "rust".into(),
            name: "Rust".into(),
            topic: String::new(),
            created_ms: 5,
        };
        db.save_room(&room).unwrap();
        room.topic = "crabs".into();
        db.save_room(&room).unwrap();
        drop(db);
        let mut db = SqliteBackend::open(dir.path().join("t.db").to_str().unwrap()).unwrap();
        assert_eq!(db.rooms().unwrap(), vec![room]);
    }
}
