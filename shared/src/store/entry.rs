//! What an own-log entry's plaintext holds, and its CBOR encoding.
//!
//! An entry holds one write's changes by document, or one fragment of a run of
//! changes too large for one entry.

use serde::{Deserialize, Serialize};

use crate::model::DocKind;
use crate::protocol::MAX_ENTRY;
use crate::{Error, Result};

/// The most plaintext one own-log entry holds: sealed (a nonce and a tag more), it
/// stays within the relay's [`MAX_ENTRY`], with room to spare.
pub const MAX_ENTRY_PLAINTEXT: usize = MAX_ENTRY - 4096;

/// The most one record's changes in one write may take: such a write fits one entry.
pub const MAX_RECORD_CHANGES: usize = MAX_ENTRY_PLAINTEXT - 256;

/// The Automerge changes one write made to one document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocChanges {
    pub doc_id: String,
    pub kind: DocKind,
    #[serde(with = "serde_bytes_compat")]
    pub bytes: Vec<u8>,
}

/// One entry of a device's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub seq: u64,
    pub created_at: i64,
    pub changes: Vec<DocChanges>,
}

/// The longest id a document may have in an entry from elsewhere.
const MAX_DOC_ID: usize = 64;

/// What an own-log entry's plaintext holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// One write's changes (or a share of a large write's).
    Changes(Vec<DocChanges>),
    /// Part `part` (from 0) of `of` of a run of changes too large for one entry; the
    /// parts are consecutive entries of one device, and the changes are the CBOR of
    /// their bytes joined.
    Fragment { part: u32, of: u32, bytes: Vec<u8> },
}

#[derive(Serialize, Deserialize)]
struct FragmentWire {
    part: u32,
    of: u32,
    #[serde(with = "serde_bytes_compat")]
    bytes: Vec<u8>,
}

/// The plaintexts of entries holding `changes`: as few as fit within
/// [`MAX_ENTRY_PLAINTEXT`] each, in order; one document's changes larger than that
/// become fragments.
pub(super) fn payloads(changes: Vec<DocChanges>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut group: Vec<DocChanges> = Vec::new();
    let mut bytes = 0;
    for c in changes {
        let size = c.wire_size();
        if !group.is_empty() && bytes + size > MAX_ENTRY_PLAINTEXT {
            out.push(LogEntry::encode_changes(&std::mem::take(&mut group)));
            bytes = 0;
        }
        if size > MAX_ENTRY_PLAINTEXT {
            out.extend(fragments(&LogEntry::encode_changes(std::slice::from_ref(
                &c,
            ))));
            continue;
        }
        bytes += size;
        group.push(c);
    }
    if !group.is_empty() {
        out.push(LogEntry::encode_changes(&group));
    }
    out
}

/// `encoded` changes cut into fragment payloads within [`MAX_ENTRY_PLAINTEXT`].
fn fragments(encoded: &[u8]) -> Vec<Vec<u8>> {
    let part_size = MAX_ENTRY_PLAINTEXT - 64;
    let parts: Vec<&[u8]> = encoded.chunks(part_size).collect();
    let of = parts.len() as u32;
    parts
        .into_iter()
        .enumerate()
        .map(|(i, bytes)| {
            let mut out = Vec::with_capacity(bytes.len() + 32);
            let _ = ciborium::into_writer(
                &FragmentWire {
                    part: i as u32,
                    of,
                    bytes: bytes.to_vec(),
                },
                &mut out,
            );
            out
        })
        .collect()
}

impl DocChanges {
    /// Bytes this takes in an entry's plaintext, about.
    pub(crate) fn wire_size(&self) -> usize {
        self.bytes.len() + self.doc_id.len() + 32
    }
}

impl LogEntry {
    /// The entry's plaintext bytes (CBOR), as sealed for the relay.
    pub fn encode_changes(changes: &[DocChanges]) -> Vec<u8> {
        let mut out = Vec::new();
        // Writing CBOR into a Vec cannot fail.
        let _ = ciborium::into_writer(&changes, &mut out);
        out
    }

    /// Reads an entry's plaintext: changes, or a fragment of them. Anything
    /// malformed is an error, never a panic.
    pub fn decode_payload(bytes: &[u8]) -> Result<Payload> {
        // A CBOR map (major type 5) is a fragment; changes are an array.
        if bytes.first().is_some_and(|b| b >> 5 == 5) {
            let f: FragmentWire = ciborium::from_reader(bytes)
                .map_err(|e| Error::Decode(format!("log entry fragment: {e}")))?;
            if f.of < 2 || f.part >= f.of {
                return Err(Error::Decode(
                    "log entry fragment is numbered wrongly".into(),
                ));
            }
            return Ok(Payload::Fragment {
                part: f.part,
                of: f.of,
                bytes: f.bytes,
            });
        }
        Ok(Payload::Changes(LogEntry::decode_changes(bytes)?))
    }

    /// Checks an entry's plaintext reads as changes or a fragment.
    pub fn check_payload(bytes: &[u8]) -> Result<()> {
        LogEntry::decode_payload(bytes).map(|_| ())
    }

    /// Reads plaintext bytes back; anything malformed is an error, never a panic.
    pub fn decode_changes(bytes: &[u8]) -> Result<Vec<DocChanges>> {
        Ok(LogEntry::decode_changes_prefix(bytes)?.0)
    }

    /// Reads changes from the start of `bytes`, as [`LogEntry::decode_changes`]
    /// does; returns them and the bytes after them.
    pub fn decode_changes_prefix(mut bytes: &[u8]) -> Result<(Vec<DocChanges>, &[u8])> {
        let changes: Vec<DocChanges> = ciborium::from_reader(&mut bytes)
            .map_err(|e| Error::Decode(format!("log entry: {e}")))?;
        for c in &changes {
            let valid_id = !c.doc_id.is_empty()
                && c.doc_id.len() <= MAX_DOC_ID
                && c.doc_id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !valid_id {
                return Err(Error::Decode(
                    "log entry names an invalid document id".into(),
                ));
            }
        }
        Ok((changes, bytes))
    }
}

/// Byte vectors as CBOR byte strings rather than arrays of numbers.
mod serde_bytes_compat {
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(bytes)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
        }
        d.deserialize_byte_buf(V)
    }
}
