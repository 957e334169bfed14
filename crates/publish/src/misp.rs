//! A bulletin as a MISP event: attributes for its indicators (with MISP types and
//! categories), galaxy tags for actors, malware, tools and ATT&CK techniques, the TLP tag,
//! and the bulletin's text as an event report. Uuids are name-based (as in [`crate::stix`]),
//! so re-exports are identical.

use serde_json::{Value, json};
use threatdesk_model::{Bulletin, Entity, EntityKind, FindingKind, Severity, Tlp};
use uuid::Uuid;

use crate::stix::Export;

/// The namespace of threatdesk's MISP uuids.
const NAMESPACE: Uuid = Uuid::from_u128(0x1d2c_3b4a_5f6e_4d7c_8b9a_0f1e_2d3c_4b5a);

fn uuid(key: &str) -> String {
    Uuid::new_v5(&NAMESPACE, key.as_bytes()).to_string()
}

/// MISP's attribute type and category for an indicator kind.
pub fn attribute_type(kind: FindingKind) -> Option<(&'static str, &'static str)> {
    Some(match kind {
        FindingKind::Ipv4 | FindingKind::Ipv6 => ("ip-dst", "Network activity"),
        FindingKind::Domain => ("domain", "Network activity"),
        FindingKind::Url => ("url", "Network activity"),
        FindingKind::Email => ("email-src", "Payload delivery"),
        FindingKind::Md5 => ("md5", "Payload delivery"),
        FindingKind::Sha1 => ("sha1", "Payload delivery"),
        FindingKind::Sha256 => ("sha256", "Payload delivery"),
        FindingKind::Sha512 => ("sha512", "Payload delivery"),
        FindingKind::Cve => ("vulnerability", "External analysis"),
        _ => return None,
    })
}

/// The MISP galaxy tag of an entity, for the kinds MISP has galaxies for.
fn galaxy_tag(entity: &Entity) -> Option<String> {
    let name = &entity.canonical_name;
    Some(match entity.kind {
        EntityKind::ThreatActor => format!("misp-galaxy:threat-actor=\"{name}\""),
        EntityKind::Malware => format!("misp-galaxy:malpedia=\"{name}\""),
        EntityKind::Tool => format!("misp-galaxy:tool=\"{name}\""),
        EntityKind::Technique => {
            let id = entity.external_id("mitre-attack")?;
            format!("misp-galaxy:mitre-attack-pattern=\"{name} - {id}\"")
        }
        EntityKind::Country => format!("misp-galaxy:country=\"{}\"", name.to_lowercase()),
        _ => return None,
    })
}

fn tlp_tag(tlp: Tlp) -> &'static str {
    match tlp {
        Tlp::Clear => "tlp:clear",
        Tlp::Green => "tlp:green",
        Tlp::Amber => "tlp:amber",
        Tlp::AmberStrict => "tlp:amber+strict",
        Tlp::Red => "tlp:red",
    }
}

/// MISP's threat level: 1 high, 2 medium, 3 low, 4 undefined.
fn threat_level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "1",
        Severity::Medium => "2",
        Severity::Low => "3",
        Severity::Info => "4",
    }
}

/// The uuid of `bulletin`'s event (the same in every export of it).
pub fn event_uuid(bulletin: &Bulletin) -> String {
    uuid(&format!("event/{}", bulletin.content.slug.as_str()))
}

/// The event, as MISP's JSON (`{"Event": {...}}`).
pub fn event(export: &Export<'_>) -> Value {
    let b: &Bulletin = export.bulletin;
    let slug = b.content.slug.as_str();
    let date = b.published_at.unwrap_or(b.updated_at);
    let mut tags: Vec<Value> = vec![json!({"name": tlp_tag(b.content.tlp)})];
    let mut seen = Vec::new();
    for entity in &export.entities {
        if let Some(tag) = galaxy_tag(entity)
            && !seen.contains(&tag)
        {
            tags.push(json!({"name": tag}));
            seen.push(tag);
        }
    }
    for tag in &b.content.tags {
        tags.push(json!({"name": tag}));
    }
    let mut attributes: Vec<Value> = export
        .observables
        .iter()
        .filter_map(|(kind, value)| {
            attribute_type(*kind).map(|(kind_name, category)| {
                json!({
                    "uuid": uuid(&format!("attribute/{slug}/{kind_name}/{value}")),
                    "type": kind_name,
                    "category": category,
                    "value": value,
                    "to_ids": kind_name != "vulnerability",
                    "comment": "Seen in the sources this bulletin cites",
                })
            })
        })
        .collect();
    // The cited sources, as links.
    for (title, url) in &export.sources {
        attributes.push(json!({
            "uuid": uuid(&format!("attribute/{slug}/link/{url}")),
            "type": "link",
            "category": "External analysis",
            "value": url,
            "to_ids": false,
            "comment": title,
        }));
    }
    let report = format!(
        "# {}\n\n{}\n\n## Analyst Notes\n\n{}\n",
        b.content.title,
        b.content.summary.trim(),
        b.content.analyst_notes.trim()
    );
    json!({
        "Event": {
            "uuid": event_uuid(b),
            "info": b.content.title,
            "date": date.format("%Y-%m-%d").to_string(),
            "timestamp": b.updated_at.timestamp().to_string(),
            "publish_timestamp": date.timestamp().to_string(),
            "published": b.published_at.is_some(),
            "threat_level_id": threat_level(b.content.severity),
            "analysis": "2",
            "distribution": "0",
            "Orgc": {"name": export.publisher, "uuid": uuid(&format!("org/{}", export.publisher))},
            "Tag": tags,
            "Attribute": attributes,
            "EventReport": [{
                "uuid": uuid(&format!("report/{slug}")),
                "name": b.content.title,
                "content": report,
                "distribution": "5",
                "timestamp": b.updated_at.timestamp().to_string(),
            }],
        }
    })
}
