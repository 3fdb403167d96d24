//! The compositor: pure and synchronous. A [`Scene`] plus the latest stage frame (a slide or the
//! screen) and presenter frame (the camera) give one canvas of the output size.
//!
//! ```text
//!  bubble: stage full, presenter in a soft-edged circle or rounded square in a corner
//!  side:   stage | presenter          pip: presenter full, stage small in a corner
//!  camera: presenter only             slides / screen: stage only
//!  + title card for the first seconds, + lower third (name, role) after it
//! ```
//! The recorder asks for a [`Picture`] ([`Compositor::compose_picture`]): where the presenter
//! fills the frame with nothing over it (camera; pip, whose window is a separate patch), that is
//! the camera frame at its own size and the encoder's scaler enlarges it while converting to
//! YUV. Previews and thumbnails ask for the canvas ([`Compositor::compose`]).
//!
//! Per-frame work is copying and blending only. Canvases come from a small pool and return to it
//! once the encoder drops them, so steady-state composing allocates nothing; slides arrive
//! already fitted (see [`deck`]) and are copied; resizing (SIMD, fast_image_resize) happens only
//! for inputs drawn at another size (the camera in a bubble), and scaled stages are cached until
//! the stage changes. Text overlays are rasterised once per scene.

pub mod deck;
pub mod pdf;
pub mod scene;
pub mod text;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use fast_image_resize as fr;
use reel_media::{free_buffer, Patch, Picture, Size, VideoFrame};

pub use deck::Deck;
pub use scene::{Bubble, BubbleSize, Corner, Layout, LowerThird, Scene, Shape, TitleCard};

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("{path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("could not draw: {0}")]
    Render(String),
}

impl ComposeError {
    pub(crate) fn file(path: &Path, reason: String) -> Self {
        ComposeError::File { path: path.to_path_buf(), reason }
    }
}

/// A rectangle on the canvas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

/// The largest rectangle of aspect `src` that fits in `dst`, centred.
pub fn fit(src: Size, dst: Size) -> Rect {
    fit_in(src, Rect { x: 0, y: 0, w: dst.width, h: dst.height })
}

/// The largest rectangle of aspect `src` inside `area`, centred in it.
pub fn fit_in(src: Size, area: Rect) -> Rect {
    let (sw, sh, dw, dh) = (src.width as u64, src.height as u64, area.w as u64, area.h as u64);
    let (w, h) = if sw * dh > sh * dw { (dw, (sh * dw / sw.max(1)).max(1)) } else { ((sw * dh / sh.max(1)).max(1), dh) };
    Rect { x: area.x + ((dw - w) / 2) as u32, y: area.y + ((dh - h) / 2) as u32, w: w as u32, h: h as u32 }
}

/// The background: the picture if there is one, else the colour.
fn paint_bg(buf: &mut [u8], backdrop: Option<&Vec<u8>>, c: [u8; 4]) {
    match backdrop {
        Some(b) if b.len() == buf.len() => buf.copy_from_slice(b),
        _ => fill(buf, c),
    }
}

pub(crate) fn fill(buf: &mut [u8], c: [u8; 4]) {
    for px in buf.chunks_exact_mut(4) {
        px.copy_from_slice(&c);
    }
}

/// The part of a `src` picture to crop so that it fills `dst` aspect (centre crop).
fn crop_to_fill(src: Size, dst_w: u32, dst_h: u32) -> (f64, f64, f64, f64) {
    let (sw, sh) = (src.width as f64, src.height as f64);
    let target = dst_w as f64 / dst_h.max(1) as f64;
    if sw / sh > target {
        let w = sh * target;
        ((sw - w) / 2.0, 0.0, w, sh)
    } else {
        let h = sw / target;
        (0.0, (sh - h) / 2.0, sw, h)
    }
}

/// A soft-edged alpha mask of `d`x`d` for the bubble (about 1.5 px of feather).
fn bubble_mask(d: u32, shape: Shape) -> Vec<u8> {
    let r = d as f32 / 2.0;
    let corner = if shape == Shape::Circle { r } else { d as f32 * 0.18 };
    let feather = 1.5f32;
    let mut m = vec![0u8; (d * d) as usize];
    for y in 0..d {
        for x in 0..d {
            let (px, py) = (x as f32 + 0.5 - r, y as f32 + 0.5 - r);
            // Signed distance to a rounded square of half-side r and corner radius `corner`.
            let (qx, qy) = (px.abs() - (r - corner), py.abs() - (r - corner));
            let outside = (qx.max(0.0).powi(2) + qy.max(0.0).powi(2)).sqrt();
            let dist = outside + qx.max(qy).min(0.0) - corner;
            let a = (0.5 - dist / feather).clamp(0.0, 1.0);
            m[(y * d + x) as usize] = (a * 255.0).round() as u8;
        }
    }
    m
}

/// A stage frame resized, and which frame and rectangle it was made from. The cache holds the
/// source frame itself: identity by address alone would take a new frame that happened to be
/// allocated where a freed one was (a screen stage, every frame) for the old one.
struct Scaled {
    source: Arc<Vec<u8>>,
    rect: Rect,
    img: fr::images::Image<'static>,
}

pub struct Compositor {
    size: Size,
    pool: Vec<Arc<Vec<u8>>>,
    resizer: fr::Resizer,
    presenter: Option<fr::images::Image<'static>>,
    stage: Option<Scaled>,
    mask: Option<(u32, Shape, Vec<u8>)>,
    title: Option<(String, [u8; 4], Arc<Vec<u8>>)>,
    lower: Option<((String, String), text::Overlay)>,
    /// The background picture, already at the canvas size.
    backdrop: Option<Arc<Vec<u8>>>,
    /// The camera frame flipped, for presenters resized straight into the canvas.
    flipped: Vec<u8>,
    /// Mirrored camera frames handed to the encoder as they are (see [`Compositor::compose_picture`]).
    flip_pool: Vec<Arc<Vec<u8>>>,
    /// The picture-in-picture window (frame and fitted stage), kept while the stage is the same.
    pip: Option<(PipKey, Arc<Vec<u8>>)>,
}

/// What the pip window shows: which stage frame (held, as in [`Scaled`]) on which background.
type PipKey = (Option<Arc<Vec<u8>>>, [u8; 4]);

fn same_frame(a: &Option<Arc<Vec<u8>>>, b: &Option<Arc<Vec<u8>>>) -> bool {
    a.as_ref().map(Arc::as_ptr) == b.as_ref().map(Arc::as_ptr)
}

/// The picture-in-picture window on a canvas of `size`: its white frame and the stage area
/// inside it. Everything is even, so the window is also a 4:2:0 patch.
fn pip_window(size: Size) -> (Rect, Rect) {
    let bw = ((size.width as f32 * 0.3) as u32).max(16) & !1;
    let bh = ((bw as f32 * 9.0 / 16.0) as u32).max(10) & !1;
    let m = (size.height as f32 * 0.04) as u32 & !1;
    let area = Rect { x: size.width.saturating_sub(bw + m), y: size.height.saturating_sub(bh + m), w: bw, h: bh };
    let (x, y) = (area.x.saturating_sub(2), area.y.saturating_sub(2));
    let frame = Rect { x, y, w: (bw + 4).min(size.width - x), h: (bh + 4).min(size.height - y) };
    (frame, area)
}

/// The overlays shown at `t` seconds: the title card, else the lower third.
fn overlays_at(scene: &Scene, t: f32) -> (Option<&TitleCard>, Option<&LowerThird>) {
    let card = scene.title_card.as_ref().filter(|c| t < c.seconds);
    let after_title = scene.title_card.as_ref().map_or(0.0, |c| c.seconds);
    let lower = scene.lower_third.as_ref().filter(|l| card.is_none() && t >= after_title && t < after_title + l.seconds);
    (card, lower)
}

/// `src` (rows of `w` RGBA pixels) flipped left to right into `dst`.
fn flip_rows(dst: &mut [u8], src: &[u8], w: usize) {
    for (drow, srow) in dst.chunks_exact_mut(w * 4).zip(src.chunks_exact(w * 4)) {
        let (d_px, _) = drow.as_chunks_mut::<4>();
        let (s_px, _) = srow.as_chunks::<4>();
        for (d, s) in d_px.iter_mut().zip(s_px.iter().rev()) {
            *d = *s;
        }
    }
}

impl Compositor {
    pub fn new(size: Size) -> Self {
        Self {
            size,
            pool: Vec::new(),
            resizer: fr::Resizer::new(),
            presenter: None,
            stage: None,
            mask: None,
            title: None,
            lower: None,
            backdrop: None,
            flipped: Vec::new(),
            flip_pool: Vec::new(),
            pip: None,
        }
    }

    /// Uses a picture (RGBA at the canvas size, see [`Compositor::load_backdrop`]) as the
    /// background instead of the scene's colour.
    pub fn set_backdrop(&mut self, px: Option<Arc<Vec<u8>>>) {
        self.backdrop = px.filter(|p| p.len() == self.size.pixels() * 4);
    }

    /// Loads a background picture, scaled to cover the canvas once.
    pub fn load_backdrop(path: &Path, size: Size) -> Result<Arc<Vec<u8>>, ComposeError> {
        let slide = deck::load_image_cover(path, size)?;
        Ok(slide)
    }

    pub fn size(&self) -> Size {
        self.size
    }

    /// Composes media time `ts` for the encoder. Where the presenter fills the picture at the
    /// canvas's aspect with nothing drawn over it (camera, and pip with its window as a patch),
    /// the presenter goes as it is, at its own size, and the encoder's scaler enlarges it while
    /// converting to YUV: one pass instead of an upscale into an RGBA canvas and then a
    /// conversion of the canvas. Everything else is [`Compositor::compose`]'s canvas.
    pub fn compose_picture(&mut self, scene: &Scene, stage: Option<&VideoFrame>, presenter: Option<&VideoFrame>, ts: Duration) -> Picture {
        let (card, lower) = overlays_at(scene, ts.as_secs_f32());
        let size = self.size;
        let whole = presenter.filter(|p| {
            let same_aspect = p.width as u64 * size.height as u64 == p.height as u64 * size.width as u64;
            let drawable = p.width > 0 && p.height > 0 && p.data.len() == p.size().pixels() * 4;
            card.is_none() && lower.is_none() && !scene.camera_off && matches!(scene.layout, Layout::Camera | Layout::Pip) && same_aspect && drawable
        });
        let Some(p) = whole else {
            return self.compose(scene, stage, presenter, ts).into();
        };
        let base = if scene.bubble.mirror {
            let mut b = free_buffer(&mut self.flip_pool, p.data.len());
            flip_rows(Arc::make_mut(&mut b).as_mut_slice(), &p.data, p.width as usize);
            let frame = VideoFrame { ts, width: p.width, height: p.height, data: b.clone() };
            self.flip_pool.push(b);
            frame
        } else {
            VideoFrame { ts, ..p.clone() }
        };
        let patch = (scene.layout == Layout::Pip).then(|| self.pip_patch(stage, scene.background));
        Picture { base, patch }
    }

    /// The pip window as a patch: a white frame around the stage fitted on the background.
    fn pip_patch(&mut self, stage: Option<&VideoFrame>, bg: [u8; 4]) -> Patch {
        let (frame, area) = pip_window(self.size);
        let key = (stage.map(|s| s.data.clone()), bg);
        let fsize = Size { width: frame.w, height: frame.h };
        let inner = Rect { x: area.x - frame.x, y: area.y - frame.y, w: area.w.min(frame.w), h: area.h.min(frame.h) };
        let stale = self.pip.as_ref().is_none_or(|(k, px)| !same_frame(&k.0, &key.0) || k.1 != key.1 || px.len() != fsize.pixels() * 4);
        if stale {
            // A screen stage changes every frame: reuse the buffer once the encoder let go of it.
            let mut px = match self.pip.take() {
                Some((_, px)) if Arc::strong_count(&px) == 1 => px,
                _ => Arc::new(Vec::new()),
            };
            let buf = Arc::make_mut(&mut px);
            buf.resize(fsize.pixels() * 4, 0);
            fill(buf, [255, 255, 255, 255]);
            fill_rect(buf, fsize, inner, bg);
            if let Some(s) = stage {
                let r = fit_in(s.size(), inner);
                if let Some(img) = self.scaled_stage(s, r) {
                    blit(buf, fsize, img, r, None);
                }
            }
            self.pip = Some((key, px));
        }
        let data = self.pip.as_ref().map(|(_, px)| px.clone()).unwrap_or_default();
        Patch { x: frame.x, y: frame.y, frame: VideoFrame { ts: Duration::ZERO, width: frame.w, height: frame.h, data } }
    }

    /// The stage frame resized to `r` (cached while the frame and the rectangle are the same).
    fn scaled_stage(&mut self, s: &VideoFrame, r: Rect) -> Option<&[u8]> {
        // Keyed on the size only: where it is drawn does not change the pixels.
        if self.stage.as_ref().is_none_or(|c| !Arc::ptr_eq(&c.source, &s.data) || (c.rect.w, c.rect.h) != (r.w, r.h)) {
            // A screen stage is a new frame every time: resize into the same image.
            let mut img = match self.stage.take() {
                Some(c) if (c.rect.w, c.rect.h) == (r.w, r.h) => c.img,
                _ => fr::images::Image::new(r.w, r.h, fr::PixelType::U8x4),
            };
            let src = fr::images::ImageRef::new(s.width, s.height, &s.data, fr::PixelType::U8x4).ok()?;
            let opts = fr::ResizeOptions::new().resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Bilinear));
            self.resizer.resize(&src, &mut img, &opts).ok()?;
            self.stage = Some(Scaled { source: s.data.clone(), rect: r, img });
        }
        self.stage.as_ref().map(|c| c.img.buffer())
    }

    /// Composes the canvas for media time `ts`.
    pub fn compose(&mut self, scene: &Scene, stage: Option<&VideoFrame>, presenter: Option<&VideoFrame>, ts: Duration) -> VideoFrame {
        let size = self.size;
        let (card, lower) = overlays_at(scene, ts.as_secs_f32());
        if let Some(card) = card {
            let stale = self.title.as_ref().is_none_or(|(s, bg, _)| *s != card.title || *bg != scene.background);
            if stale {
                let o = text::title_card(size, &card.title, scene.background);
                self.title = Some((card.title.clone(), scene.background, Arc::new(o.rgba)));
            }
            if let Some((_, _, px)) = &self.title {
                return VideoFrame { ts, width: size.width, height: size.height, data: px.clone() };
            }
        }
        let presenter = presenter.filter(|_| !scene.camera_off && scene.layout.shows_presenter());
        let stage = stage.filter(|_| scene.layout != Layout::Camera);

        // Pass-throughs: nothing to draw over an input that already is the canvas.
        if lower.is_none() {
            let whole = match scene.layout {
                Layout::Camera => presenter.filter(|p| !scene.bubble.mirror && p.size() == size),
                Layout::Slides | Layout::Screen => stage.filter(|s| s.size() == size),
                Layout::Bubble if presenter.is_none() => stage.filter(|s| s.size() == size),
                _ => None,
            };
            if let Some(f) = whole {
                return VideoFrame { ts, ..f.clone() };
            }
        }

        // A canvas nobody else holds any more (the encoder keeps a few in flight).
        let mut canvas = free_buffer(&mut self.pool, size.pixels() * 4);
        {
            // `free_buffer` only returns canvases with no other holder, so this never copies.
            let data = Arc::make_mut(&mut canvas);
            let full = Rect { x: 0, y: 0, w: size.width, h: size.height };
            match scene.layout {
                Layout::Camera => {
                    let r = presenter.map(|p| fit(p.size(), size));
                    // Only the letterbox bars need the background: no full-canvas fill when
                    // the camera covers it.
                    if r != Some(full) {
                        paint_bg(data, self.backdrop.as_deref(), scene.background);
                    }
                    if let (Some(p), Some(r)) = (presenter, r) {
                        self.draw_presenter(data, p, r, false, scene.bubble.mirror, None);
                    }
                }
                Layout::Slides | Layout::Screen => self.draw_stage(data, stage, full, scene.background, true),
                Layout::Bubble => {
                    self.draw_stage(data, stage, full, scene.background, true);
                    if let Some(p) = presenter {
                        // Never wider or taller than the canvas (a tall, narrow output).
                        let d = ((size.height as f32 * scene.bubble.size.fraction()) as u32).max(8).min(size.width.min(size.height)) & !1;
                        let margin = (size.height as f32 * 0.04) as i64;
                        let (w, h, d64) = (size.width as i64, size.height as i64, d as i64);
                        let (x, y) = match scene.bubble.corner {
                            Corner::TopLeft => (margin, margin),
                            Corner::TopRight => (w - d64 - margin, margin),
                            Corner::BottomLeft => (margin, h - d64 - margin),
                            Corner::BottomRight => (w - d64 - margin, h - d64 - margin),
                            Corner::At { x, y } => ((x * w as f32) as i64 - d64 / 2, (y * h as f32) as i64 - d64 / 2),
                        };
                        let x = x.clamp(0, w - d64) as u32;
                        let y = y.clamp(0, h - d64) as u32;
                        if self.mask.as_ref().is_none_or(|(md, ms, _)| *md != d || *ms != scene.bubble.shape) {
                            self.mask = Some((d, scene.bubble.shape, bubble_mask(d, scene.bubble.shape)));
                        }
                        let mask = self.mask.take();
                        self.draw_presenter(data, p, Rect { x, y, w: d, h: d }, true, scene.bubble.mirror, mask.as_ref().map(|m| m.2.as_slice()));
                        self.mask = mask;
                    }
                }
                Layout::Side => {
                    paint_bg(data, self.backdrop.as_deref(), scene.background);
                    let wide = ((size.width as f32 * 0.64) as u32) & !1;
                    let narrow = size.width - wide;
                    // Stage left and presenter right, or swapped.
                    let (stage_x, presenter_x) = if scene.swap { (narrow, 0) } else { (0, wide) };
                    self.draw_stage(data, stage, Rect { x: stage_x, y: 0, w: wide, h: size.height }, scene.background, false);
                    if let Some(p) = presenter {
                        let r = Rect { x: presenter_x, y: 0, w: narrow, h: size.height };
                        self.draw_presenter(data, p, r, true, scene.bubble.mirror, None);
                    }
                }
                Layout::Pip => {
                    match presenter {
                        // Cropped to fill: it covers the whole canvas.
                        Some(p) => self.draw_presenter(data, p, full, true, scene.bubble.mirror, None),
                        None => paint_bg(data, self.backdrop.as_deref(), scene.background),
                    }
                    // The same window the encoder gets as a patch (see `compose_picture`).
                    let w = self.pip_patch(stage, scene.background);
                    blit(data, size, &w.frame.data, Rect { x: w.x, y: w.y, w: w.frame.width, h: w.frame.height }, None);
                }
            }
            if let Some(l) = lower {
                let key = (l.name.clone(), l.role.clone());
                if self.lower.as_ref().is_none_or(|(k, _)| *k != key) {
                    self.lower = Some((key, text::lower_third(size, &l.name, &l.role)));
                }
                if let Some((_, o)) = &self.lower {
                    let m = (size.height as f32 * 0.06) as i32;
                    text::blend(data, size, o, m, size.height as i32 - o.h as i32 - m);
                }
            }
        }
        let out = canvas.clone();
        self.pool.push(canvas);
        VideoFrame { ts, width: size.width, height: size.height, data: out }
    }

    /// Draws the stage fitted into `area` (cached while the stage frame is the same).
    fn draw_stage(&mut self, canvas: &mut [u8], stage: Option<&VideoFrame>, area: Rect, bg: [u8; 4], fill_bg: bool) {
        let size = self.size;
        let Some(s) = stage else {
            if fill_bg {
                paint_bg(canvas, self.backdrop.as_deref(), bg);
            }
            return;
        };
        if s.size() == size && area.w == size.width && area.h == size.height {
            canvas.copy_from_slice(&s.data);
            return;
        }
        if fill_bg {
            paint_bg(canvas, self.backdrop.as_deref(), bg);
        }
        let r = fit_in(s.size(), area);
        if let Some(img) = self.scaled_stage(s, r) {
            blit(canvas, size, img, r, None);
        }
    }

    /// Draws the presenter into `r`: fitted (letterboxed) or cropped to fill, mirrored, and
    /// through an alpha mask when given.
    fn draw_presenter(&mut self, canvas: &mut [u8], p: &VideoFrame, r: Rect, fill_crop: bool, mirror: bool, mask: Option<&[u8]>) {
        let size = self.size;
        if mask.is_none() && r.x == 0 && r.w == size.width && self.draw_presenter_direct(canvas, p, r, fill_crop, mirror) {
            return;
        }
        let img = match &mut self.presenter {
            Some(i) if i.width() == r.w && i.height() == r.h => i,
            slot => slot.insert(fr::images::Image::new(r.w, r.h, fr::PixelType::U8x4)),
        };
        let Ok(src) = fr::images::ImageRef::new(p.width, p.height, &p.data, fr::PixelType::U8x4) else {
            return;
        };
        // Interpolation (not convolution) costs a third as much when enlarging, and a camera is
        // mostly enlarged or kept; shrinking a big camera into a bubble needs the convolution.
        let enlarging = r.w >= p.width / 2 && r.h >= p.height / 2;
        let alg = if enlarging { fr::ResizeAlg::Interpolation(fr::FilterType::Bilinear) } else { fr::ResizeAlg::Convolution(fr::FilterType::Bilinear) };
        let mut opts = fr::ResizeOptions::new().resize_alg(alg);
        if fill_crop {
            let (x, y, w, h) = crop_to_fill(p.size(), r.w, r.h);
            opts = opts.crop(x, y, w, h);
        }
        if self.resizer.resize(&src, img, &opts).is_err() {
            return;
        }
        if mirror {
            blit_mirrored(canvas, size, img.buffer(), r, mask);
        } else {
            blit(canvas, size, img.buffer(), r, mask);
        }
    }
}

impl Compositor {
    /// A full-width presenter (camera, pip) with no mask: its rows are contiguous in the canvas,
    /// so it is resized straight into it, and mirrored by flipping the smaller camera frame
    /// first. That saves a full pass over the canvas (the copy out of a scratch image).
    /// Returns false when it could not (the caller then takes the general path).
    fn draw_presenter_direct(&mut self, canvas: &mut [u8], p: &VideoFrame, r: Rect, fill_crop: bool, mirror: bool) -> bool {
        let cw = self.size.width as usize;
        let src_bytes: &[u8] = if mirror {
            let w = p.width as usize;
            self.flipped.resize(p.data.len(), 0);
            flip_rows(&mut self.flipped, &p.data, w);
            &self.flipped
        } else {
            &p.data
        };
        let Ok(src) = fr::images::ImageRef::new(p.width, p.height, src_bytes, fr::PixelType::U8x4) else {
            return false;
        };
        let start = r.y as usize * cw * 4;
        let end = (r.y + r.h) as usize * cw * 4;
        let Some(dst_bytes) = canvas.get_mut(start..end) else {
            return false;
        };
        let Ok(mut dst) = fr::images::Image::from_slice_u8(r.w, r.h, dst_bytes, fr::PixelType::U8x4) else {
            return false;
        };
        let enlarging = r.w >= p.width / 2 && r.h >= p.height / 2;
        let alg = if enlarging { fr::ResizeAlg::Interpolation(fr::FilterType::Bilinear) } else { fr::ResizeAlg::Convolution(fr::FilterType::Bilinear) };
        let mut opts = fr::ResizeOptions::new().resize_alg(alg);
        if fill_crop {
            let (x, y, w, h) = crop_to_fill(p.size(), r.w, r.h);
            // The crop is of the flipped frame: mirror its position too.
            let x = if mirror { p.width as f64 - x - w } else { x };
            opts = opts.crop(x, y, w, h);
        }
        self.resizer.resize(&src, &mut dst, &opts).is_ok()
    }
}

/// As [`blit`], flipping each row (the presenter as in a mirror), in the same pass.
fn blit_mirrored(canvas: &mut [u8], size: Size, src: &[u8], r: Rect, mask: Option<&[u8]>) {
    let (cw, w) = (size.width as usize, r.w as usize);
    for y in 0..r.h as usize {
        let d = ((r.y as usize + y) * cw + r.x as usize) * 4;
        let (s_px, _) = src[y * w * 4..(y + 1) * w * 4].as_chunks::<4>();
        let (d_px, _) = canvas[d..d + w * 4].as_chunks_mut::<4>();
        match mask {
            None => {
                for (dp, sp) in d_px.iter_mut().zip(s_px.iter().rev()) {
                    *dp = *sp;
                }
            }
            Some(m) => {
                let mrow = &m[y * w..(y + 1) * w];
                for ((dp, sp), &a) in d_px.iter_mut().zip(s_px.iter().rev()).zip(mrow) {
                    match a {
                        0 => {}
                        255 => *dp = *sp,
                        a => {
                            let a = a as u32;
                            for c in 0..3 {
                                dp[c] = ((sp[c] as u32 * a + dp[c] as u32 * (255 - a) + 127) / 255) as u8;
                            }
                        }
                    }
                }
            }
        }
    }
}

fn fill_rect(canvas: &mut [u8], size: Size, r: Rect, c: [u8; 4]) {
    for y in r.y..(r.y + r.h).min(size.height) {
        let start = (y * size.width + r.x) as usize * 4;
        let end = (y * size.width + (r.x + r.w).min(size.width)) as usize * 4;
        fill(&mut canvas[start..end], c);
    }
}

/// Copies `src` (r.w x r.h RGBA) onto the canvas at r, through `mask` (r.w x r.h alpha) if any.
fn blit(canvas: &mut [u8], size: Size, src: &[u8], r: Rect, mask: Option<&[u8]>) {
    let (cw, row) = (size.width as usize, r.w as usize * 4);
    for y in 0..r.h as usize {
        let d = ((r.y as usize + y) * cw + r.x as usize) * 4;
        let s = &src[y * row..(y + 1) * row];
        match mask {
            None => canvas[d..d + row].copy_from_slice(s),
            Some(m) => {
                let mrow = &m[y * r.w as usize..(y + 1) * r.w as usize];
                let dst = &mut canvas[d..d + row];
                for (x, &a) in mrow.iter().enumerate() {
                    match a {
                        0 => {}
                        255 => dst[x * 4..x * 4 + 4].copy_from_slice(&s[x * 4..x * 4 + 4]),
                        a => {
                            let a = a as u32;
                            for c in 0..3 {
                                let i = x * 4 + c;
                                dst[i] = ((s[i] as u32 * a + dst[i] as u32 * (255 - a) + 127) / 255) as u8;
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
