//! Re-keying on the wire: a device's key for receiving a new account secret, the
//! new secret sealed to one device, and the devices a rotation moves.
//!
//! A re-key moves the account to a new secret: the rotating device uploads a
//! checkpoint sealed under the new keys, the relay lists the remaining devices
//! with their [`WrapKey`]s, the device seals the new secret to each
//! ([`WrappedSecret`]) and commits. The relay can read none of it: a wrap key is
//! public, authenticated under the old account key so the relay cannot put its own
//! in its place, and a wrapped secret opens only with the device's private key.

use super::codec::{Reader, Writer};
use super::{DeviceId, ProtocolError};

/// The most devices a rotation names.
pub const MAX_REKEY_DEVICES: usize = 256;
/// The longest wrapped secret (bytes).
pub const MAX_WRAPPED: usize = 256;

/// A device's public X25519 key for receiving a new account secret, with a MAC
/// under the account key over the account, the device and the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrapKey {
    pub public: [u8; 32],
    pub mac: [u8; 32],
}

impl WrapKey {
    pub(crate) fn write(&self, w: &mut Writer) {
        w.out.extend_from_slice(&self.public);
        w.out.extend_from_slice(&self.mac);
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<WrapKey, ProtocolError> {
        Ok(WrapKey {
            public: r.fixed()?,
            mac: r.fixed()?,
        })
    }
}

/// A device of the account as a rotation sees it: its wrap key, if it registered
/// one (an older version did not, and must be paired again with the new phrase).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RekeyDevice {
    pub device: DeviceId,
    pub wrap_key: Option<WrapKey>,
}

/// The new account secret sealed to one device's wrap key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedSecret {
    pub device: DeviceId,
    pub sealed: Vec<u8>,
}

pub(crate) fn write_devices(w: &mut Writer, devices: &[RekeyDevice]) {
    w.uint(devices.len() as u64);
    for d in devices {
        d.device.write(w);
        match &d.wrap_key {
            Some(key) => {
                w.u8(1);
                key.write(w);
            }
            None => w.u8(0),
        }
    }
}

pub(crate) fn read_devices(r: &mut Reader<'_>) -> Result<Vec<RekeyDevice>, ProtocolError> {
    let n = r.count("devices", MAX_REKEY_DEVICES, 2)?;
    (0..n)
        .map(|_| {
            Ok(RekeyDevice {
                device: DeviceId::read(r)?,
                wrap_key: match r.bool()? {
                    true => Some(WrapKey::read(r)?),
                    false => None,
                },
            })
        })
        .collect()
}

pub(crate) fn write_wraps(w: &mut Writer, wraps: &[WrappedSecret]) {
    w.uint(wraps.len() as u64);
    for wrap in wraps {
        wrap.device.write(w);
        w.bytes(&wrap.sealed);
    }
}

pub(crate) fn read_wraps(r: &mut Reader<'_>) -> Result<Vec<WrappedSecret>, ProtocolError> {
    let n = r.count("wrapped secrets", MAX_REKEY_DEVICES, 2)?;
    (0..n)
        .map(|_| {
            Ok(WrappedSecret {
                device: DeviceId::read(r)?,
                sealed: r.bytes("wrapped secret", MAX_WRAPPED)?.to_vec(),
            })
        })
        .collect()
}
