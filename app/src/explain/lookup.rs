//! From an id as printed anywhere to what it names: the client, the stream to show, and the
//! obligations to explain (`projections::obligation_id` reads the printed forms).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use opsledger_domain::ids::{ClientId, AGENCY_SCOPE};
use opsledger_domain::rules::RuleId;
use opsledger_projections::obligation_id::{self, ClientScope, FactKind, SubjectRef};
use opsledger_projections::{Period, Projections, YearMonth};
use opsledger_store::{Direction, EventStore, StreamId};

use super::{resolve_stream, unknown_id, EntityKind, Lookup};
use crate::error::{AppError, AppResult};
use crate::report;

/// A printed id, resolved against the log.
#[derive(Debug, Clone)]
pub(super) struct Resolved {
    /// The rule asked about, if one was.
    pub rule: Option<RuleId>,
    /// The client the id belongs to.
    pub client: ClientId,
    /// The stream whose story the answer shows first.
    pub stream: StreamId,
    /// What kind of thing was asked about.
    pub kind: EntityKind,
    /// Its id without a stream prefix (for a client's, `CLIENT/SCOPE` as given).
    pub id: String,
    /// R-ESC-2's tier, if named.
    pub tier: Option<u32>,
    /// What of the client, when the id names no record.
    scope: Option<(SubjectRef, ClientScope)>,
}

impl Resolved {
    /// What `explain_view` looks up, once the client's view is loaded (a month's period is
    /// the client's local month under the agreement the view holds).
    pub fn lookup(
        &self,
        view: &Projections,
        as_of: opsledger_projections::AsOf,
    ) -> AppResult<Lookup> {
        let Some((subject, scope)) = &self.scope else {
            return Ok(Lookup::Record {
                kind: self.kind,
                id: self.id.clone(),
                tier: self.tier,
            });
        };
        let period = match *scope {
            ClientScope::Month(month) => view.month_period(&self.client, month, as_of)?,
            // R-REP-3 is opened for the quarters starting in the period: the quarter's first
            // client-local month holds its start.
            ClientScope::Quarter { year, quarter } => {
                let month = YearMonth {
                    year,
                    month: quarter.saturating_sub(1) * 3 + 1,
                };
                view.month_period(&self.client, month, as_of)?
            }
            ClientScope::Interval(period) => period,
            ClientScope::Fact { .. } => {
                unreachable!("a fact's period is set when its event is read")
            }
        };
        Ok(Lookup::Client {
            subject: subject.clone(),
            period,
        })
    }
}

/// The period holding the instant a client's fact occurred, alone.
fn instant_period(at: DateTime<Utc>) -> Period {
    Period {
        from: at,
        to: at + Duration::nanoseconds(1),
    }
}

/// The client of a stream, from its first event.
async fn client_of(store: &Arc<dyn EventStore>, stream: &StreamId) -> AppResult<ClientId> {
    let first = store.read_stream(stream, 0, Direction::Forward, 1).await?;
    let client = first
        .first()
        .and_then(|e| e.client_id.clone())
        .ok_or_else(|| AppError::InvalidRequest {
            what: stream.to_string(),
            detail: "its first event names no client".to_owned(),
        })?;
    report::client_id(&client)
}

/// The client an id as printed anywhere belongs to, for a front end that checks who may read
/// it before explaining it: `None` when no record has the id. The id is parsed as `explain`
/// parses it, so every form it accepts (a record's, a client's month, quarter, interval or
/// fact) names its client here.
pub async fn client_of_printed(
    store: &Arc<dyn EventStore>,
    raw: &str,
) -> AppResult<Option<ClientId>> {
    let printed = obligation_id::parse(raw.trim()).map_err(|e| AppError::InvalidRequest {
        what: format!("{raw:?}"),
        detail: format!("{e}; accepted forms: {}", super::ACCEPTED_FORMS),
    })?;
    match printed.subject {
        SubjectRef::Record { id, .. } => {
            let categories: Vec<&str> = EntityKind::ALL.iter().map(|k| k.category()).collect();
            match resolve_stream(store, &id, &categories).await? {
                Some(stream) => client_of(store, &stream).await.map(Some),
                None => Ok(None),
            }
        }
        SubjectRef::Client { client_id, .. } => report::client_id(&client_id).map(Some),
    }
}

/// Resolves `raw` (see `ACCEPTED_FORMS`): a record's stream by its id, or a client's stream and
/// what of it the id names.
pub(super) async fn resolve(store: &Arc<dyn EventStore>, raw: &str) -> AppResult<Resolved> {
    let bad = |e: obligation_id::BadId| AppError::InvalidRequest {
        what: format!("{raw:?}"),
        detail: format!("{e}; accepted forms: {}", super::ACCEPTED_FORMS),
    };
    let printed = obligation_id::parse(raw).map_err(bad)?;
    match printed.subject {
        SubjectRef::Record { id, tier } => {
            let categories: Vec<&str> = EntityKind::ALL.iter().map(|k| k.category()).collect();
            let stream = resolve_stream(store, &id, &categories)
                .await?
                .ok_or_else(|| unknown_id(raw, super::ACCEPTED_FORMS))?;
            let Some(kind) = EntityKind::of_category(stream.category()) else {
                return Err(AppError::InvalidRequest {
                    what: format!("{raw:?}"),
                    detail: format!(
                        "names the stream {stream}, which explain does not answer about; accepted forms: {} (see `opsledger timeline` for any stream)",
                        super::ACCEPTED_FORMS
                    ),
                });
            };
            let id = stream
                .as_str()
                .split_once('-')
                .map_or("", |(_, id)| id)
                .to_owned();
            let client = client_of(store, &stream).await?;
            Ok(Resolved {
                rule: printed.rule,
                client,
                stream,
                kind,
                id,
                tier,
                scope: None,
            })
        }
        SubjectRef::Client { client_id, scope } => {
            let client = report::client_id(&client_id)?;
            let stream = StreamId::new("client", client.as_str())
                .map_err(|_| unknown_id(raw, super::ACCEPTED_FORMS))?;
            let id = raw
                .trim()
                .split_once(':')
                .filter(|_| printed.rule.is_some())
                .map_or(raw.trim(), |(_, rest)| rest)
                .to_owned();
            let subject = SubjectRef::Client { client_id, scope };
            // A fact is found by its event: it must be the client's (an SOP amendment's is the
            // agency's, for every client), and its instant is the period whose obligations hold
            // the fact's.
            let scope = match scope {
                ClientScope::Fact { position, kind } => {
                    let owner = if kind == FactKind::SopAmendment {
                        AGENCY_SCOPE
                    } else {
                        client.as_str()
                    };
                    let event = store
                        .read_all(position, 1)
                        .await?
                        .into_iter()
                        .next()
                        .filter(|e| {
                            e.global_position == position && e.client_id.as_deref() == Some(owner)
                        })
                        .ok_or_else(|| AppError::InvalidRequest {
                            what: format!("{raw:?}"),
                            detail: format!(
                                "position {position} holds no event of client {client}"
                            ),
                        })?;
                    ClientScope::Interval(instant_period(event.occurred_at))
                }
                other => other,
            };
            Ok(Resolved {
                rule: printed.rule,
                client,
                stream,
                kind: EntityKind::Client,
                id,
                tier: None,
                scope: Some((subject, scope)),
            })
        }
    }
}

/// The stream an id as printed anywhere names, for `timeline`: a record's stream (tried in
/// `categories`), or for an obligation of a client that is not about one record, the client's
/// stream. `None` when nothing matches.
pub async fn printed_stream(
    store: &Arc<dyn EventStore>,
    raw: &str,
    categories: &[&str],
) -> AppResult<Option<StreamId>> {
    match obligation_id::parse(raw) {
        Ok(obligation_id::PrintedId {
            subject: SubjectRef::Record { id, .. },
            ..
        }) => resolve_stream(store, &id, categories).await,
        Ok(obligation_id::PrintedId {
            subject: SubjectRef::Client { client_id, .. },
            ..
        }) => match StreamId::new("client", &client_id) {
            Ok(stream) => resolve_stream(store, stream.as_str(), categories).await,
            Err(_) => Ok(None),
        },
        Err(_) => resolve_stream(store, raw.trim(), categories).await,
    }
}
