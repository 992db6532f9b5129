//! Decisions about termination: notices, immediate termination and its taking effect.

use super::{
    active_client, client_rules, day_count, days_after, days_of, invalid, known_client,
    known_invoice,
};
use crate::command::{GiveTerminationNotice, TerminateImmediately};
use crate::error::DomainError;
use crate::events::{
    DomainEvent, ImmediateCause, ImmediateTermination, TerminationNoticeGiven,
    TerminationTookEffect,
};
use crate::rules::RuleId;
use crate::rules_in_force::value_at;
use crate::state::LedgerState;

/// Decides `Command::RecordTerminationEffective`.
pub(super) fn record_termination_effective(
    state: &LedgerState,
    e: TerminationTookEffect,
) -> Result<Vec<DomainEvent>, DomainError> {
    let client = known_client(state, &e.client_id)?;
    if client.terminated_at.is_some() {
        return Err(DomainError::SecondTermination {
            client_id: e.client_id.to_string(),
            already: "recorded as effective",
        });
    }
    let notice = client.termination_notice.as_ref().ok_or_else(|| {
        invalid(
            &e.client_id,
            "record the termination as effective",
            "no termination notice was given",
        )
    })?;
    if e.at < notice.effective_at {
        return Err(DomainError::rule_refused(
            RuleId::Trm1,
            format!(
                "notice {} takes effect at {}; the termination cannot take effect at {}",
                notice.notice_id, notice.effective_at, e.at
            ),
        ));
    }
    Ok(vec![e.into()])
}

pub(super) fn give_termination_notice(
    state: &LedgerState,
    c: GiveTerminationNotice,
) -> Result<Vec<DomainEvent>, DomainError> {
    let client = active_client(state, &c.client_id, c.at, "termination notice")?;
    if let Some(existing) = &client.termination_notice {
        if existing.notice_id == c.notice_id
            && existing.at == c.at
            && existing.by == c.by
            && c.effective_at.map_or(true, |e| e == existing.effective_at)
        {
            return Ok(vec![]);
        }
        return Err(DomainError::SecondTermination {
            client_id: c.client_id.to_string(),
            already: "noticed",
        });
    }
    if client.immediate_termination.is_some() {
        return Err(DomainError::SecondTermination {
            client_id: c.client_id.to_string(),
            already: "made immediate",
        });
    }
    let rules = client_rules(state, client);
    let value = value_at(RuleId::Trm1, &rules, c.at);
    let notice = day_count(RuleId::Trm1, &value)?;
    let calendar = &client.agreement_or_first(c.at).calendar;
    let earliest = days_after(RuleId::Trm1, &value, calendar, c.at)?;
    let effective_at = match c.effective_at {
        Some(e) if e < earliest => {
            return Err(DomainError::rule_refused(
                RuleId::Trm1,
                format!(
                    "termination would take effect at {e}, before the {} days notice period ends at {earliest}",
                    notice
                ),
            ))
        }
        Some(e) => e,
        None => earliest,
    };
    Ok(vec![TerminationNoticeGiven {
        client_id: c.client_id,
        notice_id: c.notice_id,
        at: c.at,
        by: c.by,
        effective_at,
    }
    .into()])
}

pub(super) fn terminate_immediately(
    state: &LedgerState,
    c: TerminateImmediately,
) -> Result<Vec<DomainEvent>, DomainError> {
    let client = known_client(state, &c.client_id)?;
    if let Some(existing) = &client.immediate_termination {
        if existing.at == c.at && existing.cause == c.cause {
            return Ok(vec![]);
        }
        return Err(DomainError::SecondTermination {
            client_id: c.client_id.to_string(),
            already: "made immediate",
        });
    }
    if client.terminated_at.is_some() {
        return Err(DomainError::SecondTermination {
            client_id: c.client_id.to_string(),
            already: "recorded as effective",
        });
    }
    // A pending notice does not prevent an immediate termination: the cause supersedes it.
    if let ImmediateCause::NonPayment { invoice_ids } = &c.cause {
        let rules = client_rules(state, client);
        let threshold = days_of(RuleId::Trm2, &value_at(RuleId::Trm2, &rules, c.at))?.num_days();
        let today = client.agreement_or_first(c.at).calendar.local_date(c.at);
        let mut details = Vec::new();
        let mut qualifies = false;
        for id in invoice_ids {
            let invoice = known_invoice(state, id, &c.client_id)?;
            let days = invoice.days_past_due(today);
            let open = invoice.is_open();
            qualifies |= open && days > threshold;
            let paid = if open { "" } else { ", paid" };
            details.push(format!("{id} is {} days past due{paid}", days.max(0)));
        }
        if !qualifies {
            let detail = if details.is_empty() {
                "no invoice was cited".to_owned()
            } else {
                details.join("; ")
            };
            return Err(DomainError::rule_refused(
                RuleId::Trm2,
                format!(
                    "immediate termination for non-payment needs an invoice unpaid more than {threshold} days past its due date, and none is ({detail})"
                ),
            ));
        }
    }
    let termination = ImmediateTermination::from(c);
    let took_effect = TerminationTookEffect {
        client_id: termination.client_id.clone(),
        at: termination.at,
    };
    Ok(vec![termination.into(), took_effect.into()])
}
