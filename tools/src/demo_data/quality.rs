//! Quality assurance: the daily review sample (R-QA-1), findings, quality issues addressed with
//! the agent (R-QA-2), the client-requested review (R-QA-3) and the conduct breach (R-QA-5).
//!
//! Each morning the QA team samples the previous day's answered calls at the client's target
//! share, carrying the fraction over so the month lands on the share; the month's last day is
//! sampled late that evening so every day counts towards the month. Findings follow the facts
//! already planned: a documentation gap fails documentation accuracy, a late escalation fails
//! escalation compliance.

use std::collections::BTreeMap;
use std::rc::Rc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use opsledger_domain::command::Command;
use opsledger_domain::events::{
    BreachKind, CallSelectedForReview, ClientReviewRequested, ConductBreachIdentified,
    CorrectiveAction, CorrectiveActionTaken, Finding, QualityIssueAddressed,
    QualityIssueIdentified, ReviewCompleted, ReviewFindings,
};
use opsledger_domain::ids::{AgentId, BreachId, QualityIssueId, ReviewId};
use opsledger_domain::rules::RuleId;

use super::calls::{CallRecord, Fate};
use super::random::{round_to_u64, Sampler};
use super::story::Script;
use super::{mins, Ctx, DemoError};

/// QA reviewers of the agency.
const REVIEWERS: [&str; 4] = ["qa-01", "qa-02", "qa-03", "qa-04"];

/// Plans the month's reviews and what they found.
pub(crate) fn plan_quality(ctx: &mut Ctx, calls: &[CallRecord]) -> Result<(), DemoError> {
    let reviewers: Vec<AgentId> = REVIEWERS
        .iter()
        .map(|r| AgentId::new(*r))
        .collect::<Result<_, _>>()?;
    for client in 0..ctx.clients.len() {
        let label = format!("qa/{}", ctx.client(client)?.code);
        let mut rng = Sampler::derive(ctx.month.seed, &label);
        sample_reviews(ctx, client, calls, &reviewers, &mut rng)?;
    }
    for call in calls {
        match call.script {
            Some(Script::ConductBreach) => conduct_breach(ctx, call, &reviewers[0])?,
            Some(Script::LateQualityIssue) => late_quality_issue(ctx, call, &reviewers[1])?,
            Some(Script::ClientRequestedReview) => {
                client_requested_review(ctx, call, &reviewers[2])?
            }
            _ => {}
        }
    }
    Ok(())
}

/// How a review came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// The QA team's sample (R-QA-1).
    Sampled,
    /// The client asked for it (R-QA-3).
    ClientRequest,
}

fn review_id(call: &CallRecord, origin: Origin) -> Result<ReviewId, DemoError> {
    let kind = match origin {
        Origin::Sampled => "rv",
        Origin::ClientRequest => "rvc",
    };
    Ok(ReviewId::new(format!("{kind}-{}", call.call_id))?)
}

fn sample_reviews(
    ctx: &mut Ctx,
    client: usize,
    calls: &[CallRecord],
    reviewers: &[AgentId],
    rng: &mut Sampler,
) -> Result<(), DemoError> {
    let clients = Rc::clone(&ctx.clients);
    let profile = &clients[client];
    let mut by_day: BTreeMap<NaiveDate, Vec<&CallRecord>> = BTreeMap::new();
    for call in calls
        .iter()
        .filter(|c| c.client == client && c.is_answered() && c.script.is_none())
    {
        by_day.entry(call.local_date).or_default().push(call);
    }
    // The month's answered calls as the SLA report counts them (R-QA-1's denominator): every
    // answered call of the client, scripted situations and late last-day calls included, so the
    // note below says what the report will say.
    let answered = u64::try_from(
        calls
            .iter()
            .filter(|c| c.client == client && c.is_answered())
            .count(),
    )
    .map_err(|_| DemoError::Internal("too many calls"))?;
    let mut carry = 0.0_f64;
    let mut reviewed: u64 = 0;
    for (date, day_calls) in by_day {
        let last_day = date.succ_opt() == Some(ctx.month.next_start);
        let evening_cut = ctx.local(client, date, 23, 10)?;
        let eligible: Vec<&CallRecord> = if last_day {
            day_calls
                .into_iter()
                .filter(|c| c.completed_at().is_some_and(|t| t < evening_cut))
                .collect()
        } else {
            day_calls
        };
        let count =
            u32::try_from(eligible.len()).map_err(|_| DemoError::Internal("too many calls"))?;
        let exact = profile.qa_share * f64::from(count) + carry;
        let quota = round_to_u64(exact.floor()).unwrap_or(0);
        // The quota is below the day's call count, so it fits in a u32 and converts exactly.
        let quota_u32 = u32::try_from(quota).unwrap_or(count).min(count);
        carry = exact - f64::from(quota_u32);
        let chosen = rng.sample_indices(eligible.len(), usize::try_from(quota_u32).unwrap_or(0));
        reviewed += u64::from(quota_u32);
        for index in chosen {
            let call = eligible[index];
            let (selected_at, completed_at) = if last_day {
                let at = ctx.local(client, date, 23, 20)? + mins(rng.between(0, 5));
                (at, at + mins(rng.between(5, 25)))
            } else {
                let next = date + Duration::days(1);
                let at = ctx.local(client, next, 9, 30)? + mins(rng.between(0, 90));
                (at, at + mins(rng.between(12, 110)))
            };
            let reviewer = &reviewers[rng.index(reviewers.len())];
            let findings = findings_for(call, rng);
            plan_review(
                ctx,
                Review {
                    call,
                    origin: Origin::Sampled,
                    opened_at: selected_at,
                    completed_at,
                    reviewer,
                    findings,
                },
            )?;
            if let Some(rule) = first_failure(&findings) {
                let identified_at = completed_at + mins(rng.between(1, 10));
                let addressed_at = identified_at
                    + Duration::hours(i64::from(rng.between(1, 20)))
                    + mins(rng.between(0, 59));
                plan_quality_issue(
                    ctx,
                    call,
                    identified_at,
                    addressed_at,
                    rule,
                    "Raised from internal review",
                )?;
            }
        }
    }
    if profile.qa_share < 0.1 {
        let at = ctx.local(client, ctx.month.next_start - Duration::days(1), 23, 59)?;
        ctx.note(
            client,
            at,
            format!(
                "QA reviewed {reviewed} of {answered} answered calls this month, under the 10 % minimum (R-QA-1 miss)"
            ),
        );
    }
    Ok(())
}

fn findings_for(call: &CallRecord, rng: &mut Sampler) -> ReviewFindings {
    let pass_or_fail = |fail: bool| if fail { Finding::Fail } else { Finding::Pass };
    let documentation_accuracy = match call.outcome {
        Some(outcome) if outcome.requires_documentation() => {
            pass_or_fail(call.documentation_incomplete || rng.chance(0.015))
        }
        _ => Finding::NotApplicable,
    };
    let escalation_compliance = if call.urgent {
        pass_or_fail(call.escalated_late)
    } else {
        Finding::NotApplicable
    };
    ReviewFindings {
        script_adherence: pass_or_fail(rng.chance(0.03)),
        documentation_accuracy,
        escalation_compliance,
        greeting: pass_or_fail(rng.chance(0.01)),
        language: Finding::Pass,
    }
}

/// The rule a failed review's quality issue concerns: the most serious failure first.
fn first_failure(findings: &ReviewFindings) -> Option<Option<RuleId>> {
    if findings.documentation_accuracy == Finding::Fail {
        Some(Some(RuleId::Doc1))
    } else if findings.escalation_compliance == Finding::Fail {
        Some(Some(RuleId::Esc1))
    } else if findings.greeting == Finding::Fail {
        Some(Some(RuleId::Ans3))
    } else if findings.script_adherence == Finding::Fail {
        Some(None)
    } else {
        None
    }
}

fn call_agent(call: &CallRecord) -> Result<AgentId, DemoError> {
    match &call.fate {
        Fate::Answered { agent, .. } => Ok(agent.clone()),
        _ => Err(DemoError::Internal("only answered calls are reviewed")),
    }
}

/// One review to plan: who reviews which call, when, with what findings.
#[derive(Debug)]
struct Review<'a> {
    call: &'a CallRecord,
    origin: Origin,
    opened_at: DateTime<Utc>,
    completed_at: DateTime<Utc>,
    reviewer: &'a AgentId,
    findings: ReviewFindings,
}

fn plan_review(ctx: &mut Ctx, review: Review<'_>) -> Result<(), DemoError> {
    let Review {
        call,
        origin,
        opened_at,
        completed_at,
        reviewer,
        findings,
    } = review;
    let client_id = ctx.client(call.client)?.id.clone();
    let review_id = review_id(call, origin)?;
    let open = match origin {
        Origin::ClientRequest => Command::RequestClientReview(ClientReviewRequested {
            client_id: client_id.clone(),
            review_id: review_id.clone(),
            call_id: call.call_id.clone(),
            at: opened_at,
        }),
        Origin::Sampled => Command::SelectCallForReview(CallSelectedForReview {
            client_id: client_id.clone(),
            review_id: review_id.clone(),
            call_id: call.call_id.clone(),
            at: opened_at,
        }),
    };
    ctx.plan.record(opened_at, open);
    ctx.plan.record(
        completed_at,
        Command::CompleteReview(ReviewCompleted {
            client_id,
            review_id,
            call_id: call.call_id.clone(),
            at: completed_at,
            reviewer_id: reviewer.clone(),
            findings,
            notes: None,
        }),
    );
    Ok(())
}

fn plan_quality_issue(
    ctx: &mut Ctx,
    call: &CallRecord,
    identified_at: DateTime<Utc>,
    addressed_at: DateTime<Utc>,
    rule: Option<RuleId>,
    notes: &str,
) -> Result<(), DemoError> {
    let client_id = ctx.client(call.client)?.id.clone();
    let issue_id = QualityIssueId::new(format!("qi-{}", call.call_id))?;
    let agent = call_agent(call)?;
    ctx.plan.record(
        identified_at,
        Command::IdentifyQualityIssue(QualityIssueIdentified {
            client_id: client_id.clone(),
            issue_id: issue_id.clone(),
            at: identified_at,
            agent_id: agent.clone(),
            call_id: Some(call.call_id.clone()),
            review_id: Some(review_id(call, Origin::Sampled)?),
            rule,
            notes: Some(notes.to_owned()),
        }),
    );
    ctx.plan.record(
        addressed_at,
        Command::AddressQualityIssue(QualityIssueAddressed {
            client_id,
            issue_id,
            at: addressed_at,
            agent_id: agent,
        }),
    );
    Ok(())
}

fn all_pass(call: &CallRecord) -> ReviewFindings {
    ReviewFindings {
        script_adherence: Finding::Pass,
        documentation_accuracy: match call.outcome {
            Some(o) if o.requires_documentation() => Finding::Pass,
            _ => Finding::NotApplicable,
        },
        escalation_compliance: Finding::NotApplicable,
        greeting: Finding::Pass,
        language: Finding::Pass,
    }
}

/// The agent told a caller they work for the agency: found in the next business day's review,
/// corrected the same day (R-QA-5 met).
fn conduct_breach(ctx: &mut Ctx, call: &CallRecord, reviewer: &AgentId) -> Result<(), DemoError> {
    let client = call.client;
    let day = ctx.business_day_from(client, call.local_date + Duration::days(1))?;
    let selected_at = ctx.local(client, day, 9, 30)?;
    let completed_at = ctx.local(client, day, 9, 55)?;
    let mut findings = all_pass(call);
    findings.script_adherence = Finding::Fail;
    plan_review(
        ctx,
        Review {
            call,
            origin: Origin::Sampled,
            opened_at: selected_at,
            completed_at,
            reviewer,
            findings,
        },
    )?;
    let client_id = ctx.client(client)?.id.clone();
    let breach_id = BreachId::new(format!("br-{}", call.call_id))?;
    let agent = call_agent(call)?;
    let identified_at = ctx.local(client, day, 9, 58)?;
    let acted_at = ctx.local(client, day, 14, 0)?;
    ctx.plan.record(
        identified_at,
        Command::IdentifyConductBreach(ConductBreachIdentified {
            client_id: client_id.clone(),
            breach_id: breach_id.clone(),
            at: identified_at,
            agent_id: agent.clone(),
            call_id: Some(call.call_id.clone()),
            kind: BreachKind::AffiliationDisclosed,
            notes: Some("Agent told the caller the answering service's name".to_owned()),
        }),
    );
    ctx.plan.record(
        acted_at,
        Command::TakeCorrectiveAction(CorrectiveActionTaken {
            client_id,
            breach_id,
            at: acted_at,
            agent_id: agent.clone(),
            action: CorrectiveAction::Coaching,
        }),
    );
    ctx.note(
        client,
        identified_at,
        format!(
            "review finds {agent} disclosed the agency's name to a caller (conduct breach); coaching the same afternoon (R-QA-5 met)"
        ),
    );
    Ok(())
}

/// The agent greeted with the agency's name; the issue is addressed 31 h later (R-QA-2 miss).
fn late_quality_issue(
    ctx: &mut Ctx,
    call: &CallRecord,
    reviewer: &AgentId,
) -> Result<(), DemoError> {
    let client = call.client;
    let day = call.local_date + Duration::days(1);
    let selected_at = ctx.local(client, day, 10, 15)?;
    let completed_at = ctx.local(client, day, 10, 40)?;
    let mut findings = all_pass(call);
    findings.greeting = Finding::Fail;
    plan_review(
        ctx,
        Review {
            call,
            origin: Origin::Sampled,
            opened_at: selected_at,
            completed_at,
            reviewer,
            findings,
        },
    )?;
    let identified_at = ctx.local(client, day, 10, 45)?;
    let addressed_at = identified_at + Duration::hours(31);
    plan_quality_issue(
        ctx,
        call,
        identified_at,
        addressed_at,
        Some(RuleId::Ans3),
        "Greeting used the agency's name instead of the client's",
    )?;
    ctx.note(
        client,
        identified_at,
        "review finds a greeting under the agency's name (R-ANS-3); the agent was off, so it is addressed 31 h later (R-QA-2 miss)",
    );
    Ok(())
}

/// The client asks for a review of a call after a complaint; completed the next business day
/// (R-QA-3 met).
fn client_requested_review(
    ctx: &mut Ctx,
    call: &CallRecord,
    reviewer: &AgentId,
) -> Result<(), DemoError> {
    let client = call.client;
    let requested_at = ctx.local(client, call.local_date, 15, 20)?;
    let next = ctx
        .client(client)?
        .calendar()
        .next_business_day(call.local_date)?;
    let completed_at = ctx.local(client, next, 11, 30)?;
    plan_review(
        ctx,
        Review {
            call,
            origin: Origin::ClientRequest,
            opened_at: requested_at,
            completed_at,
            reviewer,
            findings: all_pass(call),
        },
    )?;
    ctx.note(
        client,
        requested_at,
        "practice manager asks for a review of a patient's billing call; completed the next business day, no fault found (R-QA-3 met)",
    );
    Ok(())
}
