//! This device's own append-only log and the cursors of the other devices' logs.
//!
//! A log entry is what one local write changed, grouped by document: the input of
//! sync. Applying an entry (ours replayed or another device's) is idempotent and
//! order-free, because Automerge changes are.

use automerge::AutoCommit;
use rusqlite::{params, OptionalExtension, Transaction, TransactionBehavior};

use super::entry::{payloads, DocChanges, LogEntry, Payload};
use super::{docs, read_model, Store};
use crate::{Error, Result};

/// Appends entries holding `changes` (several when they are large); returns the
/// last sequence number.
pub(super) fn append(tx: &Transaction<'_>, changes: Vec<DocChanges>, now: i64) -> Result<u64> {
    let mut seq = 0;
    for payload in payloads(changes) {
        seq = append_payload(tx, &payload, now)?;
    }
    Ok(seq)
}

pub(super) fn append_payload(tx: &Transaction<'_>, payload: &[u8], now: i64) -> Result<u64> {
    let seq: i64 = tx
        .prepare_cached(
            "INSERT INTO own_log (seq, payload, created_at)
             VALUES ((SELECT COALESCE(MAX(seq), 0) + 1 FROM own_log), ?1, ?2) RETURNING seq",
        )?
        .query_row(params![payload, now], |r| r.get(0))?;
    Ok(seq as u64)
}

/// Loads `changes` into the stored documents and re-projects them, inside `tx`.
///
/// A change whose dependencies have not arrived yet (they come from a third device
/// whose entry is still on its way) is kept in `pending_changes` and applied as soon
/// as they do, so nothing is lost whatever order entries arrive in.
pub(super) fn apply_changes(tx: &Transaction<'_>, changes: &[DocChanges]) -> Result<()> {
    for c in changes {
        let stored = docs::read(tx, &c.doc_id)?;
        let mut doc = match &stored {
            Some(stored) if stored.kind != c.kind.as_str() => {
                return Err(Error::Decode(format!(
                    "entry changes {} as a {}, but it is a {}",
                    c.doc_id, c.kind, stored.kind
                )))
            }
            Some(stored) => AutoCommit::load(&stored.bytes)?,
            None => AutoCommit::new(),
        };
        let before = doc.get_heads();
        let pending: Vec<Vec<u8>> = tx
            .prepare_cached("SELECT bytes FROM pending_changes WHERE doc_id = ?1")?
            .query_map([&c.doc_id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for chunk in &pending {
            doc.load_incremental(chunk)?;
        }
        doc.load_incremental(&c.bytes)?;
        let waiting = !doc.get_missing_deps(&[]).is_empty();
        if waiting || !pending.is_empty() {
            tx.prepare_cached("DELETE FROM pending_changes WHERE doc_id = ?1")?
                .execute([&c.doc_id])?;
        }
        if waiting {
            let mut keep =
                tx.prepare_cached("INSERT INTO pending_changes (doc_id, bytes) VALUES (?1, ?2)")?;
            for chunk in pending.iter().chain(std::iter::once(&c.bytes)) {
                keep.execute(params![c.doc_id, chunk])?;
            }
        }
        if doc.get_heads() == before {
            continue; // A re-delivery, or nothing applicable yet.
        }
        let rowid = docs::save(tx, &c.doc_id, c.kind, &mut doc)?;
        let rows = match stored {
            Some(_) => read_model::Rows::Replace,
            None => read_model::Rows::New,
        };
        read_model::project(tx, rowid, &c.doc_id, c.kind, &doc, rows)?;
    }
    Ok(())
}

impl Store {
    /// The sequence number of this device's newest log entry (0 when empty).
    pub fn own_log_head(&self) -> Result<u64> {
        let seq: i64 =
            self.conn
                .query_row("SELECT COALESCE(MAX(seq), 0) FROM own_log", [], |r| {
                    r.get(0)
                })?;
        Ok(seq as u64)
    }

    /// This device's entries after `after`, oldest first, at most `limit`.
    pub fn own_log_after(&self, after: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, payload FROM own_log WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![after as i64, limit as i64], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get::<_, Vec<u8>>(1)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// This device's entries at `seqs` (those it has), in order.
    pub fn own_log_at(&self, seqs: &[u64]) -> Result<Vec<(u64, Vec<u8>)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT payload FROM own_log WHERE seq = ?1")?;
        let mut out = Vec::with_capacity(seqs.len());
        for &seq in seqs {
            if let Some(payload) = stmt
                .query_row([seq as i64], |r| r.get::<_, Vec<u8>>(0))
                .optional()?
            {
                out.push((seq, payload));
            }
        }
        Ok(out)
    }

    /// Decoded entries of this device's log after `after` (a fragment of a large
    /// entry shows no changes).
    pub fn own_entries_after(&self, after: u64, limit: usize) -> Result<Vec<LogEntry>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, payload, created_at FROM own_log WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![after as i64, limit as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        rows.map(|row| {
            let (seq, payload, created_at) = row?;
            Ok(LogEntry {
                seq: seq as u64,
                created_at,
                changes: match LogEntry::decode_payload(&payload)? {
                    Payload::Changes(changes) => changes,
                    Payload::Fragment { .. } => Vec::new(),
                },
            })
        })
        .collect()
    }

    /// For every other device, the last sequence number applied here.
    pub fn cursors(&self) -> Result<Vec<(String, u64)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT device, seq FROM cursors ORDER BY device")?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The last sequence number of `device` applied here (0 when none).
    pub fn cursor(&self, device: &str) -> Result<u64> {
        let seq: Option<i64> = self
            .conn
            .query_row("SELECT seq FROM cursors WHERE device = ?1", [device], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(seq.unwrap_or(0) as u64)
    }

    /// Applies entry `seq` of another device's log: documents, read model and cursor
    /// in one transaction. An entry at or below the cursor is a re-delivery and
    /// changes nothing; an entry past `cursor + 1` is a gap and is refused.
    pub fn apply_remote_entry(&mut self, device: &str, seq: u64, plaintext: &[u8]) -> Result<bool> {
        let mut results = self.apply_remote_entries(&[RemoteEntry {
            device,
            seq,
            plaintext,
        }])?;
        results.pop().unwrap_or(Ok(false))
    }

    /// Applies a run of other devices' entries (a catch-up page) in one transaction:
    /// every entry is applied whole with its cursor or not at all, and one that fails
    /// (a gap, bytes that do not parse or apply) leaves nothing behind while the
    /// others stand. Returns each entry's outcome as [`Store::apply_remote_entry`]
    /// would; a failure of the store itself fails the call.
    pub fn apply_remote_entries(
        &mut self,
        entries: &[RemoteEntry<'_>],
    ) -> Result<Vec<Result<bool>>> {
        let mut out = Vec::with_capacity(entries.len());
        self.apply_all(entries, &mut out)?;
        Ok(out)
    }

    /// Applies `entries`, pushing each outcome to `out`. The run is tried as one
    /// transaction; when an entry fails, that transaction is rolled back (so nothing
    /// of the failed entry stays) and the entries around it are applied again
    /// without it. Savepoints per entry would do the same, but FTS5 flushes its
    /// index at every savepoint, which costs more than the rare retry.
    fn apply_all(
        &mut self,
        entries: &[RemoteEntry<'_>],
        out: &mut Vec<Result<bool>>,
    ) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut applied = Vec::with_capacity(entries.len());
        for (i, entry) in entries.iter().enumerate() {
            match apply_entry(&tx, entry) {
                Ok(a) => applied.push(a),
                Err(Error::Store(e)) => return Err(Error::Store(e)),
                Err(e) => {
                    drop(tx);
                    self.apply_all(&entries[..i], out)?;
                    out.push(Err(e));
                    return self.apply_all(&entries[i + 1..], out);
                }
            }
        }
        super::redirects::settle(&tx, false)?;
        tx.commit()?;
        self.committed_many(entries.len())?;
        out.extend(applied.into_iter().map(Ok));
        Ok(())
    }
}

/// One entry of another device's log, opened.
#[derive(Debug, Clone, Copy)]
pub struct RemoteEntry<'a> {
    pub device: &'a str,
    pub seq: u64,
    pub plaintext: &'a [u8],
}

/// Applies one entry and advances its device's cursor, inside `tx`.
fn apply_entry(tx: &Transaction<'_>, entry: &RemoteEntry<'_>) -> Result<bool> {
    let RemoteEntry {
        device,
        seq,
        plaintext,
    } = *entry;
    let current: i64 = tx
        .prepare_cached("SELECT seq FROM cursors WHERE device = ?1")?
        .query_row([device], |r| r.get(0))
        .optional()?
        .unwrap_or(0);
    let current = current as u64;
    if seq <= current {
        return Ok(false);
    }
    if seq != current + 1 {
        return Err(Error::Decode(format!(
            "entry {seq} of device {device} arrived before entry {}",
            current + 1
        )));
    }
    match LogEntry::decode_payload(plaintext)? {
        Payload::Changes(changes) => apply_changes(tx, &changes)?,
        Payload::Fragment { part, of, bytes } => {
            // Parts are consecutive entries, applied in order: part k sits at
            // seq - k, and the last part finds all of them.
            tx.prepare_cached(
                "INSERT OR REPLACE INTO entry_fragments (device, seq, bytes) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![device, seq as i64, bytes])?;
            if part + 1 == of {
                let changes = join_fragments(tx, device, seq, of)?;
                apply_changes(tx, &changes)?;
            }
        }
    }
    tx.prepare_cached(
        "INSERT INTO cursors (device, seq) VALUES (?1, ?2)
         ON CONFLICT(device) DO UPDATE SET seq = excluded.seq",
    )?
    .execute(params![device, seq as i64])?;
    // An entry set aside earlier and now applied (a repaired copy arrived) is no
    // longer quarantined.
    tx.prepare_cached("DELETE FROM quarantine WHERE device = ?1 AND seq <= ?2")?
        .execute(params![device, seq as i64])?;
    Ok(true)
}

/// The changes of the fragments of `device` ending at `last`, joined; the fragments
/// are removed.
fn join_fragments(
    tx: &Transaction<'_>,
    device: &str,
    last: u64,
    of: u32,
) -> Result<Vec<DocChanges>> {
    let first = last + 1 - u64::from(of);
    let parts: Vec<Vec<u8>> = tx
        .prepare_cached(
            "SELECT bytes FROM entry_fragments WHERE device = ?1 AND seq BETWEEN ?2 AND ?3
             ORDER BY seq",
        )?
        .query_map(params![device, first as i64, last as i64], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if parts.len() != of as usize {
        return Err(Error::Decode(format!(
            "entry {last} of device {device} ends {of} parts, but only {} arrived",
            parts.len()
        )));
    }
    let joined = parts.concat();
    tx.prepare_cached("DELETE FROM entry_fragments WHERE device = ?1 AND seq BETWEEN ?2 AND ?3")?
        .execute(params![device, first as i64, last as i64])?;
    LogEntry::decode_changes(&joined)
}
