//! Finding records by name or by (a prefix of) their id.

use rusqlite::{params, Connection, OptionalExtension};

use crate::model::{DocKind, PersonId, RecordId};
use crate::{fold, Error, Result, Store};

/// The live person with this name (case- and spacing-insensitive), most recently
/// created first: their id and their name as stored.
pub(crate) fn person_by_name(conn: &Connection, name: &str) -> Result<Option<(String, String)>> {
    Ok(conn
        .prepare_cached(
            "SELECT id, name FROM people WHERE name_key = ?1 AND deleted = 0
             ORDER BY created_at DESC, id LIMIT 1",
        )?
        .query_row([fold::name_key(name)], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

/// The name of the person with this id, deleted or not, as the read model holds it.
pub(crate) fn person_name(conn: &Connection, id: &str) -> Result<String> {
    conn.prepare_cached("SELECT name FROM people WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?
        .ok_or_else(|| Error::not_found(format!("no {} with id {id}", DocKind::Person)))
}

pub(crate) fn event_by_name(conn: &Connection, name: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached(
            "SELECT id FROM events WHERE name_key = ?1 AND deleted = 0 ORDER BY date DESC, id LIMIT 1",
        )?
        .query_row([fold::name_key(name)], |r| r.get(0))
        .optional()?)
}

/// Resolves a full id or a unique prefix of at least 4 characters in `table`.
pub(crate) fn resolve_prefix(
    conn: &Connection,
    table: &str,
    what: &str,
    id: &str,
) -> Result<String> {
    let id = id.trim().to_lowercase();
    if id.len() < 4 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::invalid(format!(
            "'{id}' is not a {what} id: give at least 4 of its hex characters"
        )));
    }
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT id FROM {table} WHERE id >= ?1 AND id < ?2 ORDER BY id LIMIT 2"
    ))?;
    let upper = format!("{id}g"); // 'g' sorts after every hex digit
    let found: Vec<String> = stmt
        .query_map(params![id, upper], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(Error::not_found(format!(
            "no {what} has an id starting with {id}"
        ))),
        _ => Err(Error::invalid(format!(
            "more than one {what} id starts with {id}: give more of it"
        ))),
    }
}

impl Store {
    /// The kind of the document with this id (or unique id prefix), and its full id.
    pub fn resolve_doc(&self, id: &str) -> Result<(RecordId, DocKind)> {
        let full = resolve_prefix(self.conn(), "docs", "record", id)?;
        let kind: String =
            self.conn()
                .query_row("SELECT kind FROM docs WHERE id = ?1", [&full], |r| r.get(0))?;
        Ok((full.into(), kind.parse()?))
    }

    /// The live person with exactly this name, ignoring case and spacing.
    pub fn find_person(&self, name: &str) -> Result<PersonId> {
        person_by_name(self.conn(), name)?
            .map(|(id, _)| id.into())
            .ok_or_else(|| {
                Error::not_found(format!("nobody called '{}' is in your people", name.trim()))
            })
    }

    /// A person by id prefix or, failing that, by name.
    pub fn find_person_by_id_or_name(&self, text: &str) -> Result<PersonId> {
        if let Ok(id) = resolve_prefix(self.conn(), "people", "person", text) {
            // A person merged away leads to the person kept.
            return Ok(crate::store::kept_person(self.conn(), &id)?.into());
        }
        self.find_person(text)
    }

    /// One person by id prefix or by name, refusing a name that several live people
    /// share (say which ids to give instead). A person merged away leads to the
    /// person kept.
    pub fn find_one_person(&self, text: &str) -> Result<PersonId> {
        match resolve_prefix(self.conn(), "people", "person", text) {
            Ok(id) => return Ok(crate::store::kept_person(self.conn(), &id)?.into()),
            Err(Error::Invalid(m)) if m.starts_with("more than one") => {
                return Err(Error::Invalid(m))
            }
            Err(_) => {}
        }
        let ids: Vec<String> = self
            .conn()
            .prepare_cached(
                "SELECT id FROM people WHERE name_key = ?1 AND deleted = 0 ORDER BY id",
            )?
            .query_map([fold::name_key(text)], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        match ids.as_slice() {
            [] => Err(Error::not_found(format!(
                "nobody called '{}' is in your people",
                text.trim()
            ))),
            [one] => Ok(one.clone().into()),
            several => Err(Error::invalid(format!(
                "{} people are called '{}': give one of their ids instead ({})",
                several.len(),
                text.trim(),
                several
                    .iter()
                    .map(|id| &id[..id.len().min(8)])
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
}
