//! Turning stored text into safe HTML: Markdown, highlighted item text, URLs.

use std::fmt::Write as _;

use threatdesk_model::{Finding, FindingKind};

/// Markdown as HTML that cannot run script: rendered by pulldown-cmark (raw HTML in the
/// source included), then cleaned by ammonia, whose allow-list drops `<script>`, event
/// handlers, `style`, and `javascript:` or `data:` links; links get `rel="noopener
/// noreferrer nofollow"`.
pub fn markdown(source: &str) -> String {
    let mut options = pulldown_cmark::Options::empty();
    options.insert(pulldown_cmark::Options::ENABLE_TABLES);
    options.insert(pulldown_cmark::Options::ENABLE_STRIKETHROUGH);
    let parser = pulldown_cmark::Parser::new_ext(source, options);
    let mut html = String::with_capacity(source.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, parser);
    sanitize(&html)
}

/// Any HTML, cleaned of everything that could run or load script.
pub fn sanitize(html: &str) -> String {
    ammonia::Builder::default()
        .link_rel(Some("noopener noreferrer nofollow"))
        .url_schemes(["http", "https", "mailto"].into_iter().collect())
        .clean(html)
        .to_string()
}

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a value for a query string.
pub fn url_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// Bytes as lower-case hexadecimal (ETags, MISP feed hashes).
pub fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The CSS class of a finding's highlight: `ioc`, `entity`, `technique` or `cve`.
pub fn finding_class(kind: FindingKind) -> &'static str {
    match kind {
        FindingKind::EntityMention
        | FindingKind::AttackGroup
        | FindingKind::AttackSoftware
        | FindingKind::AttackCampaign => "entity",
        FindingKind::AttackTechnique | FindingKind::AttackTactic | FindingKind::AttackMitigation => {
            "technique"
        }
        FindingKind::Cve => "cve",
        _ => "ioc",
    }
}

/// An item's plain text as escaped HTML paragraphs, with every finding wrapped in a
/// `<mark>` that names its kind and value. Overlapping or out-of-range spans are skipped.
pub fn highlight(text: &str, findings: &[Finding]) -> String {
    let mut spans: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.span.start < f.span.end && f.span.slice(text).is_some())
        .collect();
    spans.sort_by_key(|f| (f.span.start, std::cmp::Reverse(f.span.end)));
    let mut html = String::with_capacity(text.len() * 5 / 4);
    html.push_str("<p>");
    let mut at = 0;
    let push_text = |html: &mut String, piece: &str| {
        for (i, paragraph) in piece.split("\n\n").enumerate() {
            if i > 0 {
                html.push_str("</p><p>");
            }
            html.push_str(&escape(paragraph).replace('\n', "<br>"));
        }
    };
    for finding in spans {
        if finding.span.start < at {
            continue;
        }
        let Some(piece) = text.get(at..finding.span.start) else {
            continue;
        };
        push_text(&mut html, piece);
        let benign = if finding.is_benign() { " benign" } else { "" };
        let _ = write!(
            html,
            "<mark class=\"{}{benign}\" title=\"{}: {}\">{}</mark>",
            finding_class(finding.kind),
            escape(finding.kind.as_str()),
            escape(&finding.value),
            escape(finding.span.slice(text).unwrap_or_default())
        );
        at = finding.span.end;
    }
    push_text(&mut html, text.get(at..).unwrap_or_default());
    html.push_str("</p>");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_keeps_formatting_and_drops_script() {
        let html = markdown(
            "**Patch** now\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n[x](javascript:alert(1))",
        );
        assert!(html.contains("<strong>Patch</strong>"), "{html}");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("onerror"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
    }

    #[test]
    fn highlighted_text_is_escaped_around_its_marks() {
        let text = "C2 at 203.0.113.7 <b>now</b>";
        let finding = Finding {
            item_id: threatdesk_model::ItemId(1),
            kind: FindingKind::Ipv4,
            value: "203.0.113.7".into(),
            text: "203.0.113.7".into(),
            span: threatdesk_model::Span { start: 6, end: 17 },
            confidence: 1.0,
            entity_ids: Vec::new(),
            flags: Vec::new(),
        };
        let html = highlight(text, &[finding]);
        assert!(
            html.contains("<mark class=\"ioc\" title=\"ipv4: 203.0.113.7\">203.0.113.7</mark>"),
            "{html}"
        );
        assert!(html.contains("&lt;b&gt;now&lt;/b&gt;"), "{html}");
    }
}
