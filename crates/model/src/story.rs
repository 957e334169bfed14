//! Stories: items about the same event.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{ItemId, StoryId};

/// A cluster of items that report the same event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Story {
    /// The store's id.
    pub id: StoryId,
    /// The best headline among its items.
    pub title: String,
    /// An extractive summary of its items.
    pub summary: String,
    /// Its items, oldest first.
    pub item_ids: Vec<ItemId>,
    /// How many distinct sources reported it.
    pub source_count: u32,
    /// When its first item was published or collected.
    pub first_seen: DateTime<Utc>,
    /// When its latest item was published or collected.
    pub last_seen: DateTime<Utc>,
    /// A ranking score combining sources, recency and source reliability.
    pub hotness: f64,
}
