//! `reel`: the command line. Every command is a thin shell over `reel_app`.

mod bench;
mod bench_camera;
mod bench_durable;
mod bench_serve;
mod bench_stop;
mod bench_transcribe;
mod library;
mod publish;
mod record;
mod scene_args;
mod share;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "reel", version, about = "Record async video messages: camera + mic, encoded to MP4, never lost.")]
struct Cli {
    /// The library folder (default: $REEL_LIBRARY, else the platform data folder).
    #[arg(long, global = true)]
    library: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Cmd,
}

// Parsed once per run: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Cmd {
    /// List cameras (with the modes they offer and the one Reel would use) and microphones.
    Devices {
        #[arg(long)]
        json: bool,
        /// The output size to pick camera modes for.
        #[arg(long, default_value = "720p")]
        size: reel_app::Size,
        #[arg(long, default_value_t = 30)]
        fps: u32,
    },
    /// Record camera and microphone to an MP4.
    Record(record::RecordArgs),
    /// Finish interrupted recordings (after a crash or kill) into final MP4s.
    Recover {
        /// The partial file, or the output the recording was meant for.
        path: Option<PathBuf>,
        /// Every interrupted recording.
        #[arg(long, conflicts_with = "path")]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Render one composed frame (layout, slides, camera) to a PNG or JPEG.
    Preview(PreviewArgs),
    /// Benchmarks that print figures (live pacing, encode throughput, compositing, search).
    Bench(bench::BenchArgs),
    /// Publish a recording to S3-compatible storage and print its link.
    Publish {
        id: String,
        /// s3://BUCKET/PREFIX
        #[arg(long)]
        to: String,
        #[command(flatten)]
        storage: publish::StorageArgs,
        /// The speed the player starts at.
        #[arg(long)]
        default_speed: Option<f64>,
        #[arg(long)]
        json: bool,
    },
    /// Delete a recording's published objects from storage.
    Unpublish {
        id: String,
        /// Only this publication (default: all of the recording's).
        #[arg(long, allow_hyphen_values = true)]
        publication: Option<String>,
    },
    #[command(flatten)]
    Lib(library::LibCmd),
    #[command(flatten)]
    Share(share::ShareCmd),
}

#[derive(clap::Args)]
struct PreviewArgs {
    #[arg(long, default_value = "synthetic")]
    camera: reel_app::CameraSpec,
    #[arg(long, default_value = "1280x720")]
    size: String,
    /// Which slide (1-based).
    #[arg(long, default_value = "1")]
    slide: usize,
    /// Media time of the frame, in seconds (title card and lower third depend on it).
    #[arg(long, default_value = "0.5")]
    at: f64,
    #[arg(long, short)]
    output: PathBuf,
    #[command(flatten)]
    scene: scene_args::SceneArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.cmd {
        Cmd::Devices { json, size, fps } => devices(json, size, fps),
        Cmd::Record(a) => record::run(a, cli.library.as_deref()),
        Cmd::Recover { path, all, json } => recover(path, all, json),
        Cmd::Preview(a) => preview(a),
        Cmd::Bench(a) => bench::run(a),
        Cmd::Publish { id, to, storage, default_speed, json } => {
            reel_app::open_library(cli.library.as_deref()).map_err(anyhow::Error::from).and_then(|lib| publish::publish(&lib, &id, &to, &storage, default_speed, json))
        }
        Cmd::Unpublish { id, publication } => {
            reel_app::open_library(cli.library.as_deref()).map_err(anyhow::Error::from).and_then(|lib| publish::unpublish(&lib, &id, publication.as_deref()))
        }
        Cmd::Lib(c) => library::run(c, cli.library.as_deref()),
        Cmd::Share(c) => share::run(c, cli.library.as_deref()),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}{}", cli_hint(&e));
            ExitCode::FAILURE
        }
    }
}

/// The command line's own words for what fixes an error. Core errors name no flags (the app
/// words the same errors for its own controls), so the flags are added here, by error code.
fn cli_hint(e: &anyhow::Error) -> &'static str {
    use reel_app::ErrorCode as C;
    let code = e.chain().find_map(|c| c.downcast_ref::<reel_app::ApiError>().map(|a| a.code).or_else(|| c.downcast_ref::<reel_recorder::RecordError>().map(|r| r.code())));
    match code {
        Some(C::CameraUnavailable) => " (--camera NAME from `reel devices`, --camera synthetic for a test pattern, or --camera none)",
        Some(C::CameraBusy | C::CameraPermission) => " (--camera NAME from `reel devices`, or --camera none)",
        Some(C::MicUnavailable) => " (--mic NAME from `reel devices`, --mic tone for a test tone, or --mic none)",
        Some(C::OutputExists) => "; choose another --output",
        Some(C::DiskFull) => " with `reel recover`",
        Some(C::NeedsRecovery) => " (`reel recover --all`, or another --output)",
        Some(C::ModelMissing) => " (scripts/setup.sh, or python3 scripts/models.py; or --model with one that is installed)",
        _ => "",
    }
}

fn devices(json: bool, size: reel_app::Size, fps: u32) -> Result<()> {
    let d = reel_app::devices(size, reel_app::Fps::new(fps)?);
    if json {
        println!("{}", serde_json::to_string_pretty(&d)?);
        return Ok(());
    }
    println!("Cameras:");
    if d.cameras.is_empty() {
        println!("  (none found; use --camera synthetic for a test pattern)");
    }
    for c in &d.cameras {
        println!("  {}  {}", c.info.index, c.info.name);
        match (&c.error, &c.pick) {
            (Some(e), _) => println!("     {e}"),
            (None, Some(p)) => println!("     streams {p} for {}x{} at {fps} fps ({} modes offered; --json lists them)", size.width, size.height, c.modes.len()),
            (None, None) => println!("     offers no format Reel can read"),
        }
    }
    println!("Microphones:");
    if d.mics.is_empty() {
        println!("  (none found; use --mic tone for a test tone, or --mic none)");
    }
    for m in &d.mics {
        let note = if m.is_monitor {
            " (speaker monitor: records what plays, not a voice)"
        } else if m.is_default {
            " (default)"
        } else {
            ""
        };
        println!("  {}{note}  [{}]", m.name, m.id);
    }
    println!("Always available: --camera synthetic, --mic tone");
    Ok(())
}

fn recover(path: Option<PathBuf>, all: bool, json: bool) -> Result<()> {
    let results: Vec<Result<reel_app::Recovered, reel_app::ApiError>> = match (path, all) {
        (Some(p), _) => vec![reel_app::recover(&p)],
        (None, true) => reel_app::recover_all(),
        (None, false) => {
            let list = reel_app::interrupted_recordings();
            if list.is_empty() {
                eprintln!("No interrupted recordings.");
            }
            for s in &list {
                println!("{}  (meant for {})", s.partial.display(), s.output.display());
            }
            if !list.is_empty() {
                eprintln!("Run `reel recover --all` to finish them, or `reel recover PATH` for one.");
            }
            return Ok(());
        }
    };
    let mut failed = 0;
    let mut done = Vec::new();
    for r in results {
        match r {
            Ok(rec) => {
                if !json {
                    println!("recovered {} ({:.1} s)", rec.output.display(), rec.duration_s);
                }
                done.push(rec);
            }
            Err(e) => {
                failed += 1;
                let e = anyhow::Error::from(e);
                eprintln!("error: {e:#}{}", cli_hint(&e));
            }
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&done)?);
    }
    if done.is_empty() && failed == 0 {
        eprintln!("No interrupted recordings.");
    }
    anyhow::ensure!(failed == 0, "{failed} recording(s) could not be recovered");
    Ok(())
}

fn preview(a: PreviewArgs) -> Result<()> {
    let size: reel_app::Size = a.size.parse()?;
    let (scene, stage) = a.scene.build(size, a.camera != reel_app::CameraSpec::None)?;
    anyhow::ensure!(a.at.is_finite() && a.at >= 0.0, "--at {} is not a time in seconds", a.at);
    anyhow::ensure!(a.slide >= 1, "--slide counts from 1");
    let o = reel_app::PreviewOptions { camera: a.camera, size, scene, stage, slide: a.slide - 1, at: std::time::Duration::from_secs_f64(a.at) };
    reel_app::preview_to_file(&o, &a.output)?;
    eprintln!("wrote {}", a.output.display());
    Ok(())
}
