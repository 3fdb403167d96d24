//! Helpers for Reel's end-to-end tests: run the real `reel` binary, inspect results with the
//! real ffprobe, and stand up a real PulseAudio server with a virtual microphone.
//!
//! Nothing here is skipped when missing: a missing tool fails the test with what to install
//! (the README's test command installs everything).

pub mod powercut;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The `reel` binary built next to this test (`target/<profile>/reel`).
pub fn reel_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/<test>-<hash> → target/<profile>/reel
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir.join("reel");
    assert!(bin.exists(), "{} is missing: build it first with `cargo build -p reel-cli` (the test command does)", bin.display());
    bin
}

/// A `reel` command with its own state dir (interrupted-recording registry) inside `dir`.
pub fn reel(dir: &Path) -> Command {
    let mut c = Command::new(reel_bin());
    c.env("REEL_STATE_DIR", dir.join("state")).stdin(Stdio::null());
    c
}

/// A file holding `password`, for `reel share --password-file` (a password is never put on a
/// command line).
pub fn password_file(dir: &Path, password: &str) -> std::path::PathBuf {
    let p = dir.join(format!("password-{}.txt", password.len()));
    std::fs::write(&p, format!("{password}\n")).expect("write the password file");
    p
}

pub fn run_ok(c: &mut Command) -> Output {
    let out = c.output().expect("run reel");
    assert!(out.status.success(), "reel failed ({}):\nstdout: {}\nstderr: {}", out.status, String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    out
}

pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// ffprobe's view of a file: streams and format as JSON.
pub fn ffprobe(path: &Path) -> serde_json::Value {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-show_streams", "-show_format", "-show_chapters", "-of", "json"])
        .arg(path)
        .output()
        .expect("ffprobe is missing: install ffmpeg (scripts/setup.sh test)");
    assert!(out.status.success(), "ffprobe rejected {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("ffprobe json")
}

pub fn stream<'a>(probe: &'a serde_json::Value, kind: &str) -> Option<&'a serde_json::Value> {
    probe["streams"].as_array()?.iter().find(|s| s["codec_type"] == kind)
}

pub fn f64_of(v: &serde_json::Value) -> f64 {
    v.as_f64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).unwrap_or(f64::NAN)
}

/// Waits until `f` is true or the timeout passes; returns whether it became true.
pub fn wait_for(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

/// A PulseAudio server of our own (user mode, no hardware) with a null sink `vmic` whose monitor
/// is remapped as the default source `virtmic`: play into `vmic`, record from the default mic.
pub struct Pulse {
    pub dir: tempfile::TempDir,
    pid: Option<i32>,
}

impl Pulse {
    pub fn start() -> Pulse {
        let dir = tempfile::tempdir().expect("tempdir");
        let runtime = dir.path().join("run");
        std::fs::create_dir_all(&runtime).expect("runtime dir");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        }
        let pa = dir.path().join("reel.pa");
        std::fs::write(
            &pa,
            "load-module module-native-protocol-unix auth-anonymous=1\n\
             load-module module-null-sink sink_name=vmic sink_properties=device.description=VirtualMic\n\
             load-module module-remap-source source_name=virtmic master=vmic.monitor\n\
             set-default-source virtmic\n",
        )
        .expect("pa file");
        let mut p = Pulse { dir, pid: None };
        let status = p
            .cmd("pulseaudio")
            .args(["--daemonize=yes", "--system=false", "--exit-idle-time=-1", "-n", "-F"])
            .arg(&pa)
            .arg(format!("--log-target=file:{}", p.dir.path().join("pulse.log").display()))
            .status()
            .expect("pulseaudio is missing: install pulseaudio pulseaudio-utils (scripts/setup.sh test)");
        assert!(status.success(), "pulseaudio did not start");
        let ok = wait_for(Duration::from_secs(10), || p.cmd("pactl").arg("info").output().is_ok_and(|o| o.status.success()));
        assert!(ok, "pulseaudio did not answer");
        let pid_file = runtime.join("pulse").join("pid");
        p.pid = std::fs::read_to_string(pid_file).ok().and_then(|s| s.trim().parse().ok());
        p
    }

    /// Applies this server's environment to a command.
    pub fn env<'a>(&self, c: &'a mut Command) -> &'a mut Command {
        c.env("HOME", self.dir.path())
            .env("XDG_RUNTIME_DIR", self.dir.path().join("run"))
            .env("PULSE_SERVER", format!("unix:{}", self.dir.path().join("run").join("pulse").join("native").display()))
    }

    pub fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        self.env(&mut c);
        c
    }

    /// Plays a WAV into the virtual mic (in the background).
    pub fn play(&self, wav: &Path) -> Child {
        self.cmd("paplay").args(["-d", "vmic"]).arg(wav).spawn().expect("paplay")
    }
}

impl Drop for Pulse {
    fn drop(&mut self) {
        let _ = self.cmd("pulseaudio").arg("--kill").status();
        if let Some(pid) = self.pid {
            // SAFETY: plain kill(2) on the daemon we started.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

/// Makes a tone WAV with sox.
pub fn tone_wav(path: &Path, hz: u32, seconds: f64) {
    let st = Command::new("sox")
        .args(["-n", "-r", "48000", "-c", "1", "-b", "16"])
        .arg(path)
        .args(["synth", &seconds.to_string(), "sine", &hz.to_string(), "vol", "0.5"])
        .status()
        .expect("sox is missing: install sox (scripts/setup.sh test)");
    assert!(st.success(), "sox failed");
}

/// Writes an RGB PNG.
pub fn write_png(path: &Path, w: u32, h: u32, rgb: &[u8]) {
    image::RgbImage::from_raw(w, h, rgb.to_vec()).expect("buffer size").save(path).expect("write png");
}

/// Reads an image as (width, height, RGBA).
pub fn read_png(path: &Path) -> (u32, u32, Vec<u8>) {
    let i = image::open(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display())).into_rgba8();
    (i.width(), i.height(), i.into_raw())
}

/// A minimal W3C WebDriver client over one keep-alive HTTP agent, driving Debian's Chromium
/// through chromedriver (headless, no network beyond loopback).
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub fn start() -> Browser {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            l.local_addr().expect("addr").port()
        };
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is missing: install chromium chromium-driver (scripts/setup.sh test)");
        Self::session(driver, format!("http://127.0.0.1:{port}"))
    }

    /// A Chromium on another host: chromedriver and the browser run inside the network
    /// namespace `ns` (a second machine as far as the network goes), driven over the veth link
    /// from this host only.
    pub fn start_in(ns: &Netns) -> Browser {
        let port = 9515;
        let driver = Command::new("ip")
            .args(["netns", "exec", &ns.name, "chromedriver", &format!("--port={port}"), &format!("--allowed-ips={}", ns.host_ip), "--allowed-origins=*"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ip (iproute2) or chromedriver is missing (scripts/setup.sh test)");
        Self::session(driver, format!("http://{}:{port}", ns.peer_ip))
    }

    fn session(driver: Child, base: String) -> Browser {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let up = wait_for(Duration::from_secs(20), || agent.get(&format!("{base}/status")).call().is_ok());
        assert!(up, "chromedriver did not start at {base}");
        let profile = tempfile::tempdir().expect("profile dir");
        let caps = serde_json::json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--no-first-run", "--mute-audio",
                         "--autoplay-policy=no-user-gesture-required",
                         format!("--user-data-dir={}", profile.path().display())]
            }
        }}});
        let v = send_json(&agent, &format!("{base}/session"), &caps);
        let session = v["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {v}")).to_string();
        Browser { driver, base, session, agent, _profile: profile }
    }

    /// The Reel desktop app itself, driven through WebKitGTK's own WebDriver (Debian's
    /// webkit2gtk-driver) on `display`, with `env` given to the app.
    pub fn start_app(app: &Path, display: &str, env: &[(&str, &Path)]) -> Browser {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            l.local_addr().expect("addr").port()
        };
        let mut cmd = Command::new("WebKitWebDriver");
        cmd.arg(format!("--port={port}")).env("DISPLAY", display).env("TAURI_WEBVIEW_AUTOMATION", "true").stdout(Stdio::null()).stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let driver = cmd.spawn().expect("WebKitWebDriver is missing: install webkit2gtk-driver (scripts/setup.sh test)");
        let base = format!("http://127.0.0.1:{port}");
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let up = wait_for(Duration::from_secs(20), || agent.get(&format!("{base}/status")).call().is_ok());
        assert!(up, "WebKitWebDriver did not start");
        let profile = tempfile::tempdir().expect("profile dir");
        let caps = serde_json::json!({"capabilities": {"alwaysMatch": {
            "webkitgtk:browserOptions": {"binary": app.display().to_string(), "args": []}
        }}});
        let v = send_json(&agent, &format!("{base}/session"), &caps);
        let session = v["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no app session: {v}")).to_string();
        Browser { driver, base, session, agent, _profile: profile }
    }

    fn post(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let url = format!("{}/session/{}/{path}", self.base, self.session);
        let v = send_json(&self.agent, &url, &body);
        assert!(v["value"].get("error").is_none(), "{path}: {v}");
        v["value"].clone()
    }

    pub fn goto(&self, url: &str) {
        self.post("url", serde_json::json!({"url": url}));
    }

    /// Runs a script in the page; `return` gives the value.
    pub fn js(&self, script: &str) -> serde_json::Value {
        self.post("execute/sync", serde_json::json!({"script": script, "args": []}))
    }

    /// Presses keys as a person would, one after another, to whatever has the focus (W3C
    /// actions). Each key is a character or a [`Key`]; a modifier is held while the next key
    /// is pressed (`[Key::SHIFT, Key::TAB]` is Shift+Tab).
    pub fn keys(&self, keys: &[&str]) {
        let mut actions = Vec::new();
        let mut held = Vec::new();
        for k in keys {
            actions.push(serde_json::json!({"type": "keyDown", "value": k}));
            if [Key::SHIFT, Key::CONTROL].contains(k) {
                held.push(*k);
                continue;
            }
            actions.push(serde_json::json!({"type": "keyUp", "value": k}));
            for m in held.drain(..).rev() {
                actions.push(serde_json::json!({"type": "keyUp", "value": m}));
            }
        }
        self.post("actions", serde_json::json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]}));
        let _ = self.agent.delete(&format!("{}/session/{}/actions", self.base, self.session)).call();
    }

    /// Resizes the browser window (outer size, in CSS pixels).
    pub fn set_window(&self, width: u32, height: u32) {
        self.post("window/rect", serde_json::json!({"width": width, "height": height}));
    }

    pub fn screenshot(&self, path: &Path) {
        let url = format!("{}/session/{}/screenshot", self.base, self.session);
        let mut r = self.agent.get(&url).call().expect("screenshot");
        let v: serde_json::Value = serde_json::from_slice(&r.body_mut().with_config().limit(64 << 20).read_to_vec().expect("body")).expect("json");
        let b64 = v["value"].as_str().expect("png base64");
        use base64::Engine;
        let png = base64::engine::general_purpose::STANDARD.decode(b64).expect("base64 screenshot");
        std::fs::write(path, png).expect("write screenshot");
    }
}

fn send_json(agent: &ureq::Agent, url: &str, body: &serde_json::Value) -> serde_json::Value {
    let mut r = agent.post(url).header("content-type", "application/json").send(serde_json::to_vec(body).expect("json")).unwrap_or_else(|e| panic!("POST {url}: {e}"));
    serde_json::from_slice(&r.body_mut().with_config().limit(64 << 20).read_to_vec().expect("body")).unwrap_or_else(|e| panic!("POST {url}: {e}"))
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.agent.delete(&format!("{}/session/{}", self.base, self.session)).call();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A real S3 server (s3s-fs over a directory, SigV4 auth) as its own process, so a test can kill
/// and restart it. Objects are plain files under `root/<bucket>/<key>`.
pub struct S3 {
    child: Option<Child>,
    pub root: PathBuf,
    pub port: u16,
    pub url: String,
}

pub const S3_KEY: &str = "reel-test-key";
pub const S3_SECRET: &str = "reel-test-secret-0123456789";

impl S3 {
    /// Starts on `port` (0: any free port).
    pub fn start(root: &Path, port: u16) -> S3 {
        let bin = reel_bin().with_file_name("reel-test-s3");
        assert!(bin.exists(), "{} is missing: build it with `cargo build -p reel-tests --bins` (the test command does)", bin.display());
        let mut child =
            Command::new(&bin).arg(root).arg(port.to_string()).args([S3_KEY, S3_SECRET]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("start reel-test-s3");
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().expect("stdout")), &mut line).expect("read");
        let url = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("reel-test-s3 said: {line}")).to_string();
        let port = url.rsplit(':').next().and_then(|p| p.parse().ok()).expect("port");
        S3 { child: Some(child), root: root.to_path_buf(), port, url }
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sets the credentials and endpoint on a `reel` command.
    pub fn env<'a>(&self, c: &'a mut Command) -> &'a mut Command {
        c.env("AWS_ACCESS_KEY_ID", S3_KEY).env("AWS_SECRET_ACCESS_KEY", S3_SECRET).env("AWS_ENDPOINT_URL", &self.url).env("AWS_REGION", "us-east-1")
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        self.kill();
    }
}

/// GET with status, headers and body (no redirects, no error on 4xx).
pub fn http_get(url: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
    let mut r = agent.get(url).call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = r.status().as_u16();
    let hs = r.headers().iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string())).collect();
    let body = r.body_mut().with_config().limit(256 << 20).read_to_vec().unwrap_or_default();
    (status, hs, body)
}

/// The test camera: `tests/fakecam/fakecam.c`, an LD_PRELOAD shim that makes a user-space V4L2
/// device (/dev/videoN) that nokhwa, ffmpeg and v4l2-ctl open through their real code paths.
/// Built once per test binary with the system C compiler; configured per command by env.
pub struct FakeCam {
    vars: Vec<(String, String)>,
}

/// Builds the shim (once) and returns its path.
pub fn fakecam_lib() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("fakecam").join("fakecam.c");
            let out_dir = reel_bin().parent().expect("target dir").join("fakecam");
            std::fs::create_dir_all(&out_dir).expect("fakecam build dir");
            // Built to a name of its own, then renamed into place: test binaries running at
            // the same time never load a half-written library.
            let out = out_dir.join("libfakecam.so");
            let tmp = out_dir.join(format!(".libfakecam-{}.so", std::process::id()));
            let status = Command::new("cc")
                .args(["-O2", "-shared", "-fPIC", "-Wall", "-o"])
                .arg(&tmp)
                .arg(&src)
                .args(["-ldl", "-lpthread", "-ljpeg"])
                .status()
                .expect("cc is missing: install build-essential (scripts/setup.sh)");
            assert!(status.success(), "the test camera shim did not build (needs libjpeg-dev: scripts/setup.sh test)");
            std::fs::rename(&tmp, &out).expect("install the test camera shim");
            out
        })
        .clone()
}

impl FakeCam {
    /// A camera offering `formats` (`yuyv`, `mjpeg`, comma-separated) at `sizes`
    /// (`640x480,1280x720`) and `fps`.
    pub fn new(formats: &str, sizes: &str, fps: u32) -> FakeCam {
        let vars = vec![
            ("REEL_FAKECAM".into(), "1".into()),
            ("REEL_FAKECAM_FORMATS".into(), formats.into()),
            ("REEL_FAKECAM_SIZES".into(), sizes.into()),
            ("REEL_FAKECAM_FPS".into(), fps.to_string()),
        ];
        FakeCam { vars }
    }

    /// Any other setting (`DISCONNECT_AFTER`, `RECONNECT_AFTER_MS`, `BUSY`, `NAME`).
    pub fn with(mut self, key: &str, value: &str) -> FakeCam {
        self.vars.push((format!("REEL_FAKECAM_{key}"), value.into()));
        self
    }

    /// Preloads the shim into this one command (and so only into the process under test).
    pub fn apply<'a>(&self, c: &'a mut Command) -> &'a mut Command {
        c.env("LD_PRELOAD", fakecam_lib());
        for (k, v) in &self.vars {
            c.env(k, v);
        }
        c
    }

    /// A shell script that runs `program` with the shim preloaded: for processes started by
    /// another program (the desktop app started by its WebDriver).
    pub fn wrapper(&self, dir: &Path, program: &Path) -> PathBuf {
        let mut s = String::from("#!/bin/sh\n");
        s += &format!("export LD_PRELOAD='{}'\n", fakecam_lib().display());
        for (k, v) in &self.vars {
            s += &format!("export {k}='{v}'\n");
        }
        s += &format!("exec '{}' \"$@\"\n", program.display());
        let path = dir.join("with-fakecam.sh");
        std::fs::write(&path, s).expect("wrapper");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        path
    }
}

/// The test camera's picture (tests/fakecam/README.md): eight vertical bars over the top three
/// quarters, left to right, in these RGB colours.
pub const FAKECAM_BARS: [[u8; 3]; 8] = [[191, 191, 191], [191, 191, 0], [0, 191, 191], [0, 191, 0], [191, 0, 191], [191, 0, 0], [0, 0, 191], [0, 0, 0]];

/// Decodes every frame of a video as RGB24 at its own size: (width, height, frames).
pub fn decode_rgb(path: &Path) -> (u32, u32, Vec<Vec<u8>>) {
    let probe = ffprobe(path);
    let v = stream(&probe, "video").expect("a video stream");
    let (w, h) = (v["width"].as_u64().unwrap_or(0) as u32, v["height"].as_u64().unwrap_or(0) as u32);
    let out = Command::new("ffmpeg").args(["-v", "error", "-i"]).arg(path).args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"]).output().expect("ffmpeg");
    assert!(out.status.success(), "ffmpeg could not decode {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    let n = (w * h * 3) as usize;
    assert!(n > 0, "no picture size in {}", path.display());
    (w, h, out.stdout.chunks_exact(n).map(<[u8]>::to_vec).collect())
}

/// The RGB at fractions (fx, fy) of an RGB24 frame, averaged over a 5x5 block.
pub fn rgb_at(frame: &[u8], w: u32, h: u32, fx: f64, fy: f64) -> [u8; 3] {
    let (cx, cy) = ((w as f64 * fx) as i64, (h as f64 * fy) as i64);
    let mut sum = [0u32; 3];
    let mut n = 0;
    for y in (cy - 2).max(0)..(cy + 3).min(h as i64) {
        for x in (cx - 2).max(0)..(cx + 3).min(w as i64) {
            let i = ((y * w as i64 + x) * 3) as usize;
            for c in 0..3 {
                sum[c] += frame[i + c] as u32;
            }
            n += 1;
        }
    }
    sum.map(|s| (s / n.max(1)) as u8)
}

/// Whether two colours are within `tol` on every channel.
pub fn near_rgb(a: [u8; 3], b: [u8; 3], tol: i32) -> bool {
    a.iter().zip(b).all(|(x, y)| (*x as i32 - y as i32).abs() <= tol)
}

/// A second host for tests: a network namespace joined to this one by a veth pair on a private
/// /24 of its own, made by the test and removed when dropped (needs root, as CI runs).
/// Nothing leaves the machine, and nothing crosses loopback.
pub struct Netns {
    pub name: String,
    host_if: String,
    /// This host's address on the link (where servers under test listen).
    pub host_ip: std::net::Ipv4Addr,
    /// The other host's address.
    pub peer_ip: std::net::Ipv4Addr,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip is missing: install iproute2");
    assert!(out.status.success(), "ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
}

impl Netns {
    pub fn create() -> Netns {
        // One subnet and one set of names per test process: tests in parallel never meet.
        let n = (std::process::id() % 200) as u8 + 20;
        let name = format!("reel{}", std::process::id());
        let (host_if, peer_if) = (format!("rl{}h", std::process::id() % 100_000), format!("rl{}p", std::process::id() % 100_000));
        let (host_ip, peer_ip) = (std::net::Ipv4Addr::new(10, 231, n, 1), std::net::Ipv4Addr::new(10, 231, n, 2));
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        let _ = Command::new("ip").args(["link", "del", &host_if]).output();
        ip(&["netns", "add", &name]);
        let ns = Netns { name: name.clone(), host_if: host_if.clone(), host_ip, peer_ip };
        ip(&["link", "add", &host_if, "type", "veth", "peer", "name", &peer_if]);
        ip(&["link", "set", &peer_if, "netns", &name]);
        ip(&["addr", "add", &format!("{host_ip}/24"), "dev", &host_if]);
        ip(&["link", "set", &host_if, "up"]);
        ip(&["netns", "exec", &name, "ip", "addr", "add", &format!("{peer_ip}/24"), "dev", &peer_if]);
        ip(&["netns", "exec", &name, "ip", "link", "set", &peer_if, "up"]);
        ip(&["netns", "exec", &name, "ip", "link", "set", "lo", "up"]);
        ns
    }

    /// A command run inside the namespace (on the other host).
    pub fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Processes left inside would keep the namespace: end them first.
        if let Ok(out) = Command::new("ip").args(["netns", "pids", &self.name]).output() {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace().filter_map(|p| p.parse::<i32>().ok()) {
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        let _ = Command::new("ip").args(["netns", "del", &self.name]).output();
        let _ = Command::new("ip").args(["link", "del", &self.host_if]).output();
    }
}

/// Runs axe-core (tests/node_modules, installed by the setup step) on the page `b` shows and
/// returns its serious and critical violations, each as "rule (impact): where — help".
pub fn axe_serious(b: &Browser) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("node_modules/axe-core/axe.min.js");
    let src = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{} is missing ({e}): run scripts/setup.sh test (it installs axe-core with npm)", path.display()));
    b.js(&format!("{src}\n;window.__axe = undefined; axe.run(document, {{ resultTypes: ['violations'] }}).then(r => {{ window.__axe = r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical').flatMap(v => v.nodes.map(n => `${{v.id}} (${{v.impact}}): ${{n.target.join(' ')}} — ${{v.help}}`)); }}, e => {{ window.__axe = ['axe failed: ' + e]; }}); return 0"));
    let mut out = serde_json::Value::Null;
    assert!(
        wait_for(Duration::from_secs(30), || {
            out = b.js("return window.__axe ?? null");
            !out.is_null()
        }),
        "axe-core finished"
    );
    out.as_array().map(|a| a.iter().map(|v| v.as_str().unwrap_or_default().to_string()).collect()).unwrap_or_default()
}

/// WebDriver's codes for keys that are not characters.
pub struct Key;

impl Key {
    pub const TAB: &'static str = "\u{E004}";
    pub const ENTER: &'static str = "\u{E007}";
    pub const SHIFT: &'static str = "\u{E008}";
    pub const CONTROL: &'static str = "\u{E009}";
    pub const ESCAPE: &'static str = "\u{E00C}";
    pub const SPACE: &'static str = "\u{E00D}";
}

/// Samples a second of the speech [`speak`] makes.
pub const SPEECH_RATE: usize = 16_000;

/// `text` spoken by espeak-ng, as 16 kHz mono samples.
pub fn speak(text: &str, dir: &Path) -> Vec<f32> {
    let (wav, raw) = (dir.join("say.wav"), dir.join("say.raw"));
    let st = Command::new("espeak-ng").args(["-v", "en-us", "-s", "150", "-w"]).arg(&wav).arg(text).status().expect("espeak-ng runs (scripts/setup.sh test installs it)");
    assert!(st.success(), "espeak-ng failed");
    let st = Command::new("sox").arg(&wav).args(["-r", "16000", "-c", "1", "-t", "f32"]).arg(&raw).status().expect("sox runs");
    assert!(st.success(), "sox failed");
    std::fs::read(&raw).expect("raw").chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

/// A video (blue picture, H.264 + AAC) of `parts` spoken with pauses; returns it and each
/// part's (onset, end) in seconds.
pub fn speech_video(dir: &Path, parts: &[&str], pause_s: f64) -> (PathBuf, Vec<(f64, f64)>) {
    let mut audio = vec![0f32; SPEECH_RATE / 2];
    let mut spans = Vec::new();
    for p in parts {
        let clip = speak(p, dir);
        let first = clip.iter().position(|v| v.abs() > 0.02).expect("speech");
        let last = clip.iter().rposition(|v| v.abs() > 0.02).expect("speech");
        spans.push(((audio.len() + first) as f64 / SPEECH_RATE as f64, (audio.len() + last) as f64 / SPEECH_RATE as f64));
        audio.extend_from_slice(&clip);
        audio.extend(std::iter::repeat_n(0.0, (pause_s * SPEECH_RATE as f64) as usize));
    }
    let wav = dir.join("speech.wav");
    let mut bytes = Vec::new();
    let data = (audio.len() * 2) as u32;
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&(36 + data).to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    bytes.extend_from_slice(&16u32.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes());
    bytes.extend_from_slice(&(SPEECH_RATE as u32).to_le_bytes());
    bytes.extend_from_slice(&(SPEECH_RATE as u32 * 2).to_le_bytes());
    bytes.extend_from_slice(&2u16.to_le_bytes());
    bytes.extend_from_slice(&16u16.to_le_bytes());
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&data.to_le_bytes());
    for s in &audio {
        bytes.extend_from_slice(&((s.clamp(-1.0, 1.0) * 32767.0) as i16).to_le_bytes());
    }
    std::fs::write(&wav, bytes).expect("wav");
    let out = dir.join("speech.mp4");
    let st = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-f", "lavfi", "-i", "color=c=0x2050a0:s=640x360:r=30", "-i"])
        .arg(&wav)
        .args(["-shortest", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k"])
        .arg(&out)
        .status()
        .expect("ffmpeg runs");
    assert!(st.success(), "ffmpeg failed");
    (out, spans)
}
