//! `steptalk serve` with signature checks ON, for `VERIFY=1 scripts/load.sh`.
//!
//! Alexa's real certificates cannot sign test traffic, so this serves a
//! scenario with a verifier that trusts a throwaway CA made at start-up (the
//! test PKI of `tests/alexa/pki.rs`) and "downloads" the chain from memory.
//! It writes `COUNT` signed requests (one per user, timestamp now) to
//! `REQUESTS_FILE`, one `signature<TAB>body` per line, for wrk to replay
//! within the 150 s timestamp tolerance.
//!
//! Usage: `cargo run --release --example verified_serve -- ADDR SCENARIO_DIR REQUESTS_FILE COUNT`

#[path = "../tests/alexa/pki.rs"]
mod pki;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use steptalk::alexa::verify::{MapFetcher, Verifier, VerifierConfig};
use steptalk::server::{build_state, serve, shutdown_signal, ServeOptions};

// The allocator of the `steptalk` binary, so that the two compare.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CERT_URL: &str = "https://s3.amazonaws.com/echo.api/echo-api-cert-load.pem";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:3102".to_string());
    let dir = PathBuf::from(
        args.next()
            .unwrap_or_else(|| "scenarios/account-linking".to_string()),
    );
    let requests = PathBuf::from(
        args.next()
            .unwrap_or_else(|| "verified-requests.tsv".to_string()),
    );
    let count: usize = args.next().map_or(Ok(2000), |n| n.parse())?;

    let ca = pki::Ca::new("steptalk load-test CA");
    let chain = ca.chain("echo-api.amazon.com", ((2020, 1, 1), (2090, 1, 1)));
    let config = VerifierConfig {
        trust_anchors: vec![ca.anchor()],
        skill_ids: Vec::new(),
        fetcher: Arc::new(MapFetcher::new([(CERT_URL.to_string(), chain)])),
        timestamp_tolerance: Duration::from_secs(150),
        skill_event_tolerance: Duration::from_secs(3600),
    };

    let options = ServeOptions {
        dirs: vec![dir],
        listen: addr.parse()?,
        store_url: "memory://".to_string(),
        skill_ids: Vec::new(),
        // Built without the production verifier, then given the test one.
        insecure_skip_verify: true,
        rewrites: Vec::new(),
        max_record_bytes: steptalk::store::StoreOptions::default().max_record_bytes,
        watch: false,
    };
    let mut state = build_state(&options).await?;
    state.verifier = Some(Arc::new(Verifier::new(config)));

    let now = chrono::Utc::now().to_rfc3339();
    let mut out = std::io::BufWriter::new(std::fs::File::create(&requests)?);
    for n in 0..count {
        let body = format!(
            r#"{{"version":"1.0","session":{{"new":false,"sessionId":"amzn1.echo-api.session.load","application":{{"applicationId":"amzn1.ask.skill.load"}},"attributes":{{}},"user":{{"userId":"amzn1.ask.account.verified-{n}"}}}},"context":{{"System":{{"application":{{"applicationId":"amzn1.ask.skill.load"}},"user":{{"userId":"amzn1.ask.account.verified-{n}"}},"apiEndpoint":"https://api.amazonalexa.com"}}}},"request":{{"type":"IntentRequest","requestId":"amzn1.echo-api.request.load","timestamp":"{now}","locale":"en-US","intent":{{"name":"AMAZON.HelpIntent","confirmationStatus":"NONE"}}}}}}"#
        );
        writeln!(out, "{}\t{}", pki::sign_sha256(body.as_bytes()), body)?;
    }
    out.flush()?;

    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("verified steptalk listening on {addr}, chain at {CERT_URL}");
    serve(listener, state, shutdown_signal()).await?;
    Ok(())
}
