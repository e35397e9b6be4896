//! One session's work against the store, with no IO of its own: the engine's
//! effects carried out on the store, the frames to send gathered in an outbox, and
//! the status the screens show. The desktop's websocket (`session`) and the phone
//! web app's (`browser`) each drive it from their own socket and timers.

use std::collections::VecDeque;

use aftercall_shared::crypto::OpenEntry;
use aftercall_shared::protocol::DeviceId;
use aftercall_shared::sync::{Effect, Engine, EngineOptions, Event, OwnRead, SyncError};
use aftercall_shared::{RemoteEntry, Store};
use anyhow::Context;

use super::account::Account;
use super::settings::SyncSettings;
use super::status::{stored_status, ConnState, SyncStatus};

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Entries of other devices applied here.
    pub received: u64,
    /// Own entries the relay acknowledged in this session.
    pub uploaded: u64,
    /// Entries set aside in this session.
    pub quarantined: u64,
}

impl SyncReport {
    /// Adds what another session did.
    pub fn add(&mut self, other: &SyncReport) {
        self.received += other.received;
        self.uploaded += other.uploaded;
        self.quarantined += other.quarantined;
    }
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
        let engine = Engine::new(
            account.secret.keys(),
            device,
            EngineOptions {
                create_account: account.create,
                invite: account.invite.clone(),
                must_prove_key,
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
        })
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
    /// store, the frames to send going to `outbox` in order; then the status. Up to
    /// date, the time is recorded and the store's log folded.
    pub fn run(&mut self, store: &mut Store, outbox: &mut Vec<Vec<u8>>) -> anyhow::Result<Round> {
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
        self.report.received += applied;

        let up_to_date = self.engine.is_up_to_date();
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
            Effect::Failed(SyncError::WrongKey) => return Err(SyncError::WrongKey.into()),
            Effect::Failed(e) => return Err(e.into()),
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
