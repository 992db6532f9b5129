//! The projection set: the read model plus its checkpoint, applied in global order, persisted as one JSON document.
//!
//! Rebuild and incremental catch-up are the same loop over [`Projections::apply`]: an event
//! below the checkpoint is skipped (so a resume after a crash may re-read events), an event
//! above it is a [`ApplyError::Gap`] (never skip one), and the checkpoint moves by one per event
//! applied. The caller persists [`Projections::to_json`] and [`Projections::checkpoint`] in one
//! transaction, and resumes with [`Projections::from_json`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use opsledger_domain::ids::ClientId;

use crate::billing::{self, BillingReport, LiabilityCap};
use crate::model::ReadModel;
use crate::obligations::{self, ObligationReport};
use crate::position::{AsOf, Period, PositionedEvent, YearMonth};
use crate::report::ReportError;
use crate::retention::{self, RetentionReport};
use crate::sla::{self, SlaReport};

/// The version of the persisted state layout; state of another version must be rebuilt.
/// Version 2: the fold opens and closes excused windows from credential, change-notice and
/// communication events and records why a call is urgent, so state folded by version 1 lacks
/// them and is rebuilt rather than served.
pub const STATE_VERSION: u32 = 2;

/// Why an event could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ApplyError {
    /// The event is past the next expected position: events in between are missing.
    #[error("gap in the log: expected position {expected}, got {found}")]
    Gap {
        /// The checkpoint (next position expected).
        expected: u64,
        /// The position received.
        found: u64,
    },
    /// The event was recorded before its predecessor, which the log guarantees never happens.
    #[error(
        "position {position} was recorded at {recorded_at}, before its predecessor's {previous}"
    )]
    RecordedAtWentBack {
        /// The position.
        position: u64,
        /// Its recorded-at instant.
        recorded_at: DateTime<Utc>,
        /// The predecessor's recorded-at instant.
        previous: DateTime<Utc>,
    },
    /// The checkpoint cannot advance past `u64::MAX`.
    #[error("position {0} is the last representable one")]
    PositionOverflow(u64),
}

/// Why persisted state could not be written or read back.
#[derive(Debug, Error)]
pub enum PersistError {
    /// JSON (de)serialization failed.
    #[error("projection state JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The state was written by another layout version: rebuild from position 0.
    #[error(
        "projection state version {found} is not this build's {expected}; rebuild from position 0"
    )]
    IncompatibleVersion {
        /// This build's version.
        expected: u32,
        /// The stored version.
        found: u32,
    },
}

/// What [`Projections::apply`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The event was folded in and the checkpoint advanced.
    Applied,
    /// The event was below the checkpoint: already applied, nothing changed.
    AlreadyApplied,
}

/// Every projection, with one checkpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Projections {
    state_version: u32,
    checkpoint: u64,
    last_recorded_at: Option<DateTime<Utc>>,
    model: ReadModel,
}

impl Projections {
    /// Empty projections, checkpoint 0.
    pub fn new() -> Self {
        Self {
            state_version: STATE_VERSION,
            ..Self::default()
        }
    }

    /// The reports' view of one client: a read model folded from that client's events (and the
    /// agency-wide ones) only, reflecting the log up to `next_position` (exclusive). Reports
    /// through it cover that client alone; asking about another client finds it unknown.
    pub fn for_client(fold: crate::facts::ClientFold, next_position: u64) -> Self {
        let last_recorded_at = None;
        Self {
            state_version: STATE_VERSION,
            checkpoint: next_position,
            last_recorded_at,
            model: fold.into_model(),
        }
    }

    /// Rebuilds from position 0.
    pub fn rebuild<'a>(
        events: impl IntoIterator<Item = &'a PositionedEvent>,
    ) -> Result<Self, ApplyError> {
        let mut p = Self::new();
        p.apply_all(events)?;
        Ok(p)
    }

    /// The next position to apply (last applied + 1; 0 when empty).
    pub fn checkpoint(&self) -> u64 {
        self.checkpoint
    }

    /// The recorded-at instant of the last event applied.
    pub fn last_recorded_at(&self) -> Option<DateTime<Utc>> {
        self.last_recorded_at
    }

    /// The read model the reports are computed from.
    pub fn model(&self) -> &ReadModel {
        &self.model
    }

    /// Applies one event in global order.
    pub fn apply(&mut self, event: &PositionedEvent) -> Result<Applied, ApplyError> {
        if event.position < self.checkpoint {
            return Ok(Applied::AlreadyApplied);
        }
        if event.position > self.checkpoint {
            return Err(ApplyError::Gap {
                expected: self.checkpoint,
                found: event.position,
            });
        }
        if let Some(previous) = self.last_recorded_at {
            if event.recorded_at < previous {
                return Err(ApplyError::RecordedAtWentBack {
                    position: event.position,
                    recorded_at: event.recorded_at,
                    previous,
                });
            }
        }
        let next = event
            .position
            .checked_add(1)
            .ok_or(ApplyError::PositionOverflow(event.position))?;
        self.model.apply(event);
        self.checkpoint = next;
        self.last_recorded_at = Some(event.recorded_at);
        Ok(Applied::Applied)
    }

    /// Moves the checkpoint past an event the projections do not read (a foreign fact of a type
    /// the domain does not know), keeping positions contiguous. Same rules as [`Self::apply`].
    pub fn skip(
        &mut self,
        position: u64,
        recorded_at: DateTime<Utc>,
    ) -> Result<Applied, ApplyError> {
        if position < self.checkpoint {
            return Ok(Applied::AlreadyApplied);
        }
        if position > self.checkpoint {
            return Err(ApplyError::Gap {
                expected: self.checkpoint,
                found: position,
            });
        }
        if let Some(previous) = self.last_recorded_at {
            if recorded_at < previous {
                return Err(ApplyError::RecordedAtWentBack {
                    position,
                    recorded_at,
                    previous,
                });
            }
        }
        self.checkpoint = position
            .checked_add(1)
            .ok_or(ApplyError::PositionOverflow(position))?;
        self.last_recorded_at = Some(recorded_at);
        Ok(Applied::Applied)
    }

    /// Applies events in order; returns how many were newly applied.
    pub fn apply_all<'a>(
        &mut self,
        events: impl IntoIterator<Item = &'a PositionedEvent>,
    ) -> Result<u64, ApplyError> {
        let mut applied: u64 = 0;
        for event in events {
            if self.apply(event)? == Applied::Applied {
                applied = applied.saturating_add(1);
            }
        }
        Ok(applied)
    }

    /// The whole state as JSON (deterministic: equal states give equal bytes).
    pub fn to_json(&self) -> Result<Vec<u8>, PersistError> {
        Ok(serde_json::to_vec(self)?)
    }

    /// Reads state written by [`Projections::to_json`].
    pub fn from_json(bytes: &[u8]) -> Result<Self, PersistError> {
        let mut p: Projections = serde_json::from_slice(bytes)?;
        if p.state_version != STATE_VERSION {
            return Err(PersistError::IncompatibleVersion {
                expected: STATE_VERSION,
                found: p.state_version,
            });
        }
        p.model.reindex();
        Ok(p)
    }

    /// The SLA report of a client for a client-local month (see [`crate::sla`]).
    pub fn sla_report(
        &self,
        client_id: &ClientId,
        month: YearMonth,
        as_of: AsOf,
        evaluated_at: DateTime<Utc>,
    ) -> Result<SlaReport, ReportError> {
        sla::monthly_report(
            &self.model,
            self.checkpoint,
            client_id,
            month,
            as_of,
            evaluated_at,
        )
    }

    /// The instants of a client-local month, as the monthly reports bound it.
    pub fn month_period(
        &self,
        client_id: &ClientId,
        month: YearMonth,
        as_of: AsOf,
    ) -> Result<Period, ReportError> {
        crate::report::client_month_period(&self.model, self.checkpoint, client_id, month, &as_of)
    }

    /// Every obligation of a client in a period with its verdict (see [`crate::obligations`]).
    pub fn obligation_report(
        &self,
        client_id: &ClientId,
        period: Period,
        as_of: AsOf,
        evaluated_at: DateTime<Utc>,
    ) -> Result<ObligationReport, ReportError> {
        obligations::report(
            &self.model,
            self.checkpoint,
            client_id,
            period,
            as_of,
            evaluated_at,
        )
    }

    /// Retention windows of a client's records and the deletions due in `due_in` (see
    /// [`crate::retention`]).
    pub fn retention_report(
        &self,
        client_id: &ClientId,
        as_of: AsOf,
        evaluated_at: DateTime<Utc>,
        due_in: Period,
    ) -> Result<RetentionReport, ReportError> {
        retention::report(
            &self.model,
            self.checkpoint,
            client_id,
            as_of,
            evaluated_at,
            due_in,
        )
    }

    /// The billing state of a client (see [`crate::billing`]).
    pub fn billing_report(
        &self,
        client_id: &ClientId,
        as_of: AsOf,
        evaluated_at: DateTime<Utc>,
    ) -> Result<BillingReport, ReportError> {
        billing::report(&self.model, self.checkpoint, client_id, as_of, evaluated_at)
    }

    /// The R-LIA-1 cap for a claim arising at `claim_at`.
    pub fn liability_cap(
        &self,
        client_id: &ClientId,
        as_of: AsOf,
        claim_at: DateTime<Utc>,
    ) -> Result<LiabilityCap, ReportError> {
        billing::liability_cap(&self.model, self.checkpoint, client_id, as_of, claim_at)
    }
}
