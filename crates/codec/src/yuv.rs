//! RGBA ↔ YUV 4:2:0 at the same size, in BT.709 limited range (what the encoder tags its stream
//! as), with yuvutils-rs's SIMD kernels. swscale does the same job, but its generic RGBA path
//! costs 14x as much here (see the Cargo.toml note); it remains for scaling and other formats.

use ffmpeg_next::frame;
use yuvutils_rs::{BufferStoreMut, YuvConversionMode, YuvPlanarImage, YuvPlanarImageMut, YuvRange, YuvStandardMatrix};

use crate::CodecError;

/// Reusable Y, U and V planes, packed (stride = width).
#[derive(Default)]
pub(crate) struct Planes {
    y: Vec<u8>,
    u: Vec<u8>,
    v: Vec<u8>,
    w: u32,
    h: u32,
}

fn invalid(what: &str, e: impl std::fmt::Display) -> CodecError {
    CodecError::Invalid { path: Default::default(), reason: format!("{what}: {e}") }
}

impl Planes {
    fn shape(&mut self, w: u32, h: u32) {
        let c = (w.div_ceil(2) * h.div_ceil(2)) as usize;
        self.y.resize((w * h) as usize, 0);
        self.u.resize(c, 0);
        self.v.resize(c, 0);
        (self.w, self.h) = (w, h);
    }

    /// Converts packed RGBA rows of `w`x`h` (full range) into these planes.
    pub fn convert_rgba(&mut self, rgba: &[u8], w: u32, h: u32) -> Result<(), CodecError> {
        self.shape(w, h);
        let cw = w.div_ceil(2);
        let mut img = YuvPlanarImageMut {
            y_plane: BufferStoreMut::Borrowed(&mut self.y),
            y_stride: w,
            u_plane: BufferStoreMut::Borrowed(&mut self.u),
            u_stride: cw,
            v_plane: BufferStoreMut::Borrowed(&mut self.v),
            v_stride: cw,
            width: w,
            height: h,
        };
        yuvutils_rs::rgba_to_yuv420(&mut img, rgba, w * 4, YuvRange::Limited, YuvStandardMatrix::Bt709, YuvConversionMode::Balanced)
            .map_err(|e| invalid("converting a frame to YUV", e))
    }

    /// Copies the planes into a YUV420P frame with their top-left corner at (`x`, `y`), both
    /// even. The caller checks that they fit.
    pub fn place(&self, dst: &mut frame::Video, x: u32, y: u32) {
        let (cw, ch) = (self.w.div_ceil(2) as usize, self.h.div_ceil(2) as usize);
        let planes: [(&[u8], usize, usize, usize, usize); 3] = [
            (&self.y, self.w as usize, self.h as usize, x as usize, y as usize),
            (&self.u, cw, ch, x as usize / 2, y as usize / 2),
            (&self.v, cw, ch, x as usize / 2, y as usize / 2),
        ];
        for (i, (src, pw, ph, px, py)) in planes.into_iter().enumerate() {
            let stride = dst.stride(i);
            let d = dst.data_mut(i);
            for r in 0..ph {
                let o = (py + r) * stride + px;
                d[o..o + pw].copy_from_slice(&src[r * pw..(r + 1) * pw]);
            }
        }
    }
}

/// A decoded YUV 4:2:0 frame into packed RGBA rows (full range); `bt709` picks the matrix, else
/// BT.601; `full` says the frame is full range (JPEG), else limited.
pub(crate) fn yuv420_to_rgba(f: &frame::Video, bt709: bool, full: bool, out: &mut [u8]) -> Result<(), CodecError> {
    let (w, h) = (f.width(), f.height());
    let img = YuvPlanarImage {
        y_plane: f.data(0),
        y_stride: f.stride(0) as u32,
        u_plane: f.data(1),
        u_stride: f.stride(1) as u32,
        v_plane: f.data(2),
        v_stride: f.stride(2) as u32,
        width: w,
        height: h,
    };
    let matrix = if bt709 { YuvStandardMatrix::Bt709 } else { YuvStandardMatrix::Bt601 };
    let range = if full { YuvRange::Full } else { YuvRange::Limited };
    yuvutils_rs::yuv420_to_rgba(&img, out, w * 4, range, matrix).map_err(|e| invalid("converting a decoded frame to RGBA", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ffmpeg_next::{format::Pixel, software::scaling};

    /// Colours from all over the cube, in gradients: chroma is subsampled, and how the two
    /// converters filter it differs only where colour changes within a few pixels.
    fn test_rgba(w: u32, h: u32) -> Vec<u8> {
        (0..w * h)
            .flat_map(|i| {
                let (x, y) = (i % w, i / w);
                [(x * 255 / w) as u8, (y * 255 / h) as u8, ((w - x + y) * 255 / (w + h)) as u8, 255]
            })
            .collect()
    }

    fn sws(from: Pixel, to: Pixel, w: u32, h: u32, rgb_to_yuv: bool) -> scaling::Context {
        crate::init();
        let mut c = scaling::Context::get(from, w, h, to, w, h, scaling::Flags::BILINEAR | scaling::Flags::ACCURATE_RND).unwrap();
        crate::set_colorspace(&mut c, rgb_to_yuv, true, false);
        c
    }

    fn max_diff(a: &[u8], b: &[u8]) -> u8 {
        assert_eq!(a.len(), b.len());
        a.iter().zip(b).map(|(x, y)| x.abs_diff(*y)).max().unwrap_or(0)
    }

    /// The fast path must give the colours swscale (the reference ffmpeg users get) gives.
    #[test]
    fn rgba_to_yuv_agrees_with_swscale() {
        let (w, h) = (96, 64);
        let rgba = test_rgba(w, h);
        let mut p = Planes::default();
        p.convert_rgba(&rgba, w, h).unwrap();
        let mut ours = frame::Video::new(Pixel::YUV420P, w, h);
        p.place(&mut ours, 0, 0);

        let mut src = frame::Video::new(Pixel::RGBA, w, h);
        let stride = src.stride(0);
        for (y, row) in rgba.chunks_exact(w as usize * 4).enumerate() {
            src.data_mut(0)[y * stride..y * stride + row.len()].copy_from_slice(row);
        }
        let mut theirs = frame::Video::new(Pixel::YUV420P, w, h);
        sws(Pixel::RGBA, Pixel::YUV420P, w, h, true).run(&src, &mut theirs).unwrap();
        for (i, pw, ph) in [(0, w, h), (1, w / 2, h / 2), (2, w / 2, h / 2)] {
            for y in 0..ph as usize {
                let a = &ours.data(i)[y * ours.stride(i)..][..pw as usize];
                let b = &theirs.data(i)[y * theirs.stride(i)..][..pw as usize];
                let d = max_diff(a, b);
                assert!(d <= 2, "plane {i} row {y}: differs from swscale by {d}");
            }
        }
        // And a flat colour lands exactly where BT.709 limited range puts it.
        let white = vec![255u8; (w * h * 4) as usize];
        p.convert_rgba(&white, w, h).unwrap();
        assert!(p.y.iter().all(|&v| v.abs_diff(235) <= 1) && p.u.iter().all(|&v| v.abs_diff(128) <= 1), "white is Y 235, U 128");
    }

    /// Decoding what was encoded gives the original colours back (matrix and range are the
    /// same both ways), at least as closely as swscale does.
    #[test]
    fn yuv_to_rgba_round_trips() {
        let (w, h) = (96, 64);
        let rgba = test_rgba(w, h);
        let mut p = Planes::default();
        p.convert_rgba(&rgba, w, h).unwrap();
        let mut yuv = frame::Video::new(Pixel::YUV420P, w, h);
        p.place(&mut yuv, 0, 0);
        let mut ours = vec![0u8; (w * h * 4) as usize];
        yuv420_to_rgba(&yuv, true, false, &mut ours).unwrap();
        let mut theirs = frame::Video::new(Pixel::RGBA, w, h);
        sws(Pixel::YUV420P, Pixel::RGBA, w, h, false).run(&yuv, &mut theirs).unwrap();
        let (mut worst_ours, mut worst_theirs) = (0, 0);
        for y in 0..h as usize {
            let orig = &rgba[y * w as usize * 4..][..w as usize * 4];
            worst_ours = worst_ours.max(max_diff(&ours[y * w as usize * 4..][..w as usize * 4], orig));
            worst_theirs = worst_theirs.max(max_diff(&theirs.data(0)[y * theirs.stride(0)..][..w as usize * 4], orig));
        }
        // 4:2:0 loses some colour on the steepest gradients; a wrong matrix or range is 10+ off.
        assert!(worst_ours <= 6 && worst_ours <= worst_theirs, "round trip off by {worst_ours} (swscale: {worst_theirs})");
    }
}
