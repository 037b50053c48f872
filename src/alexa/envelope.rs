//! Serde types for Alexa's request and response envelopes (protocol notes §1–§2).
//!
//! The request side is **tolerant**: unknown fields are ignored, almost every
//! part is optional (an explicit `null` counts as absent), unknown
//! `request.type` values parse as [`RequestBody::Other`], and `timestamp`
//! may be an ISO-8601 string or epoch milliseconds (the 2017 service simulator
//! sent numbers). The response side is strict and minimal: it writes only what
//! steptalk produces, but it also reads Alexa's sample responses (tests use
//! that to check the field names).
//!
//! Start at [`parse_request`]: it parses the body once into a
//! `serde_json::Value` (kept as `bottalk_input`) and reads the typed envelope
//! from that value.

use chrono::{DateTime, TimeZone, Utc};
use indexmap::IndexMap;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// Reads `null` as the type's default, so `"attributes": null` is an empty map.
fn nullable<'de, D, T>(de: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(de)?.unwrap_or_default())
}

/// Why a request body is not an Alexa request envelope.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// Not JSON at all.
    #[error("request body is not JSON: {0}")]
    Json(#[source] serde_json::Error),
    /// JSON, but the envelope shape is wrong (the message names the field).
    #[error("not an Alexa request envelope: {0}")]
    Envelope(#[source] serde_json::Error),
    /// A bare `request` object was sent instead of the whole envelope.
    #[error(
        "not an Alexa request envelope: missing field `request` (the body looks like a bare \
         `request` object of type `{0}`; Alexa sends {{version, session, context, request}})"
    )]
    BareRequest(String),
}

/// Parses a request body: the typed envelope plus the raw JSON (`bottalk_input`).
///
/// The body is parsed once; the typed envelope is read from the JSON value.
///
/// ```
/// let body = br#"{"version":"1.0","request":{"type":"LaunchRequest","timestamp":"2019-07-15T22:44:23Z"}}"#;
/// let (env, raw) = steptalk::alexa::envelope::parse_request(body).unwrap();
/// assert_eq!(env.request.kind, "LaunchRequest");
/// assert_eq!(raw["version"], "1.0");
/// ```
pub fn parse_request(body: &[u8]) -> Result<(RequestEnvelope, Value), ParseError> {
    let raw: Value = serde_json::from_slice(body).map_err(ParseError::Json)?;
    let envelope = RequestEnvelope::from_value(&raw)?;
    Ok((envelope, raw))
}

/// A request envelope: what Alexa POSTs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestEnvelope {
    /// `"1.0"`.
    #[serde(default)]
    pub version: Option<String>,
    /// Absent for out-of-session requests (AudioPlayer, skill events, …).
    #[serde(default)]
    pub session: Option<Session>,
    /// Always sent by Alexa; old hand-written samples omit it or send `null`.
    #[serde(default)]
    pub context: Option<Context>,
    /// The request proper.
    pub request: Request,
}

impl RequestEnvelope {
    /// Reads the envelope from already-parsed JSON (no copy of the input).
    pub fn from_value(raw: &Value) -> Result<RequestEnvelope, ParseError> {
        RequestEnvelope::deserialize(raw).map_err(|err| {
            // A bare request object (sample 22) deserves a message that says so.
            match raw.as_object() {
                Some(obj) if !obj.contains_key("request") => match obj.get("type") {
                    Some(Value::String(ty)) => ParseError::BareRequest(ty.clone()),
                    _ => ParseError::Envelope(err),
                },
                _ => ParseError::Envelope(err),
            }
        })
    }

    /// The user id: `session.user.userId`, else `context.System.user.userId`.
    pub fn user_id(&self) -> Option<&str> {
        let from_session = self.session.as_ref().and_then(|s| s.user.as_ref());
        let from_context = self.system().and_then(|s| s.user.as_ref());
        from_session
            .and_then(|u| u.user_id.as_deref())
            .or_else(|| from_context.and_then(|u| u.user_id.as_deref()))
    }

    /// The skill id: `context.System.application.applicationId`, else the session's.
    pub fn application_id(&self) -> Option<&str> {
        let from_context = self.system().and_then(|s| s.application.as_ref());
        let from_session = self.session.as_ref().and_then(|s| s.application.as_ref());
        from_context
            .and_then(|a| a.application_id.as_deref())
            .or_else(|| from_session.and_then(|a| a.application_id.as_deref()))
    }

    /// `context.System`, when present.
    pub fn system(&self) -> Option<&SystemState> {
        self.context.as_ref().and_then(|c| c.system.as_ref())
    }
}

/// `session`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    /// Whether this request opened the session.
    #[serde(default, deserialize_with = "nullable")]
    pub new: bool,
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub application: Option<Application>,
    /// The `sessionAttributes` returned last turn (empty when `new`).
    #[serde(default, deserialize_with = "nullable")]
    pub attributes: Map<String, Value>,
    #[serde(default)]
    pub user: Option<User>,
}

/// `application`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    #[serde(default)]
    pub application_id: Option<String>,
}

/// `session.user` and `context.System.user`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    #[serde(default)]
    pub user_id: Option<String>,
    /// Present only once the user linked the account (a credential: never log it).
    #[serde(default)]
    pub access_token: Option<String>,
    #[serde(default)]
    pub permissions: Option<Permissions>,
}

/// `user.permissions`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Permissions {
    /// Deprecated by Amazon, still sent.
    #[serde(default)]
    pub consent_token: Option<String>,
    /// Scope name → `{status: GRANTED|DENIED}`.
    #[serde(default, deserialize_with = "nullable")]
    pub scopes: IndexMap<String, Value>,
}

/// `context`: the device's state. Only the parts steptalk reads are typed.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Context {
    #[serde(rename = "System", default)]
    pub system: Option<SystemState>,
    #[serde(rename = "AudioPlayer", default)]
    pub audio_player: Option<AudioPlayerState>,
    #[serde(rename = "Display", default)]
    pub display: Option<TokenState>,
    #[serde(rename = "Alexa.Presentation.APL", default)]
    pub apl: Option<Value>,
    #[serde(rename = "Viewport", default)]
    pub viewport: Option<Value>,
    #[serde(rename = "Geolocation", default)]
    pub geolocation: Option<Value>,
}

/// `context.System`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SystemState {
    #[serde(default)]
    pub application: Option<Application>,
    #[serde(default)]
    pub user: Option<User>,
    #[serde(default)]
    pub device: Option<Device>,
    #[serde(default)]
    pub person: Option<Person>,
    /// e.g. `https://api.amazonalexa.com`.
    #[serde(default)]
    pub api_endpoint: Option<String>,
    /// A short-lived JWT for Alexa's own APIs (a credential: never log it).
    #[serde(default)]
    pub api_access_token: Option<String>,
}

/// `context.System.device`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    #[serde(default)]
    pub device_id: Option<String>,
    #[serde(default)]
    pub persistent_endpoint_id: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub supported_interfaces: Map<String, Value>,
}

/// `context.System.person` (a recognised speaker).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Person {
    #[serde(default)]
    pub person_id: Option<String>,
    #[serde(default)]
    pub access_token: Option<String>,
}

/// `context.AudioPlayer`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AudioPlayerState {
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub offset_in_milliseconds: Option<i64>,
    /// `PLAYING`, `PAUSED`, `FINISHED`, `BUFFER_UNDERRUN`, `IDLE`, `STOPPED`.
    #[serde(default)]
    pub player_activity: Option<String>,
}

/// A state object that only carries a `token` (`context.Display`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct TokenState {
    #[serde(default)]
    pub token: Option<String>,
}

/// A request timestamp: ISO-8601 text, or epoch milliseconds as a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub DateTime<Utc>);

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match Value::deserialize(de)? {
            Value::String(text) => DateTime::parse_from_rfc3339(&text)
                .map(|t| Timestamp(t.with_timezone(&Utc)))
                .map_err(|e| D::Error::custom(format!("invalid timestamp `{text}`: {e}"))),
            Value::Number(n) => n
                .as_i64()
                .or_else(|| n.as_f64().map(|f| f as i64))
                .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
                .map(Timestamp)
                .ok_or_else(|| D::Error::custom(format!("invalid epoch-ms timestamp {n}"))),
            other => Err(D::Error::custom(format!(
                "invalid timestamp {other}: expected an ISO-8601 string or epoch milliseconds"
            ))),
        }
    }
}

/// `request`: the fields every request type has, plus the typed rest.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// `request.type`, e.g. `IntentRequest`, `AudioPlayer.PlaybackStarted`.
    pub kind: String,
    pub request_id: Option<String>,
    pub timestamp: Option<Timestamp>,
    pub locale: Option<String>,
    /// The fields specific to `kind`.
    pub body: RequestBody,
}

/// The part of a request specific to its type.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestBody {
    /// `LaunchRequest`.
    Launch(LaunchRequest),
    /// `IntentRequest`.
    Intent(IntentRequest),
    /// `SessionEndedRequest`.
    SessionEnded(SessionEndedRequest),
    /// `CanFulfillIntentRequest`.
    CanFulfillIntent(IntentRequest),
    /// `AudioPlayer.*`.
    AudioPlayer(AudioPlayerEvent),
    /// `PlaybackController.*` (no fields of its own).
    PlaybackController,
    /// `System.ExceptionEncountered`.
    ExceptionEncountered(ExceptionEncountered),
    /// `Display.ElementSelected`.
    ElementSelected(TokenState),
    /// `Connections.Response`.
    ConnectionsResponse(ConnectionsResponse),
    /// `AlexaSkillEvent.*`.
    SkillEvent(SkillEvent),
    /// `Alexa.Presentation.APL.UserEvent`.
    AplUserEvent(AplUserEvent),
    /// Any other type: its fields stay in the raw JSON.
    Other,
}

impl<'de> Deserialize<'de> for Request {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        use serde::de::Error;

        /// The fields common to every request type.
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Common {
            #[serde(rename = "type")]
            kind: String,
            #[serde(default)]
            request_id: Option<String>,
            #[serde(default)]
            timestamp: Option<Timestamp>,
            #[serde(default)]
            locale: Option<String>,
        }

        // Internally tagged serde enums cannot keep unknown types with their
        // data, so the object is read once as JSON and then dispatched by hand.
        let value = Value::deserialize(de)?;
        let common = Common::deserialize(&value).map_err(D::Error::custom)?;
        fn typed<'a, T: Deserialize<'a>>(value: &'a Value, kind: &str) -> Result<T, String> {
            T::deserialize(value).map_err(|e| format!("in request of type `{kind}`: {e}"))
        }
        let kind = common.kind.as_str();
        let body = match kind {
            "LaunchRequest" => typed(&value, kind).map(RequestBody::Launch),
            "IntentRequest" => typed(&value, kind).map(RequestBody::Intent),
            "SessionEndedRequest" => typed(&value, kind).map(RequestBody::SessionEnded),
            "CanFulfillIntentRequest" => typed(&value, kind).map(RequestBody::CanFulfillIntent),
            "System.ExceptionEncountered" => {
                typed(&value, kind).map(RequestBody::ExceptionEncountered)
            }
            "Display.ElementSelected" => typed(&value, kind).map(RequestBody::ElementSelected),
            "Connections.Response" => typed(&value, kind).map(RequestBody::ConnectionsResponse),
            "Alexa.Presentation.APL.UserEvent" => {
                typed(&value, kind).map(RequestBody::AplUserEvent)
            }
            _ if kind.starts_with("AudioPlayer.") => {
                typed(&value, kind).map(RequestBody::AudioPlayer)
            }
            _ if kind.starts_with("PlaybackController.") => Ok(RequestBody::PlaybackController),
            _ if kind.starts_with("AlexaSkillEvent.") => {
                typed(&value, kind).map(RequestBody::SkillEvent)
            }
            _ => Ok(RequestBody::Other),
        }
        .map_err(D::Error::custom)?;
        Ok(Request {
            kind: common.kind,
            request_id: common.request_id,
            timestamp: common.timestamp,
            locale: common.locale,
            body,
        })
    }
}

/// `LaunchRequest`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LaunchRequest {
    /// A skill-connection task (`{name, version, input}`).
    #[serde(default)]
    pub task: Option<Value>,
    #[serde(default)]
    pub should_link_result_be_returned: Option<bool>,
}

/// `IntentRequest` and `CanFulfillIntentRequest`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IntentRequest {
    /// `STARTED`, `IN_PROGRESS`, `COMPLETED`: only with a dialog model.
    #[serde(default)]
    pub dialog_state: Option<String>,
    pub intent: Intent,
}

/// `request.intent`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Intent {
    pub name: String,
    /// `NONE`, `DENIED`, `CONFIRMED`.
    #[serde(default)]
    pub confirmation_status: Option<String>,
    /// Slot name → slot, in the order Alexa sent them.
    #[serde(default, deserialize_with = "nullable")]
    pub slots: IndexMap<String, Slot>,
}

/// One slot of an intent. It can come with no `value`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Slot {
    /// Usually equal to the map key.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub confirmation_status: Option<String>,
    /// e.g. `USER`.
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub resolutions: Option<Resolutions>,
    /// The newer structured form (`{type: Simple|List, …}`).
    #[serde(default)]
    pub slot_value: Option<Value>,
}

impl Slot {
    /// The canonical value of the first authority with `ER_SUCCESS_MATCH`.
    pub fn resolved(&self) -> Option<&str> {
        let resolutions = self.resolutions.as_ref()?;
        resolutions
            .resolutions_per_authority
            .iter()
            .filter(|r| {
                r.status.as_ref().and_then(|s| s.code.as_deref()) == Some("ER_SUCCESS_MATCH")
            })
            .flat_map(|r| r.values.iter())
            .find_map(|v| v.value.name.as_deref())
    }
}

/// `slot.resolutions`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resolutions {
    #[serde(default, deserialize_with = "nullable")]
    pub resolutions_per_authority: Vec<Resolution>,
}

/// The entity-resolution result of one authority.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Resolution {
    #[serde(default)]
    pub authority: Option<String>,
    #[serde(default)]
    pub status: Option<ResolutionStatus>,
    #[serde(default, deserialize_with = "nullable")]
    pub values: Vec<ResolutionValueWrapper>,
}

/// `status` of a [`Resolution`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ResolutionStatus {
    /// `ER_SUCCESS_MATCH`, `ER_SUCCESS_NO_MATCH`, `ER_ERROR_TIMEOUT`, …
    #[serde(default)]
    pub code: Option<String>,
}

/// `{ "value": {name, id} }`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ResolutionValueWrapper {
    #[serde(default)]
    pub value: ResolutionValue,
}

/// A canonical slot value.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ResolutionValue {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
}

/// `SessionEndedRequest`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct SessionEndedRequest {
    /// `USER_INITIATED`, `ERROR`, `EXCEEDED_MAX_REPROMPTS`.
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub error: Option<ErrorInfo>,
}

/// An `error` object (`{type, message}`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ErrorInfo {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

/// `AudioPlayer.*` events.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AudioPlayerEvent {
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub offset_in_milliseconds: Option<i64>,
    /// `PlaybackFailed` only.
    #[serde(default)]
    pub error: Option<ErrorInfo>,
    /// `PlaybackFailed` only.
    #[serde(default)]
    pub current_playback_state: Option<AudioPlayerState>,
}

/// `System.ExceptionEncountered`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExceptionEncountered {
    #[serde(default)]
    pub error: Option<ErrorInfo>,
    #[serde(default)]
    pub cause: Option<ExceptionCause>,
}

/// `cause` of an exception: the request whose response was invalid.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExceptionCause {
    #[serde(default)]
    pub request_id: Option<String>,
}

/// `Connections.Response` (purchase or permission results).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ConnectionsResponse {
    #[serde(default)]
    pub name: Option<String>,
    /// `{code, message}`; `code` is text in samples, a number in some docs.
    #[serde(default)]
    pub status: Option<Value>,
    #[serde(default)]
    pub payload: Option<Value>,
    #[serde(default)]
    pub token: Option<String>,
}

/// `AlexaSkillEvent.*`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkillEvent {
    #[serde(default)]
    pub event_creation_time: Option<String>,
    #[serde(default)]
    pub event_publishing_time: Option<String>,
    /// e.g. `{accessToken}` for `SkillAccountLinked`.
    #[serde(default)]
    pub body: Option<Value>,
}

/// `Alexa.Presentation.APL.UserEvent`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct AplUserEvent {
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub arguments: Vec<Value>,
    #[serde(default)]
    pub source: Option<Value>,
    #[serde(default)]
    pub components: Option<Value>,
}

// ---------------------------------------------------------------------------
// Response side.

/// What steptalk answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseEnvelope {
    /// Always `"1.0"`.
    pub version: String,
    /// Echoed back by Alexa next turn as `session.attributes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_attributes: Option<Map<String, Value>>,
    pub response: Response,
}

impl ResponseEnvelope {
    /// `{"version":"1.0","response":{}}`: the answer that says nothing.
    pub fn empty() -> ResponseEnvelope {
        ResponseEnvelope {
            version: "1.0".to_string(),
            session_attributes: None,
            response: Response::default(),
        }
    }
}

/// `response`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_speech: Option<OutputSpeech>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<Card>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reprompt: Option<Reprompt>,
    /// Directives, passed through as JSON (steptalk emits none yet).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub directives: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub should_end_session: Option<bool>,
    /// The answer to a `CanFulfillIntentRequest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_fulfill_intent: Option<CanFulfillIntent>,
}

/// `outputSpeech`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum OutputSpeech {
    /// Plain text.
    PlainText {
        text: String,
        #[serde(
            rename = "playBehavior",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        play_behavior: Option<String>,
    },
    /// SSML wrapped in `<speak>…</speak>` (what steptalk always sends).
    #[serde(rename = "SSML")]
    Ssml {
        ssml: String,
        #[serde(
            rename = "playBehavior",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        play_behavior: Option<String>,
    },
}

impl OutputSpeech {
    /// SSML speech without a play behaviour.
    pub fn ssml(ssml: String) -> OutputSpeech {
        OutputSpeech::Ssml {
            ssml,
            play_behavior: None,
        }
    }
}

/// `reprompt`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reprompt {
    pub output_speech: OutputSpeech,
}

/// `card`. Note the field names: `Simple` has `content`, `Standard` has `text`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Card {
    /// A text card.
    Simple {
        #[serde(default)]
        title: String,
        #[serde(default)]
        content: String,
    },
    /// A picture card.
    Standard {
        #[serde(default)]
        title: String,
        #[serde(default)]
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        image: Option<CardImage>,
    },
    /// Asks the user to link the account in the Alexa app.
    LinkAccount,
    /// Asks the user to grant permissions.
    AskForPermissionsConsent {
        #[serde(default)]
        permissions: Vec<String>,
    },
}

/// `card.image` of a Standard card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardImage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub small_image_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub large_image_url: Option<String>,
}

/// `response.canFulfillIntent`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CanFulfillIntent {
    /// `YES`, `NO` or `MAYBE`.
    pub can_fulfill: String,
    /// Slot name → the answer for that slot.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub slots: IndexMap<String, CanFulfillSlot>,
}

/// One slot of a [`CanFulfillIntent`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CanFulfillSlot {
    /// `YES`, `NO` or `MAYBE`.
    pub can_understand: String,
    /// `YES` or `NO`.
    pub can_fulfill: String,
}
