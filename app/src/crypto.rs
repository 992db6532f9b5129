//! Personal fields sealed under the client's data key on the way into the ledger and opened on
//! the way out (`docs/adr/0004-crypto-shredding.md`).
//!
//! A personal field (a JSON pointer the domain declares per event type) that holds a string is
//! stored as `"enc:v1:" + base64url-no-pad(nonce ‖ ciphertext ‖ tag)`, XChaCha20-Poly1305 under
//! the client's 32-byte data key with a random 24-byte nonce. The associated data binds the
//! ciphertext to the event id and the field's concrete pointer, so a ciphertext copied to
//! another event or field does not open. The hash chain covers the ciphertext, so destroying the
//! key changes nothing that was hashed; after that the field reads as [`SHREDDED`].

use std::collections::HashMap;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use chrono::{DateTime, Utc};
use opsledger_domain::codec;
use opsledger_domain::events::DomainEvent;
use opsledger_projections::PositionedEvent;
use opsledger_store::{DataKey, EventStore, Key32, Metadata, NewEvent, RecordedEvent};
use serde_json::Value;
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// Marks a sealed field and names its format; a new format gets a new tag beside it.
pub const CIPHERTEXT_PREFIX: &str = "enc:v1:";
/// What a personal field reads as once its client's key is destroyed.
pub const SHREDDED: &str = "[shredded]";
/// What a personal field reads as where personal data is not needed (the projections).
pub const WITHHELD: &str = "[withheld]";
/// What a personal field reads as when its stored value does not open (it is not a valid
/// sealed value, or it was sealed under another key or for another event): the event is
/// permanent, so one bad value must not stop every later read of its client (issue 12,
/// finding 2). The sealer lists each such field as an [`Unreadable`].
pub const UNREADABLE: &str = "[unreadable]";
/// XChaCha20's nonce: 24 bytes, large enough to draw at random for every field without a
/// realistic chance of reuse under one key.
const NONCE_BYTES: usize = 24;
/// Poly1305's authentication tag.
const TAG_BYTES: usize = 16;
/// Domain separation for the associated data, so it can never collide with another use of
/// the same key.
const AAD_DOMAIN: &[u8] = b"opsledger.personal-field.v1\0";
/// The pointer segment that stands for every element of an array.
const EVERY_ELEMENT: &str = "*";

/// Why a personal field could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("event {event_id}: personal field {pointer} does not open under client {client_id:?}'s key: it was altered, moved from another event or field, or sealed under another key")]
    DoesNotOpen {
        client_id: String,
        event_id: Uuid,
        pointer: String,
    },
    #[error("event {event_id}: personal field {pointer} is not a valid {CIPHERTEXT_PREFIX} value: {reason}")]
    Malformed {
        event_id: Uuid,
        pointer: String,
        reason: &'static str,
    },
    #[error("event {event_id} holds encrypted personal data of client {client_id:?}, but the client has no data key")]
    KeyMissing { client_id: String, event_id: Uuid },
    #[error("client {client_id:?}'s personal data was deleted (its key was destroyed at {at}); new personal data for it is not recorded")]
    ClientDataDeleted {
        client_id: String,
        at: DateTime<Utc>,
    },
    #[error("event {event_id}: personal field {pointer} is neither a string nor null")]
    NotAString { event_id: Uuid, pointer: String },
    #[error("event {event_id} has personal fields but no client")]
    NoClient { event_id: Uuid },
    #[error("the operating system's random source failed: {0}")]
    Random(String),
}

/// The associated data of one field: the event id and the field's concrete pointer (array
/// indexes filled in), after a domain-separation tag.
fn associated_data(event_id: Uuid, pointer: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_DOMAIN.len() + 16 + pointer.len());
    aad.extend_from_slice(AAD_DOMAIN);
    aad.extend_from_slice(event_id.as_bytes());
    aad.extend_from_slice(pointer.as_bytes());
    aad
}

/// Seals one field's text under `key`, bound to `event_id` and `pointer`.
pub fn seal_text(
    key: &Key32,
    event_id: Uuid,
    pointer: &str,
    plaintext: &str,
) -> Result<String, CryptoError> {
    let mut nonce = [0_u8; NONCE_BYTES];
    getrandom::fill(&mut nonce).map_err(|e| CryptoError::Random(e.to_string()))?;
    let cipher = XChaCha20Poly1305::new(key.as_bytes().into());
    let aad = associated_data(event_id, pointer);
    let sealed = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plaintext.as_bytes(),
                aad: &aad,
            },
        )
        .map_err(|_| CryptoError::Random("the cipher refused to encrypt".to_owned()))?;
    let mut raw = Vec::with_capacity(NONCE_BYTES + sealed.len());
    raw.extend_from_slice(&nonce);
    raw.extend_from_slice(&sealed);
    Ok(format!(
        "{CIPHERTEXT_PREFIX}{}",
        URL_SAFE_NO_PAD.encode(raw)
    ))
}

/// Opens one sealed field; `client_id` only names the key in the error.
pub fn open_text(
    key: &Key32,
    client_id: &str,
    event_id: Uuid,
    pointer: &str,
    sealed: &str,
) -> Result<String, CryptoError> {
    let malformed = |reason| CryptoError::Malformed {
        event_id,
        pointer: pointer.to_owned(),
        reason,
    };
    let encoded = sealed
        .strip_prefix(CIPHERTEXT_PREFIX)
        .ok_or_else(|| malformed("it lacks the prefix"))?;
    let raw = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| malformed("it is not unpadded base64url"))?;
    if raw.len() < NONCE_BYTES + TAG_BYTES {
        return Err(malformed("it is shorter than a nonce and a tag"));
    }
    let (nonce, body) = raw.split_at(NONCE_BYTES);
    let cipher = XChaCha20Poly1305::new(key.as_bytes().into());
    let aad = associated_data(event_id, pointer);
    let plain = cipher
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: body,
                aad: &aad,
            },
        )
        .map_err(|_| CryptoError::DoesNotOpen {
            client_id: client_id.to_owned(),
            event_id,
            pointer: pointer.to_owned(),
        })?;
    String::from_utf8(plain).map_err(|_| malformed("its plaintext is not UTF-8"))
}

/// Calls `visit` with the concrete pointer and the value of every place `pointer` names in
/// `data` (`*` = every element of an array). Absent places are skipped: an optional field left
/// out is not personal data.
pub fn visit_pointer<E>(
    data: &mut Value,
    pointer: &str,
    visit: &mut dyn FnMut(&str, &mut Value) -> Result<(), E>,
) -> Result<(), E> {
    fn walk<E>(
        value: &mut Value,
        segments: &[&str],
        concrete: &mut String,
        visit: &mut dyn FnMut(&str, &mut Value) -> Result<(), E>,
    ) -> Result<(), E> {
        let Some((first, rest)) = segments.split_first() else {
            return visit(concrete, value);
        };
        let mark = concrete.len();
        match value {
            Value::Array(items) if *first == EVERY_ELEMENT => {
                for (index, item) in items.iter_mut().enumerate() {
                    concrete.push('/');
                    concrete.push_str(&index.to_string());
                    walk(item, rest, concrete, visit)?;
                    concrete.truncate(mark);
                }
            }
            Value::Object(map) => {
                let key = first.replace("~1", "/").replace("~0", "~");
                if let Some(child) = map.get_mut(&key) {
                    concrete.push('/');
                    concrete.push_str(first);
                    walk(child, rest, concrete, visit)?;
                    concrete.truncate(mark);
                }
            }
            _ => {}
        }
        Ok(())
    }
    let segments: Vec<&str> = pointer.split('/').skip(1).collect();
    walk(data, &segments, &mut String::new(), visit)
}

/// True when some personal field of `data` holds a string (and so needs the client's key).
fn has_personal_text(data: &mut Value, pointers: &[&str]) -> bool {
    let mut found = false;
    for pointer in pointers {
        let _ = visit_pointer::<()>(data, pointer, &mut |_, v| {
            found |= v.is_string();
            Ok(())
        });
    }
    found
}

/// A personal field of a recorded event that did not open, read as [`UNREADABLE`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unreadable {
    pub position: u64,
    pub event_id: Uuid,
    /// The field's concrete JSON pointer.
    pub pointer: String,
    /// Why it did not open.
    pub reason: String,
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "position {}: personal field {} is unreadable: {}",
            self.position, self.pointer, self.reason
        )
    }
}

/// What reading does with personal fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonalData {
    /// Open them with the client's key: plaintext, or [`SHREDDED`] once the key is destroyed.
    Reveal,
    /// Replace them with [`WITHHELD`] without touching any key: for the projections, which
    /// judge rules from non-personal fields only and so need no access to keys.
    Withhold,
}

/// Seals personal fields on the way into the ledger and opens them on the way out, fetching
/// each client's key at most once per run (a batch of a thousand events for one client costs
/// one key lookup).
#[derive(Debug)]
pub struct Sealer {
    store: Arc<dyn EventStore>,
    mode: PersonalData,
    keys: HashMap<String, DataKey>,
    /// Fields that did not open, in the order they were read.
    unreadable: Vec<Unreadable>,
}

impl Sealer {
    /// A sealer that reveals personal data when reading.
    pub fn new(store: Arc<dyn EventStore>) -> Self {
        Self::with_mode(store, PersonalData::Reveal)
    }

    /// A sealer whose reads give personal fields as `mode` says.
    pub fn with_mode(store: Arc<dyn EventStore>, mode: PersonalData) -> Self {
        Self {
            store,
            mode,
            keys: HashMap::new(),
            unreadable: Vec::new(),
        }
    }

    /// The personal fields read so far that did not open (each read as [`UNREADABLE`]).
    pub fn unreadable(&self) -> &[Unreadable] {
        &self.unreadable
    }

    /// Takes the list of fields that did not open, leaving it empty.
    pub fn take_unreadable(&mut self) -> Vec<Unreadable> {
        std::mem::take(&mut self.unreadable)
    }

    /// The key of `client_id`, from the cache or the store; `create` asks the store to make one
    /// for a client that has none.
    async fn key(&mut self, client_id: &str, create: bool) -> AppResult<&DataKey> {
        let cached_usable = match self.keys.get(client_id) {
            Some(DataKey::Missing) => !create,
            Some(_) => true,
            None => false,
        };
        if !cached_usable {
            let key = self.store.data_key(client_id, create).await.map_err(|e| {
                AppError::store_while(format!("reading the data key of client {client_id:?}"), e)
            })?;
            self.keys.insert(client_id.to_owned(), key);
        }
        Ok(self.keys.get(client_id).expect("inserted above"))
    }

    /// The envelope of a domain event, its personal fields sealed under its client's key
    /// (created on first use). A client whose key is destroyed gets no new personal data.
    pub async fn seal(
        &mut self,
        event_id: Uuid,
        event: &DomainEvent,
        metadata: Metadata,
    ) -> AppResult<NewEvent> {
        let (event_type, schema_version, mut data) = codec::encode(event);
        let client_id = event.client_id().to_owned();
        let pointers = codec::personal_fields(event_type).unwrap_or_default();
        if has_personal_text(&mut data, pointers) {
            let key = match self.key(&client_id, true).await? {
                DataKey::Active(key) => key.clone(),
                DataKey::Destroyed { at } => {
                    return Err(AppError::Crypto {
                        position: None,
                        error: CryptoError::ClientDataDeleted { client_id, at: *at },
                    })
                }
                DataKey::Missing => {
                    return Err(AppError::Internal(format!(
                        "the store created no data key for client {client_id:?}"
                    )))
                }
            };
            for pointer in pointers {
                visit_pointer(&mut data, pointer, &mut |concrete, value| {
                    match value {
                        Value::String(text) => {
                            *value =
                                Value::String(seal_text(&key, event_id, concrete, text.as_str())?);
                        }
                        Value::Null => {}
                        _ => {
                            return Err(CryptoError::NotAString {
                                event_id,
                                pointer: concrete.to_owned(),
                            })
                        }
                    }
                    Ok(())
                })?;
            }
        }
        Ok(NewEvent {
            event_id,
            event_type: event_type.to_owned(),
            schema_version,
            client_id: Some(client_id),
            occurred_at: event.occurred_at(),
            data,
            metadata,
        })
    }

    /// The recorded `data` with its personal fields as this sealer's mode gives them. A field
    /// that is not sealed (recorded before sealing, or appended raw) is returned as stored.
    pub async fn open_data(&mut self, recorded: &RecordedEvent) -> AppResult<Value> {
        let mut data: Value =
            serde_json::from_str(&recorded.data).map_err(|source| AppError::NotJson {
                position: recorded.global_position,
                source,
            })?;
        let pointers = codec::personal_fields(&recorded.event_type).unwrap_or_default();
        if pointers.is_empty() || !has_personal_text(&mut data, pointers) {
            return Ok(data);
        }
        let event_id = recorded.event_id;
        let position = recorded.global_position;
        // A field that does not open is read as UNREADABLE and listed, never an error: the
        // event cannot be removed, so an error here would stop every later timeline, record
        // and retention run of the client for good (issue 12, finding 2).
        let key = match self.mode {
            PersonalData::Withhold => None,
            PersonalData::Reveal => match recorded.client_id.as_deref() {
                Some(client_id) => Some((
                    client_id.to_owned(),
                    self.key(client_id, false).await?.clone(),
                )),
                None => Some((String::new(), DataKey::Missing)),
            },
        };
        let mut failed: Vec<Unreadable> = Vec::new();
        for pointer in pointers {
            visit_pointer::<std::convert::Infallible>(
                &mut data,
                pointer,
                &mut |concrete, value| {
                    let Value::String(text) = value else {
                        return Ok(());
                    };
                    let opened = match &key {
                        None => Ok(WITHHELD.to_owned()),
                        Some(_) if !text.starts_with(CIPHERTEXT_PREFIX) => return Ok(()),
                        Some((_, DataKey::Destroyed { .. })) => Ok(SHREDDED.to_owned()),
                        Some((client_id, DataKey::Missing)) if client_id.is_empty() => {
                            Err(CryptoError::NoClient { event_id })
                        }
                        Some((client_id, DataKey::Missing)) => Err(CryptoError::KeyMissing {
                            client_id: client_id.clone(),
                            event_id,
                        }),
                        Some((client_id, DataKey::Active(key))) => {
                            open_text(key, client_id, event_id, concrete, text)
                        }
                    };
                    *value = Value::String(match opened {
                        Ok(text) => text,
                        Err(error) => {
                            failed.push(Unreadable {
                                position,
                                event_id,
                                pointer: concrete.to_owned(),
                                reason: error.to_string(),
                            });
                            UNREADABLE.to_owned()
                        }
                    });
                    Ok(())
                },
            )
            .unwrap_or_else(|never| match never {});
        }
        self.unreadable.extend(failed);
        Ok(data)
    }

    /// The `data` of an envelope given from outside (`append`, `import ndjson`) with every
    /// already-sealed personal field opened. Unlike reading, nothing is let through: a sealed
    /// value is accepted only if it opens under the client's active key, so a value that
    /// would read as [`UNREADABLE`] (or one sealed for another client or event) never enters
    /// the log, and a client whose key is destroyed gets no personal data, sealed or not.
    pub async fn open_given(
        &mut self,
        event_id: Uuid,
        client_id: &str,
        event_type: &str,
        mut data: Value,
    ) -> AppResult<Value> {
        let pointers = codec::personal_fields(event_type).unwrap_or_default();
        if pointers.is_empty() || !has_personal_text(&mut data, pointers) {
            return Ok(data);
        }
        let key = self.key(client_id, false).await?.clone();
        if let DataKey::Destroyed { at } = key {
            return Err(CryptoError::ClientDataDeleted {
                client_id: client_id.to_owned(),
                at,
            }
            .into());
        }
        for pointer in pointers {
            visit_pointer(&mut data, pointer, &mut |concrete, value| {
                let Value::String(text) = value else {
                    return Ok(());
                };
                if !text.starts_with(CIPHERTEXT_PREFIX) {
                    return Ok(());
                }
                let opened = match &key {
                    DataKey::Active(key) => open_text(key, client_id, event_id, concrete, text)?,
                    _ => {
                        return Err(CryptoError::KeyMissing {
                            client_id: client_id.to_owned(),
                            event_id,
                        })
                    }
                };
                *value = Value::String(opened);
                Ok(())
            })?;
        }
        Ok(data)
    }

    /// Decodes a recorded envelope into the domain event it holds (upcasting old schema
    /// versions), its personal fields opened as this sealer's mode says.
    pub async fn decode(&mut self, recorded: &RecordedEvent) -> AppResult<DomainEvent> {
        let context = |source| AppError::Decode {
            position: recorded.global_position,
            event_type: recorded.event_type.clone(),
            schema_version: recorded.schema_version,
            source,
        };
        let has_personal =
            codec::personal_fields(&recorded.event_type).is_some_and(|p| !p.is_empty());
        if !has_personal {
            // Nothing to open: the payload is deserialized straight from its text.
            return codec::decode_str(
                &recorded.event_type,
                recorded.schema_version,
                &recorded.data,
            )
            .map_err(context);
        }
        let data = self.open_data(recorded).await?;
        codec::decode(&recorded.event_type, recorded.schema_version, &data).map_err(context)
    }

    /// A recorded envelope as the projections consume it; `None` for a foreign fact (an event
    /// type the domain does not know), which the ledger keeps and verifies but does not project.
    pub async fn positioned(
        &mut self,
        recorded: &RecordedEvent,
    ) -> AppResult<Option<PositionedEvent>> {
        if codec::current_schema_version(&recorded.event_type).is_none() {
            return Ok(None);
        }
        Ok(Some(PositionedEvent {
            position: recorded.global_position,
            event_id: recorded.event_id,
            recorded_at: recorded.recorded_at,
            event: self.decode(recorded).await?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(byte: u8) -> Key32 {
        Key32::new([byte; opsledger_store::keys::DATA_KEY_BYTES])
    }

    #[test]
    fn a_sealed_field_opens_to_its_plaintext() {
        let id = Uuid::new_v4();
        let sealed = seal_text(&key(1), id, "/caller_number", "+1 555 0100").unwrap();
        assert!(sealed.starts_with(CIPHERTEXT_PREFIX));
        assert!(!sealed.contains("555"));
        assert_eq!(
            open_text(&key(1), "acme", id, "/caller_number", &sealed).unwrap(),
            "+1 555 0100"
        );
        // Random nonces: sealing the same text twice gives different ciphertexts.
        let again = seal_text(&key(1), id, "/caller_number", "+1 555 0100").unwrap();
        assert_ne!(sealed, again);
    }

    #[test]
    fn a_ciphertext_moved_to_another_event_field_or_key_does_not_open() {
        let id = Uuid::new_v4();
        let sealed = seal_text(&key(1), id, "/caller_name", "Ada").unwrap();
        for (k, event, pointer) in [
            (key(1), Uuid::new_v4(), "/caller_name"),
            (key(1), id, "/caller_contact"),
            (key(2), id, "/caller_name"),
        ] {
            assert!(matches!(
                open_text(&k, "acme", event, pointer, &sealed),
                Err(CryptoError::DoesNotOpen { .. })
            ));
        }
    }

    #[test]
    fn malformed_ciphertexts_are_typed_errors() {
        let id = Uuid::new_v4();
        for bad in ["plain", "enc:v1:***", "enc:v1:AAAA"] {
            assert!(matches!(
                open_text(&key(1), "acme", id, "/n", bad),
                Err(CryptoError::Malformed { .. })
            ));
        }
        let mut sealed = seal_text(&key(1), id, "/n", "text").unwrap();
        // Flipping one character of the body breaks the tag.
        let last = sealed.pop().unwrap();
        sealed.push(if last == 'A' { 'B' } else { 'A' });
        assert!(open_text(&key(1), "acme", id, "/n", &sealed).is_err());
    }

    #[test]
    fn pointers_with_a_star_visit_every_array_element_with_its_index() {
        let mut data = json!({"a": [{"b": "x"}, {"b": null}, {"c": 1}], "d": "y"});
        let mut seen = Vec::new();
        visit_pointer::<()>(&mut data, "/a/*/b", &mut |p, v| {
            seen.push((p.to_owned(), v.clone()));
            Ok(())
        })
        .unwrap();
        assert_eq!(
            seen,
            vec![
                ("/a/0/b".to_owned(), json!("x")),
                ("/a/1/b".to_owned(), Value::Null)
            ]
        );
        assert!(has_personal_text(&mut data, &["/d"]));
        assert!(!has_personal_text(&mut data, &["/missing", "/a/*/c"]));
    }
}
