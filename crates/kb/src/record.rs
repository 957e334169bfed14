//! What importers produce: one source's statement about one entity, before merging.

use threatdesk_model::{AliasForm, EntityKind, ExternalId, RelationKind};

/// Names another entity by an id or, where a source has no ids, by kind and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// An id in an outside system (`uuid`, `mitre-attack`, `iso3166`…).
    Id(ExternalId),
    /// An entity of this kind having this name (not a demonym or metonym).
    Name(EntityKind, String),
}

/// One source's statement about one entity.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// What the source says the entity is.
    pub kind: EntityKind,
    /// The source's preferred name.
    pub name: String,
    /// Further names (the preferred name need not be repeated).
    pub aliases: Vec<(String, AliasForm)>,
    /// Identity keys: any id shared with an existing entity makes the record part of it.
    pub ids: Vec<ExternalId>,
    /// Explicit cross-references to the same entity (a MISP `similar` relation).
    pub same_as: Vec<Target>,
    /// Typed edges to other entities.
    pub relations: Vec<(RelationKind, Target)>,
    /// A description, when the source has one.
    pub description: Option<String>,
    /// Who asserted it, e.g. `attack`, `misp-galaxy:threat-actor`.
    pub provenance: String,
    /// The record only adds to an entity found by `ids` or `same_as`; it never creates one.
    pub attach_only: bool,
}

impl Record {
    /// A record with a name and nothing else yet.
    pub fn new(kind: EntityKind, name: impl Into<String>, provenance: impl Into<String>) -> Self {
        Record {
            kind,
            name: name.into(),
            aliases: Vec::new(),
            ids: Vec::new(),
            same_as: Vec::new(),
            relations: Vec::new(),
            description: None,
            provenance: provenance.into(),
            attach_only: false,
        }
    }

    /// Adds an identity key.
    pub fn id(mut self, system: &str, id: impl Into<String>) -> Self {
        let id = id.into();
        if !id.is_empty()
            && !self
                .ids
                .iter()
                .any(|known| known.system == system && known.id == id)
        {
            self.ids.push(ExternalId::new(system, id));
        }
        self
    }

    /// Adds names, skipping empty ones.
    pub fn names<I, S>(mut self, names: I, form: AliasForm) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        for name in names {
            let name: String = name.into();
            let name = name.trim();
            if !name.is_empty() {
                self.aliases.push((name.to_owned(), form));
            }
        }
        self
    }
}
