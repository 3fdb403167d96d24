//! The compositor: pure and synchronous. A scene plus the latest input frames give one canvas of
//! the output size.
//!
//! Per-frame work is copying and blending only. Buffers come from a small pool and go back to
//! it once the encoder has dropped them, so steady-state composing allocates nothing; resizing
//! (SIMD, fast_image_resize) happens only when an input is not already the size it is drawn at.
//!
//! Layouts today: `camera` (the presenter fills the canvas, aspect kept, letterboxed on the
//! background colour). Slides, screen and the bubble/side/pip layouts build on this.

use std::sync::Arc;
use std::time::Duration;

use fast_image_resize as fr;
use reel_media::{Size, VideoFrame};

/// How one input is fitted into a rectangle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

/// The largest rectangle of aspect `src` that fits in `dst`, centred.
pub fn fit(src: Size, dst: Size) -> Rect {
    let (sw, sh, dw, dh) = (src.width as u64, src.height as u64, dst.width as u64, dst.height as u64);
    let (w, h) = if sw * dh > sh * dw { (dw, (sh * dw / sw).max(1)) } else { ((sw * dh / sh).max(1), dh) };
    Rect { x: ((dw - w) / 2) as u32, y: ((dh - h) / 2) as u32, w: w as u32, h: h as u32 }
}

pub struct Compositor {
    size: Size,
    background: [u8; 4],
    pool: Vec<Arc<Vec<u8>>>,
    resizer: fr::Resizer,
    scratch: Option<fr::images::Image<'static>>,
}

impl Compositor {
    pub fn new(size: Size, background: [u8; 4]) -> Self {
        Self { size, background, pool: Vec::new(), resizer: fr::Resizer::new(), scratch: None }
    }

    pub fn size(&self) -> Size {
        self.size
    }

    /// Index of a pool buffer that nobody else holds any more, adding one while the pool is
    /// still filling up (the encoder holds a few frames in flight).
    fn free_slot(&mut self) -> usize {
        if let Some(i) = self.pool.iter().position(|b| Arc::strong_count(b) == 1) {
            return i;
        }
        self.pool.push(Arc::new(vec![0u8; self.size.pixels() * 4]));
        self.pool.len() - 1
    }

    /// Composes the canvas for media time `ts` from the latest presenter frame.
    pub fn compose(&mut self, presenter: Option<&VideoFrame>, ts: Duration) -> VideoFrame {
        let size = self.size;
        // Fast path: a presenter already at the output size is the canvas.
        if let Some(p) = presenter {
            if p.size() == size {
                return VideoFrame { ts, ..p.clone() };
            }
        }
        let i = self.free_slot();
        let Self { pool, resizer, scratch, background, .. } = self;
        // `free_slot` only returns buffers with no other holder, so this is never a copy.
        let data = Arc::make_mut(&mut pool[i]);
        fill(data, *background);
        if let Some(p) = presenter {
            draw_scaled(resizer, scratch, data, size, p, fit(p.size(), size));
        }
        let buf = pool[i].clone();
        if pool.len() > 16 {
            // Something holds on to frames for long; do not let the pool grow without bound.
            pool.swap_remove(i);
        }
        VideoFrame { ts, width: size.width, height: size.height, data: buf }
    }
}

fn draw_scaled(
    resizer: &mut fr::Resizer,
    scratch: &mut Option<fr::images::Image<'static>>,
    canvas: &mut [u8],
    size: Size,
    src: &VideoFrame,
    r: Rect,
) {
    let cw = size.width as usize;
    let Ok(src_img) = fr::images::ImageRef::new(src.width, src.height, &src.data, fr::PixelType::U8x4) else { return };
    let scratch = match scratch {
        Some(s) if s.width() == r.w && s.height() == r.h => s,
        _ => scratch.insert(fr::images::Image::new(r.w, r.h, fr::PixelType::U8x4)),
    };
    let opts = fr::ResizeOptions::new().resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Bilinear));
    if resizer.resize(&src_img, scratch, &opts).is_err() {
        return;
    }
    let row = r.w as usize * 4;
    let px = scratch.buffer();
    for y in 0..r.h as usize {
        let d = ((r.y as usize + y) * cw + r.x as usize) * 4;
        canvas[d..d + row].copy_from_slice(&px[y * row..(y + 1) * row]);
    }
}

fn fill(buf: &mut [u8], c: [u8; 4]) {
    for px in buf.chunks_exact_mut(4) {
        px.copy_from_slice(&c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_letterboxes_and_pillarboxes() {
        let out = Size::new(1280, 720).unwrap();
        assert_eq!(fit(Size::new(640, 480).unwrap(), out), Rect { x: 160, y: 0, w: 960, h: 720 });
        assert_eq!(fit(Size::new(1920, 1080).unwrap(), out), Rect { x: 0, y: 0, w: 1280, h: 720 });
        assert_eq!(fit(Size::new(1000, 200).unwrap(), out), Rect { x: 0, y: 232, w: 1280, h: 256 });
    }

    #[test]
    fn four_by_three_camera_gets_side_bars() {
        let out = Size::new(320, 180).unwrap();
        let mut c = Compositor::new(out, [10, 20, 30, 255]);
        let cam = VideoFrame::new(Duration::ZERO, 160, 120, vec![200; 160 * 120 * 4]).unwrap();
        let f = c.compose(Some(&cam), Duration::from_millis(40));
        let px = |x: usize, y: usize| &f.data[(y * 320 + x) * 4..(y * 320 + x) * 4 + 4];
        assert_eq!(px(5, 90), &[10, 20, 30, 255], "left bar is background");
        assert_eq!(px(314, 90), &[10, 20, 30, 255], "right bar is background");
        assert_eq!(px(160, 90), &[200, 200, 200, 200], "camera in the middle");
        assert_eq!(f.ts, Duration::from_millis(40));
    }

    #[test]
    fn pool_reuses_buffers_once_released() {
        let out = Size::new(64, 36).unwrap();
        let mut c = Compositor::new(out, [0, 0, 0, 255]);
        let a = c.compose(None, Duration::ZERO);
        let ptr = Arc::as_ptr(&a.data);
        drop(a);
        let b = c.compose(None, Duration::ZERO);
        assert_eq!(Arc::as_ptr(&b.data), ptr, "released buffer is reused, not reallocated");
        let c2 = c.compose(None, Duration::ZERO);
        assert_ne!(Arc::as_ptr(&c2.data), ptr, "a buffer still held is never written");
        assert_eq!(Arc::strong_count(&b.data), 2, "pool + b");
    }
}
