//! Merged sections → the compiled [`Scenario`] model (spec sections 1–3, 6, 7).
//!
//! Every check that looks at one step, action, intent, slot or test at a
//! time lives here, next to the code that reads the value, so each message
//! can point at the exact YAML node. Checks that need the whole model
//! (reachability, entry points) are in [`super::validate`].

use std::collections::HashMap;

use indexmap::IndexMap;

use super::loader::{Cx, Sections};
use super::spans::map_pos;
use super::yaml::{Node, Value};
use super::*;
use crate::diagnostic::{Diagnostic, Span};
use crate::expr::{CompileError, CompileWarning, Expr, Template};

/// Step keys (spec section 2).
const STEP_KEYS: [&str; 5] = ["name", "entrypoint", "when", "actions", "next"];

/// `scenario:` keys (spec section 1).
const SCENARIO_KEYS: [&str; 9] = [
    "name",
    "locale",
    "invocation",
    "category",
    "examplePhrases",
    "steps",
    "reprompts",
    "timezone",
    "dashbot",
];

/// Action names and their canonical spelling (spec section 3).
const ACTIONS: [&str; 13] = [
    "sendText",
    "reprompt",
    "getInput",
    "sendCard",
    "set",
    "setContext",
    "compareContext",
    "getUrl",
    "http.get",
    "http.post",
    "http.put",
    "http.patch",
    "http.delete",
];

/// Intent name prefixes that need no declaration (platform intents and events).
pub(crate) const BUILTIN_INTENT_PREFIXES: [&str; 4] =
    ["AMAZON.", "ISP.", "AudioPlayer.", "PlaybackController."];

/// Built-in slot types: BotTalk name → Alexa name (spec section 6).
const SLOT_TYPES: [(&str, &str); 9] = [
    ("@bottalk.number", "AMAZON.NUMBER"),
    ("@bottalk.date", "AMAZON.DATE"),
    ("@bottalk.time", "AMAZON.TIME"),
    ("@bottalk.duration", "AMAZON.DURATION"),
    ("@bottalk.color", "AMAZON.Color"),
    ("@bottalk.country", "AMAZON.Country"),
    ("@bottalk.language", "AMAZON.Language"),
    ("@bottalk.phone-number", "AMAZON.PhoneNumber"),
    ("@bottalk.name", "AMAZON.FirstName"),
];

/// Facts about steps the model does not keep but whole-model checks need.
#[derive(Debug, Default)]
pub(crate) struct StepFacts {
    /// Every `next` target with the span of its value.
    pub(crate) targets: Vec<(StepId, Span)>,
}

/// Builds the model, reporting as it goes.
pub(crate) struct Builder<'c> {
    cx: &'c mut Cx,
    /// Step name → id of its first definition.
    step_ids: HashMap<String, StepId>,
    /// Per kept step.
    pub(crate) facts: Vec<StepFacts>,
}

impl<'c> Builder<'c> {
    pub(crate) fn new(cx: &'c mut Cx) -> Builder<'c> {
        Builder {
            cx,
            step_ids: HashMap::new(),
            facts: Vec::new(),
        }
    }

    /// Builds the whole scenario. `None` when it cannot be built at all (no
    /// steps); other errors are reported and the caller drops the scenario.
    pub(crate) fn build(
        &mut self,
        id: String,
        sections: &Sections<'_>,
    ) -> Option<(Scenario, Vec<StepFacts>)> {
        let slots = self.slots(&sections.slots);
        let intents = self.intents(&sections.intents, &slots);
        let mut name = String::new();
        let mut locale = "en-US".to_string();
        let mut invocation = None;
        let mut category = None;
        let mut example_phrases = Vec::new();
        let mut reprompts = Vec::new();
        let mut timezone = chrono_tz::UTC;
        let mut steps_node = None;
        for (key, value) in &sections.scenario {
            let Some(k) = key.as_str() else {
                self.unknown_key(key, "scenario", &SCENARIO_KEYS);
                continue;
            };
            match k {
                "name" => name = self.text(value, "scenario.name").unwrap_or_default(),
                "locale" => {
                    if let Some(l) = self.text(value, "scenario.locale") {
                        locale = l;
                    }
                }
                "invocation" => invocation = self.text(value, "scenario.invocation"),
                "category" => category = self.text(value, "scenario.category"),
                "examplePhrases" => example_phrases = self.text_list(value, "examplePhrases"),
                "reprompts" => {
                    for (i, item) in self.list(value, "scenario.reprompts").iter().enumerate() {
                        if let Some(t) = self.template(item, &format!("scenario.reprompts[{i}]")) {
                            reprompts.push(t);
                        }
                    }
                }
                "timezone" => {
                    if let Some(tz) = self.text(value, "scenario.timezone") {
                        match tz.parse::<chrono_tz::Tz>() {
                            Ok(tz) => timezone = tz,
                            Err(_) => self.cx.push(
                                Diagnostic::error(
                                    "unknown-timezone",
                                    value.span(),
                                    format!("`{tz}` is not an IANA time zone name"),
                                )
                                .with_help("use a name such as `Europe/Berlin` or `UTC`"),
                            ),
                        }
                    }
                }
                "dashbot" => self.cx.push(Diagnostic {
                    severity: crate::diagnostic::Severity::Note,
                    ..Diagnostic::warning(
                        "dashbot-ignored",
                        key.span(),
                        "`dashbot` analytics are not supported; the key is ignored",
                    )
                }),
                "steps" => steps_node = Some(*value),
                _ => self.unknown_key(key, "scenario", &SCENARIO_KEYS),
            }
        }
        let at = sections.scenario_keys.first().map(|k| k.span())?;
        let Some(steps_node) = steps_node else {
            self.cx.push(
                Diagnostic::error("missing-steps", at, "`scenario:` has no `steps:`")
                    .with_help("add `steps:` with at least one step"),
            );
            return None;
        };
        let steps = self.steps(steps_node, &intents);
        if steps.is_empty() {
            self.cx.error(
                "empty-steps",
                steps_node.span(),
                "`steps:` must hold at least one step",
            );
            return None;
        }
        let tests = self.tests(&sections.tests);
        let facts = std::mem::take(&mut self.facts);
        Some((
            Scenario {
                id,
                name,
                locale,
                invocation,
                category,
                example_phrases,
                steps,
                reprompts,
                timezone,
                intents,
                slots,
                tests,
                entry_points: IndexMap::new(),
                sources: Default::default(),
            },
            facts,
        ))
    }

    // ---- small readers -------------------------------------------------

    fn unknown_key(&mut self, key: &Node, section: &str, known: &[&str]) {
        let text = key
            .value
            .scalar_text()
            .unwrap_or_else(|| key.value.kind().into());
        let mut d = Diagnostic::warning(
            "unknown-key",
            key.span(),
            format!("unknown key `{text}` in {section} is ignored"),
        );
        if let Some(s) = suggest(&text, known.iter().copied()) {
            d = d.with_help(format!("did you mean `{s}`?"));
        }
        self.cx.push(d);
    }

    /// A scalar as text (numbers and booleans as written); reports other kinds.
    fn text(&mut self, node: &Node, what: &str) -> Option<String> {
        match node.value.scalar_text() {
            Some(t) => Some(t),
            None if node.value == Value::Null => None,
            None => {
                self.cx.error(
                    "invalid-value",
                    node.span(),
                    format!("`{what}` must be text, found {}", node.value.kind()),
                );
                None
            }
        }
    }

    /// A list (a single scalar counts as a one-item list; null as empty).
    fn list<'n>(&mut self, node: &'n Node, what: &str) -> Vec<&'n Node> {
        match &node.value {
            Value::Seq(items) => items.iter().collect(),
            Value::Null => Vec::new(),
            Value::Map(_) => {
                self.cx.error(
                    "invalid-value",
                    node.span(),
                    format!("`{what}` must be a list, found a map"),
                );
                Vec::new()
            }
            _ => vec![node],
        }
    }

    fn text_list(&mut self, node: &Node, what: &str) -> Vec<String> {
        self.list(node, what)
            .into_iter()
            .filter_map(|n| self.text(n, what))
            .collect()
    }

    /// Compiles a template parameter. Numbers and booleans are their text.
    fn template(&mut self, node: &Node, place: &str) -> Option<Template> {
        let Some(source) = node.value.scalar_text() else {
            let found = node.value.kind();
            self.cx.error(
                "invalid-parameter",
                node.span(),
                format!("`{place}` must be text, found {found}"),
            );
            return None;
        };
        let name = self.place_name(node, place);
        match Template::compile(&name, &source) {
            Ok(compiled) => {
                self.compile_warnings(node, "", &compiled.warnings);
                Some(compiled.value)
            }
            Err(err) => {
                self.compile_error("template-syntax", "template", node, "", &err);
                None
            }
        }
    }

    /// Compiles a bare expression found in `node` after `prefix` (for `set:`).
    fn expr(&mut self, node: &Node, prefix: &str, source: &str, place: &str) -> Option<Expr> {
        let name = self.place_name(node, place);
        match Expr::compile(&name, source) {
            Ok(compiled) => {
                self.compile_warnings(node, prefix, &compiled.warnings);
                Some(compiled.value)
            }
            Err(err) => {
                self.compile_error("expression-syntax", "expression", node, prefix, &err);
                None
            }
        }
    }

    /// `main.yml#steps[2].actions[0]`, for minijinja's own messages.
    fn place_name(&self, node: &Node, place: &str) -> String {
        let file = self
            .cx
            .sources
            .path(node.file)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        format!("{file}#{place}")
    }

    fn compile_error(
        &mut self,
        code: &'static str,
        what: &str,
        node: &Node,
        prefix: &str,
        err: &CompileError,
    ) {
        let (span, note) = map_pos(&self.cx.sources, node, prefix, err.pos);
        let mut d = Diagnostic::error(code, span, format!("{what} syntax error: {}", err.message));
        if let Some(note) = note {
            d = d.with_help(note);
        }
        self.cx.push(d);
    }

    fn compile_warnings(&mut self, node: &Node, prefix: &str, warnings: &[CompileWarning]) {
        for w in warnings {
            let (span, note) = map_pos(&self.cx.sources, node, prefix, w.pos);
            let mut d = Diagnostic::warning(w.code, span, w.message.clone());
            if let Some(note) = note {
                d = d.with_help(note);
            }
            self.cx.push(d);
        }
    }

    // ---- slots and intents ----------------------------------------------

    fn slots(&mut self, entries: &[(&Node, &Node)]) -> IndexMap<String, Slot> {
        let mut slots = IndexMap::new();
        for (key, value) in entries {
            let Some(name) = key.value.scalar_text() else {
                self.cx
                    .error("invalid-value", key.span(), "a slot name must be text");
                continue;
            };
            let kind = match &value.value {
                Value::Str(t) if t.starts_with('@') => {
                    match SLOT_TYPES.iter().find(|(b, _)| b == t) {
                        Some((_, alexa)) => SlotKind::Builtin((*alexa).to_string()),
                        None => {
                            let mut d = Diagnostic::error(
                                "unknown-slot-type",
                                value.span(),
                                format!("unknown built-in slot type `{t}`"),
                            );
                            let names = SLOT_TYPES.iter().map(|(b, _)| *b);
                            if let Some(s) = suggest(t, names) {
                                d = d.with_help(format!("did you mean `{s}`?"));
                            }
                            self.cx.push(d);
                            continue;
                        }
                    }
                }
                Value::Str(t) if t.contains('.') => SlotKind::Builtin(t.clone()),
                Value::Null => SlotKind::Custom(Vec::new()),
                _ => SlotKind::Custom(self.text_list(value, &format!("slots.{name}"))),
            };
            slots.insert(
                name.clone(),
                Slot {
                    name,
                    span: key.span(),
                    kind,
                },
            );
        }
        slots
    }

    fn intents(
        &mut self,
        entries: &[(&Node, &Node)],
        slots: &IndexMap<String, Slot>,
    ) -> IndexMap<String, Intent> {
        let mut intents = IndexMap::new();
        for (key, value) in entries {
            let Some(name) = key.value.scalar_text() else {
                self.cx
                    .error("invalid-value", key.span(), "an intent name must be text");
                continue;
            };
            let mut utterances = Vec::new();
            for item in self.list(value, &format!("intents.{name}")) {
                let Some(text) = self.text(item, &format!("intents.{name}")) else {
                    continue;
                };
                for slot in slot_refs(&text) {
                    if !slots.contains_key(slot) {
                        self.cx.push(
                            Diagnostic::error(
                                "undeclared-slot",
                                item.span(),
                                format!("utterance uses slot `{{{slot}}}` which is not declared"),
                            )
                            .with_help(format!(
                                "declare it under `slots:`, e.g. `{slot}: '@bottalk.number'` or a list of values"
                            )),
                        );
                    }
                }
                utterances.push(Utterance {
                    text,
                    span: item.span(),
                });
            }
            intents.insert(
                name.clone(),
                Intent {
                    name,
                    span: key.span(),
                    utterances,
                },
            );
        }
        intents
    }

    // ---- steps ------------------------------------------------------------

    fn steps(&mut self, node: &Node, intents: &IndexMap<String, Intent>) -> Vec<Step> {
        let items = match &node.value {
            Value::Seq(items) => items,
            other => {
                self.cx.error(
                    "invalid-value",
                    node.span(),
                    format!("`steps` must be a list of steps, found {}", other.kind()),
                );
                return Vec::new();
            }
        };
        // Pass 1: names → ids (first definition wins).
        let mut keep = Vec::with_capacity(items.len());
        let mut first_span: HashMap<String, Span> = HashMap::new();
        for item in items {
            let name = step_name(item);
            match name {
                Some((name, span)) => {
                    if let Some(first) = first_span.get(&name) {
                        self.cx.push(
                            Diagnostic::warning(
                                "duplicate-step",
                                span,
                                format!(
                                    "step `{name}` is defined twice; the first definition wins"
                                ),
                            )
                            .with_label(*first, "first defined here"),
                        );
                        keep.push(false);
                    } else {
                        first_span.insert(name.clone(), span);
                        self.step_ids
                            .insert(name, StepId(self.step_ids.len() as u32));
                        keep.push(true);
                    }
                }
                None => keep.push(false),
            }
        }
        // Pass 2: build every step (duplicates too, so their mistakes are reported).
        let mut steps = Vec::with_capacity(self.step_ids.len());
        for (i, (item, keep)) in items.iter().zip(keep).enumerate() {
            let (step, facts) = self.step(item, i, intents);
            if keep {
                if let Some(step) = step {
                    steps.push(step);
                    self.facts.push(facts);
                }
            }
        }
        steps
    }

    fn step(
        &mut self,
        node: &Node,
        idx: usize,
        intents: &IndexMap<String, Intent>,
    ) -> (Option<Step>, StepFacts) {
        let mut facts = StepFacts::default();
        let Value::Map(entries) = &node.value else {
            self.cx.error(
                "invalid-step",
                node.span(),
                format!(
                    "a step must be a map with `name:` and `actions:`, found {}",
                    node.value.kind()
                ),
            );
            return (None, facts);
        };
        let Some((name, span)) = step_name(node) else {
            self.cx.push(
                Diagnostic::error("missing-step-name", node.span(), "step has no `name:`")
                    .with_help("every step needs a unique `name:`; it is the target of `next`"),
            );
            return (None, facts);
        };
        let place = format!("steps[{idx}]");
        let mut entrypoint = false;
        let mut when = None;
        let mut when_span = None;
        let mut actions = Vec::new();
        let mut next_node = None;
        for (key, value) in entries {
            match key.as_str() {
                Some("name") => {}
                Some("entrypoint") => entrypoint = self.bool(value, "entrypoint"),
                Some("input") => {
                    self.cx.push(
                        Diagnostic::warning(
                            "input-means-entrypoint",
                            key.span(),
                            "`input: true` is BotTalk's old spelling of `entrypoint: true`",
                        )
                        .with_help("write `entrypoint: true`"),
                    );
                    entrypoint |= self.bool(value, "input");
                }
                Some("when") => {
                    when_span = Some(value.span());
                    match value.value.scalar_text() {
                        Some(src) => when = self.expr(value, "", &src, &format!("{place}.when")),
                        None => self.cx.error(
                            "invalid-value",
                            value.span(),
                            format!("`when` must be an expression, found {}", value.value.kind()),
                        ),
                    }
                }
                Some("actions") => actions = self.actions(value, &place),
                Some("next") => next_node = Some(value),
                _ => self.unknown_key(key, &format!("step `{name}`"), &STEP_KEYS),
            }
        }
        let waits = actions
            .iter()
            .any(|a: &Action| matches!(a.kind, ActionKind::GetInput));
        let compares = actions
            .iter()
            .any(|a| matches!(a.kind, ActionKind::CompareContext { .. }));
        let next = match next_node {
            None => Next::End,
            Some(n) => self.next(n, &name, waits, compares, when_span, intents, &mut facts),
        };
        if let (
            Some(when_span),
            Next::End
            | Next::Map(NextMap {
                otherwise: None, ..
            }),
        ) = (when_span, &next)
        {
            // A failed `when` with nowhere to go ends the session (spec 2.1).
            if next_node.is_none_or(|n| !matches!(n.value, Value::Str(_))) {
                self.cx.push(
                    Diagnostic::warning(
                        "when-without-else",
                        when_span,
                        format!("step `{name}` has `when` but no `next.else`: when the condition is false the session ends"),
                    )
                    .with_help("add `else: <step>` under `next:`"),
                );
            }
        }
        let step = Step {
            name,
            span,
            entrypoint,
            when,
            actions,
            next,
        };
        (Some(step), facts)
    }

    fn bool(&mut self, node: &Node, what: &str) -> bool {
        match node.value {
            Value::Bool(b) => b,
            Value::Null => false,
            _ => {
                self.cx.error(
                    "invalid-value",
                    node.span(),
                    format!(
                        "`{what}` must be `true` or `false`, found {}",
                        node.value.kind()
                    ),
                );
                false
            }
        }
    }

    fn target(&mut self, node: &Node, facts: &mut StepFacts) -> Option<StepId> {
        let Some(name) = node.value.scalar_text() else {
            self.cx.error(
                "invalid-next",
                node.span(),
                format!(
                    "a `next` target must be a step name, found {}",
                    node.value.kind()
                ),
            );
            return None;
        };
        match self.step_ids.get(&name) {
            Some(id) => {
                facts.targets.push((*id, node.span()));
                Some(*id)
            }
            None => {
                let mut d = Diagnostic::error(
                    "unknown-next-step",
                    node.span(),
                    format!("`next` names step `{name}`, which does not exist"),
                );
                if let Some(s) = suggest(&name, self.step_ids.keys().map(String::as_str)) {
                    d = d.with_help(format!("did you mean `{s}`?"));
                }
                self.cx.push(d);
                None
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn next(
        &mut self,
        node: &Node,
        step: &str,
        waits: bool,
        compares: bool,
        when: Option<Span>,
        intents: &IndexMap<String, Intent>,
        facts: &mut StepFacts,
    ) -> Next {
        let entries = match &node.value {
            Value::Null => return Next::End,
            Value::Map(entries) => entries,
            Value::Seq(_) => {
                self.cx.error(
                    "invalid-next",
                    node.span(),
                    "`next` must be a step name or a map, found a list",
                );
                return Next::End;
            }
            _ => {
                if waits {
                    self.cx.push(
                        Diagnostic::warning(
                            "waiting-next-string",
                            node.span(),
                            format!("step `{step}` waits for input but its `next` is a single step; any intent goes there"),
                        )
                        .with_help("write `next:` as a map, with `'*': <step>` for any intent"),
                    );
                }
                return self.target(node, facts).map_or(Next::End, Next::Step);
            }
        };
        let _ = when;
        let mut map = NextMap::default();
        let mut first_intent: Option<Span> = None;
        for (key, value) in entries {
            let target = self.target(value, facts);
            let key_text = match &key.value {
                Value::Bool(b) => {
                    self.cx.push(
                        Diagnostic::warning(
                            "unquoted-bool-key",
                            key.span(),
                            format!("unquoted `{b}` key in `next` is read as `'{b}'`"),
                        )
                        .with_help(format!("quote it: `'{b}':`")),
                    );
                    b.to_string()
                }
                other => match other.scalar_text() {
                    Some(t) => t,
                    None => {
                        self.cx
                            .error("invalid-next", key.span(), "a `next` key must be text");
                        continue;
                    }
                },
            };
            let Some(target) = target else { continue };
            match key_text.as_str() {
                "*" => map.any = Some(target),
                "else" => map.otherwise = Some(target),
                "true" => map.on_true = Some(target),
                "false" => map.on_false = Some(target),
                intent => {
                    first_intent.get_or_insert(key.span());
                    if !intents.contains_key(intent)
                        && !BUILTIN_INTENT_PREFIXES
                            .iter()
                            .any(|p| intent.starts_with(p))
                    {
                        let mut d = Diagnostic::warning(
                            "undeclared-intent",
                            key.span(),
                            format!("intent `{intent}` is not declared under `intents:`"),
                        );
                        if let Some(s) = suggest(intent, intents.keys().map(String::as_str)) {
                            d = d.with_help(format!("did you mean `{s}`?"));
                        }
                        self.cx.push(d);
                    }
                    map.intents.insert(intent.to_string(), target);
                }
            }
        }
        if let Some(span) = first_intent {
            if !waits {
                self.cx.push(
                    Diagnostic::warning(
                        "next-intents-without-wait",
                        span,
                        format!("`next` lists intents but step `{step}` never waits"),
                    )
                    .with_help("add `- getInput:` as the step's last action, or the session ends after this step"),
                );
            }
        }
        if (map.on_true.is_some() || map.on_false.is_some()) && !compares {
            let _ = compares;
        }
        Next::Map(map)
    }

    // ---- actions ----------------------------------------------------------

    fn actions(&mut self, node: &Node, place: &str) -> Vec<Action> {
        let items = match &node.value {
            Value::Seq(items) => items,
            Value::Null => return Vec::new(),
            other => {
                self.cx.error(
                    "invalid-value",
                    node.span(),
                    format!("`actions` must be a list, found {}", other.kind()),
                );
                return Vec::new();
            }
        };
        let mut actions = Vec::new();
        let mut wait_span: Option<Span> = None;
        for (i, item) in items.iter().enumerate() {
            let place = format!("{place}.actions[{i}]");
            let (key, value) = match &item.value {
                Value::Map(entries) if entries.len() == 1 => (&entries[0].0, &entries[0].1),
                Value::Str(name) if canonical_action(name).is_some() => (item, item),
                _ => {
                    self.cx.push(
                        Diagnostic::error(
                            "invalid-action",
                            item.span(),
                            "an action must be a map with exactly one key, the action's name",
                        )
                        .with_help("write `- sendText: 'Hello'`"),
                    );
                    continue;
                }
            };
            let null = Node {
                value: Value::Null,
                file: item.file,
                line: item.line,
                col: item.col,
            };
            // `- getInput` written as a bare string has no parameter.
            let value = if std::ptr::eq(key, value) {
                &null
            } else {
                value
            };
            let Some(action) = self.action(key, value, &place) else {
                continue;
            };
            if let Some(wait) = wait_span {
                self.cx.push(
                    Diagnostic::warning(
                        "action-after-getinput",
                        action.span,
                        "this action comes after `getInput` and never runs",
                    )
                    .with_label(wait, "the step waits here"),
                );
                continue;
            }
            if matches!(action.kind, ActionKind::GetInput) {
                wait_span = Some(action.span);
            }
            actions.push(action);
        }
        actions
    }

    fn action(&mut self, key: &Node, value: &Node, place: &str) -> Option<Action> {
        let span = key.span();
        let Some(written) = key.as_str() else {
            self.cx
                .error("invalid-action", span, "an action name must be text");
            return None;
        };
        let name = match canonical_action(written) {
            Some(name) => {
                if name != written {
                    self.cx.push(
                        Diagnostic::warning(
                            "action-name-case",
                            span,
                            format!("action `{written}` is spelled `{name}`"),
                        )
                        .with_help(format!("write `{name}`")),
                    );
                }
                name
            }
            None if written.contains('.') && !written.starts_with("http.") => {
                self.cx.push(
                    Diagnostic::warning(
                        "plugin-action",
                        span,
                        format!("plugin action `{written}` is not available"),
                    )
                    .with_help("running this step is a turn error until plugins are supported"),
                );
                return Some(Action {
                    kind: ActionKind::Plugin {
                        name: written.to_string(),
                    },
                    span,
                });
            }
            None => {
                let mut d = Diagnostic::error(
                    "unknown-action",
                    span,
                    format!("unknown action `{written}`"),
                );
                if let Some(s) = suggest(written, ACTIONS.iter().copied()) {
                    d = d.with_help(format!("did you mean `{s}`?"));
                }
                self.cx.push(d);
                return None;
            }
        };
        let kind = match name {
            "sendText" => ActionKind::SendText(self.required_template(key, value, place)?),
            "reprompt" => ActionKind::Reprompt(self.required_template(key, value, place)?),
            "getInput" => {
                if value.value != Value::Null {
                    self.cx.warning(
                        "unexpected-parameter",
                        value.span(),
                        "`getInput` takes no parameter; this value is ignored",
                    );
                }
                ActionKind::GetInput
            }
            "set" => {
                let Some(text) = value.value.scalar_text() else {
                    self.cx.push(Diagnostic::error(
                        "invalid-set",
                        value.span(),
                        format!(
                            "`set` must be `'name = expression'`, found {}",
                            value.value.kind()
                        ),
                    ));
                    return None;
                };
                let (name, prefix, rhs) = self.split_set(value, &text)?;
                let expr = self.expr(value, &prefix, &rhs, place)?;
                ActionKind::Set { name, value: expr }
            }
            "sendCard" => {
                let params =
                    self.params(key, value, &["title", "text", "image", "account_link"], &[])?;
                let mut card = Card::default();
                for (k, v) in params {
                    let t = self.template(v, &format!("{place}.{k}"));
                    match k {
                        "title" => card.title = t,
                        "text" => card.text = t,
                        "image" => card.image = t,
                        _ => card.account_link = t,
                    }
                }
                ActionKind::SendCard(card)
            }
            "setContext" => {
                let params = self.params(key, value, &["from", "to"], &["from", "to"])?;
                let mut from = None;
                let mut to = None;
                for (k, v) in params {
                    if k == "from" {
                        from = self.template_value(v, &format!("{place}.from"));
                    } else {
                        to = self.variable_name(v, "setContext.to");
                    }
                }
                ActionKind::SetContext {
                    from: from?,
                    to: to?,
                }
            }
            "compareContext" => {
                let params = self.params(key, value, &["var", "is_equal"], &["var", "is_equal"])?;
                let mut var = None;
                let mut is_equal = serde_json::Value::Null;
                for (k, v) in params {
                    if k == "var" {
                        var = self.template(v, &format!("{place}.var"));
                    } else {
                        if matches!(v.value, Value::Seq(_) | Value::Map(_)) {
                            self.cx.error(
                                "invalid-parameter",
                                v.span(),
                                format!("`is_equal` must be a scalar, found {}", v.value.kind()),
                            );
                        }
                        is_equal = v.value.to_json();
                    }
                }
                ActionKind::CompareContext {
                    var: var?,
                    is_equal,
                }
            }
            "getUrl" => {
                let url = if let Value::Map(_) = value.value {
                    let params = self.params(key, value, &["url"], &["url"])?;
                    params
                        .into_iter()
                        .find_map(|(_, v)| self.template(v, &format!("{place}.url")))
                } else {
                    self.required_template(key, value, place)
                };
                ActionKind::GetUrl { url: url? }
            }
            http => {
                let method = match http {
                    "http.get" => HttpMethod::Get,
                    "http.post" => HttpMethod::Post,
                    "http.put" => HttpMethod::Put,
                    "http.patch" => HttpMethod::Patch,
                    _ => HttpMethod::Delete,
                };
                let params = self.params(key, value, &["url", "headers", "payload"], &["url"])?;
                let mut url = None;
                let mut headers = Vec::new();
                let mut payload = None;
                for (k, v) in params {
                    match k {
                        "url" => url = self.template(v, &format!("{place}.url")),
                        "headers" => headers = self.headers(v, place),
                        _ => payload = self.template_value(v, &format!("{place}.payload")),
                    }
                }
                ActionKind::Http(HttpCall {
                    method,
                    url: url?,
                    headers,
                    payload,
                })
            }
        };
        Some(Action { kind, span })
    }

    fn required_template(&mut self, key: &Node, value: &Node, place: &str) -> Option<Template> {
        if value.value == Value::Null {
            let name = key.as_str().unwrap_or_default();
            self.cx.push(
                Diagnostic::error(
                    "missing-parameter",
                    key.span(),
                    format!("`{name}` needs a value"),
                )
                .with_help(format!("write `- {name}: 'some text'`")),
            );
            return None;
        }
        self.template(value, place)
    }

    /// The parameters of a map-valued action: checks unknown and missing ones.
    fn params<'n>(
        &mut self,
        key: &Node,
        value: &'n Node,
        known: &'static [&'static str],
        required: &[&str],
    ) -> Option<Vec<(&'static str, &'n Node)>> {
        let action = key.as_str().unwrap_or_default();
        let entries: &[(Node, Node)] = match &value.value {
            Value::Map(entries) => entries,
            Value::Null => &[],
            other => {
                self.cx.push(Diagnostic::error(
                    "invalid-parameter",
                    value.span(),
                    format!(
                        "`{action}` takes a map of parameters ({}), found {}",
                        known.join(", "),
                        other.kind()
                    ),
                ));
                return None;
            }
        };
        let mut out = Vec::new();
        for (k, v) in entries {
            let text = k.value.scalar_text().unwrap_or_default();
            match known.iter().find(|n| **n == text) {
                Some(n) => out.push((*n, v)),
                None => {
                    let mut d = Diagnostic::error(
                        "unknown-parameter",
                        k.span(),
                        format!("`{action}` has no parameter `{text}`"),
                    );
                    d = d.with_help(match suggest(&text, known.iter().copied()) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!("its parameters are: {}", known.join(", ")),
                    });
                    self.cx.push(d);
                }
            }
        }
        let mut ok = true;
        for r in required {
            if !out.iter().any(|(n, _)| n == r) {
                self.cx.push(Diagnostic::error(
                    "missing-parameter",
                    key.span(),
                    format!("`{action}` needs the parameter `{r}`"),
                ));
                ok = false;
            }
        }
        ok.then_some(out)
    }

    fn template_value(&mut self, node: &Node, place: &str) -> Option<TemplateValue> {
        Some(match &node.value {
            Value::Str(_) => TemplateValue::Template(self.template(node, place)?),
            Value::Seq(items) => TemplateValue::List(
                items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, n)| self.template_value(n, &format!("{place}[{i}]")))
                    .collect(),
            ),
            Value::Map(entries) => TemplateValue::Map(
                entries
                    .iter()
                    .filter_map(|(k, v)| {
                        let k = k.value.scalar_text()?;
                        let v = self.template_value(v, &format!("{place}.{k}"))?;
                        Some((k, v))
                    })
                    .collect(),
            ),
            other => TemplateValue::Scalar(other.to_json()),
        })
    }

    fn headers(&mut self, node: &Node, place: &str) -> Vec<(String, Template)> {
        let mut headers = Vec::new();
        match &node.value {
            Value::Map(entries) => {
                for (k, v) in entries {
                    let Some(name) = k.value.scalar_text() else {
                        continue;
                    };
                    if let Some(t) = self.template(v, &format!("{place}.headers.{name}")) {
                        headers.push((name, t));
                    }
                }
            }
            _ => {
                for (i, item) in self.list(node, "headers").into_iter().enumerate() {
                    let Some(text) = item.as_str() else {
                        self.cx.error(
                            "invalid-header",
                            item.span(),
                            "a header must be `\"Name: value\"` text",
                        );
                        continue;
                    };
                    let Some((name, value)) = text.split_once(':') else {
                        self.cx.push(
                            Diagnostic::error(
                                "invalid-header",
                                item.span(),
                                format!("header `{text}` has no `:`"),
                            )
                            .with_help("write headers as `\"Name: value\"`"),
                        );
                        continue;
                    };
                    let source = value.trim();
                    let name_place = format!("{place}.headers[{i}]");
                    let compiled = Template::compile(&self.place_name(item, &name_place), source);
                    match compiled {
                        Ok(c) => headers.push((name.trim().to_string(), c.value)),
                        Err(err) => {
                            let prefix = &text[..text.len() - value.len()
                                + (value.len() - value.trim_start().len())];
                            self.compile_error("template-syntax", "template", item, prefix, &err)
                        }
                    }
                }
            }
        }
        headers
    }

    fn variable_name(&mut self, node: &Node, what: &str) -> Option<String> {
        let text = self.text(node, what)?;
        let name = text.trim();
        if is_identifier(name) {
            Some(name.to_string())
        } else {
            self.cx.push(
                Diagnostic::error(
                    "invalid-variable-name",
                    node.span(),
                    format!("`{name}` is not a variable name"),
                )
                .with_help("a variable name is letters, digits and `_`, not starting with a digit"),
            );
            None
        }
    }

    /// Splits `set: 'name = expression'` at the first `=` that is not part of
    /// `==`, `!=`, `<=`, `>=`. Returns the name, the text before the
    /// expression (for mapping positions) and the expression.
    fn split_set(&mut self, node: &Node, text: &str) -> Option<(String, String, String)> {
        let Some(at) = set_split(text) else {
            self.cx.push(
                Diagnostic::error(
                    "invalid-set",
                    node.span(),
                    format!("`set` needs `name = expression`, found `{}`", text.trim()),
                )
                .with_help("write `- set: 'score = score + 1'`"),
            );
            return None;
        };
        let target = text[..at].trim();
        if !is_identifier(target) {
            let msg = if target.contains('.') || target.contains('[') {
                format!("`set` can only assign a variable, not `{target}`")
            } else {
                format!("`{target}` is not a variable name")
            };
            self.cx.push(
                Diagnostic::error("invalid-set-target", node.span(), msg).with_help(
                    "assign the whole value instead, e.g. `- set: 'user = user | merge({\"name\": n})'`",
                ),
            );
            return None;
        }
        let rest = &text[at + 1..];
        let lead = rest.len() - rest.trim_start().len();
        let prefix = text[..at + 1 + lead].to_string();
        Some((target.to_string(), prefix, rest.trim().to_string()))
    }

    // ---- tests --------------------------------------------------------------

    fn tests(&mut self, entries: &[(&Node, &Node)]) -> Vec<TestCase> {
        let mut tests = Vec::new();
        for (key, value) in entries {
            let name = key.value.scalar_text().unwrap_or_default();
            let mut turns: Vec<TestTurn> = Vec::new();
            let mut wait_of_turn: Vec<Option<Span>> = Vec::new();
            for (i, item) in self
                .list(value, &format!("tests.{name}"))
                .into_iter()
                .enumerate()
            {
                let Value::Map(fields) = &item.value else {
                    self.cx.error(
                        "invalid-test",
                        item.span(),
                        "a test turn must be a map with `say:` (and `wait:`, `slots:`)",
                    );
                    continue;
                };
                let place = format!("tests.{name}[{i}]");
                let mut say = None;
                let mut slots = None;
                let mut wait = None;
                let mut access_token = None;
                for (k, v) in fields {
                    match k.as_str() {
                        Some("say") => {
                            say = Some((self.text(v, "say").unwrap_or_default(), k.span()))
                        }
                        Some("slots") => slots = Some(self.test_slots(v)),
                        Some(w @ ("wait" | "await")) => {
                            if w == "await" {
                                self.cx.push(
                                    Diagnostic::warning(
                                        "await-means-wait",
                                        k.span(),
                                        "`await:` is read as `wait:`",
                                    )
                                    .with_help("write `wait:`"),
                                );
                            }
                            let t = self.template(v, &format!("{place}.wait"));
                            wait = Some((t, k.span()));
                        }
                        Some("access_token") => access_token = self.text(v, "access_token"),
                        _ => self.unknown_key(
                            k,
                            "a test turn",
                            &["say", "slots", "wait", "access_token"],
                        ),
                    }
                }
                match say {
                    Some((say, span)) => {
                        turns.push(TestTurn {
                            say,
                            span,
                            slots: slots.unwrap_or_default(),
                            wait: wait.as_ref().and_then(|(t, _)| t.clone()),
                            access_token,
                        });
                        wait_of_turn.push(wait.map(|(_, s)| s));
                    }
                    None => {
                        // Flat form: this item belongs to the nearest `say` before it.
                        let Some(turn) = turns.last_mut() else {
                            let span = wait.as_ref().map_or(item.span(), |(_, s)| *s);
                            self.cx.push(
                                Diagnostic::error(
                                    "test-wait-before-say",
                                    span,
                                    format!("test `{name}` has a turn item before any `say`"),
                                )
                                .with_help("start each turn with `- say: ...`"),
                            );
                            continue;
                        };
                        if let Some((t, span)) = wait {
                            let slot = wait_of_turn.last_mut();
                            match slot {
                                Some(Some(first)) => self.cx.push(
                                    Diagnostic::error(
                                        "test-second-wait",
                                        span,
                                        format!("a second `wait` for the same `say: {}`", turn.say),
                                    )
                                    .with_label(*first, "the first `wait` is here"),
                                ),
                                Some(slot) => {
                                    *slot = Some(span);
                                    turn.wait = t;
                                }
                                None => {}
                            }
                        }
                        if let Some(s) = slots {
                            turn.slots.extend(s);
                        }
                        if access_token.is_some() {
                            turn.access_token = access_token;
                        }
                    }
                }
            }
            tests.push(TestCase {
                name,
                span: key.span(),
                turns,
            });
        }
        tests
    }

    fn test_slots(&mut self, node: &Node) -> IndexMap<String, String> {
        let mut slots = IndexMap::new();
        match &node.value {
            Value::Map(entries) => {
                for (k, v) in entries {
                    if let (Some(k), Some(v)) = (k.value.scalar_text(), self.text(v, "slots")) {
                        slots.insert(k, v);
                    }
                }
            }
            Value::Null => {}
            other => self.cx.error(
                "invalid-test",
                node.span(),
                format!(
                    "`slots` must be a map of slot name to value, found {}",
                    other.kind()
                ),
            ),
        }
        slots
    }
}

/// The step's `name` and its span.
fn step_name(node: &Node) -> Option<(String, Span)> {
    let Value::Map(entries) = &node.value else {
        return None;
    };
    entries
        .iter()
        .find(|(k, _)| k.as_str() == Some("name"))
        .and_then(|(_, v)| Some((v.value.scalar_text()?, v.span())))
}

/// The canonical spelling of an action name (case-insensitive match).
fn canonical_action(name: &str) -> Option<&'static str> {
    ACTIONS
        .iter()
        .find(|a| a.eq_ignore_ascii_case(name))
        .copied()
}

/// Slot names referenced as `{slot}` in an utterance.
fn slot_refs(text: &str) -> impl Iterator<Item = &str> {
    text.split('{')
        .skip(1)
        .filter_map(|s| s.split_once('}').map(|(name, _)| name.trim()))
        .filter(|s| !s.is_empty())
}

/// Whether `s` is a plain variable name.
pub(crate) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// The byte index of the `=` that splits `set:` (spec section 3).
pub(crate) fn set_split(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    (0..bytes.len()).find(|&i| {
        bytes[i] == b'='
            && !matches!(
                i.checked_sub(1).map(|j| bytes[j]),
                Some(b'=' | b'!' | b'<' | b'>')
            )
            && bytes.get(i + 1) != Some(&b'=')
    })
}

/// The closest known name to `word` (case-insensitive edit distance ≤ 2, or a
/// case-only difference), for "did you mean" help.
pub(crate) fn suggest<'a>(word: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_lowercase();
    if lower.len() > 64 {
        return None;
    }
    known
        .map(|k| (edit_distance(&lower, &k.to_lowercase()), k))
        .filter(|(d, k)| *d <= 2.min(k.chars().count() / 3 + 1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    if b.len() > 64 {
        return usize::MAX;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_split_table() {
        let cases = [
            ("x = 1", Some(2)),
            ("x=a==b", Some(1)),
            ("ok = a >= 1", Some(3)),
            ("a == b", None),
            ("a != b", None),
            ("no equals", None),
        ];
        for (text, want) in cases {
            assert_eq!(set_split(text), want, "{text}");
        }
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            suggest("sendTxt", ACTIONS.iter().copied()),
            Some("sendText")
        );
        assert_eq!(suggest("zzz", ACTIONS.iter().copied()), None);
    }
}
