//! Two devices that exchange their logs end up with the same data, whatever the order.

#[cfg(not(target_arch = "wasm32"))]
use proptest::prelude::*;

use super::*;
use crate::commands::InteractionEdit;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// Applies every entry of `from`'s log that `to` has not applied yet.
pub(super) fn pull(to: &mut Store, from: &Store) {
    let device = from.device_id().to_string();
    let after = to.cursor(&device).unwrap();
    for (seq, payload) in from.own_log_after(after, 10_000).unwrap() {
        to.apply_remote_entry(&device, seq, &payload).unwrap();
    }
}

#[test]
fn concurrent_edits_of_the_same_note_both_survive() {
    let mut phone = fixture(30);
    let mut desktop = fixture(31);
    let saved = phone
        .store
        .capture(&chat("Ana", InteractionKind::Value, "pricing for clinics"))
        .unwrap();
    pull(&mut desktop.store, &phone.store);
    phone
        .store
        .edit_interaction(
            &saved.interaction_id,
            &InteractionEdit {
                talked_about: Some("urgent: pricing for clinics".into()),
                ..Default::default()
            },
        )
        .unwrap();
    desktop
        .store
        .edit_interaction(
            &saved.interaction_id,
            &InteractionEdit {
                talked_about: Some("pricing for clinics in Bern".into()),
                ..Default::default()
            },
        )
        .unwrap();
    pull(&mut desktop.store, &phone.store);
    pull(&mut phone.store, &desktop.store);
    let on_phone = phone.store.diary(&saved.people[0].id).unwrap().interactions[0]
        .talked_about
        .clone();
    let on_desktop = desktop
        .store
        .diary(&saved.people[0].id)
        .unwrap()
        .interactions[0]
        .talked_about
        .clone();
    assert_eq!(on_phone, "urgent: pricing for clinics in Bern");
    assert_eq!(on_phone, on_desktop);
    assert_eq!(
        phone.store.read_model_snapshot().unwrap(),
        desktop.store.read_model_snapshot().unwrap()
    );
}

#[test]
fn a_delete_on_one_device_and_an_edit_on_another_keep_both_and_stay_deleted() {
    let mut phone = fixture(32);
    let mut desktop = fixture(33);
    let saved = phone
        .store
        .capture(&chat("Ana", InteractionKind::Value, "old text"))
        .unwrap();
    pull(&mut desktop.store, &phone.store);
    phone.store.delete(&saved.interaction_id).unwrap();
    desktop
        .store
        .edit_interaction(
            &saved.interaction_id,
            &InteractionEdit {
                talked_about: Some("new text".into()),
                ..Default::default()
            },
        )
        .unwrap();
    pull(&mut desktop.store, &phone.store);
    pull(&mut phone.store, &desktop.store);
    for store in [&phone.store, &desktop.store] {
        assert!(
            store
                .diary(&saved.people[0].id)
                .unwrap()
                .interactions
                .is_empty(),
            "deleted wins"
        );
    }
    desktop.store.restore(&saved.interaction_id).unwrap();
    pull(&mut phone.store, &desktop.store);
    let back = &phone.store.diary(&saved.people[0].id).unwrap().interactions[0];
    assert_eq!(
        back.talked_about, "new text",
        "the edit made meanwhile is kept"
    );
}

#[test]
fn a_page_of_entries_applies_in_one_go_and_a_bad_one_in_it_leaves_nothing_behind() {
    let mut phone = fixture(36);
    let mut desktop = fixture(37);
    let mut reference = fixture(38);
    for n in 0..4 {
        phone
            .store
            .capture(&chat(
                &format!("Person {n}"),
                InteractionKind::Casual,
                &format!("chat {n}"),
            ))
            .unwrap();
    }
    let log = phone.store.own_log_after(0, 10).unwrap();
    let device = phone.store.device_id().to_string();
    let entry = |seq: u64, plaintext| crate::RemoteEntry {
        device: &device,
        seq,
        plaintext,
    };
    let garbage: &[u8] = b"\xff\x00garbage";
    let page = [
        entry(1, log[0].1.as_slice()),
        entry(1, &log[0].1),
        entry(2, garbage),
        entry(3, &log[2].1),
        entry(2, &log[1].1),
        entry(3, &log[2].1),
        entry(5, &log[3].1),
    ];
    let results = desktop.store.apply_remote_entries(&page).unwrap();
    let outcomes: Vec<String> = results
        .iter()
        .map(|r| match r {
            Ok(applied) => applied.to_string(),
            Err(e) => format!("error: {e}"),
        })
        .collect();
    assert_eq!(outcomes[..2], ["true", "false"], "{outcomes:?}");
    assert!(outcomes[2].starts_with("error"), "{outcomes:?}");
    assert!(
        outcomes[3].contains("arrived before entry 2"),
        "{outcomes:?}"
    );
    assert_eq!(outcomes[4..6], ["true", "true"], "{outcomes:?}");
    assert!(
        outcomes[6].contains("arrived before entry 4"),
        "{outcomes:?}"
    );
    assert_eq!(desktop.store.cursor(&device).unwrap(), 3);

    // The same as applying the good entries one by one.
    for (seq, payload) in &log[..3] {
        reference
            .store
            .apply_remote_entry(&device, *seq, payload)
            .unwrap();
    }
    assert_eq!(
        desktop.store.read_model_snapshot().unwrap(),
        reference.store.read_model_snapshot().unwrap()
    );
    pull(&mut desktop.store, &phone.store);
    assert_eq!(
        phone.store.read_model_snapshot().unwrap(),
        desktop.store.read_model_snapshot().unwrap()
    );
}

#[test]
fn re_delivered_entries_change_nothing_and_gaps_are_refused() {
    let mut phone = fixture(34);
    let mut desktop = fixture(35);
    for n in 0..3 {
        phone
            .store
            .capture(&chat("Ana", InteractionKind::Casual, &format!("chat {n}")))
            .unwrap();
    }
    let log = phone.store.own_log_after(0, 10).unwrap();
    let device = phone.store.device_id().to_string();
    let gap = desktop
        .store
        .apply_remote_entry(&device, 2, &log[1].1)
        .unwrap_err();
    assert!(gap.to_string().contains("arrived before entry 1"), "{gap}");
    assert!(desktop
        .store
        .apply_remote_entry(&device, 1, &log[0].1)
        .unwrap());
    let before = desktop.store.read_model_snapshot().unwrap();
    assert!(
        !desktop
            .store
            .apply_remote_entry(&device, 1, &log[0].1)
            .unwrap(),
        "a replay is ignored"
    );
    assert_eq!(before, desktop.store.read_model_snapshot().unwrap());
    assert!(desktop
        .store
        .apply_remote_entry(&device, 2, b"\xff\x00garbage")
        .is_err());
    assert_eq!(
        desktop.store.cursor(&device).unwrap(),
        1,
        "a bad entry does not move the cursor"
    );
    pull(&mut desktop.store, &phone.store);
    assert_eq!(
        phone.store.read_model_snapshot().unwrap(),
        desktop.store.read_model_snapshot().unwrap()
    );
}

#[cfg(not(target_arch = "wasm32"))]
proptest! {
    #![proptest_config(ProptestConfig { cases: 12, .. ProptestConfig::default() })]

    /// Three devices write offline, then exchange logs in a random order: all agree.
    #[test]
    fn three_devices_converge_whatever_the_exchange_order(
        seed in any::<u64>(),
        order in proptest::collection::vec((0usize..3, 0usize..3), 6..14),
    ) {
        let mut devices = [fixture(seed), fixture(seed ^ 1), fixture(seed ^ 2)];
        let mut rng = SeededEntropy::new(seed);
        for round in 0..2 {
            for d in devices.iter_mut() {
                for _ in 0..6 {
                    random_step(&mut d.store, &mut rng, &["Ana", "Bob", "Cleo"]);
                }
            }
            for &(to, from) in &order {
                if to != from {
                    let (a, b) = pair(&mut devices, to, from);
                    pull(&mut a.store, &b.store);
                }
            }
            let _ = round;
        }
        // Finally everyone pulls from everyone.
        for to in 0..3 {
            for from in 0..3 {
                if to != from {
                    let (a, b) = pair(&mut devices, to, from);
                    pull(&mut a.store, &b.store);
                }
            }
        }
        let first = devices[0].store.read_model_snapshot().unwrap();
        for d in &devices[1..] {
            prop_assert_eq!(&first, &d.store.read_model_snapshot().unwrap());
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn pair(devices: &mut [Fixture; 3], to: usize, from: usize) -> (&mut Fixture, &Fixture) {
    assert_ne!(to, from);
    if to < from {
        let (left, right) = devices.split_at_mut(from);
        (&mut left[to], &right[0])
    } else {
        let (left, right) = devices.split_at_mut(to);
        (&mut right[0], &left[from])
    }
}

#[test]
fn an_entry_applied_after_being_quarantined_leaves_the_quarantine() {
    let mut phone = fixture(36);
    let mut desktop = fixture(37);
    for n in 0..2 {
        phone
            .store
            .capture(&chat("Ana", InteractionKind::Casual, &format!("chat {n}")))
            .unwrap();
    }
    let log = phone.store.own_log_after(0, 10).unwrap();
    let device = phone.store.device_id().to_string();
    desktop
        .store
        .quarantine_entry(&device, 1, "damaged on the relay", b"\x01")
        .unwrap();
    desktop
        .store
        .quarantine_entry(&device, 2, "arrived before entry 1", b"\x02")
        .unwrap();
    desktop
        .store
        .quarantine_entry("other", 1, "forged", b"\x03")
        .unwrap();
    desktop
        .store
        .apply_remote_entry(&device, 1, &log[0].1)
        .unwrap();
    let left: Vec<(String, u64)> = desktop
        .store
        .quarantined()
        .unwrap()
        .into_iter()
        .map(|q| (q.device, q.seq))
        .collect();
    assert_eq!(left, vec![(device.clone(), 2), ("other".to_string(), 1)]);
    desktop
        .store
        .apply_remote_entry(&device, 2, &log[1].1)
        .unwrap();
    assert_eq!(desktop.store.quarantined_count().unwrap(), 1);
}

#[test]
fn a_conversation_captured_on_another_device_restarts_a_persons_cadence() {
    use crate::commands::PersonEdit;
    use crate::model::Cadence;
    let mut phone = fixture(32);
    let mut desktop = fixture(33);
    // Talked to Ana on Monday 23 November; Bo is new and never talked to.
    let ana = phone
        .store
        .capture(&chat("Ana", InteractionKind::Casual, "coffee"))
        .unwrap()
        .people[0]
        .id
        .clone();
    let bo = phone
        .store
        .capture(&chat("Bo", InteractionKind::Value, ""))
        .unwrap();
    phone.store.delete(bo.interaction_id.clone()).unwrap();
    let bo = bo.people[0].id.clone();
    for (who, every) in [(&ana, Cadence::FORTNIGHTLY), (&bo, Cadence::MONTHLY)] {
        let edit = PersonEdit {
            cadence: Some(Some(every)),
            ..Default::default()
        };
        phone.store.edit_person(who, &edit).unwrap();
    }
    pull(&mut desktop.store, &phone.store);
    let due = |store: &Store, day: &str| -> Vec<(String, i64)> {
        store
            .today(date(day))
            .unwrap()
            .keep_in_touch
            .iter()
            .map(|k| (k.name.clone(), k.overdue_days))
            .collect()
    };
    assert!(due(&desktop.store, "2026-12-06").is_empty());
    // Two weeks after the coffee Ana is due, on both devices.
    assert_eq!(due(&desktop.store, "2026-12-07"), vec![("Ana".into(), 0)]);
    assert_eq!(due(&phone.store, "2026-12-09"), vec![("Ana".into(), 2)]);
    let today = desktop.store.today(date("2026-12-09")).unwrap();
    assert_eq!(today.counts.keep_in_touch, 1);
    assert_eq!(today.keep_in_touch[0].last, Some(date("2026-11-23")));
    assert_eq!(today.keep_in_touch[0].due, date("2026-12-07"));
    assert!(!today.is_clear());
    // Bo, never talked to (his only conversation deleted), is due a month after
    // the cadence was set.
    assert_eq!(
        due(&desktop.store, "2026-12-23"),
        vec![("Ana".into(), 16), ("Bo".into(), 0)]
    );

    // The desktop captures a call with Ana on 9 December: the phone, once synced,
    // no longer lists her, and she is due two weeks after that call.
    desktop
        .clock
        .set(chrono::Utc.with_ymd_and_hms(2026, 12, 9, 15, 0, 0).unwrap());
    desktop
        .store
        .capture(&chat("Ana", InteractionKind::Value, "the proposal"))
        .unwrap();
    pull(&mut phone.store, &desktop.store);
    assert!(due(&phone.store, "2026-12-22").is_empty());
    assert_eq!(
        due(&phone.store, "2026-12-23"),
        vec![("Ana".into(), 0), ("Bo".into(), 0)]
    );

    // Stopping the reminder takes Bo off Today everywhere.
    phone
        .store
        .edit_person(
            &bo,
            &PersonEdit {
                cadence: Some(None),
                ..Default::default()
            },
        )
        .unwrap();
    pull(&mut desktop.store, &phone.store);
    assert_eq!(due(&desktop.store, "2027-01-30"), vec![("Ana".into(), 38)]);
    let detail = desktop.store.diary(&ana).unwrap().person;
    assert_eq!(detail.cadence, Some(Cadence::FORTNIGHTLY));
}

#[test]
fn a_snapshot_loads_into_an_empty_store_and_merges_into_one_with_its_own_writes() {
    let mut phone = fixture(40);
    let mut desktop = fixture(41);
    let mut fresh = fixture(42);
    let saved = phone
        .store
        .capture(&chat("Ana", InteractionKind::Value, "pricing for clinics"))
        .unwrap();
    pull(&mut desktop.store, &phone.store);
    // The desktop writes offline; the phone edits and takes a snapshot.
    desktop
        .store
        .capture(&chat("Bo", InteractionKind::Casual, "written offline"))
        .unwrap();
    phone
        .store
        .edit_interaction(
            &saved.interaction_id,
            &InteractionEdit {
                talked_about: Some("pricing for clinics in Bern".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let snapshot = phone.store.account_snapshot().unwrap().unwrap();
    assert_eq!(snapshot.covers, [(phone.store.device_id().to_string(), 2)]);
    // Into an empty store: the same read model as the phone's, taken from the
    // snapshot's copy of its rows.
    assert_eq!(
        fresh
            .store
            .load_account_snapshot(&snapshot.covers, &snapshot.body)
            .unwrap(),
        crate::LoadedSnapshot {
            documents: snapshot.documents,
            read_model: crate::ReadModelFrom::Copy,
        }
    );
    assert_eq!(
        fresh.store.read_model_snapshot().unwrap(),
        phone.store.read_model_snapshot().unwrap()
    );
    assert_eq!(fresh.store.cursor(phone.store.device_id()).unwrap(), 2);
    // Into the desktop: merged with what it wrote, twice changing nothing more.
    for _ in 0..2 {
        let loaded = desktop
            .store
            .load_account_snapshot(&snapshot.covers, &snapshot.body)
            .unwrap();
        assert_eq!(loaded.read_model, crate::ReadModelFrom::Merged);
    }
    pull(&mut phone.store, &desktop.store);
    assert_eq!(
        desktop.store.read_model_snapshot().unwrap(),
        phone.store.read_model_snapshot().unwrap()
    );
    // A body that does not parse, or documents that do not load, change nothing.
    let before = fresh.store.read_model_snapshot().unwrap();
    let mut empty = fixture(43);
    let (documents, _) = split_snapshot(&snapshot.body);
    for bad in [&b"not a snapshot"[..], &documents[..documents.len() / 2]] {
        let err = empty
            .store
            .load_account_snapshot(&snapshot.covers, bad)
            .unwrap_err();
        assert!(!matches!(err, crate::Error::Store(_)), "{err}");
    }
    let forged = crate::LogEntry::encode_changes(&[crate::DocChanges {
        doc_id: "not-a-document".into(),
        kind: crate::model::DocKind::Person,
        bytes: b"garbage".to_vec(),
    }]);
    assert!(empty
        .store
        .load_account_snapshot(&snapshot.covers, &forged)
        .is_err());
    assert!(empty
        .store
        .read_model_snapshot()
        .unwrap()
        .iter()
        .all(|r| !r.contains("Ana")));
    assert_eq!(empty.store.cursor(phone.store.device_id()).unwrap(), 0);
    assert_eq!(fresh.store.read_model_snapshot().unwrap(), before);
}

/// The snapshot's copy of the read model, as CBOR values, and the documents before it.
fn split_snapshot(body: &[u8]) -> (Vec<u8>, ciborium::Value) {
    let (_, copy) = crate::LogEntry::decode_changes_prefix(body).unwrap();
    let documents = body[..body.len() - copy.len()].to_vec();
    (documents, ciborium::from_reader(copy).unwrap())
}

fn joined(documents: &[u8], copy: &ciborium::Value) -> Vec<u8> {
    let mut body = documents.to_vec();
    ciborium::into_writer(copy, &mut body).unwrap();
    body
}

/// Sets `field` of the copy's map, or of its `table`th table's map.
fn set_field(copy: &mut ciborium::Value, table: Option<usize>, field: &str, to: ciborium::Value) {
    let map = match table {
        None => copy,
        Some(i) => {
            let tables = copy.as_map_mut().unwrap().iter_mut();
            let (_, tables) = tables
                .into_iter()
                .find(|(k, _)| k.as_text() == Some("tables"))
                .unwrap();
            &mut tables.as_array_mut().unwrap()[i]
        }
    };
    for (k, v) in map.as_map_mut().unwrap().iter_mut() {
        if k.as_text() == Some(field) {
            *v = to;
            return;
        }
    }
    panic!("no field {field}");
}

#[test]
fn a_snapshots_copy_of_the_read_model_that_does_not_fit_is_rebuilt_from_its_documents() {
    let mut phone = fixture(50);
    let mut desk = fixture(51);
    phone
        .store
        .capture(&chat("Ana", InteractionKind::Value, "pricing for clinics"))
        .unwrap();
    pull(&mut desk.store, &phone.store);
    desk.store
        .capture(&chat("Bo", InteractionKind::Casual, "a second device"))
        .unwrap();
    pull(&mut phone.store, &desk.store);
    let snapshot = phone.store.account_snapshot().unwrap().unwrap();
    let want = phone.store.read_model_snapshot().unwrap();
    let (documents, copy) = split_snapshot(&snapshot.body);

    let mut schema = copy.clone();
    set_field(
        &mut schema,
        None,
        "schema",
        ciborium::Value::Integer(9999.into()),
    );
    let mut columns = copy.clone();
    set_field(
        &mut columns,
        Some(0),
        "columns",
        ciborium::Value::Array(vec![ciborium::Value::Text(
            "id); DROP TABLE docs; --".into(),
        )]),
    );
    // The search index's rows name a document the snapshot does not hold.
    let search_own = crate::store::read_model_tables()
        .iter()
        .position(|t| *t == "search_own")
        .unwrap();
    let mut orphan = copy.clone();
    set_field(
        &mut orphan,
        Some(search_own),
        "cells",
        ciborium::Value::Array(vec![
            ciborium::Value::Text("no-such-document".into()),
            ciborium::Value::Text("ana".into()),
        ]),
    );
    let cases: [(&str, Vec<u8>, bool); 5] = [
        ("no copy", documents.clone(), false),
        ("another schema", joined(&documents, &schema), true),
        ("other columns", joined(&documents, &columns), true),
        ("an orphan search row", joined(&documents, &orphan), true),
        ("not CBOR", [&documents[..], b"\xff\xfe"].concat(), true),
    ];
    for (seed, (case, body, unfit)) in (60..).zip(cases) {
        let mut fresh = fixture(seed);
        let loaded = fresh
            .store
            .load_account_snapshot(&snapshot.covers, &body)
            .unwrap();
        match &loaded.read_model {
            crate::ReadModelFrom::Documents { unfit_copy } => {
                assert_eq!(unfit_copy.is_some(), unfit, "{case}: {unfit_copy:?}")
            }
            other => panic!("{case}: {other:?}"),
        }
        assert_eq!(fresh.store.read_model_snapshot().unwrap(), want, "{case}");
    }
    // The untouched copy is taken as it is, and searches find what it holds.
    let mut fresh = fixture(70);
    let loaded = fresh
        .store
        .load_account_snapshot(&snapshot.covers, &joined(&documents, &copy))
        .unwrap();
    assert_eq!(loaded.read_model, crate::ReadModelFrom::Copy);
    assert_eq!(fresh.store.read_model_snapshot().unwrap(), want);
    let found = fresh.store.search_people("clinic", 10).unwrap();
    assert_eq!(
        found.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["Ana"]
    );
}
