//! A session's blob requests: what the relay holds of a blob, storing one chunk,
//! and sending a complete blob's chunks.
//!
//! Memory stays bounded: a chunk arrives in one frame and is stored in one
//! transaction, and a download reads and sends one chunk at a time; the relay never
//! holds a whole blob. A refusal (over the per-file limit or the account's quota,
//! no such blob) is a `BlobRefused` frame about that blob: the session, and every
//! other upload and download, go on.

use std::sync::atomic::Ordering::Relaxed;

use aftercall_shared::protocol::{
    AccountId, BlobChunk, BlobId, BlobState, ChunkIndex, Refusal, RefusalCode, ServerMessage,
};
use axum::extract::ws::WebSocket;

use crate::session::{send, End};
use crate::state::AppState;
use crate::store::{BlobLimits, BlobPut};

async fn refuse_blob(
    socket: &mut WebSocket,
    state: &AppState,
    blob: BlobId,
    code: RefusalCode,
    message: String,
) -> Result<(), End> {
    tracing::info!(code = code.as_str(), %message, "blob refused");
    state.metrics.refused(code);
    let refusal = Refusal { code, message };
    send(socket, state, &ServerMessage::BlobRefused { blob, refusal }).await
}

/// Answers `BlobHave`: what the relay holds of `blob`.
pub(crate) async fn have(
    socket: &mut WebSocket,
    state: &AppState,
    account: AccountId,
    blob: BlobId,
) -> Result<(), End> {
    let blob_state = state.store.blob_state(&account, blob).await?;
    send(
        socket,
        state,
        &ServerMessage::BlobStatus {
            blob,
            state: blob_state,
        },
    )
    .await
}

/// Stores one uploaded chunk, or refuses it.
pub(crate) async fn put(
    socket: &mut WebSocket,
    state: &AppState,
    account: AccountId,
    bytes: u64,
    chunk: BlobChunk,
) -> Result<(), End> {
    state.metrics.blob_chunks_received.fetch_add(1, Relaxed);
    let limits = BlobLimits {
        max_blob_bytes: state.config.limits.max_blob_bytes,
        quota_bytes: state.config.limits.blob_quota_bytes,
    };
    match state
        .store
        .put_blob_chunk(&account, bytes, &chunk, limits)
        .await?
    {
        BlobPut::Stored { new, complete } => {
            if new {
                state.metrics.blob_chunks_stored.fetch_add(1, Relaxed);
            }
            if complete && new {
                tracing::debug!(%account, blob = %chunk.blob, "blob complete");
            }
            send(
                socket,
                state,
                &ServerMessage::BlobChunkStored {
                    blob: chunk.blob,
                    index: chunk.index,
                    complete,
                },
            )
            .await
        }
        BlobPut::Refused(why) => {
            refuse_blob(socket, state, chunk.blob, why.code(), why.to_string()).await
        }
    }
}

/// Sends a complete blob's chunks from `from` on, one read and sent at a time.
pub(crate) async fn get(
    socket: &mut WebSocket,
    state: &AppState,
    account: AccountId,
    blob: BlobId,
    from: ChunkIndex,
) -> Result<(), End> {
    let BlobState::Complete { chunks } = state.store.blob_state(&account, blob).await? else {
        return refuse_blob(
            socket,
            state,
            blob,
            RefusalCode::BlobNotFound,
            "the relay holds no complete copy of this file yet; the device that attached it has not uploaded it".into(),
        )
        .await;
    };
    for index in (from.0..chunks).map(ChunkIndex) {
        if *state.stop.borrow() {
            return Err(End::Closed);
        }
        let Some(sealed) = state.store.blob_chunk(&account, blob, index).await? else {
            return refuse_blob(
                socket,
                state,
                blob,
                RefusalCode::BlobNotFound,
                format!("chunk {} of this file is missing on the relay", index.0),
            )
            .await;
        };
        let chunk = BlobChunk {
            blob,
            index,
            chunks,
            sealed,
        };
        state.metrics.blob_chunks_sent.fetch_add(1, Relaxed);
        send(socket, state, &ServerMessage::BlobChunk(chunk)).await?;
    }
    Ok(())
}
