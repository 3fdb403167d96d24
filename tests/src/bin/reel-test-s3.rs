//! A real S3 server for the end-to-end tests: s3s-fs (an S3 implementation over a directory,
//! with SigV4 auth, multipart uploads and presigned URLs) served over loopback HTTP.
//! Usage: reel-test-s3 ROOT PORT ACCESS_KEY SECRET_KEY   (PORT 0 picks one)
//! Prints `listening on http://127.0.0.1:PORT` when ready. Built from the workspace's lock
//! file, so the tests need no `cargo install`; run as its own process so tests can kill it.

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [root, port, ak, sk] = args.as_slice() else {
        eprintln!("usage: reel-test-s3 ROOT PORT ACCESS_KEY SECRET_KEY");
        std::process::exit(2);
    };
    let port: u16 = port.parse().unwrap_or_else(|_| {
        eprintln!("PORT must be a number");
        std::process::exit(2)
    });
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
    let r: Result<(), String> = rt.block_on(async {
        std::fs::create_dir_all(root).map_err(|e| e.to_string())?;
        let fs = s3s_fs::FileSystem::new(root).map_err(|e| format!("{e:?}"))?;
        let mut b = s3s::service::S3ServiceBuilder::new(fs);
        b.set_auth(s3s::auth::SimpleAuth::from_single(ak.clone(), sk.clone()));
        let service = b.build();
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| e.to_string())?;
        println!("listening on http://{}", listener.local_addr().map_err(|e| e.to_string())?);
        let _ = std::io::stdout().flush();
        loop {
            let Ok((sock, _)) = listener.accept().await else { continue };
            let svc = service.clone();
            tokio::spawn(async move {
                let _ = ConnBuilder::new(TokioExecutor::new()).serve_connection(TokioIo::new(sock), svc).await;
            });
        }
    });
    if let Err(e) = r {
        eprintln!("reel-test-s3: {e}");
        std::process::exit(1);
    }
}
