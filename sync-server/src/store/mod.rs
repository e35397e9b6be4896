//! Where the relay keeps accounts, invites and sealed entries.
//!
//! The trait is small and synchronous (callers run it on a blocking thread) so a
//! Postgres implementation can sit beside [`SqliteStore`] later.

mod sqlite;

use aftercall_shared::protocol::{AccountId, DeviceId, SealedEntry};

pub use sqlite::SqliteStore;

use crate::RelayError;

/// What became of a request to create an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    Created,
    /// Registration is closed and the invite code was missing, unknown or used.
    InviteRequired,
}

/// What became of a batch of uploaded entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// Entries newly stored (re-pushes of identical entries are not repeated here).
    pub stored: Vec<SealedEntry>,
    /// The device's log on the relay now ends here.
    pub head: u64,
    /// Why the batch stopped early, if it did; everything before it is stored.
    pub refused: Option<AppendRefusal>,
}

/// Why an entry was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendRefusal {
    /// Its sequence number is past `head + 1`.
    Gap { seq: u64, head: u64 },
    /// A different entry is already stored at its sequence number.
    Conflict { seq: u64 },
}

/// The relay's storage.
pub trait RelayStore: Send + Sync + 'static {
    /// The credential hash of `account`, if it exists.
    fn verifier(&self, account: &AccountId) -> Result<Option<[u8; 32]>, RelayError>;

    /// Creates `account` with credential hash `verifier`; with `invite_required`,
    /// only by using up a valid invite code.
    fn create_account(
        &self,
        account: &AccountId,
        verifier: [u8; 32],
        invite_required: bool,
        invite: Option<&str>,
    ) -> Result<Registration, RelayError>;

    /// Stores a new invite code.
    fn add_invite(&self, code: &str) -> Result<(), RelayError>;

    /// Where every device's log of `account` ends.
    fn heads(&self, account: &AccountId) -> Result<Vec<(DeviceId, u64)>, RelayError>;

    /// Entries of `device` after `after`, oldest first: at most `limit`, and no more
    /// than `max_bytes` of sealed bytes (but always the first, when there is one).
    /// The run stops before an entry found damaged on disk, which is then reported
    /// by [`RelayStore::damaged`] until it is repaired.
    fn entries_after(
        &self,
        account: &AccountId,
        device: &DeviceId,
        after: u64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<SealedEntry>, RelayError>;

    /// The BLAKE3 hash of entry `seq` of `device` as it was received.
    fn entry_hash(
        &self,
        account: &AccountId,
        device: &DeviceId,
        seq: u64,
    ) -> Result<Option<[u8; 32]>, RelayError>;

    /// Entries of `device` found damaged on disk, waiting for a fresh copy.
    fn damaged(&self, account: &AccountId, device: &DeviceId) -> Result<Vec<u64>, RelayError>;

    /// Replaces damaged entries with the fresh copies among `entries` (others are
    /// ignored: a stored entry is otherwise never replaced); returns those replaced.
    fn repair(
        &self,
        account: &AccountId,
        entries: &[SealedEntry],
    ) -> Result<Vec<SealedEntry>, RelayError>;

    /// Stores `entries` (all of one device, in order) in one durable transaction,
    /// stopping at the first gap or conflict.
    fn append(&self, account: &AccountId, entries: &[SealedEntry]) -> Result<Appended, RelayError>;
}
