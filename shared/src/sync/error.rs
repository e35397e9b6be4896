//! Why a sync session ended.

use crate::crypto::CheckpointFault;
use crate::protocol::{ProtocolError, Refusal, RefusalCode};

/// A session that cannot go on; the driver reconnects later (or, for
/// [`SyncError::WrongKey`] and [`SyncError::Refused`], tells the user).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    #[error("the relay refused: {0}")]
    Refused(Refusal),
    #[error("the relay sent a frame this app cannot read: {0}")]
    Protocol(#[from] ProtocolError),
    #[error("this recovery phrase does not open the account's data on the relay; nothing was uploaded — check the phrase on the first device")]
    WrongKey,
    #[error("the relay holds entries {relay} of this device's log but the device has only {local}: this data folder was copied or restored from an old backup; it continues as a new device and sends its changes again")]
    RelayAhead { relay: u64, local: u64 },
    #[error("entry {seq} of this device's log on the relay was written by another copy of this data folder; it continues as a new device and sends its changes again")]
    Diverged { seq: u64 },
    #[error("the relay's checkpoint was rejected ({0}); the next sync asks for the log instead")]
    BadCheckpoint(CheckpointFault),
    #[error("the relay sent {0} out of turn")]
    OutOfTurn(&'static str),
    #[error(
        "the account moved to a new key (re-keyed on another device); connecting again with it"
    )]
    Moved,
}

impl SyncError {
    /// The relay's refusal code, when the relay refused.
    pub fn refusal(&self) -> Option<RefusalCode> {
        match self {
            SyncError::Refused(refusal) => Some(refusal.code),
            _ => None,
        }
    }

    /// This device was removed from its account: syncing again is pointless.
    pub fn is_device_removed(&self) -> bool {
        self.refusal() == Some(RefusalCode::DeviceRemoved)
    }

    /// The account was re-keyed without this device (or with a phrase that no
    /// longer opens it): only pairing with the new phrase helps.
    pub fn is_account_rekeyed(&self) -> bool {
        self.refusal() == Some(RefusalCode::AccountRekeyed)
    }
}
