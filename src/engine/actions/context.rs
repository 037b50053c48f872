//! `setContext` (store a rendered value) and `compareContext` (PHP's loose
//! `==` between a rendered string and a scalar; the result picks `next`).

use serde_json::Value as Json;

use crate::expr::{php_loose_eq, Template, Value};
use crate::scenario::TemplateValue;

use super::super::turn::Turn;
use super::super::TurnErrorKind;
use super::{render_value, Flow};

/// `setContext`: a string `from` is rendered; a non-string scalar is stored as is.
pub(crate) fn set_context(
    turn: &mut Turn<'_>,
    from: &TemplateValue,
    to: &str,
) -> Result<Flow, TurnErrorKind> {
    let value = render_value(turn, from)?;
    turn.vars.set(to, Value::from(value));
    Ok(Flow::Continue)
}

/// `compareContext`: the step's last comparison decides `next['true'/'false']`.
pub(crate) fn compare_context(
    turn: &mut Turn<'_>,
    var: &Template,
    is_equal: &Json,
) -> Result<Flow, TurnErrorKind> {
    let rendered = var.render(&turn.scope())?;
    Ok(Flow::Compared(php_loose_eq(&rendered, is_equal)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn loose_comparison_table() {
        let cases = [
            ("", json!(false), true),
            ("0", json!(false), true),
            ("no", json!(false), false),
            ("false", json!(true), true),
            ("10", json!(10), true),
            ("10.0", json!(10), true),
            (" 10 ", json!(10), true),
            ("ten", json!(10), false),
            ("2.5", json!(2.5), true),
            (" yes ", json!("yes"), true),
            ("Yes", json!("yes"), false),
            ("", json!(null), true),
            ("x", json!(null), false),
        ];
        for (v, other, expected) in cases {
            assert_eq!(php_loose_eq(v, &other), expected, "{v:?} == {other}");
        }
    }
}
