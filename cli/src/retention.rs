//! `opsledger retention apply`: deletes the personal data of clients whose R-RET-2 deletion
//! deadline has passed, by destroying their data keys (crypto-shredding), and records the
//! deletion in the ledger through the domain, so a legal hold refuses it (R-RET-2).
//!
//! Order, and why a crash anywhere is recovered by the next run (ADR 0004): the domain decides
//! first (nothing is touched if it refuses), then the key is destroyed, then the deletion event
//! is appended. A crash after the destruction leaves a client whose key is gone but whose
//! deletion is not recorded: the next run still sees its deadline passed, the domain accepts,
//! destroying again is a no-op and the event is appended. The ledger therefore never states a
//! deletion that did not happen. A deletion recorded by other means (`opsledger record`) whose
//! key is still active is completed by destroying the key.

use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use opsledger_domain::command::Command;
use opsledger_domain::decide::decide;
use opsledger_domain::events::{ClientDataDeleted, DeletionScope};
use opsledger_domain::ids::{ClientId, DeletionId};
use opsledger_projections::retention::RecordKind;
use opsledger_projections::{AsOf, Period};
use opsledger_store::{DataKey, EventStore, Metadata};
use uuid::Uuid;

use crate::ledger::Target;
use crate::project::{self, Start};
use crate::record::{self, Fact};

/// Namespace of the deletion events' ids: one id per client, so a rerun or a concurrent run
/// can never record a second whole-client deletion.
const RETENTION_NAMESPACE: Uuid = Uuid::from_u128(0x6f70_736c_6564_6765_7200_7265_7432_0001);
/// The deletion id of a whole-client deletion under R-RET-2 (ids are scoped by client).
const ALL_DATA_DELETION_ID: &str = "ret2-all-client-data";

#[derive(Debug, Args)]
pub struct RetentionArgs {
    #[command(subcommand)]
    action: RetentionAction,
}

#[derive(Debug, Subcommand)]
enum RetentionAction {
    /// Destroy the data keys of clients whose deletion deadline has passed and no legal hold
    /// applies, and record each deletion. Safe to run repeatedly (e.g. daily from a scheduler).
    Apply(ApplyArgs),
}

#[derive(Debug, Args)]
struct ApplyArgs {
    /// List what would be done and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// The instant deadlines are judged at and deletions are recorded at (default: now).
    #[arg(long)]
    as_of: Option<DateTime<Utc>>,
}

/// What the run did (or, in a dry run, would do) for one client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The deadline passed and the domain accepted: the key was destroyed and the deletion
    /// recorded. `key_destroyed_now` is false when an interrupted earlier run had destroyed it.
    Deleted {
        client_id: String,
        deadline: DateTime<Utc>,
        key_destroyed_now: bool,
    },
    /// A dry run's [`Action::Deleted`].
    WouldDelete {
        client_id: String,
        deadline: DateTime<Utc>,
    },
    /// The deadline passed but the domain refused the deletion (a legal hold): nothing changed.
    Refused { client_id: String, reason: String },
    /// The ledger records the deletion but the key was still active: it was destroyed now.
    KeyDestroyedForRecordedDeletion { client_id: String },
    /// A dry run's [`Action::KeyDestroyedForRecordedDeletion`].
    WouldDestroyKeyForRecordedDeletion { client_id: String },
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::Deleted {
                client_id,
                deadline,
                key_destroyed_now,
            } => write!(
                f,
                "{client_id}: deadline {deadline} passed; data key destroyed{}, deletion recorded",
                if *key_destroyed_now {
                    ""
                } else {
                    " (by an earlier, interrupted run)"
                }
            ),
            Action::WouldDelete {
                client_id,
                deadline,
            } => write!(
                f,
                "{client_id}: deadline {deadline} passed; would destroy the data key and record the deletion"
            ),
            Action::Refused { client_id, reason } => {
                write!(f, "{client_id}: deadline passed but not deleted: {reason}")
            }
            Action::KeyDestroyedForRecordedDeletion { client_id } => write!(
                f,
                "{client_id}: the deletion was recorded but the data key was active; destroyed it"
            ),
            Action::WouldDestroyKeyForRecordedDeletion { client_id } => write!(
                f,
                "{client_id}: the deletion is recorded but the data key is active; would destroy it"
            ),
        }
    }
}

/// Finds the clients whose data is due for deletion at `evaluated_at` and deletes it (or, with
/// `dry_run`, only says what it would do). An empty result means there was nothing to do.
pub async fn apply(
    store: &Arc<dyn EventStore>,
    evaluated_at: DateTime<Utc>,
    dry_run: bool,
) -> anyhow::Result<Vec<Action>> {
    // A dry run writes nothing at all, not even read-model rows: each client's view folds
    // what the stored rows do not cover from the log.
    if !dry_run {
        project::catch_up(store, Start::Checkpoint).await?;
    }
    let head_next = project::head_next(store).await?;
    let clients = project::clients(store).await?;
    let mut actions = Vec::new();
    for client_id in clients {
        let projections = project::client_view(store, &client_id, Some(head_next)).await?;
        // The period only selects `deletions_due`; the whole-client record is always reported.
        let period = Period {
            from: evaluated_at,
            to: evaluated_at,
        };
        let report = projections
            .retention_report(&client_id, AsOf::Head, evaluated_at, period)
            .with_context(|| format!("the retention report of {client_id}"))?;
        let Some(whole) = report
            .records
            .iter()
            .find(|r| r.record == RecordKind::ClientData)
        else {
            continue;
        };
        let name = client_id.as_str().to_owned();
        if whole.deleted.is_some() {
            if matches!(store.data_key(&name, false).await?, DataKey::Active(_)) {
                if dry_run {
                    actions.push(Action::WouldDestroyKeyForRecordedDeletion { client_id: name });
                } else {
                    store
                        .destroy_data_key(&name, "R-RET-2: completing a recorded deletion")
                        .await?;
                    actions.push(Action::KeyDestroyedForRecordedDeletion { client_id: name });
                }
            }
            continue;
        }
        let Some(deadline) = whole.deletion_deadline.filter(|d| *d <= evaluated_at) else {
            continue;
        };
        actions.push(delete_client(store, &client_id, deadline, evaluated_at, dry_run).await?);
    }
    Ok(actions)
}

/// Decides the deletion of one client's data and, if the domain accepts, destroys the key and
/// records the deletion, in that order.
async fn delete_client(
    store: &Arc<dyn EventStore>,
    client_id: &ClientId,
    deadline: DateTime<Utc>,
    at: DateTime<Utc>,
    dry_run: bool,
) -> anyhow::Result<Action> {
    let name = client_id.as_str().to_owned();
    let command = Command::RecordDataDeletion(ClientDataDeleted {
        client_id: client_id.clone(),
        deletion_id: DeletionId::new(ALL_DATA_DELETION_ID).context("a valid deletion id")?,
        at,
        scope: DeletionScope::AllClientData,
    });
    let (state, _) = record::load_state(store, std::slice::from_ref(client_id)).await?;
    if let Err(refusal) = decide(&state, command.clone()) {
        return Ok(Action::Refused {
            client_id: name,
            reason: refusal.to_string(),
        });
    }
    if dry_run {
        return Ok(Action::WouldDelete {
            client_id: name,
            deadline,
        });
    }
    let reason = format!("R-RET-2: deletion deadline {deadline} passed");
    let key_destroyed_now = store.destroy_data_key(&name, &reason).await?;
    let metadata = Metadata {
        source: Some("opsledger-retention".into()),
        actor: std::env::var("USER").ok(),
        ..Metadata::default()
    };
    let fact = Fact {
        event_id: Uuid::new_v5(&RETENTION_NAMESPACE, name.as_bytes()),
        command,
        file: "retention apply".into(),
        line: 0,
    };
    let progress = indicatif::ProgressBar::hidden();
    record::record(store, vec![fact], &metadata, false, &progress)
        .await
        .with_context(|| {
            format!("recording the deletion of {name}'s data (its key is destroyed; rerun to record it)")
        })?;
    Ok(Action::Deleted {
        client_id: name,
        deadline,
        key_destroyed_now,
    })
}

pub async fn run(target: &Target, args: RetentionArgs) -> anyhow::Result<()> {
    let RetentionAction::Apply(args) = args.action;
    let store = target.open().await?;
    let evaluated_at = args.as_of.unwrap_or_else(Utc::now);
    let actions = apply(&store, evaluated_at, args.dry_run).await?;
    if actions.is_empty() {
        println!(
            "nothing to do at {evaluated_at}: no client's deletion deadline has passed with its data still readable"
        );
        return Ok(());
    }
    if args.dry_run {
        println!("dry run at {evaluated_at}: nothing was changed");
    }
    for action in &actions {
        println!("{action}");
    }
    Ok(())
}
