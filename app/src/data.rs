//! Where the user's data lives and opening the store there.

use std::path::{Path, PathBuf};

use aftercall_shared::Store;
use anyhow::{bail, Context};

use crate::owner_only;
use crate::system::{OsEntropy, SystemClock};

/// The store's file name inside the data directory.
pub const STORE_FILE: &str = "aftercall.sqlite";

/// The data directory: `--data-dir`, else `AFTERCALL_DATA_DIR` (both handled by clap),
/// else the platform's data directory.
pub fn data_dir(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = explicit {
        return Ok(dir.to_path_buf());
    }
    let dirs = directories::ProjectDirs::from("app", "Aftercall", "aftercall")
        .context("cannot find a home directory for the data: pass --data-dir DIR")?;
    Ok(dirs.data_dir().to_path_buf())
}

thread_local! {
    static SCREENS_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Marks this thread as one the screens run on: it must never open the store (the
/// backend's thread owns it). In debug builds opening it here panics, and the
/// end-to-end tests run debug builds.
pub fn screens_run_on_this_thread() {
    SCREENS_THREAD.with(|marked| marked.set(true));
}

/// Whether the screens run on this thread.
pub fn is_screens_thread() -> bool {
    SCREENS_THREAD.with(|marked| marked.get())
}

/// Opens (creating if needed) the store in `dir`.
pub fn open_store(dir: &Path) -> anyhow::Result<Store> {
    debug_assert!(
        !is_screens_thread(),
        "the store was opened on a thread that must not touch it ({:?})",
        std::thread::current().name()
    );
    if dir.exists() && !dir.is_dir() {
        bail!(
            "the data directory {} is a file, not a directory",
            dir.display()
        );
    }
    owner_only::create_dir_all(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    let path = dir.join(STORE_FILE);
    // SQLite gives the write-ahead log and shared memory the store file's
    // permissions: the file is made owner-only before SQLite first opens it, an
    // older store (and its folder) is narrowed now, and the log files follow the
    // store (one left read-only by a read-only store would keep it read-only).
    owner_only::tighten(dir);
    owner_only::create_file(&path)
        .with_context(|| format!("cannot create the store at {}", path.display()))?;
    owner_only::tighten(&path);
    for suffix in ["-wal", "-shm"] {
        owner_only::follow(&sidecar(&path, suffix), &path);
    }
    Store::open(&path, Box::new(SystemClock), Box::new(OsEntropy))
        .with_context(|| format!("cannot open the store at {}", path.display()))
}

/// The store's write-ahead log (`-wal`) or shared memory (`-shm`) file.
fn sidecar(store: &Path, suffix: &str) -> PathBuf {
    let mut name = store.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}
