//! Request verification with a cached chain: the cost of one verified request
//! should be one RSA check (plus header and URL parsing).
//!
//! Run: `cargo bench --bench verify -- --warm-up-time 1 --measurement-time 3`.

#[path = "../tests/alexa/pki.rs"]
mod pki;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{criterion_group, criterion_main, Criterion};
use http::{HeaderMap, HeaderValue};
use steptalk::alexa::verify::{MapFetcher, Verifier, VerifierConfig};

const URL: &str = "https://s3.amazonaws.com/echo.api/bench.pem";

fn bench(c: &mut Criterion) {
    let ca = pki::Ca::new("bench CA");
    let fetcher = Arc::new(MapFetcher::new([(
        URL.to_string(),
        ca.chain("echo-api.amazon.com", ((2024, 1, 1), (2025, 1, 1))),
    )]));
    let verifier = Verifier::new(VerifierConfig {
        trust_anchors: vec![ca.anchor()],
        skill_ids: vec!["amzn1.ask.skill.bench".to_string()],
        fetcher,
        timestamp_tolerance: Duration::from_secs(150),
        skill_event_tolerance: Duration::from_secs(3600),
    });
    let body = br#"{"version":"1.0","context":{"System":{"application":{"applicationId":"amzn1.ask.skill.bench"},"user":{"userId":"amzn1.ask.account.1"}}},"request":{"type":"IntentRequest","requestId":"r1","timestamp":"2024-06-01T12:00:00Z","intent":{"name":"HelloIntent"}}}"#;
    let mut headers = HeaderMap::new();
    headers.insert("SignatureCertChainUrl", HeaderValue::from_static(URL));
    headers.insert(
        "Signature-256",
        HeaderValue::from_str(&pki::sign_sha256(body)).unwrap(),
    );
    let now = UNIX_EPOCH + Duration::from_secs(1_717_243_200); // 2024-06-01T12:00:00Z
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    // Fill the cache (the one chain validation this verifier will do).
    rt.block_on(verifier.verify(&headers, body, now)).unwrap();

    let verify = |now: SystemTime| rt.block_on(verifier.verify(&headers, body, now));
    c.bench_function("verify/cached_chain_full", |b| {
        b.iter(|| black_box(verify(black_box(now))).unwrap())
    });
    c.bench_function("verify/cached_chain_signature_only", |b| {
        b.iter(|| {
            rt.block_on(verifier.verify_signature(&headers, black_box(body), now))
                .unwrap()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
