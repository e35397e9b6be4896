//! The sync settings a device keeps in its store's local (never synced) settings.

use aftercall_shared::crypto::{AccountSecret, DeviceName, DeviceSecret};
use aftercall_shared::protocol::{CheckpointId, DeviceId, Refusal, RefusalCode};
use aftercall_shared::{Result, Store};

/// Entries written or applied since the last checkpoint after which a device makes
/// a new one by itself: a new device then replays at most about this many entries
/// after loading the checkpoint. Counted in entries rather than bytes because an
/// entry's cost on a new device (opening, applying, the read model) is mostly per
/// entry.
pub const CHECKPOINT_EVERY: u64 = 10_000;

/// The keys as stored. Existing data folders hold these spellings: never change them.
mod key {
    /// The relay's websocket address.
    pub const RELAY: &str = "sync.relay";
    /// "1" while this device may create the account on the relay (set by init).
    pub const CREATE: &str = "sync.create";
    /// An invite code for a relay with closed registration.
    pub const INVITE: &str = "sync.invite";
    /// How far the relay has acknowledged this device's own log.
    pub const ACKED: &str = "sync.acked";
    /// When the device was last up to date (ms since the epoch).
    pub const LAST_SYNCED: &str = "sync.last_synced_at";
    /// Entries (own and applied) the newest checkpoint this device made or loaded
    /// holds: the sum of its cursors.
    pub const CHECKPOINT_MARK: &str = "sync.checkpoint_mark";
    /// The newest checkpoint this device made or loaded, for the Sync screen:
    /// `made|loaded AT-MS DOCUMENTS`.
    pub const LAST_CHECKPOINT: &str = "sync.last_checkpoint";
    /// Entries past the mark after which the device makes a checkpoint by itself.
    pub const CHECKPOINT_EVERY: &str = "sync.checkpoint_every";
    /// Seconds without an entry after which a desktop on power makes a checkpoint.
    #[cfg(not(target_arch = "wasm32"))]
    pub const IDLE_CHECKPOINT_AFTER: &str = "sync.idle_checkpoint_after";
    /// A checkpoint from the relay this device rejected (its id in hex).
    pub const REJECTED_CHECKPOINT: &str = "sync.rejected_checkpoint";
    /// The relay's last refusal of a checkpoint this device uploaded, until one is
    /// made or loaded: `AT-MS RETRY-AT-MS RETRY-ENTRIES MESSAGE`.
    pub const CHECKPOINT_REFUSED: &str = "sync.checkpoint_refused";
    /// This device's own secret (hex), from which its relay credential is derived.
    pub const DEVICE_SECRET: &str = "sync.device_secret";
    /// This device's name, as given at init or pairing (sent to the relay sealed).
    pub const DEVICE_NAME: &str = "sync.device_name";
    /// The new account secret (hex) of a re-key begun on this device and not yet
    /// committed: kept so a rotation cut short resumes with the same secret.
    pub const ROTATION: &str = "sync.rotation";
    /// The account secret (hex) in the browser, where there is no `account.key` file.
    #[cfg(target_arch = "wasm32")]
    pub const SECRET: &str = "sync.secret";
}

/// How a device came by its newest checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckpointWay {
    /// It made it and the relay stored it.
    Made,
    /// It loaded it from the relay.
    Loaded,
}

/// The newest checkpoint a device made or loaded.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LastCheckpoint {
    pub way: CheckpointWay,
    /// When, in ms since the epoch.
    pub at: i64,
    /// How many records it held.
    pub documents: usize,
}

impl std::fmt::Display for LastCheckpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let way = match self.way {
            CheckpointWay::Made => "made",
            CheckpointWay::Loaded => "loaded",
        };
        write!(f, "{way} {} {}", self.at, self.documents)
    }
}

impl std::str::FromStr for LastCheckpoint {
    type Err = ();

    fn from_str(s: &str) -> std::result::Result<Self, ()> {
        let mut parts = s.split(' ');
        let way = match parts.next() {
            Some("made") => CheckpointWay::Made,
            Some("loaded") => CheckpointWay::Loaded,
            _ => return Err(()),
        };
        let at = parts.next().and_then(|p| p.parse().ok()).ok_or(())?;
        let documents = parts.next().and_then(|p| p.parse().ok()).ok_or(())?;
        Ok(LastCheckpoint { way, at, documents })
    }
}

/// How long automatic checkpoints wait after the relay refused one as too large,
/// unless the entries since the last checkpoint double first: the checkpoint only
/// grows, so trying again soon would send it in vain (the relay's operator may
/// raise the limit meanwhile).
pub const RETRY_TOO_LARGE_AFTER_MS: i64 = 24 * 3600 * 1000;
/// How long automatic checkpoints wait after any other refusal (begun too soon
/// after the account's last one: the relay's interval is minutes).
pub const RETRY_REFUSED_AFTER_MS: i64 = 15 * 60 * 1000;

/// The relay's last refusal of a checkpoint this device uploaded. Automatic
/// checkpoints (the threshold, the idle desktop's) wait until `retry_at` or until
/// the entries since the last checkpoint reach `retry_entries`, twice what they
/// were at the refusal, whichever comes first; `aftercall checkpoint` does not
/// wait. Kept in the store's settings, so a restarted app or a new session does
/// not send the refused checkpoint again at once.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CheckpointRefusal {
    /// When, in ms since the epoch.
    pub at: i64,
    /// Automatic checkpoints wait until then (ms since the epoch)…
    pub retry_at: i64,
    /// …or until this many entries since the last checkpoint.
    pub retry_entries: u64,
    /// What the relay said.
    pub message: String,
}

impl CheckpointRefusal {
    /// A refusal at `at` (ms) with `since` entries since the last checkpoint.
    pub fn new(refusal: &Refusal, at: i64, since: u64) -> CheckpointRefusal {
        let wait = match refusal.code {
            RefusalCode::CheckpointTooLarge => RETRY_TOO_LARGE_AFTER_MS,
            _ => RETRY_REFUSED_AFTER_MS,
        };
        CheckpointRefusal {
            at,
            retry_at: at.saturating_add(wait),
            retry_entries: since.saturating_mul(2).max(1),
            message: refusal.message.clone(),
        }
    }

    /// Whether it still holds automatic checkpoints back at `now` (ms) with
    /// `since` entries since the last checkpoint.
    pub fn holds_back(&self, now: i64, since: u64) -> bool {
        now < self.retry_at && since < self.retry_entries
    }
}

impl std::fmt::Display for CheckpointRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {} {}",
            self.at, self.retry_at, self.retry_entries, self.message
        )
    }
}

impl std::str::FromStr for CheckpointRefusal {
    type Err = ();

    fn from_str(s: &str) -> std::result::Result<Self, ()> {
        let mut parts = s.splitn(4, ' ');
        let mut number = || parts.next().and_then(|p| p.parse::<i64>().ok()).ok_or(());
        let at = number()?;
        let retry_at = number()?;
        let retry_entries = u64::try_from(number()?).map_err(|_| ())?;
        let message = parts.next().unwrap_or_default().to_string();
        Ok(CheckpointRefusal {
            at,
            retry_at,
            retry_entries,
            message,
        })
    }
}

/// A re-key begun on this device: the account's new secret, and the device it
/// removes, which is never sent the new secret (even if its removal did not reach
/// the relay before the re-key was cut short).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingRotation {
    pub secret: AccountSecret,
    pub removing: Option<DeviceId>,
}

/// This device's sync settings, read from and written to its store.
#[derive(Clone, Copy)]
pub(crate) struct SyncSettings<'a> {
    store: &'a Store,
}

impl<'a> SyncSettings<'a> {
    /// What a re-homed device forgets with its old id: how far the relay had
    /// acknowledged the old id's log.
    pub const CLEARED_ON_REHOME: &'static [&'static str] = &[key::ACKED];

    /// The sync settings of `store`.
    pub fn of(store: &'a Store) -> Self {
        SyncSettings { store }
    }

    /// The relay's websocket address, if one is set.
    pub fn relay(&self) -> Result<Option<String>> {
        self.store.setting(key::RELAY)
    }

    pub fn set_relay(&self, relay: &str) -> Result<()> {
        self.store.set_setting(key::RELAY, Some(relay))
    }

    /// Whether this device may create the account on the relay (a new account not
    /// yet there).
    pub fn create_account(&self) -> Result<bool> {
        Ok(self.store.setting(key::CREATE)?.as_deref() == Some("1"))
    }

    pub fn set_create_account(&self, create: bool) -> Result<()> {
        self.store.set_setting(key::CREATE, create.then_some("1"))
    }

    /// The invite code for a relay with closed registration, if one was given.
    pub fn invite(&self) -> Result<Option<String>> {
        self.store.setting(key::INVITE)
    }

    pub fn set_invite(&self, code: &str) -> Result<()> {
        self.store.set_setting(key::INVITE, Some(code))
    }

    /// A setting read as `T`; unset or unreadable is `None`.
    fn parsed<T: std::str::FromStr>(&self, key: &str) -> Result<Option<T>> {
        Ok(self.store.setting(key)?.and_then(|v| v.parse().ok()))
    }

    /// How far the relay has acknowledged this device's own log (0 before it has).
    pub fn acked(&self) -> Result<u64> {
        Ok(self.parsed(key::ACKED)?.unwrap_or(0))
    }

    pub fn set_acked(&self, up_to: u64) -> Result<()> {
        self.store.set_setting(key::ACKED, Some(&up_to.to_string()))
    }

    /// When the device was last up to date with the relay (ms since the epoch).
    pub fn last_synced_at(&self) -> Result<Option<i64>> {
        self.parsed(key::LAST_SYNCED)
    }

    pub fn set_last_synced_at(&self, millis: i64) -> Result<()> {
        self.store
            .set_setting(key::LAST_SYNCED, Some(&millis.to_string()))
    }

    /// Entries the newest checkpoint this device made or loaded holds.
    pub fn checkpoint_mark(&self) -> Result<u64> {
        Ok(self.parsed(key::CHECKPOINT_MARK)?.unwrap_or(0))
    }

    /// Records a checkpoint this device made or loaded: the entries it holds
    /// (the mark the next one is counted from), and what the Sync screen says; a
    /// refusal recorded before no longer holds anything back.
    pub fn set_checkpoint(&self, entries: u64, last: &LastCheckpoint) -> Result<()> {
        self.store
            .set_setting(key::CHECKPOINT_MARK, Some(&entries.to_string()))?;
        self.store.set_setting(key::CHECKPOINT_REFUSED, None)?;
        self.store
            .set_setting(key::LAST_CHECKPOINT, Some(&last.to_string()))
    }

    /// The relay's last refusal of a checkpoint from this device, until one is
    /// made or loaded.
    pub fn checkpoint_refused(&self) -> Result<Option<CheckpointRefusal>> {
        self.parsed(key::CHECKPOINT_REFUSED)
    }

    pub fn set_checkpoint_refused(&self, refusal: &CheckpointRefusal) -> Result<()> {
        self.store
            .set_setting(key::CHECKPOINT_REFUSED, Some(&refusal.to_string()))
    }

    /// The newest checkpoint this device made or loaded, if any.
    pub fn last_checkpoint(&self) -> Result<Option<LastCheckpoint>> {
        self.parsed(key::LAST_CHECKPOINT)
    }

    /// Entries past the mark after which the device makes a checkpoint by itself
    /// ([`CHECKPOINT_EVERY`] unless set).
    pub fn checkpoint_every(&self) -> Result<u64> {
        Ok(self
            .parsed(key::CHECKPOINT_EVERY)?
            .unwrap_or(CHECKPOINT_EVERY))
    }

    #[cfg(not(target_arch = "wasm32"))]
    pub fn set_checkpoint_every(&self, entries: u64) -> Result<()> {
        self.store
            .set_setting(key::CHECKPOINT_EVERY, Some(&entries.to_string()))
    }

    /// How long a background session waits without an entry before a desktop on
    /// power makes a checkpoint ([`IDLE_AFTER`](super::idle::IDLE_AFTER) unless set).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn idle_checkpoint_after(&self) -> Result<std::time::Duration> {
        Ok(self
            .parsed(key::IDLE_CHECKPOINT_AFTER)?
            .map(std::time::Duration::from_secs)
            .unwrap_or(super::idle::IDLE_AFTER))
    }

    #[cfg(not(target_arch = "wasm32"))]
    pub fn set_idle_checkpoint_after(&self, after: std::time::Duration) -> Result<()> {
        self.store.set_setting(
            key::IDLE_CHECKPOINT_AFTER,
            Some(&after.as_secs().to_string()),
        )
    }

    /// The relay's checkpoint this device rejected, if any.
    pub fn rejected_checkpoint(&self) -> Result<Option<CheckpointId>> {
        self.parsed(key::REJECTED_CHECKPOINT)
    }

    pub fn set_rejected_checkpoint(&self, id: CheckpointId) -> Result<()> {
        self.store
            .set_setting(key::REJECTED_CHECKPOINT, Some(&id.to_hex()))
    }

    /// This device's own secret, if it has one yet.
    pub fn device_secret(&self) -> anyhow::Result<Option<DeviceSecret>> {
        Ok(self
            .store
            .setting(key::DEVICE_SECRET)?
            .map(|hex| DeviceSecret::from_hex(&hex))
            .transpose()?)
    }

    pub fn set_device_secret(&self, secret: &DeviceSecret) -> Result<()> {
        self.store
            .set_setting(key::DEVICE_SECRET, Some(&secret.to_hex()))
    }

    /// The name this device was given, if any (an unreadable one counts as none).
    pub fn device_name(&self) -> Result<Option<DeviceName>> {
        Ok(self
            .store
            .setting(key::DEVICE_NAME)?
            .and_then(|n| DeviceName::new(&n).ok()))
    }

    pub fn set_device_name(&self, name: &DeviceName) -> Result<()> {
        self.store
            .set_setting(key::DEVICE_NAME, Some(name.as_str()))
    }

    /// Records a new account on this device: it may create the account on `relay`
    /// (when one is given) at the first sync, with `invite` where registration is
    /// closed.
    pub fn begin_account(&self, relay: Option<&str>, invite: Option<&str>) -> Result<()> {
        self.set_create_account(true)?;
        if let Some(relay) = relay {
            self.set_relay(relay)?;
        }
        if let Some(code) = invite {
            self.set_invite(code)?;
        }
        Ok(())
    }

    /// Records that this device joined an existing account on `relay`.
    pub fn paired(&self, relay: &str) -> Result<()> {
        self.set_relay(relay)?;
        self.set_create_account(false)
    }

    /// The re-key begun here and not finished, if any.
    pub fn rotation(&self) -> anyhow::Result<Option<PendingRotation>> {
        let Some(text) = self.store.setting(key::ROTATION)? else {
            return Ok(None);
        };
        let mut parts = text.split(' ');
        let secret = AccountSecret::from_hex(parts.next().unwrap_or_default())?;
        let removing = parts.next().map(DeviceId::new).transpose()?;
        Ok(Some(PendingRotation { secret, removing }))
    }

    /// The re-key begun here, or a new one (a fresh secret, removing `removing`)
    /// kept before it is returned, so it resumes however it is cut short.
    pub fn rotation_or_begin(&self, removing: Option<DeviceId>) -> anyhow::Result<PendingRotation> {
        if let Some(pending) = self.rotation()? {
            return Ok(pending);
        }
        let new = PendingRotation {
            secret: AccountSecret::generate(&mut crate::system::OsEntropy),
            removing,
        };
        self.set_rotation(Some(&new))?;
        Ok(new)
    }

    pub fn set_rotation(&self, pending: Option<&PendingRotation>) -> Result<()> {
        let text = pending.map(|p| match &p.removing {
            Some(device) => format!("{} {device}", p.secret.to_hex()),
            None => p.secret.to_hex(),
        });
        self.store.set_setting(key::ROTATION, text.as_deref())
    }

    /// The account moved to a new secret: what the relay had of the old one is
    /// forgotten (how far it acknowledged this device's log, a checkpoint rejected
    /// there, that this device may create it), and every attachment here is to be
    /// uploaded again, sealed under the new keys. Cursors and the own log stay:
    /// every device keeps its id and its numbering on the new account.
    pub fn moved_to_new_account(&self) -> Result<()> {
        for k in [key::ACKED, key::REJECTED_CHECKPOINT, key::CREATE] {
            self.store.set_setting(k, None)?;
        }
        self.store.mark_blobs_not_uploaded()
    }

    /// The account secret kept in the store (the browser's way).
    #[cfg(target_arch = "wasm32")]
    pub fn secret(&self) -> anyhow::Result<Option<AccountSecret>> {
        self.store
            .setting(key::SECRET)?
            .map(|hex| AccountSecret::from_hex(&hex))
            .transpose()
            .map_err(Into::into)
    }

    #[cfg(target_arch = "wasm32")]
    pub fn set_secret(&self, secret: &AccountSecret) -> Result<()> {
        self.store.set_setting(key::SECRET, Some(&secret.to_hex()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_checkpoint_reads_back_and_a_damaged_note_is_none() {
        let made = LastCheckpoint {
            way: CheckpointWay::Made,
            at: 1_796_000_000_000,
            documents: 38,
        };
        assert_eq!(made.to_string(), "made 1796000000000 38");
        assert_eq!(made.to_string().parse(), Ok(made.clone()));
        let loaded: LastCheckpoint = "loaded 5 1".parse().unwrap();
        assert_eq!(loaded.way, CheckpointWay::Loaded);
        for bad in ["", "made", "made x 1", "made 1", "kept 1 2", "loaded 1 -2"] {
            assert_eq!(bad.parse::<LastCheckpoint>(), Err(()), "{bad}");
        }
        let status = crate::sync::SyncStatus {
            last_checkpoint: Some(loaded),
            ..crate::sync::SyncStatus::no_account()
        };
        assert_eq!(
            status.checkpoint_words(|at| format!("at {at}")).as_deref(),
            Some("Started from a checkpoint at 5 (1 record)")
        );
        let status = crate::sync::SyncStatus {
            last_checkpoint: Some(made),
            ..status
        };
        assert_eq!(
            status.checkpoint_words(|_| "today".into()).as_deref(),
            Some("Checkpoint made today (38 records)")
        );
        assert_eq!(
            crate::sync::SyncStatus::no_account().checkpoint_words(|_| String::new()),
            None
        );
    }

    #[test]
    fn a_checkpoint_refusal_holds_automatic_ones_back_until_the_tail_doubles_or_time_passes() {
        let refusal = |code| Refusal {
            code,
            message: "over the limit of 5 bytes".into(),
        };
        let too_large =
            CheckpointRefusal::new(&refusal(RefusalCode::CheckpointTooLarge), 1_000, 600);
        assert_eq!(too_large.retry_entries, 1_200);
        assert!(too_large.holds_back(1_000, 600));
        assert!(too_large.holds_back(1_000 + RETRY_TOO_LARGE_AFTER_MS - 1, 1_199));
        assert!(!too_large.holds_back(1_000, 1_200), "the tail doubled");
        assert!(
            !too_large.holds_back(1_000 + RETRY_TOO_LARGE_AFTER_MS, 600),
            "time passed"
        );
        let too_soon = CheckpointRefusal::new(&refusal(RefusalCode::RateLimited), 1_000, 600);
        assert!(too_soon.holds_back(1_000 + RETRY_REFUSED_AFTER_MS - 1, 600));
        assert!(!too_soon.holds_back(1_000 + RETRY_REFUSED_AFTER_MS, 600));
        // It reads back, message and all, and a damaged note is none.
        assert_eq!(too_large.to_string().parse(), Ok(too_large.clone()));
        for bad in ["", "1", "1 2", "x 2 3 m", "1 2 -3 m"] {
            assert_eq!(bad.parse::<CheckpointRefusal>(), Err(()), "{bad}");
        }
        // What the Sync screen and `aftercall status` say.
        let status = crate::sync::SyncStatus {
            checkpoint_refused: Some(too_large.clone()),
            ..crate::sync::SyncStatus::no_account()
        };
        assert_eq!(
            status
                .checkpoint_refused_words(|at| format!("at {at}"))
                .as_deref(),
            Some("The relay refused a checkpoint at 1000: over the limit of 5 bytes")
        );
        assert_eq!(
            crate::sync::SyncStatus::no_account().checkpoint_refused_words(|_| String::new()),
            None
        );
        // Kept until a checkpoint is made or loaded.
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let settings = SyncSettings::of(&store);
        settings.set_checkpoint_refused(&too_large).unwrap();
        assert_eq!(settings.checkpoint_refused().unwrap(), Some(too_large));
        let made = LastCheckpoint {
            way: CheckpointWay::Made,
            at: 5,
            documents: 1,
        };
        settings.set_checkpoint(9, &made).unwrap();
        assert_eq!(settings.checkpoint_refused().unwrap(), None);
    }

    fn store(dir: &std::path::Path) -> Store {
        crate::data::open_store(dir).unwrap()
    }

    #[test]
    fn sync_settings_keep_the_keys_and_spellings_older_data_folders_hold() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let settings = SyncSettings::of(&store);
        settings.set_relay("ws://relay.example/sync").unwrap();
        settings.set_create_account(true).unwrap();
        settings.set_invite("welcome").unwrap();
        settings.set_acked(42).unwrap();
        settings.set_last_synced_at(1_700_000_000_000).unwrap();
        let raw = |key: &str| store.setting(key).unwrap();
        assert_eq!(
            raw("sync.relay").as_deref(),
            Some("ws://relay.example/sync")
        );
        assert_eq!(raw("sync.create").as_deref(), Some("1"));
        assert_eq!(raw("sync.invite").as_deref(), Some("welcome"));
        assert_eq!(raw("sync.acked").as_deref(), Some("42"));
        assert_eq!(raw("sync.last_synced_at").as_deref(), Some("1700000000000"));
        settings.set_create_account(false).unwrap();
        assert_eq!(raw("sync.create"), None);
        assert_eq!(SyncSettings::CLEARED_ON_REHOME, ["sync.acked"]);
    }

    #[test]
    fn sync_settings_read_what_older_versions_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let settings = SyncSettings::of(&store);
        assert_eq!(settings.relay().unwrap(), None);
        assert!(!settings.create_account().unwrap());
        assert_eq!(settings.acked().unwrap(), 0);
        assert_eq!(settings.last_synced_at().unwrap(), None);
        store.set_setting("sync.create", Some("1")).unwrap();
        store.set_setting("sync.acked", Some("7")).unwrap();
        store
            .set_setting("sync.last_synced_at", Some("12"))
            .unwrap();
        store.set_setting("sync.invite", Some("code")).unwrap();
        assert!(settings.create_account().unwrap());
        assert_eq!(settings.acked().unwrap(), 7);
        assert_eq!(settings.last_synced_at().unwrap(), Some(12));
        assert_eq!(settings.invite().unwrap().as_deref(), Some("code"));
        store
            .set_setting("sync.acked", Some("not a number"))
            .unwrap();
        assert_eq!(settings.acked().unwrap(), 0);
    }
}
