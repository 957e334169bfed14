//! One collected article or document.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{ItemId, ParseError, SourceId, Tlp};

/// The SHA-256 of an item's normalised title and text, hex-encoded.
///
/// It decides "seen" versus "changed": whitespace-only edits and markup changes that
/// leave the readable text alone do not count as changes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ContentHash(String);

impl ContentHash {
    /// Wraps a hex digest; refuses anything but 64 lower-case hex digits.
    pub fn from_hex(hex: &str) -> Result<Self, ParseError> {
        if hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(Self(hex.to_owned()))
        } else {
            Err(ParseError::new(
                "content hash",
                hex,
                "expected 64 lower-case hex digits (SHA-256)",
            ))
        }
    }

    /// The hex digest.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ContentHash {
    type Error = ParseError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::from_hex(&value)
    }
}

impl From<ContentHash> for String {
    fn from(value: ContentHash) -> Self {
        value.0
    }
}

/// An item as a collector produces it, before the store gives it an id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewItem {
    /// The source it came from.
    pub source_id: SourceId,
    /// The identity of the document: a normalised URL (`https://…`, `file:///…`), or
    /// `urn:sha256:…` for content without a location (standard input, pasted text).
    pub canonical_url: String,
    /// The location as the source gave it, before normalisation.
    pub original_url: Option<String>,
    /// The feed's entry id, when there is one.
    pub guid: Option<String>,
    /// The headline.
    pub title: String,
    /// The byline, when known.
    pub author: Option<String>,
    /// When the source says it was published.
    pub published_at: Option<DateTime<Utc>>,
    /// When threatdesk read it.
    pub fetched_at: DateTime<Utc>,
    /// An ISO 639-3 language code (e.g. `eng`), when detection was confident.
    pub language: Option<String>,
    /// The readable text: what extraction and search work on.
    pub text: String,
    /// Sanitised HTML for display (no scripts, no event handlers, no foreign styles).
    pub html: Option<String>,
    /// Hash of the normalised title and text.
    pub content_hash: ContentHash,
    /// The marking; collectors copy the source's default.
    pub tlp: Tlp,
}

/// A stored item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// The store's id.
    pub id: ItemId,
    /// What was collected.
    #[serde(flatten)]
    pub content: NewItem,
    /// The content hash of the version this one replaced, if the document changed since
    /// it was first stored.
    pub previous_hash: Option<ContentHash>,
    /// How many times the stored content changed (1 for a never-changed item).
    pub revision: u32,
    /// When the item was first stored.
    pub created_at: DateTime<Utc>,
    /// When its content last changed.
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_hash_accepts_only_sha256_hex() {
        let good = "a".repeat(64);
        assert!(ContentHash::from_hex(&good).is_ok());
        assert!(ContentHash::from_hex(&"A".repeat(64)).is_err());
        assert!(ContentHash::from_hex(&"a".repeat(63)).is_err());
        assert!(serde_json::from_str::<ContentHash>("\"xyz\"").is_err());
    }
}
