//! The SQLite index over the recording folders: a cache, rebuilt from the folders whenever it
//! is missing, corrupt or out of date (`reel library reindex`).
//!
//! Search is FTS5 over title, description, chapter titles and slide text with prefix matching
//! and bm25 ranking (title weighs most), then what was said, then a trigram table as a
//! substring fallback so that "board" finds "keyboard". What was said is indexed a caption cue
//! per row (`spoken`, rowids grouped by recording so one recording's cues are a rowid range):
//! recordings where the words were said come newest first (bm25 over every transcript would
//! read every row of a common word; walking rowids stops at the limit), and each hit gets the
//! moment and the line where the words were first said. WAL mode and a busy timeout let two `reel`
//! processes share one library.

use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection};

use reel_media::transcript::Transcript;

use crate::{LibraryError, Meta};

const SCHEMA_VERSION: i64 = 2;
/// `spoken` rowids: the recording's rowid times this, plus the cue's number.
const CUES_PER_RECORDING: i64 = 1 << 20;

pub(crate) struct Index {
    db: Connection,
}

/// One search result.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Hit {
    pub id: String,
    pub title: String,
    pub created: String,
    pub duration_s: f64,
    /// Lower is better; substring-only matches come after every word match.
    pub rank: f64,
    /// Where the words were said (seconds), when they were found in the transcript.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<f64>,
    /// The caption line around them, each match between « and ».
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snippet: Option<String>,
}

#[derive(Clone, Debug)]
pub(crate) struct Row {
    pub id: String,
    pub title: String,
    pub created: String,
    pub duration_s: f64,
    pub status: String,
}

impl Index {
    pub fn open(path: &Path) -> Result<Index, LibraryError> {
        let db = Connection::open(path).map_err(|e| LibraryError::Index(e.to_string()))?;
        db.busy_timeout(Duration::from_secs(10)).map_err(|e| LibraryError::Index(e.to_string()))?;
        db.pragma_update(None, "journal_mode", "WAL").map_err(|e| LibraryError::Index(e.to_string()))?;
        db.pragma_update(None, "synchronous", "NORMAL").map_err(|e| LibraryError::Index(e.to_string()))?;
        let ok: String = db.query_row("PRAGMA quick_check", [], |r| r.get(0)).map_err(|e| LibraryError::Index(e.to_string()))?;
        if ok != "ok" {
            return Err(LibraryError::Index(format!("integrity check failed: {ok}")));
        }
        let mut ix = Index { db };
        ix.migrate()?;
        Ok(ix)
    }

    fn migrate(&mut self) -> Result<(), LibraryError> {
        let v: i64 = self.db.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| LibraryError::Index(e.to_string()))?;
        if v == SCHEMA_VERSION {
            return Ok(());
        }
        // Version 0 → 1. Later versions add steps here; the index can always be rebuilt.
        let tx = self.db.transaction().map_err(|e| LibraryError::Index(e.to_string()))?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS recordings(
                rid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, title TEXT NOT NULL, description TEXT NOT NULL,
                created TEXT NOT NULL, duration_s REAL NOT NULL, status TEXT NOT NULL);
             CREATE INDEX IF NOT EXISTS recordings_created ON recordings(created);
             CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(
                id UNINDEXED, title, description, chapters, slides, transcript,
                tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3');
             CREATE VIRTUAL TABLE IF NOT EXISTS tri USING fts5(id UNINDEXED, body, tokenize = 'trigram');
             INSERT INTO fts(fts, rank) VALUES('rank', 'bm25(0.0, 10.0, 3.0, 4.0, 2.0, 1.0)');
             PRAGMA user_version = 1;",
        )
        .map_err(|e| LibraryError::Index(e.to_string()))?;
        // 1 → 2: what was said, a row per caption cue with its time, for search to the moment.
        tx.execute_batch(
            "CREATE VIRTUAL TABLE IF NOT EXISTS spoken USING fts5(
                at UNINDEXED, starts UNINDEXED, text, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3 4');
             PRAGMA user_version = 2;",
        )
        .map_err(|e| LibraryError::Index(e.to_string()))?;
        tx.commit().map_err(|e| LibraryError::Index(e.to_string()))
    }

    pub fn upsert(&mut self, m: &Meta, status: &str) -> Result<(), LibraryError> {
        let tx = self.db.transaction().map_err(|e| LibraryError::Index(e.to_string()))?;
        upsert_in(&tx, m, status)?;
        tx.commit().map_err(|e| LibraryError::Index(e.to_string()))
    }

    /// Replaces the whole index with `metas` in one transaction.
    pub fn rebuild<'a>(&mut self, metas: impl Iterator<Item = (&'a Meta, &'a str, Option<&'a Transcript>)>) -> Result<usize, LibraryError> {
        let tx = self.db.transaction().map_err(|e| LibraryError::Index(e.to_string()))?;
        tx.execute_batch("DELETE FROM recordings; DELETE FROM fts; DELETE FROM tri; DELETE FROM spoken;").map_err(|e| LibraryError::Index(e.to_string()))?;
        let mut n = 0;
        for (m, status, spoken) in metas {
            upsert_in(&tx, m, status)?;
            if let Some(t) = spoken {
                spoken_in(&tx, &m.id, t)?;
            }
            n += 1;
        }
        tx.commit().map_err(|e| LibraryError::Index(e.to_string()))?;
        Ok(n)
    }

    pub fn remove(&mut self, id: &str) -> Result<(), LibraryError> {
        let tx = self.db.transaction().map_err(|e| LibraryError::Index(e.to_string()))?;
        // FTS rows share the recording's rowid; delete them first.
        for t in ["fts", "tri"] {
            tx.execute(&format!("DELETE FROM {t} WHERE rowid = (SELECT rowid FROM recordings WHERE id = ?1)"), params![id]).map_err(|e| LibraryError::Index(e.to_string()))?;
        }
        tx.execute(
            "DELETE FROM spoken WHERE rowid >= ?2 * (SELECT rowid FROM recordings WHERE id = ?1) AND rowid < ?2 * (1 + (SELECT rowid FROM recordings WHERE id = ?1))",
            params![id, CUES_PER_RECORDING],
        )
        .map_err(|e| LibraryError::Index(e.to_string()))?;
        tx.execute("DELETE FROM recordings WHERE id = ?1", params![id]).map_err(|e| LibraryError::Index(e.to_string()))?;
        tx.commit().map_err(|e| LibraryError::Index(e.to_string()))
    }

    /// Indexes what was said in a recording (replacing what was there).
    pub fn set_spoken(&mut self, id: &str, t: &Transcript) -> Result<(), LibraryError> {
        let tx = self.db.transaction().map_err(|e| LibraryError::Index(e.to_string()))?;
        spoken_in(&tx, id, t)?;
        tx.commit().map_err(|e| LibraryError::Index(e.to_string()))
    }

    pub fn count(&self) -> Result<usize, LibraryError> {
        self.db.query_row("SELECT count(*) FROM recordings", [], |r| r.get::<_, i64>(0)).map(|n| n as usize).map_err(|e| LibraryError::Index(e.to_string()))
    }

    pub fn all(&self) -> Result<Vec<Row>, LibraryError> {
        let mut st =
            self.db.prepare_cached("SELECT id, title, created, duration_s, status FROM recordings ORDER BY created DESC, id").map_err(|e| LibraryError::Index(e.to_string()))?;
        let rows = st
            .query_map([], |r| Ok(Row { id: r.get(0)?, title: r.get(1)?, created: r.get(2)?, duration_s: r.get(3)?, status: r.get(4)? }))
            .map_err(|e| LibraryError::Index(e.to_string()))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| LibraryError::Index(e.to_string()))
    }

    pub fn ids_with_prefix(&self, prefix: &str) -> Result<Vec<String>, LibraryError> {
        let mut st =
            self.db.prepare_cached("SELECT id FROM recordings WHERE id >= ?1 AND id < ?1 || 'zzzz' ORDER BY id LIMIT 3").map_err(|e| LibraryError::Index(e.to_string()))?;
        let rows = st.query_map(params![prefix], |r| r.get::<_, String>(0)).map_err(|e| LibraryError::Index(e.to_string()))?;
        Ok(rows.filter_map(Result::ok).filter(|id| id.starts_with(prefix)).collect())
    }

    /// Word-prefix matches ranked by bm25, then substring matches (trigram) not already found.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<Hit>, LibraryError> {
        let words: Vec<String> = query.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(|w| w.to_lowercase()).collect();
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let fts_q = words.iter().map(|w| format!("\"{w}\"*")).collect::<Vec<_>>().join(" ");
        let mut hits: Vec<Hit> = Vec::new();
        {
            let mut st = self
                .db
                .prepare_cached(
                    // `rank` is configured as weighted bm25 (title first), which lets FTS5 order
                    // and limit inside the index; rows share rowids with `recordings`.
                    "SELECT r.id, r.title, r.created, r.duration_s, f.rank
                     FROM (SELECT rowid, rank FROM fts WHERE fts MATCH ?1 ORDER BY rank LIMIT ?2) f
                     JOIN recordings r ON r.rowid = f.rowid ORDER BY f.rank",
                )
                .map_err(|e| LibraryError::Index(e.to_string()))?;
            let rows = st
                .query_map(params![fts_q, limit as i64], |r| {
                    Ok(Hit { id: r.get(0)?, title: r.get(1)?, created: r.get(2)?, duration_s: r.get(3)?, rank: r.get(4)?, at: None, snippet: None })
                })
                .map_err(|e| LibraryError::Index(e.to_string()))?;
            for h in rows {
                hits.push(h.map_err(|e| LibraryError::Index(e.to_string()))?);
            }
        }
        // What was said: the newest recordings first (FTS5 walks a term's rows in rowid order
        // and stops at the limit, so a word said everywhere costs no more than a rare one;
        // ranking all of them by bm25 would read every one).
        // Whole words first: a term's rows stream in rowid order, where a prefix makes FTS5
        // merge every matching term's rows before the first comes out.
        let exact = words.iter().map(|w| format!("\"{w}\"")).collect::<Vec<_>>().join(" ");
        if hits.len() < limit {
            let mut st = self.db.prepare_cached("SELECT rowid FROM spoken WHERE spoken MATCH ?1 ORDER BY rowid DESC LIMIT 5000").map_err(|e| LibraryError::Index(e.to_string()))?;
            let mut recs: Vec<i64> = Vec::new();
            for q in [&exact, &fts_q] {
                let rows = st.query_map(params![q], |r| r.get::<_, i64>(0)).map_err(|e| LibraryError::Index(e.to_string()))?;
                for r in rows {
                    let rec = r.map_err(|e| LibraryError::Index(e.to_string()))? / CUES_PER_RECORDING;
                    if recs.last() != Some(&rec) && !recs.contains(&rec) {
                        recs.push(rec);
                        if recs.len() >= limit {
                            break;
                        }
                    }
                }
                if recs.len() >= limit {
                    break;
                }
            }
            let mut one = self.db.prepare_cached("SELECT id, title, created, duration_s FROM recordings WHERE rowid = ?1").map_err(|e| LibraryError::Index(e.to_string()))?;
            for rec in recs {
                if hits.len() >= limit {
                    break;
                }
                let h = one.query_row(params![rec], |r| Ok(Hit { id: r.get(0)?, title: r.get(1)?, created: r.get(2)?, duration_s: r.get(3)?, rank: 0.5, at: None, snippet: None }));
                if let Ok(h) = h {
                    if !hits.iter().any(|x| x.id == h.id) {
                        hits.push(h);
                    }
                }
            }
        }
        // Substrings of three or more characters (trigrams need three).
        let subs: Vec<&String> = words.iter().filter(|w| w.chars().count() >= 3).collect();
        if hits.len() < limit && subs.len() == words.len() {
            let tri_q = subs.iter().map(|w| format!("\"{w}\"")).collect::<Vec<_>>().join(" AND ");
            let mut st = self
                .db
                .prepare_cached(
                    "SELECT r.id, r.title, r.created, r.duration_s
                     FROM (SELECT rowid FROM tri WHERE tri MATCH ?1 LIMIT ?2) t JOIN recordings r ON r.rowid = t.rowid",
                )
                .map_err(|e| LibraryError::Index(e.to_string()))?;
            let rows = st
                .query_map(params![tri_q, limit as i64], |r| {
                    Ok(Hit { id: r.get(0)?, title: r.get(1)?, created: r.get(2)?, duration_s: r.get(3)?, rank: 0.0, at: None, snippet: None })
                })
                .map_err(|e| LibraryError::Index(e.to_string()))?;
            for h in rows.flatten() {
                if hits.len() >= limit {
                    break;
                }
                if !hits.iter().any(|x| x.id == h.id) {
                    // After every word match: bm25 ranks are negative, spoken-only hits 0.5,
                    // these 1.0.
                    hits.push(Hit { rank: 1.0, ..h });
                }
            }
        }
        self.moments(&mut hits, &words, &fts_q)?;
        Ok(hits)
    }

    /// For each hit, the first caption cue where the query was said: all its words in one cue,
    /// else its first word that is there.
    fn moments(&self, hits: &mut [Hit], words: &[String], fts_q: &str) -> Result<(), LibraryError> {
        let mut st = self
            .db
            .prepare_cached(
                "SELECT at, starts, highlight(spoken, 2, char(1), char(2)), snippet(spoken, 2, '«', '»', '…', 12) FROM spoken
                 WHERE spoken MATCH ?1 AND rowid >= ?2 AND rowid < ?3 ORDER BY rowid LIMIT 1",
            )
            .map_err(|e| LibraryError::Index(e.to_string()))?;
        let mut rec = self.db.prepare_cached("SELECT rowid FROM recordings WHERE id = ?1").map_err(|e| LibraryError::Index(e.to_string()))?;
        let exact = words.iter().map(|w| format!("\"{w}\"")).collect::<Vec<_>>().join(" ");
        let mut queries = vec![exact, fts_q.to_string()];
        if words.len() > 1 {
            queries.extend(words.iter().flat_map(|w| [format!("\"{w}\""), format!("\"{w}\"*")]));
        }
        for h in hits.iter_mut() {
            let Ok(base) = rec.query_row(params![h.id], |r| r.get::<_, i64>(0)).map(|r| r * CUES_PER_RECORDING) else { continue };
            for q in &queries {
                let found = st
                    .query_row(params![q, base, base + CUES_PER_RECORDING], |r| Ok((r.get::<_, f64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?)));
                match found {
                    Ok((at, starts, marked, snippet)) => {
                        // The matched word's own time: its place among the cue's words.
                        let before = marked.split('\u{1}').next().unwrap_or_default().split_whitespace().count();
                        let word_at = starts.split(' ').nth(before).and_then(|s| s.parse::<f64>().ok());
                        h.at = Some(word_at.unwrap_or(at));
                        h.snippet = Some(snippet);
                        break;
                    }
                    Err(rusqlite::Error::QueryReturnedNoRows) => {}
                    Err(e) => return Err(LibraryError::Index(e.to_string())),
                }
            }
        }
        Ok(())
    }
}

fn spoken_in(tx: &rusqlite::Transaction<'_>, id: &str, t: &Transcript) -> Result<(), LibraryError> {
    let err = |e: rusqlite::Error| LibraryError::Index(e.to_string());
    let Ok(rowid) = tx.query_row("SELECT rowid FROM recordings WHERE id = ?1", params![id], |r| r.get::<_, i64>(0)) else {
        return Ok(());
    };
    let base = rowid * CUES_PER_RECORDING;
    tx.execute("DELETE FROM spoken WHERE rowid >= ?1 AND rowid < ?2", params![base, base + CUES_PER_RECORDING]).map_err(err)?;
    let mut ins = tx.prepare_cached("INSERT INTO spoken(rowid, at, starts, text) VALUES (?1, ?2, ?3, ?4)").map_err(err)?;
    for (i, c) in t.cues().iter().enumerate().take(CUES_PER_RECORDING as usize) {
        // Each word's start (a word's text holds no spaces, so the cue's words are its
        // space-separated parts).
        let starts =
            t.words[c.first..=c.last].iter().flat_map(|w| std::iter::repeat_n(format!("{:.2}", w.start), w.text.split_whitespace().count().max(1))).collect::<Vec<_>>().join(" ");
        ins.execute(params![base + i as i64, c.start, starts, c.text]).map_err(err)?;
    }
    Ok(())
}

fn upsert_in(tx: &rusqlite::Transaction<'_>, m: &Meta, status: &str) -> Result<(), LibraryError> {
    let err = |e: rusqlite::Error| LibraryError::Index(e.to_string());
    let chapters = m.chapters.iter().map(|c| c.title.as_str()).collect::<Vec<_>>().join("\n");
    let slides = m.slide_texts.join("\n");
    tx.execute(
        "INSERT INTO recordings(id, title, description, created, duration_s, status) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(id) DO UPDATE SET title = excluded.title, description = excluded.description, created = excluded.created,
         duration_s = excluded.duration_s, status = excluded.status",
        params![m.id, m.title, m.description, m.created, m.duration_s, status],
    )
    .map_err(err)?;
    let rowid: i64 = tx.query_row("SELECT rowid FROM recordings WHERE id = ?1", params![m.id], |r| r.get(0)).map_err(err)?;
    tx.execute("DELETE FROM fts WHERE rowid = ?1", params![rowid]).map_err(err)?;
    tx.execute("DELETE FROM tri WHERE rowid = ?1", params![rowid]).map_err(err)?;
    tx.execute(
        "INSERT INTO fts(rowid, id, title, description, chapters, slides, transcript) VALUES (?1, ?2, ?3, ?4, ?5, ?6, '')",
        params![rowid, m.id, m.title, m.description, chapters, slides],
    )
    .map_err(err)?;
    let body = format!("{}\n{}\n{}\n{}", m.title, m.description, chapters, slides);
    tx.execute("INSERT INTO tri(rowid, id, body) VALUES (?1, ?2, ?3)", params![rowid, m.id, body]).map_err(err)?;
    Ok(())
}
