use threatdesk_model::{BulletinKind, NewBulletin, Severity, Slug, Tlp};
use threatdesk_store::{HitKind, SearchQuery, SearchScope, Store, StoreError};

use crate::{day, file_source, item, temp_store};

fn query(text: &str) -> SearchQuery {
    SearchQuery {
        text: text.to_owned(),
        ..Default::default()
    }
}

fn ids(store: &impl Store, q: &SearchQuery) -> Vec<i64> {
    store
        .search(q)
        .expect("search")
        .hits
        .into_iter()
        .map(|h| h.id)
        .collect()
}

#[test]
fn title_matches_rank_above_body_mentions() {
    let (_dir, store) = temp_store();
    let src = file_source(&store, "files");
    let out = store
        .upsert_items(&[
            item(
                &src,
                "file:///1",
                "Quarterly trends",
                "Among many groups, Lazarus was active once.",
            ),
            item(
                &src,
                "file:///2",
                "Lazarus targets crypto exchanges",
                "The group stole funds.",
            ),
            item(&src, "file:///3", "Unrelated", "Nothing to see."),
        ])
        .expect("insert");
    let results = store.search(&query("lazarus")).expect("search");
    assert_eq!(results.total, 2);
    assert_eq!(
        results.hits.iter().map(|h| h.id).collect::<Vec<_>>(),
        [out[1].item_id().0, out[0].item_id().0]
    );
    assert!(results.hits[0].score > results.hits[1].score);
    // Snippets come from the body, so they add to the title rather than repeat it.
    assert!(results.hits[0].snippet.highlights.is_empty());
    let snippet = &results.hits[1].snippet;
    let (start, end) = snippet.highlights[0];
    assert_eq!(&snippet.text[start..end], "Lazarus");
}

#[test]
fn stemming_phrases_prefixes_and_exclusion() {
    let (_dir, store) = temp_store();
    let src = file_source(&store, "files");
    let out = store
        .upsert_items(&[
            item(
                &src,
                "file:///1",
                "A",
                "Attackers exploited CVE-2021-44228 in VMware Horizon.",
            ),
            item(
                &src,
                "file:///2",
                "B",
                "The ransomware operators encrypted backups.",
            ),
            item(&src, "file:///3", "C", "A test of ransomware detection."),
        ])
        .expect("insert");
    let [one, two, three] = [0, 1, 2].map(|i| out[i].item_id().0);
    assert_eq!(ids(&store, &query("attacker exploit")), [one]);
    assert_eq!(ids(&store, &query("CVE-2021-44228")), [one]);
    assert_eq!(ids(&store, &query("\"vmware horizon\"")), [one]);
    assert!(ids(&store, &query("\"horizon vmware\"")).is_empty());
    let mut ransom = ids(&store, &query("ransom*"));
    ransom.sort();
    assert_eq!(ransom, [two, three]);
    assert_eq!(ids(&store, &query("ransomware -test")), [two]);
    let mut either = ids(&store, &query("backups OR horizon"));
    either.sort();
    assert_eq!(either, [one, two]);
}

#[test]
fn filters_by_source_time_tlp_and_kind() {
    let (_dir, store) = temp_store();
    let a = file_source(&store, "a");
    let b = file_source(&store, "b");
    let mut early = item(&a, "file:///early", "Sofacy early", "Sofacy phishing.");
    early.published_at = Some(day(2));
    let mut late = item(&b, "file:///late", "Sofacy late", "Sofacy phishing again.");
    late.published_at = Some(day(20));
    late.tlp = Tlp::Amber;
    let out = store.upsert_items(&[early, late]).expect("insert");
    let bulletin = store
        .create_bulletin(&NewBulletin {
            kind: BulletinKind::Research,
            title: "Sofacy tradecraft".to_owned(),
            slug: Slug::parse("sofacy-tradecraft").expect("slug"),
            summary: "A long look at Sofacy.".to_owned(),
            analyst_notes: String::new(),
            tlp: Tlp::Clear,
            severity: Severity::Low,
            tags: vec![],
            story_ids: vec![],
            item_ids: vec![],
            entity_ids: vec![],
            authors: vec![],
        })
        .expect("bulletin");

    let q = |f: &dyn Fn(&mut SearchQuery)| {
        let mut q = query("sofacy");
        f(&mut q);
        q
    };
    assert_eq!(store.search(&q(&|_| {})).expect("all").total, 3);
    assert_eq!(
        ids(&store, &q(&|q| q.documents.source_ids = vec![a.id])),
        [bulletin.id.0, out[0].item_id().0]
    );
    assert_eq!(ids(&store, &q(&|q| q.scope = SearchScope::Items)).len(), 2);
    let only_bulletins = store
        .search(&q(&|q| q.scope = SearchScope::Bulletins))
        .expect("bulletins");
    assert_eq!(only_bulletins.hits.len(), 1);
    assert_eq!(only_bulletins.hits[0].kind, HitKind::Bulletin);
    assert!(ids(&store, &q(&|q| q.bulletin_kind = Some(BulletinKind::News))).len() == 2);
    assert_eq!(
        ids(
            &store,
            &q(&|q| {
                q.scope = SearchScope::Items;
                q.documents.since = Some(crate::day(10));
            })
        ),
        [out[1].item_id().0]
    );
    assert_eq!(
        ids(
            &store,
            &q(&|q| {
                q.scope = SearchScope::Items;
                q.documents.tlp_ceiling = Some(Tlp::Green);
            })
        ),
        [out[0].item_id().0]
    );
}

#[test]
fn bulletin_snippets_come_from_the_part_that_matches() {
    let (_dir, store) = temp_store();
    let content = |summary: &str, notes: &str| NewBulletin {
        kind: BulletinKind::News,
        title: format!("B {summary}"),
        slug: Slug::from_title(&format!("b {summary}")).expect("slug"),
        summary: summary.to_owned(),
        analyst_notes: notes.to_owned(),
        tlp: Tlp::Clear,
        severity: Severity::Info,
        tags: vec![],
        story_ids: vec![],
        item_ids: vec![],
        entity_ids: vec![],
        authors: vec![],
    };
    store
        .create_bulletin(&content("Phishing wave hits banks", "Watch for Emotet loaders."))
        .expect("create");
    let hit = &store.search(&query("emotet")).expect("search").hits[0];
    assert_eq!(hit.snippet.render("[", "]"), "Watch for [Emotet] loaders.");
}

#[test]
fn updated_items_are_reindexed() {
    let (_dir, store) = temp_store();
    let src = file_source(&store, "files");
    store
        .upsert_items(&[item(&src, "file:///1", "Report", "mentions Turla")])
        .expect("insert");
    store
        .upsert_items(&[item(&src, "file:///1", "Report", "mentions Gamaredon")])
        .expect("update");
    assert!(ids(&store, &query("turla")).is_empty());
    assert_eq!(ids(&store, &query("gamaredon")).len(), 1);
}

#[test]
fn paging_returns_disjoint_windows_with_the_same_total() {
    let (_dir, store) = temp_store();
    let src = file_source(&store, "files");
    let batch: Vec<_> = (0..7)
        .map(|i| {
            item(
                &src,
                &format!("file:///{i}"),
                &format!("Doc {i}"),
                "emotet loader",
            )
        })
        .collect();
    store.upsert_items(&batch).expect("insert");
    let page = |offset| SearchQuery {
        limit: Some(3),
        offset,
        ..query("emotet")
    };
    let first = store.search(&page(0)).expect("p1");
    let second = store.search(&page(3)).expect("p2");
    assert_eq!((first.total, second.total), (7, 7));
    assert!(
        first
            .hits
            .iter()
            .all(|h| second.hits.iter().all(|g| g.id != h.id))
    );
    assert_eq!(store.search(&page(6)).expect("p3").hits.len(), 1);
}

#[test]
fn bad_queries_are_refused_with_a_reason() {
    let (_dir, store) = temp_store();
    let error = store.search(&query("-only")).expect_err("refused");
    assert!(matches!(error, StoreError::InvalidQuery(_)), "{error}");
    // Engine syntax in user input is taken literally, never as an error.
    assert!(store.search(&query("NEAR( \"unbalanced")).is_ok());
}

#[test]
fn a_query_with_more_matches_than_are_ranked_ranks_its_newest_and_counts_all() {
    let (_dir, store) = temp_store();
    let archive = file_source(&store, "archive");
    let wire = file_source(&store, "wire");
    // The oldest items match best (the word in the title), then come more weaker matches
    // than a query ranks.
    let old: Vec<_> = (0..5)
        .map(|n| {
            item(
                &archive,
                &format!("file:///old/{n}"),
                &format!("Ransomware ransomware {n}"),
                "ransomware",
            )
        })
        .collect();
    let old_ids: Vec<i64> = store
        .upsert_items(&old)
        .expect("old items")
        .iter()
        .map(|o| o.item_id().0)
        .collect();
    let newer = usize::try_from(threatdesk_store::RANKED_MATCHES).expect("fits") + 10;
    for chunk in (0..newer).collect::<Vec<_>>().chunks(5_000) {
        let items: Vec<_> = chunk
            .iter()
            .map(|n| {
                item(
                    &wire,
                    &format!("file:///wire/{n}"),
                    &format!("Bulletin {n}"),
                    "a report that mentions ransomware once among many other words",
                )
            })
            .collect();
        store.upsert_items(&items).expect("newer items");
    }

    let results = store.search(&query("ransomware")).expect("search");
    assert_eq!(results.total, newer as u64 + 5, "the total counts every match");
    assert_eq!(results.hits.len(), 20);
    assert!(
        results.hits.iter().all(|hit| !old_ids.contains(&hit.id)),
        "the best matches are older than the newest {} and are not ranked",
        threatdesk_store::RANKED_MATCHES
    );

    // Filtered to the archive, the query has few matches: all are ranked, best first.
    let archive_only = SearchQuery {
        documents: threatdesk_store::DocumentFilter {
            source_ids: vec![archive.id],
            ..Default::default()
        },
        ..query("ransomware")
    };
    let mut found = ids(&store, &archive_only);
    found.sort_unstable();
    assert_eq!(found, old_ids);
}
