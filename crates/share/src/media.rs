//! Ranged file responses for media, the hot path of every viewer.
//!
//! The file is memory-mapped and the response body is a slice of the mapping, so a range costs
//! no read into a buffer and no trip through a blocking thread pool (tower-http's ServeFile does
//! both per 64 KiB chunk; at 200 concurrent viewers that was a third of nginx's throughput).
//! Range parsing is http-range-header's (the parser tower-http uses); one range is answered with
//! 206, several with the whole file (RFC 9110 lets a server ignore Range), an unsatisfiable
//! one with 416. ETag and Last-Modified come from size and modification time; If-None-Match
//! gives 304; If-Range with a stale validator gives the whole file.
//!
//! Invariant that makes the mapping safe: the library never truncates or rewrites a file in
//! place; a changed video is a new file renamed over the old one, and a mapping keeps the old
//! inode alive.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "mp4" => "video/mp4",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "vtt" => "text/vtt; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// A file's identity: device, inode, size, mtime seconds and nanoseconds.
type FileId = (u64, u64, u64, i64, i64);

/// A recently served file: its identity, its mapping, and the validation epoch at which it
/// was last seen to be so on disk (see [`respond_cached`]).
struct Mapped {
    id: FileId,
    mtime: Option<std::time::SystemTime>,
    bytes: Bytes,
    epoch: u64,
    /// Which [`CHUNK`]s of the file a blocking-pool request has read in: the hot path serves
    /// only ranges within them, so it never waits for the disk on an async worker.
    touched: Touched,
}

/// The read-in chunks of one mapping.
type Touched = std::sync::Arc<Vec<std::sync::atomic::AtomicBool>>;
const CHUNK: usize = 1 << 20;

fn new_touched(len: usize) -> Touched {
    std::sync::Arc::new((0..len.div_ceil(CHUNK).max(1)).map(|_| std::sync::atomic::AtomicBool::new(false)).collect())
}

/// Mappings of recently served files, keyed by path and checked against the file's identity
/// (device, inode, size, mtime) whenever the file is opened: mapping and unmapping per range
/// request cost more than serving it (munmap flushes every thread's TLB). A replaced file has
/// a new inode, so it is mapped afresh.
static MAPS: Mutex<Option<HashMap<PathBuf, Mapped>>> = Mutex::new(None);
const MAX_MAPS: usize = 64;

fn file_id(meta: &std::fs::Metadata) -> FileId {
    (meta.dev(), meta.ino(), meta.len(), meta.mtime(), meta.mtime_nsec())
}

/// The mapping of `file` (opened at `path`, described by `meta` from that same open file),
/// recorded as seen at `epoch`.
fn mapped(path: &Path, file: &std::fs::File, meta: &std::fs::Metadata, epoch: u64) -> Option<(Bytes, Touched)> {
    let id = file_id(meta);
    let mut maps = MAPS.lock().unwrap_or_else(|p| p.into_inner());
    let maps = maps.get_or_insert_with(HashMap::new);
    if let Some(m) = maps.get_mut(path) {
        if m.id == id {
            m.epoch = m.epoch.max(epoch);
            return Some((m.bytes.clone(), m.touched.clone()));
        }
    }
    // SAFETY: the mapping is read-only and the library never truncates or rewrites a media
    // file in place (see the module docs), so the mapped pages stay valid while in use.
    let map = unsafe { memmap2::Mmap::map(file) }.ok()?;
    let bytes = Bytes::from_owner(map);
    if maps.len() >= MAX_MAPS {
        maps.clear();
    }
    let touched = new_touched(bytes.len());
    maps.insert(path.to_path_buf(), Mapped { id, mtime: meta.modified().ok(), bytes: bytes.clone(), epoch, touched: touched.clone() });
    Some((bytes, touched))
}

/// Forgets mapped files that changed on disk (replaced, removed) since they were mapped, and
/// says whether there were any: what a server's watcher asks a few times a second, off the
/// async workers.
pub fn forget_changed_files() -> bool {
    let known: Vec<(PathBuf, FileId)> = {
        let maps = MAPS.lock().unwrap_or_else(|p| p.into_inner());
        maps.as_ref().map(|m| m.iter().map(|(p, v)| (p.clone(), v.id)).collect()).unwrap_or_default()
    };
    let changed: Vec<(PathBuf, FileId)> = known.into_iter().filter(|(p, id)| std::fs::metadata(p).map(|m| file_id(&m) != *id).unwrap_or(true)).collect();
    if changed.is_empty() {
        return false;
    }
    let mut maps = MAPS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(m) = maps.as_mut() {
        for (p, id) in &changed {
            if m.get(p).is_some_and(|v| v.id == *id) {
                m.remove(p);
            }
        }
    }
    true
}

/// How much of a response is read in by [`respond`] itself (on the caller's thread, the
/// blocking pool in the server): a media element's ranges are smaller than this, so a cold
/// file's disk reads happen there and not while the async worker writes the body. The rest
/// of a longer response (a whole-file download) is read as it is sent.
const PREFAULT: usize = 8 << 20;

/// The most a single 206 answers: a media element asks for `bytes=N-` and takes what comes,
/// then asks again, so a shorter answer costs nothing. It bounds what a request reads in
/// (all of it, on the blocking pool), and how long a response already on its way outlives a
/// revocation.
const MAX_SPAN: u64 = PREFAULT as u64;

/// Touches each page of the first [`PREFAULT`] bytes of `all[span]` (so they are in memory)
/// and marks their chunks as read in.
fn prefault(all: &Bytes, span: &std::ops::Range<usize>, touched: &Touched) {
    let end = span.end.min(span.start + PREFAULT);
    let mut sum = 0u8;
    for i in (span.start..end).step_by(4096) {
        sum = sum.wrapping_add(all[i]);
    }
    std::hint::black_box(sum);
    if end > span.start {
        for c in span.start / CHUNK..=(end - 1) / CHUNK {
            if let Some(t) = touched.get(c) {
                t.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }
}

/// Whether every chunk of `span` was read in.
fn all_touched(span: &std::ops::Range<usize>, touched: &Touched) -> bool {
    span.is_empty() || (span.start / CHUNK..=(span.end - 1) / CHUNK).all(|c| touched.get(c).is_some_and(|t| t.load(std::sync::atomic::Ordering::Relaxed)))
}

/// The longest Range header that is looked at, and the most ranges in it.
const MAX_RANGE_HEADER: usize = 200;
const MAX_RANGES: usize = 4;

/// Answers a GET (or HEAD) for `path` with ranges and validators; `None` when it is not there.
/// Opens and maps the file: blocking work.
pub fn respond(path: &Path, headers: &HeaderMap) -> Option<Response> {
    respond_at(path, headers, 0)
}

/// As [`respond`], recording that the file was seen on disk at validation `epoch`.
pub fn respond_at(path: &Path, headers: &HeaderMap, epoch: u64) -> Option<Response> {
    // One open file gives the validators and the bytes: a file replaced meanwhile cannot mix
    // new bytes with old validators.
    let file = std::fs::File::open(path).ok()?;
    let meta = file.metadata().ok().filter(|m| m.is_file())?;
    let len = meta.len();
    let (bytes, touched) = if len == 0 {
        (Bytes::new(), new_touched(0))
    } else {
        // A file replaced between the stat and the map is a different length: not served.
        mapped(path, &file, &meta, epoch).filter(|(b, _)| b.len() as u64 == len)?
    };
    build(path, headers, bytes, meta.modified().ok(), &touched, true)
}

/// Answers from memory alone, with no system call: when `path` was mapped and seen unchanged
/// on disk at validation `epoch` (the server's watcher moves the epoch on when any mapped
/// file changes). `None`: not known at this epoch; ask [`respond_at`] (off the async workers).
/// Only a ranged request whose bytes a blocking-pool request already read in is answered here:
/// no disk read ever waits on the caller's (async) thread.
pub fn respond_cached(path: &Path, headers: &HeaderMap, epoch: u64) -> Option<Response> {
    headers.get(header::RANGE)?;
    let (bytes, mtime, touched) = {
        let maps = MAPS.lock().unwrap_or_else(|p| p.into_inner());
        let m = maps.as_ref()?.get(path).filter(|m| m.epoch == epoch && epoch != 0)?;
        (m.bytes.clone(), m.mtime, m.touched.clone())
    };
    build(path, headers, bytes, mtime, &touched, false)
}

/// The response for the whole file `bytes` (modified at `mtime`): validators, ranges. `cold`:
/// on the blocking pool, reading the bytes in; else only bytes already read in are served
/// (`None` otherwise).
fn build(path: &Path, headers: &HeaderMap, bytes: Bytes, mtime: Option<std::time::SystemTime>, touched: &Touched, cold: bool) -> Option<Response> {
    let len = bytes.len() as u64;
    let mtime_ns = mtime.and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map(|d| d.as_nanos()).unwrap_or(0);
    let etag = format!("\"{len:x}-{mtime_ns:x}\"");
    let last_modified = mtime.map(httpdate::fmt_http_date);
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(path)));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if let Some(v) = last_modified.as_deref().and_then(|l| HeaderValue::from_str(l).ok()) {
        h.insert(header::LAST_MODIFIED, v);
    }
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(inm) = text(header::IF_NONE_MATCH) {
        if inm.trim() == "*" || inm.split(',').any(|t| t.trim().trim_start_matches("W/") == etag) {
            return Some((StatusCode::NOT_MODIFIED, h).into_response());
        }
    }
    // If-Range: the range only while the client's copy is still this file.
    let same = |v: &str| v == etag || last_modified.as_deref() == Some(v);
    // A media element asks for one range. A long header or many ranges is answered with the
    // whole file at once, never validated pair by pair (30,000 ranges cost 5x10^8 comparisons).
    let range = text(header::RANGE).filter(|r| r.len() <= MAX_RANGE_HEADER && r.bytes().filter(|&b| b == b',').count() < MAX_RANGES);
    let range = range.filter(|_| text(header::IF_RANGE).is_none_or(same));
    let mut span = 0..len;
    let mut status = StatusCode::OK;
    if let Some(r) = range {
        if let Ok(parsed) = http_range_header::parse_range_header(r) {
            match parsed.validate(len) {
                Ok(v) if v.len() == 1 => {
                    let (s, e) = (*v[0].start(), *v[0].end());
                    let e = e.min(s + MAX_SPAN - 1);
                    span = s..e + 1;
                    status = StatusCode::PARTIAL_CONTENT;
                    if let Ok(v) = HeaderValue::from_str(&format!("bytes {s}-{e}/{len}")) {
                        h.insert(header::CONTENT_RANGE, v);
                    }
                }
                Ok(_) => {} // several ranges: the whole file
                Err(_) => {
                    if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                        h.insert(header::CONTENT_RANGE, v);
                    }
                    return Some((StatusCode::RANGE_NOT_SATISFIABLE, h).into_response());
                }
            }
        }
    }
    let span = span.start as usize..span.end as usize;
    if cold {
        prefault(&bytes, &span, touched);
    } else if status != StatusCode::PARTIAL_CONTENT || !all_touched(&span, touched) {
        return None;
    }
    Some((status, h, Body::from(bytes.slice(span))).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(r: Response) -> (StatusCode, Vec<u8>) {
        let st = r.status();
        (st, axum::body::to_bytes(r.into_body(), usize::MAX).await.unwrap_or_default().to_vec())
    }

    #[tokio::test]
    async fn a_replaced_file_is_served_fresh_not_from_a_stale_map() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("video.mp4");
        std::fs::write(&p, b"first version").unwrap();
        let mut h = HeaderMap::new();
        assert_eq!(body(respond(&p, &h).unwrap()).await, (StatusCode::OK, b"first version".to_vec()));
        // As the library replaces a video: a new file renamed over the old one.
        let tmp = d.path().join("new.mp4");
        std::fs::write(&tmp, b"the second, longer version").unwrap();
        std::fs::rename(&tmp, &p).unwrap();
        h.insert(header::RANGE, HeaderValue::from_static("bytes=4-9"));
        assert_eq!(body(respond(&p, &h).unwrap()).await, (StatusCode::PARTIAL_CONTENT, b"second".to_vec()));
        h.insert(header::RANGE, HeaderValue::from_static("bytes=100-"));
        assert_eq!(respond(&p, &h).unwrap().status(), StatusCode::RANGE_NOT_SATISFIABLE);
        // 30,000 ranges (or any header over 200 bytes): the whole file, not a validation.
        let many = format!("bytes={}", (0..30_000).map(|i| format!("{i}-{i}")).collect::<Vec<_>>().join(","));
        h.insert(header::RANGE, HeaderValue::from_str(&many).unwrap());
        assert_eq!(body(respond(&p, &h).unwrap()).await, (StatusCode::OK, b"the second, longer version".to_vec()));
        // Not looked at, so not validated: five ranges, one past the end, would otherwise be
        // a 416; a single range past the end still is.
        h.insert(header::RANGE, HeaderValue::from_static("bytes=0-0,1-1,2-2,3-3,9999-"));
        assert_eq!(respond(&p, &h).unwrap().status(), StatusCode::OK);
        h.insert(header::RANGE, HeaderValue::from_static("bytes=0-0,9999-"));
        assert_eq!(respond(&p, &h).unwrap().status(), StatusCode::RANGE_NOT_SATISFIABLE);
        assert!(respond(&d.path().join("missing.mp4"), &h).is_none());
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        /// Any Range header (and If-Range) gets 200, 206 with bytes inside the file, or 416.
        #[test]
        fn any_range_header_is_answered(range in "(bytes=)?([0-9]{0,12}-[0-9]{0,12},?){0,6}|\\PC{0,40}", if_range in proptest::option::of("\\PC{0,20}")) {
            let d = tempfile::tempdir().unwrap();
            let p = d.path().join("video.mp4");
            std::fs::write(&p, vec![1u8; 1000]).unwrap();
            let mut h = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(&range) {
                h.insert(header::RANGE, v);
            }
            if let Some(Ok(v)) = if_range.map(|r| HeaderValue::from_str(&r)) {
                h.insert(header::IF_RANGE, v);
            }
            let r = respond(&p, &h).unwrap();
            prop_assert!(matches!(r.status().as_u16(), 200 | 206 | 416), "{}", r.status());
            if r.status() == StatusCode::PARTIAL_CONTENT {
                let cr = r.headers().get(header::CONTENT_RANGE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                prop_assert!(cr.starts_with("bytes ") && cr.ends_with("/1000"), "{cr}");
            }
        }
    }
}
