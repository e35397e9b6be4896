//! Creating an account, pairing a device to one, and the relay address.

use std::io::Write;
use std::path::{Path, PathBuf};

use aftercall_shared::crypto::AccountSecret;
use anyhow::{bail, Context};

use crate::system::OsEntropy;

/// The file holding the account secret, inside the data directory.
pub const KEY_FILE: &str = "account.key";

/// Keys of the store's local settings used by sync.
pub(crate) mod settings {
    /// The relay's websocket address.
    pub const RELAY: &str = "sync.relay";
    /// "1" while this device may create the account on the relay (set by init).
    pub const CREATE: &str = "sync.create";
    /// An invite code for a relay with closed registration.
    pub const INVITE: &str = "sync.invite";
    /// How far the relay has acknowledged this device's own log.
    pub const ACKED: &str = "sync.acked";
    /// When the device was last up to date (ms since the epoch).
    pub const LAST_SYNCED: &str = "sync.last_synced_at";
}

fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join(KEY_FILE)
}

/// The account secret of the device in `data_dir`, if it has one.
pub(crate) fn load_secret(data_dir: &Path) -> anyhow::Result<Option<AccountSecret>> {
    let path = key_path(data_dir);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(AccountSecret::from_hex(&text)?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Writes the secret readable by the owner only, atomically.
fn save_secret(data_dir: &Path, secret: &AccountSecret) -> anyhow::Result<()> {
    crate::owner_only::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    let path = key_path(data_dir);
    let tmp = data_dir.join(format!("{KEY_FILE}.tmp"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    file.write_all(secret.to_hex().as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// The relay address as the device connects to it: `http(s)://` becomes `ws(s)://`,
/// and a bare host gets the `/sync` path.
pub fn relay_url(relay: &str) -> anyhow::Result<String> {
    let relay = relay.trim();
    let (scheme, rest) = relay.split_once("://").with_context(|| {
        format!("the relay address {relay:?} needs a scheme: http://, https://, ws:// or wss://")
    })?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => "ws",
        "https" | "wss" => "wss",
        other => bail!("the relay address scheme {other:?} is not supported; use http://, https://, ws:// or wss://"),
    };
    let (host, path) = match rest.split_once('/') {
        Some((host, path)) => (host, path.trim_end_matches('/')),
        None => (rest, ""),
    };
    if host.is_empty() {
        bail!("the relay address {relay:?} has no host");
    }
    let path = if path.is_empty() { "sync" } else { path };
    Ok(format!("{scheme}://{host}/{path}"))
}

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
    store.set_setting(settings::CREATE, Some("1"))?;
    if let Some(relay) = &relay {
        store.set_setting(settings::RELAY, Some(relay))?;
    }
    if let Some(code) = invite {
        store.set_setting(settings::INVITE, Some(code))?;
    }
    Ok(secret.phrase())
}

/// Joins this device to the account of `phrase` on `relay`. First proves the key
/// opens the account's data on the relay; a wrong phrase is an error and nothing
/// is uploaded or saved.
pub async fn pair(data_dir: &Path, relay: &str, phrase: &str) -> anyhow::Result<()> {
    let secret = AccountSecret::from_phrase(phrase)?;
    if let Some(existing) = load_secret(data_dir)? {
        if existing != secret {
            bail!(
                "this device already belongs to another account; use a new data directory to pair"
            );
        }
    }
    let relay = relay_url(relay)?;
    super::session::prove_and_sync(data_dir, &relay, &secret).await?;
    save_secret(data_dir, &secret)?;
    let store = crate::data::open_store(data_dir)?;
    store.set_setting(settings::RELAY, Some(&relay))?;
    store.set_setting(settings::CREATE, None)?;
    Ok(())
}

/// The recovery phrase of this device's account, if it has one.
pub fn recovery_phrase(data_dir: &Path) -> anyhow::Result<Option<String>> {
    Ok(load_secret(data_dir)?.map(|s| s.phrase()))
}

/// Sets the relay this device syncs with.
pub fn set_relay(data_dir: &Path, relay: &str) -> anyhow::Result<()> {
    let url = relay_url(relay)?;
    let store = crate::data::open_store(data_dir)?;
    store.set_setting(settings::RELAY, Some(&url))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_addresses_become_websocket_urls() {
        assert_eq!(
            relay_url("http://127.0.0.1:8787").unwrap(),
            "ws://127.0.0.1:8787/sync"
        );
        assert_eq!(
            relay_url("https://relay.example/").unwrap(),
            "wss://relay.example/sync"
        );
        assert_eq!(
            relay_url("wss://relay.example/custom").unwrap(),
            "wss://relay.example/custom"
        );
        assert!(relay_url("relay.example").is_err());
        assert!(relay_url("ftp://relay.example").is_err());
    }

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
