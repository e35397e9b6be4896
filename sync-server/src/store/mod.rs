//! Where the relay keeps accounts, invites and sealed entries.
//!
//! [`RelayStore`] is the one contract every store keeps: async, so a store on a
//! database server awaits it, while [`SqliteStore`] answers from its own threads.
//! [`PostgresStore`] lets several relay nodes share one database.
//!
//! Besides entries, a store keeps each account's newest complete checkpoint (opaque
//! chunks and the cursors it covers) and an upload in progress, what each device
//! last said it had applied, and how far each log was pruned; and blobs
//! (attachments' content as opaque sealed chunks, by the device's keyed name for
//! them), which pruning never touches (see `blobs.rs`).
//!
//! Re-keying moves an account to a new id: the new account and its checkpoint are
//! made beside the old one ([`RelayStore::begin_rotation`]), and one transaction
//! ([`RelayStore::commit_rotation`]) marks the old one moved, keeps only what a
//! hello to it needs (its credential hash, each device's credential hash, removed
//! flag and wrapped new secret), gives the new one each log's floor from the
//! checkpoint's cursors, and deletes everything the old one held sealed under the
//! old key.

mod blobs;
mod postgres;
mod sqlite;
#[cfg(all(test, unix))]
mod tests;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use aftercall_shared::protocol::{
    AccountId, BlobChunk, BlobId, BlobState, CheckpointId, ChunkIndex, Cursor, DeviceId,
    DeviceInfo, RekeyDevice, SealedEntry, WrapKey, WrappedSecret, MAX_CURSORS,
};

pub use blobs::{BlobLimits, BlobPut, BlobRefusal};

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use crate::{Database, RelayError};

/// Opens the store `db` names, bringing its schema up to date.
pub async fn open(db: &Database) -> Result<Arc<dyn RelayStore>, RelayError> {
    open_with_pool(db, crate::DEFAULT_PG_POOL_SIZE).await
}

/// As [`open`], with a PostgreSQL pool of at most `pg_pool_size` connections.
pub async fn open_with_pool(
    db: &Database,
    pg_pool_size: usize,
) -> Result<Arc<dyn RelayStore>, RelayError> {
    Ok(match db {
        Database::Sqlite(path) => Arc::new(SqliteStore::open(path)?),
        Database::Postgres(config) => {
            Arc::new(PostgresStore::open_with_pool(config, pg_pool_size).await?)
        }
    })
}

/// What a push may do now under its account's entry rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Allowance {
    /// Store it after waiting this long (zero: at once); the entries are reserved.
    After(std::time::Duration),
    /// The account is so far over its rate that the wait would be too long.
    Refused,
}

/// An account's entry allowance: `per_second` entries, at most `burst` saved up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryRate {
    pub per_second: u32,
    pub burst: u32,
}

/// What became of an append that first took its entries from the account's
/// allowance every node shares ([`RelayStore::append_within`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RatedAppend {
    /// Within the allowance: the append went ahead in the same transaction.
    Appended(Appended),
    /// Over the allowance: nothing stored, the entries are reserved; append them
    /// with [`RelayStore::append`] after this wait.
    Wait(std::time::Duration),
    /// The account is so far over its rate that the wait would be too long; nothing
    /// stored.
    Refused,
}

/// A run of one device's log to read: its entries after `after` up to `head`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRange {
    pub account: AccountId,
    pub device: DeviceId,
    pub after: u64,
    pub head: u64,
}

/// One device session on one relay node, as the shared session count knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionKey {
    /// The node's random id, drawn when it starts.
    pub node: u64,
    /// The session's number on that node.
    pub session: u64,
}

/// A node that has not marked its sessions alive for this long is taken for dead,
/// and its sessions stop counting against their accounts.
pub const SESSION_EXPIRY: std::time::Duration = std::time::Duration::from_secs(30);

/// Decides a push of `n` entries against a bucket holding `tokens` after its
/// refill: what the push may do, and the tokens left (reserved when it waits).
pub fn allowance(tokens: f64, n: u32, rate: u32) -> (Allowance, f64) {
    let left = tokens - f64::from(n);
    if left >= 0.0 {
        return (Allowance::After(std::time::Duration::ZERO), left);
    }
    let wait = std::time::Duration::from_secs_f64(-left / f64::from(rate.max(1)));
    if wait > crate::hub::MAX_THROTTLE {
        return (Allowance::Refused, tokens);
    }
    (Allowance::After(wait), left)
}

/// A connection pool's state, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// Connections the pool may open.
    pub max_size: usize,
    /// Connections open.
    pub size: usize,
    /// Open connections idle in the pool.
    pub available: usize,
    /// Requests waiting for a connection.
    pub waiting: usize,
}

/// An entry's BLAKE3 hash, stored beside it as received.
fn sum(sealed: &[u8]) -> [u8; 32] {
    *blake3::hash(sealed).as_bytes()
}

/// Decides what an append of `entries` (one device's, in order) stores, from the
/// device's head on the relay and `stored`, the sealed bytes already stored at the
/// positions up to the head that the batch repeats: entries continuing the log are
/// stored, an identical re-push is accepted, and the batch stops at the first
/// different entry at a stored position (a conflict) or at the first gap.
fn plan_append(head: u64, entries: &[SealedEntry], stored: &HashMap<u64, Vec<u8>>) -> Appended {
    let mut out = Appended {
        stored: Vec::new(),
        head,
        refused: None,
    };
    for entry in entries {
        if entry.seq == out.head + 1 {
            out.head = entry.seq;
            out.stored.push(entry.clone());
        } else if entry.seq <= out.head {
            let earlier = stored.get(&entry.seq).or_else(|| {
                out.stored
                    .iter()
                    .find(|e| e.seq == entry.seq)
                    .map(|e| &e.sealed)
            });
            // A pruned entry cannot be compared; treat a re-push of it as identical.
            if earlier.is_some_and(|s| *s != entry.sealed) {
                out.refused = Some(AppendRefusal::Conflict { seq: entry.seq });
                break;
            }
        } else {
            out.refused = Some(AppendRefusal::Gap {
                seq: entry.seq,
                head: out.head,
            });
            break;
        }
    }
    out
}

/// A catch-up page cut from stored rows `(seq, sealed, sum as stored)`, read in
/// order and no further than needed: no more than `max_bytes` of sealed bytes (but
/// always the first), and never past an entry whose bytes no longer match the hash
/// stored with them. Returns the page and the damaged entry it stopped before,
/// which the store records.
fn cut_page<E>(
    account: &AccountId,
    device: &DeviceId,
    rows: impl IntoIterator<Item = Result<(u64, Vec<u8>, Option<Vec<u8>>), E>>,
    max_bytes: usize,
) -> Result<(Vec<SealedEntry>, Option<u64>), E> {
    let mut page = Vec::new();
    let mut bytes = 0;
    for row in rows {
        let (seq, sealed, stored_sum) = row?;
        if stored_sum.is_some_and(|s| s[..] != sum(&sealed)) {
            // No device is sent past it until its own device sends it again.
            tracing::warn!(%account, %device, seq, "stored entry is damaged");
            return Ok((page, Some(seq)));
        }
        if !page.is_empty() && bytes + sealed.len() > max_bytes {
            break;
        }
        bytes += sealed.len();
        page.push(SealedEntry {
            device: device.clone(),
            seq,
            sealed,
        });
    }
    Ok((page, None))
}

/// A checkpoint as the relay keeps it: chunks it cannot open, the count of them,
/// and the cursors the device said it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub id: CheckpointId,
    pub chunks: u32,
    pub covers: Vec<Cursor>,
}

/// What became of an uploaded checkpoint chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkStored {
    /// Stored; other chunks of its checkpoint are still to come.
    Waiting,
    /// Every chunk is in: the checkpoint is now the account's newest, and the
    /// checkpoints before it are gone.
    Complete,
    /// No upload of that checkpoint was begun (or the index is past its count).
    Unknown,
    /// Storing it would take the upload to `bytes` sealed bytes, over the limit:
    /// every chunk of it stored so far was dropped instead, and the upload takes
    /// no more (it still counts as begun, for the interval).
    TooLarge { bytes: u64 },
}

/// What the relay allows of checkpoint uploads (`--max-checkpoint-bytes`,
/// `--checkpoint-interval-secs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointLimits {
    /// The most sealed bytes one checkpoint may have.
    pub max_bytes: u64,
    /// The least seconds between two uploads an account begins (0: no bound).
    pub interval_secs: u64,
}

/// What became of a checkpoint upload begun.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckpointBegun {
    /// Kept: its chunks may follow.
    Begun,
    /// Its chunk count alone puts it over the limit: every chunk but the last is
    /// full, so it has at least `least` sealed bytes. Nothing was kept.
    TooLarge { least: u64 },
    /// The account began another upload less than the interval ago; one may begin
    /// in `wait` seconds. Nothing was kept.
    TooSoon { wait: u64 },
}

/// Whether an upload of `chunks` chunks may begin at `now` (seconds since 1970):
/// one of a checkpoint the relay keeps already (`known`: an upload in progress
/// resumed, or the newest begun again; not one refused) always may; another not when its chunk count puts it over
/// the size limit, nor within the interval of the last upload the account began
/// (`last_begun`), complete or not.
fn begin_outcome(
    chunks: u32,
    known: bool,
    last_begun: Option<i64>,
    limits: CheckpointLimits,
    now: i64,
) -> CheckpointBegun {
    if known {
        return CheckpointBegun::Begun;
    }
    let least = u64::from(chunks.saturating_sub(1))
        .saturating_mul(aftercall_shared::protocol::CHECKPOINT_CHUNK_PLAINTEXT as u64);
    if least > limits.max_bytes {
        return CheckpointBegun::TooLarge { least };
    }
    if let Some(last) = last_begun {
        let next = last.saturating_add(i64::try_from(limits.interval_secs).unwrap_or(i64::MAX));
        if now < next {
            return CheckpointBegun::TooSoon {
                wait: u64::try_from(next - now).unwrap_or(0),
            };
        }
    }
    CheckpointBegun::Begun
}

/// Whether chunk bytes take an upload over the limit: the sealed bytes of its other
/// chunks stored so far plus this one's.
fn over_checkpoint_limit(
    stored_others: u64,
    chunk: usize,
    limits: CheckpointLimits,
) -> Option<u64> {
    let bytes = stored_others.saturating_add(chunk as u64);
    (bytes > limits.max_bytes).then_some(bytes)
}

/// Where an uploaded chunk `index` goes, from its checkpoint's row (chunk count,
/// complete) if there is one: the count to compare with once it is stored, or the
/// answer at once (no such upload, an index past the count, or a checkpoint
/// complete already).
fn chunk_target(row: Option<(i64, bool)>, index: ChunkIndex) -> Result<i64, ChunkStored> {
    match row {
        None => Err(ChunkStored::Unknown),
        Some((_, true)) => Err(ChunkStored::Complete),
        Some((chunks, false)) if i64::from(index.0) >= chunks => Err(ChunkStored::Unknown),
        Some((chunks, false)) => Ok(chunks),
    }
}

/// What an account takes on the relay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub entries: u64,
    pub entry_bytes: u64,
    /// Chunks of every checkpoint kept, an upload in progress included.
    pub checkpoint_bytes: u64,
    /// The sealed size of every blob kept or being uploaded, as announced.
    pub blob_bytes: u64,
}

impl Usage {
    pub fn bytes(&self) -> u64 {
        self.entry_bytes + self.checkpoint_bytes + self.blob_bytes
    }
}

/// What one device last said it had applied, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledged {
    pub device: DeviceId,
    pub cursors: Vec<Cursor>,
    /// Seconds since 1970.
    pub seen_at: i64,
}

/// For each device's log, the newest entry the relay may drop, where that is past
/// what was `pruned` already: one the checkpoint `covers`, that every device seen
/// since `active_since` (the log's own device aside) has applied, and never the
/// log's newest entry (its hash tells a device its log is its own). A device not
/// seen since then does not hold pruning back; when it returns it loads the
/// checkpoint.
fn prune_floors(
    covers: &[Cursor],
    heads: &[(DeviceId, u64)],
    pruned: &[(DeviceId, u64)],
    acks: &[Acknowledged],
    active_since: i64,
) -> Vec<(DeviceId, u64)> {
    let active: Vec<&Acknowledged> = acks.iter().filter(|a| a.seen_at > active_since).collect();
    heads
        .iter()
        .filter_map(|(device, head)| {
            let covered = covers.iter().find(|c| c.device == *device)?.seq;
            let applied = active
                .iter()
                .filter(|a| a.device != *device)
                .map(|a| {
                    a.cursors
                        .iter()
                        .find(|c| c.device == *device)
                        .map_or(0, |c| c.seq)
                })
                .min()
                .unwrap_or(u64::MAX);
            let floor = covered.min(applied).min(head.saturating_sub(1));
            let done = pruned.iter().find(|(d, _)| d == device).map_or(0, |p| p.1);
            (floor > done).then(|| (device.clone(), floor))
        })
        .collect()
}

/// A device as its account's registry on the relay holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredDevice {
    pub device: DeviceId,
    /// The hash of the device's own credential; `None` until the device sends one
    /// (it was renamed or removed before it registered).
    pub verifier: Option<[u8; 32]>,
    /// Its name sealed under the account key (the relay cannot read it); empty
    /// when none was given.
    pub sealed_name: Vec<u8>,
    /// Removed from the account: never let in again.
    pub removed: bool,
}

/// The account's devices as a device sees them listed: every device registered,
/// with a log or an acknowledgement on the relay, removed ones left out; each with
/// its sealed name, when it last said hello, and how many entries of the other
/// devices the relay holds past what it last said it had applied.
pub fn device_list(
    registry: &[RegisteredDevice],
    heads: &[(DeviceId, u64)],
    acks: &[Acknowledged],
) -> Vec<DeviceInfo> {
    let removed: BTreeSet<&DeviceId> = registry
        .iter()
        .filter(|r| r.removed)
        .map(|r| &r.device)
        .collect();
    // A device is one registered or one that said hello here. A log with neither
    // behind it is no device of the account's: after a re-key the new account
    // holds the logs of devices not moved yet, and of one removed, from the
    // checkpoint's cursors alone.
    let ids: BTreeSet<&DeviceId> = registry
        .iter()
        .map(|r| &r.device)
        .chain(acks.iter().map(|a| &a.device))
        .filter(|d| !removed.contains(d))
        .collect();
    ids.into_iter()
        .take(MAX_CURSORS)
        .map(|device| {
            let ack = acks.iter().find(|a| a.device == *device);
            let applied = |other: &DeviceId| {
                ack.and_then(|a| a.cursors.iter().find(|c| c.device == *other))
                    .map_or(0, |c| c.seq)
            };
            DeviceInfo {
                device: device.clone(),
                sealed_name: registry
                    .iter()
                    .find(|r| r.device == *device)
                    .map(|r| r.sealed_name.clone())
                    .unwrap_or_default(),
                last_seen: ack.map(|a| u64::try_from(a.seen_at).unwrap_or(0)),
                waiting: heads
                    .iter()
                    .filter(|(d, _)| d != device)
                    .map(|(d, head)| head.saturating_sub(applied(d)))
                    .sum(),
            }
        })
        .collect()
}

/// An account as a hello finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    /// The hash of the account's credential.
    pub verifier: [u8; 32],
    /// Re-keyed: the account it moved to. Only devices with a wrapped secret are
    /// let near it, and only to be told where it went.
    pub moved_to: Option<AccountId>,
    /// The new account of a re-key of `rotating_from` not committed yet: nobody
    /// syncs with it until the commit.
    pub rotating_from: Option<AccountId>,
}

/// Where an account stands in a re-key, as its row says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RotationState {
    /// The new account of a re-key begun and not committed.
    pending_to: Option<AccountId>,
    /// The account it moved to.
    moved_to: Option<AccountId>,
}

/// An account id from its stored bytes.
fn account_of(bytes: Option<Vec<u8>>) -> Option<AccountId> {
    Some(AccountId(bytes?.try_into().ok()?))
}

/// What became of a request to begin a re-key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationBegin {
    /// The new account exists with its checkpoint begun; a re-key begun before to
    /// another account was dropped with everything of it.
    Begun,
    /// The new id is an account already (other than this one's own pending target).
    TargetTaken,
    /// The account was re-keyed already.
    Moved,
}

/// What became of a request to commit a re-key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotationCommit {
    /// The account moved in this transaction.
    Committed,
    /// It had moved to that account already (a repeated commit).
    AlreadyCommitted,
    /// No re-key to that account is pending (never begun, replaced since, or the
    /// account moved elsewhere).
    NotPending,
    /// The new account's checkpoint is not complete.
    Incomplete,
    /// A wrapped secret names a device the account has not registered, or removed.
    UnknownDevice(DeviceId),
}

/// Bytes of a wrap key as stored: the public key, then the MAC.
fn wrap_key_bytes(key: &WrapKey) -> Vec<u8> {
    [&key.public[..], &key.mac[..]].concat()
}

/// A wrap key from its stored bytes; `None` for anything but 64 bytes.
fn wrap_key_of(bytes: &[u8]) -> Option<WrapKey> {
    if bytes.len() != 64 {
        return None;
    }
    let (public, mac) = bytes.split_at(32);
    Some(WrapKey {
        public: public.try_into().ok()?,
        mac: mac.try_into().ok()?,
    })
}

/// The account's devices a re-key moves, from registry rows `(device, verifier
/// present, removed, wrap key)`: registered ones not removed, with their wrap keys.
fn rekey_devices<I>(rows: I) -> Vec<RekeyDevice>
where
    I: IntoIterator<Item = (DeviceId, bool, bool, Option<Vec<u8>>)>,
{
    rows.into_iter()
        .filter(|(_, registered, removed, _)| *registered && !removed)
        .take(aftercall_shared::protocol::MAX_REKEY_DEVICES)
        .map(|(device, _, _, key)| RekeyDevice {
            device,
            wrap_key: key.as_deref().and_then(wrap_key_of),
        })
        .collect()
}

/// The first wrapped secret naming a device that is not among `devices` (the
/// registered, not removed ones).
fn unknown_wrap<'a>(
    devices: &[RegisteredDevice],
    wraps: &'a [WrappedSecret],
) -> Option<&'a DeviceId> {
    wraps.iter().map(|w| &w.device).find(|d| {
        !devices
            .iter()
            .any(|r| r.device == **d && r.verifier.is_some() && !r.removed)
    })
}

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
#[async_trait::async_trait]
pub trait RelayStore: Send + Sync + 'static {
    /// Takes `n` entries from `account`'s allowance (`rate` a second, at most
    /// `burst` saved up) in a bucket every relay node shares. `None`: this store
    /// has no shared bucket (one node: the node's own counts).
    async fn take_entries(
        &self,
        _account: &AccountId,
        _n: u32,
        _rate: u32,
        _burst: u32,
    ) -> Result<Option<Allowance>, RelayError> {
        Ok(None)
    }

    /// Takes `entries` from `account`'s allowance in the bucket every relay node
    /// shares (as [`RelayStore::take_entries`]) and, when they are within it, stores
    /// them (as [`RelayStore::append`]) in the same transaction. `None`: this store
    /// has no shared bucket; nothing was taken or stored.
    async fn append_within(
        &self,
        _account: &AccountId,
        _entries: &[SealedEntry],
        _rate: EntryRate,
    ) -> Result<Option<RatedAppend>, RelayError> {
        Ok(None)
    }

    /// Counts a new session of `account` on `node` against `limit` sessions of the
    /// account across every node; true when it is let in (and recorded). `None`:
    /// this store keeps no shared count (one node: the node's own counts).
    async fn open_session(
        &self,
        _account: &AccountId,
        _session: SessionKey,
        _limit: usize,
    ) -> Result<Option<bool>, RelayError> {
        Ok(None)
    }

    /// Forgets a session [`RelayStore::open_session`] let in.
    async fn close_session(&self, _session: SessionKey) -> Result<(), RelayError> {
        Ok(())
    }

    /// Marks every session of `node` alive; sessions of a node silent for
    /// [`SESSION_EXPIRY`] (one that crashed) stop counting.
    async fn touch_sessions(&self, _node: u64) -> Result<(), RelayError> {
        Ok(())
    }

    /// The id this store's appends sign their signal to other nodes with, so the
    /// node that sent a signal knows it for its own; `None`: this store sends none.
    fn signal_origin(&self) -> Option<u64> {
        None
    }

    /// The state of the store's connection pool; `None` for a store without one.
    fn pool(&self) -> Option<PoolStatus> {
        None
    }

    /// Whether the database answers (for `/health`).
    async fn ready(&self) -> Result<(), RelayError>;

    /// The credential hash of `account`, if it exists.
    async fn verifier(&self, account: &AccountId) -> Result<Option<[u8; 32]>, RelayError> {
        Ok(self.account(account).await?.map(|r| r.verifier))
    }

    /// Creates `account` with credential hash `verifier`; with `invite_required`,
    /// only by using up a valid invite code.
    async fn create_account(
        &self,
        account: &AccountId,
        verifier: [u8; 32],
        invite_required: bool,
        invite: Option<&str>,
    ) -> Result<Registration, RelayError>;

    /// Stores a new invite code.
    async fn add_invite(&self, code: &str) -> Result<(), RelayError>;

    /// Where every device's log of `account` ends.
    async fn heads(&self, account: &AccountId) -> Result<Vec<(DeviceId, u64)>, RelayError>;

    /// Entries of `device` after `after`, oldest first: at most `limit`, and no more
    /// than `max_bytes` of sealed bytes (but always the first, when there is one).
    /// The run stops before an entry found damaged on disk, which is then reported
    /// by [`RelayStore::damaged`] until it is repaired.
    async fn entries_after(
        &self,
        account: &AccountId,
        device: &DeviceId,
        after: u64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<SealedEntry>, RelayError>;

    /// For each of `ranges`, in order, its entries oldest first as far as they were
    /// read: all of them, or fewer when the read reached `max_bytes` of sealed bytes
    /// in all, or an entry found damaged on disk (left for a session's own read to
    /// find and record). `None`: this store does not read several logs at once.
    async fn entries_in(
        &self,
        _ranges: &[LogRange],
        _max_bytes: usize,
    ) -> Result<Option<Vec<Vec<SealedEntry>>>, RelayError> {
        Ok(None)
    }

    /// The BLAKE3 hash of entry `seq` of `device` as it was received.
    async fn entry_hash(
        &self,
        account: &AccountId,
        device: &DeviceId,
        seq: u64,
    ) -> Result<Option<[u8; 32]>, RelayError>;

    /// Entries of `device` found damaged on disk, waiting for a fresh copy.
    async fn damaged(&self, account: &AccountId, device: &DeviceId)
        -> Result<Vec<u64>, RelayError>;

    /// Replaces damaged entries with the fresh copies among `entries` (others are
    /// ignored: a stored entry is otherwise never replaced); returns those replaced.
    async fn repair(
        &self,
        account: &AccountId,
        entries: &[SealedEntry],
    ) -> Result<Vec<SealedEntry>, RelayError>;

    /// Stores `entries` (all of one device, in order) in one durable transaction,
    /// stopping at the first gap or conflict.
    async fn append(
        &self,
        account: &AccountId,
        entries: &[SealedEntry],
    ) -> Result<Appended, RelayError>;

    /// Starts keeping checkpoint `id` of `chunks` chunks covering `covers`, begun
    /// at `now` (seconds since 1970), unless `limits` refuse it
    /// ([`begin_outcome`]; decided under the account's lock, so two nodes cannot
    /// both begin one); an earlier upload that never completed is dropped. The
    /// newest complete checkpoint stays until this one completes. Beginning the
    /// newest again, or an upload in progress again, changes nothing.
    async fn begin_checkpoint(
        &self,
        account: &AccountId,
        checkpoint: &StoredCheckpoint,
        limits: CheckpointLimits,
        now: i64,
    ) -> Result<CheckpointBegun, RelayError>;

    /// Stores chunk `index` of checkpoint `id`. When it is the last one missing,
    /// the checkpoint becomes the account's newest in the same transaction and
    /// every other checkpoint of the account is dropped. A chunk that would take
    /// the upload past `limits.max_bytes` drops the upload instead.
    async fn put_checkpoint_chunk(
        &self,
        account: &AccountId,
        id: CheckpointId,
        index: ChunkIndex,
        sealed: &[u8],
        limits: CheckpointLimits,
    ) -> Result<ChunkStored, RelayError>;

    /// The account's newest complete checkpoint.
    async fn newest_checkpoint(
        &self,
        account: &AccountId,
    ) -> Result<Option<StoredCheckpoint>, RelayError>;

    /// Chunk `index` of checkpoint `id`, while it is kept.
    async fn checkpoint_chunk(
        &self,
        account: &AccountId,
        id: CheckpointId,
        index: ChunkIndex,
    ) -> Result<Option<Vec<u8>>, RelayError>;

    /// Records what `device` says it has applied (its hello's cursors), at `now`.
    async fn acknowledge(
        &self,
        account: &AccountId,
        device: &DeviceId,
        cursors: &[Cursor],
        now: i64,
    ) -> Result<(), RelayError>;

    /// For every device's log, the newest entry dropped by pruning (0: none).
    async fn pruned(&self, account: &AccountId) -> Result<Vec<(DeviceId, u64)>, RelayError>;

    /// Drops the entries the newest checkpoint covers and every device seen since
    /// `active_since` has applied ([`prune_floors`]); returns how many.
    async fn prune(&self, account: &AccountId, active_since: i64) -> Result<u64, RelayError>;

    /// What the account takes on the relay.
    async fn usage(&self, account: &AccountId) -> Result<Usage, RelayError>;

    /// What every device of `account` last said it had applied, and when.
    async fn acknowledged(&self, account: &AccountId) -> Result<Vec<Acknowledged>, RelayError>;

    /// The account's device registry, removed devices included, ordered by device.
    async fn registered_devices(
        &self,
        account: &AccountId,
    ) -> Result<Vec<RegisteredDevice>, RelayError>;

    /// Registers `device`'s own credential hash and sealed name, unless it has
    /// one already (the first registration stands: a second never replaces it,
    /// and a name given by a rename before it stays); returns the device as now
    /// registered.
    async fn register_device(
        &self,
        account: &AccountId,
        device: &DeviceId,
        verifier: [u8; 32],
        sealed_name: &[u8],
    ) -> Result<RegisteredDevice, RelayError>;

    /// Gives `device` a new sealed name. False when the account knows no such
    /// device (registered, or with a log or an acknowledgement here) or it was
    /// removed.
    async fn rename_device(
        &self,
        account: &AccountId,
        device: &DeviceId,
        sealed_name: &[u8],
    ) -> Result<bool, RelayError>;

    /// Marks `device` removed, for good, and forgets what it had applied (it no
    /// longer holds pruning back). False when the account knows no such device or
    /// it was removed already.
    async fn remove_device(
        &self,
        account: &AccountId,
        device: &DeviceId,
    ) -> Result<bool, RelayError>;

    /// The account's credential hash and where it stands in a re-key.
    async fn account(&self, account: &AccountId) -> Result<Option<AccountRecord>, RelayError>;

    /// Keeps `key` as the key `device` receives a new account secret under (the
    /// newest replaces the one before). False when the device is not registered
    /// with a credential of its own, or was removed.
    async fn set_wrap_key(
        &self,
        account: &AccountId,
        device: &DeviceId,
        key: &WrapKey,
    ) -> Result<bool, RelayError>;

    /// The devices a re-key of `account` moves: registered, not removed, with the
    /// wrap key each registered, ordered by device.
    async fn rekey_devices(&self, account: &AccountId) -> Result<Vec<RekeyDevice>, RelayError>;

    /// Begins moving `account` to `to` in one transaction: creates `to` with the
    /// credential hash `verifier` (no invite needed), records `to` as the pending
    /// target (a different pending target, or this one begun before, is dropped
    /// with everything of it first), and begins `checkpoint` on `to`. Nothing of
    /// `account` changes.
    async fn begin_rotation(
        &self,
        account: &AccountId,
        to: &AccountId,
        verifier: [u8; 32],
        checkpoint: &StoredCheckpoint,
    ) -> Result<RotationBegin, RelayError>;

    /// Commits the move of `account` to its pending target `to` in one
    /// transaction, once `to`'s checkpoint is complete: `account` becomes moved
    /// (its credential hash and its registry's credential hashes and removed flags
    /// kept, each device's wrapped secret stored, the sealed names emptied), `to`
    /// gets a log for every cursor its checkpoint covers, starting there (head and
    /// pruned at that number), and everything `account` held otherwise is deleted:
    /// entries, damaged entries, checkpoints, acknowledgements, logs, blobs and
    /// the shared limits' rows. Other nodes are told to close its sessions.
    async fn commit_rotation(
        &self,
        account: &AccountId,
        to: &AccountId,
        wraps: &[WrappedSecret],
        now: i64,
    ) -> Result<RotationCommit, RelayError>;

    /// The new secret sealed to `device` when its account moved.
    async fn wrapped_secret(
        &self,
        account: &AccountId,
        device: &DeviceId,
    ) -> Result<Option<Vec<u8>>, RelayError>;

    /// What the relay holds of blob `blob` of `account`.
    async fn blob_state(&self, account: &AccountId, blob: BlobId) -> Result<BlobState, RelayError>;

    /// Stores one chunk of a blob of `bytes` sealed bytes in one durable
    /// transaction. The first chunk of a blob checks it against `limits` (the
    /// per-file limit, the account's quota); later ones must agree with it. A
    /// chunk stored already is not stored again. The blob becomes complete (and
    /// can be downloaded) in the transaction that stores its last missing chunk.
    async fn put_blob_chunk(
        &self,
        account: &AccountId,
        bytes: u64,
        chunk: &BlobChunk,
        limits: BlobLimits,
    ) -> Result<BlobPut, RelayError>;

    /// Chunk `index` of blob `blob`, once the blob is complete.
    async fn blob_chunk(
        &self,
        account: &AccountId,
        blob: BlobId,
        index: ChunkIndex,
    ) -> Result<Option<Vec<u8>>, RelayError>;
}

#[cfg(test)]
mod device_list_tests {
    use super::*;

    fn id(s: &str) -> DeviceId {
        DeviceId::new(s).unwrap()
    }

    #[test]
    fn each_device_is_listed_with_the_entries_of_others_it_has_not_applied() {
        let registry = vec![
            RegisteredDevice {
                device: id("laptop"),
                verifier: Some([1; 32]),
                sealed_name: b"L".to_vec(),
                removed: false,
            },
            RegisteredDevice {
                device: id("lost"),
                verifier: Some([2; 32]),
                sealed_name: b"X".to_vec(),
                removed: true,
            },
        ];
        // "moved-not-yet": a log the new account of a re-key holds from its
        // checkpoint, of a device that has not said hello there yet.
        let heads = vec![
            (id("laptop"), 10),
            (id("lost"), 4),
            (id("moved-not-yet"), 3),
            (id("phone"), 6),
        ];
        let acks = vec![
            Acknowledged {
                device: id("laptop"),
                cursors: vec![Cursor {
                    device: id("phone"),
                    seq: 2,
                }],
                seen_at: 100,
            },
            Acknowledged {
                device: id("phone"),
                cursors: vec![
                    Cursor {
                        device: id("laptop"),
                        seq: 10,
                    },
                    Cursor {
                        device: id("lost"),
                        seq: 4,
                    },
                ],
                seen_at: 200,
            },
        ];
        let listed = device_list(&registry, &heads, &acks);
        let rows: Vec<(&str, &[u8], Option<u64>, u64)> = listed
            .iter()
            .map(|d| {
                (
                    d.device.as_str(),
                    &d.sealed_name[..],
                    d.last_seen,
                    d.waiting,
                )
            })
            .collect();
        // The laptop lacks 4 of the phone's, all 4 of the removed device's and
        // the 3 of the one not moved yet; that one is not listed itself.
        assert_eq!(
            rows,
            [
                ("laptop", &b"L"[..], Some(100), 11),
                ("phone", &b""[..], Some(200), 3)
            ]
        );
    }
}
