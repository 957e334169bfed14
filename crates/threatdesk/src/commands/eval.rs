//! `threatdesk eval entities`: entity recognition and ATT&CK linking scored against the
//! AnnoCTR and CyNER corpora (read from disk; nothing is downloaded).
//!
//! - *Mentions* (AnnoCTR `ner_bio/<split>.bio`): gold spans of the cyber-security layer
//!   (GROUP, MALWARE, TOOL, TECHNIQUE, TACTIC) and the general layer (LOC, SECTOR, ORG) are
//!   placed on the raw report (`text/<split>/*.txt`) by aligning tokens, and compared with
//!   the recogniser's spans: exact (same start and end) and overlapping, per type.
//! - *Linking* (`linking_mitre_only/dev.jsonl`): each mention linked to an ATT&CK object is
//!   found in its report; it counts as linked right when a recognised entity overlapping it
//!   carries that ATT&CK id. Mentions linked to non-ATT&CK nodes are counted and skipped.
//! - *CyNER* (`valid.txt` or `train.txt`): Malware spans, overlap.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use threatdesk_extract::{Mention, Recognizer};
use threatdesk_kb::EntityKind;

use crate::EXIT_OK;
use crate::cli::{EvalEntitiesArgs, Format, GlobalArgs};
use crate::output::print_json;

/// Gold types of AnnoCTR, in report order.
const TYPES: [&str; 8] = [
    "GROUP",
    "MALWARE",
    "TOOL",
    "LOC",
    "SECTOR",
    "ORG",
    "TECHNIQUE",
    "TACTIC",
];

/// The gold type a recognised entity kind is scored as.
fn gold_type(kind: EntityKind) -> Option<&'static str> {
    Some(match kind {
        EntityKind::ThreatActor => "GROUP",
        EntityKind::Malware => "MALWARE",
        EntityKind::Tool => "TOOL",
        EntityKind::Country | EntityKind::Region | EntityKind::City => "LOC",
        EntityKind::Sector => "SECTOR",
        EntityKind::Organisation => "ORG",
        EntityKind::Technique => "TECHNIQUE",
        EntityKind::Tactic => "TACTIC",
        EntityKind::Vulnerability | EntityKind::Campaign => return None,
    })
}

#[derive(Debug, Default, Clone, Serialize)]
struct Score {
    gold: usize,
    predicted: usize,
    exact_hits: usize,
    /// Predictions overlapping a gold span of the type.
    overlap_predicted_hits: usize,
    /// Gold spans overlapped by a prediction of the type.
    overlap_gold_hits: usize,
}

#[derive(Debug, Serialize)]
struct Row {
    r#type: String,
    gold: usize,
    predicted: usize,
    exact: Prf,
    overlap: Prf,
}

#[derive(Debug, Clone, Copy, Serialize)]
struct Prf {
    precision: f64,
    recall: f64,
    f1: f64,
}

fn prf(hits_p: usize, predicted: usize, hits_g: usize, gold: usize) -> Prf {
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let precision = ratio(hits_p, predicted);
    let recall = ratio(hits_g, gold);
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    Prf {
        precision,
        recall,
        f1,
    }
}

impl Score {
    fn row(&self, name: &str) -> Row {
        Row {
            r#type: name.to_owned(),
            gold: self.gold,
            predicted: self.predicted,
            exact: prf(self.exact_hits, self.predicted, self.exact_hits, self.gold),
            overlap: prf(
                self.overlap_predicted_hits,
                self.predicted,
                self.overlap_gold_hits,
                self.gold,
            ),
        }
    }

    fn add(&mut self, gold: &[(usize, usize)], predicted: &[(usize, usize)]) {
        let overlaps = |a: &(usize, usize), b: &(usize, usize)| a.0 < b.1 && b.0 < a.1;
        self.gold += gold.len();
        self.predicted += predicted.len();
        self.exact_hits += predicted.iter().filter(|p| gold.contains(p)).count();
        self.overlap_predicted_hits += predicted
            .iter()
            .filter(|p| gold.iter().any(|g| overlaps(g, p)))
            .count();
        self.overlap_gold_hits += gold
            .iter()
            .filter(|g| predicted.iter().any(|p| overlaps(g, p)))
            .count();
    }
}

#[derive(Debug, Serialize)]
struct LinkRow {
    r#type: String,
    gold: usize,
    linked: usize,
    correct: usize,
    precision: f64,
    recall: f64,
}

/// The most frequent `(text, count)` false positives and misses of a type.
type Mistakes = (Vec<(String, usize)>, Vec<(String, usize)>);

/// Counts of false positives and misses by text, per type.
type MistakeCounts = BTreeMap<&'static str, (BTreeMap<String, usize>, BTreeMap<String, usize>)>;

#[derive(Debug, Serialize)]
struct Report {
    split: String,
    annoctr_mentions: Vec<Row>,
    annoctr_linking: Vec<LinkRow>,
    linking_skipped_non_attack: usize,
    linking_mentions_not_found: usize,
    tokens_aligned: f64,
    cyner: Option<Row>,
    /// Per type: most frequent false positives and misses, as `(text, count)`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    errors: BTreeMap<String, Mistakes>,
}

pub fn entities(global: &GlobalArgs, args: EvalEntitiesArgs) -> anyhow::Result<ExitCode> {
    if args.annoctr.is_none() && args.cyner.is_none() {
        bail!("nothing to evaluate: give --annoctr DIR and/or --cyner DIR");
    }
    let naive;
    let recognizer = if args.baseline.is_some() {
        naive = Recognizer::naive(threatdesk_kb::KnowledgeBase::builtin());
        &naive
    } else {
        Recognizer::builtin()
    };
    let mut report = Report {
        split: args.split.clone(),
        annoctr_mentions: Vec::new(),
        annoctr_linking: Vec::new(),
        linking_skipped_non_attack: 0,
        linking_mentions_not_found: 0,
        tokens_aligned: 0.0,
        cyner: None,
        errors: BTreeMap::new(),
    };
    if let Some(dir) = &args.annoctr {
        annoctr(dir, &args.split, recognizer, args.errors, &mut report)?;
    }
    if let Some(dir) = &args.cyner {
        let file = if args.split == "dev" {
            "valid.txt"
        } else {
            "train.txt"
        };
        report.cyner = Some(cyner(&dir.join(file), recognizer)?);
    }
    if global.format != Format::Text {
        print_json(&report)?;
        return Ok(ExitCode::from(EXIT_OK));
    }
    print_report(&report);
    Ok(ExitCode::from(EXIT_OK))
}

fn print_report(report: &Report) {
    let line = |row: &Row| {
        println!(
            "{:<24} {:>5} {:>5}   {:.3} {:.3} {:.3}   {:.3} {:.3} {:.3}",
            row.r#type,
            row.gold,
            row.predicted,
            row.exact.precision,
            row.exact.recall,
            row.exact.f1,
            row.overlap.precision,
            row.overlap.recall,
            row.overlap.f1
        );
    };
    if !report.annoctr_mentions.is_empty() {
        println!(
            "AnnoCTR {} mentions ({:.1}% of tokens aligned to the raw reports)",
            report.split,
            report.tokens_aligned * 100.0
        );
        println!(
            "{:<24} {:>5} {:>5}   exact P  R     F1      overlap P R   F1",
            "type", "gold", "pred"
        );
        report.annoctr_mentions.iter().for_each(line);
        println!(
            "\nAnnoCTR {} linking to ATT&CK (a recognised entity overlapping the mention has its id)",
            report.split
        );
        println!(
            "{:<24} {:>5} {:>6} {:>7}   precision recall",
            "type", "gold", "linked", "correct"
        );
        for row in &report.annoctr_linking {
            println!(
                "{:<24} {:>5} {:>6} {:>7}   {:.3}     {:.3}",
                row.r#type, row.gold, row.linked, row.correct, row.precision, row.recall
            );
        }
        println!(
            "({} mentions linked to non-ATT&CK nodes skipped; {} mentions not found in their report)",
            report.linking_skipped_non_attack, report.linking_mentions_not_found
        );
    }
    for (kind, (false_positives, misses)) in &report.errors {
        let list = |items: &[(String, usize)]| {
            items
                .iter()
                .map(|(text, n)| format!("{text:?}×{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!("\n{kind} false positives: {}", list(false_positives));
        println!("{kind} misses: {}", list(misses));
    }
    if let Some(row) = &report.cyner {
        println!(
            "\nCyNER {}",
            if report.split == "dev" { "valid" } else { "train" }
        );
        println!(
            "{:<24} {:>5} {:>5}   exact P  R     F1      overlap P R   F1",
            "type", "gold", "pred"
        );
        line(row);
    }
}

/// One AnnoCTR document: tokens with their gold tags.
struct BioDocument {
    tokens: Vec<(String, String, String)>,
}

fn read_bio(path: &Path) -> anyhow::Result<Vec<BioDocument>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut documents = Vec::new();
    let mut current: Option<BioDocument> = None;
    for (number, line) in text.lines().enumerate() {
        if line.starts_with("<DOCSTART>") {
            documents.extend(current.take());
            current = Some(BioDocument { tokens: Vec::new() });
            continue;
        }
        if line.is_empty() {
            continue;
        }
        let columns: Vec<&str> = line.split('\t').collect();
        let [token, general, _, _, cyber, ..] = columns.as_slice() else {
            bail!(
                "{}: line {}: expected 7 tab-separated columns",
                path.display(),
                number + 1
            );
        };
        let document = current.get_or_insert_with(|| BioDocument { tokens: Vec::new() });
        document
            .tokens
            .push(((*token).to_owned(), (*general).to_owned(), (*cyber).to_owned()));
    }
    documents.extend(current);
    Ok(documents)
}

/// Places tokens on the raw text: `Some((start, end))` per token, `None` where the token
/// cannot be found close to where the previous one ended.
fn align(tokens: &[(String, String, String)], text: &str) -> Vec<Option<(usize, usize)>> {
    let mut cursor = 0;
    tokens
        .iter()
        .map(|(token, _, _)| {
            let token = token.trim();
            if token.is_empty() {
                return None;
            }
            let mut window_end = (cursor + 300 + token.len()).min(text.len());
            while !text.is_char_boundary(window_end) {
                window_end -= 1;
            }
            let window = text.get(cursor..window_end)?;
            let at = window.find(token)?;
            let start = cursor + at;
            cursor = start + token.len();
            Some((start, cursor))
        })
        .collect()
}

/// Gold spans per type from BIO tags over aligned tokens.
fn gold_spans(
    tokens: &[(String, String, String)],
    offsets: &[Option<(usize, usize)>],
) -> BTreeMap<&'static str, Vec<(usize, usize)>> {
    let mut spans: BTreeMap<&'static str, Vec<(usize, usize)>> = BTreeMap::new();
    for layer in 0..2 {
        let mut open: Option<(&'static str, usize, usize)> = None;
        let mut close = |open: &mut Option<(&'static str, usize, usize)>| {
            if let Some((kind, start, end)) = open.take() {
                spans.entry(kind).or_default().push((start, end));
            }
        };
        for (token, offset) in tokens.iter().zip(offsets) {
            let tag = if layer == 0 { &token.1 } else { &token.2 };
            let (prefix, label) = tag.split_once('-').unwrap_or((tag.as_str(), ""));
            let wanted = TYPES.iter().find(|t| **t == label).copied().filter(|t| {
                // The general layer supplies places, sectors and organisations; the cyber layer the rest.
                (layer == 0) == matches!(*t, "LOC" | "SECTOR" | "ORG")
            });
            match (prefix, wanted, offset) {
                ("B", Some(kind), Some((start, end))) => {
                    close(&mut open);
                    open = Some((kind, *start, *end));
                }
                ("I", Some(kind), Some((_, end))) if open.is_some_and(|(k, _, _)| k == kind) => {
                    if let Some(span) = open.as_mut() {
                        span.2 = *end;
                    }
                }
                ("I", Some(_), None) => {}
                _ => close(&mut open),
            }
        }
        close(&mut open);
    }
    spans
}

fn predicted_spans(
    mentions: &[Mention],
    range: (usize, usize),
) -> BTreeMap<&'static str, Vec<(usize, usize)>> {
    let mut spans: BTreeMap<&'static str, Vec<(usize, usize)>> = BTreeMap::new();
    for mention in mentions {
        if mention.start < range.0 || mention.end > range.1 {
            continue;
        }
        if let Some(kind) = gold_type(mention.kind) {
            spans.entry(kind).or_default().push((mention.start, mention.end));
        }
    }
    spans
}

fn find(recognizer: &Recognizer, text: &str) -> Vec<Mention> {
    let iocs = threatdesk_extract::extract(text);
    recognizer.find(text, &iocs)
}

fn annoctr(
    dir: &Path,
    split: &str,
    recognizer: &Recognizer,
    errors: usize,
    report: &mut Report,
) -> anyhow::Result<()> {
    let mut mistakes: MistakeCounts = BTreeMap::new();
    let documents = read_bio(&dir.join("ner_bio").join(format!("{split}.bio")))?;
    let text_dir = dir.join("text").join(split);
    let mut texts: Vec<(String, String)> = Vec::new();
    for entry in
        std::fs::read_dir(&text_dir).with_context(|| format!("cannot list {}", text_dir.display()))?
    {
        let path = entry?.path();
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        texts.push((
            name,
            std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?,
        ));
    }
    texts.sort();
    let mut scores: BTreeMap<&'static str, Score> = TYPES.iter().map(|t| (*t, Score::default())).collect();
    let mut named_things = Score::default();
    let mut aligned = 0usize;
    let mut total = 0usize;
    let mut mentions_by_document: BTreeMap<String, (String, Vec<Mention>)> = BTreeMap::new();
    for document in &documents {
        // The BIO file does not name its documents: each is matched to the report its tokens align best with.
        let best = texts
            .iter()
            .map(|(name, text)| {
                let offsets = align(&document.tokens[..document.tokens.len().min(60)], text);
                (offsets.iter().filter(|o| o.is_some()).count(), name, text)
            })
            .max_by_key(|(count, _, _)| *count);
        let Some((_, name, text)) = best else { continue };
        let offsets = align(&document.tokens, text);
        total += document.tokens.iter().filter(|t| !t.0.trim().is_empty()).count();
        aligned += offsets.iter().filter(|o| o.is_some()).count();
        let first = offsets.iter().flatten().next().map_or(0, |o| o.0);
        let last = offsets.iter().flatten().last().map_or(0, |o| o.1);
        let mentions = find(recognizer, text);
        let gold = gold_spans(&document.tokens, &offsets);
        let predicted = predicted_spans(&mentions, (first, last));
        for kind in TYPES {
            let empty = Vec::new();
            let score = scores.entry(kind).or_default();
            let (gold, predicted) = (
                gold.get(kind).unwrap_or(&empty),
                predicted.get(kind).unwrap_or(&empty),
            );
            score.add(gold, predicted);
            if errors > 0 {
                let (false_positives, misses) = mistakes.entry(kind).or_default();
                let span_text = |&(s, e): &(usize, usize)| text.get(s..e).unwrap_or_default().to_owned();
                for p in predicted.iter().filter(|p| !gold.contains(p)) {
                    *false_positives.entry(span_text(p)).or_default() += 1;
                }
                for g in gold.iter().filter(|g| !predicted.contains(g)) {
                    *misses.entry(span_text(g)).or_default() += 1;
                }
            }
        }
        let union = |spans: &BTreeMap<&str, Vec<(usize, usize)>>| -> Vec<(usize, usize)> {
            ["GROUP", "MALWARE", "TOOL"]
                .iter()
                .flat_map(|t| spans.get(t).cloned().unwrap_or_default())
                .collect()
        };
        named_things.add(&union(&gold), &union(&predicted));
        mentions_by_document.insert(name.clone(), (text.clone(), mentions));
    }
    let top = |counts: BTreeMap<String, usize>| {
        let mut counts: Vec<(String, usize)> = counts.into_iter().collect();
        counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        counts.truncate(errors);
        counts
    };
    for (kind, (false_positives, misses)) in mistakes {
        report
            .errors
            .insert(kind.to_owned(), (top(false_positives), top(misses)));
    }
    report.tokens_aligned = if total == 0 {
        0.0
    } else {
        aligned as f64 / total as f64
    };
    report.annoctr_mentions = TYPES
        .iter()
        .filter_map(|t| scores.get(t).map(|s| s.row(t)))
        .collect();
    report
        .annoctr_mentions
        .push(named_things.row("GROUP+MALWARE+TOOL, any"));
    if split == "dev" {
        linking(dir, &mentions_by_document, report)?;
    }
    Ok(())
}

#[derive(Deserialize)]
struct LinkedMention {
    mention: String,
    #[serde(default)]
    context_left: String,
    label_link: String,
    entity_type: String,
    #[serde(default)]
    entity_class: String,
    document: String,
}

/// The ATT&CK id of a link (`…/groups/G0129`, `…/techniques/T1566/001`, `…/tactics/TA0001`).
fn attack_id(link: &str) -> Option<String> {
    let path = link.split("attack.mitre.org/").nth(1)?.trim_end_matches('/');
    let mut parts = path.split('/');
    let _section = parts.next()?;
    let id = parts.next()?;
    Some(match parts.next() {
        Some(sub) => format!("{id}.{sub}"),
        None => id.to_owned(),
    })
}

/// Where a linked mention is in its report: the occurrence whose preceding text best matches
/// the mention's left context (compared without white space).
fn locate(text: &str, mention: &str, context_left: &str) -> Option<(usize, usize)> {
    let wanted: Vec<char> = context_left.chars().filter(|c| !c.is_whitespace()).collect();
    let mut best: Option<(usize, usize)> = None;
    for (at, _) in text.match_indices(mention) {
        let before: Vec<char> = text[..at]
            .chars()
            .rev()
            .filter(|c| !c.is_whitespace())
            .take(40)
            .collect();
        let agree = before
            .iter()
            .zip(wanted.iter().rev())
            .take_while(|(a, b)| a == b)
            .count();
        if best.is_none_or(|(_, score)| agree > score) {
            best = Some((at, agree));
        }
    }
    best.map(|(at, _)| (at, at + mention.len()))
}

fn linking(
    dir: &Path,
    mentions_by_document: &BTreeMap<String, (String, Vec<Mention>)>,
    report: &mut Report,
) -> anyhow::Result<()> {
    let path = dir.join("linking_mitre_only").join("dev.jsonl");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut rows: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    for (number, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let gold: LinkedMention =
            serde_json::from_str(line).with_context(|| format!("{}: line {}", path.display(), number + 1))?;
        let Some(id) = attack_id(&gold.label_link) else {
            report.linking_skipped_non_attack += 1;
            continue;
        };
        let Some((text, mentions)) = mentions_by_document.get(&gold.document) else {
            report.linking_mentions_not_found += 1;
            continue;
        };
        let Some(span) = locate(text, &gold.mention, &gold.context_left) else {
            report.linking_mentions_not_found += 1;
            continue;
        };
        let linked: Vec<&str> = mentions
            .iter()
            .filter(|m| m.start < span.1 && span.0 < m.end)
            .filter_map(|m| m.ids.get("attack").map(String::as_str))
            .collect();
        let kind = if gold.entity_type == "TECHNIQUE" {
            format!(
                "TECHNIQUE ({})",
                if gold.entity_class == "CI" {
                    "implicit"
                } else {
                    "explicit"
                }
            )
        } else {
            gold.entity_type.clone()
        };
        for key in [kind, "all".to_owned()] {
            let row = rows.entry(key).or_default();
            row.0 += 1;
            row.1 += usize::from(!linked.is_empty());
            row.2 += usize::from(linked.contains(&id.as_str()));
        }
    }
    let order = [
        "GROUP",
        "MALWARE",
        "TOOL",
        "TECHNIQUE (explicit)",
        "TECHNIQUE (implicit)",
        "TACTIC",
        "all",
    ];
    report.annoctr_linking = order
        .iter()
        .filter_map(|name| rows.get(*name).map(|row| (name, row)))
        .map(|(name, &(gold, linked, correct))| LinkRow {
            r#type: (*name).to_owned(),
            gold,
            linked,
            correct,
            precision: if linked == 0 {
                0.0
            } else {
                correct as f64 / linked as f64
            },
            recall: if gold == 0 {
                0.0
            } else {
                correct as f64 / gold as f64
            },
        })
        .collect();
    Ok(())
}

/// CyNER: sentences of `token<TAB>tag` lines; Malware spans against recognised malware and tools.
fn cyner(path: &Path, recognizer: &Recognizer) -> anyhow::Result<Row> {
    let content = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut text = String::new();
    let mut gold = Vec::new();
    let mut open: Option<(usize, usize)> = None;
    for line in content.lines() {
        let line = line.trim_end_matches('\r');
        let Some((token, tag)) = line.split_once('\t') else {
            gold.extend(open.take());
            text.push('\n');
            continue;
        };
        if !text.is_empty() && !text.ends_with('\n') {
            text.push(' ');
        }
        let start = text.len();
        text.push_str(token);
        let end = text.len();
        match tag {
            "B-Malware" => {
                gold.extend(open.take());
                open = Some((start, end));
            }
            "I-Malware" if open.is_some() => {
                if let Some(span) = open.as_mut() {
                    span.1 = end;
                }
            }
            _ => gold.extend(open.take()),
        }
    }
    gold.extend(open);
    let predicted: Vec<(usize, usize)> = find(recognizer, &text)
        .iter()
        .filter(|m| matches!(m.kind, EntityKind::Malware | EntityKind::Tool))
        .map(|m| (m.start, m.end))
        .collect();
    let mut score = Score::default();
    score.add(&gold, &predicted);
    Ok(score.row("Malware (malware, tool)"))
}
