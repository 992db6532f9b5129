//! Provisional stand-in for `opsledger_app::access` (branch `access`), removed at its merge.
#![allow(dead_code, clippy::unused_async)]

use std::sync::Arc;

use opsledger_app::store::EventStore;
use opsledger_app::{AppError, Clock};
use opsledger_domain::ids::ClientId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeskRole {
    Auditor,
    ClientReader(ClientId),
    Operator,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user: String,
    pub role: DeskRole,
}

impl Principal {
    pub fn may_read(&self, client: &ClientId) -> bool {
        match &self.role {
            DeskRole::ClientReader(own) => own == client,
            DeskRole::Auditor | DeskRole::Operator => true,
        }
    }
    pub fn may_read_all(&self) -> bool {
        !matches!(self.role, DeskRole::ClientReader(_))
    }
}

#[derive(Debug)]
pub enum Refusal {
    Unauthenticated,
    Other(AppError),
}

impl From<Refusal> for crate::error::ApiError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Unauthenticated => crate::error::ApiError::Unauthenticated,
            Refusal::Other(e) => e.into(),
        }
    }
}

pub async fn authenticate_token(
    _store: &Arc<dyn EventStore>,
    _bearer: &str,
    _clock: &dyn Clock,
) -> Result<Principal, Refusal> {
    Err(Refusal::Unauthenticated)
}

pub async fn authenticate_session(
    _store: &Arc<dyn EventStore>,
    _cookie: &str,
    _clock: &dyn Clock,
) -> Result<Principal, Refusal> {
    Err(Refusal::Unauthenticated)
}

pub async fn record_access(
    _store: &Arc<dyn EventStore>,
    _who: &Principal,
    _client: Option<&ClientId>,
    _query: &str,
    _rows: u64,
    _clock: &dyn Clock,
) -> Result<u64, AppError> {
    Ok(0)
}
