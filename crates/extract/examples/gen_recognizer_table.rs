//! Writes `crates/extract/data/builtin-recognizer.tsv`: the recogniser of the built-in
//! knowledge base, compiled ahead of time. Run through `scripts/gen-kb.sh`.

use threatdesk_extract::Recognizer;
use threatdesk_kb::KnowledgeBase;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let output = std::env::args()
        .nth(1)
        .ok_or("usage: gen_recognizer_table OUTPUT.tsv")?;
    let recognizer = Recognizer::new(&KnowledgeBase::parse_builtin());
    std::fs::write(&output, recognizer.to_table())?;
    eprintln!("{} patterns written to {output}", recognizer.stats().patterns);
    Ok(())
}
