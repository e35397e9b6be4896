//! Account keys and sealing: what makes the relay unable to read a word.
//!
//! - [`AccountSecret`]: 256 random bits, shown to the user as a 24-word recovery
//!   phrase (BIP39) and as a QR code ([`qr_svg`]), which a second device's camera reads back
//!   ([`read_qr`]).
//! - [`AccountKeys`]: derived from the secret with BLAKE3 `derive_key`: the sealing
//!   key, the public [`AccountId`](crate::protocol::AccountId) and the relay
//!   [`Credential`](crate::protocol::Credential).
//! - [`seal`] / [`open`]: XChaCha20-Poly1305; the associated data binds account,
//!   device and sequence number, so the relay can neither reorder nor relabel entries.
//!   [`OpenEntry`] (plaintext) and [`SealedEntry`](crate::protocol::SealedEntry)
//!   (ciphertext) are different types; only the sealed one goes on the wire.
//! - [`seal_checkpoint`] / [`CheckpointReader`]: a snapshot of the account sealed
//!   in chunks whose associated data binds account, checkpoint id, index and count;
//!   the id is a keyed hash of the whole, checked once every chunk has opened.
//! - [`DeviceSecret`] (a device's own relay credential is derived from it) and
//!   [`DeviceName`], sealed for the relay with [`seal_device_name`].
//! - [`BlobSealer`] / [`BlobReader`]: an attachment's content sealed in chunks whose
//!   associated data binds account, blob id, index and count, with deterministic
//!   nonces (two devices seal one file alike); the relay's name for it
//!   ([`blob_id`]) is a hash of the content hash keyed by the account.
//! - [`wrap_key`] / [`wrap_secret`] / [`unwrap_secret`]: re-keying. Each device
//!   has an X25519 wrap key derived from its own secret, registered with a MAC under
//!   the account key; a rotating device seals the new account secret to each
//!   remaining device's key, bound to the old account key, so neither the relay nor
//!   a removed device opens it.

mod blob;
mod checkpoint;
mod device;
mod qr;
mod rekey;
mod seal;
mod secret;

pub use blob::{
    blob_chunk_count, blob_id, blob_sealed_len, seal_blob, BlobFault, BlobReader, BlobSealer,
    BLOB_CHUNK_PLAINTEXT, MAX_BLOB_PLAINTEXT,
};
pub use checkpoint::{
    seal_checkpoint, CheckpointFault, CheckpointReader, OpenCheckpoint, CHUNK_PLAINTEXT,
};
pub use device::{open_device_name, seal_device_name, DeviceName, DeviceSecret, MAX_DEVICE_NAME};
pub use qr::{qr_svg, read_qr};
pub use rekey::{unwrap_secret, wrap_key, wrap_key_is_genuine, wrap_secret, WRAPPED_LEN};
pub use seal::{open, seal, OpenEntry};
pub use secret::{AccountKeys, AccountSecret};
