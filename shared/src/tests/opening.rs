//! Stories about opening a store that cannot be written or cannot be read.

use super::{chat, fixture, monday};
use crate::env::SeededEntropy;
use crate::model::InteractionKind;
use crate::Store;

#[test]
fn a_store_opened_read_only_shows_everything_and_refuses_every_write() {
    let f = fixture(1);
    let path = f.dir.path().join("store.sqlite");
    let mut store = f.store;
    store
        .capture(&chat("Ana", InteractionKind::Value, "pricing for clinics"))
        .unwrap();
    drop(store);
    let before = std::fs::read(&path).unwrap();

    let mut store = Store::open_read_only(
        &path,
        Box::new(f.clock.clone()),
        Box::new(SeededEntropy::new(2)),
    )
    .unwrap();
    assert_eq!(store.people(10).unwrap()[0].name, "Ana");
    assert_eq!(store.search_people("clinics", 10).unwrap().len(), 1);
    store.today(monday().date_naive().into()).unwrap();

    let err = store
        .capture(&chat("Bob", InteractionKind::Casual, "not saved"))
        .unwrap_err();
    assert!(err.is_read_only(), "{err:?}");
    assert!(
        err.to_string().contains("the data folder is read-only"),
        "{err}"
    );
    let err = store.set_setting("sync.relay", Some("ws://x")).unwrap_err();
    assert!(err.is_read_only(), "{err:?}");
    assert_eq!(store.people(10).unwrap().len(), 1);
    drop(store);
    assert_eq!(std::fs::read(&path).unwrap(), before, "nothing was written");
}

#[test]
fn a_file_that_is_not_a_store_is_damaged_not_a_full_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite");
    std::fs::write(&path, vec![0x5a; 4096]).unwrap();
    for opened in [
        Store::open(
            &path,
            Box::new(crate::env::ManualClock::at(monday())),
            Box::new(SeededEntropy::new(1)),
        ),
        Store::open_read_only(
            &path,
            Box::new(crate::env::ManualClock::at(monday())),
            Box::new(SeededEntropy::new(1)),
        ),
    ] {
        let err = opened.unwrap_err();
        assert!(err.is_damaged(), "{err:?}");
        assert!(!err.is_read_only());
        let said = err.to_string();
        assert!(
            said.contains("damaged") && said.contains("recovery phrase"),
            "{said}"
        );
    }
    assert_eq!(std::fs::read(&path).unwrap(), vec![0x5a; 4096]);
}

#[test]
fn a_write_through_a_second_connection_follows_a_rehome_made_by_the_first() {
    let f = super::fixture(70);
    let mut sync_side = super::open_store(f.dir.path(), &f.clock, 71);
    let mut app_side = f.store;
    let first = app_side
        .capture(&super::chat(
            "Ana",
            crate::model::InteractionKind::Value,
            "before",
        ))
        .unwrap();
    let head = sync_side.own_log_head().unwrap();
    let new_device = sync_side.rehome(head, &[]).unwrap();
    assert_ne!(app_side.device_id(), new_device, "not yet noticed");
    let second = app_side
        .capture(&super::chat(
            "Ana",
            crate::model::InteractionKind::Value,
            "after",
        ))
        .unwrap();
    assert_eq!(app_side.device_id(), new_device);
    let actor_of_last_change = |id: &str| {
        let bytes: Vec<u8> = app_side
            .conn()
            .query_row("SELECT bytes FROM docs WHERE id = ?1", [id], |r| r.get(0))
            .unwrap();
        let mut doc = automerge::AutoCommit::load(&bytes).unwrap();
        let changes = doc.get_changes(&[]);
        changes.last().unwrap().actor_id().clone()
    };
    assert_eq!(
        actor_of_last_change(second.interaction_id.as_str()),
        crate::store::actor_for(&new_device),
        "the new conversation is written under the new device's actor"
    );
    assert_ne!(
        actor_of_last_change(first.interaction_id.as_str()),
        actor_of_last_change(second.interaction_id.as_str())
    );
}
