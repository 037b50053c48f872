//! The actions of a step (spec 3), one file per family; [`run`] dispatches.
//!
//! An action returns a [`Flow`] telling the enter-loop what to do next, or a
//! [`TurnErrorKind`] that [`super::turn`] wraps with the step and the action.

mod card;
mod context;
mod http;
mod send_text;
mod set;

use serde_json::Value as Json;

use crate::scenario::{ActionKind, HttpMethod, TemplateValue};

use super::turn::Turn;
use super::TurnErrorKind;

/// What the enter-loop does after an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Run the next action.
    Continue,
    /// A `compareContext` ran with this result.
    Compared(bool),
    /// `getInput`: the step waits; its remaining actions never run.
    Wait,
}

/// Runs one action.
pub(crate) async fn run(
    turn: &mut Turn<'_>,
    action: &crate::scenario::Action,
) -> Result<Flow, TurnErrorKind> {
    match &action.kind {
        ActionKind::SendText(template) => send_text::send_text(turn, template),
        ActionKind::Reprompt(template) => send_text::reprompt(turn, template),
        ActionKind::GetInput => Ok(Flow::Wait),
        ActionKind::SendCard(card) => card::send_card(turn, card),
        ActionKind::Set { name, value } => set::set(turn, name, value),
        ActionKind::SetContext { from, to } => context::set_context(turn, from, to),
        ActionKind::CompareContext { var, is_equal } => {
            context::compare_context(turn, var, is_equal)
        }
        ActionKind::GetUrl { url } => http::get_url(turn, url).await,
        ActionKind::Http(call) => http::http(turn, call).await,
        ActionKind::Plugin { name } => Err(TurnErrorKind::PluginUnavailable(name.clone())),
    }
}

/// The action's name as an author writes it.
pub(crate) fn name(kind: &ActionKind) -> &str {
    match kind {
        ActionKind::SendText(_) => "sendText",
        ActionKind::Reprompt(_) => "reprompt",
        ActionKind::GetInput => "getInput",
        ActionKind::SendCard(_) => "sendCard",
        ActionKind::Set { .. } => "set",
        ActionKind::SetContext { .. } => "setContext",
        ActionKind::CompareContext { .. } => "compareContext",
        ActionKind::GetUrl { .. } => "getUrl",
        ActionKind::Http(call) => match call.method {
            HttpMethod::Get => "http.get",
            HttpMethod::Post => "http.post",
            HttpMethod::Put => "http.put",
            HttpMethod::Patch => "http.patch",
            HttpMethod::Delete => "http.delete",
        },
        ActionKind::Plugin { name } => name,
    }
}

/// Renders a YAML value whose strings are templates into JSON.
pub(crate) fn render_value(turn: &Turn<'_>, value: &TemplateValue) -> Result<Json, TurnErrorKind> {
    Ok(match value {
        TemplateValue::Template(t) => Json::String(t.render(&turn.scope())?),
        TemplateValue::Scalar(v) => v.clone(),
        TemplateValue::List(items) => Json::Array(
            items
                .iter()
                .map(|item| render_value(turn, item))
                .collect::<Result<_, _>>()?,
        ),
        TemplateValue::Map(map) => Json::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), render_value(turn, v)?)))
                .collect::<Result<_, TurnErrorKind>>()?,
        ),
    })
}
