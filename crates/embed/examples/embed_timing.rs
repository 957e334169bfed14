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
    // Enough texts for a steady figure: the reports over and over, at least 400 of them.
    let rounds = 400usize.div_ceil(texts.len().max(1));
    let refs: Vec<&str> = (0..rounds)
        .flat_map(|_| texts.iter().map(String::as_str))
        .collect();
    for max_tokens in [40usize, 64, 128, 256] {
        let loading = Instant::now();
        let model = match MiniLm::load(Path::new(&folder), max_tokens) {
            Ok(model) => model,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        };
        let load_seconds = loading.elapsed().as_secs_f64();
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
                serde_json::json!({"max_tokens": max_tokens, "batch": batch, "texts": refs.len(), "load_seconds": load_seconds,
                                   "texts_per_second": refs.len() as f64 / seconds})
            );
        }
    }
}
