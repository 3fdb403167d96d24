//! What was said in a recording, word by word with times: the one form every consumer reads
//! (captions, search, the transcript panel, editing by transcript). It lives here, among the
//! plain types, so the library can store it and move it through edits without knowing how it
//! was made (crates/transcribe makes it).
//!
//! Invariants: words are in time order, each `start <= end`, times in seconds of the recording
//! as it is now (edits map them, [`Transcript::map_through`]).

use serde::{Deserialize, Serialize};

/// One spoken word. `text` keeps its punctuation ("Hello," "world.").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Word {
    pub text: String,
    pub start: f64,
    pub end: f64,
    /// The model's confidence, 0..1.
    #[serde(default)]
    pub p: f32,
}

/// A transcript: the words, and what made them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    /// The model ("whisper-tiny.en").
    pub model: String,
    /// The spoken language (ISO 639-1, "en").
    pub language: String,
    pub words: Vec<Word>,
}

/// A caption cue: a line or two of words shown together.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cue {
    pub start: f64,
    pub end: f64,
    pub text: String,
    /// Indices of its words in [`Transcript::words`].
    pub first: usize,
    pub last: usize,
}

/// Caption lines are kept short enough to read at a glance (about two lines of 42 characters,
/// the common broadcast guideline), at most this long on screen, and broken at pauses.
const CUE_MAX_CHARS: usize = 84;
const CUE_MAX_S: f64 = 6.0;
const CUE_PAUSE_S: f64 = 0.8;

/// Words people say while thinking, which "remove filler words" offers to cut.
pub const FILLERS: &[&str] = &["um", "umm", "uh", "uhh", "er", "erm", "ah", "hmm", "mm"];

impl Transcript {
    /// The plain text, words joined by spaces.
    pub fn text(&self) -> String {
        self.words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ")
    }

    /// Groups the words into caption cues: a new cue after a sentence's end once the cue has
    /// a few words, after a pause, or when it would be too long to read.
    pub fn cues(&self) -> Vec<Cue> {
        let mut cues: Vec<Cue> = Vec::new();
        let mut cur: Option<Cue> = None;
        for (i, w) in self.words.iter().enumerate() {
            if let Some(c) = cur.as_mut() {
                let too_long = c.text.chars().count() + 1 + w.text.chars().count() > CUE_MAX_CHARS || w.end - c.start > CUE_MAX_S;
                let paused = w.start - c.end > CUE_PAUSE_S;
                let sentence = c.text.ends_with(['.', '?', '!']) && c.last - c.first >= 2;
                if too_long || paused || sentence {
                    cues.extend(cur.take());
                }
            }
            match cur.as_mut() {
                Some(c) => {
                    c.text.push(' ');
                    c.text.push_str(&w.text);
                    c.end = w.end.max(c.end);
                    c.last = i;
                }
                None => cur = Some(Cue { start: w.start, end: w.end, text: w.text.clone(), first: i, last: i }),
            }
        }
        cues.extend(cur);
        cues
    }

    /// WebVTT captions.
    pub fn to_vtt(&self) -> String {
        let mut out = String::from("WEBVTT\n");
        for c in self.cues() {
            // A cue's end is at least a little after its start, or players skip it.
            let end = c.end.max(c.start + 0.2);
            out.push_str(&format!("\n{} --> {}\n{}\n", timestamp(c.start, '.'), timestamp(end, '.'), escape_vtt(&c.text)));
        }
        out
    }

    /// SubRip captions.
    pub fn to_srt(&self) -> String {
        let mut out = String::new();
        for (i, c) in self.cues().iter().enumerate() {
            let end = c.end.max(c.start + 0.2);
            out.push_str(&format!("{}\n{} --> {}\n{}\n\n", i + 1, timestamp(c.start, ','), timestamp(end, ','), c.text));
        }
        out
    }

    /// Plain text, a cue per line with its time, for reading.
    pub fn to_txt(&self) -> String {
        self.cues().iter().map(|c| format!("[{}] {}\n", clock(c.start), c.text)).collect()
    }

    /// The transcript of the recording after an edit that kept `keep` (source seconds, in
    /// order, not overlapping), joined end to end: words inside a kept range move with it,
    /// words cut (even partly) go.
    pub fn map_through(&self, keep: &[(f64, f64)]) -> Transcript {
        let mut words = Vec::new();
        let mut offset = 0.0;
        for &(a, b) in keep {
            // A word straddling a cut by less than a frame still counts as inside.
            const SLACK: f64 = 0.04;
            for w in &self.words {
                if w.start >= a - SLACK && w.end <= b + SLACK {
                    let start = (w.start - a).max(0.0) + offset;
                    let end = (w.end.min(b) - a).max(0.0) + offset;
                    words.push(Word { text: w.text.clone(), start, end: end.max(start), p: w.p });
                }
            }
            offset += b - a;
        }
        Transcript { model: self.model.clone(), language: self.language.clone(), words }
    }

    /// The transcript of the recording played at `speed` (times divided).
    pub fn scaled(&self, speed: f64) -> Transcript {
        let s = if speed > 0.0 { speed } else { 1.0 };
        let words = self.words.iter().map(|w| Word { start: w.start / s, end: w.end / s, ..w.clone() }).collect();
        Transcript { model: self.model.clone(), language: self.language.clone(), words }
    }

    /// The ranges (seconds) of filler words ("um", "uh"…) and of a word said twice in a row
    /// ("the the": the first), each widened to the gap before the next word so what is left
    /// joins without a jump.
    pub fn filler_ranges(&self) -> Vec<(f64, f64)> {
        let norm = |w: &Word| w.text.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'').to_lowercase();
        let mut out = Vec::new();
        for (i, w) in self.words.iter().enumerate() {
            let t = norm(w);
            let next = self.words.get(i + 1);
            let repeated = next.is_some_and(|n| !t.is_empty() && norm(n) == t && !w.text.ends_with(['.', ',', '?', '!']));
            if FILLERS.contains(&t.as_str()) || repeated {
                let end = next.map(|n| n.start).unwrap_or(w.end).max(w.end);
                out.push((w.start, end));
            }
        }
        merge(out)
    }

    /// The parts of pauses between two words longer than `longer_than` seconds that can go so
    /// that each pause is left `longer_than` long. Only pauses with speech on both sides: before
    /// the first word and after the last there may be sound the model did not put into words
    /// (music, another language), which is not for a transcript to cut.
    pub fn silence_ranges(&self, longer_than: f64) -> Vec<(f64, f64)> {
        let keep = longer_than.max(0.1);
        let mut out = Vec::new();
        let mut prev_end: Option<f64> = None;
        for w in &self.words {
            if let Some(p) = prev_end {
                if w.start - p > keep {
                    let half = keep / 2.0;
                    out.push((p + half, w.start - half));
                }
            }
            prev_end = Some(prev_end.map_or(w.end, |p| p.max(w.end)));
        }
        out
    }

    /// The range from the first word matching `from` to the last of the following words
    /// matching `to` (compared without case and punctuation), starting the search at `after`
    /// seconds: for "cut these words".
    pub fn find_words(&self, from: &str, to: &str, after: f64) -> Option<(f64, f64)> {
        let toks = |s: &str| s.split_whitespace().map(|w| w.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'').to_lowercase()).filter(|w| !w.is_empty()).collect::<Vec<_>>();
        let (from, to) = (toks(from), toks(to));
        if from.is_empty() {
            return None;
        }
        let norm: Vec<String> = self.words.iter().map(|w| w.text.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'').to_lowercase()).collect();
        let matches_at = |i: usize, pat: &[String]| pat.iter().enumerate().all(|(k, p)| norm.get(i + k) == Some(p));
        let i = (0..norm.len()).find(|&i| self.words[i].start >= after - 1e-6 && matches_at(i, &from))?;
        // LAST is looked for after FIRST ("um…um" spans two of them).
        let last = if to.is_empty() { i + from.len() - 1 } else { (i + from.len()..norm.len()).find(|&j| matches_at(j, &to))? + to.len() - 1 };
        Some((self.words[i].start, self.words[last].end))
    }
}

fn merge(mut v: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out: Vec<(f64, f64)> = Vec::new();
    for (a, b) in v {
        match out.last_mut() {
            Some(l) if a <= l.1 + 1e-6 => l.1 = l.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

fn escape_vtt(s: &str) -> String {
    // "-->" and a blank line would end the cue; < and & start markup.
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace("\n\n", "\n")
}

fn timestamp(s: f64, sep: char) -> String {
    let ms = (s.max(0.0) * 1000.0).round() as u64;
    format!("{:02}:{:02}:{:02}{sep}{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
}

fn clock(s: f64) -> String {
    let t = s.max(0.0) as u64;
    if t >= 3600 {
        format!("{}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60)
    } else {
        format!("{}:{:02}", t / 60, t % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(words: &[(&str, f64, f64)]) -> Transcript {
        Transcript { model: "m".into(), language: "en".into(), words: words.iter().map(|&(w, s, e)| Word { text: w.into(), start: s, end: e, p: 1.0 }).collect() }
    }

    #[test]
    fn cues_break_at_sentences_and_pauses() {
        let tr = t(&[("Hello", 0.0, 0.4), ("there,", 0.4, 0.8), ("my", 0.8, 1.0), ("friend.", 1.0, 1.5), ("Next", 1.6, 2.0), ("one", 4.0, 4.3)]);
        let cues = tr.cues();
        assert_eq!(cues.iter().map(|c| c.text.as_str()).collect::<Vec<_>>(), ["Hello there, my friend.", "Next", "one"]);
        let vtt = tr.to_vtt();
        assert!(vtt.starts_with("WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHello there, my friend.\n"), "{vtt}");
        assert!(tr.to_srt().starts_with("1\n00:00:00,000 --> 00:00:01,500\n"));
    }

    #[test]
    fn edits_move_words_and_drop_cut_ones() {
        let tr = t(&[("a", 0.0, 0.5), ("b", 1.0, 1.5), ("c", 2.0, 2.5), ("d", 3.0, 3.5)]);
        let m = tr.map_through(&[(0.0, 0.9), (1.9, 4.0)]);
        assert_eq!(m.words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>(), ["a", "c", "d"]);
        assert!((m.words[1].start - 1.0).abs() < 1e-9 && (m.words[2].start - 2.0).abs() < 1e-9);
        let s = tr.scaled(2.0);
        assert!((s.words[3].end - 1.75).abs() < 1e-9);
    }

    #[test]
    fn fillers_repeats_and_silences() {
        let tr = t(&[("So", 0.0, 0.3), ("um,", 0.5, 0.9), ("the", 1.0, 1.2), ("the", 1.3, 1.5), ("plan.", 1.6, 2.0), ("Done", 5.0, 5.3)]);
        assert_eq!(tr.filler_ranges(), vec![(0.5, 1.3)]);
        let s = tr.silence_ranges(1.0);
        assert_eq!(s, vec![(2.5, 4.5)]);
        assert_eq!(tr.find_words("um", "the", 0.0), Some((0.5, 1.2)));
        assert_eq!(tr.find_words("the", "the", 0.0), Some((1.0, 1.5)));
        assert_eq!(tr.find_words("the plan", "", 0.0), Some((1.3, 2.0)));
        assert_eq!(tr.find_words("so", "plan", 0.0), Some((0.0, 2.0)));
        assert_eq!(tr.find_words("nothing", "", 0.0), None);
    }

    #[test]
    fn markup_in_words_is_escaped() {
        let tr = t(&[("<b>", 0.0, 0.5), ("-->", 0.5, 1.0)]);
        assert!(tr.to_vtt().contains("&lt;b&gt; --&gt;"));
    }
}
