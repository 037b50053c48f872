//! The Twig-compatible expression and template layer (spec section 4), over minijinja.
//!
//! Only this module knows minijinja. Everyone else sees [`Template`], [`Expr`],
//! [`Value`], [`Vars`] and [`Scope`]. Templates and expressions are compiled
//! once at load ([`Template::compile`], [`Expr::compile`]); compile errors carry
//! a position *inside the source string* that the loader shifts into the YAML file.
//!
//! OWNER: expr helper. The signatures below are the contract other modules
//! code against; bodies are filled in by the owner.

use std::fmt;
use std::sync::{Arc, Mutex};

/// A compiled `{{ }}` / `{% %}` template (a string parameter of an action).
#[derive(Clone)]
pub struct Template {
    source: Arc<str>,
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Template({:?})", self.source)
    }
}

/// A compiled bare expression (`when:` and the right side of `set:`).
#[derive(Clone)]
pub struct Expr {
    source: Arc<str>,
}

impl fmt::Debug for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Expr({:?})", self.source)
    }
}

/// A position inside a template or expression source: 1-based line, 1-based column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourcePos {
    pub line: u32,
    pub col: u32,
}

/// A syntax error found while compiling.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CompileError {
    pub message: String,
    /// Where in the source string, when known.
    pub pos: Option<SourcePos>,
}

/// A warning found while compiling (e.g. `||` accepted as `or`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileWarning {
    pub code: &'static str,
    pub message: String,
    pub pos: Option<SourcePos>,
}

/// A compiled template or expression plus the warnings found on the way.
#[derive(Debug)]
pub struct Compiled<T> {
    pub value: T,
    pub warnings: Vec<CompileWarning>,
}

/// Why an evaluation failed at run time (a turn error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// e.g. `'abc' + 1`, division by zero, a bad `date()` input.
    #[error("{0}")]
    Invalid(String),
    /// The template ran out of fuel (an endless loop).
    #[error("template ran too long (out of fuel)")]
    OutOfFuel,
}

/// A runtime value (JSON-like: null, bool, number, string, list, map).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Value(serde_json::Value);

impl Value {
    /// Null.
    pub fn null() -> Value {
        Value(serde_json::Value::Null)
    }
    /// Whether this is null (or undefined).
    pub fn is_null(&self) -> bool {
        self.0.is_null()
    }
    /// The value as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        self.0.clone()
    }
    /// PHP truthiness: `''`, `'0'`, `0`, `[]`, null are false.
    pub fn is_truthy(&self) -> bool {
        todo!("expr owner")
    }
}

impl From<serde_json::Value> for Value {
    fn from(v: serde_json::Value) -> Value {
        Value(v)
    }
}

/// Prints as Twig prints (`true` → `1`, null → ``, floats at PHP precision 14).
impl fmt::Display for Value {
    fn fmt(&self, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        todo!("expr owner")
    }
}

/// A user's variables (name → value), cheap to clone.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Vars {
    map: indexmap::IndexMap<String, Value>,
}

impl Vars {
    /// The value of `name`, if defined (a defined null is `Some(null)`).
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.map.get(name)
    }
    /// Defines or replaces `name`.
    pub fn set(&mut self, name: impl Into<String>, value: Value) {
        self.map.insert(name.into(), value);
    }
    /// Removes `name`.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        self.map.shift_remove(name)
    }
    /// All variables in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v))
    }
    /// The variables as a JSON object (for stores).
    pub fn to_json(&self) -> serde_json::Map<String, serde_json::Value> {
        self.map
            .iter()
            .map(|(k, v)| (k.clone(), v.to_json()))
            .collect()
    }
    /// Variables from a JSON object (from stores).
    pub fn from_json(map: serde_json::Map<String, serde_json::Value>) -> Vars {
        Vars {
            map: map.into_iter().map(|(k, v)| (k, Value::from(v))).collect(),
        }
    }
}

/// Randomness for `random()`: seeded in tests, from the OS in `serve`.
pub type Rng = Arc<Mutex<rand_chacha::ChaCha8Rng>>;

/// Everything an evaluation can see.
pub struct Scope<'a> {
    /// The user's variables (the turn's current state).
    pub vars: &'a Vars,
    /// `bottalk_input`: the raw platform request, for this turn only.
    pub input: &'a Value,
    /// Drives `random()`.
    pub rng: &'a Rng,
    /// What `'now'` means.
    pub now: chrono::DateTime<chrono::Utc>,
    /// The scenario's timezone.
    pub timezone: chrono_tz::Tz,
}

impl Template {
    /// Compiles a template. `name` names its place for minijinja's messages
    /// (e.g. `main.yml#steps[2].actions[0]`).
    pub fn compile(name: &str, source: &str) -> Result<Compiled<Template>, CompileError> {
        let _ = name;
        Ok(Compiled {
            value: Template {
                source: source.into(),
            },
            warnings: vec![],
        })
    }
    /// The source as written.
    pub fn source(&self) -> &str {
        &self.source
    }
    /// Renders with `scope`.
    pub fn render(&self, scope: &Scope<'_>) -> Result<String, EvalError> {
        let _ = scope;
        todo!("expr owner")
    }
}

impl Expr {
    /// Compiles a bare expression.
    pub fn compile(name: &str, source: &str) -> Result<Compiled<Expr>, CompileError> {
        let _ = name;
        Ok(Compiled {
            value: Expr {
                source: source.into(),
            },
            warnings: vec![],
        })
    }
    /// The source as written.
    pub fn source(&self) -> &str {
        &self.source
    }
    /// Evaluates with `scope`.
    pub fn eval(&self, scope: &Scope<'_>) -> Result<Value, EvalError> {
        let _ = scope;
        todo!("expr owner")
    }
}
