//! Source lists in OPML 2.0, the format every feed reader imports and exports.
//!
//! Feeds are `<outline type="rss" xmlUrl="…">`; web pages `<outline type="link" url="…">`.
//! Outlines without an address are folders: their `text` becomes a tag of the sources
//! inside. threatdesk's own settings travel as extra attributes (`tlp`, `interval`,
//! `reliability`, `allowPrivate`) that other readers ignore.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use threatdesk_model::{NewSource, Reliability, Source, SourceKind, Tlp};

use crate::feed::canonical_url;

/// Why a whole OPML document could not be read.
#[derive(Debug, thiserror::Error)]
#[error("not a readable OPML document: {0}")]
pub struct OpmlError(String);

/// One outline that gave no source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutlineRejection {
    /// 1-based position among the document's outlines.
    pub position: usize,
    /// Its `text` or `title`.
    pub name: String,
    /// Why.
    pub reason: String,
}

/// What an OPML document lists.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OpmlSources {
    /// The sources, in document order. `poll_interval_secs` is `None` unless the outline
    /// gives `interval`.
    pub sources: Vec<NewSource>,
    /// Outlines that are neither folders nor usable sources.
    pub rejections: Vec<OutlineRejection>,
}

/// Reads an OPML document's sources.
pub fn parse_opml(bytes: &[u8]) -> Result<OpmlSources, OpmlError> {
    let mut reader = Reader::from_reader(bytes);
    reader.config_mut().trim_text(true);
    let mut buffer = Vec::new();
    let mut folders: Vec<Option<String>> = Vec::new();
    let mut parsed = OpmlSources::default();
    let mut outlines = 0usize;
    let mut saw_opml = false;
    loop {
        let event = reader
            .read_event_into(&mut buffer)
            .map_err(|e| OpmlError(format!("at byte {}: {e}", reader.error_position())))?;
        match event {
            Event::Start(ref element) | Event::Empty(ref element) => {
                let is_empty = matches!(event, Event::Empty(_));
                match element.local_name().as_ref() {
                    "opml" => saw_opml = true,
                    "outline" => {
                        outlines += 1;
                        let attributes = read_attributes(element)
                            .map_err(|e| OpmlError(format!("outline {outlines}: {e}")))?;
                        let folder = outline(&attributes, outlines, &folders, &mut parsed);
                        if !is_empty {
                            folders.push(folder);
                        }
                    }
                    _ => {}
                }
            }
            Event::End(ref element) if element.local_name().as_ref() == "outline" => {
                folders.pop();
            }
            Event::DocType(_) => {
                return Err(OpmlError(
                    "document type declarations are not accepted".to_owned(),
                ));
            }
            Event::Eof => break,
            _ => {}
        }
        buffer.clear();
    }
    if !saw_opml {
        return Err(OpmlError("no <opml> element".to_owned()));
    }
    Ok(parsed)
}

type Attributes = Vec<(String, String)>;

fn read_attributes(element: &BytesStart<'_>) -> Result<Attributes, String> {
    element
        .attributes()
        .map(|attribute| {
            let attribute = attribute.map_err(|e| e.to_string())?;
            let key = attribute.key.local_name().as_ref().to_owned();
            let value = attribute
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| e.to_string())?
                .trim()
                .to_owned();
            Ok((key, value))
        })
        .collect()
}

/// Reads one outline into `parsed`; returns its folder name when it is a folder.
fn outline(
    attributes: &Attributes,
    position: usize,
    folders: &[Option<String>],
    parsed: &mut OpmlSources,
) -> Option<String> {
    let get = |key: &str| {
        attributes
            .iter()
            .find(|(k, v)| k.eq_ignore_ascii_case(key) && !v.is_empty())
            .map(|(_, v)| v.as_str())
    };
    let name = get("text").or(get("title")).unwrap_or_default().to_owned();
    let (kind, address) = match (get("xmlUrl"), get("type"), get("url").or(get("htmlUrl"))) {
        (Some(feed), _, _) => (SourceKind::Feed, feed),
        (None, Some("link"), Some(page)) => (SourceKind::WebPage, page),
        _ => return Some(name).filter(|n| !n.is_empty()),
    };
    let mut reject = |reason: String| {
        parsed.rejections.push(OutlineRejection {
            position,
            name: name.clone(),
            reason,
        });
        None
    };
    let Some(location) = canonical_url(address, None) else {
        return reject(format!("{address:?} is not an http or https address"));
    };
    let mut source = NewSource::new(
        if name.is_empty() {
            location.clone()
        } else {
            name.clone()
        },
        kind,
        location,
    );
    source.tags = folders.iter().flatten().cloned().collect();
    for tag in get("category").unwrap_or_default().split(',') {
        let tag = tag.trim().trim_matches('/').to_owned();
        if !tag.is_empty() && !source.tags.contains(&tag) {
            source.tags.push(tag);
        }
    }
    if let Some(tlp) = get("tlp") {
        match tlp.parse::<Tlp>() {
            Ok(tlp) => source.default_tlp = tlp,
            Err(e) => return reject(e.to_string()),
        }
    }
    if let Some(reliability) = get("reliability") {
        match reliability.parse::<Reliability>() {
            Ok(r) => source.reliability = r,
            Err(e) => return reject(e.to_string()),
        }
    }
    if let Some(interval) = get("interval") {
        match interval.parse::<u64>() {
            Ok(secs) if secs > 0 => source.poll_interval_secs = Some(secs),
            _ => return reject(format!("interval {interval:?} is not a number of seconds")),
        }
    }
    source.allow_private = get("allowPrivate") == Some("true");
    source.enabled = get("enabled") != Some("false");
    parsed.sources.push(source);
    None
}

/// Writes sources as an OPML 2.0 document (feeds and web pages; other kinds have no address).
pub fn write_opml(title: &str, sources: &[Source]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n");
    out.push_str(&format!(
        "  <head>\n    <title>{}</title>\n  </head>\n  <body>\n",
        escape(title)
    ));
    for source in sources {
        let s = &source.spec;
        let address = match s.kind {
            SourceKind::Feed => format!("type=\"rss\" xmlUrl=\"{}\"", escape(&s.location)),
            SourceKind::WebPage => format!("type=\"link\" url=\"{}\"", escape(&s.location)),
            SourceKind::File | SourceKind::Manual => continue,
        };
        out.push_str(&format!(
            "    <outline text=\"{name}\" title=\"{name}\" {address} tlp=\"{tlp}\" reliability=\"{reliability}\"",
            name = escape(&s.name),
            tlp = s.default_tlp.as_str(),
            reliability = s.reliability,
        ));
        if let Some(interval) = s.poll_interval_secs {
            out.push_str(&format!(" interval=\"{interval}\""));
        }
        if !s.tags.is_empty() {
            out.push_str(&format!(" category=\"{}\"", escape(&s.tags.join(","))));
        }
        if s.allow_private {
            out.push_str(" allowPrivate=\"true\"");
        }
        if !s.enabled {
            out.push_str(" enabled=\"false\"");
        }
        out.push_str("/>\n");
    }
    out.push_str("  </body>\n</opml>\n");
    out
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use threatdesk_model::SourceId;

    use super::*;

    const READER_EXPORT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>My feeds</title></head><body>
  <outline text="Government">
    <outline text="CISA &amp; friends" type="rss" xmlUrl="https://www.cisa.gov/cybersecurity-advisories/all.xml" htmlUrl="https://www.cisa.gov"/>
  </outline>
  <outline text="Vendor blog" type="rss" xmlUrl="https://blog.example/feed?utm_source=opml" category="/vendor,/research" tlp="GREEN" interval="900"/>
  <outline text="Status page" type="link" url="https://status.example/incidents"/>
  <outline text="Broken" type="rss" xmlUrl="ftp://files.example/feed.xml"/>
  <outline text="Bad marking" type="rss" xmlUrl="https://x.example/feed" tlp="PURPLE"/>
</body></opml>"#;

    #[test]
    fn reader_exports_give_sources_with_folders_as_tags_and_reasons_for_the_rest() {
        let parsed = parse_opml(READER_EXPORT.as_bytes()).expect("parses");
        let names: Vec<&str> = parsed.sources.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["CISA & friends", "Vendor blog", "Status page"]);
        assert_eq!(parsed.sources[0].tags, ["Government"]);
        assert_eq!(parsed.sources[0].kind, SourceKind::Feed);
        let vendor = &parsed.sources[1];
        assert_eq!(vendor.location, "https://blog.example/feed");
        assert_eq!(vendor.tags, ["vendor", "research"]);
        assert_eq!(
            (vendor.default_tlp, vendor.poll_interval_secs),
            (Tlp::Green, Some(900))
        );
        assert_eq!(parsed.sources[2].kind, SourceKind::WebPage);
        let reasons: Vec<(usize, &str)> = parsed
            .rejections
            .iter()
            .map(|r| (r.position, r.name.as_str()))
            .collect();
        assert_eq!(reasons, [(5, "Broken"), (6, "Bad marking")]);
        assert!(parsed.rejections[0].reason.contains("not an http"));
    }

    #[test]
    fn export_then_import_gives_the_same_sources() {
        let parsed = parse_opml(READER_EXPORT.as_bytes()).expect("parses");
        let mut specs = parsed.sources.clone();
        specs[0].allow_private = true;
        specs[1].enabled = false;
        let stored: Vec<Source> = specs
            .iter()
            .enumerate()
            .map(|(i, spec)| Source {
                id: SourceId(i as i64 + 1),
                spec: spec.clone(),
                created_at: Utc::now(),
            })
            .collect();
        let again = parse_opml(write_opml("threatdesk <sources>", &stored).as_bytes()).expect("re-parses");
        assert_eq!(again.sources, specs);
        assert!(again.rejections.is_empty());
    }

    #[test]
    fn broken_documents_are_errors() {
        assert!(parse_opml(b"<html><body>not opml</body></html>").is_err());
        let truncated = parse_opml(b"<opml><body><outline text=\"x\" xmlUrl=\"https://a.example/\"");
        assert!(truncated.is_err_and(|e| e.to_string().contains("at byte")));
        let doctype = b"<?xml version=\"1.0\"?><!DOCTYPE opml [<!ENTITY a \"aaaa\">]><opml><body/></opml>";
        assert!(parse_opml(doctype).is_err());
    }
}
