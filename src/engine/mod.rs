//! One turn of a dialog, platform-neutral: a [`TurnInput`] and the user's
//! [`Vars`] in, a [`TurnOutput`] (or a [`TurnError`]) out.
//!
//! **Invariant:** this module imports nothing from axum, reqwest, serde-saphyr,
//! minijinja or `alexa/`. Outbound HTTP reaches it through the [`Outbound`] trait.
//!
//! OWNER: engine helper. The types below are the contract the Alexa adapter,
//! the server and the test runner code against.
//!
//! Where to read next: [`route`] decides which step a request enters (spec
//! 2.2), [`turn`] runs the enter-loop (spec 2.1), and `actions/` holds one file
//! per action family (spec 3).

mod actions;
mod route;
mod turn;

use std::sync::Arc;
use std::time::Duration;

use crate::expr::{Input, Rng, Vars};
use crate::scenario::Scenario;

/// What the user (or the platform) did.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Open the skill: runs the initial step.
    Launch,
    /// An intent with its slots.
    Intent { name: String, slots: Vec<SlotInput> },
    /// The session ended (no step runs).
    SessionEnd,
    /// Another platform event, routed like an intent named by its type.
    Event { name: String },
}

/// One slot as the platform sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotInput {
    pub name: String,
    /// The spoken value (`None`: the slot came empty).
    pub value: Option<String>,
    /// The canonical value when entity resolution matched (`ER_SUCCESS_MATCH`).
    pub resolved: Option<String>,
}

/// One turn's input.
#[derive(Debug, Clone)]
pub struct TurnInput {
    pub request: Request,
    /// The waiting step's name, as carried by the platform's session.
    pub waiting: Option<String>,
    /// `bottalk_input`: the raw platform request (the whole Alexa envelope).
    pub raw: Input,
    /// Credentials in this request (access tokens): a string variable equal to
    /// one of them is never stored.
    pub secrets: Vec<String>,
}

/// What a card attached to the reply is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardOutput {
    /// A text card.
    Simple { title: String, text: String },
    /// A picture card.
    Standard {
        title: String,
        text: String,
        image: String,
    },
    /// Asks the user to link the account.
    LinkAccount { title: String, text: String },
}

/// The reply of one turn.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TurnOutput {
    /// The joined `sendText` results (before SSML processing).
    pub speech: String,
    pub reprompt: Option<String>,
    pub card: Option<CardOutput>,
    /// Whether the session ends with this reply.
    pub end_session: bool,
    /// The step that waits for the next turn (`None` when the session ends).
    pub waiting: Option<String>,
}

impl TurnOutput {
    /// The answer to a failed turn (spec 2.1).
    pub fn apology() -> TurnOutput {
        TurnOutput {
            speech: "Sorry, something went wrong.".to_string(),
            end_session: true,
            ..TurnOutput::default()
        }
    }
}

/// A turn that failed (spec 2.1): the user hears [`TurnOutput::apology`], the
/// turn's variable changes are discarded, and this is logged.
#[derive(Debug, Clone, thiserror::Error)]
#[error("turn failed in step `{step}`{}: {kind}", action.as_ref().map(|a| format!(", action `{a}`")).unwrap_or_default())]
pub struct TurnError {
    /// The step being run.
    pub step: String,
    /// The action being run, e.g. `sendText` (with its location `main.yml:12:9`).
    pub action: Option<String>,
    pub kind: TurnErrorKind,
}

/// Why a turn failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TurnErrorKind {
    #[error("more than 64 steps entered in one turn")]
    TooManySteps,
    #[error("{0}")]
    Eval(#[from] crate::expr::EvalError),
    #[error("plugin action `{0}` is not available")]
    PluginUnavailable(String),
}

/// Engine settings (spec 3.1 defaults).
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Timeout of one HTTP call (default 3 s).
    pub http_timeout: Duration,
    /// Budget of all HTTP calls of one turn (default 6 s).
    pub turn_budget: Duration,
    /// Cap on a response body (default 1 MiB).
    pub body_cap: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            http_timeout: Duration::from_secs(3),
            turn_budget: Duration::from_secs(6),
            body_cap: 1024 * 1024,
        }
    }
}

/// An outbound HTTP request made by an `http.*` or `getUrl` action.
#[derive(Debug, Clone)]
pub struct OutboundRequest {
    pub method: crate::scenario::HttpMethod,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub timeout: Duration,
    pub body_cap: usize,
}

/// The answer to an [`OutboundRequest`].
#[derive(Debug, Clone)]
pub struct OutboundResponse {
    pub status: u16,
    pub body: String,
}

/// Why an outbound call produced no answer (→ `http_status = 0`, `http_error`).
#[derive(Debug, Clone, thiserror::Error)]
pub enum OutboundError {
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("timed out")]
    Timeout,
    #[error("response body over {0} bytes")]
    TooLarge(usize),
    #[error("{0}")]
    Other(String),
}

/// The engine's door to the network. The real one lives in [`crate::outbound`].
#[async_trait::async_trait]
pub trait Outbound: Send + Sync {
    async fn send(&self, req: OutboundRequest) -> Result<OutboundResponse, OutboundError>;
}

/// Per-turn context that the caller controls (tests seed and pin these).
pub struct TurnEnv {
    pub rng: Rng,
    pub now: chrono::DateTime<chrono::Utc>,
}

/// Runs turns of scenarios.
#[derive(Clone)]
pub struct Engine {
    pub outbound: Arc<dyn Outbound>,
    pub config: EngineConfig,
}

impl Engine {
    /// Runs one turn. On success `vars` holds the variables to store (credentials
    /// already removed); on error `vars` is left exactly as it came in.
    pub async fn run_turn(
        &self,
        scenario: &Scenario,
        input: &TurnInput,
        vars: &mut Vars,
        env: &TurnEnv,
    ) -> Result<TurnOutput, TurnError> {
        // Work on a copy: a failed turn must leave the caller's variables untouched.
        let mut turn = turn::Turn::new(self, scenario, input, env, vars.clone());
        let output = turn.run().await?;
        let mut kept = turn.into_vars();
        forget_unstorable(&mut kept, &input.secrets);
        *vars = kept;
        Ok(output)
    }
}

/// Removes what must never rest in a store: string values equal to one of
/// this request's credentials (spec 5) and reserved names.
fn forget_unstorable(vars: &mut Vars, secrets: &[String]) {
    let doomed: Vec<String> = vars
        .iter()
        .filter(|(name, value)| {
            is_reserved(name)
                || (!secrets.is_empty()
                    && matches!(value.to_json(), serde_json::Value::String(s) if secrets.contains(&s)))
        })
        .map(|(name, _)| name.to_string())
        .collect();
    for name in doomed {
        vars.remove(&name);
    }
}

/// Whether `name` is reserved for the runtime (`bottalk_*`, `steptalk_*`): such
/// variables are visible during a turn but never stored.
pub fn is_reserved(name: &str) -> bool {
    name.starts_with("bottalk_") || name.starts_with("steptalk_")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::Value;

    /// The server runs turns on a multi-threaded runtime: the future must be `Send`.
    #[allow(dead_code)]
    fn run_turn_is_send(engine: &Engine, s: &Scenario, i: &TurnInput, v: &mut Vars, e: &TurnEnv) {
        fn is_send<T: Send>(_: &T) {}
        is_send(&engine.run_turn(s, i, v, e));
    }

    #[test]
    fn credentials_and_reserved_names_are_not_stored() {
        let mut vars = Vars::default();
        let text = |s: &str| Value::from(serde_json::Value::String(s.to_string()));
        vars.set("token", text("Atza|secret"));
        vars.set("email", text("a@b.c"));
        vars.set("steptalk_x", text("1"));
        vars.set("count", Value::from(serde_json::json!(3)));
        forget_unstorable(&mut vars, &["Atza|secret".to_string()]);
        let names: Vec<&str> = vars.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["email", "count"]);
    }
}
