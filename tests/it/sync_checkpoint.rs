//! Stories: checkpoints through a real relay. A new device loads the newest
//! checkpoint and then only the entries after it, and reads the same as a device
//! that replayed every entry; the relay drops what a checkpoint covers; a device
//! offline across that loses nothing; an upload cut short leaves the previous
//! checkpoint usable; a forged checkpoint is rejected and the log used instead.

use std::time::Duration;

use aftercall_app::sync;
use aftercall_shared::crypto::{seal_checkpoint, AccountSecret};
use aftercall_shared::protocol::{ClientMessage, Cursor, DeviceId};
use aftercall_sync_server::Config;

use crate::sync_support::{account, assert_converged, sync_all, Device, RawClient, Relay};

/// The lowest and highest entry of `device`'s log the relay still holds.
fn relay_log(relay: &Relay, device: &str) -> (Option<i64>, Option<i64>) {
    let conn = rusqlite::Connection::open(relay.sqlite_path()).unwrap();
    conn.query_row(
        "SELECT MIN(seq), MAX(seq) FROM entries WHERE device = ?1",
        [device],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

fn device_id(device: &Device) -> String {
    device.store().device_id().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_device_loads_the_checkpoint_and_the_tail_and_reads_as_a_full_replay() {
    let relay_dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(relay_dir.path());
    let (devices, phrase) = account(&relay, &["laptop", "phone"]).await;
    let (laptop, phone) = (&devices[0], &devices[1]);
    for i in 0..30 {
        laptop.capture(
            &format!("Person {}", i % 7),
            &format!("checkpointed talk {i}"),
        );
    }
    phone.capture("Grace", "said on the phone");
    sync_all(&[laptop, phone]).await;

    let made = sync::checkpoint_once(laptop.dir())
        .await
        .unwrap()
        .checkpoint_uploaded
        .expect("the relay stored the checkpoint");
    assert!(made.documents >= 38, "{made:?}");
    let noted = sync::read_status(laptop.dir())
        .unwrap()
        .last_checkpoint
        .unwrap();
    assert_eq!(
        (noted.way, noted.documents),
        (sync::CheckpointWay::Made, made.documents)
    );
    for i in 0..5 {
        laptop.capture("Ada", &format!("tail talk {i}"));
    }
    laptop.sync().await;
    // The phone was paired before the checkpoint: it replays every entry.
    phone.sync().await;
    // Both devices have applied what the checkpoint covers: the relay dropped it.
    let (lowest, _) = relay_log(&relay, &device_id(laptop));
    assert!(
        lowest.unwrap_or(0) > 1,
        "the laptop's log was pruned: {lowest:?}"
    );

    let tablet = Device::new("tablet");
    let paired = sync::pair(tablet.dir(), &relay.url(), &phrase)
        .await
        .unwrap();
    let loaded = paired
        .checkpoint_loaded
        .expect("the tablet loaded the checkpoint");
    assert_eq!(loaded.id, made.id);
    let noted = sync::read_status(tablet.dir())
        .unwrap()
        .last_checkpoint
        .unwrap();
    assert_eq!(
        (noted.way, noted.documents),
        (sync::CheckpointWay::Loaded, made.documents)
    );
    assert_eq!(paired.received, 5, "only the tail after the checkpoint");
    assert!(tablet.knows("checkpointed talk 0") && tablet.knows("tail talk 4"));
    assert_converged(&[laptop, phone, &tablet]);

    // Writes continue from there on every device.
    tablet.capture("Linus", "after the bootstrap");
    sync_all(&[&tablet, laptop, phone]).await;
    assert_converged(&[laptop, phone, &tablet]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_offline_across_a_prune_loads_the_checkpoint_and_loses_nothing() {
    let relay_dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(relay_dir.path().join("relay.sqlite"));
    // A device not connected does not hold pruning back.
    config.limits.inactive_device_after = Duration::ZERO;
    let relay = Relay::start_with(config, "127.0.0.1:0");
    let (devices, _) = account(&relay, &["laptop", "phone"]).await;
    let (laptop, phone) = (&devices[0], &devices[1]);
    let shared = laptop.capture("Ada", "before the phone went offline");
    sync_all(&[laptop, phone]).await;

    // Offline, the phone writes; the laptop writes, checkpoints and writes on.
    phone.capture("Olga", "written in the basement");
    phone.capture("Ada", "a second note from offline");
    for i in 0..20 {
        laptop.capture(
            &format!("Person {i}"),
            &format!("while the phone was away {i}"),
        );
    }
    laptop.sync().await;
    sync::checkpoint_once(laptop.dir()).await.unwrap();
    laptop.capture("Tom", "after the checkpoint");
    laptop.sync().await;
    let phone_cursor = phone.store().cursor(&device_id(laptop)).unwrap();
    let (lowest, _) = relay_log(&relay, &device_id(laptop));
    assert!(
        lowest.unwrap_or(0) as u64 > phone_cursor + 1,
        "the relay can no longer serve the phone's cursor {phone_cursor}: {lowest:?}"
    );

    let back = phone.sync().await;
    assert!(back.checkpoint_loaded.is_some(), "{back:?}");
    assert_eq!(back.quarantined, 0);
    laptop.sync().await;
    assert!(laptop.knows("written in the basement") && laptop.knows("a second note from offline"));
    assert!(phone.knows("while the phone was away 19") && phone.knows("after the checkpoint"));
    assert!(phone.knows("before the phone went offline"));
    let _ = shared;
    assert_converged(&[laptop, phone]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_upload_cut_short_leaves_the_previous_one_usable() {
    let relay_dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(relay_dir.path());
    let (devices, phrase) = account(&relay, &["laptop"]).await;
    let laptop = &devices[0];
    for i in 0..10 {
        laptop.capture("Ada", &format!("kept through the cuts {i}"));
    }
    laptop.sync().await;
    let first = sync::checkpoint_once(laptop.dir())
        .await
        .unwrap()
        .checkpoint_uploaded
        .unwrap();
    laptop.capture("Ada", "after the first checkpoint");
    laptop.sync().await;

    // An upload of four chunks, the connection dropped after k of them.
    let keys = AccountSecret::from_phrase(&phrase).unwrap().keys();
    let body: Vec<u8> = (0..3_500_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let covers = vec![Cursor {
        device: DeviceId::new(&device_id(laptop)).unwrap(),
        seq: 11,
    }];
    let (cut, chunks) = seal_checkpoint(&keys, &covers, &body);
    assert_eq!(chunks.len(), 4);
    for k in [0, 1, 2, 3] {
        let mut raw = RawClient::connect(&relay).await;
        raw.hello(&phrase, "uploader", false).await;
        raw.send(&ClientMessage::CheckpointBegin {
            checkpoint: cut,
            chunks: 4,
            covers: covers.clone(),
        })
        .await;
        for chunk in &chunks[..k] {
            raw.send(&ClientMessage::CheckpointChunk(chunk.clone()))
                .await;
        }
        drop(raw);
        tokio::time::sleep(Duration::from_millis(200)).await;

        let fresh = Device::new("fresh");
        let paired = sync::pair(fresh.dir(), &relay.url(), &phrase)
            .await
            .unwrap();
        assert_eq!(
            paired.checkpoint_loaded.map(|c| c.id),
            Some(first.id),
            "cut after {k} chunks"
        );
        assert_converged(&[laptop, &fresh]);
    }

    // The next whole upload replaces it.
    laptop.capture("Ada", "in the second checkpoint");
    laptop.sync().await;
    let second = sync::checkpoint_once(laptop.dir())
        .await
        .unwrap()
        .checkpoint_uploaded
        .unwrap();
    assert_ne!(second.id, first.id);
    let fresh = Device::new("fresh");
    let paired = sync::pair(fresh.dir(), &relay.url(), &phrase)
        .await
        .unwrap();
    assert_eq!(paired.checkpoint_loaded.map(|c| c.id), Some(second.id));
    assert_converged(&[laptop, &fresh]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_checkpoint_is_rejected_and_the_device_falls_back_to_the_log() {
    let relay_dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(relay_dir.path());
    let (devices, phrase) = account(&relay, &["laptop", "phone"]).await;
    let (laptop, phone) = (&devices[0], &devices[1]);
    // The phone has not applied what follows, so the log stays whole.
    for i in 0..12 {
        laptop.capture("Ada", &format!("behind the forged checkpoint {i}"));
    }
    laptop.sync().await;
    let made = sync::checkpoint_once(laptop.dir())
        .await
        .unwrap()
        .checkpoint_uploaded
        .unwrap();

    // Someone with the relay's disk flips a byte of the stored checkpoint.
    let conn = rusqlite::Connection::open(relay.sqlite_path()).unwrap();
    let changed = conn
        .execute(
            "UPDATE checkpoint_chunks SET sealed = CAST(zeroblob(length(sealed)) AS BLOB) WHERE idx = 0",
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);

    let tablet = Device::new("tablet");
    let paired = sync::pair(tablet.dir(), &relay.url(), &phrase)
        .await
        .unwrap();
    assert_eq!(paired.checkpoint_rejected, Some(made.id));
    assert!(paired.checkpoint_loaded.is_none());
    assert_eq!(paired.quarantined, 0);
    assert!(tablet.knows("behind the forged checkpoint 11"));
    phone.sync().await;
    assert_converged(&[laptop, phone, &tablet]);
    // It keeps syncing: later entries arrive.
    laptop.capture("Ada", "after the forgery");
    laptop.sync().await;
    let later = tablet.sync().await;
    assert_eq!(later.received, 1);
    assert_converged(&[laptop, &tablet]);
}

/// The ids of the complete checkpoints the relay holds.
fn relay_checkpoints(relay: &Relay) -> Vec<Vec<u8>> {
    let conn = rusqlite::Connection::open(relay.sqlite_path()).unwrap();
    let mut stmt = conn
        .prepare("SELECT id FROM checkpoints WHERE complete = 1")
        .unwrap();
    let ids = stmt.query_map([], |r| r.get(0)).unwrap();
    ids.map(Result::unwrap).collect()
}

/// This machine kind reports no battery (`/sys/class/power_supply` is empty), so
/// it counts as a desktop on mains power.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_desktop_on_power_makes_a_checkpoint_by_itself() {
    let relay_dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(relay_dir.path());
    let (devices, _) = account(&relay, &["desk"]).await;
    let desk = &devices[0];
    {
        let mut store = desk.store();
        for i in 0..520 {
            store
                .capture(&aftercall_shared::commands::CaptureDraft {
                    people: vec![aftercall_shared::commands::PersonRef::Named(format!(
                        "Person {}",
                        i % 20
                    ))],
                    talked_about: format!("idle talk {i}"),
                    ..Default::default()
                })
                .unwrap();
        }
    }
    desk.sync().await;
    assert!(relay_checkpoints(&relay).is_empty(), "below 10,000 entries");
    sync::set_idle_checkpoint_after(desk.dir(), Duration::from_secs(1)).unwrap();

    let handle = sync::SyncHandle::start(desk.dir().to_path_buf());
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while relay_checkpoints(&relay).is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let made = relay_checkpoints(&relay);
    assert_eq!(made.len(), 1, "the idle desk made a checkpoint");
    // Idle spells go on, with nothing new since: no other checkpoint follows.
    tokio::time::sleep(Duration::from_secs(4)).await;
    handle.stop();
    assert_eq!(relay_checkpoints(&relay), made);
}
