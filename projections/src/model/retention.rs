//! The retention area of the read model: legal holds and data deletions, and folding in their
//! events.

use opsledger_domain::events::{
    ClientDataDeleted, DeletionScope, LegalHoldPlaced, LegalHoldReleased,
};
use opsledger_domain::ids::LegalHoldId;
use serde::{Deserialize, Serialize};

use super::{set_first, ReadModel};
use crate::position::EventRef;

/// A deletion of client data (R-RET-*).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletionRecord {
    /// The event.
    pub event: EventRef,
    /// What it covered.
    pub scope: DeletionScope,
}

/// One legal hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldRecord {
    /// Hold.
    pub hold_id: LegalHoldId,
    /// Client slot.
    pub client: u32,
    /// Placement.
    pub placed: EventRef,
    /// Release.
    pub released: Option<EventRef>,
}
row!(HoldRecord, LegalHoldId, hold_id);

impl ReadModel {
    /// Folds in a `LegalHoldPlaced`.
    pub(super) fn apply_legal_hold_placed(&mut self, r: EventRef, e: &LegalHoldPlaced) {
        let Some(client) = self.clients.slot(&e.client_id) else {
            return;
        };
        if let Some(slot) = self.legal_holds.insert_new(HoldRecord {
            hold_id: e.hold_id.clone(),
            client,
            placed: r,
            released: None,
        }) {
            if let Some(c) = self.clients.get_slot_mut(client) {
                c.legal_holds.push(slot);
            }
        }
    }

    /// Folds in a `LegalHoldReleased`.
    pub(super) fn apply_legal_hold_released(&mut self, r: EventRef, e: &LegalHoldReleased) {
        if let Some(h) = self.legal_holds.get_mut(&e.hold_id) {
            set_first(&mut h.released, r);
        }
    }

    /// Folds in a `ClientDataDeleted`.
    pub(super) fn apply_client_data_deleted(&mut self, r: EventRef, e: &ClientDataDeleted) {
        if let Some((_, c)) = self.client_mut(&e.client_id) {
            c.deletions.push(DeletionRecord {
                event: r,
                scope: e.scope.clone(),
            });
        }
    }
}
