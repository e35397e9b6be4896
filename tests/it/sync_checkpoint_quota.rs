//! Stories: the relay's bounds on checkpoint uploads, and apps older than
//! checkpoints. An upload over the relay's size limit for a checkpoint, or begun
//! too soon after the account's last one, is refused with `CheckpointRefused` and
//! the session goes on (an entry pushed after it is stored and fanned out), on
//! SQLite and on PostgreSQL; `aftercall checkpoint` says the relay's words and
//! fails, and the device's own checkpoints then wait. A hello as the first
//! versions wrote it (before checkpoints) is never sent a message or a refusal
//! code those versions cannot read: it gets the log while the relay can serve it,
//! and `unsupported_version` once it was pruned past its cursors.

use std::time::Duration;

use aftercall_app::sync;
use aftercall_shared::crypto::{seal, seal_checkpoint, AccountKeys, AccountSecret, OpenEntry};
use aftercall_shared::env::SeededEntropy;
use aftercall_shared::protocol::{
    CheckpointId, ClientMessage, Cursor, DeviceId, RefusalCode, SealedChunk, SealedEntry,
    ServerMessage, CHECKPOINT_CHUNK_PLAINTEXT,
};
use aftercall_shared::LogEntry;
use aftercall_sync_server::test_postgres as postgres;
use aftercall_sync_server::{Config, Database};

use crate::support::{fails, json, ok};
use crate::sync_support::{entries_of, raw_device_key, story_config, Device, RawClient, Relay};

fn keys(seed: u64) -> AccountKeys {
    AccountSecret::generate(&mut SeededEntropy::new(seed)).keys()
}

/// Entry `seq` of `device`'s log, sealed under `keys` (no changes in it).
fn entry(keys: &AccountKeys, device: &str, seq: u64) -> SealedEntry {
    seal(
        keys,
        &OpenEntry {
            device: DeviceId::new(device).unwrap(),
            seq,
            plaintext: LogEntry::encode_changes(&[]),
        },
    )
}

fn covers(device: &str, seq: u64) -> Vec<Cursor> {
    vec![Cursor {
        device: DeviceId::new(device).unwrap(),
        seq,
    }]
}

/// A checkpoint of `len` bytes of body (no two alike for two `salt`s), sealed.
fn sealed_checkpoint(
    keys: &AccountKeys,
    covers: &[Cursor],
    len: usize,
    salt: u32,
) -> (CheckpointId, Vec<SealedChunk>) {
    let body: Vec<u8> = (0..len as u32)
        .map(|i| (i.wrapping_add(salt).wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    seal_checkpoint(keys, covers, &body)
}

/// Says hello as `device` with its own key (a current app), the log asked for
/// instead of a checkpoint; returns everything up to "caught up".
async fn hello(
    client: &mut RawClient,
    keys: &AccountKeys,
    device: &str,
    create: bool,
) -> Vec<ServerMessage> {
    client
        .send(&ClientMessage::Hello {
            account: keys.account,
            credential: keys.credential.clone(),
            device: DeviceId::new(device).unwrap(),
            create,
            invite: None,
            cursors: Vec::new(),
            device_key: Some(raw_device_key(device)),
        })
        .await;
    let mut out = Vec::new();
    while let Some(msg) = client.next().await {
        if let ServerMessage::CheckpointOffer { .. } = msg {
            client
                .send(&ClientMessage::TakeCheckpoint { checkpoint: None })
                .await;
        }
        let end = matches!(msg, ServerMessage::CaughtUp | ServerMessage::Refused(_));
        out.push(msg);
        if end {
            break;
        }
    }
    out
}

async fn upload(
    client: &mut RawClient,
    id: CheckpointId,
    chunks: &[SealedChunk],
    covers: &[Cursor],
) {
    client
        .send(&ClientMessage::CheckpointBegin {
            checkpoint: id,
            chunks: chunks.len() as u32,
            covers: covers.to_vec(),
        })
        .await;
    for chunk in chunks {
        client
            .send(&ClientMessage::CheckpointChunk(chunk.clone()))
            .await;
    }
}

/// The refusal code of a `CheckpointRefused` of checkpoint `id`.
fn refused_code(msg: Option<ServerMessage>, id: CheckpointId) -> RefusalCode {
    match msg {
        Some(ServerMessage::CheckpointRefused {
            checkpoint,
            refusal,
        }) if checkpoint == id => refusal.code,
        other => panic!("expected the refusal of checkpoint {id}, got {other:?}"),
    }
}

/// The value of a line of the relay's /metrics.
async fn metric(relay: &Relay, name: &str) -> Option<String> {
    let text = relay.get("/metrics").await;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ').map(str::to_string))
}

/// Checkpoints over the size limit are refused, at their beginning when the chunk
/// count alone is over it, else at the chunk that takes them over; the session
/// goes on, nothing of them is kept, and every refusal is counted.
async fn an_oversize_checkpoint_is_refused_and_the_session_goes_on(relay: Relay) {
    let keys = keys(11);
    let mut watcher = RawClient::connect(&relay).await;
    hello(&mut watcher, &keys, "watcher", true).await;
    let mut uploader = RawClient::connect(&relay).await;
    hello(&mut uploader, &keys, "uploader", false).await;
    let covers = covers("watcher", 0);

    // Three chunks: at least two full ones, over the limit of one and a quarter.
    let (three, chunks) = sealed_checkpoint(&keys, &covers, 2 * CHECKPOINT_CHUNK_PLAINTEXT + 10, 1);
    assert_eq!(chunks.len(), 3);
    upload(&mut uploader, three, &chunks, &covers).await;
    assert_eq!(
        refused_code(uploader.next().await, three),
        RefusalCode::CheckpointTooLarge
    );
    // Two chunks: the count allows it, its bytes do not.
    let (two, chunks) = sealed_checkpoint(&keys, &covers, CHECKPOINT_CHUNK_PLAINTEXT * 3 / 2, 2);
    assert_eq!(chunks.len(), 2);
    upload(&mut uploader, two, &chunks, &covers).await;
    assert_eq!(
        refused_code(uploader.next().await, two),
        RefusalCode::CheckpointTooLarge
    );

    // The session goes on: an entry pushed now is stored and fanned out.
    let pushed = entry(&keys, "uploader", 1);
    uploader
        .send(&ClientMessage::Push {
            entries: vec![pushed.clone()],
        })
        .await;
    assert_eq!(
        uploader.next().await,
        Some(ServerMessage::Stored { up_to: 1 })
    );
    assert_eq!(
        watcher.next().await,
        Some(ServerMessage::Entries {
            entries: vec![pushed.clone()]
        })
    );

    // Nothing of either was kept: a new device is offered no checkpoint and gets
    // the entry from the log.
    let mut fresh = RawClient::connect(&relay).await;
    let msgs = hello(&mut fresh, &keys, "fresh", false).await;
    assert!(
        !msgs
            .iter()
            .any(|m| matches!(m, ServerMessage::CheckpointOffer { .. })),
        "{msgs:?}"
    );
    assert_eq!(entries_of(&msgs), [pushed]);
    assert_eq!(
        metric(
            &relay,
            "aftercall_relay_refusals_total{reason=\"checkpoint_too_large\"}"
        )
        .await
        .as_deref(),
        Some("2")
    );
    relay.stop().await;
}

/// A second upload begun within the interval is refused, its chunks dropped, and
/// the session goes on; the first stays the account's newest.
async fn a_checkpoint_begun_too_soon_is_refused_and_the_session_goes_on(relay: Relay) {
    let keys = keys(12);
    let mut uploader = RawClient::connect(&relay).await;
    hello(&mut uploader, &keys, "uploader", true).await;
    // It covers an entry of the uploader's, so a new device has a use for it.
    let first_covers = covers("uploader", 1);
    let (first, chunks) = sealed_checkpoint(&keys, &first_covers, 1_000, 1);
    upload(&mut uploader, first, &chunks, &first_covers).await;
    assert_eq!(
        uploader.next().await,
        Some(ServerMessage::CheckpointStored { checkpoint: first })
    );
    let (second, chunks) = sealed_checkpoint(&keys, &first_covers, 2_000, 2);
    upload(&mut uploader, second, &chunks, &first_covers).await;
    assert_eq!(
        refused_code(uploader.next().await, second),
        RefusalCode::RateLimited
    );
    let pushed = entry(&keys, "uploader", 1);
    uploader
        .send(&ClientMessage::Push {
            entries: vec![pushed.clone()],
        })
        .await;
    assert_eq!(
        uploader.next().await,
        Some(ServerMessage::Stored { up_to: 1 })
    );

    let mut fresh = RawClient::connect(&relay).await;
    let msgs = hello(&mut fresh, &keys, "fresh", false).await;
    let offered: Vec<CheckpointId> = msgs
        .iter()
        .filter_map(|m| match m {
            ServerMessage::CheckpointOffer { checkpoint, .. } => Some(*checkpoint),
            _ => None,
        })
        .collect();
    assert_eq!(offered, [first], "the first stays the newest");
    assert_eq!(entries_of(&msgs), [pushed]);
    assert_eq!(
        metric(
            &relay,
            "aftercall_relay_refusals_total{reason=\"rate_limited\"}"
        )
        .await
        .as_deref(),
        Some("1")
    );
    relay.stop().await;
}

/// A relay's limits for the size story: one and a quarter full chunks, no interval.
fn size_limited(mut config: Config) -> Config {
    config.limits.max_checkpoint_bytes = (CHECKPOINT_CHUNK_PLAINTEXT as u64) * 5 / 4;
    config.limits.checkpoint_interval = Duration::ZERO;
    config
}

/// A relay's limits for the interval story: the default interval.
fn interval_limited(mut config: Config) -> Config {
    config.limits.checkpoint_interval = Duration::from_secs(300);
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_checkpoint_is_refused_and_the_session_goes_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let config = size_limited(Config::new(dir.path().join("relay.sqlite")));
    an_oversize_checkpoint_is_refused_and_the_session_goes_on(Relay::start_with(
        config,
        "127.0.0.1:0",
    ))
    .await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_checkpoint_is_refused_and_the_session_goes_on_postgres() {
    let db = postgres::server().database().await;
    let config = size_limited(Config::new(Database::from(db.config.clone())));
    an_oversize_checkpoint_is_refused_and_the_session_goes_on(Relay::start_with(
        config,
        "127.0.0.1:0",
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_begun_too_soon_is_refused_and_the_session_goes_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let config = interval_limited(Config::new(dir.path().join("relay.sqlite")));
    a_checkpoint_begun_too_soon_is_refused_and_the_session_goes_on(Relay::start_with(
        config,
        "127.0.0.1:0",
    ))
    .await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_begun_too_soon_is_refused_and_the_session_goes_on_postgres() {
    let db = postgres::server().database().await;
    let config = interval_limited(Config::new(Database::from(db.config.clone())));
    a_checkpoint_begun_too_soon_is_refused_and_the_session_goes_on(Relay::start_with(
        config,
        "127.0.0.1:0",
    ))
    .await;
}

#[test]
fn aftercall_checkpoint_says_the_relay_refused_it_and_automatic_ones_wait() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let relay_dir = tempfile::tempdir().unwrap();
    let mut config = story_config(relay_dir.path().join("relay.sqlite"));
    config.limits.max_checkpoint_bytes = 1_000;
    let relay = Relay::start_with(config, "127.0.0.1:0");
    let laptop = Device::new("laptop");
    ok(laptop.dir(), &["init", "--relay", &relay.url()]);
    for i in 0..20 {
        laptop.capture("Ada", &format!("a long talk about checkpoints, part {i}"));
    }
    let said = fails(laptop.dir(), &["checkpoint"]);
    assert!(said.contains("the relay refused checkpoint"), "{said}");
    assert!(said.contains("limit of 1000"), "the relay's words: {said}");
    assert!(said.contains("checkpoint_too_large"), "{said}");
    // Everything else synced, and the refusal shows in the status.
    let status = json(laptop.dir(), &["status"]);
    assert_eq!(status["pending_upload"], 0, "{status}");
    assert!(status["checkpoint_refused"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("limit of 1000")));
    let line = ok(laptop.dir(), &["status"]);
    assert!(line.contains("The relay refused a checkpoint"), "{line}");

    // The device's own checkpoints wait: past the threshold, a sync sends none.
    sync::set_checkpoint_every(laptop.dir(), 1).unwrap();
    laptop.capture("Ada", "one more");
    let report = rt.block_on(laptop.sync());
    assert_eq!(report.uploaded, 1);
    assert_eq!(report.checkpoint_refused, None);
    assert_eq!(report.checkpoint_uploaded, None);
    let refusals = rt.block_on(metric(
        &relay,
        "aftercall_relay_refusals_total{reason=\"checkpoint_too_large\"}",
    ));
    assert_eq!(refusals.as_deref(), Some("1"), "no second upload");
    rt.block_on(relay.stop());
}

/// A hello as the first versions of protocol 2 wrote it, byte for byte as their
/// encoder did: version 2, tag 1, account, credential, device, create, no invite,
/// then the cursors; no device key.
fn first_version_hello(
    keys: &AccountKeys,
    device: &str,
    create: bool,
    cursors: &[(&str, u64)],
) -> Vec<u8> {
    fn uint(out: &mut Vec<u8>, mut v: u64) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    fn text(out: &mut Vec<u8>, s: &str) {
        uint(out, s.len() as u64);
        out.extend_from_slice(s.as_bytes());
    }
    let mut frame = vec![2, 1];
    frame.extend_from_slice(&keys.account.0);
    frame.extend_from_slice(&keys.credential.0);
    text(&mut frame, device);
    frame.push(u8::from(create));
    frame.push(0);
    uint(&mut frame, cursors.len() as u64);
    for (d, seq) in cursors {
        text(&mut frame, d);
        uint(&mut frame, *seq);
    }
    frame
}

/// Whether a device of the first versions reads `frame`: version 2, a message it
/// knows (welcome 1, entries 2, caught up 3, stored 4, refused 5), and in a
/// refusal a code it knows (1 to 11).
fn first_version_reads(frame: &[u8]) -> bool {
    match frame {
        [2, 5, code, ..] => (1..=11).contains(code),
        [2, tag, ..] => (1..=4).contains(tag),
        _ => false,
    }
}

/// Says the hand-made hello and reads the answer up to "caught up", a refusal or
/// the close, checking that a device of the first versions reads every frame.
async fn first_version_session(relay: &Relay, hello: Vec<u8>) -> Vec<ServerMessage> {
    let mut client = RawClient::connect(relay).await;
    client.send_bytes(hello).await;
    let mut out = Vec::new();
    while let Some(frame) = client.next_frame().await {
        assert!(
            first_version_reads(&frame),
            "a frame the first versions cannot read: {:?}",
            ServerMessage::decode(&frame)
        );
        let msg = ServerMessage::decode(&frame).unwrap();
        let end = matches!(msg, ServerMessage::CaughtUp | ServerMessage::Refused(_));
        out.push(msg);
        if end {
            break;
        }
    }
    out
}

fn refusal_code(msgs: &[ServerMessage]) -> Option<RefusalCode> {
    msgs.iter().find_map(|m| match m {
        ServerMessage::Refused(r) => Some(r.code),
        _ => None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_from_before_checkpoints_gets_the_log_or_is_told_to_update_never_an_offer() {
    let relay_dir = tempfile::tempdir().unwrap();
    let mut config = story_config(relay_dir.path().join("relay.sqlite"));
    config.limits.max_checkpoint_bytes = 10_000;
    let relay = Relay::start_with(config, "127.0.0.1:0");
    let keys = keys(13);
    // A device of the versions between checkpoints and the device registry writes
    // three entries and a checkpoint of them (plain hellos, no device key).
    let mut writer = RawClient::connect(&relay).await;
    let plain = |device: &str, create| ClientMessage::Hello {
        account: keys.account,
        credential: keys.credential.clone(),
        device: DeviceId::new(device).unwrap(),
        create,
        invite: None,
        cursors: Vec::new(),
        device_key: None,
    };
    writer.send(&plain("writer", true)).await;
    while !matches!(writer.next().await, Some(ServerMessage::CaughtUp)) {}
    let entries: Vec<SealedEntry> = (1..=3).map(|seq| entry(&keys, "writer", seq)).collect();
    writer
        .send(&ClientMessage::Push {
            entries: entries.clone(),
        })
        .await;
    assert_eq!(
        writer.next().await,
        Some(ServerMessage::Stored { up_to: 3 })
    );
    // An older device has said hello with none of them applied: that holds
    // pruning back.
    let msgs = first_version_session(&relay, first_version_hello(&keys, "old", false, &[])).await;
    assert_eq!(entries_of(&msgs), entries);
    let covered = covers("writer", 3);
    let (checkpoint, chunks) = sealed_checkpoint(&keys, &covered, 500, 1);
    upload(&mut writer, checkpoint, &chunks, &covered).await;
    assert_eq!(
        writer.next().await,
        Some(ServerMessage::CheckpointStored { checkpoint })
    );
    drop(writer);

    // Unpruned, with a checkpoint: the older device with no cursors gets the log
    // again, and no offer.
    let msgs = first_version_session(&relay, first_version_hello(&keys, "old", false, &[])).await;
    assert_eq!(entries_of(&msgs), entries);
    assert!(
        matches!(msgs.last(), Some(ServerMessage::CaughtUp)),
        "{msgs:?}"
    );
    // It applied them: the relay prunes what the checkpoint covers.
    let msgs = first_version_session(
        &relay,
        first_version_hello(&keys, "old", false, &[("writer", 3)]),
    )
    .await;
    assert!(
        matches!(msgs.last(), Some(ServerMessage::CaughtUp)),
        "{msgs:?}"
    );
    assert!(entries_of(&msgs).is_empty());
    // Pruned past its cursors: another older device is told to update, in a
    // refusal it reads, instead of an offer it cannot.
    let msgs = first_version_session(&relay, first_version_hello(&keys, "old2", false, &[])).await;
    assert_eq!(
        refusal_code(&msgs),
        Some(RefusalCode::UnsupportedVersion),
        "{msgs:?}"
    );
    assert!(entries_of(&msgs).is_empty());
    // A plain hello's checkpoint over the limit ends its session with a refusal
    // it reads, as every refusal did before `CheckpointRefused`.
    let mut writer = RawClient::connect(&relay).await;
    writer.send(&plain("writer", false)).await;
    while !matches!(writer.next().await, Some(ServerMessage::CaughtUp)) {}
    let (large, chunks) = sealed_checkpoint(&keys, &covered, 20_000, 2);
    upload(&mut writer, large, &chunks, &covered).await;
    let frame = writer.next_frame().await.expect("a refusal");
    assert!(
        first_version_reads(&frame),
        "{:?}",
        ServerMessage::decode(&frame)
    );
    assert_eq!(
        refusal_code(&[ServerMessage::decode(&frame).unwrap()]),
        Some(RefusalCode::TooLarge)
    );
    assert_eq!(writer.next_frame().await, None, "the session ended");

    // A current app in its place is offered the checkpoint.
    let mut tablet = RawClient::connect(&relay).await;
    let msgs = hello(&mut tablet, &keys, "tablet", false).await;
    assert!(
        msgs.iter().any(|m| matches!(
            m,
            ServerMessage::CheckpointOffer { checkpoint: c, required: true, .. } if *c == checkpoint
        )),
        "{msgs:?}"
    );
    // The older device, once removed, is refused in a code it reads too.
    tablet
        .send(&ClientMessage::RemoveDevice {
            device: DeviceId::new("old").unwrap(),
        })
        .await;
    assert!(matches!(
        tablet.next().await,
        Some(ServerMessage::DeviceRemoved { .. })
    ));
    let msgs = first_version_session(
        &relay,
        first_version_hello(&keys, "old", false, &[("writer", 3)]),
    )
    .await;
    assert_eq!(
        refusal_code(&msgs),
        Some(RefusalCode::Unauthorized),
        "{msgs:?}"
    );
    relay.stop().await;
}

/// The operator's flags set both bounds of the `sync-server` binary.
#[cfg(unix)]
#[test]
fn the_relay_binary_takes_the_checkpoint_bounds_from_its_flags() {
    use crate::relay_process::RelayProcess;
    let sized = RelayProcess::start(1024, &["--max-checkpoint-bytes", "1000"]);
    let laptop = Device::new("laptop");
    ok(laptop.dir(), &["init", "--relay", &sized.url()]);
    laptop.capture("Ada", "a talk longer than the relay allows a checkpoint");
    let said = fails(laptop.dir(), &["checkpoint"]);
    assert!(said.contains("limit of 1000"), "{said}");

    let spaced = RelayProcess::start(1024, &["--checkpoint-interval-secs", "3600"]);
    let desk = Device::new("desk");
    ok(desk.dir(), &["init", "--relay", &spaced.url()]);
    desk.capture("Ada", "the first checkpoint");
    ok(desk.dir(), &["checkpoint"]);
    desk.capture("Ada", "too soon for the second");
    let said = fails(desk.dir(), &["checkpoint"]);
    assert!(said.contains("once every 3600 seconds"), "{said}");
    assert!(said.contains("rate_limited"), "{said}");
}
