use crate::Workspace;

fn totals(report: &serde_json::Value) -> [u64; 5] {
    let t = &report["totals"];
    ["inserted", "updated", "unchanged", "duplicates", "rejected"].map(|k| t[k].as_u64().unwrap_or(u64::MAX))
}

// One bad file must never stop a batch: every good file is stored, every bad one named with a reason.
#[test]
fn a_batch_with_bad_files_stores_the_good_ones_and_exits_1() {
    let ws = Workspace::create();
    ws.write(
        "in/good.html",
        "<title>Good page</title><p>APT41 abused Cloudflare Workers.</p>",
    );
    ws.write(
        "in/good.md",
        "# Good notes\n\nBlackCat affiliates used ScreenConnect.",
    );
    ws.write("in/empty.txt", "");
    ws.write("in/binary.txt", b"\x7fELF\x02\x01\x01\x00\x00");
    ws.write("in/scan.pdf", "%PDF-1.4");
    ws.write(
        "in/cp1252.txt",
        b"Caf\xe9 hacker\n\nLe groupe a vis\xe9 des h\xf4pitaux fran\xe7ais.",
    );

    let run = ws.run(&["ingest", "in", "missing.txt"]);
    assert_eq!(run.code, 1, "{run:?}");
    for (name, reason) in [
        ("empty.txt", "empty file"),
        ("binary.txt", "binary content (NUL byte"),
        ("scan.pdf", "unsupported file type .pdf"),
        ("missing.txt", "no such file or folder"),
    ] {
        assert!(
            run.stderr
                .lines()
                .any(|l| l.starts_with("threatdesk: rejected: ") && l.contains(name) && l.contains(reason)),
            "no rejection line for {name}: {}",
            run.stderr
        );
    }
    assert!(
        run.stderr
            .contains("cp1252.txt: not valid UTF-8; decoded as windows-1252"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("3 new") && run.stdout.contains("4 rejected"),
        "{}",
        run.stdout
    );

    let items = ws.json(&["items", "list"]);
    let mut titles: Vec<&str> = items
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|i| i["title"].as_str())
        .collect();
    titles.sort();
    assert_eq!(titles, ["Café hacker", "Good notes", "Good page"]);
}

#[test]
fn reingesting_does_not_duplicate_and_a_changed_file_updates_its_item() {
    let ws = Workspace::create();
    let path = ws.write("r/report.md", "# Report\n\nQakbot returned in March.");
    ws.write("r/other.txt", "Other\n\nUnrelated text.");
    let first = ws.json(&["ingest", "r"]);
    assert_eq!(totals(&first), [2, 0, 0, 0, 0]);

    let again = ws.json(&["ingest", "r"]);
    assert_eq!(totals(&again), [0, 0, 2, 0, 0]);

    std::fs::write(&path, "# Report\n\nQakbot returned in March with new loaders.").expect("edit");
    let edited = ws.json(&["ingest", "r"]);
    assert_eq!(totals(&edited), [0, 1, 1, 0, 0]);
    let id = edited["files"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["outcome"] == "updated"))
        .and_then(|f| f["item_id"].as_i64())
        .expect("updated item id");

    let item = ws.json(&["items", "show", &id.to_string()]);
    assert_eq!(item["revision"], 2);
    assert!(item["text"].as_str().is_some_and(|t| t.contains("new loaders")));
    assert!(item["previous_hash"].is_string());

    // A copy of the file under another name is recognised as the same content.
    ws.write(
        "copy/report-copy.md",
        "# Report\n\nQakbot returned in March with new loaders.",
    );
    assert_eq!(totals(&ws.json(&["ingest", "copy"])), [0, 0, 0, 1, 0]);
    assert_eq!(ws.json(&["items", "list"]).as_array().map(Vec::len), Some(2));
}

#[test]
fn standard_input_is_ingested_once() {
    let ws = Workspace::create();
    let page = b"<html><body><h1>Pasted</h1><p>Kimsuky phishing kit.</p></body></html>";
    let run = ws.run_with_stdin(&["ingest", "-"], page);
    assert_eq!(run.code, 0, "{run:?}");
    let again = ws.run_with_stdin(&["--format", "json", "ingest", "-"], page);
    let report: serde_json::Value = serde_json::from_str(&again.stdout).expect("json");
    assert_eq!(totals(&report), [0, 0, 1, 0, 0]);
    let items = ws.json(&["items", "list"]);
    assert_eq!(items[0]["title"], "Pasted");
    assert!(
        items[0]["canonical_url"]
            .as_str()
            .is_some_and(|u| u.starts_with("urn:sha256:"))
    );
}

#[test]
fn flags_override_configuration_for_size_limit_source_and_marking() {
    let ws = Workspace::create();
    ws.write("big.txt", "Big\n\n".to_owned() + &"word ".repeat(100));
    let run = ws.run(&["ingest", "--max-file-bytes", "50", "big.txt"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("over the limit of 50 bytes"),
        "{}",
        run.stderr
    );

    let run = ws.run(&[
        "ingest",
        "--source",
        "partner-reports",
        "--tlp",
        "amber",
        "big.txt",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let item = ws.json(&["items", "show", "1"]);
    assert_eq!(item["tlp"], "AMBER");
    let sources = ws.json(&["sources", "list"]);
    assert!(
        sources
            .as_array()
            .expect("array")
            .iter()
            .any(|s| s["name"] == "partner-reports")
    );
}

#[test]
fn ingesting_the_annoctr_reports_stores_all_seventy() {
    let Some(reports) = crate::annoctr_train() else {
        // ../shared is absent outside CI checkouts; the synthetic tests above still run.
        eprintln!("skipping: ../shared/eval/ner/annoctr/text/train not found");
        return;
    };
    let ws = Workspace::create();
    let report = ws.json(&["ingest", reports.to_str().expect("utf-8 path")]);
    assert_eq!(totals(&report), [70, 0, 0, 0, 0]);
    let hits = ws.json(&["search", "Lazarus"]);
    assert!(hits["total"].as_u64().is_some_and(|n| n >= 3), "{hits}");
}
