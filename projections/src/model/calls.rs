//! The calls area of the read model: call records with their classification, documentation and
//! abandonment, and folding in the call events.

use opsledger_domain::events::{
    AbandonReason, CallAbandoned, CallAnswered, CallClassified, CallCompleted, CallConnected,
    CallDocumented, CallOutcome, CallRoutedToVoicemail, DocumentationDelivered,
};
use opsledger_domain::ids::CallId;
use serde::{Deserialize, Serialize};

use super::{set_first, ReadModel};
use crate::position::{EventRef, YearMonth};

/// The agent's classification of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classification {
    /// The event.
    pub event: EventRef,
    /// Urgent for R-ESC-1: the nature is on the urgent list of the agreement in force at the
    /// classification, or the agent flagged it urgent.
    pub urgent: bool,
    /// Urgent because the nature is on the client's list, whatever the agent's flag said (so
    /// the report can say which reading made it urgent).
    #[serde(default)]
    pub urgent_by_nature: bool,
    /// What the call resulted in.
    pub outcome: CallOutcome,
}

/// A documentation event and how many of the four R-DOC-1 fields it lacked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Documentation {
    /// The event.
    pub event: EventRef,
    /// Of caller name, contact, nature and action, how many were missing (0 = complete).
    pub missing_fields: u64,
}

/// How a queued call left the queue without pickup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Abandonment {
    /// The event.
    pub event: EventRef,
    /// Why.
    pub reason: AbandonReason,
}

/// One call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRecord {
    /// Call.
    pub call_id: CallId,
    /// Client slot.
    pub client: u32,
    /// Queue slot in [`ReadModel::queues`], if the call named one.
    pub queue: Option<u32>,
    /// Entered the queue (R-ANS-1/2 clock start).
    pub connected: EventRef,
    /// Agent pickup.
    pub answered: Option<EventRef>,
    /// Voicemail routing.
    pub voicemail: Option<EventRef>,
    /// Left the queue without pickup.
    pub abandoned: Option<Abandonment>,
    /// Completed (R-DOC-*, R-ESC-1 clock start).
    pub completed: Option<EventRef>,
    /// Every classification, in log order. All are kept (not only the first and the latest)
    /// because an as-of basis may see any prefix of them and must get the latest it sees.
    pub classifications: Vec<Classification>,
    /// First documentation.
    pub first_documentation: Option<Documentation>,
    /// First documentation with all four fields (R-DOC-1).
    pub complete_documentation: Option<EventRef>,
    /// First documentation delivery (R-DOC-2).
    pub documentation_delivered: Option<EventRef>,
    /// First contact attempt of an urgent escalation of this call (R-ESC-1).
    pub urgent_escalation_attempt: Option<EventRef>,
    /// First completed review of this call (R-QA-1).
    pub reviewed: Option<EventRef>,
}
row!(CallRecord, CallId, call_id);

impl CallRecord {
    /// The latest classification an `AsOf` basis sees.
    pub fn classification(&self, as_of: &crate::AsOf) -> Option<Classification> {
        self.classifications
            .iter()
            .rev()
            .find(|c| as_of.sees(&c.event))
            .copied()
    }
}

impl ReadModel {
    /// Folds in a `CallConnected`.
    pub(super) fn apply_call_connected(&mut self, r: EventRef, e: &CallConnected) {
        let Some(client) = self.clients.slot(&e.client_id) else {
            return;
        };
        let queue = e.queue.as_deref().map(|q| self.queue_slot(q));
        let Some(slot) = self.calls.insert_new(CallRecord {
            call_id: e.call_id.clone(),
            client,
            queue,
            connected: r,
            answered: None,
            voicemail: None,
            abandoned: None,
            completed: None,
            classifications: Vec::new(),
            first_documentation: None,
            complete_documentation: None,
            documentation_delivered: None,
            urgent_escalation_attempt: None,
            reviewed: None,
        }) else {
            return;
        };
        if let Some(c) = self.clients.get_slot_mut(client) {
            let zone = c.agreement_or_first(e.at).calendar.time_zone;
            let month = YearMonth::of(e.at.with_timezone(&zone).date_naive());
            c.calls_by_month.entry(month).or_default().push(slot);
        }
    }

    /// Folds in a `CallAnswered`.
    pub(super) fn apply_call_answered(&mut self, r: EventRef, e: &CallAnswered) {
        if let Some(c) = self.calls.get_mut(&e.call_id) {
            set_first(&mut c.answered, r);
        }
    }

    /// Folds in a `CallRoutedToVoicemail`.
    pub(super) fn apply_call_routed_to_voicemail(
        &mut self,
        r: EventRef,
        e: &CallRoutedToVoicemail,
    ) {
        if let Some(c) = self.calls.get_mut(&e.call_id) {
            set_first(&mut c.voicemail, r);
        }
    }

    /// Folds in a `CallAbandoned`.
    pub(super) fn apply_call_abandoned(&mut self, r: EventRef, e: &CallAbandoned) {
        if let Some(c) = self.calls.get_mut(&e.call_id) {
            if c.abandoned.is_none() {
                c.abandoned = Some(Abandonment {
                    event: r,
                    reason: e.reason,
                });
            }
        }
    }

    /// Folds in a `CallCompleted`.
    pub(super) fn apply_call_completed(&mut self, r: EventRef, e: &CallCompleted) {
        if let Some(c) = self.calls.get_mut(&e.call_id) {
            set_first(&mut c.completed, r);
        }
    }

    /// Folds in a `CallClassified`.
    pub(super) fn apply_call_classified(&mut self, r: EventRef, e: &CallClassified) {
        if let Some(c) = self.calls.get_mut(&e.call_id) {
            // R-ESC-1: urgency is the agreement's (in force at the classification) or
            // the agent's flag, which may add urgency but never remove it.
            let urgent_by_nature = self
                .clients
                .get(c.client)
                .is_some_and(|client| client.agreement_or_first(e.at).is_urgent_nature(&e.nature));
            let class = Classification {
                event: r,
                urgent: e.urgent || urgent_by_nature,
                urgent_by_nature,
                outcome: e.outcome,
            };
            c.classifications.push(class);
        }
    }

    /// Folds in a `CallDocumented`.
    pub(super) fn apply_call_documented(&mut self, r: EventRef, e: &CallDocumented) {
        if let Some(c) = self.calls.get_mut(&e.call_id) {
            let f = e.fields_present;
            let missing_fields = [
                f.caller_name,
                f.caller_contact,
                f.nature_of_call,
                f.action_taken,
            ]
            .iter()
            .filter(|present| !**present)
            .map(|_| 1_u64)
            .sum();
            c.first_documentation.get_or_insert(Documentation {
                event: r,
                missing_fields,
            });
            if f.all_present() {
                set_first(&mut c.complete_documentation, r);
            }
        }
    }

    /// Folds in a `DocumentationDelivered`.
    pub(super) fn apply_documentation_delivered(
        &mut self,
        r: EventRef,
        e: &DocumentationDelivered,
    ) {
        if let Some(c) = self.calls.get_mut(&e.call_id) {
            set_first(&mut c.documentation_delivered, r);
        }
    }
}
