//! The compiled scenario: what the loader produces and the engine runs.
//!
//! Steps refer to each other by [`StepId`]; after loading, the engine can never
//! meet an unknown step name because the model has no place for one. Templates
//! and conditions are compiled at load time ([`crate::expr`]).

use indexmap::IndexMap;

use crate::diagnostic::{SourceMap, Span};
use crate::expr::{Expr, Template};

/// Index of a step in [`Scenario::steps`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StepId(pub u32);

impl StepId {
    /// The initial step: the first in `steps` (launch runs it).
    pub const INITIAL: StepId = StepId(0);

    /// The index into `Scenario::steps`.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A loaded, validated scenario folder.
#[derive(Debug)]
pub struct Scenario {
    /// The folder's name (used in routes: `POST /alexa/{id}`), e.g. `account-linking`.
    pub id: String,
    /// `scenario.name`.
    pub name: String,
    pub locale: String,
    pub invocation: Option<String>,
    pub category: Option<String>,
    pub example_phrases: Vec<String>,
    /// Never empty: the loader reports an error instead of producing an empty scenario.
    pub steps: Vec<Step>,
    /// `scenario.reprompts`: default reprompts.
    pub reprompts: Vec<Template>,
    /// `scenario.timezone`, default UTC.
    pub timezone: chrono_tz::Tz,
    /// Declared intents, in declaration order.
    pub intents: IndexMap<String, Intent>,
    /// Declared slots (name → type), in declaration order.
    pub slots: IndexMap<String, Slot>,
    /// `tests:`, in file order.
    pub tests: Vec<TestCase>,
    /// Routing rule 2 (spec 2.2): intent name → the entry point it is bound to
    /// (a step with `entrypoint: true` that is the target of that intent in any
    /// step's `next` map; the earliest such step in `steps`).
    pub entry_points: IndexMap<String, StepId>,
    /// The files this scenario came from, for rendering spans.
    pub sources: SourceMap,
}

impl Scenario {
    /// The step behind `id`.
    pub fn step(&self, id: StepId) -> &Step {
        &self.steps[id.index()]
    }

    /// Looks a step up by its name (first definition wins).
    pub fn step_by_name(&self, name: &str) -> Option<StepId> {
        self.steps
            .iter()
            .position(|s| s.name == name)
            .map(|i| StepId(i as u32))
    }
}

/// One step of `scenario.steps`.
#[derive(Debug)]
pub struct Step {
    pub name: String,
    /// The span of the step's `name` value.
    pub span: Span,
    /// `entrypoint: true` (or BotTalk 2018's `input: true`).
    pub entrypoint: bool,
    /// The `when:` guard.
    pub when: Option<Expr>,
    /// The actions, in order. Actions after `getInput` are dropped at load (with a warning).
    pub actions: Vec<Action>,
    pub next: Next,
}

impl Step {
    /// Whether the step waits for the user (`getInput` among its actions).
    pub fn waits(&self) -> bool {
        self.actions
            .iter()
            .any(|a| matches!(a.kind, ActionKind::GetInput))
    }
}

/// A step's `next:`.
#[derive(Debug, Default)]
pub enum Next {
    /// No `next`: the session ends after the step (unless it waits).
    #[default]
    End,
    /// `next: Step Name`: jump right after the actions, in the same turn.
    Step(StepId),
    /// `next:` as a map.
    Map(NextMap),
}

/// The map form of `next:`. Keys that name no step are load errors, so every
/// target here exists.
#[derive(Debug, Default)]
pub struct NextMap {
    /// Intent name (or platform event type) → target, in file order.
    pub intents: IndexMap<String, StepId>,
    /// `'*'`: any intent.
    pub any: Option<StepId>,
    /// `else`.
    pub otherwise: Option<StepId>,
    /// `'true'` / `true` (after `compareContext`).
    pub on_true: Option<StepId>,
    /// `'false'` / `false` (after `compareContext`).
    pub on_false: Option<StepId>,
}

/// One action with the span of its key (e.g. `sendText`).
#[derive(Debug)]
pub struct Action {
    pub kind: ActionKind,
    pub span: Span,
}

/// What an action does (spec section 3).
#[derive(Debug)]
pub enum ActionKind {
    SendText(Template),
    Reprompt(Template),
    GetInput,
    SendCard(Card),
    /// `set: 'name = expression'`.
    Set {
        name: String,
        value: Expr,
    },
    /// `setContext: {from, to}`.
    SetContext {
        from: TemplateValue,
        to: String,
    },
    /// `compareContext: {var, is_equal}`.
    CompareContext {
        var: Template,
        is_equal: serde_json::Value,
    },
    /// `getUrl: {url}`: the JSON body goes to `urlResponse`.
    GetUrl {
        url: Template,
    },
    /// `http.get`, `http.post`, …
    Http(HttpCall),
    /// A dotted action other than `http.*` (BotTalk plugins): running it is a turn error.
    Plugin {
        name: String,
    },
}

/// `sendCard` parameters.
#[derive(Debug, Default)]
pub struct Card {
    pub title: Option<Template>,
    pub text: Option<Template>,
    pub image: Option<Template>,
    pub account_link: Option<Template>,
}

/// HTTP methods of the `http.*` actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

/// An `http.*` action.
#[derive(Debug)]
pub struct HttpCall {
    pub method: HttpMethod,
    pub url: Template,
    /// `Name: value` pairs; values are templates.
    pub headers: Vec<(String, Template)>,
    pub payload: Option<TemplateValue>,
}

/// A YAML value whose strings are templates: a `payload` map or a `setContext.from`.
#[derive(Debug)]
pub enum TemplateValue {
    /// A string: rendered.
    Template(Template),
    /// A non-string scalar (number, bool, null): used as is.
    Scalar(serde_json::Value),
    List(Vec<TemplateValue>),
    Map(IndexMap<String, TemplateValue>),
}

/// A declared intent.
#[derive(Debug)]
pub struct Intent {
    pub name: String,
    pub span: Span,
    /// Sample utterances as written (`'where is the {thing_to_find}'`).
    pub utterances: Vec<Utterance>,
}

/// One sample utterance.
#[derive(Debug)]
pub struct Utterance {
    pub text: String,
    pub span: Span,
}

/// A declared slot.
#[derive(Debug)]
pub struct Slot {
    pub name: String,
    pub span: Span,
    pub kind: SlotKind,
}

/// A slot's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotKind {
    /// A custom type: its values (text).
    Custom(Vec<String>),
    /// A built-in type, normalised to its Alexa name (`@bottalk.number` → `AMAZON.NUMBER`).
    Builtin(String),
}

impl SlotKind {
    /// Whether values of this slot are numbers (spec section 5).
    pub fn is_number(&self) -> bool {
        matches!(self, SlotKind::Builtin(t) if t == "AMAZON.NUMBER")
    }
}

/// One entry of `tests:`.
#[derive(Debug)]
pub struct TestCase {
    pub name: String,
    pub span: Span,
    pub turns: Vec<TestTurn>,
}

/// One turn of a test (the flat form is already folded in).
#[derive(Debug)]
pub struct TestTurn {
    /// `say:` as text (a YAML number is its text).
    pub say: String,
    pub span: Span,
    /// `slots:` as text, in file order.
    pub slots: IndexMap<String, String>,
    /// `wait:` (or `await:`), compiled.
    pub wait: Option<Template>,
    /// `access_token:`: the account is linked for this turn.
    pub access_token: Option<String>,
}
