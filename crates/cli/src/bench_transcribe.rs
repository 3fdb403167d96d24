//! `reel bench transcribe`: speed (real-time factor), peak memory and word error rate of
//! Reel's transcription for each model, beside faster-whisper (PyPI; the same CTranslate2
//! engine and the same model files) on the same audio in the same run. Both run as child
//! processes (peak RSS from the kernel's accounting of each child) with the same threads, int8,
//! beam 5, English, word timings on, the same hesitation prompt, no temperature fallback and no
//! conditioning on earlier text (what Reel does). The speech is espeak-ng reading known
//! sentences with pauses, so the words are known.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result};
use reel_transcribe::eval::{wer, words as norm, SENTENCES};

const PEER: &str = r#"
import json, sys, time
from faster_whisper import WhisperModel
wav, model_dir, threads, prompt = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
m = WhisperModel(model_dir, device="cpu", compute_type="int8", cpu_threads=threads, num_workers=1)
t0 = time.time()
segs, info = m.transcribe(wav, beam_size=5, language="en", word_timestamps=True, temperature=[0.0],
                          condition_on_previous_text=False, initial_prompt=prompt, vad_filter=False)
text = " ".join(s.text.strip() for s in segs)
print(json.dumps({"seconds": time.time() - t0, "text": text}))
"#;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Speech of about `minutes` minutes as a 16 kHz 16-bit WAV, and its words.
fn make_speech(dir: &Path, minutes: f64) -> Result<(PathBuf, Vec<String>)> {
    let mut clips = Vec::new();
    for (i, s) in SENTENCES.iter().enumerate() {
        let wav = dir.join(format!("s{i}.wav"));
        let raw = dir.join(format!("s{i}.raw"));
        let st = Command::new("espeak-ng").args(["-v", "en-us", "-s", "150", "-w"]).arg(&wav).arg(s).status().context("espeak-ng (scripts/setup.sh test installs it)")?;
        anyhow::ensure!(st.success(), "espeak-ng failed");
        let st = Command::new("sox").arg(&wav).args(["-r", "16000", "-c", "1", "-b", "16", "-t", "raw", "-e", "signed-integer"]).arg(&raw).status().context("sox")?;
        anyhow::ensure!(st.success(), "sox failed");
        clips.push(std::fs::read(&raw)?);
    }
    let target = (minutes * 60.0 * 16_000.0) as usize * 2;
    let mut pcm = Vec::with_capacity(target + 64_000);
    let mut words = Vec::new();
    let mut k = 0usize;
    while pcm.len() < target {
        // Sentences in a shifting order, pauses of 0.3–0.9 s.
        let i = (k * 7 + k / SENTENCES.len()) % SENTENCES.len();
        pcm.extend_from_slice(&clips[i]);
        words.extend(norm(SENTENCES[i]));
        pcm.extend(std::iter::repeat_n(0u8, 2 * 16 * (300 + (k % 7) * 100)));
        k += 1;
    }
    let wav = dir.join("speech.wav");
    let mut b = Vec::with_capacity(pcm.len() + 44);
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + pcm.len() as u32).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&16_000u32.to_le_bytes());
    b.extend_from_slice(&32_000u32.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&(pcm.len() as u32).to_le_bytes());
    b.extend_from_slice(&pcm);
    std::fs::write(&wav, b)?;
    Ok((wav, words))
}

/// Runs a child alone: its stdout and its own peak RSS (MB, from wait4).
fn run_child(cmd: &mut Command) -> Result<(String, f64)> {
    use std::io::Read;
    let mut child = cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::inherit()).spawn()?;
    let mut out = String::new();
    child.stdout.take().context("stdout")?.read_to_string(&mut out)?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: wait4 on our own child, with a zeroed rusage for it to fill.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    anyhow::ensure!(r == pid && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "a measured run failed");
    Ok((out, ru.ru_maxrss as f64 / 1024.0))
}

/// The child side: transcribes a WAV with Reel's engine, prints {seconds, text}.
pub fn child(wav: &Path, model: &str, threads: usize) -> Result<()> {
    let engine = reel_transcribe::Engine::load(model, threads)?;
    let bytes = std::fs::read(wav)?;
    let samples: Vec<f32> = bytes.get(44..).unwrap_or_default().chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]]) as f32 / 32768.0).collect();
    let t0 = Instant::now();
    let mut chunks = samples.chunks(16_000).map(|c| c.to_vec());
    let t = engine.transcribe(|| Ok(chunks.next()), &reel_transcribe::Options::default(), &mut |_| {}, &std::sync::atomic::AtomicBool::new(false))?;
    println!("{}", serde_json::json!({"seconds": t0.elapsed().as_secs_f64(), "text": t.text()}));
    Ok(())
}

pub fn transcribe(minutes: f64, models: &[String], runs: usize, threads: usize, python: &str, json: bool) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let (wav, truth) = make_speech(tmp.path(), minutes)?;
    let audio_s = (std::fs::metadata(&wav)?.len() - 44) as f64 / 32_000.0;
    let exe = std::env::current_exe()?;
    let peer_ok = Command::new(python).args(["-c", "import faster_whisper"]).status().map(|s| s.success()).unwrap_or(false);
    if !peer_ok {
        eprintln!("note: {python} cannot import faster_whisper: the peer is skipped (scripts/bench-transcribe.sh sets it up)");
    }
    let mut report = serde_json::Map::new();
    report.insert("audio_s".into(), audio_s.into());
    report.insert("threads".into(), threads.into());
    report.insert("runs".into(), runs.into());
    for model in models {
        let dir = reel_transcribe::models_dir().join(format!("whisper-{model}"));
        let (mut reel_t, mut peer_t) = (Vec::new(), Vec::new());
        let (mut reel_rss, mut peer_rss) = (0f64, 0f64);
        let (mut reel_wer, mut peer_wer) = (0f64, 0f64);
        for _ in 0..runs {
            let (out, rss) = run_child(Command::new(&exe).args(["bench", "transcribe-child"]).arg(&wav).args([model, &threads.to_string()]))?;
            let v: serde_json::Value = serde_json::from_str(out.trim().lines().last().unwrap_or("{}"))?;
            reel_t.push(v["seconds"].as_f64().unwrap_or(f64::NAN));
            reel_wer = wer(&truth, &norm(v["text"].as_str().unwrap_or("")));
            reel_rss = reel_rss.max(rss);
            if peer_ok {
                let (out, rss) = run_child(Command::new(python).args(["-c", PEER]).arg(&wav).arg(&dir).arg(threads.to_string()).arg(reel_transcribe::VERBATIM_PROMPT))?;
                let v: serde_json::Value = serde_json::from_str(out.trim().lines().last().unwrap_or("{}"))?;
                peer_t.push(v["seconds"].as_f64().unwrap_or(f64::NAN));
                peer_wer = wer(&truth, &norm(v["text"].as_str().unwrap_or("")));
                peer_rss = peer_rss.max(rss);
            }
        }
        let r = median(&mut reel_t);
        let mut m = serde_json::json!({
            "reel_s": r, "reel_rtf": r / audio_s, "reel_wer_pct": reel_wer * 100.0, "reel_peak_rss_mb": reel_rss,
        });
        if peer_ok {
            let p = median(&mut peer_t);
            m["faster_whisper_s"] = p.into();
            m["faster_whisper_rtf"] = (p / audio_s).into();
            m["faster_whisper_wer_pct"] = (peer_wer * 100.0).into();
            m["faster_whisper_peak_rss_mb"] = peer_rss.into();
            m["speed_vs_faster_whisper"] = (p / r).into();
        }
        report.insert(model.clone(), m);
    }
    crate::bench::print_report(&serde_json::Value::Object(report), json)
}
