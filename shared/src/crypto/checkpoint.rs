//! Sealing a checkpoint into chunks, and opening and checking it again.
//!
//! A checkpoint's plaintext is its cursor vector (the protocol's encoding, behind a
//! four-byte length) followed by its body (the documents, as the store writes
//! them). Its id is a keyed BLAKE3 hash of that whole plaintext, so the id is also
//! the hash of the whole: a device that has opened every chunk checks the id
//! before it trusts a byte. Each chunk's associated data binds the account, the id,
//! the chunk's index and the chunk count, so chunks cannot be swapped, dropped,
//! moved to another checkpoint or relabelled.

use super::seal::{open_bytes, seal_bytes};
use super::AccountKeys;
use crate::protocol::{CheckpointId, ChunkIndex, Cursor, SealedChunk, MAX_CHECKPOINT_CHUNKS};

/// The most plaintext one chunk holds: sealed, it stays within
/// [`MAX_ENTRY`](crate::protocol::MAX_ENTRY).
pub const CHUNK_PLAINTEXT: usize = crate::protocol::CHECKPOINT_CHUNK_PLAINTEXT;

/// Why a checkpoint from the relay was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointFault {
    #[error("the checkpoint claims {0} chunks, outside what a checkpoint may have")]
    BadChunkCount(u32),
    #[error("chunk {got} of checkpoint {checkpoint} arrived where chunk {expected} was due")]
    OutOfOrder {
        checkpoint: CheckpointId,
        expected: u32,
        got: u32,
    },
    #[error("a chunk of checkpoint {got} arrived during checkpoint {expected}")]
    OtherCheckpoint {
        expected: CheckpointId,
        got: CheckpointId,
    },
    #[error("chunk {index} of checkpoint {checkpoint} does not open with the account key (forged or damaged)")]
    DoesNotOpen {
        checkpoint: CheckpointId,
        index: u32,
    },
    #[error("checkpoint {0} does not hash to its id: its chunks were altered or mixed")]
    HashMismatch(CheckpointId),
    #[error("checkpoint {0} covers other cursors than the relay announced")]
    CoversMismatch(CheckpointId),
    #[error("checkpoint {checkpoint} does not parse: {reason}")]
    DoesNotParse {
        checkpoint: CheckpointId,
        reason: String,
    },
}

/// A checkpoint opened and checked: the cursors it covers and its body.
#[derive(Clone, PartialEq, Eq)]
pub struct OpenCheckpoint {
    pub id: CheckpointId,
    pub covers: Vec<Cursor>,
    pub body: Vec<u8>,
}

impl std::fmt::Debug for OpenCheckpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "OpenCheckpoint({}, {} cursors, {} bytes)",
            self.id,
            self.covers.len(),
            self.body.len()
        )
    }
}

fn id_hasher(keys: &AccountKeys) -> blake3::Hasher {
    let mut hasher = blake3::Hasher::new_keyed(&keys.nonce_key);
    hasher.update(b"aftercall checkpoint id v1");
    hasher.update(&keys.account.0);
    hasher
}

fn id_of(hasher: &blake3::Hasher) -> CheckpointId {
    let mut id = [0u8; 16];
    id.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
    CheckpointId(id)
}

fn associated_data(keys: &AccountKeys, id: CheckpointId, index: u32, chunks: u32) -> Vec<u8> {
    let mut ad = Vec::with_capacity(64);
    ad.extend_from_slice(b"aftercall checkpoint v1");
    ad.extend_from_slice(&keys.account.0);
    ad.extend_from_slice(&id.0);
    ad.extend_from_slice(&index.to_be_bytes());
    ad.extend_from_slice(&chunks.to_be_bytes());
    ad
}

/// A checkpoint of `body` covering `covers`, sealed into chunks: its id, and the
/// chunks in order.
pub fn seal_checkpoint(
    keys: &AccountKeys,
    covers: &[Cursor],
    body: &[u8],
) -> (CheckpointId, Vec<SealedChunk>) {
    let header = Cursor::encode_vector(covers);
    let mut plaintext = Vec::with_capacity(4 + header.len() + body.len());
    plaintext.extend_from_slice(&(header.len() as u32).to_be_bytes());
    plaintext.extend_from_slice(&header);
    plaintext.extend_from_slice(body);
    let mut hasher = id_hasher(keys);
    hasher.update(&plaintext);
    let id = id_of(&hasher);
    let parts: Vec<&[u8]> = plaintext.chunks(CHUNK_PLAINTEXT).collect();
    let chunks = parts.len() as u32;
    let sealed = parts
        .into_iter()
        .enumerate()
        .map(|(i, part)| SealedChunk {
            checkpoint: id,
            index: ChunkIndex(i as u32),
            sealed: seal_bytes(keys, &associated_data(keys, id, i as u32, chunks), part),
        })
        .collect();
    (id, sealed)
}

/// A checkpoint arriving chunk by chunk: each is opened as it comes, and the whole
/// checked against its id once the last is in.
#[derive(Debug)]
pub struct CheckpointReader {
    id: CheckpointId,
    chunks: u32,
    next: u32,
    hasher: blake3::Hasher,
    plaintext: Vec<u8>,
}

impl CheckpointReader {
    /// Starts reading checkpoint `id` of `chunks` chunks (as the relay says).
    pub fn new(
        keys: &AccountKeys,
        id: CheckpointId,
        chunks: u32,
    ) -> Result<CheckpointReader, CheckpointFault> {
        if chunks == 0 || chunks > MAX_CHECKPOINT_CHUNKS {
            return Err(CheckpointFault::BadChunkCount(chunks));
        }
        Ok(CheckpointReader {
            id,
            chunks,
            next: 0,
            hasher: id_hasher(keys),
            plaintext: Vec::new(),
        })
    }

    pub fn id(&self) -> CheckpointId {
        self.id
    }

    /// Whether every chunk has arrived.
    pub fn is_complete(&self) -> bool {
        self.next == self.chunks
    }

    /// Opens the next chunk.
    pub fn add(&mut self, keys: &AccountKeys, chunk: &SealedChunk) -> Result<(), CheckpointFault> {
        if chunk.checkpoint != self.id {
            return Err(CheckpointFault::OtherCheckpoint {
                expected: self.id,
                got: chunk.checkpoint,
            });
        }
        if chunk.index.0 != self.next || self.is_complete() {
            return Err(CheckpointFault::OutOfOrder {
                checkpoint: self.id,
                expected: self.next,
                got: chunk.index.0,
            });
        }
        let ad = associated_data(keys, self.id, self.next, self.chunks);
        let part = open_bytes(keys, &ad, &chunk.sealed).ok_or(CheckpointFault::DoesNotOpen {
            checkpoint: self.id,
            index: self.next,
        })?;
        self.hasher.update(&part);
        self.plaintext.extend_from_slice(&part);
        self.next += 1;
        Ok(())
    }

    /// The checkpoint, once every chunk is in and the whole hashes to its id and
    /// covers what the relay announced.
    pub fn finish(self, announced: &[Cursor]) -> Result<OpenCheckpoint, CheckpointFault> {
        let id = self.id;
        if !self.is_complete() {
            return Err(CheckpointFault::OutOfOrder {
                checkpoint: id,
                expected: self.next,
                got: self.chunks,
            });
        }
        if id_of(&self.hasher) != id {
            return Err(CheckpointFault::HashMismatch(id));
        }
        let unparseable = |reason: &str| CheckpointFault::DoesNotParse {
            checkpoint: id,
            reason: reason.to_string(),
        };
        let mut plaintext = self.plaintext;
        let len = plaintext
            .get(..4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .ok_or_else(|| unparseable("no cursor vector"))?;
        let header = plaintext
            .get(4..4 + len)
            .ok_or_else(|| unparseable("the cursor vector is cut short"))?;
        let covers = Cursor::decode_vector(header).map_err(|e| unparseable(&e.to_string()))?;
        if covers != announced {
            return Err(CheckpointFault::CoversMismatch(id));
        }
        let body = plaintext.split_off(4 + len);
        Ok(OpenCheckpoint { id, covers, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::AccountSecret;
    use crate::env::SeededEntropy;
    use crate::protocol::DeviceId;

    fn keys(seed: u64) -> AccountKeys {
        AccountSecret::generate(&mut SeededEntropy::new(seed)).keys()
    }

    fn covers() -> Vec<Cursor> {
        vec![Cursor {
            device: DeviceId::new("phone").unwrap(),
            seq: 7,
        }]
    }

    fn read(
        keys: &AccountKeys,
        id: CheckpointId,
        chunks: &[SealedChunk],
    ) -> Result<OpenCheckpoint, CheckpointFault> {
        let mut reader = CheckpointReader::new(keys, id, chunks.len() as u32)?;
        for chunk in chunks {
            reader.add(keys, chunk)?;
        }
        reader.finish(&covers())
    }

    #[test]
    fn a_sealed_checkpoint_opens_whole_and_hides_the_text() {
        let body: Vec<u8> = b"met Ada at the conference "
            .iter()
            .copied()
            .cycle()
            .take(3 * CHUNK_PLAINTEXT)
            .collect();
        let (id, chunks) = seal_checkpoint(&keys(1), &covers(), &body);
        assert_eq!(chunks.len(), 4);
        assert!(chunks
            .iter()
            .all(|c| c.sealed.len() <= crate::protocol::MAX_ENTRY));
        assert!(!chunks[0].sealed.windows(3).any(|w| w == b"Ada"));
        let open = read(&keys(1), id, &chunks).unwrap();
        assert_eq!(open.body, body);
        assert_eq!(open.covers, covers());
        assert_eq!(seal_checkpoint(&keys(1), &covers(), &body).0, id);
    }

    #[test]
    fn swapped_dropped_flipped_or_foreign_chunks_are_rejected() {
        let body = vec![7u8; 2 * CHUNK_PLAINTEXT + 10];
        let (id, chunks) = seal_checkpoint(&keys(1), &covers(), &body);
        let mut swapped = chunks.clone();
        swapped.swap(0, 1);
        assert!(read(&keys(1), id, &swapped).is_err());
        // Relabelled to pass the order check: the seal binds the index.
        swapped[0].index = ChunkIndex(0);
        swapped[1].index = ChunkIndex(1);
        assert!(matches!(
            read(&keys(1), id, &swapped),
            Err(CheckpointFault::DoesNotOpen { index: 0, .. })
        ));
        // One chunk fewer: the count is in every chunk's seal.
        assert!(matches!(
            read(&keys(1), id, &chunks[..2]),
            Err(CheckpointFault::DoesNotOpen { .. })
        ));
        let mut flipped = chunks.clone();
        flipped[2].sealed[40] ^= 1;
        assert!(read(&keys(1), id, &flipped).is_err());
        assert!(read(&keys(2), id, &chunks).is_err());
        // Sealed properly but under another id: the hash of the whole gives it away.
        let (_, other) = seal_checkpoint(&keys(1), &covers(), b"something else");
        let forged: Vec<SealedChunk> = other
            .into_iter()
            .map(|c| SealedChunk {
                checkpoint: id,
                ..c
            })
            .collect();
        assert!(read(&keys(1), id, &forged).is_err());
        let mut reader = CheckpointReader::new(&keys(1), id, 3).unwrap();
        for c in &chunks {
            reader.add(&keys(1), c).unwrap();
        }
        assert_eq!(reader.finish(&[]), Err(CheckpointFault::CoversMismatch(id)));
        assert!(CheckpointReader::new(&keys(1), id, 0).is_err());
    }
}
