//! `set: 'name = expression'`: evaluate and store, JSON types kept.

use crate::expr::Expr;

use super::super::turn::Turn;
use super::super::TurnErrorKind;
use super::Flow;

/// `set`: storing null keeps the variable defined (spec 3).
pub(crate) fn set(turn: &mut Turn<'_>, name: &str, value: &Expr) -> Result<Flow, TurnErrorKind> {
    let value = value.eval(&turn.scope())?;
    turn.vars.set(name, value);
    Ok(Flow::Continue)
}
