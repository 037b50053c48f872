//! `steptalk check DIR…`: load and validate, print diagnostics, exit 1 on errors.
//!
//! OWNER: loader helper.

use std::io::Write;
use std::path::PathBuf;

/// How diagnostics are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// rustc-style text.
    #[default]
    Text,
    /// One JSON document, for editors and CI.
    Json,
}

/// `steptalk check` options.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    pub dirs: Vec<PathBuf>,
    pub format: Format,
    pub color: bool,
}

/// Runs `check`, writing to `out`; returns the process exit code.
pub fn run(options: &CheckOptions, out: &mut dyn Write) -> std::io::Result<i32> {
    let _ = (options, out);
    Ok(2)
}
