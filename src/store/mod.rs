//! Persistent user variables (spec section 5): the [`Store`] trait and its
//! implementations, chosen by URL (`memory://`, `sqlite://PATH`, `redis://…`,
//! `postgres://…`).
//!
//! Records are keyed by scenario and user id and carry a version; a write whose
//! expected version is stale fails with [`StoreError::Conflict`] instead of
//! overwriting. Turns of one user are serialized across instances by
//! [`Store::lock`], a lock with an expiry (so a dead holder cannot block a user
//! for ever) that lives in the backend itself (so it holds across processes).
//!
//! Start reading at [`open`] and [`with_user`], the helper the server wraps
//! around each turn. Every backend lives in its own file; [`queue`] lines up
//! one user's turns in this process in front of the chosen one, and
//! [`metered`] wraps both to record latency and error metrics. No backend may truncate a
//! record, block a tokio worker thread, or hang longer than its timeouts when
//! the backend is down. `docs/stores.md` describes URLs, schemas and locking.

mod memory;
mod metered;
mod postgres;
mod queue;
mod redis;
mod sqlite;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

/// A user's variables, as stored.
pub type Vars = serde_json::Map<String, serde_json::Value>;

/// Whose variables: a scenario and a platform user id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserKey {
    /// The scenario's name (its folder name).
    pub scenario: String,
    /// The platform's user id (Alexa `userId`).
    pub user_id: String,
}

impl UserKey {
    /// A key for `user_id` in `scenario`.
    pub fn new(scenario: impl Into<String>, user_id: impl Into<String>) -> Self {
        UserKey {
            scenario: scenario.into(),
            user_id: user_id.into(),
        }
    }
}

/// A user's stored variables and their version (0: never written).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Record {
    /// The persistent variables.
    pub vars: Vars,
    /// Bumped by every successful [`Store::save`]; 0 when nothing was ever saved.
    pub version: u64,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Someone else wrote the record since it was loaded.
    #[error("the record changed since it was read (version conflict)")]
    Conflict,
    /// The per-user lock was not free within the wait.
    #[error("timed out waiting for the user's lock")]
    LockTimeout,
    /// The record would exceed the configured size limit.
    #[error("user record is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// The record's size as JSON bytes.
        size: usize,
        /// [`StoreOptions::max_record_bytes`].
        limit: usize,
    },
    /// The store URL is not understood.
    #[error("invalid store URL `{0}`: {1}")]
    Url(String, String),
    /// The backend failed (down, I/O, protocol).
    #[error("{backend} store unavailable: {message}")]
    Unavailable {
        /// The backend's name, as [`Store::backend`].
        backend: &'static str,
        /// What went wrong, for logs.
        message: String,
    },
}

impl StoreError {
    /// A short stable name of the error's kind, for metric labels.
    pub fn kind(&self) -> &'static str {
        match self {
            StoreError::Conflict => "conflict",
            StoreError::LockTimeout => "lock_timeout",
            StoreError::TooLarge { .. } => "too_large",
            StoreError::Url(..) => "url",
            StoreError::Unavailable { .. } => "unavailable",
        }
    }

    pub(crate) fn unavailable(backend: &'static str, err: impl std::fmt::Display) -> Self {
        StoreError::Unavailable {
            backend,
            message: err.to_string(),
        }
    }
}

/// Options common to every backend.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Maximum size of one user's record, as JSON bytes.
    pub max_record_bytes: usize,
    /// How long a lock is held at most if its holder dies.
    pub lock_ttl: Duration,
    /// How long connecting to the backend, one call to it, or waiting for a
    /// busy SQLite file may take before the operation fails as
    /// [`StoreError::Unavailable`].
    pub timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_record_bytes: 64 * 1024,
            lock_ttl: Duration::from_secs(10),
            timeout: Duration::from_secs(2),
        }
    }
}

/// A held per-user lock.
///
/// `release` frees it at once. Dropping it without `release` (a cancelled
/// turn) frees it in the background on a best-effort basis; if even that
/// never happens (the process died) the lock expires after
/// [`StoreOptions::lock_ttl`].
#[async_trait]
pub trait UserLock: Send {
    /// Frees the lock (a no-op if it already expired and someone else holds it).
    async fn release(self: Box<Self>) -> Result<(), StoreError>;
}

impl std::fmt::Debug for dyn UserLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UserLock")
    }
}

/// Where user variables live.
#[async_trait]
pub trait Store: Send + Sync {
    /// The backend's name (`memory`, `sqlite`, `redis`, `postgres`), for logs and metrics.
    fn backend(&self) -> &'static str;
    /// The user's record (an empty record with version 0 when there is none).
    async fn load(&self, key: &UserKey) -> Result<Record, StoreError>;
    /// Writes `vars` if the stored version is still `expected_version`; returns the new version.
    ///
    /// A record over [`StoreOptions::max_record_bytes`] fails with
    /// [`StoreError::TooLarge`] and leaves the stored record as it was.
    async fn save(
        &self,
        key: &UserKey,
        vars: &Vars,
        expected_version: u64,
    ) -> Result<u64, StoreError>;
    /// Waits up to `wait` for the user's lock.
    async fn lock(&self, key: &UserKey, wait: Duration) -> Result<Box<dyn UserLock>, StoreError>;
    /// Whether the backend answers.
    async fn health(&self) -> Result<(), StoreError>;
}

impl std::fmt::Debug for dyn Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.backend())
    }
}

/// Opens the store named by `url`:
///
/// - `memory://`: in-process, lost at exit;
/// - `sqlite://PATH` (`sqlite://steptalk.db`, `sqlite:///var/lib/steptalk.db`);
/// - `redis://HOST[:PORT][/DB][?prefix=P]`;
/// - `postgres://USER@HOST[:PORT]/DB[?schema=S]` (also `postgresql://`).
///
/// A backend that is down when the store is opened does not make `open` fail:
/// operations return [`StoreError::Unavailable`] until it comes back, and the
/// schema is created on the first successful connection. Call
/// [`Store::health`] to find out at start-up. Only a malformed URL fails here.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use steptalk::store::{open, StoreOptions, UserKey};
/// let store = open("memory://", StoreOptions::default()).await?;
/// let key = UserKey::new("quiz", "amzn1.ask.account.A");
/// let record = store.load(&key).await?;
/// assert_eq!(record.version, 0);
/// # Ok::<(), steptalk::store::StoreError>(())
/// # }).unwrap();
/// ```
pub async fn open(url: &str, options: StoreOptions) -> Result<Arc<dyn Store>, StoreError> {
    let lock_ttl = options.lock_ttl;
    let scheme = url.split_once("://").map(|(scheme, _)| scheme);
    let inner: Box<dyn Store> = match scheme {
        Some("memory") => Box::new(memory::MemoryStore::new(options)),
        Some("sqlite") => Box::new(sqlite::SqliteStore::open(url, options).await?),
        Some("redis" | "rediss") => redis::RedisStore::open(url, options).await?,
        Some("postgres" | "postgresql") => postgres::PostgresStore::open(url, options).await?,
        _ => {
            return Err(StoreError::Url(
                url.to_string(),
                "expected memory://, sqlite://PATH, redis://… or postgres://…".to_string(),
            ))
        }
    };
    let queued = queue::Queued::new(inner, lock_ttl);
    Ok(Arc::new(metered::Metered::new(Box::new(queued))))
}

/// Why [`with_user`] failed.
#[derive(Debug, thiserror::Error)]
pub enum WithUserError<E> {
    /// Locking, loading or saving failed; the turn's result is lost.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The turn itself failed; the record was left untouched.
    #[error("{0}")]
    Turn(E),
}

/// How many times [`with_user`] runs a turn whose save lost a race.
const MAX_ATTEMPTS: usize = 3;

/// Runs one turn for a user: lock → load → `turn(record)` → save → release.
///
/// `turn` returns its result and, when the variables changed, the new
/// variables (`None` or unchanged variables: nothing is written). When `turn`
/// fails, nothing is written either, so a failed turn leaves the record as it
/// was. A save that loses a race (possible only when the lock expired under a
/// slow turn) runs `turn` again on the fresh record, up to three times in all.
/// The lock is released on every path; dropping the returned future
/// mid-way releases it in the background.
pub async fn with_user<T, E, F, Fut>(
    store: &dyn Store,
    key: &UserKey,
    lock_wait: Duration,
    mut turn: F,
) -> Result<T, WithUserError<E>>
where
    F: FnMut(Record) -> Fut,
    Fut: Future<Output = Result<(T, Option<Vars>), E>>,
{
    let lock = store.lock(key, lock_wait).await?;
    let result = async {
        let mut attempt = 1;
        loop {
            let record = store.load(key).await?;
            let version = record.version;
            let loaded = record.vars.clone();
            let (value, vars) = turn(record).await.map_err(WithUserError::Turn)?;
            let Some(vars) = vars.filter(|vars| *vars != loaded) else {
                return Ok(value);
            };
            match store.save(key, &vars, version).await {
                Ok(_) => return Ok(value),
                Err(StoreError::Conflict) if attempt < MAX_ATTEMPTS => {
                    tracing::warn!(
                        scenario = %key.scenario,
                        attempt,
                        "user record changed during the turn (lock expired?); running it again"
                    );
                    attempt += 1;
                }
                Err(err) => return Err(err.into()),
            }
        }
    }
    .await;
    if let Err(err) = lock.release().await {
        // The lock expires by itself; the turn's outcome stands.
        tracing::warn!(scenario = %key.scenario, error = %err, "could not release user lock");
    }
    result
}

/// Parses a store URL and takes steptalk's own query parameter `name` out of
/// it (`?prefix=` for Redis, `?schema=` for PostgreSQL), so the rest can go to
/// the backend's client as is. Returns the URL without it and its value.
fn split_store_url(url: &str, name: &str) -> Result<(url::Url, Option<String>), StoreError> {
    let mut parsed =
        url::Url::parse(url).map_err(|err| StoreError::Url(url.to_string(), err.to_string()))?;
    let mut value = None;
    let rest: Vec<(String, String)> = parsed
        .query_pairs()
        .filter_map(|(key, v)| {
            if key == name {
                value = Some(v.into_owned());
                None
            } else {
                Some((key.into_owned(), v.into_owned()))
            }
        })
        .collect();
    if rest.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(rest);
    }
    Ok((parsed, value))
}

/// Serializes `vars` and enforces the size limit; shared by the backends.
fn encode(vars: &Vars, limit: usize) -> Result<String, StoreError> {
    let json = serde_json::to_string(vars).map_err(|err| StoreError::Unavailable {
        backend: "encode",
        message: err.to_string(),
    })?;
    if json.len() > limit {
        return Err(StoreError::TooLarge {
            size: json.len(),
            limit,
        });
    }
    Ok(json)
}

/// Parses a stored record; a corrupt record is reported, not silently emptied.
fn decode(backend: &'static str, json: &str) -> Result<Vars, StoreError> {
    serde_json::from_str(json).map_err(|err| StoreError::Unavailable {
        backend,
        message: format!("stored record is not a JSON object: {err}"),
    })
}

/// A random token identifying one lock holder.
fn lock_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// A backend's lock, freed by one future: [`UserLock::release`] awaits it; a
/// lock dropped unreleased (a cancelled turn) runs it in the background, and
/// when no runtime is left to run it the backend's expiry frees the lock.
/// Shared by the backends whose locks live in the backend (SQLite, Redis,
/// PostgreSQL).
struct BackendLock {
    unlock: Option<Unlock>,
}

/// The future that frees a [`BackendLock`].
type Unlock = std::pin::Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send>>;

impl BackendLock {
    /// A lock that `unlock` frees (the future runs only on release or drop).
    fn boxed(
        unlock: impl Future<Output = Result<(), StoreError>> + Send + 'static,
    ) -> Box<dyn UserLock> {
        Box::new(BackendLock {
            unlock: Some(Box::pin(unlock)),
        })
    }
}

#[async_trait]
impl UserLock for BackendLock {
    async fn release(mut self: Box<Self>) -> Result<(), StoreError> {
        match self.unlock.take() {
            Some(unlock) => unlock.await,
            None => Ok(()),
        }
    }
}

impl Drop for BackendLock {
    fn drop(&mut self) {
        if let (Some(unlock), Ok(handle)) =
            (self.unlock.take(), tokio::runtime::Handle::try_current())
        {
            handle.spawn(unlock);
        }
    }
}

/// Calls `try_take` until it takes the lock (`Ok(true)`) or `wait` runs out,
/// pausing between attempts: shared by the backends whose locks are polled
/// (SQLite, Redis, PostgreSQL).
async fn poll_lock<F, Fut>(wait: Duration, mut try_take: F) -> Result<(), StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool, StoreError>>,
{
    let deadline = tokio::time::Instant::now() + wait;
    for attempt in 0.. {
        if try_take().await? {
            return Ok(());
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            break;
        }
        tokio::time::sleep_until((now + lock_backoff(attempt)).min(deadline)).await;
    }
    Err(StoreError::LockTimeout)
}

/// The pause before the next attempt to take a busy lock: short at first so
/// uncontended hand-overs are quick, growing so waiters don't hammer the backend.
fn lock_backoff(attempt: u32) -> Duration {
    Duration::from_millis((2u64 << attempt.min(5)).min(50))
}
