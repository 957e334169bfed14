//! Per-item sketches: MinHash over word shingles (near-duplicates) and term counts
//! (lexical similarity), computed in one pass over the text.

use serde::{Deserialize, Serialize};

/// MinHash values per sketch: the Jaccard estimate's standard error is about 1/√128 ≈ 0.09.
pub const MINHASH_SIZE: usize = 128;
/// Words per shingle.
pub const SHINGLE_WORDS: usize = 4;
/// Distinct terms kept per item (the most frequent), enough to compare reports while
/// keeping 100,000 items' vectors in tens of megabytes.
pub const MAX_TERMS: usize = 64;

/// What clustering keeps of an item's text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sketch {
    /// MinHash signature over word shingles ([`MINHASH_SIZE`] values).
    pub minhash: Vec<u32>,
    /// `(term hash, count)` of content words (no stop words, at least three letters), the
    /// [`MAX_TERMS`] most frequent, sorted by term.
    pub terms: Vec<(u32, u32)>,
    /// Words in the text.
    pub words: u32,
}

impl Sketch {
    /// The sketch of a title and text (the title counts as part of the text).
    pub fn of(title: &str, text: &str) -> Self {
        let mut words: Vec<(u64, usize)> = Vec::with_capacity(text.len() / 6 + 16);
        for part in [title, text] {
            for_each_word(part, |hash, len| words.push((hash, len)));
        }
        let minhash = minhash(&words);
        let mut counts: std::collections::HashMap<u32, u32> = std::collections::HashMap::new();
        for &(hash, len) in &words {
            if len >= 3 && !is_stop_word(hash) {
                *counts.entry(hash as u32).or_insert(0) += 1;
            }
        }
        let mut terms: Vec<(u32, u32)> = counts.into_iter().collect();
        // Most frequent first; ties by term so the cut is deterministic.
        terms.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        terms.truncate(MAX_TERMS);
        terms.sort_unstable_by_key(|t| t.0);
        Self {
            minhash,
            terms,
            words: u32::try_from(words.len()).unwrap_or(u32::MAX),
        }
    }

    /// The estimated Jaccard similarity of the two texts' shingle sets.
    pub fn jaccard(&self, other: &Sketch) -> f32 {
        if self.minhash.is_empty() || self.minhash.len() != other.minhash.len() {
            return 0.0;
        }
        let same = self
            .minhash
            .iter()
            .zip(&other.minhash)
            .filter(|(a, b)| a == b && **a != u32::MAX)
            .count();
        same as f32 / self.minhash.len() as f32
    }
}

/// FNV-1a, 64 bits: stable across runs and platforms, so stored sketches stay comparable.
fn fnv1a(hash: u64, byte: u8) -> u64 {
    (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
}
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// Calls `f(hash, length)` for each word: a run of letters and digits, lower-cased.
pub(crate) fn for_each_word(text: &str, mut f: impl FnMut(u64, usize)) {
    let mut hash = FNV_OFFSET;
    let mut len = 0usize;
    for c in text.chars() {
        if c.is_alphanumeric() {
            for lower in c.to_lowercase() {
                let mut buf = [0u8; 4];
                for &b in lower.encode_utf8(&mut buf).as_bytes() {
                    hash = fnv1a(hash, b);
                }
            }
            len += 1;
        } else if len > 0 {
            f(hash, len);
            hash = FNV_OFFSET;
            len = 0;
        }
    }
    if len > 0 {
        f(hash, len);
    }
}

/// A 64-bit mixer (splitmix64's finaliser).
pub(crate) fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The multiply-shift hash family's parameters, from a fixed seed (never change them:
/// stored signatures depend on them).
fn hash_parameters() -> &'static [(u64, u64); MINHASH_SIZE] {
    static PARAMS: std::sync::OnceLock<[(u64, u64); MINHASH_SIZE]> = std::sync::OnceLock::new();
    PARAMS.get_or_init(|| {
        let mut params = [(0u64, 0u64); MINHASH_SIZE];
        let mut state = 0x7468_7265_6174_6b31u64; // "threatk1"
        for p in &mut params {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let a = mix(state) | 1;
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            *p = (a, mix(state));
        }
        params
    })
}

/// MinHash over shingles of [`SHINGLE_WORDS`] words (single words for shorter texts).
fn minhash(words: &[(u64, usize)]) -> Vec<u32> {
    let mut signature = vec![u32::MAX; MINHASH_SIZE];
    let params = hash_parameters();
    let mut add = |shingle: u64| {
        for (slot, (a, b)) in signature.iter_mut().zip(params.iter()) {
            let h = (a.wrapping_mul(shingle).wrapping_add(*b) >> 32) as u32;
            if h < *slot {
                *slot = h;
            }
        }
    };
    if words.len() < SHINGLE_WORDS {
        for &(w, _) in words {
            add(mix(w));
        }
    } else {
        for window in words.windows(SHINGLE_WORDS) {
            let shingle = window
                .iter()
                .fold(0u64, |acc, &(w, _)| mix(acc.rotate_left(17) ^ w));
            add(shingle);
        }
    }
    signature
}

/// English function words: they say nothing about which event a report is about.
const STOP_WORDS: &[&str] = &[
    "the",
    "and",
    "for",
    "that",
    "with",
    "this",
    "from",
    "are",
    "was",
    "were",
    "have",
    "has",
    "had",
    "not",
    "but",
    "all",
    "can",
    "its",
    "their",
    "they",
    "them",
    "which",
    "will",
    "would",
    "been",
    "also",
    "into",
    "than",
    "then",
    "there",
    "these",
    "those",
    "such",
    "other",
    "more",
    "most",
    "some",
    "any",
    "one",
    "two",
    "out",
    "our",
    "your",
    "you",
    "his",
    "her",
    "she",
    "him",
    "who",
    "whom",
    "what",
    "when",
    "where",
    "why",
    "how",
    "after",
    "before",
    "over",
    "under",
    "about",
    "between",
    "through",
    "during",
    "while",
    "each",
    "both",
    "may",
    "might",
    "could",
    "should",
    "does",
    "did",
    "doing",
    "being",
    "per",
    "via",
    "new",
    "said",
    "says",
    "use",
    "used",
    "using",
    "like",
    "just",
    "only",
    "very",
    "well",
    "many",
    "much",
    "own",
    "same",
    "here",
    "because",
    "until",
    "against",
    "again",
    "further",
    "once",
    "off",
    "above",
    "below",
    "upon",
    "within",
    "without",
    "across",
    "among",
    "however",
    "including",
    "include",
    "includes",
    "according",
];

fn stop_word_hashes() -> &'static std::collections::HashSet<u64> {
    static SET: std::sync::OnceLock<std::collections::HashSet<u64>> = std::sync::OnceLock::new();
    SET.get_or_init(|| {
        let mut set = std::collections::HashSet::new();
        for word in STOP_WORDS {
            for_each_word(word, |h, _| {
                set.insert(h);
            });
        }
        set
    })
}

fn is_stop_word(hash: u64) -> bool {
    stop_word_hashes().contains(&hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "The threat actor tracked as APT28 sent spear-phishing e-mails with malicious \
        attachments to ministries of foreign affairs in several European countries. The documents \
        exploited a vulnerability in the document viewer and installed a backdoor that collected \
        credentials and screenshots, then sent them to servers hosted abroad. Responders found the \
        backdoor on dozens of workstations and published indicators for defenders.";

    #[test]
    fn copies_with_other_boilerplate_are_near_duplicates_and_other_reports_are_not() {
        let original = Sketch::of("APT28 targets ministries", REPORT);
        let syndicated = Sketch::of(
            "APT28 targets ministries",
            &format!("Reposted from our partners. {REPORT} Subscribe to our newsletter for more."),
        );
        let edited = Sketch::of(
            "APT28 targets ministries",
            &REPORT.replace("dozens of", "about forty"),
        );
        let other = Sketch::of(
            "Ransomware hits hospital",
            "A ransomware group encrypted the systems of a regional hospital and demanded a payment \
             in cryptocurrency; patients were sent to other hospitals while backups were restored.",
        );
        assert!(
            original.jaccard(&syndicated) > 0.7,
            "{}",
            original.jaccard(&syndicated)
        );
        assert!(original.jaccard(&edited) > 0.7, "{}", original.jaccard(&edited));
        assert!(original.jaccard(&other) < 0.1, "{}", original.jaccard(&other));
        assert_eq!(original.jaccard(&original), 1.0);
    }

    #[test]
    fn terms_skip_stop_words_and_case() {
        let sketch = Sketch::of("", "The Backdoor and the backdoor and THE BACKDOOR");
        assert_eq!(sketch.terms.len(), 1);
        assert_eq!(sketch.terms[0].1, 3);
        assert_eq!(sketch.words, 8);
    }

    #[test]
    fn empty_texts_have_an_empty_signature_that_matches_nothing() {
        let empty = Sketch::of("", "");
        assert_eq!(empty.words, 0);
        assert_eq!(empty.jaccard(&empty), 0.0);
    }

    proptest::proptest! {
        #[test]
        fn any_text_gives_a_sketch_and_a_jaccard_in_range(a in "\\PC*", b in "\\PC*") {
            let (x, y) = (Sketch::of("", &a), Sketch::of("", &b));
            let j = x.jaccard(&y);
            proptest::prop_assert!((0.0..=1.0).contains(&j));
            proptest::prop_assert_eq!(x.minhash.len(), MINHASH_SIZE);
            proptest::prop_assert!(x.terms.len() <= MAX_TERMS);
        }
    }
}
