//! The threatdesk domain model.
//!
//! This crate holds the nouns every other crate speaks: a [`Source`] yields
//! [`Item`]s; extraction attaches [`Finding`]s to items and resolves them to
//! knowledge-base [`Entity`]s; clustering groups items into [`Story`]s; analysts
//! turn stories into [`Bulletin`]s that reach [`Subscription`]s and [`User`]s.
//!
//! It is deliberately plain data: no I/O, no database, no HTTP. Every type is
//! `serde`-serialisable so the CLI's `--format json`, the web API and the
//! store share one shape. Invariants that can live in a type do (a [`Tlp`]
//! enum, a validated [`Slug`], an Admiralty [`Reliability`] grade), so code
//! further up cannot build an invalid value.

mod bulletin;
mod entity;
mod finding;
mod id;
mod item;
mod marking;
mod source;
mod story;
mod user;

pub use bulletin::{Bulletin, BulletinKind, BulletinStatus, NewBulletin, Slug, StatusTransitionError};
pub use entity::{Alias, AliasForm, Entity, EntityKind, ExternalId, Relation, RelationKind};
pub use finding::{Finding, FindingKind, Span};
pub use id::{BulletinId, EntityId, ItemId, SourceId, StoryId, SubscriptionId, UserId};
pub use item::{ContentHash, Item, NewItem};
pub use marking::{Reliability, Severity, Tlp};
pub use source::{FAILING_AFTER, HealthState, NewSource, Source, SourceHealth, SourceKind};
pub use story::Story;
pub use user::{Cadence, Role, Subscription, Topics, User};

/// A value given as text did not parse into one of the model's types.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value:?}: {reason}")]
pub struct ParseError {
    /// The kind of value that was expected, e.g. `"TLP marking"`.
    pub what: &'static str,
    /// The text as given.
    pub value: String,
    /// Why it was refused, including the accepted forms.
    pub reason: String,
}

impl ParseError {
    pub(crate) fn new(what: &'static str, value: &str, reason: impl Into<String>) -> Self {
        Self {
            what,
            value: value.to_owned(),
            reason: reason.into(),
        }
    }
}
