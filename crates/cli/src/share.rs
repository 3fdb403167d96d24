//! `reel serve`, `reel share`, `reel unshare`, `reel shares`.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context, Result};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum ShareCmd {
    /// Serve share pages and media (loopback by default; 0.0.0.0:8787 for the LAN).
    Serve {
        #[arg(long, default_value = "127.0.0.1:8787")]
        bind: String,
        /// How viewers reach this server, for links and link previews (default: http://BIND,
        /// or the machine's first LAN address when bound to every address). Recorded in the
        /// library: `reel share` then prints links this server answers.
        #[arg(long)]
        base_url: Option<String>,
        /// Seconds a client may take to send a request's headers (also how long an idle
        /// kept-alive connection is kept).
        #[arg(long, default_value_t = 10)]
        header_timeout: u64,
        /// Open connections in all.
        #[arg(long, default_value_t = 4096)]
        max_connections: usize,
        /// Open connections from one client address.
        #[arg(long, default_value_t = 256)]
        max_per_client: usize,
        /// Serve HTTPS with this certificate chain (PEM; with --tls-key). Links then start
        /// with https:// and password sessions are kept in Secure cookies.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<std::path::PathBuf>,
        /// The certificate's private key (PEM).
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<std::path::PathBuf>,
    },
    /// Make a share link for a recording.
    Share {
        id: String,
        /// Ask for a password on the terminal (at least 8 characters). Not given as a value: a
        /// command line is visible to every user of the machine.
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "", value_name = "")]
        password: Option<String>,
        /// Read the password from the first line of FILE (`-`: standard input).
        #[arg(long, conflicts_with = "password")]
        password_file: Option<std::path::PathBuf>,
        /// How long the link works: 7d, 12h, 30m…
        #[arg(long)]
        expires: Option<String>,
        /// Discourage downloads: no download button or og:video, /download answers 403, and
        /// the video is sent only to a media element's ranged fetch (a whole-file fetch gets
        /// 403). It cannot prevent saving what plays.
        #[arg(long)]
        no_download: bool,
        /// The speed the player starts at (viewers can change it).
        #[arg(long)]
        default_speed: Option<f64>,
        /// The server's public address (default: $REEL_BASE_URL, else the address `reel serve`
        /// recorded in the library, else http://127.0.0.1:8787).
        #[arg(long)]
        base_url: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a link (its token, or its id as `reel shares` lists it) or every link of a
    /// recording (its id).
    Unshare {
        /// Tokens made before they were kept hyphen-free may start with `-`: taken as is.
        #[arg(allow_hyphen_values = true)]
        id_or_token: String,
    },
    /// List share links.
    Shares {
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: ShareCmd, root: Option<&Path>) -> Result<()> {
    let lib = reel_app::open_library(root)?;
    match cmd {
        ShareCmd::Serve { bind, base_url, header_timeout, max_connections, max_per_client, tls_cert, tls_key } => {
            let addr: SocketAddr = bind.parse().with_context(|| format!("--bind '{bind}' is not an address like 127.0.0.1:8787 (or 0.0.0.0:8787 for the LAN)"))?;
            if let Some(b) = &base_url {
                if !(b.starts_with("http://") || b.starts_with("https://")) || b.len() < 10 {
                    anyhow::bail!("--base-url '{b}' is not a URL like http://192.168.1.5:8787");
                }
            }
            if let (Some(b), Some(_)) = (&base_url, &tls_cert) {
                if b.starts_with("http://") {
                    anyhow::bail!("--base-url '{b}' starts with http://, but with --tls-cert the server speaks HTTPS only; use https://");
                }
            }
            if header_timeout == 0 || max_connections == 0 || max_per_client == 0 {
                anyhow::bail!("--header-timeout, --max-connections and --max-per-client must be at least 1");
            }
            let limits = reel_app::Limits { header_timeout: std::time::Duration::from_secs(header_timeout), max_connections, max_per_client, ..Default::default() };
            let tls = tls_cert.zip(tls_key).map(|(cert, key)| reel_app::Tls { cert, key });
            let scheme = if tls.is_some() { "https" } else { "http" };
            reel_app::serve(&lib, addr, base_url.as_deref(), limits, tls.as_ref(), |a, base| {
                if !a.ip().is_loopback() && tls.is_none() {
                    eprintln!(
                        "warning: serving on {a} over plain HTTP: other machines can reach it, and anyone on the network path can read links, passwords and videos; use --tls-cert/--tls-key for HTTPS"
                    );
                    let others: Vec<String> = reel_app::lan_addresses().iter().map(|ip| std::net::SocketAddr::new(*ip, a.port()).to_string()).collect();
                    if a.ip().is_unspecified() && !others.is_empty() {
                        eprintln!("this machine's addresses: {} (choose with --base-url)", others.join(", "));
                    }
                }
                // One line on stdout (scripts read it), written so that a reader that has gone
                // away (a closed pipe) does not end the server.
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "listening on {scheme}://{a}");
                let _ = out.flush();
                eprintln!("links: {base}/v/…");
            })
            .map_err(|e| if e.message.starts_with("cannot listen on") { anyhow::anyhow!("{} (--bind ADDRESS:PORT)", e.message) } else { e.into() })?;
        }
        ShareCmd::Share { id, password, password_file, expires, no_download, default_speed, base_url, json } => {
            let password = read_password(password, password_file.as_deref())?;
            let expires_in = expires.as_deref().map(reel_share_duration).transpose()?;
            let o = reel_app::ShareOptions { password, expires_in, no_download, default_speed };
            let explicit = base_url.is_some() || std::env::var_os("REEL_BASE_URL").is_some_and(|v| !v.is_empty());
            let base = base_url.unwrap_or_else(|| reel_app::default_base_url(&lib));
            let (s, url) = reel_app::share(&lib, &id, &o, &base)?;
            if let Some(r) = reel_app::stopped_server(&lib).filter(|r| !explicit && r.base_url == base) {
                eprintln!("note: the share server at {} (process {}) is not running; the link opens once `reel serve` (or the app) runs on that address again", r.base_url, r.pid);
            }
            if json {
                println!("{}", serde_json::json!({"url": url, "token": s.token, "id": s.id, "link": s.short_id(), "expires": s.expires, "recording": s.recording_id}));
            } else {
                println!("{url}");
                eprintln!("link id {} (for `reel unshare`; the link itself is not kept: copy it now)", s.short_id());
                if let Some(e) = s.expires {
                    eprintln!("expires {}", chrono_fmt(e));
                }
            }
        }
        ShareCmd::Unshare { id_or_token } => {
            let n = reel_app::unshare(&lib, &id_or_token)?;
            eprintln!("revoked {n} link(s)");
        }
        ShareCmd::Shares { json } => {
            let list = reel_app::shares(&lib)?;
            if json {
                let list: Vec<serde_json::Value> = list
                    .iter()
                    .map(|s| {
                        let mut v = serde_json::to_value(s).unwrap_or_default();
                        v["link"] = s.short_id().into();
                        v
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for s in list {
                    let state = if s.revoked { "revoked" } else { "active" };
                    println!("{}  {}  {}{}", s.short_id(), s.recording_id, state, if s.has_password { "  (password)" } else { "" });
                }
            }
        }
    }
    Ok(())
}

/// The link's password: from `--password-file` (`-`: stdin), or asked for on the terminal
/// (twice) with `--password`. A value given on the command line is refused: `ps` shows it to
/// every user of the machine, and the shell keeps it in its history.
fn read_password(flag: Option<String>, file: Option<&Path>) -> Result<Option<String>> {
    if let Some(f) = file {
        let text = if f == Path::new("-") {
            std::io::read_to_string(std::io::stdin()).context("cannot read the password from standard input")?
        } else {
            std::fs::read_to_string(f).with_context(|| format!("cannot read the password from {}", f.display()))?
        };
        let line = text.lines().next().unwrap_or("").to_string();
        return Ok(Some(line));
    }
    match flag {
        None => Ok(None),
        Some(v) if !v.is_empty() => {
            anyhow::bail!("a password on the command line is visible to every user of this machine (ps) and stays in your shell history; use --password alone to be asked for it, or --password-file FILE")
        }
        Some(_) => {
            use std::io::IsTerminal;
            if !std::io::stdin().is_terminal() {
                anyhow::bail!("--password asks on a terminal and there is none; use --password-file FILE (or - for standard input)");
            }
            let p = rpassword::prompt_password("Password for the link: ").context("cannot read the password")?;
            reel_app::check_new_password(&p)?;
            let again = rpassword::prompt_password("The same again: ").context("cannot read the password")?;
            if p != again {
                anyhow::bail!("the two passwords differ; nothing was shared");
            }
            Ok(Some(p))
        }
    }
}

fn reel_share_duration(s: &str) -> Result<std::time::Duration> {
    Ok(reel_app::parse_duration(s)?)
}

fn chrono_fmt(unix: i64) -> String {
    reel_app::format_time(unix)
}
