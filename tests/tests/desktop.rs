//! The real desktop app under Xvfb, driven over WebDriver (WebKitGTK's own driver): the demo
//! camera preview shows, the demo deck and the bubble layout draw where they should, a 3 s
//! recording lands in the library with its poster, plays at 2x in the app, and its share link
//! plays in Chromium. Screenshots of each view are kept when REEL_SCREENSHOTS names a folder.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use reel_tests::*;

fn num(v: serde_json::Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

/// The RGB of the preview image at a fraction of its size, read through a canvas.
fn preview_px(b: &Browser, fx: f64, fy: f64) -> [u8; 3] {
    let v = b.js(&format!(
        "const i = document.querySelector('#preview'); const c = document.createElement('canvas'); \
         c.width = i.naturalWidth; c.height = i.naturalHeight; const x = c.getContext('2d'); x.drawImage(i, 0, 0); \
         const d = x.getImageData(Math.floor(c.width * {fx}), Math.floor(c.height * {fy}), 1, 1).data; return [d[0], d[1], d[2]];"
    ));
    let a = v.as_array().cloned().unwrap_or_default();
    [0, 1, 2].map(|i| a.get(i).and_then(|x| x.as_u64()).unwrap_or(0) as u8)
}

fn near(a: [u8; 3], b: [u8; 3], tol: i32) -> bool {
    a.iter().zip(b).all(|(x, y)| (*x as i32 - y as i32).abs() <= tol)
}

fn shot(b: &Browser, dir: &Path, name: &str) {
    let p = dir.join(name);
    b.screenshot(&p);
    let (w, h, px) = read_png(&p);
    assert!(w >= 600 && h >= 400, "{name}: {w}x{h}");
    let distinct: std::collections::HashSet<&[u8]> = px.chunks(4).step_by(97).collect();
    assert!(distinct.len() > 20, "{name} is not blank ({} colours)", distinct.len());
    if let Some(keep) = std::env::var_os("REEL_SCREENSHOTS").map(PathBuf::from) {
        let _ = std::fs::create_dir_all(&keep);
        let _ = std::fs::copy(&p, keep.join(name));
    }
}

/// What to do in a save dialog.
enum Answer<'a> {
    /// Press Enter: take the name it offers.
    Accept,
    /// Type this path over the name, then Enter.
    Type(&'a Path),
    /// Press Escape.
    Cancel,
}

/// Answers the app's save dialog on `display`: waits for the GTK window titled "Export", then
/// does as `answer` says and waits for it to close.
fn save_dialog(display: &str, answer: Answer) {
    let xdo = |args: &[&str]| {
        let out = Command::new("xdotool").args(args).env("DISPLAY", display).output().expect("xdotool is missing: install xdotool (scripts/setup.sh test does)");
        (out.status.success(), String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let mut win = String::new();
    assert!(
        wait_for(Duration::from_secs(15), || {
            win = xdo(&["search", "--onlyvisible", "--name", "^Export$"]).1.lines().next().unwrap_or_default().to_string();
            !win.is_empty()
        }),
        "the save dialog opens"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(xdo(&["windowfocus", "--sync", &win]).0, "focus the dialog");
    match answer {
        Answer::Cancel => assert!(xdo(&["key", "--clearmodifiers", "Escape"]).0),
        Answer::Type(path) => {
            assert!(xdo(&["key", "--clearmodifiers", "ctrl+a"]).0);
            assert!(xdo(&["type", "--delay", "20", &path.to_string_lossy()]).0);
            std::thread::sleep(Duration::from_millis(300));
            assert!(xdo(&["key", "--clearmodifiers", "Return"]).0);
        }
        Answer::Accept => assert!(xdo(&["key", "--clearmodifiers", "Return"]).0),
    }
    assert!(wait_for(Duration::from_secs(10), || xdo(&["search", "--onlyvisible", "--name", "^Export$"]).1.is_empty()), "the save dialog closes");
}

/// The desktop app's binary and a virtual display `display` (":N") for it.
fn desktop(display: &'static str) -> (PathBuf, &'static str, std::process::Child) {
    desktop_on(display, "1280x800")
}

/// The desktop app's binary and a virtual display `display` of `size` ("WxH").
fn desktop_on(display: &'static str, size: &str) -> (PathBuf, &'static str, std::process::Child) {
    let app = reel_bin().with_file_name("reel-desktop");
    assert!(app.exists(), "{} is missing: build it with `cargo build -p reel-desktop` (the test command does)", app.display());
    let xvfb = Command::new("Xvfb")
        .args([display, "-screen", "0", &format!("{size}x24"), "-nolisten", "tcp"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb is missing: install xvfb");
    let socket = format!("/tmp/.X11-unix/X{}", display.trim_start_matches(':'));
    assert!(wait_for(Duration::from_secs(10), || Path::new(&socket).exists()), "Xvfb did not start");
    (app, display, xvfb)
}

#[test]
fn record_find_watch_and_share_in_the_desktop_app() {
    let dir = tempfile::tempdir().unwrap();
    let (app, display, mut xvfb) = desktop(":94");
    let lib = dir.path().join("lib");
    let state = dir.path().join("state");
    // A recording killed mid-way (as by a crash) before the app starts: the app offers it.
    let mut killed = reel(dir.path())
        .env("REEL_LIBRARY", &lib)
        .args(["record", "--camera", "synthetic", "--mic", "tone", "--size", "320x180", "--duration", "30", "--title", "Crashed take"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    unsafe { libc::kill(killed.id() as i32, libc::SIGKILL) };
    let _ = killed.wait();
    // The app's UI over HTTP (for Chromium, below) is served only when asked for.
    let b = Browser::start_app(&app, display, &[("REEL_LIBRARY", &lib), ("REEL_STATE_DIR", &state), ("HOME", dir.path()), ("REEL_APP_HTTP_UI", Path::new("1"))]);

    // The demo camera's preview shows, exactly as it will be recorded.
    assert!(wait_for(Duration::from_secs(30), || num(b.js("return document.querySelector('#preview').naturalWidth")) > 0.0), "a preview frame");
    assert_eq!(b.js("return document.querySelector('#camera').value"), "synthetic", "the demo camera when there is no camera");
    shot(&b, dir.path(), "app-recorder.png");
    assert!(wait_for(Duration::from_secs(10), || b.js("return !document.querySelector('#recover').hidden") == true), "the interrupted recording is offered");
    b.js("document.querySelector('#recover-all').click(); return 0");
    assert!(
        wait_for(Duration::from_secs(30), || b.js("return document.querySelector('#recover-text').textContent").as_str().is_some_and(|t| t.starts_with("Recovered 1 of 1"))),
        "recovered: {}",
        b.js("return document.querySelector('#recover-text').textContent")
    );

    // The demo deck in the bubble layout: the slide's colour around, the camera in the bubble
    // at the bottom right.
    b.js("document.querySelector('#demo-deck').click(); return 0");
    assert!(wait_for(Duration::from_secs(20), || b.js("return document.querySelector('#slide-pos').textContent") == "slide 1 of 3"), "the demo deck loads");
    b.js("document.querySelector('[data-layout=bubble]').click(); return 0");
    let slide_blue = [37, 99, 235];
    assert!(wait_for(Duration::from_secs(10), || near(preview_px(&b, 0.08, 0.08), slide_blue, 12)), "slide colour around: {:?}", preview_px(&b, 0.08, 0.08));
    let bubble = preview_px(&b, 0.86, 0.78);
    assert!(!near(bubble, slide_blue, 30), "the presenter bubble is at the bottom right: {bubble:?}");
    shot(&b, dir.path(), "app-recorder-deck.png");

    // The screen as the stage (this Xvfb display, which shows the app itself), then back.
    b.js("document.querySelector('#use-screen').click(); return 0");
    assert!(wait_for(Duration::from_secs(10), || b.js("return document.querySelector('#slide-pos').textContent") == ""), "slides off");
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(b.js("return document.querySelector('#error').hidden"), true, "the screen previews: {}", b.js("return document.querySelector('#error').textContent"));
    shot(&b, dir.path(), "app-recorder-screen.png");
    b.js("document.querySelector('#demo-deck').click(); return 0");
    assert!(wait_for(Duration::from_secs(20), || b.js("return document.querySelector('#slide-pos').textContent") == "slide 1 of 3"), "back to the demo deck");

    // Record 3 s (after the 3-2-1 countdown), stop: the player opens on the new recording.
    b.js("document.querySelector('#title').value = 'Desktop test'; document.querySelector('#title').dispatchEvent(new Event('change')); return 0");
    // No microphone hardware here: the test tone stands in (a real mic is tested in record.rs).
    b.js("const m = document.querySelector('#mic'); m.value = 'tone'; m.dispatchEvent(new Event('change')); return 0");
    b.js("document.querySelector('#record').click(); return 0");
    let rec = wait_for(Duration::from_secs(15), || b.js("return !document.querySelector('#rec-badge').hidden") == true);
    assert!(rec, "recording: {}", b.js("return document.querySelector('#error').textContent"));
    std::thread::sleep(Duration::from_secs(3));
    b.js("document.querySelector('#stop').click(); return 0");
    assert!(wait_for(Duration::from_secs(30), || b.js("return !document.querySelector('#view-watch').hidden") == true), "the player opens after stop");
    assert_eq!(b.js("return document.querySelector('#watch-title').value"), "Desktop test");

    // Play at 2x: time advances, no media error.
    assert!(wait_for(Duration::from_secs(20), || num(b.js("return document.querySelector('#watch video').readyState")) >= 1.0), "the video loads from the loopback server");
    // Playing first, then 2x, as a viewer clicks it: WebKitGTK's GStreamer pipeline was seen
    // to stall (ready state 2, time frozen at 0.03 s, no error) in about one run in three when
    // the rate changed before it had started playing.
    b.js("const v = document.querySelector('#watch video'); v.muted = true; v.play(); return 0");
    let started = wait_for(Duration::from_secs(20), || num(b.js("return document.querySelector('#watch video').currentTime")) > 0.05);
    assert!(
        started,
        "it starts: {}",
        b.js("const v = document.querySelector('#watch video'); return JSON.stringify({t: v.currentTime, rs: v.readyState, paused: v.paused, err: v.error && v.error.code})")
    );
    b.js("[...document.querySelectorAll('#watch .controls button')].find(b => b.textContent === '2x').click(); return 0");
    assert_eq!(num(b.js("return document.querySelector('#watch video').playbackRate")), 2.0);
    let plays = wait_for(Duration::from_secs(20), || num(b.js("return document.querySelector('#watch video').currentTime")) > 0.5);
    assert!(plays, "it plays: {}", b.js("const v = document.querySelector('#watch video'); return JSON.stringify({t: v.currentTime, rs: v.readyState, paused: v.paused, err: v.error && v.error.code, src: v.src})"));
    assert_eq!(b.js("return document.querySelector('#watch video').error"), serde_json::Value::Null, "no media error");
    shot(&b, dir.path(), "app-player.png");

    // The library shows it with its poster.
    b.js("document.querySelector('#watch video').pause(); document.querySelector('[data-view=library]').click(); return 0");
    assert!(wait_for(Duration::from_secs(10), || b.js("return document.querySelectorAll('#grid li[data-id]').length") == 2), "the new and the recovered recording in the library");
    assert!(wait_for(Duration::from_secs(10), || b.js("return [...document.querySelectorAll('#grid img')].every(i => i.naturalWidth > 0)") == true), "posters load");
    let titles = b.js("return [...document.querySelectorAll('#grid .title')].map(t => t.textContent).sort().join('|')");
    assert_eq!(titles, "Crashed take|Desktop test");
    b.js("document.querySelector('#search').value = 'desk'; document.querySelector('#search').dispatchEvent(new Event('input')); return 0");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(b.js("return document.querySelectorAll('#grid li[data-id]').length"), 1, "search as you type finds it");
    shot(&b, dir.path(), "app-library.png");

    // Settings are checked and kept: nonsense is refused with the reason, a good value is saved.
    b.js("document.querySelector('[data-view=settings]').click(); return 0");
    assert!(wait_for(Duration::from_secs(5), || num(b.js("return Number(document.querySelector('#settings').elements.fps.value)")) == 30.0));
    // Each problem is said next to its field, and the status tells of this attempt only.
    b.js("document.querySelector('#settings-status').textContent = 'Saved.'; const f = document.querySelector('#settings'); f.elements.fps.value = '0'; f.elements.server_bind.value = 'nonsense'; f.dispatchEvent(new Event('submit', {cancelable: true})); return 0");
    let field_msg = |b: &Browser, name: &str| {
        b.js(&format!("const m = document.querySelector('#msg-{name}'); return m && !m.hidden ? m.textContent : ''")).as_str().unwrap_or_default().to_string()
    };
    assert!(wait_for(Duration::from_secs(5), || field_msg(&b, "fps").contains("frames per second")), "the reason next to the field: {}", field_msg(&b, "fps"));
    assert!(field_msg(&b, "server_bind").contains("not like 127.0.0.1:8787"), "{}", field_msg(&b, "server_bind"));
    assert_eq!(b.js("return document.querySelector('#settings').elements.fps.getAttribute('aria-invalid')"), "true");
    let status = b.js("return document.querySelector('#settings-status').textContent").as_str().unwrap_or_default().to_string();
    assert!(status.starts_with("Not saved") && !status.contains("Saved."), "no stale 'Saved.': {status}");
    b.js("const f = document.querySelector('#settings'); f.elements.fps.value = '25'; f.elements.server_bind.value = '127.0.0.1:8787'; f.elements.quality.value = 'high'; f.requestSubmit(); return 0");
    assert!(wait_for(Duration::from_secs(5), || b.js("return document.querySelector('#settings-status').textContent") == "Saved."));
    assert_eq!((field_msg(&b, "fps"), field_msg(&b, "server_bind")), (String::new(), String::new()), "dealt with: the messages go");
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.path().join(".config/reel/settings.json")).expect("settings saved")).unwrap();
    assert_eq!((saved["fps"].as_u64(), saved["quality"].as_str()), (Some(25), Some("high")));
    shot(&b, dir.path(), "app-settings.png");
    b.js("document.querySelector('[data-view=library]').click(); return 0");
    assert!(wait_for(Duration::from_secs(10), || b.js("return document.querySelectorAll('#grid li[data-id]').length") == 1), "the search is kept");

    // Share: the link plays in Chromium.
    b.js("document.querySelector('#grid li[data-id]').click(); return 0");
    assert!(wait_for(Duration::from_secs(10), || b.js("return !document.querySelector('#view-watch').hidden") == true));
    // The editor's filmstrip: ten frames across the recording.
    assert!(
        wait_for(Duration::from_secs(30), || num(b.js("return document.querySelector('#strip').naturalWidth")) >= 1000.0),
        "the filmstrip loads: {}",
        b.js("return document.querySelector('#error').textContent")
    );
    // Trim in the editor (with a progress bar), then export at 1.5x.
    let text = |b: &Browser| b.js("return document.querySelector('#job-text').textContent").as_str().unwrap_or_default().to_string();
    b.js("document.querySelector('#edit-a').value = '0.5'; document.querySelector('#edit-b').value = '2.5'; document.querySelector('#trim').click(); return 0");
    assert!(wait_for(Duration::from_secs(60), || text(&b).starts_with("Done")), "trimmed: {} {}", text(&b), b.js("return document.querySelector('#error').textContent"));
    assert!(wait_for(Duration::from_secs(10), || (num(b.js("return Number(document.querySelector('#edit-b').value)")) - 2.0).abs() < 0.25), "now about 2 s long");
    // The window stays responsive while a long command runs: a 20 ms timer in the page keeps
    // ticking through the export (a command on the main thread would freeze it).
    b.js("window.__ticks = 0; window.__tick = setInterval(() => { window.__ticks++; }, 20); window.__t0 = performance.now(); return 0");
    // Export asks where, in the system's save dialog (GTK's, typed into with xdotool), starting
    // at ~/Videos/TITLE (SPEEDx).mp4.
    b.js("document.querySelector('#export').click(); return 0");
    save_dialog(display, Answer::Accept);
    // The ticks count from here: the export itself, not the dialog.
    b.js("window.__ticks = 0; window.__t0 = performance.now(); return 0");
    assert!(wait_for(Duration::from_secs(60), || text(&b).starts_with("Exported to")), "exported: {}", b.js("return document.querySelector('#error').textContent"));
    let ticks = b.js("clearInterval(window.__tick); return [window.__ticks, performance.now() - window.__t0]");
    let (n, ms) = (num(ticks[0].clone()), num(ticks[1].clone()));
    assert!(n >= ms / 20.0 * 0.3, "the page's timer kept ticking through the export: {n} ticks in {ms:.0} ms");
    let exported = dir.path().join("Videos/Desktop test (1.5x).mp4");
    assert!(exported.exists(), "{}", text(&b));
    let d = f64_of(&ffprobe(&exported)["format"]["duration"]);
    assert!((d - 2.0 / 1.5).abs() < 0.2, "1.5x export of 2 s lasts {d} s");
    // The same export again is offered a name beside the first, never in its way (and never a
    // CLI flag); a name typed in the dialog, in another folder, is where it goes; Escape cancels.
    b.js("document.querySelector('#job-text').textContent = ''; document.querySelector('#export').click(); return 0");
    save_dialog(display, Answer::Accept);
    assert!(wait_for(Duration::from_secs(60), || text(&b).starts_with("Exported to")), "exported again: {}", b.js("return document.querySelector('#error').textContent"));
    assert!(dir.path().join("Videos/Desktop test (1.5x) 2.mp4").exists(), "{}", text(&b));
    let elsewhere = dir.path().join("For the team");
    std::fs::create_dir_all(&elsewhere).unwrap();
    b.js("document.querySelector('#job-text').textContent = ''; document.querySelector('#export').click(); return 0");
    save_dialog(display, Answer::Type(&elsewhere.join("Weekly update.mp4")));
    assert!(wait_for(Duration::from_secs(60), || text(&b).starts_with("Exported to")), "exported where chosen: {}", b.js("return document.querySelector('#error').textContent"));
    assert!(elsewhere.join("Weekly update.mp4").exists(), "{}", text(&b));
    b.js("document.querySelector('#job-text').textContent = ''; document.querySelector('#export').click(); return 0");
    save_dialog(display, Answer::Cancel);
    assert!(wait_for(Duration::from_secs(10), || text(&b) == "Export cancelled."), "cancelled: {}", text(&b));
    assert_eq!(std::fs::read_dir(dir.path().join("Videos")).unwrap().count(), 2, "nothing written when cancelled");
    shot(&b, dir.path(), "app-editor.png");
    b.js("document.querySelector('#share').click(); document.querySelector('#share-make').click(); return 0");
    assert!(wait_for(Duration::from_secs(10), || b.js("return document.querySelector('#share-url').value").as_str().is_some_and(|u| u.contains("/v/"))), "a link");
    let url = b.js("return document.querySelector('#share-url').value").as_str().unwrap_or_default().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let c = Browser::start();
    c.goto(&url);
    assert_eq!(c.js("return document.title"), "Desktop test");
    c.js("const v = document.querySelector('video'); v.muted = true; v.play(); return 0");
    assert!(wait_for(Duration::from_secs(15), || num(c.js("return document.querySelector('video').currentTime")) > 0.3), "the shared link plays in Chromium");

    // A password too short to protect anything: the error shows in the dialog, next to it.
    let share_error = |b: &Browser| b.js("const e = document.querySelector('#share-error'); return e.hidden ? '' : e.textContent").as_str().unwrap_or_default().to_string();
    b.js("document.querySelector('#share-password').value = 'short'; document.querySelector('#share-make').click(); return 0");
    assert!(wait_for(Duration::from_secs(10), || share_error(&b).contains("shorter than 8 characters")), "the dialog says why: {}", share_error(&b));
    b.js("document.querySelector('#share-password').value = ''; return 0");
    // The other way: publish to S3-compatible storage, with keys entered in the app (the app
    // has no AWS_* environment) and kept owner-only.
    let s3 = S3::start(&dir.path().join("s3"), 0);
    std::fs::create_dir_all(s3.root.join("team-bucket")).unwrap();
    b.js("document.querySelector('#share-dialog input[name=way][value=s3]').click(); return 0");
    assert_eq!(b.js("return [document.querySelector('#way-server').hidden, document.querySelector('#way-s3').hidden]"), serde_json::json!([true, false]));
    b.js(&format!(
        "document.querySelector('#s3-target').value = 's3://team-bucket/videos'; document.querySelector('#s3-endpoint').value = '{}'; \
         document.querySelector('#s3-access').value = '{S3_KEY}'; document.querySelector('#s3-secret').value = '{S3_SECRET}'; \
         document.querySelector('#s3-keys-save').click(); return 0",
        s3.url
    ));
    let keys_state = |b: &Browser| b.js("return document.querySelector('#s3-keys-state').textContent").as_str().unwrap_or_default().to_string();
    assert!(wait_for(Duration::from_secs(10), || keys_state(&b).contains("Keys stored")), "keys stored: {} {}", keys_state(&b), share_error(&b));
    assert!(!keys_state(&b).contains(S3_SECRET), "the secret is never shown again");
    let keys = dir.path().join(".config/reel/s3-credentials.json");
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&keys).expect("keys stored").permissions().mode() & 0o777, 0o600, "owner-only");
    }
    b.js("document.querySelector('#publish').click(); return 0");
    let published = |b: &Browser| b.js("return document.querySelector('#share-url').value").as_str().unwrap_or_default().to_string();
    assert!(
        wait_for(Duration::from_secs(60), || published(&b).starts_with(&format!("{}/team-bucket/videos/", s3.url))),
        "published, the link ready to copy: {} {}",
        published(&b),
        share_error(&b)
    );
    let (st, _, page) = http_get(&published(&b));
    assert_eq!(st, 200, "the published page opens");
    assert!(String::from_utf8_lossy(&page).contains("Desktop test"));
    drop(s3);

    // The same UI in Chromium over the app's HTTP API: its logic works without Tauri.
    let server = b.js("return document.body.dataset.server").as_str().unwrap_or_default().to_string();
    let secret = b.js("return document.body.dataset.secret").as_str().unwrap_or_default().to_string();
    c.goto(&format!("{server}/app/{secret}/ui/index.html"));
    assert!(
        wait_for(Duration::from_secs(20), || num(c.js("return document.querySelector('#preview').naturalWidth")) > 0.0),
        "preview over HTTP: {}",
        c.js("return document.querySelector('#error').textContent")
    );
    // Accessibility of every view, checked by axe-core in Chromium: no serious or critical
    // violation (record, library, a recording, settings with a field's error).
    let found = axe_serious(&c);
    assert!(found.is_empty(), "the record view: {found:#?}");
    c.js("document.querySelector('[data-view=library]').click(); return 0");
    assert!(wait_for(Duration::from_secs(10), || c.js("return document.querySelectorAll('#grid li[data-id]').length") == 2), "the library over HTTP");
    let found = axe_serious(&c);
    assert!(found.is_empty(), "the library: {found:#?}");
    c.js("document.querySelector('#grid li[data-id]').click(); return 0");
    assert!(wait_for(Duration::from_secs(10), || c.js("return !document.querySelector('#view-watch').hidden && !!document.querySelector('#watch video')") == true));
    let found = axe_serious(&c);
    assert!(found.is_empty(), "a recording: {found:#?}");
    // At the app's default size and at its minimum, the video, its speeds, its timeline and the
    // editor's range all fit in the window (no scrolling to reach them).
    // Measured with the video's size known and the filmstrip shown (both take room).
    assert!(wait_for(Duration::from_secs(20), || num(c.js("return document.querySelector('#watch video').readyState")) >= 1.0));
    assert!(wait_for(Duration::from_secs(30), || c.js("return !document.querySelector('#strip-box').hidden") == true), "the filmstrip shows");
    for (w, h) in [(1100, 720), (900, 600)] {
        // Sized as the app's window is: its inner size (Tauri's minimum is of the inner size).
        c.set_window(w, h);
        let frame = num(c.js("return window.outerHeight - window.innerHeight")).max(0.0) as u32;
        c.set_window(w, h + frame);
        std::thread::sleep(Duration::from_millis(300));
        let fit = c.js("const H = window.innerHeight; const b = (s) => document.querySelector(s).getBoundingClientRect().bottom; \
                        return [H, b('#watch .controls'), b('#watch .timeline'), b('#edit-b'), b('#trim'), b('#export')]");
        let v: Vec<f64> = fit.as_array().unwrap().iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect();
        assert!(v[1..].iter().all(|&y| y <= v[0]), "at {w}x{h} everything fits in the {} px tall view: speeds, timeline, range, trim end at {:?}", v[0], &v[1..]);
    }
    c.set_window(1280, 800);
    c.js("document.querySelector('[data-view=settings]').click(); return 0");
    assert!(wait_for(Duration::from_secs(5), || num(c.js("return Number(document.querySelector('#settings').elements.fps.value)")) > 0.0));
    c.js("const f = document.querySelector('#settings'); f.elements.fps.value = '0'; f.dispatchEvent(new Event('submit', {cancelable: true})); return 0");
    assert!(wait_for(Duration::from_secs(5), || c.js("const m = document.querySelector('#msg-fps'); return !!m && !m.hidden") == true));
    let found = axe_serious(&c);
    assert!(found.is_empty(), "settings with an error: {found:#?}");
    c.js("document.querySelector('[data-view=library]').click(); return 0");
    assert!(wait_for(Duration::from_secs(10), || c.js("return document.querySelectorAll('#grid li[data-id]').length") == 2), "the library over HTTP");
    c.js("document.querySelector('#sort').value = 'title'; document.querySelector('#sort').dispatchEvent(new Event('change')); return 0");
    assert_eq!(c.js("return [...document.querySelectorAll('#grid .title')].map(t => t.textContent).join('|')"), "Crashed take|Desktop test", "sorted by title");
    c.js("document.querySelector('#search').value = 'crash'; document.querySelector('#search').dispatchEvent(new Event('input')); return 0");
    assert!(
        wait_for(Duration::from_secs(5), || c.js("return [...document.querySelectorAll('#grid .title')].map(t => t.textContent).join('|')") == "Crashed take"),
        "search as you type over HTTP"
    );
    c.js("document.querySelector('#grid li[data-id]').click(); return 0");
    assert!(wait_for(Duration::from_secs(10), || c.js("return document.querySelector('#watch-title').value") == "Crashed take"));
    c.js("const t = document.querySelector('#watch-title'); t.value = 'Recovered take'; t.dispatchEvent(new Event('change')); return 0");
    c.js("window.confirm = () => true; document.querySelector('#delete').click(); return 0");
    assert!(wait_for(Duration::from_secs(10), || c.js("return !document.querySelector('#view-library').hidden") == true));
    c.js("document.querySelector('#search').value = ''; document.querySelector('#search').dispatchEvent(new Event('input')); return 0");
    assert!(
        wait_for(Duration::from_secs(10), || c.js("return [...document.querySelectorAll('#grid .title')].map(t => t.textContent).join('|')") == "Desktop test"),
        "deleted: one left"
    );
    c.js("document.querySelector('#show-trash').click(); return 0");
    assert!(
        wait_for(Duration::from_secs(5), || c.js("return document.querySelector('#trash').textContent").as_str().is_some_and(|t| t.contains("Recovered take"))),
        "renamed, then in the trash"
    );
    c.js("[...document.querySelectorAll('#trash button')].find(b => b.textContent === 'Restore').click(); return 0");
    assert!(wait_for(Duration::from_secs(10), || c.js("return document.querySelectorAll('#grid li[data-id]').length") == 2), "restored");
    // Keyboard: a card is a button that Space opens; a player opened again replaces its key
    // listener rather than adding one; the single-key shortcuts can be turned off.
    c.js("window.__keys = []; const add = document.addEventListener.bind(document); \
          document.addEventListener = (t, f, o) => { if (t === 'keydown') window.__keys.push(o?.signal ?? null); return add(t, f, o); }; return 0");
    for _ in 0..2 {
        c.js("document.querySelector('[data-view=library]').click(); return 0");
        assert!(wait_for(Duration::from_secs(10), || c.js("return document.querySelectorAll('#grid li[data-id]').length") == 2));
        // The card is a real button (Enter and Space press it), named by what it shows.
        let name = c.js("const b = document.querySelector('#grid li[data-id] > button.card'); b.focus(); return document.activeElement === b ? b.textContent : ''");
        assert!(name.as_str().is_some_and(|t| t.contains("Desktop test") || t.contains("Crashed take")), "a focusable button card: {name}");
        c.js("document.activeElement.click(); return 0");
        assert!(
            wait_for(Duration::from_secs(10), || c.js("return !document.querySelector('#view-watch').hidden && !!document.querySelector('#watch video')") == true),
            "the card opens"
        );
    }
    assert_eq!(c.js("return window.__keys.filter(s => !s || !s.aborted).length"), 1, "one player key listener, however often a recording is opened");
    assert_eq!(c.js("return document.querySelector('nav [aria-current=page]').dataset.view"), "library", "the view is marked current");
    let rate = |c: &Browser| num(c.js("return document.querySelector('#watch video').playbackRate"));
    let r0 = rate(&c);
    c.js("document.body.focus(); document.dispatchEvent(new KeyboardEvent('keydown', {key: '>'})); return 0");
    let r1 = rate(&c);
    let speeds = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0];
    assert_eq!(Some(r1), speeds.iter().copied().find(|&s| s > r0), "'>' steps the speed once");
    c.js("document.querySelector('#watch .shortcuts input').click(); document.activeElement.blur(); document.dispatchEvent(new KeyboardEvent('keydown', {key: '>'})); return 0");
    assert_eq!(rate(&c), r1, "shortcuts off: the key does nothing");
    c.js("document.querySelector('#watch .shortcuts input').click(); return 0");
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let post = |s: &str| agent.post(&format!("{server}/app/{s}/api/library_list")).header("content-type", "application/json").send("{}").map(|r| r.status().as_u16()).unwrap_or(0);
    assert_eq!(post(&secret), 200);
    assert_eq!(post(&"A".repeat(secret.len())), 404, "the app's API needs the secret");
    // Only this computer's own name for the server is answered (no DNS rebinding), and the
    // share server, which may face the network, has none of the app's routes.
    let raw = |addr: &str, host: &str, path: &str| {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes()).unwrap();
        let mut r = String::new();
        let _ = s.read_to_string(&mut r);
        r.split_whitespace().nth(1).unwrap_or("").to_string()
    };
    let app_addr = server.trim_start_matches("http://").to_string();
    let ui = format!("/app/{secret}/ui/index.html");
    assert_eq!(raw(&app_addr, &app_addr, &ui), "200");
    assert_eq!(raw(&app_addr, "rebind.example.com", &ui), "403", "a foreign Host is refused");
    let share_addr = url.trim_start_matches("http://").split('/').next().unwrap().to_string();
    assert_ne!(share_addr, app_addr, "links and the app's calls are on two servers");
    assert_eq!(raw(&share_addr, &share_addr, &ui), "404", "the share server knows nothing of the app");
    drop(c);
    drop(b);
    let _ = xvfb.kill();
    let _ = xvfb.wait();
}

/// What has the keyboard's focus, named: `#id`, `view:NAME` (the view buttons), `card` (a
/// library card), else `tag:text`.
fn focused(c: &Browser) -> String {
    c.js("const a = document.activeElement; if (!a || a === document.body) return 'body'; \
          return a.id ? '#' + a.id : a.dataset.view ? 'view:' + a.dataset.view : a.classList.contains('card') ? 'card' : a.tagName.toLowerCase() + ':' + a.textContent.trim().slice(0, 24)")
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Presses Tab (Shift+Tab when `back`) until `target` has the focus (at most `max` times); every stop on the way shows
/// where the focus is (`:focus-visible` with an outline or a shadow; inside a video's native
/// controls, which draw their own ring, the page sees only the video). Returns the stops.
fn tab_to(c: &Browser, target: &str, max: usize, back: bool) -> Vec<String> {
    let mut stops = Vec::new();
    for _ in 0..max {
        c.keys(if back { &[Key::SHIFT, Key::TAB] } else { &[Key::TAB] });
        let here = focused(c);
        let visible = c.js("const a = document.activeElement; const s = getComputedStyle(a); if (a.tagName === 'VIDEO' && a.controls) return true; \
             return a.matches(':focus-visible') && ((s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none')");
        assert_eq!(visible, true, "the focus is visible on {here} (after {stops:?})");
        stops.push(here.clone());
        if here == target {
            return stops;
        }
    }
    panic!("{target} is not reached by Tab in {max} presses: {stops:?}");
}

/// Keyboard only, as a person without a mouse: Tab through the recorder (the views first, then
/// Record), Enter records, Space on Stop stops, Tab to the library and Space opens a card, Space
/// on a speed sets it, Enter opens the share dialog and makes a link, Escape closes it and the
/// focus returns to the Share button. The focus is visible at every stop. Then every view of
/// the real app window at 1100x720, 1440x900 and its minimum 900x600 (where the recording view
/// must fit), screenshots kept with REEL_SCREENSHOTS.
#[test]
fn keyboard_only_from_record_to_share_and_every_view_at_two_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let (app, display, mut xvfb) = desktop_on(":96", "1600x1000");
    let lib = dir.path().join("lib");
    let b = Browser::start_app(&app, display, &[("REEL_LIBRARY", &lib), ("REEL_STATE_DIR", &dir.path().join("state")), ("HOME", dir.path()), ("REEL_APP_HTTP_UI", Path::new("1"))]);
    assert!(wait_for(Duration::from_secs(30), || num(b.js("return document.querySelector('#preview').naturalWidth")) > 0.0), "a preview frame");
    let server = b.js("return document.body.dataset.server").as_str().unwrap_or_default().to_string();
    let secret = b.js("return document.body.dataset.secret").as_str().unwrap_or_default().to_string();
    let c = Browser::start();
    c.goto(&format!("{server}/app/{secret}/ui/index.html"));
    assert!(wait_for(Duration::from_secs(20), || num(c.js("return document.querySelector('#preview').naturalWidth")) > 0.0), "preview over HTTP");
    assert!(wait_for(Duration::from_secs(10), || c.js("return !!document.querySelector('#mic option[value=tone]')") == true), "the microphones are listed");
    // No microphone hardware here: the test tone stands in (chosen as a setup step).
    c.js("const m = document.querySelector('#mic'); m.value = 'tone'; m.dispatchEvent(new Event('change')); return 0");
    c.js("document.activeElement.blur(); return 0");

    // From the top of the page: the views, then Record.
    let stops = tab_to(&c, "#record", 10, false);
    assert_eq!(stops, ["view:record", "view:library", "view:settings", "#record"], "the Tab order");
    c.keys(&[Key::ENTER]);
    assert!(wait_for(Duration::from_secs(15), || c.js("return !document.querySelector('#rec-badge').hidden") == true), "Enter on Record records");
    std::thread::sleep(Duration::from_secs(2));
    tab_to(&c, "#stop", 10, false);
    c.keys(&[Key::SPACE]);
    assert!(wait_for(Duration::from_secs(30), || c.js("return !document.querySelector('#view-watch').hidden") == true), "Space on Stop stops, the player opens");

    // The library, then the recording, by keyboard.
    tab_to(&c, "#back", 40, false);
    c.keys(&[Key::ENTER]);
    assert!(wait_for(Duration::from_secs(10), || c.js("return document.querySelectorAll('#grid li[data-id]').length") == 1), "back in the library");
    tab_to(&c, "card", 20, false);
    c.keys(&[Key::SPACE]);
    assert!(
        wait_for(Duration::from_secs(10), || c.js("return !document.querySelector('#view-watch').hidden && !!document.querySelector('#watch video')") == true),
        "Space opens the card"
    );
    assert!(wait_for(Duration::from_secs(20), || num(c.js("return document.querySelector('#watch video').readyState")) >= 1.0), "the video loads");
    tab_to(&c, "button:2x", 40, false);
    c.keys(&[Key::SPACE]);
    assert_eq!(num(c.js("return document.querySelector('#watch video').playbackRate")), 2.0, "Space on 2x sets the speed");

    // Share: Enter opens the dialog with the focus in it, Enter makes a link, Escape closes it.
    tab_to(&c, "#share", 40, true);
    c.keys(&[Key::ENTER]);
    assert_eq!(c.js("return document.querySelector('#share-dialog').open"), true, "Enter opens the share dialog");
    assert_eq!(c.js("return document.querySelector('#share-dialog').contains(document.activeElement)"), true, "the focus moves into the dialog: {}", focused(&c));
    tab_to(&c, "#share-make", 30, false);
    c.keys(&[Key::ENTER]);
    assert!(
        wait_for(Duration::from_secs(10), || c.js("return document.querySelector('#share-url').value").as_str().is_some_and(|u| u.contains("/v/"))),
        "Enter makes a link: {}",
        c.js("return document.querySelector('#share-error').textContent")
    );
    c.keys(&[Key::ESCAPE]);
    assert_eq!(c.js("return document.querySelector('#share-dialog').open"), false, "Escape closes the dialog");
    assert_eq!(focused(&c), "#share", "the focus returns to what opened the dialog");
    drop(c);

    // Every view of the real app window at the sizes people use, and at its minimum, where the
    // video, its speeds, its timeline and the editor still fit without scrolling.
    for (w, h) in [(1100, 720), (1440, 900), (900, 600)] {
        b.set_window(w, h);
        assert!(
            wait_for(Duration::from_secs(5), || (num(b.js("return window.innerWidth")) - w as f64).abs() <= 40.0),
            "the window is {w} wide: {}",
            b.js("return [window.innerWidth, window.innerHeight]")
        );
        for view in ["record", "library", "settings"] {
            b.js(&format!("document.querySelector('[data-view={view}]').click(); return 0"));
            std::thread::sleep(Duration::from_millis(700));
            shot(&b, dir.path(), &format!("app-{view}-{w}x{h}.png"));
        }
        b.js("document.querySelector('[data-view=library]').click(); return 0");
        assert!(wait_for(Duration::from_secs(10), || b.js("return document.querySelectorAll('#grid li[data-id]').length") == 1));
        b.js("document.querySelector('#grid li[data-id] button.card').click(); return 0");
        assert!(wait_for(Duration::from_secs(10), || b.js("return !document.querySelector('#view-watch').hidden") == true));
        assert!(wait_for(Duration::from_secs(20), || num(b.js("return document.querySelector('#watch video').readyState")) >= 1.0), "the video loads");
        assert!(wait_for(Duration::from_secs(30), || b.js("return !document.querySelector('#strip-box').hidden") == true), "the filmstrip shows");
        std::thread::sleep(Duration::from_millis(700));
        shot(&b, dir.path(), &format!("app-recording-{w}x{h}.png"));
        let fit = b.js("const H = window.innerHeight; const b = (s) => document.querySelector(s).getBoundingClientRect().bottom; \
                        return [H, b('#watch .controls'), b('#watch .timeline'), b('#edit-b'), b('#trim'), b('#export')]");
        let v: Vec<f64> = fit.as_array().unwrap().iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect();
        assert!(v[1..].iter().all(|&y| y <= v[0]), "the app at {w}x{h}: everything fits in the {} px tall view: {:?}", v[0], &v[1..]);
    }
    drop(b);
    let _ = xvfb.kill();
    let _ = xvfb.wait();
}

/// The desktop app with a webcam (the test camera, preloaded into the app alone): the preview
/// shows the camera's own picture, live; Record locks the camera, microphone and size pickers
/// and the countdown overlay goes away; unplugging the camera shows the notice at once while
/// the recording goes on; the recording in the library holds the camera's picture.
#[test]
fn the_desktop_app_previews_and_records_a_real_camera() {
    let dir = tempfile::tempdir().unwrap();
    let (app, display, mut xvfb) = desktop(":95");
    let lib = dir.path().join("lib");
    let unplug = dir.path().join("unplugged");
    let log = dir.path().join("camera.log");
    let cam = FakeCam::new("yuyv,mjpeg", "640x480,1280x720", 30).with("UNPLUG_FILE", unplug.to_str().unwrap()).with("LOG", log.to_str().unwrap());
    let wrapped = cam.wrapper(dir.path(), &app);
    let b = Browser::start_app(&wrapped, display, &[("REEL_LIBRARY", &lib), ("REEL_STATE_DIR", &dir.path().join("state")), ("HOME", dir.path())]);

    // The camera is found and picked first; the preview shows its bars (mirror off, so the bars
    // read left to right; the 720p mode fills the 16:9 preview).
    assert!(
        wait_for(Duration::from_secs(30), || b.js("return document.querySelector('#camera').value") == "0"),
        "the camera is picked: {}",
        b.js("return document.querySelector('#camera').innerHTML")
    );
    b.js("const m = document.querySelector('#mirror'); m.checked = false; m.dispatchEvent(new Event('change')); return 0");
    let bars_ok = || FAKECAM_BARS.iter().enumerate().all(|(i, want)| near(preview_px(&b, (i as f64 + 0.5) / 8.0, 0.35), *want, 30));
    assert!(
        wait_for(Duration::from_secs(20), bars_ok),
        "the preview shows the camera: {:?} (errors: {})",
        (0..8).map(|i| preview_px(&b, (i as f64 + 0.5) / 8.0, 0.35)).collect::<Vec<_>>(),
        b.js("return document.querySelector('#devices-error').textContent")
    );
    // Live: the frame counter in the picture changes from one preview frame to the next.
    let strip = || (0..8).map(|k| preview_px(&b, (k as f64 + 0.5) / 8.0, 0.875)).collect::<Vec<_>>();
    let first = strip();
    assert!(wait_for(Duration::from_secs(5), || strip() != first), "the preview is live");
    shot(&b, dir.path(), "app-recorder-camera.png");

    // Record (the test tone stands in for the microphone): pickers locked, no countdown left.
    b.js("const m = document.querySelector('#mic'); m.value = 'tone'; m.dispatchEvent(new Event('change')); return 0");
    b.js("document.querySelector('#title').value = 'Camera take'; document.querySelector('#title').dispatchEvent(new Event('change')); return 0");
    b.js("document.querySelector('#record').click(); return 0");
    assert!(
        wait_for(Duration::from_secs(15), || b.js("return !document.querySelector('#rec-badge').hidden") == true),
        "recording: {}",
        b.js("return document.querySelector('#record-error').textContent")
    );
    assert_eq!(
        b.js("return ['camera', 'mic', 'size'].map(id => document.querySelector('#' + id).disabled)"),
        serde_json::json!([true, true, true]),
        "camera, microphone and size are locked while recording"
    );
    assert_eq!(b.js("return getComputedStyle(document.querySelector('#countdown')).display"), "none", "the countdown overlay is gone");
    std::thread::sleep(Duration::from_secs(2));

    // Unplugged mid-take: the notice shows at once; plugged back, it goes.
    std::fs::write(&unplug, b"").unwrap();
    assert!(wait_for(Duration::from_secs(3), || b.js("return !document.querySelector('#camera-notice').hidden") == true), "the app says the camera is gone");
    shot(&b, dir.path(), "app-recorder-camera-unplugged.png");
    std::fs::remove_file(&unplug).unwrap();
    assert!(wait_for(Duration::from_secs(5), || b.js("return document.querySelector('#camera-notice').hidden") == true), "and that it is back");
    std::thread::sleep(Duration::from_secs(2));
    b.js("document.querySelector('#stop').click(); return 0");
    assert!(
        wait_for(Duration::from_secs(30), || b.js("return !document.querySelector('#view-watch').hidden") == true),
        "the player opens after stop: {}",
        b.js("return document.querySelector('#record-error').textContent")
    );
    assert_eq!(b.js("return ['camera', 'mic', 'size'].map(id => document.querySelector('#' + id).disabled)"), serde_json::json!([false, false, false]), "unlocked after the take");

    // One stream for the preview and the take, one more after the replug: Record did not open
    // the camera again, it took the preview's frames.
    let streams = std::fs::read_to_string(&log).unwrap().lines().filter(|l| l.contains("STREAMON -> 0")).count();
    assert_eq!(streams, 2, "the preview's stream was shared with the recording (and one after the replug)");

    // The file holds the camera's picture, before and after the unplug.
    let video =
        std::fs::read_dir(lib.join("recordings")).unwrap().filter_map(|e| e.ok()).map(|e| e.path().join("video.mp4")).find(|p| p.exists()).expect("the recording in the library");
    let (w, h, frames) = decode_rgb(&video);
    assert!(frames.len() > 120, "{} frames", frames.len());
    for at in [15, frames.len() - 15] {
        for (i, want) in FAKECAM_BARS.iter().enumerate() {
            let got = rgb_at(&frames[at], w, h, (i as f64 + 0.5) / 8.0, 0.35);
            assert!(near_rgb(got, *want, 30), "frame {at}, bar {i}: {got:?}, want {want:?}");
        }
    }
    drop(b);
    let _ = xvfb.kill();
    let _ = xvfb.wait();
}
