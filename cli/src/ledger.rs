//! Which ledger a command works on: the embedded file by default, PostgreSQL when a URL is given.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use opsledger_store::{EventStore, PgStore, SqliteStore};

/// The ledger named on the command line.
#[derive(Debug, Clone)]
pub enum Target {
    File(PathBuf),
    Postgres(String),
    /// PostgreSQL without migrations or writes, for auditors and other read-only roles.
    PostgresReadOnly(String),
}

/// The ledger file named does not exist.
#[derive(Debug)]
pub struct NoLedger(pub PathBuf);

impl std::fmt::Display for NoLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "no ledger at {}: create one with `opsledger init` or pass --ledger",
            self.0.display()
        )
    }
}

impl std::error::Error for NoLedger {}

impl Target {
    pub fn from_args(ledger: &Path, database_url: Option<&str>, read_only: bool) -> Self {
        match database_url {
            Some(url) if !url.trim().is_empty() && read_only => {
                Target::PostgresReadOnly(url.to_owned())
            }
            Some(url) if !url.trim().is_empty() => Target::Postgres(url.to_owned()),
            _ => Target::File(ledger.to_owned()),
        }
    }

    /// Opens an existing ledger (a file must exist; PostgreSQL gets its schema on connect).
    pub async fn open(&self) -> anyhow::Result<Arc<dyn EventStore>> {
        match self {
            Target::File(path) => {
                if !path.exists() {
                    return Err(NoLedger(path.clone()).into());
                }
                let store = SqliteStore::open(path)
                    .with_context(|| format!("opening ledger {}", path.display()))?;
                Ok(Arc::new(store))
            }
            Target::Postgres(url) => Ok(Arc::new(
                PgStore::connect(url)
                    .await
                    .context("connecting to PostgreSQL")?,
            )),
            Target::PostgresReadOnly(url) => Ok(Arc::new(
                PgStore::connect_read_only(url)
                    .await
                    .context("connecting to PostgreSQL read-only")?,
            )),
        }
    }

    /// Creates a new ledger; a file that already exists is refused.
    pub async fn create(&self) -> anyhow::Result<Arc<dyn EventStore>> {
        match self {
            Target::File(path) => Ok(Arc::new(
                SqliteStore::create_new(path)
                    .with_context(|| format!("creating ledger {}", path.display()))?,
            )),
            Target::Postgres(_) | Target::PostgresReadOnly(_) => self.open().await,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Target::File(path) => format!("ledger file {}", path.display()),
            Target::Postgres(_) | Target::PostgresReadOnly(_) => "PostgreSQL ledger".to_owned(),
        }
    }
}
