//! Transcribes raw 16 kHz mono f32 samples: `cargo run --example raw -- FILE [MODEL] [BEAM]`.
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let bytes = std::fs::read(&a[1]).expect("read");
    let s: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    let e = reel_transcribe::Engine::load(a.get(2).map(String::as_str).unwrap_or("tiny.en"), 2).expect("load");
    let mut once = Some(s);
    let opts = reel_transcribe::Options { beam_size: a.get(3).and_then(|b| b.parse().ok()).unwrap_or(5), ..Default::default() };
    let t = e.transcribe(|| Ok(once.take()), &opts, &mut |_| {}, &std::sync::atomic::AtomicBool::new(false)).expect("transcribe");
    println!("{}", t.text());
}
