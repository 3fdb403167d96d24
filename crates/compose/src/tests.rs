//! Pixel checks on composed frames.

use super::*;

const W: u32 = 320;
const H: u32 = 180;

fn solid(w: u32, h: u32, c: [u8; 4]) -> VideoFrame {
    let mut v = vec![0u8; (w * h * 4) as usize];
    fill(&mut v, c);
    VideoFrame::new(Duration::ZERO, w, h, v).unwrap()
}

fn px(f: &VideoFrame, x: u32, y: u32) -> [u8; 3] {
    let i = ((y * f.width + x) * 4) as usize;
    [f.data[i], f.data[i + 1], f.data[i + 2]]
}

fn scene(layout: Layout) -> Scene {
    Scene { layout, background: [10, 20, 30, 255], bubble: Bubble { mirror: false, ..Bubble::default() }, ..Scene::default() }
}

const RED: [u8; 4] = [250, 0, 0, 255];
const GREEN: [u8; 4] = [0, 250, 0, 255];

#[test]
fn fit_letterboxes_and_pillarboxes() {
    let out = Size::new(1280, 720).unwrap();
    assert_eq!(fit(Size::new(640, 480).unwrap(), out), Rect { x: 160, y: 0, w: 960, h: 720 });
    assert_eq!(fit(Size::new(1920, 1080).unwrap(), out), Rect { x: 0, y: 0, w: 1280, h: 720 });
    assert_eq!(fit(Size::new(1000, 200).unwrap(), out), Rect { x: 0, y: 232, w: 1280, h: 256 });
}

#[test]
fn camera_layout_pillarboxes_a_four_by_three_camera() {
    let mut c = Compositor::new(Size::new(W, H).unwrap());
    let f = c.compose(&scene(Layout::Camera), None, Some(&solid(160, 120, GREEN)), Duration::from_millis(40));
    assert_eq!(px(&f, 5, 90), [10, 20, 30], "left bar is background");
    assert_eq!(px(&f, 314, 90), [10, 20, 30], "right bar is background");
    assert_eq!(px(&f, 160, 90), [0, 250, 0], "camera in the middle");
    assert_eq!(f.ts, Duration::from_millis(40));
}

#[test]
fn bubble_edge_is_round_and_soft() {
    let mut c = Compositor::new(Size::new(W, H).unwrap());
    let s = scene(Layout::Bubble);
    let f = c.compose(&s, Some(&solid(W, H, RED)), Some(&solid(64, 48, GREEN)), Duration::ZERO);
    // Bubble M: d = 0.30 * 180 = 54 → 54; margin 7; bottom-right: x 259..313, y 119..173.
    let (x0, y0, d) = (259u32, 119u32, 54u32);
    let (cx, cy) = (x0 + d / 2, y0 + d / 2);
    assert_eq!(px(&f, cx, cy), [0, 250, 0], "inside the bubble: presenter");
    assert_eq!(px(&f, x0 + 1, y0 + 1), [250, 0, 0], "square corner outside the circle: stage");
    assert_eq!(px(&f, 20, 20), [250, 0, 0], "stage elsewhere");
    // On the edge the two blend: neither pure red nor pure green (soft, not jagged).
    let edge = (0..d).map(|x| px(&f, x0 + x, cy)).find(|p| p[0] > 20 && p[1] > 20);
    assert!(edge.is_some(), "a blended pixel on the circle's edge");
    // Top-left corner option.
    let mut s2 = s.clone();
    s2.bubble.corner = Corner::TopLeft;
    let f = c.compose(&s2, Some(&solid(W, H, RED)), Some(&solid(64, 48, GREEN)), Duration::ZERO);
    assert_eq!(px(&f, 7 + 27, 7 + 27), [0, 250, 0]);
    assert_eq!(px(&f, cx, cy), [250, 0, 0]);
}

#[test]
fn bubble_mirror_flips_the_presenter() {
    let mut c = Compositor::new(Size::new(W, H).unwrap());
    // Presenter: left half green, right half blue.
    let mut cam = vec![0u8; 64 * 64 * 4];
    for (i, p) in cam.chunks_exact_mut(4).enumerate() {
        p.copy_from_slice(if i % 64 < 32 { &[0, 250, 0, 255] } else { &[0, 0, 250, 255] });
    }
    let cam = VideoFrame::new(Duration::ZERO, 64, 64, cam).unwrap();
    let mut s = scene(Layout::Bubble);
    s.bubble.corner = Corner::At { x: 0.5, y: 0.5 };
    let plain = c.compose(&s, Some(&solid(W, H, RED)), Some(&cam), Duration::ZERO);
    assert_eq!(px(&plain, 150, 90), [0, 250, 0]);
    s.bubble.mirror = true;
    let mirrored = c.compose(&s, Some(&solid(W, H, RED)), Some(&cam), Duration::ZERO);
    assert_eq!(px(&mirrored, 150, 90), [0, 0, 250], "mirrored: the right half shows on the left");
}

#[test]
fn side_by_side_splits_stage_and_presenter() {
    let mut c = Compositor::new(Size::new(W, H).unwrap());
    let f = c.compose(&scene(Layout::Side), Some(&solid(W, H, RED)), Some(&solid(64, 48, GREEN)), Duration::ZERO);
    // Split at 0.64 * 320 = 204. Stage 16:9 fitted into 204x180 → 204x114, centred vertically.
    assert_eq!(px(&f, 100, 90), [250, 0, 0], "stage on the left");
    assert_eq!(px(&f, 100, 10), [10, 20, 30], "letterbox above the stage");
    assert_eq!(px(&f, 260, 10), [0, 250, 0], "presenter fills the right");
    assert_eq!(px(&f, 205, 170), [0, 250, 0]);
}

#[test]
fn pip_puts_the_stage_in_a_corner() {
    let mut c = Compositor::new(Size::new(W, H).unwrap());
    let f = c.compose(&scene(Layout::Pip), Some(&solid(W, H, RED)), Some(&solid(64, 48, GREEN)), Duration::ZERO);
    assert_eq!(px(&f, 20, 20), [0, 250, 0], "presenter full");
    assert_eq!(px(&f, 280, 155), [250, 0, 0], "stage bottom-right");
}

#[test]
fn slides_pass_through_without_a_copy() {
    let mut c = Compositor::new(Size::new(W, H).unwrap());
    let slide = solid(W, H, RED);
    let f = c.compose(&scene(Layout::Slides), Some(&slide), Some(&solid(64, 48, GREEN)), Duration::from_secs(1));
    assert!(Arc::ptr_eq(&f.data, &slide.data), "a fitted slide is the canvas");
    assert_eq!(f.ts, Duration::from_secs(1));
}

#[test]
fn camera_off_hides_the_presenter() {
    let mut c = Compositor::new(Size::new(W, H).unwrap());
    let mut s = scene(Layout::Bubble);
    s.camera_off = true;
    let f = c.compose(&s, Some(&solid(W, H, RED)), Some(&solid(64, 48, GREEN)), Duration::ZERO);
    assert_eq!(px(&f, 286, 146), [250, 0, 0]);
}

#[test]
fn title_card_then_lower_third() {
    let mut c = Compositor::new(Size::new(W, H).unwrap());
    let mut s = scene(Layout::Slides);
    s.title_card = Some(TitleCard { title: "Weekly update".into(), seconds: 2.0 });
    s.lower_third = Some(LowerThird { name: "Ada".into(), role: "Engineer".into(), seconds: 3.0 });
    let slide = solid(W, H, RED);
    let card = c.compose(&s, Some(&slide), None, Duration::from_secs(1));
    assert!(card.data.chunks(4).all(|p| p[0] != 250 || p[1] != 0), "the card covers the slide");
    assert!(card.data.chunks(4).any(|p| p[0] > 200 && p[1] > 200), "title text drawn");
    let with_lt = c.compose(&s, Some(&slide), None, Duration::from_millis(2500));
    assert_eq!(px(&with_lt, 300, 10), [250, 0, 0], "slide visible again");
    let band = (0..H).map(|y| px(&with_lt, 15, y)).filter(|p| p[0] < 200).count();
    assert!(band > 5, "lower third band at the bottom left");
    let after = c.compose(&s, Some(&slide), None, Duration::from_secs(6));
    assert!(Arc::ptr_eq(&after.data, &slide.data), "overlays gone after their time");
}

#[test]
fn pool_reuses_canvases_once_released() {
    let mut c = Compositor::new(Size::new(64, 36).unwrap());
    let s = scene(Layout::Camera);
    let a = c.compose(&s, None, None, Duration::ZERO);
    let ptr = Arc::as_ptr(&a.data);
    drop(a);
    let b = c.compose(&s, None, None, Duration::ZERO);
    assert_eq!(Arc::as_ptr(&b.data), ptr, "released canvas is reused, not reallocated");
    let c2 = c.compose(&s, None, None, Duration::ZERO);
    assert_ne!(Arc::as_ptr(&c2.data), ptr, "a canvas still held is never written");
}

#[test]
fn side_swapped_puts_the_presenter_left() {
    let mut c = Compositor::new(Size::new(W, H).unwrap());
    let mut s = scene(Layout::Side);
    s.swap = true;
    let f = c.compose(&s, Some(&solid(W, H, RED)), Some(&solid(64, 48, GREEN)), Duration::ZERO);
    assert_eq!(px(&f, 20, 10), [0, 250, 0], "presenter on the left");
    assert_eq!(px(&f, 220, 90), [250, 0, 0], "stage on the right");
}

#[test]
fn background_picture_covers_the_letterbox() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("bg.png");
    image::RgbaImage::from_pixel(400, 400, image::Rgba([0, 0, 200, 255])).save(&p).unwrap();
    let size = Size::new(W, H).unwrap();
    let mut c = Compositor::new(size);
    c.set_backdrop(Some(Compositor::load_backdrop(&p, size).unwrap()));
    let f = c.compose(&scene(Layout::Camera), None, Some(&solid(160, 120, GREEN)), Duration::ZERO);
    assert_eq!(px(&f, 5, 90), [0, 0, 200], "the picture shows in the bars");
    assert_eq!(px(&f, 160, 90), [0, 250, 0]);
    assert!(Compositor::load_backdrop(Path::new("/no/such.png"), size).is_err());
}

#[test]
fn full_frame_camera_and_pip_mirror_when_resized_straight_into_the_canvas() {
    // A 4:3 camera, cropped to fill in pip and letterboxed in camera: left quarter green,
    // the rest blue, so a mirrored crop shows which side it came from.
    let (cw, ch) = (160u32, 120u32);
    let mut cam = vec![0u8; (cw * ch * 4) as usize];
    for (i, p) in cam.chunks_exact_mut(4).enumerate() {
        p.copy_from_slice(if (i as u32 % cw) < cw / 4 { &[0, 250, 0, 255] } else { &[0, 0, 250, 255] });
    }
    let cam = VideoFrame::new(Duration::ZERO, cw, ch, cam).unwrap();
    let mut c = Compositor::new(Size::new(W, H).unwrap());
    let mut s = scene(Layout::Pip);
    let plain = c.compose(&s, None, Some(&cam), Duration::ZERO);
    assert_eq!(px(&plain, 2, 90), [0, 250, 0], "unmirrored: green on the left");
    assert_eq!(px(&plain, W - 3, 90), [0, 0, 250]);
    s.bubble.mirror = true;
    let m = c.compose(&s, None, Some(&cam), Duration::ZERO);
    assert_eq!(px(&m, 2, 90), [0, 0, 250], "mirrored: blue on the left");
    assert_eq!(px(&m, W - 3, 90), [0, 250, 0], "mirrored: green on the right");
    // Camera layout at the same aspect as the canvas: full width, straight into the canvas.
    let wide = VideoFrame::new(Duration::ZERO, 64, 36, {
        let mut v = vec![0u8; 64 * 36 * 4];
        for (i, p) in v.chunks_exact_mut(4).enumerate() {
            p.copy_from_slice(if i % 64 < 16 { &[0, 250, 0, 255] } else { &[0, 0, 250, 255] });
        }
        v
    })
    .unwrap();
    let mut s = scene(Layout::Camera);
    s.bubble.mirror = true;
    let m = c.compose(&s, None, Some(&wide), Duration::ZERO);
    assert_eq!(px(&m, 2, 90), [0, 0, 250]);
    assert_eq!(px(&m, W - 3, 90), [0, 250, 0]);
}

#[test]
fn camera_and_pip_hand_the_presenter_to_the_encoder_at_its_own_size() {
    let size = Size::new(W, H).unwrap();
    let mut c = Compositor::new(size);
    // A 16:9 camera smaller than the canvas: no upscale here, the encoder's scaler does it.
    let cam = solid(160, 90, GREEN);
    let p = c.compose_picture(&scene(Layout::Camera), None, Some(&cam), Duration::from_millis(40));
    assert!(Arc::ptr_eq(&p.base.data, &cam.data) && p.patch.is_none(), "the camera frame itself, nothing over it");
    assert_eq!(p.base.ts, Duration::from_millis(40));

    // Mirrored: flipped at the camera's size, into a buffer reused once the encoder lets go.
    let mut halves = vec![0u8; 160 * 90 * 4];
    for (i, px) in halves.chunks_exact_mut(4).enumerate() {
        px.copy_from_slice(if i % 160 < 80 { &GREEN } else { &RED });
    }
    let halves = VideoFrame::new(Duration::ZERO, 160, 90, halves).unwrap();
    let mut s = scene(Layout::Camera);
    s.bubble.mirror = true;
    let m = c.compose_picture(&s, None, Some(&halves), Duration::ZERO);
    assert_eq!((m.base.width, m.base.height), (160, 90));
    assert_eq!(px(&m.base, 10, 45), [250, 0, 0], "mirrored: the right half on the left");
    assert_eq!(px(&m.base, 150, 45), [0, 250, 0]);
    let first = Arc::as_ptr(&m.base.data);
    drop(m);
    let again = c.compose_picture(&s, None, Some(&halves), Duration::ZERO);
    assert_eq!(Arc::as_ptr(&again.base.data), first, "the flip buffer is reused, not reallocated");
    let held = c.compose_picture(&s, None, Some(&halves), Duration::ZERO);
    assert_ne!(Arc::as_ptr(&held.base.data), first, "a buffer still held is never written");

    // Pip: the same base, and the stage window as a patch where the canvas draws it.
    let stage = solid(W, H, RED);
    let p = c.compose_picture(&scene(Layout::Pip), Some(&stage), Some(&cam), Duration::ZERO);
    assert!(Arc::ptr_eq(&p.base.data, &cam.data));
    let patch = p.patch.clone().expect("the stage window");
    let f = &patch.frame;
    assert!((patch.x | patch.y | f.width | f.height).is_multiple_of(2), "even, for 4:2:0 chroma");
    assert!(patch.x + f.width <= W && patch.y + f.height <= H);
    assert_eq!(px(f, 0, 0), [255, 255, 255], "a white frame around the window");
    assert_eq!(px(f, f.width / 2, f.height / 2), [250, 0, 0], "the stage inside");
    let canvas = c.compose(&scene(Layout::Pip), Some(&stage), Some(&cam), Duration::ZERO);
    for (x, y) in [(0, 0), (f.width / 2, f.height / 2), (f.width - 1, f.height - 1)] {
        assert_eq!(px(&canvas, patch.x + x, patch.y + y), px(f, x, y), "canvas and patch agree at {x},{y}");
    }
    assert_eq!(px(&canvas, patch.x - 1, patch.y + 5), [0, 250, 0], "presenter just outside the window");
    drop((p, patch, canvas));
    // A screen stage is a new frame every time: the window is redrawn into the same buffer.
    let a = c.compose_picture(&scene(Layout::Pip), Some(&solid(W, H, RED)), Some(&cam), Duration::ZERO);
    let ptr = Arc::as_ptr(&a.patch.as_ref().unwrap().frame.data);
    drop(a);
    let b = c.compose_picture(&scene(Layout::Pip), Some(&solid(W, H, GREEN)), Some(&cam), Duration::ZERO);
    let bp = b.patch.as_ref().unwrap();
    assert_eq!(Arc::as_ptr(&bp.frame.data), ptr, "window buffer reused");
    assert_eq!(px(&bp.frame, bp.frame.width / 2, bp.frame.height / 2), [0, 250, 0], "and shows the new stage");
}

#[test]
fn pictures_fall_back_to_the_canvas_when_something_is_drawn_over_the_presenter() {
    let size = Size::new(W, H).unwrap();
    let mut c = Compositor::new(size);
    let cam = solid(160, 90, GREEN);
    let canvas_sized = |p: &Picture| p.base.size() == size && p.patch.is_none();
    // A lower third over the camera, a 4:3 camera (bars), the bubble: all full canvases.
    let mut lt = scene(Layout::Camera);
    lt.lower_third = Some(LowerThird { name: "Ada".into(), role: "Engineer".into(), seconds: 3.0 });
    assert!(canvas_sized(&c.compose_picture(&lt, None, Some(&cam), Duration::from_secs(1))));
    assert!(!canvas_sized(&c.compose_picture(&lt, None, Some(&cam), Duration::from_secs(4))), "after the lower third, the camera again");
    assert!(canvas_sized(&c.compose_picture(&scene(Layout::Camera), None, Some(&solid(160, 120, GREEN)), Duration::ZERO)));
    assert!(canvas_sized(&c.compose_picture(&scene(Layout::Bubble), Some(&solid(W, H, RED)), Some(&cam), Duration::ZERO)));
    let mut off = scene(Layout::Pip);
    off.camera_off = true;
    assert!(canvas_sized(&c.compose_picture(&off, Some(&solid(W, H, RED)), Some(&cam), Duration::ZERO)));
}

/// Regression: the scaled stage was cached by the frame's address, so a new screen frame
/// allocated where the last one was freed showed the old picture.
#[test]
fn a_new_stage_frame_at_a_reused_address_is_drawn_anew() {
    let mut c = Compositor::new(Size::new(W, H).unwrap());
    let cam = solid(64, 48, GREEN);
    for colour in [RED, [0, 0, 250, 255], RED] {
        let f = c.compose(&scene(Layout::Side), Some(&solid(W, H, colour)), Some(&cam), Duration::ZERO);
        assert_eq!(px(&f, 100, 90), [colour[0], colour[1], colour[2]]);
    }
}

/// Regression: a bubble sized from the height was wider than a tall, narrow canvas and the
/// corner clamp panicked. Every layout must draw at every valid size, the extremes included.
#[test]
fn every_layout_draws_on_tall_narrow_and_tiny_canvases() {
    for (w, h) in [(16, 4320), (7680, 16), (16, 16)] {
        let size = Size::new(w, h).unwrap();
        let mut c = Compositor::new(size);
        for layout in [Layout::Bubble, Layout::Side, Layout::Pip, Layout::Camera, Layout::Slides] {
            let s = scene(layout);
            let f = c.compose(&s, Some(&solid(64, 36, RED)), Some(&solid(64, 36, GREEN)), Duration::ZERO);
            assert_eq!((f.width, f.height), (w, h), "{layout} at {w}x{h}");
            let p = c.compose_picture(&s, Some(&solid(64, 36, RED)), Some(&solid(64, 36, GREEN)), Duration::ZERO);
            if let Some(patch) = p.patch {
                assert!(patch.x + patch.frame.width <= w && patch.y + patch.frame.height <= h, "{layout} patch inside {w}x{h}");
            }
        }
    }
}
