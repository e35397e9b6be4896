//! Attaching a 5 MB photo until it is durable (target ≤ 150 ms): the content hashed,
//! written as a blob in 256 KiB rows and the reference added to the person's document,
//! in one transaction committed with `synchronous = FULL`.
//!
//! `cargo run --release -p aftercall-shared --example bench_attach`
//!
//! Prints a Markdown table row: the median of 15 attachments (each different content,
//! so none is deduplicated) to one person in a store in a temporary directory, with
//! a checkpoint between them as the app does after a save.

#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use aftercall_shared::commands::{CaptureDraft, PersonRef};
use aftercall_shared::env::{Entropy, ManualClock, SeededEntropy};
use aftercall_shared::model::{AttachmentOwner, MediaType};
use aftercall_shared::Store;
use chrono::{TimeZone, Utc};

const PHOTO: usize = 5 * 1000 * 1000;
const RUNS: usize = 15;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut store = Store::open(
        &dir.path().join("store.sqlite"),
        Box::new(ManualClock::at(
            Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap(),
        )),
        Box::new(SeededEntropy::new(5)),
    )
    .expect("open the store");
    let ana = store
        .capture(&CaptureDraft {
            people: vec![PersonRef::Named("Ana Lopez".into())],
            ..Default::default()
        })
        .expect("capture")
        .people[0]
        .id
        .clone();
    let owner = AttachmentOwner::Person(ana);
    let jpeg: MediaType = "image/jpeg".parse().expect("a media type");
    let mut rng = SeededEntropy::new(42);
    let mut samples = Vec::with_capacity(RUNS);
    for n in 0..RUNS {
        let mut photo = vec![0u8; PHOTO];
        rng.fill(&mut photo);
        let started = Instant::now();
        store
            .attach(&owner, &format!("photo-{n}.jpg"), &jpeg, &photo)
            .expect("attach");
        samples.push(started.elapsed());
        store.checkpoint().expect("checkpoint");
    }
    println!("| Measure | Figure | Target |");
    println!("|---|---|---|");
    println!(
        "| Attach a 5 MB photo, until durable | {} (median of {RUNS}) | ≤ 150 ms |",
        ms(median(samples))
    );
}
