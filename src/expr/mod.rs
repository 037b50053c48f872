//! The Twig-compatible expression and template layer (spec section 4), over minijinja.
//!
//! Only this module knows minijinja. Everyone else sees [`Template`], [`Expr`],
//! [`Value`], [`Vars`] and [`Scope`]. Templates and expressions are compiled
//! once at load ([`Template::compile`], [`Expr::compile`]); compile errors carry
//! a position *inside the source string* that the loader shifts into the YAML file.
//!
//! How it works: `syntax.rs` parses Twig (Twig 3's grammar and operator
//! table), `emit.rs` turns the tree into minijinja source where every
//! operation with PHP semantics calls a registered function (`runtime.rs`,
//! `php.rs`, `filters.rs`, `date.rs`), and minijinja runs it with a fuel limit.
//! A template without `{{`, `{%` or `{#` never reaches minijinja.
//!
//! Start reading at [`Template::compile`] and [`Template::render`].

use std::fmt;
use std::sync::{Arc, Mutex};

use minijinja::value::Value as MV;

mod date;
mod emit;
mod filters;
mod php;
mod runtime;
mod syntax;

/// A compiled `{{ }}` / `{% %}` template (a string parameter of an action).
#[derive(Clone)]
pub struct Template {
    source: Arc<str>,
    body: TemplateBody,
}

#[derive(Clone)]
enum TemplateBody {
    /// Plain text (no tags): rendering returns it as is.
    Literal(Arc<str>),
    /// A template compiled into its own minijinja environment (minijinja
    /// templates borrow their environment, so each owns a cheap clone of the
    /// shared one; see `runtime::ENV`).
    Compiled(Arc<minijinja::Environment<'static>>),
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
    compiled: Arc<minijinja::Expression<'static, 'static>>,
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
///
/// Internally a minijinja value, so handing variables to a render costs a
/// reference count, not a conversion.
#[derive(Clone, PartialEq)]
pub struct Value(pub(crate) MV);

impl Default for Value {
    fn default() -> Value {
        Value::null()
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Value({})", self.to_json())
    }
}

impl Value {
    /// Null.
    pub fn null() -> Value {
        Value(MV::from(()))
    }
    /// Whether this is null (or undefined).
    pub fn is_null(&self) -> bool {
        self.0.is_none() || self.0.is_undefined()
    }
    /// The value as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.0).unwrap_or(serde_json::Value::Null)
    }
    /// PHP truthiness: `''`, `'0'`, `0`, `[]`, null are false.
    pub fn is_truthy(&self) -> bool {
        php::truthy(&self.0)
    }
    /// The text, when this is a string.
    pub fn as_str(&self) -> Option<&str> {
        self.0.as_str()
    }
}

/// `bottalk_input`: the raw platform request, kept as JSON and converted to a
/// template value only when an expression first reads it. Most turns never
/// do, and converting a whole Alexa envelope costs more than the rest of the
/// turn. Cheap to clone; the conversion happens at most once per input.
#[derive(Clone, Default)]
pub struct Input(Arc<LazyInput>);

#[derive(Default)]
struct LazyInput {
    json: serde_json::Value,
    value: std::sync::OnceLock<MV>,
}

impl Input {
    /// The input as a template value (converted on first use).
    pub(crate) fn value(&self) -> &MV {
        self.0
            .value
            .get_or_init(|| MV::from_serialize(&self.0.json))
    }
    /// The input as templates see it, as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self.value()).unwrap_or(serde_json::Value::Null)
    }
}

impl From<serde_json::Value> for Input {
    fn from(json: serde_json::Value) -> Input {
        Input(Arc::new(LazyInput {
            json,
            value: std::sync::OnceLock::new(),
        }))
    }
}

impl fmt::Debug for Input {
    // An Alexa envelope holds access tokens: never print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Input(..)")
    }
}

impl From<serde_json::Value> for Value {
    fn from(v: serde_json::Value) -> Value {
        Value(MV::from_serialize(&v))
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value(MV::from(v))
    }
}

impl From<String> for Value {
    fn from(v: String) -> Value {
        Value(MV::from(v))
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value(MV::from(v))
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value(MV::from(v))
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value(MV::from(v))
    }
}

/// Prints as Twig prints (`true` → `1`, null → ``, floats at PHP precision 14).
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_str() {
            Some(s) => f.write_str(s),
            None => {
                let mut s = String::new();
                php::write_str(&self.0, &mut s);
                f.write_str(&s)
            }
        }
    }
}

/// A user's variables (name → value), cheap to clone (copy on write).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Vars {
    map: Arc<indexmap::IndexMap<String, Value>>,
}

impl Vars {
    /// The value of `name`, if defined (a defined null is `Some(null)`).
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.map.get(name)
    }
    /// Defines or replaces `name`.
    pub fn set(&mut self, name: impl Into<String>, value: Value) {
        Arc::make_mut(&mut self.map).insert(name.into(), value);
    }
    /// Removes `name`.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        if !self.map.contains_key(name) {
            return None;
        }
        Arc::make_mut(&mut self.map).shift_remove(name)
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
            map: Arc::new(map.into_iter().map(|(k, v)| (k, Value::from(v))).collect()),
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
    pub input: &'a Input,
    /// Drives `random()`.
    pub rng: &'a Rng,
    /// What `'now'` means.
    pub now: chrono::DateTime<chrono::Utc>,
    /// The scenario's timezone.
    pub timezone: chrono_tz::Tz,
}

impl Scope<'_> {
    /// The root context object for one evaluation (a reference-counted handle,
    /// no variable is converted).
    fn context(&self) -> MV {
        MV::from_object(runtime::Ctx {
            vars: self.vars.clone(),
            input: self.input.clone(),
            rng: self.rng.clone(),
            now: self.now,
            timezone: self.timezone,
        })
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn source_pos(source: &str, offset: usize) -> SourcePos {
    let offset = offset.min(source.len());
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() as u32 + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() as u32 + 1;
    SourcePos { line, col }
}

fn syntax_error(source: &str, e: syntax::SyntaxError) -> CompileError {
    CompileError {
        message: e.message,
        pos: Some(source_pos(source, e.offset)),
    }
}

fn place_warnings(source: &str, warnings: Vec<(CompileWarning, usize)>) -> Vec<CompileWarning> {
    warnings
        .into_iter()
        .map(|(mut w, at)| {
            w.pos = Some(source_pos(source, at));
            w
        })
        .collect()
}

/// minijinja rejected source we generated: a steptalk bug, reported plainly.
fn internal_error(e: minijinja::Error) -> CompileError {
    CompileError {
        message: format!(
            "internal error compiling the template (please report): {}",
            e.detail().unwrap_or("unknown")
        ),
        pos: None,
    }
}

fn eval_error(e: minijinja::Error) -> EvalError {
    match e.kind() {
        minijinja::ErrorKind::OutOfFuel => EvalError::OutOfFuel,
        _ => EvalError::Invalid(match e.detail() {
            Some(d) => d.to_string(),
            None => e.kind().to_string(),
        }),
    }
}

/// Whether `source` has any Twig tag at all.
fn has_tags(source: &str) -> bool {
    source.contains("{{") || source.contains("{%") || source.contains("{#")
}

impl Template {
    /// Compiles a template. `name` names its place for minijinja's messages
    /// (e.g. `main.yml#steps[2].actions[0]`).
    ///
    /// ```
    /// use steptalk::expr::Template;
    /// let t = Template::compile("doc", "Hello {{ name|upper }}!").unwrap();
    /// assert!(t.warnings.is_empty());
    /// assert!(Template::compile("doc", "{{ 1 + }}").is_err());
    /// ```
    pub fn compile(name: &str, source: &str) -> Result<Compiled<Template>, CompileError> {
        if !has_tags(source) {
            return Ok(Compiled {
                value: Template {
                    source: source.into(),
                    body: TemplateBody::Literal(source.into()),
                },
                warnings: vec![],
            });
        }
        let mut warnings = Vec::new();
        let nodes =
            syntax::parse_template(source, &mut warnings).map_err(|e| syntax_error(source, e))?;
        let warnings = place_warnings(source, warnings);
        let body = match nodes.as_slice() {
            [] => TemplateBody::Literal("".into()),
            [syntax::Node::Text(text)] => TemplateBody::Literal(text.as_str().into()),
            _ => {
                let code = emit::template(&nodes);
                let mut env = runtime::ENV.clone();
                env.add_template_owned(name.to_string(), code)
                    .map_err(internal_error)?;
                TemplateBody::Compiled(Arc::new(env))
            }
        };
        Ok(Compiled {
            value: Template {
                source: source.into(),
                body,
            },
            warnings,
        })
    }
    /// The source as written.
    pub fn source(&self) -> &str {
        &self.source
    }
    /// Whether rendering is constant (no tags): no evaluation happens.
    pub fn is_literal(&self) -> bool {
        matches!(self.body, TemplateBody::Literal(_))
    }
    /// Renders with `scope`.
    pub fn render(&self, scope: &Scope<'_>) -> Result<String, EvalError> {
        match &self.body {
            TemplateBody::Literal(text) => Ok(text.to_string()),
            TemplateBody::Compiled(env) => {
                // One template per environment: take it without knowing its name.
                let (_, tmpl) = env
                    .templates()
                    .next()
                    .ok_or_else(|| EvalError::Invalid("template missing".to_string()))?;
                tmpl.render(scope.context()).map_err(eval_error)
            }
        }
    }
}

impl Expr {
    /// Compiles a bare expression.
    ///
    /// ```
    /// use steptalk::expr::Expr;
    /// assert!(Expr::compile("doc", "a.b ?? 'none'").is_ok());
    /// let e = Expr::compile("doc", "a || b").unwrap();
    /// assert_eq!(e.warnings.len(), 1);
    /// ```
    pub fn compile(name: &str, source: &str) -> Result<Compiled<Expr>, CompileError> {
        let _ = name;
        let mut warnings = Vec::new();
        let ex =
            syntax::parse_expression(source, &mut warnings).map_err(|e| syntax_error(source, e))?;
        let warnings = place_warnings(source, warnings);
        let code = emit::expression(&ex);
        let compiled = runtime::ENV
            .compile_expression_owned(code)
            .map_err(internal_error)?;
        Ok(Compiled {
            value: Expr {
                source: source.into(),
                compiled: Arc::new(compiled),
            },
            warnings,
        })
    }
    /// The source as written.
    pub fn source(&self) -> &str {
        &self.source
    }
    /// Evaluates with `scope`.
    pub fn eval(&self, scope: &Scope<'_>) -> Result<Value, EvalError> {
        self.compiled
            .eval(scope.context())
            .map(Value)
            .map_err(eval_error)
    }
}

/// The `compareContext` rule (spec section 3): the rendered string `rendered`
/// compared with the scalar `is_equal` as PHP's loose `==` did.
///
/// ```
/// use steptalk::expr::php_loose_eq;
/// use serde_json::json;
/// assert!(php_loose_eq("10", &json!(10)));
/// assert!(php_loose_eq(" yes ", &json!("yes")));
/// assert!(!php_loose_eq("0", &json!(true)));
/// assert!(php_loose_eq("", &json!(null)));
/// ```
pub fn php_loose_eq(rendered: &str, is_equal: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    match is_equal {
        J::Null => rendered.is_empty(),
        J::Bool(b) => (!rendered.is_empty() && rendered != "0") == *b,
        J::Number(n) => match (php::numeric_str(rendered), n.as_i64()) {
            (Some(php::Num::I(x)), Some(y)) => x == y,
            (Some(x), _) => n.as_f64().is_some_and(|y| x.to_f64() == y),
            (None, _) => false,
        },
        J::String(s) => rendered.trim() == s.trim(),
        J::Array(_) | J::Object(_) => false,
    }
}
