//! Folding records into entities: by shared ids and explicit cross-references only.

use std::collections::HashMap;

use serde::Serialize;
use threatdesk_model::{Alias, AliasForm, Entity, EntityId, EntityKind, ExternalId, Relation};

use crate::{KnowledgeBase, Record, SINGLE_VALUED_SYSTEMS, Target, kind_group, normalise, provenance_rank};

/// What a merge did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MergeReport {
    /// Records read.
    pub records: usize,
    /// Entities created.
    pub created: usize,
    /// Records that added to an entity already there.
    pub merged: usize,
    /// Entities joined because a record or cross-reference said they are one.
    pub unions: Vec<Union>,
    /// Statements not applied, each with the reason.
    pub refused: Vec<Refusal>,
    /// Relations whose other end is not in the knowledge base.
    pub unresolved_relations: usize,
}

/// Two entities found to be one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Union {
    /// The entity that remains.
    pub kept: EntityId,
    /// Its canonical name.
    pub kept_name: String,
    /// The canonical name of the entity folded into it.
    pub absorbed_name: String,
    /// Which statement joined them.
    pub reason: String,
}

/// A statement the merge did not apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// `provenance: name` of the record.
    pub record: String,
    /// Why.
    pub reason: String,
}

impl KnowledgeBase {
    /// Folds `records` into the knowledge base and reports what happened.
    ///
    /// A record joins the entity that has any of its ids (or that a cross-reference names);
    /// otherwise it creates one. Records sharing ids with entities of incompatible kinds,
    /// and joins that would give one entity two ATT&CK (or malpedia, or ISO) ids, are
    /// refused and reported; names alone never join entities. Merging the same records
    /// twice changes nothing.
    pub fn merge(&mut self, records: Vec<Record>) -> MergeReport {
        let mut report = MergeReport {
            records: records.len(),
            ..MergeReport::default()
        };
        let mut redirect: HashMap<EntityId, EntityId> = HashMap::new();
        let mut homes: Vec<Option<EntityId>> = Vec::with_capacity(records.len());
        for record in &records {
            homes.push(self.place(record, &mut redirect, &mut report));
        }
        // Cross-references may point forward, to records placed after theirs.
        for (record, home) in records.iter().zip(&homes) {
            let Some(home) = *home else { continue };
            for target in &record.same_as {
                let home = chase(&redirect, home);
                if let Some(other) = self.resolve_target(target) {
                    let other = chase(&redirect, other);
                    if other != home {
                        self.join(home, other, record, &mut redirect, &mut report);
                    }
                }
            }
        }
        for (record, home) in records.iter().zip(&homes) {
            let Some(home) = *home else { continue };
            let home = chase(&redirect, home);
            for (kind, target) in &record.relations {
                match self.resolve_target(target) {
                    Some(target) => {
                        let target = chase(&redirect, target);
                        if target == home {
                            continue;
                        }
                        let relation = Relation {
                            kind: *kind,
                            target,
                            provenance: record.provenance.clone(),
                        };
                        if let Some(entity) = self.entities.get_mut(&home)
                            && !entity.relations.contains(&relation)
                        {
                            entity.relations.push(relation);
                        }
                    }
                    None => report.unresolved_relations += 1,
                }
            }
        }
        if !redirect.is_empty() {
            for entity in self.entities.values_mut() {
                for relation in &mut entity.relations {
                    relation.target = chase(&redirect, relation.target);
                }
                let id = entity.id;
                entity.relations.retain(|r| r.target != id);
                entity.relations.sort();
                entity.relations.dedup();
            }
        }
        report
    }

    /// Finds or creates the entity for `record` and adds the record to it.
    fn place(
        &mut self,
        record: &Record,
        redirect: &mut HashMap<EntityId, EntityId>,
        report: &mut MergeReport,
    ) -> Option<EntityId> {
        let mut hits: Vec<EntityId> = record
            .ids
            .iter()
            .filter_map(|id| self.by_key.get(id).copied())
            .collect();
        for target in &record.same_as {
            if let Target::Name(..) = target
                && let Some(id) = self.resolve_target(target)
            {
                hits.push(id);
            }
        }
        hits.sort();
        hits.dedup();
        let hits_empty = hits.is_empty();
        let mut compatible = Vec::new();
        for id in hits {
            match self.entities.get(&id) {
                Some(entity) if entity.kind.compatible_with(record.kind) => compatible.push(id),
                Some(entity) => report.refused.push(Refusal {
                    record: describe(record),
                    reason: format!(
                        "shares an id with {} '{}', which is a different kind of entity",
                        entity.kind, entity.canonical_name
                    ),
                }),
                None => {}
            }
        }
        let refused_all = compatible.is_empty() && !hits_empty;
        let home = match compatible.split_first() {
            // Every id it has belongs to an entity of another kind: creating an entity without
            // them would create another one at every import.
            None if refused_all => return None,
            None if record.attach_only => {
                report.refused.push(Refusal {
                    record: describe(record),
                    reason: "adds to an entity that is not in the knowledge base".to_owned(),
                });
                return None;
            }
            None => {
                let id = EntityId(self.next_id);
                self.next_id += 1;
                self.entities.insert(
                    id,
                    Entity {
                        id,
                        kind: record.kind,
                        canonical_name: record.name.clone(),
                        aliases: Vec::new(),
                        external_ids: Vec::new(),
                        relations: Vec::new(),
                        description: None,
                    },
                );
                report.created += 1;
                id
            }
            Some((&first, rest)) => {
                report.merged += 1;
                let mut home = first;
                for &other in rest {
                    home = self.join(home, other, record, redirect, report);
                }
                home
            }
        };
        self.absorb(home, record, report);
        Some(home)
    }

    /// Adds a record's names, ids and description to an entity.
    fn absorb(&mut self, home: EntityId, record: &Record, report: &mut MergeReport) {
        let rank = provenance_rank(&record.provenance);
        let mut new_ids = Vec::new();
        let Some(entity) = self.entities.get_mut(&home) else {
            return;
        };
        // An attach-only record's name only finds its entity: it names nothing.
        if !record.attach_only && rank < canonical_rank(entity) && entity.kind.compatible_with(record.kind) {
            entity.canonical_name = record.name.clone();
            entity.kind = record.kind;
        }
        // An attach-only record's name only finds its entity; its aliases are what it adds.
        let own_name = (!record.attach_only).then_some((record.name.as_str(), AliasForm::Name));
        let names = own_name
            .into_iter()
            .chain(record.aliases.iter().map(|(name, form)| (name.as_str(), *form)));
        for (name, form) in names {
            let alias = Alias {
                name: name.to_owned(),
                provenance: record.provenance.clone(),
                form,
            };
            if !entity.aliases.contains(&alias) {
                entity.aliases.push(alias);
            }
        }
        for id in &record.ids {
            if entity.external_ids.contains(id) {
                continue;
            }
            if self.by_key.get(id).is_some_and(|owner| *owner != home) {
                continue;
            }
            let clashes = SINGLE_VALUED_SYSTEMS.contains(&id.system.as_str())
                && entity.external_ids.iter().any(|known| known.system == id.system);
            if clashes {
                report.refused.push(Refusal {
                    record: describe(record),
                    reason: format!(
                        "gives '{}' a second {} id {} (it has {})",
                        entity.canonical_name,
                        id.system,
                        id.id,
                        entity.external_id(&id.system).unwrap_or_default()
                    ),
                });
                continue;
            }
            entity.external_ids.push(id.clone());
            new_ids.push(id.clone());
        }
        if entity.description.is_none() {
            entity.description.clone_from(&record.description);
        }
        let kind = kind_group(entity.kind);
        for id in new_ids {
            self.by_key.insert(id, home);
        }
        let names = (!record.attach_only).then_some(&record.name).into_iter().chain(
            record
                .aliases
                .iter()
                .filter(|(_, form)| *form == AliasForm::Name)
                .map(|(name, _)| name),
        );
        for name in names {
            let ids = self.by_name.entry((kind, normalise(name))).or_default();
            if !ids.contains(&home) {
                ids.push(home);
            }
        }
    }

    /// Joins two entities a record says are one, unless that is impossible; returns the
    /// entity that remains (`keep` when refused).
    fn join(
        &mut self,
        keep: EntityId,
        other: EntityId,
        record: &Record,
        redirect: &mut HashMap<EntityId, EntityId>,
        report: &mut MergeReport,
    ) -> EntityId {
        let (Some(kept), Some(absorbed)) = (self.entities.get(&keep), self.entities.get(&other)) else {
            return keep;
        };
        if !kept.kind.compatible_with(absorbed.kind) {
            report.refused.push(Refusal {
                record: describe(record),
                reason: format!(
                    "links {} '{}' with {} '{}'",
                    kept.kind, kept.canonical_name, absorbed.kind, absorbed.canonical_name
                ),
            });
            return keep;
        }
        let clash = kept.external_ids.iter().find(|id| {
            SINGLE_VALUED_SYSTEMS.contains(&id.system.as_str())
                && absorbed
                    .external_ids
                    .iter()
                    .any(|other| other.system == id.system && other.id != id.id)
        });
        if let Some(clash) = clash {
            report.refused.push(Refusal {
                record: describe(record),
                reason: format!(
                    "links '{}' and '{}', which have different {} ids",
                    kept.canonical_name, absorbed.canonical_name, clash.system
                ),
            });
            return keep;
        }
        let Some(absorbed) = self.entities.remove(&other) else {
            return keep;
        };
        let absorbed_kind = absorbed.kind;
        let Some(kept) = self.entities.get_mut(&keep) else {
            return keep;
        };
        report.unions.push(Union {
            kept: keep,
            kept_name: kept.canonical_name.clone(),
            absorbed_name: absorbed.canonical_name.clone(),
            reason: describe(record),
        });
        if canonical_rank(&absorbed) < canonical_rank(kept) {
            kept.canonical_name = absorbed.canonical_name.clone();
            kept.kind = absorbed.kind;
        }
        for alias in absorbed.aliases {
            if !kept.aliases.contains(&alias) {
                kept.aliases.push(alias);
            }
        }
        for id in absorbed.external_ids {
            if !kept.external_ids.contains(&id) {
                self.by_key.insert(id.clone(), keep);
                kept.external_ids.push(id);
            }
        }
        kept.relations.extend(absorbed.relations);
        if kept.description.is_none() {
            kept.description = absorbed.description;
        }
        // Only the absorbed entity's own names can mention it in the name index.
        let absorbed_names: Vec<(EntityKind, String)> = kept
            .aliases
            .iter()
            .filter(|alias| alias.form == AliasForm::Name)
            .flat_map(|alias| {
                let name = normalise(&alias.name);
                [
                    (kind_group(kept.kind), name.clone()),
                    (kind_group(absorbed_kind), name),
                ]
            })
            .collect();
        for key in absorbed_names {
            if let Some(ids) = self.by_name.get_mut(&key)
                && let Some(position) = ids.iter().position(|id| *id == other)
            {
                if ids.contains(&keep) {
                    ids.remove(position);
                } else if let Some(slot) = ids.get_mut(position) {
                    *slot = keep;
                }
            }
        }
        redirect.insert(other, keep);
        keep
    }

    /// The entity a target denotes: by id, or by a name that exactly one entity of a
    /// compatible kind has.
    fn resolve_target(&self, target: &Target) -> Option<EntityId> {
        match target {
            Target::Id(id) => self.by_key.get(id).copied(),
            Target::Name(kind, name) => match self.by_name.get(&(kind_group(*kind), normalise(name))) {
                Some(ids) if ids.len() == 1 => ids.first().copied(),
                _ => None,
            },
        }
    }
}

/// The rank of the best source that gives an entity its canonical name.
fn canonical_rank(entity: &Entity) -> u8 {
    entity
        .aliases
        .iter()
        .filter(|alias| alias.form == AliasForm::Name && alias.name == entity.canonical_name)
        .map(|alias| provenance_rank(&alias.provenance))
        .min()
        .unwrap_or(u8::MAX)
}

fn chase(redirect: &HashMap<EntityId, EntityId>, mut id: EntityId) -> EntityId {
    while let Some(next) = redirect.get(&id) {
        id = *next;
    }
    id
}

fn describe(record: &Record) -> String {
    format!("{}: {}", record.provenance, record.name)
}

/// Synthesises an identity key for records whose source gives none, so that importing
/// them again finds the same entity.
pub(crate) fn name_key(provenance: &str, name: &str) -> ExternalId {
    ExternalId::new(format!("name:{provenance}"), normalise(name))
}
