//! Routing an incoming request (spec 2.2): which step a launch, an intent or
//! a platform event enters, and how an intent's slots become variables.
//!
//! Routing is pure: it reads the scenario and the variables and returns a
//! [`Route`]; [`super::turn`] acts on it.

use serde_json::Value as Json;

use crate::expr::{Value, Vars};
use crate::scenario::{Next, Scenario, SlotKind, StepId};

use super::{Request, SlotInput};

/// Intents that end the session silently when nothing matches them (rule 5).
const QUIET_EXITS: [&str; 2] = ["AMAZON.StopIntent", "AMAZON.CancelIntent"];

/// Where a request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// Enter this step and run the enter-loop.
    Enter(StepId),
    /// Rule 5: nothing matched; answer with the waiting step's reprompt, which keeps waiting.
    NoMatch { waiting: StepId },
    /// Rule 5 for Stop/Cancel: end the session with no speech.
    EndQuietly,
    /// Session end, or an event that matched nothing: an empty answer.
    Empty,
}

/// Decides where `request` goes, given the step the session waits at.
pub(crate) fn route(scenario: &Scenario, request: &Request, waiting: Option<&str>) -> Route {
    let waiting = waiting.and_then(|name| scenario.step_by_name(name));
    match request {
        Request::Launch => Route::Enter(StepId::INITIAL),
        Request::SessionEnd => Route::Empty,
        Request::Event { name } => match scenario.entry_points.get(name) {
            Some(&id) => Route::Enter(id),
            None => Route::Empty,
        },
        Request::Intent { name, .. } => route_intent(scenario, name, waiting),
    }
}

fn route_intent(scenario: &Scenario, intent: &str, waiting: Option<StepId>) -> Route {
    let entry_point = scenario.entry_points.get(intent).copied();
    let Some(waiting) = waiting else {
        // A one-shot request or a stale session: rule 2, else start over.
        return Route::Enter(entry_point.unwrap_or(StepId::INITIAL));
    };
    let step = scenario.step(waiting);
    // Rule 1.
    if let Next::Map(map) = &step.next {
        if let Some(&target) = map.intents.get(intent) {
            return Route::Enter(target);
        }
    }
    // Rule 2.
    if let Some(target) = entry_point {
        return Route::Enter(target);
    }
    // Rules 3 and 4.
    let fallback = match &step.next {
        Next::Map(map) => map.any.or(if step.when.is_none() {
            map.otherwise
        } else {
            None
        }),
        // A waiting step whose `next` is a string treats it as `'*'`.
        Next::Step(target) => Some(*target),
        Next::End => None,
    };
    match fallback {
        Some(target) => Route::Enter(target),
        None if QUIET_EXITS.contains(&intent) => Route::EndQuietly,
        None => Route::NoMatch { waiting },
    }
}

/// Stores an intent's slots (spec 5) and sets `lastMessage`.
pub(crate) fn store_intent(
    scenario: &Scenario,
    vars: &mut Vars,
    intent: &str,
    slots: &[SlotInput],
) {
    for slot in slots {
        if let Some(value) = slot_value(scenario, slot) {
            vars.set(slot.name.clone(), value);
        }
    }
    vars.set("lastMessage", Value::from(Json::String(intent.to_string())));
}

/// The typed value of a slot, or `None` when it came empty (the variable keeps its value).
fn slot_value(scenario: &Scenario, slot: &SlotInput) -> Option<Value> {
    let spoken = slot.value.as_deref().filter(|v| !v.is_empty());
    let kind = scenario.slots.get(&slot.name).map(|s| &s.kind);
    match kind {
        Some(kind) if kind.is_number() => spoken.map(|v| Value::from(number(v))),
        // Custom types (and undeclared slots): the canonical value when resolution matched.
        Some(SlotKind::Custom(_)) | None => slot
            .resolved
            .as_deref()
            .filter(|v| !v.is_empty())
            .or(spoken)
            .map(|v| Value::from(Json::String(v.to_string()))),
        // Dates, times, durations, …: Alexa's text as is.
        Some(SlotKind::Builtin(_)) => spoken.map(|v| Value::from(Json::String(v.to_string()))),
    }
}

/// A number slot's value: an integer, else a float, else null (Alexa sends `?`).
fn number(text: &str) -> Json {
    let text = text.trim();
    if let Ok(n) = text.parse::<i64>() {
        return Json::from(n);
    }
    text.parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map(Json::Number)
        .unwrap_or(Json::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_slots_are_typed() {
        let cases = [
            ("3", Json::from(3)),
            (" -12 ", Json::from(-12)),
            ("2.5", Json::from(2.5)),
            ("?", Json::Null),
            ("three", Json::Null),
            ("NaN", Json::Null),
        ];
        for (text, expected) in cases {
            assert_eq!(number(text), expected, "{text:?}");
        }
    }
}
