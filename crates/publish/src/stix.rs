//! A bulletin as a STIX 2.1 bundle: a `report` whose `object_refs` cover the bulletin's
//! actors, malware, tools, countries, ATT&CK techniques, vulnerabilities and indicators, the
//! publishing `identity`, and the TLP 2.0 marking.
//!
//! Ids are name-based UUIDs of stable keys (see [`id`]) (the bulletin's slug; an entity's kind and name; an
//! indicator's pattern), so exporting the same bulletin version twice gives the same bytes,
//! and the same actor has the same id in every bulletin. Objects drawn from the knowledge
//! base carry a fixed creation time for the same reason.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use threatdesk_model::{Bulletin, Entity, EntityKind, FindingKind, Tlp};
use uuid::Uuid;

/// The namespace of threatdesk's STIX ids (a fixed random UUID).
const NAMESPACE: Uuid = Uuid::from_u128(0x6c1b_5d2e_8f3a_4b7c_9d0e_1f2a_3b4c_5d6e);

/// When knowledge-base objects are said to be created: fixed, so their ids and bytes never
/// change between exports.
const REFERENCE_TIME: &str = "2020-01-01T00:00:00.000Z";

/// The TLP 2.0 marking definitions (FIRST TLP 2.0 as STIX extension objects, with the ids
/// the OASIS CTI TC published).
fn tlp_marking(tlp: Tlp) -> Value {
    let (id, level) = match tlp {
        Tlp::Clear => ("94868c89-83c2-464b-929b-a1a8aa3c8487", "clear"),
        Tlp::Green => ("bab4a63c-aed9-4cf5-a766-dfca5abac2bb", "green"),
        Tlp::Amber => ("55d920b0-5e8b-4f79-9ee9-91f868d9b421", "amber"),
        Tlp::AmberStrict => ("939a9414-2ddd-4d32-a0cd-375ea402b003", "amber+strict"),
        Tlp::Red => ("e828b379-4e03-4974-9ac4-e53a884c97c1", "red"),
    };
    json!({
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": format!("marking-definition--{id}"),
        "created": "2022-10-01T00:00:00.000Z",
        "name": format!("TLP:{}", level.to_uppercase()),
        "extensions": {
            "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d": {
                "extension_type": "property-extension",
                "tlp_2_0": level
            }
        }
    })
}

/// A deterministic id: the UUIDv5 of `kind/key`, re-stamped with the version bits of a
/// UUIDv4, because STIX 2.1 asks for v4 ids on domain objects (the OASIS validator's
/// strict mode refuses v5 ones) while exports must be reproducible.
fn id(kind: &str, key: &str) -> String {
    let name_based = Uuid::new_v5(&NAMESPACE, format!("{kind}/{key}").as_bytes());
    let stamped = uuid::Builder::from_random_bytes(name_based.into_bytes()).into_uuid();
    format!("{kind}--{stamped}")
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A quoted value inside a STIX pattern.
fn quoted(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The STIX pattern of an indicator value, for the kinds that have one.
pub fn pattern(kind: FindingKind, value: &str) -> Option<String> {
    let path = match kind {
        FindingKind::Ipv4 => "ipv4-addr:value",
        FindingKind::Ipv6 => "ipv6-addr:value",
        FindingKind::Domain => "domain-name:value",
        FindingKind::Url => "url:value",
        FindingKind::Email => "email-addr:value",
        FindingKind::Md5 => "file:hashes.MD5",
        FindingKind::Sha1 => "file:hashes.'SHA-1'",
        FindingKind::Sha256 => "file:hashes.'SHA-256'",
        FindingKind::Sha512 => "file:hashes.'SHA-512'",
        _ => return None,
    };
    Some(format!("[{path} = {}]", quoted(value)))
}

/// What the bundle is made of.
#[derive(Debug)]
pub struct Export<'a> {
    /// The bulletin, at the version to export.
    pub bulletin: &'a Bulletin,
    /// Knowledge-base entities it is about or its sources mention.
    pub entities: Vec<&'a Entity>,
    /// Indicator and vulnerability values from its sources: (kind, value).
    pub observables: Vec<(FindingKind, String)>,
    /// The sources it draws on: (title, URL).
    pub sources: Vec<(String, String)>,
    /// The publishing organisation's name.
    pub publisher: &'a str,
}

/// The bundle, as JSON.
pub fn bundle(export: &Export<'_>) -> Value {
    let b = export.bulletin;
    let marking = tlp_marking(b.content.tlp);
    let marking_id = marking["id"].clone();
    let identity_id = id("identity", export.publisher);
    let created = time(b.created_at);
    let modified = time(b.updated_at.max(b.created_at));
    let common = |kind: &str, key: &str| {
        json!({
            "type": kind,
            "spec_version": "2.1",
            "id": id(kind, key),
            "created": REFERENCE_TIME,
            "modified": REFERENCE_TIME,
            "created_by_ref": identity_id,
            "object_marking_refs": [marking_id],
        })
    };
    let mut objects: Vec<Value> = Vec::new();
    for entity in &export.entities {
        let name = entity.canonical_name.as_str();
        let aliases: Vec<&str> = entity
            .aliases
            .iter()
            .map(|a| a.name.as_str())
            .filter(|a| *a != name)
            .collect();
        let object = match entity.kind {
            EntityKind::ThreatActor => {
                let mut o = common("intrusion-set", name);
                o["name"] = json!(name);
                if !aliases.is_empty() {
                    o["aliases"] = json!(aliases);
                }
                Some(o)
            }
            EntityKind::Malware => {
                let mut o = common("malware", name);
                o["name"] = json!(name);
                o["is_family"] = json!(true);
                if !aliases.is_empty() {
                    o["aliases"] = json!(aliases);
                }
                Some(o)
            }
            EntityKind::Tool => {
                let mut o = common("tool", name);
                o["name"] = json!(name);
                if !aliases.is_empty() {
                    o["aliases"] = json!(aliases);
                }
                Some(o)
            }
            EntityKind::Country => entity.external_id("iso3166").map(|code| {
                let mut o = common("location", name);
                o["name"] = json!(name);
                o["country"] = json!(code);
                o
            }),
            EntityKind::Technique => entity.external_id("mitre-attack").map(|technique| {
                let mut o = common("attack-pattern", name);
                o["name"] = json!(name);
                o["external_references"] = json!([{"source_name": "mitre-attack", "external_id": technique}]);
                o
            }),
            _ => None,
        };
        if let Some(object) = object
            && !objects.iter().any(|o| o["id"] == object["id"])
        {
            objects.push(object);
        }
    }
    for (kind, value) in &export.observables {
        let object = if *kind == FindingKind::Cve {
            let mut o = common("vulnerability", value);
            o["name"] = json!(value);
            o["external_references"] = json!([{"source_name": "cve", "external_id": value}]);
            Some(o)
        } else {
            pattern(*kind, value).map(|pattern| {
                let mut o = common("indicator", &pattern);
                o["name"] = json!(value);
                o["description"] = json!(format!(
                    "A {} reported in threat intelligence sources.",
                    kind.as_str()
                ));
                o["indicator_types"] = json!(["malicious-activity"]);
                o["pattern"] = json!(pattern);
                o["pattern_type"] = json!("stix");
                o["valid_from"] = json!(REFERENCE_TIME);
                o
            })
        };
        if let Some(object) = object
            && !objects.iter().any(|o| o["id"] == object["id"])
        {
            objects.push(object);
        }
    }
    objects.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    let mut refs: Vec<Value> = objects.iter().map(|o| o["id"].clone()).collect();
    refs.insert(0, json!(identity_id));
    let description = format!(
        "{}\n\nAnalyst Notes\n\n{}",
        b.content.summary.trim(),
        b.content.analyst_notes.trim()
    );
    let mut report = json!({
        "type": "report",
        "spec_version": "2.1",
        "id": id("report", b.content.slug.as_str()),
        "created": created,
        "modified": modified,
        "created_by_ref": identity_id,
        "name": b.content.title,
        "description": description,
        "published": time(b.published_at.unwrap_or(b.updated_at)),
        "report_types": ["threat-report"],
        "object_refs": refs,
        "object_marking_refs": [marking_id],
    });
    if !b.content.tags.is_empty() {
        report["labels"] = json!(b.content.tags);
    }
    if !export.sources.is_empty() {
        report["external_references"] = json!(
            export
                .sources
                .iter()
                .map(|(title, url)| json!({"source_name": title, "url": url}))
                .collect::<Vec<_>>()
        );
    }
    let identity = json!({
        "type": "identity",
        "spec_version": "2.1",
        "id": identity_id,
        "created": REFERENCE_TIME,
        "modified": REFERENCE_TIME,
        "name": export.publisher,
        "identity_class": "organization",
    });
    let mut all = vec![marking, identity, report];
    all.extend(objects);
    json!({
        "type": "bundle",
        "id": id("bundle", &format!("{}@{}", b.content.slug.as_str(), b.version)),
        "objects": all,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_quote_and_escape_values() {
        assert_eq!(
            pattern(FindingKind::Ipv4, "198.51.100.7").as_deref(),
            Some("[ipv4-addr:value = '198.51.100.7']")
        );
        assert_eq!(
            pattern(FindingKind::Url, "http://x.example/a'b\\c").as_deref(),
            Some("[url:value = 'http://x.example/a\\'b\\\\c']")
        );
        assert_eq!(
            pattern(FindingKind::Sha256, "ab").as_deref(),
            Some("[file:hashes.'SHA-256' = 'ab']")
        );
        assert_eq!(pattern(FindingKind::EntityMention, "APT28"), None);
    }

    #[test]
    fn ids_are_stable_and_distinct_by_kind() {
        assert_eq!(id("malware", "Emotet"), id("malware", "Emotet"));
        assert_ne!(id("malware", "Emotet"), id("tool", "Emotet"));
        assert!(id("report", "x").starts_with("report--"));
    }
}
