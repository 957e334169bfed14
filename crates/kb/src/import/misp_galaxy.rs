//! MISP galaxy cluster files (`misp-galaxy/clusters/*.json`).
//!
//! Names come from `value` and `meta.synonyms`; ids from `uuid` (the same UUID as the
//! ATT&CK STIX object for the `mitre-*` galaxies), `meta.external_id`, an ATT&CK group page
//! in `meta.refs`, the malpedia page in `meta.refs`, and a country's `meta.ISO`. `related`
//! entries become cross-references (`similar`) or relations (`uses`, `targets`,
//! `located-in`, `subtechnique-of`); `revoked-by` drops the value.

use serde::Deserialize;
use serde_json::Value;
use threatdesk_model::{AliasForm, EntityKind, RelationKind};

use super::ImportError;
use crate::{Record, Target};

#[derive(Deserialize)]
struct GalaxyValue {
    value: String,
    #[serde(default)]
    uuid: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    meta: Meta,
    #[serde(default)]
    related: Vec<Related>,
}

#[derive(Deserialize, Default)]
struct Meta {
    #[serde(default)]
    synonyms: Vec<String>,
    #[serde(default)]
    country: Option<Value>,
    #[serde(default)]
    external_id: Option<Value>,
    #[serde(default)]
    refs: Vec<String>,
    #[serde(default)]
    kill_chain: Vec<String>,
    #[serde(default, rename = "cfr-suspected-state-sponsor")]
    state_sponsor: Option<Value>,
    #[serde(default, rename = "ISO")]
    iso: Option<String>,
    #[serde(default, rename = "Capital")]
    capital: Option<String>,
}

#[derive(Deserialize)]
struct Related {
    #[serde(rename = "dest-uuid")]
    dest_uuid: String,
    #[serde(rename = "type")]
    kind: String,
}

/// The entity kind of a galaxy's values, by the galaxy's `type`.
fn galaxy_kind(galaxy: &str) -> Option<EntityKind> {
    Some(match galaxy {
        "threat-actor" | "microsoft-activity-group" | "mitre-intrusion-set" => EntityKind::ThreatActor,
        "malpedia" | "ransomware" | "rat" | "botnet" | "backdoor" | "stealer" | "exploit-kit" | "banker"
        | "android" | "mitre-malware" => EntityKind::Malware,
        "tool" | "mitre-tool" => EntityKind::Tool,
        "country" => EntityKind::Country,
        "region" => EntityKind::Region,
        "sector" => EntityKind::Sector,
        "mitre-attack-pattern" | "mitre-enterprise-attack-attack-pattern" => EntityKind::Technique,
        "mitre-campaign" => EntityKind::Campaign,
        _ => return None,
    })
}

/// Reads a parsed galaxy cluster file.
pub fn parse(file: &str, json: &Value) -> Result<Vec<Record>, ImportError> {
    let galaxy = json.get("type").and_then(Value::as_str).unwrap_or_default();
    let kind = galaxy_kind(galaxy).ok_or_else(|| {
        ImportError::invalid(
            file,
            "type",
            format!("galaxy type '{galaxy}' holds no kind of entity threatdesk knows"),
        )
    })?;
    let values = json
        .get("values")
        .and_then(Value::as_array)
        .ok_or_else(|| ImportError::invalid(file, "values", "expected a list of cluster values"))?;
    let provenance = format!("misp-galaxy:{galaxy}");
    let mut records = Vec::with_capacity(values.len());
    for (index, raw) in values.iter().enumerate() {
        let value: GalaxyValue = serde_json::from_value(raw.clone()).map_err(|error| {
            let name = raw.get("value").and_then(Value::as_str).unwrap_or("?");
            ImportError::invalid(file, format!("values[{index}] ({name:?})"), error)
        })?;
        if value.related.iter().any(|r| r.kind == "revoked-by") {
            continue;
        }
        if let Some(record) = record(kind, &provenance, value) {
            records.push(record);
        }
    }
    Ok(records)
}

fn record(kind: EntityKind, provenance: &str, value: GalaxyValue) -> Option<Record> {
    let external_id = value.meta.external_id.as_ref().and_then(first_string);
    let mut name = value.value.trim().to_owned();
    // `mitre-*` values read "APT28 - G0007"; regions "151 - Eastern Europe".
    if let Some(id) = &external_id
        && let Some(stripped) = name.strip_suffix(&format!(" - {id}"))
    {
        name = stripped.to_owned();
    }
    let mut region_code = None;
    if kind == EntityKind::Region
        && let Some((code, rest)) = name.split_once(" - ")
        && code.bytes().all(|b| b.is_ascii_digit())
    {
        region_code = Some(code.to_owned());
        name = rest.to_owned();
    }
    if kind == EntityKind::Country {
        // Values are lower-case keys ("russia"); the description is the display name.
        if let Some(display) = value.description.as_deref().filter(|d| !d.trim().is_empty()) {
            name = display.trim().to_owned();
        }
    }
    if name.is_empty() {
        return None;
    }
    let mut record = Record::new(kind, name, provenance).names(value.meta.synonyms, AliasForm::Name);
    if kind != EntityKind::Country {
        record.description = value.description.filter(|d| !d.trim().is_empty());
    }
    if let Some(uuid) = value.uuid {
        record = record.id("uuid", uuid.to_ascii_lowercase());
    }
    if let Some(id) = external_id {
        record = record.id("mitre-attack", id);
    }
    if let Some(code) = region_code {
        record = record.id("m49", code);
    }
    if kind == EntityKind::Country {
        if let Some(iso) = value.meta.iso.filter(|iso| iso.len() == 2) {
            record = record.id("iso3166", iso.to_ascii_uppercase());
        }
        if let Some(capital) = value.meta.capital {
            record = record.names([capital], AliasForm::Metonym);
        }
    }
    record = record_refs(record, kind, &value.meta.refs);
    if kind == EntityKind::ThreatActor {
        if let Some(country) = value
            .meta
            .country
            .as_ref()
            .and_then(first_string)
            .filter(|c| c.len() == 2)
        {
            record.relations.push((
                RelationKind::AttributedTo,
                Target::Id(crate::ExternalId::new("iso3166", country.to_ascii_uppercase())),
            ));
        } else if let Some(sponsor) = value.meta.state_sponsor.as_ref().and_then(first_string) {
            record.relations.push((
                RelationKind::AttributedTo,
                Target::Name(EntityKind::Country, sponsor),
            ));
        }
    }
    if kind == EntityKind::Technique {
        for phase in &value.meta.kill_chain {
            // Enterprise phases read "attack-Windows:initial-access" (older files
            // "mitre-attack:initial-access"); mobile and PRE-ATT&CK phases are left out.
            if let Some((chain, tactic)) = phase.split_once(':')
                && (chain == "mitre-attack" || chain.starts_with("attack-"))
            {
                record.relations.push((
                    RelationKind::InTactic,
                    Target::Id(crate::ExternalId::new("attack-shortname", tactic)),
                ));
            }
        }
    }
    for related in value.related {
        let target = Target::Id(crate::ExternalId::new(
            "uuid",
            related.dest_uuid.to_ascii_lowercase(),
        ));
        let relation = match related.kind.as_str() {
            "similar" | "same-as" => {
                record.same_as.push(target);
                continue;
            }
            "uses" => RelationKind::Uses,
            "targets" => RelationKind::Targets,
            "located-in" => RelationKind::LocatedIn,
            "subtechnique-of" => RelationKind::SubtechniqueOf,
            "attributed-to" => RelationKind::AttributedTo,
            _ => continue,
        };
        record.relations.push((relation, target));
    }
    Some(record)
}

/// Ids stated in reference URLs: the malpedia family page and, when exactly one is cited,
/// the ATT&CK group or software page.
fn record_refs(mut record: Record, kind: EntityKind, refs: &[String]) -> Record {
    let mut attack_ids: Vec<&str> = Vec::new();
    for reference in refs {
        let reference = reference.trim_end_matches('/');
        if let Some(id) = reference
            .split("malpedia.caad.fkie.fraunhofer.de/details/")
            .nth(1)
            && kind != EntityKind::ThreatActor
            && !id.contains('/')
        {
            record = record.id("malpedia", id);
        }
        let page = match kind {
            EntityKind::ThreatActor => "attack.mitre.org/groups/",
            EntityKind::Malware | EntityKind::Tool => "attack.mitre.org/software/",
            _ => continue,
        };
        let prefix = if kind == EntityKind::ThreatActor {
            b'G'
        } else {
            b'S'
        };
        if let Some(id) = reference.split(page).nth(1)
            && let [first, digits @ ..] = id.as_bytes()
            && first.to_ascii_uppercase() == prefix
            && digits.len() == 4
            && digits.iter().all(u8::is_ascii_digit)
            && !attack_ids.contains(&id)
        {
            attack_ids.push(id);
        }
    }
    if let [id] = attack_ids.as_slice()
        && !record.ids.iter().any(|known| known.system == "mitre-attack")
    {
        record = record.id("mitre-attack", id.to_ascii_uppercase());
    }
    record
}

fn first_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Value::Array(items) => items.iter().find_map(first_string),
        _ => None,
    }
}
