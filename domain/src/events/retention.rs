//! Retention events: legal holds and the deletion of client data (R-RET-2).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{ClientId, DeletionId, LegalHoldId};

use super::EventPayload;

/// A legal hold was placed on client data; it suspends deletion (R-RET-2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegalHoldPlaced {
    /// Client.
    pub client_id: ClientId,
    /// Hold.
    pub hold_id: LegalHoldId,
    /// When.
    pub at: DateTime<Utc>,
    /// The matter or authority requiring it.
    pub matter: String,
}
payload!(
    LegalHoldPlaced,
    "retention.legal_hold_placed",
    1,
    "client",
    client_id,
    []
);

/// The legal hold was released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegalHoldReleased {
    /// Client.
    pub client_id: ClientId,
    /// Hold.
    pub hold_id: LegalHoldId,
    /// When.
    pub at: DateTime<Utc>,
}
payload!(
    LegalHoldReleased,
    "retention.legal_hold_released",
    1,
    "client",
    client_id,
    []
);

/// What a deletion covered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum DeletionScope {
    /// All personal data of the client (its key destroyed).
    AllClientData,
    /// Call records of calls connected before an instant (R-RET-1 schedule).
    CallRecordsBefore {
        /// Calls connected before this instant.
        before: DateTime<Utc>,
    },
}

/// Client data was deleted (by destroying its key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientDataDeleted {
    /// Client.
    pub client_id: ClientId,
    /// Deletion.
    pub deletion_id: DeletionId,
    /// When.
    pub at: DateTime<Utc>,
    /// What.
    pub scope: DeletionScope,
}
payload!(
    ClientDataDeleted,
    "retention.client_data_deleted",
    1,
    "client",
    client_id,
    []
);
