//! The real [`Outbound`](crate::engine::Outbound): reqwest with timeouts, a body
//! cap and `--rewrite-outbound PREFIX=REPLACEMENT` rules.
//!
//! OWNER: engine helper.

use std::str::FromStr;

/// One `--rewrite-outbound PREFIX=REPLACEMENT` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrite {
    pub prefix: String,
    pub replacement: String,
}

impl FromStr for Rewrite {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('=') {
            Some((prefix, replacement)) if !prefix.is_empty() => Ok(Rewrite {
                prefix: prefix.to_string(),
                replacement: replacement.to_string(),
            }),
            _ => Err(format!("expected PREFIX=REPLACEMENT, got `{s}`")),
        }
    }
}

impl Rewrite {
    /// Applies the first matching rule of `rules` to `url`.
    pub fn apply(rules: &[Rewrite], url: &str) -> String {
        for rule in rules {
            if let Some(rest) = url.strip_prefix(&rule.prefix) {
                return format!("{}{}", rule.replacement, rest);
            }
        }
        url.to_string()
    }
}
