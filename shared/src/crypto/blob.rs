//! Sealing a blob (an attachment's content) into chunks for the relay, and opening
//! and checking it again.
//!
//! The relay's name for a blob ([`BlobId`]) is a BLAKE3 hash of the content's own
//! hash keyed by a key derived from the account secret: every device of the account
//! names a file alike (so the relay stores it once), and the relay, without the
//! key, cannot confirm a guess of a file's content. Each chunk holds at most
//! [`BLOB_CHUNK_PLAINTEXT`] bytes and is sealed with the account key; its associated
//! data binds the account, the blob id, the chunk's index and the chunk count, so
//! chunks cannot be swapped, dropped, moved to another blob or relabelled. The
//! nonce is a keyed hash of that associated data and the chunk's plaintext
//! ([`seal_bytes`]), so two devices uploading the same file produce the same
//! chunks byte for byte.

use super::seal::{open_bytes, seal_bytes, SEAL_OVERHEAD};
use super::AccountKeys;
use crate::protocol::{BlobChunk, BlobId, ChunkIndex, MAX_BLOB_CHUNKS};

/// The most plaintext one blob chunk holds (just under 1 MiB): sealed, it stays
/// within [`MAX_ENTRY`](crate::protocol::MAX_ENTRY).
pub const BLOB_CHUNK_PLAINTEXT: usize = super::CHUNK_PLAINTEXT;

/// The largest blob a device can seal: every chunk full.
pub const MAX_BLOB_PLAINTEXT: u64 = MAX_BLOB_CHUNKS as u64 * BLOB_CHUNK_PLAINTEXT as u64;

/// Why a blob from the relay (or one to seal) was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobFault {
    #[error("a blob of {0} bytes is over the largest one that can be synced")]
    TooLarge(u64),
    #[error("blob {blob} arrived as {got} chunks where {expected} were due")]
    ChunkCount {
        blob: BlobId,
        expected: u32,
        got: u32,
    },
    #[error("chunk {got} of blob {blob} arrived where chunk {expected} was due")]
    OutOfOrder {
        blob: BlobId,
        expected: u32,
        got: u32,
    },
    #[error("a chunk of blob {got} arrived during blob {expected}")]
    OtherBlob { expected: BlobId, got: BlobId },
    #[error(
        "chunk {index} of blob {blob} does not open with the account key (tampered or damaged)"
    )]
    DoesNotOpen { blob: BlobId, index: u32 },
    #[error("blob {0} does not hash to the content it names: its chunks were altered or mixed")]
    HashMismatch(BlobId),
}

impl BlobFault {
    /// The blob the fault is about, when it names one.
    pub fn blob(&self) -> Option<BlobId> {
        match self {
            BlobFault::TooLarge(_) => None,
            BlobFault::ChunkCount { blob, .. }
            | BlobFault::OutOfOrder { blob, .. }
            | BlobFault::DoesNotOpen { blob, .. }
            | BlobFault::HashMismatch(blob) => Some(*blob),
            BlobFault::OtherBlob { expected, .. } => Some(*expected),
        }
    }
}

/// The relay's name for the blob whose content has the BLAKE3 hash `content`.
pub fn blob_id(keys: &AccountKeys, content: &[u8; 32]) -> BlobId {
    let mut hasher = blake3::Hasher::new_keyed(&keys.blob_key);
    hasher.update(b"aftercall blob id v1");
    hasher.update(&keys.account.0);
    hasher.update(content);
    BlobId(*hasher.finalize().as_bytes())
}

/// How many chunks a blob of `len` plaintext bytes takes (an empty one takes one).
pub fn blob_chunk_count(len: u64) -> Result<u32, BlobFault> {
    if len > MAX_BLOB_PLAINTEXT {
        return Err(BlobFault::TooLarge(len));
    }
    Ok(len.div_ceil(BLOB_CHUNK_PLAINTEXT as u64).max(1) as u32)
}

/// The sealed size of a whole blob of `len` plaintext bytes (what the relay
/// stores, and checks against its limits).
pub fn blob_sealed_len(len: u64) -> Result<u64, BlobFault> {
    Ok(len + u64::from(blob_chunk_count(len)?) * SEAL_OVERHEAD as u64)
}

fn associated_data(keys: &AccountKeys, blob: BlobId, index: u32, chunks: u32) -> Vec<u8> {
    let mut ad = Vec::with_capacity(80);
    ad.extend_from_slice(b"aftercall blob chunk v1");
    ad.extend_from_slice(&keys.account.0);
    ad.extend_from_slice(&blob.0);
    ad.extend_from_slice(&index.to_be_bytes());
    ad.extend_from_slice(&chunks.to_be_bytes());
    ad
}

/// A blob held in plaintext on a device, ready to be sealed chunk by chunk (only
/// the chunks the relay lacks need sealing).
#[derive(Clone, PartialEq, Eq)]
pub struct BlobSealer {
    blob: BlobId,
    chunks: u32,
    content: Vec<u8>,
}

impl std::fmt::Debug for BlobSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "BlobSealer({}, {} chunks, {} bytes)",
            self.blob,
            self.chunks,
            self.content.len()
        )
    }
}

impl BlobSealer {
    /// `content`, whose BLAKE3 hash is `hash`, to seal under `keys`.
    pub fn new(keys: &AccountKeys, hash: &[u8; 32], content: Vec<u8>) -> Result<Self, BlobFault> {
        Ok(BlobSealer {
            blob: blob_id(keys, hash),
            chunks: blob_chunk_count(content.len() as u64)?,
            content,
        })
    }

    pub fn blob(&self) -> BlobId {
        self.blob
    }

    pub fn chunks(&self) -> u32 {
        self.chunks
    }

    /// The sealed size of the whole blob.
    pub fn sealed_len(&self) -> u64 {
        self.content.len() as u64 + u64::from(self.chunks) * SEAL_OVERHEAD as u64
    }

    /// Chunk `index` sealed (`None` past the last).
    pub fn chunk(&self, keys: &AccountKeys, index: u32) -> Option<BlobChunk> {
        if index >= self.chunks {
            return None;
        }
        let start = index as usize * BLOB_CHUNK_PLAINTEXT;
        let end = (start + BLOB_CHUNK_PLAINTEXT).min(self.content.len());
        let part = self.content.get(start..end).unwrap_or_default();
        let ad = associated_data(keys, self.blob, index, self.chunks);
        Some(BlobChunk {
            blob: self.blob,
            index: ChunkIndex(index),
            chunks: self.chunks,
            sealed: seal_bytes(keys, &ad, part),
        })
    }
}

/// Seals every chunk of `content` (whose BLAKE3 hash is `hash`), in order.
pub fn seal_blob(
    keys: &AccountKeys,
    hash: &[u8; 32],
    content: &[u8],
) -> Result<Vec<BlobChunk>, BlobFault> {
    let sealer = BlobSealer::new(keys, hash, content.to_vec())?;
    Ok((0..sealer.chunks())
        .filter_map(|i| sealer.chunk(keys, i))
        .collect())
}

/// A blob arriving chunk by chunk: each is opened as it comes, and the whole
/// checked against the content hash it is named by once the last is in.
#[derive(Debug)]
pub struct BlobReader {
    hash: [u8; 32],
    blob: BlobId,
    chunks: u32,
    next: u32,
    hasher: blake3::Hasher,
    plaintext: Vec<u8>,
}

impl BlobReader {
    /// Starts reading the blob whose content hashes to `hash`, of `chunks` chunks
    /// (as the relay says).
    pub fn new(keys: &AccountKeys, hash: [u8; 32], chunks: u32) -> Result<BlobReader, BlobFault> {
        let blob = blob_id(keys, &hash);
        if chunks == 0 || chunks > MAX_BLOB_CHUNKS {
            return Err(BlobFault::ChunkCount {
                blob,
                expected: 1,
                got: chunks,
            });
        }
        Ok(BlobReader {
            hash,
            blob,
            chunks,
            next: 0,
            hasher: blake3::Hasher::new(),
            plaintext: Vec::new(),
        })
    }

    pub fn blob(&self) -> BlobId {
        self.blob
    }

    pub fn chunks(&self) -> u32 {
        self.chunks
    }

    /// Chunks opened so far.
    pub fn received(&self) -> u32 {
        self.next
    }

    pub fn is_complete(&self) -> bool {
        self.next == self.chunks
    }

    /// Opens the next chunk.
    pub fn add(&mut self, keys: &AccountKeys, chunk: &BlobChunk) -> Result<(), BlobFault> {
        if chunk.blob != self.blob {
            return Err(BlobFault::OtherBlob {
                expected: self.blob,
                got: chunk.blob,
            });
        }
        if chunk.chunks != self.chunks {
            return Err(BlobFault::ChunkCount {
                blob: self.blob,
                expected: self.chunks,
                got: chunk.chunks,
            });
        }
        if chunk.index.0 != self.next || self.is_complete() {
            return Err(BlobFault::OutOfOrder {
                blob: self.blob,
                expected: self.next,
                got: chunk.index.0,
            });
        }
        let ad = associated_data(keys, self.blob, self.next, self.chunks);
        let part = open_bytes(keys, &ad, &chunk.sealed).ok_or(BlobFault::DoesNotOpen {
            blob: self.blob,
            index: self.next,
        })?;
        self.hasher.update(&part);
        self.plaintext.extend_from_slice(&part);
        self.next += 1;
        Ok(())
    }

    /// The content, once every chunk is in and it hashes to the hash it is named by.
    pub fn finish(self) -> Result<Vec<u8>, BlobFault> {
        if !self.is_complete() {
            return Err(BlobFault::OutOfOrder {
                blob: self.blob,
                expected: self.next,
                got: self.chunks,
            });
        }
        if *self.hasher.finalize().as_bytes() != self.hash {
            return Err(BlobFault::HashMismatch(self.blob));
        }
        Ok(self.plaintext)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::AccountSecret;
    use crate::env::SeededEntropy;
    use crate::protocol::MAX_ENTRY;

    fn keys(seed: u64) -> AccountKeys {
        AccountSecret::generate(&mut SeededEntropy::new(seed)).keys()
    }

    fn photo(len: usize) -> (Vec<u8>, [u8; 32]) {
        let content: Vec<u8> = b"business card of Ada Lovelace "
            .iter()
            .copied()
            .cycle()
            .take(len)
            .collect();
        let hash = *blake3::hash(&content).as_bytes();
        (content, hash)
    }

    fn read(
        keys: &AccountKeys,
        hash: [u8; 32],
        chunks: &[BlobChunk],
    ) -> Result<Vec<u8>, BlobFault> {
        let mut reader = BlobReader::new(keys, hash, chunks.len() as u32)?;
        for chunk in chunks {
            reader.add(keys, chunk)?;
        }
        reader.finish()
    }

    #[test]
    fn a_sealed_blob_opens_whole_within_the_entry_limit_and_hides_the_content() {
        let (content, hash) = photo(2 * BLOB_CHUNK_PLAINTEXT + 10);
        let chunks = seal_blob(&keys(1), &hash, &content).unwrap();
        assert_eq!(chunks.len(), 3);
        assert!(chunks.iter().all(|c| c.sealed.len() <= MAX_ENTRY));
        assert!(chunks.iter().all(|c| c.chunks == 3));
        let sealed: u64 = chunks.iter().map(|c| c.sealed.len() as u64).sum();
        assert_eq!(sealed, blob_sealed_len(content.len() as u64).unwrap());
        assert!(!chunks
            .iter()
            .any(|c| c.sealed.windows(12).any(|w| w == b"Ada Lovelace")));
        assert_eq!(read(&keys(1), hash, &chunks).unwrap(), content);
        // The relay's name is neither the content hash nor the same across accounts.
        assert_ne!(chunks[0].blob.0, hash);
        assert_ne!(blob_id(&keys(2), &hash), chunks[0].blob);
        // An empty file is one empty chunk.
        let empty = seal_blob(&keys(1), blake3::hash(b"").as_bytes(), b"").unwrap();
        assert_eq!(empty.len(), 1);
        assert_eq!(
            read(&keys(1), *blake3::hash(b"").as_bytes(), &empty),
            Ok(vec![])
        );
    }

    #[test]
    fn two_devices_seal_the_same_file_to_the_same_chunks() {
        let (content, hash) = photo(BLOB_CHUNK_PLAINTEXT + 1);
        let secret = AccountSecret::generate(&mut SeededEntropy::new(5));
        let (laptop, phone) = (secret.keys(), secret.keys());
        assert_eq!(
            seal_blob(&laptop, &hash, &content).unwrap(),
            seal_blob(&phone, &hash, &content).unwrap()
        );
        let sealer = BlobSealer::new(&laptop, &hash, content.clone()).unwrap();
        assert_eq!(
            sealer.chunk(&laptop, 1),
            seal_blob(&phone, &hash, &content).unwrap().pop()
        );
        assert_eq!(sealer.chunk(&laptop, 2), None);
    }

    #[test]
    fn tampered_swapped_dropped_or_foreign_chunks_are_typed_faults() {
        let (content, hash) = photo(2 * BLOB_CHUNK_PLAINTEXT + 10);
        let chunks = seal_blob(&keys(1), &hash, &content).unwrap();
        let blob = chunks[0].blob;
        let mut flipped = chunks.clone();
        flipped[1].sealed[40] ^= 1;
        assert_eq!(
            read(&keys(1), hash, &flipped),
            Err(BlobFault::DoesNotOpen { blob, index: 1 })
        );
        let mut swapped = chunks.clone();
        swapped.swap(0, 1);
        swapped[0].index = ChunkIndex(0);
        swapped[1].index = ChunkIndex(1);
        assert_eq!(
            read(&keys(1), hash, &swapped),
            Err(BlobFault::DoesNotOpen { blob, index: 0 })
        );
        let mut out_of_order = chunks.clone();
        out_of_order.swap(0, 1);
        assert!(matches!(
            read(&keys(1), hash, &out_of_order),
            Err(BlobFault::OutOfOrder { .. })
        ));
        // One chunk fewer, relabelled as a blob of two: the count is in every seal.
        let fewer: Vec<BlobChunk> = chunks[..2]
            .iter()
            .cloned()
            .map(|c| BlobChunk { chunks: 2, ..c })
            .collect();
        assert_eq!(
            read(&keys(1), hash, &fewer),
            Err(BlobFault::DoesNotOpen { blob, index: 0 })
        );
        // Another account's key.
        assert!(read(&keys(2), hash, &chunks).is_err());
        // Another blob's chunks under this blob's name.
        let (other, other_hash) = photo(10);
        let foreign: Vec<BlobChunk> = seal_blob(&keys(1), &other_hash, &other)
            .unwrap()
            .into_iter()
            .map(|c| BlobChunk { blob, ..c })
            .collect();
        assert_eq!(
            read(&keys(1), hash, &foreign),
            Err(BlobFault::DoesNotOpen { blob, index: 0 })
        );
        let mut reader = BlobReader::new(&keys(1), hash, 3).unwrap();
        assert!(matches!(
            reader.add(
                &keys(1),
                &seal_blob(&keys(1), &other_hash, &other).unwrap()[0]
            ),
            Err(BlobFault::OtherBlob { .. })
        ));
        assert!(BlobReader::new(&keys(1), hash, 0).is_err());
        assert_eq!(
            blob_chunk_count(MAX_BLOB_PLAINTEXT + 1),
            Err(BlobFault::TooLarge(MAX_BLOB_PLAINTEXT + 1))
        );
    }

    #[test]
    fn chunks_that_open_but_name_other_content_fail_the_hash() {
        // Sealed properly under this blob's id but from other content: only a
        // holder of the key could do it, and the content hash still gives it away.
        let (content, hash) = photo(100);
        let keys = keys(1);
        let blob = blob_id(&keys, &hash);
        let forged = BlobChunk {
            blob,
            index: ChunkIndex(0),
            chunks: 1,
            sealed: seal_bytes(&keys, &associated_data(&keys, blob, 0, 1), b"not the card"),
        };
        assert_eq!(
            read(&keys, hash, &[forged]),
            Err(BlobFault::HashMismatch(blob))
        );
        assert_eq!(
            read(&keys, hash, &seal_blob(&keys, &hash, &content).unwrap()),
            Ok(content)
        );
    }
}
