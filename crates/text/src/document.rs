//! HTML, Markdown and plain text to a readable [`Document`].

use chrono::{DateTime, Utc};
use ego_tree::iter::Edge;
use scraper::{Html, Node};

/// The longest first line of a plain-text file still taken as its title, in characters.
const MAX_PLAIN_TITLE_CHARS: usize = 160;

/// The markup a document was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocumentFormat {
    /// HTML or XHTML.
    Html,
    /// CommonMark with the usual extensions (tables, strikethrough).
    Markdown,
    /// Text without markup.
    PlainText,
}

impl DocumentFormat {
    /// The format a file extension (without the dot, any case) implies, if it implies one.
    pub fn from_extension(ext: &str) -> Option<Self> {
        match ext.to_ascii_lowercase().as_str() {
            "html" | "htm" | "xhtml" | "shtml" => Some(Self::Html),
            "md" | "markdown" | "mdown" | "mkd" => Some(Self::Markdown),
            "txt" | "text" | "log" => Some(Self::PlainText),
            _ => None,
        }
    }

    /// Guesses the format of text with no telling extension: HTML if it opens like a page.
    pub fn sniff(text: &str) -> Self {
        let head: String = text
            .trim_start()
            .chars()
            .take(256)
            .collect::<String>()
            .to_ascii_lowercase();
        if head.starts_with("<!doctype html") || head.starts_with("<html") || head.contains("<body") {
            Self::Html
        } else {
            Self::PlainText
        }
    }

    /// The lower-case name, for messages and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Html => "html",
            Self::Markdown => "markdown",
            Self::PlainText => "text",
        }
    }
}

/// A document reduced to what analysts read and what extraction works on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The markup it came in.
    pub format: DocumentFormat,
    /// The headline, if the document has one.
    pub title: Option<String>,
    /// Readable text: paragraphs separated by blank lines, no markup.
    pub text: String,
    /// Sanitised HTML for display; `None` for plain text.
    pub html: Option<String>,
    /// The byline from the page's metadata.
    pub author: Option<String>,
    /// The publication time from the page's metadata.
    pub published_at: Option<DateTime<Utc>>,
}

impl Document {
    /// Reads a document in `format`.
    pub fn parse(format: DocumentFormat, text: &str) -> Self {
        match format {
            DocumentFormat::Html => Self::from_html(text),
            DocumentFormat::Markdown => Self::from_markdown(text),
            DocumentFormat::PlainText => Self::from_plain_text(text),
        }
    }

    /// Reduces an HTML page to its visible text.
    ///
    /// The title is the Open Graph title, else `<title>`, else the first `<h1>`; author and
    /// publication time come from the usual `<meta>` tags. Scripts, styles, templates,
    /// embedded objects and the `<head>` contribute no text.
    pub fn from_html(source: &str) -> Self {
        let page = Html::parse_document(source);
        let mut text = TextBuilder::default();
        let mut meta = PageMeta::default();
        let mut hidden_depth = 0usize;
        let mut capture: Option<(Capture, String)> = None;

        for edge in page.tree.root().traverse() {
            match edge {
                Edge::Open(node) => match node.value() {
                    Node::Element(el) => {
                        let name = el.name();
                        if name == "meta" {
                            meta.read_meta(el);
                        }
                        if hidden_depth > 0 || is_hidden(name) {
                            if name == "title" && capture.is_none() {
                                capture = Some((Capture::Title, String::new()));
                            }
                            hidden_depth += usize::from(is_hidden(name));
                            continue;
                        }
                        if name == "h1" && meta.first_h1.is_none() && capture.is_none() {
                            capture = Some((Capture::H1, String::new()));
                        }
                        text.open(name);
                    }
                    Node::Text(t) => {
                        if let Some((_, buf)) = capture.as_mut() {
                            buf.push_str(t);
                        }
                        if hidden_depth == 0 {
                            text.push_text(t);
                        }
                    }
                    _ => {}
                },
                Edge::Close(node) => {
                    if let Node::Element(el) = node.value() {
                        let name = el.name();
                        let closes_capture = capture.as_ref().is_some_and(|(what, _)| {
                            (name == "title" && *what == Capture::Title)
                                || (name == "h1" && *what == Capture::H1)
                        });
                        if let Some((what, buf)) = capture.take_if(|_| closes_capture) {
                            meta.store(what, &buf);
                        }
                        if is_hidden(name) {
                            hidden_depth = hidden_depth.saturating_sub(1);
                        } else if hidden_depth == 0 {
                            text.close(name);
                        }
                    }
                }
            }
        }

        Self {
            format: DocumentFormat::Html,
            title: meta.og_title.or(meta.title).or(meta.first_h1),
            text: text.finish(),
            html: Some(sanitize_html(source)),
            author: meta.author,
            published_at: meta.published_at,
        }
    }

    /// Renders Markdown to text and to sanitised HTML; the first heading is the title.
    pub fn from_markdown(source: &str) -> Self {
        use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

        let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_FOOTNOTES;
        let mut text = TextBuilder::default();
        let mut title: Option<String> = None;
        let mut in_first_heading = false;
        let mut heading_buf = String::new();

        for event in Parser::new_ext(source, options) {
            match event {
                Event::Start(Tag::Heading { .. }) => {
                    in_first_heading = title.is_none();
                    text.open("h1");
                }
                Event::End(TagEnd::Heading(_)) => {
                    if in_first_heading {
                        title = Some(collapse(&heading_buf)).filter(|t| !t.is_empty());
                        in_first_heading = false;
                    }
                    text.close("h1");
                }
                Event::Start(Tag::CodeBlock(_)) => text.open("pre"),
                Event::End(TagEnd::CodeBlock) => text.close("pre"),
                Event::Start(Tag::Paragraph | Tag::BlockQuote(_) | Tag::Table(_) | Tag::TableRow) => {
                    text.open("p")
                }
                Event::End(TagEnd::Paragraph | TagEnd::BlockQuote(_) | TagEnd::Table | TagEnd::TableRow) => {
                    text.close("p")
                }
                Event::Start(Tag::Item) => text.open("li"),
                Event::End(TagEnd::Item) => text.close("li"),
                Event::Start(Tag::TableCell) => text.push_text(" "),
                Event::Text(t) | Event::Code(t) => {
                    if in_first_heading {
                        heading_buf.push_str(&t);
                    }
                    text.push_text(&t);
                }
                Event::SoftBreak => text.push_text(" "),
                Event::HardBreak | Event::Rule => text.open("br"),
                _ => {}
            }
        }

        let mut rendered = String::with_capacity(source.len() * 3 / 2);
        pulldown_cmark::html::push_html(&mut rendered, Parser::new_ext(source, options));
        Self {
            format: DocumentFormat::Markdown,
            title,
            text: text.finish(),
            html: Some(sanitize_html(&rendered)),
            author: None,
            published_at: None,
        }
    }

    /// Takes text as it is (line endings normalised, trailing blanks trimmed); a short
    /// first line followed by more text is the title.
    pub fn from_plain_text(source: &str) -> Self {
        let mut text = String::with_capacity(source.len());
        let mut blank_run = 0;
        for line in source.lines() {
            let line = line.trim_end();
            if line.is_empty() {
                blank_run += 1;
                continue;
            }
            if !text.is_empty() {
                text.push_str(if blank_run > 0 { "\n\n" } else { "\n" });
            }
            blank_run = 0;
            text.push_str(line);
        }
        // A first line is a title only if it is short and more text follows it.
        let mut lines = text.lines();
        let title = lines
            .next()
            .map(str::trim)
            .filter(|line| !line.is_empty() && line.chars().count() <= MAX_PLAIN_TITLE_CHARS)
            .filter(|_| lines.any(|rest| !rest.trim().is_empty()))
            .map(collapse);
        Self {
            format: DocumentFormat::PlainText,
            title,
            text,
            html: None,
            author: None,
            published_at: None,
        }
    }
}

/// Sanitises HTML for display with `ammonia`'s conservative defaults: no scripts, styles,
/// event handlers or `javascript:` links; links get `rel="noopener noreferrer"`.
pub fn sanitize_html(html: &str) -> String {
    ammonia::Builder::default().clean(html).to_string()
}

fn is_hidden(element: &str) -> bool {
    matches!(
        element,
        "head"
            | "script"
            | "style"
            | "noscript"
            | "template"
            | "svg"
            | "math"
            | "iframe"
            | "object"
            | "embed"
            | "canvas"
            | "select"
            | "button"
            | "title"
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Capture {
    Title,
    H1,
}

#[derive(Default)]
struct PageMeta {
    og_title: Option<String>,
    title: Option<String>,
    first_h1: Option<String>,
    author: Option<String>,
    published_at: Option<DateTime<Utc>>,
}

impl PageMeta {
    fn read_meta(&mut self, el: &scraper::node::Element) {
        let key = el
            .attr("property")
            .or_else(|| el.attr("name"))
            .unwrap_or_default()
            .to_ascii_lowercase();
        let Some(content) = el.attr("content").map(collapse).filter(|c| !c.is_empty()) else {
            return;
        };
        match key.as_str() {
            "og:title" | "twitter:title" if self.og_title.is_none() => self.og_title = Some(content),
            "author" | "article:author" | "dc.creator" if self.author.is_none() => {
                self.author = Some(content)
            }
            "article:published_time" | "date" | "dc.date" | "pubdate" if self.published_at.is_none() => {
                self.published_at = parse_date(&content);
            }
            _ => {}
        }
    }

    fn store(&mut self, what: Capture, raw: &str) {
        let value = Some(collapse(raw)).filter(|v| !v.is_empty());
        match what {
            Capture::Title => self.title = self.title.take().or(value),
            Capture::H1 => self.first_h1 = self.first_h1.take().or(value),
        }
    }
}

fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Some(dt.with_timezone(&Utc));
    }
    if let Ok(dt) = DateTime::parse_from_rfc2822(text) {
        return Some(dt.with_timezone(&Utc));
    }
    chrono::NaiveDate::parse_from_str(text.get(..10)?, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|naive| naive.and_utc())
}

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Builds readable text from a stream of open/close/text events: whitespace collapses
/// outside `<pre>`, block elements break lines, paragraphs are separated by a blank line.
#[derive(Default)]
struct TextBuilder {
    out: String,
    pending_break: Break,
    pre_depth: usize,
    list_depth: usize,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Break {
    #[default]
    None,
    Space,
    Line,
    Paragraph,
}

impl TextBuilder {
    fn open(&mut self, element: &str) {
        match element {
            "pre" => {
                self.request(Break::Paragraph);
                self.pre_depth += 1;
            }
            "ul" | "ol" => {
                self.request(Break::Paragraph);
                self.list_depth += 1;
            }
            "li" => {
                self.request(Break::Line);
                self.flush_break();
                self.out.push_str("- ");
            }
            "br" | "tr" | "dt" | "dd" | "figcaption" | "caption" => self.request(Break::Line),
            "td" | "th" => self.request(Break::Space),
            _ if is_paragraph(element) => self.request(Break::Paragraph),
            _ => {}
        }
    }

    fn close(&mut self, element: &str) {
        match element {
            "pre" => {
                self.pre_depth = self.pre_depth.saturating_sub(1);
                self.request(Break::Paragraph);
            }
            "ul" | "ol" => {
                self.list_depth = self.list_depth.saturating_sub(1);
                self.request(Break::Paragraph);
            }
            "li" | "tr" | "dt" | "dd" => self.request(Break::Line),
            "td" | "th" => self.request(Break::Space),
            _ if is_paragraph(element) => {
                let brk = if self.list_depth > 0 {
                    Break::Line
                } else {
                    Break::Paragraph
                };
                self.request(brk);
            }
            _ => {}
        }
    }

    fn request(&mut self, brk: Break) {
        self.pending_break = self.pending_break.max(brk);
    }

    fn flush_break(&mut self) {
        if self.out.is_empty() {
            self.pending_break = Break::None;
            return;
        }
        match std::mem::take(&mut self.pending_break) {
            Break::None => {}
            Break::Space => {
                if !self.out.ends_with([' ', '\n']) {
                    self.out.push(' ');
                }
            }
            Break::Line => {
                trim_trailing_spaces(&mut self.out);
                if !self.out.ends_with('\n') {
                    self.out.push('\n');
                }
            }
            Break::Paragraph => {
                trim_trailing_spaces(&mut self.out);
                while !self.out.ends_with("\n\n") {
                    self.out.push('\n');
                }
            }
        }
    }

    fn push_text(&mut self, text: &str) {
        if self.pre_depth > 0 {
            if !text.is_empty() {
                self.flush_break();
                self.out.push_str(text);
            }
            return;
        }
        let starts_with_space = text.starts_with(char::is_whitespace);
        let ends_with_space = text.ends_with(char::is_whitespace);
        let mut words = text.split_whitespace().peekable();
        if words.peek().is_none() {
            if !text.is_empty() {
                self.request(Break::Space);
            }
            return;
        }
        if starts_with_space {
            self.request(Break::Space);
        }
        self.flush_break();
        let mut first = true;
        for word in words {
            if !first {
                self.out.push(' ');
            }
            self.out.push_str(word);
            first = false;
        }
        if ends_with_space {
            self.request(Break::Space);
        }
    }

    fn finish(mut self) -> String {
        trim_trailing_spaces(&mut self.out);
        let trimmed_len = self.out.trim_end().len();
        self.out.truncate(trimmed_len);
        self.out
    }
}

fn trim_trailing_spaces(out: &mut String) {
    let len = out.trim_end_matches([' ', '\t']).len();
    out.truncate(len);
}

fn is_paragraph(element: &str) -> bool {
    matches!(
        element,
        "p" | "div"
            | "section"
            | "article"
            | "main"
            | "header"
            | "footer"
            | "aside"
            | "nav"
            | "blockquote"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "table"
            | "form"
            | "fieldset"
            | "address"
            | "figure"
            | "details"
            | "summary"
            | "hr"
            | "dl"
            | "body"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_keeps_visible_text_in_paragraphs() {
        let doc = Document::from_html(
            r#"<!doctype html><html><head><title>Lazarus targets crypto firms | Example News</title>
            <meta property="og:title" content="Lazarus targets crypto firms">
            <meta name="author" content="J. Doe">
            <meta property="article:published_time" content="2024-03-05T10:00:00+01:00">
            <style>p { color: red }</style><script>var x = "<p>not text</p>";</script></head>
            <body><h1>Lazarus   targets crypto firms</h1>
            <p>The <b>Lazarus</b> group used <a href="https://example.test">fake job offers</a>.</p>
            <ul><li>Stage one</li><li>Stage two</li></ul>
            <pre>cmd.exe /c  whoami
  ipconfig</pre><noscript>enable JS</noscript></body></html>"#,
        );
        assert_eq!(doc.title.as_deref(), Some("Lazarus targets crypto firms"));
        assert_eq!(doc.author.as_deref(), Some("J. Doe"));
        assert_eq!(
            doc.published_at.map(|d| d.to_rfc3339()).as_deref(),
            Some("2024-03-05T09:00:00+00:00")
        );
        assert_eq!(
            doc.text,
            "Lazarus targets crypto firms\n\nThe Lazarus group used fake job offers.\n\n- Stage one\n- Stage two\n\ncmd.exe /c  whoami\n  ipconfig"
        );
    }

    #[test]
    fn html_title_falls_back_to_title_then_h1() {
        let doc = Document::from_html("<title> A  page </title><h1>Heading</h1>");
        assert_eq!(doc.title.as_deref(), Some("A page"));
        let doc = Document::from_html("<body><h1>Only <i>heading</i></h1><p>x</p></body>");
        assert_eq!(doc.title.as_deref(), Some("Only heading"));
    }

    #[test]
    fn html_sanitised_copy_has_no_script() {
        let doc = Document::from_html(r#"<p onclick="steal()">hi<script>alert(1)</script></p>"#);
        let html = doc.html.unwrap_or_default();
        assert!(
            html.contains("hi") && !html.contains("script") && !html.contains("onclick"),
            "{html}"
        );
    }

    #[test]
    fn markdown_text_and_title() {
        let doc = Document::from_markdown(
            "# APT29 *phishing* wave\n\nDiplomats received\nlures.\n\n* one\n* two\n\n```\nrundll32.exe x.dll\n```\n",
        );
        assert_eq!(doc.title.as_deref(), Some("APT29 phishing wave"));
        assert_eq!(
            doc.text,
            "APT29 phishing wave\n\nDiplomats received lures.\n\n- one\n- two\n\nrundll32.exe x.dll"
        );
        assert!(doc.html.is_some_and(|h| h.contains("<em>phishing</em>")));
    }

    #[test]
    fn plain_text_normalises_blank_lines_and_takes_a_short_first_line_as_title() {
        let doc = Document::from_plain_text("Title line\r\n\r\n\r\nBody one  \r\nBody two\n");
        assert_eq!(doc.title.as_deref(), Some("Title line"));
        assert_eq!(doc.text, "Title line\n\nBody one\nBody two");
        let long = "x".repeat(500) + "\nmore";
        assert_eq!(Document::from_plain_text(&long).title, None);
        assert_eq!(Document::from_plain_text("one line only").title, None);
    }

    #[test]
    fn format_from_extension_and_sniffing() {
        assert_eq!(DocumentFormat::from_extension("HTM"), Some(DocumentFormat::Html));
        assert_eq!(
            DocumentFormat::from_extension("md"),
            Some(DocumentFormat::Markdown)
        );
        assert_eq!(DocumentFormat::from_extension("pdf"), None);
        assert_eq!(
            DocumentFormat::sniff("  <!DOCTYPE html><html>"),
            DocumentFormat::Html
        );
        assert_eq!(DocumentFormat::sniff("Just words <b>"), DocumentFormat::PlainText);
    }

    // Guards against stack overflow: the walk is iterative, so nesting depth costs no stack.
    #[test]
    fn deeply_nested_html_does_not_overflow() {
        let html = "<div>".repeat(5_000) + "deep" + &"</div>".repeat(5_000);
        assert!(Document::from_html(&html).text.contains("deep"));
    }
}
