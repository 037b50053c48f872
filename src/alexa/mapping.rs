//! Converts between Alexa envelopes and the engine's platform-neutral turn
//! types (language spec §2.2 routing inputs, §8 Alexa mapping).
//!
//! In: [`to_turn`] turns a [`RequestEnvelope`] (plus its raw JSON) into an
//! [`AlexaTurn`]. Out: [`respond`] turns the engine's [`TurnOutput`] into a
//! [`ResponseEnvelope`], enforcing Alexa's size limits as typed
//! [`ResponseError`]s (never a silent truncation). A `CanFulfillIntentRequest`
//! never reaches the engine: [`can_fulfill`] answers it from the scenario.
//!
//! This module never logs: tokens are in its inputs, and the caller decides
//! what to log.

use std::fmt;

use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use serde_json::{json, Map, Value as Json};

use super::envelope::{
    CanFulfillIntent, CanFulfillSlot, Card, CardImage, OutputSpeech, Reprompt, RequestBody,
    RequestEnvelope, Response, ResponseEnvelope,
};
use crate::engine::{CardOutput, Request, SlotInput, TurnInput, TurnOutput};
use crate::expr::Input;
use crate::scenario::{Next, Scenario, SlotKind};

/// Alexa's limit on `outputSpeech` (and reprompt) text, in characters.
pub const MAX_SPEECH_CHARS: usize = 8000;
/// Alexa's limit on a whole response, in bytes.
pub const MAX_RESPONSE_BYTES: usize = 24 * 1024;

/// Why a request cannot become a turn.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// Neither `session.user.userId` nor `context.System.user.userId`: variables
    /// could not be keyed.
    #[error("request carries no user id (session.user.userId or context.System.user.userId)")]
    MissingUserId,
    /// Neither `context.System.application` nor `session.application`.
    #[error("request carries no application id")]
    MissingApplicationId,
}

/// Why a turn's output cannot be sent to Alexa (a turn error: log it with
/// the scenario and step, answer the apology).
#[derive(Debug, thiserror::Error)]
pub enum ResponseError {
    /// `outputSpeech` over [`MAX_SPEECH_CHARS`].
    #[error("speech is {chars} characters, over Alexa's limit of {limit}")]
    SpeechTooLong { chars: usize, limit: usize },
    /// The reprompt over [`MAX_SPEECH_CHARS`].
    #[error("reprompt is {chars} characters, over Alexa's limit of {limit}")]
    RepromptTooLong { chars: usize, limit: usize },
    /// The serialized response over [`MAX_RESPONSE_BYTES`].
    #[error("response is {bytes} bytes, over Alexa's limit of {limit}")]
    ResponseTooLarge { bytes: usize, limit: usize },
    /// Serialization failed (cannot happen with these types; kept typed anyway).
    #[error("cannot serialize the response: {0}")]
    Json(#[from] serde_json::Error),
}

/// A `CanFulfillIntentRequest`'s question: may this skill handle the intent?
#[derive(Debug, Clone, PartialEq)]
pub struct CanFulfillQuery {
    /// The intent name.
    pub intent: String,
    /// The slots Alexa filled.
    pub slots: Vec<SlotInput>,
}

/// One Alexa request, ready for the engine.
#[derive(Clone)]
pub struct AlexaTurn {
    /// The engine's input (request, waiting step, `bottalk_input`, secrets).
    pub input: TurnInput,
    /// The store key (with the scenario): `session.user.userId`, else the context's.
    pub user_id: String,
    /// The skill id, for the allow-list.
    pub application_id: String,
    /// `request.type`, e.g. `IntentRequest`.
    pub request_type: String,
    pub request_id: Option<String>,
    pub timestamp: Option<DateTime<Utc>>,
    pub locale: Option<String>,
    /// `session.new` (false when there is no session).
    pub new_session: bool,
    /// `Some` for a `CanFulfillIntentRequest`: answer with [`can_fulfill`] and
    /// do not run the engine. `input.request` then holds the same intent.
    pub can_fulfill: Option<CanFulfillQuery>,
}

// Debug by hand: `input` holds the raw envelope and the access tokens.
impl fmt::Debug for AlexaTurn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlexaTurn")
            .field("request", &self.input.request)
            .field("waiting", &self.input.waiting)
            .field(
                "secrets",
                &format_args!("[{} hidden]", self.input.secrets.len()),
            )
            .field("user_id", &self.user_id)
            .field("application_id", &self.application_id)
            .field("request_type", &self.request_type)
            .field("request_id", &self.request_id)
            .field("timestamp", &self.timestamp)
            .field("locale", &self.locale)
            .field("new_session", &self.new_session)
            .field("can_fulfill", &self.can_fulfill)
            .finish()
    }
}

impl AlexaTurn {
    /// Whether the answer is [`ResponseEnvelope::empty`] whatever the engine says
    /// (a `SessionEndedRequest`: Alexa ignores speech there).
    pub fn is_session_end(&self) -> bool {
        matches!(self.input.request, Request::SessionEnd)
    }
}

/// Maps a parsed envelope (and its raw JSON, which becomes `bottalk_input`) to a turn.
///
/// ```
/// use steptalk::alexa::{envelope::parse_request, mapping::to_turn};
/// let body = br#"{"version":"1.0",
///   "session":{"new":false,"application":{"applicationId":"amzn1.ask.skill.x"},
///              "attributes":{"steptalk":{"step":"Ask"}},"user":{"userId":"u1"}},
///   "request":{"type":"IntentRequest","intent":{"name":"YesIntent"}}}"#;
/// let (env, raw) = parse_request(body).unwrap();
/// let turn = to_turn(&env, raw).unwrap();
/// assert_eq!(turn.input.waiting.as_deref(), Some("Ask"));
/// assert_eq!(turn.user_id, "u1");
/// ```
pub fn to_turn(env: &RequestEnvelope, raw: Json) -> Result<AlexaTurn, MappingError> {
    let user_id = env.user_id().ok_or(MappingError::MissingUserId)?;
    let application_id = env
        .application_id()
        .ok_or(MappingError::MissingApplicationId)?;
    let req = &env.request;

    let mut can_fulfill_query = None;
    let request = match &req.body {
        RequestBody::Launch(_) => Request::Launch,
        RequestBody::Intent(intent) => Request::Intent {
            name: intent.intent.name.clone(),
            slots: slots(&intent.intent.slots),
        },
        RequestBody::CanFulfillIntent(intent) => {
            let query = CanFulfillQuery {
                intent: intent.intent.name.clone(),
                slots: slots(&intent.intent.slots),
            };
            let request = Request::Intent {
                name: query.intent.clone(),
                slots: query.slots.clone(),
            };
            can_fulfill_query = Some(query);
            request
        }
        RequestBody::SessionEnded(_) => Request::SessionEnd,
        _ => Request::Event {
            name: req.kind.clone(),
        },
    };

    let waiting = env
        .session
        .as_ref()
        .and_then(|s| s.attributes.get("steptalk"))
        .and_then(|st| st.get("step"))
        .and_then(Json::as_str)
        .map(str::to_string);

    Ok(AlexaTurn {
        input: TurnInput {
            request,
            waiting,
            secrets: secrets(env),
            raw: Input::from(raw),
        },
        user_id: user_id.to_string(),
        application_id: application_id.to_string(),
        request_type: req.kind.clone(),
        request_id: req.request_id.clone(),
        timestamp: req.timestamp.map(|t| t.0),
        locale: req.locale.clone(),
        new_session: env.session.as_ref().is_some_and(|s| s.new),
        can_fulfill: can_fulfill_query,
    })
}

/// Slots in the order Alexa sent them; the canonical value when entity
/// resolution matched.
fn slots(slots: &IndexMap<String, super::envelope::Slot>) -> Vec<SlotInput> {
    slots
        .iter()
        .map(|(key, slot)| SlotInput {
            name: slot.name.clone().unwrap_or_else(|| key.clone()),
            value: slot.value.clone(),
            resolved: slot.resolved().map(str::to_string),
        })
        .collect()
}

/// Every credential in the request: the engine keeps string variables equal
/// to one of these out of the store.
fn secrets(env: &RequestEnvelope) -> Vec<String> {
    let session_user = env.session.as_ref().and_then(|s| s.user.as_ref());
    let system = env.system();
    let candidates = [
        session_user.and_then(|u| u.access_token.as_deref()),
        system
            .and_then(|s| s.user.as_ref())
            .and_then(|u| u.access_token.as_deref()),
        system.and_then(|s| s.api_access_token.as_deref()),
        system
            .and_then(|s| s.person.as_ref())
            .and_then(|p| p.access_token.as_deref()),
        // `AlexaSkillEvent.SkillAccountLinked` carries the fresh token in its body.
        match &env.request.body {
            RequestBody::SkillEvent(ev) => ev
                .body
                .as_ref()
                .and_then(|b| b.get("accessToken"))
                .and_then(Json::as_str),
            _ => None,
        },
    ];
    let mut out: Vec<String> = Vec::new();
    for token in candidates.into_iter().flatten() {
        if !token.is_empty() && !out.iter().any(|t| t == token) {
            out.push(token.to_string());
        }
    }
    out
}

/// The response for `turn` given the engine's `output`.
///
/// A `SessionEndedRequest`, and a platform event that produced nothing to say
/// (no speech, no card: spec §2.2, AudioPlayer events must carry no speech),
/// get [`ResponseEnvelope::empty`]; everything else goes through [`to_response`].
pub fn respond(turn: &AlexaTurn, output: &TurnOutput) -> Result<ResponseEnvelope, ResponseError> {
    if answers_empty(turn, output) {
        Ok(ResponseEnvelope::empty())
    } else {
        to_response(output)
    }
}

/// Like [`respond`], but returns the JSON bytes (serialized once, the size
/// check done on them): what the server sends.
pub fn respond_body(turn: &AlexaTurn, output: &TurnOutput) -> Result<Vec<u8>, ResponseError> {
    if answers_empty(turn, output) {
        Ok(serde_json::to_vec(&ResponseEnvelope::empty())?)
    } else {
        to_response_body(output)
    }
}

/// Whether `turn` gets [`ResponseEnvelope::empty`] (see [`respond`]).
fn answers_empty(turn: &AlexaTurn, output: &TurnOutput) -> bool {
    let silent = output.speech.trim().is_empty() && output.card.is_none();
    match turn.input.request {
        Request::SessionEnd => true,
        Request::Event { .. } => silent && output.waiting.is_none(),
        _ => false,
    }
}

/// Maps a turn's output to Alexa JSON (spec §8), checking Alexa's limits.
///
/// - speech → SSML `<speak>…</speak>` ([`to_ssml`]); empty speech → no `outputSpeech`;
/// - reprompt → `reprompt.outputSpeech`, only while the session stays open;
/// - `shouldEndSession` = `end_session`;
/// - the waiting step → `sessionAttributes.steptalk.step`.
///
/// ```
/// use steptalk::engine::TurnOutput;
/// let out = TurnOutput { speech: "Fish & chips?".into(), waiting: Some("Order".into()),
///                        ..TurnOutput::default() };
/// let res = steptalk::alexa::mapping::to_response(&out).unwrap();
/// let json = serde_json::to_value(&res).unwrap();
/// assert_eq!(json["response"]["outputSpeech"]["ssml"], "<speak>Fish &amp; chips?</speak>");
/// assert_eq!(json["sessionAttributes"]["steptalk"]["step"], "Order");
/// ```
pub fn to_response(output: &TurnOutput) -> Result<ResponseEnvelope, ResponseError> {
    let envelope = build_response(output)?;
    let bytes = serde_json::to_vec(&envelope)?.len();
    if bytes > MAX_RESPONSE_BYTES {
        return Err(ResponseError::ResponseTooLarge {
            bytes,
            limit: MAX_RESPONSE_BYTES,
        });
    }
    Ok(envelope)
}

/// Like [`to_response`], but returns the JSON bytes (serialized once).
pub fn to_response_body(output: &TurnOutput) -> Result<Vec<u8>, ResponseError> {
    let body = serde_json::to_vec(&build_response(output)?)?;
    if body.len() > MAX_RESPONSE_BYTES {
        return Err(ResponseError::ResponseTooLarge {
            bytes: body.len(),
            limit: MAX_RESPONSE_BYTES,
        });
    }
    Ok(body)
}

/// Everything in [`to_response`] but the total-size check.
fn build_response(output: &TurnOutput) -> Result<ResponseEnvelope, ResponseError> {
    let output_speech = if output.speech.trim().is_empty() {
        None
    } else {
        let ssml = to_ssml(&output.speech);
        let chars = ssml.chars().count();
        if chars > MAX_SPEECH_CHARS {
            return Err(ResponseError::SpeechTooLong {
                chars,
                limit: MAX_SPEECH_CHARS,
            });
        }
        Some(OutputSpeech::ssml(ssml))
    };

    // A reply that ends the session carries no reprompt (spec §2.3).
    let reprompt = match &output.reprompt {
        Some(text) if !output.end_session && !text.trim().is_empty() => {
            let ssml = to_ssml(text);
            let chars = ssml.chars().count();
            if chars > MAX_SPEECH_CHARS {
                return Err(ResponseError::RepromptTooLong {
                    chars,
                    limit: MAX_SPEECH_CHARS,
                });
            }
            Some(Reprompt {
                output_speech: OutputSpeech::ssml(ssml),
            })
        }
        _ => None,
    };

    let card = output.card.as_ref().map(|card| match card {
        CardOutput::Simple { title, text } => Card::Simple {
            title: title.clone(),
            content: text.clone(),
        },
        CardOutput::Standard { title, text, image } => Card::Standard {
            title: title.clone(),
            text: text.clone(),
            // One URL from the author serves both sizes.
            image: Some(CardImage {
                small_image_url: Some(image.clone()),
                large_image_url: Some(image.clone()),
            }),
        },
        // Alexa's LinkAccount card has no title or text of its own.
        CardOutput::LinkAccount { .. } => Card::LinkAccount,
    });

    let session_attributes = output.waiting.as_ref().map(|step| {
        let mut attrs = Map::new();
        attrs.insert("steptalk".to_string(), json!({ "step": step }));
        attrs
    });

    Ok(ResponseEnvelope {
        version: "1.0".to_string(),
        session_attributes,
        response: Response {
            output_speech,
            card,
            reprompt,
            directives: Vec::new(),
            should_end_session: Some(output.end_session),
            can_fulfill_intent: None,
        },
    })
}

/// Wraps text in `<speak>…</speak>` (spec §8).
///
/// An `&` that does not start a character reference becomes `&amp;`; a `<`
/// not followed by a letter, `/` or `!` becomes `&lt;`; the author's SSML tags
/// are kept, and the author's own `<speak>`/`</speak>` are removed first.
///
/// ```
/// use steptalk::alexa::mapping::to_ssml;
/// assert_eq!(to_ssml("<speak>1 < 2 &amp; <break time=\"1s\"/> R&D</speak>"),
///            "<speak>1 &lt; 2 &amp; <break time=\"1s\"/> R&amp;D</speak>");
/// ```
pub fn to_ssml(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    out.push_str("<speak>");
    let mut rest = text;
    while let Some(pos) = rest.find(['&', '<']) {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if let Some(after) = tail.strip_prefix('&') {
            if char_reference_len(tail).is_some() {
                out.push('&');
            } else {
                out.push_str("&amp;");
            }
            rest = after;
        } else if let Some(len) = speak_tag_len(tail) {
            rest = &tail[len..];
        } else {
            match tail[1..].chars().next() {
                Some(c) if c.is_ascii_alphabetic() || c == '/' || c == '!' => out.push('<'),
                _ => out.push_str("&lt;"),
            }
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out.push_str("</speak>");
    out
}

/// The length of a character reference at the start of `s` (`&amp;`,
/// `&#38;`, `&#x26;`), if there is one.
fn char_reference_len(s: &str) -> Option<usize> {
    let body = s.strip_prefix('&')?;
    let (prefix_len, is_digit): (usize, fn(char) -> bool) =
        if body.starts_with("#x") || body.starts_with("#X") {
            (2, |c| c.is_ascii_hexdigit())
        } else if body.starts_with('#') {
            (1, |c| c.is_ascii_digit())
        } else if body.starts_with(|c: char| c.is_ascii_alphabetic()) {
            (0, |c| c.is_ascii_alphanumeric())
        } else {
            return None;
        };
    let digits = &body[prefix_len..];
    // Everything matched so far is ASCII, so byte and char counts agree.
    let n = digits.find(|c: char| !is_digit(c)).unwrap_or(digits.len());
    (n > 0 && digits[n..].starts_with(';')).then_some(1 + prefix_len + n + 1)
}

/// The length of a `<speak>`, `<speak …>` or `</speak>` tag at the start of `s`.
fn speak_tag_len(s: &str) -> Option<usize> {
    let after = s
        .strip_prefix("</speak")
        .or_else(|| s.strip_prefix("<speak"))?;
    // `<speaker>` is not a speak tag.
    match after.chars().next() {
        Some('>') => Some(s.len() - after.len() + 1),
        Some(c) if c.is_whitespace() || c == '/' => {
            let close = after.find('>')?;
            Some(s.len() - after.len() + close + 1)
        }
        _ => None,
    }
}

/// Whether `intent` routes in a fresh session (spec §2.2 rule 2): some step's
/// `next` map sends it to a step with `entrypoint: true`.
pub fn routes_from_fresh_session(scenario: &Scenario, intent: &str) -> bool {
    scenario.entry_points.contains_key(intent)
        || scenario.steps.iter().any(|step| match &step.next {
            Next::Map(map) => map
                .intents
                .get(intent)
                .is_some_and(|target| scenario.step(*target).entrypoint),
            _ => false,
        })
}

/// The answer to a `CanFulfillIntentRequest`.
///
/// `YES` when the intent routes from a fresh session
/// ([`routes_from_fresh_session`]), else `NO` (steptalk would just launch).
/// Per slot: `canUnderstand` is `YES` for a declared built-in slot or a custom
/// value the scenario lists (case-insensitive), `MAYBE` for another value of a
/// declared custom slot, `NO` for an undeclared slot; `canFulfill` follows the intent.
pub fn can_fulfill(scenario: &Scenario, query: &CanFulfillQuery) -> ResponseEnvelope {
    let yes_no = |b: bool| if b { "YES" } else { "NO" }.to_string();
    let intent_ok = routes_from_fresh_session(scenario, &query.intent);
    let slots = query
        .slots
        .iter()
        .map(|slot| {
            let understand = match scenario.slots.get(&slot.name).map(|s| &s.kind) {
                None => "NO",
                Some(SlotKind::Builtin(_)) => "YES",
                Some(SlotKind::Custom(values)) => {
                    let spoken = slot.resolved.as_deref().or(slot.value.as_deref());
                    match spoken {
                        Some(v) if values.iter().any(|d| d.eq_ignore_ascii_case(v)) => "YES",
                        _ => "MAYBE",
                    }
                }
            };
            let answer = CanFulfillSlot {
                can_understand: understand.to_string(),
                can_fulfill: yes_no(intent_ok && understand != "NO"),
            };
            (slot.name.clone(), answer)
        })
        .collect();
    ResponseEnvelope {
        version: "1.0".to_string(),
        session_attributes: None,
        response: Response {
            can_fulfill_intent: Some(CanFulfillIntent {
                can_fulfill: yes_no(intent_ok),
                slots,
            }),
            ..Response::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::to_ssml;

    #[test]
    fn ssml_escaping() {
        let table = [
            ("", "<speak></speak>"),
            ("plain", "<speak>plain</speak>"),
            ("a & b", "<speak>a &amp; b</speak>"),
            (
                "&amp; &lt; &#38; &#x26; &#X26;",
                "<speak>&amp; &lt; &#38; &#x26; &#X26;</speak>",
            ),
            (
                "&; &#; &#x; &1a; &amp",
                "<speak>&amp;; &amp;#; &amp;#x; &amp;1a; &amp;amp</speak>",
            ),
            ("1 < 2", "<speak>1 &lt; 2</speak>"),
            ("<3 <=", "<speak>&lt;3 &lt;=</speak>"),
            ("a<b", "<speak>a<b</speak>"),
            (
                "<break/> </p> <!-- c -->",
                "<speak><break/> </p> <!-- c --></speak>",
            ),
            ("<speak>x</speak>", "<speak>x</speak>"),
            ("<speak version=\"1.1\">x</speak >", "<speak>x</speak>"),
            ("<speaker> <speak", "<speak><speaker> <speak</speak>"),
            ("trailing <", "<speak>trailing &lt;</speak>"),
            ("trailing &", "<speak>trailing &amp;</speak>"),
            ("Pokémon & café", "<speak>Pokémon &amp; café</speak>"),
        ];
        for (input, expected) in table {
            assert_eq!(to_ssml(input), expected, "{input:?}");
        }
    }
}
