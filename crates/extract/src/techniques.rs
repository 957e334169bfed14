//! ATT&CK technique mapping from prose, sentence by sentence, from pluggable scorers.
//!
//! A [`TechniqueScorer`] looks at a text's sentences (and what the recogniser already found
//! in it) and reports [`TechniqueHit`]s: a technique or tactic, the evidence span, the
//! sentence it stands in, a confidence and the scorer's name. [`map_techniques`] runs
//! several scorers and merges their hits per technique and sentence. The built-in
//! [`NamedTechniques`] scorer turns the recogniser's mentions (ATT&CK ids as written,
//! technique and tactic names, and the curated phrasings in the knowledge base) into hits; a
//! learned sentence classifier plugs in as another scorer without changing callers.

use std::collections::BTreeMap;

use serde::Serialize;
use threatdesk_kb::EntityKind;
use threatdesk_model::Span;

use crate::Mention;
use crate::entities::sentence_around;

/// Evidence that a sentence describes a technique or tactic.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TechniqueHit {
    /// The ATT&CK id (`T1566.001`, `TA0001`).
    pub attack_id: String,
    /// Its name (`Spearphishing Attachment`).
    pub name: String,
    /// Technique or tactic.
    pub kind: EntityKind,
    /// The words that are the evidence.
    pub evidence: Span,
    /// The sentence holding them.
    pub sentence: Span,
    /// How sure the scorer is, 0 to 1.
    pub confidence: f32,
    /// Which scorers found it (after merging, every scorer that did).
    pub scorers: Vec<&'static str>,
}

/// One way of finding techniques in text.
pub trait TechniqueScorer: Send + Sync {
    /// A short name, reported with each hit (`named`, `model:…`).
    fn name(&self) -> &'static str;

    /// Adds hits for `text`, whose sentences are `sentences` and in which the recogniser
    /// found `mentions`.
    fn score(&self, text: &str, sentences: &[Span], mentions: &[Mention], hits: &mut Vec<TechniqueHit>);
}

/// The recogniser's technique and tactic mentions as hits: ids as written (confidence 1),
/// names and curated phrasings (the mention's confidence).
#[derive(Debug, Default, Clone, Copy)]
pub struct NamedTechniques;

impl TechniqueScorer for NamedTechniques {
    fn name(&self) -> &'static str {
        "named"
    }

    fn score(&self, text: &str, _sentences: &[Span], mentions: &[Mention], hits: &mut Vec<TechniqueHit>) {
        for mention in mentions {
            if !matches!(mention.kind, EntityKind::Technique | EntityKind::Tactic) {
                continue;
            }
            let Some(attack_id) = mention.ids.get("attack") else {
                continue;
            };
            let sentence = mention.sentence.unwrap_or_else(|| {
                let (start, end) = sentence_around(text, mention.start, mention.end);
                Span { start, end }
            });
            hits.push(TechniqueHit {
                attack_id: attack_id.clone(),
                name: mention.value.to_string(),
                kind: mention.kind,
                evidence: Span {
                    start: mention.start,
                    end: mention.end,
                },
                sentence,
                confidence: mention.confidence,
                scorers: vec![self.name()],
            });
        }
    }
}

/// The sentences of `text`: spans between sentence ends (`.`, `!`, `?` before white space,
/// or a line break), trimmed, empty ones left out.
pub fn sentences(text: &str) -> Vec<Span> {
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    let mut start = 0;
    let mut push = |from: usize, to: usize| {
        let piece = text.get(from..to).unwrap_or_default();
        let leading = piece.len() - piece.trim_start().len();
        let trimmed = piece.trim();
        if !trimmed.is_empty() {
            spans.push(Span {
                start: from + leading,
                end: from + leading + trimmed.len(),
            });
        }
    };
    for (i, &b) in bytes.iter().enumerate() {
        let ends = match b {
            b'\n' => true,
            b'.' | b'!' | b'?' => bytes.get(i + 1).is_none_or(u8::is_ascii_whitespace),
            _ => false,
        };
        if ends {
            push(start, i + 1);
            start = i + 1;
        }
    }
    push(start, bytes.len());
    spans
}

/// Runs every scorer over `text` and merges their hits: one per technique and sentence
/// (as [`sentences`] cuts them), with the highest confidence, the first evidence span and
/// every scorer that found it; in text order.
pub fn map_techniques(
    text: &str,
    mentions: &[Mention],
    scorers: &[&dyn TechniqueScorer],
) -> Vec<TechniqueHit> {
    let sentences = sentences(text);
    let mut raw = Vec::new();
    for scorer in scorers {
        scorer.score(text, &sentences, mentions, &mut raw);
    }
    let mut merged: BTreeMap<(usize, String), TechniqueHit> = BTreeMap::new();
    for mut hit in raw {
        // Scorers may bound sentences differently (the recogniser looks at most 1,000 bytes
        // around a name): hits are merged by the sentence of `sentences` holding the evidence.
        let index = sentences.partition_point(|s| s.end <= hit.evidence.start);
        if let Some(sentence) = sentences.get(index).filter(|s| s.start <= hit.evidence.start) {
            hit.sentence = *sentence;
        }
        let key = (index, hit.attack_id.clone());
        match merged.get_mut(&key) {
            Some(known) => {
                known.confidence = known.confidence.max(hit.confidence);
                for scorer in hit.scorers {
                    if !known.scorers.contains(&scorer) {
                        known.scorers.push(scorer);
                    }
                }
            }
            None => {
                merged.insert(key, hit);
            }
        }
    }
    let mut hits: Vec<TechniqueHit> = merged.into_values().collect();
    hits.sort_by_key(|h| (h.evidence.start, h.evidence.end));
    hits
}
