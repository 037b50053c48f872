//! Cross-cutting request handling: one log line and one metric per failed
//! request, and the panic safety net.

use std::any::Any;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use tracing::Instrument;

use super::error::ErrorReport;
use super::metrics::{ErrorKind, Metrics, NO_SCENARIO};

/// Runs the request inside a span and, when it failed, logs it once (with the
/// [`ErrorReport`] a handler attached, or with what the status says when a
/// layer answered) and counts it in `steptalk_errors_total`.
pub async fn observe(State(metrics): State<Metrics>, req: Request, next: Next) -> Response {
    let span = tracing::info_span!("request", method = %req.method(), path = %req.uri().path());
    async move {
        let res = next.run(req).await;
        let status = res.status();
        if status.is_success() {
            return res;
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
                // Answered by a layer (timeout, body limit) or by the router
                // (no such route, wrong method).
                let (kind, reason) = match status {
                    StatusCode::REQUEST_TIMEOUT => {
                        (Some(ErrorKind::Body), "request took too long (slow client?)")
                    }
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
        res
    }
    .instrument(span)
    .await
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
}
