//! Saves the app's settings over and over through the app's own `Settings::save`, printing the
//! number of each save once it returned: the power-cut test checks that the last one printed
//! survives, whole.

use std::io::Write;

fn main() {
    let path = std::path::PathBuf::from(std::env::args().nth(1).expect("usage: reel-test-settings SETTINGS.json"));
    let mut s = reel_app::settings::Settings::default();
    for i in 0u64.. {
        s.server_bind = "0.0.0.0:8787".into();
        s.public_url = format!("https://reel.example/{i}");
        if let Err(e) = s.save(&path) {
            eprintln!("save {i}: {}", e.message);
            std::process::exit(1);
        }
        println!("{i}");
        let _ = std::io::stdout().flush();
    }
}
