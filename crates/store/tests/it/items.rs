use threatdesk_model::{ItemId, Tlp};
use threatdesk_store::{DocumentFilter, ItemFilter, Store, UpsertOutcome};

use crate::{day, file_source, item, temp_store};

#[test]
fn upsert_tells_new_unchanged_updated_and_duplicate_apart() {
    let (_dir, store) = temp_store();
    let src = file_source(&store, "files");
    let original = item(
        &src,
        "file:///r/a.txt",
        "Report A",
        "Lazarus used fake job offers.",
    );

    let first = store
        .upsert_items(std::slice::from_ref(&original))
        .expect("insert");
    let id = first[0].item_id();
    assert_eq!(first, vec![UpsertOutcome::Inserted { id }]);

    // Same document, same words, different formatting: unchanged.
    let reformatted = item(
        &src,
        "file:///r/a.txt",
        "Report A",
        "Lazarus  used\nfake job offers.",
    );
    assert_eq!(
        store.upsert_items(&[reformatted]).expect("again"),
        vec![UpsertOutcome::Unchanged { id }]
    );

    // Same document, new words: updated in place, previous hash kept.
    let edited = item(
        &src,
        "file:///r/a.txt",
        "Report A",
        "Lazarus used fake job offers and npm packages.",
    );
    let outcome = store.upsert_items(std::slice::from_ref(&edited)).expect("update");
    assert_eq!(
        outcome,
        vec![UpsertOutcome::Updated {
            id,
            previous_hash: original.content_hash.clone()
        }]
    );
    let stored = store.item(id).expect("get").expect("exists");
    assert_eq!(stored.content.text, edited.text);
    assert_eq!(stored.previous_hash, Some(original.content_hash.clone()));
    assert_eq!(stored.revision, 2);

    // Another path with identical content: a duplicate, not stored twice.
    let copy = item(&src, "file:///r/copy-of-a.txt", "Report A", &edited.text);
    assert_eq!(
        store.upsert_items(&[copy]).expect("copy"),
        vec![UpsertOutcome::Duplicate { of: id }]
    );
    assert_eq!(store.stats().expect("stats").items, 1);
}

#[test]
fn a_feed_entry_whose_url_changed_is_found_by_guid() {
    let (_dir, store) = temp_store();
    let src = file_source(&store, "feed");
    let mut entry = item(&src, "https://news.test/a", "Headline", "Body one.");
    entry.guid = Some("urn:entry:1".to_owned());
    let id = store.upsert_items(std::slice::from_ref(&entry)).expect("insert")[0].item_id();

    let mut moved = item(
        &src,
        "https://news.test/a-updated",
        "Headline",
        "Body one, corrected.",
    );
    moved.guid = Some("urn:entry:1".to_owned());
    let outcome = store.upsert_items(&[moved]).expect("update");
    assert!(matches!(outcome[0], UpsertOutcome::Updated { id: got, .. } if got == id));
    let stored = store.item(id).expect("get").expect("exists");
    assert_eq!(stored.content.canonical_url, "https://news.test/a-updated");
}

#[test]
fn the_same_url_in_two_sources_is_two_items() {
    let (_dir, store) = temp_store();
    let a = file_source(&store, "a");
    let b = file_source(&store, "b");
    let out = store
        .upsert_items(&[
            item(&a, "https://x.test/1", "T", "Same text"),
            item(&b, "https://x.test/1", "T", "Same text"),
        ])
        .expect("upsert");
    assert!(matches!(
        out[..],
        [UpsertOutcome::Inserted { .. }, UpsertOutcome::Inserted { .. }]
    ));
}

#[test]
fn a_batch_reports_outcomes_in_input_order_including_duplicates_within_it() {
    let (_dir, store) = temp_store();
    let src = file_source(&store, "files");
    let batch = vec![
        item(&src, "file:///1", "One", "first text"),
        item(&src, "file:///2", "Two", "second text"),
        item(&src, "file:///3", "One", "first text"),
    ];
    let out = store.upsert_items(&batch).expect("batch");
    let first = out[0].item_id();
    assert!(matches!(out[1], UpsertOutcome::Inserted { .. }));
    assert_eq!(out[2], UpsertOutcome::Duplicate { of: first });
}

fn in_documents(documents: DocumentFilter) -> ItemFilter {
    ItemFilter {
        documents,
        ..Default::default()
    }
}

#[test]
fn list_items_is_newest_first_and_filters() {
    let (_dir, store) = temp_store();
    let a = file_source(&store, "a");
    let b = file_source(&store, "b");
    let mut old = item(&a, "file:///old", "Old", "old text");
    old.published_at = Some(day(2));
    let mut new = item(&a, "file:///new", "New", "new text");
    new.published_at = Some(day(9));
    let mut red = item(&b, "file:///red", "Red", "red text");
    red.published_at = Some(day(5));
    red.tlp = Tlp::Red;
    store.upsert_items(&[old, new, red]).expect("insert");

    let titles = |filter: ItemFilter| -> Vec<String> {
        store
            .list_items(&filter)
            .expect("list")
            .into_iter()
            .map(|s| s.title)
            .collect()
    };
    assert_eq!(titles(ItemFilter::default()), ["New", "Red", "Old"]);
    assert_eq!(
        titles(in_documents(DocumentFilter {
            source_ids: vec![b.id],
            ..Default::default()
        })),
        ["Red"]
    );
    assert_eq!(
        titles(in_documents(DocumentFilter {
            since: Some(day(3)),
            until: Some(day(8)),
            ..Default::default()
        })),
        ["Red"]
    );
    assert_eq!(
        titles(in_documents(DocumentFilter {
            tlp_ceiling: Some(Tlp::Amber),
            ..Default::default()
        })),
        ["New", "Old"]
    );
    assert_eq!(
        titles(ItemFilter {
            limit: Some(1),
            offset: 1,
            ..Default::default()
        }),
        ["Red"]
    );
    let summary = &store.list_items(&ItemFilter::default()).expect("list")[0];
    assert_eq!((summary.source_name.as_str(), summary.text_bytes), ("a", 8));
}

#[test]
fn missing_items_are_none() {
    let (_dir, store) = temp_store();
    assert_eq!(store.item(ItemId(12345)).expect("get"), None);
}

#[test]
fn findings_are_replaced_not_accumulated_and_found_by_value() {
    use threatdesk_model::{Finding, FindingKind, Span};
    let (_dir, store) = temp_store();
    let src = file_source(&store, "files");
    let id = store
        .upsert_items(&[item(&src, "file:///f", "F", "beacon to 1.2.3.4")])
        .expect("insert")[0]
        .item_id();
    let finding = |value: &str| Finding {
        item_id: id,
        kind: FindingKind::Ipv4,
        value: value.to_owned(),
        text: value.to_owned(),
        span: Span { start: 10, end: 17 },
        confidence: 1.0,
        entity_ids: vec![],
        flags: vec!["defanged".to_owned()],
    };
    store.replace_findings(id, &[finding("1.2.3.4")]).expect("first");
    store.replace_findings(id, &[finding("5.6.7.8")]).expect("second");
    let stored = store.item_findings(id).expect("findings");
    assert_eq!(stored, vec![finding("5.6.7.8")]);
    assert_eq!(
        store
            .items_with_finding(FindingKind::Ipv4, "5.6.7.8")
            .expect("lookup"),
        vec![id]
    );
    assert!(
        store
            .items_with_finding(FindingKind::Ipv4, "1.2.3.4")
            .expect("lookup")
            .is_empty()
    );
}

// An item and its findings are one unit: stored together, left alone when unchanged.
#[test]
fn items_and_findings_are_stored_in_one_transaction() {
    use threatdesk_model::{Finding, FindingKind, ItemId, Span};
    let (_dir, store) = temp_store();
    let src = file_source(&store, "files");
    let finding = |value: &str| Finding {
        item_id: ItemId(0),
        kind: FindingKind::Domain,
        value: value.to_owned(),
        text: value.to_owned(),
        span: Span {
            start: 0,
            end: value.len(),
        },
        confidence: 1.0,
        entity_ids: vec![],
        flags: vec![],
    };
    let first = item(&src, "file:///g", "G", "evil.com");
    let out = store
        .upsert_items_with_findings(&[(first.clone(), vec![finding("evil.com")])])
        .expect("insert");
    let id = out[0].item_id();
    let stored = store.item_findings(id).expect("findings");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].item_id, id, "the store sets the item id");

    // Unchanged: the findings given are ignored, the stored ones kept.
    let again = store
        .upsert_items_with_findings(&[(first, vec![])])
        .expect("again");
    assert_eq!(again, vec![UpsertOutcome::Unchanged { id }]);
    assert_eq!(store.item_findings(id).expect("findings").len(), 1);

    // Updated: replaced.
    let edited = item(&src, "file:///g", "G", "evil.org");
    store
        .upsert_items_with_findings(&[(edited, vec![finding("evil.org")])])
        .expect("update");
    let values: Vec<String> = store
        .item_findings(id)
        .expect("findings")
        .into_iter()
        .map(|f| f.value)
        .collect();
    assert_eq!(values, ["evil.org"]);
}
