//! Stories of LinkedIn and Google Contacts CSV exports coming in.

use chrono::TimeZone;

use super::*;
use crate::env::{ManualClock, SeededEntropy};
use crate::Store;

const LINKEDIN: &[u8] = include_bytes!("../../../tests/fixtures/contacts/linkedin_connections.csv");
const GOOGLE: &[u8] = include_bytes!("../../../tests/fixtures/contacts/google_contacts.csv");
const GOOGLE_2024: &[u8] =
    include_bytes!("../../../tests/fixtures/contacts/google_contacts_2024.csv");

fn store(dir: &std::path::Path) -> Store {
    let clock = ManualClock::at(chrono::Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap());
    Store::open(
        &dir.join("store.sqlite"),
        Box::new(clock),
        Box::new(SeededEntropy::new(70)),
    )
    .unwrap()
}

fn import(store: &mut Store, bytes: &[u8]) -> ImportReport {
    store
        .import_vcards(bytes, ImportOptions::default(), |_| {})
        .unwrap()
}

#[test]
fn linkedin_connections_are_read_past_their_notes_with_quoted_fields_and_a_bad_row() {
    assert_eq!(FileKind::of(LINKEDIN), FileKind::Csv);
    let parsed = parse_contacts(LINKEDIN);
    let names: Vec<&str> = parsed.contacts.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Ana Lima",
            "Bruno Moreau",
            "Chiara Bianchi",
            "Dmitri Tanaka",
            "Élodie Garnier"
        ]
    );
    let lines: Vec<usize> = parsed.contacts.iter().map(|c| c.line).collect();
    assert_eq!(
        lines,
        [5, 6, 7, 10, 11],
        "each row's first line in the file"
    );
    assert_eq!(parsed.skipped.len(), 1, "{:?}", parsed.skipped);
    assert_eq!(parsed.skipped[0].line, 9);
    assert!(parsed.skipped[0].whole_card);
    assert!(
        parsed.skipped[0]
            .reason
            .contains("9 fields where the header has 7"),
        "{:?}",
        parsed.skipped[0]
    );
    let bruno = &parsed.contacts[1];
    assert_eq!(bruno.organisation, "Kestrel Capital, Geneva");
    assert_eq!(bruno.urls, ["https://www.linkedin.com/in/brunomoreau"]);
    assert!(bruno.emails.is_empty());
    let chiara = &parsed.contacts[2];
    assert_eq!(chiara.role, "Founder, CEO\nBoard member, Basel Fintech");
    assert_eq!(
        chiara.name_parts[..2],
        ["Bianchi".to_string(), "Chiara".into()]
    );
    assert_eq!(parsed.contacts[0].emails, ["ana.lima@helio.example"]);
}

#[test]
fn a_linkedin_export_imported_again_changes_nothing_and_an_updated_one_updates() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store(dir.path());
    let first = import(&mut store, LINKEDIN);
    assert_eq!(
        (
            first.added(),
            first.updated(),
            first.unchanged(),
            first.cards_skipped()
        ),
        (5, 0, 0, 1),
        "{}",
        first.summary()
    );
    let again = import(&mut store, LINKEDIN);
    assert_eq!(
        (again.added(), again.updated(), again.unchanged()),
        (0, 0, 5),
        "{}",
        again.summary()
    );
    // A later export: Bruno changed jobs and shared his email; the profile address
    // (written another way) still finds him.
    let later = String::from_utf8(LINKEDIN.to_vec()).unwrap().replace(
        "Bruno,Moreau,https://www.linkedin.com/in/brunomoreau,,\"Kestrel Capital, Geneva\",Partner",
        "Bruno,Moreau,http://linkedin.com/in/BrunoMoreau/,bruno@orbit.example,Orbit,COO",
    );
    let updated = import(&mut store, later.as_bytes());
    assert_eq!(
        (updated.added(), updated.updated(), updated.unchanged()),
        (0, 1, 4),
        "{}",
        updated.summary()
    );
    let bruno = store.find_person("Bruno Moreau").unwrap();
    let diary = store.diary(&bruno).unwrap();
    assert_eq!(diary.person.organisation, "Orbit");
    assert_eq!(diary.person.emails, ["bruno@orbit.example"]);
    assert_eq!(store.people(100).unwrap().len(), 5);
}

#[test]
fn google_contacts_in_either_header_style_are_read_with_every_email_phone_and_address() {
    assert_eq!(FileKind::of(GOOGLE), FileKind::Csv);
    let parsed = parse_contacts(GOOGLE);
    let names: Vec<&str> = parsed.contacts.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Rosa Diaz",
            "Sven Lindqvist",
            "Dr. Wen Zhao",
            "orders@atelier-nord.example"
        ]
    );
    assert_eq!(parsed.skipped.len(), 1, "{:?}", parsed.skipped);
    assert_eq!(
        parsed.skipped[0].line, 7,
        "the short row, after a 3-line one"
    );
    let rosa = &parsed.contacts[0];
    assert_eq!(rosa.line, 2);
    assert_eq!(
        rosa.emails,
        ["rosa@diaz.example", "rosa.diaz@gmail.example"]
    );
    assert_eq!(rosa.labels["rosa@diaz.example"], "work");
    assert_eq!(rosa.labels["rosa.diaz@gmail.example"], "home");
    assert_eq!(rosa.phones, ["+34 600 123 456"]);
    assert_eq!(rosa.organisation, "Diaz & Hijos, S.L.");
    assert_eq!(rosa.role, "COO");
    assert_eq!(rosa.birthday, "1986-04-12");
    assert_eq!(rosa.note, "Intro from Ana, wants a pilot in Q3");
    assert_eq!(rosa.categories, ["Clients"]);
    assert_eq!(rosa.addresses[0].street, "Calle Mayor 5");
    assert_eq!(rosa.addresses[0].locality, "Madrid");
    assert_eq!(rosa.addresses[0].label, "work");
    assert_eq!(rosa.urls, ["https://diaz.example"]);
    let sven = &parsed.contacts[1];
    assert_eq!(sven.line, 5);
    assert_eq!(sven.phones, ["+46 8 123 456 78", "+46 70 123 45 67"]);
    assert_eq!(
        sven.note,
        "Met at Slush, said: \"call me after the summer\""
    );
    assert!(
        parsed.contacts[2].categories.is_empty(),
        "starred is no group"
    );

    let newer = parse_contacts(GOOGLE_2024);
    assert!(newer.skipped.is_empty(), "{:?}", newer.skipped);
    let priya = &newer.contacts[0];
    assert_eq!(priya.name, "Priya Nair");
    assert_eq!(priya.emails, ["priya@brightline.example"]);
    assert_eq!(priya.phones, ["+44 7700 900123"]);
    assert_eq!(
        (priya.organisation.as_str(), priya.role.as_str()),
        ("Brightline Health", "CTO")
    );
    assert_eq!(priya.categories, ["Conference 2025"]);
    let oskar = &newer.contacts[1];
    assert_eq!(oskar.name, "Oskar J. Novak");
    assert_eq!(oskar.note, "Knows everyone in Prague's\nhealth-tech scene");
}

#[test]
fn a_google_export_imported_again_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store(dir.path());
    let first = import(&mut store, GOOGLE);
    assert_eq!(
        (first.added(), first.cards_skipped()),
        (4, 1),
        "{}",
        first.summary()
    );
    let again = import(&mut store, GOOGLE);
    assert_eq!(
        (again.added(), again.updated(), again.unchanged()),
        (0, 0, 4),
        "{}",
        again.summary()
    );
    let newer = import(&mut store, GOOGLE_2024);
    assert_eq!(newer.added(), 2, "{}", newer.summary());
    assert_eq!(import(&mut store, GOOGLE_2024).unchanged(), 2);
    assert_eq!(store.people(100).unwrap().len(), 6);
}
