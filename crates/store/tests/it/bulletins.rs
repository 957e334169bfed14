use threatdesk_model::{
    BulletinId, BulletinKind, BulletinStatus, EntityId, ItemId, NewBulletin, Severity, Slug, StoryId, Tlp,
};
use threatdesk_store::{Store, StoreError};

use crate::temp_store;

fn draft(title: &str) -> NewBulletin {
    NewBulletin {
        kind: BulletinKind::News,
        title: title.to_owned(),
        slug: Slug::from_title(title).expect("slug"),
        summary: "Russian and Chinese officials warned the United States.".to_owned(),
        analyst_notes: "Expect retaliatory **DDoS** campaigns against NATO members.".to_owned(),
        tlp: Tlp::Clear,
        severity: Severity::Medium,
        tags: vec!["geopolitics".to_owned(), "ukraine".to_owned()],
        story_ids: vec![StoryId(3)],
        item_ids: vec![ItemId(9), ItemId(4)],
        entity_ids: vec![EntityId(77)],
        authors: vec!["alice".to_owned()],
    }
}

#[test]
fn a_bulletin_round_trips_with_its_tags_and_links_in_order() {
    let (_dir, store) = temp_store();
    let content = draft("Russia, China warn US its cyber support of Ukraine has consequences");
    let saved = store.create_bulletin(&content).expect("create");
    assert_eq!(
        (saved.status, saved.version, saved.published_at),
        (BulletinStatus::Draft, 1, None)
    );
    assert_eq!(saved.content, content);
    assert_eq!(store.bulletin(saved.id).expect("get"), Some(saved));
}

#[test]
fn edits_are_versioned_and_stale_edits_are_refused() {
    let (_dir, store) = temp_store();
    let v1 = store.create_bulletin(&draft("Patch now")).expect("create");
    let mut edit = v1.content.clone();
    edit.analyst_notes = "Updated advice.".to_owned();
    edit.tags = vec!["patching".to_owned()];
    let v2 = store.update_bulletin(v1.id, &edit, 1).expect("update");
    assert_eq!(
        (v2.version, v2.content.tags.as_slice()),
        (2, ["patching".to_owned()].as_slice())
    );

    // A second editor who loaded version 1 must not overwrite version 2.
    let stale = store
        .update_bulletin(v1.id, &v1.content, 1)
        .expect_err("stale edit");
    assert!(
        matches!(
            stale,
            StoreError::VersionConflict {
                expected: 1,
                found: 2,
                ..
            }
        ),
        "{stale}"
    );

    let history = store.bulletin_versions(v1.id).expect("history");
    assert_eq!(history.iter().map(|b| b.version).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(history[0].content.analyst_notes, v1.content.analyst_notes);
    assert_eq!(history[1].content.analyst_notes, "Updated advice.");
}

#[test]
fn slugs_are_unique() {
    let (_dir, store) = temp_store();
    store.create_bulletin(&draft("Same headline")).expect("first");
    let error = store
        .create_bulletin(&draft("Same headline"))
        .expect_err("second");
    assert!(
        matches!(error, StoreError::SlugTaken(ref s) if s == "same-headline"),
        "{error}"
    );
}

#[test]
fn publishing_goes_through_review() {
    let (_dir, store) = temp_store();
    let b = store.create_bulletin(&draft("Review me")).expect("create");
    let skipped = store
        .set_bulletin_status(b.id, BulletinStatus::Published)
        .expect_err("no review");
    assert!(matches!(skipped, StoreError::Transition(_)));
    store
        .set_bulletin_status(b.id, BulletinStatus::InReview)
        .expect("to review");
    let published = store
        .set_bulletin_status(b.id, BulletinStatus::Published)
        .expect("publish");
    assert_eq!(published.status, BulletinStatus::Published);
    assert!(published.published_at.is_some());
}

#[test]
fn missing_bulletins_are_reported_by_id() {
    let (_dir, store) = temp_store();
    let error = store
        .set_bulletin_status(BulletinId(99), BulletinStatus::InReview)
        .expect_err("missing");
    assert_eq!(error.to_string(), "bulletin 99 does not exist");
}

#[test]
fn the_publication_epoch_moves_with_every_public_change_and_not_with_ingestion() {
    let (_dir, store) = temp_store();
    let epoch = || store.publication_epoch().expect("epoch").value;
    let start = epoch();

    let saved = store
        .create_bulletin(&draft("Wipers hit utilities"))
        .expect("create");
    let created = epoch();
    assert!(created > start, "creating a bulletin moves it");

    let mut edited = draft("Wipers hit utilities");
    edited.tags = vec!["energy".to_owned()];
    store.update_bulletin(saved.id, &edited, 1).expect("edit");
    let after_edit = epoch();
    assert!(after_edit > created, "an edit (tags included) moves it");

    for status in [
        BulletinStatus::InReview,
        BulletinStatus::Published,
        BulletinStatus::Draft,
    ] {
        let before = epoch();
        store.set_bulletin_status(saved.id, status).expect("status");
        assert!(epoch() > before, "{status:?} moves it");
    }

    // Collecting news does not: public pages stay cached while items pour in.
    let source = crate::file_source(&store, "reports");
    let before = epoch();
    let outcome = store
        .upsert_items(&[crate::item(&source, "file:///n", "News", "plain text")])
        .expect("item");
    assert_eq!(epoch(), before, "a new item leaves it");

    // A cited item's new title does.
    let mut renamed = crate::item(&source, "file:///n", "News, updated", "plain text, more");
    renamed.content_hash = threatdesk_text::content_hash(&renamed.title, &renamed.text);
    store.upsert_items(&[renamed]).expect("update");
    assert!(epoch() > before, "a changed item title moves it");
    assert!(matches!(
        outcome[0],
        threatdesk_store::UpsertOutcome::Inserted { .. }
    ));
}
