//! The Alexa adapter: envelope types (serde), the mapping to and from the
//! engine's [`TurnInput`](crate::engine::TurnInput) / [`TurnOutput`](crate::engine::TurnOutput),
//! and request verification.
//!
//! **Invariant:** only this module knows Alexa JSON. The engine sees
//! [`TurnInput`](crate::engine::TurnInput) and nothing else; the server sees the
//! functions below.
//!
//! A request goes through, in order:
//! 1. [`verify::Verifier::verify`] on the raw headers and body (unless verification is off);
//! 2. [`envelope::parse_request`] → the typed envelope plus the raw JSON;
//! 3. [`mapping::to_turn`] → an [`AlexaTurn`] (the engine input, user id, skill id);
//!    a `CanFulfillIntentRequest` is answered by [`mapping::can_fulfill`] instead;
//! 4. the engine runs the turn;
//! 5. [`mapping::respond`] → the [`ResponseEnvelope`] ([`mapping::respond_body`]: its bytes), or a typed
//!    [`ResponseError`] when Alexa's limits are exceeded.

pub mod envelope;
pub mod mapping;
pub mod verify;
mod x509;

pub use envelope::{parse_request, ParseError, RequestEnvelope, ResponseEnvelope};
pub use mapping::{
    can_fulfill, respond, to_response, to_turn, AlexaTurn, CanFulfillQuery, MappingError,
    ResponseError,
};
pub use verify::{Verifier, VerifierConfig, VerifyError};
