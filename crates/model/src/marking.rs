//! Handling and judgement markings: TLP 2.0, severity, and the Admiralty source-reliability grade.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ParseError;

/// A Traffic Light Protocol 2.0 marking (FIRST, August 2022).
///
/// The order is the order of restriction: `Clear < Green < Amber < AmberStrict < Red`,
/// so a user's ceiling check is a plain comparison (`marking <= ceiling`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub enum Tlp {
    /// `TLP:CLEAR` — may be shared publicly.
    #[default]
    #[serde(rename = "CLEAR")]
    Clear,
    /// `TLP:GREEN` — the recipient's community, not public channels.
    #[serde(rename = "GREEN")]
    Green,
    /// `TLP:AMBER` — the recipient's organisation and its clients, need to know.
    #[serde(rename = "AMBER")]
    Amber,
    /// `TLP:AMBER+STRICT` — the recipient's organisation only.
    #[serde(rename = "AMBER+STRICT")]
    AmberStrict,
    /// `TLP:RED` — the named recipients only.
    #[serde(rename = "RED")]
    Red,
}

impl Tlp {
    /// Every marking, least restrictive first.
    pub const ALL: [Tlp; 5] = [Tlp::Clear, Tlp::Green, Tlp::Amber, Tlp::AmberStrict, Tlp::Red];

    /// The canonical label without the `TLP:` prefix, e.g. `AMBER+STRICT`.
    pub fn as_str(self) -> &'static str {
        match self {
            Tlp::Clear => "CLEAR",
            Tlp::Green => "GREEN",
            Tlp::Amber => "AMBER",
            Tlp::AmberStrict => "AMBER+STRICT",
            Tlp::Red => "RED",
        }
    }

    /// Whether content with this marking may be shown to someone cleared up to `ceiling`.
    pub fn visible_under(self, ceiling: Tlp) -> bool {
        self <= ceiling
    }
}

impl fmt::Display for Tlp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TLP:{}", self.as_str())
    }
}

impl FromStr for Tlp {
    type Err = ParseError;

    /// Accepts `CLEAR`, `TLP:CLEAR`, `tlp:clear`, `amber+strict`, `amber-strict`, and
    /// the TLP 1.0 label `WHITE`, which TLP 2.0 renamed to `CLEAR`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let upper = s.trim().to_ascii_uppercase();
        let label = upper.strip_prefix("TLP:").unwrap_or(&upper);
        match label {
            "CLEAR" | "WHITE" => Ok(Tlp::Clear),
            "GREEN" => Ok(Tlp::Green),
            "AMBER" => Ok(Tlp::Amber),
            "AMBER+STRICT" | "AMBER-STRICT" | "AMBER_STRICT" => Ok(Tlp::AmberStrict),
            "RED" => Ok(Tlp::Red),
            _ => Err(ParseError::new(
                "TLP marking",
                s,
                "expected CLEAR, GREEN, AMBER, AMBER+STRICT or RED",
            )),
        }
    }
}

/// How serious an analyst judges a bulletin's subject to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Background information, no action expected.
    #[default]
    Info,
    /// Worth knowing; act in the normal course of business.
    Low,
    /// Act soon.
    Medium,
    /// Act now.
    High,
    /// Active, widespread or unauthenticated exploitation: drop everything.
    Critical,
}

impl Severity {
    /// The lower-case label used in configuration, JSON and URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "info" | "informational" => Ok(Severity::Info),
            "low" => Ok(Severity::Low),
            "medium" | "moderate" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            _ => Err(ParseError::new(
                "severity",
                s,
                "expected info, low, medium, high or critical",
            )),
        }
    }
}

/// Source reliability as graded by the Admiralty (NATO) code, `A` (best) to `F`.
///
/// `F` is not "worst" but "cannot be judged": a new source starts there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub enum Reliability {
    /// Completely reliable: no doubt of authenticity, trustworthiness or competency.
    A,
    /// Usually reliable: minor doubt; a history of mostly valid information.
    B,
    /// Fairly reliable: doubt; has provided valid information in the past.
    C,
    /// Not usually reliable: significant doubt.
    D,
    /// Unreliable: lacking in authenticity, trustworthiness and competency.
    E,
    /// Reliability cannot be judged: no basis for evaluation.
    #[default]
    F,
}

impl Reliability {
    /// The grade's letter.
    pub fn letter(self) -> char {
        match self {
            Reliability::A => 'A',
            Reliability::B => 'B',
            Reliability::C => 'C',
            Reliability::D => 'D',
            Reliability::E => 'E',
            Reliability::F => 'F',
        }
    }

    /// The Admiralty code's wording for the grade.
    pub fn description(self) -> &'static str {
        match self {
            Reliability::A => "completely reliable",
            Reliability::B => "usually reliable",
            Reliability::C => "fairly reliable",
            Reliability::D => "not usually reliable",
            Reliability::E => "unreliable",
            Reliability::F => "reliability cannot be judged",
        }
    }

    /// A weight in `0.0..=1.0` for ranking, e.g. story hotness. `F` sits in the middle:
    /// an unjudged source is neither trusted nor distrusted.
    pub fn weight(self) -> f64 {
        match self {
            Reliability::A => 1.0,
            Reliability::B => 0.85,
            Reliability::C => 0.7,
            Reliability::D => 0.4,
            Reliability::E => 0.2,
            Reliability::F => 0.5,
        }
    }
}

impl fmt::Display for Reliability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.letter())
    }
}

impl FromStr for Reliability {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "A" => Ok(Reliability::A),
            "B" => Ok(Reliability::B),
            "C" => Ok(Reliability::C),
            "D" => Ok(Reliability::D),
            "E" => Ok(Reliability::E),
            "F" => Ok(Reliability::F),
            _ => Err(ParseError::new(
                "reliability grade",
                s,
                "expected one Admiralty letter, A to F",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlp_order_is_order_of_restriction() {
        assert!(Tlp::Clear < Tlp::Green && Tlp::Green < Tlp::Amber);
        assert!(Tlp::Amber < Tlp::AmberStrict && Tlp::AmberStrict < Tlp::Red);
        assert!(Tlp::Amber.visible_under(Tlp::AmberStrict));
        assert!(!Tlp::Red.visible_under(Tlp::Amber));
    }

    #[test]
    fn tlp_parses_every_common_spelling() {
        for (text, want) in [
            ("clear", Tlp::Clear),
            ("TLP:WHITE", Tlp::Clear),
            ("tlp:green", Tlp::Green),
            (" AMBER ", Tlp::Amber),
            ("amber+strict", Tlp::AmberStrict),
            ("TLP:AMBER-STRICT", Tlp::AmberStrict),
            ("RED", Tlp::Red),
        ] {
            assert_eq!(text.parse::<Tlp>(), Ok(want), "{text}");
        }
        assert!("purple".parse::<Tlp>().is_err());
    }

    #[test]
    fn tlp_round_trips_through_json_and_display() {
        for tlp in Tlp::ALL {
            let json = serde_json::to_string(&tlp).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", tlp.as_str()));
            assert_eq!(serde_json::from_str::<Tlp>(&json).ok(), Some(tlp));
            assert_eq!(tlp.to_string().parse::<Tlp>(), Ok(tlp));
        }
    }

    #[test]
    fn reliability_and_severity_parse_their_labels() {
        assert_eq!("b".parse::<Reliability>(), Ok(Reliability::B));
        assert!("G".parse::<Reliability>().is_err());
        assert_eq!(Reliability::default(), Reliability::F);
        assert_eq!("Critical".parse::<Severity>(), Ok(Severity::Critical));
        assert!(Severity::High > Severity::Medium);
        assert!("urgent".parse::<Severity>().is_err());
    }
}
