//! Attachments: copies of correspondence (a photo of a business card, an email
//! thread, a deck) kept on a person or a conversation.
//!
//! A document holds only the reference ([`Attachment`]: the content's hash, its
//! name, media type and size); the bytes are a blob in the local store, addressed by
//! [`BlobHash`]. Attachments live in their record's `attachments` map keyed by
//! [`AttachmentId`](super::AttachmentId): two devices adding attachments at once
//! both keep theirs, and a removal deletes its key, so a removal on one device and
//! an addition on another both survive the merge.

use std::fmt;
use std::str::FromStr;

use autosurgeon::{Hydrate, HydrateError, Reconcile, Reconciler};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{InteractionId, PersonId};
use crate::Error;

/// The largest attachment kept, in bytes.
pub const MAX_ATTACHMENT_BYTES: u64 = 64 * 1024 * 1024;

/// The BLAKE3 hash of a blob's plaintext content: its address in the local store
/// (and, once sealed, on the relay). Written as 64 lower-case hex digits in
/// documents, JSON and on screen; as its 32 bytes in SQL.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlobHash([u8; 32]);

impl BlobHash {
    /// The hash of `content`.
    pub fn of(content: &[u8]) -> BlobHash {
        BlobHash(*blake3::hash(content).as_bytes())
    }

    pub fn from_bytes(bytes: [u8; 32]) -> BlobHash {
        BlobHash(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The first hex digits, enough to tell blobs apart in a list.
    pub fn short(&self) -> String {
        self.to_string()[..12].to_string()
    }
}

impl fmt::Display for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobHash({self})")
    }
}

impl FromStr for BlobHash {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let s = s.trim();
        let bad = || Error::invalid(format!("'{s}' is not a content hash (64 hex digits)"));
        if s.len() != 64 || !s.is_ascii() {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(BlobHash(out))
    }
}

impl Serialize for BlobHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for BlobHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl ToSql for BlobHash {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(ValueRef::Blob(&self.0)))
    }
}

impl FromSql for BlobHash {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let bytes = value.as_blob()?;
        <[u8; 32]>::try_from(bytes)
            .map(BlobHash)
            .map_err(|_| FromSqlError::InvalidBlobSize {
                expected_size: 32,
                blob_size: bytes.len(),
            })
    }
}

impl Reconcile for BlobHash {
    type Key<'a> = autosurgeon::reconcile::NoKey;
    fn reconcile<R: Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
        reconciler.str(self.to_string())
    }
}

impl Hydrate for BlobHash {
    fn hydrate_string(s: &'_ str) -> Result<Self, HydrateError> {
        s.parse()
            .map_err(|_| HydrateError::unexpected("a content hash", s.to_string()))
    }
}

/// A media type (`image/jpeg`, `text/plain`, `application/pdf`), checked: a type
/// and a subtype of token characters, lower case, parameters dropped.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MediaType(String);

impl MediaType {
    /// What to call bytes of no known type.
    pub fn octet_stream() -> MediaType {
        MediaType("application/octet-stream".into())
    }

    pub fn text_plain() -> MediaType {
        MediaType("text/plain".into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The broad kind, for how the app shows it.
    pub fn kind(&self) -> AttachmentKind {
        let (top, sub) = self.0.split_once('/').unwrap_or((&self.0, ""));
        match (top, sub) {
            ("image", _) => AttachmentKind::Image,
            ("text", _) => AttachmentKind::Text,
            ("application", "pdf") => AttachmentKind::Pdf,
            _ => AttachmentKind::Other,
        }
    }

    /// The type a file name suggests (its extension), for files picked without one.
    pub fn guess(file_name: &str) -> MediaType {
        let ext = file_name
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .unwrap_or_default();
        let t = match ext.as_str() {
            "jpg" | "jpeg" => "image/jpeg",
            "png" => "image/png",
            "gif" => "image/gif",
            "webp" => "image/webp",
            "heic" => "image/heic",
            "svg" => "image/svg+xml",
            "txt" | "text" => "text/plain",
            "md" => "text/markdown",
            "eml" => "message/rfc822",
            "html" | "htm" => "text/html",
            "csv" => "text/csv",
            "pdf" => "application/pdf",
            "doc" => "application/msword",
            "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "ppt" => "application/vnd.ms-powerpoint",
            "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "key" => "application/vnd.apple.keynote",
            "zip" => "application/zip",
            _ => "application/octet-stream",
        };
        MediaType(t.into())
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 127
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
}

impl FromStr for MediaType {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let essence = s
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.split_once('/') {
            Some((top, sub)) if is_token(top) && is_token(sub) => Ok(MediaType(essence)),
            _ => Err(Error::invalid(format!(
                "'{s}' is not a media type (such as image/jpeg)"
            ))),
        }
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for MediaType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for MediaType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl ToSql for MediaType {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(ValueRef::Text(self.0.as_bytes())))
    }
}

impl FromSql for MediaType {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        value
            .as_str()?
            .parse()
            .map_err(|e: Error| FromSqlError::Other(Box::new(e)))
    }
}

impl Reconcile for MediaType {
    type Key<'a> = autosurgeon::reconcile::NoKey;
    fn reconcile<R: Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
        reconciler.str(&self.0)
    }
}

impl Hydrate for MediaType {
    fn hydrate_string(s: &'_ str) -> Result<Self, HydrateError> {
        // A type another version wrote that this one cannot read is kept as bytes.
        Ok(s.parse().unwrap_or_else(|_| MediaType::octet_stream()))
    }
}

impl Default for MediaType {
    fn default() -> Self {
        MediaType::octet_stream()
    }
}

/// How the app shows an attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentKind {
    /// Shown with a thumbnail.
    Image,
    /// Readable as text (a pasted email thread).
    Text,
    Pdf,
    Other,
}

/// The record an attachment is kept on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "id")]
pub enum AttachmentOwner {
    Person(PersonId),
    Conversation(InteractionId),
}

impl AttachmentOwner {
    /// The id of the document that holds the attachment.
    pub fn record_id(&self) -> &str {
        match self {
            AttachmentOwner::Person(id) => id.as_str(),
            AttachmentOwner::Conversation(id) => id.as_str(),
        }
    }
}

/// One attachment as its record's document holds it: the reference only.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct Attachment {
    pub blob: BlobHash,
    /// The file name as given (shown, and used when saving).
    pub name: String,
    #[autosurgeon(missing = "Default::default")]
    pub media_type: MediaType,
    /// The content's size in bytes.
    pub size: u64,
    /// When it was attached, milliseconds since the epoch.
    pub added_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_hash_is_hex_in_text_and_bytes_in_sql() {
        let hash = BlobHash::of(b"card");
        let text = hash.to_string();
        assert_eq!(text.len(), 64);
        assert_eq!(text.parse::<BlobHash>().unwrap(), hash);
        assert!("zz".parse::<BlobHash>().is_err());
        assert!(text[..63].parse::<BlobHash>().is_err());
        assert_eq!(serde_json::to_string(&hash).unwrap(), format!("\"{text}\""));
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let stored: Vec<u8> = conn.query_row("SELECT ?1", [hash], |r| r.get(0)).unwrap();
        assert_eq!(stored, blake3::hash(b"card").as_bytes());
        let back: BlobHash = conn.query_row("SELECT ?1", [hash], |r| r.get(0)).unwrap();
        assert_eq!(back, hash);
    }

    #[test]
    fn media_types_are_checked_and_give_a_kind() {
        let t: MediaType = "Image/JPEG; q=1".parse().unwrap();
        assert_eq!(t.as_str(), "image/jpeg");
        assert_eq!(t.kind(), AttachmentKind::Image);
        assert_eq!(
            "application/pdf".parse::<MediaType>().unwrap().kind(),
            AttachmentKind::Pdf
        );
        assert!("jpeg".parse::<MediaType>().is_err());
        assert!("image/<script>".parse::<MediaType>().is_err());
        assert_eq!(MediaType::guess("Card.JPG").as_str(), "image/jpeg");
        assert_eq!(MediaType::guess("notes").kind(), AttachmentKind::Other);
    }
}
