//! The engine's state and its one entry point, [`Engine::handle`].

use std::collections::{BTreeMap, HashMap, HashSet};

use super::SyncError;
use crate::crypto::{open, seal, AccountKeys, OpenEntry};
use crate::env::Entropy;
use crate::protocol::{
    ClientMessage, Cursor, DeviceId, SealedEntry, ServerMessage, MAX_ENTRIES_PER_FRAME, MAX_FRAME,
};
use crate::LogEntry;

/// How many own entries are read and uploaded per page.
pub const PUSH_PAGE: usize = 256;

/// How many early (out-of-order) entries are held waiting for the ones before them.
const MAX_HELD: usize = 16_384;

/// Something that happened, for the engine to decide on.
#[derive(Debug)]
pub enum Event {
    /// The websocket is open. `cursors` and `own_head` are read from the store.
    Connected {
        cursors: Vec<(String, u64)>,
        own_head: u64,
    },
    /// A frame arrived from the relay.
    Frame(Vec<u8>),
    /// The device wrote locally; its own log now ends at `own_head`.
    LocalWrite { own_head: u64 },
    /// The own-log entries asked for by [`Effect::ReadOwnLog`], as `(seq, payload)`.
    OwnEntries(Vec<(u64, Vec<u8>)>),
    /// The store could not apply an entry the engine passed as sound; it was
    /// quarantined, and later entries of that device wait behind it.
    ApplyFailed { device: DeviceId, seq: u64 },
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
    /// The relay has this device's log on disk up to `up_to`.
    Acknowledged { up_to: u64 },
    /// Every entry the relay held at connect time has been handled.
    CaughtUp,
    /// The session cannot continue.
    Failed(SyncError),
}

/// Where a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Disconnected,
    /// `Hello` sent, waiting for `Welcome`.
    Greeting,
    /// Receiving entries the device missed.
    CatchingUp,
    /// Caught up; entries arrive as they are written.
    Live,
    /// The session failed; only a new connection starts over.
    Failed,
}

/// One device's sync state machine.
#[derive(Debug)]
pub struct Engine {
    keys: AccountKeys,
    device: DeviceId,
    create: bool,
    invite: Option<String>,
    must_prove_key: bool,
    phase: Phase,
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
}

impl Engine {
    /// An engine for `device` of the account `keys` belong to. `create` asks the
    /// relay to create the account if it has none (a new install); `must_prove_key`
    /// holds uploads until the key has opened the relay's data (a paired device).
    pub fn new(keys: AccountKeys, device: DeviceId, create: bool, must_prove_key: bool) -> Engine {
        Engine {
            keys,
            device,
            create,
            invite: None,
            must_prove_key,
            phase: Phase::Disconnected,
            cursors: HashMap::new(),
            blocked: HashSet::new(),
            held: HashMap::new(),
            held_count: 0,
            unproven_failures: Vec::new(),
            own_head: 0,
            relay_head: None,
            in_flight: None,
            reading: false,
        }
    }

    /// An invite code to send when the account is created on a closed relay.
    pub fn with_invite(mut self, invite: Option<String>) -> Engine {
        self.invite = invite;
        self
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

    /// Caught up with the relay and every own entry acknowledged.
    pub fn is_up_to_date(&self) -> bool {
        self.phase == Phase::Live && self.relay_head == Some(self.own_head)
    }

    /// Decides what to do about `event`. `entropy` supplies sealing nonces.
    pub fn handle(&mut self, event: Event, entropy: &mut dyn Entropy) -> Vec<Effect> {
        let mut out = Vec::new();
        if self.phase == Phase::Failed && !matches!(event, Event::Connected { .. }) {
            return out;
        }
        match event {
            Event::Connected { cursors, own_head } => self.connected(cursors, own_head, &mut out),
            Event::Frame(frame) => match ServerMessage::decode(&frame) {
                Ok(msg) => self.received(msg, &mut out),
                Err(e) => self.fail(SyncError::Protocol(e), &mut out),
            },
            Event::LocalWrite { own_head } => {
                self.own_head = self.own_head.max(own_head);
                self.maybe_upload(&mut out);
            }
            Event::OwnEntries(entries) => self.upload(entries, entropy, &mut out),
            Event::ApplyFailed { device, seq } => {
                self.cursors.insert(device.clone(), seq.saturating_sub(1));
                self.blocked.insert(device);
            }
            Event::Disconnected => {
                // Held entries come again from the relay on the next connection.
                self.held.clear();
                self.held_count = 0;
                self.phase = Phase::Disconnected;
                self.in_flight = None;
                self.reading = false;
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
        self.relay_head = None;
        self.in_flight = None;
        self.reading = false;
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
        };
        out.push(Effect::Send(hello.encode()));
    }

    fn received(&mut self, msg: ServerMessage, out: &mut Vec<Effect>) {
        match msg {
            ServerMessage::Welcome { own_head } => {
                if self.phase != Phase::Greeting {
                    return self.fail(SyncError::OutOfTurn("a welcome"), out);
                }
                if own_head > self.own_head {
                    return self.fail(
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
                out.push(Effect::Acknowledged { up_to: own_head });
                self.maybe_upload(out);
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
                out.push(Effect::CaughtUp);
                self.maybe_upload(out);
            }
            ServerMessage::Stored { up_to } => {
                self.relay_head = Some(self.relay_head.unwrap_or(0).max(up_to));
                if self.in_flight.is_some_and(|sent| sent <= up_to) {
                    self.in_flight = None;
                }
                out.push(Effect::Acknowledged { up_to });
                self.maybe_upload(out);
            }
            ServerMessage::Refused(refusal) => self.fail(SyncError::Refused(refusal), out),
        }
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
        if let Err(e) = LogEntry::decode_changes(&opened.plaintext) {
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
        if idle && !self.must_prove_key && relay_head < self.own_head {
            self.reading = true;
            out.push(Effect::ReadOwnLog {
                after: relay_head,
                limit: PUSH_PAGE,
            });
        }
    }

    fn upload(
        &mut self,
        entries: Vec<(u64, Vec<u8>)>,
        entropy: &mut dyn Entropy,
        out: &mut Vec<Effect>,
    ) {
        self.reading = false;
        if !matches!(self.phase, Phase::CatchingUp | Phase::Live) || entries.is_empty() {
            return;
        }
        let mut batch: Vec<SealedEntry> = Vec::new();
        let mut batch_bytes = 0;
        for (seq, plaintext) in entries {
            let mut nonce = [0u8; 24];
            entropy.fill(&mut nonce);
            let open = OpenEntry {
                device: self.device.clone(),
                seq,
                plaintext,
            };
            let sealed = seal(&self.keys, &open, nonce);
            let size = sealed.sealed.len() + 80;
            if !batch.is_empty()
                && (batch_bytes + size > MAX_FRAME / 2 || batch.len() >= MAX_ENTRIES_PER_FRAME)
            {
                out.push(Effect::Send(
                    ClientMessage::Push {
                        entries: std::mem::take(&mut batch),
                    }
                    .encode(),
                ));
                batch_bytes = 0;
            }
            self.in_flight = Some(seq);
            batch_bytes += size;
            batch.push(sealed);
        }
        if !batch.is_empty() {
            out.push(Effect::Send(
                ClientMessage::Push { entries: batch }.encode(),
            ));
        }
    }

    fn fail(&mut self, error: SyncError, out: &mut Vec<Effect>) {
        tracing::warn!(%error, "sync session failed");
        self.phase = Phase::Failed;
        out.push(Effect::Failed(error));
    }
}
