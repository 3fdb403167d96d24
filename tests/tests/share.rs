//! Share links over real HTTP against the real `reel serve` (loopback): pages, ranges, tokens,
//! passwords, expiry, revocation, traversal attempts and escaping. (The player in a real
//! browser is the next step; these check what the server promises.)

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use reel_tests::*;

fn lib_cmd(dir: &Path) -> Command {
    let mut c = reel(dir);
    c.env("REEL_LIBRARY", dir.join("lib"));
    c
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &Path) -> Server {
    let mut child = lib_cmd(dir).args(["serve", "--bind", "127.0.0.1:0"]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected first line: {line}")).to_string();
    Server { child, base }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into()
}

fn get(url: &str, headers: &[(&str, &str)]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut req = agent().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut r = req.call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = r.status().as_u16();
    let hs = r.headers().iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string())).collect();
    let body = r.body_mut().with_config().limit(64 << 20).read_to_vec().unwrap_or_default();
    (status, hs, body)
}

fn header<'a>(hs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    hs.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

fn record(dir: &Path, title: &str) -> String {
    let o = run_ok(lib_cmd(dir).args(["record", "--camera", "synthetic", "--mic", "tone", "--size", "320x180", "--duration", "2", "--json", "--title", title]));
    json(&o)["id"].as_str().unwrap().to_string()
}

fn share(dir: &Path, id: &str, extra: &[&str]) -> String {
    let o = run_ok(lib_cmd(dir).args(["share", id, "--json"]).args(extra));
    json(&o)["token"].as_str().unwrap().to_string()
}

fn share_locked(dir: &Path, id: &str, password: &str, extra: &[&str]) -> String {
    let pw = password_file(dir, password);
    let o = run_ok(lib_cmd(dir).args(["share", id, "--json", "--password-file"]).arg(&pw).args(extra));
    json(&o)["token"].as_str().unwrap().to_string()
}

#[test]
fn share_page_media_ranges_and_security() {
    let dir = tempfile::tempdir().unwrap();
    let id = record(dir.path(), "<script>alert('x')</script> Weekly");
    let token = share(dir.path(), &id, &["--default-speed", "1.5"]);
    assert!(token.len() >= 22, "≥ 128 bits");
    let srv = serve(dir.path());
    let page_url = format!("{}/v/{token}", srv.base);

    let (st, hs, body) = get(&page_url, &[]);
    let html = String::from_utf8_lossy(&body);
    assert_eq!(st, 200);
    assert!(html.contains(&format!("<video controls preload=\"metadata\" playsinline src=\"/v/{token}/media\"")), "works without script: {html}");
    assert!(!html.contains("<script>alert"), "user text escaped");
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Weekly"));
    assert!(html.contains(&format!("og:image\" content=\"{}/v/{token}/poster.jpg", srv.base)), "absolute Open Graph image");
    assert!(html.contains("data-default-speed=\"1.5\""));
    let csp = header(&hs, "content-security-policy").unwrap_or("");
    assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"), "{csp}");
    assert_eq!(header(&hs, "x-content-type-options"), Some("nosniff"));
    assert_eq!(header(&hs, "referrer-policy"), Some("no-referrer"));

    let media = format!("{page_url}/media");
    let (st, hs, body) = get(&media, &[("Range", "bytes=0-99")]);
    assert_eq!(st, 206);
    assert_eq!(body.len(), 100);
    assert_eq!(header(&hs, "content-type"), Some("video/mp4"));
    assert!(header(&hs, "content-range").unwrap_or("").starts_with("bytes 0-99/"));
    let (st, _, full) = get(&media, &[]);
    assert_eq!(st, 200);
    let on_disk = std::fs::read(dir.path().join("lib/recordings").join(&id).join("video.mp4")).unwrap();
    assert_eq!(full, on_disk, "byte-identical");
    let (st, _, _) = get(&media, &[("Range", "bytes=999999999-")]);
    assert_eq!(st, 416, "unsatisfiable range");
    let etag = header(&hs, "etag").expect("an ETag").to_string();
    let (st, _, _) = get(&media, &[("If-None-Match", &etag)]);
    assert_eq!(st, 304, "not modified");
    let (st, _, body) = get(&media, &[("Range", "bytes=0-9"), ("If-Range", &etag)]);
    assert_eq!((st, body.len()), (206, 10), "If-Range matches: the range");
    let (st, _, body) = get(&media, &[("Range", "bytes=0-9"), ("If-Range", "\"stale\"")]);
    assert_eq!((st, body.len()), (200, on_disk.len()), "If-Range stale: the whole file");
    let (st, _, _) = get(&format!("{page_url}/poster.jpg"), &[]);
    assert_eq!(st, 200);
    let (st, _, _) = get(&format!("{page_url}/download"), &[]);
    assert_eq!(st, 200);

    // Only a valid token reveals anything; everything else is the same plain 404.
    let (_, _, nf_body) = get(&format!("{}/v/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", srv.base), &[]);
    for bad in [
        "/v/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_string(),
        "/v/../index.sqlite".to_string(),
        "/v/%2e%2e%2f%2e%2e%2fetc%2fpasswd".to_string(),
        format!("/v/{token}/..%2f..%2findex.sqlite"),
        format!("/v/{token}/%2fetc%2fpasswd"),
        "/index.sqlite".to_string(),
        "/etc/passwd".to_string(),
        "/assets/../../Cargo.toml".to_string(),
    ] {
        let (st, _, body) = get(&format!("{}{bad}", srv.base), &[]);
        assert_eq!(st, 404, "{bad}");
        assert_eq!(body, nf_body, "{bad}: the same 404 as an unknown token");
    }
    // An edit replaces the video: a viewer streaming through the link gets the new one (the
    // hot path's watcher notices within a fifth of a second).
    run_ok(lib_cmd(dir.path()).args(["trim", &id, "--start", "0.5", "--end", "1.5"]));
    let trimmed = std::fs::read(dir.path().join("lib/recordings").join(&id).join("video.mp4")).unwrap();
    assert_ne!(trimmed.len(), on_disk.len());
    assert!(wait_for(std::time::Duration::from_secs(2), || get(&media, &[]).2 == trimmed), "the edited video is served");
    // Revocation: the page at once, a viewer already streaming within a fifth of a second.
    run_ok(lib_cmd(dir.path()).args(["unshare", &token]));
    let (st, _, body) = get(&page_url, &[]);
    assert_eq!((st, body), (404, nf_body.clone()));
    assert!(wait_for(std::time::Duration::from_secs(2), || get(&media, &[("Range", "bytes=0-99")]).0 == 404), "media stops too");
}

#[test]
fn password_expiry_and_no_download() {
    let dir = tempfile::tempdir().unwrap();
    let id = record(dir.path(), "Private");
    let token = share_locked(dir.path(), &id, "open sesame", &["--no-download"]);
    let short = share(dir.path(), &id, &["--expires", "3s"]);
    let made = std::time::Instant::now();
    let srv = serve(dir.path());
    let page = format!("{}/v/{token}", srv.base);
    let (st, _, _) = get(&format!("{}/v/{short}", srv.base), &[]);
    assert_eq!(st, 200, "not expired yet");

    let (st, _, body) = get(&page, &[]);
    assert_eq!(st, 200);
    assert!(String::from_utf8_lossy(&body).contains("type=\"password\""), "asks for the password");
    let (st, _, _) = get(&format!("{page}/media"), &[]);
    assert_eq!(st, 404, "no media without the password");

    let post = |pw: &str| {
        let mut r = agent().post(&page).send_form([("password", pw)]).unwrap();
        let cookie = r.headers().get("set-cookie").map(|v| v.to_str().unwrap_or("").to_string());
        let _ = r.body_mut().read_to_string();
        (r.status().as_u16(), cookie)
    };
    assert_eq!(post("wrong").0, 401);
    let (st, cookie) = post("open sesame");
    assert_eq!(st, 303);
    let cookie = cookie.expect("a session cookie");
    // Lax, not Strict: a link opened from chat or mail is a navigation from another site, and
    // must find its session; cross-site posts still carry no cookie.
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Max-Age=43200"), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_string();
    let (st, _, body) = get(&page, &[("Cookie", &pair)]);
    assert_eq!(st, 200);
    let html = String::from_utf8_lossy(&body);
    assert!(html.contains("<video") && !html.contains("class=\"download\""), "no download button");
    assert!(html.contains("<video controls controlslist=\"nodownload\" data-no-download"), "the player's own download item is hidden: {html}");
    assert!(!html.contains("og:video"), "no og:video: an unfurler's video link is a download link");
    // The media element's ranged fetch plays; whole-file and non-media fetches are refused.
    let (st, hs, _) = get(&format!("{page}/media"), &[("Cookie", &pair), ("Range", "bytes=0-9")]);
    assert_eq!(st, 206);
    assert_eq!(header(&hs, "content-disposition"), Some("inline"));
    let (st, _, _) = get(&format!("{page}/media"), &[("Cookie", &pair), ("Range", "bytes=0-"), ("Sec-Fetch-Dest", "video")]);
    assert_eq!(st, 206, "as Chromium's <video> asks");
    for (why, hs) in [
        ("a plain fetch of the whole file", vec![("Cookie", pair.as_str())]),
        ("a document navigation", vec![("Cookie", pair.as_str()), ("Range", "bytes=0-"), ("Sec-Fetch-Dest", "document")]),
        ("a script's fetch", vec![("Cookie", pair.as_str()), ("Range", "bytes=0-"), ("Sec-Fetch-Dest", "empty")]),
    ] {
        let (st, _, body) = get(&format!("{page}/media"), &hs);
        assert_eq!(st, 403, "--no-download refuses {why}");
        assert!(String::from_utf8_lossy(&body).contains("not downloaded"), "says why");
    }
    let (st, _, _) = get(&format!("{page}/download"), &[("Cookie", &pair)]);
    assert_eq!(st, 403, "--no-download");
    // Attempts are rate-limited.
    let codes: Vec<u16> = (0..6).map(|_| post("guess").0).collect();
    assert!(codes.contains(&429), "too many attempts are refused: {codes:?}");

    // Expiry takes effect by itself.
    if let Some(left) = std::time::Duration::from_millis(3500).checked_sub(made.elapsed()) {
        std::thread::sleep(left);
    }
    let (st, _, _) = get(&format!("{}/v/{short}", srv.base), &[]);
    assert_eq!(st, 404, "expired");
}

#[test]
fn bad_share_requests_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let id = record(dir.path(), "x");
    let fail = |args: &[&str], expect: &str| {
        let o = lib_cmd(dir.path()).args(args).output().unwrap();
        let e = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(!o.status.success() && e.contains(expect), "{args:?}: {e}");
    };
    fail(&["share", "nope"], "no recording 'nope'");
    fail(&["share", &id, "--expires", "soon"], "not a duration");
    fail(&["share", &id, "--default-speed", "7"], "0.5 to 3");
    fail(&["share", &id, "--password=hunter2"], "visible to every user");
    fail(&["share", "--password", &id], "asks on a terminal");
    fail(&["share", &id, "--password"], "asks on a terminal and there is none");
    let short = password_file(dir.path(), "hunter2");
    fail(&["share", &id, "--password-file", short.to_str().unwrap()], "shorter than 8 characters");
    let empty = password_file(dir.path(), "");
    fail(&["share", &id, "--password-file", empty.to_str().unwrap()], "empty password");
    fail(&["share", &id, "--password-file", "/nonexistent/pw"], "cannot read the password from /nonexistent/pw");
    fail(&["serve", "--tls-cert", "/nonexistent/cert.pem", "--tls-key", "/nonexistent/key.pem"], "/nonexistent/cert.pem");
    fail(&["serve", "--tls-cert", "/nonexistent/cert.pem"], "--tls-key");
    fail(&["serve", "--bind", "nonsense"], "not an address");
}

fn post_json(url: &str, body: &str, content_type: &str) -> (u16, serde_json::Value) {
    let mut r = agent().post(url).header("content-type", content_type).send(body).unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let status = r.status().as_u16();
    let text = r.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
}

#[test]
fn comments_reactions_views_and_tracks_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let id = record(dir.path(), "Feedback");
    let token = share(dir.path(), &id, &[]);
    let locked = share_locked(dir.path(), &id, "password-123", &[]);
    let srv_captions = dir.path().join("talk.srt");
    std::fs::write(&srv_captions, "1\n00:00:00,200 --> 00:00:01,500\nHello <b>there</b>\n").unwrap();
    run_ok(lib_cmd(dir.path()).args(["captions", &id]).arg(&srv_captions));
    let srv = serve(dir.path());
    let v = format!("{}/v/{token}", srv.base);

    // A comment with markup in it is stored as text and rendered inert.
    let (st, c) = post_json(&format!("{v}/comments"), r#"{"at": 1.25, "name": "<i>Eve</i>", "body": "<script>alert(1)</script> look here"}"#, "application/json");
    assert_eq!(st, 201, "{c}");
    assert_eq!(c["at_s"], 1.25);
    let (st, _) = post_json(&format!("{v}/reactions"), r#"{"at": 0.5, "emoji": "🎉"}"#, "application/json");
    assert_eq!(st, 201);
    for (path, body, ct, status, why) in [
        ("comments", r#"{"at": 99, "body": "late"}"#, "application/json", 400, "not inside the video"),
        ("comments", r#"{"at": 1, "body": "   "}"#, "application/json", 400, "empty"),
        ("comments", r#"{"at": 1, "body": "x"}"#, "text/plain", 415, "application/json"),
        ("comments", r#"{"at": "#, "application/json", 400, "not what was expected"),
        ("reactions", r#"{"at": 1, "emoji": "💩"}"#, "application/json", 400, "not one of the reactions"),
        ("views", r#"{"viewer": "../../etc"}"#, "application/json", 400, "viewer id"),
    ] {
        let (st, e) = post_json(&format!("{v}/{path}"), body, ct);
        assert_eq!(st, status, "{path} {body}: {e}");
        assert!(e["message"].as_str().unwrap_or("").contains(why), "{path} {body}: {e}");
        assert!(e["code"].is_string(), "errors are {{code, message}}: {e}");
    }
    let big = format!(r#"{{"at": 1, "body": "{}"}}"#, "x".repeat(100_000));
    let (st, _) = post_json(&format!("{v}/comments"), &big, "application/json");
    assert_eq!(st, 413, "bodies are bounded");
    // Views: unique per browser id.
    let viewer = r#"{"viewer": "aaaaaaaaaaaaaaaaaaaaaa"}"#;
    assert_eq!(post_json(&format!("{v}/views"), viewer, "application/json").1["views"], 1);
    assert_eq!(post_json(&format!("{v}/views"), viewer, "application/json").1["views"], 1);
    assert_eq!(post_json(&format!("{v}/views"), r#"{"viewer": "bbbbbbbbbbbbbbbbbbbbbb"}"#, "application/json").1["views"], 2);

    let (st, _, body) = get(&format!("{v}/feedback"), &[]);
    assert_eq!(st, 200);
    let f: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(f["comments"].as_array().map(Vec::len), Some(1), "{f}");
    assert_eq!(f["reactions"][0]["emoji"], "🎉");
    assert_eq!(f["views"], 2);

    let (_, _, page) = get(&v, &[]);
    let html = String::from_utf8_lossy(&page);
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; look here") && !html.contains("<script>alert"), "comment escaped: {html}");
    assert!(html.contains("&lt;i&gt;Eve&lt;/i&gt;"));
    assert!(html.contains("2 views"));
    assert!(html.contains(&format!("<track kind=\"captions\" srclang=\"en\" label=\"Captions\" src=\"/v/{token}/captions.vtt\" default>")), "{html}");
    let (st, hs, body) = get(&format!("{v}/captions.vtt"), &[]);
    assert_eq!(st, 200);
    assert!(header(&hs, "content-type").unwrap_or("").starts_with("text/vtt"));
    assert!(String::from_utf8_lossy(&body).starts_with("WEBVTT\n1\n00:00:00.200 --> 00:00:01.500\nHello"), "SRT converted");
    let (st, _, body) = get(&format!("{v}/chapters.vtt"), &[]);
    assert_eq!(st, 200);
    assert!(String::from_utf8_lossy(&body).starts_with("WEBVTT"));

    // The creator sees it all.
    let show = json(&run_ok(lib_cmd(dir.path()).args(["show", &id, "--json"])));
    assert_eq!(show["feedback"]["comments"][0]["name"], "<i>Eve</i>");
    let text = String::from_utf8_lossy(&run_ok(lib_cmd(dir.path()).args(["show", &id])).stdout).into_owned();
    assert!(text.contains("comment  0:01  <i>Eve</i> (link ") && text.contains("): <script>alert(1)</script> look here") && text.contains("views    2"), "{text}");

    // A locked link reveals nothing and takes nothing without the password; a revoked one neither.
    let (st, _) = post_json(&format!("{}/v/{locked}/comments", srv.base), r#"{"at": 1, "body": "sneaky"}"#, "application/json");
    assert_eq!(st, 404);
    let (st, _, _) = get(&format!("{}/v/{locked}/feedback", srv.base), &[]);
    assert_eq!(st, 404);
    run_ok(lib_cmd(dir.path()).args(["unshare", &token]));
    let (st, _) = post_json(&format!("{v}/comments"), r#"{"at": 1, "body": "after"}"#, "application/json");
    assert_eq!(st, 404);
    assert_eq!(json(&run_ok(lib_cmd(dir.path()).args(["show", &id, "--json"])))["feedback"]["comments"].as_array().map(Vec::len), Some(1));

    // Bad captions are refused with the file named.
    let junk = dir.path().join("junk.vtt");
    std::fs::write(&junk, "WEBVTT\n\nnot a cue --> at all\n").unwrap();
    let o = lib_cmd(dir.path()).args(["captions", &id]).arg(&junk).output().unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && e.contains("junk.vtt is not usable as captions"), "{e}");
}

#[test]
fn huge_headers_are_refused_and_the_server_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let id = record(dir.path(), "Headers");
    let token = share(dir.path(), &id, &[]);
    let srv = serve(dir.path());
    let v = format!("{}/v/{token}", srv.base);
    let huge = "a".repeat(1 << 20);
    // An error is the connection closed on it: also a refusal.
    if let Ok(r) = agent().get(&v).header("x-huge", &huge).call() {
        assert!(r.status().as_u16() == 431 || r.status().as_u16() == 400, "a 1 MB header is refused, got {}", r.status());
    }
    let (st, _, _) = get(&v, &[]);
    assert_eq!(st, 200, "the server still answers");
}

/// Two links to one recording (the client's and the board's): each keeps its own
/// conversation, the creator sees both with the link each came through, the store keeps no
/// token (a copied shares.sqlite opens nothing), and a link is revoked by the id `reel
/// shares` lists.
#[test]
fn each_link_has_its_own_conversation_and_the_store_keeps_no_token() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let id = record(dir.path(), "Two audiences");
    let made = |extra: &[&str]| json(&run_ok(lib_cmd(dir.path()).args(["share", &id, "--json"]).args(extra)));
    let (client, board) = (made(&[]), made(&[]));
    let (ct, bt) = (client["token"].as_str().unwrap().to_string(), board["token"].as_str().unwrap().to_string());
    let (cid, bid) = (client["link"].as_str().unwrap().to_string(), board["link"].as_str().unwrap().to_string());
    assert!(client["id"].as_str().unwrap().starts_with(&cid), "the link id is the start of the id");
    assert_eq!((cid.len(), bid.len()), (12, 12), "short link ids");
    let srv = serve(dir.path());
    let (cv, bv) = (format!("{}/v/{ct}", srv.base), format!("{}/v/{bt}", srv.base));
    assert_eq!(post_json(&format!("{cv}/comments"), r#"{"at": 1, "name": "Client", "body": "for the client only"}"#, "application/json").0, 201);
    assert_eq!(post_json(&format!("{bv}/reactions"), r#"{"at": 1, "emoji": "👍"}"#, "application/json").0, 201);
    let feedback = |v: &str| -> serde_json::Value { serde_json::from_slice(&get(&format!("{v}/feedback"), &[]).2).unwrap() };
    let (cf, bf) = (feedback(&cv), feedback(&bv));
    assert_eq!(cf["comments"][0]["body"], "for the client only");
    assert!(cf["comments"][0].get("link").is_none(), "viewers are not told of other links: {cf}");
    assert_eq!(cf["reactions"].as_array().map(Vec::len), Some(0), "{cf}");
    assert_eq!(bf["comments"].as_array().map(Vec::len), Some(0), "the board does not see the client's comment: {bf}");
    assert_eq!(bf["reactions"].as_array().map(Vec::len), Some(1));
    assert!(!String::from_utf8_lossy(&get(&bv, &[]).2).contains("for the client only"), "nor on its page");
    let show = json(&run_ok(lib_cmd(dir.path()).args(["show", &id, "--json"])));
    assert_eq!(show["feedback"]["comments"][0]["link"], cid.as_str(), "the creator sees which link: {show}");
    assert_eq!(show["feedback"]["reactions"][0]["link"], bid.as_str());

    // The store: owner-only, no token in it; the library folder owner-only.
    let store = dir.path().join("lib/shares.sqlite");
    assert_eq!(std::fs::metadata(&store).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(dir.path().join("lib")).unwrap().permissions().mode() & 0o777, 0o700);
    for f in ["shares.sqlite", "shares.sqlite-wal"] {
        let bytes = std::fs::read(dir.path().join("lib").join(f)).unwrap_or_default();
        for t in [&ct, &bt] {
            assert!(!bytes.windows(t.len()).any(|w| w == t.as_bytes()), "{f} holds a token");
        }
    }
    let listed = String::from_utf8(run_ok(lib_cmd(dir.path()).args(["shares"])).stdout).unwrap();
    assert!(listed.contains(&cid) && listed.contains(&bid) && !listed.contains(&ct), "{listed}");
    let listed = json(&run_ok(lib_cmd(dir.path()).args(["shares", "--json"])));
    assert!(listed.as_array().unwrap().iter().any(|s| s["link"] == cid.as_str() && s.get("token").is_none()), "{listed}");
    run_ok(lib_cmd(dir.path()).args(["unshare", &cid]));
    assert_eq!(get(&cv, &[]).0, 404, "revoked by its id");
    let again = lib_cmd(dir.path()).args(["unshare", &cid]).output().unwrap();
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("already revoked"), "{}", String::from_utf8_lossy(&again.stderr));
    assert_eq!(get(&bv, &[]).0, 200, "the other link goes on");
}

/// A writer holding the share store (a `reel share` in another process, a slow disk) must not
/// stall viewers: pages, media and feedback are read without waiting for it, while a comment
/// waits its turn off the async workers and lands once the writer is done.
#[test]
fn a_busy_share_store_never_stalls_viewers() {
    let dir = tempfile::tempdir().unwrap();
    let id = record(dir.path(), "Busy");
    let token = share(dir.path(), &id, &[]);
    let srv = serve(dir.path());
    let v = format!("{}/v/{token}", srv.base);
    assert_eq!(get(&v, &[]).0, 200);
    let db = rusqlite::Connection::open(dir.path().join("lib/shares.sqlite")).unwrap();
    db.execute_batch("BEGIN IMMEDIATE; INSERT INTO views(recording_id, viewer, first_seen) VALUES ('x', 'held-by-the-test-0000', 0);").unwrap();
    let held = std::time::Instant::now();
    let comment = {
        let v = v.clone();
        std::thread::spawn(move || post_json(&format!("{v}/comments"), r#"{"at": 1, "body": "waits for the writer"}"#, "application/json").0)
    };
    std::thread::sleep(std::time::Duration::from_millis(300));
    // Several rounds, so that every worker thread has had a turn while the comment waits.
    for _ in 0..8 {
        assert_eq!(get(&v, &[]).0, 200);
        assert_eq!(get(&format!("{v}/media"), &[("Range", "bytes=0-999")]).0, 206);
        assert_eq!(get(&format!("{v}/feedback"), &[]).0, 200);
    }
    // The comment waits for the write lock for up to 10 s: answered well before, the viewers
    // did not queue behind it.
    assert!(held.elapsed() < std::time::Duration::from_secs(5), "viewers waited for the writer: {:?}", held.elapsed());
    assert!(!comment.is_finished(), "the comment is still waiting for the writer");
    db.execute_batch("COMMIT").unwrap();
    assert_eq!(comment.join().unwrap(), 201, "and lands once the writer is done");
}
