//! The local store: one SQLite file holding documents, the read model, the search
//! index, this device's own log and the sync cursors.
//!
//! Invariant: every local write is one SQLite transaction holding the document
//! change, the read-model update and the own-log entry. Either all of it is on disk
//! or none of it; with `synchronous = FULL` it is on disk when the command returns.

mod docs;
mod log;
mod read_model;
mod schema;
mod sync_state;

use std::path::Path;

use automerge::ActorId;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use crate::env::{new_id, Clock, Entropy};
use crate::{Error, Result};

pub use docs::Writer;
pub use log::{DocChanges, LogEntry};
pub use sync_state::QuarantinedEntry;

/// An open store. Not shared between threads: open one per thread (SQLite's WAL lets
/// readers and one writer work side by side, also across processes).
pub struct Store {
    conn: Connection,
    clock: Box<dyn Clock>,
    entropy: Box<dyn Entropy>,
    device_id: String,
    actor: ActorId,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("device_id", &self.device_id)
            .finish()
    }
}

impl Store {
    /// Opens (creating if needed) the store at `path`, migrating it to the current schema.
    pub fn open(
        path: &Path,
        clock: Box<dyn Clock>,
        mut entropy: Box<dyn Entropy>,
    ) -> Result<Store> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
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
        let actor = ActorId::from(
            (0..device_id.len() / 2)
                .filter_map(|i| u8::from_str_radix(&device_id[2 * i..2 * i + 2], 16).ok())
                .collect::<Vec<u8>>(),
        );
        Ok(Store {
            conn,
            clock,
            entropy,
            device_id,
            actor,
        })
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
        let mut writer = Writer::new(&tx, &self.actor, self.entropy.as_mut(), now);
        let out = f(&mut writer)?;
        let changes = writer.finish();
        if !changes.is_empty() {
            log::append(&tx, &changes, now.timestamp_millis())?;
        }
        tx.commit()?;
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
        Ok(())
    }

    /// Recreates every read-model table and the search index from the documents alone.
    pub fn rebuild_read_model(&mut self) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        read_model::clear(&tx)?;
        {
            let mut stmt = tx.prepare("SELECT rowid, id, kind, bytes FROM docs ORDER BY rowid")?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let rowid: i64 = row.get(0)?;
                let id: String = row.get(1)?;
                let kind: String = row.get(2)?;
                let bytes: Vec<u8> = row.get(3)?;
                let doc = automerge::AutoCommit::load(&bytes)?;
                read_model::project(&tx, rowid, &id, kind.parse()?, &doc)?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Every read-model row in a stable order, for comparing two stores.
    pub fn read_model_snapshot(&self) -> Result<Vec<String>> {
        read_model::snapshot(&self.conn)
    }
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
    Ok(())
}

fn meta_get(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}
