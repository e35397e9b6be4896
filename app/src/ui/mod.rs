//! The Dioxus user interface: one set of components for the desktop window, the
//! mobile build and the browser mode.
//!
//! - [`app`]: the root component and the stylesheet.
//! - [`session`]: the open store, current screen and message line that views share.
//! - [`route`]: the screens and the navigation entries.
//! - [`draft`]: the capture form's state and its autosave.
//! - `components/`: reusable pieces (inputs that never drop a keystroke, switches,
//!   chips, the person picker, highlighting, the week chart).
//! - `views/`: the screens, one per file.
//! - [`serve`]: the browser mode (liveview over axum).
//! - [`notify`]: system notifications for follow-ups falling due.

pub mod app;
mod components;
pub mod draft;
pub mod notify;
pub mod route;
pub mod serve;
pub mod session;
mod views;

use std::path::PathBuf;

pub use app::{App, AppConfig};

/// Opens the app window on the data in `data_dir` (or the platform's data directory).
pub fn launch(data_dir: Option<PathBuf>) -> anyhow::Result<()> {
    let config = AppConfig {
        data_dir: crate::data::data_dir(data_dir.as_deref())?,
        system_notifications: cfg!(feature = "desktop"),
        native_dialogs: cfg!(feature = "desktop"),
        sync: None,
    };
    launch_window(config)
}

#[cfg(feature = "desktop")]
fn launch_window(mut config: AppConfig) -> anyhow::Result<()> {
    config.sync = Some(crate::sync::SyncHandle::start(config.data_dir.clone()));
    use dioxus::desktop::{Config, LogicalSize, WindowBuilder};
    let window = WindowBuilder::new()
        .with_title("Aftercall")
        .with_inner_size(LogicalSize::new(1100.0, 760.0));
    dioxus::LaunchBuilder::desktop()
        .with_cfg(Config::new().with_window(window).with_menu(None))
        .with_context(config)
        .launch(App);
    Ok(())
}

#[cfg(all(feature = "mobile", not(feature = "desktop")))]
fn launch_window(mut config: AppConfig) -> anyhow::Result<()> {
    config.sync = Some(crate::sync::SyncHandle::start(config.data_dir.clone()));
    dioxus::LaunchBuilder::mobile()
        .with_context(config)
        .launch(App);
    Ok(())
}

#[cfg(not(any(feature = "desktop", feature = "mobile")))]
fn launch_window(_config: AppConfig) -> anyhow::Result<()> {
    anyhow::bail!("this build has no window: use `aftercall serve-ui` and open it in a browser")
}
