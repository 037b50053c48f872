//! `memory://`: records in a process-local map, lost at exit. For tests,
//! demos and `steptalk chat`.
//!
//! Locks follow the same rules as the shared backends (a token and an expiry
//! per user) rather than a plain mutex, so that a holder that never releases
//! behaves the same everywhere and the one test suite covers this store too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{decode, encode, Record, Store, StoreError, StoreOptions, UserKey, UserLock, Vars};

/// The in-process store; see the module docs.
pub(crate) struct MemoryStore {
    shared: Arc<Shared>,
    options: StoreOptions,
}

struct Shared {
    /// Short critical sections only, never held across `.await`.
    state: Mutex<State>,
    /// Woken when a lock is released, so waiters retry at once.
    released: Notify,
}

#[derive(Default)]
struct State {
    records: HashMap<UserKey, Stored>,
    locks: HashMap<UserKey, Held>,
}

/// A record as kept: its JSON text, as the other backends keep it. A third
/// of the memory of the parsed map (a server with 10,000 users holds 10,000
/// of these), and every turn round-trips through JSON on every backend alike.
struct Stored {
    json: Box<str>,
    version: u64,
}

struct Held {
    token: u64,
    expires: Instant,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the maps half-updated
        // (every update is a single insert or remove), so poisoning is ignored.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn unlock(&self, key: &UserKey, token: u64) {
        let mut state = self.state();
        if state.locks.get(key).is_some_and(|held| held.token == token) {
            state.locks.remove(key);
        }
        drop(state);
        self.released.notify_waiters();
    }
}

impl MemoryStore {
    pub(crate) fn new(options: StoreOptions) -> Self {
        MemoryStore {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                released: Notify::new(),
            }),
            options,
        }
    }
}

#[async_trait]
impl Store for MemoryStore {
    fn backend(&self) -> &'static str {
        "memory"
    }

    async fn load(&self, key: &UserKey) -> Result<Record, StoreError> {
        let (json, version) = match self.shared.state().records.get(key) {
            Some(stored) => (stored.json.clone(), stored.version),
            None => return Ok(Record::default()),
        };
        Ok(Record {
            vars: decode("memory", &json)?,
            version,
        })
    }

    async fn save(
        &self,
        key: &UserKey,
        vars: &Vars,
        expected_version: u64,
    ) -> Result<u64, StoreError> {
        let json = encode(vars, self.options.max_record_bytes)?.into_boxed_str();
        let mut state = self.shared.state();
        let current = state.records.get(key).map_or(0, |record| record.version);
        if current != expected_version {
            return Err(StoreError::Conflict);
        }
        let version = current + 1;
        state.records.insert(key.clone(), Stored { json, version });
        Ok(version)
    }

    async fn lock(&self, key: &UserKey, wait: Duration) -> Result<Box<dyn UserLock>, StoreError> {
        let deadline = Instant::now() + wait;
        loop {
            // Register interest before checking, so a release between the
            // check and the wait is not missed.
            let released = self.shared.released.notified();
            let retry_at = {
                let mut state = self.shared.state();
                let now = Instant::now();
                match state.locks.get(key) {
                    Some(held) if held.expires > now => held.expires,
                    _ => {
                        let token = rand::random();
                        let expires = now + self.options.lock_ttl;
                        state.locks.insert(key.clone(), Held { token, expires });
                        return Ok(Box::new(MemoryLock {
                            shared: self.shared.clone(),
                            key: key.clone(),
                            token,
                            released: false,
                        }));
                    }
                }
            };
            if Instant::now() >= deadline {
                return Err(StoreError::LockTimeout);
            }
            // Wake on a release, on the holder's expiry, or at the deadline.
            let _ = tokio::time::timeout_at(retry_at.min(deadline), released).await;
        }
    }

    async fn health(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

struct MemoryLock {
    shared: Arc<Shared>,
    key: UserKey,
    token: u64,
    released: bool,
}

#[async_trait]
impl UserLock for MemoryLock {
    async fn release(mut self: Box<Self>) -> Result<(), StoreError> {
        self.released = true;
        self.shared.unlock(&self.key, self.token);
        Ok(())
    }
}

impl Drop for MemoryLock {
    fn drop(&mut self) {
        if !self.released {
            self.shared.unlock(&self.key, self.token);
        }
    }
}
