//! Attachment content in the store file itself: each blob whole in `blobs`, its
//! bytes in 256 KiB rows of `blob_chunks`.
//!
//! A blob is written inside the transaction of the document change that first
//! references it (or, downloaded, in one transaction of its own), so a `blobs` row
//! always has every chunk, and an attachment that appeared is complete on every
//! platform (a file on the desktop, the origin-private file system on a phone). A
//! blob no attachment row refers to any more is deleted: when the last reference
//! goes (in the projection that removes it) and by [`Store::collect_blobs`].

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use crate::model::BlobHash;
use crate::{Error, Result, Store};

/// Bytes per row of `blob_chunks`.
pub(crate) const CHUNK: usize = 256 * 1024;

/// Writes `content` as blob `hash` unless it is already here. `uploaded`: the relay
/// is known to hold it (it came from there).
pub(crate) fn insert(
    tx: &Transaction<'_>,
    hash: &BlobHash,
    content: &[u8],
    now_ms: i64,
    uploaded: bool,
) -> Result<()> {
    let added = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO blobs (hash, size, uploaded, added_at) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![hash, content.len() as i64, uploaded, now_ms])?;
    if added == 1 {
        let mut chunk = tx.prepare_cached(
            "INSERT OR REPLACE INTO blob_chunks (hash, seq, bytes) VALUES (?1, ?2, ?3)",
        )?;
        for (seq, bytes) in content.chunks(CHUNK).enumerate() {
            chunk.execute(params![hash, seq as i64, bytes])?;
        }
    }
    tx.prepare_cached("DELETE FROM blobs_wanted WHERE hash = ?1")?
        .execute([hash])?;
    Ok(())
}

/// Whether blob `hash` is here.
pub(crate) fn present(conn: &Connection, hash: &BlobHash) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM blobs WHERE hash = ?1")?
        .query_row([hash], |_| Ok(()))
        .optional()?
        .is_some())
}

/// The content of blob `hash`, checked against its hash; `None` when it is not here.
pub(crate) fn read(conn: &Connection, hash: &BlobHash) -> Result<Option<Vec<u8>>> {
    let size: Option<i64> = conn
        .prepare_cached("SELECT size FROM blobs WHERE hash = ?1")?
        .query_row([hash], |r| r.get(0))
        .optional()?;
    let Some(size) = size else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    let mut stmt =
        conn.prepare_cached("SELECT bytes FROM blob_chunks WHERE hash = ?1 ORDER BY seq")?;
    let mut rows = stmt.query([hash])?;
    while let Some(row) = rows.next()? {
        let bytes = row.get_ref(0)?.as_blob().map_err(rusqlite::Error::from)?;
        out.extend_from_slice(bytes);
    }
    if out.len() as i64 != size || BlobHash::of(&out) != *hash {
        return Err(Error::Document(format!(
            "the stored copy of attachment content {} is damaged",
            hash.short()
        )));
    }
    Ok(Some(out))
}

/// Deletes those of `hashes` that no attachment row refers to any more.
pub(crate) fn collect(tx: &Transaction<'_>, hashes: &[BlobHash]) -> Result<()> {
    for hash in hashes {
        let referenced = tx
            .prepare_cached("SELECT 1 FROM attachments WHERE blob = ?1 LIMIT 1")?
            .query_row([hash], |_| Ok(()))
            .optional()?
            .is_some();
        if !referenced {
            delete(tx, hash)?;
        }
    }
    Ok(())
}

fn delete(tx: &Transaction<'_>, hash: &BlobHash) -> Result<()> {
    tx.prepare_cached("DELETE FROM blob_chunks WHERE hash = ?1")?
        .execute([hash])?;
    tx.prepare_cached("DELETE FROM blobs WHERE hash = ?1")?
        .execute([hash])?;
    tx.prepare_cached("DELETE FROM blobs_wanted WHERE hash = ?1")?
        .execute([hash])?;
    Ok(())
}

impl Store {
    /// The content of blob `hash`, or `None` when this device does not have it (yet).
    pub fn blob(&self, hash: &BlobHash) -> Result<Option<Vec<u8>>> {
        read(self.conn(), hash)
    }

    /// Stores a blob that arrived from elsewhere (a download). The content must hash
    /// to `hash`; a blob already here is left as it is. It counts as uploaded.
    pub fn put_blob(&mut self, hash: &BlobHash, content: &[u8]) -> Result<()> {
        if BlobHash::of(content) != *hash {
            return Err(Error::Decode(format!(
                "downloaded content does not match its hash {}",
                hash.short()
            )));
        }
        let now = self.now().timestamp_millis();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        insert(&tx, hash, content, now, true)?;
        tx.commit()?;
        self.committed()
    }

    /// Blobs here that the relay does not hold yet, oldest first, with their sizes.
    pub fn blobs_to_upload(&self) -> Result<Vec<(BlobHash, u64)>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT hash, size FROM blobs WHERE uploaded = 0 ORDER BY added_at, hash",
        )?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Counts every blob here as not on the relay (the account moved to new keys,
    /// under which the relay holds none yet).
    pub fn mark_blobs_not_uploaded(&self) -> Result<()> {
        self.conn().execute("UPDATE blobs SET uploaded = 0", [])?;
        self.committed()
    }

    /// Records that the relay holds blob `hash`.
    pub fn mark_blob_uploaded(&self, hash: &BlobHash) -> Result<()> {
        self.conn()
            .prepare_cached("UPDATE blobs SET uploaded = 1 WHERE hash = ?1")?
            .execute([hash])?;
        self.committed()
    }

    /// Blobs a live attachment refers to that this device lacks and should fetch:
    /// those of at most `auto_download_max` bytes, and those the user asked to open
    /// ([`Store::want_blob`]); the wanted first, then smallest first.
    pub fn blobs_missing(&self, auto_download_max: u64) -> Result<Vec<(BlobHash, u64)>> {
        let max = i64::try_from(auto_download_max).unwrap_or(i64::MAX);
        let mut stmt = self.conn().prepare_cached(
            "SELECT a.blob, MAX(a.size), MAX(w.hash IS NOT NULL) AS wanted
             FROM attachments a LEFT JOIN blobs_wanted w ON w.hash = a.blob
             WHERE a.deleted = 0 AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.hash = a.blob)
             GROUP BY a.blob
             HAVING MAX(a.size) <= ?1 OR wanted
             ORDER BY wanted DESC, MAX(a.size), a.blob",
        )?;
        let rows = stmt
            .query_map([max], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Asks for blob `hash` to be downloaded whatever its size (the user opened an
    /// attachment whose content is not here yet). Nothing happens when it is here.
    pub fn want_blob(&self, hash: &BlobHash) -> Result<()> {
        if present(self.conn(), hash)? {
            return Ok(());
        }
        self.conn()
            .prepare_cached("INSERT OR IGNORE INTO blobs_wanted (hash) VALUES (?1)")?
            .execute([hash])?;
        self.committed()
    }

    /// Deletes every blob no attachment refers to any more (and wishes for blobs no
    /// attachment refers to); returns how many blobs went. [`Store::checkpoint`]
    /// does it too, so the app's upkeep runs it shortly after writes.
    pub fn collect_blobs(&self) -> Result<usize> {
        let tx = Transaction::new_unchecked(self.conn(), TransactionBehavior::Immediate)?;
        let n = collect_all(&tx)?;
        tx.commit()?;
        Ok(n)
    }
}

/// Deletes every blob (and wish) no attachment row refers to; returns how many blobs.
pub(crate) fn collect_all(tx: &Transaction<'_>) -> Result<usize> {
    let orphans: Vec<BlobHash> = tx
        .prepare_cached(
            "SELECT hash FROM blobs WHERE NOT EXISTS
                (SELECT 1 FROM attachments a WHERE a.blob = blobs.hash)",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for hash in &orphans {
        delete(tx, hash)?;
    }
    tx.prepare_cached(
        "DELETE FROM blobs_wanted WHERE NOT EXISTS
            (SELECT 1 FROM attachments a WHERE a.blob = blobs_wanted.hash)",
    )?
    .execute([])?;
    Ok(orphans.len())
}
