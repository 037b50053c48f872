//! Data-driven dialog transcripts: every `tests/turns/*.yaml` names a scenario
//! (inline `files:` or a `dir:`) and a script of turns; the transcript of what
//! the engine answered (speech, reprompt, card, waiting step, variables or the
//! turn error) is an insta snapshot next to this file.
//!
//! HTTP actions talk to a real axum stand-in on `127.0.0.1:0`, reachable from a
//! scenario through the seeded variables `stand_in` and `refused` (a port
//! nobody listens on). Ports are redacted in the snapshots.
//!
//! A case file looks like:
//! ```yaml
//! config: {http_timeout_ms: 300}        # optional EngineConfig overrides
//! vars: {score: 3}                      # optional variables before the first turn
//! files:                                # or `dir: scenarios/account-linking`
//!   main.yml: |
//!     scenario: …
//! turns:
//!   - launch
//!   - intent: pick
//!     slots: {n: '3', colour: {value: red, resolved: Red}, empty: null}
//!     token: Atza|secret                # the request's access token
//!     waiting: Nowhere                  # overrides the waiting step carried over
//!   - event: AudioPlayer.PlaybackStarted
//!   - session_end
//! ```

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use axum::Router;
use indexmap::IndexMap;
use rand::SeedableRng;
use serde::Deserialize;
use serde_json::{json, Value as Json};

use steptalk::engine::{Engine, EngineConfig, Request, SlotInput, TurnEnv, TurnInput, TurnOutput};
use steptalk::expr::{Input, Value, Vars};
use steptalk::outbound::HttpOutbound;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    #[serde(default)]
    config: ConfigSpec,
    #[serde(default)]
    vars: serde_json::Map<String, Json>,
    /// A scenario folder, relative to the crate root.
    dir: Option<String>,
    /// An inline scenario: file name → text.
    #[serde(default)]
    files: IndexMap<String, String>,
    /// `launch`, `session_end`, or a [`FullTurn`] map.
    turns: Vec<Json>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ConfigSpec {
    http_timeout_ms: Option<u64>,
    turn_budget_ms: Option<u64>,
    body_cap: Option<usize>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FullTurn {
    intent: Option<String>,
    event: Option<String>,
    /// Slot name → spoken text, null (an empty slot) or `{value, resolved}`.
    #[serde(default)]
    slots: IndexMap<String, Json>,
    token: Option<String>,
    waiting: Option<String>,
}

fn shared_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared")
}

/// The stand-in API the HTTP cases call.
fn stand_in() -> Router {
    Router::new()
        .route(
            "/json",
            get(|| async { axum::Json(json!({"email": "jane@example.com", "n": 3})) }),
        )
        .route("/text", get(|| async { "plain text, not JSON" }))
        .route(
            "/missing",
            get(|| async {
                (
                    StatusCode::NOT_FOUND,
                    axum::Json(json!({"error": "not found"})),
                )
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "too late"
            }),
        )
        .route("/big", get(|| async { "x".repeat(4096) }))
        .route(
            "/echo",
            any(
                |method: Method, headers: HeaderMap, body: Bytes| async move {
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_string()
                    };
                    axum::Json(json!({
                        "method": method.as_str(),
                        "content_type": header("content-type"),
                        "authorization": header("authorization"),
                        "body": String::from_utf8_lossy(&body),
                    }))
                    .into_response()
                },
            ),
        )
}

async fn start_stand_in() -> (String, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, stand_in()).await.unwrap() });
    // A port that was free a moment ago: connecting to it is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let refused = closed.local_addr().unwrap();
    drop(closed);
    (format!("http://{addr}"), format!("http://{refused}"))
}

/// The `bottalk_input` of a turn: a small Alexa-like envelope.
fn raw_input(request: &Request, token: Option<&str>, new_session: bool) -> Input {
    let kind = match request {
        Request::Launch => "LaunchRequest".to_string(),
        Request::Intent { .. } => "IntentRequest".to_string(),
        Request::SessionEnd => "SessionEndedRequest".to_string(),
        Request::Event { name } => name.clone(),
    };
    Input::from(json!({
        "session": {"new": new_session, "user": {"userId": "test-user", "accessToken": token}},
        "request": {"type": kind},
    }))
}

fn describe(request: &Request, token: Option<&str>) -> String {
    let mut text = match request {
        Request::Launch => "launch".to_string(),
        Request::SessionEnd => "session end".to_string(),
        Request::Event { name } => format!("event {name}"),
        Request::Intent { name, slots } => {
            let mut text = format!("intent {name}");
            for slot in slots {
                text.push_str(&format!(
                    " {}={:?}{}",
                    slot.name,
                    slot.value.as_deref().unwrap_or("<empty>"),
                    slot.resolved
                        .as_deref()
                        .map(|r| format!(" (resolved {r:?})"))
                        .unwrap_or_default()
                ));
            }
            text
        }
    };
    if let Some(token) = token {
        text.push_str(&format!(" [token {token}]"));
    }
    text
}

fn describe_output(out: &TurnOutput) -> String {
    let mut text = format!("  speech: {:?}\n", out.speech);
    if let Some(reprompt) = &out.reprompt {
        text.push_str(&format!("  reprompt: {reprompt:?}\n"));
    }
    if let Some(card) = &out.card {
        text.push_str(&format!("  card: {card:?}\n"));
    }
    match &out.waiting {
        Some(step) => text.push_str(&format!("  waiting: {step}\n")),
        None => text.push_str("  waiting: -\n"),
    }
    text.push_str(&format!("  end_session: {}\n", out.end_session));
    text
}

/// A slot as a case file writes it.
fn slot(name: &str, spec: &Json) -> SlotInput {
    let text = |v: &Json| match v {
        Json::Null => None,
        Json::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    };
    let (value, resolved) = match spec {
        Json::Object(map) => (
            map.get("value").and_then(text),
            map.get("resolved").and_then(text),
        ),
        other => (text(other), None),
    };
    SlotInput {
        name: name.to_string(),
        value,
        resolved,
    }
}

async fn run_case(case: Case, scenario_dir: &Path) -> String {
    let loaded = steptalk::scenario::load(scenario_dir);
    let Some(scenario) = loaded.scenario else {
        let messages: Vec<String> = loaded
            .diagnostics
            .iter()
            .map(|d| d.message.clone())
            .collect();
        return format!("scenario failed to load: {messages:?}");
    };
    let defaults = EngineConfig::default();
    let config = EngineConfig {
        http_timeout: case
            .config
            .http_timeout_ms
            .map(Duration::from_millis)
            .unwrap_or(defaults.http_timeout),
        turn_budget: case
            .config
            .turn_budget_ms
            .map(Duration::from_millis)
            .unwrap_or(defaults.turn_budget),
        body_cap: case.config.body_cap.unwrap_or(defaults.body_cap),
    };
    let engine = Engine {
        outbound: Arc::new(HttpOutbound::new(Vec::new()).unwrap()),
        config,
    };
    let (stand_in, refused) = start_stand_in().await;
    let mut vars = Vars::from_json(case.vars);
    vars.set("stand_in", Value::from(Json::String(stand_in)));
    vars.set("refused", Value::from(Json::String(refused)));
    let env = TurnEnv {
        rng: Arc::new(Mutex::new(rand_chacha::ChaCha8Rng::seed_from_u64(0))),
        now: chrono::DateTime::parse_from_rfc3339("2024-03-12T09:30:00Z")
            .unwrap()
            .into(),
    };

    let mut transcript = String::new();
    let mut waiting: Option<String> = None;
    for spec in case.turns {
        let full = match spec {
            Json::String(word) if word == "launch" => FullTurn::default(),
            Json::String(word) if word == "session_end" => FullTurn {
                event: Some(String::new()),
                ..FullTurn::default()
            },
            other => serde_json::from_value(other.clone())
                .unwrap_or_else(|e| panic!("bad turn {other}: {e}")),
        };
        let request = match (&full.intent, &full.event) {
            (Some(name), _) => Request::Intent {
                name: name.clone(),
                slots: full
                    .slots
                    .iter()
                    .map(|(name, spec)| slot(name, spec))
                    .collect(),
            },
            (None, Some(name)) if name.is_empty() => Request::SessionEnd,
            (None, Some(name)) => Request::Event { name: name.clone() },
            (None, None) => Request::Launch,
        };
        if full.waiting.is_some() {
            waiting = full.waiting.clone();
        }
        let input = TurnInput {
            raw: raw_input(&request, full.token.as_deref(), waiting.is_none()),
            request,
            waiting: waiting.clone(),
            secrets: full.token.iter().cloned().collect(),
        };
        transcript.push_str(&format!(
            "> {}\n",
            describe(&input.request, full.token.as_deref())
        ));
        match engine.run_turn(&scenario, &input, &mut vars, &env).await {
            Ok(out) => {
                transcript.push_str(&describe_output(&out));
                waiting = out.waiting.clone();
            }
            Err(err) => {
                transcript.push_str(&format!("  error: {err}\n"));
                waiting = None;
            }
        }
        let shown: serde_json::Map<String, Json> = vars
            .to_json()
            .into_iter()
            .filter(|(name, _)| name != "stand_in" && name != "refused")
            .collect();
        transcript.push_str(&format!("  vars: {}\n", Json::Object(shown)));
    }
    transcript
}

#[test]
fn transcripts() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    insta::glob!("turns/*.yaml", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let case: Case =
            serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let scratch = tempfile::tempdir().unwrap();
        let dir = match &case.dir {
            Some(dir) => {
                let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
                if dir.starts_with(shared_dir()) && !shared_dir().exists() {
                    println!("skipping: ../shared not found ({})", path.display());
                    return;
                }
                dir
            }
            None => {
                for (name, body) in &case.files {
                    std::fs::write(scratch.path().join(name), body).unwrap();
                }
                scratch.path().to_path_buf()
            }
        };
        let transcript = runtime.block_on(run_case(case, &dir));
        insta::with_settings!({
            description => text,
            omit_expression => true,
            filters => vec![(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT")],
        }, {
            insta::assert_snapshot!(transcript);
        });
    });
}
