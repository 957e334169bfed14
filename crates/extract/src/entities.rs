//! Entity recognition: knowledge-base names (actors, malware, tools, places, sectors,
//! ATT&CK techniques and tactics) found in text, each resolved to its entity.
//!
//! *Design*: every usable alias of the knowledge base is filed under a hash of its first
//! word (lower-cased). The text is not scanned byte by byte: at each word start, the word is
//! hashed once and the aliases filed under it are compared, longest first, so a name can
//! never match inside a word and most words cost one hash-table probe. A match must end at a
//! word boundary (a technique may add a plural `s`), must not lie inside an indicator
//! (URL, domain, e-mail address, file name or path, registry key, hash), and must pass its
//! alias's rules:
//!
//! - **not used at all**: aliases under three characters (two capitals may name a place or a
//!   tactic: "US", "C2"), without letters, generic words
//!   ("malware", "loader"), aliases the knowledge base cannot resolve to one entity
//!   ([`threatdesk_kb::Resolution::Ambiguous`]), and names asserted only by the MISP
//!   ransomware list (it names families "Russian", "One" and "Defender");
//! - **exact case**: three- and four-letter aliases, aliases that are common English words
//!   (`data/common-words.txt`), demonyms and metonyms: "Play" the ransomware, never "play";
//! - **supporting context**: a name that is a single common English word ("Patchwork",
//!   "Equation", "Machete") counts only with a security cue word or another recognised
//!   actor, malware or tool within [`CONTEXT_BYTES`] on either side.
//!
//! Names resolve with the confidence of their form: a name 0.9, a demonym ("Russian")
//! 0.75, a metonym ("Moscow", "the Kremlin") 0.6; needing context costs a further 0.2.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use serde::Serialize;
use threatdesk_kb::{AliasForm, EntityId, EntityKind, KnowledgeBase, provenance_rank};
use threatdesk_model::{FindingKind, Span};

use crate::Ioc;

/// How far (bytes) to look on either side of a name that needs supporting context.
pub const CONTEXT_BYTES: usize = 150;

/// Longer matches than this are not looked back for as context (names are far shorter).
const MAX_NAME_BYTES: usize = 256;

/// Words that name a class of thing, or a date, not one thing, whatever a source files
/// under them (the MISP tool list has a tool called "August").
const GENERIC_WORDS: &[&str] = &[
    "adware",
    "apt",
    "backdoor",
    "beacon",
    "botnet",
    "crypter",
    "downloader",
    "dropper",
    "exploit",
    "group",
    "implant",
    "keylogger",
    "loader",
    "malware",
    "miner",
    "none",
    "other",
    "payload",
    "rat",
    "ransomware",
    "rootkit",
    "sample",
    "spyware",
    "stealer",
    "team",
    "test",
    "tool",
    "trojan",
    "unknown",
    "virus",
    "wiper",
    "world",
    "worm",
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Nouns after a sector word that make it a sector mention ("energy sector", "defense
/// contractors"): alone, "government" or "infrastructure" is too often just a word.
const SECTOR_HEADS: &[&str] = &[
    "agencies",
    "agency",
    "business",
    "businesses",
    "companies",
    "company",
    "contractors",
    "entities",
    "firms",
    "industries",
    "industry",
    "institutions",
    "operators",
    "organisations",
    "organizations",
    "providers",
    "sector",
    "sectors",
    "services",
    "targets",
    "vendors",
    "verticals",
    "victims",
];

/// Words near a name that say the text is about security: the context a name that is also
/// an ordinary word needs.
const CUE_WORDS: &[&str] = &[
    "actor",
    "actors",
    "adversary",
    "apt",
    "attack",
    "attacker",
    "attackers",
    "attacks",
    "attributed",
    "backdoor",
    "botnet",
    "c2",
    "campaign",
    "campaigns",
    "cyber",
    "cyberespionage",
    "dropper",
    "espionage",
    "exploit",
    "exploited",
    "family",
    "gang",
    "group",
    "hacker",
    "hackers",
    "hacking",
    "implant",
    "infected",
    "infection",
    "intrusion",
    "loader",
    "malicious",
    "malware",
    "operators",
    "payload",
    "ransomware",
    "rat",
    "sample",
    "samples",
    "spyware",
    "stealer",
    "threat",
    "tool",
    "toolkit",
    "tools",
    "trojan",
    "variant",
    "variants",
    "wiper",
    "worm",
];

/// One entity found in a text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mention {
    /// What the entity is.
    pub kind: EntityKind,
    /// Its canonical name (shared by every mention of the entity).
    pub value: Arc<str>,
    /// The text exactly as written.
    pub text: String,
    /// First byte of `text` in the input.
    pub start: usize,
    /// One past the last byte of `text` in the input.
    pub end: usize,
    /// The knowledge-base entity.
    pub entity: EntityId,
    /// Its ids in outside systems (`attack`, `uuid`, `malpedia`, `iso3166`, `m49`), shared
    /// by every mention of the entity.
    pub ids: Arc<BTreeMap<String, String>>,
    /// How sure the match is, 0 to 1.
    pub confidence: f32,
    /// The alias that matched, normalised (`fancy bear`, `russian`, `t1566.001`).
    pub alias: Arc<str>,
    /// For techniques and tactics: the sentence that is the evidence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sentence: Option<Span>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    Any,
    Exact,
}

#[derive(Debug, Clone)]
struct Pattern {
    /// The alias or variant as matched, lower-case (`fancy bear`, `netwirerat`).
    text: Box<str>,
    entity: usize,
    alias: Arc<str>,
    case: Case,
    /// Spellings an exact-case pattern accepts.
    spellings: Box<[Box<str>]>,
    needs_context: bool,
    /// A sector word, counted only before a noun such as "sector" or "companies".
    needs_head: bool,
    /// The actor that shares the name, chosen when an actor word follows ("operators").
    actor: Option<usize>,
    /// How the alias refers to its entity.
    form: AliasForm,
    confidence: f32,
}

#[derive(Debug, Clone)]
struct Known {
    id: EntityId,
    kind: EntityKind,
    name: Arc<str>,
    ids: Arc<BTreeMap<String, String>>,
}

/// An entity's spellings of an alias by sources trusted for recognition, and whether a
/// curated table asserts it.
type AliasFacts = (Vec<Box<str>>, bool);

/// What building a recogniser left out, by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RecognizerStats {
    /// Patterns (aliases and their variants) used.
    pub patterns: usize,
    /// Aliases several entities claim and no rule decides.
    pub ambiguous: usize,
    /// Aliases too short, without letters, or not starting with a letter or digit.
    pub too_short: usize,
    /// Generic class words.
    pub generic: usize,
    /// Names only the least trusted sources assert.
    pub weak_source: usize,
    /// Aliases that need exact case.
    pub exact_case: usize,
    /// Aliases that need supporting context.
    pub need_context: usize,
}

/// Finds knowledge-base entities in text; build once, use for many texts.
#[derive(Debug, Clone)]
pub struct Recognizer {
    /// Hash of a first word to the patterns starting with it, longest first.
    by_first_word: FirstWords,
    /// Per pattern: whether it has letters beyond ASCII (compared character by character).
    beyond_ascii: Box<[bool]>,
    /// One bit per value of a key's top bits: most words of a text begin no alias, and one
    /// cached bit test tells so before the table is probed.
    first_word_filter: Box<[u64]>,
    patterns: Vec<Pattern>,
    entities: Vec<Known>,
    by_attack_id: HashMap<String, usize>,
    cues: HashSet<&'static str>,
    stats: RecognizerStats,
}

fn common_words() -> &'static HashSet<&'static str> {
    static WORDS: OnceLock<HashSet<&'static str>> = OnceLock::new();
    WORDS.get_or_init(|| {
        include_str!("../data/common-words.txt")
            .lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .collect()
    })
}

/// Whether `normalised` is one word that is also a common English word.
fn is_common_word(normalised: &str) -> bool {
    !normalised.contains(' ') && common_words().contains(normalised)
}

fn ids_of(entity: &threatdesk_kb::Entity) -> BTreeMap<String, String> {
    let mut ids = BTreeMap::new();
    for id in &entity.external_ids {
        let system = match id.system.as_str() {
            "mitre-attack" => "attack",
            "uuid" | "malpedia" | "iso3166" | "m49" => id.system.as_str(),
            _ => continue,
        };
        ids.entry(system.to_owned()).or_insert_with(|| id.id.clone());
    }
    ids
}

impl Recognizer {
    /// The recogniser of the built-in knowledge base, built on first use.
    ///
    /// It is read from a table compiled ahead of time from the built-in knowledge base
    /// (`data/builtin-recognizer.tsv`, written by `scripts/gen-kb.sh`; a test keeps the two
    /// in step), so that start-up does not pay for resolving every alias.
    pub fn builtin() -> &'static Recognizer {
        static BUILTIN: OnceLock<Recognizer> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            Recognizer::from_table(BUILTIN_TABLE)
                .unwrap_or_else(|_| Recognizer::new(KnowledgeBase::builtin()))
        })
    }

    /// The recogniser as a table ([`Recognizer::from_table`] reads it back).
    pub fn to_table(&self) -> String {
        let mut table = String::from(TABLE_HEADER);
        let s = &self.stats;
        table.push_str(&format!(
            "S\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            s.patterns, s.ambiguous, s.too_short, s.generic, s.weak_source, s.exact_case, s.need_context
        ));
        for known in &self.entities {
            let ids: Vec<String> = known.ids.iter().map(|(k, v)| format!("{k}={v}")).collect();
            table.push_str(&format!(
                "E\t{}\t{}\t{}\t{}\n",
                known.id,
                known.kind.as_str(),
                escape(&known.name),
                escape(&ids.join(" "))
            ));
        }
        for p in &self.patterns {
            let spellings: Vec<String> = p.spellings.iter().map(|s| escape(s)).collect();
            table.push_str(&format!(
                "P\t{}\t{}\t{}{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                escape(&p.text),
                p.entity,
                if p.case == Case::Exact { "e" } else { "a" },
                match p.form {
                    AliasForm::Name => "",
                    AliasForm::Demonym => "d",
                    AliasForm::Metonym => "m",
                },
                u8::from(p.needs_context),
                u8::from(p.needs_head),
                p.actor.map_or_else(|| "-".to_owned(), |a| a.to_string()),
                p.confidence,
                escape(&p.alias),
                spellings.join("\u{1f}")
            ));
        }
        table
    }

    /// Reads a table written by [`Recognizer::to_table`].
    pub fn from_table(table: &str) -> Result<Recognizer, String> {
        let mut stats = RecognizerStats::default();
        let mut entities = Vec::new();
        let mut patterns = Vec::new();
        for (number, line) in table.lines().enumerate() {
            let bad = |what: &str| format!("recogniser table, line {}: {what}", number + 1);
            let fields: Vec<&str> = line.split('\t').collect();
            match fields.as_slice() {
                [first, ..] if first.starts_with('#') => {}
                ["S", counts @ ..] => {
                    let n: Vec<usize> = counts
                        .iter()
                        .map(|c| c.parse())
                        .collect::<Result<_, _>>()
                        .map_err(|_| bad("count"))?;
                    let [
                        patterns,
                        ambiguous,
                        too_short,
                        generic,
                        weak_source,
                        exact_case,
                        need_context,
                    ] = n[..]
                    else {
                        return Err(bad("expected seven counts"));
                    };
                    stats = RecognizerStats {
                        patterns,
                        ambiguous,
                        too_short,
                        generic,
                        weak_source,
                        exact_case,
                        need_context,
                    };
                }
                ["E", id, kind, name, ids] => {
                    let ids = unescape(ids)
                        .split(' ')
                        .filter_map(|pair| pair.split_once('='))
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .collect();
                    entities.push(Known {
                        id: id.parse().map_err(|_| bad("entity id"))?,
                        kind: kind.parse().map_err(|_| bad("entity kind"))?,
                        name: unescape(name).into(),
                        ids: Arc::new(ids),
                    });
                }
                [
                    "P",
                    text,
                    entity,
                    case,
                    context,
                    head,
                    actor,
                    confidence,
                    alias,
                    spellings,
                ] => {
                    patterns.push(Pattern {
                        text: unescape(text).into(),
                        entity: entity.parse().map_err(|_| bad("entity index"))?,
                        alias: unescape(alias).into(),
                        case: if case.starts_with('e') {
                            Case::Exact
                        } else {
                            Case::Any
                        },
                        form: if case.ends_with('d') {
                            AliasForm::Demonym
                        } else if case.ends_with('m') {
                            AliasForm::Metonym
                        } else {
                            AliasForm::Name
                        },
                        spellings: spellings
                            .split('\u{1f}')
                            .filter(|s| !s.is_empty())
                            .map(|s| unescape(s).into())
                            .collect(),
                        needs_context: *context == "1",
                        needs_head: *head == "1",
                        actor: match *actor {
                            "-" => None,
                            index => Some(index.parse().map_err(|_| bad("actor index"))?),
                        },
                        confidence: confidence.parse().map_err(|_| bad("confidence"))?,
                    });
                }
                _ => return Err(bad("unexpected line")),
            }
        }
        if patterns
            .iter()
            .any(|p| p.entity >= entities.len() || p.actor.is_some_and(|a| a >= entities.len()))
        {
            return Err("recogniser table: a pattern names an entity the table lacks".to_owned());
        }
        Ok(Recognizer::assemble(patterns, entities, stats))
    }

    /// Builds the pattern table and rules for every usable alias of `kb`.
    pub fn new(kb: &KnowledgeBase) -> Recognizer {
        let mut entities = Vec::with_capacity(kb.len());
        let mut dense: HashMap<EntityId, usize> = HashMap::with_capacity(kb.len());
        for entity in kb.entities() {
            dense.insert(entity.id, entities.len());
            entities.push(Known {
                id: entity.id,
                kind: entity.kind,
                name: entity.canonical_name.as_str().into(),
                ids: Arc::new(ids_of(entity)),
            });
        }
        let mut stats = RecognizerStats::default();
        let mut patterns: Vec<Pattern> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut generated: Vec<Pattern> = Vec::new();
        let index = kb.alias_index();
        // Per entity and alias: its spellings by sources trusted for recognition, and
        // whether a curated table asserts it.
        let mut facts: HashMap<(EntityId, &str), AliasFacts> = HashMap::new();
        let wanted: HashSet<&str> = index.iter().map(|e| e.normalised.as_str()).collect();
        for entity in kb.entities() {
            for alias in &entity.aliases {
                let normalised = threatdesk_kb::normalise(&alias.name);
                let Some(&key) = wanted.get(normalised.as_str()) else {
                    continue;
                };
                let (spellings, curated) = facts.entry((entity.id, key)).or_default();
                if provenance_rank(&alias.provenance) < 3
                    && !spellings.iter().any(|s| s.as_ref() == alias.name)
                {
                    spellings.push(alias.name.as_str().into());
                }
                *curated |= alias.provenance == "threatdesk";
            }
        }
        let defer = namesakes(kb, &index);
        for entry in &index {
            // A name an actor and a malware family share equally ("DarkSide", "Conti") is
            // decided per mention by the next word: "DarkSide operators" is the group.
            let shared = actor_and_software(entry);
            let Some(claim) = entry.winner().or(shared.map(|(software, _)| software)) else {
                stats.ambiguous += 1;
                continue;
            };
            let actor = shared.and_then(|(_, actor)| dense.get(&actor.entity).copied());
            let target = defer.get(&claim.entity).copied().unwrap_or(claim.entity);
            let Some(&entity) = dense.get(&target) else {
                continue;
            };
            let alias = entry.normalised.as_str();
            let letters = alias.chars().filter(|c| c.is_alphabetic()).count();
            let first_is_word = alias.chars().next().is_some_and(char::is_alphanumeric);
            let kind = claim.kind;
            let place = matches!(kind, EntityKind::Country | EntityKind::Region | EntityKind::City);
            let attack = matches!(kind, EntityKind::Technique | EntityKind::Tactic);
            // "US", "UK", "C2": two capitals name a place or a tactic; any other two letters
            // are too likely chance.
            let short_ok = (place || kind == EntityKind::Tactic) && alias.len() == 2;
            if (alias.chars().count() < 3 && !short_ok) || letters == 0 || !first_is_word {
                stats.too_short += 1;
                continue;
            }
            if GENERIC_WORDS.contains(&alias) {
                stats.generic += 1;
                continue;
            }
            // Spellings of the alias by the sources trusted for recognition.
            let (spellings, curated) = match facts.get(&(claim.entity, alias)) {
                Some((spellings, curated)) => (spellings.clone(), *curated),
                None => (Vec::new(), false),
            };
            if spellings.is_empty() {
                stats.weak_source += 1;
                continue;
            }
            let common = is_common_word(alias);
            // Technique names that are one ordinary word ("Credentials", "Software", "Proxy")
            // or a bare abbreviation ("DLL"), and sub-technique names made of ordinary words
            // ("IP Addresses", "Cloud Accounts"), are labels under a parent, not phrasings.
            let subtechnique = kb.get(claim.entity).is_some_and(|e| {
                e.relations
                    .iter()
                    .any(|r| r.kind == threatdesk_kb::RelationKind::SubtechniqueOf)
            });
            let all_common = alias
                .split([' ', '-'])
                .all(|word| word.is_empty() || common_words().contains(word));
            if kind == EntityKind::Technique
                && !curated
                && (common || alias.len() <= 4 || (subtechnique && all_common))
            {
                stats.generic += 1;
                continue;
            }
            let named_thing = matches!(
                kind,
                EntityKind::ThreatActor | EntityKind::Malware | EntityKind::Tool | EntityKind::Campaign
            );
            let exact = alias.len() <= 4
                || claim.form != AliasForm::Name
                || (common && (named_thing || attack || place));
            let needs_context = common && named_thing;
            let needs_head = kind == EntityKind::Sector && !curated;
            let confidence = match claim.form {
                AliasForm::Name => 0.9,
                AliasForm::Demonym => 0.75,
                AliasForm::Metonym => 0.6,
            } - if needs_context { 0.2 } else { 0.0 };
            stats.exact_case += usize::from(exact);
            stats.need_context += usize::from(needs_context);
            let mut variants = vec![alias.to_owned()];
            // "Cobalt Strike" is also written "CobaltStrike", "NetWire RAT" "NetwireRAT".
            if named_thing && alias.contains(' ') && alias.len() >= 8 {
                variants.push(alias.replace(' ', ""));
            }
            // "NetwireRAT", "Netwire RAT": a family name with the kind of malware it is.
            if kind == EntityKind::Malware && !alias.contains(' ') && !common && alias.len() >= 5 {
                for suffix in [" rat", "rat"] {
                    if !alias.ends_with("rat") {
                        variants.push(format!("{alias}{suffix}"));
                    }
                }
            }
            if matches!(kind, EntityKind::Technique | EntityKind::Tactic) && alias.contains('-') {
                variants.push(alias.replace('-', " "));
                variants.push(alias.replace('-', ""));
            }
            for (number, variant) in variants.into_iter().enumerate() {
                let pattern = Pattern {
                    text: variant.into(),
                    entity,
                    alias: alias.into(),
                    case: if exact { Case::Exact } else { Case::Any },
                    spellings: spellings.clone().into_boxed_slice(),
                    needs_context,
                    needs_head,
                    actor,
                    form: claim.form,
                    confidence,
                };
                if number == 0 {
                    if seen.insert(pattern.text.to_string()) {
                        patterns.push(pattern);
                    }
                } else {
                    generated.push(pattern);
                }
            }
        }
        // A generated variant never takes a name that some entity really has and that is
        // used: that name goes by the resolution rule, whatever the alphabetical order.
        for pattern in generated {
            if seen.insert(pattern.text.to_string()) {
                patterns.push(pattern);
            }
        }
        stats.patterns = patterns.len();
        Recognizer::assemble(patterns, entities, stats)
    }

    /// The lookup structures over finished patterns and entities.
    fn assemble(patterns: Vec<Pattern>, entities: Vec<Known>, stats: RecognizerStats) -> Recognizer {
        let by_attack_id = entities
            .iter()
            .enumerate()
            .filter_map(|(index, known)| known.ids.get("attack").map(|id| (id.clone(), index)))
            .collect();
        let keyed: Vec<(u64, usize, u32)> = patterns
            .iter()
            .enumerate()
            .map(|(index, pattern)| {
                let (key, _) = first_word(&pattern.text, 0);
                (key, pattern.text.len(), u32::try_from(index).unwrap_or(u32::MAX))
            })
            .collect();
        let mut first_word_filter = vec![0u64; FILTER_WORDS].into_boxed_slice();
        for &(key, _, _) in &keyed {
            let bit = (key >> (64 - FILTER_BITS)) as usize;
            if let Some(word) = first_word_filter.get_mut(bit / 64) {
                *word |= 1 << (bit % 64);
            }
        }
        let by_first_word = FirstWords::new(keyed);
        let beyond_ascii = patterns.iter().map(|p| !p.text.is_ascii()).collect();
        Recognizer {
            by_first_word,
            beyond_ascii,
            first_word_filter,
            patterns,
            entities,
            by_attack_id,
            cues: CUE_WORDS.iter().copied().collect(),
            stats,
        }
    }

    /// A recogniser without rules, for comparison: every alias of every entity, in any case,
    /// of any length, the first claimant winning a shared name — dictionary tagging as
    /// platforms that tag "will" as a threat actor do it. `threatdesk eval entities
    /// --baseline naive` measures it.
    pub fn naive(kb: &KnowledgeBase) -> Recognizer {
        let mut entities = Vec::with_capacity(kb.len());
        let mut dense: HashMap<EntityId, usize> = HashMap::with_capacity(kb.len());
        for entity in kb.entities() {
            dense.insert(entity.id, entities.len());
            entities.push(Known {
                id: entity.id,
                kind: entity.kind,
                name: entity.canonical_name.as_str().into(),
                ids: Arc::new(ids_of(entity)),
            });
        }
        let mut patterns = Vec::new();
        for entry in kb.alias_index() {
            let Some(&entity) = entry.claims.first().and_then(|claim| dense.get(&claim.entity)) else {
                continue;
            };
            if !entry.normalised.chars().next().is_some_and(char::is_alphanumeric) {
                continue;
            }
            patterns.push(Pattern {
                text: entry.normalised.as_str().into(),
                entity,
                alias: entry.normalised.as_str().into(),
                case: Case::Any,
                spellings: Box::new([]),
                needs_context: false,
                needs_head: false,
                actor: None,
                form: AliasForm::Name,
                confidence: 0.5,
            });
        }
        let stats = RecognizerStats {
            patterns: patterns.len(),
            ..RecognizerStats::default()
        };
        Recognizer::assemble(patterns, entities, stats)
    }

    /// What the build used and left out.
    pub fn stats(&self) -> &RecognizerStats {
        &self.stats
    }

    /// Entities mentioned in `text`, in order. `iocs` are the indicators of the same text
    /// ([`crate::extract`]): names inside them are not mentions, and ATT&CK ids among them
    /// become mentions of their technique, tactic, group or software.
    pub fn find(&self, text: &str, iocs: &[Ioc]) -> Vec<Mention> {
        let blocked = blocked_spans(iocs);
        let mut file_names: Vec<(usize, usize)> = iocs
            .iter()
            .filter(|i| i.kind == FindingKind::FileName)
            .map(|i| (i.start, i.end))
            .collect();
        // Met in text order below, whatever order the caller's indicators are in.
        file_names.sort_unstable();
        // (start, end, pattern, needs no context: a program file name)
        let mut candidates: Vec<(usize, usize, usize, bool)> = Vec::new();
        let mut next_file = 0;
        let bytes = text.as_bytes();
        let mut position = 0;
        while position < bytes.len() {
            let Some((start, word_end, key)) = next_word(text, position) else {
                break;
            };
            let next = word_end.max(start + 1);
            let mut found = self.match_at(text, start, key);
            // A plural of a one-word name ("Iranians") is filed under its singular.
            if found.is_none() && word_end > start + 3 && bytes.get(word_end - 1) == Some(&b's') {
                found = self.match_at(text, start, word_key(text, start, word_end - 1));
            }
            // Words come in text order: the file names not yet passed start here or later.
            while file_names.get(next_file).is_some_and(|&(s, _)| s < start) {
                next_file += 1;
            }
            let file_here = file_names.get(next_file).filter(|&&(s, _)| s == start);
            let found = match (found, file_here) {
                (Some((end, pattern)), _) if !overlaps(&blocked, start, end) => Some((end, pattern, false)),
                // Inside an indicator: only a program file named after a tool or malware
                // (`psexec.exe`, `PING.EXE`) is a mention, covering the whole file name; a
                // file name needs no further context.
                (_, Some(&(_, file_end))) => self
                    .program_file(text, start, file_end, key)
                    .map(|(end, pattern)| (end, pattern, true)),
                _ => None,
            };
            match found {
                Some((end, pattern, certain)) => {
                    candidates.push((start, end, pattern, certain));
                    position = end;
                }
                None => position = next,
            }
        }
        let mut mentions = Vec::with_capacity(candidates.len());
        for &(start, end, pattern_index, certain) in &candidates {
            let Some(pattern) = self.patterns.get(pattern_index) else {
                continue;
            };
            if pattern.needs_context && !certain && !self.has_context(text, start, end, &candidates) {
                continue;
            }
            let entity = match pattern.actor {
                Some(actor) if followed_by_actor_word(text, end) => actor,
                _ => pattern.entity,
            };
            let Some(known) = self.entities.get(entity) else {
                continue;
            };
            mentions.push(self.mention(
                text,
                known,
                start,
                end,
                pattern.confidence,
                Arc::clone(&pattern.alias),
            ));
        }
        for ioc in iocs {
            let kind_matches = matches!(
                ioc.kind,
                FindingKind::AttackTechnique
                    | FindingKind::AttackTactic
                    | FindingKind::AttackGroup
                    | FindingKind::AttackSoftware
                    | FindingKind::AttackCampaign
            );
            if !kind_matches {
                continue;
            }
            if let Some(known) = self
                .by_attack_id
                .get(&ioc.value)
                .and_then(|&i| self.entities.get(i))
            {
                mentions.push(self.mention(
                    text,
                    known,
                    ioc.start,
                    ioc.end,
                    1.0,
                    ioc.value.to_lowercase().into(),
                ));
            }
        }
        mentions.sort_by_key(|m| (m.start, std::cmp::Reverse(m.end)));
        mentions
    }

    fn mention(
        &self,
        text: &str,
        known: &Known,
        start: usize,
        end: usize,
        confidence: f32,
        alias: Arc<str>,
    ) -> Mention {
        let sentence = matches!(known.kind, EntityKind::Technique | EntityKind::Tactic).then(|| {
            let (start, end) = sentence_around(text, start, end);
            Span { start, end }
        });
        Mention {
            kind: known.kind,
            value: Arc::clone(&known.name),
            text: text.get(start..end).unwrap_or_default().to_owned(),
            start,
            end,
            entity: known.id,
            ids: known.ids.clone(),
            confidence,
            alias,
            sentence,
        }
    }

    /// The longest alias starting at `start` that ends at a word boundary and fits its
    /// case rule: `(end, pattern)`.
    fn match_at(&self, text: &str, start: usize, key: u64) -> Option<(usize, usize)> {
        let bit = (key >> (64 - FILTER_BITS)) as usize;
        if self
            .first_word_filter
            .get(bit / 64)
            .is_none_or(|word| word & (1 << (bit % 64)) == 0)
        {
            return None;
        }
        let candidates = self.by_first_word.get(key)?;
        let rest = text.as_bytes().get(start..)?;
        for &index in candidates {
            let Some(pattern) = self.patterns.get(index as usize) else {
                continue;
            };
            if self.beyond_ascii.get(index as usize).copied().unwrap_or(false) {
                // Letters beyond ASCII change case beyond `eq_ignore_ascii_case` ("MÉLOFÉE").
                if let Some(found) = self.non_ascii_match(text, start, pattern, index) {
                    return Some(found);
                }
                continue;
            }
            let end = start + pattern.text.len();
            // The last byte first: it rejects most candidates sharing a first word ("the …").
            let last_fits = match (
                rest.get(pattern.text.len().wrapping_sub(1)),
                pattern.text.as_bytes().last(),
            ) {
                (Some(written), Some(wanted)) => written.to_ascii_lowercase() == *wanted,
                _ => false,
            };
            if !last_fits {
                continue;
            }
            let same = rest
                .get(..pattern.text.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(pattern.text.as_bytes()));
            if !same || !text.is_char_boundary(end) {
                continue;
            }
            let kind = self.entities.get(pattern.entity).map(|k| k.kind);
            // Techniques and demonyms take a plural ("spearphishing attachments", "Iranians").
            let plural_ok = matches!(kind, Some(EntityKind::Technique | EntityKind::Tactic))
                || pattern.form == AliasForm::Demonym;
            let end_ok = ends_word(text, end) || (plural_ok && plural_end(text, end).is_some());
            let written = text.get(start..end).unwrap_or_default();
            if !end_ok || !case_fits(pattern, written) {
                continue;
            }
            let end = if plural_ok && !ends_word(text, end) {
                plural_end(text, end).unwrap_or(end)
            } else {
                end
            };
            if !pattern.needs_head {
                return Some((end, index as usize));
            }
            if let Some(head_end) = sector_head(text, end) {
                return Some((head_end, index as usize));
            }
        }
        None
    }

    /// [`Recognizer::match_at`] for a pattern with letters beyond ASCII: the text's
    /// characters lower-cased must equal it; case and boundary rules as for any name.
    fn non_ascii_match(
        &self,
        text: &str,
        start: usize,
        pattern: &Pattern,
        index: u32,
    ) -> Option<(usize, usize)> {
        let wanted = pattern.text.chars().count();
        let written_len: usize = text.get(start..)?.chars().take(wanted).map(char::len_utf8).sum();
        let end = start + written_len;
        let written = text.get(start..end)?;
        let same = written
            .chars()
            .flat_map(char::to_lowercase)
            .eq(pattern.text.chars());
        (same && ends_word(text, end) && case_fits(pattern, written)).then_some((end, index as usize))
    }

    /// A tool or malware name, in any case, that is the whole stem of the file name
    /// `text[start..file_end]` (`net.exe`, `PsExec.exe`): the end of the file name and the
    /// pattern.
    fn program_file(&self, text: &str, start: usize, file_end: usize, key: u64) -> Option<(usize, usize)> {
        let name = text.get(start..file_end)?;
        let stem_end = start + name.rfind('.')?;
        for &index in self.by_first_word.get(key)? {
            let Some(pattern) = self.patterns.get(index as usize) else {
                continue;
            };
            let software = self
                .entities
                .get(pattern.entity)
                .is_some_and(|k| matches!(k.kind, EntityKind::Tool | EntityKind::Malware));
            let stem = text.get(start..stem_end).unwrap_or_default();
            if software && stem.eq_ignore_ascii_case(&pattern.text) {
                return Some((file_end, index as usize));
            }
        }
        None
    }

    fn has_context(
        &self,
        text: &str,
        start: usize,
        end: usize,
        candidates: &[(usize, usize, usize, bool)],
    ) -> bool {
        let from = floor_boundary(text, start.saturating_sub(CONTEXT_BYTES));
        let to = ceil_boundary(text, (end + CONTEXT_BYTES).min(text.len()));
        let window_has_cue = [text.get(from..start), text.get(end..to)]
            .into_iter()
            .flatten()
            .any(|part| {
                part.split(|c: char| !c.is_ascii_alphanumeric()).any(|word| {
                    let mut lower = [0u8; 16];
                    let Some(buffer) = lower.get_mut(..word.len()) else {
                        return false;
                    };
                    buffer.copy_from_slice(word.as_bytes());
                    buffer.make_ascii_lowercase();
                    std::str::from_utf8(buffer).is_ok_and(|w| self.cues.contains(w))
                })
            });
        if window_has_cue {
            return true;
        }
        // Candidates are in text order: only those starting near this one can be near.
        let first = candidates.partition_point(|&(s, ..)| s + 2 * CONTEXT_BYTES + MAX_NAME_BYTES < start);
        let last = candidates.partition_point(|&(s, ..)| s <= end + CONTEXT_BYTES);
        candidates
            .get(first..last)
            .unwrap_or_default()
            .iter()
            .any(|&(s, e, p, _)| {
                (s, e) != (start, end)
                    && e + CONTEXT_BYTES >= start
                    && s <= end + CONTEXT_BYTES
                    && self.patterns.get(p).is_some_and(|other| {
                        !other.needs_context
                            && self.entities.get(other.entity).is_some_and(|k| {
                                matches!(
                                    k.kind,
                                    EntityKind::ThreatActor | EntityKind::Malware | EntityKind::Tool
                                )
                            })
                    })
            })
    }
}

/// The recogniser of the built-in knowledge base, compiled by `scripts/gen-kb.sh`.
const BUILTIN_TABLE: &str = include_str!("../data/builtin-recognizer.tsv");

const TABLE_HEADER: &str = "# threatdesk recogniser table, generated by scripts/gen-kb.sh from the built-in \
                            knowledge base (crates/kb/data/builtin.json); see its sources there.\n";

fn escape(field: &str) -> String {
    field
        .replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
}

fn unescape(field: &str) -> String {
    if !field.contains('\\') {
        return field.to_owned();
    }
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// [`Recognizer::first_word_filter`] has 2^18 bits (32 KiB, within a first-level cache):
/// with some 12,000 first words, under 5% of other words pass it.
const FILTER_BITS: u32 = 18;
const FILTER_WORDS: usize = (1 << FILTER_BITS) / 64;

/// Pattern indices by the key of their first word, longest pattern first: an
/// open-addressing table of keys (linear probing) beside ranges of one flat index list, so
/// a probe touches one array and a hit one contiguous run.
#[derive(Debug, Clone)]
struct FirstWords {
    /// Keys by slot; 0 marks an empty slot (a key of 0 is stored as 1).
    keys: Box<[u64]>,
    /// `start..end` in `indices` per slot.
    ranges: Box<[(u32, u32)]>,
    indices: Box<[u32]>,
    /// log2 of the number of slots.
    bits: u32,
}

impl FirstWords {
    /// From `(key, pattern length, pattern index)` triples.
    fn new(mut keyed: Vec<(u64, usize, u32)>) -> FirstWords {
        keyed.sort_by_key(|&(key, length, index)| (key.max(1), std::cmp::Reverse(length), index));
        let distinct = keyed
            .windows(2)
            .filter(|pair| pair[0].0.max(1) != pair[1].0.max(1))
            .count()
            + 1;
        let bits = (distinct * 5 / 2).next_power_of_two().trailing_zeros().max(4);
        let slots = 1usize << bits;
        let mut keys = vec![0u64; slots].into_boxed_slice();
        let mut ranges = vec![(0u32, 0u32); slots].into_boxed_slice();
        let indices: Box<[u32]> = keyed.iter().map(|&(_, _, index)| index).collect();
        let mut run_start = 0;
        while run_start < keyed.len() {
            let key = keyed[run_start].0.max(1);
            let run_end = run_start
                + keyed[run_start..]
                    .iter()
                    .take_while(|k| k.0.max(1) == key)
                    .count();
            let mut slot = (key >> (64 - bits)) as usize;
            while keys[slot] != 0 {
                slot = (slot + 1) & (slots - 1);
            }
            keys[slot] = key;
            ranges[slot] = (run_start as u32, run_end as u32);
            run_start = run_end;
        }
        FirstWords {
            keys,
            ranges,
            indices,
            bits,
        }
    }

    /// The patterns whose first word has `key`, longest first.
    fn get(&self, key: u64) -> Option<&[u32]> {
        let key = key.max(1);
        let mask = self.keys.len() - 1;
        let mut slot = (key >> (64 - self.bits)) as usize;
        loop {
            match self.keys.get(slot) {
                Some(&found) if found == key => {
                    let &(start, end) = self.ranges.get(slot)?;
                    return self.indices.get(start as usize..end as usize);
                }
                Some(0) | None => return None,
                Some(_) => slot = (slot + 1) & mask,
            }
        }
    }
}

/// Classes of bytes for walking words.
const SEPARATOR: u8 = 0;
const ALPHANUMERIC: u8 = 1;
const OTHER: u8 = 2;

/// ASCII letters and digits, other word bytes (`_` and anything beyond ASCII, which may be
/// a letter), and separators.
const BYTE_CLASS: [u8; 256] = {
    let mut classes = [SEPARATOR; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        classes[b] = if byte.is_ascii_alphanumeric() {
            ALPHANUMERIC
        } else if byte == b'_' || byte >= 0x80 {
            OTHER
        } else {
            SEPARATOR
        };
        b += 1;
    }
    classes
};

fn class(b: u8) -> u8 {
    BYTE_CLASS[usize::from(b)]
}

/// The next word at or after `from`: `(start, end, key)`. Plain ASCII words (nearly all)
/// are walked once with a table; words starting with `_` or a byte beyond ASCII, words
/// continuing with a letter beyond ASCII, and a `from` inside a word take the careful path.
fn next_word(text: &str, from: usize) -> Option<(usize, usize, u64)> {
    let bytes = text.as_bytes();
    let mut start = from;
    while bytes.get(start).is_some_and(|&b| class(b) == SEPARATOR) {
        start += 1;
    }
    let &first = bytes.get(start)?;
    let inside_word = start == from && start > 0 && char_before(text, start).is_some_and(is_word_char);
    if class(first) != ALPHANUMERIC || inside_word {
        let start = next_word_start(text, start)?;
        let (key, end) = first_word(text, start);
        return Some((start, end, key));
    }
    let mut end = start;
    let mut packed: u64 = 0;
    while let Some(&b) = bytes.get(end) {
        if class(b) != ALPHANUMERIC {
            break;
        }
        if end - start < 8 {
            packed |= u64::from(b.to_ascii_lowercase()) << (8 * (end - start));
        }
        end += 1;
    }
    if bytes.get(end).is_some_and(|&b| b >= 0x80) {
        // Perhaps a letter beyond ASCII continues the word.
        let (key, end) = first_word(text, start);
        return Some((start, end, key));
    }
    Some((start, end, ascii_key(packed, end - start)))
}

/// The key of an ASCII word from its first eight bytes, lower-cased, and its length.
fn ascii_key(packed: u64, length: usize) -> u64 {
    (packed ^ (length as u64).rotate_right(8)).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// The key ([`word_key`]) of the word starting at `start` (a run of letters and digits),
/// and where it ends; the same for a pattern and for text, so a text word finds the
/// patterns that begin with it.
fn first_word(text: &str, start: usize) -> (u64, usize) {
    let bytes = text.as_bytes();
    let mut end = start;
    loop {
        match bytes.get(end) {
            Some(b) if b.is_ascii_alphanumeric() => end += 1,
            Some(&b) if b >= 0x80 => match text.get(end..).and_then(|rest| rest.chars().next()) {
                Some(c) if c.is_alphanumeric() => end += c.len_utf8(),
                _ => break,
            },
            _ => break,
        }
    }
    (word_key(text, start, end), end)
}

/// The key of the word `text[start..end]`: for ASCII words, their first eight bytes
/// lower-cased and their length, mixed by one multiplication; for others FNV-1a over the
/// lower-cased UTF-8.
fn word_key(text: &str, start: usize, end: usize) -> u64 {
    let word = text.get(start..end).unwrap_or_default();
    if word.is_ascii() {
        let mut packed: u64 = 0;
        for (i, b) in word.bytes().take(8).enumerate() {
            packed |= u64::from(b.to_ascii_lowercase()) << (8 * i);
        }
        return ascii_key(packed, word.len());
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut buffer = [0u8; 4];
    for c in word.chars().flat_map(char::to_lowercase) {
        for b in c.encode_utf8(&mut buffer).bytes() {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

/// Entities whose names recognition gives to a namesake: when entities of one kind share a
/// canonical name (ATT&CK's "Agent Tesla" and malpedia's, which no source links), every name
/// of the others goes to the one that name resolves to, so that "AgentTesla" and "Agent
/// Tesla" are one thing in text. The knowledge base keeps them apart, and lists the conflict.
fn namesakes(kb: &KnowledgeBase, index: &[threatdesk_kb::AliasEntry]) -> HashMap<EntityId, EntityId> {
    let group = |kind: EntityKind| {
        if kind == EntityKind::Tool {
            EntityKind::Malware
        } else {
            kind
        }
    };
    let mut defer = HashMap::new();
    for entry in index.iter().filter(|e| e.claims.len() > 1) {
        let Some(winner) = entry.winner() else { continue };
        for claim in &entry.claims {
            let namesake = claim.entity != winner.entity
                && group(claim.kind) == group(winner.kind)
                && kb
                    .get(claim.entity)
                    .is_some_and(|e| threatdesk_kb::normalise(&e.canonical_name) == entry.normalised)
                && kb
                    .get(winner.entity)
                    .is_some_and(|e| threatdesk_kb::normalise(&e.canonical_name) == entry.normalised);
            if namesake {
                defer.entry(claim.entity).or_insert(winner.entity);
            }
        }
    }
    defer
}

/// Words after a name that say it names the people, not their software.
const ACTOR_WORDS: &[&str] = &[
    "actor",
    "actors",
    "affiliate",
    "affiliates",
    "apt",
    "crew",
    "gang",
    "group",
    "hackers",
    "operators",
    "operator",
    "team",
];

fn followed_by_actor_word(text: &str, end: usize) -> bool {
    let rest = text.get(end..).unwrap_or_default();
    let rest = rest
        .strip_prefix("'s")
        .or_else(|| rest.strip_prefix("’s"))
        .unwrap_or(rest);
    let word: String = rest
        .trim_start_matches([' ', '-'])
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .collect();
    ACTOR_WORDS.contains(&word.to_ascii_lowercase().as_str())
}

/// For a name that exactly one actor and one malware or tool claim with equal authority:
/// the software's claim and the actor's.
fn actor_and_software(
    entry: &threatdesk_kb::AliasEntry,
) -> Option<(&threatdesk_kb::Claim, &threatdesk_kb::Claim)> {
    if entry.resolution != threatdesk_kb::Resolution::Ambiguous {
        return None;
    }
    let first = entry.claims.first()?;
    let tied: Vec<&threatdesk_kb::Claim> = entry
        .claims
        .iter()
        .filter(|c| (c.rank, c.form, c.sources) == (first.rank, first.form, first.sources))
        .collect();
    match tied.as_slice() {
        [a, b] => {
            let is_software =
                |c: &threatdesk_kb::Claim| matches!(c.kind, EntityKind::Malware | EntityKind::Tool);
            match (a.kind, b.kind) {
                (EntityKind::ThreatActor, _) if is_software(b) => Some((*b, *a)),
                (_, EntityKind::ThreatActor) if is_software(a) => Some((*a, *b)),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The end of a sector head noun right after `end` ("energy| sector"), if there is one.
fn sector_head(text: &str, end: usize) -> Option<usize> {
    let rest = text.get(end..)?;
    let word_start = rest.len() - rest.trim_start_matches([' ', '-']).len();
    if word_start == 0 || word_start > 2 {
        return None;
    }
    let word: String = rest[word_start..]
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    SECTOR_HEADS
        .contains(&word.to_ascii_lowercase().as_str())
        .then_some(end + word_start + word.len())
}

fn case_fits(pattern: &Pattern, written: &str) -> bool {
    if pattern.case == Case::Any {
        return true;
    }
    // A name that is also an ordinary word counts only written as a name.
    if pattern.needs_context && !written.chars().next().is_some_and(char::is_uppercase) {
        return false;
    }
    // Headings and some reports write names in capitals ("SLIVER", "EMOTET").
    let shouted = written.len() > 4 && written.chars().all(|c| !c.is_lowercase());
    pattern.spellings.iter().any(|spelling| {
        spelling.as_ref() == written
            || (shouted && spelling.eq_ignore_ascii_case(written))
            || (spelling.len() > 4
                && spelling.chars().all(|c| !c.is_lowercase())
                && is_title_case_of(written, spelling))
    })
}

/// `Sliver` for `SLIVER`: sources write some names in capitals that prose capitalises.
fn is_title_case_of(written: &str, upper: &str) -> bool {
    let mut chars = written.chars();
    chars.next().is_some_and(|first| !first.is_lowercase())
        && written.eq_ignore_ascii_case(upper)
        && chars.any(char::is_lowercase)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn char_before(text: &str, at: usize) -> Option<char> {
    text.get(..at).and_then(|s| s.chars().next_back())
}

fn ends_word(text: &str, end: usize) -> bool {
    text.get(end..)
        .and_then(|s| s.chars().next())
        .is_none_or(|c| !is_word_char(c))
}

/// `end` of a technique name followed by a plural `s` or `es` that ends the word.
fn plural_end(text: &str, end: usize) -> Option<usize> {
    let rest = text.as_bytes().get(end..)?;
    [b"es".as_slice(), b"s".as_slice()]
        .into_iter()
        .find(|suffix| rest.starts_with(suffix) && ends_word(text, end + suffix.len()))
        .map(|suffix| end + suffix.len())
}

/// The first word start at or after `from`: a word character preceded by none.
fn next_word_start(text: &str, from: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = from;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_alphanumeric() {
            // Most words follow a space or punctuation: one byte says so.
            let starts = match i.checked_sub(1).and_then(|j| bytes.get(j)) {
                None => true,
                Some(&p) if p < 0x80 => !(p.is_ascii_alphanumeric() || p == b'_'),
                Some(_) => char_before(text, i).is_none_or(|c| !is_word_char(c)),
            };
            if starts {
                return Some(i);
            }
            i = word_end(bytes, i);
            continue;
        }
        if b >= 0x80 && text.is_char_boundary(i) {
            let starts_word = text[i..].chars().next().is_some_and(char::is_alphanumeric)
                && char_before(text, i).is_none_or(|c| !is_word_char(c));
            if starts_word {
                return Some(i);
            }
        }
        i += 1;
    }
    None
}

/// One past the ASCII alphanumeric run starting at `start` (at least `start + 1`).
fn word_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
        i += 1;
    }
    i
}

/// Spans of indicators that names must not be found inside, merged and sorted.
fn blocked_spans(iocs: &[Ioc]) -> Vec<(usize, usize)> {
    let mut spans: Vec<(usize, usize)> = iocs
        .iter()
        .filter(|ioc| {
            matches!(
                ioc.kind,
                FindingKind::Url
                    | FindingKind::Domain
                    | FindingKind::Email
                    | FindingKind::FileName
                    | FindingKind::FilePath
                    | FindingKind::RegistryKey
                    | FindingKind::Md5
                    | FindingKind::Sha1
                    | FindingKind::Sha256
                    | FindingKind::Sha512
                    | FindingKind::OnionAddress
            )
        })
        .map(|ioc| (ioc.start, ioc.end))
        .collect();
    spans.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
    for (start, end) in spans {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

fn overlaps(blocked: &[(usize, usize)], start: usize, end: usize) -> bool {
    let after = blocked.partition_point(|&(s, _)| s < end);
    after > 0 && blocked.get(after - 1).is_some_and(|&(_, e)| e > start)
}

fn floor_boundary(text: &str, mut at: usize) -> usize {
    while at > 0 && !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn ceil_boundary(text: &str, mut at: usize) -> usize {
    while at < text.len() && !text.is_char_boundary(at) {
        at += 1;
    }
    at
}

/// The sentence holding `start..end`: from after the previous sentence end (`.`, `!`, `?`
/// before white space, or a line break) to the next, at most 1,000 bytes either way.
pub fn sentence_around(text: &str, start: usize, end: usize) -> (usize, usize) {
    let bytes = text.as_bytes();
    let ends_sentence = |i: usize| -> bool {
        match bytes.get(i) {
            Some(b'\n') => true,
            Some(b'.' | b'!' | b'?') => bytes.get(i + 1).is_none_or(|b| b.is_ascii_whitespace()),
            _ => false,
        }
    };
    // Jump between the bytes that can end a sentence instead of testing every byte; a line
    // break always ends one, so it bounds the search for the others.
    let mut floor = start.saturating_sub(1000);
    if let Some(line) = bytes
        .get(floor..start)
        .and_then(|window| memchr::memrchr(b'\n', window))
    {
        floor += line + 1;
    }
    let mut from = floor;
    let mut limit = start;
    while let Some(i) = bytes
        .get(floor..limit)
        .and_then(|window| memchr::memrchr3(b'.', b'!', b'?', window))
        .map(|i| floor + i)
    {
        if ends_sentence(i) {
            from = i + 1;
            break;
        }
        limit = i;
    }
    let mut ceiling = (end + 1000).min(bytes.len());
    if let Some(line) = bytes
        .get(end..ceiling)
        .and_then(|window| memchr::memchr(b'\n', window))
    {
        ceiling = end + line;
    }
    let mut to = ceiling;
    let mut next = end;
    while let Some(i) = bytes
        .get(next..ceiling)
        .and_then(|window| memchr::memchr3(b'.', b'!', b'?', window))
        .map(|i| next + i)
    {
        if ends_sentence(i) {
            to = i;
            break;
        }
        next = i + 1;
    }
    if to < bytes.len() && bytes.get(to) != Some(&b'\n') {
        to += 1;
    }
    let from = ceil_boundary(text, from);
    let to = floor_boundary(text, to.min(bytes.len()));
    let sentence = text.get(from..to).unwrap_or_default();
    let leading = sentence.len() - sentence.trim_start().len();
    let trailing = sentence.len() - sentence.trim_end().len();
    (from + leading, (to - trailing).max(from + leading))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_hash_alike_whatever_their_case_and_what_follows() {
        let key = |text: &str| first_word(text, 0);
        assert_eq!(key("Emotet").0, key("emotet loader").0);
        assert_eq!(key("EMOTET's").0, key("emotet").0);
        assert_eq!(key("Spearphishing").0, key("spearphishing attachment").0);
        assert_ne!(key("emotet").0, key("emotets").0);
        assert_ne!(key("spearphishingx").0, key("spearphishing").0);
        assert_eq!(key("APT28\u{2019}s"), (key("apt28").0, 5));
        assert_eq!(key("Mélofée x").1, "Mélofée".len());
        assert_eq!(key("mélofée").0, key("MÉLOFÉE").0);
        assert_eq!(key("ab").1, 2);
        assert_eq!(key("").1, 0);
    }
}
