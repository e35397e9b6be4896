//! Sync on the device: the account and its keys, and a background task that runs
//! the sans-IO [`Engine`](aftercall_shared::sync::Engine) against the store and a
//! websocket to the relay.
//!
//! - [`SyncHandle::start`]: the background task; it never blocks the caller, survives
//!   the relay being down for hours (reconnecting with backoff) and resumes where it
//!   stopped. [`SyncHandle::status`] and [`SyncHandle::changes`] are observable.
//! - [`create_account`], [`pair`], [`recovery_phrase`], [`set_relay`]: setting up.
//! - [`sync_once`]: one session to "up to date", for the command line and tests.
//!
//! Where things live: the account secret in `account.key` in the data directory
//! (hex, file mode 0600); the relay address, the invite code and the sync progress
//! in the store's local (never synced) settings.

mod account;
mod driver;
mod session;
mod status;

pub use account::{
    create_account, create_account_with_invite, pair, recovery_phrase, relay_url, set_relay,
};
pub use driver::SyncHandle;
pub use session::{sync_once, SyncReport};
pub use status::{read_status, ConnState, SyncStatus};
