//! Where items come from.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{ParseError, Reliability, SourceId, Tlp};

/// How a source is collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// An RSS, Atom or JSON Feed document, polled.
    Feed,
    /// A single web page, polled for changes.
    WebPage,
    /// Local files or folders, ingested on demand.
    File,
    /// Items typed or pasted in by an analyst.
    Manual,
}

impl SourceKind {
    /// The snake-case label used in JSON, configuration and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Feed => "feed",
            SourceKind::WebPage => "web_page",
            SourceKind::File => "file",
            SourceKind::Manual => "manual",
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SourceKind {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "feed" => Ok(SourceKind::Feed),
            "web_page" | "webpage" | "web" => Ok(SourceKind::WebPage),
            "file" => Ok(SourceKind::File),
            "manual" => Ok(SourceKind::Manual),
            _ => Err(ParseError::new(
                "source kind",
                s,
                "expected feed, web_page, file or manual",
            )),
        }
    }
}

/// A source as the analyst describes it, before the store gives it an id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewSource {
    /// Human name, unique among sources, e.g. `"CISA advisories"`.
    pub name: String,
    /// How it is collected.
    pub kind: SourceKind,
    /// A URL for feeds and web pages, a path for files; empty for manual sources.
    pub location: String,
    /// Seconds between polls; `None` for sources collected on demand.
    pub poll_interval_secs: Option<u64>,
    /// The marking given to its items unless an item says otherwise.
    pub default_tlp: Tlp,
    /// Free-form labels, e.g. `["vendor", "ics"]`.
    pub tags: Vec<String>,
    /// The Admiralty grade analysts give it.
    pub reliability: Reliability,
    /// Disabled sources keep their items but are not collected.
    pub enabled: bool,
}

impl NewSource {
    /// A source with the defaults: `TLP:CLEAR`, reliability `F`, enabled, no tags, no schedule.
    pub fn new(name: impl Into<String>, kind: SourceKind, location: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            kind,
            location: location.into(),
            poll_interval_secs: None,
            default_tlp: Tlp::Clear,
            tags: Vec::new(),
            reliability: Reliability::F,
            enabled: true,
        }
    }
}

/// A stored source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    /// The store's id.
    pub id: SourceId,
    /// Everything the analyst configured.
    #[serde(flatten)]
    pub spec: NewSource,
    /// When the source was first stored.
    pub created_at: DateTime<Utc>,
}
