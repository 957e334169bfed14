use super::*;
use crate::import::{Format, ImportError, parse};

fn galaxy(kind: &str, values: &str) -> Vec<Record> {
    let json = format!(r#"{{"type": "{kind}", "name": "t", "values": [{values}]}}"#);
    match parse("test.json", json.as_bytes()) {
        Ok((Format::MispGalaxy, records)) => records,
        other => panic!("not a galaxy: {other:?}"),
    }
}

fn names(kb: &KnowledgeBase, name: &str) -> Vec<String> {
    kb.lookup(name).iter().map(|e| e.canonical_name.clone()).collect()
}

#[test]
fn records_sharing_an_id_or_a_similar_link_become_one_entity_with_every_alias() {
    let mut kb = KnowledgeBase::new();
    let attack = r#"{"_metadata": {}, "groups_campaigns": [{"stix_id": "intrusion-set--bef4c620-0787-42a8-a96d-b7eb6e85917c",
        "stix_type": "intrusion-set", "external_id": "G0007", "name": "APT28", "aliases": ["APT28", "Sofacy", "Fancy Bear"]}]}"#;
    let (format, records) = parse("groups.json", attack.as_bytes()).expect("parses");
    assert_eq!(format, Format::AttackLookup);
    let mut all = records;
    all.extend(galaxy(
        "threat-actor",
        r#"{"value": "Sofacy Group", "uuid": "5b4ee3ea-eee3-4c8e-8323-85ae32658754", "meta": {"synonyms": ["Pawn Storm"], "country": "RU"},
            "related": [{"dest-uuid": "bef4c620-0787-42a8-a96d-b7eb6e85917c", "type": "similar"}]}"#,
    ));
    all.extend(galaxy(
        "country",
        r#"{"value": "russia", "description": "Russia", "uuid": "11111111-1111-4111-8111-111111111111", "meta": {"ISO": "RU", "Capital": "Moscow"}}"#,
    ));
    let report = kb.merge(all.clone());
    assert_eq!(report.unions.len(), 1, "{report:?}");
    assert_eq!(kb.len(), 2);
    for name in ["APT28", "fancy  bear", "Pawn Storm", "Sofacy Group", "G0007"] {
        assert_eq!(names(&kb, name), ["APT28"], "{name}");
    }
    let apt28 = kb.by_external_id("mitre-attack", "G0007").expect("by id");
    let pawn_storm = apt28
        .aliases
        .iter()
        .find(|a| a.name == "Pawn Storm")
        .expect("alias kept");
    assert_eq!(pawn_storm.provenance, "misp-galaxy:threat-actor");
    let russia = kb.by_external_id("iso3166", "RU").expect("country");
    assert_eq!(apt28.relations.len(), 1);
    assert_eq!(
        (apt28.relations[0].kind, apt28.relations[0].target),
        (RelationKind::AttributedTo, russia.id)
    );

    // Idempotent: the same records again change nothing.
    let before: Vec<Entity> = kb.entities().cloned().collect();
    let again = kb.merge(all);
    assert_eq!(again.created, 0);
    assert!(again.unions.is_empty());
    assert_eq!(kb.entities().cloned().collect::<Vec<_>>(), before);
}

#[test]
fn links_between_entities_with_different_attack_ids_are_refused_not_merged() {
    let mut kb = KnowledgeBase::new();
    let records = galaxy(
        "mitre-intrusion-set",
        r#"{"value": "APT17 - G0025", "uuid": "aaaaaaaa-0000-4000-8000-000000000001", "meta": {"external_id": "G0025"}},
           {"value": "Axiom - G0001", "uuid": "aaaaaaaa-0000-4000-8000-000000000002", "meta": {"external_id": "G0001"},
            "related": [{"dest-uuid": "aaaaaaaa-0000-4000-8000-000000000001", "type": "similar"}]}"#,
    );
    let report = kb.merge(records);
    assert_eq!(kb.len(), 2, "two ATT&CK groups stay two entities");
    assert_eq!(report.refused.len(), 1);
    assert!(
        report.refused[0].reason.contains("different mitre-attack ids"),
        "{:?}",
        report.refused
    );
    assert_eq!(
        names(&kb, "APT17"),
        ["APT17"],
        "the ' - G0025' suffix is not part of the name"
    );
}

#[test]
fn an_alias_two_entities_claim_resolves_by_source_rank_or_is_ambiguous() {
    let mut kb = KnowledgeBase::new();
    let mut records = galaxy(
        "threat-actor",
        r#"{"value": "Turla", "uuid": "aaaaaaaa-0000-4000-8000-000000000003", "meta": {"synonyms": ["Snake"]}}"#,
    );
    records.extend(galaxy(
        "tool",
        r#"{"value": "Turla", "uuid": "aaaaaaaa-0000-4000-8000-000000000004"}"#,
    ));
    records.extend(galaxy(
        "malpedia",
        r#"{"value": "Snake", "uuid": "aaaaaaaa-0000-4000-8000-000000000005"}"#,
    ));
    kb.merge(records);
    assert_eq!(kb.len(), 3, "a shared name never merges entities");
    let index = kb.alias_index();
    let entry = |alias: &str| {
        index
            .iter()
            .find(|e| e.normalised == alias)
            .expect("indexed")
            .clone()
    };
    let turla = entry("turla");
    let winner = turla.winner().expect("resolved");
    assert_eq!(
        winner.kind,
        EntityKind::ThreatActor,
        "the actor galaxy outranks the tool list"
    );
    assert!(matches!(turla.resolution, Resolution::Resolved(_)));
    // "Snake": the actor's synonym and malpedia's canonical name, both rank 1: the entity
    // whose canonical name it is wins.
    assert_eq!(
        entry("snake").winner().expect("resolved").kind,
        EntityKind::Malware
    );
    assert_eq!(kb.alias_conflicts().len(), 2);
}

#[test]
fn ties_that_no_rule_decides_are_ambiguous() {
    let mut kb = KnowledgeBase::new();
    let records = galaxy(
        "threat-actor",
        r#"{"value": "Alpha", "uuid": "aaaaaaaa-0000-4000-8000-000000000006", "meta": {"synonyms": ["Shared"]}},
           {"value": "Beta", "uuid": "aaaaaaaa-0000-4000-8000-000000000007", "meta": {"synonyms": ["Shared"]}}"#,
    );
    kb.merge(records);
    let shared = kb
        .alias_index()
        .into_iter()
        .find(|e| e.normalised == "shared")
        .expect("indexed");
    assert_eq!(shared.resolution, Resolution::Ambiguous);
    assert!(shared.winner().is_none());
}

#[test]
fn malformed_files_are_refused_with_file_and_position() {
    let error = parse(
        "broken.json",
        b"{\n  \"type\": \"threat-actor\",\n  \"values\": [\n}",
    )
    .expect_err("invalid");
    assert!(matches!(error, ImportError::Json { line: 4, .. }), "{error}");
    assert!(error.to_string().starts_with("broken.json: line 4"), "{error}");

    let error = parse(
        "actors.json",
        br#"{"type": "threat-actor", "values": [{"value": "A"}, {"value": 7}]}"#,
    )
    .expect_err("invalid");
    assert!(error.to_string().starts_with("actors.json: values[1]"), "{error}");

    let error = parse("odd.json", br#"{"type": "weather", "values": []}"#).expect_err("unknown galaxy");
    assert!(error.to_string().contains("galaxy type 'weather'"), "{error}");

    let error = parse("t.tsv", b"# threatdesk-kb\nplanet\tx=1\tMars\n").expect_err("bad kind");
    assert!(error.to_string().starts_with("t.tsv: line 2"), "{error}");

    let error = parse("notes.txt", b"hello world").expect_err("unknown");
    assert!(matches!(error, ImportError::UnknownFormat { .. }), "{error}");
}

#[test]
fn a_stix_bundle_loads_objects_relationships_and_tactics() {
    let bundle = r#"{"type": "bundle", "id": "bundle--1", "objects": [
      {"type": "x-mitre-tactic", "id": "x-mitre-tactic--00000000-0000-4000-8000-000000000001", "name": "Initial Access",
       "x_mitre_shortname": "initial-access", "external_references": [{"source_name": "mitre-attack", "external_id": "TA0001"}]},
      {"type": "attack-pattern", "id": "attack-pattern--00000000-0000-4000-8000-000000000002", "name": "Spearphishing Attachment",
       "kill_chain_phases": [{"kill_chain_name": "mitre-attack", "phase_name": "initial-access"}],
       "external_references": [{"source_name": "mitre-attack", "external_id": "T1566.001"}]},
      {"type": "attack-pattern", "id": "attack-pattern--00000000-0000-4000-8000-000000000003", "name": "Phishing",
       "external_references": [{"source_name": "mitre-attack", "external_id": "T1566"}]},
      {"type": "intrusion-set", "id": "intrusion-set--00000000-0000-4000-8000-000000000004", "name": "Example Group",
       "aliases": ["Example Group", "Demo Panda"]},
      {"type": "malware", "id": "malware--00000000-0000-4000-8000-000000000005", "name": "Old", "revoked": true},
      {"type": "relationship", "id": "relationship--1", "relationship_type": "uses",
       "source_ref": "intrusion-set--00000000-0000-4000-8000-000000000004",
       "target_ref": "attack-pattern--00000000-0000-4000-8000-000000000002"}]}"#;
    let (format, records) = parse("bundle.json", bundle.as_bytes()).expect("parses");
    assert_eq!(format, Format::StixBundle);
    assert_eq!(records.len(), 4, "the revoked object is left out");
    let mut kb = KnowledgeBase::new();
    let report = kb.merge(records);
    assert_eq!(report.unresolved_relations, 0);
    let technique = kb.by_external_id("mitre-attack", "T1566.001").expect("technique");
    let kinds: Vec<RelationKind> = technique.relations.iter().map(|r| r.kind).collect();
    assert!(kinds.contains(&RelationKind::InTactic) && kinds.contains(&RelationKind::SubtechniqueOf));
    let group = &kb.lookup("Demo Panda")[0];
    assert_eq!(
        group.aliases[0].provenance, "stix:bundle.json",
        "not ATT&CK's: no mitre-attack reference"
    );
    assert_eq!(group.relations[0].target, technique.id);
}

#[test]
fn the_builtin_knowledge_base_resolves_aliases_across_sources() {
    let kb = KnowledgeBase::builtin();
    assert!(kb.len() > 5_000, "{} entities", kb.len());
    for alias in ["APT28", "Fancy Bear", "Sofacy", "STRONTIUM", "Forest Blizzard"] {
        let found = kb.lookup(alias);
        let first = found.first().unwrap_or_else(|| panic!("{alias} not found"));
        assert_eq!(first.external_id("mitre-attack"), Some("G0007"), "{alias}");
    }
    let russia = kb.by_external_id("iso3166", "RU").expect("Russia");
    assert!(
        russia
            .aliases
            .iter()
            .any(|a| a.name == "Russian" && a.form == AliasForm::Demonym)
    );
    let technique = kb.by_external_id("mitre-attack", "T1566.001").expect("T1566.001");
    assert_eq!(technique.canonical_name, "Spearphishing Attachment");
    let tactic = kb.by_external_id("mitre-attack", "TA0001").expect("TA0001");
    assert!(
        technique
            .relations
            .iter()
            .any(|r| r.kind == RelationKind::InTactic && r.target == tactic.id)
    );
    assert!(!KnowledgeBase::builtin_sources().is_empty());
}

#[test]
fn namesakes_of_one_kind_resolve_to_the_attack_entity_and_stay_apart() {
    let mut kb = KnowledgeBase::new();
    let mut records = galaxy(
        "malpedia",
        r#"{"value": "Eventbot", "uuid": "aaaaaaaa-0000-4000-8000-000000000008"}"#,
    );
    records.extend(galaxy(
        "mitre-malware",
        r#"{"value": "EventBot - S0478", "uuid": "aaaaaaaa-0000-4000-8000-000000000009", "meta": {"external_id": "S0478"}}"#,
    ));
    records.extend(galaxy(
        "threat-actor",
        r#"{"value": "EventBot", "uuid": "aaaaaaaa-0000-4000-8000-00000000000a"}"#,
    ));
    kb.merge(records.clone());
    assert_eq!(kb.len(), 3);
    let entry = kb
        .alias_index()
        .into_iter()
        .find(|e| e.normalised == "eventbot")
        .expect("indexed");
    assert_eq!(
        entry.resolution,
        Resolution::Ambiguous,
        "an actor namesake leaves it undecided"
    );

    let mut kb = KnowledgeBase::new();
    kb.merge(records.into_iter().take(2).collect());
    let entry = kb
        .alias_index()
        .into_iter()
        .find(|e| e.normalised == "eventbot")
        .expect("indexed");
    let winner = entry
        .winner()
        .and_then(|claim| kb.get(claim.entity))
        .expect("resolved");
    assert_eq!(winner.external_id("mitre-attack"), Some("S0478"));
    assert_eq!(kb.len(), 2, "resolution never merges");
}

#[test]
fn a_record_whose_ids_belong_to_another_kind_is_refused_every_time_without_duplicates() {
    let mut kb = KnowledgeBase::new();
    kb.merge(galaxy(
        "threat-actor",
        r#"{"value": "Careto", "uuid": "aaaaaaaa-0000-4000-8000-00000000000b"}"#,
    ));
    let clash = galaxy(
        "malpedia",
        r#"{"value": "Careto", "uuid": "aaaaaaaa-0000-4000-8000-00000000000b"}"#,
    );
    for _ in 0..2 {
        let report = kb.merge(clash.clone());
        assert_eq!((report.created, report.refused.len()), (0, 1), "{report:?}");
    }
    assert_eq!(kb.len(), 1);
}

#[test]
fn odd_reference_urls_and_lower_case_countries_are_handled() {
    let records = galaxy(
        "threat-actor",
        r#"{"value": "X", "uuid": "aaaaaaaa-0000-4000-8000-00000000000c",
            "meta": {"country": "ru", "refs": ["https://attack.mitre.org/groups/é123", "https://attack.mitre.org/groups/g0099/"]}}"#,
    );
    let ids: Vec<&str> = records[0].ids.iter().map(|id| id.id.as_str()).collect();
    assert!(ids.contains(&"G0099"), "{ids:?}");
    assert_eq!(
        records[0].relations[0].1,
        Target::Id(ExternalId::new("iso3166", "RU"))
    );
}

#[test]
fn an_attach_only_record_adds_names_but_never_renames() {
    let mut kb = KnowledgeBase::new();
    kb.merge(galaxy(
        "country",
        r#"{"value": "russia", "description": "Russia", "meta": {"ISO": "RU"}}"#,
    ));
    let table = "# threatdesk-kb provenance=analyst\ncountry\tiso3166=RU\tRussian Federation\tdemonym:Russkiy\tattach\n";
    let (_, records) = parse("t.tsv", table.as_bytes()).expect("parses");
    kb.merge(records);
    let russia = kb.by_external_id("iso3166", "RU").expect("Russia");
    assert_eq!(russia.canonical_name, "Russia");
    assert!(
        russia
            .aliases
            .iter()
            .any(|a| a.name == "Russkiy" && a.form == AliasForm::Demonym)
    );
    assert!(!russia.aliases.iter().any(|a| a.name == "Russian Federation"));
}

#[test]
fn curated_tables_carry_relations_and_reject_malformed_ones() {
    let mut kb = KnowledgeBase::new();
    kb.merge(galaxy(
        "country",
        r#"{"value": "saudi arabia", "description": "Saudi Arabia", "meta": {"ISO": "SA"}}"#,
    ));
    let table = "# threatdesk-kb provenance=geonames\ncity\tgeonames=105343\tJeddah\tJiddah\t\tlocated_in=iso3166:SA\n";
    let (_, records) = parse("cities.tsv", table.as_bytes()).expect("parses");
    let report = kb.merge(records);
    assert_eq!(report.unresolved_relations, 0);
    let jeddah = &kb.lookup("Jiddah")[0];
    assert_eq!(jeddah.kind, EntityKind::City);
    let saudi = kb.by_external_id("iso3166", "SA").expect("country");
    assert_eq!(
        (jeddah.relations[0].kind, jeddah.relations[0].target),
        (RelationKind::LocatedIn, saudi.id)
    );
    let bad = "# threatdesk-kb\ncity\t\tX\t\t\tnear=iso3166:SA\n";
    let error = parse("bad.tsv", bad.as_bytes()).expect_err("unknown relation");
    assert!(
        error.to_string().starts_with("bad.tsv: line 2: relation"),
        "{error}"
    );
}
