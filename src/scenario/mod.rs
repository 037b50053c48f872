//! Scenario folders: the model ([`model`]), the loader (YAML → model with spans)
//! and the validator (diagnostics).
//!
//! OWNER: loader helper (model.rs is shared: extend it, do not rename).

pub mod model;

pub use model::*;
