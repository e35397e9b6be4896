//! Sealing a log entry for the relay and opening one from it.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use super::AccountKeys;
use crate::protocol::{AccountId, DeviceId, SealedEntry};
use crate::{Error, Result};

const NONCE: usize = 24;
const TAG: usize = 16;
/// What sealing adds to a plaintext: the nonce and the tag.
pub(super) const SEAL_OVERHEAD: usize = NONCE + TAG;

/// Entry `seq` of `device`'s log in plaintext: only ever held on a device.
#[derive(Clone, PartialEq, Eq)]
pub struct OpenEntry {
    pub device: DeviceId,
    pub seq: u64,
    pub plaintext: Vec<u8>,
}

impl std::fmt::Debug for OpenEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "OpenEntry({} #{}, {} bytes)",
            self.device,
            self.seq,
            self.plaintext.len()
        )
    }
}

/// What the tag authenticates besides the ciphertext: which account, device and
/// position the entry belongs to.
fn associated_data(account: &AccountId, device: &DeviceId, seq: u64) -> Vec<u8> {
    let mut ad = Vec::with_capacity(64);
    ad.extend_from_slice(b"aftercall entry v1");
    ad.extend_from_slice(&account.0);
    ad.push(device.as_str().len() as u8);
    ad.extend_from_slice(device.as_str().as_bytes());
    ad.extend_from_slice(&seq.to_be_bytes());
    ad
}

/// Seals `entry` under the account key.
///
/// Sealing is deterministic: the nonce is a keyed hash of the entry's account,
/// device, position and plaintext, so the same entry always seals to the same bytes
/// and two different entries never share a nonce. A device can therefore send an
/// entry again byte for byte (a repair, a re-push after a lost acknowledgement) and
/// tell whether the relay's copy of an entry is the one it wrote.
pub fn seal(keys: &AccountKeys, entry: &OpenEntry) -> SealedEntry {
    let ad = associated_data(&keys.account, &entry.device, entry.seq);
    SealedEntry {
        device: entry.device.clone(),
        seq: entry.seq,
        sealed: seal_bytes(keys, &ad, &entry.plaintext),
    }
}

/// Seals `plaintext` under the account key with associated data `ad`: the nonce is a
/// keyed hash of both, so the same input always seals to the same bytes.
pub(super) fn seal_bytes(keys: &AccountKeys, ad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let cipher = XChaCha20Poly1305::new((&keys.seal_key).into());
    let mut hasher = blake3::Hasher::new_keyed(&keys.nonce_key);
    hasher.update(ad);
    hasher.update(plaintext);
    let mut nonce = [0u8; NONCE];
    nonce.copy_from_slice(&hasher.finalize().as_bytes()[..NONCE]);
    let ciphertext = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: ad,
            },
        )
        // Encryption fails only for plaintexts beyond 256 GiB.
        .unwrap_or_default();
    let mut sealed = Vec::with_capacity(NONCE + ciphertext.len());
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(&ciphertext);
    sealed
}

/// Opens what [`seal_bytes`] sealed with the same `ad`; `None` when it was sealed
/// under another key or other associated data, or a single bit changed.
pub(super) fn open_bytes(keys: &AccountKeys, ad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < NONCE + TAG {
        return None;
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE);
    let cipher = XChaCha20Poly1305::new((&keys.seal_key).into());
    cipher
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: ad,
            },
        )
        .ok()
}

/// Opens a sealed entry; fails if it was sealed under another key, or for another
/// account, device or position, or if a single bit changed.
pub fn open(keys: &AccountKeys, entry: &SealedEntry) -> Result<OpenEntry> {
    if entry.sealed.len() < NONCE + TAG {
        return Err(Error::Decode(format!(
            "entry {} of device {} is too short to be sealed",
            entry.seq, entry.device
        )));
    }
    let ad = associated_data(&keys.account, &entry.device, entry.seq);
    let plaintext = open_bytes(keys, &ad, &entry.sealed).ok_or_else(|| {
        Error::Decode(format!(
            "entry {} of device {} does not open with this account's key",
            entry.seq, entry.device
        ))
    })?;
    Ok(OpenEntry {
        device: entry.device.clone(),
        seq: entry.seq,
        plaintext,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::AccountSecret;
    use crate::env::SeededEntropy;

    fn keys(seed: u64) -> AccountKeys {
        AccountSecret::generate(&mut SeededEntropy::new(seed)).keys()
    }

    fn entry() -> OpenEntry {
        OpenEntry {
            device: DeviceId::new("phone").unwrap(),
            seq: 3,
            plaintext: b"met Ada at the conference".to_vec(),
        }
    }

    #[test]
    fn a_sealed_entry_opens_with_the_same_key_and_hides_the_text() {
        let sealed = seal(&keys(1), &entry());
        assert!(!sealed.sealed.windows(3).any(|w| w == b"Ada"));
        assert_eq!(open(&keys(1), &sealed).unwrap(), entry());
    }

    #[test]
    fn the_same_entry_seals_to_the_same_bytes_and_another_to_another_nonce() {
        let a = seal(&keys(1), &entry());
        assert_eq!(a, seal(&keys(1), &entry()));
        let mut other = entry();
        other.plaintext.push(b'!');
        let b = seal(&keys(1), &other);
        assert_ne!(a.sealed[..NONCE], b.sealed[..NONCE]);
        let mut later = entry();
        later.seq += 1;
        assert_ne!(a.sealed[..NONCE], seal(&keys(1), &later).sealed[..NONCE]);
        assert_ne!(a.sealed, seal(&keys(2), &entry()).sealed);
    }

    #[test]
    fn another_key_a_flipped_bit_or_a_relabelled_entry_does_not_open() {
        let sealed = seal(&keys(1), &entry());
        assert!(open(&keys(2), &sealed).is_err());
        for i in [0, 30, sealed.sealed.len() - 1] {
            let mut flipped = sealed.clone();
            flipped.sealed[i] ^= 1;
            assert!(open(&keys(1), &flipped).is_err());
        }
        let mut moved = sealed.clone();
        moved.seq = 4;
        assert!(open(&keys(1), &moved).is_err());
        let mut relabelled = sealed;
        relabelled.device = DeviceId::new("laptop").unwrap();
        assert!(open(&keys(1), &relabelled).is_err());
    }
}
