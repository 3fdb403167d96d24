//! Publishing to a real S3 server (s3s-fs, SigV4): byte-identical objects with their content
//! types, a presigned page that plays in Chromium, refused tampered/expired/unsigned URLs,
//! clear errors for wrong credentials and unknown buckets, uploads that survive a storage
//! restart and a killed `reel`, and upload while recording.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use reel_tests::*;

fn lib_cmd(dir: &Path, s3: &S3) -> Command {
    let mut c = reel(dir);
    c.env("REEL_LIBRARY", dir.join("lib"));
    s3.env(&mut c);
    c
}

fn header<'a>(hs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    hs.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// The value of `attr="…"` after `after` in the page (URLs are HTML-escaped there).
fn attr(html: &str, after: &str, attr: &str) -> String {
    let from = html.find(after).unwrap_or_else(|| panic!("{after} not in page"));
    let rest = &html[from..];
    let start = rest.find(&format!("{attr}=\"")).expect("attr") + attr.len() + 2;
    let end = rest[start..].find('"').expect("end quote");
    rest[start..start + end].replace("&amp;", "&")
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn published_objects_read_back_identical_and_the_page_plays_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3::start(&dir.path().join("s3"), 0);
    std::fs::create_dir_all(s3.root.join("team-bucket")).unwrap();
    let deck = dir.path().join("deck");
    std::fs::create_dir_all(&deck).unwrap();
    write_png(&deck.join("1.png"), 16, 9, &[200u8; 16 * 9 * 3]);
    write_png(&deck.join("2.png"), 16, 9, &[60u8; 16 * 9 * 3]);
    let script = dir.path().join("s.json");
    std::fs::write(&script, r#"[{"at": 2.0, "action": "next"}]"#).unwrap();
    let o = run_ok(
        lib_cmd(dir.path(), &s3)
            .args(["record", "--camera", "synthetic", "--mic", "tone", "--size", "320x180", "--duration", "5", "--json", "--title", "Quarterly <update>", "--slides"])
            .arg(&deck)
            .arg("--script")
            .arg(&script),
    );
    let id = json(&o)["id"].as_str().unwrap().to_string();
    let subs = dir.path().join("subs.vtt");
    std::fs::write(&subs, "WEBVTT\n\n00:00:00.500 --> 00:00:02.000\nHello\n").unwrap();
    run_ok(lib_cmd(dir.path(), &s3).args(["captions", &id]).arg(&subs));

    let p = json(&run_ok(lib_cmd(dir.path(), &s3).args(["publish", &id, "--to", "s3://team-bucket/videos", "--default-speed", "1.25", "--json"])));
    let url = p["url"].as_str().unwrap().to_string();
    let pub_id = p["publication"].as_str().unwrap().to_string();
    assert_eq!(pub_id.len(), 22, "128 random bits");
    assert!(url.starts_with(&format!("{}/team-bucket/videos/{pub_id}/index.html?", s3.url)) && url.contains("X-Amz-Signature="), "{url}");

    // Byte-identical objects, on the server's disk and over HTTP, with their content types.
    let rec = dir.path().join("lib/recordings").join(&id);
    let obj = s3.root.join("team-bucket/videos").join(&pub_id);
    for f in ["video.mp4", "poster.jpg", "preview.gif", "captions.vtt"] {
        assert_eq!(std::fs::read(obj.join(f)).unwrap(), std::fs::read(rec.join(f)).unwrap(), "{f} byte-identical");
    }
    let (st, hs, page) = http_get(&url);
    assert_eq!(st, 200);
    assert!(header(&hs, "content-type").unwrap_or("").starts_with("text/html"));
    let html = String::from_utf8_lossy(&page).into_owned();
    assert!(html.contains("Quarterly &lt;update&gt;") && !html.contains("<update>"), "title escaped");
    assert!(html.contains("data-default-speed=\"1.25\""));
    let media = attr(&html, "<video", "src");
    let (st, hs, body) = http_get(&media);
    assert_eq!(st, 200);
    assert_eq!(header(&hs, "content-type"), Some("video/mp4"));
    assert_eq!(body, std::fs::read(rec.join("video.mp4")).unwrap(), "video byte-identical over HTTP");
    let (st, hs, _) = http_get(&attr(&html, "<track kind=\"captions\"", "src"));
    assert_eq!((st, header(&hs, "content-type").unwrap_or("").starts_with("text/vtt")), (200, true));
    let meta = String::from_utf8(std::fs::read(obj.join("meta.json")).unwrap()).unwrap();
    assert!(meta.contains("Quarterly") && !meta.contains(dir.path().to_str().unwrap()), "public metadata, no local paths: {meta}");

    // Tampered and unsigned URLs are refused by the server.
    let sig = media.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let mut tampered = media.clone();
    let c = if &media[sig..sig + 1] == "0" { "1" } else { "0" };
    tampered.replace_range(sig..sig + 1, c);
    assert_eq!(http_get(&tampered).0, 403, "tampered signature");
    assert_eq!(http_get(media.split('?').next().unwrap()).0, 403, "unsigned");

    // The page plays in a real browser, with no Reel server behind it.
    let b = Browser::start();
    b.goto(&url);
    assert_eq!(b.js("return document.title"), "Quarterly <update>");
    let num = |v: serde_json::Value| v.as_f64().unwrap_or(f64::NAN);
    assert!(wait_for(Duration::from_secs(15), || num(b.js("return document.querySelector('video').readyState")) >= 1.0), "metadata loads");
    assert_eq!(num(b.js("return document.querySelector('video').playbackRate")), 1.25, "the player script ran");
    b.js("const v = document.querySelector('video'); v.muted = true; v.play(); return 0");
    assert!(wait_for(Duration::from_secs(10), || num(b.js("return document.querySelector('video').currentTime")) > 0.5), "it plays");
    assert_eq!(b.js("return document.querySelector('video').error"), serde_json::Value::Null);
    assert_eq!(b.js("return document.querySelectorAll('.chapters button').length"), 2);
    drop(b);

    // The library remembers; unpublish deletes the objects.
    let show = json(&run_ok(lib_cmd(dir.path(), &s3).args(["show", &id, "--json"])));
    assert_eq!(show["published"][0]["id"], pub_id.as_str());
    run_ok(lib_cmd(dir.path(), &s3).args(["unpublish", &id]));
    assert!(files_under(&obj).is_empty(), "objects deleted: {:?}", files_under(&obj));
    assert_eq!(http_get(&url).0, 404);
    assert_eq!(json(&run_ok(lib_cmd(dir.path(), &s3).args(["show", &id, "--json"])))["published"], serde_json::json!([]));
}

#[test]
fn expired_links_wrong_credentials_and_unknown_buckets() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3::start(&dir.path().join("s3"), 0);
    std::fs::create_dir_all(s3.root.join("bkt")).unwrap();
    let o = run_ok(lib_cmd(dir.path(), &s3).args(["record", "--camera", "synthetic", "--mic", "tone", "--size", "320x180", "--duration", "2", "--json"]));
    let id = json(&o)["id"].as_str().unwrap().to_string();

    let p = json(&run_ok(lib_cmd(dir.path(), &s3).args(["publish", &id, "--to", "s3://bkt", "--expires", "2s", "--json"])));
    let url = p["url"].as_str().unwrap().to_string();
    assert_eq!(http_get(&url).0, 200);
    std::thread::sleep(Duration::from_millis(3500));
    assert_eq!(http_get(&url).0, 403, "expired");

    let before = files_under(&s3.root).len();
    let fail = |args: &[&str], env: &[(&str, &str)], expect: &str| {
        let mut c = lib_cmd(dir.path(), &s3);
        for (k, v) in env {
            c.env(k, v);
        }
        let o = c.args(args).output().unwrap();
        let e = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(!o.status.success() && e.contains(expect), "{args:?}: {e}");
    };
    fail(&["publish", &id, "--to", "s3://bkt/x"], &[("AWS_SECRET_ACCESS_KEY", "wrong")], "refused the credentials");
    fail(&["publish", &id, "--to", "s3://bkt/x"], &[("AWS_ACCESS_KEY_ID", "nobody")], "refused the credentials");
    fail(&["publish", &id, "--to", "s3://no-such-bucket/x"], &[], "the bucket 'no-such-bucket' does not exist");
    fail(&["publish", &id, "--to", "https://bkt/x"], &[], "must start with s3://");
    fail(&["publish", &id, "--to", "s3://bkt", "--expires", "30d"], &[], "at most 7 days");
    fail(&["publish", &id, "--to", "s3://bkt", "--endpoint", "not a url"], &[], "is not a URL");
    fail(&["publish", &id, "--to", "s3://bkt"], &[("AWS_ACCESS_KEY_ID", ""), ("HOME", "/nonexistent")], "no S3 credentials");
    fail(&["publish", "nope", "--to", "s3://bkt"], &[], "no recording 'nope'");
    fail(&["record", "--camera", "synthetic", "--mic", "tone", "--duration", "1", "--publish", "s3://no-such-bucket"], &[], "does not exist");
    assert_eq!(files_under(&s3.root).len(), before, "nothing left half in the bucket");
    assert!(!s3.root.join("no-such-bucket").exists());
}

/// A file big enough for several 8 MiB parts: 6 s of noise at a high bitrate.
fn big_video(path: &Path) {
    let st = Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i", "nullsrc=s=640x360:r=30,geq=random(1)*255:128:128", "-f", "lavfi", "-i", "sine=f=440", "-t", "6"])
        .args(["-c:v", "libx264", "-preset", "ultrafast", "-b:v", "40M", "-maxrate", "40M", "-bufsize", "40M", "-c:a", "aac", "-shortest"])
        .arg(path)
        .status()
        .expect("ffmpeg is missing: install ffmpeg (scripts/setup.sh test)");
    assert!(st.success());
}

#[test]
fn uploads_survive_a_storage_restart_and_a_killed_reel() {
    let dir = tempfile::tempdir().unwrap();
    let mut s3 = S3::start(&dir.path().join("s3"), 0);
    std::fs::create_dir_all(s3.root.join("bkt")).unwrap();
    let src = dir.path().join("big.mp4");
    big_video(&src);
    let o = run_ok(lib_cmd(dir.path(), &s3).args(["import", "--json"]).arg(&src));
    let id = json(&o)["id"].as_str().unwrap().to_string();
    let local = std::fs::read(dir.path().join("lib/recordings").join(&id).join("video.mp4")).unwrap();
    assert!(local.len() > 20 << 20, "several parts: {} bytes", local.len());

    // The storage server dies during the upload and comes back on the same port: the client's
    // retries carry the upload through.
    let child = lib_cmd(dir.path(), &s3)
        .args(["publish", &id, "--to", "s3://bkt/a", "--max-rate", "6M", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    let port = s3.port;
    s3.kill();
    std::thread::sleep(Duration::from_millis(1500));
    let s3b = S3::start(&dir.path().join("s3"), port);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "publish went through the restart: {}", String::from_utf8_lossy(&out.stderr));
    let p = json(&out);
    let obj = s3b.root.join("bkt/a").join(p["publication"].as_str().unwrap()).join("video.mp4");
    assert_eq!(std::fs::read(&obj).unwrap(), local, "complete and byte-identical after the restart");

    // reel itself is killed mid-upload: the same command resumes, sending only what is missing.
    let state = dir.path().join("lib/recordings").join(&id).join(".publish-state.json");
    let mut child = lib_cmd(dir.path(), &s3b)
        .args(["publish", &id, "--to", "s3://bkt/b", "--max-rate", "6M"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let one_part = wait_for(Duration::from_secs(20), || std::fs::read_to_string(&state).is_ok_and(|s| s.contains("\"0\":")));
    assert!(one_part, "a part was stored");
    let _ = child.kill();
    let _ = child.wait();
    let stored: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let done_before = stored["parts"].as_object().unwrap().len();
    assert!((1..4).contains(&done_before), "killed mid-upload with {done_before} parts stored");
    let p = json(&run_ok(lib_cmd(dir.path(), &s3b).args(["publish", &id, "--to", "s3://bkt/b", "--json"])));
    assert_eq!(p["resumed_parts"].as_u64(), Some(done_before as u64), "resumed, not restarted: {p}");
    let obj = s3b.root.join("bkt/b").join(p["publication"].as_str().unwrap()).join("video.mp4");
    assert_eq!(std::fs::read(&obj).unwrap(), local, "resumed upload is byte-identical");
    assert!(!state.exists(), "state removed once complete");

    // Ctrl-C aborts: no state, no object, no orphaned parts on the server.
    let child = lib_cmd(dir.path(), &s3b)
        .args(["publish", &id, "--to", "s3://bkt/c", "--max-rate", "6M"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert!(wait_for(Duration::from_secs(20), || std::fs::read_to_string(&state).is_ok_and(|s| s.contains("\"0\":"))), "a part was stored");
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("cancelled"), "{err}");
    assert!(!state.exists(), "no state after a cancel");
    assert!(files_under(&s3b.root.join("bkt/c")).iter().all(|p| !p.ends_with("video.mp4")), "no object");
    let orphans: Vec<_> = files_under(&s3b.root).into_iter().filter(|p| p.to_string_lossy().contains(".upload_id-")).collect();
    assert!(orphans.is_empty(), "the multipart upload was aborted: {orphans:?}");
}

#[test]
fn upload_while_recording_makes_the_link_ready_at_stop() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3::start(&dir.path().join("s3"), 0);
    std::fs::create_dir_all(s3.root.join("bkt")).unwrap();
    // Noise as the camera: a high bitrate, so several 5 MiB parts go up during the recording.
    let noise = dir.path().join("noise.mp4");
    let st = Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i", "nullsrc=s=640x360:r=30,geq=random(1)*255:128:128", "-t", "3", "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0"])
        .arg(&noise)
        .status()
        .unwrap();
    assert!(st.success());
    let o = run_ok(lib_cmd(dir.path(), &s3).arg("record").arg("--camera").arg(format!("file:{}", noise.display())).args([
        "--mic",
        "tone",
        "--size",
        "640x360",
        "--duration",
        "6",
        "--json",
        "--title",
        "Live",
        "--publish",
        "s3://bkt/live",
    ]));
    let s = json(&o);
    assert_eq!(s["publish_live"], true, "uploaded during the recording: {s}");
    assert!(s["publish_parts"].as_u64().unwrap_or(0) >= 2, "parts went up while recording: {s}");
    let url = s["url"].as_str().expect("a link").to_string();
    eprintln!("stop → link ready: {} ms", s["publish_ready_ms"]);
    let (st, _, page) = http_get(&url);
    assert_eq!(st, 200);
    let html = String::from_utf8_lossy(&page).into_owned();
    let (st, hs, body) = http_get(&attr(&html, "<video", "src"));
    assert_eq!((st, header(&hs, "content-type")), (200, Some("video/mp4")));
    let got = dir.path().join("got.mp4");
    std::fs::write(&got, &body).unwrap();
    let probe = ffprobe(&got);
    assert!(stream(&probe, "video").is_some_and(|v| v["codec_name"] == "h264"));
    assert!(stream(&probe, "audio").is_some_and(|a| a["codec_name"] == "aac"));
    let d = f64_of(&probe["format"]["duration"]);
    assert!((d - 6.0).abs() < 0.3, "the whole recording is in the object: {d} s");
    assert!(files_under(&s3.root.join("bkt/live")).iter().any(|p| p.ends_with("index.html")));
}
