//! Which folders are scenarios: a folder named on the command line is a scenario
//! when it holds YAML files; otherwise its subfolders are searched, so
//! `steptalk check scenarios` checks every scenario under `scenarios/`.

use std::path::{Path, PathBuf};

/// How deep [`discover`] looks below a folder without YAML files.
const MAX_DEPTH: usize = 3;

/// Expands `paths` into scenario folders, in order (subfolders sorted by name).
///
/// A path that is no folder, or a folder with neither YAML files nor scenario
/// subfolders, is kept as given: loading it then reports what is wrong.
pub fn discover(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for path in paths {
        let before = found.len();
        collect(path, MAX_DEPTH, &mut found);
        if found.len() == before {
            found.push(path.clone());
        }
    }
    found
}

fn collect(dir: &Path, depth: usize, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut subdirs = Vec::new();
    let mut has_yaml = false;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            subdirs.push(path);
        } else if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            has_yaml = true;
        }
    }
    if has_yaml {
        found.push(dir.to_path_buf());
    } else if depth > 0 {
        subdirs.sort();
        for subdir in subdirs {
            collect(&subdir, depth - 1, found);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_of_scenarios_are_expanded_and_others_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for dir in ["all/b", "all/a", "all/group/c", "all/empty", "single"] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
        }
        for file in [
            "all/a/main.yml",
            "all/b/main.yaml",
            "all/group/c/x.yml",
            "single/main.yml",
        ] {
            std::fs::write(root.join(file), "").unwrap();
        }
        let given = [
            root.join("all"),
            root.join("single"),
            root.join("missing"),
            root.join("all/empty"),
        ];
        let found = discover(&given);
        let expected: Vec<PathBuf> = [
            "all/a",
            "all/b",
            "all/group/c",
            "single",
            "missing",
            "all/empty",
        ]
        .iter()
        .map(|d| root.join(d))
        .collect();
        assert_eq!(found, expected);
    }
}
