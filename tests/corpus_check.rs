//! Conformance: every scenario folder of the BotTalk corpus
//! (`../shared/corpus/bottalk`) loads without errors. Warnings are allowed
//! (the corpus has real typos) and are snapshotted so a change in them is
//! reviewed. Skips with a printed reason when `../shared` is absent.

use std::path::{Path, PathBuf};

use steptalk::diagnostic::{render_header, Severity};
use steptalk::scenario::load;

fn corpus() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/bottalk");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipping: ../shared not found ({})", dir.display());
        None
    }
}

/// Scenario folders: `templates/*` (except the `recipes` group),
/// `templates/recipes/*` and `tutorials/*`.
fn scenario_dirs(root: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for group in ["templates", "templates/recipes", "tutorials"] {
        let Ok(entries) = std::fs::read_dir(root.join(group)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() && path.file_name().is_some_and(|n| n != "recipes") {
                dirs.push(path);
            }
        }
    }
    dirs.sort();
    dirs
}

#[test]
fn corpus_loads_without_errors() {
    let Some(root) = corpus() else { return };
    let dirs = scenario_dirs(&root);
    assert!(
        dirs.len() >= 12,
        "found only {} scenario folders",
        dirs.len()
    );
    let mut report = String::new();
    for dir in &dirs {
        let loaded = load(dir);
        let errors: Vec<String> = loaded
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| steptalk::diagnostic::render(d, &loaded.sources, false))
            .collect();
        assert!(
            errors.is_empty(),
            "{}:\n{}",
            dir.display(),
            errors.join("\n")
        );
        assert!(loaded.scenario.is_some());
        for d in &loaded.diagnostics {
            let header = render_header(d, &loaded.sources);
            // Paths relative to the corpus, so the snapshot does not depend on the checkout.
            let prefix = format!("{}/", root.display());
            report.push_str(&header.replace(&prefix, ""));
            report.push('\n');
        }
    }
    insta::assert_snapshot!(report);
}
