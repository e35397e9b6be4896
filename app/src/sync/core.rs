//! One session's work against the store, with no IO of its own: the engine's
//! effects carried out on the store, the frames to send gathered in an outbox, and
//! the status the screens show. The desktop's websocket (`session`) and the phone
//! web app's (`browser`) each drive it from their own socket and timers.

use std::collections::VecDeque;

use aftercall_shared::crypto::{
    unwrap_secret, wrap_key_is_genuine, wrap_secret, AccountKeys, AccountSecret, BlobFault,
    DeviceSecret, OpenCheckpoint, OpenEntry,
};
use aftercall_shared::model::BlobHash;
use aftercall_shared::protocol::{
    AccountId, CheckpointId, ClientMessage, DeviceId, Refusal, RefusalCode, RekeyDevice,
    WrappedSecret,
};
use aftercall_shared::sync::{
    DeviceAnswer, Effect, Engine, EngineOptions, Event, OwnRead, SyncError,
};
use aftercall_shared::{Error, RemoteEntry, Store};
use anyhow::Context;

use super::account::Account;
use super::settings::{
    CheckpointRefusal, CheckpointWay, LastCheckpoint, PendingRotation, SyncSettings,
};
use super::status::{stored_status, AttachmentTransfer, ConnState, SyncStatus};

/// Attachments of at most this size are downloaded as soon as they are known;
/// larger ones when opened.
pub const AUTO_DOWNLOAD_MAX: u64 = 256 * 1024;

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Entries of other devices applied here.
    pub received: u64,
    /// Own entries the relay acknowledged in this session.
    pub uploaded: u64,
    /// Entries set aside in this session.
    pub quarantined: u64,
    /// The checkpoint loaded from the relay in this session.
    pub checkpoint_loaded: Option<CheckpointReport>,
    /// The checkpoint this session uploaded and the relay stored.
    pub checkpoint_uploaded: Option<CheckpointReport>,
    /// A checkpoint from the relay rejected in this session.
    pub checkpoint_rejected: Option<CheckpointId>,
    /// The checkpoint this session uploaded and the relay refused, and why.
    pub checkpoint_refused: Option<(CheckpointId, Refusal)>,
    /// The relay's answer to the request about the account's devices this
    /// session made.
    pub devices: Option<DeviceAnswer>,
    /// Attachments' blobs the relay now holds, and those downloaded and stored here.
    pub blobs_uploaded: u64,
    pub blobs_downloaded: u64,
    /// Blobs the relay refused to store or to send, and why.
    pub blobs_refused: Vec<(BlobHash, Refusal)>,
    /// Blobs from the relay rejected as tampered or damaged (each time one was).
    pub blobs_rejected: Vec<(BlobHash, BlobFault)>,
    /// The rotation this session committed: the account's new id.
    pub rotated_to: Option<AccountId>,
    /// Devices the rotation could not send the new secret to (they registered no
    /// wrap key, or one not made with the account key): they must be paired again
    /// with the new recovery phrase.
    pub left_out: Vec<DeviceId>,
}

/// One checkpoint made or loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointReport {
    pub id: CheckpointId,
    /// Documents it holds.
    pub documents: usize,
    /// Entries it holds (the sum of its cursors).
    pub entries: u64,
    /// Chunks and sealed bytes it took on the wire (0 for one loaded).
    pub chunks: usize,
    pub bytes: usize,
}

impl SyncReport {
    /// Adds what another session did.
    pub fn add(&mut self, other: &SyncReport) {
        self.received += other.received;
        self.uploaded += other.uploaded;
        self.quarantined += other.quarantined;
        if other.checkpoint_loaded.is_some() {
            self.checkpoint_loaded.clone_from(&other.checkpoint_loaded);
        }
        if other.checkpoint_uploaded.is_some() {
            self.checkpoint_uploaded
                .clone_from(&other.checkpoint_uploaded);
        }
        self.checkpoint_rejected = other.checkpoint_rejected.or(self.checkpoint_rejected);
        if other.checkpoint_refused.is_some() {
            self.checkpoint_refused
                .clone_from(&other.checkpoint_refused);
        }
        if other.devices.is_some() {
            self.devices.clone_from(&other.devices);
        }
        self.blobs_uploaded += other.blobs_uploaded;
        self.blobs_downloaded += other.blobs_downloaded;
        self.blobs_refused
            .extend(other.blobs_refused.iter().cloned());
        self.blobs_rejected
            .extend(other.blobs_rejected.iter().cloned());
        self.rotated_to = other.rotated_to.or(self.rotated_to);
        self.left_out.extend(other.left_out.iter().cloned());
    }
}

/// The sum of a cursor vector: how many entries a checkpoint (or a store) holds.
fn entries_in<'a>(cursors: impl IntoIterator<Item = &'a u64>) -> u64 {
    cursors.into_iter().sum()
}

/// A session ended because this device's log on the relay belongs to another copy
/// of its data folder; the device now has a new id and should connect again at once.
#[derive(Debug)]
pub struct Rehomed {
    pub new_device: String,
}

impl std::fmt::Display for Rehomed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "this data folder was copied or restored, so it continues as a new device ({}) and sends its changes again",
            self.new_device
        )
    }
}

impl std::error::Error for Rehomed {}

/// A session ended because the account moved to a new secret: this device was sent
/// it by another device's re-key (or committed its own). The store already forgot
/// what the relay had of the old account; the driver keeps the new secret (in place
/// of the old one) and connects again at once.
pub struct MovedAccount {
    pub secret: AccountSecret,
    /// This device's own rotation ended here (rather than another device's).
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    pub rotated_here: bool,
    /// Devices that rotation could not send the new secret to.
    pub left_out: Vec<DeviceId>,
}

impl std::fmt::Debug for MovedAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MovedAccount({:?})", self.secret.keys().account)
    }
}

impl std::fmt::Display for MovedAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the account moved to a new key (re-keyed); syncing again with it")
    }
}

impl std::error::Error for MovedAccount {}

/// What one round of work left for the socket and the screens.
#[derive(Debug)]
pub(crate) struct Round {
    /// Entries of other devices applied in this round.
    pub applied: u64,
    /// Caught up, and every own entry acknowledged.
    pub up_to_date: bool,
    /// The status to show.
    pub status: SyncStatus,
}

/// A connected session's state between inputs.
pub(crate) struct SessionCore {
    engine: Engine,
    /// Events waiting for the engine.
    queue: VecDeque<Event>,
    report: SyncReport,
    /// The first acknowledgement of this session; uploads are counted from it.
    first_ack: Option<u64>,
    /// The own log's head as last told to the engine.
    own_head: u64,
    /// Set once the session reached "caught up" (for the driver's backoff).
    pub reached_live: bool,
    /// A checkpoint is to be made as soon as the session is up to date.
    checkpoint_asked: bool,
    /// A checkpoint is to be made when up to date, if the store can give one.
    checkpoint_wanted: bool,
    /// The checkpoint handed to the engine and not yet stored: its documents and
    /// the entries it holds.
    checkpoint_sent: Option<(usize, u64)>,
    /// A request about the account's devices, sent once the session is up to date.
    device_request: Option<ClientMessage>,
    /// The last attachment this session could not move, said for the user.
    blob_problem: Option<String>,
    /// The account's keys, this device's id and its own secret (for re-keying).
    keys: AccountKeys,
    device: DeviceId,
    own: DeviceSecret,
    /// The new secret to move the account to once up to date (a re-key), and
    /// whether its checkpoint went out.
    rotation: Option<PendingRotation>,
    rotation_sent: bool,
}

impl SessionCore {
    /// A session that has just connected: its first event tells the engine where
    /// the store stands. With `must_prove_key` nothing is uploaded until the key has
    /// opened the account's data (pairing).
    pub fn connected(
        store: &Store,
        account: &Account,
        must_prove_key: bool,
    ) -> anyhow::Result<Self> {
        let device = DeviceId::new(store.device_id())
            .map_err(|e| anyhow::anyhow!("this store's device id is not usable for sync: {e}"))?;
        let keys = account.secret.keys();
        let device_key = super::account::device_key(store, &account.secret, &device)?;
        let own = SyncSettings::of(store)
            .device_secret()?
            .context("this device's own secret is missing")?;
        let engine = Engine::new(
            keys.clone(),
            device.clone(),
            EngineOptions {
                create_account: account.create,
                invite: account.invite.clone(),
                must_prove_key,
                rejected_checkpoint: SyncSettings::of(store).rejected_checkpoint()?,
                device_key: Some(device_key),
                wrap_key: Some(aftercall_shared::crypto::wrap_key(&keys, &device, &own)),
            },
        );
        let own_head = store.own_log_head()?;
        let queue = VecDeque::from([Event::Connected {
            cursors: store.cursors()?,
            own_head,
            acked: SyncSettings::of(store).acked()?,
        }]);
        Ok(SessionCore {
            engine,
            queue,
            report: SyncReport::default(),
            first_ack: None,
            own_head,
            reached_live: false,
            checkpoint_asked: false,
            checkpoint_wanted: false,
            checkpoint_sent: None,
            device_request: None,
            blob_problem: None,
            keys,
            device,
            own,
            rotation: None,
            rotation_sent: false,
        })
    }

    /// Moves the account to `new` once up to date, with every attachment here
    /// (the relay drops the old account's copies): a snapshot sealed under the new
    /// keys goes to the relay, the new secret to every remaining device, and the
    /// session ends with [`MovedAccount`].
    pub fn ask_rotation(&mut self, store: &Store, new: PendingRotation) -> anyhow::Result<()> {
        for (hash, _) in store.blobs_missing(u64::MAX)? {
            store.want_blob(&hash)?;
        }
        self.queue.push_back(Event::BlobsChanged);
        self.rotation = Some(new);
        Ok(())
    }

    /// Up to date with a rotation asked for and not begun: hands the engine the
    /// snapshot to seal under the new keys.
    fn maybe_rotate(&mut self, store: &Store) -> anyhow::Result<()> {
        let Some(PendingRotation { secret: new, .. }) = &self.rotation else {
            return Ok(());
        };
        if self.rotation_sent || !self.engine.is_up_to_date() {
            return Ok(());
        }
        let Some(snapshot) = store.account_snapshot()? else {
            anyhow::bail!(
                "changes here wait for entries of another device that have not arrived; sync again later and then re-key"
            );
        };
        self.rotation_sent = true;
        self.queue.push_back(Event::RotationSnapshot {
            to: new.keys(),
            covers: snapshot.covers,
            body: snapshot.body,
        });
        Ok(())
    }

    /// The relay stored the new account's checkpoint and listed the devices: the
    /// new secret is sealed to each whose wrap key is genuine, and the rotation
    /// committed.
    fn commit_rotation(
        &mut self,
        to: AccountId,
        devices: Vec<RekeyDevice>,
        outbox: &mut Vec<Vec<u8>>,
    ) -> anyhow::Result<()> {
        let PendingRotation {
            secret: new,
            removing,
        } = self
            .rotation
            .clone()
            .context("the relay began a rotation this device did not ask for")?;
        if new.keys().account != to {
            anyhow::bail!("the relay began a rotation to another account than asked");
        }
        let mut wraps = Vec::new();
        let mut entropy = crate::system::OsEntropy;
        for d in devices {
            // The device removed is never sent the new secret.
            if removing.as_ref() == Some(&d.device) {
                continue;
            }
            match d.wrap_key {
                Some(key) if wrap_key_is_genuine(&self.keys, &d.device, &key) => {
                    let sealed = wrap_secret(&self.keys, &d.device, &key, &new, &mut entropy)?;
                    wraps.push(WrappedSecret {
                        device: d.device,
                        sealed,
                    });
                }
                _ => {
                    tracing::warn!(device = %d.device, "no usable wrap key: this device must be paired again with the new phrase");
                    self.report.left_out.push(d.device);
                }
            }
        }
        outbox.push(ClientMessage::CommitRotation { to, wraps }.encode());
        Ok(())
    }

    /// Attachments may be waiting (one asked for to open): the engine lists them
    /// again once its transfers are done.
    pub fn notice_blobs(&mut self) {
        self.queue.push_back(Event::BlobsChanged);
    }

    /// Asks for a checkpoint once the session is up to date (`aftercall checkpoint`).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn ask_checkpoint(&mut self) {
        self.checkpoint_asked = true;
    }

    /// Sends `request` (list, rename or remove devices) once the session is up to
    /// date; the answer lands in the report's `devices`.
    pub fn ask_devices(&mut self, request: ClientMessage) {
        self.device_request = Some(request);
    }

    /// Makes a checkpoint once the session is up to date if the store can give one
    /// then (the idle desktop's checkpoint); unlike [`SessionCore::ask_checkpoint`],
    /// a store whose changes wait for another device's entries is no error.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn want_checkpoint(&mut self) {
        self.checkpoint_wanted = true;
    }

    /// Entries written here or applied since the last checkpoint this device made
    /// or loaded.
    pub fn entries_since_checkpoint(&self, store: &Store) -> anyhow::Result<u64> {
        let cursors = store.cursors()?;
        let total = entries_in(cursors.iter().map(|(_, seq)| seq)) + store.own_log_head()?;
        Ok(total.saturating_sub(SyncSettings::of(store).checkpoint_mark()?))
    }

    /// Whether a checkpoint is due: asked for, or wanted or the entries since the
    /// last one past the threshold while no refusal of the relay holds automatic
    /// ones back.
    fn checkpoint_due(&self, store: &Store) -> anyhow::Result<bool> {
        if self.checkpoint_sent.is_some() || !self.engine.can_upload_checkpoint() {
            return Ok(false);
        }
        if self.checkpoint_asked {
            return Ok(true);
        }
        let since = self.entries_since_checkpoint(store)?;
        if let Some(refused) = SyncSettings::of(store).checkpoint_refused()? {
            if refused.holds_back(store.now().timestamp_millis(), since) {
                return Ok(false);
            }
        }
        Ok(self.checkpoint_wanted || since >= SyncSettings::of(store).checkpoint_every()?)
    }

    /// Takes a snapshot of the store and hands it to the engine to upload. A store
    /// whose changes wait for entries of another device has none to give: an asked
    /// checkpoint then fails, one due is tried again later.
    fn make_checkpoint(&mut self, store: &Store) -> anyhow::Result<()> {
        let Some(snapshot) = store.account_snapshot()? else {
            if self.checkpoint_asked {
                anyhow::bail!(
                    "changes here wait for entries of another device that have not arrived; sync again later and then make the checkpoint"
                );
            }
            self.checkpoint_wanted = false;
            return Ok(());
        };
        self.checkpoint_sent = Some((
            snapshot.documents,
            entries_in(snapshot.covers.iter().map(|(_, seq)| seq)),
        ));
        self.queue.push_back(Event::CheckpointSnapshot {
            covers: snapshot.covers,
            body: snapshot.body,
        });
        Ok(())
    }

    /// A frame from the relay.
    pub fn frame(&mut self, frame: Vec<u8>) {
        self.queue.push_back(Event::Frame(frame));
    }

    /// Looks at the own log's head: when this device wrote since the engine last
    /// heard, tells it. Returns whether there was something new.
    pub fn notice_writes(&mut self, store: &Store) -> anyhow::Result<bool> {
        let head = store.own_log_head()?;
        if head == self.own_head {
            return Ok(false);
        }
        self.own_head = head;
        self.queue.push_back(Event::LocalWrite { own_head: head });
        Ok(true)
    }

    /// What the session did so far.
    pub fn report(&self) -> SyncReport {
        self.report.clone()
    }

    /// Hands every queued event to the engine and carries out its effects on the
    /// store, the frames to send going to `outbox` in order; makes a checkpoint
    /// when one is due; then the status.
    pub fn run(&mut self, store: &mut Store, outbox: &mut Vec<Vec<u8>>) -> anyhow::Result<Round> {
        let mut applied = 0u64;
        loop {
            applied += self.handle_queue(store, outbox)?;
            // Up to date with a checkpoint due: make it, and hand it over.
            if !self.checkpoint_due(store)? {
                break;
            }
            self.make_checkpoint(store)?;
            if self.queue.is_empty() {
                break;
            }
        }
        self.maybe_rotate(store)?;
        applied += self.handle_queue(store, outbox)?;
        self.report.received += applied;
        if self.engine.is_up_to_date() {
            if let Some(mut request) = self.device_request.take() {
                if let ClientMessage::ListDevices { cursors } = &mut request {
                    // How far this device has applied the others, as of now.
                    *cursors = store
                        .cursors()?
                        .into_iter()
                        .filter_map(|(device, seq)| {
                            Some(aftercall_shared::protocol::Cursor {
                                device: DeviceId::new(&device).ok()?,
                                seq,
                            })
                        })
                        .collect();
                }
                outbox.push(request.encode());
            }
        }
        self.round(store, applied)
    }

    /// Hands every queued event to the engine and carries out its effects; returns
    /// how many entries were applied.
    fn handle_queue(
        &mut self,
        store: &mut Store,
        outbox: &mut Vec<Vec<u8>>,
    ) -> anyhow::Result<u64> {
        let mut applied = 0u64;
        while let Some(event) = self.queue.pop_front() {
            // Entries to apply are gathered and applied together (a catch-up page is
            // one transaction) before any other effect is carried out.
            let mut to_apply = Vec::new();
            for effect in self.engine.handle(event) {
                if let Effect::Apply(entry) = effect {
                    to_apply.push(entry);
                    continue;
                }
                applied += self.apply(store, &mut to_apply)?;
                self.perform(store, effect, outbox)?;
            }
            applied += self.apply(store, &mut to_apply)?;
        }
        Ok(applied)
    }

    /// The status after a round. Up to date, the time is recorded and the store's
    /// log folded.
    fn round(&mut self, store: &mut Store, applied: u64) -> anyhow::Result<Round> {
        // A re-key asked for is not done until the relay says it is committed.
        let up_to_date = self.engine.is_up_to_date() && self.rotation.is_none();
        if up_to_date {
            let now = store.now().timestamp_millis();
            SyncSettings::of(store).set_last_synced_at(now)?;
            // Caught up: a quiet moment to fold what was applied into the main file.
            store.checkpoint()?;
        }
        let mut status = stored_status(store, true);
        status.state = if up_to_date {
            ConnState::UpToDate
        } else {
            ConnState::Syncing
        };
        status.pending_upload = self.engine.pending_upload();
        status.attachments = self.engine.blob_progress().map(AttachmentTransfer::from);
        status.attachment_problem.clone_from(&self.blob_problem);
        Ok(Round {
            applied,
            up_to_date,
            status,
        })
    }

    /// Applies the gathered entries (see [`apply_entries`]).
    fn apply(&mut self, store: &mut Store, to_apply: &mut Vec<OpenEntry>) -> anyhow::Result<u64> {
        apply_entries(store, to_apply, &mut self.queue, &mut self.report)
    }

    /// Carries out one effect other than [`Effect::Apply`]; what it reads from the
    /// store goes back to the engine through the queue.
    fn perform(
        &mut self,
        store: &mut Store,
        effect: Effect,
        outbox: &mut Vec<Vec<u8>>,
    ) -> anyhow::Result<()> {
        match effect {
            Effect::Send(frame) => outbox.push(frame),
            Effect::Apply(_) => unreachable!("gathered by run"),
            Effect::Quarantine { entry, reason } => {
                tracing::warn!(device = %entry.device, seq = entry.seq, %reason, "entry quarantined");
                store.quarantine_entry(
                    entry.device.as_str(),
                    entry.seq,
                    &reason.to_string(),
                    &entry.sealed,
                )?;
                self.report.quarantined += 1;
            }
            Effect::ReadOwnLog { after, limit } => {
                self.queue
                    .push_back(Event::OwnEntries(store.own_log_after(after, limit)?));
            }
            Effect::ReadOwnEntries { purpose, seqs } => {
                if purpose == OwnRead::Repair {
                    tracing::warn!(
                        count = seqs.len(),
                        "the relay found entries of this device damaged; sending them again"
                    );
                }
                self.queue.push_back(Event::OwnEntriesAt {
                    purpose,
                    entries: store.own_log_at(&seqs)?,
                });
            }
            Effect::SplitOwnLog { from } => {
                let own_head = store.split_own_log_from(from)?;
                tracing::warn!(
                    from,
                    own_head,
                    "own entries too large for the relay were split"
                );
                self.own_head = own_head;
                self.queue.push_back(Event::OwnLogSplit { own_head });
            }
            Effect::Rehome { common } => {
                let new_device = store.rehome(common, SyncSettings::CLEARED_ON_REHOME)?;
                return Err(Rehomed { new_device }.into());
            }
            Effect::Acknowledged { up_to } => {
                let first = *self.first_ack.get_or_insert(up_to);
                self.report.uploaded = up_to.saturating_sub(first);
                SyncSettings::of(store).set_acked(up_to)?;
            }
            Effect::CaughtUp => self.reached_live = true,
            Effect::LoadCheckpoint(checkpoint) => self.load_checkpoint(store, checkpoint)?,
            Effect::RejectCheckpoint { checkpoint, fault } => {
                tracing::warn!(%checkpoint, %fault, "the relay's checkpoint was rejected");
                SyncSettings::of(store).set_rejected_checkpoint(checkpoint)?;
                self.report.checkpoint_rejected = Some(checkpoint);
            }
            Effect::CheckpointStored {
                checkpoint,
                chunks,
                bytes,
            } => {
                let (documents, entries) = self.checkpoint_sent.take().unwrap_or_default();
                self.checkpoint_asked = false;
                self.checkpoint_wanted = false;
                SyncSettings::of(store).set_checkpoint(
                    entries,
                    &LastCheckpoint {
                        way: CheckpointWay::Made,
                        at: store.now().timestamp_millis(),
                        documents,
                    },
                )?;
                tracing::info!(%checkpoint, documents, chunks, bytes, "checkpoint uploaded");
                self.report.checkpoint_uploaded = Some(CheckpointReport {
                    id: checkpoint,
                    documents,
                    entries,
                    chunks,
                    bytes,
                });
            }
            Effect::Devices(DeviceAnswer::RotationBegun { to, devices }) => {
                self.commit_rotation(to, devices, outbox)?;
            }
            Effect::Devices(DeviceAnswer::RotationCommitted(to)) => {
                let new = self
                    .rotation
                    .take()
                    .map(|pending| pending.secret)
                    .filter(|new| new.keys().account == to)
                    .context("the relay committed a rotation this device did not ask for")?;
                tracing::info!(%to, "account re-keyed");
                self.report.rotated_to = Some(to);
                SyncSettings::of(store).moved_to_new_account()?;
                return Err(MovedAccount {
                    secret: new,
                    rotated_here: true,
                    left_out: self.report.left_out.clone(),
                }
                .into());
            }
            Effect::CheckpointRefused {
                checkpoint,
                refusal,
            } => {
                self.checkpoint_sent = None;
                self.checkpoint_asked = false;
                self.checkpoint_wanted = false;
                let since = self.entries_since_checkpoint(store)?;
                let at = store.now().timestamp_millis();
                SyncSettings::of(store)
                    .set_checkpoint_refused(&CheckpointRefusal::new(&refusal, at, since))?;
                self.report.checkpoint_refused = Some((checkpoint, refusal));
            }
            Effect::Devices(answer) => self.report.devices = Some(answer),
            Effect::Moved { to, wrapped } => {
                let new = unwrap_secret(&self.keys, &self.device, &self.own, &to, &wrapped)
                    .context("the relay says this account moved to a new key")?;
                tracing::info!(%to, "the account moved to a new key");
                SyncSettings::of(store).moved_to_new_account()?;
                return Err(MovedAccount {
                    secret: new,
                    rotated_here: false,
                    left_out: Vec::new(),
                }
                .into());
            }
            Effect::ListBlobs => self.queue.push_back(Event::BlobLists {
                uploads: store.blobs_to_upload()?,
                downloads: store.blobs_missing(AUTO_DOWNLOAD_MAX)?,
            }),
            Effect::ReadBlob { hash } => {
                // A stored copy found damaged is not sent: the relay gets it from
                // another device.
                let content = match store.blob(&hash) {
                    Ok(content) => content,
                    Err(e @ Error::Store(_)) => return Err(e.into()),
                    Err(e) => {
                        tracing::warn!(%hash, error = %e, "attachment content not uploaded");
                        None
                    }
                };
                self.queue.push_back(Event::BlobContent { hash, content });
            }
            Effect::BlobUploaded { hash } => {
                store.mark_blob_uploaded(&hash)?;
                self.report.blobs_uploaded += 1;
            }
            Effect::StoreBlob { hash, content } => {
                store.put_blob(&hash, &content)?;
                self.report.blobs_downloaded += 1;
            }
            Effect::BlobRefused { hash, refusal } => {
                tracing::warn!(%hash, %refusal, "the relay refused an attachment");
                // Not on the relay yet (the device that attached it has not synced
                // since): it waits, not downloaded yet, rather than a problem.
                if refusal.code != RefusalCode::BlobNotFound {
                    self.blob_problem =
                        Some(format!("An attachment was not synced: {}", refusal.message));
                }
                self.report.blobs_refused.push((hash, refusal));
            }
            Effect::BlobRejected { hash, fault } => {
                tracing::warn!(%hash, %fault, "an attachment from the relay was rejected");
                self.blob_problem = Some(format!(
                    "An attachment from the relay was rejected and is fetched again: {fault}"
                ));
                self.report.blobs_rejected.push((hash, fault));
            }
            Effect::Failed(SyncError::WrongKey) => return Err(SyncError::WrongKey.into()),
            Effect::Failed(e) => return Err(e.into()),
        }
        Ok(())
    }
}

impl SessionCore {
    /// Loads a checkpoint from the relay into the store. One that does not parse or
    /// whose documents do not load changes nothing and goes back to the engine as
    /// failed; a failure of the store itself ends the session.
    fn load_checkpoint(
        &mut self,
        store: &mut Store,
        checkpoint: OpenCheckpoint,
    ) -> anyhow::Result<()> {
        let covers: Vec<(String, u64)> = checkpoint
            .covers
            .iter()
            .map(|c| (c.device.as_str().to_string(), c.seq))
            .collect();
        match store.load_account_snapshot(&covers, &checkpoint.body) {
            Ok(loaded) => {
                let documents = loaded.documents;
                let entries = entries_in(covers.iter().map(|(_, seq)| seq));
                SyncSettings::of(store).set_checkpoint(
                    entries,
                    &LastCheckpoint {
                        way: CheckpointWay::Loaded,
                        at: store.now().timestamp_millis(),
                        documents,
                    },
                )?;
                tracing::info!(checkpoint = %checkpoint.id, documents, read_model = ?loaded.read_model, "checkpoint loaded");
                self.report.checkpoint_loaded = Some(CheckpointReport {
                    id: checkpoint.id,
                    documents,
                    entries,
                    chunks: 0,
                    bytes: 0,
                });
            }
            Err(e @ Error::Store(_)) => {
                return Err(e).context("cannot save the checkpoint from the relay")
            }
            Err(e) => self.queue.push_back(Event::CheckpointLoadFailed {
                checkpoint: checkpoint.id,
                reason: e.to_string(),
            }),
        }
        Ok(())
    }
}

/// Applies the entries the engine handed over in one transaction. Any that cannot be
/// applied are quarantined and the engine is told, so everything else keeps syncing.
/// Returns how many were applied (re-deliveries are not counted).
fn apply_entries(
    store: &mut Store,
    to_apply: &mut Vec<OpenEntry>,
    queue: &mut VecDeque<Event>,
    report: &mut SyncReport,
) -> anyhow::Result<u64> {
    if to_apply.is_empty() {
        return Ok(0);
    }
    let results = {
        let entries: Vec<RemoteEntry<'_>> = to_apply
            .iter()
            .map(|e| RemoteEntry {
                device: e.device.as_str(),
                seq: e.seq,
                plaintext: &e.plaintext,
            })
            .collect();
        store
            .apply_remote_entries(&entries)
            .context("cannot save entries from the relay")?
    };
    let mut applied = 0;
    for (entry, result) in to_apply.drain(..).zip(results) {
        match result {
            Ok(true) => applied += 1,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(device = %entry.device, seq = entry.seq, error = %e, "entry quarantined");
                store.quarantine_entry(
                    entry.device.as_str(),
                    entry.seq,
                    &format!("cannot be applied: {e}"),
                    &[],
                )?;
                report.quarantined += 1;
                queue.push_back(Event::ApplyFailed {
                    device: entry.device,
                    seq: entry.seq,
                });
            }
        }
    }
    Ok(applied)
}
