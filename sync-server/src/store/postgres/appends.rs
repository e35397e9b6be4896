//! Group commit of appends in the PostgreSQL store.
//!
//! Every append of a node, from any of its sessions, goes through a bounded queue
//! to a few writer tasks. A writer takes every job waiting (up to [`MAX_BATCH`]) and
//! stores them in one transaction, a handful of set-based statements whatever the
//! batch's size, in two round trips to the database (three when a job repeats
//! stored positions): the requests of each step go out together, pipelined on the
//! connection.
//!
//! 1. With the `BEGIN`: the allowance row of every account with a rated job is
//!    created if new and locked (`INSERT … ON CONFLICT DO UPDATE … RETURNING`), in
//!    account order, and refilled by the database's clock; and the row in `devices`
//!    of every device appending is created if new and locked (the same upsert), in
//!    (account, device) order, its head read under the lock: appends of one device
//!    on any node take turns, and the second sees what the first stored. (A device
//!    whose push the allowance then holds back may so get its row at head 0, as a
//!    device whose first push left a gap does.)
//! 2. the stored entries the jobs repeat (positions at or below the head), if any,
//!    are read in one query;
//! 3. each job is decided on its own, in order ([`allowance`], then
//!    [`plan_append`] from the head the jobs before it left): an identical
//!    re-push is accepted, a conflict or a gap refused. Refusals are decided
//!    before anything is written, so one job's refusal never touches another's;
//! 4. with the `COMMIT`: the entries of every job are inserted in one multi-row
//!    `INSERT` from `UNNEST`, the heads and the allowances written back, and one
//!    notification sent per device whose log grew. Each job's answer goes back only
//!    once the commit has returned, and only when every statement before it
//!    succeeded (after a failed one, the `COMMIT` only ends the aborted
//!    transaction).
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
    /// The account moved to a new id in a re-key: nothing was taken or stored.
    pub moved: bool,
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
    pub fn start(pool: Pool, origin: u64) -> Appender {
        let (queue, jobs) = mpsc::channel(QUEUE);
        let jobs = Arc::new(Mutex::new(jobs));
        for _ in 0..WRITERS {
            tokio::spawn(write(pool.clone(), jobs.clone(), origin));
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
async fn write(pool: Pool, jobs: Arc<Mutex<mpsc::Receiver<Queued>>>, origin: u64) {
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
        for (reply, done) in replies.into_iter().zip(store(&pool, &jobs, origin).await) {
            let _ = reply.send(done);
        }
    }
}

/// Stores `jobs` in one transaction; when the database refuses it, each job alone.
async fn store(pool: &Pool, jobs: &[Job], origin: u64) -> Vec<Result<Done, RelayError>> {
    match attempt(pool, jobs, origin).await {
        Ok(done) => done.into_iter().map(Ok).collect(),
        Err(RelayError::Postgres(e)) if jobs.len() > 1 && e.as_db_error().is_some() => {
            tracing::warn!(error = %RelayError::Postgres(e), jobs = jobs.len(), "a batch of appends was refused; storing each alone");
            let mut out = Vec::with_capacity(jobs.len());
            for job in jobs {
                out.push(
                    attempt(pool, std::slice::from_ref(job), origin)
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
async fn attempt(pool: &Pool, jobs: &[Job], origin: u64) -> Result<Vec<Done>, RelayError> {
    let mut tries = 0;
    loop {
        let mut client = pool.get().await?;
        match append_batch(&mut client, jobs, origin).await {
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

/// Locks the row of each account shared, in account order, before any other row
/// (a re-key's commit locks it for update first, so an append is either before it,
/// and deleted with the rest, or after it and refused); answers those moved.
const LOCK_ACCOUNTS: &str = "
SELECT id, moved_to IS NOT NULL FROM accounts WHERE id = ANY($1::BYTEA[]) ORDER BY id FOR SHARE";

/// Creates the allowance of each account if new (full) and locks its row; answers
/// its tokens, when they were last refilled, and the database's clock now (the
/// one clock every node shares).
const LOCK_RATES: &str = "
INSERT INTO account_rates (account, tokens, refilled)
SELECT r.account, r.burst, extract(epoch FROM clock_timestamp())::float8
FROM UNNEST($1::BYTEA[], $2::FLOAT8[]) AS r (account, burst)
WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = r.account AND a.moved_to IS NOT NULL)
ON CONFLICT (account) DO UPDATE SET tokens = account_rates.tokens
RETURNING account, tokens, refilled, extract(epoch FROM clock_timestamp())::float8";

/// Creates the row of each device if new and locks it; answers its head. (The
/// allowance and the devices' rows of an account moved by a re-key are left alone:
/// its jobs are refused.)
const LOCK_DEVICES: &str = "
INSERT INTO devices (account, device, head)
SELECT k.account, k.device, 0 FROM UNNEST($1::BYTEA[], $2::TEXT[]) AS k (account, device)
WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = k.account AND a.moved_to IS NOT NULL)
ON CONFLICT (account, device) DO UPDATE SET head = devices.head
RETURNING account, device, head";

/// Every statement below reaches its rows through their primary key, one lookup
/// per row of the batch (`LATERAL`, or `ON CONFLICT`), never by a join the planner
/// could turn into a scan of the whole table.
const REPEATED: &str = "
SELECT k.account, k.device, k.seq, e.sealed
FROM UNNEST($1::BYTEA[], $2::TEXT[], $3::BIGINT[]) AS k (account, device, seq)
CROSS JOIN LATERAL (
    SELECT sealed FROM entries
    WHERE account = k.account AND device = k.device AND seq = k.seq
) e";

const INSERT_ENTRIES: &str = "
INSERT INTO entries (account, device, seq, sealed, sum)
SELECT * FROM UNNEST($1::BYTEA[], $2::TEXT[], $3::BIGINT[], $4::BYTEA[], $5::BYTEA[])";

/// The rows exist and are locked by the batch: each is updated.
const WRITE_HEADS: &str = "
INSERT INTO devices (account, device, head)
SELECT * FROM UNNEST($1::BYTEA[], $2::TEXT[], $3::BIGINT[])
ON CONFLICT (account, device) DO UPDATE SET head = excluded.head";

/// The rows exist and are locked by the batch: each is updated.
const WRITE_TOKENS: &str = "
INSERT INTO account_rates (account, tokens, refilled)
SELECT * FROM UNNEST($1::BYTEA[], $2::FLOAT8[], $3::FLOAT8[])
ON CONFLICT (account) DO UPDATE SET tokens = excluded.tokens, refilled = excluded.refilled";

const NOTIFY: &str = "SELECT pg_notify($1, p) FROM UNNEST($2::TEXT[]) AS p";

/// An account's allowance as a batch takes from it.
struct Bucket {
    rate: EntryRate,
    /// Tokens left, after the refill and the batch's jobs so far.
    tokens: f64,
    /// When it was refilled: the database's clock as the batch locked it.
    now: f64,
}

/// A device's log: its account's key and its id.
type LogKey = ([u8; 16], String);

fn log_key(row: &tokio_postgres::Row) -> Option<LogKey> {
    let account: &[u8] = row.get(0);
    Some((account.try_into().ok()?, row.get::<_, String>(1)))
}

/// Stores `jobs` in one transaction on `client` (see the module's description),
/// signing its signals with `origin`; answers each job in order once the commit
/// has returned. On an error the transaction is rolled back.
pub(super) async fn append_batch(
    client: &mut deadpool_postgres::Client,
    jobs: &[Job],
    origin: u64,
) -> Result<Vec<Done>, tokio_postgres::Error> {
    let done = in_transaction(client, jobs, origin).await;
    if done.is_err() {
        // Ends the transaction if it is still open, so the connection goes back to
        // the pool clean; a broken connection is dropped by the pool.
        let _ = client.batch_execute("ROLLBACK").await;
    }
    done
}

/// The statements of a batch, prepared once per connection.
struct Statements {
    lock_accounts: tokio_postgres::Statement,
    lock_rates: tokio_postgres::Statement,
    lock_devices: tokio_postgres::Statement,
    repeated: tokio_postgres::Statement,
    insert: tokio_postgres::Statement,
    write_heads: tokio_postgres::Statement,
    write_tokens: tokio_postgres::Statement,
    notify: tokio_postgres::Statement,
}

async fn in_transaction(
    client: &mut deadpool_postgres::Client,
    jobs: &[Job],
    origin: u64,
) -> Result<Vec<Done>, tokio_postgres::Error> {
    // Prepared before anything is sent, so the requests below go out in order
    // without waiting for each other's answers (pipelined on the connection).
    let st = Statements {
        lock_accounts: client.prepare_cached(LOCK_ACCOUNTS).await?,
        lock_rates: client.prepare_cached(LOCK_RATES).await?,
        lock_devices: client.prepare_cached(LOCK_DEVICES).await?,
        repeated: client.prepare_cached(REPEATED).await?,
        insert: client.prepare_cached(INSERT_ENTRIES).await?,
        write_heads: client.prepare_cached(WRITE_HEADS).await?,
        write_tokens: client.prepare_cached(WRITE_TOKENS).await?,
        notify: client.prepare_cached(NOTIFY).await?,
    };
    let client: &tokio_postgres::Client = client;

    // 1. The allowances and the devices' rows, created if new and locked, in
    // one order; one round trip with the BEGIN.
    let mut tokens: BTreeMap<[u8; 16], Bucket> = BTreeMap::new();
    let mut heads: BTreeMap<LogKey, u64> = BTreeMap::new();
    for job in jobs {
        if let Some(take) = job.take {
            tokens.entry(job.account.0).or_insert(Bucket {
                rate: take.rate,
                tokens: 0.0,
                now: 0.0,
            });
        }
        if let Some(first) = job.entries.first() {
            heads.insert((job.account.0, first.device.as_str().to_owned()), 0);
        }
    }
    let rate_ids: Vec<[u8; 16]> = tokens.keys().copied().collect();
    let rate_keys: Vec<&[u8]> = rate_ids.iter().map(|k| &k[..]).collect();
    let bursts: Vec<f64> = tokens.values().map(|b| f64::from(b.rate.burst)).collect();
    let locked: Vec<LogKey> = heads.keys().cloned().collect();
    let device_keys: Vec<&[u8]> = locked.iter().map(|k| &k.0[..]).collect();
    let devices: Vec<&str> = locked.iter().map(|k| k.1.as_str()).collect();
    let mut account_ids: Vec<[u8; 16]> = jobs.iter().map(|j| j.account.0).collect();
    account_ids.sort_unstable();
    account_ids.dedup();
    let account_keys: Vec<&[u8]> = account_ids.iter().map(|k| &k[..]).collect();
    let (begun, account_rows, rate_rows, device_rows) = futures_util::join!(
        client.batch_execute("BEGIN"),
        async { client.query(&st.lock_accounts, &[&account_keys]).await },
        async {
            if rate_keys.is_empty() {
                return Ok(Vec::new());
            }
            client.query(&st.lock_rates, &[&rate_keys, &bursts]).await
        },
        async {
            if device_keys.is_empty() {
                return Ok(Vec::new());
            }
            client
                .query(&st.lock_devices, &[&device_keys, &devices])
                .await
        },
    );
    begun?;
    let moved: std::collections::HashSet<[u8; 16]> = account_rows?
        .iter()
        .filter(|row| row.get::<_, bool>(1))
        .filter_map(|row| <[u8; 16]>::try_from(row.get::<_, &[u8]>(0)).ok())
        .collect();
    for row in rate_rows? {
        let key: &[u8] = row.get(0);
        if let Some(bucket) = <[u8; 16]>::try_from(key)
            .ok()
            .and_then(|k| tokens.get_mut(&k))
        {
            let (held, refilled, now): (f64, f64, f64) = (row.get(1), row.get(2), row.get(3));
            let rate = f64::from(bucket.rate.per_second.max(1));
            bucket.tokens =
                f64::from(bucket.rate.burst).min(held + (now - refilled).max(0.0) * rate);
            bucket.now = now;
        }
    }
    for row in device_rows? {
        if let Some(key) = log_key(&row) {
            heads.insert(key, super::seq_of(row.get(2)));
        }
    }

    // Each job's allowance, in order; the jobs it lets through at once go ahead.
    let allowances: Vec<Option<Allowance>> = jobs
        .iter()
        .map(|job| {
            if moved.contains(&job.account.0) {
                return None;
            }
            let take = job.take?;
            let bucket = tokens.get_mut(&job.account.0)?;
            let (answer, after) = allowance(bucket.tokens, take.n, take.rate.per_second);
            bucket.tokens = after;
            Some(answer)
        })
        .collect();
    let goes_ahead = |a: &Option<Allowance>| match a {
        None => true,
        Some(Allowance::After(wait)) => wait.is_zero(),
        Some(Allowance::Refused) => false,
    };

    // 2. What is stored at the positions the jobs going ahead repeat.
    let mut repeated: Vec<(&[u8], &str, i64)> = Vec::new();
    for (job, a) in jobs.iter().zip(&allowances) {
        if !goes_ahead(a) || moved.contains(&job.account.0) {
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
        let keys: Vec<&[u8]> = repeated.iter().map(|r| r.0).collect();
        let devices: Vec<&str> = repeated.iter().map(|r| r.1).collect();
        let seqs: Vec<i64> = repeated.iter().map(|r| r.2).collect();
        for row in client
            .query(&st.repeated, &[&keys, &devices, &seqs])
            .await?
        {
            if let Some(key) = log_key(&row) {
                stored
                    .entry(key)
                    .or_default()
                    .insert(super::seq_of(row.get(2)), row.get(3));
            }
        }
    }

    // 3. Each job on its own, in order, from where the jobs before it left its log.
    let before = heads.clone();
    let mut done = Vec::with_capacity(jobs.len());
    for (job, a) in jobs.iter().zip(allowances) {
        if moved.contains(&job.account.0) {
            done.push(Done {
                allowance: None,
                appended: None,
                moved: true,
            });
            continue;
        }
        let first = match job.entries.first() {
            Some(first) if goes_ahead(&a) => first,
            _ => {
                done.push(Done {
                    appended: goes_ahead(&a).then(|| plan_append(0, &[], &HashMap::new())),
                    allowance: a,
                    moved: false,
                });
                continue;
            }
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
            moved: false,
        });
    }

    // 4. Everything written and the commit, pipelined in one round trip; the new
    // rows column by column.
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
    let grown_keys: Vec<&[u8]> = grown.iter().map(|(k, _)| &k.0[..]).collect();
    let grown_devices: Vec<&str> = grown.iter().map(|(k, _)| k.1.as_str()).collect();
    let grown_heads: Vec<i64> = grown.iter().map(|(_, h)| *h as i64).collect();
    // Delivered to the other nodes if and when this transaction commits.
    let signals: Vec<String> = grown
        .iter()
        .filter_map(|((account, device), head)| {
            let device = DeviceId::new(device).ok()?;
            Some(crate::fanout::payload(
                &AccountId(*account),
                &device,
                *head,
                origin,
            ))
        })
        .collect();
    let left: Vec<f64> = tokens.values().map(|b| b.tokens).collect();
    let refilled: Vec<f64> = tokens.values().map(|b| b.now).collect();
    let columns: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
        [&new_keys, &new_devices, &new_seqs, &new_sealed, &new_sums];
    let skip = || async { Ok(0) };
    let (inserted, wrote_heads, notified, wrote_tokens, committed) = futures_util::join!(
        async {
            if new_keys.is_empty() {
                return skip().await;
            }
            client.execute(&st.insert, &columns).await
        },
        async {
            if grown_keys.is_empty() {
                return skip().await;
            }
            client
                .execute(
                    &st.write_heads,
                    &[&grown_keys, &grown_devices, &grown_heads],
                )
                .await
        },
        async {
            if signals.is_empty() {
                return skip().await;
            }
            client
                .execute(&st.notify, &[&crate::fanout::CHANNEL, &signals])
                .await
        },
        async {
            if rate_keys.is_empty() {
                return skip().await;
            }
            client
                .execute(&st.write_tokens, &[&rate_keys, &left, &refilled])
                .await
        },
        // Sent last: after a failed statement above the transaction is aborted and
        // this COMMIT only ends it, so it counts only when every statement succeeded.
        client.batch_execute("COMMIT"),
    );
    inserted?;
    wrote_heads?;
    notified?;
    wrote_tokens?;
    committed?;
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
        let done = append_batch(&mut client, &jobs, 1).await.unwrap();
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
        // The watch's row was locked with the batch before its allowance was
        // decided: it exists, at head 0, as after a refused gap.
        assert_eq!(
            store.heads(&other).await.unwrap(),
            [
                (DeviceId::new("tablet").unwrap(), 2),
                (DeviceId::new("watch").unwrap(), 0)
            ]
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
