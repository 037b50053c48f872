//! Prometheus metrics of the server, rendered by `GET /metrics`.
//!
//! Each [`Metrics`] owns its own recorder instead of installing a global one,
//! so several servers in one process (the integration tests) keep separate
//! counts and nothing depends on start-up order.
//!
//! Series (all labelled by `scenario`; requests for unknown scenarios use the
//! label `-` so a client cannot grow the label set):
//! - `steptalk_turns_total{scenario, outcome}`: answered turns, by [`Outcome`];
//! - `steptalk_turn_duration_seconds{scenario}`: histogram of the turn's wall time;
//! - `steptalk_errors_total{scenario, kind}`: rejected or failed requests, by [`ErrorKind`].
//!
//! The store records its own series (`steptalk_store_seconds`,
//! `steptalk_store_errors_total`, see `crate::store`) through the `metrics`
//! macros, which only reach a global recorder: `steptalk serve` therefore
//! installs its [`Metrics`] as the process's global recorder too
//! ([`Metrics::install_global`]), so `/metrics` shows them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use metrics::{Counter, Histogram, Key, Label, Metadata, Recorder};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

const TURNS: &str = "steptalk_turns_total";
const TURN_DURATION: &str = "steptalk_turn_duration_seconds";
const ERRORS: &str = "steptalk_errors_total";
/// The store's latency histogram (recorded by `crate::store`'s metered wrapper).
const STORE_SECONDS: &str = "steptalk_store_seconds";

/// Histogram buckets in seconds: fine below 10 ms (the engine's range), then
/// up to Alexa's 8 s deadline.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.0, 8.0,
];

/// The label used when a request names no served scenario.
pub const NO_SCENARIO: &str = "-";

/// How an answered turn ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The engine answered and the variables were saved.
    Ok,
    /// The engine failed; the user heard the apology.
    TurnError,
    /// The turn ran over its time budget; the user heard the apology.
    Timeout,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::TurnError => "turn_error",
            Outcome::Timeout => "timeout",
        }
    }
}

/// Why a request was rejected or failed (the `kind` label of `steptalk_errors_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Signature, certificate, timestamp or skill-id check failed.
    Verify,
    /// Not JSON, or JSON of the wrong shape.
    BadRequest,
    /// The body was over the limit.
    TooLarge,
    /// The client stopped sending the body or sent it too slowly.
    Body,
    /// No such scenario.
    NotFound,
    /// The store failed (load, lock or save).
    Store,
    /// The engine failed (answered with the apology).
    Turn,
    /// The turn ran over its budget (answered with the apology).
    Timeout,
    /// A handler panicked.
    Panic,
}

impl ErrorKind {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Verify => "verify",
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::Body => "body",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Store => "store",
            ErrorKind::Turn => "turn",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Panic => "panic",
        }
    }
}

/// The server's metrics: a private Prometheus recorder and its render handle.
/// Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    recorder: Arc<PrometheusRecorder>,
    handle: PrometheusHandle,
    /// The turn series of the served scenarios, registered once at start so
    /// that a turn costs a few atomic operations instead of a registry lookup
    /// (and so that they show in `/metrics`, at zero, before the first turn).
    turns: Arc<HashMap<String, TurnSeries>>,
}

/// The handles of one scenario's turn series.
struct TurnSeries {
    ok: Counter,
    turn_error: Counter,
    timeout: Counter,
    duration: Histogram,
}

impl TurnSeries {
    fn register(recorder: &PrometheusRecorder, scenario: &str) -> TurnSeries {
        let metadata = metadata();
        let counter = |outcome: Outcome| {
            let key = Key::from_parts(
                TURNS,
                vec![
                    Label::new("scenario", scenario.to_string()),
                    Label::new("outcome", outcome.as_str()),
                ],
            );
            recorder.register_counter(&key, &metadata)
        };
        let key = Key::from_parts(
            TURN_DURATION,
            vec![Label::new("scenario", scenario.to_string())],
        );
        TurnSeries {
            ok: counter(Outcome::Ok),
            turn_error: counter(Outcome::TurnError),
            timeout: counter(Outcome::Timeout),
            duration: recorder.register_histogram(&key, &metadata),
        }
    }

    fn record(&self, outcome: Outcome, elapsed: Duration) {
        let counter = match outcome {
            Outcome::Ok => &self.ok,
            Outcome::TurnError => &self.turn_error,
            Outcome::Timeout => &self.timeout,
        };
        counter.increment(1);
        self.duration.record(elapsed.as_secs_f64());
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A fresh, empty set of metrics.
    pub fn new() -> Metrics {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(TURN_DURATION.to_string()), BUCKETS)
            .and_then(|builder| {
                builder.set_buckets_for_metric(Matcher::Full(STORE_SECONDS.to_string()), BUCKETS)
            })
            .expect("the bucket list is a non-empty constant");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        Metrics {
            recorder: Arc::new(recorder),
            handle,
            turns: Arc::default(),
        }
    }

    /// Registers the turn series of `scenarios` up front (see [`Metrics::turn`]).
    pub fn with_scenarios<'a>(mut self, scenarios: impl IntoIterator<Item = &'a str>) -> Metrics {
        let mut turns = HashMap::new();
        for scenario in scenarios {
            turns.insert(
                scenario.to_string(),
                TurnSeries::register(&self.recorder, scenario),
            );
        }
        self.turns = Arc::new(turns);
        self
    }

    /// Makes this the process-wide recorder as well, so series recorded with
    /// the `metrics` macros (the store's) are rendered by [`Metrics::render`].
    /// Only the first call in a process succeeds; returns whether this one did.
    pub fn install_global(&self) -> bool {
        metrics::set_global_recorder(self.recorder.clone()).is_ok()
    }

    /// Counts an answered turn and records its duration.
    ///
    /// A scenario registered by [`Metrics::with_scenarios`] costs no lookup in
    /// the recorder; any other is registered on the spot.
    pub fn turn(&self, scenario: &str, outcome: Outcome, elapsed: Duration) {
        match self.turns.get(scenario) {
            Some(series) => series.record(outcome, elapsed),
            None => TurnSeries::register(&self.recorder, scenario).record(outcome, elapsed),
        }
    }

    /// Counts a rejected or failed request.
    pub fn error(&self, scenario: &str, kind: ErrorKind) {
        let key = Key::from_parts(
            ERRORS,
            vec![
                Label::new("scenario", scenario.to_string()),
                Label::new("kind", kind.as_str()),
            ],
        );
        self.recorder
            .register_counter(&key, &metadata())
            .increment(1);
    }

    /// The Prometheus text exposition of every series.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Drains histogram buffers; the server calls this periodically so that
    /// memory stays flat when nobody scrapes `/metrics`.
    pub fn run_upkeep(&self) {
        self.handle.run_upkeep();
    }
}

fn metadata() -> Metadata<'static> {
    Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_turns_errors_and_histogram_per_scenario() {
        // "quiz" is registered up front, "other" on its first turn.
        let metrics = Metrics::new().with_scenarios(["quiz"]);
        metrics.turn("other", Outcome::Timeout, Duration::from_millis(1));
        metrics.turn("quiz", Outcome::Ok, Duration::from_millis(2));
        metrics.turn("quiz", Outcome::TurnError, Duration::from_millis(3));
        metrics.error("quiz", ErrorKind::Turn);
        metrics.error(NO_SCENARIO, ErrorKind::NotFound);
        let text = metrics.render();
        for needle in [
            r#"steptalk_turns_total{scenario="quiz",outcome="ok"} 1"#,
            r#"steptalk_turns_total{scenario="quiz",outcome="turn_error"} 1"#,
            r#"steptalk_errors_total{scenario="quiz",kind="turn"} 1"#,
            r#"steptalk_errors_total{scenario="-",kind="not_found"} 1"#,
            r#"steptalk_turn_duration_seconds_bucket{scenario="quiz",le="0.0025"} 1"#,
            r#"steptalk_turn_duration_seconds_count{scenario="quiz"} 2"#,
            r#"steptalk_turns_total{scenario="quiz",outcome="timeout"} 0"#,
            r#"steptalk_turns_total{scenario="other",outcome="timeout"} 1"#,
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
    }
}
