//! The relay store's contract, the same tests on SQLite and on PostgreSQL: accounts
//! and credential hashes, invites used once, heads, appends in order with identical
//! re-pushes accepted and conflicts and gaps refused, catch-up pages by count and
//! by bytes, entries damaged on disk and their repair, entry hashes, checkpoints
//! kept whole or not at all, pruning by checkpoint and acknowledgements, the
//! device registry (credentials registered once, names, removal), re-keys (begun
//! beside the old account, replaced, committed in one transaction that leaves
//! nothing sealed under the old key); and on PostgreSQL, two relay nodes appending
//! one device's entries at once.
//! kept whole or not at all, pruning by checkpoint and acknowledgements, blobs
//! available only once complete, resumable, within their limits and untouched by
//! pruning; and on PostgreSQL, two relay nodes appending one device's entries at
//! once.

use std::sync::Arc;

use aftercall_shared::protocol::{
    AccountId, BlobChunk, BlobId, BlobState, CheckpointId, ChunkIndex, Cursor, DeviceId,
    RekeyDevice, SealedEntry, WrapKey, WrappedSecret,
};

use super::{
    device_list, AccountRecord, AppendRefusal, BlobLimits, BlobPut, BlobRefusal, CheckpointBegun,
    CheckpointLimits, ChunkStored, PostgresStore, RegisteredDevice, Registration, RelayStore,
    RotationBegin, RotationCommit, SqliteStore, StoredCheckpoint,
};
use crate::test_postgres::{self, TestDatabase};
use crate::RelayError;

/// A store under test, and what the test needs to reach behind it.
struct Subject {
    store: Arc<dyn RelayStore>,
    place: Place,
}

enum Place {
    Sqlite(tempfile::TempDir),
    Postgres(Box<TestDatabase>),
}

impl Subject {
    async fn sqlite() -> Subject {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("relay.sqlite")).unwrap();
        Subject {
            store: Arc::new(store),
            place: Place::Sqlite(dir),
        }
    }

    async fn postgres() -> Subject {
        let db = test_postgres::server().database().await;
        let store = PostgresStore::open(&db.config).await.unwrap();
        Subject {
            store: Arc::new(store),
            place: Place::Postgres(Box::new(db)),
        }
    }

    /// Flips a bit of a stored entry behind the store's back, its hash left as it was.
    async fn damage(&self, account: &AccountId, device: &str, seq: u64) {
        match &self.place {
            Place::Sqlite(dir) => {
                let conn = rusqlite::Connection::open(dir.path().join("relay.sqlite")).unwrap();
                conn.execute(
                    "UPDATE entries SET sealed = CAST(zeroblob(length(sealed)) AS BLOB)
                     WHERE account = ?1 AND device = ?2 AND seq = ?3",
                    rusqlite::params![&account.0[..], device, seq as i64],
                )
                .unwrap();
            }
            Place::Postgres(db) => {
                db.connect()
                    .await
                    .execute(
                        "UPDATE entries SET sealed = set_byte(sealed, 0, get_byte(sealed, 0) # 1)
                         WHERE account = $1 AND device = $2 AND seq = $3",
                        &[&&account.0[..], &device, &(seq as i64)],
                    )
                    .await
                    .unwrap();
            }
        }
    }
}

impl Subject {
    /// How many rows of `table` belong to `account`, read behind the store's back.
    async fn rows(&self, table: &str, account: &AccountId) -> i64 {
        let column = if table == "accounts" { "id" } else { "account" };
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE {column} = $1");
        match &self.place {
            Place::Sqlite(dir) => {
                let conn = rusqlite::Connection::open(dir.path().join("relay.sqlite")).unwrap();
                conn.query_row(&sql.replace('$', "?"), [&account.0[..]], |r| r.get(0))
                    .unwrap()
            }
            Place::Postgres(db) => db
                .connect()
                .await
                .query_one(&sql, &[&&account.0[..]])
                .await
                .unwrap()
                .get(0),
        }
    }
}

fn entry(device: &str, seq: u64, byte: u8) -> SealedEntry {
    SealedEntry {
        device: DeviceId::new(device).unwrap(),
        seq,
        sealed: vec![byte; 48],
    }
}

fn phone() -> DeviceId {
    DeviceId::new("phone").unwrap()
}

const ACCOUNT: AccountId = AccountId([1; 16]);

/// Each test function below, once on SQLite and once on PostgreSQL.
macro_rules! on_both_stores {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::Subject::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::Subject::postgres().await).await;
                }
            )*
        }
    };
}

on_both_stores!(
    accounts_keep_their_credential_hash,
    closed_registration_takes_each_invite_once,
    entries_are_stored_in_order_and_gaps_and_conflicts_refused,
    a_batch_stops_at_its_first_conflict_or_gap,
    heads_list_every_device_of_the_account_alone,
    catch_up_pages_are_cut_by_count_and_by_bytes,
    a_damaged_entry_stops_catch_up_until_its_device_repairs_it,
    entry_hashes_are_those_of_the_entries_as_received,
    appends_from_many_tasks_at_once_all_land_in_order,
    appends_at_once_are_refused_each_for_its_own_gap_or_conflict,
    ready_answers_while_the_database_does,
    a_checkpoint_is_newest_only_once_every_chunk_is_in,
    an_interrupted_upload_leaves_the_previous_checkpoint_and_the_next_one_replaces_it,
    checkpoint_uploads_over_the_size_limit_or_too_soon_are_refused_and_leave_nothing,
    pruning_drops_what_the_checkpoint_covers_and_every_active_device_applied,
    a_device_registers_its_credential_once_and_keeps_it,
    devices_are_renamed_and_removed_for_good,
    acknowledgements_list_every_device_of_the_account_alone,
    a_blob_is_available_only_once_every_chunk_is_in_and_an_upload_resumes,
    blobs_over_the_file_limit_or_the_quota_or_disagreeing_are_refused,
    pruning_leaves_blobs_alone,
    a_rekey_moves_the_account_and_deletes_everything_sealed_under_the_old_key,
    a_new_rekey_replaces_one_begun_before_and_a_taken_id_is_refused,
);

async fn accounts_keep_their_credential_hash(s: Subject) {
    assert_eq!(s.store.verifier(&ACCOUNT).await.unwrap(), None);
    assert_eq!(
        s.store
            .create_account(&ACCOUNT, [7; 32], false, None)
            .await
            .unwrap(),
        Registration::Created
    );
    assert_eq!(s.store.verifier(&ACCOUNT).await.unwrap(), Some([7; 32]));
    // Creating it again changes nothing: the first credential stays.
    s.store
        .create_account(&ACCOUNT, [9; 32], false, None)
        .await
        .unwrap();
    assert_eq!(s.store.verifier(&ACCOUNT).await.unwrap(), Some([7; 32]));
    assert_eq!(s.store.verifier(&AccountId([2; 16])).await.unwrap(), None);
}

async fn closed_registration_takes_each_invite_once(s: Subject) {
    s.store.add_invite("welcome-1").await.unwrap();
    let (a, b) = (AccountId([1; 16]), AccountId([2; 16]));
    let create = |account, invite| {
        let store = s.store.clone();
        async move {
            store
                .create_account(&account, [0; 32], true, invite)
                .await
                .unwrap()
        }
    };
    assert_eq!(create(a, None).await, Registration::InviteRequired);
    assert_eq!(create(a, Some("nope")).await, Registration::InviteRequired);
    assert_eq!(create(a, Some("welcome-1")).await, Registration::Created);
    assert_eq!(
        create(b, Some("welcome-1")).await,
        Registration::InviteRequired
    );
    assert!(s.store.verifier(&a).await.unwrap().is_some());
    assert!(s.store.verifier(&b).await.unwrap().is_none());
}

async fn entries_are_stored_in_order_and_gaps_and_conflicts_refused(s: Subject) {
    let store = &s.store;
    let out = store
        .append(&ACCOUNT, &[entry("phone", 1, 1), entry("phone", 2, 2)])
        .await
        .unwrap();
    assert_eq!((out.stored.len(), out.head, out.refused), (2, 2, None));

    let again = store
        .append(&ACCOUNT, &[entry("phone", 2, 2), entry("phone", 3, 3)])
        .await
        .unwrap();
    assert_eq!(
        (again.stored, again.head, again.refused),
        (vec![entry("phone", 3, 3)], 3, None),
        "identical re-push accepted, the new one stored"
    );

    let conflict = store
        .append(&ACCOUNT, &[entry("phone", 3, 9)])
        .await
        .unwrap();
    assert_eq!(conflict.refused, Some(AppendRefusal::Conflict { seq: 3 }));
    assert!(conflict.stored.is_empty());

    let gap = store
        .append(&ACCOUNT, &[entry("phone", 5, 5)])
        .await
        .unwrap();
    assert_eq!(gap.refused, Some(AppendRefusal::Gap { seq: 5, head: 3 }));
    assert_eq!(gap.head, 3);

    let page = store
        .entries_after(&ACCOUNT, &phone(), 0, 10, usize::MAX)
        .await
        .unwrap();
    assert_eq!(
        page,
        vec![
            entry("phone", 1, 1),
            entry("phone", 2, 2),
            entry("phone", 3, 3)
        ]
    );
}

async fn a_batch_stops_at_its_first_conflict_or_gap(s: Subject) {
    let store = &s.store;
    store
        .append(&ACCOUNT, &[entry("phone", 1, 1)])
        .await
        .unwrap();
    // Stored up to the conflict; nothing after it.
    let out = store
        .append(
            &ACCOUNT,
            &[
                entry("phone", 2, 2),
                entry("phone", 1, 7),
                entry("phone", 3, 3),
            ],
        )
        .await
        .unwrap();
    assert_eq!(out.stored, vec![entry("phone", 2, 2)]);
    assert_eq!(out.refused, Some(AppendRefusal::Conflict { seq: 1 }));
    assert_eq!(out.head, 2);
    // A re-push within one batch of an entry it has just stored is identical.
    let out = store
        .append(
            &ACCOUNT,
            &[
                entry("phone", 3, 3),
                entry("phone", 3, 3),
                entry("phone", 5, 5),
            ],
        )
        .await
        .unwrap();
    assert_eq!(out.stored, vec![entry("phone", 3, 3)]);
    assert_eq!(out.refused, Some(AppendRefusal::Gap { seq: 5, head: 3 }));
    let all = store
        .entries_after(&ACCOUNT, &phone(), 0, 100, usize::MAX)
        .await
        .unwrap();
    assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
}

async fn heads_list_every_device_of_the_account_alone(s: Subject) {
    let store = &s.store;
    store
        .append(&ACCOUNT, &[entry("laptop", 1, 1), entry("laptop", 2, 2)])
        .await
        .unwrap();
    store
        .append(&ACCOUNT, &[entry("phone", 1, 1)])
        .await
        .unwrap();
    store
        .append(&AccountId([2; 16]), &[entry("tablet", 1, 1)])
        .await
        .unwrap();
    let heads: Vec<(String, u64)> = store
        .heads(&ACCOUNT)
        .await
        .unwrap()
        .into_iter()
        .map(|(d, h)| (d.as_str().to_string(), h))
        .collect();
    assert_eq!(heads, [("laptop".into(), 2), ("phone".into(), 1)]);
    assert!(store.heads(&AccountId([3; 16])).await.unwrap().is_empty());
}

async fn catch_up_pages_are_cut_by_count_and_by_bytes(s: Subject) {
    let store = &s.store;
    let entries: Vec<SealedEntry> = (1..=10).map(|i| entry("phone", i, i as u8)).collect();
    store.append(&ACCOUNT, &entries).await.unwrap();
    let page = |after, limit, bytes| {
        let store = store.clone();
        async move {
            store
                .entries_after(&ACCOUNT, &phone(), after, limit, bytes)
                .await
                .unwrap()
                .iter()
                .map(|e| e.seq)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(page(0, 3, usize::MAX).await, [1, 2, 3]);
    assert_eq!(page(3, 3, usize::MAX).await, [4, 5, 6]);
    // Entries are 48 bytes: 100 bytes hold two.
    assert_eq!(page(0, 10, 100).await, [1, 2]);
    // The first entry always comes, even over the byte budget.
    assert_eq!(page(8, 10, 1).await, [9]);
    assert!(page(10, 10, usize::MAX).await.is_empty());
}

async fn a_damaged_entry_stops_catch_up_until_its_device_repairs_it(s: Subject) {
    let store = &s.store;
    let entries: Vec<SealedEntry> = (1..=4).map(|i| entry("phone", i, i as u8)).collect();
    store.append(&ACCOUNT, &entries).await.unwrap();
    assert!(store.damaged(&ACCOUNT, &phone()).await.unwrap().is_empty());
    s.damage(&ACCOUNT, "phone", 3).await;

    let page = store
        .entries_after(&ACCOUNT, &phone(), 0, 10, usize::MAX)
        .await
        .unwrap();
    assert_eq!(page, entries[..2], "no device is sent past a damaged entry");
    assert_eq!(store.damaged(&ACCOUNT, &phone()).await.unwrap(), [3]);

    // Only damaged entries are replaced: a different copy of entry 2 is ignored.
    let repaired = store
        .repair(&ACCOUNT, &[entry("phone", 2, 9), entries[2].clone()])
        .await
        .unwrap();
    assert_eq!(repaired, [entries[2].clone()]);
    assert!(store.damaged(&ACCOUNT, &phone()).await.unwrap().is_empty());
    let page = store
        .entries_after(&ACCOUNT, &phone(), 0, 10, usize::MAX)
        .await
        .unwrap();
    assert_eq!(page, entries);
}

async fn entry_hashes_are_those_of_the_entries_as_received(s: Subject) {
    let store = &s.store;
    let e = entry("phone", 1, 42);
    store
        .append(&ACCOUNT, std::slice::from_ref(&e))
        .await
        .unwrap();
    assert_eq!(
        store.entry_hash(&ACCOUNT, &phone(), 1).await.unwrap(),
        Some(*blake3::hash(&e.sealed).as_bytes())
    );
    assert_eq!(store.entry_hash(&ACCOUNT, &phone(), 2).await.unwrap(), None);
    // Damage on disk leaves the hash of what was received.
    s.damage(&ACCOUNT, "phone", 1).await;
    assert_eq!(
        store.entry_hash(&ACCOUNT, &phone(), 1).await.unwrap(),
        Some(*blake3::hash(&e.sealed).as_bytes())
    );
}

async fn appends_from_many_tasks_at_once_all_land_in_order(s: Subject) {
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let store = s.store.clone();
            tokio::spawn(async move {
                let device = format!("device-{t}");
                for seq in 1..=25u64 {
                    let out = store
                        .append(&ACCOUNT, &[entry(&device, seq, t as u8)])
                        .await
                        .unwrap();
                    assert_eq!((out.head, out.stored.len()), (seq, 1));
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let heads = s.store.heads(&ACCOUNT).await.unwrap();
    assert_eq!(heads.len(), 8);
    assert!(heads.iter().all(|(_, h)| *h == 25), "{heads:?}");
    let page = s
        .store
        .entries_after(
            &ACCOUNT,
            &DeviceId::new("device-7").unwrap(),
            0,
            100,
            usize::MAX,
        )
        .await
        .unwrap();
    assert_eq!(page.len(), 25);
    assert!(page.iter().all(|e| e.sealed == vec![7u8; 48]));
}

/// Many devices push at the same moment, so the stores take their appends
/// together (one transaction for many, on both): some leave a gap, some carry a
/// different entry at a stored position, the rest are good. Each refusal is its own
/// append's alone: exactly the good entries are stored and answered stored.
async fn appends_at_once_are_refused_each_for_its_own_gap_or_conflict(s: Subject) {
    const DEVICES: usize = 12;
    for i in 0..DEVICES {
        s.store
            .append(&ACCOUNT, &[entry(&format!("fork-{i}"), 1, 1)])
            .await
            .unwrap();
    }
    let start = Arc::new(tokio::sync::Barrier::new(3 * DEVICES));
    let mut pushes = Vec::new();
    for i in 0..DEVICES {
        let batches = [
            // A gap: the device's first push starts at 2.
            vec![
                entry(&format!("gap-{i}"), 2, 2),
                entry(&format!("gap-{i}"), 3, 3),
            ],
            // A conflict at the stored first entry, then what would follow it.
            vec![
                entry(&format!("fork-{i}"), 1, 9),
                entry(&format!("fork-{i}"), 2, 2),
            ],
            // Good: the device's first three entries.
            (1..=3)
                .map(|seq| entry(&format!("good-{i}"), seq, seq as u8))
                .collect(),
        ];
        for batch in batches {
            let (store, start) = (s.store.clone(), start.clone());
            pushes.push(tokio::spawn(async move {
                start.wait().await;
                let out = store.append(&ACCOUNT, &batch).await.unwrap();
                (batch[0].device.as_str().to_string(), out)
            }));
        }
    }
    for push in pushes {
        let (device, out) = push.await.unwrap();
        let seqs: Vec<u64> = out.stored.iter().map(|e| e.seq).collect();
        match device.split('-').next() {
            Some("gap") => assert_eq!(
                (seqs, out.head, out.refused),
                (vec![], 0, Some(AppendRefusal::Gap { seq: 2, head: 0 })),
                "{device}"
            ),
            Some("fork") => assert_eq!(
                (seqs, out.head, out.refused),
                (vec![], 1, Some(AppendRefusal::Conflict { seq: 1 })),
                "{device}"
            ),
            _ => assert_eq!(
                (seqs, out.head, out.refused),
                (vec![1, 2, 3], 3, None),
                "{device}"
            ),
        }
    }
    for i in 0..DEVICES {
        for (device, expected) in [
            (format!("gap-{i}"), vec![]),
            (format!("fork-{i}"), vec![(1, 1)]),
            (format!("good-{i}"), vec![(1, 1), (2, 2), (3, 3)]),
        ] {
            let log: Vec<(u64, u8)> = s
                .store
                .entries_after(
                    &ACCOUNT,
                    &DeviceId::new(&device).unwrap(),
                    0,
                    100,
                    usize::MAX,
                )
                .await
                .unwrap()
                .iter()
                .map(|e| (e.seq, e.sealed[0]))
                .collect();
            assert_eq!(log, expected, "{device}");
        }
    }
    let mut heads: Vec<(String, u64)> = s
        .store
        .heads(&ACCOUNT)
        .await
        .unwrap()
        .into_iter()
        .filter(|(_, head)| *head > 0)
        .map(|(d, h)| (d.as_str().to_string(), h))
        .collect();
    heads.sort();
    let mut expected: Vec<(String, u64)> = (0..DEVICES)
        .flat_map(|i| [(format!("fork-{i}"), 1), (format!("good-{i}"), 3)])
        .collect();
    expected.sort();
    assert_eq!(heads, expected);
}

async fn ready_answers_while_the_database_does(s: Subject) {
    s.store.ready().await.unwrap();
}

/// On PostgreSQL a catch-up page is cut by bytes in the query: an entry past the
/// byte budget never leaves the database, so one damaged there is not yet found
/// (it is, by the page that reaches it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catch_up_page_reads_no_entry_past_its_byte_budget() {
    let s = Subject::postgres().await;
    let entries: Vec<SealedEntry> = (1..=6).map(|i| entry("phone", i, i as u8)).collect();
    s.store.append(&ACCOUNT, &entries).await.unwrap();
    s.damage(&ACCOUNT, "phone", 3).await;
    let page = |after| {
        let store = s.store.clone();
        async move {
            store
                .entries_after(&ACCOUNT, &phone(), after, 10, 100)
                .await
                .unwrap()
                .iter()
                .map(|e| e.seq)
                .collect::<Vec<_>>()
        }
    };
    // Entries are 48 bytes: 100 bytes hold two, and the third is not read.
    assert_eq!(page(0).await, [1, 2]);
    assert!(s
        .store
        .damaged(&ACCOUNT, &phone())
        .await
        .unwrap()
        .is_empty());
    // The next page starts at the damaged entry: it stops there, and records it.
    assert_eq!(page(2).await, Vec::<u64>::new());
    assert_eq!(s.store.damaged(&ACCOUNT, &phone()).await.unwrap(), [3]);
}

/// A node reads the entries other nodes signalled, for many logs in one query: each
/// run as far as the byte budget reaches, and no further than an entry damaged on
/// disk (which a session's own read then finds and records). SQLite, one node, has
/// no other nodes' signals and reads none this way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_signalled_for_many_logs_are_read_at_once_within_a_byte_budget() {
    use super::LogRange;
    let s = Subject::postgres().await;
    let other = AccountId([2; 16]);
    let log = |device: &str, n: u64| -> Vec<SealedEntry> {
        (1..=n).map(|i| entry(device, i, i as u8)).collect()
    };
    s.store.append(&ACCOUNT, &log("phone", 6)).await.unwrap();
    s.store.append(&ACCOUNT, &log("laptop", 3)).await.unwrap();
    s.store.append(&other, &log("phone", 4)).await.unwrap();
    s.damage(&other, "phone", 3).await;
    let range = |account, device: &str, after, head| LogRange {
        account,
        device: DeviceId::new(device).unwrap(),
        after,
        head,
    };
    let ranges = [
        range(ACCOUNT, "phone", 2, 5),
        range(other, "phone", 0, 4),
        range(ACCOUNT, "laptop", 0, 3),
        range(ACCOUNT, "tablet", 0, 2),
    ];
    let seqs = |read: Vec<Vec<SealedEntry>>| -> Vec<Vec<(u64, u8)>> {
        read.iter()
            .map(|run| run.iter().map(|e| (e.seq, e.sealed[0])).collect())
            .collect()
    };
    let read = s.store.entries_in(&ranges, usize::MAX).await.unwrap();
    assert_eq!(
        seqs(read.unwrap()),
        [
            vec![(3, 3), (4, 4), (5, 5)],
            vec![(1, 1), (2, 2)],
            vec![(1, 1), (2, 2), (3, 3)],
            vec![]
        ]
    );
    // Entries are 48 bytes; logs are read in (account, device) order: the first
    // account's laptop (3) and phone (3, 3, 4 → up to 5 entries = 240 bytes), then
    // nothing of the other account.
    let read = s.store.entries_in(&ranges, 5 * 48).await.unwrap();
    assert_eq!(
        seqs(read.unwrap()),
        [
            vec![(3, 3), (4, 4)],
            vec![],
            vec![(1, 1), (2, 2), (3, 3)],
            vec![]
        ]
    );
    // Nothing recorded damaged by this read.
    assert!(s.store.damaged(&other, &phone()).await.unwrap().is_empty());
    let sqlite = Subject::sqlite().await;
    assert_eq!(
        sqlite.store.entries_in(&ranges, usize::MAX).await.unwrap(),
        None
    );
}

/// Two relay nodes (two stores, each with its own pool) on one PostgreSQL database
/// take pushes of the same device at the same moment, as when a device reconnects
/// through a load balancer while its old connection still uploads: some pushes
/// repeat what the other node stored, some carry a different entry at the same
/// position. The log ends with no gap and no fork, and each node's answers agree
/// with what was stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_appending_one_device_at_once_store_no_gap_and_no_fork() {
    let db = test_postgres::server().database().await;
    let nodes = [
        Arc::new(PostgresStore::open(&db.config).await.unwrap()),
        Arc::new(PostgresStore::open(&db.config).await.unwrap()),
    ];
    const ENTRIES: u64 = 120;
    let pushes: Vec<_> = (0..2u8)
        .flat_map(|node| {
            (0..2u8).map(move |writer| (node, writer)) // two pushers per node
        })
        .map(|(node, writer)| {
            let store = nodes[node as usize].clone();
            tokio::spawn(async move {
                let mut answers = Vec::new();
                let mut next = 1;
                while next <= ENTRIES {
                    // Batches of up to 3 from where this pusher believes the log is;
                    // writer 1 of node 1 seals every fifth entry differently (a fork).
                    let batch: Vec<SealedEntry> = (next..=(next + 2).min(ENTRIES))
                        .map(|seq| {
                            let byte = if node == 1 && writer == 1 && seq % 5 == 0 {
                                0xEE
                            } else {
                                seq as u8
                            };
                            entry("phone", seq, byte)
                        })
                        .collect();
                    let out = store.append(&ACCOUNT, &batch).await.unwrap();
                    answers.push((batch.clone(), out.clone()));
                    next = out.head + 1;
                    if matches!(out.refused, Some(AppendRefusal::Conflict { .. })) {
                        // Like a device told its copy differs: it stops pushing it.
                        break;
                    }
                }
                answers
            })
        })
        .collect();
    let mut stored_by_anyone: Vec<SealedEntry> = Vec::new();
    for p in pushes {
        for (batch, out) in p.await.unwrap() {
            // A node reports as stored only entries of the batch it was given.
            assert!(out.stored.iter().all(|e| batch.contains(e)), "{out:?}");
            stored_by_anyone.extend(out.stored);
        }
    }
    let log = nodes[0]
        .entries_after(&ACCOUNT, &phone(), 0, 1000, usize::MAX)
        .await
        .unwrap();
    let seqs: Vec<u64> = log.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "no gap, each position once"
    );
    assert_eq!(
        nodes[1].heads(&ACCOUNT).await.unwrap(),
        [(phone(), seqs.len() as u64)]
    );
    // Every entry stored was reported stored by exactly one node, and the log is
    // those entries: no fork, nothing stored twice, nothing lost.
    stored_by_anyone.sort_by_key(|e| e.seq);
    assert_eq!(stored_by_anyone, log);
    // Whoever stored the newest entry was never refused, so the log is whole.
    assert_eq!(log.len() as u64, ENTRIES);
}

fn cursor(device: &str, seq: u64) -> Cursor {
    Cursor {
        device: DeviceId::new(device).unwrap(),
        seq,
    }
}

fn checkpoint(byte: u8, chunks: u32, covers: Vec<Cursor>) -> StoredCheckpoint {
    StoredCheckpoint {
        id: CheckpointId([byte; 16]),
        chunks,
        covers,
    }
}

/// No bound on checkpoint uploads.
const ROOMY_CHECKPOINTS: CheckpointLimits = CheckpointLimits {
    max_bytes: u64::MAX,
    interval_secs: 0,
};

/// Uploads chunks `0..upto` of `c`, chunk `i` holding `i + byte` repeated.
async fn upload(s: &Subject, c: &StoredCheckpoint, upto: u32) -> Vec<ChunkStored> {
    upload_within(s, c, (upto, 100), ROOMY_CHECKPOINTS, 0).await
}

/// As [`upload`], `size` bytes a chunk, within `limits`, begun at `now`.
async fn upload_within(
    s: &Subject,
    c: &StoredCheckpoint,
    (upto, size): (u32, usize),
    limits: CheckpointLimits,
    now: i64,
) -> Vec<ChunkStored> {
    let begun = s
        .store
        .begin_checkpoint(&ACCOUNT, c, limits, now)
        .await
        .unwrap();
    assert_eq!(begun, CheckpointBegun::Begun);
    let mut out = Vec::new();
    for i in 0..upto {
        let sealed = vec![c.id.0[0].wrapping_add(i as u8); size];
        out.push(
            s.store
                .put_checkpoint_chunk(&ACCOUNT, c.id, ChunkIndex(i), &sealed, limits)
                .await
                .unwrap(),
        );
    }
    out
}

async fn checkpoint_uploads_over_the_size_limit_or_too_soon_are_refused_and_leave_nothing(
    s: Subject,
) {
    use aftercall_shared::protocol::CHECKPOINT_CHUNK_PLAINTEXT;
    const FULL: usize = CHECKPOINT_CHUNK_PLAINTEXT;
    let limits = CheckpointLimits {
        max_bytes: 2 * FULL as u64 + 50,
        interval_secs: 300,
    };
    let begin = |c: StoredCheckpoint, now: i64| {
        let store = s.store.clone();
        async move {
            store
                .begin_checkpoint(&ACCOUNT, &c, limits, now)
                .await
                .unwrap()
        }
    };
    // Four chunks are at least three full ones: over the limit from the count alone.
    let huge = checkpoint(40, 4, vec![cursor("laptop", 4)]);
    assert_eq!(
        begin(huge.clone(), 1_000).await,
        CheckpointBegun::TooLarge {
            least: 3 * FULL as u64
        }
    );
    let chunk = s
        .store
        .put_checkpoint_chunk(&ACCOUNT, huge.id, ChunkIndex(0), &[1; 100], limits)
        .await
        .unwrap();
    assert_eq!(chunk, ChunkStored::Unknown, "nothing of it was kept");
    // A refused beginning does not count for the interval: this one may begin.
    let first = checkpoint(10, 2, vec![cursor("laptop", 4)]);
    assert_eq!(
        upload_within(&s, &first, (2, 100), limits, 1_000).await,
        [ChunkStored::Waiting, ChunkStored::Complete]
    );
    // Another within the interval is refused, with the wait.
    let second = checkpoint(20, 3, vec![cursor("laptop", 8)]);
    assert_eq!(
        begin(second.clone(), 1_100).await,
        CheckpointBegun::TooSoon { wait: 200 }
    );
    assert_eq!(
        begin(second.clone(), 1_299).await,
        CheckpointBegun::TooSoon { wait: 1 }
    );
    // The stored one begun again is no new upload.
    assert_eq!(begin(first.clone(), 1_100).await, CheckpointBegun::Begun);
    // After the interval it begins; the chunk that takes it past the limit drops it.
    let stored = upload_within(&s, &second, (3, FULL), limits, 1_300).await;
    assert_eq!(
        stored,
        [
            ChunkStored::Waiting,
            ChunkStored::Waiting,
            ChunkStored::TooLarge {
                bytes: 3 * FULL as u64
            }
        ]
    );
    for i in 0..3 {
        assert_eq!(
            s.store
                .checkpoint_chunk(&ACCOUNT, second.id, ChunkIndex(i))
                .await
                .unwrap(),
            None
        );
    }
    let late = s
        .store
        .put_checkpoint_chunk(&ACCOUNT, second.id, ChunkIndex(0), &[1; 100], limits)
        .await
        .unwrap();
    assert_eq!(late, ChunkStored::Unknown, "a dropped upload takes no more");
    assert_eq!(
        s.store.newest_checkpoint(&ACCOUNT).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(s.store.usage(&ACCOUNT).await.unwrap().checkpoint_bytes, 200);
    // It was begun all the same: the next waits for the interval from it, and
    // then begins, the same checkpoint too.
    assert_eq!(
        begin(second.clone(), 1_500).await,
        CheckpointBegun::TooSoon { wait: 100 }
    );
    assert_eq!(
        upload_within(&s, &second, (3, 100), limits, 1_600).await,
        [
            ChunkStored::Waiting,
            ChunkStored::Waiting,
            ChunkStored::Complete
        ]
    );
    assert_eq!(
        s.store.newest_checkpoint(&ACCOUNT).await.unwrap(),
        Some(second)
    );
}

async fn a_checkpoint_is_newest_only_once_every_chunk_is_in(s: Subject) {
    let first = checkpoint(10, 3, vec![cursor("laptop", 4)]);
    assert_eq!(s.store.newest_checkpoint(&ACCOUNT).await.unwrap(), None);
    let stored = upload(&s, &first, 2).await;
    assert_eq!(stored, [ChunkStored::Waiting, ChunkStored::Waiting]);
    assert_eq!(s.store.newest_checkpoint(&ACCOUNT).await.unwrap(), None);
    // A chunk past the count, or of an upload never begun, is refused.
    let past = s
        .store
        .put_checkpoint_chunk(&ACCOUNT, first.id, ChunkIndex(3), b"x", ROOMY_CHECKPOINTS)
        .await
        .unwrap();
    assert_eq!(past, ChunkStored::Unknown);
    let unknown = s
        .store
        .put_checkpoint_chunk(
            &ACCOUNT,
            CheckpointId([99; 16]),
            ChunkIndex(0),
            b"x",
            ROOMY_CHECKPOINTS,
        )
        .await
        .unwrap();
    assert_eq!(unknown, ChunkStored::Unknown);
    let last = s
        .store
        .put_checkpoint_chunk(
            &ACCOUNT,
            first.id,
            ChunkIndex(2),
            &[12; 100],
            ROOMY_CHECKPOINTS,
        )
        .await
        .unwrap();
    assert_eq!(last, ChunkStored::Complete);
    assert_eq!(
        s.store.newest_checkpoint(&ACCOUNT).await.unwrap(),
        Some(first.clone())
    );
    for i in 0..3u32 {
        assert_eq!(
            s.store
                .checkpoint_chunk(&ACCOUNT, first.id, ChunkIndex(i))
                .await
                .unwrap(),
            Some(vec![10 + i as u8; 100])
        );
    }
    // Another account sees none of it.
    let other = AccountId([2; 16]);
    assert_eq!(s.store.newest_checkpoint(&other).await.unwrap(), None);
    assert_eq!(s.store.usage(&ACCOUNT).await.unwrap().checkpoint_bytes, 300);
}

async fn an_interrupted_upload_leaves_the_previous_checkpoint_and_the_next_one_replaces_it(
    s: Subject,
) {
    let first = checkpoint(10, 2, vec![cursor("laptop", 4)]);
    upload(&s, &first, 2).await;
    // Cut after one chunk of two: the first stays the newest, whole.
    let cut = checkpoint(20, 2, vec![cursor("laptop", 8)]);
    upload(&s, &cut, 1).await;
    assert_eq!(
        s.store.newest_checkpoint(&ACCOUNT).await.unwrap(),
        Some(first.clone())
    );
    assert!(s
        .store
        .checkpoint_chunk(&ACCOUNT, first.id, ChunkIndex(1))
        .await
        .unwrap()
        .is_some());
    // The next upload drops the cut one; once whole it replaces the first.
    let next = checkpoint(30, 2, vec![cursor("laptop", 9)]);
    upload(&s, &next, 2).await;
    assert_eq!(
        s.store.newest_checkpoint(&ACCOUNT).await.unwrap(),
        Some(next.clone())
    );
    assert_eq!(
        s.store
            .checkpoint_chunk(&ACCOUNT, first.id, ChunkIndex(0))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.store
            .checkpoint_chunk(&ACCOUNT, cut.id, ChunkIndex(0))
            .await
            .unwrap(),
        None
    );
    assert_eq!(s.store.usage(&ACCOUNT).await.unwrap().checkpoint_bytes, 200);
    // Sending the stored one again changes nothing.
    assert_eq!(upload(&s, &next, 1).await, [ChunkStored::Complete]);
    assert_eq!(
        s.store.newest_checkpoint(&ACCOUNT).await.unwrap(),
        Some(next)
    );
}

async fn pruning_drops_what_the_checkpoint_covers_and_every_active_device_applied(s: Subject) {
    let laptop: Vec<SealedEntry> = (1..=10).map(|i| entry("laptop", i, i as u8)).collect();
    s.store.append(&ACCOUNT, &laptop).await.unwrap();
    s.store
        .append(&ACCOUNT, &[entry("phone", 1, 1), entry("phone", 2, 2)])
        .await
        .unwrap();
    // Nothing is pruned without a checkpoint.
    assert_eq!(s.store.prune(&ACCOUNT, 0).await.unwrap(), 0);
    let c = checkpoint(10, 1, vec![cursor("laptop", 8), cursor("phone", 2)]);
    upload(&s, &c, 1).await;
    // The phone, seen at 100, has applied the laptop's log up to 5; the laptop
    // has applied the phone's whole log.
    s.store
        .acknowledge(&ACCOUNT, &phone(), &[cursor("laptop", 5)], 100)
        .await
        .unwrap();
    let laptop_id = DeviceId::new("laptop").unwrap();
    s.store
        .acknowledge(&ACCOUNT, &laptop_id, &[cursor("phone", 2)], 100)
        .await
        .unwrap();
    let before = s.store.usage(&ACCOUNT).await.unwrap();
    assert_eq!(before.entries, 12);
    // Both active: the laptop's log up to 5 (the phone's cursor), the phone's up to
    // 1 (its newest entry always stays).
    assert_eq!(s.store.prune(&ACCOUNT, 50).await.unwrap(), 6);
    let pruned = |v: Vec<(DeviceId, u64)>| -> Vec<(String, u64)> {
        v.into_iter().map(|(d, n)| (d.to_string(), n)).collect()
    };
    assert_eq!(
        pruned(s.store.pruned(&ACCOUNT).await.unwrap()),
        [("laptop".to_string(), 5), ("phone".to_string(), 1)]
    );
    let rest = s
        .store
        .entries_after(&ACCOUNT, &laptop_id, 0, 100, usize::MAX)
        .await
        .unwrap();
    assert_eq!(rest.first().map(|e| e.seq), Some(6));
    // The phone not seen since: the checkpoint alone bounds the laptop's log.
    assert_eq!(s.store.prune(&ACCOUNT, 100).await.unwrap(), 3);
    assert_eq!(
        pruned(s.store.pruned(&ACCOUNT).await.unwrap()),
        [("laptop".to_string(), 8), ("phone".to_string(), 1)]
    );
    let after = s.store.usage(&ACCOUNT).await.unwrap();
    assert_eq!(after.entries, 3);
    assert!(after.entry_bytes < before.entry_bytes);
    // The heads are unchanged: appends continue the logs.
    let appended = s
        .store
        .append(&ACCOUNT, &[entry("laptop", 11, 11)])
        .await
        .unwrap();
    assert_eq!(appended.head, 11);
}

async fn a_device_registers_its_credential_once_and_keeps_it(s: Subject) {
    assert!(s
        .store
        .registered_devices(&ACCOUNT)
        .await
        .unwrap()
        .is_empty());
    let first = s
        .store
        .register_device(&ACCOUNT, &phone(), [7; 32], b"sealed phone")
        .await
        .unwrap();
    let expected = RegisteredDevice {
        device: phone(),
        verifier: Some([7; 32]),
        sealed_name: b"sealed phone".to_vec(),
        removed: false,
    };
    assert_eq!(first, expected);
    // A second registration of the same id changes nothing: the first stands.
    let again = s
        .store
        .register_device(&ACCOUNT, &phone(), [8; 32], b"another name")
        .await
        .unwrap();
    assert_eq!(again, expected);
    // Another account's device of the same id is its own.
    let other = AccountId([2; 16]);
    s.store
        .register_device(&other, &phone(), [9; 32], b"")
        .await
        .unwrap();
    assert_eq!(
        s.store.registered_devices(&ACCOUNT).await.unwrap(),
        vec![expected]
    );
    assert_eq!(
        s.store.registered_devices(&other).await.unwrap()[0].verifier,
        Some([9; 32])
    );
}

async fn devices_are_renamed_and_removed_for_good(s: Subject) {
    let laptop = DeviceId::new("laptop").unwrap();
    let tablet = DeviceId::new("tablet").unwrap();
    // Unknown devices are neither renamed nor removed.
    assert!(!s
        .store
        .rename_device(&ACCOUNT, &laptop, b"x")
        .await
        .unwrap());
    assert!(!s.store.remove_device(&ACCOUNT, &laptop).await.unwrap());
    assert!(s
        .store
        .registered_devices(&ACCOUNT)
        .await
        .unwrap()
        .is_empty());

    s.store
        .register_device(&ACCOUNT, &phone(), [7; 32], b"old name")
        .await
        .unwrap();
    assert!(s
        .store
        .rename_device(&ACCOUNT, &phone(), b"new name")
        .await
        .unwrap());
    // A device known by its log alone (an older version) can be renamed; its
    // credential then registers with the name kept.
    s.store
        .append(&ACCOUNT, &[entry("laptop", 1, 1)])
        .await
        .unwrap();
    assert!(s
        .store
        .rename_device(&ACCOUNT, &laptop, b"laptop name")
        .await
        .unwrap());
    let laptop_row = s
        .store
        .register_device(&ACCOUNT, &laptop, [5; 32], b"its own name")
        .await
        .unwrap();
    assert_eq!(laptop_row.verifier, Some([5; 32]));
    assert_eq!(laptop_row.sealed_name, b"laptop name");

    // A device known by its acknowledgement alone can be removed.
    s.store
        .acknowledge(&ACCOUNT, &tablet, &[cursor("laptop", 1)], 10)
        .await
        .unwrap();
    s.store
        .acknowledge(&ACCOUNT, &phone(), &[cursor("laptop", 1)], 10)
        .await
        .unwrap();
    assert!(s.store.remove_device(&ACCOUNT, &tablet).await.unwrap());
    assert!(s.store.remove_device(&ACCOUNT, &phone()).await.unwrap());
    // Removed is for good: not again, not renamed, its acknowledgement forgotten,
    // and a new registration does not bring it back.
    assert!(!s.store.remove_device(&ACCOUNT, &phone()).await.unwrap());
    assert!(!s
        .store
        .rename_device(&ACCOUNT, &phone(), b"back")
        .await
        .unwrap());
    let phone_row = s
        .store
        .register_device(&ACCOUNT, &phone(), [7; 32], b"x")
        .await
        .unwrap();
    assert!(phone_row.removed);
    assert_eq!(phone_row.sealed_name, b"new name");
    assert!(s.store.acknowledged(&ACCOUNT).await.unwrap().is_empty());
    let registry = s.store.registered_devices(&ACCOUNT).await.unwrap();
    let removed: Vec<(&str, bool)> = registry
        .iter()
        .map(|r| (r.device.as_str(), r.removed))
        .collect();
    assert_eq!(
        removed,
        [("laptop", false), ("phone", true), ("tablet", true)]
    );
    // The list leaves the removed out.
    let heads = s.store.heads(&ACCOUNT).await.unwrap();
    let listed = device_list(&registry, &heads, &[]);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].device, laptop);
}

async fn acknowledgements_list_every_device_of_the_account_alone(s: Subject) {
    let laptop = DeviceId::new("laptop").unwrap();
    s.store
        .acknowledge(&ACCOUNT, &phone(), &[cursor("laptop", 3)], 40)
        .await
        .unwrap();
    s.store
        .acknowledge(&ACCOUNT, &laptop, &[], 50)
        .await
        .unwrap();
    s.store
        .acknowledge(&AccountId([2; 16]), &laptop, &[], 60)
        .await
        .unwrap();
    let mut acks = s.store.acknowledged(&ACCOUNT).await.unwrap();
    acks.sort_by(|a, b| a.device.cmp(&b.device));
    let seen: Vec<(&str, i64, usize)> = acks
        .iter()
        .map(|a| (a.device.as_str(), a.seen_at, a.cursors.len()))
        .collect();
    assert_eq!(seen, [("laptop", 50, 0), ("phone", 40, 1)]);
    assert_eq!(acks[1].cursors, [cursor("laptop", 3)]);
}

const ROOMY: BlobLimits = BlobLimits {
    max_blob_bytes: 1 << 30,
    quota_bytes: 1 << 32,
};

/// Chunk `index` of a blob of `chunks` chunks of `len` bytes each.
fn blob_chunk(blob: u8, index: u32, chunks: u32, len: usize) -> BlobChunk {
    BlobChunk {
        blob: BlobId([blob; 32]),
        index: ChunkIndex(index),
        chunks,
        sealed: vec![blob ^ index as u8; len],
    }
}

fn stored(new: bool, complete: bool) -> BlobPut {
    BlobPut::Stored { new, complete }
}

async fn a_blob_is_available_only_once_every_chunk_is_in_and_an_upload_resumes(s: Subject) {
    s.store
        .create_account(&ACCOUNT, [0; 32], false, None)
        .await
        .unwrap();
    let blob = BlobId([7; 32]);
    assert_eq!(
        s.store.blob_state(&ACCOUNT, blob).await.unwrap(),
        BlobState::Absent
    );
    let put = |index: u32| {
        let store = s.store.clone();
        async move {
            store
                .put_blob_chunk(&ACCOUNT, 300, &blob_chunk(7, index, 3, 100), ROOMY)
                .await
                .unwrap()
        }
    };
    assert_eq!(put(2).await, stored(true, false));
    assert_eq!(put(0).await, stored(true, false));
    // Cut short: the chunks in are listed, and the blob cannot be downloaded.
    assert_eq!(
        s.store.blob_state(&ACCOUNT, blob).await.unwrap(),
        BlobState::Partial {
            chunks: 3,
            present: vec![ChunkIndex(0), ChunkIndex(2)]
        }
    );
    assert_eq!(
        s.store
            .blob_chunk(&ACCOUNT, blob, ChunkIndex(0))
            .await
            .unwrap(),
        None
    );
    // A chunk sent again is not stored again.
    assert_eq!(put(0).await, stored(false, false));
    assert_eq!(put(1).await, stored(true, true));
    assert_eq!(
        s.store.blob_state(&ACCOUNT, blob).await.unwrap(),
        BlobState::Complete { chunks: 3 }
    );
    for i in 0..3 {
        assert_eq!(
            s.store
                .blob_chunk(&ACCOUNT, blob, ChunkIndex(i))
                .await
                .unwrap(),
            Some(blob_chunk(7, i, 3, 100).sealed)
        );
    }
    assert_eq!(
        s.store
            .blob_chunk(&ACCOUNT, blob, ChunkIndex(3))
            .await
            .unwrap(),
        None
    );
    // Another device uploading the same blob stores nothing more.
    assert_eq!(put(1).await, stored(false, true));
    assert_eq!(s.store.usage(&ACCOUNT).await.unwrap().blob_bytes, 300);
    // Another account does not see it.
    let other = AccountId([2; 16]);
    assert_eq!(
        s.store.blob_state(&other, blob).await.unwrap(),
        BlobState::Absent
    );
    assert_eq!(
        s.store
            .blob_chunk(&other, blob, ChunkIndex(0))
            .await
            .unwrap(),
        None
    );
}

async fn blobs_over_the_file_limit_or_the_quota_or_disagreeing_are_refused(s: Subject) {
    s.store
        .create_account(&ACCOUNT, [0; 32], false, None)
        .await
        .unwrap();
    let limits = BlobLimits {
        max_blob_bytes: 1000,
        quota_bytes: 1500,
    };
    let put = |bytes: u64, chunk: BlobChunk| {
        let store = s.store.clone();
        async move {
            store
                .put_blob_chunk(&ACCOUNT, bytes, &chunk, limits)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        put(1001, blob_chunk(1, 0, 2, 500)).await,
        BlobPut::Refused(BlobRefusal::TooLarge {
            bytes: 1001,
            limit: 1000
        })
    );
    assert_eq!(
        s.store.blob_state(&ACCOUNT, BlobId([1; 32])).await.unwrap(),
        BlobState::Absent
    );
    // The quota counts a blob begun at its announced size.
    assert_eq!(
        put(1000, blob_chunk(2, 0, 2, 500)).await,
        stored(true, false)
    );
    assert_eq!(
        put(600, blob_chunk(3, 0, 1, 600)).await,
        BlobPut::Refused(BlobRefusal::QuotaExceeded {
            used: 1000,
            bytes: 600,
            quota: 1500
        })
    );
    // What fits still goes in.
    assert_eq!(put(500, blob_chunk(4, 0, 1, 500)).await, stored(true, true));
    // A chunk that disagrees with its blob's upload: another count, another size,
    // or more bytes than announced.
    assert_eq!(
        put(1000, blob_chunk(2, 1, 3, 500)).await,
        BlobPut::Refused(BlobRefusal::Mismatch)
    );
    assert_eq!(
        put(999, blob_chunk(2, 1, 2, 499)).await,
        BlobPut::Refused(BlobRefusal::Mismatch)
    );
    assert_eq!(
        put(1000, blob_chunk(2, 1, 2, 501)).await,
        BlobPut::Refused(BlobRefusal::Mismatch)
    );
    assert_eq!(
        put(1000, blob_chunk(2, 1, 2, 500)).await,
        stored(true, true)
    );
    assert_eq!(s.store.usage(&ACCOUNT).await.unwrap().blob_bytes, 1500);
}

async fn pruning_leaves_blobs_alone(s: Subject) {
    s.store
        .create_account(&ACCOUNT, [0; 32], false, None)
        .await
        .unwrap();
    s.store
        .put_blob_chunk(&ACCOUNT, 100, &blob_chunk(9, 0, 1, 100), ROOMY)
        .await
        .unwrap();
    let laptop: Vec<SealedEntry> = (1..=4).map(|i| entry("laptop", i, i as u8)).collect();
    s.store.append(&ACCOUNT, &laptop).await.unwrap();
    upload(&s, &checkpoint(3, 1, vec![cursor("laptop", 4)]), 1).await;
    assert!(s.store.prune(&ACCOUNT, i64::MAX).await.unwrap() > 0);
    assert_eq!(
        s.store.blob_state(&ACCOUNT, BlobId([9; 32])).await.unwrap(),
        BlobState::Complete { chunks: 1 }
    );
    assert_eq!(
        s.store
            .blob_chunk(&ACCOUNT, BlobId([9; 32]), ChunkIndex(0))
            .await
            .unwrap(),
        Some(blob_chunk(9, 0, 1, 100).sealed)
    );
}

/// Two relay nodes (two stores, two pools) on one database share each account's
/// entry allowance and its count of open sessions; a node that falls silent stops
/// holding sessions once they expire. One SQLite file is one node: it keeps none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_are_shared_by_every_node_of_one_database() {
    use super::{Allowance, SessionKey};
    use std::time::Duration;
    let sqlite = Subject::sqlite().await;
    assert_eq!(
        sqlite.store.take_entries(&ACCOUNT, 1, 1, 3).await.unwrap(),
        None
    );
    let key = |node, session| SessionKey { node, session };
    assert_eq!(
        sqlite
            .store
            .open_session(&ACCOUNT, key(1, 0), 1)
            .await
            .unwrap(),
        None
    );

    let db = test_postgres::server().database().await;
    let nodes = [
        PostgresStore::open(&db.config).await.unwrap(),
        PostgresStore::open(&db.config).await.unwrap(),
    ];
    nodes[0]
        .create_account(&ACCOUNT, [0; 32], false, None)
        .await
        .unwrap();
    // A burst of 3 at 1 a second: 2 on one node, 1 on the other, then the next
    // waits about a second whichever node takes it, and far more is refused.
    let take = |node: usize, n| nodes[node].take_entries(&ACCOUNT, n, 1, 3);
    assert_eq!(
        take(0, 2).await.unwrap(),
        Some(Allowance::After(Duration::ZERO))
    );
    assert_eq!(
        take(1, 1).await.unwrap(),
        Some(Allowance::After(Duration::ZERO))
    );
    match take(1, 1).await.unwrap() {
        Some(Allowance::After(wait)) => assert!(
            wait > Duration::from_millis(500) && wait <= Duration::from_secs(1),
            "{wait:?}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(take(0, 5).await.unwrap(), Some(Allowance::Refused));

    // An append takes from the same allowance in its own transaction: within it,
    // stored at once; over it, nothing stored and a wait; far over it, refused.
    use super::{EntryRate, RatedAppend};
    let rate = EntryRate {
        per_second: 1,
        burst: 3,
    };
    let other = AccountId([2; 16]);
    let within = |node: usize, entries: Vec<SealedEntry>| {
        let store = &nodes[node];
        async move { store.append_within(&other, &entries, rate).await.unwrap() }
    };
    match within(0, vec![entry("phone", 1, 1), entry("phone", 2, 2)]).await {
        Some(RatedAppend::Appended(out)) => assert_eq!((out.head, out.stored.len()), (2, 2)),
        answer => panic!("{answer:?}"),
    }
    match within(1, vec![entry("laptop", 1, 1)]).await {
        Some(RatedAppend::Appended(out)) => assert_eq!(out.head, 1),
        answer => panic!("{answer:?}"),
    }
    match within(1, vec![entry("phone", 3, 3)]).await {
        Some(RatedAppend::Wait(wait)) => assert!(
            wait > Duration::from_millis(500) && wait <= Duration::from_secs(1),
            "{wait:?}"
        ),
        answer => panic!("{answer:?}"),
    }
    assert_eq!(
        within(0, vec![entry("phone", 3, 3); 5]).await,
        Some(RatedAppend::Refused)
    );
    // Nothing stored past the allowance; a store with no shared bucket takes none.
    let mut heads = nodes[1].heads(&other).await.unwrap();
    heads.sort();
    assert_eq!(
        heads,
        [
            (DeviceId::new("laptop").unwrap(), 1),
            (DeviceId::new("phone").unwrap(), 2)
        ]
    );
    assert_eq!(
        sqlite
            .store
            .append_within(&other, &[entry("phone", 1, 1)], rate)
            .await
            .unwrap(),
        None
    );
    assert!(sqlite.store.heads(&other).await.unwrap().is_empty());

    // Two sessions at most, across both nodes.
    let open =
        |node: usize, session| nodes[node].open_session(&ACCOUNT, key(node as u64 + 1, session), 2);
    assert_eq!(open(0, 0).await.unwrap(), Some(true));
    assert_eq!(open(1, 0).await.unwrap(), Some(true));
    assert_eq!(open(1, 1).await.unwrap(), Some(false));
    nodes[1].close_session(key(2, 0)).await.unwrap();
    assert_eq!(open(1, 2).await.unwrap(), Some(true));
    assert_eq!(open(0, 1).await.unwrap(), Some(false));
    // Node 1 falls silent past the expiry while node 2 marks its own alive.
    let client = db.connect().await;
    client
        .execute(
            "UPDATE account_sessions SET seen = seen - $1 WHERE node = 1",
            &[&(super::SESSION_EXPIRY.as_secs_f64() + 1.0)],
        )
        .await
        .unwrap();
    nodes[1].touch_sessions(2).await.unwrap();
    assert_eq!(open(1, 3).await.unwrap(), Some(true));
    assert_eq!(open(1, 4).await.unwrap(), Some(false));
}

/// The tables holding an account's rows that a re-key empties, on both stores.
const SEALED_TABLES: [&str; 8] = [
    "entries",
    "damaged",
    "devices",
    "checkpoints",
    "checkpoint_chunks",
    "acks",
    "blobs",
    "blob_chunks",
];

fn wrap_key(byte: u8) -> WrapKey {
    WrapKey {
        public: [byte; 32],
        mac: [byte ^ 0xff; 32],
    }
}

fn wrap(device: &str, byte: u8) -> WrappedSecret {
    WrappedSecret {
        device: DeviceId::new(device).unwrap(),
        sealed: vec![byte; 72],
    }
}

/// Gives `account` what a working account holds: registered devices (one
/// removed), logs, a damaged entry, a checkpoint, acknowledgements and a blob.
async fn fill(s: &Subject, account: &AccountId, byte: u8) {
    let store = &s.store;
    store
        .create_account(account, [byte; 32], false, None)
        .await
        .unwrap();
    for device in ["phone", "laptop", "lost"] {
        let key = [byte ^ device.len() as u8; 32];
        store
            .register_device(
                account,
                &DeviceId::new(device).unwrap(),
                key,
                b"sealed name",
            )
            .await
            .unwrap();
    }
    assert!(store
        .remove_device(account, &DeviceId::new("lost").unwrap())
        .await
        .unwrap());
    let phone: Vec<SealedEntry> = (1..=3).map(|i| entry("phone", i, byte)).collect();
    let laptop: Vec<SealedEntry> = (1..=2).map(|i| entry("laptop", i, byte)).collect();
    store.append(account, &phone).await.unwrap();
    store.append(account, &laptop).await.unwrap();
    let c = checkpoint(byte, 1, vec![cursor("phone", 2), cursor("laptop", 1)]);
    store
        .begin_checkpoint(account, &c, ROOMY_CHECKPOINTS, 0)
        .await
        .unwrap();
    store
        .put_checkpoint_chunk(account, c.id, ChunkIndex(0), &[byte; 40], ROOMY_CHECKPOINTS)
        .await
        .unwrap();
    store
        .acknowledge(
            account,
            &DeviceId::new("laptop").unwrap(),
            &[cursor("phone", 3)],
            100,
        )
        .await
        .unwrap();
    store
        .put_blob_chunk(account, 100, &blob_chunk(byte, 0, 1, 100), ROOMY)
        .await
        .unwrap();
    // An entry found damaged on disk is recorded when it is read.
    s.damage(account, "laptop", 2).await;
    store
        .entries_after(account, &DeviceId::new("laptop").unwrap(), 1, 10, 1 << 20)
        .await
        .unwrap();
    assert_eq!(
        store
            .damaged(account, &DeviceId::new("laptop").unwrap())
            .await
            .unwrap(),
        [2]
    );
}

/// Uploads every chunk of `c` to the re-key's new account `to`.
async fn upload_to(s: &Subject, to: &AccountId, c: &StoredCheckpoint) -> Vec<ChunkStored> {
    let mut out = Vec::new();
    for i in 0..c.chunks {
        out.push(
            s.store
                .put_checkpoint_chunk(to, c.id, ChunkIndex(i), &[i as u8; 64], ROOMY_CHECKPOINTS)
                .await
                .unwrap(),
        );
    }
    out
}

async fn a_rekey_moves_the_account_and_deletes_everything_sealed_under_the_old_key(s: Subject) {
    let (old, new, other) = (ACCOUNT, AccountId([2; 16]), AccountId([3; 16]));
    fill(&s, &old, 1).await;
    fill(&s, &other, 3).await;
    // PostgreSQL's shared limits keep a row per account.
    s.store.take_entries(&old, 1, 10, 10).await.unwrap();
    let other_before = (
        s.store.usage(&other).await.unwrap(),
        s.store.heads(&other).await.unwrap(),
        s.store.registered_devices(&other).await.unwrap(),
    );
    let (phone, laptop, lost) = (
        DeviceId::new("phone").unwrap(),
        DeviceId::new("laptop").unwrap(),
        DeviceId::new("lost").unwrap(),
    );

    // Wrap keys: only registered devices not removed keep one; the newest wins.
    assert!(s
        .store
        .set_wrap_key(&old, &phone, &wrap_key(9))
        .await
        .unwrap());
    assert!(s
        .store
        .set_wrap_key(&old, &phone, &wrap_key(5))
        .await
        .unwrap());
    assert!(!s
        .store
        .set_wrap_key(&old, &lost, &wrap_key(5))
        .await
        .unwrap());
    let ghost = DeviceId::new("ghost").unwrap();
    assert!(!s
        .store
        .set_wrap_key(&old, &ghost, &wrap_key(5))
        .await
        .unwrap());
    assert_eq!(
        s.store.rekey_devices(&old).await.unwrap(),
        [
            RekeyDevice {
                device: laptop.clone(),
                wrap_key: None
            },
            RekeyDevice {
                device: phone.clone(),
                wrap_key: Some(wrap_key(5))
            },
        ]
    );

    // Begun: the new account exists beside the old one, which works as before.
    let rotation = checkpoint(40, 2, vec![cursor("phone", 3), cursor("laptop", 2)]);
    assert_eq!(
        s.store
            .begin_rotation(&old, &new, [7; 32], &rotation)
            .await
            .unwrap(),
        RotationBegin::Begun
    );
    assert_eq!(
        s.store.account(&new).await.unwrap(),
        Some(AccountRecord {
            verifier: [7; 32],
            moved_to: None,
            rotating_from: Some(old),
        })
    );
    assert_eq!(
        s.store.commit_rotation(&old, &new, &[], 500).await.unwrap(),
        RotationCommit::Incomplete
    );
    assert_eq!(
        s.store
            .append(&old, &[entry("phone", 4, 1)])
            .await
            .unwrap()
            .head,
        4
    );
    assert_eq!(
        upload_to(&s, &new, &rotation).await,
        [ChunkStored::Waiting, ChunkStored::Complete]
    );
    assert_eq!(s.store.account(&old).await.unwrap().unwrap().moved_to, None);

    // Refused: another target, a device not registered, a removed device.
    assert_eq!(
        s.store
            .commit_rotation(&old, &other, &[], 500)
            .await
            .unwrap(),
        RotationCommit::NotPending
    );
    for bad in ["ghost", "lost"] {
        assert_eq!(
            s.store
                .commit_rotation(&old, &new, &[wrap("phone", 1), wrap(bad, 2)], 500)
                .await
                .unwrap(),
            RotationCommit::UnknownDevice(DeviceId::new(bad).unwrap())
        );
    }
    assert_eq!(s.store.heads(&old).await.unwrap().len(), 2);

    let wraps = [wrap("phone", 1), wrap("laptop", 2)];
    assert_eq!(
        s.store
            .commit_rotation(&old, &new, &wraps, 500)
            .await
            .unwrap(),
        RotationCommit::Committed
    );
    // Asked again (the answer was lost): the same answer, nothing changes.
    assert_eq!(
        s.store
            .commit_rotation(&old, &new, &wraps, 600)
            .await
            .unwrap(),
        RotationCommit::AlreadyCommitted
    );

    // The old account: moved, its credential hash kept for the hello that learns so.
    assert_eq!(
        s.store.account(&old).await.unwrap(),
        Some(AccountRecord {
            verifier: [1; 32],
            moved_to: Some(new),
            rotating_from: None,
        })
    );
    for table in SEALED_TABLES {
        assert_eq!(s.rows(table, &old).await, 0, "{table} of the old account");
    }
    if let Place::Postgres(_) = s.place {
        assert_eq!(s.rows("account_rates", &old).await, 0);
    }
    // Its registry keeps credential hashes and removal, and names nothing.
    let registry = s.store.registered_devices(&old).await.unwrap();
    assert_eq!(
        registry
            .iter()
            .map(|r| (
                r.device.as_str(),
                r.verifier.is_some(),
                r.removed,
                r.sealed_name.len()
            ))
            .collect::<Vec<_>>(),
        [
            ("laptop", true, false, 0),
            ("lost", true, true, 0),
            ("phone", true, false, 0)
        ]
    );
    assert_eq!(
        s.store.wrapped_secret(&old, &phone).await.unwrap(),
        Some(vec![1; 72])
    );
    assert_eq!(
        s.store.wrapped_secret(&old, &laptop).await.unwrap(),
        Some(vec![2; 72])
    );
    assert_eq!(s.store.wrapped_secret(&old, &lost).await.unwrap(), None);
    // Nothing more is stored under it.
    assert!(matches!(
        s.store.append(&old, &[entry("phone", 5, 1)]).await,
        Err(RelayError::AccountMoved)
    ));
    assert!(matches!(
        s.store
            .put_blob_chunk(&old, 100, &blob_chunk(8, 0, 1, 100), ROOMY)
            .await,
        Err(RelayError::AccountMoved)
    ));
    assert!(matches!(
        s.store
            .begin_checkpoint(&old, &checkpoint(8, 1, vec![]), ROOMY_CHECKPOINTS, 0)
            .await,
        Err(RelayError::AccountMoved)
    ));
    assert!(matches!(
        s.store.acknowledge(&old, &laptop, &[], 700).await,
        Err(RelayError::AccountMoved)
    ));
    assert!(matches!(
        s.store
            .register_device(&old, &ghost, [6; 32], b"name")
            .await,
        Err(RelayError::AccountMoved)
    ));
    assert_eq!(
        s.store
            .begin_rotation(
                &old,
                &AccountId([4; 16]),
                [4; 32],
                &checkpoint(8, 1, vec![])
            )
            .await
            .unwrap(),
        RotationBegin::Moved
    );

    // The new account: an ordinary one whose logs start where the checkpoint says.
    assert_eq!(
        s.store.account(&new).await.unwrap(),
        Some(AccountRecord {
            verifier: [7; 32],
            moved_to: None,
            rotating_from: None,
        })
    );
    let floors = vec![(laptop.clone(), 2), (phone.clone(), 3)];
    assert_eq!(s.store.heads(&new).await.unwrap(), floors);
    assert_eq!(s.store.pruned(&new).await.unwrap(), floors);
    assert_eq!(
        s.store.newest_checkpoint(&new).await.unwrap(),
        Some(rotation.clone())
    );
    assert_eq!(s.store.entry_hash(&new, &phone, 3).await.unwrap(), None);
    // A re-push of the floor is taken as the pruned entry; the next one continues.
    let pushed = s
        .store
        .append(&new, &[entry("phone", 3, 9), entry("phone", 4, 9)])
        .await
        .unwrap();
    assert_eq!(
        (pushed.head, pushed.stored.len(), pushed.refused),
        (4, 1, None)
    );
    assert_eq!(
        s.store
            .append(&new, &[entry("laptop", 4, 9)])
            .await
            .unwrap()
            .refused,
        Some(AppendRefusal::Gap { seq: 4, head: 2 })
    );
    // Pruning goes on from the floors: a newer checkpoint lets the entries it
    // covers go (never a log's newest).
    s.store.append(&new, &[entry("phone", 5, 9)]).await.unwrap();
    let newer = checkpoint(43, 1, vec![cursor("phone", 5), cursor("laptop", 2)]);
    s.store
        .begin_checkpoint(&new, &newer, ROOMY_CHECKPOINTS, 0)
        .await
        .unwrap();
    assert_eq!(upload_to(&s, &new, &newer).await, [ChunkStored::Complete]);
    assert_eq!(s.store.prune(&new, 0).await.unwrap(), 1);
    assert_eq!(
        s.store.pruned(&new).await.unwrap(),
        [(laptop.clone(), 2), (phone.clone(), 4)]
    );
    assert_eq!(
        s.store
            .entries_after(&new, &phone, 0, 10, 1 << 20)
            .await
            .unwrap(),
        [entry("phone", 5, 9)]
    );

    // The unrelated account is untouched.
    assert_eq!(
        (
            s.store.usage(&other).await.unwrap(),
            s.store.heads(&other).await.unwrap(),
            s.store.registered_devices(&other).await.unwrap(),
        ),
        other_before
    );
    for table in SEALED_TABLES {
        assert!(
            s.rows(table, &other).await > 0,
            "{table} of another account"
        );
    }
}

async fn a_new_rekey_replaces_one_begun_before_and_a_taken_id_is_refused(s: Subject) {
    let (old, first, second, other) = (
        ACCOUNT,
        AccountId([2; 16]),
        AccountId([5; 16]),
        AccountId([3; 16]),
    );
    fill(&s, &old, 1).await;
    fill(&s, &other, 3).await;
    let c1 = checkpoint(41, 1, vec![cursor("phone", 3)]);
    assert_eq!(
        s.store
            .begin_rotation(&old, &first, [7; 32], &c1)
            .await
            .unwrap(),
        RotationBegin::Begun
    );
    assert_eq!(upload_to(&s, &first, &c1).await, [ChunkStored::Complete]);
    s.store
        .register_device(&first, &DeviceId::new("phone").unwrap(), [1; 32], b"")
        .await
        .unwrap();

    // An id the relay holds for another account is refused, and the pending
    // re-key stays as it was.
    assert_eq!(
        s.store
            .begin_rotation(&old, &other, [7; 32], &c1)
            .await
            .unwrap(),
        RotationBegin::TargetTaken
    );
    assert_eq!(
        s.store
            .account(&first)
            .await
            .unwrap()
            .map(|r| r.rotating_from),
        Some(Some(old))
    );

    // A second begin, to another id: the first target goes with everything of it.
    let c2 = checkpoint(42, 1, vec![cursor("phone", 3), cursor("laptop", 2)]);
    assert_eq!(
        s.store
            .begin_rotation(&old, &second, [8; 32], &c2)
            .await
            .unwrap(),
        RotationBegin::Begun
    );
    assert_eq!(s.store.account(&first).await.unwrap(), None);
    for table in SEALED_TABLES.iter().chain(&["device_keys"]) {
        assert_eq!(
            s.rows(table, &first).await,
            0,
            "{table} of the dropped target"
        );
    }
    assert_eq!(
        s.store
            .commit_rotation(&old, &first, &[], 500)
            .await
            .unwrap(),
        RotationCommit::NotPending
    );
    assert_eq!(
        s.store
            .commit_rotation(&old, &second, &[], 500)
            .await
            .unwrap(),
        RotationCommit::Incomplete
    );
    // Begun again to the same id: it starts over (its credential replaced).
    assert_eq!(
        s.store
            .begin_rotation(&old, &second, [9; 32], &c2)
            .await
            .unwrap(),
        RotationBegin::Begun
    );
    assert_eq!(
        s.store.account(&second).await.unwrap().unwrap().verifier,
        [9; 32]
    );
    assert_eq!(upload_to(&s, &second, &c2).await, [ChunkStored::Complete]);
    // Until the commit, the old account is whole.
    assert_eq!(s.store.heads(&old).await.unwrap().len(), 2);
    assert_eq!(s.store.account(&old).await.unwrap().unwrap().moved_to, None);
    assert_eq!(
        s.store
            .commit_rotation(&old, &second, &[wrap("laptop", 3)], 500)
            .await
            .unwrap(),
        RotationCommit::Committed
    );
    assert_eq!(
        s.store.account(&old).await.unwrap().unwrap().moved_to,
        Some(second)
    );
    // A commit naming the target dropped before stays refused after the move.
    assert_eq!(
        s.store
            .commit_rotation(&old, &first, &[], 500)
            .await
            .unwrap(),
        RotationCommit::NotPending
    );
    assert_eq!(s.store.heads(&other).await.unwrap().len(), 2);
}
