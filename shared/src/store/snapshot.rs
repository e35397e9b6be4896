//! The account snapshot a checkpoint carries (every document's compacted bytes and
//! the cursor vector they hold), taken from this store and loaded into it.
//!
//! The body is the same CBOR as an entry's changes ([`LogEntry::encode_changes`]),
//! each document's changes being its whole saved bytes, so loading it into a store
//! that has documents already is applying changes: Automerge merges, idempotently.
//! A second CBOR item follows: the read model's rows ([`read_model_copy`]), which a
//! new device's empty store takes as they are when they fit its schema. A body
//! without it (a checkpoint made before it existed) loads as before, by decoding
//! every document.

use rusqlite::{params, TransactionBehavior};

use super::entry::{DocChanges, LogEntry};
use super::{docs, fill_read_model_in, log, read_model_copy, Store};
use crate::Result;

/// What [`Store::load_account_snapshot`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedSnapshot {
    /// How many documents the snapshot held.
    pub documents: usize,
    pub read_model: ReadModelFrom,
}

/// Where the read model came from after a snapshot was loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadModelFrom {
    /// An empty store took the snapshot's copy of the rows.
    Copy,
    /// An empty store decoded every document: the snapshot had no copy of the rows
    /// (`None`), or one that did not fit this store (why).
    Documents { unfit_copy: Option<String> },
    /// A store with documents merged each one and updated its rows.
    Merged,
}

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
        let mut body = LogEntry::encode_changes(&changes);
        body.extend(read_model_copy::encode(&tx)?);
        drop(tx);
        Ok(Some(AccountSnapshot {
            covers,
            documents: changes.len(),
            body,
        }))
    }

    /// Loads a snapshot's `body` and advances the cursors to `covers`, in one
    /// transaction: into an empty store the documents are written as they are and
    /// the read model taken from the snapshot's copy of it, or built from the
    /// documents; into one with documents each is merged with the stored one. A
    /// body that does not parse, or (where documents are decoded) a document that
    /// does not load, changes nothing.
    pub fn load_account_snapshot(
        &mut self,
        covers: &[(String, u64)],
        body: &[u8],
    ) -> Result<LoadedSnapshot> {
        let (changes, copy) = LogEntry::decode_changes_prefix(body)?;
        let own = self.device_id.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let empty: bool =
            tx.query_row("SELECT NOT EXISTS (SELECT 1 FROM docs)", [], |r| r.get(0))?;
        let read_model = if empty {
            for c in &changes {
                docs::insert(&tx, &c.doc_id, c.kind, &c.bytes)?;
            }
            // A rebuild loads every document: bytes that are not one fail it, and
            // the transaction with them.
            fill_read_model_in(&tx, Some(copy).filter(|c| !c.is_empty()))?
        } else {
            log::apply_changes(&tx, &changes)?;
            super::redirects::settle(&tx, false)?;
            ReadModelFrom::Merged
        };
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
        Ok(LoadedSnapshot {
            documents: changes.len(),
            read_model,
        })
    }
}
