//! The entity recogniser with the built-in knowledge base: what a bulletin writer expects
//! to be tagged, and what must not be.

use proptest::prelude::*;
use threatdesk_extract::{Mention, Recognizer, extract};
use threatdesk_kb::EntityKind;

fn mentions(text: &str) -> Vec<Mention> {
    let iocs = extract(text);
    Recognizer::builtin().find(text, &iocs)
}

fn summary(text: &str) -> Vec<(EntityKind, String, String)> {
    mentions(text)
        .into_iter()
        .map(|m| (m.kind, m.text, m.value.to_string()))
        .collect()
}

fn has(found: &[(EntityKind, String, String)], kind: EntityKind, text: &str, value: &str) -> bool {
    found
        .iter()
        .any(|(k, t, v)| *k == kind && t == text && v == value)
}

#[test]
fn a_headline_is_tagged_with_every_country_even_as_adjectives_and_capitals() {
    let text = "Russia, China warn US its cyber support of Ukraine has consequences. \
                The Chinese Foreign Ministry said Beijing and the Kremlin agree; North Korean hackers watch.";
    let found = mentions(text);
    let country = |written: &str| {
        found.iter().find(|m| m.text == written).map(|m| {
            (
                m.kind,
                m.value.to_string(),
                m.ids.get("iso3166").cloned(),
                m.confidence,
            )
        })
    };
    for (written, iso) in [("Russia", "RU"), ("China", "CN"), ("US", "US"), ("Ukraine", "UA")] {
        let (kind, _, id, confidence) = country(written).unwrap_or_else(|| panic!("{written} not found"));
        assert_eq!(
            (kind, id.as_deref()),
            (EntityKind::Country, Some(iso)),
            "{written}"
        );
        assert!(confidence >= 0.9, "{written}: a name is sure");
    }
    let (_, china, _, adjective) = country("Chinese").expect("demonym");
    assert_eq!(china, "China");
    let (_, _, _, capital) = country("Beijing").expect("capital");
    let (_, russia, _, kremlin) = country("the Kremlin").expect("metonym");
    assert_eq!(russia, "Russia");
    assert!(
        adjective < 0.9 && capital < adjective && kremlin < adjective,
        "less sure: {adjective} {capital}"
    );
    assert_eq!(
        country("North Korean").map(|c| c.1).as_deref(),
        Some("North Korea")
    );
}

#[test]
fn aliases_from_different_sources_land_on_one_actor() {
    let found =
        mentions("Fancy Bear, also tracked as Sofacy, STRONTIUM and APT28, and APT28\u{2019}s tooling.");
    let ids: Vec<Option<&str>> = found
        .iter()
        .map(|m| m.ids.get("attack").map(String::as_str))
        .collect();
    assert_eq!(found.len(), 5, "{found:?}");
    assert!(ids.iter().all(|id| *id == Some("G0007")), "{ids:?}");
    assert!(
        found
            .iter()
            .all(|m| &*m.value == "APT28" && m.kind == EntityKind::ThreatActor)
    );
    assert_eq!(&*found[0].alias, "fancy bear");
}

#[test]
fn names_that_are_ordinary_words_need_capitals_and_context() {
    let literal =
        summary("The policy is a patchwork of rules, let's play it safe, an equation with machete cuts.");
    assert!(literal.is_empty(), "{literal:?}");
    let accented = summary("Le groupe Mélofée, MÉLOFÉE et Turla\u{2019}s outils.");
    assert!(accented.iter().any(|(_, t, _)| t == "Turla"), "{accented:?}");
    let melofee: Vec<&str> = accented
        .iter()
        .filter(|(_, _, v)| v == "Melofee")
        .map(|(_, t, _)| t.as_str())
        .collect();
    assert_eq!(melofee, ["Mélofée", "MÉLOFÉE"], "{accented:?}");
    let security = summary("The Patchwork group sent a backdoor; Play ransomware operators struck too.");
    assert!(
        has(&security, EntityKind::ThreatActor, "Patchwork", "Patchwork"),
        "{security:?}"
    );
    assert!(security.iter().any(|(_, t, _)| t == "Play"), "{security:?}");
    let no_context = summary("Patchwork, a quilt made of many pieces.");
    assert!(no_context.is_empty(), "{no_context:?}");
    // Calendar words are never names, whatever a source files under them.
    assert!(
        summary("In August the malware campaign resumed.")
            .iter()
            .all(|(_, t, _)| t != "August")
    );
}

#[test]
fn nothing_is_found_inside_indicators_or_words() {
    let found = summary(
        "See hxxp://emotet.example[.]com/turla/apt28.php, mail apt28@example.org, C:\\Turla\\emotet.dll.",
    );
    assert!(found.is_empty(), "{found:?}");
    let inside_words = summary("Turlax and xEmotet and Sofacyish are not names.");
    assert!(inside_words.is_empty(), "{inside_words:?}");
    // A tool's name that is the whole stem of a program file is a mention of the tool.
    let program = summary("They ran psexec.exe and net.exe on the host.");
    assert!(
        program
            .iter()
            .any(|(k, t, _)| *k == EntityKind::Tool && t == "psexec.exe"),
        "{program:?}"
    );
}

#[test]
fn techniques_are_mapped_from_ids_names_and_phrasings_with_their_sentence() {
    let text = "Initial access came first. The operators used spear-phishing attachments (T1566.001) \
                and later dumped credentials from LSASS memory. Persistence used scheduled tasks.";
    let found = mentions(text);
    let technique = |written: &str| found.iter().find(|m| m.text == written).cloned();
    for (written, id) in [
        ("spear-phishing attachments", "T1566.001"),
        ("T1566.001", "T1566.001"),
        ("dumped credentials", "T1003"),
        ("LSASS memory", "T1003.001"),
        ("scheduled tasks", "T1053.005"),
        ("Persistence", "TA0003"),
    ] {
        let mention = technique(written).unwrap_or_else(|| panic!("{written} not mapped: {found:?}"));
        assert_eq!(
            mention.ids.get("attack").map(String::as_str),
            Some(id),
            "{written}"
        );
        let sentence = mention.sentence.expect("evidence sentence");
        let evidence = &text[sentence.start..sentence.end];
        assert!(
            evidence.contains(written) && evidence.ends_with('.'),
            "{evidence:?}"
        );
        assert!(!evidence.contains("Initial access came first") || written == "Initial access");
    }
    assert_eq!(technique("T1566.001").map(|m| m.confidence), Some(1.0));
}

#[test]
fn sectors_and_regions_are_tagged_with_their_head_nouns() {
    let found = summary("Attacks on the energy sector and on banks in the Middle East and Eastern Europe.");
    assert!(
        has(&found, EntityKind::Sector, "energy sector", "Energy"),
        "{found:?}"
    );
    assert!(has(&found, EntityKind::Sector, "banks", "Finance"), "{found:?}");
    assert!(
        has(&found, EntityKind::Region, "Middle East", "Middle East"),
        "{found:?}"
    );
    assert!(
        has(&found, EntityKind::Region, "Eastern Europe", "Eastern Europe"),
        "{found:?}"
    );
    let cities = summary("Targets in Jeddah, Shanghai and Florida.");
    assert!(has(&cities, EntityKind::City, "Jeddah", "Jeddah"), "{cities:?}");
    assert!(
        has(&cities, EntityKind::City, "Shanghai", "Shanghai"),
        "{cities:?}"
    );
    assert!(
        has(&cities, EntityKind::Region, "Florida", "Florida"),
        "{cities:?}"
    );
    let plain = summary("The government said the infrastructure is fine.");
    assert!(plain.is_empty(), "{plain:?}");
}

#[test]
fn a_name_shared_by_a_group_and_its_ransomware_follows_the_next_word() {
    let found = summary("The Carbanak group deployed the Carbanak backdoor.");
    let kinds: Vec<EntityKind> = found.iter().map(|(k, _, _)| *k).collect();
    assert_eq!(kinds, [EntityKind::ThreatActor, EntityKind::Malware], "{found:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_text_gives_valid_spans(text in "\\PC{0,300}") {
        for m in mentions(&text) {
            prop_assert!(m.start < m.end && text.get(m.start..m.end) == Some(m.text.as_str()));
            if let Some(sentence) = m.sentence {
                prop_assert!(text.get(sentence.start..sentence.end).is_some());
                prop_assert!(sentence.start <= m.start && m.end <= sentence.end.max(m.end));
            }
        }
    }

    #[test]
    fn names_in_noise_give_valid_spans(
        parts in prop::collection::vec(
            prop::sample::select(vec!["APT28", "Fancy Bear", " ", "\u{a0}", "é", "Russian", ".", "-", "T1566.001",
                                      "spearphishing", "attachments", "\n", "Emotet", "RAT", "/", "Chinese"]),
            0..40)
    ) {
        let text: String = parts.concat();
        for m in mentions(&text) {
            prop_assert!(text.get(m.start..m.end) == Some(m.text.as_str()));
        }
    }
}

#[test]
fn the_compiled_builtin_table_is_the_recognizer_of_the_builtin_knowledge_base() {
    let fresh = Recognizer::new(threatdesk_kb::KnowledgeBase::builtin());
    let compiled = include_str!("../data/builtin-recognizer.tsv");
    assert!(
        fresh.to_table() == compiled,
        "crates/extract/data/builtin-recognizer.tsv is stale: run scripts/gen-kb.sh"
    );
    let read_back = Recognizer::from_table(compiled).expect("the table parses");
    assert_eq!(read_back.to_table(), compiled);
    assert_eq!(Recognizer::builtin().stats(), fresh.stats());
    assert!(
        Recognizer::from_table("P\tx\t7\ta\t0\t0\t-\t0.9\tx\tx").is_err(),
        "dangling entity index"
    );
}

/// A stand-in for a learned model: flags sentences about screenshots.
struct ScreenshotModel;

impl threatdesk_extract::TechniqueScorer for ScreenshotModel {
    fn name(&self) -> &'static str {
        "model:test"
    }

    fn score(
        &self,
        text: &str,
        sentences: &[threatdesk_model::Span],
        _mentions: &[Mention],
        hits: &mut Vec<threatdesk_extract::TechniqueHit>,
    ) {
        for sentence in sentences {
            if text[sentence.start..sentence.end].contains("screen") {
                hits.push(threatdesk_extract::TechniqueHit {
                    attack_id: "T1113".into(),
                    name: "Screen Capture".into(),
                    kind: EntityKind::Technique,
                    evidence: *sentence,
                    sentence: *sentence,
                    confidence: 0.6,
                    scorers: vec![self.name()],
                });
            }
        }
    }
}

#[test]
fn technique_scorers_plug_in_and_their_hits_merge_per_sentence() {
    let text =
        "The implant takes a screenshot every minute. It grabs the screen again later.\nPhishing came first.";
    let found = mentions(text);
    let named = threatdesk_extract::NamedTechniques;
    let model = ScreenshotModel;
    let hits = threatdesk_extract::map_techniques(text, &found, &[&named, &model]);
    let screen: Vec<_> = hits.iter().filter(|h| h.attack_id == "T1113").collect();
    assert_eq!(screen.len(), 2, "one hit per sentence: {hits:?}");
    assert_eq!(
        screen[0].scorers,
        ["named", "model:test"],
        "both scorers found the first"
    );
    assert!(
        (screen[0].confidence - 0.9).abs() < 1e-6,
        "the higher confidence is kept"
    );
    assert_eq!(screen[1].scorers, ["model:test"]);
    assert!(
        hits.iter()
            .any(|h| h.attack_id == "T1566"
                && &text[h.sentence.start..h.sentence.end] == "Phishing came first.")
    );
    let sentences = threatdesk_extract::techniques::sentences(text);
    assert_eq!(sentences.len(), 3);
}

#[test]
fn plural_demonyms_and_program_files_in_any_case_are_mentions() {
    let found = summary("Iranians and Russians met. They ran PING.EXE, ping.exe and Net.exe.");
    assert!(has(&found, EntityKind::Country, "Iranians", "Iran"), "{found:?}");
    assert!(
        has(&found, EntityKind::Country, "Russians", "Russia"),
        "{found:?}"
    );
    let tools: Vec<&str> = found
        .iter()
        .filter(|(k, _, _)| *k == EntityKind::Tool)
        .map(|(_, t, _)| t.as_str())
        .collect();
    assert_eq!(tools, ["PING.EXE", "ping.exe", "Net.exe"], "{found:?}");
    // A plain word stays a word: "ping" the verb, lower case, needs more than itself.
    assert!(summary("Please ping me.").is_empty());
}
