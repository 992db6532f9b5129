//! The operators' retention page: what `opsledger retention apply` would delete or keep of one
//! client if run now, record by record (R-RET-1, R-RET-2, legal holds), the same dry run the
//! API's `/retention/dry-run` answers agency-wide. Auditors and client readers are refused it.

use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::response::Response;
use opsledger_app::{report, retention};
use opsledger_projections::AsOf;
use opsledger_views::desk::{self, RetentionDryRun};

use super::ledger::month_of;
use super::{answer, DeskLinks, PageCaller, PageError, SignedIn};
use crate::api::handlers::query_text;
use crate::params::Params;
use crate::reads::{audit, readable_client, reader};
use crate::state::Shared;

/// `GET /clients/{client}/{month}/retention`: the client's retention records and what a run of
/// `retention apply` at the server's now would do with them; the deletions due listed are
/// those of `month`. Operators only.
pub async fn retention(
    State(desk): State<Shared>,
    PageCaller(caller): PageCaller,
    Path((client, month)): Path<(String, String)>,
    uri: OriginalUri,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    answer(&caller, async {
        // The role first: another role learns nothing of the client, not even whether it exists.
        caller.must_operate("the retention dry run")?;
        Params::parse(query.as_deref())?.finish()?;
        let month = month_of(&month)?;
        let client = readable_client(&desk, &caller, &client, "client").await?;
        let reads = reader(&desk, &caller).await?;
        let view =
            report::view_for_report(&reads.store, &client, AsOf::Head, "retention", Some(month))
                .await?;
        // One instant for the report and the dry run, so both judge the same moment.
        let at = desk.clock.now();
        let basis = report::Basis {
            evaluated_at: Some(at),
            ..report::Basis::default()
        };
        let report = report::retention(&view, &client, month, &basis, &*desk.clock)?;
        let profile = view
            .client_profile(&client, AsOf::Head, at)
            .map_err(opsledger_app::AppError::from)?;
        // The dry run reads the client's data key's state, which only the server's own store
        // may; it writes nothing.
        let action = retention::dry_run_for(&desk.store, &client, at).await?;
        audit(
            &desk,
            &caller,
            Some(&client),
            &query_text(&uri),
            u64::try_from(report.records.len()).unwrap_or(u64::MAX),
        )
        .await?;
        let who = SignedIn::of(&caller);
        Ok(desk::retention_page(
            &DeskLinks,
            &who.viewer(),
            RetentionDryRun {
                report: &report,
                action: action.as_ref(),
                profile: &profile,
                month,
                position: reads.reflects.position,
            },
        ))
    })
    .await
}
