//! The account secret, its recovery phrase, and the keys derived from it.

use std::fmt;

use crate::env::Entropy;
use crate::protocol::{AccountId, Credential};
use crate::{Error, Result};

/// The 256-bit root of an account. Whoever holds it can read and write the
/// account's data; it is never printed and never sent anywhere.
#[derive(Clone, PartialEq, Eq)]
pub struct AccountSecret([u8; 32]);

impl fmt::Debug for AccountSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccountSecret(..)")
    }
}

impl AccountSecret {
    /// A fresh secret from `entropy`.
    pub fn generate(entropy: &mut dyn Entropy) -> AccountSecret {
        let mut bytes = [0u8; 32];
        entropy.fill(&mut bytes);
        AccountSecret(bytes)
    }

    pub fn from_bytes(bytes: [u8; 32]) -> AccountSecret {
        AccountSecret(bytes)
    }

    /// The 24-word recovery phrase.
    pub fn phrase(&self) -> String {
        match bip39::Mnemonic::from_entropy(&self.0) {
            Ok(m) => m.to_string(),
            // 32 bytes is always a valid BIP39 entropy length.
            Err(_) => String::new(),
        }
    }

    /// Reads a recovery phrase back; spacing and case do not matter.
    pub fn from_phrase(phrase: &str) -> Result<AccountSecret> {
        let normal = phrase
            .split_whitespace()
            .map(str::to_lowercase)
            .collect::<Vec<_>>()
            .join(" ");
        let words = normal.split(' ').filter(|w| !w.is_empty()).count();
        if words != 24 {
            return Err(Error::Invalid(format!(
                "a recovery phrase has 24 words, this one has {words}; copy it again from the first device"
            )));
        }
        let mnemonic = bip39::Mnemonic::parse_in_normalized(bip39::Language::English, &normal)
            .map_err(|e| {
                Error::Invalid(format!(
                    "this is not a valid recovery phrase ({e}); check each word against the first device"
                ))
            })?;
        let entropy = mnemonic.to_entropy();
        let bytes: [u8; 32] = entropy.as_slice().try_into().map_err(|_| {
            Error::Invalid(
                "a recovery phrase has 24 words; copy it again from the first device".into(),
            )
        })?;
        Ok(AccountSecret(bytes))
    }

    pub(super) fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The secret as hex, for the device's key file.
    pub fn to_hex(&self) -> String {
        crate::env::hex(&self.0)
    }

    /// Reads the device's key file back.
    pub fn from_hex(text: &str) -> Result<AccountSecret> {
        let text = text.trim();
        let bytes: Vec<u8> = (0..text.len() / 2)
            .filter_map(|i| text.get(2 * i..2 * i + 2))
            .filter_map(|pair| u8::from_str_radix(pair, 16).ok())
            .collect();
        let bytes: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .ok()
            .filter(|_| text.len() == 64)
            .ok_or_else(|| {
                Error::Invalid("the account key file is damaged; pair this device again with the recovery phrase".into())
            })?;
        Ok(AccountSecret(bytes))
    }

    /// The keys derived from this secret.
    pub fn keys(&self) -> AccountKeys {
        let account = blake3::derive_key("aftercall 2026 account id v1", &self.0);
        let mut id = [0u8; 16];
        id.copy_from_slice(&account[..16]);
        AccountKeys {
            account: AccountId(id),
            credential: Credential(blake3::derive_key(
                "aftercall 2026 relay credential v1",
                &self.0,
            )),
            seal_key: blake3::derive_key("aftercall 2026 entry sealing key v1", &self.0),
            nonce_key: blake3::derive_key("aftercall 2026 entry nonce key v1", &self.0),
            blob_key: blake3::derive_key("aftercall 2026 blob id key v1", &self.0),
            rekey_key: blake3::derive_key("aftercall 2026 rekey key v1", &self.0),
        }
    }
}

/// Everything a device derives from the account secret.
#[derive(Clone)]
pub struct AccountKeys {
    /// The public name of the account on the relay.
    pub account: AccountId,
    /// What the device shows the relay; the relay keeps only its hash.
    pub credential: Credential,
    pub(crate) seal_key: [u8; 32],
    /// Keys the nonce derived from an entry's position and contents.
    pub(crate) nonce_key: [u8; 32],
    /// Keys the relay's name for a blob, derived from its content hash.
    pub(crate) blob_key: [u8; 32],
    /// Authenticates devices' wrap keys, and binds a new secret sealed to one of
    /// them to this account.
    pub(crate) rekey_key: [u8; 32],
}

impl fmt::Debug for AccountKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountKeys")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::SeededEntropy;

    #[test]
    fn the_recovery_phrase_gives_back_the_same_account() {
        let secret = AccountSecret::generate(&mut SeededEntropy::new(7));
        let phrase = secret.phrase();
        assert_eq!(phrase.split(' ').count(), 24);
        let again = AccountSecret::from_phrase(&format!("  {}  ", phrase.to_uppercase())).unwrap();
        assert_eq!(again, secret);
        assert_eq!(again.keys().account, secret.keys().account);
        assert_eq!(AccountSecret::from_hex(&secret.to_hex()).unwrap(), secret);
    }

    #[test]
    fn a_mistyped_phrase_is_refused_with_a_reason() {
        let phrase = AccountSecret::generate(&mut SeededEntropy::new(8)).phrase();
        let mut words: Vec<&str> = phrase.split(' ').collect();
        words.swap(0, 1);
        let swapped = words.join(" ");
        // Swapping two words breaks the checksum (almost always; this seed does).
        assert!(AccountSecret::from_phrase(&swapped).is_err());
        let err = AccountSecret::from_phrase("abandon abandon").unwrap_err();
        assert!(err.to_string().contains("24 words"), "{err}");
    }

    #[test]
    fn keys_differ_from_each_other_and_from_the_secret() {
        let secret = AccountSecret::generate(&mut SeededEntropy::new(9));
        let keys = secret.keys();
        assert_ne!(keys.credential.0, keys.seal_key);
        assert_ne!(keys.seal_key, secret.0);
        assert!(!format!("{keys:?}").contains(&crate::env::hex(&keys.seal_key)));
    }
}
