//! Checks that need the whole model: entry points (routing rule 2, spec 2.2)
//! and unreachable steps.
//!
//! Checks of a single node (unknown actions, unknown `next` targets, …) are
//! reported while building, in [`super::build`], where the node is at hand.

use super::build::StepFacts;
use super::loader::Cx;
use super::{Next, Scenario, StepId};
use crate::diagnostic::Diagnostic;

/// Computes `scenario.entry_points` and reports unreachable steps.
pub(crate) fn run(scenario: &mut Scenario, facts: &[StepFacts], cx: &mut Cx) {
    scenario.entry_points = entry_points(scenario);
    unreachable_steps(scenario, facts, cx);
}

/// Intent → the earliest step with `entrypoint: true` that is the target of
/// that intent in any step's `next` map.
fn entry_points(scenario: &Scenario) -> indexmap::IndexMap<String, StepId> {
    let mut map: indexmap::IndexMap<String, StepId> = indexmap::IndexMap::new();
    for step in &scenario.steps {
        let Next::Map(next) = &step.next else {
            continue;
        };
        for (intent, target) in &next.intents {
            if !scenario.step(*target).entrypoint {
                continue;
            }
            map.entry(intent.clone())
                .and_modify(|t| *t = (*t).min(*target))
                .or_insert(*target);
        }
    }
    map
}

/// Steps that no path reaches from the initial step or an entry point.
fn unreachable_steps(scenario: &Scenario, facts: &[StepFacts], cx: &mut Cx) {
    let n = scenario.steps.len();
    let mut seen = vec![false; n];
    let mut stack = vec![StepId::INITIAL];
    stack.extend(scenario.entry_points.values().copied());
    while let Some(id) = stack.pop() {
        let Some(done) = seen.get_mut(id.index()) else {
            continue;
        };
        if *done {
            continue;
        }
        *done = true;
        if let Some(f) = facts.get(id.index()) {
            stack.extend(f.targets.iter().map(|(t, _)| *t));
        }
    }
    for (i, step) in scenario.steps.iter().enumerate() {
        if seen[i] {
            continue;
        }
        let mut d = Diagnostic::warning(
            "unreachable-step",
            step.span,
            format!("step `{}` can never run: no `next` leads to it", step.name),
        );
        d = if step.entrypoint {
            d.with_help("an entry point is only reachable through an intent that some step's `next` maps to it")
        } else {
            d.with_help(
                "add it as a `next` target, or `entrypoint: true` for an intent that leads to it",
            )
        };
        cx.push(d);
    }
}
