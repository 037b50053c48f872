//! Request verification: the real Alexa vectors and chains from ../shared (with
//! the clock pinned to their dates), then a table of every check against a
//! chain made here (SHA-256), the chain cache, and the HTTPS fetcher on loopback.

#[path = "alexa/pki.rs"]
mod pki;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue};
use steptalk::alexa::verify::{
    CertFetcher, FetchError, HttpFetcher, MapFetcher, Verifier, VerifierConfig, VerifyError,
};

fn vectors() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/alexa/test-vectors");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipping: ../shared not found ({})", dir.display());
        None
    }
}

fn at(rfc3339: &str) -> SystemTime {
    let t = chrono::DateTime::parse_from_rfc3339(rfc3339).unwrap();
    UNIX_EPOCH + Duration::from_secs(t.timestamp() as u64)
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        let name = http::HeaderName::from_bytes(name.as_bytes()).unwrap();
        map.insert(name, HeaderValue::from_str(value).unwrap());
    }
    map
}

fn verifier(
    anchors: Vec<rustls_pki_types::TrustAnchor<'static>>,
    chains: Vec<(&str, Vec<u8>)>,
    skill_ids: &[&str],
) -> (Verifier, Arc<MapFetcher>) {
    let fetcher = Arc::new(MapFetcher::new(
        chains.into_iter().map(|(url, pem)| (url.to_string(), pem)),
    ));
    let config = VerifierConfig {
        trust_anchors: anchors,
        skill_ids: skill_ids.iter().map(|s| s.to_string()).collect(),
        fetcher: fetcher.clone(),
        timestamp_tolerance: Duration::from_secs(150),
        skill_event_tolerance: Duration::from_secs(3600),
    };
    (Verifier::new(config), fetcher)
}

/// The variant name of a result: `Ok` or e.g. `CertUrlPath`.
fn outcome(res: &Result<(), VerifyError>) -> String {
    match res {
        Ok(()) => "Ok".to_string(),
        Err(e) => {
            let debug = format!("{e:?}");
            debug
                .split(|c: char| !c.is_alphanumeric())
                .next()
                .unwrap_or_default()
                .to_string()
        }
    }
}

const CERT4_URL: &str = "https://s3.amazonaws.com/echo.api/echo-api-cert-4.pem";

#[tokio::test]
async fn real_sha1_vectors_verify_on_their_dates() {
    let Some(dir) = vectors() else { return };
    let pem = std::fs::read(dir.join("echo-api-cert-4.pem")).unwrap();
    // The chain's 2017 root is distrusted today: trust its issuing CA directly.
    let issuer = pki::certs(&pem)[1].clone();
    let anchor = webpki::anchor_from_trusted_cert(&issuer)
        .unwrap()
        .to_owned();
    let (verifier, _) = verifier(vec![anchor], vec![(CERT4_URL, pem)], &[]);

    let vectors = [
        (
            "sha1_vector1_body.json",
            "sha1_vector1_signature.b64",
            "2017-02-10T07:27:59Z",
        ),
        (
            "sha1_vector2_body_utf8.json",
            "sha1_vector2_signature.b64",
            "2017-04-05T12:02:36Z",
        ),
    ];
    for (body_file, sig_file, date) in vectors {
        let body = std::fs::read(dir.join(body_file)).unwrap();
        let sig = std::fs::read_to_string(dir.join(sig_file)).unwrap();
        let h = headers(&[
            ("SignatureCertChainUrl", CERT4_URL),
            ("Signature", sig.trim()),
        ]);
        let res = verifier.verify(&h, &body, at(date)).await;
        assert_eq!(outcome(&res), "Ok", "{body_file}: {res:?}");

        let mut tampered = body.clone();
        let i = tampered.len() / 2;
        tampered[i] ^= 0x01;
        let res = verifier.verify(&h, &tampered, at(date)).await;
        assert_eq!(outcome(&res), "SignatureMismatch", "{body_file} tampered");

        // A SHA-1 signature presented as SHA-256 must not pass.
        let h256 = headers(&[
            ("SignatureCertChainUrl", CERT4_URL),
            ("Signature-256", sig.trim()),
        ]);
        let res = verifier.verify(&h256, &body, at(date)).await;
        assert_eq!(outcome(&res), "SignatureMismatch", "{body_file} as SHA-256");
    }
}

#[tokio::test]
async fn real_chains_validate_only_inside_their_dates() {
    let Some(dir) = vectors() else { return };
    // (file, anchor, date, expected): with a bogus signature, reaching
    // `SignatureMismatch` means every chain check passed.
    let table = [
        (
            "echo-api-cert-7.pem",
            "last",
            "2019-10-01T00:00:00Z",
            "SignatureMismatch",
        ),
        (
            "echo-api-cert-7.pem",
            "mozilla",
            "2019-10-01T00:00:00Z",
            "SignatureMismatch",
        ),
        (
            "echo-api-cert-7.pem",
            "last",
            "2021-01-01T00:00:00Z",
            "CertExpired",
        ),
        (
            "echo-api-cert-7.pem",
            "last",
            "2014-03-15T00:00:00Z",
            "CertNotYetValid",
        ),
        (
            "echo-api-cert-12.pem",
            "mozilla",
            "2023-06-01T00:00:00Z",
            "SignatureMismatch",
        ),
        (
            "echo-api-cert-12.pem",
            "last",
            "2023-06-01T00:00:00Z",
            "SignatureMismatch",
        ),
        (
            "echo-api-cert-12.pem",
            "mozilla",
            "2024-01-01T00:00:00Z",
            "CertExpired",
        ),
        (
            "echo-api-cert-4.pem",
            "mozilla",
            "2017-02-10T07:27:59Z",
            "CertChain",
        ),
    ];
    for (file, anchor, date, expected) in table {
        let pem = std::fs::read(dir.join(file)).unwrap();
        let anchors = match anchor {
            "last" => {
                let certs = pki::certs(&pem);
                let root = certs.last().unwrap();
                vec![webpki::anchor_from_trusted_cert(root).unwrap().to_owned()]
            }
            _ => webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let url = format!("https://s3.amazonaws.com/echo.api/{file}");
        let (verifier, _) = verifier(anchors, vec![(url.as_str(), pem)], &[]);
        let bogus = base64_of(&[0u8; 256]);
        let h = headers(&[("SignatureCertChainUrl", &url), ("Signature-256", &bogus)]);
        let res = verifier.verify_signature(&h, b"{}", at(date)).await;
        assert_eq!(
            outcome(&res),
            expected,
            "{file} with {anchor} roots at {date}: {res:?}"
        );
    }
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The pinned clock of the generated-chain table.
const NOW: &str = "2024-06-01T12:00:00Z";
const SKILL: &str = "amzn1.ask.skill.good";
const GOOD: &str = "https://s3.amazonaws.com/echo.api/good.pem";

/// How a case signs its body.
#[derive(Clone, Copy)]
enum Sig {
    Sha256,
    /// Both headers; the SHA-1 one is junk, so only a preference for
    /// `Signature-256` passes.
    Both,
    /// The SHA-256 signature under the legacy header (wrong hash).
    AsSha1,
    None,
    NotBase64,
}

struct Case {
    name: &'static str,
    url: Option<&'static str>,
    sig: Sig,
    /// Request timestamp relative to `NOW`, in seconds.
    ts_offset: i64,
    /// `None` drops the timestamp.
    with_ts: bool,
    kind: &'static str,
    skill: &'static str,
    /// Flip a body byte after signing.
    tamper: bool,
    /// The clock relative to `NOW`, in seconds.
    clock_offset: i64,
    expect: &'static str,
}

const BASE: Case = Case {
    name: "",
    url: Some(GOOD),
    sig: Sig::Sha256,
    ts_offset: 0,
    with_ts: true,
    kind: "IntentRequest",
    skill: SKILL,
    tamper: false,
    clock_offset: 0,
    expect: "Ok",
};

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "valid SHA-256",
            ..BASE
        },
        Case {
            name: "Signature-256 preferred over Signature",
            sig: Sig::Both,
            ..BASE
        },
        Case {
            name: "SHA-256 signature under the SHA-1 header",
            sig: Sig::AsSha1,
            expect: "SignatureMismatch",
            ..BASE
        },
        Case {
            name: "missing cert URL",
            url: None,
            expect: "MissingCertUrl",
            ..BASE
        },
        Case {
            name: "missing signature",
            sig: Sig::None,
            expect: "MissingSignature",
            ..BASE
        },
        Case {
            name: "signature not base64",
            sig: Sig::NotBase64,
            expect: "SignatureEncoding",
            ..BASE
        },
        Case {
            name: "body changed after signing",
            tamper: true,
            expect: "SignatureMismatch",
            ..BASE
        },
        // URL rules (protocol notes §3, valid and invalid examples).
        Case {
            name: "url scheme upper case",
            url: Some("HTTPS://s3.amazonaws.com/echo.api/good.pem"),
            ..BASE
        },
        Case {
            name: "url host upper case",
            url: Some("https://S3.AmazonAWS.com/echo.api/good.pem"),
            ..BASE
        },
        Case {
            name: "url explicit port 443",
            url: Some("https://s3.amazonaws.com:443/echo.api/good.pem"),
            ..BASE
        },
        Case {
            name: "url dot-dot back into echo.api",
            url: Some("https://s3.amazonaws.com/echo.api/../echo.api/good.pem"),
            ..BASE
        },
        Case {
            name: "url dot segment",
            url: Some("https://s3.amazonaws.com/./echo.api/good.pem"),
            ..BASE
        },
        Case {
            name: "url http",
            url: Some("http://s3.amazonaws.com/echo.api/good.pem"),
            expect: "CertUrlScheme",
            ..BASE
        },
        Case {
            name: "url other host",
            url: Some("https://notamazon.com/echo.api/good.pem"),
            expect: "CertUrlHost",
            ..BASE
        },
        Case {
            name: "url host suffix",
            url: Some("https://s3.amazonaws.com.evil.com/echo.api/good.pem"),
            expect: "CertUrlHost",
            ..BASE
        },
        Case {
            name: "url path case",
            url: Some("https://s3.amazonaws.com/EcHo.aPi/good.pem"),
            expect: "CertUrlPath",
            ..BASE
        },
        Case {
            name: "url other path",
            url: Some("https://s3.amazonaws.com/invalid.path/good.pem"),
            expect: "CertUrlPath",
            ..BASE
        },
        Case {
            name: "url dot-dot out of echo.api",
            url: Some("https://s3.amazonaws.com/echo.api/../good.pem"),
            expect: "CertUrlPath",
            ..BASE
        },
        Case {
            name: "url port 563",
            url: Some("https://s3.amazonaws.com:563/echo.api/good.pem"),
            expect: "CertUrlPort",
            ..BASE
        },
        Case {
            name: "url not a url",
            url: Some("s3.amazonaws.com/echo.api/good.pem"),
            expect: "CertUrlInvalid",
            ..BASE
        },
        // Chains.
        Case {
            name: "chain not found",
            url: Some("https://s3.amazonaws.com/echo.api/missing.pem"),
            expect: "CertFetch",
            ..BASE
        },
        Case {
            name: "chain not PEM",
            url: Some("https://s3.amazonaws.com/echo.api/garbage.pem"),
            expect: "CertParse",
            ..BASE
        },
        Case {
            name: "leaf expired",
            url: Some("https://s3.amazonaws.com/echo.api/expired.pem"),
            expect: "CertExpired",
            ..BASE
        },
        Case {
            name: "leaf not yet valid",
            url: Some("https://s3.amazonaws.com/echo.api/future.pem"),
            expect: "CertNotYetValid",
            ..BASE
        },
        Case {
            name: "leaf for another name",
            url: Some("https://s3.amazonaws.com/echo.api/wrongname.pem"),
            expect: "CertName",
            ..BASE
        },
        Case {
            name: "chain to an untrusted CA",
            url: Some("https://s3.amazonaws.com/echo.api/untrusted.pem"),
            expect: "CertChain",
            ..BASE
        },
        // Timestamps.
        Case {
            name: "timestamp 150 s old",
            ts_offset: -150,
            ..BASE
        },
        Case {
            name: "timestamp 150 s ahead",
            ts_offset: 150,
            ..BASE
        },
        Case {
            name: "timestamp 151 s old",
            ts_offset: -151,
            expect: "TimestampStale",
            ..BASE
        },
        Case {
            name: "timestamp 151 s ahead",
            ts_offset: 151,
            expect: "TimestampFuture",
            ..BASE
        },
        Case {
            name: "timestamp missing",
            with_ts: false,
            expect: "MissingTimestamp",
            ..BASE
        },
        Case {
            name: "skill event 3000 s old",
            ts_offset: -3000,
            kind: "AlexaSkillEvent.SkillEnabled",
            ..BASE
        },
        Case {
            name: "skill event 3601 s old",
            ts_offset: -3601,
            kind: "AlexaSkillEvent.SkillEnabled",
            expect: "TimestampStale",
            ..BASE
        },
        // Skill ids.
        Case {
            name: "other skill id",
            skill: "amzn1.ask.skill.other",
            expect: "UnknownSkill",
            ..BASE
        },
        // The clock moves past the leaf's notAfter (2025-01-01).
        Case {
            name: "clock after leaf expiry",
            clock_offset: 250 * 86_400,
            expect: "CertExpired",
            ..BASE
        },
    ]
}

fn body(case: &Case, now: chrono::DateTime<chrono::Utc>) -> Vec<u8> {
    let ts = now + chrono::Duration::seconds(case.ts_offset);
    let mut request =
        serde_json::json!({"type": case.kind, "requestId": "amzn1.echo-api.request.1"});
    if case.kind == "IntentRequest" {
        request["intent"] = serde_json::json!({"name": "HelloIntent"});
    }
    if case.with_ts {
        request["timestamp"] = ts.to_rfc3339_opts(chrono::SecondsFormat::Secs, true).into();
    }
    serde_json::to_vec(&serde_json::json!({
        "version": "1.0",
        "context": {"System": {"application": {"applicationId": case.skill},
                               "user": {"userId": "amzn1.ask.account.1"}}},
        "request": request,
    }))
    .unwrap()
}

fn generated_verifier() -> (Verifier, Arc<MapFetcher>) {
    let ca = pki::Ca::new("steptalk test CA");
    let stranger = pki::Ca::new("untrusted CA");
    let year = ((2024, 1, 1), (2025, 1, 1));
    let chains = vec![
        (GOOD, ca.chain("echo-api.amazon.com", year)),
        (
            "https://s3.amazonaws.com/echo.api/expired.pem",
            ca.chain("echo-api.amazon.com", ((2022, 1, 1), (2023, 1, 1))),
        ),
        (
            "https://s3.amazonaws.com/echo.api/future.pem",
            ca.chain("echo-api.amazon.com", ((2025, 1, 1), (2026, 1, 1))),
        ),
        (
            "https://s3.amazonaws.com/echo.api/wrongname.pem",
            ca.chain("other.example.com", year),
        ),
        (
            "https://s3.amazonaws.com/echo.api/untrusted.pem",
            stranger.chain("echo-api.amazon.com", year),
        ),
        (
            "https://s3.amazonaws.com/echo.api/garbage.pem",
            b"not a certificate".to_vec(),
        ),
    ];
    verifier(vec![ca.anchor()], chains, &[SKILL])
}

#[tokio::test]
async fn every_check_has_its_own_error() {
    let (verifier, _) = generated_verifier();
    let now = chrono::DateTime::parse_from_rfc3339(NOW).unwrap().to_utc();
    let mut report = Vec::new();
    for case in cases() {
        let mut body = body(&case, now);
        let sig = pki::sign_sha256(&body);
        if case.tamper {
            body[10] ^= 0x01;
        }
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        if let Some(url) = case.url {
            pairs.push(("SignatureCertChainUrl", url));
        }
        match case.sig {
            Sig::Sha256 => pairs.push(("Signature-256", &sig)),
            Sig::Both => {
                pairs.push(("Signature-256", &sig));
                pairs.push(("Signature", "AAAA"));
            }
            Sig::AsSha1 => pairs.push(("Signature", &sig)),
            Sig::None => {}
            Sig::NotBase64 => pairs.push(("Signature-256", "not base64!")),
        }
        let clock = at(NOW) + Duration::from_secs(case.clock_offset as u64);
        let res = verifier.verify(&headers(&pairs), &body, clock).await;
        assert_eq!(outcome(&res), case.expect, "{}: {res:?}", case.name);
        let shown = match &res {
            Ok(()) => "ok".to_string(),
            Err(e) => e.to_string(),
        };
        report.push(format!("{}: {shown}", case.name));
    }
    insta::assert_snapshot!("verify_errors", report.join("\n"));
}

#[tokio::test]
async fn a_cached_chain_is_fetched_once_and_rechecked_after_its_window() {
    let (verifier, fetcher) = generated_verifier();
    let now = chrono::DateTime::parse_from_rfc3339(NOW).unwrap().to_utc();
    for i in 0..5 {
        let case = Case {
            ts_offset: -i,
            ..BASE
        };
        let body = body(&case, now);
        let sig = pki::sign_sha256(&body);
        let h = headers(&[("SignatureCertChainUrl", GOOD), ("Signature-256", &sig)]);
        verifier.verify(&h, &body, at(NOW)).await.unwrap();
    }
    assert_eq!(fetcher.fetches(), 1);

    // Past the leaf's notAfter the cached certificates are checked again
    // (no new download) and the date check names the problem.
    let later = at(NOW) + Duration::from_secs(365 * 86_400);
    let body = body(&BASE, now);
    let sig = pki::sign_sha256(&body);
    let h = headers(&[("SignatureCertChainUrl", GOOD), ("Signature-256", &sig)]);
    let res = verifier.verify_signature(&h, &body, later).await;
    assert_eq!(outcome(&res), "CertExpired");
    assert_eq!(fetcher.fetches(), 1);
}

#[tokio::test]
async fn http_fetcher_reads_chains_over_loopback() {
    use axum::routing::get;
    let app = axum::Router::new().route("/echo.api/chain.pem", get(|| async { "PEM BYTES" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let fetcher = HttpFetcher::new().unwrap();
    let got = fetcher
        .fetch(&format!("http://{addr}/echo.api/chain.pem"))
        .await
        .unwrap();
    assert_eq!(got, b"PEM BYTES");
    let missing = fetcher
        .fetch(&format!("http://{addr}/echo.api/nope.pem"))
        .await;
    assert!(
        matches!(missing, Err(FetchError::Status(404))),
        "{missing:?}"
    );
}
