//! Property test: random sequences of launches, intents (declared and not),
//! slots, platform events and session ends on every corpus scenario never
//! panic, and always yield a well-formed output or a typed `TurnError` that
//! leaves the variables untouched. Skipped when `../shared` is absent.
//!
//! Outbound calls are really sent, to a loopback port nobody listens on, so
//! scenarios that call web APIs take their failure branches quickly.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rand::SeedableRng;

use steptalk::engine::{Engine, EngineConfig, Request, SlotInput, TurnEnv, TurnInput};
use steptalk::expr::{Input, Vars};
use steptalk::outbound::{HttpOutbound, Rewrite};
use steptalk::scenario::Scenario;

/// One thing a user or the platform does.
#[derive(Debug, Clone)]
enum Op {
    Launch,
    /// An intent: an index into the declared intents, or (when past the end) an undeclared name.
    Intent {
        pick: usize,
        slots: Vec<(usize, Option<String>)>,
    },
    Event(&'static str),
    SessionEnd,
    /// The session is lost: the next turn has no waiting step.
    Forget,
}

fn op() -> impl Strategy<Value = Op> {
    let slot_value = prop_oneof![
        Just(None),
        Just(Some("?".to_string())),
        (-5i64..200).prop_map(|n| Some(n.to_string())),
        "[a-zA-Z ]{0,12}".prop_map(Some),
    ];
    prop_oneof![
        1 => Just(Op::Launch),
        6 => (0usize..40, prop::collection::vec((0usize..8, slot_value), 0..3))
            .prop_map(|(pick, slots)| Op::Intent { pick, slots }),
        1 => prop::sample::select(vec![
            "AudioPlayer.PlaybackStarted",
            "AudioPlayer.PlaybackFinished",
            "AudioPlayer.PlaybackStopped",
            "PlaybackController.NextCommandIssued",
        ])
        .prop_map(Op::Event),
        1 => Just(Op::SessionEnd),
        1 => Just(Op::Forget),
    ]
}

const UNDECLARED: [&str; 4] = [
    "AMAZON.StopIntent",
    "AMAZON.CancelIntent",
    "AMAZON.FallbackIntent",
    "NoSuchIntent",
];

fn scenario_dirs(root: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut has_yaml = false;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
                has_yaml = true;
            }
        }
        if has_yaml {
            dirs.push(dir);
        }
    }
    dirs.sort();
    dirs
}

fn request(scenario: &Scenario, pick: usize, slots: &[(usize, Option<String>)]) -> Request {
    let name = match scenario.intents.get_index(pick) {
        Some((name, _)) => name.clone(),
        None => UNDECLARED[pick % UNDECLARED.len()].to_string(),
    };
    let slots = slots
        .iter()
        .filter_map(|(idx, value)| {
            let (slot_name, _) = scenario
                .slots
                .get_index(idx % scenario.slots.len().max(1))?;
            Some(SlotInput {
                name: slot_name.clone(),
                value: value.clone(),
                resolved: None,
            })
        })
        .collect();
    Request::Intent { name, slots }
}

async fn play(engine: &Engine, scenario: &Scenario, ops: &[Op]) -> Result<(), TestCaseError> {
    let env = TurnEnv {
        rng: Arc::new(Mutex::new(rand_chacha::ChaCha8Rng::seed_from_u64(7))),
        now: chrono::Utc::now(),
    };
    let mut vars = Vars::default();
    let mut waiting: Option<String> = None;
    for op in ops {
        let request = match op {
            Op::Launch => Request::Launch,
            Op::Intent { pick, slots } => request(scenario, *pick, slots),
            Op::Event(name) => Request::Event {
                name: name.to_string(),
            },
            Op::SessionEnd => Request::SessionEnd,
            Op::Forget => {
                waiting = None;
                continue;
            }
        };
        let raw = Input::from(serde_json::json!({
            "session": {"new": waiting.is_none(), "user": {"userId": "prop"}},
            "request": {"type": "IntentRequest"},
        }));
        let input = TurnInput {
            request,
            waiting: waiting.clone(),
            raw,
            secrets: Vec::new(),
        };
        let before = vars.clone();
        match engine.run_turn(scenario, &input, &mut vars, &env).await {
            Ok(out) => {
                prop_assert_eq!(out.end_session, out.waiting.is_none(), "{:?}", out);
                if out.end_session {
                    prop_assert!(out.reprompt.is_none(), "{:?}", out);
                }
                if let Some(step) = &out.waiting {
                    prop_assert!(scenario.step_by_name(step).is_some(), "{:?}", out);
                }
                waiting = out.waiting;
            }
            Err(err) => {
                prop_assert_eq!(
                    &vars,
                    &before,
                    "a failed turn changed the variables: {}",
                    err
                );
                prop_assert!(!err.step.is_empty());
                waiting = None;
            }
        }
    }
    Ok(())
}

#[test]
fn random_turns_never_panic() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
    let corpus = shared.join("corpus/bottalk");
    if !corpus.exists() {
        println!("skipping: ../shared not found ({})", corpus.display());
        return;
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let offline: Vec<Rewrite> = [
        "https://=http://127.0.0.1:9/",
        "http://=http://127.0.0.1:9/",
    ]
    .iter()
    .map(|r| r.parse().unwrap())
    .collect();
    let engine = Engine {
        outbound: Arc::new(HttpOutbound::new(offline).unwrap()),
        config: EngineConfig::default(),
    };
    let mut n_scenarios = 0;
    for dir in scenario_dirs(&corpus) {
        let Some(scenario) = steptalk::scenario::load(&dir).scenario else {
            continue;
        };
        n_scenarios += 1;
        let mut runner = TestRunner::new(Config {
            cases: 128,
            failure_persistence: None,
            ..Config::default()
        });
        let result = runner.run(&prop::collection::vec(op(), 1..12), |ops| {
            runtime.block_on(play(&engine, &scenario, &ops))
        });
        if let Err(err) = result {
            panic!("{}: {err}", dir.display());
        }
    }
    println!("{n_scenarios} corpus scenarios, 128 random dialogs each");
    assert!(
        n_scenarios > 5,
        "only {n_scenarios} corpus scenarios loaded"
    );
}
