//! The expression and template conformance table (`tests/expr/cases.txt`).
//!
//! Every case is rendered or evaluated with a fixed clock and a seeded random
//! generator; all failures are collected and printed together with their line
//! numbers. The same table is checked against real Twig by
//! `tests/expr/oracle.php` (see its header).

use std::path::Path;
use std::sync::{Arc, Mutex};

use rand::SeedableRng;
use serde_json::Value as J;
use steptalk::expr::{CompileError, EvalError, Expr, Input, Rng, Scope, Template, Value, Vars};

struct Case {
    line: usize,
    kind: char,
    source: String,
    expected: String,
    vars: Vars,
    timezone: chrono_tz::Tz,
}

fn read_cases() -> Vec<Case> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expr/cases.txt");
    let text = std::fs::read_to_string(&path).expect("tests/expr/cases.txt");
    let mut vars = Vars::default();
    let mut timezone = chrono_tz::UTC;
    let mut cases = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(ctx) = line.strip_prefix("@ctx ") {
            let J::Object(map) = serde_json::from_str(ctx).expect("@ctx is a JSON object") else {
                panic!("line {line_no}: @ctx must be an object");
            };
            vars = Vars::from_json(map);
            continue;
        }
        if let Some(tz) = line.strip_prefix("@tz ") {
            timezone = tz.trim().parse().expect("@tz names an IANA zone");
            continue;
        }
        let mut chars = line.chars();
        let kind = chars.next().expect("a kind letter");
        let rest = chars.as_str().trim_start_matches(['!', '~']);
        let rest = rest.strip_prefix(' ').unwrap_or(rest);
        let (source, expected) = match rest.rsplit_once(" => ") {
            Some(pair) => pair,
            None => ("", rest.strip_prefix("=> ").unwrap_or(rest)),
        };
        assert!("TEW".contains(kind), "line {line_no}: unknown kind {kind}");
        cases.push(Case {
            line: line_no,
            kind,
            source: source.replace('⏎', "\n"),
            expected: expected.replace('⏎', "\n"),
            vars: vars.clone(),
            timezone,
        });
    }
    cases
}

/// JSON equality where numbers compare by value (`3` equals `3.0`).
fn same_json(a: &J, b: &J) -> bool {
    match (a, b) {
        (J::Number(x), J::Number(y)) => x.as_f64() == y.as_f64(),
        (J::Array(x), J::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_json(a, b))
        }
        (J::Object(x), J::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, va), (kb, vb))| ka == kb && same_json(va, vb))
        }
        _ => a == b,
    }
}

enum Outcome {
    Text(String),
    Value(Value),
    Compile(CompileError),
    Eval(EvalError),
}

fn run(case: &Case) -> (Outcome, Vec<steptalk::expr::CompileWarning>) {
    let input = Input::from(serde_json::json!({"request": {"type": "LaunchRequest"}}));
    let rng: Rng = Arc::new(Mutex::new(rand_chacha::ChaCha8Rng::seed_from_u64(42)));
    let now = chrono::DateTime::parse_from_rfc3339("2024-03-15T10:30:00Z")
        .expect("fixed clock")
        .with_timezone(&chrono::Utc);
    let scope = Scope {
        vars: &case.vars,
        input: &input,
        rng: &rng,
        now,
        timezone: case.timezone,
    };
    if case.kind == 'T' {
        match Template::compile("case", &case.source) {
            Err(e) => (Outcome::Compile(e), vec![]),
            Ok(t) => match t.value.render(&scope) {
                Ok(s) => (Outcome::Text(s), t.warnings),
                Err(e) => (Outcome::Eval(e), t.warnings),
            },
        }
    } else {
        match Expr::compile("case", &case.source) {
            Err(e) => (Outcome::Compile(e), vec![]),
            Ok(x) => match x.value.eval(&scope) {
                Ok(v) => (Outcome::Value(v), x.warnings),
                Err(e) => (Outcome::Eval(e), x.warnings),
            },
        }
    }
}

fn check(case: &Case) -> Result<(), String> {
    let (outcome, warnings) = run(case);
    let got = match &outcome {
        Outcome::Text(s) => format!("{s:?}"),
        Outcome::Value(v) => format!("{}", v.to_json()),
        Outcome::Compile(e) => format!(
            "compile error at {}: {}",
            e.pos
                .map_or("?".to_string(), |p| format!("{}:{}", p.line, p.col)),
            e.message
        ),
        Outcome::Eval(e) => format!("error: {e}"),
    };
    let want = &case.expected;
    let ok = if case.kind == 'W' {
        let shown: Vec<String> = warnings
            .iter()
            .map(|w| {
                let p = w.pos.expect("warnings carry a position");
                format!("{} at {}:{}", w.code, p.line, p.col)
            })
            .collect();
        return if shown.iter().any(|s| s == want) {
            Ok(())
        } else {
            Err(format!("want warning {want}, got {shown:?} ({got})"))
        };
    } else if let Some(rest) = want.strip_prefix("compile error at ") {
        let (pos, msg) = rest.split_once(": ").unwrap_or((rest, ""));
        matches!(&outcome, Outcome::Compile(e)
            if e.pos.map(|p| format!("{}:{}", p.line, p.col)).as_deref() == Some(pos)
                && e.message.contains(msg))
    } else if let Some(msg) = want.strip_prefix("error: ") {
        match &outcome {
            Outcome::Compile(e) => e.message.contains(msg),
            Outcome::Eval(e) => e.to_string().contains(msg),
            _ => false,
        }
    } else if want == "out of fuel" {
        matches!(outcome, Outcome::Eval(EvalError::OutOfFuel))
    } else {
        match &outcome {
            Outcome::Text(s) => s == want,
            Outcome::Value(v) => {
                let want_json: J = serde_json::from_str(want)
                    .map_err(|e| format!("expected value is not JSON ({e}): {want}"))?;
                same_json(&v.to_json(), &want_json)
            }
            _ => false,
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!("want {want}\n      got  {got}"))
    }
}

#[test]
fn conformance_table() {
    let cases = read_cases();
    assert!(cases.len() >= 150, "the table shrank to {}", cases.len());
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| {
            check(c)
                .err()
                .map(|why| format!("line {} {} {:?}\n      {why}", c.line, c.kind, c.source))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

fn seeded_rng() -> Rng {
    Arc::new(Mutex::new(rand_chacha::ChaCha8Rng::seed_from_u64(1)))
}

/// A scope at the wall clock, in UTC.
fn scope_now<'a>(vars: &'a Vars, input: &'a Input, rng: &'a Rng) -> Scope<'a> {
    Scope {
        vars,
        input,
        rng,
        now: chrono::Utc::now(),
        timezone: chrono_tz::UTC,
    }
}

#[test]
fn literal_templates_render_as_written() {
    let t = Template::compile("lit", "Just text, with } and # and {").expect("compiles");
    assert!(t.value.is_literal());
    let vars = Vars::default();
    let input = Input::default();
    let rng = seeded_rng();
    let scope = scope_now(&vars, &input, &rng);
    assert_eq!(
        t.value.render(&scope).expect("renders"),
        "Just text, with } and # and {"
    );
}

#[test]
fn bottalk_input_and_values_round_trip() {
    let mut vars = Vars::default();
    vars.set(
        "x",
        Value::from(serde_json::json!({"b": [1, 2.5, null, "s"], "a": true})),
    );
    let input = Input::from(serde_json::json!({"request": {"intent": {"name": "HelloIntent"}}}));
    let rng = seeded_rng();
    let scope = scope_now(&vars, &input, &rng);
    let e = Expr::compile("t", "bottalk_input.request.intent.name").expect("compiles");
    assert_eq!(
        e.value.eval(&scope).expect("evaluates").to_json(),
        "HelloIntent"
    );
    // Key order and number types survive the trip through the runtime value.
    let e = Expr::compile("t", "x").expect("compiles");
    assert_eq!(
        serde_json::to_string(&e.value.eval(&scope).expect("evaluates").to_json()).unwrap(),
        r#"{"b":[1,2.5,null,"s"],"a":true}"#
    );
    assert_eq!(Value::from(serde_json::json!(2.0)).to_string(), "2");
    assert!(!Value::from(serde_json::json!("0")).is_truthy());
    assert!(Value::from(serde_json::json!("false")).is_truthy());
    assert!(Value::null().is_null());
}

#[test]
fn compare_context_follows_php_loose_equality() {
    use serde_json::json;
    // (rendered `var`, `is_equal`, expected) per spec section 3.
    let table = [
        ("yes", json!(true), true),
        ("", json!(true), false),
        ("0", json!(true), false),
        ("0", json!(false), true),
        ("false", json!(true), true),
        ("10", json!(10), true),
        ("10.0", json!(10), true),
        (" 10 ", json!(10), true),
        ("1e1", json!(10), true),
        ("ten", json!(10), false),
        ("", json!(0), false),
        ("2.5", json!(2.5), true),
        (" yes ", json!("yes"), true),
        ("Yes", json!("yes"), false),
        ("", json!(null), true),
        ("x", json!(null), false),
        ("[]", json!([]), false),
    ];
    for (rendered, is_equal, want) in table {
        assert_eq!(
            steptalk::expr::php_loose_eq(rendered, &is_equal),
            want,
            "{rendered:?} vs {is_equal}"
        );
    }
}
