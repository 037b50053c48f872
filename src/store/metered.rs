//! Latency and error metrics around any [`Store`]: every operation records
//! `steptalk_store_seconds{backend, op}` and every failure
//! `steptalk_store_errors_total{backend, op, kind}`. The server's exporter
//! publishes them; without an installed recorder they cost next to nothing.

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use metrics::Histogram;

use super::{Record, Store, StoreError, UserKey, UserLock, Vars};

/// Wraps the backend chosen by [`super::open`].
pub(crate) struct Metered {
    inner: Box<dyn Store>,
    /// The latency histograms, looked up in the global recorder once, at the
    /// first operation (the server installs its recorder before serving), so
    /// that an operation costs no registry lookup.
    latency: OnceLock<Arc<Latency>>,
}

/// One `steptalk_store_seconds` histogram per operation.
struct Latency {
    load: Histogram,
    save: Histogram,
    lock: Histogram,
    release: Histogram,
    health: Histogram,
}

impl Latency {
    fn register(backend: &'static str) -> Latency {
        let op = |op: &'static str| metrics::histogram!("steptalk_store_seconds", "backend" => backend, "op" => op);
        Latency {
            load: op("load"),
            save: op("save"),
            lock: op("lock"),
            release: op("release"),
            health: op("health"),
        }
    }
}

impl Metered {
    pub(crate) fn new(inner: Box<dyn Store>) -> Self {
        Metered {
            inner,
            latency: OnceLock::new(),
        }
    }

    fn latency(&self) -> &Arc<Latency> {
        self.latency
            .get_or_init(|| Arc::new(Latency::register(self.inner.backend())))
    }
}

async fn measure<T>(
    backend: &'static str,
    op: &'static str,
    latency: &Histogram,
    fut: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let start = Instant::now();
    let result = fut.await;
    latency.record(start.elapsed().as_secs_f64());
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
        measure(
            self.backend(),
            "load",
            &self.latency().load,
            self.inner.load(key),
        )
        .await
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
            &self.latency().save,
            self.inner.save(key, vars, expected_version),
        )
        .await
    }

    async fn lock(&self, key: &UserKey, wait: Duration) -> Result<Box<dyn UserLock>, StoreError> {
        let backend = self.backend();
        let latency = self.latency().clone();
        let inner = measure(backend, "lock", &latency.lock, self.inner.lock(key, wait)).await?;
        Ok(Box::new(MeteredLock {
            backend,
            latency,
            inner,
        }))
    }

    async fn health(&self) -> Result<(), StoreError> {
        measure(
            self.backend(),
            "health",
            &self.latency().health,
            self.inner.health(),
        )
        .await
    }
}

struct MeteredLock {
    backend: &'static str,
    latency: Arc<Latency>,
    inner: Box<dyn UserLock>,
}

#[async_trait]
impl UserLock for MeteredLock {
    async fn release(self: Box<Self>) -> Result<(), StoreError> {
        measure(
            self.backend,
            "release",
            &self.latency.release,
            self.inner.release(),
        )
        .await
    }
}
