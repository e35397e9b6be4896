//! Sync benchmarks (not timed tests): run with
//! `cargo bench -p aftercall-tests --bench sync`; figures are printed and recorded
//! in docs/benchmarks.md, section "Sync".
//!
//! Set `AFTERCALL_BENCH_DOCS` (default 10000), `AFTERCALL_BENCH_BOOTSTRAP`
//! (interactions, default 10000), `AFTERCALL_BENCH_CHECKPOINT` (interactions,
//! default 10000) and `AFTERCALL_BENCH_CONTACTS` (cards, default 10000) to scale.
//! Names after `--` run only those benchmarks: `reconnect`, `propagation`,
//! `bootstrap`, `checkpoint`, `contacts`, `attachments` (100 attachments of 1 MB
//! from one device to another through the relay; `AFTERCALL_BENCH_ATTACHMENTS`
//! changes the count).

#![allow(clippy::print_stdout)]

#[path = "common/env.rs"]
mod bench_env;

#[path = "../it/sync_support.rs"]
#[allow(dead_code)]
mod sync_support;

use bench_env::env_usize;
use std::time::{Duration, Instant};

use aftercall_app::sync::{self, SyncHandle};
use aftercall_shared::commands::{CaptureDraft, PersonRef};
use aftercall_shared::model::InteractionKind;
use sync_support::{account, Device, Relay};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("bootstrap-child") {
        return bootstrap_child(&args[2], &args[3], &args[4]);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let wanted: Vec<&String> = args[1..].iter().filter(|a| !a.starts_with('-')).collect();
    let run = |name: &str| wanted.is_empty() || wanted.iter().any(|w| name.contains(w.as_str()));
    rt.block_on(async {
        if run("reconnect") {
            reconnect(env_usize("AFTERCALL_BENCH_DOCS", 10_000)).await;
        }
        if run("propagation") {
            propagation(200).await;
        }
        if run("bootstrap") {
            bootstrap(env_usize("AFTERCALL_BENCH_BOOTSTRAP", 10_000)).await;
        }
        if run("checkpoint") {
            checkpoint(env_usize("AFTERCALL_BENCH_CHECKPOINT", 10_000), 3).await;
        }
        if run("contacts") {
            contacts(env_usize("AFTERCALL_BENCH_CONTACTS", 10_000), 3).await;
        }
        if run("attachments") {
            attachments(env_usize("AFTERCALL_BENCH_ATTACHMENTS", 100), 3).await;
        }
    });
}

/// An address book of `n` cards with 600-byte notes, as phones export them.
fn address_book(n: usize) -> String {
    let note = "met at the clinic fair, wants the pricing deck and an intro ".repeat(10);
    (0..n)
        .map(|i| {
            format!(
                "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:bench-{i}\r\nFN:Contact {i}\r\n\
                 EMAIL:contact{i}@example.org\r\nTEL:+44 20 7946 {:04}\r\nNOTE:{i} {note}\r\n\
                 END:VCARD\r\n",
                i % 10_000
            )
        })
        .collect()
}

/// `n` contacts imported on one device, uploaded, and received by another through
/// the relay, `runs` times on fresh accounts; prints each run and the medians.
async fn contacts(n: usize, runs: usize) {
    let file = address_book(n);
    let (mut import, mut upload, mut receive) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let dir = tempfile::tempdir().unwrap();
        let relay = Relay::start(dir.path());
        let (devices, _) = account(&relay, &["phone", "laptop"]).await;
        let (phone, laptop) = (&devices[0], &devices[1]);
        let started = Instant::now();
        phone
            .store()
            .import_vcards(
                file.as_bytes(),
                aftercall_shared::interop::ImportOptions::default(),
                |_| {},
            )
            .unwrap();
        import.push(started.elapsed());
        let started = Instant::now();
        phone.sync().await;
        upload.push(started.elapsed());
        let started = Instant::now();
        let got = laptop.sync().await;
        receive.push(started.elapsed());
        println!(
            "contacts: {n} imported in {:.2} s, uploaded in {:.2} s, received ({} entries) in {:.2} s",
            import.last().unwrap().as_secs_f64(),
            upload.last().unwrap().as_secs_f64(),
            got.received,
            receive.last().unwrap().as_secs_f64()
        );
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64()
    };
    println!(
        "contacts: median of {runs}: import {:.2} s, upload {:.2} s, receive {:.2} s (target: sync after the import <= 5 s)",
        median(&mut import),
        median(&mut upload),
        median(&mut receive)
    );
}

/// Captures `n` conversations, each with a new person (two documents each), in
/// one store handle.
fn fill(device: &Device, n: usize, tag: &str) {
    let mut store = device.store();
    for i in 0..n {
        store
            .capture(&CaptureDraft {
                people: vec![PersonRef::Named(format!("{tag} person {i}"))],
                kind: InteractionKind::Value,
                talked_about: format!("{tag} conversation {i} about pricing and hiring"),
                ..Default::default()
            })
            .unwrap();
    }
}

async fn metric(relay: &Relay, name: &str) -> u64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(relay.addr).await.unwrap();
    tcp.write_all(b"GET /metrics HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut body = String::new();
    tcp.read_to_string(&mut body).await.unwrap();
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

async fn reconnect(docs: usize) {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (devices, _) = account(&relay, &["phone"]).await;
    let started = Instant::now();
    fill(&devices[0], docs / 2, "reconnect");
    let filled = started.elapsed();
    let started = Instant::now();
    devices[0].sync().await;
    let uploaded = started.elapsed();
    let names = [
        "aftercall_relay_frames_received_total",
        "aftercall_relay_frames_sent_total",
        "aftercall_relay_bytes_received_total",
        "aftercall_relay_bytes_sent_total",
    ];
    let mut before = Vec::new();
    for n in names {
        before.push(metric(&relay, n).await);
    }
    let started = Instant::now();
    devices[0].sync().await;
    let took = started.elapsed();
    let mut delta = Vec::new();
    for (n, b) in names.iter().zip(&before) {
        delta.push(metric(&relay, n).await - b);
    }
    println!(
        "reconnect, {docs} documents ({} captures in {filled:.1?}, first upload {uploaded:.1?}):",
        docs / 2
    );
    println!(
        "  device -> relay: {} frame(s), {} bytes; relay -> device: {} frame(s), {} bytes; round trips: {}; wall time {took:.1?}",
        delta[0], delta[2], delta[1], delta[3], delta[0]
    );
}

async fn propagation(samples: usize) {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (devices, _) = account(&relay, &["phone", "laptop"]).await;
    let a = SyncHandle::start(devices[0].dir().to_path_buf());
    let b = SyncHandle::start(devices[1].dir().to_path_buf());
    for h in [&a, &b] {
        tokio::time::timeout(
            Duration::from_secs(30),
            h.status()
                .wait_for(|s| s.state == sync::ConnState::UpToDate),
        )
        .await
        .unwrap()
        .unwrap();
    }
    let mut changes = b.changes();
    let mut store = devices[0].store();
    let mut times = Vec::with_capacity(samples);
    for i in 0..samples {
        changes.borrow_and_update();
        let started = Instant::now();
        store
            .capture(&CaptureDraft {
                people: vec![PersonRef::Named("Ada".into())],
                kind: InteractionKind::Casual,
                talked_about: format!("propagation {i}"),
                ..Default::default()
            })
            .unwrap();
        a.local_write();
        tokio::time::timeout(Duration::from_secs(10), changes.changed())
            .await
            .unwrap()
            .unwrap();
        times.push(started.elapsed());
    }
    a.stop();
    b.stop();
    assert!(devices[1].knows(&format!("propagation {}", samples - 1)));
    times.sort();
    let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    println!(
        "propagation, capture on A visible in B's read model ({samples} samples): p50 {:.1?}, p99 {:.1?}, max {:.1?}",
        pct(0.50),
        pct(0.99),
        times[times.len() - 1]
    );
}

/// Captures `interactions` conversations among 500 people, one write each.
fn fill_bootstrap(device: &Device, interactions: usize) {
    let mut store = device.store();
    let people: Vec<String> = (0..500).map(|i| format!("Person {i}")).collect();
    for i in 0..interactions {
        store
            .capture(&CaptureDraft {
                people: vec![PersonRef::Named(people[i % people.len()].clone())],
                kind: InteractionKind::Value,
                talked_about: format!("bootstrap conversation {i}"),
                ..Default::default()
            })
            .unwrap();
    }
}

/// Pairs a new device in a child process (so its peak memory is its own); returns
/// the time it took and the child's peak memory.
fn bootstrap_new_device(relay: &Relay, phrase: &str, last: &str) -> (Duration, String) {
    let fresh = Device::new("new-phone");
    let started = Instant::now();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "bootstrap-child",
            fresh.dir().to_str().unwrap(),
            &relay.url(),
            phrase,
        ])
        .output()
        .unwrap();
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(fresh.knows(last));
    (
        took,
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    )
}

async fn bootstrap(interactions: usize) {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (devices, phrase) = account(&relay, &["desk"]).await;
    // A full replay: the desk makes no checkpoint by itself.
    sync::set_checkpoint_every(devices[0].dir(), u64::MAX).unwrap();
    fill_bootstrap(&devices[0], interactions);
    devices[0].sync().await;
    let last = format!("bootstrap conversation {}", interactions - 1);
    let (took, memory) = bootstrap_new_device(&relay, &phrase, &last);
    println!(
        "bootstrap of a new device from the relay, {interactions} interactions: {took:.1?}, peak memory {memory}"
    );
}

/// What the account of `phrase` takes on the relay's SQLite file.
async fn relay_usage(relay: &Relay, phrase: &str) -> aftercall_sync_server::store::Usage {
    use aftercall_sync_server::store::{RelayStore, SqliteStore};
    let keys = aftercall_shared::crypto::AccountSecret::from_phrase(phrase)
        .unwrap()
        .keys();
    let store = SqliteStore::open(relay.sqlite_path()).unwrap();
    store.usage(&keys.account).await.unwrap()
}

/// A checkpoint of `interactions` conversations: its creation time and size, the
/// relay's bytes for the account before it and after pruning (with a tail of
/// 1,000 entries written after it), and a new device's bootstrap from it plus
/// the tail, `runs` times.
async fn checkpoint(interactions: usize, runs: usize) {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (devices, phrase) = account(&relay, &["desk"]).await;
    let desk = &devices[0];
    sync::set_checkpoint_every(desk.dir(), u64::MAX).unwrap();
    fill_bootstrap(desk, interactions);
    desk.sync().await;
    let before = relay_usage(&relay, &phrase).await;

    let started = Instant::now();
    let snapshot = desk.store().account_snapshot().unwrap().unwrap();
    let snapshot_took = started.elapsed();
    let started = Instant::now();
    let made = sync::checkpoint_once(desk.dir())
        .await
        .unwrap()
        .checkpoint_uploaded
        .unwrap();
    let made_took = started.elapsed();
    let tail = 1_000;
    fill_bootstrap(desk, tail);
    desk.sync().await;
    let after = relay_usage(&relay, &phrase).await;
    let target = 1.5 * (made.bytes as f64 + after.entry_bytes as f64);
    println!(
        "checkpoint of {interactions} interactions: {} documents, {} bytes of snapshot, {} chunks, {} bytes sealed; snapshot {snapshot_took:.1?}, made and uploaded in {made_took:.1?}",
        made.documents,
        snapshot.body.len(),
        made.chunks,
        made.bytes
    );
    println!(
        "relay bytes for the account: {} before ({} entries); after the checkpoint and a tail of {tail} entries: {} ({} entries, {} entry bytes, {} checkpoint bytes); target ≤ {:.0} (1.5 × checkpoint + tail)",
        before.bytes(),
        before.entries,
        after.bytes(),
        after.entries,
        after.entry_bytes,
        after.checkpoint_bytes,
        target
    );
    let last = format!("bootstrap conversation {}", tail - 1);
    let mut times = Vec::new();
    for run in 0..runs {
        let (took, memory) = bootstrap_new_device(&relay, &phrase, &last);
        println!(
            "bootstrap from the checkpoint and the tail, {interactions} + {tail} interactions, run {}: {took:.1?}, peak memory {memory}",
            run + 1
        );
        times.push(took);
    }
    times.sort();
    println!(
        "bootstrap from the checkpoint, {interactions} interactions: median {:.1?} of {runs} (target ≤ 5 s)",
        times[times.len() / 2]
    );
}

/// Runs in a child process so its peak memory is the new device's alone.
fn bootstrap_child(dir: &str, relay: &str, phrase: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(sync::pair(std::path::Path::new(dir), relay, phrase))
        .unwrap();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .map(|l| l.trim_start_matches("VmHWM:").trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("{hwm}");
}

/// `count` attachments of 1 MB (random bytes, so nothing compresses) attached on
/// one device, uploaded through a relay on loopback and downloaded by another
/// (asked for, as they are over the size downloaded at once), `runs` times on fresh
/// accounts; prints each run and the medians.
async fn attachments(count: usize, runs: usize) {
    use aftercall_shared::env::Entropy;
    use aftercall_shared::model::{AttachmentOwner, MediaType};
    let (mut upload, mut download, mut total) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..runs {
        let dir = tempfile::tempdir().unwrap();
        let relay = Relay::start(dir.path());
        let (devices, _) = account(&relay, &["phone", "laptop"]).await;
        let (phone, laptop) = (&devices[0], &devices[1]);
        phone.capture("Ada", "the conference");
        let mut hashes = Vec::with_capacity(count);
        {
            let mut store = phone.store();
            let ada = AttachmentOwner::Person(store.find_person("Ada").unwrap());
            let jpeg: MediaType = "image/jpeg".parse().unwrap();
            let mut rng = aftercall_shared::env::SeededEntropy::new(run as u64);
            for i in 0..count {
                let mut content = vec![0u8; 1_000_000];
                rng.fill(&mut content);
                let row = store
                    .attach(&ada, &format!("photo-{i}.jpg"), &jpeg, &content)
                    .unwrap();
                hashes.push(row.blob);
            }
        }
        let started = Instant::now();
        let sent = phone.sync().await;
        let up = started.elapsed();
        assert_eq!(sent.blobs_uploaded, count as u64);
        laptop.sync().await;
        {
            let store = laptop.store();
            for hash in &hashes {
                store.want_blob(hash).unwrap();
            }
        }
        let downloading = Instant::now();
        let got = laptop.sync().await;
        let down = downloading.elapsed();
        assert_eq!(got.blobs_downloaded, count as u64);
        let both = started.elapsed();
        println!(
            "attachments, run {}: {count} x 1 MB uploaded in {:.2} s, downloaded in {:.2} s, {:.2} s in all",
            run + 1,
            up.as_secs_f64(),
            down.as_secs_f64(),
            both.as_secs_f64()
        );
        upload.push(up);
        download.push(down);
        total.push(both);
        relay.stop().await;
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64()
    };
    println!(
        "attachments: median of {runs}: {count} x 1 MB upload {:.2} s, download {:.2} s, sync in all {:.2} s (target <= 10 s)",
        median(&mut upload),
        median(&mut download),
        median(&mut total)
    );
}
