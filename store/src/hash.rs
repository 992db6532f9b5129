//! The hash chain: the canonical byte encoding of an envelope, its BLAKE3 hash, and the
//! walk that checks a run of events links up.
//!
//! Format v1 (never change it; add v2 beside it): an event's *digest* is BLAKE3 over the domain
//! separator `opsledger.event.v1\0` and each field in a fixed order (integers big-endian,
//! variable-length fields prefixed by their byte length as u32, optional fields by a 0/1 tag);
//! its *hash* is BLAKE3 over `opsledger.chain.v1\0`, the previous event's hash and the digest.
//! See `docs/adr/0002-hash-chain.md`.

use serde::{Deserialize, Serialize};

use uuid::Uuid;

use crate::envelope::RecordedEvent;

/// A 32-byte BLAKE3 hash.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The `prev_hash` of the first event of a ledger.
    pub const GENESIS: Hash = Hash([0u8; 32]);

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(text: &str) -> Result<Self, hex::FromHexError> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(text, &mut out)?;
        Ok(Self(out))
    }

    /// Reads a hash from a database column; `None` when the length is not 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(Self)
    }
}

impl std::fmt::Debug for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl std::fmt::Display for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for Hash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Hash::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

const DOMAIN_V1: &[u8] = b"opsledger.event.v1\0";
const CHAIN_DOMAIN_V1: &[u8] = b"opsledger.chain.v1\0";

pub(crate) fn put_bytes(h: &mut blake3::Hasher, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).expect("envelope fields are far below 4 GiB");
    h.update(&len.to_be_bytes());
    h.update(bytes);
}

pub(crate) fn put_opt_bytes(h: &mut blake3::Hasher, bytes: Option<&[u8]>) {
    match bytes {
        None => {
            h.update(&[0]);
        }
        Some(b) => {
            h.update(&[1]);
            put_bytes(h, b);
        }
    }
}

/// An event's hashed fields, borrowed from wherever they are stored, so that a verify can
/// hash rows straight from the database's buffers without copying them into envelopes. Text
/// fields are their UTF-8 bytes: the chain hashes bytes, so a reader of stored text need not
/// check it is UTF-8 to hash it.
#[derive(Clone, Copy, Debug)]
pub struct EventView<'a> {
    pub global_position: u64,
    pub event_id: Uuid,
    pub stream_id: &'a [u8],
    pub stream_version: u64,
    pub event_type: &'a [u8],
    pub schema_version: u32,
    pub client_id: Option<&'a [u8]>,
    pub occurred_at_micros: i64,
    pub recorded_at_micros: i64,
    pub correlation_id: Option<Uuid>,
    pub causation_id: Option<Uuid>,
    pub actor: Option<&'a [u8]>,
    pub source: Option<&'a [u8]>,
    pub data: &'a [u8],
}

impl RecordedEvent {
    /// The event's hashed fields, borrowed.
    pub fn view(&self) -> EventView<'_> {
        EventView {
            global_position: self.global_position,
            event_id: self.event_id,
            stream_id: self.stream_id.as_str().as_bytes(),
            stream_version: self.stream_version,
            event_type: self.event_type.as_bytes(),
            schema_version: self.schema_version,
            client_id: self.client_id.as_deref().map(str::as_bytes),
            occurred_at_micros: self.occurred_at.timestamp_micros(),
            recorded_at_micros: self.recorded_at.timestamp_micros(),
            correlation_id: self.metadata.correlation_id,
            causation_id: self.metadata.causation_id,
            actor: self.metadata.actor.as_deref().map(str::as_bytes),
            source: self.metadata.source.as_deref().map(str::as_bytes),
            data: self.data.as_bytes(),
        }
    }

    /// What the chain walk needs of this event.
    pub fn chain_entry(&self) -> ChainEntry {
        ChainEntry {
            position: self.global_position,
            prev_hash: self.prev_hash,
            hash: self.hash,
            digest: entry_digest(self),
        }
    }
}

/// The digest of an event's own contents (everything but the chain link). An evidence bundle
/// can prove that undisclosed events sit between disclosed ones by giving only their
/// digests, never their contents.
pub fn entry_digest(event: &RecordedEvent) -> Hash {
    view_digest(&event.view())
}

/// [`entry_digest`] of borrowed fields.
pub fn view_digest(v: &EventView<'_>) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(DOMAIN_V1);
    h.update(&v.global_position.to_be_bytes());
    h.update(v.event_id.as_bytes());
    put_bytes(&mut h, v.stream_id);
    h.update(&v.stream_version.to_be_bytes());
    put_bytes(&mut h, v.event_type);
    h.update(&v.schema_version.to_be_bytes());
    put_opt_bytes(&mut h, v.client_id);
    h.update(&v.occurred_at_micros.to_be_bytes());
    h.update(&v.recorded_at_micros.to_be_bytes());
    put_opt_bytes(&mut h, v.correlation_id.as_ref().map(|u| &u.as_bytes()[..]));
    put_opt_bytes(&mut h, v.causation_id.as_ref().map(|u| &u.as_bytes()[..]));
    put_opt_bytes(&mut h, v.actor);
    put_opt_bytes(&mut h, v.source);
    put_bytes(&mut h, v.data);
    Hash(*h.finalize().as_bytes())
}

/// What the chain walk needs of one event: its position, its stored links and the digest of
/// its contents as read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainEntry {
    pub position: u64,
    pub prev_hash: Hash,
    pub hash: Hash,
    pub digest: Hash,
}

/// One link of the chain: the hash of an event given its predecessor's hash and its own digest.
pub fn chain_link(prev_hash: &Hash, entry: &Hash) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(CHAIN_DOMAIN_V1);
    h.update(&prev_hash.0);
    h.update(&entry.0);
    Hash(*h.finalize().as_bytes())
}

/// The hash `event` must carry: its digest linked to its `prev_hash`. Its own `hash` field is
/// ignored.
pub fn compute_hash(event: &RecordedEvent) -> Hash {
    chain_link(&event.prev_hash, &entry_digest(event))
}

/// Why the chain breaks at a position.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ChainBreak {
    /// A position is missing: the log skips from `expected` to `found`.
    PositionGap { expected: u64, found: u64 },
    /// The event's `prev_hash` is not the hash of the event before it.
    PrevHashMismatch { expected: Hash, found: Hash },
    /// The event's stored hash does not match its contents: it was altered after recording.
    HashMismatch { stored: Hash, computed: Hash },
    /// The ledger's head record disagrees with its last event.
    HeadMismatch { head_position: u64, head_hash: Hash },
    /// The log ends before the head record says it should.
    MissingEvents {
        expected_last: u64,
        found_last: Option<u64>,
    },
    /// A row exists past the position the head record names (`None`: the head says the ledger
    /// is empty). No append put it there: the append path moves the head with every row.
    RowsPastHead {
        head_position: Option<u64>,
        found: u64,
    },
}

impl std::fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::PositionGap { expected, found } => {
                write!(f, "position {expected} is missing (next event found is {found})")
            }
            Self::PrevHashMismatch { expected, found } => write!(
                f,
                "prev_hash {found} does not link to the previous event's hash {expected}"
            ),
            Self::HashMismatch { stored, computed } => write!(
                f,
                "contents hash to {computed} but the stored hash is {stored}: the event was altered"
            ),
            Self::HeadMismatch {
                head_position,
                head_hash,
            } => write!(
                f,
                "the head record names position {head_position} with hash {head_hash}, which the log does not end with"
            ),
            Self::MissingEvents {
                expected_last,
                found_last,
            } => write!(
                f,
                "the head record names position {expected_last} but the log ends at {found_last:?}"
            ),
            Self::RowsPastHead {
                head_position: Some(head),
                found,
            } => write!(
                f,
                "an event row exists at position {found}, past the head record's last position {head}"
            ),
            Self::RowsPastHead {
                head_position: None,
                found,
            } => write!(
                f,
                "an event row exists at position {found}, but the head record says the ledger is empty"
            ),
        }
    }
}

/// The result of walking the chain over a range.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum VerifyReport {
    /// Every event in the range links to the one before and matches its hash.
    Intact {
        events: u64,
        first_position: Option<u64>,
        head: Option<(u64, Hash)>,
    },
    /// The first position where the chain breaks, and why.
    Broken {
        position: u64,
        reason: ChainBreak,
        events_checked: u64,
    },
}

impl VerifyReport {
    pub fn is_intact(&self) -> bool {
        matches!(self, Self::Intact { .. })
    }
}

/// Walks events in position order, checking contiguity, links and hashes. Feed it pages with
/// [`ChainWalker::check`] and finish with [`ChainWalker::finish`].
#[derive(Debug)]
pub struct ChainWalker {
    expected_position: u64,
    prev_hash: Hash,
    events: u64,
    first_position: Option<u64>,
    broken: Option<(u64, ChainBreak)>,
}

impl ChainWalker {
    /// Starts a walk at `from_position`, whose predecessor has hash `anchor`
    /// (`Hash::GENESIS` when `from_position` is 0).
    pub fn new(from_position: u64, anchor: Hash) -> Self {
        Self {
            expected_position: from_position,
            prev_hash: anchor,
            events: 0,
            first_position: None,
            broken: None,
        }
    }

    /// Checks the next run of events; returns false once the chain has broken.
    pub fn check<'a>(&mut self, events: impl IntoIterator<Item = &'a RecordedEvent>) -> bool {
        self.check_entries(events.into_iter().map(RecordedEvent::chain_entry))
    }

    /// Checks the next run of chain entries; returns false once the chain has broken.
    pub fn check_entries(&mut self, entries: impl IntoIterator<Item = ChainEntry>) -> bool {
        if self.broken.is_some() {
            return false;
        }
        for e in entries {
            let position = e.position;
            let reason = if position != self.expected_position {
                Some((
                    self.expected_position,
                    ChainBreak::PositionGap {
                        expected: self.expected_position,
                        found: position,
                    },
                ))
            } else if e.prev_hash != self.prev_hash {
                Some((
                    position,
                    ChainBreak::PrevHashMismatch {
                        expected: self.prev_hash,
                        found: e.prev_hash,
                    },
                ))
            } else {
                let computed = chain_link(&e.prev_hash, &e.digest);
                (computed != e.hash).then_some((
                    position,
                    ChainBreak::HashMismatch {
                        stored: e.hash,
                        computed,
                    },
                ))
            };
            if let Some(found) = reason {
                self.broken = Some(found);
                return false;
            }
            self.first_position.get_or_insert(position);
            self.prev_hash = e.hash;
            self.expected_position = position + 1;
            self.events += 1;
        }
        true
    }

    /// The last position checked and its hash, if any event was checked.
    pub fn last(&self) -> Option<(u64, Hash)> {
        self.expected_position
            .checked_sub(1)
            .filter(|_| self.events > 0)
            .map(|p| (p, self.prev_hash))
    }

    /// Ends the walk. `head` is the ledger's head record when the range reaches the head,
    /// so a log whose tail was cut off (or whose head was forged) is caught too.
    pub fn finish(self, head: Option<(u64, Hash)>) -> VerifyReport {
        if let Some((position, reason)) = self.broken {
            return VerifyReport::Broken {
                position,
                reason,
                events_checked: self.events,
            };
        }
        let last = self.last();
        if let Some((head_position, head_hash)) = head {
            match last {
                Some((p, h)) if p == head_position && h != head_hash => {
                    return VerifyReport::Broken {
                        position: p,
                        reason: ChainBreak::HeadMismatch {
                            head_position,
                            head_hash,
                        },
                        events_checked: self.events,
                    }
                }
                Some((p, _)) if p == head_position => {}
                _ => {
                    return VerifyReport::Broken {
                        position: self.expected_position,
                        reason: ChainBreak::MissingEvents {
                            expected_last: head_position,
                            found_last: last.map(|(p, _)| p),
                        },
                        events_checked: self.events,
                    }
                }
            }
        }
        VerifyReport::Intact {
            events: self.events,
            first_position: self.first_position,
            head: last,
        }
    }
}

/// Whether a verify of `range` must also look for rows past the head: when it is open-ended
/// or ends past the head position (`head` is the head record's last position, `None` for an
/// empty ledger).
pub fn looks_past_head(range_to: Option<u64>, head: Option<u64>) -> bool {
    match (range_to, head) {
        (None, _) | (Some(_), None) => true,
        (Some(to), Some(head)) => to > head,
    }
}

/// Turns an intact report into a break when a row exists past the head: `first_past_head` is
/// the lowest position found beyond `head` (the head record's last position, `None` for an
/// empty ledger), read in the same snapshot as the head. A report already broken earlier in
/// the log is returned as it is, since that break comes first in position order.
pub fn with_rows_past_head(
    report: VerifyReport,
    head: Option<u64>,
    first_past_head: Option<u64>,
) -> VerifyReport {
    match (report, first_past_head) {
        (VerifyReport::Intact { events, .. }, Some(found)) => VerifyReport::Broken {
            position: found,
            reason: ChainBreak::RowsPastHead {
                head_position: head,
                found,
            },
            events_checked: events,
        },
        (report, _) => report,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{Metadata, StreamId};
    use chrono::{TimeZone, Utc};
    use uuid::Uuid;

    fn sample(position: u64, prev: Hash) -> RecordedEvent {
        let mut e = RecordedEvent {
            global_position: position,
            event_id: Uuid::from_u128(u128::from(position) + 1),
            stream_id: StreamId::parse("call-1").unwrap(),
            stream_version: position,
            event_type: "call.connected".into(),
            schema_version: 1,
            client_id: Some("acme".into()),
            occurred_at: Utc.with_ymd_and_hms(2026, 10, 1, 9, 0, 0).unwrap(),
            recorded_at: Utc.with_ymd_and_hms(2026, 10, 1, 9, 0, 1).unwrap(),
            data: r#"{"queue":"500"}"#.into(),
            metadata: Metadata::default(),
            prev_hash: prev,
            hash: Hash::GENESIS,
        };
        e.hash = compute_hash(&e);
        e
    }

    fn chain(n: u64) -> Vec<RecordedEvent> {
        let mut out: Vec<RecordedEvent> = Vec::new();
        for p in 0..n {
            let prev = out.last().map_or(Hash::GENESIS, |e| e.hash);
            out.push(sample(p, prev));
        }
        out
    }

    #[test]
    fn golden_vector_pins_format_v1() {
        // If this changes, recorded ledgers stop verifying: add a v2 format instead.
        assert_eq!(
            compute_hash(&sample(0, Hash::GENESIS)).to_hex(),
            // Computed independently with Python's `blake3` package from the byte layout in
            // docs/adr/0002-hash-chain.md, not by this code.
            "f1cd1a6e5d960ac781895a2f912e0f243e775bd76b06b3536ad62199fecab924"
        );
    }

    #[test]
    fn an_intact_chain_verifies() {
        let events = chain(5);
        let mut w = ChainWalker::new(0, Hash::GENESIS);
        assert!(w.check(&events));
        let head = (4, events[4].hash);
        assert_eq!(
            w.finish(Some(head)),
            VerifyReport::Intact {
                events: 5,
                first_position: Some(0),
                head: Some(head)
            }
        );
    }

    #[test]
    fn each_kind_of_tampering_is_named_at_its_position() {
        let mut events = chain(5);
        events[2].data = r#"{"queue":"501"}"#.into();
        let mut w = ChainWalker::new(0, Hash::GENESIS);
        assert!(!w.check(&events));
        assert!(matches!(
            w.finish(None),
            VerifyReport::Broken {
                position: 2,
                reason: ChainBreak::HashMismatch { .. },
                events_checked: 2
            }
        ));

        let mut events = chain(5);
        events[3] = sample(3, Hash([7; 32]));
        let mut w = ChainWalker::new(0, Hash::GENESIS);
        w.check(&events);
        assert!(matches!(
            w.finish(None),
            VerifyReport::Broken {
                position: 3,
                reason: ChainBreak::PrevHashMismatch { .. },
                ..
            }
        ));

        let mut events = chain(5);
        events.remove(1);
        let mut w = ChainWalker::new(0, Hash::GENESIS);
        w.check(&events);
        assert!(matches!(
            w.finish(None),
            VerifyReport::Broken {
                position: 1,
                reason: ChainBreak::PositionGap {
                    expected: 1,
                    found: 2
                },
                ..
            }
        ));

        let events = chain(5);
        let mut w = ChainWalker::new(0, Hash::GENESIS);
        w.check(&events[..4]);
        assert!(matches!(
            w.finish(Some((4, events[4].hash))),
            VerifyReport::Broken {
                position: 4,
                reason: ChainBreak::MissingEvents {
                    expected_last: 4,
                    found_last: Some(3)
                },
                ..
            }
        ));
    }
}
