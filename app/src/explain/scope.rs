//! Which events and obligations belong to one record: the instants its obligations open at,
//! the events of its story (and of what follows from it) shown with why, and which of the
//! obligations found there are its own.

use chrono::{DateTime, Utc};
use opsledger_domain::ids::{
    AccountIssueId, BreachId, CallId, EscalationId, IdError, InvoiceId, QualityIssueId, ReviewId,
};
use opsledger_domain::rules::RuleId;
use opsledger_projections::model::{ClientRecord, ReadModel};
use opsledger_projections::obligations::{Obligation, Subject};
use opsledger_projections::{AsOf, EventRef};

use super::{not_seen, words, Draft, EntityKind};
use crate::error::{AppError, AppResult};

fn bad_id(kind: EntityKind, id: &str, e: &IdError) -> AppError {
    AppError::InvalidRequest {
        what: format!("{} id {id:?}", kind.category()),
        detail: format!("{e}"),
    }
}

/// Which obligation is the record's.
pub(super) type Wanted<'a> = Box<dyn Fn(&Obligation) -> bool + 'a>;

/// The instants whose obligations a record's are among, and which of them are its: the record
/// itself, and what follows from it (a call's escalations, an invoice's notices and
/// suspensions) shown in the draft.
pub(super) fn record_scope<'a>(
    model: &'a ReadModel,
    client: &'a ClientRecord,
    as_of: &AsOf,
    kind: EntityKind,
    id: &str,
    draft: &mut Draft,
) -> AppResult<(Vec<DateTime<Utc>>, Wanted<'a>)> {
    let bad_id = |e| bad_id(kind, id, &e);
    let as_of = *as_of;
    let mut instants: Vec<DateTime<Utc>> = Vec::new();
    let wanted: Wanted<'a> = match kind {
        EntityKind::Call => call(model, client, as_of, id, draft, &mut instants)?,
        EntityKind::Escalation => escalation(model, as_of, id, draft, &mut instants)?,
        EntityKind::Invoice => invoice(model, client, as_of, id, draft, &mut instants)?,
        EntityKind::Review => {
            let review_id = ReviewId::new(id).map_err(bad_id)?;
            let review = model
                .reviews
                .by_key(&review_id)
                .filter(|r| as_of.sees(&r.opened))
                .ok_or_else(|| not_seen(kind, id))?;
            instants.push(review.opened.occurred_at);
            draft.show(review.opened, "this review: opened");
            if let Some(done) = review.completed.filter(|d| as_of.sees(d)) {
                instants.push(done.occurred_at);
                draft.show(done, "this review: completed");
            }
            Box::new(
                move |o: &Obligation| matches!(&o.subject, Subject::Review { review_id: r } if *r == review_id),
            )
        }
        EntityKind::QualityIssue => {
            let issue_id = QualityIssueId::new(id).map_err(bad_id)?;
            let issue = model
                .quality_issues
                .by_key(&issue_id)
                .filter(|i| as_of.sees(&i.identified))
                .ok_or_else(|| not_seen(kind, id))?;
            show_issue(draft, &mut instants, issue.identified, issue.closed, &as_of);
            Box::new(
                move |o: &Obligation| matches!(&o.subject, Subject::QualityIssue { issue_id: i } if *i == issue_id),
            )
        }
        EntityKind::Breach => {
            let breach_id = BreachId::new(id).map_err(bad_id)?;
            let breach = model
                .breaches
                .by_key(&breach_id)
                .filter(|b| as_of.sees(&b.issue.identified))
                .ok_or_else(|| not_seen(kind, id))?;
            show_issue(
                draft,
                &mut instants,
                breach.issue.identified,
                breach.issue.closed,
                &as_of,
            );
            Box::new(
                move |o: &Obligation| matches!(&o.subject, Subject::Breach { breach_id: b } if *b == breach_id),
            )
        }
        EntityKind::AccountIssue => {
            let issue_id = AccountIssueId::new(id).map_err(bad_id)?;
            let issue = model
                .account_issues
                .by_key(&issue_id)
                .filter(|i| as_of.sees(&i.identified))
                .ok_or_else(|| not_seen(kind, id))?;
            show_issue(draft, &mut instants, issue.identified, issue.closed, &as_of);
            Box::new(
                move |o: &Obligation| matches!(&o.subject, Subject::AccountIssue { issue_id: i } if *i == issue_id),
            )
        }
        EntityKind::Client => {
            unreachable!("a client's obligations are looked up by their printed subject")
        }
    };
    Ok((instants, wanted))
}

/// Shows an issue's identification and closing, and collects their instants.
fn show_issue(
    draft: &mut Draft,
    instants: &mut Vec<DateTime<Utc>>,
    identified: EventRef,
    closed: Option<EventRef>,
    as_of: &AsOf,
) {
    instants.push(identified.occurred_at);
    draft.show(identified, "this issue: identified");
    if let Some(closed) = closed.filter(|c| as_of.sees(c)) {
        draft.show(closed, "this issue: addressed");
    }
}

fn show_call(
    draft: &mut Draft,
    call: &opsledger_projections::model::CallRecord,
    as_of: &AsOf,
    whose: &str,
) {
    let mut show = |e: Option<EventRef>, what: &str| {
        if let Some(e) = e.filter(|e| as_of.sees(e)) {
            draft.show(e, format!("{whose}: {what}"));
        }
    };
    show(Some(call.connected), "entered the queue");
    show(call.answered, "answered");
    show(call.voicemail, "routed to voicemail");
    show(call.abandoned.map(|a| a.event), "left the queue");
    show(call.completed, "completed");
    for classification in &call.classifications {
        show(Some(classification.event), "classified");
    }
    show(call.first_documentation.map(|d| d.event), "documented");
    show(call.complete_documentation, "documented in full");
    show(call.documentation_delivered, "documentation delivered");
}

fn show_escalation(
    draft: &mut Draft,
    esc: &opsledger_projections::model::EscalationRecord,
    as_of: &AsOf,
    whose: &str,
) {
    if as_of.sees(&esc.opened) {
        draft.show(esc.opened, format!("{whose}: opened"));
    }
    for a in esc.attempts.iter().filter(|a| as_of.sees(&a.event)) {
        draft.show(
            a.event,
            format!("{whose}: contact attempted, tier {}", a.tier),
        );
    }
    for m in esc.unreachable.iter().filter(|m| as_of.sees(&m.event)) {
        draft.show(m.event, format!("{whose}: tier {} unreachable", m.tier));
    }
    if let Some(d) = esc.digest.filter(|d| as_of.sees(d)) {
        draft.show(d, format!("{whose}: listed in a digest"));
    }
}

/// A call: its story and its escalations' shown; its own obligations wanted.
fn call<'a>(
    model: &'a ReadModel,
    client: &'a ClientRecord,
    as_of: AsOf,
    id: &str,
    draft: &mut Draft,
    instants: &mut Vec<DateTime<Utc>>,
) -> AppResult<Wanted<'a>> {
    let kind = EntityKind::Call;
    let call_id = CallId::new(id).map_err(|e| bad_id(kind, id, &e))?;
    let slot = model.calls.slot(&call_id);
    let call = model
        .calls
        .by_key(&call_id)
        .filter(|c| as_of.sees(&c.connected))
        .ok_or_else(|| not_seen(kind, id))?;
    instants.push(call.connected.occurred_at);
    show_call(draft, call, &as_of, "this call");
    for esc in client
        .escalations
        .iter()
        .filter_map(|s| model.escalations.get(*s))
        .filter(|e| e.call.is_some() && e.call == slot)
    {
        show_escalation(
            draft,
            esc,
            &as_of,
            &format!("escalation {} of this call", esc.escalation_id),
        );
    }
    Ok(Box::new(
        move |o: &Obligation| matches!(&o.subject, Subject::Call { call_id: c } if *c == call_id),
    ))
}

/// An escalation: its story and its call's shown; its own obligations and the call's R-ESC-1
/// (which its first attempt meets) wanted.
fn escalation<'a>(
    model: &'a ReadModel,
    as_of: AsOf,
    id: &str,
    draft: &mut Draft,
    instants: &mut Vec<DateTime<Utc>>,
) -> AppResult<Wanted<'a>> {
    let kind = EntityKind::Escalation;
    let escalation_id = EscalationId::new(id).map_err(|e| bad_id(kind, id, &e))?;
    let esc = model
        .escalations
        .by_key(&escalation_id)
        .filter(|e| as_of.sees(&e.opened))
        .ok_or_else(|| not_seen(kind, id))?;
    instants.push(esc.opened.occurred_at);
    instants.extend(esc.unreachable.iter().map(|m| m.event.occurred_at));
    show_escalation(draft, esc, &as_of, "this escalation");
    let call = esc.call.and_then(|s| model.calls.get(s));
    if let Some(call) = call {
        instants.push(call.connected.occurred_at);
        show_call(
            draft,
            call,
            &as_of,
            &format!("call {} it escalates", call.call_id),
        );
    }
    let call_id = call.map(|c| c.call_id.clone());
    // The escalation's own rules, and R-ESC-1 of the call it escalates, which its
    // first attempt meets.
    Ok(Box::new(move |o: &Obligation| match &o.subject {
        Subject::Escalation {
            escalation_id: e, ..
        } => *e == escalation_id,
        Subject::Call { call_id: c } => o.rule == RuleId::Esc1 && call_id.as_ref() == Some(c),
        _ => false,
    }))
}

/// An invoice: its issue, payments, credits, the default notices citing it and the suspensions
/// relying on them shown; its own obligations and those suspensions' wanted.
fn invoice<'a>(
    model: &'a ReadModel,
    client: &'a ClientRecord,
    as_of: AsOf,
    id: &str,
    draft: &mut Draft,
    instants: &mut Vec<DateTime<Utc>>,
) -> AppResult<Wanted<'a>> {
    let kind = EntityKind::Invoice;
    let invoice_id = InvoiceId::new(id).map_err(|e| bad_id(kind, id, &e))?;
    let invoice = model
        .invoices
        .by_key(&invoice_id)
        .filter(|i| as_of.sees(&i.issued))
        .ok_or_else(|| not_seen(kind, id))?;
    instants.push(invoice.issued.occurred_at);
    draft.show(invoice.issued, "this invoice: issued");
    for p in invoice.payments.iter().filter(|p| as_of.sees(&p.event)) {
        draft.show(p.event, format!("payment of {}", words::money(&p.amount)));
    }
    for c in invoice.credits.iter().filter(|c| as_of.sees(&c.event)) {
        draft.show(
            c.event,
            format!("credit note of {}", words::money(&c.amount)),
        );
    }
    let mut suspensions = Vec::new();
    for notice in client
        .default_notices
        .iter()
        .filter(|n| as_of.sees(&n.event) && n.invoice_ids.contains(&invoice_id))
    {
        draft.show(
            notice.event,
            format!(
                "payment default notice {} citing this invoice",
                notice.notice_id
            ),
        );
        for s in client
            .suspensions
            .iter()
            .filter(|s| s.notice_id == notice.notice_id && as_of.sees(&s.event))
        {
            instants.push(s.event.occurred_at);
            suspensions.push(s.event.position);
            draft.show(
                s.event,
                format!("suspension relying on notice {}", notice.notice_id),
            );
            if let Some(r) = s.resumed.filter(|r| as_of.sees(r)) {
                draft.show(r, "service resumed after that suspension");
            }
        }
    }
    Ok(Box::new(move |o: &Obligation| match &o.subject {
        Subject::Invoice { invoice_id: i } => *i == invoice_id,
        Subject::Suspension => o.evidence.iter().any(|e| suspensions.contains(&e.position)),
        _ => false,
    }))
}
