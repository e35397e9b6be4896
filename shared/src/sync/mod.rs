//! The sync engine: a state machine with no IO.
//!
//! The driver feeds it [`Event`]s (connected, a frame received, a local write, own
//! entries read from the store, an apply that failed) and performs the [`Effect`]s
//! it returns (send a frame, apply or quarantine an entry, read the own log, record
//! an acknowledgement). Sealing is deterministic, so the engine needs no randomness;
//! it reads no clock.
//!
//! One session, as decided here:
//! - on connect: send `Hello` with the cursor vector;
//! - on `Welcome`: check the relay's log of this device is its own (the hash of its
//!   newest entry, unless the relay had acknowledged it before), then upload the own
//!   entries the relay lacks, a frame filled by bytes at a time, each acknowledged by
//!   `Stored` before the next is read; send fresh copies of entries the relay found
//!   damaged. A log that is not its own (a copied or restored data folder), or a
//!   push refused as a conflict, ends the session with [`Effect::Rehome`];
//! - on `Entries`: skip re-deliveries (at or below the cursor), quarantine gaps,
//!   entries that do not open and entries that do not parse, apply the rest in order;
//! - on `CaughtUp`: everything on the relay is here; later entries arrive live.
//! - on `CheckpointOffer` (right after `Welcome`, to a new device or one the relay
//!   pruned past): take it, unless this device rejected it before; open its chunks
//!   as they come, check the whole against its id and the announced cursors, and
//!   hand it to the store ([`Effect::LoadCheckpoint`]); entries after it follow. A
//!   bad one is rejected ([`Effect::RejectCheckpoint`]) and the session fails with
//!   [`SyncError::BadCheckpoint`]; the next session asks for the log instead.
//! - on [`Event::CheckpointSnapshot`] while up to date: seal it into chunks and
//!   upload them; "up to date" waits for `CheckpointStored`.
//!
//! - on `Devices`, `DeviceRenamed`, `DeviceRemoved`: the relay's answer to a
//!   request about the account's devices, handed on as [`Effect::Devices`].
//! - once live: blobs (attachments' content) to upload and to download, one at a
//!   time (see `blobs.rs`); "up to date" waits for them too. A blob the relay
//!   refuses, or whose chunks do not open, is reported and the session goes on.
//!
//! A paired device first proves its key: until one entry from the relay has opened
//! (or the relay has none to open), nothing is uploaded and nothing quarantined; if
//! catch-up ends with entries none of which opened, the session fails with
//! [`SyncError::WrongKey`].

mod blobs;
mod engine;
mod error;

#[cfg(test)]
mod tests;

pub use crate::store::QuarantinedEntry;
pub use blobs::{BlobDirection, BlobProgress};
pub use engine::{
    DeviceAnswer, Effect, Engine, EngineOptions, Event, OwnRead, Phase, QuarantineReason, PUSH_PAGE,
};
pub use error::SyncError;
