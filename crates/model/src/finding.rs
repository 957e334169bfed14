//! Something extracted from an item, with the evidence for it.

use serde::{Deserialize, Serialize};

use crate::{EntityId, ItemId};

/// A half-open byte range `start..end` into an item's text (UTF-8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// The span's text in `haystack`, or `None` when the span is out of range or not on
    /// character boundaries (a finding must never panic its reader).
    pub fn slice<'a>(&self, haystack: &'a str) -> Option<&'a str> {
        haystack.get(self.start..self.end)
    }
}

/// What kind of thing a finding is. Observables (IOCs) and mentions of knowledge-base
/// entities share one list so an item's evidence can be shown in text order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)] // The variant names are the documentation.
pub enum FindingKind {
    Ipv4,
    Ipv6,
    Cidr,
    Domain,
    Url,
    Email,
    Md5,
    Sha1,
    Sha256,
    Sha512,
    Cve,
    AttackTechnique,
    AttackTactic,
    AttackGroup,
    AttackSoftware,
    AttackCampaign,
    AttackMitigation,
    BitcoinAddress,
    EthereumAddress,
    MoneroAddress,
    RegistryKey,
    FilePath,
    FileName,
    Asn,
    MacAddress,
    OnionAddress,
    /// A mention resolved to a knowledge-base entity (actor, malware, country…).
    EntityMention,
}

/// One extracted observable or entity mention.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The item it was found in.
    pub item_id: ItemId,
    /// What it is.
    pub kind: FindingKind,
    /// The normalised value: refanged, lower-cased where the kind is case-insensitive,
    /// or the canonical entity name.
    pub value: String,
    /// The text exactly as written in the item.
    pub text: String,
    /// Where in the item's text it was written.
    pub span: Span,
    /// How sure the extractor is, `0.0..=1.0`.
    pub confidence: f32,
    /// Knowledge-base entities it resolves to (an alias can denote one entity).
    pub entity_ids: Vec<EntityId>,
    /// Extractor flags, e.g. `defanged`, `benign:rfc1918`.
    pub flags: Vec<String>,
}
