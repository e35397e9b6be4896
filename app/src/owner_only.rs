//! Files and folders only their owner can read: the data folder, the store and its
//! write-ahead log, drafts and exports all hold notes in plain text. On unix they
//! are created 0600 (files) and 0700 (folders), and older ones lose their group
//! and other bits when opened; elsewhere these are plain file operations.

use std::io::Write;
use std::path::Path;

/// Creates `dir` and its missing parents, owner-only.
pub fn create_dir_all(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Writes `bytes` to `path` (creating or truncating it), readable by the owner only,
/// also when the file was there before with wider permissions.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    tighten_open(&file)?;
    file.write_all(bytes)?;
    file.flush()
}

/// Creates `path` as an empty owner-only file unless something is there already.
pub fn create_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Takes the group and other permission bits off `path`, if it exists. A file this
/// user does not own is left as it is (with a warning in the log).
pub fn tighten(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let Ok(meta) = std::fs::metadata(path) else {
            return;
        };
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            let narrowed = std::fs::Permissions::from_mode(mode & !0o077);
            if let Err(e) = std::fs::set_permissions(path, narrowed) {
                tracing::warn!(path = %path.display(), error = %e, "cannot make it owner-only");
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Gives `path`, if it exists, the owner permissions of `like` and no others (as
/// SQLite gives its write-ahead log and shared memory the store's): a log left
/// read-only while the store was read-only becomes writable with it again.
pub fn follow(path: &Path, like: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let (Ok(meta), Ok(model)) = (std::fs::metadata(path), std::fs::metadata(like)) else {
            return;
        };
        let wanted = model.permissions().mode() & 0o700;
        if meta.permissions().mode() & 0o777 != wanted {
            let set = std::fs::set_permissions(path, std::fs::Permissions::from_mode(wanted));
            if let Err(e) = set {
                tracing::warn!(path = %path.display(), error = %e, "cannot set its permissions");
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (path, like);
}

#[cfg(unix)]
fn tighten_open(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = file.metadata()?.permissions().mode();
    if mode & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(mode & !0o077))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn tighten_open(_: &std::fs::File) -> std::io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn folders_and_files_are_made_for_the_owner_alone() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        create_dir_all(&nested).unwrap();
        assert_eq!(mode(&nested), 0o700);
        assert_eq!(mode(&dir.path().join("a")), 0o700);

        let file = nested.join("export.json");
        std::fs::write(&file, "old").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        write(&file, b"new").unwrap();
        assert_eq!(mode(&file), 0o600, "an existing file is narrowed too");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "new");

        let open = nested.join("wide");
        std::fs::write(&open, "x").unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
        tighten(&open);
        assert_eq!(mode(&open), 0o700, "owner bits stay as they were");
        let read_only = nested.join("read-only");
        std::fs::write(&read_only, "x").unwrap();
        std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o444)).unwrap();
        tighten(&read_only);
        assert_eq!(mode(&read_only), 0o400, "tightening never adds write");

        let store = nested.join("store");
        let log = nested.join("store-shm");
        std::fs::write(&store, "x").unwrap();
        std::fs::write(&log, "x").unwrap();
        std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o444)).unwrap();
        follow(&log, &store);
        assert_eq!(mode(&log), 0o600, "the log follows the store");
        follow(&nested.join("missing"), &store);
    }
}
