//! End to end for the library and editing: recordings land in a real library folder with a real
//! SQLite index; edits are checked with ffprobe and the sync signal.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use reel_codec::analyze::sync_report;
use reel_tests::*;

fn lib_cmd(dir: &Path) -> Command {
    let mut c = reel(dir);
    c.env("REEL_LIBRARY", dir.join("lib"));
    c
}

/// Records a synthetic clip into the library; returns its id.
fn record(dir: &Path, seconds: &str, title: &str) -> String {
    let o = run_ok(lib_cmd(dir).args(["record", "--camera", "synthetic", "--mic", "tone", "--size", "640x360", "--duration", seconds, "--json", "--title", title]));
    json(&o)["id"].as_str().expect("id").to_string()
}

fn video(dir: &Path, id: &str) -> std::path::PathBuf {
    dir.join("lib/recordings").join(id).join("video.mp4")
}

fn duration(p: &Path) -> f64 {
    f64_of(&ffprobe(p)["format"]["duration"])
}

fn assert_in_sync(p: &Path, min_flashes: usize) {
    let s = sync_report(p).unwrap();
    assert!(s.flashes_s.len() >= min_flashes, "{s:?}");
    assert_eq!(s.offsets_s.len(), s.flashes_s.len(), "every flash has its beep: {s:?}");
    assert!(s.max_abs_offset_s < 1.0 / 30.0, "A/V offset {} s: {s:?}", s.max_abs_offset_s);
}

#[test]
fn recording_lands_in_the_library_with_poster_and_preview() {
    let dir = tempfile::tempdir().unwrap();
    let id = record(dir.path(), "4", "Weekly sync");
    let rec = dir.path().join("lib/recordings").join(&id);
    for f in ["video.mp4", "poster.jpg", "preview.gif", "meta.json"] {
        assert!(rec.join(f).exists(), "{f} missing");
    }
    let gif = std::fs::metadata(rec.join("preview.gif")).unwrap().len();
    assert!(gif <= 1024 * 1024, "preview is {gif} bytes");
    let frames = f64_of(&stream(&ffprobe(&rec.join("preview.gif")), "video").unwrap()["nb_read_frames"]);
    assert!(frames >= 10.0, "an animated preview, {frames} frames");
    let (w, h, _) = read_png(&rec.join("poster.jpg"));
    assert_eq!((w, h), (640, 360));
    let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(rec.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["version"], 1);
    assert_eq!(meta["title"], "Weekly sync");
    assert!((f64_of(&meta["duration_s"]) - 4.0).abs() < 0.1);

    let list = json(&run_ok(lib_cmd(dir.path()).args(["list", "--json"])));
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["status"], "ok");
    // Nothing left in tmp/.
    assert_eq!(std::fs::read_dir(dir.path().join("lib/tmp")).unwrap().count(), 0);
}

#[test]
fn slides_text_is_searchable_and_titles_the_recording() {
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("deck.pdf");
    std::fs::write(&pdf, reel_compose::pdf::tiny_pdf(&["Quarterly roadmap", "Hiring in Lisbon"])).unwrap();
    let o = run_ok(lib_cmd(dir.path()).args(["record", "--camera", "none", "--mic", "none", "--size", "320x180", "--duration", "1", "--json", "--slides"]).arg(&pdf));
    let id = json(&o)["id"].as_str().unwrap().to_string();
    let show = json(&run_ok(lib_cmd(dir.path()).args(["show", &id, "--json"])));
    assert_eq!(show["meta"]["title"], "Quarterly roadmap", "title from the first slide");
    for q in ["lisbon", "hir", "roadm", "isbo"] {
        let hits = json(&run_ok(lib_cmd(dir.path()).args(["search", q, "--json"])));
        assert_eq!(hits.as_array().unwrap().len(), 1, "'{q}' finds it");
    }
    assert_eq!(json(&run_ok(lib_cmd(dir.path()).args(["search", "berlin", "--json"]))), serde_json::json!([]));
    run_ok(lib_cmd(dir.path()).args(["rename", &id, "Plan for 2027"]));
    run_ok(lib_cmd(dir.path()).args(["describe", &id, "Budget and zeppelins"]));
    let hits = json(&run_ok(lib_cmd(dir.path()).args(["search", "zeppelin", "--json"])));
    assert_eq!(hits[0]["title"], "Plan for 2027");
}

#[test]
fn trim_cut_and_concat_keep_sync_and_never_destroy() {
    let dir = tempfile::tempdir().unwrap();
    let id = record(dir.path(), "6", "Long take");
    // On keyframes (whole seconds): stream copy.
    run_ok(lib_cmd(dir.path()).args(["trim", &id, "--start", "1", "--end", "5"]));
    let v = video(dir.path(), &id);
    assert!((duration(&v) - 4.0).abs() < 0.1, "trimmed to 4 s: {}", duration(&v));
    assert_in_sync(&v, 3);
    // Off keyframes: only the partial GOPs at the cut are re-encoded, still in sync.
    run_ok(lib_cmd(dir.path()).args(["cut", &id, "--from", "0.5", "--to", "1.25"]));
    assert!((duration(&v) - 3.25).abs() < 0.1, "cut 0.75 s: {}", duration(&v));
    assert_in_sync(&v, 2);
    let show = json(&run_ok(lib_cmd(dir.path()).args(["show", &id, "--json"])));
    let modes: Vec<&str> = show["meta"]["edits"].as_array().unwrap().iter().map(|e| e["params"]["mode"].as_str().unwrap_or("")).collect();
    assert_eq!(modes, ["copy", "edges"], "trim on keyframes copies; the cut re-encodes only its edges");
    let dec = Command::new("ffmpeg").args(["-v", "error", "-i"]).arg(&v).args(["-f", "null", "-"]).output().unwrap();
    assert!(dec.stderr.is_empty(), "decodes cleanly: {}", String::from_utf8_lossy(&dec.stderr));
    // The earlier versions are in the trash and can come back.
    let trash: Vec<_> = std::fs::read_dir(dir.path().join("lib/trash")).unwrap().flatten().collect();
    assert_eq!(trash.len(), 2, "both replaced versions kept");
    let name = trash.iter().map(|e| e.file_name().to_string_lossy().into_owned()).min().unwrap();
    run_ok(lib_cmd(dir.path()).args(["trash", "restore", &name]));
    let list = json(&run_ok(lib_cmd(dir.path()).args(["list", "--json"])));
    assert_eq!(list.as_array().unwrap().len(), 2);
    let restored = list.as_array().unwrap().iter().find(|e| e["id"] != id.as_str()).unwrap();
    assert!((f64_of(&restored["duration_s"]) - 6.0).abs() < 0.1, "the original 6 s recording is back");

    let other = record(dir.path(), "2", "Short");
    let o = run_ok(lib_cmd(dir.path()).args(["concat", &id, &other, "--title", "Both"]));
    assert!(o.status.success());
    let list = json(&run_ok(lib_cmd(dir.path()).args(["list", "--json"])));
    let both = list.as_array().unwrap().iter().find(|e| e["title"] == "Both").expect("joined recording");
    let bv = Path::new(both["path"].as_str().unwrap());
    assert!((duration(bv) - 5.25).abs() < 0.15, "3.25 + 2 s: {}", duration(bv));
    let chapters = ffprobe(bv)["chapters"].as_array().unwrap().len();
    assert!(chapters >= 2, "one chapter per joined recording");
}

#[test]
fn export_at_2x_is_half_as_long_with_the_beep_still_1khz() {
    let dir = tempfile::tempdir().unwrap();
    let id = record(dir.path(), "6", "Fast");
    let out = dir.path().join("fast.mp4");
    run_ok(lib_cmd(dir.path()).args(["export", &id, "--speed", "2", "--size", "480p", "--output"]).arg(&out));
    let p = ffprobe(&out);
    assert!((f64_of(&p["format"]["duration"]) - 3.0).abs() < 0.1, "{}", p["format"]["duration"]);
    assert_eq!(stream(&p, "video").unwrap()["height"].as_u64(), Some(480));
    let (samples, rate, _) = reel_codec::decode::decode_audio_mono(&out).unwrap();
    let onsets = reel_codec::analyze::beep_onsets(&samples, rate);
    assert!(onsets.len() >= 4, "beeps at 0.5 s intervals survive: {onsets:?}");
    // Pitch kept: count zero crossings inside the first beep (50 ms long at 2x).
    let s0 = onsets[0] + rate as usize / 200;
    let w = &samples[s0..s0 + rate as usize / 50];
    let crossings = w.windows(2).filter(|x| (x[0] < 0.0) != (x[1] < 0.0)).count();
    let hz = crossings as f64 / 2.0 / 0.02;
    assert!((hz - 1000.0).abs() < 100.0, "the beep is {hz} Hz at 2x, 1000 expected");
    assert_in_sync(&out, 4);
    // An existing output is not overwritten.
    let o = lib_cmd(dir.path()).args(["export", &id, "--speed", "2", "--output"]).arg(&out).output().unwrap();
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("already exists; choose another --output"), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn imports_bad_files_and_trims_outside_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let txt = dir.path().join("notes.txt");
    std::fs::write(&txt, "hello").unwrap();
    let fail = |args: &[&str], expect: &str| {
        let o = lib_cmd(dir.path()).args(args).output().unwrap();
        let e = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(!o.status.success() && e.contains(expect) && !e.contains("panicked"), "{args:?}: {e}");
    };
    fail(&["import", txt.to_str().unwrap()], "not a video");
    fail(&["import", "/no/such/file.mp4"], "no such file");
    let good = dir.path().join("clip.webm");
    let st = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25:duration=2",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=2",
            "-c:v",
            "libvpx",
            "-c:a",
            "libopus",
        ])
        .arg(&good)
        .status()
        .unwrap();
    assert!(st.success());
    let cut = dir.path().join("cut.webm");
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 20]).unwrap();
    // Truncated: either a clear error or what can be read, never a panic (101) or a signal.
    let t = lib_cmd(dir.path()).args(["import"]).arg(&cut).output().unwrap();
    let e = String::from_utf8_lossy(&t.stderr);
    assert!(t.status.code().is_some_and(|c| c == 0 || c == 1), "a truncated file ends the import cleanly, not with {:?}: {e}", t.status);
    assert!(!e.contains("panicked"), "{e}");
    if !t.status.success() {
        assert!(e.lines().any(|l| l.starts_with("error: ") && l.contains("cut.webm")), "the error names the file: {e}");
    }
    let o = json(&run_ok(lib_cmd(dir.path()).args(["import", "--json"]).arg(&good)));
    let id = o["id"].as_str().unwrap().to_string();
    let p = ffprobe(&video(dir.path(), &id));
    assert_eq!(stream(&p, "video").unwrap()["codec_name"], "h264", "VP8 is re-encoded to H.264 for the web");
    assert_eq!(stream(&p, "audio").unwrap()["codec_name"], "aac");
    fail(&["trim", &id, "--start", "1", "--end", "9"], "outside the recording");
    fail(&["trim", &id, "--start", "1.5", "--end", "1"], "start must be before the end");
    fail(&["show", "nope"], "no recording 'nope'");
    fail(&["export", &id, "--speed", "9", "--output", "/tmp/x.mp4"], "0.5 to 4");
}

#[test]
fn corrupt_metadata_and_lost_index_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let id = record(dir.path(), "1", "Keep me");
    std::fs::write(dir.path().join("lib/recordings").join(&id).join("meta.json"), b"{oops").unwrap();
    std::fs::write(dir.path().join("lib/index.sqlite"), b"garbage").unwrap();
    let _ = std::fs::remove_file(dir.path().join("lib/index.sqlite-wal"));
    let o = run_ok(lib_cmd(dir.path()).arg("list"));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(&id) && out.contains("warning") && out.contains("meta.json is unreadable"), "{out}");
    assert!(video(dir.path(), &id).exists());
    run_ok(lib_cmd(dir.path()).args(["library", "reindex"]));
}

#[test]
fn killed_import_leaves_nothing_half_visible() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("big.webm");
    let st = Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30:duration=20", "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8"])
        .arg(&src)
        .status()
        .unwrap();
    assert!(st.success());
    let mut child = lib_cmd(dir.path()).arg("import").arg(&src).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let tmp = dir.path().join("lib/tmp");
    assert!(wait_for(Duration::from_secs(20), || std::fs::read_dir(&tmp).map(|r| r.count() > 0).unwrap_or(false)), "import started");
    std::thread::sleep(Duration::from_millis(500));
    child.kill().unwrap();
    child.wait().unwrap();
    let list = json(&run_ok(lib_cmd(dir.path()).args(["list", "--json"])));
    assert_eq!(list, serde_json::json!([]), "nothing half-imported is listed");
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0, "temp files cleaned on the next start");
}

#[test]
fn two_processes_share_one_library() {
    let dir = tempfile::tempdir().unwrap();
    let id = record(dir.path(), "1", "Shared");
    let spawn = |n: usize| {
        let d = dir.path().to_path_buf();
        let id = id.clone();
        std::thread::spawn(move || {
            for i in 0..8 {
                let o = lib_cmd(&d).args(["rename", &id, &format!("title {n}-{i}")]).output().unwrap();
                assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
                let o = lib_cmd(&d).args(["search", "title", "--json"]).output().unwrap();
                assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            }
        })
    };
    let (a, b) = (spawn(1), spawn(2));
    a.join().unwrap();
    b.join().unwrap();
    let list = json(&run_ok(lib_cmd(dir.path()).args(["list", "--json"])));
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(list[0]["title"].as_str().unwrap().starts_with("title "));
}

/// Files as people have them: every sample format and channel layout of their audio (packed
/// stereo s16, planar float, 24-bit, 5.1, mono u8) beside H.264, VP9 and MPEG-4 video in MOV,
/// MKV and MP4, and H.264 with PCM audio (which an MP4 cannot carry as it is). Each imports,
/// keeps its length and keeps its sound (a 440 Hz tone, not silence).
#[test]
fn import_takes_every_audio_format_and_keeps_the_sound() {
    let dir = tempfile::tempdir().unwrap();
    for (name, vcodec, acodec, extra) in [
        ("packed-s16-stereo.mov", "mpeg4", "pcm_s16le", &["-ac", "2"][..]),
        ("planar-float-stereo.mkv", "libvpx-vp9", "aac", &["-ac", "2"][..]),
        ("s24-stereo.mkv", "libvpx-vp9", "pcm_s24le", &["-ac", "2"][..]),
        ("surround-5.1.mp4", "mpeg4", "aac", &["-ac", "6"][..]),
        ("u8-mono.mov", "mpeg4", "pcm_u8", &["-ac", "1"][..]),
        ("h264-pcm.mov", "libx264", "pcm_s16le", &["-ac", "2"][..]),
    ] {
        let src = dir.path().join(name);
        let st = Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x180:rate=25:duration=2", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=2"])
            .args(["-c:v", vcodec, "-c:a", acodec])
            .args(extra)
            .args(["-shortest"])
            .arg(&src)
            .status()
            .unwrap();
        assert!(st.success(), "ffmpeg made {name}");
        let o = lib_cmd(dir.path()).args(["import", "--json"]).arg(&src).output().unwrap();
        assert!(o.status.success(), "{name}: {}", String::from_utf8_lossy(&o.stderr));
        let id = json(&o)["id"].as_str().unwrap().to_string();
        let video = dir.path().join("lib/recordings").join(&id).join("video.mp4");
        let probe = ffprobe(&video);
        let d = f64_of(&probe["format"]["duration"]);
        assert!((d - 2.0).abs() < 0.3, "{name}: lasts {d} s");
        assert!(stream(&probe, "audio").is_some(), "{name}: has its audio");
        // The sound is there: its mean volume is that of the tone, not of silence.
        let vol = Command::new("ffmpeg").args(["-v", "info", "-i"]).arg(&video).args(["-af", "volumedetect", "-vn", "-f", "null", "-"]).output().unwrap();
        let text = String::from_utf8_lossy(&vol.stderr);
        let mean: f64 = text.lines().find_map(|l| l.split("mean_volume:").nth(1)).and_then(|v| v.trim().trim_end_matches(" dB").parse().ok()).unwrap_or(-99.0);
        assert!(mean > -40.0, "{name}: the tone is kept (mean volume {mean} dB)");
    }
}

#[test]
fn import_keeps_sound_that_starts_after_the_picture_in_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("late-sound.mkv");
    // The sound begins 0.8 s after the picture (its stream starts later), as in many cameras'
    // and screen recorders' files.
    let st = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x180:rate=25:duration=3"])
        .args(["-itsoffset", "0.8", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=2"])
        .args(["-c:v", "mpeg4", "-c:a", "libopus"])
        .arg(&src)
        .status()
        .unwrap();
    assert!(st.success());
    let o = run_ok(lib_cmd(dir.path()).args(["import", "--json"]).arg(&src));
    let id = json(&o)["id"].as_str().unwrap().to_string();
    let (samples, rate, start) = reel_codec::decode::decode_audio_mono(&video(dir.path(), &id)).unwrap();
    let onset = samples.iter().position(|s| s.abs() > 0.05).map(|i| start + i as f64 / rate as f64).expect("the tone is there");
    assert!((onset - 0.8).abs() < 0.08, "the tone starts at {onset:.3} s, not 0.8 s");
}
