//! The minijinja environment steptalk renders with, and the root context.
//!
//! The environment is built once ([`base_env`]) and holds only `__`-prefixed
//! functions: operators with PHP semantics (`php.rs`), attribute access, the
//! Twig filters, functions and tests (`filters.rs`). It has no minijinja
//! builtins, so no Jinja filter or global can leak into a Twig template.
//!
//! The root context ([`Ctx`]) looks variables up lazily: rendering does not
//! convert the user's variables, it hands minijinja an object that answers
//! `get_value(name)` from [`Vars`] (values are already minijinja values).

use std::fmt;
use std::sync::{Arc, LazyLock, Mutex};

use minijinja::value::{Enumerator, Object, Rest, Value as MV, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State};

use super::filters;
use super::php::{self, invalid};
use super::{Input, Rng, Vars};

/// Instructions a single render or evaluation may execute: generous for
/// real templates (a few hundred), small enough to stop a runaway loop in
/// well under a millisecond.
pub(crate) const FUEL: u64 = 100_000;

/// What `__scope` gives the functions that need the turn (random, date).
pub(crate) struct Ctx {
    pub vars: Vars,
    pub input: Input,
    pub rng: Rng,
    pub now: chrono::DateTime<chrono::Utc>,
    pub timezone: chrono_tz::Tz,
}

impl fmt::Debug for Ctx {
    // Never print the user's variables (they may hold personal data).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<steptalk scope>")
    }
}

impl Object for Ctx {
    fn get_value(self: &Arc<Self>, key: &MV) -> Option<MV> {
        let name = key.as_str()?;
        match name {
            "bottalk_input" => Some(self.input.value().clone()),
            "__scope" => Some(MV::from_dyn_object(self.clone())),
            _ => self.vars.get(name).map(|v| v.0.clone()),
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::NonEnumerable
    }
}

/// The turn's scope, as seen from a function.
pub(crate) fn scope(state: &State) -> Result<Arc<Ctx>, Error> {
    state
        .lookup("__scope")
        .and_then(|v| v.downcast_object::<Ctx>())
        .ok_or_else(|| invalid("no evaluation scope"))
}

/// Locks the random generator (a poisoned lock still holds a usable generator).
pub(crate) fn with_rng<T>(rng: &Rng, f: impl FnOnce(&mut rand_chacha::ChaCha8Rng) -> T) -> T {
    let mut guard = rng.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut guard)
}

/// The namespace holding `{% set %}` variables of one render (see `emit.rs`).
#[derive(Debug, Default)]
struct Namespace(Mutex<indexmap::IndexMap<String, MV>>);

impl Object for Namespace {
    fn get_value(self: &Arc<Self>, key: &MV) -> Option<MV> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(key.as_str()?).cloned()
    }
}

/// A lazy integer range (`range(1, 1000000)` must not allocate a million values).
#[derive(Debug)]
pub(crate) struct Range {
    pub start: i64,
    pub step: i64,
    pub len: usize,
}

/// Ranges longer than this stop the evaluation as out of fuel: a loop over
/// them would run out of fuel anyway, and a filter over them would not.
pub(crate) const MAX_RANGE: usize = 100_000;

/// Fuel counts instructions, not memory: `{% set s = s ~ s %}` in a loop
/// doubles a string each step. Values that can feed back into themselves
/// (`{% set %}`) and the operations that grow strings or lists are capped,
/// as PHP's `memory_limit` caps Twig.
pub(crate) const MAX_STRING: usize = 1 << 20;

/// The most items (counted through nested lists and maps) a `{% set %}` value
/// or a list built by a filter may hold.
pub(crate) const MAX_ITEMS: usize = 100_000;

/// Fails when `s` is longer than [`MAX_STRING`].
pub(crate) fn check_string(s: String) -> Result<MV, Error> {
    if s.len() > MAX_STRING {
        return Err(invalid(format!(
            "a string grew over {} bytes (a runaway template?)",
            MAX_STRING
        )));
    }
    Ok(MV::from(s))
}

/// Fails when `v` (walked through nested lists and maps, shared parts counted
/// each time) is larger than [`MAX_ITEMS`] items or holds an over-long string.
pub(crate) fn check_size(v: &MV) -> Result<(), Error> {
    fn walk(v: &MV, budget: &mut usize) -> bool {
        if *budget == 0 {
            return false;
        }
        *budget -= 1;
        if let Some(s) = v.as_str() {
            return s.len() <= MAX_STRING;
        }
        match v.kind() {
            ValueKind::Seq | ValueKind::Map => {
                if v.len().unwrap_or(0) > *budget {
                    return false;
                }
                php::map_pairs(v).iter().all(|(_, item)| walk(item, budget))
            }
            _ => true,
        }
    }
    let mut budget = MAX_ITEMS;
    if walk(v, &mut budget) {
        Ok(())
    } else {
        Err(invalid(format!(
            "a value grew over {MAX_ITEMS} items or {MAX_STRING} bytes (a runaway template?)"
        )))
    }
}

impl Object for Range {
    fn repr(self: &Arc<Self>) -> minijinja::value::ObjectRepr {
        minijinja::value::ObjectRepr::Seq
    }
    fn get_value(self: &Arc<Self>, key: &MV) -> Option<MV> {
        let idx = key.as_usize()?;
        if idx >= self.len {
            return None;
        }
        Some(MV::from(self.start + self.step * idx as i64))
    }
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.len)
    }
}

fn fmt_err(_: fmt::Error) -> Error {
    Error::new(ErrorKind::WriteFailure, "could not write output")
}

/// The shared environment (templates clone it; expressions borrow it).
pub(crate) static ENV: LazyLock<Environment<'static>> = LazyLock::new(base_env);

fn base_env() -> Environment<'static> {
    let mut env = Environment::empty();
    env.set_debug(false);
    env.set_fuel(Some(FUEL));
    env.set_keep_trailing_newline(true);
    env.set_recursion_limit(100);
    // `undefined.x` is undefined, as in Twig (emit.rs relies on it for `a.b`).
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
    env.set_formatter(|out, _state, value| match value.as_str() {
        Some(s) => out.write_str(s).map_err(fmt_err),
        None => {
            let mut s = String::new();
            php::write_str(value, &mut s);
            out.write_str(&s).map_err(fmt_err)
        }
    });

    // Truthiness and control helpers.
    env.add_function("__b", |v: MV| php::truthy(&v));
    env.add_function(
        "__elvis",
        |v: MV| {
            if php::truthy(&v) {
                v
            } else {
                MV::from(false)
            }
        },
    );
    env.add_function("__some", |v: MV| {
        if v.is_undefined() || v.is_none() {
            MV::from(false)
        } else {
            MV::from(vec![v])
        }
    });
    env.add_function("__str", |v: MV| MV::from(php::to_str(&v)));
    env.add_function("__float", |s: String| {
        s.parse::<f64>()
            .map(MV::from)
            .map_err(|_| invalid(format!("bad number {s}")))
    });
    env.add_function("__namespace", || MV::from_object(Namespace::default()));
    env.add_function("__setns", |ns: MV, name: String, value: MV| {
        check_size(&value)?;
        if let Some(ns) = ns.downcast_object_ref::<Namespace>() {
            ns.0.lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(name, value);
        }
        Ok::<MV, Error>(MV::UNDEFINED)
    });
    env.add_function("__lv", |state: &State, ns: MV, name: String| {
        if let Some(v) = ns.downcast_object_ref::<Namespace>().and_then(|ns| {
            ns.0.lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&name)
                .cloned()
        }) {
            return v;
        }
        state.lookup(&name).unwrap_or(MV::UNDEFINED)
    });
    env.add_function("__var", |state: &State, name: String| {
        state.lookup(&name).unwrap_or(MV::UNDEFINED)
    });
    env.add_function("__context", |state: &State| -> Result<MV, Error> {
        let ctx = scope(state)?;
        let mut map: indexmap::IndexMap<MV, MV> = ctx
            .vars
            .iter()
            .map(|(k, v)| (MV::from(k), v.0.clone()))
            .collect();
        map.insert(MV::from("bottalk_input"), ctx.input.value().clone());
        Ok(MV::from_iter(map))
    });
    env.add_function("__iter", |v: MV| match v.kind() {
        ValueKind::Seq | ValueKind::Iterable => v,
        ValueKind::Map => MV::from(php::list_items(&v)),
        _ => MV::from(Vec::<MV>::new()),
    });
    env.add_function("__items", |v: MV| {
        if php::is_array(&v) {
            MV::from_iter(
                php::map_pairs(&v)
                    .into_iter()
                    .map(|(k, v)| MV::from(vec![k, v])),
            )
        } else {
            MV::from(Vec::<MV>::new())
        }
    });
    env.add_function("__hash", |args: Rest<MV>| {
        let mut map: indexmap::IndexMap<MV, MV> = indexmap::IndexMap::new();
        for pair in args.0.chunks(2) {
            if let [k, v] = pair {
                map.insert(filters::array_key(k), v.clone());
            }
        }
        MV::from_iter(map)
    });
    env.add_function("__get", |obj: MV, key: MV| filters::get_attr(&obj, &key));

    // Operators.
    for op in ["+", "-", "*", "/", "%", "**", "//"] {
        let name = match op {
            "+" => "__add",
            "-" => "__sub",
            "*" => "__mul",
            "/" => "__div",
            "%" => "__mod",
            "**" => "__pow",
            _ => "__floordiv",
        };
        env.add_function(name, move |a: MV, b: MV| php::arith(op, &a, &b));
    }
    env.add_function("__neg", |v: MV| match php::num_of(&v) {
        Some(php::Num::I(i)) if i != i64::MIN => Ok(MV::from(-i)),
        Some(php::Num::F(f)) => Ok(MV::from(-f)),
        _ => php::arith("*", &v, &MV::from(-1)),
    });
    env.add_function("__pos", |v: MV| {
        if v.is_number() {
            Ok(v)
        } else {
            php::arith("*", &v, &MV::from(1))
        }
    });
    env.add_function("__cat", |args: Rest<MV>| {
        let mut s = String::new();
        for a in &args.0 {
            php::write_str(a, &mut s);
            if s.len() > MAX_STRING {
                break;
            }
        }
        check_string(s)
    });
    env.add_function("__eq", |a: MV, b: MV| php::loose_eq(&a, &b));
    env.add_function("__ne", |a: MV, b: MV| !php::loose_eq(&a, &b));
    env.add_function("__lt", |a: MV, b: MV| {
        php::compare(&a, &b) == Some(std::cmp::Ordering::Less)
    });
    env.add_function("__le", |a: MV, b: MV| {
        matches!(
            php::compare(&a, &b),
            Some(std::cmp::Ordering::Less | std::cmp::Ordering::Equal)
        )
    });
    env.add_function("__gt", |a: MV, b: MV| {
        php::compare(&b, &a) == Some(std::cmp::Ordering::Less)
    });
    env.add_function("__ge", |a: MV, b: MV| {
        matches!(
            php::compare(&b, &a),
            Some(std::cmp::Ordering::Less | std::cmp::Ordering::Equal)
        )
    });
    env.add_function("__cmp", |a: MV, b: MV| match php::compare(&a, &b) {
        Some(std::cmp::Ordering::Less) => -1,
        Some(std::cmp::Ordering::Equal) => 0,
        _ => 1,
    });
    env.add_function("__xor", |a: MV, b: MV| php::truthy(&a) != php::truthy(&b));
    env.add_function("__band", |a: MV, b: MV| bitwise(&a, &b, |x, y| x & y));
    env.add_function("__bor", |a: MV, b: MV| bitwise(&a, &b, |x, y| x | y));
    env.add_function("__bxor", |a: MV, b: MV| bitwise(&a, &b, |x, y| x ^ y));
    env.add_function("__in", |a: MV, b: MV| filters::contains(&b, &a));
    env.add_function("__notin", |a: MV, b: MV| !filters::contains(&b, &a));
    env.add_function(
        "__startswith",
        |a: MV, b: MV| matches!((a.as_str(), b.as_str()), (Some(x), Some(y)) if x.starts_with(y)),
    );
    env.add_function(
        "__endswith",
        |a: MV, b: MV| matches!((a.as_str(), b.as_str()), (Some(x), Some(y)) if x.ends_with(y)),
    );
    env.add_function("__matches", |_a: MV, _b: MV| -> Result<bool, Error> {
        Err(invalid("the \"matches\" operator is not supported"))
    });

    filters::register(&mut env);
    env
}

fn bitwise(a: &MV, b: &MV, f: fn(i64, i64) -> i64) -> Result<MV, Error> {
    let x = php::arith("+", a, &MV::from(0))?;
    let y = php::arith("+", b, &MV::from(0))?;
    let x = php::num_of(&x).map_or(0, |n| n.to_i64());
    let y = php::num_of(&y).map_or(0, |n| n.to_i64());
    Ok(MV::from(f(x, y)))
}
