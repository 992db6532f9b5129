//! Which ledger a command works on: the embedded file by default, PostgreSQL when a URL is given.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use opsledger_store::{EventStore, PgStore, SqliteStore};

use crate::error::{AppError, AppResult};

/// The ledger a use case works on.
#[derive(Debug, Clone)]
pub enum Target {
    File(PathBuf),
    Postgres(String),
    /// PostgreSQL without migrations or writes, for auditors and other read-only roles.
    PostgresReadOnly(String),
}

impl Target {
    /// The ledger file, unless a (non-blank) PostgreSQL URL is given; `read_only` applies to
    /// PostgreSQL only.
    pub fn choose(ledger: &Path, database_url: Option<&str>, read_only: bool) -> Self {
        match database_url {
            Some(url) if !url.trim().is_empty() && read_only => {
                Target::PostgresReadOnly(url.to_owned())
            }
            Some(url) if !url.trim().is_empty() => Target::Postgres(url.to_owned()),
            _ => Target::File(ledger.to_owned()),
        }
    }

    /// Opens an existing ledger (a file must exist; PostgreSQL gets its schema on connect).
    pub async fn open(&self) -> AppResult<Arc<dyn EventStore>> {
        match self {
            Target::File(path) => {
                if !path.exists() {
                    return Err(AppError::NoLedger { path: path.clone() });
                }
                let store = SqliteStore::open(path).map_err(|e| {
                    AppError::store_while(format!("opening ledger {}", path.display()), e)
                })?;
                Ok(Arc::new(store))
            }
            Target::Postgres(url) => {
                Ok(Arc::new(PgStore::connect(url).await.map_err(|e| {
                    AppError::store_while("connecting to PostgreSQL", e)
                })?))
            }
            Target::PostgresReadOnly(url) => {
                Ok(Arc::new(PgStore::connect_read_only(url).await.map_err(
                    |e| AppError::store_while("connecting to PostgreSQL read-only", e),
                )?))
            }
        }
    }

    /// Creates a new ledger; a file that already exists is refused.
    pub async fn create(&self) -> AppResult<Arc<dyn EventStore>> {
        match self {
            Target::File(path) => Ok(Arc::new(SqliteStore::create_new(path).map_err(|e| {
                AppError::store_while(format!("creating ledger {}", path.display()), e)
            })?)),
            Target::Postgres(_) | Target::PostgresReadOnly(_) => self.open().await,
        }
    }

    /// The ledger in words, for messages (a PostgreSQL URL may hold a password: not shown).
    pub fn describe(&self) -> String {
        match self {
            Target::File(path) => format!("ledger file {}", path.display()),
            Target::Postgres(_) | Target::PostgresReadOnly(_) => "PostgreSQL ledger".to_owned(),
        }
    }
}
