//! The desk's access records, kept in tables of their own beside `events`: the users of
//! `opsledger serve`, their bearer tokens and page sessions, and the read audit (who read
//! what), an append-only log hash-chained like the event log (`docs/adr/0007-desk-access.md`).
//!
//! The store keeps what it is given: it never sees a password, a token secret or a session
//! secret, only their hashes, which the application computes. It validates the shape of every
//! field, chains the access log and walks the chain with the event log's [`ChainWalker`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};
use crate::hash::{
    chain_link, put_bytes, put_opt_bytes, ChainEntry, ChainWalker, Hash, VerifyReport,
};

/// Longest desk user name, in bytes: the PostgreSQL role-name rule, so that a desk user can
/// be given a database role of the same name.
pub const MAX_DESK_NAME_BYTES: usize = 63;
/// Longest client id, in bytes: the same bound as an envelope's client id.
pub const MAX_DESK_CLIENT_BYTES: usize = crate::envelope::MAX_CLIENT_ID_BYTES;
/// Longest stored password hash (a PHC string), in bytes.
pub const MAX_PASSWORD_HASH_BYTES: usize = 512;
/// Length of a token id, in characters (lowercase hex).
pub const TOKEN_ID_CHARS: usize = 16;
/// Longest query text an access-log entry keeps, in bytes.
pub const MAX_ACCESS_QUERY_BYTES: usize = 2048;
/// Longest role text of an access-log entry, in bytes.
pub const MAX_ACCESS_ROLE_BYTES: usize = 32;
/// Entries per page when the access log is walked for verification.
pub const ACCESS_VERIFY_PAGE: usize = 10_000;

/// One user of the desk. `role` is the application's role name (`auditor`, `client_reader`,
/// `operator`); the store checks only its shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeskUser {
    pub name: String,
    pub role: String,
    /// The one client a client reader may see; `None` for the other roles.
    pub client_id: Option<String>,
    /// The password's hash as a PHC string (argon2id); never the password.
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
}

/// One bearer token: the id is public (it prefixes the secret the holder presents), the
/// secret is kept only as a 32-byte hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeskToken {
    pub id: String,
    pub user_name: String,
    pub secret_hash: Hash,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// One page session, found by the hash of its cookie's secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeskSession {
    pub id_hash: Hash,
    pub user_name: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A read to record in the access log; the store gives it its sequence number and links.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAccess {
    pub at: DateTime<Utc>,
    pub user_name: String,
    pub role: String,
    pub client_id: Option<String>,
    pub query: String,
    pub rows: u64,
}

/// A recorded access-log entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessEntry {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub user_name: String,
    pub role: String,
    pub client_id: Option<String>,
    pub query: String,
    pub rows: u64,
    pub prev_hash: Hash,
    pub hash: Hash,
}

/// Which access-log entries to read: every set field must match; `from_seq` is inclusive.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessFilter {
    pub client_id: Option<String>,
    pub user_name: Option<String>,
    pub from_seq: u64,
}

/// The access log's head: the next sequence number and the last entry's hash
/// ([`Hash::GENESIS`] while empty).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessHead {
    pub next_seq: u64,
    pub hash: Hash,
}

const ACCESS_DOMAIN_V1: &[u8] = b"opsledger.access.v1\0";

/// The digest of an entry's own fields (format v1, never change it): BLAKE3 over the domain
/// separator, the sequence number and instant (big-endian), then each text field length-
/// prefixed and the client id tagged as optional, then the row count. The entry's hash links
/// it to the one before with [`chain_link`], as an event's does.
pub fn access_digest(
    seq: u64,
    at_micros: i64,
    user_name: &str,
    role: &str,
    client_id: Option<&str>,
    query: &str,
    rows: u64,
) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(ACCESS_DOMAIN_V1);
    h.update(&seq.to_be_bytes());
    h.update(&at_micros.to_be_bytes());
    put_bytes(&mut h, user_name.as_bytes());
    put_bytes(&mut h, role.as_bytes());
    put_opt_bytes(&mut h, client_id.map(str::as_bytes));
    put_bytes(&mut h, query.as_bytes());
    h.update(&rows.to_be_bytes());
    Hash(*h.finalize().as_bytes())
}

impl AccessEntry {
    /// The entry that follows `head`: its sequence number, links and hash. The instant is cut
    /// to whole microseconds, which both backends store exactly, so what is hashed can be read
    /// back.
    pub fn chained(head: AccessHead, access: NewAccess) -> Self {
        let micros = access.at.timestamp_micros();
        let at = DateTime::from_timestamp_micros(micros).expect("an instant read from a clock");
        let digest = access_digest(
            head.next_seq,
            micros,
            &access.user_name,
            &access.role,
            access.client_id.as_deref(),
            &access.query,
            access.rows,
        );
        Self {
            seq: head.next_seq,
            at,
            user_name: access.user_name,
            role: access.role,
            client_id: access.client_id,
            query: access.query,
            rows: access.rows,
            prev_hash: head.hash,
            hash: chain_link(&head.hash, &digest),
        }
    }

    /// What the chain walk needs of this entry, its digest recomputed from the fields read
    /// back.
    pub fn chain_entry(&self) -> ChainEntry {
        ChainEntry {
            position: self.seq,
            prev_hash: self.prev_hash,
            hash: self.hash,
            digest: access_digest(
                self.seq,
                self.at.timestamp_micros(),
                &self.user_name,
                &self.role,
                self.client_id.as_deref(),
                &self.query,
                self.rows,
            ),
        }
    }
}

fn invalid(field: &'static str) -> StoreError {
    StoreError::InvalidDeskField { field }
}

/// A desk user name: 1-63 of `a-z`, `0-9` and `_`, not starting with a digit (the
/// PostgreSQL role-name rule, `store::postgres::roles::RoleName`).
pub fn validate_desk_name(name: &str) -> Result<()> {
    let mut bytes = name.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b == b'_');
    let rest_ok = bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if first_ok && rest_ok && name.len() <= MAX_DESK_NAME_BYTES {
        Ok(())
    } else {
        Err(invalid("user name"))
    }
}

fn validate_client(client_id: Option<&str>) -> Result<()> {
    match client_id {
        Some(c)
            if c.is_empty()
                || c.len() > MAX_DESK_CLIENT_BYTES
                || c.chars().any(char::is_control) =>
        {
            Err(invalid("client id"))
        }
        _ => Ok(()),
    }
}

fn validate_role(role: &str) -> Result<()> {
    let ok = !role.is_empty()
        && role.len() <= MAX_ACCESS_ROLE_BYTES
        && role.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(invalid("role"))
    }
}

/// Checks a user before it is stored.
pub fn validate_user(user: &DeskUser) -> Result<()> {
    validate_desk_name(&user.name)?;
    validate_role(&user.role)?;
    validate_client(user.client_id.as_deref())?;
    if user.password_hash.is_empty()
        || user.password_hash.len() > MAX_PASSWORD_HASH_BYTES
        || user.password_hash.chars().any(char::is_control)
    {
        return Err(invalid("password hash"));
    }
    Ok(())
}

/// A token id: exactly [`TOKEN_ID_CHARS`] lowercase hex digits.
pub fn validate_token_id(id: &str) -> Result<()> {
    if id.len() == TOKEN_ID_CHARS
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(invalid("token id"))
    }
}

/// Checks a read before it is recorded.
pub fn validate_access(access: &NewAccess) -> Result<()> {
    validate_desk_name(&access.user_name)?;
    validate_role(&access.role)?;
    validate_client(access.client_id.as_deref())?;
    crate::api::checked_position("access-log row count", access.rows)?;
    if access.query.len() > MAX_ACCESS_QUERY_BYTES || access.query.chars().any(char::is_control) {
        return Err(invalid("query"));
    }
    Ok(())
}

/// The desk's tables, on both backends. Every method is safe to call concurrently; appends to
/// the access log are serialised by its head row, as appends to `events` are by theirs.
#[async_trait]
pub trait DeskStore: Send + Sync + std::fmt::Debug {
    /// Stores a new user; `DeskUserExists` when the name is taken.
    async fn insert_user(&self, user: &DeskUser) -> Result<()>;

    /// The user of that name, disabled or not.
    async fn user(&self, name: &str) -> Result<Option<DeskUser>>;

    /// Every user, by name.
    async fn users(&self) -> Result<Vec<DeskUser>>;

    /// Stamps `at` on the user as its disabling instant; false when there is no such user or
    /// it was already disabled. A disabled user stays (the access log names it).
    async fn disable_user(&self, name: &str, at: DateTime<Utc>) -> Result<bool>;

    /// Stores a new token; `DeskTokenExists` when the id is taken.
    async fn insert_token(&self, token: &DeskToken) -> Result<()>;

    /// The token of that id, revoked or not.
    async fn token(&self, id: &str) -> Result<Option<DeskToken>>;

    /// Stamps `at` on the token as its revocation; false when there is no such token or it
    /// was already revoked.
    async fn revoke_token(&self, id: &str, at: DateTime<Utc>) -> Result<bool>;

    /// Stores a new page session.
    async fn insert_session(&self, session: &DeskSession) -> Result<()>;

    /// The session whose secret hashes to `id_hash`, expired or not.
    async fn session(&self, id_hash: &Hash) -> Result<Option<DeskSession>>;

    /// Deletes the session (logout); false when there was none.
    async fn delete_session(&self, id_hash: &Hash) -> Result<bool>;

    /// Deletes every session that expired at or before `now`; returns how many.
    async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64>;

    /// Appends one entry to the access log, chained to its head, and moves the head.
    async fn append_access(&self, access: NewAccess) -> Result<AccessEntry> {
        let mut entries = self.append_access_batch(vec![access]).await?;
        Ok(entries.pop().expect("one entry per access appended"))
    }

    /// Appends entries in the order given, in one transaction: all of them or none, each
    /// chained to the one before, with one commit for the lot (so concurrent reads can share
    /// the cost of making their records durable). Every entry is validated first.
    async fn append_access_batch(&self, accesses: Vec<NewAccess>) -> Result<Vec<AccessEntry>>;

    /// Up to `max_count` access-log entries matching `filter`, in sequence order.
    async fn read_access(
        &self,
        filter: &AccessFilter,
        max_count: usize,
    ) -> Result<Vec<AccessEntry>>;

    /// The access log's head.
    async fn access_head(&self) -> Result<AccessHead>;

    /// Walks the whole access log: contiguous sequence numbers, each entry linked to the one
    /// before and matching its hash, the last one matching the head. A broken report names the
    /// first entry that is wrong.
    async fn verify_access(&self) -> Result<VerifyReport> {
        let head = self.access_head().await?;
        let mut walker = ChainWalker::new(0, Hash::GENESIS);
        let mut filter = AccessFilter::default();
        loop {
            let page = self.read_access(&filter, ACCESS_VERIFY_PAGE).await?;
            let Some(last) = page.last() else { break };
            filter.from_seq = last.seq + 1;
            let full = page.len() == ACCESS_VERIFY_PAGE;
            if !walker.check_entries(page.iter().map(AccessEntry::chain_entry)) || !full {
                break;
            }
        }
        let head = head.next_seq.checked_sub(1).map(|last| (last, head.hash));
        Ok(walker.finish(head))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(n: u64) -> NewAccess {
        NewAccess {
            at: DateTime::from_timestamp_micros(1_790_000_000_000_000 + i64::try_from(n).unwrap())
                .unwrap(),
            user_name: "ann".into(),
            role: "auditor".into(),
            client_id: Some("acme".into()),
            query: "GET /api/v1/clients/acme/reports/sla/2026-10".into(),
            rows: n,
        }
    }

    #[test]
    fn chained_entries_walk_intact_and_a_changed_field_breaks_its_own_entry() {
        let mut head = AccessHead {
            next_seq: 0,
            hash: Hash::GENESIS,
        };
        let mut entries = Vec::new();
        for n in 0..3 {
            let entry = AccessEntry::chained(head, access(n));
            head = AccessHead {
                next_seq: entry.seq + 1,
                hash: entry.hash,
            };
            entries.push(entry);
        }
        let mut walker = ChainWalker::new(0, Hash::GENESIS);
        assert!(walker.check_entries(entries.iter().map(AccessEntry::chain_entry)));
        assert!(walker.finish(Some((2, head.hash))).is_intact());

        entries[1].rows = 99;
        let mut walker = ChainWalker::new(0, Hash::GENESIS);
        assert!(!walker.check_entries(entries.iter().map(AccessEntry::chain_entry)));
        match walker.finish(Some((2, head.hash))) {
            VerifyReport::Broken { position, .. } => assert_eq!(position, 1),
            other => panic!("a changed row count went unnoticed: {other:?}"),
        }
    }

    #[test]
    fn the_digest_tells_a_missing_client_from_an_empty_one() {
        let with = access_digest(0, 0, "ann", "auditor", Some(""), "q", 1);
        let without = access_digest(0, 0, "ann", "auditor", None, "q", 1);
        assert_ne!(with, without);
    }

    #[test]
    fn names_and_fields_are_checked() {
        for good in ["ann", "_svc", "acme_reader_2"] {
            assert!(validate_desk_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Ann", "1ann", "a-b", "a b", &"a".repeat(64)] {
            assert!(validate_desk_name(bad).is_err(), "{bad:?}");
        }
        assert!(validate_token_id("0123456789abcdef").is_ok());
        assert!(validate_token_id("0123456789ABCDEF").is_err());
        assert!(validate_token_id("0123").is_err());
        let mut a = access(1);
        a.query = "line\nbreak".into();
        assert!(validate_access(&a).is_err());
        let mut a = access(1);
        a.rows = u64::MAX;
        assert!(validate_access(&a).is_err());
    }
}
