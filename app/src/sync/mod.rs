//! Sync on the device: the account and its keys, and a background task that runs
//! the sans-IO [`Engine`](aftercall_shared::sync::Engine) against the store and a
//! websocket to the relay.
//!
//! - [`SyncHandle::start`]: the background task; it never blocks the caller, survives
//!   the relay being down for hours (reconnecting with backoff) and resumes where it
//!   stopped. [`SyncHandle::status`] and [`SyncHandle::changes`] are observable.
//! - [`create_account`], [`pair`], [`recovery_phrase`], [`set_relay`]: setting up.
//! - [`sync_once`]: one session to "up to date", for the command line and tests;
//!   [`checkpoint_once`]: one session that also uploads a checkpoint.
//! - Devices: each device has its own relay credential (derived from a secret in
//!   its local settings) and a name, sent sealed with every hello; the first
//!   registers it. [`list_devices`], [`rename_device`], [`remove_device`] sync and
//!   then ask the relay. A removed device's sessions end with a refusal the
//!   driver does not retry ([`ConnState::Removed`]). [`remove_and_rekey`] also
//!   moves the account to a new secret (a lost phone): every remaining device is
//!   sent it sealed to its own key and follows at its next session; a device left
//!   behind is refused ([`ConnState::Rekeyed`]).
//! - Checkpoints: a session that is up to date makes one by itself once the
//!   entries written and applied since the last checkpoint it made or loaded reach
//!   [`CHECKPOINT_EVERY`] (or [`set_checkpoint_every`]); a new device, or one whose
//!   cursors the relay has pruned, loads the relay's newest one when offered. A
//!   background session on the desktop also makes one when idle on mains power
//!   (`idle`: no entry for ten minutes, at least 500 entries since the last one).
//!   A checkpoint the relay refuses (over its size limit, begun too soon) is
//!   remembered until one is made or loaded; these automatic checkpoints wait
//!   meanwhile (`CheckpointRefusal`), and the status shows it.
//!
//! Where things live: the account secret in `account.key` in the data directory
//! (hex, file mode 0600); the relay address, the invite code and the sync progress
//! in the store's local (never synced) settings, read and written as
//! `SyncSettings`.
//!
//! The files, each using only those before it: `settings` (`SyncSettings`),
//! `account` (the secret, the relay address, what a session runs with), `status`
//! (what the screens show), `core` (one session's work against the store, with no
//! IO: the engine's effects, the frames to send, the status), `session` (`core`
//! over a websocket to the relay), `devices` (the account's devices), `setup` (creating an account, pairing, setting
//! the relay) and `driver` (the background task behind `SyncHandle`).
//!
//! In the phone web app, `browser` ([`BrowserSync`]) takes the place of `session`,
//! `setup` and `driver`: it drives `core` over the browser's WebSocket from the
//! store's worker, and keeps the account secret in the store's local settings.

mod account;
#[cfg(target_arch = "wasm32")]
mod browser;
mod core;
mod devices;
#[cfg(not(target_arch = "wasm32"))]
mod driver;
#[cfg(not(target_arch = "wasm32"))]
mod idle;
#[cfg(not(target_arch = "wasm32"))]
mod session;
mod settings;
#[cfg(not(target_arch = "wasm32"))]
mod setup;
mod status;

pub use account::default_device_name;
pub use account::relay_url;
#[cfg(target_arch = "wasm32")]
pub use browser::{BrowserSync, SyncNews};
pub use core::{CheckpointReport, SyncReport};
pub use devices::RemovingThisDevice;
#[cfg(not(target_arch = "wasm32"))]
pub use devices::{list_devices, remove_and_rekey, remove_device, rename_device, Rekeyed};
#[cfg(not(target_arch = "wasm32"))]
pub use driver::SyncHandle;
#[cfg(not(target_arch = "wasm32"))]
pub use session::{checkpoint_once, sync_once};
#[cfg(not(target_arch = "wasm32"))]
pub use settings::CHECKPOINT_EVERY;
pub use settings::{CheckpointWay, LastCheckpoint};
#[cfg(not(target_arch = "wasm32"))]
pub use setup::{
    create_account, create_account_with_invite, pair, recovery_phrase, set_checkpoint_every,
    set_device_name, set_idle_checkpoint_after, set_relay,
};
#[cfg(not(target_arch = "wasm32"))]
pub use status::read_status;
pub use status::{ConnState, DeviceRow, SyncStatus};
