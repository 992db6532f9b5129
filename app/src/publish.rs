//! Publishing: brings the read model's rows up to date and publishes each client's reports
//! as its own read models, which on PostgreSQL that client's readers can query under the same
//! row-level security as its events.

use chrono::{DateTime, Utc};
use opsledger_projections::{AsOf, Period};
use opsledger_store::ClientReadModel;

use crate::clock::Clock;
use crate::error::{AppError, AppResult};
use crate::ledger::Target;
use crate::progress::Progress;

/// What a publish run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    pub read_models: u64,
    pub clients: usize,
    /// The projections' checkpoint the published models reflect.
    pub checkpoint: u64,
}

/// Publishes every client's reports; pending deadlines are judged at `evaluated_at`
/// (default: the clock's now).
pub async fn publish(
    target: &Target,
    evaluated_at: Option<DateTime<Utc>>,
    clock: &dyn Clock,
    progress: &dyn Progress,
) -> AppResult<Published> {
    let store = crate::report::up_to_date(target, progress).await?;
    let evaluated_at = evaluated_at.unwrap_or_else(|| clock.now());
    let checkpoint = crate::project::head_next(&store).await?;
    let clients = crate::project::clients(&store).await?;
    let mut published = 0u64;
    for id in &clients {
        let projections = crate::project::client_view(&store, id, Some(checkpoint)).await?;
        let Some(client) = projections.model().clients.by_key(id) else {
            continue;
        };
        let mut models = Vec::new();
        for month in client.calls_by_month.keys() {
            let sla = projections.sla_report(id, *month, AsOf::Head, evaluated_at)?;
            let obligations =
                projections.obligation_report(id, sla.period, AsOf::Head, evaluated_at)?;
            models.push((format!("sla/{month}"), serde_json::to_string(&sla)?));
            models.push((
                format!("obligations/{month}"),
                serde_json::to_string(&obligations)?,
            ));
        }
        models.push((
            "billing".to_owned(),
            serde_json::to_string(&projections.billing_report(id, AsOf::Head, evaluated_at)?)?,
        ));
        // Deletions due in the coming 31 days: what a client checks its data against.
        let due_in = Period {
            from: evaluated_at,
            to: evaluated_at + chrono::Duration::days(31),
        };
        models.push((
            "retention".to_owned(),
            serde_json::to_string(&projections.retention_report(
                id,
                AsOf::Head,
                evaluated_at,
                due_in,
            )?)?,
        ));
        for (name, body) in models {
            store
                .publish_read_model(&ClientReadModel {
                    client_id: id.as_str().to_owned(),
                    name: name.clone(),
                    next_position: checkpoint,
                    body,
                })
                .await
                .map_err(|e| AppError::store_while(format!("publishing {name} for {id}"), e))?;
            published += 1;
        }
    }
    Ok(Published {
        read_models: published,
        clients: clients.len(),
        checkpoint,
    })
}
