//! The escalations area of the read model: escalation records with their tier events, and folding
//! in the escalation events.

use opsledger_domain::events::{
    DigestDelivered, EscalationContactAttempted, EscalationContactUnreachable, EscalationOpened,
    Urgency,
};
use opsledger_domain::ids::EscalationId;
use serde::{Deserialize, Serialize};

use super::{set_first, ReadModel};
use crate::position::EventRef;

/// A contact attempt or unreachable mark at a tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierEvent {
    /// Tier of the chain.
    pub tier: u32,
    /// The event.
    pub event: EventRef,
}

/// One escalation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationRecord {
    /// Escalation.
    pub escalation_id: EscalationId,
    /// Client slot.
    pub client: u32,
    /// Call slot, if it escalates a known call.
    pub call: Option<u32>,
    /// Urgency.
    pub urgency: Urgency,
    /// Opening.
    pub opened: EventRef,
    /// Contact attempts in log order.
    pub attempts: Vec<TierEvent>,
    /// Unreachable marks in log order (R-ESC-2 clock starts).
    pub unreachable: Vec<TierEvent>,
    /// First digest listing it (R-ESC-3).
    pub digest: Option<EventRef>,
    /// First digest listing it whose period also holds the instant it was raised: the one that
    /// meets R-ESC-3 (the catalog's Readings).
    #[serde(default)]
    pub digest_covering: Option<EventRef>,
}
row!(EscalationRecord, EscalationId, escalation_id);

impl ReadModel {
    /// Folds in a `EscalationOpened`.
    pub(super) fn apply_escalation_opened(&mut self, r: EventRef, e: &EscalationOpened) {
        let Some(client) = self.clients.slot(&e.client_id) else {
            return;
        };
        let call = e.call_id.as_ref().and_then(|id| self.calls.slot(id));
        if let Some(slot) = self.escalations.insert_new(EscalationRecord {
            escalation_id: e.escalation_id.clone(),
            client,
            call,
            urgency: e.urgency,
            opened: r,
            attempts: Vec::new(),
            unreachable: Vec::new(),
            digest: None,
            digest_covering: None,
        }) {
            if let Some(c) = self.clients.get_slot_mut(client) {
                c.escalations.push(slot);
            }
        }
    }

    /// Folds in a `EscalationContactAttempted`.
    pub(super) fn apply_escalation_contact_attempted(
        &mut self,
        r: EventRef,
        e: &EscalationContactAttempted,
    ) {
        let Some(esc) = self.escalations.get_mut(&e.escalation_id) else {
            return;
        };
        esc.attempts.push(TierEvent {
            tier: e.tier,
            event: r,
        });
        let urgent_call = (esc.urgency == Urgency::Urgent)
            .then_some(esc.call)
            .flatten();
        if let Some(call) = urgent_call.and_then(|s| self.calls.get_slot_mut(s)) {
            set_first(&mut call.urgent_escalation_attempt, r);
        }
    }

    /// Folds in a `EscalationContactUnreachable`.
    pub(super) fn apply_escalation_contact_unreachable(
        &mut self,
        r: EventRef,
        e: &EscalationContactUnreachable,
    ) {
        if let Some(esc) = self.escalations.get_mut(&e.escalation_id) {
            esc.unreachable.push(TierEvent {
                tier: e.tier,
                event: r,
            });
        }
    }

    /// Folds in a `DigestDelivered`.
    pub(super) fn apply_digest_delivered(&mut self, r: EventRef, e: &DigestDelivered) {
        for id in &e.escalation_ids {
            if let Some(esc) = self.escalations.get_mut(id) {
                set_first(&mut esc.digest, r);
                let raised = esc.opened.occurred_at;
                if e.period_start <= raised && raised <= e.period_end {
                    set_first(&mut esc.digest_covering, r);
                }
            }
        }
    }
}
