//! Stories end to end: items grouped as they are ingested, explained, and changed by analysts.

use serde_json::Value;

use crate::Workspace;

const APT28_A: &str = "APT28 phishes foreign ministries\n\nAPT28, the group also known as Fancy Bear, sent \
    spear-phishing e-mails to foreign ministries in Poland, Lithuania and Slovakia during October. The messages \
    carried a weaponised document that exploited CVE-2026-21001 in the document viewer and installed the HeadLace \
    backdoor, which called back to 185.225.17.9. HeadLace collected credentials and screenshots and sent them to \
    servers rented from a hosting provider. Responders at the national CERT published indicators and asked \
    ministries to patch the viewer.";
const APT28_B: &str = "Fancy Bear hit foreign ministries, officials say\n\nPolish and Lithuanian officials \
    confirmed that Fancy Bear targeted their foreign ministries with phishing messages this autumn. According to \
    the CERT, the attackers abused CVE-2026-21001 to drop HeadLace, a backdoor that steals credentials and takes \
    screenshots of infected workstations; it contacted 185.225.17.9. Government agencies were told to install the \
    update for the document viewer immediately and to look for the published indicators in their logs.";
const RANSOM: &str = "Ransomware hits a hospital group\n\nA ransomware gang encrypted the servers of a regional \
    hospital group on Sunday and demanded a payment in cryptocurrency. Emergency patients were diverted to nearby \
    hospitals while administrators restored systems from backups. The gang published samples of stolen patient \
    records on its leak site and threatened to release the rest within a week. Investigators said the intruders \
    entered through a VPN appliance that lacked multi-factor authentication.";

fn stories(ws: &Workspace) -> Vec<Value> {
    ws.json(&["stories", "list"])
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn story_of(ws: &Workspace, title_start: &str) -> Value {
    stories(ws)
        .into_iter()
        .find(|s| {
            let id = s["id"].to_string();
            ws.json(&["stories", "show", &id])["members"]
                .as_array()
                .is_some_and(|m| {
                    m.iter()
                        .any(|i| i["title"].as_str().is_some_and(|t| t.starts_with(title_start)))
                })
        })
        .unwrap_or_else(|| panic!("no story holds {title_start:?}"))
}

fn seeded() -> Workspace {
    let ws = Workspace::create();
    ws.write("a/apt28.txt", APT28_A);
    ws.write("b/apt28.txt", APT28_B);
    ws.write("c/ransom.txt", RANSOM);
    for (source, path) in [("vendor-a", "a"), ("vendor-b", "b"), ("news", "c")] {
        let run = ws.run(&["ingest", "--source", source, path]);
        assert_eq!(run.code, 0, "{run:?}");
    }
    ws
}

#[test]
fn reports_of_one_event_from_two_sources_make_one_story_with_reasons() {
    let ws = seeded();
    let list = stories(&ws);
    assert_eq!(list.len(), 2, "{list:?}");
    let apt28 = story_of(&ws, "APT28 phishes");
    assert_eq!(apt28["items"], 2);
    assert_eq!(apt28["sources"], 2);
    let detail = ws.json(&["stories", "show", &apt28["id"].to_string()]);
    let second = &detail["members"][1];
    let kinds: Vec<&str> = second["reasons"]
        .as_array()
        .map(|r| r.iter().filter_map(|s| s["kind"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        kinds.contains(&"text") && kinds.contains(&"indicators"),
        "{detail}"
    );
    assert!(
        detail["entities"].get("APT28").is_some_and(|n| n == 2),
        "entity roll-up: {detail}"
    );
    assert_eq!(detail["indicators"]["ipv4:185.225.17.9"], 2);
    assert!(
        detail["summary"]
            .as_str()
            .is_some_and(|s| s.contains("foreign ministries") && !s.contains("officials say")),
        "{detail}"
    );
    let text = ws.run(&["stories", "show", &apt28["id"].to_string()]);
    assert!(text.stdout.contains("why:"), "{}", text.stdout);
}

#[test]
fn a_syndicated_copy_is_marked_as_a_near_duplicate() {
    let ws = seeded();
    ws.write(
        "d/copy.txt",
        format!("{APT28_A}\n\nThis article first appeared on a partner site. Subscribe for more."),
    );
    let report = ws.json(&["ingest", "--source", "aggregator", "d"]);
    assert_eq!(report["stories"]["near_duplicates"], 1, "{report}");
    let apt28 = story_of(&ws, "APT28 phishes");
    assert_eq!(apt28["items"], 3);
    let detail = ws.json(&["stories", "show", &apt28["id"].to_string()]);
    assert!(
        detail["members"].as_array().is_some_and(|m| m
            .iter()
            .filter(|i| i["near_duplicate_of"].is_number())
            .count()
            == 1),
        "{detail}"
    );
}

#[test]
fn analysts_merge_move_and_split_stories_and_every_change_is_recorded() {
    let ws = seeded();
    let apt28 = story_of(&ws, "APT28 phishes")["id"].to_string();
    let ransom = story_of(&ws, "Ransomware hits")["id"].to_string();

    assert_eq!(ws.run(&["stories", "merge", &ransom, &apt28]).code, 0);
    assert_eq!(stories(&ws).len(), 1);
    let merged = ws.json(&["stories", "show", &apt28]);
    assert_eq!(merged["items"], 3);
    assert_eq!(merged["audit"][0]["action"], "merge");

    let ransom_item = merged["members"]
        .as_array()
        .and_then(|m| {
            m.iter()
                .find(|i| i["title"].as_str().is_some_and(|t| t.starts_with("Ransomware")))
        })
        .map(|i| i["item"].to_string())
        .unwrap_or_default();
    let split = ws.json(&["stories", "split", &ransom_item]);
    let new_story = split["story"].to_string();
    assert_ne!(new_story, apt28);
    let shown = ws.json(&["stories", "show", &new_story]);
    assert_eq!(shown["members"][0]["pinned"], true);
    assert_eq!(shown["audit"][0]["action"], "split");
    assert_eq!(ws.json(&["stories", "show", &apt28])["items"], 2);

    // A later copy of the ransomware report follows the analyst's story.
    ws.write(
        "e/ransom-copy.txt",
        format!("{RANSOM}\n\nReported by our newsroom."),
    );
    ws.run(&["ingest", "--source", "wire", "e"]);
    assert_eq!(ws.json(&["stories", "show", &new_story])["items"], 2);

    let moved = ws.run(&["stories", "move", &ransom_item, "--to", &apt28]);
    assert_eq!(moved.code, 0, "{moved:?}");
    assert_eq!(ws.json(&["stories", "show", &apt28])["items"], 3);
    let missing = ws.run(&["stories", "move", "99999", "--to", &apt28]);
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("does not exist"), "{}", missing.stderr);
}

#[test]
fn stories_cluster_places_items_left_out_and_is_idempotent() {
    let ws = seeded();
    let report = ws.json(&["stories", "cluster"]);
    assert_eq!(
        report["clustered"], 0,
        "ingest already placed everything: {report}"
    );
    assert_eq!(stories(&ws).len(), 2);
}

#[test]
fn the_story_evaluation_meets_its_floors_on_annoctr_dev() {
    let Some(train) = crate::annoctr_train() else {
        eprintln!("skipped: ../shared/eval/ner/annoctr is not beside the checkout");
        return;
    };
    let annoctr = train.join("../..");
    let ws = Workspace::create();
    let model = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/models/all-minilm-l6-v2");
    let mut args = vec![
        "eval".to_owned(),
        "stories".to_owned(),
        "--annoctr".to_owned(),
        annoctr.display().to_string(),
    ];
    if model.join("model.safetensors").is_file() {
        args.extend(["--model".to_owned(), model.display().to_string()]);
    } else {
        eprintln!("no embedding model (scripts/get-model.sh): scoring lexical clustering only");
    }
    let report = ws.json(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let method = |name: &str| {
        report["methods"]
            .as_array()
            .and_then(|m| m.iter().find(|m| m["method"] == name).cloned())
            .unwrap_or_else(|| panic!("no method {name}: {report}"))
    };
    let full = method("threatdesk, lexical only");
    let number = |v: &Value| v.as_f64().unwrap_or(0.0);
    // Floors at the measured dev scores (docs/accuracy.md), so a regression fails.
    assert!(number(&full["pairwise_precision"]) >= 0.95, "{full}");
    assert!(number(&full["bcubed_f1"]) >= 0.80, "{full}");
    assert_eq!(full["near_duplicates_found"], full["syndicated_copies"], "{full}");
    let text_only = method("text only (no entity or indicator evidence)");
    assert!(
        number(&full["bcubed_f1"]) > number(&text_only["bcubed_f1"]),
        "entities and indicators help: {report}"
    );
    if model.join("model.safetensors").is_file() {
        let embedded = method("threatdesk, lexical and embeddings");
        assert!(number(&embedded["pairwise_precision"]) >= 0.95, "{embedded}");
        assert!(number(&embedded["bcubed_f1"]) >= 0.80, "{embedded}");
    }
}

#[test]
fn without_a_usable_model_clustering_is_lexical_and_says_so() {
    let ws = seeded();
    let status = ws.json(&["status"]);
    assert!(
        status["clustering"]
            .as_str()
            .is_some_and(|c| c.starts_with("lexical only: no embedding model")),
        "{status}"
    );
    let broken = ws.dir.path().join("broken-model");
    std::fs::create_dir_all(&broken).expect("folder");
    for file in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::fs::write(broken.join(file), "garbage").expect("write");
    }
    let dir = broken.display().to_string();
    let status = ws
        .command(&["--format", "json", "status"])
        .env("THREATDESK_EMBEDDINGS__MODEL_DIR", &dir)
        .output()
        .expect("status");
    let status: Value = serde_json::from_slice(&status.stdout).expect("json");
    assert!(
        status["clustering"]
            .as_str()
            .is_some_and(|c| c.contains("cannot be used") && c.contains("config.json")),
        "{status}"
    );
    ws.write("f/more.txt", format!("{RANSOM}\n\nUpdate: systems are back."));
    let ingest = ws
        .command(&["ingest", "--source", "late", "f"])
        .env("THREATDESK_EMBEDDINGS__MODEL_DIR", &dir)
        .output()
        .expect("ingest");
    assert_eq!(
        ingest.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ingest.stderr)
    );
    assert!(String::from_utf8_lossy(&ingest.stderr).contains("falls back to lexical"));
    assert_eq!(story_of(&ws, "Ransomware hits")["items"], 2);
}
