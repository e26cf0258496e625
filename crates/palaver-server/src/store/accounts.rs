//! Accounts: registered names and their passwords, where the history is kept (the SQLite file
//! or the PostgreSQL server; the rows are `account_rows.rs`'s).
//!
//! Passwords are hashed with argon2id (RustCrypto's `argon2`, its default OWASP parameters:
//! 19 MiB, 2 passes) with a random salt per account, and only the PHC string is stored; a
//! password is never logged or kept. Checking a password for a name that has no account costs
//! the same hash, so timing does not tell which names are registered.
//!
//! Hashing and checking are slow on purpose: they are called only from the password threads
//! (`crate::passwords`), which also decide how often anyone may try.

use std::sync::Mutex;

use std::cell::RefCell;

use argon2::password_hash::{self, Output, ParamsString, PasswordHash, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use palaver_proto::ErrorCode;

use super::account_rows::{AccountRows, PostgresAccountRows, SqliteAccountRows};
use super::StoreError;
use crate::hub::moderation::{Ban, BanTarget, ModerationRecord, ModerationState};

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password accepted, in bytes.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// What a password is checked against when the name has no account, so that the answer takes
/// as long as for a real account (argon2id with the default parameters; no one knows a password
/// for it).
const DECOY: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$/WXQelHxQ9y+1S9is+8T3A$0uexrQB6N2Lib/5KpNK2OmecYhgyWevbYpGTFU8dRp8";

pub struct Accounts {
    rows: Mutex<Box<dyn AccountRows>>,
}

/// Checks a new password against the rules.
pub fn password_acceptable(password: &str, min_chars: usize) -> Result<(), (ErrorCode, String)> {
    if password.chars().count() < min_chars {
        return Err((
            ErrorCode::WeakPassword,
            format!("Passwords must be at least {min_chars} characters."),
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err((
            ErrorCode::WeakPassword,
            format!("Passwords may be at most {MAX_PASSWORD_BYTES} bytes."),
        ));
    }
    Ok(())
}

thread_local! {
    /// This thread's argon2 working memory (19 MiB), kept from one hash to the next. Only the
    /// few password threads hash, so this is a fixed `threads × 19 MiB`, allocated once: freeing
    /// and allocating 19 MiB per hash fragments the allocator's heaps (60 registrations left
    /// 168 MB resident when each hash allocated its own; 31 MB with this).
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// The argon2 output for `password` and `salt`, computed in this thread's memory.
fn compute(argon2: &Argon2<'_>, password: &[u8], salt: Salt<'_>) -> password_hash::Result<Output> {
    let mut salt_bytes = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_bytes)?;
    let len = argon2
        .params()
        .output_len()
        .unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let need = argon2.params().block_count();
    BLOCKS.with_borrow_mut(|blocks| {
        if blocks.len() < need {
            blocks.resize(need, Block::default());
        }
        Output::init_with(len, |out| {
            argon2
                .hash_password_into_with_memory(password, salt, out, &mut blocks[..need])
                .map_err(|_| password_hash::Error::Crypto)
        })
    })
}

/// A new PHC string (argon2id, the default parameters, a random salt) for `password`.
fn hash(password: &str) -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system's random number generator works");
    let salt = SaltString::encode_b64(&bytes).expect("16 bytes make a valid salt");
    let argon2 = Argon2::default();
    let output = compute(&argon2, password.as_bytes(), salt.as_salt())
        .expect("argon2 with default parameters hashes any input");
    PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params()).expect("default parameters format"),
        salt: Some(salt.as_salt()),
        hash: Some(output),
    }
    .to_string()
}

/// Whether `password` matches a stored PHC string (compared in constant time).
fn matches(stored: &str, password: &str) -> bool {
    let Ok(phc) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (phc.salt, phc.hash) else {
        return false;
    };
    let algorithm = Algorithm::try_from(phc.algorithm);
    let version = phc
        .version
        .map_or(Ok(Version::default()), Version::try_from);
    let (Ok(algorithm), Ok(version), Ok(params)) = (algorithm, version, Params::try_from(&phc))
    else {
        return false;
    };
    let argon2 = Argon2::new(algorithm, version, params);
    compute(&argon2, password.as_bytes(), salt).is_ok_and(|computed| computed == expected)
}

impl Accounts {
    /// The accounts kept where `database` (a SQLite path or a `postgres://` URL) keeps history.
    pub fn open(database: &str) -> Result<Accounts, StoreError> {
        let rows: Box<dyn AccountRows> = if super::is_postgres(database) {
            Box::new(PostgresAccountRows::open(database)?)
        } else {
            let path = database.strip_prefix("sqlite://").unwrap_or(database);
            Box::new(SqliteAccountRows::open(path)?)
        };
        Ok(Accounts {
            rows: Mutex::new(rows),
        })
    }

    fn rows(&self) -> std::sync::MutexGuard<'_, Box<dyn AccountRows>> {
        let mut rows = self.rows.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = rows.reconnect_if_broken() {
            // The call that follows fails and says so.
            tracing::warn!(error = %e, "the accounts database is out of reach");
        }
        rows
    }

    /// Runs `op` on the rows; when it failed because the connection turned out to be dead (the
    /// database went away and came back while it was idle), once more on a new connection.
    fn with<T>(
        &self,
        op: impl Fn(&mut dyn AccountRows) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut rows = self.rows();
        match op(rows.as_mut()) {
            Err(_) if rows.is_broken() => {
                rows.reconnect_if_broken()?;
                op(rows.as_mut())
            }
            done => done,
        }
    }

    /// Every registered name, as registered.
    pub fn names(&self) -> Result<Vec<String>, StoreError> {
        self.with(|r| r.names())
    }

    /// Makes `name` an admin (it takes effect once they log in to that account).
    pub fn add_admin(&self, name: &str) -> Result<(), StoreError> {
        self.with(|r| r.add_admin(&palaver_proto::validate::fold(name)))
    }

    /// Admins, moderators and bans, for the hub at startup.
    pub fn load_moderation(&self) -> Result<ModerationState, StoreError> {
        let mut rows = self.rows();
        let bans = rows
            .bans()?
            .into_iter()
            .filter_map(|(kind, target, until_ms, reason, by)| {
                let target = match kind.as_str() {
                    "name" => BanTarget::Name(target),
                    _ => BanTarget::Address(target.parse().ok()?),
                };
                Some(Ban {
                    target,
                    until_ms,
                    reason,
                    by,
                })
            })
            .collect();
        Ok(ModerationState {
            admins: rows.admins()?,
            moderators: rows.moderators()?,
            bans,
            mutes: rows.mutes()?,
            locked: rows.locked()?,
            room_modes: rows
                .room_modes()?
                .into_iter()
                .filter_map(|(room, json)| match serde_json::from_str(&json) {
                    Ok(modes) => Some((room, modes)),
                    Err(e) => {
                        tracing::warn!(%room, error = %e, "unreadable room modes skipped");
                        None
                    }
                })
                .collect(),
        })
    }

    /// Writes one moderation change.
    pub fn save_moderation(&self, record: &ModerationRecord) -> Result<(), StoreError> {
        self.with(|r| r.save_moderation(record))
    }

    /// True when `key` has an account and `password` is its password (slow: call it off the
    /// hub's task).
    pub fn verify(&self, key: &str, password: &str) -> bool {
        let stored = self.with(|r| r.password(key)).unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot read an account");
            None
        });
        match stored {
            Some(stored) => matches(&stored, password),
            None => {
                let _ = matches(DECOY, password);
                false
            }
        }
    }

    /// Registers `name` (folded `key`) with a password (slow).
    pub fn create(&self, key: &str, name: &str, password: &str) -> Result<(), ErrorCode> {
        let hashed = hash(password);
        let now = palaver_proto::timestamp::now_millis();
        match self.with(|r| r.insert(key, name, &hashed, now)) {
            Ok(true) => Ok(()),
            Ok(false) => Err(ErrorCode::AlreadyRegistered),
            Err(e) => {
                tracing::error!(error = %e, "cannot store an account");
                Err(ErrorCode::StorageFailed)
            }
        }
    }

    /// Changes a password after checking the old one (slow).
    pub fn change(&self, key: &str, old: &str, new: &str) -> Result<(), ErrorCode> {
        if !self.verify(key, old) {
            return Err(ErrorCode::InvalidCredentials);
        }
        let hashed = hash(new);
        match self.with(|r| r.set_password(key, &hashed)) {
            Ok(true) => Ok(()),
            Ok(false) => Err(ErrorCode::InvalidCredentials),
            Err(e) => {
                tracing::error!(error = %e, "cannot change a password");
                Err(ErrorCode::StorageFailed)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hashed_verified_and_changed() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("a.db");
        let accounts = Accounts::open(db.to_str().unwrap()).unwrap();
        accounts.create("alice", "Alice", "correct horse").unwrap();
        assert_eq!(
            accounts.create("alice", "ALICE", "other password"),
            Err(ErrorCode::AlreadyRegistered)
        );
        assert!(accounts.verify("alice", "correct horse"));
        assert!(!accounts.verify("alice", "wrong horse"));
        assert!(!accounts.verify("nobody", "correct horse"));
        let stored: String = accounts.rows().password("alice").unwrap().unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(!stored.contains("correct horse"));
        assert_eq!(
            accounts.change("alice", "wrong", "battery staple"),
            Err(ErrorCode::InvalidCredentials)
        );
        accounts
            .change("alice", "correct horse", "battery staple")
            .unwrap();
        assert!(accounts.verify("alice", "battery staple"));
        assert_eq!(accounts.names().unwrap(), vec!["Alice".to_string()]);
    }

    #[test]
    fn hashes_are_standard_phc_strings_both_ways() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let ours = hash("correct horse");
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default()
            .verify_password(b"correct horse", &parsed)
            .is_ok());
        assert!(Argon2::default()
            .verify_password(b"wrong horse", &parsed)
            .is_err());
        let salt = SaltString::encode_b64(b"sixteen bytes!!!").unwrap();
        let theirs = Argon2::default()
            .hash_password(b"battery staple", &salt)
            .unwrap()
            .to_string();
        assert!(matches(&theirs, "battery staple"));
        assert!(!matches(&theirs, "battery stapler"));
        assert!(!matches("not a hash", "battery staple"));
        assert_eq!(
            PasswordHash::new(DECOY).unwrap().params,
            ParamsString::try_from(Argon2::default().params()).unwrap(),
            "the decoy costs what a real check costs"
        );
        // Other parameters (smaller memory) verify in the same thread's memory.
        let small = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(1024, 1, 1, None).unwrap(),
        )
        .hash_password(b"tiny", &salt)
        .unwrap()
        .to_string();
        assert!(matches(&small, "tiny"));
        assert_ne!(hash("same"), hash("same"), "a fresh salt every time");
    }
}
