//! The `aftercall` command line, run as a user would run it.

use chrono::{Duration, Local};
use serde_json::Value;

use crate::support::{fails, json, ok};

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_value_call_with_a_referral_flows_through_today_search_diary_and_review() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let saved = ok(
        d,
        &[
            "capture",
            "--with",
            "Ana Müller",
            "--kind",
            "value",
            "--channel",
            "video",
            "--talked",
            "pricing for dental clinics",
            "--recommended",
            "read The Mom Test",
            "--observations",
            "sharp, busy",
            "--next",
            "send the deck",
            "--business",
            "--offer",
            "--thank-you",
            "--follow-up",
            "tomorrow",
            "--referral",
            "Bob Stone;intro;use-name;reach=mornings by email",
        ],
    );
    assert!(
        saved.starts_with("Saved value with Ana Müller (new)"),
        "{saved}"
    );
    ok(
        d,
        &[
            "capture",
            "--with",
            "carl jung",
            "--talked",
            "the weather",
            "--at",
            "yesterday",
        ],
    );

    let today = json(d, &["today"]);
    assert_eq!(today["thank_yous"].as_array().unwrap().len(), 1);
    assert_eq!(
        today["thank_yous"][0]["interaction"]["people"][0]["name"],
        "Ana Müller"
    );
    let intro = &today["intros"][0];
    assert_eq!(intro["name"], "Bob Stone");
    assert_eq!(
        (
            intro["will_introduce"].as_bool(),
            intro["may_use_name"].as_bool()
        ),
        (Some(true), Some(true))
    );
    assert_eq!(intro["reach"], "mornings by email");
    let tomorrow = (Local::now().date_naive() + Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    assert_eq!(today["upcoming"][0]["on"], tomorrow.as_str());
    assert!(
        today["follow_ups"].as_array().unwrap().is_empty(),
        "not due yet"
    );

    assert_eq!(
        names(&json(d, &["people", "--search", "DENTAL"])),
        ["Ana Müller"]
    );
    assert_eq!(
        names(&json(d, &["people", "--search", "mull"])),
        ["Ana Müller"]
    );
    assert_eq!(names(&json(d, &["people"])), ["Ana Müller", "carl jung"]);

    let diary = json(d, &["diary", "ana müller"]);
    let call = &diary["interactions"][0];
    assert_eq!(call["kind"], "value");
    assert_eq!(call["channel"], "video");
    assert_eq!(call["recommended"], "read The Mom Test");
    assert_eq!(call["next_step"], "send the deck");
    assert!(diary["last_value_call"].is_i64());
    let text = ok(d, &["diary", "Ana Müller"]);
    assert!(
        text.contains("They recommended: read The Mom Test"),
        "{text}"
    );

    let review = json(d, &["review"]);
    assert_eq!(
        review["this_week"]["value"].as_i64().unwrap()
            + review["last_week"]["value"].as_i64().unwrap(),
        1
    );
    assert_eq!(review["casual_only"][0]["person"]["name"], "carl jung");

    let thanked = ok(d, &["thanked", "ana MÜLLER"]);
    assert_eq!(thanked.trim(), "Marked 1 thank-you as sent.");
    assert!(json(d, &["today"])["thank_yous"]
        .as_array()
        .unwrap()
        .is_empty());

    let rid = intro["id"].as_str().unwrap();
    let moved = ok(d, &["referral", &rid[..8], "--status", "intro-made"]);
    assert!(moved.contains("added to your people"), "{moved}");
    assert!(json(d, &["today"])["intros"].as_array().unwrap().is_empty());
    let bob = json(d, &["diary", "Bob Stone"]);
    assert_eq!(bob["person"]["introduced_by"]["name"], "Ana Müller");

    let fid = today["upcoming"][0]["id"].as_str().unwrap();
    ok(d, &["move", &fid[..8], "yesterday"]);
    assert_eq!(json(d, &["today"])["follow_ups"][0]["overdue_days"], 1);
    ok(d, &["done", &fid[..8]]);
    let after = json(d, &["today"]);
    assert!(
        after["follow_ups"].as_array().unwrap().is_empty()
            && after["upcoming"].as_array().unwrap().is_empty()
    );
}

#[test]
fn today_shows_a_page_of_each_list_and_says_how_many_more() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for name in ["Ana", "Bob", "Cleo"] {
        ok(d, &["capture", "--with", name, "--thank-you"]);
    }
    let text = ok(d, &["today", "--limit", "2"]);
    assert!(text.contains("Thank-yous to send (3)"), "{text}");
    assert!(
        text.contains("… and 1 more (aftercall today --limit 3)"),
        "{text}"
    );
    let page = json(d, &["today", "--limit", "2"]);
    assert_eq!(page["counts"]["thank_yous"], 3);
    assert_eq!(page["thank_yous"].as_array().unwrap().len(), 2);
    assert_eq!(
        json(d, &["today"])["thank_yous"].as_array().unwrap().len(),
        3
    );
}

#[test]
fn delete_restore_and_rebuild_keep_the_data_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let saved = json(
        d,
        &["capture", "--with", "Ana", "--talked", "zeppelin leasing"],
    );
    let id = saved["interaction_id"].as_str().unwrap();
    ok(d, &["delete", &id[..8]]);
    assert!(json(d, &["people", "--search", "zeppelin"])
        .as_array()
        .unwrap()
        .is_empty());
    ok(d, &["restore", &id[..8]]);
    ok(d, &["rebuild"]);
    assert_eq!(
        names(&json(d, &["people", "--search", "zeppelin"])),
        ["Ana"]
    );
}

#[test]
fn bad_input_gets_one_clear_line_a_failure_code_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("data");
    for (args, expect) in [
        (
            vec!["capture", "--with", "  "],
            "say who the conversation was with",
        ),
        (
            vec!["capture", "--with", "Ana", "--kind", "banana"],
            "unknown kind 'banana'",
        ),
        (
            vec!["capture", "--with", "Ana", "--channel", "pigeon"],
            "unknown channel 'pigeon'",
        ),
        (
            vec!["capture", "--with", "Ana", "--follow-up", "2026-02-30"],
            "not a date on the calendar",
        ),
        (
            vec!["capture", "--with", "Ana", "--follow-up", "someday"],
            "cannot read the date 'someday'",
        ),
        (
            vec!["capture", "--with", "Ana", "--at", "noonish"],
            "cannot read the time 'noonish'",
        ),
        (
            vec!["capture", "--with", "Ana", "--referral", "Bob;perhaps"],
            "unknown referral flag 'perhaps'",
        ),
        (
            vec!["review", "--week", "13/13/2026"],
            "cannot read the date",
        ),
    ] {
        let err = fails(&d, &args);
        assert_eq!(err.lines().count(), 1, "one line for {args:?}: {err}");
        assert!(
            err.starts_with("aftercall: ") && err.contains(expect),
            "{args:?}: {err}"
        );
        assert!(!d.exists(), "{args:?} must not create the data directory");
    }
    ok(&d, &["capture", "--with", "Ana"]);
    let before = ok(&d, &["people", "--json"]);
    let err = fails(&d, &["thanked", "Nobody"]);
    assert!(err.contains("nobody called 'Nobody'"), "{err}");
    let err = fails(&d, &["done", "zz"]);
    assert!(err.contains("not a follow-up id"), "{err}");
    let err = fails(&d, &["referral", "abcd", "--status", "married"]);
    assert!(err.contains("unknown referral status 'married'"), "{err}");
    assert_eq!(before, ok(&d, &["people", "--json"]));
}

#[test]
fn an_unusable_data_directory_is_reported_plainly() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let err = fails(&file, &["today"]);
    assert!(err.contains("is a file, not a directory"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), b"x");
}

#[test]
fn the_data_directory_can_come_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(crate::support::aftercall_bin())
        .args(["capture", "--with", "Env Person"])
        .env("AFTERCALL_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(dir.path().join("aftercall.sqlite").exists());
    assert_eq!(names(&json(dir.path(), &["people"])), ["Env Person"]);
}

#[cfg(unix)]
#[test]
fn the_data_folder_store_its_log_and_exports_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let set = |p: &std::path::Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
    };
    let home = tempfile::tempdir().unwrap();
    let d = home.path().join("data");
    ok(
        &d,
        &[
            "capture",
            "--with",
            "Ana Müller",
            "--talked",
            "private notes",
        ],
    );
    let out = home.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let backup = out.join("backup.json");
    ok(
        &d,
        &[
            "export",
            "--format",
            "json",
            "--out",
            backup.to_str().unwrap(),
        ],
    );
    let diary = out.join("diary");
    std::fs::create_dir(&diary).unwrap();
    ok(
        &d,
        &["export", "--format", "md", "--out", diary.to_str().unwrap()],
    );

    let store = d.join("aftercall.sqlite");
    let wal = d.join("aftercall.sqlite-wal");
    let shm = d.join("aftercall.sqlite-shm");
    assert_eq!(mode(&d), 0o700, "data folder");
    assert_eq!(mode(&store), 0o600, "store");
    assert_eq!(mode(&backup), 0o600, "backup export");
    let pages: Vec<_> = std::fs::read_dir(&diary)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!pages.is_empty());
    for page in &pages {
        assert_eq!(mode(page), 0o600, "{}", page.display());
    }
    // The write-ahead log and shared memory exist while the store is open, as in
    // the app: SQLite gives them the store file's permissions.
    let open = rusqlite::Connection::open(&store).unwrap();
    let _: i64 = open
        .query_row("SELECT COUNT(*) FROM meta", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode(&wal), 0o600, "write-ahead log");
    assert_eq!(mode(&shm), 0o600, "shared memory");

    // A store left readable by everyone (as older versions made it) is narrowed
    // when it is next opened.
    for (path, wide) in [(&d, 0o755), (&store, 0o644), (&wal, 0o644), (&shm, 0o644)] {
        set(path, wide);
    }
    ok(&d, &["today"]);
    assert_eq!(mode(&d), 0o700, "data folder");
    for path in [&store, &wal, &shm] {
        assert_eq!(mode(path), 0o600, "{}", path.display());
    }
    drop(open);
}

#[test]
fn output_piped_into_a_reader_that_stops_early_ends_quietly() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Enough people that every listing is far larger than a pipe's buffer.
    let cards: String = (0..1500)
        .map(|i| {
            format!(
                "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Person Number {i}\r\nN:Number {i};Person;;;\r\nEMAIL:person{i}@example.com\r\nNOTE:met at the conference about pricing and clinics\r\nEND:VCARD\r\n"
            )
        })
        .collect();
    let vcf = dir.path().join("contacts.vcf");
    std::fs::write(&vcf, cards).unwrap();
    ok(d, &["import", vcf.to_str().unwrap()]);

    for args in [
        &["people", "--json"][..],
        &["people"][..],
        &["export", "--format", "vcf"][..],
    ] {
        // As `aftercall … | head -c 10`: ten bytes read, then the pipe is closed.
        let mut child = Command::new(crate::support::aftercall_bin())
            .arg("--data-dir")
            .arg(d)
            .args(args)
            .env_remove("AFTERCALL_DATA_DIR")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0u8; 10];
        stdout.read_exact(&mut first).unwrap();
        drop(stdout);
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("panicked") && stderr.trim().is_empty(),
            "aftercall {args:?} said: {stderr}"
        );
        assert!(out.status.success(), "aftercall {args:?}: {:?}", out.status);
    }
}

/// What a damaged store tells the user to do.
fn says_damaged_and_how_to_recover(stderr: &str) {
    assert!(stderr.contains("damaged"), "{stderr}");
    assert!(
        stderr.contains("recovery phrase") && stderr.contains("backup"),
        "{stderr}"
    );
    assert!(!stderr.contains("writable and not full"), "{stderr}");
}

#[test]
fn a_store_of_garbage_bytes_is_reported_damaged_and_takes_no_capture() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let store = d.join("aftercall.sqlite");
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 7 + 13) as u8).collect();
    std::fs::write(&store, &garbage).unwrap();

    says_damaged_and_how_to_recover(&fails(d, &["today"]));
    let refused = fails(d, &["capture", "--with", "Ana", "--talked", "lost?"]);
    says_damaged_and_how_to_recover(&refused);
    assert_eq!(
        std::fs::read(&store).unwrap(),
        garbage,
        "nothing was written"
    );
}

#[test]
fn a_truncated_store_is_reported_damaged_and_takes_no_capture() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for i in 0..40 {
        ok(
            d,
            &[
                "capture",
                "--with",
                &format!("Person {i}"),
                "--talked",
                &"a long conversation about pricing ".repeat(20),
            ],
        );
    }
    let store = d.join("aftercall.sqlite");
    let whole = std::fs::read(&store).unwrap();
    assert!(whole.len() > 64 * 1024, "{} bytes", whole.len());
    let half = &whole[..whole.len() / 2];
    std::fs::write(&store, half).unwrap();

    says_damaged_and_how_to_recover(&fails(d, &["people"]));
    says_damaged_and_how_to_recover(&fails(
        d,
        &["capture", "--with", "Ana", "--talked", "after the damage"],
    ));
    assert_eq!(std::fs::read(&store).unwrap(), half, "nothing was written");
}

/// Runs the command line as an unprivileged user: as root (tests run as root in CI)
/// permission bits stop nothing, so a read-only folder is only read-only for
/// someone else. Not root: runs as the current user.
#[cfg(unix)]
fn aftercall_unprivileged(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    let mut command = std::process::Command::new(crate::support::aftercall_bin());
    command
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("AFTERCALL_DATA_DIR");
    if running_as_root() {
        command.uid(NOBODY).gid(NOBODY);
    }
    command.output().expect("run aftercall")
}

#[cfg(unix)]
const NOBODY: u32 = 65_534;

#[cfg(unix)]
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    let probe = tempfile::tempfile().unwrap();
    probe.metadata().unwrap().uid() == 0
}

/// Hands `path` (and everything under it) to the unprivileged user.
#[cfg(unix)]
fn give_away(path: &std::path::Path) {
    if !running_as_root() {
        return;
    }
    std::os::unix::fs::chown(path, Some(NOBODY), Some(NOBODY)).unwrap();
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            give_away(&entry.unwrap().path());
        }
    }
}

#[cfg(unix)]
#[test]
fn a_read_only_data_folder_still_shows_and_exports_but_refuses_changes() {
    use std::os::unix::fs::PermissionsExt;
    let set = |p: &std::path::Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
    };
    let home = tempfile::tempdir().unwrap();
    set(home.path(), 0o755);
    let d = home.path().join("data");
    ok(
        &d,
        &[
            "capture",
            "--with",
            "Ana Müller",
            "--talked",
            "pricing for clinics",
            "--thank-you",
        ],
    );
    let out = home.path().join("out");
    std::fs::create_dir(&out).unwrap();
    give_away(&d);
    give_away(&out);
    let store = d.join("aftercall.sqlite");
    set(&store, 0o400);
    set(&d, 0o500);
    let before = std::fs::read(&store).unwrap();

    let run = |args: &[&str]| {
        let output = aftercall_unprivileged(&d, args);
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        (output.status.success(), stdout, stderr)
    };
    let (fine, today, err) = run(&["today"]);
    assert!(fine, "today: {err}");
    assert!(today.contains("Ana Müller"), "{today}");
    let (fine, people, err) = run(&["people", "--search", "clinics"]);
    assert!(
        fine && people.contains("Ana Müller"),
        "people: {people}{err}"
    );
    let (fine, diary, err) = run(&["diary", "Ana Müller"]);
    assert!(
        fine && diary.contains("pricing for clinics"),
        "diary: {diary}{err}"
    );
    let csv = out.join("conversations.csv");
    let (fine, _, err) = run(&["export", "--format", "csv", "--out", csv.to_str().unwrap()]);
    assert!(fine, "export: {err}");
    assert!(std::fs::read_to_string(&csv)
        .unwrap()
        .contains("pricing for clinics"));
    let backup = out.join("backup.json");
    let (fine, _, err) = run(&[
        "export",
        "--format",
        "json",
        "--out",
        backup.to_str().unwrap(),
    ]);
    assert!(fine, "backup: {err}");
    assert!(std::fs::read_to_string(&backup)
        .unwrap()
        .contains("aftercall-backup"));

    let (fine, _, err) = run(&["capture", "--with", "Bob", "--talked", "not saved"]);
    assert!(!fine);
    assert!(err.contains("the data folder is read-only"), "{err}");
    let (fine, _, err) = run(&["thanked", "Ana Müller"]);
    assert!(!fine);
    assert!(err.contains("the data folder is read-only"), "{err}");
    assert_eq!(
        std::fs::read(&store).unwrap(),
        before,
        "nothing was written"
    );

    set(&d, 0o700);
}

#[test]
fn import_tells_a_calendar_from_contacts_and_a_spreadsheet_by_what_the_file_holds() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Named .txt: the content decides, not the name.
    let yesterday = (chrono::Utc::now() - Duration::days(1)).format("%Y%m%d");
    let calendar = d.join("calendar.txt");
    std::fs::write(
        &calendar,
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:call-1@example.com\r\n\
             DTSTART:{yesterday}T150000Z\r\nDTEND:{yesterday}T153000Z\r\nSUMMARY:Intro call\r\n\
             ORGANIZER;CN=Me:mailto:me@example.com\r\n\
             ATTENDEE;CN=Rosa Diaz:mailto:rosa@diaz.example\r\nEND:VEVENT\r\n\
             BEGIN:VEVENT\r\nUID:broken\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        ),
    )
    .unwrap();
    let first = ok(
        d,
        &[
            "import",
            calendar.to_str().unwrap(),
            "--me",
            "me@example.com",
        ],
    );
    let lines: Vec<&str> = first.lines().collect();
    assert_eq!(lines.len(), 4, "{first}");
    assert!(lines[0].starts_with("line     3  added      "), "{first}");
    assert!(lines[0].contains(" 15:00 UTC  Intro call  "), "{first}");
    assert_eq!(
        lines[1],
        "guest  rosa@diaz.example Rosa Diaz  new: not among your people"
    );
    assert_eq!(lines[2], "line    11  skipped: the event has no DTSTART");
    assert_eq!(
        lines[3],
        "1 meetings added, 0 updated, 0 unchanged; 0 guests known, 1 new; 1 skipped"
    );
    let again = ok(
        d,
        &[
            "import",
            calendar.to_str().unwrap(),
            "--me",
            "me@example.com",
        ],
    );
    assert!(
        again.ends_with(
            "0 meetings added, 0 updated, 1 unchanged; 0 guests known, 1 new; 1 skipped\n"
        ),
        "{again}"
    );
    // The guest was offered, not added.
    assert_eq!(json(d, &["people"]), serde_json::json!([]));

    let contacts = d.join("contacts.txt");
    std::fs::write(
        &contacts,
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Rosa Diaz\r\nEMAIL:rosa@diaz.example\r\nEND:VCARD\r\n",
    )
    .unwrap();
    let added = ok(d, &["import", contacts.to_str().unwrap()]);
    assert!(added.contains("added      Rosa Diaz"), "{added}");
    let known = ok(
        d,
        &[
            "import",
            calendar.to_str().unwrap(),
            "--me",
            "me@example.com",
        ],
    );
    assert!(
        known.contains("\nguest  rosa@diaz.example Rosa Diaz  is "),
        "{known}"
    );
    assert!(known.contains("1 guests known, 0 new"), "{known}");

    let csv = d.join("Connections.csv");
    std::fs::write(
        &csv,
        "First Name,Last Name,Email Address\nAna,Lima,ana@lima.example\n",
    )
    .unwrap();
    let added = ok(d, &["import", csv.to_str().unwrap()]);
    assert!(added.contains("added      Ana Lima"), "{added}");
    let again = ok(d, &["import", csv.to_str().unwrap()]);
    assert!(again.contains("unchanged  Ana Lima"), "{again}");
}

#[test]
fn a_linkedin_export_imports_past_its_notes_skipping_a_bad_row_and_again_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/contacts/linkedin_connections.csv");
    let first = ok(d, &["import", file.to_str().unwrap()]);
    assert!(
        first.contains("line     9  skipped: the row has 9 fields where the header has 7"),
        "{first}"
    );
    assert!(
        first.contains("line     7  added      Chiara Bianchi"),
        "{first}"
    );
    assert!(
        first.ends_with("5 added, 0 updated, 0 unchanged, 1 card skipped, 0 lines skipped\n"),
        "{first}"
    );
    let again = ok(d, &["import", file.to_str().unwrap()]);
    assert!(
        again.ends_with("0 added, 0 updated, 5 unchanged, 1 card skipped, 0 lines skipped\n"),
        "{again}"
    );
}

#[test]
fn meetings_that_ended_wait_for_a_capture_until_dismissed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let when = |days: i64| (chrono::Utc::now() + Duration::days(days)).format("%Y%m%d");
    let event = |uid: &str, day: String, summary: &str, guest: &str| {
        format!(
            "BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTART:{day}T150000Z\r\nDTEND:{day}T153000Z\r\n\
             SUMMARY:{summary}\r\nLOCATION:https://meet.google.com/abc-defg-hij\r\n\
             ATTENDEE;CN=Me:mailto:me@example.com\r\n{guest}END:VEVENT\r\n"
        )
    };
    let calendar = d.join("calendar.ics");
    std::fs::write(
        &calendar,
        format!(
            "BEGIN:VCALENDAR\r\n{}{}{}END:VCALENDAR\r\n",
            event(
                "past@x",
                when(-1).to_string(),
                "Intro call",
                "ATTENDEE;CN=Rosa Diaz:mailto:rosa@diaz.example\r\n"
            ),
            event("alone@x", when(-2).to_string(), "Focus time", ""),
            event(
                "future@x",
                when(2).to_string(),
                "Pitch",
                "ATTENDEE:mailto:kim@example.com\r\n"
            ),
        ),
    )
    .unwrap();
    ok(
        d,
        &[
            "import",
            calendar.to_str().unwrap(),
            "--me",
            "me@example.com",
        ],
    );
    let listed = json(d, &["meetings"]);
    assert_eq!(listed["total"], 1, "{listed}");
    let meeting = &listed["meetings"][0];
    assert_eq!(meeting["summary"], "Intro call");
    assert_eq!(meeting["channel"], "video");
    assert_eq!(
        meeting["guests"],
        serde_json::json!([{"email": "rosa@diaz.example", "name": "Rosa Diaz", "person": null}])
    );
    let text = ok(d, &["meetings"]);
    let id = meeting["id"].as_str().unwrap();
    assert!(
        text.starts_with("How did it go? (1)\n  • Intro call — "),
        "{text}"
    );
    assert!(
        text.contains(&format!(", video with Rosa Diaz  [{}]", &id[..8])),
        "{text}"
    );

    let said = ok(d, &["meetings", "dismiss", &id[..8]]);
    assert_eq!(said, format!("Dismissed meeting {}.\n", &id[..8]));
    assert_eq!(ok(d, &["meetings"]), "No meeting waits for a capture.\n");
    assert_eq!(json(d, &["meetings"])["total"], 0);
    let unknown = fails(d, &["meetings", "dismiss", "ffff0000"]);
    assert!(
        unknown.contains("no meeting has an id starting with ffff0000"),
        "{unknown}"
    );
}

#[test]
fn a_cadence_puts_someone_on_today_once_they_are_past_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let talked = (chrono::Local::now() - Duration::days(20))
        .format("%Y-%m-%d")
        .to_string();
    ok(
        d,
        &[
            "capture", "--with", "Ana Lima", "--kind", "casual", "--at", &talked,
        ],
    );
    ok(d, &["capture", "--with", "Bo Chen", "--kind", "value"]);
    assert_eq!(
        ok(d, &["cadence", "Ana Lima", "fortnight"]),
        "Keeping in touch with Ana Lima every 2 weeks.\n"
    );
    ok(d, &["cadence", "Bo Chen", "month"]);
    let today = json(d, &["today"]);
    assert_eq!(today["counts"]["keep_in_touch"], 1, "{today}");
    let due = &today["keep_in_touch"][0];
    assert_eq!(due["name"], "Ana Lima");
    assert_eq!(due["cadence"], "2w");
    assert_eq!(due["overdue_days"], 6);
    let text = ok(d, &["today"]);
    assert!(
        text.contains(
            "Keep in touch (1)\n  • Ana Lima — 6 days overdue (every 2 weeks), last talked "
        ),
        "{text}"
    );
    // A call resets her clock.
    ok(d, &["capture", "--with", "Ana Lima", "--kind", "value"]);
    assert_eq!(json(d, &["today"])["counts"]["keep_in_touch"], 0);
    // Her page says how often; off stops it.
    assert_eq!(json(d, &["diary", "Ana Lima"])["person"]["cadence"], "2w");
    assert_eq!(
        ok(d, &["cadence", "Ana Lima", "off"]),
        "No reminder to keep in touch with Ana Lima.\n"
    );
    assert_eq!(
        json(d, &["diary", "Ana Lima"])["person"]["cadence"],
        Value::Null
    );
    let bad = fails(d, &["cadence", "Ana Lima", "soon"]);
    assert!(bad.contains("'soon' is not a cadence"), "{bad}");
    let nobody = fails(d, &["cadence", "Zed", "2w"]);
    assert!(nobody.contains("nobody called 'Zed'"), "{nobody}");
}

#[test]
fn a_weekly_goal_counts_value_calls_and_a_value_call_is_scheduled_as_a_follow_up() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_eq!(ok(d, &["goal", "3"]), "Goal: 3 value calls a week.\n");
    let review = ok(d, &["review"]);
    assert!(
        review.contains("0 of 3 value calls this week: 3 to go."),
        "{review}"
    );
    ok(d, &["capture", "--with", "Ana Lima", "--kind", "value"]);
    ok(
        d,
        &[
            "capture", "--with", "Bo Chen", "--kind", "casual", "--talked", "football",
        ],
    );
    assert_eq!(json(d, &["review"])["value_goal"], 3);
    let review = ok(d, &["review"]);
    assert!(
        review.contains("1 of 3 value calls this week: 2 to go."),
        "{review}"
    );
    let bad = fails(d, &["goal", "lots"]);
    assert!(
        bad.contains("'lots' is not a number of value calls a week"),
        "{bad}"
    );
    let too_many = fails(d, &["goal", "500"]);
    assert!(
        too_many.contains("a weekly goal is 1 to 100 value calls, not 500"),
        "{too_many}"
    );
    assert_eq!(
        json(d, &["review"])["value_goal"],
        3,
        "a refused goal changes nothing"
    );

    // Bo has only chatted: one command books a value call as a follow-up.
    let said = ok(d, &["value-call", "Bo Chen", "--on", "tomorrow"]);
    assert!(
        said.starts_with("Value call with Bo Chen: follow-up "),
        "{said}"
    );
    let today = json(d, &["today"]);
    let upcoming = &today["upcoming"][0]["interaction"];
    assert_eq!(upcoming["people"][0]["name"], "Bo Chen", "{today}");
    assert_eq!(upcoming["next_step"], "Book a value call");
    assert_eq!(upcoming["talked_about"], "football");
    let nobody = fails(d, &["value-call", "Zed", "--on", "tomorrow"]);
    assert!(nobody.contains("nobody called 'Zed'"), "{nobody}");
    assert_eq!(ok(d, &["goal", "off"]), "No weekly goal.\n");
    assert!(!ok(d, &["review"]).contains("value calls this week"));
}

#[test]
fn duplicates_are_listed_and_merged_by_name_or_id() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let contacts = d.join("contacts.vcf");
    std::fs::write(
        &contacts,
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Robert Stone\r\nEMAIL:bob@stone.example\r\nEND:VCARD\r\n\
         BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bob Stone\r\nEMAIL:BOB@stone.example\r\nTEL:+41 79 111 22 33\r\nEND:VCARD\r\n",
    )
    .unwrap();
    ok(d, &["import", contacts.to_str().unwrap()]);
    ok(d, &["capture", "--with", "Bob Stone", "--talked", "hiring"]);
    ok(
        d,
        &["capture", "--with", "Robert Stone", "--talked", "pricing"],
    );
    ok(d, &["capture", "--with", "Cleo Park", "--talked", "grants"]);

    let listed = json(d, &["duplicates"]);
    let pairs = listed.as_array().unwrap();
    assert_eq!(pairs.len(), 1, "{listed}");
    assert_eq!(pairs[0]["reason"], "same_email");
    let text = ok(d, &["duplicates"]);
    assert!(text.starts_with("same email  "), "{text}");
    assert!(text.contains("aftercall merge "), "{text}");

    // Unknown, the same person twice, and a name two people share are refused.
    let unknown = fails(d, &["merge", "Robert Stone", "Nobody Here"]);
    assert!(unknown.contains("nobody called 'Nobody Here'"), "{unknown}");
    let same = fails(d, &["merge", "Robert Stone", "robert  stone"]);
    assert!(same.contains("already one person"), "{same}");
    let people = json(d, &["people"]);
    let bob = people
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Bob Stone")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let merged = ok(d, &["merge", "Robert Stone", &bob[..8]]);
    assert!(
        merged.starts_with(&format!("Merged {} into Robert Stone (", &bob[..8])),
        "{merged}"
    );
    assert!(merged.trim_end().ends_with("2 conversations."), "{merged}");
    assert_eq!(names(&json(d, &["people"])).len(), 2);
    assert_eq!(json(d, &["duplicates"]), serde_json::json!([]));
    assert_eq!(ok(d, &["duplicates"]), "No likely duplicates.\n");
    // The merged-away id still leads to the person kept.
    let diary = json(d, &["diary", &bob[..8]]);
    assert_eq!(diary["person"]["name"], "Robert Stone");
    assert_eq!(diary["person"]["phones"][0], "+41 79 111 22 33");
    assert_eq!(diary["interactions"].as_array().unwrap().len(), 2);
    // Two people of one name: the name is ambiguous, the ids are not.
    let twins = d.join("twins.vcf");
    std::fs::write(
        &twins,
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:dan-1\r\nFN:Dan Roe\r\nEND:VCARD\r\n\
         BEGIN:VCARD\r\nVERSION:3.0\r\nUID:dan-2\r\nFN:Dan Roe\r\nEND:VCARD\r\n",
    )
    .unwrap();
    ok(d, &["import", twins.to_str().unwrap()]);
    let people = json(d, &["people"]);
    let dans: Vec<String> = people
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"] == "Dan Roe")
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(dans.len(), 2, "{people}");
    let ambiguous = fails(d, &["merge", "Dan Roe", "Robert Stone"]);
    assert!(
        ambiguous.contains("2 people are called 'Dan Roe'"),
        "{ambiguous}"
    );
    ok(d, &["merge", &dans[0], &dans[1]]);
    let mut left = names(&json(d, &["people"]));
    left.sort();
    assert_eq!(left, ["Cleo Park", "Dan Roe", "Robert Stone"]);
}

#[test]
fn files_are_attached_listed_saved_byte_for_byte_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let saved = json(
        d,
        &["capture", "--with", "Ana Lopez", "--talked", "the deck"],
    );
    let conversation = saved["interaction_id"].as_str().unwrap();
    let files = tempfile::tempdir().unwrap();
    let photo: Vec<u8> = (0..700_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let photo_path = files.path().join("card.jpg");
    std::fs::write(&photo_path, &photo).unwrap();
    let deck_path = files.path().join("deck.pdf");
    std::fs::write(&deck_path, b"%PDF-1.7 the deck").unwrap();

    let line = ok(d, &["attach", "Ana Lopez", photo_path.to_str().unwrap()]);
    assert!(line.starts_with("Attached card.jpg (700.0 kB)"), "{line}");
    ok(
        d,
        &[
            "attach",
            "ana lopez",
            deck_path.to_str().unwrap(),
            "--to",
            &conversation[..8],
        ],
    );

    let list = json(d, &["attachments", "Ana Lopez"]);
    let list = list.as_array().unwrap();
    assert_eq!(names(&Value::Array(list.clone())), ["card.jpg", "deck.pdf"]);
    assert_eq!(list[0]["media_type"], "image/jpeg");
    assert_eq!(list[0]["kind"], "image");
    assert_eq!(list[0]["owner"]["kind"], "person");
    assert_eq!(list[1]["media_type"], "application/pdf");
    assert_eq!(list[1]["owner"]["kind"], "conversation");
    assert_eq!(list[1]["owner"]["id"], conversation);
    assert_eq!(list[0]["downloaded"], true);
    let card_id = list[0]["id"].as_str().unwrap().to_string();
    let deck_id = list[1]["id"].as_str().unwrap().to_string();
    let lines = ok(d, &["attachments", "Ana Lopez"]);
    assert!(
        lines.contains(&card_id) && lines.contains("deck.pdf"),
        "{lines}"
    );
    let diary = ok(d, &["diary", "Ana Lopez"]);
    assert!(diary.contains("Attached: card.jpg"), "{diary}");
    assert!(diary.contains("Attached: deck.pdf"), "{diary}");

    let out = files.path().join("copy.jpg");
    ok(
        d,
        &[
            "attachment",
            "save",
            &card_id[..8],
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(std::fs::read(&out).unwrap(), photo);
    // Into a folder: under its own name.
    let folder = tempfile::tempdir().unwrap();
    ok(
        d,
        &[
            "attachment",
            "save",
            &deck_id,
            "--out",
            folder.path().to_str().unwrap(),
        ],
    );
    assert_eq!(
        std::fs::read(folder.path().join("deck.pdf")).unwrap(),
        b"%PDF-1.7 the deck"
    );

    // A backup brings them back byte for byte; the Markdown export writes them
    // beside its files, where its links point.
    let backup = files.path().join("backup.json");
    ok(
        d,
        &[
            "export",
            "--format",
            "json",
            "--out",
            backup.to_str().unwrap(),
        ],
    );
    let restored = tempfile::tempdir().unwrap();
    ok(restored.path(), &["restore", backup.to_str().unwrap()]);
    let again = files.path().join("again.jpg");
    ok(
        restored.path(),
        &[
            "attachment",
            "save",
            &card_id,
            "--out",
            again.to_str().unwrap(),
        ],
    );
    assert_eq!(std::fs::read(&again).unwrap(), photo);
    let md = tempfile::tempdir().unwrap();
    ok(
        d,
        &[
            "export",
            "--format",
            "md",
            "--out",
            md.path().to_str().unwrap(),
        ],
    );
    let page = std::fs::read_dir(md.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "md"))
        .unwrap();
    let page = std::fs::read_to_string(page).unwrap();
    let link = format!("attachments/{}-card.jpg", &card_id[..8]);
    assert!(page.contains(&format!("[card.jpg]({link})")), "{page}");
    assert_eq!(std::fs::read(md.path().join(&link)).unwrap(), photo);

    ok(d, &["attachment", "remove", &card_id]);
    assert_eq!(names(&json(d, &["attachments", "Ana Lopez"])), ["deck.pdf"]);
    let err = fails(
        d,
        &[
            "attachment",
            "save",
            &card_id,
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(err.contains("no attachment"), "{err}");
    let err = fails(d, &["attach", "Ana Lopez", "/no/such/file.jpg"]);
    assert!(err.contains("cannot read"), "{err}");
    let err = fails(
        d,
        &[
            "attach",
            "Ana Lopez",
            deck_path.to_str().unwrap(),
            "--type",
            "pdf",
        ],
    );
    assert!(err.contains("not a media type"), "{err}");
}
