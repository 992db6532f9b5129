//! Login roles for the three kinds of access the database enforces (R-RET-4): the writer, the
//! auditor and the reader scoped to one client.
//!
//! Migration 4 creates the NOLOGIN group roles, their grants and the row-level security
//! policies (`docs/adr/0005-database-roles.md`). This module creates the LOGIN roles people and
//! services use, as members of one group. The DDL itself runs inside the SQL function
//! `opsledger_create_login_role`, which quotes the role name with `%I` and the password
//! verifier with `%L`; from here every value travels as a bind parameter, so no SQL is ever
//! assembled from input. The name is still validated on both sides, because a role name is an
//! identifier an operator will type and read, not just a value.

use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;

use super::pg_error;
use crate::envelope::MAX_CLIENT_ID_BYTES;
use crate::error::{Result, StoreError};

/// The group role of the writer (appends, projection saves, data keys).
pub const WRITER_GROUP: &str = "opsledger_writer";
/// The group role of auditors (read everything except data keys, write nothing).
pub const AUDITOR_GROUP: &str = "opsledger_auditor";
/// The group role of client readers (their own client's events only).
pub const CLIENT_READER_GROUP: &str = "opsledger_client_reader";

/// Longest role name PostgreSQL keeps without truncating it (NAMEDATALEN - 1).
pub const MAX_ROLE_NAME_BYTES: usize = 63;
/// Longest password accepted; only its SCRAM verifier leaves this process.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Names a login role may not take: the group roles themselves, and the names PostgreSQL
/// reserves or gives a special meaning in role positions.
const RESERVED_NAMES: [&str; 8] = [
    WRITER_GROUP,
    AUDITOR_GROUP,
    CLIENT_READER_GROUP,
    "public",
    "none",
    "current_user",
    "session_user",
    "current_role",
];

/// Which group a new login role joins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleKind {
    /// Appends events and publishes client read models; reads everything, data keys included.
    Writer,
    /// Reads events, the head, the read model and the reader mapping; writes nothing.
    Auditor,
    /// Reads only the events whose `client_id` is `client_id`, and nothing else.
    ClientReader { client_id: String },
}

impl RoleKind {
    /// The kind as the SQL function names it.
    fn as_sql(&self) -> &'static str {
        match self {
            RoleKind::Writer => "writer",
            RoleKind::Auditor => "auditor",
            RoleKind::ClientReader { .. } => "client_reader",
        }
    }

    fn client_id(&self) -> Option<&str> {
        match self {
            RoleKind::ClientReader { client_id } => Some(client_id),
            RoleKind::Writer | RoleKind::Auditor => None,
        }
    }

    /// The group role this kind joins.
    pub fn group(&self) -> &'static str {
        match self {
            RoleKind::Writer => WRITER_GROUP,
            RoleKind::Auditor => AUDITOR_GROUP,
            RoleKind::ClientReader { .. } => CLIENT_READER_GROUP,
        }
    }
}

/// A role name that matches `^[a-z_][a-z0-9_]{0,62}$`, does not start with `pg_` and is not
/// reserved: safe to show, and equal to itself whether quoted or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleName(String);

impl RoleName {
    /// Validates `name`.
    pub fn parse(name: &str) -> Result<Self> {
        let invalid = |reason: &'static str| StoreError::InvalidLoginRole {
            name: name.to_owned(),
            reason,
        };
        let mut bytes = name.bytes();
        let first_ok = bytes
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'_');
        let rest_ok = bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !first_ok || !rest_ok || name.len() > MAX_ROLE_NAME_BYTES {
            return Err(invalid(
                "a role name is 1-63 of a-z, 0-9 and '_', not starting with a digit",
            ));
        }
        if name.starts_with("pg_") {
            return Err(invalid(
                "names starting with pg_ are reserved by PostgreSQL",
            ));
        }
        if RESERVED_NAMES.contains(&name) {
            return Err(invalid("the name is reserved"));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RoleName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Creates LOGIN role `name` as a member of `kind`'s group, with `password`, by connecting to
/// `admin_url` (the ledger's database, as a role with CREATEROLE and EXECUTE on
/// `opsledger_create_login_role`: the migrating owner or a superuser). For a client reader
/// the mapping to its client is recorded in that database's `client_readers`.
///
/// Roles belong to the whole PostgreSQL cluster, so a name already taken by any database's
/// user is refused with [`StoreError::RoleExists`].
pub async fn create_login_role(
    admin_url: &str,
    kind: &RoleKind,
    name: &str,
    password: &str,
) -> Result<()> {
    // Everything that can be checked without the server is checked before connecting.
    let name = RoleName::parse(name)?;
    let verifier = checked_verifier(&name, kind, password)?;
    let (client, connection) = tokio_postgres::connect(admin_url, NoTls)
        .await
        .map_err(pg_error)?;
    let driver = tokio::spawn(connection);
    let result = run_create(&client, kind, &name, &verifier).await;
    drop(client);
    // The connection task ends once the client is dropped; its outcome adds nothing.
    let _ = driver.await;
    result
}

/// Like [`create_login_role`], on a connection the caller already holds.
pub async fn create_login_role_with(
    client: &tokio_postgres::Client,
    kind: &RoleKind,
    name: &str,
    password: &str,
) -> Result<()> {
    let name = RoleName::parse(name)?;
    let verifier = checked_verifier(&name, kind, password)?;
    run_create(client, kind, &name, &verifier).await
}

/// Validates the password and the client id, and returns the password's SCRAM-SHA-256
/// verifier. Only the verifier is sent: the password itself never reaches the server, its
/// statement log or `pg_stat_activity`.
fn checked_verifier(name: &RoleName, kind: &RoleKind, password: &str) -> Result<String> {
    let invalid = |reason: &'static str| StoreError::InvalidLoginRole {
        name: name.to_string(),
        reason,
    };
    if password.is_empty() || password.len() > MAX_PASSWORD_BYTES {
        return Err(invalid("the password must be 1-1024 bytes"));
    }
    if let Some(client) = kind.client_id() {
        if client.is_empty()
            || client.len() > MAX_CLIENT_ID_BYTES
            || client.chars().any(char::is_control)
        {
            return Err(invalid(
                "client_id must be 1-128 bytes without control characters",
            ));
        }
    }
    Ok(postgres_protocol::password::scram_sha_256(
        password.as_bytes(),
    ))
}

async fn run_create(
    client: &tokio_postgres::Client,
    kind: &RoleKind,
    name: &RoleName,
    verifier: &str,
) -> Result<()> {
    client
        .execute(
            "SELECT opsledger_create_login_role($1, $2, $3, $4)",
            &[&name.as_str(), &kind.as_sql(), &verifier, &kind.client_id()],
        )
        .await
        .map_err(|e| {
            if e.code() == Some(&SqlState::DUPLICATE_OBJECT) {
                StoreError::RoleExists {
                    name: name.to_string(),
                }
            } else if e.code() == Some(&SqlState::UNDEFINED_FUNCTION) {
                // The function arrives with migration 4; an older schema cannot hold roles.
                StoreError::SchemaNotMigrated {
                    found: 0,
                    known: super::schema::latest_version(),
                }
            } else {
                pg_error(e)
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_follow_the_identifier_rule() {
        for good in ["a", "_", "auditor_2026", "acme_reader", &"a".repeat(63)] {
            assert!(RoleName::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "A",
            "Auditor",
            "1abc",
            "a-b",
            "a b",
            "a;drop role postgres",
            "a\"b",
            "a'b",
            "é",
            "pg_monitor",
            "opsledger_writer",
            "opsledger_auditor",
            "opsledger_client_reader",
            "public",
            "current_user",
            &"a".repeat(64),
        ] {
            assert!(
                matches!(
                    RoleName::parse(bad),
                    Err(StoreError::InvalidLoginRole { .. })
                ),
                "{bad:?} was accepted"
            );
        }
    }

    #[test]
    fn only_a_scram_verifier_leaves_the_process() {
        let name = RoleName::parse("r").unwrap();
        let verifier = checked_verifier(&name, &RoleKind::Auditor, "s3cret'--").unwrap();
        assert!(verifier.starts_with("SCRAM-SHA-256$4096:"), "{verifier}");
        assert!(!verifier.contains("s3cret"));
        assert!(!verifier.contains('\''));
        for (kind, password) in [
            (RoleKind::Auditor, ""),
            (
                RoleKind::ClientReader {
                    client_id: String::new(),
                },
                "pw",
            ),
            (
                RoleKind::ClientReader {
                    client_id: "a\nb".into(),
                },
                "pw",
            ),
        ] {
            assert!(
                matches!(
                    checked_verifier(&name, &kind, password),
                    Err(StoreError::InvalidLoginRole { .. })
                ),
                "{kind:?} {password:?}"
            );
        }
    }
}
