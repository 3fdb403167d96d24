//! End to end for transcripts: real speech (espeak-ng) in a real video, imported with the real
//! `reel`, heard by the installed Whisper model; search finds a spoken word at its moment;
//! captions follow a trim and a 2x export; fillers are cut; without a model everything else
//! works and the error says how to install it.

use std::path::Path;
use std::process::Command;

use reel_tests::*;

fn lib_cmd(dir: &Path) -> Command {
    let mut c = reel(dir);
    c.env("REEL_LIBRARY", dir.join("lib"));
    c
}

fn import(dir: &Path, file: &Path, title: &str) -> (String, String) {
    let o = lib_cmd(dir).args(["import", "--json", "--title", title]).arg(file).output().expect("reel import");
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "import failed: {err}");
    (json(&o)["id"].as_str().expect("id").to_string(), err)
}

fn search(dir: &Path, q: &str) -> Vec<serde_json::Value> {
    json(&run_ok(lib_cmd(dir).args(["search", "--json", q]))).as_array().cloned().unwrap_or_default()
}

const PARTS: &[&str] =
    &["Welcome to the weekly update from the platform team.", "Remember to book the large meeting room early.", "Please review the onboarding checklist before Monday."];

#[test]
fn a_spoken_word_is_found_at_its_moment_and_captions_follow_a_trim_and_an_export() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (video, spans) = speech_video(dir.path(), PARTS, 1.5);
    let (id, _) = import(dir.path(), &video, "Weekly");
    // Spoken words in no title, description or slide: found, with the moment they were said.
    let hits = search(dir.path(), "remember");
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0]["id"], id.as_str());
    let at = hits[0]["at"].as_f64().expect("a moment");
    assert!((at - spans[1].0).abs() <= 0.5, "'remember' at {at:.2}, spoken at {:.2}", spans[1].0);
    let snippet = hits[0]["snippet"].as_str().expect("a snippet");
    assert!(snippet.contains("«Remember»"), "{snippet}");
    // A prefix and a phrase, said in the middle of a sentence.
    let hits = search(dir.path(), "onboard check");
    let at = hits.first().and_then(|h| h["at"].as_f64()).expect("found by prefixes");
    assert!(at > spans[2].0 && at < spans[2].1, "'onboard…' at {at:.2}, the sentence is {:?}", spans[2]);
    assert!(search(dir.path(), "giraffe").is_empty());
    let rec = dir.path().join("lib/recordings").join(&id);
    let vtt = std::fs::read_to_string(rec.join("captions.vtt")).expect("captions made from what was said");
    assert!(vtt.starts_with("WEBVTT") && vtt.contains("meeting room"), "{vtt}");

    // Trim off the first sentence: the words move with the picture.
    let cut_at = (spans[0].1 + spans[1].0) / 2.0;
    let dur = f64_of(&ffprobe(&rec.join("video.mp4"))["format"]["duration"]);
    run_ok(lib_cmd(dir.path()).args(["trim", &id, "--start", &format!("{cut_at:.2}"), "--end", &format!("{dur:.2}")]));
    let hits = search(dir.path(), "remember");
    let at = hits.first().and_then(|h| h["at"].as_f64()).expect("still found after the trim");
    assert!((at - (spans[1].0 - cut_at)).abs() <= 0.5, "after the trim 'remember' is at {at:.2}, expected {:.2}", spans[1].0 - cut_at);
    assert!(search(dir.path(), "welcome").is_empty(), "the trimmed words are gone from search");
    let words = json(&run_ok(lib_cmd(dir.path()).args(["transcript", &id, "--format", "json"])));
    let first = &words["words"][0];
    assert!(first["text"].as_str().is_some_and(|t| t.to_lowercase().starts_with("remember")), "{first}");
    let vtt = std::fs::read_to_string(rec.join("captions.vtt")).expect("captions");
    assert!(!vtt.contains("Welcome") && vtt.contains("meeting room"), "{vtt}");

    // A 2x export carries captions beside it, their times halved.
    let out = dir.path().join("out.mp4");
    run_ok(lib_cmd(dir.path()).args(["export", &id, "--speed", "2", "-o"]).arg(&out));
    let side = std::fs::read_to_string(dir.path().join("out.vtt")).expect("captions beside the export");
    let cue = side.lines().find(|l| l.contains("-->")).expect("a cue");
    let start = parse_ts(cue.split(" --> ").next().expect("start"));
    assert!((start - first["start"].as_f64().expect("start") / 2.0).abs() < 0.01, "{cue} vs {first}");
    // The srt and txt forms.
    let srt = String::from_utf8(run_ok(lib_cmd(dir.path()).args(["transcript", &id, "--format", "srt"])).stdout).expect("utf8");
    assert!(srt.starts_with("1\n00:00:0") && srt.contains(" --> "), "{srt}");
}

fn parse_ts(s: &str) -> f64 {
    let p: Vec<f64> = s.trim().split(':').map(|x| x.parse::<f64>().expect("number")).collect();
    p.iter().fold(0.0, |acc, v| acc * 60.0 + v)
}

#[test]
fn filler_words_are_cut_and_the_recording_gets_shorter_by_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let parts = ["Um, so the budget is ready.", "Uh, we start on Monday.", "The design review is on Tuesday."];
    let (video, _) = speech_video(dir.path(), &parts, 0.6);
    let (id, _) = import(dir.path(), &video, "Fillers");
    let t = json(&run_ok(lib_cmd(dir.path()).args(["transcript", &id, "--format", "json"])));
    let is_filler =
        |w: &serde_json::Value| matches!(w["text"].as_str().unwrap_or("").trim_matches(|c: char| !c.is_alphabetic()).to_lowercase().as_str(), "um" | "uh" | "umm" | "uhh");
    let fillers: Vec<(f64, f64)> =
        t["words"].as_array().expect("words").iter().filter(|w| is_filler(w)).map(|w| (w["start"].as_f64().unwrap_or(0.0), w["end"].as_f64().unwrap_or(0.0))).collect();
    assert!(!fillers.is_empty(), "the fillers were heard: {t}");
    let rec = dir.path().join("lib/recordings").join(&id);
    let before = f64_of(&ffprobe(&rec.join("video.mp4"))["format"]["duration"]);
    let dry = run_ok(lib_cmd(dir.path()).args(["tidy", &id, "--fillers", "--dry-run"]));
    assert!(String::from_utf8_lossy(&dry.stderr).contains("nothing changed"));
    assert!((f64_of(&ffprobe(&rec.join("video.mp4"))["format"]["duration"]) - before).abs() < 1e-6, "a dry run changes nothing");
    run_ok(lib_cmd(dir.path()).args(["tidy", &id, "--fillers"]));
    let after = f64_of(&ffprobe(&rec.join("video.mp4"))["format"]["duration"]);
    let said: f64 = fillers.iter().map(|(a, b)| b - a).sum();
    // Each cut runs from the filler's start to the next word's, so a little more than the
    // fillers' own sound goes; never less.
    let shorter = before - after;
    assert!(shorter >= said * 0.8 && shorter <= said + 0.8 * fillers.len() as f64 + 0.3, "{shorter:.2} s shorter for {said:.2} s of fillers");
    let t = json(&run_ok(lib_cmd(dir.path()).args(["transcript", &id, "--format", "json"])));
    assert!(!t["words"].as_array().expect("words").iter().any(is_filler), "no filler left: {t}");
    assert!(t["words"].as_array().is_some_and(|w| w.len() >= 10), "the rest stays: {t}");
}

#[test]
fn without_a_model_recording_import_and_search_still_work_and_the_error_says_what_to_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (video, _) = speech_video(dir.path(), &PARTS[..1], 0.5);
    let models = dir.path().join("no-models");
    let mut c = lib_cmd(dir.path());
    c.env("REEL_MODELS", &models).args(["import", "--json", "--title", "Quarterly plan"]).arg(&video);
    let o = c.output().expect("reel import");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "the import works without a model: {err}");
    assert!(err.contains("not transcribed") && err.contains("not installed") && err.contains("set-up"), "{err}");
    let id = json(&o)["id"].as_str().expect("id").to_string();
    let hits = search(dir.path(), "quarterly");
    assert_eq!(hits.len(), 1, "the title is still searchable");
    let o = lib_cmd(dir.path()).env("REEL_MODELS", &models).args(["transcribe", &id]).output().expect("reel transcribe");
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("tiny.en is not installed") && err.contains(&models.display().to_string()) && err.contains("models.py"), "{err}");
    // A damaged model (a truncated download): named as such, with the same fix.
    let bad = models.join("whisper-tiny.en");
    std::fs::create_dir_all(&bad).expect("mkdir");
    for f in ["config.json", "tokenizer.json", "vocabulary.txt", "model.bin"] {
        std::fs::write(bad.join(f), b"{}").expect("write");
    }
    let o = lib_cmd(dir.path()).env("REEL_MODELS", &models).args(["transcribe", &id]).output().expect("reel transcribe");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("damaged"), "{err}");
    // Sharing does not need a transcript.
    run_ok(lib_cmd(dir.path()).args(["share", &id, "--json"]));
}
