//! `steptalk serve` over real loopback HTTP: the Alexa samples, bad input,
//! verification, graceful shutdown, `/healthz` and `/metrics`.
//!
//! Each test starts its own server ([`support::start_server`]) on a fresh
//! port with a `memory://` store, so tests run in parallel.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use serde_json::{json, Value};
use steptalk::server::Limits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use support::{capture_logs, envelope, intent, launch, options, start_server, start_server_with};

const SCENARIO: &str = "account-linking";

async fn post(url: &str, body: impl Into<reqwest::Body>) -> (u16, String) {
    let res = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("the server answers");
    let status = res.status().as_u16();
    (status, res.text().await.expect("a body"))
}

/// Asserts `text` is a valid Alexa response envelope and returns it.
fn response_envelope(name: &str, text: &str) -> Value {
    let json: Value = serde_json::from_str(text)
        .unwrap_or_else(|err| panic!("{name}: response is not JSON ({err}): {text}"));
    assert_eq!(json["version"], "1.0", "{name}: {text}");
    assert!(json["response"].is_object(), "{name}: {text}");
    json
}

/// The body of a raw HTTP capture (after the blank line that ends the headers).
fn http_capture_body(text: &str) -> &str {
    text.split_once("\r\n\r\n")
        .or_else(|| text.split_once("\n\n"))
        .map(|(_, body)| body)
        .unwrap_or("")
}

#[tokio::test]
async fn every_alexa_sample_gets_200_and_an_envelope() {
    let Some(shared) = support::shared() else {
        return;
    };
    let server = start_server(options(&[SCENARIO])).await;
    let mut dir: Vec<_> = std::fs::read_dir(shared.join("alexa/requests"))
        .expect("alexa/requests")
        .map(|entry| entry.expect("dir entry").path())
        .collect();
    dir.sort();
    assert!(
        dir.len() >= 22,
        "expected the 22 samples, found {}",
        dir.len()
    );

    let mut summary = BTreeMap::new();
    for path in dir {
        let name = path
            .file_name()
            .expect("file name")
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(&path).expect("readable sample");
        let body = if name.ends_with(".http") {
            http_capture_body(&text).to_string()
        } else {
            text
        };
        let (status, answer) = post(&server.url(&format!("/alexa/{SCENARIO}")), body).await;
        if name.starts_with("22_") {
            // Only a `request` object, not an envelope.
            assert_eq!(status, 400, "{name}: {answer}");
            assert!(
                answer.contains("missing field `request`"),
                "{name}: {answer}"
            );
            summary.insert(name, json!({ "status": status, "answer": serde_json::from_str::<Value>(&answer).unwrap_or_default() }));
            continue;
        }
        assert_eq!(status, 200, "{name}: {answer}");
        let json = response_envelope(&name, &answer);
        summary.insert(name, json!({ "status": status, "answer": json }));
    }
    insta::assert_yaml_snapshot!("alexa_samples", summary);
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn bad_input_is_rejected_with_a_log_line_and_the_server_keeps_serving() {
    let logs = capture_logs();
    let server = start_server(options(&[SCENARIO])).await;
    let url = server.url(&format!("/alexa/{SCENARIO}"));
    let ten_mb = vec![b' '; 10 * 1024 * 1024];
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("not json", b"hello".to_vec(), 400, "not JSON"),
        ("empty body", Vec::new(), 400, "not JSON"),
        (
            "json array",
            b"[1, 2]".to_vec(),
            400,
            "not an Alexa request envelope",
        ),
        (
            "no request",
            br#"{"version":"1.0"}"#.to_vec(),
            400,
            "missing field `request`",
        ),
        (
            "request without type",
            br#"{"version":"1.0","request":{}}"#.to_vec(),
            400,
            "not an Alexa request envelope",
        ),
        ("10 MB body", ten_mb, 413, "request body over 262144 bytes"),
    ];
    for (name, body, status, message) in cases {
        let (got, answer) = post(&url, body).await;
        assert_eq!(got, status, "{name}: {answer}");
        assert!(answer.contains(message), "{name}: {answer}");
    }
    let (status, answer) = post(&server.url("/alexa/no-such-scenario"), "{}").await;
    assert_eq!(status, 404, "{answer}");

    let healthz = reqwest::get(server.url("/healthz")).await.expect("healthz");
    assert_eq!(healthz.status(), 200);
    let log = logs.text();
    for needle in [
        "request rejected status=400 scenario=account-linking kind=bad_request error=request body is not JSON",
        "request rejected status=413 scenario=account-linking kind=too_large",
        "request rejected status=404 scenario=- kind=not_found error=no scenario named `no-such-scenario`",
    ] {
        assert!(log.contains(needle), "missing log line `{needle}` in:\n{log}");
    }
    server.stop().await.expect("clean stop");
}

/// Short client budgets so the slow-client cases finish quickly.
fn quick_limits() -> Arc<Limits> {
    Arc::new(Limits {
        header_read: Duration::from_millis(300),
        client_read: Duration::from_millis(300),
        ..Limits::default()
    })
}

/// Writes `request` on a raw socket (optionally half-closing it) and reads
/// until the server closes; returns what it answered.
async fn raw_exchange(addr: std::net::SocketAddr, request: &[u8], half_close: bool) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("write");
    if half_close {
        stream.shutdown().await.expect("half-close");
    }
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("the server answers or closes within 10 s")
        .ok();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn short_and_slow_bodies_get_4xx_and_slow_headers_are_cut_off() {
    let logs = capture_logs();
    let mut state = steptalk::server::build_state(&options(&[SCENARIO]))
        .await
        .expect("state");
    state.limits = quick_limits();
    let server = start_server_with(state).await;
    let head = format!(
        "POST /alexa/{SCENARIO} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{{\"version\""
    );

    // The client announces 1000 bytes, sends 10 and closes its side.
    let answer = raw_exchange(server.addr, head.as_bytes(), true).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(
        answer.contains("could not read the request body"),
        "{answer}"
    );

    // The client announces 1000 bytes, sends 10 and stalls.
    let answer = raw_exchange(server.addr, head.as_bytes(), false).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("timed out reading the request body"),
        "{answer}"
    );

    // The client never finishes its headers: the connection is closed.
    let answer = raw_exchange(server.addr, b"POST /alexa/x HTTP/1.1\r\nhost: x\r\n", false).await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );

    let healthz = reqwest::get(server.url("/healthz")).await.expect("healthz");
    assert_eq!(healthz.status(), 200);
    let log = logs.text();
    for needle in [
        "kind=body error=could not read the request body",
        "kind=body error=timed out reading the request body",
        "client too slow sending the request headers",
    ] {
        assert!(
            log.contains(needle),
            "missing log line `{needle}` in:\n{log}"
        );
    }
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn with_verification_on_unsigned_and_forged_requests_get_400() {
    let logs = capture_logs();
    let mut options = options(&[SCENARIO]);
    options.insecure_skip_verify = false;
    let server = start_server(options).await;
    let body = envelope(launch(), "amzn1.ask.account.verify", None, None).to_string();
    let cases = [
        (vec![], "missing SignatureCertChainUrl header"),
        (
            vec![(
                "SignatureCertChainUrl",
                "https://s3.amazonaws.com/echo.api/echo-api-cert.pem",
            )],
            "missing Signature-256 (or legacy Signature) header",
        ),
        (
            vec![
                (
                    "SignatureCertChainUrl",
                    "https://evil.example.com/echo.api/cert.pem",
                ),
                ("Signature-256", "AAAA"),
            ],
            "is not on host s3.amazonaws.com",
        ),
        (
            vec![
                (
                    "SignatureCertChainUrl",
                    "http://s3.amazonaws.com/echo.api/cert.pem",
                ),
                ("Signature-256", "AAAA"),
            ],
            "does not use https",
        ),
    ];
    for (headers, logged) in cases {
        let mut req = reqwest::Client::new()
            .post(server.url(&format!("/alexa/{SCENARIO}")))
            .header("content-type", "application/json")
            .body(body.clone());
        for (name, value) in &headers {
            req = req.header(*name, *value);
        }
        let res = req.send().await.expect("answer");
        assert_eq!(res.status(), 400, "{headers:?}");
        // The client learns nothing about which check failed; the log does.
        let text = res.text().await.expect("body");
        assert_eq!(text, r#"{"error":"request verification failed"}"#);
        let log = logs.text();
        assert!(
            log.lines().any(|line| line
                .contains("kind=verify error=request verification failed: ")
                && line.contains(logged)),
            "missing `{logged}` in:\n{log}"
        );
    }
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn post_root_serves_the_only_scenario_and_is_ambiguous_with_several() {
    let one = start_server(options(&[SCENARIO])).await;
    let body = envelope(launch(), "amzn1.ask.account.root", None, None).to_string();
    let (status, answer) = post(&one.url("/"), body.clone()).await;
    assert_eq!(status, 200, "{answer}");
    response_envelope("POST /", &answer);
    one.stop().await.expect("clean stop");

    let two = start_server(options(&[SCENARIO, "pizza-order"])).await;
    let (status, answer) = post(&two.url("/"), body).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer.contains("2 scenarios are served: POST to /alexa/{name}"),
        "{answer}"
    );
    two.stop().await.expect("clean stop");
}

#[tokio::test]
async fn graceful_shutdown_lets_an_in_flight_turn_finish() {
    // A profile API that tells the test when the turn is waiting on it, then
    // answers after a pause: the shutdown signal arrives mid-turn.
    let (reached_tx, reached_rx) = tokio::sync::mpsc::channel::<()>(1);
    let profile = axum::Router::new().route(
        "/user/profile",
        get(move || {
            let reached = reached_tx.clone();
            async move {
                let _ = reached.send(()).await;
                tokio::time::sleep(Duration::from_millis(500)).await;
                axum::Json(json!({ "email": support::lwa::EMAIL }))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let profile_addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, profile).await });

    let mut options = options(&[SCENARIO]);
    options.rewrites = vec![format!("https://api.amazon.com=http://{profile_addr}")
        .parse()
        .expect("rewrite rule")];
    let mut server = start_server(options).await;
    let url = server.url(&format!("/alexa/{SCENARIO}"));
    let body = envelope(
        launch(),
        "amzn1.ask.account.drain",
        Some("Atza|valid-token"),
        None,
    );
    let in_flight = tokio::spawn(async move { post(&url, body.to_string()).await });

    let mut reached_rx = reached_rx;
    // A timeout so a turn that never calls the API fails the test instead of hanging it.
    tokio::time::timeout(Duration::from_secs(20), reached_rx.recv())
        .await
        .expect("the turn calls the profile API within 20 s")
        .expect("the stand-in is running");
    server.signal_shutdown();
    let (status, answer) = in_flight.await.expect("request task");
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains(support::lwa::EMAIL), "{answer}");

    let addr = server.addr;
    server.stop().await.expect("clean stop");
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the listener is closed after shutdown"
    );
}

#[tokio::test]
async fn healthz_lists_scenarios_and_store() {
    let server = start_server(options(&[SCENARIO, "pizza-order"])).await;
    let res = reqwest::get(server.url("/healthz")).await.expect("healthz");
    assert_eq!(res.status(), 200);
    let json: Value = res.json().await.expect("JSON");
    assert_eq!(
        json,
        json!({
            "status": "ok",
            "scenarios": ["account-linking", "pizza-order"],
            "store": { "backend": "memory", "status": "ok" },
        })
    );
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn metrics_count_turns_latency_and_errors_per_scenario() {
    let server = start_server(options(&[SCENARIO])).await;
    let url = server.url(&format!("/alexa/{SCENARIO}"));
    let body = envelope(
        intent("AMAZON.HelpIntent"),
        "amzn1.ask.account.metrics",
        None,
        None,
    );
    let (status, answer) = post(&url, body.to_string()).await;
    assert_eq!(status, 200, "{answer}");
    let (status, _) = post(&url, "not json").await;
    assert_eq!(status, 400);

    let res = reqwest::get(server.url("/metrics")).await.expect("metrics");
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap_or("")
        .starts_with("text/plain"));
    let text = res.text().await.expect("text");
    for needle in [
        r#"steptalk_turns_total{scenario="account-linking",outcome="ok"} 1"#,
        r#"steptalk_turn_duration_seconds_count{scenario="account-linking"} 1"#,
        r#"steptalk_turn_duration_seconds_bucket{scenario="account-linking",le="+Inf"} 1"#,
        r#"steptalk_errors_total{scenario="account-linking",kind="bad_request"} 1"#,
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn scenario_errors_stop_the_start_with_rendered_diagnostics() {
    let dir = tempfile::tempdir().expect("temp dir");
    let scenario = dir.path().join("broken");
    std::fs::create_dir(&scenario).expect("scenario folder");
    std::fs::write(
        scenario.join("main.yml"),
        "scenario:\n  name: Broken\n  steps:\n    - name: Start\n      actions:\n        - sendText: 'hi'\n      next: Nowhere\n",
    )
    .expect("write main.yml");
    let mut options = options(&[]);
    options.dirs = vec![scenario.clone()];
    let Err(err) = steptalk::server::build_state(&options).await else {
        panic!("a scenario with errors must not be served");
    };
    let text = err.to_string();
    let path = scenario.join("main.yml");
    assert!(text.contains("error(s) in the scenarios"), "{text}");
    assert!(
        text.contains(&format!("{}:7:", path.display())),
        "the error names file and line: {text}"
    );
    assert!(text.contains("Nowhere"), "{text}");
}

#[tokio::test]
async fn a_record_over_the_size_limit_is_a_turn_error_and_stores_nothing() {
    // The counter fixture stores `counter` and `lastMessage`: about 50 bytes of JSON.
    let mut options = support::options(&[]);
    options.dirs =
        vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/counter")];
    options.max_record_bytes = 20;
    let server = support::start_server(options).await;
    let body = support::envelope(support::intent("add_one"), "user-big", None, None);
    let (status, text) = post(&server.url("/alexa/counter"), body.to_string()).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("Sorry, something went wrong."), "{text}");
    let key = steptalk::store::UserKey {
        scenario: "counter".into(),
        user_id: "user-big".into(),
    };
    let record = server.state.store.load(&key).await.unwrap();
    assert_eq!(record.version, 0, "nothing may be stored: {record:?}");
}
