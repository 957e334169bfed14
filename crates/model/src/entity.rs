//! Knowledge-base entities: the actors, malware, places and techniques that items mention.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{EntityId, ParseError};

/// What an entity is. The names (`as_str`, JSON) follow the finding kinds and STIX where
/// they overlap: `threat_actor`, `attack_technique`, `organization`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// A threat actor or intrusion set (`APT28`).
    ThreatActor,
    /// A malware family (`Emotet`).
    Malware,
    /// A dual-use or offensive tool (`Cobalt Strike`, `Mimikatz`).
    Tool,
    /// A country (`Russia`, also matched as `Russian`).
    Country,
    /// A region (`Eastern Europe`, a US state).
    Region,
    /// A city (`Jeddah`, `Manila`).
    City,
    /// An industry sector (`Healthcare`).
    Sector,
    /// A named organisation (`Microsoft`, `CISA`).
    #[serde(rename = "organization")]
    Organisation,
    /// A vulnerability (`CVE-2021-44228`, also `Log4Shell`).
    Vulnerability,
    /// An ATT&CK technique or sub-technique.
    #[serde(rename = "attack_technique")]
    Technique,
    /// An ATT&CK tactic.
    #[serde(rename = "attack_tactic")]
    Tactic,
    /// A named campaign.
    Campaign,
}

impl EntityKind {
    /// Every kind, in declaration order.
    pub const ALL: [EntityKind; 12] = [
        EntityKind::ThreatActor,
        EntityKind::Malware,
        EntityKind::Tool,
        EntityKind::Country,
        EntityKind::Region,
        EntityKind::City,
        EntityKind::Sector,
        EntityKind::Organisation,
        EntityKind::Vulnerability,
        EntityKind::Technique,
        EntityKind::Tactic,
        EntityKind::Campaign,
    ];

    /// The snake-case name used in JSON, the database and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::ThreatActor => "threat_actor",
            EntityKind::Malware => "malware",
            EntityKind::Tool => "tool",
            EntityKind::Country => "country",
            EntityKind::Region => "region",
            EntityKind::City => "city",
            EntityKind::Sector => "sector",
            EntityKind::Organisation => "organization",
            EntityKind::Vulnerability => "vulnerability",
            EntityKind::Technique => "attack_technique",
            EntityKind::Tactic => "attack_tactic",
            EntityKind::Campaign => "campaign",
        }
    }

    /// Whether records of these two kinds may denote one entity. Sources disagree on whether
    /// a family is malware or a tool (Cobalt Strike, Remcos), and on nothing else.
    pub fn compatible_with(self, other: EntityKind) -> bool {
        self == other
            || matches!(
                (self, other),
                (EntityKind::Malware, EntityKind::Tool) | (EntityKind::Tool, EntityKind::Malware)
            )
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EntityKind {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().replace('-', "_").to_ascii_lowercase();
        EntityKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == wanted)
            .ok_or_else(|| ParseError::new("EntityKind", s, "unknown entity kind"))
    }
}

/// How a name refers to its entity; recognition trusts the forms differently.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AliasForm {
    /// A name of the entity itself (`Fancy Bear`, `Russia`).
    #[default]
    Name,
    /// An adjective or demonym of a country (`Russian`, `North Korean`).
    Demonym,
    /// A place or institution standing for a country (`Moscow`, `the Kremlin`).
    Metonym,
}

/// One name of an entity and who asserted it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alias {
    /// The name as the source writes it (`Fancy Bear`).
    pub name: String,
    /// Which knowledge source asserted it (`misp-galaxy:threat-actor`, `attack:groups`, `analyst`).
    pub provenance: String,
    /// How the name refers to the entity.
    #[serde(default, skip_serializing_if = "is_name")]
    pub form: AliasForm,
}

fn is_name(form: &AliasForm) -> bool {
    *form == AliasForm::Name
}

/// An identifier in an outside system.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ExternalId {
    /// The system, e.g. `mitre-attack`, `uuid`, `malpedia`, `iso3166`.
    pub system: String,
    /// The id there, e.g. `G0007`.
    pub id: String,
}

impl ExternalId {
    /// An id in `system`.
    pub fn new(system: impl Into<String>, id: impl Into<String>) -> Self {
        ExternalId {
            system: system.into(),
            id: id.into(),
        }
    }
}

/// How one entity relates to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelationKind {
    /// An actor uses malware, a tool or a technique; malware uses a technique.
    Uses,
    /// An actor is attributed to (suspected to act for) a country.
    AttributedTo,
    /// An actor or campaign targets a sector or country.
    Targets,
    /// A country lies in a region, a region in a larger one.
    LocatedIn,
    /// A sub-technique belongs to its parent technique.
    SubtechniqueOf,
    /// A technique serves a tactic.
    InTactic,
}

impl RelationKind {
    /// The snake-case name used in JSON and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            RelationKind::Uses => "uses",
            RelationKind::AttributedTo => "attributed_to",
            RelationKind::Targets => "targets",
            RelationKind::LocatedIn => "located_in",
            RelationKind::SubtechniqueOf => "subtechnique_of",
            RelationKind::InTactic => "in_tactic",
        }
    }
}

impl FromStr for RelationKind {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            RelationKind::Uses,
            RelationKind::AttributedTo,
            RelationKind::Targets,
            RelationKind::LocatedIn,
            RelationKind::SubtechniqueOf,
            RelationKind::InTactic,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == s)
        .ok_or_else(|| ParseError::new("RelationKind", s, "unknown relation kind"))
    }
}

/// A typed edge from one entity to another, with the source that asserted it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Relation {
    /// What the edge means.
    pub kind: RelationKind,
    /// The entity at the other end.
    pub target: EntityId,
    /// Which knowledge source asserted it.
    pub provenance: String,
}

/// A knowledge-base entity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    /// The store's id.
    pub id: EntityId,
    /// What it is.
    pub kind: EntityKind,
    /// The name shown everywhere.
    pub canonical_name: String,
    /// Every name, the canonical one included, each with its provenance.
    pub aliases: Vec<Alias>,
    /// Ids in outside systems.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external_ids: Vec<ExternalId>,
    /// Edges to other entities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relations: Vec<Relation>,
    /// A short description, when a source gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Entity {
    /// The entity's id in `system`, if it has one.
    pub fn external_id(&self, system: &str) -> Option<&str> {
        self.external_ids
            .iter()
            .find(|id| id.system == system)
            .map(|id| id.id.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_match_serde_and_parse_back() {
        for kind in EntityKind::ALL {
            let json = serde_json::to_string(&kind).expect("serialises");
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(kind.as_str().parse::<EntityKind>().expect("parses"), kind);
        }
        assert_eq!(
            "threat-actor".parse::<EntityKind>().expect("parses"),
            EntityKind::ThreatActor
        );
        assert!("actor".parse::<EntityKind>().is_err());
    }

    #[test]
    fn only_malware_and_tools_are_interchangeable() {
        assert!(EntityKind::Malware.compatible_with(EntityKind::Tool));
        assert!(EntityKind::Country.compatible_with(EntityKind::Country));
        assert!(!EntityKind::ThreatActor.compatible_with(EntityKind::Malware));
    }
}
