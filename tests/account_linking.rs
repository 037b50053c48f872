//! The account-linking scenario end to end (issue 5): the real `steptalk` binary serving
//! `scenarios/account-linking` over HTTP on loopback, with a real stand-in for the Login with
//! Amazon profile API (`tests/support/lwa.rs`) reached through `--rewrite-outbound`.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::lwa;

const SCENARIO: &str = "scenarios/account-linking";

/// A `steptalk serve` child process, killed on drop.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Starts `steptalk serve` on a free port and waits until `/healthz` answers.
async fn start_server(dir: &str, store: &str, profile_api: &str) -> Server {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_steptalk"))
        .current_dir(manifest_dir())
        .args(["serve", dir, "--insecure-skip-verify", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["--store", store, "--rewrite-outbound"])
        .arg(format!("https://api.amazon.com={profile_api}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the steptalk binary starts");
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(res) = client.get(format!("{}/healthz", server.base)).send().await {
            if res.status().is_success() {
                return server;
            }
        }
        assert!(
            Instant::now() < deadline,
            "steptalk serve did not become healthy"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A LaunchRequest envelope as Alexa sends it; `token` links the account.
fn launch(user: &str, token: Option<&str>) -> Value {
    support::envelope(support::launch(), user, token, None)
}

async fn post(server: &Server, body: &Value) -> (u16, Value, Duration) {
    let started = Instant::now();
    let res = reqwest::Client::new()
        .post(format!("{}/alexa/account-linking", server.base))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let json = res.json::<Value>().await.unwrap_or(Value::Null);
    (status, json, started.elapsed())
}

fn speech(res: &Value) -> &str {
    res["response"]["outputSpeech"]["ssml"]
        .as_str()
        .unwrap_or("")
}

/// The answer when the profile API cannot be reached: an apology, well inside
/// Alexa's 8 s.
fn assert_apology_in_time(res: &Value, elapsed: Duration) {
    assert!(
        speech(res).contains("Sorry, I could not reach Amazon"),
        "{res}"
    );
    assert!(
        elapsed < Duration::from_secs(7),
        "answered after {elapsed:?}"
    );
}

fn temp_db(dir: &tempfile::TempDir) -> (String, PathBuf) {
    let path = dir.path().join("steptalk.db");
    (format!("sqlite://{}", path.display()), path)
}

#[tokio::test(flavor = "multi_thread")]
async fn account_linking_over_http() {
    let lwa = support::start_lwa().await;
    let tmp = tempfile::tempdir().unwrap();
    let (store, db_path) = temp_db(&tmp);
    let server = start_server(SCENARIO, &store, &lwa).await;

    // An unlinked user: asked to link, a LinkAccount card, the session ends.
    let (status, res, _) = post(&server, &launch("user-unlinked", None)).await;
    assert_eq!(status, 200, "{res}");
    assert!(
        speech(&res).contains("Please link your account in the companion Alexa App"),
        "{res}"
    );
    assert_eq!(res["response"]["card"]["type"], "LinkAccount", "{res}");
    assert_eq!(res["response"]["shouldEndSession"], true, "{res}");

    // A linked user hears the e-mail from the profile API.
    let (status, res, _) = post(&server, &launch("user-linked", Some("Atza|valid-token"))).await;
    assert_eq!(status, 200, "{res}");
    assert!(
        speech(&res).contains(&format!("The user e-mail is: {}", lwa::EMAIL)),
        "{res}"
    );
    assert!(res["response"].get("card").is_none(), "{res}");

    // An invalid or expired token (400 invalid_token): the LinkAccount card again.
    let (status, res, _) = post(&server, &launch("user-expired", Some("Atza|expired-token"))).await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["response"]["card"]["type"], "LinkAccount", "{res}");
    assert!(speech(&res).contains("link your account again"), "{res}");

    // The profile API answers after 10 s: an apology, well inside Alexa's 8 s.
    let (status, res, elapsed) = post(&server, &launch("user-slow", Some("Atza|slow-token"))).await;
    assert_eq!(status, 200, "{res}");
    assert_apology_in_time(&res, elapsed);

    // After the linked turns, no stored record holds a token.
    drop(server);
    let stored = sqlite_text_containing(&db_path, lwa::EMAIL);
    assert!(
        !stored.is_empty(),
        "the linked turn's variables were not stored"
    );
    let leaked = sqlite_text_containing(&db_path, "Atza|");
    assert!(leaked.is_empty(), "tokens found in the store: {leaked:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn profile_api_down_gets_an_apology() {
    // Nothing listens on this port: connecting fails at once.
    let down = format!("http://127.0.0.1:{}", free_port());
    let server = start_server(SCENARIO, "memory://", &down).await;
    let (status, res, elapsed) =
        post(&server, &launch("user-down", Some("Atza|valid-token"))).await;
    assert_eq!(status, 200, "{res}");
    assert_apology_in_time(&res, elapsed);
}

/// `steptalk test` over the scenario's own tests and over the tutorial snippet as published.
#[tokio::test(flavor = "multi_thread")]
async fn scenario_tests_pass_against_the_stand_in() {
    let lwa = support::start_lwa().await;
    for dir in [SCENARIO, "tests/fixtures/tutorial-account-linking"] {
        let check = Command::new(env!("CARGO_BIN_EXE_steptalk"))
            .current_dir(manifest_dir())
            .args(["check", dir])
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "check {dir}:\n{}",
            String::from_utf8_lossy(&check.stdout)
        );
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_steptalk"))
            .current_dir(manifest_dir())
            .args(["test", dir, "--rewrite-outbound"])
            .arg(format!("https://api.amazon.com={lwa}"))
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "test {dir}:\n{stdout}");
        assert!(
            stdout
                .lines()
                .last()
                .unwrap_or("")
                .ends_with(" passed, 0 failed"),
            "{stdout}"
        );
    }
}

/// Every text value in every table of the SQLite store that contains `needle`.
fn sqlite_text_containing(path: &Path, needle: &str) -> Vec<String> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(!tables.is_empty(), "the store has no tables");
    let mut found = Vec::new();
    for table in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let n_columns = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for i in 0..n_columns {
                let text = match row.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                        String::from_utf8_lossy(t).into_owned()
                    }
                    _ => continue,
                };
                if text.contains(needle) {
                    found.push(format!("{table}: {text}"));
                }
            }
        }
    }
    found
}
