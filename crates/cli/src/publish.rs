//! `reel publish`, `reel unpublish`, and the storage options `reel record --publish` shares.

use anyhow::{bail, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

/// Where and how to publish (shared by `reel publish` and `reel record --publish`).
#[derive(Args, Clone, Debug, Default)]
pub struct StorageArgs {
    /// An S3-compatible server (default: $AWS_ENDPOINT_URL, else AWS).
    #[arg(long)]
    pub endpoint: Option<String>,
    /// The bucket's region (default: $AWS_REGION, else us-east-1).
    #[arg(long)]
    pub region: Option<String>,
    /// How long the presigned link works: 7d (the most S3 allows), 12h, 30m…
    #[arg(long)]
    pub expires: Option<String>,
    /// A CDN or public bucket address in front of the target: plain links that do not expire.
    #[arg(long)]
    pub public_base_url: Option<String>,
    /// Upload at most this many bytes per second (10M, 500K).
    #[arg(long)]
    pub max_rate: Option<String>,
}

impl StorageArgs {
    pub fn options(&self, default_speed: Option<f64>) -> Result<reel_app::PublishOptions> {
        Ok(reel_app::PublishOptions {
            expires: self.expires.as_deref().map(reel_app::parse_duration).transpose()?,
            public_base_url: self.public_base_url.clone(),
            max_rate: self.max_rate.as_deref().map(parse_rate).transpose()?,
            default_speed,
        })
    }

    pub fn connect(&self, target: &str) -> Result<reel_app::Storage> {
        Ok(reel_app::connect_storage(target, self.endpoint.as_deref(), self.region.as_deref())?)
    }
}

/// `reel record --publish s3://…` and its options (prefixed: `--region` there is the screen's).
#[derive(Args, Clone, Debug, Default)]
pub struct RecordPublishArgs {
    /// Upload while recording to s3://BUCKET/PREFIX: the link is ready moments after stop.
    #[arg(long)]
    pub publish: Option<String>,
    #[arg(long, requires = "publish")]
    pub publish_endpoint: Option<String>,
    #[arg(long, requires = "publish")]
    pub publish_region: Option<String>,
    #[arg(long, requires = "publish")]
    pub publish_expires: Option<String>,
    #[arg(long, requires = "publish")]
    pub public_base_url: Option<String>,
}

impl RecordPublishArgs {
    pub fn storage(&self) -> StorageArgs {
        StorageArgs {
            endpoint: self.publish_endpoint.clone(),
            region: self.publish_region.clone(),
            expires: self.publish_expires.clone(),
            public_base_url: self.public_base_url.clone(),
            max_rate: None,
        }
    }
}

/// `10M`, `500K`, `1G` or plain bytes, per second.
pub fn parse_rate(s: &str) -> Result<u64> {
    let t = s.trim();
    let (num, mult) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 1u64 << 10),
        Some('M') => (&t[..t.len() - 1], 1 << 20),
        Some('G') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    match num.trim().parse::<f64>() {
        Ok(n) if n.is_finite() && n * mult as f64 >= 64.0 * 1024.0 => Ok((n * mult as f64) as u64),
        _ => bail!("--max-rate '{s}' is not a rate like 10M or 500K (bytes per second, at least 64K)"),
    }
}

pub fn publish(lib: &reel_app::Library, id: &str, to: &str, storage: &StorageArgs, default_speed: Option<f64>, json: bool) -> Result<()> {
    let o = storage.options(default_speed)?;
    let client = storage.connect(to)?;
    let bar = ProgressBar::new(1000)
        .with_style(ProgressStyle::with_template("uploading [{bar:30}] {percent}% {eta}").unwrap_or_else(|_| ProgressStyle::default_bar()).progress_chars("=> "));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        let stop = stop.clone();
        let _ = ctrlc::set_handler(move || stop.store(true, std::sync::atomic::Ordering::SeqCst));
    }
    let t0 = std::time::Instant::now();
    let r = reel_app::publish(lib, id, &client, &o, &mut |x| {
        bar.set_position((x * 1000.0) as u64);
        !stop.load(std::sync::atomic::Ordering::SeqCst)
    });
    bar.finish_and_clear();
    let p = r?;
    let secs = t0.elapsed().as_secs_f64();
    if json {
        println!(
            "{}",
            serde_json::json!({"url": p.url, "publication": p.id, "target": p.target.to_string(), "expires": p.expires, "objects": p.objects, "bytes": p.bytes, "resumed_parts": p.resumed_parts, "seconds": secs})
        );
    } else {
        println!("{}", p.url);
        eprintln!("published {} objects to {} ({:.1} MB in {secs:.1} s)", p.objects.len(), p.target, p.bytes as f64 / 1e6);
        if let Some(e) = p.expires {
            eprintln!("the link expires {}", reel_app::format_time(e));
        }
    }
    Ok(())
}

pub fn unpublish(lib: &reel_app::Library, id: &str, only: Option<&str>) -> Result<()> {
    let n = reel_app::unpublish(lib, id, only)?;
    eprintln!("deleted {n} object(s)");
    Ok(())
}
