//! Names on the wire (account, device, credential) and the sealed entry, the only
//! form in which a device's data ever leaves it.

use std::fmt;

use super::codec::{Reader, Writer};
use super::{ProtocolError, MAX_DEVICE_ID, MAX_ENTRY};

/// The public id of an account, derived from its secret: names it, opens nothing.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(pub [u8; 16]);

impl AccountId {
    /// The id as 32 lower-case hex characters.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }
}

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountId({})", self.to_hex())
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// What a device shows the relay to be let into its account. The relay keeps only
/// a hash of it. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential(pub [u8; 32]);

impl Credential {
    /// The hash the relay stores in place of the credential.
    pub fn verifier(&self) -> [u8; 32] {
        *blake3::hash(&self.0).as_bytes()
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credential(..)")
    }
}

/// The name of one device's log: 1 to 64 characters of `0-9`, `a-z` and `-`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceId(String);

impl DeviceId {
    /// Checks `id` is a well-formed device id.
    pub fn new(id: &str) -> Result<DeviceId, ProtocolError> {
        let ok = !id.is_empty()
            && id.len() <= MAX_DEVICE_ID
            && id
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase() || b == b'-');
        if ok {
            Ok(DeviceId(id.to_string()))
        } else {
            Err(ProtocolError::Invalid("device id"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        w.str(&self.0);
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<DeviceId, ProtocolError> {
        DeviceId::new(r.str("device id", MAX_DEVICE_ID)?)
    }
}

impl fmt::Debug for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceId({})", self.0)
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Entry `seq` of `device`'s log, encrypted and authenticated on the device. The
/// relay stores and forwards these bytes; only a device holding the account key can
/// open them, and only under the same account, device and sequence number.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedEntry {
    pub device: DeviceId,
    /// Position in the device's log, from 1.
    pub seq: u64,
    /// Nonce followed by ciphertext and tag.
    pub sealed: Vec<u8>,
}

impl SealedEntry {
    /// The fewest bytes an entry takes on the wire.
    pub(crate) const MIN_WIRE: usize = 3;

    pub(crate) fn write(&self, w: &mut Writer) {
        self.device.write(w);
        w.uint(self.seq);
        w.bytes(&self.sealed);
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<SealedEntry, ProtocolError> {
        let device = DeviceId::read(r)?;
        let seq = r.uint()?;
        if seq == 0 {
            return Err(ProtocolError::Invalid("sequence number 0"));
        }
        let sealed = r.bytes("sealed entry", MAX_ENTRY)?.to_vec();
        Ok(SealedEntry {
            device,
            seq,
            sealed,
        })
    }
}

impl fmt::Debug for SealedEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SealedEntry({} #{}, {} bytes)",
            self.device,
            self.seq,
            self.sealed.len()
        )
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
