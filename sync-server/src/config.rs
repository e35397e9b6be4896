//! The relay's settings: where to listen, where the database is, the limits.

use std::path::PathBuf;

/// How the relay runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The SQLite database file.
    pub db: PathBuf,
    /// New accounts need an invite code issued with `sync-server invite`.
    pub closed_registration: bool,
    pub limits: Limits,
}

/// What one account or one frame may use.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The largest frame accepted (bytes).
    pub max_message_bytes: usize,
    /// Entries per second one account may upload (sustained).
    pub entries_per_second: u32,
    /// Entries one account may upload in a burst.
    pub entries_burst: u32,
    /// Devices of one account connected at once.
    pub connections_per_account: usize,
    /// Entries per catch-up page.
    pub page_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: aftercall_shared::protocol::MAX_FRAME,
            entries_per_second: 2_000,
            entries_burst: 20_000,
            connections_per_account: 16,
            page_entries: 512,
        }
    }
}

impl Config {
    /// Defaults with the database at `db`.
    pub fn new(db: impl Into<PathBuf>) -> Config {
        Config {
            db: db.into(),
            closed_registration: false,
            limits: Limits::default(),
        }
    }
}
