//! Loading an account snapshot (a checkpoint's plaintext) into a new device's empty
//! store: the part of a bootstrap from a checkpoint that is not the network.
//!
//! `AFTERCALL_BENCH_SNAPSHOT=100000 cargo run --release -p aftercall-shared --features device --example bench_snapshot`
//!
//! One store captures that many conversations with 500 people (kept between runs in
//! the temporary directory), takes its snapshot, and it is loaded into a fresh
//! store three times; prints the snapshot's size and each load's time.

#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use aftercall_shared::commands::{CaptureDraft, PersonRef};
use aftercall_shared::env::{ManualClock, SeededEntropy};
use aftercall_shared::model::InteractionKind;
use aftercall_shared::Store;
use chrono::{TimeZone, Utc};

fn open(dir: &std::path::Path, seed: u64) -> Store {
    Store::open(
        &dir.join("store.sqlite"),
        Box::new(ManualClock::at(
            Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap(),
        )),
        Box::new(SeededEntropy::new(seed)),
    )
    .unwrap()
}

fn snapshot_of(n: usize) -> (Vec<(String, u64)>, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path(), 1);
    let people: Vec<String> = (0..500).map(|i| format!("Person {i}")).collect();
    let started = Instant::now();
    for i in 0..n {
        store
            .capture(&CaptureDraft {
                people: vec![PersonRef::Named(people[i % people.len()].clone())],
                kind: InteractionKind::Value,
                talked_about: format!("bootstrap conversation {i}"),
                ..Default::default()
            })
            .unwrap();
    }
    eprintln!("captured {n} in {:.1?}", started.elapsed());
    let snapshot = store.account_snapshot().unwrap().unwrap();
    (snapshot.covers, snapshot.body)
}

fn main() {
    let n: usize = std::env::var("AFTERCALL_BENCH_SNAPSHOT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    // The snapshot is kept between runs: capturing takes longer than loading.
    let cache = std::env::temp_dir().join(format!("aftercall-bench-snapshot-{n}"));
    let (covers, body) = match (
        std::fs::read_to_string(cache.with_extension("covers")),
        std::fs::read(cache.with_extension("cbor")),
    ) {
        (Ok(covers), Ok(body)) => {
            let covers = covers
                .lines()
                .filter_map(|l| l.split_once(' '))
                .map(|(d, s)| (d.to_string(), s.parse().unwrap()))
                .collect();
            (covers, body)
        }
        _ => {
            let (covers, body) = snapshot_of(n);
            let text: String = covers.iter().map(|(d, s)| format!("{d} {s}\n")).collect();
            std::fs::write(cache.with_extension("covers"), text).unwrap();
            std::fs::write(cache.with_extension("cbor"), &body).unwrap();
            (covers, body)
        }
    };
    let runs: u64 = std::env::var("AFTERCALL_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let mut times: Vec<Duration> = Vec::new();
    for run in 0..runs {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open(dir.path(), 10 + run);
        let started = Instant::now();
        let loaded = store.load_account_snapshot(&covers, &body).unwrap();
        let docs = loaded.documents;
        assert_eq!(loaded.read_model, aftercall_shared::ReadModelFrom::Copy);
        let took = started.elapsed();
        println!("load of {docs} documents, {} bytes: {took:.2?}", body.len());
        times.push(took);
    }
    times.sort();
    println!("median {:.2?} of {runs}", times[times.len() / 2]);
}
