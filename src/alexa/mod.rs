//! The Alexa adapter: envelope types (serde), the mapping to and from the
//! engine's [`TurnInput`](crate::engine::TurnInput) / [`TurnOutput`](crate::engine::TurnOutput),
//! and request verification.
//!
//! **Invariant:** only this module knows Alexa JSON.
//!
//! OWNER: alexa helper. Planned public API (the server codes against it):
//! - `envelope::RequestEnvelope` (tolerant serde types), `envelope::ResponseEnvelope`;
//! - `mapping::to_turn_input(&RequestEnvelope) -> Result<AlexaTurn, MappingError>`
//!   (`AlexaTurn` = the engine input plus user id, application id, request kind);
//! - `mapping::to_response(&TurnOutput) -> ResponseEnvelope` (SSML, cards, reprompt,
//!   `shouldEndSession`, waiting step in `sessionAttributes.steptalk.step`), plus the
//!   empty response and the `CanFulfillIntentRequest` answer;
//! - `verify::Verifier::verify(&self, headers, body: &[u8], now) -> Result<(), VerifyError>`.
