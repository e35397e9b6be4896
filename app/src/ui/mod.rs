//! The Dioxus user interface: one set of components for the desktop window, the
//! mobile build and the browser mode.
//!
//! - [`app`]: the root component and the stylesheet.
//! - [`session`]: the backend, platform services, current screen and message line
//!   that views share, and the hooks views read and write through.
//! - [`route`]: the screens and the navigation entries.
//! - [`draft`]: the capture form's state and its autosave.
//! - `components/`: reusable pieces (inputs that never drop a keystroke, switches,
//!   chips, the person picker, highlighting, the week chart).
//! - `views/`: the screens, one per file.
//! - [`serve`]: the browser mode (liveview over axum).
//! - [`notify`]: system notifications for follow-ups falling due.
//!
//! The desktop window itself is another program, `aftercall-window` (`app/window/`),
//! so that the command line never loads the window's libraries.

pub mod app;
mod components;
pub mod draft;
pub mod notify;
pub mod route;
#[cfg(not(target_arch = "wasm32"))]
pub mod serve;
pub mod session;
mod views;

#[cfg(not(target_arch = "wasm32"))]
use std::path::PathBuf;

pub use app::{App, AppConfig};

#[cfg(not(target_arch = "wasm32"))]
impl AppConfig {
    /// Starts the backend (and, with `sync`, the sync task) for the data in `data_dir`.
    pub fn start(platform: crate::platform::Platform, data_dir: PathBuf, sync: bool) -> AppConfig {
        let sync = sync.then(|| crate::sync::SyncHandle::start(data_dir.clone()));
        AppConfig {
            backend: crate::backend::Backend::start(data_dir, sync.clone()),
            platform,
            sync,
        }
    }
}

/// What a window starts the app with: the backend and the sync task on the data in
/// `data_dir` (or the platform's data directory). The desktop window
/// (`aftercall-window`, in `app/window/`) and the phone build share it; the
/// `desktop` feature adds system notifications and the native save dialog.
#[cfg(not(target_arch = "wasm32"))]
pub fn window_config(data_dir: Option<PathBuf>) -> anyhow::Result<AppConfig> {
    let data_dir = crate::data::data_dir(data_dir.as_deref())?;
    let platform = crate::platform::Platform::new(
        data_dir.clone(),
        cfg!(feature = "desktop"),
        cfg!(feature = "desktop"),
    );
    let config = AppConfig::start(platform, data_dir, true);
    crate::calendar_feed::keep_refreshed(config.backend.clone());
    Ok(config)
}

/// Opens the app on a phone, on the data in `data_dir`.
#[cfg(feature = "mobile")]
pub fn launch_mobile(data_dir: Option<PathBuf>) -> anyhow::Result<()> {
    dioxus::LaunchBuilder::mobile()
        .with_context(window_config(data_dir)?)
        .launch(App);
    Ok(())
}

#[cfg(test)]
mod tests {
    /// The screens' code, read as text: none of it can name the store, SQLite, a
    /// file, a thread or a runtime. (The two shells, `serve.rs` for the browser mode
    /// and this file's window set-up, start the backend and are not screens.)
    #[test]
    fn the_screens_reach_neither_the_store_nor_files_threads_or_runtimes() {
        let ui = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ui");
        let forbidden = [
            "Store",
            "open_store",
            "rusqlite",
            "std::fs",
            "std::thread",
            "tokio::runtime",
            "spawn_blocking",
            "data_dir",
        ];
        let mut files = Vec::new();
        let mut dirs = vec![ui.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    files.push(path);
                }
            }
        }
        let shells = [ui.join("serve.rs"), ui.join("mod.rs")];
        let screens: Vec<_> = files.iter().filter(|f| !shells.contains(f)).collect();
        assert!(screens.len() > 20, "found {} files", screens.len());
        for file in screens {
            let text = std::fs::read_to_string(file).unwrap();
            // Tests inside a file may use temporary folders.
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for word in forbidden {
                assert!(
                    !code.contains(word),
                    "{} names {word}: screens go through the backend and the platform",
                    file.display()
                );
            }
        }
    }
}
