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
//! in the store's local (never synced) settings, read and written as
//! `SyncSettings`.
//!
//! The files, each using only those before it: `settings` (`SyncSettings`),
//! `account` (the secret, the relay address, what a session runs with), `status`
//! (what the screens show), `session` (one connection to the relay), `setup`
//! (creating an account, pairing, setting the relay) and `driver` (the background
//! task behind `SyncHandle`).

mod account;
mod driver;
mod session;
mod settings;
mod setup;
mod status;

pub use account::relay_url;
pub use driver::SyncHandle;
pub use session::{sync_once, SyncReport};
pub use setup::{create_account, create_account_with_invite, pair, recovery_phrase, set_relay};
pub use status::{read_status, ConnState, SyncStatus};
