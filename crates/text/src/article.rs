//! The main article of a web page: its text without navigation, advertising, related links
//! and footers, with its title, author and date.
//!
//! The engine is `rs-trafilatura` (a Rust port of trafilatura), chosen on the Scrapinghub
//! article-extraction benchmark among the maintained Rust candidates: 4-word-shingle F1
//! 0.954 against dom_smoothie's 0.937 and the `trafilatura` crate's 0.941
//! (`scripts/bench-article.sh`; figures and speeds in `docs/accuracy.md`).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::sanitize_html;

/// The main article of a page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Article {
    /// The headline, when the page states one.
    pub title: Option<String>,
    /// The author, when the page states one.
    pub author: Option<String>,
    /// The publication time, when the page states one.
    pub published: Option<DateTime<Utc>>,
    /// The main text, paragraphs separated by line breaks.
    pub text: String,
    /// The main content as sanitised HTML (safe to display).
    pub html: String,
}

/// Why a page gave no article.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArticleError {
    /// The extractor failed on the page.
    #[error("main-text extraction failed: {0}")]
    Extraction(String),
    /// The page has no main text (an index, a login wall, a page of links).
    #[error("no main text found")]
    Empty,
}

/// Extracts the main article of `html`. `url`, when known, helps with relative links and
/// site-specific metadata.
pub fn extract_article(html: &str, url: Option<&str>) -> Result<Article, ArticleError> {
    let options = rs_trafilatura::Options {
        url: url.map(str::to_owned),
        ..rs_trafilatura::Options::default()
    };
    let result = rs_trafilatura::extract_with_options(html, &options)
        .map_err(|e| ArticleError::Extraction(e.to_string()))?;
    let text = result.content_text.trim().to_owned();
    if text.is_empty() {
        return Err(ArticleError::Empty);
    }
    let nonempty = |value: Option<String>| value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    Ok(Article {
        title: nonempty(result.metadata.title),
        author: nonempty(result.metadata.author),
        published: result.metadata.date,
        html: result
            .content_html
            .as_deref()
            .map(sanitize_html)
            .unwrap_or_default(),
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_article_comes_without_navigation_or_footer() {
        let paragraph = "The operators sent spear-phishing e-mails with a malicious attachment to \
                         ministries and energy companies across the region over several weeks.";
        let html = format!(
            "<html><head><title>Campaign hits ministries</title><meta name=\"author\" content=\"Jane Analyst\">\
             </head><body><nav><a href=\"/\">Home</a> <a href=\"/news\">News</a> <a href=\"/about\">About us</a></nav>\
             <article><h1>Campaign hits ministries</h1><p>{paragraph}</p><p>{paragraph}</p><p>{paragraph}</p></article>\
             <footer>Copyright 2026 Example Media. All rights reserved. Privacy policy.</footer></body></html>"
        );
        let article = extract_article(&html, Some("https://news.example/2026/campaign")).expect("article");
        assert!(article.text.contains("malicious attachment"), "{}", article.text);
        assert!(
            !article.text.contains("About us") && !article.text.contains("All rights reserved"),
            "{}",
            article.text
        );
        assert_eq!(article.title.as_deref(), Some("Campaign hits ministries"));
        assert_eq!(article.author.as_deref(), Some("Jane Analyst"));
        assert!(!article.html.contains("<script"));
    }

    #[test]
    fn a_page_without_text_is_an_error_not_an_empty_article() {
        let result = extract_article(
            "<html><body><nav><a href=\"/\">Home</a></nav></body></html>",
            None,
        );
        assert!(result.is_err(), "{result:?}");
    }
}
