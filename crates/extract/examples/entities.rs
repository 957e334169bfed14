//! Prints the entities found in files (or a sentence given with `-e`), one per line, and
//! how long the built-in recogniser took to build: `cargo run --release -p
//! threatdesk-extract --example entities -- FILE...`.

use std::time::Instant;

use threatdesk_extract::{Recognizer, extract};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let started = Instant::now();
    let kb = threatdesk_kb::KnowledgeBase::parse_builtin();
    let parsed = started.elapsed();
    let index = kb.alias_index();
    let indexed = started.elapsed();
    let _ = Recognizer::new(&kb);
    eprintln!(
        "parse {parsed:?}, alias index {:?} ({} aliases), recogniser {:?}",
        indexed - parsed,
        index.len(),
        started.elapsed() - indexed
    );
    let started = Instant::now();
    let recognizer = Recognizer::builtin();
    eprintln!(
        "built-in recogniser ready in {:?}: {:?}",
        started.elapsed(),
        recognizer.stats()
    );
    let texts: Vec<(String, String)> = match args.first().map(String::as_str) {
        Some("-e") => vec![("-e".to_owned(), args[1..].join(" "))],
        _ => args
            .iter()
            .map(|p| Ok((p.clone(), std::fs::read_to_string(p)?)))
            .collect::<Result<_, std::io::Error>>()?,
    };
    for (name, text) in &texts {
        let iocs = extract(text);
        for m in recognizer.find(text, &iocs) {
            println!(
                "{name}:{}-{}\t{}\t{:?}\t-> {} {:?} ({:.2})",
                m.start,
                m.end,
                m.kind,
                m.text,
                m.value,
                m.ids.get("attack"),
                m.confidence
            );
        }
    }
    Ok(())
}
