//! Power cuts: the real `reel` on a filesystem that drops everything not synced when the power
//! goes out (tests/src/powercut.rs), cut at random moments during recording, stopping, edits,
//! imports and settings saves. Afterwards the library must open with every recording playable,
//! at most about a second lost against the last sync, no half-made edit visible and no torn JSON.

use std::io::Write;

use reel_tests::powercut::PowerCut;

#[test]
fn the_harness_keeps_only_what_was_synced() {
    let mut pc = PowerCut::mount();
    let root = pc.path().to_path_buf();
    std::fs::create_dir(root.join("kept")).unwrap();
    std::fs::write(root.join("kept/old.txt"), b"old").unwrap();
    pc.sync_everything();
    // Synced file and folder: kept. Written but not synced: gone. Synced file in an unsynced
    // folder entry: gone (its name never reached the disk).
    let mut f = std::fs::File::create(root.join("kept/synced.txt")).unwrap();
    f.write_all(b"synced").unwrap();
    f.sync_all().unwrap();
    std::fs::File::open(root.join("kept")).unwrap().sync_all().unwrap();
    std::fs::write(root.join("kept/unsynced.txt"), b"lost").unwrap();
    std::fs::write(root.join("kept/old.txt"), b"new but unsynced").unwrap();
    let mut g = std::fs::File::create(root.join("kept/nameless.txt")).unwrap();
    g.write_all(b"x").unwrap();
    g.sync_all().unwrap();
    drop((f, g));
    assert!(pc.syncs() >= 3);
    let (_, history) = pc.cut(|| {});
    assert!(history.iter().any(|h| h.name == "synced.txt" && h.synced_len == 6));
    assert_eq!(std::fs::read(root.join("kept/synced.txt")).unwrap(), b"synced");
    assert_eq!(std::fs::read(root.join("kept/old.txt")).unwrap(), b"old");
    assert!(!root.join("kept/unsynced.txt").exists());
    assert!(!root.join("kept/nameless.txt").exists());
}

use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use reel_tests::{f64_of, ffprobe, json, reel};

/// A small seeded generator (xorshift): the seed is printed, so a failing run can be repeated
/// with REEL_POWERCUT_SEED.
struct Dice(u64);

impl Dice {
    fn new(test: &str) -> Dice {
        let seed = std::env::var("REEL_POWERCUT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1) | 1);
        eprintln!("{test}: REEL_POWERCUT_SEED={seed}");
        Dice(seed)
    }

    /// Uniform in [lo, hi).
    fn between(&mut self, lo: f64, hi: f64) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        lo + (self.0 >> 11) as f64 / (1u64 << 53) as f64 * (hi - lo)
    }
}

/// `reel` with its library and its state (the interrupted-recording registry) on the disk.
fn on_disk(disk: &Path, logs: &Path) -> Command {
    let mut c = reel(logs);
    c.env("REEL_LIBRARY", disk.join("lib")).env("REEL_STATE_DIR", disk.join("state"));
    c
}

fn spawn(mut c: Command, logs: &Path, name: &str) -> Child {
    let out = std::fs::File::create(logs.join(format!("{name}.out"))).unwrap();
    let err = std::fs::File::create(logs.join(format!("{name}.err"))).unwrap();
    c.stdout(out).stderr(err).spawn().unwrap()
}

fn killer(child: &mut Child) -> impl FnOnce() + '_ {
    move || {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Decodes every frame of `video`: true when ffmpeg reads it to the end without an error.
fn plays(video: &Path) -> Result<(), String> {
    let o = Command::new("ffmpeg").args(["-v", "error", "-xerror", "-i"]).arg(video).args(["-f", "null", "-"]).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).trim().to_string();
    if o.status.success() && err.is_empty() {
        Ok(())
    } else {
        Err(format!("{}: {} {err}", video.display(), o.status))
    }
}

/// After the reboot: recover what was interrupted, then every recording the library lists must
/// play to its end and its metadata must agree with its video. Returns (id, duration) of each.
fn reopen(disk: &Path, logs: &Path) -> Vec<(String, f64)> {
    let rec = on_disk(disk, logs).args(["recover", "--all", "--json"]).output().unwrap();
    let rec_err = String::from_utf8_lossy(&rec.stderr).to_string();
    assert!(rec.status.success() || rec_err.contains("nothing"), "recover after the cut: {rec_err}");
    let list = on_disk(disk, logs).args(["list", "--json"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&list.stderr).to_string();
    assert!(list.status.success(), "the library opens after the cut: {stderr}");
    assert!(!stderr.contains("unreadable"), "no torn metadata: {stderr}");
    let mut out = Vec::new();
    for e in json(&list).as_array().unwrap() {
        let id = e["id"].as_str().unwrap().to_string();
        let folder = disk.join("lib/recordings").join(&id);
        let bytes = std::fs::read(folder.join("meta.json")).unwrap_or_else(|e| {
            let _ = Command::new("find").arg(disk.join("lib")).arg("-ls").status();
            panic!("{id}: meta.json ({e})")
        });
        let meta: serde_json::Value = serde_json::from_slice(&bytes).expect("meta.json is whole JSON");
        assert!(!folder.join("job.json").exists(), "{id}: a finished recording carries no job marker");
        let video = folder.join("video.mp4");
        plays(&video).unwrap_or_else(|e| panic!("recording {id} plays after the cut: {e}"));
        let d = f64_of(&ffprobe(&video)["format"]["duration"]);
        let said = meta["duration_s"].as_f64().unwrap_or(-1.0);
        assert!((said - d).abs() < 0.25, "{id}: meta.json says {said} s, the video lasts {d} s (a half-made edit?)");
        out.push((id, d));
    }
    out
}

/// The recording in `all` that was not in `before`.
fn new_one<'a>(all: &'a [(String, f64)], before: &[(String, f64)]) -> Option<&'a (String, f64)> {
    all.iter().find(|(id, _)| before.iter().all(|(b, _)| b != id))
}

/// At most this much of what the recorder had written is lost at a power cut: it syncs once a
/// second, and the fragment being written when the power goes is the rest.
const LOSS_BOUND_S: f64 = 1.25;

fn record_args(c: &mut Command, seconds: &str) {
    c.args(["record", "--camera", "synthetic", "--mic", "tone", "--size", "320x180", "--duration", seconds, "--json", "--title", "Power"]);
}

/// Seconds of video in the partial recording as the recorder had written it at the cut (synced
/// or not): what a power cut could have kept at best.
fn written_at_cut(history: &[reel_tests::powercut::FileHistory], logs: &Path) -> f64 {
    let Some(bytes) = history.iter().filter(|h| h.name.ends_with(".reel-partial.mp4")).find_map(|h| h.written.clone()) else {
        return 0.0;
    };
    let p = logs.join("written-at-cut.mp4");
    std::fs::write(&p, bytes).unwrap();
    reel_codec::remux::scan_duration(&p).unwrap_or(0.0)
}

/// Records `seconds` of video `trials` times, cutting the power at a random moment of `window`
/// seconds after the start (while recording, stopping or after), and checks what survives.
/// Returns the seconds lost in each trial.
fn cut_recordings(name: &str, seconds: f64, window: (f64, f64), trials: usize) -> Vec<f64> {
    let logs = tempfile::tempdir().unwrap();
    let mut pc = PowerCut::mount();
    let disk = pc.path().to_path_buf();
    let mut dice = Dice::new(name);
    let mut before = Vec::new();
    let mut losses = Vec::new();
    for trial in 0..trials {
        let mut c = on_disk(&disk, logs.path());
        record_args(&mut c, &seconds.to_string());
        let mut child = spawn(c, logs.path(), &format!("{name}{trial}"));
        let wait = dice.between(window.0, window.1);
        std::thread::sleep(Duration::from_secs_f64(wait));
        let exited = child.try_wait().unwrap();
        assert!(exited.is_none_or(|s| s.success()), "trial {trial}: the recorder failed: {}", std::fs::read_to_string(logs.path().join(format!("{name}{trial}.err"))).unwrap());
        let finished = exited.is_some();
        let (_, history) = pc.cut(killer(&mut child));
        let written = if finished { seconds } else { written_at_cut(&history, logs.path()) };
        let all = reopen(&disk, logs.path());
        // A cut before the first sync may leave nothing (under a second was recorded).
        let kept = new_one(&all, &before).map_or(0.0, |r| r.1);
        let lost = written - kept;
        eprintln!("trial {trial}: cut {wait:.2} s after start (finished: {finished}), {written:.2} s written; kept {kept:.2} s, lost {lost:.2} s");
        if wait > 2.5 {
            assert!(written > 0.5, "trial {trial}: the partial held {written:.2} s at a cut {wait:.2} s in (unreadable?)");
        }
        if finished {
            assert!((kept - seconds).abs() < 0.2, "trial {trial}: a recording that had finished lost {lost:.2} s");
        }
        assert!(lost <= LOSS_BOUND_S, "trial {trial}: {lost:.2} s lost ({written:.2} s written, {kept:.2} s kept)");
        assert!(written < 1.0 || all.len() == before.len() + 1, "trial {trial}: the recording is in the library");
        before = all;
        losses.push(lost);
    }
    losses
}

#[test]
fn power_cuts_while_recording_lose_at_most_about_a_second() {
    let mut lost = cut_recordings("recording", 30.0, (1.0, 6.0), 5);
    lost.sort_by(f64::total_cmp);
    eprintln!("power cuts while recording: {} trials, lost {:.2}–{:.2} s (median {:.2} s)", lost.len(), lost[0], lost[lost.len() - 1], lost[lost.len() / 2]);
}

#[test]
fn power_cuts_while_stopping_keep_the_recording() {
    // Two seconds of recording, then Stop: the cut falls before, during or after finishing.
    cut_recordings("stopping", 2.0, (1.0, 3.2), 5);
}

#[test]
fn power_cuts_during_edits_and_imports_show_the_old_or_the_new_never_half() {
    let logs = tempfile::tempdir().unwrap();
    let mut pc = PowerCut::mount();
    let disk = pc.path().to_path_buf();
    let mut dice = Dice::new("edits");
    let mut c = on_disk(&disk, logs.path());
    record_args(&mut c, "4");
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let id = json(&o)["id"].as_str().unwrap().to_string();
    let mut length = 4.0;
    let mut applied = 0;
    // Trims and cuts, each interrupted at a random moment (or not, if it was quick).
    for trial in 0..4 {
        let mut c = on_disk(&disk, logs.path());
        let (edit, after) = if trial % 2 == 0 {
            c.args(["trim", &id, "--start", "0.5", "--end", &format!("{:.3}", length - 0.5)]);
            ("trim", length - 1.0)
        } else {
            c.args(["cut", &id, "--from", "0.5", "--to", "1.0"]);
            ("cut", length - 0.5)
        };
        let mut child = spawn(c, logs.path(), &format!("edit{trial}"));
        let wait = dice.between(0.05, 2.0);
        std::thread::sleep(Duration::from_secs_f64(wait));
        let exited = child.try_wait().unwrap();
        let done = exited.is_some_and(|s| s.success());
        assert!(exited.is_none_or(|s| s.success()), "trial {trial}: the {edit} failed: {}", std::fs::read_to_string(logs.path().join(format!("edit{trial}.err"))).unwrap());
        applied += usize::from(done);
        pc.cut(killer(&mut child));
        if std::env::var_os("REEL_POWERCUT_LOG").is_some() {
            let _ = Command::new("find").arg(disk.join("lib/recordings")).arg(disk.join("lib/trash")).status();
        }
        let all = reopen(&disk, logs.path());
        assert_eq!(all.len(), 1, "trial {trial}: the recording is still one recording");
        let d = all[0].1;
        eprintln!("trial {trial}: {edit} cut at {wait:.2} s (done: {done}): {length:.2} s → {d:.2} s");
        let old = (d - length).abs() < 0.25;
        let new = (d - after).abs() < 0.25;
        assert!(old || new, "trial {trial}: {d:.2} s is neither the old {length:.2} s nor the new {after:.2} s");
        assert!(!done || new, "trial {trial}: a {edit} that had finished was lost");
        length = d;
    }
    assert!(applied > 0, "no edit finished before its cut: the edits were not exercised");
    // Imports, each interrupted at a random moment: nothing or the whole file.
    let src = logs.path().join("talk.webm");
    let st = Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30:duration=6", "-f", "lavfi", "-i", "sine=frequency=440:duration=6"])
        .args(["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-c:a", "libopus", "-shortest"])
        .arg(&src)
        .status()
        .unwrap();
    assert!(st.success(), "ffmpeg made the import source");
    let mut count = 1;
    for trial in 0..3 {
        let mut c = on_disk(&disk, logs.path());
        c.arg("import").arg(&src);
        let mut child = spawn(c, logs.path(), &format!("import{trial}"));
        let wait = dice.between(0.1, 3.0);
        std::thread::sleep(Duration::from_secs_f64(wait));
        let exited = child.try_wait().unwrap();
        let done = exited.is_some_and(|s| s.success());
        assert!(exited.is_none_or(|s| s.success()), "trial {trial}: the import failed: {}", std::fs::read_to_string(logs.path().join(format!("import{trial}.err"))).unwrap());
        pc.cut(killer(&mut child));
        let all = reopen(&disk, logs.path());
        eprintln!("trial {trial}: import cut at {wait:.2} s (done: {done}): {} recordings", all.len());
        assert!(all.len() == count || all.len() == count + 1, "trial {trial}: {} recordings, from {count}", all.len());
        assert!(!done || all.len() == count + 1, "trial {trial}: an import that had finished was lost");
        for (rid, d) in &all {
            if rid != &id {
                assert!((d - 6.0).abs() < 0.3, "trial {trial}: the import {rid} is whole ({d:.2} s)");
            }
        }
        count = all.len();
    }
}

#[test]
fn power_cuts_while_saving_settings_keep_the_last_save_whole() {
    let logs = tempfile::tempdir().unwrap();
    let mut pc = PowerCut::mount();
    let path = pc.path().join("config/reel/settings.json");
    let bin = reel_tests::reel_bin().with_file_name("reel-test-settings");
    let mut dice = Dice::new("settings");
    for trial in 0..5 {
        let out = logs.path().join(format!("settings{trial}.out"));
        let mut child = Command::new(&bin).arg(&path).stdout(std::fs::File::create(&out).unwrap()).stderr(std::process::Stdio::null()).spawn().unwrap();
        std::thread::sleep(Duration::from_secs_f64(dice.between(0.05, 0.6)));
        pc.cut(killer(&mut child));
        let acked: Option<u64> = std::fs::read_to_string(&out).unwrap().lines().rev().find_map(|l| l.trim().parse().ok());
        let Some(acked) = acked else {
            continue;
        };
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("trial {trial}: save {acked} returned, and the file is gone ({e})"));
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("trial {trial}: torn settings ({e}): {}", String::from_utf8_lossy(&bytes)));
        let n: u64 = v["public_url"].as_str().and_then(|u| u.rsplit('/').next()).and_then(|n| n.parse().ok()).unwrap();
        eprintln!("trial {trial}: {} saves acknowledged, the file holds save {n}", acked + 1);
        assert!(n >= acked, "trial {trial}: save {acked} returned, yet the file holds save {n}");
        // No temporary files pile up where the settings live (beyond the one a cut interrupted).
        let temps = std::fs::read_dir(path.parent().unwrap()).unwrap().flatten().filter(|e| e.file_name().to_string_lossy().ends_with(".tmp")).count();
        assert!(temps <= trial + 1, "{temps} temporary files");
    }
}

#[test]
fn the_harness_keeps_a_rename_between_folders_whole() {
    let mut pc = PowerCut::mount();
    let root = pc.path().to_path_buf();
    for d in ["tmp", "done"] {
        std::fs::create_dir(root.join(d)).unwrap();
    }
    std::fs::create_dir(root.join("tmp/job")).unwrap();
    std::fs::write(root.join("tmp/job/a.txt"), b"a").unwrap();
    pc.sync_everything();
    std::fs::rename(root.join("tmp/job"), root.join("done/job")).unwrap();
    // Syncing the destination makes the move durable on both sides: not in two places.
    std::fs::File::open(root.join("done")).unwrap().sync_all().unwrap();
    pc.cut(|| {});
    assert!(root.join("done/job/a.txt").exists());
    assert!(!root.join("tmp/job").exists(), "the folder is in one place only");
}
