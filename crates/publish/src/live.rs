//! Upload while recording: the link is ready moments after stop.
//!
//! ```text
//!  recorder ──writes──> partial.mp4 (fragmented: moov, then moof+mdat pairs, only appended)
//!                          │ read through our own descriptor (the recorder may delete the path)
//!  live thread: every 100 ms, while ≥ 5 MiB are unsent → upload the next part
//!  finish():    read the tail → last part → re-read every part and compare → complete
//! ```
//! The fragmented file is append-only by construction, and that is checked, not trusted: every
//! part's hash is compared with the file's final bytes before the upload is completed. If they
//! differ, the multipart upload is aborted and `finish` says so, and the caller uploads the
//! final file the ordinary way. Until completion the object does not exist under its key.

use std::hash::Hasher;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use object_store::multipart::{MultipartStore, PartId};
use object_store::{Attribute, Attributes, PutMultipartOptions, PutPayload};

use crate::client::Client;
use crate::upload::Uploaded;
use crate::{random_id, PublishError};

/// S3's smallest part: sent as soon as that much is recorded.
const LIVE_PART: u64 = 5 << 20;

pub struct LiveUpload {
    /// The publication this video belongs to (`<pub_id>/video.mp4`).
    pub pub_id: String,
    done: mpsc::Sender<()>,
    thread: Option<JoinHandle<Result<Uploaded, PublishError>>>,
}

fn hash(b: &[u8]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    h.write(b);
    h.finish()
}

struct Part {
    offset: u64,
    len: u64,
    hash: u64,
    id: PartId,
}

impl LiveUpload {
    /// Starts uploading `partial` (which the recorder is writing) as it grows.
    pub fn start(client: Arc<Client>, partial: &Path) -> Result<LiveUpload, PublishError> {
        let file = std::fs::File::open(partial).map_err(|e| PublishError::Io(format!("cannot read {}: {e}", partial.display())))?;
        let pub_id = random_id()?;
        let key = client.key(&format!("{pub_id}/video.mp4"));
        let mut a = Attributes::new();
        a.insert(Attribute::ContentType, "video/mp4".into());
        let upload_id = client
            .rt
            .block_on(client.store.create_multipart_opts(&key, PutMultipartOptions { attributes: a, ..Default::default() }))
            .map_err(|e| client.explain("starting the upload", e))?;
        let (done, done_rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("reel-live-upload".into())
            .spawn(move || {
                let r = run(&client, &key, &upload_id, &file, &done_rx);
                if r.is_err() {
                    let _ = client.rt.block_on(client.store.abort_multipart(&key, &upload_id));
                }
                r
            })
            .map_err(|e| PublishError::Io(e.to_string()))?;
        Ok(LiveUpload { pub_id, done, thread: Some(thread) })
    }

    /// The recorder has closed the file: sends the tail, checks every part, completes.
    pub fn finish(mut self) -> Result<Uploaded, PublishError> {
        let _ = self.done.send(());
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            _ => Err(PublishError::Io("the upload thread stopped unexpectedly".into())),
        }
    }
}

impl Drop for LiveUpload {
    fn drop(&mut self) {
        // Dropped without finish (the recording failed): the thread sees the channel close,
        // and aborts the upload rather than completing a video nobody stopped.
        if let Some(t) = self.thread.take() {
            drop(std::mem::replace(&mut self.done, mpsc::channel().0));
            let _ = t.join();
        }
    }
}

fn run(client: &Client, key: &object_store::path::Path, upload_id: &str, file: &std::fs::File, done: &mpsc::Receiver<()>) -> Result<Uploaded, PublishError> {
    let mut parts: Vec<Part> = Vec::new();
    let mut sent = 0u64;
    let read_at = |offset: u64, len: u64| -> Result<Vec<u8>, PublishError> {
        let mut buf = vec![0u8; len as usize];
        file.read_exact_at(&mut buf, offset).map_err(|e| PublishError::Io(format!("cannot read the recording: {e}")))?;
        Ok(buf)
    };
    let upload = |offset: u64, len: u64, parts: &mut Vec<Part>| -> Result<(), PublishError> {
        let buf = read_at(offset, len)?;
        let h = hash(&buf);
        let idx = parts.len();
        let id = client.rt.block_on(client.store.put_part(key, &upload_id.to_string(), idx, PutPayload::from(buf))).map_err(|e| client.explain("uploading while recording", e))?;
        parts.push(Part { offset, len, hash: h, id });
        Ok(())
    };
    let finished = loop {
        let stop = match done.recv_timeout(Duration::from_millis(100)) {
            Ok(()) => Some(true),
            Err(mpsc::RecvTimeoutError::Disconnected) => Some(false),
            Err(mpsc::RecvTimeoutError::Timeout) => None,
        };
        let len = file.metadata().map_err(|e| PublishError::Io(e.to_string()))?.len();
        while len.saturating_sub(sent) >= LIVE_PART {
            upload(sent, LIVE_PART, &mut parts)?;
            sent += LIVE_PART;
        }
        match stop {
            Some(true) => break true,
            Some(false) => break false,
            None => {}
        }
    };
    if !finished {
        return Err(PublishError::Cancelled);
    }
    let len = file.metadata().map_err(|e| PublishError::Io(e.to_string()))?.len();
    if len > sent || parts.is_empty() {
        upload(sent, len - sent, &mut parts)?;
    }
    // Append-only is checked: the file's final bytes must be the bytes we sent.
    for p in &parts {
        if p.offset + p.len > len || hash(&read_at(p.offset, p.len)?) != p.hash {
            return Err(PublishError::Io("the recording changed bytes already uploaded; it will be uploaded again whole".into()));
        }
    }
    let n = parts.len();
    let ids: Vec<PartId> = parts.into_iter().map(|p| p.id).collect();
    client.rt.block_on(client.store.complete_multipart(key, &upload_id.to_string(), ids)).map_err(|e| client.explain("completing the upload", e))?;
    Ok(Uploaded { bytes: len, resumed_parts: 0, parts: n })
}
