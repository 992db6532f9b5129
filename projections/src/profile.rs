//! A client's profile as people read it: its name and the time zone its agreement keeps, at an
//! instant, for front ends that print reports in the client's own terms.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use opsledger_domain::ids::ClientId;
use serde::{Deserialize, Serialize};

use crate::position::AsOf;
use crate::report::{resolve_client, ReportError};
use crate::set::Projections;

/// Who a client is, for a reader: reports carry only the id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientProfile {
    /// Client.
    pub client_id: ClientId,
    /// The name the agreement in force states, if it states one.
    pub name: Option<String>,
    /// The time zone of the client's business calendar in force: the zone its months, days
    /// and deadlines are reckoned in.
    pub time_zone: Tz,
}

impl ClientProfile {
    /// The name for a title: the agreement's name, or the id when the agreement has none.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(self.client_id.as_str())
    }
}

impl Projections {
    /// The profile of a client under the agreement in force at `at`, as the basis sees it.
    pub fn client_profile(
        &self,
        client_id: &ClientId,
        as_of: AsOf,
        at: DateTime<Utc>,
    ) -> Result<ClientProfile, ReportError> {
        let client = resolve_client(self.model(), self.checkpoint(), client_id, &as_of)?;
        // The versions the basis does not see are left out, so a report as of an earlier
        // position names the client as the ledger did then.
        let agreement = client
            .agreements
            .iter()
            .rev()
            .filter(|a| as_of.sees(&a.event))
            .find(|a| a.version.effective_at <= at)
            .or_else(|| client.agreements.first())
            .map(|a| &a.version.agreement)
            .ok_or_else(|| ReportError::UnknownClient(client_id.clone()))?;
        Ok(ClientProfile {
            client_id: client_id.clone(),
            name: agreement.client_name.clone(),
            time_zone: agreement.calendar.time_zone,
        })
    }
}
