//! Read-model fact rows: what one event contributed to one client's read model, stored beside the log.
//!
//! The store keeps these rows without knowing what they mean: a projector (in the application
//! layer) derives exactly one row per event it reads with a pure function, and writes a page of
//! rows together with the read model's checkpoint in one transaction. Every row is keyed by the
//! global position of the event it came from, so a page written twice (a crash between writes,
//! two projectors catching up at once) adds nothing the second time, and `verify --read-models`
//! can re-derive any row from the verified log and compare it byte for byte.
//!
//! Rows are read per client (plus the agency-wide rows every client's reports need) or per
//! entity (a call's or an escalation's stream), so a report costs what its client holds, not
//! what the ledger holds. See `docs/adr/0006-read-model-facts.md`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Result, StoreError};

/// Largest fact body, in bytes (the same bound as an event's data).
pub const MAX_FACT_BODY_BYTES: usize = crate::envelope::MAX_EVENT_DATA_BYTES;

/// Longest area, kind or entity text, in bytes.
pub const MAX_FACT_LABEL_BYTES: usize = 512;

/// One fact row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactRow {
    /// The global position of the event the row came from (the row's key).
    pub position: u64,
    /// The event's id, so verdicts can cite it without reading the log.
    pub event_id: Uuid,
    /// The client the fact belongs to; `None` for agency-wide facts every client's reports read.
    pub client_id: Option<String>,
    /// The business area (client, calls, escalations, quality, coverage, reporting, billing,
    /// termination): how the projector groups facts.
    pub area: String,
    /// The entity the fact is about (the event's stream), for per-entity reads.
    pub entity: String,
    /// The fact's kind (the event's stable type name).
    pub kind: String,
    /// When the fact occurred.
    pub occurred_at: DateTime<Utc>,
    /// When the log recorded the event.
    pub recorded_at: DateTime<Utc>,
    /// The fact itself, as JSON text chosen by the projector.
    pub body: String,
}

/// Where a read model stands: the next log position it will take in, and the version of the
/// projection code that wrote its rows. Rows of another version must be rebuilt, never served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactCheckpoint {
    /// The next log position to derive rows from (last derived + 1).
    pub next_position: u64,
    /// The projection code's version.
    pub version: u32,
}

/// Which rows a read takes. Every set field must match.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactQuery {
    /// Rows of this client and the agency-wide rows (`client_id` `None`); `None`: every row.
    pub client_id: Option<String>,
    /// Rows of this entity only.
    pub entity: Option<String>,
    /// Rows at positions `>= from_position`.
    pub from_position: u64,
    /// Rows at positions `< before_position` (`None`: no upper bound).
    pub before_position: Option<u64>,
    /// Rows of these areas only; empty: every area.
    #[serde(default)]
    pub areas: Vec<String>,
}

/// The rows of one client's entities that a period touches: every row (below
/// `before_position`) of each entity of the client that has a row of `area` occurred in
/// `[occurred_from, occurred_before)`, and every row of the entities named in `entities`
/// (an entity of another client contributes nothing). Whole entities, never a part of one, so
/// a fold of them sees each entity exactly as a fold of the client's whole history would.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodQuery {
    /// The client.
    pub client_id: String,
    /// The area whose rows' occurred-at select the entities (the high-volume one).
    pub area: String,
    /// Start of the occurred-at window (inclusive).
    pub occurred_from: DateTime<Utc>,
    /// End of the occurred-at window (exclusive).
    pub occurred_before: DateTime<Utc>,
    /// Entities read whole whatever their rows' instants (referenced by other rows).
    pub entities: Vec<String>,
    /// Rows at positions `< before_position` (`None`: no upper bound).
    pub before_position: Option<u64>,
}

impl FactQuery {
    /// Whether a row satisfies the query (the backends filter in SQL; this states the meaning
    /// once, for tests and for merging the agency-wide rows).
    pub fn matches(&self, row: &FactRow) -> bool {
        let client_ok = match &self.client_id {
            None => true,
            Some(c) => row.client_id.as_deref().map_or(true, |rc| rc == c),
        };
        let entity_ok = self.entity.as_deref().map_or(true, |e| e == row.entity);
        let area_ok = self.areas.is_empty() || self.areas.contains(&row.area);
        client_ok
            && entity_ok
            && area_ok
            && row.position >= self.from_position
            && self.before_position.map_or(true, |b| row.position < b)
    }
}

/// Checks a row before it is written: bounded labels and body, no control characters in ids.
pub fn validate_fact(row: &FactRow) -> Result<()> {
    let label_ok = |s: &str| !s.is_empty() && s.len() <= MAX_FACT_LABEL_BYTES;
    let client_ok = row.client_id.as_deref().map_or(true, |c| {
        !c.is_empty() && c.len() <= crate::envelope::MAX_CLIENT_ID_BYTES && !c.contains('\0')
    });
    let ok = label_ok(&row.area)
        && label_ok(&row.kind)
        && label_ok(&row.entity)
        && !row.entity.contains('\0')
        && client_ok
        && row.body.len() <= MAX_FACT_BODY_BYTES
        && i64::try_from(row.position).is_ok();
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidFact {
            position: row.position,
        })
    }
}

/// Merges position-ordered row lists into one position-ordered list of at most `max_count`.
pub(crate) fn merge_all_by_position(lists: Vec<Vec<FactRow>>, max_count: usize) -> Vec<FactRow> {
    let mut out: Vec<FactRow> = lists.into_iter().flatten().collect();
    out.sort_by_key(|r| r.position);
    out.truncate(max_count);
    out
}

/// Merges two position-ordered row lists into one (a client's rows and the agency-wide rows).
pub(crate) fn merge_by_position(
    a: Vec<FactRow>,
    b: Vec<FactRow>,
    max_count: usize,
) -> Vec<FactRow> {
    let mut out = Vec::with_capacity(a.len().saturating_add(b.len()).min(max_count));
    let mut a = a.into_iter().peekable();
    let mut b = b.into_iter().peekable();
    while out.len() < max_count {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => x.position <= y.position,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let next = if take_a { a.next() } else { b.next() };
        out.extend(next);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(position: u64, client: Option<&str>) -> FactRow {
        FactRow {
            position,
            event_id: Uuid::nil(),
            client_id: client.map(str::to_owned),
            area: "calls".into(),
            entity: "call-a:1".into(),
            kind: "call.connected".into(),
            occurred_at: DateTime::<Utc>::UNIX_EPOCH,
            recorded_at: DateTime::<Utc>::UNIX_EPOCH,
            body: "{}".into(),
        }
    }

    #[test]
    fn merging_keeps_position_order_and_stops_at_the_limit() {
        let merged = merge_by_position(
            vec![row(1, Some("a")), row(4, Some("a")), row(6, Some("a"))],
            vec![row(2, None), row(5, None)],
            4,
        );
        let positions: Vec<u64> = merged.iter().map(|r| r.position).collect();
        assert_eq!(positions, vec![1, 2, 4, 5]);
    }

    #[test]
    fn a_client_query_sees_its_rows_and_the_agency_wide_ones_only() {
        let q = FactQuery {
            client_id: Some("a".into()),
            before_position: Some(10),
            ..FactQuery::default()
        };
        assert!(q.matches(&row(1, Some("a"))));
        assert!(q.matches(&row(2, None)));
        assert!(!q.matches(&row(3, Some("b"))));
        assert!(!q.matches(&row(10, Some("a"))));
    }

    #[test]
    fn oversized_or_empty_labels_are_refused() {
        let mut r = row(1, Some("a"));
        r.area = String::new();
        assert!(matches!(
            validate_fact(&r),
            Err(StoreError::InvalidFact { position: 1 })
        ));
        let mut r = row(u64::MAX, Some("a"));
        r.area = "calls".into();
        assert!(validate_fact(&r).is_err());
    }
}
