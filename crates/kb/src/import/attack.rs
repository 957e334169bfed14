//! ATT&CK data: the compact lookup files and full STIX 2.1 bundles (ATT&CK's own
//! `enterprise-attack.json`, or any bundle of intrusion sets, malware, tools, campaigns,
//! attack patterns and tactics).
//!
//! Ids are the STIX object UUID (shared with the MISP `mitre-*` galaxies) and the ATT&CK id
//! (`G0007`, `S0367`, `T1566.001`, `TA0001`, `C0001`). Revoked and deprecated objects are
//! left out.

use std::collections::HashMap;

use serde_json::Value;
use threatdesk_model::{AliasForm, EntityKind, ExternalId, RelationKind};

use super::{ImportError, file_label};
use crate::{Record, Target};

/// ATT&CK's provenance string.
pub const PROVENANCE: &str = "attack";

fn kind_of(stix_type: &str) -> Option<EntityKind> {
    Some(match stix_type {
        "intrusion-set" => EntityKind::ThreatActor,
        "malware" => EntityKind::Malware,
        "tool" => EntityKind::Tool,
        "campaign" => EntityKind::Campaign,
        "attack-pattern" => EntityKind::Technique,
        "x-mitre-tactic" => EntityKind::Tactic,
        _ => return None,
    })
}

fn uuid_of(stix_id: &str) -> Option<String> {
    stix_id
        .split_once("--")
        .map(|(_, uuid)| uuid.to_ascii_lowercase())
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn flag(object: &Value, key: &str) -> bool {
    object.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// The parent technique of a sub-technique id (`T1566.001` → `T1566`).
fn parent_technique(id: &str) -> Option<&str> {
    id.split_once('.').map(|(parent, _)| parent)
}

/// Reads a lookup file: `{"_metadata": …, "attack_patterns" | "groups_campaigns" | "software": […]}`.
pub fn parse_lookup(file: &str, json: &Value) -> Result<Vec<Record>, ImportError> {
    let (key, list) = ["attack_patterns", "groups_campaigns", "software"]
        .iter()
        .find_map(|key| json.get(*key).map(|list| (*key, list)))
        .ok_or_else(|| {
            ImportError::invalid(
                file,
                "top level",
                "expected attack_patterns, groups_campaigns or software",
            )
        })?;
    let list = list
        .as_array()
        .ok_or_else(|| ImportError::invalid(file, key, "expected a list"))?;
    let mut records = Vec::with_capacity(list.len());
    for (index, object) in list.iter().enumerate() {
        let position = || format!("{key}[{index}]");
        if flag(object, "revoked") || flag(object, "deprecated") {
            continue;
        }
        let name = object
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| ImportError::invalid(file, position(), "no name"))?;
        let stix_type = object
            .get("stix_type")
            .and_then(Value::as_str)
            .unwrap_or(match key {
                "attack_patterns" => "attack-pattern",
                _ => "",
            });
        let kind = kind_of(stix_type).ok_or_else(|| {
            ImportError::invalid(file, position(), format!("unknown stix_type {stix_type:?}"))
        })?;
        let external_id = object
            .get("external_id")
            .and_then(Value::as_str)
            .ok_or_else(|| ImportError::invalid(file, position(), "no external_id"))?;
        let mut record = Record::new(kind, name, PROVENANCE)
            .names(strings(object.get("aliases")), AliasForm::Name)
            .id("mitre-attack", external_id);
        if let Some(uuid) = object.get("stix_id").and_then(Value::as_str).and_then(uuid_of) {
            record = record.id("uuid", uuid);
        }
        for tactic in strings(object.get("tactics")) {
            record.relations.push((
                RelationKind::InTactic,
                Target::Id(ExternalId::new("attack-shortname", tactic)),
            ));
        }
        if let Some(parent) = parent_technique(external_id) {
            record.relations.push((
                RelationKind::SubtechniqueOf,
                Target::Id(ExternalId::new("mitre-attack", parent)),
            ));
        }
        records.push(record);
    }
    Ok(records)
}

/// Reads a STIX 2.1 bundle. Objects citing `mitre-attack` in their external references are
/// ATT&CK's (provenance `attack`); others are `stix:<file>`.
pub fn parse_stix_bundle(file: &str, json: &Value) -> Result<Vec<Record>, ImportError> {
    let objects = json
        .get("objects")
        .and_then(Value::as_array)
        .ok_or_else(|| ImportError::invalid(file, "objects", "expected a list of STIX objects"))?;
    let other_provenance = format!("stix:{}", file_label(file));
    let mut records: Vec<Record> = Vec::new();
    let mut by_stix_id: HashMap<&str, usize> = HashMap::new();
    let mut relationships = Vec::new();
    for (index, object) in objects.iter().enumerate() {
        let position = || format!("objects[{index}]");
        let stix_type = object
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| ImportError::invalid(file, position(), "object without a type"))?;
        let stix_id = object
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| ImportError::invalid(file, position(), "object without an id"))?;
        if flag(object, "revoked") || flag(object, "x_mitre_deprecated") {
            continue;
        }
        if stix_type == "relationship" {
            relationships.push((index, object));
            continue;
        }
        let Some(kind) = kind_of(stix_type) else { continue };
        let name = object
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| ImportError::invalid(file, position(), format!("{stix_type} without a name")))?;
        let references = object.get("external_references").and_then(Value::as_array);
        let attack_id = references.into_iter().flatten().find_map(|reference| {
            (reference.get("source_name").and_then(Value::as_str) == Some("mitre-attack"))
                .then(|| reference.get("external_id").and_then(Value::as_str))
                .flatten()
        });
        let provenance = if attack_id.is_some() {
            PROVENANCE
        } else {
            other_provenance.as_str()
        };
        let mut record = Record::new(kind, name, provenance)
            .names(strings(object.get("aliases")), AliasForm::Name)
            .names(strings(object.get("x_mitre_aliases")), AliasForm::Name);
        if let Some(uuid) = uuid_of(stix_id) {
            record = record.id("uuid", uuid);
        }
        if let Some(id) = attack_id {
            record = record.id("mitre-attack", id);
            if let Some(parent) = parent_technique(id) {
                record.relations.push((
                    RelationKind::SubtechniqueOf,
                    Target::Id(ExternalId::new("mitre-attack", parent)),
                ));
            }
        }
        if let Some(shortname) = object.get("x_mitre_shortname").and_then(Value::as_str) {
            record = record.id("attack-shortname", shortname);
        }
        for phase in object
            .get("kill_chain_phases")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let chain = phase.get("kill_chain_name").and_then(Value::as_str);
            if let (Some("mitre-attack"), Some(tactic)) =
                (chain, phase.get("phase_name").and_then(Value::as_str))
            {
                record.relations.push((
                    RelationKind::InTactic,
                    Target::Id(ExternalId::new("attack-shortname", tactic)),
                ));
            }
        }
        record.description = object
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_owned);
        by_stix_id.insert(stix_id, records.len());
        records.push(record);
    }
    for (index, relationship) in relationships {
        let kind = match relationship.get("relationship_type").and_then(Value::as_str) {
            Some("uses") => RelationKind::Uses,
            Some("subtechnique-of") => RelationKind::SubtechniqueOf,
            Some("attributed-to") => RelationKind::AttributedTo,
            Some("targets") => RelationKind::Targets,
            _ => continue,
        };
        let source = relationship.get("source_ref").and_then(Value::as_str);
        let target = relationship
            .get("target_ref")
            .and_then(Value::as_str)
            .and_then(uuid_of);
        let (Some(source), Some(target)) = (source, target) else {
            return Err(ImportError::invalid(
                file,
                format!("objects[{index}]"),
                "relationship without source_ref or target_ref",
            ));
        };
        if let Some(&record) = by_stix_id.get(source) {
            records[record]
                .relations
                .push((kind, Target::Id(ExternalId::new("uuid", target))));
        }
    }
    Ok(records)
}
