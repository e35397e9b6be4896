//! Re-keying: each device's wrap key, and a new account secret sealed to it.
//!
//! A device's wrap key is an X25519 key pair derived from its own secret; the
//! public half goes to the relay with a MAC under the account's rekey key, so the
//! relay cannot slip in a key of its own. A rotating device seals the new account
//! secret to each remaining device's public key with an ephemeral key pair; the
//! sealing key mixes the shared secret with the old account's rekey key, so only a
//! device holding both its private key and the old account key opens it, and the
//! relay cannot forge a move to an account of its choosing. The associated data
//! binds the old account, the new one and the device.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use x25519_dalek::{PublicKey, StaticSecret};

use super::{AccountKeys, AccountSecret, DeviceSecret};
use crate::env::Entropy;
use crate::protocol::{AccountId, DeviceId, WrapKey};
use crate::{Error, Result};

const NONCE: usize = 24;
/// The length of a wrapped secret: ephemeral public key, nonce, sealed secret, tag.
pub const WRAPPED_LEN: usize = 32 + NONCE + 32 + 16;

fn wrap_mac(keys: &AccountKeys, device: &DeviceId, public: &[u8; 32]) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new_keyed(&keys.rekey_key);
    hasher.update(b"aftercall wrap key v1");
    hasher.update(&keys.account.0);
    hasher.update(&[device.as_str().len() as u8]);
    hasher.update(device.as_str().as_bytes());
    hasher.update(public);
    *hasher.finalize().as_bytes()
}

/// This device's wrap key, authenticated under the account key.
pub fn wrap_key(keys: &AccountKeys, device: &DeviceId, secret: &DeviceSecret) -> WrapKey {
    let private = StaticSecret::from(secret.wrap_private());
    let public = PublicKey::from(&private).to_bytes();
    WrapKey {
        public,
        mac: wrap_mac(keys, device, &public),
    }
}

/// Whether `key` was made by a device holding this account's key for `device`.
pub fn wrap_key_is_genuine(keys: &AccountKeys, device: &DeviceId, key: &WrapKey) -> bool {
    // Comparing blake3 hashes is constant-time.
    blake3::Hash::from(wrap_mac(keys, device, &key.public)) == blake3::Hash::from(key.mac)
}

fn sealing_key(
    old: &AccountKeys,
    shared: &[u8; 32],
    ephemeral: &[u8; 32],
    public: &[u8; 32],
) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new_keyed(&old.rekey_key);
    hasher.update(b"aftercall rekey wrap v1");
    hasher.update(shared);
    hasher.update(ephemeral);
    hasher.update(public);
    *hasher.finalize().as_bytes()
}

fn wrap_ad(old: &AccountId, to: &AccountId, device: &DeviceId) -> Vec<u8> {
    let mut ad = Vec::with_capacity(64);
    ad.extend_from_slice(b"aftercall rekey v1");
    ad.extend_from_slice(&old.0);
    ad.extend_from_slice(&to.0);
    ad.push(device.as_str().len() as u8);
    ad.extend_from_slice(device.as_str().as_bytes());
    ad
}

/// Seals `new` to `device`'s wrap key. A key whose MAC does not check under `old`
/// is refused: it was not made by a device of this account.
pub fn wrap_secret(
    old: &AccountKeys,
    device: &DeviceId,
    key: &WrapKey,
    new: &AccountSecret,
    entropy: &mut dyn Entropy,
) -> Result<Vec<u8>> {
    if !wrap_key_is_genuine(old, device, key) {
        return Err(Error::Invalid(format!(
            "the wrap key the relay gave for device {device} was not made with this account's key"
        )));
    }
    let mut bytes = [0u8; 32];
    entropy.fill(&mut bytes);
    let ephemeral = StaticSecret::from(bytes);
    let ephemeral_public = PublicKey::from(&ephemeral).to_bytes();
    let shared = ephemeral.diffie_hellman(&PublicKey::from(key.public));
    if !shared.was_contributory() {
        return Err(Error::Invalid(format!(
            "the wrap key for device {device} is not a usable key"
        )));
    }
    let sealing = sealing_key(old, shared.as_bytes(), &ephemeral_public, &key.public);
    let mut nonce = [0u8; NONCE];
    entropy.fill(&mut nonce);
    let to = new.keys().account;
    let ciphertext = XChaCha20Poly1305::new((&sealing).into())
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: new.as_bytes(),
                aad: &wrap_ad(&old.account, &to, device),
            },
        )
        .map_err(|_| Error::Invalid("the new account secret could not be sealed".into()))?;
    let mut out = Vec::with_capacity(WRAPPED_LEN);
    out.extend_from_slice(&ephemeral_public);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

/// Opens the new account secret `wrapped` for this device, moving it from the
/// account `old` to `to`. Fails unless it was sealed to this device's wrap key by a
/// holder of the old account key, and the secret is really `to`'s.
pub fn unwrap_secret(
    old: &AccountKeys,
    device: &DeviceId,
    secret: &DeviceSecret,
    to: &AccountId,
    wrapped: &[u8],
) -> Result<AccountSecret> {
    let refused = || {
        Error::Decode(
            "the relay says this account moved to a new key, but the new key it gave does not open for this device: the move is not genuine".into(),
        )
    };
    if wrapped.len() != WRAPPED_LEN {
        return Err(refused());
    }
    let (ephemeral_public, rest) = wrapped.split_at(32);
    let (nonce, ciphertext) = rest.split_at(NONCE);
    let ephemeral_public: [u8; 32] = ephemeral_public.try_into().map_err(|_| refused())?;
    let private = StaticSecret::from(secret.wrap_private());
    let public = PublicKey::from(&private).to_bytes();
    let shared = private.diffie_hellman(&PublicKey::from(ephemeral_public));
    if !shared.was_contributory() {
        return Err(refused());
    }
    let sealing = sealing_key(old, shared.as_bytes(), &ephemeral_public, &public);
    let plain = XChaCha20Poly1305::new((&sealing).into())
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: &wrap_ad(&old.account, to, device),
            },
        )
        .map_err(|_| refused())?;
    let bytes: [u8; 32] = plain.as_slice().try_into().map_err(|_| refused())?;
    let new = AccountSecret::from_bytes(bytes);
    if new.keys().account != *to {
        return Err(refused());
    }
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::SeededEntropy;

    fn setup() -> (AccountKeys, AccountSecret, DeviceId, DeviceSecret) {
        let mut entropy = SeededEntropy::new(41);
        let old = AccountSecret::generate(&mut entropy).keys();
        let new = AccountSecret::generate(&mut entropy);
        let device = DeviceId::new("phone").unwrap();
        let secret = DeviceSecret::generate(&mut entropy);
        (old, new, device, secret)
    }

    #[test]
    fn a_wrapped_secret_opens_for_its_device_only() {
        let (old, new, device, secret) = setup();
        let key = wrap_key(&old, &device, &secret);
        assert!(wrap_key_is_genuine(&old, &device, &key));
        let wrapped = wrap_secret(&old, &device, &key, &new, &mut SeededEntropy::new(1)).unwrap();
        assert_eq!(wrapped.len(), WRAPPED_LEN);
        let to = new.keys().account;
        assert_eq!(
            unwrap_secret(&old, &device, &secret, &to, &wrapped).unwrap(),
            new
        );
        // Another device's secret (the removed phone's), another device id, another
        // old account, another target: none opens it.
        let other = DeviceSecret::generate(&mut SeededEntropy::new(2));
        assert!(unwrap_secret(&old, &device, &other, &to, &wrapped).is_err());
        let laptop = DeviceId::new("laptop").unwrap();
        assert!(unwrap_secret(&old, &laptop, &secret, &to, &wrapped).is_err());
        let stranger = AccountSecret::generate(&mut SeededEntropy::new(3)).keys();
        assert!(unwrap_secret(&stranger, &device, &secret, &to, &wrapped).is_err());
        assert!(unwrap_secret(&old, &device, &secret, &stranger.account, &wrapped).is_err());
        for i in [0, 40, wrapped.len() - 1] {
            let mut flipped = wrapped.clone();
            flipped[i] ^= 1;
            assert!(unwrap_secret(&old, &device, &secret, &to, &flipped).is_err());
        }
        assert!(unwrap_secret(&old, &device, &secret, &to, &wrapped[..50]).is_err());
    }

    #[test]
    fn a_wrap_key_the_relay_made_up_is_refused() {
        let (old, new, device, secret) = setup();
        let mut key = wrap_key(&old, &device, &secret);
        key.public = PublicKey::from(&StaticSecret::from([9u8; 32])).to_bytes();
        assert!(!wrap_key_is_genuine(&old, &device, &key));
        assert!(wrap_secret(&old, &device, &key, &new, &mut SeededEntropy::new(1)).is_err());
        // A genuine key under another device's name is not genuine either.
        let genuine = wrap_key(&old, &device, &secret);
        assert!(!wrap_key_is_genuine(
            &old,
            &DeviceId::new("laptop").unwrap(),
            &genuine
        ));
    }

    #[test]
    fn a_move_the_relay_forges_without_the_old_key_does_not_open() {
        // The relay knows the device's public key but not the old account key: a
        // secret it seals to that key under another account's key is refused.
        let (old, _, device, secret) = setup();
        let relay = AccountSecret::generate(&mut SeededEntropy::new(5)).keys();
        let key = wrap_key(&old, &device, &secret);
        let forged_key = WrapKey {
            public: key.public,
            mac: wrap_mac(&relay, &device, &key.public),
        };
        let chosen = AccountSecret::generate(&mut SeededEntropy::new(6));
        let forged = wrap_secret(
            &relay,
            &device,
            &forged_key,
            &chosen,
            &mut SeededEntropy::new(7),
        )
        .unwrap();
        let to = chosen.keys().account;
        assert!(unwrap_secret(&old, &device, &secret, &to, &forged).is_err());
    }
}
