//! End to end: the real `reel record` binary, checked with ffprobe and by finding the synthetic
//! sync signal (white flashes, 1 kHz beeps) in the encoded output.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use reel_codec::analyze::sync_report;
use reel_tests::*;

const ONE_FRAME_30: f64 = 1.0 / 30.0;

fn no_leftovers(dir: &Path) {
    let hidden: Vec<_> =
        std::fs::read_dir(dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n.contains("reel-partial") || n.contains("reel-tmp")).collect();
    assert!(hidden.is_empty(), "temporary files left behind: {hidden:?}");
    let sessions = dir.join("state/sessions");
    let left = std::fs::read_dir(&sessions).map(|r| r.count()).unwrap_or(0);
    assert_eq!(left, 0, "a session entry was left in {}", sessions.display());
}

#[test]
fn synthetic_720p30_five_seconds_is_h264_aac_in_sync() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("five.mp4");
    let o =
        run_ok(reel(dir.path()).args(["record", "--camera", "synthetic", "--mic", "tone", "--duration", "5", "--size", "1280x720", "--fps", "30", "--json", "--output"]).arg(&out));
    let j = json(&o);
    for key in ["output", "duration_s", "frames_encoded", "frames_dropped", "finalize_ms", "capture_jitter_p99_ms"] {
        assert!(!j[key].is_null(), "--json lacks {key}: {j}");
    }
    assert_eq!(j["output"], out.to_str().unwrap());

    let p = ffprobe(&out);
    let v = stream(&p, "video").expect("a video stream");
    let a = stream(&p, "audio").expect("an audio stream");
    assert_eq!(v["codec_name"], "h264");
    assert_eq!(a["codec_name"], "aac");
    assert_eq!(a["sample_rate"], "48000");
    assert_eq!((v["width"].as_u64(), v["height"].as_u64()), (Some(1280), Some(720)));
    let frames = f64_of(&v["nb_read_frames"]);
    assert!((frames - 150.0).abs() <= 1.0, "{frames} frames, 150±1 expected");
    let dur = f64_of(&p["format"]["duration"]);
    assert!((dur - 5.0).abs() <= 0.1, "duration {dur}, 5.0±0.1 expected");
    // Index first (faststart): the moov box comes before mdat.
    let bytes = std::fs::read(&out).unwrap();
    let moov = bytes.windows(4).position(|w| w == b"moov").unwrap();
    let mdat = bytes.windows(4).position(|w| w == b"mdat").unwrap();
    assert!(moov < mdat, "final file must have its index first");

    let s = sync_report(&out).unwrap();
    assert_eq!(s.flashes_s.len(), 4, "flashes at 1..4 s: {s:?}");
    assert_eq!(s.offsets_s.len(), 4, "every flash has its beep: {s:?}");
    for (i, f) in s.flashes_s.iter().enumerate() {
        assert!((f - (i + 1) as f64).abs() < ONE_FRAME_30 / 2.0, "flash {i} at {f}");
    }
    assert!(s.max_abs_offset_s < ONE_FRAME_30, "A/V offset {} s exceeds one frame: {s:?}", s.max_abs_offset_s);
    no_leftovers(dir.path());
}

#[test]
fn stays_in_sync_after_ten_pause_resume_cycles() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("paused.mp4");
    let script = dir.path().join("script.json");
    let mut events = Vec::new();
    for i in 0..10 {
        let t = 0.55 + i as f64 * 0.7;
        events.push(serde_json::json!({"at": t, "action": "pause"}));
        events.push(serde_json::json!({"at": t + 0.3, "action": "resume"}));
    }
    std::fs::write(&script, serde_json::to_vec(&events).unwrap()).unwrap();
    let started = Instant::now();
    run_ok(
        reel(dir.path())
            .args(["record", "--camera", "synthetic", "--mic", "tone", "--duration", "7", "--size", "640x360", "--fps", "30", "--output"])
            .arg(&out)
            .arg("--script")
            .arg(&script),
    );
    assert!(started.elapsed() >= Duration::from_secs(9), "the pauses (3 s in all) must not count towards the 7 s");
    let p = ffprobe(&out);
    let dur = f64_of(&p["format"]["duration"]);
    assert!((dur - 7.0).abs() <= 0.1, "no gap in the timeline: {dur} s, 7 expected");
    let frames = f64_of(&stream(&p, "video").unwrap()["nb_read_frames"]);
    assert!((frames - 210.0).abs() <= 1.0, "{frames} frames, 210 expected");
    let s = sync_report(&out).unwrap();
    assert!(s.flashes_s.len() >= 5, "flashes survive pausing: {s:?}");
    assert_eq!(s.offsets_s.len(), s.flashes_s.len(), "every flash has its beep: {s:?}");
    assert!(s.max_abs_offset_s < ONE_FRAME_30, "A/V offset {} s after pausing: {s:?}", s.max_abs_offset_s);
}

#[test]
fn real_pulseaudio_mic_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let pulse = Pulse::start();
    let wav = dir.path().join("tone.wav");
    tone_wav(&wav, 440, 1.5);
    let out = dir.path().join("mic.mp4");
    let mut cmd = reel(dir.path());
    pulse.env(&mut cmd);
    let mut child = cmd
        .args(["record", "--camera", "none", "--mic", "default", "--duration", "4", "--size", "320x240", "--output"])
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let partial = dir.path().join(".mic.mp4.reel-partial.mp4");
    assert!(wait_for(Duration::from_secs(10), || partial.exists()), "recording did not start");
    std::thread::sleep(Duration::from_millis(800));
    let mut player = pulse.play(&wav);
    let status = child.wait().unwrap();
    let _ = player.wait();
    let mut err = String::new();
    use std::io::Read;
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(status.success(), "reel failed: {err}");

    let (samples, rate, _) = reel_codec::decode::decode_audio_mono(&out).unwrap();
    assert_eq!(rate, 48_000);
    let win = rate as usize / 10;
    let rms: Vec<f64> = samples.chunks(win).map(|c| (c.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / c.len() as f64).sqrt()).collect();
    let loud: Vec<usize> = (0..rms.len()).filter(|&i| rms[i] > 0.1).collect();
    assert!(loud.len() >= 8, "the played tone must be in the recording (≥ 0.8 s loud): rms per 100 ms = {rms:.3?}");
    assert!(rms[0] < 0.01, "it starts silent (the tone was played later): {rms:.3?}");
    // It is the 440 Hz tone: count zero crossings in the loudest stretch.
    let i = loud[loud.len() / 2];
    let c = &samples[i * win..(i + 1) * win];
    let crossings = c.windows(2).filter(|w| (w[0] < 0.0) != (w[1] < 0.0)).count();
    let hz = crossings as f64 / 2.0 / 0.1;
    assert!((hz - 440.0).abs() < 20.0, "dominant frequency {hz} Hz, 440 expected");
}

#[test]
fn killed_recording_is_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("crash.mp4");
    let mut child = reel(dir.path())
        .args(["record", "--camera", "synthetic", "--mic", "tone", "--duration", "60", "--size", "640x360", "--output"])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let partial = dir.path().join(".crash.mp4.reel-partial.mp4");
    assert!(wait_for(Duration::from_secs(10), || partial.exists()), "recording did not start");
    let started = Instant::now();
    // A second recording to the same output is refused while the first runs, and leaves the
    // first one's partial alone.
    let second = |why: &str| {
        let o = reel(dir.path()).args(["record", "--camera", "synthetic", "--mic", "none", "--duration", "1", "--output"]).arg(&out).output().unwrap();
        let e = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(!o.status.success() && e.contains(why), "{e}");
    };
    second("another recording to");
    let size = || std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
    let before = size();
    std::thread::sleep(Duration::from_secs(2));
    assert!(size() > before, "the first recording goes on growing its partial");
    std::thread::sleep(Duration::from_secs(2));
    child.kill().unwrap(); // SIGKILL: no chance to finalize
    let elapsed = started.elapsed().as_secs_f64();
    child.wait().unwrap();
    assert!(!out.exists(), "a killed recording has no final file yet");
    // Its partial waits for recovery: a new recording to the same output does not delete it.
    second("waits to be recovered");
    assert!(size() > 0, "the interrupted recording's partial is kept");

    // It is listed as interrupted, then recovered.
    let list = run_ok(reel(dir.path()).arg("recover"));
    assert!(String::from_utf8_lossy(&list.stdout).contains("crash.mp4"), "listed as interrupted");
    let o = run_ok(reel(dir.path()).args(["recover", "--all", "--json"]));
    let j = json(&o);
    assert_eq!(j[0]["output"], out.to_str().unwrap(), "{j}");
    let p = ffprobe(&out);
    let dur = f64_of(&p["format"]["duration"]);
    assert!(dur >= elapsed - 1.0, "recovered {dur} s of {elapsed} s");
    assert!(stream(&p, "audio").is_some() && stream(&p, "video").is_some());
    // Every frame decodes.
    let dec = std::process::Command::new("ffmpeg").args(["-v", "error", "-i"]).arg(&out).args(["-f", "null", "-"]).output().unwrap();
    assert!(dec.status.success() && dec.stderr.is_empty(), "decode errors: {}", String::from_utf8_lossy(&dec.stderr));
    no_leftovers(dir.path());
    // Nothing left to recover.
    let again = run_ok(reel(dir.path()).args(["recover", "--all", "--json"]));
    assert_eq!(json(&again), serde_json::json!([]));
}

#[test]
fn sigterm_stops_cleanly_and_finalizes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("term.mp4");
    let child = reel(dir.path())
        .args(["record", "--camera", "synthetic", "--mic", "tone", "--size", "640x360", "--json", "--output"])
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let partial = dir.path().join(".term.mp4.reel-partial.mp4");
    assert!(wait_for(Duration::from_secs(10), || partial.exists()), "recording did not start");
    std::thread::sleep(Duration::from_secs(2));
    // SAFETY: kill(2) on our child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "SIGTERM must stop cleanly, got {}", o.status);
    let dur = f64_of(&ffprobe(&out)["format"]["duration"]);
    assert!((1.5..3.5).contains(&dur), "about 2 s recorded, got {dur}");
    no_leftovers(dir.path());
}

fn fails_with(dir: &Path, args: &[&str], expect: &[&str]) {
    let o = reel(dir).args(args).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{args:?} must fail");
    for e in expect {
        assert!(err.contains(e), "{args:?}: stderr should say '{e}', got: {err}");
    }
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
}

#[test]
fn bad_input_gets_clear_errors_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.mp4");
    let o = out.to_str().unwrap();
    let base = ["record", "--mic", "tone", "--duration", "1", "--output", o];
    let with = |extra: &[&'static str]| -> Vec<&str> { base.iter().copied().chain(extra.iter().copied()).collect() };
    // Cameras no machine has (this one may have a real one at #0, or a Logitech).
    fails_with(dir.path(), &with(&["--camera", "9999"]), &["no camera found", "--camera synthetic", "--camera none"]);
    fails_with(dir.path(), &with(&["--camera", "No Such Camera 7f3a"]), &["'No Such Camera 7f3a'"]);
    fails_with(dir.path(), &with(&["--size", "641x480"]), &["odd", "640x480"]);
    fails_with(dir.path(), &with(&["--size", "huge"]), &["WIDTHxHEIGHT"]);
    fails_with(dir.path(), &with(&["--fps", "0"]), &["frame rate '0'"]);
    fails_with(dir.path(), &with(&["--duration=-3"]), &["--duration"]);
    fails_with(dir.path(), &with(&["--camera", "file:/no/such.mp4"]), &["/no/such.mp4", "no such file"]);
    fails_with(dir.path(), &["record", "--mic", "no-such-mic-xyz", "--output", o], &["no-such-mic-xyz", "--mic none"]);
    fails_with(dir.path(), &["record", "--mic", "tone", "--output", "/no/such/dir/x.mp4"], &["does not exist"]);
    fails_with(dir.path(), &["record", "--mic", "tone", "--output", "/proc/x.mp4"], &["cannot write"]);
    assert!(std::fs::read_dir(dir.path()).unwrap().flatten().all(|e| e.file_name() == "state"), "no file left behind");
    std::fs::write(&out, b"precious").unwrap();
    fails_with(dir.path(), &with(&["--camera", "synthetic"]), &["already exists"]);
    assert_eq!(std::fs::read(&out).unwrap(), b"precious", "an existing file is never overwritten");
    let script = dir.path().join("s.json");
    std::fs::write(&script, r#"[{"at": 2, "action": "pause"}, {"at": 1, "action": "resume"}]"#).unwrap();
    fails_with(dir.path(), &["record", "--script", script.to_str().unwrap(), "--output", "y.mp4"], &["comes before"]);
    std::fs::write(&script, r#"[{"at": 1, "action": "dance"}]"#).unwrap();
    fails_with(dir.path(), &["record", "--script", script.to_str().unwrap(), "--output", "y.mp4"], &["dance"]);
    fails_with(dir.path(), &["recover", "/no/such/thing.mp4"], &["nothing to recover"]);
}

#[test]
fn file_camera_records_a_video_file() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.mp4");
    let st = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=1", "-pix_fmt", "yuv420p"])
        .arg(&src)
        .status()
        .unwrap();
    assert!(st.success());
    let out = dir.path().join("file.mp4");
    run_ok(
        reel(dir.path())
            .args(["record", "--camera"])
            .arg(format!("file:{}", src.display()))
            .args(["--mic", "none", "--duration", "2.5", "--size", "640x480", "--unpaced", "--output"])
            .arg(&out),
    );
    let p = ffprobe(&out);
    assert!(stream(&p, "audio").is_none(), "--mic none: video only");
    let v = stream(&p, "video").unwrap();
    assert_eq!(v["width"].as_u64(), Some(640));
    let frames = f64_of(&v["nb_read_frames"]);
    assert!((frames - 75.0).abs() <= 2.0, "the 1 s file loops to fill 2.5 s at 30 fps: {frames} frames");
}

#[test]
fn devices_lists_cameras_and_mics_as_json() {
    // On any machine, with or without cameras (the test camera's own listing is in
    // tests/tests/camera.rs): every camera and microphone named, the synthetic ones always there.
    let dir = tempfile::tempdir().unwrap();
    let j = json(&run_ok(reel(dir.path()).args(["devices", "--json"])));
    assert!(j["cameras"].is_array() && j["mics"].is_array(), "{j}");
    for c in j["cameras"].as_array().unwrap() {
        assert!(c["name"].as_str().is_some_and(|n| !n.is_empty()) && c["modes"].is_array(), "{c}");
    }
    for m in j["mics"].as_array().unwrap() {
        assert!(m["name"].as_str().is_some_and(|n| !n.is_empty()), "{m}");
    }
    assert_eq!(j["synthetic"], serde_json::json!(["camera: synthetic", "mic: tone"]));
}

/// A small disk of its own (tmpfs, mounted by the test; CI runs as root).
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(dir: &Path, mb: u32) -> SmallDisk {
        let p = dir.join("small");
        std::fs::create_dir_all(&p).unwrap();
        let st = std::process::Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={mb}m"), "tmpfs"]).arg(&p).status().expect("mount");
        assert!(st.success(), "mount a {mb} MB tmpfs (needs root, as CI runs)");
        SmallDisk(p)
    }

    fn free(&self) -> u64 {
        let out = std::process::Command::new("df").args(["-B1", "--output=avail"]).arg(&self.0).output().unwrap();
        String::from_utf8_lossy(&out.stdout).lines().nth(1).and_then(|l| l.trim().parse().ok()).unwrap()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A disk that fills up: the recording warns, stops by itself while there is still room, and
/// leaves a finished, playable file (made from the partial in place: there is no room for a
/// second copy), with nothing left behind.
#[test]
fn a_nearly_full_disk_stops_the_recording_saved_and_playable() {
    let dir = tempfile::tempdir().unwrap();
    let disk = SmallDisk::mount(dir.path(), 16);
    // Leave a little over the 4 MB reserve free: about 10 s of this recording.
    let keep = 4 * 1024 * 1024 + 350 * 1024;
    let filler = disk.free().saturating_sub(keep);
    std::fs::write(disk.0.join("filler"), vec![7u8; filler as usize]).unwrap();
    let out = disk.0.join("full.mp4");
    let o = reel(dir.path()).args(["record", "--camera", "synthetic", "--mic", "tone", "--size", "640x360", "--duration", "90", "--output"]).arg(&out).output().unwrap();
    let e = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{e}");
    assert!(e.contains("warning: the disk holds about"), "it warned: {e}");
    assert!(e.contains("stopped: the disk is nearly full"), "it said why it stopped: {e}");
    let d = f64_of(&ffprobe(&out)["format"]["duration"]);
    assert!(d > 2.0 && d < 80.0, "a finished recording of {d} s");
    let dec = std::process::Command::new("ffmpeg").args(["-v", "error", "-i"]).arg(&out).args(["-f", "null", "-"]).output().unwrap();
    assert!(dec.status.success() && dec.stderr.is_empty(), "every frame decodes: {}", String::from_utf8_lossy(&dec.stderr));
    no_leftovers(&disk.0);
    no_leftovers(dir.path());
}
