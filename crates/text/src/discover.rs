//! Feed autodiscovery: the feeds a web page announces in its `<head>`.

use scraper::{Html, Node};

/// Media types of feed documents announced with `<link rel="alternate" type=…>`.
const FEED_TYPES: [&str; 4] = [
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "application/json",
];

/// The `href`s of `<link rel="alternate">` elements whose type is a feed's, in page order,
/// as written (relative ones included; the caller resolves them).
pub fn feed_links(html: &str) -> Vec<String> {
    let page = Html::parse_document(html);
    let mut links = Vec::new();
    for node in page.tree.nodes() {
        let Node::Element(element) = node.value() else {
            continue;
        };
        if element.name() != "link" {
            continue;
        }
        let alternate = element.attr("rel").is_some_and(|rel| {
            rel.split_ascii_whitespace()
                .any(|r| r.eq_ignore_ascii_case("alternate"))
        });
        let feed_type = element.attr("type").is_some_and(|t| {
            let t = t.trim().to_ascii_lowercase();
            FEED_TYPES.contains(&t.as_str())
        });
        if let (true, true, Some(href)) = (alternate, feed_type, element.attr("href")) {
            let href = href.trim().to_owned();
            if !href.is_empty() && !links.contains(&href) {
                links.push(href);
            }
        }
    }
    links
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announced_feeds_are_found_in_page_order() {
        let html = r#"<html><head>
            <link rel="stylesheet" href="/style.css">
            <link rel="alternate" type="application/rss+xml" title="All posts" href="/feed/">
            <link rel="alternate" type="application/atom+xml" href="https://blog.example/atom.xml">
            <link rel="alternate" hreflang="de" href="/de/">
            <link rel="Alternate" type="application/feed+json" href="/feed.json">
            </head><body><a rel="alternate" type="application/rss+xml" href="/not-a-link-element">x</a></body></html>"#;
        assert_eq!(
            feed_links(html),
            ["/feed/", "https://blog.example/atom.xml", "/feed.json"]
        );
        assert!(feed_links("<p>no head at all</p>").is_empty());
    }
}
