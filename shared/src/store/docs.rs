//! Reading and writing documents' saved bytes (the `docs` table), in one place.

use automerge::AutoCommit;
use rusqlite::{Connection, OptionalExtension, Transaction};

use crate::model::DocKind;
use crate::Result;

/// A document as stored: the spelling of its kind and its saved bytes.
pub(super) struct StoredDoc {
    pub kind: String,
    pub bytes: Vec<u8>,
}

/// The document `id` as stored, if there is one.
pub(super) fn read(conn: &Connection, id: &str) -> Result<Option<StoredDoc>> {
    Ok(conn
        .prepare_cached("SELECT kind, bytes FROM docs WHERE id = ?1")?
        .query_row([id], |r| {
            Ok(StoredDoc {
                kind: r.get(0)?,
                bytes: r.get(1)?,
            })
        })
        .optional()?)
}

/// Whether a document `id` is stored.
pub(super) fn exists(conn: &Connection, id: &str) -> Result<bool> {
    Ok(
        conn.query_row("SELECT COUNT(*) FROM docs WHERE id = ?1", [id], |r| {
            r.get(0)
        })?,
    )
}

/// Calls `f` with every stored document (rowid, id, kind, bytes), in rowid order.
pub(super) fn each(
    conn: &Connection,
    mut f: impl FnMut(i64, String, DocKind, Vec<u8>) -> Result<()>,
) -> Result<()> {
    let mut stmt = conn.prepare("SELECT rowid, id, kind, bytes FROM docs ORDER BY rowid")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let kind: String = row.get(2)?;
        f(row.get(0)?, row.get(1)?, kind.parse()?, row.get(3)?)?;
    }
    Ok(())
}

/// Writes a document's compacted bytes; returns its rowid.
pub(super) fn save(
    tx: &Transaction<'_>,
    id: &str,
    kind: DocKind,
    doc: &mut AutoCommit,
) -> Result<i64> {
    insert(tx, id, kind, &doc.save())
}

/// Writes `bytes` as the document `id`, replacing what it held; returns its rowid.
pub(super) fn insert(tx: &Transaction<'_>, id: &str, kind: DocKind, bytes: &[u8]) -> Result<i64> {
    Ok(tx
        .prepare_cached(
            "INSERT INTO docs (id, kind, bytes) VALUES (?1, ?2, ?3)
             ON CONFLICT(id) DO UPDATE SET bytes = excluded.bytes
             RETURNING rowid",
        )?
        .query_row(rusqlite::params![id, kind.as_str(), bytes], |r| r.get(0))?)
}
