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
