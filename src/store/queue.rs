//! A first-come, first-served queue per user in front of any backend's lock.
//!
//! The backends' locks are polled (SQLite, Redis, PostgreSQL) or wake every
//! waiter at once (`memory://`), so when one user's turns pile up, a waiter
//! can lose every race and wait until its lock wait runs out. Within one
//! process, [`Queued`] lines the turns of a user up on a fair async mutex:
//! only the first in line asks the backend, which is then free at once.
//! Across processes the backend's lock still decides.
//!
//! A holder that vanishes without releasing (a leaked lock) would block its
//! queue for ever, while the backend's lock expires after
//! [`StoreOptions::lock_ttl`](super::StoreOptions::lock_ttl). So nobody waits
//! in the queue longer than that; past it the waiter goes straight to the
//! backend, whose expiry rules apply as before.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::OwnedMutexGuard;
use tokio::time::Instant;

use super::{Record, Store, StoreError, UserKey, UserLock, Vars};

/// One place in line per user: the mutex is shared by the user's waiters.
type Gate = tokio::sync::Mutex<()>;

/// The users' queues. Entries are weak so an idle user costs nothing; the
/// last one out removes its entry.
type Gates = Arc<Mutex<HashMap<UserKey, Weak<Gate>>>>;

/// Wraps a backend with the per-user queue; see the module docs.
pub(crate) struct Queued {
    inner: Box<dyn Store>,
    gates: Gates,
    lock_ttl: Duration,
}

impl Queued {
    pub(crate) fn new(inner: Box<dyn Store>, lock_ttl: Duration) -> Self {
        Queued {
            inner,
            gates: Gates::default(),
            lock_ttl,
        }
    }

    /// The user's gate, shared with everyone in line for it.
    fn gate(&self, key: &UserKey) -> Arc<Gate> {
        let mut gates = lock_gates(&self.gates);
        if let Some(gate) = gates.get(key).and_then(Weak::upgrade) {
            return gate;
        }
        let gate = Arc::new(Gate::new(()));
        gates.insert(key.clone(), Arc::downgrade(&gate));
        gate
    }
}

/// The map's lock guards plain inserts and removes: a panic cannot leave it
/// half-updated, so poisoning is ignored.
fn lock_gates(gates: &Gates) -> std::sync::MutexGuard<'_, HashMap<UserKey, Weak<Gate>>> {
    gates
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[async_trait]
impl Store for Queued {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn load(&self, key: &UserKey) -> Result<Record, StoreError> {
        self.inner.load(key).await
    }

    async fn save(
        &self,
        key: &UserKey,
        vars: &Vars,
        expected_version: u64,
    ) -> Result<u64, StoreError> {
        self.inner.save(key, vars, expected_version).await
    }

    async fn lock(&self, key: &UserKey, wait: Duration) -> Result<Box<dyn UserLock>, StoreError> {
        let start = Instant::now();
        let deadline = start + wait;
        let gate = self.gate(key);
        let in_line = tokio::time::timeout_at(
            deadline.min(start + self.lock_ttl),
            gate.clone().lock_owned(),
        )
        .await;
        let turn = match in_line {
            Ok(turn) => Some(turn),
            Err(_) if Instant::now() >= deadline => {
                forget_gate(&self.gates, key, gate);
                return Err(StoreError::LockTimeout);
            }
            // Whoever is ahead has held the line longer than a lock lives:
            // let the backend's expiry decide.
            Err(_) => None,
        };
        let remaining = deadline.saturating_duration_since(Instant::now());
        match self.inner.lock(key, remaining).await {
            Ok(inner) => Ok(Box::new(QueuedLock {
                inner: Some(inner),
                turn,
                gate: Some(gate),
                gates: self.gates.clone(),
                key: key.clone(),
            })),
            Err(err) => {
                drop(turn);
                forget_gate(&self.gates, key, gate);
                Err(err)
            }
        }
    }

    async fn health(&self) -> Result<(), StoreError> {
        self.inner.health().await
    }
}

/// Drops this holder's handle on `key`'s gate and removes the entry when
/// nobody else holds it.
fn forget_gate(gates: &Gates, key: &UserKey, gate: Arc<Gate>) {
    let mut map = lock_gates(gates);
    drop(gate);
    if map.get(key).is_some_and(|weak| weak.strong_count() == 0) {
        map.remove(key);
    }
}

/// The backend's lock plus this turn's place at the head of the line.
struct QueuedLock {
    inner: Option<Box<dyn UserLock>>,
    turn: Option<OwnedMutexGuard<()>>,
    gate: Option<Arc<Gate>>,
    gates: Gates,
    key: UserKey,
}

#[async_trait]
impl UserLock for QueuedLock {
    async fn release(mut self: Box<Self>) -> Result<(), StoreError> {
        // The backend first, so the next in line finds it free.
        let result = match self.inner.take() {
            Some(inner) => inner.release().await,
            None => Ok(()),
        };
        drop(self);
        result
    }
}

impl Drop for QueuedLock {
    fn drop(&mut self) {
        // An unreleased backend lock cleans up after itself when dropped.
        drop(self.inner.take());
        drop(self.turn.take());
        if let Some(gate) = self.gate.take() {
            forget_gate(&self.gates, &self.key, gate);
        }
    }
}
