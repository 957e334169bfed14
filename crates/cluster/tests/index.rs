//! Story assignment on small, realistic reports.

use threatdesk_cluster::{ClusterConfig, ItemFeatures, Sketch, StoryIndex, feature_key};
use threatdesk_model::{ItemId, SourceId, StoryId};

const DAY: i64 = 86_400_000;

const APT28_A: &str = "APT28, the group also known as Fancy Bear, sent spear-phishing e-mails to foreign \
    ministries in Poland, Lithuania and Slovakia during October. The messages carried a weaponised \
    document that exploited CVE-2026-21001 in the document viewer and installed the HeadLace backdoor. \
    HeadLace collected credentials and screenshots and sent them to servers rented from a hosting provider. \
    Responders at the national CERT published indicators and asked ministries to patch the viewer.";
const APT28_B: &str = "Polish and Lithuanian officials confirmed that Fancy Bear targeted their foreign \
    ministries with phishing messages this autumn. According to the CERT, the attackers abused CVE-2026-21001 \
    to drop HeadLace, a backdoor that steals credentials and takes screenshots of infected workstations. \
    Government agencies were told to install the update for the document viewer immediately and to look \
    for the published indicators in their logs.";
const RANSOM: &str = "A ransomware gang encrypted the servers of a regional hospital group on Sunday and \
    demanded a payment in cryptocurrency. Emergency patients were diverted to nearby hospitals while \
    administrators restored systems from backups. The gang published samples of stolen patient records on \
    its leak site and threatened to release the rest within a week. Investigators said the intruders \
    entered through a VPN appliance that lacked multi-factor authentication.";

fn features(
    id: i64,
    day: i64,
    title: &str,
    text: &str,
    entities: &[&str],
    indicators: &[&str],
) -> ItemFeatures {
    ItemFeatures {
        item: ItemId(id),
        source: SourceId(id),
        at_millis: 1_790_000_000_000 + day * DAY,
        sketch: Sketch::of(title, text),
        entities: entities.iter().map(|e| feature_key("entity", e)).collect(),
        indicators: indicators.iter().map(|i| feature_key("ipv4", i)).collect(),
        embedding: Vec::new(),
    }
}

/// Assigns and inserts, giving new stories the item's own id as story id.
fn add(index: &mut StoryIndex, f: ItemFeatures) -> (StoryId, threatdesk_cluster::Assignment) {
    let assignment = index.assign(&f);
    let story = assignment.story.unwrap_or(StoryId(f.item.0));
    index.insert(f, story);
    (story, assignment)
}

#[test]
fn one_event_from_several_sources_is_one_story_and_other_events_are_not() {
    let mut index = StoryIndex::new(ClusterConfig::default());
    let (first, _) = add(
        &mut index,
        features(
            1,
            0,
            "APT28 phishes ministries",
            APT28_A,
            &["APT28", "HeadLace"],
            &[],
        ),
    );
    let (second, why) = add(
        &mut index,
        features(
            2,
            1,
            "Fancy Bear hit foreign ministries",
            APT28_B,
            &["APT28", "HeadLace"],
            &[],
        ),
    );
    assert_eq!(second, first, "{why:?}");
    assert!(why.signals.iter().any(|s| s.kind == "entities"), "{why:?}");
    assert!(why.signals.iter().any(|s| s.kind == "text"), "{why:?}");
    let (third, why) = add(
        &mut index,
        features(3, 1, "Hospital ransomware", RANSOM, &[], &[]),
    );
    assert_ne!(third, first, "{why:?}");
    assert_eq!(index.len(), 3);
}

#[test]
fn syndicated_copies_are_near_duplicates_of_the_original() {
    let mut index = StoryIndex::new(ClusterConfig::default());
    let (story, _) = add(
        &mut index,
        features(1, 0, "APT28 phishes ministries", APT28_A, &[], &[]),
    );
    let copy = format!("This article first appeared on our partner site. {APT28_A} Share this story.");
    let (joined, why) = add(
        &mut index,
        features(2, 0, "APT28 phishes ministries", &copy, &[], &[]),
    );
    assert_eq!(joined, story);
    assert_eq!(why.near_duplicate_of, Some(ItemId(1)));
    assert_eq!(why.signals[0].kind, "near_duplicate");
}

#[test]
fn short_items_need_strong_evidence() {
    let mut index = StoryIndex::new(ClusterConfig::default());
    add(
        &mut index,
        features(1, 0, "APT28 phishes ministries", APT28_A, &["APT28"], &[]),
    );
    add(
        &mut index,
        features(2, 0, "Hospital ransomware", RANSOM, &[], &[]),
    );
    // A headline-only item that shares a word or two with both stories starts its own.
    let (story, why) = add(
        &mut index,
        features(
            3,
            0,
            "Ministries and hospitals",
            "Phishing and ransomware news.",
            &[],
            &[],
        ),
    );
    assert_eq!(story, StoryId(3), "{why:?}");
    // Two shared indicators and an actor are strong evidence even for a short item.
    let mut index = StoryIndex::new(ClusterConfig::default());
    add(
        &mut index,
        features(
            1,
            0,
            "APT28 phishes ministries",
            APT28_A,
            &["APT28", "HeadLace"],
            &["203.0.113.7", "203.0.113.8"],
        ),
    );
    let (story, why) = add(
        &mut index,
        features(
            2,
            0,
            "APT28 indicators",
            "Block 203.0.113.7 and 203.0.113.8 now.",
            &["APT28", "HeadLace"],
            &["203.0.113.7", "203.0.113.8"],
        ),
    );
    assert_eq!(story, StoryId(1), "{why:?}");
    assert!(why.signals.iter().any(|s| s.kind == "indicators"));
}

#[test]
fn stories_outside_the_window_take_no_new_items() {
    let mut index = StoryIndex::new(ClusterConfig::default());
    add(
        &mut index,
        features(
            1,
            0,
            "APT28 phishes ministries",
            APT28_A,
            &["APT28", "HeadLace"],
            &[],
        ),
    );
    let (story, why) = add(
        &mut index,
        features(
            2,
            30,
            "Fancy Bear hit foreign ministries",
            APT28_B,
            &["APT28", "HeadLace"],
            &[],
        ),
    );
    assert_eq!(story, StoryId(2), "a month later is another story: {why:?}");
}

#[test]
fn analysts_moves_and_merges_change_the_stories_later_items_join() {
    let mut index = StoryIndex::new(ClusterConfig::default());
    add(
        &mut index,
        features(1, 0, "APT28 phishes ministries", APT28_A, &["APT28"], &[]),
    );
    add(
        &mut index,
        features(2, 0, "Hospital ransomware", RANSOM, &[], &[]),
    );
    index.merge(StoryId(2), StoryId(1));
    assert_eq!(index.story_of(ItemId(2)), Some(StoryId(1)));
    index.move_item(ItemId(2), StoryId(9));
    assert_eq!(index.story_of(ItemId(2)), Some(StoryId(9)));
    let (story, _) = add(
        &mut index,
        features(3, 0, "Hospital ransomware, day two", RANSOM, &[], &[]),
    );
    assert_eq!(
        story,
        StoryId(9),
        "the copy follows its original to the analyst's story"
    );
    assert_eq!(index.representative(StoryId(1)), Some(ItemId(1)));
}

#[test]
fn embeddings_join_reports_that_share_meaning_but_few_words() {
    let unit = |v: &[f32]| {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect::<Vec<f32>>()
    };
    let with = |mut f: ItemFeatures, e: &[f32]| {
        f.embedding = unit(e);
        f
    };
    let mut index = StoryIndex::new(ClusterConfig::default());
    add(
        &mut index,
        with(
            features(1, 0, "APT28 phishes ministries", APT28_A, &[], &[]),
            &[1.0, 0.2, 0.0],
        ),
    );
    add(
        &mut index,
        with(
            features(2, 0, "Hospital ransomware", RANSOM, &[], &[]),
            &[0.0, 0.2, 1.0],
        ),
    );
    // Other words, same meaning (cosine 0.99 with the first story).
    let (story, why) = add(
        &mut index,
        with(
            features(
                3,
                0,
                "Diplomats lured",
                "Envoys across the continent opened booby-trapped invitations \
                that dropped an implant; investigators blame a Kremlin-linked crew and urged embassies to update \
                their readers, saying the intruders siphoned passwords and took pictures of desktops for weeks.",
                &[],
                &[],
            ),
            &[1.0, 0.3, 0.05],
        ),
    );
    assert_eq!(story, StoryId(1), "{why:?}");
    assert!(why.signals.iter().any(|s| s.kind == "meaning"), "{why:?}");
    // Same words' absence, other meaning: a new story.
    let (story, why) = add(
        &mut index,
        with(
            features(
                4,
                0,
                "Crypto exchange drained",
                "Thieves emptied hot wallets of an exchange.",
                &[],
                &[],
            ),
            &[-0.5, 1.0, -0.5],
        ),
    );
    assert_eq!(story, StoryId(4), "{why:?}");
}

#[test]
fn a_story_known_by_a_provisional_id_keeps_its_items_under_its_stored_id() {
    let mut index = StoryIndex::new(ClusterConfig::default());
    add(
        &mut index,
        features(1, 0, "APT28 phishes ministries", APT28_A, &["APT28"], &[]),
    );
    let provisional = StoryId(-1);
    index.insert(
        features(2, 0, "Hospital ransomware", RANSOM, &[], &[]),
        provisional,
    );
    index.rename_story(provisional, StoryId(40));
    assert_eq!(index.story_of(ItemId(2)), Some(StoryId(40)));
    assert_eq!(index.representative(provisional), None);
    let (story, assignment) = add(
        &mut index,
        features(3, 0, "Hospital ransomware, day two", RANSOM, &[], &[]),
    );
    assert_eq!(story, StoryId(40), "{assignment:?}");

    // Renaming onto a story that has items merges the two.
    index.insert(
        features(4, 0, "Fancy Bear and the ministries", APT28_B, &["APT28"], &[]),
        StoryId(-2),
    );
    index.rename_story(StoryId(-2), StoryId(1));
    assert_eq!(index.story_of(ItemId(4)), Some(StoryId(1)));
    assert_eq!(index.story_of(ItemId(1)), Some(StoryId(1)));
}
