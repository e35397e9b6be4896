//! The local store: one SQLite file holding documents, the read model, the search
//! index, this device's own log and the sync cursors.
//!
//! Invariant: every local write is one SQLite transaction holding the document
//! change, the read-model update and the own-log entry. Either all of it is on disk
//! or none of it; with `synchronous = FULL` it is on disk when the command returns.

mod blobs;
mod docs;
mod entry;
mod log;
mod read_model;
mod redirects;
mod rehome;
mod schema;
mod snapshot;
mod sync_state;
mod writer;

#[cfg(all(test, not(target_arch = "wasm32")))]
pub(crate) use rehome::actor_for;

use std::path::Path;

use automerge::ActorId;
use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use crate::env::{new_id, Clock, Entropy};
use crate::model::DocKind;
use crate::{Error, Result};

pub(crate) use blobs::{collect_all as collect_all_blobs, insert as insert_blob};
pub use entry::{DocChanges, LogEntry, Payload, MAX_RECORD_CHANGES};
pub use log::RemoteEntry;
pub(crate) use read_model::kept_person;
pub use snapshot::AccountSnapshot;
pub use sync_state::QuarantinedEntry;
pub use writer::Writer;

/// An open store. Not shared between threads: open one per thread (SQLite's WAL lets
/// readers and one writer work side by side, also across processes).
pub struct Store {
    conn: Connection,
    clock: Box<dyn Clock>,
    entropy: Box<dyn Entropy>,
    device_id: String,
    actor: ActorId,
    /// Commits since the write-ahead log was last folded into the main file.
    unfolded: std::cell::Cell<u32>,
}

/// After this many commits without a `checkpoint` call, a write folds the log itself,
/// so that the log stays bounded in a process that never calls it.
pub(crate) const FOLD_EVERY: u32 = 500;

/// Pages of segment merging a checkpoint does per search index at most.
const MERGE_PAGES: u32 = 256;

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("device_id", &self.device_id)
            .finish()
    }
}

impl Store {
    /// Opens (creating if needed) the store at `path`, migrating it to the current schema.
    /// A store that can be read but not written (a read-only folder or file) is
    /// opened read-only, as [`Store::open_read_only`]: every write is then refused
    /// with an error for which [`Error::is_read_only`] holds.
    pub fn open(path: &Path, clock: Box<dyn Clock>, entropy: Box<dyn Entropy>) -> Result<Store> {
        let writable = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(Error::from)
        .and_then(|conn| {
            // SQLite quietly opens a file it may not write read-only.
            if conn.is_readonly(rusqlite::MAIN_DB)? {
                return Err(Error::Store(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_READONLY),
                    None,
                )));
            }
            configure_writable(&conn)?;
            Ok(conn)
        });
        let conn = match writable {
            Ok(conn) => conn,
            Err(e) if cannot_write(&e) && path.is_file() => {
                return Store::open_read_only(path, clock, entropy);
            }
            Err(e) => return Err(e),
        };
        Store::ready(conn, clock, entropy)
    }

    /// Opens the existing store at `path` for reading only: lists, searches and
    /// exports work; every write is refused (SQLite's `query_only`). A folder in which
    /// SQLite cannot create the shared-memory file is read with the store treated as
    /// immutable, provided no write-ahead log is waiting to be folded in.
    pub fn open_read_only(
        path: &Path,
        clock: Box<dyn Clock>,
        entropy: Box<dyn Entropy>,
    ) -> Result<Store> {
        let conn = match read_only_connection(path, false) {
            Ok(conn) => conn,
            Err(e) if e.is_damaged() => return Err(e),
            Err(e) => {
                let mut wal = path.as_os_str().to_os_string();
                wal.push("-wal");
                let log_waiting = std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0);
                if log_waiting {
                    return Err(e);
                }
                read_only_connection(path, true)?
            }
        };
        Store::ready(conn, clock, entropy)
    }

    /// Finishes opening on a configured connection: the store's SQL function, the
    /// schema, and this device's id.
    fn ready(
        conn: Connection,
        clock: Box<dyn Clock>,
        mut entropy: Box<dyn Entropy>,
    ) -> Result<Store> {
        // A save runs a few dozen distinct statements; rusqlite keeps 16 prepared by
        // default, so they pushed each other out and were parsed again every time.
        conn.set_prepared_statement_cache_capacity(128);
        // Search text is stored folded; migration 6 folds what older stores hold.
        conn.create_scalar_function(
            "aftercall_fold",
            1,
            FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
            |ctx| Ok(crate::fold::fold(&ctx.get::<String>(0)?)),
        )?;
        migrate(&conn)?;
        let device_id = match meta_get(&conn, "device_id")? {
            Some(id) => id,
            None => {
                let id = new_id(entropy.as_mut());
                // Another process may have raced us to it: keep whichever landed first.
                conn.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('device_id', ?1)",
                    [&id],
                )?;
                meta_get(&conn, "device_id")?.unwrap_or(id)
            }
        };
        let actor = rehome::actor_for(&device_id);
        Ok(Store {
            conn,
            clock,
            entropy,
            device_id,
            actor,
            unfolded: std::cell::Cell::new(0),
        })
    }

    /// Does the upkeep that saves leave for later: merges the search indexes' newest
    /// segments (a bounded amount of work), then folds the write-ahead log into the
    /// main file without waiting for readers. Call it between saves (the app does,
    /// shortly after each), and deletes attachment content no record refers to any
    /// more; a process that does not call it gets it done by every
    /// `FOLD_EVERY`th commit, and the log folded on close.
    pub fn checkpoint(&self) -> Result<()> {
        if self.unfolded.get() > 0 {
            // Saves only add segments (automerge is off); a level with four or more
            // is merged here, up to MERGE_PAGES pages per index.
            let tx =
                rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
            tx.execute_batch(&format!(
                "INSERT INTO search_own (search_own, rank) VALUES ('merge', {MERGE_PAGES});
                 INSERT INTO search_notes (search_notes, rank) VALUES ('merge', {MERGE_PAGES});"
            ))?;
            // Attachment content nothing refers to any more goes too.
            blobs::collect_all(&tx)?;
            tx.commit()?;
            self.conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
            self.unfolded.set(0);
        }
        Ok(())
    }

    /// Counts a commit, folding the log when too many went by without a checkpoint.
    pub(crate) fn committed(&self) -> Result<()> {
        self.committed_many(1)
    }

    /// Counts a commit that carried `n` writes' worth (a batch of remote entries).
    pub(crate) fn committed_many(&self, n: usize) -> Result<()> {
        self.unfolded.set(
            self.unfolded
                .get()
                .saturating_add(n.try_into().unwrap_or(u32::MAX)),
        );
        if self.unfolded.get() >= FOLD_EVERY {
            self.checkpoint()?;
        }
        Ok(())
    }

    /// This device's id: the name of its log on the relay.
    pub fn device_id(&self) -> &str {
        &self.device_id
    }

    /// The current time as the store's clock tells it.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// Runs `f` as one write: documents, read model and own-log entry commit together.
    pub fn write<T>(&mut self, f: impl FnOnce(&mut Writer<'_>) -> Result<T>) -> Result<T> {
        let now = self.clock.now();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Another connection to this file (the sync driver's) may have re-homed the
        // device since this one opened: write under the id the file holds now.
        let rehomed = meta_get(&tx, "device_id")?.filter(|id| *id != self.device_id);
        let actor = rehomed.as_deref().map(rehome::actor_for);
        let mut writer = Writer::new(
            &tx,
            actor.as_ref().unwrap_or(&self.actor),
            self.entropy.as_mut(),
            now,
        );
        let out = f(&mut writer)?;
        redirects::settle(&tx, false)?;
        writer.end_entry()?;
        tx.commit()?;
        if let (Some(id), Some(actor)) = (rehomed, actor) {
            self.device_id = id;
            self.actor = actor;
        }
        self.committed()?;
        Ok(out)
    }

    /// Read access for queries.
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// A stored value of this device's settings (relay address and the like).
    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        meta_get(&self.conn, &format!("setting.{key}"))
    }

    /// Stores a setting of this device. Settings are local and never synced.
    pub fn set_setting(&self, key: &str, value: Option<&str>) -> Result<()> {
        let key = format!("setting.{key}");
        match value {
            Some(v) => self.conn.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [&key, v],
            )?,
            None => self
                .conn
                .execute("DELETE FROM meta WHERE key = ?1", [&key])?,
        };
        self.committed()
    }

    /// Recreates every read-model table and the search index from the documents alone.
    /// Documents are decoded on worker threads (where there are threads) while this
    /// one writes the rows.
    pub fn rebuild_read_model(&mut self) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        rebuild_read_model_in(&tx)?;
        tx.commit()?;
        self.committed()?;
        Ok(())
    }

    /// How many conversations the store holds, deleted ones included.
    pub fn interaction_count(&self) -> Result<usize> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM interactions", [], |r| r.get(0))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Every document's search text as written, with its rowid and index, for tests
    /// that take a store back to an older schema.
    #[cfg(test)]
    pub(crate) fn search_texts(&self) -> Result<Vec<(i64, &'static str, String)>> {
        let mut out = Vec::new();
        docs::each(&self.conn, |rowid, _, kind, bytes| {
            let record = read_model::decode_stored(kind, &bytes)?;
            if let Some((table, text)) = read_model::search_text(&record) {
                out.push((rowid, table, text));
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// Every read-model row in a stable order, for comparing two stores (tests only:
    /// the `test-support` feature).
    #[cfg(any(test, feature = "test-support"))]
    pub fn read_model_snapshot(&self) -> Result<Vec<String>> {
        read_model::snapshot(&self.conn)
    }
}

/// Decodes every document on worker threads while this one writes the rows.
/// Recreates the read model from the documents inside `tx` (see
/// [`Store::rebuild_read_model`]).
fn rebuild_read_model_in(tx: &rusqlite::Transaction<'_>) -> Result<()> {
    read_model::clear(tx)?;
    // One big write: a larger page cache keeps it from spilling pages to the log
    // and reading them back; merging index segments waits for the end.
    tx.execute_batch(
        "PRAGMA cache_size = -65536;
         INSERT INTO search_own (search_own, rank) VALUES ('automerge', 0);
         INSERT INTO search_notes (search_notes, rank) VALUES ('automerge', 0);",
    )?;
    if cfg!(target_arch = "wasm32") {
        // A browser's worker has no threads: decode and write in turn.
        docs::each(tx, |rowid, id, kind, bytes| {
            let record = read_model::decode_stored(kind, &bytes)?;
            read_model::write_rows(tx, rowid, &id, &record, read_model::Rows::Fresh)?;
            Ok(())
        })?;
    } else {
        decode_on_workers(tx)?;
    }
    read_model::finish_fresh(tx)?;
    redirects::settle(tx, true)?;
    // Merge the index's segments into one. Merging inside writes stays off, as
    // set above on the re-created tables: later merges wait for checkpoints.
    tx.execute_batch(
        "INSERT INTO search_own (search_own) VALUES ('optimize');
         INSERT INTO search_notes (search_notes) VALUES ('optimize');
         PRAGMA cache_size = -16384;",
    )?;
    Ok(())
}

fn decode_on_workers(tx: &rusqlite::Transaction<'_>) -> Result<()> {
    type Decoded = Result<(i64, String, crate::model::Record)>;
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 4);
    let stopped = || Error::invalid("a rebuild worker stopped");
    let (todo_tx, todo_rx) = std::sync::mpsc::sync_channel::<(i64, String, DocKind, Vec<u8>)>(64);
    let (done_tx, done_rx) = std::sync::mpsc::sync_channel::<Decoded>(256);
    let todo_rx = std::sync::Mutex::new(todo_rx);
    std::thread::scope(|scope| -> Result<()> {
        for _ in 0..workers {
            let (todo_rx, done_tx) = (&todo_rx, done_tx.clone());
            scope.spawn(move || loop {
                let next = todo_rx.lock().map(|rx| rx.recv());
                let Ok(Ok((rowid, id, kind, bytes))) = next else {
                    return;
                };
                let decoded =
                    read_model::decode_stored(kind, &bytes).map(|record| (rowid, id, record));
                if done_tx.send(decoded).is_err() {
                    return;
                }
            });
        }
        drop(done_tx);
        let write = |decoded: Decoded| -> Result<()> {
            let (rowid, id, record) = decoded?;
            read_model::write_rows(tx, rowid, &id, &record, read_model::Rows::Fresh)?;
            Ok(())
        };
        docs::each(tx, |rowid, id, kind, bytes| {
            let mut job = (rowid, id, kind, bytes);
            // While every worker is busy, write finished documents.
            loop {
                match todo_tx.try_send(job) {
                    Ok(()) => break,
                    Err(std::sync::mpsc::TrySendError::Full(back)) => {
                        job = back;
                        write(done_rx.recv().map_err(|_| stopped())?)?;
                    }
                    Err(std::sync::mpsc::TrySendError::Disconnected(_)) => return Err(stopped()),
                }
            }
            while let Ok(decoded) = done_rx.try_recv() {
                write(decoded)?;
            }
            Ok(())
        })?;
        drop(todo_tx);
        for decoded in done_rx {
            write(decoded)?;
        }
        Ok(())
    })?;
    Ok(())
}

/// A write-ahead log, folded between saves by [`Store::checkpoint`]. In a browser
/// the store lives on the origin-private file system through the sync-access-handle
/// pool, which has no shared memory for the log's index: there a rollback journal
/// is truncated after each commit (with `synchronous = FULL`, a commit is on disk
/// when it returns either way).
#[cfg(not(target_arch = "wasm32"))]
const JOURNAL_MODE: &str = "WAL";
#[cfg(target_arch = "wasm32")]
const JOURNAL_MODE: &str = "TRUNCATE";

/// The settings of a connection that writes.
fn configure_writable(conn: &Connection) -> Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", JOURNAL_MODE)?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // SQLite would fold the log into the main file inside whichever commit fills
    // it, adding ~15 ms to that save; `checkpoint` does it between saves instead.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    // 16 MB of page cache: a catch-up page of entries (hundreds of documents and
    // their index rows in one transaction) then fits without spilling.
    conn.pragma_update(None, "cache_size", -16_384)?;
    Ok(())
}

/// Whether opening for writing failed only because the store may not be written.
fn cannot_write(e: &Error) -> bool {
    e.is_read_only()
        || matches!(
            e,
            Error::Store(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::CannotOpen)
        )
}

/// A read-only connection to the store at `path`; `immutable`: read the file as it
/// is, without the shared-memory file (which a read-only folder cannot hold).
fn read_only_connection(path: &Path, immutable: bool) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = match sqlite_uri(path, immutable) {
        Some(uri) => Connection::open_with_flags(uri, flags | OpenFlags::SQLITE_OPEN_URI)?,
        None => Connection::open_with_flags(path, flags)?,
    };
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "query_only", "ON")?;
    conn.pragma_update(None, "cache_size", -16_384)?;
    // Reading the schema version reaches the file (and the log), so a store that
    // cannot be read fails here rather than in the first query.
    conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))?;
    Ok(conn)
}

/// `file:` URI of `path` opened read-only (and `immutable`), for SQLite; `None` where
/// paths do not map onto one simply (not unix): the plain path is read-only then.
#[cfg(unix)]
fn sqlite_uri(path: &Path, immutable: bool) -> Option<String> {
    use std::os::unix::ffi::OsStrExt;
    let mut uri = String::from("file:");
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            uri.push(char::from(b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push_str("?mode=ro");
    if immutable {
        uri.push_str("&immutable=1");
    }
    Some(uri)
}

#[cfg(not(unix))]
fn sqlite_uri(_: &Path, _: bool) -> Option<String> {
    None
}

fn migrate(conn: &Connection) -> Result<()> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let version = usize::try_from(version).unwrap_or(0);
    if version > schema::MIGRATIONS.len() {
        return Err(Error::invalid(format!(
            "this data was written by a newer Aftercall (schema {version}); update the app"
        )));
    }
    for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(version) {
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {sql}; PRAGMA user_version = {}; COMMIT;",
            i + 1
        ))?;
    }
    // Documents from a newer device may have brought attachments to a store written
    // before migration 12, which an older version kept without rows: the read model
    // is made once from the documents, so they show.
    if version > 0 && version < schema::ATTACHMENTS {
        let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
        let any: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM docs WHERE kind IN ('person', 'interaction'))",
            [],
            |r| r.get(0),
        )?;
        if any {
            rebuild_read_model_in(&tx)?;
        }
        tx.commit()?;
    }
    Ok(())
}

fn meta_get(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}
