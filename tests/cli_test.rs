//! `steptalk test` as users run it: the built binary over the project's own
//! scenarios and small scenarios written into a temp folder, with stdout
//! snapshotted (temp paths filtered) and the exit code checked.
//!
//! The weather example talks to a stand-in for Open-Meteo, an axum app started
//! here on 127.0.0.1:0 and reached through `--rewrite-outbound`.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

const NOW: &str = "2019-03-12T10:00:00Z";

fn project() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `steptalk test ARGS…` from the project folder.
fn steptalk_test(args: &[&str]) -> (i32, String) {
    support::steptalk_test(&project(), args)
}

/// Writes `files` into a fresh temp folder named `name` and returns it.
fn scenario_dir(tmp: &Path, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = tmp.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for (file, text) in files {
        std::fs::write(dir.join(file), text).unwrap();
    }
    dir
}

fn snapshot_settings(tmp: Option<&Path>) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    if let Some(tmp) = tmp {
        settings.add_filter(&regex_escape(&tmp.display().to_string()), "[TMP]");
    }
    settings
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let escape = "\\.+*?()|[]{}^$".contains(c);
            escape.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

#[test]
fn pizza_order_passes() {
    let (code, stdout) = steptalk_test(&["scenarios/pizza-order", "--now", NOW]);
    insta::assert_snapshot!(stdout);
    assert_eq!(code, 0);
}

/// The Open-Meteo stand-in: Berlin and Paris are known, Gotham's lookup fails
/// with 503, and every other name has no `results` (as the real API answers).
async fn open_meteo() -> SocketAddr {
    async fn search(Query(q): Query<Vec<(String, String)>>) -> axum::response::Response {
        let name = q
            .iter()
            .find(|(k, _)| k == "name")
            .map(|(_, v)| v.as_str())
            .unwrap_or_default();
        let place = |name: &str, latitude: f64, longitude: f64| json!({ "results": [{ "name": name, "latitude": latitude, "longitude": longitude }] });
        match name.to_lowercase().as_str() {
            "berlin" => Json(place("Berlin", 52.52, 13.41)).into_response(),
            "paris" => Json(place("Paris", 48.85, 2.35)).into_response(),
            "gotham" => (StatusCode::SERVICE_UNAVAILABLE, "down for maintenance").into_response(),
            _ => Json(json!({ "generationtime_ms": 0.4 })).into_response(),
        }
    }
    async fn forecast(Query(q): Query<Vec<(String, String)>>) -> Json<serde_json::Value> {
        let latitude = q
            .iter()
            .find(|(k, _)| k == "latitude")
            .map(|(_, v)| v.as_str())
            .unwrap_or_default();
        let (temperature, windspeed) = if latitude.starts_with("52.52") {
            (21.4, 12.0)
        } else {
            (17.9, 35.5)
        };
        Json(json!({ "current_weather": { "temperature": temperature, "windspeed": windspeed } }))
    }
    let app = Router::new()
        .route("/v1/search", get(search))
        .route("/v1/forecast", get(forecast));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn weather_rewrites(base: &str) -> Vec<String> {
    vec![
        format!("https://geocoding-api.open-meteo.com={base}"),
        format!("https://api.open-meteo.com={base}"),
    ]
}

fn weather_args(rewrites: &[String]) -> Vec<&str> {
    let mut args = vec!["scenarios/weather-api", "--now", NOW];
    for rewrite in rewrites {
        args.extend(["--rewrite-outbound", rewrite.as_str()]);
    }
    args
}

#[tokio::test(flavor = "multi_thread")]
async fn weather_api_passes_against_a_stand_in() {
    let addr = open_meteo().await;
    let rewrites = weather_rewrites(&format!("http://{addr}"));
    // The binary blocks; keep the runtime free to serve the stand-in.
    let (code, stdout) =
        tokio::task::spawn_blocking(move || steptalk_test(&weather_args(&rewrites)))
            .await
            .unwrap();
    insta::assert_snapshot!(stdout);
    assert_eq!(code, 0);
}

/// With nothing listening, every HTTP action sets `http_status` to 0 and the
/// scenario takes its error path; the tests that expect weather fail and the
/// report shows what was answered instead.
#[test]
fn weather_api_without_a_service_takes_the_error_path() {
    // Bind and drop a listener so the port is (almost certainly) closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let rewrites = weather_rewrites(&format!("http://127.0.0.1:{port}"));
    let (code, stdout) = steptalk_test(&weather_args(&rewrites));
    insta::assert_snapshot!(stdout);
    assert_eq!(code, 1);
    assert!(stdout.contains("answered: I can't reach the weather service right now."));
}

const SMALL: &str = r#"
scenario:
  name: Small
  steps:
    - name: Hello
      actions:
        - sendText: 'Hello! Say a number.'
        - getInput:
      next:
        number: Echo
        hush: Quiet
        divide: Divide
    - name: Divide
      actions:
        - set: 'x = n / 0'
        - sendText: 'Never said.'
    - name: Echo
      actions:
        - set: 'doubled = n * 2'
        - sendText: '{{ n }} doubled is {{ doubled }}.'
    - name: Quiet
      entrypoint: true
      actions:
        - set: 'quiet = true'
intents:
  number: ['{n}', 'the number {n}']
  hush: ['hush']
  divide: ['divide {n} by zero']
slots:
  n: '@bottalk.number'
"#;

/// The report of a failing test: the turn, what was said, what was expected
/// (rendered), what was answered (even nothing), and how many turns did not run.
#[test]
fn failures_are_reported_turn_by_turn() {
    let tmp = tempfile::tempdir().unwrap();
    let tests = r#"
tests:
  Passes:
    - say: start
      wait: 'Hello!'
    - say: the number twenty one
      wait: '21 doubled is 42.'
  Wrong answer:
    - say: start
    - say: number
      slots: {n: 4}
      wait: '{{ n }} doubled is 9.'
    - say: start
    - say: number
  Silence expected to speak:
    - say: start
    - say: hush
      wait: 'Psst'
  Turn error:
    - say: start
    - say: divide 3 by zero
      wait: 'Never said.'
  Flat form:
    - say: start
    - wait: 'Hello!'
    - say: 7
    - wait: '14.'
"#;
    let dir = scenario_dir(
        tmp.path(),
        "small",
        &[("main.yml", SMALL), ("tests.yml", tests)],
    );
    let (code, stdout) = steptalk_test(&[dir.to_str().unwrap(), "--now", NOW]);
    snapshot_settings(Some(tmp.path())).bind(|| insta::assert_snapshot!(stdout));
    assert_eq!(code, 1);
    assert!(stdout.ends_with("2 passed, 3 failed\n"), "{stdout}");
}

/// A folder that does not load prints the loader's errors and counts as a
/// failure; the other folders still run.
#[test]
fn load_errors_count_as_failures() {
    let tmp = tempfile::tempdir().unwrap();
    let broken = r#"
scenario:
  name: Broken
  steps:
    - name: Start
      actions:
        - sendText: 'Hi'
      next: Nowhere
"#;
    let tests = "tests:\n  Greets:\n    - say: start\n      wait: Hello!\n";
    let broken = scenario_dir(tmp.path(), "broken", &[("main.yml", broken)]);
    let small = scenario_dir(
        tmp.path(),
        "small",
        &[("main.yml", SMALL), ("tests.yml", tests)],
    );
    let (code, stdout) = steptalk_test(&[
        broken.to_str().unwrap(),
        small.to_str().unwrap(),
        "--now",
        NOW,
    ]);
    snapshot_settings(Some(tmp.path())).bind(|| insta::assert_snapshot!(stdout));
    assert_eq!(code, 1);
    assert!(stdout.ends_with("1 passed, 1 failed\n"), "{stdout}");
}

/// `random()` and slot filling follow `--seed`; one seed always gives the
/// same run, and the first line names seed and clock.
#[test]
fn seed_and_clock_are_reproducible() {
    let tmp = tempfile::tempdir().unwrap();
    let main = r#"
scenario:
  name: Dice
  steps:
    - name: Roll
      actions:
        - sendText: 'You rolled {{ random(1, 6) }} and said {{ n }}. Today is {{ "now" | date("Y-m-d") }}.'
intents:
  roll: ['roll {n}']
slots:
  n: '@bottalk.number'
tests:
  Roll:
    - say: roll
      wait: 'NEVER'
"#;
    let dir = scenario_dir(tmp.path(), "dice", &[("main.yml", main)]);
    let dir = dir.to_str().unwrap();
    let (_, first) = steptalk_test(&[dir, "--seed", "7", "--now", NOW]);
    let (_, again) = steptalk_test(&[dir, "--seed", "7", "--now", NOW]);
    assert_eq!(first, again);
    assert!(
        first.starts_with("seed 7, clock 2019-03-12T10:00:00Z\n"),
        "{first}"
    );
    assert!(first.contains("Today is 2019-03-12."), "{first}");
    let (_, wall) = steptalk_test(&[dir]);
    assert!(wall.starts_with("seed 0, clock wall clock\n"), "{wall}");
}

/// What a scenario sees of the synthesized request: a new session after a
/// turn that ended one, the test's user id, a linked account for a turn with
/// `access_token`, and slots filled by type. The token itself is never stored.
#[test]
fn envelope_sessions_and_linking() {
    let tmp = tempfile::tempdir().unwrap();
    let main = r#"
scenario:
  name: Envelope
  steps:
    - name: Hello
      actions:
        - set: 'token = bottalk_input.session.user.accessToken'
        - sendText: >
            {{ bottalk_input.session.new ? 'New' : 'Same' }} session for {{ bottalk_input.session.user.userId }},
            {{ bottalk_input.context.System.user.accessToken is null ? 'not linked' : 'linked' }}.
            {% if token is not null %}Token {{ token }}.{% endif %}
        - getInput:
      next:
        book: Book
        bye: Bye
    - name: Book
      actions:
        - sendText: 'Booked {{ day }} at {{ time }} for {{ length }}, {{ seats }} seats, {{ colour }}.'
        - getInput:
      next:
        bye: Bye
    - name: Bye
      actions:
        - sendText: 'Bye{% if token is not null %}, token kept{% endif %}.'
intents:
  book: ['book {day} at {time} for {length} with {seats} seats in {colour}', '{seats} seats {day} {time} {length} {colour} please {note}']
  bye: ['bye']
slots:
  day: '@bottalk.date'
  time: '@bottalk.time'
  length: '@bottalk.duration'
  seats: '@bottalk.number'
  colour: [red, green]
  note: '@bottalk.name'
tests:
  Sessions:
    - say: start
      wait: 'New session for test-Sessions, not linked.'
    - say: start
      wait: 'Same session'
    - say: bye
      wait: 'Bye.'
    - say: start
      wait: 'New session'
  Linked:
    - say: start
      access_token: 'Atza|secret'
      wait: 'New session for test-Linked, linked. Token Atza|secret.'
    - say: bye
      wait: 'Bye.'
  Slots filled by type:
    - say: start
    - say: book
      wait: 'Booked 2019-03-12 at 14:05 for PT5M, (*) seats, (*).'
"#;
    let dir = scenario_dir(tmp.path(), "envelope", &[("main.yml", main)]);
    let (code, stdout) = steptalk_test(&[dir.to_str().unwrap(), "--now", NOW]);
    insta::assert_snapshot!(stdout);
    assert_eq!(code, 0);
}
