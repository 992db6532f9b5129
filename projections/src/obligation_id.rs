//! The printed id of an obligation, `RULE:SUBJECT` (`R-ESC-1:hc-0001`), and its parsing back
//! into what `explain` and `timeline` must look up.
//!
//! Reports print this id beside every obligation so a reader can paste it into `explain` or
//! `timeline` unchanged. The subject part names a record by its own id where the obligation is
//! about one (a call, escalation, invoice, review, quality issue, breach or account issue, as
//! the streams `call-…`, `escalation-…` hold them), and otherwise names the client and what of
//! it the obligation is about:
//!
//! - a client-local month: `acme-dental/2026-10`;
//! - a calendar quarter: `acme-dental/2026-Q4`;
//! - an interval of time (R-COV-1's coverage, or the client as a whole over the period
//!   reported): `acme-dental/2026-10-11T12:20:00Z/2026-10-11T12:58:00Z`;
//! - a fact of the client's own stream, by kind and the position of the event that opened it:
//!   `indus-telehealth/suspension@2547`.
//!
//! R-ESC-2 is judged per unreachable tier, so its escalation carries the tier:
//! `R-ESC-2:u-1/tier-1`. Ids never contain `/` or `@` (`domain::ids`), so these separators
//! cannot be confused with an id's own characters.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use opsledger_domain::ids::ClientId;
use opsledger_domain::rules::RuleId;

use crate::obligations::Subject;
use crate::position::{EventRef, Period, YearMonth};

/// The kinds of client fact an obligation can be about, as the printed id names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactKind {
    /// A suspension of service (R-BIL-3).
    Suspension,
    /// A price change notice (R-BIL-4).
    PriceChange,
    /// A termination notice (R-TRM-1).
    TerminationNotice,
    /// An immediate termination (R-TRM-2).
    ImmediateTermination,
    /// The termination taking effect (R-RET-2, R-RET-3, R-BIL-6).
    Termination,
    /// A deletion of client data (R-RET-1).
    Deletion,
    /// An SOP amendment as it applies to the client (R-AMD-1).
    SopAmendment,
}

impl FactKind {
    const ALL: [FactKind; 7] = [
        FactKind::Suspension,
        FactKind::PriceChange,
        FactKind::TerminationNotice,
        FactKind::ImmediateTermination,
        FactKind::Termination,
        FactKind::Deletion,
        FactKind::SopAmendment,
    ];

    /// The word the printed id uses.
    pub fn word(self) -> &'static str {
        match self {
            FactKind::Suspension => "suspension",
            FactKind::PriceChange => "price-change",
            FactKind::TerminationNotice => "termination-notice",
            FactKind::ImmediateTermination => "immediate-termination",
            FactKind::Termination => "termination",
            FactKind::Deletion => "deletion",
            FactKind::SopAmendment => "sop-amendment",
        }
    }

    fn of_subject(subject: &Subject) -> Option<Self> {
        Some(match subject {
            Subject::Suspension => FactKind::Suspension,
            Subject::PriceChange => FactKind::PriceChange,
            Subject::TerminationNotice => FactKind::TerminationNotice,
            Subject::ImmediateTermination => FactKind::ImmediateTermination,
            Subject::Termination => FactKind::Termination,
            Subject::Deletion => FactKind::Deletion,
            Subject::SopAmendment { .. } => FactKind::SopAmendment,
            _ => return None,
        })
    }
}

/// What of a client an obligation not about one record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientScope {
    /// A client-local month.
    Month(YearMonth),
    /// A calendar quarter.
    Quarter {
        /// Year.
        year: i32,
        /// Quarter, 1–4.
        quarter: u32,
    },
    /// An interval of time `[from, to)`.
    Interval(Period),
    /// A fact of the client, by the position of the event that opened the obligation.
    Fact {
        /// Which kind of fact.
        kind: FactKind,
        /// The position of its event.
        position: u64,
    },
}

/// The subject part of a printed id, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubjectRef {
    /// A record by its own id (a call, escalation, invoice, …), with R-ESC-2's tier if given.
    Record {
        /// The id as printed (with or without its stream prefix).
        id: String,
        /// The unreachable tier, for R-ESC-2.
        tier: Option<u32>,
    },
    /// Something of a client that is not one record.
    Client {
        /// The client.
        client_id: String,
        /// What of it.
        scope: ClientScope,
    },
}

/// A printed obligation id, or a printed subject alone, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintedId {
    /// The rule, when the id names one obligation (`RULE:SUBJECT`).
    pub rule: Option<RuleId>,
    /// The subject.
    pub subject: SubjectRef,
}

fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The subject part of the id of an obligation of `client` about `subject`, reported over
/// `period`, whose evidence is `evidence` (the opening event first).
pub fn subject_part(
    client: &ClientId,
    subject: &Subject,
    period: &Period,
    evidence: &[EventRef],
) -> String {
    match subject {
        Subject::Call { call_id } => call_id.to_string(),
        Subject::Escalation {
            escalation_id,
            tier: Some(tier),
        } => format!("{escalation_id}/tier-{tier}"),
        Subject::Escalation { escalation_id, .. } => escalation_id.to_string(),
        Subject::Review { review_id } => review_id.to_string(),
        Subject::QualityIssue { issue_id } => issue_id.to_string(),
        Subject::Breach { breach_id } => breach_id.to_string(),
        Subject::AccountIssue { issue_id } => issue_id.to_string(),
        Subject::Invoice { invoice_id } => invoice_id.to_string(),
        Subject::Month { month } => format!("{client}/{month}"),
        Subject::Quarter { year, quarter } => format!("{client}/{year}-Q{quarter}"),
        Subject::Coverage { from, to, .. } => {
            format!("{client}/{}/{}", instant(*from), instant(*to))
        }
        Subject::Client => format!("{client}/{}/{}", instant(period.from), instant(period.to)),
        other => {
            let kind = FactKind::of_subject(other)
                .map_or("fact", FactKind::word)
                .to_owned();
            // Every obligation about a client fact cites the fact's event first; one without
            // it is a bug in the obligation's construction.
            let opening = evidence.first();
            assert!(
                opening.is_some(),
                "an obligation about a {kind} cites no event"
            );
            format!("{client}/{kind}@{}", opening.map_or(0, |e| e.position))
        }
    }
}

/// The printed id of an obligation: `RULE:SUBJECT`.
pub fn obligation_id(
    rule: RuleId,
    client: &ClientId,
    subject: &Subject,
    period: &Period,
    evidence: &[EventRef],
) -> String {
    format!("{rule}:{}", subject_part(client, subject, period, evidence))
}

/// Why a printed id could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadId(pub String);

impl fmt::Display for BadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn parse_scope(scope: &str) -> Result<ClientScope, BadId> {
    if let Some((kind, position)) = scope.split_once('@') {
        let kind = FactKind::ALL
            .into_iter()
            .find(|k| k.word() == kind)
            .ok_or_else(|| {
                BadId(format!(
                    "{kind:?} is no kind of client fact; kinds: {}",
                    FactKind::ALL.map(FactKind::word).join(", ")
                ))
            })?;
        let position = position
            .parse()
            .map_err(|_| BadId(format!("{position:?} is not a log position")))?;
        return Ok(ClientScope::Fact { kind, position });
    }
    if let Some((from, to)) = scope.split_once('/') {
        let at = |s: &str| {
            s.parse::<DateTime<Utc>>()
                .map_err(|_| BadId(format!("{s:?} is not an RFC 3339 instant")))
        };
        return Ok(ClientScope::Interval(Period {
            from: at(from)?,
            to: at(to)?,
        }));
    }
    if let Some((year, quarter)) = scope.split_once("-Q") {
        let year = year
            .parse()
            .map_err(|_| BadId(format!("{scope:?} is not a quarter such as 2026-Q4")))?;
        let quarter = quarter
            .parse()
            .ok()
            .filter(|q| (1..=4).contains(q))
            .ok_or_else(|| BadId(format!("{scope:?} is not a quarter such as 2026-Q4")))?;
        return Ok(ClientScope::Quarter { year, quarter });
    }
    scope
        .parse::<YearMonth>()
        .map(ClientScope::Month)
        .map_err(|_| {
            BadId(format!(
                "{scope:?} is not a month (2026-10), a quarter (2026-Q4), an interval \
             (FROM/TO in RFC 3339) or a client fact (suspension@POSITION)"
            ))
        })
}

/// Reads an id as reports print it: `RULE:SUBJECT` or a subject alone. A subject without `/`
/// is a record's id; `ID/tier-N` is an escalation's tier; anything else with `/` is
/// `CLIENT/SCOPE`.
pub fn parse(raw: &str) -> Result<PrintedId, BadId> {
    let raw = raw.trim();
    let (rule, rest) = match raw.split_once(':') {
        Some((rule, rest)) => match rule.parse::<RuleId>() {
            Ok(rule) => (Some(rule), rest),
            Err(_) => (None, raw),
        },
        None => (None, raw),
    };
    let subject = match rest.split_once('/') {
        None => SubjectRef::Record {
            id: rest.to_owned(),
            tier: None,
        },
        Some((id, tier)) if tier.starts_with("tier-") => SubjectRef::Record {
            id: id.to_owned(),
            tier: Some(
                tier["tier-".len()..]
                    .parse()
                    .map_err(|_| BadId(format!("{tier:?} is not a tier such as tier-2")))?,
            ),
        },
        Some((client, scope)) => SubjectRef::Client {
            client_id: client.to_owned(),
            scope: parse_scope(scope)?,
        },
    };
    Ok(PrintedId { rule, subject })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use opsledger_domain::ids::{CallId, EscalationId, SopAmendmentId};
    use uuid::Uuid;

    fn client() -> ClientId {
        ClientId::new("acme").unwrap()
    }

    fn period() -> Period {
        Period {
            from: Utc.with_ymd_and_hms(2026, 10, 1, 4, 0, 0).unwrap(),
            to: Utc.with_ymd_and_hms(2026, 11, 1, 4, 0, 0).unwrap(),
        }
    }

    fn event(position: u64) -> EventRef {
        let at = Utc.with_ymd_and_hms(2026, 10, 8, 3, 30, 0).unwrap();
        EventRef {
            position,
            event_id: Uuid::nil(),
            recorded_at: at,
            occurred_at: at,
        }
    }

    /// Every printed form parses back into the subject it was printed from.
    #[test]
    fn every_printed_form_reads_back() {
        let p = period();
        let cases: Vec<(RuleId, Subject, &str, SubjectRef)> = vec![
            (
                RuleId::Esc1,
                Subject::Call {
                    call_id: CallId::new("lab:1658129428.1048").unwrap(),
                },
                "R-ESC-1:lab:1658129428.1048",
                SubjectRef::Record {
                    id: "lab:1658129428.1048".to_owned(),
                    tier: None,
                },
            ),
            (
                RuleId::Esc2,
                Subject::Escalation {
                    escalation_id: EscalationId::new("u-1").unwrap(),
                    tier: Some(2),
                },
                "R-ESC-2:u-1/tier-2",
                SubjectRef::Record {
                    id: "u-1".to_owned(),
                    tier: Some(2),
                },
            ),
            (
                RuleId::Qa1,
                Subject::Month {
                    month: YearMonth {
                        year: 2026,
                        month: 10,
                    },
                },
                "R-QA-1:acme/2026-10",
                SubjectRef::Client {
                    client_id: "acme".to_owned(),
                    scope: ClientScope::Month(YearMonth {
                        year: 2026,
                        month: 10,
                    }),
                },
            ),
            (
                RuleId::Rep3,
                Subject::Quarter {
                    year: 2026,
                    quarter: 4,
                },
                "R-REP-3:acme/2026-Q4",
                SubjectRef::Client {
                    client_id: "acme".to_owned(),
                    scope: ClientScope::Quarter {
                        year: 2026,
                        quarter: 4,
                    },
                },
            ),
            (
                RuleId::Cov1,
                Subject::Client,
                "R-COV-1:acme/2026-10-01T04:00:00Z/2026-11-01T04:00:00Z",
                SubjectRef::Client {
                    client_id: "acme".to_owned(),
                    scope: ClientScope::Interval(p),
                },
            ),
            (
                RuleId::Amd1,
                Subject::SopAmendment {
                    amendment_id: SopAmendmentId::new("sop-7").unwrap(),
                },
                "R-AMD-1:acme/sop-amendment@812",
                SubjectRef::Client {
                    client_id: "acme".to_owned(),
                    scope: ClientScope::Fact {
                        kind: FactKind::SopAmendment,
                        position: 812,
                    },
                },
            ),
        ];
        for (rule, subject, printed, parsed) in cases {
            let id = obligation_id(rule, &client(), &subject, &p, &[event(812)]);
            assert_eq!(id, printed);
            assert_eq!(
                parse(&id),
                Ok(PrintedId {
                    rule: Some(rule),
                    subject: parsed
                })
            );
        }
        let suspension = obligation_id(
            RuleId::Bil3,
            &client(),
            &Subject::Suspension,
            &p,
            &[event(2547), event(13)],
        );
        assert_eq!(suspension, "R-BIL-3:acme/suspension@2547");
    }

    #[test]
    fn a_bare_id_is_a_record_and_bad_scopes_say_what_is_accepted() {
        assert_eq!(
            parse("call-hc-0001"),
            Ok(PrintedId {
                rule: None,
                subject: SubjectRef::Record {
                    id: "call-hc-0001".to_owned(),
                    tier: None
                }
            })
        );
        assert!(parse("acme/2026-Q5").is_err());
        assert!(parse("acme/refund@3").unwrap_err().0.contains("suspension"));
        assert!(parse("acme/october").unwrap_err().0.contains("2026-Q4"));
        assert!(parse("u-1/tier-x").is_err());
    }
}
