//! The account on this device: its secret (in `account.key` beside the store; in
//! the browser, where there is no folder of files, in the store's local settings),
//! and the relay address.

#[cfg(not(target_arch = "wasm32"))]
use std::io::Write;
#[cfg(not(target_arch = "wasm32"))]
use std::path::{Path, PathBuf};

use aftercall_shared::crypto::AccountSecret;
use aftercall_shared::Store;
use anyhow::{bail, Context};

use super::settings::SyncSettings;

#[cfg(not(target_arch = "wasm32"))]
/// The file holding the account secret, inside the data directory.
pub const KEY_FILE: &str = "account.key";

#[cfg(not(target_arch = "wasm32"))]
fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join(KEY_FILE)
}

#[cfg(not(target_arch = "wasm32"))]
/// The account secret of the device in `data_dir`, if it has one.
pub(crate) fn load_secret(data_dir: &Path) -> anyhow::Result<Option<AccountSecret>> {
    let path = key_path(data_dir);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(AccountSecret::from_hex(&text)?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

#[cfg(not(target_arch = "wasm32"))]
/// Writes the secret readable by the owner only, atomically.
pub(crate) fn save_secret(data_dir: &Path, secret: &AccountSecret) -> anyhow::Result<()> {
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

#[cfg(not(target_arch = "wasm32"))]
/// Keeps `secret` as the account's from now on (the account moved to it in a
/// re-key), and forgets a re-key begun here: it is finished, or superseded.
pub(crate) fn adopt_secret(
    data_dir: &Path,
    store: &Store,
    secret: &AccountSecret,
) -> anyhow::Result<()> {
    save_secret(data_dir, secret)?;
    SyncSettings::of(store).set_rotation(None)?;
    Ok(())
}

/// The re-key begun on this device and not finished, to resume: `None` when there
/// is none, or when the account already lives at its new secret (the move was
/// kept but the note of it not yet cleared).
pub(crate) fn pending_rotation(
    store: &Store,
    account: &Account,
) -> anyhow::Result<Option<super::settings::PendingRotation>> {
    let settings = SyncSettings::of(store);
    match settings.rotation()? {
        Some(pending) if pending.secret == account.secret => {
            settings.set_rotation(None)?;
            Ok(None)
        }
        other => Ok(other),
    }
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

/// The name a device gets when none is given: the computer's host name (in the
/// browser, "Web app").
pub fn default_device_name() -> aftercall_shared::crypto::DeviceName {
    #[cfg(not(target_arch = "wasm32"))]
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .and_then(|h| aftercall_shared::crypto::DeviceName::new(&h).ok());
    #[cfg(target_arch = "wasm32")]
    let host = None;
    host.unwrap_or_else(|| {
        aftercall_shared::crypto::DeviceName::new(if cfg!(target_arch = "wasm32") {
            "Web app"
        } else {
            "This computer"
        })
        .expect("a valid name")
    })
}

/// This device's own credential and sealed name for the relay. A device set up
/// before devices had their own gets its secret now (and registers it at this
/// hello), and the default name unless one was given.
pub(crate) fn device_key(
    store: &Store,
    secret: &AccountSecret,
    device: &aftercall_shared::protocol::DeviceId,
) -> anyhow::Result<aftercall_shared::protocol::DeviceKey> {
    use aftercall_shared::crypto::{seal_device_name, DeviceSecret};
    let settings = SyncSettings::of(store);
    let own = match settings.device_secret()? {
        Some(own) => own,
        None => {
            let own = DeviceSecret::generate(&mut crate::system::OsEntropy);
            settings.set_device_secret(&own)?;
            own
        }
    };
    let name = match settings.device_name()? {
        Some(name) => name,
        None => default_device_name(),
    };
    Ok(aftercall_shared::protocol::DeviceKey {
        credential: own.credential(),
        sealed_name: seal_device_name(&secret.keys(), device, &name),
    })
}

/// What a session has to run with.
#[derive(Clone)]
pub(crate) struct Account {
    pub secret: AccountSecret,
    pub relay: String,
    pub create: bool,
    pub invite: Option<String>,
}

impl Account {
    /// The account set up in `data_dir`: `None` without one; an error without a relay.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn load(data_dir: &Path, store: &Store) -> anyhow::Result<Option<Account>> {
        match load_secret(data_dir)? {
            Some(secret) => Account::with_secret(secret, store).map(Some),
            None => Ok(None),
        }
    }

    /// The account of `secret` as `store`'s settings describe it; an error without
    /// a relay.
    pub fn with_secret(secret: AccountSecret, store: &Store) -> anyhow::Result<Account> {
        let settings = SyncSettings::of(store);
        let relay = settings.relay()?.context(
            "no relay is set for this device; set one with `aftercall init --relay URL` or in Sync & devices",
        )?;
        Ok(Account {
            secret,
            relay,
            create: settings.create_account()?,
            invite: settings.invite()?,
        })
    }
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
}
