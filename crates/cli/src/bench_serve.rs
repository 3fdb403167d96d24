//! `reel bench serve`: many viewers reading ranged media at once, against `reel serve`'s own
//! server and against nginx serving the same file in the same run (the peer), with the same
//! client. Also: from `reel share` to a playable link (page + first media range).
//!
//! With `--idle N`, N connections from 250 other client addresses are held open against each
//! server during its load (half idle, half with a half-sent request), reopened whenever the
//! server closes them; nginx gets Reel's header and keep-alive deadlines (10 s) for fairness.
//!
//! The client runs in this process (one keep-alive connection per viewer thread), so both
//! servers share the machine with it alike; figures are relative, not absolute.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

struct Load {
    requests: u64,
    bytes: u64,
    errors: u64,
    ttfb_ms: Vec<f64>,
    seconds: f64,
}

/// `clients` threads, each looping ranged GETs of `chunk` bytes at spread offsets for `secs`.
fn load(url: &str, size: u64, clients: usize, chunk: u64, secs: f64) -> Load {
    let stop = Arc::new(AtomicBool::new(false));
    let (reqs, bytes, errors) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let ttfb = Arc::new(Mutex::new(Vec::new()));
    let t0 = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|i| {
            let (url, stop, reqs, bytes, errors, ttfb) = (url.to_string(), stop.clone(), reqs.clone(), bytes.clone(), errors.clone(), ttfb.clone());
            std::thread::Builder::new().stack_size(256 << 10).spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
                let mut mine = Vec::new();
                let mut buf = vec![0u8; 64 << 10];
                let mut n = i as u64;
                while !stop.load(Ordering::Relaxed) {
                    n = n.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    let start = (n >> 20) % size.saturating_sub(chunk).max(1);
                    let t = Instant::now();
                    match agent.get(&url).header("Range", &format!("bytes={start}-{}", start + chunk - 1)).call() {
                        Ok(mut r) if r.status().as_u16() == 206 => {
                            mine.push(t.elapsed().as_secs_f64() * 1000.0);
                            let mut rd = r.body_mut().as_reader();
                            let mut got = 0u64;
                            while let Ok(k) = rd.read(&mut buf) {
                                if k == 0 {
                                    break;
                                }
                                got += k as u64;
                            }
                            bytes.fetch_add(got, Ordering::Relaxed);
                            reqs.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                ttfb.lock().unwrap_or_else(|p| p.into_inner()).extend(mine);
            })
        })
        .filter_map(Result::ok)
        .collect();
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let seconds = t0.elapsed().as_secs_f64();
    let mut ttfb_ms = std::mem::take(&mut *ttfb.lock().unwrap_or_else(|p| p.into_inner()));
    ttfb_ms.sort_by(f64::total_cmp);
    Load { requests: reqs.load(Ordering::Relaxed), bytes: bytes.load(Ordering::Relaxed), errors: errors.load(Ordering::Relaxed), ttfb_ms, seconds }
}

fn summary(l: &Load) -> serde_json::Value {
    let pct = |q: f64| if l.ttfb_ms.is_empty() { f64::NAN } else { l.ttfb_ms[((l.ttfb_ms.len() - 1) as f64 * q) as usize] };
    serde_json::json!({
        "requests_per_s": l.requests as f64 / l.seconds, "mb_per_s": l.bytes as f64 / 1e6 / l.seconds,
        "ttfb_p50_ms": pct(0.5), "ttfb_p99_ms": pct(0.99), "errors": l.errors,
    })
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// nginx serving `dir` on a loopback port, or None when nginx is not installed.
fn nginx(dir: &Path, work: &Path) -> Result<Option<(std::process::Child, u16)>> {
    let bin = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"].into_iter().find(|p| Path::new(p).exists());
    let Some(bin) = bin else { return Ok(None) };
    let port = free_port()?;
    let conf = work.join("nginx.conf");
    // The library folder is owner-only: nginx's workers must run as this user to read it, as
    // Reel does (started as root, nginx would otherwise drop to `nobody` and get 403s).
    // SAFETY: geteuid only reads the process's effective user id.
    let user = if unsafe { libc::geteuid() } == 0 { "user root;" } else { "" };
    std::fs::write(
        &conf,
        format!(
            "daemon off; {user} worker_processes 2; pid {w}/nginx.pid; error_log {w}/error.log;\n\
             events {{ worker_connections 4096; }}\n\
             http {{ access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;\n\
               client_header_timeout 10s; keepalive_timeout 10s;\n\
               client_body_temp_path {w}; proxy_temp_path {w}; fastcgi_temp_path {w}; uwsgi_temp_path {w}; scgi_temp_path {w};\n\
               types {{ video/mp4 mp4; }}\n\
               server {{ listen 127.0.0.1:{port}; root {d}; }} }}\n",
            w = work.display(),
            d = dir.display()
        ),
    )?;
    let child = Command::new(bin).args(["-c"]).arg(&conf).args(["-p"]).arg(work).stdout(Stdio::null()).stderr(Stdio::null()).spawn().context("start nginx")?;
    let url = format!("http://127.0.0.1:{port}/video.mp4");
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let t = Instant::now();
    loop {
        match agent.get(&url).header("Range", "bytes=0-0").call() {
            Ok(r) if r.status().as_u16() == 206 => break,
            Ok(r) => bail!("nginx answers {} for the video, not 206 (see {}/error.log)", r.status(), work.display()),
            Err(_) if t.elapsed() > Duration::from_secs(10) => bail!("nginx did not start (see {}/error.log)", work.display()),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    Ok(Some((child, port)))
}

/// Keeps `n` connections open to `addr` from 250 other client addresses, half of them idle and
/// half with a half-sent request (slowloris), reopening any the server closes, until dropped:
/// the abuse both servers get during the load.
struct Siege {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<u64>>,
}

impl Siege {
    fn start(addr: std::net::SocketAddr, n: usize) -> Siege {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let open = |i: usize| -> Option<socket2::Socket> {
                let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).ok()?;
                // Spread over 250 client addresses (127.0.1.x): a distributed attack, each
                // address under a per-client cap, so both servers hold them all.
                sock.bind(&std::net::SocketAddr::from(([127, 0, 1, (i % 250) as u8 + 2], 0)).into()).ok()?;
                sock.connect_timeout(&addr.into(), Duration::from_secs(1)).ok()?;
                if i.is_multiple_of(2) {
                    let _ = sock.send(b"GET /v/x HTTP/1.1\r\nHost: a\r\nX-Slow: ");
                }
                let _ = sock.set_nonblocking(true);
                Some(sock)
            };
            let mut socks: Vec<Option<socket2::Socket>> = (0..n).map(open).collect();
            let mut reopened = 0u64;
            while !s.load(Ordering::Relaxed) {
                for (i, slot) in socks.iter_mut().enumerate() {
                    let mut b = [std::mem::MaybeUninit::<u8>::uninit(); 1];
                    let gone = match slot {
                        Some(x) => matches!(x.peek(&mut b), Ok(0)) || matches!(x.peek(&mut b), Err(ref e) if e.kind() != std::io::ErrorKind::WouldBlock),
                        None => true,
                    };
                    if gone {
                        *slot = open(i);
                        reopened += 1;
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            reopened
        });
        Siege { stop, thread: Some(thread) }
    }

    /// Stops and returns how many times a connection had to be reopened.
    fn end(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().and_then(|t| t.join().ok()).unwrap_or(0)
    }
}

pub fn serve(clients: usize, seconds: f64, chunk_kib: u64, idle: usize, json: bool) -> Result<()> {
    // Thousands of sockets: the siege and the viewers.
    let _ = reel_app::raise_open_files();
    let tmp = tempfile::tempdir()?;
    let src = tmp.path().join("src.mp4");
    let st = Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i", "testsrc2=s=1280x720:r=30", "-t", "20", "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "8M", "-movflags", "faststart"])
        .arg(&src)
        .status()
        .context("ffmpeg is needed to make the test video")?;
    anyhow::ensure!(st.success(), "ffmpeg could not make the test video");
    let lib = reel_app::open_library(Some(&tmp.path().join("lib")))?;
    let entry = lib.import(&src, Some("Bench"), &mut |_| true).map_err(reel_app::ApiError::from)?;
    let video = entry.path.clone();
    let size = std::fs::metadata(&video)?.len();

    let (tx, rx) = std::sync::mpsc::channel();
    let root = tmp.path().join("lib");
    std::thread::spawn(move || {
        if let Ok(lib) = reel_app::open_library(Some(&root)) {
            let _ = reel_app::serve(&lib, "127.0.0.1:0".parse().expect("addr"), None, reel_app::Limits::default(), None, |a, _| {
                let _ = tx.send(a);
            });
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(10)).context("the share server did not start")?;
    let base = format!("http://{addr}");

    // From `reel share` to a playable link: the share is made, the page loads, media answers.
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let t = Instant::now();
    let (_, link) = reel_app::share(&lib, &entry.id, &Default::default(), &base)?;
    let page = agent.get(&link).call()?.status().as_u16();
    let media = agent.get(&format!("{link}/media")).header("Range", "bytes=0-65535").call()?.status().as_u16();
    let share_to_playable_ms = t.elapsed().as_secs_f64() * 1000.0;
    anyhow::ensure!(page == 200 && media == 206, "the link did not work: page {page}, media {media}");

    let chunk = chunk_kib << 10;
    let siege = (idle > 0).then(|| Siege::start(addr, idle));
    let ours = load(&format!("{link}/media"), size, clients, chunk, seconds);
    let reopened = siege.map(Siege::end);
    let mut report = serde_json::json!({
        "file_mb": size as f64 / 1e6, "clients": clients, "range_kib": chunk_kib, "seconds": seconds,
        "idle_connections": idle, "share_to_playable_ms": share_to_playable_ms, "reel": summary(&ours),
        "reel_idle_reopened": reopened,
    });
    let dir = video.parent().context("video folder")?;
    match nginx(dir, tmp.path())? {
        Some((mut child, port)) => {
            let siege = (idle > 0).then(|| Siege::start(std::net::SocketAddr::from(([127, 0, 0, 1], port)), idle));
            let theirs = load(&format!("http://127.0.0.1:{port}/video.mp4"), size, clients, chunk, seconds);
            report["nginx_idle_reopened"] = siege.map(Siege::end).into();
            let _ = child.kill();
            let _ = child.wait();
            report["nginx"] = summary(&theirs);
            report["throughput_ratio_vs_nginx"] = ((ours.bytes as f64 / ours.seconds) / (theirs.bytes as f64 / theirs.seconds).max(1.0)).into();
        }
        None => report["nginx"] = "not installed (apt-get install nginx-light or nginx) — no peer figure".into(),
    }
    if json {
        println!("{report}");
    } else {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(())
}
