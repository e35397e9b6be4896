//! Real-shaped calendar exports (Google, Outlook, Apple) read to exactly the
//! meetings they hold; broken files read as far as they can be.

use chrono::{DateTime, Utc};

use super::calendar_read::{read_calendar, CalendarWindow, MeetingOccurrence};
use crate::model::{Attendee, CalendarUid};

const GOOGLE: &[u8] = include_bytes!("../../../tests/fixtures/calendar/google.ics");
const OUTLOOK: &[u8] = include_bytes!("../../../tests/fixtures/calendar/outlook.ics");
const APPLE: &[u8] = include_bytes!("../../../tests/fixtures/calendar/apple.ics");

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// Four weeks: Monday 16 November to Monday 14 December 2026, UTC.
fn window() -> CalendarWindow {
    CalendarWindow {
        from: at("2026-11-16T00:00:00Z"),
        to: at("2026-12-14T00:00:00Z"),
    }
}

fn who(email: &str, name: Option<&str>) -> Attendee {
    Attendee {
        email: email.into(),
        name: name.map(str::to_string),
        is_owner: false,
        declined: false,
    }
}

fn me(email: &str, name: Option<&str>) -> Attendee {
    Attendee {
        is_owner: true,
        ..who(email, name)
    }
}

/// A meeting that does not recur, with nothing but its times; tests fill the rest.
fn meeting(uid: &str, line: usize, start: &str, end: &str, summary: &str) -> MeetingOccurrence {
    MeetingOccurrence {
        uid: CalendarUid::from(uid),
        recurrence_id: None,
        start: at(start),
        end: at(end),
        all_day: false,
        summary: summary.into(),
        location: String::new(),
        link: None,
        organiser: None,
        attendees: Vec::new(),
        cancelled: false,
        line,
    }
}

fn all_day(
    uid: &str,
    line: usize,
    first: &str,
    after_last: &str,
    summary: &str,
) -> MeetingOccurrence {
    MeetingOccurrence {
        all_day: true,
        ..meeting(
            uid,
            line,
            &format!("{first}T00:00:00Z"),
            &format!("{after_last}T00:00:00Z"),
            summary,
        )
    }
}

/// Compares one occurrence at a time, so a failure names the one that differs.
fn assert_occurrences(read: &[MeetingOccurrence], expected: &[MeetingOccurrence]) {
    for (i, (got, want)) in read.iter().zip(expected).enumerate() {
        assert_eq!(got, want, "occurrence {i}");
    }
    assert_eq!(read.len(), expected.len(), "{read:#?}");
}

#[test]
fn a_google_calendar_reads_to_its_meetings_moved_and_cancelled_ones_included() {
    let read = read_calendar(GOOGLE, window(), &[]);
    assert!(read.skipped.is_empty(), "{:?}", read.skipped);
    assert!(read.notes.is_empty(), "{:?}", read.notes);
    let lena = me("lena.vogt@gmail.com", None);
    let ana = who("ana.mueller@example.org", Some("Ana Müller"));
    let sync = |start: &str, end: &str| MeetingOccurrence {
        recurrence_id: Some(at(start)),
        link: Some("https://meet.google.com/abc-defg-hij".into()),
        organiser: Some(lena.clone()),
        attendees: vec![ana.clone(), lena.clone()],
        ..meeting(
            "7kq3v2b9c1d8e0f4g5h6@google.com",
            26,
            start,
            end,
            "Weekly sync with Ana",
        )
    };
    let expected = vec![
        // Monday 10:00 in Berlin, which is UTC+1 in winter.
        sync("2026-11-16T09:00:00Z", "2026-11-16T09:30:00Z"),
        MeetingOccurrence {
            location: "Lisbon, Portugal".into(),
            ..all_day(
                "2b6c0v8o1s4k3e9q@google.com",
                70,
                "2026-11-18",
                "2026-11-20",
                "Web Summit",
            )
        },
        // 23 November is in EXDATE; 30 November moved to Tuesday 1 December, 14:00.
        MeetingOccurrence {
            recurrence_id: Some(at("2026-11-30T09:00:00Z")),
            start: at("2026-12-01T13:00:00Z"),
            end: at("2026-12-01T13:30:00Z"),
            summary: "Weekly sync with Ana (moved)".into(),
            line: 51,
            ..sync("2026-11-30T09:00:00Z", "2026-11-30T09:30:00Z")
        },
        MeetingOccurrence {
            location: "Café Einstein, Kurfürstenstraße 58, 10785 Berlin".into(),
            organiser: Some(lena.clone()),
            attendees: vec![
                who("bob@stone.dev", None),
                Attendee {
                    declined: true,
                    ..who("carla@diaz.example", Some("Carla Diaz"))
                },
                lena.clone(),
            ],
            ..meeting(
                "5m1n2b3v4c5x6z7a@google.com",
                83,
                "2026-12-03T15:00:00Z",
                "2026-12-03T16:00:00Z",
                "Coffee with Bob",
            )
        },
        sync("2026-12-07T09:00:00Z", "2026-12-07T09:30:00Z"),
        MeetingOccurrence {
            organiser: Some(who("dana@ito.example", Some("Dana Ito"))),
            attendees: vec![who("dana@ito.example", Some("Dana Ito")), lena.clone()],
            cancelled: true,
            ..meeting(
                "9p8o7i6u5y4t@google.com",
                112,
                "2026-12-10T08:00:00Z",
                "2026-12-10T09:00:00Z",
                "Pitch practice",
            )
        },
    ];
    assert_occurrences(&read.occurrences, &expected);
}

#[test]
fn an_outlook_calendar_with_windows_zone_names_reads_to_its_meetings() {
    let read = read_calendar(OUTLOOK, window(), &["Lena.Vogt@fabrikam.com".into()]);
    assert!(read.skipped.is_empty(), "{:?}", read.skipped);
    assert!(read.notes.is_empty(), "{:?}", read.notes);
    let uid = "040000008200E00074C5B7101A82E00800000000B0C1D2E3F4A5D9010000000000000000100000009F8E7D6C5B4A39281706F5E4D3C2B1A0";
    let lena = me("lena.vogt@fabrikam.com", Some("Lena Vogt"));
    let priya = who("priya.nair@contoso.com", Some("Nair, Priya"));
    let tom = who("tom.berg@contoso.com", None);
    // Tuesdays 9:00 in "Pacific Standard Time" (UTC-8); the room is not a person.
    let review = |start: &str, end: &str| MeetingOccurrence {
        recurrence_id: Some(at(start)),
        location: "Room 4.12 (8)".into(),
        organiser: Some(lena.clone()),
        attendees: vec![priya.clone(), tom.clone()],
        ..meeting(uid, 36, start, end, "Pipeline review")
    };
    let expected = vec![
        review("2026-11-17T17:00:00Z", "2026-11-17T17:45:00Z"),
        MeetingOccurrence {
            summary: "Canceled: Pipeline review".into(),
            location: String::new(),
            cancelled: true,
            line: 72,
            ..review("2026-11-24T17:00:00Z", "2026-11-24T17:45:00Z")
        },
        review("2026-12-01T17:00:00Z", "2026-12-01T17:45:00Z"),
        MeetingOccurrence {
            location: "Haarlem".into(),
            ..all_day(
                "040000008200E00074C5B7101A82E00800000000D1E2F3A4B5C6DA01000000000000000010000000FF00EE11",
                119,
                "2026-12-04",
                "2026-12-05",
                "Team offsite",
            )
        },
        review("2026-12-08T17:00:00Z", "2026-12-08T17:45:00Z"),
        // 16:30 in "W. Europe Standard Time" (UTC+1); the Teams link from the text.
        MeetingOccurrence {
            location: "Microsoft Teams Meeting".into(),
            link: Some("https://teams.microsoft.com/l/meetup-join/19%3ameeting_NjA1ZTc2%40thread.v2/0?context=%7b%22Tid%22%3a%2272f9%22%7d".into()),
            organiser: Some(priya.clone()),
            attendees: vec![lena.clone()],
            ..meeting(
                "040000008200E00074C5B7101A82E00800000000C7D8E9F0A1B2DA01000000000000000010000000AB12CD34EF56",
                95,
                "2026-12-09T15:30:00Z",
                "2026-12-09T16:15:00Z",
                "Intro call: Priya / Lena",
            )
        },
    ];
    assert_occurrences(&read.occurrences, &expected);
}

#[test]
fn an_apple_calendar_reads_to_its_meetings_with_addresses_from_their_email_parameter() {
    let read = read_calendar(APPLE, window(), &["sam@rivera.dev".into()]);
    assert!(read.skipped.is_empty(), "{:?}", read.skipped);
    assert!(read.notes.is_empty(), "{:?}", read.notes);
    let zoom = "https://us02web.zoom.us/j/81234567890?pwd=QWxhZGRpbjpvcGVuIHNlc2FtZQ";
    let jess = who("jess@park.studio", Some("Jess Park"));
    let sam = me("sam@rivera.dev", Some("Sam Rivera"));
    // Thursdays 17:00 in New York (UTC-5); 10 December is in EXDATE.
    let mentoring = |start: &str, end: &str| MeetingOccurrence {
        recurrence_id: Some(at(start)),
        location: zoom.into(),
        link: Some(zoom.into()),
        organiser: Some(jess.clone()),
        attendees: vec![sam.clone(), jess.clone()],
        ..meeting(
            "3F0E7C1A-5B2D-4E8F-9A6B-1C2D3E4F5A6B",
            25,
            start,
            end,
            "Mentoring with Sam",
        )
    };
    let expected = vec![
        mentoring("2026-11-19T22:00:00Z", "2026-11-19T23:00:00Z"),
        // Thanksgiving's session moved to Wednesday noon.
        MeetingOccurrence {
            recurrence_id: Some(at("2026-11-26T22:00:00Z")),
            start: at("2026-11-25T17:00:00Z"),
            end: at("2026-11-25T18:00:00Z"),
            line: 53,
            ..mentoring("2026-11-26T22:00:00Z", "2026-11-26T23:00:00Z")
        },
        all_day(
            "8E9F0A1B-2C3D-4E5F-6A7B-8C9D0E1F2A3B",
            71,
            "2026-11-26",
            "2026-11-27",
            "Thanksgiving",
        ),
        MeetingOccurrence {
            location: "Blue Bottle Coffee\nFerry Building, San Francisco".into(),
            organiser: Some(sam.clone()),
            attendees: vec![
                who("jordan@lee.io", Some("Jordan Lee")),
                me("sam@rivera.dev", None),
            ],
            ..meeting(
                "C0FFEE00-1111-4222-8333-944455566677",
                81,
                "2026-12-02T17:00:00Z",
                "2026-12-02T18:00:00Z",
                "Lunch with Jordan",
            )
        },
        mentoring("2026-12-03T22:00:00Z", "2026-12-03T23:00:00Z"),
    ];
    assert_occurrences(&read.occurrences, &expected);
}

#[test]
fn a_malformed_calendar_skips_what_it_cannot_read_by_line_and_reads_the_rest() {
    let file = "\
BEGIN:VCALENDAR\r
VERSION:2.0\r
this line is garbage\r
BEGIN:VEVENT\r
UID:no-start\r
SUMMARY:No start\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:bad-start\r
DTSTART:tomorrow-ish\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:good\r
DTSTART:20261201T100000Z\r
DTEND:20261201T110000Z\r
SUMM@RY;broken:line\r
SUMMARY:Still here\r
END:VEVENT\r
\x01\x02\x03 binary junk\r
BEGIN:VEVENT\r
UID:bad-rule\r
DTSTART:20261202T100000Z\r
RRULE:FREQ=SOMETIMES\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:unfinished\r
DTSTART:20261203T100000Z\r
";
    let read = read_calendar(file.as_bytes(), window(), &[]);
    let skipped: Vec<(usize, bool, &str)> = read
        .skipped
        .iter()
        .map(|s| (s.line, s.whole_card, s.reason.as_str()))
        .collect();
    assert_eq!(
        skipped,
        vec![
            (3, false, "not a property: it has no ':'"),
            (4, true, "the event has no DTSTART"),
            (10, true, "the event's DTSTART is not a date"),
            (16, false, "not a property: its name is not a word"),
            (19, false, "not a property: it has no ':'"),
            (23, true, "the event's RRULE cannot be read"),
            (25, true, "the file ends inside this VEVENT (no END:VEVENT)"),
        ]
    );
    let expected = vec![meeting(
        "good",
        12,
        "2026-12-01T10:00:00Z",
        "2026-12-01T11:00:00Z",
        "Still here",
    )];
    assert_occurrences(&read.occurrences, &expected);
}

#[test]
fn floating_times_are_read_in_the_calendars_zone_and_unknown_zones_are_noted() {
    let file = "BEGIN:VCALENDAR\r\nX-WR-TIMEZONE:Asia/Tokyo\r\n\
                BEGIN:VEVENT\r\nUID:a\r\nDTSTART:20261201T100000\r\nEND:VEVENT\r\n\
                BEGIN:VEVENT\r\nUID:b\r\nDTSTART;TZID=Mars/Olympus:20261202T100000\r\n\
                DURATION:PT30M\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let read = read_calendar(file.as_bytes(), window(), &[]);
    assert!(read.skipped.is_empty(), "{:?}", read.skipped);
    assert_eq!(
        read.notes,
        vec!["the time zone 'Mars/Olympus' is not known: its times were read in Asia/Tokyo"]
    );
    let expected = vec![
        meeting("a", 3, "2026-12-01T01:00:00Z", "2026-12-01T01:00:00Z", ""),
        meeting("b", 7, "2026-12-02T01:00:00Z", "2026-12-02T01:30:00Z", ""),
    ];
    assert_occurrences(&read.occurrences, &expected);
}

#[test]
fn a_long_running_series_reaches_the_window_and_a_whole_cancelled_series_is_flagged() {
    // Daily since 2016: the window is thousands of occurrences in.
    let file = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:standup\r\nSTATUS:CANCELLED\r\n\
                DTSTART:20160104T083000Z\r\nDTEND:20160104T084500Z\r\n\
                RRULE:FREQ=DAILY\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let narrow = CalendarWindow {
        from: at("2026-12-01T00:00:00Z"),
        to: at("2026-12-03T00:00:00Z"),
    };
    let read = read_calendar(file.as_bytes(), narrow, &[]);
    let standup = |start: &str, end: &str| MeetingOccurrence {
        recurrence_id: Some(at(start)),
        cancelled: true,
        ..meeting("standup", 2, start, end, "")
    };
    let expected = vec![
        standup("2026-12-01T08:30:00Z", "2026-12-01T08:45:00Z"),
        standup("2026-12-02T08:30:00Z", "2026-12-02T08:45:00Z"),
    ];
    assert_occurrences(&read.occurrences, &expected);
}

#[cfg(not(target_arch = "wasm32"))]
mod any_bytes {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_bytes_read_to_some_meetings_or_none_without_a_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..2048),
        ) {
            let read = read_calendar(&bytes, window(), &[]);
            prop_assert!(read.occurrences.len() <= bytes.len());
        }

        #[test]
        fn a_cut_export_reads_only_meetings_the_whole_one_holds(cut in 0..GOOGLE.len()) {
            let read = read_calendar(&GOOGLE[..cut], window(), &[]);
            let whole = read_calendar(GOOGLE, window(), &[]);
            let lines = GOOGLE[..cut].split(|&b| b == b'\n').count();
            for o in &read.occurrences {
                prop_assert!(whole.occurrences.iter().any(|w| w.uid == o.uid), "{o:?}");
            }
            for s in &read.skipped {
                prop_assert!(s.line >= 1 && s.line <= lines, "{s:?}");
            }
        }

        #[test]
        fn a_damaged_export_reads_without_a_panic(
            flips in proptest::collection::vec((0..GOOGLE.len(), any::<u8>()), 1..24),
        ) {
            let mut bytes = GOOGLE.to_vec();
            for (at, byte) in flips {
                bytes[at] = byte;
            }
            let read = read_calendar(&bytes, window(), &[]);
            let lines = bytes.split(|&b| b == b'\n').count();
            for s in &read.skipped {
                prop_assert!(s.line >= 1 && s.line <= lines, "{s:?}");
            }
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod importing {
    use super::*;
    use crate::env::{ManualClock, SeededEntropy};
    use crate::interop::{
        CalendarImportOptions, CalendarImportReport, ImportOptions, MeetingGuest, Outcome,
    };
    use crate::model::{DocKind, Meeting, MeetingId, MeetingPrompt, PersonId};
    use crate::queries::Guest;
    use crate::Store;

    fn store(dir: &tempfile::TempDir, seed: u64) -> Store {
        // Friday 4 December 2026: the import reads 4 November to 2 February.
        let clock = ManualClock::at(at("2026-12-04T12:00:00Z"));
        Store::open(
            &dir.path().join("store.sqlite"),
            Box::new(clock),
            Box::new(SeededEntropy::new(seed)),
        )
        .unwrap()
    }

    fn import(store: &mut Store, bytes: &[u8]) -> CalendarImportReport {
        store
            .import_calendar(bytes, &CalendarImportOptions::default())
            .unwrap()
    }

    fn outcomes(report: &CalendarImportReport) -> Vec<(String, Outcome)> {
        report
            .meetings
            .iter()
            .map(|m| {
                (
                    format!("{} {}", m.start.format("%m-%d %H:%M"), m.summary),
                    m.outcome,
                )
            })
            .collect()
    }

    fn meeting_rows(store: &Store) -> i64 {
        store
            .conn()
            .query_row("SELECT COUNT(*) FROM meetings", [], |r| r.get(0))
            .unwrap()
    }

    /// What the Google export holds from 4 November to 2 February, by start.
    fn google_meetings(outcome: Outcome) -> Vec<(String, Outcome)> {
        let sync = "Weekly sync with Ana";
        [
            format!("11-09 09:00 {sync}"),
            format!("11-16 09:00 {sync}"),
            "11-18 00:00 Web Summit".into(),
            format!("12-01 13:00 {sync} (moved)"),
            "12-03 15:00 Coffee with Bob".into(),
            format!("12-07 09:00 {sync}"),
            "12-10 08:00 Pitch practice".into(),
            format!("12-14 09:00 {sync}"),
            format!("12-21 09:00 {sync}"),
            format!("12-28 09:00 {sync}"),
            format!("01-04 09:00 {sync}"),
            format!("01-11 09:00 {sync}"),
            format!("01-18 09:00 {sync}"),
            format!("01-25 09:00 {sync}"),
            format!("02-01 09:00 {sync}"),
        ]
        .into_iter()
        .map(|m| (m, outcome))
        .collect()
    }

    #[test]
    fn importing_a_calendar_again_updates_its_meetings_instead_of_adding_them_twice() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = store(&dir, 1);
        let first = import(&mut store, GOOGLE);
        assert_eq!(outcomes(&first), google_meetings(Outcome::Added));
        assert!(first.skipped.is_empty(), "{:?}", first.skipped);
        assert_eq!(meeting_rows(&store), 15);

        let again = import(&mut store, GOOGLE);
        assert_eq!(outcomes(&again), google_meetings(Outcome::Unchanged));
        assert_eq!(meeting_rows(&store), 15);

        let renamed = String::from_utf8(GOOGLE.to_vec())
            .unwrap()
            .replace("SUMMARY:Coffee with Bob", "SUMMARY:Coffee with Bob Stone");
        let changed = import(&mut store, renamed.as_bytes());
        let mut expected = google_meetings(Outcome::Unchanged);
        expected[4] = ("12-03 15:00 Coffee with Bob Stone".into(), Outcome::Updated);
        assert_eq!(outcomes(&changed), expected);
        assert_eq!(meeting_rows(&store), 15);

        let before = store.read_model_snapshot().unwrap();
        store.rebuild_read_model().unwrap();
        assert_eq!(store.read_model_snapshot().unwrap(), before);
    }

    #[test]
    fn a_dry_run_reports_the_meetings_and_writes_none() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = store(&dir, 1);
        let options = CalendarImportOptions {
            dry_run: true,
            ..Default::default()
        };
        let report = store.import_calendar(GOOGLE, &options).unwrap();
        assert_eq!(outcomes(&report), google_meetings(Outcome::Added));
        assert_eq!(meeting_rows(&store), 0);
    }

    #[test]
    fn the_answer_to_how_it_went_survives_importing_the_calendar_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = store(&dir, 1);
        let first = import(&mut store, GOOGLE);
        let coffee = first.meetings[4].id.clone();
        store
            .write(|w| {
                w.update(coffee.as_str(), DocKind::Meeting, |m: &mut Meeting| {
                    m.prompt = MeetingPrompt::Dismissed;
                    Ok(())
                })
            })
            .unwrap();
        let again = import(&mut store, GOOGLE);
        assert_eq!(outcomes(&again), google_meetings(Outcome::Unchanged));
        let kept: Meeting = store
            .write(|w| w.read(coffee.as_str(), DocKind::Meeting))
            .unwrap();
        assert_eq!(kept.prompt, MeetingPrompt::Dismissed);
    }

    #[test]
    fn two_devices_importing_one_calendar_give_its_meetings_the_same_ids() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let ids = |report: CalendarImportReport| -> Vec<MeetingId> {
            report.meetings.into_iter().map(|m| m.id).collect()
        };
        let on_a = ids(import(&mut store(&a, 1), GOOGLE));
        let on_b = ids(import(&mut store(&b, 2), GOOGLE));
        assert_eq!(on_a, on_b);
        assert_eq!(
            on_a[0],
            MeetingId::for_occurrence(
                &"7kq3v2b9c1d8e0f4g5h6@google.com".into(),
                Some(at("2026-11-09T09:00:00Z").timestamp_millis())
            )
        );
    }

    #[test]
    fn attendees_are_matched_to_people_by_email_and_strangers_only_suggested() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = store(&dir, 1);
        let card = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ana Müller\r\n\
                    EMAIL:Ana.Mueller@Example.org\r\nEND:VCARD\r\n";
        let cards = store
            .import_vcards(card.as_bytes(), ImportOptions::default(), |_| {})
            .unwrap();
        let ana: PersonId = cards.cards[0].person_id.clone();
        let report = import(&mut store, GOOGLE);
        let guest =
            |email: &str, name: Option<&str>, person: Option<&PersonId>, meetings| MeetingGuest {
                guest: Guest {
                    email: email.into(),
                    name: name.map(str::to_string),
                    person: person.map(|id| crate::queries::PersonName {
                        id: id.clone(),
                        name: "Ana Müller".into(),
                    }),
                },
                meetings,
            };
        assert_eq!(
            report.guests,
            vec![
                guest(
                    "ana.mueller@example.org",
                    Some("Ana Müller"),
                    Some(&ana),
                    12
                ),
                guest("bob@stone.dev", None, None, 1),
                guest("carla@diaz.example", Some("Carla Diaz"), None, 1),
                guest("dana@ito.example", Some("Dana Ito"), None, 1),
            ]
        );
        let new: Vec<&str> = report
            .new_people()
            .map(|g| g.guest.email.as_str())
            .collect();
        assert_eq!(
            new,
            ["bob@stone.dev", "carla@diaz.example", "dana@ito.example"]
        );
        // Nobody was added for them.
        assert_eq!(store.people(100).unwrap().len(), 1);
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod asking {
    use super::*;
    use crate::api::{Reply, Request};
    use crate::env::{ManualClock, SeededEntropy};
    use crate::interop::CalendarImportOptions;
    use crate::model::{Channel, MeetingPrompt};
    use crate::queries::{Guest, MeetingsToAsk};
    use crate::Store;

    fn asked(store: &mut Store) -> MeetingsToAsk {
        match store.answer(&Request::MeetingsToAsk { limit: 10 }) {
            Reply::Meetings(m) => m,
            other => panic!("{other:?}"),
        }
    }

    fn summaries(m: &MeetingsToAsk) -> Vec<(&str, Channel)> {
        m.meetings
            .iter()
            .map(|m| (m.summary.as_str(), m.channel))
            .collect()
    }

    #[test]
    fn meetings_that_ended_with_others_are_asked_about_until_answered() {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::at(at("2026-12-04T12:00:00Z"));
        let mut store = Store::open(
            &dir.path().join("store.sqlite"),
            Box::new(clock.clone()),
            Box::new(SeededEntropy::new(1)),
        )
        .unwrap();
        store
            .import_calendar(GOOGLE, &CalendarImportOptions::default())
            .unwrap();
        // Not the all-day summit, not the cancelled pitch, not what has not ended.
        let now = asked(&mut store);
        assert_eq!(
            summaries(&now),
            vec![
                ("Coffee with Bob", Channel::InPerson),
                ("Weekly sync with Ana (moved)", Channel::Video),
                ("Weekly sync with Ana", Channel::Video),
                ("Weekly sync with Ana", Channel::Video),
            ]
        );
        assert_eq!(now.total, 4);
        let coffee = &now.meetings[0];
        assert_eq!(coffee.end, at("2026-12-03T16:00:00Z"));
        // Carla declined; Lena is the user.
        assert_eq!(
            coffee.guests,
            vec![Guest {
                email: "bob@stone.dev".into(),
                name: None,
                person: None
            }]
        );

        let dismiss = Request::AnswerMeeting {
            id: coffee.id.clone(),
            answer: MeetingPrompt::Dismissed,
        };
        assert_eq!(store.answer(&dismiss), Reply::Done);
        let not_networking = Request::AnswerMeeting {
            id: now.meetings[3].id.clone(),
            answer: MeetingPrompt::NotNetworking,
        };
        assert_eq!(store.answer(&not_networking), Reply::Done);
        let left = asked(&mut store);
        assert_eq!(
            summaries(&left),
            vec![
                ("Weekly sync with Ana (moved)", Channel::Video),
                ("Weekly sync with Ana", Channel::Video),
            ]
        );
        assert_eq!(left.total, 2);

        // Monday's sync ends at 9:30 on 7 December; importing again asks nothing twice.
        clock.set(at("2026-12-07T09:30:00Z"));
        store
            .import_calendar(GOOGLE, &CalendarImportOptions::default())
            .unwrap();
        let later = asked(&mut store);
        assert_eq!(later.total, 3);
        assert_eq!(later.meetings[0].start, at("2026-12-07T09:00:00Z"));
    }

    /// The capture a meeting's card opens, with something said.
    fn capture_for(m: &crate::queries::MeetingToAsk) -> crate::commands::CaptureDraft {
        crate::commands::CaptureDraft {
            talked_about: "How it went".into(),
            ..m.capture()
        }
    }

    #[test]
    fn capturing_a_meeting_answers_it_and_finds_or_creates_its_guests_by_address() {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::at(at("2026-12-03T15:00:00Z"));
        let mut store = Store::open(
            &dir.path().join("store.sqlite"),
            Box::new(clock.clone()),
            Box::new(SeededEntropy::new(3)),
        )
        .unwrap();
        // Ana is known by name only; Bob is a stranger.
        store
            .capture(&crate::tests::chat(
                "Ana Müller",
                crate::model::InteractionKind::Value,
                "",
            ))
            .unwrap();
        store
            .import_calendar(GOOGLE, &CalendarImportOptions::default())
            .unwrap();
        let coffee_before = asked(&mut store);
        assert!(
            !summaries(&coffee_before).contains(&("Coffee with Bob", Channel::InPerson)),
            "the coffee has not ended at 15:00"
        );
        assert_eq!(
            coffee_before.next_end,
            Some(at("2026-12-03T16:00:00Z")),
            "the app looks again when the coffee ends"
        );
        // The clock passes the coffee's end: now it is asked about.
        clock.set(at("2026-12-03T16:00:00Z"));
        let now = asked(&mut store);
        let coffee = now.meetings[0].clone();
        assert_eq!(coffee.summary, "Coffee with Bob");
        let captured = store.capture(&capture_for(&coffee)).unwrap();
        assert_eq!(captured.people.len(), 1);
        assert!(captured.people[0].created, "Bob is new");
        assert_eq!(captured.people[0].name, "bob@stone.dev");
        let left = asked(&mut store);
        assert_eq!(left.total, now.total - 1);
        assert!(left.meetings.iter().all(|m| m.id != coffee.id));
        // Bob now has his address, so the next meeting with him finds him.
        let bob_keys: i64 = store
            .conn()
            .query_row(
                "SELECT COUNT(*) FROM person_keys WHERE kind = 'email' AND key = 'bob@stone.dev'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(bob_keys, 1);
        let answered: (String, Option<String>) = store
            .conn()
            .query_row(
                "SELECT prompt, interaction_id FROM meetings WHERE id = ?1",
                [&coffee.id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(
            answered,
            (
                "captured".to_string(),
                Some(captured.interaction_id.to_string())
            )
        );

        // Ana's sync: matched by name, and her address learnt.
        let sync = left
            .meetings
            .iter()
            .find(|m| m.summary.starts_with("Weekly sync"))
            .unwrap()
            .clone();
        assert_eq!(sync.guests[0].person, None);
        let with_ana = store.capture(&capture_for(&sync)).unwrap();
        assert!(!with_ana.people[0].created);
        assert_eq!(with_ana.people[0].name, "Ana Müller");
        let people: i64 = store
            .conn()
            .query_row("SELECT COUNT(*) FROM people WHERE deleted = 0", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(people, 2, "Ana and Bob, nobody twice");
        let next = asked(&mut store);
        let other_sync = next
            .meetings
            .iter()
            .find(|m| m.summary.starts_with("Weekly sync"))
            .unwrap();
        assert_eq!(
            other_sync.guests[0].person.as_ref().map(|p| &p.id),
            Some(&with_ana.people[0].id),
            "her next meeting finds her by address"
        );
        // A meeting that is not there is a clear error, and nothing is written.
        let mut bad = capture_for(&coffee);
        bad.meeting = Some("ffffffffffffffffffffffffffffffff".into());
        assert!(store.capture(&bad).is_err());
        assert_eq!(
            store
                .conn()
                .query_row("SELECT COUNT(*) FROM interactions", [], |r| r
                    .get::<_, i64>(0))
                .unwrap(),
            3
        );
    }
}
