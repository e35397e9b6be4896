//! Contacts in from real phones and address books; vCard, calendar, CSV, Markdown
//! and JSON backups out; restore. Fixture files are under `tests/fixtures/vcard/`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use aftercall_shared::commands::{CaptureDraft, PersonRef};
use aftercall_shared::env::{ManualClock, SeededEntropy};
use aftercall_shared::interop::{
    parse_vcards, Contact, ImportOptions, ImportReport, Outcome, VcardVersion, CALENDAR_PRODID,
    CSV_COLUMNS, MAX_PHOTO_BYTES,
};
use aftercall_shared::model::{InteractionKind, PostalAddress, RelatedName};
use aftercall_shared::Store;
use chrono::{NaiveDate, TimeZone, Utc};

use crate::support::{aftercall, fails, ok};

fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/vcard")
        .join(name)
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).unwrap()
}

fn contacts(name: &str) -> Vec<Contact> {
    let parsed = parse_vcards(&fixture(name));
    assert!(
        parsed.skipped.is_empty(),
        "{name}: nothing should be skipped: {:?}",
        parsed.skipped
    );
    parsed.contacts
}

fn the_contact(name: &str) -> Contact {
    let mut all = contacts(name);
    assert_eq!(all.len(), 1, "{name}");
    all.remove(0)
}

struct Device {
    _dir: tempfile::TempDir,
    store: Store,
}

fn device(seed: u64) -> Device {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap());
    let store = Store::open(
        &dir.path().join("aftercall.sqlite"),
        Box::new(clock),
        Box::new(SeededEntropy::new(seed)),
    )
    .unwrap();
    Device { _dir: dir, store }
}

fn import(store: &mut Store, bytes: &[u8]) -> ImportReport {
    store
        .import_vcards(bytes, ImportOptions::default(), |_| {})
        .unwrap()
}

fn labels(c: &Contact) -> Vec<(&str, &str)> {
    c.labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

#[test]
fn an_iphone_card_keeps_custom_labels_related_names_and_a_birthday_without_year() {
    let c = the_contact("ios.vcf");
    assert_eq!(c.name, "Dr. Chidi Emeka Okafor");
    assert_eq!(c.name_parts, ["Okafor", "Chidi", "Emeka", "Dr.", ""]);
    assert_eq!(c.organisation, "Lagos Ventures, Partnerships");
    assert_eq!(c.role, "Partner");
    assert_eq!(
        c.emails,
        ["chidi@lagosventures.example", "c.okafor@work.example"]
    );
    assert_eq!(c.phones, ["+234 803 555 0101", "+44 20 7946 0958"]);
    assert_eq!(
        labels(&c),
        [
            ("+234 803 555 0101", "cell"),
            ("+44 20 7946 0958", "London office"),
            ("c.okafor@work.example", "work"),
            ("chidi@lagosventures.example", "other"),
            ("https://lagosventures.example", "homepage"),
        ]
    );
    assert_eq!(
        c.addresses,
        [PostalAddress {
            label: "home".into(),
            street: "12 Admiralty Way".into(),
            locality: "Lekki".into(),
            region: "Lagos".into(),
            postcode: "105102".into(),
            country: "Nigeria".into(),
            ..Default::default()
        }]
    );
    assert_eq!(c.urls, ["https://lagosventures.example"]);
    assert_eq!(
        c.related,
        [
            RelatedName {
                name: "Ngozi Okafor".into(),
                relation: "spouse".into()
            },
            RelatedName {
                name: "Tunde Bello".into(),
                relation: "Chief of staff".into()
            },
        ]
    );
    assert_eq!(c.birthday, "--03-09");
    assert_eq!(c.note, "Met at the fintech breakfast.\nLikes early calls.");
    assert!(
        c.extra
            .iter()
            .any(|l| l.contains("X-SOCIALPROFILE")
                && l.contains("linkedin.com/in/chidi-okafor-example")),
        "unknown properties are kept: {:?}",
        c.extra
    );
    assert!(
        c.extra.iter().any(|l| l.starts_with("item3.X-ABADR")),
        "{:?}",
        c.extra
    );
}

#[test]
fn an_android_2_1_card_decodes_quoted_printable_in_utf8_and_latin1() {
    let c = the_contact("android_2_1.vcf");
    assert_eq!(c.name, "Jürgen Müller");
    assert_eq!(
        c.name_parts[..2],
        ["Müller".to_string(), "Jürgen".to_string()]
    );
    assert_eq!(
        c.organisation, "Bäckerei Größe",
        "ISO-8859-1 quoted-printable"
    );
    assert_eq!(
        c.note,
        "Empfohlen von Jürgen; spricht über Fördermittel und Gründerzuschüsse in München und Köln.",
        "soft line breaks join without a trace"
    );
    assert_eq!(c.phones, ["+49 170 5550123", "030 5550199"]);
    assert_eq!(
        labels(&c),
        [
            ("+49 170 5550123", "cell"),
            ("030 5550199", "home"),
            ("juergen.mueller@example.de", "home")
        ]
    );
    assert_eq!(
        c.related,
        [
            RelatedName {
                name: "Anna Müller".into(),
                relation: "spouse".into()
            },
            RelatedName {
                name: "Karl Brandt".into(),
                relation: "Mentor".into()
            },
        ]
    );
    assert!(
        c.extra
            .iter()
            .any(|l| l.contains("nickname") && l.contains("Jürgi")),
        "{:?}",
        c.extra
    );
    assert!(
        c.photo.starts_with("data:image/jpeg;base64,/9j/"),
        "{}",
        &c.photo
    );
}

#[test]
fn a_file_in_windows_1252_reads_as_the_characters_it_meant() {
    let bytes = fixture("android_windows_1252.vcf");
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "the fixture is not UTF-8"
    );
    let c = the_contact("android_windows_1252.vcf");
    assert_eq!(c.name, "Amélie Lefèvre");
    assert_eq!(c.organisation, "Café “Les Deux”");
    assert_eq!(labels(&c), [("+33 1 55 55 01 23", "work")]);
}

#[test]
fn a_google_card_keeps_its_photo_address_whole_despite_the_doubled_fold() {
    let c = the_contact("google.vcf");
    assert_eq!(c.name, "Priya Raman");
    assert_eq!(c.organisation, "Raman Consulting");
    assert_eq!(
        c.photo,
        "https://lh3.googleusercontent.com/contacts/AG6tpzGxExampleExampleExampleExampleExample0123456789abcdefghijk=s96-c"
    );
    assert_eq!(c.urls, ["https://raman-consulting.example"]);
    assert_eq!(
        labels(&c),
        [
            ("(415) 555-0134", "cell"),
            ("https://raman-consulting.example", "Blog"),
            ("priya.raman@gmail.example", "home"),
        ]
    );
    assert_eq!(c.categories, ["myContacts", "Mentors"]);
}

#[test]
fn an_outlook_card_reads_its_quoted_printable_note_and_work_address() {
    let c = the_contact("outlook.vcf");
    assert_eq!(c.name, "Eleanor Whitfield");
    assert_eq!(c.organisation, "Whitfield & Co., Advisory");
    assert_eq!(c.role, "Managing Director");
    assert_eq!(c.emails, ["eleanor@whitfield.example"]);
    assert_eq!(c.phones, ["(020) 7946 0321", "07700 900123"]);
    assert_eq!(c.addresses.len(), 1);
    assert_eq!(c.addresses[0].label, "work");
    assert_eq!(c.addresses[0].street, "1 Poultry");
    assert_eq!(c.addresses[0].postcode, "EC2R 8EJ");
    assert_eq!(
        c.note.replace("\r\n", "\n"),
        "Board contacts in retail.\nSend the Q3 deck before Friday."
    );
    assert!(
        c.extra.iter().any(|l| l.starts_with("X-MS-OL-DESIGN")),
        "{:?}",
        c.extra
    );
}

#[test]
fn a_thunderbird_vcard_4_keeps_its_uid_and_full_birthday() {
    let c = the_contact("thunderbird.vcf");
    assert_eq!(c.uid, "5c7f1a2e-8d3b-4c1e-9f2a-0b6d4e8a1c37");
    assert_eq!(c.name, "Sofia Lindqvist");
    assert_eq!(c.birthday, "1985-07-04");
    assert_eq!(c.phones, ["+46 70 555 01 42", "+46-8-555-0100"]);
    assert_eq!(c.labels["+46-8-555-0100"], "work");
    assert_eq!(c.labels["s.lindqvist@nordic-fund.example"], "work");
    assert_eq!(c.addresses[0].locality, "Stockholm");
    assert_eq!(c.note, "Prefers email. Intro via Karin.");
}

#[test]
fn folded_lines_unfold_and_escaped_characters_come_back() {
    let c = the_contact("folding_and_escapes.vcf");
    assert_eq!(
        c.note,
        "This note is long enough to be folded across several lines by the exporter, \
         and the folds fall in the middle of words so unfolding must join them exactly.\n\
         Second line, with comma; semicolon and \\ backslash."
    );
    assert_eq!(c.organisation, "Smith, Jones & Partners, Sales; EMEA");
    assert_eq!(c.role, "Head of Sales");
}

#[test]
fn repeated_and_lower_case_types_become_labels() {
    let c = the_contact("types.vcf");
    assert_eq!(
        labels(&c),
        [
            ("+81 3 5555 0100", "work"),
            ("+81 3 5555 0199", "home,fax"),
            ("+81 90 5555 0123", "cell"),
            ("hana.k@home.example", "home"),
            ("hana@kobayashi.example", "work"),
        ]
    );
}

#[test]
fn birthdays_with_and_without_a_year() {
    let all = contacts("birthday_without_year.vcf");
    let got: Vec<(&str, &str)> = all
        .iter()
        .map(|c| (c.name.as_str(), c.birthday.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("Luca Bianchi", "--04-12"),
            ("Giulia Rossi", "--11-30"),
            ("Marco Verdi", "1979-02-28")
        ]
    );
}

#[test]
fn base64_photos_read_with_or_without_the_trailing_blank_line_and_large_ones_are_left_out() {
    let parsed = parse_vcards(&fixture("photos.vcf"));
    assert!(parsed.skipped.is_empty(), "{:?}", parsed.skipped);
    let c = &parsed.contacts;
    assert_eq!(c.len(), 4);
    assert!(c[0].photo.starts_with("data:image/jpeg;base64,/9j/"));
    assert_eq!(c[1].photo, c[0].photo, "2.1 photo ended by a blank line");
    assert_eq!(c[2].photo, c[0].photo, "2.1 photo without the blank line");
    assert_eq!(
        c[1].phones,
        ["+1 555 0100 222"],
        "the line after the blank line is read"
    );
    assert_eq!(c[2].phones, ["+1 555 0100 333"]);
    assert!(c[3].photo.is_empty());
    assert_eq!(parsed.notes.len(), 1);
    assert!(
        parsed.notes[0].contains("Photo Too Large")
            && parsed.notes[0].contains(&format!("{} KiB", MAX_PHOTO_BYTES / 1024)),
        "{:?}",
        parsed.notes
    );
}

#[test]
fn cards_missing_a_name_use_what_they_have() {
    let got: Vec<String> = contacts("missing_names.vcf")
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(
        got,
        [
            "Omar Haddad",
            "Ines Carvalho",
            "Acme Robotics",
            "no.name@example.com"
        ]
    );
    let c = the_contact("missing_version.vcf");
    assert_eq!(c.name, "Tomasz Nowak");
    assert_eq!(c.emails, ["tomasz@nowak.example"]);
}

#[test]
fn broken_cards_and_lines_are_skipped_with_line_numbers_and_every_good_card_imports() {
    let mut d = device(1);
    let report = import(&mut d.store, &fixture("broken.vcf"));
    let names: Vec<&str> = report.cards.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["Good Before", "Has A Bad Line", "Good After"]);
    let skipped: Vec<(usize, bool)> = report
        .skipped
        .iter()
        .map(|s| (s.line, s.whole_card))
        .collect();
    assert_eq!(
        skipped,
        [(1, false), (7, true), (14, false), (17, true)],
        "{:#?}",
        report.skipped
    );
    assert!(report.skipped[1].reason.contains("END:VCARD"));
    assert!(report.skipped[2].reason.contains("no ':'"));
    assert!(report.skipped[3].reason.contains("no name"));
    assert_eq!(
        report.summary(),
        "3 added, 0 updated, 0 unchanged, 2 cards skipped, 2 lines skipped"
    );
}

#[test]
fn a_shift_jis_card_reads_its_kanji_even_where_a_byte_looks_like_a_backslash() {
    let bytes = fixture("shift_jis.vcf");
    assert!(
        bytes.windows(2).any(|w| w == [0x94, b'\\']),
        "the fixture holds 能 (0x94 0x5C)"
    );
    let all = contacts("shift_jis.vcf");
    assert_eq!(all.len(), 2);
    let c = &all[0];
    assert_eq!(c.name, "能登 宗介");
    assert_eq!(c.name_parts, ["能登", "宗介", "", "", ""]);
    assert_eq!(c.organisation, "表参道ソフト, 技能");
    assert_eq!(c.role, "課長");
    assert_eq!(c.phones, ["090-1234-5678"]);
    assert_eq!(c.emails, ["sosuke.noto@example.jp"]);
    assert_eq!(
        c.addresses,
        [PostalAddress {
            label: "home".into(),
            extended: "メゾン表".into(),
            street: "南青山1-2-3".into(),
            locality: "港区".into(),
            region: "東京都".into(),
            postcode: "107-0062".into(),
            country: "日本".into(),
            ..Default::default()
        }]
    );
    assert_eq!(
        c.note, "表参道の展示会で紹介された。ソフト開発と技能検定の話。",
        "quoted-printable in Shift_JIS, broken across lines inside a character"
    );
    assert!(
        c.extra.iter().any(|l| l.contains("ﾉﾄ;ｿｳｽｹ")),
        "the reading of the name is kept: {:?}",
        c.extra
    );
    let c = &all[1];
    assert_eq!(
        c.name, "十河 能子",
        "quoted-printable with the 0x5C byte left as it is"
    );
    assert_eq!(c.name_parts[..2], ["十河".to_string(), "能子".to_string()]);
}

#[test]
fn each_property_is_read_in_the_charset_it_names() {
    let bytes = fixture("charsets.vcf");
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "the fixture is not UTF-8"
    );
    let all = contacts("charsets.vcf");
    let got: Vec<(&str, &str)> = all
        .iter()
        .map(|c| (c.name.as_str(), c.organisation.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("王小明", "北京科技有限公司"),
            ("許功明", "功夫科技, 研發部"),
            ("김민준", "서울전자"),
            ("Иван Петров", ""),
            ("Łukasz Żółkiewski", ""),
            ("Γιώργος Παπαδόπουλος", "Ελληνικά Λιμάνια"),
            ("Renée Dubois", ""),
            ("Zoë Ångström", "Café Nord"),
        ]
    );
    assert_eq!(
        all[0].name_parts[..2],
        ["王".to_string(), "小明".to_string()]
    );
    assert_eq!(
        all[3].name_parts[..2],
        ["Петров".to_string(), "Иван".to_string()]
    );
    assert_eq!(all[3].note, "Встретились в Москве, говорили о грантах.");
    assert_eq!(all[4].addresses[0].locality, "Łódź");
    assert_eq!(
        all[6].note, "Budget 5000 € par an",
        "ISO-8859-15 has the euro"
    );
}

#[test]
fn a_line_folded_inside_a_utf8_character_unfolds_to_the_character() {
    let c = the_contact("folded_utf8.vcf");
    assert_eq!(c.name, "Αικατερίνη Μ Παπαδοπούλου-Σταματοπούλου");
    assert_eq!(
        c.name_parts,
        ["Παπαδοπούλου-Σταματοπούλου", "Αικατερίνη", "", "", ""]
    );
    assert_eq!(
        c.note,
        "Συναντηθήκαμε στη Θεσσαλονίκη· 東京の展示会でも会った。Θέλει εισαγωγή στην ομάδα πληρωμών."
    );
    assert_eq!(c.uid, "pas-id-6612A3F500000001");
    assert_eq!(c.phones, ["+30 69 5555 0109"]);
    assert!(
        c.extra
            .iter()
            .any(|l| l == "X-EVOLUTION-FILE-AS:Παπαδοπούλου-Σταματοπούλου\\, Αικατερίνη"),
        "{:?}",
        c.extra
    );
}

#[test]
fn a_bare_quoted_printable_parameter_decodes_with_its_soft_breaks() {
    let c = the_contact("bare_quoted_printable.vcf");
    assert_eq!(c.name, "Małgorzata Łęcka");
    assert_eq!(
        c.name_parts[..2],
        ["Łęcka".to_string(), "Małgorzata".to_string()]
    );
    assert_eq!(c.addresses[0].street, "Straße 1");
    assert_eq!(c.addresses[0].locality, "München");
    assert_eq!(c.addresses[0].label, "home");
    assert_eq!(
        c.note,
        "Met at the Warsaw fintech meetup; wants an intro to the payments team.\nCall after the 15th."
    );
    assert_eq!(c.phones, ["+48 22 555 0104"]);
    assert!(c.extra.is_empty(), "{:?}", c.extra);
}

#[test]
fn a_soft_break_before_a_blank_line_ends_the_value_there() {
    let all = contacts("qp_soft_break_blank_line.vcf");
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].note, "Met at the Dublin\ninvestor dinner.");
    assert_eq!(
        all[0].phones,
        ["+353 87 555 0105"],
        "the next property is read"
    );
    assert_eq!(all[0].emails, ["siobhan@brennan.example"]);
    assert_eq!(all[1].name, "Tadhg Murphy");
    assert_eq!(all[1].note, "Wants the deck before Pádraig's");
    assert_eq!(all[1].phones, ["+353 1 555 0106"]);
}

#[test]
fn a_property_folded_before_its_colon_reads_whole() {
    let c = the_contact("folded_before_colon.vcf");
    assert_eq!(c.emails, ["ana@lima.example"]);
    assert_eq!(c.phones, ["+55 11 95555 0107"]);
    assert_eq!(
        labels(&c),
        [
            ("+55 11 95555 0107", "cell"),
            ("https://lima.example", "Studio")
        ]
    );
    assert_eq!(c.note, "Seen at the São Paulo meetup.");
}

#[test]
fn every_organisation_and_title_of_a_card_is_kept() {
    let c = the_contact("two_organisations.vcf");
    assert_eq!(
        c.organisation,
        "Acme Robotics, R&D; Open Hardware Foundation"
    );
    assert_eq!(c.role, "CTO; Board member");
    let mut d = device(7);
    import(&mut d.store, &fixture("two_organisations.vcf"));
    let exported = d.store.export_vcards(None, VcardVersion::V4).unwrap();
    let again = import(&mut d.store, exported.as_bytes());
    assert_eq!(again.unchanged(), 1, "{exported}");
}

#[test]
fn colleagues_sharing_an_office_number_stay_two_people() {
    let mut d = device(8);
    let first = import(&mut d.store, &fixture("shared_phone.vcf"));
    assert_eq!(first.added(), 2, "{:?}", first.cards);
    let again = import(&mut d.store, &fixture("shared_phone.vcf"));
    assert_eq!(again.unchanged(), 2, "{:?}", again.cards);
    let names: Vec<String> = d
        .store
        .people(10)
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["Eleanor Whitfield", "Kwame Osei"]);
    for (a, b) in first.cards.iter().zip(&again.cards) {
        assert_eq!(a.person_id, b.person_id, "{}", a.name);
    }
}

const ALL_FIXTURES: [&str; 21] = [
    "ios.vcf",
    "android_2_1.vcf",
    "android_windows_1252.vcf",
    "google.vcf",
    "outlook.vcf",
    "thunderbird.vcf",
    "folding_and_escapes.vcf",
    "types.vcf",
    "birthday_without_year.vcf",
    "photos.vcf",
    "missing_names.vcf",
    "missing_version.vcf",
    "broken.vcf",
    "shift_jis.vcf",
    "charsets.vcf",
    "folded_utf8.vcf",
    "bare_quoted_printable.vcf",
    "qp_soft_break_blank_line.vcf",
    "folded_before_colon.vcf",
    "two_organisations.vcf",
    "shared_phone.vcf",
];

#[test]
fn import_then_export_then_import_again_changes_nothing() {
    for version in [VcardVersion::V4, VcardVersion::V3] {
        let mut d = device(2);
        for name in ALL_FIXTURES {
            import(&mut d.store, &fixture(name));
        }
        let people = d.store.people(1000).unwrap().len();
        let before = d.store.read_model_snapshot().unwrap();
        let log = d.store.own_log_head().unwrap();
        let exported = d.store.export_vcards(None, version).unwrap();
        let report = import(&mut d.store, exported.as_bytes());
        let changed: Vec<&str> = report
            .cards
            .iter()
            .filter(|c| c.outcome != Outcome::Unchanged)
            .map(|c| c.name.as_str())
            .collect();
        assert!(
            changed.is_empty(),
            "{version:?} changed {changed:?}\n{exported}"
        );
        assert_eq!(report.cards.len(), people);
        assert!(report.skipped.is_empty(), "{:?}", report.skipped);
        assert_eq!(d.store.read_model_snapshot().unwrap(), before);
        assert_eq!(d.store.own_log_head().unwrap(), log, "nothing to sync");

        // Into a fresh store, the export gives the same people again.
        let mut other = device(3);
        import(&mut other.store, exported.as_bytes());
        assert_eq!(
            other.store.export_vcards(None, version).unwrap().len(),
            exported.len()
        );
    }
}

/// A file like a phone's full address book, made up here.
fn generated_address_book(n: usize) -> String {
    let mut out = String::new();
    for i in 0..n {
        out.push_str(&format!(
            "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Family{i};Given{i};;;\r\nFN:Given{i} Family{i}\r\n\
             ORG:Company {c}\r\nTITLE:Role {r}\r\nEMAIL;TYPE=INTERNET;TYPE=WORK:person{i}@company{c}.example\r\n\
             TEL;TYPE=CELL:+1 555 {i:07}\r\nADR;TYPE=WORK:;;{i} Main Street;Springfield;;{z:05};USA\r\n\
             NOTE:Contact number {i}\\, imported for the story.\r\nEND:VCARD\r\n",
            c = i % 97,
            r = i % 13,
            z = i % 99999,
        ));
    }
    out
}

#[test]
fn five_thousand_contacts_import_at_once_and_again_without_duplicates() {
    let file = generated_address_book(5000);
    let mut d = device(4);
    let mut last = None;
    let started = Instant::now();
    let report = d
        .store
        .import_vcards(file.as_bytes(), ImportOptions::default(), |p| {
            last = Some(p)
        })
        .unwrap();
    let took = started.elapsed();
    eprintln!("imported 5000 contacts in {took:?}");
    assert_eq!(report.added(), 5000);
    let last = last.unwrap();
    assert_eq!((last.done, last.total), (5000, 5000));
    assert_eq!(d.store.people(10_000).unwrap().len(), 5000);
    let again = import(&mut d.store, file.as_bytes());
    assert_eq!(again.unchanged(), 5000);
    assert_eq!(d.store.people(10_000).unwrap().len(), 5000);
}

fn capture(
    store: &mut Store,
    who: &str,
    follow_up: Option<NaiveDate>,
    thank_you: bool,
    talked: &str,
) {
    store
        .capture(&CaptureDraft {
            people: vec![PersonRef::Named(who.into())],
            at: Some(Utc.with_ymd_and_hms(2026, 2, 27, 15, 30, 0).unwrap()),
            kind: InteractionKind::Value,
            talked_about: talked.into(),
            next_step: "Send the deck, then call".into(),
            follow_up: follow_up.map(Into::into),
            thank_you,
            ..Default::default()
        })
        .unwrap();
}

fn with_conversations() -> Device {
    let mut d = device(5);
    import(&mut d.store, &fixture("ios.vcf"));
    capture(
        &mut d.store,
        "Dr. Chidi Emeka Okafor",
        NaiveDate::from_ymd_opt(2026, 3, 4),
        true,
        "Pricing, partnerships; \"fintech\" in Lagos — ünïcödé, with a very long sentence that needs folding at seventy-five octets 日本語日本語日本語",
    );
    capture(
        &mut d.store,
        "Ana Ruiz",
        NaiveDate::from_ymd_opt(2026, 3, 10),
        false,
        "hiring\nand a second line",
    );
    capture(&mut d.store, "Ben Ode", None, true, "coffee");
    capture(&mut d.store, "Cleo Park", None, false, "nothing owed");
    d
}

#[test]
fn the_calendar_has_one_event_with_an_alarm_per_follow_up_and_thank_you() {
    let d = with_conversations();
    let ics = d.store.export_calendar().unwrap();
    // Strict framing: CRLF only, no line over 75 octets, folds never split a character.
    assert!(ics.ends_with("\r\n"));
    assert!(!ics.replace("\r\n", "").contains('\n'), "bare LF");
    for line in ics.split("\r\n") {
        assert!(line.len() <= 75, "{} octets: {line}", line.len());
    }
    let unfolded = icalendar::parser::unfold(&ics);
    let calendar = icalendar::parser::read_calendar(&unfolded).unwrap();
    let prop = |c: &icalendar::parser::Component<'_>, name: &str| {
        c.find_prop(name)
            .map(|p| p.val.as_str().to_string())
            .unwrap_or_default()
    };
    assert!(calendar
        .properties
        .iter()
        .any(|p| p.name.as_str() == "PRODID" && p.val.as_str() == CALENDAR_PRODID));
    let events: Vec<_> = calendar
        .components
        .iter()
        .filter(|c| c.name.as_str() == "VEVENT")
        .collect();
    // Two follow-ups and two thank-yous to send.
    assert_eq!(events.len(), 4, "{ics}");
    for e in &events {
        let start = e.find_prop("DTSTART").unwrap();
        assert!(start.params.iter().any(
            |p| p.key.as_str() == "VALUE" && p.val.as_ref().map(|v| v.as_str()) == Some("DATE")
        ));
        assert_eq!(prop(e, "DTSTAMP"), "20260302T090000Z");
        let alarm = e
            .components
            .iter()
            .find(|c| c.name.as_str() == "VALARM")
            .expect("every event has an alarm");
        assert_eq!(prop(alarm, "ACTION"), "DISPLAY");
    }
    let summaries: Vec<String> = events.iter().map(|e| prop(e, "SUMMARY")).collect();
    assert!(
        summaries.contains(&"Follow up with Ana Ruiz".to_string()),
        "{summaries:?}"
    );
    assert!(summaries.contains(&"Send a thank-you to Ben Ode".to_string()));
    let chidi = events
        .iter()
        .find(|e| prop(e, "SUMMARY") == "Follow up with Dr. Chidi Emeka Okafor")
        .unwrap();
    assert_eq!(prop(chidi, "DTSTART"), "20260304");
    assert_eq!(prop(chidi, "DTEND"), "20260305");
    let description = chidi
        .find_prop("DESCRIPTION")
        .unwrap()
        .val
        .clone()
        .unescape_text();
    assert!(
        description
            .as_str()
            .contains("Pricing, partnerships; \"fintech\" in Lagos — ünïcödé"),
        "{}",
        description.as_str()
    );
    // Stable uids: a second export names the same events.
    let again = d.store.export_calendar().unwrap();
    let uids = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with("UID:"))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(uids(&ics), uids(&again));
    let mut unique = uids(&ics);
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 4);
}

#[test]
fn the_spreadsheet_has_one_quoted_row_per_conversation() {
    let d = with_conversations();
    let text = d.store.export_interactions_csv().unwrap();
    assert!(text.contains("\r\n"));
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(headers, CSV_COLUMNS);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 4);
    let talked = headers.iter().position(|h| h == "talked_about").unwrap();
    let people = headers.iter().position(|h| h == "people").unwrap();
    let ana = rows.iter().find(|r| &r[people] == "Ana Ruiz").unwrap();
    assert_eq!(&ana[talked], "hiring\nand a second line");
    assert!(rows
        .iter()
        .any(|r| r[talked].starts_with("Pricing, partnerships; \"fintech\"")));
}

#[test]
fn the_markdown_diary_has_a_page_per_person_or_one_for_all() {
    use aftercall_shared::interop::MarkdownLayout;
    let d = with_conversations();
    let pages = d
        .store
        .export_diary_markdown(MarkdownLayout::PerPerson)
        .unwrap();
    assert_eq!(pages.len(), 4);
    let ana = pages
        .iter()
        .find(|p| p.name.starts_with("ana-ruiz-"))
        .unwrap();
    assert!(ana.text.starts_with("# Ana Ruiz\n"), "{}", ana.text);
    assert!(ana.text.contains("**Next step:** Send the deck, then call"));
    assert!(ana.text.contains("follow-up 2026-03-10"));
    let all = d
        .store
        .export_diary_markdown(MarkdownLayout::OneFile)
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].text.matches("\n## ").count(), 4);
}

#[test]
fn a_json_backup_restores_into_an_empty_store_with_the_same_read_model() {
    let d = with_conversations();
    let json = d.store.backup().unwrap().to_json();
    let backup = aftercall_shared::interop::Backup::from_json(&json).unwrap();
    let mut fresh = device(6);
    fresh.store.restore_backup(&backup).unwrap();
    assert_eq!(
        fresh.store.read_model_snapshot().unwrap(),
        d.store.read_model_snapshot().unwrap()
    );
    // The restored records are this device's to sync.
    let synced: usize = fresh
        .store
        .own_entries_after(0, 100)
        .unwrap()
        .iter()
        .map(|e| e.changes.len())
        .sum();
    assert_eq!(synced, backup.documents.len());
}

#[test]
fn the_command_line_imports_exports_and_restores() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    let ios = fixture_path("ios.vcf");
    let ios = ios.to_str().unwrap();

    let dry = ok(&data, &["import", ios, "--dry-run"]);
    assert!(
        dry.contains("added") && dry.contains("Dr. Chidi Emeka Okafor"),
        "{dry}"
    );
    assert!(dry.contains("dry run (nothing written): 1 added"), "{dry}");
    let out = ok(&data, &["export", "--format", "vcf"]);
    assert!(out.is_empty(), "a dry run wrote nothing: {out}");

    let imported = ok(&data, &["import", ios]);
    assert!(imported.contains("1 added"), "{imported}");
    let again = ok(&data, &["import", ios]);
    assert!(again.contains("0 added, 0 updated, 1 unchanged"), "{again}");
    ok(
        &data,
        &[
            "capture",
            "--with",
            "Dr. Chidi Emeka Okafor",
            "--talked",
            "pricing",
            "--thank-you",
        ],
    );

    ok(&data, &["capture", "--with", "Selma Other"]);
    for (format, check) in [
        ("vcf", "BEGIN:VCARD\r\nVERSION:4.0\r\n"),
        ("ics", "BEGIN:VCALENDAR\r\n"),
        ("csv", "date,time_utc,people"),
        ("json", "\"format\": \"aftercall-backup\""),
        ("md", "# Dr. Chidi Emeka Okafor"),
    ] {
        let path = home.path().join(format!("export.{format}"));
        ok(
            &data,
            &[
                "export",
                "--format",
                format,
                "--out",
                path.to_str().unwrap(),
            ],
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(check), "{format}: {text}");
    }
    let v3 = ok(
        &data,
        &["export", "--format", "vcf", "--vcard-version", "3"],
    );
    assert!(v3.starts_with("BEGIN:VCARD\r\nVERSION:3.0\r\n"), "{v3}");

    // A selection: only the people named.
    let everyone = ok(&data, &["export", "--format", "vcf"]);
    assert_eq!(everyone.matches("BEGIN:VCARD").count(), 2, "{everyone}");
    let one = ok(
        &data,
        &["export", "--format", "vcf", "--person", "selma other"],
    );
    assert_eq!(one.matches("BEGIN:VCARD").count(), 1, "{one}");
    assert!(one.contains("FN:Selma Other"), "{one}");
    let unknown = fails(&data, &["export", "--format", "vcf", "--person", "Nobody"]);
    assert!(unknown.contains("Nobody"), "{unknown}");
    let misplaced = fails(
        &data,
        &["export", "--format", "csv", "--person", "Selma Other"],
    );
    assert!(misplaced.contains("--format vcf only"), "{misplaced}");

    let backup = home.path().join("export.json");
    let backup = backup.to_str().unwrap();
    let restored_dir = home.path().join("restored");
    let restored = ok(&restored_dir, &["restore", backup]);
    assert!(restored.starts_with("Restored 4 records"), "{restored}");
    assert_eq!(
        ok(&restored_dir, &["export", "--format", "csv"]),
        ok(&data, &["export", "--format", "csv"])
    );
    assert_eq!(
        ok(&restored_dir, &["export", "--format", "vcf"]),
        ok(&data, &["export", "--format", "vcf"])
    );

    let refused = fails(&data, &["restore", backup]);
    assert!(refused.contains("already holds data"), "{refused}");
    assert_eq!(refused.trim().lines().count(), 1, "{refused}");
}

#[test]
fn bad_input_fails_with_one_clear_line_and_writes_nothing() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    let not_vcard = home.path().join("notes.txt");
    std::fs::write(&not_vcard, "just some notes\nnothing else\n").unwrap();
    let not_backup = home.path().join("notes.json");
    std::fs::write(&not_backup, "{\"hello\": 1}").unwrap();

    for (args, says) in [
        (vec!["import", not_vcard.to_str().unwrap()], "no contact"),
        (vec!["import", "/no/such/file.vcf"], "cannot read"),
        (
            vec!["restore", not_backup.to_str().unwrap()],
            "not an Aftercall backup",
        ),
        (
            vec!["export", "--format", "vcf", "--vcard-version", "2"],
            "use 3 or 4",
        ),
    ] {
        let err = fails(&data, &args);
        assert!(err.contains(says), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    }
    assert!(!data.exists(), "nothing was written");
    let out = aftercall(&data, &["export", "--format", "pdf"]);
    assert!(!out.status.success());
}
