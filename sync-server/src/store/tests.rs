//! The relay store's contract, the same tests on SQLite and on PostgreSQL: accounts
//! and credential hashes, invites used once, heads, appends in order with identical
//! re-pushes accepted and conflicts and gaps refused, catch-up pages by count and
//! by bytes, entries damaged on disk and their repair, entry hashes; and on
//! PostgreSQL, two relay nodes appending one device's entries at once.

use std::sync::Arc;

use aftercall_shared::protocol::{AccountId, DeviceId, SealedEntry};

use super::{AppendRefusal, PostgresStore, Registration, RelayStore, SqliteStore};
use crate::test_postgres::{self, TestDatabase};

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
    ready_answers_while_the_database_does,
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

async fn ready_answers_while_the_database_does(s: Subject) {
    s.store.ready().await.unwrap();
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
