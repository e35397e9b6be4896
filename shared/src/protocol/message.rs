//! The messages of a sync session, and their encoding into frames.

use super::blob::read_blob_chunks;
use super::checkpoint::{read_chunk_count, read_cursors, write_cursors};
use super::codec::{Reader, Writer};
use super::rekey::{read_devices, read_wraps, write_devices, write_wraps};
use super::{
    AccountId, BlobChunk, BlobId, BlobState, CheckpointId, ChunkIndex, Credential, DeviceId,
    ProtocolError, RekeyDevice, SealedChunk, SealedEntry, WrapKey, WrappedSecret, MAX_BLOB_CHUNKS,
    MAX_CURSORS, MAX_ENTRIES_PER_FRAME, MAX_ENTRY, MAX_FRAME, MAX_SEALED_NAME, MAX_TEXT,
    MAX_WRAPPED, VERSION,
};

/// How far a device has applied another device's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub device: DeviceId,
    pub seq: u64,
}

/// What a device registers with the relay as its own: a credential of its own
/// (the relay keeps only its hash, as for the account's) and its name sealed under
/// the account key (the relay stores it and cannot read it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceKey {
    pub credential: Credential,
    pub sealed_name: Vec<u8>,
}

/// One device of the account as the relay lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    pub device: DeviceId,
    /// Its name sealed under the account key; empty for a device that has not
    /// registered one (an older version).
    pub sealed_name: Vec<u8>,
    /// When it last said hello (seconds since 1970); `None`: never.
    pub last_seen: Option<u64>,
    /// Entries of the other devices the relay holds past what it last said it
    /// had applied.
    pub waiting: u64,
}

/// What a device sends the relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMessage {
    /// Opens a session: who I am, and how far I have applied every other device.
    Hello {
        account: AccountId,
        credential: Credential,
        device: DeviceId,
        /// Create the account if the relay has none by this id (a new install).
        /// A paired device sends `false`, so a wrong phrase never forks an account.
        create: bool,
        /// An invite code, for relays with closed registration.
        invite: Option<String>,
        cursors: Vec<Cursor>,
        /// The device's own credential and sealed name. The first hello that
        /// carries one registers the device; from then on the relay lets this
        /// device id in only with it. A hello without one (an older version) is
        /// let in only while no device of the account has registered.
        device_key: Option<DeviceKey>,
    },
    /// Entries of this device's own log, in order, for the relay to store.
    Push { entries: Vec<SealedEntry> },
    /// Fresh copies of own entries the relay reported damaged in `Welcome`.
    Repair { entries: Vec<SealedEntry> },
    /// Starts the upload of a checkpoint of `chunks` chunks that holds every entry
    /// up to `covers`; its chunks follow. The relay keeps its newest checkpoint until
    /// every chunk of this one has arrived.
    CheckpointBegin {
        checkpoint: CheckpointId,
        chunks: u32,
        covers: Vec<Cursor>,
    },
    /// One chunk of the checkpoint being uploaded.
    CheckpointChunk(SealedChunk),
    /// The answer to [`ServerMessage::CheckpointOffer`]: send this checkpoint, or
    /// (`None`) send the log from the hello's cursors instead.
    TakeCheckpoint { checkpoint: Option<CheckpointId> },
    /// Asks for the account's devices; answered with [`ServerMessage::Devices`].
    /// `cursors` say how far this device has applied every other device's log
    /// now: the relay records them as its hello's are, so its own count of
    /// entries waiting is current.
    ListDevices { cursors: Vec<Cursor> },
    /// Gives `device` a new name, sealed under the account key; answered with
    /// [`ServerMessage::DeviceRenamed`].
    RenameDevice {
        device: DeviceId,
        sealed_name: Vec<u8>,
    },
    /// Removes `device` from the account: its credential is refused from now on
    /// and its open session closed; answered with [`ServerMessage::DeviceRemoved`].
    RemoveDevice { device: DeviceId },
    /// Which chunks of this blob does the relay hold? Answered by
    /// [`ServerMessage::BlobStatus`]; asked before an upload, to resume one cut
    /// short and to skip a blob another device stored already.
    BlobHave { blob: BlobId },
    /// One chunk of a blob for the relay to store; `bytes` is the sealed size of the
    /// whole blob, which the relay checks against its per-file limit and the
    /// account's quota at the first chunk. Answered by
    /// [`ServerMessage::BlobChunkStored`] or [`ServerMessage::BlobRefused`].
    BlobPut { bytes: u64, chunk: BlobChunk },
    /// Send the chunks of this complete blob from `from` on, in order, as
    /// [`ServerMessage::BlobChunk`]s (or [`ServerMessage::BlobRefused`]).
    BlobGet { blob: BlobId, from: ChunkIndex },
    /// Registers this device's key for receiving a new account secret in a re-key
    /// (sent once up to date, in every session; the relay keeps the newest). Not
    /// answered.
    SetWrapKey { key: WrapKey },
    /// Starts moving the account to a new secret: `to` is the new account id and
    /// `credential` its relay credential (the relay keeps only its hash). The
    /// checkpoint of `chunks` chunks sealed under the new keys, covering `covers`,
    /// follows as [`ClientMessage::CheckpointChunk`]s; once every chunk is stored
    /// the relay answers [`ServerMessage::RotationBegun`]. A rotation begun
    /// before and not committed is replaced.
    BeginRotation {
        to: AccountId,
        credential: Credential,
        checkpoint: CheckpointId,
        chunks: u32,
        covers: Vec<Cursor>,
    },
    /// Ends the rotation to `to`: the new secret sealed to each remaining device.
    /// The relay then sends those devices there, refuses the old credential to
    /// anyone else, and drops everything the account holds under the old key.
    /// Answered by [`ServerMessage::RotationCommitted`].
    CommitRotation {
        to: AccountId,
        wraps: Vec<WrappedSecret>,
    },
}

/// What the relay sends a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerMessage {
    /// The session is open; the relay holds the device's own log up to `own_head`.
    Welcome {
        own_head: u64,
        /// The BLAKE3 hash of the sealed entry stored at `own_head` (none when the
        /// log is empty), so a device can tell the log is really its own: a copied
        /// or restored data folder writes different entries under the same numbers.
        own_hash: Option<[u8; 32]>,
        /// Own entries the relay found damaged on its disk, for the device to send
        /// again with `Repair`; other devices are not sent past them until then.
        damaged: Vec<u64>,
    },
    /// Other devices' entries: a catch-up page, or live ones as they arrive.
    Entries { entries: Vec<SealedEntry> },
    /// Every entry past the device's cursors has been sent.
    CaughtUp,
    /// The device's own log is on the relay's disk up to `up_to`.
    Stored { up_to: u64 },
    /// A request was refused; the text says why.
    Refused(Refusal),
    /// The account's newest checkpoint, of `chunks` chunks, holding every entry up
    /// to `covers`: offered, after `Welcome`, to a device with no cursors (a new
    /// one) or one whose cursors the relay can no longer serve (`required`: entries
    /// past them were pruned). The relay waits for [`ClientMessage::TakeCheckpoint`].
    CheckpointOffer {
        checkpoint: CheckpointId,
        chunks: u32,
        covers: Vec<Cursor>,
        required: bool,
    },
    /// One chunk of the checkpoint the device took; entries after its `covers`
    /// follow the last one.
    CheckpointChunk(SealedChunk),
    /// Every chunk of the uploaded checkpoint is stored: it is the account's newest.
    CheckpointStored { checkpoint: CheckpointId },
    /// The account's devices, removed ones left out.
    Devices { devices: Vec<DeviceInfo> },
    /// The device's new name is stored.
    DeviceRenamed { device: DeviceId },
    /// The device is removed.
    DeviceRemoved { device: DeviceId },
    /// What the relay holds of a blob (the answer to [`ClientMessage::BlobHave`]).
    BlobStatus { blob: BlobId, state: BlobState },
    /// Chunk `index` of a blob is on the relay's disk; `complete` once every chunk
    /// of it is, and the blob can be downloaded.
    BlobChunkStored {
        blob: BlobId,
        index: ChunkIndex,
        complete: bool,
    },
    /// One chunk of a blob asked for with [`ClientMessage::BlobGet`].
    BlobChunk(BlobChunk),
    /// A request about one blob was refused (over the quota, over the per-file
    /// limit, not on the relay); the session and every other transfer go on.
    BlobRefused { blob: BlobId, refusal: Refusal },
    /// Every chunk of the new account's checkpoint is stored; these are the
    /// account's devices (removed ones left out, the rotating one included) with
    /// their wrap keys.
    RotationBegun {
        to: AccountId,
        devices: Vec<RekeyDevice>,
    },
    /// The account now lives at `to`; the session ends.
    RotationCommitted { to: AccountId },
    /// Instead of `Welcome`: the account moved to `to` in a re-key, and `wrapped`
    /// is its new secret sealed to this device. The session ends.
    Moved { to: AccountId, wrapped: Vec<u8> },
    /// The upload of this checkpoint was refused (over the relay's size limit for
    /// a checkpoint, or begun too soon after the account's last one); its chunks
    /// are dropped, and the session and everything else go on. Sent only in
    /// answer to [`ClientMessage::CheckpointBegin`] or its chunks.
    CheckpointRefused {
        checkpoint: CheckpointId,
        refusal: Refusal,
    },
}

/// A refusal and its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: RefusalCode,
    pub message: String,
}

/// Why the relay refused something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalCode {
    /// The frame did not decode or made no sense at this point of the session.
    BadMessage = 1,
    /// The frame is over the relay's size limit.
    TooLarge = 2,
    /// The credential does not match the account.
    Unauthorized = 3,
    /// No account by that id, and the device did not ask to create one.
    UnknownAccount = 4,
    /// Registration is closed and no valid invite was given.
    RegistrationClosed = 5,
    /// Too many entries per second for this account.
    RateLimited = 6,
    /// Too many devices of this account connected at once.
    TooManyConnections = 7,
    /// An entry's sequence number leaves a gap in the device's log.
    Gap = 8,
    /// A different entry is already stored at that sequence number.
    Conflict = 9,
    /// The relay failed; try again later.
    Unavailable = 10,
    /// The device speaks a protocol version the relay does not.
    UnsupportedVersion = 11,
    /// This device was removed from the account; it is not let in again.
    DeviceRemoved = 12,
    /// No device of this account by that id.
    UnknownDevice = 13,
    /// The account was re-keyed: its old secret (recovery phrase) no longer opens
    /// it, and this device was not moved to the new one.
    AccountRekeyed = 14,
    /// The checkpoint is over the relay's size limit for one checkpoint.
    CheckpointTooLarge = 15,
    /// Storing the blob would take the account over its quota on the relay.
    QuotaExceeded = 16,
    /// The blob is over the relay's per-file limit.
    FileTooLarge = 17,
    /// The relay holds no complete blob by that id.
    BlobNotFound = 18,
    /// The chunk disagrees with the upload of its blob in progress (its chunk count
    /// or size), or would take the blob past the size it announced.
    BlobMismatch = 19,
}

impl RefusalCode {
    /// The code a refusal frame carries; an unknown one is an error.
    pub fn from_u8(v: u8) -> Result<RefusalCode, ProtocolError> {
        use RefusalCode::*;
        Ok(match v {
            1 => BadMessage,
            2 => TooLarge,
            3 => Unauthorized,
            4 => UnknownAccount,
            5 => RegistrationClosed,
            6 => RateLimited,
            7 => TooManyConnections,
            8 => Gap,
            9 => Conflict,
            10 => Unavailable,
            11 => UnsupportedVersion,
            12 => DeviceRemoved,
            13 => UnknownDevice,
            14 => AccountRekeyed,
            15 => CheckpointTooLarge,
            16 => QuotaExceeded,
            17 => FileTooLarge,
            18 => BlobNotFound,
            19 => BlobMismatch,
            _ => return Err(ProtocolError::Invalid("refusal code")),
        })
    }

    /// Whether the first versions of the protocol (version 2 before checkpoints)
    /// know this code: only those may be sent to a device whose hello is of that
    /// older form, which fails on a code it does not know.
    pub fn known_to_older_devices(self) -> bool {
        (self as u8) <= RefusalCode::UnsupportedVersion as u8
    }

    /// A short name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        use RefusalCode::*;
        match self {
            BadMessage => "bad_message",
            TooLarge => "too_large",
            Unauthorized => "unauthorized",
            UnknownAccount => "unknown_account",
            RegistrationClosed => "registration_closed",
            RateLimited => "rate_limited",
            TooManyConnections => "too_many_connections",
            Gap => "gap",
            Conflict => "conflict",
            Unavailable => "unavailable",
            UnsupportedVersion => "unsupported_version",
            DeviceRemoved => "device_removed",
            UnknownDevice => "unknown_device",
            AccountRekeyed => "account_rekeyed",
            CheckpointTooLarge => "checkpoint_too_large",
            QuotaExceeded => "quota_exceeded",
            FileTooLarge => "file_too_large",
            BlobNotFound => "blob_not_found",
            BlobMismatch => "blob_mismatch",
        }
    }
}

const HELLO: u8 = 1;
const PUSH: u8 = 2;
const REPAIR: u8 = 3;
const CHECKPOINT_BEGIN: u8 = 4;
const CHECKPOINT_CHUNK: u8 = 5;
const TAKE_CHECKPOINT: u8 = 6;
/// A hello carrying the device's own credential and sealed name.
const HELLO_DEVICE: u8 = 7;
const LIST_DEVICES: u8 = 8;
const RENAME_DEVICE: u8 = 9;
const REMOVE_DEVICE: u8 = 10;
const BLOB_HAVE: u8 = 20;
const BLOB_PUT: u8 = 21;
const BLOB_GET: u8 = 22;
const SET_WRAP_KEY: u8 = 11;
const BEGIN_ROTATION: u8 = 12;
const COMMIT_ROTATION: u8 = 13;
const WELCOME: u8 = 1;
const ENTRIES: u8 = 2;
const CAUGHT_UP: u8 = 3;
const STORED: u8 = 4;
const REFUSED: u8 = 5;
const CHECKPOINT_OFFER: u8 = 6;
const SERVER_CHECKPOINT_CHUNK: u8 = 7;
const CHECKPOINT_STORED: u8 = 8;
const DEVICES: u8 = 9;
const DEVICE_RENAMED: u8 = 10;
const DEVICE_REMOVED: u8 = 11;
const CHECKPOINT_REFUSED: u8 = 15;
const BLOB_STATUS: u8 = 20;
const BLOB_CHUNK_STORED: u8 = 21;
const SERVER_BLOB_CHUNK: u8 = 22;
const BLOB_REFUSED: u8 = 23;
const ROTATION_BEGUN: u8 = 12;
const ROTATION_COMMITTED: u8 = 13;
const MOVED: u8 = 14;

/// The most sealed bytes a blob may have: every chunk full.
const MAX_BLOB_BYTES: u64 = MAX_BLOB_CHUNKS as u64 * MAX_ENTRY as u64;

fn write_refusal(w: &mut Writer, refusal: &Refusal) {
    w.u8(refusal.code as u8);
    w.str(truncate(&refusal.message, MAX_TEXT));
}

fn read_refusal(r: &mut Reader<'_>) -> Result<Refusal, ProtocolError> {
    Ok(Refusal {
        code: RefusalCode::from_u8(r.u8()?)?,
        message: r.str("message", MAX_TEXT)?.to_string(),
    })
}

fn start(tag: u8) -> Writer {
    let mut w = Writer::default();
    w.u8(VERSION);
    w.u8(tag);
    w
}

fn open(frame: &[u8]) -> Result<(u8, Reader<'_>), ProtocolError> {
    if frame.len() > MAX_FRAME {
        return Err(ProtocolError::TooLarge(frame.len()));
    }
    let mut r = Reader::new(frame);
    let version = r.u8()?;
    if version != VERSION {
        return Err(ProtocolError::UnsupportedVersion(version));
    }
    Ok((r.u8()?, r))
}

fn write_entries(w: &mut Writer, entries: &[SealedEntry]) {
    w.uint(entries.len() as u64);
    for e in entries {
        e.write(w);
    }
}

/// What an entry adds to a frame besides its sealed bytes, at the most (device id,
/// sequence number and two length prefixes).
pub const ENTRY_OVERHEAD: usize = 1 + super::MAX_DEVICE_ID + 10 + 10;

/// The most sealed bytes one `Entries` or `Push` frame carries, leaving room for its
/// header and every entry's overhead under [`MAX_FRAME`](super::MAX_FRAME).
pub const FRAME_BUDGET: usize = super::MAX_FRAME - 64;

/// Splits `entries` into runs that each fit one frame within `max_frame` bytes and
/// [`MAX_ENTRIES_PER_FRAME`] entries, keeping their order. An entry too large for
/// any frame (over [`MAX_ENTRY`](super::MAX_ENTRY)) still gets a run of its own.
pub fn frame_runs(entries: Vec<SealedEntry>, max_frame: usize) -> Vec<Vec<SealedEntry>> {
    let budget = max_frame.saturating_sub(64);
    let mut runs = Vec::new();
    let mut run: Vec<SealedEntry> = Vec::new();
    let mut bytes = 0;
    for entry in entries {
        let size = entry.sealed.len() + ENTRY_OVERHEAD;
        if !run.is_empty() && (bytes + size > budget || run.len() >= MAX_ENTRIES_PER_FRAME) {
            runs.push(std::mem::take(&mut run));
            bytes = 0;
        }
        bytes += size;
        run.push(entry);
    }
    if !run.is_empty() {
        runs.push(run);
    }
    runs
}

fn read_entries(r: &mut Reader<'_>) -> Result<Vec<SealedEntry>, ProtocolError> {
    let n = r.count("entries", MAX_ENTRIES_PER_FRAME, SealedEntry::MIN_WIRE)?;
    (0..n).map(|_| SealedEntry::read(r)).collect()
}

impl ClientMessage {
    /// The message as one frame.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            ClientMessage::Hello {
                account,
                credential,
                device,
                create,
                invite,
                cursors,
                device_key,
            } => {
                let mut w = start(if device_key.is_some() {
                    HELLO_DEVICE
                } else {
                    HELLO
                });
                w.out.extend_from_slice(&account.0);
                w.out.extend_from_slice(&credential.0);
                device.write(&mut w);
                w.u8(u8::from(*create));
                match invite {
                    Some(code) => {
                        w.u8(1);
                        w.str(code);
                    }
                    None => w.u8(0),
                }
                write_cursors(&mut w, cursors);
                if let Some(key) = device_key {
                    w.out.extend_from_slice(&key.credential.0);
                    w.bytes(&key.sealed_name);
                }
                w.out
            }
            ClientMessage::Push { entries } => {
                let mut w = start(PUSH);
                write_entries(&mut w, entries);
                w.out
            }
            ClientMessage::Repair { entries } => {
                let mut w = start(REPAIR);
                write_entries(&mut w, entries);
                w.out
            }
            ClientMessage::CheckpointBegin {
                checkpoint,
                chunks,
                covers,
            } => {
                let mut w = start(CHECKPOINT_BEGIN);
                w.out.extend_from_slice(&checkpoint.0);
                w.uint(u64::from(*chunks));
                write_cursors(&mut w, covers);
                w.out
            }
            ClientMessage::CheckpointChunk(chunk) => {
                let mut w = start(CHECKPOINT_CHUNK);
                chunk.write(&mut w);
                w.out
            }
            ClientMessage::TakeCheckpoint { checkpoint } => {
                let mut w = start(TAKE_CHECKPOINT);
                match checkpoint {
                    Some(id) => {
                        w.u8(1);
                        w.out.extend_from_slice(&id.0);
                    }
                    None => w.u8(0),
                }
                w.out
            }
            ClientMessage::ListDevices { cursors } => {
                let mut w = start(LIST_DEVICES);
                write_cursors(&mut w, cursors);
                w.out
            }
            ClientMessage::RenameDevice {
                device,
                sealed_name,
            } => {
                let mut w = start(RENAME_DEVICE);
                device.write(&mut w);
                w.bytes(sealed_name);
                w.out
            }
            ClientMessage::RemoveDevice { device } => {
                let mut w = start(REMOVE_DEVICE);
                device.write(&mut w);
                w.out
            }
            ClientMessage::BlobHave { blob } => {
                let mut w = start(BLOB_HAVE);
                w.out.extend_from_slice(&blob.0);
                w.out
            }
            ClientMessage::BlobPut { bytes, chunk } => {
                let mut w = start(BLOB_PUT);
                w.uint(*bytes);
                chunk.write(&mut w);
                w.out
            }
            ClientMessage::BlobGet { blob, from } => {
                let mut w = start(BLOB_GET);
                w.out.extend_from_slice(&blob.0);
                w.uint(u64::from(from.0));
                w.out
            }
            ClientMessage::SetWrapKey { key } => {
                let mut w = start(SET_WRAP_KEY);
                key.write(&mut w);
                w.out
            }
            ClientMessage::BeginRotation {
                to,
                credential,
                checkpoint,
                chunks,
                covers,
            } => {
                let mut w = start(BEGIN_ROTATION);
                w.out.extend_from_slice(&to.0);
                w.out.extend_from_slice(&credential.0);
                w.out.extend_from_slice(&checkpoint.0);
                w.uint(u64::from(*chunks));
                write_cursors(&mut w, covers);
                w.out
            }
            ClientMessage::CommitRotation { to, wraps } => {
                let mut w = start(COMMIT_ROTATION);
                w.out.extend_from_slice(&to.0);
                write_wraps(&mut w, wraps);
                w.out
            }
        }
    }

    /// Reads one frame; any bytes give a message or an error.
    pub fn decode(frame: &[u8]) -> Result<ClientMessage, ProtocolError> {
        let (tag, mut r) = open(frame)?;
        let msg = match tag {
            HELLO | HELLO_DEVICE => {
                let account = AccountId(r.fixed()?);
                let credential = Credential(r.fixed()?);
                let device = DeviceId::read(&mut r)?;
                let create = r.bool()?;
                let invite = match r.bool()? {
                    true => Some(r.str("invite code", MAX_TEXT)?.to_string()),
                    false => None,
                };
                let cursors = read_cursors(&mut r)?;
                let device_key = match tag {
                    HELLO_DEVICE => Some(DeviceKey {
                        credential: Credential(r.fixed()?),
                        sealed_name: r.bytes("sealed device name", MAX_SEALED_NAME)?.to_vec(),
                    }),
                    _ => None,
                };
                ClientMessage::Hello {
                    account,
                    credential,
                    device,
                    create,
                    invite,
                    cursors,
                    device_key,
                }
            }
            PUSH => ClientMessage::Push {
                entries: read_entries(&mut r)?,
            },
            REPAIR => ClientMessage::Repair {
                entries: read_entries(&mut r)?,
            },
            CHECKPOINT_BEGIN => ClientMessage::CheckpointBegin {
                checkpoint: CheckpointId(r.fixed()?),
                chunks: read_chunk_count(&mut r, "chunks")?,
                covers: read_cursors(&mut r)?,
            },
            CHECKPOINT_CHUNK => ClientMessage::CheckpointChunk(SealedChunk::read(&mut r)?),
            TAKE_CHECKPOINT => ClientMessage::TakeCheckpoint {
                checkpoint: match r.bool()? {
                    true => Some(CheckpointId(r.fixed()?)),
                    false => None,
                },
            },
            LIST_DEVICES => ClientMessage::ListDevices {
                cursors: read_cursors(&mut r)?,
            },
            RENAME_DEVICE => ClientMessage::RenameDevice {
                device: DeviceId::read(&mut r)?,
                sealed_name: r.bytes("sealed device name", MAX_SEALED_NAME)?.to_vec(),
            },
            REMOVE_DEVICE => ClientMessage::RemoveDevice {
                device: DeviceId::read(&mut r)?,
            },
            BLOB_HAVE => ClientMessage::BlobHave {
                blob: BlobId(r.fixed()?),
            },
            BLOB_PUT => {
                let bytes = r.uint()?;
                if bytes > MAX_BLOB_BYTES {
                    return Err(ProtocolError::OverLimit {
                        what: "blob size",
                        limit: MAX_BLOB_BYTES as usize,
                    });
                }
                let chunk = BlobChunk::read(&mut r)?;
                if (chunk.sealed.len() as u64) > bytes {
                    return Err(ProtocolError::Invalid("blob size"));
                }
                ClientMessage::BlobPut { bytes, chunk }
            }
            BLOB_GET => {
                let blob = BlobId(r.fixed()?);
                let from = read_blob_chunks(&mut r, "blob chunk index")?;
                ClientMessage::BlobGet {
                    blob,
                    from: ChunkIndex(from),
                }
            }
            SET_WRAP_KEY => ClientMessage::SetWrapKey {
                key: WrapKey::read(&mut r)?,
            },
            BEGIN_ROTATION => ClientMessage::BeginRotation {
                to: AccountId(r.fixed()?),
                credential: Credential(r.fixed()?),
                checkpoint: CheckpointId(r.fixed()?),
                chunks: read_chunk_count(&mut r, "chunks")?,
                covers: read_cursors(&mut r)?,
            },
            COMMIT_ROTATION => ClientMessage::CommitRotation {
                to: AccountId(r.fixed()?),
                wraps: read_wraps(&mut r)?,
            },
            other => return Err(ProtocolError::UnknownTag(other)),
        };
        r.finish()?;
        Ok(msg)
    }
}

impl ServerMessage {
    /// The message as one frame.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            ServerMessage::Welcome {
                own_head,
                own_hash,
                damaged,
            } => {
                let mut w = start(WELCOME);
                w.uint(*own_head);
                match own_hash {
                    Some(hash) => {
                        w.u8(1);
                        w.out.extend_from_slice(hash);
                    }
                    None => w.u8(0),
                }
                w.uint(damaged.len() as u64);
                for seq in damaged {
                    w.uint(*seq);
                }
                w.out
            }
            ServerMessage::Entries { entries } => {
                let mut w = start(ENTRIES);
                write_entries(&mut w, entries);
                w.out
            }
            ServerMessage::CaughtUp => start(CAUGHT_UP).out,
            ServerMessage::Stored { up_to } => {
                let mut w = start(STORED);
                w.uint(*up_to);
                w.out
            }
            ServerMessage::Refused(refusal) => {
                let mut w = start(REFUSED);
                write_refusal(&mut w, refusal);
                w.out
            }
            ServerMessage::CheckpointOffer {
                checkpoint,
                chunks,
                covers,
                required,
            } => {
                let mut w = start(CHECKPOINT_OFFER);
                w.out.extend_from_slice(&checkpoint.0);
                w.uint(u64::from(*chunks));
                write_cursors(&mut w, covers);
                w.u8(u8::from(*required));
                w.out
            }
            ServerMessage::CheckpointChunk(chunk) => {
                let mut w = start(SERVER_CHECKPOINT_CHUNK);
                chunk.write(&mut w);
                w.out
            }
            ServerMessage::CheckpointStored { checkpoint } => {
                let mut w = start(CHECKPOINT_STORED);
                w.out.extend_from_slice(&checkpoint.0);
                w.out
            }
            ServerMessage::Devices { devices } => {
                let mut w = start(DEVICES);
                w.uint(devices.len() as u64);
                for d in devices {
                    d.device.write(&mut w);
                    w.bytes(&d.sealed_name);
                    w.uint(d.last_seen.map_or(0, |at| at.saturating_add(1)));
                    w.uint(d.waiting);
                }
                w.out
            }
            ServerMessage::DeviceRenamed { device } => {
                let mut w = start(DEVICE_RENAMED);
                device.write(&mut w);
                w.out
            }
            ServerMessage::DeviceRemoved { device } => {
                let mut w = start(DEVICE_REMOVED);
                device.write(&mut w);
                w.out
            }
            ServerMessage::BlobStatus { blob, state } => {
                let mut w = start(BLOB_STATUS);
                w.out.extend_from_slice(&blob.0);
                state.write(&mut w);
                w.out
            }
            ServerMessage::BlobChunkStored {
                blob,
                index,
                complete,
            } => {
                let mut w = start(BLOB_CHUNK_STORED);
                w.out.extend_from_slice(&blob.0);
                w.uint(u64::from(index.0));
                w.u8(u8::from(*complete));
                w.out
            }
            ServerMessage::BlobChunk(chunk) => {
                let mut w = start(SERVER_BLOB_CHUNK);
                chunk.write(&mut w);
                w.out
            }
            ServerMessage::BlobRefused { blob, refusal } => {
                let mut w = start(BLOB_REFUSED);
                w.out.extend_from_slice(&blob.0);
                write_refusal(&mut w, refusal);
                w.out
            }
            ServerMessage::RotationBegun { to, devices } => {
                let mut w = start(ROTATION_BEGUN);
                w.out.extend_from_slice(&to.0);
                write_devices(&mut w, devices);
                w.out
            }
            ServerMessage::RotationCommitted { to } => {
                let mut w = start(ROTATION_COMMITTED);
                w.out.extend_from_slice(&to.0);
                w.out
            }
            ServerMessage::Moved { to, wrapped } => {
                let mut w = start(MOVED);
                w.out.extend_from_slice(&to.0);
                w.bytes(wrapped);
                w.out
            }
            ServerMessage::CheckpointRefused {
                checkpoint,
                refusal,
            } => {
                let mut w = start(CHECKPOINT_REFUSED);
                w.out.extend_from_slice(&checkpoint.0);
                write_refusal(&mut w, refusal);
                w.out
            }
        }
    }

    /// Reads one frame; any bytes give a message or an error.
    pub fn decode(frame: &[u8]) -> Result<ServerMessage, ProtocolError> {
        let (tag, mut r) = open(frame)?;
        let msg = match tag {
            WELCOME => ServerMessage::Welcome {
                own_head: r.uint()?,
                own_hash: match r.bool()? {
                    true => Some(r.fixed()?),
                    false => None,
                },
                damaged: {
                    let n = r.count("damaged entries", MAX_ENTRIES_PER_FRAME, 1)?;
                    (0..n).map(|_| r.uint()).collect::<Result<_, _>>()?
                },
            },
            ENTRIES => ServerMessage::Entries {
                entries: read_entries(&mut r)?,
            },
            CAUGHT_UP => ServerMessage::CaughtUp,
            STORED => ServerMessage::Stored { up_to: r.uint()? },
            REFUSED => ServerMessage::Refused(read_refusal(&mut r)?),
            CHECKPOINT_OFFER => ServerMessage::CheckpointOffer {
                checkpoint: CheckpointId(r.fixed()?),
                chunks: read_chunk_count(&mut r, "chunks")?,
                covers: read_cursors(&mut r)?,
                required: r.bool()?,
            },
            SERVER_CHECKPOINT_CHUNK => ServerMessage::CheckpointChunk(SealedChunk::read(&mut r)?),
            CHECKPOINT_STORED => ServerMessage::CheckpointStored {
                checkpoint: CheckpointId(r.fixed()?),
            },
            DEVICES => {
                let n = r.count("devices", MAX_CURSORS, 4)?;
                let devices = (0..n)
                    .map(|_| {
                        Ok(DeviceInfo {
                            device: DeviceId::read(&mut r)?,
                            sealed_name: r.bytes("sealed device name", MAX_SEALED_NAME)?.to_vec(),
                            last_seen: r.uint()?.checked_sub(1),
                            waiting: r.uint()?,
                        })
                    })
                    .collect::<Result<_, ProtocolError>>()?;
                ServerMessage::Devices { devices }
            }
            DEVICE_RENAMED => ServerMessage::DeviceRenamed {
                device: DeviceId::read(&mut r)?,
            },
            DEVICE_REMOVED => ServerMessage::DeviceRemoved {
                device: DeviceId::read(&mut r)?,
            },
            BLOB_STATUS => ServerMessage::BlobStatus {
                blob: BlobId(r.fixed()?),
                state: BlobState::read(&mut r)?,
            },
            BLOB_CHUNK_STORED => {
                let blob = BlobId(r.fixed()?);
                let index = read_blob_chunks(&mut r, "blob chunk index")?;
                ServerMessage::BlobChunkStored {
                    blob,
                    index: ChunkIndex(index),
                    complete: r.bool()?,
                }
            }
            SERVER_BLOB_CHUNK => ServerMessage::BlobChunk(BlobChunk::read(&mut r)?),
            BLOB_REFUSED => ServerMessage::BlobRefused {
                blob: BlobId(r.fixed()?),
                refusal: read_refusal(&mut r)?,
            },
            ROTATION_BEGUN => ServerMessage::RotationBegun {
                to: AccountId(r.fixed()?),
                devices: read_devices(&mut r)?,
            },
            ROTATION_COMMITTED => ServerMessage::RotationCommitted {
                to: AccountId(r.fixed()?),
            },
            MOVED => ServerMessage::Moved {
                to: AccountId(r.fixed()?),
                wrapped: r.bytes("wrapped secret", MAX_WRAPPED)?.to_vec(),
            },
            CHECKPOINT_REFUSED => ServerMessage::CheckpointRefused {
                checkpoint: CheckpointId(r.fixed()?),
                refusal: read_refusal(&mut r)?,
            },
            other => return Err(ProtocolError::UnknownTag(other)),
        };
        r.finish()?;
        Ok(msg)
    }

    /// A refusal frame.
    pub fn refused(code: RefusalCode, message: impl Into<String>) -> ServerMessage {
        ServerMessage::Refused(Refusal {
            code,
            message: message.into(),
        })
    }
}

/// The longest prefix of `s` within `max` bytes, cut at a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code.as_str())
    }
}
