//! The quality area of the read model: reviews and conduct breaches, and folding in the quality
//! events (quality issues share `IssueRecord` with account issues).

use opsledger_domain::events::{
    BreachKind, CallSelectedForReview, ClientReviewRequested, ConductBreachIdentified,
    CorrectiveActionTaken, QualityIssueAddressed, QualityIssueIdentified, ReviewCompleted,
    ReviewFindings,
};
use opsledger_domain::ids::{BreachId, CallId, ClientId, ReviewId};
use serde::{Deserialize, Serialize};

use super::{set_first, IssueRecord, ReadModel, Row};
use crate::position::EventRef;

/// One review (internal selection or client request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewRecord {
    /// Review.
    pub review_id: ReviewId,
    /// Client slot.
    pub client: u32,
    /// Call slot, if the call is known.
    pub call: Option<u32>,
    /// Selection or request.
    pub opened: EventRef,
    /// Requested by the client (R-QA-3) rather than selected internally.
    pub requested_by_client: bool,
    /// Completion.
    pub completed: Option<EventRef>,
    /// Findings of the completion.
    pub findings: Option<ReviewFindings>,
}
row!(ReviewRecord, ReviewId, review_id);

/// A conduct breach: its kind besides the issue data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreachRecord {
    /// The breach as an issue.
    pub issue: IssueRecord<BreachId>,
    /// Kind.
    pub kind: BreachKind,
}

impl Row for BreachRecord {
    type Key = BreachId;
    fn key(&self) -> &BreachId {
        &self.issue.id
    }
}

impl ReadModel {
    pub(super) fn open_review(
        &mut self,
        client_id: &ClientId,
        review_id: &ReviewId,
        call_id: &CallId,
        r: EventRef,
        requested_by_client: bool,
    ) {
        let Some(client) = self.clients.slot(client_id) else {
            return;
        };
        let call = self.calls.slot(call_id);
        if let Some(slot) = self.reviews.insert_new(ReviewRecord {
            review_id: review_id.clone(),
            client,
            call,
            opened: r,
            requested_by_client,
            completed: None,
            findings: None,
        }) {
            if let Some(c) = self.clients.get_slot_mut(client) {
                c.reviews.push(slot);
            }
        }
    }

    /// Folds in a `CallSelectedForReview`.
    pub(super) fn apply_call_selected_for_review(
        &mut self,
        r: EventRef,
        e: &CallSelectedForReview,
    ) {
        self.open_review(&e.client_id, &e.review_id, &e.call_id, r, false);
    }

    /// Folds in a `ClientReviewRequested`.
    pub(super) fn apply_client_review_requested(&mut self, r: EventRef, e: &ClientReviewRequested) {
        self.open_review(&e.client_id, &e.review_id, &e.call_id, r, true);
    }

    /// Folds in a `ReviewCompleted`.
    pub(super) fn apply_review_completed(&mut self, r: EventRef, e: &ReviewCompleted) {
        let Some(review) = self.reviews.get_mut(&e.review_id) else {
            return;
        };
        if review.completed.is_some() {
            return;
        }
        review.completed = Some(r);
        review.findings = Some(e.findings);
        if let Some(call) = review.call.and_then(|s| self.calls.get_slot_mut(s)) {
            set_first(&mut call.reviewed, r);
        }
    }

    /// Folds in a `QualityIssueIdentified`.
    pub(super) fn apply_quality_issue_identified(
        &mut self,
        r: EventRef,
        e: &QualityIssueIdentified,
    ) {
        let Some(client) = self.clients.slot(&e.client_id) else {
            return;
        };
        if let Some(slot) = self.quality_issues.insert_new(IssueRecord {
            id: e.issue_id.clone(),
            client,
            identified: r,
            closed: None,
        }) {
            if let Some(c) = self.clients.get_slot_mut(client) {
                c.quality_issues.push(slot);
            }
        }
    }

    /// Folds in a `QualityIssueAddressed`.
    pub(super) fn apply_quality_issue_addressed(&mut self, r: EventRef, e: &QualityIssueAddressed) {
        if let Some(i) = self.quality_issues.get_mut(&e.issue_id) {
            set_first(&mut i.closed, r);
        }
    }

    /// Folds in a `ConductBreachIdentified`.
    pub(super) fn apply_conduct_breach_identified(
        &mut self,
        r: EventRef,
        e: &ConductBreachIdentified,
    ) {
        let Some(client) = self.clients.slot(&e.client_id) else {
            return;
        };
        if let Some(slot) = self.breaches.insert_new(BreachRecord {
            issue: IssueRecord {
                id: e.breach_id.clone(),
                client,
                identified: r,
                closed: None,
            },
            kind: e.kind,
        }) {
            if let Some(c) = self.clients.get_slot_mut(client) {
                c.breaches.push(slot);
            }
        }
    }

    /// Folds in a `CorrectiveActionTaken`.
    pub(super) fn apply_corrective_action_taken(&mut self, r: EventRef, e: &CorrectiveActionTaken) {
        if let Some(b) = self.breaches.get_mut(&e.breach_id) {
            set_first(&mut b.issue.closed, r);
        }
    }
}
