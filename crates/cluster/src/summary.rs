//! Story titles, extractive summaries and hotness.

use std::collections::HashMap;

use crate::sketch::for_each_word;

/// Sentences longer than this (bytes) are not used in summaries: they are usually tables,
/// lists of indicators or navigation that slipped through.
const MAX_SENTENCE_BYTES: usize = 400;
/// Sentences shorter than this (words) say too little to summarise.
const MIN_SENTENCE_WORDS: usize = 6;

/// An extractive summary of a story's texts: the `max_sentences` sentences closest to the
/// centroid of all its sentences' words (term frequency, stop words kept out by length),
/// skipping near-repeats, in the order they were chosen. Syndicated copies repeat the same
/// sentences; those count once.
pub fn summarize(texts: &[&str], max_sentences: usize) -> String {
    let mut sentences: Vec<(&str, HashMap<u64, f32>)> = Vec::new();
    let mut repeats: HashMap<&str, f32> = HashMap::new();
    for text in texts {
        for sentence in split_sentences(text) {
            if sentence.len() > MAX_SENTENCE_BYTES || !is_prose(sentence) {
                continue;
            }
            let mut terms: HashMap<u64, f32> = HashMap::new();
            let mut words = 0usize;
            for_each_word(sentence, |hash, len| {
                words += 1;
                if len >= 4 {
                    *terms.entry(hash).or_insert(0.0) += 1.0;
                }
            });
            if words < MIN_SENTENCE_WORDS {
                continue;
            }
            let count = repeats.entry(sentence).or_insert(0.0);
            *count += 1.0;
            if *count == 1.0 {
                sentences.push((sentence, terms));
            }
        }
    }
    let mut centroid: HashMap<u64, f32> = HashMap::new();
    // A sentence several sources repeat weighs as many times in the centroid.
    for (sentence, terms) in &sentences {
        let weight = repeats.get(sentence).copied().unwrap_or(1.0) / norm(terms);
        for (t, w) in terms {
            *centroid.entry(*t).or_insert(0.0) += w * weight;
        }
    }
    let mut scored: Vec<(f32, usize)> = sentences
        .iter()
        .enumerate()
        .map(|(i, (_, terms))| (cosine(terms, &centroid), i))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut chosen: Vec<usize> = Vec::new();
    for (_, i) in scored {
        if chosen.len() >= max_sentences {
            break;
        }
        let repeats = chosen
            .iter()
            .any(|&c| cosine(&sentences[c].1, &sentences[i].1) > 0.7);
        if !repeats {
            chosen.push(i);
        }
    }
    chosen
        .iter()
        .map(|&i| sentences[i].0.trim())
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a sentence-embedding model should read of an item: its headline and the first
/// sentences of prose, up to `max_bytes`; `None` when that is under [`MIN_LEAD_WORDS`] words.
/// Markup, links, image references and tables are left out, and so are items with too
/// little prose: embedded, they look alike whatever the story (an empty text always gives
/// the same vector), and would glue stories together.
pub fn lead(title: &str, text: &str, max_bytes: usize) -> Option<String> {
    let mut out = String::new();
    if is_text_like(title) {
        out.push_str(title.trim());
    }
    for sentence in split_sentences(text) {
        if out.len() >= max_bytes {
            break;
        }
        if sentence.split_whitespace().count() >= 4 && is_text_like(sentence) {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(sentence);
        }
    }
    let mut end = out.len().min(max_bytes);
    while !out.is_char_boundary(end) {
        end -= 1;
    }
    out.truncate(end);
    (out.split_whitespace().count() >= MIN_LEAD_WORDS).then_some(out)
}

/// A lead of fewer words is not embedded.
pub const MIN_LEAD_WORDS: usize = 8;

/// Words, not markup: no link syntax, mostly letters.
fn is_text_like(sentence: &str) -> bool {
    if ["](", "://", "www.", "|"].iter().any(|m| sentence.contains(m)) {
        return false;
    }
    let letters = sentence
        .chars()
        .filter(|c| c.is_alphabetic() || *c == ' ')
        .count();
    letters > 0 && letters * 10 >= sentence.chars().count() * 8
}

/// Prose, not markup, links, tables or headings: mostly letters, no link syntax, and a
/// full stop (or `!`, `?`) at the end.
fn is_prose(sentence: &str) -> bool {
    if ["](", "://", "www.", "|"].iter().any(|m| sentence.contains(m)) {
        return false;
    }
    let ends = sentence
        .trim_end_matches(['"', '\'', '”', '’', ')'])
        .ends_with(['.', '!', '?']);
    if !ends {
        return false;
    }
    let letters = sentence
        .chars()
        .filter(|c| c.is_alphabetic() || *c == ' ')
        .count();
    letters * 10 >= sentence.chars().count() * 8
}

fn norm(v: &HashMap<u64, f32>) -> f32 {
    v.values()
        .map(|w| w * w)
        .sum::<f32>()
        .sqrt()
        .max(f32::MIN_POSITIVE)
}

fn cosine(a: &HashMap<u64, f32>, b: &HashMap<u64, f32>) -> f32 {
    let dot: f32 = a.iter().map(|(t, w)| w * b.get(t).copied().unwrap_or(0.0)).sum();
    dot / (norm(a) * norm(b))
}

/// Sentences: cut after `.`, `!` or `?` followed by whitespace and a capital or digit, and
/// at line breaks.
fn split_sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut start = 0;
        let bytes = line.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            if matches!(b, b'.' | b'!' | b'?')
                && bytes.get(i + 1) == Some(&b' ')
                && bytes
                    .get(i + 2)
                    .is_some_and(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            {
                out.push(line[start..=i].trim());
                start = i + 1;
            }
        }
        let rest = line[start..].trim();
        if !rest.is_empty() {
            out.push(rest);
        }
    }
    out
}

/// How hot a story is: each distinct source counts by its reliability (weights 0.5–1,
/// Admiralty A–F), the sum is damped logarithmically, and the whole decays with a half-life
/// of a day since the story was last seen.
pub fn hotness(source_weights: &[f64], hours_since_last_seen: f64) -> f64 {
    let sources: f64 = source_weights.iter().sum();
    (1.0 + sources).ln() * 0.5f64.powf(hours_since_last_seen.max(0.0) / 24.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_takes_central_sentences_once() {
        let a = "APT28 sent phishing e-mails to ministries in Europe last week. The e-mails carried \
                 a malicious document exploiting a known flaw. Subscribe to our newsletter today for more news.";
        let b = "APT28 sent phishing e-mails to ministries in Europe last week. Ministries confirmed \
                 the phishing e-mails and the malicious document. Follow us on social media for updates now.";
        let summary = summarize(&[a, b], 2);
        assert!(
            summary.starts_with("APT28 sent phishing e-mails to ministries"),
            "{summary}"
        );
        assert_eq!(summary.matches("APT28 sent").count(), 1, "{summary}");
        assert!(
            !summary.contains("newsletter") && !summary.contains("social media"),
            "{summary}"
        );
        assert_eq!(summarize(&[""], 3), "");
        let markup = "![](https://cdn.example/figure-1.png) ![](https://cdn.example/figure-2.png) image here now.\n\
                      | Hash | Family | First seen | Last seen | Count | Notes |\n\
                      The loader was delivered by e-mail to finance staff at several firms.";
        assert_eq!(
            summarize(&[markup], 3),
            "The loader was delivered by e-mail to finance staff at several firms."
        );
    }

    #[test]
    fn the_lead_is_headline_and_prose_without_markup() {
        let text = "![](https://cdn.example/logo.png) ![](https://cdn.example/banner.png)\n\
                    | Hash | Family |\n\
                    The loader reached finance staff by e-mail. It stole browser passwords.";
        assert_eq!(
            lead("New loader targets finance", text, 1000).as_deref(),
            Some(
                "New loader targets finance\nThe loader reached finance staff by e-mail.\nIt stole browser passwords."
            )
        );
        assert_eq!(lead("![](x://y)", "![](https://cdn.example/a.png)", 1000), None);
        assert_eq!(lead("Short", "Too few words.", 1000), None);
        assert!(lead("T", &"Word after word again. ".repeat(200), 100).is_some_and(|l| l.len() <= 100));
    }

    #[test]
    fn hotness_grows_with_sources_and_cools_with_time() {
        assert!(hotness(&[1.0, 1.0, 1.0], 0.0) > hotness(&[1.0], 0.0));
        assert!(hotness(&[1.0], 0.0) > hotness(&[0.5], 0.0));
        let day_old = hotness(&[1.0], 24.0);
        assert!((day_old - hotness(&[1.0], 0.0) / 2.0).abs() < 1e-9);
    }
}
