//! Stories of the relay on PostgreSQL: devices converge through it and through its
//! restart, and live across two relay nodes on one database; its tables hold no
//! plaintext, `sync-server invite` issues codes into it, and `/health` says when
//! the database is gone.

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
