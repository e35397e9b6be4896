//! Capturing conversations: people found or created, everything durable at once.

use super::*;
use crate::commands::EventRef;
use crate::model::ReferralStatus;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

#[test]
fn capture_creates_the_person_and_reuses_them_by_name_ignoring_case() {
    let mut f = fixture(1);
    let first = f
        .store
        .capture(&chat("Ana Müller", InteractionKind::Value, "pricing"))
        .unwrap();
    assert!(first.people[0].created, "a new name creates a person");
    let second = f
        .store
        .capture(&chat("  ana   MÜLLER ", InteractionKind::Casual, "coffee"))
        .unwrap();
    assert_eq!(
        second.people[0].id, first.people[0].id,
        "same person reused"
    );
    assert!(!second.people[0].created);
    assert_eq!(f.store.people(10).unwrap().len(), 1);
    let diary = f.store.diary(&first.people[0].id).unwrap();
    assert_eq!(diary.interactions.len(), 2);
    assert_eq!(
        diary.person.name, "Ana Müller",
        "the first spelling is kept"
    );
}

#[test]
fn capture_with_nobody_is_refused_and_writes_nothing() {
    let mut f = fixture(2);
    let err = f
        .store
        .capture(&chat("   ", InteractionKind::Value, "x"))
        .unwrap_err();
    assert!(err.to_string().contains("at least one person"), "{err}");
    assert_eq!(f.store.own_log_head().unwrap(), 0);
    assert!(f.store.people(10).unwrap().is_empty());
}

#[test]
fn every_capture_appends_exactly_one_own_log_entry_with_all_its_documents() {
    let mut f = fixture(3);
    let mut draft = chat("Ana", InteractionKind::Event, "met at the booth");
    draft.people.push(PersonRef::Named("Bea".into()));
    draft.event = Some(EventRef::Named("RustConf".into()));
    f.store.capture(&draft).unwrap();
    assert_eq!(f.store.own_log_head().unwrap(), 1);
    let entry = &f.store.own_entries_after(0, 10).unwrap()[0];
    // Two people, one event, one interaction.
    assert_eq!(entry.changes.len(), 4);
    f.store
        .capture(&chat("Ana", InteractionKind::Value, "follow-up call"))
        .unwrap();
    assert_eq!(f.store.own_log_head().unwrap(), 2);
    assert_eq!(
        f.store.own_entries_after(1, 10).unwrap()[0].changes.len(),
        1
    );
}

#[test]
fn people_met_at_an_event_know_how_they_were_met() {
    let mut f = fixture(4);
    let mut draft = chat("Chen", InteractionKind::Event, "ml tooling");
    draft.event = Some(EventRef::Named("Web Summit".into()));
    let saved = f.store.capture(&draft).unwrap();
    let mut again = chat("Dana", InteractionKind::Event, "");
    again.event = Some(EventRef::Named("web summit".into()));
    let second = f.store.capture(&again).unwrap();
    assert_eq!(
        saved.event_id, second.event_id,
        "the event is found by name"
    );
    let chen = f.store.diary(&saved.people[0].id).unwrap().person;
    assert_eq!(chen.how_met, "Met at Web Summit (2026-11-23)");
    assert_eq!(chen.event.unwrap().name, "Web Summit");
}

#[test]
fn referrals_keep_their_flags_and_order() {
    let mut f = fixture(5);
    let mut draft = chat("Ana", InteractionKind::Value, "hiring");
    draft.referrals = vec![
        ReferralDraft {
            name: "Bob Stone".into(),
            will_introduce: true,
            may_use_name: true,
            reach: "mornings, email".into(),
            ..Default::default()
        },
        referral("Cleo", false),
        referral("   ", true),
    ];
    let saved = f.store.capture(&draft).unwrap();
    let diary = f.store.diary(&saved.people[0].id).unwrap();
    let refs = &diary.interactions[0].referrals;
    assert_eq!(
        refs.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["Bob Stone", "Cleo"]
    );
    assert!(refs[0].will_introduce && refs[0].may_use_name && !refs[0].will_tell);
    assert_eq!(refs[0].reach, "mornings, email");
    assert_eq!(refs[0].status, ReferralStatus::Suggested);
    assert_eq!(diary.referrals_given.len(), 2);
    assert_eq!(refs[0].referrer.as_ref().unwrap().name, "Ana");
}

#[test]
fn a_saved_capture_is_on_disk_for_a_second_connection_at_once() {
    let mut f = fixture(6);
    f.store
        .capture(&chat("Ana", InteractionKind::Value, "durable"))
        .unwrap();
    let other = open_store(f.dir.path(), &f.clock, 99);
    assert_eq!(other.search_people("durable", 10).unwrap().len(), 1);
    assert_eq!(
        other.device_id(),
        f.store.device_id(),
        "the device id is stored once"
    );
}

#[test]
fn saves_leave_merging_the_search_index_to_checkpoints_also_after_a_rebuild() {
    let mut f = fixture(41);
    let segments = |store: &Store| -> i64 {
        store
            .conn()
            .query_row(
                "SELECT COUNT(DISTINCT segid) FROM search_notes_idx",
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
    for round in 0..2 {
        for index in ["search_own", "search_notes"] {
            let automerge: i64 = f
                .store
                .conn()
                .query_row(
                    &format!("SELECT v FROM {index}_config WHERE k = 'automerge'"),
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(
                automerge, 0,
                "round {round}: {index} merges only when asked"
            );
        }
        // Each save adds one segment and merges none.
        let text = "pricing roadmap hiring Zürich coffee grant ".repeat(100);
        for i in 0..12 {
            f.store
                .capture(&chat(
                    &format!("P{round} {i}"),
                    InteractionKind::Casual,
                    &text,
                ))
                .unwrap();
        }
        let before = segments(&f.store);
        assert!(before >= 12, "round {round}: {before} segments");
        f.store.checkpoint().unwrap();
        let after = segments(&f.store);
        assert!(
            after < before,
            "round {round}: a checkpoint merges ({before} → {after})"
        );
        assert_eq!(
            f.store.search_people("roadmap", 50).unwrap().len(),
            12 + round * 12,
            "round {round}"
        );
        f.store.rebuild_read_model().unwrap();
    }
}

// Reads the store's files' sizes: the desktop's alone.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn saves_leave_the_log_folding_to_checkpoints_and_bound_it_themselves() {
    let mut f = fixture(40);
    let main_file = f.dir.path().join("store.sqlite");
    let size = || std::fs::metadata(&main_file).unwrap().len();
    let text = "pricing roadmap ".repeat(200);
    f.store
        .capture(&chat("Ana", InteractionKind::Value, &text))
        .unwrap();
    f.store.checkpoint().unwrap();
    let folded = size();
    // Enough saves to fill SQLite's default 1,000-page log several times over.
    for i in 1..crate::store::FOLD_EVERY {
        f.store
            .capture(&chat(&format!("P{i}"), InteractionKind::Casual, &text))
            .unwrap();
    }
    assert_eq!(size(), folded, "no save folded the log into the file");
    f.store.checkpoint().unwrap();
    let after_checkpoint = size();
    assert!(after_checkpoint > folded, "a checkpoint folds it");
    for i in 0..crate::store::FOLD_EVERY {
        f.store
            .capture(&chat(&format!("Q{i}"), InteractionKind::Casual, &text))
            .unwrap();
    }
    assert!(
        size() > after_checkpoint,
        "without checkpoints, every {}th save folds the log",
        crate::store::FOLD_EVERY
    );
}
