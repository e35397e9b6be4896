//! Names and pieces of a checkpoint on the wire: its id, a chunk's index, and the
//! sealed chunk, the only form in which a checkpoint's bytes ever leave a device.

use std::fmt;

use super::codec::{Reader, Writer};
use super::entry::hex;
use super::{Cursor, ProtocolError, MAX_CURSORS, MAX_ENTRY};

/// The most chunks one checkpoint may have (each at most [`MAX_ENTRY`] sealed bytes).
pub const MAX_CHECKPOINT_CHUNKS: u32 = 16_384;

/// The most plaintext one checkpoint chunk holds: sealed, it stays within
/// [`MAX_ENTRY`]. Every chunk of a checkpoint but the last is this full, so a relay
/// can tell from the chunk count alone that a checkpoint is at least
/// `(chunks - 1) × CHECKPOINT_CHUNK_PLAINTEXT` sealed bytes.
pub const CHECKPOINT_CHUNK_PLAINTEXT: usize = MAX_ENTRY - 1024;

/// The id of one checkpoint of an account: a keyed hash of its plaintext, so the
/// same snapshot always has the same id and the relay learns nothing from it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CheckpointId(pub [u8; 16]);

impl CheckpointId {
    /// The id as 32 lower-case hex characters.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }
}

impl std::str::FromStr for CheckpointId {
    type Err = ProtocolError;

    /// Reads the 32 hex characters of [`CheckpointId::to_hex`] back.
    fn from_str(text: &str) -> Result<CheckpointId, ProtocolError> {
        let bad = ProtocolError::Invalid("checkpoint id");
        if text.len() != 32 || !text.is_ascii() {
            return Err(bad);
        }
        let mut id = [0u8; 16];
        for (i, byte) in id.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| bad.clone())?;
        }
        Ok(CheckpointId(id))
    }
}

impl fmt::Debug for CheckpointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CheckpointId({})", self.to_hex())
    }
}

impl fmt::Display for CheckpointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The position of a chunk in its checkpoint, from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChunkIndex(pub u32);

/// Chunk `index` of `chunks` of a checkpoint, encrypted and authenticated on the
/// device under the account, the checkpoint id, the index and the count, so the
/// relay can neither swap, drop nor relabel chunks unnoticed.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedChunk {
    pub checkpoint: CheckpointId,
    pub index: ChunkIndex,
    /// Nonce followed by ciphertext and tag.
    pub sealed: Vec<u8>,
}

impl SealedChunk {
    pub(crate) fn write(&self, w: &mut Writer) {
        w.out.extend_from_slice(&self.checkpoint.0);
        w.uint(u64::from(self.index.0));
        w.bytes(&self.sealed);
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<SealedChunk, ProtocolError> {
        let checkpoint = CheckpointId(r.fixed()?);
        let index = read_chunk_count(r, "chunk index")?;
        if index >= MAX_CHECKPOINT_CHUNKS {
            return Err(ProtocolError::OverLimit {
                what: "chunk index",
                limit: MAX_CHECKPOINT_CHUNKS as usize,
            });
        }
        let sealed = r.bytes("sealed chunk", MAX_ENTRY)?.to_vec();
        Ok(SealedChunk {
            checkpoint,
            index: ChunkIndex(index),
            sealed,
        })
    }
}

impl fmt::Debug for SealedChunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SealedChunk({} #{}, {} bytes)",
            self.checkpoint,
            self.index.0,
            self.sealed.len()
        )
    }
}

/// A count of chunks (or an index), checked against [`MAX_CHECKPOINT_CHUNKS`].
pub(crate) fn read_chunk_count(
    r: &mut Reader<'_>,
    what: &'static str,
) -> Result<u32, ProtocolError> {
    let n = r.uint()?;
    if n > u64::from(MAX_CHECKPOINT_CHUNKS) {
        return Err(ProtocolError::OverLimit {
            what,
            limit: MAX_CHECKPOINT_CHUNKS as usize,
        });
    }
    Ok(n as u32)
}

pub(crate) fn write_cursors(w: &mut Writer, cursors: &[Cursor]) {
    w.uint(cursors.len() as u64);
    for c in cursors {
        c.device.write(w);
        w.uint(c.seq);
    }
}

pub(crate) fn read_cursors(r: &mut Reader<'_>) -> Result<Vec<Cursor>, ProtocolError> {
    let n = r.count("cursors", MAX_CURSORS, 2)?;
    (0..n)
        .map(|_| {
            Ok(Cursor {
                device: super::DeviceId::read(r)?,
                seq: r.uint()?,
            })
        })
        .collect()
}

impl Cursor {
    /// A cursor vector as bytes (what the relay stores of a checkpoint's coverage
    /// and of a device's acknowledgements).
    pub fn encode_vector(cursors: &[Cursor]) -> Vec<u8> {
        let mut w = Writer::default();
        write_cursors(&mut w, cursors);
        w.out
    }

    /// Reads a cursor vector back; any bytes give a vector or an error.
    pub fn decode_vector(bytes: &[u8]) -> Result<Vec<Cursor>, ProtocolError> {
        let mut r = Reader::new(bytes);
        let cursors = read_cursors(&mut r)?;
        r.finish()?;
        Ok(cursors)
    }
}
