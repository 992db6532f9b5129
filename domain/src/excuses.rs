//! Which rules an excused window's cause concerns: the one table of the catalog's "excused
//! windows excuse narrowly" reading.
//!
//! A window excuses only the rules its cause concerns [4, 8]. Force majeure [8] prevents every
//! performance; missing, expired or revoked client credentials [4 Software Access] prevent what
//! needs the client's systems (delivering documentation into them, and reaching escalation
//! contacts or delivering digests through them); an unnotified significant change in call volume
//! [4 Change Notification] bears on answer times and coverage only; awaiting the client's answer
//! to an agency communication [4 Timely Response] bears on the performances the communication
//! names as depending on the answer (the window carries them). Rules that are not
//! performances by the agency (billing, termination, retention, amendments) and rules without a
//! clock are never excused.

use crate::events::ExcuseCause;
use crate::rules::RuleId;

/// Whether a window of cause `cause` can excuse an obligation under `rule`.
pub fn cause_concerns(cause: ExcuseCause, rule: RuleId) -> bool {
    match cause {
        ExcuseCause::ForceMajeure => is_performance_rule(rule),
        ExcuseCause::MissingCredentials => matches!(
            rule,
            RuleId::Doc2 | RuleId::Esc1 | RuleId::Esc2 | RuleId::Esc3
        ),
        ExcuseCause::UnnotifiedVolumeChange => {
            matches!(rule, RuleId::Ans1 | RuleId::Ans2 | RuleId::Cov1)
        }
        // The window itself names the rules that depend on the answer (its communication's
        // `affects`); among them only performances can be excused.
        ExcuseCause::AwaitingClientResponse => is_performance_rule(rule),
    }
}

/// The cause as reports spell it (its serde name).
pub fn cause_label(cause: ExcuseCause) -> &'static str {
    match cause {
        ExcuseCause::ForceMajeure => "force_majeure",
        ExcuseCause::MissingCredentials => "missing_credentials",
        ExcuseCause::UnnotifiedVolumeChange => "unnotified_volume_change",
        ExcuseCause::AwaitingClientResponse => "awaiting_client_response",
    }
}

/// Whether a rule is an operational performance of the agency, which force majeure can prevent.
/// Payment, notice, termination and retention rules are the parties' legal acts, not
/// performances a disaster interrupts; force majeure [8] excuses "failure to perform".
pub fn is_performance_rule(rule: RuleId) -> bool {
    matches!(
        rule,
        RuleId::Ans1
            | RuleId::Ans2
            | RuleId::Doc1
            | RuleId::Doc2
            | RuleId::Esc1
            | RuleId::Esc2
            | RuleId::Esc3
            | RuleId::Qa1
            | RuleId::Qa2
            | RuleId::Qa3
            | RuleId::Qa4
            | RuleId::Qa5
            | RuleId::Cov1
            | RuleId::Com1
            | RuleId::Rep1
            | RuleId::Rep2
            | RuleId::Rep3
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_excuse_delivery_into_client_systems_not_answering_or_coaching() {
        assert!(cause_concerns(
            ExcuseCause::MissingCredentials,
            RuleId::Doc2
        ));
        assert!(!cause_concerns(
            ExcuseCause::MissingCredentials,
            RuleId::Ans1
        ));
        assert!(!cause_concerns(
            ExcuseCause::MissingCredentials,
            RuleId::Qa2
        ));
    }

    #[test]
    fn volume_changes_excuse_answer_time_and_coverage_only() {
        for rule in RuleId::ALL {
            let expected = matches!(rule, RuleId::Ans1 | RuleId::Ans2 | RuleId::Cov1);
            assert_eq!(
                cause_concerns(ExcuseCause::UnnotifiedVolumeChange, rule),
                expected,
                "{rule}"
            );
        }
    }

    #[test]
    fn force_majeure_excuses_performances_not_payment_or_notice() {
        assert!(cause_concerns(ExcuseCause::ForceMajeure, RuleId::Rep1));
        assert!(!cause_concerns(ExcuseCause::ForceMajeure, RuleId::Bil2));
        assert!(!cause_concerns(ExcuseCause::ForceMajeure, RuleId::Ret2));
    }
}
