//! The Dioxus user interface.

use std::path::PathBuf;

/// Opens the app window.
pub fn launch(_data_dir: Option<PathBuf>) -> anyhow::Result<()> {
    anyhow::bail!("the app window is not built yet: use a subcommand (see --help)")
}
