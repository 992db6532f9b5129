//! Account operations around the calls: onboarding, credentials, excused windows, account
//! issues and client notifications, reports and reviews, billing, and the month's termination.
//!
//! Also the showcased refusals: commands an operator might attempt that the ledger must refuse
//! (an early immediate termination, a suspension without notice, deleting data under a legal
//! hold, a call for a terminated client). They are planned like any command, at their instant,
//! and recorded as refusals rather than facts.

use std::rc::Rc;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use opsledger_domain::agreement::Rate;
use opsledger_domain::command::{
    Command, GiveTerminationNotice, IssueInvoice, TerminateImmediately,
};
use opsledger_domain::events::{
    AccountIssueIdentified, AgreementAmended, CallConnected, ChangeKind, ClientDataDeleted,
    ClientNotifiedOfIssue, ClientOnboarded, CredentialsExpired, CredentialsProvided,
    CredentialsRestored, DeletionScope, ExcuseCause, ExcusedWindowClosed, ExcusedWindowOpened,
    ImmediateCause, InvoiceLine, LegalHoldPlaced, MonthlyReportDelivered, MonthlyReportKind, Party,
    PaymentDefaultNoticeSent, PaymentReceived, PriceChangeNotified, QaSummaryDelivered,
    QuarterlyReviewConducted, ServiceResumed, ServiceSuspended, SignificantChangeNotified,
    TerminationTookEffect,
};
use opsledger_domain::ids::{
    AccountIssueId, AgreementAmendmentId, CallId, ChangeId, CredentialId, DeletionId,
    ExcusedWindowId, InvoiceId, LegalHoldId, NoticeId, PaymentId, ReportId,
};
use opsledger_domain::money::Money;

use super::calls::{CallRecord, Fate};
use super::clients::{ACME, INDUS, NORTHWIND, THAMES, WHITFIELD};
use super::story::{Script, Window};
use super::{local_stamp, mins, Ctx, DemoError};

/// Days before a service period its invoice is issued (R-BIL-1: monthly, in advance).
const INVOICE_LEAD_DAYS: i64 = 6;
/// Share of offered calls that are answered, for usage estimated before the simulated month.
const NOMINAL_ANSWERED_SHARE: f64 = 0.93;

// ---------------------------------------------------------------- onboarding and history

/// Plans what happened before the month: onboarding, credentials, and the two invoices that
/// precede it (the previous month's, paid except by Indus, and this month's, issued in advance).
pub(crate) fn plan_onboarding_and_prior_billing(ctx: &mut Ctx) -> Result<(), DemoError> {
    let clients = Rc::clone(&ctx.clients);
    for (index, profile) in clients.iter().enumerate() {
        ctx.plan.record(
            profile.onboarded_at,
            Command::Onboard(ClientOnboarded {
                client_id: profile.id.clone(),
                at: profile.onboarded_at,
                agreement: profile.agreement.clone(),
            }),
        );
        let credential_id = CredentialId::new(format!(
            "cred-{}-{}",
            profile.code, profile.documentation_channel
        ))?;
        let (provided_at, expires_at) = if index == THAMES {
            // This set was issued with a 90-day life; it lapses this month.
            let expiry = ctx.story.credentials.from;
            (expiry - Duration::days(90), Some(expiry))
        } else {
            (profile.onboarded_at + Duration::days(3), None)
        };
        ctx.plan.record(
            provided_at,
            Command::ProvideCredentials(CredentialsProvided {
                client_id: profile.id.clone(),
                credential_id,
                at: provided_at,
                system: profile.documentation_channel.to_owned(),
                expires_at,
            }),
        );

        let previous = invoice_spec(ctx, index, ctx.month.shifted_start(-1)?, &[])?;
        let issued_at = previous.command.at;
        ctx.plan
            .record(issued_at, Command::IssueInvoice(previous.command.clone()));
        if index != INDUS {
            let paid_at = issued_at + Duration::days(10) + Duration::hours(4);
            pay(
                ctx,
                index,
                &previous.command.invoice_id,
                paid_at,
                previous.command.total,
                "",
            )?;
        }
        let current = invoice_spec(ctx, index, ctx.month.start, &[])?;
        ctx.plan.record(
            current.command.at,
            Command::IssueInvoice(current.command.clone()),
        );
    }
    Ok(())
}

/// An invoice for a monthly service period: the base fee for the period, and per-call usage
/// from the previous invoice date up to the day before this one.
#[derive(Debug, Clone)]
struct InvoiceSpec {
    command: IssueInvoice,
}

fn invoice_spec(
    ctx: &Ctx,
    client: usize,
    period_start: NaiveDate,
    calls: &[CallRecord],
) -> Result<InvoiceSpec, DemoError> {
    let profile = ctx.client(client)?;
    let period_end = period_start
        .checked_add_months(chrono::Months::new(1))
        .and_then(|d| d.pred_opt())
        .ok_or(DemoError::Internal("invoice period out of range"))?;
    let invoice_date = period_start - Duration::days(INVOICE_LEAD_DAYS);
    let usage_from = period_start
        .checked_sub_months(chrono::Months::new(1))
        .ok_or(DemoError::Internal("usage period out of range"))?
        - Duration::days(INVOICE_LEAD_DAYS);
    let quantity = answered_calls_between(ctx, client, usage_from, invoice_date, calls)?;
    let at = ctx.local(client, invoice_date, 10, 0)?;
    let lines = vec![
        line(
            format!("Monthly base, {}", period_start.format("%B %Y")),
            1,
            profile.monthly_base,
        )?,
        line(
            format!(
                "Answered calls {} to {}",
                usage_from,
                invoice_date - Duration::days(1)
            ),
            quantity,
            profile.per_call,
        )?,
    ];
    let total = sum(&lines)?;
    Ok(InvoiceSpec {
        command: IssueInvoice {
            client_id: profile.id.clone(),
            invoice_id: invoice_id(ctx, client, period_start, "")?,
            at,
            invoice_date,
            period_start,
            period_end,
            lines,
            total,
            due_date: None,
            final_invoice: false,
        },
    })
}

fn invoice_id(
    ctx: &Ctx,
    client: usize,
    period_start: NaiveDate,
    suffix: &str,
) -> Result<InvoiceId, DemoError> {
    Ok(InvoiceId::new(format!(
        "inv-{}-{}{suffix}-{}",
        ctx.client(client)?.code,
        period_start.format("%Y%m"),
        ctx.month.tag
    ))?)
}

fn line(description: String, quantity: u64, unit_price: Money) -> Result<InvoiceLine, DemoError> {
    let amount_minor = i64::try_from(quantity)
        .ok()
        .and_then(|q| q.checked_mul(unit_price.amount_minor))
        .ok_or(DemoError::Internal("invoice line overflows"))?;
    Ok(InvoiceLine {
        description,
        quantity,
        unit_price,
        amount: Money::new(amount_minor, unit_price.currency),
    })
}

fn sum(lines: &[InvoiceLine]) -> Result<Money, DemoError> {
    let first = lines
        .first()
        .ok_or(DemoError::Internal("invoice without lines"))?;
    let mut total = Money::zero(first.amount.currency);
    for l in lines {
        total = total.checked_add(l.amount)?;
    }
    Ok(total)
}

/// Answered calls of a client on local dates in `[from, to)`: counted from the simulation inside
/// the month, estimated from the client's nominal volume before it.
fn answered_calls_between(
    ctx: &Ctx,
    client: usize,
    from: NaiveDate,
    to: NaiveDate,
    calls: &[CallRecord],
) -> Result<u64, DemoError> {
    let profile = ctx.client(client)?;
    let calendar = profile.calendar();
    let daily = f64::from(ctx.month.scale.calls_per_client_per_day)
        * profile.volume_weight
        * NOMINAL_ANSWERED_SHARE;
    let mut estimated = 0.0;
    let mut simulated: u64 = 0;
    for date in from.iter_days().take_while(|d| *d < to) {
        if date >= ctx.month.start && date < ctx.month.next_start {
            continue;
        }
        if calendar.is_business_day(date) {
            estimated += daily;
        } else if profile.is_24_7() {
            estimated += daily * profile.off_day_factor;
        }
    }
    for call in calls {
        if call.client == client
            && call.is_answered()
            && call.local_date >= from
            && call.local_date < to
        {
            simulated += 1;
        }
    }
    let estimated = super::random::round_to_u64(estimated)
        .ok_or(DemoError::Internal("usage estimate out of range"))?;
    Ok(simulated + estimated)
}

fn pay(
    ctx: &mut Ctx,
    client: usize,
    invoice_id: &InvoiceId,
    at: DateTime<Utc>,
    amount: Money,
    suffix: &str,
) -> Result<(), DemoError> {
    let payment_id = PaymentId::new(format!("pay-{invoice_id}{suffix}"))?;
    ctx.plan.record(
        at,
        Command::ReceivePayment(PaymentReceived {
            client_id: ctx.client(client)?.id.clone(),
            invoice_id: invoice_id.clone(),
            payment_id,
            at,
            amount,
            excess_as_credit: false,
        }),
    );
    Ok(())
}

// ---------------------------------------------------------------- operations

/// Plans excused windows, credentials, account issues, changes, reports and the QBR.
pub(crate) fn plan_operations(ctx: &mut Ctx, calls: &[CallRecord]) -> Result<(), DemoError> {
    outage(ctx, calls)?;
    credentials(ctx)?;
    account_issues(ctx)?;
    reports(ctx)?;
    Ok(())
}

fn window_id(
    ctx: &Ctx,
    client: usize,
    kind: &str,
    at: DateTime<Utc>,
) -> Result<ExcusedWindowId, DemoError> {
    let profile = ctx.client(client)?;
    Ok(ExcusedWindowId::new(format!(
        "{kind}-{}-{}-{}",
        profile.code,
        profile.calendar().local_date(at).format("%Y%m%d"),
        ctx.month.tag
    ))?)
}

fn excused_window(
    ctx: &mut Ctx,
    client: usize,
    kind: &str,
    cause: ExcuseCause,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    note: &str,
) -> Result<(), DemoError> {
    let client_id = ctx.client(client)?.id.clone();
    let window_id = window_id(ctx, client, kind, from)?;
    ctx.plan.record(
        from,
        Command::OpenExcusedWindow(ExcusedWindowOpened {
            client_id: client_id.clone(),
            window_id: window_id.clone(),
            at: from,
            cause,
            note: Some(note.to_owned()),
        }),
    );
    ctx.plan.record(
        to,
        Command::CloseExcusedWindow(ExcusedWindowClosed {
            client_id,
            window_id,
            at: to,
        }),
    );
    Ok(())
}

/// Notification time under R-COM-1: well inside four business hours when found in business
/// hours, else early in the first business hour of the next business period.
fn prompt_notification(
    ctx: &Ctx,
    client: usize,
    identified_at: DateTime<Utc>,
) -> Result<DateTime<Utc>, DemoError> {
    let calendar = ctx.client(client)?.calendar();
    if calendar.is_within_business_hours(identified_at) {
        Ok(identified_at + mins(25))
    } else {
        Ok(calendar.next_business_open_after(identified_at)? + mins(30))
    }
}

fn account_issue(
    ctx: &mut Ctx,
    client: usize,
    identified_at: DateTime<Utc>,
    notified_at: DateTime<Utc>,
    summary: &str,
    channel: &str,
) -> Result<AccountIssueId, DemoError> {
    let profile = ctx.client(client)?;
    let client_id = profile.id.clone();
    let issue_id = AccountIssueId::new(format!(
        "ai-{}-{}-{}",
        profile.code,
        identified_at
            .with_timezone(&profile.calendar().time_zone)
            .format("%Y%m%d%H%M"),
        ctx.month.tag
    ))?;
    ctx.plan.record(
        identified_at,
        Command::IdentifyAccountIssue(AccountIssueIdentified {
            client_id: client_id.clone(),
            issue_id: issue_id.clone(),
            at: identified_at,
            summary: Some(summary.to_owned()),
        }),
    );
    ctx.plan.record(
        notified_at,
        Command::NotifyClientOfIssue(ClientNotifiedOfIssue {
            client_id,
            issue_id: issue_id.clone(),
            at: notified_at,
            channel: channel.to_owned(),
        }),
    );
    Ok(issue_id)
}

/// The calls of `client` whose wait overlaps `window`, and of them how many were abandoned
/// and how many went to voicemail: what the outage note says, from the planned calls.
fn calls_in_window(calls: &[CallRecord], client: usize, window: &Window) -> (usize, usize, usize) {
    let waiting: Vec<&CallRecord> = calls
        .iter()
        .filter(|c| {
            let left_queue = c.connected_at + Duration::seconds(i64::from(c.wait_secs));
            c.client == client && c.connected_at < window.to && left_queue >= window.from
        })
        .collect();
    let abandoned = waiting
        .iter()
        .filter(|c| matches!(c.fate, Fate::Abandoned { .. }))
        .count();
    let voicemail = waiting
        .iter()
        .filter(|c| matches!(c.fate, Fate::Voicemail { .. }))
        .count();
    (waiting.len(), abandoned, voicemail)
}

fn outage(ctx: &mut Ctx, calls: &[CallRecord]) -> Result<(), DemoError> {
    let window = ctx.story.outage;
    for client in [NORTHWIND, THAMES] {
        excused_window(
            ctx,
            client,
            "fm",
            ExcuseCause::ForceMajeure,
            window.from,
            window.to,
            "Upstream telecom carrier outage at the agency's contact centre",
        )?;
        let identified_at = window.from + mins(10);
        let notified_at = prompt_notification(ctx, client, identified_at)?;
        account_issue(
            ctx,
            client,
            identified_at,
            notified_at,
            "Carrier outage: longer queue times, calls may drop",
            "email",
        )?;
    }
    ctx.note(
        usize::MAX,
        window.from,
        format!(
            "telecom carrier outage for {} min: force-majeure excused windows on {}; both clients notified within R-COM-1",
            (window.to - window.from).num_minutes(),
            [NORTHWIND, THAMES]
                .iter()
                .map(|&client| {
                    // Said from the calls actually planned, so the narrative never promises
                    // traffic the reports will not show (Northwind's window falls in its night).
                    let (waiting, abandoned, voicemail) = calls_in_window(calls, client, &window);
                    let name = &ctx.clients[client].name;
                    match waiting {
                        0 => format!("{name} (no call waiting in it)"),
                        n => format!(
                            "{name} ({n} call{} waiting in it: {abandoned} abandoned, {voicemail} to voicemail)",
                            if n == 1 { "" } else { "s" }
                        ),
                    }
                })
                .collect::<Vec<_>>()
                .join(" and ")
        ),
    );
    Ok(())
}

fn credentials(ctx: &mut Ctx) -> Result<(), DemoError> {
    let window = ctx.story.credentials;
    let profile = ctx.client(THAMES)?;
    let client_id = profile.id.clone();
    let credential_id = CredentialId::new(format!(
        "cred-{}-{}",
        profile.code, profile.documentation_channel
    ))?;
    ctx.plan.record(
        window.from,
        Command::ExpireCredentials(CredentialsExpired {
            client_id: client_id.clone(),
            credential_id: credential_id.clone(),
            at: window.from,
        }),
    );
    // The expiry and the restoration are the excused window (R-DOC-2's missing credentials):
    // the projections derive it from these two events, so no window of its own is opened.
    ctx.plan.record(
        window.to,
        Command::RestoreCredentials(CredentialsRestored {
            client_id,
            credential_id,
            at: window.to,
        }),
    );
    let identified_at = window.from + mins(10);
    let notified_at = prompt_notification(ctx, THAMES, identified_at)?;
    account_issue(
        ctx,
        THAMES,
        identified_at,
        notified_at,
        "Portal credentials expired overnight; documentation is queued",
        "email",
    )?;
    ctx.note(
        THAMES,
        window.from,
        format!(
            "property-portal credentials expire (excused window until {}); the after-hours issue is notified at {} (R-COM-1 met)",
            local_stamp(ctx.client(THAMES)?.calendar(), window.to),
            local_stamp(ctx.client(THAMES)?.calendar(), notified_at)
        ),
    );
    Ok(())
}

fn account_issues(ctx: &mut Ctx) -> Result<(), DemoError> {
    // Acme: an integration fault found mid-morning and reported within the hour.
    let day = ctx.business_day_from(ACME, ctx.month.day(21))?;
    let identified_at = ctx.local(ACME, day, 10, 40)?;
    let notified_at = ctx.local(ACME, day, 11, 25)?;
    account_issue(
        ctx,
        ACME,
        identified_at,
        notified_at,
        "EHR integration rejecting appointment writes",
        "phone",
    )?;
    ctx.note(
        ACME,
        identified_at,
        "EHR integration fault identified and reported to the practice 45 min later (R-COM-1 met)",
    );

    // Northwind: a disconnected escalation number, reported the next day (R-COM-1 miss), then
    // the client's change notice and the amended escalation chain.
    let day = ctx.business_day_from(NORTHWIND, ctx.month.day(15))?;
    let next = ctx.client(NORTHWIND)?.calendar().next_business_day(day)?;
    let identified_at = ctx.local(NORTHWIND, day, 14, 10)?;
    let notified_at = ctx.local(NORTHWIND, next, 11, 45)?;
    account_issue(
        ctx,
        NORTHWIND,
        identified_at,
        notified_at,
        "Tier-2 escalation number disconnected",
        "email",
    )?;
    ctx.note(
        NORTHWIND,
        identified_at,
        format!(
            "a disconnected tier-2 escalation number is found but reported only at {} (R-COM-1 miss: 4 business hours)",
            local_stamp(ctx.client(NORTHWIND)?.calendar(), notified_at)
        ),
    );
    let change_day = ctx.client(NORTHWIND)?.calendar().next_business_day(next)?;
    let changed_at = ctx.local(NORTHWIND, change_day, 9, 15)?;
    let amended_at = ctx.local(NORTHWIND, change_day, 9, 30)?;
    let profile = ctx.client(NORTHWIND)?;
    let client_id = profile.id.clone();
    let mut agreement = profile.agreement.clone();
    if let Some(contact) = agreement.escalation_chain.iter_mut().find(|c| c.tier == 2) {
        contact.name = Some("Marco Ruiz".to_owned());
        contact.contact = Some("+1 323 555 0155".to_owned());
    }
    let tag = ctx.month.tag.clone();
    ctx.plan.record(
        changed_at,
        Command::NotifySignificantChange(SignificantChangeNotified {
            client_id: client_id.clone(),
            change_id: ChangeId::new(format!("chg-nw-contacts-{tag}"))?,
            at: changed_at,
            kind: ChangeKind::EscalationContacts,
            effective_at: Some(amended_at),
            details: Some("New on-call technician for tier 2".to_owned()),
        }),
    );
    ctx.plan.record(
        amended_at,
        Command::AmendAgreement(AgreementAmended {
            client_id: client_id.clone(),
            amendment_id: AgreementAmendmentId::new(format!("amd-nw-contacts-{tag}"))?,
            at: amended_at,
            effective_at: amended_at,
            agreement,
        }),
    );
    ctx.note(
        NORTHWIND,
        changed_at,
        "client notifies a new tier-2 contact; the agreement is amended with the new escalation chain",
    );

    // Northwind: the notified cold-weather volume increase.
    let notified_day = ctx.business_day_from(NORTHWIND, ctx.month.day(2))?;
    let notified_at = ctx.local(NORTHWIND, notified_day, 10, 0)?;
    ctx.plan.record(
        notified_at,
        Command::NotifySignificantChange(SignificantChangeNotified {
            client_id,
            change_id: ChangeId::new(format!("chg-nw-volume-{tag}"))?,
            at: notified_at,
            kind: ChangeKind::CallVolume,
            effective_at: Some(ctx.story.cold_snap_from),
            details: Some("Cold-weather campaign: expect about 35 % more calls".to_owned()),
        }),
    );
    ctx.note(
        NORTHWIND,
        notified_at,
        format!(
            "client notifies a cold-weather volume increase from {} (so no excused window for it)",
            local_stamp(ctx.client(NORTHWIND)?.calendar(), ctx.story.cold_snap_from)
        ),
    );
    Ok(())
}

fn report_id(
    ctx: &Ctx,
    client: usize,
    kind: &str,
    month_start: NaiveDate,
) -> Result<ReportId, DemoError> {
    Ok(ReportId::new(format!(
        "{kind}-{}-{}-{}",
        ctx.client(client)?.code,
        month_start.format("%Y%m"),
        ctx.month.tag
    ))?)
}

fn reports(ctx: &mut Ctx) -> Result<(), DemoError> {
    let previous = ctx.month.shifted_start(-1)?;
    // (client, business day of this month, local hour) for last month's report.
    let schedule: [(usize, u64, u32); 5] = [
        (ACME, 3, 10),
        (NORTHWIND, 4, 15),
        (THAMES, 7, 12),
        (WHITFIELD, 2, 11),
        (INDUS, 6, 16),
    ];
    for (client, business_day, hour) in schedule {
        let day = ctx.nth_business_day(client, ctx.month.start, business_day)?;
        let at = ctx.local(client, day, hour, 0)?;
        let profile = ctx.client(client)?;
        let client_id = profile.id.clone();
        let pro = profile.agreement.tier.is_professional_or_enterprise();
        ctx.plan.record(
            at,
            Command::DeliverMonthlyReport(MonthlyReportDelivered {
                client_id: client_id.clone(),
                report_id: report_id(ctx, client, "rep", previous)?,
                at,
                year: previous.year(),
                month: previous.month(),
                kind: if pro {
                    MonthlyReportKind::Performance
                } else {
                    MonthlyReportKind::Summary
                },
            }),
        );
        if pro {
            ctx.plan.record(
                at,
                Command::DeliverQaSummary(QaSummaryDelivered {
                    client_id,
                    report_id: report_id(ctx, client, "qas", previous)?,
                    at,
                    year: previous.year(),
                    month: previous.month(),
                }),
            );
        }
        if client == THAMES {
            ctx.note(
                client,
                at,
                format!(
                    "{} performance report and QA summary delivered on the 7th business day, after the 5th (R-REP-1 miss)",
                    previous.format("%B")
                ),
            );
        }
    }
    let day = ctx.business_day_from(NORTHWIND, ctx.month.day(22))?;
    let at = ctx.local(NORTHWIND, day, 11, 0)?;
    let quarter = (ctx.month.start.month() - 1) / 3 + 1;
    ctx.plan.record(
        at,
        Command::ConductQuarterlyReview(QuarterlyReviewConducted {
            client_id: ctx.client(NORTHWIND)?.id.clone(),
            report_id: report_id(ctx, NORTHWIND, "qbr", ctx.month.start)?,
            at,
            year: ctx.month.start.year(),
            quarter,
        }),
    );
    ctx.note(
        NORTHWIND,
        at,
        format!("quarterly business review for Q{quarter} held (R-REP-3 met)"),
    );
    Ok(())
}

// ---------------------------------------------------------------- billing

/// Plans the month's payments, the default notice and suspension, the price change and the
/// next month's invoices, with the billing refusals.
pub(crate) fn plan_billing(ctx: &mut Ctx, calls: &[CallRecord]) -> Result<(), DemoError> {
    let previous = ctx.month.shifted_start(-1)?;

    // On-time payments of this month's invoices.
    for (client, day, hour) in [(ACME, 6, 13), (NORTHWIND, 20, 9), (WHITFIELD, 6, 12)] {
        let invoice = invoice_spec(ctx, client, ctx.month.start, &[])?;
        let date = ctx.business_day_from(client, ctx.month.day(day))?;
        let at = ctx.local(client, date, hour, 0)?;
        pay(
            ctx,
            client,
            &invoice.command.invoice_id,
            at,
            invoice.command.total,
            "",
        )?;
    }

    // Thames pays part on time and the rest after the due date.
    let invoice = invoice_spec(ctx, THAMES, ctx.month.start, &[])?;
    let total = invoice.command.total;
    let part = Money::new(total.amount_minor / 10 * 6, total.currency);
    let rest = total.checked_sub(part)?;
    let first = ctx.local(
        THAMES,
        ctx.business_day_from(THAMES, ctx.month.day(7))?,
        14,
        0,
    )?;
    let second = ctx.local(
        THAMES,
        ctx.business_day_from(THAMES, ctx.month.day(23))?,
        11,
        0,
    )?;
    pay(ctx, THAMES, &invoice.command.invoice_id, first, part, "-1")?;
    pay(ctx, THAMES, &invoice.command.invoice_id, second, rest, "-2")?;
    ctx.note(
        THAMES,
        first,
        format!(
            "partial payment of {} of the {} invoice; the balance of {} follows after the due date",
            money_text(part),
            money_text(total),
            money_text(rest)
        ),
    );
    // An operator tries to suspend Thames for the open balance without any written notice.
    let attempt_at = ctx.local(
        THAMES,
        ctx.business_day_from(THAMES, ctx.month.day(13))?,
        10,
        0,
    )?;
    let tag = ctx.month.tag.clone();
    ctx.plan.expect_refusal(
        attempt_at,
        ctx.client(THAMES)?.id.clone(),
        "suspend Thames for its open balance without a written notice of payment default",
        Command::SuspendService(ServiceSuspended {
            client_id: ctx.client(THAMES)?.id.clone(),
            at: attempt_at,
            notice_id: NoticeId::new(format!("ntc-tlp-unsent-{tag}"))?,
        }),
    );

    // Indus: last month's invoice unpaid. Notice, a refused early termination, suspension,
    // payment of both invoices, and service resumed.
    let overdue = invoice_spec(ctx, INDUS, previous, &[])?;
    let current = invoice_spec(ctx, INDUS, ctx.month.start, &[])?;
    let indus_id = ctx.client(INDUS)?.id.clone();
    let notice_id = NoticeId::new(format!("ntc-ith-default-{tag}"))?;
    let notice_at = ctx.story.default_notice_at;
    ctx.plan.record(
        notice_at,
        Command::SendPaymentDefaultNotice(PaymentDefaultNoticeSent {
            client_id: indus_id.clone(),
            notice_id: notice_id.clone(),
            at: notice_at,
            invoice_ids: vec![overdue.command.invoice_id.clone()],
        }),
    );
    ctx.note(
        INDUS,
        notice_at,
        format!(
            "{} invoice {} is unpaid past its due date: written notice of payment default sent (R-BIL-3)",
            previous.format("%B"),
            overdue.command.invoice_id
        ),
    );
    let early_at = ctx.local(
        INDUS,
        ctx.business_day_from(INDUS, ctx.month.day(5))?,
        10,
        0,
    )?;
    ctx.plan.expect_refusal(
        early_at,
        indus_id.clone(),
        "terminate Indus immediately for non-payment while its invoice is under 30 days past due",
        Command::TerminateImmediately(TerminateImmediately {
            client_id: indus_id.clone(),
            at: early_at,
            cause: ImmediateCause::NonPayment {
                invoice_ids: vec![overdue.command.invoice_id.clone()],
            },
        }),
    );
    let suspension = ctx.story.suspension;
    ctx.plan.record(
        suspension.from,
        Command::SuspendService(ServiceSuspended {
            client_id: indus_id.clone(),
            at: suspension.from,
            notice_id,
        }),
    );
    let paid_at = ctx.story.indus_payment_at;
    pay(
        ctx,
        INDUS,
        &overdue.command.invoice_id,
        paid_at,
        overdue.command.total,
        "",
    )?;
    pay(
        ctx,
        INDUS,
        &current.command.invoice_id,
        paid_at + mins(1),
        current.command.total,
        "",
    )?;
    ctx.plan.record(
        suspension.to,
        Command::ResumeService(ServiceResumed {
            client_id: indus_id,
            at: suspension.to,
        }),
    );
    ctx.note(
        INDUS,
        suspension.from,
        format!(
            "service suspended for non-payment, after the notice; both invoices are paid and service resumes at {} (no calls in between)",
            local_stamp(ctx.client(INDUS)?.calendar(), suspension.to)
        ),
    );

    // Acme: a price increase notified with more than the 30 days' notice.
    let notice_day = ctx.business_day_from(ACME, ctx.month.day(5))?;
    let notified_at = ctx.local(ACME, notice_day, 14, 0)?;
    let effective_date = ctx.month.shifted_start(2)?;
    let effective_at = ctx.local(ACME, effective_date, 0, 0)?;
    let profile = ctx.client(ACME)?;
    let new_base = Money::new(159_500, profile.monthly_base.currency);
    let new_per_call = Money::new(120, profile.per_call.currency);
    ctx.plan.record(
        notified_at,
        Command::NotifyPriceChange(PriceChangeNotified {
            client_id: profile.id.clone(),
            notice_id: NoticeId::new(format!("ntc-acme-price-{tag}"))?,
            at: notified_at,
            effective_at,
            rates: vec![
                Rate {
                    item: "monthly_base".to_owned(),
                    unit_price: new_base,
                },
                Rate {
                    item: "per_call".to_owned(),
                    unit_price: new_per_call,
                },
            ],
        }),
    );
    ctx.note(
        ACME,
        notified_at,
        format!(
            "price change notified in writing: monthly base {} from {} ({} days' notice, R-BIL-4)",
            money_text(new_base),
            effective_date,
            (effective_at - notified_at).num_days()
        ),
    );

    // Next month's invoices, in advance, with this month's usage so far.
    let next = ctx.month.next_start;
    let mut first_issue: Option<DateTime<Utc>> = None;
    for client in [ACME, NORTHWIND, THAMES, INDUS] {
        let invoice = invoice_spec(ctx, client, next, calls)?;
        first_issue = Some(first_issue.map_or(invoice.command.at, |f| f.min(invoice.command.at)));
        ctx.plan
            .record(invoice.command.at, Command::IssueInvoice(invoice.command));
    }
    if let Some(at) = first_issue {
        ctx.note(
            usize::MAX,
            at,
            format!(
                "{} invoices issued {INVOICE_LEAD_DAYS} days before the service period, with this month's per-call usage (R-BIL-1)",
                next.format("%B")
            ),
        );
    }
    Ok(())
}

fn money_text(m: Money) -> String {
    let major = m.amount_minor / 100;
    let minor = (m.amount_minor % 100).abs();
    format!("{} {major}.{minor:02}", m.currency)
}

// ---------------------------------------------------------------- termination

/// Plans Whitfield & Cole's termination on notice, the legal hold, the final invoice, and the
/// refusals that follow it.
pub(crate) fn plan_termination(ctx: &mut Ctx, calls: &[CallRecord]) -> Result<(), DemoError> {
    let client = WHITFIELD;
    let profile = ctx.client(client)?;
    let client_id = profile.id.clone();
    let calendar = profile.calendar().clone();
    let code = profile.code;
    let per_call = profile.per_call;
    let tag = ctx.month.tag.clone();
    let notice_at = ctx.story.termination_notice_at;
    let effective_at = ctx.story.termination_effective_at;
    ctx.plan.record(
        notice_at,
        Command::GiveTerminationNotice(GiveTerminationNotice {
            client_id: client_id.clone(),
            notice_id: NoticeId::new(format!("ntc-{code}-termination-{tag}"))?,
            at: notice_at,
            by: Party::Client,
            effective_at: Some(effective_at),
        }),
    );
    ctx.note(
        client,
        notice_at,
        format!(
            "client gives written notice of termination; with the agreed 14-day notice period it takes effect at {} (R-TRM-1)",
            local_stamp(&calendar, effective_at)
        ),
    );

    // The urgent intake call a court later asks to be preserved.
    let held_call: CallId = calls
        .iter()
        .find(|c| c.script == Some(Script::LegalHoldCall))
        .map(|c| c.call_id.clone())
        .ok_or(DemoError::Internal("the legal-hold call was not planned"))?;
    let hold_day = ctx.business_day_from(client, ctx.month.day(14))?;
    let hold_at = ctx.local(client, hold_day, 16, 30)?;
    let hold_id = LegalHoldId::new(format!("lh-{code}-{tag}"))?;
    ctx.plan.record(
        hold_at,
        Command::PlaceLegalHold(LegalHoldPlaced {
            client_id: client_id.clone(),
            hold_id: hold_id.clone(),
            at: hold_at,
            matter: format!("Preservation demand covering intake call {held_call}"),
        }),
    );
    ctx.note(
        client,
        hold_at,
        format!("legal hold {hold_id} placed on the client's records (intake call {held_call}); deletion is suspended until it is released"),
    );

    ctx.plan.record(
        effective_at,
        Command::RecordTerminationEffective(TerminationTookEffect {
            client_id: client_id.clone(),
            at: effective_at,
        }),
    );
    let last_call = calls
        .iter()
        .filter(|c| c.client == client && c.connected_at < effective_at)
        .map(|c| c.connected_at)
        .max()
        .unwrap_or(effective_at);
    ctx.note(
        client,
        effective_at,
        format!(
            "termination takes effect; client data is due for deletion by {} (R-RET-2, 30 days), call records are kept at least until {} (R-RET-1, 90 days from the last call), and the legal hold keeps both pending",
            calendar.local_date(effective_at + Duration::days(30)),
            calendar.local_date(last_call + Duration::days(90))
        ),
    );

    // Final invoice: per-call usage from the start of the month through the last day of service.
    let final_day = ctx.business_day_from(client, calendar.local_date(effective_at))?;
    let final_at = ctx.local(client, final_day, 10, 0)?;
    let last_day = calendar.local_date(effective_at) - Duration::days(1);
    let quantity = answered_calls_between(
        ctx,
        client,
        ctx.month.start,
        last_day + Duration::days(1),
        calls,
    )?;
    let lines = vec![line(
        format!("Answered calls {} to {}", ctx.month.start, last_day),
        quantity,
        per_call,
    )?];
    let total = sum(&lines)?;
    let final_id = invoice_id(ctx, client, ctx.month.start, "-final")?;
    ctx.plan.record(
        final_at,
        Command::IssueInvoice(IssueInvoice {
            client_id: client_id.clone(),
            invoice_id: final_id.clone(),
            at: final_at,
            invoice_date: final_day,
            period_start: ctx.month.start,
            period_end: last_day,
            lines,
            total,
            due_date: None,
            final_invoice: true,
        }),
    );
    // The former client settles it before the month ends.
    let paid_day = ctx
        .business_day_from(client, ctx.month.day(27))?
        .max(final_day);
    let paid_at = ctx.local(client, paid_day, 12, 0)?.max(final_at + mins(1));
    pay(ctx, client, &final_id, paid_at, total, "")?;
    ctx.note(
        client,
        final_at,
        format!(
            "final invoice for {quantity} answered calls through the termination date, {} (R-BIL-6), paid {}",
            money_text(total),
            local_stamp(&calendar, paid_at)
        ),
    );

    // Refusals after the termination.
    let late_call_day = ctx.business_day_from(
        client,
        calendar.local_date(effective_at) + Duration::days(3),
    )?;
    let late_call_at = ctx.local(client, late_call_day, 9, 30)?;
    ctx.plan.expect_refusal(
        late_call_at,
        client_id.clone(),
        "record a call for Whitfield & Cole after its termination took effect",
        Command::ConnectCall(CallConnected {
            client_id: client_id.clone(),
            call_id: CallId::new(format!("{code}-after-termination-{tag}"))?,
            at: late_call_at,
            queue: Some("main".to_owned()),
            caller_number: None,
        }),
    );
    let delete_at = ctx.local(client, ctx.month.day(28), 10, 0)?;
    ctx.plan.expect_refusal(
        delete_at,
        client_id.clone(),
        "delete all of Whitfield & Cole's data while the legal hold is active",
        Command::RecordDataDeletion(ClientDataDeleted {
            client_id,
            deletion_id: DeletionId::new(format!("del-{code}-{tag}"))?,
            at: delete_at,
            scope: DeletionScope::AllClientData,
        }),
    );
    Ok(())
}
