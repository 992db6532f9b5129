//! Per-client data keys, kept in their own table beside the event log and never in an event.
//!
//! The store only keeps the bytes: it creates a key from the operating system's random source,
//! hands it out, and destroys it by overwriting it with NULL. What the key encrypts, and how, is
//! the caller's business (`docs/adr/0004-crypto-shredding.md`). Destroying a key is the one
//! mutation the ledger allows, and it touches only the key table, never `events`.

use chrono::{DateTime, Utc};
use zeroize::Zeroizing;

use crate::error::{Result, StoreError};

/// Length of a data key in bytes (a 256-bit AEAD key).
pub const DATA_KEY_BYTES: usize = 32;
/// Longest client id a key row accepts, in bytes; the same bound as an envelope's client id.
pub const MAX_KEY_CLIENT_ID_BYTES: usize = 128;
/// Longest reason recorded with a destroyed key, in bytes.
pub const MAX_DESTROY_REASON_BYTES: usize = 256;

/// A 32-byte data key. Its bytes are wiped from memory when it is dropped and never printed,
/// so a key does not linger in freed memory or leak into logs through `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Key32(Zeroizing<[u8; DATA_KEY_BYTES]>);

impl Key32 {
    /// Wraps key bytes.
    pub fn new(bytes: [u8; DATA_KEY_BYTES]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// A fresh key from the operating system's random source.
    pub fn generate() -> Result<Self> {
        let mut bytes = Zeroizing::new([0_u8; DATA_KEY_BYTES]);
        getrandom::fill(bytes.as_mut_slice()).map_err(|e| {
            StoreError::Unavailable(format!("the operating system's random source failed: {e}"))
        })?;
        Ok(Self(bytes))
    }

    /// A key read back from the database; anything but exactly 32 bytes is a corrupt row.
    pub fn from_stored(client_id: &str, bytes: &[u8]) -> Result<Self> {
        let array: [u8; DATA_KEY_BYTES] =
            bytes.try_into().map_err(|_| StoreError::CorruptKeyRow {
                client_id: client_id.to_owned(),
                detail: format!("the key is {} bytes, not {DATA_KEY_BYTES}", bytes.len()),
            })?;
        Ok(Self::new(array))
    }

    /// The key bytes, for the cipher.
    pub fn as_bytes(&self) -> &[u8; DATA_KEY_BYTES] {
        &self.0
    }
}

impl std::fmt::Debug for Key32 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key32(<redacted>)")
    }
}

/// The state of a client's data key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataKey {
    /// The key exists; personal data encrypted under it can be read.
    Active(Key32),
    /// The key was destroyed at this instant: data encrypted under it is unreadable forever.
    Destroyed { at: DateTime<Utc> },
    /// The client never had a key (and `create` was false).
    Missing,
}

/// Checks a client id given to the key API: 1-128 bytes without control characters, like an
/// envelope's client id.
pub fn validate_key_client_id(client_id: &str) -> Result<()> {
    let ok = !client_id.is_empty()
        && client_id.len() <= MAX_KEY_CLIENT_ID_BYTES
        && !client_id.chars().any(char::is_control);
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidKeyClientId {
            client_id: client_id.chars().take(MAX_KEY_CLIENT_ID_BYTES).collect(),
        })
    }
}

/// Checks the reason recorded with a destruction: at most 256 bytes, no control characters.
pub fn validate_destroy_reason(reason: &str) -> Result<()> {
    if reason.len() <= MAX_DESTROY_REASON_BYTES && !reason.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(StoreError::InvalidDestroyReason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_differ_and_never_print_their_bytes() {
        let a = Key32::generate().unwrap();
        let b = Key32::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(format!("{a:?}"), "Key32(<redacted>)");
    }

    #[test]
    fn stored_keys_must_be_32_bytes() {
        assert!(Key32::from_stored("acme", &[7_u8; DATA_KEY_BYTES]).is_ok());
        assert!(matches!(
            Key32::from_stored("acme", &[7_u8; 31]),
            Err(StoreError::CorruptKeyRow { .. })
        ));
    }

    #[test]
    fn client_ids_and_reasons_are_checked() {
        assert!(validate_key_client_id("acme").is_ok());
        assert!(validate_key_client_id("").is_err());
        assert!(validate_key_client_id("a\nb").is_err());
        assert!(validate_key_client_id(&"x".repeat(MAX_KEY_CLIENT_ID_BYTES + 1)).is_err());
        assert!(validate_destroy_reason("R-RET-2 deadline passed").is_ok());
        assert!(validate_destroy_reason(&"x".repeat(MAX_DESTROY_REASON_BYTES + 1)).is_err());
    }
}
