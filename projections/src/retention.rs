//! Retention windows per record (R-RET-1, R-RET-2, R-RET-3) and the deletions due in a period.
//!
//! For every call record: its earliest permitted deletion is R-RET-1's minimum after the call
//! (value in force when the call connected). While the client is active there is no deletion
//! deadline. Once its termination has taken effect, the deadline is the later of that minimum and
//! R-RET-2's days after the termination (value in force at termination), extended by the time
//! legal holds were active after the termination; while one is active deletion is suspended and
//! the deadline is unknown (`None`). A record is deleted when a deletion covering it is seen
//! (all client data, or call records connected before an instant), and overdue when the
//! evaluation instant is past its deadline, it is not deleted and no hold is active.
//!
//! The client's data as a whole is one more record: earliest permitted deletion at the last
//! call's minimum (or the termination, if later), deadline as above.

use chrono::{DateTime, Utc};
use opsledger_domain::deadlines::{due_at, extended_by_holds, rule_due_at};
use opsledger_domain::events::DeletionScope;
use opsledger_domain::ids::{CallId, ClientId, LegalHoldId};
use opsledger_domain::rules::{RuleId, RuleValue};
use opsledger_domain::rules_in_force::value_at;
use serde::{Deserialize, Serialize};

use crate::model::{ReadModel, RulesView};
use crate::obligations::{active_holds, hold_intervals};
use crate::position::{AsOf, EventRef, Period};
use crate::report::{resolve_client, ReportError};

/// What a retention record covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum RecordKind {
    /// One call's record.
    Call {
        /// Call.
        call_id: CallId,
    },
    /// All of the client's data (R-RET-2).
    ClientData,
}

/// What keeps a record from being deleted now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum RetentionHold {
    /// R-RET-1's minimum has not elapsed.
    MinimumRetention {
        /// When it elapses.
        until: DateTime<Utc>,
    },
    /// An active legal hold (R-RET-2 precedence).
    LegalHold {
        /// Hold.
        hold_id: LegalHoldId,
    },
}

/// One record's retention window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionRecord {
    /// What it covers.
    pub record: RecordKind,
    /// Earliest permitted deletion (R-RET-1).
    pub earliest_deletion: Option<DateTime<Utc>>,
    /// Deletion deadline (R-RET-2), once the client is terminated.
    pub deletion_deadline: Option<DateTime<Utc>>,
    /// What holds it now.
    pub held_by: Vec<RetentionHold>,
    /// The deletion that covered it, if any.
    pub deleted: Option<EventRef>,
    /// Past its deadline, not deleted, no legal hold.
    pub overdue: bool,
}

/// A client's retention report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionReport {
    /// Client.
    pub client_id: ClientId,
    /// Basis.
    pub as_of: AsOf,
    /// Projection checkpoint.
    pub checkpoint: u64,
    /// Instant judged.
    pub evaluated_at: DateTime<Utc>,
    /// When the termination took effect, if it has.
    pub terminated_at: Option<DateTime<Utc>>,
    /// R-RET-3: confidentiality obligations survive until then.
    pub confidentiality_until: Option<DateTime<Utc>>,
    /// Active legal holds.
    pub legal_holds: Vec<LegalHoldId>,
    /// The client's data as a whole, then every call record in connection order.
    pub records: Vec<RetentionRecord>,
    /// Records not deleted whose deadline falls in the requested period.
    pub deletions_due: Vec<RetentionRecord>,
}

fn after(rules: &RulesView, rule: RuleId, at: DateTime<Utc>) -> (RuleValue, Option<DateTime<Utc>>) {
    let value = value_at(rule, &rules.client_rules(), at);
    let due = due_at(&value, &rules.agreement_at(at).calendar, at)
        .ok()
        .flatten();
    (value, due)
}

/// The retention report of a client as of a basis, judged at `evaluated_at`, listing the
/// deletions falling due in `due_in`.
pub fn report(
    model: &ReadModel,
    checkpoint: u64,
    client_id: &ClientId,
    as_of: AsOf,
    evaluated_at: DateTime<Utc>,
    due_in: Period,
) -> Result<RetentionReport, ReportError> {
    let client = resolve_client(model, checkpoint, client_id, &as_of)?;
    let rules = model.rules_view(client, &as_of);
    let terminated_at = client
        .terminated
        .filter(|t| as_of.sees(t) && t.occurred_at <= evaluated_at)
        .map(|t| t.occurred_at);
    // R-RET-2 runs to the end of the 30th local day (`rule_due_at`, as the verdict reads it).
    let ret2_deadline = terminated_at.and_then(|t| {
        let value = value_at(RuleId::Ret2, &rules.client_rules(), t);
        rule_due_at(RuleId::Ret2, &value, &rules.agreement_at(t).calendar, t)
            .ok()
            .flatten()
    });
    let confidentiality_until = terminated_at.and_then(|t| after(&rules, RuleId::Ret3, t).1);
    let holds = active_holds(model, client, &as_of, evaluated_at);
    let deletions: Vec<_> = client
        .deletions
        .iter()
        .filter(|d| as_of.sees(&d.event) && d.event.occurred_at <= evaluated_at)
        .collect();
    let all_deleted = deletions
        .iter()
        .find(|d| d.scope == DeletionScope::AllClientData)
        .map(|d| d.event);

    let hold_times = hold_intervals(model, client, &as_of, evaluated_at);
    let window = |earliest: Option<DateTime<Utc>>, deleted: Option<EventRef>| {
        // The same definition as R-RET-2's verdict: the later of the two, extended by the time
        // legal holds were active after the termination; unknown while one is active.
        let deadline = ret2_deadline.zip(terminated_at).and_then(|(d, t)| {
            let calendar = &rules.agreement_at(t).calendar;
            extended_by_holds(calendar, t, earliest.map_or(d, |e| e.max(d)), &hold_times)
        });
        let mut held_by: Vec<RetentionHold> = Vec::new();
        if let Some(until) = earliest.filter(|e| evaluated_at < *e) {
            held_by.push(RetentionHold::MinimumRetention { until });
        }
        held_by.extend(
            holds
                .iter()
                .map(|h| RetentionHold::LegalHold { hold_id: h.clone() }),
        );
        let overdue =
            deleted.is_none() && holds.is_empty() && deadline.is_some_and(|d| d < evaluated_at);
        (deadline, held_by, overdue)
    };

    let mut records = Vec::new();
    let mut latest_minimum: Option<DateTime<Utc>> = None;
    let mut call_records = Vec::new();
    for slots in client.calls_by_month.values() {
        for slot in slots {
            let Some(call) = model.calls.get(*slot) else {
                continue;
            };
            if !as_of.sees(&call.connected) {
                continue;
            }
            let connected = call.connected.occurred_at;
            let earliest = after(&rules, RuleId::Ret1, connected).1;
            latest_minimum = latest_minimum.max(earliest);
            let deleted = all_deleted.or_else(|| {
                deletions
                    .iter()
                    .find(|d| matches!(d.scope, DeletionScope::CallRecordsBefore { before } if connected < before))
                    .map(|d| d.event)
            });
            let (deletion_deadline, held_by, overdue) = window(earliest, deleted);
            call_records.push(RetentionRecord {
                record: RecordKind::Call {
                    call_id: call.call_id.clone(),
                },
                earliest_deletion: earliest,
                deletion_deadline,
                held_by,
                deleted,
                overdue,
            });
        }
    }
    let client_earliest = match (latest_minimum, terminated_at) {
        (Some(m), Some(t)) => Some(m.max(t)),
        (m, t) => m.or(t),
    };
    let (deletion_deadline, held_by, overdue) = window(client_earliest, all_deleted);
    records.push(RetentionRecord {
        record: RecordKind::ClientData,
        earliest_deletion: client_earliest,
        deletion_deadline,
        held_by,
        deleted: all_deleted,
        overdue,
    });
    records.extend(call_records);
    let deletions_due = records
        .iter()
        .filter(|r| r.deleted.is_none() && r.deletion_deadline.is_some_and(|d| due_in.contains(d)))
        .cloned()
        .collect();
    Ok(RetentionReport {
        client_id: client_id.clone(),
        as_of,
        checkpoint,
        evaluated_at,
        terminated_at,
        confidentiality_until,
        legal_holds: holds,
        records,
        deletions_due,
    })
}
