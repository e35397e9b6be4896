//! The SQLite relay store: one file, WAL, `synchronous = FULL`.
//!
//! Appends are group-committed: one writer thread with its own connection takes
//! every append waiting for it and stores them in one transaction (each under its
//! own savepoint, so one device's gap or error never touches another's entries),
//! then answers each once the commit is on disk. Alone, an append commits at once;
//! under load, many share one fsync. Reads use a second connection, so a catch-up
//! page never waits behind a commit.

mod blobs;

use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use aftercall_shared::protocol::{
    AccountId, BlobChunk, BlobId, BlobState, CheckpointId, ChunkIndex, Cursor, DeviceId,
    RekeyDevice, SealedEntry, WrapKey, WrappedSecret,
};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::{
    account_of, begin_outcome, chunk_target, cut_page, over_checkpoint_limit, plan_append,
    prune_floors, rekey_devices, sum, unknown_wrap, wrap_key_bytes, AccountRecord, Acknowledged,
    Appended, BlobLimits, BlobPut, CheckpointBegun, CheckpointLimits, ChunkStored,
    RegisteredDevice, Registration, RelayStore, RotationBegin, RotationCommit, RotationState,
    StoredCheckpoint, Usage,
};
use crate::RelayError;

/// The schema, one migration per step, appended only; `user_version` counts those
/// applied. The first creates its tables only if missing: databases made before
/// migrations were numbered have them already.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE IF NOT EXISTS accounts (
    id BLOB PRIMARY KEY,
    verifier BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS invites (
    code TEXT PRIMARY KEY,
    used_by BLOB
);
CREATE TABLE IF NOT EXISTS devices (
    account BLOB NOT NULL,
    device TEXT NOT NULL,
    head INTEGER NOT NULL,
    PRIMARY KEY (account, device)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS entries (
    account BLOB NOT NULL,
    device TEXT NOT NULL,
    seq INTEGER NOT NULL,
    sealed BLOB NOT NULL,
    PRIMARY KEY (account, device, seq)
);
"#,
    // 2: each entry's BLAKE3 hash as received, so damage on disk is found before an
    // entry is sent; entries found damaged, until their device sends them again.
    r#"
ALTER TABLE entries ADD COLUMN sum BLOB;
CREATE TABLE damaged (
    account BLOB NOT NULL,
    device TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (account, device, seq)
) WITHOUT ROWID;
"#,
    // 3: checkpoints (opaque chunks, the cursors they cover, complete once every
    // chunk is in), what each device last said it had applied, and how far each
    // log was pruned.
    r#"
CREATE TABLE checkpoints (
    account BLOB NOT NULL,
    id BLOB NOT NULL,
    chunks INTEGER NOT NULL,
    covers BLOB NOT NULL,
    complete INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account, id)
) WITHOUT ROWID;
CREATE TABLE checkpoint_chunks (
    account BLOB NOT NULL,
    id BLOB NOT NULL,
    idx INTEGER NOT NULL,
    sealed BLOB NOT NULL,
    PRIMARY KEY (account, id, idx)
);
CREATE TABLE acks (
    account BLOB NOT NULL,
    device TEXT NOT NULL,
    cursors BLOB NOT NULL,
    seen_at INTEGER NOT NULL,
    PRIMARY KEY (account, device)
) WITHOUT ROWID;
ALTER TABLE devices ADD COLUMN pruned INTEGER NOT NULL DEFAULT 0;
"#,
    // 4: the account's device registry: each device's own credential hash, its
    // name sealed under the account key, and whether it was removed.
    r#"
CREATE TABLE device_keys (
    account BLOB NOT NULL,
    device TEXT NOT NULL,
    verifier BLOB,
    name BLOB NOT NULL,
    removed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account, device)
) WITHOUT ROWID;
"#,
    // 5: blobs (attachments' content as opaque sealed chunks): each blob's chunk
    // count, its sealed size as announced, what is stored of it, complete once
    // every chunk is in; and the chunks.
    r#"
CREATE TABLE blobs (
    account BLOB NOT NULL,
    id BLOB NOT NULL,
    chunks INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    stored_chunks INTEGER NOT NULL DEFAULT 0,
    stored_bytes INTEGER NOT NULL DEFAULT 0,
    complete INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account, id)
) WITHOUT ROWID;
CREATE TABLE blob_chunks (
    account BLOB NOT NULL,
    id BLOB NOT NULL,
    idx INTEGER NOT NULL,
    sealed BLOB NOT NULL,
    PRIMARY KEY (account, id, idx)
);
"#,
    // 6: re-keying: an account's pending target (a new account being filled),
    // on that target the account it comes from, and once committed where the
    // account moved and when; each device's wrap key, and once moved the new
    // secret sealed to it.
    r#"
ALTER TABLE accounts ADD COLUMN pending_to BLOB;
ALTER TABLE accounts ADD COLUMN rotating_from BLOB;
ALTER TABLE accounts ADD COLUMN moved_to BLOB;
ALTER TABLE accounts ADD COLUMN moved_at INTEGER;
ALTER TABLE device_keys ADD COLUMN wrap_key BLOB;
ALTER TABLE device_keys ADD COLUMN wrapped BLOB;
"#,
    // 7: when each checkpoint upload was begun (seconds since 1970; 0 for those
    // begun before), for the least time between two uploads of an account.
    r#"
ALTER TABLE checkpoints ADD COLUMN begun_at INTEGER NOT NULL DEFAULT 0;
"#,
];

/// The tables holding an account's rows by its `account` column, besides
/// `device_keys` and `accounts` itself.
const ACCOUNT_TABLES: [&str; 8] = [
    "entries",
    "damaged",
    "devices",
    "checkpoints",
    "checkpoint_chunks",
    "acks",
    "blobs",
    "blob_chunks",
];

/// Fails with [`RelayError::AccountMoved`] when `account` was re-keyed: nothing
/// more is stored under it.
fn refuse_moved(conn: &Connection, account: &AccountId) -> Result<(), RelayError> {
    let moved: Option<bool> = conn
        .prepare_cached("SELECT moved_to IS NOT NULL FROM accounts WHERE id = ?1")?
        .query_row([&account.0[..]], |r| r.get(0))
        .optional()?;
    match moved {
        Some(true) => Err(RelayError::AccountMoved),
        _ => Ok(()),
    }
}

fn migrate(conn: &mut Connection) -> Result<(), RelayError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let version = usize::try_from(version).unwrap_or(0);
    if version > MIGRATIONS.len() {
        return Err(RelayError::NewerSchema {
            found: version as i64,
            known: MIGRATIONS.len(),
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

/// Appends stored in one transaction at most.
const MAX_GROUP: usize = 256;

/// The relay's data in one SQLite file. Each call runs on tokio's blocking threads
/// (the append waits there for the writer thread's answer).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    files: Arc<Files>,
}

/// The connections to the file and the writer thread.
#[derive(Debug)]
struct Files {
    /// Reads, and the rare writes outside appends (accounts, invites).
    conn: Mutex<Connection>,
    /// Appends, to the writer thread.
    appends: Option<SyncSender<AppendJob>>,
    writer: Option<JoinHandle<()>>,
}

/// One append waiting for the writer thread.
#[derive(Debug)]
struct AppendJob {
    account: AccountId,
    entries: Vec<SealedEntry>,
    reply: SyncSender<Result<Appended, RelayError>>,
}

fn connect(path: &Path) -> Result<Connection, RelayError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<SqliteStore, RelayError> {
        let mut conn = connect(path)?;
        migrate(&mut conn)?;
        let mut writer_conn = connect(path)?;
        let (appends, jobs) = mpsc::sync_channel(4 * MAX_GROUP);
        let writer = std::thread::Builder::new()
            .name("relay-writer".into())
            .spawn(move || write_appends(&mut writer_conn, &jobs))?;
        Ok(SqliteStore {
            files: Arc::new(Files {
                conn: Mutex::new(conn),
                appends: Some(appends),
                writer: Some(writer),
            }),
        })
    }

    /// Runs `call` on a blocking thread.
    async fn blocking<T: Send + 'static>(
        &self,
        call: impl FnOnce(&Files) -> Result<T, RelayError> + Send + 'static,
    ) -> Result<T, RelayError> {
        let files = self.files.clone();
        tokio::task::spawn_blocking(move || call(&files))
            .await
            .map_err(|e| RelayError::Task(e.to_string()))?
    }
}

impl Files {
    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves no half-written state behind
        // (transactions roll back), so a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        // The writer finishes what it was given, then its connection closes.
        drop(self.appends.take());
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// The writer thread: takes every waiting append, stores them in one transaction.
fn write_appends(conn: &mut Connection, jobs: &Receiver<AppendJob>) {
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        match append_group(conn, &group) {
            Ok(results) => {
                for (job, result) in group.into_iter().zip(results) {
                    let _ = job.reply.send(result);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "storing entries failed");
                for job in group {
                    let _ = job.reply.send(Err(RelayError::Task(format!(
                        "storing entries failed: {e}"
                    ))));
                }
            }
        }
    }
}

/// Stores a group of appends in one transaction; each is all or nothing on its own.
fn append_group(
    conn: &mut Connection,
    group: &[AppendJob],
) -> Result<Vec<Result<Appended, RelayError>>, RelayError> {
    let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut results = Vec::with_capacity(group.len());
    for job in group {
        let savepoint = tx.savepoint()?;
        match append_one(&savepoint, &job.account, &job.entries) {
            Ok(appended) => {
                savepoint.commit()?;
                results.push(Ok(appended));
            }
            // Dropping the savepoint rolls this append back; the others stand.
            Err(e) => results.push(Err(e)),
        }
    }
    tx.commit()?;
    Ok(results)
}

/// One device's entries, in order, stopping at the first gap or conflict.
fn append_one(
    tx: &Connection,
    account: &AccountId,
    entries: &[SealedEntry],
) -> Result<Appended, RelayError> {
    let Some(first) = entries.first() else {
        return Ok(plan_append(0, entries, &HashMap::new()));
    };
    refuse_moved(tx, account)?;
    let device = first.device.as_str();
    let head = tx
        .prepare_cached("SELECT head FROM devices WHERE account = ?1 AND device = ?2")?
        .query_row(params![&account.0[..], device], |r| r.get::<_, i64>(0))
        .optional()?
        .unwrap_or(0) as u64;
    let mut stored = HashMap::new();
    for seq in entries.iter().map(|e| e.seq).filter(|s| *s <= head) {
        let sealed: Option<Vec<u8>> = tx
            .prepare_cached(
                "SELECT sealed FROM entries WHERE account = ?1 AND device = ?2 AND seq = ?3",
            )?
            .query_row(params![&account.0[..], device, seq as i64], |r| r.get(0))
            .optional()?;
        stored.extend(sealed.map(|s| (seq, s)));
    }
    let out = plan_append(head, entries, &stored);
    for entry in &out.stored {
        tx.prepare_cached(
            "INSERT INTO entries (account, device, seq, sealed, sum) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            &account.0[..],
            device,
            entry.seq as i64,
            entry.sealed,
            &sum(&entry.sealed)[..]
        ])?;
    }
    tx.prepare_cached(
        "INSERT INTO devices (account, device, head) VALUES (?1, ?2, ?3)
         ON CONFLICT(account, device) DO UPDATE SET head = excluded.head",
    )?
    .execute(params![&account.0[..], device, out.head as i64])?;
    Ok(out)
}

impl Files {
    fn ready(&self) -> Result<(), RelayError> {
        self.conn().query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }

    fn create_account(
        &self,
        account: &AccountId,
        verifier: [u8; 32],
        invite_required: bool,
        invite: Option<&str>,
    ) -> Result<Registration, RelayError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if invite_required {
            let used = match invite {
                Some(code) => tx.execute(
                    "UPDATE invites SET used_by = ?1 WHERE code = ?2 AND used_by IS NULL",
                    params![&account.0[..], code],
                )?,
                None => 0,
            };
            if used == 0 {
                return Ok(Registration::InviteRequired);
            }
        }
        tx.execute(
            "INSERT OR IGNORE INTO accounts (id, verifier, created_at) VALUES (?1, ?2, strftime('%s','now'))",
            params![&account.0[..], &verifier[..]],
        )?;
        tx.commit()?;
        Ok(Registration::Created)
    }

    fn add_invite(&self, code: &str) -> Result<(), RelayError> {
        self.conn()
            .execute("INSERT INTO invites (code) VALUES (?1)", [code])?;
        Ok(())
    }

    fn heads(&self, account: &AccountId) -> Result<Vec<(DeviceId, u64)>, RelayError> {
        per_device(&self.conn(), "head", account)
    }

    fn entries_after(
        &self,
        account: &AccountId,
        device: &DeviceId,
        after: u64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<SealedEntry>, RelayError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT seq, sealed, sum FROM entries WHERE account = ?1 AND device = ?2 AND seq > ?3
             ORDER BY seq LIMIT ?4",
        )?;
        let rows = stmt.query_map(
            params![&account.0[..], device.as_str(), after as i64, limit as i64],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, r.get(2)?)),
        )?;
        let (page, damaged) = cut_page(account, device, rows, max_bytes)?;
        drop(stmt);
        if let Some(seq) = damaged {
            conn.execute(
                "INSERT OR IGNORE INTO damaged (account, device, seq) VALUES (?1, ?2, ?3)",
                params![&account.0[..], device.as_str(), seq as i64],
            )?;
        }
        Ok(page)
    }

    fn entry_hash(
        &self,
        account: &AccountId,
        device: &DeviceId,
        seq: u64,
    ) -> Result<Option<[u8; 32]>, RelayError> {
        let row: Option<(Vec<u8>, Option<Vec<u8>>)> = self
            .conn()
            .query_row(
                "SELECT sealed, sum FROM entries WHERE account = ?1 AND device = ?2 AND seq = ?3",
                params![&account.0[..], device.as_str(), seq as i64],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(row.map(|(sealed, stored)| {
            stored
                .and_then(|s| <[u8; 32]>::try_from(s.as_slice()).ok())
                .unwrap_or_else(|| sum(&sealed))
        }))
    }

    fn damaged(&self, account: &AccountId, device: &DeviceId) -> Result<Vec<u64>, RelayError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT seq FROM damaged WHERE account = ?1 AND device = ?2 ORDER BY seq LIMIT 1024",
        )?;
        let rows = stmt.query_map(params![&account.0[..], device.as_str()], |r| {
            r.get::<_, i64>(0)
        })?;
        rows.map(|r| Ok(r? as u64)).collect()
    }

    fn repair(
        &self,
        account: &AccountId,
        entries: &[SealedEntry],
    ) -> Result<Vec<SealedEntry>, RelayError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        refuse_moved(&tx, account)?;
        let mut repaired = Vec::new();
        for entry in entries {
            let key = params![&account.0[..], entry.device.as_str(), entry.seq as i64];
            if tx.execute(
                "DELETE FROM damaged WHERE account = ?1 AND device = ?2 AND seq = ?3",
                key,
            )? == 0
            {
                continue; // Not damaged: stored entries are never replaced.
            }
            tx.execute(
                "UPDATE entries SET sealed = ?4, sum = ?5
                 WHERE account = ?1 AND device = ?2 AND seq = ?3",
                params![
                    &account.0[..],
                    entry.device.as_str(),
                    entry.seq as i64,
                    entry.sealed,
                    &sum(&entry.sealed)[..]
                ],
            )?;
            repaired.push(entry.clone());
        }
        tx.commit()?;
        Ok(repaired)
    }

    fn append(
        &self,
        account: AccountId,
        entries: Vec<SealedEntry>,
    ) -> Result<Appended, RelayError> {
        let (reply, answer) = mpsc::sync_channel(1);
        let job = AppendJob {
            account,
            entries,
            reply,
        };
        let gone = || RelayError::Task("the relay's writer has stopped".into());
        self.appends
            .as_ref()
            .ok_or_else(gone)?
            .send(job)
            .map_err(|_| gone())?;
        answer.recv().map_err(|_| gone())?
    }
}

/// A number per device of `account` from the `devices` table (`head`, `pruned`).
fn per_device(
    conn: &Connection,
    column: &str,
    account: &AccountId,
) -> Result<Vec<(DeviceId, u64)>, RelayError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT device, {column} FROM devices WHERE account = ?1 ORDER BY device"
    ))?;
    let rows = stmt.query_map([&account.0[..]], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (device, n) = row?;
        // Only well-formed ids are ever stored; skip anything else rather than fail.
        if let Ok(device) = DeviceId::new(&device) {
            out.push((device, n as u64));
        }
    }
    Ok(out)
}

/// Cursors as stored; a row that does not decode counts as no cursors.
/// What every device of `account` last said it had applied.
fn acks_of(conn: &Connection, account: &AccountId) -> Result<Vec<Acknowledged>, RelayError> {
    let mut stmt =
        conn.prepare_cached("SELECT device, cursors, seen_at FROM acks WHERE account = ?1")?;
    let rows = stmt.query_map([&account.0[..]], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, Vec<u8>>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    let mut acks = Vec::new();
    for row in rows {
        let (device, cursors, seen_at) = row?;
        if let Ok(device) = DeviceId::new(&device) {
            acks.push(Acknowledged {
                device,
                cursors: cursors_of(&cursors),
                seen_at,
            });
        }
    }
    Ok(acks)
}

/// The registry rows of `account` (of one device, with `device`).
fn registry(
    conn: &Connection,
    account: &AccountId,
    device: Option<&DeviceId>,
) -> Result<Vec<RegisteredDevice>, RelayError> {
    let mut stmt = conn.prepare_cached(
        "SELECT device, verifier, name, removed FROM device_keys
         WHERE account = ?1 AND (?2 IS NULL OR device = ?2) ORDER BY device",
    )?;
    let rows = stmt.query_map(params![&account.0[..], device.map(DeviceId::as_str)], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, Option<Vec<u8>>>(1)?,
            r.get::<_, Vec<u8>>(2)?,
            r.get::<_, bool>(3)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (device, verifier, sealed_name, removed) = row?;
        if let Ok(device) = DeviceId::new(&device) {
            out.push(RegisteredDevice {
                device,
                verifier: verifier.and_then(|v| v.try_into().ok()),
                sealed_name,
                removed,
            });
        }
    }
    Ok(out)
}

/// Whether `account` knows `device`: registered, or with a log or an
/// acknowledgement on the relay.
fn knows_device(
    conn: &Connection,
    account: &AccountId,
    device: &DeviceId,
) -> Result<bool, RelayError> {
    let at = params![&account.0[..], device.as_str()];
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM device_keys WHERE account = ?1 AND device = ?2)
             OR EXISTS (SELECT 1 FROM devices WHERE account = ?1 AND device = ?2)
             OR EXISTS (SELECT 1 FROM acks WHERE account = ?1 AND device = ?2)",
        at,
        |r| r.get(0),
    )?)
}

fn cursors_of(bytes: &[u8]) -> Vec<Cursor> {
    Cursor::decode_vector(bytes).unwrap_or_default()
}

fn newest_checkpoint(
    conn: &Connection,
    account: &AccountId,
) -> Result<Option<StoredCheckpoint>, RelayError> {
    let row: Option<(Vec<u8>, i64, Vec<u8>)> = conn
        .prepare_cached(
            "SELECT id, chunks, covers FROM checkpoints WHERE account = ?1 AND complete = 1",
        )?
        .query_row([&account.0[..]], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    Ok(row.and_then(|(id, chunks, covers)| {
        Some(StoredCheckpoint {
            id: CheckpointId(id.try_into().ok()?),
            chunks: u32::try_from(chunks).ok()?,
            covers: cursors_of(&covers),
        })
    }))
}

/// Begins keeping `checkpoint` of `account`, in the caller's transaction.
fn begin_checkpoint_in(
    tx: &Connection,
    account: &AccountId,
    checkpoint: &StoredCheckpoint,
    begun_at: i64,
) -> Result<(), RelayError> {
    let key = &account.0[..];
    let id = &checkpoint.id.0[..];
    // An upload never finished is dropped, and a refused one's mark; the newest
    // complete one stays.
    tx.execute(
        "DELETE FROM checkpoint_chunks WHERE account = ?1 AND id != ?2 AND id IN
             (SELECT id FROM checkpoints WHERE account = ?1 AND complete = 0)",
        params![key, id],
    )?;
    tx.execute(
        "DELETE FROM checkpoints WHERE account = ?1 AND complete = 0 AND (id != ?2 OR chunks = 0)",
        params![key, id],
    )?;
    tx.execute(
        "INSERT INTO checkpoints (account, id, chunks, covers, begun_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (account, id) DO NOTHING",
        params![
            key,
            id,
            checkpoint.chunks,
            Cursor::encode_vector(&checkpoint.covers),
            begun_at
        ],
    )?;
    Ok(())
}

impl Files {
    fn begin_checkpoint(
        &self,
        account: &AccountId,
        checkpoint: &StoredCheckpoint,
        limits: CheckpointLimits,
        now: i64,
    ) -> Result<CheckpointBegun, RelayError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        refuse_moved(&tx, account)?;
        let key = &account.0[..];
        let id = &checkpoint.id.0[..];
        let known: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM checkpoints WHERE account = ?1 AND id = ?2
             AND (complete = 1 OR chunks > 0))",
            params![key, id],
            |r| r.get(0),
        )?;
        let last_begun: Option<i64> = tx.query_row(
            "SELECT MAX(begun_at) FROM checkpoints WHERE account = ?1",
            params![key],
            |r| r.get(0),
        )?;
        let outcome = begin_outcome(checkpoint.chunks, known, last_begun, limits, now);
        if outcome != CheckpointBegun::Begun {
            return Ok(outcome);
        }
        begin_checkpoint_in(&tx, account, checkpoint, now)?;
        tx.commit()?;
        Ok(outcome)
    }

    fn put_checkpoint_chunk(
        &self,
        account: &AccountId,
        id: CheckpointId,
        index: ChunkIndex,
        sealed: &[u8],
        limits: CheckpointLimits,
    ) -> Result<ChunkStored, RelayError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        refuse_moved(&tx, account)?;
        let (key, id) = (&account.0[..], &id.0[..]);
        let row: Option<(i64, bool)> = tx
            .query_row(
                "SELECT chunks, complete FROM checkpoints WHERE account = ?1 AND id = ?2",
                params![key, id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let chunks = match chunk_target(row, index) {
            Ok(chunks) => chunks,
            Err(answer) => return Ok(answer),
        };
        let others: i64 = tx.query_row(
            "SELECT COALESCE(SUM(length(sealed)), 0) FROM checkpoint_chunks
             WHERE account = ?1 AND id = ?2 AND idx != ?3",
            params![key, id, index.0],
            |r| r.get(0),
        )?;
        if let Some(bytes) = over_checkpoint_limit(others as u64, sealed.len(), limits) {
            // None of its chunks stays, nor counts against the account; its row,
            // with no chunks to take, keeps when it was begun for the interval.
            tx.execute(
                "DELETE FROM checkpoint_chunks WHERE account = ?1 AND id = ?2",
                params![key, id],
            )?;
            tx.execute(
                "UPDATE checkpoints SET chunks = 0 WHERE account = ?1 AND id = ?2",
                params![key, id],
            )?;
            tx.commit()?;
            return Ok(ChunkStored::TooLarge { bytes });
        }
        tx.execute(
            "INSERT OR REPLACE INTO checkpoint_chunks (account, id, idx, sealed)
             VALUES (?1, ?2, ?3, ?4)",
            params![key, id, index.0, sealed],
        )?;
        let have: i64 = tx.query_row(
            "SELECT COUNT(*) FROM checkpoint_chunks WHERE account = ?1 AND id = ?2",
            params![key, id],
            |r| r.get(0),
        )?;
        let outcome = if have == chunks {
            tx.execute(
                "UPDATE checkpoints SET complete = 1 WHERE account = ?1 AND id = ?2",
                params![key, id],
            )?;
            tx.execute(
                "DELETE FROM checkpoint_chunks WHERE account = ?1 AND id != ?2",
                params![key, id],
            )?;
            tx.execute(
                "DELETE FROM checkpoints WHERE account = ?1 AND id != ?2",
                params![key, id],
            )?;
            ChunkStored::Complete
        } else {
            ChunkStored::Waiting
        };
        tx.commit()?;
        Ok(outcome)
    }

    fn checkpoint_chunk(
        &self,
        account: &AccountId,
        id: CheckpointId,
        index: ChunkIndex,
    ) -> Result<Option<Vec<u8>>, RelayError> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT sealed FROM checkpoint_chunks WHERE account = ?1 AND id = ?2 AND idx = ?3",
            )?
            .query_row(params![&account.0[..], &id.0[..], index.0], |r| r.get(0))
            .optional()?)
    }

    fn acknowledge(
        &self,
        account: &AccountId,
        device: &DeviceId,
        cursors: &[Cursor],
        now: i64,
    ) -> Result<(), RelayError> {
        let conn = self.conn();
        // Under the one lock a re-key's commit also takes: it comes before or after.
        refuse_moved(&conn, account)?;
        conn.prepare_cached(
            "INSERT INTO acks (account, device, cursors, seen_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (account, device)
                 DO UPDATE SET cursors = excluded.cursors, seen_at = excluded.seen_at",
        )?
        .execute(params![
            &account.0[..],
            device.as_str(),
            Cursor::encode_vector(cursors),
            now
        ])?;
        Ok(())
    }

    fn prune(&self, account: &AccountId, active_since: i64) -> Result<u64, RelayError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Some(checkpoint) = newest_checkpoint(&tx, account)? else {
            return Ok(0);
        };
        let key = &account.0[..];
        let heads = per_device(&tx, "head", account)?;
        let pruned = per_device(&tx, "pruned", account)?;
        let acks = acks_of(&tx, account)?;
        let mut removed = 0;
        for (device, floor) in
            prune_floors(&checkpoint.covers, &heads, &pruned, &acks, active_since)
        {
            let at = params![key, device.as_str(), floor as i64];
            removed += tx.execute(
                "DELETE FROM entries WHERE account = ?1 AND device = ?2 AND seq <= ?3",
                at,
            )? as u64;
            tx.execute(
                "DELETE FROM damaged WHERE account = ?1 AND device = ?2 AND seq <= ?3",
                at,
            )?;
            tx.execute(
                "UPDATE devices SET pruned = ?3 WHERE account = ?1 AND device = ?2",
                at,
            )?;
        }
        tx.commit()?;
        Ok(removed)
    }

    fn register_device(
        &self,
        account: &AccountId,
        device: &DeviceId,
        verifier: [u8; 32],
        sealed_name: &[u8],
    ) -> Result<RegisteredDevice, RelayError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        refuse_moved(&tx, account)?;
        tx.execute(
            "INSERT INTO device_keys (account, device, verifier, name) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (account, device) DO UPDATE SET
                 verifier = COALESCE(device_keys.verifier, excluded.verifier),
                 name = CASE WHEN length(device_keys.name) = 0 THEN excluded.name ELSE device_keys.name END",
            params![&account.0[..], device.as_str(), &verifier[..], sealed_name],
        )?;
        let row = registry(&tx, account, Some(device))?.pop();
        tx.commit()?;
        row.ok_or_else(|| RelayError::Task("a registered device has no row".into()))
    }

    fn rename_device(
        &self,
        account: &AccountId,
        device: &DeviceId,
        sealed_name: &[u8],
    ) -> Result<bool, RelayError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        refuse_moved(&tx, account)?;
        if !knows_device(&tx, account, device)? {
            return Ok(false);
        }
        let changed = tx.execute(
            "INSERT INTO device_keys (account, device, name) VALUES (?1, ?2, ?3)
             ON CONFLICT (account, device) DO UPDATE SET name = excluded.name
             WHERE device_keys.removed = 0",
            params![&account.0[..], device.as_str(), sealed_name],
        )?;
        tx.commit()?;
        Ok(changed > 0)
    }

    fn remove_device(&self, account: &AccountId, device: &DeviceId) -> Result<bool, RelayError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        refuse_moved(&tx, account)?;
        if !knows_device(&tx, account, device)? {
            return Ok(false);
        }
        let at = params![&account.0[..], device.as_str()];
        let changed = tx.execute(
            "INSERT INTO device_keys (account, device, name, removed) VALUES (?1, ?2, x'', 1)
             ON CONFLICT (account, device) DO UPDATE SET removed = 1
             WHERE device_keys.removed = 0",
            at,
        )?;
        tx.execute("DELETE FROM acks WHERE account = ?1 AND device = ?2", at)?;
        tx.commit()?;
        Ok(changed > 0)
    }

    fn usage(&self, account: &AccountId) -> Result<Usage, RelayError> {
        let conn = self.conn();
        let key = &account.0[..];
        let (entries, entry_bytes): (i64, i64) = conn.query_row(
            "SELECT COUNT(*), COALESCE(SUM(length(sealed)), 0) FROM entries WHERE account = ?1",
            [key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let checkpoint_bytes: i64 = conn.query_row(
            "SELECT COALESCE(SUM(length(sealed)), 0) FROM checkpoint_chunks WHERE account = ?1",
            [key],
            |r| r.get(0),
        )?;
        drop(conn);
        Ok(Usage {
            entries: entries as u64,
            entry_bytes: entry_bytes as u64,
            checkpoint_bytes: checkpoint_bytes as u64,
            blob_bytes: self.blob_bytes(account)?,
        })
    }
}

/// Deletes every row of `account`, its own included (a re-key's target dropped).
fn drop_account(tx: &Connection, account: &AccountId) -> Result<(), RelayError> {
    let key = &account.0[..];
    for table in ACCOUNT_TABLES.iter().chain(&["device_keys"]) {
        tx.execute(&format!("DELETE FROM {table} WHERE account = ?1"), [key])?;
    }
    tx.execute("DELETE FROM accounts WHERE id = ?1", [key])?;
    Ok(())
}

/// The account row's re-key state: `(pending_to, moved_to)`; `None` without a row.
fn rotation_state(
    tx: &Connection,
    account: &AccountId,
) -> Result<Option<RotationState>, RelayError> {
    Ok(tx
        .query_row(
            "SELECT pending_to, moved_to FROM accounts WHERE id = ?1",
            [&account.0[..]],
            |r| {
                Ok(RotationState {
                    pending_to: account_of(r.get(0)?),
                    moved_to: account_of(r.get(1)?),
                })
            },
        )
        .optional()?)
}

impl Files {
    fn account(&self, account: &AccountId) -> Result<Option<AccountRecord>, RelayError> {
        let row = self
            .conn()
            .query_row(
                "SELECT verifier, moved_to, rotating_from FROM accounts WHERE id = ?1",
                [&account.0[..]],
                |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        AccountRecord {
                            verifier: [0; 32],
                            moved_to: account_of(r.get(1)?),
                            rotating_from: account_of(r.get(2)?),
                        },
                    ))
                },
            )
            .optional()?;
        Ok(row.and_then(|(verifier, record)| {
            Some(AccountRecord {
                verifier: verifier.try_into().ok()?,
                ..record
            })
        }))
    }

    fn set_wrap_key(
        &self,
        account: &AccountId,
        device: &DeviceId,
        key: &WrapKey,
    ) -> Result<bool, RelayError> {
        let changed = self.conn().execute(
            "UPDATE device_keys SET wrap_key = ?3
             WHERE account = ?1 AND device = ?2 AND verifier IS NOT NULL AND removed = 0",
            params![&account.0[..], device.as_str(), wrap_key_bytes(key)],
        )?;
        Ok(changed > 0)
    }

    fn rekey_devices(&self, account: &AccountId) -> Result<Vec<RekeyDevice>, RelayError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT device, verifier IS NOT NULL, removed, wrap_key FROM device_keys
             WHERE account = ?1 ORDER BY device",
        )?;
        let rows = stmt
            .query_map([&account.0[..]], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, bool>(1)?,
                    r.get::<_, bool>(2)?,
                    r.get::<_, Option<Vec<u8>>>(3)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rekey_devices(rows.into_iter().filter_map(
            |(device, registered, removed, key)| {
                Some((DeviceId::new(&device).ok()?, registered, removed, key))
            },
        )))
    }

    fn begin_rotation(
        &self,
        account: &AccountId,
        to: &AccountId,
        verifier: [u8; 32],
        checkpoint: &StoredCheckpoint,
    ) -> Result<RotationBegin, RelayError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Some(RotationState {
            pending_to: pending,
            moved_to: moved,
        }) = rotation_state(&tx, account)?
        else {
            return Err(RelayError::Task(
                "a re-key of an account the relay lacks".into(),
            ));
        };
        if moved.is_some() {
            return Ok(RotationBegin::Moved);
        }
        let taken = tx
            .query_row("SELECT 1 FROM accounts WHERE id = ?1", [&to.0[..]], |_| {
                Ok(())
            })
            .optional()?
            .is_some();
        if taken && pending != Some(*to) {
            return Ok(RotationBegin::TargetTaken);
        }
        // A re-key begun before, to this target or another, starts over.
        if let Some(pending) = pending {
            drop_account(&tx, &pending)?;
        }
        tx.execute(
            "INSERT INTO accounts (id, verifier, created_at, rotating_from)
             VALUES (?1, ?2, strftime('%s','now'), ?3)",
            params![&to.0[..], &verifier[..], &account.0[..]],
        )?;
        tx.execute(
            "UPDATE accounts SET pending_to = ?2 WHERE id = ?1",
            params![&account.0[..], &to.0[..]],
        )?;
        begin_checkpoint_in(&tx, to, checkpoint, 0)?;
        tx.commit()?;
        Ok(RotationBegin::Begun)
    }

    fn commit_rotation(
        &self,
        account: &AccountId,
        to: &AccountId,
        wraps: &[WrappedSecret],
        now: i64,
    ) -> Result<RotationCommit, RelayError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Some(RotationState {
            pending_to: pending,
            moved_to: moved,
        }) = rotation_state(&tx, account)?
        else {
            return Ok(RotationCommit::NotPending);
        };
        if moved == Some(*to) {
            return Ok(RotationCommit::AlreadyCommitted);
        }
        if moved.is_some() || pending != Some(*to) {
            return Ok(RotationCommit::NotPending);
        }
        let Some(checkpoint) = newest_checkpoint(&tx, to)? else {
            return Ok(RotationCommit::Incomplete);
        };
        if let Some(device) = unknown_wrap(&registry(&tx, account, None)?, wraps) {
            return Ok(RotationCommit::UnknownDevice(device.clone()));
        }
        let (key, target) = (&account.0[..], &to.0[..]);
        tx.execute(
            "UPDATE accounts SET moved_to = ?2, moved_at = ?3, pending_to = NULL WHERE id = ?1",
            params![key, target, now],
        )?;
        tx.execute(
            "UPDATE accounts SET rotating_from = NULL WHERE id = ?1",
            [target],
        )?;
        // The registry keeps who may be told where the account went; the names
        // and wrap keys were sealed or bound under the old key.
        tx.execute(
            "UPDATE device_keys SET name = x'', wrap_key = NULL, wrapped = NULL WHERE account = ?1",
            [key],
        )?;
        for wrap in wraps {
            tx.execute(
                "UPDATE device_keys SET wrapped = ?3 WHERE account = ?1 AND device = ?2",
                params![key, wrap.device.as_str(), wrap.sealed],
            )?;
        }
        for cursor in checkpoint.covers.iter().filter(|c| c.seq > 0) {
            tx.execute(
                "INSERT INTO devices (account, device, head, pruned) VALUES (?1, ?2, ?3, ?3)
                 ON CONFLICT (account, device) DO UPDATE SET
                     head = MAX(head, excluded.head), pruned = MAX(pruned, excluded.pruned)",
                params![target, cursor.device.as_str(), cursor.seq as i64],
            )?;
        }
        for table in ACCOUNT_TABLES {
            tx.execute(&format!("DELETE FROM {table} WHERE account = ?1"), [key])?;
        }
        tx.commit()?;
        Ok(RotationCommit::Committed)
    }

    fn wrapped_secret(
        &self,
        account: &AccountId,
        device: &DeviceId,
    ) -> Result<Option<Vec<u8>>, RelayError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT wrapped FROM device_keys WHERE account = ?1 AND device = ?2",
                params![&account.0[..], device.as_str()],
                |r| r.get::<_, Option<Vec<u8>>>(0),
            )
            .optional()?
            .flatten())
    }
}

#[async_trait::async_trait]
impl RelayStore for SqliteStore {
    async fn ready(&self) -> Result<(), RelayError> {
        self.blocking(Files::ready).await
    }

    async fn create_account(
        &self,
        account: &AccountId,
        verifier: [u8; 32],
        invite_required: bool,
        invite: Option<&str>,
    ) -> Result<Registration, RelayError> {
        let (account, invite) = (*account, invite.map(str::to_owned));
        self.blocking(move |f| {
            f.create_account(&account, verifier, invite_required, invite.as_deref())
        })
        .await
    }

    async fn add_invite(&self, code: &str) -> Result<(), RelayError> {
        let code = code.to_owned();
        self.blocking(move |f| f.add_invite(&code)).await
    }

    async fn heads(&self, account: &AccountId) -> Result<Vec<(DeviceId, u64)>, RelayError> {
        let account = *account;
        self.blocking(move |f| f.heads(&account)).await
    }

    async fn entries_after(
        &self,
        account: &AccountId,
        device: &DeviceId,
        after: u64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<SealedEntry>, RelayError> {
        let (account, device) = (*account, device.clone());
        self.blocking(move |f| f.entries_after(&account, &device, after, limit, max_bytes))
            .await
    }

    async fn entry_hash(
        &self,
        account: &AccountId,
        device: &DeviceId,
        seq: u64,
    ) -> Result<Option<[u8; 32]>, RelayError> {
        let (account, device) = (*account, device.clone());
        self.blocking(move |f| f.entry_hash(&account, &device, seq))
            .await
    }

    async fn damaged(
        &self,
        account: &AccountId,
        device: &DeviceId,
    ) -> Result<Vec<u64>, RelayError> {
        let (account, device) = (*account, device.clone());
        self.blocking(move |f| f.damaged(&account, &device)).await
    }

    async fn repair(
        &self,
        account: &AccountId,
        entries: &[SealedEntry],
    ) -> Result<Vec<SealedEntry>, RelayError> {
        let (account, entries) = (*account, entries.to_vec());
        self.blocking(move |f| f.repair(&account, &entries)).await
    }

    async fn append(
        &self,
        account: &AccountId,
        entries: &[SealedEntry],
    ) -> Result<Appended, RelayError> {
        let (account, entries) = (*account, entries.to_vec());
        self.blocking(move |f| f.append(account, entries)).await
    }

    async fn begin_checkpoint(
        &self,
        account: &AccountId,
        checkpoint: &StoredCheckpoint,
        limits: CheckpointLimits,
        now: i64,
    ) -> Result<CheckpointBegun, RelayError> {
        let (account, checkpoint) = (*account, checkpoint.clone());
        self.blocking(move |f| f.begin_checkpoint(&account, &checkpoint, limits, now))
            .await
    }

    async fn put_checkpoint_chunk(
        &self,
        account: &AccountId,
        id: CheckpointId,
        index: ChunkIndex,
        sealed: &[u8],
        limits: CheckpointLimits,
    ) -> Result<ChunkStored, RelayError> {
        let (account, sealed) = (*account, sealed.to_vec());
        self.blocking(move |f| f.put_checkpoint_chunk(&account, id, index, &sealed, limits))
            .await
    }

    async fn newest_checkpoint(
        &self,
        account: &AccountId,
    ) -> Result<Option<StoredCheckpoint>, RelayError> {
        let account = *account;
        self.blocking(move |f| newest_checkpoint(&f.conn(), &account))
            .await
    }

    async fn checkpoint_chunk(
        &self,
        account: &AccountId,
        id: CheckpointId,
        index: ChunkIndex,
    ) -> Result<Option<Vec<u8>>, RelayError> {
        let account = *account;
        self.blocking(move |f| f.checkpoint_chunk(&account, id, index))
            .await
    }

    async fn acknowledge(
        &self,
        account: &AccountId,
        device: &DeviceId,
        cursors: &[Cursor],
        now: i64,
    ) -> Result<(), RelayError> {
        let (account, device, cursors) = (*account, device.clone(), cursors.to_vec());
        self.blocking(move |f| f.acknowledge(&account, &device, &cursors, now))
            .await
    }

    async fn pruned(&self, account: &AccountId) -> Result<Vec<(DeviceId, u64)>, RelayError> {
        let account = *account;
        self.blocking(move |f| per_device(&f.conn(), "pruned", &account))
            .await
    }

    async fn prune(&self, account: &AccountId, active_since: i64) -> Result<u64, RelayError> {
        let account = *account;
        self.blocking(move |f| f.prune(&account, active_since))
            .await
    }

    async fn usage(&self, account: &AccountId) -> Result<Usage, RelayError> {
        let account = *account;
        self.blocking(move |f| f.usage(&account)).await
    }

    async fn acknowledged(&self, account: &AccountId) -> Result<Vec<Acknowledged>, RelayError> {
        let account = *account;
        self.blocking(move |f| acks_of(&f.conn(), &account)).await
    }

    async fn registered_devices(
        &self,
        account: &AccountId,
    ) -> Result<Vec<RegisteredDevice>, RelayError> {
        let account = *account;
        self.blocking(move |f| registry(&f.conn(), &account, None))
            .await
    }

    async fn register_device(
        &self,
        account: &AccountId,
        device: &DeviceId,
        verifier: [u8; 32],
        sealed_name: &[u8],
    ) -> Result<RegisteredDevice, RelayError> {
        let (account, device, name) = (*account, device.clone(), sealed_name.to_vec());
        self.blocking(move |f| f.register_device(&account, &device, verifier, &name))
            .await
    }

    async fn rename_device(
        &self,
        account: &AccountId,
        device: &DeviceId,
        sealed_name: &[u8],
    ) -> Result<bool, RelayError> {
        let (account, device, name) = (*account, device.clone(), sealed_name.to_vec());
        self.blocking(move |f| f.rename_device(&account, &device, &name))
            .await
    }

    async fn remove_device(
        &self,
        account: &AccountId,
        device: &DeviceId,
    ) -> Result<bool, RelayError> {
        let (account, device) = (*account, device.clone());
        self.blocking(move |f| f.remove_device(&account, &device))
            .await
    }

    async fn account(&self, account: &AccountId) -> Result<Option<AccountRecord>, RelayError> {
        let account = *account;
        self.blocking(move |f| f.account(&account)).await
    }

    async fn set_wrap_key(
        &self,
        account: &AccountId,
        device: &DeviceId,
        key: &WrapKey,
    ) -> Result<bool, RelayError> {
        let (account, device, key) = (*account, device.clone(), *key);
        self.blocking(move |f| f.set_wrap_key(&account, &device, &key))
            .await
    }

    async fn rekey_devices(&self, account: &AccountId) -> Result<Vec<RekeyDevice>, RelayError> {
        let account = *account;
        self.blocking(move |f| f.rekey_devices(&account)).await
    }

    async fn begin_rotation(
        &self,
        account: &AccountId,
        to: &AccountId,
        verifier: [u8; 32],
        checkpoint: &StoredCheckpoint,
    ) -> Result<RotationBegin, RelayError> {
        let (account, to, checkpoint) = (*account, *to, checkpoint.clone());
        self.blocking(move |f| f.begin_rotation(&account, &to, verifier, &checkpoint))
            .await
    }

    async fn commit_rotation(
        &self,
        account: &AccountId,
        to: &AccountId,
        wraps: &[WrappedSecret],
        now: i64,
    ) -> Result<RotationCommit, RelayError> {
        let (account, to, wraps) = (*account, *to, wraps.to_vec());
        self.blocking(move |f| f.commit_rotation(&account, &to, &wraps, now))
            .await
    }

    async fn wrapped_secret(
        &self,
        account: &AccountId,
        device: &DeviceId,
    ) -> Result<Option<Vec<u8>>, RelayError> {
        let (account, device) = (*account, device.clone());
        self.blocking(move |f| f.wrapped_secret(&account, &device))
            .await
    }

    async fn blob_state(&self, account: &AccountId, blob: BlobId) -> Result<BlobState, RelayError> {
        let account = *account;
        self.blocking(move |f| f.blob_state(&account, blob)).await
    }

    async fn put_blob_chunk(
        &self,
        account: &AccountId,
        bytes: u64,
        chunk: &BlobChunk,
        limits: BlobLimits,
    ) -> Result<BlobPut, RelayError> {
        let (account, chunk) = (*account, chunk.clone());
        self.blocking(move |f| f.put_blob_chunk(&account, bytes, &chunk, limits))
            .await
    }

    async fn blob_chunk(
        &self,
        account: &AccountId,
        blob: BlobId,
        index: ChunkIndex,
    ) -> Result<Option<Vec<u8>>, RelayError> {
        let account = *account;
        self.blocking(move |f| f.blob_chunk(&account, blob, index))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::AppendRefusal;

    fn entry(seq: u64, byte: u8) -> SealedEntry {
        SealedEntry {
            device: DeviceId::new("phone").unwrap(),
            seq,
            sealed: vec![byte; 48],
        }
    }

    #[tokio::test]
    async fn appends_grouped_in_one_transaction_each_stand_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("relay.sqlite")).unwrap();
        let account = AccountId([1; 16]);
        store.append(&account, &[entry(1, 1)]).await.unwrap();
        let job = |device: &str, entries: Vec<SealedEntry>| {
            let entries = entries
                .into_iter()
                .map(|e| SealedEntry {
                    device: DeviceId::new(device).unwrap(),
                    ..e
                })
                .collect();
            AppendJob {
                account,
                entries,
                reply: mpsc::sync_channel(1).0,
            }
        };
        let group = [
            job("laptop", vec![entry(1, 1), entry(2, 2)]),
            // A gap: what comes before it is stored, the rest refused.
            job("phone", vec![entry(2, 2), entry(4, 4)]),
            // A conflict at the phone's first entry: nothing of it is stored.
            job("phone", vec![entry(1, 7)]),
            job("tablet", vec![entry(1, 1)]),
        ];
        let mut conn = connect(&dir.path().join("relay.sqlite")).unwrap();
        let results: Vec<Appended> = append_group(&mut conn, &group)
            .unwrap()
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(results[0].head, 2);
        assert_eq!(
            results[1].refused,
            Some(AppendRefusal::Gap { seq: 4, head: 2 })
        );
        assert_eq!(results[1].stored.len(), 1);
        assert_eq!(results[2].refused, Some(AppendRefusal::Conflict { seq: 1 }));
        assert_eq!(results[3].head, 1);
        let mut heads: Vec<(String, u64)> = store
            .heads(&account)
            .await
            .unwrap()
            .into_iter()
            .map(|(d, h)| (d.as_str().to_string(), h))
            .collect();
        heads.sort();
        assert_eq!(
            heads,
            [
                ("laptop".into(), 2),
                ("phone".into(), 2),
                ("tablet".into(), 1)
            ]
        );
    }
}
