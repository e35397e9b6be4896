//! # Aftercall's domain
//!
//! Everything a device knows about the user's network, with no UI, no server and no
//! clock or randomness of its own (both are passed in through [`env`]).
//!
//! - [`model`]: the records, one Automerge document each: [`Person`](model::Person),
//!   [`Interaction`](model::Interaction) with its [`Referral`](model::Referral)s,
//!   [`Event`](model::Event).
//! - [`Store`]: the SQLite file holding documents, the read model, the search index,
//!   this device's own log and the sync cursors.
//! - [`commands`]: capture, edit, thank, follow up, advance a referral, delete, restore.
//!   Each is one durable transaction.
//! - [`queries`]: Today, People and search, a person's Diary, the weekly Review,
//!   how many records are here.
//! - [`dates`]: dates as typed after a call ("in 3 days", "friday").
//! - [`api`]: every command and query as a [`Request`](api::Request) value with its
//!   typed [`Reply`](api::Reply), answered by [`Store::answer`], encoded compactly
//!   to cross a thread or worker boundary.
//!
//! With the `device` feature off, only the wire protocol is compiled: that is what the
//! relay links.

#[cfg(feature = "device")]
pub mod api;
#[cfg(feature = "device")]
pub mod commands;
#[cfg(feature = "device")]
pub mod dates;
#[cfg(feature = "device")]
pub mod env;
#[cfg(feature = "device")]
mod error;
#[cfg(feature = "device")]
pub mod fold;
#[cfg(feature = "device")]
pub mod interop;
#[cfg(feature = "device")]
pub mod model;
#[cfg(feature = "device")]
pub mod queries;
#[cfg(feature = "device")]
mod store;

#[cfg(feature = "device")]
pub mod crypto;
pub mod protocol;
#[cfg(feature = "device")]
pub mod sync;

#[cfg(feature = "device")]
pub use error::{Error, Result};
#[cfg(feature = "device")]
pub use store::{
    AccountSnapshot, DocChanges, LoadedSnapshot, LogEntry, Payload, ReadModelFrom, RemoteEntry,
    Store, Writer, MAX_RECORD_CHANGES,
};

#[cfg(all(test, feature = "device"))]
mod tests;
