//! The desk's secrets: password hashes (argon2id), bearer tokens and session cookies (256-bit
//! random secrets kept only as BLAKE3 hashes), and their constant-time comparison.
//!
//! Why two hash functions (`docs/adr/0007-desk-access.md`): a password is chosen by a person
//! and may be guessed, so it gets a slow, memory-hard hash; a token or session secret is 256
//! random bits that no one can guess, so a fast hash loses nothing, and it keeps every API
//! request from paying for argon2.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use opsledger_store::desk::TOKEN_ID_CHARS;
use opsledger_store::Hash;
use subtle::ConstantTimeEq;

use crate::error::{AppError, AppResult};

/// Shortest password accepted, in bytes.
pub const MIN_PASSWORD_BYTES: usize = 8;
/// Longest password accepted, in bytes.
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// What every bearer token starts with, so a leaked one is recognisable in logs and scanners.
pub const TOKEN_PREFIX: &str = "olt_";
/// Random bytes in a token or session secret (256 bits).
pub const SECRET_BYTES: usize = 32;

const TOKEN_CONTEXT: &str = "opsledger desk token secret v1";
const SESSION_CONTEXT: &str = "opsledger desk session secret v1";

/// `n` bytes from the operating system's random source.
fn random<const N: usize>() -> AppResult<[u8; N]> {
    let mut bytes = [0_u8; N];
    getrandom::fill(&mut bytes).map_err(|e| {
        AppError::Internal(format!("the operating system's random source failed: {e}"))
    })?;
    Ok(bytes)
}

/// Checks a password's length.
pub fn check_password(password: &str) -> AppResult<()> {
    if (MIN_PASSWORD_BYTES..=MAX_PASSWORD_BYTES).contains(&password.len()) {
        Ok(())
    } else {
        Err(AppError::InvalidRequest {
            what: "password".to_owned(),
            detail: format!("must be {MIN_PASSWORD_BYTES} to {MAX_PASSWORD_BYTES} bytes"),
        })
    }
}

/// The argon2id hash of `password` as a PHC string, with a fresh random salt. Slow by design,
/// so it runs off the async runtime's threads.
pub async fn hash_password(password: &str) -> AppResult<String> {
    check_password(password)?;
    let salt = random::<16>()?;
    let password = zeroize::Zeroizing::new(password.to_owned());
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::encode_b64(&salt)
            .map_err(|e| AppError::Internal(format!("encoding a salt: {e}")))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AppError::Internal(format!("hashing a password: {e}")))
    })
    .await
    .map_err(|e| AppError::Internal(format!("the password hashing task failed: {e}")))?
}

/// Whether `password` matches the PHC string `stored` (the comparison inside argon2 is
/// constant-time). An unreadable stored hash matches nothing.
pub async fn verify_password(password: &str, stored: &str) -> AppResult<bool> {
    let password = zeroize::Zeroizing::new(password.to_owned());
    let stored = stored.to_owned();
    tokio::task::spawn_blocking(move || match PasswordHash::new(&stored) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    })
    .await
    .map_err(|e| AppError::Internal(format!("the password checking task failed: {e}")))
}

/// A new token: its public id and its secret, both lowercase hex.
pub fn new_token() -> AppResult<(String, String)> {
    let id = hex::encode(random::<{ TOKEN_ID_CHARS / 2 }>()?);
    let secret = hex::encode(random::<SECRET_BYTES>()?);
    Ok((id, secret))
}

/// The bearer text shown once: `olt_<id>_<secret>`.
pub fn bearer_text(id: &str, secret: &str) -> String {
    format!("{TOKEN_PREFIX}{id}_{secret}")
}

/// Splits bearer text into its id and secret bytes; `None` when it is not shaped like one.
pub fn parse_bearer(bearer: &str) -> Option<(&str, [u8; SECRET_BYTES])> {
    let rest = bearer.trim().strip_prefix(TOKEN_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    if id.len() != TOKEN_ID_CHARS || !id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut bytes = [0_u8; SECRET_BYTES];
    hex::decode_to_slice(secret, &mut bytes).ok()?;
    Some((id, bytes))
}

/// What is stored of a token secret.
pub fn token_hash(secret: &[u8]) -> Hash {
    Hash(blake3::derive_key(TOKEN_CONTEXT, secret))
}

/// Compares two hashes in constant time: how long it takes says nothing about where they
/// differ.
pub fn same_hash(a: &Hash, b: &Hash) -> bool {
    a.0.ct_eq(&b.0).into()
}

/// A new session secret, as the cookie carries it (lowercase hex).
pub fn new_session_secret() -> AppResult<String> {
    Ok(hex::encode(random::<SECRET_BYTES>()?))
}

/// What is stored of a session secret (and what finds it); `None` for cookie text that is not
/// a secret this desk issued.
pub fn session_hash(cookie: &str) -> Option<Hash> {
    let mut bytes = [0_u8; SECRET_BYTES];
    hex::decode_to_slice(cookie.trim(), &mut bytes).ok()?;
    Some(Hash(blake3::derive_key(SESSION_CONTEXT, &bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_text_round_trips_and_malformed_text_is_refused() {
        let (id, secret) = new_token().unwrap();
        let text = bearer_text(&id, &secret);
        let (parsed_id, bytes) = parse_bearer(&text).unwrap();
        assert_eq!(parsed_id, id);
        assert_eq!(hex::encode(bytes), secret);
        for bad in [
            "",
            "olt_",
            &text.replace("olt_", "xyz_"),
            &text[..text.len() - 2],
            &text.to_uppercase(),
        ] {
            assert!(parse_bearer(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn token_and_session_hashes_differ_for_the_same_bytes() {
        let secret = [7_u8; SECRET_BYTES];
        let cookie = hex::encode(secret);
        assert_ne!(Some(token_hash(&secret)), session_hash(&cookie));
        assert!(same_hash(&token_hash(&secret), &token_hash(&secret)));
        assert!(!same_hash(
            &token_hash(&secret),
            &token_hash(&[8_u8; SECRET_BYTES])
        ));
    }

    #[tokio::test]
    async fn a_password_verifies_against_its_hash_only() {
        let stored = hash_password("correct horse").await.unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &stored).await.unwrap());
        assert!(!verify_password("correct horsf", &stored).await.unwrap());
        assert!(!verify_password("correct horse", "not a PHC string")
            .await
            .unwrap());
        assert!(hash_password("short").await.is_err());
    }
}
