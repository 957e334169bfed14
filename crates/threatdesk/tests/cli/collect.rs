//! `sources` and `collect` end to end: the real binary, a real database, and a real HTTP
//! server on loopback. Each case checks what is stored and what source health says.

use serde_json::Value;
use threatdesk_testkit::{HttpServer, Reply};

use crate::Workspace;

const RSS: &str = "application/rss+xml";
const HTML: &str = "text/html; charset=utf-8";

fn page(title: &str, sentence: &str) -> String {
    let paragraph = format!(
        "{sentence} The operators reached ministries, energy companies and telecommunications providers \
         over several weeks, according to the responders who investigated the intrusions."
    );
    format!(
        "<html><head><title>{title}</title></head><body><nav><a href=\"/\">Home</a></nav><article><h1>{title}</h1>\
         <p>{paragraph}</p><p>{paragraph}</p><p>{paragraph}</p></article><footer>All rights reserved.</footer></body></html>"
    )
}

fn rss(server: &HttpServer, entries: &[(&str, &str, &str)]) -> String {
    let items: String = entries
        .iter()
        .map(|(path, title, summary)| {
            format!(
                "<item><title>{title}</title><link>{}</link><guid>{path}</guid><description>{summary}</description></item>",
                server.url(path)
            )
        })
        .collect();
    format!("<rss version=\"2.0\"><channel><title>Loopback news</title>{items}</channel></rss>")
}

fn initialised() -> Workspace {
    let ws = Workspace::create();
    assert_eq!(ws.run(&["init", "--no-default-sources"]).code, 0);
    ws
}

fn add(ws: &Workspace, name: &str, url: &str) {
    let run = ws.run(&[
        "sources",
        "add",
        url,
        "--name",
        name,
        "--allow-private",
        "--interval",
        "1h",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
}

/// The health record of one source, from `sources list --format json`.
fn health(ws: &Workspace, name: &str) -> Value {
    let list = ws.json(&["sources", "list"]);
    list.as_array()
        .and_then(|rows| rows.iter().find(|r| r["name"] == name))
        .map(|r| r["health"].clone())
        .unwrap_or_else(|| panic!("no source {name}: {list}"))
}

fn item_count(ws: &Workspace) -> usize {
    ws.json(&["items", "list", "--limit", "1000"])
        .as_array()
        .map_or(0, Vec::len)
}

#[test]
fn a_feed_is_collected_with_full_text_and_findings_then_answers_304() {
    let server = HttpServer::start().expect("server");
    server.route_with("/feed.xml", {
        let body = rss(
            &server,
            &[
                ("/apt28", "APT28 phishing", "Short summary."),
                ("/patch", "Patch now", "Another summary."),
            ],
        );
        move |request, _| {
            if request.header("if-none-match") == Some("\"v1\"") {
                Reply::status(304)
            } else {
                Reply::ok(RSS, body.clone()).header("ETag", "\"v1\"")
            }
        }
    });
    server.route(
        "/apt28",
        Reply::ok(
            HTML,
            page(
                "APT28 phishing",
                "Fancy Bear sent lures from 203.0.113.7 to ministries.",
            ),
        ),
    );
    server.route(
        "/patch",
        Reply::ok(HTML, page("Patch now", "CVE-2026-1111 is exploited in the wild.")),
    );
    let ws = initialised();
    add(&ws, "loopback", &server.url("/feed.xml"));

    let first = ws.json(&["collect", "--once"]);
    assert_eq!(first["totals"]["new"], 2, "{first}");
    assert_eq!(first["totals"]["failed"], 0);
    assert_eq!(item_count(&ws), 2);
    let hits = ws.json(&["search", "Fancy Bear"]);
    assert_eq!(hits["total"], 1, "{hits}");
    let item_id = hits["hits"][0]["id"].to_string();
    let item = ws.json(&["items", "show", &item_id]);
    let findings = item["findings"].as_array().cloned().unwrap_or_default();
    assert!(
        findings.iter().any(|f| f["value"] == "203.0.113.7"),
        "indicators extracted: {item}"
    );
    assert!(
        findings.iter().any(|f| f["value"] == "APT28"),
        "entities extracted: {item}"
    );
    let h = health(&ws, "loopback");
    assert_eq!(h["state"], "healthy", "{h}");
    assert_eq!(h["last_http_status"], 200);
    assert_eq!(h["items_24h"], 2);
    assert_eq!(h["etag"], "\"v1\"");

    let second = ws.json(&["collect", "--once"]);
    assert_eq!(second["sources"][0]["outcome"], "not_modified", "{second}");
    assert_eq!(item_count(&ws), 2);
    assert_eq!(server.hits("/apt28").len(), 1, "pages are not fetched again");
    assert_eq!(health(&ws, "loopback")["state"], "healthy");
}

#[test]
fn an_updated_article_updates_its_item_and_never_duplicates_it() {
    let server = HttpServer::start().expect("server");
    server.route(
        "/feed.xml",
        Reply::ok(RSS, rss(&server, &[("/story", "Breach", "First version.")])),
    );
    server.route("/story", Reply::ok(HTML, page("Breach", "Lazarus stole coins.")));
    let ws = initialised();
    add(&ws, "news", &server.url("/feed.xml"));
    assert_eq!(ws.run(&["collect", "--once"]).code, 0);

    // Same entry (same link and GUID), new text in the feed and on the page.
    server.route(
        "/feed.xml",
        Reply::ok(RSS, rss(&server, &[("/story", "Breach", "Updated version.")])),
    );
    server.route(
        "/story",
        Reply::ok(
            HTML,
            page("Breach", "Lazarus stole coins; the exchange confirmed the loss."),
        ),
    );
    let report = ws.json(&["collect", "--once"]);
    assert_eq!(report["sources"][0]["updated"], 1, "{report}");
    assert_eq!(report["sources"][0]["new"], 0);
    let items = ws.json(&["items", "list"]);
    assert_eq!(items.as_array().map(Vec::len), Some(1));
    assert_eq!(items[0]["revision"], 2);
    let item = ws.json(&["items", "show", &items[0]["id"].to_string()]);
    assert!(item["previous_hash"].is_string(), "{item}");
    assert!(
        item["text"]
            .as_str()
            .is_some_and(|t| t.contains("exchange confirmed"))
    );
}

#[test]
fn a_failing_source_is_reported_backs_off_and_never_stops_the_others() {
    let server = HttpServer::start().expect("server");
    server.route("/broken.xml", Reply::status(500));
    server.route(
        "/good.xml",
        Reply::ok(RSS, rss(&server, &[("/ok", "Fine", "Text.")])),
    );
    server.route(
        "/ok",
        Reply::ok(HTML, page("Fine", "Volt Typhoon persisted in routers.")),
    );
    let ws = initialised();
    add(&ws, "broken", &server.url("/broken.xml"));
    add(&ws, "good", &server.url("/good.xml"));

    let run = ws.run(&["collect", "--once"]);
    assert_eq!(run.code, 1, "a failed source makes exit status 1: {run:?}");
    assert!(
        run.stdout.contains("broken: failed: http_status: HTTP 500"),
        "{}",
        run.stdout
    );
    assert_eq!(item_count(&ws), 1, "the good source was stored");
    let h = health(&ws, "broken");
    assert_eq!(h["state"], "degraded", "{h}");
    assert_eq!(h["consecutive_failures"], 1);
    assert_eq!(h["last_error_kind"], "http_status");
    assert_eq!(h["last_http_status"], 500);
    assert_eq!(
        server.hits("/broken.xml").len(),
        2,
        "one retry (THREATDESK_HTTP__MAX_RETRIES=1)"
    );

    for _ in 0..2 {
        ws.run(&["collect", "--once", "--source", "broken"]);
    }
    let h = health(&ws, "broken");
    assert_eq!(h["state"], "failing", "{h}");
    assert_eq!(h["consecutive_failures"], 3);
    let next = h["next_attempt_at"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
    let wait = next.map(|t| t.with_timezone(&chrono::Utc) - chrono::Utc::now());
    assert!(
        wait.is_some_and(|w| w > chrono::Duration::minutes(100)),
        "a failing source backs off beyond its 1 h interval: {h}"
    );
    assert_eq!(health(&ws, "good")["state"], "healthy");

    let shown = ws.json(&["sources", "show", "broken"]);
    let problems = shown["problems"].as_array().cloned().unwrap_or_default();
    assert_eq!(problems.len(), 3, "{shown}");
    assert!(problems.iter().all(|p| p["kind"] == "fetch_failed"));
}

#[test]
fn pages_that_cannot_be_read_fall_back_to_the_feed_and_say_why() {
    let server = HttpServer::start().expect("server");
    server.route(
        "/feed.xml",
        Reply::ok(
            RSS,
            rss(
                &server,
                &[("/walled", "Paywalled", "The feed's own summary of the story.")],
            ),
        ),
    );
    server.route("/walled", Reply::status(403));
    let ws = initialised();
    add(&ws, "walled", &server.url("/feed.xml"));
    let run = ws.run(&["collect", "--once"]);
    assert_eq!(run.code, 1, "problems make exit status 1: {run:?}");
    assert!(run.stderr.contains("article_fallback"), "{}", run.stderr);
    assert_eq!(item_count(&ws), 1);
    let h = health(&ws, "walled");
    assert_eq!(h["state"], "degraded");
    assert_eq!(h["last_problems"], 1);
    let shown = ws.json(&["sources", "show", "walled"]);
    assert_eq!(shown["problems"][0]["kind"], "article_fallback");
    assert!(
        shown["problems"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("HTTP 403")),
        "{shown}"
    );
}

#[test]
fn private_addresses_are_refused_without_the_allowance() {
    let server = HttpServer::start().expect("server");
    server.route("/feed.xml", Reply::ok(RSS, rss(&server, &[])));
    let ws = initialised();
    let run = ws.run(&["sources", "add", &server.url("/feed.xml"), "--name", "internal"]);
    assert_eq!(run.code, 0);
    assert_eq!(ws.run(&["collect", "--once"]).code, 1);
    let h = health(&ws, "internal");
    assert_eq!(h["last_error_kind"], "blocked_address", "{h}");
    assert!(
        h["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("--allow-private")),
        "{h}"
    );
    assert!(server.requests().is_empty());
}

#[test]
fn sources_test_reads_a_feed_without_storing_anything() {
    let server = HttpServer::start().expect("server");
    server.route(
        "/feed.xml",
        Reply::ok(RSS, rss(&server, &[("/a", "Sandworm", "Summary.")])),
    );
    server.route(
        "/a",
        Reply::ok(
            HTML,
            page("Sandworm", "Sandworm used Industroyer2 from 185.225.17.9."),
        ),
    );
    let ws = Workspace::create();
    let report = ws.json(&["sources", "test", &server.url("/feed.xml"), "--allow-private"]);
    assert_eq!(report["entries"], 1, "{report}");
    let item = &report["items"][0];
    assert_eq!(item["full_text"], true);
    assert_eq!(item["indicators"]["ipv4"], 3, "one per paragraph: {report}");
    assert!(
        item["entities"]
            .as_array()
            .is_some_and(|e| e.iter().any(|v| v == "Sandworm Team")),
        "{report}"
    );
    assert!(!ws.data_dir().exists(), "nothing was stored");
    let failed = ws.run(&["sources", "test", &server.url("/missing.xml"), "--allow-private"]);
    assert_eq!(failed.code, 2);
    assert!(failed.stdout.contains("HTTP 404"), "{failed:?}");
}

#[test]
fn init_adds_the_default_sources_once_and_opml_round_trips() {
    let ws = Workspace::create();
    let init = ws.json(&["init"]);
    let added = init["default_sources_added"].as_u64().unwrap_or(0);
    assert!(added >= 15, "{init}");
    let list = ws.json(&["sources", "list"]);
    assert_eq!(list.as_array().map(Vec::len), Some(added as usize));
    assert!(
        list.as_array()
            .is_some_and(|rows| rows.iter().all(|r| r["health"]["state"] == "new"))
    );
    assert!(list.as_array().is_some_and(|rows| {
        rows.iter().any(|r| {
            r["name"] == "CISA advisories" && r["tags"][0] == "government" && r["reliability"] == "A"
        })
    }));
    assert_eq!(ws.run(&["sources", "remove", "Dark Reading"]).code, 0);
    assert_eq!(
        ws.json(&["init"])["default_sources_added"],
        0,
        "a removed source stays removed"
    );

    let exported = ws.run(&["sources", "export"]);
    assert_eq!(exported.code, 0);
    let other = initialised();
    let opml = other.write("sources.opml", &exported.stdout);
    let imported = other.json(&["sources", "import", &opml.display().to_string()]);
    assert_eq!(
        imported["added"].as_array().map(Vec::len),
        Some(added as usize - 1),
        "{imported}"
    );
    let again = other.json(&["sources", "import", &opml.display().to_string()]);
    assert_eq!(again["added"].as_array().map(Vec::len), Some(0));
    assert_eq!(
        ws.json(&["sources", "list"])
            .to_string()
            .replace(char::is_numeric, ""),
        other
            .json(&["sources", "list"])
            .to_string()
            .replace(char::is_numeric, ""),
        "export then import gives the same sources"
    );
}

#[test]
fn sources_are_added_once_disabled_and_removed_with_their_items_only_when_asked() {
    let server = HttpServer::start().expect("server");
    server.route(
        "/feed.xml",
        Reply::ok(RSS, rss(&server, &[("/a", "One", "Text one.")])),
    );
    server.route("/a", Reply::ok(HTML, page("One", "Text of the story.")));
    let ws = initialised();
    add(&ws, "feed", &server.url("/feed.xml"));
    let twice = ws.run(&["sources", "add", &server.url("/feed.xml"), "--name", "again"]);
    assert_eq!(twice.code, 2);
    assert!(twice.stderr.contains("already exists"), "{}", twice.stderr);
    let bad = ws.run(&["sources", "add", "ftp://files.example/feed"]);
    assert_eq!(bad.code, 2);

    assert_eq!(ws.run(&["sources", "disable", "feed"]).code, 0);
    let report = ws.json(&["collect", "--once"]);
    assert_eq!(
        report["totals"]["sources"], 0,
        "disabled sources are not collected"
    );
    assert_eq!(health(&ws, "feed")["state"], "disabled");
    assert_eq!(ws.run(&["sources", "enable", "feed"]).code, 0);
    assert_eq!(ws.run(&["collect", "--once"]).code, 0);
    assert_eq!(item_count(&ws), 1);

    let refused = ws.run(&["sources", "remove", "feed"]);
    assert_eq!(refused.code, 2);
    assert!(refused.stderr.contains("has 1 item"), "{}", refused.stderr);
    assert_eq!(ws.run(&["sources", "remove", "feed", "--with-items"]).code, 0);
    assert_eq!(item_count(&ws), 0);
    assert_eq!(ws.json(&["sources", "list"]).as_array().map(Vec::len), Some(0));
}

#[test]
fn without_once_sources_are_collected_again_on_their_schedule() {
    let server = HttpServer::start().expect("server");
    server.route_with("/feed.xml", {
        let first = rss(&server, &[("/a", "First", "One.")]);
        let second = rss(&server, &[("/a", "First", "One."), ("/b", "Second", "Two.")]);
        move |_, previous| {
            Reply::ok(
                RSS,
                if previous == 0 {
                    first.clone()
                } else {
                    second.clone()
                },
            )
        }
    });
    server.route("/a", Reply::ok(HTML, page("First", "Text of the first story.")));
    server.route("/b", Reply::ok(HTML, page("Second", "Text of the second story.")));
    let ws = initialised();
    let run = ws.run(&[
        "sources",
        "add",
        &server.url("/feed.xml"),
        "--name",
        "fast",
        "--allow-private",
        "--interval",
        "1s",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let mut child = ws
        .command(&["--format", "json", "collect"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn collect");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while item_count(&ws) < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // The report line follows the commit; give it a moment.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let _ = child.kill();
    let output = child.wait_with_output().expect("wait");
    assert!(
        !server.hits("/b").is_empty(),
        "the second run never came: {} feed requests",
        server.hits("/feed.xml").len()
    );
    let lines: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(lines.len() >= 2, "one JSON line per source run: {lines:?}");
    assert_eq!(lines[0]["new"], 1);
    assert!(lines[1..].iter().any(|l| l["new"] == 1), "{lines:?}");
    assert_eq!(item_count(&ws), 2);
}
