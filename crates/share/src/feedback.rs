//! What viewers leave on a recording: timestamped comments, emoji reactions at a moment, and
//! view counts. Stored beside the share links in `LIBRARY/shares.sqlite` (real data, never
//! rebuilt). Comments and reactions belong to the link they were made through: a viewer sees
//! only that link's conversation (the client sent one link, the board another), the creator
//! sees all of it in `reel show` and the app, each item naming its link. Views count per
//! recording. A recording holds at most [`MAX_COMMENTS`] comments and [`MAX_REACTIONS`]
//! reactions; a page shows the latest [`PAGE_COMMENTS`] comments of its link.
//!
//! Views are unique per browser: the page makes a random id once and keeps it in
//! localStorage; the server keeps only that id (no address, no user agent, no cookie), so
//! nothing personal is stored.

use rusqlite::{params, Connection};

use crate::ShareError;

/// The reactions a viewer can leave: a short, fixed set (free-form emoji would be free-form text).
pub const REACTIONS: [&str; 8] = ["👍", "❤️", "😂", "🎉", "😮", "👏", "🤔", "🔥"];
pub const MAX_NAME_CHARS: usize = 60;
pub const MAX_COMMENT_CHARS: usize = 2000;
/// Comments one recording keeps, from all its links (a flood cannot grow the store without end).
pub const MAX_COMMENTS: i64 = 5000;
pub const MAX_REACTIONS: i64 = 20_000;
/// What one link may add of those: the viewers of one link cannot fill the recording and shut
/// out the others.
pub const MAX_LINK_COMMENTS: i64 = 1000;
pub const MAX_LINK_REACTIONS: i64 = 4000;
/// Comments a share page shows: the latest of its link.
pub const PAGE_COMMENTS: i64 = 200;
/// Reactions a share page gets (the latest; they are dots on the timeline).
pub const PAGE_REACTIONS: i64 = 2000;

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Comment {
    pub id: i64,
    /// Seconds into the video.
    pub at_s: f64,
    pub name: String,
    pub body: String,
    /// Unix seconds.
    pub created: i64,
    /// The link it came through (its short id), for the creator; absent on share pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Reaction {
    pub id: i64,
    pub at_s: f64,
    pub emoji: String,
    pub created: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

/// What viewers left, in the order of the video.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Feedback {
    pub comments: Vec<Comment>,
    /// All the comments there are (more than `comments` when a page shows only the latest).
    #[serde(default)]
    pub comments_total: u64,
    pub reactions: Vec<Reaction>,
    /// Unique browsers that started watching.
    pub views: u64,
}

pub(crate) const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS comments(
        id INTEGER PRIMARY KEY, recording_id TEXT NOT NULL, link TEXT NOT NULL, at_s REAL NOT NULL,
        name TEXT NOT NULL, body TEXT NOT NULL, created INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS comments_recording ON comments(recording_id, at_s);
    CREATE INDEX IF NOT EXISTS comments_link ON comments(link, id);
    CREATE TABLE IF NOT EXISTS reactions(
        id INTEGER PRIMARY KEY, recording_id TEXT NOT NULL, link TEXT NOT NULL, at_s REAL NOT NULL,
        emoji TEXT NOT NULL, created INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS reactions_recording ON reactions(recording_id, at_s);
    CREATE INDEX IF NOT EXISTS reactions_link ON reactions(link, at_s);
    CREATE TABLE IF NOT EXISTS views(
        recording_id TEXT NOT NULL, viewer TEXT NOT NULL, first_seen INTEGER NOT NULL,
        PRIMARY KEY(recording_id, viewer));";

fn store_err(e: rusqlite::Error) -> ShareError {
    ShareError::Store(e.to_string())
}

/// A moment in the video: finite, not negative, not past the end (a little slack for players
/// that report the end a few frames late).
fn check_at(at_s: f64, duration_s: f64) -> Result<f64, ShareError> {
    if !at_s.is_finite() || at_s < 0.0 || at_s > duration_s + 1.0 {
        return Err(ShareError::Invalid(format!("the moment {at_s} s is not inside the video (0 to {duration_s:.1} s)")));
    }
    Ok(at_s.min(duration_s))
}

/// Trims, and refuses control characters (other than line breaks in comments) and empty or
/// overlong text.
fn clean(text: &str, what: &str, max: usize, multiline: bool) -> Result<String, ShareError> {
    let t = text.trim();
    if t.chars().count() > max {
        return Err(ShareError::Invalid(format!("the {what} is longer than {max} characters; shorten it")));
    }
    if t.chars().any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\t'))) {
        return Err(ShareError::Invalid(format!("the {what} contains control characters")));
    }
    if t.chars().any(is_format_char) {
        return Err(ShareError::Invalid(format!("the {what} contains invisible formatting characters (direction overrides or zero-width marks); type it plainly")));
    }
    Ok(t.to_string())
}

/// Unicode's format characters (category Cf): direction overrides that make text read other
/// than it is stored (a name that shows "Alice" but sorts as anything), zero-width spaces and
/// marks, and tag characters. The zero-width joiner and non-joiner are kept: the joiner glues
/// emoji sequences (👩‍💻), the non-joiner is part of ordinary Persian, Urdu and Kurdish
/// spelling; alone neither changes what a reader sees.
fn is_format_char(c: char) -> bool {
    matches!(c,
        '\u{AD}' | '\u{600}'..='\u{605}' | '\u{61C}' | '\u{6DD}' | '\u{70F}' | '\u{890}' | '\u{891}' | '\u{8E2}' | '\u{180E}'
        | '\u{200B}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}' | '\u{110BD}' | '\u{110CD}'
        | '\u{13430}'..='\u{1343F}' | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}' | '\u{E0001}' | '\u{E0020}'..='\u{E007F}')
}

// One row's worth of columns, each checked here: a struct would only repeat them.
#[allow(clippy::too_many_arguments)]
pub(crate) fn add_comment(db: &Connection, recording_id: &str, link: &str, at_s: f64, duration_s: f64, name: &str, body: &str, now: i64) -> Result<Comment, ShareError> {
    let at_s = check_at(at_s, duration_s)?;
    let body = clean(body, "comment", MAX_COMMENT_CHARS, true)?;
    if body.is_empty() {
        return Err(ShareError::Invalid("the comment is empty; write something first".into()));
    }
    let name = clean(name, "name", MAX_NAME_CHARS, false)?;
    let name = if name.is_empty() { "Anonymous".to_string() } else { name };
    if count(db, "comments", "link", link)? >= MAX_LINK_COMMENTS || count(db, "comments", "recording_id", recording_id)? >= MAX_COMMENTS {
        return Err(ShareError::Full("this video takes no more comments; the ones here are kept, and you can still react".into()));
    }
    db.execute("INSERT INTO comments(recording_id, link, at_s, name, body, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", params![recording_id, link, at_s, name, body, now])
        .map_err(store_err)?;
    Ok(Comment { id: db.last_insert_rowid(), at_s, name, body, created: now, link: None })
}

pub(crate) fn add_reaction(db: &Connection, recording_id: &str, link: &str, at_s: f64, duration_s: f64, emoji: &str, now: i64) -> Result<Reaction, ShareError> {
    let at_s = check_at(at_s, duration_s)?;
    let Some(emoji) = REACTIONS.iter().find(|e| **e == emoji) else {
        return Err(ShareError::Invalid(format!("'{emoji}' is not one of the reactions: {}", REACTIONS.join(" "))));
    };
    if count(db, "reactions", "link", link)? >= MAX_LINK_REACTIONS || count(db, "reactions", "recording_id", recording_id)? >= MAX_REACTIONS {
        return Err(ShareError::Full("this video takes no more reactions; the ones here are kept".into()));
    }
    db.execute("INSERT INTO reactions(recording_id, link, at_s, emoji, created) VALUES (?1, ?2, ?3, ?4, ?5)", params![recording_id, link, at_s, emoji, now]).map_err(store_err)?;
    Ok(Reaction { id: db.last_insert_rowid(), at_s, emoji: emoji.to_string(), created: now, link: None })
}

/// Counts a browser once per recording; returns the number of unique views.
pub(crate) fn add_view(db: &Connection, recording_id: &str, viewer: &str, now: i64) -> Result<u64, ShareError> {
    if !(16..=64).contains(&viewer.len()) || !viewer.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(ShareError::Invalid("the viewer id must be 16 to 64 letters, digits, - or _".into()));
    }
    db.execute("INSERT OR IGNORE INTO views(recording_id, viewer, first_seen) VALUES (?1, ?2, ?3)", params![recording_id, viewer, now]).map_err(store_err)?;
    views(db, recording_id)
}

fn views(db: &Connection, recording_id: &str) -> Result<u64, ShareError> {
    db.query_row("SELECT COUNT(*) FROM views WHERE recording_id = ?1", params![recording_id], |r| r.get::<_, i64>(0)).map(|n| n as u64).map_err(store_err)
}

/// Rows of `table` whose `column` (`link` or `recording_id`, both indexed) is `value`.
fn count(db: &Connection, table: &str, column: &str, value: &str) -> Result<i64, ShareError> {
    db.query_row(&format!("SELECT COUNT(*) FROM {table} WHERE {column} = ?1"), params![value], |r| r.get(0)).map_err(store_err)
}

fn short(link: String) -> String {
    link.chars().take(crate::store::SHORT_ID).collect()
}

/// For the creator: everything left on `recording_id` through any link, each item naming it.
pub(crate) fn for_recording(db: &Connection, recording_id: &str) -> Result<Feedback, ShareError> {
    let mut st = db.prepare("SELECT id, at_s, name, body, created, link FROM comments WHERE recording_id = ?1 ORDER BY at_s, id").map_err(store_err)?;
    let comments = st
        .query_map(params![recording_id], |r| Ok(Comment { id: r.get(0)?, at_s: r.get(1)?, name: r.get(2)?, body: r.get(3)?, created: r.get(4)?, link: Some(short(r.get(5)?)) }))
        .map_err(store_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(store_err)?;
    let mut st = db.prepare("SELECT id, at_s, emoji, created, link FROM reactions WHERE recording_id = ?1 ORDER BY at_s, id").map_err(store_err)?;
    let reactions = st
        .query_map(params![recording_id], |r| Ok(Reaction { id: r.get(0)?, at_s: r.get(1)?, emoji: r.get(2)?, created: r.get(3)?, link: Some(short(r.get(4)?)) }))
        .map_err(store_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(store_err)?;
    Ok(Feedback { comments_total: comments.len() as u64, comments, reactions, views: views(db, recording_id)? })
}

/// For a viewer: what was left through `link` (the latest [`PAGE_COMMENTS`] comments, in the
/// order of the video), and the recording's views.
pub(crate) fn for_link(db: &Connection, recording_id: &str, link: &str) -> Result<Feedback, ShareError> {
    let mut st = db.prepare("SELECT id, at_s, name, body, created FROM (SELECT * FROM comments WHERE link = ?1 ORDER BY id DESC LIMIT ?2) ORDER BY at_s, id").map_err(store_err)?;
    let comments = st
        .query_map(params![link, PAGE_COMMENTS], |r| Ok(Comment { id: r.get(0)?, at_s: r.get(1)?, name: r.get(2)?, body: r.get(3)?, created: r.get(4)?, link: None }))
        .map_err(store_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(store_err)?;
    let total: i64 = db.query_row("SELECT COUNT(*) FROM comments WHERE link = ?1", params![link], |r| r.get(0)).map_err(store_err)?;
    let mut st = db.prepare("SELECT id, at_s, emoji, created FROM (SELECT * FROM reactions WHERE link = ?1 ORDER BY id DESC LIMIT ?2) ORDER BY at_s, id").map_err(store_err)?;
    let reactions = st
        .query_map(params![link, PAGE_REACTIONS], |r| Ok(Reaction { id: r.get(0)?, at_s: r.get(1)?, emoji: r.get(2)?, created: r.get(3)?, link: None }))
        .map_err(store_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(store_err)?;
    Ok(Feedback { comments, comments_total: total as u64, reactions, views: views(db, recording_id)? })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let db = Connection::open_in_memory().unwrap();
        db.execute_batch(SCHEMA).unwrap();
        db
    }

    #[test]
    fn comments_are_checked_trimmed_and_ordered_by_moment() {
        let db = db();
        add_comment(&db, "r", "t", 7.5, 10.0, "  Ana ", " second ", 1).unwrap();
        let c = add_comment(&db, "r", "t", 2.0, 10.0, "", "first\nline two", 2).unwrap();
        assert_eq!(c.name, "Anonymous");
        add_comment(&db, "other", "t2", 1.0, 10.0, "Bo", "elsewhere", 3).unwrap();
        let f = for_recording(&db, "r").unwrap();
        assert_eq!(f.comments.iter().map(|c| c.body.as_str()).collect::<Vec<_>>(), ["first\nline two", "second"]);
        assert_eq!(f.comments[1].name, "Ana");
        for (at, name, body, why) in [
            (f64::NAN, "a", "b", "inside the video"),
            (-1.0, "a", "b", "inside the video"),
            (12.0, "a", "b", "inside the video"),
            (1.0, "a", "   ", "empty"),
            (1.0, "a", &"x".repeat(MAX_COMMENT_CHARS + 1), "longer than"),
            (1.0, "a\u{7}", "b", "control characters"),
            (1.0, &"n".repeat(61), "b", "longer than"),
            (1.0, "Ali\u{202E}ecila", "b", "invisible formatting"),
            (1.0, "a", "see\u{200B}this", "invisible formatting"),
            (1.0, "a", "\u{2066}x\u{2069}", "invisible formatting"),
        ] {
            let e = add_comment(&db, "r", "t", at, 10.0, name, body, 4).unwrap_err().to_string();
            assert!(e.contains(why), "{e}");
        }
        assert_eq!(for_recording(&db, "r").unwrap().comments.len(), 2, "refused comments left nothing behind");
        add_comment(&db, "r", "t", 1.0, 10.0, "Dev 👩\u{200D}💻", "an emoji sequence is fine", 5).expect("the joiner inside an emoji");
    }

    #[test]
    fn reactions_from_the_set_only_and_views_unique_per_browser() {
        let db = db();
        add_reaction(&db, "r", "t", 3.0, 10.0, "🎉", 1).unwrap();
        assert!(add_reaction(&db, "r", "t", 3.0, 10.0, "<b>", 1).unwrap_err().to_string().contains("not one of the reactions"));
        assert_eq!(for_recording(&db, "r").unwrap().reactions.len(), 1);
        let a = "a".repeat(22);
        let b = "b".repeat(22);
        assert_eq!(add_view(&db, "r", &a, 1).unwrap(), 1);
        assert_eq!(add_view(&db, "r", &a, 2).unwrap(), 1, "the same browser counts once");
        assert_eq!(add_view(&db, "r", &b, 3).unwrap(), 2);
        assert_eq!(add_view(&db, "other", &a, 3).unwrap(), 1);
        assert!(add_view(&db, "r", "short", 1).is_err());
        assert!(add_view(&db, "r", "has space in it, long enough", 1).is_err());
    }

    #[test]
    fn each_link_keeps_its_own_conversation_the_creator_sees_all_and_a_recording_is_capped() {
        let db = db();
        add_comment(&db, "r", "link-a", 1.0, 10.0, "Client", "from the client's link", 1).unwrap();
        add_comment(&db, "r", "link-b", 2.0, 10.0, "Board", "from the board's link", 2).unwrap();
        add_reaction(&db, "r", "link-b", 2.0, 10.0, "🎉", 3).unwrap();
        let a = for_link(&db, "r", "link-a").unwrap();
        assert_eq!(a.comments.iter().map(|c| c.body.as_str()).collect::<Vec<_>>(), ["from the client's link"]);
        assert!(a.reactions.is_empty(), "the other link's reaction is not shown here");
        assert!(a.comments[0].link.is_none(), "viewers are not told of other links");
        let all = for_recording(&db, "r").unwrap();
        assert_eq!(all.comments.len(), 2);
        assert_eq!(all.comments[1].link.as_deref(), Some("link-b"));
        assert_eq!(all.reactions[0].link.as_deref(), Some("link-b"));
        // A page shows the latest PAGE_COMMENTS of its link, in the order of the video.
        for i in 0..(PAGE_COMMENTS + 10) {
            add_comment(&db, "r", "link-a", (i % 10) as f64, 10.0, "n", &format!("c{i}"), 10 + i).unwrap();
        }
        let a = for_link(&db, "r", "link-a").unwrap();
        assert_eq!(a.comments.len() as i64, PAGE_COMMENTS);
        assert_eq!(a.comments_total as i64, PAGE_COMMENTS + 11);
        assert!(!a.comments.iter().any(|c| c.body == "c0" || c.body == "from the client's link"), "the oldest are the ones left out");
        assert!(a.comments.windows(2).all(|w| w[0].at_s <= w[1].at_s));
        // The caps: one link takes at most MAX_LINK_COMMENTS (the others go on)…
        db.execute(
            "INSERT INTO comments(recording_id, link, at_s, name, body, created) SELECT 'r', 'link-flood', 1.0, 'x', 'y', 1 FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1) SELECT i FROM n)",
            params![MAX_LINK_COMMENTS],
        )
        .unwrap();
        assert!(matches!(add_comment(&db, "r", "link-flood", 1.0, 10.0, "x", "one more", 9), Err(ShareError::Full(_))));
        add_comment(&db, "r", "link-b", 1.0, 10.0, "Board", "the board's link still takes comments", 9).unwrap();
        // …and a recording at most MAX_COMMENTS, from all its links.
        db.execute(
            "INSERT INTO comments(recording_id, link, at_s, name, body, created) SELECT 'r', 'link-c', 1.0, 'x', 'y', 1 FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1) SELECT i FROM n)",
            params![MAX_COMMENTS],
        )
        .unwrap();
        let e = add_comment(&db, "r", "link-d", 1.0, 10.0, "late", "one too many", 99).unwrap_err();
        assert!(matches!(e, ShareError::Full(_)) && e.to_string().contains("no more comments"), "{e}");
        add_comment(&db, "other", "link-d", 1.0, 10.0, "late", "another video is not affected", 99).unwrap();
    }
}
