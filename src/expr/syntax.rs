//! The Twig lexer and parser: source text → [`Node`]s and [`Ex`]pressions.
//!
//! This follows Twig 3's `Lexer` and `ExpressionParser` closely (same operator
//! table, same precedence climbing, filters bound in the postfix position) so
//! that `'now'|date('N') - 1` and `-5|abs` group the way Twig groups them.
//! It knows nothing about minijinja: `emit.rs` turns the tree into minijinja
//! source. Every error carries the byte offset where it was found; `mod.rs`
//! turns offsets into 1-based line/column.

use super::CompileWarning;

/// A syntax error at a byte offset of the source.
#[derive(Debug, Clone)]
pub(crate) struct SyntaxError {
    pub message: String,
    pub offset: usize,
}

fn err<T>(offset: usize, message: impl Into<String>) -> Result<T, SyntaxError> {
    Err(SyntaxError {
        message: message.into(),
        offset,
    })
}

/// A template node.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Text(String),
    Print(Ex),
    If(Vec<(Ex, Vec<Node>)>, Option<Vec<Node>>),
    For {
        key: Option<String>,
        value: String,
        iter: Ex,
        body: Vec<Node>,
        otherwise: Option<Vec<Node>>,
    },
    Set(Vec<String>, Vec<Ex>),
    SetBlock(String, Vec<Node>),
    Do(Ex),
    Apply(Vec<(String, Vec<Ex>)>, Vec<Node>),
}

/// Binary operators that need PHP semantics (and/or are handled apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Or,
    And,
    Xor,
    BitOr,
    BitXor,
    BitAnd,
    Eq,
    Ne,
    Spaceship,
    Lt,
    Gt,
    Ge,
    Le,
    In,
    NotIn,
    Matches,
    StartsWith,
    EndsWith,
    Range,
    Add,
    Sub,
    Concat,
    Mul,
    Div,
    FloorDiv,
    Mod,
    Pow,
    Coalesce,
    /// `is` / `is not`: parsed by a callback, never stored as a BinOp node.
    Is,
    IsNot,
}

/// An expression.
#[derive(Debug, Clone)]
pub(crate) enum Ex {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// A double-quoted string with `#{}` interpolations: concatenation of parts.
    Interp(Vec<Ex>),
    Var(String),
    Array(Vec<Ex>),
    Hash(Vec<(Ex, Ex)>),
    Get(Box<Ex>, Box<Ex>),
    Slice(Box<Ex>, Option<Box<Ex>>, Option<Box<Ex>>),
    Not(Box<Ex>),
    Neg(Box<Ex>),
    Pos(Box<Ex>),
    Bin(BinOp, Box<Ex>, Box<Ex>),
    Cond(Box<Ex>, Box<Ex>, Box<Ex>),
    Elvis(Box<Ex>, Box<Ex>),
    Filter(String, Box<Ex>, Vec<Ex>),
    Call(String, Vec<Ex>),
    Test(bool, String, Box<Ex>, Vec<Ex>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name(String),
    Int(i64),
    Float(f64),
    Str(String),
    /// A double-quoted string with interpolation: literal parts and nested token streams.
    InterpStr(Vec<InterpPart>),
    Op(&'static str),
    Punct(char),
    End,
}

#[derive(Debug, Clone, PartialEq)]
enum InterpPart {
    Lit(String),
    Code(Vec<(Tok, usize)>),
}

/// Operators in Twig's lexer order: longest first so `not in` beats `not`.
const OPERATORS: &[&str] = &[
    "starts with",
    "ends with",
    "matches",
    "not in",
    "b-and",
    "b-xor",
    "b-or",
    "is not",
    "<=>",
    "===",
    "!==",
    "...",
    "not",
    "and",
    "xor",
    "or",
    "in",
    "is",
    "==",
    "!=",
    "<=",
    ">=",
    "//",
    "**",
    "..",
    "??",
    "||",
    "&&",
    "<",
    ">",
    "+",
    "-",
    "~",
    "*",
    "/",
    "%",
    "=",
];

fn is_word_op(op: &str) -> bool {
    op.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
}

fn binary(op: &str) -> Option<(BinOp, u32, bool)> {
    // (operator, precedence, right-associative) as in Twig 3's CoreExtension.
    Some(match op {
        "or" | "||" => (BinOp::Or, 10, false),
        "xor" => (BinOp::Xor, 12, false),
        "and" | "&&" => (BinOp::And, 15, false),
        "b-or" => (BinOp::BitOr, 16, false),
        "b-xor" => (BinOp::BitXor, 17, false),
        "b-and" => (BinOp::BitAnd, 18, false),
        "==" => (BinOp::Eq, 20, false),
        "!=" => (BinOp::Ne, 20, false),
        "<=>" => (BinOp::Spaceship, 20, false),
        "<" => (BinOp::Lt, 20, false),
        ">" => (BinOp::Gt, 20, false),
        ">=" => (BinOp::Ge, 20, false),
        "<=" => (BinOp::Le, 20, false),
        "not in" => (BinOp::NotIn, 20, false),
        "in" => (BinOp::In, 20, false),
        "matches" => (BinOp::Matches, 20, false),
        "starts with" => (BinOp::StartsWith, 20, false),
        "ends with" => (BinOp::EndsWith, 20, false),
        ".." => (BinOp::Range, 25, false),
        "+" => (BinOp::Add, 30, false),
        "-" => (BinOp::Sub, 30, false),
        "~" => (BinOp::Concat, 40, false),
        "*" => (BinOp::Mul, 60, false),
        "/" => (BinOp::Div, 60, false),
        "//" => (BinOp::FloorDiv, 60, false),
        "%" => (BinOp::Mod, 60, false),
        "is" => (BinOp::Is, 100, false),
        "is not" => (BinOp::IsNot, 100, false),
        "**" => (BinOp::Pow, 200, true),
        "??" => (BinOp::Coalesce, 300, true),
        _ => return None,
    })
}

/// Tokenizes one expression region of `src` starting at `pos`; stops at the
/// closing delimiter `close` (`}}` or `%}`, with optional `-`/`~`) or at the
/// end of input when `close` is `None`. Returns tokens and the offset just
/// after the last token (before the closing delimiter).
struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn skip_ws(&mut self) {
        let rest = self.rest();
        let trimmed = rest.trim_start();
        self.pos += rest.len() - trimmed.len();
    }

    /// Whether the rest starts with a closing delimiter for `close`.
    fn at_close(&self, close: Option<&str>) -> bool {
        match close {
            None => self.pos >= self.src.len(),
            Some(c) => {
                let r = self.rest();
                r.starts_with(c)
                    || ((r.starts_with('-') || r.starts_with('~')) && r[1..].starts_with(c))
            }
        }
    }

    fn tokens(&mut self, close: Option<&str>) -> Result<Vec<(Tok, usize)>, SyntaxError> {
        let mut out = Vec::new();
        let mut brackets: Vec<(char, usize)> = Vec::new();
        loop {
            self.skip_ws();
            if brackets.is_empty() && self.at_close(close) {
                out.push((Tok::End, self.pos));
                return Ok(out);
            }
            let start = self.pos;
            let rest = self.rest();
            let Some(c) = rest.chars().next() else {
                if let Some((b, at)) = brackets.last() {
                    return err(*at, format!("unclosed \"{b}\""));
                }
                return err(
                    start,
                    format!(
                        "unexpected end of template, expected \"{}\"",
                        close.unwrap_or("")
                    ),
                );
            };
            // Operators (word operators need a word boundary).
            let mut matched = None;
            for op in OPERATORS {
                if is_word_op(op) {
                    if let Some(len) = match_word_op(rest, op) {
                        matched = Some((*op, len));
                        break;
                    }
                } else if rest.starts_with(op) {
                    matched = Some((*op, op.len()));
                    break;
                }
            }
            if let Some((op, len)) = matched {
                self.pos += len;
                out.push((Tok::Op(op), start));
                continue;
            }
            if c.is_ascii_digit() {
                let (tok, len) = lex_number(rest);
                self.pos += len;
                out.push((tok, start));
                continue;
            }
            if c.is_alphabetic() || c == '_' {
                let len = rest
                    .char_indices()
                    .find(|(_, ch)| !(ch.is_alphanumeric() || *ch == '_'))
                    .map(|(i, _)| i)
                    .unwrap_or(rest.len());
                out.push((Tok::Name(rest[..len].to_string()), start));
                self.pos += len;
                continue;
            }
            if c == '\'' || c == '"' {
                let tok = self.lex_string(c)?;
                out.push((tok, start));
                continue;
            }
            if "([{".contains(c) {
                brackets.push((c, start));
            } else if ")]}".contains(c) {
                let want = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                match brackets.pop() {
                    Some((open, _)) if open == want => {}
                    // Point at the bracket left open, as rustc does.
                    Some((open, at)) => return err(at, format!("unclosed \"{open}\"")),
                    None => return err(start, format!("unexpected \"{c}\"")),
                }
            } else if !"?:.,|=".contains(c) {
                return err(start, format!("unexpected character \"{c}\""));
            }
            self.pos += c.len_utf8();
            out.push((Tok::Punct(c), start));
        }
    }

    fn lex_string(&mut self, quote: char) -> Result<Tok, SyntaxError> {
        let start = self.pos;
        self.pos += 1;
        let mut parts = Vec::new();
        let mut buf = String::new();
        loop {
            let rest = self.rest();
            let Some(c) = rest.chars().next() else {
                return err(start, "unclosed string");
            };
            if c == quote {
                self.pos += 1;
                break;
            }
            if c == '\\' {
                let next = rest[1..].chars().next();
                match next {
                    Some(n) => {
                        // PHP's stripcslashes: common escapes; others keep the char.
                        let rep = match n {
                            'n' => '\n',
                            't' => '\t',
                            'r' => '\r',
                            'v' => '\x0b',
                            'f' => '\x0c',
                            'e' => '\x1b',
                            '0' => '\0',
                            other => other,
                        };
                        if !(n == quote || n == '\\' || n == '#' || "ntrvfe0".contains(n)) {
                            buf.push('\\');
                        }
                        buf.push(rep);
                        self.pos += 1 + n.len_utf8();
                        continue;
                    }
                    None => return err(start, "unclosed string"),
                }
            }
            if quote == '"' && rest.starts_with("#{") {
                if !buf.is_empty() {
                    parts.push(InterpPart::Lit(std::mem::take(&mut buf)));
                }
                self.pos += 2;
                let toks = self.tokens(Some("}"))?;
                self.pos += 1;
                parts.push(InterpPart::Code(toks));
                continue;
            }
            buf.push(c);
            self.pos += c.len_utf8();
        }
        if parts.is_empty() {
            return Ok(Tok::Str(buf));
        }
        if !buf.is_empty() {
            parts.push(InterpPart::Lit(buf));
        }
        Ok(Tok::InterpStr(parts))
    }
}

fn match_word_op(rest: &str, op: &str) -> Option<usize> {
    // Twig allows any whitespace between the words of `not in`, `is not`, ...
    let mut len = 0;
    for (i, word) in op.split(' ').enumerate() {
        if i > 0 {
            let r = &rest[len..];
            let ws = r.len() - r.trim_start().len();
            if ws == 0 {
                return None;
            }
            len += ws;
        }
        if !rest[len..].starts_with(word) {
            return None;
        }
        len += word.len();
    }
    let next = rest[len..].chars().next();
    if next.is_some_and(|c| c.is_alphanumeric() || c == '_') {
        return None;
    }
    // Twig does not treat `not(`... differently, but `a.not` would be a name:
    // the caller handles names after `.` itself.
    Some(len)
}

fn lex_number(rest: &str) -> (Tok, usize) {
    let b = rest.as_bytes();
    let mut i = 0;
    while i < b.len()
        && (b[i].is_ascii_digit() || (b[i] == b'_' && i + 1 < b.len() && b[i + 1].is_ascii_digit()))
    {
        i += 1;
    }
    let mut float = false;
    if i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit() {
        float = true;
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    if i + 1 < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            float = true;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            i = j;
        }
    }
    let text: String = rest[..i].chars().filter(|c| *c != '_').collect();
    if !float {
        if let Ok(n) = text.parse::<i64>() {
            return (Tok::Int(n), i);
        }
    }
    (Tok::Float(text.parse::<f64>().unwrap_or(f64::INFINITY)), i)
}

/// Recursive-descent parser over a token stream.
struct Parser<'w> {
    toks: Vec<(Tok, usize)>,
    i: usize,
    warnings: &'w mut Vec<(CompileWarning, usize)>,
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.i].0
    }
    fn offset(&self) -> usize {
        self.toks[self.i].1
    }
    fn bump(&mut self) -> (Tok, usize) {
        let t = self.toks[self.i].clone();
        if self.i + 1 < self.toks.len() {
            self.i += 1;
        }
        t
    }
    fn is_punct(&self, c: char) -> bool {
        *self.peek() == Tok::Punct(c)
    }
    fn eat_punct(&mut self, c: char) -> bool {
        if self.is_punct(c) {
            self.bump();
            true
        } else {
            false
        }
    }
    fn expect_punct(&mut self, c: char, what: &str) -> Result<(), SyntaxError> {
        if self.eat_punct(c) {
            Ok(())
        } else {
            self.unexpected(&format!("{what} (\"{c}\")"))
        }
    }
    fn unexpected<T>(&self, expected: &str) -> Result<T, SyntaxError> {
        let found = describe(self.peek());
        err(
            self.offset(),
            format!("unexpected {found}, expected {expected}"),
        )
    }

    fn expression(&mut self, min: u32) -> Result<Ex, SyntaxError> {
        let mut expr = self.primary()?;
        while let Tok::Op(op) = *self.peek() {
            let Some((bin, prec, right)) = binary(op) else {
                break;
            };
            if prec < min {
                break;
            }
            let at = self.offset();
            self.bump();
            if op == "||" || op == "&&" {
                let twig = if op == "||" { "or" } else { "and" };
                self.warnings.push((
                    CompileWarning {
                        code: "non-twig-operator",
                        message: format!("`{op}` is not Twig; it is read as `{twig}`"),
                        pos: None,
                    },
                    at,
                ));
            }
            expr = match bin {
                BinOp::Is => self.test(expr, false)?,
                BinOp::IsNot => self.test(expr, true)?,
                _ => {
                    let rhs = self.expression(if right { prec } else { prec + 1 })?;
                    Ex::Bin(bin, Box::new(expr), Box::new(rhs))
                }
            };
        }
        if min == 0 {
            return self.conditional(expr);
        }
        Ok(expr)
    }

    fn conditional(&mut self, mut expr: Ex) -> Result<Ex, SyntaxError> {
        while self.eat_punct('?') {
            if self.eat_punct(':') {
                let other = self.expression(0)?;
                expr = Ex::Elvis(Box::new(expr), Box::new(other));
            } else {
                let then = self.expression(0)?;
                let other = if self.eat_punct(':') {
                    self.expression(0)?
                } else {
                    Ex::Str(String::new())
                };
                expr = Ex::Cond(Box::new(expr), Box::new(then), Box::new(other));
            }
        }
        Ok(expr)
    }

    fn test(&mut self, subject: Ex, negated: bool) -> Result<Ex, SyntaxError> {
        let at = self.offset();
        let mut name = match self.bump() {
            (Tok::Name(n), _) => n,
            (Tok::Op(op), _) if is_word_op(op) && !op.contains(' ') => op.to_string(),
            (t, _) => {
                return err(
                    at,
                    format!("unexpected {}, expected a test name", describe(&t)),
                )
            }
        };
        // Two-word tests: `divisible by`, `same as`.
        if let Tok::Name(second) = self.peek().clone() {
            let joined = format!("{name} {second}");
            if matches!(joined.as_str(), "divisible by" | "same as") {
                self.bump();
                name = joined;
            }
        }
        let name = match name.as_str() {
            "none" => "null".to_string(),
            _ => name,
        };
        if !TESTS.contains(&name.as_str()) {
            return err(at, format!("unknown test \"{name}\""));
        }
        let args = if self.is_punct('(') {
            self.arguments()?
        } else if matches!(name.as_str(), "divisible by" | "same as") {
            // Twig also accepts `same as x` without parentheses for one primary.
            vec![self.expression(101)?]
        } else {
            vec![]
        };
        Ok(Ex::Test(negated, name, Box::new(subject), args))
    }

    fn primary(&mut self) -> Result<Ex, SyntaxError> {
        let at = self.offset();
        match self.peek().clone() {
            Tok::Op("not") => {
                self.bump();
                let e = self.expression(50)?;
                self.postfix(Ex::Not(Box::new(e)))
            }
            Tok::Op("-") => {
                self.bump();
                let e = self.expression(500)?;
                self.postfix(Ex::Neg(Box::new(e)))
            }
            Tok::Op("+") => {
                self.bump();
                let e = self.expression(500)?;
                self.postfix(Ex::Pos(Box::new(e)))
            }
            Tok::Punct('(') => {
                self.bump();
                let e = self.expression(0)?;
                if !self.eat_punct(')') {
                    return err(
                        self.offset(),
                        "an opened parenthesis is not properly closed",
                    );
                }
                self.postfix(e)
            }
            _ => {
                let _ = at;
                let e = self.primary_expression()?;
                self.postfix(e)
            }
        }
    }

    fn primary_expression(&mut self) -> Result<Ex, SyntaxError> {
        let (tok, at) = self.bump();
        Ok(match tok {
            Tok::Name(n) => match n.to_ascii_lowercase().as_str() {
                "true" => Ex::Bool(true),
                "false" => Ex::Bool(false),
                "null" | "none" => Ex::Null,
                _ => {
                    if self.is_punct('(') {
                        if !FUNCTIONS.contains(&n.as_str()) {
                            return err(at, format!("unknown function \"{n}\""));
                        }
                        let args = self.arguments()?;
                        Ex::Call(n, args)
                    } else {
                        Ex::Var(n)
                    }
                }
            },
            Tok::Int(n) => Ex::Int(n),
            Tok::Float(f) => Ex::Float(f),
            Tok::Str(s) => Ex::Str(s),
            Tok::InterpStr(parts) => {
                let mut out = Vec::new();
                for part in parts {
                    match part {
                        InterpPart::Lit(s) => out.push(Ex::Str(s)),
                        InterpPart::Code(toks) => {
                            let mut p = Parser {
                                toks,
                                i: 0,
                                warnings: self.warnings,
                            };
                            let e = p.expression(0)?;
                            if *p.peek() != Tok::End {
                                return p.unexpected("\"}\"");
                            }
                            out.push(e);
                        }
                    }
                }
                Ex::Interp(out)
            }
            Tok::Punct('[') => {
                let mut items = Vec::new();
                while !self.eat_punct(']') {
                    if !items.is_empty() {
                        self.expect_punct(',', "a comma between array elements")?;
                        if self.eat_punct(']') {
                            break;
                        }
                    }
                    items.push(self.expression(0)?);
                }
                Ex::Array(items)
            }
            Tok::Punct('{') => {
                let mut items = Vec::new();
                while !self.eat_punct('}') {
                    if !items.is_empty() {
                        self.expect_punct(',', "a comma between hash entries")?;
                        if self.eat_punct('}') {
                            break;
                        }
                    }
                    let key_at = self.offset();
                    let key = match self.bump().0 {
                        Tok::Str(s) | Tok::Name(s) => Ex::Str(s),
                        Tok::Op(op) if is_word_op(op) && !op.contains(' ') => {
                            Ex::Str(op.to_string())
                        }
                        Tok::Int(n) => Ex::Int(n),
                        Tok::Float(f) => Ex::Float(f),
                        Tok::Punct('(') => {
                            let e = self.expression(0)?;
                            self.expect_punct(')', "a closing parenthesis")?;
                            e
                        }
                        t => {
                            return err(
                                key_at,
                                format!(
                                    "a hash key must be a quoted string, a number, a name, or an expression enclosed in parentheses (unexpected {})",
                                    describe(&t)
                                ),
                            )
                        }
                    };
                    self.expect_punct(':', "a colon after a hash key")?;
                    let value = self.expression(0)?;
                    items.push((key, value));
                }
                Ex::Hash(items)
            }
            Tok::Op(op) if is_word_op(op) && !op.contains(' ') && self.is_punct('(') => {
                // e.g. a variable or function named `in`: not valid Twig either.
                return err(at, format!("unexpected operator \"{op}\""));
            }
            t => return err(at, format!("unexpected {}", describe(&t))),
        })
    }

    fn postfix(&mut self, mut expr: Ex) -> Result<Ex, SyntaxError> {
        loop {
            match self.peek().clone() {
                Tok::Punct('.') => {
                    self.bump();
                    let at = self.offset();
                    let key = match self.bump().0 {
                        Tok::Name(n) => Ex::Str(n),
                        Tok::Int(n) => Ex::Int(n),
                        Tok::Op(op) if is_word_op(op) && !op.contains(' ') => {
                            Ex::Str(op.to_string())
                        }
                        t => return err(at, format!("unexpected {} after \".\"", describe(&t))),
                    };
                    if self.is_punct('(') {
                        // Method calls: Twig calls methods on objects; our values
                        // are plain data, so `a.b()` reads the attribute.
                        let _ = self.arguments()?;
                    }
                    expr = Ex::Get(Box::new(expr), Box::new(key));
                }
                Tok::Punct('[') => {
                    self.bump();
                    let from = if self.is_punct(':') {
                        None
                    } else {
                        Some(self.expression(0)?)
                    };
                    if self.eat_punct(':') {
                        let len = if self.is_punct(']') {
                            None
                        } else {
                            Some(Box::new(self.expression(0)?))
                        };
                        self.expect_punct(']', "a closing bracket")?;
                        expr = Ex::Slice(Box::new(expr), from.map(Box::new), len);
                    } else {
                        self.expect_punct(']', "a closing bracket")?;
                        let Some(key) = from else {
                            return self.unexpected("an index");
                        };
                        expr = Ex::Get(Box::new(expr), Box::new(key));
                    }
                }
                Tok::Punct('|') => {
                    self.bump();
                    let at = self.offset();
                    let name = match self.bump().0 {
                        Tok::Name(n) => n,
                        t => {
                            return err(
                                at,
                                format!("unexpected {}, expected a filter name", describe(&t)),
                            )
                        }
                    };
                    if !FILTERS.contains(&name.as_str()) {
                        return err(at, format!("unknown filter \"{name}\""));
                    }
                    let args = if self.is_punct('(') {
                        self.arguments()?
                    } else {
                        vec![]
                    };
                    expr = Ex::Filter(name, Box::new(expr), args);
                }
                _ => return Ok(expr),
            }
        }
    }

    fn arguments(&mut self) -> Result<Vec<Ex>, SyntaxError> {
        self.expect_punct('(', "an opening parenthesis")?;
        let mut args = Vec::new();
        while !self.eat_punct(')') {
            if !args.is_empty() {
                self.expect_punct(',', "a comma between arguments")?;
            }
            // Named arguments (`round(precision=2)`) are read positionally.
            if let (Tok::Name(_), Some((Tok::Op("="), _))) =
                (self.peek(), self.toks.get(self.i + 1))
            {
                self.bump();
                self.bump();
            } else if let (Tok::Name(_), Some((Tok::Punct(':'), _))) =
                (self.peek(), self.toks.get(self.i + 1))
            {
                self.bump();
                self.bump();
            }
            args.push(self.expression(0)?);
        }
        Ok(args)
    }

    fn name(&mut self) -> Result<String, SyntaxError> {
        match self.bump() {
            (Tok::Name(n), _) => Ok(n),
            (t, at) => err(at, format!("unexpected {}, expected a name", describe(&t))),
        }
    }

    fn end(&mut self) -> Result<(), SyntaxError> {
        if *self.peek() == Tok::End {
            Ok(())
        } else {
            self.unexpected("the end of the expression")
        }
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Name(n) => format!("name \"{n}\""),
        Tok::Int(n) => format!("number \"{n}\""),
        Tok::Float(f) => format!("number \"{f}\""),
        Tok::Str(s) => format!("string \"{s}\""),
        Tok::InterpStr(_) => "string".to_string(),
        Tok::Op(op) => format!("operator \"{op}\""),
        Tok::Punct(c) => format!("\"{c}\""),
        Tok::End => "end of expression".to_string(),
    }
}

/// Filters the runtime implements (unknown names are compile errors, as in Twig).
pub(crate) const FILTERS: &[&str] = &[
    "abs",
    "batch",
    "capitalize",
    "column",
    "date",
    "default",
    "e",
    "escape",
    "first",
    "format",
    "join",
    "json_encode",
    "keys",
    "last",
    "length",
    "lower",
    "merge",
    "nl2br",
    "number_format",
    "raw",
    "replace",
    "reverse",
    "round",
    "slice",
    "sort",
    "spaceless",
    "split",
    "striptags",
    "title",
    "trim",
    "upper",
    "url_encode",
];

/// Functions the runtime implements.
pub(crate) const FUNCTIONS: &[&str] = &[
    "random",
    "range",
    "min",
    "max",
    "date",
    "cycle",
    "attribute",
];

/// Tests the runtime implements.
pub(crate) const TESTS: &[&str] = &[
    "defined",
    "null",
    "empty",
    "even",
    "odd",
    "iterable",
    "divisible by",
    "same as",
    "sequence",
    "mapping",
    "string",
    "number",
    "boolean",
];

/// Parses a bare expression (the whole source).
pub(crate) fn parse_expression(
    src: &str,
    warnings: &mut Vec<(CompileWarning, usize)>,
) -> Result<Ex, SyntaxError> {
    let mut lexer = Lexer { src, pos: 0 };
    let toks = lexer.tokens(None)?;
    let mut p = Parser {
        toks,
        i: 0,
        warnings,
    };
    if *p.peek() == Tok::End {
        return err(0, "empty expression");
    }
    let e = p.expression(0)?;
    p.end()?;
    Ok(e)
}

/// A block tag being parsed: which end tags close it.
enum Frame {
    Root,
    If {
        branches: Vec<(Ex, Vec<Node>)>,
        cond: Ex,
        otherwise: bool,
        at: usize,
    },
    For {
        key: Option<String>,
        value: String,
        iter: Ex,
        body: Option<Vec<Node>>,
        at: usize,
    },
    SetBlock(String, usize),
    Apply(Vec<(String, Vec<Ex>)>, usize),
}

/// Parses a template.
pub(crate) fn parse_template(
    src: &str,
    warnings: &mut Vec<(CompileWarning, usize)>,
) -> Result<Vec<Node>, SyntaxError> {
    let mut stack: Vec<(Frame, Vec<Node>)> = vec![(Frame::Root, Vec::new())];
    let mut pos = 0;
    // Whether the previous tag asked to trim whitespace after it (`-}}` / `~}}`).
    let mut trim_next: Option<bool> = None;
    while pos < src.len() {
        let rest = &src[pos..];
        let next = ["{{", "{%", "{#"].iter().filter_map(|d| rest.find(d)).min();
        let text_end = next.map_or(src.len(), |n| pos + n);
        let mut text = &src[pos..text_end];
        match trim_next.take() {
            Some(true) => text = text.trim_start(),
            Some(false) => text = text.trim_start_matches([' ', '\t', '\0', '\x0b']),
            None => {}
        }
        let Some(n) = next else {
            push_text(&mut stack, text);
            break;
        };
        let tag_at = pos + n;
        let kind = &src[tag_at..tag_at + 2];
        let mut inner = tag_at + 2;
        match src[inner..].chars().next() {
            Some('-') => {
                text = text.trim_end();
                inner += 1;
            }
            Some('~') => {
                text = text.trim_end_matches([' ', '\t', '\0', '\x0b']);
                inner += 1;
            }
            _ => {}
        }
        push_text(&mut stack, text);
        if kind == "{#" {
            let Some(end) = src[inner..].find("#}") else {
                return err(tag_at, "unclosed comment");
            };
            let end_at = inner + end;
            trim_next = trim_marker(src, end_at);
            pos = end_at + 2;
            // Twig eats one newline after a comment.
            if trim_next.is_none() && src[pos..].starts_with('\n') {
                pos += 1;
            }
            continue;
        }
        let close = if kind == "{{" { "}}" } else { "%}" };
        let mut lexer = Lexer { src, pos: inner };
        let toks = lexer.tokens(Some(close))?;
        let end_at = lexer.pos;
        trim_next = match src[end_at..].chars().next() {
            Some('-') => Some(true),
            Some('~') => Some(false),
            _ => None,
        };
        pos = end_at + close.len() + usize::from(trim_next.is_some());
        let mut p = Parser {
            toks,
            i: 0,
            warnings,
        };
        if kind == "{{" {
            if *p.peek() == Tok::End {
                return err(p.offset(), "a print statement needs an expression");
            }
            let e = p.expression(0)?;
            p.end()?;
            push(&mut stack, Node::Print(e));
            continue;
        }
        // Twig eats one newline after a block tag.
        if trim_next.is_none() && src[pos..].starts_with('\n') {
            pos += 1;
        } else if trim_next.is_none() && src[pos..].starts_with("\r\n") {
            pos += 2;
        }
        let tag_at_name = p.offset();
        let tag = match p.bump().0 {
            Tok::Name(n) => n,
            Tok::Op(op) if is_word_op(op) => op.to_string(),
            _ => return err(tag_at_name, "a block must start with a tag name"),
        };
        block_tag(&tag, tag_at_name, &mut p, &mut stack, src, &mut pos)?;
    }
    if stack.len() > 1 {
        let (frame, _) = stack.pop().unwrap_or((Frame::Root, vec![]));
        let (name, at) = match frame {
            Frame::If { at, .. } => ("endif", at),
            Frame::For { at, .. } => ("endfor", at),
            Frame::SetBlock(_, at) => ("endset", at),
            Frame::Apply(_, at) => ("endapply", at),
            Frame::Root => ("end", 0),
        };
        return err(
            at,
            format!("unexpected end of template: this tag is never closed (expected \"{name}\")"),
        );
    }
    Ok(stack.pop().map(|(_, nodes)| nodes).unwrap_or_default())
}

fn trim_marker(src: &str, end_at: usize) -> Option<bool> {
    if end_at == 0 {
        return None;
    }
    match src.as_bytes()[end_at - 1] {
        b'-' => Some(true),
        b'~' => Some(false),
        _ => None,
    }
}

fn push_text(stack: &mut [(Frame, Vec<Node>)], text: &str) {
    if text.is_empty() {
        return;
    }
    if let Some((_, nodes)) = stack.last_mut() {
        if let Some(Node::Text(prev)) = nodes.last_mut() {
            prev.push_str(text);
        } else {
            nodes.push(Node::Text(text.to_string()));
        }
    }
}

fn push(stack: &mut [(Frame, Vec<Node>)], node: Node) {
    if let Some((_, nodes)) = stack.last_mut() {
        nodes.push(node);
    }
}

fn block_tag(
    tag: &str,
    at: usize,
    p: &mut Parser<'_>,
    stack: &mut Vec<(Frame, Vec<Node>)>,
    src: &str,
    pos: &mut usize,
) -> Result<(), SyntaxError> {
    match tag {
        "if" => {
            let cond = p.expression(0)?;
            p.end()?;
            stack.push((
                Frame::If {
                    branches: vec![],
                    cond,
                    otherwise: false,
                    at,
                },
                vec![],
            ));
        }
        "elseif" | "else" | "endif" | "endfor" | "endset" | "endapply" => {
            let cond = if tag == "elseif" {
                Some(p.expression(0)?)
            } else {
                None
            };
            p.end()?;
            let Some((frame, nodes)) = stack.pop() else {
                return err(at, format!("unexpected \"{tag}\" tag"));
            };
            match (frame, tag) {
                (
                    Frame::If {
                        mut branches,
                        cond: c,
                        otherwise: false,
                        at: if_at,
                    },
                    "elseif" | "else" | "endif",
                ) => {
                    branches.push((c, nodes));
                    match tag {
                        "endif" => push(stack, Node::If(branches, None)),
                        _ => stack.push((
                            Frame::If {
                                branches,
                                cond: cond.unwrap_or(Ex::Bool(true)),
                                otherwise: tag == "else",
                                at: if_at,
                            },
                            vec![],
                        )),
                    }
                }
                (
                    Frame::If {
                        branches,
                        otherwise: true,
                        ..
                    },
                    "endif",
                ) => push(stack, Node::If(branches, Some(nodes))),
                (
                    Frame::For {
                        key,
                        value,
                        iter,
                        body: None,
                        at: for_at,
                    },
                    "else",
                ) => stack.push((
                    Frame::For {
                        key,
                        value,
                        iter,
                        body: Some(nodes),
                        at: for_at,
                    },
                    vec![],
                )),
                (
                    Frame::For {
                        key,
                        value,
                        iter,
                        body,
                        ..
                    },
                    "endfor",
                ) => {
                    let (body, otherwise) = match body {
                        Some(b) => (b, Some(nodes)),
                        None => (nodes, None),
                    };
                    push(
                        stack,
                        Node::For {
                            key,
                            value,
                            iter,
                            body,
                            otherwise,
                        },
                    )
                }
                (Frame::SetBlock(name, _), "endset") => push(stack, Node::SetBlock(name, nodes)),
                (Frame::Apply(filters, _), "endapply") => push(stack, Node::Apply(filters, nodes)),
                (frame, _) => {
                    let expected = match frame {
                        Frame::If { .. } => "\"elseif\", \"else\" or \"endif\"",
                        Frame::For { .. } => "\"else\" or \"endfor\"",
                        Frame::SetBlock(..) => "\"endset\"",
                        Frame::Apply(..) => "\"endapply\"",
                        Frame::Root => "no closing tag here",
                    };
                    return err(
                        at,
                        format!("unexpected \"{tag}\" tag (expected {expected})"),
                    );
                }
            }
        }
        "for" => {
            let first = p.name()?;
            let (key, value) = if p.eat_punct(',') {
                (Some(first), p.name()?)
            } else {
                (None, first)
            };
            if *p.peek() != Tok::Op("in") {
                return p.unexpected("\"in\"");
            }
            p.bump();
            let iter = p.expression(0)?;
            p.end()?;
            stack.push((
                Frame::For {
                    key,
                    value,
                    iter,
                    body: None,
                    at,
                },
                vec![],
            ));
        }
        "set" => {
            let mut names = vec![p.name()?];
            while p.eat_punct(',') {
                names.push(p.name()?);
            }
            if *p.peek() == Tok::Op("=") {
                p.bump();
                let mut values = vec![p.expression(0)?];
                while p.eat_punct(',') {
                    values.push(p.expression(0)?);
                }
                p.end()?;
                if values.len() != names.len() {
                    return err(at, "when using set, you must have the same number of variables and assignments");
                }
                push(stack, Node::Set(names, values));
            } else {
                p.end()?;
                if names.len() != 1 {
                    return err(
                        at,
                        "when using set with a block, you cannot have a multi-target",
                    );
                }
                stack.push((Frame::SetBlock(names.remove(0), at), vec![]));
            }
        }
        "do" => {
            let e = p.expression(0)?;
            p.end()?;
            push(stack, Node::Do(e));
        }
        "apply" => {
            let mut filters = Vec::new();
            loop {
                let name_at = p.offset();
                let name = p.name()?;
                if !FILTERS.contains(&name.as_str()) {
                    return err(name_at, format!("unknown filter \"{name}\""));
                }
                let args = if p.is_punct('(') {
                    p.arguments()?
                } else {
                    vec![]
                };
                filters.push((name, args));
                if !p.eat_punct('|') {
                    break;
                }
            }
            p.end()?;
            stack.push((Frame::Apply(filters, at), vec![]));
        }
        "verbatim" | "raw" => {
            p.end()?;
            let end_tag = if tag == "raw" {
                "endraw"
            } else {
                "endverbatim"
            };
            // Find `{% endverbatim %}` (with optional whitespace control).
            let mut search = *pos;
            loop {
                let Some(found) = src[search..].find("{%") else {
                    return err(
                        at,
                        format!("unexpected end of template, expected \"{end_tag}\""),
                    );
                };
                let open = search + found;
                let mut j = open + 2;
                let trim_before = matches!(src[j..].chars().next(), Some('-'));
                if matches!(src[j..].chars().next(), Some('-' | '~')) {
                    j += 1;
                }
                let after = src[j..].trim_start();
                if let Some(after_name) = after.strip_prefix(end_tag) {
                    let close_rel = after_name.trim_start();
                    let close_at = src.len() - close_rel.len();
                    let (trim_after, len) = if close_rel.starts_with("-%}") {
                        (true, 3)
                    } else if close_rel.starts_with("~%}") {
                        (false, 3)
                    } else if close_rel.starts_with("%}") {
                        (false, 2)
                    } else {
                        search = open + 2;
                        continue;
                    };
                    let mut body = &src[*pos..open];
                    if trim_before {
                        body = body.trim_end();
                    }
                    push_text(stack, body);
                    *pos = close_at + len;
                    if trim_after {
                        *pos += src[*pos..].len() - src[*pos..].trim_start().len();
                    } else if src[*pos..].starts_with('\n') {
                        *pos += 1;
                    }
                    break;
                }
                search = open + 2;
            }
        }
        _ => return err(at, format!("unknown \"{tag}\" tag")),
    }
    Ok(())
}
