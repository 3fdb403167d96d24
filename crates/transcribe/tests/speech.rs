//! Real speech (espeak-ng) through the installed model: words right, times right, nothing lost
//! at a window boundary. Needs `scripts/setup.sh test` (espeak-ng, sox, the models); without
//! them these tests fail and say so.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::AtomicBool;

use reel_transcribe::eval::{wer, words as norm, SENTENCES};
use reel_transcribe::{Engine, Options, RATE};

/// Speaks `text` into 16 kHz mono f32 samples.
fn speak(text: &str, dir: &Path) -> Vec<f32> {
    let wav = dir.join("s.wav");
    let raw = dir.join("s.raw");
    let st = Command::new("espeak-ng").args(["-v", "en-us", "-s", "150", "-w"]).arg(&wav).arg(text).status().expect("espeak-ng runs (scripts/setup.sh test installs it)");
    assert!(st.success(), "espeak-ng failed");
    let st = Command::new("sox").arg(&wav).args(["-r", "16000", "-c", "1", "-t", "f32"]).arg(&raw).status().expect("sox runs");
    assert!(st.success(), "sox failed");
    std::fs::read(&raw).expect("raw").chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

/// First and last sample louder than speech's floor.
fn voiced(s: &[f32]) -> (usize, usize) {
    let first = s.iter().position(|v| v.abs() > 0.02).expect("speech");
    let last = s.iter().rposition(|v| v.abs() > 0.02).expect("speech");
    (first, last)
}

fn check(model: &str, bound: f64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut audio = vec![0f32; RATE as usize / 2];
    let mut onsets = Vec::new();
    for (i, s) in SENTENCES.iter().enumerate() {
        let clip = speak(s, dir.path());
        let (a, b) = voiced(&clip);
        onsets.push(((audio.len() + a) as f64 / RATE as f64, (audio.len() + b) as f64 / RATE as f64));
        audio.extend_from_slice(&clip);
        // Pauses of varied length, as people leave them.
        audio.extend(std::iter::repeat_n(0.0, RATE as usize * (4 + i % 3) / 10));
    }
    let total = audio.len() as f64 / RATE as f64;
    assert!(total > 35.0, "the speech must cross a 30 s window ({total:.1} s)");
    let engine = Engine::load(model, 2).unwrap_or_else(|e| panic!("{e}"));
    let mut chunks = audio.chunks(4000).map(|c| c.to_vec());
    let mut seen = 0.0;
    let t = engine.transcribe(|| Ok(chunks.next()), &Options::default(), &mut |s| seen = s, &AtomicBool::new(false)).expect("transcribe");
    assert!((seen - total).abs() < 0.01, "progress reached {seen} of {total}");
    let truth: Vec<String> = SENTENCES.iter().flat_map(|s| norm(s)).collect();
    let got: Vec<String> = norm(&t.text());
    let w = wer(&truth, &got);
    eprintln!("{model}: WER {:.1}% over {} words, {total:.1} s\n{}", w * 100.0, truth.len(), t.text());
    assert!(w <= bound, "{model}: WER {:.1}% above {:.0}%:\n{}", w * 100.0, bound * 100.0, t.text());
    for w in &t.words {
        eprint!("{}[{:.2}-{:.2}] ", w.text, w.start, w.end);
    }
    eprintln!();
    // Every sentence's first and last words (where heard right; WER counts the others) are
    // where they were spoken (±0.3 s).
    let mut checked = 0;
    for (s, &(on, off)) in SENTENCES.iter().zip(&onsets) {
        let first = norm(s)[0].clone();
        let last = norm(s).last().cloned().expect("words");
        let near = |w: &&reel_media::transcript::Word, t: f64| (w.start - t).abs() < 2.0;
        if let Some(w0) = t.words.iter().filter(|w| norm(&w.text).first() == Some(&first) && near(w, on)).min_by(|a, b| (a.start - on).abs().total_cmp(&(b.start - on).abs())) {
            assert!((w0.start - on).abs() <= 0.3, "{first:?} starts at {:.2}, spoken at {on:.2}", w0.start);
            checked += 1;
        }
        if let Some(w1) = t.words.iter().filter(|w| norm(&w.text).first() == Some(&last) && near(w, off)).min_by(|a, b| (a.end - off).abs().total_cmp(&(b.end - off).abs())) {
            assert!((w1.end - off).abs() <= 0.3, "{last:?} ends at {:.2}, spoken until {off:.2}", w1.end);
            checked += 1;
        }
    }
    assert!(checked >= SENTENCES.len() * 2 - 3, "only {checked} sentence edges were heard right");
    assert!(t.words.windows(2).all(|p| p[0].start <= p[1].start && p[0].start <= p[0].end));
}

#[test]
fn tiny_en_hears_the_words_and_when() {
    check("tiny.en", 0.10);
}

#[test]
fn base_hears_the_words_and_when() {
    check("base", 0.08);
}

#[test]
fn silence_gives_no_words() {
    let engine = Engine::load("tiny.en", 2).unwrap_or_else(|e| panic!("{e}"));
    let mut once = Some(vec![0f32; RATE as usize * 40]);
    let t = engine.transcribe(|| Ok(once.take()), &Options::default(), &mut |_| {}, &AtomicBool::new(false)).expect("transcribe");
    assert!(t.words.is_empty(), "{:?}", t.text());
}

#[test]
fn a_language_the_model_cannot_is_refused() {
    let engine = Engine::load("tiny.en", 1).unwrap_or_else(|e| panic!("{e}"));
    let e = engine.transcribe(|| Ok(None), &Options { language: "de".into(), beam_size: 1, verbatim: true }, &mut |_| {}, &AtomicBool::new(false)).expect_err("English only");
    assert!(e.to_string().contains("English only"), "{e}");
}
