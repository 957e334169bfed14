//! Rough phase timings over a file (a development aid): `cargo run --release --example timing FILE...`.
use std::time::Instant;

fn main() {
    let text: String = std::env::args()
        .skip(1)
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect::<Vec<_>>()
        .join("\n");
    let mb = text.len() as f64 / 1e6;
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    for _ in 0..rounds {
        let t = Instant::now();
        let r = threatdesk_extract::refang(&text);
        let refang_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let n = threatdesk_extract::extract(&text).len();
        let all_s = t.elapsed().as_secs_f64();
        println!(
            "{mb:.2} MB: refang {:.0} MB/s ({} bytes out); extract {:.0} MB/s ({n} findings)",
            mb / refang_s,
            r.len(),
            mb / all_s
        );
    }
}
