//! Stories: people merged on one device, and one address book imported on two, meet
//! through a real relay and end as one person each on every device.

use aftercall_shared::commands::{CaptureDraft, PersonRef};
use aftercall_shared::interop::ImportOptions;

use crate::sync_support::{account, assert_converged, sync_all, Relay};

const ADDRESS_BOOK: &[u8] = include_bytes!("../fixtures/contacts/address_book_50.vcf");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_book_imported_on_two_devices_before_they_sync_gives_fifty_people() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (devices, _) = account(&relay, &["phone", "laptop"]).await;
    let (phone, laptop) = (&devices[0], &devices[1]);
    for d in [phone, laptop] {
        let report = d
            .store()
            .import_vcards(ADDRESS_BOOK, ImportOptions::default(), |_| {})
            .unwrap();
        assert_eq!(report.added(), 50, "{}", report.summary());
    }
    // Each device talks to its own copy of one contact before they sync.
    for (d, talked) in [
        (phone, "pricing, on the phone"),
        (laptop, "hiring, on the laptop"),
    ] {
        let mut store = d.store();
        let ana = store.find_person("Ana Okafor").unwrap();
        store
            .capture(&CaptureDraft {
                people: vec![PersonRef::Existing(ana)],
                talked_about: talked.into(),
                ..Default::default()
            })
            .unwrap();
    }

    sync_all(&[phone, laptop]).await;
    assert_converged(&[phone, laptop]);
    for d in [phone, laptop] {
        let mut store = d.store();
        assert_eq!(store.people(1_000).unwrap().len(), 50, "on the {}", d.name);
        let ana = store.find_person("Ana Okafor").unwrap();
        let diary = store.diary(&ana).unwrap();
        let mut talked: Vec<String> = diary
            .interactions
            .iter()
            .map(|i| i.talked_about.clone())
            .collect();
        talked.sort();
        assert_eq!(talked, ["hiring, on the laptop", "pricing, on the phone"]);
        assert_eq!(diary.person.emails, ["ana.okafor0@example.com"]);
        // No pair of one uid is offered as a duplicate: they are one already.
        let uid_pairs = store
            .duplicates(100)
            .unwrap()
            .into_iter()
            .filter(|p| p.keep.name != "Farah Haddad" && p.keep.name != "Uma Okafor")
            .count();
        assert_eq!(uid_pairs, 0);
        let again = store
            .import_vcards(ADDRESS_BOOK, ImportOptions::default(), |_| {})
            .unwrap();
        assert_eq!(
            (again.added(), again.updated(), again.unchanged()),
            (0, 0, 50),
            "{}",
            again.summary()
        );
    }
    // The re-imports wrote nothing, so the devices still agree after another round.
    sync_all(&[phone, laptop]).await;
    assert_converged(&[phone, laptop]);
    assert_eq!(phone.store().people(1_000).unwrap().len(), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_on_one_device_and_a_conversation_with_the_merged_away_person_on_another_meet() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (devices, _) = account(&relay, &["phone", "laptop"]).await;
    let (phone, laptop) = (&devices[0], &devices[1]);
    phone.capture("Robert Stone", "pricing");
    phone.capture("Bob Stone", "hiring");
    sync_all(&[phone, laptop]).await;

    let (robert, bob) = {
        let store = laptop.store();
        (
            store.find_person("Robert Stone").unwrap(),
            store.find_person("Bob Stone").unwrap(),
        )
    };
    laptop.store().merge_people(&robert, &bob).unwrap();
    phone
        .store()
        .capture(&CaptureDraft {
            people: vec![PersonRef::Existing(bob.clone())],
            talked_about: "coffee, offline".into(),
            ..Default::default()
        })
        .unwrap();

    sync_all(&[phone, laptop]).await;
    assert_converged(&[phone, laptop]);
    for d in [phone, laptop] {
        let store = d.store();
        let people = store.people(10).unwrap();
        assert_eq!(people.len(), 1, "on the {}: {people:?}", d.name);
        assert_eq!(people[0].id, robert);
        assert_eq!(people[0].conversations, 3);
        assert_eq!(store.diary(&bob).unwrap().interactions.len(), 3);
    }
}
