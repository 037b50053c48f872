//! PHP 8 value semantics over minijinja values: truthiness, string
//! conversion (floats at `precision=14`), numeric strings, arithmetic and the
//! loose comparison (`==`, `<`, `<=>`) that Twig inherits from PHP.
//!
//! Pure functions, no minijinja state: `runtime.rs` registers thin wrappers.

use std::cmp::Ordering;
use std::fmt::Write;

use minijinja::value::{Value as MV, ValueKind};
use minijinja::{Error, ErrorKind};

/// A PHP number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Num {
    I(i64),
    F(f64),
}

impl Num {
    pub fn to_f64(self) -> f64 {
        match self {
            Num::I(i) => i as f64,
            Num::F(f) => f,
        }
    }
    pub fn to_i64(self) -> i64 {
        match self {
            Num::I(i) => i,
            // PHP 8 on 64-bit: out of range floats are UB-ish; saturate.
            Num::F(f) if f.is_nan() => 0,
            Num::F(f) => f as i64,
        }
    }
    pub fn value(self) -> MV {
        match self {
            Num::I(i) => MV::from(i),
            Num::F(f) => MV::from(f),
        }
    }
}

/// An evaluation error with a message shown to the author.
pub(crate) fn invalid(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// The number held by a minijinja number value.
pub(crate) fn num_of(v: &MV) -> Option<Num> {
    if !v.is_number() {
        return None;
    }
    if v.is_integer() {
        if let Ok(i) = i64::try_from(v.clone()) {
            return Some(Num::I(i));
        }
    }
    f64::try_from(v.clone()).ok().map(Num::F)
}

/// PHP 8 `is_numeric` on a whole string (leading and trailing whitespace allowed).
pub(crate) fn numeric_str(s: &str) -> Option<Num> {
    let (num, len) = leading_numeric(s)?;
    if s[len..]
        .trim_end_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c'])
        .is_empty()
    {
        Some(num)
    } else {
        None
    }
}

/// The numeric prefix of a string (PHP's "leading-numeric" strings) and its length.
pub(crate) fn leading_numeric(s: &str) -> Option<(Num, usize)> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c') {
        i += 1;
    }
    let start = i;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut digits = i - int_start;
    let mut float = false;
    if i < b.len() && b[i] == b'.' {
        let frac_start = i + 1;
        let mut j = frac_start;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j > frac_start || digits > 0 {
            digits += j - frac_start;
            float = true;
            i = j;
        }
    }
    if digits == 0 {
        return None;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            float = true;
            i = j;
        }
    }
    let text = &s[start..i];
    if !float {
        if let Ok(n) = text.parse::<i64>() {
            return Some((Num::I(n), i));
        }
    }
    text.parse::<f64>().ok().map(|f| (Num::F(f), i))
}

/// PHP truthiness: `''`, `'0'`, `0`, `0.0`, `[]`, null (and undefined) are false.
pub(crate) fn truthy(v: &MV) -> bool {
    match v.as_str() {
        Some(s) => !(s.is_empty() || s == "0"),
        None => v.is_true(),
    }
}

/// Whether `v` is a PHP array (a list or a map).
pub(crate) fn is_array(v: &MV) -> bool {
    matches!(
        v.kind(),
        ValueKind::Seq | ValueKind::Map | ValueKind::Iterable
    )
}

/// Formats a float as PHP does with `precision=14` (`echo`, string casts).
pub(crate) fn format_float(f: f64, out: &mut String) {
    format_float_prec(f, 14, out)
}

/// Formats a float like PHP's `zend_gcvt` with `precision` significant digits.
pub(crate) fn format_float_prec(f: f64, precision: usize, out: &mut String) {
    if let Some(special) = special_float(f) {
        out.push_str(special);
        return;
    }
    let sci = format!("{:.*e}", precision - 1, f);
    layout_float(&sci, precision, 'E', out);
}

/// Formats a float as PHP's `json_encode` does (`serialize_precision=-1`):
/// the shortest digits that round-trip, laid out with precision 17.
pub(crate) fn format_float_json(f: f64, out: &mut String) {
    if !f.is_finite() {
        out.push('0');
        return;
    }
    if f == 0.0 {
        out.push_str(if f.is_sign_negative() { "-0" } else { "0" });
        return;
    }
    let sci = format!("{f:e}");
    layout_float(&sci, 17, 'e', out);
}

fn special_float(f: f64) -> Option<&'static str> {
    if f.is_nan() {
        Some("NAN")
    } else if f.is_infinite() {
        Some(if f > 0.0 { "INF" } else { "-INF" })
    } else if f == 0.0 {
        Some(if f.is_sign_negative() { "-0" } else { "0" })
    } else {
        None
    }
}

/// Lays out Rust's `d.ddde±x` text the way `zend_gcvt` does.
fn layout_float(sci: &str, precision: usize, e_char: char, out: &mut String) {
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    if negative {
        out.push('-');
    }
    if exp < -4 || exp >= precision as i32 {
        out.push_str(&digits[..1]);
        out.push('.');
        if digits.len() > 1 {
            out.push_str(&digits[1..]);
        } else {
            out.push('0');
        }
        let _ = write!(
            out,
            "{e_char}{}{}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        );
    } else if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(digits);
            for _ in digits.len()..int_len {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    }
}

/// Appends the PHP string conversion of `v` (what Twig prints).
pub(crate) fn write_str(v: &MV, out: &mut String) {
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => {}
        ValueKind::Bool => {
            if v.is_true() {
                out.push('1')
            }
        }
        ValueKind::Number => match num_of(v) {
            Some(Num::I(i)) => {
                let _ = write!(out, "{i}");
            }
            Some(Num::F(f)) => format_float(f, out),
            None => {
                let _ = write!(out, "{v}");
            }
        },
        ValueKind::String => out.push_str(v.as_str().unwrap_or_default()),
        ValueKind::Seq | ValueKind::Map | ValueKind::Iterable => out.push_str("Array"),
        _ => {
            let _ = write!(out, "{v}");
        }
    }
}

/// The PHP string conversion of `v`.
pub(crate) fn to_str(v: &MV) -> String {
    if let Some(s) = v.as_str() {
        return s.to_string();
    }
    let mut out = String::new();
    write_str(v, &mut out);
    out
}

/// PHP's type name as used in TypeError messages.
pub(crate) fn type_name(v: &MV) -> &'static str {
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => "null",
        ValueKind::Bool => "bool",
        ValueKind::Number => {
            if v.is_integer() {
                "int"
            } else {
                "float"
            }
        }
        ValueKind::String => "string",
        _ => "array",
    }
}

/// A value as a number for arithmetic (PHP 8 rules).
fn arith_num(v: &MV, op: &str, a: &MV, b: &MV) -> Result<Num, Error> {
    let unsupported = || {
        invalid(format!(
            "Unsupported operand types: {} {op} {}",
            type_name(a),
            type_name(b)
        ))
    };
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => Ok(Num::I(0)),
        ValueKind::Bool => Ok(Num::I(i64::from(v.is_true()))),
        ValueKind::Number => num_of(v).ok_or_else(unsupported),
        ValueKind::String => {
            let s = v.as_str().unwrap_or_default();
            // A leading-numeric string ("12abc") is used with a PHP warning.
            leading_numeric(s).map(|(n, _)| n).ok_or_else(unsupported)
        }
        _ => Err(unsupported()),
    }
}

/// `a + b`, `a - b`, `a * b`, `a / b`, `a % b`, `a ** b`, `a // b`.
pub(crate) fn arith(op: &str, a: &MV, b: &MV) -> Result<MV, Error> {
    if op == "+" && a.kind() == ValueKind::Map && b.kind() == ValueKind::Map {
        // PHP array union: keys of `a` win.
        let mut out: indexmap::IndexMap<MV, MV> = indexmap::IndexMap::new();
        for (k, v) in map_pairs(a).into_iter().chain(map_pairs(b)) {
            out.entry(k).or_insert(v);
        }
        return Ok(MV::from_iter(out));
    }
    if op == "+" && is_array(a) && is_array(b) {
        let mut items: Vec<MV> = list_items(a);
        let extra = list_items(b);
        // (Union never grows past the longer operand, so no size check.)
        if extra.len() > items.len() {
            items.extend(extra.into_iter().skip(items.len()));
        }
        return Ok(MV::from(items));
    }
    let x = arith_num(a, op, a, b)?;
    let y = arith_num(b, op, a, b)?;
    use Num::{F, I};
    Ok(match op {
        "+" => match (x, y) {
            (I(p), I(q)) => p.checked_add(q).map_or(F(p as f64 + q as f64), I),
            _ => F(x.to_f64() + y.to_f64()),
        },
        "-" => match (x, y) {
            (I(p), I(q)) => p.checked_sub(q).map_or(F(p as f64 - q as f64), I),
            _ => F(x.to_f64() - y.to_f64()),
        },
        "*" => match (x, y) {
            (I(p), I(q)) => p.checked_mul(q).map_or(F(p as f64 * q as f64), I),
            _ => F(x.to_f64() * y.to_f64()),
        },
        "/" => {
            if y.to_f64() == 0.0 {
                return Err(invalid("Division by zero"));
            }
            match (x, y) {
                (I(p), I(q)) if q != 0 && p.checked_rem(q) == Some(0) => {
                    p.checked_div(q).map_or(F(p as f64 / q as f64), I)
                }
                _ => F(x.to_f64() / y.to_f64()),
            }
        }
        "//" => {
            if y.to_f64() == 0.0 {
                return Err(invalid("Division by zero"));
            }
            I((x.to_f64() / y.to_f64()).floor() as i64)
        }
        "%" => {
            let q = y.to_i64();
            if q == 0 {
                return Err(invalid("Modulo by zero"));
            }
            I(x.to_i64().checked_rem(q).unwrap_or(0))
        }
        "**" => match (x, y) {
            (I(p), I(q)) if q >= 0 => u32::try_from(q)
                .ok()
                .and_then(|q| p.checked_pow(q))
                .map_or(F((p as f64).powf(q as f64)), I),
            _ => F(x.to_f64().powf(y.to_f64())),
        },
        _ => return Err(invalid(format!("unknown operator {op}"))),
    }
    .value())
}

/// The items of a list (or the values of a map).
pub(crate) fn list_items(v: &MV) -> Vec<MV> {
    match v.kind() {
        ValueKind::Map => map_pairs(v).into_iter().map(|(_, v)| v).collect(),
        _ => v.try_iter().map(|it| it.collect()).unwrap_or_default(),
    }
}

/// The key/value pairs of a map (or index/value pairs of a list).
pub(crate) fn map_pairs(v: &MV) -> Vec<(MV, MV)> {
    match v.kind() {
        ValueKind::Map => v
            .try_iter()
            .map(|it| {
                it.map(|k| {
                    let val = v.get_item(&k).unwrap_or_default();
                    (k, val)
                })
                .collect()
            })
            .unwrap_or_default(),
        _ => list_items(v)
            .into_iter()
            .enumerate()
            .map(|(i, x)| (MV::from(i as i64), x))
            .collect(),
    }
}

/// PHP 8's loose comparison `a <=> b` (`None` when uncomparable, which PHP treats as 1).
pub(crate) fn compare(a: &MV, b: &MV) -> Option<Ordering> {
    use ValueKind as K;
    let ka = norm_kind(a);
    let kb = norm_kind(b);
    match (ka, kb) {
        (K::None, K::None) => Some(Ordering::Equal),
        (K::Bool, _) | (_, K::Bool) => Some(truthy(a).cmp(&truthy(b))),
        (K::None, K::String) => Some("".cmp(b.as_str().unwrap_or_default())),
        (K::String, K::None) => Some(a.as_str().unwrap_or_default().cmp("")),
        (K::None, _) | (_, K::None) => Some(truthy(a).cmp(&truthy(b))),
        (K::Number, K::Number) => cmp_num(num_of(a)?, num_of(b)?),
        (K::String, K::String) => {
            let (sa, sb) = (
                a.as_str().unwrap_or_default(),
                b.as_str().unwrap_or_default(),
            );
            match (numeric_str(sa), numeric_str(sb)) {
                (Some(x), Some(y)) => cmp_num(x, y),
                _ => Some(sa.cmp(sb)),
            }
        }
        (K::Number, K::String) => {
            let sb = b.as_str().unwrap_or_default();
            match numeric_str(sb) {
                Some(y) => cmp_num(num_of(a)?, y),
                None => Some(to_str(a).as_str().cmp(sb)),
            }
        }
        (K::String, K::Number) => compare(b, a).map(Ordering::reverse),
        (K::Map | K::Seq, K::Map | K::Seq) => {
            let pa = map_pairs(a);
            let pb = map_pairs(b);
            if pa.len() != pb.len() {
                return Some(pa.len().cmp(&pb.len()));
            }
            for (k, va) in &pa {
                let vb = pb.iter().find(|(kb, _)| loose_key_eq(k, kb))?;
                match compare(va, &vb.1)? {
                    Ordering::Equal => {}
                    other => return Some(other),
                }
            }
            Some(Ordering::Equal)
        }
        (K::Map | K::Seq, _) => Some(Ordering::Greater),
        (_, K::Map | K::Seq) => Some(Ordering::Less),
        _ => None,
    }
}

fn loose_key_eq(a: &MV, b: &MV) -> bool {
    a == b || to_str(a) == to_str(b)
}

fn norm_kind(v: &MV) -> ValueKind {
    match v.kind() {
        ValueKind::Undefined => ValueKind::None,
        ValueKind::Iterable => ValueKind::Seq,
        k => k,
    }
}

fn cmp_num(x: Num, y: Num) -> Option<Ordering> {
    match (x, y) {
        (Num::I(p), Num::I(q)) => Some(p.cmp(&q)),
        _ => x.to_f64().partial_cmp(&y.to_f64()),
    }
}

/// PHP 8 loose `==`.
pub(crate) fn loose_eq(a: &MV, b: &MV) -> bool {
    compare(a, b) == Some(Ordering::Equal)
}

/// PHP's `===` (used by `same as`).
pub(crate) fn strict_eq(a: &MV, b: &MV) -> bool {
    let (ka, kb) = (norm_kind(a), norm_kind(b));
    if ka != kb {
        return false;
    }
    match ka {
        ValueKind::Number => a.is_integer() == b.is_integer() && num_of(a) == num_of(b),
        ValueKind::Seq | ValueKind::Map => {
            let pa = map_pairs(a);
            let pb = map_pairs(b);
            pa.len() == pb.len()
                && pa
                    .iter()
                    .zip(pb.iter())
                    .all(|((k1, v1), (k2, v2))| k1 == k2 && strict_eq(v1, v2))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_php() {
        let cases = [
            (3.0, "3"),
            (0.1 + 0.2, "0.3"),
            (1e15, "1.0E+15"),
            (1e14, "1.0E+14"),
            (123456789012.5, "123456789012.5"),
            (0.0001, "0.0001"),
            (0.00001, "1.0E-5"),
            (1.5e-7, "1.5E-7"),
            (-2.5, "-2.5"),
            (1.0 / 3.0, "0.33333333333333"),
            (99999999999999.0, "99999999999999"),
        ];
        for (f, want) in cases {
            let mut s = String::new();
            format_float(f, &mut s);
            assert_eq!(s, want, "{f}");
        }
    }

    #[test]
    fn numeric_strings() {
        assert_eq!(numeric_str(" 12 "), Some(Num::I(12)));
        assert_eq!(numeric_str("1e3"), Some(Num::F(1000.0)));
        assert_eq!(numeric_str(".5"), Some(Num::F(0.5)));
        assert_eq!(numeric_str("12abc"), None);
        assert_eq!(numeric_str("abc"), None);
        assert_eq!(numeric_str(""), None);
        assert_eq!(leading_numeric("12abc").map(|x| x.0), Some(Num::I(12)));
    }
}
