//! Text overlays with the bundled DejaVu Sans (assets/fonts, licence beside it): the title card
//! and the lower third. Each overlay is rasterised once and cached; per frame it is only
//! blended.

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use reel_media::Size;

static REGULAR: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
static BOLD: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans-Bold.ttf");

/// Straight-alpha RGBA image.
#[derive(Clone)]
pub struct Overlay {
    pub w: u32,
    pub h: u32,
    pub rgba: Vec<u8>,
}

fn font(bold: bool) -> Option<FontRef<'static>> {
    FontRef::try_from_slice(if bold { BOLD } else { REGULAR }).ok()
}

/// Width in pixels of `text` at `px`.
pub fn measure(text: &str, px: f32, bold: bool) -> f32 {
    let Some(f) = font(bold) else { return 0.0 };
    let sf = f.as_scaled(PxScale::from(px));
    let mut w = 0.0;
    let mut prev = None;
    for c in text.chars() {
        let id = sf.glyph_id(c);
        if let Some(p) = prev {
            w += sf.kern(p, id);
        }
        w += sf.h_advance(id);
        prev = Some(id);
    }
    w
}

/// Draws `text` with its top-left at (x, y) into a straight-alpha RGBA overlay.
pub fn draw_text(o: &mut Overlay, text: &str, x: f32, y: f32, px: f32, bold: bool, color: [u8; 3]) {
    let Some(f) = font(bold) else { return };
    let sf = f.as_scaled(PxScale::from(px));
    let mut caret = x;
    let baseline = y + sf.ascent();
    let mut prev = None;
    for c in text.chars() {
        let id = sf.glyph_id(c);
        if let Some(p) = prev {
            caret += sf.kern(p, id);
        }
        let glyph = id.with_scale_and_position(PxScale::from(px), ab_glyph::point(caret, baseline));
        caret += sf.h_advance(id);
        prev = Some(id);
        if let Some(outlined) = f.outline_glyph(glyph) {
            let b = outlined.px_bounds();
            outlined.draw(|gx, gy, cov| {
                let (px_x, px_y) = (b.min.x as i32 + gx as i32, b.min.y as i32 + gy as i32);
                if px_x < 0 || px_y < 0 || px_x >= o.w as i32 || px_y >= o.h as i32 {
                    return;
                }
                let i = (px_y as usize * o.w as usize + px_x as usize) * 4;
                let a = (cov.clamp(0.0, 1.0) * 255.0) as u8;
                if a > o.rgba[i + 3] || o.rgba[i + 3] == 0 {
                    o.rgba[i..i + 3].copy_from_slice(&color);
                }
                o.rgba[i + 3] = o.rgba[i + 3].max(a);
            });
        }
    }
}

/// Splits `text` into lines no wider than `max_w` at `px`.
fn wrap(text: &str, px: f32, bold: bool, max_w: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in text.split_whitespace() {
        let cand = if cur.is_empty() { word.to_string() } else { format!("{cur} {word}") };
        if measure(&cand, px, bold) > max_w && !cur.is_empty() {
            lines.push(std::mem::replace(&mut cur, word.to_string()));
        } else {
            cur = cand;
        }
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

/// A full-canvas title card: the background colour with the title centred.
pub fn title_card(size: Size, title: &str, background: [u8; 4]) -> Overlay {
    let (w, h) = (size.width, size.height);
    let mut o = Overlay { w, h, rgba: vec![0; size.pixels() * 4] };
    let px = h as f32 / 11.0;
    let lines = wrap(title, px, true, w as f32 * 0.84);
    let line_h = px * 1.25;
    let top = (h as f32 - line_h * lines.len() as f32) / 2.0;
    let light = (background[0] as u32 + background[1] as u32 + background[2] as u32) > 384;
    let ink = if light { [20, 20, 24] } else { [245, 245, 247] };
    for (i, l) in lines.iter().enumerate() {
        let lw = measure(l, px, true);
        draw_text(&mut o, l, (w as f32 - lw) / 2.0, top + i as f32 * line_h, px, true, ink);
    }
    // Composite over the opaque background so the card is a finished picture.
    for p in o.rgba.chunks_exact_mut(4) {
        let a = p[3] as u32;
        for c in 0..3 {
            p[c] = ((p[c] as u32 * a + background[c] as u32 * (255 - a)) / 255) as u8;
        }
        p[3] = 255;
    }
    o
}

/// A lower third: a dark translucent band with the name (bold) and role.
pub fn lower_third(size: Size, name: &str, role: &str) -> Overlay {
    let h_px = size.height as f32;
    let name_px = h_px / 20.0;
    let role_px = h_px / 30.0;
    let pad = h_px / 60.0;
    let w = (measure(name, name_px, true).max(measure(role, role_px, false)) + pad * 3.0).min(size.width as f32 * 0.9) as u32;
    let h = (name_px * 1.2 + if role.is_empty() { 0.0 } else { role_px * 1.3 } + pad * 2.0) as u32;
    let mut o = Overlay { w, h, rgba: vec![0; w as usize * h as usize * 4] };
    for p in o.rgba.chunks_exact_mut(4) {
        p.copy_from_slice(&[16, 18, 24, 200]);
    }
    // An accent stripe on the left.
    let stripe = (pad / 2.0).max(2.0) as u32;
    for y in 0..h {
        for x in 0..stripe.min(w) {
            let i = (y as usize * w as usize + x as usize) * 4;
            o.rgba[i..i + 4].copy_from_slice(&[229, 72, 77, 255]);
        }
    }
    draw_text(&mut o, name, pad * 1.5, pad, name_px, true, [250, 250, 250]);
    if !role.is_empty() {
        draw_text(&mut o, role, pad * 1.5, pad + name_px * 1.2, role_px, false, [210, 210, 215]);
    }
    o
}

/// What the recording shows while the camera is gone: its last picture at a third of its
/// brightness (or dark grey if it never sent one) with "Camera disconnected" across it, at the
/// camera's size so it sits where the camera sat in any layout. Made once per outage.
pub fn camera_lost_card(last: Option<(&[u8], Size)>) -> (Size, Vec<u8>) {
    let (size, mut px) = match last {
        Some((px, size)) if px.len() == size.pixels() * 4 => (size, px.iter().enumerate().map(|(i, &v)| if i % 4 == 3 { 255 } else { v / 3 }).collect::<Vec<u8>>()),
        _ => {
            let size = Size { width: 640, height: 360 };
            (size, std::iter::repeat_n([28u8, 28, 32, 255], size.pixels()).flatten().collect())
        }
    };
    let text = "Camera disconnected";
    let mut fs = size.height as f32 / 10.0;
    let w = measure(text, fs, true);
    if w > size.width as f32 * 0.9 {
        fs *= size.width as f32 * 0.9 / w;
    }
    let (tw, th) = (measure(text, fs, true).ceil() as u32 + 2, (fs * 1.4).ceil() as u32);
    let mut o = Overlay { w: tw, h: th, rgba: vec![0; (tw * th * 4) as usize] };
    draw_text(&mut o, text, 1.0, fs * 0.15, fs, true, [255, 255, 255]);
    blend(&mut px, size, &o, (size.width as i32 - tw as i32) / 2, (size.height as i32 - th as i32) / 2);
    (size, px)
}

/// Blends a straight-alpha overlay onto an opaque RGBA canvas at (x, y), clipped.
pub fn blend(canvas: &mut [u8], size: Size, o: &Overlay, x: i32, y: i32) {
    let (cw, ch) = (size.width as i32, size.height as i32);
    for oy in 0..o.h as i32 {
        let cy = y + oy;
        if cy < 0 || cy >= ch {
            continue;
        }
        for ox in 0..o.w as i32 {
            let cx = x + ox;
            if cx < 0 || cx >= cw {
                continue;
            }
            let s = ((oy * o.w as i32 + ox) * 4) as usize;
            let a = o.rgba[s + 3] as u32;
            if a == 0 {
                continue;
            }
            let d = ((cy * cw + cx) * 4) as usize;
            for c in 0..3 {
                canvas[d + c] = ((o.rgba[s + c] as u32 * a + canvas[d + c] as u32 * (255 - a)) / 255) as u8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_card_draws_centred_text() {
        let size = Size::new(320, 180).unwrap();
        let o = title_card(size, "Hello team", [20, 20, 30, 255]);
        let bright: Vec<usize> = o.rgba.chunks(4).enumerate().filter(|(_, p)| p[0] > 200).map(|(i, _)| i % 320).collect();
        assert!(!bright.is_empty(), "text is drawn");
        let (min, max) = (bright.iter().min().unwrap(), bright.iter().max().unwrap());
        assert!((min + max) / 2 > 140 && (min + max) / 2 < 180, "centred: {min}..{max}");
        assert!(o.rgba.chunks(4).all(|p| p[3] == 255), "opaque");
    }

    #[test]
    fn camera_lost_card_dims_the_last_picture_and_says_so() {
        let size = Size::new(320, 240).unwrap();
        let last = vec![240u8; size.pixels() * 4];
        let (s, px) = camera_lost_card(Some((&last, size)));
        assert_eq!(s, size);
        assert_eq!(&px[..4], &[80, 80, 80, 255], "dimmed to a third");
        let white = px.chunks(4).filter(|p| p[0] > 200).count();
        assert!(white > 100, "the words are drawn: {white} bright pixels");
        let (s, px) = camera_lost_card(None);
        assert_eq!((s.width, px.len()), (640, 640 * 360 * 4));
    }

    #[test]
    fn lower_third_has_name_and_role() {
        let o = lower_third(Size::new(1280, 720).unwrap(), "Ada Lovelace", "Engineer");
        assert!(o.w > 100 && o.h > 40);
        assert!(o.rgba.chunks(4).filter(|p| p[0] > 240 && p[3] > 200).count() > 50, "white name text");
    }
}
