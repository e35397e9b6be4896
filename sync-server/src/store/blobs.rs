//! Blobs on the relay: the decisions both stores share.
//!
//! A blob is kept as a row (its chunk count, its sealed size as the uploading
//! device announced it, the chunks and bytes stored so far, complete or not) and
//! its chunks, opaque sealed bytes. The relay never learns a file's name or type,
//! and cannot tell which attachment a blob belongs to: devices name blobs by a hash
//! keyed by the account. So collecting blobs no record refers to any more is not
//! the relay's work (it cannot read references), and pruning the logs after a
//! checkpoint never touches blobs.

use aftercall_shared::protocol::{BlobChunk, MAX_ENTRY};

/// What one upload may take: the relay's per-file limit and the account's quota,
/// in sealed bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobLimits {
    pub max_blob_bytes: u64,
    pub quota_bytes: u64,
}

/// What became of an uploaded blob chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobPut {
    /// Stored (or held already); `complete` once every chunk of the blob is.
    Stored {
        /// The chunk was new (not a repeat of one held already).
        new: bool,
        complete: bool,
    },
    Refused(BlobRefusal),
}

/// Why a blob chunk was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobRefusal {
    /// The blob is over the per-file limit.
    TooLarge { bytes: u64, limit: u64 },
    /// The blob would take the account over its quota.
    QuotaExceeded { used: u64, bytes: u64, quota: u64 },
    /// The chunk disagrees with the upload of its blob begun before (chunk count or
    /// size), or would take the blob past the size announced.
    Mismatch,
}

/// A blob's row, as a store reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct BlobRow {
    pub chunks: u32,
    pub bytes: u64,
    pub stored_bytes: u64,
    pub complete: bool,
}

/// What a store does with an uploaded chunk, from the blob's row (if any), whether
/// the chunk is held already, and, for a blob not seen before, the bytes of blobs
/// the account keeps already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BlobPlan {
    /// Make the blob's row, then store the chunk.
    Create,
    /// Store the chunk (unless held already).
    Store,
    /// The blob is complete already: nothing to store.
    Complete,
    /// This chunk is held already (an upload resumed): nothing to store.
    Held,
    Refuse(BlobRefusal),
}

pub(super) fn plan_blob_put(
    row: Option<BlobRow>,
    held: bool,
    used: u64,
    bytes: u64,
    chunk: &BlobChunk,
    limits: BlobLimits,
) -> BlobPlan {
    match row {
        None if bytes > limits.max_blob_bytes => BlobPlan::Refuse(BlobRefusal::TooLarge {
            bytes,
            limit: limits.max_blob_bytes,
        }),
        None if used.saturating_add(bytes) > limits.quota_bytes => {
            BlobPlan::Refuse(BlobRefusal::QuotaExceeded {
                used,
                bytes,
                quota: limits.quota_bytes,
            })
        }
        // The chunk is larger than its blob, or the blob larger than its chunks hold.
        None if (chunk.sealed.len() as u64) > bytes
            || u64::from(chunk.chunks) * (MAX_ENTRY as u64) < bytes =>
        {
            BlobPlan::Refuse(BlobRefusal::Mismatch)
        }
        None => BlobPlan::Create,
        Some(row) if row.chunks != chunk.chunks || row.bytes != bytes => {
            BlobPlan::Refuse(BlobRefusal::Mismatch)
        }
        Some(row) if row.complete => BlobPlan::Complete,
        Some(_) if held => BlobPlan::Held,
        Some(row) if row.stored_bytes + chunk.sealed.len() as u64 > row.bytes => {
            BlobPlan::Refuse(BlobRefusal::Mismatch)
        }
        Some(_) => BlobPlan::Store,
    }
}

impl BlobRefusal {
    /// The refusal as the device reads it.
    pub fn code(&self) -> aftercall_shared::protocol::RefusalCode {
        use aftercall_shared::protocol::RefusalCode;
        match self {
            BlobRefusal::TooLarge { .. } => RefusalCode::FileTooLarge,
            BlobRefusal::QuotaExceeded { .. } => RefusalCode::QuotaExceeded,
            BlobRefusal::Mismatch => RefusalCode::BlobMismatch,
        }
    }
}

impl std::fmt::Display for BlobRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mb = |b: u64| format!("{:.1}", b as f64 / (1024.0 * 1024.0));
        match self {
            BlobRefusal::TooLarge { bytes, limit } => write!(
                f,
                "the file is {} MB, over this relay's limit of {} MB per file; it stays on this device only",
                mb(*bytes),
                mb(*limit)
            ),
            BlobRefusal::QuotaExceeded { used, bytes, quota } => write!(
                f,
                "the file ({} MB) would take this account past its {} MB of attachments on the relay ({} MB used); it stays on this device only",
                mb(*bytes),
                mb(*quota),
                mb(*used)
            ),
            BlobRefusal::Mismatch => f.write_str(
                "the chunk disagrees with the upload of its file begun before",
            ),
        }
    }
}
