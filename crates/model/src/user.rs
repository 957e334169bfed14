//! People: workspace accounts and newsletter subscriptions.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{EntityId, ParseError, Severity, SubscriptionId, Tlp, UserId};

/// What a workspace account may do; each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads published bulletins and the drafts shared with them.
    Reader,
    /// Triages stories and writes drafts.
    Analyst,
    /// Reviews and publishes.
    Editor,
    /// Manages users, sources and settings.
    Admin,
}

impl Role {
    /// Every role, least powerful first.
    pub const ALL: [Role; 4] = [Role::Reader, Role::Analyst, Role::Editor, Role::Admin];

    /// The lower-case label.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Analyst => "analyst",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }
}

impl FromStr for Role {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "reader" => Ok(Role::Reader),
            "analyst" => Ok(Role::Analyst),
            "editor" => Ok(Role::Editor),
            "admin" => Ok(Role::Admin),
            _ => Err(ParseError::new(
                "role",
                s,
                "expected reader, analyst, editor or admin",
            )),
        }
    }
}

/// A workspace account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// The store's id.
    pub id: UserId,
    /// The login name.
    pub username: String,
    /// The name shown on bulletins.
    pub display_name: String,
    /// What the account may do.
    pub role: Role,
    /// The most restrictive marking the account may see; nothing above it is ever shown.
    pub tlp_ceiling: Tlp,
    /// Disabled accounts cannot log in.
    pub disabled: bool,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
}

/// How often a subscriber hears from threatdesk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cadence {
    /// One message per published bulletin.
    Immediate,
    /// One digest a day.
    #[default]
    Daily,
    /// One digest a week.
    Weekly,
}

impl Cadence {
    /// The lower-case label.
    pub fn as_str(self) -> &'static str {
        match self {
            Cadence::Immediate => "immediate",
            Cadence::Daily => "daily",
            Cadence::Weekly => "weekly",
        }
    }

    /// How long a digest period lasts; `None` for one message per bulletin.
    pub fn period(self) -> Option<chrono::Duration> {
        match self {
            Cadence::Immediate => None,
            Cadence::Daily => Some(chrono::Duration::days(1)),
            Cadence::Weekly => Some(chrono::Duration::weeks(1)),
        }
    }
}

impl FromStr for Cadence {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "immediate" | "instant" => Ok(Cadence::Immediate),
            "daily" | "day" => Ok(Cadence::Daily),
            "weekly" | "week" => Ok(Cadence::Weekly),
            _ => Err(ParseError::new(
                "cadence",
                s,
                "expected immediate, daily or weekly",
            )),
        }
    }
}

/// What a subscriber wants to hear about; empty lists mean "everything".
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Topics {
    /// Bulletin tags.
    pub tags: Vec<String>,
    /// Entities the bulletin must be about.
    pub entity_ids: Vec<EntityId>,
    /// Bulletins below this severity are left out.
    pub min_severity: Severity,
}

/// A newsletter subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    /// The store's id.
    pub id: SubscriptionId,
    /// Where messages go.
    pub email: String,
    /// What it covers.
    pub topics: Topics,
    /// How often.
    pub cadence: Cadence,
    /// The most restrictive marking this address may receive (`CLEAR` for the public).
    pub tlp_ceiling: Tlp,
    /// Set once the address confirmed the double opt-in; nothing is sent before.
    pub confirmed_at: Option<DateTime<Utc>>,
    /// Set when the address unsubscribed; nothing is sent after.
    pub unsubscribed_at: Option<DateTime<Utc>>,
    /// When it was requested.
    pub created_at: DateTime<Utc>,
}

impl Subscription {
    /// Confirmed and not unsubscribed: the only state in which anything but the
    /// confirmation request is sent.
    pub fn is_active(&self) -> bool {
        self.confirmed_at.is_some() && self.unsubscribed_at.is_none()
    }

    /// `active`, `pending` (waiting for the opt-in) or `unsubscribed`.
    pub fn state(&self) -> &'static str {
        match (self.confirmed_at, self.unsubscribed_at) {
            (_, Some(_)) => "unsubscribed",
            (Some(_), None) => "active",
            (None, None) => "pending",
        }
    }

    /// Whether `bulletin` may and should go to this address: published, marked within the
    /// address's clearance, at least the minimum severity, carrying one of the tags and
    /// about one of the entities asked for (where any were asked for).
    pub fn wants(&self, bulletin: &crate::Bulletin) -> bool {
        let c = &bulletin.content;
        bulletin.status == crate::BulletinStatus::Published
            && c.tlp <= self.tlp_ceiling
            && c.severity >= self.topics.min_severity
            && (self.topics.tags.is_empty()
                || self
                    .topics
                    .tags
                    .iter()
                    .any(|t| c.tags.iter().any(|have| have.eq_ignore_ascii_case(t))))
            && (self.topics.entity_ids.is_empty()
                || self.topics.entity_ids.iter().any(|e| c.entity_ids.contains(e)))
    }
}
