//! `getUrl` and `http.*` (spec 3.1). The network is reached through the
//! [`Outbound`](super::super::Outbound) trait; this file only builds the
//! request, enforces the timeout and the turn budget, and stores the result.
//!
//! A failed call is not a turn error: it sets `http_status = 0` and
//! `http_error`, so the scenario can branch on it.

use serde_json::Value as Json;

use crate::expr::{Template, Value};
use crate::scenario::{HttpCall, HttpMethod, TemplateValue};

use super::super::turn::{text_value, Turn};
use super::super::{OutboundError, OutboundRequest, OutboundResponse, TurnErrorKind};
use super::{render_value, Flow};

const RESPONSE: &str = "http_response";
const STATUS: &str = "http_status";
const ERROR: &str = "http_error";
const URL_RESPONSE: &str = "urlResponse";

/// `getUrl`: GET; the body goes to `urlResponse`.
pub(crate) async fn get_url(turn: &mut Turn<'_>, url: &Template) -> Result<Flow, TurnErrorKind> {
    clear(turn, &[URL_RESPONSE, RESPONSE, STATUS, ERROR]);
    let url = url.render(&turn.scope())?;
    let result = send(
        turn,
        HttpMethod::Get,
        url.trim().to_string(),
        Vec::new(),
        None,
    )
    .await;
    store(turn, URL_RESPONSE, result);
    Ok(Flow::Continue)
}

/// `http.get`, `http.post`, …: the body goes to `http_response`.
pub(crate) async fn http(turn: &mut Turn<'_>, call: &HttpCall) -> Result<Flow, TurnErrorKind> {
    clear(turn, &[RESPONSE, STATUS, ERROR]);
    let url = call.url.render(&turn.scope())?.trim().to_string();
    let mut headers = Vec::with_capacity(call.headers.len() + 1);
    for (name, value) in &call.headers {
        let value = value.render(&turn.scope())?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let body = match &call.payload {
        Some(payload) => Some(body(turn, payload)?),
        None => None,
    };
    if body.is_some()
        && !headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("Content-Type".to_string(), "application/json".to_string()));
    }
    let result = send(turn, call.method, url, headers, body).await;
    store(turn, RESPONSE, result);
    Ok(Flow::Continue)
}

/// A payload as the request body: a string template as rendered, a map or list as JSON.
fn body(turn: &Turn<'_>, payload: &TemplateValue) -> Result<String, TurnErrorKind> {
    Ok(match render_value(turn, payload)? {
        Json::String(text) => text,
        other => other.to_string(),
    })
}

/// Sends within the per-call timeout and what is left of the turn's budget.
async fn send(
    turn: &Turn<'_>,
    method: HttpMethod,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
) -> Result<OutboundResponse, OutboundError> {
    let config = &turn.engine.config;
    let left = config.turn_budget.saturating_sub(turn.started.elapsed());
    if left.is_zero() {
        return Err(OutboundError::Other(format!(
            "the turn's HTTP budget of {:?} is used up",
            config.turn_budget
        )));
    }
    let timeout = config.http_timeout.min(left);
    let req = OutboundRequest {
        method,
        url,
        headers,
        body,
        timeout,
        body_cap: config.body_cap,
    };
    // The engine enforces the timeout itself, whatever the `Outbound` does.
    match tokio::time::timeout(timeout, turn.engine.outbound.send(req)).await {
        Ok(result) => result,
        Err(_) => Err(OutboundError::Timeout),
    }
}

/// Removes the result variables so a failed call never shows an old answer.
fn clear(turn: &mut Turn<'_>, names: &[&str]) {
    for name in names {
        turn.vars.remove(name);
    }
}

/// Stores a call's result: the body (JSON when it parses, else text) and the
/// status, or status 0 and the error.
fn store(turn: &mut Turn<'_>, body_var: &str, result: Result<OutboundResponse, OutboundError>) {
    match result {
        Ok(res) => {
            let body = serde_json::from_str::<Json>(&res.body)
                .map(Value::from)
                .unwrap_or_else(|_| text_value(res.body));
            turn.vars.set(body_var, body);
            turn.vars.set(STATUS, Value::from(Json::from(res.status)));
        }
        Err(err) => {
            turn.vars.set(STATUS, Value::from(Json::from(0)));
            turn.vars.set(ERROR, text_value(err.to_string()));
        }
    }
}
