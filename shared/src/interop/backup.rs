//! The complete backup: every document with its full history, as JSON, and
//! restoring it into an empty store.
//!
//! Each document is kept as its Automerge bytes, so ids, history and concurrent
//! edits survive; the restored store rebuilds the same read model from them. A
//! restore goes through [`Store::write`]: the documents enter this device's own log
//! and so reach the account's other devices like any local write. Attachment content
//! this device has travels in the same file (`blobs`, base64), and is restored in the
//! same transaction as the documents that refer to it, checked against its hash.

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::model::{BlobHash, DocKind, MAX_ATTACHMENT_BYTES};
use crate::queries::PersonSummary;
use crate::{Error, Result, Store};

/// What the `format` field of a backup says.
pub const BACKUP_FORMAT: &str = "aftercall-backup";

/// Documents restored per own-log entry.
const RESTORE_BATCH: usize = 200;

/// A backup file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backup {
    pub format: String,
    pub version: u32,
    /// When it was made, RFC 3339.
    pub made_at: String,
    /// Every record, with its whole history.
    pub documents: Vec<BackupDocument>,
    /// The content of the attachments, those this device has (a backup made before
    /// attachments has none).
    #[serde(default)]
    pub blobs: Vec<BackupBlob>,
    /// The people by name, for reading the file without Aftercall (not read back).
    #[serde(default, skip_deserializing)]
    pub people: Vec<PersonSummary>,
}

/// One record in a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupDocument {
    pub id: String,
    pub kind: DocKind,
    /// The Automerge document, base64.
    pub automerge: String,
}

/// One attachment's content in a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupBlob {
    /// BLAKE3 of the content.
    pub hash: BlobHash,
    /// The content, base64.
    pub content: String,
}

impl Backup {
    /// Reads a backup file's text; anything else is a clear error.
    pub fn from_json(text: &str) -> Result<Backup> {
        let backup: Backup = serde_json::from_str(text)
            .map_err(|e| Error::Decode(format!("this is not an Aftercall backup ({e})")))?;
        if backup.format != BACKUP_FORMAT {
            return Err(Error::Decode(format!(
                "this is not an Aftercall backup: its format is '{}'",
                backup.format
            )));
        }
        if backup.version != 1 {
            return Err(Error::invalid(format!(
                "this backup is version {} and this Aftercall reads version 1: update the app",
                backup.version
            )));
        }
        Ok(backup)
    }

    /// The backup as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

impl Store {
    /// Everything this store holds, for a backup file: records by id, so devices
    /// holding the same records write them in one order.
    pub fn backup(&self) -> Result<Backup> {
        let mut stmt = self
            .conn()
            .prepare("SELECT id, kind, bytes FROM docs ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Vec<u8>>(2)?,
            ))
        })?;
        let mut documents = Vec::new();
        for row in rows {
            let (id, kind, bytes) = row?;
            documents.push(BackupDocument {
                id,
                kind: kind.parse()?,
                automerge: base64::engine::general_purpose::STANDARD.encode(bytes),
            });
        }
        let hashes: Vec<BlobHash> = self
            .conn()
            .prepare(
                "SELECT hash FROM blobs WHERE hash IN (SELECT blob FROM attachments) ORDER BY hash",
            )?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut blobs = Vec::with_capacity(hashes.len());
        for hash in hashes {
            if let Some(content) = self.blob(&hash)? {
                blobs.push(BackupBlob {
                    hash,
                    content: base64::engine::general_purpose::STANDARD.encode(content),
                });
            }
        }
        Ok(Backup {
            format: BACKUP_FORMAT.into(),
            version: 1,
            made_at: self.now().to_rfc3339(),
            documents,
            blobs,
            people: self.people(usize::MAX / 2)?,
        })
    }

    /// True when the store holds no record at all.
    pub fn is_empty(&self) -> Result<bool> {
        let n: i64 = self
            .conn()
            .query_row("SELECT COUNT(*) FROM docs", [], |r| r.get(0))?;
        Ok(n == 0)
    }

    /// Restores a backup into this store, which must be empty. Returns how many
    /// records were restored.
    pub fn restore_backup(&mut self, backup: &Backup) -> Result<usize> {
        let _span = tracing::debug_span!("restore_backup").entered();
        if !self.is_empty()? {
            return Err(Error::invalid(
                "this store already holds data: restore a backup only into an empty data \
                 directory (pass --data-dir with a new directory)",
            ));
        }
        let mut decoded = Vec::with_capacity(backup.documents.len());
        for d in &backup.documents {
            let valid_id = !d.id.is_empty()
                && d.id.len() <= 64
                && d.id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !valid_id {
                return Err(Error::Decode(format!(
                    "the backup names an invalid record id '{}'",
                    d.id
                )));
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(&d.automerge)
                .map_err(|e| Error::Decode(format!("record {} in the backup: {e}", d.id)))?;
            // Check every document loads before writing any.
            automerge::AutoCommit::load(&bytes)
                .map_err(|e| Error::Decode(format!("record {} in the backup: {e}", d.id)))?;
            decoded.push((d, bytes));
        }
        let mut blobs = Vec::with_capacity(backup.blobs.len());
        for b in &backup.blobs {
            let content = base64::engine::general_purpose::STANDARD
                .decode(&b.content)
                .map_err(|e| Error::Decode(format!("attachment {} in the backup: {e}", b.hash)))?;
            if content.len() as u64 > MAX_ATTACHMENT_BYTES {
                return Err(Error::Decode(format!(
                    "attachment {} in the backup is larger than an attachment may be",
                    b.hash
                )));
            }
            if BlobHash::of(&content) != b.hash {
                return Err(Error::Decode(format!(
                    "attachment {} in the backup is damaged: its content does not match its hash",
                    b.hash
                )));
            }
            blobs.push((b.hash, content));
        }
        // One transaction: a restore that fails part way leaves the store empty, so
        // it can simply be run again. Content comes in before the records that refer
        // to it, and content nothing refers to is not kept.
        self.write(|w| {
            let now = w.now().timestamp_millis();
            for (hash, content) in &blobs {
                crate::store::insert_blob(w.tx(), hash, content, now, false)?;
            }
            for batch in decoded.chunks(RESTORE_BATCH) {
                for (d, bytes) in batch {
                    w.load_changes(&d.id, d.kind, bytes)?;
                }
                w.end_entry()?;
            }
            crate::store::collect_all_blobs(w.tx())?;
            Ok(())
        })?;
        Ok(decoded.len())
    }
}
