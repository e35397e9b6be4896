//! The wire protocol between a device and the relay: versioned, compact, bounded.
//!
//! Every frame is one websocket binary message: a version byte, a message tag and
//! the message body in a small hand-written binary encoding (LEB128 integers,
//! length-prefixed bytes). Decoders check every length against both a fixed limit and
//! the bytes actually left before allocating anything, and are total: any byte
//! string decodes to a message or to a [`ProtocolError`], never a panic.
//!
//! The relay links only this module (the crate without its `device` feature): it
//! sees [`SealedEntry`]s, which it can store and forward but never open.
//!
//! A session, as the device sees it:
//! 1. device → [`ClientMessage::Hello`] with its cursor vector;
//! 2. relay → [`ServerMessage::Welcome`] with where the device's own log ends on the
//!    relay, then [`ServerMessage::Entries`] pages of everything past the cursors,
//!    then [`ServerMessage::CaughtUp`];
//! 3. device → [`ClientMessage::Push`] of its entries the relay lacks, relay →
//!    [`ServerMessage::Stored`] acknowledging them once they are on disk;
//! 4. from then on the relay pushes other devices' new entries as they arrive.
//!
//! Every `Entries` and `Push` frame is filled by bytes, not by a count of entries
//! ([`frame_runs`]), so no page ever exceeds [`MAX_FRAME`] however large the
//! account's entries are. `Welcome` carries the hash of the device's newest entry on
//! the relay, so a copied or restored data folder is recognised, and the entries the
//! relay found damaged, which the device sends again with `ClientMessage::Repair`.
//!
//! Checkpoints (sealed snapshots of every document, with the cursor vector they
//! cover) travel in chunks of at most [`MAX_ENTRY`] sealed bytes:
//! - upload: device → [`ClientMessage::CheckpointBegin`] (id, chunk count, the
//!   cursors it covers), then one [`ClientMessage::CheckpointChunk`] per chunk; once
//!   all are stored the relay makes it the account's newest and answers
//!   [`ServerMessage::CheckpointStored`]. An upload cut short leaves the previous
//!   checkpoint as the newest. An upload the relay will not keep (over its size
//!   limit for a checkpoint, or begun too soon after the account's last) is
//!   answered by [`ServerMessage::CheckpointRefused`]; its chunks are dropped and
//!   the session goes on.
//! - bootstrap: to a device with no cursors, or one whose cursors point into a
//!   pruned part of a log, the relay sends [`ServerMessage::CheckpointOffer`] right
//!   after `Welcome` and waits for [`ClientMessage::TakeCheckpoint`]; taken, the
//!   chunks follow ([`ServerMessage::CheckpointChunk`]) and then only the entries
//!   after the checkpoint's cursors. Only a hello that carries a [`DeviceKey`]
//!   (tag 7, sent by every version that knows checkpoints) is offered one: the
//!   version byte did not change when checkpoints came, and a plain hello may come
//!   from a version before them, which fails on a message it does not know.
//!
//! Devices: a hello may carry the device's own credential and its name sealed
//! under the account key ([`DeviceKey`]); the first registers the device, and from
//! then on that device id is let in only with its own credential. Once up to date a
//! device may list the account's devices ([`ClientMessage::ListDevices`]), rename
//! one or remove one; a removed device is refused ([`RefusalCode::DeviceRemoved`])
//! and its open session closed.
//! Blobs (attachments' content, sealed on the device in chunks of at most
//! [`MAX_ENTRY`] sealed bytes, named by [`BlobId`]) travel outside the log:
//! - upload: device → [`ClientMessage::BlobHave`], relay → [`ServerMessage::BlobStatus`]
//!   (absent, the chunks already stored, or complete: then nothing is sent); device →
//!   one [`ClientMessage::BlobPut`] per missing chunk, each answered by
//!   [`ServerMessage::BlobChunkStored`], the last one `complete`.
//! - download: device → [`ClientMessage::BlobGet`], relay → its chunks in order.
//! - a request the relay will not serve (quota, per-file limit, no such blob) is
//!   answered by [`ServerMessage::BlobRefused`]; the session goes on.
//!
//! Re-keying (a lost phone): every device registers a [`WrapKey`] once up to date
//! ([`ClientMessage::SetWrapKey`]). The rotating device sends
//! [`ClientMessage::BeginRotation`] with a checkpoint sealed under the new keys
//! (its chunks follow as usual), gets the remaining devices' wrap keys back
//! ([`ServerMessage::RotationBegun`]) and commits with the new secret sealed to each
//! ([`ClientMessage::CommitRotation`], [`ServerMessage::RotationCommitted`]). From
//! then on a remaining device's hello with the old keys is answered
//! [`ServerMessage::Moved`], anyone else's refused with
//! [`RefusalCode::AccountRekeyed`].

mod blob;
mod checkpoint;
mod codec;
mod entry;
mod error;
mod message;
mod rekey;

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;

pub use blob::{BlobChunk, BlobId, BlobState, MAX_BLOB_CHUNKS};
pub use checkpoint::{
    CheckpointId, ChunkIndex, SealedChunk, CHECKPOINT_CHUNK_PLAINTEXT, MAX_CHECKPOINT_CHUNKS,
};
pub use entry::{AccountId, Credential, DeviceId, SealedEntry};
pub use error::ProtocolError;
pub use message::{
    frame_runs, ClientMessage, Cursor, DeviceInfo, DeviceKey, Refusal, RefusalCode, ServerMessage,
    ENTRY_OVERHEAD, FRAME_BUDGET,
};
pub use rekey::{RekeyDevice, WrapKey, WrappedSecret, MAX_REKEY_DEVICES, MAX_WRAPPED};

/// The protocol version this build speaks; the first byte of every frame.
pub const VERSION: u8 = 2;
/// The largest frame either side accepts (bytes).
pub const MAX_FRAME: usize = 4 * 1024 * 1024;
/// The largest sealed entry (bytes).
pub const MAX_ENTRY: usize = 1024 * 1024;
/// The most entries one frame may carry.
pub const MAX_ENTRIES_PER_FRAME: usize = 1024;
/// The most devices a cursor vector may name.
pub const MAX_CURSORS: usize = 4096;
/// The longest device id.
pub const MAX_DEVICE_ID: usize = 64;
/// The longest free text (error messages, invite codes).
pub const MAX_TEXT: usize = 1024;
/// The longest sealed device name (bytes).
pub const MAX_SEALED_NAME: usize = 256;
