//! The PostgreSQL relay store: several relay nodes share one database.
//!
//! Every node may take any device's pushes, so an append locks its device's row in
//! `devices` (`SELECT … FOR UPDATE`) and reads the head under that lock: two nodes
//! appending for one device take turns, and the second sees what the first stored
//! (an identical re-push is accepted, a different entry refused as a conflict, a
//! gap refused). The primary key on `(account, device, seq)` keeps a fork out even
//! if that ever failed. The SQL stays within what Postgres-compatible distributed
//! engines also run: plain tables, `INSERT … ON CONFLICT`, row locks; no triggers,
//! no stored procedures.

mod appends;
mod blobs;

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aftercall_shared::protocol::{
    AccountId, BlobChunk, BlobId, BlobState, CheckpointId, ChunkIndex, Cursor, DeviceId,
    SealedEntry,
};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use super::{
    chunk_target, cut_page, plan_append, prune_floors, sum, Acknowledged, Appended, BlobLimits,
    BlobPut, ChunkStored, RegisteredDevice, Registration, RelayStore, StoredCheckpoint, Usage,
};
use crate::RelayError;

/// The schema, one migration per step, appended only. `schema_migrations` holds a
/// row for each one applied.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE accounts (
    id BYTEA PRIMARY KEY,
    verifier BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE invites (
    code TEXT PRIMARY KEY,
    used_by BYTEA
);
CREATE TABLE devices (
    account BYTEA NOT NULL,
    device TEXT NOT NULL,
    head BIGINT NOT NULL,
    PRIMARY KEY (account, device)
);
CREATE TABLE entries (
    account BYTEA NOT NULL,
    device TEXT NOT NULL,
    seq BIGINT NOT NULL,
    sealed BYTEA NOT NULL,
    sum BYTEA NOT NULL,
    PRIMARY KEY (account, device, seq)
);
CREATE TABLE damaged (
    account BYTEA NOT NULL,
    device TEXT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (account, device, seq)
);
"#,
    // 2: checkpoints (opaque chunks, the cursors they cover, complete once every
    // chunk is in), what each device last said it had applied, and how far each
    // log was pruned.
    r#"
CREATE TABLE checkpoints (
    account BYTEA NOT NULL,
    id BYTEA NOT NULL,
    chunks BIGINT NOT NULL,
    covers BYTEA NOT NULL,
    complete BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (account, id)
);
CREATE TABLE checkpoint_chunks (
    account BYTEA NOT NULL,
    id BYTEA NOT NULL,
    idx BIGINT NOT NULL,
    sealed BYTEA NOT NULL,
    PRIMARY KEY (account, id, idx)
);
CREATE TABLE acks (
    account BYTEA NOT NULL,
    device TEXT NOT NULL,
    cursors BYTEA NOT NULL,
    seen_at BIGINT NOT NULL,
    PRIMARY KEY (account, device)
);
ALTER TABLE devices ADD COLUMN pruned BIGINT NOT NULL DEFAULT 0;
"#,
    // 3: the account's device registry: each device's own credential hash, its
    // name sealed under the account key, and whether it was removed.
    r#"
CREATE TABLE device_keys (
    account BYTEA NOT NULL,
    device TEXT NOT NULL,
    verifier BYTEA,
    name BYTEA NOT NULL,
    removed BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (account, device)
);
"#,
    // 4: blobs (attachments' content as opaque sealed chunks): each blob's chunk
    // count, its sealed size as announced, what is stored of it, complete once
    // every chunk is in; and the chunks.
    r#"
CREATE TABLE blobs (
    account BYTEA NOT NULL,
    id BYTEA NOT NULL,
    chunks BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    stored_chunks BIGINT NOT NULL DEFAULT 0,
    stored_bytes BIGINT NOT NULL DEFAULT 0,
    complete BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (account, id)
);
CREATE TABLE blob_chunks (
    account BYTEA NOT NULL,
    id BYTEA NOT NULL,
    idx BIGINT NOT NULL,
    sealed BYTEA NOT NULL,
    PRIMARY KEY (account, id, idx)
);
"#,
    // 5: limits every node shares: each account's entry allowance, and the device
    // sessions open on every node (a node marks its own alive; a silent node's
    // stop counting).
    r#"
CREATE TABLE account_rates (
    account BYTEA PRIMARY KEY,
    tokens DOUBLE PRECISION NOT NULL,
    refilled DOUBLE PRECISION NOT NULL
);
CREATE TABLE account_sessions (
    node BIGINT NOT NULL,
    session BIGINT NOT NULL,
    account BYTEA NOT NULL,
    seen DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (node, session)
);
CREATE INDEX account_sessions_account ON account_sessions (account);
"#,
];

/// The advisory lock nodes take in turn to migrate the schema (any fixed number).
const MIGRATION_LOCK: i64 = 0x6166_7465_7263_616c;

/// How long a request waits for a connection, or for a new one to open.
const POOL_WAIT: Duration = Duration::from_secs(5);

/// The relay's data in a PostgreSQL database, through a pool of connections.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    /// Appends, to the node's writer tasks (group commit).
    appender: appends::Appender,
    /// A random id the signals of this store's appends carry.
    origin: u64,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("pool", &self.pool.status())
            .finish()
    }
}

impl PostgresStore {
    /// Connects to the database at `config`, refuses one that would not keep an
    /// acknowledged entry through a crash, and brings its schema up to date.
    pub async fn open(config: &tokio_postgres::Config) -> Result<PostgresStore, RelayError> {
        PostgresStore::open_with_pool(config, crate::DEFAULT_PG_POOL_SIZE).await
    }

    /// As [`PostgresStore::open`], keeping at most `pool_size` connections; warns
    /// when the pool and the listener alone would take more connections than the
    /// server allows.
    pub async fn open_with_pool(
        config: &tokio_postgres::Config,
        pool_size: usize,
    ) -> Result<PostgresStore, RelayError> {
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(POOL_WAIT))
            .build()
            .map_err(|e| RelayError::Task(format!("cannot build the connection pool: {e}")))?;
        let mut origin = [0u8; 8];
        // Without randomness, the time of day still tells nodes apart.
        if getrandom::fill(&mut origin).is_err() {
            origin = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
                .to_le_bytes();
        }
        let origin = u64::from_le_bytes(origin);
        let appender = appends::Appender::start(pool.clone(), origin);
        let store = PostgresStore {
            pool,
            appender,
            origin,
        };
        store.check_durability().await?;
        store.check_connections(pool_size).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Warns when this node's pool and its listener could take every connection
    /// the server allows other than its reserved ones: a second node would then be
    /// refused connections under load.
    async fn check_connections(&self, pool_size: usize) -> Result<(), RelayError> {
        let client = self.pool.get().await?;
        let row = client
            .query_one(
                "SELECT current_setting('max_connections')::int,
                        current_setting('superuser_reserved_connections')::int",
                &[],
            )
            .await?;
        let (max, reserved): (i32, i32) = (row.get(0), row.get(1));
        let usable = (max - reserved).max(0) as usize;
        if pool_size + 1 > usable {
            tracing::warn!(
                pool_size,
                max_connections = max,
                reserved,
                "the pool and the listener of this one node may need more connections than the database allows; lower --pg-pool-size or raise max_connections"
            );
        } else {
            tracing::info!(
                pool_size,
                max_connections = max,
                nodes_that_fit = usable / (pool_size + 1),
                "connection pool"
            );
        }
        Ok(())
    }

    /// `synchronous_commit = off` acknowledges a commit before it is on disk: a
    /// crash would lose entries the relay already acknowledged.
    async fn check_durability(&self) -> Result<(), RelayError> {
        let client = self.pool.get().await?;
        let setting: String = client
            .query_one("SELECT current_setting('synchronous_commit')", &[])
            .await?
            .get(0);
        if setting == "off" {
            return Err(RelayError::NotDurable);
        }
        let fsync: String = client
            .query_one("SELECT current_setting('fsync')", &[])
            .await?
            .get(0);
        if fsync == "off" {
            tracing::warn!(
                "PostgreSQL runs with fsync = off: a crash of its machine can lose acknowledged entries; turn it on for anything but tests"
            );
        }
        Ok(())
    }

    /// Applies the migrations this database lacks. Each is one transaction that
    /// takes the migration lock and claims its number in `schema_migrations`, so
    /// nodes starting together apply it once, one after another: the others skip it.
    async fn migrate(&self) -> Result<(), RelayError> {
        let mut client = self.pool.get().await?;
        {
            // Nodes starting together take turns: a transaction-scoped lock, so a
            // node that dies mid-way holds nothing afterwards.
            let tx = client.transaction().await?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
                .await?;
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                    version BIGINT PRIMARY KEY,
                    applied_at BIGINT NOT NULL
                )",
            )
            .await?;
            tx.commit().await?;
        }
        let newest: Option<i64> = client
            .query_one("SELECT max(version) FROM schema_migrations", &[])
            .await?
            .get(0);
        if let Some(found) = newest.filter(|v| *v > MIGRATIONS.len() as i64) {
            return Err(RelayError::NewerSchema {
                found,
                known: MIGRATIONS.len(),
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate() {
            let version = i as i64 + 1;
            let tx = client.transaction().await?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
                .await?;
            let claimed = tx
                .execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)
                     ON CONFLICT (version) DO NOTHING",
                    &[&version, &now()],
                )
                .await?;
            if claimed == 1 {
                tx.batch_execute(sql).await?;
                tx.commit().await?;
                tracing::info!(version, "relay database migrated");
            } else {
                tx.rollback().await?;
            }
        }
        Ok(())
    }
}

/// Seconds since 1970, for `created_at` columns.
fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn seq_of(seq: i64) -> u64 {
    u64::try_from(seq).unwrap_or(0)
}

/// A number per device of `account` from the `devices` table (`head`, `pruned`).
async fn per_device(
    client: &impl deadpool_postgres::GenericClient,
    column: &str,
    account: &AccountId,
) -> Result<Vec<(DeviceId, u64)>, RelayError> {
    let rows = client
        .query(
            &format!("SELECT device, {column} FROM devices WHERE account = $1 ORDER BY device"),
            &[&&account.0[..]],
        )
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            // Only well-formed ids are ever stored; skip anything else rather than fail.
            let device = DeviceId::new(r.get::<_, &str>(0)).ok()?;
            Some((device, seq_of(r.get(1))))
        })
        .collect())
}

/// What every device of `account` last said it had applied.
async fn acks_of(
    client: &impl deadpool_postgres::GenericClient,
    account: &AccountId,
) -> Result<Vec<Acknowledged>, RelayError> {
    Ok(client
        .query(
            "SELECT device, cursors, seen_at FROM acks WHERE account = $1",
            &[&&account.0[..]],
        )
        .await?
        .iter()
        .filter_map(|r| {
            Some(Acknowledged {
                device: DeviceId::new(r.get::<_, &str>(0)).ok()?,
                cursors: Cursor::decode_vector(r.get(1)).unwrap_or_default(),
                seen_at: r.get(2),
            })
        })
        .collect())
}

/// The registry rows of `account` (of one device, with `device`).
async fn registry(
    client: &impl deadpool_postgres::GenericClient,
    account: &AccountId,
    device: Option<&DeviceId>,
) -> Result<Vec<RegisteredDevice>, RelayError> {
    let rows = client
        .query(
            "SELECT device, verifier, name, removed FROM device_keys
             WHERE account = $1 AND ($2::TEXT IS NULL OR device = $2) ORDER BY device",
            &[&&account.0[..], &device.map(DeviceId::as_str)],
        )
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            Some(RegisteredDevice {
                device: DeviceId::new(r.get::<_, &str>(0)).ok()?,
                verifier: r
                    .get::<_, Option<Vec<u8>>>(1)
                    .and_then(|v| v.try_into().ok()),
                sealed_name: r.get(2),
                removed: r.get(3),
            })
        })
        .collect())
}

/// Whether `account` knows `device`: registered, or with a log or an
/// acknowledgement on the relay.
async fn knows_device(
    client: &impl deadpool_postgres::GenericClient,
    account: &AccountId,
    device: &DeviceId,
) -> Result<bool, RelayError> {
    Ok(client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM device_keys WHERE account = $1 AND device = $2)
                 OR EXISTS (SELECT 1 FROM devices WHERE account = $1 AND device = $2)
                 OR EXISTS (SELECT 1 FROM acks WHERE account = $1 AND device = $2)",
            &[&&account.0[..], &device.as_str()],
        )
        .await?
        .get(0))
}

async fn newest_checkpoint(
    client: &impl deadpool_postgres::GenericClient,
    account: &AccountId,
) -> Result<Option<StoredCheckpoint>, RelayError> {
    let row = client
        .query_opt(
            "SELECT id, chunks, covers FROM checkpoints WHERE account = $1 AND complete",
            &[&&account.0[..]],
        )
        .await?;
    Ok(row.and_then(|r| {
        Some(StoredCheckpoint {
            id: CheckpointId(r.get::<_, Vec<u8>>(0).try_into().ok()?),
            chunks: u32::try_from(r.get::<_, i64>(1)).ok()?,
            covers: Cursor::decode_vector(r.get(2)).unwrap_or_default(),
        })
    }))
}

#[async_trait::async_trait]
impl RelayStore for PostgresStore {
    async fn take_entries(
        &self,
        account: &AccountId,
        n: u32,
        rate: u32,
        burst: u32,
    ) -> Result<Option<super::Allowance>, RelayError> {
        let done = self
            .appender
            .submit(appends::Job {
                account: *account,
                entries: Vec::new(),
                take: Some(appends::Take {
                    rate: super::EntryRate {
                        per_second: rate,
                        burst,
                    },
                    n,
                }),
            })
            .await?;
        Ok(done.allowance)
    }

    async fn append_within(
        &self,
        account: &AccountId,
        entries: &[SealedEntry],
        rate: super::EntryRate,
    ) -> Result<Option<super::RatedAppend>, RelayError> {
        let done = self
            .appender
            .submit(appends::Job {
                account: *account,
                entries: entries.to_vec(),
                take: Some(appends::Take {
                    rate,
                    n: u32::try_from(entries.len()).unwrap_or(u32::MAX),
                }),
            })
            .await?;
        Ok(Some(match (done.allowance, done.appended) {
            (_, Some(appended)) => super::RatedAppend::Appended(appended),
            (Some(super::Allowance::After(wait)), None) => super::RatedAppend::Wait(wait),
            (_, None) => super::RatedAppend::Refused,
        }))
    }

    async fn open_session(
        &self,
        account: &AccountId,
        session: super::SessionKey,
        limit: usize,
    ) -> Result<Option<bool>, RelayError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        // One node at a time counts an account's sessions.
        tx.execute(
            "SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE",
            &[&&account.0[..]],
        )
        .await?;
        tx.execute(
            "DELETE FROM account_sessions WHERE account = $1
             AND seen < extract(epoch FROM clock_timestamp())::float8 - $2",
            &[&&account.0[..], &super::SESSION_EXPIRY.as_secs_f64()],
        )
        .await?;
        let open: i64 = tx
            .query_one(
                "SELECT count(*) FROM account_sessions WHERE account = $1",
                &[&&account.0[..]],
            )
            .await?
            .get(0);
        let admitted = usize::try_from(open).unwrap_or(usize::MAX) < limit;
        if admitted {
            tx.execute(
                "INSERT INTO account_sessions (node, session, account, seen)
                 VALUES ($1, $2, $3, extract(epoch FROM clock_timestamp())::float8)",
                &[
                    &(session.node as i64),
                    &(session.session as i64),
                    &&account.0[..],
                ],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(Some(admitted))
    }

    async fn close_session(&self, session: super::SessionKey) -> Result<(), RelayError> {
        let client = self.pool.get().await?;
        client
            .execute(
                "DELETE FROM account_sessions WHERE node = $1 AND session = $2",
                &[&(session.node as i64), &(session.session as i64)],
            )
            .await?;
        Ok(())
    }

    async fn touch_sessions(&self, node: u64) -> Result<(), RelayError> {
        let client = self.pool.get().await?;
        client
            .execute(
                "UPDATE account_sessions SET seen = extract(epoch FROM clock_timestamp())::float8
                 WHERE node = $1",
                &[&(node as i64)],
            )
            .await?;
        Ok(())
    }

    fn signal_origin(&self) -> Option<u64> {
        Some(self.origin)
    }

    fn pool(&self) -> Option<super::PoolStatus> {
        let status = self.pool.status();
        Some(super::PoolStatus {
            max_size: status.max_size,
            size: status.size,
            available: status.available,
            waiting: status.waiting,
        })
    }

    async fn ready(&self) -> Result<(), RelayError> {
        let client = self.pool.get().await?;
        client.query_one("SELECT 1", &[]).await?;
        Ok(())
    }

    async fn verifier(&self, account: &AccountId) -> Result<Option<[u8; 32]>, RelayError> {
        let client = self.pool.get().await?;
        let stmt = client
            .prepare_cached("SELECT verifier FROM accounts WHERE id = $1")
            .await?;
        let row = client.query_opt(&stmt, &[&&account.0[..]]).await?;
        Ok(row.and_then(|r| r.get::<_, Vec<u8>>(0).try_into().ok()))
    }

    async fn create_account(
        &self,
        account: &AccountId,
        verifier: [u8; 32],
        invite_required: bool,
        invite: Option<&str>,
    ) -> Result<Registration, RelayError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        if invite_required {
            // A second node using the same code waits on its row, then finds it used.
            let used = match invite {
                Some(code) => {
                    tx.execute(
                        "UPDATE invites SET used_by = $1 WHERE code = $2 AND used_by IS NULL",
                        &[&&account.0[..], &code],
                    )
                    .await?
                }
                None => 0,
            };
            if used == 0 {
                return Ok(Registration::InviteRequired);
            }
        }
        tx.execute(
            "INSERT INTO accounts (id, verifier, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO NOTHING",
            &[&&account.0[..], &&verifier[..], &now()],
        )
        .await?;
        tx.commit().await?;
        Ok(Registration::Created)
    }

    async fn add_invite(&self, code: &str) -> Result<(), RelayError> {
        let client = self.pool.get().await?;
        client
            .execute("INSERT INTO invites (code) VALUES ($1)", &[&code])
            .await?;
        Ok(())
    }

    async fn heads(&self, account: &AccountId) -> Result<Vec<(DeviceId, u64)>, RelayError> {
        let client = self.pool.get().await?;
        per_device(&client, "head", account).await
    }

    async fn entries_after(
        &self,
        account: &AccountId,
        device: &DeviceId,
        after: u64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<SealedEntry>, RelayError> {
        let client = self.pool.get().await?;
        // Cut by bytes in the query: only the rows that fit `max_bytes` (and always
        // the first) leave the database. `octet_length` reads a stored value's size
        // without decompressing it.
        let stmt = client
            .prepare_cached(
                "SELECT seq, sealed, sum FROM (
                     SELECT seq, sealed, sum,
                            row_number() OVER w AS n,
                            sum(octet_length(sealed)) OVER w AS upto
                     FROM entries
                     WHERE account = $1 AND device = $2 AND seq > $3
                     WINDOW w AS (ORDER BY seq ROWS UNBOUNDED PRECEDING)
                     ORDER BY seq LIMIT $4
                 ) page
                 WHERE n = 1 OR upto <= $5
                 ORDER BY seq",
            )
            .await?;
        let rows = client
            .query(
                &stmt,
                &[
                    &&account.0[..],
                    &device.as_str(),
                    &(after as i64),
                    &i64::try_from(limit).unwrap_or(i64::MAX),
                    &i64::try_from(max_bytes).unwrap_or(i64::MAX),
                ],
            )
            .await?;
        let stored = rows
            .iter()
            .map(|r| Ok::<_, RelayError>((seq_of(r.get(0)), r.get(1), Some(r.get(2)))));
        let (page, damaged) = cut_page(account, device, stored, max_bytes)?;
        if let Some(seq) = damaged {
            client
                .execute(
                    "INSERT INTO damaged (account, device, seq) VALUES ($1, $2, $3)
                     ON CONFLICT DO NOTHING",
                    &[&&account.0[..], &device.as_str(), &(seq as i64)],
                )
                .await?;
        }
        Ok(page)
    }

    async fn entries_in(
        &self,
        ranges: &[super::LogRange],
        max_bytes: usize,
    ) -> Result<Option<Vec<Vec<SealedEntry>>>, RelayError> {
        if ranges.is_empty() {
            return Ok(Some(Vec::new()));
        }
        let client = self.pool.get().await?;
        // Every range in one query, cut by bytes in the query as a catch-up page is.
        let stmt = client
            .prepare_cached(
                "SELECT account, device, seq, sealed, sum FROM (
                     SELECT k.account, k.device, e.seq, e.sealed, e.sum,
                            sum(octet_length(e.sealed)) OVER (
                                ORDER BY k.account, k.device, e.seq ROWS UNBOUNDED PRECEDING
                            ) AS upto
                     FROM UNNEST($1::BYTEA[], $2::TEXT[], $3::BIGINT[], $4::BIGINT[])
                         AS k (account, device, after, head)
                     -- Each run through the primary key, never a scan of the table.
                     CROSS JOIN LATERAL (
                         SELECT seq, sealed, sum FROM entries
                         WHERE account = k.account AND device = k.device
                           AND seq > k.after AND seq <= k.head
                     ) e
                 ) run
                 WHERE upto <= $5
                 ORDER BY account, device, seq",
            )
            .await?;
        let keys: Vec<&[u8]> = ranges.iter().map(|r| &r.account.0[..]).collect();
        let devices: Vec<&str> = ranges.iter().map(|r| r.device.as_str()).collect();
        let after: Vec<i64> = ranges.iter().map(|r| r.after as i64).collect();
        let heads: Vec<i64> = ranges.iter().map(|r| r.head as i64).collect();
        let budget = i64::try_from(max_bytes).unwrap_or(i64::MAX);
        let rows = client
            .query(&stmt, &[&keys, &devices, &after, &heads, &budget])
            .await?;
        let mut read: HashMap<(&[u8], &str), Vec<SealedEntry>> = HashMap::new();
        let mut damaged: std::collections::HashSet<(&[u8], &str)> = Default::default();
        for row in &rows {
            let key: (&[u8], &str) = (row.get(0), row.get(1));
            let sealed: Vec<u8> = row.get(3);
            let stored_sum: &[u8] = row.get(4);
            if damaged.contains(&key) || stored_sum != sum(&sealed) {
                // Nothing of this log past a damaged entry.
                damaged.insert(key);
                continue;
            }
            let Ok(device) = DeviceId::new(key.1) else {
                continue;
            };
            read.entry(key).or_default().push(SealedEntry {
                device,
                seq: seq_of(row.get(2)),
                sealed,
            });
        }
        Ok(Some(
            ranges
                .iter()
                .map(|r| {
                    read.remove(&(&r.account.0[..], r.device.as_str()))
                        .unwrap_or_default()
                })
                .collect(),
        ))
    }

    async fn entry_hash(
        &self,
        account: &AccountId,
        device: &DeviceId,
        seq: u64,
    ) -> Result<Option<[u8; 32]>, RelayError> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                "SELECT sum FROM entries WHERE account = $1 AND device = $2 AND seq = $3",
                &[&&account.0[..], &device.as_str(), &(seq as i64)],
            )
            .await?;
        Ok(row.and_then(|r| r.get::<_, Vec<u8>>(0).try_into().ok()))
    }

    async fn damaged(
        &self,
        account: &AccountId,
        device: &DeviceId,
    ) -> Result<Vec<u64>, RelayError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT seq FROM damaged WHERE account = $1 AND device = $2 ORDER BY seq LIMIT 1024",
                &[&&account.0[..], &device.as_str()],
            )
            .await?;
        Ok(rows.iter().map(|r| seq_of(r.get(0))).collect())
    }

    async fn repair(
        &self,
        account: &AccountId,
        entries: &[SealedEntry],
    ) -> Result<Vec<SealedEntry>, RelayError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let mut repaired = Vec::new();
        for entry in entries {
            let (device, seq) = (entry.device.as_str(), entry.seq as i64);
            let was_damaged = tx
                .execute(
                    "DELETE FROM damaged WHERE account = $1 AND device = $2 AND seq = $3",
                    &[&&account.0[..], &device, &seq],
                )
                .await?;
            if was_damaged == 0 {
                continue; // Not damaged: stored entries are never replaced.
            }
            tx.execute(
                "UPDATE entries SET sealed = $4, sum = $5
                 WHERE account = $1 AND device = $2 AND seq = $3",
                &[
                    &&account.0[..],
                    &device,
                    &seq,
                    &entry.sealed,
                    &&sum(&entry.sealed)[..],
                ],
            )
            .await?;
            repaired.push(entry.clone());
        }
        tx.commit().await?;
        Ok(repaired)
    }

    async fn append(
        &self,
        account: &AccountId,
        entries: &[SealedEntry],
    ) -> Result<Appended, RelayError> {
        if entries.is_empty() {
            return Ok(plan_append(0, entries, &HashMap::new()));
        }
        let done = self
            .appender
            .submit(appends::Job {
                account: *account,
                entries: entries.to_vec(),
                take: None,
            })
            .await?;
        done.appended
            .ok_or_else(|| RelayError::Task("an append was not stored".into()))
    }

    async fn begin_checkpoint(
        &self,
        account: &AccountId,
        checkpoint: &StoredCheckpoint,
    ) -> Result<(), RelayError> {
        let (key, id) = (&account.0[..], &checkpoint.id.0[..]);
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        // An upload never finished is dropped; the newest complete one stays.
        tx.execute(
            "DELETE FROM checkpoint_chunks WHERE account = $1 AND id != $2 AND id IN
             (SELECT id FROM checkpoints WHERE account = $1 AND NOT complete)",
            &[&key, &id],
        )
        .await?;
        tx.execute(
            "DELETE FROM checkpoints WHERE account = $1 AND id != $2 AND NOT complete",
            &[&key, &id],
        )
        .await?;
        tx.execute(
            "INSERT INTO checkpoints (account, id, chunks, covers) VALUES ($1, $2, $3, $4)
             ON CONFLICT (account, id) DO NOTHING",
            &[
                &key,
                &id,
                &i64::from(checkpoint.chunks),
                &Cursor::encode_vector(&checkpoint.covers),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn put_checkpoint_chunk(
        &self,
        account: &AccountId,
        id: CheckpointId,
        index: ChunkIndex,
        sealed: &[u8],
    ) -> Result<ChunkStored, RelayError> {
        let (key, id) = (&account.0[..], &id.0[..]);
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        // The checkpoint's row lock: chunks of one upload, on any node, take turns.
        let row = tx
            .query_opt(
                "SELECT chunks, complete FROM checkpoints WHERE account = $1 AND id = $2 FOR UPDATE",
                &[&key, &id],
            )
            .await?;
        let chunks = match chunk_target(
            row.map(|r| (r.get::<_, i64>(0), r.get::<_, bool>(1))),
            index,
        ) {
            Ok(chunks) => chunks,
            Err(answer) => return Ok(answer),
        };
        tx.execute(
            "INSERT INTO checkpoint_chunks (account, id, idx, sealed) VALUES ($1, $2, $3, $4)
             ON CONFLICT (account, id, idx) DO UPDATE SET sealed = excluded.sealed",
            &[&key, &id, &i64::from(index.0), &sealed],
        )
        .await?;
        let have: i64 = tx
            .query_one(
                "SELECT COUNT(*) FROM checkpoint_chunks WHERE account = $1 AND id = $2",
                &[&key, &id],
            )
            .await?
            .get(0);
        let outcome = if have == chunks {
            tx.execute(
                "UPDATE checkpoints SET complete = TRUE WHERE account = $1 AND id = $2",
                &[&key, &id],
            )
            .await?;
            tx.execute(
                "DELETE FROM checkpoint_chunks WHERE account = $1 AND id != $2",
                &[&key, &id],
            )
            .await?;
            tx.execute(
                "DELETE FROM checkpoints WHERE account = $1 AND id != $2",
                &[&key, &id],
            )
            .await?;
            ChunkStored::Complete
        } else {
            ChunkStored::Waiting
        };
        tx.commit().await?;
        Ok(outcome)
    }

    async fn newest_checkpoint(
        &self,
        account: &AccountId,
    ) -> Result<Option<StoredCheckpoint>, RelayError> {
        let client = self.pool.get().await?;
        newest_checkpoint(&client, account).await
    }

    async fn checkpoint_chunk(
        &self,
        account: &AccountId,
        id: CheckpointId,
        index: ChunkIndex,
    ) -> Result<Option<Vec<u8>>, RelayError> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                "SELECT sealed FROM checkpoint_chunks WHERE account = $1 AND id = $2 AND idx = $3",
                &[&&account.0[..], &&id.0[..], &i64::from(index.0)],
            )
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn acknowledge(
        &self,
        account: &AccountId,
        device: &DeviceId,
        cursors: &[Cursor],
        now: i64,
    ) -> Result<(), RelayError> {
        let client = self.pool.get().await?;
        client
            .execute(
                "INSERT INTO acks (account, device, cursors, seen_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (account, device)
                 DO UPDATE SET cursors = excluded.cursors, seen_at = excluded.seen_at",
                &[
                    &&account.0[..],
                    &device.as_str(),
                    &Cursor::encode_vector(cursors),
                    &now,
                ],
            )
            .await?;
        Ok(())
    }

    async fn pruned(&self, account: &AccountId) -> Result<Vec<(DeviceId, u64)>, RelayError> {
        let client = self.pool.get().await?;
        per_device(&client, "pruned", account).await
    }

    async fn prune(&self, account: &AccountId, active_since: i64) -> Result<u64, RelayError> {
        let key = &account.0[..];
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let Some(checkpoint) = newest_checkpoint(&tx, account).await? else {
            return Ok(0);
        };
        let heads = per_device(&tx, "head", account).await?;
        let pruned = per_device(&tx, "pruned", account).await?;
        let acks = acks_of(&tx, account).await?;
        let mut removed = 0;
        for (device, floor) in
            prune_floors(&checkpoint.covers, &heads, &pruned, &acks, active_since)
        {
            let (device, floor) = (device.as_str(), floor as i64);
            removed += tx
                .execute(
                    "DELETE FROM entries WHERE account = $1 AND device = $2 AND seq <= $3",
                    &[&key, &device, &floor],
                )
                .await?;
            tx.execute(
                "DELETE FROM damaged WHERE account = $1 AND device = $2 AND seq <= $3",
                &[&key, &device, &floor],
            )
            .await?;
            tx.execute(
                "UPDATE devices SET pruned = GREATEST(pruned, $3) WHERE account = $1 AND device = $2",
                &[&key, &device, &floor],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(removed)
    }

    async fn usage(&self, account: &AccountId) -> Result<Usage, RelayError> {
        let client = self.pool.get().await?;
        let key = &account.0[..];
        let row = client
            .query_one(
                "SELECT COUNT(*), COALESCE(SUM(length(sealed)), 0)::BIGINT FROM entries WHERE account = $1",
                &[&key],
            )
            .await?;
        let checkpoint_bytes: i64 = client
            .query_one(
                "SELECT COALESCE(SUM(length(sealed)), 0)::BIGINT FROM checkpoint_chunks WHERE account = $1",
                &[&key],
            )
            .await?
            .get(0);
        drop(client);
        Ok(Usage {
            entries: seq_of(row.get(0)),
            entry_bytes: seq_of(row.get(1)),
            checkpoint_bytes: seq_of(checkpoint_bytes),
            blob_bytes: self.blob_bytes(account).await?,
        })
    }

    async fn acknowledged(&self, account: &AccountId) -> Result<Vec<Acknowledged>, RelayError> {
        let client = self.pool.get().await?;
        acks_of(&client, account).await
    }

    async fn registered_devices(
        &self,
        account: &AccountId,
    ) -> Result<Vec<RegisteredDevice>, RelayError> {
        let client = self.pool.get().await?;
        registry(&client, account, None).await
    }

    async fn register_device(
        &self,
        account: &AccountId,
        device: &DeviceId,
        verifier: [u8; 32],
        sealed_name: &[u8],
    ) -> Result<RegisteredDevice, RelayError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO device_keys (account, device, verifier, name) VALUES ($1, $2, $3, $4)
             ON CONFLICT (account, device) DO UPDATE SET
                 verifier = COALESCE(device_keys.verifier, excluded.verifier),
                 name = CASE WHEN length(device_keys.name) = 0 THEN excluded.name ELSE device_keys.name END",
            &[&&account.0[..], &device.as_str(), &&verifier[..], &sealed_name],
        )
        .await?;
        let row = registry(&tx, account, Some(device)).await?.pop();
        tx.commit().await?;
        row.ok_or_else(|| RelayError::Task("a registered device has no row".into()))
    }

    async fn rename_device(
        &self,
        account: &AccountId,
        device: &DeviceId,
        sealed_name: &[u8],
    ) -> Result<bool, RelayError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        if !knows_device(&tx, account, device).await? {
            return Ok(false);
        }
        let changed = tx
            .execute(
                "INSERT INTO device_keys (account, device, name) VALUES ($1, $2, $3)
                 ON CONFLICT (account, device) DO UPDATE SET name = excluded.name
                 WHERE NOT device_keys.removed",
                &[&&account.0[..], &device.as_str(), &sealed_name],
            )
            .await?;
        tx.commit().await?;
        Ok(changed > 0)
    }

    async fn remove_device(
        &self,
        account: &AccountId,
        device: &DeviceId,
    ) -> Result<bool, RelayError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        if !knows_device(&tx, account, device).await? {
            return Ok(false);
        }
        let at: [&(dyn tokio_postgres::types::ToSql + Sync); 2] =
            [&&account.0[..], &device.as_str()];
        let changed = tx
            .execute(
                "INSERT INTO device_keys (account, device, name, removed) VALUES ($1, $2, ''::BYTEA, TRUE)
                 ON CONFLICT (account, device) DO UPDATE SET removed = TRUE
                 WHERE NOT device_keys.removed",
                &at,
            )
            .await?;
        tx.execute("DELETE FROM acks WHERE account = $1 AND device = $2", &at)
            .await?;
        if changed > 0 {
            // Other nodes end the device's sessions they hold, once this commits.
            let signal = crate::fanout::removed_payload(account, device);
            tx.execute(
                "SELECT pg_notify($1, $2)",
                &[&crate::fanout::CHANNEL, &signal],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(changed > 0)
    }

    async fn blob_state(&self, account: &AccountId, blob: BlobId) -> Result<BlobState, RelayError> {
        self.blob_state_of(account, blob).await
    }

    async fn put_blob_chunk(
        &self,
        account: &AccountId,
        bytes: u64,
        chunk: &BlobChunk,
        limits: BlobLimits,
    ) -> Result<BlobPut, RelayError> {
        self.put_blob_chunk_in(account, bytes, chunk, limits).await
    }

    async fn blob_chunk(
        &self,
        account: &AccountId,
        blob: BlobId,
        index: ChunkIndex,
    ) -> Result<Option<Vec<u8>>, RelayError> {
        self.blob_chunk_of(account, blob, index).await
    }
}
