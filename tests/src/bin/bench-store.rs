//! Benchmark of the local store: builds a realistic, seeded store and prints capture
//! latency, open + Today, search, diary, rebuild and bytes on disk.
//!
//! `cargo run --release -p aftercall-tests --bin bench-store -- [PEOPLE] [INTERACTIONS] [--keep PATH] [--capture-only]`
//! (default 10000 100000). Figures go to standard output as a Markdown table, each
//! line as soon as it is measured. With `--keep PATH` the generated store is kept at
//! PATH, and a later run with the same PATH measures it again instead of generating
//! (generating 100,000 durable captures takes minutes). `--capture-only` stops after
//! the capture figures.

use std::path::Path;
use std::time::{Duration, Instant};

use aftercall_shared::env::{ManualClock, SeededEntropy};
use aftercall_shared::Store;
use aftercall_tests::generate::{Gen, FIRST, LAST};
use chrono::{TimeZone, Utc};

fn open(path: &Path, clock: &ManualClock, seed: u64) -> Store {
    Store::open(
        path,
        Box::new(clock.clone()),
        Box::new(SeededEntropy::new(seed)),
    )
    .expect("open store")
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let idx = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[idx]
}

/// "p50 / p99" of the samples, in milliseconds.
fn p50_p99(samples: &mut [Duration]) -> String {
    format!(
        "{} / {}",
        ms(percentile(samples, 0.5)),
        ms(percentile(samples, 0.99))
    )
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

#[allow(clippy::print_stdout)]
fn main() {
    let mut keep = None;
    let mut capture_only = false;
    let mut numbers = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--keep" {
            keep = Some(std::path::PathBuf::from(args.next().expect("--keep PATH")));
        } else if arg == "--capture-only" {
            capture_only = true;
        } else {
            numbers.push(
                arg.parse::<usize>()
                    .expect("PEOPLE and INTERACTIONS are numbers"),
            );
        }
    }
    let people = numbers.first().copied().unwrap_or(10_000);
    let interactions = numbers.get(1).copied().unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = keep.unwrap_or_else(|| dir.path().join("bench.sqlite"));
    let reuse = path.exists();
    let clock = ManualClock::at(Utc.with_ymd_and_hms(2025, 1, 1, 9, 0, 0).unwrap());
    let mut gen = Gen(SeededEntropy::new(42));
    let names: Vec<String> = (0..people)
        .map(|i| format!("{} {} {}", gen.pick(FIRST), gen.pick(LAST), i))
        .collect();

    println!("## Local store ({people} people, {interactions} interactions, seed 42)\n");
    println!("| measure | figure | target |");
    println!("|---|---|---|");

    // A kept store was generated from seed 1: a new seed keeps new ids from colliding.
    let seed = if reuse {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(3)
    } else {
        1
    };
    let t = Instant::now();
    let mut store = open(&path, &clock, seed);
    if reuse {
        row(
            "open a kept store (migrating it if its schema is older)",
            ms(t.elapsed()),
            "—",
        );
    } else {
        let started = Instant::now();
        for i in 0..interactions {
            let person = if i < people {
                names[i].clone()
            } else {
                names[gen.below(people)].clone()
            };
            let draft = gen.draft(&person);
            store.capture(&draft).expect("capture");
            if i % 100 == 99 {
                store.checkpoint().expect("checkpoint");
            }
            clock.advance(chrono::Duration::minutes(7));
        }
        row(
            "generate store (durable captures)",
            format!("{:.1} s", started.elapsed().as_secs_f64()),
            "—",
        );
    }

    // As in the app, the upkeep (index merging, folding the log into the file) runs
    // between saves, not inside one.
    let mut capture = Vec::new();
    let mut fold = Vec::new();
    for _ in 0..1000 {
        let person = names[gen.below(people)].clone();
        let draft = gen.draft(&person);
        let t = Instant::now();
        store.capture(&draft).expect("capture");
        capture.push(t.elapsed());
        let t = Instant::now();
        store.checkpoint().expect("checkpoint");
        fold.push(t.elapsed());
    }
    let mut slowest: Vec<(Duration, usize)> = capture.iter().copied().zip(1..).collect::<Vec<_>>();
    slowest.sort();
    let slowest: Vec<String> = slowest
        .iter()
        .rev()
        .take(5)
        .map(|(d, i)| format!("{} (#{i})", ms(*d)))
        .collect();
    row(
        "slowest five captures (capture number)",
        slowest.join(", "),
        "—",
    );
    row(
        "capture p50 / p99 / max (durable commit, 1,000 captures)",
        format!(
            "{} / {} / {}",
            ms(percentile(&mut capture, 0.5)),
            ms(percentile(&mut capture, 0.99)),
            ms(*capture.iter().max().unwrap())
        ),
        "p99 ≤ 3 ms",
    );
    row(
        "upkeep after each capture (index merge + log fold, off the save path) p50 / p99",
        p50_p99(&mut fold),
        "—",
    );
    drop(store);
    if capture_only {
        return;
    }

    let today_date = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    let mut open_today = Vec::new();
    let mut today_counts = (0, 0, 0);
    for i in 0..20 {
        let t = Instant::now();
        let s = open(&path, &clock, 100 + i);
        let today = s.today(today_date.into()).expect("today");
        open_today.push(t.elapsed());
        today_counts = (
            today.counts.thank_yous,
            today.counts.follow_ups,
            today.counts.intros,
        );
    }
    row(
        "open store + load Today, median / max of 20",
        format!(
            "{} / {}",
            ms(percentile(&mut open_today, 0.5)),
            ms(*open_today.iter().max().unwrap())
        ),
        "≤ 50 ms",
    );
    let mut store = open(&path, &clock, 2);

    let shapes = [
        ("common word", "pricing"),
        ("two word prefixes", "pric hir"),
        ("rare name prefix", "zeb"),
        ("accent folded", "zurich cafe"),
        ("one letter", "m"),
        ("no match", "xylophone"),
    ];
    for (shape, query) in shapes {
        let mut samples = Vec::new();
        let mut hits = 0;
        for _ in 0..200 {
            let t = Instant::now();
            hits = store.search_people(query, 50).expect("search").len();
            samples.push(t.elapsed());
        }
        row(
            &format!("search \"{query}\" ({shape}, {hits} people shown) p50 / p99"),
            p50_p99(&mut samples),
            "≤ 5 ms / ≤ 20 ms",
        );
    }

    let mut diary = Vec::new();
    let list = store.people(people).expect("people");
    for _ in 0..300 {
        let id = &list[gen.below(list.len())].id;
        let t = Instant::now();
        let d = store.diary(id).expect("diary");
        diary.push(t.elapsed());
        assert!(!d.person.name.is_empty());
    }
    row("diary load p50 / p99", p50_p99(&mut diary), "—");

    let t = Instant::now();
    store.rebuild_read_model().expect("rebuild");
    row(
        "rebuild read model",
        format!("{:.1} s", t.elapsed().as_secs_f64()),
        "≤ 30 s",
    );
    let total = store.interaction_count().expect("count");
    // Closing the last connection folds the log into the main file.
    drop(store);
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(path.with_extension("sqlite-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
    row(
        &format!("bytes on disk per interaction ({total} interactions)"),
        format!("{}", bytes / total.max(1) as u64),
        "—",
    );
    println!(
        "\nToday held {} thank-yous, {} follow-ups due, {} intros.",
        today_counts.0, today_counts.1, today_counts.2
    );
}

#[allow(clippy::print_stdout)]
fn row(measure: &str, figure: String, target: &str) {
    println!("| {measure} | {figure} | {target} |");
}
