//! The [`Writer`] a command gets for one write: load, change and save documents.
//!
//! Every document it changes is projected into the read model and its changes
//! gathered into the write's own-log entry (several for a large write).

use automerge::{transaction::CommitOptions, ActorId, AutoCommit};
use autosurgeon::{hydrate, reconcile, Hydrate, Reconcile};
use chrono::{DateTime, Utc};
use rusqlite::Transaction;

use super::entry::{DocChanges, MAX_ENTRY_PLAINTEXT, MAX_RECORD_CHANGES};
use super::read_model::{self, Rows};
use super::{docs, log};
use crate::env::{new_id, Entropy};
use crate::model::{DocKind, Record};
use crate::{Error, Result};

/// The handle a command gets for one write. Every document it changes is saved,
/// projected into the read model and recorded for the own-log entry.
pub struct Writer<'a> {
    tx: &'a Transaction<'a>,
    actor: &'a ActorId,
    entropy: &'a mut dyn Entropy,
    now: DateTime<Utc>,
    changes: Vec<DocChanges>,
    /// Bytes of `changes`, about.
    pending: usize,
}

impl<'a> Writer<'a> {
    pub(super) fn new(
        tx: &'a Transaction<'a>,
        actor: &'a ActorId,
        entropy: &'a mut dyn Entropy,
        now: DateTime<Utc>,
    ) -> Self {
        Writer {
            tx,
            actor,
            entropy,
            now,
            changes: Vec::new(),
            pending: 0,
        }
    }

    /// Records the changes made so far as one own-log entry and starts the next.
    /// A large write (a restore, an import) ends an entry every few hundred records,
    /// so each entry stays small enough to sync while the write commits as one.
    pub fn end_entry(&mut self) -> Result<()> {
        if !self.changes.is_empty() {
            let changes = std::mem::take(&mut self.changes);
            log::append(self.tx, changes, self.now.timestamp_millis())?;
            self.pending = 0;
        }
        Ok(())
    }

    /// Adds one document's changes to this write's entry, ending the entry first when
    /// they would take it past what one sealed entry holds.
    fn record(&mut self, change: DocChanges) -> Result<()> {
        let size = change.wire_size();
        if self.pending + size > MAX_ENTRY_PLAINTEXT {
            self.end_entry()?;
        }
        self.pending += size;
        self.changes.push(change);
        Ok(())
    }

    /// The time of this write.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// A fresh random id.
    pub fn new_id(&mut self) -> String {
        new_id(self.entropy)
    }

    /// The transaction, for reading the read model inside the write.
    pub(crate) fn tx(&self) -> &Transaction<'a> {
        self.tx
    }

    /// Creates a new document holding `value`; returns its id.
    pub fn create<T: Reconcile + Clone + Into<Record>>(
        &mut self,
        kind: DocKind,
        value: &T,
    ) -> Result<String> {
        let id = self.new_id();
        self.create_as(&id, kind, value)?;
        Ok(id)
    }

    /// Creates a document under an id the caller chose (one that every device
    /// works out alike, such as a meeting's); returns it.
    pub fn create_as<T: Reconcile + Clone + Into<Record>>(
        &mut self,
        id: &str,
        kind: DocKind,
        value: &T,
    ) -> Result<()> {
        let mut doc = AutoCommit::new().with_actor(self.actor.clone());
        reconcile(&mut doc, value)?;
        self.commit(id, kind, None, doc, &value.clone().into())
    }

    /// Whether a document `id` is stored.
    pub(crate) fn exists(&self, id: &str) -> Result<bool> {
        docs::exists(self.tx, id)
    }

    /// Reads a document as it stands inside this write.
    pub fn read<T: Hydrate>(&self, id: &str, kind: DocKind) -> Result<T> {
        let doc = self.load(id, kind)?;
        Ok(hydrate(&doc)?)
    }

    /// Changes a document: hydrate, let `f` edit the value, reconcile the difference.
    pub fn update<T: Hydrate + Reconcile + Into<Record>, R>(
        &mut self,
        id: &str,
        kind: DocKind,
        f: impl FnOnce(&mut T) -> Result<R>,
    ) -> Result<R> {
        let mut doc = self.load(id, kind)?;
        let heads = doc.get_heads();
        let mut value: T = hydrate(&doc)?;
        let out = f(&mut value)?;
        reconcile(&mut doc, &value)?;
        self.commit(id, kind, Some(&heads), doc, &value.into())?;
        Ok(out)
    }

    /// Brings in a document's changes made elsewhere (a backup being restored): the
    /// document is saved and projected, and the changes join this write's own-log
    /// entry so that the account's other devices receive them too.
    pub fn load_changes(&mut self, id: &str, kind: DocKind, changes: &[u8]) -> Result<()> {
        let exists = docs::exists(self.tx, id)?;
        let mut doc = if exists {
            self.load(id, kind)?
        } else {
            AutoCommit::new().with_actor(self.actor.clone())
        };
        let before = doc.get_heads();
        doc.load_incremental(changes)?;
        if exists && doc.get_heads() == before {
            return Ok(());
        }
        let rowid = docs::save(self.tx, id, kind, &mut doc)?;
        let rows = if exists { Rows::Replace } else { Rows::New };
        read_model::project(self.tx, rowid, id, kind, &doc, rows)?;
        // A restored record larger than one entry is sent in parts.
        self.record(DocChanges {
            doc_id: id.to_string(),
            kind,
            bytes: changes.to_vec(),
        })
    }

    fn load(&self, id: &str, kind: DocKind) -> Result<AutoCommit> {
        let stored = docs::read(self.tx, id)?
            .ok_or_else(|| Error::not_found(format!("no {kind} with id {id}")))?;
        if stored.kind != kind.as_str() {
            return Err(Error::not_found(format!(
                "record {id} is of kind {}, not {kind}",
                stored.kind
            )));
        }
        Ok(AutoCommit::load(&stored.bytes)?.with_actor(self.actor.clone()))
    }

    /// Commits `doc`, which holds exactly `record`, saves it and writes its rows.
    fn commit(
        &mut self,
        id: &str,
        kind: DocKind,
        before: Option<&[automerge::ChangeHash]>,
        mut doc: AutoCommit,
        record: &Record,
    ) -> Result<()> {
        let time = self.now.timestamp();
        doc.commit_with(CommitOptions::default().with_time(time));
        let (rowid, changes, rows) = match before {
            Some(heads) if doc.get_heads() == heads => return Ok(()),
            Some(heads) if too_large(doc.save_after(heads).len()) => {
                return Err(record_too_large(kind, doc.save_after(heads).len()))
            }
            Some(heads) => (
                docs::save(self.tx, id, kind, &mut doc)?,
                doc.save_after(heads),
                Rows::Replace,
            ),
            None => {
                // A new document's changes are the whole document: save it once.
                let bytes = doc.save();
                if too_large(bytes.len()) {
                    return Err(record_too_large(kind, bytes.len()));
                }
                (docs::insert(self.tx, id, kind, &bytes)?, bytes, Rows::New)
            }
        };
        read_model::project_record(self.tx, rowid, id, record, rows)?;
        self.record(DocChanges {
            doc_id: id.to_string(),
            kind,
            bytes: changes,
        })
    }
}

fn too_large(bytes: usize) -> bool {
    bytes > MAX_RECORD_CHANGES
}

/// The refusal of a save whose one record would not fit an entry the relay accepts.
fn record_too_large(kind: DocKind, bytes: usize) -> Error {
    Error::TooLarge(format!(
        "this {kind} is too large to save and sync: its changes take {}, and one save of a record may take at most {}; shorten the text or split it into several notes",
        megabytes(bytes),
        megabytes(MAX_RECORD_CHANGES)
    ))
}

/// Bytes as megabytes with one decimal, as a person reads a size.
fn megabytes(bytes: usize) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}
