//! What a device holds of its own besides the account secret: a secret from which
//! its relay credential is derived, and its name, which leaves it only sealed.

use std::fmt;

use super::seal::{open_bytes, seal_bytes};
use super::AccountKeys;
use crate::env::Entropy;
use crate::protocol::{Credential, DeviceId, MAX_SEALED_NAME};
use crate::{Error, Result};

/// The longest device name, in characters.
pub const MAX_DEVICE_NAME: usize = 48;

/// A device's name as the person gave it: 1 to [`MAX_DEVICE_NAME`] characters, no
/// control characters, spacing at either end trimmed.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceName(String);

impl DeviceName {
    /// Checks `name`; the error says what is wrong with it.
    pub fn new(name: &str) -> Result<DeviceName> {
        let name = name.trim();
        if name.is_empty() {
            return Err(Error::Invalid("a device name cannot be empty".into()));
        }
        if name.chars().count() > MAX_DEVICE_NAME {
            return Err(Error::Invalid(format!(
                "a device name is at most {MAX_DEVICE_NAME} characters"
            )));
        }
        if name.chars().any(char::is_control) {
            return Err(Error::Invalid(
                "a device name cannot hold control characters (tabs, line breaks)".into(),
            ));
        }
        Ok(DeviceName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DeviceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DeviceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceName({:?})", self.0)
    }
}

/// What the associated data binds a sealed name to: the account and the device.
fn name_ad(keys: &AccountKeys, device: &DeviceId) -> Vec<u8> {
    let mut ad = Vec::with_capacity(64);
    ad.extend_from_slice(b"aftercall device name v1");
    ad.extend_from_slice(&keys.account.0);
    ad.push(device.as_str().len() as u8);
    ad.extend_from_slice(device.as_str().as_bytes());
    ad
}

/// Seals `name` of `device` for the relay, which stores it and cannot read it.
pub fn seal_device_name(keys: &AccountKeys, device: &DeviceId, name: &DeviceName) -> Vec<u8> {
    let sealed = seal_bytes(keys, &name_ad(keys, device), name.as_str().as_bytes());
    debug_assert!(sealed.len() <= MAX_SEALED_NAME);
    sealed
}

/// Opens a sealed name of `device`; `None` when it does not open under this
/// account's key for this device, or what it holds is not a valid name.
pub fn open_device_name(
    keys: &AccountKeys,
    device: &DeviceId,
    sealed: &[u8],
) -> Option<DeviceName> {
    let plain = open_bytes(keys, &name_ad(keys, device), sealed)?;
    DeviceName::new(std::str::from_utf8(&plain).ok()?).ok()
}

/// A device's own 256-bit secret: its relay credential is derived from it. Kept in
/// the device's local settings, never synced, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceSecret([u8; 32]);

impl fmt::Debug for DeviceSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeviceSecret(..)")
    }
}

impl DeviceSecret {
    /// A fresh secret from `entropy`.
    pub fn generate(entropy: &mut dyn Entropy) -> DeviceSecret {
        let mut bytes = [0u8; 32];
        entropy.fill(&mut bytes);
        DeviceSecret(bytes)
    }

    /// The credential this device shows the relay (it keeps only its hash).
    pub fn credential(&self) -> Credential {
        Credential(blake3::derive_key(
            "aftercall 2026 device credential v1",
            &self.0,
        ))
    }

    /// The secret as hex, for the device's settings.
    pub fn to_hex(&self) -> String {
        crate::env::hex(&self.0)
    }

    /// The private half of the device's wrap key (see [`super::wrap_key`]).
    pub(super) fn wrap_private(&self) -> [u8; 32] {
        blake3::derive_key("aftercall 2026 device wrap key v1", &self.0)
    }

    /// Reads the secret back from its hex.
    pub fn from_hex(text: &str) -> Result<DeviceSecret> {
        let text = text.trim();
        let bytes: Option<Vec<u8>> = (text.len() == 64)
            .then(|| {
                (0..32)
                    .map(|i| u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok())
                    .collect()
            })
            .flatten();
        bytes
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .map(DeviceSecret)
            .ok_or_else(|| {
                Error::Invalid(
                    "this device's sync credential is damaged; pair the device again with the recovery phrase".into(),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::AccountSecret;
    use crate::env::SeededEntropy;

    #[test]
    fn a_device_name_is_checked_and_trimmed() {
        assert_eq!(
            DeviceName::new("  Ada's phone ").unwrap().as_str(),
            "Ada's phone"
        );
        assert!(DeviceName::new("   ").is_err());
        assert!(DeviceName::new("tab\there").is_err());
        assert!(DeviceName::new(&"x".repeat(MAX_DEVICE_NAME + 1)).is_err());
        assert!(DeviceName::new(&"é".repeat(MAX_DEVICE_NAME)).is_ok());
    }

    #[test]
    fn a_sealed_name_opens_only_for_its_account_and_device() {
        let keys = AccountSecret::generate(&mut SeededEntropy::new(1)).keys();
        let other = AccountSecret::generate(&mut SeededEntropy::new(2)).keys();
        let phone = DeviceId::new("phone").unwrap();
        let laptop = DeviceId::new("laptop").unwrap();
        let name = DeviceName::new(&"ü".repeat(MAX_DEVICE_NAME)).unwrap();
        let sealed = seal_device_name(&keys, &phone, &name);
        assert!(sealed.len() <= MAX_SEALED_NAME);
        assert!(!sealed.windows(2).any(|w| w == "ü".as_bytes()));
        assert_eq!(open_device_name(&keys, &phone, &sealed), Some(name));
        assert_eq!(open_device_name(&keys, &laptop, &sealed), None);
        assert_eq!(open_device_name(&other, &phone, &sealed), None);
    }

    #[test]
    fn a_device_secret_round_trips_and_gives_its_own_credential() {
        let a = DeviceSecret::generate(&mut SeededEntropy::new(3));
        let b = DeviceSecret::generate(&mut SeededEntropy::new(4));
        assert_eq!(DeviceSecret::from_hex(&a.to_hex()).unwrap(), a);
        assert_ne!(a.credential(), b.credential());
        assert!(DeviceSecret::from_hex("abc").is_err());
        assert!(DeviceSecret::from_hex(&"zz".repeat(32)).is_err());
    }
}
