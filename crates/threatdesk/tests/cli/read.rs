use crate::Workspace;

fn seeded() -> Workspace {
    let ws = Workspace::create();
    ws.write(
        "a/turla.html",
        "<title>Turla pivots to Kazuar v3</title><p>Turla operators deployed Kazuar against ministries.</p>",
    );
    ws.write(
        "a/sandworm.md",
        "# Sandworm and Industroyer2\n\nSandworm attacked Ukrainian substations.",
    );
    ws.write(
        "b/mixed.txt",
        "Weekly digest\n\nBrief mention of Turla among many others.",
    );
    let run = ws.run(&["ingest", "a"]);
    assert_eq!(run.code, 0, "{run:?}");
    let run = ws.run(&["ingest", "--source", "digests", "b"]);
    assert_eq!(run.code, 0, "{run:?}");
    ws
}

#[test]
fn search_ranks_titles_first_and_shows_snippets() {
    let ws = seeded();
    let results = ws.json(&["search", "turla"]);
    assert_eq!(results["total"], 2);
    assert_eq!(results["hits"][0]["title"], "Turla pivots to Kazuar v3");
    let text = ws.run(&["search", "turla"]);
    assert_eq!(text.code, 0);
    assert!(
        text.stdout.contains("[Turla] operators deployed Kazuar"),
        "{}",
        text.stdout
    );
}

#[test]
fn search_filters_by_source_and_reports_query_errors() {
    let ws = seeded();
    let results = ws.json(&["search", "turla", "--source", "digests"]);
    assert_eq!(results["total"], 1);
    assert_eq!(results["hits"][0]["title"], "Weekly digest");

    let unknown = ws.run(&["search", "turla", "--source", "nope"]);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("no source named \"nope\""),
        "{}",
        unknown.stderr
    );

    let bad = ws.run(&["search", "--", "-only"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("invalid search query"), "{}", bad.stderr);

    let none = ws.run(&["search", "--since", "2999-01-01", "turla"]);
    assert!(none.stdout.contains("No matches"), "{}", none.stdout);
}

#[test]
fn items_list_and_show_in_text_and_json() {
    let ws = seeded();
    let list = ws.json(&["items", "list", "--source", "local-files"]);
    let list = list.as_array().expect("array");
    assert_eq!(list.len(), 2);
    let id = list[0]["id"].as_i64().expect("id");
    let show = ws.run(&["items", "show", &id.to_string()]);
    assert_eq!(show.code, 0);
    assert!(
        show.stdout.starts_with(&format!("Item {id}: ")),
        "{}",
        show.stdout
    );
    assert!(show.stdout.contains("Marking:   TLP:CLEAR"));

    let missing = ws.run(&["items", "show", "999"]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("item 999 does not exist"),
        "{}",
        missing.stderr
    );
    let invalid = ws.run(&["items", "show", "abc"]);
    assert_eq!(invalid.code, 2, "clap usage errors exit 2");
}

#[test]
fn reading_commands_on_a_missing_data_folder_say_what_to_do() {
    let ws = Workspace::create();
    for args in [
        &["items", "list"][..],
        &["search", "x"],
        &["sources", "list"],
        &["status"],
    ] {
        let run = ws.run(args);
        assert_eq!(run.code, 2, "{args:?}");
        assert!(run.stderr.contains("threatdesk init"), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn status_reports_counts() {
    let ws = seeded();
    let status = ws.json(&["status"]);
    assert_eq!(status["store"]["items"], 3);
    assert_eq!(status["store"]["sources"], 2);
    assert_eq!(
        status["store"]["schema_version"],
        status["schema_version_supported"]
    );
}
