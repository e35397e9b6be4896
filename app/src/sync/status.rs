//! What the UI shows about sync: connection state, entries waiting, last sync.

#[cfg(not(target_arch = "wasm32"))]
use std::path::Path;

use aftercall_shared::sync::{BlobDirection, BlobProgress};
use aftercall_shared::Store;

#[cfg(not(target_arch = "wasm32"))]
use super::account;
use super::settings::SyncSettings;

/// Where the connection to the relay stands.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ConnState {
    /// No account on this device yet: create one or pair.
    NoAccount,
    /// Not connected (no relay set, relay unreachable, or waiting to retry).
    Offline,
    Connecting,
    /// Connected, exchanging entries.
    Syncing,
    /// Connected; everything on the relay is here and everything here is on the relay.
    UpToDate,
    /// This device was removed from the account on another device: it no longer
    /// syncs (a fresh data folder paired with the recovery phrase syncs again).
    Removed,
    /// The account was re-keyed on another device and this one was not moved to the
    /// new key (it registered no wrap key, or its phrase is the old one): only
    /// pairing with the new recovery phrase syncs again.
    Rekeyed,
}

/// The honest sync status.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SyncStatus {
    pub state: ConnState,
    /// Own entries not yet acknowledged by the relay.
    pub pending_upload: u64,
    /// When the device was last up to date with the relay (ms since the epoch).
    pub last_synced_at: Option<i64>,
    /// The relay's address, as the device connects to it.
    pub relay: Option<String>,
    pub last_error: Option<String>,
    /// Entries from other devices set aside (gap, forged or unreadable).
    pub quarantined: u64,
    /// The attachment being uploaded or downloaded.
    #[serde(default)]
    pub attachments: Option<AttachmentTransfer>,
    /// The last attachment that could not be synced in this session, and why (over
    /// the relay's limits, tampered with on the relay).
    #[serde(default)]
    pub attachment_problem: Option<String>,
    /// The newest checkpoint this device made or loaded.
    #[serde(default)]
    pub last_checkpoint: Option<super::settings::LastCheckpoint>,
    /// The relay's refusal of a checkpoint from this device since then.
    #[serde(default)]
    pub checkpoint_refused: Option<super::settings::CheckpointRefusal>,
}

/// An attachment on its way, for the status.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AttachmentTransfer {
    pub direction: BlobDirection,
    /// Parts (of about 1 MB) done, of all.
    pub done: u32,
    pub parts: u32,
    /// Attachments waiting after this one.
    pub waiting: usize,
}

impl From<BlobProgress> for AttachmentTransfer {
    fn from(p: BlobProgress) -> Self {
        AttachmentTransfer {
            direction: p.direction,
            done: p.done_chunks,
            parts: p.chunks,
            waiting: p.waiting,
        }
    }
}

impl AttachmentTransfer {
    /// "Downloading an attachment: 3 of 10 parts (2 more waiting)".
    pub fn words(&self) -> String {
        let verb = match self.direction {
            BlobDirection::Upload => "Uploading",
            BlobDirection::Download => "Downloading",
        };
        let waiting = match self.waiting {
            0 => String::new(),
            n => format!(" ({n} more waiting)"),
        };
        format!(
            "{verb} an attachment: {} of {} parts{waiting}",
            self.done, self.parts
        )
    }
}

impl SyncStatus {
    /// A device with no account: nothing synced, nothing waiting.
    pub fn no_account() -> SyncStatus {
        SyncStatus {
            state: ConnState::NoAccount,
            pending_upload: 0,
            last_synced_at: None,
            relay: None,
            last_error: None,
            quarantined: 0,
            attachments: None,
            attachment_problem: None,
            last_checkpoint: None,
            checkpoint_refused: None,
        }
    }

    /// What the Sync screen and `aftercall status` say of a refused checkpoint.
    pub fn checkpoint_refused_words(&self, when: impl Fn(i64) -> String) -> Option<String> {
        let refused = self.checkpoint_refused.as_ref()?;
        Some(format!(
            "The relay refused a checkpoint {}: {}",
            when(refused.at),
            refused.message
        ))
    }

    /// What the Sync screen and `aftercall status` say of the newest checkpoint.
    pub fn checkpoint_words(&self, when: impl Fn(i64) -> String) -> Option<String> {
        let last = self.last_checkpoint.as_ref()?;
        let records = match last.documents {
            1 => "1 record".to_string(),
            n => format!("{n} records"),
        };
        Some(match last.way {
            super::settings::CheckpointWay::Made => {
                format!("Checkpoint made {} ({records})", when(last.at))
            }
            super::settings::CheckpointWay::Loaded => {
                format!("Started from a checkpoint {} ({records})", when(last.at))
            }
        })
    }
}

/// One device of the account.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeviceRow {
    /// Its id on the relay.
    pub id: String,
    /// Its name; `None` for a device that never gave one (an older version) or
    /// whose sealed name does not open.
    pub name: Option<String>,
    /// The device this list was made on.
    pub this_device: bool,
    /// When it last synced (seconds since 1970); `None`: never.
    pub last_seen: Option<u64>,
    /// Entries of the other devices it has not applied yet, as the relay knows.
    pub waiting: u64,
}

impl DeviceRow {
    /// The name, or the id for a device without one.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}

/// The status as stored, with `state` for a device that is not connected.
pub(crate) fn stored_status(store: &Store, has_account: bool) -> SyncStatus {
    let settings = SyncSettings::of(store);
    let acked = settings.acked().unwrap_or(0);
    let head = store.own_log_head().unwrap_or(0);
    SyncStatus {
        state: if has_account {
            ConnState::Offline
        } else {
            ConnState::NoAccount
        },
        pending_upload: head.saturating_sub(acked),
        last_synced_at: settings.last_synced_at().ok().flatten(),
        relay: settings.relay().ok().flatten(),
        last_error: None,
        quarantined: store.quarantined_count().unwrap_or(0),
        attachments: None,
        attachment_problem: None,
        last_checkpoint: settings.last_checkpoint().ok().flatten(),
        checkpoint_refused: settings.checkpoint_refused().ok().flatten(),
    }
}

/// The status of the device in `data_dir` as last recorded (for `aftercall status`).
#[cfg(not(target_arch = "wasm32"))]
pub fn read_status(data_dir: &Path) -> anyhow::Result<SyncStatus> {
    let store = crate::data::open_store(data_dir)?;
    Ok(stored_status(
        &store,
        account::load_secret(data_dir)?.is_some(),
    ))
}
