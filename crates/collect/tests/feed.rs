//! The feed parser on RSS 2.0, Atom, JSON Feed and broken documents.

use chrono::Utc;
use threatdesk_collect::feed::{ParsedFeed, canonical_url, parse_feed};
use threatdesk_model::{NewItem, NewSource, Source, SourceId, SourceKind};
use url::Url;

fn source() -> Source {
    Source {
        id: SourceId(3),
        spec: NewSource::new("news", SourceKind::Feed, "https://news.example/feed.xml"),
        created_at: Utc::now(),
    }
}

const FEED_URL: &str = "https://news.example/feed.xml";

/// The feed's entries as items from the feed's own text (no pages fetched).
fn items(feed: &ParsedFeed) -> Vec<NewItem> {
    feed.entries
        .iter()
        .filter_map(|e| e.clone().into_item(None, &source(), Utc::now()).ok())
        .collect()
}

#[test]
fn rss_entries_become_items_with_canonical_links_and_reasons_for_the_rest() {
    let rss = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Example Security News</title>
 <item><title>APT28 targets ministries</title><link>https://News.Example:443/2026/apt28?utm_source=rss&amp;id=7#top</link>
  <guid>tag:news.example,2026:1</guid><pubDate>Tue, 24 Nov 2026 10:00:00 GMT</pubDate>
  <description>&lt;p&gt;Fancy Bear sent &lt;b&gt;spear-phishing&lt;/b&gt; e-mails.&lt;/p&gt;</description></item>
 <item><title>Relative link</title><link>/2026/relative</link><description>Text of the second story.</description></item>
 <item><title>No body at all</title><link>https://news.example/empty</link></item>
 <item><description>A story without a title or link.</description></item>
 <item><title>Neither link nor text</title></item>
</channel></rss>"#;
    let feed = parse_feed(rss.as_bytes(), Some(FEED_URL)).expect("parses");
    assert_eq!(feed.title.as_deref(), Some("Example Security News"));
    // The bodiless entry is kept: its page may give the text.
    assert_eq!(feed.entries.len(), 4, "{:?}", feed.rejections);
    assert_eq!(
        feed.entries[2].link.as_deref(),
        Some("https://news.example/empty")
    );
    let from_feed_text = items(&feed);
    assert_eq!(from_feed_text.len(), 3);
    let first = &from_feed_text[0];
    assert_eq!(first.canonical_url, "https://news.example/2026/apt28?id=7");
    assert_eq!(first.title, "APT28 targets ministries");
    assert!(
        first.text.contains("Fancy Bear sent spear-phishing e-mails."),
        "{}",
        first.text
    );
    assert_eq!(first.guid.as_deref(), Some("tag:news.example,2026:1"));
    assert!(first.published_at.is_some());
    assert_eq!(first.source_id, SourceId(3));
    assert_eq!(
        from_feed_text[1].canonical_url,
        "https://news.example/2026/relative"
    );
    // No link: named by the feed's address and the entry's id, so it is still one item.
    assert!(
        from_feed_text[2]
            .canonical_url
            .starts_with("https://news.example/feed.xml#"),
        "{}",
        from_feed_text[2].canonical_url
    );
    assert_eq!(feed.rejections.len(), 1);
    assert_eq!(
        (feed.rejections[0].position, feed.rejections[0].reason.as_str()),
        (5, "no link to fetch and no content or summary")
    );
    let bodiless = feed.entries[2].clone().into_item(None, &source(), Utc::now());
    assert!(bodiless.is_err_and(|reason| reason.contains("no readable text")));
}

#[test]
fn atom_and_json_feed_read_alike() {
    let atom = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Lab blog</title><id>urn:lab</id><updated>2026-11-24T10:00:00Z</updated>
 <entry><title>New loader</title><id>urn:lab:1</id><link href="https://lab.example/loader"/>
  <updated>2026-11-24T10:00:00Z</updated><author><name>Jane Analyst</name></author>
  <content type="html">&lt;p&gt;The loader drops Cobalt Strike.&lt;/p&gt;</content></entry></feed>"#;
    let json = r#"{"version": "https://jsonfeed.org/version/1.1", "title": "Lab blog",
      "items": [{"id": "1", "url": "https://lab.example/loader", "title": "New loader",
                 "content_html": "<p>The loader drops Cobalt Strike.</p>", "authors": [{"name": "Jane Analyst"}],
                 "date_published": "2026-11-24T10:00:00Z"}]}"#;
    let from_atom = items(&parse_feed(atom.as_bytes(), None).expect("atom"));
    let from_json = items(&parse_feed(json.as_bytes(), None).expect("json feed"));
    for feed in [&from_atom, &from_json] {
        let item = &feed[0];
        assert_eq!(
            (item.title.as_str(), item.canonical_url.as_str()),
            ("New loader", "https://lab.example/loader")
        );
        assert_eq!(item.text.trim(), "The loader drops Cobalt Strike.");
        assert_eq!(item.author.as_deref(), Some("Jane Analyst"));
    }
    assert_eq!(
        from_atom[0].content_hash, from_json[0].content_hash,
        "same story, same hash"
    );
}

#[test]
fn broken_and_hostile_documents_are_errors_not_crashes() {
    let malformed = parse_feed(b"<rss><channel><item><title>x</title>", None);
    assert!(malformed.is_err());
    assert!(parse_feed(b"hello", None).is_err());
    // Entity expansion ("billion laughs"): never expanded.
    let bomb = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">{}]><rss version=\"2.0\"><channel><title>&lol9;</title></channel></rss>",
        (1..10)
            .map(|i| format!("<!ENTITY lol{i} \"{}\">", format!("&lol{};", i - 1).repeat(10)))
            .collect::<String>()
    );
    let started = std::time::Instant::now();
    let result = parse_feed(bomb.as_bytes(), None);
    assert!(started.elapsed().as_secs() < 5);
    if let Ok(feed) = result {
        assert!(
            feed.title.is_none_or(|t| t.len() < 1000),
            "entities were expanded"
        );
    }
}

#[test]
fn canonical_urls_drop_what_does_not_name_the_document() {
    let base = Url::parse("https://news.example/feeds/all.xml").expect("url");
    let cases = [
        (
            "HTTPS://News.Example:443/a?utm_medium=x&b=2&fbclid=y#frag",
            "https://news.example/a?b=2",
        ),
        ("http://news.example:80/a", "http://news.example/a"),
        ("../2026/story", "https://news.example/2026/story"),
        ("https://news.example/a?utm_source=rss", "https://news.example/a"),
    ];
    for (raw, canonical) in cases {
        assert_eq!(
            canonical_url(raw, Some(&base)).as_deref(),
            Some(canonical),
            "{raw}"
        );
    }
    assert_eq!(canonical_url("mailto:someone@news.example", None), None);
    assert_eq!(canonical_url("not a url", None), None);
}
