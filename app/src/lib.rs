//! # The Aftercall app
//!
//! - [`backend`]: the thread that owns the store and answers the screens' requests.
//! - [`platform`]: what the screens need from the platform (draft, files, exports,
//!   notifications, timers), behind one interface.
//! - [`cli`]: the command line (headless subcommands for scripting).
//! - [`calendar_feed`]: calendar subscriptions, fetched conditionally and imported.
//! - [`ui`]: the Dioxus screens, for the desktop window, mobile and the browser mode.
//! - [`data`]: where the data directory is, and opening the store in it.
//! - [`logging`]: the log filter, which keeps raw websocket frames out of the log.
//! - [`owner_only`]: files and folders only their owner can read (store, drafts, exports).
//! - [`format`]: how dates, kinds and states read, shared by screens and command line.
//! - [`system`]: the real clock and randomness handed to the domain.
//! - [`sync`]: the account, pairing, and the background task syncing with the relay.
//! - [`window`]: `aftercall` with no subcommand handing over to the `aftercall-window`
//!   program beside it.
//!
//! For `wasm32-unknown-unknown` (the phone web app) the crate keeps the screens, the
//! backend's handle, the platform interface and the sync status; the command line,
//! the store's thread, the browser mode and the sync task are built for processes
//! of their own only.

pub mod backend;
#[cfg(not(target_arch = "wasm32"))]
pub mod calendar_feed;
#[cfg(not(target_arch = "wasm32"))]
pub mod cli;
#[cfg(not(target_arch = "wasm32"))]
pub mod data;
pub mod format;
#[cfg(not(target_arch = "wasm32"))]
pub mod logging;
pub mod owner_only;
pub mod platform;
pub mod sync;
pub mod system;
pub mod ui;
#[cfg(not(target_arch = "wasm32"))]
pub mod window;
