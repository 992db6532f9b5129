//! Obligations: for every rule of the catalog, the deadlines its clock-start events opened, the
//! events that met them, and a verdict.
//!
//! Each obligation names its rule id, the rule value in force at its clock start (looked up with
//! `domain::rules_in_force::value_at`, the single lookup, over the agreement versions and SOP
//! amendments the basis sees), its due instant (`domain::deadlines::due_at`), its verdict and the
//! events that produced it. Pending obligations are judged at the `evaluated_at` instant passed
//! in: once it is past the due instant they are missed (or excused).
//!
//! Which obligations fall in a period: call rules (R-ANS-*, R-DOC-*, R-ESC-1) for calls that
//! entered the queue in the period; monthly rules (R-QA-1, R-QA-4, R-REP-1/2, and R-BIL-1 for a
//! service month no invoice bills) for client-local months overlapping it; R-REP-3 for quarters
//! starting in it; R-COV-1 for the part of the period
//! up to `evaluated_at`; everything else for clock-start events occurring in it.
//!
//! Choices where the catalog is silent, stated once here:
//! - R-ANS-1 is met only by pickup. A call that left the queue (abandoned, voicemail) before the
//!   target elapsed is not applicable; after it, it is missed by the time past the target.
//! - R-ANS-2 is met by pickup, or voicemail routing when the agreement enables voicemail. A call
//!   that left the queue within the maximum is not applicable; after it, missed.
//! - R-ANS-3 and R-ANS-4 have no clock: they are judged by the review findings (greeting,
//!   language) of completed reviews; a call never reviewed has no verdict.
//! - R-DOC-1 applies to completed calls whose latest classification requires documentation; it
//!   has no deadline in the catalog, so an undocumented call is pending; a documentation lacking
//!   fields is missed by the number of fields missing.
//! - R-ESC-1 applies to completed calls classified urgent; met by the first contact attempt of
//!   an urgent escalation opened for the call.
//! - R-ESC-2 is met by an attempt to a lower tier within the value in force ("immediate": 60 s);
//!   when the unreachable tier is the last of the chain in force, the verdict is chain exhausted.
//! - R-ESC-3 is judged per non-urgent escalation: the digest is due when the agreed interval it
//!   was raised in closes (within 60 s), and is met by a digest whose period holds the item.
//! - R-QA-1 counts the month's answered calls reviewed by the month's QA summary deadline,
//!   judged at that deadline and never changed by later reviews.
//! - R-COV-1 reports each interval where fewer distinct agents than required were on duty.
//! - "No data recorded" (issue 11): R-COV-1 (shifts), R-REP-1/2/3 (report deliveries and
//!   quarterly reviews) and R-QA-1/4 (QA reviews and summaries) are judged on a family of facts
//!   the agency records. Per client and per family, over the events the basis sees, an
//!   obligation due before the family's first fact occurred (for R-COV-1, the part of the period
//!   before the first shift) and without a meeting event of its own is "no data recorded"
//!   rather than missed or excused; it is tallied apart and never in a miss count or rate. From
//!   the first fact on, every obligation of the family is judged as usual, so a later gap is a
//!   miss. Rules whose clock-start events are themselves the facts (calls, escalations,
//!   invoices) need no such reading: without the facts there is no obligation.
//! - R-RET-2's deadline is the later of R-RET-2's days after termination and R-RET-1's minimum
//!   for the client's last call, extended by the time legal holds were active after the
//!   termination (`domain::deadlines::extended_by_holds`); an active legal hold keeps it pending
//!   (held), naming the hold, with no due instant until it is released.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use opsledger_domain::agreement::AccountKind;
use opsledger_domain::deadlines::due_at;
use opsledger_domain::events::BreachKind;
use opsledger_domain::ids::{
    AccountIssueId, BreachId, CallId, ClientId, EscalationId, InvoiceId, QualityIssueId, ReviewId,
    SopAmendmentId,
};
use opsledger_domain::rules::{RuleId, RuleValue};
use serde::{Deserialize, Serialize};

use self::no_data::DataStarts;
use crate::model::{ClientRecord, ReadModel, RulesView};
use crate::position::{AsOf, EventRef, Period, YearMonth};
use crate::report::{resolve_client, ReportError};
use crate::verdict::{
    judge_deadline, no_deadline_verdict, secs_late, windows_seen, DataFamily, ExcusedWindow,
    Shortfall, Tally, Unit, Verdict,
};

// One module per business area, the same area names as in `domain::events`, `domain::decide`
// and `crate::model`: a change to one rule touches one of them. This module keeps the report and
// the judging context every area records into; `no_data` keeps the reading of "no data recorded"
// that several areas share.
mod billing;
mod calls;
mod coverage;
mod escalations;
mod no_data;
mod operations;
mod quality;
mod reporting;
mod retention;
mod termination;

pub(crate) use billing::{cited_invoices, settled_by};
pub(crate) use retention::{active_holds, hold_intervals};

/// What an obligation is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Subject {
    /// A call.
    Call {
        /// Call.
        call_id: CallId,
    },
    /// An escalation, at a tier for R-ESC-2.
    Escalation {
        /// Escalation.
        escalation_id: EscalationId,
        /// The unreachable tier, for R-ESC-2.
        tier: Option<u32>,
    },
    /// A review.
    Review {
        /// Review.
        review_id: ReviewId,
    },
    /// A quality issue.
    QualityIssue {
        /// Issue.
        issue_id: QualityIssueId,
    },
    /// A conduct breach.
    Breach {
        /// Breach.
        breach_id: BreachId,
    },
    /// An account issue.
    AccountIssue {
        /// Issue.
        issue_id: AccountIssueId,
    },
    /// A client-local month.
    Month {
        /// Month.
        month: YearMonth,
    },
    /// A calendar quarter.
    Quarter {
        /// Year.
        year: i32,
        /// Quarter, 1–4.
        quarter: u32,
    },
    /// An interval of R-COV-1 coverage.
    Coverage {
        /// Start.
        from: DateTime<Utc>,
        /// End.
        to: DateTime<Utc>,
        /// Distinct agents on duty during it.
        agents_on_duty: u64,
    },
    /// An invoice.
    Invoice {
        /// Invoice.
        invoice_id: InvoiceId,
    },
    /// A suspension of service.
    Suspension,
    /// A price change notice.
    PriceChange,
    /// A termination notice.
    TerminationNotice,
    /// An immediate termination.
    ImmediateTermination,
    /// The termination taking effect.
    Termination,
    /// A deletion of client data.
    Deletion,
    /// An SOP amendment.
    SopAmendment {
        /// Amendment.
        amendment_id: SopAmendmentId,
    },
    /// The client as a whole (rules that are not judged per fact).
    Client,
}

/// One obligation and its verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Obligation {
    /// The id reports print and `explain`/`timeline` accept: `RULE:SUBJECT`
    /// (`crate::obligation_id`).
    #[serde(default)]
    pub id: String,
    /// The rule judged.
    pub rule: RuleId,
    /// What it is about.
    pub subject: Subject,
    /// When its clock started, if it has one.
    pub clock_start: Option<DateTime<Utc>>,
    /// The rule value in force at the clock start.
    pub rule_value: RuleValue,
    /// When it falls due, if it has a deadline.
    pub due_at: Option<DateTime<Utc>>,
    /// The verdict.
    pub verdict: Verdict,
    /// The events that produced it: clock start first, then the meeting event if any.
    pub evidence: Vec<EventRef>,
    /// A sentence explaining a judgement the fields do not make obvious.
    pub note: Option<String>,
}

/// An R-COV-1 gap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageGap {
    /// The printed id of its obligation, for `explain`.
    #[serde(default)]
    pub id: String,
    /// Start.
    pub from: DateTime<Utc>,
    /// End.
    pub to: DateTime<Utc>,
    /// Distinct agents on duty.
    pub agents_on_duty: u64,
    /// The verdict (missed, or excused with the windows).
    pub verdict: Verdict,
}

impl Obligation {
    /// The R-COV-1 gap this obligation reports, if it is one.
    pub fn coverage_gap(&self) -> Option<CoverageGap> {
        match (&self.subject, &self.verdict) {
            (
                Subject::Coverage {
                    from,
                    to,
                    agents_on_duty,
                },
                Verdict::Missed { .. } | Verdict::Excused { .. },
            ) => Some(CoverageGap {
                id: self.id.clone(),
                from: *from,
                to: *to,
                agents_on_duty: *agents_on_duty,
                verdict: self.verdict.clone(),
            }),
            _ => None,
        }
    }
}

/// One rule's line in the report: its tally, and why it has no obligations if it has none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSummary {
    /// Rule.
    pub rule: RuleId,
    /// Verdict counts.
    pub tally: Tally,
    /// What the rule needs, when the period holds none of its clock starts or events cannot judge it.
    pub note: Option<String>,
}

/// The obligation report of one client over a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObligationReport {
    /// Client.
    pub client_id: ClientId,
    /// Period.
    pub period: Period,
    /// Basis.
    pub as_of: AsOf,
    /// Projection checkpoint.
    pub checkpoint: u64,
    /// Instant pending obligations were judged at.
    pub evaluated_at: DateTime<Utc>,
    /// Excused windows the basis sees.
    pub excused_windows: Vec<ExcusedWindow>,
    /// One line per rule of the catalog, in catalog order.
    pub rules: Vec<RuleSummary>,
    /// Every obligation, grouped by rule in catalog order, then by clock start.
    pub obligations: Vec<Obligation>,
    /// Medical and legal accounts [11.8]: breaches of the agreement's privacy protocol
    /// (confidentiality) or the client's intake protocol, conduct breaches under R-QA-5, listed
    /// apart with their R-QA-5 verdicts. Empty (and left out) for general accounts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub protocol_findings: Vec<ProtocolFinding>,
}

/// A privacy or intake-protocol breach on a medical or legal account (the catalog's Readings,
/// "Account kind [11.8]").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtocolFinding {
    /// The account kind in force when the breach was identified.
    pub account_kind: AccountKind,
    /// Breach.
    pub breach_id: BreachId,
    /// Privacy (`confidentiality`) or `intake_protocol`.
    pub kind: BreachKind,
    /// When it was identified.
    pub identified_at: DateTime<Utc>,
    /// Its R-QA-5 verdict (corrective action the same business day).
    pub verdict: Verdict,
}

/// The obligation report of a client over a period, as of a basis, judged at `evaluated_at`.
pub fn report(
    model: &ReadModel,
    checkpoint: u64,
    client_id: &ClientId,
    period: Period,
    as_of: AsOf,
    evaluated_at: DateTime<Utc>,
) -> Result<ObligationReport, ReportError> {
    let client = resolve_client(model, checkpoint, client_id, &as_of)?;
    let rules = model.rules_view(client, &as_of);
    let computed = for_client(model, client, &rules, &as_of, period, evaluated_at, true);
    let mut summaries: Vec<RuleSummary> = RuleId::ALL
        .iter()
        .map(|rule| RuleSummary {
            rule: *rule,
            tally: Tally::default(),
            note: static_note(*rule).map(str::to_owned),
        })
        .collect();
    for o in &computed.obligations {
        if let Some(s) = summaries.iter_mut().find(|s| s.rule == o.rule) {
            s.tally.add(&o.verdict);
        }
    }
    for s in &mut summaries {
        if let (true, Some(family)) = (s.tally.no_data > 0, DataFamily::of_rule(s.rule)) {
            s.note = Some(no_data_definition(family));
        }
    }
    Ok(ObligationReport {
        client_id: client_id.clone(),
        period,
        as_of,
        checkpoint,
        evaluated_at,
        excused_windows: computed.windows,
        rules: summaries,
        protocol_findings: quality::protocol_findings(
            model,
            client,
            &rules,
            &as_of,
            period,
            &computed.obligations,
        ),
        obligations: computed.obligations,
    })
}

/// The report's definition of "no data recorded" for a family (issue 11).
fn no_data_definition(family: DataFamily) -> String {
    if family == DataFamily::Invoices {
        return "no data recorded: counted apart, never as missed and in no rate; a service month \
                is no data only when, as the basis sees the log, no invoice of this client was \
                ever issued; once any invoice is in the log billing is in use and every service \
                month without an invoice is missed"
            .to_owned();
    }
    format!(
        "no data recorded: counted apart, never as missed and in no rate; an obligation is no data \
         when, as the basis sees the log, no {} event ({}) occurred for this client by its due \
         instant (R-COV-1: before the instant judged) and it has no meeting event of its own; \
         from the family's first event on, obligations are judged as usual",
        family.facts(),
        family.label()
    )
}

/// The catalog's reading of a rule value's deadline, where the Terms leave room (the
/// "Readings" section), as the report states it next to the verdict.
fn deadline_reading(rule: RuleId, value: &RuleValue) -> Option<&'static str> {
    match (rule, value) {
        (RuleId::Qa5, RuleValue::SameBusinessDay) => Some(
            "\"immediately\" for a conduct breach reads as by the end of the same business day",
        ),
        (_, RuleValue::Immediate) => Some(
            "\"immediately\" reads as within 60 s of the clock start (the catalog's stated tolerance)",
        ),
        (RuleId::Ret2 | RuleId::Bil2, RuleValue::Days(_)) => Some(
            "\"within N days\" runs to the end of the N-th local calendar day after the clock start",
        ),
        (_, RuleValue::Days(_)) => Some(
            "N days are N of the client's local calendar days, at the same local wall-clock time; daylight saving never moves it",
        ),
        _ => None,
    }
}

/// Rules that need more than events, or point elsewhere.
fn static_note(rule: RuleId) -> Option<&'static str> {
    match rule {
        RuleId::Ans3 => Some(
            "no clock: judged by the greeting finding of completed reviews, and missed by a disclosure of the agency's name the agreement does not authorise",
        ),
        RuleId::Ans4 => Some("no clock: judged by the language finding of completed reviews"),
        RuleId::Ret4 => Some(
            "not computable from events: access scoping is enforced where data is read, not recorded as events",
        ),
        RuleId::Lia1 => Some("a cap, not a deadline: see the billing report's liability_cap"),
        RuleId::Amd2 => Some("judged as R-BIL-4 (the catalog defines R-AMD-2 as R-BIL-4)"),
        RuleId::Bil5 => Some("judged per invoice: its currency against the agreed one"),
        _ => None,
    }
}

/// Obligations and the windows they were judged with.
pub(crate) struct Computed {
    pub(crate) windows: Vec<ExcusedWindow>,
    /// Every obligation when collecting; only R-COV-1's when tallying.
    pub(crate) obligations: Vec<Obligation>,
    /// Verdict counts of every obligation, kept or not.
    pub(crate) tallies: BTreeMap<RuleId, Tally>,
}

struct Ctx<'a> {
    model: &'a ReadModel,
    client: &'a ClientRecord,
    rules: &'a RulesView,
    as_of: &'a AsOf,
    period: Period,
    evaluated_at: DateTime<Utc>,
    windows: Vec<ExcusedWindow>,
    /// When each family of facts was first recorded for the client, as the basis sees the log.
    data_from: DataStarts,
    out: Vec<Obligation>,
    /// Whether to keep every obligation, or only tally them (R-COV-1 gaps are always kept).
    collect: bool,
    tallies: BTreeMap<RuleId, Tally>,
}

/// Builds a subject only when the obligation is kept, so tallying allocates nothing per call.
trait MakeSubject {
    fn make(self) -> Subject;
}

impl MakeSubject for Subject {
    fn make(self) -> Subject {
        self
    }
}

/// A deferred subject.
struct Lazy<F>(F);

impl<F: FnOnce() -> Subject> MakeSubject for Lazy<F> {
    fn make(self) -> Subject {
        (self.0)()
    }
}

impl Ctx<'_> {
    fn value(&self, rule: RuleId, at: DateTime<Utc>) -> RuleValue {
        self.rules.value(rule, at).clone()
    }

    fn seen(&self, e: Option<EventRef>) -> Option<EventRef> {
        e.filter(|e| self.as_of.sees(e))
    }

    /// Judges a clocked rule and records the obligation.
    fn deadline(
        &mut self,
        rule: RuleId,
        subject: impl MakeSubject,
        start: EventRef,
        meeting: Option<EventRef>,
    ) {
        self.deadline_noted(rule, subject, start, meeting, None);
    }

    /// As [`Ctx::deadline`], with a sentence on why the obligation exists, put before the
    /// reading of the deadline.
    fn deadline_noted(
        &mut self,
        rule: RuleId,
        subject: impl MakeSubject,
        start: EventRef,
        meeting: Option<EventRef>,
        why: Option<&str>,
    ) {
        let value = self.value(rule, start.occurred_at);
        let calendar = &self.rules.agreement_at(start.occurred_at).calendar;
        let judged = judge_deadline(
            rule,
            &value,
            calendar,
            start.occurred_at,
            meeting.map(|m| m.occurred_at),
            &self.windows,
            self.evaluated_at,
        );
        let evidence = [Some(start), meeting];
        let evidence: &[Option<EventRef>] = if meeting.is_some() {
            &evidence
        } else {
            &evidence[..1]
        };
        // The note says which reading applied: a window's, else the deadline's own.
        let reading = judged
            .note
            .or_else(|| deadline_reading(rule, &value).map(str::to_owned));
        let note = match (why, reading) {
            (Some(w), Some(r)) => Some(format!("{w}; {r}")),
            (Some(w), None) => Some(w.to_owned()),
            (None, r) => r,
        };
        self.record(
            rule,
            subject,
            Some(start.occurred_at),
            value,
            judged.due_at,
            judged.verdict,
            evidence,
            note.as_deref(),
        );
    }

    // An obligation has this many fields; a positional constructor keeps each call site short.
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        rule: RuleId,
        subject: impl MakeSubject,
        clock_start: Option<DateTime<Utc>>,
        rule_value: RuleValue,
        due_at: Option<DateTime<Utc>>,
        verdict: Verdict,
        evidence: &[EventRef],
        note: Option<&str>,
    ) {
        if !self.collect && rule != RuleId::Cov1 {
            self.tallies.entry(rule).or_default().add(&verdict);
            return;
        }
        let subject = subject.make();
        self.out.push(Obligation {
            id: crate::obligation_id::obligation_id(
                rule,
                &self.client.client_id,
                &subject,
                &self.period,
                evidence,
            ),
            rule,
            subject,
            clock_start,
            rule_value,
            due_at,
            verdict,
            evidence: evidence.to_vec(),
            note: note.map(str::to_owned),
        });
    }

    /// As [`Ctx::push`], with evidence as present-or-absent events (no allocation when tallying).
    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        rule: RuleId,
        subject: impl MakeSubject,
        clock_start: Option<DateTime<Utc>>,
        rule_value: RuleValue,
        due_at: Option<DateTime<Utc>>,
        verdict: Verdict,
        evidence: &[Option<EventRef>],
        note: Option<&str>,
    ) {
        if !self.collect && rule != RuleId::Cov1 {
            self.tallies.entry(rule).or_default().add(&verdict);
            return;
        }
        let evidence: Vec<EventRef> = evidence.iter().flatten().copied().collect();
        self.push(
            rule,
            subject,
            clock_start,
            rule_value,
            due_at,
            verdict,
            &evidence,
            note,
        );
    }

    fn in_period(&self, e: &EventRef) -> bool {
        self.as_of.sees(e) && self.period.contains(e.occurred_at)
    }

    /// The termination taking effect, when the basis sees it and it falls in the period: the
    /// clock start of R-RET-2, R-RET-3 and R-BIL-6.
    fn termination_in_period(&self) -> Option<EventRef> {
        let terminated = self.seen(self.client.terminated)?;
        self.period
            .contains(terminated.occurred_at)
            .then_some(terminated)
    }
}

/// Computes every obligation of a client falling in a period.
pub(crate) fn for_client(
    model: &ReadModel,
    client: &ClientRecord,
    rules: &RulesView,
    as_of: &AsOf,
    period: Period,
    evaluated_at: DateTime<Utc>,
    collect: bool,
) -> Computed {
    let mut ctx = Ctx {
        model,
        client,
        rules,
        as_of,
        period,
        evaluated_at,
        windows: windows_seen(model, client, as_of),
        data_from: DataStarts::of(model, client, as_of),
        out: Vec::new(),
        collect,
        tallies: BTreeMap::new(),
    };
    // One call per area. Within a rule, obligations keep the order they are computed in (the
    // sort below is stable), so a rule judged in two places is judged in the same order as
    // ever: R-ANS-3 by reviews, then by breaches; R-BIL-1 by month, then by invoice.
    calls::calls(&mut ctx);
    escalations::escalations(&mut ctx);
    quality::reviews(&mut ctx);
    quality::issues(&mut ctx);
    reporting::account_issues(&mut ctx);
    reporting::months(&mut ctx);
    coverage::coverage(&mut ctx);
    billing::billing(&mut ctx);
    termination::termination(&mut ctx);
    retention::retention(&mut ctx);
    operations::sop_amendments(&mut ctx);
    let mut obligations = ctx.out;
    // `RuleId`'s order is the catalog order; then clock start. The sort is stable, so ties
    // keep their computed order.
    obligations.sort_by_key(|o| (o.rule, o.clock_start));
    let mut tallies = ctx.tallies;
    for o in &obligations {
        tallies.entry(o.rule).or_default().add(&o.verdict);
    }
    Computed {
        windows: ctx.windows,
        obligations,
        tallies,
    }
}

/// A rule requiring `effective_at` to be at least the rule's period after a notice.
fn notice_period(
    ctx: &mut Ctx<'_>,
    rule: RuleId,
    subject: Subject,
    notice: EventRef,
    effective_at: DateTime<Utc>,
) {
    let at = notice.occurred_at;
    let value = ctx.value(rule, at);
    let calendar = &ctx.rules.agreement_at(at).calendar;
    let earliest = due_at(&value, calendar, at).ok().flatten();
    let verdict = match earliest {
        Some(e) if effective_at >= e => Verdict::Met {
            met_at: effective_at,
        },
        Some(e) => Verdict::Missed {
            by: Shortfall {
                amount: secs_late(effective_at, e),
                unit: Unit::Seconds,
            },
            met_at: None,
        },
        None => no_deadline_verdict(rule, &value).unwrap_or(Verdict::NotComputable {
            reason: format!("{rule} value has no period"),
        }),
    };
    let note = match deadline_reading(rule, &value) {
        Some(reading) => {
            format!("the earliest permitted effective instant is the due instant; {reading}")
        }
        None => "the earliest permitted effective instant is the due instant".to_owned(),
    };
    ctx.push(
        rule,
        subject,
        Some(at),
        value,
        earliest,
        verdict,
        &[notice],
        Some(note.as_str()),
    );
}
