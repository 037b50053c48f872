//! `sendCard`: the last card of a turn wins (spec 3).

use crate::expr::Template;
use crate::scenario::Card;

use super::super::turn::Turn;
use super::super::{CardOutput, TurnErrorKind};
use super::Flow;

/// `sendCard`: `account_link` makes a LinkAccount card, `image` a picture
/// card, anything else a text card.
pub(crate) fn send_card(turn: &mut Turn<'_>, card: &Card) -> Result<Flow, TurnErrorKind> {
    let render = |t: &Option<Template>| -> Result<String, TurnErrorKind> {
        match t {
            Some(t) => Ok(t.render(&turn.scope())?.trim().to_string()),
            None => Ok(String::new()),
        }
    };
    let title = render(&card.title)?;
    let text = render(&card.text)?;
    let output = if card.account_link.is_some() {
        CardOutput::LinkAccount { title, text }
    } else if card.image.is_some() {
        CardOutput::Standard {
            title,
            text,
            image: render(&card.image)?,
        }
    } else {
        CardOutput::Simple { title, text }
    };
    turn.card = Some(output);
    Ok(Flow::Continue)
}
