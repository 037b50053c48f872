//! Bad input never panics, always names the file, and fails in bounded time
//! and memory. The inputs are generated here at run time (nothing large is
//! committed). Also proptest: arbitrary bytes and YAML-ish text never panic
//! the loader, and every diagnostic span lies inside its file and renders.

use std::path::Path;

use proptest::prelude::*;
use steptalk::diagnostic::render;
use steptalk::scenario::{load, Loaded};

/// Writes `files` into a fresh folder and loads it.
fn load_files(files: &[(&str, &[u8])]) -> (tempfile::TempDir, Loaded) {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let loaded = load(dir.path());
    (dir, loaded)
}

/// Every diagnostic names a file or folder; every span is inside its file;
/// rendering never panics.
fn assert_well_formed(loaded: &Loaded) {
    for d in &loaded.diagnostics {
        assert!(d.span.is_some() || d.path.is_some(), "{d:?} names no file");
        if let Some(span) = d.span {
            let file = loaded
                .sources
                .get(span.file)
                .expect("span's file is in the source map");
            let n_lines = file.text.lines().count().max(1) as u32;
            assert!(
                span.start.line >= 1 && span.start.line <= n_lines + 1 && span.start.col >= 1,
                "{d:?} outside its file ({n_lines} lines)"
            );
        }
        let _ = render(d, &loaded.sources, false);
        let _ = steptalk::diagnostic::render_json(d, &loaded.sources);
    }
    assert_eq!(
        loaded.scenario.is_none(),
        loaded.diagnostics.iter().any(|d| d.is_error())
    );
}

/// The single error's code and the file name it points at.
fn first_error(loaded: &Loaded) -> (&'static str, String) {
    let d = loaded
        .diagnostics
        .iter()
        .find(|d| d.is_error())
        .expect("an error");
    let path = match d.span {
        Some(span) => loaded.sources.path(span.file).to_path_buf(),
        None => d.path.clone().unwrap(),
    };
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    (d.code, name)
}

const STEP: &str =
    "scenario:\n  name: X\n  steps:\n    - name: Start\n      actions:\n        - sendText: 'Hi'\n";

#[test]
fn hostile_inputs_get_located_errors() {
    let nesting = format!("scenario: {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
    let block_nesting: String = (0..10_000)
        .map(|i| format!("{}k{i}:\n", " ".repeat(i % 100)))
        .collect();
    let bomb = {
        let mut s = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            s.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        s.push_str(STEP);
        s
    };
    let mut big = String::from(STEP);
    big.push_str("# ");
    big.push_str(&"x".repeat(10 * 1024 * 1024));
    let mut non_utf8 = STEP.as_bytes().to_vec();
    non_utf8.extend_from_slice(b"        - sendText: '\xff\xfe'\n");
    let conflict = format!("<<<<<<< HEAD\n{STEP}=======\n{STEP}>>>>>>> other\n");
    let tabs = "scenario:\n\tname: X\n";
    // (what, files, expected code, expected file name; "" = the folder)
    type Case<'a> = (&'a str, Vec<(&'a str, Vec<u8>)>, &'a str, &'a str);
    let cases: Vec<Case> = vec![
        (
            "merge conflict",
            vec![("main.yml", conflict.into_bytes())],
            "merge-conflict",
            "main.yml",
        ),
        (
            "tab indentation",
            vec![("main.yml", tabs.into())],
            "yaml-syntax",
            "main.yml",
        ),
        (
            "non-UTF-8",
            vec![("main.yml", non_utf8)],
            "invalid-utf8",
            "main.yml",
        ),
        (
            "no scenario",
            vec![("intents.yml", b"intents:\n  a: ['a']\n".to_vec())],
            "missing-scenario",
            "",
        ),
        (
            "10 MB file",
            vec![("main.yml", big.into_bytes())],
            "file-too-large",
            "main.yml",
        ),
        (
            "10,000-level flow nesting",
            vec![("main.yml", nesting.into_bytes())],
            "yaml-syntax",
            "main.yml",
        ),
        (
            "10,000 keys deep",
            vec![("main.yml", block_nesting.into_bytes())],
            "yaml-syntax",
            "main.yml",
        ),
        (
            "alias bomb",
            vec![("main.yml", bomb.into_bytes())],
            "yaml-syntax",
            "main.yml",
        ),
        (
            "empty file only",
            vec![("main.yml", Vec::new())],
            "missing-scenario",
            "",
        ),
    ];
    for (what, files, code, file) in cases {
        eprintln!("case: {what}");
        let files: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (*n, b.as_slice())).collect();
        let (dir, loaded) = load_files(&files);
        assert_well_formed(&loaded);
        let (got_code, got_file) = first_error(&loaded);
        let want_file = if file.is_empty() {
            dir.path()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        } else {
            file.to_string()
        };
        assert_eq!(
            (got_code, got_file.as_str()),
            (code, want_file.as_str()),
            "{what}: {:?}",
            loaded.diagnostics
        );
    }
}

#[test]
fn empty_and_missing_folders() {
    let (_dir, loaded) = load_files(&[]);
    assert_eq!(first_error(&loaded).0, "no-yaml-files");
    let loaded = load(Path::new("/nonexistent/steptalk/scenario"));
    assert_eq!(first_error(&loaded).0, "folder-unreadable");
    assert_well_formed(&loaded);
}

/// YAML-ish text: keys, dashes, quotes, braces, colons and scenario words.
fn yamlish() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("scenario:".to_string()),
        Just("steps:".to_string()),
        Just("- name: A".to_string()),
        Just("actions:".to_string()),
        Just("- sendText: '{{ x }}'".to_string()),
        Just("- getInput:".to_string()),
        Just("next:".to_string()),
        Just("else: A".to_string()),
        Just("when: 'a >'".to_string()),
        Just("- set: 'a.b = 1'".to_string()),
        Just("intents:".to_string()),
        Just("tests:".to_string()),
        Just("- say: start".to_string()),
        Just("- wait: x".to_string()),
        Just("&a [*a]".to_string()),
        Just("*a".to_string()),
        Just("\t".to_string()),
        Just("|".to_string()),
        "[ -~]{0,12}",
    ];
    proptest::collection::vec((0usize..8, token), 0..40).prop_map(|lines| {
        lines
            .into_iter()
            .map(|(indent, t)| format!("{}{t}\n", "  ".repeat(indent)))
            .collect()
    })
}

proptest! {
    // Failures are saved beside this file (`loader_hostile.proptest-regressions`)
    // so they are committed and replayed.
    #![proptest_config(ProptestConfig {
        cases: 96,
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
        )),
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let (_dir, loaded) = load_files(&[("main.yml", &bytes)]);
        assert_well_formed(&loaded);
    }

    #[test]
    fn yamlish_text_never_panics(text in yamlish()) {
        let (_dir, loaded) = load_files(&[("main.yml", text.as_bytes())]);
        assert_well_formed(&loaded);
    }
}
