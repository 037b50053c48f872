//! Shared helpers for the integration tests: a real steptalk server on
//! loopback ([`start_server`]), the Login with Amazon stand-in ([`lwa`]),
//! request envelopes, the `../shared` folder and captured logs.
//!
//! Each test binary uses a different subset, hence the `dead_code` allowances.
#![allow(dead_code)]

pub mod lwa;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{json, Value};
use steptalk::server::{AppState, ServeError, ServeOptions};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// `../shared` (the conformance corpus and Alexa samples), or `None` after
/// printing why the calling test is skipped.
pub fn shared() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
    if path.is_dir() {
        Some(path)
    } else {
        println!("skipping: ../shared not found ({})", path.display());
        None
    }
}

/// A scenario folder of this repository, e.g. `account-linking`.
pub fn scenario_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name)
}

/// `../shared/corpus/bottalk` (the BotTalk conformance corpus), or `None`
/// after printing why the calling test is skipped.
pub fn corpus() -> Option<PathBuf> {
    shared().map(|shared| shared.join("corpus/bottalk"))
}

/// Runs `steptalk test ARGS…` in `cwd` with no settings from the environment
/// and returns (exit code, stdout).
pub fn steptalk_test(cwd: &Path, args: &[&str]) -> (i32, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_steptalk"))
        .arg("test")
        .args(args)
        .current_dir(cwd)
        .env_remove("STEPTALK_REWRITE_OUTBOUND")
        .env_remove("STEPTALK_SEED")
        .env("RUST_LOG", "off")
        .output()
        .expect("the steptalk binary runs");
    let stdout = String::from_utf8(output.stdout).expect("stdout is UTF-8");
    (output.status.code().unwrap_or(-1), stdout)
}

/// Options for serving `scenarios` from this repository with a `memory://`
/// store and signature checks off.
pub fn options(scenarios: &[&str]) -> ServeOptions {
    ServeOptions {
        dirs: scenarios.iter().map(|name| scenario_dir(name)).collect(),
        listen: "127.0.0.1:0".parse().expect("a literal address"),
        store_url: "memory://".to_string(),
        skill_ids: Vec::new(),
        insecure_skip_verify: true,
        rewrites: Vec::new(),
        max_record_bytes: steptalk::store::StoreOptions::default().max_record_bytes,
        watch: false,
    }
}

/// A steptalk server running on `127.0.0.1:<random port>`.
pub struct TestServer {
    pub addr: SocketAddr,
    /// The state it serves (its metrics, store, limits).
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServeError>>>,
}

impl TestServer {
    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Sends the shutdown signal without waiting.
    pub fn signal_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// Signals shutdown and waits for `serve` to return.
    pub async fn stop(mut self) -> Result<(), ServeError> {
        self.signal_shutdown();
        match self.task.take() {
            Some(task) => task.await.expect("the server task did not panic"),
            None => Ok(()),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.signal_shutdown();
    }
}

/// Builds the state for `options` (as `steptalk serve` does) and serves it.
pub async fn start_server(options: ServeOptions) -> TestServer {
    let state = steptalk::server::build_state(&options)
        .await
        .expect("the server state builds");
    start_server_with(state).await
}

/// Serves `state` on a fresh loopback port until the returned server is
/// stopped or dropped.
pub async fn start_server_with(state: AppState) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("bound address");
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(steptalk::server::serve(listener, state.clone(), async {
        let _ = rx.await;
    }));
    TestServer {
        addr,
        state,
        shutdown: Some(tx),
        task: Some(task),
    }
}

/// Serves the Login with Amazon stand-in on loopback; returns its base URL.
pub async fn start_lwa() -> String {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("bound address");
    tokio::spawn(lwa::serve(listener));
    format!("http://{addr}")
}

/// A request envelope as Alexa sends it (timestamp now), for `user`, with an
/// optional access token and waiting step.
pub fn envelope(request: Value, user: &str, token: Option<&str>, waiting: Option<&str>) -> Value {
    let mut request = request;
    request["requestId"] = json!("amzn1.echo-api.request.test");
    request["timestamp"] = json!(chrono::Utc::now().to_rfc3339());
    request["locale"] = json!("en-US");
    let mut user_json = json!({ "userId": user });
    if let Some(token) = token {
        user_json["accessToken"] = json!(token);
    }
    let attributes = match waiting {
        Some(step) => json!({ "steptalk": { "step": step } }),
        None => json!({}),
    };
    json!({
        "version": "1.0",
        "session": {
            "new": waiting.is_none(),
            "sessionId": "amzn1.echo-api.session.test",
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
    })
}

/// A `LaunchRequest` body.
pub fn launch() -> Value {
    json!({ "type": "LaunchRequest" })
}

/// An `IntentRequest` body for `name` without slots.
pub fn intent(name: &str) -> Value {
    json!({ "type": "IntentRequest", "intent": { "name": name, "confirmationStatus": "NONE" } })
}

/// Log lines written by `tracing` in this test binary, captured from the
/// first call on. Tests run in parallel, so assert with `contains`.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer lock")).into_owned()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .expect("log buffer lock")
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber (once per test binary) and returns the buffer.
pub fn capture_logs() -> Logs {
    static LOGS: OnceLock<Logs> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Logs::default();
        let writer = logs.clone();
        tracing_subscriber::fmt()
            .with_env_filter("info")
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        logs
    })
    .clone()
}
