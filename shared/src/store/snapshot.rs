//! The account snapshot a checkpoint carries (every document's compacted bytes and
//! the cursor vector they hold), taken from this store and loaded into it.
//!
//! The body is the same CBOR as an entry's changes ([`LogEntry::encode_changes`]),
//! each document's changes being its whole saved bytes, so loading it into a store
//! that has documents already is applying changes: Automerge merges, idempotently.

use rusqlite::{params, TransactionBehavior};

use super::entry::{DocChanges, LogEntry};
use super::{docs, log, rebuild_read_model_in, Store};
use crate::Result;

/// A snapshot of every document of this store, with the cursor vector it holds.
#[derive(Clone, PartialEq, Eq)]
pub struct AccountSnapshot {
    /// For every device (this one included, at its own log's head), the last entry
    /// the documents hold.
    pub covers: Vec<(String, u64)>,
    /// The documents, as CBOR.
    pub body: Vec<u8>,
    /// How many documents the body holds.
    pub documents: usize,
}

impl std::fmt::Debug for AccountSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "AccountSnapshot({} documents, {} bytes, covers {:?})",
            self.documents,
            self.body.len(),
            self.covers
        )
    }
}

impl Store {
    /// Every document's saved bytes and the cursor vector they hold, read in one
    /// transaction. `None` while changes wait for others (`pending_changes`, or
    /// parts of a large entry): the documents would not hold every entry the
    /// cursors claim, and a relay pruning by those cursors would lose them.
    pub fn account_snapshot(&self) -> Result<Option<AccountSnapshot>> {
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Deferred)?;
        let waiting: i64 = tx.query_row(
            "SELECT (SELECT COUNT(*) FROM pending_changes) + (SELECT COUNT(*) FROM entry_fragments)",
            [],
            |r| r.get(0),
        )?;
        if waiting > 0 {
            return Ok(None);
        }
        let mut covers = self.cursors()?;
        covers.retain(|(device, _)| *device != self.device_id);
        let own = self.own_log_head()?;
        if own > 0 {
            covers.push((self.device_id.clone(), own));
        }
        covers.sort();
        let mut changes = Vec::new();
        docs::each(&tx, |_, doc_id, kind, bytes| {
            changes.push(DocChanges {
                doc_id,
                kind,
                bytes,
            });
            Ok(())
        })?;
        drop(tx);
        Ok(Some(AccountSnapshot {
            covers,
            documents: changes.len(),
            body: LogEntry::encode_changes(&changes),
        }))
    }

    /// Loads a snapshot's `body` and advances the cursors to `covers`, in one
    /// transaction: into an empty store the documents are written as they are and
    /// the read model built from them at once; into one with documents each is
    /// merged with the stored one. A body that does not parse, or a document that
    /// does not load, changes nothing. Returns how many documents it held.
    pub fn load_account_snapshot(
        &mut self,
        covers: &[(String, u64)],
        body: &[u8],
    ) -> Result<usize> {
        let changes = LogEntry::decode_changes(body)?;
        let own = self.device_id.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let empty: bool =
            tx.query_row("SELECT NOT EXISTS (SELECT 1 FROM docs)", [], |r| r.get(0))?;
        if empty {
            for c in &changes {
                docs::insert(&tx, &c.doc_id, c.kind, &c.bytes)?;
            }
            // The rebuild loads every document: bytes that are not one fail it, and
            // the transaction with them.
            rebuild_read_model_in(&tx)?;
        } else {
            log::apply_changes(&tx, &changes)?;
            super::redirects::settle(&tx, false)?;
        }
        for (device, seq) in covers.iter().filter(|(d, _)| *d != own) {
            tx.prepare_cached(
                "INSERT INTO cursors (device, seq) VALUES (?1, ?2)
                 ON CONFLICT(device) DO UPDATE SET seq = MAX(seq, excluded.seq)",
            )?
            .execute(params![device, *seq as i64])?;
            tx.prepare_cached("DELETE FROM quarantine WHERE device = ?1 AND seq <= ?2")?
                .execute(params![device, *seq as i64])?;
        }
        tx.commit()?;
        self.committed_many(changes.len())?;
        Ok(changes.len())
    }
}
