//! Stories: a lost phone, removed and the account re-keyed, through a real relay.
//! The remaining devices move to the new key by themselves and converge with
//! everything (what one wrote offline during the re-key included, and attachments
//! only the relay had); the removed phone is refused and nothing written afterwards
//! opens with the key it holds; the old recovery phrase is refused and the new one
//! pairs; the relay keeps nothing of the old account. A re-key cut short at every
//! step of its session resumes and ends the same way. On SQLite and PostgreSQL.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use aftercall_app::sync;
use aftercall_shared::crypto::{open, AccountKeys, AccountSecret};
use aftercall_shared::model::{AttachmentOwner, BlobHash, MediaType};
use aftercall_shared::protocol::{DeviceId, SealedEntry};
use aftercall_shared::sync::SyncError;
use aftercall_sync_server::test_postgres as postgres;
use aftercall_sync_server::{Config, Database};
use futures_util::{SinkExt, StreamExt};

use crate::support::{fails, json, ok};
use crate::sync_support::{assert_converged, sync_all, Device, Relay};

/// What the relay's tables hold, read with the test's own connection.
enum Tables {
    Sqlite(std::path::PathBuf),
    Postgres(Box<postgres::TestDatabase>),
}

impl Tables {
    /// Rows of `table` that belong to `account`.
    async fn count(&self, table: &str, account: &[u8; 16]) -> i64 {
        match self {
            Tables::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                conn.query_row(
                    &format!("SELECT COUNT(*) FROM {table} WHERE account = ?1"),
                    [&account[..]],
                    |r| r.get(0),
                )
                .unwrap()
            }
            Tables::Postgres(db) => {
                let client = db.connect().await;
                client
                    .query_one(
                        &format!("SELECT COUNT(*) FROM {table} WHERE account = $1"),
                        &[&&account[..]],
                    )
                    .await
                    .unwrap()
                    .get(0)
            }
        }
    }

    /// Every log entry the relay holds, with its account.
    async fn entries(&self) -> Vec<([u8; 16], SealedEntry)> {
        let rows: Vec<(Vec<u8>, String, i64, Vec<u8>)> = match self {
            Tables::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                let mut stmt = conn
                    .prepare("SELECT account, device, seq, sealed FROM entries")
                    .unwrap();
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect()
            }
            Tables::Postgres(db) => db
                .connect()
                .await
                .query("SELECT account, device, seq, sealed FROM entries", &[])
                .await
                .unwrap()
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
                .collect(),
        };
        rows.into_iter()
            .map(|(account, device, seq, sealed)| {
                (
                    account.try_into().unwrap(),
                    SealedEntry {
                        device: DeviceId::new(&device).unwrap(),
                        seq: seq as u64,
                        sealed,
                    },
                )
            })
            .collect()
    }
}

/// `len` bytes that do not compress, different for each seed.
fn content(seed: u64, len: usize) -> Vec<u8> {
    use aftercall_shared::env::Entropy;
    let mut out = vec![0u8; len];
    aftercall_shared::env::SeededEntropy::new(seed).fill(&mut out);
    out
}

fn attach(device: &Device, person: &str, name: &str, bytes: &[u8]) -> BlobHash {
    let mut store = device.store();
    let id = store.find_person(person).unwrap();
    let media: MediaType = "image/jpeg".parse().unwrap();
    store
        .attach(&AttachmentOwner::Person(id), name, &media, bytes)
        .unwrap()
        .blob
}

fn keys_of(device: &Device) -> AccountKeys {
    let phrase = sync::recovery_phrase(device.dir()).unwrap().unwrap();
    AccountSecret::from_phrase(&phrase).unwrap().keys()
}

/// Three devices of one account on `relay`, named at set-up; the first created it.
async fn three_devices(relay_url: &str, laptop_url: &str) -> (Device, Device, Device, String) {
    let laptop = Device::new("laptop");
    let phone = Device::new("lost phone");
    let tablet = Device::new("tablet");
    let phrase = sync::create_account(laptop.dir(), Some(laptop_url)).unwrap();
    for d in [&laptop, &phone, &tablet] {
        sync::set_device_name(
            d.dir(),
            &aftercall_shared::crypto::DeviceName::new(d.name).unwrap(),
        )
        .unwrap();
    }
    laptop.sync().await;
    sync::pair(phone.dir(), relay_url, &phrase).await.unwrap();
    sync::pair(tablet.dir(), relay_url, &phrase).await.unwrap();
    (laptop, phone, tablet, phrase)
}

/// The whole story on one relay.
async fn a_lost_phone_is_removed_and_the_account_rekeyed(relay: &Relay, tables: &Tables) {
    let url = relay.url();
    let (laptop, phone, tablet, old_phrase) = three_devices(&url, &url).await;
    laptop.capture("Ada Lovelace", "before the phone was lost");
    tablet.capture("Grace Hopper", "the tablet's note");
    // A large photo only the tablet holds: the laptop has not opened it, so it
    // must fetch it before the relay drops the old key's copy.
    let photo = content(7, 700_000);
    let photo_hash = attach(&tablet, "Grace Hopper", "whiteboard.jpg", &photo);
    sync_all(&[&laptop, &tablet, &phone]).await;
    assert!(phone.knows("the tablet's note"));
    assert_eq!(laptop.store().blob(&photo_hash).unwrap(), None);
    let old = keys_of(&laptop);

    // The tablet is offline during the re-key and writes meanwhile.
    tablet.capture("Linus", "written offline during the re-key");

    let done = sync::remove_and_rekey(laptop.dir(), "lost phone")
        .await
        .unwrap();
    assert_eq!(done.removed.as_ref().map(|r| r.label()), Some("lost phone"));
    assert!(done.left_out.is_empty(), "{:?}", done.left_out);
    assert_ne!(done.phrase, old_phrase);
    assert_eq!(
        sync::recovery_phrase(laptop.dir()).unwrap().as_deref(),
        Some(done.phrase.as_str())
    );
    let new = keys_of(&laptop);
    assert_ne!(new.account, old.account);
    assert_eq!(
        laptop.store().blob(&photo_hash).unwrap().as_deref(),
        Some(&photo[..]),
        "fetched before the re-key"
    );
    laptop.capture("Ada Lovelace", "after the re-key");
    laptop.sync().await;

    // The tablet moves over by itself at its next sync, and sends what it wrote.
    tablet.sync().await;
    assert_eq!(keys_of(&tablet).account, new.account);
    sync_all(&[&laptop, &tablet]).await;
    assert!(tablet.knows("after the re-key"));
    assert!(laptop.knows("written offline during the re-key"));
    assert_converged(&[&laptop, &tablet]);

    // The lost phone is refused and knows nothing written afterwards.
    let refused = sync::sync_once(phone.dir()).await.unwrap_err();
    let error = refused.downcast_ref::<SyncError>().expect("a sync error");
    assert!(error.is_device_removed(), "{refused:#}");
    assert!(!phone.knows("after the re-key"));

    // The old phrase no longer opens the account; the new one pairs a device that
    // gets everything, the photo included.
    let stranger = Device::new("stranger");
    let refused = sync::pair(stranger.dir(), &url, &old_phrase)
        .await
        .unwrap_err();
    assert!(
        refused
            .downcast_ref::<SyncError>()
            .is_some_and(SyncError::is_account_rekeyed),
        "{refused:#}"
    );
    let fresh = Device::new("new phone");
    sync::pair(fresh.dir(), &url, &done.phrase).await.unwrap();
    assert!(fresh.knows("before the phone was lost"));
    assert!(fresh.knows("written offline during the re-key"));
    assert!(fresh.knows("after the re-key"));
    fresh.store().want_blob(&photo_hash).unwrap();
    fresh.sync().await;
    assert_eq!(
        fresh.store().blob(&photo_hash).unwrap().as_deref(),
        Some(&photo[..])
    );
    sync_all(&[&laptop, &tablet, &fresh]).await;
    assert_converged(&[&laptop, &tablet, &fresh]);

    // The relay keeps nothing of the old account sealed under the old key, and no
    // entry it holds opens with the key the lost phone has.
    for table in [
        "entries",
        "checkpoints",
        "checkpoint_chunks",
        "blobs",
        "blob_chunks",
        "acks",
    ] {
        assert_eq!(
            tables.count(table, &old.account.0).await,
            0,
            "{table} still holds rows of the old account"
        );
    }
    let entries = tables.entries().await;
    assert!(!entries.is_empty());
    for (account, entry) in &entries {
        assert_eq!(*account, new.account.0);
        assert!(open(&new, entry).is_ok());
        assert!(
            open(&old, entry).is_err(),
            "an entry opens with the old key"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_phone_is_removed_and_the_account_rekeyed_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let tables = Tables::Sqlite(relay.sqlite_path().to_path_buf());
    a_lost_phone_is_removed_and_the_account_rekeyed(&relay, &tables).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_phone_is_removed_and_the_account_rekeyed_on_postgresql() {
    let db = postgres::server().database().await;
    let relay = Relay::start_with(
        Config::new(Database::from(db.config.clone())),
        "127.0.0.1:0",
    );
    let tables = Tables::Postgres(Box::new(db));
    a_lost_phone_is_removed_and_the_account_rekeyed(&relay, &tables).await;
}

/// A websocket proxy to a relay that, once armed, cuts the `nth` connection it
/// accepts after that (both ways, without a close frame) as soon as it has passed
/// `frames` of the device's frames on.
struct CuttingProxy {
    addr: std::net::SocketAddr,
    /// Connections accepted so far.
    accepted: Arc<AtomicUsize>,
    /// The connection number to cut (0: none), and after how many frames.
    cut_at: Arc<AtomicUsize>,
    cut_after: Arc<AtomicUsize>,
    /// Told when the armed connection has passed its frames on; with `kill_relay`
    /// the proxy then keeps forwarding instead of cutting (the test kills the
    /// relay).
    passed: tokio::sync::mpsc::UnboundedReceiver<()>,
    kill_relay: Arc<std::sync::atomic::AtomicBool>,
}

impl CuttingProxy {
    async fn start(relay: std::net::SocketAddr) -> CuttingProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let cut_at = Arc::new(AtomicUsize::new(0));
        let cut_after = Arc::new(AtomicUsize::new(0));
        let kill_relay = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (tell, passed) = tokio::sync::mpsc::unbounded_channel();
        let (a, c, f, k) = (
            accepted.clone(),
            cut_at.clone(),
            cut_after.clone(),
            kill_relay.clone(),
        );
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let number = a.fetch_add(1, Ordering::SeqCst) + 1;
                let limit = (c.load(Ordering::SeqCst) == number).then(|| f.load(Ordering::SeqCst));
                let kill = k.load(Ordering::SeqCst);
                let tell = tell.clone();
                tokio::spawn(async move {
                    let Ok(device) = tokio_tungstenite::accept_async(tcp).await else {
                        return;
                    };
                    let Ok((relay_ws, _)) =
                        tokio_tungstenite::connect_async(format!("ws://{relay}/sync")).await
                    else {
                        return;
                    };
                    let (mut to_device, mut from_device) = device.split();
                    let (mut to_relay, mut from_relay) = relay_ws.split();
                    let up = async {
                        let mut passed = 0;
                        while let Some(Ok(msg)) = from_device.next().await {
                            if !kill && limit.is_some_and(|l| passed >= l) {
                                return;
                            }
                            if msg.is_binary() {
                                passed += 1;
                            }
                            if to_relay.send(msg).await.is_err() {
                                return;
                            }
                            if limit == Some(passed) {
                                let _ = tell.send(());
                                if !kill {
                                    // Give the relay a moment to take the last
                                    // frame, then cut: its answer may or may not
                                    // get back.
                                    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
                                    return;
                                }
                            }
                        }
                    };
                    let down = async {
                        while let Some(Ok(msg)) = from_relay.next().await {
                            if to_device.send(msg).await.is_err() {
                                return;
                            }
                        }
                    };
                    tokio::select! {
                        () = up => {}
                        () = down => {}
                    }
                });
            }
        });
        CuttingProxy {
            addr,
            accepted,
            cut_at,
            cut_after,
            passed,
            kill_relay,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Cuts the `nth` connection from now after `frames` frames of the device
    /// (with `kill_relay` set: tells, and goes on forwarding).
    fn arm(&self, nth: usize, frames: usize) {
        self.cut_after.store(frames, Ordering::SeqCst);
        self.cut_at
            .store(self.accepted.load(Ordering::SeqCst) + nth, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rekey_cut_at_every_step_resumes_and_every_remaining_device_converges() {
    // The re-key's own session sends: hello, the wrap key, the rotation with its
    // checkpoint chunk, the commit. Cut after each (and once not at all).
    for frames in 1..=6 {
        let dir = tempfile::tempdir().unwrap();
        let relay = Relay::start(dir.path());
        let proxy = CuttingProxy::start(relay.addr).await;
        let (laptop, phone, tablet, old_phrase) = three_devices(&relay.url(), &proxy.url()).await;
        laptop.capture("Ada Lovelace", "before the phone was lost");
        sync_all(&[&laptop, &tablet, &phone]).await;
        let old = keys_of(&laptop);

        // remove_and_rekey's sessions: the listing, the removal, then the re-key.
        proxy.arm(3, frames);
        let first = sync::remove_and_rekey(laptop.dir(), "lost phone").await;
        // Whatever happened, the next sync resumes (or finds it done).
        laptop.sync().await;
        let new = keys_of(&laptop);
        assert_ne!(
            new.account, old.account,
            "cut after {frames} frames: {first:?}"
        );
        let phrase = sync::recovery_phrase(laptop.dir()).unwrap().unwrap();
        assert_ne!(phrase, old_phrase);
        if let Ok(done) = &first {
            assert_eq!(done.phrase, phrase);
        }

        laptop.capture("Ada Lovelace", "after the re-key");
        sync_all(&[&laptop, &tablet]).await;
        assert_eq!(keys_of(&tablet).account, new.account, "cut after {frames}");
        assert!(tablet.knows("after the re-key"));
        assert_converged(&[&laptop, &tablet]);
        assert!(sync::sync_once(phone.dir()).await.is_err());
        let tables = Tables::Sqlite(relay.sqlite_path().to_path_buf());
        assert_eq!(tables.count("entries", &old.account.0).await, 0);
        assert_eq!(tables.count("checkpoints", &old.account.0).await, 0);
    }
}

#[test]
fn devices_remove_rekey_on_the_command_line_prints_the_new_phrase_once() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let laptop = tempfile::tempdir().unwrap();
    let phone = tempfile::tempdir().unwrap();
    let init = ok(
        laptop.path(),
        &["init", "--relay", &relay.url(), "--name", "Work laptop"],
    );
    let phrase = crate::support::phrase_after(&init, "Your recovery phrase");
    ok(laptop.path(), &["sync"]);
    ok(
        phone.path(),
        &[
            "pair",
            "--relay",
            &relay.url(),
            "--phrase",
            &phrase,
            "--name",
            "Old phone",
        ],
    );
    let said = ok(
        laptop.path(),
        &["devices", "remove", "old phone", "--rekey"],
    );
    assert!(said.contains("Removed \"Old phone\""), "{said}");
    let new_phrase = crate::support::phrase_after(&said, "New recovery phrase");
    assert_eq!(new_phrase.split(' ').count(), 24, "{said}");
    assert_ne!(new_phrase, phrase);
    let listed = json(laptop.path(), &["devices"]);
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["name"].as_str())
        .collect();
    assert_eq!(names, ["Work laptop"], "{listed}");
    let refused = fails(phone.path(), &["sync"]);
    assert!(refused.contains("removed"), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_killed_at_every_step_of_a_rekey_recovers_and_the_rekey_ends() {
    for frames in 1..=5 {
        let dir = tempfile::tempdir().unwrap();
        let mut relay = Relay::start(dir.path());
        let mut proxy = CuttingProxy::start(relay.addr).await;
        proxy.kill_relay.store(true, Ordering::SeqCst);
        let (laptop, phone, tablet, _) = three_devices(&relay.url(), &proxy.url()).await;
        laptop.capture("Ada Lovelace", "before the phone was lost");
        sync_all(&[&laptop, &tablet, &phone]).await;
        let old = keys_of(&laptop);

        proxy.arm(3, frames);
        let dir_of_laptop = laptop.dir().to_path_buf();
        let rekey =
            tokio::spawn(async move { sync::remove_and_rekey(&dir_of_laptop, "lost phone").await });
        // The relay dies the moment its frame went through.
        let reached = tokio::time::timeout(std::time::Duration::from_secs(30), proxy.passed.recv())
            .await
            .is_ok();
        if reached {
            let (addr, db) = (relay.addr, relay.db.clone());
            relay.kill();
            relay = Relay::restart(addr, &db);
        }
        let first = rekey.await.unwrap();
        laptop.sync().await;
        let new = keys_of(&laptop);
        assert_ne!(
            new.account, old.account,
            "killed after {frames} frames: {first:?}"
        );
        laptop.capture("Ada Lovelace", "after the re-key");
        sync_all(&[&laptop, &tablet]).await;
        assert_eq!(
            keys_of(&tablet).account,
            new.account,
            "killed after {frames}"
        );
        assert!(tablet.knows("after the re-key"));
        assert_converged(&[&laptop, &tablet]);
        assert!(sync::sync_once(phone.dir()).await.is_err());
        let tables = Tables::Sqlite(relay.sqlite_path().to_path_buf());
        assert_eq!(tables.count("entries", &old.account.0).await, 0);
    }
}

/// `aftercall devices remove NAME --rekey` killed with SIGKILL at a moment of its
/// run; then `aftercall sync` on the same folder ends the re-key (or finds it
/// done, or none begun: then it is run again), and the devices converge.
#[test]
fn a_rekey_killed_at_random_moments_resumes_at_the_next_sync() {
    use std::time::Instant;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // How long a whole run takes here (the binary built first), to spread the
    // kills over it.
    crate::support::aftercall_bin();
    let whole = {
        let dir = tempfile::tempdir().unwrap();
        let relay = Relay::start(dir.path());
        let (laptop, _phone, _tablet, _) =
            runtime.block_on(three_devices(&relay.url(), &relay.url()));
        let started = Instant::now();
        ok(
            laptop.dir(),
            &["devices", "remove", "lost phone", "--rekey"],
        );
        started.elapsed()
    };
    let mut outcomes = Vec::new();
    for step in 0..6u32 {
        let dir = tempfile::tempdir().unwrap();
        let relay = Relay::start(dir.path());
        let (laptop, phone, tablet, old_phrase) =
            runtime.block_on(three_devices(&relay.url(), &relay.url()));
        laptop.capture("Ada Lovelace", "before the phone was lost");
        runtime.block_on(sync_all(&[&laptop, &tablet, &phone]));
        let old = keys_of(&laptop);
        let mut child = std::process::Command::new(crate::support::aftercall_bin())
            .arg("--data-dir")
            .arg(laptop.dir())
            .args(["devices", "remove", "lost phone", "--rekey"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(whole * step / 6);
        let _ = child.kill();
        let _ = child.wait();
        let pending = laptop.store().setting("sync.rotation").unwrap().is_some();
        let moved = keys_of(&laptop).account != old.account;
        // Resume: at the next sync, or (when the kill came before the new secret
        // was kept) by running the command again.
        ok(laptop.dir(), &["sync"]);
        let outcome = match (moved, pending, keys_of(&laptop).account != old.account) {
            (true, _, _) => "finished before the kill",
            (false, true, true) => "resumed by the next sync",
            (false, _, false) => {
                ok(
                    laptop.dir(),
                    &["devices", "remove", "lost phone", "--rekey"],
                );
                "not begun: run again"
            }
            (false, false, true) => "committed, kept at the next sync",
        };
        outcomes.push(outcome);
        let new = keys_of(&laptop);
        assert_ne!(new.account, old.account, "step {step}");
        assert_ne!(
            sync::recovery_phrase(laptop.dir()).unwrap().unwrap(),
            old_phrase
        );
        laptop.capture("Ada Lovelace", "after the re-key");
        runtime.block_on(sync_all(&[&laptop, &tablet]));
        assert_eq!(keys_of(&tablet).account, new.account, "step {step}");
        assert!(tablet.knows("after the re-key"));
        assert_converged(&[&laptop, &tablet]);
        assert!(runtime.block_on(sync::sync_once(phone.dir())).is_err());
    }
    eprintln!("re-key killed at six moments: {outcomes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rekey_whose_removal_never_reached_the_relay_still_leaves_that_device_out() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (laptop, phone, tablet, _) = three_devices(&relay.url(), &relay.url()).await;
    laptop.capture("Ada Lovelace", "before");
    sync_all(&[&laptop, &tablet, &phone]).await;
    // A re-key begun here whose removal of the phone was cut off: the new secret
    // and the device it removes are kept; the phone is still registered.
    let new = AccountSecret::generate(&mut aftercall_shared::env::SeededEntropy::new(99));
    let pending = format!("{} {}", new.to_hex(), phone.store().device_id());
    laptop
        .store()
        .set_setting("sync.rotation", Some(&pending))
        .unwrap();
    // The next sync resumes it.
    laptop.sync().await;
    assert_eq!(keys_of(&laptop).account, new.keys().account);
    tablet.sync().await;
    assert_eq!(keys_of(&tablet).account, new.keys().account);
    // The phone was never sent the new secret: the account is re-keyed for it.
    let refused = sync::sync_once(phone.dir()).await.unwrap_err();
    assert!(
        refused
            .downcast_ref::<SyncError>()
            .is_some_and(SyncError::is_account_rekeyed),
        "{refused:#}"
    );
    assert_ne!(keys_of(&phone).account, new.keys().account);
}
