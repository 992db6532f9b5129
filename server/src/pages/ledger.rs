//! The pages that show ledger data: the client list, a client's month, its obligations by
//! verdict, the dispute view, a timeline, and (for auditors) the access log. Each checks the
//! caller and records the read as the API does.

use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use opsledger_app::access::{self, AccessLogQuery};
use opsledger_app::explain::Explanation;
use opsledger_app::report::{self, Basis, ReportRequest};
use opsledger_app::store::VerifyReport;
use opsledger_app::timeline;
use opsledger_domain::ids::ClientId;
use opsledger_projections::{AsOf, YearMonth};
use opsledger_views::desk::{self, AccessFilterShown, AccessRow, MonthReport, VerdictKind};

use super::{answer, page_caller, DeskLinks, PageCaller, PageError, SignedIn};
use crate::api::handlers::{query_text, TIMELINE_CATEGORIES};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::params::Params;
use crate::reads::{audit, explained, readable_client, readable_stream, reader, visible_clients};
use crate::state::Shared;

/// Entries the access-log page shows at most: the latest ones.
const ACCESS_PAGE_ROWS: u64 = 500;

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// `GET /`: the clients the caller may read; nobody signed in is sent to the login form.
pub async fn home(
    State(desk): State<Shared>,
    headers: HeaderMap,
    uri: OriginalUri,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let caller = match page_caller(&desk, &headers).await {
        Ok(caller) => caller,
        Err(_) => {
            return Ok((StatusCode::SEE_OTHER, [(header::LOCATION, "/login")]).into_response())
        }
    };
    answer(&caller, async {
        Params::parse(query.as_deref())?.finish()?;
        let store = reader(&desk, &caller).await?.store;
        let visible =
            visible_clients(&desk, &caller, &store, desk.clock.now(), &query_text(&uri)).await?;
        let who = SignedIn::of(&caller);
        Ok(desk::clients_page(&DeskLinks, &who.viewer(), &visible))
    })
    .await
}

/// The month of a page's path.
pub(super) fn month_of(raw: &str) -> Result<YearMonth, ApiError> {
    raw.parse::<YearMonth>()
        .map_err(|e| ApiError::bad("month", format!("{raw:?} is not a month YYYY-MM ({e})")))
}

/// `GET /clients/{client}/{month}`: the month report (service levels and the obligations of
/// the month by verdict), judged at the server's now.
pub async fn month(
    State(desk): State<Shared>,
    PageCaller(caller): PageCaller,
    Path((client, month)): Path<(String, String)>,
    uri: OriginalUri,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    answer(&caller, async {
        Params::parse(query.as_deref())?.finish()?;
        let month = month_of(&month)?;
        let client = readable_client(&desk, &caller, &client, "client").await?;
        let store = reader(&desk, &caller).await?.store;
        let view = report::view_for_report(&store, &client, AsOf::Head, "sla", Some(month)).await?;
        let at = desk.clock.now();
        let sla = view
            .sla_report(&client, month, AsOf::Head, at)
            .map_err(opsledger_app::AppError::from)?;
        let obligations = view
            .obligation_report(&client, sla.period, AsOf::Head, at)
            .map_err(opsledger_app::AppError::from)?;
        let profile = view
            .client_profile(&client, AsOf::Head, sla.period.from)
            .map_err(opsledger_app::AppError::from)?;
        let request = ReportRequest {
            report: "sla".to_owned(),
            client: client.as_str().to_owned(),
            month: Some(month),
            as_of: AsOf::Head,
            evaluated_at: at,
        };
        let provenance = report::provenance(&store, &view, request).await?;
        audit(
            &desk,
            &caller,
            Some(&client),
            &query_text(&uri),
            count(obligations.obligations.len()).max(1),
        )
        .await?;
        let who = SignedIn::of(&caller);
        Ok(desk::month_page(
            &DeskLinks,
            &who.viewer(),
            MonthReport {
                sla: &sla,
                obligations: &obligations,
                profile: &profile,
                provenance: &provenance,
            },
        ))
    })
    .await
}

/// `GET /clients/{client}/{month}/obligations?verdict=`: the month's obligations, those of one
/// verdict or all.
pub async fn obligations(
    State(desk): State<Shared>,
    PageCaller(caller): PageCaller,
    Path((client, month)): Path<(String, String)>,
    uri: OriginalUri,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    answer(&caller, async {
        let mut params = Params::parse(query.as_deref())?;
        let verdict = params
            .take("verdict")?
            .map(|v| {
                VerdictKind::from_slug(&v).ok_or_else(|| {
                    let known: Vec<&str> = VerdictKind::ALL.iter().map(|k| k.slug()).collect();
                    ApiError::bad(
                        "verdict",
                        format!("{v:?} is not one of {}", known.join(", ")),
                    )
                })
            })
            .transpose()?;
        params.finish()?;
        let month = month_of(&month)?;
        let client = readable_client(&desk, &caller, &client, "client").await?;
        let store = reader(&desk, &caller).await?.store;
        let view = report::view_for_report(&store, &client, AsOf::Head, "obligations", Some(month))
            .await?;
        let basis = Basis::default();
        let report = report::obligations_in_month(&view, &client, month, &basis, &*desk.clock)?;
        let profile = view
            .client_profile(&client, AsOf::Head, report.period.from)
            .map_err(opsledger_app::AppError::from)?;
        let request = ReportRequest {
            report: "obligations".to_owned(),
            client: client.as_str().to_owned(),
            month: Some(month),
            as_of: AsOf::Head,
            evaluated_at: basis.evaluated_at(&*desk.clock),
        };
        let provenance = report::provenance(&store, &view, request).await?;
        let shown = report
            .obligations
            .iter()
            .filter(|o| verdict.map_or(true, |v| VerdictKind::of(&o.verdict) == v))
            .count();
        audit(
            &desk,
            &caller,
            Some(&client),
            &query_text(&uri),
            count(shown),
        )
        .await?;
        let who = SignedIn::of(&caller);
        Ok(desk::obligations_page(
            &DeskLinks,
            &who.viewer(),
            &report,
            &profile,
            &provenance,
            verdict,
        ))
    })
    .await
}

/// The name of an explanation's client under the agreement in force when it was judged, for
/// the dispute view's heading and trail; `None` when the agreement names none.
async fn client_name(
    desk: &Shared,
    caller: &Caller,
    explanation: &Explanation,
) -> Result<Option<String>, ApiError> {
    let client = ClientId::new(&explanation.client_id)
        .map_err(|e| opsledger_app::AppError::Internal(format!("an explained client id: {e}")))?;
    let store = reader(desk, caller).await?.store;
    // The billing view reads no calls: the cheapest view that names the client.
    let view = report::view_for_report(&store, &client, AsOf::Head, "billing", None).await?;
    let profile = view
        .client_profile(&client, AsOf::Head, explanation.evaluated_at)
        .map_err(opsledger_app::AppError::from)?;
    Ok(profile.name)
}

/// `GET /explain/{id}`: the dispute view.
pub async fn dispute(
    State(desk): State<Shared>,
    PageCaller(caller): PageCaller,
    Path(id): Path<String>,
    uri: OriginalUri,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    answer(&caller, async {
        Params::parse(query.as_deref())?.finish()?;
        let explanation =
            explained(&desk, &caller, &id, &Basis::default(), &query_text(&uri)).await?;
        let name = client_name(&desk, &caller, &explanation).await?;
        let who = SignedIn::of(&caller);
        Ok(desk::dispute_page(
            &DeskLinks,
            &who.viewer(),
            &explanation,
            name.as_deref(),
        ))
    })
    .await
}

/// `GET /timeline/{stream}`: one stream's story.
pub async fn timeline(
    State(desk): State<Shared>,
    PageCaller(caller): PageCaller,
    Path(stream): Path<String>,
    uri: OriginalUri,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    answer(&caller, async {
        Params::parse(query.as_deref())?.finish()?;
        let (resolved, client) =
            readable_stream(&desk, &caller, &stream, &TIMELINE_CATEGORIES).await?;
        let store = reader(&desk, &caller).await?.store;
        let found = timeline::timeline_in(&store, resolved.as_str(), None, &*desk.clock).await?;
        let profile = match &client {
            Some(c) => {
                // The billing view reads no calls: the cheapest view that names the client.
                let view = report::view_for_report(&store, c, AsOf::Head, "billing", None).await?;
                view.client_profile(c, AsOf::Head, desk.clock.now()).ok()
            }
            None => None,
        };
        audit(
            &desk,
            &caller,
            client.as_ref(),
            &query_text(&uri),
            count(found.events.len()),
        )
        .await?;
        let who = SignedIn::of(&caller);
        Ok(desk::desk_timeline_page(
            &DeskLinks,
            &who.viewer(),
            &found,
            profile.as_ref(),
        ))
    })
    .await
}

/// `GET /access-log?client=&user=`: the latest entries of the access log and whether its
/// chain verifies; auditors only.
pub async fn access_log(
    State(desk): State<Shared>,
    PageCaller(caller): PageCaller,
    uri: OriginalUri,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    answer(&caller, async {
        let mut params = Params::parse(query.as_deref())?;
        // An empty field of the filter form means "any".
        let client = params.take("client")?.filter(|c| !c.trim().is_empty());
        let user = params.take("user")?.filter(|u| !u.trim().is_empty());
        params.finish()?;
        let client_id = client
            .as_deref()
            .map(|c| ClientId::new(c).map_err(|e| ApiError::bad("client", e.to_string())))
            .transpose()?;
        let next = desk
            .ledger
            .desk()
            .access_head()
            .await
            .map_err(opsledger_app::AppError::from)?
            .next_seq;
        let query = AccessLogQuery {
            client: client_id,
            user: user.clone(),
            from_seq: next.saturating_sub(ACCESS_PAGE_ROWS),
            limit: usize::try_from(ACCESS_PAGE_ROWS).unwrap_or(usize::MAX),
        };
        let entries = access::access_log_for(desk.ledger.desk(), &caller.0, &query).await?;
        let chain = match access::verify_access_log(desk.ledger.desk()).await? {
            VerifyReport::Intact { events, .. } => format!("intact: {events} entries verified"),
            VerifyReport::Broken {
                position, reason, ..
            } => {
                format!("BROKEN at entry {position}: {reason}")
            }
        };
        audit(
            &desk,
            &caller,
            None,
            &query_text(&uri),
            count(entries.len()),
        )
        .await?;
        let rows: Vec<AccessRow> = entries
            .into_iter()
            .map(|e| AccessRow {
                seq: e.seq,
                at: e.at,
                user_name: e.user_name,
                role: e.role,
                client_id: e.client_id,
                query: e.query,
                rows: e.rows,
                hash: e.hash.to_hex(),
            })
            .collect();
        let who = SignedIn::of(&caller);
        Ok(desk::access_log_page(
            &DeskLinks,
            &who.viewer(),
            &rows,
            AccessFilterShown {
                client: client.as_deref(),
                user: user.as_deref(),
            },
            Some(&chain),
        ))
    })
    .await
}
