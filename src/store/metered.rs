//! Latency and error metrics around any [`Store`]: every operation records
//! `steptalk_store_seconds{backend, op}` and every failure
//! `steptalk_store_errors_total{backend, op, kind}`. The server's exporter
//! publishes them; without an installed recorder they cost next to nothing.

use std::future::Future;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{Record, Store, StoreError, UserKey, UserLock, Vars};

/// Wraps the backend chosen by [`super::open`].
pub(crate) struct Metered {
    inner: Box<dyn Store>,
}

impl Metered {
    pub(crate) fn new(inner: Box<dyn Store>) -> Self {
        Metered { inner }
    }
}

async fn measure<T>(
    backend: &'static str,
    op: &'static str,
    fut: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let start = Instant::now();
    let result = fut.await;
    metrics::histogram!("steptalk_store_seconds", "backend" => backend, "op" => op)
        .record(start.elapsed().as_secs_f64());
    if let Err(err) = &result {
        metrics::counter!(
            "steptalk_store_errors_total",
            "backend" => backend,
            "op" => op,
            "kind" => err.kind()
        )
        .increment(1);
    }
    result
}

#[async_trait]
impl Store for Metered {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn load(&self, key: &UserKey) -> Result<Record, StoreError> {
        measure(self.backend(), "load", self.inner.load(key)).await
    }

    async fn save(
        &self,
        key: &UserKey,
        vars: &Vars,
        expected_version: u64,
    ) -> Result<u64, StoreError> {
        measure(
            self.backend(),
            "save",
            self.inner.save(key, vars, expected_version),
        )
        .await
    }

    async fn lock(&self, key: &UserKey, wait: Duration) -> Result<Box<dyn UserLock>, StoreError> {
        let backend = self.backend();
        let inner = measure(backend, "lock", self.inner.lock(key, wait)).await?;
        Ok(Box::new(MeteredLock { backend, inner }))
    }

    async fn health(&self) -> Result<(), StoreError> {
        measure(self.backend(), "health", self.inner.health()).await
    }
}

struct MeteredLock {
    backend: &'static str,
    inner: Box<dyn UserLock>,
}

#[async_trait]
impl UserLock for MeteredLock {
    async fn release(self: Box<Self>) -> Result<(), StoreError> {
        measure(self.backend, "release", self.inner.release()).await
    }
}
