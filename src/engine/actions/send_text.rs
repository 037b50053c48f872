//! `sendText` (append to the speech) and `reprompt` (set the reprompt).

use crate::expr::Template;

use super::super::turn::Turn;
use super::super::TurnErrorKind;
use super::Flow;

/// `sendText`: the rendered text joins the speech (trimmed; empty text is dropped).
pub(crate) fn send_text(turn: &mut Turn<'_>, template: &Template) -> Result<Flow, TurnErrorKind> {
    let text = template.render(&turn.scope())?;
    turn.say(&text);
    Ok(Flow::Continue)
}

/// `reprompt`: the last one of the turn is the reply's reprompt.
pub(crate) fn reprompt(turn: &mut Turn<'_>, template: &Template) -> Result<Flow, TurnErrorKind> {
    let text = template.render(&turn.scope())?;
    let text = text.trim();
    // An empty reprompt clears an earlier one rather than making Alexa say nothing.
    turn.reprompt = Some(text.to_string()).filter(|t| !t.is_empty());
    Ok(Flow::Continue)
}
