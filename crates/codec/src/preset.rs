//! Encoder presets are data: one row per picture size, chosen so that live recording keeps real
//! time on a 2-core machine with room left for capture and compositing.
//!
//! Measured on this project's 2-core machines (whole pipeline incl. swscale, AAC and mux,
//! worst-case content where every pixel changes): 720p `veryfast` 38–41 fps, `ultrafast`
//! 111 fps; 1080p `veryfast` only 17 fps, `ultrafast` 60 fps. So up to 720p we can afford
//! `veryfast`, above it only `ultrafast` leaves headroom for 30 fps. Offline work (exports,
//! renders) has no real-time bound and uses [`Preset::offline`].

use reel_media::Size;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Preset {
    /// libx264 preset name.
    pub x264: &'static str,
    /// Constant rate factor (lower is better quality, larger files).
    pub crf: u8,
}

/// Live presets by the largest picture (in pixels) they apply to, smallest first.
pub const LIVE: &[(usize, Preset)] = &[(1280 * 720, Preset { x264: "veryfast", crf: 23 }), (usize::MAX, Preset { x264: "ultrafast", crf: 23 })];

impl Preset {
    /// The preset for recording `size` live.
    pub fn live(size: Size) -> Preset {
        let px = size.pixels();
        LIVE.iter().find(|(max, _)| px <= *max).map(|(_, p)| *p).unwrap_or(LIVE[LIVE.len() - 1].1)
    }

    /// For work with no real-time bound.
    pub fn offline() -> Preset {
        Preset { x264: "veryfast", crf: 21 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_by_size() {
        assert_eq!(Preset::live(Size::new(1280, 720).unwrap()).x264, "veryfast");
        assert_eq!(Preset::live(Size::new(640, 360).unwrap()).x264, "veryfast");
        assert_eq!(Preset::live(Size::new(1920, 1080).unwrap()).x264, "ultrafast");
    }
}
