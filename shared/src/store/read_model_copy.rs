//! The read model as a checkpoint carries it, so a new device writes its rows as
//! they are instead of decoding every document.
//!
//! Decoding is most of a bootstrap's cost (loading each Automerge document and
//! hydrating its record takes about 100 µs, writing its rows about 16 µs), and the
//! read model is a function of the documents alone: every device derives the same
//! rows (the stories compare them). A snapshot therefore carries, after its
//! documents, the rows of every read-model table, read in the same transaction as
//! the documents and tagged with the store's schema version.
//!
//! The copy is only a shortcut. It is used when its schema version is this store's
//! and every table it names is one of [`TABLES`](super::read_model::TABLES) with
//! exactly this store's columns; anything else (an older or newer app on the device
//! that made the checkpoint, a section that does not parse, a value of a wrong
//! type) and the read model is rebuilt from the documents, as before. Table and
//! column names are therefore only ever ones this store already has.
//! The search index keeps no copy of its text (its tables are contentless), so it
//! is carried as each document's indexed words in order, by document id rather
//! than the source's row ids: indexing those words again gives the same words at
//! the same places, as the words are already folded.

use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, Transaction};
use serde::{Deserialize, Serialize};

use super::read_model::TABLES;
use crate::{Error, Result};

/// The tables of the search index: their rows travel as (document id, text).
const SEARCH_TABLES: [&str; 2] = ["search_own", "search_notes"];

#[derive(Serialize, Deserialize)]
struct CopyWire {
    /// The store's `user_version` when the rows were read.
    schema: i64,
    tables: Vec<TableWire>,
}

#[derive(Serialize, Deserialize)]
struct TableWire {
    name: String,
    columns: Vec<String>,
    /// Every row's cells, one after another (`columns.len()` a row).
    cells: Vec<ciborium::Value>,
}

fn schema_version(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

fn columns_of(conn: &Connection, table: &str) -> Result<Vec<String>> {
    if SEARCH_TABLES.contains(&table) {
        return Ok(vec!["doc".into(), "body".into()]);
    }
    let mut stmt = conn.prepare(&format!("PRAGMA table_info(\"{table}\")"))?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(1))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(names)
}

fn to_wire(value: ValueRef<'_>) -> Result<ciborium::Value> {
    Ok(match value {
        ValueRef::Null => ciborium::Value::Null,
        ValueRef::Integer(i) => ciborium::Value::Integer(i.into()),
        ValueRef::Real(f) => ciborium::Value::Float(f),
        ValueRef::Text(t) => ciborium::Value::Text(
            String::from_utf8(t.to_vec())
                .map_err(|_| Error::Decode("read-model text is not UTF-8".into()))?,
        ),
        ValueRef::Blob(b) => ciborium::Value::Bytes(b.to_vec()),
    })
}

fn from_wire(value: ciborium::Value) -> Result<Value> {
    Ok(match value {
        ciborium::Value::Null => Value::Null,
        ciborium::Value::Integer(i) => Value::Integer(
            i64::try_from(i).map_err(|_| Error::Decode("read-model integer too large".into()))?,
        ),
        ciborium::Value::Float(f) => Value::Real(f),
        ciborium::Value::Text(t) => Value::Text(t),
        ciborium::Value::Bytes(b) => Value::Blob(b),
        _ => return Err(Error::Decode("read-model cell of an unknown type".into())),
    })
}

/// Every read-model row of `conn`, as a checkpoint carries them; read inside the
/// caller's transaction, so they match the documents read in it.
pub(super) fn encode(conn: &Connection) -> Result<Vec<u8>> {
    let mut tables = Vec::with_capacity(TABLES.len());
    for name in TABLES {
        let columns = columns_of(conn, name)?;
        let search = SEARCH_TABLES.contains(&name);
        let select = if search {
            conn.execute_batch(&format!(
                "CREATE VIRTUAL TABLE temp.copy_words USING fts5vocab(main, {name}, 'instance')"
            ))?;
            "SELECT d.id, group_concat(w.term, ' ' ORDER BY w.offset)
             FROM temp.copy_words w JOIN docs d ON d.rowid = w.doc GROUP BY w.doc"
                .to_string()
        } else {
            let list: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
            format!("SELECT {} FROM {name}", list.join(", "))
        };
        let mut stmt = conn.prepare(&select)?;
        let mut rows = stmt.query([])?;
        let mut cells = Vec::new();
        while let Some(row) = rows.next()? {
            for i in 0..columns.len() {
                cells.push(to_wire(row.get_ref(i)?)?);
            }
        }
        drop(rows);
        drop(stmt);
        if search {
            conn.execute_batch("DROP TABLE temp.copy_words")?;
        }
        tables.push(TableWire {
            name: name.to_string(),
            columns,
            cells,
        });
    }
    let mut out = Vec::new();
    ciborium::into_writer(
        &CopyWire {
            schema: schema_version(conn)?,
            tables,
        },
        &mut out,
    )
    .map_err(|e| Error::Decode(format!("read-model copy: {e}")))?;
    Ok(out)
}

/// Writes the rows of `copy` into the empty read model of `tx`, whose documents
/// are already written. An error leaves rows half-written: the caller rebuilds
/// the read model from the documents instead (which clears it first).
pub(super) fn load(tx: &Transaction<'_>, copy: &[u8]) -> Result<()> {
    let wire: CopyWire =
        ciborium::from_reader(copy).map_err(|e| Error::Decode(format!("read-model copy: {e}")))?;
    let ours = schema_version(tx)?;
    if wire.schema != ours {
        return Err(Error::Decode(format!(
            "read-model copy of schema {}, this store is at {ours}",
            wire.schema
        )));
    }
    let named: Vec<&str> = wire.tables.iter().map(|t| t.name.as_str()).collect();
    if named != TABLES {
        return Err(Error::Decode(
            "read-model copy names other tables than this store has".into(),
        ));
    }
    for (table, name) in wire.tables.into_iter().zip(TABLES) {
        let columns = columns_of(tx, name)?;
        if table.columns != columns || table.cells.len() % columns.len().max(1) != 0 {
            return Err(Error::Decode(format!(
                "read-model copy of {name} has other columns than this store"
            )));
        }
        let insert = if SEARCH_TABLES.contains(&name) {
            format!("INSERT INTO {name} (rowid, body) SELECT rowid, ?2 FROM docs WHERE id = ?1")
        } else {
            let list: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
            let marks: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
            format!(
                "INSERT INTO {name} ({}) VALUES ({})",
                list.join(", "),
                marks.join(", ")
            )
        };
        let mut stmt = tx.prepare(&insert)?;
        let mut cells = table.cells.into_iter();
        loop {
            let row: Vec<Value> = cells
                .by_ref()
                .take(columns.len())
                .map(from_wire)
                .collect::<Result<_>>()?;
            if row.is_empty() {
                break;
            }
            let written = stmt.execute(rusqlite::params_from_iter(row))?;
            if written != 1 {
                return Err(Error::Decode(format!(
                    "read-model copy of {name} names a document the snapshot lacks"
                )));
            }
        }
    }
    Ok(())
}
