//! What a camera offers and which of it Reel streams.
//!
//! A webcam offers a list of modes (pixel format × size × frame rate), and which ones exist has
//! nothing to do with the size being recorded: a 720p camera under a 1080p recording, a
//! 640x480 one under 480p (854x480), a camera that sends 720p only as MJPEG at 30 fps and as
//! raw YUYV at 10. Asking for the output size exactly fails on most of them, so Reel picks from
//! the list instead, and the compositor scales:
//!
//! 1. a mode at least the output's size at least at the frame rate, the cheapest to decode
//!    (raw YUYV/NV12 converts ~2.7x faster than MJPEG decodes, per pixel; among equals the
//!    smaller size and the rate nearest the one asked for);
//! 2. else the largest that still holds the frame rate (a sharp picture at the wrong rate
//!    stutters; a smaller one is merely softer);
//! 3. else anything that streams: the highest rate, then the largest size.
//!
//! Grey-only modes are taken only when there is nothing in colour.

use reel_media::{Fps, Size};

/// A camera pixel format Reel can convert to RGBA.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PixelFormat {
    Mjpeg,
    Yuyv,
    Nv12,
    Rgb,
    Bgr,
    Gray,
}

impl PixelFormat {
    /// Estimated conversion cost to RGBA in nanoseconds per pixel on one core, measured by
    /// `reel bench camera` on this project's 2-core machines in a release build (YUYV 720p
    /// 0.67 ms, 1080p 1.19 ms; MJPEG 720p 1.77 ms, 1080p 3.38 ms with zune-jpeg). NV12, RGB and
    /// grey are estimates from the work per pixel. Only the ratios matter.
    pub fn cost_per_pixel(self) -> f64 {
        match self {
            PixelFormat::Yuyv => 0.65,
            PixelFormat::Nv12 => 0.55,
            PixelFormat::Rgb | PixelFormat::Bgr => 0.8,
            PixelFormat::Gray => 0.6,
            PixelFormat::Mjpeg => 1.75,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PixelFormat::Mjpeg => "MJPEG",
            PixelFormat::Yuyv => "YUYV",
            PixelFormat::Nv12 => "NV12",
            PixelFormat::Rgb => "RGB",
            PixelFormat::Bgr => "BGR",
            PixelFormat::Gray => "GRAY",
        }
    }
}

/// One way a camera can stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Mode {
    pub format: PixelFormat,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
}

impl Mode {
    fn pixels(&self) -> u64 {
        self.width as u64 * self.height as u64
    }

    fn covers(&self, want: Size) -> bool {
        self.width >= want.width && self.height >= want.height
    }

    /// Conversion cost of one frame, in the units of [`PixelFormat::cost_per_pixel`].
    fn cost(&self) -> f64 {
        self.pixels() as f64 * self.format.cost_per_pixel()
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}x{} at {} fps", self.format.name(), self.width, self.height, self.fps)
    }
}

/// The mode to stream for an output of `want` at `fps` (see the module docs), or `None` when
/// the camera offers nothing at all.
pub fn pick(modes: &[Mode], want: Size, fps: Fps) -> Option<Mode> {
    // Odd sides have no whole chroma pairs (YUYV, NV12); such modes exist only among the
    // stepwise sizes some drivers list, next to even ones.
    let usable: Vec<Mode> = modes.iter().copied().filter(|m| m.width >= 2 && m.height >= 2 && m.width.is_multiple_of(2) && m.height.is_multiple_of(2)).collect();
    let colour: Vec<Mode> = usable.iter().copied().filter(|m| m.format != PixelFormat::Gray).collect();
    let modes: Vec<Mode> = if colour.is_empty() { usable } else { colour };
    let fps = fps.get();
    let rate_gap = |m: &Mode| m.fps.abs_diff(fps);
    // 1. Big enough and fast enough: the cheapest to convert.
    let good = modes.iter().filter(|m| m.covers(want) && m.fps >= fps);
    if let Some(m) = good.min_by(|a, b| a.cost().total_cmp(&b.cost()).then(rate_gap(a).cmp(&rate_gap(b)))) {
        return Some(*m);
    }
    // 2. Fast enough: the largest, then the cheapest.
    let fast = modes.iter().filter(|m| m.fps >= fps);
    if let Some(m) = fast.max_by(|a, b| a.pixels().cmp(&b.pixels()).then(b.cost().total_cmp(&a.cost())).then(rate_gap(b).cmp(&rate_gap(a)))) {
        return Some(*m);
    }
    // 3. Anything: the highest rate, then the largest, then the cheapest.
    modes.iter().copied().max_by(|a, b| a.fps.cmp(&b.fps).then(a.pixels().cmp(&b.pixels())).then(b.cost().total_cmp(&a.cost())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use PixelFormat::*;

    fn m(format: PixelFormat, width: u32, height: u32, fps: u32) -> Mode {
        Mode { format, width, height, fps }
    }
    fn size(w: u32, h: u32) -> Size {
        Size::new(w, h).expect("size")
    }
    fn fps(n: u32) -> Fps {
        Fps::new(n).expect("fps")
    }

    /// A typical USB 2 webcam: raw YUYV is slow above VGA, MJPEG holds 30 fps everywhere.
    fn webcam() -> Vec<Mode> {
        vec![m(Yuyv, 640, 480, 30), m(Yuyv, 1280, 720, 10), m(Yuyv, 1920, 1080, 5), m(Mjpeg, 640, 480, 30), m(Mjpeg, 1280, 720, 30), m(Mjpeg, 1920, 1080, 30)]
    }

    #[test]
    fn big_enough_and_fast_enough_cheapest_first() {
        assert_eq!(pick(&webcam(), size(1280, 720), fps(30)), Some(m(Mjpeg, 1280, 720, 30)));
        assert_eq!(pick(&webcam(), size(1920, 1080), fps(30)), Some(m(Mjpeg, 1920, 1080, 30)));
        // Raw beats MJPEG at the same size.
        assert_eq!(pick(&webcam(), size(640, 360), fps(30)), Some(m(Yuyv, 640, 480, 30)));
        // At 10 fps the raw 720p mode holds the rate and is cheaper than MJPEG.
        assert_eq!(pick(&webcam(), size(1280, 720), fps(10)), Some(m(Yuyv, 1280, 720, 10)));
    }

    #[test]
    fn no_exact_size_is_never_a_failure() {
        // 480p (854x480) from a 640x480-only camera: the largest that holds the rate.
        let vga = vec![m(Yuyv, 320, 240, 30), m(Yuyv, 640, 480, 30)];
        assert_eq!(pick(&vga, size(854, 480), fps(30)), Some(m(Yuyv, 640, 480, 30)));
        // 1080p from a 720p camera.
        let hd = vec![m(Mjpeg, 1280, 720, 30), m(Yuyv, 1280, 720, 10)];
        assert_eq!(pick(&hd, size(1920, 1080), fps(30)), Some(m(Mjpeg, 1280, 720, 30)));
    }

    #[test]
    fn too_slow_everywhere_takes_the_fastest() {
        let slow = vec![m(Yuyv, 1280, 720, 10), m(Yuyv, 640, 480, 15), m(Yuyv, 320, 240, 15)];
        assert_eq!(pick(&slow, size(1280, 720), fps(30)), Some(m(Yuyv, 640, 480, 15)));
    }

    #[test]
    fn the_rate_nearest_the_one_asked_for() {
        let both = vec![m(Yuyv, 640, 480, 60), m(Yuyv, 640, 480, 30)];
        assert_eq!(pick(&both, size(640, 480), fps(30)), Some(m(Yuyv, 640, 480, 30)));
    }

    #[test]
    fn grey_only_when_nothing_else() {
        let ir = vec![m(Gray, 1920, 1080, 30), m(Mjpeg, 640, 480, 30)];
        assert_eq!(pick(&ir, size(1280, 720), fps(30)), Some(m(Mjpeg, 640, 480, 30)));
        assert_eq!(pick(&[m(Gray, 640, 360, 30)], size(1280, 720), fps(30)), Some(m(Gray, 640, 360, 30)));
        assert_eq!(pick(&[], size(1280, 720), fps(30)), None);
        assert_eq!(pick(&[m(Yuyv, 641, 480, 30), m(Yuyv, 320, 240, 30)], size(640, 480), fps(30)), Some(m(Yuyv, 320, 240, 30)), "odd widths are never picked");
    }
}
