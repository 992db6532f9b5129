//! The reading of "no data recorded" (issue 11): when each family of facts was first recorded for a
//! client, and the verdict of an obligation due before it.

use chrono::{DateTime, Utc};
use opsledger_domain::rules::RuleId;

use super::Ctx;
use crate::model::{ClientRecord, ReadModel};
use crate::position::{AsOf, EventRef};
use crate::verdict::{stamp, DataFamily, Verdict};

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
    pub(super) fn of(model: &ReadModel, client: &ClientRecord, as_of: &AsOf) -> DataStarts {
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
    pub(super) fn from(&self, family: DataFamily) -> Option<DateTime<Utc>> {
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
pub(super) fn no_data(family: DataFamily, by: DateTime<Utc>) -> Verdict {
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
    pub(super) fn unless_no_data(
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
