//! steptalk: a runtime for BotTalk-style YAML scenarios, served as an Alexa skill endpoint.
//!
//! Start reading at `docs/ARCHITECTURE.md`. The pipeline is
//! [`scenario`] (load and validate) → [`engine`] (one turn, platform-neutral)
//! → [`alexa`] (the adapter) → [`server`] (HTTP), with [`store`] holding user
//! variables and [`expr`] evaluating Twig-style templates.

pub mod alexa;
pub mod diagnostic;
pub mod engine;
pub mod errors;
pub mod expr;
pub mod nlu;
pub mod outbound;
pub mod scenario;
pub mod server;
pub mod store;
pub mod testing;
pub mod tools;
