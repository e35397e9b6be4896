//! Stories: clients that connect and say nothing, or dribble their headers a byte
//! at a time, cannot lock devices out of a relay that has only 1,024 file
//! descriptors, and are closed once their time is up.
//!
//! The relay runs as its own process under `ulimit -n 1024` (soft and hard), as a
//! relay started by a service manager's default would; the test process holds the
//! clients' ends, so it raises its own limit.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use aftercall_app::sync;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use crate::relay_process::RelayProcess;
use crate::sync_support::Device;

/// The relay's file descriptor limit in these stories.
const RELAY_DESCRIPTORS: u32 = 1024;

/// Silent connections opened at the relay: more than its descriptors.
const SILENT: usize = 1_100;

/// Clients sending a request's headers one byte at a time.
const SLOW: usize = 20;

/// How long a device may take to sync while the relay is under this load.
const SYNC_WITHIN: Duration = Duration::from_secs(5);

/// The value of a metric (with its labels, if any).
fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

/// Raises this process's soft descriptor limit to its hard limit; returns it.
fn raise_own_descriptor_limit() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    let _ = setrlimit(
        Resource::Nofile,
        Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        },
    );
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// Opens up to `n` connections that never send a byte (fewer if this process
/// has too few descriptors), each given 2 s; returns those that connected.
async fn silent_connections(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    let room = usize::try_from(raise_own_descriptor_limit().saturating_sub(256)).unwrap_or(n);
    let n = n.min(room);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut open = Vec::with_capacity(n);
    for _ in 0..n {
        if Instant::now() > deadline {
            break;
        }
        if let Ok(Ok(s)) =
            tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(addr)).await
        {
            open.push(s);
        }
    }
    open
}

/// `n` clients that send the start of a websocket request a byte every 200 ms and
/// never finish it; each stops when the relay closes it (or after a minute).
fn slow_connections(addr: SocketAddr, n: usize) -> Vec<JoinHandle<Option<Duration>>> {
    (0..n)
        .map(|_| {
            tokio::spawn(async move {
                let started = Instant::now();
                let mut stream = TcpStream::connect(addr).await.ok()?;
                let request = b"GET /sync HTTP/1.1\r\nHost: relay\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nX-Padding: ";
                for byte in request.iter().chain(std::iter::repeat(&b'a')) {
                    if started.elapsed() > Duration::from_secs(60)
                        || stream.write_all(&[*byte]).await.is_err()
                    {
                        break;
                    }
                    let mut buf = [0u8; 256];
                    match tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf))
                        .await
                    {
                        Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
                        _ => {}
                    }
                }
                Some(started.elapsed())
            })
        })
        .collect()
}

/// Whether the relay closes `stream` within `within` (reading whatever it says first).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

/// A phone creates an account, captures and syncs; a laptop pairs and has the note.
/// Each step must finish within [`SYNC_WITHIN`].
async fn two_devices_sync(relay_url: &str) {
    let phone = Device::new("phone");
    let laptop = Device::new("laptop");
    let phrase = sync::create_account(phone.dir(), Some(relay_url)).unwrap();
    phone.capture("Ada", "pricing for clinics under siege");
    let started = Instant::now();
    tokio::time::timeout(SYNC_WITHIN, phone.sync())
        .await
        .expect("the phone syncs within 5 s while the relay is flooded");
    tokio::time::timeout(SYNC_WITHIN, sync::pair(laptop.dir(), relay_url, &phrase))
        .await
        .expect("the laptop pairs within 5 s while the relay is flooded")
        .unwrap();
    assert!(laptop.knows("pricing for clinics under siege"));
    eprintln!("devices synced in {:?} under load", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_sync_while_a_thousand_silent_and_slow_connections_hold_the_relay() {
    let relay = RelayProcess::start(RELAY_DESCRIPTORS, &[]);
    let silent = silent_connections(relay.addr, SILENT).await;
    let slow = slow_connections(relay.addr, SLOW);
    tokio::time::sleep(Duration::from_millis(500)).await;
    eprintln!("{} silent connections opened", silent.len());

    two_devices_sync(&relay.url()).await;

    let metrics = relay.metrics().await;
    assert_eq!(
        metric(&metrics, "aftercall_relay_descriptor_limit"),
        u64::from(RELAY_DESCRIPTORS)
    );
    assert!(
        metric(&metrics, "aftercall_relay_open_connections")
            < metric(&metrics, "aftercall_relay_connection_budget"),
        "{metrics}"
    );
    assert!(
        metric(&metrics, "aftercall_relay_unauthenticated_connections") <= 32,
        "one address holds no more than its cap: {metrics}"
    );
    for task in slow {
        task.abort();
    }
    drop(silent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_caps_lifted_the_descriptor_budget_still_keeps_room_for_devices() {
    // Every connection may stay unauthenticated: only the budget below the
    // descriptor limit stands between the flood and the devices.
    let relay = RelayProcess::start(
        RELAY_DESCRIPTORS,
        &[
            "--max-unauthenticated",
            "100000",
            "--max-unauthenticated-per-ip",
            "100000",
        ],
    );
    let silent = silent_connections(relay.addr, SILENT).await;
    let slow = slow_connections(relay.addr, SLOW);
    tokio::time::sleep(Duration::from_millis(500)).await;

    two_devices_sync(&relay.url()).await;

    let metrics = relay.metrics().await;
    let budget = metric(&metrics, "aftercall_relay_connection_budget");
    assert!(
        budget < u64::from(RELAY_DESCRIPTORS),
        "the budget is below the limit: {metrics}"
    );
    assert!(
        metric(&metrics, "aftercall_relay_open_connections") <= budget + 32,
        "{metrics}"
    );
    assert!(
        metric(
            &metrics,
            "aftercall_relay_connections_evicted_total{reason=\"budget\"}"
        ) > 0,
        "room was made by closing the oldest silent connections: {metrics}"
    );
    for task in slow {
        task.abort();
    }
    drop(silent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_slow_and_unfinished_connections_are_closed_after_their_timeouts() {
    let relay = RelayProcess::start(
        RELAY_DESCRIPTORS,
        &[
            "--header-read-timeout",
            "1",
            "--idle-timeout",
            "2",
            "--max-unauthenticated-per-ip",
            "1000",
        ],
    );
    let mut silent = silent_connections(relay.addr, 50).await;
    assert_eq!(silent.len(), 50);
    let slow = slow_connections(relay.addr, 5);
    // Headers complete, but the promised body never comes.
    let mut unfinished = TcpStream::connect(relay.addr).await.unwrap();
    unfinished
        .write_all(b"GET /health HTTP/1.1\r\nHost: relay\r\nContent-Length: 100\r\n\r\n")
        .await
        .unwrap();

    let started = Instant::now();
    for s in &mut silent {
        let left = Duration::from_secs(4).saturating_sub(started.elapsed());
        assert!(
            closed_within(s, left).await,
            "a silent connection is still open after {:?}",
            started.elapsed()
        );
    }
    for task in slow {
        let lasted = task.await.unwrap().expect("connected");
        assert!(
            lasted < Duration::from_secs(4),
            "a slow client was served for {lasted:?}"
        );
    }
    assert!(
        closed_within(&mut unfinished, Duration::from_secs(5)).await,
        "a request whose body never comes is closed"
    );

    let metrics = relay.metrics().await;
    assert!(
        metric(
            &metrics,
            "aftercall_relay_connections_timed_out_total{reason=\"header\"}"
        ) >= 50,
        "{metrics}"
    );
    // Nothing is left holding a place but the metrics request itself.
    assert!(
        metric(&metrics, "aftercall_relay_open_connections") <= 1,
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_idle_timeout_closes_connections_the_header_timeout_would_leave_open() {
    let relay = RelayProcess::start(
        RELAY_DESCRIPTORS,
        &["--header-read-timeout", "60", "--idle-timeout", "1"],
    );
    let mut silent = silent_connections(relay.addr, 10).await;
    // One request served, then nothing more on the kept-alive connection.
    let mut served = TcpStream::connect(relay.addr).await.unwrap();
    served
        .write_all(b"GET /health HTTP/1.1\r\nHost: relay\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    for s in silent.iter_mut().chain(std::iter::once(&mut served)) {
        let left = Duration::from_secs(4).saturating_sub(started.elapsed());
        assert!(closed_within(s, left).await, "still open");
    }
    let metrics = relay.metrics().await;
    assert_eq!(
        metric(
            &metrics,
            "aftercall_relay_connections_timed_out_total{reason=\"idle\"}"
        ),
        11,
        "{metrics}"
    );
}
