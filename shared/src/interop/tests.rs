//! Stories of contacts coming in and notes going out, against a real store file.

use chrono::TimeZone;

use super::*;
use crate::env::{ManualClock, SeededEntropy};
use crate::model::{DocKind, Person};
use crate::Store;

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
}

fn store(seed: u64) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(chrono::Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap());
    let store = Store::open(
        &dir.path().join("store.sqlite"),
        Box::new(clock),
        Box::new(SeededEntropy::new(seed)),
    )
    .unwrap();
    Fixture { _dir: dir, store }
}

fn person(store: &mut Store, id: &crate::model::PersonId) -> Person {
    store
        .write(|w| w.read(id.as_str(), DocKind::Person))
        .unwrap()
}

fn only(contacts: &str) -> Contact {
    let parsed = parse_vcards(contacts.as_bytes());
    assert_eq!(parsed.contacts.len(), 1, "{:?}", parsed.skipped);
    parsed.contacts.into_iter().next().unwrap()
}

#[test]
fn an_ios_card_maps_groups_labels_and_related_names() {
    let c = only(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Okafor;Chidi;;;\r\nFN:Chidi Okafor\r\n\
         item1.TEL:+44 20 7946 0958\r\nitem1.X-ABLabel:London office\r\n\
         item2.X-ABRELATEDNAMES:Ngozi Okafor\r\nitem2.X-ABLabel:_$!<Spouse>!$_\r\n\
         BDAY;X-APPLE-OMIT-YEAR=1604:1604-03-09\r\nEND:VCARD\r\n",
    );
    assert_eq!(c.name, "Chidi Okafor");
    assert_eq!(
        c.name_parts[..2],
        ["Okafor".to_string(), "Chidi".to_string()]
    );
    assert_eq!(c.phones, ["+44 20 7946 0958"]);
    assert_eq!(c.labels["+44 20 7946 0958"], "London office");
    assert_eq!(c.related[0].name, "Ngozi Okafor");
    assert_eq!(c.related[0].relation, "spouse");
    assert_eq!(c.birthday, "--03-09");
}

#[test]
fn quoted_printable_with_soft_breaks_and_latin1_charset_decodes() {
    let c = only(
        "BEGIN:VCARD\r\nVERSION:2.1\r\nFN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:J=C3=BCrgen M=\r\n=C3=BCller\r\n\
         ORG;CHARSET=ISO-8859-1;ENCODING=QUOTED-PRINTABLE:B=E4ckerei Gr=F6=DFe\r\nTEL;CELL:+49 170 5550123\r\nEND:VCARD\r\n",
    );
    assert_eq!(c.name, "Jürgen Müller");
    assert_eq!(c.organisation, "Bäckerei Größe");
    assert_eq!(c.labels["+49 170 5550123"], "cell");
}

#[test]
fn repeated_and_lower_case_types_become_one_label() {
    let c = only(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Hana\r\nTEL;type=work;type=voice:+81 3 5555 0100\r\n\
         TEL;TYPE=HOME,FAX:+81 3 5555 0199\r\nemail;type=INTERNET;type=PREF:h@example.com\r\nEND:VCARD\r\n",
    );
    assert_eq!(c.labels["+81 3 5555 0100"], "work");
    assert_eq!(c.labels["+81 3 5555 0199"], "home,fax");
    assert!(
        !c.labels.contains_key("h@example.com"),
        "pref and internet are not labels"
    );
}

#[test]
fn a_card_without_any_name_is_skipped_with_its_line() {
    let parsed = parse_vcards(b"BEGIN:VCARD\nVERSION:3.0\nNOTE:who?\nEND:VCARD\n");
    assert!(parsed.contacts.is_empty());
    assert_eq!(parsed.skipped[0].line, 1);
    assert!(
        parsed.skipped[0].reason.contains("no name"),
        "{:?}",
        parsed.skipped
    );
}

const TWO_CARDS: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ana Ruiz\r\nEMAIL:Ana@Example.com\r\n\
    TEL:+34 600 555 010\r\nNOTE:Met at the fintech breakfast.\r\nEND:VCARD\r\n\
    BEGIN:VCARD\r\nVERSION:3.0\r\nUID:abc-123\r\nFN:Ben Ode\r\nEND:VCARD\r\n";

#[test]
fn importing_the_same_file_twice_updates_and_never_duplicates() {
    let mut f = store(1);
    let first = f
        .store
        .import_vcards(TWO_CARDS.as_bytes(), ImportOptions::default(), |_| {})
        .unwrap();
    assert_eq!((first.added(), first.updated()), (2, 0));
    let head = f.store.own_log_head().unwrap();
    let again = f
        .store
        .import_vcards(TWO_CARDS.as_bytes(), ImportOptions::default(), |_| {})
        .unwrap();
    assert_eq!(again.unchanged(), 2, "{:?}", again.cards);
    assert_eq!(f.store.people(10).unwrap().len(), 2);
    assert_eq!(f.store.own_log_head().unwrap(), head, "nothing new to sync");
}

#[test]
fn a_card_matches_by_uid_then_email_or_phone_then_name() {
    let mut f = store(2);
    f.store
        .import_vcards(TWO_CARDS.as_bytes(), ImportOptions::default(), |_| {})
        .unwrap();
    let changed = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ana Ruiz-Vega\r\nEMAIL:ana@example.com\r\nTITLE:CFO\r\nEND:VCARD\r\n\
        BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ana R.\r\nTEL:0034 600 555 010\r\nEND:VCARD\r\n\
        BEGIN:VCARD\r\nVERSION:3.0\r\nUID:abc-123\r\nFN:Benjamin Ode\r\nEND:VCARD\r\n\
        BEGIN:VCARD\r\nVERSION:3.0\r\nFN:benjamin  ODE\r\nORG:Ode Labs\r\nEND:VCARD\r\n";
    let report = f
        .store
        .import_vcards(changed.as_bytes(), ImportOptions::default(), |_| {})
        .unwrap();
    assert_eq!(report.added(), 0, "{:?}", report.cards);
    assert_eq!(report.updated(), 4);
    let ids: Vec<&str> = report.cards.iter().map(|c| c.person_id.as_str()).collect();
    assert_eq!(ids[0], ids[1], "email and phone lead to the same person");
    assert_eq!(ids[2], ids[3], "uid, then the exact name");
    let ana = person(&mut f.store, &ids[1].into());
    assert_eq!(ana.name, "Ana R.");
    assert_eq!(ana.role, "CFO");
    assert_eq!(
        ana.emails,
        ["Ana@Example.com"],
        "one email, written as first seen"
    );
    let ben = person(&mut f.store, &ids[3].into());
    assert_eq!(
        (ben.name.as_str(), ben.organisation.as_str()),
        ("benjamin ODE", "Ode Labs")
    );
}

#[test]
fn a_number_written_nationally_finds_the_person_who_has_it_with_a_country_code() {
    let mut f = store(12);
    let first = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Lena Vogt\r\nTEL:+49 30 1234567\r\nEND:VCARD\r\n\
        BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Marco Bassi\r\nTEL:06 1234 5678\r\nEND:VCARD\r\n";
    let added = f
        .store
        .import_vcards(first.as_bytes(), ImportOptions::default(), |_| {})
        .unwrap();
    assert_eq!(added.added(), 2);
    // A store written before phone tails were kept has none: an import adds them.
    f.store
        .conn()
        .execute("DELETE FROM person_keys WHERE kind = 'phone_tail'", [])
        .unwrap();
    let second = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:L. Vogt\r\nTEL:030 1234567\r\nEND:VCARD\r\n\
        BEGIN:VCARD\r\nVERSION:3.0\r\nFN:M. Bassi\r\nTEL:+39 06 1234 5678\r\nEND:VCARD\r\n\
        BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Somebody Else\r\nTEL:040 1234567\r\nEND:VCARD\r\n";
    let report = f
        .store
        .import_vcards(second.as_bytes(), ImportOptions::default(), |_| {})
        .unwrap();
    let ids: Vec<&str> = report.cards.iter().map(|c| c.person_id.as_str()).collect();
    assert_eq!(
        ids[0],
        added.cards[0].person_id.as_str(),
        "{:?}",
        report.cards
    );
    assert_eq!(
        ids[1],
        added.cards[1].person_id.as_str(),
        "{:?}",
        report.cards
    );
    assert_eq!(
        report.cards[2].outcome,
        Outcome::Added,
        "another city's number"
    );
    let lena = person(&mut f.store, &ids[0].into());
    assert_eq!(
        lena.phones,
        ["+49 30 1234567", "030 1234567"],
        "both ways of writing it are kept as written"
    );
}

#[test]
fn two_cards_sharing_a_phone_stay_two_people_and_a_second_import_changes_nothing() {
    let mut f = store(16);
    let file = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ana Ruiz\r\nTEL:+34 600 555 010\r\nEND:VCARD\r\n\
        BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ben Ode\r\nTEL:+34 600 555 010\r\nEND:VCARD\r\n";
    let first = f
        .store
        .import_vcards(file.as_bytes(), ImportOptions::default(), |_| {})
        .unwrap();
    assert_eq!(first.added(), 2, "{:?}", first.cards);
    for _ in 0..2 {
        let again = f
            .store
            .import_vcards(file.as_bytes(), ImportOptions::default(), |_| {})
            .unwrap();
        assert_eq!(again.unchanged(), 2, "{:?}", again.cards);
    }
    let ana = person(&mut f.store, &first.cards[0].person_id);
    let ben = person(&mut f.store, &first.cards[1].person_id);
    assert_eq!(
        (ana.name.as_str(), ben.name.as_str()),
        ("Ana Ruiz", "Ben Ode")
    );
}

#[test]
fn cards_with_different_uids_are_different_people_even_with_one_name() {
    let mut f = store(17);
    let file =
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a-1\r\nFN:John Smith\r\nORG:Acme\r\nEND:VCARD\r\n\
        BEGIN:VCARD\r\nVERSION:3.0\r\nUID:b-2\r\nFN:John Smith\r\nORG:Beta\r\nEND:VCARD\r\n";
    let first = f
        .store
        .import_vcards(file.as_bytes(), ImportOptions::default(), |_| {})
        .unwrap();
    assert_eq!(first.added(), 2, "{:?}", first.cards);
    let again = f
        .store
        .import_vcards(file.as_bytes(), ImportOptions::default(), |_| {})
        .unwrap();
    assert_eq!(again.unchanged(), 2, "{:?}", again.cards);
    // A card without a uid still finds a person of its name.
    let typed = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Cleo Park\r\nEND:VCARD\r\n";
    f.store
        .import_vcards(typed.as_bytes(), ImportOptions::default(), |_| {})
        .unwrap();
    let with_uid = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c-3\r\nFN:cleo park\r\nEND:VCARD\r\n";
    let report = f
        .store
        .import_vcards(with_uid.as_bytes(), ImportOptions::default(), |_| {})
        .unwrap();
    assert_eq!(report.updated(), 1, "{:?}", report.cards);
}

#[test]
fn line_breaks_are_exported_as_newlines_only() {
    let mut f = store(18);
    let file = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Dee Rao\r\nNOTE:one\\ntwo\r\nEND:VCARD\r\n";
    let report = f
        .store
        .import_vcards(file.as_bytes(), ImportOptions::default(), |_| {})
        .unwrap();
    let id = report.cards[0].person_id.clone();
    f.store
        .edit_person(
            &id,
            &crate::commands::PersonEdit {
                notes: Some("first\r\nsecond\rthird\nfourth".into()),
                role: Some("Head of\r\nSales".into()),
                ..Default::default()
            },
        )
        .unwrap();
    for version in [VcardVersion::V4, VcardVersion::V3] {
        let out = f.store.export_vcards(None, version).unwrap();
        let unfolded = out.replace("\r\n ", "");
        assert!(!unfolded.contains("\\r"), "{version:?}: {out}");
        assert!(
            unfolded.contains("NOTE:first\\nsecond\\nthird\\nfourth\r\n"),
            "{version:?}: {out}"
        );
        assert!(unfolded.contains("TITLE:Head of\\nSales\r\n"), "{out}");
    }
}

#[test]
fn an_import_goes_a_batch_at_a_time_with_progress_between() {
    let mut f = store(13);
    let file: String = (0..600)
        .map(|i| format!("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Person {i}\r\nEND:VCARD\r\n"))
        .collect();
    let mut import = VcardImport::new(file.as_bytes(), ImportOptions::default());
    assert_eq!(
        import.progress(),
        ImportProgress {
            done: 0,
            total: 600
        }
    );
    let mut steps = Vec::new();
    while !import.is_finished() {
        import.step(&mut f.store, &mut |_| {}).unwrap();
        steps.push((import.progress().done, f.store.people(1000).unwrap().len()));
    }
    assert_eq!(steps, [(250, 250), (500, 500), (600, 600)]);
    assert_eq!(
        f.store.own_log_head().unwrap(),
        3,
        "one own-log entry a batch"
    );
    assert_eq!(import.into_report().added(), 600);
}

#[test]
fn a_dry_run_reports_everything_and_writes_nothing() {
    let mut f = store(3);
    let mut seen = Vec::new();
    let report = f
        .store
        .import_vcards(TWO_CARDS.as_bytes(), ImportOptions { dry_run: true }, |p| {
            seen.push(p)
        })
        .unwrap();
    assert!(report.dry_run);
    assert_eq!(report.added(), 2);
    assert!(f.store.is_empty().unwrap());
    assert_eq!(f.store.own_log_head().unwrap(), 0);
    assert_eq!(seen.last().unwrap(), &ImportProgress { done: 2, total: 2 });
}

#[test]
fn progress_counts_every_card_including_skipped_ones() {
    let mut f = store(4);
    let file = format!("{TWO_CARDS}BEGIN:VCARD\r\nNOTE:nobody\r\nEND:VCARD\r\n");
    let mut seen = Vec::new();
    f.store
        .import_vcards(file.as_bytes(), ImportOptions::default(), |p| seen.push(p))
        .unwrap();
    assert_eq!(seen.first().unwrap(), &ImportProgress { done: 1, total: 3 });
    assert_eq!(seen.last().unwrap(), &ImportProgress { done: 3, total: 3 });
}

#[test]
fn exported_vcards_import_back_without_changes() {
    let mut f = store(5);
    f.store
        .import_vcards(TWO_CARDS.as_bytes(), ImportOptions::default(), |_| {})
        .unwrap();
    for version in [VcardVersion::V4, VcardVersion::V3] {
        let before = f.store.read_model_snapshot().unwrap();
        let exported = f.store.export_vcards(None, version).unwrap();
        let report = f
            .store
            .import_vcards(exported.as_bytes(), ImportOptions::default(), |_| {})
            .unwrap();
        assert_eq!(
            report.unchanged(),
            2,
            "{version:?}: {:?}\n{exported}",
            report.cards
        );
        assert_eq!(f.store.read_model_snapshot().unwrap(), before);
    }
}

#[test]
fn a_backup_restores_into_an_empty_store_and_is_refused_elsewhere() {
    let mut f = store(6);
    f.store
        .import_vcards(TWO_CARDS.as_bytes(), ImportOptions::default(), |_| {})
        .unwrap();
    let backup = Backup::from_json(&f.store.backup().unwrap().to_json()).unwrap();
    let mut fresh = store(7);
    assert_eq!(fresh.store.restore_backup(&backup).unwrap(), 2);
    assert_eq!(
        fresh.store.read_model_snapshot().unwrap(),
        f.store.read_model_snapshot().unwrap()
    );
    assert!(
        fresh.store.own_log_head().unwrap() > 0,
        "restored records sync"
    );
    let err = fresh.store.restore_backup(&backup).unwrap_err().to_string();
    assert!(err.contains("already holds data"), "{err}");
}

#[test]
fn a_restore_that_fails_part_way_leaves_the_store_empty() {
    let mut f = store(14);
    let file: String = (0..450)
        .map(|i| format!("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Person {i}\r\nEND:VCARD\r\n"))
        .collect();
    f.store
        .import_vcards(file.as_bytes(), ImportOptions::default(), |_| {})
        .unwrap();
    let whole = f.store.backup().unwrap();

    // The last record names an id that is already a person, as an interaction:
    // writing it fails after hundreds of records have been written.
    let mut broken = whole.clone();
    let mut clash = broken.documents[0].clone();
    clash.kind = DocKind::Interaction;
    broken.documents.push(clash);
    let mut fresh = store(15);
    let err = fresh.store.restore_backup(&broken).unwrap_err().to_string();
    assert!(err.contains("is of kind person, not interaction"), "{err}");
    assert!(fresh.store.is_empty().unwrap(), "nothing of it is kept");
    assert_eq!(fresh.store.own_log_head().unwrap(), 0);

    // So the same store takes the good backup afterwards, in entries small enough to sync.
    assert_eq!(fresh.store.restore_backup(&whole).unwrap(), 450);
    assert_eq!(fresh.store.own_log_head().unwrap(), 3);
    assert_eq!(
        fresh.store.read_model_snapshot().unwrap(),
        f.store.read_model_snapshot().unwrap()
    );
}

/// Ana with a photo on her and a pasted thread on her conversation; returns the
/// photo's bytes.
fn with_attachments(f: &mut Fixture) -> Vec<u8> {
    use crate::model::AttachmentOwner;
    let saved = f
        .store
        .capture(&crate::commands::CaptureDraft {
            people: vec![crate::commands::PersonRef::Named("Ana Lopez".into())],
            talked_about: "the deck".into(),
            ..Default::default()
        })
        .unwrap();
    let photo: Vec<u8> = (0..400_000u32).map(|i| (i * 13 % 256) as u8).collect();
    f.store
        .attach(
            &AttachmentOwner::Person(saved.people[0].id.clone()),
            "Business card.JPG",
            &"image/jpeg".parse().unwrap(),
            &photo,
        )
        .unwrap();
    f.store
        .attach_text(
            &AttachmentOwner::Conversation(saved.interaction_id),
            "From: ana@lopez.es",
        )
        .unwrap();
    photo
}

#[test]
fn a_backup_brings_attachments_back_byte_for_byte() {
    let mut f = store(16);
    let photo = with_attachments(&mut f);
    let text = f.store.backup().unwrap().to_json();
    let backup = Backup::from_json(&text).unwrap();
    assert_eq!(backup.blobs.len(), 2);
    let mut fresh = store(17);
    fresh.store.restore_backup(&backup).unwrap();
    assert_eq!(
        fresh.store.read_model_snapshot().unwrap(),
        f.store.read_model_snapshot().unwrap()
    );
    let ana = fresh.store.find_person("Ana Lopez").unwrap();
    let rows = fresh.store.person_attachments(&ana).unwrap();
    assert_eq!(rows.len(), 2);
    let card = rows.iter().find(|a| a.name == "Business card.JPG").unwrap();
    assert!(card.downloaded);
    assert_eq!(fresh.store.blob(&card.blob).unwrap(), Some(photo));
    // Restored content is for this device to upload.
    assert_eq!(fresh.store.blobs_to_upload().unwrap().len(), 2);

    // Content that does not match its hash is refused, and nothing is written.
    let mut tampered = backup.clone();
    tampered.blobs[0].content = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        b"something else",
    );
    let mut other = store(18);
    let err = other.store.restore_backup(&tampered).unwrap_err();
    assert!(matches!(err, crate::Error::Decode(_)), "{err}");
    assert!(other.store.is_empty().unwrap());

    // A backup made before attachments (no `blobs`) still reads.
    let mut old: serde_json::Value = serde_json::from_str(&text).unwrap();
    old.as_object_mut().unwrap().remove("blobs");
    let old = Backup::from_json(&old.to_string()).unwrap();
    assert!(old.blobs.is_empty());
    let mut older = store(19);
    older.store.restore_backup(&old).unwrap();
    let rows = older.store.person_attachments(&ana).unwrap();
    assert!(
        rows.iter().all(|a| !a.downloaded),
        "listed, not downloaded yet"
    );
}

#[test]
fn the_markdown_diary_links_attachments_written_beside_it() {
    let mut f = store(20);
    let photo = with_attachments(&mut f);
    let files = f
        .store
        .export_diary_markdown(MarkdownLayout::PerPerson)
        .unwrap();
    let text = &files[0].text;
    let linked = f.store.markdown_attachments().unwrap();
    assert_eq!(linked.len(), 2);
    for (path, row) in &linked {
        assert!(path.starts_with("attachments/"), "{path}");
        assert!(
            path.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/-.".contains(&b)),
            "{path}"
        );
        assert!(text.contains(&format!("[{}]({path})", row.name)), "{text}");
    }
    let (card_path, card) = linked
        .iter()
        .find(|(_, a)| a.name.ends_with("JPG"))
        .unwrap();
    assert!(card_path.ends_with("-business-card.jpg"), "{card_path}");
    assert_eq!(f.store.blob(&card.blob).unwrap(), Some(photo));
}

/// A benchmark, not a timed test: `cargo test -p aftercall-shared --release
/// import_benchmark -- --ignored --nocapture` prints how long 5,000 contacts take
/// (the target is under 2 seconds).
#[test]
#[ignore = "benchmark: run in release with --ignored --nocapture"]
fn import_benchmark_five_thousand_contacts() {
    let mut file = String::new();
    for i in 0..5000 {
        file.push_str(&format!(
            "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Family{i};Given{i};;;\r\nFN:Given{i} Family{i}\r\n\
             ORG:Company {c}\r\nEMAIL;TYPE=WORK:person{i}@company{c}.example\r\n\
             TEL;TYPE=CELL:+1 555 {i:07}\r\nADR;TYPE=WORK:;;{i} Main Street;Springfield;;{i:05};USA\r\n\
             NOTE:Contact number {i}.\r\nEND:VCARD\r\n",
            c = i % 97
        ));
    }
    let started = std::time::Instant::now();
    let parsed = parse_vcards(file.as_bytes());
    assert_eq!(parsed.contacts.len(), 5000);
    let parsing = started.elapsed();
    let mut f = store(8);
    let started = std::time::Instant::now();
    let report = f
        .store
        .import_vcards(file.as_bytes(), ImportOptions::default(), |_| {})
        .unwrap();
    let first = started.elapsed();
    let started = std::time::Instant::now();
    let again = f
        .store
        .import_vcards(file.as_bytes(), ImportOptions::default(), |_| {})
        .unwrap();
    let second = started.elapsed();
    assert_eq!((report.added(), again.unchanged()), (5000, 5000));
    eprintln!(
        "5000 contacts: parsing alone {parsing:?}, first import {first:?}, re-import {second:?}"
    );
}
