//! Stories about the relay: re-pushes, conflicts, gaps, limits, registration,
//! health and metrics, and crashes that lose nothing acknowledged.

use std::time::Duration;

use aftercall_app::sync::{self, ConnState, SyncHandle};
use aftercall_shared::crypto::AccountSecret;
use aftercall_shared::protocol::{
    ClientMessage, DeviceId, RefusalCode, SealedEntry, ServerMessage,
};
use aftercall_sync_server::store::{self, RelayStore, SqliteStore};
use aftercall_sync_server::{Config, Limits};

use crate::sync_support::{
    account, assert_converged, entries_of, refusal_of, sync_all, Device, RawClient, Relay,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_re_pushed_and_conflicting_entries_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (devices, phrase) = account(&relay, &["phone", "laptop"]).await;
    let (phone, laptop) = (&devices[0], &devices[1]);
    for i in 0..5 {
        phone.capture("Ada", &format!("call {i}"));
    }
    sync_all(&[phone, laptop]).await;
    let before = assert_converged(&[phone, laptop]);

    // Replaying the phone's whole log, as the phone, is accepted and stores nothing new.
    let phone_id = phone.store().device_id().to_string();
    let mut reader = RawClient::connect(&relay).await;
    let log: Vec<SealedEntry> = entries_of(&reader.hello(&phrase, "reader", false).await)
        .into_iter()
        .filter(|e| e.device.as_str() == phone_id)
        .collect();
    assert_eq!(log.len(), 5);
    let mut replayer = RawClient::connect(&relay).await;
    // As the phone: with its own credential (another is refused).
    let mut impostor = RawClient::connect(&relay).await;
    let refused = impostor.hello(&phrase, &phone_id, false).await;
    assert_eq!(refusal_of(&refused), Some(RefusalCode::Unauthorized));
    let welcome = replayer
        .hello_with(&phrase, &phone_id, false, phone.device_key())
        .await;
    assert!(
        matches!(
            welcome.first(),
            Some(&ServerMessage::Welcome { own_head: 5, .. })
        ),
        "{welcome:?}"
    );
    let mut reordered = log.clone();
    reordered.reverse();
    replayer
        .send(&ClientMessage::Push { entries: reordered })
        .await;
    assert_eq!(
        replayer.next().await,
        Some(ServerMessage::Stored { up_to: 5 })
    );
    replayer
        .send(&ClientMessage::Push {
            entries: log.clone(),
        })
        .await;
    assert_eq!(
        replayer.next().await,
        Some(ServerMessage::Stored { up_to: 5 })
    );

    // A different entry at a stored position is refused, and so is a gap.
    let mut forged = log[2].clone();
    forged.sealed[30] ^= 1;
    replayer
        .send(&ClientMessage::Push {
            entries: vec![forged],
        })
        .await;
    let answer = [
        replayer.next().await.unwrap(),
        replayer.next().await.unwrap(),
    ];
    assert_eq!(
        refusal_of(&answer),
        Some(RefusalCode::Conflict),
        "{answer:?}"
    );
    let mut replayer = RawClient::connect(&relay).await;
    replayer
        .hello_with(&phrase, &phone_id, false, phone.device_key())
        .await;
    let mut gap = log[0].clone();
    gap.seq = 9;
    replayer
        .send(&ClientMessage::Push { entries: vec![gap] })
        .await;
    let answer = [
        replayer.next().await.unwrap(),
        replayer.next().await.unwrap(),
    ];
    assert_eq!(refusal_of(&answer), Some(RefusalCode::Gap), "{answer:?}");

    sync_all(&[laptop, phone]).await;
    assert_eq!(assert_converged(&[phone, laptop]), before);
    assert_eq!(laptop.store().quarantined_count().unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_are_refused_with_a_clear_error_frame() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().join("relay.sqlite"));
    config.limits = Limits {
        max_message_bytes: 4096,
        entries_per_second: 1,
        entries_burst: 3,
        connections_per_account: 2,
        ..Limits::default()
    };
    let relay = Relay::start_with(config, "127.0.0.1:0");
    let phrase =
        AccountSecret::generate(&mut aftercall_shared::env::SeededEntropy::new(5)).phrase();
    let entry = |device: &str, seq: u64, size: usize| SealedEntry {
        device: DeviceId::new(device).unwrap(),
        seq,
        sealed: vec![1; size],
    };

    let mut first = RawClient::connect(&relay).await;
    assert_eq!(refusal_of(&first.hello(&phrase, "d1", true).await), None);
    let mut second = RawClient::connect(&relay).await;
    assert_eq!(refusal_of(&second.hello(&phrase, "d2", false).await), None);
    let mut third = RawClient::connect(&relay).await;
    assert_eq!(
        refusal_of(&third.hello(&phrase, "d3", false).await),
        Some(RefusalCode::TooManyConnections)
    );

    first
        .send(&ClientMessage::Push {
            entries: vec![entry("d1", 1, 8000)],
        })
        .await;
    assert_eq!(
        refusal_of(&[first.next().await.unwrap()]),
        Some(RefusalCode::TooLarge)
    );
    // Past twice the limit the websocket layer refuses the frame before the relay
    // reads it: still a clear refusal frame, recognised by the error's type.
    let mut huge = RawClient::connect(&relay).await;
    assert_eq!(refusal_of(&huge.hello(&phrase, "d1", false).await), None);
    huge.send_bytes(vec![0u8; 3 * 4096]).await;
    assert_eq!(
        refusal_of(&[huge.next().await.unwrap()]),
        Some(RefusalCode::TooLarge)
    );
    drop(huge);

    // Three more than the allowance would take three seconds to allow: refused.
    second
        .send(&ClientMessage::Push {
            entries: (1..=6).map(|s| entry("d2", s, 64)).collect(),
        })
        .await;
    let answer = second.next().await.unwrap();
    let ServerMessage::Refused(refusal) = &answer else {
        panic!("{answer:?}")
    };
    assert_eq!(refusal.code, RefusalCode::RateLimited);
    assert!(
        refusal.message.contains("entries per second"),
        "{}",
        refusal.message
    );

    // One over the allowance is held back until the rate allows it, then stored.
    drop((first, second));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut backlog = RawClient::connect(&relay).await;
    assert_eq!(refusal_of(&backlog.hello(&phrase, "d1", false).await), None);
    let started = std::time::Instant::now();
    backlog
        .send(&ClientMessage::Push {
            entries: (1..=4).map(|s| entry("d1", s, 64)).collect(),
        })
        .await;
    assert_eq!(
        backlog.next().await.unwrap(),
        ServerMessage::Stored { up_to: 4 }
    );
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(800),
        "held back about a second: {:?}",
        started.elapsed()
    );

    let mut garbage = RawClient::connect(&relay).await;
    garbage
        .send_bytes(vec![
            aftercall_shared::protocol::VERSION,
            1,
            0xff,
            0xff,
            0xff,
        ])
        .await;
    assert_eq!(
        refusal_of(&[garbage.next().await.unwrap()]),
        Some(RefusalCode::BadMessage)
    );
    let metrics = http_get(&relay, "/metrics").await;
    assert!(
        metrics.contains("aftercall_relay_refusals_total{reason=\"rate_limited\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("aftercall_relay_refusals_total{reason=\"too_large\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("aftercall_relay_pushes_throttled_total 1"),
        "{metrics}"
    );
    assert!(http_get(&relay, "/health").await.ends_with("ok\n"));
}

async fn http_get(relay: &Relay, path: &str) -> String {
    let body = relay.get(path).await;
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_relay_creates_accounts_only_with_an_invite() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.sqlite");
    let mut config = Config::new(&db);
    config.closed_registration = true;
    SqliteStore::open(&db)
        .unwrap()
        .add_invite("welcome-aboard")
        .await
        .unwrap();
    let relay = Relay::start_with(config, "127.0.0.1:0");

    let uninvited = Device::new("uninvited");
    sync::create_account(uninvited.dir(), Some(&relay.url())).unwrap();
    let err = sync::sync_once(uninvited.dir()).await.unwrap_err();
    assert!(
        format!("{err:#}").contains("registration on this relay is closed"),
        "{err:#}"
    );

    let invited = Device::new("invited");
    sync::create_account_with_invite(invited.dir(), Some(&relay.url()), Some("welcome-aboard"))
        .unwrap();
    invited.capture("Ada", "invited at last");
    let report = invited.sync().await;
    assert_eq!(report.uploaded, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_killed_mid_sync_and_restarted_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (devices, phrase) = account(&relay, &["phone", "laptop"]).await;
    let (phone, laptop) = (&devices[0], &devices[1]);
    for i in 0..1500 {
        phone.capture(&format!("Person {}", i % 40), &format!("call number {i}"));
    }
    let handle = SyncHandle::start(phone.dir().to_path_buf());
    let mut status = handle.status();
    // Wait until the upload is under way, then pull the plug.
    tokio::time::timeout(
        Duration::from_secs(60),
        status.wait_for(|s| s.state == ConnState::Syncing && s.pending_upload < 1500),
    )
    .await
    .expect("the upload starts")
    .unwrap();
    let (addr, db) = (relay.addr, relay.db.clone());
    relay.kill();
    let acknowledged = 1500 - sync::read_status(phone.dir()).unwrap().pending_upload;

    let keys = AccountSecret::from_phrase(&phrase).unwrap().keys();
    let phone_id = phone.store().device_id().to_string();
    let on_disk = store::open(&db)
        .await
        .unwrap()
        .heads(&keys.account)
        .await
        .unwrap()
        .into_iter()
        .find(|(d, _)| d.as_str() == phone_id)
        .map_or(0, |(_, h)| h);
    assert!(
        on_disk >= acknowledged,
        "acknowledged {acknowledged}, on disk {on_disk}"
    );

    let relay = Relay::restart(addr, &db);
    tokio::time::timeout(
        Duration::from_secs(120),
        status.wait_for(|s| s.state == ConnState::UpToDate && s.pending_upload == 0),
    )
    .await
    .expect("the phone reconnects and finishes")
    .unwrap();
    handle.stop();
    laptop.sync().await;
    let rows = assert_converged(&[phone, laptop]);
    assert!(rows.iter().any(|r| r.contains("call number 1499")));

    // A graceful stop (SIGTERM) in the middle of a sync loses nothing either.
    for i in 0..300 {
        laptop.capture("Grace", &format!("laptop call {i}"));
    }
    let upload = tokio::spawn({
        let dir = laptop.dir().to_path_buf();
        async move { sync::sync_once(&dir).await }
    });
    tokio::time::sleep(Duration::from_millis(30)).await;
    relay.stop().await;
    let _ = upload.await;
    let _relay = Relay::restart(addr, &db);
    sync_all(&[laptop, phone]).await;
    let rows = assert_converged(&[phone, laptop]);
    assert!(rows.iter().any(|r| r.contains("laptop call 299")));
}
