//! The engine's state and its one entry point, [`Engine::handle`].

use std::collections::{BTreeMap, HashMap, HashSet};

use super::blobs::{BlobProgress, BlobSync};
use super::SyncError;
use crate::crypto::{
    open, seal, seal_checkpoint, AccountKeys, BlobFault, CheckpointFault, CheckpointReader,
    OpenCheckpoint, OpenEntry,
};
use crate::model::BlobHash;
use crate::protocol::{
    frame_runs, AccountId, CheckpointId, ClientMessage, Cursor, DeviceId, DeviceInfo, DeviceKey,
    Refusal, RefusalCode, RekeyDevice, SealedChunk, SealedEntry, ServerMessage, WrapKey, MAX_ENTRY,
    MAX_FRAME,
};
use crate::LogEntry;

/// How many own entries are read and uploaded per page.
pub const PUSH_PAGE: usize = 256;

/// How many early (out-of-order) entries are held waiting for the ones before them.
const MAX_HELD: usize = 16_384;

/// Something that happened, for the engine to decide on.
#[derive(Debug)]
pub enum Event {
    /// The websocket is open. `cursors`, `own_head` and `acked` (how far the relay
    /// has acknowledged this device's log) are read from the store.
    Connected {
        cursors: Vec<(String, u64)>,
        own_head: u64,
        acked: u64,
    },
    /// A frame arrived from the relay.
    Frame(Vec<u8>),
    /// The device wrote locally; its own log now ends at `own_head`.
    LocalWrite { own_head: u64 },
    /// The own-log entries asked for by [`Effect::ReadOwnLog`], as `(seq, payload)`.
    OwnEntries(Vec<(u64, Vec<u8>)>),
    /// The own-log entries asked for by [`Effect::ReadOwnEntries`] with the same
    /// `purpose`, as `(seq, payload)`.
    OwnEntriesAt {
        purpose: OwnRead,
        entries: Vec<(u64, Vec<u8>)>,
    },
    /// The own log was split as [`Effect::SplitOwnLog`] asked; it now ends at
    /// `own_head`.
    OwnLogSplit { own_head: u64 },
    /// The store could not apply an entry the engine passed as sound; it was
    /// quarantined, and later entries of that device wait behind it.
    ApplyFailed { device: DeviceId, seq: u64 },
    /// A snapshot of the store to upload as a checkpoint (see
    /// [`Engine::can_upload_checkpoint`]): the cursors it covers and its body.
    CheckpointSnapshot {
        covers: Vec<(String, u64)>,
        body: Vec<u8>,
    },
    /// A snapshot of the store to move the account to the new keys `to` with
    /// (see [`Engine::can_upload_checkpoint`]): it is sealed under them and sent
    /// with [`ClientMessage::BeginRotation`]; the relay's answer comes back as
    /// [`DeviceAnswer::RotationBegun`].
    RotationSnapshot {
        to: AccountKeys,
        covers: Vec<(String, u64)>,
        body: Vec<u8>,
    },
    /// The store could not load the checkpoint handed over by
    /// [`Effect::LoadCheckpoint`] (its body does not parse); nothing of it was kept.
    CheckpointLoadFailed {
        checkpoint: CheckpointId,
        reason: String,
    },
    /// The blobs to upload and those to download (with their plaintext sizes), as
    /// asked by [`Effect::ListBlobs`].
    BlobLists {
        uploads: Vec<(BlobHash, u64)>,
        downloads: Vec<(BlobHash, u64)>,
    },
    /// The content of the blob asked for by [`Effect::ReadBlob`] (`None`: the store
    /// no longer has it).
    BlobContent {
        hash: BlobHash,
        content: Option<Vec<u8>>,
    },
    /// Blobs may be waiting (one was attached, or asked for to open): the lists are
    /// asked for again once the current transfers are done.
    BlobsChanged,
    /// The connection closed.
    Disconnected,
}

/// Why an entry was set aside instead of applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuarantineReason {
    /// An earlier entry of the same device is missing or was itself quarantined.
    Gap { expected: u64 },
    /// It does not open with the account key: forged, damaged or relabelled.
    Undecryptable,
    /// It opened but its contents do not parse.
    Unparseable(String),
}

impl std::fmt::Display for QuarantineReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QuarantineReason::Gap { expected } => {
                write!(f, "arrived while entry {expected} of its device is missing")
            }
            QuarantineReason::Undecryptable => {
                f.write_str("does not open with the account key (forged or damaged)")
            }
            QuarantineReason::Unparseable(e) => write!(f, "does not parse: {e}"),
        }
    }
}

/// Why the engine asks for particular own-log entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnRead {
    /// To check that the relay's newest entry of this device is the one it wrote.
    Verify,
    /// To send again entries the relay found damaged.
    Repair,
}

/// Something for the driver to do.
#[derive(Debug)]
pub enum Effect {
    /// Send this frame to the relay.
    Send(Vec<u8>),
    /// Apply this entry to the store (documents, read model and cursor at once).
    Apply(OpenEntry),
    /// Record this entry as quarantined; it is not applied.
    Quarantine {
        entry: SealedEntry,
        reason: QuarantineReason,
    },
    /// Read own-log entries after `after` and hand them back as
    /// [`Event::OwnEntries`].
    ReadOwnLog { after: u64, limit: usize },
    /// Read these own-log entries and hand them back as [`Event::OwnEntriesAt`].
    ReadOwnEntries { purpose: OwnRead, seqs: Vec<u64> },
    /// Own entries from `from` on seal too large for the relay (written by an older
    /// version): split them into entries within the limit, then report a
    /// [`Event::OwnLogSplit`]. None of them is on the relay yet.
    SplitOwnLog { from: u64 },
    /// This device's log on the relay is not the one in the store: the data folder
    /// was copied, or restored from an old backup. Give the device a new id, keep
    /// entries up to `common` as the old id's, and send every later change again
    /// under the new one; then connect again.
    Rehome { common: u64 },
    /// The relay has this device's log on disk up to `up_to`.
    Acknowledged { up_to: u64 },
    /// Every entry the relay held at connect time has been handled.
    CaughtUp,
    /// Load this checkpoint (opened and checked) into the store and advance the
    /// cursors to what it covers, in one transaction; report a failure with
    /// [`Event::CheckpointLoadFailed`].
    LoadCheckpoint(OpenCheckpoint),
    /// The relay's checkpoint is forged, damaged or does not parse: record it as
    /// rejected, so the next session asks for the log instead
    /// ([`EngineOptions::rejected_checkpoint`]). The session then fails.
    RejectCheckpoint {
        checkpoint: CheckpointId,
        fault: CheckpointFault,
    },
    /// The checkpoint uploaded in this session is the account's newest on the relay.
    CheckpointStored {
        checkpoint: CheckpointId,
        /// How many chunks and sealed bytes it took.
        chunks: usize,
        bytes: usize,
    },
    /// The relay refused the checkpoint uploaded in this session (over its size
    /// limit, or too soon after the account's last one). The session goes on, and
    /// the engine uploads no other checkpoint in it
    /// ([`Engine::can_upload_checkpoint`] stays false). Tell the user, and hold
    /// automatic checkpoints back.
    CheckpointRefused {
        checkpoint: CheckpointId,
        refusal: Refusal,
    },
    /// The relay answered a request about the account's devices.
    Devices(DeviceAnswer),
    /// Read the blobs to upload and those to download, and hand them back as
    /// [`Event::BlobLists`].
    ListBlobs,
    /// Read this blob's content and hand it back as [`Event::BlobContent`].
    ReadBlob { hash: BlobHash },
    /// Every chunk of this blob is on the relay: mark it uploaded.
    BlobUploaded { hash: BlobHash },
    /// This blob came from the relay, opened and checked against its hash: store it.
    StoreBlob { hash: BlobHash, content: Vec<u8> },
    /// The relay refused a transfer of this blob (quota, per-file limit, not
    /// there); other transfers and the session go on. Tell the user.
    BlobRefused { hash: BlobHash, refusal: Refusal },
    /// A chunk of this blob from the relay was tampered with or damaged (or the
    /// blob cannot be sealed): nothing of it was kept, and it is fetched again
    /// once in this session. Tell the user.
    BlobRejected { hash: BlobHash, fault: BlobFault },
    /// The account moved to a new key in a re-key on another device: `wrapped`
    /// is the new secret sealed to this device. Open it, move the store to the new
    /// account, and connect again. The session ends.
    Moved { to: AccountId, wrapped: Vec<u8> },
    /// The session cannot continue.
    Failed(SyncError),
}

/// The relay's answer to a request about the account's devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceAnswer {
    /// The account's devices (their names still sealed).
    Listed(Vec<DeviceInfo>),
    Renamed(DeviceId),
    Removed(DeviceId),
    /// The new account's checkpoint is stored; these devices are to be sent the
    /// new secret (their wrap keys not yet checked).
    RotationBegun {
        to: AccountId,
        devices: Vec<RekeyDevice>,
    },
    /// The account now lives at this id.
    RotationCommitted(AccountId),
}

/// Where a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Disconnected,
    /// `Hello` sent, waiting for `Welcome`.
    Greeting,
    /// Receiving entries the device missed.
    CatchingUp,
    /// Receiving the chunks of the checkpoint the relay offered; entries after it
    /// follow.
    LoadingCheckpoint,
    /// Caught up; entries arrive as they are written.
    Live,
    /// The session failed; only a new connection starts over.
    Failed,
}

/// How an [`Engine`] starts a session: what it asks of the relay, and what it
/// must prove first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineOptions {
    /// Ask the relay to create the account if it has none (a new install).
    pub create_account: bool,
    /// An invite code to send when the account is created on a closed relay.
    pub invite: Option<String>,
    /// Hold uploads until the key has opened the relay's data (a paired device).
    pub must_prove_key: bool,
    /// A checkpoint this device rejected before: offered it again, the engine asks
    /// for the log instead.
    pub rejected_checkpoint: Option<CheckpointId>,
    /// This device's own credential and sealed name, sent with every hello: the
    /// first registers the device with the relay.
    pub device_key: Option<DeviceKey>,
    /// This device's key for receiving a new account secret in a re-key, sent to
    /// the relay once caught up.
    pub wrap_key: Option<WrapKey>,
}

/// A checkpoint arriving from the relay.
#[derive(Debug)]
struct Loading {
    reader: CheckpointReader,
    covers: Vec<Cursor>,
}

/// A checkpoint being uploaded, until the relay stores it.
#[derive(Debug, Clone, Copy)]
struct Uploading {
    checkpoint: CheckpointId,
    chunks: usize,
    bytes: usize,
}

/// One device's sync state machine.
#[derive(Debug)]
pub struct Engine {
    keys: AccountKeys,
    device: DeviceId,
    create: bool,
    invite: Option<String>,
    device_key: Option<DeviceKey>,
    must_prove_key: bool,
    phase: Phase,
    /// How far the relay acknowledged this device's log before this session.
    acked: u64,
    /// The relay's copy of this device's log is known to be its own.
    own_log_checked: bool,
    /// The hash the relay gave for its newest entry of this device, until checked.
    expected_hash: Option<[u8; 32]>,
    cursors: HashMap<DeviceId, u64>,
    blocked: HashSet<DeviceId>,
    /// Entries that arrived before an earlier entry of their device, by device and seq.
    held: HashMap<DeviceId, BTreeMap<u64, SealedEntry>>,
    held_count: usize,
    unproven_failures: Vec<SealedEntry>,
    own_head: u64,
    relay_head: Option<u64>,
    in_flight: Option<u64>,
    reading: bool,
    rejected_checkpoint: Option<CheckpointId>,
    loading: Option<Loading>,
    uploading: Option<Uploading>,
    /// The rotation checkpoint sent, until the relay answers for it.
    rotating: Option<(AccountId, CheckpointId)>,
    wrap_key: Option<WrapKey>,
    /// The relay refused a checkpoint upload in this session: no other is sent
    /// until the next one.
    checkpoint_refused: bool,
    blobs: BlobSync,
}

impl Engine {
    /// An engine for `device` of the account `keys` belong to, starting as `options`
    /// say.
    pub fn new(keys: AccountKeys, device: DeviceId, options: EngineOptions) -> Engine {
        let EngineOptions {
            create_account,
            invite,
            must_prove_key,
            rejected_checkpoint,
            device_key,
            wrap_key,
        } = options;
        Engine {
            keys,
            device,
            create: create_account,
            invite,
            device_key,
            must_prove_key,
            phase: Phase::Disconnected,
            acked: 0,
            own_log_checked: false,
            expected_hash: None,
            cursors: HashMap::new(),
            blocked: HashSet::new(),
            held: HashMap::new(),
            held_count: 0,
            unproven_failures: Vec::new(),
            own_head: 0,
            relay_head: None,
            in_flight: None,
            reading: false,
            rejected_checkpoint,
            loading: None,
            uploading: None,
            rotating: None,
            wrap_key,
            checkpoint_refused: false,
            blobs: BlobSync::default(),
        }
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Whether the key has opened the relay's data (or no proof was asked for).
    pub fn key_proven(&self) -> bool {
        !self.must_prove_key
    }

    /// Own entries not yet acknowledged by the relay (as far as this session knows).
    pub fn pending_upload(&self) -> u64 {
        self.own_head.saturating_sub(self.relay_head.unwrap_or(0))
    }

    /// Caught up with the relay, every own entry acknowledged, and no checkpoint
    /// upload waiting for the relay.
    pub fn is_up_to_date(&self) -> bool {
        self.log_up_to_date() && self.blobs.is_idle()
    }

    /// Caught up, every own entry acknowledged, no checkpoint upload waiting (blobs
    /// aside).
    fn log_up_to_date(&self) -> bool {
        self.phase == Phase::Live
            && self.own_log_checked
            && self.relay_head == Some(self.own_head)
            && self.uploading.is_none()
            && self.rotating.is_none()
    }

    /// The blob being uploaded or downloaded, and how many wait after it.
    pub fn blob_progress(&self) -> Option<BlobProgress> {
        self.blobs.progress()
    }

    /// Whether blobs may move now: live, this device's log known to be its own,
    /// and the key proven.
    fn blobs_ready(&self) -> bool {
        self.phase == Phase::Live && self.own_log_checked && !self.must_prove_key
    }

    fn step_blobs(&mut self, out: &mut Vec<Effect>) {
        let ready = self.blobs_ready();
        self.blobs.step(ready, &self.keys, out);
    }

    /// Whether a checkpoint may be uploaded now: up to date, the key proven, no
    /// other upload waiting for the relay, and none refused in this session.
    pub fn can_upload_checkpoint(&self) -> bool {
        self.log_up_to_date() && !self.must_prove_key && !self.checkpoint_refused
    }

    /// Decides what to do about `event`.
    pub fn handle(&mut self, event: Event) -> Vec<Effect> {
        let mut out = Vec::new();
        if self.phase == Phase::Failed && !matches!(event, Event::Connected { .. }) {
            return out;
        }
        match event {
            Event::Connected {
                cursors,
                own_head,
                acked,
            } => {
                self.acked = acked;
                self.connected(cursors, own_head, &mut out)
            }
            Event::Frame(frame) => match ServerMessage::decode(&frame) {
                Ok(msg) => self.received(msg, &mut out),
                Err(e) => self.fail(SyncError::Protocol(e), &mut out),
            },
            Event::LocalWrite { own_head } => {
                self.own_head = self.own_head.max(own_head);
                self.blobs.due();
                self.step_blobs(&mut out);
                self.maybe_upload(&mut out);
            }
            Event::OwnLogSplit { own_head } => {
                self.own_head = own_head;
                self.reading = false;
                self.maybe_upload(&mut out);
            }
            Event::OwnEntries(entries) => self.upload(entries, &mut out),
            Event::OwnEntriesAt { purpose, entries } => match purpose {
                OwnRead::Verify => self.verify(entries, &mut out),
                OwnRead::Repair => self.repair(entries, &mut out),
            },
            Event::CheckpointSnapshot { covers, body } => {
                self.upload_checkpoint(covers, &body, &mut out)
            }
            Event::RotationSnapshot { to, covers, body } => {
                self.begin_rotation(&to, covers, &body, &mut out)
            }
            Event::CheckpointLoadFailed { checkpoint, reason } => self.reject_checkpoint(
                CheckpointFault::DoesNotParse { checkpoint, reason },
                &mut out,
            ),
            Event::ApplyFailed { device, seq } => {
                self.cursors.insert(device.clone(), seq.saturating_sub(1));
                self.blocked.insert(device);
            }
            Event::BlobLists { uploads, downloads } => {
                self.blobs.lists(uploads, downloads);
                self.step_blobs(&mut out);
            }
            Event::BlobContent { hash, content } => {
                self.blobs.content(&self.keys, hash, content, &mut out);
                self.step_blobs(&mut out);
            }
            Event::BlobsChanged => {
                self.blobs.due();
                self.step_blobs(&mut out);
            }
            Event::Disconnected => {
                // Held entries come again from the relay on the next connection.
                self.held.clear();
                self.held_count = 0;
                self.phase = Phase::Disconnected;
                self.in_flight = None;
                self.reading = false;
                self.loading = None;
                self.uploading = None;
                self.rotating = None;
                self.blobs.reset();
            }
        }
        out
    }

    fn connected(&mut self, cursors: Vec<(String, u64)>, own_head: u64, out: &mut Vec<Effect>) {
        self.cursors = cursors
            .into_iter()
            .filter_map(|(d, seq)| DeviceId::new(&d).ok().map(|d| (d, seq)))
            .collect();
        self.blocked.clear();
        self.held.clear();
        self.held_count = 0;
        self.unproven_failures.clear();
        self.own_head = own_head;
        self.own_log_checked = false;
        self.relay_head = None;
        self.in_flight = None;
        self.reading = false;
        self.loading = None;
        self.uploading = None;
        self.rotating = None;
        self.checkpoint_refused = false;
        self.blobs.reset();
        self.phase = Phase::Greeting;
        let mut cursors: Vec<Cursor> = self
            .cursors
            .iter()
            .map(|(device, &seq)| Cursor {
                device: device.clone(),
                seq,
            })
            .collect();
        cursors.sort_by(|a, b| a.device.cmp(&b.device));
        let hello = ClientMessage::Hello {
            account: self.keys.account,
            credential: self.keys.credential.clone(),
            device: self.device.clone(),
            create: self.create,
            invite: self.invite.clone(),
            cursors,
            device_key: self.device_key.clone(),
        };
        out.push(Effect::Send(hello.encode()));
    }

    fn received(&mut self, msg: ServerMessage, out: &mut Vec<Effect>) {
        match msg {
            ServerMessage::Welcome {
                own_head,
                own_hash,
                damaged,
            } => {
                if self.phase != Phase::Greeting {
                    return self.fail(SyncError::OutOfTurn("a welcome"), out);
                }
                if own_head > self.own_head {
                    // The relay has entries of this device that the device lacks.
                    return self.rehome(
                        SyncError::RelayAhead {
                            relay: own_head,
                            local: self.own_head,
                        },
                        out,
                    );
                }
                // The relay knows the account: creating it again is never needed.
                self.create = false;
                self.relay_head = Some(own_head);
                self.phase = Phase::CatchingUp;
                let repair: Vec<u64> = damaged.into_iter().filter(|&s| s <= own_head).collect();
                if !repair.is_empty() {
                    out.push(Effect::ReadOwnEntries {
                        purpose: OwnRead::Repair,
                        seqs: repair,
                    });
                }
                match own_hash {
                    // Entries the relay acknowledged before are this device's; newer
                    // ones may come from a copy of it, so the newest is compared.
                    Some(hash) if own_head > self.acked => {
                        self.expected_hash = Some(hash);
                        out.push(Effect::ReadOwnEntries {
                            purpose: OwnRead::Verify,
                            seqs: vec![own_head],
                        });
                    }
                    _ => self.own_log_is_ours(out),
                }
            }
            ServerMessage::Entries { entries } => {
                if !matches!(self.phase, Phase::CatchingUp | Phase::Live) {
                    return self.fail(SyncError::OutOfTurn("entries"), out);
                }
                for entry in entries {
                    self.receive_entry(entry, out);
                }
            }
            ServerMessage::CaughtUp => {
                if self.phase != Phase::CatchingUp {
                    return self.fail(SyncError::OutOfTurn("caught up"), out);
                }
                // Whatever still waits for an earlier entry has a real gap before it.
                for (device, entries) in std::mem::take(&mut self.held) {
                    let expected = self.cursors.get(&device).copied().unwrap_or(0) + 1;
                    self.blocked.insert(device);
                    for (_, entry) in entries {
                        self.set_aside(entry, QuarantineReason::Gap { expected }, out);
                    }
                }
                self.held_count = 0;
                if self.must_prove_key {
                    if !self.unproven_failures.is_empty() {
                        return self.fail(SyncError::WrongKey, out);
                    }
                    // Nothing to open: the relay accepting the credential is the proof.
                    self.must_prove_key = false;
                }
                self.phase = Phase::Live;
                if let (Some(key), Some(_)) = (self.wrap_key, &self.device_key) {
                    out.push(Effect::Send(ClientMessage::SetWrapKey { key }.encode()));
                }
                out.push(Effect::CaughtUp);
                self.maybe_upload(out);
                self.blobs.due();
                self.step_blobs(out);
            }
            ServerMessage::Stored { up_to } => {
                self.relay_head = Some(self.relay_head.unwrap_or(0).max(up_to));
                self.acked = self.acked.max(up_to);
                if self.in_flight.is_some_and(|sent| sent <= up_to) {
                    self.in_flight = None;
                }
                out.push(Effect::Acknowledged { up_to });
                self.maybe_upload(out);
            }
            // Another copy of this device stored a different entry under a number this
            // device uses.
            ServerMessage::Refused(refusal) if refusal.code == RefusalCode::Conflict => {
                self.rehome(SyncError::Refused(refusal), out)
            }
            ServerMessage::Refused(refusal) => self.fail(SyncError::Refused(refusal), out),
            ServerMessage::CheckpointOffer {
                checkpoint,
                chunks,
                covers,
                required: _,
            } => self.offered(checkpoint, chunks, covers, out),
            ServerMessage::CheckpointChunk(chunk) => self.checkpoint_chunk(&chunk, out),
            ServerMessage::CheckpointStored { checkpoint } => match self.uploading {
                Some(up) if up.checkpoint == checkpoint => {
                    self.uploading = None;
                    out.push(Effect::CheckpointStored {
                        checkpoint,
                        chunks: up.chunks,
                        bytes: up.bytes,
                    });
                }
                _ => self.fail(SyncError::OutOfTurn("a checkpoint acknowledgement"), out),
            },
            ServerMessage::CheckpointRefused {
                checkpoint,
                refusal,
            } => match self.uploading {
                Some(up) if up.checkpoint == checkpoint => {
                    tracing::warn!(%checkpoint, %refusal, "the relay refused the checkpoint");
                    self.uploading = None;
                    self.checkpoint_refused = true;
                    out.push(Effect::CheckpointRefused {
                        checkpoint,
                        refusal,
                    });
                    // "Up to date" no longer waits for it.
                    self.maybe_upload(out);
                }
                _ => self.fail(SyncError::OutOfTurn("a checkpoint refusal"), out),
            },
            ServerMessage::Devices { devices } => {
                out.push(Effect::Devices(DeviceAnswer::Listed(devices)))
            }
            ServerMessage::DeviceRenamed { device } => {
                out.push(Effect::Devices(DeviceAnswer::Renamed(device)))
            }
            ServerMessage::DeviceRemoved { device } => {
                out.push(Effect::Devices(DeviceAnswer::Removed(device)))
            }
            ServerMessage::BlobStatus { blob, state } => {
                self.blobs.status(&self.keys, blob, state, out);
                self.step_blobs(out);
            }
            ServerMessage::BlobChunkStored {
                blob,
                index: _,
                complete,
            } => {
                self.blobs.chunk_stored(&self.keys, blob, complete, out);
                self.step_blobs(out);
            }
            ServerMessage::BlobChunk(chunk) => {
                self.blobs.chunk(&self.keys, &chunk, out);
                self.step_blobs(out);
            }
            ServerMessage::BlobRefused { blob, refusal } => {
                self.blobs.refused(blob, refusal, out);
                self.step_blobs(out);
            }
            ServerMessage::RotationBegun { to, devices } => match self.rotating {
                Some((target, _)) if target == to => {
                    self.rotating = None;
                    out.push(Effect::Devices(DeviceAnswer::RotationBegun { to, devices }));
                }
                _ => self.fail(SyncError::OutOfTurn("a rotation"), out),
            },
            ServerMessage::RotationCommitted { to } => {
                out.push(Effect::Devices(DeviceAnswer::RotationCommitted(to)))
            }
            ServerMessage::Moved { to, wrapped } => {
                if self.phase != Phase::Greeting {
                    return self.fail(SyncError::OutOfTurn("a move"), out);
                }
                out.push(Effect::Moved { to, wrapped });
                self.fail(SyncError::Moved, out);
            }
        }
    }

    /// The relay offers its newest checkpoint: take it, unless this device
    /// rejected it before (then the log is asked for instead).
    fn offered(
        &mut self,
        checkpoint: CheckpointId,
        chunks: u32,
        covers: Vec<Cursor>,
        out: &mut Vec<Effect>,
    ) {
        if self.phase != Phase::CatchingUp || self.loading.is_some() {
            return self.fail(SyncError::OutOfTurn("a checkpoint offer"), out);
        }
        if self.rejected_checkpoint == Some(checkpoint) {
            tracing::info!(%checkpoint, "the relay offers a checkpoint rejected before; asking for the log");
            let take = ClientMessage::TakeCheckpoint { checkpoint: None };
            return out.push(Effect::Send(take.encode()));
        }
        let reader = match CheckpointReader::new(&self.keys, checkpoint, chunks) {
            Ok(reader) => reader,
            Err(fault) => return self.reject_checkpoint(fault, out),
        };
        self.loading = Some(Loading { reader, covers });
        self.phase = Phase::LoadingCheckpoint;
        let take = ClientMessage::TakeCheckpoint {
            checkpoint: Some(checkpoint),
        };
        out.push(Effect::Send(take.encode()));
    }

    /// Opens the next chunk of the checkpoint being loaded; with the last, checks
    /// the whole and hands it to the store.
    fn checkpoint_chunk(&mut self, chunk: &SealedChunk, out: &mut Vec<Effect>) {
        let Some(loading) = self.loading.as_mut() else {
            return self.fail(SyncError::OutOfTurn("a checkpoint chunk"), out);
        };
        if let Err(fault) = loading.reader.add(&self.keys, chunk) {
            return self.reject_checkpoint(fault, out);
        }
        if !loading.reader.is_complete() {
            return;
        }
        let Some(Loading { reader, covers }) = self.loading.take() else {
            return;
        };
        let checkpoint = match reader.finish(&covers) {
            Ok(checkpoint) => checkpoint,
            Err(fault) => return self.reject_checkpoint(fault, out),
        };
        // It opened: the key is the account's.
        if self.must_prove_key {
            self.must_prove_key = false;
            self.unproven_failures.clear();
        }
        for cursor in checkpoint.covers.iter().filter(|c| c.device != self.device) {
            let at = self.cursors.entry(cursor.device.clone()).or_insert(0);
            *at = (*at).max(cursor.seq);
        }
        self.phase = Phase::CatchingUp;
        out.push(Effect::LoadCheckpoint(checkpoint));
    }

    /// A checkpoint from the relay is unusable: it is recorded as rejected and the
    /// session ends; the next one asks for the log.
    fn reject_checkpoint(&mut self, fault: CheckpointFault, out: &mut Vec<Effect>) {
        self.loading = None;
        let checkpoint = match &fault {
            CheckpointFault::OutOfOrder { checkpoint, .. }
            | CheckpointFault::DoesNotOpen { checkpoint, .. }
            | CheckpointFault::DoesNotParse { checkpoint, .. }
            | CheckpointFault::HashMismatch(checkpoint)
            | CheckpointFault::CoversMismatch(checkpoint) => Some(*checkpoint),
            CheckpointFault::OtherCheckpoint { expected, .. } => Some(*expected),
            CheckpointFault::BadChunkCount(_) => None,
        };
        // A device still proving its key cannot tell a forged checkpoint from a
        // wrong phrase: either way the next session asks for the log, whose entries
        // tell.
        if let Some(checkpoint) = checkpoint {
            self.rejected_checkpoint = Some(checkpoint);
            out.push(Effect::RejectCheckpoint {
                checkpoint,
                fault: fault.clone(),
            });
        }
        self.fail(SyncError::BadCheckpoint(fault), out);
    }

    /// Seals a snapshot of the store into a checkpoint and sends it.
    fn upload_checkpoint(
        &mut self,
        covers: Vec<(String, u64)>,
        body: &[u8],
        out: &mut Vec<Effect>,
    ) {
        if !self.can_upload_checkpoint() {
            return;
        }
        let (checkpoint, chunks, bytes) = send_checkpoint(
            &self.keys,
            covers,
            body,
            out,
            |checkpoint, chunks, covers| ClientMessage::CheckpointBegin {
                checkpoint,
                chunks,
                covers,
            },
        );
        self.uploading = Some(Uploading {
            checkpoint,
            chunks,
            bytes,
        });
    }

    /// Seals a snapshot of the store under the new keys `to` and sends it as the
    /// checkpoint of a rotation to them.
    fn begin_rotation(
        &mut self,
        to: &AccountKeys,
        covers: Vec<(String, u64)>,
        body: &[u8],
        out: &mut Vec<Effect>,
    ) {
        // A checkpoint refused in this session does not hold a re-key back: its
        // checkpoint goes to the new account.
        if !self.log_up_to_date() || self.must_prove_key {
            return self.fail(SyncError::OutOfTurn("a rotation before catching up"), out);
        }
        let (checkpoint, _, _) =
            send_checkpoint(to, covers, body, out, |checkpoint, chunks, covers| {
                ClientMessage::BeginRotation {
                    to: to.account,
                    credential: to.credential.clone(),
                    checkpoint,
                    chunks,
                    covers,
                }
            });
        self.rotating = Some((to.account, checkpoint));
    }

    fn receive_entry(&mut self, entry: SealedEntry, out: &mut Vec<Effect>) {
        if entry.device == self.device {
            return;
        }
        let cursor = self.cursors.get(&entry.device).copied().unwrap_or(0);
        if entry.seq <= cursor {
            return; // Re-delivery: already applied.
        }
        if self.blocked.contains(&entry.device) {
            return self.set_aside(
                entry,
                QuarantineReason::Gap {
                    expected: cursor + 1,
                },
                out,
            );
        }
        if entry.seq != cursor + 1 {
            // Early: hold it until the entries before it arrive (reordered delivery).
            if self.held_count >= MAX_HELD {
                self.blocked.insert(entry.device.clone());
                return self.set_aside(
                    entry,
                    QuarantineReason::Gap {
                        expected: cursor + 1,
                    },
                    out,
                );
            }
            let held = self.held.entry(entry.device.clone()).or_default();
            if held.insert(entry.seq, entry).is_none() {
                self.held_count += 1;
            }
            return;
        }
        let device = entry.device.clone();
        self.accept(entry, out);
        // Entries that arrived early may follow now.
        loop {
            let next = self.cursors.get(&device).copied().unwrap_or(0) + 1;
            let Some(entry) = self.held.get_mut(&device).and_then(|h| h.remove(&next)) else {
                break;
            };
            self.held_count -= 1;
            if self.blocked.contains(&device) {
                self.set_aside(entry, QuarantineReason::Gap { expected: next }, out);
            } else {
                self.accept(entry, out);
            }
        }
    }

    /// Opens, checks and applies the next entry of its device.
    fn accept(&mut self, entry: SealedEntry, out: &mut Vec<Effect>) {
        let opened = match open(&self.keys, &entry) {
            Ok(opened) => opened,
            Err(_) => {
                self.blocked.insert(entry.device.clone());
                return self.set_aside(entry, QuarantineReason::Undecryptable, out);
            }
        };
        if self.must_prove_key {
            self.must_prove_key = false;
            for held in std::mem::take(&mut self.unproven_failures) {
                out.push(Effect::Quarantine {
                    entry: held,
                    reason: QuarantineReason::Undecryptable,
                });
            }
            self.maybe_upload(out);
        }
        if let Err(e) = LogEntry::check_payload(&opened.plaintext) {
            self.blocked.insert(entry.device.clone());
            return self.set_aside(entry, QuarantineReason::Unparseable(e.to_string()), out);
        }
        self.cursors.insert(entry.device.clone(), entry.seq);
        out.push(Effect::Apply(opened));
    }

    /// Quarantines an entry, or holds it while the key is still unproven (a wrong
    /// phrase must not fill the quarantine with the account's whole history).
    fn set_aside(&mut self, entry: SealedEntry, reason: QuarantineReason, out: &mut Vec<Effect>) {
        if self.must_prove_key {
            self.unproven_failures.push(entry);
        } else {
            out.push(Effect::Quarantine { entry, reason });
        }
    }

    fn maybe_upload(&mut self, out: &mut Vec<Effect>) {
        let Some(relay_head) = self.relay_head else {
            return;
        };
        let idle = self.in_flight.is_none() && !self.reading;
        if idle && self.own_log_checked && !self.must_prove_key && relay_head < self.own_head {
            self.reading = true;
            out.push(Effect::ReadOwnLog {
                after: relay_head,
                limit: PUSH_PAGE,
            });
        }
    }

    fn upload(&mut self, entries: Vec<(u64, Vec<u8>)>, out: &mut Vec<Effect>) {
        self.reading = false;
        if !matches!(self.phase, Phase::CatchingUp | Phase::Live) || entries.is_empty() {
            return;
        }
        let mut sealed = Vec::with_capacity(entries.len());
        for (seq, plaintext) in entries {
            let entry = self.seal_own(seq, plaintext);
            if entry.sealed.len() > MAX_ENTRY {
                // Written before entries were bounded: split it (and what follows)
                // into entries the relay takes, then read again.
                self.reading = true;
                out.push(Effect::SplitOwnLog { from: seq });
                break;
            }
            sealed.push(entry);
        }
        if let Some(last) = sealed.last() {
            self.in_flight = Some(last.seq);
        }
        for run in frame_runs(sealed, MAX_FRAME) {
            out.push(Effect::Send(ClientMessage::Push { entries: run }.encode()));
        }
    }

    fn seal_own(&self, seq: u64, plaintext: Vec<u8>) -> SealedEntry {
        seal(
            &self.keys,
            &OpenEntry {
                device: self.device.clone(),
                seq,
                plaintext,
            },
        )
    }

    /// Compares the relay's newest entry of this device with the device's own.
    fn verify(&mut self, entries: Vec<(u64, Vec<u8>)>, out: &mut Vec<Effect>) {
        let Some(expected) = self.expected_hash.take() else {
            return;
        };
        let ours = entries.into_iter().next().map(|(seq, plaintext)| {
            *blake3::hash(&self.seal_own(seq, plaintext).sealed).as_bytes()
        });
        if ours == Some(expected) {
            self.own_log_is_ours(out);
        } else {
            let relay = self.relay_head.unwrap_or(0);
            self.rehome(SyncError::Diverged { seq: relay }, out);
        }
    }

    /// The relay's log of this device is the device's own: it counts as
    /// acknowledged, and the upload of what the relay lacks can start.
    fn own_log_is_ours(&mut self, out: &mut Vec<Effect>) {
        self.own_log_checked = true;
        let up_to = self.relay_head.unwrap_or(0);
        self.acked = self.acked.max(up_to);
        out.push(Effect::Acknowledged { up_to });
        self.maybe_upload(out);
    }

    /// Sends fresh copies of own entries the relay found damaged.
    fn repair(&mut self, entries: Vec<(u64, Vec<u8>)>, out: &mut Vec<Effect>) {
        let sealed: Vec<SealedEntry> = entries
            .into_iter()
            .map(|(seq, plaintext)| self.seal_own(seq, plaintext))
            .filter(|e| e.sealed.len() <= MAX_ENTRY)
            .collect();
        for run in frame_runs(sealed, MAX_FRAME) {
            out.push(Effect::Send(
                ClientMessage::Repair { entries: run }.encode(),
            ));
        }
    }

    /// The relay's log of this device belongs to another copy of it: everything
    /// after what both share is sent again under a new device id.
    fn rehome(&mut self, error: SyncError, out: &mut Vec<Effect>) {
        let common = self.acked.min(self.relay_head.unwrap_or(u64::MAX));
        out.push(Effect::Rehome { common });
        self.fail(error, out);
    }

    fn fail(&mut self, error: SyncError, out: &mut Vec<Effect>) {
        tracing::warn!(%error, "sync session failed");
        self.phase = Phase::Failed;
        out.push(Effect::Failed(error));
    }
}

/// Seals a snapshot of the store (`body`, covering `covers`) under `keys` and sends
/// it: the message `begin` makes of its id, chunk count and cursors, then its
/// chunks. Returns its id, chunk count and sealed bytes.
fn send_checkpoint(
    keys: &AccountKeys,
    covers: Vec<(String, u64)>,
    body: &[u8],
    out: &mut Vec<Effect>,
    begin: impl FnOnce(CheckpointId, u32, Vec<Cursor>) -> ClientMessage,
) -> (CheckpointId, usize, usize) {
    let covers: Vec<Cursor> = covers
        .into_iter()
        .filter_map(|(d, seq)| DeviceId::new(&d).ok().map(|device| Cursor { device, seq }))
        .collect();
    let (checkpoint, chunks) = seal_checkpoint(keys, &covers, body);
    let (count, bytes) = (chunks.len(), chunks.iter().map(|c| c.sealed.len()).sum());
    out.push(Effect::Send(
        begin(checkpoint, count as u32, covers).encode(),
    ));
    for chunk in chunks {
        out.push(Effect::Send(ClientMessage::CheckpointChunk(chunk).encode()));
    }
    (checkpoint, count, bytes)
}
