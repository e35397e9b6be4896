//! Attachments as lists show them, and their content.

use rusqlite::{Connection, Row};
use serde::{Deserialize, Serialize};

use crate::commands::lookup::resolve_prefix;
use crate::model::{
    AttachmentId, AttachmentKind, AttachmentOwner, BlobHash, DocKind, InteractionId, MediaType,
    PersonId,
};
use crate::store::kept_person;
use crate::{Error, Result, Store};

/// One attachment: what it is, where it is kept, and whether its content is here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentRow {
    pub id: AttachmentId,
    pub owner: AttachmentOwner,
    pub name: String,
    pub media_type: MediaType,
    pub kind: AttachmentKind,
    /// Bytes.
    pub size: u64,
    pub blob: BlobHash,
    /// Milliseconds since the epoch.
    pub added_at: i64,
    /// The content is on this device (an attachment that came by sync may not be yet).
    pub downloaded: bool,
}

/// An attachment with its content, when this device has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentContent {
    pub row: AttachmentRow,
    /// `None`: not downloaded yet (opening it asked for it).
    #[serde(with = "crate::api::bytes::option")]
    pub content: Option<Vec<u8>>,
}

const COLUMNS: &str = "a.id, a.owner_id, a.owner_kind, a.name, a.media_type, a.size, a.blob,
    a.added_at, EXISTS (SELECT 1 FROM blobs b WHERE b.hash = a.blob)";

fn from_row(r: &Row<'_>) -> rusqlite::Result<AttachmentRow> {
    let owner_id: String = r.get(1)?;
    let kind: DocKind = r.get(2)?;
    let owner = match kind {
        DocKind::Interaction => AttachmentOwner::Conversation(InteractionId::from(owner_id)),
        _ => AttachmentOwner::Person(PersonId::from(owner_id)),
    };
    let media_type: MediaType = r.get(4)?;
    Ok(AttachmentRow {
        id: r.get(0)?,
        owner,
        name: r.get(3)?,
        kind: media_type.kind(),
        media_type,
        size: r.get::<_, i64>(5)? as u64,
        blob: r.get(6)?,
        added_at: r.get(7)?,
        downloaded: r.get(8)?,
    })
}

/// The live attachments of one record, oldest first.
pub(crate) fn attachments_on(conn: &Connection, owner: &str) -> Result<Vec<AttachmentRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM attachments a WHERE a.owner_id = ?1 AND a.deleted = 0
         ORDER BY a.added_at, a.id"
    ))?;
    let rows = stmt
        .query_map([owner], from_row)?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// The live attachments kept on a person themselves (and on people merged into
/// them), oldest first.
pub(crate) fn attachments_on_person(conn: &Connection, kept: &str) -> Result<Vec<AttachmentRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM attachments a WHERE a.deleted = 0
            AND a.owner_id IN (SELECT id FROM people WHERE COALESCE(kept_id, id) = ?1)
         ORDER BY a.added_at, a.id"
    ))?;
    let rows = stmt
        .query_map([kept], from_row)?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

impl Store {
    /// One attachment, by id or unique id prefix.
    pub fn attachment(&self, id: &AttachmentId) -> Result<AttachmentRow> {
        let full = resolve_prefix(self.conn(), "attachments", "attachment", id.as_str())?;
        let row = self
            .conn()
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM attachments a WHERE a.id = ?1"
            ))?
            .query_row([&full], from_row)?;
        Ok(row)
    }

    /// A person's attachments: their own (and those of people merged into them) and
    /// those on their live conversations, oldest first.
    pub fn person_attachments(&self, person: &PersonId) -> Result<Vec<AttachmentRow>> {
        let kept = kept_person(self.conn(), person.as_str())?;
        let known: bool = self
            .conn()
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM people WHERE id = ?1)")?
            .query_row([&kept], |r| r.get(0))?;
        if !known {
            return Err(Error::not_found(format!("no person with id {person}")));
        }
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT {COLUMNS} FROM attachments a WHERE a.deleted = 0 AND (
                a.owner_id IN (SELECT id FROM people WHERE COALESCE(kept_id, id) = ?1)
                OR a.owner_id IN (SELECT interaction_id FROM interaction_people
                                  WHERE person_id = ?1 AND deleted = 0))
             ORDER BY a.added_at, a.id"
        ))?;
        let rows = stmt
            .query_map([&kept], from_row)?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// A conversation's attachments, oldest first.
    pub fn conversation_attachments(&self, id: &InteractionId) -> Result<Vec<AttachmentRow>> {
        let known: bool = self
            .conn()
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM interactions WHERE id = ?1)")?
            .query_row([id], |r| r.get(0))?;
        if !known {
            return Err(Error::not_found(format!("no conversation with id {id}")));
        }
        attachments_on(self.conn(), id.as_str())
    }

    /// An attachment with its content. Content not downloaded yet is asked for
    /// ([`Store::want_blob`]), so the sync fetches it whatever its size.
    pub fn open_attachment(&self, id: &AttachmentId) -> Result<AttachmentContent> {
        let mut row = self.attachment(id)?;
        let content = self.blob(&row.blob)?;
        if content.is_none() {
            self.want_blob(&row.blob)?;
        }
        row.downloaded = content.is_some();
        Ok(AttachmentContent { row, content })
    }
}
