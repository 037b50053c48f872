//! `steptalk test`: runs a scenario's `tests:` (spec section 7) through the engine.
//!
//! [`run`] loads each folder, runs its tests in file order and prints one line
//! per test, the details of the first failing turn of a failing test, and a
//! final `N passed, N failed`. A folder that does not load prints the loader's
//! diagnostics and counts as one failure. The runner drives the engine
//! directly with a synthesized Alexa-like envelope ([`envelope`]); it never goes
//! through `alexa/` or HTTP. Per-test logic lives in [`runner`].

pub mod envelope;
pub mod runner;
pub mod wait;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::engine::{Engine, EngineConfig};
use crate::nlu::Matcher;
use crate::outbound::HttpOutbound;
use crate::scenario::Scenario;
use runner::{Failure, Outcome, ScenarioRun};

/// `steptalk test` options.
#[derive(Debug, Clone, Default)]
pub struct TestOptions {
    /// Scenario folders, run in this order.
    pub dirs: Vec<PathBuf>,
    /// `--seed` (default 0).
    pub seed: u64,
    /// `--now` (RFC 3339); the wall clock when `None`.
    pub now: Option<chrono::DateTime<chrono::Utc>>,
    /// `--rewrite-outbound PREFIX=REPLACEMENT` rules.
    pub rewrites: Vec<crate::outbound::Rewrite>,
}

/// Tests counted so far.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Tests whose every turn passed.
    pub passed: usize,
    /// Failed tests, plus one per folder that did not load.
    pub failed: usize,
}

/// Runs the tests, writing a line per test and a final `N passed, N failed`;
/// returns the process exit code.
pub async fn run(options: &TestOptions, out: &mut (dyn Write + Send)) -> std::io::Result<i32> {
    let clock = match options.now {
        Some(now) => now.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        None => "wall clock".to_string(),
    };
    writeln!(out, "seed {}, clock {clock}", options.seed)?;
    let outbound = HttpOutbound::new(options.rewrites.clone()).map_err(std::io::Error::other)?;
    let engine = Engine {
        outbound: Arc::new(outbound),
        config: EngineConfig::default(),
    };
    let mut summary = Summary::default();
    for dir in &options.dirs {
        let name = folder_name(dir);
        match load(dir) {
            Err(rendered) => {
                writeln!(out, "\nscenario {name}: does not load")?;
                out.write_all(rendered.as_bytes())?;
                summary.failed += 1;
            }
            Ok(scenario) => {
                writeln!(out, "\nscenario {name}")?;
                run_scenario(&engine, &scenario, options, out, &mut summary).await?;
            }
        }
    }
    writeln!(
        out,
        "\n{} passed, {} failed",
        summary.passed, summary.failed
    )?;
    Ok(if summary.failed > 0 { 1 } else { 0 })
}

/// Runs every test of one loaded scenario, adding to `summary`.
pub async fn run_scenario(
    engine: &Engine,
    scenario: &Scenario,
    options: &TestOptions,
    out: &mut (dyn Write + Send),
    summary: &mut Summary,
) -> std::io::Result<()> {
    if scenario.tests.is_empty() {
        writeln!(out, "  no tests")?;
        return Ok(());
    }
    let run = ScenarioRun {
        engine,
        scenario,
        matcher: Matcher::new(scenario),
        seed: options.seed,
        now: options.now,
    };
    for test in &scenario.tests {
        match run.run(test).await {
            Outcome::Passed { n_turns } => {
                summary.passed += 1;
                let turns = if n_turns == 1 { "turn" } else { "turns" };
                writeln!(out, "  ok   {} ({n_turns} {turns})", test.name)?;
            }
            Outcome::Failed(failure) => {
                summary.failed += 1;
                writeln!(out, "  FAIL {}", test.name)?;
                write_failure(out, &failure)?;
            }
        }
    }
    Ok(())
}

/// The details of a failing turn, indented under the test's line.
fn write_failure(out: &mut (dyn Write + Send), failure: &Failure) -> std::io::Result<()> {
    let indent = "       ";
    writeln!(
        out,
        "{indent}turn {} of {} ({})",
        failure.turn, failure.n_turns, failure.location
    )?;
    writeln!(out, "{indent}said:     {}", failure.said)?;
    match &failure.expected {
        Some(expected) => writeln!(out, "{indent}expected: {}", wait::normalize(expected))?,
        None => writeln!(out, "{indent}expected: (no wait: the turn only has to run)")?,
    }
    if let Some(source) = &failure.wait_source {
        writeln!(out, "{indent}          (wait: {})", wait::normalize(source))?;
    }
    let answered = wait::normalize(&failure.answered);
    if answered.is_empty() {
        writeln!(out, "{indent}answered: (nothing)")?;
    } else {
        writeln!(out, "{indent}answered: {answered}")?;
    }
    if let Some(error) = &failure.error {
        writeln!(out, "{indent}error:    {error}")?;
    }
    let not_run = failure.n_turns - failure.turn;
    if not_run > 0 {
        let turns = if not_run == 1 { "turn" } else { "turns" };
        writeln!(out, "{indent}{not_run} more {turns} not run")?;
    }
    Ok(())
}

fn folder_name(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.display().to_string())
}

/// Loads a scenario folder, or returns its errors drawn by the shared
/// renderer, exactly as `steptalk check` prints them.
fn load(dir: &Path) -> Result<Scenario, String> {
    let loaded = crate::scenario::load(dir);
    if let Some(scenario) = loaded.scenario {
        return Ok(scenario);
    }
    let mut rendered = String::new();
    for diagnostic in loaded.diagnostics.iter().filter(|d| d.is_error()) {
        rendered.push_str(&crate::diagnostic::render(
            diagnostic,
            &loaded.sources,
            false,
        ));
        rendered.push('\n');
    }
    Err(rendered)
}
