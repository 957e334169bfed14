//! Stories in the store: placement, analysts' pins, ids never reused, clean-up.

use threatdesk_model::{Finding, FindingKind, ItemId, NewItem, SourceId, Span, StoryId, Tlp};
use threatdesk_store::{
    SqliteStore, Store, StoreError, StoryFacets, StoryFilter, StoryPlacement, StoryTarget, UpsertOutcome,
};

use crate::{file_source, item, temp_store};

/// Stores the items and returns their ids, in order.
fn stored(store: &SqliteStore, items: &[NewItem]) -> Vec<ItemId> {
    store
        .upsert_items(items)
        .expect("items")
        .iter()
        .map(UpsertOutcome::item_id)
        .collect()
}

fn placement(item: ItemId, story: Option<StoryId>) -> StoryPlacement {
    to(item, story.map_or(StoryTarget::New, StoryTarget::Existing))
}

fn to(item: ItemId, story: StoryTarget) -> StoryPlacement {
    StoryPlacement {
        item,
        story,
        new_title: format!("story of {item}"),
        score: 0.6,
        reasons: "[]".to_owned(),
        near_duplicate_of: None,
        features: vec![1, 2, 3],
    }
}

#[test]
fn placements_make_stories_and_pinned_items_stay_where_analysts_put_them() {
    let (_dir, store) = temp_store();
    let source = file_source(&store, "reports");
    let ids = stored(
        &store,
        &[
            item(&source, "file:///a", "A", "alpha text"),
            item(&source, "file:///b", "B", "beta text"),
            item(&source, "file:///c", "C", "gamma text"),
        ],
    );
    assert_eq!(store.unclustered_items(10).expect("pending").len(), 3);
    let first = store.place_items(&[placement(ids[0], None)]).expect("place")[0];
    let placed = store
        .place_items(&[placement(ids[1], Some(first)), placement(ids[2], None)])
        .expect("place");
    assert_eq!(placed[0], first);
    let third = placed[1];
    assert_ne!(third, first);
    assert!(store.unclustered_items(10).expect("pending").is_empty());
    assert_eq!(
        store.list_stories(&StoryFilter::default()).expect("list").len(),
        2
    );
    assert_eq!(
        store
            .clustered_between(crate::day(1), crate::day(1))
            .expect("features")
            .len(),
        3
    );
    assert!(
        store
            .clustered_between(crate::day(2), crate::day(20))
            .expect("features")
            .is_empty(),
        "items dated before the range are left out"
    );
    assert!(
        store
            .clustered_between(
                crate::day(1) - chrono::Duration::days(20),
                crate::day(1) - chrono::Duration::hours(1)
            )
            .expect("features")
            .is_empty(),
        "items dated after the range are left out"
    );

    // The analyst moves B out; re-placing it automatically changes nothing.
    let own = store
        .move_to_story(&[ids[1]], None, "analyst", "split")
        .expect("split");
    assert!(own.0 > third.0, "a new id, never a reused one");
    let again = store
        .place_items(&[placement(ids[1], Some(first))])
        .expect("place");
    assert_eq!(again, [own]);
    assert_eq!(store.story_of_item(ids[1]).expect("story"), Some(own));

    // Merging the third story away removes it; its id is not handed out again.
    assert_eq!(store.merge_stories(third, first, "analyst").expect("merge"), 1);
    assert!(store.story(third).expect("story").is_none());
    let audit = store.story_audit(first).expect("audit");
    assert_eq!(audit.last().map(|a| a.action.as_str()), Some("merge"));
    assert!(store.merge_stories(StoryId(999), first, "analyst").is_err());

    // Deleting a source's items leaves no empty story behind.
    store.remove_source(source.id, true).expect("remove");
    assert!(
        store
            .list_stories(&StoryFilter::default())
            .expect("list")
            .is_empty()
    );
}

#[test]
fn one_batch_of_placements_can_start_a_story_and_add_to_it() {
    let (_dir, store) = temp_store();
    let source = file_source(&store, "reports");
    let ids = stored(
        &store,
        &[
            item(&source, "file:///a", "A", "alpha text"),
            item(&source, "file:///b", "B", "beta text"),
            item(&source, "file:///c", "C", "gamma text"),
            item(&source, "file:///d", "D", "delta text"),
        ],
    );

    // A placement may only join the story of one that comes before it; a bad batch stores
    // nothing at all.
    let error = store
        .place_items(&[to(ids[0], StoryTarget::New), to(ids[1], StoryTarget::SameAs(1))])
        .expect_err("a placement cannot join its own story");
    assert!(
        matches!(error, StoreError::InvalidPlacement { position: 1, .. }),
        "{error}"
    );
    assert_eq!(store.unclustered_items(10).expect("pending").len(), 4);
    assert!(
        store
            .list_stories(&StoryFilter::default())
            .expect("list")
            .is_empty()
    );

    let placed = store
        .place_items(&[
            to(ids[0], StoryTarget::New),
            to(ids[1], StoryTarget::New),
            to(ids[2], StoryTarget::SameAs(0)),
            to(ids[3], StoryTarget::SameAs(2)),
        ])
        .expect("place");
    assert_eq!(placed[2], placed[0]);
    assert_eq!(placed[3], placed[0]);
    assert_ne!(placed[1], placed[0]);
    assert_eq!(store.story(placed[0]).expect("story").map(|s| s.items), Some(3));
    assert!(store.unclustered_items(10).expect("pending").is_empty());

    // An item an analyst keeps in its story stays there even when the batch starts a new
    // story for it; a later placement of the same batch that joins that story still finds
    // it, and it is gone at the end only if nothing joined it.
    let kept = store
        .move_to_story(&[ids[1]], None, "analyst", "split")
        .expect("split");
    let again = store
        .place_items(&[to(ids[1], StoryTarget::New), to(ids[3], StoryTarget::SameAs(0))])
        .expect("place");
    assert_eq!(again[0], kept, "pinned");
    assert_ne!(again[1], kept);
    assert_eq!(store.story(again[1]).expect("story").map(|s| s.items), Some(1));
    let alone = store.place_items(&[to(ids[1], StoryTarget::New)]).expect("place");
    assert_eq!(alone, [kept]);
    assert_eq!(
        store.list_stories(&StoryFilter::default()).expect("list").len(),
        3,
        "the story started for the pinned item alone is not kept"
    );
}

#[test]
fn the_clustering_queue_holds_exactly_the_unplaced_items_and_emptied_stories_go() {
    let (_dir, store) = temp_store();
    let source = file_source(&store, "reports");
    let ids = stored(
        &store,
        &[
            item(&source, "file:///a", "A", "alpha text"),
            item(&source, "file:///b", "B", "beta text"),
        ],
    );
    assert_eq!(
        store.unclustered_items(1).expect("pending"),
        [ids[0]],
        "storage order, limited"
    );
    let a = store.place_items(&[placement(ids[0], None)]).expect("place")[0];
    assert_eq!(store.unclustered_items(10).expect("pending"), [ids[1]]);
    // A changed item keeps its place: it is not queued again.
    let changed = store
        .upsert_items(&[item(&source, "file:///a", "A", "alpha text, revised")])
        .expect("update");
    assert!(matches!(changed[0], UpsertOutcome::Updated { .. }));
    assert_eq!(store.unclustered_items(10).expect("pending"), [ids[1]]);
    let b = store.place_items(&[placement(ids[1], None)]).expect("place")[0];
    assert!(store.unclustered_items(10).expect("pending").is_empty());

    // Automatic re-placement of A into B's story empties A's story, which goes; B stays.
    assert_eq!(
        store.place_items(&[placement(ids[0], Some(b))]).expect("place"),
        [b]
    );
    assert!(store.story(a).expect("story").is_none());
    assert_eq!(store.story(b).expect("story").map(|s| s.items), Some(2));
    // Moving both out one by one removes the story only once it is empty.
    let own = store
        .move_to_story(&[ids[0]], None, "analyst", "split")
        .expect("split");
    assert!(store.story(b).expect("story").is_some());
    store
        .move_to_story(&[ids[1]], Some(own), "analyst", "move")
        .expect("move");
    assert!(store.story(b).expect("story").is_none());
    assert_eq!(store.story(own).expect("story").map(|s| s.items), Some(2));
}

#[test]
fn story_roll_ups_follow_placements_moves_markings_and_removals() {
    let (_dir, store) = temp_store();
    let vendor = file_source(&store, "vendor");
    let news = file_source(&store, "news");
    let mut early = item(&vendor, "file:///a", "A", "alpha text");
    early.published_at = Some(crate::day(2));
    let mut late = item(&news, "file:///b", "B", "beta text");
    late.published_at = Some(crate::day(9));
    let mut other = item(&news, "file:///c", "C", "gamma text");
    other.published_at = Some(crate::day(5));
    let ids = stored(&store, &[early, late.clone(), other]);
    let story = store.place_items(&[placement(ids[0], None)]).expect("place")[0];
    store
        .place_items(&[placement(ids[1], Some(story)), placement(ids[2], None)])
        .expect("place");
    let summary = store.story(story).expect("story").expect("exists");
    assert_eq!((summary.items, summary.sources), (2, 2));
    assert_eq!(
        (summary.first_seen, summary.last_seen),
        (crate::day(2), crate::day(9))
    );
    assert_eq!(summary.tlp, Tlp::Clear);

    // Newest first by the latest member's date: the two-item story (day 9), then day 5.
    let listed = store.list_stories(&StoryFilter::default()).expect("list");
    assert_eq!(listed.first().map(|s| s.id), Some(story));
    assert_eq!(listed.len(), 2);
    let recent = StoryFilter {
        since: Some(crate::day(8)),
        ..StoryFilter::default()
    };
    assert_eq!(store.list_stories(&recent).expect("list").len(), 1);

    // A member re-marked AMBER makes the story AMBER: hidden under a GREEN ceiling.
    late.tlp = Tlp::Amber;
    late.text = "beta text, now for members".to_owned();
    late.content_hash = threatdesk_text::content_hash(&late.title, &late.text);
    store.upsert_items(&[late]).expect("re-mark");
    assert_eq!(
        store.story(story).expect("story").expect("exists").tlp,
        Tlp::Amber
    );
    let green = StoryFilter {
        tlp_ceiling: Some(Tlp::Green),
        ..StoryFilter::default()
    };
    assert!(
        store
            .list_stories(&green)
            .expect("list")
            .iter()
            .all(|s| s.id != story)
    );

    // Moving the late item out: the story shrinks to one source and day 2.
    store
        .move_to_story(&[ids[1]], None, "analyst", "split")
        .expect("split");
    let summary = store.story(story).expect("story").expect("exists");
    assert_eq!(
        (summary.items, summary.sources, summary.last_seen),
        (1, 1, crate::day(2))
    );
    assert_eq!(summary.tlp, Tlp::Clear);

    // Removing the news source's items leaves the vendor's story alone.
    store.remove_source(news.id, true).expect("remove");
    let listed = store.list_stories(&StoryFilter::default()).expect("list");
    assert_eq!(
        listed.iter().map(|s| (s.id, s.items)).collect::<Vec<_>>(),
        [(story, 1)]
    );
}

fn mention(kind: FindingKind, value: &str) -> Finding {
    Finding {
        item_id: ItemId(0),
        kind,
        value: value.to_owned(),
        text: value.to_owned(),
        span: Span { start: 0, end: 1 },
        confidence: 1.0,
        entity_ids: vec![],
        flags: vec![],
    }
}

/// A story's facets as the members and their findings say they are.
fn facets_from_members(store: &SqliteStore, story: StoryId) -> StoryFacets {
    let members = store.story_members(story).expect("members");
    let mut sources: Vec<SourceId> = members.iter().map(|m| m.source_id).collect();
    sources.sort();
    sources.dedup();
    let mut entities: Vec<String> = Vec::new();
    for member in &members {
        for finding in store.item_findings(member.item).expect("findings") {
            if matches!(
                finding.kind,
                FindingKind::EntityMention
                    | FindingKind::AttackGroup
                    | FindingKind::AttackSoftware
                    | FindingKind::AttackCampaign
                    | FindingKind::Cve
            ) {
                entities.push(finding.value);
            }
        }
    }
    entities.sort();
    entities.dedup();
    StoryFacets { sources, entities }
}

/// The stored roll-ups of `stories`, checked against their members, as entity names.
fn entities_of(store: &SqliteStore, stories: &[StoryId]) -> Vec<Vec<String>> {
    let facets = store.story_facets(stories).expect("facets");
    assert_eq!(
        facets.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        stories,
        "one entry per story asked for, in order"
    );
    for (story, rolled_up) in &facets {
        assert_eq!(rolled_up, &facets_from_members(store, *story), "story {story}");
    }
    facets.into_iter().map(|(_, f)| f.entities).collect()
}

#[test]
fn story_entity_roll_ups_follow_members_and_their_findings() {
    let (_dir, store) = temp_store();
    let vendor = file_source(&store, "vendor");
    let news = file_source(&store, "news");
    let a = item(
        &vendor,
        "file:///a",
        "A",
        "APT28 exploits CVE-2024-0001 via 1.2.3.4; APT28 again",
    );
    let b = item(&news, "file:///b", "B", "APT28 drops Emotet");
    let c = item(&news, "file:///c", "C", "LockBit is back");
    let ids: Vec<ItemId> = store
        .upsert_items_with_findings(&[
            (
                a.clone(),
                vec![
                    mention(FindingKind::AttackGroup, "APT28"),
                    mention(FindingKind::Cve, "CVE-2024-0001"),
                    mention(FindingKind::Ipv4, "1.2.3.4"),
                    mention(FindingKind::AttackGroup, "APT28"),
                ],
            ),
            (
                b,
                vec![
                    mention(FindingKind::AttackGroup, "APT28"),
                    mention(FindingKind::AttackSoftware, "Emotet"),
                ],
            ),
            (c, vec![mention(FindingKind::EntityMention, "LockBit")]),
        ])
        .expect("items")
        .iter()
        .map(UpsertOutcome::item_id)
        .collect();
    let s = store.place_items(&[placement(ids[0], None)]).expect("place")[0];
    let t = store
        .place_items(&[placement(ids[1], Some(s)), placement(ids[2], None)])
        .expect("place")[1];
    assert_eq!(
        entities_of(&store, &[s, t]),
        [vec!["APT28", "CVE-2024-0001", "Emotet"], vec!["LockBit"]],
        "indicators are not entities; a name mentioned twice is listed once"
    );

    // B's findings replaced: Emotet leaves the story, APT28 stays (A mentions it too).
    store
        .replace_findings(ids[1], &[mention(FindingKind::AttackSoftware, "Qakbot")])
        .expect("re-extract");
    assert_eq!(
        entities_of(&store, &[s, t]),
        [vec!["APT28", "CVE-2024-0001", "Qakbot"], vec!["LockBit"]]
    );

    // A moved to T takes its names along.
    store
        .move_to_story(&[ids[0]], Some(t), "analyst", "move")
        .expect("move");
    assert_eq!(
        entities_of(&store, &[s, t]),
        [vec!["Qakbot"], vec!["APT28", "CVE-2024-0001", "LockBit"]]
    );

    // A updated by its source: its new findings replace the old in the story's names.
    let mut revised = a;
    revised.text = "Sandworm exploits CVE-2024-0001".to_owned();
    revised.content_hash = threatdesk_text::content_hash(&revised.title, &revised.text);
    store
        .upsert_items_with_findings(&[(
            revised,
            vec![
                mention(FindingKind::AttackGroup, "Sandworm"),
                mention(FindingKind::Cve, "CVE-2024-0001"),
            ],
        )])
        .expect("update");
    assert_eq!(
        entities_of(&store, &[t]),
        [vec!["CVE-2024-0001", "LockBit", "Sandworm"]]
    );

    // T merged into S: every name in one story.
    store.merge_stories(t, s, "analyst").expect("merge");
    assert_eq!(
        entities_of(&store, &[s, t]),
        [vec!["CVE-2024-0001", "LockBit", "Qakbot", "Sandworm"], vec![]]
    );

    // The news source's items removed: only the vendor's item's names are left.
    store.remove_source(news.id, true).expect("remove");
    assert_eq!(entities_of(&store, &[s]), [vec!["CVE-2024-0001", "Sandworm"]]);
    let facets = store.story_facets(&[s]).expect("facets");
    assert_eq!(facets[0].1.sources, [vendor.id]);
}
