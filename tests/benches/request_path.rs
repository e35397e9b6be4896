//! A capture through the screens' request path (encode, the backend's channel and
//! thread, decode the reply) next to the same capture called on the store directly,
//! on one store file of the size given (default: the 100,000-conversation store).
//!
//! `cargo bench -p aftercall-tests --bench request_path -- [--keep DIR] [PEOPLE INTERACTIONS]`
//! DIR holds `aftercall.sqlite`; a kept one (from an earlier run, or
//! `bench-store --keep DIR/aftercall.sqlite`) is measured again instead of generated.
//! The two paths alternate, capture by capture, and the store's upkeep runs after
//! each, off both paths, as in the app.

use std::time::{Duration, Instant};

use aftercall_app::backend::Backend;
use aftercall_shared::api::Request;
use aftercall_shared::commands::Captured;
use aftercall_shared::env::{ManualClock, SeededEntropy};
use aftercall_shared::Store;
use aftercall_tests::generate::{Gen, FIRST, LAST};
use chrono::{TimeZone, Utc};

const ROUNDS: usize = 1000;

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

#[allow(clippy::print_stdout)]
fn main() {
    let mut keep = None;
    let mut numbers = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--keep" => keep = Some(std::path::PathBuf::from(args.next().expect("--keep DIR"))),
            "--bench" => {}
            n => numbers.push(
                n.parse::<usize>()
                    .expect("PEOPLE and INTERACTIONS are numbers"),
            ),
        }
    }
    let people = numbers.first().copied().unwrap_or(10_000);
    let interactions = numbers.get(1).copied().unwrap_or(100_000);
    let temp = tempfile::tempdir().expect("temp dir");
    let dir = keep.unwrap_or_else(|| temp.path().to_path_buf());
    std::fs::create_dir_all(&dir).expect("data dir");
    let path = dir.join(aftercall_app::data::STORE_FILE);
    let reuse = path.exists();
    let clock = ManualClock::at(Utc.with_ymd_and_hms(2025, 1, 1, 9, 0, 0).unwrap());
    let mut gen = Gen(SeededEntropy::new(7));
    let names: Vec<String> = (0..people)
        .map(|i| format!("{} {} {}", gen.pick(FIRST), gen.pick(LAST), i))
        .collect();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(3);
    let mut store = Store::open(
        &path,
        Box::new(clock.clone()),
        Box::new(SeededEntropy::new(seed)),
    )
    .expect("open store");
    if !reuse {
        let started = Instant::now();
        for i in 0..interactions {
            let person = names[if i < people { i } else { gen.below(people) }].clone();
            store.capture(&gen.draft(&person)).expect("capture");
            if i % 100 == 99 {
                store.checkpoint().expect("checkpoint");
            }
            clock.advance(chrono::Duration::minutes(7));
        }
        eprintln!(
            "generated {interactions} conversations in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let backend = Backend::start(dir.clone(), None);
    runtime
        .block_on(backend.opened())
        .expect("the backend opens the store");
    let mut direct = Vec::with_capacity(ROUNDS);
    let mut requested = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        let who = gen.below(people);
        let draft = gen.draft(&names[who]);
        // Alternate which path goes first, so neither always follows the upkeep.
        for path in [round % 2, 1 - round % 2] {
            let draft = draft.clone();
            if path == 0 {
                let t = Instant::now();
                store.capture(&draft).expect("direct capture");
                direct.push(t.elapsed());
            } else {
                let request = Request::Capture(draft);
                let t = Instant::now();
                runtime
                    .block_on(backend.get::<Captured>(&request))
                    .expect("requested capture");
                requested.push(t.elapsed());
            }
            store.checkpoint().expect("checkpoint");
        }
    }
    let (d50, d99) = (percentile(&mut direct, 0.5), percentile(&mut direct, 0.99));
    let (r50, r99) = (
        percentile(&mut requested, 0.5),
        percentile(&mut requested, 0.99),
    );
    println!("## Capture through the request path ({people} people, {interactions}+ conversations, {ROUNDS} captures each)\n");
    println!("| path | p50 | p99 |");
    println!("|---|---|---|");
    println!("| direct `Store::capture` | {} | {} |", ms(d50), ms(d99));
    println!(
        "| request: encode → backend thread → reply | {} | {} |",
        ms(r50),
        ms(r99)
    );
    println!(
        "| difference (target: p99 within 0.3 ms) | {} | {} |",
        ms(r50.saturating_sub(d50)),
        ms(r99.saturating_sub(d99))
    );
}
