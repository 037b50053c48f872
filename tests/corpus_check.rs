//! Conformance: every scenario folder of the BotTalk corpus
//! (`../shared/corpus/bottalk`) loads without errors. Warnings are allowed
//! (the corpus has real typos) and are snapshotted so a change in them is
//! reviewed. Skips with a printed reason when `../shared` is absent.

mod support;

use steptalk::diagnostic::{render_header, Severity};
use steptalk::scenario::load;

#[test]
fn corpus_loads_without_errors() {
    let Some(root) = support::corpus() else {
        return;
    };
    // `templates/*`, `templates/recipes/*` and `tutorials/*`, sorted.
    let dirs = steptalk::scenario::discover(std::slice::from_ref(&root));
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
