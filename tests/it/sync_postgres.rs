//! Stories of the relay on PostgreSQL: devices converge through it and through its
//! restart, and live across two relay nodes on one database (each node reporting
//! its pool, append latency and signal lag); behind nginx, configured as
//! `docs/relay-nodes.nginx.conf` says, they lose nothing when a node is killed
//! mid-sync; its tables hold no plaintext, `sync-server invite` issues codes into
//! it, and `/health` says when the database is gone.

use std::time::Duration;

use aftercall_app::sync::{self, ConnState, SyncHandle};
use aftercall_sync_server::test_postgres::{self as postgres, TestDatabase};
use aftercall_sync_server::{Config, Database};

use crate::support::sync_server_bin;
use crate::sync_support::{account, assert_converged, sync_all, Device, Relay};

/// A relay on a fresh database of the tests' PostgreSQL.
async fn relay_on_postgres() -> (Relay, TestDatabase) {
    let db = postgres::server().database().await;
    let relay = Relay::start_with(
        Config::new(Database::from(db.config.clone())),
        "127.0.0.1:0",
    );
    (relay, db)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phone_and_laptop_converge_through_a_relay_on_postgresql_and_its_restart() {
    let (relay, _db) = relay_on_postgres().await;
    let (devices, phrase) = account(&relay, &["phone", "laptop"]).await;
    let (phone, laptop) = (&devices[0], &devices[1]);
    for i in 0..20 {
        phone.capture("Ada Lovelace", &format!("pricing call {i}"));
    }
    laptop.capture("Grace Hopper", "compiler pilot");
    sync_all(&[phone, laptop]).await;
    let before = assert_converged(&[phone, laptop]);
    assert!(laptop.knows("pricing call 19") && phone.knows("compiler pilot"));

    // The relay stops and starts again on the same database: nothing is lost, and
    // a new device gets everything from it.
    let (addr, db) = (relay.addr, relay.db.clone());
    relay.stop().await;
    let relay = Relay::restart(addr, &db);
    phone.capture("Ada Lovelace", "after the restart");
    let tablet = Device::new("tablet");
    sync::pair(tablet.dir(), &relay.url(), &phrase)
        .await
        .unwrap();
    sync_all(&[phone, laptop, &tablet]).await;
    let after = assert_converged(&[phone, laptop, &tablet]);
    assert!(tablet.knows("after the restart") && tablet.knows("compiler pilot"));
    assert!(after.len() > before.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_tables_on_postgresql_hold_no_plaintext() {
    let (relay, db) = relay_on_postgres().await;
    let (devices, _) = account(&relay, &["phone", "laptop"]).await;
    devices[0].capture("Zebediah Quaternion", "MARKER-PLAINTEXT-7731 pricing");
    devices[0].sync().await;
    devices[1].sync().await;
    assert!(devices[1].knows("MARKER-PLAINTEXT-7731"), "it did sync");
    relay.stop().await;

    // Every text and byte column of every table of the relay's database.
    let client = db.connect().await;
    let columns = client
        .query(
            "SELECT table_name::TEXT, column_name::TEXT, data_type::TEXT
             FROM information_schema.columns WHERE table_schema = 'public'",
            &[],
        )
        .await
        .unwrap();
    let mut scanned = 0usize;
    for column in &columns {
        let (table, name, kind): (&str, &str, &str) = (column.get(0), column.get(1), column.get(2));
        let rows = client
            .query(&format!("SELECT \"{name}\" FROM \"{table}\""), &[])
            .await
            .unwrap();
        for row in rows {
            let bytes: Vec<u8> = match kind {
                "bytea" => row.get::<_, Option<Vec<u8>>>(0).unwrap_or_default(),
                "text" => row
                    .get::<_, Option<String>>(0)
                    .unwrap_or_default()
                    .into_bytes(),
                _ => continue,
            };
            scanned += bytes.len();
            for marker in ["MARKER-PLAINTEXT-7731", "Zebediah", "Quaternion"] {
                assert!(
                    !bytes.windows(marker.len()).any(|w| w == marker.as_bytes()),
                    "{marker} found in {table}.{name}"
                );
            }
        }
    }
    let entries: i64 = client
        .query_one("SELECT count(*) FROM entries", &[])
        .await
        .unwrap()
        .get(0);
    assert!(entries >= 1, "the entries were stored");
    assert!(scanned > 1000, "the tables were read: {scanned} bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invite_issued_with_the_command_line_into_postgresql_is_used_once() {
    let db = postgres::server().database().await;
    let output = std::process::Command::new(sync_server_bin())
        .args(["invite", "--db", &db.url()])
        .env("SYNC_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let code = String::from_utf8(output.stdout).unwrap().trim().to_string();
    assert_eq!(code.len(), 20, "{code:?}");

    let mut config = Config::new(Database::from(db.config.clone()));
    config.closed_registration = true;
    let relay = Relay::start_with(config, "127.0.0.1:0");
    let invited = Device::new("invited");
    sync::create_account_with_invite(invited.dir(), Some(&relay.url()), Some(&code)).unwrap();
    invited.capture("Ada", "invited");
    assert_eq!(invited.sync().await.uploaded, 1);

    let second = Device::new("second");
    sync::create_account_with_invite(second.dir(), Some(&relay.url()), Some(&code)).unwrap();
    let err = sync::sync_once(second.dir()).await.unwrap_err();
    assert!(
        format!("{err:#}").contains("registration on this relay is closed"),
        "{err:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_ready_only_while_postgresql_is_reachable() {
    let (relay, db) = relay_on_postgres().await;
    let health = relay.get("/health").await;
    assert!(
        health.starts_with("HTTP/1.1 200") && health.ends_with("ok\n"),
        "{health}"
    );
    // The database goes away under the relay.
    let admin = postgres::server().admin().await;
    admin
        .batch_execute(&format!("DROP DATABASE {} WITH (FORCE)", db.name()))
        .await
        .unwrap();
    let health = relay.get("/health").await;
    assert!(health.starts_with("HTTP/1.1 503"), "{health}");
    assert!(!health.contains("aftercall_test"), "no internals: {health}");
}

/// Two relay nodes on one database, as behind a load balancer: the phone syncs
/// through node 1 while the laptop stays connected to node 2, and each sees the
/// other's conversation within seconds, well before the nodes' periodic catch-up
/// read (10 s): the database's signal carried it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_on_two_relay_nodes_of_one_database_converge_live() {
    let db = postgres::server().database().await;
    let node = |pool| {
        let mut config = Config::new(Database::from(db.config.clone()));
        config.pg_pool_size = pool;
        Relay::start_with(config, "127.0.0.1:0")
    };
    let (node1, node2) = (node(4), node(6));
    let (devices, phrase) = account(&node1, &["phone"]).await;
    let phone = &devices[0];
    let laptop = Device::new("laptop");
    sync::pair(laptop.dir(), &node2.url(), &phrase)
        .await
        .unwrap();
    let handle = SyncHandle::start(laptop.dir().to_path_buf());
    let mut status = handle.status();
    tokio::time::timeout(
        Duration::from_secs(20),
        status.wait_for(|s| s.state == ConnState::UpToDate),
    )
    .await
    .expect("the laptop connects to node 2")
    .unwrap();

    phone.capture("Ada Lovelace", "live across relay nodes");
    phone.sync().await;
    let seen = wait_until(Duration::from_secs(5), || {
        laptop.knows("live across relay nodes")
    })
    .await;
    assert!(
        seen,
        "the laptop on node 2 saw the phone's entry pushed through node 1"
    );

    laptop.capture("Grace Hopper", "and back again");
    handle.local_write();
    let back = wait_until(Duration::from_secs(5), || pending_upload(&laptop) == 0).await;
    assert!(back, "the laptop uploaded through node 2");
    phone.sync().await;
    assert!(phone.knows("and back again"));
    handle.stop();
    assert_converged(&[phone, &laptop]);

    // Each node reports its own pool, its appends' latency and the signals' lag.
    let (metrics1, metrics2) = (node1.get("/metrics").await, node2.get("/metrics").await);
    assert_eq!(metric(&metrics1, "aftercall_relay_db_pool_max_size"), 4.0);
    assert_eq!(metric(&metrics2, "aftercall_relay_db_pool_max_size"), 6.0);
    assert!(metric(&metrics1, "aftercall_relay_append_seconds_count") >= 1.0);
    assert!(metric(&metrics2, "aftercall_relay_append_seconds_count") >= 1.0);
    // The phone's push through node 1 was signalled to node 2, and back.
    assert!(metric(&metrics2, "aftercall_relay_signal_lag_seconds_count") >= 1.0);
    assert!(metric(&metrics1, "aftercall_relay_signal_lag_seconds_count") >= 1.0);
    assert!(
        metric(&metrics2, "aftercall_relay_signal_lag_seconds_sum") < 5.0,
        "{metrics2}"
    );
}

/// The value of the unlabelled metric `name` in a `/metrics` answer.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
        .trim()
        .parse()
        .unwrap()
}

/// Polls `done` every 50 ms until it holds or `within` passes.
async fn wait_until(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    done()
}

fn pending_upload(device: &Device) -> u64 {
    sync::read_status(device.dir()).unwrap().pending_upload
}

/// A device connected to node 2 is removed through node 1: its session on node 2
/// ends within seconds (the database's signal), well before the periodic read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_removed_through_one_relay_node_is_cut_off_on_another() {
    let db = postgres::server().database().await;
    let node = || {
        Relay::start_with(
            Config::new(Database::from(db.config.clone())),
            "127.0.0.1:0",
        )
    };
    let (node1, node2) = (node(), node());
    let (devices, phrase) = account(&node1, &["phone"]).await;
    let phone = &devices[0];
    let laptop = Device::new("laptop");
    sync::pair(laptop.dir(), &node2.url(), &phrase)
        .await
        .unwrap();
    let handle = SyncHandle::start(laptop.dir().to_path_buf());
    let mut status = handle.status();
    tokio::time::timeout(
        Duration::from_secs(20),
        status.wait_for(|s| s.state == ConnState::UpToDate),
    )
    .await
    .expect("the laptop connects to node 2")
    .unwrap();

    let laptop_id = laptop.store().device_id().to_string();
    sync::remove_device(phone.dir(), &laptop_id).await.unwrap();
    tokio::time::timeout(
        Duration::from_secs(5),
        status.wait_for(|s| s.state == ConnState::Removed),
    )
    .await
    .expect("the laptop's session on node 2 ends at once")
    .unwrap();
    handle.stop();
}

/// PostgreSQL restarted under a running relay (a fast shutdown cuts every
/// connection, the listener's too): the relay answers 503 on `/health` meanwhile,
/// then recovers by itself, with no restart of its own. Devices keep syncing, live
/// included, and nothing acknowledged before is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_recovers_by_itself_when_postgresql_restarts_under_it() {
    let server = postgres::private_server();
    let db = server.database().await;
    let relay = Relay::start_with(
        Config::new(Database::from(db.config.clone())),
        "127.0.0.1:0",
    );
    let (devices, phrase) = account(&relay, &["phone"]).await;
    let phone = &devices[0];
    let laptop = Device::new("laptop");
    sync::pair(laptop.dir(), &relay.url(), &phrase)
        .await
        .unwrap();
    let handle = SyncHandle::start(laptop.dir().to_path_buf());
    phone.capture("Ada Lovelace", "before the restart");
    phone.sync().await;
    assert!(
        wait_until(Duration::from_secs(20), || laptop
            .knows("before the restart"))
        .await,
        "live before the restart"
    );

    server.restart().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let health = relay.get("/health").await;
        if health.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{health}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    phone.capture("Grace Hopper", "after the restart");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while let Err(e) = sync::sync_once(phone.dir()).await {
        assert!(tokio::time::Instant::now() < deadline, "{e:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        wait_until(Duration::from_secs(30), || laptop
            .knows("after the restart"))
        .await,
        "the laptop's session came back through the same relay"
    );
    handle.stop();
    assert_converged(&[phone, &laptop]);
    // The node's listener for other nodes' signals connects again (it backs off up
    // to 10 s between attempts while the database is down).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(25);
    loop {
        let metrics = relay.get("/metrics").await;
        if metric(&metrics, "aftercall_relay_listener_connects_total") >= 2.0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{metrics}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A node's listener is cut (its backend terminated, as a failover or a network
/// blip would) just before another node stores an entry, so the signal is lost:
/// the node listens again and reads the heads it missed, and its device sees the
/// entry without reconnecting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_signal_is_made_good_when_the_listener_reconnects() {
    let db = postgres::server().database().await;
    let node = || {
        Relay::start_with(
            Config::new(Database::from(db.config.clone())),
            "127.0.0.1:0",
        )
    };
    let (node1, node2) = (node(), node());
    let (devices, phrase) = account(&node1, &["phone"]).await;
    let phone = &devices[0];
    let laptop = Device::new("laptop");
    sync::pair(laptop.dir(), &node2.url(), &phrase)
        .await
        .unwrap();
    let handle = SyncHandle::start(laptop.dir().to_path_buf());
    let mut status = handle.status();
    tokio::time::timeout(
        Duration::from_secs(20),
        status.wait_for(|s| s.state == ConnState::UpToDate),
    )
    .await
    .expect("the laptop connects to node 2")
    .unwrap();

    // New connections to the database are refused for a while (the nodes' pools
    // keep theirs), and every listener of it is cut: nobody hears the next signal.
    let admin = postgres::server().admin().await;
    let name = db.config.get_dbname().unwrap().to_string();
    admin
        .batch_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
        .await
        .unwrap();
    let cut = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = $1 AND query ILIKE 'LISTEN%'",
            &[&name],
        )
        .await
        .unwrap();
    assert_eq!(cut.len(), 2, "each node had one listener");
    phone.capture("Ada Lovelace", "signalled while nobody listened");
    phone.sync().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !laptop.knows("signalled while nobody listened"),
        "the signal was lost: node 2 did not pass the entry on"
    );
    // The database takes connections again: node 2 listens again, reads the heads
    // it missed, and the laptop gets the entry on the session it has.
    admin
        .batch_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
        .await
        .unwrap();
    let seen = wait_until(Duration::from_secs(8), || {
        laptop.knows("signalled while nobody listened")
    })
    .await;
    assert!(seen, "node 2 caught up when it listened again");
    handle.stop();
    let metrics = node2.get("/metrics").await;
    assert!(metric(&metrics, "aftercall_relay_listener_connects_total") >= 2.0);
}

/// Two nodes of one database hold an account to one set of limits: two devices
/// connected at most across both, and one entry allowance, whichever node a push
/// reaches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_account_limits_hold_across_relay_nodes() {
    use aftercall_shared::protocol::{ClientMessage, DeviceId, RefusalCode, SealedEntry};

    use crate::sync_support::{refusal_of, RawClient};
    let db = postgres::server().database().await;
    let node = || {
        let mut config = Config::new(Database::from(db.config.clone()));
        config.limits = aftercall_sync_server::Limits {
            entries_per_second: 1,
            entries_burst: 3,
            connections_per_account: 2,
            ..aftercall_sync_server::Limits::default()
        };
        Relay::start_with(config, "127.0.0.1:0")
    };
    let (node1, node2) = (node(), node());
    let phrase = aftercall_shared::crypto::AccountSecret::generate(
        &mut aftercall_shared::env::SeededEntropy::new(11),
    )
    .phrase();
    let mut first = RawClient::connect(&node1).await;
    assert_eq!(refusal_of(&first.hello(&phrase, "d1", true).await), None);
    let mut second = RawClient::connect(&node2).await;
    assert_eq!(refusal_of(&second.hello(&phrase, "d2", false).await), None);
    let mut third = RawClient::connect(&node2).await;
    assert_eq!(
        refusal_of(&third.hello(&phrase, "d3", false).await),
        Some(RefusalCode::TooManyConnections),
        "the third device is refused on node 2, though node 2 holds only one"
    );

    let entry = |device: &str, seq: u64| SealedEntry {
        device: DeviceId::new(device).unwrap(),
        seq,
        sealed: vec![1; 64],
    };
    // The burst of 3 is spent on node 1; 4 more on node 2 would wait 4 s: refused
    // (node 2's own allowance alone would have held them back a second).
    first
        .send(&ClientMessage::Push {
            entries: (1..=3).map(|s| entry("d1", s)).collect(),
        })
        .await;
    assert_eq!(
        first.next().await.unwrap(),
        aftercall_shared::protocol::ServerMessage::Stored { up_to: 3 }
    );
    second
        .send(&ClientMessage::Push {
            entries: (1..=4).map(|s| entry("d2", s)).collect(),
        })
        .await;
    // (Node 2 may first pass on d1's entries live.)
    let answer = loop {
        match second.next().await.unwrap() {
            aftercall_shared::protocol::ServerMessage::Entries { .. } => continue,
            other => break other,
        }
    };
    assert_eq!(refusal_of(&[answer]), Some(RefusalCode::RateLimited));
    // A device leaving makes room on the other node.
    drop(first);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut again = RawClient::connect(&node2).await;
        let answer = again.hello(&phrase, "d3", false).await;
        match refusal_of(&answer) {
            None => break,
            Some(RefusalCode::TooManyConnections) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            other => panic!("{other:?}"),
        }
    }
}

/// nginx in front of relay nodes, run from `docs/relay-nodes.nginx.conf` with only
/// its addresses changed; stopped when dropped.
struct Proxy {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Proxy {
    fn start(nodes: &[&Relay]) -> Proxy {
        let documented = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/relay-nodes.nginx.conf"),
        )
        .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let servers: String = nodes
            .iter()
            .map(|n| {
                let addr = n.url().trim_start_matches("http://").to_string();
                format!("        server {addr} max_fails=1 fail_timeout=10s;\n")
            })
            .collect();
        let mut config = String::new();
        let mut in_upstream = false;
        for line in documented.lines() {
            if line.trim_start().starts_with("server 127.0.0.1:87") {
                if !in_upstream {
                    config.push_str(&servers);
                    in_upstream = true;
                }
                continue;
            }
            config.push_str(&line.replace(
                "listen 127.0.0.1:8080;",
                &format!("listen 127.0.0.1:{port};"),
            ));
            config.push('\n');
        }
        assert!(
            in_upstream && config.contains(&format!(":{port};")),
            "{config}"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, config).unwrap();
        let child = std::process::Command::new("nginx")
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&path)
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .args(["-g", "daemon off; pid nginx.pid;"])
            .spawn()
            .expect("nginx runs (bash .ci/setup installs it)");
        let proxy = Proxy {
            child,
            port,
            _dir: dir,
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return proxy;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("nginx did not listen on {port}");
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Proxy {
    /// nginx's workers outlive a killed master: it is asked to stop (SIGTERM), which
    /// stops them first.
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two relay nodes on one database behind nginx, configured as the docs say. The
/// laptop stays connected through the proxy while the phone pushes; one node is
/// killed mid-push. Devices reconnect through the proxy to the other node, every
/// entry the relay acknowledged is there, and both devices converge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_behind_a_proxy_lose_nothing_when_a_relay_node_is_killed_mid_sync() {
    let db = postgres::server().database().await;
    let node = || {
        Relay::start_with(
            Config::new(Database::from(db.config.clone())),
            "127.0.0.1:0",
        )
    };
    let (node1, node2) = (node(), node());
    let proxy = Proxy::start(&[&node1, &node2]);
    let (devices, phrase) = {
        let phone = Device::new("phone");
        let phrase = sync::create_account(phone.dir(), Some(&proxy.url())).unwrap();
        phone.sync().await;
        (vec![phone], phrase)
    };
    let phone = &devices[0];
    let laptop = Device::new("laptop");
    sync::pair(laptop.dir(), &proxy.url(), &phrase)
        .await
        .unwrap();
    let handle = SyncHandle::start(laptop.dir().to_path_buf());
    let mut status = handle.status();
    tokio::time::timeout(
        Duration::from_secs(20),
        status.wait_for(|s| s.state == ConnState::UpToDate),
    )
    .await
    .expect("the laptop connects through the proxy")
    .unwrap();

    {
        let mut store = phone.store();
        for i in 0..400 {
            store
                .capture(&aftercall_shared::commands::CaptureDraft {
                    people: vec![aftercall_shared::commands::PersonRef::Named(format!(
                        "Person {}",
                        i % 25
                    ))],
                    talked_about: format!("pushed through the proxy {i}"),
                    ..Default::default()
                })
                .unwrap();
        }
    }
    // The push starts; one node dies under it (whichever the phone reached).
    let pushing = tokio::spawn({
        let dir = phone.dir().to_path_buf();
        async move { sync::sync_once(&dir).await }
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    node1.kill();
    let _ = pushing.await.unwrap();
    // Whatever the relay acknowledged before is kept; the rest goes again.
    let acknowledged = pending_upload(phone);
    phone.sync().await;
    assert_eq!(pending_upload(phone), 0, "was {acknowledged} pending");

    laptop.capture("Grace Hopper", "written while a node was down");
    handle.local_write();
    let done = wait_until(Duration::from_secs(30), || {
        pending_upload(&laptop) == 0 && laptop.knows("pushed through the proxy 399")
    })
    .await;
    assert!(
        done,
        "the laptop reconnected through the proxy and caught up"
    );
    handle.stop();
    phone.sync().await;
    assert!(phone.knows("written while a node was down"));
    let rows = assert_converged(&[phone, &laptop]);
    for i in [0, 199, 399] {
        let text = format!("pushed through the proxy {i}");
        assert!(rows.iter().any(|r| r.contains(&text)), "{text}");
    }
    let health = node2.get("/health").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
}
