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
    RekeyDevice, SealedEntry, WrapKey, WrappedSecret,
};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use super::{
    account_of, begin_outcome, chunk_target, cut_page, over_checkpoint_limit, plan_append,
    prune_floors, rekey_devices, sum, unknown_wrap, wrap_key_bytes, AccountRecord, Acknowledged,
    Appended, BlobLimits, BlobPut, CheckpointBegun, CheckpointLimits, ChunkStored,
    RegisteredDevice, Registration, RelayStore, RotationBegin, RotationCommit, RotationState,
    StoredCheckpoint, Usage,
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
    // 6: re-keying: an account's pending target (a new account being filled),
    // on that target the account it comes from, and once committed where the
    // account moved and when; each device's wrap key, and once moved the new
    // secret sealed to it.
    r#"
ALTER TABLE accounts
    ADD COLUMN pending_to BYTEA,
    ADD COLUMN rotating_from BYTEA,
    ADD COLUMN moved_to BYTEA,
    ADD COLUMN moved_at BIGINT;
ALTER TABLE device_keys
    ADD COLUMN wrap_key BYTEA,
    ADD COLUMN wrapped BYTEA;
"#,
    // 7: when each checkpoint upload was begun (seconds since 1970; 0 for those
    // begun before), for the least time between two uploads of an account.
    r#"
ALTER TABLE checkpoints ADD COLUMN begun_at BIGINT NOT NULL DEFAULT 0;
"#,
];

/// The tables holding an account's rows by its `account` column, besides
/// `device_keys` and `accounts` itself.
const ACCOUNT_TABLES: [&str; 10] = [
    "entries",
    "damaged",
    "devices",
    "checkpoints",
    "checkpoint_chunks",
    "acks",
    "blobs",
    "blob_chunks",
    "account_rates",
    "account_sessions",
];

/// Fails with [`RelayError::AccountMoved`] when `account` was re-keyed: nothing
/// more is stored under it. Holds the account's row shared until the caller's
/// transaction ends, so a commit of a re-key (which locks it for update) waits
/// for what is being stored, and what comes after it sees the account moved.
/// Taken before any other row lock, as the commit takes it first.
async fn refuse_moved(
    tx: &deadpool_postgres::Transaction<'_>,
    account: &AccountId,
) -> Result<(), RelayError> {
    let stmt = tx
        .prepare_cached("SELECT moved_to IS NOT NULL FROM accounts WHERE id = $1 FOR SHARE")
        .await?;
    match tx.query_opt(&stmt, &[&&account.0[..]]).await? {
        Some(row) if row.get::<_, bool>(0) => Err(RelayError::AccountMoved),
        _ => Ok(()),
    }
}

/// Deletes every row of `account`, its own included (a re-key's target dropped).
async fn drop_account(
    tx: &deadpool_postgres::Transaction<'_>,
    account: &AccountId,
) -> Result<(), RelayError> {
    let key = &account.0[..];
    for table in ACCOUNT_TABLES.iter().chain(&["device_keys"]) {
        tx.execute(&format!("DELETE FROM {table} WHERE account = $1"), &[&key])
            .await?;
    }
    tx.execute("DELETE FROM accounts WHERE id = $1", &[&key])
        .await?;
    Ok(())
}

/// The account row's re-key state `(pending_to, moved_to)`, its row locked for
/// update; `None` without a row.
async fn lock_rotation_state(
    tx: &deadpool_postgres::Transaction<'_>,
    account: &AccountId,
) -> Result<Option<RotationState>, RelayError> {
    let row = tx
        .query_opt(
            "SELECT pending_to, moved_to FROM accounts WHERE id = $1 FOR UPDATE",
            &[&&account.0[..]],
        )
        .await?;
    Ok(row.map(|r| RotationState {
        pending_to: account_of(r.get(0)),
        moved_to: account_of(r.get(1)),
    }))
}

/// Begins keeping `checkpoint` of `account`, begun at `begun_at`, in the
/// caller's transaction.
async fn begin_checkpoint_in(
    tx: &deadpool_postgres::Transaction<'_>,
    account: &AccountId,
    checkpoint: &StoredCheckpoint,
    begun_at: i64,
) -> Result<(), RelayError> {
    let (key, id) = (&account.0[..], &checkpoint.id.0[..]);
    // An upload never finished is dropped, and a refused one's mark; the newest
    // complete one stays.
    tx.execute(
        "DELETE FROM checkpoint_chunks WHERE account = $1 AND id != $2 AND id IN
         (SELECT id FROM checkpoints WHERE account = $1 AND NOT complete)",
        &[&key, &id],
    )
    .await?;
    tx.execute(
        "DELETE FROM checkpoints WHERE account = $1 AND NOT complete AND (id != $2 OR chunks = 0)",
        &[&key, &id],
    )
    .await?;
    tx.execute(
        "INSERT INTO checkpoints (account, id, chunks, covers, begun_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (account, id) DO NOTHING",
        &[
            &key,
            &id,
            &i64::from(checkpoint.chunks),
            &Cursor::encode_vector(&checkpoint.covers),
            &begun_at,
        ],
    )
    .await?;
    Ok(())
}

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
        if done.moved {
            return Err(RelayError::AccountMoved);
        }
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
        if done.moved {
            return Err(RelayError::AccountMoved);
        }
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
        refuse_moved(&tx, account).await?;
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
        if done.moved {
            return Err(RelayError::AccountMoved);
        }
        done.appended
            .ok_or_else(|| RelayError::Task("an append was not stored".into()))
    }

    async fn begin_checkpoint(
        &self,
        account: &AccountId,
        checkpoint: &StoredCheckpoint,
        limits: CheckpointLimits,
        now: i64,
    ) -> Result<CheckpointBegun, RelayError> {
        let (key, id) = (&account.0[..], &checkpoint.id.0[..]);
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        // The account's row lock: uploads of one account, begun on any node, take
        // turns, so the interval holds across nodes; and a re-key's commit, which
        // locks it too, is either before (refused) or after.
        let moved: Option<bool> = tx
            .query_opt(
                "SELECT moved_to IS NOT NULL FROM accounts WHERE id = $1 FOR UPDATE",
                &[&key],
            )
            .await?
            .map(|r| r.get(0));
        if moved == Some(true) {
            return Err(RelayError::AccountMoved);
        }
        let known = tx
            .query_opt(
                "SELECT 1 FROM checkpoints WHERE account = $1 AND id = $2
                 AND (complete OR chunks > 0)",
                &[&key, &id],
            )
            .await?
            .is_some();
        let last_begun: Option<i64> = tx
            .query_one(
                "SELECT MAX(begun_at) FROM checkpoints WHERE account = $1",
                &[&key],
            )
            .await?
            .get(0);
        let outcome = begin_outcome(checkpoint.chunks, known, last_begun, limits, now);
        if outcome != CheckpointBegun::Begun {
            return Ok(outcome);
        }
        begin_checkpoint_in(&tx, account, checkpoint, now).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn put_checkpoint_chunk(
        &self,
        account: &AccountId,
        id: CheckpointId,
        index: ChunkIndex,
        sealed: &[u8],
        limits: CheckpointLimits,
    ) -> Result<ChunkStored, RelayError> {
        let (key, id) = (&account.0[..], &id.0[..]);
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        refuse_moved(&tx, account).await?;
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
        let others: i64 = tx
            .query_one(
                "SELECT COALESCE(SUM(length(sealed)), 0)::BIGINT FROM checkpoint_chunks
                 WHERE account = $1 AND id = $2 AND idx != $3",
                &[&key, &id, &i64::from(index.0)],
            )
            .await?
            .get(0);
        if let Some(bytes) = over_checkpoint_limit(seq_of(others), sealed.len(), limits) {
            // None of its chunks stays, nor counts against the account; its row,
            // with no chunks to take, keeps when it was begun for the interval.
            tx.execute(
                "DELETE FROM checkpoint_chunks WHERE account = $1 AND id = $2",
                &[&key, &id],
            )
            .await?;
            tx.execute(
                "UPDATE checkpoints SET chunks = 0 WHERE account = $1 AND id = $2",
                &[&key, &id],
            )
            .await?;
            tx.commit().await?;
            return Ok(ChunkStored::TooLarge { bytes });
        }
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
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        refuse_moved(&tx, account).await?;
        tx.execute(
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
        tx.commit().await?;
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
        refuse_moved(&tx, account).await?;
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
        refuse_moved(&tx, account).await?;
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
        refuse_moved(&tx, account).await?;
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

    async fn account(&self, account: &AccountId) -> Result<Option<AccountRecord>, RelayError> {
        let client = self.pool.get().await?;
        let stmt = client
            .prepare_cached("SELECT verifier, moved_to, rotating_from FROM accounts WHERE id = $1")
            .await?;
        let row = client.query_opt(&stmt, &[&&account.0[..]]).await?;
        Ok(row.and_then(|r| {
            Some(AccountRecord {
                verifier: r.get::<_, Vec<u8>>(0).try_into().ok()?,
                moved_to: account_of(r.get(1)),
                rotating_from: account_of(r.get(2)),
            })
        }))
    }

    async fn set_wrap_key(
        &self,
        account: &AccountId,
        device: &DeviceId,
        key: &WrapKey,
    ) -> Result<bool, RelayError> {
        let client = self.pool.get().await?;
        let changed = client
            .execute(
                "UPDATE device_keys SET wrap_key = $3
                 WHERE account = $1 AND device = $2 AND verifier IS NOT NULL AND NOT removed",
                &[&&account.0[..], &device.as_str(), &wrap_key_bytes(key)],
            )
            .await?;
        Ok(changed > 0)
    }

    async fn rekey_devices(&self, account: &AccountId) -> Result<Vec<RekeyDevice>, RelayError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT device, verifier IS NOT NULL, removed, wrap_key FROM device_keys
                 WHERE account = $1 ORDER BY device",
                &[&&account.0[..]],
            )
            .await?;
        Ok(rekey_devices(rows.iter().filter_map(|r| {
            Some((
                DeviceId::new(r.get::<_, &str>(0)).ok()?,
                r.get(1),
                r.get(2),
                r.get(3),
            ))
        })))
    }

    async fn begin_rotation(
        &self,
        account: &AccountId,
        to: &AccountId,
        verifier: [u8; 32],
        checkpoint: &StoredCheckpoint,
    ) -> Result<RotationBegin, RelayError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let Some(RotationState {
            pending_to: pending,
            moved_to: moved,
        }) = lock_rotation_state(&tx, account).await?
        else {
            return Err(RelayError::Task(
                "a re-key of an account the relay lacks".into(),
            ));
        };
        if moved.is_some() {
            return Ok(RotationBegin::Moved);
        }
        if let Some(pending) = pending {
            if pending != *to {
                let taken = tx
                    .query_opt("SELECT 1 FROM accounts WHERE id = $1", &[&&to.0[..]])
                    .await?
                    .is_some();
                if taken {
                    return Ok(RotationBegin::TargetTaken);
                }
            }
            // A re-key begun before, to this target or another, starts over.
            drop_account(&tx, &pending).await?;
        }
        let created = tx
            .execute(
                "INSERT INTO accounts (id, verifier, created_at, rotating_from)
                 VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
                &[&&to.0[..], &&verifier[..], &now(), &&account.0[..]],
            )
            .await?;
        if created == 0 {
            return Ok(RotationBegin::TargetTaken);
        }
        tx.execute(
            "UPDATE accounts SET pending_to = $2 WHERE id = $1",
            &[&&account.0[..], &&to.0[..]],
        )
        .await?;
        begin_checkpoint_in(&tx, to, checkpoint, 0).await?;
        tx.commit().await?;
        Ok(RotationBegin::Begun)
    }

    async fn commit_rotation(
        &self,
        account: &AccountId,
        to: &AccountId,
        wraps: &[WrappedSecret],
        now: i64,
    ) -> Result<RotationCommit, RelayError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        // Locked for update: what is being stored under the account finishes
        // first, and what comes after finds it moved.
        let Some(RotationState {
            pending_to: pending,
            moved_to: moved,
        }) = lock_rotation_state(&tx, account).await?
        else {
            return Ok(RotationCommit::NotPending);
        };
        if moved == Some(*to) {
            return Ok(RotationCommit::AlreadyCommitted);
        }
        if moved.is_some() || pending != Some(*to) {
            return Ok(RotationCommit::NotPending);
        }
        let Some(checkpoint) = newest_checkpoint(&tx, to).await? else {
            return Ok(RotationCommit::Incomplete);
        };
        if let Some(device) = unknown_wrap(&registry(&tx, account, None).await?, wraps) {
            return Ok(RotationCommit::UnknownDevice(device.clone()));
        }
        let (key, target) = (&account.0[..], &to.0[..]);
        tx.execute(
            "UPDATE accounts SET moved_to = $2, moved_at = $3, pending_to = NULL WHERE id = $1",
            &[&key, &target, &now],
        )
        .await?;
        tx.execute(
            "UPDATE accounts SET rotating_from = NULL WHERE id = $1",
            &[&target],
        )
        .await?;
        // The registry keeps who may be told where the account went; the names
        // and wrap keys were sealed or bound under the old key.
        tx.execute(
            "UPDATE device_keys SET name = ''::BYTEA, wrap_key = NULL, wrapped = NULL
             WHERE account = $1",
            &[&key],
        )
        .await?;
        for wrap in wraps {
            tx.execute(
                "UPDATE device_keys SET wrapped = $3 WHERE account = $1 AND device = $2",
                &[&key, &wrap.device.as_str(), &wrap.sealed],
            )
            .await?;
        }
        for cursor in checkpoint.covers.iter().filter(|c| c.seq > 0) {
            let seq = i64::try_from(cursor.seq).unwrap_or(i64::MAX);
            tx.execute(
                "INSERT INTO devices (account, device, head, pruned) VALUES ($1, $2, $3, $3)
                 ON CONFLICT (account, device) DO UPDATE SET
                     head = GREATEST(devices.head, excluded.head),
                     pruned = GREATEST(devices.pruned, excluded.pruned)",
                &[&target, &cursor.device.as_str(), &seq],
            )
            .await?;
        }
        for table in ACCOUNT_TABLES {
            tx.execute(&format!("DELETE FROM {table} WHERE account = $1"), &[&key])
                .await?;
        }
        // Other nodes close the account's sessions they hold, once this commits.
        tx.execute(
            "SELECT pg_notify($1, $2)",
            &[
                &crate::fanout::CHANNEL,
                &crate::fanout::moved_payload(account),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(RotationCommit::Committed)
    }

    async fn wrapped_secret(
        &self,
        account: &AccountId,
        device: &DeviceId,
    ) -> Result<Option<Vec<u8>>, RelayError> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                "SELECT wrapped FROM device_keys WHERE account = $1 AND device = $2",
                &[&&account.0[..], &device.as_str()],
            )
            .await?;
        Ok(row.and_then(|r| r.get::<_, Option<Vec<u8>>>(0)))
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
