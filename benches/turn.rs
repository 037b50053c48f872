//! One engine turn, no network: a launch of the project's account-linking
//! scenario (unlinked: `when`, text and a LinkAccount card) and turns of the
//! corpus quiz (a launch that builds its question list, and an answer).
//! The design's target is a median of at most 20 µs.

use std::hint::black_box;
use std::path::Path;
use std::sync::{Arc, Mutex};

use criterion::{criterion_group, criterion_main, Criterion};
use rand::SeedableRng;

use steptalk::engine::{Engine, EngineConfig, Request, SlotInput, TurnEnv, TurnInput};
use steptalk::expr::{Input, Vars};
use steptalk::outbound::HttpOutbound;
use steptalk::scenario::Scenario;

fn load(dir: &Path) -> Option<Scenario> {
    steptalk::scenario::load(dir).scenario
}

fn input(request: Request, waiting: Option<&str>) -> TurnInput {
    TurnInput {
        raw: Input::from(serde_json::json!({
            "session": {"new": waiting.is_none(), "user": {"userId": "bench"}},
            "request": {"type": "IntentRequest"},
        })),
        request,
        waiting: waiting.map(str::to_string),
        secrets: Vec::new(),
    }
}

fn bench_turns(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let engine = Engine {
        outbound: Arc::new(HttpOutbound::new(Vec::new()).unwrap()),
        config: EngineConfig::default(),
    };
    let env = TurnEnv {
        rng: Arc::new(Mutex::new(rand_chacha::ChaCha8Rng::seed_from_u64(0))),
        now: chrono::Utc::now(),
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));

    let linking = load(&root.join("scenarios/account-linking")).expect("account-linking loads");
    let launch = input(Request::Launch, None);
    c.bench_function("account-linking launch (unlinked)", |b| {
        b.iter(|| {
            let mut vars = Vars::default();
            let out = runtime.block_on(engine.run_turn(&linking, &launch, &mut vars, &env));
            black_box(out.unwrap())
        })
    });

    let quiz_dir = root.join("../shared/corpus/bottalk/templates/five-random-questions-a-day-quiz");
    let Some(quiz) = load(&quiz_dir) else {
        println!(
            "skipping quiz: ../shared not found ({})",
            quiz_dir.display()
        );
        return;
    };
    c.bench_function("quiz launch", |b| {
        b.iter(|| {
            let mut vars = Vars::default();
            let out = runtime.block_on(engine.run_turn(&quiz, &launch, &mut vars, &env));
            black_box(out.unwrap())
        })
    });
    // The state after launch and the first question, then time one answer.
    let mut asked = Vars::default();
    runtime
        .block_on(engine.run_turn(&quiz, &launch, &mut asked, &env))
        .unwrap();
    let yes = input(
        Request::Intent {
            name: "ok_great".to_string(),
            slots: Vec::new(),
        },
        Some("Initial step"),
    );
    runtime
        .block_on(engine.run_turn(&quiz, &yes, &mut asked, &env))
        .unwrap();
    let answer = input(
        Request::Intent {
            name: "answer_intent".to_string(),
            slots: vec![SlotInput {
                name: "answer".to_string(),
                value: Some("honey".to_string()),
                resolved: None,
            }],
        },
        Some("Question"),
    );
    c.bench_function("quiz answer", |b| {
        b.iter(|| {
            let mut vars = asked.clone();
            let out = runtime.block_on(engine.run_turn(&quiz, &answer, &mut vars, &env));
            black_box(out.unwrap())
        })
    });
}

criterion_group!(benches, bench_turns);
criterion_main!(benches);
