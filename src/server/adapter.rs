//! The server's only door to the Alexa adapter ([`crate::alexa`]): verify and
//! parse a request into an [`AlexaTurn`], and turn an engine output into
//! response bytes.
//!
//! The body is parsed once: the signature is checked on the raw bytes, then
//! the envelope is parsed, then the timestamp and skill-id checks run on the
//! parsed envelope.

use std::time::SystemTime;

use axum::http::HeaderMap;

pub use crate::alexa::mapping::AlexaTurn;
pub use crate::alexa::verify::Verifier;

use super::error::ApiError;
use crate::alexa::envelope::parse_request;
use crate::alexa::mapping::{self, ResponseError};
use crate::engine::TurnOutput;
use crate::scenario::Scenario;

/// Verifies (when `verifier` is set), parses and maps one request body.
pub async fn to_turn(
    verifier: Option<&Verifier>,
    skill_ids: &[String],
    headers: &HeaderMap,
    body: &[u8],
) -> Result<AlexaTurn, ApiError> {
    let now = SystemTime::now();
    if let Some(verifier) = verifier {
        verifier
            .verify_signature(headers, body, now)
            .await
            .map_err(|err| ApiError::Verify(err.to_string()))?;
    }
    let (envelope, raw) =
        parse_request(body).map_err(|err| ApiError::BadRequest(err.to_string()))?;
    match verifier {
        // The verifier owns the skill-id allow-list along with the timestamp check.
        Some(verifier) => verifier
            .check_request(&envelope, now)
            .map_err(|err| ApiError::Verify(err.to_string()))?,
        // Without signature checks, `--skill-id` still pins the accepted skills.
        None if !skill_ids.is_empty() => {
            let app_id = envelope.application_id().unwrap_or_default();
            if !skill_ids.iter().any(|id| id == app_id) {
                return Err(ApiError::Verify(format!(
                    "application id `{app_id}` is not an accepted skill id"
                )));
            }
        }
        None => {}
    }
    mapping::to_turn(&envelope, raw).map_err(|err| ApiError::BadRequest(err.to_string()))
}

/// The answer to a `CanFulfillIntentRequest`, if `turn` is one (no step runs).
pub fn can_fulfill(scenario: &Scenario, turn: &AlexaTurn) -> Option<Vec<u8>> {
    let query = turn.can_fulfill.as_ref()?;
    // Serializing these plain serde structs cannot fail; an empty body would
    // still be answered as JSON by the caller's content type.
    serde_json::to_vec(&mapping::can_fulfill(scenario, query)).ok()
}

/// The response bytes for `turn` given the engine's `output`; an error means
/// the output breaks an Alexa limit (a turn error).
pub fn respond(turn: &AlexaTurn, output: &TurnOutput) -> Result<Vec<u8>, ResponseError> {
    mapping::respond_body(turn, output)
}

/// The apology's bytes (spec 2.1); it is within every limit by construction.
pub fn apology(turn: &AlexaTurn) -> Vec<u8> {
    respond(turn, &TurnOutput::apology()).unwrap_or_else(|_| {
        br#"{"version":"1.0","response":{"outputSpeech":{"type":"SSML","ssml":"<speak>Sorry, something went wrong.</speak>"},"shouldEndSession":true}}"#.to_vec()
    })
}
