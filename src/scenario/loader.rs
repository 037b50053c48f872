//! Loading a scenario folder: files → parsed YAML → merged sections → [`Scenario`].
//!
//! [`load`] never stops at the first problem and never returns `Err`: every
//! finding becomes a [`Diagnostic`] and the scenario is produced whenever no
//! finding is an error (spec sections 1 and 6; style.md §3). The work is split:
//! this file reads the folder and merges the top-level sections, [`super::build`]
//! turns sections into the model, and [`super::validate`] runs the checks that
//! need the whole model.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use super::build::Builder;
use super::yaml::{self, Node, Value};
use super::Scenario;
use crate::diagnostic::{Diagnostic, Severity, SourceMap, Span};

/// The result of loading a folder: the scenario (when there is no error),
/// every finding, and the sources the findings point into.
#[derive(Debug)]
pub struct Loaded {
    /// `None` iff some diagnostic is an error.
    pub scenario: Option<Scenario>,
    /// Errors, warnings and notes, sorted by file, line and column.
    pub diagnostics: Vec<Diagnostic>,
    /// Every file read, for rendering the diagnostics.
    pub sources: SourceMap,
}

impl Loaded {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Files larger than this are refused: no real scenario comes close, and it
/// bounds the memory a hostile folder can make the loader use.
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// The top-level keys of a scenario file (spec section 1).
const SECTIONS: [&str; 5] = ["scenario", "intents", "slots", "tests", "include"];

/// Names tried, in order, for the main file.
const MAIN_FILES: [&str; 4] = ["main.yml", "scenario.yml", "main.yaml", "scenario.yaml"];

/// Loads and validates the scenario folder `dir`.
///
/// `Scenario::id` is the folder's name. Paths in diagnostics and in the
/// source map are `dir` joined with the file name, so they print the way the
/// caller spelled `dir`.
///
/// ```no_run
/// let loaded = steptalk::scenario::load(std::path::Path::new("scenarios/account-linking"));
/// for d in &loaded.diagnostics {
///     eprintln!("{}", steptalk::diagnostic::render(d, &loaded.sources, false));
/// }
/// ```
pub fn load(dir: &Path) -> Loaded {
    let mut cx = Cx::default();
    let files = read_folder(dir, &mut cx);
    let scenario = if files.is_empty() {
        None
    } else {
        let sections = merge_sections(dir, &files, &mut cx);
        build(dir, sections, &mut cx)
    };
    cx.finish(scenario)
}

/// Diagnostics and sources collected while loading.
#[derive(Default)]
pub(crate) struct Cx {
    pub(crate) sources: SourceMap,
    pub(crate) diagnostics: Vec<Diagnostic>,
}

impl Cx {
    pub(crate) fn push(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    pub(crate) fn error(&mut self, code: &'static str, span: Span, message: impl Into<String>) {
        self.push(Diagnostic::error(code, span, message));
    }

    pub(crate) fn warning(&mut self, code: &'static str, span: Span, message: impl Into<String>) {
        self.push(Diagnostic::warning(code, span, message));
    }

    fn finish(mut self, scenario: Option<Scenario>) -> Loaded {
        sort_diagnostics(&mut self.diagnostics, &self.sources);
        let has_errors = self.diagnostics.iter().any(Diagnostic::is_error);
        let scenario = if has_errors { None } else { scenario };
        let scenario = scenario.map(|mut s| {
            s.sources = self.sources.clone();
            s
        });
        Loaded {
            scenario,
            diagnostics: self.diagnostics,
            sources: self.sources,
        }
    }
}

/// Sorts by file path, line, column, then severity and code, so output is stable.
pub fn sort_diagnostics(diagnostics: &mut [Diagnostic], sources: &SourceMap) {
    diagnostics.sort_by(|a, b| {
        let key = |d: &Diagnostic| {
            let path = match (&d.span, &d.path) {
                (Some(span), _) => sources.path(span.file).to_path_buf(),
                (None, Some(path)) => path.clone(),
                (None, None) => PathBuf::new(),
            };
            let at = d
                .span
                .map(|s| (s.start.line, s.start.col))
                .unwrap_or((0, 0));
            (path, at, d.severity, d.code, d.message.clone())
        };
        key(a).cmp(&key(b))
    });
}

/// One parsed file.
pub(crate) struct File {
    pub(crate) name: String,
    pub(crate) root: Node,
}

/// Reads every `*.yml`/`*.yaml` in `dir` (sorted by name) and parses it.
/// Files that cannot be read or parsed are reported and left out.
fn read_folder(dir: &Path, cx: &mut Cx) -> Vec<File> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) => {
            let what = if dir.exists() {
                format!("cannot read scenario folder: {err}")
            } else {
                "scenario folder not found".to_string()
            };
            cx.push(Diagnostic::path_error("folder-unreadable", dir, what));
            return Vec::new();
        }
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| n.ends_with(".yml") || n.ends_with(".yaml"))
        .collect();
    names.sort();
    if names.is_empty() {
        cx.push(
            Diagnostic::path_error("no-yaml-files", dir, "no `.yml` or `.yaml` files in folder")
                .with_help("a scenario folder holds `main.yml` with a `scenario:` section"),
        );
        return Vec::new();
    }
    let mut files = Vec::new();
    for name in names {
        let path = dir.join(&name);
        if let Some(file) = read_file(&path, name, cx) {
            files.push(file);
        }
    }
    files
}

fn read_file(path: &Path, name: String, cx: &mut Cx) -> Option<File> {
    let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if len > MAX_FILE_BYTES {
        cx.push(Diagnostic::path_error(
            "file-too-large",
            path,
            format!("file is too large ({len} bytes; the limit is {MAX_FILE_BYTES} bytes)"),
        ));
        return None;
    }
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) => {
            cx.push(Diagnostic::path_error(
                "file-unreadable",
                path,
                format!("cannot read file: {err}"),
            ));
            return None;
        }
    };
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => {
            let valid = err.utf8_error().valid_up_to();
            let bytes = err.into_bytes();
            let prefix = String::from_utf8_lossy(&bytes[..valid]).into_owned();
            let line = prefix.matches('\n').count() as u32 + 1;
            let col = prefix.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u32 + 1;
            let id = cx.sources.add(
                path.to_path_buf(),
                String::from_utf8_lossy(&bytes).into_owned(),
            );
            cx.push(
                Diagnostic::error(
                    "invalid-utf8",
                    Span::point(id, line, col),
                    "file is not valid UTF-8",
                )
                .with_help("save the file as UTF-8"),
            );
            return None;
        }
    };
    // A byte-order mark is legal at the start; the parser would skip it but it
    // would shift the columns we compute from the text.
    let text = text
        .strip_prefix('\u{feff}')
        .map(str::to_string)
        .unwrap_or(text);
    let id = cx.sources.add(path.to_path_buf(), text.as_str());
    if let Some(line) = conflict_marker(&text) {
        cx.push(
            Diagnostic::error(
                "merge-conflict",
                Span::point(id, line, 1),
                "unresolved merge conflict marker",
            )
            .with_help(
                "resolve the conflict and remove the `<<<<<<<`, `=======` and `>>>>>>>` lines",
            ),
        );
        return None;
    }
    match yaml::parse(&text, id) {
        Ok(root) => {
            check_duplicate_keys(&root, cx);
            Some(File { name, root })
        }
        Err(err) => {
            let (line, col) = err.pos.unwrap_or((1, 1));
            let mut d = Diagnostic::error(
                "yaml-syntax",
                Span::point(id, line, col),
                format!("invalid YAML: {}", err.message),
            );
            let tab_indent = text
                .lines()
                .nth(line.saturating_sub(1) as usize)
                .is_some_and(|l| l.trim_start_matches(' ').starts_with('\t'))
                || text.lines().any(|l| l.starts_with('\t'));
            if tab_indent {
                d = d.with_help("YAML indentation must use spaces, not tabs");
            }
            cx.push(d);
            None
        }
    }
}

/// The 1-based line of the first git merge-conflict marker, if any.
fn conflict_marker(text: &str) -> Option<u32> {
    text.lines()
        .position(|l| {
            l.starts_with("<<<<<<< ")
                || l == "<<<<<<<"
                || l == "======="
                || l.starts_with(">>>>>>> ")
        })
        .map(|i| i as u32 + 1)
}

/// Reports every key that occurs twice in one YAML map, anywhere in the tree.
fn check_duplicate_keys(node: &Node, cx: &mut Cx) {
    match &node.value {
        Value::Seq(items) => items.iter().for_each(|n| check_duplicate_keys(n, cx)),
        Value::Map(entries) => {
            let mut seen: HashMap<String, &Node> = HashMap::new();
            for (key, value) in entries {
                if let Some(text) = key.value.scalar_text() {
                    if let Some(first) = seen.get(&text) {
                        cx.push(
                            Diagnostic::error(
                                "duplicate-key",
                                key.span(),
                                format!("key `{text}` appears twice in the same map"),
                            )
                            .with_label(first.span(), "first defined here"),
                        );
                    } else {
                        seen.insert(text, key);
                    }
                }
                check_duplicate_keys(value, cx);
            }
        }
        _ => {}
    }
}

/// The top-level sections of all files, merged: each holds the entries of
/// every file's section, in file order (main file, includes, the rest).
#[derive(Default)]
pub(crate) struct Sections<'a> {
    /// `scenario:` entries (key, value).
    pub(crate) scenario: Vec<(&'a Node, &'a Node)>,
    /// The `scenario:` keys themselves (where the section starts), for
    /// "missing `steps`" messages.
    pub(crate) scenario_keys: Vec<&'a Node>,
    pub(crate) intents: Vec<(&'a Node, &'a Node)>,
    pub(crate) slots: Vec<(&'a Node, &'a Node)>,
    pub(crate) tests: Vec<(&'a Node, &'a Node)>,
}

fn merge_sections<'a>(dir: &Path, files: &'a [File], cx: &mut Cx) -> Sections<'a> {
    let order = file_order(files, cx);
    let mut sections = Sections::default();
    // Section name → key text → first key node, to report "same key twice"
    // across files.
    let mut seen: HashMap<&'static str, IndexMap<String, &'a Node>> = HashMap::new();
    for idx in order {
        let file = &files[idx];
        let entries = match &file.root.value {
            Value::Null => continue,
            Value::Map(entries) => entries,
            other => {
                cx.error(
                    "top-level-not-map",
                    file.root.span(),
                    format!(
                        "a scenario file must be a map of sections (`scenario:`, `intents:`, `slots:`, `tests:`), found {}",
                        other.kind()
                    ),
                );
                continue;
            }
        };
        for (key, value) in entries {
            let Some(name) = key
                .as_str()
                .and_then(|k| SECTIONS.iter().find(|s| **s == k))
            else {
                let text = key
                    .value
                    .scalar_text()
                    .unwrap_or_else(|| key.value.kind().into());
                cx.push(
                    Diagnostic::warning(
                        "unknown-key",
                        key.span(),
                        format!("unknown top-level key `{text}` is ignored"),
                    )
                    .with_help(
                        "top-level keys are `scenario`, `intents`, `slots`, `tests` and `include`",
                    ),
                );
                continue;
            };
            if *name == "include" {
                continue;
            }
            if *name == "scenario" {
                sections.scenario_keys.push(key);
            }
            let target = match *name {
                "scenario" => &mut sections.scenario,
                "intents" => &mut sections.intents,
                "slots" => &mut sections.slots,
                _ => &mut sections.tests,
            };
            match &value.value {
                Value::Null => {}
                Value::Map(inner) => {
                    let seen = seen.entry(name).or_default();
                    for (k, v) in inner {
                        let text = k.value.scalar_text().unwrap_or_default();
                        match seen.get(&text) {
                            // Same file duplicates are already reported.
                            Some(first) if first.file != k.file => {
                                cx.push(
                                    Diagnostic::error(
                                        "duplicate-key",
                                        k.span(),
                                        format!("`{name}.{text}` is defined in two files"),
                                    )
                                    .with_label(first.span(), "first defined here"),
                                );
                            }
                            Some(_) => {}
                            None => {
                                seen.insert(text, k);
                                target.push((k, v));
                            }
                        }
                    }
                }
                other => cx.error(
                    "invalid-section",
                    value.span(),
                    format!("`{name}:` must be a map, found {}", other.kind()),
                ),
            }
        }
    }
    if sections.scenario_keys.is_empty() && !cx.diagnostics.iter().any(Diagnostic::is_error) {
        cx.push(
            Diagnostic::path_error(
                "missing-scenario",
                dir,
                "no file in the folder has a `scenario:` section",
            )
            .with_help("add `scenario:` with `name:` and `steps:` to `main.yml`"),
        );
    }
    sections
}

/// The order files are merged in: the main file, then the files its
/// `include` names (in order), then every other file by name. Reports
/// missing and repeated includes.
fn file_order(files: &[File], cx: &mut Cx) -> Vec<usize> {
    let by_name = |name: &str| files.iter().position(|f| f.name == name);
    let main = MAIN_FILES
        .iter()
        .find_map(|n| by_name(n))
        .or_else(|| {
            files
                .iter()
                .position(|f| top_level(&f.root, "scenario").is_some())
        })
        .unwrap_or(0);
    let mut order = vec![main];
    let mut included: HashMap<String, Span> = HashMap::new();
    // Includes of every file count (any file may hold any key); the main file's first.
    let mut scan: Vec<usize> = vec![main];
    scan.extend((0..files.len()).filter(|i| *i != main));
    for idx in scan {
        let Some(include) = top_level(&files[idx].root, "include") else {
            continue;
        };
        let items: Vec<&Node> = match &include.value {
            Value::Seq(items) => items.iter().collect(),
            Value::Str(_) => vec![include],
            Value::Null => vec![],
            other => {
                cx.error(
                    "invalid-include",
                    include.span(),
                    format!(
                        "`include` must be a list of file names, found {}",
                        other.kind()
                    ),
                );
                vec![]
            }
        };
        for item in items {
            let Some(name) = item.as_str() else {
                cx.error(
                    "invalid-include",
                    item.span(),
                    "an `include` entry must be a file name",
                );
                continue;
            };
            if let Some(first) = included.get(name) {
                cx.push(
                    Diagnostic::warning(
                        "include-repeated",
                        item.span(),
                        format!("`{name}` is included more than once; it is loaded once"),
                    )
                    .with_label(*first, "first included here"),
                );
                continue;
            }
            included.insert(name.to_string(), item.span());
            match by_name(name) {
                Some(i) => {
                    if !order.contains(&i) {
                        order.push(i);
                    }
                }
                None => cx.push(
                    Diagnostic::warning(
                        "include-missing",
                        item.span(),
                        format!("included file `{name}` does not exist"),
                    )
                    .with_help("every `.yml` file in the folder is loaded anyway; remove the entry or add the file"),
                ),
            }
        }
    }
    for i in 0..files.len() {
        if !order.contains(&i) {
            order.push(i);
        }
    }
    order
}

/// The value of top-level key `key` in a file's root map.
fn top_level<'a>(root: &'a Node, key: &str) -> Option<&'a Node> {
    match &root.value {
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v),
        _ => None,
    }
}

fn build(dir: &Path, sections: Sections<'_>, cx: &mut Cx) -> Option<Scenario> {
    if sections.scenario_keys.is_empty() {
        return None;
    }
    let id = dir
        .canonicalize()
        .ok()
        .as_deref()
        .unwrap_or(dir)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (mut scenario, facts) = Builder::new(cx).build(id, &sections)?;
    super::validate::run(&mut scenario, &facts, cx);
    Some(scenario)
}

/// Whether diagnostics hold an error (helper for tests and tools).
pub fn count(diagnostics: &[Diagnostic], severity: Severity) -> usize {
    diagnostics
        .iter()
        .filter(|d| d.severity == severity)
        .count()
}
