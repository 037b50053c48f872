//! Scenario folders: the model ([`model`]), the loader (YAML → model with spans)
//! and the validator (diagnostics).
//!
//! Start at [`load`]: it reads a folder, parses every YAML file ([`yaml`], the
//! only place that knows serde-saphyr), builds the [`Scenario`] and returns it
//! together with every finding. Author mistakes are data ([`Loaded::diagnostics`]),
//! never an `Err`.

mod build;
mod discover;
pub mod loader;
pub mod model;
mod spans;
mod validate;
pub mod yaml;

pub use discover::discover;
pub use loader::{load, Loaded};
pub use model::*;
