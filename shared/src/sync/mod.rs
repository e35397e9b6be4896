//! The sync engine: a state machine with no IO.
//!
//! The driver feeds it [`Event`]s (connected, a frame received, a local write, own
//! entries read from the store, an apply that failed) and performs the [`Effect`]s
//! it returns (send a frame, apply or quarantine an entry, read the own log, record
//! an acknowledgement). Randomness (nonces) is passed in; the engine reads no clock.
//!
//! One session, as decided here:
//! - on connect: send `Hello` with the cursor vector;
//! - on `Welcome { own_head }`: upload the own entries the relay lacks, a page at a
//!   time, each page acknowledged by `Stored` before the next is read;
//! - on `Entries`: skip re-deliveries (at or below the cursor), quarantine gaps,
//!   entries that do not open and entries that do not parse, apply the rest in order;
//! - on `CaughtUp`: everything on the relay is here; later entries arrive live.
//!
//! A paired device first proves its key: until one entry from the relay has opened
//! (or the relay has none to open), nothing is uploaded and nothing quarantined; if
//! catch-up ends with entries none of which opened, the session fails with
//! [`SyncError::WrongKey`].

mod engine;
mod error;

#[cfg(test)]
mod tests;

pub use crate::store::QuarantinedEntry;
pub use engine::{Effect, Engine, Event, Phase, QuarantineReason, PUSH_PAGE};
pub use error::SyncError;
