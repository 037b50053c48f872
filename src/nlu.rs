//! Raw utterance → intent and slots (spec section 6), for tests and the chat simulator.
//!
//! OWNER: engine helper.
