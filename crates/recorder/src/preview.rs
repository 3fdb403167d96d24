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
            // A live device frame: open it briefly.
            let (i, n) = match camera {
                CameraSpec::Index(i) => (Some(*i), None),
                CameraSpec::Name(n) => (None, Some(n.as_str())),
                _ => (None, None),
            };
            let cam = reel_capture::camera::resolve(i, n)?;
            return Err(RecordError::Pipeline(format!("preview of camera '{}' is shown live in the app; use --camera synthetic here", cam.name)));
        }
    };
    let stage_frame = match stage {
        StageSpec::None => None,
        StageSpec::Slides(deck) => {
            let s = deck.slides.get(slide).ok_or_else(|| RecordError::Pipeline(format!("slide {} is out of range: the deck has {} slides", slide + 1, deck.len())))?;
            Some(VideoFrame { ts: at, width: deck.size.width, height: deck.size.height, data: s.pixels.clone() })
        }
        StageSpec::Screen { display, region } => match VideoFileReader::open_screen(display, 30, *region)?.next() {
            Some(f) => Some(f?),
            None => None,
        },
    };
    Ok(c.compose(scene, stage_frame.as_ref(), presenter.as_ref(), at))
}
