//! Embedding speed: texts per second for a model folder, token limits and batch sizes,
//! over report files (each text: headline and start, as clustering gives them). Prints one
//! JSON line per setting.
//!
//! `cargo run --release -p threatdesk-embed --example embed_timing -- MODEL_DIR REPORT...`

use std::path::Path;
use std::time::Instant;

use threatdesk_embed::MiniLm;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(folder) = args.next() else {
        eprintln!("usage: embed_timing MODEL_DIR REPORT...");
        std::process::exit(2);
    };
    let texts: Vec<String> = args
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|t| t.chars().take(2_000).collect())
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    for max_tokens in [64usize, 128, 256] {
        let model = match MiniLm::load(Path::new(&folder), max_tokens) {
            Ok(model) => model,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        };
        for batch in [8usize, 32] {
            let started = Instant::now();
            for chunk in refs.chunks(batch) {
                if let Err(e) = model.embed(chunk) {
                    eprintln!("{e}");
                    std::process::exit(1);
                }
            }
            let seconds = started.elapsed().as_secs_f64();
            println!(
                "{}",
                serde_json::json!({"max_tokens": max_tokens, "batch": batch, "texts": refs.len(),
                                   "texts_per_second": refs.len() as f64 / seconds})
            );
        }
    }
}
