//! Obligations: for every rule of the catalog, the deadlines its clock-start events opened, the events that met them, and a verdict.
//!
//! Each obligation names its rule id, the rule value in force at its clock start (looked up with
//! `domain::rules_in_force::value_at`, the single lookup, over the agreement versions and SOP
//! amendments the basis sees), its due instant (`domain::deadlines::due_at`), its verdict and the
//! events that produced it. Pending obligations are judged at the `evaluated_at` instant passed
//! in: once it is past the due instant they are missed (or excused).
//!
//! Which obligations fall in a period: call rules (R-ANS-*, R-DOC-*, R-ESC-1) for calls that
//! entered the queue in the period; monthly rules (R-QA-1, R-QA-4, R-REP-1/2, and R-BIL-1 for a
//! service month no invoice bills) for client-local months overlapping it; R-REP-3 for quarters starting in it; R-COV-1 for the part of the period
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

use chrono::{DateTime, Duration, Utc};
use opsledger_domain::agreement::AccountKind;
use opsledger_domain::deadlines::{due_at, extended_by_holds, rule_due_at};
use opsledger_domain::events::{
    BreachKind, DeletionScope, Finding, ImmediateCause, MonthlyReportKind, Urgency,
};
use opsledger_domain::ids::{
    AccountIssueId, AgentId, BreachId, CallId, ClientId, EscalationId, InvoiceId, LegalHoldId,
    QualityIssueId, ReviewId, SopAmendmentId,
};
use opsledger_domain::rules::{RuleId, RuleValue, BASIS_POINTS_PER_WHOLE};
use opsledger_domain::rules_in_force::sop_amendment_takes_effect_for;
use opsledger_domain::suspension::{suspension_permitted, CitedInvoice};
use serde::{Deserialize, Serialize};

use crate::model::{
    BreachRecord, ClientRecord, DefaultNoticeRecord, EscalationRecord, InvoiceRecord, ReadModel,
    RulesView,
};
use crate::position::{AsOf, EventRef, Period, YearMonth};
use crate::report::{month_period, months_in, quarter, quarter_start, resolve_client, ReportError};
use crate::sla::basis_points;
use crate::verdict::{
    judge_deadline, judge_due, no_deadline_verdict, secs_late, stamp, windows_seen, DataFamily,
    ExcusedWindow, Shortfall, Tally, Unit, Verdict,
};

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

/// The privacy and intake-protocol breaches of a medical or legal account in the obligations.
fn protocol_findings(
    model: &ReadModel,
    client: &ClientRecord,
    rules: &RulesView,
    as_of: &AsOf,
    period: Period,
    obligations: &[Obligation],
) -> Vec<ProtocolFinding> {
    client
        .breaches
        .iter()
        .filter_map(|s| model.breaches.get(*s))
        .filter(|b| {
            as_of.sees(&b.issue.identified) && period.contains(b.issue.identified.occurred_at)
        })
        .filter(|b| {
            matches!(
                b.kind,
                BreachKind::Confidentiality | BreachKind::IntakeProtocol
            )
        })
        .filter_map(|b| {
            let at = b.issue.identified.occurred_at;
            let account_kind = rules.agreement_at(at).account_kind;
            if account_kind == AccountKind::General {
                return None;
            }
            let subject = Subject::Breach {
                breach_id: b.issue.id.clone(),
            };
            let verdict = obligations
                .iter()
                .find(|o| o.rule == RuleId::Qa5 && o.subject == subject)?
                .verdict
                .clone();
            Some(ProtocolFinding {
                account_kind,
                breach_id: b.issue.id.clone(),
                kind: b.kind,
                identified_at: at,
                verdict,
            })
        })
        .collect()
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
        protocol_findings: protocol_findings(
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
    calls(&mut ctx);
    escalations(&mut ctx);
    reviews(&mut ctx);
    issues(&mut ctx);
    months(&mut ctx);
    coverage(&mut ctx);
    billing(&mut ctx);
    termination_and_retention(&mut ctx);
    sop_amendments(&mut ctx);
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

fn calls(ctx: &mut Ctx<'_>) {
    let model = ctx.model;
    let client = ctx.client;
    let months = months_in(ctx.rules, ctx.period);
    let mut slots: Vec<u32> = Vec::new();
    for m in months {
        if let Some(s) = client.calls_by_month.get(&m) {
            slots.extend_from_slice(s);
        }
    }
    for slot in slots {
        let Some(call) = model.calls.get(slot) else {
            continue;
        };
        if !ctx.in_period(&call.connected) {
            continue;
        }
        let subject = || {
            Lazy(|| Subject::Call {
                call_id: call.call_id.clone(),
            })
        };
        let start = call.connected;
        let answered = ctx.seen(call.answered);
        let voicemail = ctx.seen(call.voicemail);
        let abandoned = call
            .abandoned
            .filter(|a| ctx.as_of.sees(&a.event))
            .map(|a| a.event);
        let left = if answered.is_none() {
            voicemail.or(abandoned)
        } else {
            None
        };
        let voicemail_enabled = ctx.rules.agreement_at(start.occurred_at).voicemail_enabled;
        // R-ANS-1: pickup only.
        answer_rule(ctx, RuleId::Ans1, &subject, start, answered, left);
        // R-ANS-2: pickup, or voicemail routing when voicemail is enabled.
        let meets_max = answered.or(voicemail.filter(|_| voicemail_enabled));
        let left_max = if meets_max.is_none() { left } else { None };
        answer_rule(ctx, RuleId::Ans2, &subject, start, meets_max, left_max);

        let Some(completed) = ctx.seen(call.completed) else {
            continue;
        };
        let class = call.classification(ctx.as_of);
        let needs_docs = class.map(|c| c.outcome.requires_documentation());
        // R-DOC-1.
        match needs_docs {
            None => ctx.push(
                RuleId::Doc1,
                subject(),
                Some(completed.occurred_at),
                ctx.value(RuleId::Doc1, completed.occurred_at),
                None,
                Verdict::Pending {
                    due_at: None,
                    held_by: Vec::new(),
                },
                &[completed],
                Some("awaiting the agent's classification of the call"),
            ),
            Some(false) => {}
            Some(true) => {
                let complete = ctx.seen(call.complete_documentation);
                let first = call
                    .first_documentation
                    .filter(|d| ctx.as_of.sees(&d.event));
                let (verdict, evidence) = match (complete, first) {
                    (Some(c), _) => (
                        Verdict::Met {
                            met_at: c.occurred_at,
                        },
                        [Some(completed), Some(c)],
                    ),
                    (None, Some(d)) => (
                        Verdict::Missed {
                            by: Shortfall {
                                amount: d.missing_fields,
                                unit: Unit::Findings,
                            },
                            met_at: None,
                        },
                        [Some(completed), Some(d.event)],
                    ),
                    (None, None) => (
                        Verdict::Pending {
                            due_at: None,
                            held_by: Vec::new(),
                        },
                        [Some(completed), None],
                    ),
                };
                ctx.record(
                    RuleId::Doc1,
                    subject(),
                    Some(completed.occurred_at),
                    ctx.value(RuleId::Doc1, completed.occurred_at),
                    None,
                    verdict,
                    &evidence,
                    None,
                );
                // R-DOC-2.
                ctx.deadline(
                    RuleId::Doc2,
                    subject(),
                    completed,
                    ctx.seen(call.documentation_delivered),
                );
            }
        }
        // R-ESC-1.
        if let Some(c) = class.filter(|c| c.urgent) {
            let why = if c.urgent_by_nature {
                "urgent because its nature is on the client's list of urgent natures (the agent's flag may add urgency, never remove it)"
            } else {
                "urgent because the agent classified it urgent (its nature is not on the client's list)"
            };
            ctx.deadline_noted(
                RuleId::Esc1,
                subject(),
                completed,
                ctx.seen(call.urgent_escalation_attempt),
                Some(why),
            );
        }
    }
}

fn answer_rule<S: MakeSubject>(
    ctx: &mut Ctx<'_>,
    rule: RuleId,
    subject: &impl Fn() -> S,
    start: EventRef,
    met_by: Option<EventRef>,
    left: Option<EventRef>,
) {
    match (met_by, left) {
        (None, Some(left)) => {
            let value = ctx.value(rule, start.occurred_at);
            let calendar = &ctx.rules.agreement_at(start.occurred_at).calendar;
            let due = due_at(&value, calendar, start.occurred_at).ok().flatten();
            let (verdict, note) = match due {
                Some(due) if left.occurred_at <= due => (
                    Verdict::NotApplicable {
                        reason: format!("{rule}: the call left the queue before the limit elapsed"),
                    },
                    None,
                ),
                Some(due) => {
                    // Judged as a performance that came when the caller left, so the windows
                    // bear on it as on any other; leaving is not a meeting event, though.
                    let judged = judge_due(
                        rule,
                        due,
                        start.occurred_at,
                        Some(left.occurred_at),
                        &ctx.windows,
                        ctx.evaluated_at,
                    );
                    match judged.verdict {
                        Verdict::Missed { by, .. } => (
                            Verdict::Missed { by, met_at: None },
                            Some(judged.note.unwrap_or_else(|| {
                                "left the queue without pickup after the limit".to_owned()
                            })),
                        ),
                        other => (other, judged.note),
                    }
                }
                None => (
                    no_deadline_verdict(rule, &value).unwrap_or(Verdict::NotComputable {
                        reason: format!("{rule} value has no deadline"),
                    }),
                    None,
                ),
            };
            ctx.push(
                rule,
                subject(),
                Some(start.occurred_at),
                value,
                due,
                verdict,
                &[start, left],
                note.as_deref(),
            );
        }
        (met_by, _) => ctx.deadline(rule, subject(), start, met_by),
    }
}

fn escalations(ctx: &mut Ctx<'_>) {
    let model = ctx.model;
    let client = ctx.client;
    for slot in &client.escalations {
        let Some(esc) = model.escalations.get(*slot) else {
            continue;
        };
        if !ctx.as_of.sees(&esc.opened) {
            continue;
        }
        // R-ESC-2: each unreachable mark in the period, met by an attempt further down the chain.
        for mark in &esc.unreachable {
            if !ctx.in_period(&mark.event) {
                continue;
            }
            let next = esc
                .attempts
                .iter()
                .filter(|a| ctx.as_of.sees(&a.event))
                .find(|a| a.tier > mark.tier && a.event.occurred_at >= mark.event.occurred_at)
                .map(|a| a.event);
            let subject = Subject::Escalation {
                escalation_id: esc.escalation_id.clone(),
                tier: Some(mark.tier),
            };
            // With no tier below the unreachable one in the chain in force, nobody is left to
            // attempt: the chain is exhausted, its own verdict, never a miss growing forever.
            let at = mark.event.occurred_at;
            let exhausted = next.is_none()
                && !ctx
                    .rules
                    .agreement_at(at)
                    .escalation_chain
                    .iter()
                    .any(|c| c.tier > mark.tier);
            if exhausted {
                ctx.push(
                    RuleId::Esc2,
                    subject,
                    Some(at),
                    ctx.value(RuleId::Esc2, at),
                    None,
                    Verdict::ChainExhausted {
                        last_tier: mark.tier,
                    },
                    &[mark.event],
                    None,
                );
                continue;
            }
            ctx.deadline(RuleId::Esc2, subject, mark.event, next);
        }
        // R-ESC-3: a non-urgent item reaches the client in the digest due at the end of the
        // interval it was raised in.
        if esc.urgency == Urgency::NonUrgent && ctx.in_period(&esc.opened) {
            digest_interval(ctx, esc);
        }
    }
}

/// R-ESC-3 for one non-urgent item (the catalog's Readings): intervals of the agreed length
/// are anchored at the onboarding, or at the effective instant of the agreement version in force
/// when that version set another interval; the clock starts when the interval the item was
/// raised in closes, and the digest is due then, within the same tolerance as "immediately"
/// (`RuleValue::Immediate`, 60 s), since compiling it takes a moment. It is met by a digest that
/// lists the item under a period holding the instant it was raised.
fn digest_interval(ctx: &mut Ctx<'_>, esc: &EscalationRecord) {
    let subject = Subject::Escalation {
        escalation_id: esc.escalation_id.clone(),
        tier: None,
    };
    let raised = esc.opened.occurred_at;
    let value = ctx.value(RuleId::Esc3, raised);
    let RuleValue::Minutes(mins) = value else {
        // Unconfigured, not applicable or another shape: judged as before, by the value.
        ctx.deadline(
            RuleId::Esc3,
            subject,
            esc.opened,
            ctx.seen(esc.digest_covering),
        );
        return;
    };
    let onboarded = ctx.client.onboarded.occurred_at;
    let first_value = ctx.value(RuleId::Esc3, onboarded);
    let anchor = if first_value == value {
        onboarded
    } else {
        ctx.rules
            .agreements
            .iter()
            .rev()
            .find(|v| v.effective_at <= raised)
            .map_or(onboarded, |v| v.effective_at)
    };
    let interval = i64::try_from(mins)
        .ok()
        .filter(|m| *m > 0)
        .and_then(Duration::try_minutes);
    let (Some(interval), true) = (interval, anchor <= raised) else {
        ctx.deadline(
            RuleId::Esc3,
            subject,
            esc.opened,
            ctx.seen(esc.digest_covering),
        );
        return;
    };
    let elapsed_ms = (raised - anchor).num_milliseconds();
    let closes = elapsed_ms
        .checked_div(interval.num_milliseconds())
        .and_then(|k| k.checked_add(1))
        .and_then(|k| interval.checked_mul(i32::try_from(k).ok()?))
        .and_then(|d| anchor.checked_add_signed(d));
    let Some(closes) = closes else {
        ctx.deadline(
            RuleId::Esc3,
            subject,
            esc.opened,
            ctx.seen(esc.digest_covering),
        );
        return;
    };
    let calendar = &ctx.rules.agreement_at(raised).calendar;
    let met = ctx.seen(esc.digest_covering);
    let judged = judge_deadline(
        RuleId::Esc3,
        &RuleValue::Immediate,
        calendar,
        closes,
        met.map(|m| m.occurred_at),
        &ctx.windows,
        ctx.evaluated_at,
    );
    let evidence = [Some(esc.opened), met];
    ctx.record(
        RuleId::Esc3,
        subject,
        Some(closes),
        value,
        judged.due_at,
        judged.verdict,
        &evidence,
        Some(judged.note.unwrap_or_else(|| {
            format!("the interval it was raised in closed at {}", stamp(closes))
        }))
        .as_deref(),
    );
}

fn finding_verdict(rule: RuleId, finding: Finding, at: DateTime<Utc>) -> Verdict {
    match finding {
        Finding::Pass => Verdict::Met { met_at: at },
        Finding::Fail => Verdict::Missed {
            by: Shortfall {
                amount: 1,
                unit: Unit::Findings,
            },
            met_at: None,
        },
        Finding::NotApplicable => Verdict::NotApplicable {
            reason: format!("{rule}: the reviewer found it not applicable to this call"),
        },
    }
}

fn reviews(ctx: &mut Ctx<'_>) {
    let model = ctx.model;
    let client = ctx.client;
    for slot in &client.reviews {
        let Some(review) = model.reviews.get(*slot) else {
            continue;
        };
        if !ctx.as_of.sees(&review.opened) {
            continue;
        }
        let completed = ctx.seen(review.completed);
        // R-QA-3: client-requested reviews completed within the agreed business days.
        if review.requested_by_client && ctx.in_period(&review.opened) {
            ctx.deadline(
                RuleId::Qa3,
                Subject::Review {
                    review_id: review.review_id.clone(),
                },
                review.opened,
                completed,
            );
        }
        // R-ANS-3 / R-ANS-4: judged by the findings of reviews completed in the period.
        if let (Some(done), Some(findings)) = (completed, review.findings) {
            if ctx.period.contains(done.occurred_at) {
                for (rule, finding) in [
                    (RuleId::Ans3, findings.greeting),
                    (RuleId::Ans4, findings.language),
                ] {
                    let value = ctx.value(rule, done.occurred_at);
                    ctx.push(
                        rule,
                        Subject::Review {
                            review_id: review.review_id.clone(),
                        },
                        None,
                        value,
                        None,
                        finding_verdict(rule, finding, done.occurred_at),
                        &[review.opened, done],
                        Some("judged by the review's QA finding"),
                    );
                }
            }
        }
    }
}

fn issues(ctx: &mut Ctx<'_>) {
    let model = ctx.model;
    let client = ctx.client;
    for slot in &client.quality_issues {
        if let Some(i) = model.quality_issues.get(*slot) {
            if ctx.in_period(&i.identified) {
                let subject = Subject::QualityIssue {
                    issue_id: i.id.clone(),
                };
                ctx.deadline(RuleId::Qa2, subject, i.identified, ctx.seen(i.closed));
            }
        }
    }
    for slot in &client.breaches {
        if let Some(b) = model.breaches.get(*slot) {
            if ctx.in_period(&b.issue.identified) {
                breach(ctx, b);
            }
        }
    }
    for slot in &client.account_issues {
        if let Some(i) = model.account_issues.get(*slot) {
            if ctx.in_period(&i.identified) {
                let subject = Subject::AccountIssue {
                    issue_id: i.id.clone(),
                };
                ctx.deadline(RuleId::Com1, subject, i.identified, ctx.seen(i.closed));
            }
        }
    }
}

/// R-QA-5 for one conduct breach, and R-ANS-3 for a disclosure of the agency's name (the
/// catalog's Readings, "Affiliation [6, 11.5]"): disclosing the agency's name is a conduct breach
/// and a greeting breach unless the agreement in force when it was identified authorises
/// disclosure (`affiliation_disclosure_authorized`); then it is neither, and R-QA-5 is not
/// applicable to it. The greeting breach has no clock: it is missed by the one finding.
fn breach(ctx: &mut Ctx<'_>, b: &BreachRecord) {
    let identified = b.issue.identified;
    let at = identified.occurred_at;
    let subject = || Subject::Breach {
        breach_id: b.issue.id.clone(),
    };
    if b.kind == BreachKind::AffiliationDisclosed {
        if ctx.rules.agreement_at(at).affiliation_disclosure_authorized {
            ctx.push(
                RuleId::Qa5,
                subject(),
                Some(at),
                ctx.value(RuleId::Qa5, at),
                None,
                Verdict::NotApplicable {
                    reason: "R-QA-5: the agreement in force authorises disclosing the agency's name, so the disclosure is no breach".to_owned(),
                },
                &[identified],
                None,
            );
            return;
        }
        ctx.push(
            RuleId::Ans3,
            subject(),
            None,
            ctx.value(RuleId::Ans3, at),
            None,
            Verdict::Missed {
                by: Shortfall {
                    amount: 1,
                    unit: Unit::Findings,
                },
                met_at: None,
            },
            &[identified],
            Some("the agent disclosed the agency's name, which the agreement does not authorise: a greeting breach"),
        );
    }
    ctx.deadline(RuleId::Qa5, subject(), identified, ctx.seen(b.issue.closed));
}

/// The earliest fact of each family a basis sees for one client ("no data recorded", issue 11).
///
/// "Never recorded" is precise: per client and per family, over the events the basis sees
/// (`AsOf`), by when they occurred. An obligation of a family falls before its data when no
/// event of the family occurred at or before the obligation's due instant (for R-COV-1, at or
/// before the instant judged): those obligations are "no data recorded" unless their own
/// meeting event is in the log. A later gap in a family that has data is judged as usual.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DataStarts {
    shifts: Option<DateTime<Utc>>,
    report_deliveries: Option<DateTime<Utc>>,
    qa_reviews: Option<DateTime<Utc>>,
    invoices: Option<DateTime<Utc>>,
}

impl DataStarts {
    fn of(model: &ReadModel, client: &ClientRecord, as_of: &AsOf) -> DataStarts {
        let earliest = |events: &mut dyn Iterator<Item = EventRef>| {
            events
                .filter(|e| as_of.sees(e))
                .map(|e| e.occurred_at)
                .min()
        };
        let shifts = earliest(
            &mut client
                .shifts
                .iter()
                .filter_map(|s| model.shifts.get(*s))
                .flat_map(|s| std::iter::once(s.started).chain(s.ended)),
        );
        let report_deliveries = earliest(
            &mut client
                .monthly_reports
                .iter()
                .map(|d| d.event)
                .chain(client.quarterly_reviews.iter().map(|r| r.event)),
        );
        let qa_reviews = earliest(
            &mut client
                .reviews
                .iter()
                .filter_map(|r| model.reviews.get(*r))
                .flat_map(|r| std::iter::once(r.opened).chain(r.completed))
                .chain(client.qa_summaries.iter().map(|d| d.event)),
        );
        let invoices = earliest(
            &mut client
                .invoices
                .iter()
                .filter_map(|i| model.invoices.get(*i))
                .map(|i| i.issued),
        );
        DataStarts {
            shifts,
            report_deliveries,
            qa_reviews,
            invoices,
        }
    }

    /// When the family's first fact occurred, if the basis sees one.
    fn from(&self, family: DataFamily) -> Option<DateTime<Utc>> {
        match family {
            DataFamily::Shifts => self.shifts,
            DataFamily::ReportDeliveries => self.report_deliveries,
            DataFamily::QaReviews => self.qa_reviews,
            DataFamily::Invoices => self.invoices,
        }
    }

    /// Whether the family has a fact at or before `at`.
    fn has_data_by(&self, family: DataFamily, at: DateTime<Utc>) -> bool {
        self.from(family).is_some_and(|first| first <= at)
    }
}

/// The "no data recorded" verdict for a family with no fact by `by`.
fn no_data(family: DataFamily, by: DateTime<Utc>) -> Verdict {
    Verdict::NoData {
        family,
        reason: format!(
            "no data recorded: no {} event recorded for this client up to {}",
            family.facts(),
            stamp(by)
        ),
    }
}

impl Ctx<'_> {
    /// A verdict that would count against the agency (missed, or excused from a miss) becomes
    /// "no data recorded" when the rule's family has no fact by `due` and the obligation has no
    /// meeting event of its own; any other verdict stands.
    fn unless_no_data(
        &self,
        rule: RuleId,
        due: Option<DateTime<Utc>>,
        met: bool,
        verdict: Verdict,
    ) -> Verdict {
        let (Some(family), Some(due)) = (DataFamily::of_rule(rule), due) else {
            return verdict;
        };
        let counts_against = matches!(verdict, Verdict::Missed { .. } | Verdict::Excused { .. });
        if counts_against && !met && !self.data_from.has_data_by(family, due) {
            no_data(family, due)
        } else {
            verdict
        }
    }
}

/// A synthetic clock-start reference for month- and quarter-level rules, which no single event starts.
fn no_event(at: DateTime<Utc>) -> EventRef {
    EventRef {
        position: u64::MAX,
        event_id: uuid::Uuid::nil(),
        recorded_at: at,
        occurred_at: at,
    }
}

fn months(ctx: &mut Ctx<'_>) {
    let client = ctx.client;
    let onboarded = client.onboarded.occurred_at;
    let terminated = ctx.seen(client.terminated).map(|t| t.occurred_at);
    for month in months_in(ctx.rules, ctx.period) {
        let bounds = month_period(ctx.rules, month);
        if bounds.to <= onboarded || terminated.is_some_and(|t| t <= bounds.from) {
            continue;
        }
        month_qa_coverage(ctx, month, bounds);
        monthly_invoice(ctx, month, bounds);
        for (rule, kind) in [
            (RuleId::Rep1, MonthlyReportKind::Performance),
            (RuleId::Rep2, MonthlyReportKind::Summary),
        ] {
            let met = ctx
                .client
                .monthly_reports
                .iter()
                .filter(|d| ctx.as_of.sees(&d.event) && d.month == month && d.kind == kind)
                .map(|d| d.event)
                .next();
            month_rule(ctx, rule, month, bounds, met, rule);
        }
        // R-QA-4 is due with the monthly performance report, so it takes R-REP-1's deadline.
        let met = ctx
            .client
            .qa_summaries
            .iter()
            .filter(|d| ctx.as_of.sees(&d.event) && d.month == month)
            .map(|d| d.event)
            .next();
        month_rule(ctx, RuleId::Qa4, month, bounds, met, RuleId::Rep1);
        // R-REP-3: quarters starting in the period.
        if (month.month - 1) % 3 == 0 {
            let q = quarter(month);
            let met = ctx
                .client
                .quarterly_reviews
                .iter()
                .filter(|r| ctx.as_of.sees(&r.event) && r.year == month.year && r.quarter == q)
                .map(|r| r.event)
                .next();
            let start = no_event(month_period(ctx.rules, quarter_start(month.year, q)).from);
            let value = ctx.value(RuleId::Rep3, start.occurred_at);
            let calendar = &ctx.rules.agreement_at(start.occurred_at).calendar;
            let judged = judge_deadline(
                RuleId::Rep3,
                &value,
                calendar,
                start.occurred_at,
                met.map(|m| m.occurred_at),
                &ctx.windows,
                ctx.evaluated_at,
            );
            let verdict =
                ctx.unless_no_data(RuleId::Rep3, judged.due_at, met.is_some(), judged.verdict);
            ctx.push(
                RuleId::Rep3,
                Subject::Quarter {
                    year: month.year,
                    quarter: q,
                },
                Some(start.occurred_at),
                value,
                judged.due_at,
                verdict,
                met.as_slice(),
                judged.note.as_deref(),
            );
        }
    }
}

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
fn monthly_invoice(ctx: &mut Ctx<'_>, month: YearMonth, bounds: Period) {
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

/// A monthly delivery rule; `deadline_rule` names the rule whose value gives the deadline.
fn month_rule(
    ctx: &mut Ctx<'_>,
    rule: RuleId,
    month: YearMonth,
    bounds: Period,
    met: Option<EventRef>,
    deadline_rule: RuleId,
) {
    let own_value = ctx.value(rule, bounds.from);
    if let Some(verdict) = no_deadline_verdict(rule, &own_value) {
        ctx.push(
            rule,
            Subject::Month { month },
            Some(bounds.to),
            own_value,
            None,
            verdict,
            &[],
            None,
        );
        return;
    }
    let value = ctx.value(deadline_rule, bounds.from);
    let calendar = &ctx.rules.agreement_at(bounds.from).calendar;
    let judged = judge_deadline(
        deadline_rule,
        &value,
        calendar,
        bounds.from,
        met.map(|m| m.occurred_at),
        &ctx.windows,
        ctx.evaluated_at,
    );
    let verdict = ctx.unless_no_data(rule, judged.due_at, met.is_some(), judged.verdict);
    ctx.push(
        rule,
        Subject::Month { month },
        Some(bounds.to),
        own_value,
        judged.due_at,
        verdict,
        met.as_slice(),
        judged.note.as_deref(),
    );
}

/// R-QA-1 (the catalog's Readings): the month's answered calls reviewed by the deadline of that
/// month's QA summary (R-REP-1's, with which R-QA-4 is delivered; R-REP-2's where R-REP-1 does
/// not apply) count. The verdict is fixed at that deadline: reviews completed later never change
/// it. The base is answered calls, since a call never answered cannot be reviewed.
fn month_qa_coverage(ctx: &mut Ctx<'_>, month: YearMonth, bounds: Period) {
    let value = ctx.value(RuleId::Qa1, bounds.to);
    let required = match value {
        RuleValue::BasisPoints(bp) => bp,
        _ => {
            let verdict =
                no_deadline_verdict(RuleId::Qa1, &value).unwrap_or(Verdict::NotComputable {
                    reason: "R-QA-1 needs a share in basis points".to_owned(),
                });
            ctx.push(
                RuleId::Qa1,
                Subject::Month { month },
                Some(bounds.to),
                value,
                None,
                verdict,
                &[],
                None,
            );
            return;
        }
    };
    let calendar = &ctx.rules.agreement_at(bounds.from).calendar;
    let summary_due = [RuleId::Rep1, RuleId::Rep2].into_iter().find_map(|rule| {
        let v = ctx.value(rule, bounds.from);
        due_at(&v, calendar, bounds.from).ok().flatten()
    });
    // Without a report deadline (neither report rule applies) the month end is the moment.
    let judged_at = summary_due.unwrap_or(bounds.to);
    let mut answered: u64 = 0;
    let mut reviewed: u64 = 0;
    let mut evidence = Vec::new();
    for slot in ctx
        .client
        .calls_by_month
        .get(&month)
        .map_or(&[][..], Vec::as_slice)
    {
        let Some(call) = ctx.model.calls.get(*slot) else {
            continue;
        };
        if ctx.as_of.sees(&call.connected) && ctx.as_of.sees_opt(call.answered.as_ref()) {
            answered += 1;
            if let Some(r) = ctx
                .seen(call.reviewed)
                .filter(|r| r.occurred_at <= judged_at)
            {
                reviewed += 1;
                evidence.push(r);
            }
        }
    }
    let achieved = basis_points(reviewed, answered);
    let verdict = if ctx.evaluated_at < judged_at {
        Verdict::Pending {
            due_at: Some(judged_at),
            held_by: Vec::new(),
        }
    } else if reviewed.saturating_mul(BASIS_POINTS_PER_WHOLE) >= required.saturating_mul(answered) {
        Verdict::Met { met_at: judged_at }
    } else {
        Verdict::Missed {
            by: Shortfall {
                amount: required.saturating_sub(achieved.unwrap_or(0)),
                unit: Unit::BasisPoints,
            },
            met_at: None,
        }
    };
    // Reviews are the meeting events here: with any review counted the month has data.
    let verdict = ctx.unless_no_data(RuleId::Qa1, Some(judged_at), reviewed > 0, verdict);
    ctx.push(
        RuleId::Qa1,
        Subject::Month { month },
        Some(bounds.to),
        value,
        Some(judged_at),
        verdict,
        &evidence,
        Some(
            format!(
                "{reviewed} of {answered} answered calls reviewed by the QA summary deadline; unanswered calls cannot be reviewed and are not in the base"
            )
            .as_str(),
        ),
    );
}

/// R-COV-1 with the value in force at each instant (the catalog's Readings): the period is cut
/// wherever an agreement version or SOP amendment takes effect, and each part is judged with its
/// own value, so coverage amended to 24/7 mid-month is judged from the amendment on.
fn coverage(ctx: &mut Ctx<'_>) {
    let client = ctx.client;
    let from = ctx.period.from.max(client.onboarded.occurred_at);
    let mut to = ctx.period.to.min(ctx.evaluated_at);
    if let Some(t) = ctx.seen(client.terminated) {
        to = to.min(t.occurred_at);
    }
    if from >= to {
        return;
    }
    let mut cuts = vec![from];
    cuts.extend(ctx.rules.changes_between(from, to));
    cuts.push(to);
    let mut not_applicable: Option<(RuleValue, Verdict)> = None;
    let mut judged_any = false;
    for part in cuts.windows(2) {
        let (part_from, part_to) = (part[0], part[1]);
        let value = ctx.value(RuleId::Cov1, part_from);
        match value {
            RuleValue::Agents(required) => {
                judged_any = true;
                // Before the client's first recorded shift the ledger knows nothing of who was
                // on duty: that part is "no data recorded", the rest is judged (issue 11).
                let data_from = ctx
                    .data_from
                    .from(DataFamily::Shifts)
                    .map_or(part_to, |d| d.clamp(part_from, part_to));
                if data_from > part_from {
                    ctx.push(
                        RuleId::Cov1,
                        Subject::Coverage {
                            from: part_from,
                            to: data_from,
                            agents_on_duty: 0,
                        },
                        Some(part_from),
                        value.clone(),
                        None,
                        no_data(DataFamily::Shifts, data_from),
                        &[],
                        Some("no shift recorded for the client before the end of this part; agents on duty unknown"),
                    );
                }
                if data_from < part_to {
                    coverage_part(ctx, data_from, part_to, required, value);
                }
            }
            other => {
                if let Some(verdict) = no_deadline_verdict(RuleId::Cov1, &other) {
                    not_applicable.get_or_insert((other, verdict));
                }
            }
        }
    }
    // A period with no part under a number of agents has one line saying why.
    if let (false, Some((value, verdict))) = (judged_any, not_applicable) {
        ctx.push(
            RuleId::Cov1,
            Subject::Client,
            Some(from),
            value,
            None,
            verdict,
            &[],
            None,
        );
    }
}

/// R-COV-1 over `[from, to)`, where `required` agents are in force throughout.
fn coverage_part(
    ctx: &mut Ctx<'_>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    required: u64,
    value: RuleValue,
) {
    let model = ctx.model;
    let client = ctx.client;
    // Sweep the shift boundaries in time order, counting distinct agents on duty.
    let mut boundaries: Vec<(DateTime<Utc>, i8, &AgentId)> = Vec::new();
    for slot in &client.shifts {
        let Some(s) = model.shifts.get(*slot) else {
            continue;
        };
        if !ctx.as_of.sees(&s.started) {
            continue;
        }
        let end = ctx.seen(s.ended).map(|e| e.occurred_at);
        if s.started.occurred_at >= to || end.is_some_and(|e| e <= from) {
            continue;
        }
        boundaries.push((s.started.occurred_at.max(from), 1, &s.agent_id));
        if let Some(e) = end.filter(|e| *e < to) {
            boundaries.push((e, -1, &s.agent_id));
        }
    }
    // Ends before starts at the same instant, so a hand-over at one instant is not double-counted
    // and a gap of zero length is not reported.
    boundaries.sort_by_key(|(at, delta, _)| (*at, *delta));
    let mut on_duty: BTreeMap<&AgentId, u64> = BTreeMap::new();
    let mut cursor = from;
    let mut gaps: Vec<(DateTime<Utc>, DateTime<Utc>, u64)> = Vec::new();
    let mut i = 0;
    while cursor < to {
        // Apply every boundary at the cursor.
        while let Some((at, delta, agent)) = boundaries.get(i) {
            if *at > cursor {
                break;
            }
            let n = on_duty.entry(agent).or_insert(0);
            if *delta > 0 {
                *n += 1;
            } else {
                *n = n.saturating_sub(1);
            }
            if *n == 0 {
                on_duty.remove(agent);
            }
            i += 1;
        }
        let next = boundaries.get(i).map_or(to, |(at, _, _)| (*at).min(to));
        let agents = u64::try_from(on_duty.len()).unwrap_or(u64::MAX);
        if agents < required {
            match gaps.last_mut() {
                Some((_, end, n)) if *end == cursor && *n == agents => *end = next,
                _ => gaps.push((cursor, next, agents)),
            }
        }
        cursor = next;
    }
    if gaps.is_empty() {
        ctx.push(
            RuleId::Cov1,
            Subject::Coverage {
                from,
                to,
                agents_on_duty: required,
            },
            Some(from),
            value,
            None,
            Verdict::Met { met_at: to },
            &[],
            Some("no interval with fewer agents on duty than required"),
        );
        return;
    }
    // Redundant coverage is a performance due at every instant, so a window excuses exactly the
    // part of a gap it holds (reading (a)); the rest of the gap is missed.
    for (gap_from, gap_to, agents) in gaps {
        for (part_from, part_to, window) in
            split_by_windows(RuleId::Cov1, gap_from, gap_to, &ctx.windows)
        {
            let verdict = match window {
                None => Verdict::Missed {
                    by: Shortfall {
                        amount: secs_late(part_from, part_to),
                        unit: Unit::Seconds,
                    },
                    met_at: None,
                },
                Some(w) => Verdict::Excused {
                    window_ids: vec![w.window_id.clone()],
                    reading: Some(format!(
                        "excused: {} held this part of the gap",
                        w.describe()
                    )),
                },
            };
            ctx.push(
                RuleId::Cov1,
                Subject::Coverage {
                    from: part_from,
                    to: part_to,
                    agents_on_duty: agents,
                },
                Some(part_from),
                value.clone(),
                None,
                verdict,
                &[],
                None,
            );
        }
    }
}

/// The parts of `[from, to)` held by a window whose cause concerns `rule` (with that window)
/// and the parts held by none, in time order; empty parts are left out.
fn split_by_windows(
    rule: RuleId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    windows: &[ExcusedWindow],
) -> Vec<(DateTime<Utc>, DateTime<Utc>, Option<ExcusedWindow>)> {
    let mut relevant: Vec<&ExcusedWindow> = windows
        .iter()
        .filter(|w| w.concerns(rule) && w.from < to && w.to.map_or(true, |e| e > from))
        .collect();
    relevant.sort_by_key(|w| w.from);
    let mut parts = Vec::new();
    let mut cursor = from;
    for w in relevant {
        let start = w.from.max(cursor);
        let end = w.to.map_or(to, |e| e.min(to));
        if start >= end {
            continue;
        }
        if start > cursor {
            parts.push((cursor, start, None));
        }
        parts.push((start, end, Some(w.clone())));
        cursor = end;
    }
    if cursor < to {
        parts.push((cursor, to, None));
    }
    parts
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

fn billing(ctx: &mut Ctx<'_>) {
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

fn termination_and_retention(ctx: &mut Ctx<'_>) {
    let model = ctx.model;
    let client = ctx.client;
    let notices: Vec<_> = client
        .termination_notices
        .iter()
        .filter(|n| ctx.in_period(&n.event))
        .cloned()
        .collect();
    for n in notices {
        notice_period(
            ctx,
            RuleId::Trm1,
            Subject::TerminationNotice,
            n.event,
            n.effective_at,
        );
    }
    // R-TRM-2: an immediate termination citing non-payment needs a cited invoice unpaid beyond
    // the rule's days past its due date; the other causes are recorded citations.
    let immediates: Vec<_> = client
        .immediate_terminations
        .iter()
        .filter(|i| ctx.in_period(&i.event))
        .cloned()
        .collect();
    for imm in immediates {
        let at = imm.event.occurred_at;
        let value = ctx.value(RuleId::Trm2, at);
        let calendar = &ctx.rules.agreement_at(at).calendar;
        let (verdict, note) = match (&imm.cause, &value) {
            (ImmediateCause::NonPayment { invoice_ids }, RuleValue::Days(days)) => {
                let today = calendar.local_date(at);
                let qualifying = invoice_ids.iter().any(|id| {
                    model.invoices.by_key(id).is_some_and(|inv| {
                        let open = settled_by(inv, &AsOf::Position(imm.event.position)).is_none();
                        let past_due = (today - inv.due_date).num_days();
                        open && u64::try_from(past_due).is_ok_and(|d| d > *days)
                    })
                });
                if qualifying {
                    (Verdict::Met { met_at: at }, None)
                } else {
                    (
                        Verdict::Missed {
                            by: Shortfall {
                                amount: 1,
                                unit: Unit::Findings,
                            },
                            met_at: None,
                        },
                        Some("no cited invoice was unpaid beyond the permitted days past due"),
                    )
                }
            }
            _ => (
                Verdict::Met { met_at: at },
                Some("cause cited; conduct causes are not verifiable from events"),
            ),
        };
        ctx.push(
            RuleId::Trm2,
            Subject::ImmediateTermination,
            Some(at),
            value,
            None,
            verdict,
            &[imm.event],
            note,
        );
    }
    // R-RET-1: no deletion removes call records younger than the minimum.
    let deletions: Vec<_> = client
        .deletions
        .iter()
        .filter(|d| ctx.in_period(&d.event))
        .cloned()
        .collect();
    let last_call = last_call_at(ctx);
    for d in &deletions {
        let at = d.event.occurred_at;
        let value = ctx.value(RuleId::Ret1, at);
        let newest_removed = match &d.scope {
            DeletionScope::AllClientData => last_call,
            DeletionScope::CallRecordsBefore { before } => Some(*before),
        };
        let verdict = match (newest_removed, &value) {
            (None, _) => Verdict::NotApplicable {
                reason: "no call records were covered".to_owned(),
            },
            (Some(newest), RuleValue::Days(_)) => {
                // Kept at least the days in force, counted in local calendar days.
                let calendar = &ctx.rules.agreement_at(newest).calendar;
                let keep_until = rule_due_at(RuleId::Ret1, &value, calendar, newest)
                    .ok()
                    .flatten();
                match keep_until {
                    Some(k) if at >= k => Verdict::Met { met_at: at },
                    Some(k) => Verdict::Missed {
                        by: Shortfall {
                            amount: secs_late(at, k),
                            unit: Unit::Seconds,
                        },
                        met_at: None,
                    },
                    None => Verdict::NotComputable {
                        reason: "R-RET-1 period out of range".to_owned(),
                    },
                }
            }
            (Some(_), other) => {
                no_deadline_verdict(RuleId::Ret1, other).unwrap_or(Verdict::NotComputable {
                    reason: "R-RET-1 needs days".to_owned(),
                })
            }
        };
        ctx.push(
            RuleId::Ret1,
            Subject::Deletion,
            Some(at),
            value,
            None,
            verdict,
            &[d.event],
            Some("met when every record removed had been kept for the minimum"),
        );
    }
    let Some(terminated) = ctx.seen(client.terminated) else {
        return;
    };
    if !ctx.period.contains(terminated.occurred_at) {
        return;
    }
    let t = terminated.occurred_at;
    // R-RET-2: client data deleted within the agreed days, not before R-RET-1's minimum, and
    // not while a legal hold is active.
    let value = ctx.value(RuleId::Ret2, t);
    let calendar = &ctx.rules.agreement_at(t).calendar;
    let deleted = ctx
        .client
        .deletions
        .iter()
        .find(|d| ctx.as_of.sees(&d.event) && d.scope == DeletionScope::AllClientData)
        .map(|d| d.event);
    // R-RET-1's minimum is computed as its own verdict above computes it (one definition of
    // "kept 90 days", in the calendar in force at the last call).
    let ret1_until = last_call.and_then(|c| {
        let v = ctx.value(RuleId::Ret1, c);
        let calendar = &ctx.rules.agreement_at(c).calendar;
        rule_due_at(RuleId::Ret1, &v, calendar, c).ok().flatten()
    });
    let holds = active_holds(ctx.model, ctx.client, ctx.as_of, ctx.evaluated_at);
    // Holds count up to the deletion, if it happened: one placed after it held nothing.
    let holds_until = deleted.map_or(ctx.evaluated_at, |d| d.occurred_at);
    let hold_times = hold_intervals(ctx.model, ctx.client, ctx.as_of, holds_until);
    let (due, verdict) = match rule_due_at(RuleId::Ret2, &value, calendar, t) {
        Ok(Some(due)) => {
            let due = ret1_until.map_or(due, |r| r.max(due));
            // The time a legal hold was active is added to the deadline; while one is active
            // deletion is refused and the deadline is not known yet.
            let extended = extended_by_holds(calendar, t, due, &hold_times);
            let verdict = if deleted.is_none() && !holds.is_empty() {
                Verdict::Pending {
                    due_at: extended,
                    held_by: holds.iter().map(|h| h.to_string()).collect(),
                }
            } else if let Some(due) = extended {
                judge_due(
                    RuleId::Ret2,
                    due,
                    t,
                    deleted.map(|d| d.occurred_at),
                    &[],
                    ctx.evaluated_at,
                )
                .verdict
            } else {
                // The data was deleted while a hold was active (the domain refuses this).
                Verdict::Missed {
                    by: Shortfall {
                        amount: 1,
                        unit: Unit::Findings,
                    },
                    met_at: deleted.map(|d| d.occurred_at),
                }
            };
            (extended, verdict)
        }
        _ => (
            None,
            no_deadline_verdict(RuleId::Ret2, &value).unwrap_or(Verdict::NotComputable {
                reason: "R-RET-2 needs days".to_owned(),
            }),
        ),
    };
    // Which readings applied: local calendar days, and legal holds extending the deadline.
    let mut ret2_note = deadline_reading(RuleId::Ret2, &value)
        .unwrap_or_default()
        .to_owned();
    if !hold_times.is_empty() {
        ret2_note.push_str(&format!(
            "; extended by the time {} legal hold(s) were active after the termination (a hold suspends the deadline)",
            hold_times.len()
        ));
    }
    let mut evidence = vec![terminated];
    evidence.extend(deleted);
    ctx.push(
        RuleId::Ret2,
        Subject::Termination,
        Some(t),
        value,
        due,
        verdict,
        &evidence,
        Some(ret2_note.as_str()),
    );
    // R-RET-3: an obligation in force for a span, not a deadline.
    let value = ctx.value(RuleId::Ret3, t);
    let until = due_at(&value, calendar, t).ok().flatten();
    ctx.push(
        RuleId::Ret3,
        Subject::Termination,
        Some(t),
        value,
        until,
        Verdict::NotComputable {
            reason: "confidentiality survives until the due instant; breaches surface as R-QA-5 confidentiality findings".to_owned(),
        },
        &[terminated],
        None,
    );
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

/// When the client's last call occurred (R-RET-1 counts from it), as the basis sees the log.
///
/// "Last" is by occurred time, not by log position: an import of older calls recorded after
/// newer ones must not move the deadline back. Calls are bucketed by month, so the latest
/// call is in the latest month holding a seen call; the month before it is read too, because
/// a bucket is a client-local month and a change of zone can move its edge by up to a day.
fn last_call_at(ctx: &Ctx<'_>) -> Option<DateTime<Utc>> {
    let mut months_with_calls = ctx
        .client
        .calls_by_month
        .values()
        .rev()
        .filter_map(|slots| {
            slots
                .iter()
                .filter_map(|s| ctx.model.calls.get(*s))
                .filter(|c| ctx.as_of.sees(&c.connected))
                .map(|c| c.connected.occurred_at)
                .max()
        });
    let latest_month = months_with_calls.next()?;
    Some(
        months_with_calls
            .next()
            .map_or(latest_month, |before| latest_month.max(before)),
    )
}

/// Every legal hold of the client as `(placed, released)` intervals, as a basis sees them at an
/// instant (a release not yet seen, or later than `at`, leaves the hold open).
pub(crate) fn hold_intervals(
    model: &ReadModel,
    client: &ClientRecord,
    as_of: &AsOf,
    at: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> {
    client
        .legal_holds
        .iter()
        .filter_map(|s| model.legal_holds.get(*s))
        .filter(|h| as_of.sees(&h.placed) && h.placed.occurred_at <= at)
        .map(|h| {
            let released = h
                .released
                .filter(|r| as_of.sees(r) && r.occurred_at <= at)
                .map(|r| r.occurred_at);
            (h.placed.occurred_at, released)
        })
        .collect()
}

/// Legal holds placed and not released, as a basis sees them at an instant.
pub(crate) fn active_holds(
    model: &ReadModel,
    client: &ClientRecord,
    as_of: &AsOf,
    at: DateTime<Utc>,
) -> Vec<LegalHoldId> {
    client
        .legal_holds
        .iter()
        .filter_map(|s| model.legal_holds.get(*s))
        .filter(|h| as_of.sees(&h.placed) && h.placed.occurred_at <= at)
        .filter(|h| {
            !h.released
                .is_some_and(|r| as_of.sees(&r) && r.occurred_at <= at)
        })
        .map(|h| h.hold_id.clone())
        .collect()
}

fn sop_amendments(ctx: &mut Ctx<'_>) {
    let amendments: Vec<_> = ctx
        .model
        .sop_amendments
        .iter()
        .filter(|s| ctx.in_period(&s.event))
        .cloned()
        .collect();
    for s in amendments {
        let a = &s.amendment;
        let subject = Subject::SopAmendment {
            amendment_id: a.amendment_id.clone(),
        };
        let value = ctx.value(RuleId::Amd1, a.at);
        if !a.material {
            ctx.push(
                RuleId::Amd1,
                subject,
                Some(a.at),
                value,
                None,
                Verdict::NotApplicable {
                    reason: "R-AMD-1 covers material changes only".to_owned(),
                },
                &[s.event],
                None,
            );
            continue;
        }
        // R-AMD-1 per client: the notice period in force for this client (agreement, then
        // SOP, then default), counted in its local calendar days.
        let applied_from = sop_amendment_takes_effect_for(a, &ctx.rules.client_rules());
        let note = (applied_from != a.effective_at).then(|| {
            format!("stated effective {} is inside the notice period; rules in force apply it from {applied_from}", a.effective_at)
        });
        ctx.push(
            RuleId::Amd1,
            subject,
            Some(a.at),
            value,
            Some(applied_from),
            Verdict::Met {
                met_at: applied_from,
            },
            &[s.event],
            note.as_deref(),
        );
    }
}
