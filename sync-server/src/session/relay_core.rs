//! The relay's per-connection protocol with no IO: which message is allowed in
//! which phase, what to answer and what to refuse, decided from the messages a
//! device sends, the answers of the store requests it names, and what the hub
//! hears live. Like the device's `Engine`, it never awaits, holds no socket and no
//! store handle; the socket loop in `session` reads frames, feeds them here,
//! carries out the requests against the store and the hub, hands the answers back
//! and sends the frames it is given.

use std::collections::HashMap;

use aftercall_shared::protocol::{
    frame_runs, AccountId, BlobChunk, BlobId, BlobState, CheckpointId, ChunkIndex, ClientMessage,
    Cursor, DeviceId, DeviceKey, ProtocolError, Refusal, RefusalCode, RekeyDevice, SealedChunk,
    SealedEntry, ServerMessage, WrapKey, WrappedSecret, MAX_FRAME,
};

use crate::hub::Live;
use crate::store::{
    AccountRecord, AppendRefusal, BlobPut, CheckpointBegun, CheckpointLimits, ChunkStored,
    RegisteredDevice, Registration, RotationBegin, RotationCommit, StoredCheckpoint,
};
use crate::RelayError;

/// Why a session ends.
#[derive(Debug)]
pub(crate) enum End {
    /// The device closed the connection, or the relay is shutting down.
    Closed,
    /// The relay refused something; the device is told why.
    Refused(RefusalCode, String),
    /// The relay failed.
    Failed(RelayError),
}

impl From<RelayError> for End {
    fn from(e: RelayError) -> Self {
        match e {
            // A re-key committed meanwhile: the device's next hello is told where
            // the account went.
            RelayError::AccountMoved => End::Closed,
            e => End::Failed(e),
        }
    }
}

fn refused(code: RefusalCode, message: impl Into<String>) -> End {
    End::Refused(code, message.into())
}

/// What the device's hello shows it understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Speaks {
    /// A plain hello (tag 1, no device key): possibly a version from before
    /// checkpoints, which fails on any message or refusal code added since. It is
    /// sent only what version 2 had at first: `Welcome`, `Entries`, `CaughtUp`,
    /// `Stored` and `Refused` with codes up to `unsupported_version`.
    First,
    /// A hello with the device's own key (tag 7): every version that sends it
    /// knows checkpoints, the devices list and blobs.
    Current,
}

/// The refusal code to send a device: one an older device does not know is
/// replaced by the nearest it does (a removed device is unauthorized, a
/// checkpoint too large too large; anything else a bad message), the message kept.
pub(crate) fn code_for(speaks: Speaks, code: RefusalCode) -> RefusalCode {
    if speaks == Speaks::Current || code.known_to_older_devices() {
        return code;
    }
    match code {
        RefusalCode::DeviceRemoved => RefusalCode::Unauthorized,
        RefusalCode::CheckpointTooLarge => RefusalCode::TooLarge,
        _ => RefusalCode::BadMessage,
    }
}

/// Where a session is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Nothing read yet: the first message must be a hello.
    AwaitingHello,
    /// The hello was read; the account and the device are being let in.
    Authenticating,
    /// Welcomed: the other devices' logs are being sent from the cursors.
    CatchingUp,
    /// A checkpoint was offered; the device's answer is awaited.
    Offering(StoredCheckpoint),
    /// The offered checkpoint was taken; its chunks are being sent.
    SendingCheckpoint(StoredCheckpoint),
    /// Caught up: pushes, uploads, requests and live fan-out.
    Live,
    /// Over; nothing more is read.
    Ended,
}

/// The limits the protocol's decisions depend on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CoreLimits {
    pub checkpoint: CheckpointLimits,
    pub connections_per_account: usize,
    pub entries_per_second: u32,
    pub max_message_bytes: usize,
}

/// A frame that never became a message.
#[derive(Debug)]
pub(crate) enum FrameError {
    /// The websocket layer refused it for its size.
    OverSocketLimit,
    /// Over the relay's message limit.
    TooLarge { bytes: usize },
    /// A text frame.
    Text,
    /// Not a message of the protocol.
    Decode(ProtocolError),
}

/// What a hello asks, for the driver to authenticate against the store.
#[derive(Debug)]
pub(crate) struct Hello {
    pub account: AccountId,
    pub verifier: [u8; 32],
    pub create: bool,
    pub invite: Option<String>,
    pub cursors: Vec<Cursor>,
}

/// The account as its record shows it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Authentication {
    /// The credential matches.
    Known,
    /// No account yet: the driver creates it (and hands the answer to
    /// [`Core::registration`]).
    Create,
}

/// What an authenticated account's record says of the session.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Opening {
    /// It syncs here.
    Open,
    /// Re-keyed to `to`: the device is only told where it went.
    Moved(AccountId),
}

/// What letting the device in needs.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Let in.
    Admitted,
    /// Not registered yet: the driver registers its credential and sealed name,
    /// and hands the registered verifier to [`Core::registered`].
    Register {
        verifier: [u8; 32],
        sealed_name: Vec<u8>,
    },
}

/// What the device asked for: the store or the hub's part, which the driver
/// carries out and answers through the matching method.
#[derive(Debug)]
pub(crate) enum Request {
    /// Nothing to do (an empty push, the rest of a refused upload, a declined
    /// checkpoint offer).
    Nothing,
    /// Append the device's own entries within the account's rate, then
    /// [`Core::appended`] (or [`Core::rate_limited`]).
    Push(Vec<SealedEntry>),
    /// Store fresh copies of the device's damaged entries and fan them out.
    Repair(Vec<SealedEntry>),
    /// Begin a checkpoint upload, then [`Core::checkpoint_begun`].
    BeginCheckpoint(StoredCheckpoint),
    /// Store a chunk of the account's checkpoint, then [`Core::chunk_stored`].
    PutChunk(SealedChunk),
    /// Store a chunk of the re-key's checkpoint on the new account `to`, then
    /// [`Core::rotation_chunk_stored`].
    PutRotationChunk { to: AccountId, chunk: SealedChunk },
    /// Send the offered checkpoint's chunks, then [`Core::checkpoint_sent`] (or
    /// [`Core::checkpoint_replaced`]).
    SendCheckpoint(StoredCheckpoint),
    /// Record the device's cursors and answer with the devices list.
    ListDevices(Vec<Cursor>),
    /// Rename a device, then [`Core::renamed`].
    RenameDevice {
        device: DeviceId,
        sealed_name: Vec<u8>,
    },
    /// Remove a device, then [`Core::removed`].
    RemoveDevice(DeviceId),
    /// Read what the relay holds of a blob, then [`Core::blob_status`].
    BlobHave(BlobId),
    /// Store a blob chunk within the per-file limit and the account's quota, then
    /// [`Core::blob_put`].
    BlobPut { bytes: u64, chunk: BlobChunk },
    /// Send a complete blob's chunks from `from` on, one read and sent at a time
    /// ([`Core::blob_download`], then [`Core::blob_chunk`] for each).
    BlobGet { blob: BlobId, from: ChunkIndex },
    /// Keep the device's wrap key, then [`Core::wrap_key_set`].
    SetWrapKey(WrapKey),
    /// Begin a re-key to `to`, then [`Core::rotation_begun`].
    BeginRotation {
        to: AccountId,
        verifier: [u8; 32],
        checkpoint: StoredCheckpoint,
    },
    /// Commit the re-key, then [`Core::rotation_committed`].
    CommitRotation {
        to: AccountId,
        wraps: Vec<WrappedSecret>,
    },
}

/// A counter the driver adds to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Metric {
    /// A refusal sent without ending the session.
    Refused(RefusalCode),
    RotationsBegun,
    RotationsCommitted,
    /// A blob chunk stored that was not held already.
    BlobChunksStored,
    /// A blob chunk sent to the device.
    BlobChunksSent,
}

/// What the driver does, in order.
#[derive(Debug)]
pub(crate) enum Effect {
    /// Send this frame.
    Send(ServerMessage),
    /// Send these entries in one `Entries` frame (within the frame limit).
    Entries(Vec<SealedEntry>),
    /// Send `device`'s entries after what was sent of it, up to `head`, read from
    /// the store page by page ([`Core::page_from`], [`Core::page_read`]).
    CatchUp { device: DeviceId, head: u64 },
    /// Drop what the newest checkpoint covers and every active device applied.
    Prune,
    /// Add to a counter.
    Count(Metric),
    /// Tell the account's sessions the device was removed.
    HubRemove(DeviceId),
    /// Tell the account's sessions it moved in a re-key.
    HubMoved,
    /// End the session.
    End(End),
}

/// One connection's protocol state.
#[derive(Debug)]
pub(crate) struct Core {
    phase: Phase,
    speaks: Speaks,
    limits: CoreLimits,
    account: Option<AccountId>,
    device: Option<DeviceId>,
    device_key: Option<DeviceKey>,
    /// How far each other device's log has been sent to this one.
    sent: HashMap<DeviceId, u64>,
    /// The checkpoint this device is uploading, until every chunk is stored.
    uploading: Option<CheckpointId>,
    /// The re-key this device began: the new account and its checkpoint, until
    /// every chunk is stored.
    rotating: Option<(AccountId, CheckpointId)>,
    /// The upload refused last: its chunks, still on their way, are dropped.
    refused: Option<CheckpointId>,
}

const REMOVED: &str = "this device was removed from the account and no longer syncs; to sync here again, pair a fresh data folder with the recovery phrase";

impl Core {
    pub fn new(limits: CoreLimits) -> Self {
        Core {
            phase: Phase::AwaitingHello,
            // Until a hello says otherwise, the device may be of the first versions.
            speaks: Speaks::First,
            limits,
            account: None,
            device: None,
            device_key: None,
            sent: HashMap::new(),
            uploading: None,
            rotating: None,
            refused: None,
        }
    }

    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// The session's device (after its hello).
    pub fn device(&self) -> Option<&DeviceId> {
        self.device.as_ref()
    }

    fn me(&self) -> &DeviceId {
        self.device
            .as_ref()
            .expect("a session past its hello has a device")
    }

    fn end(&mut self, end: End) -> End {
        self.phase = Phase::Ended;
        end
    }

    fn refuse<T>(&mut self, code: RefusalCode, message: impl Into<String>) -> Result<T, End> {
        Err(self.end(refused(code, message)))
    }

    /// A frame that could not be read as a message.
    pub fn frame_error(&mut self, error: FrameError) -> End {
        let end = match error {
            FrameError::OverSocketLimit => refused(
                RefusalCode::TooLarge,
                "the message is over the relay's size limit; send smaller batches",
            ),
            FrameError::TooLarge { bytes } => refused(
                RefusalCode::TooLarge,
                format!(
                    "the message is {bytes} bytes, over the relay's limit of {}; send smaller batches",
                    self.limits.max_message_bytes
                ),
            ),
            FrameError::Text => refused(
                RefusalCode::BadMessage,
                "text frames are not part of the protocol",
            ),
            FrameError::Decode(ProtocolError::UnsupportedVersion(v)) => refused(
                RefusalCode::UnsupportedVersion,
                format!("protocol version {v} is not supported by this relay; update the app or the relay"),
            ),
            FrameError::Decode(e) => refused(RefusalCode::BadMessage, e.to_string()),
        };
        self.end(end)
    }

    /// The wait for a hello or for the answer to an offer ran out.
    pub fn timed_out(&mut self) -> End {
        let message = match self.phase {
            Phase::Offering(_) => "no answer to the checkpoint offer within 10 seconds",
            _ => "no hello within 10 seconds",
        };
        self.end(refused(RefusalCode::BadMessage, message))
    }

    /// The relay is shutting down, or the connection closed.
    pub fn stop(&mut self) -> End {
        self.end(End::Closed)
    }

    /// The refusal to send the device as the session ends, in codes it reads.
    pub fn refusal(&self, end: End) -> Option<(RefusalCode, String)> {
        match end {
            End::Closed => None,
            End::Refused(code, message) => Some((code_for(self.speaks, code), message)),
            End::Failed(e) => {
                tracing::error!(error = %e, "session failed");
                Some((
                    RefusalCode::Unavailable,
                    "the relay failed; try again later".to_string(),
                ))
            }
        }
    }

    /// The first message: a hello, or the session is refused.
    pub fn hello(&mut self, msg: ClientMessage) -> Result<Hello, End> {
        if self.phase != Phase::AwaitingHello {
            return self.refuse(RefusalCode::BadMessage, "hello was already said");
        }
        let ClientMessage::Hello {
            account,
            credential,
            device,
            create,
            invite,
            cursors,
            device_key,
        } = msg
        else {
            return self.refuse(RefusalCode::BadMessage, "a session starts with hello");
        };
        if device_key.is_some() {
            self.speaks = Speaks::Current;
        }
        tracing::debug!(%account, %device, speaks = ?self.speaks, "hello");
        self.phase = Phase::Authenticating;
        self.account = Some(account);
        self.device = Some(device);
        self.device_key = device_key;
        self.sent = cursors.iter().map(|c| (c.device.clone(), c.seq)).collect();
        Ok(Hello {
            account,
            verifier: credential.verifier(),
            create,
            invite,
            cursors,
        })
    }

    /// Checks the hello's credential against the account's record.
    pub fn authenticate(
        &mut self,
        record: Option<&AccountRecord>,
        hello: &Hello,
    ) -> Result<Authentication, End> {
        match record.map(|r| r.verifier) {
            // blake3::Hash compares in constant time.
            Some(v) if blake3::Hash::from(v) == blake3::Hash::from(hello.verifier) => {
                Ok(Authentication::Known)
            }
            Some(_) => self.refuse(
                RefusalCode::Unauthorized,
                "the credential does not match this account; pair the device again with the recovery phrase",
            ),
            None if !hello.create => self.refuse(
                RefusalCode::UnknownAccount,
                "the relay has no account for this recovery phrase; check the phrase, or let the first device sync once",
            ),
            None => Ok(Authentication::Create),
        }
    }

    /// What creating the account gave.
    pub fn registration(&mut self, outcome: Registration) -> Result<(), End> {
        match outcome {
            Registration::Created => {
                tracing::info!(account = ?self.account, "account created");
                Ok(())
            }
            Registration::InviteRequired => self.refuse(
                RefusalCode::RegistrationClosed,
                "registration on this relay is closed; ask its operator for an invite code (sync-server invite)",
            ),
        }
    }

    /// Whether the authenticated account syncs, moved, or is a re-key's target
    /// not committed yet.
    pub fn opening(&mut self, record: Option<&AccountRecord>) -> Result<Opening, End> {
        if let Some(to) = record.and_then(|r| r.moved_to) {
            return Ok(Opening::Moved(to));
        }
        if record.is_some_and(|r| r.rotating_from.is_some()) {
            return self.refuse(
                RefusalCode::Unavailable,
                "this account is being made by a re-key on another device and opens once it is done; try again shortly",
            );
        }
        Ok(Opening::Open)
    }

    /// A hello to an account moved by a re-key: a removed device is refused as
    /// removed; true when the device, registered and showing its own credential,
    /// may be given the new secret (the driver reads it for [`Core::moved`]).
    pub fn moved_device(&mut self, registry: &[RegisteredDevice]) -> Result<bool, End> {
        let device = self.me();
        let known = registry.iter().find(|r| r.device == *device);
        if known.is_some_and(|r| r.removed) {
            return self.refuse(RefusalCode::DeviceRemoved, REMOVED);
        }
        // blake3::Hash compares in constant time.
        let proven = match (known.and_then(|r| r.verifier), &self.device_key) {
            (Some(v), Some(k)) => {
                blake3::Hash::from(v) == blake3::Hash::from(k.credential.verifier())
            }
            _ => false,
        };
        // A device proving its own credential is the device, whether or not its
        // hello still asks to create the account (the device that created it may).
        Ok(proven)
    }

    /// The answer to a device of an account moved to `to`, with the secret
    /// wrapped for it if there is one; the session then ends.
    pub fn moved(&mut self, to: AccountId, wrapped: Option<Vec<u8>>) -> Result<ServerMessage, End> {
        let Some(wrapped) = wrapped else {
            return self.refuse(
                RefusalCode::AccountRekeyed,
                "this account was re-keyed on another device; its old recovery phrase no longer opens it: pair this device with the new recovery phrase",
            );
        };
        tracing::info!(account = ?self.account, %to, device = %self.me(), "device told where its account moved");
        self.phase = Phase::Ended;
        Ok(ServerMessage::Moved { to, wrapped })
    }

    /// Lets the device in on its own credential. A device not yet registered
    /// registers the credential and sealed name its hello carries; a registered
    /// one must show that credential; a removed one is refused for good. A hello
    /// without a device credential (an older version) is let in only while no
    /// device of the account has registered one.
    pub fn admission(&mut self, registry: &[RegisteredDevice]) -> Result<Admission, End> {
        let device = self.me();
        let known = registry.iter().find(|r| r.device == *device);
        if known.is_some_and(|r| r.removed) {
            return self.refuse(RefusalCode::DeviceRemoved, REMOVED);
        }
        let Some(key) = &self.device_key else {
            if registry.iter().any(|r| r.verifier.is_some()) {
                return self.refuse(
                    RefusalCode::Unauthorized,
                    "this account's devices sign in with credentials of their own; update the app on this device",
                );
            }
            return Ok(Admission::Admitted);
        };
        let verifier = key.credential.verifier();
        match known.and_then(|r| r.verifier) {
            Some(v) => self.registered(Some(v)).map(|()| Admission::Admitted),
            None => Ok(Admission::Register {
                verifier,
                sealed_name: key.sealed_name.clone(),
            }),
        }
    }

    /// Checks the device's credential against the one registered for it.
    pub fn registered(&mut self, registered: Option<[u8; 32]>) -> Result<(), End> {
        let Some(key) = &self.device_key else {
            return Ok(());
        };
        let Some(registered) = registered else {
            return Err(self.end(End::Failed(RelayError::Task(
                "a device registered without its credential".into(),
            ))));
        };
        // blake3::Hash compares in constant time.
        if blake3::Hash::from(registered) != blake3::Hash::from(key.credential.verifier()) {
            return self.refuse(
                RefusalCode::Unauthorized,
                "this device's own credential does not match the one it registered; pair the device again with the recovery phrase",
            );
        }
        Ok(())
    }

    /// The account has as many sessions as it may.
    pub fn too_many(&mut self) -> End {
        let message = format!(
            "this account already has {} devices connected; close one and retry",
            self.limits.connections_per_account
        );
        self.end(refused(RefusalCode::TooManyConnections, message))
    }

    /// Admitted: the catch-up begins with the device's head among `heads`.
    pub fn admitted(&mut self, heads: &[(DeviceId, u64)]) -> u64 {
        self.phase = Phase::CatchingUp;
        let me = self.me();
        heads.iter().find(|(d, _)| d == me).map_or(0, |(_, h)| *h)
    }

    fn at(&self, device: &DeviceId) -> u64 {
        self.sent.get(device).copied().unwrap_or(0)
    }

    /// Whether the device must take a checkpoint because entries past its
    /// cursors were pruned (`pruned`: each log's pruned head). A device whose
    /// hello may be from before checkpoints is never offered one: it gets the log
    /// while the relay can serve it from its cursors, and is refused
    /// (`unsupported_version`, a code it knows) once entries past them were
    /// pruned. `None`: no offer (the driver reads no checkpoint).
    pub fn checkpoint_needed(&mut self, pruned: &[(DeviceId, u64)]) -> Result<Option<bool>, End> {
        let me = self.me();
        let required = pruned.iter().any(|(d, p)| d != me && self.at(d) < *p);
        if self.speaks == Speaks::First {
            if required {
                return self.refuse(
                    RefusalCode::UnsupportedVersion,
                    "the relay no longer holds the entries this device needs and can only send a checkpoint, which this version of the app cannot read; update the app on this device",
                );
            }
            return Ok(None);
        }
        Ok(Some(required))
    }

    /// Offers the account's newest checkpoint to a device with no cursors (a new
    /// one) or one whose cursors point into a pruned part of a log, when the
    /// checkpoint holds something it lacks.
    pub fn offer(
        &mut self,
        newest: Option<StoredCheckpoint>,
        required: bool,
    ) -> Option<ServerMessage> {
        let checkpoint = newest?;
        let me = self.me();
        let useful = checkpoint
            .covers
            .iter()
            .any(|c| c.device != *me && c.seq > self.at(&c.device));
        if !useful || !(self.sent.is_empty() || required) {
            return None;
        }
        let offer = ServerMessage::CheckpointOffer {
            checkpoint: checkpoint.id,
            chunks: checkpoint.chunks,
            covers: checkpoint.covers.clone(),
            required,
        };
        self.phase = Phase::Offering(checkpoint);
        Some(offer)
    }

    /// The offered checkpoint was replaced while its chunks were sent.
    pub fn checkpoint_replaced(&mut self) -> End {
        let end = refused(
            RefusalCode::Unavailable,
            "the checkpoint was replaced while it was sent; sync again",
        );
        self.end(end)
    }

    /// Every chunk of the taken checkpoint was sent: the logs go on from what it
    /// covers.
    pub fn checkpoint_sent(&mut self) {
        let Phase::SendingCheckpoint(checkpoint) =
            std::mem::replace(&mut self.phase, Phase::CatchingUp)
        else {
            return;
        };
        for Cursor { device: other, seq } in checkpoint.covers {
            if Some(&other) != self.device.as_ref() {
                let at = self.sent.entry(other).or_insert(0);
                *at = (*at).max(seq);
            }
        }
    }

    /// Where to read `other`'s next catch-up page from, while its log is sent
    /// short of `head`.
    pub fn page_from(&self, other: &DeviceId, head: u64) -> Option<u64> {
        let after = self.at(other);
        (head > after).then_some(after)
    }

    /// A page of `other`'s log read from the store, as frames to send; `None`
    /// when it is empty (the next entry is damaged, and waits for its device's
    /// repair).
    pub fn page_read(
        &mut self,
        other: &DeviceId,
        page: Vec<SealedEntry>,
    ) -> Option<Vec<Vec<SealedEntry>>> {
        let last = page.last()?.seq;
        self.sent.insert(other.clone(), last);
        Some(frame_runs(page, MAX_FRAME))
    }

    /// The catch-up is over: the session goes live.
    pub fn caught_up(&mut self) -> ServerMessage {
        self.phase = Phase::Live;
        ServerMessage::CaughtUp
    }

    /// A message from the device while an offer waits or live.
    pub fn message(&mut self, msg: ClientMessage) -> Result<Request, End> {
        match &self.phase {
            Phase::AwaitingHello => {
                return self.refuse(RefusalCode::BadMessage, "a session starts with hello")
            }
            Phase::Offering(_) => return self.answer_offer(msg),
            Phase::Live => {}
            Phase::Authenticating
            | Phase::CatchingUp
            | Phase::SendingCheckpoint(_)
            | Phase::Ended => {
                return self.refuse(
                    RefusalCode::BadMessage,
                    "no message is read while the relay sends the catch-up",
                )
            }
        }
        match msg {
            ClientMessage::Push { entries } => self.push(entries),
            ClientMessage::Repair { entries } => self.repair(entries),
            ClientMessage::Hello { .. } => {
                self.refuse(RefusalCode::BadMessage, "hello was already said")
            }
            ClientMessage::CheckpointBegin {
                checkpoint,
                chunks,
                covers,
            } => {
                if chunks == 0 {
                    return self.refuse(
                        RefusalCode::BadMessage,
                        "a checkpoint has at least one chunk",
                    );
                }
                Ok(Request::BeginCheckpoint(StoredCheckpoint {
                    id: checkpoint,
                    chunks,
                    covers,
                }))
            }
            ClientMessage::CheckpointChunk(chunk) => match self.rotating {
                Some((to, id)) if id == chunk.checkpoint => {
                    Ok(Request::PutRotationChunk { to, chunk })
                }
                // The rest of a refused upload: dropped, counted nowhere.
                _ if self.refused == Some(chunk.checkpoint) => Ok(Request::Nothing),
                _ => Ok(Request::PutChunk(chunk)),
            },
            ClientMessage::TakeCheckpoint { .. } => {
                self.refuse(RefusalCode::BadMessage, "no checkpoint was offered")
            }
            ClientMessage::ListDevices { cursors } => Ok(Request::ListDevices(cursors)),
            ClientMessage::RenameDevice {
                device,
                sealed_name,
            } => Ok(Request::RenameDevice {
                device,
                sealed_name,
            }),
            ClientMessage::RemoveDevice { device } => Ok(Request::RemoveDevice(device)),
            ClientMessage::BlobHave { blob } => Ok(Request::BlobHave(blob)),
            ClientMessage::BlobPut { bytes, chunk } => Ok(Request::BlobPut { bytes, chunk }),
            ClientMessage::BlobGet { blob, from } => Ok(Request::BlobGet { blob, from }),
            ClientMessage::SetWrapKey { key } => match self.device_key {
                Some(_) => Ok(Request::SetWrapKey(key)),
                None => self.wrap_key_set(false).map(|()| Request::Nothing),
            },
            ClientMessage::BeginRotation {
                to,
                credential,
                checkpoint,
                chunks,
                covers,
            } => {
                if chunks == 0 {
                    return self.refuse(
                        RefusalCode::BadMessage,
                        "a re-key's checkpoint has at least one chunk",
                    );
                }
                if Some(to) == self.account {
                    return self.refuse(
                        RefusalCode::BadMessage,
                        "a re-key moves the account to a new id, not to its own",
                    );
                }
                Ok(Request::BeginRotation {
                    to,
                    verifier: credential.verifier(),
                    checkpoint: StoredCheckpoint {
                        id: checkpoint,
                        chunks,
                        covers,
                    },
                })
            }
            ClientMessage::CommitRotation { to, wraps } => {
                let mut named = std::collections::BTreeSet::new();
                if let Some(twice) = wraps.iter().find(|w| !named.insert(&w.device)) {
                    let message = format!("the re-key names device {} twice", twice.device);
                    return self.refuse(RefusalCode::BadMessage, message);
                }
                Ok(Request::CommitRotation { to, wraps })
            }
        }
    }

    /// The device may push its own entries before it reads the offer.
    fn answer_offer(&mut self, msg: ClientMessage) -> Result<Request, End> {
        let Phase::Offering(checkpoint) = &self.phase else {
            return Ok(Request::Nothing);
        };
        match msg {
            ClientMessage::TakeCheckpoint { checkpoint: None } => {
                self.phase = Phase::CatchingUp;
                Ok(Request::Nothing)
            }
            ClientMessage::TakeCheckpoint {
                checkpoint: Some(id),
            } if id == checkpoint.id => {
                let checkpoint = checkpoint.clone();
                self.phase = Phase::SendingCheckpoint(checkpoint.clone());
                Ok(Request::SendCheckpoint(checkpoint))
            }
            ClientMessage::Push { entries } => self.push(entries),
            ClientMessage::Repair { entries } => self.repair(entries),
            _ => self.refuse(
                RefusalCode::BadMessage,
                "the checkpoint offer waits for its answer",
            ),
        }
    }

    fn push(&mut self, entries: Vec<SealedEntry>) -> Result<Request, End> {
        if entries.is_empty() {
            return Ok(Request::Nothing);
        }
        if entries.iter().any(|e| e.device != *self.me()) {
            return self.refuse(
                RefusalCode::BadMessage,
                "a device may only upload its own log",
            );
        }
        Ok(Request::Push(entries))
    }

    fn repair(&mut self, entries: Vec<SealedEntry>) -> Result<Request, End> {
        if entries.iter().any(|e| e.device != *self.me()) {
            return self.refuse(
                RefusalCode::BadMessage,
                "a device may only repair its own log",
            );
        }
        Ok(Request::Repair(entries))
    }

    /// The account is too far over its entry rate for the push to wait.
    pub fn rate_limited(&mut self) -> End {
        let message = format!(
            "over {} entries per second for this account; retry shortly",
            self.limits.entries_per_second
        );
        self.end(refused(RefusalCode::RateLimited, message))
    }

    /// A push was appended up to `head`, or stopped early.
    pub fn appended(&mut self, head: u64, refusal: Option<AppendRefusal>) -> Vec<Effect> {
        let mut out = vec![Effect::Send(ServerMessage::Stored { up_to: head })];
        let end = match refusal {
            None => return out,
            Some(AppendRefusal::Gap { seq, head }) => refused(
                RefusalCode::Gap,
                format!("entry {seq} leaves a gap: the relay has this device's log up to {head}"),
            ),
            Some(AppendRefusal::Conflict { seq }) => refused(
                RefusalCode::Conflict,
                format!("a different entry {seq} of this device is already stored; the device's data was copied or restored — pair it again as a new device"),
            ),
        };
        out.push(Effect::End(self.end(end)));
        out
    }

    /// Tells the device its checkpoint upload is refused; the session goes on,
    /// except for a version between checkpoints and the device registry, which
    /// knows no `CheckpointRefused`: its session ends, as every refusal did then.
    fn refuse_checkpoint(
        &mut self,
        checkpoint: CheckpointId,
        code: RefusalCode,
        message: String,
    ) -> Vec<Effect> {
        if self.speaks == Speaks::First {
            return vec![Effect::End(self.end(refused(code, message)))];
        }
        tracing::info!(account = ?self.account, %checkpoint, code = code.as_str(), %message, "checkpoint refused");
        self.refused = Some(checkpoint);
        let refusal = Refusal { code, message };
        vec![
            Effect::Count(Metric::Refused(code)),
            Effect::Send(ServerMessage::CheckpointRefused {
                checkpoint,
                refusal,
            }),
        ]
    }

    /// The refusal of a checkpoint over the size limit, of at least `bytes`
    /// sealed bytes.
    fn too_large(&self, bytes: u64) -> (RefusalCode, String) {
        (
            RefusalCode::CheckpointTooLarge,
            format!(
                "the checkpoint is at least {bytes} bytes sealed, over this relay's limit of {} for one checkpoint",
                self.limits.checkpoint.max_bytes
            ),
        )
    }

    /// What beginning the checkpoint upload `id` gave.
    pub fn checkpoint_begun(&mut self, id: CheckpointId, begun: CheckpointBegun) -> Vec<Effect> {
        let (code, message) = match begun {
            CheckpointBegun::Begun => {
                self.uploading = Some(id);
                self.refused = None;
                return Vec::new();
            }
            CheckpointBegun::TooLarge { least } => self.too_large(least),
            CheckpointBegun::TooSoon { wait } => (
                RefusalCode::RateLimited,
                format!(
                    "this account may begin a checkpoint upload once every {} seconds; the next may begin in {wait} seconds",
                    self.limits.checkpoint.interval_secs
                ),
            ),
        };
        self.refuse_checkpoint(id, code, message)
    }

    /// What storing a chunk of the account's checkpoint `id` gave.
    pub fn chunk_stored(&mut self, id: CheckpointId, stored: ChunkStored) -> Vec<Effect> {
        match stored {
            ChunkStored::Waiting => Vec::new(),
            ChunkStored::Complete if self.uploading == Some(id) => {
                self.uploading = None;
                tracing::info!(account = ?self.account, device = %self.me(), checkpoint = %id, "checkpoint stored");
                vec![
                    Effect::Send(ServerMessage::CheckpointStored { checkpoint: id }),
                    Effect::Prune,
                ]
            }
            // A chunk of a checkpoint stored already: nothing to add.
            ChunkStored::Complete => Vec::new(),
            ChunkStored::TooLarge { bytes } => {
                let (code, message) = self.too_large(bytes);
                let out = self.refuse_checkpoint(id, code, message);
                if self.uploading == Some(id) {
                    self.uploading = None;
                }
                out
            }
            ChunkStored::Unknown => vec![Effect::End(self.end(refused(
                RefusalCode::BadMessage,
                "a checkpoint chunk of no upload begun, or past its count",
            )))],
        }
    }

    /// What storing a chunk of the re-key's checkpoint gave: true once it is
    /// complete, when the driver reads the devices the re-key moves for
    /// [`Core::rotation_devices`].
    pub fn rotation_chunk_stored(&mut self, stored: ChunkStored) -> Result<bool, End> {
        match stored {
            ChunkStored::Waiting => Ok(false),
            ChunkStored::Complete => Ok(true),
            ChunkStored::Unknown => self.refuse(
                RefusalCode::BadMessage,
                "a chunk past the re-key checkpoint's count, or of a re-key replaced since",
            ),
            ChunkStored::TooLarge { bytes } => {
                let message = format!(
                    "the re-key's checkpoint would be {bytes} bytes, over this relay's limit of {} bytes for one checkpoint",
                    self.limits.checkpoint.max_bytes
                );
                self.refuse(RefusalCode::TooLarge, message)
            }
        }
    }

    /// The re-key's checkpoint is complete: the device is told which devices it
    /// moves.
    pub fn rotation_devices(&mut self, devices: Vec<RekeyDevice>) -> Vec<Effect> {
        let Some((to, _)) = self.rotating.take() else {
            return Vec::new();
        };
        tracing::info!(account = ?self.account, %to, devices = devices.len(), "re-key checkpoint stored");
        vec![
            Effect::Count(Metric::RotationsBegun),
            Effect::Send(ServerMessage::RotationBegun { to, devices }),
        ]
    }

    /// What beginning the re-key to `to` gave.
    pub fn rotation_begun(
        &mut self,
        to: AccountId,
        checkpoint: CheckpointId,
        begun: RotationBegin,
    ) -> Result<(), End> {
        match begun {
            RotationBegin::Begun => {
                tracing::info!(account = ?self.account, %to, by = %self.me(), "re-key begun");
                self.rotating = Some((to, checkpoint));
                Ok(())
            }
            RotationBegin::TargetTaken => self.refuse(
                RefusalCode::Conflict,
                "the new account id of this re-key is an account on this relay already; start the re-key again with a new secret",
            ),
            RotationBegin::Moved => Err(self.end(End::Closed)),
        }
    }

    /// What committing the re-key to `to` gave; the session ends either way (and
    /// on a commit, every other session of the account, on every node).
    pub fn rotation_committed(&mut self, to: AccountId, commit: RotationCommit) -> Vec<Effect> {
        let end = match commit {
            RotationCommit::Committed => {
                tracing::info!(account = ?self.account, %to, by = %self.me(), "re-key committed");
                self.phase = Phase::Ended;
                return vec![
                    Effect::Count(Metric::RotationsCommitted),
                    Effect::Send(ServerMessage::RotationCommitted { to }),
                    Effect::HubMoved,
                    Effect::End(End::Closed),
                ];
            }
            RotationCommit::AlreadyCommitted => {
                self.phase = Phase::Ended;
                return vec![
                    Effect::Send(ServerMessage::RotationCommitted { to }),
                    Effect::End(End::Closed),
                ];
            }
            RotationCommit::NotPending => refused(
                RefusalCode::BadMessage,
                "no re-key of this account to that id is pending (never begun, or replaced by a newer one); begin it again",
            ),
            RotationCommit::Incomplete => refused(
                RefusalCode::BadMessage,
                "the re-key's checkpoint is not complete on the relay; send every chunk before committing",
            ),
            RotationCommit::UnknownDevice(other) => refused(
                RefusalCode::BadMessage,
                format!("the re-key seals the new secret to {other}, which is not a registered device of this account (or was removed)"),
            ),
        };
        vec![Effect::End(self.end(end))]
    }

    /// Whether the device's wrap key was kept: refused when it has no credential
    /// of its own registered.
    pub fn wrap_key_set(&mut self, kept: bool) -> Result<(), End> {
        if kept {
            return Ok(());
        }
        let message = format!("device {} has no credential of its own registered with this account, so it cannot be moved in a re-key; update the app on this device", self.me());
        self.refuse(RefusalCode::UnknownDevice, message)
    }

    /// Whether `device` was renamed.
    pub fn renamed(&mut self, device: DeviceId, done: bool) -> Vec<Effect> {
        if !done {
            let message = format!("this account has no device {device}");
            return vec![Effect::End(
                self.end(refused(RefusalCode::UnknownDevice, message)),
            )];
        }
        vec![Effect::Send(ServerMessage::DeviceRenamed { device })]
    }

    /// Whether `device` was removed.
    pub fn removed(&mut self, device: DeviceId, done: bool) -> Vec<Effect> {
        if !done {
            let message =
                format!("this account has no device {device} (or it was removed already)");
            return vec![Effect::End(
                self.end(refused(RefusalCode::UnknownDevice, message)),
            )];
        }
        tracing::info!(account = ?self.account, by = %self.me(), removed = %device, "device removed");
        vec![
            Effect::HubRemove(device.clone()),
            Effect::Send(ServerMessage::DeviceRemoved { device }),
        ]
    }

    /// A refusal about one blob: the session, and every other upload and
    /// download, go on.
    fn refuse_blob(&self, blob: BlobId, code: RefusalCode, message: String) -> Vec<Effect> {
        tracing::info!(code = code.as_str(), %message, "blob refused");
        let refusal = Refusal { code, message };
        vec![
            Effect::Count(Metric::Refused(code)),
            Effect::Send(ServerMessage::BlobRefused { blob, refusal }),
        ]
    }

    /// What the relay holds of `blob`, answering `BlobHave`.
    pub fn blob_status(&self, blob: BlobId, state: BlobState) -> Vec<Effect> {
        vec![Effect::Send(ServerMessage::BlobStatus { blob, state })]
    }

    /// What storing chunk `index` of `blob` gave.
    pub fn blob_put(&self, blob: BlobId, index: ChunkIndex, put: BlobPut) -> Vec<Effect> {
        match put {
            BlobPut::Stored { new, complete } => {
                let mut out = Vec::new();
                if new {
                    out.push(Effect::Count(Metric::BlobChunksStored));
                }
                if complete && new {
                    tracing::debug!(account = ?self.account, %blob, "blob complete");
                }
                out.push(Effect::Send(ServerMessage::BlobChunkStored {
                    blob,
                    index,
                    complete,
                }));
                out
            }
            BlobPut::Refused(why) => self.refuse_blob(blob, why.code(), why.to_string()),
        }
    }

    /// A download of `blob`: its chunk count when it is complete, or the refusal.
    pub fn blob_download(&self, blob: BlobId, state: BlobState) -> Result<u32, Vec<Effect>> {
        let BlobState::Complete { chunks } = state else {
            return Err(self.refuse_blob(
                blob,
                RefusalCode::BlobNotFound,
                "the relay holds no complete copy of this file yet; the device that attached it has not uploaded it".into(),
            ));
        };
        Ok(chunks)
    }

    /// Chunk `index` of a download of `blob` (of `chunks`) as the store read it:
    /// sent, or, missing, the refusal that stops the download.
    pub fn blob_chunk(
        &self,
        blob: BlobId,
        index: ChunkIndex,
        chunks: u32,
        sealed: Option<Vec<u8>>,
    ) -> Result<Vec<Effect>, Vec<Effect>> {
        let Some(sealed) = sealed else {
            return Err(self.refuse_blob(
                blob,
                RefusalCode::BlobNotFound,
                format!("chunk {} of this file is missing on the relay", index.0),
            ));
        };
        let chunk = BlobChunk {
            blob,
            index,
            chunks,
            sealed,
        };
        Ok(vec![
            Effect::Count(Metric::BlobChunksSent),
            Effect::Send(ServerMessage::BlobChunk(chunk)),
        ])
    }

    /// What the account's sessions hear live; `None`: this session fell behind
    /// the hub (closing makes the device reconnect and catch up).
    pub fn live(&mut self, live: Option<Live>) -> Vec<Effect> {
        let Some(live) = live else {
            return vec![Effect::End(self.end(End::Closed))];
        };
        let me = self.me().clone();
        match live {
            Live::Entries(batch) => {
                // Entries that continue what was sent go as they are; past a gap
                // (another node stored the ones between), from the store.
                let mut next = Vec::new();
                let mut behind = Vec::new();
                for e in batch.iter().filter(|e| e.device != me) {
                    let at = self.sent.entry(e.device.clone()).or_insert(0);
                    if e.seq == *at + 1 {
                        *at = e.seq;
                        next.push(e.clone());
                    } else if e.seq > *at + 1 {
                        behind.push((e.device.clone(), e.seq));
                    }
                }
                let mut out: Vec<Effect> = frame_runs(next, MAX_FRAME)
                    .into_iter()
                    .map(Effect::Entries)
                    .collect();
                out.extend(
                    behind
                        .into_iter()
                        .map(|(device, head)| Effect::CatchUp { device, head }),
                );
                out
            }
            Live::Removed(removed) if removed == me => vec![Effect::End(self.end(refused(
                RefusalCode::DeviceRemoved,
                "this device was removed from the account on another device and no longer syncs; to sync here again, pair a fresh data folder with the recovery phrase",
            )))],
            Live::Removed(_) => Vec::new(),
            // Moved by a re-key: the next hello is told where.
            Live::Moved => vec![Effect::End(self.end(End::Closed))],
            Live::Head { device, head } if device != me => vec![Effect::CatchUp { device, head }],
            Live::Head { .. } => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests;
