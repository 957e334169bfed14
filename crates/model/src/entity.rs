//! Knowledge-base entities: the actors, malware, places and techniques that items mention.

use serde::{Deserialize, Serialize};

use crate::EntityId;

/// What an entity is.
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
    /// A region (`Eastern Europe`).
    Region,
    /// An industry sector (`Healthcare`).
    Sector,
    /// A named organisation (`Microsoft`, `CISA`).
    Organisation,
    /// A vulnerability (`CVE-2021-44228`, also `Log4Shell`).
    Vulnerability,
    /// An ATT&CK technique or sub-technique.
    Technique,
    /// An ATT&CK tactic.
    Tactic,
    /// A named campaign.
    Campaign,
}

/// One name of an entity and who asserted it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alias {
    /// The name as the source writes it (`Fancy Bear`).
    pub name: String,
    /// Which knowledge source asserted it (`misp-galaxy:threat-actor`, `attack:groups`, `analyst`).
    pub provenance: String,
}

/// An identifier in an outside system.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ExternalId {
    /// The system, e.g. `mitre-attack`, `misp-galaxy`, `cve`.
    pub system: String,
    /// The id there, e.g. `G0007`.
    pub id: String,
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
    /// Other names, each with its provenance.
    pub aliases: Vec<Alias>,
    /// Ids in outside systems.
    pub external_ids: Vec<ExternalId>,
    /// A short description, when a source gives one.
    pub description: Option<String>,
}
