//! The relay under load (a benchmark, not a timed test): run with
//! `cargo bench -p aftercall-tests --bench relay_load`; figures are printed and
//! recorded in docs/benchmarks.md, section "Sync".
//!
//! The relay runs in a child process of its own on 127.0.0.1 (port 0) with a fresh
//! SQLite file; this process is the load. It opens `AFTERCALL_LOAD_CONNECTIONS`
//! (default 2000) websocket sessions, four devices to an account, measures the
//! relay's memory with every session idle, then has every device push entries as
//! fast as the relay acknowledges them for `AFTERCALL_LOAD_SECONDS` (default 10),
//! each push carrying `AFTERCALL_LOAD_BATCH` entries (default 1) of 256 bytes. It
//! prints entries stored per second, entries fanned out to the other devices per
//! second, the push → `Stored` latency, and memory per idle connection. Then every
//! device stops pushing and the sessions stay open until each has received every
//! entry the relay acknowledged to the others of its account (at most 30 s): it
//! prints how many entries were delivered, how many were lost (never arrived),
//! duplicated or out of order, on one relay and on several nodes alike.
//!
//! With `AFTERCALL_LOAD_NODES=N` (N ≥ 1) the relay runs instead as N nodes, each a
//! child process of its own, on one PostgreSQL database (the tests' throwaway
//! cluster, or the server `AFTERCALL_TEST_POSTGRES` names); devices connect to the
//! nodes in turn, so an account's devices sit on different nodes and its entries
//! fan out through the database. Memory is then the nodes' together.
//!
//! With `-- blobs`, it measures instead the relay's memory while
//! `AFTERCALL_LOAD_BLOB_DEVICES` devices (default 50, each of its own account)
//! upload a blob of `AFTERCALL_LOAD_BLOB_MB` MiB each (default 20) at once, in
//! chunks of 1 MiB, four in flight per device as the app sends them: the relay's
//! resident memory is sampled every 50 ms, and its peak compared with what holding
//! whole blobs would take.
//!
//! The entries are random bytes: the relay cannot tell them from sealed ones, which
//! is the point of sealing.

#![allow(clippy::print_stdout)]

#[path = "common/env.rs"]
mod bench_env;

use bench_env::env_usize;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aftercall_shared::protocol::{
    AccountId, ClientMessage, Credential, DeviceId, SealedEntry, ServerMessage,
};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

const DEVICES_PER_ACCOUNT: usize = 4;
const ENTRY_BYTES: usize = 256;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("relay-child") {
        return relay_child(&args[2]);
    }
    let rt_blobs = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap()
    };
    if args.iter().skip(1).any(|a| a == "blobs") {
        let devices = env_usize("AFTERCALL_LOAD_BLOB_DEVICES", 50);
        let mib = env_usize("AFTERCALL_LOAD_BLOB_MB", 20);
        return rt_blobs().block_on(blob_load(devices, mib));
    }
    let connections = env_usize("AFTERCALL_LOAD_CONNECTIONS", 2000);
    let seconds = env_usize("AFTERCALL_LOAD_SECONDS", 10);
    let batch = env_usize("AFTERCALL_LOAD_BATCH", 1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(load(
        connections,
        Duration::from_secs(seconds as u64),
        batch,
    ));
}

/// The relay, alone in this process, until its standard input closes.
fn relay_child(db: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("listening {}", listener.local_addr().unwrap());
        let stdin_closed = async {
            let _ = tokio::task::spawn_blocking(|| {
                let mut sink = String::new();
                while std::io::stdin().read_line(&mut sink).is_ok_and(|n| n > 0) {}
            })
            .await;
        };
        let mut config = aftercall_sync_server::Config::new(
            db.parse::<aftercall_sync_server::Database>()
                .expect("a database file or a postgres:// URL"),
        );
        // Every device of the load comes from one address, as behind a proxy.
        config.limits.max_unauthenticated_per_ip = config.limits.max_unauthenticated;
        aftercall_sync_server::launch_with_listener(config, listener, stdin_closed)
            .await
            .unwrap();
    });
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A deterministic stream of bytes, so runs are comparable.
fn filler(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

struct Counters {
    stored: AtomicU64,
    fanned_out: AtomicU64,
    refused: AtomicU64,
    running: AtomicBool,
    /// Each device's log as the relay acknowledged it, once it stopped pushing
    /// (by its index `account * DEVICES_PER_ACCOUNT + device`); `u64::MAX` until
    /// then.
    heads: Vec<AtomicU64>,
    /// Entries a device received again, or before one of the same device it had
    /// not received yet.
    duplicated: AtomicU64,
    out_of_order: AtomicU64,
    /// Entries delivered in the end, and those acknowledged to their device but
    /// never delivered to another of its account.
    delivered: AtomicU64,
    lost: AtomicU64,
}

/// Starts the relay child on a fresh SQLite file in `dir`; returns it and its
/// websocket address.
fn start_relay(dir: &std::path::Path) -> (std::process::Child, String) {
    start_node(dir.join("relay.sqlite").to_str().unwrap())
}

/// `devices` devices uploading a blob of `mib` MiB each at once, the relay's
/// memory sampled meanwhile.
async fn blob_load(devices: usize, mib: usize) {
    use aftercall_shared::protocol::{BlobChunk, BlobId, ChunkIndex};
    let dir = tempfile::tempdir().unwrap();
    let (mut relay, url) = start_relay(dir.path());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let baseline = rss_kib(relay.id());
    let mut sockets = Vec::with_capacity(devices);
    for d in 0..devices {
        sockets.push(open(url.clone(), 100_000 + d, 0).await);
    }
    let idle = rss_kib(relay.id());
    let sampling = Arc::new(AtomicBool::new(true));
    let peak = Arc::new(AtomicU64::new(0));
    let pid = relay.id();
    let sampler = {
        let (sampling, peak) = (sampling.clone(), peak.clone());
        tokio::spawn(async move {
            while sampling.load(Relaxed) {
                peak.fetch_max(rss_kib(pid), Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let chunk_bytes = 1024 * 1024 - 1024 + 40;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (d, mut socket) in sockets.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let mut id = [0u8; 32];
            id[..8].copy_from_slice(&(d as u64).to_le_bytes());
            let blob = BlobId(id);
            let chunks = mib as u32;
            let bytes = u64::from(chunks) * chunk_bytes as u64;
            let put = |index: u32| ClientMessage::BlobPut {
                bytes,
                chunk: BlobChunk {
                    blob,
                    index: ChunkIndex(index),
                    chunks,
                    sealed: filler(u64::from(index) ^ d as u64, chunk_bytes),
                },
            };
            let mut next = 0;
            while next < chunks.min(4) {
                socket
                    .send(Message::Binary(put(next).encode().into()))
                    .await
                    .unwrap();
                next += 1;
            }
            loop {
                let Some(Ok(Message::Binary(frame))) = socket.next().await else {
                    panic!("the relay closed device {d}'s session");
                };
                match ServerMessage::decode(&frame).unwrap() {
                    ServerMessage::BlobChunkStored { complete: true, .. } => return,
                    ServerMessage::BlobChunkStored { .. } if next < chunks => {
                        socket
                            .send(Message::Binary(put(next).encode().into()))
                            .await
                            .unwrap();
                        next += 1;
                    }
                    ServerMessage::BlobRefused { refusal, .. } => panic!("refused: {refusal}"),
                    _ => {}
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed();
    sampling.store(false, Relaxed);
    let _ = sampler.await;
    let peak = peak.load(Relaxed);
    drop(relay.stdin.take());
    let _ = relay.wait();
    let total_mib = devices * mib;
    println!(
        "relay memory while {devices} devices upload a {mib} MiB blob each at once ({total_mib} MiB in {:.1} s, {:.0} MiB/s)",
        elapsed.as_secs_f64(),
        total_mib as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  RSS: {baseline} KiB before, {idle} KiB with the sessions open, peak {peak} KiB while uploading: {:.1} MiB above idle, against {total_mib} MiB of blobs ({:.2} MiB per uploading device)",
        peak.saturating_sub(idle) as f64 / 1024.0,
        peak.saturating_sub(idle) as f64 / 1024.0 / devices as f64
    );
}

/// Starts one relay node on `db` (a file or a PostgreSQL URL); returns it and its
/// websocket address.
fn start_node(db: &str) -> (std::process::Child, String) {
    let mut relay = Command::new(std::env::current_exe().unwrap())
        .args(["relay-child", db])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(relay.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line.trim().strip_prefix("listening ").unwrap().to_string();
    (relay, format!("ws://{addr}/sync"))
}

async fn load(connections: usize, duration: Duration, batch: usize) {
    let dir = tempfile::tempdir().unwrap();
    let nodes = std::env::var("AFTERCALL_LOAD_NODES")
        .ok()
        .and_then(|n| n.parse::<usize>().ok());
    // The database outlives the nodes.
    let postgres = match nodes {
        Some(_) => Some(
            aftercall_sync_server::test_postgres::server()
                .database()
                .await,
        ),
        None => None,
    };
    let db = match &postgres {
        Some(db) => db.url(),
        None => dir
            .path()
            .join("relay.sqlite")
            .to_str()
            .unwrap()
            .to_string(),
    };
    let mut relays: Vec<(std::process::Child, String)> = Vec::new();
    for _ in 0..nodes.unwrap_or(1).max(1) {
        relays.push(start_node(&db));
        // One node at a time migrates an empty database.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let urls: Vec<String> = relays.iter().map(|(_, url)| url.clone()).collect();
    let rss = |relays: &[(std::process::Child, String)]| -> u64 {
        relays.iter().map(|(r, _)| rss_kib(r.id())).sum()
    };
    let baseline = rss(&relays);

    let counters = Arc::new(Counters {
        stored: AtomicU64::new(0),
        fanned_out: AtomicU64::new(0),
        refused: AtomicU64::new(0),
        running: AtomicBool::new(false),
        heads: (0..connections).map(|_| AtomicU64::new(u64::MAX)).collect(),
        duplicated: AtomicU64::new(0),
        out_of_order: AtomicU64::new(0),
        delivered: AtomicU64::new(0),
        lost: AtomicU64::new(0),
    });
    let accounts = connections.div_ceil(DEVICES_PER_ACCOUNT);
    let opening = Instant::now();
    let mut sessions = Vec::with_capacity(connections);
    // The first device of each account creates it; the others join it after.
    for round in 0..DEVICES_PER_ACCOUNT {
        let mut opened = Vec::new();
        for a in 0..accounts {
            let n = a * DEVICES_PER_ACCOUNT + round;
            if n >= connections {
                continue;
            }
            let url = urls[n % urls.len()].clone();
            opened.push((a, round, tokio::spawn(open(url, a, round))));
        }
        for (a, round, o) in opened {
            sessions.push((a, round, o.await.unwrap()));
        }
    }
    let opened_in = opening.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = rss(&relays);

    let (go_tx, go) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::with_capacity(sessions.len());
    for (account, device, socket) in sessions {
        let counters = counters.clone();
        let go = go.clone();
        tasks.push(tokio::spawn(drive(
            socket,
            account,
            device,
            batch,
            connections,
            counters,
            go,
        )));
    }
    counters.running.store(true, Relaxed);
    let started = Instant::now();
    go_tx.send(true).unwrap();
    tokio::time::sleep(duration).await;
    counters.running.store(false, Relaxed);
    let elapsed = started.elapsed();
    let stored = counters.stored.load(Relaxed);
    let fanned_out = counters.fanned_out.load(Relaxed);
    let busy = rss(&relays);
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    for (relay, _) in &mut relays {
        drop(relay.stdin.take());
        let _ = relay.wait();
    }

    let secs = elapsed.as_secs_f64();
    let on = match nodes {
        Some(n) => format!("{n} node(s) on PostgreSQL"),
        None => "one relay on SQLite".to_string(),
    };
    println!(
        "relay under load, {on}: {connections} connections ({accounts} accounts x {DEVICES_PER_ACCOUNT} devices), opened in {opened_in:.1?}"
    );
    println!(
        "  memory: {baseline} KiB before, {idle} KiB with every session idle: {:.1} KiB per idle connection; {busy} KiB under load",
        (idle.saturating_sub(baseline)) as f64 / connections as f64
    );
    println!(
        "  {batch} entr{} of {ENTRY_BYTES} bytes per push, {secs:.1} s: {stored} stored ({:.0}/s), {fanned_out} fanned out to other devices ({:.0}/s), {} refusals",
        if batch == 1 { "y" } else { "ies" },
        stored as f64 / secs,
        fanned_out as f64 / secs,
        counters.refused.load(Relaxed)
    );
    println!(
        "  push -> stored acknowledgement: p50 {:.1?}, p99 {:.1?}, max {:.1?} ({} pushes)",
        pct(0.50),
        pct(0.99),
        latencies.last().copied().unwrap_or_default(),
        latencies.len()
    );
    println!(
        "  delivery, once every device stopped: {} entries delivered to the other devices of their accounts, {} lost, {} duplicated, {} out of order",
        counters.delivered.load(Relaxed),
        counters.lost.load(Relaxed),
        counters.duplicated.load(Relaxed),
        counters.out_of_order.load(Relaxed)
    );
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens device `device` of account `account` and reads until it is caught up.
async fn open(url: String, account: usize, device: usize) -> Socket {
    let (mut socket, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&(account as u64).to_le_bytes());
    let hello = ClientMessage::Hello {
        account: AccountId(id),
        credential: Credential([account as u8; 32]),
        device: DeviceId::new(&format!("load-{account}-{device}")).unwrap(),
        create: true,
        invite: None,
        cursors: Vec::new(),
        device_key: None,
    };
    socket
        .send(Message::Binary(hello.encode().into()))
        .await
        .unwrap();
    loop {
        let Some(Ok(Message::Binary(frame))) = socket.next().await else {
            panic!("the relay closed session {account}/{device} before it was caught up");
        };
        match ServerMessage::decode(&frame).unwrap() {
            ServerMessage::CaughtUp => return socket,
            ServerMessage::Refused(r) => panic!("refused {account}/{device}: {r:?}"),
            _ => {}
        }
    }
}

/// Pushes entries one push at a time, each after the last was acknowledged, while
/// counting what the other devices' pushes bring in. Returns each push's latency.
async fn drive(
    socket: Socket,
    account: usize,
    device: usize,
    batch: usize,
    connections: usize,
    counters: Arc<Counters>,
    mut go: tokio::sync::watch::Receiver<bool>,
) -> Vec<Duration> {
    let n = (account * DEVICES_PER_ACCOUNT + device) as u64;
    // The other devices of the account, by name and index.
    let others: Vec<(String, usize)> = (0..DEVICES_PER_ACCOUNT)
        .filter(|d| *d != device)
        .map(|d| {
            (
                format!("load-{account}-{d}"),
                account * DEVICES_PER_ACCOUNT + d,
            )
        })
        .filter(|(_, i)| *i < connections)
        .collect();
    // How far this device has received each other device's log, in order.
    let received: Arc<std::sync::Mutex<std::collections::HashMap<String, u64>>> = Arc::default();
    let device = DeviceId::new(&format!("load-{account}-{device}")).unwrap();
    let _ = go.wait_for(|g| *g).await;
    let (mut tx, mut rx) = socket.split();
    let (acked_tx, mut acked) = tokio::sync::mpsc::unbounded_channel::<u64>();
    let reader_counters = counters.clone();
    let reader_received = received.clone();
    let reader = tokio::spawn(async move {
        while let Some(Ok(msg)) = rx.next().await {
            let Message::Binary(frame) = msg else {
                continue;
            };
            match ServerMessage::decode(&frame) {
                Ok(ServerMessage::Entries { entries }) => {
                    reader_counters
                        .fanned_out
                        .fetch_add(entries.len() as u64, Relaxed);
                    let mut received = reader_received.lock().unwrap();
                    for e in entries {
                        let last = received.entry(e.device.as_str().to_string()).or_insert(0);
                        if e.seq <= *last {
                            reader_counters.duplicated.fetch_add(1, Relaxed);
                        } else {
                            if e.seq != *last + 1 {
                                reader_counters.out_of_order.fetch_add(1, Relaxed);
                            }
                            *last = e.seq;
                        }
                    }
                }
                Ok(ServerMessage::Stored { up_to }) => {
                    let _ = acked_tx.send(up_to);
                }
                Ok(ServerMessage::Refused(r)) => {
                    if reader_counters.refused.fetch_add(1, Relaxed) == 0 {
                        println!("  first refusal: {r:?}");
                    }
                    let _ = acked_tx.send(0);
                }
                _ => {}
            }
        }
    });
    let mut seq = 0u64;
    let mut latencies = Vec::new();
    while counters.running.load(Relaxed) {
        let entries: Vec<SealedEntry> = (0..batch)
            .map(|i| SealedEntry {
                device: device.clone(),
                seq: seq + 1 + i as u64,
                sealed: filler(n << 32 | (seq + i as u64), ENTRY_BYTES),
            })
            .collect();
        let frame = ClientMessage::Push { entries }.encode();
        let started = Instant::now();
        if tx.send(Message::Binary(frame.into())).await.is_err() {
            break;
        }
        match acked.recv().await {
            Some(up_to) if up_to == seq + batch as u64 => {
                latencies.push(started.elapsed());
                counters.stored.fetch_add(batch as u64, Relaxed);
                seq = up_to;
            }
            _ => break,
        }
    }
    // Stopped: this device's log as acknowledged; then the others' to arrive here.
    counters.heads[n as usize].store(seq, Relaxed);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let expected: Option<Vec<u64>> = others
            .iter()
            .map(|(_, i)| {
                let head = counters.heads[*i].load(Relaxed);
                (head != u64::MAX).then_some(head)
            })
            .collect();
        let done = expected.as_ref().is_some_and(|heads| {
            let received = received.lock().unwrap();
            others
                .iter()
                .zip(heads)
                .all(|((name, _), head)| received.get(name).copied().unwrap_or(0) >= *head)
        });
        if done || Instant::now() > deadline {
            let received = received.lock().unwrap();
            for (name, i) in &others {
                let head = counters.heads[*i].load(Relaxed);
                let got = received.get(name).copied().unwrap_or(0);
                if head != u64::MAX {
                    counters.delivered.fetch_add(got.min(head), Relaxed);
                    counters.lost.fetch_add(head.saturating_sub(got), Relaxed);
                }
            }
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = tx.close().await;
    reader.abort();
    latencies
}
