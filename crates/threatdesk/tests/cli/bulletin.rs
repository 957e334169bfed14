//! `threatdesk bulletin`: create, edit, show, list, submit and publish from scripts.

use crate::Workspace;

#[test]
fn a_script_creates_edits_and_publishes_a_bulletin() {
    let ws = Workspace::create();
    assert_eq!(ws.run(&["init", "--no-default-sources"]).code, 0);
    let summary = ws.write(
        "summary.md",
        "Russia and China warned the US over its cyber support of Ukraine.",
    );
    let notes = ws.write(
        "notes.md",
        "Expect **retaliatory** campaigns against government networks.",
    );
    let created = ws.json(&[
        "bulletin",
        "create",
        "--title",
        "Russia, China warn US its cyber support of Ukraine has consequences",
        "--summary-file",
        summary.to_str().expect("path"),
        "--notes-file",
        notes.to_str().expect("path"),
        "--tlp",
        "clear",
        "--kind",
        "research",
        "--tag",
        "geopolitics",
        "--tag",
        "ukraine",
    ]);
    let id = created["id"].as_i64().expect("an id");
    let id_text = id.to_string();
    let shown = ws.json(&["bulletin", "show", &id_text]);
    assert_eq!(shown["status"], "draft");
    assert_eq!(shown["kind"], "research");
    assert_eq!(shown["tlp"], "CLEAR");
    assert_eq!(shown["tags"], serde_json::json!(["geopolitics", "ukraine"]));
    assert!(
        shown["analyst_notes"]
            .as_str()
            .is_some_and(|n| n.contains("**retaliatory**"))
    );

    let edited = ws.json(&["bulletin", "edit", &id_text, "--severity", "high"]);
    assert_eq!(edited["version"], 2);
    assert_eq!(edited["severity"], "high");
    assert_eq!(
        edited["title"], shown["title"],
        "fields not given stay as they were"
    );

    let published = ws.json(&["bulletin", "publish", &id_text]);
    assert_eq!(published["status"], "published");
    assert!(published["published_at"].is_string());
    let list = ws.json(&["bulletin", "list", "--status", "published"]);
    assert_eq!(list.as_array().map(Vec::len), Some(1));

    // Same title again: the slug is taken, and the error says so.
    let again = ws.run(&[
        "bulletin",
        "create",
        "--title",
        "Russia, China warn US its cyber support of Ukraine has consequences",
        "--tlp",
        "green",
    ]);
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("slug"), "{}", again.stderr);
    let missing = ws.run(&["bulletin", "publish", "999"]);
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("no bulletin 999"), "{}", missing.stderr);
    let bad_tlp = ws.run(&["bulletin", "create", "--title", "x", "--tlp", "purple"]);
    assert_eq!(bad_tlp.code, 2);
}

/// A report naming an actor (by an alias), malware, a country, a CVE, an ATT&CK technique,
/// an IP, a defanged URL, a hash and a private address.
pub(crate) const REPORT: &str = "Fancy Bear exploits Outlook\n\nAPT28 exploited CVE-2023-23397 against European \
     energy firms and dropped Emotet from hxxp://update-check[.]com/a.php hosted on 45.77.10.3; the loader's \
     SHA-256 was 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08. Russia denies it. The \
     operators used spearphishing attachments (T1566.001) against ministries. A mail from 10.0.0.5 was internal.";

/// A data folder with one ingested report (an actor, malware, a country, a CVE, an ATT&CK
/// technique, an IP, a URL, a hash and a private address) and an AMBER draft citing it;
/// returns the draft's id.
fn cited_report() -> (Workspace, String) {
    let ws = Workspace::create();
    assert_eq!(ws.run(&["init", "--no-default-sources"]).code, 0);
    let report = ws.write("report.txt", REPORT);
    let run = ws.run(&["ingest", report.to_str().expect("path")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let created = ws.json(&[
        "bulletin",
        "create",
        "--title",
        "APT28 exploits Outlook",
        "--tlp",
        "amber",
        "--item",
        "1",
    ]);
    let id = created["id"].as_i64().expect("id").to_string();
    (ws, id)
}

#[test]
fn a_bulletin_exports_as_a_strictly_valid_and_reproducible_stix_bundle() {
    let (ws, id) = cited_report();
    let args = [
        "bulletin",
        "export",
        &id,
        "--format",
        "stix",
        "--publisher",
        "Example CERT",
    ];
    let export = ws.run(&args);
    assert_eq!(export.code, 0, "{}", export.stderr);
    let again = ws.run(&args);
    assert_eq!(export.stdout, again.stdout, "re-exports are identical");
    let bundle: serde_json::Value = serde_json::from_str(&export.stdout).expect("JSON");
    let objects = bundle["objects"].as_array().expect("objects");
    let types: std::collections::BTreeSet<&str> = objects.iter().filter_map(|o| o["type"].as_str()).collect();
    for wanted in [
        "report",
        "identity",
        "marking-definition",
        "intrusion-set",
        "malware",
        "location",
        "vulnerability",
        "indicator",
        "attack-pattern",
    ] {
        assert!(types.contains(wanted), "no {wanted} in {types:?}");
    }
    let marking = objects
        .iter()
        .find(|o| o["type"] == "marking-definition")
        .expect("marking");
    assert_eq!(marking["name"], "TLP:AMBER");
    let report = objects.iter().find(|o| o["type"] == "report").expect("report");
    assert_eq!(
        report["object_refs"].as_array().map(Vec::len),
        Some(objects.len() - 2)
    );
    assert!(
        objects
            .iter()
            .any(|o| o["pattern"] == "[ipv4-addr:value = '45.77.10.3']"),
        "an indicator with its STIX pattern"
    );
    let without_format = ws.run(&["bulletin", "export", &id]);
    assert_eq!(without_format.code, 2);
    assert!(without_format.stderr.contains("--format stix"));

    // The OASIS validator, strict: zero errors.
    let validator = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/py-tools/bin/stix2_validator");
    if !validator.exists() {
        assert!(
            std::env::var_os("REQUIRE_PY_TOOLS").is_none(),
            "REQUIRE_PY_TOOLS is set but {} is missing",
            validator.display()
        );
        eprintln!("skipped: no stix2-validator in target/py-tools (scripts/get-py-tools.sh)");
        return;
    }
    let file = ws.write("bundle.json", &export.stdout);
    let verdict = std::process::Command::new(&validator)
        .args(["--strict", file.to_str().expect("path")])
        .output()
        .expect("run the validator");
    let said = String::from_utf8_lossy(&verdict.stdout);
    assert!(
        verdict.status.success() && said.contains("STIX JSON: Valid"),
        "{said}"
    );
}

#[test]
fn a_bulletin_exports_as_a_misp_event_that_pymisp_loads() {
    let (ws, id) = cited_report();
    let export = ws.run(&["bulletin", "export", &id, "--format", "misp"]);
    assert_eq!(export.code, 0, "{}", export.stderr);
    assert_eq!(
        export.stdout,
        ws.run(&["bulletin", "export", &id, "--format", "misp"]).stdout,
        "reproducible"
    );
    let event: serde_json::Value = serde_json::from_str(&export.stdout).expect("JSON");
    let event = &event["Event"];
    let tags: Vec<&str> = event["Tag"]
        .as_array()
        .expect("tags")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(tags.contains(&"tlp:amber"), "{tags:?}");
    assert!(tags.contains(&"misp-galaxy:threat-actor=\"APT28\""), "{tags:?}");
    assert!(
        tags.iter()
            .any(|t| t.starts_with("misp-galaxy:mitre-attack-pattern=") && t.ends_with("T1566.001\"")),
        "{tags:?}"
    );
    let attributes: Vec<(&str, &str)> = event["Attribute"]
        .as_array()
        .expect("attributes")
        .iter()
        .filter_map(|a| Some((a["type"].as_str()?, a["value"].as_str()?)))
        .collect();
    assert!(attributes.contains(&("ip-dst", "45.77.10.3")), "{attributes:?}");
    assert!(
        attributes.contains(&("vulnerability", "CVE-2023-23397")),
        "{attributes:?}"
    );
    assert!(
        !attributes.iter().any(|(_, v)| *v == "10.0.0.5"),
        "benign values stay out: {attributes:?}"
    );
    assert!(
        event["EventReport"][0]["content"]
            .as_str()
            .is_some_and(|c| c.contains("Analyst Notes"))
    );

    let Some(python) = crate::py_tools("pymisp") else {
        return;
    };
    let file = ws.write("event.json", &export.stdout);
    let loaded = std::process::Command::new(&python)
        .args([
            "-c",
            "import sys; from pymisp import MISPEvent; e = MISPEvent(); e.load_file(sys.argv[1]); \
             print(len(e.attributes), len(e.tags), len(e.event_reports), e.info)",
            file.to_str().expect("path"),
        ])
        .output()
        .expect("run pymisp");
    let said = String::from_utf8_lossy(&loaded.stdout);
    assert!(
        loaded.status.success(),
        "{}",
        String::from_utf8_lossy(&loaded.stderr)
    );
    assert!(said.trim().ends_with("APT28 exploits Outlook"), "{said}");
    assert!(said.starts_with(&format!("{} ", attributes.len())), "{said}");
}
