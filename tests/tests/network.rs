//! Links a colleague can open: the share server on this host's side of a real network link
//! (a veth pair into a network namespace the test makes: another host as far as the network
//! goes, never loopback), and a real Chromium on the other host. And what the open network
//! sends a server: idle and half-sent connections, floods of them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reel_tests::*;

fn lib_cmd(dir: &Path) -> Command {
    let mut c = reel(dir);
    c.env("REEL_LIBRARY", dir.join("lib")).env_remove("REEL_BASE_URL");
    c
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `reel serve` with `args`; returns it and the address it listens on.
fn serve(dir: &Path, args: &[&str]) -> (Server, SocketAddr) {
    let mut child = lib_cmd(dir).arg("serve").args(args).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .or_else(|| line.trim().strip_prefix("listening on https://"))
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .parse()
        .unwrap();
    (Server(child), addr)
}

fn record(dir: &Path, title: &str) -> String {
    let o = run_ok(lib_cmd(dir).args(["record", "--camera", "synthetic", "--mic", "tone", "--size", "320x180", "--duration", "3", "--json", "--title", title]));
    json(&o)["id"].as_str().unwrap().to_string()
}

fn num(v: serde_json::Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

#[test]
fn a_colleague_on_another_host_opens_the_link_plays_it_at_2x_and_comments() {
    let dir = tempfile::tempdir().unwrap();
    let net = Netns::create();
    let id = record(dir.path(), "For the team");
    // The server on this host's address on the link; its address goes into the library.
    let (_server, addr) = serve(dir.path(), &["--bind", &format!("{}:0", net.host_ip)]);
    // `reel share` with no flag prints a link that server answers.
    let link = String::from_utf8(run_ok(lib_cmd(dir.path()).args(["share", &id])).stdout).unwrap().trim().to_string();
    assert!(link.starts_with(&format!("http://{addr}/v/")), "the link names the server's address: {link}");

    // The other host: Chromium there opens the link, plays at 2x, posts a comment.
    let b = Browser::start_in(&net);
    b.goto(&link);
    assert_eq!(b.js("return document.title"), "For the team");
    b.js("const v = document.querySelector('video'); v.muted = true; v.play(); return 0");
    b.js("[...document.querySelectorAll('.controls button')].find(b => b.textContent === '2x').click(); return 0");
    assert_eq!(num(b.js("return document.querySelector('video').playbackRate")), 2.0);
    let plays = wait_for(Duration::from_secs(20), || num(b.js("return document.querySelector('video').currentTime")) > 1.0);
    assert!(
        plays,
        "it plays over the link: {}",
        b.js("const v = document.querySelector('video'); return JSON.stringify({t: v.currentTime, rs: v.readyState, err: v.error && v.error.code})")
    );
    b.js("const f = document.querySelector('.comment-form'); f.querySelector('[name=name]').value = 'Colleague'; \
          f.querySelector('[name=body]').value = 'Seen from the other host'; f.requestSubmit(); return 0");
    assert!(wait_for(Duration::from_secs(10), || b.js("return document.body.textContent").as_str().is_some_and(|t| t.contains("Comment posted."))), "the comment is posted");
    drop(b);
    // The creator sees it.
    let shown = json(&run_ok(lib_cmd(dir.path()).args(["show", &id, "--json"])));
    let comments = shown["feedback"]["comments"].as_array().cloned().unwrap_or_default();
    assert!(comments.iter().any(|c| c["name"] == "Colleague" && c["body"] == "Seen from the other host"), "{comments:?}");

    // The link outlives the server: restarted on the same address, the same link plays. While
    // it is down, `reel share` says so.
    drop(_server);
    let out = run_ok(lib_cmd(dir.path()).args(["share", &id]));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not running"), "{}", String::from_utf8_lossy(&out.stderr));
    let (_again, addr2) = serve(dir.path(), &["--bind", &addr.to_string()]);
    assert_eq!(addr2, addr);
    let b = Browser::start_in(&net);
    b.goto(&link);
    assert_eq!(b.js("return document.title"), "For the team", "the link works after a restart");
}

/// Connects from `from` (a second loopback address: another client as far as the server's
/// per-client cap is concerned) to `to`.
fn connect_from(from: &str, to: SocketAddr) -> std::io::Result<TcpStream> {
    let sock = socket2_connect(from, to)?;
    sock.set_read_timeout(Some(Duration::from_secs(3)))?;
    Ok(sock)
}

fn socket2_connect(from: &str, to: SocketAddr) -> std::io::Result<TcpStream> {
    // std has no bind-before-connect; libc does it in three calls.
    use std::os::fd::FromRawFd;
    let ip: std::net::Ipv4Addr = from.parse().map_err(|_| std::io::Error::other("bad address"))?;
    let SocketAddr::V4(to4) = to else { return Err(std::io::Error::other("IPv4 only")) };
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mk = |ip: std::net::Ipv4Addr, port: u16| libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr { s_addr: u32::from(ip).to_be() },
            sin_zero: [0; 8],
        };
        let local = mk(ip, 0);
        let remote = mk(*to4.ip(), to4.port());
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        if libc::bind(fd, &local as *const _ as *const libc::sockaddr, len) != 0 || libc::connect(fd, &remote as *const _ as *const libc::sockaddr, len) != 0 {
            let e = std::io::Error::last_os_error();
            libc::close(fd);
            return Err(e);
        }
        Ok(TcpStream::from_raw_fd(fd))
    }
}

/// True when the server closed `s` (EOF) within its read timeout.
fn closed(s: &TcpStream) -> bool {
    let mut buf = [0u8; 512];
    let mut r = s;
    loop {
        match r.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::ConnectionReset) => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn idle_and_half_sent_connections_cannot_starve_viewers() {
    let dir = tempfile::tempdir().unwrap();
    let id = record(dir.path(), "Under siege");
    let (_server, addr) = serve(dir.path(), &["--bind", "127.0.0.1:0", "--header-timeout", "5", "--max-per-client", "50"]);
    let link = String::from_utf8(run_ok(lib_cmd(dir.path()).args(["share", &id])).stdout).unwrap().trim().to_string();

    // One client opens 50 connections and sends nothing, or half a request: all held. Every
    // one it opens past its cap is closed at once (each checked right after it connects, well
    // inside the 5 s header deadline, so no slot can have been freed meanwhile).
    let mut held = Vec::new();
    for i in 0..50u32 {
        let mut s = connect_from("127.0.0.2", addr).expect("connect");
        if i.is_multiple_of(2) {
            s.write_all(b"GET /v/x HTTP/1.1\r\nHost: a\r\nX-Slow: ").unwrap();
        }
        held.push(s);
    }
    let mut refused = 0;
    for _ in 0..250 {
        let s = connect_from("127.0.0.2", addr).expect("connect");
        let _ = s.set_read_timeout(Some(Duration::from_millis(1500)));
        if closed(&s) {
            refused += 1;
        }
    }
    assert_eq!(refused, 250, "connections past the client's cap are closed at once");

    // Meanwhile another viewer is served: the page and a media range.
    let (st, _, body) = http_get(&link);
    assert_eq!(st, 200, "a viewer is served while 300 connections press");
    assert!(String::from_utf8_lossy(&body).contains("Under siege"));
    // And a request body trickled in slowly does not hold a connection for ever: a comment
    // post whose body never completes is answered (408) or closed within the body deadline.
    let token = link.rsplit('/').next().unwrap();
    let mut slow = connect_from("127.0.0.3", addr).unwrap();
    slow.write_all(format!("POST /v/{token}/comments HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{").as_bytes()).unwrap();
    let _ = slow.set_read_timeout(Some(Duration::from_secs(20)));
    let t = std::time::Instant::now();
    let mut answer = String::new();
    let _ = slow.read_to_string(&mut answer);
    assert!(t.elapsed() < Duration::from_secs(19), "the slow body was cut off: {answer}");

    // The held ones, idle or half-sent, are closed by the header deadline (5 s here).
    let timed_out = held.iter().filter(|s| {
        let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
        closed(s)
    });
    assert_eq!(timed_out.count(), 50, "idle and half-sent connections are closed by the header deadline");
    // A kept-alive connection that goes quiet after a request is closed too.
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(format!("GET /assets/player.css HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes()).unwrap();
    assert!(closed(&s), "the idle kept-alive connection is closed");
}

#[test]
fn cache_headers_follow_the_kind_of_link_and_deleting_revokes() {
    let dir = tempfile::tempdir().unwrap();
    let id = record(dir.path(), "Private things");
    let (_server, _) = serve(dir.path(), &["--bind", "127.0.0.1:0"]);
    let open = String::from_utf8(run_ok(lib_cmd(dir.path()).args(["share", &id])).stdout).unwrap().trim().to_string();
    let expiring = String::from_utf8(run_ok(lib_cmd(dir.path()).args(["share", &id, "--expires", "1d"])).stdout).unwrap().trim().to_string();
    let header = |hs: &[(String, String)], n: &str| hs.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.clone()).unwrap_or_default();
    for path in ["", "/media", "/poster.jpg", "/feedback"] {
        let (st, hs, _) = http_get(&format!("{open}{path}"));
        assert_eq!(st, 200, "{path}");
        assert_eq!(header(&hs, "cache-control"), "private, no-cache", "an open link's {path}");
        let (st, hs, _) = http_get(&format!("{expiring}{path}"));
        assert_eq!(st, 200, "{path}");
        assert_eq!(header(&hs, "cache-control"), "private, no-store", "an expiring link's {path}");
        assert_eq!(header(&hs, "vary"), "Cookie");
    }
    // Deleted: its links stop; restored from the trash: they stay stopped.
    run_ok(lib_cmd(dir.path()).args(["delete", &id]));
    assert_eq!(http_get(&open).0, 404, "a deleted recording's link is revoked");
    run_ok(lib_cmd(dir.path()).args(["trash", "restore", &id]));
    assert_eq!(http_get(&open).0, 404, "restoring the recording does not revive its links");
}

/// Posts a password from `from` (a client address) and returns the HTTP status.
fn try_password(from: &str, addr: SocketAddr, token: &str, password: &str) -> u16 {
    let mut s = connect_from(from, addr).expect("connect");
    let body = format!("password={password}");
    let req =
        format!("POST /v/{token} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    s.write_all(req.as_bytes()).unwrap();
    let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    resp.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// An attacker guessing from one address is slowed down (and stays slowed down after a
/// restart), while the right password from another address works at once.
#[test]
fn password_guesses_are_slowed_per_client_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let id = record(dir.path(), "Locked");
    let (server, addr) = serve(dir.path(), &["--bind", "127.0.0.1:0"]);
    let pw = password_file(dir.path(), "correct horse");
    let out = run_ok(lib_cmd(dir.path()).args(["share", &id, "--json", "--password-file"]).arg(&pw));
    let token = json(&out)["token"].as_str().unwrap().to_string();
    for i in 0..5 {
        assert_eq!(try_password("127.0.0.2", addr, &token, "guess"), 401, "guess {i} is just wrong");
    }
    assert_eq!(try_password("127.0.0.2", addr, &token, "guess"), 429, "the sixth guess must wait");
    assert_eq!(try_password("127.0.0.2", addr, &token, "correct+horse"), 429, "even the right one, from the guesser");
    assert_eq!(try_password("127.0.0.3", addr, &token, "correct+horse"), 303, "the right password from another client works at once");
    drop(server);
    let (_again, addr) = serve(dir.path(), &["--bind", &addr.to_string()]);
    assert_eq!(try_password("127.0.0.2", addr, &token, "guess"), 429, "a restart gives no fresh guesses");
}

/// A self-signed certificate for `ip` (as a company CA or mkcert would issue): cert and key.
fn certificate(dir: &Path, ip: std::net::Ipv4Addr) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=reel-test"])
        .arg("-addext")
        .arg(format!("subjectAltName=IP:{ip}"))
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is missing: install openssl");
    assert!(out.status.success(), "openssl: {}", String::from_utf8_lossy(&out.stderr));
    (cert, key)
}

/// `curl` on the other host: the status, the response headers and the body.
fn curl_in(net: &Netns, args: &[&str]) -> (String, String) {
    let out = net.cmd("curl").args(["-sS", "--max-time", "20", "-D", "-"]).args(args).output().expect("curl is missing: install curl");
    assert!(out.status.success(), "curl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (head.to_string(), body.to_string())
}

/// HTTPS on the share server, as a colleague on another host reaches it: the certificate
/// verifies against its CA, links say https://, the password's session cookie is Secure,
/// plain HTTP to the TLS port gets nothing, and a client that opens a TLS connection and says
/// nothing is let go after the header deadline.
#[test]
fn https_links_for_a_colleague_with_secure_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let net = Netns::create();
    let id = record(dir.path(), "Over TLS");
    let (cert, key) = certificate(dir.path(), net.host_ip);
    let (_server, addr) =
        serve(dir.path(), &["--bind", &format!("{}:0", net.host_ip), "--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap(), "--header-timeout", "2"]);
    let link = String::from_utf8(run_ok(lib_cmd(dir.path()).args(["share", &id])).stdout).unwrap().trim().to_string();
    assert!(link.starts_with(&format!("https://{addr}/v/")), "links name https: {link}");
    let cacert = cert.to_str().unwrap();
    let (head, body) = curl_in(&net, &["--cacert", cacert, &link]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(body.contains("<title>Over TLS</title>"), "{body}");
    let (head, _) = curl_in(&net, &["--cacert", cacert, "-r", "0-99", &format!("{link}/media")]);
    assert!(head.starts_with("HTTP/1.1 206") && head.to_ascii_lowercase().contains("content-length: 100\r\n"), "{head}");
    // Without the CA the certificate is refused (curl verifies): TLS is real, not decoration.
    let out = net.cmd("curl").args(["-sS", "--max-time", "10", &link]).output().unwrap();
    assert!(!out.status.success(), "an unknown certificate is not trusted");

    // A password link over HTTPS: the session cookie is Secure.
    let pw = password_file(dir.path(), "correct horse battery");
    let locked = String::from_utf8(run_ok(lib_cmd(dir.path()).args(["share", &id, "--password-file"]).arg(&pw)).stdout).unwrap().trim().to_string();
    let (head, _) = curl_in(&net, &["--cacert", cacert, "--data-urlencode", "password=correct horse battery", &locked]);
    let cookie = head.lines().find(|l| l.to_ascii_lowercase().starts_with("set-cookie:")).unwrap_or_else(|| panic!("no session cookie: {head}"));
    assert!(head.starts_with("HTTP/1.1 303") && cookie.contains("; Secure") && cookie.contains("HttpOnly"), "{head}");

    // Plain HTTP to the TLS port is not served.
    let plain = link.replacen("https://", "http://", 1);
    let out = net.cmd("curl").args(["-sS", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}", &plain]).output().unwrap();
    assert!(!out.status.success() || String::from_utf8_lossy(&out.stdout) != "200", "plain HTTP gets no page");
    // A TLS client that never sends its hello is closed after the header deadline (2 s).
    let mut silent = TcpStream::connect(addr).unwrap();
    silent.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let t = std::time::Instant::now();
    let mut buf = [0u8; 16];
    let n = silent.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "closed, nothing sent");
    assert!(t.elapsed() < Duration::from_secs(8), "let go after the header deadline, not held: {:?}", t.elapsed());
    let (head, _) = curl_in(&net, &["--cacert", cacert, &link]);
    assert!(head.starts_with("HTTP/1.1 200"), "still serving: {head}");
}
