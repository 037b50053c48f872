//! Twig 3's core filters, functions and tests, registered as `__f_<name>`,
//! `__fn_<name>` and `__t_<name>` minijinja functions (see `emit.rs`).
//!
//! Each one follows the PHP implementation in Twig's `CoreExtension` (PHP 8
//! semantics via `php.rs`); where steptalk deliberately differs, the function
//! says so. Dates live in `date.rs`.

use minijinja::value::{Rest, Value as MV, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State};
use rand::Rng as _;

use super::date;
use super::php::{self, invalid, Num};
use super::runtime::{check_size, check_string, scope, with_rng, Range, MAX_ITEMS, MAX_RANGE};

type Map = indexmap::IndexMap<MV, MV>;

/// A PHP array key: integer-like strings, bools and floats become integers.
pub(crate) fn array_key(k: &MV) -> MV {
    match k.kind() {
        ValueKind::Undefined | ValueKind::None => MV::from(""),
        ValueKind::Bool => MV::from(i64::from(k.is_true())),
        ValueKind::Number => MV::from(php::num_of(k).map_or(0, Num::to_i64)),
        ValueKind::String => {
            let s = k.as_str().unwrap_or_default();
            let canonical = s
                .strip_prefix('-')
                .unwrap_or(s)
                .bytes()
                .all(|b| b.is_ascii_digit())
                && !s.is_empty()
                && s != "-"
                && (s == "0" || !s.trim_start_matches('-').starts_with('0'))
                && s != "-0";
            match (canonical, s.parse::<i64>()) {
                (true, Ok(i)) => MV::from(i),
                _ => k.clone(),
            }
        }
        _ => k.clone(),
    }
}

/// `obj.key` / `obj[key]`: a missing key or a non-array is undefined, never an error.
pub(crate) fn get_attr(obj: &MV, key: &MV) -> MV {
    match obj.kind() {
        ValueKind::Map => {
            let k = array_key(key);
            match obj.get_item(&k) {
                Ok(v) if !v.is_undefined() => v,
                _ => {
                    // Maps from JSON have string keys: `a.0` finds `"0"`.
                    if k.is_number() {
                        obj.get_item(&MV::from(php::to_str(&k))).unwrap_or_default()
                    } else if let Some(name) = key.as_str() {
                        obj.get_attr(name).unwrap_or_default()
                    } else {
                        MV::UNDEFINED
                    }
                }
            }
        }
        ValueKind::Seq | ValueKind::Iterable => {
            let k = array_key(key);
            match k.as_i64() {
                Some(i) if i >= 0 => obj.get_item_by_index(i as usize).unwrap_or_default(),
                _ => MV::UNDEFINED,
            }
        }
        ValueKind::Plain => match key.as_str() {
            Some(name) => obj.get_attr(name).unwrap_or_default(),
            None => obj.get_item(key).unwrap_or_default(),
        },
        _ => MV::UNDEFINED,
    }
}

/// Twig's `in`: substring for strings, loose membership for arrays.
pub(crate) fn contains(haystack: &MV, needle: &MV) -> bool {
    if let Some(h) = haystack.as_str() {
        return match needle.kind() {
            ValueKind::String | ValueKind::Number => {
                let n = php::to_str(needle);
                n.is_empty() || h.contains(&n)
            }
            _ => false,
        };
    }
    if !php::is_array(haystack) {
        return false;
    }
    php::list_items(haystack)
        .iter()
        .any(|item| php::loose_eq(needle, item))
}

/// Twig's `empty` test (note: `'0'` and `0` are *not* empty).
pub(crate) fn is_empty(v: &MV) -> bool {
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => true,
        ValueKind::Bool => !v.is_true(),
        ValueKind::String => v.as_str().is_some_and(str::is_empty),
        ValueKind::Seq | ValueKind::Map | ValueKind::Iterable => v.len() == Some(0),
        _ => false,
    }
}

fn is_list(v: &MV) -> bool {
    matches!(v.kind(), ValueKind::Seq | ValueKind::Iterable)
}

/// Whether a map's keys are 0..n (PHP would call it a list).
fn is_sequential(pairs: &[(MV, MV)]) -> bool {
    pairs
        .iter()
        .enumerate()
        .all(|(i, (k, _))| k.as_i64() == Some(i as i64))
}

fn chars(s: &str) -> Vec<char> {
    s.chars().collect()
}

fn opt(v: &Option<MV>) -> Option<&MV> {
    v.as_ref().filter(|v| !v.is_none() && !v.is_undefined())
}

fn int_arg(v: &Option<MV>, default: i64) -> i64 {
    opt(v)
        .and_then(|v| php::num_of(v).or_else(|| v.as_str().and_then(php::numeric_str)))
        .map_or(default, Num::to_i64)
}

fn str_arg(v: &Option<MV>, default: &str) -> String {
    opt(v).map_or_else(|| default.to_string(), php::to_str)
}

fn number(v: &MV, what: &str) -> Result<Num, Error> {
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => Ok(Num::I(0)),
        ValueKind::Bool => Ok(Num::I(i64::from(v.is_true()))),
        ValueKind::Number => php::num_of(v).ok_or_else(|| invalid("bad number")),
        ValueKind::String => php::numeric_str(v.as_str().unwrap_or_default()).ok_or_else(|| {
            invalid(format!(
                "{what}(): Argument #1 ($num) must be of type int|float, string given"
            ))
        }),
        _ => Err(invalid(format!(
            "{what}(): Argument #1 ($num) must be of type int|float, array given"
        ))),
    }
}

/// PHP's `round()` (half away from zero, with PHP's pre-rounding of the scaled value).
fn php_round(value: f64, places: i64) -> f64 {
    if !value.is_finite() || value == 0.0 {
        return value;
    }
    let places = places.clamp(-308, 308) as i32;
    let f = 10f64.powi(places.abs());
    let scaled = if places >= 0 { value * f } else { value / f };
    // Pre-round to 15 significant digits to undo binary noise (1.955 → 195.5).
    let pre = format!("{:.14e}", scaled).parse::<f64>().unwrap_or(scaled);
    let rounded = pre.round();
    let out = if places >= 0 {
        rounded / f
    } else {
        rounded * f
    };
    if out.is_finite() {
        out
    } else {
        value
    }
}

fn round_filter(v: MV, precision: Option<MV>, method: Option<MV>) -> Result<MV, Error> {
    let x = number(&v, "round")?.to_f64();
    let p = int_arg(&precision, 0);
    let method = str_arg(&method, "common");
    let f = 10f64.powi(p.clamp(-308, 308) as i32);
    let out =
        match method.as_str() {
            "common" => php_round(x, p),
            "ceil" => (x * f).ceil() / f,
            "floor" => (x * f).floor() / f,
            _ => return Err(invalid(
                "the round filter only supports the \"common\", \"ceil\", and \"floor\" methods",
            )),
        };
    Ok(MV::from(out))
}

fn number_format(
    v: MV,
    decimals: Option<MV>,
    dec: Option<MV>,
    sep: Option<MV>,
) -> Result<MV, Error> {
    let x = number(&v, "number_format")?.to_f64();
    let decimals = int_arg(&decimals, 0).clamp(0, 50) as usize;
    let dec = str_arg(&dec, ".");
    let sep = str_arg(&sep, ",");
    let rounded = php_round(x, decimals as i64);
    let text = format!("{:.*}", decimals, rounded.abs());
    let (int_part, frac) = text.split_once('.').unwrap_or((&text, ""));
    let mut grouped = String::new();
    for (i, c) in int_part.chars().enumerate() {
        if i > 0 && (int_part.len() - i) % 3 == 0 {
            grouped.push_str(&sep);
        }
        grouped.push(c);
    }
    let mut out = String::new();
    if rounded < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0') {
        out.push('-');
    }
    out.push_str(&grouped);
    if decimals > 0 {
        out.push_str(&dec);
        out.push_str(frac);
    }
    Ok(MV::from(out))
}

fn length(v: &MV) -> usize {
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => 0,
        ValueKind::String => v.as_str().map_or(0, |s| s.chars().count()),
        ValueKind::Seq | ValueKind::Map | ValueKind::Iterable | ValueKind::Plain => {
            v.len().unwrap_or(0)
        }
        _ => php::to_str(v).chars().count(),
    }
}

fn first_last(v: &MV, last: bool) -> MV {
    if let Some(s) = v.as_str() {
        let c = if last {
            s.chars().last()
        } else {
            s.chars().next()
        };
        return MV::from(c.map(String::from).unwrap_or_default());
    }
    if php::is_array(v) {
        let items = php::list_items(v);
        let item = if last { items.last() } else { items.first() };
        // PHP's `current([])` is false.
        return item.cloned().unwrap_or(MV::from(false));
    }
    MV::UNDEFINED
}

fn join(v: MV, glue: Option<MV>, and: Option<MV>) -> Result<MV, Error> {
    if !php::is_array(&v) {
        return Ok(MV::from(""));
    }
    let glue = str_arg(&glue, "");
    let mut total = 0;
    let mut items: Vec<String> = Vec::new();
    for item in php::list_items(&v) {
        let text = php::to_str(&item);
        total += text.len() + glue.len();
        if total > super::runtime::MAX_STRING {
            return check_string("x".repeat(total));
        }
        items.push(text);
    }
    let mut out = String::new();
    match opt(&and).map(php::to_str) {
        Some(and) if items.len() > 1 => {
            out.push_str(&items[..items.len() - 1].join(&glue));
            out.push_str(&and);
            out.push_str(&items[items.len() - 1]);
        }
        _ => out = items.join(&glue),
    }
    check_string(out)
}

/// PHP's `strtr($s, $map)`: longest keys first, each position replaced once.
fn replace(v: MV, map: MV) -> Result<MV, Error> {
    let s = php::to_str(&v);
    if !php::is_array(&map) {
        return Err(invalid(format!(
            "the \"replace\" filter expects an array or \"Traversable\" as replace values, got \"{}\"",
            php::type_name(&map)
        )));
    }
    let mut pairs: Vec<(String, String)> = php::map_pairs(&map)
        .iter()
        .map(|(k, v)| (php::to_str(k), php::to_str(v)))
        .filter(|(k, _)| !k.is_empty())
        .collect();
    pairs.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
    let mut out = String::new();
    let mut rest = s.as_str();
    'outer: while !rest.is_empty() {
        if out.len() > super::runtime::MAX_STRING {
            return check_string(out);
        }
        for (from, to) in &pairs {
            if let Some(after) = rest.strip_prefix(from.as_str()) {
                out.push_str(to);
                rest = after;
                continue 'outer;
            }
        }
        let c = rest.chars().next().unwrap_or_default();
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    check_string(out)
}

fn url_encode_str(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

fn build_query(v: &MV, prefix: Option<&str>, out: &mut Vec<String>) {
    for (k, val) in php::map_pairs(v) {
        let key = php::to_str(&k);
        let name = match prefix {
            Some(p) => format!("{p}[{key}]"),
            None => key,
        };
        if php::is_array(&val) {
            build_query(&val, Some(&name), out);
        } else if !(val.is_none() || val.is_undefined()) {
            let mut s = String::new();
            url_encode_str(&name, &mut s);
            s.push('=');
            let text = match val.kind() {
                ValueKind::Bool => if val.is_true() { "1" } else { "0" }.to_string(),
                _ => php::to_str(&val),
            };
            url_encode_str(&text, &mut s);
            out.push(s);
        }
    }
}

fn url_encode(v: MV) -> MV {
    let mut out = String::new();
    if php::is_array(&v) {
        let mut parts = Vec::new();
        build_query(&v, None, &mut parts);
        out = parts.join("&");
    } else {
        url_encode_str(&php::to_str(&v), &mut out);
    }
    MV::from(out)
}

/// PHP's `json_encode` without flags (escaped slashes and unicode).
pub(crate) fn json_encode(v: &MV, out: &mut String) {
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if v.is_true() { "true" } else { "false" }),
        ValueKind::Number => match php::num_of(v) {
            Some(Num::I(i)) => out.push_str(&i.to_string()),
            Some(Num::F(f)) => php::format_float_json(f, out),
            None => out.push('0'),
        },
        ValueKind::String => {
            out.push('"');
            for c in v.as_str().unwrap_or_default().chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '/' => out.push_str("\\/"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    '\x08' => out.push_str("\\b"),
                    '\x0c' => out.push_str("\\f"),
                    c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                        let mut buf = [0u16; 2];
                        for unit in c.encode_utf16(&mut buf) {
                            out.push_str(&format!("\\u{unit:04x}"));
                        }
                    }
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        ValueKind::Seq | ValueKind::Iterable | ValueKind::Map => {
            let pairs = php::map_pairs(v);
            if is_sequential(&pairs) {
                out.push('[');
                for (i, (_, item)) in pairs.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    json_encode(item, out);
                }
                out.push(']');
            } else {
                out.push('{');
                for (i, (k, item)) in pairs.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    json_encode(&MV::from(php::to_str(k)), out);
                    out.push(':');
                    json_encode(item, out);
                }
                out.push('}');
            }
        }
        _ => out.push_str("{}"),
    }
}

/// A PHP array built from pairs: a list when the keys are 0..n.
fn array_from_pairs(pairs: Vec<(MV, MV)>) -> MV {
    if is_sequential(&pairs) {
        MV::from(pairs.into_iter().map(|(_, v)| v).collect::<Vec<_>>())
    } else {
        MV::from_iter(pairs.into_iter().collect::<Map>())
    }
}

fn merge(a: MV, b: MV) -> Result<MV, Error> {
    for (v, n) in [(&a, 1), (&b, 2)] {
        if !php::is_array(v) && !v.is_undefined() && !v.is_none() {
            let which = if n == 1 { "first" } else { "second" };
            return Err(invalid(format!(
                "the merge filter only works with arrays or \"Traversable\", got \"{}\" as {which} argument",
                php::type_name(v)
            )));
        }
    }
    // array_merge: integer keys are renumbered, string keys overwrite.
    let mut out: Vec<(MV, MV)> = Vec::new();
    let mut next = 0i64;
    for (k, v) in php::map_pairs(&a).into_iter().chain(php::map_pairs(&b)) {
        if k.is_integer() {
            out.push((MV::from(next), v));
            next += 1;
        } else if let Some(slot) = out.iter_mut().find(|(key, _)| *key == k) {
            slot.1 = v;
        } else {
            out.push((k, v));
        }
    }
    let out = array_from_pairs(out);
    check_size(&out)?;
    Ok(out)
}

fn slice(v: MV, start: MV, len: Option<MV>, preserve: Option<MV>) -> MV {
    let start = php::num_of(&start)
        .or_else(|| start.as_str().and_then(php::numeric_str))
        .map_or(0, Num::to_i64);
    let len = opt(&len).map(|l| int_arg(&Some(l.clone()), 0));
    let window = |n: usize| -> (usize, usize) {
        let n = n as i64;
        let from = if start < 0 {
            (n + start).max(0)
        } else {
            start.min(n)
        };
        let to = match len {
            None => n,
            Some(l) if l < 0 => (n + l).max(from),
            Some(l) => (from + l).min(n),
        };
        (from as usize, to.max(from) as usize)
    };
    if php::is_array(&v) {
        let pairs = php::map_pairs(&v);
        let (from, to) = window(pairs.len());
        let preserve = opt(&preserve).is_some_and(php::truthy);
        let picked: Vec<(MV, MV)> = pairs[from..to].to_vec();
        if preserve || v.kind() == ValueKind::Map {
            let mut next = 0i64;
            let renumbered = picked
                .into_iter()
                .map(|(k, val)| {
                    if k.is_integer() && !preserve {
                        next += 1;
                        (MV::from(next - 1), val)
                    } else {
                        (k, val)
                    }
                })
                .collect();
            return array_from_pairs(renumbered);
        }
        return MV::from(picked.into_iter().map(|(_, v)| v).collect::<Vec<_>>());
    }
    let s = chars(&php::to_str(&v));
    let (from, to) = window(s.len());
    MV::from(s[from..to].iter().collect::<String>())
}

fn sort(v: MV) -> MV {
    if !php::is_array(&v) {
        return v;
    }
    // Twig sorts with asort(): keys stay with their values.
    let mut pairs = php::map_pairs(&v);
    pairs.sort_by(|a, b| php::compare(&a.1, &b.1).unwrap_or(std::cmp::Ordering::Greater));
    array_from_pairs(pairs)
}

fn reverse(v: MV) -> MV {
    if let Some(s) = v.as_str() {
        return MV::from(s.chars().rev().collect::<String>());
    }
    if is_list(&v) {
        let mut items = php::list_items(&v);
        items.reverse();
        return MV::from(items);
    }
    if v.kind() == ValueKind::Map {
        let mut pairs = php::map_pairs(&v);
        pairs.reverse();
        let mut next = 0i64;
        let pairs = pairs
            .into_iter()
            .map(|(k, val)| {
                if k.is_integer() {
                    next += 1;
                    (MV::from(next - 1), val)
                } else {
                    (k, val)
                }
            })
            .collect();
        return array_from_pairs(pairs);
    }
    MV::from(php::to_str(&v).chars().rev().collect::<String>())
}

fn split(v: MV, delim: MV, limit: Option<MV>) -> Result<MV, Error> {
    let s = php::to_str(&v);
    let d = php::to_str(&delim);
    let limit = opt(&limit).map(|l| int_arg(&Some(l.clone()), 0));
    let parts: Vec<String> = if d.is_empty() {
        let size = limit.filter(|l| *l > 0).unwrap_or(1) as usize;
        chars(&s).chunks(size).map(|c| c.iter().collect()).collect()
    } else {
        match limit {
            Some(l) if l > 0 => s.splitn(l as usize, &d).map(String::from).collect(),
            Some(l) if l < 0 => {
                let all: Vec<String> = s.split(&d).map(String::from).collect();
                let keep = (all.len() as i64 + l).max(0) as usize;
                all.into_iter().take(keep).collect()
            }
            _ => s.split(&d).map(String::from).collect(),
        }
    };
    Ok(MV::from(parts))
}

fn trim(v: MV, chars_arg: Option<MV>, side: Option<MV>) -> Result<MV, Error> {
    let s = php::to_str(&v);
    let set: Vec<char> = match opt(&chars_arg) {
        Some(c) => php::to_str(c).chars().collect(),
        None => vec![' ', '\t', '\n', '\r', '\0', '\x0b'],
    };
    let side = str_arg(&side, "both");
    let out = match side.as_str() {
        "both" => s.trim_matches(set.as_slice()),
        "left" => s.trim_start_matches(set.as_slice()),
        "right" => s.trim_end_matches(set.as_slice()),
        _ => {
            return Err(invalid(
                "trimming side must be \"left\", \"right\" or \"both\"",
            ))
        }
    };
    Ok(MV::from(out))
}

fn capitalize(s: &str) -> String {
    let mut cs = s.chars();
    match cs.next() {
        Some(c) => c
            .to_uppercase()
            .chain(cs.as_str().to_lowercase().chars())
            .collect(),
        None => String::new(),
    }
}

fn title(s: &str) -> String {
    let mut out = String::new();
    let mut start = true;
    for c in s.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        start = c.is_whitespace() || c == '-' || c == '(' || c == '[';
    }
    out
}

fn striptags(s: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for c in s.chars() {
        match c {
            '<' => depth += 1,
            '>' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#039;"),
            c => out.push(c),
        }
    }
    out
}

/// PHP's `sprintf` for the common conversions (`%s %d %f %.2f %05d %x %%`).
fn sprintf(fmt: &str, args: &[MV]) -> Result<String, Error> {
    let mut out = String::new();
    let mut it = fmt.chars().peekable();
    let mut next_arg = 0;
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        if it.peek() == Some(&'%') {
            it.next();
            out.push('%');
            continue;
        }
        let mut flags = String::new();
        while let Some(&f) = it.peek() {
            if "-+ 0".contains(f) {
                flags.push(f);
                it.next();
            } else {
                break;
            }
        }
        let mut width = String::new();
        while let Some(&d) = it.peek().filter(|d| d.is_ascii_digit()) {
            width.push(d);
            it.next();
        }
        let mut precision: Option<usize> = None;
        if it.peek() == Some(&'.') {
            it.next();
            let mut p = String::new();
            while let Some(&d) = it.peek().filter(|d| d.is_ascii_digit()) {
                p.push(d);
                it.next();
            }
            precision = Some(p.parse().unwrap_or(0));
        }
        let conv = it
            .next()
            .ok_or_else(|| invalid("missing format specifier at end of string"))?;
        let arg = args.get(next_arg).cloned().ok_or_else(|| {
            invalid(format!(
                "{} arguments are required, {} given",
                next_arg + 2,
                args.len() + 1
            ))
        })?;
        next_arg += 1;
        let num = || {
            php::arith("+", &arg, &MV::from(0))
                .ok()
                .and_then(|v| php::num_of(&v))
                .unwrap_or(Num::I(0))
        };
        let body = match conv {
            's' => {
                let s = php::to_str(&arg);
                match precision {
                    Some(p) => s.chars().take(p).collect(),
                    None => s,
                }
            }
            'd' | 'i' => {
                let n = num().to_i64();
                if flags.contains('+') && n >= 0 {
                    format!("+{n}")
                } else {
                    n.to_string()
                }
            }
            'u' => num().to_i64().to_string(),
            'f' | 'F' => format!(
                "{:.*}",
                precision.unwrap_or(6),
                php_round(num().to_f64(), precision.unwrap_or(6) as i64)
            ),
            'x' => format!("{:x}", num().to_i64()),
            'X' => format!("{:X}", num().to_i64()),
            'o' => format!("{:o}", num().to_i64()),
            'b' => format!("{:b}", num().to_i64()),
            'c' => char::from_u32(num().to_i64() as u32)
                .map(String::from)
                .unwrap_or_default(),
            'e' | 'E' => {
                let s = format!("{:.*e}", precision.unwrap_or(6), num().to_f64());
                let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
                let e: i32 = e.parse().unwrap_or(0);
                let s = format!("{m}e{}{}", if e < 0 { '-' } else { '+' }, e.abs());
                if conv == 'E' {
                    s.to_uppercase()
                } else {
                    s
                }
            }
            other => return Err(invalid(format!("unknown format specifier \"{other}\""))),
        };
        let width: usize = width.parse().unwrap_or(0);
        if width > super::runtime::MAX_STRING {
            return Err(invalid("format width too large"));
        }
        let pad = width.saturating_sub(body.chars().count());
        if flags.contains('-') {
            out.push_str(&body);
            out.extend(std::iter::repeat_n(' ', pad));
        } else if flags.contains('0') && conv != 's' {
            let (sign, digits) = match body.strip_prefix('-') {
                Some(d) => ("-", d),
                None => ("", body.as_str()),
            };
            out.push_str(sign);
            out.extend(std::iter::repeat_n('0', pad));
            out.push_str(digits);
        } else {
            out.extend(std::iter::repeat_n(' ', pad));
            out.push_str(&body);
        }
    }
    Ok(out)
}

fn batch(v: MV, size: MV, fill: Option<MV>) -> Result<MV, Error> {
    let size = php::num_of(&size).map_or(1, |n| n.to_f64().ceil() as i64);
    if size < 1 {
        return Err(invalid("batch size must be greater than 0"));
    }
    if size as usize > MAX_ITEMS {
        return Err(invalid(format!("batch size over {MAX_ITEMS}")));
    }
    let items = php::list_items(&v);
    let mut out = Vec::new();
    for chunk in items.chunks(size as usize) {
        let mut c = chunk.to_vec();
        if let Some(f) = fill.as_ref().filter(|f| !f.is_undefined()) {
            while c.len() < size as usize {
                c.push(f.clone());
            }
        }
        out.push(MV::from(c));
    }
    Ok(MV::from(out))
}

fn min_max(args: Rest<MV>, want_max: bool) -> Result<MV, Error> {
    let items = match args.0.as_slice() {
        [single] if php::is_array(single) => php::list_items(single),
        [single] => {
            return Err(invalid(format!(
                "{}(): Argument #1 ($value) must be of type array, {} given",
                if want_max { "max" } else { "min" },
                php::type_name(single)
            )))
        }
        many => many.to_vec(),
    };
    let mut best: Option<MV> = None;
    for item in items {
        best = Some(match best {
            None => item,
            Some(b) => {
                let ord = php::compare(&item, &b);
                let better = if want_max {
                    ord == Some(std::cmp::Ordering::Greater)
                } else {
                    ord == Some(std::cmp::Ordering::Less)
                };
                if better {
                    item
                } else {
                    b
                }
            }
        });
    }
    best.ok_or_else(|| {
        invalid(format!(
            "{}(): Argument #1 ($value) must contain at least one element",
            if want_max { "max" } else { "min" }
        ))
    })
}

/// `range(low, high, step)` as PHP's `range()` (also the `..` operator).
fn range(low: MV, high: MV, step: Option<MV>) -> Result<MV, Error> {
    let step_num = opt(&step).and_then(php::num_of).unwrap_or(Num::I(1));
    // Single-letter strings give letter ranges.
    if let (Some(a), Some(b)) = (low.as_str(), high.as_str()) {
        if a.chars().count() == 1
            && b.chars().count() == 1
            && php::numeric_str(a).is_none()
            && php::numeric_str(b).is_none()
        {
            let (x, y) = (
                a.bytes().next().unwrap_or(0) as i64,
                b.bytes().next().unwrap_or(0) as i64,
            );
            let step = step_num.to_i64().abs().max(1);
            let mut out = Vec::new();
            let mut c = x;
            while (x <= y && c <= y) || (x > y && c >= y) {
                out.push(MV::from(((c as u8) as char).to_string()));
                c += if x <= y { step } else { -step };
            }
            return Ok(MV::from(out));
        }
    }
    let to_num = |v: &MV| {
        php::num_of(v)
            .or_else(|| v.as_str().and_then(php::numeric_str))
            .unwrap_or(Num::I(0))
    };
    let (a, b) = (to_num(&low), to_num(&high));
    match (a, b, step_num) {
        (Num::I(x), Num::I(y), s) if matches!(s, Num::I(_)) || s.to_f64().fract() == 0.0 => {
            let step = s.to_i64().checked_abs().unwrap_or(1);
            if step == 0 {
                return Err(invalid("range(): Argument #3 ($step) cannot be 0"));
            }
            let span = (y as i128 - x as i128).unsigned_abs() / step as u128 + 1;
            if span > MAX_RANGE as u128 {
                return Err(Error::new(ErrorKind::OutOfFuel, "range too large"));
            }
            Ok(MV::from_object(Range {
                start: x,
                step: if x <= y { step } else { -step },
                len: span as usize,
            }))
        }
        _ => {
            let (x, y, step) = (a.to_f64(), b.to_f64(), step_num.to_f64().abs());
            if step == 0.0 || !step.is_finite() {
                return Err(invalid("range(): Argument #3 ($step) cannot be 0"));
            }
            let n = ((y - x).abs() / step).floor() + 1.0;
            if n > MAX_RANGE as f64 || !n.is_finite() {
                return Err(Error::new(ErrorKind::OutOfFuel, "range too large"));
            }
            let dir = if x <= y { 1.0 } else { -1.0 };
            Ok(MV::from(
                (0..n as usize)
                    .map(|i| MV::from(x + dir * step * i as f64))
                    .collect::<Vec<_>>(),
            ))
        }
    }
}

fn random(state: &State, values: Option<MV>, max: Option<MV>) -> Result<MV, Error> {
    let ctx = scope(state)?;
    let int_of = |v: &MV| php::num_of(v).map_or(0, Num::to_i64);
    let pick = |lo: i64, hi: i64| -> MV {
        let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
        MV::from(with_rng(&ctx.rng, |r| r.random_range(lo..=hi)))
    };
    let values = values.filter(|v| !v.is_none() && !v.is_undefined());
    let max = max.filter(|v| !v.is_none() && !v.is_undefined());
    let Some(values) = values else {
        return Ok(match max {
            None => pick(0, i32::MAX as i64),
            Some(m) => pick(0, int_of(&m)),
        });
    };
    if values.is_number() {
        return Ok(match max {
            None => {
                let v = int_of(&values);
                if v < 0 {
                    pick(v, 0)
                } else {
                    pick(0, v)
                }
            }
            Some(m) => pick(int_of(&values), int_of(&m)),
        });
    }
    if let Some(s) = values.as_str() {
        if s.is_empty() {
            return Ok(MV::from(""));
        }
        let cs = chars(s);
        let i = with_rng(&ctx.rng, |r| r.random_range(0..cs.len()));
        return Ok(MV::from(cs[i].to_string()));
    }
    if !php::is_array(&values) {
        return Ok(values);
    }
    let items = php::list_items(&values);
    if items.is_empty() {
        return Err(invalid(
            "the random function cannot pick from an empty array",
        ));
    }
    let i = with_rng(&ctx.rng, |r| r.random_range(0..items.len()));
    Ok(items[i].clone())
}

fn even_odd(v: &MV) -> i64 {
    php::num_of(v)
        .or_else(|| {
            v.as_str()
                .and_then(|s| php::leading_numeric(s).map(|x| x.0))
        })
        .map_or(0, Num::to_i64)
}

/// Registers every filter, function and test.
pub(crate) fn register(env: &mut Environment<'static>) {
    env.add_function("__f_abs", |v: MV| -> Result<MV, Error> {
        Ok(match number(&v, "abs")? {
            Num::I(i) => i.checked_abs().map_or(MV::from((i as f64).abs()), MV::from),
            Num::F(f) => MV::from(f.abs()),
        })
    });
    env.add_function("__f_batch", batch);
    env.add_function("__f_capitalize", |v: MV| {
        MV::from(capitalize(&php::to_str(&v)))
    });
    env.add_function("__f_column", |v: MV, name: MV| {
        MV::from(
            php::list_items(&v)
                .iter()
                .map(|row| get_attr(row, &name))
                .filter(|x| !x.is_undefined())
                .collect::<Vec<_>>(),
        )
    });
    env.add_function(
        "__f_date",
        |state: &State, v: MV, format: Option<MV>, tz: Option<MV>| {
            let ctx = scope(state)?;
            date::date_filter(&ctx, &v, opt(&format).map(php::to_str).as_deref(), opt(&tz))
        },
    );
    env.add_function("__f_default", |v: MV, d: Option<MV>| {
        if is_empty(&v) {
            d.filter(|d| !d.is_undefined()).unwrap_or(MV::from(""))
        } else {
            v
        }
    });
    for name in ["__f_e", "__f_escape"] {
        env.add_function(name, |v: MV, _strategy: Option<MV>| {
            MV::from(escape_html(&php::to_str(&v)))
        });
    }
    env.add_function("__f_first", |v: MV| first_last(&v, false));
    env.add_function("__f_last", |v: MV| first_last(&v, true));
    env.add_function("__f_format", |v: MV, args: Rest<MV>| {
        sprintf(&php::to_str(&v), &args.0).and_then(check_string)
    });
    env.add_function("__f_join", join);
    env.add_function("__f_json_encode", |v: MV, _flags: Option<MV>| {
        let mut s = String::new();
        json_encode(&v, &mut s);
        MV::from(s)
    });
    env.add_function("__f_keys", |v: MV| {
        MV::from(
            php::map_pairs(&v)
                .into_iter()
                .map(|(k, _)| k)
                .collect::<Vec<_>>(),
        )
    });
    env.add_function("__f_length", |v: MV| length(&v) as i64);
    env.add_function("__f_lower", |v: MV| {
        MV::from(php::to_str(&v).to_lowercase())
    });
    env.add_function("__f_upper", |v: MV| {
        MV::from(php::to_str(&v).to_uppercase())
    });
    env.add_function("__f_title", |v: MV| MV::from(title(&php::to_str(&v))));
    env.add_function("__f_merge", merge);
    env.add_function("__f_nl2br", |v: MV| {
        MV::from(php::to_str(&v).replace('\n', "<br />\n"))
    });
    env.add_function("__f_number_format", number_format);
    env.add_function("__f_raw", |v: MV| v);
    env.add_function("__f_replace", replace);
    env.add_function("__f_reverse", reverse);
    env.add_function("__f_round", round_filter);
    env.add_function("__f_slice", slice);
    env.add_function("__f_sort", sort);
    env.add_function("__f_spaceless", |v: MV| {
        let s = php::to_str(&v);
        let mut out = String::new();
        let mut rest = s.trim();
        while let Some(i) = rest.find('>') {
            out.push_str(&rest[..=i]);
            let after = &rest[i + 1..];
            let trimmed = after.trim_start();
            rest = if trimmed.starts_with('<') {
                trimmed
            } else {
                after
            };
        }
        out.push_str(rest);
        MV::from(out)
    });
    env.add_function("__f_split", split);
    env.add_function("__f_striptags", |v: MV| {
        MV::from(striptags(&php::to_str(&v)))
    });
    env.add_function("__f_trim", trim);
    env.add_function("__f_url_encode", url_encode);

    env.add_function("__fn_random", random);
    env.add_function("__fn_range", range);
    env.add_function("__fn_min", |args: Rest<MV>| min_max(args, false));
    env.add_function("__fn_max", |args: Rest<MV>| min_max(args, true));
    env.add_function(
        "__fn_date",
        |state: &State, v: Option<MV>, tz: Option<MV>| {
            let ctx = scope(state)?;
            date::date_function(&ctx, opt(&v), opt(&tz))
        },
    );
    env.add_function("__fn_cycle", |v: MV, i: MV| {
        let items = php::list_items(&v);
        if items.is_empty() {
            return MV::UNDEFINED;
        }
        let i = php::num_of(&i).map_or(0, Num::to_i64);
        items[i.rem_euclid(items.len() as i64) as usize].clone()
    });
    env.add_function("__fn_attribute", |obj: MV, key: MV| get_attr(&obj, &key));

    env.add_function("__t_defined", |v: MV| !v.is_undefined());
    env.add_function("__t_null", |v: MV| v.is_undefined() || v.is_none());
    env.add_function("__t_empty", |v: MV| is_empty(&v));
    env.add_function("__t_even", |v: MV| even_odd(&v) % 2 == 0);
    env.add_function("__t_odd", |v: MV| even_odd(&v) % 2 != 0);
    env.add_function("__t_iterable", |v: MV| php::is_array(&v));
    env.add_function("__t_divisible_by", |v: MV, n: MV| -> Result<bool, Error> {
        let r = php::arith("%", &v, &n)?;
        Ok(php::num_of(&r) == Some(Num::I(0)))
    });
    env.add_function("__t_same_as", |a: MV, b: MV| php::strict_eq(&a, &b));
    env.add_function("__t_sequence", |v: MV| {
        php::is_array(&v) && is_sequential(&php::map_pairs(&v))
    });
    env.add_function("__t_mapping", |v: MV| {
        php::is_array(&v) && !is_sequential(&php::map_pairs(&v))
    });
    env.add_function("__t_string", |v: MV| v.kind() == ValueKind::String);
    env.add_function("__t_number", |v: MV| v.is_number());
    env.add_function("__t_boolean", |v: MV| v.kind() == ValueKind::Bool);
}
