//! Cross-cutting request handling, in one service around the router
//! ([`Edge`]): the request's time budget, the panic safety net, and one log
//! line and one metric per failed request.
//!
//! One hand-written service instead of three tower layers (`TimeoutLayer`,
//! `CatchPanicLayer`, `from_fn`): each layer boxes and clones every route per
//! request, which cost about 6 % of a request's instructions (decision 0006).

use std::any::Any;
use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use futures::FutureExt as _;
use tower::Service;
use tracing::Instrument;

use super::error::ErrorReport;
use super::metrics::{ErrorKind, Metrics, NO_SCENARIO};

/// The outermost service: the router, run within `request_timeout` (past it
/// the client gets 408), with panics turned into a 500, and every failed
/// request logged once and counted in `steptalk_errors_total`.
#[derive(Clone)]
pub struct Edge {
    router: Router,
    metrics: Metrics,
    request_timeout: Duration,
}

impl Edge {
    /// Wraps `router`.
    pub fn new(router: Router, metrics: Metrics, request_timeout: Duration) -> Edge {
        Edge {
            router,
            metrics,
            request_timeout,
        }
    }
}

impl<B> Service<axum::http::Request<B>> for Edge
where
    B: axum::body::HttpBody<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: axum::http::Request<B>) -> Self::Future {
        let span = tracing::info_span!("request", method = %req.method(), path = %req.uri().path());
        let metrics = self.metrics.clone();
        let budget = self.request_timeout;
        // The router's future owns what it needs: no clone of the router.
        let routed = AssertUnwindSafe(self.router.call(req.map(Body::new))).catch_unwind();
        Box::pin(
            async move {
                let res = match tokio::time::timeout(budget, routed).await {
                    Ok(Ok(Ok(res))) => res,
                    Ok(Ok(Err(never))) => match never {},
                    Ok(Err(panic)) => panic_response(panic),
                    Err(_elapsed) => StatusCode::REQUEST_TIMEOUT.into_response(),
                };
                observe(&metrics, &res);
                Ok(res)
            }
            .instrument(span),
        )
    }
}

/// When `res` is a failure, logs it once (with the [`ErrorReport`] a handler
/// attached, or with what the status says when the edge or the router
/// answered) and counts it.
fn observe(metrics: &Metrics, res: &Response) {
    let status = res.status();
    if status.is_success() {
        return;
    }
    match res.extensions().get::<ErrorReport>() {
        Some(report) => {
            metrics.error(&report.scenario, report.kind);
            if status.is_server_error() {
                tracing::error!(status = status.as_u16(), scenario = %report.scenario, kind = %report.kind.as_str(), error = %report.detail, "request failed");
            } else {
                tracing::warn!(status = status.as_u16(), scenario = %report.scenario, kind = %report.kind.as_str(), error = %report.detail, "request rejected");
            }
        }
        None => {
            // Answered by the edge (timeout) or by the router (no such
            // route, wrong method).
            let (kind, reason) = match status {
                StatusCode::REQUEST_TIMEOUT => (
                    Some(ErrorKind::Body),
                    "request took too long (slow client?)",
                ),
                StatusCode::PAYLOAD_TOO_LARGE => {
                    (Some(ErrorKind::TooLarge), "request body over the limit")
                }
                StatusCode::NOT_FOUND => (Some(ErrorKind::NotFound), "no such route"),
                StatusCode::METHOD_NOT_ALLOWED => (None, "method not allowed"),
                _ => (None, "request failed"),
            };
            if let Some(kind) = kind {
                metrics.error(NO_SCENARIO, kind);
            }
            tracing::warn!(status = status.as_u16(), "{reason}");
        }
    }
}

/// Turns a handler panic into a 500 with a generic body; the panic message
/// goes to the log through the attached [`ErrorReport`].
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_string()
    } else {
        "unknown panic payload".to_string()
    };
    let mut res = (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(serde_json::json!({ "error": "internal error" })),
    )
        .into_response();
    res.extensions_mut().insert(ErrorReport {
        scenario: NO_SCENARIO.to_string(),
        kind: ErrorKind::Panic,
        detail: format!("handler panicked: {message}"),
    });
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_a_generic_500_with_the_message_in_the_report() {
        for payload in [
            Box::new("boom") as Box<dyn Any + Send>,
            Box::new(String::from("boom")),
        ] {
            let res = panic_response(payload);
            assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
            let report = res.extensions().get::<ErrorReport>().expect("report");
            assert_eq!(report.kind, ErrorKind::Panic);
            assert_eq!(report.detail, "handler panicked: boom");
        }
    }

    /// What the edge answers and counts when a route panics, runs over the
    /// budget, fails with a report, or does not exist.
    #[tokio::test]
    async fn the_edge_answers_and_counts_every_failure() {
        use axum::routing::get;
        use tower::ServiceExt as _;

        async fn slow() -> &'static str {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "too late"
        }
        async fn panics() -> &'static str {
            panic!("boom")
        }
        async fn rejects() -> Response {
            let mut res = StatusCode::BAD_REQUEST.into_response();
            res.extensions_mut().insert(ErrorReport {
                scenario: "quiz".to_string(),
                kind: ErrorKind::BadRequest,
                detail: "not JSON".to_string(),
            });
            res
        }
        let metrics = Metrics::new();
        let router = Router::new()
            .route("/ok", get(|| async { "fine" }))
            .route("/slow", get(slow))
            .route("/panics", get(panics))
            .route("/rejects", get(rejects));
        let edge = Edge::new(router, metrics.clone(), Duration::from_millis(50));

        let cases = [
            ("/ok", StatusCode::OK, None),
            (
                "/slow",
                StatusCode::REQUEST_TIMEOUT,
                Some(r#"{scenario="-",kind="body"} 1"#),
            ),
            (
                "/panics",
                StatusCode::INTERNAL_SERVER_ERROR,
                Some(r#"{scenario="-",kind="panic"} 1"#),
            ),
            (
                "/rejects",
                StatusCode::BAD_REQUEST,
                Some(r#"{scenario="quiz",kind="bad_request"} 1"#),
            ),
            (
                "/missing",
                StatusCode::NOT_FOUND,
                Some(r#"{scenario="-",kind="not_found"} 1"#),
            ),
        ];
        for (path, status, counted) in cases {
            let req = axum::http::Request::get(path)
                .body(Body::empty())
                .expect("a valid request");
            let res = edge.clone().oneshot(req).await.expect("infallible");
            assert_eq!(res.status(), status, "{path}");
            if let Some(series) = counted {
                let text = metrics.render();
                assert!(
                    text.contains(&format!("steptalk_errors_total{series}")),
                    "{path}: no `{series}` in\n{text}"
                );
            }
        }
        let panic_body = {
            let req = axum::http::Request::get("/panics")
                .body(Body::empty())
                .expect("a valid request");
            let res = edge.clone().oneshot(req).await.expect("infallible");
            axum::body::to_bytes(res.into_body(), 1024)
                .await
                .expect("a body")
        };
        // The panic message goes to the log, never to the client.
        assert_eq!(&panic_body[..], br#"{"error":"internal error"}"#);
    }
}
