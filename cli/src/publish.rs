//! `opsledger publish`: brings the projections up to date and publishes each client's reports
//! as its own read models, which on PostgreSQL that client's readers can query (row-level
//! security) while the projection snapshot, holding every client, stays closed to them.

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Args;
use opsledger_projections::{AsOf, Period};
use opsledger_store::ClientReadModel;

use crate::ledger::Target;

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The instant pending deadlines are judged at (default: now).
    #[arg(long)]
    evaluated_at: Option<DateTime<Utc>>,
}

pub async fn run(target: &Target, args: PublishArgs) -> anyhow::Result<()> {
    let store = crate::report::up_to_date(target).await?;
    let evaluated_at = args.evaluated_at.unwrap_or_else(Utc::now);
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
                .with_context(|| format!("publishing {name} for {id}"))?;
            published += 1;
        }
    }
    println!(
        "published {published} read models for {} clients at checkpoint {checkpoint}",
        clients.len()
    );
    Ok(())
}
