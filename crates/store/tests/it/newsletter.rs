use chrono::{Duration, Utc};
use threatdesk_model::{BulletinKind, BulletinStatus, Cadence, NewBulletin, Severity, Slug, Tlp, Topics};
use threatdesk_store::{MailKind, NewSubscription, Newsletter, SqliteStore, Store};

use crate::temp_store;

fn publish(store: &SqliteStore, title: &str, tlp: Tlp, tags: &[&str]) {
    let b = store
        .create_bulletin(&NewBulletin {
            kind: BulletinKind::News,
            title: title.to_owned(),
            slug: Slug::from_title(title).expect("slug"),
            summary: String::new(),
            analyst_notes: String::new(),
            tlp,
            severity: Severity::Medium,
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            story_ids: Vec::new(),
            item_ids: Vec::new(),
            entity_ids: Vec::new(),
            authors: Vec::new(),
        })
        .expect("create");
    store
        .set_bulletin_status(b.id, BulletinStatus::InReview)
        .expect("review");
    store
        .set_bulletin_status(b.id, BulletinStatus::Published)
        .expect("publish");
}

fn subscribe(
    store: &SqliteStore,
    email: &str,
    cadence: Cadence,
    ceiling: Option<Tlp>,
    confirmed: bool,
) -> bool {
    store
        .subscribe(&NewSubscription {
            email: email.to_owned(),
            topics: Topics::default(),
            cadence,
            tlp_ceiling: ceiling,
            confirmed,
        })
        .expect("subscribe")
        .1
}

#[test]
fn a_request_waits_for_confirmation_and_the_public_form_never_changes_a_clearance() {
    let (_dir, store) = temp_store();
    assert!(!subscribe(
        &store,
        "ops@partner.example",
        Cadence::Daily,
        Some(Tlp::Green),
        true
    ));
    // The same address through the public form (anyone may type it): nothing changes.
    assert!(!subscribe(
        &store,
        "OPS@partner.example",
        Cadence::Weekly,
        None,
        false
    ));
    let subs = store.list_subscriptions().expect("list");
    assert_eq!(subs.len(), 1);
    assert_eq!(
        (subs[0].cadence, subs[0].tlp_ceiling),
        (Cadence::Daily, Tlp::Green)
    );
    assert!(subs[0].is_active());
    assert!(
        store.list_mail(10).expect("log").is_empty(),
        "no confirmation request either"
    );
    // An operator may change it; the clearance stays unless given.
    assert!(!subscribe(
        &store,
        "ops@partner.example",
        Cadence::Weekly,
        None,
        true
    ));
    let subs = store.list_subscriptions().expect("list");
    assert_eq!(
        (subs[0].cadence, subs[0].tlp_ceiling),
        (Cadence::Weekly, Tlp::Green)
    );
    // After unsubscribing, the public form starts over with a fresh opt-in, as a member of
    // the public: the clearance an operator gave does not come back that way.
    store.unsubscribe(subs[0].id).expect("unsubscribe");
    assert!(subscribe(
        &store,
        "ops@partner.example",
        Cadence::Daily,
        None,
        false
    ));
    let subs = store.list_subscriptions().expect("list");
    assert_eq!(subs[0].state(), "pending");
    assert_eq!(subs[0].tlp_ceiling, Tlp::Clear);
    // Asking again within the hour queues no second confirmation request.
    assert!(subscribe(
        &store,
        "ops@partner.example",
        Cadence::Daily,
        None,
        false
    ));
    assert_eq!(store.list_mail(10).expect("log").len(), 1);

    assert!(subscribe(
        &store,
        "new@example.org",
        Cadence::Immediate,
        None,
        false
    ));
    let mail = store.list_mail(10).expect("log");
    assert_eq!(mail.len(), 2, "a confirmation request for each pending address");
    assert!(mail.iter().all(|m| m.kind == MailKind::Confirm));
    publish(&store, "Clear one", Tlp::Clear, &[]);
    assert_eq!(
        store.plan_mail(Utc::now(), false).expect("plan"),
        0,
        "nothing before confirmation"
    );
}

#[test]
fn planning_never_queues_a_bulletin_twice_for_an_address_and_holds_clearances() {
    let (_dir, store) = temp_store();
    subscribe(&store, "public@example.org", Cadence::Immediate, None, true);
    subscribe(
        &store,
        "partner@example.org",
        Cadence::Daily,
        Some(Tlp::Amber),
        true,
    );
    publish(&store, "Clear one", Tlp::Clear, &["x"]);
    publish(&store, "Green two", Tlp::Green, &["x"]);
    publish(&store, "Red three", Tlp::Red, &["x"]);
    let now = Utc::now() + Duration::seconds(1);
    // Immediate: one message for the CLEAR bulletin; the daily digest is not due yet.
    assert_eq!(store.plan_mail(now, false).expect("plan"), 1);
    assert_eq!(store.plan_mail(now, false).expect("plan"), 0, "planned once");
    // Digests due: one message with CLEAR and GREEN for the AMBER-cleared partner.
    assert_eq!(store.plan_mail(now, true).expect("plan"), 1);
    assert_eq!(store.plan_mail(now + Duration::days(2), true).expect("plan"), 0);
    let mail = store.list_mail(10).expect("log");
    let digest = mail.iter().find(|m| m.kind == MailKind::Digest).expect("digest");
    assert_eq!(digest.bulletin_ids.len(), 2);
    assert_eq!(digest.email, "partner@example.org");
}

#[test]
fn claims_retry_and_expire_so_that_a_message_is_never_lost() {
    let (_dir, store) = temp_store();
    subscribe(&store, "public@example.org", Cadence::Immediate, None, true);
    publish(&store, "Clear one", Tlp::Clear, &[]);
    let now = Utc::now() + Duration::seconds(1);
    store.plan_mail(now, false).expect("plan");
    let lease = Duration::minutes(5);
    let claimed = store.claim_mail(now, lease, 10).expect("claim");
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].attempts, 0, "a claim is not an attempt");
    assert!(
        store.claim_mail(now, lease, 10).expect("claim").is_empty(),
        "claimed once"
    );
    // The sender stalls: after the lease the message is due again, and the stalled
    // sender's late report no longer counts.
    let later = now + Duration::minutes(6);
    let again = store.claim_mail(later, lease, 10).expect("claim");
    assert_eq!(again.len(), 1);
    assert!(
        !store.mail_sent(&claimed[0], &[]).expect("late report"),
        "the claim ran out"
    );
    assert_eq!(store.list_mail(10).expect("log")[0].status, "sending");
    // Put off untried (the server could not be reached this round): no attempt counted.
    assert!(
        store
            .mail_postponed(&again[0], "connection refused", later)
            .expect("postpone")
    );
    let again = store.claim_mail(later, lease, 10).expect("claim");
    assert_eq!(again[0].attempts, 0);
    // A transient failure: due again at the retry time, not before.
    store
        .mail_failed(&again[0], "451 try later", Some(later + Duration::minutes(1)))
        .expect("fail");
    assert!(store.claim_mail(later, lease, 10).expect("claim").is_empty());
    let retry = store
        .claim_mail(later + Duration::minutes(1), lease, 10)
        .expect("claim");
    assert_eq!(retry.len(), 1);
    assert!(store.mail_sent(&retry[0], &[]).expect("sent"));
    assert!(
        store
            .claim_mail(later + Duration::days(1), lease, 10)
            .expect("claim")
            .is_empty()
    );
    let log = store.list_mail(10).expect("log");
    assert_eq!(
        (log[0].status.as_str(), log[0].attempts),
        ("sent", 2),
        "one failure, one success"
    );
    assert_eq!(store.mail_counts().expect("counts").get("sent"), Some(&1));
}

#[test]
fn unsubscribing_cancels_queued_messages() {
    let (_dir, store) = temp_store();
    subscribe(&store, "public@example.org", Cadence::Immediate, None, true);
    publish(&store, "Clear one", Tlp::Clear, &[]);
    store
        .plan_mail(Utc::now() + Duration::seconds(1), false)
        .expect("plan");
    let id = store.list_subscriptions().expect("list")[0].id;
    assert!(store.unsubscribe(id).expect("unsubscribe"));
    assert!(
        store
            .claim_mail(Utc::now() + Duration::days(1), Duration::minutes(5), 10)
            .expect("claim")
            .is_empty()
    );
    assert_eq!(store.list_mail(10).expect("log")[0].status, "cancelled");
}

#[test]
fn an_old_confirmation_link_does_not_bring_back_an_address_that_left() {
    let (_dir, store) = temp_store();
    subscribe(&store, "public@example.org", Cadence::Daily, None, false);
    let id = store.list_subscriptions().expect("list")[0].id;
    assert!(store.confirm_subscription(id).expect("confirm"));
    assert!(
        !store.confirm_subscription(id).expect("confirm"),
        "confirmed once"
    );
    store.unsubscribe(id).expect("unsubscribe");
    assert!(!store.confirm_subscription(id).expect("confirm"));
    assert_eq!(
        store.list_subscriptions().expect("list")[0].state(),
        "unsubscribed"
    );
}

#[test]
fn a_new_clearance_does_not_mail_the_archive() {
    let (_dir, store) = temp_store();
    subscribe(
        &store,
        "partner@example.org",
        Cadence::Immediate,
        Some(Tlp::Clear),
        true,
    );
    publish(&store, "Green before", Tlp::Green, &[]);
    std::thread::sleep(std::time::Duration::from_millis(5));
    subscribe(
        &store,
        "partner@example.org",
        Cadence::Immediate,
        Some(Tlp::Green),
        true,
    );
    std::thread::sleep(std::time::Duration::from_millis(5));
    publish(&store, "Green after", Tlp::Green, &[]);
    assert_eq!(
        store
            .plan_mail(Utc::now() + Duration::seconds(1), false)
            .expect("plan"),
        1
    );
    let mail = store.list_mail(10).expect("log");
    let after = store
        .list_bulletins(&threatdesk_store::BulletinFilter::default())
        .expect("bulletins")
        .into_iter()
        .find(|b| b.content.title == "Green after")
        .expect("the new bulletin");
    assert_eq!(mail[0].bulletin_ids, vec![after.id]);
}

#[test]
fn a_bulletin_left_out_at_send_time_can_be_sent_once_republished() {
    let (_dir, store) = temp_store();
    subscribe(&store, "public@example.org", Cadence::Daily, None, true);
    publish(&store, "Clear one", Tlp::Clear, &[]);
    publish(&store, "Clear two", Tlp::Clear, &[]);
    let now = Utc::now() + Duration::seconds(1);
    assert_eq!(store.plan_mail(now, true).expect("plan"), 1);
    let digest = store
        .claim_mail(now, Duration::minutes(5), 1)
        .expect("claim")
        .remove(0);
    assert_eq!(digest.bulletin_ids.len(), 2);
    // "Clear two" was withdrawn before sending: the digest goes without it...
    let two = digest.bulletin_ids[1];
    assert!(store.mail_sent(&digest, &[two]).expect("sent"));
    let log = store.list_mail(10).expect("log");
    assert!(
        log[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("without 1"))
    );
    // ...and planning offers it again (here at once, as it is still published).
    assert_eq!(store.plan_mail(now + Duration::days(2), true).expect("plan"), 1);
    let again = store.list_mail(10).expect("log");
    assert_eq!(again[0].bulletin_ids, vec![two]);
}

#[test]
fn a_pending_partner_address_keeps_its_clearance_whatever_the_public_form_says() {
    let (_dir, store) = temp_store();
    assert!(subscribe(
        &store,
        "partner@example.org",
        Cadence::Daily,
        Some(Tlp::Amber),
        false
    ));
    assert!(subscribe(
        &store,
        "partner@example.org",
        Cadence::Weekly,
        None,
        false
    ));
    let subs = store.list_subscriptions().expect("list");
    assert_eq!(
        (subs[0].tlp_ceiling, subs[0].cadence),
        (Tlp::Amber, Cadence::Daily)
    );
    assert_eq!(
        store.list_mail(10).expect("log").len(),
        1,
        "one request within the hour"
    );
}
