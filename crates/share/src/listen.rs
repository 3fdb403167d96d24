//! The share server's own accept loop: what a server on the open network needs and
//! `axum::serve` does not give — a deadline for request headers (which also ends idle
//! keep-alive connections), and caps on connections in all and per client address, so that a
//! flood of idle or half-sent connections (slowloris) cannot starve real viewers.
//!
//! ```text
//!  accept ─> over the global cap or the client's cap? ─ yes ─> closed at once (counted)
//!                 │ no
//!                 └─> hyper HTTP/1 connection: headers within `header_timeout`, also between
//!                     requests of a kept-alive connection (hyper runs the same timer while it
//!                     waits for the next request head); a socket that makes no progress
//!                     reading or writing for `io_timeout` is closed (a body trickled in a byte
//!                     at a time, a response never read) ─> the router
//! ```
//! With a certificate ([`tls_acceptor`]) each connection is TLS (rustls), its handshake held
//! to the header deadline too.
//! Clients are counted by address, IPv6 ones by their /64 (one host can hold a whole /64).
//! Accept errors (EMFILE when out of file descriptors) pause the loop for a moment instead of
//! spinning; the soft limit on open files is raised to the hard one at start.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
pub use tokio_rustls::TlsAcceptor;

use crate::ShareError;

/// A TLS acceptor from a PEM certificate chain and private key (what certbot, mkcert or a
/// company CA hand out), for `reel serve --tls-cert/--tls-key`.
pub fn tls_acceptor(cert: &std::path::Path, key: &std::path::Path) -> Result<TlsAcceptor, ShareError> {
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |what: &std::path::Path, e: String| {
        if what.is_file() {
            ShareError::Invalid(format!("{}: {e}; give a PEM file (-----BEGIN …-----)", what.display()))
        } else {
            ShareError::Invalid(format!("{}: no such file", what.display()))
        }
    };
    let chain = CertificateDer::pem_file_iter(cert).map_err(|e| bad(cert, e.to_string()))?.collect::<Result<Vec<_>, _>>().map_err(|e| bad(cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(bad(cert, "no certificate in it".into()));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(key, format!("no private key read ({e})")))?;
    let mut config = tokio_rustls::rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| ShareError::Invalid(format!("{} and {} do not make a usable certificate: {e}", cert.display(), key.display())))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The client's address, as an extension on every request (password failures are counted per
/// client).
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub IpAddr);

/// Connection limits of a server on the open network.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// A request's headers must arrive within this; a kept-alive connection waiting longer for
    /// its next request is closed.
    pub header_timeout: Duration,
    /// Open connections in all.
    pub max_connections: usize,
    /// Open connections from one client address. A browser opens about six; 200 viewers behind
    /// one office NAT open more, hence the margin.
    pub max_per_client: usize,
    /// A socket with no progress in either direction for this long is closed.
    pub io_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { header_timeout: Duration::from_secs(10), max_connections: 4096, max_per_client: 256, io_timeout: Duration::from_secs(30) }
    }
}

/// The key a client is counted under: its address, or for IPv6 its /64.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// Connections refused by a cap since start (for logs and tests).
#[derive(Default)]
pub struct Counters {
    pub refused: AtomicU64,
    pub accepted: AtomicU64,
}

struct Open {
    total: usize,
    per_client: HashMap<IpAddr, usize>,
}

/// One connection's place under the caps, given back when it closes.
struct Slot {
    open: Arc<Mutex<Open>>,
    ip: IpAddr,
}

impl Slot {
    fn take(open: &Arc<Mutex<Open>>, ip: IpAddr, limits: &Limits) -> Option<Slot> {
        let mut o = open.lock().unwrap_or_else(|p| p.into_inner());
        let mine = o.per_client.get(&ip).copied().unwrap_or(0);
        if o.total >= limits.max_connections || mine >= limits.max_per_client {
            return None;
        }
        o.total += 1;
        o.per_client.insert(ip, mine + 1);
        Some(Slot { open: open.clone(), ip })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut o = self.open.lock().unwrap_or_else(|p| p.into_inner());
        o.total = o.total.saturating_sub(1);
        if let Some(n) = o.per_client.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                o.per_client.remove(&self.ip);
            }
        }
    }
}

/// Lets this process open as many files (sockets) as the system allows it, and returns that
/// number (`None`: unknown).
pub fn raise_open_files() -> Option<usize> {
    // SAFETY: getrlimit/setrlimit only read and write the struct passed to them.
    unsafe {
        let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            return None;
        }
        if r.rlim_cur < r.rlim_max {
            r.rlim_cur = r.rlim_max;
            let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &r);
            let _ = libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
        }
        usize::try_from(r.rlim_cur).ok()
    }
}

/// One connection: HTTP/1 with the header deadline (keep-alive included) over `io`.
async fn serve_io<I, S>(io: I, service: S, limits: Limits)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<axum::http::Request<hyper::body::Incoming>, Response = axum::response::Response> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).max_buf_size(64 * 1024);
    let _ = http.serve_connection(TokioIo::new(io), service).await;
}

/// Serves `app` on `listener` until `shutdown` completes; over TLS when `tls` is given.
pub async fn serve(listener: TcpListener, app: Router, mut limits: Limits, counters: Arc<Counters>, tls: Option<TlsAcceptor>, shutdown: impl Future<Output = ()>) {
    // Never more connections than files the process may open, with a reserve for the media
    // files and databases the requests need (else a flood turns into 404s for everyone).
    if let Some(files) = raise_open_files() {
        limits.max_connections = limits.max_connections.min(files.saturating_sub(128).max(16));
    }
    let open = Arc::new(Mutex::new(Open { total: 0, per_client: HashMap::new() }));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(_) => {
                    // Out of descriptors or a connection reset before accept: wait a little
                    // rather than spin; the header deadline frees descriptors.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let ip = client_key(peer.ip());
        let Some(slot) = Slot::take(&open, ip, &limits) else {
            counters.refused.fetch_add(1, Ordering::Relaxed);
            drop(stream);
            continue;
        };
        counters.accepted.fetch_add(1, Ordering::Relaxed);
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(tower::ServiceExt::map_request(app.clone(), move |mut r: axum::http::Request<hyper::body::Incoming>| {
            r.extensions_mut().insert(ClientAddr(ip));
            r
        }));
        let tls = tls.clone();
        tokio::spawn(async move {
            let mut io = tokio_io_timeout::TimeoutStream::new(stream);
            io.set_read_timeout(Some(limits.io_timeout));
            io.set_write_timeout(Some(limits.io_timeout));
            let io = Box::pin(io);
            match tls {
                // A handshake is held to the header deadline: a client that opens a TLS
                // connection and says nothing is a slowloris too.
                Some(tls) => {
                    if let Ok(Ok(stream)) = tokio::time::timeout(limits.header_timeout, tls.accept(io)).await {
                        serve_io(stream, service, limits).await;
                    }
                }
                None => serve_io(io, service, limits).await,
            }
            drop(slot);
        });
    }
}
