//! Main-text extraction measured on the Scrapinghub article-extraction benchmark
//! (`../shared/eval/html/scrapinghub`): a floor under the F1 in docs/accuracy.md, so that a
//! regression fails; the side-by-side benchmark is `scripts/bench-article.sh`.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

fn shingles(text: &str) -> HashMap<Vec<String>, usize> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let mut counts = HashMap::new();
    for window in words.windows(4) {
        *counts.entry(window.to_vec()).or_insert(0) += 1;
    }
    counts
}

fn f1(gold: &str, predicted: &str) -> f64 {
    let (g, p) = (shingles(gold), shingles(predicted));
    if g.is_empty() && p.is_empty() {
        return 1.0;
    }
    let hits: usize = p
        .iter()
        .map(|(k, n)| (*n).min(g.get(k).copied().unwrap_or(0)))
        .sum();
    let precision = if p.is_empty() {
        0.0
    } else {
        hits as f64 / p.values().sum::<usize>() as f64
    };
    let recall = if g.is_empty() {
        0.0
    } else {
        hits as f64 / g.values().sum::<usize>() as f64
    };
    if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    }
}

#[test]
fn main_text_f1_on_the_scrapinghub_benchmark() {
    let bench = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/eval/html/scrapinghub");
    let Ok(truth) = std::fs::read_to_string(bench.join("ground-truth.json")) else {
        eprintln!("skipping: ../shared/eval/html/scrapinghub not found");
        return;
    };
    let truth: serde_json::Value = serde_json::from_str(&truth).expect("ground truth parses");
    let pages = truth.as_object().expect("an object of pages");
    let mut total = 0.0;
    for (id, page) in pages {
        let file = std::fs::File::open(bench.join("html").join(format!("{id}.html.gz"))).expect("page");
        let mut bytes = Vec::new();
        flate2::read::GzDecoder::new(file)
            .read_to_end(&mut bytes)
            .expect("gzip");
        let html = threatdesk_text::decode(&bytes).text.into_owned();
        let text = threatdesk_text::extract_article(&html, None)
            .map(|a| a.text)
            .unwrap_or_default();
        total += f1(page["articleBody"].as_str().unwrap_or_default(), &text);
    }
    let average = total / pages.len() as f64;
    eprintln!("scrapinghub: {} pages, main-text F1 {average:.3}", pages.len());
    assert!(
        average >= 0.94,
        "F1 {average:.3} fell under the 0.94 floor (measured 0.954)"
    );
}
