//! Content hashes that ignore formatting.

use sha2::{Digest, Sha256};
use threatdesk_model::ContentHash;

/// Collapses every run of whitespace to one space and trims the ends.
pub fn normalize_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// The SHA-256 of the whitespace-normalised title and text.
///
/// Re-wrapped lines, changed indentation or different markup around the same words
/// give the same hash; any change of wording gives another.
pub fn content_hash(title: &str, text: &str) -> ContentHash {
    let mut hasher = Sha256::new();
    update_with_words(&mut hasher, title);
    // A NUL cannot occur in either part's words, so it keeps title and text apart.
    hasher.update([0u8]);
    update_with_words(&mut hasher, text);
    let hex: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    // SHA-256 hex is always 64 lower-case digits, which is all `from_hex` checks.
    ContentHash::from_hex(&hex).unwrap_or_else(|_| unreachable!("SHA-256 hex digest is well-formed"))
}

fn update_with_words(hasher: &mut Sha256, text: &str) {
    for (i, word) in text.split_whitespace().enumerate() {
        if i > 0 {
            hasher.update(b" ");
        }
        hasher.update(word.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_does_not_change_the_hash_but_words_do() {
        let a = content_hash("Title", "one two\nthree");
        assert_eq!(a, content_hash(" Title ", "one   two\n\n  three\n"));
        assert_ne!(a, content_hash("Title", "one two three four"));
        assert_ne!(a, content_hash("Title one", "two three"));
    }

    #[test]
    fn normalize_whitespace_collapses_runs() {
        assert_eq!(normalize_whitespace("  a \n\t b  "), "a b");
    }
}
