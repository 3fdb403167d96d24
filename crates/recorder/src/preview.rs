//! One composed frame, exactly as it would be recorded: for thumbnails, the app's layout picker
//! and `reel preview`.

use std::time::Duration;

use reel_capture::synthetic::Pattern;
use reel_capture::CameraSpec;
use reel_codec::decode::VideoFileReader;
use reel_compose::{Compositor, Scene};
use reel_media::{Size, VideoFrame};

use crate::stage::StageSpec;
use crate::RecordError;

/// What a live camera shows now: its newest frame, or, while it is unplugged, that frame
/// dimmed under "Camera disconnected" (as the recording shows it). Waits up to 3 s for a first
/// frame from a camera that was just opened.
pub fn camera_frame(dev: &reel_capture::camera::CameraDevice, at: Duration) -> Result<VideoFrame, RecordError> {
    let latest = dev.wait_latest(Duration::from_secs(3));
    let down = matches!(dev.status(), reel_capture::camera::CameraStatus::Disconnected { .. });
    match (latest, down) {
        (Some(f), false) => Ok(VideoFrame { ts: at, ..f }),
        (last, _) => {
            let (s, px) = reel_compose::text::camera_lost_card(last.as_ref().map(|f| (f.data.as_slice(), f.size())));
            Ok(VideoFrame { ts: at, width: s.width, height: s.height, data: std::sync::Arc::new(px) })
        }
    }
}

/// Renders the canvas at media time `at` with slide `slide` (0-based) on the stage.
pub fn render(camera: &CameraSpec, size: Size, scene: &Scene, stage: &StageSpec, slide: usize, at: Duration) -> Result<VideoFrame, RecordError> {
    let mut c = Compositor::new(size);
    if let Some(p) = &scene.background_image {
        c.set_backdrop(Some(Compositor::load_backdrop(p, size)?));
    }
    render_on(&mut c, camera, scene, stage, slide, at)
}

/// As [`render`], with a compositor the caller keeps (and whose size and background picture it
/// set): the app's live preview composes at the size it shows, and its caches (the slide scaled
/// to that size, the bubble's mask) last from one frame to the next.
pub fn render_on(c: &mut Compositor, camera: &CameraSpec, scene: &Scene, stage: &StageSpec, slide: usize, at: Duration) -> Result<VideoFrame, RecordError> {
    let size = c.size();
    let presenter = match camera {
        CameraSpec::None => None,
        CameraSpec::Synthetic => {
            let mut data = vec![0u8; size.pixels() * 4];
            let fps = 30u64;
            let n = (at.as_secs_f64() * fps as f64) as u64;
            Pattern::new(size).draw(n, at, &mut data);
            Some(VideoFrame { ts: at, width: size.width, height: size.height, data: std::sync::Arc::new(data) })
        }
        CameraSpec::File(p) => match VideoFileReader::open(p, None)?.next() {
            Some(f) => Some(f?),
            None => return Err(RecordError::Pipeline(format!("{} has no frames", p.display()))),
        },
        CameraSpec::Index(_) | CameraSpec::Name(_) => {
            // The live camera's newest frame, from the shared device: the one the app's
            // preview keeps open, or opened here for this one frame (`reel preview`).
            let dev = match reel_capture::camera::find_open(camera) {
                Some(d) => d,
                None => reel_capture::camera::open(camera, size, reel_media::Fps::new(30).map_err(|e| RecordError::Pipeline(e.to_string()))?)?,
            };
            Some(camera_frame(&dev, at)?)
        }
    };
    let stage_frame = match stage {
        StageSpec::None => None,
        StageSpec::Slides(deck) => {
            let px = deck.slide(slide)?;
            Some(VideoFrame { ts: at, width: deck.size.width, height: deck.size.height, data: px })
        }
        StageSpec::Screen { display, region } => match VideoFileReader::open_screen(display, 30, *region)?.next() {
            Some(f) => Some(f?),
            None => None,
        },
    };
    Ok(c.compose(scene, stage_frame.as_ref(), presenter.as_ref(), at))
}
