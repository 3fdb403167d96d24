//! Share links, stored in `LIBRARY/shares.sqlite` (real data, unlike the search index: it is
//! never rebuilt from folders).
//!
//! A token is 192 random bits, URL-safe base64 (32 characters): only a valid token reveals
//! anything. The store keeps only each token's SHA-256 (the link's `id`), never the token: a
//! copied `shares.sqlite` (a backup, a synced folder) opens no link. A link is therefore shown
//! whole once, when it is made; afterwards the creator names it by the first 12 characters of
//! its id (`reel shares`, `reel unshare`). The file is owner-only (0600). Passwords are stored
//! as argon2id PHC strings. Expiry and revocation are checked on every request, so they take
//! effect at once.
//!
//! Serving reads through a few read-only connections with a short busy timeout (WAL: readers
//! never wait for a writer such as a concurrent `reel share`), and writes through one
//! connection, so a slow write never holds up the media path.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use argon2::password_hash::{phc::PasswordHash, PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use base64::Engine;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use sha2::Digest;

use crate::feedback::{self, Comment, Feedback, Reaction};
use crate::ShareError;

#[derive(Clone, Debug, serde::Serialize, PartialEq)]
pub struct Share {
    /// The link's id: the SHA-256 of its token, hex. What the store keeps.
    pub id: String,
    /// The secret in the URL: known only when the link was just made, or when a viewer
    /// reached it through it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
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

impl Share {
    /// How the creator names the link (`reel shares`, `reel unshare`): the id's first 12
    /// hex digits.
    pub fn short_id(&self) -> &str {
        &self.id[..SHORT_ID.min(self.id.len())]
    }
}

/// Hex digits of a link id shown to the creator (48 bits: unique among any number of links a
/// person makes, and checked when used).
pub const SHORT_ID: usize = 12;

/// The shortest password a link accepts: a share page can be guessed at from anywhere, and
/// the backoff only slows guessing down.
pub const MIN_PASSWORD_CHARS: usize = 8;

#[derive(Clone, Debug, Default)]
pub struct ShareOptions {
    pub password: Option<String>,
    pub expires_in: Option<Duration>,
    pub no_download: bool,
    pub default_speed: Option<f64>,
}

pub struct ShareStore {
    /// Read-only connections for the serving path, taken round-robin. Declared before the
    /// writer so they close first: the last connection to close checkpoints the WAL, and a
    /// read-only one cannot.
    readers: Vec<Mutex<Connection>>,
    /// Every write, and the password attempts (one transaction each).
    db: Mutex<Connection>,
    next_reader: std::sync::atomic::AtomicUsize,
    /// A connection of its own and the links version it last read ([`ShareStore::changed`]).
    watch: Mutex<Option<(Connection, i64)>>,
    path: std::path::PathBuf,
}

/// Why a password attempt cannot be taken now.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Attempt {
    /// Too many wrong ones: wait this many seconds.
    Wait(i64),
    /// The store did not answer in time: try again in a moment (not counted).
    Busy,
}

/// Wrong passwords a client may make on a link before it has to wait.
const FREE_FAILURES: i64 = 5;
/// Wrong passwords on one link within an hour, from all clients, before it pauses.
const LINK_CEILING: i64 = 200;

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn store_err(e: rusqlite::Error) -> ShareError {
    ShareError::Store(e.to_string())
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

/// What the store keeps of a token: its SHA-256, hex. A plain hash is enough: the token is
/// 192 random bits, so there is nothing to guess from it.
pub fn link_id(token: &str) -> String {
    sha2::Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn is_token(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Parses `7d`, `12h`, `30m`, `90s` or a plain number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, ShareError> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().map_err(|_| ShareError::Invalid(format!("'{s}' is not a duration like 7d, 12h, 30m")))?;
    let per = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(ShareError::Invalid(format!("'{s}' is not a duration like 7d, 12h, 30m"))),
    };
    let secs = n.saturating_mul(per);
    if secs == 0 || secs > 10 * 365 * 86_400 {
        return Err(ShareError::Invalid(format!("'{s}' must be between 1 second and 10 years")));
    }
    Ok(Duration::from_secs(secs))
}

/// Checks a password a creator chose: not empty, at least [`MIN_PASSWORD_CHARS`] characters.
pub fn check_new_password(p: &str) -> Result<(), ShareError> {
    if p.is_empty() {
        return Err(ShareError::Invalid("an empty password protects nothing; leave the password out instead".into()));
    }
    if p.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ShareError::Invalid(format!(
            "the password is shorter than {MIN_PASSWORD_CHARS} characters: anyone who finds the link could guess it; choose a longer one (a few words work well)"
        )));
    }
    Ok(())
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Share> {
    Ok(Share {
        id: r.get(0)?,
        token: None,
        recording_id: r.get(1)?,
        created: r.get(2)?,
        expires: r.get(3)?,
        has_password: r.get::<_, Option<String>>(4)?.is_some(),
        no_download: r.get(5)?,
        default_speed: r.get(6)?,
        revoked: r.get(7)?,
    })
}

const COLS: &str = "id, recording_id, created, expires, password_hash, no_download, default_speed, revoked";
/// `SELECT {COLS} … WHERE id = ?1` as a constant, so it can be a cached statement.
const VALID_SQL: &str = "SELECT id, recording_id, created, expires, password_hash, no_download, default_speed, revoked FROM links WHERE id = ?1";

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS links(
        id TEXT PRIMARY KEY, recording_id TEXT NOT NULL, created INTEGER NOT NULL,
        expires INTEGER, password_hash TEXT, no_download INTEGER NOT NULL DEFAULT 0,
        default_speed REAL NOT NULL DEFAULT 1.0, revoked INTEGER NOT NULL DEFAULT 0);
    CREATE INDEX IF NOT EXISTS links_recording ON links(recording_id);
    -- Wrong passwords per link and client address: kept on disk, so a restart does not hand
    -- an attacker a fresh set of guesses.
    CREATE TABLE IF NOT EXISTS password_failures(
        link TEXT NOT NULL, client TEXT NOT NULL, failures INTEGER NOT NULL, last INTEGER NOT NULL,
        PRIMARY KEY(link, client));
    CREATE TABLE IF NOT EXISTS password_events(link TEXT NOT NULL, client TEXT NOT NULL, at INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS password_events_link ON password_events(link, at);
    -- A counter of changes to links alone (made, revoked, expiry): what a server's watcher
    -- asks, so viewers' own writes (views, comments) do not look like a revocation.
    CREATE TABLE IF NOT EXISTS links_version(v INTEGER NOT NULL);
    INSERT INTO links_version(v) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM links_version);
    CREATE TRIGGER IF NOT EXISTS links_version_insert AFTER INSERT ON links BEGIN UPDATE links_version SET v = v + 1; END;
    CREATE TRIGGER IF NOT EXISTS links_version_update AFTER UPDATE ON links BEGIN UPDATE links_version SET v = v + 1; END;
    CREATE TRIGGER IF NOT EXISTS links_version_delete AFTER DELETE ON links BEGIN UPDATE links_version SET v = v + 1; END;";

fn has_table(db: &Connection, table: &str) -> rusqlite::Result<bool> {
    db.query_row("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1", params![table], |r| r.get::<_, i64>(0)).map(|n| n > 0)
}

fn has_column(db: &Connection, table: &str, column: &str) -> rusqlite::Result<bool> {
    db.query_row("SELECT COUNT(*) FROM pragma_table_info(?1) WHERE name = ?2", params![table, column], |r| r.get::<_, i64>(0)).map(|n| n > 0)
}

/// Stores made before tokens were hashed (a `shares` table with the tokens themselves): each
/// link moves to `links` under its token's hash, with its comments, reactions and password
/// counters, in one transaction (a crash leaves the old store whole). Then the file is
/// rewritten (VACUUM) and the WAL emptied, so no old token lingers in a free page, including
/// rows the old store deleted long ago.
fn migrate(db: &mut Connection) -> Result<(), ShareError> {
    if !has_table(db, "shares").map_err(store_err)? {
        return Ok(());
    }
    let tx = db.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(store_err)?;
    // Another process may have migrated while this one waited for the lock.
    if has_table(&tx, "shares").map_err(store_err)? {
        let tokens: Vec<String> = {
            let mut st = tx.prepare("SELECT token FROM shares").map_err(store_err)?;
            let rows = st.query_map([], |r| r.get(0)).map_err(store_err)?;
            rows.collect::<Result<_, _>>().map_err(store_err)?
        };
        // One map from token to id, then one statement per table (not one per link).
        tx.execute_batch("CREATE TEMP TABLE token_map(token TEXT PRIMARY KEY, id TEXT NOT NULL)").map_err(store_err)?;
        for t in &tokens {
            tx.execute("INSERT OR IGNORE INTO token_map(token, id) VALUES (?1, ?2)", params![t, link_id(t)]).map_err(store_err)?;
        }
        for table in ["comments", "reactions", "password_failures", "password_events"] {
            if !has_table(&tx, table).map_err(store_err)? {
                continue;
            }
            if has_column(&tx, table, "token").map_err(store_err)? {
                tx.execute_batch(&format!("ALTER TABLE {table} RENAME COLUMN token TO link")).map_err(store_err)?;
            }
            tx.execute_batch(&format!("UPDATE {table} SET link = (SELECT id FROM token_map WHERE token = {table}.link) WHERE link IN (SELECT token FROM token_map)"))
                .map_err(store_err)?;
        }
        tx.execute_batch(
            "DROP INDEX IF EXISTS password_events_token;
             DROP INDEX IF EXISTS shares_recording;",
        )
        .map_err(store_err)?;
        tx.execute_batch(SCHEMA).map_err(store_err)?;
        tx.execute_batch(
            "INSERT OR IGNORE INTO links(id, recording_id, created, expires, password_hash, no_download, default_speed, revoked)
             SELECT m.id, s.recording_id, s.created, s.expires, s.password_hash, s.no_download, s.default_speed, s.revoked
             FROM shares s JOIN token_map m ON m.token = s.token;
             DROP TABLE shares;
             DROP TABLE token_map;",
        )
        .map_err(store_err)?;
    }
    tx.commit().map_err(store_err)?;
    db.execute_batch("VACUUM").map_err(store_err)?;
    let (busy, _, _): (i64, i64, i64) = db.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).map_err(store_err)?;
    if busy != 0 {
        return Err(ShareError::Store("the old share links were converted, but another Reel holds the store open; close it and run this again".into()));
    }
    Ok(())
}

/// Makes the store file (and SQLite's -wal/-shm beside it) owner-only. Created 0600, so the
/// -wal and -shm SQLite makes take the same mode. A filesystem without Unix permissions (a
/// FAT drive, some network shares) cannot: the store still works, with a warning.
fn owner_only(p: &Path) -> Result<(), ShareError> {
    if !p.exists() {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new().create(true).truncate(false).write(true).mode(0o600).open(p).map_err(|e| ShareError::Store(format!("cannot create {}: {e}", p.display())))?;
    }
    for suffix in ["", "-wal", "-shm"] {
        let f = std::path::PathBuf::from(format!("{}{suffix}", p.display()));
        if let Ok(m) = std::fs::metadata(&f) {
            if m.permissions().mode() & 0o077 != 0 {
                if let Err(e) = std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)) {
                    eprintln!("warning: {} could not be made owner-only ({e}); other users of this machine may read it", f.display());
                }
            }
        }
    }
    Ok(())
}

impl ShareStore {
    /// Opens the store for commands (one reader).
    pub fn open(library_root: &Path) -> Result<ShareStore, ShareError> {
        Self::open_with(library_root, 1, Duration::from_secs(10))
    }

    /// Opens the store for a server: four readers that give up on a lock after `busy` rather
    /// than hold a viewer (only a crashed writer's recovery can make a WAL reader wait).
    pub fn open_serving(library_root: &Path) -> Result<ShareStore, ShareError> {
        Self::open_with(library_root, 4, Duration::from_millis(500))
    }

    fn open_with(library_root: &Path, readers: usize, busy: Duration) -> Result<ShareStore, ShareError> {
        let p = library_root.join("shares.sqlite");
        owner_only(&p)?;
        let mut db = Connection::open(&p).map_err(store_err)?;
        db.busy_timeout(Duration::from_secs(10)).map_err(store_err)?;
        db.pragma_update(None, "journal_mode", "WAL").map_err(store_err)?;
        migrate(&mut db)?;
        db.execute_batch(SCHEMA).map_err(store_err)?;
        db.execute_batch(feedback::SCHEMA).map_err(store_err)?;
        owner_only(&p)?;
        let readers: Vec<Mutex<Connection>> = (0..readers.max(1))
            .map(|_| {
                let r = Connection::open_with_flags(&p, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX).map_err(store_err)?;
                r.busy_timeout(busy).map_err(store_err)?;
                Ok(Mutex::new(r))
            })
            .collect::<Result<Vec<_>, ShareError>>()?;
        Ok(ShareStore { readers, db: Mutex::new(db), next_reader: Default::default(), watch: Mutex::new(None), path: p })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.db.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A read connection: a free one if any, else the next in turn.
    fn reader(&self) -> std::sync::MutexGuard<'_, Connection> {
        for r in &self.readers {
            if let Ok(g) = r.try_lock() {
                return g;
            }
        }
        let i = self.next_reader.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % self.readers.len();
        self.readers[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether any link was made, revoked or changed (by any connection or process) since the
    /// last call; true on the first call and when the store cannot be read. Viewers' writes
    /// (views, comments, password attempts) do not count.
    pub fn changed(&self) -> bool {
        let mut w = self.watch.lock().unwrap_or_else(|p| p.into_inner());
        if w.is_none() {
            match Connection::open_with_flags(&self.path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX) {
                Ok(c) => *w = Some((c, i64::MIN)),
                Err(_) => return true,
            }
        }
        let Some((conn, last)) = w.as_mut() else { return true };
        match conn.query_row("SELECT v FROM links_version", [], |r| r.get::<_, i64>(0)) {
            Ok(v) if v == *last => false,
            Ok(v) => {
                *last = v;
                true
            }
            Err(_) => {
                *w = None;
                true
            }
        }
    }

    /// Makes a link; the returned share is the only place its token appears.
    pub fn create(&self, recording_id: &str, o: &ShareOptions) -> Result<Share, ShareError> {
        let speed = o.default_speed.unwrap_or(1.0);
        if !(0.5..=3.0).contains(&speed) {
            return Err(ShareError::Invalid(format!("links cannot start at {speed}x: use a speed from 0.5 to 3")));
        }
        let hash = match &o.password {
            Some(p) => {
                check_new_password(p)?;
                Some(Argon2::default().hash_password(p.as_bytes()).map_err(|e| ShareError::Internal(e.to_string()))?.to_string())
            }
            None => None,
        };
        let token = new_token()?;
        let id = link_id(&token);
        let created = now();
        let expires = o.expires_in.map(|d| created + d.as_secs() as i64);
        self.lock()
            .execute(
                "INSERT INTO links(id, recording_id, created, expires, password_hash, no_download, default_speed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![id, recording_id, created, expires, hash, o.no_download, speed],
            )
            .map_err(store_err)?;
        Ok(Share {
            id,
            token: Some(token),
            recording_id: recording_id.into(),
            created,
            expires,
            has_password: hash.is_some(),
            no_download: o.no_download,
            default_speed: speed,
            revoked: false,
        })
    }

    /// The link `token` opens, if it may be served now: exists, not revoked, not expired.
    /// `None` also when the store cannot be read (see [`ShareStore::lookup`]).
    pub fn valid(&self, token: &str) -> Option<Share> {
        self.lookup(token).ok().flatten()
    }

    /// As [`ShareStore::valid`], telling "no such link" (`Ok(None)`) from "the store did not
    /// answer" (`Err`: busy past the timeout, an I/O error), which a server answers with 503,
    /// not 404.
    pub fn lookup(&self, token: &str) -> Result<Option<Share>, ShareError> {
        if !is_token(token) {
            return Ok(None);
        }
        let id = link_id(token);
        // Asked on every media range: the statement is prepared once per connection, and the
        // row read fresh each time so revocation and expiry act at once.
        let db = self.reader();
        let found = db.prepare_cached(VALID_SQL).and_then(|mut st| st.query_row(params![id], row).optional()).map_err(store_err)?;
        drop(db);
        Ok(found.map(|s| Share { token: Some(token.to_string()), ..s }).filter(|s| !s.revoked && s.expires.is_none_or(|e| e > now())))
    }

    /// Takes one password attempt for `client` on the link `id`, or says how many seconds it
    /// must wait first. Only failures count: five are free, then the wait doubles from a
    /// minute up to an hour. The attempt is counted as a failure before the password is
    /// checked (and taken back by [`ShareStore::password_passed`]), in one transaction, so
    /// requests sent all at once cannot all slip past the check. A link with `LINK_CEILING`
    /// failures within the last hour from everywhere slows down: clients that already failed
    /// wait until the hour has passed, new ones get one try a second between them all.
    pub fn password_attempt(&self, id: &str, client: &str) -> Result<(), Attempt> {
        let mut db = self.lock();
        let now = now();
        let Ok(tx) = db.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) else { return Err(Attempt::Busy) };
        let mine: Option<(i64, i64)> = tx
            .query_row("SELECT failures, last FROM password_failures WHERE link = ?1 AND client = ?2", params![id, client], |r| Ok((r.get(0)?, r.get(1)?)))
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
            .query_row("SELECT COUNT(*), MIN(at), MAX(at) FROM password_events WHERE link = ?1", params![id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
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
            return Err(Attempt::Wait(wait));
        }
        let counted = tx
            .execute(
                "INSERT INTO password_failures(link, client, failures, last) VALUES (?1, ?2, 1, ?3)
                 ON CONFLICT(link, client) DO UPDATE SET failures = failures + 1, last = excluded.last",
                params![id, client, now],
            )
            .and_then(|_| tx.execute("INSERT INTO password_events(link, client, at) VALUES (?1, ?2, ?3)", params![id, client, now]));
        match counted.and_then(|_| tx.commit()) {
            Ok(()) => Ok(()),
            Err(_) => Err(Attempt::Busy),
        }
    }

    /// The right password from `client`: its count starts again, and the attempt taken for it
    /// no longer counts against the link.
    pub fn password_passed(&self, id: &str, client: &str) {
        let db = self.lock();
        let _ = db.execute("DELETE FROM password_failures WHERE link = ?1 AND client = ?2", params![id, client]);
        let _ = db.execute("DELETE FROM password_events WHERE rowid = (SELECT MAX(rowid) FROM password_events WHERE link = ?1 AND client = ?2)", params![id, client]);
    }

    /// Whether `password` opens the link `id`. Fails closed: a link that cannot be read (or is
    /// gone) opens to no password.
    pub fn check_password(&self, id: &str, password: &str) -> bool {
        let hash: Result<Option<Option<String>>, _> = self.reader().query_row("SELECT password_hash FROM links WHERE id = ?1", params![id], |r| r.get(0)).optional();
        match hash {
            Ok(Some(Some(h))) => PasswordHash::new(&h).is_ok_and(|ph| Argon2::default().verify_password(password.as_bytes(), &ph).is_ok()),
            Ok(Some(None)) => true,
            _ => false,
        }
    }

    /// Revokes a link (named by its token, its id or the id's first 12 or more hex digits),
    /// or every link of a recording. Returns how many; an id prefix that names two links is
    /// refused.
    pub fn revoke(&self, what: &str) -> Result<usize, ShareError> {
        let db = self.lock();
        let id = if is_token(what) && !is_hex(what) { link_id(what) } else { what.to_ascii_lowercase() };
        if is_hex(&id) && id.len() >= SHORT_ID {
            let matches: i64 = db.query_row("SELECT COUNT(*) FROM links WHERE substr(id, 1, ?2) = ?1", params![id, id.len() as i64], |r| r.get(0)).map_err(store_err)?;
            if matches > 1 {
                return Err(ShareError::Invalid(format!("'{what}' names {matches} links; give more of the id")));
            }
            if matches == 1 {
                let n = db.execute("UPDATE links SET revoked = 1 WHERE substr(id, 1, ?2) = ?1 AND revoked = 0", params![id, id.len() as i64]).map_err(store_err)?;
                if n == 0 {
                    return Err(ShareError::Invalid(format!("the link {} was already revoked", &id[..SHORT_ID.min(id.len())])));
                }
                return Ok(n);
            }
        }
        db.execute("UPDATE links SET revoked = 1 WHERE recording_id = ?1 AND revoked = 0", params![what]).map_err(store_err)
    }

    /// A viewer's comment at `at_s` through `share` (checked: moment inside `duration_s`,
    /// length, no control characters, the recording's cap).
    pub fn comment(&self, share: &Share, at_s: f64, duration_s: f64, name: &str, body: &str) -> Result<Comment, ShareError> {
        feedback::add_comment(&self.lock(), &share.recording_id, &share.id, at_s, duration_s, name, body, now())
    }

    pub fn react(&self, share: &Share, at_s: f64, duration_s: f64, emoji: &str) -> Result<Reaction, ShareError> {
        feedback::add_reaction(&self.lock(), &share.recording_id, &share.id, at_s, duration_s, emoji, now())
    }

    /// Counts one browser's view; returns the unique views of the recording.
    pub fn view(&self, share: &Share, viewer: &str) -> Result<u64, ShareError> {
        feedback::add_view(&self.lock(), &share.recording_id, viewer, now())
    }

    /// For the creator: comments, reactions and views of a recording from every link to it,
    /// each comment and reaction naming its link.
    pub fn feedback(&self, recording_id: &str) -> Result<Feedback, ShareError> {
        feedback::for_recording(&self.reader(), recording_id)
    }

    /// For a viewer of `share`: what was left through that link only (the latest
    /// [`feedback::PAGE_COMMENTS`] comments), and the recording's views.
    pub fn link_feedback(&self, share: &Share) -> Result<Feedback, ShareError> {
        feedback::for_link(&self.reader(), &share.recording_id, &share.id)
    }

    pub fn list(&self) -> Result<Vec<Share>, ShareError> {
        let db = self.reader();
        let mut st = db.prepare(&format!("SELECT {COLS} FROM links ORDER BY created DESC")).map_err(store_err)?;
        let rows = st.query_map([], row).map_err(store_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(store_err)
    }
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
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
        let ta = a.token.clone().unwrap();
        assert!(VALID_SQL.starts_with(&format!("SELECT {COLS} FROM")), "VALID_SQL reads the columns row() expects");
        assert_eq!(ta.len(), 32);
        assert_eq!(a.id, link_id(&ta));
        assert_ne!(ta, st.create("rec1", &ShareOptions::default()).unwrap().token.unwrap());
        assert_eq!(st.valid(&ta).unwrap().id, a.id);
        assert!(st.valid("not-a-token").is_none());
        assert!(st.valid("../../../../etc/passwd__________").is_none());
        assert!(st.valid(&a.id[..32]).is_none(), "the stored id does not open the link");
        for short in ["", "short", "1234567"] {
            let e = st.create("r", &ShareOptions { password: Some(short.into()), ..Default::default() }).unwrap_err().to_string();
            assert!(e.contains("empty") || e.contains("shorter than 8"), "{e}");
        }
        let p = st.create("rec2", &ShareOptions { password: Some("s3cret-pw".into()), ..Default::default() }).unwrap();
        assert!(p.has_password);
        assert!(st.check_password(&p.id, "s3cret-pw"));
        assert!(!st.check_password(&p.id, "guess"));
        let e = st.create("rec3", &ShareOptions { expires_in: Some(Duration::from_secs(1)), ..Default::default() }).unwrap();
        assert!(st.valid(e.token.as_deref().unwrap()).is_some());
        std::thread::sleep(Duration::from_millis(2100));
        assert!(st.valid(e.token.as_deref().unwrap()).is_none(), "expired");
        assert_eq!(st.revoke("rec1").unwrap(), 2);
        assert!(st.valid(&ta).is_none(), "revoked at once");
        assert_eq!(st.revoke(p.short_id()).unwrap(), 1, "by the short id");
        assert!(st.revoke(p.short_id()).unwrap_err().to_string().contains("already revoked"));
        assert!(!st.check_password(&"0".repeat(64), "anything"), "an unknown link opens to nothing");
        assert!(st.valid(p.token.as_deref().unwrap()).is_none());
        let q = st.create("rec4", &ShareOptions::default()).unwrap();
        assert_eq!(st.revoke(q.token.as_deref().unwrap()).unwrap(), 1, "by the token");
        assert!(st.list().unwrap().iter().all(|s| s.token.is_none() && s.id.len() == 64), "the list knows no tokens");
        assert!(st.create("r", &ShareOptions { default_speed: Some(9.0), ..Default::default() }).is_err());
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(7 * 86_400));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("0s").is_err());
        let mode = std::fs::metadata(d.path().join("shares.sqlite")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "owner-only");
    }

    #[test]
    fn a_store_from_before_hashing_keeps_its_links_and_forgets_the_tokens() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("shares.sqlite");
        let token = new_token().unwrap();
        let gone = new_token().unwrap();
        {
            // The store as it was: the token itself as the key, and in every feedback row.
            let db = Connection::open(&p).unwrap();
            db.pragma_update(None, "journal_mode", "WAL").unwrap();
            db.execute_batch(
                "CREATE TABLE shares(token TEXT PRIMARY KEY, recording_id TEXT NOT NULL, created INTEGER NOT NULL,
                    expires INTEGER, password_hash TEXT, no_download INTEGER NOT NULL DEFAULT 0,
                    default_speed REAL NOT NULL DEFAULT 1.0, revoked INTEGER NOT NULL DEFAULT 0);
                 CREATE TABLE comments(id INTEGER PRIMARY KEY, recording_id TEXT NOT NULL, token TEXT NOT NULL, at_s REAL NOT NULL,
                    name TEXT NOT NULL, body TEXT NOT NULL, created INTEGER NOT NULL);
                 CREATE TABLE reactions(id INTEGER PRIMARY KEY, recording_id TEXT NOT NULL, token TEXT NOT NULL, at_s REAL NOT NULL,
                    emoji TEXT NOT NULL, created INTEGER NOT NULL);
                 CREATE TABLE password_failures(token TEXT NOT NULL, client TEXT NOT NULL, failures INTEGER NOT NULL, last INTEGER NOT NULL,
                    PRIMARY KEY(token, client));
                 CREATE TABLE password_events(token TEXT NOT NULL, client TEXT NOT NULL, at INTEGER NOT NULL);",
            )
            .unwrap();
            db.execute("INSERT INTO shares(token, recording_id, created, default_speed) VALUES (?1, 'rec', 1, 1.5)", params![token]).unwrap();
            db.execute("INSERT INTO comments(recording_id, token, at_s, name, body, created) VALUES ('rec', ?1, 1.0, 'Ana', 'kept', 2)", params![token]).unwrap();
            db.execute("INSERT INTO password_failures(token, client, failures, last) VALUES (?1, '10.0.0.9', 7, ?2)", params![token, now()]).unwrap();
            // A row the old store deleted long ago (its hourly pruning): its bytes stayed in a
            // free page.
            db.execute("INSERT INTO password_events(token, client, at) VALUES (?1, '10.0.0.8', 1)", params![gone]).unwrap();
            db.execute("DELETE FROM password_events WHERE token = ?1", params![gone]).unwrap();
            db.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
        }
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let st = ShareStore::open(d.path()).unwrap();
        let s = st.valid(&token).expect("the old link still opens");
        assert_eq!(s.default_speed, 1.5);
        let f = st.link_feedback(&s).unwrap();
        assert_eq!(f.comments.iter().map(|c| c.body.as_str()).collect::<Vec<_>>(), ["kept"], "its comments came along");
        assert!(matches!(st.password_attempt(&s.id, "10.0.0.9"), Err(Attempt::Wait(_))), "and its password counters");
        drop(st);
        for suffix in ["", "-wal"] {
            let bytes = std::fs::read(format!("{}{suffix}", p.display())).unwrap_or_default();
            for t in [&token, &gone] {
                assert!(!bytes.windows(t.len()).any(|w| w == t.as_bytes()), "a token is left in shares.sqlite{suffix}");
            }
        }
        assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600, "made owner-only");
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn durations_of_any_text_are_read_or_refused(s in "\\PC{0,12}") {
            if let Ok(d) = parse_duration(&s) {
                prop_assert!(d.as_secs() >= 1 && d.as_secs() <= 10 * 365 * 86_400);
            }
        }

        #[test]
        fn huge_numbers_are_refused_not_overflowed(n in "[0-9]{10,20}", unit in "[smhdw]?") {
            let text = format!("{n}{unit}");
            let refused = parse_duration(&text).is_err();
            prop_assert!(refused || n.parse::<u64>().is_ok_and(|v| v <= 10 * 365 * 86_400), "{}", text);
        }

        #[test]
        fn durations_with_units_are_read(n in 1u64..500, unit in "[smhdw]?") {
            let d = parse_duration(&format!("{n}{unit}")).unwrap();
            prop_assert!(d.as_secs() >= n);
        }
    }
}
