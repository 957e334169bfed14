//! Something extracted from an item, with the evidence for it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{EntityId, ItemId, ParseError};

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

impl FindingKind {
    /// Every kind, in declaration order.
    pub const ALL: [FindingKind; 27] = [
        FindingKind::Ipv4,
        FindingKind::Ipv6,
        FindingKind::Cidr,
        FindingKind::Domain,
        FindingKind::Url,
        FindingKind::Email,
        FindingKind::Md5,
        FindingKind::Sha1,
        FindingKind::Sha256,
        FindingKind::Sha512,
        FindingKind::Cve,
        FindingKind::AttackTechnique,
        FindingKind::AttackTactic,
        FindingKind::AttackGroup,
        FindingKind::AttackSoftware,
        FindingKind::AttackCampaign,
        FindingKind::AttackMitigation,
        FindingKind::BitcoinAddress,
        FindingKind::EthereumAddress,
        FindingKind::MoneroAddress,
        FindingKind::RegistryKey,
        FindingKind::FilePath,
        FindingKind::FileName,
        FindingKind::Asn,
        FindingKind::MacAddress,
        FindingKind::OnionAddress,
        FindingKind::EntityMention,
    ];

    /// The snake-case name used in JSON, the database and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Ipv4 => "ipv4",
            FindingKind::Ipv6 => "ipv6",
            FindingKind::Cidr => "cidr",
            FindingKind::Domain => "domain",
            FindingKind::Url => "url",
            FindingKind::Email => "email",
            FindingKind::Md5 => "md5",
            FindingKind::Sha1 => "sha1",
            FindingKind::Sha256 => "sha256",
            FindingKind::Sha512 => "sha512",
            FindingKind::Cve => "cve",
            FindingKind::AttackTechnique => "attack_technique",
            FindingKind::AttackTactic => "attack_tactic",
            FindingKind::AttackGroup => "attack_group",
            FindingKind::AttackSoftware => "attack_software",
            FindingKind::AttackCampaign => "attack_campaign",
            FindingKind::AttackMitigation => "attack_mitigation",
            FindingKind::BitcoinAddress => "bitcoin_address",
            FindingKind::EthereumAddress => "ethereum_address",
            FindingKind::MoneroAddress => "monero_address",
            FindingKind::RegistryKey => "registry_key",
            FindingKind::FilePath => "file_path",
            FindingKind::FileName => "file_name",
            FindingKind::Asn => "asn",
            FindingKind::MacAddress => "mac_address",
            FindingKind::OnionAddress => "onion_address",
            FindingKind::EntityMention => "entity_mention",
        }
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FindingKind {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim();
        FindingKind::ALL
            .into_iter()
            .find(|k| k.as_str() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = FindingKind::ALL.iter().map(|k| k.as_str()).collect();
                ParseError::new("finding kind", s, format!("known kinds: {}", known.join(", ")))
            })
    }
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

impl Finding {
    /// Whether the extractor flagged the value as benign (a private address, a vendor's
    /// domain…): never evidence, never exported as an indicator.
    pub fn is_benign(&self) -> bool {
        self.flags.iter().any(|flag| flag.starts_with("benign:"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The names used in the database and on the command line must be serde's names.
    #[test]
    fn kind_names_match_serde_and_parse_back() {
        for kind in FindingKind::ALL {
            assert_eq!(
                serde_json::to_string(&kind).ok(),
                Some(format!("\"{}\"", kind.as_str()))
            );
            assert_eq!(kind.as_str().parse::<FindingKind>(), Ok(kind));
        }
        assert!(
            "ipv5"
                .parse::<FindingKind>()
                .is_err_and(|e| e.reason.contains("known kinds: ipv4"))
        );
    }
}
