//! Bulletins: the analysts' product.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{BulletinId, EntityId, ItemId, ParseError, Severity, StoryId, Tlp};

/// Whether a bulletin is a short news item or a long-form research piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BulletinKind {
    /// A short bulletin: headline, summary, analyst notes.
    #[default]
    News,
    /// Long-form research, featured in the public site's "latest threat research" banner.
    Research,
}

impl BulletinKind {
    /// The lower-case label.
    pub fn as_str(self) -> &'static str {
        match self {
            BulletinKind::News => "news",
            BulletinKind::Research => "research",
        }
    }
}

impl FromStr for BulletinKind {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "news" => Ok(BulletinKind::News),
            "research" => Ok(BulletinKind::Research),
            _ => Err(ParseError::new("bulletin kind", s, "expected news or research")),
        }
    }
}

/// Where a bulletin is in its review workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BulletinStatus {
    /// Being written.
    #[default]
    Draft,
    /// Waiting for an editor.
    InReview,
    /// Visible to its audience.
    Published,
}

impl BulletinStatus {
    /// The snake-case label.
    pub fn as_str(self) -> &'static str {
        match self {
            BulletinStatus::Draft => "draft",
            BulletinStatus::InReview => "in_review",
            BulletinStatus::Published => "published",
        }
    }

    /// Checks a workflow step. Allowed: draft → in review, in review → draft (changes
    /// requested), in review → published, published → draft (a correction starts a new
    /// version). Publishing straight from draft skips review and is refused.
    pub fn transition_to(self, next: BulletinStatus) -> Result<BulletinStatus, StatusTransitionError> {
        use BulletinStatus::*;
        match (self, next) {
            (Draft, InReview) | (InReview, Draft) | (InReview, Published) | (Published, Draft) => Ok(next),
            _ => Err(StatusTransitionError { from: self, to: next }),
        }
    }
}

impl FromStr for BulletinStatus {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace(['-', ' '], "_").as_str() {
            "draft" => Ok(BulletinStatus::Draft),
            "in_review" | "review" => Ok(BulletinStatus::InReview),
            "published" => Ok(BulletinStatus::Published),
            _ => Err(ParseError::new(
                "bulletin status",
                s,
                "expected draft, in_review or published",
            )),
        }
    }
}

/// A workflow step that [`BulletinStatus::transition_to`] refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a bulletin cannot go from {} to {}", from.as_str(), to.as_str())]
pub struct StatusTransitionError {
    /// The current status.
    pub from: BulletinStatus,
    /// The refused next status.
    pub to: BulletinStatus,
}

/// A URL path segment: lower-case ASCII letters, digits and single hyphens, 1–100 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Slug(String);

impl Slug {
    /// The longest slug accepted, in bytes.
    pub const MAX_LEN: usize = 100;

    /// Validates an existing slug.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let valid_chars = s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if s.is_empty() || s.len() > Self::MAX_LEN {
            return Err(ParseError::new(
                "slug",
                s,
                format!("must be 1 to {} bytes long", Self::MAX_LEN),
            ));
        }
        if !valid_chars || s.starts_with('-') || s.ends_with('-') || s.contains("--") {
            return Err(ParseError::new(
                "slug",
                s,
                "only a-z, 0-9 and single inner hyphens are allowed",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// Derives a slug from a headline: ASCII-folds common Latin letters, lower-cases,
    /// turns every other run of characters into one hyphen, and cuts at a word boundary.
    /// Returns `None` when nothing usable is left (e.g. a headline in another script).
    pub fn from_title(title: &str) -> Option<Self> {
        let mut out = String::with_capacity(title.len());
        for ch in title.chars() {
            let folded = fold_latin(ch);
            for c in folded.chars() {
                if c.is_ascii_alphanumeric() {
                    out.push(c.to_ascii_lowercase());
                } else if !out.is_empty() && !out.ends_with('-') {
                    out.push('-');
                }
            }
        }
        while out.ends_with('-') {
            out.pop();
        }
        if out.len() > Self::MAX_LEN {
            let cut = out[..Self::MAX_LEN].rfind('-').unwrap_or(Self::MAX_LEN);
            out.truncate(cut);
        }
        Self::parse(&out).ok()
    }

    /// The slug text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn fold_latin(ch: char) -> &'static str {
    match ch {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => "a",
        'ç' | 'Ç' | 'č' | 'Č' | 'ć' | 'Ć' => "c",
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' | 'ě' | 'Ě' => "e",
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => "i",
        'ñ' | 'Ñ' | 'ń' | 'Ń' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' => "o",
        'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => "u",
        'ý' | 'ÿ' | 'Ý' => "y",
        'š' | 'Š' | 'ś' | 'Ś' => "s",
        'ž' | 'Ž' | 'ź' | 'Ź' | 'ż' | 'Ż' => "z",
        'ł' | 'Ł' => "l",
        'ß' => "ss",
        'æ' | 'Æ' => "ae",
        '&' => "and",
        '+' => "plus",
        c if c.is_ascii_alphanumeric() => ascii_str(c),
        _ => " ",
    }
}

fn ascii_str(c: char) -> &'static str {
    const TABLE: &str = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    TABLE.find(c).map(|i| &TABLE[i..i + 1]).unwrap_or(" ")
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Slug {
    type Error = ParseError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Slug> for String {
    fn from(value: Slug) -> Self {
        value.0
    }
}

/// A bulletin as an analyst drafts it, before the store gives it an id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewBulletin {
    /// News or research.
    pub kind: BulletinKind,
    /// The headline.
    pub title: String,
    /// The URL segment on the public site.
    pub slug: Slug,
    /// What happened (Markdown).
    pub summary: String,
    /// The analysts' assessment and advice (Markdown).
    pub analyst_notes: String,
    /// Who may see it.
    pub tlp: Tlp,
    /// How serious it is.
    pub severity: Severity,
    /// Free-form labels.
    pub tags: Vec<String>,
    /// Stories it draws on.
    pub story_ids: Vec<StoryId>,
    /// Items it cites.
    pub item_ids: Vec<ItemId>,
    /// Entities it is about.
    pub entity_ids: Vec<EntityId>,
    /// Usernames of its authors.
    pub authors: Vec<String>,
}

/// A stored bulletin, at one version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bulletin {
    /// The store's id.
    pub id: BulletinId,
    /// Its content.
    #[serde(flatten)]
    pub content: NewBulletin,
    /// Where it is in review.
    pub status: BulletinStatus,
    /// Starts at 1; every saved edit adds one.
    pub version: u32,
    /// When it was first saved.
    pub created_at: DateTime<Utc>,
    /// When it was last saved.
    pub updated_at: DateTime<Utc>,
    /// When it was (last) published.
    pub published_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_from_title_matches_the_seed_headline() {
        let slug = Slug::from_title("Russia, China warn US its cyber support of Ukraine has consequences");
        assert_eq!(
            slug.as_ref().map(Slug::as_str),
            Some("russia-china-warn-us-its-cyber-support-of-ukraine-has-consequences")
        );
    }

    #[test]
    fn slug_from_title_folds_accents_and_cuts_at_a_word() {
        assert_eq!(
            Slug::from_title("Café — Zürich & Ørsted")
                .map(String::from)
                .as_deref(),
            Some("cafe-zurich-and-orsted")
        );
        let long = "word ".repeat(40);
        let slug = Slug::from_title(&long).map(String::from).unwrap_or_default();
        assert!(slug.len() <= Slug::MAX_LEN && !slug.ends_with('-'), "{slug}");
        assert_eq!(Slug::from_title("Кибератака"), None);
    }

    #[test]
    fn slug_parse_rejects_what_from_title_never_makes() {
        for bad in ["", "Upper", "a--b", "-a", "a-", "a b", "ä"] {
            assert!(Slug::parse(bad).is_err(), "{bad:?}");
        }
        assert!(serde_json::from_str::<Slug>("\"has space\"").is_err());
    }

    #[test]
    fn publishing_requires_review() {
        use BulletinStatus::*;
        assert!(Draft.transition_to(Published).is_err());
        assert_eq!(Draft.transition_to(InReview), Ok(InReview));
        assert_eq!(InReview.transition_to(Published), Ok(Published));
        assert_eq!(Published.transition_to(Draft), Ok(Draft));
        assert!(Published.transition_to(InReview).is_err());
    }
}
