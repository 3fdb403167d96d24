//! Speech to text on the user's machine: Whisper (CTranslate2 through ct2rs), nothing sent
//! anywhere.
//!
//! ```text
//! 16 kHz mono samples ─> [buffer ≤ 30 s] ─ cut at the quietest 200 ms of its last 10 s ─>
//!   log-mel (ours, normalised over the window) ─> encode ─> generate (text) ─> align (DTW on
//!   the cross-attention) ─> words with times ─> Transcript (reel_media::transcript)
//! ```
//!
//! Why our own windowing: Whisper sees 30 s at a time, and cutting the audio at fixed 30 s
//! marks (as ct2rs's high-level API does) splits a word or a sentence in two and loses it. A
//! window here ends at the quietest moment of its last ten seconds, which in speech is a pause
//! between words, and the next window starts there. Samples are fed as they are decoded, so
//! memory stays at one window whatever the length of the recording.
//!
//! Models are folders in CTranslate2's format installed by `scripts/models.py` from PyPI
//! wheels; their model.bin's SHA-256 is checked before loading (the table below is the same
//! as the script's), so a damaged or partial download is an error that says how to fix it,
//! not a crash inside the engine.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use ct2rs::sys::{self, ComputeType, StorageView, WhisperOptions};
use reel_media::transcript::{Transcript, Word};
use sha2::Digest;

pub mod eval;
mod mel;

/// Samples per second Whisper hears.
pub const RATE: u32 = 16_000;
const WINDOW: usize = 30 * RATE as usize;
/// Where a window may end when audio goes on: its last ten seconds.
const CUT_FROM: usize = 20 * RATE as usize;
/// Encoder frames per second (20 ms each).
const FRAMES_PER_S: f64 = 50.0;

/// A model Reel knows: its folder under the models directory and its checksum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelSpec {
    /// As users type it: "tiny.en", "base".
    pub name: &'static str,
    pub multilingual: bool,
    /// SHA-256 of model.bin (as in scripts/models.py).
    pub sha256: &'static str,
    pub size: u64,
}

/// The models `scripts/models.py` installs. tiny.en is the default: English only, about twice
/// as fast as base (PLATFORM.md); base speaks 99 languages.
pub const MODELS: &[ModelSpec] = &[
    ModelSpec { name: "tiny.en", multilingual: false, sha256: "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a", size: 75_537_502 },
    ModelSpec { name: "base", multilingual: true, sha256: "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9", size: 145_217_532 },
];

pub const DEFAULT_MODEL: &str = "tiny.en";

#[derive(Debug, thiserror::Error)]
pub enum TranscribeError {
    #[error("there is no speech model named {0:?}; the models are {list}", list = MODELS.iter().map(|m| m.name).collect::<Vec<_>>().join(", "))]
    UnknownModel(String),
    #[error("the speech model {name} is not installed (looked in {}); the set-up installs it", dir.display())]
    ModelMissing { name: String, dir: PathBuf },
    #[error("the speech model {name} in {} is damaged ({why}); the set-up installs it again", dir.display())]
    ModelDamaged { name: String, dir: PathBuf, why: String },
    #[error("{model} understands English only; for {language:?} choose the model base")]
    EnglishOnly { model: String, language: String },
    #[error("{0:?} is not a language the speech model knows; use a two-letter code such as en, de, fr, or auto")]
    UnknownLanguage(String),
    #[error("transcription was cancelled")]
    Cancelled,
    #[error("the speech engine failed: {0}")]
    Engine(String),
}

/// Where models are looked for: `$REEL_MODELS`, else `~/.local/share/reel/models` (the XDG data
/// folder, where `scripts/models.py` puts them).
pub fn models_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("REEL_MODELS").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    directories::ProjectDirs::from("", "", "reel").map(|p| p.data_dir().join("models")).unwrap_or_else(|| PathBuf::from("reel-models"))
}

pub fn spec(name: &str) -> Result<&'static ModelSpec, TranscribeError> {
    MODELS.iter().find(|m| m.name == name).ok_or_else(|| TranscribeError::UnknownModel(name.to_string()))
}

/// A loaded model, ready to transcribe (one at a time; it uses `threads` cores).
pub struct Engine {
    spec: &'static ModelSpec,
    whisper: sys::Whisper,
    tok: ct2rs::tokenizers::hf::Tokenizer,
    eot: usize,
    mel: mel::Mel,
}

/// What to transcribe and how.
#[derive(Clone, Debug)]
pub struct Options {
    /// "auto" or an ISO 639-1 code.
    pub language: String,
    /// Beam width; 1 is greedy.
    pub beam_size: usize,
    /// Keep hesitations ("um", "uh") in the transcript.
    pub verbatim: bool,
}

/// The earlier text Whisper is given so that it writes hesitations down.
pub const VERBATIM_PROMPT: &str = " Umm, let me think, like, hmm... Okay, uh, here's what I'm, um, thinking.";

impl Default for Options {
    fn default() -> Self {
        Options { language: "auto".into(), beam_size: 5, verbatim: true }
    }
}

impl Engine {
    /// Checks the model's files and checksum, then loads it (int8 on the CPU).
    pub fn load(name: &str, threads: usize) -> Result<Engine, TranscribeError> {
        let spec = spec(name)?;
        let dir = models_dir().join(format!("whisper-{}", spec.name));
        verify(spec, &dir)?;
        let config = sys::Config { compute_type: ComputeType::INT8, num_threads_per_replica: threads.max(1), ..Default::default() };
        let damaged = |why: String| TranscribeError::ModelDamaged { name: spec.name.into(), dir: dir.clone(), why };
        let whisper = sys::Whisper::new(&dir, config).map_err(|e| damaged(e.to_string()))?;
        let tok = ct2rs::tokenizers::hf::Tokenizer::new(&dir).map_err(|e| damaged(format!("its tokenizer: {e}")))?;
        let eot = tok.token_to_id("<|endoftext|>").ok_or_else(|| damaged("its tokenizer has no end-of-text token".into()))? as usize;
        let mel = mel::Mel::new(whisper.n_mels());
        Ok(Engine { spec, whisper, tok, eot, mel })
    }

    pub fn spec(&self) -> &'static ModelSpec {
        self.spec
    }

    fn id(&self, token: &str) -> Result<usize, TranscribeError> {
        self.tok.token_to_id(token).map(|i| i as usize).ok_or_else(|| TranscribeError::Engine(format!("the tokenizer has no {token}")))
    }

    /// Transcribes 16 kHz mono samples pulled from `next` (any chunk sizes, `None` at the end).
    /// `progress` gets the seconds done; `cancel` stops between windows.
    pub fn transcribe(
        &self,
        mut next: impl FnMut() -> Result<Option<Vec<f32>>, String>,
        opts: &Options,
        progress: &mut dyn FnMut(f64),
        cancel: &AtomicBool,
    ) -> Result<Transcript, TranscribeError> {
        let mut language = match opts.language.as_str() {
            "" | "auto" => None,
            l if !self.spec.multilingual && l != "en" => return Err(TranscribeError::EnglishOnly { model: self.spec.name.into(), language: l.into() }),
            l => {
                self.id(&format!("<|{l}|>")).map_err(|_| TranscribeError::UnknownLanguage(l.into()))?;
                Some(l.to_string())
            }
        };
        if !self.spec.multilingual {
            language = Some("en".into());
        }
        let mut words: Vec<Word> = Vec::new();
        let mut buf: Vec<f32> = Vec::with_capacity(WINDOW + RATE as usize);
        // Seconds of audio before buf[0].
        let mut origin = 0usize;
        let mut ended = false;
        loop {
            while !ended && buf.len() <= WINDOW {
                match next().map_err(TranscribeError::Engine)? {
                    Some(chunk) => buf.extend_from_slice(&chunk),
                    None => ended = true,
                }
            }
            if buf.is_empty() {
                break;
            }
            if cancel.load(Ordering::Relaxed) {
                return Err(TranscribeError::Cancelled);
            }
            let cut = if buf.len() > WINDOW { quietest_cut(&buf[..WINDOW]) } else { buf.len() };
            let at = origin as f64 / RATE as f64;
            words.extend(self.window(&buf[..cut], at, &mut language, opts)?);
            buf.drain(..cut);
            origin += cut;
            progress(origin as f64 / RATE as f64);
        }
        Ok(Transcript { model: format!("whisper-{}", self.spec.name), language: language.unwrap_or_else(|| "en".into()), words })
    }

    /// One window (≤ 30 s) starting at `at` seconds.
    fn window(&self, samples: &[f32], at: f64, language: &mut Option<String>, opts: &Options) -> Result<Vec<Word>, TranscribeError> {
        // Digital silence (a muted mic): nothing to hear, and Whisper would invent words.
        if samples.iter().all(|s| s.abs() < 1e-4) || samples.len() < RATE as usize / 10 {
            return Ok(Vec::new());
        }
        let err = |e: anyhow_like::E| TranscribeError::Engine(e.0);
        let mut feats = self.mel.compute(samples);
        let frames = feats.len() / self.mel.n_mels;
        let view = StorageView::new(&[1, self.mel.n_mels, frames], &mut feats, Default::default()).map_err(|e| err(e.into()))?;
        if language.is_none() {
            let detected = self.whisper.detect_language(&view).map_err(|e| err(e.into()))?;
            let best = detected.first().and_then(|d| d.first()).map(|d| d.language.clone()).unwrap_or_else(|| "<|en|>".into());
            *language = Some(best.trim_start_matches("<|").trim_end_matches("|>").to_string());
        }
        let encoded = self.whisper.encode(&view, false).map_err(|e| err(e.into()))?;
        let mut sot: Vec<String> = vec!["<|startoftranscript|>".into()];
        if self.spec.multilingual {
            sot.push(format!("<|{}|>", language.as_deref().unwrap_or("en")));
            sot.push("<|transcribe|>".into());
        }
        // A previous text full of hesitations: Whisper otherwise drops "um" and "uh" (it was
        // trained on tidied transcripts), and filler removal needs to see them.
        let mut prompt: Vec<String> = Vec::new();
        if opts.verbatim {
            prompt.push("<|startofprev|>".into());
            let enc = self.tok.encode(VERBATIM_PROMPT, false).map_err(|e| TranscribeError::Engine(e.to_string()))?;
            prompt.extend(enc.get_tokens().iter().cloned());
        }
        prompt.extend(sot.iter().cloned());
        prompt.push("<|notimestamps|>".into());
        let options = WhisperOptions { beam_size: opts.beam_size.max(1), return_scores: true, return_no_speech_prob: true, ..Default::default() };
        let res = self.whisper.generate(&encoded, &[prompt], &options).map_err(|e| err(e.into()))?;
        let Some(r) = res.into_iter().next() else { return Ok(Vec::new()) };
        let avg_logprob = r.scores.first().copied().unwrap_or(0.0);
        // Whisper's own rule: the no-speech token is likely and the text is unlikely.
        if r.no_speech_prob > 0.6 && avg_logprob < -1.0 {
            return Ok(Vec::new());
        }
        let ids: Vec<usize> = r.sequences_ids.into_iter().next().unwrap_or_default().into_iter().filter(|&i| i < self.eot).collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sot_ids = sot.iter().map(|t| self.id(t)).collect::<Result<Vec<_>, _>>()?;
        let content_frames = samples.len().div_ceil(mel::HOP);
        let aligned = self.whisper.align(&encoded, &sot_ids, std::slice::from_ref(&ids), &[content_frames], 7).map_err(|e| err(e.into()))?;
        let Some(a) = aligned.into_iter().next() else { return Ok(Vec::new()) };
        // The time each token (and the end-of-text after them) starts: where the DTW path
        // first reaches it.
        let mut starts = vec![f64::NAN; ids.len() + 1];
        for p in &a.alignments {
            if let Some(s) = starts.get_mut(p.token_x.max(0) as usize) {
                if s.is_nan() {
                    *s = p.frame_x as f64 / FRAMES_PER_S;
                }
            }
        }
        let mut last = 0.0;
        for s in starts.iter_mut() {
            if s.is_nan() || *s < last {
                *s = last;
            }
            last = *s;
        }
        let limit = samples.len() as f64 / RATE as f64;
        // Words begin at tokens that start with a space; punctuation and word pieces join the
        // word before.
        let mut groups: Vec<(usize, usize)> = Vec::new();
        for (i, &id) in ids.iter().enumerate() {
            let piece = self.tok.decode(&[id as u32], false).unwrap_or_default();
            if groups.is_empty() || piece.starts_with(' ') {
                groups.push((i, i + 1));
            } else if let Some(g) = groups.last_mut() {
                g.1 = i + 1;
            }
        }
        let mut out = Vec::new();
        for (a_i, b_i) in groups {
            let part: Vec<u32> = ids[a_i..b_i].iter().map(|&i| i as u32).collect();
            let text = self.tok.decode(&part, false).unwrap_or_default().trim().to_string();
            if text.is_empty() {
                continue;
            }
            let start = starts[a_i].min(limit);
            let end = starts[b_i].min(limit).max(start);
            let p = a.text_token_probs.get(a_i..b_i).map(|v| v.iter().sum::<f32>() / v.len().max(1) as f32).unwrap_or(0.0);
            out.push(Word { text, start, end, p });
        }
        cap_durations(&mut out);
        snap_to_voice(&mut out, samples);
        for w in &mut out {
            w.start += at;
            w.end += at;
        }
        Ok(out)
    }
}

/// A word's end is where the next begins, so the word before a pause would last the pause:
/// cap each at twice the median word (as Whisper's own word timing does), at most 1.4 s.
fn cap_durations(words: &mut [Word]) {
    let mut d: Vec<f64> = words.iter().map(|w| w.end - w.start).filter(|&d| d > 0.0).collect();
    if d.is_empty() {
        return;
    }
    d.sort_by(f64::total_cmp);
    let max = (2.0 * d[d.len() / 2].min(0.7)).max(0.2);
    for w in words {
        if w.end - w.start > max {
            w.end = w.start + max;
        }
    }
}

/// The alignment gives a pause to the word next to it (the first word of a window starts at 0
/// however late it is spoken): move each word's edges in to where its sound is, judged by the
/// energy of 10 ms frames against the window's own speech level.
fn snap_to_voice(words: &mut [Word], samples: &[f32]) {
    if words.is_empty() || samples.is_empty() {
        return;
    }
    const HOP: usize = RATE as usize / 100;
    let rms: Vec<f32> = samples.chunks(HOP).map(|c| (c.iter().map(|s| s * s).sum::<f32>() / c.len() as f32).sqrt()).collect();
    let mut sorted = rms.clone();
    sorted.sort_by(f32::total_cmp);
    let loud = sorted[(sorted.len() * 95 / 100).min(sorted.len() - 1)];
    let floor = sorted[sorted.len() / 10];
    let thr = (floor + 0.1 * (loud - floor)).max(1e-4);
    let frame = |t: f64| ((t * 100.0) as usize).min(rms.len());
    for w in words.iter_mut() {
        let (a, b) = (frame(w.start), frame(w.end).max(frame(w.start) + 1).min(rms.len()));
        if let Some(i) = (a..b).find(|&i| rms[i] > thr) {
            let j = (a..b).rev().find(|&j| rms[j] > thr).unwrap_or(i);
            w.start = w.start.max(i as f64 / 100.0);
            w.end = w.end.min((j + 1) as f64 / 100.0).max(w.start);
        }
    }
    // Sound running straight into a word, after the word before has ended, is its beginning
    // (and sound running on after it, before the next, its end): the alignment often hands a
    // word's first syllable to the pause before it.
    for k in 0..words.len() {
        let lo = if k > 0 { frame(words[k - 1].end) } else { 0 };
        // Stops (p, t, k) are a short silence inside a word: gaps up to 80 ms are bridged.
        const GAP: usize = 8;
        let mut a = frame(words[k].start);
        while let Some(v) = (a.saturating_sub(GAP).max(lo)..a).rev().find(|&i| rms[i] > thr) {
            a = v;
        }
        words[k].start = words[k].start.min(a as f64 / 100.0);
        let hi = words.get(k + 1).map(|n| frame(n.start)).unwrap_or(rms.len());
        let mut b = frame(words[k].end);
        while let Some(v) = (b..(b + GAP).min(hi).min(rms.len())).find(|&i| rms[i] > thr) {
            b = v + 1;
        }
        words[k].end = words[k].end.max(b as f64 / 100.0);
    }
}

/// Where to end a window of audio that goes on: the middle of the quietest 200 ms in its last
/// ten seconds.
fn quietest_cut(w: &[f32]) -> usize {
    const HOP: usize = RATE as usize / 100;
    const SPAN: usize = 20;
    let energy: Vec<f64> = w[CUT_FROM..].chunks(HOP).map(|c| c.iter().map(|&s| (s as f64) * (s as f64)).sum::<f64>()).collect();
    let mut best = (f64::INFINITY, energy.len().saturating_sub(SPAN / 2));
    let mut run: f64 = energy.iter().take(SPAN).sum();
    for i in 0..energy.len().saturating_sub(SPAN) {
        // Later wins a tie: less left for the next window to redo.
        if run <= best.0 {
            best = (run, i + SPAN / 2);
        }
        run += energy[i + SPAN] - energy[i];
    }
    (CUT_FROM + best.1 * HOP).min(w.len())
}

/// The model folder's files are there and model.bin is the one the registry published.
pub fn verify(spec: &ModelSpec, dir: &Path) -> Result<(), TranscribeError> {
    let bin = dir.join("model.bin");
    let missing = || TranscribeError::ModelMissing { name: spec.name.into(), dir: dir.to_path_buf() };
    if !dir.is_dir() {
        return Err(missing());
    }
    let damaged = |why: String| TranscribeError::ModelDamaged { name: spec.name.into(), dir: dir.to_path_buf(), why };
    for f in ["config.json", "tokenizer.json", "vocabulary.txt"] {
        if !dir.join(f).is_file() {
            return Err(damaged(format!("{f} is missing")));
        }
    }
    let len = std::fs::metadata(&bin).map_err(|_| damaged("model.bin is missing".into()))?.len();
    if len != spec.size {
        return Err(damaged(format!("model.bin is {len} bytes, expected {}", spec.size)));
    }
    let mut f = std::fs::File::open(&bin).map_err(|e| damaged(format!("model.bin cannot be read: {e}")))?;
    let mut h = sha2::Sha256::new();
    let mut block = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut block).map_err(|e| damaged(format!("model.bin cannot be read: {e}")))?;
        if n == 0 {
            break;
        }
        h.update(&block[..n]);
    }
    let got = format!("{:x}", h.finalize());
    if got != spec.sha256 {
        return Err(damaged(format!("model.bin's SHA-256 is {got}, expected {}", spec.sha256)));
    }
    Ok(())
}

/// ct2rs reports errors as anyhow values; this keeps anyhow out of our signatures.
mod anyhow_like {
    pub struct E(pub String);
    impl<T: std::fmt::Display> From<T> for E {
        fn from(e: T) -> Self {
            E(format!("{e:#}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_ends_in_the_pause() {
        // 30 s of tone with a 300 ms gap at 24.0 s.
        let mut w: Vec<f32> = (0..WINDOW).map(|i| (i as f32 * 0.1).sin() * 0.5).collect();
        let gap = 24 * RATE as usize;
        for s in &mut w[gap..gap + 4800] {
            *s = 0.0;
        }
        let cut = quietest_cut(&w);
        assert!(cut >= gap && cut <= gap + 4800, "cut at {} s", cut as f64 / RATE as f64);
    }

    #[test]
    fn long_words_before_a_pause_are_capped() {
        let mut w = vec![
            Word { text: "a".into(), start: 0.0, end: 0.3, p: 1.0 },
            Word { text: "b".into(), start: 0.3, end: 0.6, p: 1.0 },
            Word { text: "c".into(), start: 0.6, end: 5.0, p: 1.0 },
        ];
        cap_durations(&mut w);
        assert!((w[2].end - 1.2).abs() < 1e-9, "{}", w[2].end);
    }

    #[test]
    fn a_missing_or_damaged_model_says_how_to_install_it() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = tmp.path();
        let spec = spec("tiny.en").expect("known");
        let e = verify(spec, &d.join("nope")).expect_err("missing");
        assert!(e.to_string().contains("not installed") && e.to_string().contains("set-up"), "{e}");
        for f in ["config.json", "tokenizer.json", "vocabulary.txt", "model.bin"] {
            std::fs::write(d.join(f), b"x").expect("write");
        }
        let e = verify(spec, d).expect_err("damaged");
        assert!(e.to_string().contains("damaged") && e.to_string().contains("bytes"), "{e}");
        assert!(matches!(self::spec("large"), Err(TranscribeError::UnknownModel(_))));
    }
}
