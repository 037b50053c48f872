//! The Alexa-like request envelope a test turn hands the scenario as
//! `bottalk_input` (spec section 7).
//!
//! It is plain JSON built here, shaped like what Alexa sends, so scenarios that
//! read `bottalk_input.session.user.accessToken` or
//! `bottalk_input.request.intent.slots` behave in tests as in production. This
//! module must not depend on `alexa/`: the test runner drives the engine
//! directly and only needs the JSON to look right.

use serde_json::{json, Map, Value};

use crate::engine::{Request, SlotInput};

/// Everything about the turn that the envelope carries.
pub struct EnvelopeParts<'a> {
    /// The scenario folder's name, for the application id.
    pub scenario_id: &'a str,
    /// `scenario.locale`.
    pub locale: &'a str,
    /// `test-<test name>`.
    pub user_id: &'a str,
    /// `access_token:` of the turn: the account is linked.
    pub access_token: Option<&'a str>,
    /// Whether this turn opens a session.
    pub new_session: bool,
    /// Counts sessions within the test, for a stable `sessionId`.
    pub session_no: u32,
    /// Counts turns within the test, for a stable `requestId`.
    pub turn_no: u32,
    /// The waiting step carried in `sessionAttributes`.
    pub waiting: Option<&'a str>,
    /// What the turn sends.
    pub request: &'a Request,
    /// The request's timestamp.
    pub now: chrono::DateTime<chrono::Utc>,
}

/// Builds the envelope.
pub fn build(parts: &EnvelopeParts<'_>) -> Value {
    let application = json!({ "applicationId": format!("steptalk.test.{}", parts.scenario_id) });
    let mut user = Map::new();
    user.insert("userId".into(), json!(parts.user_id));
    if let Some(token) = parts.access_token {
        user.insert("accessToken".into(), json!(token));
    }
    let mut attributes = Map::new();
    if let Some(step) = parts.waiting {
        attributes.insert("steptalk".into(), json!({ "step": step }));
    }
    let request_id = format!("steptalk.test.request.{}", parts.turn_no);
    let timestamp = parts.now.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let request = match parts.request {
        Request::Launch => json!({
            "type": "LaunchRequest",
            "requestId": request_id,
            "timestamp": timestamp,
            "locale": parts.locale,
        }),
        Request::Intent { name, slots } => json!({
            "type": "IntentRequest",
            "requestId": request_id,
            "timestamp": timestamp,
            "locale": parts.locale,
            "dialogState": "COMPLETED",
            "intent": {
                "name": name,
                "confirmationStatus": "NONE",
                "slots": slots_json(slots),
            },
        }),
        Request::SessionEnd => json!({
            "type": "SessionEndedRequest",
            "requestId": request_id,
            "timestamp": timestamp,
            "locale": parts.locale,
            "reason": "USER_INITIATED",
        }),
        Request::Event { name } => json!({
            "type": name,
            "requestId": request_id,
            "timestamp": timestamp,
            "locale": parts.locale,
        }),
    };
    json!({
        "version": "1.0",
        "session": {
            "new": parts.new_session,
            "sessionId": format!("steptalk.test.session.{}", parts.session_no),
            "application": application,
            "attributes": attributes,
            "user": user,
        },
        "context": {
            "System": {
                "application": application,
                "user": user,
                "device": {
                    "deviceId": "steptalk.test.device",
                    "supportedInterfaces": {},
                },
                "apiEndpoint": "https://api.amazonalexa.com",
            },
        },
        "request": request,
    })
}

/// Slots as Alexa writes them: a map by name, with entity resolution for a
/// value that matched a custom type.
fn slots_json(slots: &[SlotInput]) -> Value {
    let mut map = Map::new();
    for slot in slots {
        let mut entry = Map::new();
        entry.insert("name".into(), json!(slot.name));
        if let Some(value) = &slot.value {
            entry.insert("value".into(), json!(value));
        }
        entry.insert("confirmationStatus".into(), json!("NONE"));
        if let Some(resolved) = &slot.resolved {
            entry.insert(
                "resolutions".into(),
                json!({ "resolutionsPerAuthority": [{
                    "authority": format!("steptalk.test.{}", slot.name),
                    "status": { "code": "ER_SUCCESS_MATCH" },
                    "values": [{ "value": { "name": resolved, "id": resolved } }],
                }] }),
            );
        }
        map.insert(slot.name.clone(), Value::Object(entry));
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linked_intent_envelope() {
        let request = Request::Intent {
            name: "flavour_choice".into(),
            slots: vec![SlotInput {
                name: "flavour".into(),
                value: Some("Vanilla".into()),
                resolved: Some("vanilla".into()),
            }],
        };
        let envelope = build(&EnvelopeParts {
            scenario_id: "ice-cream",
            locale: "en-US",
            user_id: "test-Happy Path",
            access_token: Some("Atza|token"),
            new_session: false,
            session_no: 1,
            turn_no: 2,
            waiting: Some("Choose"),
            request: &request,
            now: chrono::DateTime::from_timestamp(1_552_384_800, 0).unwrap(),
        });
        insta::assert_json_snapshot!(envelope);
    }
}
