//! Where accounts, admins, room moderators and bans are kept: the rows behind
//! [`super::accounts::Accounts`], in the SQLite file or on the PostgreSQL server that holds the
//! history. Hashing and every rule live in `accounts.rs`; this is only storage.

use rusqlite::{params, Connection, OptionalExtension};

use super::postgres::BlockingClient;
use super::StoreError;
use crate::hub::moderation::{BanTarget, ModerationRecord};

/// A stored ban: kind (`name` or `address`), target, until (ms), reason, by whom.
pub type BanRow = (String, String, Option<i64>, String, String);

/// A stored mute: room key (`None`: everywhere), folded name, until (ms).
pub type MuteRow = (Option<String>, String, Option<i64>);

/// The storage operations of accounts and moderation.
pub trait AccountRows: Send {
    /// Whether the connection is known to be unusable (the database server closed it).
    fn is_broken(&self) -> bool {
        false
    }
    /// Replaces a connection the database server closed (it went away and came back).
    fn reconnect_if_broken(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Every registered name, as registered, by key.
    fn names(&mut self) -> Result<Vec<String>, StoreError>;
    fn add_admin(&mut self, key: &str) -> Result<(), StoreError>;
    fn admins(&mut self) -> Result<Vec<String>, StoreError>;
    /// (room key, name key) of every moderator.
    fn moderators(&mut self) -> Result<Vec<(String, String)>, StoreError>;
    fn bans(&mut self) -> Result<Vec<BanRow>, StoreError>;
    fn mutes(&mut self) -> Result<Vec<MuteRow>, StoreError>;
    /// Keys of the locked rooms.
    fn locked(&mut self) -> Result<Vec<String>, StoreError>;
    /// (room key, modes as JSON) of the rooms with modes.
    fn room_modes(&mut self) -> Result<Vec<(String, String)>, StoreError>;
    fn save_moderation(&mut self, record: &ModerationRecord) -> Result<(), StoreError>;
    /// The PHC string of an account's password.
    fn password(&mut self, key: &str) -> Result<Option<String>, StoreError>;
    /// Adds an account; false when the name is taken.
    fn insert(
        &mut self,
        key: &str,
        name: &str,
        hashed: &str,
        created_ms: i64,
    ) -> Result<bool, StoreError>;
    /// Replaces a password; false when there is no such account.
    fn set_password(&mut self, key: &str, hashed: &str) -> Result<bool, StoreError>;
}

/// A room's modes as stored: JSON.
fn modes_json(modes: &palaver_proto::room_modes::RoomModes) -> String {
    serde_json::to_string(modes).expect("modes serialize")
}

fn ban_target(t: &BanTarget) -> (&'static str, String) {
    match t {
        BanTarget::Name(n) => ("name", n.clone()),
        BanTarget::Address(ip) => ("address", ip.to_string()),
    }
}

const SQLITE_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS accounts (
    name_key   TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    password   TEXT NOT NULL,
    created_ms INTEGER NOT NULL
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
    until_ms INTEGER,
    reason   TEXT NOT NULL,
    by_name  TEXT NOT NULL,
    PRIMARY KEY (kind, target)
);
CREATE TABLE IF NOT EXISTS mutes (
    room_key TEXT NOT NULL,
    name_key TEXT NOT NULL,
    until_ms INTEGER,
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

/// A mute's room as stored: `''` for everywhere.
fn mute_room(room_key: &Option<String>) -> String {
    room_key.clone().unwrap_or_default()
}

fn mute_room_back(stored: String) -> Option<String> {
    (!stored.is_empty()).then_some(stored)
}

/// Accounts in the SQLite file.
pub struct SqliteAccountRows {
    conn: Connection,
}

impl SqliteAccountRows {
    pub fn open(path: &str) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch(SQLITE_SCHEMA)?;
        Ok(SqliteAccountRows { conn })
    }
}

impl AccountRows for SqliteAccountRows {
    fn names(&mut self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT name FROM accounts ORDER BY name_key")?;
        let names = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(names)
    }

    fn add_admin(&mut self, key: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR IGNORE INTO admins (name_key) VALUES (?1)",
            params![key],
        )?;
        Ok(())
    }

    fn admins(&mut self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT name_key FROM admins")?;
        let admins = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(admins)
    }

    fn moderators(&mut self) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT room_key, name_key FROM room_moderators")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn bans(&mut self) -> Result<Vec<BanRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT kind, target, until_ms, reason, by_name FROM bans")?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn mutes(&mut self) -> Result<Vec<MuteRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT room_key, name_key, until_ms FROM mutes")?;
        let rows = stmt
            .query_map([], |r| {
                Ok((mute_room_back(r.get(0)?), r.get(1)?, r.get(2)?))
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn locked(&mut self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT room_key FROM locked_rooms")?;
        let rows = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn room_modes(&mut self) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT room_key, modes FROM room_modes")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn save_moderation(&mut self, record: &ModerationRecord) -> Result<(), StoreError> {
        let conn = &self.conn;
        match record {
            ModerationRecord::Mute {
                room_key,
                name_key,
                until_ms,
            } => {
                conn.execute(
                    "INSERT OR REPLACE INTO mutes (room_key, name_key, until_ms) VALUES (?1, ?2, ?3)",
                    params![mute_room(room_key), name_key, until_ms],
                )?;
            }
            ModerationRecord::Unmute { room_key, name_key } => {
                conn.execute(
                    "DELETE FROM mutes WHERE room_key = ?1 AND name_key = ?2",
                    params![mute_room(room_key), name_key],
                )?;
            }
            ModerationRecord::Lock { room_key, locked } => {
                let sql = if *locked {
                    "INSERT OR IGNORE INTO locked_rooms (room_key) VALUES (?1)"
                } else {
                    "DELETE FROM locked_rooms WHERE room_key = ?1"
                };
                conn.execute(sql, params![room_key])?;
            }
            ModerationRecord::Ban(ban) => {
                let (kind, value) = ban_target(&ban.target);
                conn.execute(
                    "INSERT OR REPLACE INTO bans (kind, target, until_ms, reason, by_name)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![kind, value, ban.until_ms, ban.reason, ban.by],
                )?;
            }
            ModerationRecord::Unban(t) => {
                let (kind, value) = ban_target(t);
                conn.execute(
                    "DELETE FROM bans WHERE kind = ?1 AND target = ?2",
                    params![kind, value],
                )?;
            }
            ModerationRecord::Moderator {
                room_key,
                name_key,
                granted,
            } => {
                let sql = if *granted {
                    "INSERT OR IGNORE INTO room_moderators (room_key, name_key) VALUES (?1, ?2)"
                } else {
                    "DELETE FROM room_moderators WHERE room_key = ?1 AND name_key = ?2"
                };
                conn.execute(sql, params![room_key, name_key])?;
            }
            ModerationRecord::RoomModes { room_key, modes } => {
                if *modes == Default::default() {
                    conn.execute(
                        "DELETE FROM room_modes WHERE room_key = ?1",
                        params![room_key],
                    )?;
                } else {
                    conn.execute(
                        "INSERT OR REPLACE INTO room_modes (room_key, modes) VALUES (?1, ?2)",
                        params![room_key, modes_json(modes)],
                    )?;
                }
            }
            ModerationRecord::DeleteRoom { room_key } => {
                conn.execute(
                    "DELETE FROM room_modes WHERE room_key = ?1",
                    params![room_key],
                )?;
                conn.execute("DELETE FROM rooms WHERE room_key = ?1", params![room_key])?;
                conn.execute(
                    "DELETE FROM room_moderators WHERE room_key = ?1",
                    params![room_key],
                )?;
                conn.execute(
                    "DELETE FROM locked_rooms WHERE room_key = ?1",
                    params![room_key],
                )?;
            }
        }
        Ok(())
    }

    fn password(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        let stored = self
            .conn
            .query_row(
                "SELECT password FROM accounts WHERE name_key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()?;
        Ok(stored)
    }

    fn insert(
        &mut self,
        key: &str,
        name: &str,
        hashed: &str,
        created_ms: i64,
    ) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "INSERT INTO accounts (name_key, name, password, created_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(name_key) DO NOTHING",
            params![key, name, hashed, created_ms],
        )?;
        Ok(n == 1)
    }

    fn set_password(&mut self, key: &str, hashed: &str) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE accounts SET password = ?2 WHERE name_key = ?1",
            params![key, hashed],
        )?;
        Ok(n == 1)
    }
}

/// Accounts on the PostgreSQL server (tables created by `postgres.rs`'s migration).
pub struct PostgresAccountRows {
    client: BlockingClient,
    url: String,
}

impl PostgresAccountRows {
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let mut client = BlockingClient::connect(url)?;
        super::postgres::migrate(&mut client)?;
        Ok(PostgresAccountRows {
            client,
            url: url.to_string(),
        })
    }
}

impl AccountRows for PostgresAccountRows {
    fn is_broken(&self) -> bool {
        self.client.is_closed()
    }

    fn reconnect_if_broken(&mut self) -> Result<(), StoreError> {
        if self.client.is_closed() {
            self.client = BlockingClient::connect(&self.url)?;
        }
        Ok(())
    }

    fn names(&mut self) -> Result<Vec<String>, StoreError> {
        let rows = self
            .client
            .query("SELECT name FROM accounts ORDER BY name_key", &[])?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn add_admin(&mut self, key: &str) -> Result<(), StoreError> {
        self.client.execute(
            "INSERT INTO admins (name_key) VALUES ($1) ON CONFLICT DO NOTHING",
            &[&key],
        )?;
        Ok(())
    }

    fn admins(&mut self) -> Result<Vec<String>, StoreError> {
        let rows = self.client.query("SELECT name_key FROM admins", &[])?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn moderators(&mut self) -> Result<Vec<(String, String)>, StoreError> {
        let rows = self
            .client
            .query("SELECT room_key, name_key FROM room_moderators", &[])?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    fn bans(&mut self) -> Result<Vec<BanRow>, StoreError> {
        let rows = self.client.query(
            "SELECT kind, target, until_ms, reason, by_name FROM bans",
            &[],
        )?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
            .collect())
    }

    fn mutes(&mut self) -> Result<Vec<MuteRow>, StoreError> {
        let rows = self
            .client
            .query("SELECT room_key, name_key, until_ms FROM mutes", &[])?;
        Ok(rows
            .iter()
            .map(|r| (mute_room_back(r.get(0)), r.get(1), r.get(2)))
            .collect())
    }

    fn locked(&mut self) -> Result<Vec<String>, StoreError> {
        let rows = self
            .client
            .query("SELECT room_key FROM locked_rooms", &[])?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn room_modes(&mut self) -> Result<Vec<(String, String)>, StoreError> {
        let rows = self
            .client
            .query("SELECT room_key, modes FROM room_modes", &[])?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    fn save_moderation(&mut self, record: &ModerationRecord) -> Result<(), StoreError> {
        let client = &mut self.client;
        match record {
            ModerationRecord::Mute {
                room_key,
                name_key,
                until_ms,
            } => {
                client.execute(
                    "INSERT INTO mutes (room_key, name_key, until_ms) VALUES ($1, $2, $3)
                     ON CONFLICT (room_key, name_key) DO UPDATE SET until_ms = EXCLUDED.until_ms",
                    &[&mute_room(room_key), name_key, until_ms],
                )?;
            }
            ModerationRecord::Unmute { room_key, name_key } => {
                client.execute(
                    "DELETE FROM mutes WHERE room_key = $1 AND name_key = $2",
                    &[&mute_room(room_key), name_key],
                )?;
            }
            ModerationRecord::Lock { room_key, locked } => {
                let sql = if *locked {
                    "INSERT INTO locked_rooms (room_key) VALUES ($1) ON CONFLICT DO NOTHING"
                } else {
                    "DELETE FROM locked_rooms WHERE room_key = $1"
                };
                client.execute(sql, &[room_key])?;
            }
            ModerationRecord::Ban(ban) => {
                let (kind, value) = ban_target(&ban.target);
                client.execute(
                    "INSERT INTO bans (kind, target, until_ms, reason, by_name) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (kind, target) DO UPDATE SET until_ms = EXCLUDED.until_ms,
                       reason = EXCLUDED.reason, by_name = EXCLUDED.by_name",
                    &[&kind, &value, &ban.until_ms, &ban.reason, &ban.by],
                )?;
            }
            ModerationRecord::Unban(t) => {
                let (kind, value) = ban_target(t);
                client.execute(
                    "DELETE FROM bans WHERE kind = $1 AND target = $2",
                    &[&kind, &value],
                )?;
            }
            ModerationRecord::Moderator {
                room_key,
                name_key,
                granted,
            } => {
                let sql = if *granted {
                    "INSERT INTO room_moderators (room_key, name_key) VALUES ($1, $2) ON CONFLICT DO NOTHING"
                } else {
                    "DELETE FROM room_moderators WHERE room_key = $1 AND name_key = $2"
                };
                client.execute(sql, &[room_key, name_key])?;
            }
            ModerationRecord::RoomModes { room_key, modes } => {
                if *modes == Default::default() {
                    client.execute("DELETE FROM room_modes WHERE room_key = $1", &[room_key])?;
                } else {
                    client.execute(
                        "INSERT INTO room_modes (room_key, modes) VALUES ($1, $2)
                         ON CONFLICT (room_key) DO UPDATE SET modes = EXCLUDED.modes",
                        &[room_key, &modes_json(modes)],
                    )?;
                }
            }
            ModerationRecord::DeleteRoom { room_key } => {
                let mut tx = client.transaction()?;
                tx.execute("DELETE FROM room_modes WHERE room_key = $1", &[room_key])?;
                tx.execute("DELETE FROM rooms WHERE room_key = $1", &[room_key])?;
                tx.execute(
                    "DELETE FROM room_moderators WHERE room_key = $1",
                    &[room_key],
                )?;
                tx.execute("DELETE FROM locked_rooms WHERE room_key = $1", &[room_key])?;
                tx.commit()?;
            }
        }
        Ok(())
    }

    fn password(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        let row = self
            .client
            .query_opt("SELECT password FROM accounts WHERE name_key = $1", &[&key])?;
        Ok(row.map(|r| r.get(0)))
    }

    fn insert(
        &mut self,
        key: &str,
        name: &str,
        hashed: &str,
        created_ms: i64,
    ) -> Result<bool, StoreError> {
        let n = self.client.execute(
            "INSERT INTO accounts (name_key, name, password, created_ms) VALUES ($1, $2, $3, $4)
             ON CONFLICT (name_key) DO NOTHING",
            &[&key, &name, &hashed, &created_ms],
        )?;
        Ok(n == 1)
    }

    fn set_password(&mut self, key: &str, hashed: &str) -> Result<bool, StoreError> {
        let n = self.client.execute(
            "UPDATE accounts SET password = $2 WHERE name_key = $1",
            &[&key, &hashed],
        )?;
        Ok(n == 1)
    }
}
