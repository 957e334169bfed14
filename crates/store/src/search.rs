//! threatdesk's search query language, translated to SQLite FTS5, and match snippets.

use serde::Serialize;

use crate::StoreError;

/// Marks the start of a match in snippets produced by the engine; never occurs in text
/// the store returns, because [`Snippet::from_marked`] removes it.
pub(crate) const MATCH_START: char = '\u{2}';
/// Marks the end of a match.
pub(crate) const MATCH_END: char = '\u{3}';

/// A search query parsed into the backend's syntax. Every word and phrase is passed to
/// the engine as a quoted string, so no user input can inject engine syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedQuery {
    /// The FTS5 `MATCH` expression.
    pub fts5: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Term {
    text: String,
    prefix: bool,
}

impl Term {
    fn to_fts5(&self) -> String {
        let quoted = format!("\"{}\"", self.text.replace('"', "\"\""));
        if self.prefix {
            format!("{quoted} *")
        } else {
            quoted
        }
    }
}

impl ParsedQuery {
    /// Parses the query language described on [`crate::SearchQuery`].
    pub fn parse(input: &str) -> Result<Self, StoreError> {
        // Alternatives (separated by OR), each a list of required terms; exclusions apply to all.
        let mut alternatives: Vec<Vec<Term>> = vec![Vec::new()];
        let mut excluded: Vec<Term> = Vec::new();
        let mut negate_next = false;
        let mut rest = input.trim_start();

        while !rest.is_empty() {
            let (negated, body) = match rest.strip_prefix('-') {
                Some(after) if !after.starts_with(char::is_whitespace) && !after.is_empty() => (true, after),
                _ => (false, rest),
            };
            let (raw, quoted, remainder) = if let Some(after_quote) = body.strip_prefix('"') {
                match after_quote.find('"') {
                    Some(end) => (&after_quote[..end], true, &after_quote[end + 1..]),
                    None => (after_quote, true, ""),
                }
            } else {
                let end = body.find(char::is_whitespace).unwrap_or(body.len());
                (&body[..end], false, &body[end..])
            };
            rest = remainder.trim_start();

            if !quoted && !negated {
                match raw {
                    "OR" => {
                        if alternatives.last().is_some_and(|alt| !alt.is_empty()) {
                            alternatives.push(Vec::new());
                        }
                        continue;
                    }
                    "AND" => continue,
                    "NOT" => {
                        negate_next = true;
                        continue;
                    }
                    _ => {}
                }
            }
            let (text, prefix) = match raw.strip_suffix('*') {
                Some(stem) if !quoted => (stem, true),
                _ => (raw, false),
            };
            // Terms with no letter or digit tokenize to nothing and would match nothing.
            if !text.chars().any(char::is_alphanumeric) {
                negate_next = false;
                continue;
            }
            let term = Term {
                text: text.to_owned(),
                prefix,
            };
            if negated || std::mem::take(&mut negate_next) {
                excluded.push(term);
            } else if let Some(current) = alternatives.last_mut() {
                current.push(term);
            }
        }

        alternatives.retain(|alt| !alt.is_empty());
        if alternatives.is_empty() {
            return Err(StoreError::InvalidQuery(if excluded.is_empty() {
                "the query has no words to search for".to_owned()
            } else {
                "a query needs at least one word that is not excluded".to_owned()
            }));
        }
        let positive = alternatives
            .iter()
            .map(|alt| {
                format!(
                    "({})",
                    alt.iter().map(Term::to_fts5).collect::<Vec<_>>().join(" AND ")
                )
            })
            .collect::<Vec<_>>()
            .join(" OR ");
        let fts5 = if excluded.is_empty() {
            positive
        } else {
            let negative = excluded
                .iter()
                .map(Term::to_fts5)
                .collect::<Vec<_>>()
                .join(" OR ");
            format!("({positive}) NOT ({negative})")
        };
        Ok(Self { fts5 })
    }
}

/// A passage of a document with its matches marked.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Snippet {
    /// The passage, plain text; `…` marks where it was cut.
    pub text: String,
    /// Byte ranges `[start, end)` of the matches in `text`.
    pub highlights: Vec<(usize, usize)>,
}

impl Snippet {
    /// Builds a snippet from engine output with [`MATCH_START`]/[`MATCH_END`] markers.
    pub(crate) fn from_marked(marked: &str) -> Self {
        let mut text = String::with_capacity(marked.len());
        let mut highlights = Vec::new();
        let mut open: Option<usize> = None;
        for ch in marked.chars() {
            match ch {
                MATCH_START => open = Some(text.len()),
                MATCH_END => {
                    if let Some(start) = open.take() {
                        highlights.push((start, text.len()));
                    }
                }
                _ => text.push(ch),
            }
        }
        Self { text, highlights }
    }

    /// The snippet with every match wrapped in `open`…`close` (e.g. ANSI bold, or
    /// `<mark>`…`</mark>` after escaping — escape first, since text is not HTML).
    pub fn render(&self, open: &str, close: &str) -> String {
        let mut out =
            String::with_capacity(self.text.len() + self.highlights.len() * (open.len() + close.len()));
        let mut at = 0;
        for &(start, end) in &self.highlights {
            if let (Some(before), Some(hit)) = (self.text.get(at..start), self.text.get(start..end)) {
                out.push_str(before);
                out.push_str(open);
                out.push_str(hit);
                out.push_str(close);
                at = end;
            }
        }
        out.push_str(self.text.get(at..).unwrap_or_default());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fts(q: &str) -> String {
        ParsedQuery::parse(q)
            .map(|p| p.fts5)
            .unwrap_or_else(|e| format!("error: {e}"))
    }

    #[test]
    fn words_are_quoted_and_anded() {
        assert_eq!(fts("lazarus crypto"), r#"("lazarus" AND "crypto")"#);
        assert_eq!(fts("CVE-2021-44228"), r#"("CVE-2021-44228")"#);
    }

    #[test]
    fn phrases_or_prefix_and_exclusion() {
        assert_eq!(
            fts(r#""fancy bear" OR sofacy"#),
            r#"("fancy bear") OR ("sofacy")"#
        );
        assert_eq!(fts("ransom* -test"), r#"(("ransom" *)) NOT ("test")"#);
        assert_eq!(fts("apt28 NOT apt29"), r#"(("apt28")) NOT ("apt29")"#);
        assert_eq!(fts("OR apt28 OR"), r#"("apt28")"#);
    }

    #[test]
    fn engine_syntax_in_input_stays_literal() {
        assert_eq!(fts(r#"a" NEAR(b"#), r#"("a""" AND "NEAR(b")"#);
        assert_eq!(fts(r#"title:x ^y"#), r#"("title:x" AND "^y")"#);
    }

    #[test]
    fn queries_without_positive_words_are_refused() {
        assert!(fts("").starts_with("error"));
        assert!(fts("-only -negative").contains("not excluded"));
        assert!(fts(" & ; ").starts_with("error"));
    }

    #[test]
    fn snippets_record_match_ranges() {
        let s = Snippet::from_marked("the \u{2}Lazarus\u{3} group and \u{2}APT38\u{3}…");
        assert_eq!(s.text, "the Lazarus group and APT38…");
        assert_eq!(s.highlights, vec![(4, 11), (22, 27)]);
        assert_eq!(s.render("[", "]"), "the [Lazarus] group and [APT38]…");
    }
}
