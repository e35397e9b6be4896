//! A session's blob requests, carried out against the store: what the relay holds
//! of a blob, storing one chunk, and sending a complete blob's chunks. What to
//! answer and what to refuse is the session core's (`Core::blob_put`, …).
//!
//! Memory stays bounded: a chunk arrives in one frame and is stored in one
//! transaction, and a download reads and sends one chunk at a time; the relay never
//! holds a whole blob. A refusal (over the per-file limit or the account's quota,
//! no such blob) is a `BlobRefused` frame about that blob: the session, and every
//! other upload and download, go on.

use std::sync::atomic::Ordering::Relaxed;

use aftercall_shared::protocol::{AccountId, BlobChunk, BlobId, ChunkIndex};
use axum::extract::ws::WebSocket;

use crate::session::{send_frames, Core, Effect, End};
use crate::state::AppState;
use crate::store::BlobLimits;

/// Answers `BlobHave`: what the relay holds of `blob`.
pub(crate) async fn have(
    state: &AppState,
    core: &Core,
    account: AccountId,
    blob: BlobId,
) -> Result<Vec<Effect>, End> {
    let blob_state = state.store.blob_state(&account, blob).await?;
    Ok(core.blob_status(blob, blob_state))
}

/// Stores one uploaded chunk, or refuses it.
pub(crate) async fn put(
    state: &AppState,
    core: &Core,
    account: AccountId,
    bytes: u64,
    chunk: BlobChunk,
) -> Result<Vec<Effect>, End> {
    state.metrics.blob_chunks_received.fetch_add(1, Relaxed);
    let limits = BlobLimits {
        max_blob_bytes: state.config.limits.max_blob_bytes,
        quota_bytes: state.config.limits.blob_quota_bytes,
    };
    let put = state
        .store
        .put_blob_chunk(&account, bytes, &chunk, limits)
        .await?;
    Ok(core.blob_put(chunk.blob, chunk.index, put))
}

/// Sends a complete blob's chunks from `from` on, one read and sent at a time.
pub(crate) async fn get(
    socket: &mut WebSocket,
    state: &AppState,
    core: &mut Core,
    account: AccountId,
    blob: BlobId,
    from: ChunkIndex,
) -> Result<Vec<Effect>, End> {
    let blob_state = state.store.blob_state(&account, blob).await?;
    let chunks = match core.blob_download(blob, blob_state) {
        Ok(chunks) => chunks,
        Err(refusal) => return Ok(refusal),
    };
    for index in (from.0..chunks).map(ChunkIndex) {
        if *state.stop.borrow() {
            return Err(core.stop());
        }
        let sealed = state.store.blob_chunk(&account, blob, index).await?;
        match core.blob_chunk(blob, index, chunks, sealed) {
            Ok(effects) => send_frames(socket, state, effects).await?,
            Err(refusal) => return Ok(refusal),
        }
    }
    Ok(Vec::new())
}
