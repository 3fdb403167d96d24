//! Share links, stored in `LIBRARY/shares.sqlite` (real data, unlike the search index: it is
//! never rebuilt from folders).
//!
//! A token is 192 random bits, URL-safe base64 (32 characters): only a valid token reveals
//! anything. Passwords are stored as argon2id PHC strings. Expiry and revocation are checked
//! on every request, so they take effect at once.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use argon2::password_hash::{phc::PasswordHash, PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use base64::Engine;
use rusqlite::{params, Connection, OptionalExtension};

use crate::feedback::{self, Comment, Feedback, Reaction};
use crate::ShareError;

#[derive(Clone, Debug, serde::Serialize, PartialEq)]
pub struct Share {
    pub token: String,
    pub recording_id: String,
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds; `None`: never.
    pub expires: Option<i64>,
    pub has_password: bool,
    pub no_download: bool,
    pub default_speed: f64,
    pub revoked: bool,
}

#[derive(Clone, Debug, Default)]
pub struct ShareOptions {
    pub password: Option<String>,
    pub expires_in: Option<Duration>,
    pub no_download: bool,
    pub default_speed: Option<f64>,
}

pub struct ShareStore {
    db: Mutex<Connection>,
}

/// Wrong passwords a client may make on a link before it has to wait.
const FREE_FAILURES: i64 = 5;
/// Wrong passwords on one link within an hour, from all clients, before it pauses.
const LINK_CEILING: i64 = 200;

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// 192 random bits, URL-safe. Never starting with `-`: a token is pasted into commands
/// (`reel unshare TOKEN`), where a leading hyphen reads as an option (drawn again: 1 in 64).
pub fn new_token() -> Result<String, ShareError> {
    loop {
        let mut b = [0u8; 24];
        getrandom::fill(&mut b).map_err(|e| ShareError::Internal(format!("no randomness: {e}")))?;
        let t = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        if !t.starts_with('-') {
            return Ok(t);
        }
    }
}

/// Parses `7d`, `12h`, `30m`, `90s` or a plain number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, ShareError> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().map_err(|_| ShareError::Invalid(format!("'{s}' is not a duration like 7d, 12h, 30m")))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        "w" => n * 7 * 86_400,
        _ => return Err(ShareError::Invalid(format!("'{s}' is not a duration like 7d, 12h, 30m"))),
    };
    if secs == 0 || secs > 10 * 365 * 86_400 {
        return Err(ShareError::Invalid(format!("'{s}' must be between 1 second and 10 years")));
    }
    Ok(Duration::from_secs(secs))
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Share> {
    Ok(Share {
        token: r.get(0)?,
        recording_id: r.get(1)?,
        created: r.get(2)?,
        expires: r.get(3)?,
        has_password: r.get::<_, Option<String>>(4)?.is_some(),
        no_download: r.get(5)?,
        default_speed: r.get(6)?,
        revoked: r.get(7)?,
    })
}

const COLS: &str = "token, recording_id, created, expires, password_hash, no_download, default_speed, revoked";
/// `SELECT {COLS} … WHERE token = ?1` as a constant, so it can be a cached statement.
const VALID_SQL: &str = "SELECT token, recording_id, created, expires, password_hash, no_download, default_speed, revoked FROM shares WHERE token = ?1";

impl ShareStore {
    pub fn open(library_root: &Path) -> Result<ShareStore, ShareError> {
        let p = library_root.join("shares.sqlite");
        let db = Connection::open(&p).map_err(|e| ShareError::Store(e.to_string()))?;
        db.busy_timeout(Duration::from_secs(10)).map_err(|e| ShareError::Store(e.to_string()))?;
        db.pragma_update(None, "journal_mode", "WAL").map_err(|e| ShareError::Store(e.to_string()))?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS shares(
                token TEXT PRIMARY KEY, recording_id TEXT NOT NULL, created INTEGER NOT NULL,
                expires INTEGER, password_hash TEXT, no_download INTEGER NOT NULL DEFAULT 0,
                default_speed REAL NOT NULL DEFAULT 1.0, revoked INTEGER NOT NULL DEFAULT 0);
             CREATE INDEX IF NOT EXISTS shares_recording ON shares(recording_id);",
        )
        .map_err(|e| ShareError::Store(e.to_string()))?;
        db.execute_batch(feedback::SCHEMA).map_err(|e| ShareError::Store(e.to_string()))?;
        // Wrong passwords per link and client address: kept on disk, so a restart does not
        // hand an attacker a fresh set of guesses.
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS password_failures(
                token TEXT NOT NULL, client TEXT NOT NULL, failures INTEGER NOT NULL, last INTEGER NOT NULL,
                PRIMARY KEY(token, client));
             CREATE TABLE IF NOT EXISTS password_events(token TEXT NOT NULL, client TEXT NOT NULL, at INTEGER NOT NULL);
             CREATE INDEX IF NOT EXISTS password_events_token ON password_events(token, at);",
        )
        .map_err(|e| ShareError::Store(e.to_string()))?;
        Ok(ShareStore { db: Mutex::new(db) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.db.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn create(&self, recording_id: &str, o: &ShareOptions) -> Result<Share, ShareError> {
        let speed = o.default_speed.unwrap_or(1.0);
        if !(0.5..=3.0).contains(&speed) {
            return Err(ShareError::Invalid(format!("--default-speed {speed}: use a speed from 0.5 to 3")));
        }
        let hash = match &o.password {
            Some(p) if p.is_empty() => return Err(ShareError::Invalid("an empty password protects nothing; leave --password out instead".into())),
            Some(p) => Some(Argon2::default().hash_password(p.as_bytes()).map_err(|e| ShareError::Internal(e.to_string()))?.to_string()),
            None => None,
        };
        let token = new_token()?;
        let created = now();
        let expires = o.expires_in.map(|d| created + d.as_secs() as i64);
        self.lock()
            .execute(
                "INSERT INTO shares(token, recording_id, created, expires, password_hash, no_download, default_speed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![token, recording_id, created, expires, hash, o.no_download, speed],
            )
            .map_err(|e| ShareError::Store(e.to_string()))?;
        Ok(Share { token, recording_id: recording_id.into(), created, expires, has_password: hash.is_some(), no_download: o.no_download, default_speed: speed, revoked: false })
    }

    /// A share that may be served now: exists, not revoked, not expired.
    pub fn valid(&self, token: &str) -> Option<Share> {
        if token.len() != 32 || !token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return None;
        }
        // Asked on every media range: the statement is prepared once per connection, and the
        // row read fresh each time so revocation and expiry act at once.
        let db = self.lock();
        let s = db.prepare_cached(VALID_SQL).ok()?.query_row(params![token], row).optional().ok().flatten()?;
        drop(db);
        let live = !s.revoked && s.expires.is_none_or(|e| e > now());
        live.then_some(s)
    }

    /// Takes one password attempt for `client` on `token`, or says how many seconds it must
    /// wait first. Only failures count: five are free, then the wait doubles from a minute up
    /// to an hour. The attempt is counted as a failure before the password is checked (and
    /// taken back by [`ShareStore::password_passed`]), in one transaction, so requests sent
    /// all at once cannot all slip past the check. A link with `LINK_CEILING` failures within
    /// the last hour from everywhere slows down: clients that already failed wait until the
    /// hour has passed, new ones get one try a second between them all.
    pub fn password_attempt(&self, token: &str, client: &str) -> Result<(), i64> {
        let mut db = self.lock();
        let now = now();
        let Ok(tx) = db.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) else { return Err(1) };
        let mine: Option<(i64, i64)> = tx
            .query_row("SELECT failures, last FROM password_failures WHERE token = ?1 AND client = ?2", params![token, client], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .ok()
            .flatten();
        let own = match mine {
            Some((n, last)) if n >= FREE_FAILURES => {
                let backoff = (60i64 << (n - FREE_FAILURES).min(6)).min(3600);
                (last + backoff - now).max(0)
            }
            _ => 0,
        };
        let _ = tx.execute("DELETE FROM password_events WHERE at <= ?1", params![now - 3600]);
        let (recent, first, latest): (i64, Option<i64>, Option<i64>) = tx
            .query_row("SELECT COUNT(*), MIN(at), MAX(at) FROM password_events WHERE token = ?1", params![token], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap_or((0, None, None));
        let link = if recent < LINK_CEILING {
            0
        } else if mine.is_some() {
            first.map(|f| (f + 3600 - now).max(1)).unwrap_or(60)
        } else if latest.is_some_and(|l| l >= now) {
            1
        } else {
            0
        };
        let wait = own.max(link);
        if wait > 0 {
            return Err(wait);
        }
        let counted = tx
            .execute(
                "INSERT INTO password_failures(token, client, failures, last) VALUES (?1, ?2, 1, ?3)
                 ON CONFLICT(token, client) DO UPDATE SET failures = failures + 1, last = excluded.last",
                params![token, client, now],
            )
            .and_then(|_| tx.execute("INSERT INTO password_events(token, client, at) VALUES (?1, ?2, ?3)", params![token, client, now]));
        match counted.and_then(|_| tx.commit()) {
            Ok(()) => Ok(()),
            Err(_) => Err(1),
        }
    }

    /// The right password from `client`: its count starts again, and the attempt taken for it
    /// no longer counts against the link.
    pub fn password_passed(&self, token: &str, client: &str) {
        let db = self.lock();
        let _ = db.execute("DELETE FROM password_failures WHERE token = ?1 AND client = ?2", params![token, client]);
        let _ = db.execute("DELETE FROM password_events WHERE rowid = (SELECT MAX(rowid) FROM password_events WHERE token = ?1 AND client = ?2)", params![token, client]);
    }

    pub fn check_password(&self, token: &str, password: &str) -> bool {
        let hash: Option<String> = self.lock().query_row("SELECT password_hash FROM shares WHERE token = ?1", params![token], |r| r.get(0)).optional().ok().flatten().flatten();
        match hash {
            Some(h) => PasswordHash::new(&h).is_ok_and(|ph| Argon2::default().verify_password(password.as_bytes(), &ph).is_ok()),
            None => true,
        }
    }

    /// Revokes one token, or every share of a recording. Returns how many.
    pub fn revoke(&self, id_or_token: &str) -> Result<usize, ShareError> {
        self.lock()
            .execute("UPDATE shares SET revoked = 1 WHERE (token = ?1 OR recording_id = ?1) AND revoked = 0", params![id_or_token])
            .map_err(|e| ShareError::Store(e.to_string()))
    }

    /// A viewer's comment at `at_s` through `share` (checked: moment inside `duration_s`,
    /// length, no control characters).
    pub fn comment(&self, share: &Share, at_s: f64, duration_s: f64, name: &str, body: &str) -> Result<Comment, ShareError> {
        feedback::add_comment(&self.lock(), &share.recording_id, &share.token, at_s, duration_s, name, body, now())
    }

    pub fn react(&self, share: &Share, at_s: f64, duration_s: f64, emoji: &str) -> Result<Reaction, ShareError> {
        feedback::add_reaction(&self.lock(), &share.recording_id, &share.token, at_s, duration_s, emoji, now())
    }

    /// Counts one browser's view; returns the unique views of the recording.
    pub fn view(&self, share: &Share, viewer: &str) -> Result<u64, ShareError> {
        feedback::add_view(&self.lock(), &share.recording_id, viewer, now())
    }

    /// Comments, reactions and views of a recording, from every link to it.
    pub fn feedback(&self, recording_id: &str) -> Result<Feedback, ShareError> {
        feedback::feedback(&self.lock(), recording_id)
    }

    pub fn list(&self) -> Result<Vec<Share>, ShareError> {
        let db = self.lock();
        let mut st = db.prepare(&format!("SELECT {COLS} FROM shares ORDER BY created DESC")).map_err(|e| ShareError::Store(e.to_string()))?;
        let rows = st.query_map([], row).map_err(|e| ShareError::Store(e.to_string()))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| ShareError::Store(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regression_tokens_never_start_with_a_hyphen() {
        // `reel unshare -dX…` was parsed as an option (a CI run hit it: 1 token in 64).
        for _ in 0..5000 {
            let t = new_token().unwrap();
            assert!(!t.starts_with('-') && t.len() == 32, "{t}");
        }
    }

    #[test]
    fn tokens_passwords_expiry_revocation() {
        let d = tempfile::tempdir().unwrap();
        let st = ShareStore::open(d.path()).unwrap();
        let a = st.create("rec1", &ShareOptions::default()).unwrap();
        assert!(VALID_SQL.starts_with(&format!("SELECT {COLS} FROM")), "VALID_SQL reads the columns row() expects");
        assert_eq!(a.token.len(), 32);
        assert_ne!(a.token, st.create("rec1", &ShareOptions::default()).unwrap().token);
        assert!(st.valid(&a.token).is_some());
        assert!(st.valid("not-a-token").is_none());
        assert!(st.valid("../../../../etc/passwd__________").is_none());
        let p = st.create("rec2", &ShareOptions { password: Some("s3cret".into()), ..Default::default() }).unwrap();
        assert!(p.has_password);
        assert!(st.check_password(&p.token, "s3cret"));
        assert!(!st.check_password(&p.token, "guess"));
        let e = st.create("rec3", &ShareOptions { expires_in: Some(Duration::from_secs(1)), ..Default::default() }).unwrap();
        assert!(st.valid(&e.token).is_some());
        std::thread::sleep(Duration::from_millis(2100));
        assert!(st.valid(&e.token).is_none(), "expired");
        assert_eq!(st.revoke("rec1").unwrap(), 2);
        assert!(st.valid(&a.token).is_none(), "revoked at once");
        assert!(st.create("r", &ShareOptions { default_speed: Some(9.0), ..Default::default() }).is_err());
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(7 * 86_400));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("0s").is_err());
    }
}
