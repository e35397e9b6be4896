//! A saved note survives a crash the instant Save returns.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use aftercall_shared::env::{ManualClock, SeededEntropy};
use aftercall_shared::Store;

/// Runs `program` (a loop writing to the store at `path` and printing "ID N" for
/// each write that returned) `runs` times, each killed with SIGKILL after a random
/// wait of `wait.0` ms plus up to `wait.1`; returns every reported (id, n, run).
fn kill_at_random_moments(
    program: &str,
    path: &std::path::Path,
    seed: u64,
    runs: u64,
    wait: (u64, u64),
) -> Vec<(String, u64, u64)> {
    let mut rng = SeededEntropy::new(seed);
    let mut confirmed = Vec::new();
    for run in 0..runs {
        let mut child = Command::new(program)
            .arg(path)
            .arg(run.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start {program}: {e}"));
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<String>>()
        });
        std::thread::sleep(Duration::from_millis(wait.0 + rng.next_u64() % wait.1));
        child.kill().expect("SIGKILL");
        child.wait().unwrap();
        for line in reader.join().unwrap() {
            let (id, n) = line.split_once(' ').expect("id and number");
            confirmed.push((id.to_string(), n.parse().unwrap(), run));
        }
    }
    assert!(
        confirmed.len() as u64 > runs,
        "{program} wrote before being killed"
    );
    confirmed
}

fn open(path: &std::path::Path) -> Store {
    Store::open(
        path,
        Box::new(ManualClock::at(chrono::Utc::now())),
        Box::new(SeededEntropy::new(1)),
    )
    .unwrap()
}

/// Starts a process capturing in a loop, kills it with SIGKILL at a random moment,
/// many times over the same store; every capture it reported as saved must be there.
#[test]
fn captures_that_returned_survive_sigkill_at_random_moments() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite");
    let confirmed = kill_at_random_moments(
        env!("CARGO_BIN_EXE_capture-loop"),
        &path,
        0xC0FFEE,
        30,
        (20, 300),
    );
    let store = open(&path);
    for (id, n, run) in &confirmed {
        let (full, _) = store
            .resolve_doc(id)
            .unwrap_or_else(|e| panic!("capture {n} of run {run} lost: {e}"));
        let person = store.find_person(&format!("Person {}", n % 37)).unwrap();
        let found = store
            .search_people(&format!("capture {n} of seed {run}"), 100)
            .unwrap();
        assert!(
            found.iter().any(|p| p.id == person),
            "capture {n} of run {run} not searchable"
        );
        let diary = store.diary(&person).unwrap();
        let row = diary
            .interactions
            .iter()
            .find(|i| i.id.as_str() == full.as_str())
            .expect("in the diary");
        assert!(row
            .talked_about
            .starts_with(&format!("capture {n} of seed {run}:")));
        assert_eq!(
            row.referrals[0].name,
            format!("Referral {n}"),
            "written whole"
        );
    }
    // The own log holds one entry per capture that landed, with no holes.
    let head = store.own_log_head().unwrap();
    assert!(head >= confirmed.len() as u64);
    assert_eq!(
        store.own_log_after(0, usize::MAX >> 1).unwrap().len() as u64,
        head
    );
}

/// Starts a process attaching files in a loop, kills it with SIGKILL at a random
/// moment, many times over the same store: every attachment there is whole, every one
/// it reported is there with its content, and no content is left that nothing
/// refers to.
#[test]
fn attachments_are_whole_after_sigkill_at_random_moments() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite");
    let confirmed = kill_at_random_moments(
        env!("CARGO_BIN_EXE_attach-loop"),
        &path,
        0xA77AC4,
        20,
        (30, 400),
    );
    let store = open(&path);
    for (id, n, run) in &confirmed {
        let opened = store
            .open_attachment(&id.as_str().into())
            .unwrap_or_else(|e| panic!("attachment {n} of run {run} lost: {e}"));
        assert_eq!(
            opened.content.as_deref(),
            Some(aftercall_tests::attachment_content(*run, *n).as_slice()),
            "attachment {n} of run {run} whole"
        );
    }
    // Every attachment that appeared, printed or not, is whole.
    let mut seen = 0;
    for person in store.people(1_000).unwrap() {
        for row in store.person_attachments(&person.id).unwrap() {
            let content = store
                .blob(&row.blob)
                .unwrap()
                .unwrap_or_else(|| panic!("{} points to missing content", row.name));
            assert_eq!(content.len() as u64, row.size);
            assert_eq!(aftercall_shared::model::BlobHash::of(&content), row.blob);
            seen += 1;
        }
    }
    assert!(seen >= confirmed.len(), "{seen} of {}", confirmed.len());
    assert_eq!(
        store.collect_blobs().unwrap(),
        0,
        "no content left unreferenced"
    );
}
