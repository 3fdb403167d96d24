//! The share page in a real Chromium (Debian's, through chromedriver): it loads, plays with no
//! media error, runs faster at 2x than at 1x, starts at the creator's default speed, remembers
//! the viewer's choice, seeks by chapter and answers the keyboard.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use reel_tests::*;

fn lib_cmd(dir: &Path) -> Command {
    let mut c = reel(dir);
    c.env("REEL_LIBRARY", dir.join("lib"));
    c
}

fn num(v: serde_json::Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

/// `reel serve` on the library in `dir`, on a free port: the process and the address it
/// listens on.
fn serve(dir: &Path) -> (std::process::Child, String) {
    let mut server = lib_cmd(dir).args(["serve", "--bind", "127.0.0.1:0"]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap()).read_line(&mut line).unwrap();
    (server, line.trim().strip_prefix("listening on ").unwrap().to_string())
}

/// How far the video's clock moves over about a second of wall time, as a ratio.
fn rate(b: &Browser) -> f64 {
    let t0 = num(b.js("return document.querySelector('video').currentTime"));
    let w0 = std::time::Instant::now();
    std::thread::sleep(Duration::from_millis(1200));
    let t1 = num(b.js("return document.querySelector('video').currentTime"));
    (t1 - t0) / w0.elapsed().as_secs_f64()
}

#[test]
fn share_page_plays_at_speed_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let deck = dir.path().join("deck");
    std::fs::create_dir_all(&deck).unwrap();
    write_png(&deck.join("1.png"), 16, 9, &[200u8; 16 * 9 * 3]);
    write_png(&deck.join("2.png"), 16, 9, &[60u8; 16 * 9 * 3]);
    let script = dir.path().join("s.json");
    std::fs::write(&script, r#"[{"at": 4.0, "action": "next"}]"#).unwrap();
    let o = run_ok(
        lib_cmd(dir.path())
            .args(["record", "--camera", "synthetic", "--mic", "tone", "--size", "320x180", "--duration", "12", "--json", "--title", "Browser test", "--slides"])
            .arg(&deck)
            .arg("--script")
            .arg(&script),
    );
    let id = json(&o)["id"].as_str().unwrap().to_string();
    let token = json(&run_ok(lib_cmd(dir.path()).args(["share", &id, "--default-speed", "1.5", "--json"])))["token"].as_str().unwrap().to_string();
    let (mut server, base) = serve(dir.path());

    let b = Browser::start();
    b.goto(&format!("{base}/v/{token}"));
    assert_eq!(b.js("return document.title"), "Browser test");
    let ready = wait_for(Duration::from_secs(15), || num(b.js("return document.querySelector('video').readyState")) >= 1.0);
    assert!(ready, "the video loads its metadata");
    assert_eq!(num(b.js("return document.querySelector('video').playbackRate")), 1.5, "the creator's default speed");
    assert_eq!(b.js("return document.querySelector('video').preservesPitch"), true);
    assert_eq!(b.js("return document.querySelectorAll('.chapters button').length"), 2);

    b.js("const v = document.querySelector('video'); v.muted = true; v.playbackRate = 1; v.play(); return 0");
    assert!(wait_for(Duration::from_secs(10), || num(b.js("return document.querySelector('video').currentTime")) > 0.2), "it plays");
    let r1 = rate(&b);
    b.js("document.querySelectorAll('.controls button')[6].click(); return 0"); // 2x
    assert_eq!(num(b.js("return document.querySelector('video').playbackRate")), 2.0);
    b.js("const v = document.querySelector('video'); v.currentTime = 1; return 0");
    let r2 = rate(&b);
    assert!(r2 > r1 * 1.3, "2x runs faster than 1x: {r1:.2} vs {r2:.2} (video seconds per wall second)");
    assert_eq!(b.js("return document.querySelector('video').error"), serde_json::Value::Null, "no media error");

    // A chapter click seeks there.
    b.js("document.querySelectorAll('.chapters button')[1].click(); return 0");
    let t = num(b.js("return document.querySelector('video').currentTime"));
    assert!((4.0..5.5).contains(&t), "chapter 2 starts at 4 s, currentTime {t}");
    // Keys: '<' slows down one step, 'j' goes back 10 s.
    b.js("document.dispatchEvent(new KeyboardEvent('keydown', {key: '<'})); return 0");
    assert_eq!(num(b.js("return document.querySelector('video').playbackRate")), 1.75);
    b.js("document.dispatchEvent(new KeyboardEvent('keydown', {key: 'j'})); return 0");
    assert!(num(b.js("return document.querySelector('video').currentTime")) < 1.0, "j: back 10 s (clamped at 0)");
    // The viewer's choice is remembered over the creator's default.
    b.goto(&format!("{base}/v/{token}"));
    assert_eq!(num(b.js("return document.querySelector('video').playbackRate")), 1.75);
    // Views: the first play counted this browser once.
    let views = |b: &Browser| b.js("return document.querySelector('.views').textContent");
    assert!(wait_for(Duration::from_secs(5), || views(&b) == "1 view"), "one view: {}", views(&b));

    // A comment at a moment, through the page's own form; markup in it stays text.
    b.js("const v = document.querySelector('video'); v.pause(); v.currentTime = 3; return 0");
    assert!(wait_for(Duration::from_secs(5), || (num(b.js("return document.querySelector('video').currentTime")) - 3.0).abs() < 0.1));
    b.js("const f = document.querySelector('.comment-form'); f.querySelector('input').value = 'Ana'; \
          f.querySelector('textarea').value = '<img src=x onerror=\"document.title=1\"> slide two'; \
          f.querySelector('button[type=submit]').click(); return 0");
    assert!(wait_for(Duration::from_secs(5), || b.js("return document.querySelectorAll('.comments li').length") == 1), "the comment shows");
    b.js("document.querySelector('.reactions button').click(); return 0");
    assert!(wait_for(Duration::from_secs(5), || b.js("return document.querySelectorAll('.timeline .mark.reaction').length") == 1), "the reaction is on the timeline");
    // It survives a reload, is marked on the timeline, and a click on it seeks there.
    b.goto(&format!("{base}/v/{token}"));
    assert!(wait_for(Duration::from_secs(10), || b.js("return document.querySelectorAll('.timeline .mark.comment').length") == 1), "comment on the timeline after reload");
    assert_eq!(b.js("return document.querySelectorAll('.comments img').length"), 0, "no markup from a comment");
    assert_eq!(b.js("return document.querySelector('.comments .body').textContent"), "<img src=x onerror=\"document.title=1\"> slide two");
    assert_eq!(b.js("return document.title"), "Browser test");
    b.js("document.querySelector('.comments .at').click(); return 0");
    let t = num(b.js("return document.querySelector('video').currentTime"));
    assert!((2.9..3.6).contains(&t), "clicking the comment seeks to its moment: {t}");
    b.js("document.querySelector('video').pause(); return 0");
    assert!(wait_for(Duration::from_secs(5), || views(&b) == "1 view"), "the same browser is still one view: {}", views(&b));
    // Accessibility, checked by axe-core in the page: no serious or critical violation.
    let found = axe_serious(&b);
    assert!(found.is_empty(), "the share page with a comment: {found:#?}");
    let shot = dir.path().join("share-page.png");
    b.screenshot(&shot);
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000, "a screenshot of the page");
    let keep = std::env::var_os("REEL_SCREENSHOTS").map(std::path::PathBuf::from);
    if let Some(d) = keep {
        let _ = std::fs::create_dir_all(&d);
        let _ = std::fs::copy(&shot, d.join("share-page.png"));
    }

    // A password-protected link in the browser: the form, a wrong password, then the video.
    let pw = password_file(dir.path(), "hunter2-hunter2");
    let locked = json(&run_ok(lib_cmd(dir.path()).args(["share", &id, "--json", "--password-file"]).arg(&pw)))["token"].as_str().unwrap().to_string();
    b.goto(&format!("{base}/v/{locked}"));
    assert_eq!(b.js("return document.querySelectorAll('video').length"), 0, "nothing before the password");
    b.js("document.querySelector('#pw').value = 'nope'; document.querySelector('form').submit(); return 0");
    assert!(wait_for(Duration::from_secs(5), || b.js("return document.querySelector('.error')?.textContent ?? ''") == "That password is not right."));
    let found = axe_serious(&b);
    assert!(found.is_empty(), "the password form with its error: {found:#?}");
    b.js("document.querySelector('#pw').value = 'hunter2-hunter2'; document.querySelector('form').submit(); return 0");
    assert!(wait_for(Duration::from_secs(10), || num(b.js("return document.querySelector('video')?.readyState ?? 0")) >= 1.0), "the video loads after the password");
    // An expired link shows the same 404 as any wrong path.
    let short = json(&run_ok(lib_cmd(dir.path()).args(["share", &id, "--expires", "1s", "--json"])))["token"].as_str().unwrap().to_string();
    std::thread::sleep(Duration::from_millis(2100));
    b.goto(&format!("{base}/v/{short}"));
    assert_eq!(b.js("return document.body.textContent.trim()"), "Not found");
    let found = axe_serious(&b);
    assert!(found.is_empty(), "the page of an expired link: {found:#?}");
    let _ = server.kill();
    let _ = server.wait();
}

/// Stop → link at once: a recording goes into the library as recorded (a fragmented MP4) and
/// its link plays; the download copy (faststart, the chapters and title inside) is made after
/// and swaps in while a viewer watches: the viewer's playback goes on where it was.
#[test]
fn the_download_copy_swaps_in_while_a_viewer_watches() {
    let dir = tempfile::tempdir().unwrap();
    // A recording as the recorder leaves it at Stop: fragments of a second, in its folder.
    let rec = dir.path().join("lib/recordings/r1");
    std::fs::create_dir_all(&rec).unwrap();
    let st = Command::new("ffmpeg")
        // Noise: megabytes a second, so that the browser cannot have it all buffered.
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "nullsrc=size=640x360:rate=25:duration=20,geq=lum='random(1)*255':cb=128:cr=128",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=20",
        ])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-crf",
            "12",
            "-g",
            "25",
            "-c:a",
            "aac",
            "-shortest",
            "-movflags",
            "frag_keyframe+empty_moov+default_base_moof",
            "-frag_duration",
            "1000000",
        ])
        .arg(rec.join("video.mp4"))
        .status()
        .expect("ffmpeg");
    assert!(st.success());
    let meta = serde_json::json!({"version": 1, "id": "r1", "title": "Just stopped", "created": "2026-12-01T10:00:00Z", "duration_s": 20.0,
        "width": 320, "height": 180, "chapters": [{"start_s": 0.0, "end_s": 8.0, "title": "Intro"}, {"start_s": 8.0, "end_s": 20.0, "title": "Demo"}]});
    std::fs::write(rec.join("meta.json"), serde_json::to_vec(&meta).unwrap()).unwrap();
    let before = std::fs::read(rec.join("video.mp4")).unwrap();
    assert!(before.windows(4).any(|w| w == b"moof"), "the test starts from a fragmented file");

    let token = json(&run_ok(lib_cmd(dir.path()).args(["share", "r1", "--json"])))["token"].as_str().unwrap().to_string();
    let (mut server, base) = serve(dir.path());
    let b = Browser::start();
    b.goto(&format!("{base}/v/{token}"));
    b.js("const v = document.querySelector('video'); v.muted = true; v.playbackRate = 1; v.play(); return 0");
    let t = |b: &Browser| num(b.js("return document.querySelector('video').currentTime"));
    assert!(wait_for(Duration::from_secs(15), || t(&b) > 1.0), "the link plays the file as recorded");

    // The download copy swaps in while it plays.
    run_ok(lib_cmd(dir.path()).args(["library", "optimize", "r1"]));
    let after = std::fs::read(rec.join("video.mp4")).unwrap();
    assert!(!after.windows(4).any(|w| w == b"moof"), "the file is one movie now");
    let moov = after.windows(4).position(|w| w == b"moov").unwrap();
    let mdat = after.windows(4).position(|w| w == b"mdat").unwrap();
    assert!(moov < mdat, "its index first (faststart)");
    let probe = Command::new("ffprobe").args(["-v", "error", "-show_chapters", "-show_entries", "format_tags=title", "-of", "json"]).arg(rec.join("video.mp4")).output().unwrap();
    let probe: serde_json::Value = serde_json::from_slice(&probe.stdout).unwrap();
    assert_eq!(probe["chapters"].as_array().map(Vec::len), Some(2), "chapters inside: {probe}");
    assert_eq!(probe["format"]["tags"]["title"], "Just stopped");
    assert!(rec.join("preview.gif").exists(), "and its animated preview");
    // The viewer goes on, and jumps ahead to what the browser has not fetched yet: it comes
    // from the new file, whose layout differs (the player loads it again where it was).
    let at_swap = t(&b);
    assert!(wait_for(Duration::from_secs(10), || t(&b) > at_swap + 1.0), "playback goes on past the swap");
    b.js("const v = document.querySelector('video'); v.currentTime = 14; return 0");
    let ok = wait_for(Duration::from_secs(20), || t(&b) > 16.0);
    assert!(
        ok,
        "after a jump past the swap it plays on: at {:.1} s, error {}, buffered to {}",
        t(&b),
        b.js("const v = document.querySelector('video'); return v.error && v.error.code"),
        b.js("const v = document.querySelector('video'); return v.buffered.length ? v.buffered.end(v.buffered.length - 1) : 0")
    );
    assert_eq!(b.js("return document.querySelector('video').error"), serde_json::Value::Null, "no media error left");
    assert!(wait_for(Duration::from_secs(15), || b.js("return document.querySelector('video').ended") == true), "plays to the end");
    let _ = server.kill();
    let _ = server.wait();
}

#[test]
fn the_transcript_panel_follows_the_video_and_seeks_and_finds_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let parts = ["Welcome to the weekly update from the platform team.", "Remember to book the large meeting room early.", "Please review the onboarding checklist before Monday."];
    let (video, spans) = speech_video(dir.path(), &parts, 1.5);
    let o = run_ok(lib_cmd(dir.path()).args(["import", "--json", "--title", "Spoken"]).arg(&video));
    let id = json(&o)["id"].as_str().unwrap().to_string();
    let token = json(&run_ok(lib_cmd(dir.path()).args(["share", &id, "--json"])))["token"].as_str().unwrap().to_string();
    let (mut server, base) = serve(dir.path());
    let b = Browser::start();
    b.goto(&format!("{base}/v/{token}"));
    assert!(wait_for(Duration::from_secs(15), || num(b.js("return document.querySelectorAll('.transcript .lines button').length")) >= 3.0), "the transcript panel lists the lines");
    let lines = b.js("return [...document.querySelectorAll('.transcript .lines button')].map(b => [Number(b.dataset.t), b.querySelector('.text').textContent])");
    let lines = lines.as_array().unwrap().clone();
    let meeting = lines.iter().position(|l| l[1].as_str().unwrap_or("").contains("meeting room")).expect("the second sentence is a line");
    let t = num(lines[meeting][0].clone());
    assert!((t - spans[1].0).abs() < 0.5, "the line starts at {t:.2}, the sentence at {:.2}", spans[1].0);
    // A click on the line seeks there and marks it as the one being said.
    b.js(&format!("const v = document.querySelector('video'); v.muted = true; document.querySelectorAll('.transcript .lines button')[{meeting}].click(); return 0"));
    assert!(wait_for(Duration::from_secs(5), || (num(b.js("return document.querySelector('video').currentTime")) - t).abs() < 0.8), "the click seeks to the line");
    assert!(
        wait_for(Duration::from_secs(5), || b.js("return document.querySelector('.transcript .now .text')?.textContent ?? ''").as_str().unwrap_or("").contains("meeting room")),
        "the current line is marked"
    );
    assert_eq!(b.js("return document.querySelector('.transcript .now button').getAttribute('aria-current')"), "true");
    // The search box keeps the lines that match, the words marked.
    b.js("const s = document.querySelector('.transcript input[type=search]'); s.value = 'onboarding'; s.dispatchEvent(new Event('input')); return 0");
    assert_eq!(num(b.js("return [...document.querySelectorAll('.transcript .lines li')].filter(l => !l.hidden).length")), 1.0);
    assert_eq!(b.js("return document.querySelector('.transcript mark').textContent.toLowerCase()"), "onboarding");
    assert!(axe_serious(&b).is_empty(), "{:?}", axe_serious(&b));
    drop(b);
    let _ = server.kill();
    let _ = server.wait();
}
