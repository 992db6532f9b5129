//! Call traffic: arrivals, queue waits, talk, classification, documentation, escalations and
//! the non-urgent digests, planned per client.
//!
//! Arrivals are a Poisson process whose rate follows a local time-of-day profile (quiet nights,
//! a mid-morning peak and a smaller early-afternoon one) scaled down on days that are not
//! business days. Waits are log-normal with a surge tail that grows at peaks and during the
//! outage; callers have a patience of their own, and accounts with voicemail route callers
//! before the 45 s maximum. Every draw comes from the client's own seeded stream.

use std::rc::Rc;

use chrono::{DateTime, Duration, NaiveDate, Timelike, Utc};
use opsledger_domain::command::{Command, DocumentCall};
use opsledger_domain::events::{
    AbandonReason, CallAbandoned, CallAnswered, CallClassified, CallCompleted, CallConnected,
    CallOutcome, CallRoutedToVoicemail, DigestDelivered, DocumentationDelivered,
    EscalationAcknowledged, EscalationContactAttempted, EscalationContactUnreachable,
    EscalationOpened, Urgency,
};
use opsledger_domain::ids::{AgentId, CallId, DigestId, EscalationId};

use super::clients::{ClientProfile, Nature, PhoneStyle};
use super::random::{clamp_round, round_to_u64, Sampler};
use super::staffing::Roster;
use super::story::{Script, ScriptedCall};
use super::{mins, secs, Ctx, DemoError};

/// Relative call volume by local hour: low at night, peaks mid-morning and early afternoon.
const HOURLY_PROFILE: [f64; 24] = [
    0.15, 0.10, 0.08, 0.08, 0.10, 0.20, 0.40, 0.80, 1.30, 1.80, 2.00, 1.80, 1.40, 1.60, 1.80, 1.60,
    1.30, 1.00, 0.80, 0.60, 0.50, 0.40, 0.30, 0.20,
];
/// Hours whose profile is at least this are peaks, where queues back up more often.
const PEAK_PROFILE: f64 = 1.5;
/// The SOP's answer target (R-ANS-1), for the summary's figures.
pub(crate) const ANSWER_TARGET_SECS: u32 = 8;
/// The SOP's maximum queue time (R-ANS-2).
const MAX_QUEUE_SECS: u32 = 45;
/// Voicemail routing happens a few seconds before the maximum.
const VOICEMAIL_ROUTE_MIN_SECS: u32 = 40;
/// Share of Northwind's extra volume during the notified cold snap.
const COLD_SNAP_FACTOR: f64 = 1.35;
/// Seconds in an hour, as a float for rates.
const SECS_PER_HOUR: f64 = 3_600.0;

/// How a queued call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fate {
    /// Picked up by an agent.
    Answered {
        /// The agent.
        agent: AgentId,
        /// Pickup.
        at: DateTime<Utc>,
        /// Hang-up.
        completed_at: DateTime<Utc>,
    },
    /// Routed to voicemail.
    Voicemail {
        /// Routing.
        at: DateTime<Utc>,
        /// End of the message.
        completed_at: DateTime<Utc>,
    },
    /// The caller hung up in queue.
    Abandoned {
        /// When.
        at: DateTime<Utc>,
    },
}

/// What the rest of the generator needs to know about a planned call.
#[derive(Debug, Clone)]
pub(crate) struct CallRecord {
    /// Client index.
    pub client: usize,
    /// Call id.
    pub call_id: CallId,
    /// Queue entry.
    pub connected_at: DateTime<Utc>,
    /// Client-local date of queue entry.
    pub local_date: NaiveDate,
    /// Seconds in queue until pickup, voicemail or abandonment.
    pub wait_secs: u32,
    /// How it ended.
    pub fate: Fate,
    /// Nature name, if classified.
    pub nature: Option<&'static str>,
    /// Outcome, if classified.
    pub outcome: Option<CallOutcome>,
    /// Classified urgent.
    pub urgent: bool,
    /// Documented with a field missing.
    pub documentation_incomplete: bool,
    /// First escalation attempt after R-ESC-1's three minutes.
    pub escalated_late: bool,
    /// The agent who handled (or documented) it.
    pub agent: Option<AgentId>,
    /// Why it was planted, if it was.
    pub script: Option<Script>,
}

impl CallRecord {
    /// Whether an agent picked it up.
    pub(crate) fn is_answered(&self) -> bool {
        matches!(self.fate, Fate::Answered { .. })
    }

    /// When it ended, for answered and voicemail calls.
    pub(crate) fn completed_at(&self) -> Option<DateTime<Utc>> {
        match self.fate {
            Fate::Answered { completed_at, .. } | Fate::Voicemail { completed_at, .. } => {
                Some(completed_at)
            }
            Fate::Abandoned { .. } => None,
        }
    }
}

/// A non-urgent escalation waiting for its digest.
#[derive(Debug, Clone)]
struct NonUrgent {
    client: usize,
    id: EscalationId,
    opened_at: DateTime<Utc>,
}

/// The calls planned, and the non-urgent items the digests must cover.
#[derive(Debug, Clone, Default)]
pub(crate) struct Traffic {
    /// Every call, per client in connect order.
    pub calls: Vec<CallRecord>,
    non_urgent: Vec<NonUrgent>,
}

/// Plans every client's calls for the month.
pub(crate) fn plan_calls(ctx: &mut Ctx, roster: &Roster) -> Result<Traffic, DemoError> {
    let mut traffic = Traffic::default();
    for client in 0..ctx.clients.len() {
        let label = format!("calls/{}", ctx.client(client)?.code);
        let mut rng = Sampler::derive(ctx.month.seed, &label);
        let mut arrivals: Vec<(DateTime<Utc>, Option<Script>)> =
            arrival_instants(ctx, client, &mut rng)?
                .into_iter()
                .map(|at| (at, None))
                .collect();
        arrivals.extend(
            ctx.story
                .scripted
                .iter()
                .filter(|s: &&ScriptedCall| s.client == client)
                .map(|s| (s.at, Some(s.script))),
        );
        arrivals.sort_by_key(|(at, script)| (*at, script.is_some()));
        let mut per_day_seq: u32 = 0;
        let mut current_day: Option<NaiveDate> = None;
        for (at, script) in arrivals {
            let local_date = ctx.client(client)?.calendar().local_date(at);
            if current_day != Some(local_date) {
                current_day = Some(local_date);
                per_day_seq = 0;
            }
            per_day_seq += 1;
            let call_id = CallId::new(format!(
                "{}-{}-{per_day_seq:04}-{}",
                ctx.client(client)?.code,
                local_date.format("%Y%m%d"),
                ctx.month.tag
            ))?;
            let record = plan_one_call(
                ctx,
                roster,
                &mut rng,
                CallStart {
                    client,
                    call_id,
                    at,
                    local_date,
                    script,
                },
                &mut traffic.non_urgent,
            )?;
            traffic.calls.push(record);
        }
    }
    Ok(traffic)
}

/// Draws arrival instants for a client over the month (whole seconds).
fn arrival_instants(
    ctx: &Ctx,
    client: usize,
    rng: &mut Sampler,
) -> Result<Vec<DateTime<Utc>>, DemoError> {
    let profile = ctx.client(client)?;
    let calendar = profile.calendar();
    let blackouts = ctx.story.blackouts(client);
    let daily = f64::from(ctx.month.scale.calls_per_client_per_day) * profile.volume_weight;
    let norm = profile_norm(profile);
    let mut arrivals = Vec::new();
    // Unit-rate exponential budget carried across segments: exactly a non-homogeneous
    // Poisson process over the piecewise-constant rate.
    let mut need = rng.exp1();
    for date in ctx.month.days() {
        let business = calendar.is_business_day(date);
        let day_factor = if business {
            1.0
        } else if profile.is_24_7() {
            profile.off_day_factor
        } else {
            continue;
        };
        let interval = calendar.business_interval(date);
        for hour in 0..24_u32 {
            let seg_start = if hour == 0 {
                calendar.start_of_local_day(date)
            } else {
                super::story::local_at(profile, date, hour, 0)?
            };
            let seg_end = if hour == 23 {
                calendar.end_of_local_day(date)
            } else {
                super::story::local_at(profile, date, hour + 1, 0)?
            };
            let (from, to) = if profile.is_24_7() {
                (seg_start, seg_end)
            } else {
                let Some((open, close)) = interval else {
                    continue;
                };
                (seg_start.max(open), seg_end.min(close))
            };
            if to <= from {
                continue;
            }
            let mut factor = day_factor;
            if client == super::clients::NORTHWIND && from >= ctx.story.cold_snap_from {
                factor *= COLD_SNAP_FACTOR;
            }
            let hourly = daily * factor * HOURLY_PROFILE[usize::try_from(hour).unwrap_or(0)] / norm;
            let rate_per_sec = hourly / SECS_PER_HOUR;
            let len_secs = u32::try_from((to - from).num_seconds())
                .map_err(|_| DemoError::Internal("segment too long"))?;
            let mass = rate_per_sec * f64::from(len_secs);
            let mut used = 0.0;
            while need <= mass - used {
                used += need;
                need = rng.exp1();
                let offset = round_to_u64(used / rate_per_sec)
                    .and_then(|o| u32::try_from(o).ok())
                    .unwrap_or(0)
                    .min(len_secs.saturating_sub(1));
                let at = from + secs(offset);
                if !blackouts.iter().any(|w| w.contains(at)) {
                    arrivals.push(at);
                }
            }
            need -= mass - used;
        }
    }
    Ok(arrivals)
}

/// The sum of the hourly profile over a business day's covered hours, so a client's mean
/// business-day volume is its share of the scale whatever its hours.
fn profile_norm(profile: &ClientProfile) -> f64 {
    if profile.is_24_7() {
        return HOURLY_PROFILE.iter().sum();
    }
    let calendar = profile.calendar();
    let opens = f64::from(calendar.opens_at.num_seconds_from_midnight()) / SECS_PER_HOUR;
    let closes = f64::from(calendar.closes_at.num_seconds_from_midnight()) / SECS_PER_HOUR;
    HOURLY_PROFILE
        .iter()
        .zip(0_u32..)
        .map(|(weight, hour)| {
            let h = f64::from(hour);
            let overlap = (closes.min(h + 1.0) - opens.max(h)).max(0.0);
            weight * overlap
        })
        .sum::<f64>()
        .max(f64::EPSILON)
}

struct CallStart {
    client: usize,
    call_id: CallId,
    at: DateTime<Utc>,
    local_date: NaiveDate,
    script: Option<Script>,
}

/// Queue outcome drawn for a call.
enum Queue {
    Answered {
        wait_secs: u32,
    },
    Voicemail {
        wait_secs: u32,
    },
    Abandoned {
        wait_secs: u32,
        reason: AbandonReason,
    },
}

fn draw_queue(
    rng: &mut Sampler,
    profile: &ClientProfile,
    local_hour: u32,
    in_outage: bool,
    script: Option<Script>,
) -> Queue {
    match script {
        Some(Script::LongWaitAnswered) => return Queue::Answered { wait_secs: 63 },
        Some(Script::LongWaitAbandoned) => {
            return Queue::Abandoned {
                wait_secs: 71,
                reason: AbandonReason::CallerHungUp,
            }
        }
        Some(Script::OutageVoicemail) => return Queue::Voicemail { wait_secs: 44 },
        Some(_) => {
            return Queue::Answered {
                wait_secs: rng.between(2, 6),
            }
        }
        None => {}
    }
    let peak = HOURLY_PROFILE[usize::try_from(local_hour).unwrap_or(0)] >= PEAK_PROFILE;
    let (surge_p, median) = if in_outage {
        (0.5, 14.0)
    } else if peak {
        (0.035, 3.2)
    } else {
        (0.015, 2.8)
    };
    let wait_secs = if rng.chance(surge_p) {
        clamp_round(20.0 + 40.0 * rng.exp1(), 9, 900)
    } else {
        clamp_round(rng.lognormal(median, 0.8), 1, 900)
    };
    // Most callers hold on for half a minute or more; a few hang up almost at once.
    let patience_secs = if rng.chance(0.04) {
        rng.between(4, 20)
    } else {
        clamp_round(28.0 + 55.0 * rng.exp1(), 28, 1_800)
    };
    let reason = if rng.chance(0.9) {
        AbandonReason::CallerHungUp
    } else {
        AbandonReason::CallerLeftWithKey
    };
    if profile.agreement.voicemail_enabled && wait_secs > MAX_QUEUE_SECS {
        let route_secs = rng.between(VOICEMAIL_ROUTE_MIN_SECS, MAX_QUEUE_SECS);
        if patience_secs < route_secs {
            Queue::Abandoned {
                wait_secs: patience_secs,
                reason,
            }
        } else {
            Queue::Voicemail {
                wait_secs: route_secs,
            }
        }
    } else if patience_secs < wait_secs {
        Queue::Abandoned {
            wait_secs: patience_secs,
            reason,
        }
    } else {
        Queue::Answered { wait_secs }
    }
}

fn nature_named<'a>(profile: &'a ClientProfile, name: &str) -> Result<&'a Nature, DemoError> {
    profile
        .natures
        .iter()
        .find(|n| n.name == name)
        .ok_or(DemoError::Internal(
            "scripted nature missing from the client's list",
        ))
}

fn scripted_nature(profile: &ClientProfile, script: Script) -> Result<&Nature, DemoError> {
    let name = match script {
        Script::LateUrgentEscalation => "gas smell",
        Script::UnreachableThenNextTier => "dental emergency",
        Script::UnreachableDownTheChain => "no heat",
        Script::LegalHoldCall => "arrest",
        Script::ConductBreach => "technician eta",
        Script::LateQualityIssue => "rent query",
        Script::ClientRequestedReview => "billing question",
        Script::LateDocumentationDelivery => "appointment booking",
        Script::LongWaitAnswered => "service booking",
        Script::MissingDocumentationField | Script::OutageVoicemail => "repair request",
        // Abandoned calls are never classified; any of the client's natures will do.
        Script::LongWaitAbandoned => return Ok(&profile.natures[0]),
    };
    nature_named(profile, name)
}

fn draw_nature<'a>(
    rng: &mut Sampler,
    profile: &'a ClientProfile,
    allow_urgent: bool,
) -> &'a Nature {
    let weights: Vec<u32> = profile
        .natures
        .iter()
        .map(|n| {
            if !allow_urgent && profile.agreement.is_urgent_nature(n.name) {
                0
            } else {
                n.weight
            }
        })
        .collect();
    &profile.natures[rng.weighted(&weights)]
}

const FIRST_NAMES: &[&str] = &[
    "James", "Maria", "Robert", "Linda", "Michael", "Aisha", "David", "Emily", "Carlos", "Grace",
    "Daniel", "Sofia", "Kevin", "Hannah", "Luis", "Olivia", "Marcus", "Chloe", "Ethan", "Nadia",
];
const LAST_NAMES: &[&str] = &[
    "Smith", "Garcia", "Johnson", "Nguyen", "Brown", "Patel", "Miller", "Lopez", "Wilson", "Khan",
    "Taylor", "Davies", "Evans", "Murphy", "Chen", "Okafor", "Reyes", "Walker",
];
const PK_FIRST_NAMES: &[&str] = &[
    "Ahmed", "Fatima", "Bilal", "Ayesha", "Usman", "Zainab", "Hamza", "Maryam", "Ali", "Sana",
    "Omar", "Hira", "Faisal", "Mehwish",
];
const PK_LAST_NAMES: &[&str] = &[
    "Khan", "Qureshi", "Siddiqui", "Malik", "Chaudhry", "Sheikh", "Butt", "Raza", "Hussain",
    "Mirza",
];

fn caller_name(rng: &mut Sampler, style: PhoneStyle) -> String {
    let (first, last) = match style {
        PhoneStyle::Pakistan => (PK_FIRST_NAMES, PK_LAST_NAMES),
        PhoneStyle::NorthAmerica | PhoneStyle::Uk => (FIRST_NAMES, LAST_NAMES),
    };
    format!(
        "{} {}",
        first[rng.index(first.len())],
        last[rng.index(last.len())]
    )
}

fn caller_number(rng: &mut Sampler, style: PhoneStyle) -> String {
    match style {
        PhoneStyle::NorthAmerica => {
            let area = ["212", "323", "312", "415", "646", "718"][rng.index(6)];
            format!("+1 {area} 555 01{:02}", rng.between(0, 99))
        }
        PhoneStyle::Uk => format!("+44 7700 900{:03}", rng.between(0, 999)),
        PhoneStyle::Pakistan => format!(
            "+92 3{:02} 555{:04}",
            rng.between(0, 49),
            rng.between(0, 9_999)
        ),
    }
}

fn action_text(outcome: CallOutcome, nature: &str) -> String {
    match outcome {
        CallOutcome::Booking => format!("Booked per protocol ({nature}); confirmation sent"),
        CallOutcome::Action => format!("Relayed to the client's team for follow-up ({nature})"),
        CallOutcome::Inquiry => format!("Answered from the knowledge base ({nature})"),
        CallOutcome::NoAction => "No action required".to_owned(),
    }
}

/// Plans one call's commands and returns its record.
fn plan_one_call(
    ctx: &mut Ctx,
    roster: &Roster,
    rng: &mut Sampler,
    start: CallStart,
    non_urgent: &mut Vec<NonUrgent>,
) -> Result<CallRecord, DemoError> {
    let CallStart {
        client,
        call_id,
        at,
        local_date,
        script,
    } = start;
    let clients = Rc::clone(&ctx.clients);
    let profile = &clients[client];
    let client_id = profile.id.clone();
    let local_hour = at.with_timezone(&profile.calendar().time_zone).hour();
    let in_outage = ctx.story.in_outage(client, at);
    let style = profile.phone_style;
    let queue = draw_queue(rng, profile, local_hour, in_outage, script);
    ctx.plan.record(
        at,
        Command::ConnectCall(CallConnected {
            client_id: client_id.clone(),
            call_id: call_id.clone(),
            at,
            queue: Some(if profile.is_24_7() { "24x7" } else { "main" }.to_owned()),
            caller_number: Some(caller_number(rng, style)),
        }),
    );
    let mut record = CallRecord {
        client,
        call_id: call_id.clone(),
        connected_at: at,
        local_date,
        wait_secs: 0,
        fate: Fate::Abandoned { at },
        nature: None,
        outcome: None,
        urgent: false,
        documentation_incomplete: false,
        escalated_late: false,
        agent: None,
        script,
    };

    // Pickup, voicemail or abandonment; then, for handled calls, completion.
    let (agent, completed_at, voicemail) = match queue {
        Queue::Abandoned { wait_secs, reason } => {
            let left = at + secs(wait_secs);
            record.wait_secs = wait_secs;
            record.fate = Fate::Abandoned { at: left };
            ctx.plan.record(
                left,
                Command::AbandonCall(CallAbandoned {
                    client_id,
                    call_id,
                    at: left,
                    reason,
                }),
            );
            if script == Some(Script::LongWaitAbandoned) {
                ctx.note(
                    client,
                    at,
                    format!("caller abandons after {wait_secs} s in queue, past the 45 s maximum (R-ANS-2 miss)"),
                );
            }
            return Ok(record);
        }
        Queue::Answered { wait_secs } => {
            let picked = at + secs(wait_secs);
            let agent = roster.pick_on_duty(client, picked, rng)?;
            let talk = clamp_round(rng.lognormal(profile.talk_median_secs, 0.55), 20, 1_800);
            let completed_at = picked + secs(talk);
            record.wait_secs = wait_secs;
            record.fate = Fate::Answered {
                agent: agent.clone(),
                at: picked,
                completed_at,
            };
            ctx.plan.record(
                picked,
                Command::AnswerCall(CallAnswered {
                    client_id: client_id.clone(),
                    call_id: call_id.clone(),
                    at: picked,
                    agent_id: agent.clone(),
                }),
            );
            if script == Some(Script::LongWaitAnswered) {
                ctx.note(
                    client,
                    at,
                    format!("call answered after {wait_secs} s in queue on an account without voicemail (R-ANS-1 and R-ANS-2 misses)"),
                );
            }
            (agent, completed_at, false)
        }
        Queue::Voicemail { wait_secs } => {
            let routed = at + secs(wait_secs);
            let message = rng.between(20, 110);
            let completed_at = routed + secs(message);
            record.wait_secs = wait_secs;
            record.fate = Fate::Voicemail {
                at: routed,
                completed_at,
            };
            ctx.plan.record(
                routed,
                Command::RouteToVoicemail(CallRoutedToVoicemail {
                    client_id: client_id.clone(),
                    call_id: call_id.clone(),
                    at: routed,
                }),
            );
            if script == Some(Script::OutageVoicemail) {
                ctx.note(
                    client,
                    at,
                    format!("during the outage a caller is routed to voicemail after {wait_secs} s (within the 45 s maximum)"),
                );
            }
            // The callback is made by whoever is on duty when the message ends.
            let agent = roster
                .pick_on_duty(client, completed_at, rng)
                .or_else(|_| roster.pick_on_duty(client, at, rng))?;
            (agent, completed_at, true)
        }
    };
    ctx.plan.record(
        completed_at,
        Command::CompleteCall(CallCompleted {
            client_id: client_id.clone(),
            call_id: call_id.clone(),
            at: completed_at,
        }),
    );
    record.agent = Some(agent.clone());

    // Classification: urgent natures only reach live agents (the IVR sends them to the queue).
    let nature = match script {
        Some(s) => scripted_nature(profile, s)?,
        None => draw_nature(rng, profile, !voicemail),
    };
    let urgent = profile.agreement.is_urgent_nature(nature.name);
    let outcome = if urgent {
        CallOutcome::Action
    } else {
        nature.outcome
    };
    let classified_at = if voicemail {
        completed_at + mins(rng.between(3, 15))
    } else {
        completed_at + secs(rng.between(5, 45))
    };
    ctx.plan.record(
        classified_at,
        Command::ClassifyCall(CallClassified {
            client_id: client_id.clone(),
            call_id: call_id.clone(),
            at: classified_at,
            nature: nature.name.to_owned(),
            urgent,
            outcome,
        }),
    );
    record.nature = Some(nature.name);
    record.outcome = Some(outcome);
    record.urgent = urgent;

    if urgent {
        record.escalated_late = plan_urgent_escalation(ctx, rng, &record, completed_at)?;
    }

    if !outcome.requires_documentation() {
        return Ok(record);
    }
    let documented_at = classified_at + secs(rng.between(15, 200));
    let missing = match script {
        Some(Script::MissingDocumentationField) => Some(1),
        Some(_) => None,
        None => rng.chance(0.02).then(|| rng.weighted(&[2, 5, 0, 3])),
    };
    let name = caller_name(rng, style);
    let contact = caller_number(rng, style);
    ctx.plan.record(
        documented_at,
        Command::DocumentCall(DocumentCall {
            client_id: client_id.clone(),
            call_id: call_id.clone(),
            at: documented_at,
            agent_id: agent,
            caller_name: (missing != Some(0)).then_some(name),
            caller_contact: (missing != Some(1)).then_some(contact),
            nature_of_call: (missing != Some(2)).then(|| nature.name.to_owned()),
            action_taken: (missing != Some(3)).then(|| action_text(outcome, nature.name)),
        }),
    );
    record.documentation_incomplete = missing.is_some();
    if script == Some(Script::MissingDocumentationField) {
        ctx.note(
            client,
            at,
            "call documented without the caller's contact information (R-DOC-1 miss)",
        );
    }

    // Delivery to the client's system, normally well inside the agreed window.
    let window_mins =
        u32::try_from(profile.agreement.documentation_delivery_mins.unwrap_or(60)).unwrap_or(60);
    let late = script == Some(Script::LateDocumentationDelivery)
        || (script.is_none() && rng.chance(0.012));
    let mut delivered_at = if late {
        completed_at + mins(window_mins + rng.between(5, 90))
    } else {
        documented_at + secs(rng.between(20, (window_mins * 60 / 4).max(60)))
    };
    let credentials = ctx.story.credentials;
    let mut held_by_credentials = false;
    if client == super::clients::THAMES && credentials.contains(delivered_at) {
        // The portal refuses logins until the client restores the credentials.
        delivered_at = credentials.to + mins(rng.between(2, 15));
        held_by_credentials = true;
    }
    ctx.plan.record(
        delivered_at,
        Command::DeliverDocumentation(DocumentationDelivered {
            client_id: client_id.clone(),
            call_id: call_id.clone(),
            at: delivered_at,
            channel: profile.documentation_channel.to_owned(),
        }),
    );
    if script == Some(Script::LateDocumentationDelivery) {
        ctx.note(
            client,
            at,
            format!(
                "documentation reaches {} {} min after the call, past the {window_mins} min window (R-DOC-2 miss)",
                profile.documentation_channel,
                (delivered_at - completed_at).num_minutes()
            ),
        );
    }
    if held_by_credentials && !ctx.noted_credential_hold {
        ctx.noted_credential_hold = true;
        ctx.note(
            client,
            delivered_at,
            "documentation held back while the portal credentials were expired is delivered after they are restored (R-DOC-2, excused)",
        );
    }

    // Some actions are not urgent but the client wants to hear about them: the digest.
    if outcome == CallOutcome::Action && !urgent && script.is_none() && rng.chance(0.22) {
        let opened_at = documented_at + secs(20);
        let id = EscalationId::new(format!("nu-{call_id}"))?;
        ctx.plan.record(
            opened_at,
            Command::OpenEscalation(EscalationOpened {
                client_id,
                escalation_id: id.clone(),
                call_id: Some(call_id),
                at: opened_at,
                urgency: Urgency::NonUrgent,
                summary: Some(format!("Follow-up requested: {}", nature.name)),
            }),
        );
        non_urgent.push(NonUrgent {
            client,
            id,
            opened_at,
        });
    }
    Ok(record)
}

/// Plans the escalation of an urgent call; returns whether its first attempt was late.
fn plan_urgent_escalation(
    ctx: &mut Ctx,
    rng: &mut Sampler,
    record: &CallRecord,
    completed_at: DateTime<Utc>,
) -> Result<bool, DemoError> {
    let client = record.client;
    let clients = Rc::clone(&ctx.clients);
    let profile = &clients[client];
    let client_id = profile.id.clone();
    let escalation_id = EscalationId::new(format!("u-{}", record.call_id))?;
    let script = record.script;
    // Besides the planted one, an occasional slip: one or two late escalations a month.
    let late =
        script == Some(Script::LateUrgentEscalation) || (script.is_none() && rng.chance(0.005));
    let (opened_at, first_attempt) = if late {
        let opened = completed_at + secs(rng.between(200, 260));
        (opened, opened + secs(rng.between(60, 100)))
    } else {
        let opened = completed_at + secs(rng.between(15, 70));
        (opened, opened + secs(rng.between(5, 45)))
    };
    ctx.plan.record(
        opened_at,
        Command::OpenEscalation(EscalationOpened {
            client_id: client_id.clone(),
            escalation_id: escalation_id.clone(),
            call_id: Some(record.call_id.clone()),
            at: opened_at,
            urgency: Urgency::Urgent,
            summary: Some(format!(
                "Urgent: {}",
                record.nature.unwrap_or("urgent call")
            )),
        }),
    );
    let chain = profile.agreement.escalation_chain.clone();
    let next_gap = profile.agreement.next_contact_after_unreachable_mins;
    // Which tiers fail to answer: scripted, or each but the last with a small chance.
    let unreachable_tiers: usize = match script {
        Some(Script::UnreachableThenNextTier) => 1,
        Some(Script::UnreachableDownTheChain) => 2,
        Some(_) => 0,
        None => {
            let mut n = 0;
            while n + 1 < chain.len() && rng.chance(0.12) {
                n += 1;
            }
            n
        }
    };
    let mut attempt_at = first_attempt;
    for (position, contact) in chain.iter().enumerate() {
        ctx.plan.record(
            attempt_at,
            Command::AttemptContact(EscalationContactAttempted {
                client_id: client_id.clone(),
                escalation_id: escalation_id.clone(),
                at: attempt_at,
                tier: contact.tier,
                contact_ref: contact.contact_ref.clone(),
            }),
        );
        if position < unreachable_tiers.min(chain.len().saturating_sub(1)) {
            let marked = attempt_at + secs(rng.between(40, 75));
            ctx.plan.record(
                marked,
                Command::MarkContactUnreachable(EscalationContactUnreachable {
                    client_id: client_id.clone(),
                    escalation_id: escalation_id.clone(),
                    at: marked,
                    tier: contact.tier,
                    contact_ref: contact.contact_ref.clone(),
                }),
            );
            // "Immediate" means the next contact is dialled at the same instant (R-ESC-2).
            attempt_at = match next_gap {
                Some(limit) => {
                    let limit_secs = u32::try_from(limit.saturating_mul(60)).unwrap_or(u32::MAX);
                    marked + secs(rng.between(60, limit_secs.saturating_sub(60).max(60)))
                }
                None => marked,
            };
            continue;
        }
        let acknowledged = attempt_at + secs(rng.between(30, 200));
        ctx.plan.record(
            acknowledged,
            Command::AcknowledgeEscalation(EscalationAcknowledged {
                client_id: client_id.clone(),
                escalation_id: escalation_id.clone(),
                at: acknowledged,
                tier: contact.tier,
                contact_ref: contact.contact_ref.clone(),
            }),
        );
        break;
    }
    let first_attempt_secs = (first_attempt - completed_at).num_seconds();
    match script {
        Some(Script::LateUrgentEscalation) => ctx.note(
            client,
            record.connected_at,
            format!(
                "urgent \"{}\" call: the first escalation attempt comes {} min {} s after the call, past the 3 min limit (R-ESC-1 miss)",
                record.nature.unwrap_or("urgent"),
                first_attempt_secs / 60,
                first_attempt_secs % 60
            ),
        ),
        Some(Script::UnreachableThenNextTier) => ctx.note(
            client,
            record.connected_at,
            "urgent dental emergency: the dentist on call is unreachable and the practice manager is called at once (R-ESC-2 met)",
        ),
        Some(Script::UnreachableDownTheChain) => ctx.note(
            client,
            record.connected_at,
            "urgent no-heat call: dispatch lead and on-call tech unreachable, each next tier called within the agreed 5 min; the ops manager acknowledges",
        ),
        _ => {}
    }
    Ok(late)
}

/// Plans the non-urgent digests: one at each interval's end (anchored at local midnight) that
/// had items, covering the items opened in that interval (R-ESC-3).
pub(crate) fn plan_digests(ctx: &mut Ctx, traffic: &Traffic) -> Result<(), DemoError> {
    for client in 0..ctx.clients.len() {
        let clients = Rc::clone(&ctx.clients);
        let profile = &clients[client];
        let Some(interval_mins) = profile.agreement.non_urgent_digest_interval_mins else {
            continue;
        };
        let interval = Duration::minutes(
            i64::try_from(interval_mins).map_err(|_| DemoError::Internal("digest interval"))?,
        );
        let calendar = profile.calendar();
        let mut items: Vec<&NonUrgent> = traffic
            .non_urgent
            .iter()
            .filter(|n| n.client == client)
            .collect();
        items.sort_by_key(|n| n.opened_at);
        let mut groups: Vec<(DateTime<Utc>, DateTime<Utc>, Vec<EscalationId>)> = Vec::new();
        for item in items {
            let day = calendar.local_date(item.opened_at);
            let day_start = calendar.start_of_local_day(day);
            let day_end = calendar.end_of_local_day(day);
            let elapsed = item.opened_at - day_start;
            let k = elapsed.num_seconds() / interval.num_seconds().max(1);
            let period_start = day_start + interval * i32::try_from(k).unwrap_or(0);
            let period_end = (period_start + interval).min(day_end);
            match groups.last_mut() {
                Some((start, _, ids)) if *start == period_start => ids.push(item.id.clone()),
                _ => groups.push((period_start, period_end, vec![item.id.clone()])),
            }
        }
        for (period_start, period_end, escalation_ids) in groups {
            let digest_id = DigestId::new(format!(
                "dg-{}-{}-{}",
                profile.code,
                period_end
                    .with_timezone(&calendar.time_zone)
                    .format("%Y%m%d%H%M"),
                ctx.month.tag
            ))?;
            ctx.plan.record(
                period_end,
                Command::DeliverDigest(DigestDelivered {
                    client_id: profile.id.clone(),
                    digest_id,
                    at: period_end,
                    period_start,
                    period_end,
                    escalation_ids,
                    channel: profile.digest_channel.to_owned(),
                }),
            );
        }
    }
    Ok(())
}
