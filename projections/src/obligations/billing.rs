//! Obligations of billing: invoices (R-BIL-1/2/5), suspensions (R-BIL-3), price changes (R-BIL-4)
//! and the final invoice (R-BIL-6), with when an invoice was settled.

use opsledger_domain::rules::{RuleId, RuleValue};
use opsledger_domain::suspension::{suspension_permitted, CitedInvoice};

use super::no_data::no_data;
use super::{notice_period, Ctx, Lazy, Subject};
use crate::model::{DefaultNoticeRecord, InvoiceRecord, ReadModel};
use crate::position::{AsOf, EventRef, Period, YearMonth};
use crate::verdict::{
    judge_due, no_deadline_verdict, secs_late, DataFamily, Shortfall, Unit, Verdict,
};

/// R-BIL-1 per service month (the catalog's Readings): every client-local month of the active
/// engagement needs an invoice issued no later than its first day. A month that some non-final
/// invoice bills (its billed days overlap the month) is judged per invoice (see `billing`), so
/// it is not counted twice; a month no invoice bills is pending until the end of its first
/// local day (for the month of onboarding, the onboarding day) and missed after it.
///
/// "No data recorded" reads differently here: billing is in use for a client as soon as the log,
/// as the basis sees it, holds any invoice of the client, and then every service month is
/// judged, before the first invoice too, since invoices are issued monthly [5] and a month
/// without one is a miss. Only a client with no invoice at all in the log is "no data recorded"
/// (its billing may be kept elsewhere).
pub(super) fn monthly_invoice(ctx: &mut Ctx<'_>, month: YearMonth, bounds: Period) {
    let model = ctx.model;
    let first_day = month.first_day();
    let last_day = month.next().first_day().pred_opt().unwrap_or(first_day);
    let billed = ctx
        .client
        .invoices
        .iter()
        .filter_map(|s| model.invoices.get(*s))
        .filter(|i| ctx.as_of.sees(&i.issued))
        .any(|i| !i.final_invoice && i.period_start <= last_day && i.period_end >= first_day);
    if billed {
        return;
    }
    let any_invoice = ctx.data_from.from(DataFamily::Invoices).is_some();
    let calendar = &ctx.rules.agreement_at(bounds.from).calendar;
    let service_starts = first_day.max(calendar.local_date(ctx.client.onboarded.occurred_at));
    let clock = calendar.start_of_local_day(service_starts);
    let due = calendar.end_of_local_day(service_starts);
    let value = ctx.value(RuleId::Bil1, clock);
    if let Some(verdict) = no_deadline_verdict(RuleId::Bil1, &value) {
        ctx.push(
            RuleId::Bil1,
            Subject::Month { month },
            Some(clock),
            value,
            None,
            verdict,
            &[],
            None,
        );
        return;
    }
    let judged = judge_due(RuleId::Bil1, due, clock, None, &[], ctx.evaluated_at);
    let (verdict, note) = match judged.verdict {
        Verdict::Missed { .. } if !any_invoice => (
            no_data(DataFamily::Invoices, ctx.evaluated_at),
            "no invoice of this client is in the log: billing is not recorded here",
        ),
        other => (
            other,
            "no invoice bills this service month; invoices are issued monthly, by the month's first day",
        ),
    };
    ctx.push(
        RuleId::Bil1,
        Subject::Month { month },
        Some(clock),
        value,
        Some(due),
        verdict,
        &[],
        Some(note),
    );
}

/// When the invoice was settled (payments and credits in its currency reaching the total), as
/// a basis sees it.
///
/// Amounts in another currency never count toward the total: the domain refuses them, and a
/// log that holds one anyway (an old or raw append) must not have cents of one currency
/// settle cents of another.
pub(crate) fn settled_by(invoice: &InvoiceRecord, as_of: &AsOf) -> Option<EventRef> {
    let mut settlements: Vec<_> = invoice
        .payments
        .iter()
        .chain(invoice.credits.iter())
        .filter(|s| as_of.sees(&s.event) && s.amount.currency == invoice.total.currency)
        .collect();
    settlements.sort_by_key(|s| s.event.position);
    let mut paid: i64 = 0;
    for s in settlements {
        paid = paid.saturating_add(s.amount.amount_minor);
        if paid >= invoice.total.amount_minor {
            return Some(s.event);
        }
    }
    None
}

/// Every billing rule judged in the period: per invoice, per suspension, per price change, and
/// the final invoice after termination.
pub(super) fn billing(ctx: &mut Ctx<'_>) {
    invoices(ctx);
    suspensions(ctx);
    price_changes(ctx);
    final_invoice(ctx);
}

/// R-BIL-1 (non-final invoices), R-BIL-2 and R-BIL-5 for each invoice issued in the period.
fn invoices(ctx: &mut Ctx<'_>) {
    let model = ctx.model;
    let client = ctx.client;
    for slot in &client.invoices {
        let Some(inv) = model.invoices.get(*slot) else {
            continue;
        };
        if !ctx.in_period(&inv.issued) {
            continue;
        }
        let subject = || {
            Lazy(|| Subject::Invoice {
                invoice_id: inv.invoice_id.clone(),
            })
        };
        let at = inv.issued.occurred_at;
        let calendar = &ctx.rules.agreement_at(at).calendar;
        // R-BIL-1: issued no later than the first day of the period billed (final invoices are R-BIL-6's).
        if !inv.final_invoice {
            let issued_on = calendar.local_date(at);
            let verdict = if issued_on <= inv.period_start {
                Verdict::Met { met_at: at }
            } else {
                Verdict::Missed {
                    by: Shortfall {
                        amount: u64::try_from((issued_on - inv.period_start).num_days())
                            .unwrap_or(0),
                        unit: Unit::Days,
                    },
                    met_at: Some(at),
                }
            };
            let due = calendar.end_of_local_day(inv.period_start);
            ctx.push(
                RuleId::Bil1,
                subject(),
                Some(at),
                ctx.value(RuleId::Bil1, at),
                Some(due),
                verdict,
                &[inv.issued],
                None,
            );
        }
        // R-BIL-2: paid in full by the end of the invoice's printed due date (client-local), the
        // date the invoice itself carries (the catalog's Readings); the domain refuses a printed
        // date earlier than the agreed terms allow and prints the terms' date when none is given.
        let value = ctx.value(RuleId::Bil2, at);
        let settled = settled_by(inv, ctx.as_of);
        let clock = calendar.start_of_local_day(inv.invoice_date);
        let due = calendar.end_of_local_day(inv.due_date);
        let judged = judge_due(
            RuleId::Bil2,
            due,
            clock,
            settled.map(|s| s.occurred_at),
            &[],
            ctx.evaluated_at,
        );
        let mut evidence = vec![inv.issued];
        evidence.extend(settled);
        ctx.push(
            RuleId::Bil2,
            subject(),
            Some(clock),
            value,
            judged.due_at,
            judged.verdict,
            &evidence,
            Some("due by the end of the invoice's printed due date, client-local"),
        );
        // R-BIL-5: the invoice is in the agreed currency.
        let value = ctx.value(RuleId::Bil5, at);
        let verdict = match &value {
            RuleValue::Currency(c) if *c == inv.total.currency => Verdict::Met { met_at: at },
            RuleValue::Currency(_) => Verdict::Missed {
                by: Shortfall {
                    amount: 1,
                    unit: Unit::Findings,
                },
                met_at: None,
            },
            other => no_deadline_verdict(RuleId::Bil5, other).unwrap_or(Verdict::NotComputable {
                reason: "R-BIL-5 needs a currency".to_owned(),
            }),
        };
        ctx.push(
            RuleId::Bil5,
            subject(),
            Some(at),
            value,
            None,
            verdict,
            &[inv.issued],
            None,
        );
    }
}

/// R-BIL-3 for each suspension in the period.
fn suspensions(ctx: &mut Ctx<'_>) {
    let model = ctx.model;
    let client = ctx.client;
    // R-BIL-3: the one definition (`domain::suspension`): a notice strictly before the
    // suspension, citing an invoice still unpaid past its due date at the suspension.
    let suspensions: Vec<_> = client
        .suspensions
        .iter()
        .filter(|s| ctx.in_period(&s.event))
        .cloned()
        .collect();
    for s in suspensions {
        let notice = ctx
            .client
            .default_notices
            .iter()
            .find(|n| n.notice_id == s.notice_id && ctx.as_of.sees(&n.event));
        let at = s.event.occurred_at;
        let cited = notice.map_or_else(Vec::new, |n| cited_invoices(model, n, ctx.as_of));
        let calendar = &ctx.rules.agreement_at(at).calendar;
        let notice_at = notice.map(|n| n.event.occurred_at);
        let (verdict, note) = match suspension_permitted(notice_at, &cited, calendar, at) {
            Ok(()) => (
                Verdict::Met {
                    met_at: notice_at.unwrap_or(at),
                },
                None,
            ),
            Err(refusal) => (
                Verdict::Missed {
                    by: Shortfall {
                        amount: 1,
                        unit: Unit::Findings,
                    },
                    met_at: None,
                },
                Some(refusal.describe(at)),
            ),
        };
        let mut evidence = vec![s.event];
        evidence.extend(notice.map(|n| n.event));
        ctx.push(
            RuleId::Bil3,
            Subject::Suspension,
            Some(at),
            ctx.value(RuleId::Bil3, at),
            Some(at),
            verdict,
            &evidence,
            note.as_deref(),
        );
    }
}

/// R-BIL-4 for each price change notified in the period.
fn price_changes(ctx: &mut Ctx<'_>) {
    let client = ctx.client;
    // R-BIL-4: a price change takes effect no earlier than the notice period after the notice.
    let changes: Vec<_> = client
        .price_changes
        .iter()
        .filter(|c| ctx.in_period(&c.event))
        .cloned()
        .collect();
    for c in changes {
        notice_period(
            ctx,
            RuleId::Bil4,
            Subject::PriceChange,
            c.event,
            c.effective_at,
        );
    }
}

/// R-BIL-6, whose clock starts when the termination takes effect.
fn final_invoice(ctx: &mut Ctx<'_>) {
    let model = ctx.model;
    let Some(terminated) = ctx.termination_in_period() else {
        return;
    };
    let t = terminated.occurred_at;
    // R-BIL-6: the final invoice is issued on or after the termination's effective instant.
    let final_invoice = ctx
        .client
        .invoices
        .iter()
        .filter_map(|s| model.invoices.get(*s))
        .find(|i| i.final_invoice && ctx.as_of.sees(&i.issued))
        .map(|i| i.issued);
    let verdict = match final_invoice {
        Some(i) if i.occurred_at >= t => Verdict::Met {
            met_at: i.occurred_at,
        },
        Some(i) => Verdict::Missed {
            by: Shortfall {
                amount: secs_late(i.occurred_at, t),
                unit: Unit::Seconds,
            },
            met_at: Some(i.occurred_at),
        },
        None => Verdict::Pending {
            due_at: None,
            held_by: Vec::new(),
        },
    };
    let mut evidence = vec![terminated];
    evidence.extend(final_invoice);
    ctx.push(
        RuleId::Bil6,
        Subject::Termination,
        Some(t),
        ctx.value(RuleId::Bil6, t),
        None,
        verdict,
        &evidence,
        None,
    );
}

/// The invoices a default notice cites, as R-BIL-3 reads them, as a basis sees them.
pub(crate) fn cited_invoices(
    model: &ReadModel,
    notice: &DefaultNoticeRecord,
    as_of: &AsOf,
) -> Vec<CitedInvoice> {
    notice
        .invoice_ids
        .iter()
        .filter_map(|id| model.invoices.by_key(id))
        .filter(|inv| as_of.sees(&inv.issued))
        .map(|inv| CitedInvoice {
            invoice_id: inv.invoice_id.clone(),
            due_date: inv.due_date,
            settled_at: settled_by(inv, as_of).map(|s| s.occurred_at),
        })
        .collect()
}
