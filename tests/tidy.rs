//! Checks that keep the code base's written invariants true (docs/ARCHITECTURE.md):
//! module boundaries, and a `//!` opening on every source file.

use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// (folder or file under src/, crate paths it must not mention).
const BOUNDARIES: &[(&str, &[&str])] = &[
    // The engine is platform-neutral: no HTTP server or client, no YAML, no template engine, no Alexa.
    (
        "engine",
        &[
            "axum",
            "reqwest",
            "serde_saphyr",
            "minijinja",
            "crate::alexa",
            "crate::server",
        ],
    ),
    // Only the loader reads YAML and only expr/ knows minijinja.
    ("alexa", &["serde_saphyr", "minijinja", "crate::server"]),
    (
        "store",
        &[
            "serde_saphyr",
            "minijinja",
            "crate::alexa",
            "crate::server",
            "axum",
        ],
    ),
    ("server", &["serde_saphyr", "minijinja"]),
    (
        "testing",
        &[
            "serde_saphyr",
            "minijinja",
            "crate::alexa",
            "crate::server",
            "axum",
        ],
    ),
    (
        "nlu.rs",
        &["serde_saphyr", "minijinja", "crate::alexa", "crate::server"],
    ),
];

#[test]
fn module_boundaries_hold() {
    let mut violations = Vec::new();
    for (module, forbidden) in BOUNDARIES {
        let path = src().join(module);
        let files = if path.is_dir() {
            rust_files(&path)
        } else {
            vec![path]
        };
        for file in files {
            let text = fs::read_to_string(&file).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for name in *forbidden {
                    let as_path = format!("{name}::");
                    if code.contains(&as_path)
                        || code.trim_start().starts_with(&format!("use {name}"))
                    {
                        violations.push(format!("{}:{}: uses `{name}`", file.display(), n + 1));
                    }
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "module boundaries broken:\n{}",
        violations.join("\n")
    );
}

#[test]
fn every_source_file_opens_with_a_module_doc() {
    let missing: Vec<String> = rust_files(&src())
        .into_iter()
        .filter(|f| !fs::read_to_string(f).unwrap().starts_with("//!"))
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a `//!` opening:\n{}",
        missing.join("\n")
    );
}
