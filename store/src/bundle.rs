//! Evidence bundles: an export of selected events together with the proof that they sit,
//! complete and unaltered, in the ledger's hash chain up to a stated head, and its offline
//! verification.
//!
//! A bundle covers every position from its anchor to its stated head. Selected events are
//! disclosed whole; every other position in between is given only as its 32-byte entry digest
//! (`hash::entry_digest`), never its contents, so another client's data never leaves the
//! ledger to prove this client's history. Because `hash = chain_link(prev_hash, digest)`, a
//! verifier can recompute the chain from the anchor's `prev_hash` through every position to
//! the head without seeing what the withheld events say (`docs/adr/0002-hash-chain.md`).
//!
//! # Format `opsledger.bundle.v1`
//!
//! ```json
//! {
//!   "format": "opsledger.bundle.v1",
//!   "created_for": "dispute 2026-114, acme, October",
//!   "selection": {"stream_id": "call-1658129428.1048", "...": "..."},
//!   "anchor": {"position": 41, "prev_hash": "<64 hex>"},
//!   "head": {"position": 57, "hash": "<64 hex>"},
//!   "entries": [
//!     {"disclosed": {"global_position": 41, "event_id": "…", "data": "{…}", "…": "…"}},
//!     {"withheld": {"from": 42, "digests": ["<64 hex>", "<64 hex>"]}},
//!     {"disclosed": {"global_position": 44, "…": "…"}},
//!     {"withheld": {"from": 45, "digests": ["<64 hex>", "… 13 digests: positions 45..=57"]}}
//!   ],
//!   "annotations": {"rules_in_force": "…", "verdicts": "…"},
//!   "seal": {"annotations_digest": "<64 hex>", "bundle_digest": "<64 hex>"}
//! }
//! ```
//!
//! Withheld positions are stored as runs (`from` and the digests of `from`, `from + 1`, …),
//! not one object per position: a bundle over a million positions is then about 32 MB in
//! memory and 70 to 80 MB of pretty-printed JSON, and the list of entries is at most twice
//! the number of disclosed events long. A run carries no per-position hashes, so when a withheld digest is
//! altered the verifier can only name the run: the break is reported at the first position
//! after it whose recorded hash the recomputed chain fails to reach (the next disclosed
//! event's `prev_hash`, or the stated head).
//!
//! # What is proven and what is only sealed
//!
//! The chain proves the entries: that the disclosed events are exactly what was recorded at
//! their positions and that nothing between the anchor and the head was left out, re-ordered
//! or inserted. It proves this *relative to the stated head*: a bundle is evidence against an
//! independently kept head (an auditor's note of "position P, hash H", checked with
//! [`verify_extends`]), not on its own, since whoever holds the ledger could fabricate a
//! whole self-consistent chain.
//!
//! The `annotations` (rule values in force, computed verdicts) and the descriptive
//! `created_for` and `selection` are not recorded events, so the chain cannot prove them. The
//! `seal` holds a BLAKE3 digest of the canonical JSON of the annotations and a digest over the
//! whole bundle (every field, and for every covered position whether it is disclosed and its
//! entry digest), so an edit of the file after export is reported as "bundle altered". The seal
//! is not a signature: it is unkeyed, and someone who edits the file deliberately can
//! recompute it. Verdicts in the annotations are therefore claims that anyone can re-compute
//! from the disclosed events and the rules; they are never proven by the chain.
//!
//! Unknown fields are refused everywhere in the file except inside a disclosed event, whose
//! type the bundle shares with the store API: a field added there is ignored by every reader
//! and changes nothing that is verified or reported.

use std::collections::VecDeque;
use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};

use crate::api::{EventFilter, EventStore};
use crate::canonical::{self, CanonicalError};
use crate::envelope::RecordedEvent;
use crate::error::StoreError;
use crate::hash::{chain_link, entry_digest, ChainBreak, ChainWalker, Hash, VerifyReport};

/// The format name of version 1 bundles. A change of layout or of the seal is a new version.
pub const BUNDLE_FORMAT_V1: &str = "opsledger.bundle.v1";
/// Most positions one bundle may cover: 10 million withheld digests are 320 MB in memory and
/// about 800 MB of pretty-printed JSON, beyond which a dispute should be split by time range.
pub const MAX_BUNDLE_POSITIONS: u64 = 10_000_000;
/// Deepest nesting accepted in `selection` and `annotations`, which are canonicalised for the
/// seal.
pub const MAX_BUNDLE_JSON_DEPTH: usize = 64;
/// Events read per page while building.
const BUILD_PAGE_EVENTS: usize = 4096;
/// Domain separators, so a seal can never be confused with an event digest or a chain link.
const SEAL_DOMAIN_V1: &[u8] = b"opsledger.bundle.seal.v1\0";
const ANNOTATIONS_DOMAIN_V1: &[u8] = b"opsledger.bundle.annotations.v1\0";
/// How the seal marks each covered position.
const SEAL_TAG_WITHHELD: u8 = 0;
const SEAL_TAG_DISCLOSED: u8 = 1;
/// Timestamps are hashed as whole microseconds, so a finer part would be unprotected.
const NANOS_PER_MICRO: u32 = 1_000;

/// An export of selected events with the proof that they sit in the chain up to `head`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceBundle {
    /// Always [`BUNDLE_FORMAT_V1`] for this version.
    pub format: String,
    /// What the bundle was made for, in words (a dispute, an audit request).
    pub created_for: String,
    /// What was asked for, as the exporter describes it. Opaque to the store; sealed, not proven.
    pub selection: serde_json::Value,
    /// The first covered position and the hash of the event before it.
    pub anchor: Anchor,
    /// The head the proof runs to.
    pub head: StatedHead,
    /// Every position from `anchor.position` to `head.position`, in order, without gaps.
    pub entries: Vec<BundleEntry>,
    /// Computed extras (rule values in force, verdicts). Opaque to the store; sealed, not proven.
    pub annotations: serde_json::Value,
    /// Digests that reveal edits of the file after export (see the module documentation).
    pub seal: Seal,
}

/// Where a bundle's chain starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Anchor {
    /// The first covered position.
    pub position: u64,
    /// The hash of the event at `position - 1` (`Hash::GENESIS` when `position` is 0).
    pub prev_hash: Hash,
}

/// The head a bundle's proof runs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatedHead {
    pub position: u64,
    pub hash: Hash,
}

/// One or more covered positions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BundleEntry {
    /// A selected event, whole.
    Disclosed(Box<RecordedEvent>),
    /// Consecutive events that were not selected, by digest only.
    Withheld(WithheldRun),
}

/// The entry digests of consecutive withheld positions `from`, `from + 1`, ….
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithheldRun {
    pub from: u64,
    pub digests: Vec<Hash>,
}

/// The digests that reveal edits of a bundle file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seal {
    /// BLAKE3 of `opsledger.bundle.annotations.v1\0` and the canonical JSON of `annotations`.
    pub annotations_digest: Hash,
    /// BLAKE3 of `opsledger.bundle.seal.v1\0`, the length-prefixed `format`, `created_for` and
    /// canonical JSON of `selection`, the anchor, the stated head, one tag byte (0 withheld,
    /// 1 disclosed) and the entry digest per covered position, and `annotations_digest`.
    pub bundle_digest: Hash,
}

/// What [`build`] puts around the events besides the proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildOptions {
    pub created_for: String,
    pub selection: serde_json::Value,
    pub annotations: serde_json::Value,
    /// Start covering at this position if it is before the first selected event, so that
    /// [`verify_extends`] can reach a head an auditor noted earlier.
    pub cover_from: Option<u64>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        Self {
            created_for: String::new(),
            selection: serde_json::Value::Object(serde_json::Map::new()),
            annotations: serde_json::Value::Object(serde_json::Map::new()),
            cover_from: None,
        }
    }
}

/// Why a bundle could not be built or read.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("reading the ledger")]
    Store(#[from] StoreError),
    #[error("the ledger is empty: there is nothing to export")]
    EmptyLedger,
    #[error("head position {requested} is past the ledger's head at {ledger_head}")]
    HeadBeyondLedger { requested: u64, ledger_head: u64 },
    #[error("no event up to position {head} matches the selection")]
    NothingSelected { head: u64 },
    #[error("positions {from}..={head} are {positions} positions, over the limit of {limit} per bundle; split the selection")]
    TooLarge {
        from: u64,
        head: u64,
        positions: u64,
        limit: u64,
    },
    #[error("the ledger's chain is broken at position {position}: {reason}; no bundle was made")]
    LedgerBroken { position: u64, reason: ChainBreak },
    #[error("the bundle's {part} cannot be sealed: {source}")]
    Unsealable {
        part: &'static str,
        source: CanonicalError,
    },
    #[error("not an {BUNDLE_FORMAT_V1} file: {detail}")]
    NotABundle { detail: String },
    #[error("the bundle is malformed: {detail}")]
    Malformed { detail: String },
}

/// Why a bundle does not verify.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum BundleBreak {
    /// A break the ledger's own verify would name too: a gap, a `prev_hash` that does not
    /// link, or a disclosed event whose contents no longer match its hash.
    Chain { chain: ChainBreak },
    /// The file is a v1 bundle whose JSON no longer has a bundle's shape (a field added,
    /// removed or of the wrong type).
    Malformed { detail: String },
    /// The file names a format this build does not know.
    UnsupportedFormat { found: String },
    /// The stated head is before the anchor, or at the last representable position.
    ImpossibleRange {
        anchor_position: u64,
        head_position: u64,
    },
    /// An entry repeats or goes back to a position already covered.
    RepeatedPosition { expected: u64, found: u64 },
    /// A withheld run holds no digests.
    EmptyWithheldRun { from: u64 },
    /// Entries go on past the stated head.
    EntriesPastHead { head_position: u64, found: u64 },
    /// The entries end before the stated head.
    EntriesEndEarly {
        head_position: u64,
        found_last: Option<u64>,
    },
    /// The chain recomputed through the withheld digests `first..=last` does not reach the
    /// `prev_hash` of the disclosed event after them: a digest or that `prev_hash` was altered.
    WithheldRunDoesNotLink {
        first: u64,
        last: u64,
        computed: Hash,
        prev_hash: Hash,
    },
    /// A disclosed timestamp has a part finer than the microseconds that were hashed.
    SubMicrosecondTime { field: String },
    /// The chain recomputed to the head position does not end with the stated head hash.
    StatedHeadMismatch { stated: Hash, computed: Hash },
    /// The annotations no longer match the digest sealed at export.
    AnnotationsAltered { sealed: Hash, computed: Hash },
    /// A part of the bundle can no longer be canonicalised for the seal, so it was altered.
    UnsealableContent { detail: String },
    /// Some other part of the bundle (description, selection, anchor, head, which positions
    /// are disclosed, or the annotations digest itself) was changed after export.
    SealMismatch { sealed: Hash, computed: Hash },
    /// The auditor's noted head is outside the positions the bundle can show a hash for.
    NotedHeadNotCovered {
        noted_position: u64,
        first_provable: u64,
        head_position: u64,
    },
    /// The chain through the bundle passes the noted position with another hash: the ledger
    /// the bundle came from does not extend the head the auditor noted.
    NotedHeadMismatch { noted: Hash, computed: Hash },
}

impl std::fmt::Display for BundleBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Chain { chain } => chain.fmt(f),
            Self::Malformed { detail } => write!(f, "bundle altered: {detail}"),
            Self::UnsupportedFormat { found } => {
                write!(f, "format {found:?} is not {BUNDLE_FORMAT_V1:?}")
            }
            Self::ImpossibleRange {
                anchor_position,
                head_position,
            } => write!(
                f,
                "the stated head position {head_position} cannot end a range anchored at {anchor_position}"
            ),
            Self::RepeatedPosition { expected, found } => write!(
                f,
                "an entry for position {found} appears where position {expected} is due"
            ),
            Self::EmptyWithheldRun { from } => {
                write!(f, "the withheld run from position {from} holds no digests")
            }
            Self::EntriesPastHead {
                head_position,
                found,
            } => write!(
                f,
                "entries go on to position {found}, past the stated head at {head_position}"
            ),
            Self::EntriesEndEarly {
                head_position,
                found_last,
            } => match found_last {
                Some(last) => write!(
                    f,
                    "entries end at position {last} but the stated head is at {head_position}"
                ),
                None => write!(
                    f,
                    "there are no entries but the stated head is at {head_position}"
                ),
            },
            Self::WithheldRunDoesNotLink {
                first,
                last,
                computed,
                prev_hash,
            } => write!(
                f,
                "the withheld digests at positions {first}..={last} chain to {computed} but the next event's prev_hash is {prev_hash}: one of those digests or that prev_hash was altered"
            ),
            Self::SubMicrosecondTime { field } => write!(
                f,
                "{field} has a part finer than a microsecond, which the chain does not cover"
            ),
            Self::StatedHeadMismatch { stated, computed } => write!(
                f,
                "the chain recomputes to {computed} at the head but the bundle states {stated}: the stated head, or a withheld digest or event before it, was altered"
            ),
            Self::AnnotationsAltered { sealed, computed } => write!(
                f,
                "bundle altered: the annotations digest to {computed} but {sealed} was sealed at export"
            ),
            Self::UnsealableContent { detail } => write!(f, "bundle altered: {detail}"),
            Self::SealMismatch { sealed, computed } => write!(
                f,
                "bundle altered: its contents digest to {computed} but {sealed} was sealed at export"
            ),
            Self::NotedHeadNotCovered {
                noted_position,
                first_provable,
                head_position,
            } => write!(
                f,
                "the noted head at position {noted_position} is outside the positions this bundle proves hashes for ({first_provable}..={head_position}); export again covering it"
            ),
            Self::NotedHeadMismatch { noted, computed } => write!(
                f,
                "the chain in this bundle passes the noted position with hash {computed}, not the noted {noted}: it does not extend the noted head"
            ),
        }
    }
}

/// The result of verifying a bundle offline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum BundleReport {
    /// Every covered position links from the anchor to the stated head and the seal holds.
    Intact {
        disclosed: u64,
        withheld: u64,
        first_position: u64,
        head_position: u64,
        head_hash: Hash,
    },
    /// The first problem found, at its position when it has one.
    Broken {
        position: Option<u64>,
        reason: BundleBreak,
    },
}

impl BundleReport {
    pub fn is_intact(&self) -> bool {
        matches!(self, Self::Intact { .. })
    }
}

impl EvidenceBundle {
    /// Reads a bundle from its JSON text. Text that is not JSON or does not name
    /// [`BUNDLE_FORMAT_V1`] is `NotABundle`; a v1 bundle whose shape was damaged is `Malformed`
    /// (and so does not verify).
    pub fn parse(text: &str) -> Result<Self, BundleError> {
        /// Only the format field, to tell a damaged bundle from some other file.
        #[derive(Deserialize)]
        struct Probe {
            format: Option<String>,
        }
        match serde_json::from_str::<Self>(text) {
            Ok(bundle) => Ok(bundle),
            Err(error) => match serde_json::from_str::<Probe>(text) {
                Ok(Probe {
                    format: Some(format),
                }) if format == BUNDLE_FORMAT_V1 => Err(BundleError::Malformed {
                    detail: error.to_string(),
                }),
                _ => Err(BundleError::NotABundle {
                    detail: error.to_string(),
                }),
            },
        }
    }

    /// The covered positions.
    pub fn covered(&self) -> RangeInclusive<u64> {
        self.anchor.position..=self.head.position
    }

    /// The disclosed events, in position order.
    pub fn disclosed(&self) -> impl Iterator<Item = &RecordedEvent> {
        self.entries.iter().filter_map(|entry| match entry {
            BundleEntry::Disclosed(event) => Some(&**event),
            BundleEntry::Withheld(_) => None,
        })
    }

    /// Replaces the annotations and seals the bundle again. For the exporter, which may compute
    /// verdicts from the disclosed events after building; the chain is not re-checked here.
    pub fn set_annotations(&mut self, annotations: serde_json::Value) -> Result<(), BundleError> {
        self.annotations = annotations;
        self.seal = self.compute_seal()?;
        Ok(())
    }

    /// The seal of the bundle as it is now.
    pub fn compute_seal(&self) -> Result<Seal, BundleError> {
        let annotations_digest = annotations_digest(&self.annotations)?;
        let selection = canonical::to_canonical_string(&self.selection, MAX_BUNDLE_JSON_DEPTH)
            .map_err(|source| BundleError::Unsealable {
                part: "selection",
                source,
            })?;
        let mut h = blake3::Hasher::new();
        h.update(SEAL_DOMAIN_V1);
        put_bytes(&mut h, self.format.as_bytes());
        put_bytes(&mut h, self.created_for.as_bytes());
        put_bytes(&mut h, selection.as_bytes());
        h.update(&self.anchor.position.to_be_bytes());
        h.update(&self.anchor.prev_hash.0);
        h.update(&self.head.position.to_be_bytes());
        h.update(&self.head.hash.0);
        for entry in &self.entries {
            match entry {
                BundleEntry::Disclosed(event) => {
                    h.update(&[SEAL_TAG_DISCLOSED]);
                    h.update(&entry_digest(event).0);
                }
                BundleEntry::Withheld(run) => {
                    for digest in &run.digests {
                        h.update(&[SEAL_TAG_WITHHELD]);
                        h.update(&digest.0);
                    }
                }
            }
        }
        h.update(&annotations_digest.0);
        Ok(Seal {
            annotations_digest,
            bundle_digest: Hash(*h.finalize().as_bytes()),
        })
    }
}

fn put_bytes(h: &mut blake3::Hasher, bytes: &[u8]) {
    // A u64 length cannot overflow for any slice, unlike the u32 of the event encoding.
    let len = u64::try_from(bytes.len()).expect("slice lengths fit in 64 bits");
    h.update(&len.to_be_bytes());
    h.update(bytes);
}

fn annotations_digest(annotations: &serde_json::Value) -> Result<Hash, BundleError> {
    let text =
        canonical::to_canonical_string(annotations, MAX_BUNDLE_JSON_DEPTH).map_err(|source| {
            BundleError::Unsealable {
                part: "annotations",
                source,
            }
        })?;
    let mut h = blake3::Hasher::new();
    h.update(ANNOTATIONS_DOMAIN_V1);
    h.update(text.as_bytes());
    Ok(Hash(*h.finalize().as_bytes()))
}

/// Yields, in order, the positions the filter selects up to the head, a page at a time.
struct SelectionCursor<'a> {
    filter: &'a EventFilter,
    head: u64,
    next: u64,
    pending: VecDeque<u64>,
    exhausted: bool,
}

impl<'a> SelectionCursor<'a> {
    fn new(filter: &'a EventFilter, from: u64, head: u64) -> Self {
        Self {
            filter,
            head,
            next: from,
            pending: VecDeque::new(),
            exhausted: false,
        }
    }

    /// Whether `position` is selected. Must be asked for every position in increasing order.
    async fn selects(&mut self, store: &dyn EventStore, position: u64) -> Result<bool, StoreError> {
        loop {
            match self.pending.front().copied() {
                Some(p) if p == position => {
                    self.pending.pop_front();
                    return Ok(true);
                }
                Some(p) => {
                    assert!(
                        p > position,
                        "selected position {p} was passed over: positions are asked in order"
                    );
                    return Ok(false);
                }
                None if self.exhausted => return Ok(false),
                None => {
                    let page = store
                        .read_filtered(self.filter, self.next, BUILD_PAGE_EVENTS)
                        .await?;
                    self.exhausted = page.len() < BUILD_PAGE_EVENTS;
                    for event in &page {
                        if event.global_position > self.head {
                            self.exhausted = true;
                            break;
                        }
                        self.pending.push_back(event.global_position);
                    }
                    match page.last() {
                        Some(last) => self.next = last.global_position + 1,
                        None => self.exhausted = true,
                    }
                }
            }
        }
    }
}

/// Builds a bundle disclosing the events `filter` selects, from the first of them (or from
/// `options.cover_from` if earlier) to `head` (default: the ledger's head), withholding every
/// other event by digest. The ledger's chain is checked over the covered range while reading,
/// so a bundle is never made from a broken ledger.
pub async fn build(
    store: &dyn EventStore,
    filter: &EventFilter,
    head: Option<u64>,
    options: BuildOptions,
) -> Result<EvidenceBundle, BundleError> {
    let ledger_head = store.head().await?.ok_or(BundleError::EmptyLedger)?;
    let head_position = match head {
        None => ledger_head.position,
        Some(p) if p <= ledger_head.position => p,
        Some(p) => {
            return Err(BundleError::HeadBeyondLedger {
                requested: p,
                ledger_head: ledger_head.position,
            })
        }
    };
    let first_selected = store
        .read_filtered(filter, 0, 1)
        .await?
        .first()
        .map(|e| e.global_position)
        .filter(|p| *p <= head_position)
        .ok_or(BundleError::NothingSelected {
            head: head_position,
        })?;
    let from = options
        .cover_from
        .map_or(first_selected, |c| c.min(first_selected));
    let positions = head_position - from + 1;
    if positions > MAX_BUNDLE_POSITIONS {
        return Err(BundleError::TooLarge {
            from,
            head: head_position,
            positions,
            limit: MAX_BUNDLE_POSITIONS,
        });
    }

    let mut selection = SelectionCursor::new(filter, from, head_position);
    let mut entries: Vec<BundleEntry> = Vec::new();
    // The walk starts one event before the covered range, so that the anchor's prev_hash is
    // the hash of an event whose contents were checked, not a value taken on trust; at
    // position 0 it starts from the genesis hash instead.
    let mut walker = (from == 0).then(|| ChainWalker::new(0, Hash::GENESIS));
    let mut anchor_prev_hash = Hash::GENESIS;
    let mut next = from.saturating_sub(1);
    while next <= head_position {
        let left = head_position - next + 1;
        let want = usize::try_from(left).map_or(BUILD_PAGE_EVENTS, |n| n.min(BUILD_PAGE_EVENTS));
        let page = store.read_all(next, want).await?;
        let Some(first) = page.first() else {
            return Err(BundleError::LedgerBroken {
                position: next,
                reason: ChainBreak::MissingEvents {
                    expected_last: head_position,
                    found_last: next.checked_sub(1),
                },
            });
        };
        let started = walker.get_or_insert_with(|| ChainWalker::new(next, first.prev_hash));
        if !started.check(&page) {
            let broken = walker.take().expect("the walk was just started");
            return Err(ledger_broken(broken.finish(None)));
        }
        for event in page {
            next = event.global_position + 1;
            if event.global_position < from {
                anchor_prev_hash = event.hash;
                continue;
            }
            if selection.selects(store, event.global_position).await? {
                entries.push(BundleEntry::Disclosed(Box::new(event)));
                continue;
            }
            let digest = entry_digest(&event);
            match entries.last_mut() {
                Some(BundleEntry::Withheld(run)) => run.digests.push(digest),
                _ => entries.push(BundleEntry::Withheld(WithheldRun {
                    from: event.global_position,
                    digests: vec![digest],
                })),
            }
        }
    }
    let walker = walker.expect("the range holds at least the first selected event");
    // When the bundle runs to the ledger's head, the head record must agree with the log too.
    let head_record =
        (head_position == ledger_head.position).then_some((ledger_head.position, ledger_head.hash));
    let head_hash = match walker.finish(head_record) {
        VerifyReport::Intact {
            head: Some((p, hash)),
            ..
        } if p == head_position => hash,
        other => return Err(ledger_broken(other)),
    };
    let mut bundle = EvidenceBundle {
        format: BUNDLE_FORMAT_V1.to_owned(),
        created_for: options.created_for,
        selection: options.selection,
        anchor: Anchor {
            position: from,
            prev_hash: anchor_prev_hash,
        },
        head: StatedHead {
            position: head_position,
            hash: head_hash,
        },
        entries,
        annotations: options.annotations,
        seal: Seal {
            annotations_digest: Hash::GENESIS,
            bundle_digest: Hash::GENESIS,
        },
    };
    bundle.seal = bundle.compute_seal()?;
    Ok(bundle)
}

fn ledger_broken(report: VerifyReport) -> BundleError {
    match report {
        VerifyReport::Broken {
            position, reason, ..
        } => BundleError::LedgerBroken { position, reason },
        VerifyReport::Intact { head, .. } => {
            panic!("a walk over a non-empty range ended intact without reaching the head: {head:?}")
        }
    }
}

/// What a successful walk over the entries found.
struct Walked {
    disclosed: u64,
    withheld: u64,
    /// The chain hash at the probed position, when the bundle can show one.
    probed: Option<Hash>,
}

type Break = (Option<u64>, BundleBreak);

fn chain_break(position: u64, chain: ChainBreak) -> Break {
    (Some(position), BundleBreak::Chain { chain })
}

/// Checks that an entry starting at `found` comes next and is not past the head.
fn check_next(expected: u64, found: u64, head_position: u64) -> Result<(), Break> {
    if found > expected {
        return Err(chain_break(
            expected,
            ChainBreak::PositionGap { expected, found },
        ));
    }
    if found < expected {
        return Err((
            Some(found),
            BundleBreak::RepeatedPosition { expected, found },
        ));
    }
    if found > head_position {
        return Err((
            Some(found),
            BundleBreak::EntriesPastHead {
                head_position,
                found,
            },
        ));
    }
    Ok(())
}

fn check_micros(event: &RecordedEvent) -> Result<(), Break> {
    for (field, time) in [
        ("occurred_at", event.occurred_at),
        ("recorded_at", event.recorded_at),
    ] {
        if time.timestamp_subsec_nanos() % NANOS_PER_MICRO != 0 {
            return Err((
                Some(event.global_position),
                BundleBreak::SubMicrosecondTime {
                    field: field.to_owned(),
                },
            ));
        }
    }
    Ok(())
}

/// Recomputes the chain from the anchor through every entry to the stated head, noting the
/// hash at `probe` on the way.
fn walk(bundle: &EvidenceBundle, probe: Option<u64>) -> Result<Walked, Break> {
    let anchor = bundle.anchor;
    let head = bundle.head;
    if bundle.format != BUNDLE_FORMAT_V1 {
        return Err((
            None,
            BundleBreak::UnsupportedFormat {
                found: bundle.format.clone(),
            },
        ));
    }
    // A head at u64::MAX is refused so that `position + 1` below can never overflow.
    if head.position < anchor.position || head.position == u64::MAX {
        return Err((
            None,
            BundleBreak::ImpossibleRange {
                anchor_position: anchor.position,
                head_position: head.position,
            },
        ));
    }
    let mut expected = anchor.position;
    let mut running = anchor.prev_hash;
    // The anchor's prev_hash is the chain hash at the position before the first covered one.
    let mut probed = probe
        .filter(|p| p.checked_add(1) == Some(anchor.position))
        .map(|_| anchor.prev_hash);
    let mut disclosed = 0u64;
    let mut withheld = 0u64;
    // The withheld positions just before the current entry, to name them if the next link fails.
    let mut open_run: Option<(u64, u64)> = None;
    for entry in &bundle.entries {
        match entry {
            BundleEntry::Disclosed(event) => {
                let position = event.global_position;
                check_next(expected, position, head.position)?;
                if event.prev_hash != running {
                    let reason = match open_run {
                        Some((first, last)) => BundleBreak::WithheldRunDoesNotLink {
                            first,
                            last,
                            computed: running,
                            prev_hash: event.prev_hash,
                        },
                        None => BundleBreak::Chain {
                            chain: ChainBreak::PrevHashMismatch {
                                expected: running,
                                found: event.prev_hash,
                            },
                        },
                    };
                    return Err((Some(position), reason));
                }
                check_micros(event)?;
                let computed = chain_link(&running, &entry_digest(event));
                if computed != event.hash {
                    return Err(chain_break(
                        position,
                        ChainBreak::HashMismatch {
                            stored: event.hash,
                            computed,
                        },
                    ));
                }
                running = computed;
                if probe == Some(position) {
                    probed = Some(running);
                }
                expected = position + 1;
                disclosed += 1;
                open_run = None;
            }
            BundleEntry::Withheld(run) => {
                check_next(expected, run.from, head.position)?;
                if run.digests.is_empty() {
                    return Err((
                        Some(run.from),
                        BundleBreak::EmptyWithheldRun { from: run.from },
                    ));
                }
                for digest in &run.digests {
                    if expected > head.position {
                        return Err((
                            Some(expected),
                            BundleBreak::EntriesPastHead {
                                head_position: head.position,
                                found: expected,
                            },
                        ));
                    }
                    running = chain_link(&running, digest);
                    if probe == Some(expected) {
                        probed = Some(running);
                    }
                    expected += 1;
                    withheld += 1;
                }
                // Adjacent runs are one stretch of withheld positions for naming a break.
                let first = open_run.map_or(run.from, |(first, _)| first);
                open_run = Some((first, expected - 1));
            }
        }
    }
    if expected <= head.position {
        return Err((
            Some(expected),
            BundleBreak::EntriesEndEarly {
                head_position: head.position,
                found_last: expected
                    .checked_sub(1)
                    .filter(|_| expected > anchor.position),
            },
        ));
    }
    if running != head.hash {
        return Err((
            Some(head.position),
            BundleBreak::StatedHeadMismatch {
                stated: head.hash,
                computed: running,
            },
        ));
    }
    Ok(Walked {
        disclosed,
        withheld,
        probed,
    })
}

/// Checks the seal of a bundle whose chain already verified.
fn check_seal(bundle: &EvidenceBundle) -> Result<(), Break> {
    // Annotations or a selection too deep to canonicalise cannot have been sealed by `build`,
    // which refuses them, so the file was altered after export.
    let unsealable = |error: BundleError| {
        (
            None,
            BundleBreak::UnsealableContent {
                detail: error.to_string(),
            },
        )
    };
    let computed_annotations = annotations_digest(&bundle.annotations).map_err(unsealable)?;
    if computed_annotations != bundle.seal.annotations_digest {
        return Err((
            None,
            BundleBreak::AnnotationsAltered {
                sealed: bundle.seal.annotations_digest,
                computed: computed_annotations,
            },
        ));
    }
    let seal = bundle.compute_seal().map_err(unsealable)?;
    if seal.bundle_digest != bundle.seal.bundle_digest {
        return Err((
            None,
            BundleBreak::SealMismatch {
                sealed: bundle.seal.bundle_digest,
                computed: seal.bundle_digest,
            },
        ));
    }
    Ok(())
}

/// Verifies a bundle offline: every disclosed event's contents against its hash, every link
/// from the anchor through the withheld digests to the stated head, contiguity, and the seal.
/// Reports the first problem, at its position when it has one.
pub fn verify(bundle: &EvidenceBundle) -> BundleReport {
    verify_probing(bundle, None).0
}

fn verify_probing(bundle: &EvidenceBundle, probe: Option<u64>) -> (BundleReport, Option<Hash>) {
    let walked = match walk(bundle, probe).and_then(|w| check_seal(bundle).map(|()| w)) {
        Ok(walked) => walked,
        Err((position, reason)) => return (BundleReport::Broken { position, reason }, None),
    };
    (
        BundleReport::Intact {
            disclosed: walked.disclosed,
            withheld: walked.withheld,
            first_position: bundle.anchor.position,
            head_position: bundle.head.position,
            head_hash: bundle.head.hash,
        },
        walked.probed,
    )
}

/// Verifies a bundle and checks that its chain extends a head an auditor noted earlier:
/// `noted_position` must be covered (or be the position just before the anchor, whose hash is
/// the anchor's `prev_hash`) and the chain must pass it with `noted_hash`. Intact then means
/// the stated head extends the noted one and nothing at or before the noted position changed.
pub fn verify_extends(
    bundle: &EvidenceBundle,
    noted_position: u64,
    noted_hash: Hash,
) -> BundleReport {
    let (report, probed) = verify_probing(bundle, Some(noted_position));
    if !report.is_intact() {
        return report;
    }
    match probed {
        None => BundleReport::Broken {
            position: Some(noted_position),
            reason: BundleBreak::NotedHeadNotCovered {
                noted_position,
                first_provable: bundle.anchor.position.saturating_sub(1),
                head_position: bundle.head.position,
            },
        },
        Some(computed) if computed != noted_hash => BundleReport::Broken {
            position: Some(noted_position),
            reason: BundleBreak::NotedHeadMismatch {
                noted: noted_hash,
                computed,
            },
        },
        Some(_) => report,
    }
}
