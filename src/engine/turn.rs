//! The enter-loop of one turn (spec 2.1): enter a step, check its `when`, run
//! its actions, follow `next`, until a step waits or the session ends.
//!
//! A [`Turn`] owns a working copy of the user's variables; the caller only
//! takes them back when the turn succeeded.

use std::time::Instant;

use rand::Rng as _;

use crate::expr::{Scope, Value, Vars};
use crate::scenario::{Action, ActionKind, Next, Scenario, StepId};

use super::actions::{self, Flow};
use super::route::{self, Route};
use super::{
    CardOutput, Engine, Request, TurnEnv, TurnError, TurnErrorKind, TurnInput, TurnOutput,
};

/// More entries than this in one turn is a turn error (an endless `next` loop).
pub(crate) const MAX_ENTRIES: u32 = 64;

/// What the user hears when nothing matched and no reprompt is known (spec 2.3).
const DIDNT_GET_THAT: &str = "Sorry, I didn't get that.";

/// The state of one running turn.
pub(crate) struct Turn<'a> {
    pub(crate) engine: &'a Engine,
    pub(crate) scenario: &'a Scenario,
    pub(crate) input: &'a TurnInput,
    pub(crate) env: &'a TurnEnv,
    /// The working copy of the variables.
    pub(crate) vars: Vars,
    /// The speech so far: trimmed, non-empty texts joined by one space.
    pub(crate) speech: String,
    /// The last `reprompt` of the turn, rendered.
    pub(crate) reprompt: Option<String>,
    /// The last `sendCard` of the turn.
    pub(crate) card: Option<CardOutput>,
    /// When the turn started: the HTTP budget counts from here.
    pub(crate) started: Instant,
}

impl<'a> Turn<'a> {
    /// Starts a turn over a copy of the variables.
    pub(crate) fn new(
        engine: &'a Engine,
        scenario: &'a Scenario,
        input: &'a TurnInput,
        env: &'a TurnEnv,
        vars: Vars,
    ) -> Turn<'a> {
        Turn {
            engine,
            scenario,
            input,
            env,
            vars,
            speech: String::new(),
            reprompt: None,
            card: None,
            started: Instant::now(),
        }
    }

    /// The variables after the turn.
    pub(crate) fn into_vars(self) -> Vars {
        self.vars
    }

    /// What an expression evaluated now sees.
    pub(crate) fn scope(&self) -> Scope<'_> {
        Scope {
            vars: &self.vars,
            input: &self.input.raw,
            rng: &self.env.rng,
            now: self.env.now,
            timezone: self.scenario.timezone,
        }
    }

    /// Appends one `sendText` result (spec 2.1: trimmed, empty ones dropped).
    pub(crate) fn say(&mut self, text: &str) {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        if !self.speech.is_empty() {
            self.speech.push(' ');
        }
        self.speech.push_str(text);
    }

    /// Routes the request and runs the turn.
    pub(crate) async fn run(&mut self) -> Result<TurnOutput, TurnError> {
        if let Request::Intent { name, slots } = &self.input.request {
            route::store_intent(self.scenario, &mut self.vars, name, slots);
        }
        match route::route(
            self.scenario,
            &self.input.request,
            self.input.waiting.as_deref(),
        ) {
            Route::Enter(step) => self.enter(step).await,
            Route::NoMatch { waiting } => self.no_match(waiting),
            Route::EndQuietly => Ok(TurnOutput {
                end_session: true,
                ..TurnOutput::default()
            }),
            Route::Empty => Ok(self.empty()),
        }
    }

    /// The answer to a session end or an unmatched event: no speech; a session
    /// that was waiting somewhere keeps waiting there.
    fn empty(&self) -> TurnOutput {
        let waiting = match self.input.request {
            Request::SessionEnd => None,
            _ => self
                .input
                .waiting
                .as_deref()
                .filter(|name| self.scenario.step_by_name(name).is_some())
                .map(str::to_string),
        };
        TurnOutput {
            end_session: waiting.is_none(),
            waiting,
            ..TurnOutput::default()
        }
    }

    /// The enter-loop (spec 2.1).
    async fn enter(&mut self, first: StepId) -> Result<TurnOutput, TurnError> {
        let scenario = self.scenario;
        let mut current = Some(first);
        let mut n_entries = 0;
        while let Some(step_id) = current {
            let step = scenario.step(step_id);
            n_entries += 1;
            if n_entries > MAX_ENTRIES {
                return Err(TurnError {
                    step: step.name.clone(),
                    action: None,
                    kind: TurnErrorKind::TooManySteps,
                });
            }
            if let Some(when) = &step.when {
                let passes = when
                    .eval(&self.scope())
                    .map_err(|e| TurnError {
                        step: step.name.clone(),
                        action: Some("when".to_string()),
                        kind: e.into(),
                    })?
                    .is_truthy();
                if !passes {
                    current = match &step.next {
                        Next::Map(map) => map.otherwise,
                        Next::Step(target) => Some(*target),
                        Next::End => None,
                    };
                    continue;
                }
            }
            let mut compared = None;
            for action in &step.actions {
                let flow = actions::run(self, action).await.map_err(|kind| TurnError {
                    step: step.name.clone(),
                    action: Some(action_label(scenario, action)),
                    kind,
                })?;
                match flow {
                    Flow::Continue => {}
                    Flow::Compared(result) => compared = Some(result),
                    Flow::Wait => return Ok(self.wait_at(step_id)),
                }
            }
            current = match (&step.next, compared) {
                (Next::Map(map), Some(true)) => map.on_true,
                (Next::Map(map), Some(false)) => map.on_false,
                (Next::Step(target), _) => Some(*target),
                _ => None,
            };
        }
        Ok(self.end())
    }

    /// A reply that keeps the session open at `step`.
    fn wait_at(&mut self, step: StepId) -> TurnOutput {
        let reprompt = self.reprompt.take().or_else(|| self.default_reprompt());
        TurnOutput {
            speech: std::mem::take(&mut self.speech),
            reprompt,
            card: self.card.take(),
            end_session: false,
            waiting: Some(self.scenario.step(step).name.clone()),
        }
    }

    /// A reply that ends the session (it carries no reprompt).
    fn end(&mut self) -> TurnOutput {
        TurnOutput {
            speech: std::mem::take(&mut self.speech),
            reprompt: None,
            card: self.card.take(),
            end_session: true,
            waiting: None,
        }
    }

    /// A random entry of `scenario.reprompts`, rendered; `None` when there are
    /// none or the chosen one fails to render (a default reprompt is a nicety,
    /// not worth failing a turn that already succeeded).
    fn default_reprompt(&self) -> Option<String> {
        let reprompts = &self.scenario.reprompts;
        if reprompts.is_empty() {
            return None;
        }
        let idx = {
            let mut rng = self.env.rng.lock().unwrap_or_else(|e| e.into_inner());
            rng.random_range(0..reprompts.len())
        };
        let text = reprompts[idx].render(&self.scope()).ok()?;
        Some(text.trim().to_string()).filter(|t| !t.is_empty())
    }

    /// Rule 5 (spec 2.2): the waiting step's last `reprompt`, rendered now, else
    /// a default reprompt, else a fixed apology; the step keeps waiting.
    fn no_match(&mut self, waiting: StepId) -> Result<TurnOutput, TurnError> {
        let step = self.scenario.step(waiting);
        let last_reprompt = step.actions.iter().rev().find_map(|a| match &a.kind {
            ActionKind::Reprompt(t) => Some((a, t)),
            _ => None,
        });
        let text = match last_reprompt {
            Some((action, template)) => {
                let text = template.render(&self.scope()).map_err(|e| TurnError {
                    step: step.name.clone(),
                    action: Some(action_label(self.scenario, action)),
                    kind: e.into(),
                })?;
                Some(text.trim().to_string()).filter(|t| !t.is_empty())
            }
            None => None,
        };
        let text = text
            .or_else(|| self.default_reprompt())
            .unwrap_or_else(|| DIDNT_GET_THAT.to_string());
        Ok(TurnOutput {
            speech: text.clone(),
            reprompt: Some(text),
            card: None,
            end_session: false,
            waiting: Some(step.name.clone()),
        })
    }
}

/// Names an action for a turn error: `sendText (main.yml:12:9)`.
pub(crate) fn action_label(scenario: &Scenario, action: &Action) -> String {
    let path = scenario.sources.path(action.span.file);
    // The file name is enough to find the line and keeps logs free of local paths.
    let file = path
        .file_name()
        .unwrap_or(path.as_os_str())
        .to_string_lossy();
    format!(
        "{} ({}:{}:{})",
        actions::name(&action.kind),
        file,
        action.span.start.line,
        action.span.start.col
    )
}

/// A value the turn produced, as a string variable.
pub(crate) fn text_value(text: String) -> Value {
    Value::from(serde_json::Value::String(text))
}
