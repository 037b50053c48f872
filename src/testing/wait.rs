//! Comparing a test's rendered `wait:` with what the scenario said (spec section 7).

/// Replaces every run of whitespace with one space and trims both ends.
pub fn normalize(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether `speech` satisfies the rendered `wait`: both are whitespace-normalised,
/// the comparison is case-sensitive, and `wait` only has to be contained in the
/// speech. Each `(*)` in `wait` matches any run of characters, so the pieces
/// between wildcards must occur in the speech in that order.
///
/// Whitespace next to a `(*)` counts as part of the wildcard: `'(*) Nice choice.'`
/// passes on `'Nice choice.'`, where a literal reading would demand a space
/// before "Nice" that an author writing the wildcard never meant.
pub fn matches(wait: &str, speech: &str) -> bool {
    let speech = normalize(speech);
    let wait = normalize(wait);
    let mut from = 0;
    for piece in wait.split("(*)").map(str::trim).filter(|p| !p.is_empty()) {
        match speech[from..].find(piece) {
            Some(at) => from += at + piece.len(),
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_table() {
        let cases = [
            // (wait, speech, passes)
            ("Hello", "Hello there", true),
            ("there", "Hello there", true),
            ("hello", "Hello there", false),
            ("Hello  \n there", "Hello there", true),
            ("Hello there", "Hello\n\n   there  ", true),
            ("Hello there", "Hellothere", false),
            ("", "", true),
            ("", "anything", true),
            ("Something", "", false),
            ("(*)", "", true),
            ("(*)", "anything at all", true),
            ("Hi (*) there", "Hi Bob there", true),
            ("Hi (*) there", "Hi there", true),
            ("Hi (*) there", "there Hi", false),
            ("(*) Nice choice.", "Nice choice.", true),
            ("Your score is (*). Ready?", "Your score is 3. Ready?", true),
            ("Your score is (*). Ready?", "Your score is 3. Go?", false),
            ("a(*)b(*)c", "abc", true),
            ("a(*)b(*)c", "acb", false),
            ("Only a (*)", "Only a test", true),
        ];
        for (wait, speech, passes) in cases {
            assert_eq!(
                matches(wait, speech),
                passes,
                "wait {wait:?} on speech {speech:?}"
            );
        }
    }
}
