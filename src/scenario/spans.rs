//! Mapping a position inside a YAML scalar (from a template or expression
//! compile error) to a line and column in the YAML file (style.md §3,
//! "Carrying spans").
//!
//! Plain and single-line quoted scalars map exactly (one more column for an
//! opening quote). A literal block (`|`) maps line by line from its first
//! content line. Where escapes or folding make the mapping uncertain, the
//! span points at the scalar's start and a note says so: we never guess.

use super::yaml::Node;
use crate::diagnostic::{SourceMap, Span};
use crate::expr::SourcePos;

/// What the mapping could not make exact.
pub(crate) const APPROXIMATE: &str =
    "the position inside this value is approximate: the error is somewhere in the value starting here";

/// Maps `pos` (1-based, inside `prefix + value_tail`, where the scalar's
/// value is `prefix` followed by the compiled source) to a file span.
/// Returns the span and, when it is not exact, a note.
pub(crate) fn map_pos(
    sources: &SourceMap,
    node: &Node,
    prefix: &str,
    pos: Option<SourcePos>,
) -> (Span, Option<&'static str>) {
    let start = node.span();
    let Some(pos) = pos else {
        return (start, None);
    };
    let Some(value) = node.as_str() else {
        return (start, None);
    };
    // Position within the whole scalar value.
    let prefix_lines = prefix.matches('\n').count() as u32;
    let prefix_last = prefix.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u32;
    let (line, col) = if pos.line <= 1 {
        (1, prefix_last + pos.col.max(1))
    } else {
        (prefix_lines + pos.line, pos.col.max(1))
    };
    let Some(src_line) = sources.line(node.file, node.line) else {
        return (start, Some(APPROXIMATE));
    };
    let raw: String = src_line.chars().skip(node.col as usize - 1).collect();
    // An exact position underlines one character: the compiler reports where
    // the problem starts, not how long it is.
    let point = |l: u32, c: u32| {
        let mut span = Span::point(node.file, l, c);
        span.end.col += 1;
        span
    };
    let first = raw.chars().next();
    if matches!(first, Some('\'') | Some('"')) {
        // Quoted: exact when single-line and nothing before the column was escaped.
        let n = col as usize - 1;
        let exact = !value.contains('\n') && raw.chars().skip(1).take(n).eq(value.chars().take(n));
        return if exact && line == 1 {
            (point(node.line, node.col + col), None)
        } else {
            (start, Some(APPROXIMATE))
        };
    }
    match block_indicator(sources, node) {
        Some('|') => {
            // Literal block: value line k is source line node.line + k - 1 at the block indent.
            (point(node.line + line - 1, node.col + col - 1), None)
        }
        Some(_) => {
            // Folded block: exact only on the first source line.
            let first_len = raw.chars().count() as u32;
            if line == 1 && col <= first_len {
                (point(node.line, node.col + col - 1), None)
            } else {
                (start, Some(APPROXIMATE))
            }
        }
        None => {
            // Plain scalar: exact when it is on one line as written.
            let first_len = raw.trim_end().chars().count() as u32;
            if line == 1 && (col <= first_len || !value.contains('\n')) {
                (point(node.line, node.col + col - 1), None)
            } else {
                (start, Some(APPROXIMATE))
            }
        }
    }
}

/// serde-saphyr locates a block scalar at its first content line; the `|`
/// or `>` ends the nearest non-blank line above it. Returns that indicator.
fn block_indicator(sources: &SourceMap, node: &Node) -> Option<char> {
    let mut line = node.line.checked_sub(1)?;
    while line >= 1 {
        let text = sources.line(node.file, line)?;
        let code = strip_comment(text).trim_end();
        if code.trim().is_empty() {
            line -= 1;
            continue;
        }
        let tail = code.trim_end_matches(|c: char| c == '-' || c == '+' || c.is_ascii_digit());
        let last = tail.chars().last()?;
        let before = tail[..tail.len() - last.len_utf8()].chars().last();
        return match (last, before) {
            ('|' | '>', None | Some(' ') | Some('\t') | Some(':') | Some('-')) => Some(last),
            _ => None,
        };
    }
    None
}

fn strip_comment(line: &str) -> &str {
    match line.find(" #") {
        Some(i) => &line[..i],
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::FileId;
    use crate::scenario::yaml::{parse, Value};

    /// Parses `text`, finds the scalar value of key `key` (anywhere, first
    /// match) and maps `pos` inside it.
    fn map(text: &str, key: &str, prefix: &str, line: u32, col: u32) -> (u32, u32, bool) {
        let mut sources = SourceMap::default();
        let id = sources.add("t.yml".into(), text);
        assert_eq!(id, FileId(0));
        let root = parse(text, id).unwrap();
        fn find<'a>(n: &'a Node, key: &str) -> Option<&'a Node> {
            match &n.value {
                Value::Map(e) => e.iter().find_map(|(k, v)| {
                    if k.as_str() == Some(key) {
                        Some(v)
                    } else {
                        find(v, key)
                    }
                }),
                Value::Seq(items) => items.iter().find_map(|i| find(i, key)),
                _ => None,
            }
        }
        let node = find(&root, key).unwrap();
        let (span, note) = map_pos(&sources, node, prefix, Some(SourcePos { line, col }));
        (span.start.line, span.start.col, note.is_none())
    }

    #[test]
    fn positions_map_into_the_file() {
        // (yaml, key, prefix, pos line, pos col) → (file line, file col, exact)
        type Case<'a> = (&'a str, &'a str, &'a str, u32, u32, (u32, u32, bool));
        let cases: &[Case] = &[
            // Plain scalar: column offset only.
            ("a: x {{ y }}\n", "a", "", 1, 6, (1, 9, true)),
            // Single-quoted: one more column for the quote.
            ("a: 'x {{ y }}'\n", "a", "", 1, 6, (1, 10, true)),
            ("a: \"x {{ y }}\"\n", "a", "", 1, 1, (1, 5, true)),
            // An escape before the column: approximate, at the scalar start.
            ("a: 'it''s {{ y }}'\n", "a", "", 1, 9, (1, 4, false)),
            // Literal block: next line plus indent, line by line.
            ("a: |\n  one\n  {{ two }}\n", "a", "", 2, 4, (3, 6, true)),
            ("- s: |-\n    x\n", "s", "", 1, 1, (2, 5, true)),
            // Folded block: exact on its first line only.
            ("a: >\n  one {{\n  two\n", "a", "", 1, 5, (2, 7, true)),
            ("a: >\n  one\n  two {{\n", "a", "", 1, 9, (2, 3, false)),
            // `set:` right side: the prefix shifts the column.
            ("set: 'x = 1 +'\n", "set", "x = ", 1, 4, (1, 14, true)),
            // Multi-line quoted: approximate.
            ("a: 'one\n  two'\n", "a", "", 2, 1, (1, 4, false)),
        ];
        for (yaml, key, prefix, line, col, want) in cases {
            assert_eq!(map(yaml, key, prefix, *line, *col), *want, "{yaml:?}");
        }
    }
}
