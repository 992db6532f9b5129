//! The answer cache of the expensive reads (reports and dispute views): serialised answers kept
//! by the scope they were computed under, the question and the head they reflect, bounded in
//! bytes with least-recently-used eviction, computed once when many ask at once, and the
//! semaphore that bounds how many computations run together.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use opsledger_app::access::{DeskRole, Principal};
use tokio::sync::{OnceCell, Semaphore};

use crate::error::ApiError;
use crate::state::Reflects;

/// The most bytes of answers the cache holds.
pub const CACHE_LIMIT_BYTES: usize = 64 * 1024 * 1024;
/// How long a computation waits for its turn before the request is answered 503.
pub const MAX_COMPUTE_WAIT: Duration = Duration::from_secs(5);
/// What a 503 for a full queue asks the caller to wait before retrying, in seconds.
pub const RETRY_AFTER_SECS: u64 = 1;

/// Who an answer was computed for, as far as what it holds can differ: the database role the
/// reads ran as (row-level security decided on PostgreSQL) and the clients visible to the
/// principal (the application's scoping on the embedded store). Keying on both is correct on
/// either backend: two callers share an answer only when both agree.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    database_role: String,
    visible_client: Option<String>,
}

impl Scope {
    /// The scope `principal`'s reads run under.
    pub fn of(principal: &Principal) -> Self {
        let visible_client = match &principal.role {
            DeskRole::ClientReader(client) => Some(client.as_str().to_owned()),
            DeskRole::Auditor | DeskRole::Operator => None,
        };
        Self {
            database_role: principal.database_role().to_owned(),
            visible_client,
        }
    }
}

/// What identifies one answer: the scope, the question (route and normalised parameters) and
/// the head position the answer reflects.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub scope: Scope,
    pub question: String,
    pub position: Option<u64>,
}

/// One computed answer: the JSON body as sent, and what the access log and the headers need.
#[derive(Debug)]
pub struct Answer {
    /// Shared with every response that sends it, not copied.
    pub body: Bytes,
    pub rows: u64,
    pub reflects: Reflects,
}

type Slot = Arc<OnceCell<Arc<Answer>>>;

#[derive(Debug)]
struct Entry {
    slot: Slot,
    last_used: u64,
    /// The answer's size once computed; 0 while it is being computed.
    weight: usize,
}

#[derive(Debug, Default)]
struct Entries {
    map: HashMap<Key, Entry>,
    bytes: usize,
    tick: u64,
}

/// The cache and the bound on computations.
#[derive(Debug)]
pub struct AnswerCache {
    entries: Mutex<Entries>,
    limit_bytes: usize,
    computing: Semaphore,
    computed: AtomicU64,
}

impl AnswerCache {
    /// A cache of at most `limit_bytes`, letting `parallel` computations run at once.
    pub fn new(limit_bytes: usize, parallel: usize) -> Self {
        Self {
            entries: Mutex::new(Entries::default()),
            limit_bytes,
            computing: Semaphore::new(parallel.max(1)),
            computed: AtomicU64::new(0),
        }
    }

    /// How many answers were computed (not served from the cache) since the server started.
    pub fn computed(&self) -> u64 {
        self.computed.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // The map stays consistent between statements, so a panic elsewhere leaves it usable.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A computation slot, waited for at most [`MAX_COMPUTE_WAIT`]: a full queue is a 503
    /// with Retry-After rather than a request timing out.
    async fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, ApiError> {
        let busy = || ApiError::Busy {
            retry_after_secs: RETRY_AFTER_SECS,
        };
        tokio::time::timeout(MAX_COMPUTE_WAIT, self.computing.acquire())
            .await
            .map_err(|_| busy())?
            .map_err(|_| busy())
    }

    /// The answer for `key`: the cached one, or `compute`'s, computed once however many ask
    /// at once, and only when a computation slot is free within [`MAX_COMPUTE_WAIT`].
    pub async fn get_or_compute<F, Fut>(
        &self,
        key: Key,
        compute: F,
    ) -> Result<Arc<Answer>, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Answer, ApiError>>,
    {
        let slot = {
            let mut entries = self.lock();
            entries.tick += 1;
            let tick = entries.tick;
            let entry = entries.map.entry(key.clone()).or_insert_with(|| Entry {
                slot: Arc::new(OnceCell::new()),
                last_used: tick,
                weight: 0,
            });
            entry.last_used = tick;
            Arc::clone(&entry.slot)
        };
        let result = slot
            .get_or_try_init(|| async {
                let _permit = self.permit().await?;
                self.computed.fetch_add(1, Ordering::Relaxed);
                compute().await.map(Arc::new)
            })
            .await
            .cloned();
        match &result {
            Ok(answer) => self.settle(&key, &slot, answer.body.len()),
            Err(_) => self.forget(&key, &slot),
        }
        result
    }

    /// Accounts a computed answer's bytes (once), drops answers of older heads, refuses an
    /// answer bigger than a quarter of the limit, and evicts the least recently used until
    /// the cache is within its limit.
    fn settle(&self, key: &Key, slot: &Slot, size: usize) {
        let mut entries = self.lock();
        let Some(entry) = entries.map.get_mut(key) else {
            return;
        };
        if !Arc::ptr_eq(&entry.slot, slot) || entry.weight != 0 {
            return;
        }
        if size > self.limit_bytes / 4 {
            entries.map.remove(key);
            return;
        }
        // Weight at least one byte, so that a settled entry is told from one being computed.
        entry.weight = size.max(1);
        entries.bytes += size.max(1);
        if let Some(position) = key.position {
            // Once the head has moved, answers of older heads are never asked for again.
            let stale: Vec<Key> = entries
                .map
                .keys()
                .filter(|k| k.position.is_some_and(|p| p < position))
                .cloned()
                .collect();
            for k in stale {
                remove(&mut entries, &k);
            }
        }
        while entries.bytes > self.limit_bytes {
            let oldest = entries
                .map
                .iter()
                .filter(|(_, e)| e.weight > 0)
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => remove(&mut entries, &k),
                None => break,
            }
        }
    }

    /// Drops the entry of a failed computation, so that the failure is not kept.
    fn forget(&self, key: &Key, slot: &Slot) {
        let mut entries = self.lock();
        if entries
            .map
            .get(key)
            .is_some_and(|e| Arc::ptr_eq(&e.slot, slot) && slot.get().is_none())
        {
            entries.map.remove(key);
        }
    }
}

fn remove(entries: &mut Entries, key: &Key) {
    if let Some(e) = entries.map.remove(key) {
        entries.bytes -= e.weight;
    }
}
