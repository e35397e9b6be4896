//! Setting a device up: creating an account, pairing with one, the relay address.

use std::path::Path;

use aftercall_shared::crypto::AccountSecret;
use anyhow::bail;

use super::account::{load_secret, relay_url, save_secret};
use super::core::SyncReport;
use super::session::prove_and_sync;
use super::settings::SyncSettings;
use crate::system::OsEntropy;

/// Creates a new account on this device and returns its recovery phrase. The
/// account is created on the relay at the first sync.
pub fn create_account(data_dir: &Path, relay: Option<&str>) -> anyhow::Result<String> {
    create_account_with_invite(data_dir, relay, None)
}

/// As [`create_account`], with an invite code for a relay with closed registration.
pub fn create_account_with_invite(
    data_dir: &Path,
    relay: Option<&str>,
    invite: Option<&str>,
) -> anyhow::Result<String> {
    if load_secret(data_dir)?.is_some() {
        bail!("this device already belongs to an account; `aftercall status` shows it");
    }
    let relay = relay.map(relay_url).transpose()?;
    let store = crate::data::open_store(data_dir)?;
    let secret = AccountSecret::generate(&mut OsEntropy);
    save_secret(data_dir, &secret)?;
    SyncSettings::of(&store).begin_account(relay.as_deref(), invite)?;
    Ok(secret.phrase())
}

/// Joins this device to the account of `phrase` on `relay`. First proves the key
/// opens the account's data on the relay; a wrong phrase is an error and nothing
/// is uploaded or saved. Returns what the first sync did (a checkpoint loaded, the
/// entries applied after it).
pub async fn pair(data_dir: &Path, relay: &str, phrase: &str) -> anyhow::Result<SyncReport> {
    let secret = AccountSecret::from_phrase(phrase)?;
    if let Some(existing) = load_secret(data_dir)? {
        if existing != secret {
            bail!(
                "this device already belongs to another account; use a new data directory to pair"
            );
        }
    }
    let relay = relay_url(relay)?;
    let report = prove_and_sync(data_dir, &relay, &secret).await?;
    save_secret(data_dir, &secret)?;
    let store = crate::data::open_store(data_dir)?;
    SyncSettings::of(&store).paired(&relay)?;
    Ok(report)
}

/// The recovery phrase of this device's account, if it has one.
pub fn recovery_phrase(data_dir: &Path) -> anyhow::Result<Option<String>> {
    Ok(load_secret(data_dir)?.map(|s| s.phrase()))
}

/// Sets the relay this device syncs with.
pub fn set_relay(data_dir: &Path, relay: &str) -> anyhow::Result<()> {
    let url = relay_url(relay)?;
    let store = crate::data::open_store(data_dir)?;
    SyncSettings::of(&store).set_relay(&url)?;
    Ok(())
}

/// Names this device. The name goes to the relay sealed at its next hello (the
/// first registers the device); set before `pair` or the first sync, the relay
/// learns it at registration.
pub fn set_device_name(
    data_dir: &Path,
    name: &aftercall_shared::crypto::DeviceName,
) -> anyhow::Result<()> {
    let store = crate::data::open_store(data_dir)?;
    SyncSettings::of(&store).set_device_name(name)?;
    Ok(())
}

/// Sets after how many entries since the last checkpoint this device makes one by
/// itself (the default is [`CHECKPOINT_EVERY`](super::CHECKPOINT_EVERY)).
pub fn set_checkpoint_every(data_dir: &Path, entries: u64) -> anyhow::Result<()> {
    let store = crate::data::open_store(data_dir)?;
    SyncSettings::of(&store).set_checkpoint_every(entries)?;
    Ok(())
}

/// Sets how long a background session waits without an entry before a desktop on
/// power makes a checkpoint (ten minutes unless set).
pub fn set_idle_checkpoint_after(
    data_dir: &Path,
    after: std::time::Duration,
) -> anyhow::Result<()> {
    let store = crate::data::open_store(data_dir)?;
    SyncSettings::of(&store).set_idle_checkpoint_after(after)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::account::KEY_FILE;

    #[test]
    fn a_new_account_keeps_its_secret_private_and_gives_its_phrase_back() {
        let dir = tempfile::tempdir().unwrap();
        let phrase = create_account(dir.path(), Some("http://127.0.0.1:1")).unwrap();
        assert_eq!(phrase.split(' ').count(), 24);
        assert_eq!(recovery_phrase(dir.path()).unwrap(), Some(phrase));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(
            create_account(dir.path(), None).is_err(),
            "a second account on one device"
        );
    }
}
