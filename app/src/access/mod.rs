//! Who may see what on the desk (`opsledger serve`), and the read audit: users and their
//! roles, bearer tokens and page sessions, the scoping of every read to what the role may see,
//! and the record of each read in the hash-chained access log (`docs/adr/0007-desk-access.md`).
//!
//! Scoping holds on both backends: here, [`Principal::check_read`] refuses a client reader's
//! read of another client (R-RET-4: caller data seen only on its own account); on PostgreSQL,
//! [`DeskLedger::reads_for`] also hands out a store that reads as the user's database role,
//! so row-level security refuses it as well.

mod audit;
pub mod secrets;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use opsledger_domain::ids::ClientId;
use opsledger_store::postgres::roles::{RoleKind, AUDITOR_GROUP};
use opsledger_store::{
    DeskSession, DeskStore, DeskToken, DeskUser, EventStore, PgStore, SqliteStore, StoreError,
};
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::error::{AppError, AppResult};
use crate::ledger::Target;

pub use audit::{
    access_log, access_log_for, record_access, verify_access_log, AccessLogQuery, AccessRecorder,
    MAX_RECORDER_BATCH,
};

/// How long a page session lasts after login.
pub const SESSION_LIFETIME: Duration = Duration::hours(12);

/// What a desk user may do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "role", content = "client")]
pub enum DeskRole {
    /// Reads every client, and the access log.
    Auditor,
    /// Reads one client only.
    ClientReader(ClientId),
    /// Reads every client, and sees operations views (the `retention apply` dry run).
    Operator,
}

impl DeskRole {
    /// The role as stored and as the access log names it.
    pub fn name(&self) -> &'static str {
        match self {
            DeskRole::Auditor => "auditor",
            DeskRole::ClientReader(_) => "client_reader",
            DeskRole::Operator => "operator",
        }
    }

    /// The one client of a client reader.
    pub fn client(&self) -> Option<&ClientId> {
        match self {
            DeskRole::ClientReader(client) => Some(client),
            DeskRole::Auditor | DeskRole::Operator => None,
        }
    }

    /// The role from its stored name and client; a row that does not make one is corrupt.
    fn from_stored(user: &DeskUser) -> AppResult<Self> {
        let corrupt = |detail: &str| {
            AppError::Store(StoreError::CorruptDeskRow {
                table: "desk_users",
                key: user.name.clone(),
                detail: detail.to_owned(),
            })
        };
        match (user.role.as_str(), user.client_id.as_deref()) {
            ("auditor", None) => Ok(DeskRole::Auditor),
            ("operator", None) => Ok(DeskRole::Operator),
            ("client_reader", Some(client)) => ClientId::new(client)
                .map(DeskRole::ClientReader)
                .map_err(|_| corrupt("the client id is not a valid one")),
            _ => Err(corrupt("the role and client id do not make a role")),
        }
    }
}

/// Who is asking: an authenticated desk user and its role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub user: String,
    pub role: DeskRole,
}

impl Principal {
    /// Whether this user may read `client`'s data.
    pub fn may_read(&self, client: &ClientId) -> bool {
        match &self.role {
            DeskRole::Auditor | DeskRole::Operator => true,
            DeskRole::ClientReader(own) => own == client,
        }
    }

    /// Whether this user may read every client's data (and agency-wide data).
    pub fn may_read_all(&self) -> bool {
        matches!(self.role, DeskRole::Auditor | DeskRole::Operator)
    }

    /// Whether this user may read the access log (auditors only: it names every reader).
    pub fn may_audit(&self) -> bool {
        matches!(self.role, DeskRole::Auditor)
    }

    /// [`Principal::may_read`] as a result: `Forbidden` naming the user and the client.
    pub fn check_read(&self, client: &ClientId) -> AppResult<()> {
        if self.may_read(client) {
            Ok(())
        } else {
            Err(AppError::Forbidden {
                user: self.user.clone(),
                client: Some(client.clone()),
            })
        }
    }

    /// [`Principal::may_read_all`] as a result: `Forbidden` naming the user and no client.
    pub fn check_read_all(&self) -> AppResult<()> {
        if self.may_read_all() {
            Ok(())
        } else {
            Err(AppError::Forbidden {
                user: self.user.clone(),
                client: None,
            })
        }
    }

    /// The PostgreSQL role this user's reads run as: a client reader's own login role (named
    /// like the desk user and mapped to its client in `client_readers`), the auditor group
    /// for the others, who read everything and write nothing.
    pub fn database_role(&self) -> &str {
        match self.role {
            DeskRole::ClientReader(_) => &self.user,
            DeskRole::Auditor | DeskRole::Operator => AUDITOR_GROUP,
        }
    }
}

/// A token just created. `bearer` is shown once and never stored.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedToken {
    pub id: String,
    pub user: String,
    pub bearer: String,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("id", &self.id)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// A page session's secret, the cookie's value; never stored, never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionSecret(pub String);

impl std::fmt::Debug for SessionSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionSecret(<redacted>)")
    }
}

/// Why a request could not be tied to a user. The server answers each with the same 401; the
/// reason is for its log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthFailure {
    UnknownUser,
    WrongPassword,
    UserDisabled,
    MalformedToken,
    UnknownToken,
    TokenRevoked,
    WrongSecret,
    UnknownSession,
    SessionExpired,
}

impl std::fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AuthFailure::UnknownUser => "no such user",
            AuthFailure::WrongPassword => "wrong password",
            AuthFailure::UserDisabled => "the user is disabled",
            AuthFailure::MalformedToken => "not a bearer token of this desk",
            AuthFailure::UnknownToken => "no such token",
            AuthFailure::TokenRevoked => "the token is revoked",
            AuthFailure::WrongSecret => "the token's secret does not match",
            AuthFailure::UnknownSession => "no such session",
            AuthFailure::SessionExpired => "the session has expired",
        })
    }
}

fn unauthenticated(reason: AuthFailure) -> AppError {
    AppError::Unauthenticated { reason }
}

fn store(context: &str) -> impl FnOnce(StoreError) -> AppError + '_ {
    move |e| AppError::store_while(context, e)
}

/// The principal of a stored user, refused when the user is disabled at `now`.
fn principal_of(user: &DeskUser, now: DateTime<Utc>) -> AppResult<Principal> {
    if user.disabled_at.is_some_and(|at| at <= now) {
        return Err(unauthenticated(AuthFailure::UserDisabled));
    }
    Ok(Principal {
        user: user.name.clone(),
        role: DeskRole::from_stored(user)?,
    })
}

/// Adds a desk user with `role` and `password` (hashed with argon2id; the password itself is
/// not kept). A name already taken is `StoreError::DeskUserExists`.
pub async fn add_user(
    desk: &dyn DeskStore,
    name: &str,
    role: DeskRole,
    password: &str,
    clock: &dyn Clock,
) -> AppResult<()> {
    opsledger_store::desk::validate_desk_name(name).map_err(|_| AppError::InvalidRequest {
        what: "user name".to_owned(),
        detail: "1-63 of a-z, 0-9 and '_', not starting with a digit".to_owned(),
    })?;
    let password_hash = secrets::hash_password(password).await?;
    let user = DeskUser {
        name: name.to_owned(),
        role: role.name().to_owned(),
        client_id: role.client().map(|c| c.as_str().to_owned()),
        password_hash,
        created_at: clock.now(),
        disabled_at: None,
    };
    desk.insert_user(&user).await.map_err(AppError::Store)
}

/// Disables a user: its tokens and sessions stop working; the user stays, so the access log
/// keeps naming it.
pub async fn disable_user(desk: &dyn DeskStore, name: &str, clock: &dyn Clock) -> AppResult<()> {
    known_user(desk, name).await?;
    desk.disable_user(name, clock.now())
        .await
        .map_err(store("disabling a desk user"))?;
    Ok(())
}

async fn known_user(desk: &dyn DeskStore, name: &str) -> AppResult<DeskUser> {
    let found = match opsledger_store::desk::validate_desk_name(name) {
        Ok(()) => desk
            .user(name)
            .await
            .map_err(store("reading a desk user"))?,
        Err(_) => None,
    };
    found.ok_or_else(|| AppError::InvalidRequest {
        what: "user".to_owned(),
        detail: format!("no desk user is named {name:?}"),
    })
}

/// Creates a bearer token for `user`. Its secret is in the returned value only.
pub async fn create_token(
    desk: &dyn DeskStore,
    user: &str,
    clock: &dyn Clock,
) -> AppResult<IssuedToken> {
    let found = known_user(desk, user).await?;
    principal_of(&found, clock.now())?;
    let (id, secret) = secrets::new_token()?;
    let secret_bytes = hex::decode(&secret).expect("the secret was just hex-encoded");
    desk.insert_token(&DeskToken {
        id: id.clone(),
        user_name: found.name.clone(),
        secret_hash: secrets::token_hash(&secret_bytes),
        created_at: clock.now(),
        revoked_at: None,
    })
    .await
    .map_err(store("storing a desk token"))?;
    Ok(IssuedToken {
        bearer: secrets::bearer_text(&id, &secret),
        id,
        user: found.name,
    })
}

/// Revokes a token by its id; revoking one already revoked is a no-op.
pub async fn revoke_token(
    desk: &dyn DeskStore,
    token_id: &str,
    clock: &dyn Clock,
) -> AppResult<()> {
    let unknown = || AppError::InvalidRequest {
        what: "token".to_owned(),
        detail: format!("no desk token has the id {token_id:?}"),
    };
    if opsledger_store::desk::validate_token_id(token_id).is_err() {
        return Err(unknown());
    }
    if desk
        .token(token_id)
        .await
        .map_err(store("reading a desk token"))?
        .is_none()
    {
        return Err(unknown());
    }
    desk.revoke_token(token_id, clock.now())
        .await
        .map_err(store("revoking a desk token"))?;
    Ok(())
}

/// The user presenting `bearer` (`olt_<id>_<secret>`): the token must exist, be unrevoked,
/// its secret must match (compared in constant time) and its user must be enabled.
pub async fn authenticate_token(
    desk: &dyn DeskStore,
    bearer: &str,
    clock: &dyn Clock,
) -> AppResult<Principal> {
    let (id, secret) = secrets::parse_bearer(bearer)
        .ok_or_else(|| unauthenticated(AuthFailure::MalformedToken))?;
    let token = desk
        .token(id)
        .await
        .map_err(store("reading a desk token"))?
        .ok_or_else(|| unauthenticated(AuthFailure::UnknownToken))?;
    if !secrets::same_hash(&token.secret_hash, &secrets::token_hash(&secret)) {
        return Err(unauthenticated(AuthFailure::WrongSecret));
    }
    let now = clock.now();
    if token.revoked_at.is_some_and(|at| at <= now) {
        return Err(unauthenticated(AuthFailure::TokenRevoked));
    }
    let user = desk
        .user(&token.user_name)
        .await
        .map_err(store("reading a desk user"))?
        .ok_or_else(|| unauthenticated(AuthFailure::UnknownUser))?;
    principal_of(&user, now)
}

/// Checks `name` and `password` and opens a page session lasting [`SESSION_LIFETIME`]. An
/// unknown name costs as much time as a wrong password (a password is hashed either way).
pub async fn login(
    desk: &dyn DeskStore,
    name: &str,
    password: &str,
    clock: &dyn Clock,
) -> AppResult<(Principal, SessionSecret)> {
    let found = match opsledger_store::desk::validate_desk_name(name) {
        Ok(()) => desk
            .user(name)
            .await
            .map_err(store("reading a desk user"))?,
        Err(_) => None,
    };
    let Some(user) = found else {
        // The result is thrown away: this only spends the time a real check would.
        let _ = secrets::hash_password(&format!("{password:<8}")).await;
        return Err(unauthenticated(AuthFailure::UnknownUser));
    };
    if !secrets::verify_password(password, &user.password_hash).await? {
        return Err(unauthenticated(AuthFailure::WrongPassword));
    }
    let now = clock.now();
    let principal = principal_of(&user, now)?;
    // Expired sessions are refused anyway; clearing them here keeps the table to the live ones.
    desk.delete_expired_sessions(now)
        .await
        .map_err(store("clearing expired desk sessions"))?;
    let secret = secrets::new_session_secret()?;
    let id_hash = secrets::session_hash(&secret).expect("a fresh secret is well formed");
    desk.insert_session(&DeskSession {
        id_hash,
        user_name: user.name,
        created_at: now,
        expires_at: now + SESSION_LIFETIME,
    })
    .await
    .map_err(store("storing a desk session"))?;
    Ok((principal, SessionSecret(secret)))
}

/// The user of the session whose cookie holds `cookie`: it must exist, be unexpired, and its
/// user enabled.
pub async fn authenticate_session(
    desk: &dyn DeskStore,
    cookie: &str,
    clock: &dyn Clock,
) -> AppResult<Principal> {
    let id_hash = secrets::session_hash(cookie)
        .ok_or_else(|| unauthenticated(AuthFailure::UnknownSession))?;
    let session = desk
        .session(&id_hash)
        .await
        .map_err(store("reading a desk session"))?
        .ok_or_else(|| unauthenticated(AuthFailure::UnknownSession))?;
    let now = clock.now();
    if session.expires_at <= now {
        return Err(unauthenticated(AuthFailure::SessionExpired));
    }
    let user = desk
        .user(&session.user_name)
        .await
        .map_err(store("reading a desk user"))?
        .ok_or_else(|| unauthenticated(AuthFailure::UnknownUser))?;
    principal_of(&user, now)
}

/// Ends the session of `cookie`; a cookie of no session is a no-op.
pub async fn logout(desk: &dyn DeskStore, cookie: &str) -> AppResult<()> {
    if let Some(id_hash) = secrets::session_hash(cookie) {
        desk.delete_session(&id_hash)
            .await
            .map_err(store("ending a desk session"))?;
    }
    Ok(())
}

/// A ledger opened for the desk: the event store, the desk's tables, and on PostgreSQL the
/// way to read as a user's database role.
#[derive(Debug, Clone)]
pub struct DeskLedger {
    events: Arc<dyn EventStore>,
    desk: Arc<dyn DeskStore>,
    postgres: Option<(PgStore, String)>,
}

impl DeskLedger {
    /// Opens `target` (as [`Target::open`] does) with its desk tables.
    pub async fn open(target: &Target) -> AppResult<Self> {
        match target {
            Target::File(path) => {
                if !path.exists() {
                    return Err(AppError::NoLedger { path: path.clone() });
                }
                let store = SqliteStore::open(path).map_err(|e| {
                    AppError::store_while(format!("opening ledger {}", path.display()), e)
                })?;
                Ok(Self {
                    events: Arc::new(store.clone()),
                    desk: Arc::new(store),
                    postgres: None,
                })
            }
            Target::Postgres(url) | Target::PostgresReadOnly(url) => {
                let store = match target {
                    Target::Postgres(_) => PgStore::connect(url).await,
                    _ => PgStore::connect_read_only(url).await,
                }
                .map_err(store("connecting to PostgreSQL"))?;
                Ok(Self {
                    events: Arc::new(store.clone()),
                    desk: Arc::new(store.clone()),
                    postgres: Some((store, url.clone())),
                })
            }
        }
    }

    /// The event store as the process's own role: for following the log, not for a user's
    /// reads.
    pub fn events(&self) -> Arc<dyn EventStore> {
        Arc::clone(&self.events)
    }

    /// The desk's tables.
    pub fn desk(&self) -> &dyn DeskStore {
        self.desk.as_ref()
    }

    /// The desk's tables, shared (for an [`AccessRecorder`], which outlives a borrow).
    pub fn desk_arc(&self) -> Arc<dyn DeskStore> {
        Arc::clone(&self.desk)
    }

    /// The store `principal`'s reads go through. On PostgreSQL, a handle whose reads run in
    /// one transaction as the principal's database role, so row-level security scopes them;
    /// drop it when the request ends. On the embedded file, which has no roles, the store
    /// itself: the caller scopes with [`Principal::check_read`] before each read.
    pub async fn reads_for(&self, principal: &Principal) -> AppResult<Arc<dyn EventStore>> {
        match &self.postgres {
            Some((pg, _)) => Ok(Arc::new(
                pg.scoped(principal.database_role())
                    .await
                    .map_err(store("opening a read as the user's database role"))?,
            )),
            None => Ok(Arc::clone(&self.events)),
        }
    }

    /// [`DeskLedger::reads_for`] after the application's own check: `Forbidden` unless
    /// `principal` may read `client` (`None`: every client, or agency-wide data). The one call
    /// a server makes before a read, so both backends refuse in the application, and
    /// PostgreSQL in the database as well.
    pub async fn reads_of(
        &self,
        principal: &Principal,
        client: Option<&ClientId>,
    ) -> AppResult<Arc<dyn EventStore>> {
        match client {
            Some(client) => principal.check_read(client)?,
            None => principal.check_read_all()?,
        }
        self.reads_for(principal).await
    }

    /// Adds a desk user ([`add_user`]). On PostgreSQL a client reader also gets a login role
    /// of its name, mapped to its client, which its reads then run as; its password is random
    /// and never shown, since nobody logs in with it (the desk sets the role).
    pub async fn add_user(
        &self,
        name: &str,
        role: DeskRole,
        password: &str,
        clock: &dyn Clock,
    ) -> AppResult<()> {
        if let (Some((_, url)), Some(client)) = (&self.postgres, role.client()) {
            // What can be refused without the database is refused before the role is made, so
            // a refused user leaves no role behind.
            secrets::check_password(password)?;
            if self
                .desk()
                .user(name)
                .await
                .map_err(store("reading a desk user"))?
                .is_some()
            {
                return Err(AppError::Store(StoreError::DeskUserExists {
                    name: name.to_owned(),
                }));
            }
            let role_password = secrets::new_session_secret()?;
            let kind = RoleKind::ClientReader {
                client_id: client.as_str().to_owned(),
            };
            PgStore::create_login_role(url, &kind, name, &role_password)
                .await
                .map_err(store("creating the client reader's database role"))?;
        }
        add_user(self.desk(), name, role, password, clock).await
    }
}
