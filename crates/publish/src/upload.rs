//! Uploading one file: small ones in one PUT, big ones as a resumable multipart upload.
//!
//! The upload id and every finished part's ETag are written to a state file after each part,
//! so a killed process (or a storage server that stayed down past the client's retries) is
//! resumed by running the same command again: parts already stored are not sent twice. The
//! state is only trusted for the same file (size and modification time) and the same key.
//! Cancelling aborts the multipart upload, so the bucket keeps no orphaned parts.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::{Duration, Instant};

use object_store::multipart::{MultipartStore, PartId};
use object_store::{Attribute, Attributes, PutMultipartOptions, PutPayload};

use crate::client::Client;
use crate::{write_json_atomic, PublishError};

/// Parts are 8 MiB (S3's minimum is 5 MiB, its maximum count 10,000: 80 GB files).
pub const PART_SIZE: u64 = 8 << 20;
/// Parts in flight at once: enough to fill a fast link, few enough for 2 cores.
const IN_FLIGHT: usize = 4;

/// Called with the fraction done; returning false cancels.
pub type Progress<'a> = &'a mut dyn FnMut(f64) -> bool;

#[derive(serde::Serialize, serde::Deserialize)]
struct State {
    /// Where the upload lives: an upload id means nothing on another bucket or server.
    #[serde(default)]
    bucket: String,
    #[serde(default)]
    endpoint: String,
    key: String,
    upload_id: String,
    size: u64,
    modified_ns: i128,
    part_size: u64,
    /// Part index → ETag.
    parts: BTreeMap<usize, String>,
}

fn modified_ns(m: &std::fs::Metadata) -> i128 {
    m.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map(|d| d.as_nanos() as i128).unwrap_or(0)
}

/// How an upload went, for the closing report.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Uploaded {
    pub bytes: u64,
    /// Parts found already uploaded by an earlier, interrupted run.
    pub resumed_parts: usize,
    pub parts: usize,
}

impl Client {
    /// Uploads `path` to `rel`. `state` is where resumable progress is kept; `max_rate` limits
    /// bytes per second (a shared connection stays usable).
    pub fn upload_file(&self, rel: &str, path: &Path, content_type: &str, state: &Path, max_rate: Option<u64>, progress: Progress<'_>) -> Result<Uploaded, PublishError> {
        self.upload_file_once(rel, path, content_type, state, max_rate, progress, true)
    }

    #[allow(clippy::too_many_arguments)]
    fn upload_file_once(
        &self,
        rel: &str,
        path: &Path,
        content_type: &str,
        state: &Path,
        max_rate: Option<u64>,
        progress: Progress<'_>,
        may_restart: bool,
    ) -> Result<Uploaded, PublishError> {
        let meta = std::fs::metadata(path).map_err(|e| PublishError::Io(format!("cannot read {}: {e}", path.display())))?;
        let size = meta.len();
        if size <= PART_SIZE {
            let bytes = std::fs::read(path).map_err(|e| PublishError::Io(format!("cannot read {}: {e}", path.display())))?;
            if !progress(0.0) {
                return Err(PublishError::Cancelled);
            }
            self.put(rel, bytes, content_type)?;
            progress(1.0);
            return Ok(Uploaded { bytes: size, resumed_parts: 0, parts: 1 });
        }
        let key = self.key(rel);
        let old: Option<State> = std::fs::read(state).ok().and_then(|b| serde_json::from_slice(&b).ok());
        let mut st = match old {
            Some(s)
                if s.bucket == self.target.bucket
                    && s.endpoint == self.endpoint
                    && s.key == key.as_ref()
                    && s.size == size
                    && s.modified_ns == modified_ns(&meta)
                    && s.part_size == PART_SIZE =>
            {
                s
            }
            stale => {
                if let Some(s) = stale {
                    // Another file or key: that upload will never complete.
                    let _ = self.rt.block_on(self.store.abort_multipart(&object_store::path::Path::from(s.key.as_str()), &s.upload_id));
                }
                let mut a = Attributes::new();
                a.insert(Attribute::ContentType, content_type.to_string().into());
                let opts = PutMultipartOptions { attributes: a, ..Default::default() };
                let upload_id = self.rt.block_on(self.store.create_multipart_opts(&key, opts)).map_err(|e| self.explain(&format!("starting the upload of {rel}"), e))?;
                let s = State {
                    bucket: self.target.bucket.clone(),
                    endpoint: self.endpoint.clone(),
                    key: key.to_string(),
                    upload_id,
                    size,
                    modified_ns: modified_ns(&meta),
                    part_size: PART_SIZE,
                    parts: BTreeMap::new(),
                };
                write_json_atomic(state, &s)?;
                s
            }
        };
        let resumed_parts = st.parts.len();
        let n_parts = size.div_ceil(PART_SIZE) as usize;
        let mut file = std::fs::File::open(path).map_err(|e| PublishError::Io(format!("cannot read {}: {e}", path.display())))?;
        let started = Instant::now();
        let mut sent_here = 0u64;
        let mut done_bytes: u64 = st.parts.keys().map(|&i| part_len(i, size)).sum();
        let todo: Vec<usize> = (0..n_parts).filter(|i| !st.parts.contains_key(i)).collect();
        let result: Result<(), PublishError> = self.rt.block_on(async {
            let mut set = tokio::task::JoinSet::new();
            let mut next = todo.into_iter();
            loop {
                while set.len() < IN_FLIGHT {
                    let Some(i) = next.next() else { break };
                    if let Some(rate) = max_rate.filter(|r| *r > 0) {
                        // Start a part only when the bytes sent so far fit the rate.
                        let due = Duration::from_secs_f64(sent_here as f64 / rate as f64);
                        if let Some(wait) = due.checked_sub(started.elapsed()) {
                            tokio::time::sleep(wait).await;
                        }
                    }
                    let len = part_len(i, size);
                    let mut buf = vec![0u8; len as usize];
                    file.seek(SeekFrom::Start(i as u64 * PART_SIZE))
                        .and_then(|_| file.read_exact(&mut buf))
                        .map_err(|e| PublishError::Io(format!("cannot read {}: {e}", path.display())))?;
                    sent_here += len;
                    let (store, key, id) = (self.store.clone(), key.clone(), st.upload_id.clone());
                    set.spawn(async move { (i, store.put_part(&key, &id, i, PutPayload::from(buf)).await) });
                }
                let Some(joined) = set.join_next().await else { break };
                let (i, r) = joined.map_err(|e| PublishError::Io(e.to_string()))?;
                let part = r.map_err(|e| self.explain(&format!("uploading part {} of {n_parts} of {rel}", i + 1), e))?;
                st.parts.insert(i, part.content_id);
                write_json_atomic(state, &st)?;
                done_bytes += part_len(i, size);
                if !progress(done_bytes as f64 / size as f64) {
                    set.abort_all();
                    return Err(PublishError::Cancelled);
                }
            }
            Ok(())
        });
        match result {
            Ok(()) => {}
            Err(PublishError::Cancelled) => {
                let _ = self.rt.block_on(self.store.abort_multipart(&key, &st.upload_id));
                let _ = std::fs::remove_file(state);
                return Err(PublishError::Cancelled);
            }
            Err(e) if may_restart && e.to_string().contains("NoSuchUpload") => {
                // The server forgot the upload (aborted or expired): start over, once.
                let _ = std::fs::remove_file(state);
                return self.upload_file_once(rel, path, content_type, state, max_rate, progress, false);
            }
            Err(e) => {
                return Err(match e {
                    PublishError::Network(m) => PublishError::Network(format!("{m}. {} of {n_parts} parts are stored; the same command resumes from there", st.parts.len())),
                    other => other,
                })
            }
        }
        let parts: Vec<PartId> = st.parts.values().map(|c| PartId { content_id: c.clone() }).collect();
        self.rt.block_on(self.store.complete_multipart(&key, &st.upload_id, parts)).map_err(|e| self.explain(&format!("completing the upload of {rel}"), e))?;
        let _ = std::fs::remove_file(state);
        Ok(Uploaded { bytes: size, resumed_parts, parts: n_parts })
    }
}

fn part_len(i: usize, size: u64) -> u64 {
    let start = i as u64 * PART_SIZE;
    (size - start).min(PART_SIZE)
}
