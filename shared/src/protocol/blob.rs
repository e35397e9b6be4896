//! Blobs on the wire: the relay's name for one (a keyed hash the relay cannot
//! link to a file), a sealed chunk of one, and what the relay holds of one.
//!
//! A blob is the sealed content of an attachment, cut into chunks of at most
//! [`MAX_ENTRY`] sealed bytes. The relay stores and serves the chunks as opaque
//! bytes; it never learns a file's name, type or content.

use std::fmt;

use super::codec::{Reader, Writer};
use super::entry::hex;
use super::{ChunkIndex, ProtocolError, MAX_ENTRY};

/// The most chunks one blob may have (each at most [`MAX_ENTRY`] sealed bytes, so
/// a blob is at most 16 GiB).
pub const MAX_BLOB_CHUNKS: u32 = 16_384;

/// The relay's name for a blob: a hash of its content keyed by the account, so two
/// devices of one account name the same file alike and the relay cannot confirm a
/// guess of what a file holds.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobId(pub [u8; 32]);

impl BlobId {
    /// The id as 64 lower-case hex characters.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }
}

impl fmt::Debug for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobId({})", self.to_hex())
    }
}

impl fmt::Display for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Chunk `index` of the `chunks` chunks of a blob, encrypted and authenticated on a
/// device under the account, the blob id, the index and the count.
#[derive(Clone, PartialEq, Eq)]
pub struct BlobChunk {
    pub blob: BlobId,
    pub index: ChunkIndex,
    pub chunks: u32,
    /// Nonce followed by ciphertext and tag.
    pub sealed: Vec<u8>,
}

impl BlobChunk {
    pub(crate) fn write(&self, w: &mut Writer) {
        w.out.extend_from_slice(&self.blob.0);
        w.uint(u64::from(self.index.0));
        w.uint(u64::from(self.chunks));
        w.bytes(&self.sealed);
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<BlobChunk, ProtocolError> {
        let blob = BlobId(r.fixed()?);
        let index = read_blob_chunks(r, "blob chunk index")?;
        let chunks = read_blob_chunks(r, "blob chunk count")?;
        if chunks == 0 || index >= chunks {
            return Err(ProtocolError::Invalid("blob chunk index"));
        }
        let sealed = r.bytes("sealed blob chunk", MAX_ENTRY)?.to_vec();
        Ok(BlobChunk {
            blob,
            index: ChunkIndex(index),
            chunks,
            sealed,
        })
    }
}

impl fmt::Debug for BlobChunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "BlobChunk({} #{}/{}, {} bytes)",
            self.blob,
            self.index.0,
            self.chunks,
            self.sealed.len()
        )
    }
}

/// What the relay holds of a blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobState {
    /// Nothing: no device has begun uploading it.
    Absent,
    /// An upload of `chunks` chunks began; these are stored (in increasing order,
    /// each once).
    Partial {
        chunks: u32,
        present: Vec<ChunkIndex>,
    },
    /// Every one of its `chunks` chunks is stored: it can be downloaded.
    Complete { chunks: u32 },
}

const ABSENT: u8 = 0;
const PARTIAL: u8 = 1;
const COMPLETE: u8 = 2;

impl BlobState {
    pub(crate) fn write(&self, w: &mut Writer) {
        match self {
            BlobState::Absent => w.u8(ABSENT),
            BlobState::Partial { chunks, present } => {
                w.u8(PARTIAL);
                w.uint(u64::from(*chunks));
                w.uint(present.len() as u64);
                for index in present {
                    w.uint(u64::from(index.0));
                }
            }
            BlobState::Complete { chunks } => {
                w.u8(COMPLETE);
                w.uint(u64::from(*chunks));
            }
        }
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<BlobState, ProtocolError> {
        Ok(match r.u8()? {
            ABSENT => BlobState::Absent,
            PARTIAL => {
                let chunks = read_blob_chunks(r, "blob chunk count")?;
                let n = r.count("present chunks", chunks as usize, 1)?;
                let mut present: Vec<ChunkIndex> = Vec::with_capacity(n);
                for _ in 0..n {
                    let index = read_blob_chunks(r, "blob chunk index")?;
                    if index >= chunks {
                        return Err(ProtocolError::Invalid("blob chunk index"));
                    }
                    // In order, each once.
                    if present.last().is_some_and(|last| last.0 >= index) {
                        return Err(ProtocolError::Invalid("present chunks"));
                    }
                    present.push(ChunkIndex(index));
                }
                BlobState::Partial { chunks, present }
            }
            COMPLETE => BlobState::Complete {
                chunks: read_blob_chunks(r, "blob chunk count")?,
            },
            _ => return Err(ProtocolError::Invalid("blob state")),
        })
    }
}

/// A count of a blob's chunks (or an index), checked against [`MAX_BLOB_CHUNKS`].
pub(crate) fn read_blob_chunks(
    r: &mut Reader<'_>,
    what: &'static str,
) -> Result<u32, ProtocolError> {
    let n = r.uint()?;
    if n > u64::from(MAX_BLOB_CHUNKS) {
        return Err(ProtocolError::OverLimit {
            what,
            limit: MAX_BLOB_CHUNKS as usize,
        });
    }
    Ok(n as u32)
}
