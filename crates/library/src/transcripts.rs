//! What was said in a recording: `transcript.json` (words with times, reel_media::transcript)
//! beside the video, and the captions made from it. The transcript is made after the recording
//! is already usable (crates/transcribe, run by crates/app in the background) and lands here
//! only if the video it was made from is still the recording's video; edits carry it along
//! (`Library::replace_video` maps it through the kept ranges, as captions and chapters).

use std::path::Path;

use reel_media::transcript::Transcript;

use crate::{file_identity, only_optimized, read_meta, Library, LibraryError};

/// Transcripts larger than this are not read (a 3-hour recording's is ~3 MB).
const MAX_TRANSCRIPT_BYTES: u64 = 64 << 20;

/// The transcript in a recording folder, if there is a readable one.
pub(crate) fn read(dir: &Path) -> Option<Transcript> {
    let p = dir.join("transcript.json");
    if std::fs::metadata(&p).ok()?.len() > MAX_TRANSCRIPT_BYTES {
        return None;
    }
    serde_json::from_slice(&std::fs::read(p).ok()?).ok()
}

/// Writes `transcript.json` into `dir`, and `captions.vtt` from it unless the creator attached
/// their own (`captions_ours` false and a captions file there).
pub(crate) fn write(dir: &Path, t: &Transcript, captions_ours: bool) -> Result<(), LibraryError> {
    let p = dir.join("transcript.json");
    let json = serde_json::to_vec(t).map_err(|e| LibraryError::Invalid(e.to_string()))?;
    reel_media::durable::write(&p, &json).map_err(|e| LibraryError::io(&p, e))?;
    let c = dir.join("captions.vtt");
    if captions_ours || !c.exists() {
        reel_media::durable::write(&c, t.to_vtt().as_bytes()).map_err(|e| LibraryError::io(&c, e))?;
    }
    Ok(())
}

/// A file's identity, to hand to [`Library::set_transcript`] with the transcript made from it.
pub type VideoIdentity = Option<(u64, u64, u64, i64, i64)>;

impl Library {
    /// The identity of a recording's video now, and its path: take it before transcribing.
    pub fn video_identity(&self, id: &str) -> Result<(std::path::PathBuf, VideoIdentity), LibraryError> {
        let id = self.resolve(id)?;
        let video = self.rec_dir(&id).join("video.mp4");
        Ok((video.clone(), file_identity(&video)))
    }

    /// Stores a transcript made from the video whose identity was `made_from`: transcript.json,
    /// the captions made from it (unless the creator attached their own), and the search
    /// index. If the video was replaced meanwhile by an edit, nothing changes and the error
    /// says so (the caller transcribes again); the download copy's swap does not count.
    pub fn set_transcript(&self, id: &str, t: &Transcript, made_from: VideoIdentity) -> Result<(), LibraryError> {
        let id = self.resolve(id)?;
        let dir = self.rec_dir(&id);
        let video = dir.join("video.mp4");
        self.locked(|| {
            let m = read_meta(&dir).map_err(LibraryError::Invalid)?;
            if file_identity(&video) != made_from && !only_optimized(&m, &video, made_from) {
                return Err(LibraryError::Invalid(format!("{id} was edited while it was being transcribed; transcribe it again")));
            }
            let ours = m.captions_from.is_some() || !dir.join("captions.vtt").exists();
            write(&dir, t, ours)?;
            if ours && m.captions_from.is_none() {
                self.update_meta_unlocked(&id, |m| m.captions_from = Some("transcript".into()))?;
            }
            self.lock().set_spoken(&id, t)
        })
    }

    /// A recording's transcript, if it has one.
    pub fn transcript(&self, id: &str) -> Result<Option<Transcript>, LibraryError> {
        let id = self.resolve(id)?;
        Ok(read(&self.rec_dir(&id)))
    }

    /// Removes `ranges` (seconds, any order, overlaps merged) from a recording in one edit; the
    /// previous version goes to the trash (as `cut`). `op` names the edit in its history.
    pub fn cut_ranges(&self, id: &str, ranges: &[(f64, f64)], op: &str, progress: reel_codec::edit::Progress<'_>) -> Result<crate::Meta, LibraryError> {
        let id = self.resolve(id)?;
        let dur = read_meta(&self.rec_dir(&id)).map(|m| m.duration_s).map_err(LibraryError::Invalid)?;
        let mut r: Vec<(f64, f64)> =
            ranges.iter().copied().filter(|&(a, b)| a.is_finite() && b.is_finite() && b > a).map(|(a, b)| (a.max(0.0), b.min(dur))).filter(|&(a, b)| b - a > 0.01).collect();
        r.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut keep = Vec::new();
        let mut at = 0.0;
        for (a, b) in r.iter().copied() {
            if a > at + 0.05 {
                keep.push((at, a));
            }
            at = f64::max(at, b);
        }
        if dur > at + 0.05 {
            keep.push((at, dur));
        }
        if r.is_empty() {
            return Err(LibraryError::Invalid("there is nothing to cut".into()));
        }
        if keep.is_empty() {
            return Err(LibraryError::Invalid("that would cut everything; delete the recording instead".into()));
        }
        let params = serde_json::json!({ "ranges": r });
        self.replace_video(&id, op, params, &keep, progress)
    }

    /// What "tidy" would cut: filler words and repeated words (`fillers`), and pauses longer
    /// than `silences` seconds shortened to that. Needs the transcript.
    pub fn tidy_ranges(&self, id: &str, fillers: bool, silences: Option<f64>) -> Result<Vec<(f64, f64)>, LibraryError> {
        let id = self.resolve(id)?;
        let dir = self.rec_dir(&id);
        let t = read(&dir).ok_or_else(|| LibraryError::Invalid(format!("{id} has no transcript yet; transcribe it first")))?;
        let mut r = Vec::new();
        if fillers {
            r.extend(t.filler_ranges());
        }
        if let Some(s) = silences {
            r.extend(t.silence_ranges(s));
        }
        r.sort_by(|a, b| a.0.total_cmp(&b.0));
        Ok(r)
    }

    /// The span of the words "FROM…TO" (the first place they are said, at or after `after`
    /// seconds), on word boundaries.
    pub fn find_words(&self, id: &str, from: &str, to: &str, after: f64) -> Result<(f64, f64), LibraryError> {
        let id = self.resolve(id)?;
        let t = read(&self.rec_dir(&id)).ok_or_else(|| LibraryError::Invalid(format!("{id} has no transcript yet; transcribe it first")))?;
        t.find_words(from, to, after).ok_or_else(|| LibraryError::Invalid(format!("\"{from}…{to}\" is not in {id}'s transcript")))
    }

    /// Recordings without a transcript yet, newest first (what the app transcribes at start).
    pub fn untranscribed(&self) -> Vec<String> {
        self.list().map(|l| l.into_iter().filter(|e| e.status == "ok" && !self.rec_dir(&e.id).join("transcript.json").exists()).map(|e| e.id).collect()).unwrap_or_default()
    }
}
