//! Stories: the same event reported by many sources becomes one story.
//!
//! Pure and I/O-free, like the extraction crate: callers give item texts, entities and
//! indicators, and get decisions with their reasons.
//!
//! - [`Sketch`]: what clustering keeps of a text, computed in one pass: a MinHash signature
//!   over 4-word shingles (near-duplicates: syndicated copies, re-posts with other
//!   boilerplate, light edits) and its most frequent content words (lexical similarity).
//! - [`StoryIndex`]: the online index. [`StoryIndex::assign`] finds near-duplicates through
//!   LSH banding (16 bands of 8 rows: constant work per new item), else scores the open
//!   stories (seen within the window) that share words, entities or indicators: TF-IDF
//!   cosine with the story's centroid, plus a bonus per shared specific entity and
//!   indicator. Short texts need a higher score, so a title alone cannot glue stories. The
//!   decision lists its [`Signal`]s.
//! - [`summarize`] and [`hotness`]: a story's extractive summary and ranking score.
//!
//! Analysts have the last word: the caller records merges, moves and splits and replays
//! them into the index ([`StoryIndex::move_item`], [`StoryIndex::merge`]); automatic
//! assignment only ever places new items.

mod encode;
mod index;
mod sketch;
mod summary;

pub use index::{Assignment, ClusterConfig, ItemFeatures, Signal, StoryIndex, feature_key};
pub use sketch::{MAX_TERMS, MINHASH_SIZE, SHINGLE_WORDS, Sketch};
pub use summary::{MIN_LEAD_WORDS, hotness, lead, summarize};
