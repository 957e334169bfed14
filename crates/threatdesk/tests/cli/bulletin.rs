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
