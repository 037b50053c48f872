//! `steptalk serve`: the axum app, its middleware and routes.
//!
//! Start reading at [`run`] (what `main` calls), then [`router`] (the routes
//! inside the `Edge` service of `middleware.rs`, pure, drivable with
//! `oneshot`) and [`serve`] (the accept loop with graceful shutdown, used by
//! loopback tests). One Alexa request goes through `turn::handle`; `--watch`
//! lives in `reload.rs`.
//!
//! **Invariants:**
//! - The server keeps no per-user memory between turns: the waiting step
//!   travels in Alexa's `sessionAttributes`, variables live in the [`Store`](crate::store::Store).
//! - Only `adapter.rs` calls into [`crate::alexa`]; the rest of the server
//!   never looks inside Alexa JSON.
//! - A failing turn answers the apology with status 200; only verification,
//!   malformed input, unknown scenarios and store failures are HTTP errors.
//! - Access tokens never reach a log line: `AlexaTurn`'s `Debug` hides them and no
//!   handler logs a body, a header or an outbound URL.

mod adapter;
mod error;
mod metrics;
mod middleware;
mod reload;
mod routes;
mod state;
mod turn;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

pub use adapter::Verifier;
pub use error::{ApiError, ErrorReport, ServeError};
pub use metrics::{ErrorKind, Metrics, Outcome};
pub use reload::{watch, ScenarioWatcher};
pub use state::{AppState, Limits, LiveScenarios, ScenarioSet};

use crate::store::StoreOptions;

/// `steptalk serve` options.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Scenario folders, or folders of them, to serve (each scenario under
    /// its folder name; see [`crate::scenario::discover`]).
    pub dirs: Vec<PathBuf>,
    /// Where to listen.
    pub listen: SocketAddr,
    /// The store URL (`memory://`, `sqlite://PATH`, …).
    pub store_url: String,
    /// Accepted Alexa application ids (empty: any).
    pub skill_ids: Vec<String>,
    /// Accept unsigned requests (local clients only).
    pub insecure_skip_verify: bool,
    /// `--rewrite-outbound PREFIX=REPLACEMENT` rules.
    pub rewrites: Vec<crate::outbound::Rewrite>,
    /// Largest stored record of one user, as JSON bytes: a turn whose variables
    /// would exceed it fails with a clear error instead of being truncated.
    pub max_record_bytes: usize,
    /// Reload the scenarios when a file under `dirs` changes (`--watch`).
    pub watch: bool,
}

/// Loads the scenarios, opens the store, binds `options.listen` and serves
/// until SIGINT or SIGTERM.
pub async fn run(options: ServeOptions) -> Result<(), ServeError> {
    let state = build_state(&options).await?;
    // One server per process here, so the store's metrics can go to its recorder.
    if !state.metrics.install_global() {
        tracing::warn!("a global metrics recorder was already installed; store metrics will not show in /metrics");
    }
    let listener = TcpListener::bind(options.listen).await?;
    tracing::info!(
        listen = %listener.local_addr()?,
        scenarios = ?state.scenarios.current().ids().collect::<Vec<_>>(),
        store = state.store.backend(),
        verify = state.verifier.is_some(),
        watch = options.watch,
        "serving"
    );
    // Watching stops when the watcher is dropped, after `serve` returns.
    let _watcher = match options.watch {
        true => Some(watch(&options.dirs, state.scenarios.clone())?),
        false => None,
    };
    serve(listener, state, shutdown_signal()).await
}

/// Builds the state `run` serves: scenarios, store, engine, verifier.
pub async fn build_state(options: &ServeOptions) -> Result<AppState, ServeError> {
    if options.insecure_skip_verify {
        tracing::warn!(
            "!!! --insecure-skip-verify: request signatures are NOT checked. \
             Anyone who can reach this port can impersonate Alexa. Use it only for local clients. !!!"
        );
    }
    let scenarios = load_scenarios(&options.dirs)?;
    let store = crate::store::open(
        &options.store_url,
        StoreOptions {
            max_record_bytes: options.max_record_bytes,
            ..StoreOptions::default()
        },
    )
    .await
    .map_err(|source| ServeError::Store {
        url: options.store_url.clone(),
        source,
    })?;
    let outbound = crate::outbound::HttpOutbound::new(options.rewrites.clone())
        .map_err(|err| ServeError::Start(format!("building the HTTP client: {err}")))?;
    let engine = crate::engine::Engine {
        outbound: Arc::new(outbound),
        config: crate::engine::EngineConfig::default(),
    };
    let verifier = if options.insecure_skip_verify {
        None
    } else {
        let config = crate::alexa::verify::VerifierConfig::new(options.skill_ids.clone())
            .map_err(|err| ServeError::Start(format!("building the verifier: {err}")))?;
        Some(Arc::new(Verifier::new(config)))
    };
    Ok(AppState {
        store,
        engine,
        verifier,
        skill_ids: options.skill_ids.clone().into(),
        metrics: Metrics::new().with_scenarios(scenarios.ids()),
        scenarios: Arc::new(LiveScenarios::new(scenarios)),
        limits: Arc::new(Limits::default()),
    })
}

/// Loads every scenario folder under `dirs`; an error in any stops the start
/// (or a reload), with every rendered diagnostic of every folder. Warnings
/// are logged.
pub fn load_scenarios(dirs: &[PathBuf]) -> Result<ScenarioSet, ServeError> {
    if dirs.is_empty() {
        return Err(ServeError::Start("no scenario folder to serve".to_string()));
    }
    let dirs = crate::scenario::discover(dirs);
    let mut scenarios = Vec::new();
    let mut rendered = String::new();
    let mut diagnostics = Vec::new();
    for dir in &dirs {
        let loaded = crate::scenario::load(dir);
        for diagnostic in &loaded.diagnostics {
            if diagnostic.is_error() {
                // The full rustc-like form, as `check` prints it.
                rendered.push_str(&crate::diagnostic::render(
                    diagnostic,
                    &loaded.sources,
                    false,
                ));
                rendered.push('\n');
            } else {
                let line = crate::diagnostic::render_header(diagnostic, &loaded.sources);
                tracing::warn!(scenario = %dir.display(), "{line}");
            }
        }
        let has_errors = loaded.diagnostics.iter().any(|d| d.is_error());
        diagnostics.extend(loaded.diagnostics);
        match loaded.scenario {
            Some(scenario) if !has_errors => scenarios.push(scenario),
            _ if has_errors => {}
            _ => {
                rendered.push_str(&format!("{}: error: no scenario found\n", dir.display()));
            }
        }
    }
    if !rendered.is_empty() {
        return Err(ServeError::Scenario {
            n_errors: diagnostics.iter().filter(|d| d.is_error()).count().max(1),
            rendered,
            diagnostics,
        });
    }
    Ok(ScenarioSet::new(scenarios))
}

/// The app: the routes inside the [`Edge`](middleware::Edge) (the request's
/// time budget, panic catching, logging and metrics of failures). A tower
/// `Service`, so tests can also drive it with `oneshot`.
pub fn router(state: AppState) -> middleware::Edge {
    let metrics = state.metrics.clone();
    let request_timeout = state.limits.request;
    let routes = Router::new()
        .route("/alexa/{name}", post(routes::alexa_named))
        .route("/", post(routes::alexa_root))
        .route("/healthz", get(routes::healthz))
        .route("/metrics", get(routes::metrics))
        .with_state(state);
    middleware::Edge::new(routes, metrics, request_timeout)
}

/// Serves [`router`]`(state)` on `listener` until `shutdown` resolves, then
/// stops accepting, lets in-flight requests finish (at most
/// [`Limits::drain`]) and returns.
///
/// Connections are driven by hyper directly, rather than `axum::serve`, so a
/// client that sends its headers too slowly is cut off after
/// [`Limits::header_read`].
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let limits = state.limits.clone();
    let metrics = state.metrics.clone();
    let app = router(state);
    let upkeep = tokio::spawn(async move {
        // Histograms buffer every sample until upkeep; under load that is
        // megabytes per second, so drain them often.
        let mut interval = tokio::time::interval(Duration::from_secs(1));
        loop {
            interval.tick().await;
            metrics.run_upkeep();
        }
    });

    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read)
        .keep_alive(true);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        // Usually out of file descriptors: back off instead of spinning.
                        tracing::error!(error = %err, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                // Alexa answers are small and latency-bound.
                let _ = stream.set_nodelay(true);
                let service = TowerToHyperService::new(app.clone());
                let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                tokio::spawn(async move {
                    if let Err(err) = conn.await {
                        if err.is_timeout() {
                            tracing::warn!(%peer, "closed a connection: client too slow sending the request headers");
                        } else {
                            tracing::debug!(%peer, error = %err, "connection error");
                        }
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!("shutting down: no new connections, finishing in-flight requests");
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all requests finished"),
        () = tokio::time::sleep(limits.drain) => {
            tracing::warn!(drain_s = limits.drain.as_secs(), "in-flight requests still running after the drain period; stopping anyway");
        }
    }
    upkeep.abort();
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("received SIGINT"),
        () = terminate => tracing::info!("received SIGTERM"),
    }
}
