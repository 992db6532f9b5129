//! The termination area of the read model: termination notices and immediate terminations, and
//! folding in the termination events.

use chrono::{DateTime, Utc};
use opsledger_domain::events::{
    ImmediateCause, ImmediateTermination, Party, TerminationNoticeGiven, TerminationTookEffect,
};
use serde::{Deserialize, Serialize};

use super::{set_first, ReadModel};
use crate::position::EventRef;

/// A termination notice (R-TRM-1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminationNoticeRecord {
    /// The event.
    pub event: EventRef,
    /// Who gave it.
    pub by: Party,
    /// When the termination takes effect.
    pub effective_at: DateTime<Utc>,
}

/// An immediate termination (R-TRM-2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImmediateTerminationRecord {
    /// The event.
    pub event: EventRef,
    /// The cited cause.
    pub cause: ImmediateCause,
}

impl ReadModel {
    /// Folds in a `TerminationNoticeGiven`.
    pub(super) fn apply_termination_notice_given(
        &mut self,
        r: EventRef,
        e: &TerminationNoticeGiven,
    ) {
        if let Some((_, c)) = self.client_mut(&e.client_id) {
            c.termination_notices.push(TerminationNoticeRecord {
                event: r,
                by: e.by,
                effective_at: e.effective_at,
            });
        }
    }

    /// Folds in a `ImmediateTermination`.
    pub(super) fn apply_immediate_termination(&mut self, r: EventRef, e: &ImmediateTermination) {
        if let Some((_, c)) = self.client_mut(&e.client_id) {
            c.immediate_terminations.push(ImmediateTerminationRecord {
                event: r,
                cause: e.cause.clone(),
            });
        }
    }

    /// Folds in a `TerminationTookEffect`.
    pub(super) fn apply_termination_took_effect(&mut self, r: EventRef, e: &TerminationTookEffect) {
        if let Some((_, c)) = self.client_mut(&e.client_id) {
            set_first(&mut c.terminated, r);
        }
    }
}
