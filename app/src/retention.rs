//! Retention duties (`opsledger retention apply`): deletes the personal data of clients whose R-RET-2 deletion
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

use chrono::{DateTime, Utc};
use opsledger_domain::command::Command;
use opsledger_domain::decide::decide;
use opsledger_domain::error::DomainError;
use opsledger_domain::events::{ClientDataDeleted, DeletionScope};
use opsledger_domain::ids::{ClientId, DeletionId};
use opsledger_domain::rules::RuleId;
use opsledger_projections::retention::RecordKind;
use opsledger_projections::{AsOf, Period};
use opsledger_store::{DataKey, EventStore};
use uuid::Uuid;

use crate::actor::Actor;
use crate::error::{AppError, AppResult};
use crate::progress::{NoProgress, Progress};
use crate::project::{self, Start};
use crate::record::{self, Fact};

/// Namespace of the deletion events' ids: one id per client, so a rerun or a concurrent run
/// can never record a second whole-client deletion.
const RETENTION_NAMESPACE: Uuid = Uuid::from_u128(0x6f70_736c_6564_6765_7200_7265_7432_0001);
/// The deletion id of a whole-client deletion under R-RET-2 (ids are scoped by client).
const ALL_DATA_DELETION_ID: &str = "ret2-all-client-data";

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
    Refused {
        client_id: String,
        /// The refusing rule (R-RET-2 for a legal hold).
        rule: Option<RuleId>,
        refusal: DomainError,
    },
    /// The ledger records the deletion but the key was still active: it was destroyed now.
    KeyDestroyedForRecordedDeletion { client_id: String },
    /// A dry run's [`Action::KeyDestroyedForRecordedDeletion`].
    WouldDestroyKeyForRecordedDeletion { client_id: String },
    /// Handling this client failed; the other clients were handled all the same (issue 12,
    /// finding 2), and a rerun tries this one again. `error` is the failure's whole message.
    Failed { client_id: String, error: String },
}

impl Action {
    /// Whether handling the client failed.
    pub fn failed(&self) -> bool {
        matches!(self, Action::Failed { .. })
    }
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
            Action::Refused {
                client_id, refusal, ..
            } => {
                write!(f, "{client_id}: deadline passed but not deleted: {refusal}")
            }
            Action::KeyDestroyedForRecordedDeletion { client_id } => write!(
                f,
                "{client_id}: the deletion was recorded but the data key was active; destroyed it"
            ),
            Action::WouldDestroyKeyForRecordedDeletion { client_id } => write!(
                f,
                "{client_id}: the deletion is recorded but the data key is active; would destroy it"
            ),
            Action::Failed { client_id, error } => write!(f, "{client_id}: FAILED: {error}"),
        }
    }
}

/// Finds the clients whose data is due for deletion at `evaluated_at` and deletes it (or, with
/// `dry_run`, only says what it would do). An empty result means there was nothing to do.
/// Deletions are recorded on behalf of `actor`; `progress` hears of the catch-up.
pub async fn apply(
    store: &Arc<dyn EventStore>,
    evaluated_at: DateTime<Utc>,
    dry_run: bool,
    actor: &Actor,
    progress: &dyn Progress,
) -> AppResult<Vec<Action>> {
    // A dry run writes nothing at all, not even read-model rows: each client's view folds
    // what the stored rows do not cover from the log.
    if !dry_run {
        project::catch_up(store, Start::Checkpoint, progress).await?;
    }
    let head_next = project::head_next(store).await?;
    let clients = project::clients(store).await?;
    let mut actions = Vec::new();
    for client_id in clients {
        // Each client on its own: one client's failure (a store error, a bad value in its
        // events) is reported as its action, and the others are still handled.
        match client_action(store, &client_id, head_next, evaluated_at, dry_run, actor).await {
            Ok(Some(action)) => actions.push(action),
            Ok(None) => {}
            Err(error) => actions.push(Action::Failed {
                client_id: client_id.as_str().to_owned(),
                error: error_chain(&error),
            }),
        }
    }
    Ok(actions)
}

/// What a run at `evaluated_at` would do for one client, writing nothing: the dry run of
/// [`apply`] for that client alone (`None` when nothing is due). The desk's retention page
/// shows it beside the client's retention report.
pub async fn dry_run_for(
    store: &Arc<dyn EventStore>,
    client_id: &ClientId,
    evaluated_at: DateTime<Utc>,
) -> AppResult<Option<Action>> {
    let head_next = project::head_next(store).await?;
    // A dry run records nothing, so no actor is ever named.
    client_action(
        store,
        client_id,
        head_next,
        evaluated_at,
        true,
        &Actor::unknown(),
    )
    .await
}

/// The error's message with its sources, `: `-separated.
fn error_chain(error: &AppError) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// What the run does for one client: `None` when nothing is due.
async fn client_action(
    store: &Arc<dyn EventStore>,
    client_id: &ClientId,
    head_next: u64,
    evaluated_at: DateTime<Utc>,
    dry_run: bool,
    actor: &Actor,
) -> AppResult<Option<Action>> {
    let projections = project::client_view(store, client_id, Some(head_next)).await?;
    // The period only selects `deletions_due`; the whole-client record is always reported.
    let period = Period {
        from: evaluated_at,
        to: evaluated_at,
    };
    let report = projections.retention_report(client_id, AsOf::Head, evaluated_at, period)?;
    let Some(whole) = report
        .records
        .iter()
        .find(|r| r.record == RecordKind::ClientData)
    else {
        return Ok(None);
    };
    let name = client_id.as_str().to_owned();
    if whole.deleted.is_some() {
        if matches!(store.data_key(&name, false).await?, DataKey::Active(_)) {
            if dry_run {
                return Ok(Some(Action::WouldDestroyKeyForRecordedDeletion {
                    client_id: name,
                }));
            }
            store
                .destroy_data_key(&name, "R-RET-2: completing a recorded deletion")
                .await?;
            return Ok(Some(Action::KeyDestroyedForRecordedDeletion {
                client_id: name,
            }));
        }
        return Ok(None);
    }
    let Some(deadline) = whole.deletion_deadline.filter(|d| *d <= evaluated_at) else {
        return Ok(None);
    };
    Ok(Some(
        delete_client(store, client_id, deadline, evaluated_at, dry_run, actor).await?,
    ))
}

/// Decides the deletion of one client's data and, if the domain accepts, destroys the key and
/// records the deletion, in that order.
async fn delete_client(
    store: &Arc<dyn EventStore>,
    client_id: &ClientId,
    deadline: DateTime<Utc>,
    at: DateTime<Utc>,
    dry_run: bool,
    actor: &Actor,
) -> AppResult<Action> {
    let name = client_id.as_str().to_owned();
    let deletion_id = DeletionId::new(ALL_DATA_DELETION_ID)
        .map_err(|e| AppError::Internal(format!("the whole-client deletion id: {e}")))?;
    let command = Command::RecordDataDeletion(ClientDataDeleted {
        client_id: client_id.clone(),
        deletion_id,
        at,
        scope: DeletionScope::AllClientData,
    });
    let (state, _) = record::load_state(store, std::slice::from_ref(client_id)).await?;
    if let Err(refusal) = decide(&state, command.clone()) {
        return Ok(Action::Refused {
            client_id: name,
            rule: refusal.rule(),
            refusal,
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
    let metadata = record::metadata("opsledger-retention", actor);
    let fact = Fact {
        event_id: Uuid::new_v5(&RETENTION_NAMESPACE, name.as_bytes()),
        command,
        file: "retention apply".into(),
        line: 0,
    };
    record::record(store, vec![fact], &metadata, false, &NoProgress)
        .await
        .map_err(|source| AppError::KeyDestroyedDeletionNotRecorded {
            client_id: name.clone(),
            source: Box::new(source),
        })?;
    Ok(Action::Deleted {
        client_id: name,
        deadline,
        key_destroyed_now,
    })
}
