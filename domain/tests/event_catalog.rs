//! The event catalog as a permanent format: every type name, schema version, stream category and
//! personal field this build writes, pinned.
//!
//! Events are never rewritten, so a renamed type, a changed category or a moved personal field
//! would strand every event already recorded under the old one. The table below is the catalog
//! as it stood before the event types were cut into one module per business area (issue 10);
//! a change to it must be deliberate: a new type appended, or a schema version raised together
//! with its upcaster.

use opsledger_domain::events::EVENT_TYPES;

/// (type name, schema version, stream category, personal fields), in the order of `DomainEvent`.
type Entry = (&'static str, u32, &'static str, &'static [&'static str]);

const CATALOG: &[Entry] = &[
    (
        "client.onboarded",
        1,
        "client",
        &[
            "/agreement/escalation_chain/*/name",
            "/agreement/escalation_chain/*/contact",
        ],
    ),
    (
        "client.agreement_amended",
        1,
        "client",
        &[
            "/agreement/escalation_chain/*/name",
            "/agreement/escalation_chain/*/contact",
        ],
    ),
    ("client.credentials_provided", 1, "client", &[]),
    ("client.credentials_expired", 1, "client", &[]),
    ("client.credentials_revoked", 1, "client", &[]),
    ("client.credentials_restored", 1, "client", &[]),
    (
        "client.significant_change_notified",
        1,
        "client",
        &["/details"],
    ),
    ("client.communication_sent", 1, "client", &["/subject"]),
    ("client.communication_answered", 1, "client", &[]),
    ("call.connected", 1, "call", &["/caller_number"]),
    ("call.answered", 1, "call", &[]),
    ("call.routed_to_voicemail", 1, "call", &[]),
    ("call.abandoned", 1, "call", &[]),
    ("call.completed", 1, "call", &[]),
    ("call.classified", 1, "call", &[]),
    (
        "call.documented",
        1,
        "call",
        &[
            "/caller_name",
            "/caller_contact",
            "/nature_of_call",
            "/action_taken",
        ],
    ),
    ("call.documentation_delivered", 1, "call", &[]),
    ("escalation.opened", 1, "escalation", &["/summary"]),
    ("escalation.contact_attempted", 1, "escalation", &[]),
    ("escalation.contact_unreachable", 1, "escalation", &[]),
    ("escalation.acknowledged", 1, "escalation", &[]),
    ("escalation.digest_delivered", 1, "digest", &[]),
    ("quality.call_selected_for_review", 1, "review", &[]),
    ("quality.client_review_requested", 1, "review", &[]),
    ("quality.review_completed", 1, "review", &["/notes"]),
    ("quality.issue_identified", 1, "qualityissue", &["/notes"]),
    ("quality.issue_addressed", 1, "qualityissue", &[]),
    (
        "quality.conduct_breach_identified",
        1,
        "breach",
        &["/notes"],
    ),
    ("quality.corrective_action_taken", 1, "breach", &[]),
    ("coverage.shift_started", 1, "shift", &[]),
    ("coverage.shift_ended", 1, "shift", &[]),
    (
        "communication.account_issue_identified",
        1,
        "accountissue",
        &["/summary"],
    ),
    ("communication.client_notified", 1, "accountissue", &[]),
    ("reporting.monthly_report_delivered", 1, "client", &[]),
    ("reporting.qa_summary_delivered", 1, "client", &[]),
    ("reporting.quarterly_review_conducted", 1, "client", &[]),
    (
        "operations.excused_window_opened",
        1,
        "excusedwindow",
        &["/note"],
    ),
    ("operations.excused_window_closed", 1, "excusedwindow", &[]),
    ("operations.sop_amendment_published", 1, "sop", &[]),
    ("retention.legal_hold_placed", 1, "client", &[]),
    ("retention.legal_hold_released", 1, "client", &[]),
    ("retention.client_data_deleted", 1, "client", &[]),
    ("billing.invoice_issued", 1, "invoice", &[]),
    ("billing.payment_received", 1, "invoice", &[]),
    ("billing.credit_note_issued", 1, "invoice", &[]),
    ("billing.payment_default_notice_sent", 1, "client", &[]),
    ("billing.service_suspended", 1, "client", &[]),
    ("billing.service_resumed", 1, "client", &[]),
    ("billing.price_change_notified", 1, "client", &[]),
    ("termination.notice_given", 1, "client", &[]),
    ("termination.immediate", 1, "client", &[]),
    ("termination.took_effect", 1, "client", &[]),
];

#[test]
fn the_event_catalog_is_unchanged() {
    let built: Vec<Entry> = EVENT_TYPES
        .iter()
        .map(|t| {
            (
                t.event_type,
                t.schema_version,
                t.stream_category,
                t.personal_fields,
            )
        })
        .collect();
    for (i, (found, pinned)) in built.iter().zip(CATALOG).enumerate() {
        assert_eq!(found, pinned, "event type {i} of the catalog");
    }
    assert_eq!(built.len(), CATALOG.len(), "number of event types");
}
