//! Several real `steptalk serve` processes sharing one store (issue 6): the
//! binary (`CARGO_BIN_EXE_steptalk`) serves `tests/fixtures/counter` on
//! loopback, and the tests talk HTTP to it as Alexa would.
//!
//! - 50 concurrent turns of one user spread over two processes lose no update;
//! - two processes answer alternate turns of one conversation (the waiting
//!   step travels in `sessionAttributes`);
//! - `kill -9` right after an answer keeps that turn's variables;
//! - a store that goes down answers a 500 and a log line, `/healthz` and
//!   `/metrics` show it, and the server recovers by itself.
//!
//! Redis and PostgreSQL cases read `STEPTALK_TEST_REDIS_URL` /
//! `STEPTALK_TEST_POSTGRES_URL` and skip with a printed reason when unset;
//! each test uses its own key prefix or schema ([`Backend`]) and removes it.

#[allow(dead_code)]
#[path = "store/support.rs"]
mod store_support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use steptalk::store::{StoreOptions, UserKey};
use store_support::{Backend, Proxy};

/// The fixture's folder name, which is also its scenario id.
const SCENARIO: &str = "counter";

/// How long a process may take to start, or a store to come back.
const PATIENCE: Duration = Duration::from_secs(15);

/// A `steptalk serve` child process serving the counter fixture; killed (SIGKILL) on drop.
struct Server {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Server {
    /// Starts `steptalk serve` on a free port with `store` and waits until
    /// `/healthz` answers (with any status: the store may be down on purpose).
    /// Its log goes to a file in `logs`.
    async fn start(store: &str, logs: &Path) -> Server {
        let port = free_port();
        let log = logs.join(format!("steptalk-{port}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_steptalk"))
            .arg("serve")
            .arg(fixture())
            .args(["--insecure-skip-verify", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["--store", store])
            .env("RUST_LOG", "warn")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("create the log file"))
            .spawn()
            .expect("the steptalk binary starts");
        let mut server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + PATIENCE;
        loop {
            if client.get(server.url("/healthz")).send().await.is_ok() {
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("steptalk serve exited with {status}:\n{}", server.log());
            }
            assert!(
                Instant::now() < deadline,
                "steptalk serve did not answer /healthz:\n{}",
                server.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// What the process has logged so far.
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `kill -9`: the process gets no chance to flush or clean up.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/counter")
}

/// A user id no other test run uses.
fn user() -> String {
    format!("amzn1.ask.account.procs-{:016x}", rand::random::<u64>())
}

/// One answer of the server.
#[derive(Debug)]
struct Reply {
    status: u16,
    body: Value,
}

impl Reply {
    /// The spoken text without `<speak>`.
    fn speech(&self) -> String {
        let ssml = self.body["response"]["outputSpeech"]["ssml"]
            .as_str()
            .unwrap_or_default();
        ssml.trim_start_matches("<speak>")
            .trim_end_matches("</speak>")
            .to_string()
    }

    /// What goes into the next request's `session.attributes`.
    fn attributes(&self) -> Value {
        self.body
            .get("sessionAttributes")
            .cloned()
            .unwrap_or_else(|| json!({}))
    }
}

/// Sends `request` (a `LaunchRequest` or an intent name) for `user`, with the
/// session attributes of the previous answer (`{}` opens a new session).
async fn turn(
    client: &reqwest::Client,
    server: &Server,
    user: &str,
    request: &str,
    attributes: Value,
) -> Reply {
    let mut request = if request == "LaunchRequest" {
        json!({ "type": "LaunchRequest" })
    } else {
        json!({ "type": "IntentRequest", "intent": { "name": request, "confirmationStatus": "NONE" } })
    };
    request["requestId"] = json!(format!(
        "amzn1.echo-api.request.{:x}",
        rand::random::<u64>()
    ));
    request["timestamp"] = json!(chrono::Utc::now().to_rfc3339());
    request["locale"] = json!("en-US");
    let new = attributes.as_object().is_none_or(|map| map.is_empty());
    let user_json = json!({ "userId": user });
    let body = json!({
        "version": "1.0",
        "session": {
            "new": new,
            "sessionId": format!("amzn1.echo-api.session.{user}"),
            "application": { "applicationId": "amzn1.ask.skill.test" },
            "attributes": attributes,
            "user": user_json,
        },
        "context": { "System": {
            "application": { "applicationId": "amzn1.ask.skill.test" },
            "user": user_json,
            "apiEndpoint": "https://api.amazonalexa.com",
        }},
        "request": request,
    });
    let res = client
        .post(server.url(&format!("/alexa/{SCENARIO}")))
        .json(&body)
        .send()
        .await
        .expect("the server answers");
    let status = res.status().as_u16();
    let body = res.json::<Value>().await.unwrap_or(Value::Null);
    Reply { status, body }
}

/// `add_one` in a new session; asserts a 200 and returns the counter it said.
async fn add_one(client: &reqwest::Client, server: &Server, user: &str) -> u64 {
    let reply = turn(client, server, user, "add_one", json!({})).await;
    assert_eq!(reply.status, 200, "{reply:?}\n{}", server.log());
    let speech = reply.speech();
    speech
        .strip_prefix("Counter is ")
        .and_then(|rest| rest.strip_suffix('.'))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a counter answer: {speech:?}"))
}

/// The user's `counter` as stored, read directly from the store.
async fn stored_counter(backend: &Backend, user: &str) -> Value {
    let store = steptalk::store::open(&backend.url, StoreOptions::default())
        .await
        .expect("the store opens");
    let record = store
        .load(&UserKey::new(SCENARIO, user))
        .await
        .expect("the record loads");
    record.vars.get("counter").cloned().unwrap_or(Value::Null)
}

/// `/healthz`'s status code and body.
async fn health(client: &reqwest::Client, server: &Server) -> (u16, Value) {
    let res = client
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("the server answers /healthz");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Polls `/healthz` until it reports the store healthy.
async fn wait_healthy(client: &reqwest::Client, server: &Server) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (status, body) = health(client, server).await;
        if status == 200 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the store did not recover: {status} {body}\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One test function per backend and case.
macro_rules! cases {
    ($($case:ident: $($backend:ident),*;)*) => {$(
        mod $case {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $backend() {
                    let Some(backend) = crate::Backend::new(stringify!($backend)) else { return };
                    super::$case(&backend).await;
                    backend.cleanup().await;
                }
            )*
        }
    )*};
}

cases! {
    fifty_concurrent_turns: redis, postgres, sqlite;
    alternate_turns: redis, postgres, sqlite;
    kill_after_answer: sqlite, postgres, redis;
    store_down_and_back: redis, postgres, sqlite;
}

/// 50 `add_one` turns of one user at once, alternating between two
/// processes: the counter ends at exactly 50 and every turn saw a different
/// value (no two ran on the same record version).
async fn fifty_concurrent_turns(backend: &Backend) {
    let servers = [
        Server::start(&backend.url, backend.dir.path()).await,
        Server::start(&backend.url, backend.dir.path()).await,
    ];
    let client = reqwest::Client::new();
    let user = user();
    let said: Vec<u64> =
        futures::future::join_all((0..50).map(|i| add_one(&client, &servers[i % 2], &user))).await;
    let said: BTreeSet<u64> = said.into_iter().collect();
    assert_eq!(said, (1..=50).collect::<BTreeSet<u64>>());
    assert_eq!(stored_counter(backend, &user).await, json!(50));
}

/// One conversation whose turns go to two processes in turn; each answer's
/// `sessionAttributes` go into the next request, sent to the other process.
async fn alternate_turns(backend: &Backend) {
    let servers = [
        Server::start(&backend.url, backend.dir.path()).await,
        Server::start(&backend.url, backend.dir.path()).await,
    ];
    let client = reqwest::Client::new();
    let user = user();
    let conversation = [
        ("LaunchRequest", "Welcome. Say add.", false),
        ("add_one", "Counter is 1.", false),
        ("add_one", "Counter is 2.", false),
        // Second and Third are not entry points: only the waiting step gets there.
        ("go_on", "Second step, counter 2.", false),
        ("go_on", "Third step, counter 2. Bye.", true),
    ];
    let mut attributes = json!({});
    for (i, (request, expected, ends)) in conversation.into_iter().enumerate() {
        let server = &servers[i % 2];
        let reply = turn(&client, server, &user, request, attributes).await;
        assert_eq!(reply.status, 200, "turn {i}: {reply:?}");
        assert_eq!(reply.speech(), expected, "turn {i}: {reply:?}");
        assert_eq!(
            reply.body["response"]["shouldEndSession"],
            json!(ends),
            "turn {i}: {reply:?}"
        );
        attributes = reply.attributes();
    }
    // The control: without the waiting step `go_on` starts over.
    let reply = turn(&client, &servers[0], &user, "go_on", json!({})).await;
    assert_eq!(reply.speech(), "Welcome. Say add.", "{reply:?}");
}

/// A process killed with SIGKILL right after it answered: a new process on
/// the same store continues from that turn's variables.
async fn kill_after_answer(backend: &Backend) {
    let client = reqwest::Client::new();
    let user = user();
    for expected in 1..=3 {
        let mut server = Server::start(&backend.url, backend.dir.path()).await;
        assert_eq!(add_one(&client, &server, &user).await, expected);
        server.kill();
        assert_eq!(stored_counter(backend, &user).await, json!(expected));
    }
}

/// The store goes away under a running server and comes back.
async fn store_down_and_back(backend: &Backend) {
    let client = reqwest::Client::new();
    let user = user();
    if backend.name == "sqlite" {
        // SQLite: the file's directory is missing at start and appears later.
        let dir = backend.dir.path().join("later");
        let url = format!("sqlite://{}", dir.join("store.db").display());
        let server = Server::start(&url, backend.dir.path()).await;
        assert_down(&client, &server, &user, "sqlite").await;
        std::fs::create_dir(&dir).expect("create the store's directory");
        wait_healthy(&client, &server).await;
        assert_eq!(add_one(&client, &server, &user).await, 1);
        assert_metrics(&client, &server, "sqlite").await;
        return;
    }
    // Redis and PostgreSQL: a TCP proxy in front of the real server is
    // switched off and on again.
    let mut url = url::Url::parse(&backend.url).expect("a valid store URL");
    let default_port = if backend.name == "redis" { 6379 } else { 5432 };
    let target = url
        .socket_addrs(|| Some(default_port))
        .expect("the store's address resolves")[0];
    let proxy = Proxy::start(target).await;
    url.set_port(Some(proxy.port)).expect("a URL with a port");
    let server = Server::start(url.as_str(), backend.dir.path()).await;
    assert_eq!(add_one(&client, &server, &user).await, 1);
    proxy.down().await;
    assert_down(&client, &server, &user, backend.name).await;
    proxy.up();
    wait_healthy(&client, &server).await;
    // The failed turn wrote nothing.
    assert_eq!(add_one(&client, &server, &user).await, 2);
    assert_metrics(&client, &server, backend.name).await;
}

/// With the store down, a turn answers a 500 with a generic body and logs
/// why; `/healthz` says the store is unavailable.
async fn assert_down(client: &reqwest::Client, server: &Server, user: &str, backend: &str) {
    let reply = turn(client, server, user, "add_one", json!({})).await;
    assert_eq!(reply.status, 500, "{reply:?}");
    assert_eq!(reply.body, json!({ "error": "internal error" }));
    let log = server.log();
    assert!(
        log.contains("request failed") && log.contains(&format!("{backend} store unavailable")),
        "no log line for the store failure:\n{log}"
    );
    let (status, body) = health(client, server).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], json!("unavailable"), "{body}");
    assert_eq!(body["store"]["backend"], json!(backend), "{body}");
}

/// `/metrics` shows the store's latency and its errors, and the failed request.
async fn assert_metrics(client: &reqwest::Client, server: &Server, backend: &str) {
    let text = client
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("the server answers /metrics")
        .text()
        .await
        .expect("a text body");
    for needle in [
        format!(r#"steptalk_store_seconds_count{{backend="{backend}",op="load"}}"#),
        format!(r#"steptalk_store_seconds_count{{backend="{backend}",op="save"}}"#),
        format!(
            r#"steptalk_store_errors_total{{backend="{backend}",op="lock",kind="unavailable"}}"#
        ),
        format!(r#"steptalk_errors_total{{scenario="{SCENARIO}",kind="store"}} 1"#),
        format!(r#"steptalk_turns_total{{scenario="{SCENARIO}",outcome="ok"}}"#),
    ] {
        assert!(text.contains(&needle), "missing {needle} in\n{text}");
    }
}
