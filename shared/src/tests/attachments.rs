//! Attachments: content kept on a person or a conversation, its reference in the
//! documents, its bytes as a local blob; two devices exchanging logs.

use super::merge::pull;
use super::*;
use crate::model::{AttachmentKind, AttachmentOwner, BlobHash, MediaType, PersonId};
use crate::queries::AttachmentRow;
use crate::Error;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// A capture with `name`; returns the person and the conversation as owners.
fn met(f: &mut Fixture, name: &str) -> (AttachmentOwner, AttachmentOwner) {
    f.clock.advance(chrono::Duration::hours(1));
    let saved = f
        .store
        .capture(&chat(name, InteractionKind::Value, "pricing"))
        .unwrap();
    (
        AttachmentOwner::Person(saved.people[0].id.clone()),
        AttachmentOwner::Conversation(saved.interaction_id),
    )
}

fn person(owner: &AttachmentOwner) -> &PersonId {
    match owner {
        AttachmentOwner::Person(p) => p,
        AttachmentOwner::Conversation(_) => panic!("not a person"),
    }
}

/// Content of `n` bytes that differs with `seed`.
fn content(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn jpeg() -> MediaType {
    "image/jpeg".parse().unwrap()
}

fn names(rows: &[AttachmentRow]) -> Vec<&str> {
    rows.iter().map(|a| a.name.as_str()).collect()
}

fn blob_count(store: &Store) -> i64 {
    store
        .conn()
        .query_row("SELECT COUNT(*) FROM blobs", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn an_attachment_keeps_its_bytes_and_shows_in_the_diary() {
    let mut f = fixture(900);
    let (ana, call) = met(&mut f, "Ana Lopez");
    // Larger than one chunk, so it is stored in several rows.
    let photo = content(600 * 1024 + 7, 1);
    let card = f
        .store
        .attach(&ana, "dir/card.jpg", &jpeg(), &photo)
        .unwrap();
    assert_eq!(card.name, "card.jpg", "a path is cut to the file's name");
    assert_eq!(card.kind, AttachmentKind::Image);
    assert_eq!(card.size, photo.len() as u64);
    assert_eq!(card.blob, BlobHash::of(&photo));
    assert!(card.downloaded);
    f.clock.advance(chrono::Duration::minutes(5));
    let thread = f
        .store
        .attach_text(&call, "From: ana@lopez.es\n\nThanks for the call!")
        .unwrap();
    assert_eq!(thread.name, "Pasted text 2026-11-23.txt");
    assert_eq!(thread.kind, AttachmentKind::Text);

    let opened = f.store.open_attachment(&card.id).unwrap();
    assert_eq!(opened.content.as_deref(), Some(photo.as_slice()));
    let diary = f.store.diary(person(&ana)).unwrap();
    assert_eq!(names(&diary.person.attachments), ["card.jpg"]);
    assert_eq!(
        names(&diary.interactions[0].attachments),
        ["Pasted text 2026-11-23.txt"]
    );
    assert_eq!(
        names(&f.store.person_attachments(person(&ana)).unwrap()),
        ["card.jpg", "Pasted text 2026-11-23.txt"]
    );
    // By a prefix of its id, as the command line takes it.
    let prefix = crate::model::AttachmentId::from(&card.id.as_str()[..8]);
    assert_eq!(f.store.attachment(&prefix).unwrap().id, card.id);

    // The document holds the reference only.
    let doc_bytes: i64 = f
        .store
        .conn()
        .query_row(
            "SELECT length(bytes) FROM docs WHERE id = ?1",
            [person(&ana).as_str()],
            |r| r.get(0),
        )
        .unwrap();
    assert!(doc_bytes < 4_000, "{doc_bytes}");

    f.store.remove_attachment(&card.id).unwrap();
    assert_eq!(
        names(&f.store.person_attachments(person(&ana)).unwrap()),
        ["Pasted text 2026-11-23.txt"]
    );
    assert_eq!(f.store.blob(&card.blob).unwrap(), None, "its content went");
    assert!(matches!(
        f.store.open_attachment(&card.id),
        Err(Error::NotFound(_))
    ));
}

#[test]
fn bad_attachments_are_refused_with_a_reason() {
    let mut f = fixture(901);
    let (ana, _) = met(&mut f, "Ana Lopez");
    assert!(matches!(
        f.store.attach(&ana, "  ", &jpeg(), b"x"),
        Err(Error::Invalid(_))
    ));
    assert!(matches!(
        f.store.attach_text(&ana, " \n "),
        Err(Error::Invalid(_))
    ));
    let nobody = AttachmentOwner::Person(PersonId::from("00000000000000000000000000000000"));
    assert!(matches!(
        f.store
            .attach(&nobody, "a.txt", &MediaType::text_plain(), b"x"),
        Err(Error::NotFound(_))
    ));
    assert_eq!(blob_count(&f.store), 0, "nothing was kept");
}

#[test]
fn the_same_file_attached_twice_is_stored_once_and_kept_while_referenced() {
    let mut f = fixture(902);
    let (ana, call) = met(&mut f, "Ana Lopez");
    let deck = content(300_000, 2);
    let pdf: MediaType = "application/pdf".parse().unwrap();
    let first = f.store.attach(&ana, "deck.pdf", &pdf, &deck).unwrap();
    let second = f.store.attach(&call, "deck.pdf", &pdf, &deck).unwrap();
    assert_ne!(first.id, second.id);
    assert_eq!(first.blob, second.blob);
    assert_eq!(blob_count(&f.store), 1);

    f.store.remove_attachment(&first.id).unwrap();
    assert_eq!(f.store.collect_blobs().unwrap(), 0);
    assert_eq!(
        f.store.blob(&second.blob).unwrap().as_deref(),
        Some(&deck[..])
    );
    f.store.remove_attachment(&second.id).unwrap();
    assert_eq!(blob_count(&f.store), 0);
}

#[test]
fn a_deleted_record_keeps_its_attachments_for_a_restore() {
    let mut f = fixture(903);
    let (ana, call) = met(&mut f, "Ana Lopez");
    let att = f.store.attach_text(&call, "the thread").unwrap();
    let AttachmentOwner::Conversation(id) = &call else {
        unreachable!()
    };
    f.store.delete(id).unwrap();
    assert!(f.store.person_attachments(person(&ana)).unwrap().is_empty());
    f.store.checkpoint().unwrap();
    f.store.collect_blobs().unwrap();
    f.store.restore(id).unwrap();
    let back = f.store.open_attachment(&att.id).unwrap();
    assert_eq!(back.content.as_deref(), Some(&b"the thread"[..]));
}

#[test]
fn an_attachment_from_another_device_is_missing_until_its_blob_arrives() {
    let mut phone = fixture(904);
    let mut desktop = fixture(905);
    let (ana, _) = met(&mut phone, "Ana Lopez");
    let small = content(10_000, 3);
    let large = content(3_000_000, 4);
    let s = phone
        .store
        .attach(&ana, "small.png", &"image/png".parse().unwrap(), &small)
        .unwrap();
    phone.clock.advance(chrono::Duration::seconds(1));
    let l = phone
        .store
        .attach(&ana, "large.jpg", &jpeg(), &large)
        .unwrap();
    assert_eq!(
        phone.store.blobs_to_upload().unwrap(),
        [(s.blob, 10_000), (l.blob, 3_000_000)]
    );
    phone.store.mark_blob_uploaded(&s.blob).unwrap();
    assert_eq!(
        phone.store.blobs_to_upload().unwrap(),
        [(l.blob, 3_000_000)]
    );

    pull(&mut desktop.store, &phone.store);
    let rows = desktop.store.person_attachments(person(&ana)).unwrap();
    assert_eq!(names(&rows), ["small.png", "large.jpg"]);
    assert!(rows.iter().all(|a| !a.downloaded));
    // Small ones are fetched at once, large ones once opened.
    assert_eq!(
        desktop.store.blobs_missing(1_000_000).unwrap(),
        [(s.blob, 10_000)]
    );
    let opened = desktop.store.open_attachment(&l.id).unwrap();
    assert_eq!(opened.content, None);
    assert!(!opened.row.downloaded);
    assert_eq!(
        desktop.store.blobs_missing(1_000_000).unwrap(),
        [(l.blob, 3_000_000), (s.blob, 10_000)]
    );

    // A download must match its hash.
    assert!(matches!(
        desktop.store.put_blob(&s.blob, &large),
        Err(Error::Decode(_))
    ));
    desktop.store.put_blob(&s.blob, &small).unwrap();
    desktop.store.put_blob(&l.blob, &large).unwrap();
    assert!(desktop.store.blobs_missing(u64::MAX).unwrap().is_empty());
    assert!(
        desktop.store.blobs_to_upload().unwrap().is_empty(),
        "downloads are on the relay"
    );
    assert_eq!(
        desktop
            .store
            .open_attachment(&l.id)
            .unwrap()
            .content
            .as_deref(),
        Some(&large[..])
    );
    assert_eq!(
        phone.store.read_model_snapshot().unwrap(),
        desktop.store.read_model_snapshot().unwrap()
    );
}

#[test]
fn a_removal_on_one_device_and_an_addition_on_another_both_survive() {
    let mut phone = fixture(906);
    let mut desktop = fixture(907);
    let (ana, call) = met(&mut phone, "Ana Lopez");
    let old = phone
        .store
        .attach(&call, "old.jpg", &jpeg(), &content(5_000, 5))
        .unwrap();
    pull(&mut desktop.store, &phone.store);
    let old_bytes = content(5_000, 5);
    desktop.store.put_blob(&old.blob, &old_bytes).unwrap();

    // Offline: the desktop removes the old photo while the phone adds a new one to
    // the same conversation.
    desktop.store.remove_attachment(&old.id).unwrap();
    let new_bytes = content(7_000, 6);
    let new = phone
        .store
        .attach(&call, "new.jpg", &jpeg(), &new_bytes)
        .unwrap();

    pull(&mut desktop.store, &phone.store);
    pull(&mut phone.store, &desktop.store);
    for store in [&phone.store, &desktop.store] {
        let rows = store.person_attachments(person(&ana)).unwrap();
        assert_eq!(names(&rows), ["new.jpg"]);
        // The removed photo's content is gone on both, by the removal arriving too.
        assert_eq!(store.blob(&old.blob).unwrap(), None);
    }
    assert_eq!(
        phone.store.blob(&new.blob).unwrap().as_deref(),
        Some(&new_bytes[..])
    );
    assert_eq!(
        desktop.store.blobs_missing(u64::MAX).unwrap(),
        [(new.blob, 7_000)]
    );
    assert_eq!(
        phone.store.read_model_snapshot().unwrap(),
        desktop.store.read_model_snapshot().unwrap()
    );
}

#[test]
fn collection_never_takes_content_a_record_still_refers_to() {
    let mut phone = fixture(908);
    let mut desktop = fixture(909);
    let (ana, _) = met(&mut phone, "Ana Lopez");
    let bytes = content(20_000, 7);
    let att = phone.store.attach(&ana, "a.jpg", &jpeg(), &bytes).unwrap();
    pull(&mut desktop.store, &phone.store);
    desktop.store.put_blob(&att.blob, &bytes).unwrap();
    // A blob that arrived but that no record refers to (yet or any more) goes.
    let stray = content(1_000, 8);
    desktop
        .store
        .put_blob(&BlobHash::of(&stray), &stray)
        .unwrap();
    assert_eq!(desktop.store.collect_blobs().unwrap(), 1);
    assert_eq!(phone.store.collect_blobs().unwrap(), 0);
    desktop.store.rebuild_read_model().unwrap();
    assert_eq!(desktop.store.collect_blobs().unwrap(), 0);
    assert_eq!(
        desktop.store.blob(&att.blob).unwrap().as_deref(),
        Some(&bytes[..])
    );

    // Removed on the phone: the desktop drops its copy when the removal arrives.
    phone.store.remove_attachment(&att.id).unwrap();
    pull(&mut desktop.store, &phone.store);
    assert_eq!(blob_count(&desktop.store), 0);
    assert_eq!(blob_count(&phone.store), 0);
}

#[test]
fn a_merged_away_persons_attachments_show_under_the_person_kept() {
    let mut f = fixture(910);
    let (robert, _) = met(&mut f, "Robert Stone");
    let (bob, bob_call) = met(&mut f, "Bob Stone");
    f.store.attach_text(&robert, "Robert's card").unwrap();
    f.clock.advance(chrono::Duration::minutes(1));
    f.store.attach_text(&bob, "Bob's card").unwrap();
    f.clock.advance(chrono::Duration::minutes(1));
    f.store.attach_text(&bob_call, "Bob's thread").unwrap();
    f.store.merge_people(person(&robert), person(&bob)).unwrap();
    let diary = f.store.diary(person(&bob)).unwrap();
    assert_eq!(diary.person.id, *person(&robert));
    assert_eq!(diary.person.attachments.len(), 2);
    assert_eq!(
        f.store.person_attachments(person(&robert)).unwrap().len(),
        3
    );
    // Attaching to the merged-away person attaches to the person kept.
    let row = f.store.attach_text(&bob, "later").unwrap();
    assert_eq!(row.owner, robert);
}
