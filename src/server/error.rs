//! The server's two error types: [`ServeError`] stops the server (start-up,
//! socket), [`ApiError`] answers one request.
//!
//! An [`ApiError`] becomes a terse HTTP answer; the detail travels in an
//! [`ErrorReport`] response extension, and the logging middleware
//! (`super::middleware::observe`) writes it once, inside the request span, and
//! counts it. Handlers therefore never log their own errors.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::metrics::{ErrorKind, NO_SCENARIO};
use crate::diagnostic::Diagnostic;
use crate::store::StoreError;

/// Errors that stop the server from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Something in the set-up is wrong (no scenarios, a bad option).
    #[error("{0}")]
    Start(String),
    /// Scenario folders have errors; `rendered` holds every error, one per line.
    #[error("{n_errors} error(s) in the scenarios:\n{rendered}")]
    Scenario {
        n_errors: usize,
        rendered: String,
        diagnostics: Vec<Diagnostic>,
    },
    /// The store could not be opened.
    #[error("opening the store `{url}`")]
    Store {
        url: String,
        #[source]
        source: StoreError,
    },
    /// Binding or accepting on the socket failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Why one request failed. Each variant maps to one status code.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A request-verification check failed (signature, certificate, timestamp, skill id).
    #[error("request verification failed: {0}")]
    Verify(String),
    /// The body is not JSON, or not an Alexa request envelope.
    #[error("{0}")]
    BadRequest(String),
    /// The body is over the limit.
    #[error("request body over {limit} bytes")]
    TooLarge { limit: usize },
    /// The body could not be read (the client closed early or sent garbage framing).
    #[error("could not read the request body: {0}")]
    Body(String),
    /// The client sent the body too slowly.
    #[error("timed out reading the request body")]
    BodyTimeout,
    /// No served scenario has this name.
    #[error("no scenario named `{0}` is served here")]
    NotFound(String),
    /// `POST /` is only served when exactly one scenario is.
    #[error("{0} scenarios are served: POST to /alexa/{{name}}")]
    Ambiguous(usize),
    /// The store failed; the user's variables are untouched.
    #[error("store failed")]
    Store(#[source] StoreError),
}

impl ApiError {
    /// The status code this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Verify(_)
            | ApiError::BadRequest(_)
            | ApiError::Body(_)
            | ApiError::Ambiguous(_) => StatusCode::BAD_REQUEST,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The metrics label for this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ApiError::Verify(_) => ErrorKind::Verify,
            ApiError::BadRequest(_) | ApiError::Ambiguous(_) => ErrorKind::BadRequest,
            ApiError::TooLarge { .. } => ErrorKind::TooLarge,
            ApiError::Body(_) | ApiError::BodyTimeout => ErrorKind::Body,
            ApiError::NotFound(_) => ErrorKind::NotFound,
            ApiError::Store(_) => ErrorKind::Store,
        }
    }

    /// Attaches the scenario the request was for (for the log line and metrics).
    pub fn in_scenario(self, scenario: &str) -> ScopedError {
        ScopedError {
            scenario: scenario.to_string(),
            error: self,
        }
    }

    /// What the client is told. Verification failures stay terse (an attacker
    /// learns nothing from the detail); 500s say nothing about the cause.
    fn public_message(&self) -> String {
        match self {
            ApiError::Verify(_) => "request verification failed".to_string(),
            ApiError::Store(_) => "internal error".to_string(),
            other => other.to_string(),
        }
    }
}

/// An [`ApiError`] with the scenario it happened in.
#[derive(Debug)]
pub struct ScopedError {
    pub scenario: String,
    pub error: ApiError,
}

impl From<ApiError> for ScopedError {
    fn from(error: ApiError) -> Self {
        ScopedError {
            scenario: NO_SCENARIO.to_string(),
            error,
        }
    }
}

/// The detail of a failed request, attached to its response for the logging
/// middleware. Never contains request bodies or credentials.
#[derive(Debug, Clone)]
pub struct ErrorReport {
    pub scenario: String,
    pub kind: ErrorKind,
    /// The full error chain, one line.
    pub detail: String,
}

impl IntoResponse for ScopedError {
    fn into_response(self) -> Response {
        let status = self.error.status();
        let body = Json(serde_json::json!({ "error": self.error.public_message() }));
        let report = ErrorReport {
            scenario: self.scenario,
            kind: self.error.kind(),
            detail: error_chain(&self.error),
        };
        let mut res = (status, body).into_response();
        res.extensions_mut().insert(report);
        res
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        ScopedError::from(self).into_response()
    }
}

use crate::errors::error_chain;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_and_public_message_per_variant() {
        let cases = [
            (
                ApiError::Verify("signature mismatch".into()),
                400,
                "request verification failed",
            ),
            (
                ApiError::BadRequest("missing field `request`".into()),
                400,
                "missing field `request`",
            ),
            (
                ApiError::TooLarge { limit: 10 },
                413,
                "request body over 10 bytes",
            ),
            (
                ApiError::BodyTimeout,
                408,
                "timed out reading the request body",
            ),
            (
                ApiError::NotFound("x".into()),
                404,
                "no scenario named `x` is served here",
            ),
            (
                ApiError::Store(StoreError::LockTimeout),
                500,
                "internal error",
            ),
        ];
        for (error, status, message) in cases {
            assert_eq!(error.status().as_u16(), status, "{error:?}");
            assert_eq!(error.public_message(), message, "{error:?}");
        }
    }

    #[test]
    fn report_carries_the_cause_chain() {
        let res = ApiError::Store(StoreError::LockTimeout)
            .in_scenario("quiz")
            .into_response();
        let report = res
            .extensions()
            .get::<ErrorReport>()
            .expect("report attached");
        assert_eq!(report.scenario, "quiz");
        assert_eq!(
            report.detail,
            "store failed: timed out waiting for the user's lock"
        );
    }
}
