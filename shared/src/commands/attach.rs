//! Attaching content to a person or a conversation, and removing it.
//!
//! The content is written as a blob in the same transaction as the document change
//! that references it: an attachment that appears is complete, and no record ever
//! points at content the store lacks (unless it came by sync and is still to be
//! downloaded).

use chrono::{DateTime, Utc};

use crate::model::{
    Attachment, AttachmentId, AttachmentOwner, BlobHash, DocKind, Interaction, MediaType, Person,
    MAX_ATTACHMENT_BYTES,
};
use crate::queries::AttachmentRow;
use crate::store::{insert_blob, kept_person};
use crate::{Error, Result, Store};

/// The longest file name kept, in characters.
const MAX_NAME_CHARS: usize = 255;

/// A file name as given, made safe to keep and to save under: the last part of a
/// path, control characters dropped, trimmed and shortened.
pub fn clean_file_name(name: &str) -> Result<String> {
    let last = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .chars()
        .take(MAX_NAME_CHARS)
        .collect();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        return Err(Error::invalid("an attachment needs a file name"));
    }
    Ok(cleaned)
}

/// The name a pasted text is kept under: "Pasted text 2026-12-04.txt".
pub fn pasted_text_name(now: DateTime<Utc>) -> String {
    format!("Pasted text {}.txt", now.format("%Y-%m-%d"))
}

impl Store {
    /// Attaches `content` to a person or a conversation, as `name` of type
    /// `media_type`. Content and reference commit together.
    pub fn attach(
        &mut self,
        to: &AttachmentOwner,
        name: &str,
        media_type: &MediaType,
        content: &[u8],
    ) -> Result<AttachmentRow> {
        let name = clean_file_name(name)?;
        let size = content.len() as u64;
        if size > MAX_ATTACHMENT_BYTES {
            return Err(Error::TooLarge(format!(
                "{name} is {:.1} MB; an attachment may be at most {} MB",
                size as f64 / 1_000_000.0,
                MAX_ATTACHMENT_BYTES / (1024 * 1024)
            )));
        }
        let blob = BlobHash::of(content);
        let owner = self.attachment_owner(to)?;
        let id = self.write(|w| {
            let id = AttachmentId::from(w.new_id());
            let now = w.now().timestamp_millis();
            insert_blob(w.tx(), &blob, content, now, false)?;
            let attachment = Attachment {
                blob,
                name: name.clone(),
                media_type: media_type.clone(),
                size,
                added_at: now,
            };
            let add = |map: &mut std::collections::BTreeMap<AttachmentId, Attachment>| {
                map.insert(id.clone(), attachment);
                Ok(())
            };
            match &owner {
                AttachmentOwner::Person(p) => {
                    w.update(p.as_str(), DocKind::Person, |p: &mut Person| {
                        add(&mut p.attachments)
                    })?
                }
                AttachmentOwner::Conversation(i) => {
                    w.update(i.as_str(), DocKind::Interaction, |i: &mut Interaction| {
                        add(&mut i.attachments)
                    })?
                }
            }
            Ok(id)
        })?;
        self.attachment(&id)
    }

    /// Keeps pasted text (an email thread) as a text attachment named after today.
    pub fn attach_text(&mut self, to: &AttachmentOwner, text: &str) -> Result<AttachmentRow> {
        if text.trim().is_empty() {
            return Err(Error::invalid("there is no text to keep"));
        }
        let name = pasted_text_name(self.now());
        self.attach(to, &name, &MediaType::text_plain(), text.as_bytes())
    }

    /// Removes an attachment (by id or unique id prefix). Its content goes too unless
    /// another attachment has the same.
    pub fn remove_attachment(&mut self, id: &AttachmentId) -> Result<()> {
        let row = self.attachment(id)?;
        let id = row.id;
        self.write(|w| match &row.owner {
            AttachmentOwner::Person(p) => {
                w.update(p.as_str(), DocKind::Person, |p: &mut Person| {
                    p.attachments.remove(&id);
                    Ok(())
                })
            }
            AttachmentOwner::Conversation(i) => {
                w.update(i.as_str(), DocKind::Interaction, |i: &mut Interaction| {
                    i.attachments.remove(&id);
                    Ok(())
                })
            }
        })
    }

    /// The record to attach to: a person merged away is the person kept; the record
    /// must exist and not be deleted.
    fn attachment_owner(&self, to: &AttachmentOwner) -> Result<AttachmentOwner> {
        let conn = self.conn();
        Ok(match to {
            AttachmentOwner::Person(p) => {
                let kept = kept_person(conn, p.as_str())?;
                let live: Option<bool> = conn
                    .prepare_cached("SELECT deleted = 0 FROM people WHERE id = ?1")?
                    .query_row([&kept], |r| r.get(0))
                    .map(Some)
                    .or_else(|e| match e {
                        rusqlite::Error::QueryReturnedNoRows => Ok(None),
                        e => Err(e),
                    })?;
                match live {
                    Some(true) => AttachmentOwner::Person(kept.into()),
                    Some(false) => {
                        return Err(Error::invalid("that person is deleted: restore them first"))
                    }
                    None => return Err(Error::not_found(format!("no person with id {p}"))),
                }
            }
            AttachmentOwner::Conversation(i) => {
                let live: Option<bool> = conn
                    .prepare_cached("SELECT deleted = 0 FROM interactions WHERE id = ?1")?
                    .query_row([i], |r| r.get(0))
                    .map(Some)
                    .or_else(|e| match e {
                        rusqlite::Error::QueryReturnedNoRows => Ok(None),
                        e => Err(e),
                    })?;
                match live {
                    Some(true) => AttachmentOwner::Conversation(i.clone()),
                    Some(false) => {
                        return Err(Error::invalid(
                            "that conversation is deleted: restore it first",
                        ))
                    }
                    None => return Err(Error::not_found(format!("no conversation with id {i}"))),
                }
            }
        })
    }
}
