//! Client lifecycle events: onboarding, agreement amendments, credentials, change notifications and
//! communications awaiting the client's answer.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::agreement::ServiceAgreement;
use crate::ids::{AgreementAmendmentId, ChangeId, ClientId, CommunicationId, CredentialId};
use crate::rules::RuleId;

use super::EventPayload;

/// A client was onboarded under a Service Agreement, effective at `at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientOnboarded {
    /// Client.
    pub client_id: ClientId,
    /// Signing instant; the agreement governs from here.
    pub at: DateTime<Utc>,
    /// The agreement.
    pub agreement: ServiceAgreement,
}
payload!(
    ClientOnboarded,
    "client.onboarded",
    1,
    "client",
    client_id,
    [
        "/agreement/escalation_chain/*/name",
        "/agreement/escalation_chain/*/contact"
    ]
);

/// The agreement was amended; the new full agreement governs from `effective_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgreementAmended {
    /// Client.
    pub client_id: ClientId,
    /// Amendment.
    pub amendment_id: AgreementAmendmentId,
    /// When the amendment was agreed.
    pub at: DateTime<Utc>,
    /// When it governs from (may be before or after `at`).
    pub effective_at: DateTime<Utc>,
    /// The complete amended agreement (not a patch).
    pub agreement: ServiceAgreement,
}
payload!(
    AgreementAmended,
    "client.agreement_amended",
    1,
    "client",
    client_id,
    [
        "/agreement/escalation_chain/*/name",
        "/agreement/escalation_chain/*/contact"
    ]
);

/// The client provided software access credentials [4].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialsProvided {
    /// Client.
    pub client_id: ClientId,
    /// Credential set (the secret itself is never in the ledger).
    pub credential_id: CredentialId,
    /// When provided.
    pub at: DateTime<Utc>,
    /// The system the credentials open, e.g. `"dispatch-crm"`.
    pub system: String,
    /// Known expiry, if any.
    pub expires_at: Option<DateTime<Utc>>,
}
payload!(
    CredentialsProvided,
    "client.credentials_provided",
    1,
    "client",
    client_id,
    []
);

/// Credentials expired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialsExpired {
    /// Client.
    pub client_id: ClientId,
    /// Credential set.
    pub credential_id: CredentialId,
    /// When.
    pub at: DateTime<Utc>,
}
payload!(
    CredentialsExpired,
    "client.credentials_expired",
    1,
    "client",
    client_id,
    []
);

/// Credentials were revoked by the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialsRevoked {
    /// Client.
    pub client_id: ClientId,
    /// Credential set.
    pub credential_id: CredentialId,
    /// When.
    pub at: DateTime<Utc>,
}
payload!(
    CredentialsRevoked,
    "client.credentials_revoked",
    1,
    "client",
    client_id,
    []
);

/// Expired or revoked credentials work again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialsRestored {
    /// Client.
    pub client_id: ClientId,
    /// Credential set.
    pub credential_id: CredentialId,
    /// When.
    pub at: DateTime<Utc>,
}
payload!(
    CredentialsRestored,
    "client.credentials_restored",
    1,
    "client",
    client_id,
    []
);

/// What kind of material change the client notified [4 Change Notification].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Significant change in call volume.
    CallVolume,
    /// Software change.
    Software,
    /// Protocol update.
    Protocol,
    /// Personnel change affecting escalation contacts.
    EscalationContacts,
    /// Anything else material.
    Other,
}

/// The client notified us of a material change to its operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignificantChangeNotified {
    /// Client.
    pub client_id: ClientId,
    /// Change.
    pub change_id: ChangeId,
    /// When notified.
    pub at: DateTime<Utc>,
    /// Kind of change.
    pub kind: ChangeKind,
    /// When the change happens, if said.
    pub effective_at: Option<DateTime<Utc>>,
    /// Personal data: free-text details.
    pub details: Option<String>,
}
payload!(
    SignificantChangeNotified,
    "client.significant_change_notified",
    1,
    "client",
    client_id,
    ["/details"]
);

/// The agency sent the client a communication about the service engagement that needs the
/// client's answer [4 Timely Response]. Until the client answers, performance of the rules named
/// in `affects` is excused (an excused window of cause `awaiting_client_response` opened by this
/// event and closed by [`CommunicationAnswered`]); other rules are judged as usual.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommunicationSent {
    /// Client.
    pub client_id: ClientId,
    /// Communication.
    pub communication_id: CommunicationId,
    /// When sent.
    pub at: DateTime<Utc>,
    /// The rules whose obligations depend on the answer (e.g. R-DOC-2 while the client has not
    /// said where documentation goes); none means the communication excuses nothing.
    pub affects: Vec<RuleId>,
    /// Personal data: what was asked.
    pub subject: Option<String>,
}
payload!(
    CommunicationSent,
    "client.communication_sent",
    1,
    "client",
    client_id,
    ["/subject"]
);

/// The client answered an agency communication: the wait it excused ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommunicationAnswered {
    /// Client.
    pub client_id: ClientId,
    /// Communication answered.
    pub communication_id: CommunicationId,
    /// When the answer came.
    pub at: DateTime<Utc>,
}
payload!(
    CommunicationAnswered,
    "client.communication_answered",
    1,
    "client",
    client_id,
    []
);
