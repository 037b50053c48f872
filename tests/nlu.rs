//! Raw utterance matching over real scenarios: every sample phrase, with its
//! slots filled by a value of the slot's type, is parsed back. The results are
//! snapshotted (one line per phrase) so a change in ranking shows up in review.
//!
//! For the project's own scenarios each phrase must come back as its own
//! intent: they are written to be unambiguous. BotTalk's templates are only
//! snapshotted, since some of their phrases are genuinely shared between
//! intents (`yes` in two intents of one scenario).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use steptalk::nlu::Matcher;
use steptalk::scenario::{Scenario, SlotKind};

/// A phrase with each `{slot}` replaced by a sample of the slot's type.
fn fill(scenario: &Scenario, phrase: &str) -> String {
    let mut out = String::new();
    let mut rest = phrase;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        out.push_str(&rest[..open]);
        let name = rest[open + 1..open + close].trim();
        let sample = match scenario.slots.get(name).map(|s| &s.kind) {
            Some(SlotKind::Custom(values)) => values.last().cloned().unwrap_or_default(),
            Some(kind) if kind.is_number() => "twenty one".to_string(),
            _ => "Paris".to_string(),
        };
        out.push_str(&sample);
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

/// Parses every filled phrase of `scenario`; returns the report and the
/// phrases that came back as another intent.
fn round_trip(scenario: &Scenario) -> (String, Vec<String>) {
    let matcher = Matcher::new(scenario);
    let mut report = String::new();
    let mut strays = Vec::new();
    for intent in scenario.intents.values() {
        for utterance in &intent.utterances {
            let said = fill(scenario, &utterance.text);
            let parsed = matcher.parse(&said);
            let slots: Vec<String> = parsed
                .slots
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let line = format!(
                "{:<20} {said:?} -> {} {}",
                intent.name,
                parsed.intent,
                slots.join(" ")
            );
            writeln!(report, "{}", line.trim_end()).unwrap();
            if parsed.intent != intent.name {
                strays.push(format!("{said:?} is {} not {}", parsed.intent, intent.name));
            }
        }
    }
    (report, strays)
}

fn load(dir: &Path) -> Scenario {
    let loaded = steptalk::scenario::load(dir);
    loaded
        .scenario
        .unwrap_or_else(|| panic!("{} loads: {:#?}", dir.display(), loaded.diagnostics))
}

#[test]
fn own_scenarios_round_trip() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    for name in ["pizza-order", "weather-api"] {
        let scenario = load(&root.join(name));
        let (report, strays) = round_trip(&scenario);
        insta::assert_snapshot!(format!("own_{name}"), report);
        assert!(strays.is_empty(), "{name}: {strays:#?}");
    }
}

#[test]
fn corpus_templates_round_trip() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/bottalk");
    if !corpus.is_dir() {
        println!("skipping: ../shared not found ({})", corpus.display());
        return;
    }
    let mut dirs: Vec<PathBuf> = ["templates/house-guest", "templates/ice-cream-maker"]
        .iter()
        .chain(&[
            "templates/quiz-game-using-when-conditions",
            "templates/five-random-questions-a-day-quiz",
            "tutorials/api-calls",
        ])
        .map(|d| corpus.join(d))
        .collect();
    dirs.sort();
    let mut report = String::new();
    for dir in dirs {
        let scenario = load(&dir);
        writeln!(report, "## {}", scenario.id).unwrap();
        report.push_str(&round_trip(&scenario).0);
    }
    insta::assert_snapshot!(report);
}
