//! The demo's five client accounts: their Service Agreements, call mix, staffing and billing.
//!
//! The accounts are chosen to cover the catalog's axes: every tier, every account kind, US, UK
//! and Pakistani jurisdictions, 24/7 and scheduled coverage, voicemail on and off, USD, GBP
//! and PKR. Agreements do not depend on the seed, so two demo months of different seeds onboard
//! the same accounts; everything that happens to them does.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use opsledger_domain::agreement::{
    AccountKind, Coverage, EscalationContact, Jurisdiction, Rate, ServiceAgreement, Tier,
};
use opsledger_domain::calendar::BusinessCalendar;
use opsledger_domain::events::CallOutcome;
use opsledger_domain::ids::{AgentId, ClientId};
use opsledger_domain::money::{Currency, Money};

use super::holidays::{holidays, HolidayRegion};
use super::DemoError;

/// Index of Acme Family Dental (Professional, medical, US, scheduled hours).
pub(crate) const ACME: usize = 0;
/// Index of Northwind Heating & Cooling (Enterprise, general, US, 24/7).
pub(crate) const NORTHWIND: usize = 1;
/// Index of Thames Lettings & Property (Professional, general, UK, 24/7, GBP).
pub(crate) const THAMES: usize = 2;
/// Index of Whitfield & Cole LLP (Essential, legal, US, scheduled hours; terminates).
pub(crate) const WHITFIELD: usize = 3;
/// Index of Indus Telehealth (Essential, medical, Pakistan, Mon–Sat, PKR; pays late).
pub(crate) const INDUS: usize = 4;

/// One category of call a client's callers make, with how often it occurs and what it leads to.
#[derive(Debug, Clone)]
pub(crate) struct Nature {
    /// The category, as listed for the client (urgent ones match the agreement's list).
    pub name: &'static str,
    /// Relative frequency among the client's calls.
    pub weight: u32,
    /// What such a call results in.
    pub outcome: CallOutcome,
}

/// How a client's accounts are staffed.
#[derive(Debug, Clone)]
pub(crate) enum Team {
    /// Three eight-hour slots a day (from local 00:00, 08:00, 16:00), two agents each, drawn
    /// from a pool of three per slot so everyone gets days off; plus a relief agent.
    RoundTheClock {
        /// Agent pools of the night, day and evening slots (boxed: the variant is large).
        slots: Box<[[AgentId; 3]; 3]>,
        /// Who covers when someone leaves mid-shift.
        relief: AgentId,
    },
    /// Agents on duty from just before opening to just after closing on business days.
    Daytime {
        /// The pool.
        pool: Vec<AgentId>,
        /// How many of the pool work each business day.
        per_day: usize,
    },
}

/// How a client's callers' phone numbers look (all from ranges reserved for fiction).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PhoneStyle {
    /// North American 555-01xx numbers.
    NorthAmerica,
    /// UK 07700 900xxx drama numbers.
    Uk,
    /// Pakistani mobile numbers in an unassigned block.
    Pakistan,
}

/// Everything the generator knows about one client.
#[derive(Debug, Clone)]
pub(crate) struct ClientProfile {
    /// Client id (stable across seeds).
    pub id: ClientId,
    /// Short code used inside generated ids.
    pub code: &'static str,
    /// Display name.
    pub name: &'static str,
    /// The agreement signed at onboarding.
    pub agreement: ServiceAgreement,
    /// When the agreement was signed.
    pub onboarded_at: DateTime<Utc>,
    /// Call volume relative to the scale's calls per client per day.
    pub volume_weight: f64,
    /// Volume on covered days that are not business days, relative to a business day.
    pub off_day_factor: f64,
    /// The call mix.
    pub natures: Vec<Nature>,
    /// Median talk time, in seconds.
    pub talk_median_secs: f64,
    /// Caller numbers.
    pub phone_style: PhoneStyle,
    /// Staffing.
    pub team: Team,
    /// Target share of answered calls the QA team reviews.
    pub qa_share: f64,
    /// Where call documentation is delivered.
    pub documentation_channel: &'static str,
    /// Where non-urgent digests are delivered.
    pub digest_channel: &'static str,
    /// Monthly base fee.
    pub monthly_base: Money,
    /// Fee per answered call.
    pub per_call: Money,
}

impl ClientProfile {
    /// The client's business calendar.
    pub(crate) fn calendar(&self) -> &BusinessCalendar {
        &self.agreement.calendar
    }

    /// Whether the account is staffed around the clock.
    pub(crate) fn is_24_7(&self) -> bool {
        self.agreement.coverage == Coverage::TwentyFourSeven
    }
}

fn time(hour: u32, minute: u32) -> Result<NaiveTime, DemoError> {
    NaiveTime::from_hms_opt(hour, minute, 0).ok_or(DemoError::Internal("invalid constant time"))
}

fn zone(name: &str) -> Result<Tz, DemoError> {
    name.parse::<Tz>()
        .map_err(|_| DemoError::Internal("unknown IANA zone in the demo clients"))
}

fn contact(tier: u32, contact_ref: &str, name: &str, phone: &str) -> EscalationContact {
    EscalationContact {
        tier,
        contact_ref: contact_ref.to_owned(),
        name: Some(name.to_owned()),
        contact: Some(phone.to_owned()),
    }
}

fn agents(code: &str, count: u32) -> Result<Vec<AgentId>, DemoError> {
    (1..=count)
        .map(|n| AgentId::new(format!("agt-{code}-{n:02}")).map_err(DemoError::from))
        .collect()
}

fn natures(list: &[(&'static str, u32, CallOutcome)]) -> Vec<Nature> {
    list.iter()
        .map(|(name, weight, outcome)| Nature {
            name,
            weight: *weight,
            outcome: *outcome,
        })
        .collect()
}

fn rates(base: Money, per_call: Money) -> Vec<Rate> {
    vec![
        Rate {
            item: "monthly_base".to_owned(),
            unit_price: base,
        },
        Rate {
            item: "per_call".to_owned(),
            unit_price: per_call,
        },
    ]
}

/// The holidays of the years around the demo month, so deadlines that spill into the next
/// year (a December month's reports) still see them.
fn holiday_set(region: HolidayRegion, month_start: NaiveDate) -> BTreeSet<NaiveDate> {
    let year = month_start.year();
    (year - 1..=year + 1)
        .flat_map(|y| holidays(region, y))
        .collect()
}

/// A go-live date `months` before the demo month, on the third of that month.
fn go_live(month_start: NaiveDate, months: u32) -> Result<NaiveDate, DemoError> {
    month_start
        .checked_sub_months(Months::new(months))
        .and_then(|d| d.with_day(3))
        .ok_or(DemoError::Internal("go-live date out of range"))
}

/// Signed two weeks before go-live, mid-afternoon local time.
fn signed_before(
    calendar: &BusinessCalendar,
    go_live: NaiveDate,
) -> Result<DateTime<Utc>, DemoError> {
    let day = go_live - Duration::days(14);
    Ok(calendar.to_utc(day.and_time(time(15, 0)?)))
}

/// The five demo clients, in index order (see [`ACME`] and the others).
pub(crate) fn demo_clients(month_start: NaiveDate) -> Result<Vec<ClientProfile>, DemoError> {
    use CallOutcome::{Action, Booking, Inquiry, NoAction};
    let usd = |minor: i64| Money::new(minor, Currency::USD);
    let gbp = |minor: i64| Money::new(minor, Currency::GBP);
    let pkr = |minor: i64| Money::new(minor, Currency::PKR);
    let weekdays = vec![
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
    ];
    let mut clients = Vec::with_capacity(5);

    // Acme Family Dental: a dental practice answered during office hours only.
    {
        let calendar = BusinessCalendar {
            time_zone: zone("America/New_York")?,
            business_days: weekdays.clone(),
            opens_at: time(8, 0)?,
            closes_at: time(18, 0)?,
            holidays: holiday_set(HolidayRegion::UnitedStates, month_start),
        };
        let go_live_date = go_live(month_start, 19)?;
        let onboarded_at = signed_before(&calendar, go_live_date)?;
        let (base, per_call) = (usd(145_000), usd(110));
        let agreement = ServiceAgreement {
            client_name: Some("Acme Family Dental".to_owned()),
            tier: Tier::Professional,
            account_kind: AccountKind::Medical,
            jurisdiction: Jurisdiction::Us,
            calendar,
            coverage: Coverage::BusinessHours,
            voicemail_enabled: true,
            urgent_call_natures: vec![
                "dental emergency".to_owned(),
                "post-op complication".to_owned(),
            ],
            escalation_chain: vec![
                contact(
                    1,
                    "dentist-on-call",
                    "Dr. Maya Lindqvist",
                    "+1 212 555 0143",
                ),
                contact(2, "practice-manager", "Rosa Delgado", "+1 212 555 0178"),
            ],
            documentation_delivery_mins: Some(60),
            non_urgent_digest_interval_mins: Some(240),
            next_contact_after_unreachable_mins: None,
            notice_period_days: None,
            payment_terms_days: None,
            retention_after_termination_days: None,
            additional_languages: vec!["es".to_owned()],
            affiliation_disclosure_authorized: false,
            rates: rates(base, per_call),
            currency: Currency::USD,
            go_live_date,
            rule_overrides: vec![],
        };
        clients.push(ClientProfile {
            id: ClientId::new("acme-dental")?,
            code: "acme",
            name: "Acme Family Dental",
            agreement,
            onboarded_at,
            volume_weight: 1.0,
            off_day_factor: 0.0,
            natures: natures(&[
                ("appointment booking", 30, Booking),
                ("appointment change", 18, Booking),
                ("billing question", 12, Inquiry),
                ("insurance question", 10, Inquiry),
                ("prescription refill", 8, Action),
                ("general inquiry", 8, Inquiry),
                ("dental emergency", 3, Action),
                ("post-op complication", 1, Action),
                ("wrong number", 6, NoAction),
            ]),
            talk_median_secs: 170.0,
            phone_style: PhoneStyle::NorthAmerica,
            team: Team::Daytime {
                pool: agents("acme", 3)?,
                per_day: 2,
            },
            qa_share: 0.115,
            documentation_channel: "dentrix-ehr",
            digest_channel: "email",
            monthly_base: base,
            per_call,
        });
    }

    // Northwind Heating & Cooling: HVAC dispatch around the clock, the largest account.
    {
        let calendar = BusinessCalendar {
            time_zone: zone("America/Los_Angeles")?,
            business_days: weekdays.clone(),
            opens_at: time(7, 0)?,
            closes_at: time(17, 0)?,
            holidays: holiday_set(HolidayRegion::UnitedStates, month_start),
        };
        let go_live_date = go_live(month_start, 28)?;
        let onboarded_at = signed_before(&calendar, go_live_date)?;
        let (base, per_call) = (usd(480_000), usd(95));
        let team = agents("nw", 10)?;
        let agreement = ServiceAgreement {
            client_name: Some("Northwind Heating & Cooling".to_owned()),
            tier: Tier::Enterprise,
            account_kind: AccountKind::General,
            jurisdiction: Jurisdiction::Us,
            calendar,
            coverage: Coverage::TwentyFourSeven,
            voicemail_enabled: false,
            urgent_call_natures: vec![
                "no heat".to_owned(),
                "water leak".to_owned(),
                "gas smell".to_owned(),
                "carbon monoxide alarm".to_owned(),
            ],
            escalation_chain: vec![
                contact(1, "dispatch-lead", "Tom Okafor", "+1 323 555 0111"),
                contact(2, "on-call-tech", "Lena Park", "+1 323 555 0122"),
                contact(3, "ops-manager", "Greg Hollis", "+1 323 555 0133"),
            ],
            documentation_delivery_mins: Some(30),
            non_urgent_digest_interval_mins: Some(120),
            next_contact_after_unreachable_mins: Some(5),
            notice_period_days: Some(60),
            payment_terms_days: Some(30),
            retention_after_termination_days: Some(60),
            additional_languages: vec!["es".to_owned()],
            affiliation_disclosure_authorized: false,
            rates: rates(base, per_call),
            currency: Currency::USD,
            go_live_date,
            rule_overrides: vec![],
        };
        let slot =
            |a: usize, b: usize, c: usize| [team[a].clone(), team[b].clone(), team[c].clone()];
        clients.push(ClientProfile {
            id: ClientId::new("northwind-hvac")?,
            code: "nw",
            name: "Northwind Heating & Cooling",
            agreement,
            onboarded_at,
            volume_weight: 1.5,
            off_day_factor: 0.6,
            natures: natures(&[
                ("service booking", 28, Booking),
                ("maintenance plan", 10, Inquiry),
                ("quote request", 12, Inquiry),
                ("technician eta", 14, Inquiry),
                ("billing question", 8, Inquiry),
                ("no cooling", 6, Action),
                ("no heat", 4, Action),
                ("water leak", 2, Action),
                ("gas smell", 1, Action),
                ("carbon monoxide alarm", 1, Action),
                ("wrong number", 6, NoAction),
            ]),
            talk_median_secs: 150.0,
            phone_style: PhoneStyle::NorthAmerica,
            team: Team::RoundTheClock {
                slots: Box::new([slot(0, 1, 2), slot(3, 4, 5), slot(6, 7, 8)]),
                relief: team[9].clone(),
            },
            qa_share: 0.11,
            documentation_channel: "servicetitan",
            digest_channel: "slack",
            monthly_base: base,
            per_call,
        });
    }

    // Thames Lettings & Property: a London letting agent's tenants, around the clock, in GBP.
    {
        let calendar = BusinessCalendar {
            time_zone: zone("Europe/London")?,
            business_days: weekdays.clone(),
            opens_at: time(9, 0)?,
            closes_at: time(17, 30)?,
            holidays: holiday_set(HolidayRegion::EnglandAndWales, month_start),
        };
        let go_live_date = go_live(month_start, 9)?;
        let onboarded_at = signed_before(&calendar, go_live_date)?;
        let (base, per_call) = (gbp(215_000), gbp(80));
        let team = agents("tlp", 10)?;
        let agreement = ServiceAgreement {
            client_name: Some("Thames Lettings & Property".to_owned()),
            tier: Tier::Professional,
            account_kind: AccountKind::General,
            jurisdiction: Jurisdiction::Uk,
            calendar,
            coverage: Coverage::TwentyFourSeven,
            voicemail_enabled: true,
            urgent_call_natures: vec![
                "boiler failure".to_owned(),
                "flood".to_owned(),
                "lockout".to_owned(),
            ],
            escalation_chain: vec![
                contact(1, "duty-manager", "Priya Shah", "+44 7700 900141"),
                contact(2, "director", "Oliver Grant", "+44 7700 900262"),
            ],
            documentation_delivery_mins: Some(120),
            non_urgent_digest_interval_mins: Some(1_440),
            next_contact_after_unreachable_mins: None,
            notice_period_days: None,
            payment_terms_days: None,
            retention_after_termination_days: None,
            additional_languages: vec![],
            affiliation_disclosure_authorized: false,
            rates: rates(base, per_call),
            currency: Currency::GBP,
            go_live_date,
            rule_overrides: vec![],
        };
        let slot =
            |a: usize, b: usize, c: usize| [team[a].clone(), team[b].clone(), team[c].clone()];
        clients.push(ClientProfile {
            id: ClientId::new("thames-property")?,
            code: "tlp",
            name: "Thames Lettings & Property",
            agreement,
            onboarded_at,
            volume_weight: 1.1,
            off_day_factor: 0.5,
            natures: natures(&[
                ("repair request", 25, Action),
                ("viewing booking", 18, Booking),
                ("rent query", 12, Inquiry),
                ("tenancy inquiry", 12, Inquiry),
                ("contractor access", 8, Action),
                ("boiler failure", 3, Action),
                ("flood", 1, Action),
                ("lockout", 2, Action),
                ("wrong number", 6, NoAction),
            ]),
            talk_median_secs: 140.0,
            phone_style: PhoneStyle::Uk,
            team: Team::RoundTheClock {
                slots: Box::new([slot(0, 1, 2), slot(3, 4, 5), slot(6, 7, 8)]),
                relief: team[9].clone(),
            },
            qa_share: 0.12,
            documentation_channel: "reapit-crm",
            digest_channel: "email",
            monthly_base: base,
            per_call,
        });
    }

    // Whitfield & Cole LLP: legal intake in business hours; gives notice this month.
    {
        let calendar = BusinessCalendar {
            time_zone: zone("America/Chicago")?,
            business_days: weekdays.clone(),
            opens_at: time(8, 30)?,
            closes_at: time(17, 0)?,
            holidays: holiday_set(HolidayRegion::UnitedStates, month_start),
        };
        let go_live_date = go_live(month_start, 14)?;
        let onboarded_at = signed_before(&calendar, go_live_date)?;
        let (base, per_call) = (usd(65_000), usd(150));
        let agreement = ServiceAgreement {
            client_name: Some("Whitfield & Cole LLP".to_owned()),
            tier: Tier::Essential,
            account_kind: AccountKind::Legal,
            jurisdiction: Jurisdiction::Us,
            calendar,
            coverage: Coverage::BusinessHours,
            voicemail_enabled: true,
            urgent_call_natures: vec!["arrest".to_owned(), "court deadline".to_owned()],
            escalation_chain: vec![
                contact(1, "attorney-on-duty", "Daniel Whitfield", "+1 312 555 0164"),
                contact(2, "managing-partner", "Harriet Cole", "+1 312 555 0187"),
            ],
            documentation_delivery_mins: Some(240),
            non_urgent_digest_interval_mins: Some(1_440),
            next_contact_after_unreachable_mins: None,
            notice_period_days: Some(14),
            payment_terms_days: None,
            retention_after_termination_days: None,
            additional_languages: vec![],
            affiliation_disclosure_authorized: false,
            rates: rates(base, per_call),
            currency: Currency::USD,
            go_live_date,
            rule_overrides: vec![],
        };
        clients.push(ClientProfile {
            id: ClientId::new("whitfield-legal")?,
            code: "wcl",
            name: "Whitfield & Cole LLP",
            agreement,
            onboarded_at,
            volume_weight: 0.6,
            off_day_factor: 0.0,
            natures: natures(&[
                ("new matter intake", 30, Action),
                ("consultation booking", 22, Booking),
                ("case status", 18, Inquiry),
                ("document drop-off", 8, Action),
                ("billing question", 6, Inquiry),
                ("arrest", 2, Action),
                ("court deadline", 2, Action),
                ("vendor solicitation", 6, NoAction),
            ]),
            talk_median_secs: 280.0,
            phone_style: PhoneStyle::NorthAmerica,
            team: Team::Daytime {
                pool: agents("wcl", 2)?,
                per_day: 1,
            },
            // Privileged intake calls were under-sampled this month: the R-QA-1 miss.
            qa_share: 0.07,
            documentation_channel: "clio",
            digest_channel: "email",
            monthly_base: base,
            per_call,
        });
    }

    // Indus Telehealth: a Karachi telehealth provider, Monday to Saturday, in PKR and Urdu.
    {
        let calendar = BusinessCalendar {
            time_zone: zone("Asia/Karachi")?,
            business_days: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
                Weekday::Sat,
            ],
            opens_at: time(9, 0)?,
            closes_at: time(21, 0)?,
            holidays: holiday_set(HolidayRegion::Pakistan, month_start),
        };
        let go_live_date = go_live(month_start, 5)?;
        let onboarded_at = signed_before(&calendar, go_live_date)?;
        let (base, per_call) = (pkr(18_000_000), pkr(4_500));
        let agreement = ServiceAgreement {
            client_name: Some("Indus Telehealth".to_owned()),
            tier: Tier::Essential,
            account_kind: AccountKind::Medical,
            jurisdiction: Jurisdiction::Other("PK".to_owned()),
            calendar,
            coverage: Coverage::BusinessHours,
            voicemail_enabled: false,
            urgent_call_natures: vec!["chest pain".to_owned(), "breathing difficulty".to_owned()],
            escalation_chain: vec![
                contact(1, "duty-physician", "Dr. Sana Qureshi", "+92 300 5550101"),
                contact(2, "clinical-lead", "Dr. Imran Baig", "+92 300 5550102"),
                contact(3, "medical-director", "Dr. Farah Aziz", "+92 300 5550103"),
            ],
            documentation_delivery_mins: Some(60),
            non_urgent_digest_interval_mins: Some(480),
            next_contact_after_unreachable_mins: None,
            notice_period_days: None,
            payment_terms_days: None,
            retention_after_termination_days: None,
            additional_languages: vec!["ur".to_owned()],
            affiliation_disclosure_authorized: true,
            rates: rates(base, per_call),
            currency: Currency::PKR,
            go_live_date,
            rule_overrides: vec![],
        };
        clients.push(ClientProfile {
            id: ClientId::new("indus-telehealth")?,
            code: "ith",
            name: "Indus Telehealth",
            agreement,
            onboarded_at,
            volume_weight: 0.9,
            off_day_factor: 0.0,
            natures: natures(&[
                ("consultation booking", 30, Booking),
                ("prescription renewal", 15, Action),
                ("lab results", 12, Inquiry),
                ("follow-up", 14, Booking),
                ("billing question", 8, Inquiry),
                ("chest pain", 2, Action),
                ("breathing difficulty", 2, Action),
                ("wrong number", 5, NoAction),
            ]),
            talk_median_secs: 190.0,
            phone_style: PhoneStyle::Pakistan,
            team: Team::Daytime {
                pool: agents("ith", 3)?,
                per_day: 2,
            },
            qa_share: 0.115,
            documentation_channel: "emr-portal",
            digest_channel: "whatsapp",
            monthly_base: base,
            per_call,
        });
    }

    Ok(clients)
}
