//! Where items come from.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{ParseError, Reliability, SourceId, Tlp};

/// Consecutive failed collections after which a source counts as failing.
pub const FAILING_AFTER: u32 = 3;

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
    /// Whether collecting it may reach loopback, private and link-local addresses (the
    /// SSRF guard is off for this source only).
    #[serde(default)]
    pub allow_private: bool,
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
            allow_private: false,
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

/// How a polled source is doing: shown by `sources list`, used by the scheduler.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceHealth {
    /// The verdict (see [`HealthState`]).
    pub state: HealthState,
    /// When collection was last tried.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// When it last succeeded (a 304 counts).
    pub last_success_at: Option<DateTime<Utc>>,
    /// The HTTP status of the last answer, when there was one.
    pub last_http_status: Option<u16>,
    /// The last failure's kind (`timeout`, `http_status`, `parse`…), until a success.
    pub last_error_kind: Option<String>,
    /// The last failure in words, until a success.
    pub last_error: Option<String>,
    /// Failed collections in a row.
    pub consecutive_failures: u32,
    /// When the scheduler tries it next.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Entries the feed listed in the last successful collection.
    pub last_entries: u32,
    /// Entries skipped or degraded in the last collection (each recorded with its reason).
    pub last_problems: u32,
    /// Items first stored in the last 24 hours.
    pub items_24h: u64,
    /// Items first stored in the last 7 days.
    pub items_7d: u64,
    /// The `ETag` of the last full answer, for conditional GET.
    pub etag: Option<String>,
    /// The `Last-Modified` of the last full answer, for conditional GET.
    pub last_modified: Option<String>,
}

/// A source's health verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthState {
    /// Never collected yet.
    #[default]
    New,
    /// The last collection succeeded with every entry used.
    Healthy,
    /// The last collection failed (fewer than [`FAILING_AFTER`] times in a row), or succeeded
    /// but some entries were skipped or fell back to the feed's text.
    Degraded,
    /// [`FAILING_AFTER`] or more failures in a row: collection backs off.
    Failing,
    /// Switched off by an analyst.
    Disabled,
}

impl HealthState {
    /// The verdict for these facts.
    pub fn judge(enabled: bool, attempted: bool, consecutive_failures: u32, last_problems: u32) -> Self {
        if !enabled {
            HealthState::Disabled
        } else if !attempted {
            HealthState::New
        } else if consecutive_failures >= FAILING_AFTER {
            HealthState::Failing
        } else if consecutive_failures > 0 || last_problems > 0 {
            HealthState::Degraded
        } else {
            HealthState::Healthy
        }
    }

    /// The snake-case label.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::New => "new",
            HealthState::Healthy => "healthy",
            HealthState::Degraded => "degraded",
            HealthState::Failing => "failing",
            HealthState::Disabled => "disabled",
        }
    }
}

impl fmt::Display for HealthState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_verdicts_follow_failures_and_problems() {
        assert_eq!(HealthState::judge(false, true, 9, 0), HealthState::Disabled);
        assert_eq!(HealthState::judge(true, false, 0, 0), HealthState::New);
        assert_eq!(HealthState::judge(true, true, 0, 0), HealthState::Healthy);
        assert_eq!(HealthState::judge(true, true, 0, 2), HealthState::Degraded);
        assert_eq!(HealthState::judge(true, true, 1, 0), HealthState::Degraded);
        assert_eq!(
            HealthState::judge(true, true, FAILING_AFTER, 0),
            HealthState::Failing
        );
    }

    #[test]
    fn sources_without_the_private_flag_deserialise_as_guarded() {
        let json = r#"{"name":"n","kind":"feed","location":"https://x.example/feed","poll_interval_secs":null,
            "default_tlp":"CLEAR","tags":[],"reliability":"F","enabled":true}"#;
        let source: Result<NewSource, _> = serde_json::from_str(json);
        assert!(source.is_ok_and(|s| !s.allow_private));
    }
}
