//! One Alexa request, from raw bytes to response JSON: verify → parse → map →
//! lock the user → load variables → run the turn → save → map the output.
//!
//! A failing *turn* is not an HTTP error: the user hears the apology (status
//! 200), the stored variables stay as they were, and the failure is logged once
//! here with scenario, step and action. Everything else that fails is an
//! [`ApiError`] for the caller to turn into a status code.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::http::HeaderMap;
use rand::SeedableRng;

use super::adapter::{self, AlexaTurn};
use super::error::ApiError;
use super::metrics::{ErrorKind, Outcome};
use super::state::AppState;
use crate::engine::{TurnEnv, TurnError, TurnOutput};
use crate::expr::Vars;
use crate::scenario::Scenario;
use crate::store::{self, Record, StoreError, UserKey, WithUserError};

/// Answers one Alexa request for `scenario` with the response body.
pub async fn handle(
    state: &AppState,
    scenario: &Arc<Scenario>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Vec<u8>, ApiError> {
    let turn = adapter::to_turn(state.verifier.as_deref(), &state.skill_ids, headers, body).await?;
    if let Some(answer) = adapter::can_fulfill(scenario, &turn) {
        return Ok(answer);
    }

    let started = Instant::now();
    let outcome = tokio::time::timeout(state.limits.turn, run_locked(state, scenario, &turn)).await;
    let elapsed = started.elapsed();
    let failed = |outcome: Outcome, kind: ErrorKind| {
        state.metrics.turn(&scenario.id, outcome, elapsed);
        state.metrics.error(&scenario.id, kind);
        adapter::apology(&turn)
    };
    Ok(match outcome {
        Ok(Ok(Ok(output))) => match adapter::respond(&turn, &output) {
            Ok(body) => {
                state.metrics.turn(&scenario.id, Outcome::Ok, elapsed);
                body
            }
            Err(err) => {
                // The variables are already saved: the turn itself ran, only
                // its answer breaks an Alexa limit.
                tracing::error!(
                    scenario = %scenario.id,
                    step = output.waiting.as_deref().unwrap_or("-"),
                    error = %err,
                    "turn output breaks an Alexa limit; answering the apology"
                );
                failed(Outcome::TurnError, ErrorKind::Turn)
            }
        },
        Ok(Ok(Err(turn_error))) => {
            tracing::error!(
                scenario = %scenario.id,
                step = %turn_error.step,
                action = turn_error.action.as_deref().unwrap_or("-"),
                error = %turn_error.kind,
                "turn failed; answering the apology"
            );
            failed(Outcome::TurnError, ErrorKind::Turn)
        }
        // The scenario stored more than the configured limit: a turn error (the
        // author's doing, not the store's), so the user hears the apology and
        // the record stays as it was.
        Ok(Err(too_large @ StoreError::TooLarge { .. })) => {
            tracing::error!(
                scenario = %scenario.id,
                error = %too_large,
                "turn's variables are over the record size limit; nothing stored, answering the apology"
            );
            failed(Outcome::TurnError, ErrorKind::Turn)
        }
        Ok(Err(store_error)) => return Err(ApiError::Store(store_error)),
        Err(_elapsed) => {
            tracing::error!(
                scenario = %scenario.id,
                budget_ms = state.limits.turn.as_millis() as u64,
                "turn ran over its time budget; answering the apology"
            );
            failed(Outcome::Timeout, ErrorKind::Timeout)
        }
    })
}

/// Runs the turn under the user's lock ([`store::with_user`]: a failed turn
/// writes nothing, a save that lost a race runs the turn again). The outer
/// `Result` is the store's, the inner one the engine's.
async fn run_locked(
    state: &AppState,
    scenario: &Scenario,
    turn: &AlexaTurn,
) -> Result<Result<TurnOutput, TurnError>, StoreError> {
    let key = UserKey {
        scenario: scenario.id.clone(),
        user_id: turn.user_id.clone(),
    };
    let run = |record: Record| async move {
        let mut vars = Vars::from_json(record.vars);
        let env = TurnEnv {
            // Seeded from the thread's generator (itself seeded by the OS):
            // no system call per turn.
            rng: Arc::new(Mutex::new(rand_chacha::ChaCha8Rng::from_rng(
                &mut rand::rng(),
            ))),
            now: chrono::Utc::now(),
        };
        let output = state
            .engine
            .run_turn(scenario, &turn.input, &mut vars, &env)
            .await?;
        Ok((output, Some(vars.to_json())))
    };
    match store::with_user(&*state.store, &key, state.limits.lock_wait, run).await {
        Ok(output) => Ok(Ok(output)),
        Err(WithUserError::Turn(turn_error)) => Ok(Err(turn_error)),
        Err(WithUserError::Store(store_error)) => Err(store_error),
    }
}
