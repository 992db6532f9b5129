//! The client area of the read model: agreement versions as they were recorded, and folding in the
//! client lifecycle events (onboarding, amendments, and the credentials, change notices and
//! communications that open or close excused windows).

use std::collections::BTreeMap;

use opsledger_domain::agreement::AgreementVersion;
use opsledger_domain::events::{
    AgreementAmended, ChangeKind, ClientOnboarded, CommunicationAnswered, CommunicationSent,
    CredentialsExpired, CredentialsProvided, CredentialsRestored, CredentialsRevoked, ExcuseCause,
    SignificantChangeNotified,
};
use serde::{Deserialize, Serialize};

use super::{ClientRecord, ReadModel, WindowSource};
use crate::position::EventRef;

/// One agreement version and the event that brought it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgreementRecord {
    /// The onboarding or amendment event.
    pub event: EventRef,
    /// The version.
    pub version: AgreementVersion,
}

impl ReadModel {
    /// Folds in a `ClientOnboarded`.
    pub(super) fn apply_client_onboarded(&mut self, r: EventRef, e: &ClientOnboarded) {
        let version = AgreementVersion {
            effective_at: e.at,
            recorded_at: e.at,
            amendment_id: None,
            agreement: e.agreement.clone(),
        };
        self.clients.insert_new(ClientRecord {
            client_id: e.client_id.clone(),
            onboarded: r,
            agreements: vec![AgreementRecord { event: r, version }],
            calls_by_month: BTreeMap::new(),
            escalations: Vec::new(),
            reviews: Vec::new(),
            quality_issues: Vec::new(),
            breaches: Vec::new(),
            shifts: Vec::new(),
            account_issues: Vec::new(),
            excused_windows: Vec::new(),
            legal_holds: Vec::new(),
            invoices: Vec::new(),
            monthly_reports: Vec::new(),
            qa_summaries: Vec::new(),
            quarterly_reviews: Vec::new(),
            deletions: Vec::new(),
            default_notices: Vec::new(),
            suspensions: Vec::new(),
            price_changes: Vec::new(),
            termination_notices: Vec::new(),
            immediate_terminations: Vec::new(),
            terminated: None,
        });
    }

    /// Folds in a `AgreementAmended`.
    pub(super) fn apply_agreement_amended(&mut self, r: EventRef, e: &AgreementAmended) {
        if let Some((_, c)) = self.client_mut(&e.client_id) {
            c.agreements.push(AgreementRecord {
                event: r,
                version: AgreementVersion {
                    effective_at: e.effective_at,
                    recorded_at: e.at,
                    amendment_id: Some(e.amendment_id.clone()),
                    agreement: e.agreement.clone(),
                },
            });
        }
    }

    // Credentials, change notices and communications open and close excused windows
    // themselves (the catalog's Readings: windows come from these events). Expired or
    // revoked credentials open a `missing_credentials` window until the same set is
    // restored or provided again.
    /// Folds in a `CredentialsExpired`.
    pub(super) fn apply_credentials_expired(&mut self, r: EventRef, e: &CredentialsExpired) {
        self.open_derived_window(
            &e.client_id,
            ExcuseCause::MissingCredentials,
            WindowSource::Credentials(e.credential_id.clone()),
            Vec::new(),
            r,
        );
    }

    /// Folds in a `CredentialsRevoked`.
    pub(super) fn apply_credentials_revoked(&mut self, r: EventRef, e: &CredentialsRevoked) {
        self.open_derived_window(
            &e.client_id,
            ExcuseCause::MissingCredentials,
            WindowSource::Credentials(e.credential_id.clone()),
            Vec::new(),
            r,
        );
    }

    /// Folds in a `CredentialsRestored`.
    pub(super) fn apply_credentials_restored(&mut self, r: EventRef, e: &CredentialsRestored) {
        self.close_derived_window(
            &e.client_id,
            &WindowSource::Credentials(e.credential_id.clone()),
            r,
        );
    }

    /// Folds in a `CredentialsProvided`.
    pub(super) fn apply_credentials_provided(&mut self, r: EventRef, e: &CredentialsProvided) {
        self.close_derived_window(
            &e.client_id,
            &WindowSource::Credentials(e.credential_id.clone()),
            r,
        );
    }

    // A call-volume change is unnotified until the client notifies it [4 Change
    // Notification]: the notice closes every open `unnotified_volume_change` window of
    // the client. A notice opens none, since a notified change is the agency's to plan for.
    /// Folds in a `SignificantChangeNotified`.
    pub(super) fn apply_significant_change_notified(
        &mut self,
        r: EventRef,
        e: &SignificantChangeNotified,
    ) {
        if e.kind == ChangeKind::CallVolume {
            self.close_windows_of_cause(&e.client_id, ExcuseCause::UnnotifiedVolumeChange, r);
        }
    }

    // Awaiting the client's answer [4 Timely Response] excuses the rules the
    // communication names, from sending to the answer.
    /// Folds in a `CommunicationSent`.
    pub(super) fn apply_communication_sent(&mut self, r: EventRef, e: &CommunicationSent) {
        if !e.affects.is_empty() {
            self.open_derived_window(
                &e.client_id,
                ExcuseCause::AwaitingClientResponse,
                WindowSource::Communication(e.communication_id.clone()),
                e.affects.clone(),
                r,
            );
        }
    }

    /// Folds in a `CommunicationAnswered`.
    pub(super) fn apply_communication_answered(&mut self, r: EventRef, e: &CommunicationAnswered) {
        self.close_derived_window(
            &e.client_id,
            &WindowSource::Communication(e.communication_id.clone()),
            r,
        );
    }
}
