//! Turns the Twig tree from `syntax.rs` into minijinja source.
//!
//! minijinja is used as the virtual machine (control flow, loops, fuel); every
//! operation whose PHP/Twig meaning differs from Jinja's is routed through a
//! function registered in `runtime.rs` (`__add`, `__eq`, `__b` for PHP
//! truthiness, `__get` for attribute access, `__f_<filter>`, `__fn_<function>`,
//! `__t_<test>`). User names never meet minijinja globals: the environment only
//! holds `__`-prefixed names, so a variable named `random` or `range` is just a
//! variable.
//!
//! Twig's `{% set %}` inside a `{% for %}` changes the outer variable, unlike
//! Jinja's loop scoping; so every `{% set %}` target lives in one namespace
//! object `__ns` for the render, and reads of such names check it first.

use std::collections::HashSet;
use std::fmt::Write;

use super::syntax::{BinOp, Ex, Node};

/// Names that cannot be emitted as minijinja identifiers.
const JINJA_RESERVED: &[&str] = &[
    "true", "false", "none", "True", "False", "None", "not", "and", "or", "in", "is", "if", "else",
    "self", "super", "caller", "varargs", "kwargs",
];

pub(crate) struct Emitter {
    /// Names assigned by `{% set %}` somewhere in the template.
    set_names: HashSet<String>,
    /// Loop variables in scope (read directly, not through the namespace).
    loop_vars: Vec<String>,
    out: String,
}

impl Emitter {
    fn new() -> Emitter {
        Emitter {
            set_names: HashSet::new(),
            loop_vars: Vec::new(),
            out: String::new(),
        }
    }
}

/// Emits a template.
pub(crate) fn template(nodes: &[Node]) -> String {
    let mut e = Emitter::new();
    collect_sets(nodes, &mut e.set_names);
    if !e.set_names.is_empty() {
        e.out.push_str("{% set __ns = __namespace() %}");
    }
    e.nodes(nodes);
    e.out
}

/// Emits a bare expression.
pub(crate) fn expression(ex: &Ex) -> String {
    let mut e = Emitter::new();
    let mut s = String::new();
    e.ex(ex, &mut s);
    s
}

fn collect_sets(nodes: &[Node], names: &mut HashSet<String>) {
    for node in nodes {
        match node {
            Node::Set(targets, _) => names.extend(targets.iter().cloned()),
            Node::SetBlock(name, body) => {
                names.insert(name.clone());
                collect_sets(body, names);
            }
            Node::If(branches, otherwise) => {
                for (_, body) in branches {
                    collect_sets(body, names);
                }
                if let Some(body) = otherwise {
                    collect_sets(body, names);
                }
            }
            Node::For {
                body, otherwise, ..
            } => {
                collect_sets(body, names);
                if let Some(body) = otherwise {
                    collect_sets(body, names);
                }
            }
            Node::Apply(_, body) => collect_sets(body, names),
            Node::Text(_) | Node::Print(_) | Node::Do(_) => {}
        }
    }
}

/// A minijinja-safe local name for a Twig loop variable (minijinja only
/// reads ASCII identifiers; Twig names may be any letters).
fn local(name: &str) -> String {
    let mut out = String::from("__l_");
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else {
            let _ = write!(out, "_u{:x}_", c as u32);
        }
    }
    out
}

/// Whether `name` can be written as a minijinja identifier as is.
fn is_plain_ident(name: &str) -> bool {
    name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && !name.starts_with("__")
        && !JINJA_RESERVED.contains(&name)
}

impl Emitter {
    fn nodes(&mut self, nodes: &[Node]) {
        for node in nodes {
            self.node(node);
        }
    }

    fn node(&mut self, node: &Node) {
        match node {
            Node::Text(text) => self.text(text),
            Node::Print(ex) => {
                let mut s = String::new();
                self.ex(ex, &mut s);
                let _ = write!(self.out, "{{{{ {s} }}}}");
            }
            Node::If(branches, otherwise) => {
                for (i, (cond, body)) in branches.iter().enumerate() {
                    let mut s = String::new();
                    self.truthy(cond, &mut s);
                    let kw = if i == 0 { "if" } else { "elif" };
                    let _ = write!(self.out, "{{% {kw} {s} %}}");
                    self.nodes(body);
                }
                if let Some(body) = otherwise {
                    self.out.push_str("{% else %}");
                    self.nodes(body);
                }
                self.out.push_str("{% endif %}");
            }
            Node::For {
                key,
                value,
                iter,
                body,
                otherwise,
            } => {
                let mut s = String::new();
                self.ex(iter, &mut s);
                match key {
                    Some(k) => {
                        let _ = write!(
                            self.out,
                            "{{% for {}, {} in __items({s}) %}}",
                            local(k),
                            local(value)
                        );
                    }
                    None => {
                        let _ = write!(self.out, "{{% for {} in __iter({s}) %}}", local(value));
                    }
                }
                let pushed = 1 + usize::from(key.is_some());
                self.loop_vars.push(value.clone());
                if let Some(k) = key {
                    self.loop_vars.push(k.clone());
                }
                self.nodes(body);
                self.loop_vars.truncate(self.loop_vars.len() - pushed);
                if let Some(body) = otherwise {
                    self.out.push_str("{% else %}");
                    self.nodes(body);
                }
                self.out.push_str("{% endfor %}");
            }
            Node::Set(names, values) => {
                for (name, value) in names.iter().zip(values) {
                    let mut s = String::new();
                    self.ex(value, &mut s);
                    let _ = write!(
                        self.out,
                        "{{% set __unused = __setns(__ns, {}, {s}) %}}",
                        quote(name)
                    );
                }
            }
            Node::SetBlock(name, body) => {
                self.out.push_str("{% set __captured %}");
                self.nodes(body);
                self.out.push_str("{% endset %}");
                let _ = write!(
                    self.out,
                    "{{% set __unused = __setns(__ns, {}, __str(__captured)) %}}",
                    quote(name)
                );
            }
            Node::Do(ex) => {
                let mut s = String::new();
                self.ex(ex, &mut s);
                let _ = write!(self.out, "{{% set __unused = {s} %}}");
            }
            Node::Apply(filters, body) => {
                self.out.push_str("{% set __captured %}");
                self.nodes(body);
                self.out.push_str("{% endset %}");
                let mut s = "__str(__captured)".to_string();
                for (name, args) in filters {
                    let mut call = format!("__f_{name}(");
                    call.push_str(&s);
                    for arg in args {
                        call.push_str(", ");
                        self.ex(arg, &mut call);
                    }
                    call.push(')');
                    s = call;
                }
                let _ = write!(self.out, "{{{{ {s} }}}}");
            }
        }
    }

    fn text(&mut self, text: &str) {
        // Template text never contains `{{`, `{%` or `{#` (the lexer split
        // there) but verbatim text may, and a trailing `{` would merge with
        // the next emitted tag: print text with braces as a string literal.
        if text.contains(['{', '}', '#']) {
            let _ = write!(self.out, "{{{{ {} }}}}", quote(text));
        } else {
            self.out.push_str(text);
        }
    }

    /// Emits `ex` as a Jinja boolean with PHP truthiness.
    fn truthy(&mut self, ex: &Ex, s: &mut String) {
        match ex {
            // These already produce booleans.
            Ex::Bool(_)
            | Ex::Not(_)
            | Ex::Test(..)
            | Ex::Bin(
                BinOp::And
                | BinOp::Or
                | BinOp::Eq
                | BinOp::Ne
                | BinOp::Lt
                | BinOp::Gt
                | BinOp::Le
                | BinOp::Ge
                | BinOp::In
                | BinOp::NotIn,
                _,
                _,
            ) => self.ex(ex, s),
            _ => {
                s.push_str("__b(");
                self.ex(ex, s);
                s.push(')');
            }
        }
    }

    fn call(&mut self, name: &str, args: &[&Ex], s: &mut String) {
        s.push_str(name);
        s.push('(');
        for (i, a) in args.iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            self.ex(a, s);
        }
        s.push(')');
    }

    fn ex(&mut self, ex: &Ex, s: &mut String) {
        match ex {
            Ex::Null => s.push_str("none"),
            Ex::Bool(b) => s.push_str(if *b { "true" } else { "false" }),
            Ex::Int(n) => {
                let _ = write!(s, "{n}");
            }
            Ex::Float(f) => {
                // minijinja must read a float back (a literal without `.` would be an int).
                let text = format!("{f}");
                if f.is_finite() && text.contains('.') && !text.contains('e') {
                    s.push_str(&text);
                } else if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 {
                    let _ = write!(s, "{f:.1}");
                } else {
                    let _ = write!(s, "__float({})", quote(&format!("{f:e}")));
                }
            }
            Ex::Str(text) => s.push_str(&quote(text)),
            Ex::Interp(parts) => {
                s.push_str("__cat(");
                for (i, p) in parts.iter().enumerate() {
                    if i > 0 {
                        s.push_str(", ");
                    }
                    self.ex(p, s);
                }
                s.push(')');
            }
            Ex::Var(name) => {
                if self.loop_vars.iter().any(|v| v == name) {
                    s.push_str(&local(name));
                } else if name == "_context" {
                    s.push_str("__context()");
                } else if self.set_names.contains(name) {
                    let _ = write!(s, "__lv(__ns, {})", quote(name));
                } else if !is_plain_ident(name) {
                    let _ = write!(s, "__var({})", quote(name));
                } else {
                    s.push_str(name);
                }
            }
            Ex::Array(items) => {
                s.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        s.push_str(", ");
                    }
                    self.ex(item, s);
                }
                s.push(']');
            }
            Ex::Hash(items) => {
                s.push_str("__hash(");
                for (i, (k, v)) in items.iter().enumerate() {
                    if i > 0 {
                        s.push_str(", ");
                    }
                    self.ex(k, s);
                    s.push_str(", ");
                    self.ex(v, s);
                }
                s.push(')');
            }
            // A static identifier key (the common `a.b.c`) uses minijinja's own
            // attribute lookup: with chainable undefined it has Twig's meaning
            // (missing or non-map → undefined) and skips a function call.
            Ex::Get(obj, key) => match key.as_ref() {
                Ex::Str(name) if is_plain_ident(name) => {
                    s.push('(');
                    self.ex(obj, s);
                    s.push_str(").");
                    s.push_str(name);
                }
                _ => self.call("__get", &[obj, key], s),
            },
            Ex::Slice(obj, from, len) => {
                s.push_str("__f_slice(");
                self.ex(obj, s);
                s.push_str(", ");
                match from {
                    Some(f) => self.ex(f, s),
                    None => s.push('0'),
                }
                s.push_str(", ");
                match len {
                    Some(l) => self.ex(l, s),
                    None => s.push_str("none"),
                }
                s.push(')');
            }
            Ex::Not(inner) => {
                s.push_str("(not ");
                self.truthy(inner, s);
                s.push(')');
            }
            Ex::Neg(inner) => self.call("__neg", &[inner], s),
            Ex::Pos(inner) => self.call("__pos", &[inner], s),
            Ex::Bin(op, a, b) => match op {
                BinOp::And | BinOp::Or => {
                    s.push('(');
                    self.truthy(a, s);
                    s.push_str(if *op == BinOp::And { " and " } else { " or " });
                    self.truthy(b, s);
                    s.push(')');
                }
                BinOp::Coalesce => {
                    s.push_str("(__some(");
                    self.ex(a, s);
                    s.push_str(") or [");
                    self.ex(b, s);
                    s.push_str("])[0]");
                }
                _ => {
                    let name = match op {
                        BinOp::Xor => "__xor",
                        BinOp::BitOr => "__bor",
                        BinOp::BitXor => "__bxor",
                        BinOp::BitAnd => "__band",
                        BinOp::Eq => "__eq",
                        BinOp::Ne => "__ne",
                        BinOp::Spaceship => "__cmp",
                        BinOp::Lt => "__lt",
                        BinOp::Gt => "__gt",
                        BinOp::Ge => "__ge",
                        BinOp::Le => "__le",
                        BinOp::In => "__in",
                        BinOp::NotIn => "__notin",
                        BinOp::Matches => "__matches",
                        BinOp::StartsWith => "__startswith",
                        BinOp::EndsWith => "__endswith",
                        BinOp::Range => "__fn_range",
                        BinOp::Add => "__add",
                        BinOp::Sub => "__sub",
                        BinOp::Concat => "__cat",
                        BinOp::Mul => "__mul",
                        BinOp::Div => "__div",
                        BinOp::FloorDiv => "__floordiv",
                        BinOp::Mod => "__mod",
                        BinOp::Pow => "__pow",
                        _ => "__invalid",
                    };
                    self.call(name, &[a, b], s);
                }
            },
            Ex::Cond(c, a, b) => {
                s.push('(');
                self.ex(a, s);
                s.push_str(" if ");
                self.truthy(c, s);
                s.push_str(" else ");
                self.ex(b, s);
                s.push(')');
            }
            Ex::Elvis(a, b) => {
                // `__elvis` returns `a` when PHP-truthy (then also Jinja-truthy) and
                // false otherwise, so `or` evaluates `a` once and `b` lazily.
                s.push_str("(__elvis(");
                self.ex(a, s);
                s.push_str(") or ");
                self.ex(b, s);
                s.push(')');
            }
            Ex::Filter(name, subject, args) => {
                let mut all: Vec<&Ex> = vec![subject];
                all.extend(args.iter());
                self.call(&format!("__f_{name}"), &all, s);
            }
            Ex::Call(name, args) => {
                let all: Vec<&Ex> = args.iter().collect();
                self.call(&format!("__fn_{name}"), &all, s);
            }
            Ex::Test(negated, name, subject, args) => {
                if *negated {
                    s.push_str("(not ");
                }
                let mut all: Vec<&Ex> = vec![subject];
                all.extend(args.iter());
                self.call(&format!("__t_{}", name.replace(' ', "_")), &all, s);
                if *negated {
                    s.push(')');
                }
            }
        }
    }
}

/// A minijinja string literal (JSON escapes are a subset minijinja reads).
pub(crate) fn quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_string())
}
