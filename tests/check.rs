//! `steptalk check` over the fixture folders: every folder under
//! `tests/fixtures/invalid/` holds one broken scenario (its README.md says
//! what is wrong) and the rendered diagnostics are snapshotted, so lines,
//! columns and carets are reviewed by eye.

use std::path::{Path, PathBuf};

use steptalk::diagnostic::render;
use steptalk::scenario::load;
use steptalk::tools::check::{run, CheckOptions, Format};

/// The fixture folder as a path relative to the crate root (tests run there),
/// so snapshots hold stable relative paths.
fn relative(path: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    path.strip_prefix(root).unwrap_or(path).to_path_buf()
}

#[test]
fn invalid_fixtures() {
    insta::glob!("fixtures/invalid/*/README.md", |readme| {
        let dir = relative(readme.parent().unwrap());
        let name = dir.file_name().unwrap().to_str().unwrap().to_string();
        let loaded = load(&dir);
        assert!(
            loaded.diagnostics.iter().any(|d| name.starts_with(d.code)),
            "{name}: expected a diagnostic whose code starts the folder name, got {:?}",
            loaded
                .diagnostics
                .iter()
                .map(|d| d.code)
                .collect::<Vec<_>>()
        );
        assert_eq!(
            loaded.scenario.is_none(),
            loaded.diagnostics.iter().any(|d| d.is_error()),
            "{name}: scenario must be None iff there is an error"
        );
        let rendered: Vec<String> = loaded
            .diagnostics
            .iter()
            .map(|d| render(d, &loaded.sources, false))
            .collect();
        let description = std::fs::read_to_string(readme).unwrap();
        insta::with_settings!({description => description.trim(), omit_expression => true}, {
            insta::assert_snapshot!(rendered.join("\n\n"));
        });
    });
}

fn check(dirs: &[&str], format: Format) -> (i32, String) {
    let options = CheckOptions {
        dirs: dirs.iter().map(PathBuf::from).collect(),
        format,
        color: false,
    };
    let mut out = Vec::new();
    let code = run(&options, &mut out).unwrap();
    (code, String::from_utf8(out).unwrap())
}

#[test]
fn exit_codes_and_summary() {
    let cases = [
        (
            vec!["tests/fixtures/valid/minimal"],
            0,
            "0 errors, 0 warnings in 1 scenario",
        ),
        (
            vec!["tests/fixtures/invalid/unreachable-step"],
            0,
            "0 errors, 1 warning in 1 scenario",
        ),
        (
            vec![
                "tests/fixtures/invalid/unknown-next-step",
                "tests/fixtures/valid/minimal",
            ],
            1,
            "1 error, 1 warning in 2 scenarios",
        ),
    ];
    for (dirs, want_code, want_summary) in cases {
        let (code, out) = check(&dirs, Format::Text);
        assert_eq!(code, want_code, "{dirs:?}\n{out}");
        assert_eq!(out.lines().last(), Some(want_summary), "{dirs:?}\n{out}");
    }
}

#[test]
fn json_format() {
    let (code, out) = check(&["tests/fixtures/invalid/unknown-next-step"], Format::Json);
    assert_eq!(code, 1);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    insta::assert_json_snapshot!(doc);
}

#[test]
fn valid_fixture_builds_the_model() {
    let loaded = load(Path::new("tests/fixtures/valid/minimal"));
    let scenario = loaded.scenario.expect("no errors");
    assert_eq!(scenario.id, "minimal");
    assert_eq!(scenario.steps.len(), 3);
    assert_eq!(scenario.timezone, chrono_tz::Europe::Berlin);
    assert_eq!(
        scenario.entry_points.get("flavour_choice"),
        Some(&steptalk::scenario::StepId(1))
    );
    assert_eq!(scenario.tests[0].turns.len(), 2);
    assert!(scenario.tests[0].turns[1].wait.is_some());
    assert!(
        scenario.intents.contains_key("yes"),
        "YAML 1.2: `yes` is a string key"
    );
}

/// Every code the loader can emit (a string literal passed to
/// `Diagnostic::error`/`warning`/`path_error` or `cx.error`/`warning` in
/// `src/scenario/`) has an entry in `docs/diagnostics.md`.
#[test]
fn every_code_is_documented() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let docs = std::fs::read_to_string(root.join("docs/diagnostics.md")).unwrap();
    let mut codes = Vec::new();
    for entry in std::fs::read_dir(root.join("src/scenario")).unwrap() {
        let source = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for call in ["error(", "warning(", "path_error("] {
            for (i, _) in source.match_indices(call) {
                let rest = source[i + call.len()..].trim_start();
                let Some(rest) = rest.strip_prefix('"') else {
                    continue;
                };
                let Some(end) = rest.find('"') else { continue };
                let code = &rest[..end];
                if !code.is_empty()
                    && code
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                {
                    codes.push(code.to_string());
                }
            }
        }
    }
    codes.sort();
    codes.dedup();
    assert!(codes.len() >= 40, "found only {codes:?}");
    let missing: Vec<&String> = codes
        .iter()
        .filter(|c| !docs.contains(&format!("## `{c}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "undocumented diagnostic codes: {missing:?}"
    );
}
