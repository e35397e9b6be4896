//! Stories with real-sized data through a real relay: large address books and
//! backups, entries too large for the relay, copied and restored data folders.

use std::path::Path;

use aftercall_app::sync::{self, ConnState};
use aftercall_shared::commands::{CaptureDraft, InteractionEdit, PersonRef};
use aftercall_shared::interop::ImportOptions;
use aftercall_shared::model::InteractionKind;
use aftercall_shared::{DocChanges, Error, LogEntry, MAX_RECORD_CHANGES};

use crate::sync_support::{account, assert_converged, sync_all, Device, Relay};

/// A `.vcf` file of `n` contacts, each with a note of `note_bytes` and, when
/// `photo_bytes` is not zero, a base64 photo of about that size.
pub fn address_book(n: usize, note_bytes: usize, photo_bytes: usize) -> String {
    let photo = if photo_bytes == 0 {
        String::new()
    } else {
        let raw: Vec<u8> = (0..photo_bytes).map(|i| (i * 7 + 13) as u8).collect();
        let b64 = base64_encode(&raw);
        format!("PHOTO;ENCODING=b;TYPE=JPEG:{b64}\r\n")
    };
    let mut out = String::new();
    for i in 0..n {
        let note: String = words(i, note_bytes);
        out.push_str(&format!(
            "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:contact-{i}\r\nFN:Contact {i} Lastname{i}\r\n\
             N:Lastname{i};Contact {i};;;\r\nEMAIL:contact{i}@example.org\r\n\
             TEL:+44 20 7946 {:04}\r\nORG:Company {i}\r\nNOTE:{note}\r\n{photo}END:VCARD\r\n",
            i % 10_000
        ));
    }
    out
}

/// About `bytes` of words that differ from record to record.
fn words(seed: usize, bytes: usize) -> String {
    let mut out = String::with_capacity(bytes + 16);
    let mut x = seed as u64 * 2_654_435_761 + 1;
    while out.len() < bytes {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        out.push_str(&format!("w{:x} ", x >> 40));
    }
    out
}

fn base64_encode(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn import(device: &Device, file: &str) {
    let report = device
        .store()
        .import_vcards(file.as_bytes(), ImportOptions::default(), |_| {})
        .unwrap();
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
}

fn people_count(device: &Device) -> usize {
    device.store().people(100_000).unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ten_thousand_contact_import_syncs_to_another_device_and_a_new_pairing() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (devices, phrase) = account(&relay, &["phone", "laptop"]).await;
    let (phone, laptop) = (&devices[0], &devices[1]);
    // Notes of 600 bytes: 250 cards an entry made catch-up pages of about 6 MB.
    import(phone, &address_book(10_000, 600, 0));
    phone.sync().await;
    let got = laptop.sync().await;
    assert!(got.received > 0);
    assert_eq!(people_count(laptop), 10_000);

    let tablet = Device::new("tablet");
    sync::pair(tablet.dir(), &relay.url(), &phrase)
        .await
        .unwrap();
    assert_eq!(people_count(&tablet), 10_000);
    assert_converged(&[phone, laptop, &tablet]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_six_thousand_record_restore_syncs_to_the_account() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let source = Device::new("old-phone");
    import(&source, &address_book(6_000, 500, 0));
    let backup = source.store().backup().unwrap();

    let (devices, phrase) = account(&relay, &["desktop", "phone"]).await;
    let (desktop, phone) = (&devices[0], &devices[1]);
    let restored = Device::new("restored");
    assert_eq!(restored.store().restore_backup(&backup).unwrap(), 6_000);
    sync::pair(restored.dir(), &relay.url(), &phrase)
        .await
        .unwrap();
    restored.sync().await;
    sync_all(&[desktop, phone]).await;
    assert_eq!(people_count(phone), 6_000);
    let late = Device::new("late");
    sync::pair(late.dir(), &relay.url(), &phrase).await.unwrap();
    assert_converged(&[desktop, phone, &restored, &late]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_with_photos_sync_and_a_note_too_large_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (devices, _) = account(&relay, &["phone", "laptop"]).await;
    let (phone, laptop) = (&devices[0], &devices[1]);
    // 250 cards with 5 KB photos in one import batch: more than one entry holds.
    import(phone, &address_book(250, 100, 5_000));
    let head_before = phone.store().own_log_head().unwrap();

    let mut store = phone.store();
    let huge = words(1, 2_400_000);
    let draft = CaptureDraft {
        people: vec![PersonRef::Named("Ada Lovelace".into())],
        kind: InteractionKind::Value,
        talked_about: huge,
        ..Default::default()
    };
    let refused = store.capture(&draft).unwrap_err();
    assert!(matches!(refused, Error::TooLarge(_)), "{refused}");
    let message = refused.to_string();
    assert!(message.contains("at most 1.0 MB"), "{message}");
    assert_eq!(
        store.own_log_head().unwrap(),
        head_before,
        "nothing written"
    );
    assert!(store.search_people("Ada", 10).unwrap().is_empty());

    // A note just under the limit is fine, and so is everything after it.
    let big = CaptureDraft {
        talked_about: words(2, MAX_RECORD_CHANGES / 2),
        ..draft.clone()
    };
    store.capture(&big).unwrap();
    phone.capture("Grace", "after the big note");
    phone.sync().await;
    laptop.sync().await;
    assert_eq!(people_count(laptop), 252);
    assert!(laptop.knows("after the big note"));
    assert_converged(&[phone, laptop]);
    assert!(sync::read_status(phone.dir()).unwrap().pending_upload == 0);
}

/// Rewrites the own log of the store in `dir` as an older version wrote it: every
/// entry from `from` on merged into one, and the largest document's changes sent
/// four times over (as re-deliveries inside one entry), so that they alone are larger
/// than an entry may be.
fn merge_own_log_as_an_older_version_did(dir: &Path, from: u64) {
    let conn = rusqlite::Connection::open(dir.join(aftercall_app::data::STORE_FILE)).unwrap();
    let rows: Vec<(i64, Vec<u8>)> = conn
        .prepare("SELECT seq, payload FROM own_log WHERE seq >= ?1 ORDER BY seq")
        .unwrap()
        .query_map([from as i64], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut merged: Vec<DocChanges> = Vec::new();
    for (_, payload) in &rows {
        for c in LogEntry::decode_changes(payload).unwrap() {
            match merged.iter_mut().find(|m| m.doc_id == c.doc_id) {
                Some(m) => m.bytes.extend_from_slice(&c.bytes),
                None => merged.push(c),
            }
        }
    }
    let largest = merged.iter_mut().max_by_key(|c| c.bytes.len()).unwrap();
    let again = largest.bytes.clone();
    for _ in 0..3 {
        largest.bytes.extend_from_slice(&again);
    }
    assert!(
        largest.bytes.len() > 1024 * 1024,
        "{} bytes",
        largest.bytes.len()
    );
    let payload = LogEntry::encode_changes(&merged);
    assert!(payload.len() > 1024 * 1024, "{} bytes", payload.len());
    conn.execute("DELETE FROM own_log WHERE seq >= ?1", [from as i64])
        .unwrap();
    conn.execute(
        "INSERT INTO own_log (seq, payload, created_at) VALUES (?1, ?2, 0)",
        rusqlite::params![from as i64, payload],
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_holding_an_oversized_entry_recovers_without_losing_it() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (devices, _) = account(&relay, &["phone", "laptop"]).await;
    let (phone, laptop) = (&devices[0], &devices[1]);
    phone.capture("Ada", "before the big entry");
    phone.sync().await;
    let from = phone.store().own_log_head().unwrap() + 1;
    // One long conversation, and other people beside it: merged, they are over the
    // relay's entry limit, and so is the long conversation's document alone.
    let mut store = phone.store();
    store
        .capture(&CaptureDraft {
            people: vec![PersonRef::Named("Grace".into())],
            kind: InteractionKind::Value,
            talked_about: words(3, 700_000),
            ..Default::default()
        })
        .unwrap();
    for i in 0..4 {
        phone.capture(&format!("Person {i}"), &words(20 + i, 200_000));
    }
    drop(store);
    merge_own_log_as_an_older_version_did(phone.dir(), from);

    phone.capture("Ada", "after the big entry");
    phone.sync().await;
    laptop.sync().await;
    assert!(laptop.knows("after the big entry"));
    assert!(laptop.knows("Person 3"));
    assert_converged(&[phone, laptop]);
    let status = sync::read_status(phone.dir()).unwrap();
    assert_eq!(status.pending_upload, 0, "{status:?}");
}

/// Copies a data folder as `cp -a` would.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(entry.file_name()));
        } else {
            std::fs::copy(&path, to.join(entry.file_name())).unwrap();
        }
    }
}

fn edit_note(device: &Device, id: &aftercall_shared::model::InteractionId, text: &str) {
    device
        .store()
        .edit_interaction(
            id,
            &InteractionEdit {
                observations: Some(text.to_string()),
                ..Default::default()
            },
        )
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copied_data_folder_ends_with_every_capture_from_both_copies_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (devices, _) = account(&relay, &["laptop", "phone"]).await;
    let (laptop, phone) = (&devices[0], &devices[1]);
    let shared_note = laptop.capture("Ada", "the shared call");
    laptop.sync().await;
    phone.sync().await;

    // The laptop's folder is copied to a new machine; both go on writing.
    let copy = Device::new("copy");
    copy_dir(laptop.dir(), copy.dir());
    copy.capture("Grace", "written on the copy");
    edit_note(&copy, &shared_note, "the copy's observation");
    laptop.capture("Linus", "written on the original");
    edit_note(&laptop, &shared_note, "the original's observation");

    // The copy syncs first and takes the numbers the original then writes under.
    copy.sync().await;
    let report = laptop.sync().await;
    assert!(report.uploaded > 0, "the original's writes reach the relay");
    laptop.capture("Linus", "later on the original");
    sync_all(&[laptop, &copy, phone]).await;

    for text in [
        "written on the copy",
        "written on the original",
        "later on the original",
        "the copy's observation",
        "the original's observation",
    ] {
        for d in [laptop, &copy, phone] {
            assert!(d.knows(text), "{} lacks {text:?}", d.name);
        }
    }
    assert_converged(&[laptop, &copy, phone]);
    assert_ne!(
        laptop.store().device_id(),
        copy.store().device_id(),
        "the copies are two devices now"
    );
    for d in [laptop, &copy] {
        let s = sync::read_status(d.dir()).unwrap();
        assert_eq!(s.pending_upload, 0, "{}: {s:?}", d.name);
        assert_ne!(s.state, ConnState::NoAccount);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_folder_restored_from_an_old_copy_gets_back_what_it_lost_and_sends_what_it_writes() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (devices, _) = account(&relay, &["laptop", "phone"]).await;
    let (laptop, phone) = (&devices[0], &devices[1]);
    let note = laptop.capture("Ada", "before the backup");
    laptop.sync().await;
    let backup = tempfile::tempdir().unwrap();
    copy_dir(laptop.dir(), backup.path());

    laptop.capture("Grace", "after the backup");
    edit_note(laptop, &note, "edited after the backup");
    laptop.sync().await;

    // The disk dies; the folder comes back from the old copy, and the user writes.
    for entry in std::fs::read_dir(laptop.dir()).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    copy_dir(backup.path(), laptop.dir());
    laptop.capture("Linus", "after the restore");
    edit_note(laptop, &note, "edited after the restore");
    sync_all(&[laptop, phone]).await;

    for text in [
        "after the backup",
        "after the restore",
        "edited after the restore",
    ] {
        assert!(laptop.knows(text), "laptop lacks {text:?}");
        assert!(phone.knows(text), "phone lacks {text:?}");
    }
    assert_converged(&[laptop, phone]);
    assert_eq!(sync::read_status(laptop.dir()).unwrap().pending_upload, 0);
}
