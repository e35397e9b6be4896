//! The habit features' benchmarks: importing a 5,000-event calendar with 200
//! recurring series (target ≤ 2 s) and Today with 10,000 people on cadences
//! (target ≤ 50 ms).
//!
//! `cargo run --release -p aftercall-shared --features device --example bench_habits`
//!
//! Prints a Markdown table row per figure: medians of several runs, each on a fresh
//! store in a temporary directory with a manual clock.

#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use aftercall_shared::env::{ManualClock, SeededEntropy};
use aftercall_shared::interop::CalendarImportOptions;
use aftercall_shared::model::{
    Cadence, Channel, DocKind, Interaction, InteractionKind, Person, ThankYou,
};
use aftercall_shared::Store;
use chrono::{DateTime, Duration as Days, TimeZone, Utc};

const EVENTS: usize = 5_000;
const SERIES: usize = 200;
const PEOPLE: usize = 10_000;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap()
}

fn open(dir: &std::path::Path, seed: u64) -> Store {
    Store::open(
        &dir.join("store.sqlite"),
        Box::new(ManualClock::at(now())),
        Box::new(SeededEntropy::new(seed)),
    )
    .unwrap()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// A calendar export as Google writes one: a Berlin time zone, `SERIES` weekly
/// series (one with an exception and a cancelled occurrence each ten), and single
/// meetings spread over the import window, each with its organiser and guests.
fn calendar() -> String {
    let mut ics = String::from(
        "BEGIN:VCALENDAR\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\nVERSION:2.0\r\n\
         X-WR-CALNAME:me@example.com\r\nX-WR-TIMEZONE:Europe/Berlin\r\n\
         BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\n\
         TZOFFSETTO:+0200\r\nTZNAME:CEST\r\nDTSTART:19700329T020000\r\n\
         RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\nBEGIN:STANDARD\r\n\
         TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\nDTSTART:19701025T030000\r\n\
         RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n",
    );
    let local = |t: DateTime<Utc>| (t + Days::hours(1)).format("%Y%m%dT%H%M%S").to_string();
    let start_of = now() - Days::days(40);
    let guests = |i: usize| {
        format!(
            "ORGANIZER;CN=Me:mailto:me@example.com\r\n\
             ATTENDEE;CN=Guest {i};PARTSTAT=ACCEPTED:mailto:guest{i}@example.org\r\n\
             ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:other{}@example.net\r\n\
             ATTENDEE;CN=Me;PARTSTAT=ACCEPTED:mailto:me@example.com\r\n",
            i % 97
        )
    };
    for s in 0..SERIES {
        let first = start_of + Days::hours((s % 8) as i64 * 24 + 9);
        ics.push_str(&format!(
            "BEGIN:VEVENT\r\nUID:series-{s}@google.com\r\nDTSTART;TZID=Europe/Berlin:{}\r\n\
             DTEND;TZID=Europe/Berlin:{}\r\nRRULE:FREQ=WEEKLY;COUNT=30\r\n",
            local(first),
            local(first + Days::minutes(30))
        ));
        if s % 10 == 0 {
            ics.push_str(&format!(
                "EXDATE;TZID=Europe/Berlin:{}\r\n",
                local(first + Days::weeks(3))
            ));
        }
        ics.push_str(&format!(
            "SUMMARY:Weekly sync {s}\r\n{}END:VEVENT\r\n",
            guests(s)
        ));
        if s % 10 == 0 {
            let moved = first + Days::weeks(5);
            ics.push_str(&format!(
                "BEGIN:VEVENT\r\nUID:series-{s}@google.com\r\nRECURRENCE-ID;TZID=Europe/Berlin:{}\r\n\
                 DTSTART;TZID=Europe/Berlin:{}\r\nDTEND;TZID=Europe/Berlin:{}\r\n\
                 SUMMARY:Weekly sync {s} (moved)\r\n{}END:VEVENT\r\n",
                local(moved),
                local(moved + Days::hours(2)),
                local(moved + Days::hours(2) + Days::minutes(30)),
                guests(s)
            ));
        }
    }
    let singles = EVENTS - SERIES - SERIES / 10;
    for e in 0..singles {
        let start = start_of + Days::minutes((e as i64 * 137) % (130 * 24 * 60));
        ics.push_str(&format!(
            "BEGIN:VEVENT\r\nUID:single-{e}@google.com\r\nDTSTART:{}\r\nDTEND:{}\r\n\
             SUMMARY:Call {e}\r\nLOCATION:https://meet.google.com/abc-defg-hij\r\n{}{}END:VEVENT\r\n",
            start.format("%Y%m%dT%H%M%SZ"),
            (start + Days::minutes(45)).format("%Y%m%dT%H%M%SZ"),
            if e % 50 == 0 { "STATUS:CANCELLED\r\n" } else { "" },
            guests(e)
        ));
    }
    ics.push_str("END:VCALENDAR\r\n");
    ics
}

fn bench_calendar() {
    let ics = calendar();
    let events = ics.matches("BEGIN:VEVENT").count();
    let options = CalendarImportOptions {
        dry_run: false,
        owner: vec!["me@example.com".into()],
    };
    let mut samples = Vec::new();
    let mut meetings = 0;
    for run in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open(dir.path(), run);
        let started = Instant::now();
        let report = store.import_calendar(ics.as_bytes(), &options).unwrap();
        samples.push(started.elapsed());
        meetings = report.meetings.len();
    }
    println!(
        "| Import a {events}-event calendar ({SERIES} weekly series; {meetings} meetings in the window) | {} (median of 3) | ≤ 2 s |",
        ms(median(samples))
    );
}

fn bench_today() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path(), 7);
    let cadences = [Cadence::FORTNIGHTLY, Cadence::MONTHLY, Cadence::QUARTERLY];
    let created = (now() - Days::days(200)).timestamp_millis();
    for batch in 0..PEOPLE / 500 {
        store
            .write(|w| {
                for i in batch * 500..(batch + 1) * 500 {
                    let id = w.create(
                        DocKind::Person,
                        &Person {
                            name: format!("Person {i}"),
                            cadence: Some(cadences[i % 3]),
                            cadence_since: created,
                            created_at: created,
                            ..Default::default()
                        },
                    )?;
                    // Seven in ten were talked to, some days to some months ago.
                    if i % 10 < 7 {
                        let at = now() - Days::days((i as i64 * 7) % 120);
                        w.create(
                            DocKind::Interaction,
                            &Interaction {
                                people: vec![id],
                                at: at.timestamp_millis(),
                                kind: InteractionKind::Casual,
                                channel: Channel::Phone,
                                thank_you: ThankYou::NotNeeded,
                                created_at: at.timestamp_millis(),
                                ..Default::default()
                            },
                        )?;
                    }
                }
                Ok(())
            })
            .unwrap();
    }
    let day = now().date_naive().into();
    let mut samples = Vec::new();
    let mut due = 0;
    for _ in 0..30 {
        let started = Instant::now();
        let today = store.today(day).unwrap();
        samples.push(started.elapsed());
        due = today.counts.keep_in_touch;
    }
    println!(
        "| Today with {PEOPLE} people on cadences ({due} past theirs) | {} (median of 30) | ≤ 50 ms |",
        ms(median(samples))
    );
}

fn main() {
    println!("| Measure | Figure | Target |");
    println!("|---|---|---|");
    bench_calendar();
    bench_today();
}
