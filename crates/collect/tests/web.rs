//! The web collector against a real HTTP server on loopback: every answer a real server can
//! give, and what the collector makes of it.

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use threatdesk_collect::http::{FetchError, FetchRequest, Fetched, Fetcher, HttpConfig, Validators};
use threatdesk_collect::web::{RunOutcome, SourceRun, WebConfig, collect_source};
use threatdesk_model::{ContentHash, NewSource, Source, SourceId, SourceKind};
use threatdesk_testkit::{HttpServer, Reply};

const RSS: &str = "application/rss+xml";
const HTML: &str = "text/html; charset=utf-8";

fn http_config() -> HttpConfig {
    HttpConfig {
        connect_timeout_secs: 2.0,
        read_timeout_secs: 2.0,
        request_timeout_secs: 5.0,
        per_host_delay_secs: 0.0,
        retry_base_secs: 0.05,
        max_retries: 2,
        max_retry_after_secs: 5.0,
        ..HttpConfig::default()
    }
}

fn fetcher() -> Fetcher {
    Fetcher::new(http_config()).expect("client")
}

fn source(kind: SourceKind, url: &str) -> Source {
    let mut spec = NewSource::new("test source", kind, url);
    spec.allow_private = true;
    Source {
        id: SourceId(1),
        spec,
        created_at: Utc::now(),
    }
}

fn nothing_seen(_: &[String]) -> HashMap<String, ContentHash> {
    HashMap::new()
}

async fn collect(server: &HttpServer, path: &str) -> SourceRun {
    collect_source(
        &fetcher(),
        &WebConfig::default(),
        &source(SourceKind::Feed, &server.url(path)),
        None,
        &nothing_seen,
    )
    .await
}

fn article_page(title: &str, sentence: &str) -> String {
    let paragraph = format!(
        "{sentence} The campaign ran for several weeks and reached ministries, energy companies and \
         telecommunications providers across the region, according to the responders who investigated it."
    );
    format!(
        "<html><head><title>{title}</title></head><body><nav><a href=\"/\">Home</a> <a href=\"/about\">About us</a></nav>\
         <article><h1>{title}</h1><p>{paragraph}</p><p>{paragraph}</p><p>{paragraph}</p></article>\
         <footer>Copyright Example Media. All rights reserved.</footer></body></html>"
    )
}

fn rss(server: &HttpServer, entries: &[(&str, &str)]) -> String {
    let items: String = entries
        .iter()
        .map(|(path, summary)| {
            format!(
                "<item><title>Story {path}</title><link>{}</link><guid>{path}</guid>\
                 <pubDate>Tue, 24 Nov 2026 10:00:00 GMT</pubDate><description>{summary}</description></item>",
                server.url(path)
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Loopback news</title>{items}</channel></rss>"
    )
}

fn failure(run: &SourceRun) -> (&str, Option<u16>) {
    match &run.outcome {
        RunOutcome::Failed { kind, status, .. } => (kind.as_str(), *status),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn feed_entries_get_their_pages_main_text_and_a_failed_page_falls_back_with_a_reason() {
    let server = HttpServer::start().expect("server");
    server.route(
        "/feed.xml",
        Reply::ok(
            RSS,
            rss(&server, &[("/a", "Summary A only."), ("/b", "Summary B only.")]),
        )
        .header("ETag", "\"v1\""),
    );
    server.route(
        "/a",
        Reply::ok(
            HTML,
            article_page("Story A", "Fancy Bear sent spear-phishing e-mails."),
        ),
    );
    server.route("/b", Reply::status(403));
    let run = collect(&server, "/feed.xml").await;
    assert_eq!(
        run.outcome,
        RunOutcome::Fetched {
            status: 200,
            validators: Validators {
                etag: Some("\"v1\"".to_owned()),
                last_modified: None
            }
        }
    );
    assert_eq!((run.entries, run.items.len()), (2, 2));
    let a = &run.items[0];
    assert!(a.full_text);
    assert!(
        a.item.text.contains("Fancy Bear sent spear-phishing"),
        "{}",
        a.item.text
    );
    assert!(
        !a.item.text.contains("About us"),
        "navigation kept: {}",
        a.item.text
    );
    assert!(a.item.html.as_deref().is_some_and(|h| !h.contains("<script")));
    let b = &run.items[1];
    assert!(!b.full_text);
    assert_eq!(b.item.text.trim(), "Summary B only.");
    assert_eq!(run.problems.len(), 1);
    let problem = &run.problems[0];
    assert_eq!(problem.kind, "article_fallback");
    assert_eq!(problem.input, server.url("/b"));
    assert!(problem.reason.contains("HTTP 403"), "{}", problem.reason);
    for request in server.requests() {
        assert!(
            request
                .header("user-agent")
                .is_some_and(|ua| ua.starts_with("threatdesk/")),
            "{request:?}"
        );
    }
}

#[tokio::test]
async fn conditional_get_sends_validators_and_a_304_means_nothing_to_do() {
    let server = HttpServer::start().expect("server");
    server.route_with("/feed.xml", |request, _| {
        if request.header("if-none-match") == Some("\"v1\"")
            && request.header("if-modified-since") == Some("Tue, 24 Nov 2026 10:00:00 GMT")
        {
            Reply::status(304)
        } else {
            Reply::ok(
                RSS,
                "<rss version=\"2.0\"><channel><title>x</title></channel></rss>",
            )
        }
    });
    let validators = Validators {
        etag: Some("\"v1\"".to_owned()),
        last_modified: Some("Tue, 24 Nov 2026 10:00:00 GMT".to_owned()),
    };
    let run = collect_source(
        &fetcher(),
        &WebConfig::default(),
        &source(SourceKind::Feed, &server.url("/feed.xml")),
        Some(&validators),
        &nothing_seen,
    )
    .await;
    assert_eq!(run.outcome, RunOutcome::NotModified);
    assert!(run.items.is_empty() && run.problems.is_empty());
}

#[tokio::test]
async fn entries_seen_unchanged_are_not_fetched_again_and_changed_ones_are() {
    let server = HttpServer::start().expect("server");
    server.route(
        "/feed.xml",
        Reply::ok(RSS, rss(&server, &[("/a", "First."), ("/b", "Second.")])),
    );
    server.route("/a", Reply::ok(HTML, article_page("A", "Sandworm hit the grid.")));
    server.route("/b", Reply::ok(HTML, article_page("B", "Lazarus stole coins.")));
    let first = collect(&server, "/feed.xml").await;
    let seen: HashMap<String, ContentHash> = first.items.iter().filter_map(|c| c.entry.clone()).collect();
    assert_eq!(seen.len(), 2);
    server.route(
        "/feed.xml",
        Reply::ok(RSS, rss(&server, &[("/a", "First."), ("/b", "Second, updated.")])),
    );
    let lookup = |ids: &[String]| -> HashMap<String, ContentHash> {
        ids.iter()
            .filter_map(|id| seen.get(id).map(|h| (id.clone(), h.clone())))
            .collect()
    };
    let second = collect_source(
        &fetcher(),
        &WebConfig::default(),
        &source(SourceKind::Feed, &server.url("/feed.xml")),
        None,
        &lookup,
    )
    .await;
    assert_eq!(second.unchanged_entries, 1);
    assert_eq!(second.items.len(), 1);
    assert_eq!(second.items[0].item.canonical_url, server.url("/b"));
    assert_eq!(server.hits("/a").len(), 1, "an unchanged entry was fetched again");
    assert_eq!(server.hits("/b").len(), 2);
}

#[tokio::test]
async fn gone_and_missing_feeds_fail_at_once_with_their_status() {
    let server = HttpServer::start().expect("server");
    server.route("/gone", Reply::status(410));
    for (path, status) in [("/gone", 410), ("/missing", 404)] {
        let run = collect(&server, path).await;
        assert_eq!(failure(&run), ("http_status", Some(status)));
        assert_eq!(
            server.hits(path).len(),
            1,
            "{path}: client errors are not retried"
        );
    }
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff_then_reported() {
    let server = HttpServer::start().expect("server");
    server.route("/broken", Reply::status(500));
    let run = collect(&server, "/broken").await;
    assert_eq!(failure(&run), ("http_status", Some(500)));
    let RunOutcome::Failed { message, .. } = &run.outcome else {
        unreachable!()
    };
    assert!(message.contains("after 3 tries"), "{message}");
    let hits = server.hits("/broken");
    assert_eq!(hits.len(), 3);
    assert!(hits[1].at.duration_since(hits[0].at) >= Duration::from_millis(25));
    assert!(hits[2].at.duration_since(hits[1].at) >= Duration::from_millis(50));

    server.route_with("/flaky", |_, previous| {
        if previous == 0 {
            Reply::status(503)
        } else {
            Reply::ok(
                RSS,
                "<rss version=\"2.0\"><channel><title>Back</title></channel></rss>",
            )
        }
    });
    let run = collect(&server, "/flaky").await;
    assert!(
        matches!(run.outcome, RunOutcome::Fetched { status: 200, .. }),
        "{run:?}"
    );
}

#[tokio::test]
async fn too_many_requests_waits_as_asked_or_leaves_a_time_to_come_back() {
    let server = HttpServer::start().expect("server");
    server.route_with("/limited", |_, previous| {
        if previous == 0 {
            Reply::status(429).header("Retry-After", "1")
        } else {
            Reply::ok(
                RSS,
                "<rss version=\"2.0\"><channel><title>ok</title></channel></rss>",
            )
        }
    });
    let run = collect(&server, "/limited").await;
    assert!(matches!(run.outcome, RunOutcome::Fetched { .. }), "{run:?}");
    let hits = server.hits("/limited");
    assert!(hits[1].at.duration_since(hits[0].at) >= Duration::from_millis(950));

    server.route("/closed", Reply::status(429).header("Retry-After", "3600"));
    let before = Utc::now();
    let run = collect(&server, "/closed").await;
    let RunOutcome::Failed {
        status, retry_after, ..
    } = &run.outcome
    else {
        panic!("{run:?}")
    };
    assert_eq!(*status, Some(429));
    assert!(retry_after.is_some_and(|t| t >= before + chrono::Duration::seconds(3590)));
    assert_eq!(
        server.hits("/closed").len(),
        1,
        "a long Retry-After is not waited for"
    );
}

#[tokio::test]
async fn slow_answers_time_out() {
    let server = HttpServer::start().expect("server");
    server.route("/slow", Reply::ok(RSS, "<rss/>").delayed(Duration::from_secs(3)));
    let config = HttpConfig {
        read_timeout_secs: 0.3,
        request_timeout_secs: 0.5,
        max_retries: 1,
        ..http_config()
    };
    let fetched = Fetcher::new(config)
        .expect("client")
        .get(FetchRequest {
            url: &server.url("/slow"),
            validators: None,
            allow_private: true,
        })
        .await;
    assert!(
        matches!(fetched, Err(FetchError::Timeout { attempts: 2, .. })),
        "{fetched:?}"
    );
}

#[tokio::test]
async fn redirects_are_followed_a_few_times_but_loops_and_long_chains_are_refused() {
    let server = HttpServer::start().expect("server");
    server.route("/old", Reply::redirect("/new"));
    server.route(
        "/new",
        Reply::ok(
            RSS,
            "<rss version=\"2.0\"><channel><title>Moved</title></channel></rss>",
        ),
    );
    server.route("/loop-a", Reply::redirect("/loop-b"));
    server.route("/loop-b", Reply::redirect("/loop-a"));
    for i in 0..10 {
        server.route(
            &format!("/chain{i}"),
            Reply::redirect(&format!("/chain{}", i + 1)),
        );
    }
    let fetcher = fetcher();
    let get = |path: &str| {
        let url = server.url(path);
        let fetcher = fetcher.clone();
        async move {
            fetcher
                .get(FetchRequest {
                    url: &url,
                    validators: None,
                    allow_private: true,
                })
                .await
        }
    };
    let moved = get("/old").await;
    assert!(
        matches!(&moved, Ok(Fetched::Body(r)) if r.final_url.ends_with("/new")),
        "{moved:?}"
    );
    let looped = get("/loop-a").await;
    assert!(
        matches!(&looped, Err(FetchError::Redirect(m)) if m.contains("redirect loop")),
        "{looped:?}"
    );
    let chain = get("/chain0").await;
    assert!(
        matches!(&chain, Err(FetchError::Redirect(m)) if m.contains("more than 5 redirects")),
        "{chain:?}"
    );
}

#[tokio::test]
async fn oversized_bodies_and_gzip_bombs_are_cut_off() {
    let server = HttpServer::start().expect("server");
    server.route("/big", Reply::ok(RSS, vec![b' '; 2_000_000]));
    // 50 MB of zeros compress to about 50 kB.
    server.route("/bomb", Reply::ok(RSS, vec![0u8; 50_000_000]).gzipped());
    server.route(
        "/small-gzip",
        Reply::ok(
            RSS,
            "<rss version=\"2.0\"><channel><title>Compressed</title></channel></rss>",
        )
        .gzipped(),
    );
    let fetcher = Fetcher::new(HttpConfig {
        max_body_bytes: 1_000_000,
        ..http_config()
    })
    .expect("client");
    for (path, detail) in [("/big", "Content-Length"), ("/bomb", "after decompression")] {
        let result = fetcher
            .get(FetchRequest {
                url: &server.url(path),
                validators: None,
                allow_private: true,
            })
            .await;
        assert!(
            matches!(&result, Err(FetchError::TooLarge { detail: d, .. }) if d.contains(detail)),
            "{path}: {result:?}"
        );
    }
    let small = fetcher
        .get(FetchRequest {
            url: &server.url("/small-gzip"),
            validators: None,
            allow_private: true,
        })
        .await;
    assert!(
        matches!(&small, Ok(Fetched::Body(r)) if r.body.starts_with(b"<rss")),
        "decompressed: {small:?}"
    );
    assert!(
        server.hits("/small-gzip")[0]
            .header("accept-encoding")
            .is_some_and(|e| e.contains("gzip") && e.contains("br"))
    );
}

#[tokio::test]
async fn malformed_feeds_and_entity_bombs_fail_cleanly() {
    let server = HttpServer::start().expect("server");
    server.route("/broken.xml", Reply::ok(RSS, "<rss><channel><item><title>cut"));
    let bomb = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">{}]><rss version=\"2.0\"><channel>\
         <title>&lol9;</title><item><title>x</title><link>http://127.0.0.1/x</link><description>&lol9;</description></item>\
         </channel></rss>",
        (1..10)
            .map(|i| format!("<!ENTITY lol{i} \"{}\">", format!("&lol{};", i - 1).repeat(10)))
            .collect::<String>()
    );
    server.route("/bomb.xml", Reply::ok(RSS, bomb));
    server.route(
        "/page.html",
        Reply::ok(
            HTML,
            article_page("Not a feed", "Just a page.").replace(
                "<head>",
                "<head><link rel=\"alternate\" type=\"application/rss+xml\" href=\"/feed/\">",
            ),
        ),
    );
    let broken = collect(&server, "/broken.xml").await;
    assert_eq!(failure(&broken).0, "parse");
    let page = collect(&server, "/page.html").await;
    let RunOutcome::Failed { message, .. } = &page.outcome else {
        panic!("{page:?}")
    };
    assert!(message.contains("a web page, not a feed"), "{message}");
    assert!(
        message.contains(&format!("announces these feeds: {}", server.url("/feed/"))),
        "{message}"
    );
    let started = std::time::Instant::now();
    let bomb = collect(&server, "/bomb.xml").await;
    assert!(started.elapsed() < Duration::from_secs(10));
    for item in &bomb.items {
        assert!(item.item.text.len() < 10_000, "entities were expanded");
    }
}

#[tokio::test]
async fn wrong_and_legacy_charsets_come_out_as_the_right_characters() {
    let server = HttpServer::start().expect("server");
    let mut latin1_feed =
        b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss version=\"2.0\"><channel><title>Caf".to_vec();
    latin1_feed.push(0xE9);
    latin1_feed.extend_from_slice(b"</title><item><title>M");
    latin1_feed.push(0xFC);
    latin1_feed.extend_from_slice(
        format!(
            "nchen</title><link>{}</link><description>x</description></item></channel></rss>",
            server.url("/page-1252")
        )
        .as_bytes(),
    );
    server.route("/latin1.xml", Reply::ok("application/rss+xml", latin1_feed));
    // A windows-1252 page served as UTF-8: the bytes are not UTF-8, so the text is re-detected.
    let page = article_page(
        "Bericht",
        "Die Angreifer nutzten eine Lücke in der Software für Behörden.",
    );
    let (encoded, _, _) = encoding_rs::WINDOWS_1252.encode(&page);
    server.route(
        "/page-1252",
        Reply::ok("text/html; charset=utf-8", encoded.into_owned()),
    );
    let run = collect(&server, "/latin1.xml").await;
    assert_eq!(run.items.len(), 1, "{run:?}");
    let item = &run.items[0].item;
    assert_eq!(item.title, "München");
    assert!(
        item.text.contains("Lücke in der Software für Behörden"),
        "{}",
        item.text
    );
}

#[tokio::test]
async fn entries_without_links_or_dates_are_kept_and_named_by_the_feed() {
    let server = HttpServer::start().expect("server");
    server.route(
        "/bare.xml",
        Reply::ok(
            RSS,
            "<rss version=\"2.0\"><channel><title>Bare</title>\
             <item><guid isPermaLink=\"false\">note-1</guid><title>Advisory note</title>\
             <description>Patch the VPN appliances now.</description></item>\
             <item><title>Empty</title></item></channel></rss>",
        ),
    );
    let run = collect(&server, "/bare.xml").await;
    assert_eq!(run.items.len(), 1);
    let item = &run.items[0].item;
    assert_eq!(item.canonical_url, format!("{}#note-1", server.url("/bare.xml")));
    assert_eq!(item.published_at, None);
    assert_eq!(item.text.trim(), "Patch the VPN appliances now.");
    let kinds: Vec<&str> = run.problems.iter().map(|p| p.kind).collect();
    assert_eq!(
        kinds,
        ["entry_rejected", "article_fallback"],
        "{:?}",
        run.problems
    );
    assert!(run.problems[0].input.starts_with("entry 2"));
}

#[tokio::test]
async fn private_addresses_are_refused_unless_allowed() {
    let server = HttpServer::start().expect("server");
    server.route(
        "/feed.xml",
        Reply::ok(RSS, "<rss version=\"2.0\"><channel/></rss>"),
    );
    let guarded = |url: String| async move {
        fetcher()
            .get(FetchRequest {
                url: &url,
                validators: None,
                allow_private: false,
            })
            .await
    };
    let literal = guarded(server.url("/feed.xml")).await;
    assert!(
        matches!(&literal, Err(FetchError::Blocked(b)) if b.reason == "loopback"),
        "{literal:?}"
    );
    let port = server.url("").rsplit(':').next().unwrap_or_default().to_owned();
    let by_name = guarded(format!("http://localhost:{port}/feed.xml")).await;
    assert!(matches!(&by_name, Err(FetchError::Blocked(_))), "{by_name:?}");
    let metadata = guarded("http://169.254.169.254/latest/meta-data/".to_owned()).await;
    assert!(
        matches!(&metadata, Err(FetchError::Blocked(b)) if b.reason == "cloud metadata service"),
        "{metadata:?}"
    );
    assert!(
        server.requests().is_empty(),
        "a refused request reached the server"
    );
    let mut source = source(SourceKind::Feed, &server.url("/feed.xml"));
    source.spec.allow_private = false;
    let run = collect_source(&fetcher(), &WebConfig::default(), &source, None, &nothing_seen).await;
    assert_eq!(failure(&run).0, "blocked_address");
}

#[tokio::test]
async fn requests_to_one_host_are_spaced_by_the_politeness_delay() {
    let server = HttpServer::start().expect("server");
    let paths = ["/p1", "/p2", "/p3"];
    server.route(
        "/feed.xml",
        Reply::ok(RSS, rss(&server, &paths.map(|p| (p, "Summary.")))),
    );
    for path in paths {
        server.route(path, Reply::ok(HTML, article_page(path, "Text.")));
    }
    let fetcher = Fetcher::new(HttpConfig {
        per_host_delay_secs: 0.2,
        ..http_config()
    })
    .expect("client");
    let run = collect_source(
        &fetcher,
        &WebConfig::default(),
        &source(SourceKind::Feed, &server.url("/feed.xml")),
        None,
        &nothing_seen,
    )
    .await;
    assert_eq!(run.items.len(), 3);
    let requests = server.requests();
    assert_eq!(requests.len(), 4);
    for pair in requests.windows(2) {
        let gap = pair[1].at.duration_since(pair[0].at);
        assert!(gap >= Duration::from_millis(180), "requests {gap:?} apart");
    }
}

#[tokio::test]
async fn a_web_page_source_is_one_item_named_by_its_address() {
    let server = HttpServer::start().expect("server");
    server.route(
        "/advisories",
        Reply::ok(HTML, article_page("Advisories", "CVE-2026-1234 is exploited.")),
    );
    let page = source(SourceKind::WebPage, &server.url("/advisories"));
    let run = collect_source(&fetcher(), &WebConfig::default(), &page, None, &nothing_seen).await;
    assert_eq!(run.items.len(), 1);
    let item = &run.items[0].item;
    assert_eq!(item.canonical_url, server.url("/advisories"));
    assert!(item.text.contains("CVE-2026-1234"));
    assert!(run.items[0].entry.is_none());
}

#[tokio::test]
async fn a_configured_proxy_carries_every_request() {
    // The loopback server plays the proxy: it receives absolute-form requests for a host
    // that does not exist, which only a proxy can answer.
    let proxy = HttpServer::start().expect("proxy");
    proxy.route(
        "http://feeds.example/feed.xml",
        Reply::ok(
            RSS,
            "<rss version=\"2.0\"><channel><title>Via proxy</title><item><title>Proxied</title>\
             <link>http://feeds.example/story</link><description>Summary.</description></item></channel></rss>",
        ),
    );
    proxy.route(
        "http://feeds.example/story",
        Reply::ok(HTML, article_page("Proxied", "APT29 used a proxy too.")),
    );
    let fetcher = Fetcher::new(HttpConfig {
        proxy: proxy.url(""),
        ..http_config()
    })
    .expect("client");
    let mut source = source(SourceKind::Feed, "http://feeds.example/feed.xml");
    source.spec.allow_private = false;
    let run = collect_source(&fetcher, &WebConfig::default(), &source, None, &nothing_seen).await;
    assert!(matches!(run.outcome, RunOutcome::Fetched { .. }), "{run:?}");
    assert_eq!(run.items.len(), 1);
    assert!(run.items[0].full_text, "{:?}", run.problems);
    assert!(run.items[0].item.text.contains("APT29 used a proxy"));
    assert_eq!(proxy.requests().len(), 2);
}
