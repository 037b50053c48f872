//! Conformance: `steptalk test` over BotTalk's own published scenarios
//! (`../shared/corpus/bottalk`). Every test there must pass except the second
//! turn of five-random-questions-a-day-quiz, whose `await: Something` can only
//! fail; its report must show the question actually asked.
//!
//! The api-calls tutorial talks to Trello and ships no tests, so this file
//! starts a Trello stand-in (axum on 127.0.0.1:0), reaches it with
//! `--rewrite-outbound https://api.trello.com=…`, and drives the tutorial's
//! flows with its own test cases. The scenario files are used as published.
//!
//! Skipped (with a printed reason) when `../shared` is absent, so `cargo test`
//! passes on a fresh clone.

mod support;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::extract::{Path as UrlPath, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{json, Value};

const NOW: &str = "2019-03-12T10:00:00Z";

/// The scenario folders under `templates/`: a folder holding YAML files, or
/// for a folder of folders (`recipes/`), each of its children.
fn template_dirs(corpus: &Path) -> Vec<String> {
    let has_yaml = |dir: &Path| {
        std::fs::read_dir(dir)
            .unwrap()
            .any(|e| e.unwrap().path().extension().is_some_and(|x| x == "yml"))
    };
    let subdirs = |dir: &Path| {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        dirs
    };
    let mut found = Vec::new();
    for dir in subdirs(&corpus.join("templates")) {
        if has_yaml(&dir) {
            found.push(dir);
        } else {
            found.extend(subdirs(&dir).into_iter().filter(|d| has_yaml(d)));
        }
    }
    found
        .iter()
        .map(|d| d.strip_prefix(corpus).unwrap().display().to_string())
        .collect()
}

#[test]
fn templates_pass_except_the_unanswerable_quiz_turn() {
    let Some(corpus) = support::corpus() else {
        return;
    };
    let dirs = template_dirs(&corpus);
    let mut args: Vec<&str> = dirs.iter().map(String::as_str).collect();
    args.extend(["--now", NOW]);
    let (code, stdout) = support::steptalk_test(&corpus, &args);
    insta::assert_snapshot!(stdout);

    assert_eq!(code, 1, "{stdout}");
    assert_eq!(stdout.matches("FAIL").count(), 1, "{stdout}");
    assert!(!stdout.contains("does not load"), "{stdout}");
    let quiz = stdout
        .split("\nscenario ")
        .find(|s| s.starts_with("five-random-questions-a-day-quiz"))
        .expect("the quiz ran");
    assert!(quiz.contains("FAIL Happy Path"), "{quiz}");
    assert!(quiz.contains("turn 2 of 2"), "{quiz}");
    assert!(quiz.contains("expected: Something"), "{quiz}");
    // The report shows the question the quiz really asked.
    let answered = quiz
        .lines()
        .find_map(|l| l.trim().strip_prefix("answered: "))
        .expect("an answered line");
    assert!(answered.ends_with('?'), "{answered}");
    assert!(stdout.ends_with(" passed, 1 failed\n"), "{stdout}");
}

/// Trello's lists in the api-calls tutorial (ids from its scenario.yml).
const TO_DO: &str = "5cb87630d107633274494541";
const DOING: &str = "5cb876346c19663346a58289";
const DONE: &str = "5cb87636cd20710df9370d24";

/// A tiny Trello: lists of cards in memory, and a log of every call.
#[derive(Default)]
struct Trello {
    cards: Vec<(String, String, String)>, // (id, name, list id)
    log: Vec<String>,
    next_id: u32,
}

type Shared = Arc<Mutex<Trello>>;

fn valid_list(list: &str) -> bool {
    [TO_DO, DOING, DONE].contains(&list)
}

async fn list_cards(State(trello): State<Shared>, UrlPath(list): UrlPath<String>) -> Response {
    let mut trello = trello.lock().unwrap();
    trello.log.push(format!("GET /1/lists/{list}/cards"));
    if !valid_list(&list) {
        return (StatusCode::BAD_REQUEST, "invalid id").into_response();
    }
    let cards: Vec<Value> = trello
        .cards
        .iter()
        .filter(|(_, _, l)| *l == list)
        .map(|(id, name, l)| json!({ "id": id, "name": name, "idList": l }))
        .collect();
    Json(cards).into_response()
}

async fn create_card(State(trello): State<Shared>, body: String) -> Response {
    let mut trello = trello.lock().unwrap();
    trello.log.push(format!("POST /1/cards {body}"));
    let Ok(card) = serde_json::from_str::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "invalid JSON").into_response();
    };
    let name = card["name"].as_str().unwrap_or_default().to_string();
    let list = card["idList"].as_str().unwrap_or_default().to_string();
    if !valid_list(&list) {
        return (StatusCode::BAD_REQUEST, "invalid value for idList").into_response();
    }
    trello.next_id += 1;
    let id = format!("card{}", trello.next_id);
    trello.cards.push((id.clone(), name.clone(), list.clone()));
    Json(json!({ "id": id, "name": name, "idList": list })).into_response()
}

async fn change_card(
    State(trello): State<Shared>,
    method: Method,
    UrlPath(id): UrlPath<String>,
    body: String,
) -> Response {
    let mut trello = trello.lock().unwrap();
    trello.log.push(format!("{method} /1/cards/{id} {body}"));
    let Some(idx) = trello.cards.iter().position(|(card, _, _)| *card == id) else {
        return (
            StatusCode::NOT_FOUND,
            "The requested resource was not found.",
        )
            .into_response();
    };
    if method == Method::DELETE {
        trello.cards.remove(idx);
        return Json(json!({ "limits": {} })).into_response();
    }
    let list = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v["idList"].as_str().map(str::to_string))
        .unwrap_or_default();
    if !valid_list(&list) {
        return (StatusCode::BAD_REQUEST, "invalid value for idList").into_response();
    }
    trello.cards[idx].2 = list;
    let (id, name, list) = trello.cards[idx].clone();
    Json(json!({ "id": id, "name": name, "idList": list })).into_response()
}

async fn start_trello(trello: Shared) -> std::net::SocketAddr {
    let app = Router::new()
        .route("/1/lists/{list}/cards", get(list_cards))
        .route("/1/cards", post(create_card))
        .route("/1/cards/{id}", put(change_card).delete(change_card))
        .with_state(trello);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Our own test cases for the tutorial (its tests.yml has none). They run in
/// order against one stand-in, so each sees the cards the previous one left.
const API_CALLS_TESTS: &str = r#"
tests:
  Read the to-do list:
    - say: start
      wait: 'Here is what you need to do today. Write the report. Call the plumber. To create a new task, say'

  Create a task:
    - say: start
    - say: create a new task called buy milk
      wait: 'Creating a new task: buy milk. Here is what you need to do today. Write the report. Call the plumber. buy milk.'

  # FIXME: the tutorial keys `list_id` by lower-case list names, but the
  # slot's declared values are upper case and a matched value is stored as
  # declared (spec section 5), so `list_id['DOING']` is undefined: Trello is
  # sent `"idList": ""` for a move and `/1/lists//cards` for a delete (see the
  # trello_log snapshot). BotTalk probably stored Alexa's spoken (lower-case)
  # value; these cases assert what steptalk does today.
  Move a task:
    - say: start
    - say: move the last task from to do to doing
      wait: 'Moving "buy milk" to "DOING".'

  Delete a task:
    - say: start
    - say: delete the last task from doing
      wait: 'Deleted (*) from DOING'
"#;

#[tokio::test(flavor = "multi_thread")]
async fn api_calls_tutorial_against_a_trello_stand_in() {
    let Some(corpus) = support::corpus() else {
        return;
    };
    let tutorial = corpus.join("tutorials/api-calls");
    // The published files, unchanged, beside our own tests.yml (the tutorial's
    // holds only a comment).
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("api-calls");
    std::fs::create_dir(&dir).unwrap();
    for file in ["scenario.yml", "intents.yml", "slots.yml"] {
        std::fs::copy(tutorial.join(file), dir.join(file)).unwrap();
    }
    std::fs::write(dir.join("tests.yml"), API_CALLS_TESTS).unwrap();

    let trello = Shared::default();
    {
        let mut t = trello.lock().unwrap();
        for (name, list) in [
            ("Write the report", TO_DO),
            ("Call the plumber", TO_DO),
            ("Plan the party", DOING),
        ] {
            t.next_id += 1;
            let id = format!("card{}", t.next_id);
            t.cards.push((id, name.into(), list.into()));
        }
    }
    let addr = start_trello(trello.clone()).await;
    let rewrite = format!("https://api.trello.com=http://{addr}");
    let cwd = tmp.path().to_path_buf();
    let (code, stdout) = tokio::task::spawn_blocking(move || {
        support::steptalk_test(
            &cwd,
            &["api-calls", "--now", NOW, "--rewrite-outbound", &rewrite],
        )
    })
    .await
    .unwrap();

    let log = trello.lock().unwrap().log.join("\n");
    insta::assert_snapshot!("api_calls_stdout", stdout);
    // What Trello was asked, in order.
    insta::assert_snapshot!("api_calls_trello_log", log);
    assert_eq!(code, 0, "{stdout}");
}
