//! `steptalk check DIR…`: load and validate, print diagnostics, exit 1 on errors.
//!
//! The library does the work ([`crate::scenario::load`]) and renders through
//! [`crate::diagnostic::render`]; this module only loops over folders, prints
//! and counts. Paths print as given on the command line.

use std::io::Write;
use std::path::PathBuf;

use crate::diagnostic::{self, Severity};

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
    /// Scenario folders, as given on the command line.
    pub dirs: Vec<PathBuf>,
    /// Text or JSON output.
    pub format: Format,
    /// Colour the text output (a terminal).
    pub color: bool,
}

/// Runs `check`, writing to `out`; returns the process exit code: 1 when any
/// folder has an error, else 0 (warnings alone pass).
pub fn run(options: &CheckOptions, out: &mut dyn Write) -> std::io::Result<i32> {
    let mut errors = 0;
    let mut warnings = 0;
    let mut json_scenarios = Vec::new();
    for dir in &options.dirs {
        let loaded = crate::scenario::load(dir);
        for d in &loaded.diagnostics {
            match d.severity {
                Severity::Error => errors += 1,
                Severity::Warning => warnings += 1,
                Severity::Note => {}
            }
        }
        match options.format {
            Format::Text => {
                for d in &loaded.diagnostics {
                    writeln!(
                        out,
                        "{}\n",
                        diagnostic::render(d, &loaded.sources, options.color)
                    )?;
                }
            }
            Format::Json => json_scenarios.push(serde_json::json!({
                "dir": dir.display().to_string(),
                "ok": loaded.scenario.is_some(),
                "diagnostics": loaded
                    .diagnostics
                    .iter()
                    .map(|d| diagnostic::render_json(d, &loaded.sources))
                    .collect::<Vec<_>>(),
            })),
        }
    }
    let n = options.dirs.len();
    let summary = format!(
        "{} in {n} scenario{}",
        counts(errors, warnings),
        if n == 1 { "" } else { "s" }
    );
    match options.format {
        Format::Text => writeln!(out, "{summary}")?,
        Format::Json => {
            let doc = serde_json::json!({
                "scenarios": json_scenarios,
                "errors": errors,
                "warnings": warnings,
                "summary": summary,
            });
            let text = serde_json::to_string_pretty(&doc).map_err(std::io::Error::other)?;
            writeln!(out, "{text}")?;
        }
    }
    Ok(i32::from(errors > 0))
}

fn counts(errors: usize, warnings: usize) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    format!(
        "{}, {}",
        plural(errors, "error"),
        plural(warnings, "warning")
    )
}
