//! Stories: attachments' content through a real relay. A photo attached offline
//! reaches the other device byte for byte (a small one at once, a large one when
//! asked for); an upload cut short resumes without sending again what arrived; a
//! file two devices attach is stored once; a file over the relay's limit, or past
//! the account's quota, is refused with a clear message while everything else syncs; the relay's files, on SQLite
//! and on PostgreSQL, hold nothing of an attachment's content or name; a chunk
//! tampered with on the relay is rejected and the blob fetched again.

use std::time::Duration;

use aftercall_shared::model::{AttachmentOwner, BlobHash, MediaType};
use aftercall_shared::protocol::RefusalCode;
use aftercall_sync_server::test_postgres as postgres;
use aftercall_sync_server::{Config, Database, Limits};

use crate::sync_support::{account, Device, Relay};

/// `len` bytes that do not compress, and do not repeat between seeds.
fn photo(seed: u64, len: usize) -> Vec<u8> {
    use aftercall_shared::env::Entropy;
    let mut rng = aftercall_shared::env::SeededEntropy::new(seed);
    let mut out = vec![0u8; len];
    rng.fill(&mut out);
    out
}

/// Attaches `content` as `name` to `person` (made by a capture) on `device`.
fn attach(device: &Device, person: &str, name: &str, content: &[u8]) -> BlobHash {
    device.capture(person, "met at the conference");
    let mut store = device.store();
    let id = store.find_person(person).unwrap();
    let media: MediaType = "image/jpeg".parse().unwrap();
    store
        .attach(&AttachmentOwner::Person(id), name, &media, content)
        .unwrap()
        .blob
}

/// A proxy to `relay` for one connection, cut (both ways) once `limit` bytes went
/// up; returns its address.
async fn cutting_proxy(relay: std::net::SocketAddr, limit: usize) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut client, _) = listener.accept().await.unwrap();
        let mut upstream = tokio::net::TcpStream::connect(relay).await.unwrap();
        let (mut from_client, mut to_client) = client.split();
        let (mut from_relay, mut to_relay) = upstream.split();
        let up = async {
            let mut sent = 0;
            let mut buf = vec![0u8; 64 * 1024];
            while sent < limit {
                let n = from_client.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                let n = n.min(limit - sent);
                to_relay.write_all(&buf[..n]).await?;
                sent += n;
            }
            std::io::Result::Ok(())
        };
        let down = tokio::io::copy(&mut from_relay, &mut to_client);
        tokio::select! {
            _ = up => {}
            _ = down => {}
        }
    });
    addr
}

/// A counter from the relay's `/metrics`.
async fn metric(relay: &Relay, name: &str) -> u64 {
    let page = relay.get("/metrics").await;
    page.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} is not in /metrics"))
}

fn relay_rows(relay: &Relay, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(relay.sqlite_path()).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_attached_offline_appears_on_the_other_device_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (devices, _) = account(&relay, &["phone", "laptop"]).await;
    let (phone, laptop) = (&devices[0], &devices[1]);
    // Offline: nothing syncs while these are attached.
    let card = photo(1, 120_000);
    let whiteboard = photo(2, 3_500_000);
    let card_hash = attach(phone, "Ada Lovelace", "card.jpg", &card);
    let board_hash = attach(phone, "Grace Hopper", "whiteboard.jpg", &whiteboard);
    let sent = phone.sync().await;
    assert_eq!(sent.blobs_uploaded, 2, "{sent:?}");
    assert!(phone.store().blobs_to_upload().unwrap().is_empty());

    let got = laptop.sync().await;
    // The card (under 256 KiB) comes at once; the whiteboard waits to be opened.
    assert_eq!(got.blobs_downloaded, 1, "{got:?}");
    assert_eq!(
        laptop.store().blob(&card_hash).unwrap().as_deref(),
        Some(&card[..])
    );
    assert_eq!(laptop.store().blob(&board_hash).unwrap(), None);
    laptop.store().want_blob(&board_hash).unwrap();
    let opened = laptop.sync().await;
    assert_eq!(opened.blobs_downloaded, 1, "{opened:?}");
    assert_eq!(
        laptop.store().blob(&board_hash).unwrap().as_deref(),
        Some(&whiteboard[..])
    );
    // Downloaded content counts as on the relay: nothing is sent back.
    assert!(laptop.store().blobs_to_upload().unwrap().is_empty());
    assert_eq!(
        relay_rows(&relay, "SELECT COUNT(*) FROM blobs WHERE complete = 1"),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_cut_short_resumes_without_sending_again_what_arrived() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (devices, _) = account(&relay, &["phone", "laptop"]).await;
    let phone = &devices[0];
    let deck = photo(3, 24 * 1024 * 1024);
    attach(phone, "Ada Lovelace", "deck.pdf", &deck);
    let chunks = aftercall_shared::crypto::blob_chunk_count(deck.len() as u64).unwrap() as u64;

    // The connection drops after about six chunks' worth of bytes reached the relay.
    let proxy = cutting_proxy(relay.addr, 6 * 1024 * 1024 + 512 * 1024).await;
    aftercall_app::sync::set_relay(phone.dir(), &format!("http://{proxy}")).unwrap();
    let cut = aftercall_app::sync::sync_once(phone.dir()).await;
    assert!(cut.is_err(), "the upload was cut: {cut:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    aftercall_app::sync::set_relay(phone.dir(), &relay.url()).unwrap();
    let before = metric(&relay, "aftercall_relay_blob_chunks_received_total").await;
    assert!(
        (4..chunks).contains(&before),
        "cut half-way: {before} of {chunks} chunks"
    );
    assert_eq!(
        relay_rows(&relay, "SELECT COUNT(*) FROM blobs WHERE complete = 1"),
        0
    );

    let resumed = phone.sync().await;
    assert_eq!(resumed.blobs_uploaded, 1);
    // Every chunk crossed once: the resumed upload sent only what had not arrived.
    assert_eq!(
        metric(&relay, "aftercall_relay_blob_chunks_received_total").await,
        chunks
    );
    assert_eq!(
        metric(&relay, "aftercall_relay_blob_chunks_stored_total").await,
        chunks
    );
    let laptop = &devices[1];
    laptop.sync().await;
    let hash = BlobHash::of(&deck);
    laptop.store().want_blob(&hash).unwrap();
    laptop.sync().await;
    assert_eq!(
        laptop.store().blob(&hash).unwrap().as_deref(),
        Some(&deck[..])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_devices_attaching_the_same_file_store_it_once_on_the_relay() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (devices, _) = account(&relay, &["phone", "laptop"]).await;
    let (phone, laptop) = (&devices[0], &devices[1]);
    let deck = photo(4, 2_500_000);
    attach(phone, "Ada Lovelace", "deck.pdf", &deck);
    attach(laptop, "Grace Hopper", "the same deck.pdf", &deck);
    phone.sync().await;
    let second = laptop.sync().await;
    assert_eq!(
        second.blobs_uploaded, 1,
        "the laptop's copy counts as uploaded"
    );
    let chunks = aftercall_shared::crypto::blob_chunk_count(deck.len() as u64).unwrap() as u64;
    assert_eq!(relay_rows(&relay, "SELECT COUNT(*) FROM blobs"), 1);
    assert_eq!(
        relay_rows(&relay, "SELECT COUNT(*) FROM blob_chunks"),
        chunks as i64
    );
    assert_eq!(
        metric(&relay, "aftercall_relay_blob_chunks_received_total").await,
        chunks,
        "the second device sent no chunk"
    );
    assert!(
        relay_rows(&relay, "SELECT SUM(length(sealed)) FROM blob_chunks") < 2 * deck.len() as i64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_over_the_relay_limit_is_refused_clearly_and_everything_else_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().join("relay.sqlite"));
    config.limits = Limits {
        max_blob_bytes: 1024 * 1024,
        ..Limits::default()
    };
    let relay = Relay::start_with(config, "127.0.0.1:0");
    let (devices, _) = account(&relay, &["phone", "laptop"]).await;
    let (phone, laptop) = (&devices[0], &devices[1]);
    let big = photo(5, 3 * 1024 * 1024);
    let small = photo(6, 50_000);
    let big_hash = attach(phone, "Ada Lovelace", "video.mov", &big);
    let small_hash = attach(phone, "Grace Hopper", "card.jpg", &small);
    phone.capture("Linus", "after the big file");

    let report = phone.sync().await;
    let [(hash, refusal)] = &report.blobs_refused[..] else {
        panic!("one refusal: {report:?}")
    };
    assert_eq!(*hash, big_hash);
    assert_eq!(refusal.code, RefusalCode::FileTooLarge);
    assert!(
        refusal.message.contains("limit of 1.0 MB"),
        "{}",
        refusal.message
    );
    assert_eq!(report.blobs_uploaded, 1, "the small file went on");
    // The refused file stays on the device, waiting to upload.
    assert_eq!(
        phone.store().blobs_to_upload().unwrap(),
        vec![(big_hash, big.len() as u64)]
    );

    let got = laptop.sync().await;
    assert!(laptop.knows("after the big file"));
    assert_eq!(
        laptop.store().blob(&small_hash).unwrap().as_deref(),
        Some(&small[..])
    );
    // Asked for, the large one is not on the relay: said, and the sync goes on.
    laptop.store().want_blob(&big_hash).unwrap();
    let asked = laptop.sync().await;
    assert_eq!(
        asked
            .blobs_refused
            .iter()
            .map(|(_, r)| r.code)
            .collect::<Vec<_>>(),
        vec![RefusalCode::BlobNotFound],
        "{got:?} {asked:?}"
    );
    laptop.capture("Ada Lovelace", "still syncing");
    laptop.sync().await;
    phone.sync().await;
    assert!(phone.knows("still syncing"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_files_hold_nothing_of_an_attachment_s_content_or_name() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (devices, _) = account(&relay, &["phone", "laptop"]).await;
    let mut content = b"MARKER-ATTACHED-CONTENT-5521 the thread with the pricing\n".repeat(40_000);
    content.extend_from_slice(b"MARKER-ATTACHED-CONTENT-5521");
    let hash = attach(
        &devices[0],
        "Ada Lovelace",
        "zebra-quartz-thread.txt",
        &content,
    );
    devices[0].sync().await;
    devices[1].sync().await;
    devices[1].store().want_blob(&hash).unwrap();
    devices[1].sync().await;
    assert_eq!(
        devices[1].store().blob(&hash).unwrap().as_deref(),
        Some(&content[..])
    );
    relay.stop().await;

    let mut scanned = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        scanned += bytes.len();
        for marker in [
            "MARKER-ATTACHED-CONTENT-5521",
            "zebra-quartz",
            "the pricing",
        ] {
            assert!(
                !bytes.windows(marker.len()).any(|w| w == marker.as_bytes()),
                "{marker} found in the relay's files"
            );
        }
    }
    assert!(
        scanned > content.len(),
        "the relay's files hold the sealed blob: {scanned} bytes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_tables_on_postgresql_hold_nothing_of_an_attachment() {
    let db = postgres::server().database().await;
    let relay = Relay::start_with(
        Config::new(Database::from(db.config.clone())),
        "127.0.0.1:0",
    );
    let (devices, _) = account(&relay, &["phone", "laptop"]).await;
    let content = b"MARKER-ATTACHED-CONTENT-6612 minutes of the board meeting\n".repeat(30_000);
    let hash = attach(
        &devices[0],
        "Ada Lovelace",
        "walrus-ochre-minutes.txt",
        &content,
    );
    devices[0].sync().await;
    devices[1].sync().await;
    devices[1].store().want_blob(&hash).unwrap();
    devices[1].sync().await;
    assert_eq!(
        devices[1].store().blob(&hash).unwrap().as_deref(),
        Some(&content[..])
    );
    relay.stop().await;

    let client = db.connect().await;
    let mut scanned = 0usize;
    for table in ["blobs", "blob_chunks", "entries", "checkpoint_chunks"] {
        let columns = client
            .query(
                "SELECT column_name::TEXT FROM information_schema.columns
                 WHERE table_schema = 'public' AND table_name = $1 AND data_type IN ('bytea', 'text')",
                &[&table],
            )
            .await
            .unwrap();
        for column in &columns {
            let name: &str = column.get(0);
            let rows = client
                .query(&format!("SELECT \"{name}\"::BYTEA FROM \"{table}\""), &[])
                .await
                .unwrap();
            for row in rows {
                let bytes: Vec<u8> = row.get::<_, Option<Vec<u8>>>(0).unwrap_or_default();
                scanned += bytes.len();
                for marker in [
                    "MARKER-ATTACHED-CONTENT-6612",
                    "walrus-ochre",
                    "board meeting",
                ] {
                    assert!(
                        !bytes.windows(marker.len()).any(|w| w == marker.as_bytes()),
                        "{marker} found in {table}.{name}"
                    );
                }
            }
        }
    }
    assert!(
        scanned > content.len(),
        "the tables hold the sealed blob: {scanned} bytes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_chunk_is_rejected_and_the_blob_fetched_again() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (devices, _) = account(&relay, &["phone", "laptop"]).await;
    let (phone, laptop) = (&devices[0], &devices[1]);
    let card = photo(7, 2_200_000);
    let hash = attach(phone, "Ada Lovelace", "card.jpg", &card);
    phone.sync().await;
    laptop.sync().await;

    // Someone with the relay's disk flips a byte of the blob's second chunk.
    let conn = rusqlite::Connection::open(relay.sqlite_path()).unwrap();
    let original: Vec<u8> = conn
        .query_row("SELECT sealed FROM blob_chunks WHERE idx = 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    let mut tampered = original.clone();
    tampered[100] ^= 0x20;
    conn.execute(
        "UPDATE blob_chunks SET sealed = ?1 WHERE idx = 1",
        [&tampered],
    )
    .unwrap();

    laptop.store().want_blob(&hash).unwrap();
    let report = laptop.sync().await;
    // Rejected, fetched again within the sync (rejected again: the relay's copy is
    // still tampered), reported, and nothing of it kept; the sync itself succeeds.
    assert_eq!(report.blobs_rejected.len(), 2, "{report:?}");
    assert!(report.blobs_rejected.iter().all(|(h, fault)| *h == hash
        && matches!(
            fault,
            aftercall_shared::crypto::BlobFault::DoesNotOpen { index: 1, .. }
        )));
    assert_eq!(laptop.store().blob(&hash).unwrap(), None);

    // Once the relay's copy is whole again, the next sync fetches it.
    conn.execute(
        "UPDATE blob_chunks SET sealed = ?1 WHERE idx = 1",
        [&original],
    )
    .unwrap();
    let again = laptop.sync().await;
    assert_eq!(again.blobs_downloaded, 1, "{again:?}");
    assert_eq!(
        laptop.store().blob(&hash).unwrap().as_deref(),
        Some(&card[..])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_past_the_account_quota_are_refused_and_the_rest_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().join("relay.sqlite"));
    config.limits = Limits {
        blob_quota_bytes: 3 * 1024 * 1024 / 2,
        ..Limits::default()
    };
    let relay = Relay::start_with(config, "127.0.0.1:0");
    let (devices, _) = account(&relay, &["phone", "laptop"]).await;
    let (phone, laptop) = (&devices[0], &devices[1]);
    let first = photo(8, 1_000_000);
    let second = photo(9, 1_000_000);
    let first_hash = attach(phone, "Ada Lovelace", "first.jpg", &first);
    phone.sync().await;
    let second_hash = attach(phone, "Grace Hopper", "second.jpg", &second);
    phone.capture("Linus", "written after the quota filled");
    let report = phone.sync().await;
    let [(hash, refusal)] = &report.blobs_refused[..] else {
        panic!("one refusal: {report:?}")
    };
    assert_eq!(
        (*hash, refusal.code),
        (second_hash, RefusalCode::QuotaExceeded)
    );
    assert!(
        refusal.message.contains("past its 1.5 MB"),
        "{}",
        refusal.message
    );
    assert_eq!(
        phone.store().blobs_to_upload().unwrap(),
        vec![(second_hash, second.len() as u64)]
    );
    laptop.sync().await;
    assert!(laptop.knows("written after the quota filled"));
    laptop.store().want_blob(&first_hash).unwrap();
    laptop.sync().await;
    assert_eq!(
        laptop.store().blob(&first_hash).unwrap().as_deref(),
        Some(&first[..])
    );
}
