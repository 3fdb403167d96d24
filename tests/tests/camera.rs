//! A real webcam path without a webcam: the test camera (tests/fakecam, an LD_PRELOAD V4L2
//! device that nokhwa opens through its real code path) offering only some formats and sizes,
//! streaming a known picture: colour bars and a binary frame counter. Each test checks the
//! camera's picture in the decoded output, not just that a file exists.

use std::path::Path;

use reel_tests::*;

/// Where a camera of `cw`x`ch` lands in a `w`x`h` picture in the camera layout (fitted,
/// letterboxed): (x, y, width, height) as fractions of the picture.
fn fitted(cw: u32, ch: u32, w: u32, h: u32) -> (f64, f64, f64, f64) {
    let s = (w as f64 / cw as f64).min(h as f64 / ch as f64);
    let (fw, fh) = (cw as f64 * s / w as f64, ch as f64 * s / h as f64);
    ((1.0 - fw) / 2.0, (1.0 - fh) / 2.0, fw, fh)
}

/// Checks the eight colour bars of the test camera inside the camera's rectangle `r`.
fn bars_ok(frame: &[u8], w: u32, h: u32, r: (f64, f64, f64, f64)) -> Result<(), String> {
    for (i, want) in FAKECAM_BARS.iter().enumerate() {
        let fx = r.0 + r.2 * (i as f64 + 0.5) / 8.0;
        let fy = r.1 + r.3 * 0.35;
        let got = rgb_at(frame, w, h, fx, fy);
        if !near_rgb(got, *want, 28) {
            return Err(format!("bar {i} at ({fx:.2}, {fy:.2}) is {got:?}, want {want:?}"));
        }
    }
    Ok(())
}

/// The test camera's frame counter (8 bits, white = 1, bit 7 leftmost, in the bottom quarter).
fn counter(frame: &[u8], w: u32, h: u32, r: (f64, f64, f64, f64)) -> u8 {
    (0..8).fold(0u8, |n, k| {
        let px = rgb_at(frame, w, h, r.0 + r.2 * (k as f64 + 0.5) / 8.0, r.1 + r.3 * 0.875);
        let on = px.iter().map(|&c| c as u32).sum::<u32>() > 3 * 128;
        (n << 1) | on as u8
    })
}

fn record(dir: &Path, cam: &FakeCam, size: &str, seconds: &str, out: &Path) -> std::process::Output {
    let mut c = reel(dir);
    c.args(["record", "--camera", "0", "--mic", "none", "--size", size, "--duration", seconds, "--layout", "camera", "--no-mirror", "--countdown", "0", "--json", "--output"])
        .arg(out);
    cam.apply(&mut c);
    c.output().expect("run reel")
}

#[test]
fn devices_json_lists_the_test_camera_with_its_modes_and_pick() {
    let dir = tempfile::tempdir().unwrap();
    let cam = FakeCam::new("yuyv,mjpeg", "640x480,1280x720", 30);
    let out = run_ok(cam.apply(reel(dir.path()).args(["devices", "--json", "--size", "1080p"])));
    let d = json(&out);
    let c = &d["cameras"][0];
    assert_eq!(c["name"], "Reel Test Camera", "{d}");
    let modes = c["modes"].as_array().expect("modes");
    for (f, w, h) in [("yuyv", 640, 480), ("yuyv", 1280, 720), ("mjpeg", 640, 480), ("mjpeg", 1280, 720)] {
        assert!(modes.iter().any(|m| m["format"] == f && m["width"] == w && m["height"] == h && m["fps"] == 30), "{f} {w}x{h} listed: {modes:?}");
    }
    // Nothing reaches 1080p: the largest that holds 30 fps, the cheaper to decode of the two.
    assert_eq!(c["pick"], serde_json::json!({"format": "yuyv", "width": 1280, "height": 720, "fps": 30}), "{d}");
    // For 480p the smallest mode that covers it, raw.
    let out = run_ok(cam.apply(reel(dir.path()).args(["devices", "--json", "--size", "640x480"])));
    assert_eq!(json(&out)["cameras"][0]["pick"], serde_json::json!({"format": "yuyv", "width": 640, "height": 480, "fps": 30}));
}

/// 1080p output from a camera that offers only YUYV 640x480 (or only MJPEG 1280x720): no exact
/// mode exists, Reel picks one and the compositor scales. The file has the camera's bars where
/// the camera sits, and its frame counter advances.
fn records_the_camera(formats: &str, sizes: &str, cw: u32, ch: u32) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cam.mp4");
    let cam = FakeCam::new(formats, sizes, 30);
    let r = record(dir.path(), &cam, "1080p", "3", &out);
    assert!(r.status.success(), "reel record failed: {}", String::from_utf8_lossy(&r.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&r.stdout).expect("json summary");
    let (w, h, frames) = decode_rgb(&out);
    assert_eq!((w, h), (1920, 1080));
    assert!(frames.len() >= 88, "{} frames in 3 s: {summary}", frames.len());
    let rect = fitted(cw, ch, w, h);
    let mut counters = Vec::new();
    for (i, f) in frames.iter().enumerate().step_by(10) {
        bars_ok(f, w, h, rect).unwrap_or_else(|e| panic!("frame {i}: {e}"));
        counters.push(counter(f, w, h, rect));
    }
    let distinct: std::collections::HashSet<u8> = counters.iter().copied().collect();
    assert!(distinct.len() >= counters.len() - 1, "the camera's counter advances: {counters:?}");
    assert_eq!(summary["health"]["camera_disconnects"], 0, "{summary}");
}

#[test]
fn records_1080p_from_a_yuyv_only_vga_camera() {
    records_the_camera("yuyv", "640x480", 640, 480);
}

#[test]
fn records_1080p_from_an_mjpeg_only_720p_camera() {
    records_the_camera("mjpeg", "1280x720", 1280, 720);
}

#[test]
fn preview_shows_the_camera() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("frame.png");
    let cam = FakeCam::new("yuyv", "640x480", 30);
    run_ok(cam.apply(reel(dir.path()).args(["preview", "--camera", "0", "--layout", "camera", "--no-mirror", "--size", "1280x720", "--output"]).arg(&png)));
    let (w, h, rgba) = read_png(&png);
    let rgb: Vec<u8> = rgba.chunks(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
    bars_ok(&rgb, w, h, fitted(640, 480, w, h)).unwrap_or_else(|e| panic!("preview: {e}"));
}

/// The camera is unplugged 2 s into a 5 s recording and plugged back 1.5 s later (the test
/// holds the plug: a file the test camera watches): the file is whole (5 s, playable), the
/// lost stretch shows the dimmed last picture with its card, the camera's picture returns, and
/// the health counters and the CLI say what happened.
#[test]
fn unplugged_mid_recording_the_recording_goes_on_and_picks_it_up_again() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("unplug.mp4");
    let plug = dir.path().join("unplugged");
    let cam = FakeCam::new("yuyv", "640x480", 30).with("UNPLUG_FILE", plug.to_str().unwrap());
    let mut c = reel(dir.path());
    c.args(["record", "--camera", "0", "--mic", "none", "--size", "640x480", "--duration", "5", "--layout", "camera", "--no-mirror", "--countdown", "0", "--json", "--output"])
        .arg(&out);
    let mut child = cam.apply(&mut c).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().expect("run reel");
    // The take starts when the CLI says "recording to"; everything after is kept for the checks.
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for l in stderr.lines().map_while(Result::ok) {
            let _ = tx.send(l.clone());
            all += &l;
            all.push('\n');
        }
        all
    });
    let started = rx.iter().any(|l| l.contains("recording to"));
    assert!(started, "the recording started");
    let t0 = std::time::Instant::now();
    std::thread::sleep(std::time::Duration::from_millis(2000));
    std::fs::write(&plug, b"").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    std::fs::remove_file(&plug).unwrap();
    let unplug_window = t0.elapsed();
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    let status = child.wait().unwrap();
    let stderr = reader.join().unwrap();
    assert!(status.success(), "reel record failed: {stderr}");
    assert!(unplug_window.as_secs_f64() < 4.5, "the test itself ran late ({unplug_window:?}): the plug was pulled too late to check");
    assert!(stderr.contains("camera disconnected at"), "the CLI says so at once: {stderr}");
    assert!(stderr.contains("camera back at"), "and when it is back: {stderr}");
    let summary: serde_json::Value = serde_json::from_str(&stdout).expect("json summary");
    let health = &summary["health"];
    assert_eq!(health["camera_disconnects"], 1, "{summary}");
    let lost = health["camera_lost_ms"].as_f64().unwrap_or(0.0);
    assert!((900.0..2600.0).contains(&lost), "about 1.5 s without the camera: {lost} ms");
    let probe = ffprobe(&out);
    let dur = f64_of(&probe["format"]["duration"]);
    assert!((4.8..5.3).contains(&dur), "the whole 5 s: {dur}");
    let (w, h, frames) = decode_rgb(&out);
    assert!(frames.len() >= 145, "{} frames", frames.len());
    let full = (0.0, 0.0, 1.0, 1.0);
    bars_ok(&frames[30], w, h, full).expect("the camera at 1 s");
    // Around 2.9 s: the last picture at a third of its brightness (the white bar 191 → ~64).
    let white = rgb_at(&frames[87], w, h, 1.0 / 16.0, 0.35);
    assert!(white.iter().all(|&c| (40..100).contains(&c)), "dimmed while lost: {white:?}");
    bars_ok(&frames[frames.len() - 10], w, h, full).expect("the camera again at the end");
}

#[test]
fn a_busy_camera_is_a_clear_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("busy.mp4");
    let cam = FakeCam::new("yuyv", "640x480", 30).with("BUSY", "1");
    let r = record(dir.path(), &cam, "640x480", "2", &out);
    assert!(!r.status.success(), "a busy camera cannot record");
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(stderr.contains("camera 'Reel Test Camera' is in use by another program"), "{stderr}");
    assert!(!out.exists(), "nothing is left behind");
}

/// With a PulseAudio whose speaker monitor is listed before the microphone, the system default
/// source comes first and is the one recorded; the monitor is last and marked.
#[test]
fn the_default_microphone_comes_first_and_monitors_last() {
    let pulse = Pulse::start();
    let dir = tempfile::tempdir().unwrap();
    let mut c = reel(dir.path());
    pulse.env(&mut c);
    let out = run_ok(c.args(["devices", "--json"]));
    let mics = json(&out)["mics"].as_array().cloned().unwrap_or_default();
    let order = pulse.cmd("pactl").args(["list", "short", "sources"]).output().expect("pactl");
    let listed = String::from_utf8_lossy(&order.stdout).to_string();
    assert!(listed.find("vmic.monitor") < listed.find("virtmic"), "the server lists the monitor first: {listed}");
    assert_eq!(mics.first().map(|m| m["id"].clone()), Some(serde_json::json!("pulseaudio:virtmic")), "the default first: {mics:?}");
    assert_eq!(mics[0]["is_default"], true);
    let monitor = mics.iter().position(|m| m["id"] == "pulseaudio:vmic.monitor").expect("the monitor is listed");
    assert_eq!(mics[monitor]["is_monitor"], true);
    assert!(mics[monitor..].iter().all(|m| m["is_monitor"] == true), "monitors last: {mics:?}");
}
