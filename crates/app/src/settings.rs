//! The desktop app's settings, in `settings.json` in the platform config folder (or
//! `$REEL_CONFIG`). Checked when saved; the library folder and server address apply at the
//! next start (the running server and open library are not swapped under the user's feet).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::ApiError;

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Settings {
    /// `None`: `$REEL_LIBRARY`, else the platform data folder.
    pub library: Option<PathBuf>,
    pub size: String,
    pub fps: u32,
    /// `standard` (the live preset for the size) or `high` (same speed, a lower CRF: larger files).
    pub quality: String,
    /// The speed share links start at.
    pub default_speed: f64,
    /// Where the share server listens: loopback by default (port 8787, kept across restarts);
    /// 0.0.0.0:PORT shares on the LAN too.
    pub server_bind: String,
    /// How colleagues reach the share server (`http://192.168.1.5:8787`), put in every link.
    /// Empty: worked out from the address it listens on (a LAN address when on 0.0.0.0).
    pub public_url: String,
    /// HTTPS for the share server: a PEM certificate chain and its key (both or neither).
    pub tls_cert: String,
    pub tls_key: String,
    pub s3_target: String,
    pub s3_endpoint: String,
    /// Empty: the endpoint's default (us-east-1 for most S3-compatible servers).
    pub s3_region: String,
    /// A profile of `~/.aws/credentials` to publish with, when no keys are stored in the app.
    pub s3_profile: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            library: None,
            size: "720p".into(),
            fps: 30,
            quality: "standard".into(),
            default_speed: 1.0,
            server_bind: "127.0.0.1:8787".into(),
            public_url: String::new(),
            tls_cert: String::new(),
            tls_key: String::new(),
            s3_target: String::new(),
            s3_endpoint: String::new(),
            s3_region: String::new(),
            s3_profile: String::new(),
        }
    }
}

/// What is wrong with one field of the settings.
#[derive(Clone, Debug, serde::Serialize, PartialEq)]
pub struct FieldProblem {
    /// The field's name, as in `settings.json` and the app's form.
    pub field: &'static str,
    pub message: String,
}

fn bad(m: String) -> ApiError {
    ApiError { code: crate::ErrorCode::BadInput, message: m }
}

pub fn path() -> PathBuf {
    if let Some(p) = std::env::var_os("REEL_CONFIG") {
        return PathBuf::from(p);
    }
    directories::ProjectDirs::from("", "", "reel").map(|d| d.config_dir().join("settings.json")).unwrap_or_else(|| PathBuf::from("reel-settings.json"))
}

impl Settings {
    /// The saved settings; defaults when there are none or they cannot be read.
    pub fn load(path: &Path) -> Settings {
        std::fs::read(path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
    }

    /// Checks the settings: the first problem, if any (see [`Settings::problems`] for all).
    pub fn check(&self) -> Result<(), ApiError> {
        match self.problems().into_iter().next() {
            Some(p) => Err(bad(p.message)),
            None => Ok(()),
        }
    }

    /// Every problem, each with the field it is about, so that the app can say it next to
    /// that field.
    pub fn problems(&self) -> Vec<FieldProblem> {
        let mut out = Vec::new();
        let mut say = |field: &'static str, message: String| out.push(FieldProblem { field, message });
        if let Err(e) = self.size.parse::<reel_media::Size>() {
            say("size", format!("size '{}': {e}", self.size));
        }
        if !(1..=60).contains(&self.fps) {
            say("fps", format!("{} frames per second: use 1 to 60", self.fps));
        }
        if !matches!(self.quality.as_str(), "standard" | "high") {
            say("quality", format!("quality '{}': use standard or high", self.quality));
        }
        if !(0.5..=3.0).contains(&self.default_speed) {
            say("default_speed", format!("default speed {}: use 0.5 to 3", self.default_speed));
        }
        let bind = match self.server_bind.parse::<SocketAddr>() {
            Ok(b) => Some(b),
            Err(_) => {
                say("server_bind", format!("server address '{}' is not like 127.0.0.1:8787", self.server_bind));
                None
            }
        };
        // The app's window reaches its media over loopback, so the server must listen there:
        // on loopback only, or on every address (0.0.0.0: loopback and the LAN).
        if let Some(b) = bind.filter(|b| !(b.ip().is_loopback() || b.ip().is_unspecified())) {
            say("server_bind", format!("server address '{b}': use 127.0.0.1:PORT (this machine) or 0.0.0.0:PORT (also the LAN)"));
        }
        if !self.public_url.is_empty() {
            let host = self.public_url.strip_prefix("http://").or_else(|| self.public_url.strip_prefix("https://")).map(|r| r.split('/').next().unwrap_or(""));
            match host.filter(|h| !h.is_empty() && !h.contains(' ')) {
                None => say("public_url", format!("public address '{}' is not a URL like http://192.168.1.5:8787", self.public_url)),
                Some(host) => {
                    // Colleagues cannot reach a server that listens on loopback only.
                    let local = host.starts_with("127.") || host.starts_with("localhost") || host.starts_with("[::1]");
                    if let Some(b) = bind.filter(|b| !local && b.ip().is_loopback()) {
                        say(
                            "public_url",
                            format!(
                                "public address '{}' is for other machines, but the server address {b} listens on this one only; use 0.0.0.0:{} as the server address",
                                self.public_url,
                                b.port()
                            ),
                        );
                    }
                }
            }
        }
        match (self.tls_cert.trim().is_empty(), self.tls_key.trim().is_empty()) {
            // An https:// public address without a certificate is fine: a proxy may end TLS.
            (true, true) => {}
            (false, false) => {
                // Loaded now, so a wrong file is said here and not at the next start.
                let (cert, key) = (Path::new(self.tls_cert.trim()), Path::new(self.tls_key.trim()));
                if let Err(e) = reel_share::listen::tls_acceptor(cert, key) {
                    // Said at the file it is about: a key file that is missing or holds no key
                    // is the key's field.
                    let about_key = cert.is_file() && (!key.is_file() || e.to_string().contains("key"));
                    say(if about_key { "tls_key" } else { "tls_cert" }, format!("HTTPS: {e}"));
                } else if self.public_url.starts_with("http://") {
                    say("public_url", format!("public address '{}' starts with http://, but the server serves HTTPS; use https://", self.public_url));
                }
            }
            (true, false) => say("tls_cert", "HTTPS needs the certificate file for this key (or neither)".into()),
            (false, true) => say("tls_key", "HTTPS needs the key file for this certificate (or neither)".into()),
        }
        if !self.s3_target.is_empty() {
            if let Err(e) = self.s3_target.parse::<reel_publish::Target>() {
                say("s3_target", ApiError::from(e).message);
            }
        }
        if !self.s3_endpoint.is_empty() && !self.s3_endpoint.starts_with("http://") && !self.s3_endpoint.starts_with("https://") {
            say("s3_endpoint", format!("S3 endpoint '{}' is not a URL like https://s3.example.com", self.s3_endpoint));
        }
        if self.s3_profile.contains(['[', ']', '\n']) {
            say("s3_profile", format!("AWS profile '{}' is not a profile name", self.s3_profile));
        }
        if let Some(l) = &self.library {
            if l.as_os_str().is_empty() || l.is_relative() {
                say("library", format!("library folder '{}' must be an absolute path", l.display()));
            }
        }
        out
    }

    /// Checks and saves (atomically).
    pub fn save(&self, path: &Path) -> Result<(), ApiError> {
        self.check()?;
        let io = |e: std::io::Error| ApiError { code: crate::ErrorCode::Io, message: format!("cannot save settings to {}: {e}", path.display()) };
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| bad(e.to_string()))?;
        crate::durable::write(path, &bytes).map_err(io)
    }

    /// The share server's certificate, when HTTPS is set.
    pub fn tls(&self) -> Option<crate::Tls> {
        (!self.tls_cert.trim().is_empty() && !self.tls_key.trim().is_empty()).then(|| crate::Tls { cert: self.tls_cert.trim().into(), key: self.tls_key.trim().into() })
    }

    /// The encoder preset for recordings: the live preset for the size, a lower CRF for `high`.
    pub fn preset(&self, size: reel_media::Size) -> Option<reel_codec::Preset> {
        (self.quality == "high").then(|| {
            let p = reel_codec::Preset::live(size);
            reel_codec::Preset { crf: p.crf.saturating_sub(4), ..p }
        })
    }
}

/// S3 keys entered in the app: kept beside the settings in a file of their own, owner-only
/// (0600) from its first byte, never in `settings.json` (which the UI reads back) and never
/// sent back to the UI (it is told only which key is stored).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct S3Keys {
    pub access_key: String,
    pub secret_key: String,
}

/// Where [`S3Keys`] are kept: `s3-credentials.json` beside the settings.
pub fn keys_path() -> PathBuf {
    path().with_file_name("s3-credentials.json")
}

impl S3Keys {
    pub fn load(path: &Path) -> Option<S3Keys> {
        serde_json::from_slice(&std::fs::read(path).ok()?).ok()
    }

    /// Checks and stores the keys, durably and owner-only.
    pub fn save(&self, path: &Path) -> Result<(), ApiError> {
        let (a, s) = (self.access_key.trim(), self.secret_key.trim());
        if a.is_empty() || s.is_empty() {
            return Err(bad("give both the S3 access key and its secret".into()));
        }
        if a.chars().chain(s.chars()).any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("S3 keys contain no spaces or line breaks; paste them again".into()));
        }
        let bytes = serde_json::to_vec(&S3Keys { access_key: a.into(), secret_key: s.into() }).map_err(|e| bad(e.to_string()))?;
        crate::durable::write_private(path, &bytes).map_err(|e| ApiError::new(crate::ErrorCode::Io, format!("cannot store the S3 keys in {}: {e}", path.display())))
    }

    /// Forgets stored keys (none stored: nothing to do).
    pub fn forget(path: &Path) -> Result<(), ApiError> {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(ApiError::new(crate::ErrorCode::Io, format!("cannot remove {}: {e}", path.display()))),
            _ => Ok(()),
        }
    }

    /// What the UI may see of stored keys: the access key with its middle hidden.
    pub fn hint(&self) -> String {
        let a: Vec<char> = self.access_key.chars().collect();
        if a.len() <= 8 {
            return "…".to_string();
        }
        format!("{}…{}", a[..4].iter().collect::<String>(), a[a.len() - 4..].iter().collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_named_with_its_field() {
        let s = Settings { fps: 0, server_bind: "nonsense".into(), public_url: "ftp://x".into(), tls_key: "/k.pem".into(), ..Settings::default() };
        let p = s.problems();
        let fields: Vec<&str> = p.iter().map(|p| p.field).collect();
        assert_eq!(fields, ["fps", "server_bind", "public_url", "tls_cert"], "the certificate is what is missing: {p:?}");
        assert!(p[0].message.contains("1 to 60"), "{p:?}");
        assert_eq!(s.check().unwrap_err().message, p[0].message, "check says the first");
        assert!(Settings::default().problems().is_empty());
    }

    #[test]
    fn settings_round_trip_and_refuse_nonsense() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("conf/settings.json");
        assert_eq!(Settings::load(&p), Settings::default(), "none saved: defaults");
        let s = Settings { fps: 25, quality: "high".into(), s3_target: "s3://team/videos".into(), ..Default::default() };
        s.save(&p).unwrap();
        assert_eq!(Settings::load(&p), s);
        for (bad, why) in [
            (Settings { fps: 0, ..Default::default() }, "frames per second"),
            (Settings { size: "huge".into(), ..Default::default() }, "size"),
            (Settings { default_speed: 9.0, ..Default::default() }, "default speed"),
            (Settings { server_bind: "everywhere".into(), ..Default::default() }, "server address"),
            (Settings { server_bind: "192.168.1.5:8787".into(), ..Default::default() }, "0.0.0.0:PORT"),
            (Settings { s3_target: "ftp://x".into(), ..Default::default() }, "s3://"),
            (Settings { public_url: "my laptop".into(), ..Default::default() }, "public address"),
            (Settings { public_url: "http://192.168.1.5:8787".into(), ..Default::default() }, "use 0.0.0.0:8787"),
            (Settings { library: Some("relative/lib".into()), ..Default::default() }, "absolute"),
        ] {
            let e = bad.save(&p).unwrap_err().message;
            assert!(e.contains(why), "{e}");
        }
        assert_eq!(Settings::load(&p), s, "a refused save changes nothing");
        for (bad, why) in [
            (Settings { tls_cert: "/nonexistent/cert.pem".into(), ..Default::default() }, "the key file for this certificate"),
            (Settings { tls_cert: "/nonexistent/cert.pem".into(), tls_key: "/nonexistent/key.pem".into(), ..Default::default() }, "HTTPS: /nonexistent/cert.pem"),
            (Settings { s3_endpoint: "minio.local".into(), ..Default::default() }, "S3 endpoint"),
        ] {
            let e = bad.save(&p).unwrap_err().message;
            assert!(e.contains(why), "{e}");
        }
        std::fs::write(&p, b"{ not json").unwrap();
        assert_eq!(Settings::load(&p), Settings::default(), "unreadable: defaults, no crash");
    }

    #[test]
    fn s3_keys_are_owner_only_and_shown_only_as_a_hint() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("s3-credentials.json");
        assert!(S3Keys { access_key: "AKIA".into(), secret_key: " ".into() }.save(&p).is_err());
        assert!(!p.exists(), "refused keys write nothing");
        let k = S3Keys { access_key: "AKIAEXAMPLE12345".into(), secret_key: "wJalrXUtnFEMI/K7MDENG".into() };
        k.save(&p).unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(S3Keys::load(&p), Some(k.clone()));
        assert_eq!(k.hint(), "AKIA…2345");
        S3Keys::forget(&p).unwrap();
        S3Keys::forget(&p).unwrap();
        assert_eq!(S3Keys::load(&p), None);
    }
}
