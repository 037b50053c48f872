//! The Alexa adapter, data-driven: every sample request in ../shared/alexa
//! parses and maps (snapshot of the mapped turn), a table of engine outputs
//! becomes response JSON (snapshots), Alexa's sample responses read back
//! through our response types, and `CanFulfillIntentRequest` answers.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use steptalk::alexa::envelope::{parse_request, ResponseEnvelope};
use steptalk::alexa::mapping::{
    can_fulfill, respond, to_response, to_response_body, to_turn, CanFulfillQuery,
};
use steptalk::engine::{CardOutput, Request, SlotInput, TurnOutput};

fn shared_alexa(sub: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/alexa")
        .join(sub);
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipping: ../shared not found ({})", dir.display());
        None
    }
}

fn sorted_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

/// The body of a sample: a `.json` file as is, the part of a raw `.http`
/// capture after its headers.
fn sample_body(path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap();
    if path.extension().is_some_and(|e| e == "http") {
        let text = String::from_utf8(bytes).unwrap();
        let body = text
            .split_once("\r\n\r\n")
            .or_else(|| text.split_once("\n\n"))
            .map(|(_, body)| body)
            .unwrap();
        return body.as_bytes().to_vec();
    }
    bytes
}

/// Tokens are long and secret-shaped: show their start only.
fn redact(token: &str) -> String {
    format!(
        "{}… ({} chars)",
        token.chars().take(8).collect::<String>(),
        token.chars().count()
    )
}

fn request_json(request: &Request) -> Value {
    match request {
        Request::Launch => json!("Launch"),
        Request::SessionEnd => json!("SessionEnd"),
        Request::Event { name } => json!({ "Event": name }),
        Request::Intent { name, slots } => json!({
            "Intent": name,
            "slots": slots.iter().map(|s| json!({
                "name": s.name, "value": s.value, "resolved": s.resolved,
            })).collect::<Vec<_>>(),
        }),
    }
}

#[test]
fn every_sample_request_parses_and_maps() {
    let Some(dir) = shared_alexa("requests") else {
        return;
    };
    let files = sorted_files(&dir);
    assert!(
        files.len() >= 22,
        "expected the 22 samples, found {}",
        files.len()
    );
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        let snapshot = match parse_request(&sample_body(&path)) {
            Ok((env, raw)) => {
                let turn = to_turn(&env, raw.clone())
                    .unwrap_or_else(|e| panic!("{name}: mapping failed: {e}"));
                // `bottalk_input` is the envelope exactly as sent.
                assert_eq!(turn.input.raw.to_json(), raw, "{name}");
                json!({
                    "request_type": turn.request_type,
                    "request_id": turn.request_id,
                    "timestamp": turn.timestamp.map(|t| t.to_rfc3339()),
                    "locale": turn.locale,
                    "user_id": turn.user_id,
                    "application_id": turn.application_id,
                    "new_session": turn.new_session,
                    "waiting": turn.input.waiting,
                    "request": request_json(&turn.input.request),
                    "secrets": turn.input.secrets.iter().map(|s| redact(s)).collect::<Vec<_>>(),
                    "can_fulfill": turn.can_fulfill.map(|q| q.intent),
                })
            }
            Err(err) => {
                assert!(
                    name.contains("request_object_only"),
                    "{name} should parse: {err}"
                );
                json!({ "error": err.to_string() })
            }
        };
        insta::with_settings!({ snapshot_suffix => stem, description => name, omit_expression => true }, {
            insta::assert_yaml_snapshot!("request", snapshot);
        });
    }
}

#[test]
fn envelope_tolerance() {
    // (name, body, expected: Ok(request type) or Err(message fragment))
    let table: &[(&str, &str, Result<&str, &str>)] = &[
        (
            "minimal",
            r#"{"request":{"type":"LaunchRequest"}}"#,
            Ok("LaunchRequest"),
        ),
        (
            "unknown type keeps its name",
            r#"{"request":{"type":"Messaging.MessageReceived","message":{}}}"#,
            Ok("Messaging.MessageReceived"),
        ),
        (
            "unknown fields everywhere",
            r#"{"x":1,"session":{"y":2,"user":{"userId":"u","z":3}},"context":{"Other":{}},"request":{"type":"IntentRequest","w":4,"intent":{"name":"A","v":5}}}"#,
            Ok("IntentRequest"),
        ),
        (
            "nulls",
            r#"{"session":{"new":null,"attributes":null,"user":null},"context":null,"request":{"type":"IntentRequest","locale":null,"intent":{"name":"A","slots":null}}}"#,
            Ok("IntentRequest"),
        ),
        (
            "epoch ms timestamp",
            r#"{"request":{"type":"LaunchRequest","timestamp":1431520496000}}"#,
            Ok("LaunchRequest"),
        ),
        (
            "fractional ISO timestamp",
            r#"{"request":{"type":"LaunchRequest","timestamp":"2018-03-23T13:40:16.123Z"}}"#,
            Ok("LaunchRequest"),
        ),
        ("not JSON", r#"{"request":"#, Err("not JSON")),
        (
            "no request",
            r#"{"version":"1.0"}"#,
            Err("missing field `request`"),
        ),
        (
            "bare request object",
            r#"{"type":"LaunchRequest"}"#,
            Err("bare `request` object of type `LaunchRequest`"),
        ),
        (
            "intent without intent",
            r#"{"request":{"type":"IntentRequest"}}"#,
            Err("in request of type `IntentRequest`: missing field `intent`"),
        ),
        (
            "bad timestamp",
            r#"{"request":{"type":"LaunchRequest","timestamp":"yesterday"}}"#,
            Err("invalid timestamp `yesterday`"),
        ),
        (
            "boolean timestamp",
            r#"{"request":{"type":"LaunchRequest","timestamp":true}}"#,
            Err("invalid timestamp true"),
        ),
    ];
    for (name, body, expected) in table {
        let got = parse_request(body.as_bytes());
        match (expected, got) {
            (Ok(kind), Ok((env, _))) => assert_eq!(&env.request.kind, kind, "{name}"),
            (Err(fragment), Err(err)) => {
                assert!(err.to_string().contains(fragment), "{name}: {err}")
            }
            (expected, got) => panic!("{name}: expected {expected:?}, got {got:?}"),
        }
    }
}

#[test]
fn mapping_needs_a_user_and_a_skill() {
    let table = [
        (r#"{"request":{"type":"LaunchRequest"}}"#, "no user id"),
        (
            r#"{"context":{"System":{"user":{"userId":"u"}}},"request":{"type":"LaunchRequest"}}"#,
            "no application id",
        ),
    ];
    for (body, fragment) in table {
        let (env, raw) = parse_request(body.as_bytes()).unwrap();
        let err = to_turn(&env, raw).unwrap_err();
        assert!(err.to_string().contains(fragment), "{err}");
    }
}

fn output(speech: &str) -> TurnOutput {
    TurnOutput {
        speech: speech.to_string(),
        end_session: true,
        ..TurnOutput::default()
    }
}

fn response_cases() -> Vec<(&'static str, TurnOutput)> {
    let waiting = |speech: &str, reprompt: Option<&str>| TurnOutput {
        speech: speech.to_string(),
        reprompt: reprompt.map(str::to_string),
        end_session: false,
        waiting: Some("Ask Name".to_string()),
        ..TurnOutput::default()
    };
    vec![
        ("tell", output("Goodbye.")),
        ("ask_with_reprompt", waiting("What is your name?", Some("Your name, please?"))),
        ("ask_without_reprompt", waiting("What is your name?", None)),
        ("reprompt_dropped_when_ending", TurnOutput { reprompt: Some("unused".into()), ..output("Bye.") }),
        ("no_speech", output("")),
        ("escape_ampersand_and_less_than", output("Fish & chips < 5 & R&D &amp; &#38; &#x26; &copy; &; &#; &x")),
        ("keep_author_ssml", output("Hello <break time=\"1s\"/> <emphasis level=\"strong\">you</emphasis> <!-- note -->")),
        ("remove_author_speak", output("<speak>Already wrapped</speak>")),
        ("remove_speak_with_attributes", output("<speak version=\"1.1\">Attr</speak> <speaker>kept</speaker>")),
        ("less_than_before_digit_and_space", output("1 <2 and 3 < 4 and a<b")),
        ("simple_card", TurnOutput {
            card: Some(CardOutput::Simple { title: "Login".into(), text: "Line 1\nLine & 2 < 3".into() }),
            ..output("See the card.")
        }),
        ("standard_card", TurnOutput {
            card: Some(CardOutput::Standard { title: "Cat".into(), text: "A cat.".into(), image: "https://example.com/cat.png".into() }),
            ..output("Here is a cat.")
        }),
        ("link_account_card", TurnOutput {
            card: Some(CardOutput::LinkAccount { title: "Link".into(), text: "Link your account".into() }),
            ..output("Please link your account in the Alexa app.")
        }),
        ("speech_too_long", output(&"a".repeat(7_986))),
        ("speech_at_limit", output(&"a".repeat(7_985))),
        ("reprompt_too_long", waiting("Hi", Some(&"b".repeat(8_000)))),
        ("response_too_large", TurnOutput {
            card: Some(CardOutput::Simple { title: "Big".into(), text: "x".repeat(25_000) }),
            ..output("Big card.")
        }),
    ]
}

#[test]
fn outputs_map_to_response_json() {
    for (name, out) in response_cases() {
        let snapshot = match to_response(&out) {
            Ok(res) => {
                let value = serde_json::to_value(&res).unwrap();
                // The one-pass body and the envelope agree.
                let body = to_response_body(&out).unwrap();
                assert_eq!(
                    serde_json::from_slice::<Value>(&body).unwrap(),
                    value,
                    "{name}"
                );
                // Long outputs are summarised by the size cases' errors.
                value
            }
            Err(err) => {
                assert!(to_response_body(&out).is_err(), "{name}");
                json!({ "error": err.to_string() })
            }
        };
        if name == "speech_at_limit" {
            assert!(snapshot.get("error").is_none(), "{name}: {snapshot}");
            continue;
        }
        insta::with_settings!({ snapshot_suffix => name, omit_expression => true }, {
            insta::assert_json_snapshot!("response", snapshot);
        });
    }
}

fn turn_for(body: &str) -> steptalk::alexa::AlexaTurn {
    let (env, raw) = parse_request(body.as_bytes()).unwrap();
    to_turn(&env, raw).unwrap()
}

#[test]
fn session_end_and_silent_events_get_an_empty_response() {
    let ctx = r#""context":{"System":{"application":{"applicationId":"s"},"user":{"userId":"u"}}}"#;
    let ended = turn_for(&format!(
        r#"{{{ctx},"request":{{"type":"SessionEndedRequest"}}}}"#
    ));
    let event = turn_for(&format!(
        r#"{{{ctx},"request":{{"type":"AudioPlayer.PlaybackStarted"}}}}"#
    ));
    let intent = turn_for(&format!(
        r#"{{{ctx},"request":{{"type":"IntentRequest","intent":{{"name":"AMAZON.StopIntent"}}}}}}"#
    ));
    let empty = json!({"version": "1.0", "response": {}});
    let json_of = |r: ResponseEnvelope| serde_json::to_value(r).unwrap();

    // Alexa ignores speech after a session end: never send any.
    assert_eq!(json_of(respond(&ended, &output("ignored")).unwrap()), empty);
    assert_eq!(json_of(respond(&event, &output("")).unwrap()), empty);
    // An event a step answered speaks.
    let spoken = json_of(respond(&event, &output("Now playing.")).unwrap());
    assert_eq!(
        spoken["response"]["outputSpeech"]["ssml"],
        "<speak>Now playing.</speak>"
    );
    // A stop intent with no speech still ends the session explicitly.
    assert_eq!(
        json_of(respond(&intent, &output("")).unwrap()),
        json!({"version": "1.0", "response": {"shouldEndSession": true}})
    );
}

#[test]
fn sample_responses_read_back_unchanged() {
    let Some(dir) = shared_alexa("responses") else {
        return;
    };
    let mut envelopes = 0;
    for path in sorted_files(&dir) {
        let original: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        if original.get("response").is_none() {
            continue; // a bare directive object
        }
        let parsed: ResponseEnvelope = serde_json::from_value(original.clone())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut written = serde_json::to_value(&parsed).unwrap();
        // We omit an empty `sessionAttributes`; the samples spell it `{}`.
        if original.get("sessionAttributes") == Some(&json!({})) {
            written["sessionAttributes"] = json!({});
        }
        assert_eq!(written, original, "{}", path.display());
        envelopes += 1;
    }
    assert_eq!(envelopes, 6);
}

/// A scenario with one entry point (`Play`, reached by `PlayIntent`) and one
/// ordinary step (`Help`, reached by `AMAZON.HelpIntent`).
fn scenario() -> steptalk::scenario::Scenario {
    use indexmap::IndexMap;
    use steptalk::diagnostic::{SourceMap, Span};
    use steptalk::scenario::*;

    let step = |name: &str, entrypoint: bool, next: Next| Step {
        name: name.to_string(),
        span: Span::default(),
        entrypoint,
        when: None,
        actions: vec![],
        next,
    };
    let mut intents = IndexMap::new();
    intents.insert("PlayIntent".to_string(), StepId(1));
    intents.insert("AMAZON.HelpIntent".to_string(), StepId(2));
    let next = Next::Map(NextMap {
        intents,
        ..NextMap::default()
    });
    let mut slots = IndexMap::new();
    for (name, kind) in [
        (
            "genre",
            SlotKind::Custom(vec!["rock".into(), "jazz".into()]),
        ),
        ("count", SlotKind::Builtin("AMAZON.NUMBER".into())),
    ] {
        slots.insert(
            name.to_string(),
            Slot {
                name: name.into(),
                span: Span::default(),
                kind,
            },
        );
    }
    Scenario {
        id: "music".into(),
        name: "Music".into(),
        locale: "en-US".into(),
        invocation: None,
        category: None,
        example_phrases: vec![],
        steps: vec![
            step("Start", false, next),
            step("Play", true, Next::End),
            step("Help", false, Next::End),
        ],
        reprompts: vec![],
        timezone: chrono_tz::UTC,
        intents: IndexMap::new(),
        slots,
        tests: vec![],
        // Left empty on purpose: the answer must not depend on the loader's index.
        entry_points: IndexMap::new(),
        sources: SourceMap::default(),
    }
}

#[test]
fn can_fulfill_answers_from_entry_points() {
    let scenario = scenario();
    let slot = |name: &str, value: &str| SlotInput {
        name: name.into(),
        value: Some(value.into()),
        resolved: None,
    };
    let table = [
        (
            "entry point, known values",
            "PlayIntent",
            vec![slot("genre", "Rock"), slot("count", "3")],
        ),
        (
            "entry point, unlisted value",
            "PlayIntent",
            vec![slot("genre", "polka")],
        ),
        (
            "entry point, undeclared slot",
            "PlayIntent",
            vec![slot("mood", "happy")],
        ),
        ("not an entry point", "AMAZON.HelpIntent", vec![]),
        ("unknown intent", "OrderPizzaIntent", vec![]),
    ];
    let answers: Vec<Value> = table
        .into_iter()
        .map(|(case, intent, slots)| {
            let query = CanFulfillQuery { intent: intent.into(), slots };
            json!({ "case": case, "answer": serde_json::to_value(can_fulfill(&scenario, &query)).unwrap() })
        })
        .collect();
    insta::assert_json_snapshot!("can_fulfill", answers);

    // The sample CanFulfillIntentRequest becomes a query, not an engine turn.
    if let Some(dir) = shared_alexa("requests") {
        let body = std::fs::read(dir.join("07_can_fulfill_intent__jovo.json")).unwrap();
        let (env, raw) = parse_request(&body).unwrap();
        let query = to_turn(&env, raw).unwrap().can_fulfill.unwrap();
        assert_eq!(query.intent, "MyNameIsIntent");
        let answer = serde_json::to_value(can_fulfill(&scenario, &query)).unwrap();
        assert_eq!(answer["response"]["canFulfillIntent"]["canFulfill"], "NO");
    }
}

mod props {
    use super::*;
    use proptest::prelude::*;
    use steptalk::alexa::mapping::{to_ssml, MAX_SPEECH_CHARS};

    /// Text rich in the characters the SSML rules care about.
    fn speechy() -> impl Strategy<Value = String> {
        proptest::string::string_regex("([a-z ]|[&<>/!#;x0-9]|<speak>|</speak>|&amp;|é){0,60}")
            .unwrap()
    }

    proptest! {
        #[test]
        fn ssml_keeps_every_ampersand_a_reference(text in speechy()) {
            let ssml = to_ssml(&text);
            prop_assert!(ssml.starts_with("<speak>") && ssml.ends_with("</speak>"));
            let inner = &ssml["<speak>".len()..ssml.len() - "</speak>".len()];
            prop_assert!(!inner.contains("<speak>") && !inner.contains("</speak>"), "{}", ssml);
            for (i, _) in inner.match_indices('&') {
                let rest = &inner[i + 1..];
                let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '#').collect();
                prop_assert!(!name.is_empty() && rest[name.len()..].starts_with(';'), "{}", ssml);
            }
            for (i, _) in inner.match_indices('<') {
                let next = inner[i + 1..].chars().next();
                prop_assert!(next.is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '!'), "{}", ssml);
            }
        }

        #[test]
        fn outputs_map_within_limits_or_fail_typed(len in 0usize..9_000, reprompt in proptest::option::of(speechy())) {
            let out = TurnOutput {
                speech: "a&".repeat(len / 2),
                reprompt,
                end_session: false,
                waiting: Some("S".into()),
                ..TurnOutput::default()
            };
            if let Ok(res) = to_response(&out) {
                let json = serde_json::to_vec(&res).unwrap();
                prop_assert!(json.len() <= 24 * 1024);
                if let Some(steptalk::alexa::envelope::OutputSpeech::Ssml { ssml, .. }) = &res.response.output_speech {
                    prop_assert!(ssml.chars().count() <= MAX_SPEECH_CHARS);
                }
            }
        }

        #[test]
        fn parsing_arbitrary_json_never_panics(body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_request(&body);
        }

        #[test]
        fn mapping_arbitrary_envelopes_never_panics(
            kind in "[A-Za-z.]{0,20}",
            user in proptest::option::of("[a-z]{0,5}"),
            step in proptest::option::of(any::<i32>()),
        ) {
            let body = json!({
                "session": {"user": {"userId": user}, "application": {"applicationId": "s"},
                            "attributes": {"steptalk": {"step": step}}},
                "request": {"type": kind, "intent": {"name": "I"}},
            });
            if let Ok((env, raw)) = parse_request(body.to_string().as_bytes()) {
                let _ = to_turn(&env, raw);
            }
        }
    }
}
