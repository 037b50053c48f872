//! Author-facing findings: spans into scenario files, the source map that can
//! render them, and the `Diagnostic` data type shared by the loader, the
//! validator and the expression compiler.
//!
//! Diagnostics are plain data. They are rendered in exactly one place
//! ([`render`]) so `check`, `test` and `serve` print them the same way.

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Index of a file in a [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct FileId(pub u32);

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct LineCol {
    pub line: u32,
    pub col: u32,
}

/// A place in a scenario file. `end` may equal `start` when only a point is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    pub file: FileId,
    pub start: LineCol,
    pub end: LineCol,
}

impl Span {
    /// A span covering a single point.
    pub fn point(file: FileId, line: u32, col: u32) -> Span {
        let at = LineCol { line, col };
        Span {
            file,
            start: at,
            end: at,
        }
    }
}

/// One loaded source file.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: Arc<str>,
}

/// File id → path and text, so any [`Span`] can be rendered later.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    /// Adds a file and returns its id.
    pub fn add(&mut self, path: PathBuf, text: impl Into<Arc<str>>) -> FileId {
        let id = FileId(self.files.len() as u32);
        self.files.push(SourceFile {
            path,
            text: text.into(),
        });
        id
    }

    /// The file behind `id`, if it exists.
    pub fn get(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }

    /// The path behind `id`, or `<unknown>`.
    pub fn path(&self, id: FileId) -> &Path {
        self.get(id)
            .map(|f| f.path.as_path())
            .unwrap_or(Path::new("<unknown>"))
    }

    /// The 1-based line `line` of file `id`, without its line ending.
    pub fn line(&self, id: FileId, line: u32) -> Option<&str> {
        let file = self.get(id)?;
        file.text.lines().nth(line.checked_sub(1)? as usize)
    }

    /// All files, in id order.
    pub fn files(&self) -> &[SourceFile] {
        &self.files
    }
}

/// How bad a finding is. `check` exits 1 when any finding is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Note,
}

/// A secondary place worth showing next to the primary one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// One finding about a scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Stable kebab-case identifier, e.g. `unknown-next-step`.
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    /// Where the problem is. `None` only for problems with no file (an empty folder).
    pub span: Option<Span>,
    /// Where the problem is when there is no span (a folder, a file that could not be read).
    pub path: Option<PathBuf>,
    pub labels: Vec<Label>,
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error at `span`.
    pub fn error(code: &'static str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Error, code, Some(span), message)
    }

    /// A warning at `span`.
    pub fn warning(code: &'static str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Warning, code, Some(span), message)
    }

    fn new(
        severity: Severity,
        code: &'static str,
        span: Option<Span>,
        message: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            code,
            severity,
            message: message.into(),
            span,
            path: None,
            labels: Vec::new(),
            help: None,
        }
    }

    /// An error about a path as a whole (no line is known).
    pub fn path_error(code: &'static str, path: &Path, message: impl Into<String>) -> Diagnostic {
        let mut d = Diagnostic::new(Severity::Error, code, None, message);
        d.path = Some(path.to_path_buf());
        d
    }

    /// Adds a `help:` line.
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Adds a secondary label.
    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    /// Whether this finding is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The file path a diagnostic points at, as the source map holds it.
fn diagnostic_path<'a>(d: &'a Diagnostic, sources: &'a SourceMap) -> Option<&'a Path> {
    match (&d.span, &d.path) {
        (Some(span), _) => Some(sources.path(span.file)),
        (None, Some(path)) => Some(path.as_path()),
        (None, None) => None,
    }
}

/// The one-line header: `file:line:col: error[code]: message`.
pub fn render_header(d: &Diagnostic, sources: &SourceMap) -> String {
    let severity = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    };
    let place = match (diagnostic_path(d, sources), d.span) {
        (Some(path), Some(span)) => format!(
            "{}:{}:{}: ",
            path.display(),
            span.start.line,
            span.start.col
        ),
        (Some(path), None) => format!("{}: ", path.display()),
        (None, _) => String::new(),
    };
    format!("{place}{severity}[{}]: {}", d.code, d.message)
}

/// Renders a diagnostic the way rustc does: the header line, then the source
/// line with a caret under the span, then secondary labels and `help:`.
/// This is the only place diagnostics are drawn (`check`, `test`, `serve`).
pub fn render(d: &Diagnostic, sources: &SourceMap, color: bool) -> String {
    use annotate_snippets::{Level, Renderer, Snippet};

    let mut out = render_header(d, sources);
    let level = match d.severity {
        Severity::Error => Level::Error,
        Severity::Warning => Level::Warning,
        Severity::Note => Level::Note,
    };
    let label_notes: Vec<String> = d
        .labels
        .iter()
        .map(|l| {
            format!(
                "{}: {}:{}:{}",
                l.message,
                sources.path(l.span.file).display(),
                l.span.start.line,
                l.span.start.col
            )
        })
        .collect();
    let source_line = d
        .span
        .and_then(|span| Some((span, sources.line(span.file, span.start.line)?)));
    let mut message = level.title("");
    // Tabs (legal after `key:`) would be drawn wider than one column and
    // shift the caret; a space keeps every byte offset.
    let mut shown = source_line
        .map(|(_, l)| l.replace('\t', " "))
        .unwrap_or_default();
    if let Some((span, line)) = source_line {
        let mut range = caret_range(line, span);
        // A very long line (minified or generated YAML) is cut to a window
        // around the caret so one diagnostic stays one screen.
        if shown.len() > MAX_SHOWN {
            let from = floor_char(&shown, range.start.saturating_sub(MAX_SHOWN / 2));
            let to = floor_char(&shown, (from + MAX_SHOWN).min(shown.len()));
            let shift = if from > 0 { 3 } else { 0 };
            let window = format!(
                "{}{}{}",
                if from > 0 { "..." } else { "" },
                &shown[from..to],
                if to < shown.len() { "..." } else { "" }
            );
            let start = range.start - from + shift;
            let end = (range.end.min(to) - from + shift).max(start);
            range = start..end;
            shown = window;
        }
        // Tabs (legal after `key:`) would be drawn wider than one column and
        // shift the caret; a space keeps every byte offset.
        message = message.snippet(
            Snippet::source(&shown)
                .line_start(span.start.line as usize)
                .annotation(level.span(range)),
        );
    }
    for note in &label_notes {
        message = message.footer(Level::Note.title(note));
    }
    if let Some(help) = &d.help {
        message = message.footer(Level::Help.title(help));
    }
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let body = renderer.render(message).to_string();
    // annotate-snippets starts with its own `error: <title>` line; our header
    // replaces it (rustc's layout with the location first, as editors expect).
    for line in body.lines().skip(1) {
        out.push('\n');
        out.push_str(line);
    }
    out
}

/// The longest source line shown in full (bytes).
const MAX_SHOWN: usize = 160;

/// The largest char boundary of `s` at or below `i`.
fn floor_char(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The byte range to underline on `line`: from the span's column to its end
/// column when that is on the same line, else the token starting there (a
/// quoted scalar up to its closing quote).
fn caret_range(line: &str, span: Span) -> std::ops::Range<usize> {
    let byte_at = |col: u32| {
        line.char_indices()
            .nth(col.saturating_sub(1) as usize)
            .map_or(line.len(), |(i, _)| i)
    };
    let start = byte_at(span.start.col);
    if span.end.line == span.start.line && span.end.col > span.start.col {
        return start..byte_at(span.end.col).max(start);
    }
    let rest = &line[start..];
    let len = match rest.chars().next() {
        Some(q @ ('\'' | '"')) => rest[1..].find(q).map_or(rest.len(), |i| i + 2),
        Some(first) => {
            // Inside a flow collection a token ends at `,`/`]`/`}`; a key ends at
            // `:`; a plain value runs to a comment or the end of the line.
            let in_flow = line[..start].trim_end().ends_with(['[', '{', ',']);
            let end = rest
                .char_indices()
                .find(|&(i, c)| {
                    let next = rest[i + c.len_utf8()..].chars().next();
                    (c == ':' && next.is_none_or(char::is_whitespace))
                        || (c == '#' && rest[..i].ends_with(char::is_whitespace))
                        || (in_flow && matches!(c, ',' | ']' | '}'))
                })
                .map_or(rest.len(), |(i, _)| i);
            rest[..end].trim_end().len().max(first.len_utf8())
        }
        None => 0,
    };
    start..start + len
}

/// A diagnostic as stable JSON, for editors and CI (`check --format json`).
pub fn render_json(d: &Diagnostic, sources: &SourceMap) -> serde_json::Value {
    let span = |s: Span| {
        serde_json::json!({
            "file": sources.path(s.file).display().to_string(),
            "line": s.start.line,
            "column": s.start.col,
            "end_line": s.end.line,
            "end_column": s.end.col,
        })
    };
    serde_json::json!({
        "code": d.code,
        "severity": d.severity,
        "message": d.message,
        "file": diagnostic_path(d, sources).map(|p| p.display().to_string()),
        "line": d.span.map(|s| s.start.line),
        "column": d.span.map(|s| s.start.col),
        "labels": d.labels.iter().map(|l| {
            let mut v = span(l.span);
            v["message"] = serde_json::Value::from(l.message.clone());
            v
        }).collect::<Vec<_>>(),
        "help": d.help,
        "rendered": render(d, sources, false),
    })
}
