//! The raw YAML layer: text → a spanned tree of [`Node`]s.
//!
//! This is the only module that knows serde-saphyr (style.md §2.3). It parses
//! each file into a generic tree where every value keeps its 1-based line and
//! column, duplicate keys are kept (the loader reports them), and the parser
//! runs under a budget so hostile input (alias bombs, deep nesting, huge files)
//! fails fast with a located error instead of eating memory.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Budget, DuplicateKeyPolicy, Options, Spanned};

use crate::diagnostic::{FileId, Span};

/// The deepest nesting accepted. Real scenarios stay under 12 levels; the
/// limit keeps deserialization's recursion far from the stack's end on a
/// 2 MiB thread even in debug builds.
pub const MAX_DEPTH: usize = 48;

/// A YAML value with the position where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    /// The file the value comes from.
    pub file: FileId,
    /// 1-based line of the value's first character (a quote or `|` included).
    pub line: u32,
    /// 1-based column (characters) of the value's first character.
    pub col: u32,
}

/// The shape of a YAML value (YAML 1.2 core schema).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Entries in file order; duplicate keys are kept so the loader can report them.
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// A short name for messages ("a string", "a list", …).
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a map",
        }
    }

    /// The text of a scalar (numbers and booleans as written in YAML 1.2 form).
    pub fn scalar_text(&self) -> Option<String> {
        match self {
            Value::Str(s) => Some(s.clone()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Null | Value::Seq(_) | Value::Map(_) => None,
        }
    }

    /// The value as JSON (for `is_equal`, payload scalars, …).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::Str(s) => serde_json::Value::String(s.clone()),
            Value::Seq(items) => items.iter().map(|n| n.value.to_json()).collect(),
            Value::Map(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.value.scalar_text().unwrap_or_default(), v.value.to_json()))
                    .collect(),
            ),
        }
    }
}

/// A YAML syntax or budget error, with the position serde-saphyr reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub message: String,
    /// 1-based line and column, when known.
    pub pos: Option<(u32, u32)>,
}

impl Node {
    /// The node's start as a point span.
    pub fn span(&self) -> Span {
        Span::point(self.file, self.line, self.col)
    }

    /// The string value, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Sets `file` on this node and every node below it.
    fn set_file(&mut self, file: FileId) {
        self.file = file;
        match &mut self.value {
            Value::Seq(items) => items.iter_mut().for_each(|n| n.set_file(file)),
            Value::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
                k.set_file(file);
                v.set_file(file);
            }),
            _ => {}
        }
    }
}

/// Parses one YAML document of `file`. An empty document is `Null` at 1:1.
pub fn parse(text: &str, file: FileId) -> Result<Node, ParseError> {
    let mut root = parse_tree(text)?;
    root.set_file(file);
    Ok(root)
}

fn parse_tree(text: &str) -> Result<Node, ParseError> {
    if text.trim().is_empty() {
        return Ok(Node {
            value: Value::Null,
            file: FileId::default(),
            line: 1,
            col: 1,
        });
    }
    let mut options = Options::default();
    // Keep repeated keys: "the same key twice is an error" is reported by the
    // loader with both places, which serde-saphyr's own error cannot do.
    options.duplicate_keys = DuplicateKeyPolicy::PassThrough;
    // YAML 1.2: `yes`/`no`/`on`/`off` are strings (intents are named `yes`).
    options.strict_booleans = true;
    let mut budget = Budget::default();
    // Bounded time and memory on hostile input; generous for real scenarios
    // (a 10,000-step scenario is about 150,000 nodes).
    budget.max_depth = MAX_DEPTH;
    budget.max_nodes = 2_000_000;
    budget.max_aliases = 10_000;
    budget.max_total_scalar_bytes = 16 * 1024 * 1024;
    options.budget = Some(budget);
    options.alias_limits.max_total_replayed_events = 200_000;
    match serde_saphyr::from_str_with_options::<Spanned<Value>>(text, options) {
        Ok(spanned) => Ok(node(spanned)),
        Err(err) => {
            let inner = err.without_snippet();
            let pos = inner
                .location()
                .map(|loc| (clamp(loc.line()), clamp(loc.column())));
            Err(ParseError {
                message: clean_message(&inner.render_with_options(serde_saphyr::render_options! {
                    snippets: serde_saphyr::SnippetMode::Off,
                })),
                pos,
            })
        }
    }
}

fn clamp(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX).max(1)
}

/// serde-saphyr appends ` at line N, column M`; the diagnostic carries the
/// position itself, so the message drops it (and serde's type jargon).
fn clean_message(message: &str) -> String {
    let first = message.lines().next().unwrap_or(message).trim();
    // Budget breaches print as Rust debug output; say what they mean.
    if first.contains("Depth {") || first.contains("recursion limit") {
        return format!("nesting is too deep (the limit is {MAX_DEPTH} levels)");
    }
    if first.contains("alias") && first.contains("limit") {
        return "aliases expand to too much data (an alias bomb?)".to_string();
    }
    if first.contains("budget breached") {
        return "the file is too large or too complex to load".to_string();
    }
    let cut = first
        .find(" at line ")
        .map(|i| &first[..i])
        .unwrap_or(first)
        .trim_end_matches(['.', ':', ','])
        .trim();
    let mut out = cut.to_string();
    if let Some(c) = out.get(..1) {
        let lower = c.to_lowercase();
        out.replace_range(..1, &lower);
    }
    out
}

fn node(spanned: Spanned<Value>) -> Node {
    Node {
        value: spanned.value,
        file: FileId::default(),
        line: clamp(spanned.referenced.line()),
        col: clamp(spanned.referenced.column()),
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v)
            .map(Value::Int)
            .unwrap_or(Value::Float(v as f64)))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        Ok(i64::try_from(v)
            .map(Value::Int)
            .unwrap_or(Value::Float(v as f64)))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        Ok(i64::try_from(v)
            .map(Value::Int)
            .unwrap_or(Value::Float(v as f64)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Value>>()? {
            items.push(node(item));
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<Value>>()? {
            let value = map.next_value::<Spanned<Value>>()?;
            entries.push((node(key), node(value)));
        }
        Ok(Value::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_yaml_1_2() {
        let text = "a: yes\nb:\n  - 'x'\n  - |\n    hi\nc:\t1\ntrue: 2\n";
        let root = parse_tree(text).unwrap();
        let Value::Map(entries) = &root.value else {
            panic!("{root:?}")
        };
        assert_eq!(entries[0].1.value, Value::Str("yes".into()));
        assert_eq!((entries[0].1.line, entries[0].1.col), (1, 4));
        let Value::Seq(items) = &entries[1].1.value else {
            panic!()
        };
        assert_eq!((items[0].line, items[0].col), (3, 5));
        // A block scalar is located at its first content line, not at `|`.
        assert_eq!((items[1].line, items[1].col), (5, 5));
        assert_eq!(entries[2].1.value, Value::Int(1));
        assert_eq!(entries[3].0.value, Value::Bool(true));
    }

    #[test]
    fn duplicate_keys_are_kept() {
        let root = parse_tree("a: 1\na: 2\n").unwrap();
        let Value::Map(entries) = &root.value else {
            panic!()
        };
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].0.line, 2);
    }

    #[test]
    fn syntax_error_is_located() {
        let err = parse_tree("a: [1\nb: 2\n").unwrap_err();
        assert!(err.pos.is_some(), "{err:?}");
    }
}
