//! Group commit of appends in the PostgreSQL store.
//!
//! Every append of a node, from any of its sessions, goes through a bounded queue
//! to a few writer tasks. A writer takes every job waiting (up to [`MAX_BATCH`]) and
//! stores them in one transaction, a handful of set-based statements whatever the
//! batch's size:
//!
//! 1. the allowance of every account with a rated job is refilled and its row
//!    locked (`INSERT … ON CONFLICT DO UPDATE … RETURNING`), in account order;
//! 2. the row in `devices` of every device appending is created if new and locked
//!    (the same upsert), in (account, device) order, and its head read under the
//!    lock: appends of one device on any node take turns, and the second sees what
//!    the first stored;
//! 3. the stored entries a batch repeats (positions at or below the head) are read
//!    in one query;
//! 4. each job is decided on its own, in order ([`allowance`], then
//!    [`plan_append`] from the head the jobs before it left): an identical
//!    re-push is accepted, a conflict or a gap refused. Refusals are decided
//!    before anything is written, so one job's refusal never touches another's;
//! 5. the entries of every job are inserted in one multi-row `INSERT` from
//!    `UNNEST`, the heads and the allowances written back, and one notification
//!    sent per device whose log grew, all pipelined on the connection; then the
//!    commit. Each job's answer goes back only once the commit has returned.
//!
//! Taking the locks in one order keeps two writers (of one node or of two) from
//! deadlocking; should the database still report a deadlock or a serialization
//! failure, the batch is tried again. Should it refuse a batch for any other
//! reason, each job of it is tried alone, so the refusal reaches only its own.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use aftercall_shared::protocol::{AccountId, DeviceId, SealedEntry};
use deadpool_postgres::Pool;
use tokio::sync::{mpsc, oneshot, Mutex};
use tokio_postgres::error::SqlState;

use super::super::{allowance, plan_append, sum, Allowance, Appended, EntryRate};
use crate::RelayError;

/// Appends stored in one transaction at most.
pub(super) const MAX_BATCH: usize = 512;

/// Writer tasks per node: while one commits, the next gathers its batch.
const WRITERS: usize = 2;

/// Appends waiting for a writer at most; a session pushing past that waits.
const QUEUE: usize = 2 * MAX_BATCH;

/// How many times a batch the database aborted to break a deadlock (or a
/// serialization failure) is tried again.
const RETRIES: usize = 3;

/// One append: `entries` (all of one device, in order) of `account`, taken first
/// from the account's shared allowance when `take` says how.
#[derive(Debug, Clone)]
pub(super) struct Job {
    pub account: AccountId,
    pub entries: Vec<SealedEntry>,
    pub take: Option<Take>,
}

/// Entries to take from an account's allowance before storing anything.
#[derive(Debug, Clone, Copy)]
pub(super) struct Take {
    pub rate: EntryRate,
    /// How many (the entries of the job, or any number when there are none).
    pub n: u32,
}

/// What became of a job: the allowance's answer if it took from it, and the
/// append if it went ahead (always, without `take`; when the allowance let it
/// through at once, with it).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Done {
    pub allowance: Option<Allowance>,
    pub appended: Option<Appended>,
}

struct Queued {
    job: Job,
    reply: oneshot::Sender<Result<Done, RelayError>>,
}

/// The queue to a node's writer tasks.
#[derive(Clone)]
pub(super) struct Appender {
    queue: mpsc::Sender<Queued>,
}

impl Appender {
    /// Starts the writer tasks on the current runtime; they end once every
    /// [`Appender`] is dropped and the queue is empty.
    pub fn start(pool: Pool) -> Appender {
        let (queue, jobs) = mpsc::channel(QUEUE);
        let jobs = Arc::new(Mutex::new(jobs));
        for _ in 0..WRITERS {
            tokio::spawn(write(pool.clone(), jobs.clone()));
        }
        Appender { queue }
    }

    /// Queues `job` and waits until its batch is committed (or failed).
    pub async fn submit(&self, job: Job) -> Result<Done, RelayError> {
        let (reply, answer) = oneshot::channel();
        let gone = || RelayError::Task("the relay's writer has stopped".into());
        self.queue
            .send(Queued { job, reply })
            .await
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

/// A writer task: takes every job waiting, stores them in one transaction, answers
/// each.
async fn write(pool: Pool, jobs: Arc<Mutex<mpsc::Receiver<Queued>>>) {
    loop {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        {
            // One writer gathers at a time; the other meanwhile stores its batch.
            let mut jobs = jobs.lock().await;
            if jobs.recv_many(&mut batch, MAX_BATCH).await == 0 {
                return;
            }
        }
        let (jobs, replies): (Vec<Job>, Vec<_>) =
            batch.into_iter().map(|q| (q.job, q.reply)).unzip();
        for (reply, done) in replies.into_iter().zip(store(&pool, &jobs).await) {
            let _ = reply.send(done);
        }
    }
}

/// Stores `jobs` in one transaction; when the database refuses it, each job alone.
async fn store(pool: &Pool, jobs: &[Job]) -> Vec<Result<Done, RelayError>> {
    match attempt(pool, jobs).await {
        Ok(done) => done.into_iter().map(Ok).collect(),
        Err(RelayError::Postgres(e)) if jobs.len() > 1 && e.as_db_error().is_some() => {
            tracing::warn!(error = %RelayError::Postgres(e), jobs = jobs.len(), "a batch of appends was refused; storing each alone");
            let mut out = Vec::with_capacity(jobs.len());
            for job in jobs {
                out.push(
                    attempt(pool, std::slice::from_ref(job))
                        .await
                        .and_then(|mut done| {
                            done.pop()
                                .ok_or_else(|| RelayError::Task("an append had no answer".into()))
                        }),
                );
            }
            out
        }
        Err(e) => {
            tracing::error!(error = %e, jobs = jobs.len(), "storing entries failed");
            jobs.iter()
                .map(|_| Err(RelayError::Task(format!("storing entries failed: {e}"))))
                .collect()
        }
    }
}

/// One transaction for `jobs`, tried again when the database aborted it to break a
/// deadlock or a serialization failure.
async fn attempt(pool: &Pool, jobs: &[Job]) -> Result<Vec<Done>, RelayError> {
    let mut tries = 0;
    loop {
        let mut client = pool.get().await?;
        match append_batch(&mut client, jobs).await {
            Err(e) if tries < RETRIES && retryable(&e) => {
                tries += 1;
                tracing::info!(error = %e, tries, "a batch of appends is tried again");
                tokio::time::sleep(Duration::from_millis(5 * tries as u64)).await;
            }
            done => return Ok(done?),
        }
    }
}

fn retryable(e: &tokio_postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE
    )
}

/// Refills the allowance of each account and locks its row; answers the tokens.
const REFILL: &str = "
INSERT INTO account_rates (account, tokens, refilled)
SELECT r.account, r.burst, extract(epoch FROM clock_timestamp())::float8
FROM UNNEST($1::BYTEA[], $2::FLOAT8[]) AS r (account, burst)
ON CONFLICT (account) DO UPDATE SET
    tokens = LEAST(excluded.tokens, account_rates.tokens
        + GREATEST(0, excluded.refilled - account_rates.refilled)
        * (SELECT p.rate FROM UNNEST($1::BYTEA[], $3::FLOAT8[]) AS p (account, rate)
           WHERE p.account = excluded.account)),
    refilled = excluded.refilled
RETURNING account, tokens";

/// Creates the row of each device if new and locks it; answers its head.
const LOCK_DEVICES: &str = "
INSERT INTO devices (account, device, head)
SELECT k.account, k.device, 0 FROM UNNEST($1::BYTEA[], $2::TEXT[]) AS k (account, device)
ON CONFLICT (account, device) DO UPDATE SET head = devices.head
RETURNING account, device, head";

const REPEATED: &str = "
SELECT e.account, e.device, e.seq, e.sealed
FROM entries e
JOIN UNNEST($1::BYTEA[], $2::TEXT[], $3::BIGINT[]) AS k (account, device, seq)
  ON e.account = k.account AND e.device = k.device AND e.seq = k.seq";

const INSERT_ENTRIES: &str = "
INSERT INTO entries (account, device, seq, sealed, sum)
SELECT * FROM UNNEST($1::BYTEA[], $2::TEXT[], $3::BIGINT[], $4::BYTEA[], $5::BYTEA[])";

const WRITE_HEADS: &str = "
UPDATE devices SET head = u.head
FROM UNNEST($1::BYTEA[], $2::TEXT[], $3::BIGINT[]) AS u (account, device, head)
WHERE devices.account = u.account AND devices.device = u.device";

const WRITE_TOKENS: &str = "
UPDATE account_rates SET tokens = u.tokens
FROM UNNEST($1::BYTEA[], $2::FLOAT8[]) AS u (account, tokens)
WHERE account_rates.account = u.account";

const NOTIFY: &str = "SELECT pg_notify($1, p) FROM UNNEST($2::TEXT[]) AS p";

/// A device's log: its account's key and its id.
type LogKey = ([u8; 16], String);

fn log_key(row: &tokio_postgres::Row) -> Option<LogKey> {
    let account: &[u8] = row.get(0);
    Some((account.try_into().ok()?, row.get::<_, String>(1)))
}

/// Stores `jobs` in one transaction on `client` (see the module's description);
/// answers each job in order once the commit has returned.
pub(super) async fn append_batch(
    client: &mut deadpool_postgres::Client,
    jobs: &[Job],
) -> Result<Vec<Done>, tokio_postgres::Error> {
    let tx = client.transaction().await?;

    // 1. The allowances, refilled by the database's clock and locked.
    let mut tokens: BTreeMap<[u8; 16], (EntryRate, f64)> = BTreeMap::new();
    for job in jobs {
        if let Some(take) = job.take {
            tokens.entry(job.account.0).or_insert((take.rate, 0.0));
        }
    }
    if !tokens.is_empty() {
        let keys: Vec<&[u8]> = tokens.keys().map(|k| &k[..]).collect();
        let bursts: Vec<f64> = tokens.values().map(|(r, _)| f64::from(r.burst)).collect();
        let rates: Vec<f64> = tokens
            .values()
            .map(|(r, _)| f64::from(r.per_second.max(1)))
            .collect();
        let refill = tx.prepare_cached(REFILL).await?;
        let rows = tx.query(&refill, &[&keys, &bursts, &rates]).await?;
        for row in rows {
            let key: &[u8] = row.get(0);
            if let Some(bucket) = <[u8; 16]>::try_from(key)
                .ok()
                .and_then(|k| tokens.get_mut(&k))
            {
                bucket.1 = row.get(1);
            }
        }
    }
    // Each job's allowance, in order; the jobs it lets through at once go ahead.
    let allowances: Vec<Option<Allowance>> = jobs
        .iter()
        .map(|job| {
            let take = job.take?;
            let (_, left) = tokens.get_mut(&job.account.0)?;
            let (answer, after) = allowance(*left, take.n, take.rate.per_second);
            *left = after;
            Some(answer)
        })
        .collect();
    let goes_ahead = |a: &Option<Allowance>| match a {
        None => true,
        Some(Allowance::After(wait)) => wait.is_zero(),
        Some(Allowance::Refused) => false,
    };

    // 2. The devices' rows, created if new and locked in one order; their heads.
    let mut heads: BTreeMap<LogKey, u64> = BTreeMap::new();
    for (job, a) in jobs.iter().zip(&allowances) {
        if let (Some(first), true) = (job.entries.first(), goes_ahead(a)) {
            heads.insert((job.account.0, first.device.as_str().to_owned()), 0);
        }
    }
    if !heads.is_empty() {
        let keys: Vec<&[u8]> = heads.keys().map(|k| &k.0[..]).collect();
        let devices: Vec<&str> = heads.keys().map(|k| k.1.as_str()).collect();
        let lock = tx.prepare_cached(LOCK_DEVICES).await?;
        let rows = tx.query(&lock, &[&keys, &devices]).await?;
        for row in rows {
            if let Some(key) = log_key(&row) {
                heads.insert(key, super::seq_of(row.get(2)));
            }
        }
    }

    // 3. What is stored at the positions the jobs repeat.
    let mut repeated: Vec<(&[u8], &str, i64)> = Vec::new();
    for (job, a) in jobs.iter().zip(&allowances) {
        if !goes_ahead(a) {
            continue;
        }
        for e in &job.entries {
            let head = heads
                .get(&(job.account.0, e.device.as_str().to_owned()))
                .copied()
                .unwrap_or(0);
            if e.seq <= head {
                repeated.push((&job.account.0[..], e.device.as_str(), e.seq as i64));
            }
        }
    }
    repeated.sort_unstable();
    repeated.dedup();
    let mut stored: HashMap<LogKey, HashMap<u64, Vec<u8>>> = HashMap::new();
    if !repeated.is_empty() {
        let query = tx.prepare_cached(REPEATED).await?;
        let keys: Vec<&[u8]> = repeated.iter().map(|r| r.0).collect();
        let devices: Vec<&str> = repeated.iter().map(|r| r.1).collect();
        let seqs: Vec<i64> = repeated.iter().map(|r| r.2).collect();
        for row in tx.query(&query, &[&keys, &devices, &seqs]).await? {
            if let Some(key) = log_key(&row) {
                stored
                    .entry(key)
                    .or_default()
                    .insert(super::seq_of(row.get(2)), row.get(3));
            }
        }
    }

    // 4. Each job on its own, in order, from where the jobs before it left its log.
    let before = heads.clone();
    let mut done = Vec::with_capacity(jobs.len());
    for (job, a) in jobs.iter().zip(allowances) {
        if !goes_ahead(&a) {
            done.push(Done {
                allowance: a,
                appended: None,
            });
            continue;
        }
        let Some(first) = job.entries.first() else {
            done.push(Done {
                allowance: a,
                appended: Some(plan_append(0, &job.entries, &HashMap::new())),
            });
            continue;
        };
        let key = (job.account.0, first.device.as_str().to_owned());
        let head = heads.get(&key).copied().unwrap_or(0);
        let known = stored.entry(key.clone()).or_default();
        let out = plan_append(head, &job.entries, known);
        // A later job of the batch repeating these compares with them.
        known.extend(out.stored.iter().map(|e| (e.seq, e.sealed.clone())));
        heads.insert(key, out.head);
        done.push(Done {
            allowance: a,
            appended: Some(out),
        });
    }

    // 5. Everything written at once, pipelined on the connection; the new rows
    // column by column.
    let mut new_keys: Vec<&[u8]> = Vec::new();
    let mut new_devices: Vec<&str> = Vec::new();
    let mut new_seqs: Vec<i64> = Vec::new();
    let mut new_sealed: Vec<&[u8]> = Vec::new();
    let mut new_sums: Vec<Vec<u8>> = Vec::new();
    for (job, d) in jobs.iter().zip(&done) {
        for e in d.appended.iter().flat_map(|a| &a.stored) {
            new_keys.push(&job.account.0[..]);
            new_devices.push(e.device.as_str());
            new_seqs.push(e.seq as i64);
            new_sealed.push(&e.sealed[..]);
            new_sums.push(sum(&e.sealed).to_vec());
        }
    }
    let grown: Vec<(&LogKey, u64)> = heads
        .iter()
        .filter(|(k, h)| before.get(*k).is_some_and(|b| *h > b))
        .map(|(k, h)| (k, *h))
        .collect();
    let insert = async {
        if new_keys.is_empty() {
            return Ok(0);
        }
        let statement = tx.prepare_cached(INSERT_ENTRIES).await?;
        let columns: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
            [&new_keys, &new_devices, &new_seqs, &new_sealed, &new_sums];
        tx.execute(&statement, &columns).await
    };
    let write_heads = async {
        if grown.is_empty() {
            return Ok(0);
        }
        let keys: Vec<&[u8]> = grown.iter().map(|(k, _)| &k.0[..]).collect();
        let devices: Vec<&str> = grown.iter().map(|(k, _)| k.1.as_str()).collect();
        let new_heads: Vec<i64> = grown.iter().map(|(_, h)| *h as i64).collect();
        let statement = tx.prepare_cached(WRITE_HEADS).await?;
        tx.execute(&statement, &[&keys, &devices, &new_heads]).await
    };
    let notify = async {
        // Delivered to the other nodes if and when this transaction commits.
        let signals: Vec<String> = grown
            .iter()
            .filter_map(|((account, device), head)| {
                let device = DeviceId::new(device).ok()?;
                Some(crate::fanout::payload(&AccountId(*account), &device, *head))
            })
            .collect();
        if signals.is_empty() {
            return Ok(0);
        }
        let statement = tx.prepare_cached(NOTIFY).await?;
        tx.execute(&statement, &[&crate::fanout::CHANNEL, &signals])
            .await
    };
    let write_tokens = async {
        if tokens.is_empty() {
            return Ok(0);
        }
        let keys: Vec<&[u8]> = tokens.keys().map(|k| &k[..]).collect();
        let left: Vec<f64> = tokens.values().map(|(_, t)| *t).collect();
        let statement = tx.prepare_cached(WRITE_TOKENS).await?;
        tx.execute(&statement, &[&keys, &left]).await
    };
    futures_util::try_join!(insert, write_heads, notify, write_tokens)?;
    tx.commit().await?;
    Ok(done)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::store::{AppendRefusal, PostgresStore, RelayStore};
    use crate::test_postgres;

    const ACCOUNT: AccountId = AccountId([7; 16]);

    fn entry(device: &str, seq: u64, byte: u8) -> SealedEntry {
        SealedEntry {
            device: DeviceId::new(device).unwrap(),
            seq,
            sealed: vec![byte; 48],
        }
    }

    fn job(account: AccountId, entries: Vec<SealedEntry>, take: Option<Take>) -> Job {
        Job {
            account,
            entries,
            take,
        }
    }

    /// One batch, one transaction, holding a gap from one device, a conflict from
    /// another, jobs over the allowance and good entries: each job is decided alone,
    /// exactly the good entries are stored and answered, and jobs of one device
    /// later in the batch continue from the earlier ones.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_stores_each_job_on_its_own() {
        let db = test_postgres::server().database().await;
        let store = PostgresStore::open(&db.config).await.unwrap();
        let other = AccountId([8; 16]);
        store
            .append(&ACCOUNT, &[entry("phone", 1, 1)])
            .await
            .unwrap();
        store
            .append(&ACCOUNT, &[entry("laptop", 1, 1)])
            .await
            .unwrap();
        let rate = EntryRate {
            per_second: 1,
            burst: 3,
        };
        let take = |n| Some(Take { rate, n });
        let jobs = [
            // A gap: what comes before it is stored, the rest refused.
            job(
                ACCOUNT,
                vec![entry("phone", 2, 2), entry("phone", 4, 4)],
                None,
            ),
            // A conflict at the laptop's first entry: nothing of it is stored.
            job(
                ACCOUNT,
                vec![entry("laptop", 1, 9), entry("laptop", 2, 2)],
                None,
            ),
            // Good entries of a new device, within the other account's allowance.
            job(
                other,
                vec![entry("tablet", 1, 1), entry("tablet", 2, 2)],
                take(2),
            ),
            // Over that allowance (1 token left): reserved, to wait for; not stored.
            job(
                other,
                vec![entry("watch", 1, 1), entry("watch", 2, 2)],
                take(2),
            ),
            // So far over it (the wait would pass the longest throttle): refused.
            job(other, vec![entry("watch", 1, 1); 10], take(10)),
            // The phone again, continuing from what the first job stored.
            job(ACCOUNT, vec![entry("phone", 3, 3)], None),
            // An identical re-push of what the same batch just stored.
            job(other, vec![entry("tablet", 2, 2)], take(1)),
        ];
        let mut client = store.pool.get().await.unwrap();
        let done = append_batch(&mut client, &jobs).await.unwrap();
        drop(client);
        // Per job: the entries stored, the head, the refusal; `None`: not appended.
        type Answer = Option<(Vec<u64>, u64, Option<AppendRefusal>)>;
        let appended: Vec<Answer> = done
            .iter()
            .map(|d| {
                d.appended
                    .as_ref()
                    .map(|a| (a.stored.iter().map(|e| e.seq).collect(), a.head, a.refused))
            })
            .collect();
        assert_eq!(
            appended,
            [
                Some((vec![2], 2, Some(AppendRefusal::Gap { seq: 4, head: 2 }))),
                Some((vec![], 1, Some(AppendRefusal::Conflict { seq: 1 }))),
                Some((vec![1, 2], 2, None)),
                None,
                None,
                Some((vec![3], 3, None)),
                // Over the allowance too (it had reserved the last token), so it
                // waits rather than going ahead.
                None,
            ]
        );
        assert!(matches!(done[3].allowance, Some(Allowance::After(w)) if !w.is_zero()));
        assert_eq!(done[4].allowance, Some(Allowance::Refused));
        assert!(matches!(done[6].allowance, Some(Allowance::After(w)) if !w.is_zero()));
        assert_eq!(done[0].allowance, None);

        // The database holds exactly what was answered stored.
        let log = |account, device: &'static str| {
            let store = store.clone();
            async move {
                store
                    .entries_after(
                        &account,
                        &DeviceId::new(device).unwrap(),
                        0,
                        100,
                        usize::MAX,
                    )
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|e| (e.seq, e.sealed[0]))
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(log(ACCOUNT, "phone").await, [(1, 1), (2, 2), (3, 3)]);
        assert_eq!(log(ACCOUNT, "laptop").await, [(1, 1)]);
        assert_eq!(log(other, "tablet").await, [(1, 1), (2, 2)]);
        assert_eq!(log(other, "watch").await, []);
        assert_eq!(
            store.heads(&other).await.unwrap(),
            [(DeviceId::new("tablet").unwrap(), 2)]
        );
    }

    /// Appends submitted together from many tasks share transactions, and every one
    /// is answered only once it is committed: right after its answer, a separate
    /// connection reads it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_append_is_answered_once_its_batch_is_committed() {
        let db = test_postgres::server().database().await;
        let store = PostgresStore::open(&db.config).await.unwrap();
        let reader = Arc::new(db.connect().await);
        let tasks: Vec<_> = (0..64)
            .map(|t| {
                let (store, reader) = (store.clone(), reader.clone());
                tokio::spawn(async move {
                    let device = format!("device-{t}");
                    for seq in 1..=5u64 {
                        let out = store
                            .append(&ACCOUNT, &[entry(&device, seq, t as u8)])
                            .await
                            .unwrap();
                        assert_eq!((out.head, out.stored.len()), (seq, 1));
                        let seen: i64 = reader
                            .query_one(
                                "SELECT count(*) FROM entries WHERE account = $1 AND device = $2",
                                &[&&ACCOUNT.0[..], &device],
                            )
                            .await
                            .unwrap()
                            .get(0);
                        assert_eq!(seen, seq as i64, "{device}");
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    }
}
