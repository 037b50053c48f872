//! `steptalk serve --watch`: an author edits the YAML of a running server.
//!
//! A table of edits, each followed by what the server must answer once the
//! edit is picked up: a fixed text is served after a reload, a broken file is
//! logged with its location while the last good version keeps answering, and
//! a new scenario folder appears under the served folder of folders.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

/// A one-step scenario that greets with `text`.
fn greeter(text: &str) -> String {
    format!(
        "scenario:\n  name: Greeter\n  steps:\n    - name: Hello\n      entrypoint: true\n      actions:\n        - sendText: '{text}'\n"
    )
}

/// What the server must show after an edit.
enum Expect {
    /// `POST /alexa/{scenario}` (a launch) says this.
    Says(&'static str, &'static str),
    /// The log gets a line with all of these, and the scenario still says the text.
    LogsAndStillSays(&'static [&'static str], &'static str, &'static str),
}

async fn launch_speech(server: &support::TestServer, scenario: &str) -> Option<String> {
    let body = support::envelope(support::launch(), "watcher", None, None);
    let res = reqwest::Client::new()
        .post(server.url(&format!("/alexa/{scenario}")))
        .json(&body)
        .send()
        .await
        .ok()?;
    if !res.status().is_success() {
        return None;
    }
    let json: Value = res.json().await.ok()?;
    json["response"]["outputSpeech"]["ssml"]
        .as_str()
        .map(str::to_string)
}

fn write(root: &Path, file: &str, text: &str) {
    let path = root.join(file);
    std::fs::create_dir_all(path.parent().expect("a parent folder")).expect("mkdir");
    std::fs::write(path, text).expect("write the scenario file");
}

#[tokio::test(flavor = "multi_thread")]
async fn edits_are_served_without_a_restart_and_broken_ones_are_not() {
    let logs = support::capture_logs();
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path().join("scenarios");
    write(&root, "greeter/main.yml", &greeter("Hello one."));

    let mut options = support::options(&[]);
    options.dirs = vec![root.clone()];
    options.watch = true;
    let state = steptalk::server::build_state(&options)
        .await
        .expect("the state builds");
    let watcher = steptalk::server::watch(&options.dirs, state.scenarios.clone()).expect("watch");
    let server = support::start_server_with(state).await;
    assert_eq!(
        launch_speech(&server, "greeter").await.as_deref(),
        Some("<speak>Hello one.</speak>")
    );

    let broken = "scenario:\n  name: Greeter\n  steps:\n    - name: Hello\n      entrypoint: true\n      actions:\n        - sendText: 'Hello {{ name'\n";
    let steps: Vec<(&str, String, Expect)> = vec![
        (
            "greeter/main.yml",
            greeter("Hello two."),
            Expect::Says("greeter", "<speak>Hello two.</speak>"),
        ),
        (
            "greeter/main.yml",
            broken.to_string(),
            Expect::LogsAndStillSays(
                &["reload failed", "greeter/main.yml:7:"],
                "greeter",
                "<speak>Hello two.</speak>",
            ),
        ),
        (
            "greeter/main.yml",
            greeter("Hello three."),
            Expect::Says("greeter", "<speak>Hello three.</speak>"),
        ),
        (
            "second/main.yml",
            greeter("Hello from the second."),
            Expect::Says("second", "<speak>Hello from the second.</speak>"),
        ),
    ];

    for (file, text, expect) in steps {
        write(&root, file, &text);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let done = match &expect {
                Expect::Says(scenario, speech) => {
                    launch_speech(&server, scenario).await.as_deref() == Some(*speech)
                }
                Expect::LogsAndStillSays(needles, scenario, speech) => {
                    let log = logs.text();
                    let logged = needles.iter().all(|needle| log.contains(needle));
                    if logged {
                        assert_eq!(
                            launch_speech(&server, scenario).await.as_deref(),
                            Some(*speech),
                            "after a broken edit of {file}, the last good version answers"
                        );
                    }
                    logged
                }
            };
            if done {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the edit of {file} was not picked up within 15 s; log:\n{}",
                logs.text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    drop(watcher);
    server.stop().await.expect("clean stop");
}
