//! Raw utterance → intent and slots (spec section 6), for `steptalk test` and
//! the chat simulator.
//!
//! This is deliberately not a language model: an utterance matches an intent
//! when it spells out one of the intent's sample phrases, with each `{slot}`
//! capturing one or more words. Case and punctuation are ignored. A custom
//! slot's capture must be one of its declared values, a number slot's capture
//! must read as a number ("42", "minus three", "two hundred and five").
//!
//! Of all matching phrases the one with the most literal words wins; ties go to
//! fewer slots, then to the intent declared first. Nothing matching is
//! `AMAZON.FallbackIntent`, as on Alexa.
//!
//! Start at [`Matcher::new`], which compiles every phrase once per scenario, and
//! [`Matcher::parse`].

use indexmap::IndexMap;

use crate::scenario::{Intent, Scenario, Slot, SlotKind};

/// The intent Alexa sends when nothing matches.
pub const FALLBACK_INTENT: &str = "AMAZON.FallbackIntent";

/// What an utterance was understood as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The intent name, or [`FALLBACK_INTENT`].
    pub intent: String,
    /// Captured slots, in the order they occur in the phrase. Values are text:
    /// a custom slot's declared value, a number's digits (`"-3"`), or the
    /// captured words as typed for other types.
    pub slots: Vec<(String, String)>,
}

impl Parsed {
    fn fallback() -> Parsed {
        Parsed {
            intent: FALLBACK_INTENT.to_string(),
            slots: Vec::new(),
        }
    }
}

/// Sample phrases of Alexa's built-in intents. Alexa understands these without
/// samples in the interaction model, so a scenario that lists
/// `AMAZON.HelpIntent:` with no phrases still hears "help" in the simulator.
/// They rank after every phrase of the same score the author wrote.
const BUILTIN_SAMPLES: &[(&str, &[&str])] = &[
    ("AMAZON.HelpIntent", &["help", "help me", "what can i do"]),
    ("AMAZON.StopIntent", &["stop", "quit", "exit", "goodbye"]),
    ("AMAZON.CancelIntent", &["cancel", "never mind"]),
    ("AMAZON.YesIntent", &["yes", "yeah", "sure", "yes please"]),
    ("AMAZON.NoIntent", &["no", "nope", "no thanks"]),
    ("AMAZON.RepeatIntent", &["repeat", "say that again"]),
    ("AMAZON.StartOverIntent", &["start over", "restart"]),
    ("AMAZON.NextIntent", &["next", "skip"]),
    ("AMAZON.PreviousIntent", &["previous", "go back"]),
    ("AMAZON.PauseIntent", &["pause"]),
    ("AMAZON.ResumeIntent", &["resume", "continue"]),
];

/// One word of an utterance: its normalised form (for matching) and the text
/// as typed (for free-form slot values).
#[derive(Debug, Clone)]
struct Word {
    norm: String,
    raw: String,
}

/// A piece of a compiled sample phrase.
#[derive(Debug, Clone)]
enum Part {
    Literal(String),
    Slot(usize),
}

/// What a slot accepts, compiled.
#[derive(Debug, Clone)]
enum SlotMatch {
    /// Normalised value → declared value.
    Custom(Vec<(Vec<String>, String)>),
    Number,
    /// Any words (other built-ins, and slots the scenario never declared).
    Any,
}

#[derive(Debug, Clone)]
struct CompiledSlot {
    name: String,
    accepts: SlotMatch,
}

/// One compiled sample phrase.
#[derive(Debug, Clone)]
struct Pattern {
    /// Index into `Matcher::intents`.
    intent: usize,
    parts: Vec<Part>,
    n_literals: usize,
    n_slots: usize,
}

/// Sample phrases of a scenario, compiled once; cheap to query many times.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    intents: Vec<String>,
    slots: Vec<CompiledSlot>,
    patterns: Vec<Pattern>,
}

impl Matcher {
    /// Compiles the sample phrases of every intent the scenario declares, plus
    /// Alexa's usual phrases for built-in intents that it declares or routes.
    pub fn new(scenario: &Scenario) -> Matcher {
        let mut matcher = Matcher::from_parts(&scenario.intents, &scenario.slots);
        let routed = scenario.steps.iter().filter_map(|step| match &step.next {
            crate::scenario::Next::Map(map) => Some(map.intents.keys()),
            _ => None,
        });
        for name in routed.flatten() {
            matcher.add_builtin_samples(name);
        }
        matcher
    }

    /// Compiles declared intents and slots (the part of [`Matcher::new`] that
    /// needs no steps).
    pub fn from_parts(intents: &IndexMap<String, Intent>, slots: &IndexMap<String, Slot>) -> Self {
        let mut matcher = Matcher {
            intents: Vec::new(),
            slots: slots
                .values()
                .map(|slot| CompiledSlot {
                    name: slot.name.clone(),
                    accepts: compile_slot(&slot.kind),
                })
                .collect(),
            patterns: Vec::new(),
        };
        for intent in intents.values() {
            let idx = matcher.intent_index(&intent.name);
            for utterance in &intent.utterances {
                let pattern = matcher.compile_pattern(idx, &utterance.text);
                matcher.patterns.push(pattern);
            }
        }
        for intent in intents.values() {
            if intent.utterances.is_empty() {
                matcher.add_builtin_samples(&intent.name);
            }
        }
        matcher
    }

    /// Understands `text`: the best-matching intent and its slots, or
    /// [`FALLBACK_INTENT`].
    pub fn parse(&self, text: &str) -> Parsed {
        let words = tokenize(text);
        if words.is_empty() {
            return Parsed::fallback();
        }
        let mut best: Option<(&Pattern, Vec<(usize, String)>)> = None;
        for pattern in &self.patterns {
            if let Some((current, _)) = &best {
                // Patterns are visited in declaration order, so a later one
                // only wins with strictly more literals or strictly fewer slots.
                let better = (pattern.n_literals, std::cmp::Reverse(pattern.n_slots))
                    > (current.n_literals, std::cmp::Reverse(current.n_slots));
                if !better {
                    continue;
                }
            }
            let mut captures = Vec::new();
            if self.match_parts(&pattern.parts, &words, &mut captures) {
                best = Some((pattern, captures));
            }
        }
        match best {
            None => Parsed::fallback(),
            Some((pattern, captures)) => Parsed {
                intent: self.intents[pattern.intent].clone(),
                slots: captures
                    .into_iter()
                    .map(|(slot, value)| (self.slots[slot].name.clone(), value))
                    .collect(),
            },
        }
    }

    fn intent_index(&mut self, name: &str) -> usize {
        match self.intents.iter().position(|n| n == name) {
            Some(idx) => idx,
            None => {
                self.intents.push(name.to_string());
                self.intents.len() - 1
            }
        }
    }

    fn add_builtin_samples(&mut self, name: &str) {
        let Some((_, samples)) = BUILTIN_SAMPLES.iter().find(|(n, _)| *n == name) else {
            return;
        };
        let idx = self.intent_index(name);
        if self.patterns.iter().any(|p| p.intent == idx) {
            return;
        }
        for sample in *samples {
            let pattern = self.compile_pattern(idx, sample);
            self.patterns.push(pattern);
        }
    }

    fn slot_index(&mut self, name: &str) -> usize {
        match self.slots.iter().position(|s| s.name == name) {
            Some(idx) => idx,
            None => {
                // `check` reports an undeclared slot; here it just takes any words.
                self.slots.push(CompiledSlot {
                    name: name.to_string(),
                    accepts: SlotMatch::Any,
                });
                self.slots.len() - 1
            }
        }
    }

    fn compile_pattern(&mut self, intent: usize, text: &str) -> Pattern {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}') else {
                break;
            };
            for word in tokenize(&rest[..open]) {
                parts.push(Part::Literal(word.norm));
            }
            let name = rest[open + 1..open + close].trim();
            parts.push(Part::Slot(self.slot_index(name)));
            rest = &rest[open + close + 1..];
        }
        for word in tokenize(rest) {
            parts.push(Part::Literal(word.norm));
        }
        let n_slots = parts.iter().filter(|p| matches!(p, Part::Slot(_))).count();
        Pattern {
            intent,
            n_literals: parts.len() - n_slots,
            n_slots,
            parts,
        }
    }

    /// Backtracking match of `parts` against all of `words`. Slots try the
    /// shortest capture first; the literal count of a pattern is fixed, so
    /// which of several valid splits is found does not change the ranking.
    fn match_parts(
        &self,
        parts: &[Part],
        words: &[Word],
        captures: &mut Vec<(usize, String)>,
    ) -> bool {
        match parts.split_first() {
            None => words.is_empty(),
            Some((Part::Literal(lit), rest)) => match words.split_first() {
                Some((word, more)) if word.norm == *lit => self.match_parts(rest, more, captures),
                _ => false,
            },
            Some((Part::Slot(slot), rest)) => {
                for len in 1..=words.len() {
                    let Some(value) = self.slot_value(*slot, &words[..len]) else {
                        continue;
                    };
                    captures.push((*slot, value));
                    if self.match_parts(rest, &words[len..], captures) {
                        return true;
                    }
                    captures.pop();
                }
                false
            }
        }
    }

    fn slot_value(&self, slot: usize, words: &[Word]) -> Option<String> {
        match &self.slots[slot].accepts {
            SlotMatch::Custom(values) => values
                .iter()
                .find(|(norm, _)| {
                    norm.len() == words.len() && norm.iter().zip(words).all(|(n, w)| *n == w.norm)
                })
                .map(|(_, value)| value.clone()),
            SlotMatch::Number => parse_number(words),
            SlotMatch::Any => Some(
                words
                    .iter()
                    .map(|w| w.raw.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
        }
    }
}

fn compile_slot(kind: &SlotKind) -> SlotMatch {
    match kind {
        SlotKind::Custom(values) => SlotMatch::Custom(
            values
                .iter()
                .map(|v| (tokenize(v).into_iter().map(|w| w.norm).collect(), v.clone()))
                .collect(),
        ),
        kind if kind.is_number() => SlotMatch::Number,
        SlotKind::Builtin(_) => SlotMatch::Any,
    }
}

/// Splits text into words, ignoring case and punctuation. A word that is a
/// number as written (`-3`, `2.5`, `1,000`) is kept whole so its sign and
/// decimals survive; apostrophes vanish (`let's` is `lets`); any other
/// punctuation separates words (`twenty-one` is `twenty one`).
fn tokenize(text: &str) -> Vec<Word> {
    let mut words = Vec::new();
    for chunk in text.split_whitespace() {
        let trimmed = chunk.trim_end_matches(|c: char| c.is_ascii_punctuation() && c != '%');
        let numeric = trimmed.replace(',', "");
        if !numeric.is_empty()
            && numeric.parse::<f64>().is_ok()
            && numeric.chars().any(|c| c.is_ascii_digit())
        {
            words.push(Word {
                norm: numeric,
                raw: trimmed.to_string(),
            });
            continue;
        }
        let mut current = String::new();
        let mut raw = String::new();
        for c in chunk.chars() {
            if c.is_alphanumeric() {
                current.extend(c.to_lowercase());
                raw.push(c);
            } else if c == '\'' || c == '’' {
                // Dropped, but part of the word.
            } else if !current.is_empty() {
                words.push(Word {
                    norm: std::mem::take(&mut current),
                    raw: std::mem::take(&mut raw),
                });
            }
        }
        if !current.is_empty() {
            words.push(Word { norm: current, raw });
        }
    }
    words
}

/// Reads words as a number: digits (`42`, `-3`, `2.5`) or English number words
/// up to a million, optionally after "minus" or "negative". Returns the value
/// as text (`"-3"`), the way Alexa fills an `AMAZON.NUMBER` slot.
fn parse_number(words: &[Word]) -> Option<String> {
    let (negative, words) = match words.split_first() {
        Some((first, rest)) if matches!(first.norm.as_str(), "minus" | "negative") => (true, rest),
        _ => (false, words),
    };
    let sign = if negative { "-" } else { "" };
    if let [word] = words {
        if word.norm.parse::<f64>().is_ok() {
            let digits = word.norm.strip_prefix('+').unwrap_or(&word.norm);
            return match (negative, digits.strip_prefix('-')) {
                // "minus -3" is not a number anyone says.
                (true, Some(_)) => None,
                _ => Some(format!("{sign}{digits}")),
            };
        }
    }
    let value = parse_number_words(words)?;
    Some(format!("{sign}{value}"))
}

/// The grammar of spoken English integers up to a million.
fn parse_number_words(words: &[Word]) -> Option<u64> {
    #[derive(Clone, Copy, PartialEq)]
    enum Last {
        Start,
        A,
        Unit,
        Teen,
        Tens,
        Hundred,
        Scale,
        And,
    }
    let mut last = Last::Start;
    let mut total: u64 = 0;
    let mut group: u64 = 0;
    // The largest scale already used, so "thousand" cannot follow "thousand".
    let mut prev_scale = u64::MAX;
    if words.is_empty() {
        return None;
    }
    for word in words {
        let w = word.norm.as_str();
        if w == "zero" {
            return (words.len() == 1).then_some(0);
        }
        if let Some(unit) = unit_value(w) {
            let ok = matches!(last, Last::Start | Last::Hundred | Last::Scale | Last::And)
                || (last == Last::Tens);
            if !ok {
                return None;
            }
            group += unit;
            last = Last::Unit;
        } else if let Some(teen) = teen_value(w) {
            if !matches!(last, Last::Start | Last::Hundred | Last::Scale | Last::And) {
                return None;
            }
            group += teen;
            last = Last::Teen;
        } else if let Some(tens) = tens_value(w) {
            if !matches!(last, Last::Start | Last::Hundred | Last::Scale | Last::And) {
                return None;
            }
            group += tens;
            last = Last::Tens;
        } else if w == "a" {
            if last != Last::Start {
                return None;
            }
            last = Last::A;
        } else if w == "hundred" {
            match last {
                Last::A => group = 100,
                Last::Unit if group < 10 => group *= 100,
                Last::Teen if group < 20 => group *= 100,
                _ => return None,
            }
            last = Last::Hundred;
        } else if let Some(scale) = scale_value(w) {
            let multiplier = match last {
                Last::A => 1,
                Last::Unit | Last::Teen | Last::Tens | Last::Hundred => group,
                _ => return None,
            };
            if scale >= prev_scale {
                return None;
            }
            prev_scale = scale;
            total += multiplier * scale;
            group = 0;
            last = Last::Scale;
        } else if w == "and" {
            if !matches!(last, Last::Hundred | Last::Scale) {
                return None;
            }
            last = Last::And;
        } else {
            return None;
        }
    }
    if matches!(last, Last::Start | Last::A | Last::And) {
        return None;
    }
    let value = total + group;
    (value <= 1_000_000).then_some(value)
}

fn unit_value(w: &str) -> Option<u64> {
    let units = [
        "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    ];
    units.iter().position(|u| *u == w).map(|i| i as u64 + 1)
}

fn teen_value(w: &str) -> Option<u64> {
    let teens = [
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    teens.iter().position(|t| *t == w).map(|i| i as u64 + 10)
}

fn tens_value(w: &str) -> Option<u64> {
    let tens = [
        "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    ];
    tens.iter()
        .position(|t| *t == w)
        .map(|i| (i as u64 + 2) * 10)
}

fn scale_value(w: &str) -> Option<u64> {
    match w {
        "thousand" => Some(1_000),
        "million" => Some(1_000_000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Span;
    use crate::scenario::Utterance;

    fn intents(spec: &[(&str, &[&str])]) -> IndexMap<String, Intent> {
        spec.iter()
            .map(|(name, phrases)| {
                let intent = Intent {
                    name: name.to_string(),
                    span: Span::default(),
                    utterances: phrases
                        .iter()
                        .map(|p| Utterance {
                            text: p.to_string(),
                            span: Span::default(),
                        })
                        .collect(),
                };
                (name.to_string(), intent)
            })
            .collect()
    }

    fn slots(spec: &[(&str, SlotKind)]) -> IndexMap<String, Slot> {
        spec.iter()
            .map(|(name, kind)| {
                let slot = Slot {
                    name: name.to_string(),
                    span: Span::default(),
                    kind: kind.clone(),
                };
                (name.to_string(), slot)
            })
            .collect()
    }

    fn custom(values: &[&str]) -> SlotKind {
        SlotKind::Custom(values.iter().map(|v| v.to_string()).collect())
    }

    fn matcher() -> Matcher {
        Matcher::from_parts(
            &intents(&[
                ("yes", &["yes", "sure", "of course"]),
                (
                    "flavour_choice",
                    &["I want {flavour} ice cream", "{flavour}"],
                ),
                ("scoops_choice", &["{scoops}", "{scoops} scoops please"]),
                (
                    "where_is",
                    &["Where is the {thing}", "Where do I find {thing}"],
                ),
                ("create", &["create a new task called {task}"]),
                ("move", &["move the {order} task from {from} to {to}"]),
                ("greet", &["hello there"]),
                ("greet_name", &["hello {name}"]),
                ("AMAZON.HelpIntent", &[]),
            ]),
            &slots(&[
                ("flavour", custom(&["vanilla", "chocolate", "strawberry"])),
                ("scoops", SlotKind::Builtin("AMAZON.NUMBER".into())),
                ("thing", custom(&["TV remote", "WiFi password"])),
                ("task", SlotKind::Builtin("AMAZON.SearchQuery".into())),
                ("order", custom(&["first", "last"])),
                ("from", custom(&["TO DO", "DOING", "DONE"])),
                ("to", custom(&["TO DO", "DOING", "DONE"])),
                ("name", SlotKind::Builtin("AMAZON.FirstName".into())),
            ]),
        )
    }

    /// (utterance, intent, slots)
    type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);

    #[test]
    fn parses_utterances() {
        let m = matcher();
        let cases: &[Case] = &[
            ("yes", "yes", &[]),
            ("Of course!", "yes", &[]),
            ("  SURE. ", "yes", &[]),
            (
                "I want vanilla ice cream",
                "flavour_choice",
                &[("flavour", "vanilla")],
            ),
            ("Chocolate", "flavour_choice", &[("flavour", "chocolate")]),
            ("mint", "AMAZON.FallbackIntent", &[]),
            ("I want mint ice cream", "AMAZON.FallbackIntent", &[]),
            ("3", "scoops_choice", &[("scoops", "3")]),
            ("three", "scoops_choice", &[("scoops", "3")]),
            (
                "twenty-one scoops, please",
                "scoops_choice",
                &[("scoops", "21")],
            ),
            ("minus five", "scoops_choice", &[("scoops", "-5")]),
            ("-5", "scoops_choice", &[("scoops", "-5")]),
            ("2.5", "scoops_choice", &[("scoops", "2.5")]),
            (
                "one hundred and five",
                "scoops_choice",
                &[("scoops", "105")],
            ),
            ("a thousand", "scoops_choice", &[("scoops", "1000")]),
            (
                "two thousand three hundred forty five",
                "scoops_choice",
                &[("scoops", "2345")],
            ),
            ("one million", "scoops_choice", &[("scoops", "1000000")]),
            ("two million", "AMAZON.FallbackIntent", &[]),
            ("one two", "AMAZON.FallbackIntent", &[]),
            (
                "where is the tv remote?",
                "where_is",
                &[("thing", "TV remote")],
            ),
            (
                "Where do I find WiFi password",
                "where_is",
                &[("thing", "WiFi password")],
            ),
            (
                "create a new task called Buy Milk",
                "create",
                &[("task", "Buy Milk")],
            ),
            (
                "move the last task from to do to doing",
                "move",
                &[("order", "last"), ("from", "TO DO"), ("to", "DOING")],
            ),
            // Most literal words wins over a slot that could take the word.
            ("hello there", "greet", &[]),
            ("hello Anna", "greet_name", &[("name", "Anna")]),
            // Built-in intents hear Alexa's usual phrases.
            ("help", "AMAZON.HelpIntent", &[]),
            ("", "AMAZON.FallbackIntent", &[]),
            ("?!", "AMAZON.FallbackIntent", &[]),
        ];
        for (text, intent, expected_slots) in cases {
            let parsed = m.parse(text);
            let expected = Parsed {
                intent: intent.to_string(),
                slots: expected_slots
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            };
            assert_eq!(parsed, expected, "parsing {text:?}");
        }
    }

    #[test]
    fn ties_go_to_fewer_slots_then_declaration_order() {
        let m = Matcher::from_parts(
            &intents(&[
                ("first", &["{any} now"]),
                ("second", &["{any} now"]),
                ("fewer_slots", &["{any}"]),
                ("more_slots", &["{any} {other}"]),
            ]),
            &slots(&[
                ("any", SlotKind::Builtin("AMAZON.SearchQuery".into())),
                ("other", SlotKind::Builtin("AMAZON.SearchQuery".into())),
            ]),
        );
        assert_eq!(m.parse("go now").intent, "first");
        assert_eq!(m.parse("go away").intent, "fewer_slots");
    }

    #[test]
    fn number_words() {
        let cases: &[(&str, Option<&str>)] = &[
            ("zero", Some("0")),
            ("nineteen", Some("19")),
            ("ninety nine", Some("99")),
            ("twelve hundred", Some("1200")),
            ("a hundred and one", Some("101")),
            ("one thousand and one", Some("1001")),
            (
                "nine hundred ninety nine thousand nine hundred ninety nine",
                Some("999999"),
            ),
            ("minus 3", Some("-3")),
            ("1,000", Some("1000")),
            ("thousand thousand", None),
            ("one thousand thousand", None),
            ("and five", None),
            ("five and", None),
            ("twenty twenty", None),
            ("zero one", None),
            ("minus", None),
            ("banana", None),
        ];
        for (text, expected) in cases {
            let got = parse_number(&tokenize(text));
            assert_eq!(got.as_deref(), *expected, "reading {text:?}");
        }
    }
}
