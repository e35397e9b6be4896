//! Merging two people who are one, on one device and across devices, and the
//! duplicates suggested for it.

use super::merge::pull;
use super::*;
use crate::commands::PersonEdit;
use crate::model::PersonId;
use crate::queries::DuplicateReason;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// Captures a chat with `name` an hour after the last one; returns the person's id.
fn met(f: &mut Fixture, name: &str, talked: &str) -> PersonId {
    f.clock.advance(chrono::Duration::hours(1));
    f.store
        .capture(&chat(name, InteractionKind::Casual, talked))
        .unwrap()
        .people[0]
        .id
        .clone()
}

fn contact(store: &mut Store, id: &PersonId, emails: &[&str], phones: &[&str]) {
    store
        .edit_person(
            id,
            &PersonEdit {
                emails: Some(emails.iter().map(|e| e.to_string()).collect()),
                phones: Some(phones.iter().map(|p| p.to_string()).collect()),
                ..Default::default()
            },
        )
        .unwrap();
}

/// What a person's page shows of their conversations, in order.
fn talked(store: &Store, id: &PersonId) -> Vec<String> {
    store
        .diary(id)
        .unwrap()
        .interactions
        .into_iter()
        .map(|i| i.talked_about)
        .collect()
}

fn names(store: &Store) -> Vec<String> {
    let mut names: Vec<String> = store
        .people(100)
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    names.sort();
    names
}

#[test]
fn merging_keeps_every_conversation_referral_email_and_phone_of_both() {
    let mut f = fixture(400);
    let robert = met(&mut f, "Robert Stone", "pricing");
    let mut draft = chat("Bob Stone", InteractionKind::Value, "hiring");
    draft.referrals.push(referral("Cleo", true));
    let bob = f.store.capture(&draft).unwrap().people[0].id.clone();
    f.clock.advance(chrono::Duration::hours(1));
    met(&mut f, "Bob Stone", "coffee");
    contact(
        &mut f.store,
        &robert,
        &["robert@stone.io"],
        &["+41 79 111 22 33"],
    );
    contact(
        &mut f.store,
        &bob,
        &["bob@gmail.com"],
        &["+41 79 444 55 66"],
    );

    let merged = f.store.merge_people(&robert, &bob).unwrap();
    assert_eq!((merged.kept, merged.merged), (robert.clone(), bob.clone()));

    let diary = f.store.diary(&robert).unwrap();
    assert_eq!(diary.person.name, "Robert Stone");
    assert_eq!(
        diary.person.emails,
        ["robert@stone.io", "bob@gmail.com"],
        "both people's emails"
    );
    assert_eq!(
        diary.person.phones,
        ["+41 79 111 22 33", "+41 79 444 55 66"]
    );
    assert_eq!(talked(&f.store, &robert), ["pricing", "hiring", "coffee"]);
    assert_eq!(diary.referrals_given.len(), 1, "Bob's referral of Cleo");
    assert_eq!(diary.referrals_given[0].name, "Cleo");
    assert_eq!(names(&f.store), ["Robert Stone"], "one person left");
    let listed = &f.store.people(10).unwrap()[0];
    assert_eq!(listed.conversations, 3);

    // Merging them again, or a person with themselves, is refused with a reason.
    let again = f.store.merge_people(&robert, &bob).unwrap_err();
    assert!(again.to_string().contains("already one person"), "{again}");

    // The read model rebuilt from the documents is the same.
    let before = f.store.read_model_snapshot().unwrap();
    f.store.rebuild_read_model().unwrap();
    assert_eq!(f.store.read_model_snapshot().unwrap(), before);
}

#[test]
fn a_merged_away_person_still_leads_to_the_person_kept() {
    let mut f = fixture(410);
    let robert = met(&mut f, "Robert Stone", "pricing");
    let bob = met(&mut f, "Bob Stone", "hiring");
    f.store.merge_people(&robert, &bob).unwrap();

    // The diary by the old id is the kept person's.
    let diary = f.store.diary(&bob).unwrap();
    assert_eq!(diary.person.id, robert);
    assert_eq!(diary.interactions.len(), 2);
    // Typing the old name finds the kept person.
    let typed = f.store.people_named_like("Bob", 5).unwrap();
    assert_eq!(typed.len(), 1);
    assert_eq!(typed[0].id, robert);
    // A capture naming the old id lands with the kept person.
    f.clock.advance(chrono::Duration::hours(1));
    let saved = f
        .store
        .capture(&CaptureDraft {
            people: vec![PersonRef::Existing(bob.clone())],
            talked_about: "roadmap".into(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(saved.people[0].id, robert);
    assert_eq!(talked(&f.store, &robert), ["pricing", "hiring", "roadmap"]);
    // A search for what only the old record says finds the kept person.
    let found = f.store.search_people("Bob", 5).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].id, robert);
    // An edit by the old id is the kept person's.
    f.store
        .edit_person(
            &bob,
            &PersonEdit {
                role: Some("CFO".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(f.store.diary(&robert).unwrap().person.role, "CFO");
    // Finding by id prefix or name leads there too.
    assert_eq!(
        f.store
            .find_person_by_id_or_name(&bob.as_str()[..8])
            .unwrap(),
        robert
    );
}

#[test]
fn a_conversation_added_offline_to_the_merged_away_person_shows_under_the_kept_one() {
    let mut phone = fixture(420);
    let mut desktop = fixture(421);
    let robert = met(&mut phone, "Robert Stone", "pricing");
    let bob = met(&mut phone, "Bob Stone", "hiring");
    pull(&mut desktop.store, &phone.store);

    // The desktop merges while the phone, offline, talks to Bob again.
    desktop.store.merge_people(&robert, &bob).unwrap();
    phone.clock.advance(chrono::Duration::hours(1));
    phone
        .store
        .capture(&CaptureDraft {
            people: vec![PersonRef::Existing(bob.clone())],
            talked_about: "coffee".into(),
            ..Default::default()
        })
        .unwrap();

    pull(&mut desktop.store, &phone.store);
    pull(&mut phone.store, &desktop.store);
    for store in [&phone.store, &desktop.store] {
        assert_eq!(names(store), ["Robert Stone"]);
        assert_eq!(talked(store, &robert), ["pricing", "hiring", "coffee"]);
        assert_eq!(store.people(5).unwrap()[0].conversations, 3);
    }
    assert_eq!(
        phone.store.read_model_snapshot().unwrap(),
        desktop.store.read_model_snapshot().unwrap()
    );
}

#[test]
fn two_devices_merging_one_pair_in_opposite_directions_end_with_one_person() {
    let mut phone = fixture(430);
    let mut desktop = fixture(431);
    let ana = met(&mut phone, "Ana Lopez", "pricing");
    contact(&mut phone.store, &ana, &["ana@lopez.es"], &[]);
    let anna = met(&mut phone, "Anna López", "hiring");
    contact(&mut phone.store, &anna, &[], &["+34 600 111 222"]);
    pull(&mut desktop.store, &phone.store);

    phone.store.merge_people(&ana, &anna).unwrap();
    desktop.store.merge_people(&anna, &ana).unwrap();
    pull(&mut desktop.store, &phone.store);
    pull(&mut phone.store, &desktop.store);

    // The smaller id is kept, on both, with both people's details and conversations.
    let kept = std::cmp::min(&ana, &anna);
    for store in [&phone.store, &desktop.store] {
        let people = store.people(10).unwrap();
        assert_eq!(people.len(), 1, "{people:?}");
        assert_eq!(&people[0].id, kept);
        assert_eq!(people[0].conversations, 2);
        let diary = store.diary(&ana).unwrap();
        assert_eq!(diary.person.emails, ["ana@lopez.es"]);
        assert_eq!(diary.person.phones, ["+34 600 111 222"]);
        assert_eq!(store.diary(&anna).unwrap().person.id, *kept);
    }
    assert_eq!(
        phone.store.read_model_snapshot().unwrap(),
        desktop.store.read_model_snapshot().unwrap()
    );
}

#[test]
fn likely_duplicates_are_suggested_by_email_phone_or_folded_name() {
    let mut f = fixture(440);
    let ana = met(&mut f, "Ana Lopez", "pricing");
    let ana_work = met(&mut f, "A. Lopez", "hiring");
    contact(&mut f.store, &ana, &["Ana@Lopez.es"], &[]);
    contact(&mut f.store, &ana_work, &["ana@lopez.es"], &[]);
    let jose = met(&mut f, "José Ruiz", "coffee");
    let jose2 = met(&mut f, "jose  ruiz", "roadmap");
    let cleo = met(&mut f, "Cleo Park", "grant");
    let cleo2 = met(&mut f, "C. Park", "intro");
    contact(&mut f.store, &cleo, &[], &["+49 30 1234567"]);
    contact(&mut f.store, &cleo2, &[], &["+49 (30) 123-4567"]);
    met(&mut f, "Dan Brown", "nothing shared");

    let all = f.store.duplicates(10).unwrap();
    let pairs: Vec<(DuplicateReason, String, String)> = all
        .iter()
        .map(|d| (d.reason, d.keep.name.clone(), d.other.name.clone()))
        .collect();
    assert_eq!(
        pairs,
        [
            (
                DuplicateReason::SameEmail,
                "Ana Lopez".into(),
                "A. Lopez".into()
            ),
            (
                DuplicateReason::SamePhone,
                "Cleo Park".into(),
                "C. Park".into()
            ),
            (
                DuplicateReason::SameName,
                "José Ruiz".into(),
                "jose ruiz".into()
            ),
        ]
    );
    let of_jose = f.store.duplicates_of(&jose2).unwrap();
    assert_eq!(of_jose.len(), 1);
    assert_eq!((&of_jose[0].keep.id, &of_jose[0].other.id), (&jose, &jose2));

    // Once merged, a pair is no longer suggested.
    f.store.merge_people(&jose, &jose2).unwrap();
    assert!(f.store.duplicates_of(&jose).unwrap().is_empty());
    assert_eq!(f.store.duplicates(10).unwrap().len(), 2);
}

/// A small address book, each card with its uid.
fn address_book(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:book-{i}\r\nFN:Contact {i}\r\nEMAIL:c{i}@example.com\r\nEND:VCARD\r\n"
            )
        })
        .collect()
}

#[test]
fn one_address_book_imported_on_two_devices_before_they_sync_gives_each_contact_once() {
    let mut phone = fixture(450);
    let mut desktop = fixture(451);
    let book = address_book(5);
    let options = crate::interop::ImportOptions::default();
    phone
        .store
        .import_vcards(book.as_bytes(), options, |_| {})
        .unwrap();
    desktop
        .store
        .import_vcards(book.as_bytes(), options, |_| {})
        .unwrap();
    // The phone talks to one of its copies before syncing.
    let mine = phone.store.find_person("Contact 3").unwrap();
    phone
        .store
        .capture(&CaptureDraft {
            people: vec![PersonRef::Existing(mine)],
            talked_about: "met at the fair".into(),
            ..Default::default()
        })
        .unwrap();

    pull(&mut desktop.store, &phone.store);
    pull(&mut phone.store, &desktop.store);
    for store in [&mut phone.store, &mut desktop.store] {
        assert_eq!(store.people(100).unwrap().len(), 5);
        let contact = store.find_person("Contact 3").unwrap();
        assert_eq!(talked(store, &contact), ["met at the fair"]);
        assert!(store.duplicates(10).unwrap().is_empty());
        let again = store
            .import_vcards(book.as_bytes(), options, |_| {})
            .unwrap();
        assert_eq!(again.unchanged(), 5, "{}", again.summary());
        assert_eq!(store.people(100).unwrap().len(), 5);
    }
    assert_eq!(
        phone.store.read_model_snapshot().unwrap(),
        desktop.store.read_model_snapshot().unwrap()
    );
}
