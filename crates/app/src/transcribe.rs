//! Transcripts: what `reel transcribe`, the app's background worker and the HTTP transport
//! call. The audio is decoded (16 kHz mono, streamed) by crates/codec, heard by
//! crates/transcribe, stored by crates/library, which keeps it only if the video it came from
//! is still the recording's (an edit made meanwhile means one more run).
//!
//! The background worker ([`Transcriber`]) is one thread at a low priority that takes the
//! recordings in order, so a new recording or an import is never slowed by more than one
//! transcription; while the app records it waits between windows.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use reel_library::Library;
use reel_media::transcript::Transcript;
use reel_transcribe::{Engine, Options, TranscribeError};

use crate::{ApiError, ErrorCode};

impl From<TranscribeError> for ApiError {
    fn from(e: TranscribeError) -> Self {
        let code = match e {
            TranscribeError::ModelMissing { .. } | TranscribeError::ModelDamaged { .. } => ErrorCode::ModelMissing,
            TranscribeError::UnknownModel(_) | TranscribeError::EnglishOnly { .. } | TranscribeError::UnknownLanguage(_) => ErrorCode::BadInput,
            TranscribeError::Cancelled => ErrorCode::Cancelled,
            TranscribeError::Engine(_) => ErrorCode::Internal,
        };
        ApiError::new(code, e.to_string())
    }
}

/// One loaded model kept between recordings (loading checks a 75–145 MB checksum and builds
/// the int8 weights: about a second).
static ENGINE: Mutex<Option<(String, usize, Arc<Engine>)>> = Mutex::new(None);

fn engine(model: &str, threads: usize) -> Result<Arc<Engine>, ApiError> {
    let mut slot = ENGINE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((m, t, e)) = slot.as_ref() {
        if m == model && *t == threads {
            return Ok(e.clone());
        }
    }
    let e = Arc::new(Engine::load(model, threads)?);
    *slot = Some((model.to_string(), threads, e.clone()));
    Ok(e)
}

/// Threads for the speech engine: the machine's cores (CTranslate2 scales to them).
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)
}

/// Transcribes a file's audio (16 kHz mono, streamed): `progress` gets the fraction done and
/// returns false to stop.
pub fn transcribe_file(path: &std::path::Path, model: &str, language: &str, threads: usize, progress: &mut dyn FnMut(f64) -> bool) -> Result<Transcript, ApiError> {
    let engine = engine(model, threads)?;
    let duration = reel_codec::edit::probe_header(path).map(|i| i.duration_s).unwrap_or(0.0);
    let mut reader = match reel_codec::decode::AudioReader::open_at(path, reel_transcribe::RATE) {
        Ok(r) => Some(r),
        // A recording without sound has nothing to say.
        Err(reel_codec::CodecError::NoStream { .. }) => None,
        Err(e) => return Err(ApiError::new(ErrorCode::BadInput, e.to_string())),
    };
    let cancel = AtomicBool::new(false);
    let mut report = |done: f64| {
        if !progress(if duration > 0.0 { (done / duration).min(1.0) } else { 0.0 }) {
            cancel.store(true, Ordering::Relaxed);
        }
    };
    // Samples laid out on the file's own clock: a gap in the sound (or audio that starts after
    // the picture) becomes silence, an overlap is dropped, so every word keeps its time.
    let rate = reel_transcribe::RATE as f64;
    let mut placed = 0usize;
    let next = || match reader.as_mut() {
        Some(r) => match r.next_chunk().map_err(|e| e.to_string())? {
            Some((at, mut s)) => {
                let want = (at.max(0.0) * rate).round() as usize;
                let slack = (rate * 0.02) as usize;
                if want > placed + slack {
                    let mut gap = vec![0f32; want - placed];
                    gap.append(&mut s);
                    s = gap;
                } else if want + slack < placed {
                    s.drain(..(placed - want).min(s.len()));
                }
                placed += s.len();
                Ok(Some(s))
            }
            None => Ok(None),
        },
        None => Ok(None),
    };
    let opts = Options { language: language.to_string(), ..Options::default() };
    Ok(engine.transcribe(next, &opts, &mut report, &cancel)?)
}

/// Transcribes a recording and stores the transcript (captions, search). If the recording was
/// edited while it ran, it runs once more on the edited video.
pub fn transcribe(lib: &Library, id: &str, model: &str, language: &str, progress: &mut dyn FnMut(f64) -> bool) -> Result<Transcript, ApiError> {
    let threads = default_threads();
    for attempt in 0..2 {
        let (video, identity) = lib.video_identity(id)?;
        let t = transcribe_file(&video, model, language, threads, progress)?;
        match lib.set_transcript(id, &t, identity) {
            Ok(()) => return Ok(t),
            Err(reel_library::LibraryError::Invalid(why)) if attempt == 0 && why.contains("edited") => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::new(ErrorCode::Busy, format!("{id} kept changing while it was being transcribed; try again")))
}

/// Where a recording's transcript stands, for the app.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum TranscriptState {
    Queued,
    Running { progress: f64 },
    Failed { code: ErrorCode, message: String },
}

#[derive(Default)]
struct Queue {
    todo: VecDeque<String>,
    states: BTreeMap<String, TranscriptState>,
}

/// The app's background transcription: one worker, a queue, the state of each job.
#[derive(Clone)]
pub struct Transcriber {
    inner: Arc<(Mutex<Queue>, Condvar)>,
    /// Set while the app records: the worker waits between windows.
    pub recording: Arc<AtomicBool>,
}

impl Transcriber {
    /// Starts the worker (a low-priority thread) for `lib`, with `model`.
    pub fn start(lib: Arc<Library>, model: String) -> Transcriber {
        let t = Transcriber { inner: Arc::new((Mutex::new(Queue::default()), Condvar::new())), recording: Arc::new(AtomicBool::new(false)) };
        let worker = t.clone();
        let spawned = std::thread::Builder::new().name("reel-transcribe".into()).spawn(move || {
            crate::background_priority();
            loop {
                let id = {
                    let (m, cv) = &*worker.inner;
                    let mut q = m.lock().unwrap_or_else(|p| p.into_inner());
                    loop {
                        if let Some(id) = q.todo.pop_front() {
                            q.states.insert(id.clone(), TranscriptState::Running { progress: 0.0 });
                            break id;
                        }
                        q = cv.wait(q).unwrap_or_else(|p| p.into_inner());
                    }
                };
                // Nothing starts while a recording runs (loading the model would take its cores).
                while worker.recording.load(Ordering::Relaxed) {
                    std::thread::sleep(std::time::Duration::from_millis(200));
                }
                let r = transcribe(&lib, &id, &model, "auto", &mut |f| {
                    while worker.recording.load(Ordering::Relaxed) {
                        std::thread::sleep(std::time::Duration::from_millis(200));
                    }
                    worker.set(&id, TranscriptState::Running { progress: f });
                    true
                });
                let (m, _) = &*worker.inner;
                let mut q = m.lock().unwrap_or_else(|p| p.into_inner());
                match r {
                    Ok(_) => {
                        q.states.remove(&id);
                    }
                    Err(e) => {
                        eprintln!("warning: {id} was not transcribed: {e}");
                        q.states.insert(id, TranscriptState::Failed { code: e.code, message: e.message });
                    }
                }
            }
        });
        if let Err(e) = spawned {
            eprintln!("warning: no thread for transcripts: {e}");
        }
        t
    }

    fn set(&self, id: &str, s: TranscriptState) {
        let (m, _) = &*self.inner;
        m.lock().unwrap_or_else(|p| p.into_inner()).states.insert(id.to_string(), s);
    }

    /// Adds recordings to the queue (each once).
    pub fn enqueue(&self, ids: impl IntoIterator<Item = String>) {
        let (m, cv) = &*self.inner;
        let mut q = m.lock().unwrap_or_else(|p| p.into_inner());
        for id in ids {
            if !q.todo.contains(&id) && !matches!(q.states.get(&id), Some(TranscriptState::Running { .. })) {
                q.todo.push_back(id.clone());
                q.states.insert(id, TranscriptState::Queued);
            }
        }
        cv.notify_one();
    }

    /// The recordings queued, running or failed (those done have their transcript).
    pub fn states(&self) -> BTreeMap<String, TranscriptState> {
        let (m, _) = &*self.inner;
        m.lock().unwrap_or_else(|p| p.into_inner()).states.clone()
    }
}
