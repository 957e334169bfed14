//! A seeded generator of report-shaped documents for scale tests and benchmarks.
//!
//! Real CTI prose (sentences of the reports given as a pool) is recombined into *events*,
//! each reported by several outlets: every outlet tells it in its own words (a share of the
//! event's sentences, partly reordered, some words swapped, its own opening and closing),
//! some reports are syndicated copies of another outlet's text, and some articles are
//! updated later under the same name. Each event has its own victim, actor, malware, CVE and
//! indicators (some defanged), so entity and indicator densities look like real reporting.
//! Dates run forward over the corpus's time span with a little jitter, as a feed reader
//! would see them.
//!
//! The same seed, pool and sizes give the same documents, byte for byte.

use std::collections::VecDeque;

/// Where the generator's words come from.
#[derive(Debug, Clone, Default)]
pub struct Pool {
    sentences: Vec<String>,
    actors: Vec<String>,
    malware: Vec<String>,
}

impl Pool {
    /// A pool from report texts (split into sentences) and entity names.
    pub fn new(texts: &[String], actors: Vec<String>, malware: Vec<String>) -> Self {
        let mut sentences = Vec::new();
        for text in texts {
            for line in text.lines() {
                let line = line.trim().trim_start_matches(['>', '*', '#', '-', ' ']);
                for sentence in line.split_inclusive(". ") {
                    let sentence = sentence.trim();
                    let words = sentence.split_whitespace().count();
                    if (8..=60).contains(&words) && !sentence.contains('|') {
                        sentences.push(sentence.to_owned());
                    }
                }
            }
        }
        Self {
            sentences,
            actors: if actors.is_empty() {
                vec!["APT28".to_owned()]
            } else {
                actors
            },
            malware: if malware.is_empty() {
                vec!["Emotet".to_owned()]
            } else {
                malware
            },
        }
    }

    /// The pool of the yardstick texts in `shared` (`../shared` from the project root): the
    /// AnnoCTR reports and the article-extraction benchmark's bodies for prose, the MISP
    /// threat-actor and malpedia galaxies for names. `None` when they are not there.
    pub fn from_shared(shared: &std::path::Path) -> Option<Self> {
        let mut texts = Vec::new();
        for split in ["train", "dev"] {
            let dir = shared.join("eval/ner/annoctr/text").join(split);
            let mut paths: Vec<_> = std::fs::read_dir(&dir)
                .ok()?
                .flatten()
                .map(|e| e.path())
                .collect();
            paths.sort();
            for path in paths {
                if let Ok(text) = std::fs::read_to_string(&path) {
                    texts.push(text);
                }
            }
        }
        if let Ok(truth) = std::fs::read_to_string(shared.join("eval/html/scrapinghub/ground-truth.json"))
            && let Ok(serde_json::Value::Object(pages)) = serde_json::from_str(&truth)
        {
            let mut bodies: Vec<(String, String)> = pages
                .into_iter()
                .filter_map(|(id, page)| Some((id, page.get("articleBody")?.as_str()?.to_owned())))
                .collect();
            bodies.sort();
            texts.extend(bodies.into_iter().map(|(_, body)| body));
        }
        let names = |file: &str| -> Vec<String> {
            let path = shared.join("data/kb/misp-galaxy").join(file);
            let Ok(text) = std::fs::read_to_string(path) else {
                return Vec::new();
            };
            let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
                return Vec::new();
            };
            json.get("values")
                .and_then(|v| v.as_array())
                .map(|values| {
                    values
                        .iter()
                        .filter_map(|v| v.get("value")?.as_str())
                        .filter(|name| name.len() >= 4 && name.is_ascii())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        let pool = Self::new(&texts, names("threat-actor.json"), names("malpedia.json"));
        (!pool.sentences.is_empty()).then_some(pool)
    }

    /// Sentences in the pool.
    pub fn len(&self) -> usize {
        self.sentences.len()
    }

    /// Whether the pool has no sentences.
    pub fn is_empty(&self) -> bool {
        self.sentences.is_empty()
    }
}

/// How a document relates to what came before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocKind {
    /// The first report of an event.
    First,
    /// Another outlet's own account of an event already reported.
    Retelling,
    /// A copy of an earlier report with another outlet's framing.
    Syndicated,
    /// A new version of an earlier article (same name, changed text).
    Update,
}

/// One generated document.
#[derive(Debug, Clone)]
pub struct Doc {
    /// Its number in the corpus (an update has the number of the article it updates).
    pub number: u64,
    /// The outlet that published it (`0..outlets`).
    pub outlet: u32,
    /// The event it reports.
    pub event: u64,
    /// How it came about.
    pub kind: DocKind,
    /// Publication time, seconds since the Unix epoch.
    pub published: i64,
    /// Headline.
    pub title: String,
    /// Paragraphs of body text.
    pub paragraphs: Vec<String>,
}

impl Doc {
    /// The document as an HTML page with its headline and publication date in the head.
    pub fn html(&self) -> String {
        let mut out = String::with_capacity(self.paragraphs.iter().map(String::len).sum::<usize>() + 512);
        out.push_str("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>");
        out.push_str(&escape(&self.title));
        out.push_str("</title>\n<meta property=\"article:published_time\" content=\"");
        out.push_str(&rfc3339(self.published));
        out.push_str("\">\n<meta name=\"author\" content=\"Outlet ");
        out.push_str(&self.outlet.to_string());
        out.push_str("\"></head>\n<body><article><h1>");
        out.push_str(&escape(&self.title));
        out.push_str("</h1>\n");
        for paragraph in &self.paragraphs {
            out.push_str("<p>");
            out.push_str(&escape(paragraph));
            out.push_str("</p>\n");
        }
        out.push_str("</article></body></html>\n");
        out
    }

    /// The body as plain text.
    pub fn text(&self) -> String {
        self.paragraphs.join("\n\n")
    }
}

struct Event {
    id: u64,
    victim: String,
    actor: String,
    malware: String,
    cve: Option<String>,
    sentences: Vec<usize>,
    indicators: Vec<String>,
    /// (number, outlet, paragraphs) of its reports so far, for copies and updates.
    reports: Vec<(u64, u32, Vec<String>)>,
}

/// The generator: call [`Generator::next_doc`] for each document, in order.
pub struct Generator {
    pool: Pool,
    rng: Rng,
    outlets: u32,
    start: i64,
    seconds_per_doc: f64,
    produced: u64,
    next_number: u64,
    next_event: u64,
    recent: VecDeque<Event>,
}

/// Events still reported on (the newest; older ones are done).
const RECENT_EVENTS: usize = 400;

impl Generator {
    /// A generator of `total` documents from `outlets` outlets, dated evenly from `start`
    /// (Unix seconds) over `span_days`.
    pub fn new(pool: Pool, seed: u64, outlets: u32, total: u64, start: i64, span_days: u32) -> Self {
        Self {
            pool,
            rng: Rng(seed ^ 0x9e37_79b9_7f4a_7c15),
            outlets: outlets.max(1),
            start,
            seconds_per_doc: f64::from(span_days) * 86_400.0 / total.max(1) as f64,
            produced: 0,
            next_number: 0,
            next_event: 0,
            recent: VecDeque::new(),
        }
    }

    /// The next document.
    pub fn next_doc(&mut self) -> Doc {
        let at =
            self.start + (self.produced as f64 * self.seconds_per_doc) as i64 + self.rng.below(600) as i64;
        self.produced += 1;
        let roll = self.rng.below(100);
        if self.recent.is_empty() || roll < 40 {
            return self.first_report(at);
        }
        let pick = self.recent.len() - 1 - self.rng.below(self.recent.len().min(60) as u64) as usize;
        let event_id = self.recent[pick].id;
        match roll {
            40..=79 => self.retelling(pick, at),
            80..=91 => self.syndicated(pick, at),
            _ if self.recent[pick].reports.is_empty() => self.retelling(pick, at),
            _ => {
                let doc = self.update(pick, at);
                debug_assert_eq!(doc.event, event_id);
                doc
            }
        }
    }

    fn number(&mut self) -> u64 {
        self.next_number += 1;
        self.next_number
    }

    fn first_report(&mut self, at: i64) -> Doc {
        let id = self.next_event;
        self.next_event += 1;
        let n = self.pool.sentences.len() as u64;
        let sentences = (0..24).map(|_| self.rng.below(n) as usize).collect();
        let indicators = (0..self.rng.below(7)).map(|_| self.indicator()).collect();
        let event = Event {
            id,
            victim: self.victim(),
            actor: self.rng.pick(&self.pool.actors).clone(),
            malware: self.rng.pick(&self.pool.malware).clone(),
            cve: (self.rng.below(10) < 3).then(|| {
                format!(
                    "CVE-20{}-{}",
                    18 + self.rng.below(8),
                    1000 + self.rng.below(50_000)
                )
            }),
            sentences,
            indicators,
            reports: Vec::new(),
        };
        self.recent.push_back(event);
        if self.recent.len() > RECENT_EVENTS {
            self.recent.pop_front();
        }
        let pick = self.recent.len() - 1;
        let mut doc = self.retelling(pick, at);
        doc.kind = DocKind::First;
        doc
    }

    fn retelling(&mut self, pick: usize, at: i64) -> Doc {
        let outlet = self.rng.below(u64::from(self.outlets)) as u32;
        let number = self.number();
        let event = &self.recent[pick];
        let mut chosen: Vec<usize> = event
            .sentences
            .iter()
            .copied()
            .filter(|_| self.rng.below(100) < 75)
            .collect();
        for i in 1..chosen.len() {
            if self.rng.below(4) == 0 {
                chosen.swap(i - 1, i);
            }
        }
        let (victim, actor, malware) = (event.victim.clone(), event.actor.clone(), event.malware.clone());
        let cve = event.cve.clone();
        let indicators = event.indicators.clone();
        let mut paragraphs = vec![self.opening(outlet, &victim, &actor, &malware, cve.as_deref())];
        let mut paragraph = String::new();
        for (i, s) in chosen.iter().enumerate() {
            let sentence = self.reword(&self.pool.sentences[*s].clone());
            paragraph.push_str(&sentence);
            paragraph.push(' ');
            if i % 4 == 3 {
                paragraphs.push(std::mem::take(&mut paragraph).trim_end().to_owned());
            }
        }
        if !paragraph.is_empty() {
            paragraphs.push(paragraph.trim_end().to_owned());
        }
        if !indicators.is_empty() {
            let mut listed = Vec::new();
            for indicator in &indicators {
                if self.rng.below(100) < 80 {
                    listed.push(self.maybe_defang(indicator));
                }
            }
            if !listed.is_empty() {
                paragraphs.push(format!("Indicators of compromise: {}.", listed.join(", ")));
            }
        }
        paragraphs.push(format!(
            "Outlet {outlet} will update this report on {victim} as more becomes known about {actor}."
        ));
        let title = self.headline(&victim, &actor, &malware);
        self.recent[pick]
            .reports
            .push((number, outlet, paragraphs.clone()));
        Doc {
            number,
            outlet,
            event: self.recent[pick].id,
            kind: DocKind::Retelling,
            published: at,
            title,
            paragraphs,
        }
    }

    fn syndicated(&mut self, pick: usize, at: i64) -> Doc {
        if self.recent[pick].reports.is_empty() {
            return self.retelling(pick, at);
        }
        let number = self.number();
        let outlet = self.rng.below(u64::from(self.outlets)) as u32;
        let event = &self.recent[pick];
        let (_, from, original) = event.reports[self.rng.below(event.reports.len() as u64) as usize].clone();
        let mut paragraphs = vec![format!(
            "This report first appeared at Outlet {from} and is republished with permission."
        )];
        paragraphs.extend(original);
        let title = format!(
            "{} (via Outlet {from})",
            self.headline(
                &event.victim.clone(),
                &event.actor.clone(),
                &event.malware.clone()
            )
        );
        Doc {
            number,
            outlet,
            event: self.recent[pick].id,
            kind: DocKind::Syndicated,
            published: at,
            title,
            paragraphs,
        }
    }

    fn update(&mut self, pick: usize, at: i64) -> Doc {
        let event = &self.recent[pick];
        let at_report = self.rng.below(event.reports.len() as u64) as usize;
        let (number, outlet, mut paragraphs) = event.reports[at_report].clone();
        let (victim, actor, malware) = (event.victim.clone(), event.actor.clone(), event.malware.clone());
        let n = self.pool.sentences.len() as u64;
        let extra = self.pool.sentences[self.rng.below(n) as usize].clone();
        paragraphs.push(format!("Update: {victim} confirmed the incident. {extra}"));
        self.recent[pick].reports[at_report].2 = paragraphs.clone();
        let title = self.headline(&victim, &actor, &malware);
        Doc {
            number,
            outlet,
            event: self.recent[pick].id,
            kind: DocKind::Update,
            published: at,
            title,
            paragraphs,
        }
    }

    fn opening(
        &mut self,
        outlet: u32,
        victim: &str,
        actor: &str,
        malware: &str,
        cve: Option<&str>,
    ) -> String {
        let vulnerability = cve.map(|c| format!(" exploiting {c}")).unwrap_or_default();
        match self.rng.below(4) {
            0 => format!(
                "{victim} disclosed an intrusion that researchers attribute to {actor}, who deployed {malware}{vulnerability}."
            ),
            1 => format!(
                "Security researchers at Outlet {outlet} say {actor} used {malware} against {victim}{vulnerability}."
            ),
            2 => format!(
                "An attack on {victim}{vulnerability} has been linked to {actor} and the {malware} malware family."
            ),
            _ => format!(
                "{actor} is behind a campaign against {victim} that relies on {malware}{vulnerability}, according to analysts."
            ),
        }
    }

    fn headline(&mut self, victim: &str, actor: &str, malware: &str) -> String {
        match self.rng.below(5) {
            0 => format!("{actor} targets {victim} with {malware}"),
            1 => format!("{victim} hit by {malware} attack"),
            2 => format!("{malware} campaign against {victim} tied to {actor}"),
            3 => format!("Researchers link {victim} breach to {actor}"),
            _ => format!("{victim} investigates {malware} intrusion"),
        }
    }

    fn reword(&mut self, sentence: &str) -> String {
        const SWAPS: [(&str, &str); 8] = [
            ("attackers", "threat actors"),
            ("malware", "malicious software"),
            ("group", "crew"),
            ("used", "employed"),
            ("targeted", "went after"),
            ("researchers", "analysts"),
            ("However,", "Still,"),
            ("also", "additionally"),
        ];
        let mut out = sentence.to_owned();
        for (from, to) in SWAPS {
            if out.contains(from) && self.rng.below(2) == 0 {
                out = out.replacen(from, to, 1);
            }
        }
        out
    }

    fn victim(&mut self) -> String {
        const SYLLABLES: [&str; 16] = [
            "nor", "vik", "tal", "mer", "den", "sol", "ar", "bra", "kel", "ton", "vex", "lum", "dor", "is",
            "qua", "ren",
        ];
        const KINDS: [&str; 8] = [
            "Logistics",
            "Health",
            "Energy",
            "Bank",
            "Telecom",
            "Systems",
            "Municipality",
            "University",
        ];
        let mut name = String::new();
        for _ in 0..2 + self.rng.below(2) {
            name.push_str(SYLLABLES[self.rng.below(16) as usize]);
        }
        let mut chars = name.chars();
        let first = chars.next().map(|c| c.to_ascii_uppercase()).unwrap_or('X');
        format!("{first}{} {}", chars.as_str(), KINDS[self.rng.below(8) as usize])
    }

    fn indicator(&mut self) -> String {
        match self.rng.below(4) {
            0 => format!(
                "{}.{}.{}.{}",
                11 + self.rng.below(180),
                self.rng.below(256),
                self.rng.below(256),
                1 + self.rng.below(254)
            ),
            1 => {
                let mut hash = String::with_capacity(64);
                for _ in 0..4 {
                    hash.push_str(&format!("{:016x}", self.rng.next()));
                }
                hash
            }
            2 => format!("{:016x}{:016x}", self.rng.next(), self.rng.next()),
            _ => format!(
                "update-{:x}.{}",
                self.rng.next() % 0xff_ffff,
                ["com", "net", "info", "xyz"][self.rng.below(4) as usize]
            ),
        }
    }

    fn maybe_defang(&mut self, indicator: &str) -> String {
        if indicator.contains('.') && self.rng.below(2) == 0 {
            indicator.replace('.', "[.]")
        } else {
            indicator.to_owned()
        }
    }
}

/// SplitMix64: small, fast and the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    fn pick<'a, T>(&mut self, list: &'a [T]) -> &'a T {
        &list[self.below(list.len() as u64) as usize]
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Unix seconds as an RFC 3339 UTC timestamp.
pub fn rfc3339(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    // Civil-from-days (proleptic Gregorian), after Howard Hinnant's public-domain algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool() -> Pool {
        let texts = vec![
            "The attackers used a loader to reach the domain controller within hours of access. \
             Researchers found the group reused infrastructure from earlier campaigns against banks. \
             However, the operators also deployed a second stage that talks to a new server."
                .to_owned(),
        ];
        Pool::new(
            &texts,
            vec!["APT28".into(), "Lazarus Group".into()],
            vec!["Emotet".into()],
        )
    }

    #[test]
    fn dates_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_709_251_199), "2024-02-29T23:59:59Z");
    }

    #[test]
    fn the_same_seed_gives_the_same_corpus_and_events_recur() {
        let run = |seed| {
            let mut g = Generator::new(pool(), seed, 4, 500, 1_700_000_000, 30);
            (0..500).map(|_| g.next_doc()).collect::<Vec<_>>()
        };
        let a = run(7);
        let b = run(7);
        assert!(a.iter().zip(&b).all(|(x, y)| x.html() == y.html()));
        assert!(a.iter().zip(run(8)).any(|(x, y)| x.html() != y.html()));
        let kinds = |k| a.iter().filter(|d| d.kind == k).count();
        assert!(kinds(DocKind::First) > 100 && kinds(DocKind::Retelling) > 100);
        assert!(kinds(DocKind::Syndicated) > 20 && kinds(DocKind::Update) > 10);
        assert!(a.windows(2).all(|w| w[1].published + 600 >= w[0].published));
        assert!(a.iter().any(|d| d.text().contains("[.]")));
    }
}
