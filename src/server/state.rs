//! The server's shared state: a handle that is cheap to clone into every request.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::adapter::Verifier;
use super::metrics::Metrics;
use crate::engine::Engine;
use crate::scenario::Scenario;
use crate::store::Store;

/// The served scenarios, by id (the folder name, used in `POST /alexa/{id}`).
///
/// Immutable once built: a reload builds a new set and swaps the `Arc`, so
/// requests already running finish on the set they started with.
#[derive(Debug, Default)]
pub struct ScenarioSet {
    by_id: BTreeMap<String, Arc<Scenario>>,
}

impl ScenarioSet {
    /// A set of scenarios; a later scenario with the same id replaces an earlier one.
    pub fn new(scenarios: impl IntoIterator<Item = Scenario>) -> ScenarioSet {
        ScenarioSet {
            by_id: scenarios
                .into_iter()
                .map(|scenario| (scenario.id.clone(), Arc::new(scenario)))
                .collect(),
        }
    }

    /// The scenario named `id`.
    pub fn get(&self, id: &str) -> Option<&Arc<Scenario>> {
        self.by_id.get(id)
    }

    /// The only scenario, when exactly one is served (for `POST /`).
    pub fn single(&self) -> Option<&Arc<Scenario>> {
        match self.by_id.len() {
            1 => self.by_id.values().next(),
            _ => None,
        }
    }

    /// Scenario ids, sorted.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.by_id.keys().map(String::as_str)
    }

    /// How many scenarios are served.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether no scenario is served.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

/// The scenarios being served now. `--watch` swaps in a whole new
/// [`ScenarioSet`] when the files change; a request takes the set once, at its
/// start, and finishes on it.
#[derive(Debug)]
pub struct LiveScenarios {
    current: RwLock<Arc<ScenarioSet>>,
}

impl LiveScenarios {
    /// Serves `set`.
    pub fn new(set: ScenarioSet) -> LiveScenarios {
        LiveScenarios {
            current: RwLock::new(Arc::new(set)),
        }
    }

    /// The set being served.
    pub fn current(&self) -> Arc<ScenarioSet> {
        // The lock only guards an `Arc` swap: a panic cannot leave it half-written.
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Serves `set` from now on.
    pub fn replace(&self, set: ScenarioSet) {
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(set);
    }
}

/// Limits and budgets of the HTTP edge.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest accepted request body (Alexa envelopes are a few KiB).
    pub body_bytes: usize,
    /// The whole request, body read included; past it the client gets 408.
    /// Kept under Alexa's 8 s so a drain at shutdown cannot hang.
    pub request: Duration,
    /// The turn (lock, load, engine, save); past it the user hears the apology.
    /// Shorter than `request` so the apology wins the race.
    pub turn: Duration,
    /// How long a turn waits for the user's lock.
    pub lock_wait: Duration,
    /// How long a client may take to send the request headers.
    pub header_read: Duration,
    /// How long a client may take to send the request body.
    pub client_read: Duration,
    /// After the shutdown signal, how long in-flight requests get before the
    /// server stops anyway.
    pub drain: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            body_bytes: 256 * 1024,
            request: Duration::from_secs(7),
            turn: Duration::from_millis(6500),
            lock_wait: Duration::from_secs(2),
            header_read: Duration::from_secs(5),
            client_read: Duration::from_secs(5),
            drain: Duration::from_secs(10),
        }
    }
}

/// Everything a request handler needs. Each field is a cheap handle.
#[derive(Clone)]
pub struct AppState {
    /// The served scenarios (swapped by `--watch`).
    pub scenarios: Arc<LiveScenarios>,
    /// Where user variables live.
    pub store: Arc<dyn Store>,
    /// Runs turns (holds the outbound HTTP client).
    pub engine: Engine,
    /// Request verification; `None` with `--insecure-skip-verify`.
    pub verifier: Option<Arc<Verifier>>,
    /// Accepted Alexa application ids (`--skill-id`); empty accepts any.
    pub skill_ids: Arc<[String]>,
    /// Counters and histograms for `/metrics`.
    pub metrics: Metrics,
    /// Limits and budgets.
    pub limits: Arc<Limits>,
}
