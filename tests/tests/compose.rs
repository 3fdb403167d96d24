//! End to end for the compositor: slide decks, layouts, live control by script, chapters, screen
//! capture from a real Xvfb display, and previews. Colours are read back from the encoded MP4
//! with the ffmpeg CLI.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use reel_tests::*;

fn solid_png(path: &Path, w: u32, h: u32, rgb: [u8; 3]) {
    let mut data = Vec::with_capacity((w * h * 3) as usize);
    for _ in 0..w * h {
        data.extend_from_slice(&rgb);
    }
    write_png(path, w, h, &data);
}

/// The centre pixel (RGB) of the frame shown at `t` seconds.
fn colour_at(video: &Path, t: f64, x: u32, y: u32) -> [u8; 3] {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-ss", &format!("{t}"), "-i"])
        .arg(video)
        .args(["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .expect("ffmpeg");
    assert!(out.status.success(), "ffmpeg could not read a frame at {t}: {}", String::from_utf8_lossy(&out.stderr));
    let p = ffprobe(video);
    let w = stream(&p, "video").unwrap()["width"].as_u64().unwrap() as u32;
    let i = ((y * w + x) * 3) as usize;
    [out.stdout[i], out.stdout[i + 1], out.stdout[i + 2]]
}

/// Equal within what 4:2:0 H.264 at CRF 23 may change of a flat colour.
fn close(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| (*x as i32 - y as i32).abs() < 12)
}

fn deck(dir: &Path) -> std::path::PathBuf {
    let d = dir.join("deck");
    std::fs::create_dir_all(&d).unwrap();
    // Natural order: 2 before 10.
    solid_png(&d.join("1.png"), 160, 90, [230, 20, 20]);
    solid_png(&d.join("2.png"), 160, 90, [20, 200, 20]);
    solid_png(&d.join("10.png"), 160, 90, [20, 20, 230]);
    d
}

#[test]
fn scripted_slides_show_the_right_colour_at_the_right_time_with_chapters() {
    let dir = tempfile::tempdir().unwrap();
    let deck = deck(dir.path());
    let script = dir.path().join("script.json");
    std::fs::write(&script, r#"[{"at": 1.0, "action": "next"}, {"at": 2.0, "action": "next"}]"#).unwrap();
    let out = dir.path().join("talk.mp4");
    run_ok(
        reel(dir.path())
            .args(["record", "--camera", "none", "--mic", "none", "--duration", "3", "--size", "320x180", "--slides"])
            .arg(&deck)
            .arg("--script")
            .arg(&script)
            .arg("--output")
            .arg(&out),
    );
    assert!(close(colour_at(&out, 0.5, 160, 90), [230, 20, 20]), "slide 1 at 0.5 s");
    assert!(close(colour_at(&out, 1.5, 160, 90), [20, 200, 20]), "slide 2 at 1.5 s");
    assert!(close(colour_at(&out, 2.5, 160, 90), [20, 20, 230]), "slide 3 (10.png) at 2.5 s");

    let p = ffprobe(&out);
    let ch = p["chapters"].as_array().expect("chapters in the MP4");
    let titles: Vec<&str> = ch.iter().map(|c| c["tags"]["title"].as_str().unwrap_or("")).collect();
    assert_eq!(titles, ["Slide 1", "Slide 2", "Slide 3"]);
    let starts: Vec<f64> = ch.iter().map(|c| f64_of(&c["start_time"])).collect();
    assert!(starts[0].abs() < 0.01 && (starts[1] - 1.0).abs() < 0.2 && (starts[2] - 2.0).abs() < 0.2, "{starts:?}");

    let tl: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.path().join("talk.timeline.json")).expect("timeline beside the video")).unwrap();
    assert_eq!(tl["chapters"].as_array().unwrap().len(), 3);
    let slide_events = tl["events"].as_array().unwrap().iter().filter(|e| e["action"] == "slide").count();
    assert_eq!(slide_events, 3, "{tl}");
    assert_eq!(tl["slides"].as_array().unwrap().len(), 3);
}

#[test]
fn pdf_slides_name_their_chapters() {
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("deck.pdf");
    std::fs::write(&pdf, reel_compose::pdf::tiny_pdf(&["Intro", "Quarterly numbers"])).unwrap();
    let script = dir.path().join("s.json");
    std::fs::write(&script, r#"[{"at": 1.0, "action": "goto", "value": 2}]"#).unwrap();
    let out = dir.path().join("pdf.mp4");
    run_ok(
        reel(dir.path())
            .args(["record", "--camera", "none", "--mic", "none", "--duration", "2", "--size", "320x180", "--slides"])
            .arg(&pdf)
            .arg("--script")
            .arg(&script)
            .arg("--output")
            .arg(&out),
    );
    let p = ffprobe(&out);
    let titles: Vec<String> = p["chapters"].as_array().unwrap().iter().map(|c| c["tags"]["title"].as_str().unwrap_or("").to_string()).collect();
    assert_eq!(titles, ["Intro", "Quarterly numbers"]);
}

#[test]
fn layout_switch_mid_recording_moves_the_presenter() {
    let dir = tempfile::tempdir().unwrap();
    let deck = deck(dir.path());
    let script = dir.path().join("s.json");
    std::fs::write(&script, r#"[{"at": 1.0, "action": "layout", "value": "side"}, {"at": 2.0, "action": "camera", "value": "off"}]"#).unwrap();
    let out = dir.path().join("layouts.mp4");
    run_ok(
        reel(dir.path())
            .args(["record", "--camera", "synthetic", "--mic", "none", "--duration", "3", "--size", "640x360", "--layout", "bubble", "--slides"])
            .arg(&deck)
            .arg("--script")
            .arg(&script)
            .arg("--output")
            .arg(&out),
    );
    let red = [230, 20, 20];
    // Bubble: slide everywhere but the bottom-right bubble.
    assert!(close(colour_at(&out, 0.5, 40, 40), red), "bubble layout: slide at top left");
    assert!(close(colour_at(&out, 0.5, 600, 20), red), "bubble layout: slide at top right");
    assert!(!close(colour_at(&out, 0.5, 560, 290), red), "bubble layout: presenter bottom right");
    // Side: the right third is the presenter from top to bottom.
    assert!(!close(colour_at(&out, 1.5, 600, 20), red), "side layout: presenter on the right");
    assert!(close(colour_at(&out, 1.5, 200, 180), red), "side layout: slide on the left");
    // Camera off: no presenter on the right.
    let right = colour_at(&out, 2.5, 600, 20);
    assert!(!close(right, [240, 240, 240]) && right.iter().all(|&c| c < 60), "camera off: background on the right, got {right:?}");
}

/// A camera smaller than the output goes to the encoder at its own size (its scaler enlarges it
/// while converting) in the camera and pip layouts: the recording must still show it full
/// frame, mirrored, with the pip window over it in the slide's colour.
#[test]
fn small_camera_fills_camera_and_pip_layouts_mirrored() {
    let dir = tempfile::tempdir().unwrap();
    let deck = deck(dir.path());
    // A 320x180 camera: green on its left quarter, blue elsewhere.
    let cam = dir.path().join("cam.mp4");
    let st = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "color=c=0x1414E6:s=320x180:r=30:d=4",
            "-vf",
            "drawbox=x=0:y=0:w=80:h=180:color=0x14C814:t=fill",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
        ])
        .arg(&cam)
        .status()
        .unwrap();
    assert!(st.success());
    let script = dir.path().join("s.json");
    std::fs::write(&script, r#"[{"at": 1.0, "action": "layout", "value": "pip"}]"#).unwrap();
    let out = dir.path().join("cam-pip.mp4");
    run_ok(
        reel(dir.path())
            .args(["record", "--mic", "none", "--duration", "2", "--size", "640x360", "--layout", "camera", "--camera"])
            .arg(format!("file:{}", cam.display()))
            .arg("--slides")
            .arg(&deck)
            .arg("--script")
            .arg(&script)
            .arg("--output")
            .arg(&out),
    );
    let (green, blue, red) = ([20, 200, 20], [20, 20, 230], [230, 20, 20]);
    let p = ffprobe(&out);
    assert_eq!(stream(&p, "video").unwrap()["width"].as_u64(), Some(640), "the output size, not the camera's");
    // Camera, mirrored: the camera's left quarter shows on the right, across the whole height.
    for y in [10, 180, 350] {
        assert!(close(colour_at(&out, 0.5, 620, y), green), "mirrored camera: green on the right at y {y}: {:?}", colour_at(&out, 0.5, 620, y));
        assert!(close(colour_at(&out, 0.5, 20, y), blue), "blue on the left at y {y}");
    }
    assert!(close(colour_at(&out, 0.5, 460, 180), blue), "the green quarter ends at three quarters");
    // Pip: the same camera, with the slide in a framed window at the bottom right.
    assert!(close(colour_at(&out, 1.5, 20, 20), blue), "pip: the camera full frame");
    assert!(close(colour_at(&out, 1.5, 620, 20), green), "pip: still mirrored");
    // Window: 30% of 640 = 192 wide, 108 high, 14 px from the edges → centre at (530, 292).
    assert!(close(colour_at(&out, 1.5, 530, 292), red), "pip: the slide in the window: {:?}", colour_at(&out, 1.5, 530, 292));
    assert!(close(colour_at(&out, 1.5, 530, 150), green), "pip: camera above the window");
}

#[test]
fn screen_capture_records_what_xvfb_shows() {
    let dir = tempfile::tempdir().unwrap();
    let display = ":93";
    let mut xvfb = Command::new("Xvfb")
        .args([display, "-screen", "0", "640x480x24", "-nolisten", "tcp", "-noreset"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb is missing: install xvfb (scripts/setup.sh test)");
    let up = wait_for(Duration::from_secs(10), || Command::new("xsetroot").args(["-display", display, "-solid", "#10c040"]).status().is_ok_and(|s| s.success()));
    assert!(up, "Xvfb did not come up (xsetroot from x11-xserver-utils is needed)");
    let out = dir.path().join("screen.mp4");
    let r = reel(dir.path())
        .args(["record", "--camera", "none", "--mic", "none", "--duration", "1.5", "--size", "640x480", "--screen", display, "--output"])
        .arg(&out)
        .output()
        .unwrap();
    // A wide region of it: letterboxed into the 4:3 output.
    let region_out = dir.path().join("region.mp4");
    let r2 = reel(dir.path())
        .args(["record", "--camera", "none", "--mic", "none", "--duration", "1", "--size", "640x480", "--screen", ":93+10,10", "--region", "320x120", "--output"])
        .arg(&region_out)
        .output()
        .unwrap();
    let _ = xvfb.kill();
    let _ = xvfb.wait();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    // Away from the centre, where the X pointer is drawn.
    let c = colour_at(&out, 0.8, 100, 100);
    assert!(close(c, [16, 192, 64]), "the screen's colour was recorded, got {c:?}");
    assert!(r2.status.success(), "{}", String::from_utf8_lossy(&r2.stderr));
    assert!(close(colour_at(&region_out, 0.5, 100, 240), [16, 192, 64]), "the region fills the middle");
    assert!(close(colour_at(&region_out, 0.5, 100, 30), [24, 26, 32]), "and is letterboxed: 320x120 is wider than 4:3");
}

#[test]
fn preview_renders_a_bubble_over_a_slide() {
    let dir = tempfile::tempdir().unwrap();
    let deck = deck(dir.path());
    let png = dir.path().join("frame.png");
    run_ok(reel(dir.path()).args(["preview", "--camera", "synthetic", "--layout", "bubble", "--size", "640x360", "--slide", "2", "--slides"]).arg(&deck).arg("--output").arg(&png));
    let (w, _, rgba) = read_png(&png);
    let px = |x: u32, y: u32| {
        let i = ((y * w + x) * 4) as usize;
        [rgba[i], rgba[i + 1], rgba[i + 2]]
    };
    assert!(close(px(40, 40), [20, 200, 20]), "slide 2 is the stage");
    assert!(!close(px(560, 290), [20, 200, 20]), "the presenter is in the bubble");
}

#[test]
fn bad_decks_scripts_and_displays_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = dir.path().join("x.mp4");
    let run = |args: &[&str]| {
        let o = reel(dir.path()).args(["record", "--camera", "none", "--mic", "none", "--duration", "1", "--output"]).arg(&out).args(args).output().unwrap();
        assert!(!o.status.success(), "{args:?} must fail");
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let e = run(&["--slides", empty.to_str().unwrap()]);
    assert!(e.contains("has no slides"), "{e}");
    let bad = dir.path().join("bad.png");
    std::fs::write(&bad, b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let e = run(&["--slides", bad.to_str().unwrap()]);
    assert!(e.contains("bad.png") && !e.contains("panicked"), "{e}");
    let pdf = dir.path().join("broken.pdf");
    std::fs::write(&pdf, b"%PDF-1.7\ngarbage").unwrap();
    let e = run(&["--slides", pdf.to_str().unwrap()]);
    assert!(e.contains("broken.pdf") && e.contains("not a valid PDF"), "{e}");
    let d = deck(dir.path());
    let script = dir.path().join("s.json");
    std::fs::write(&script, r#"[{"at": 0.5, "action": "goto", "value": 9}]"#).unwrap();
    let e = run(&["--slides", d.to_str().unwrap(), "--script", script.to_str().unwrap()]);
    assert!(e.contains("slide 9 is out of range") && e.contains("3 slides"), "{e}");
    std::fs::write(&script, r#"[{"at": 0.5, "action": "layout", "value": "grid"}]"#).unwrap();
    let e = run(&["--slides", d.to_str().unwrap(), "--script", script.to_str().unwrap()]);
    assert!(e.contains("grid"), "{e}");
    let e = run(&["--screen", ":77"]);
    assert!(e.contains("cannot capture X display ':77'"), "{e}");
    let e = run(&["--layout", "bubble"]);
    assert!(e.contains("--slides"), "{e}");
    let e = run(&["--layout", "grid"]);
    assert!(e.contains("unknown layout 'grid'"), "{e}");
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    assert!(!names.iter().any(|n| n.contains("x.mp4")), "nothing half-written: {names:?}");
}
