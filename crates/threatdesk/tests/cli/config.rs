use crate::Workspace;

#[test]
fn init_writes_a_config_once_and_is_safe_to_repeat() {
    let ws = Workspace::create();
    let first = ws.json(&["init"]);
    assert_eq!(first["config_created"], true);
    let config = ws.data_dir().join("threatdesk.toml");
    std::fs::write(&config, "[ingest]\nsource = \"mine\"\n").expect("edit config");
    let second = ws.json(&["init"]);
    assert_eq!(second["config_created"], false);
    assert_eq!(
        std::fs::read_to_string(&config).expect("read"),
        "[ingest]\nsource = \"mine\"\n"
    );
}

#[test]
fn the_config_file_and_environment_are_applied_in_order() {
    let ws = Workspace::create();
    ws.run(&["init", "--no-default-sources"]);
    std::fs::write(
        ws.data_dir().join("threatdesk.toml"),
        "[ingest]\nsource = \"from-file\"\nmax_file_bytes = 10\n",
    )
    .expect("config");
    ws.write("r.txt", "Title\n\nSome text that is longer than ten bytes.");

    let run = ws.run(&["ingest", "r.txt"]);
    assert_eq!(run.code, 1, "the file's limit applies: {run:?}");

    let run = ws
        .command(&["ingest", "r.txt"])
        .env("THREATDESK_INGEST__MAX_FILE_BYTES", "1000")
        .output()
        .expect("run");
    assert_eq!(run.status.code(), Some(0), "the environment overrides the file");
    let sources = ws.json(&["sources", "list"]);
    assert_eq!(sources[0]["name"], "from-file");
}

#[test]
fn a_typo_in_the_config_is_an_error_naming_the_key() {
    let ws = Workspace::create();
    ws.run(&["init"]);
    std::fs::write(
        ws.data_dir().join("threatdesk.toml"),
        "[ingest]\nmax_file_byte = 10\n",
    )
    .expect("config");
    let run = ws.run(&["status"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("max_file_byte") && run.stderr.contains("threatdesk.toml"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_database_from_a_newer_threatdesk_is_refused() {
    let ws = Workspace::create();
    ws.run(&["init"]);
    let db = ws.data_dir().join("threatdesk.db");
    let conn = rusqlite::Connection::open(&db).expect("open db");
    conn.pragma_update(None, "user_version", 999)
        .expect("bump schema version");
    drop(conn);
    let run = ws.run(&["items", "list"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("schema version 999") && run.stderr.contains("upgrade threatdesk"),
        "{}",
        run.stderr
    );
}

#[test]
fn help_is_available_everywhere() {
    let ws = Workspace::create();
    for args in [
        &["--help"][..],
        &["ingest", "--help"],
        &["items", "list", "--help"],
        &["search", "--help"],
    ] {
        let run = ws.run(args);
        assert_eq!(run.code, 0, "{args:?}");
        assert!(run.stdout.contains("Usage:"), "{args:?}");
    }
    assert!(ws.run(&["search", "--help"]).stdout.contains("Query language"));
}
