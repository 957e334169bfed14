use std::path::Path;

use crate::Workspace;

const GALAXY: &str = r#"{"type": "threat-actor", "name": "Local actors", "uuid": "00000000-0000-4000-8000-00000000000a",
 "values": [
  {"value": "Quilted Heron", "uuid": "00000000-0000-4000-8000-000000000001",
   "meta": {"synonyms": ["HERON-17", "Stitchwork Team"], "country": "RU"}},
  {"value": "Sofacy Group", "uuid": "5b4ee3ea-eee3-4c8e-8323-85ae32658754",
   "meta": {"synonyms": ["Frozen Heron"], "refs": ["https://attack.mitre.org/groups/G0007/"]}}
 ]}"#;

fn entity_count(ws: &Workspace) -> u64 {
    ws.json(&["kb", "stats"])["entities"].as_u64().expect("count")
}

#[test]
fn import_merges_into_the_builtin_knowledge_base_and_is_idempotent() {
    let ws = Workspace::create();
    assert_eq!(ws.run(&["init"]).code, 0);
    let builtin = entity_count(&ws);
    assert!(builtin > 5_000);
    let galaxy = ws.write("actors.json", GALAXY);
    let run = ws.run(&["kb", "import", galaxy.to_str().expect("path")]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("MISP galaxy cluster, 2 records"),
        "{}",
        run.stdout
    );
    // One new actor; the other joins APT28 through its ATT&CK reference.
    assert_eq!(entity_count(&ws), builtin + 1);
    let apt28 = ws.json(&["kb", "show", "Frozen Heron"]);
    assert_eq!(apt28[0]["canonical_name"], "APT28");
    let aliases = apt28[0]["aliases"].as_array().expect("aliases");
    assert!(
        aliases
            .iter()
            .any(|a| a["name"] == "Frozen Heron" && a["provenance"] == "misp-galaxy:threat-actor")
    );
    assert!(
        aliases
            .iter()
            .any(|a| a["name"] == "Fancy Bear" && a["provenance"] == "attack")
    );

    let again = ws.run(&["--format", "json", "kb", "import", galaxy.to_str().expect("path")]);
    assert_eq!(again.code, 0, "{again:?}");
    let report: serde_json::Value = serde_json::from_str(&again.stdout).expect("json");
    assert_eq!(report["merge"]["created"], 0);
    assert_eq!(entity_count(&ws), builtin + 1, "importing again adds nothing");

    // The imported names are recognised in text, with the stored knowledge base.
    let text = ws.write("r.txt", "Stitchwork Team and Fancy Bear went quiet.");
    let out = ws.json(&["extract", "--kinds", "threat_actor", text.to_str().expect("path")]);
    let names: Vec<&str> = out[0]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["value"].as_str())
        .collect();
    assert_eq!(names, ["Quilted Heron", "APT28"]);
    let heron = ws.run(&["kb", "show", "heron-17"]);
    assert!(heron.stdout.contains("attributed_to Russia"), "{}", heron.stdout);
}

#[test]
fn a_malformed_file_is_rejected_whole_with_its_position_and_the_rest_imports() {
    let ws = Workspace::create();
    assert_eq!(ws.run(&["init"]).code, 0);
    let builtin = entity_count(&ws);
    let broken = ws.write(
        "broken.json",
        "{\"type\": \"threat-actor\",\n \"values\": [\n  {\"value\": \"A\"},\n  {\"value\": 7}\n]}",
    );
    let truncated = ws.write(
        "truncated.json",
        "{\"type\": \"tool\", \"values\": [{\"value\": \"X\"",
    );
    let good = ws.write("actors.json", GALAXY);
    let run = ws.run(&[
        "kb",
        "import",
        broken.to_str().expect("path"),
        truncated.to_str().expect("path"),
        good.to_str().expect("path"),
    ]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("broken.json: values[1]"), "{}", run.stderr);
    assert!(
        run.stderr.contains("truncated.json: line 1, column"),
        "{}",
        run.stderr
    );
    assert_eq!(entity_count(&ws), builtin + 1, "only the good file's new actor");
    let nothing = ws.run(&["kb", "show", "A"]);
    assert_ne!(nothing.code, 0, "nothing of the broken file was imported");
}

#[test]
fn show_search_and_conflicts_work_without_a_data_folder() {
    let ws = Workspace::create();
    let show = ws.run(&["kb", "show", "T1566.001"]);
    assert_eq!(show.code, 0, "{show:?}");
    assert!(
        show.stdout
            .starts_with("Spearphishing Attachment (attack_technique"),
        "{}",
        show.stdout
    );
    assert!(
        show.stdout.contains("in_tactic Initial Access"),
        "{}",
        show.stdout
    );
    let search = ws.json(&["kb", "search", "bear", "--kind", "threat_actor"]);
    assert!(
        search
            .as_array()
            .expect("hits")
            .iter()
            .any(|h| h["name"] == "APT28")
    );
    let conflicts = ws.json(&["kb", "conflicts", "--limit", "5000"]);
    let turla = conflicts
        .as_array()
        .expect("list")
        .iter()
        .find(|c| c["alias"] == "turla")
        .expect("turla");
    assert!(
        turla["resolved_to"]
            .as_str()
            .is_some_and(|r| r.contains("threat_actor")),
        "{turla}"
    );
    let missing = ws.run(&["kb", "show", "No Such Actor"]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("no entity is called"),
        "{}",
        missing.stderr
    );
    assert!(
        !Path::new(&ws.data_dir()).exists(),
        "reading the built-in knowledge base creates nothing"
    );
}

#[test]
fn extract_reports_entities_in_the_finding_shape() {
    let ws = Workspace::create();
    let text = "Russian operators of Sofacy used spearphishing attachments (T1566.001) against 10.0.0.1.";
    let run = ws.run_with_stdin(
        &["--format", "jsonl", "extract", "--include-benign"],
        text.as_bytes(),
    );
    assert_eq!(run.code, 0, "{run:?}");
    let lines: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("jsonl"))
        .collect();
    let find = |written: &str| {
        lines
            .iter()
            .find(|f| f["text"] == written)
            .unwrap_or_else(|| panic!("{written}"))
    };
    let actor = find("Sofacy");
    assert_eq!(
        (actor["kind"].as_str(), actor["value"].as_str()),
        (Some("threat_actor"), Some("APT28"))
    );
    assert_eq!(actor["ids"]["attack"], "G0007");
    let start = actor["start"].as_u64().expect("start") as usize;
    let end = actor["end"].as_u64().expect("end") as usize;
    assert_eq!(&text[start..end], "Sofacy");
    assert!(actor["confidence"].as_f64().is_some_and(|c| c > 0.8));
    assert_eq!(find("Russian")["value"], "Russia");
    let technique = find("T1566.001");
    assert_eq!(technique["kind"], "attack_technique");
    assert_eq!(
        technique["value"], "Spearphishing Attachment",
        "an id the knowledge base knows is its entity"
    );
    assert_eq!(
        lines.iter().filter(|f| f["text"] == "T1566.001").count(),
        1,
        "reported once"
    );
    assert!(find("spearphishing attachments")["sentence"]["start"].is_u64());
    assert_eq!(find("10.0.0.1")["kind"], "ipv4");
    let iocs_only = ws.run_with_stdin(
        &["--format", "jsonl", "extract", "--no-entities"],
        text.as_bytes(),
    );
    assert!(!iocs_only.stdout.contains("threat_actor") && iocs_only.stdout.contains("attack_technique"));
}

#[test]
fn eval_entities_scores_the_annoctr_dev_split() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/eval/ner");
    if !root.join("annoctr/ner_bio/dev.bio").is_file() {
        eprintln!("skipping: ../shared/eval/ner/annoctr not found");
        return;
    }
    let ws = Workspace::create();
    let report = ws.json(&[
        "eval",
        "entities",
        "--annoctr",
        root.join("annoctr").to_str().expect("path"),
        "--cyner",
        root.join("cyner").to_str().expect("path"),
    ]);
    let row = |table: &str, kind: &str| {
        report[table]
            .as_array()
            .expect("table")
            .iter()
            .find(|r| r["type"] == kind)
            .cloned()
            .expect("row")
    };
    // Floors well under the measured figures (docs/accuracy.md): a regression guard, not a target.
    for kind in ["GROUP", "MALWARE"] {
        let linking = row("annoctr_linking", kind);
        assert!(
            linking["precision"].as_f64().is_some_and(|p| p >= 0.9),
            "{kind}: {linking}"
        );
        assert!(
            linking["recall"].as_f64().is_some_and(|r| r >= 0.8),
            "{kind}: {linking}"
        );
    }
    let loc = row("annoctr_mentions", "LOC");
    assert!(loc["overlap"]["f1"].as_f64().is_some_and(|f| f >= 0.75), "{loc}");
    assert!(report["tokens_aligned"].as_f64().is_some_and(|a| a > 0.85));
    assert!(report["cyner"]["gold"].as_u64().is_some_and(|g| g > 200));
}

#[test]
fn ingest_stores_entity_mentions_beside_indicators() {
    let ws = Workspace::create();
    ws.write(
        "r/report.txt",
        "Sofacy is back\n\nFancy Bear used spearphishing attachments from 185.220.101.4.\n",
    );
    let report = ws.json(&["ingest", "r"]);
    assert!(
        report["totals"]["entity_mentions"]
            .as_u64()
            .is_some_and(|n| n >= 3),
        "{report}"
    );
    let item = ws.json(&["items", "show", "1"]);
    let findings = item["findings"].as_array().expect("findings");
    let actor: Vec<&serde_json::Value> = findings
        .iter()
        .filter(|f| f["kind"] == "entity_mention" && f["value"] == "APT28")
        .collect();
    assert_eq!(actor.len(), 2, "{findings:?}");
    assert!(
        actor
            .iter()
            .all(|f| f["entity_ids"].as_array().is_some_and(|ids| ids.len() == 1))
    );
    assert!(
        actor[0]["flags"]
            .as_array()
            .is_some_and(|flags| flags.iter().any(|x| x == "attack:G0007"))
    );
    assert!(findings.iter().any(|f| f["kind"] == "ipv4"));
    assert!(findings.iter().any(|f| f["value"] == "Spearphishing Attachment"));
}

#[test]
fn reextract_refreshes_findings_after_an_import_without_doubling_them() {
    let ws = Workspace::create();
    ws.write(
        "r/report.txt",
        "Quilted Heron\n\nThe Stitchwork Team struck again from 185.220.101.4.\n",
    );
    ws.json(&["ingest", "r"]);
    let before = ws.json(&["items", "show", "1"]);
    let count = |item: &serde_json::Value, value: &str| {
        item["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter(|f| f["value"] == value)
            .count()
    };
    assert_eq!(count(&before, "Quilted Heron"), 0, "not known yet");
    let galaxy = ws.write("actors.json", GALAXY);
    assert_eq!(ws.run(&["kb", "import", galaxy.to_str().expect("path")]).code, 0);
    for _ in 0..2 {
        let run = ws.json(&["reextract"]);
        assert_eq!(run["items"], 1, "{run}");
    }
    let after = ws.json(&["items", "show", "1"]);
    assert_eq!(count(&after, "Quilted Heron"), 2, "title and text, once each");
    assert_eq!(count(&after, "185.220.101.4"), 1, "indicators kept, not doubled");
    assert_eq!(
        after["findings"].as_array().map(Vec::len),
        before["findings"].as_array().map(|f| f.len() + 2)
    );
}
