//! Persistent user variables (spec section 5): the [`Store`] trait and its
//! implementations, chosen by URL (`memory://`, `sqlite://PATH`, `redis://…`,
//! `postgres://…`).
//!
//! Records are keyed by scenario and user id and carry a version; a write whose
//! expected version is stale fails with [`StoreError::Conflict`] instead of
//! overwriting. Turns of one user are serialized across instances by
//! [`Store::lock`].
//!
//! OWNER: store helper.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

/// Whose variables: a scenario and a platform user id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserKey {
    pub scenario: String,
    pub user_id: String,
}

/// A user's stored variables and their version (0: never written).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Record {
    pub vars: serde_json::Map<String, serde_json::Value>,
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
    TooLarge { size: usize, limit: usize },
    /// The store URL is not understood.
    #[error("invalid store URL `{0}`: {1}")]
    Url(String, String),
    /// The backend failed (down, I/O, protocol).
    #[error("{backend} store unavailable: {message}")]
    Unavailable {
        backend: &'static str,
        message: String,
    },
}

/// Options common to every backend.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Maximum size of one user's record, as JSON bytes.
    pub max_record_bytes: usize,
    /// How long a lock is held at most if its holder dies.
    pub lock_ttl: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_record_bytes: 64 * 1024,
            lock_ttl: Duration::from_secs(10),
        }
    }
}

/// A held per-user lock. Dropping it without `release` lets it expire.
#[async_trait]
pub trait UserLock: Send {
    async fn release(self: Box<Self>) -> Result<(), StoreError>;
}

/// Where user variables live.
#[async_trait]
pub trait Store: Send + Sync {
    /// The backend's name (`memory`, `sqlite`, `redis`, `postgres`), for logs and metrics.
    fn backend(&self) -> &'static str;
    /// The user's record (an empty record with version 0 when there is none).
    async fn load(&self, key: &UserKey) -> Result<Record, StoreError>;
    /// Writes `vars` if the stored version is still `expected_version`; returns the new version.
    async fn save(
        &self,
        key: &UserKey,
        vars: &serde_json::Map<String, serde_json::Value>,
        expected_version: u64,
    ) -> Result<u64, StoreError>;
    /// Waits up to `wait` for the user's lock.
    async fn lock(&self, key: &UserKey, wait: Duration) -> Result<Box<dyn UserLock>, StoreError>;
    /// Whether the backend answers.
    async fn health(&self) -> Result<(), StoreError>;
}

/// Opens the store named by `url`.
pub async fn open(url: &str, options: StoreOptions) -> Result<Arc<dyn Store>, StoreError> {
    let _ = options;
    Err(StoreError::Url(
        url.to_string(),
        "not implemented yet".to_string(),
    ))
}
