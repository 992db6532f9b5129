//! The month's story: when each planted situation happens, fixed before any traffic is drawn.
//!
//! Situations are placed on days of the month (moved to the client's next business day where
//! it matters), so they exist whatever the seed and scale; the seed only decides the ordinary
//! traffic around them. Traffic and staffing read the story too: no calls reach a suspended or
//! terminated account, and waits grow during the outage.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};

use super::clients::{ClientProfile, ACME, INDUS, NORTHWIND, THAMES, WHITFIELD};
use super::{DemoError, Month};

/// A half-open interval of time, `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    /// Start.
    pub from: DateTime<Utc>,
    /// End.
    pub to: DateTime<Utc>,
}

impl Window {
    /// Whether an instant falls inside.
    pub(crate) fn contains(&self, at: DateTime<Utc>) -> bool {
        self.from <= at && at < self.to
    }
}

/// A call planted with a purpose; the traffic generator gives it the matching details.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Script {
    /// Urgent call whose first escalation attempt comes almost six minutes after completion.
    LateUrgentEscalation,
    /// Urgent call whose first contact is unreachable; the next tier is called at once.
    UnreachableThenNextTier,
    /// Urgent call where two tiers are unreachable and the third acknowledges.
    UnreachableDownTheChain,
    /// The agent disclosed the agency's name: a conduct breach found in review.
    ConductBreach,
    /// Wrong greeting found in review; the quality issue is addressed after 24 h.
    LateQualityIssue,
    /// The client asks for a review of this call.
    ClientRequestedReview,
    /// An urgent legal intake later put under a legal hold.
    LegalHoldCall,
    /// Documented without the caller's contact information.
    MissingDocumentationField,
    /// Documentation delivered hours after the agreed window.
    LateDocumentationDelivery,
    /// Answered after 63 s in queue (no voicemail on the account).
    LongWaitAnswered,
    /// Abandoned by the caller after 71 s in queue.
    LongWaitAbandoned,
    /// Routed to voicemail during the telecom outage.
    OutageVoicemail,
}

/// A planted call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScriptedCall {
    /// Client index.
    pub client: usize,
    /// When it connects.
    pub at: DateTime<Utc>,
    /// What it is for.
    pub script: Script,
}

/// When each planted situation happens.
#[derive(Debug, Clone)]
pub(crate) struct Story {
    /// Agency telecom outage (force majeure), excusing Northwind's and Thames's performance.
    pub outage: Window,
    /// Thames's property-portal credentials expired, until restored.
    pub credentials: Window,
    /// Northwind's night shift down to one agent.
    pub coverage_gap: Window,
    /// Whitfield & Cole gives written notice of termination.
    pub termination_notice_at: DateTime<Utc>,
    /// Its termination takes effect (the end of the 14-day notice period's last day).
    pub termination_effective_at: DateTime<Utc>,
    /// Indus Telehealth is sent a written notice of payment default.
    pub default_notice_at: DateTime<Utc>,
    /// Indus's service is suspended for non-payment, until resumed.
    pub suspension: Window,
    /// Indus pays its overdue invoices.
    pub indus_payment_at: DateTime<Utc>,
    /// Northwind's notified cold-weather volume increase starts.
    pub cold_snap_from: DateTime<Utc>,
    /// The planted calls.
    pub scripted: Vec<ScriptedCall>,
}

/// A client-local instant.
pub(crate) fn local_at(
    client: &ClientProfile,
    date: NaiveDate,
    hour: u32,
    minute: u32,
) -> Result<DateTime<Utc>, DemoError> {
    let time = NaiveTime::from_hms_opt(hour, minute, 0)
        .ok_or(DemoError::Internal("invalid local time"))?;
    Ok(client.calendar().to_utc(date.and_time(time)))
}

/// The client's first business day on or after a date.
pub(crate) fn business_day_from(
    client: &ClientProfile,
    date: NaiveDate,
) -> Result<NaiveDate, DemoError> {
    let calendar = client.calendar();
    if calendar.is_business_day(date) {
        Ok(date)
    } else {
        Ok(calendar.next_business_day(date)?)
    }
}

fn get(clients: &[ClientProfile], index: usize) -> Result<&ClientProfile, DemoError> {
    clients
        .get(index)
        .ok_or(DemoError::Internal("client index out of range"))
}

impl Story {
    /// Places the story in a month.
    pub(crate) fn new(month: &Month, clients: &[ClientProfile]) -> Result<Self, DemoError> {
        let acme = get(clients, ACME)?;
        let nw = get(clients, NORTHWIND)?;
        let tlp = get(clients, THAMES)?;
        let wcl = get(clients, WHITFIELD)?;
        let ith = get(clients, INDUS)?;
        let at = |c: &ClientProfile, day: u32, h: u32, m: u32| local_at(c, month.day(day), h, m);
        let bat = |c: &ClientProfile, day: u32, h: u32, m: u32| {
            local_at(c, business_day_from(c, month.day(day))?, h, m)
        };

        // The outage is the agency's, so it is one UTC window; it falls in London's business
        // hours and in Los Angeles's small hours.
        let outage_day = business_day_from(tlp, month.day(20))?;
        let outage_from = outage_day
            .and_time(NaiveTime::from_hms_opt(9, 10, 0).ok_or(DemoError::Internal("time"))?)
            .and_utc();
        let outage = Window {
            from: outage_from,
            to: outage_from + Duration::minutes(115),
        };

        let credentials_day = business_day_from(tlp, month.day(14))?;
        let credentials = Window {
            from: local_at(tlp, credentials_day, 3, 0)?,
            to: local_at(tlp, credentials_day, 11, 20)?,
        };

        let coverage_gap = Window {
            from: at(nw, 11, 5, 20)?,
            to: at(nw, 11, 5, 58)?,
        };

        // Notice on the first business day; effective at the end of the day the 14-day notice
        // period ends on, i.e. local midnight fifteen days after the notice's date.
        let notice_day = business_day_from(wcl, month.day(1))?;
        let termination_notice_at = local_at(wcl, notice_day, 16, 0)?;
        let termination_effective_at = wcl
            .calendar()
            .start_of_local_day(notice_day + Duration::days(15));

        let default_notice_at = bat(ith, 2, 11, 0)?;
        let suspension_day = business_day_from(ith, month.day(8))?;
        let payment_day = business_day_from(ith, month.day(11))?;
        let suspension = Window {
            from: local_at(ith, suspension_day, 8, 30)?,
            to: local_at(ith, payment_day, 8, 20)?,
        };
        let indus_payment_at = local_at(ith, payment_day, 8, 5)?;

        let cold_snap_from = at(nw, 10, 0, 0)?;

        let scripted = vec![
            ScriptedCall {
                client: NORTHWIND,
                at: at(nw, 8, 3, 12)?,
                script: Script::LateUrgentEscalation,
            },
            ScriptedCall {
                client: ACME,
                at: bat(acme, 13, 11, 2)?,
                script: Script::UnreachableThenNextTier,
            },
            ScriptedCall {
                client: NORTHWIND,
                at: at(nw, 16, 22, 40)?,
                script: Script::UnreachableDownTheChain,
            },
            ScriptedCall {
                client: NORTHWIND,
                at: bat(nw, 8, 13, 20)?,
                script: Script::ConductBreach,
            },
            ScriptedCall {
                client: THAMES,
                at: at(tlp, 5, 19, 40)?,
                script: Script::LateQualityIssue,
            },
            ScriptedCall {
                client: ACME,
                at: bat(acme, 14, 9, 47)?,
                script: Script::ClientRequestedReview,
            },
            ScriptedCall {
                client: WHITFIELD,
                at: bat(wcl, 9, 10, 15)?,
                script: Script::LegalHoldCall,
            },
            ScriptedCall {
                client: THAMES,
                at: at(tlp, 15, 14, 20)?,
                script: Script::MissingDocumentationField,
            },
            ScriptedCall {
                client: ACME,
                at: bat(acme, 22, 10, 30)?,
                script: Script::LateDocumentationDelivery,
            },
            ScriptedCall {
                client: NORTHWIND,
                at: at(nw, 27, 15, 5)?,
                script: Script::LongWaitAnswered,
            },
            ScriptedCall {
                client: NORTHWIND,
                at: at(nw, 24, 10, 12)?,
                script: Script::LongWaitAbandoned,
            },
            ScriptedCall {
                client: THAMES,
                at: outage.from + Duration::minutes(25),
                script: Script::OutageVoicemail,
            },
        ];

        Ok(Self {
            outage,
            credentials,
            coverage_gap,
            termination_notice_at,
            termination_effective_at,
            default_notice_at,
            suspension,
            indus_payment_at,
            cold_snap_from,
            scripted,
        })
    }

    /// Periods in which a client receives no calls and staffs no shifts.
    pub(crate) fn blackouts(&self, client: usize) -> Vec<Window> {
        match client {
            WHITFIELD => vec![Window {
                from: self.termination_effective_at,
                to: DateTime::<Utc>::MAX_UTC,
            }],
            INDUS => vec![self.suspension],
            _ => Vec::new(),
        }
    }

    /// Whether a client's traffic is degraded by the outage at an instant.
    pub(crate) fn in_outage(&self, client: usize, at: DateTime<Utc>) -> bool {
        matches!(client, NORTHWIND | THAMES) && self.outage.contains(at)
    }
}
