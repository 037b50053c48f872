//! Runs one test of a scenario, turn by turn, through the engine.
//!
//! Each test is a fresh user (`test-<name>`) with no variables and its own
//! random generator seeded from (seed, test name), so adding or reordering
//! tests never changes what another test sees. The runner plays the platform's
//! part: it keeps the waiting step between turns as Alexa's session would, and
//! opens a new session after a turn that ended one.

use std::sync::{Arc, Mutex};

use rand::{Rng as _, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::envelope::{self, EnvelopeParts};
use super::wait;
use crate::engine::{Engine, Request, SlotInput, TurnEnv, TurnInput, TurnOutput};
use crate::expr::{Input, Rng, Scope, Vars};
use crate::nlu::Matcher;
use crate::scenario::{Scenario, SlotKind, TestCase, TestTurn};

/// How a test went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every turn passed.
    Passed {
        /// How many turns ran.
        n_turns: usize,
    },
    /// A turn failed; the rest did not run.
    Failed(Failure),
}

/// The first failing turn of a test: everything an author needs to see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// 1-based index of the failing turn.
    pub turn: usize,
    /// How many turns the test has.
    pub n_turns: usize,
    /// Where the turn is written, `tests.yml:12:7`.
    pub location: String,
    /// `say:` as written.
    pub said: String,
    /// The rendered `wait:` (`None` when the turn had none).
    pub expected: Option<String>,
    /// `wait:` as written, when rendering changed it.
    pub wait_source: Option<String>,
    /// The speech the scenario answered with (may be empty).
    pub answered: String,
    /// Why the turn failed when it was not a mismatch (a turn error).
    pub error: Option<String>,
}

/// Shared state for running every test of one scenario.
pub struct ScenarioRun<'a> {
    /// Runs the turns.
    pub engine: &'a Engine,
    /// The scenario under test.
    pub scenario: &'a Scenario,
    /// The scenario's sample phrases, for raw utterances.
    pub matcher: Matcher,
    /// `--seed`.
    pub seed: u64,
    /// `--now`; the wall clock when `None`.
    pub now: Option<chrono::DateTime<chrono::Utc>>,
}

/// The platform side of a dialog between turns.
struct Session {
    vars: Vars,
    waiting: Option<String>,
    new: bool,
    session_no: u32,
}

impl ScenarioRun<'_> {
    /// Runs `test` until its first failing turn.
    pub async fn run(&self, test: &TestCase) -> Outcome {
        let rng = seeded_rng(self.seed, &test.name, 0);
        // `wait` renders with its own generator so a `random()` inside `wait`
        // never shifts what the scenario itself draws next.
        let wait_rng = seeded_rng(self.seed, &test.name, 1);
        let user_id = format!("test-{}", test.name);
        let mut session = Session {
            vars: Vars::default(),
            waiting: None,
            new: true,
            session_no: 1,
        };
        for (idx, turn) in test.turns.iter().enumerate() {
            if let Err(failure) = self
                .run_turn(turn, idx, &user_id, &mut session, &rng, &wait_rng)
                .await
            {
                return Outcome::Failed(Failure {
                    turn: idx + 1,
                    n_turns: test.turns.len(),
                    ..*failure
                });
            }
        }
        Outcome::Passed {
            n_turns: test.turns.len(),
        }
    }

    async fn run_turn(
        &self,
        turn: &TestTurn,
        idx: usize,
        user_id: &str,
        session: &mut Session,
        rng: &Rng,
        wait_rng: &Rng,
    ) -> Result<(), Box<Failure>> {
        let now = self.now.unwrap_or_else(chrono::Utc::now);
        let request = self.request_for(turn, rng);
        let raw = envelope::build(&EnvelopeParts {
            scenario_id: &self.scenario.id,
            locale: &self.scenario.locale,
            user_id,
            access_token: turn.access_token.as_deref(),
            new_session: session.new,
            session_no: session.session_no,
            turn_no: idx as u32 + 1,
            waiting: session.waiting.as_deref(),
            request: &request,
            now,
        });
        let raw = Input::from(raw);
        let input = TurnInput {
            request: request.clone(),
            waiting: session.waiting.clone(),
            raw: raw.clone(),
            secrets: turn.access_token.iter().cloned().collect(),
        };
        let env = TurnEnv {
            rng: rng.clone(),
            now,
        };
        let failure = |answered: String, expected: Option<String>, error: Option<String>| {
            let wait_source = turn
                .wait
                .as_ref()
                .map(|w| w.source().to_string())
                .filter(|source| Some(source) != expected.as_ref());
            Box::new(Failure {
                turn: 0,
                n_turns: 0,
                location: self.location(turn),
                said: turn.say.clone(),
                expected,
                wait_source,
                answered,
                error,
            })
        };
        let output = match self
            .engine
            .run_turn(self.scenario, &input, &mut session.vars, &env)
            .await
        {
            Ok(output) => output,
            Err(err) => {
                let expected = turn.wait.as_ref().map(|w| w.source().to_string());
                return Err(failure(
                    TurnOutput::apology().speech,
                    expected,
                    Some(err.to_string()),
                ));
            }
        };
        session.advance(&request, &output);

        let Some(wait) = &turn.wait else {
            return Ok(());
        };
        let scope = Scope {
            vars: &session.vars,
            input: &raw,
            rng: wait_rng,
            now,
            timezone: self.scenario.timezone,
        };
        let expected = match wait.render(&scope) {
            Ok(expected) => expected,
            Err(err) => {
                return Err(failure(
                    output.speech,
                    Some(wait.source().to_string()),
                    Some(format!("rendering `wait` failed: {err}")),
                ));
            }
        };
        if wait::matches(&expected, &output.speech) {
            Ok(())
        } else {
            Err(failure(output.speech, Some(expected), None))
        }
    }

    /// What `say:` sends (spec section 7): `start` launches; an intent name
    /// (declared, or a platform prefix) sends that intent; anything else is a
    /// raw utterance for [`Matcher`].
    fn request_for(&self, turn: &TestTurn, rng: &Rng) -> Request {
        let say = turn.say.trim();
        if say == "start" {
            return Request::Launch;
        }
        // AudioPlayer and PlaybackController requests are request types on
        // Alexa, not intents; the engine routes them as platform events.
        if say.starts_with("AudioPlayer.") || say.starts_with("PlaybackController.") {
            return Request::Event {
                name: say.to_string(),
            };
        }
        let is_intent = self.scenario.intents.contains_key(say)
            || say.starts_with("AMAZON.")
            || say.starts_with("ISP.");
        if is_intent {
            return Request::Intent {
                name: say.to_string(),
                slots: self.slots_for(say, &turn.slots, rng),
            };
        }
        let parsed = self.matcher.parse(say);
        let mut slots: Vec<SlotInput> = parsed
            .slots
            .into_iter()
            .filter(|(name, _)| !turn.slots.contains_key(name))
            .map(|(name, value)| SlotInput {
                resolved: self.canonical(&name, &value),
                name,
                value: Some(value),
            })
            .collect();
        slots.extend(self.given_slots(&turn.slots));
        Request::Intent {
            name: parsed.intent,
            slots,
        }
    }

    /// The given slots, then every slot the intent cannot be spoken without
    /// (it occurs in every sample phrase) filled from the test's generator.
    fn slots_for(
        &self,
        intent: &str,
        given: &indexmap::IndexMap<String, String>,
        rng: &Rng,
    ) -> Vec<SlotInput> {
        let mut slots = self.given_slots(given);
        let Some(intent) = self.scenario.intents.get(intent) else {
            return slots;
        };
        let Some((first, rest)) = intent.utterances.split_first() else {
            return slots;
        };
        let others: Vec<Vec<String>> = rest.iter().map(|u| slot_names(&u.text)).collect();
        for name in slot_names(&first.text) {
            let required = others.iter().all(|names| names.contains(&name));
            let seen = slots.iter().any(|s| s.name == name);
            if !required || seen {
                continue;
            }
            let Some(slot) = self.scenario.slots.get(&name) else {
                continue;
            };
            let value = fill_value(&slot.kind, rng);
            slots.push(SlotInput {
                resolved: self.canonical(&name, &value),
                name,
                value: Some(value),
            });
        }
        slots
    }

    fn given_slots(&self, given: &indexmap::IndexMap<String, String>) -> Vec<SlotInput> {
        given
            .iter()
            .map(|(name, value)| SlotInput {
                name: name.clone(),
                value: Some(value.clone()),
                resolved: self.canonical(name, value),
            })
            .collect()
    }

    /// Entity resolution as Alexa does it: a value of a custom type that
    /// matches one of its declared values (ignoring case) resolves to it.
    fn canonical(&self, slot: &str, value: &str) -> Option<String> {
        match &self.scenario.slots.get(slot)?.kind {
            SlotKind::Custom(values) => values
                .iter()
                .find(|v| v.trim().eq_ignore_ascii_case(value.trim()))
                .cloned(),
            SlotKind::Builtin(_) => None,
        }
    }

    fn location(&self, turn: &TestTurn) -> String {
        let path = self.scenario.sources.path(turn.span.file);
        let file = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        format!("{file}:{}:{}", turn.span.start.line, turn.span.start.col)
    }
}

impl Session {
    /// Carries the dialog into the next turn the way Alexa's session does.
    fn advance(&mut self, request: &Request, output: &TurnOutput) {
        // An AudioPlayer event that nothing handles leaves the session alone:
        // on Alexa these requests arrive outside the dialog's session.
        let silent = output.speech.is_empty() && output.waiting.is_none() && output.card.is_none();
        if matches!(request, Request::Event { .. }) && silent {
            return;
        }
        if output.end_session {
            self.waiting = None;
            self.new = true;
            self.session_no += 1;
        } else {
            self.waiting = output.waiting.clone();
            self.new = false;
        }
    }
}

/// A value for a slot the test did not give (spec section 7).
fn fill_value(kind: &SlotKind, rng: &Rng) -> String {
    let mut rng = rng.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    match kind {
        SlotKind::Custom(values) if !values.is_empty() => {
            values[rng.random_range(0..values.len())].clone()
        }
        SlotKind::Custom(_) => String::new(),
        SlotKind::Builtin(kind) => match kind.as_str() {
            "AMAZON.NUMBER" => rng.random_range(0..=100u32).to_string(),
            other => builtin_sample(other).to_string(),
        },
    }
}

/// The fixed sample value of a built-in slot type other than numbers.
fn builtin_sample(kind: &str) -> &'static str {
    match kind {
        "AMAZON.DATE" => "2019-03-12",
        "AMAZON.TIME" => "14:05",
        "AMAZON.DURATION" => "PT5M",
        "AMAZON.Color" => "blue",
        "AMAZON.Country" => "France",
        "AMAZON.Language" => "English",
        "AMAZON.PhoneNumber" => "5550123",
        "AMAZON.FirstName" => "Alex",
        _ => "something",
    }
}

/// The `{slot}` names of a sample phrase, in order.
fn slot_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        names.push(rest[open + 1..open + close].trim().to_string());
        rest = &rest[open + close + 1..];
    }
    names
}

/// A generator for (seed, test name, stream): FNV-1a over the name, so the
/// seed of a test depends on nothing but its own name and `--seed`.
fn seeded_rng(seed: u64, test: &str, stream: u64) -> Rng {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in seed
        .to_le_bytes()
        .iter()
        .chain(stream.to_le_bytes().iter())
        .chain(test.as_bytes())
    {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    Arc::new(Mutex::new(ChaCha8Rng::seed_from_u64(hash)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How `say:` becomes a request, for every form spec section 7 names.
    #[test]
    fn say_forms() {
        let tmp = tempfile::tempdir().unwrap();
        let main = r#"
scenario:
  name: Say
  steps:
    - name: Start
      actions:
        - getInput:
      next:
        order: Start
intents:
  order: ['{count} {flavour} please', 'order {flavour}']
  AMAZON.HelpIntent:
slots:
  count: '@bottalk.number'
  flavour: [Vanilla, chocolate]
"#;
        std::fs::write(tmp.path().join("main.yml"), main).unwrap();
        let loaded = crate::scenario::load(tmp.path());
        let scenario = loaded.scenario.expect("loads");
        let engine = Engine {
            outbound: Arc::new(crate::outbound::HttpOutbound::new(vec![]).unwrap()),
            config: Default::default(),
        };
        let run = ScenarioRun {
            engine: &engine,
            matcher: Matcher::new(&scenario),
            scenario: &scenario,
            seed: 0,
            now: None,
        };
        let rng = seeded_rng(0, "say", 0);
        let slot = |name: &str, value: &str, resolved: Option<&str>| SlotInput {
            name: name.into(),
            value: Some(value.into()),
            resolved: resolved.map(Into::into),
        };
        let intent = |name: &str, slots: Vec<SlotInput>| Request::Intent {
            name: name.into(),
            slots,
        };
        // (say, given slots, the request sent)
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], Request);
        let cases: Vec<Case> = vec![
            ("start", &[], Request::Launch),
            // Declared: `flavour` is in every phrase, so it is filled; `count` is not.
            (
                "order",
                &[],
                intent(
                    "order",
                    vec![slot("flavour", "chocolate", Some("chocolate"))],
                ),
            ),
            // Given values are sent as written, resolved when they match a value.
            (
                "order",
                &[("flavour", "vanilla"), ("count", "2")],
                intent(
                    "order",
                    vec![
                        slot("flavour", "vanilla", Some("Vanilla")),
                        slot("count", "2", None),
                    ],
                ),
            ),
            (
                "order",
                &[("flavour", "mint")],
                intent("order", vec![slot("flavour", "mint", None)]),
            ),
            (
                "AMAZON.HelpIntent",
                &[],
                intent("AMAZON.HelpIntent", vec![]),
            ),
            ("AMAZON.YesIntent", &[], intent("AMAZON.YesIntent", vec![])),
            ("ISP.Buy", &[], intent("ISP.Buy", vec![])),
            (
                "AudioPlayer.PlaybackStarted",
                &[],
                Request::Event {
                    name: "AudioPlayer.PlaybackStarted".into(),
                },
            ),
            // Raw utterances go through the matcher.
            (
                "two vanilla please",
                &[],
                intent(
                    "order",
                    vec![
                        slot("count", "2", None),
                        slot("flavour", "Vanilla", Some("Vanilla")),
                    ],
                ),
            ),
            ("90", &[], intent("AMAZON.FallbackIntent", vec![])),
            ("help", &[], intent("AMAZON.HelpIntent", vec![])),
        ];
        for (say, slots, expected) in cases {
            let turn = TestTurn {
                say: say.into(),
                span: Default::default(),
                slots: slots
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                wait: None,
                access_token: None,
            };
            assert_eq!(run.request_for(&turn, &rng), expected, "say: {say}");
        }
    }

    #[test]
    fn slot_names_in_order() {
        assert_eq!(
            slot_names("move the {task_order} task from { source } to {dest}"),
            ["task_order", "source", "dest"]
        );
        assert!(slot_names("no slots {here").is_empty());
    }

    #[test]
    fn seeds_depend_on_seed_and_name_only() {
        let draw = |seed, name: &str, stream| {
            let rng = seeded_rng(seed, name, stream);
            let mut rng = rng.lock().unwrap();
            rng.random::<u64>()
        };
        assert_eq!(draw(0, "Happy Path", 0), draw(0, "Happy Path", 0));
        assert_ne!(draw(0, "Happy Path", 0), draw(1, "Happy Path", 0));
        assert_ne!(draw(0, "Happy Path", 0), draw(0, "Sad Path", 0));
        assert_ne!(draw(0, "Happy Path", 0), draw(0, "Happy Path", 1));
    }

    #[test]
    fn fill_values_by_type() {
        let rng = seeded_rng(0, "fill", 0);
        let builtin = |t: &str| SlotKind::Builtin(t.to_string());
        assert_eq!(fill_value(&builtin("AMAZON.DATE"), &rng), "2019-03-12");
        assert_eq!(fill_value(&builtin("AMAZON.TIME"), &rng), "14:05");
        assert_eq!(fill_value(&builtin("AMAZON.DURATION"), &rng), "PT5M");
        assert_eq!(fill_value(&builtin("AMAZON.Color"), &rng), "blue");
        for _ in 0..50 {
            let n: u32 = fill_value(&builtin("AMAZON.NUMBER"), &rng).parse().unwrap();
            assert!(n <= 100);
            let custom = SlotKind::Custom(vec!["a".into(), "b".into()]);
            assert!(["a", "b"].contains(&fill_value(&custom, &rng).as_str()));
        }
    }
}
