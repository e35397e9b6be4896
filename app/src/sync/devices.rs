//! The account's devices as this device sees them: listed from the relay with
//! their names opened, renamed, removed.

#[cfg(not(target_arch = "wasm32"))]
use std::path::Path;

use aftercall_shared::crypto::{open_device_name, seal_device_name, AccountKeys, DeviceName};
use aftercall_shared::protocol::{ClientMessage, DeviceId, DeviceInfo};
#[cfg(not(target_arch = "wasm32"))]
use aftercall_shared::sync::DeviceAnswer;
#[cfg(not(target_arch = "wasm32"))]
use anyhow::{bail, Context};

#[cfg(not(target_arch = "wasm32"))]
use super::session::ask_devices;
use super::status::DeviceRow;

/// The relay's list as rows, names opened with the account key; `this` is this
/// device's id.
pub(crate) fn rows(keys: &AccountKeys, this: &str, devices: Vec<DeviceInfo>) -> Vec<DeviceRow> {
    devices
        .into_iter()
        .map(|d| DeviceRow {
            name: open_device_name(keys, &d.device, &d.sealed_name).map(|n| n.to_string()),
            this_device: d.device.as_str() == this,
            id: d.device.as_str().to_string(),
            last_seen: d.last_seen,
            waiting: d.waiting,
        })
        .collect()
}

/// The request that names `device` `name`, sealed under the account key.
pub(crate) fn rename_request(
    keys: &AccountKeys,
    device: DeviceId,
    name: &DeviceName,
) -> ClientMessage {
    ClientMessage::RenameDevice {
        sealed_name: seal_device_name(keys, &device, name),
        device,
    }
}

/// Syncs, then lists the account's devices.
#[cfg(not(target_arch = "wasm32"))]
pub async fn list_devices(data_dir: &Path) -> anyhow::Result<Vec<DeviceRow>> {
    // The cursors are filled in when the request is sent.
    let request = ClientMessage::ListDevices {
        cursors: Vec::new(),
    };
    let (answer, account) = ask_devices(data_dir, request).await?;
    let DeviceAnswer::Listed(devices) = answer else {
        bail!("the relay answered something else than the list of devices; try again");
    };
    let this = crate::data::open_store(data_dir)?.device_id().to_string();
    Ok(rows(&account.secret.keys(), &this, devices))
}

#[cfg(not(target_arch = "wasm32"))]
/// The one device `which` names: its name (ignoring case), else its id.
fn find<'a>(devices: &'a [DeviceRow], which: &str) -> anyhow::Result<&'a DeviceRow> {
    let named: Vec<&DeviceRow> = devices
        .iter()
        .filter(|d| {
            d.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(which.trim()))
        })
        .collect();
    match named.as_slice() {
        [one] => return Ok(one),
        [] => {}
        _ => bail!(
            "{} devices are named {which:?}; give the device id instead (`aftercall devices` lists them)",
            named.len()
        ),
    }
    devices
        .iter()
        .find(|d| d.id == which.trim())
        .with_context(|| {
            format!("this account has no device named {which:?}; `aftercall devices` lists them")
        })
}

/// Gives the device named (or with the id) `which` the name `new`.
#[cfg(not(target_arch = "wasm32"))]
pub async fn rename_device(data_dir: &Path, which: &str, new: &str) -> anyhow::Result<DeviceRow> {
    let name = DeviceName::new(new)?;
    let devices = list_devices(data_dir).await?;
    let target = find(&devices, which)?.clone();
    let device = DeviceId::new(&target.id)?;
    let keys = super::account::load_secret(data_dir)?
        .context("this device has no account yet")?
        .keys();
    let request = rename_request(&keys, device, &name);
    match ask_devices(data_dir, request).await?.0 {
        DeviceAnswer::Renamed(d) if d.as_str() == target.id => {}
        _ => bail!("the relay did not confirm the new name; try again"),
    }
    if target.this_device {
        let store = crate::data::open_store(data_dir)?;
        super::settings::SyncSettings::of(&store).set_device_name(&name)?;
    }
    Ok(DeviceRow {
        name: Some(name.to_string()),
        ..target
    })
}

/// Why a device was not removed: it is the one asking.
#[derive(Debug)]
pub struct RemovingThisDevice;

impl std::fmt::Display for RemovingThisDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("that is this device: a device cannot remove itself; remove it from another device of the account")
    }
}

impl std::error::Error for RemovingThisDevice {}

/// Removes the device named (or with the id) `which` from the account: the relay
/// refuses its credential from now on and closes its open session. This device
/// cannot remove itself ([`RemovingThisDevice`]).
#[cfg(not(target_arch = "wasm32"))]
pub async fn remove_device(data_dir: &Path, which: &str) -> anyhow::Result<DeviceRow> {
    let devices = list_devices(data_dir).await?;
    let target = find(&devices, which)?.clone();
    if target.this_device {
        return Err(RemovingThisDevice.into());
    }
    let request = ClientMessage::RemoveDevice {
        device: DeviceId::new(&target.id)?,
    };
    match ask_devices(data_dir, request).await?.0 {
        DeviceAnswer::Removed(d) if d.as_str() == target.id => Ok(target),
        _ => bail!("the relay did not confirm the removal; try again"),
    }
}

/// What "remove and re-key" did.
#[cfg(not(target_arch = "wasm32"))]
#[derive(Debug, Clone)]
pub struct Rekeyed {
    /// The device removed (`None` when a re-key cut short was resumed, its device
    /// removed before).
    pub removed: Option<DeviceRow>,
    /// The new recovery phrase: shown once; the old one no longer opens the account.
    pub phrase: String,
    /// Devices that were not sent the new key (an older version, or a wrap key
    /// not made with the account key): each must be paired again with the new
    /// phrase. Their names where known, else their ids.
    pub left_out: Vec<String>,
}

/// Removes the device named (or with the id) `which` and moves the account to a
/// new secret: a checkpoint sealed under it goes to the relay, every remaining
/// device is sent the new secret sealed to its own key, and the relay drops
/// everything sealed under the old one. The removed device can read nothing
/// written afterwards, and the old recovery phrase stops working.
///
/// The new secret is kept in the store before anything reaches the relay, so a
/// re-key cut short (this program or the relay killed) resumes with it: at the
/// next sync, or by running this again.
#[cfg(not(target_arch = "wasm32"))]
pub async fn remove_and_rekey(data_dir: &Path, which: &str) -> anyhow::Result<Rekeyed> {
    use super::settings::SyncSettings;

    let pending = {
        let store = crate::data::open_store(data_dir)?;
        SyncSettings::of(&store).rotation()?
    };
    let before =
        super::account::load_secret(data_dir)?.context("this device has no account yet")?;
    let devices = list_devices(data_dir).await?;
    let now = super::account::load_secret(data_dir)?.context("this device has no account yet")?;
    if now != before && pending.as_ref().map(|p| &p.secret) == Some(&now) {
        // The sync before the listing found the re-key begun here committed.
        return Ok(Rekeyed {
            removed: None,
            phrase: now.phrase(),
            left_out: Vec::new(),
        });
    }
    let target = match find(&devices, which) {
        Ok(target) if target.this_device => return Err(RemovingThisDevice.into()),
        Ok(target) => Some(target.clone()),
        // Removed before, by a re-key cut short: resume it.
        Err(_) if pending.is_some() => None,
        Err(e) => return Err(e),
    };
    // The new secret is kept before the removal, so a re-key cut short after it
    // (the device already gone from the list) still resumes.
    let removing = target.as_ref().map(|t| DeviceId::new(&t.id)).transpose()?;
    let new = SyncSettings::of(&crate::data::open_store(data_dir)?).rotation_or_begin(removing)?;
    let removed = match target {
        Some(target) => {
            let request = ClientMessage::RemoveDevice {
                device: DeviceId::new(&target.id)?,
            };
            match ask_devices(data_dir, request).await?.0 {
                DeviceAnswer::Removed(d) if d.as_str() == target.id => Some(target),
                _ => bail!("the relay did not confirm the removal; try again"),
            }
        }
        None => None,
    };
    let report = super::session::rotate(data_dir, new.clone()).await?;
    if report.rotated_to != Some(new.secret.keys().account) {
        bail!("the re-key did not finish; run the command again (or sync) to resume it");
    }
    let left_out = report
        .left_out
        .iter()
        .map(|id| {
            devices
                .iter()
                .find(|d| d.id == id.as_str())
                .map_or_else(|| id.to_string(), |d| d.label().to_string())
        })
        .collect();
    Ok(Rekeyed {
        removed,
        phrase: new.secret.phrase(),
        left_out,
    })
}
