//! The load-test baseline: a bare axum handler that parses the same Alexa
//! envelope as `steptalk serve` and answers fixed JSON. `scripts/load.sh`
//! runs wrk against it and against steptalk and reports the ratio.
//!
//! Usage: `cargo run --release --example baseline -- 127.0.0.1:3101`

use axum::body::Bytes;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;

const ANSWER: &str = r#"{"version":"1.0","response":{"outputSpeech":{"type":"SSML","ssml":"<speak>I can tell you the e-mail address of your Amazon account.</speak>"},"shouldEndSession":false}}"#;

async fn answer(body: Bytes) -> impl IntoResponse {
    // The same parse steptalk does: the raw JSON value, then the typed envelope.
    match steptalk::alexa::envelope::parse_request(&body) {
        Ok(parsed) => {
            std::hint::black_box(parsed);
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                ANSWER,
            )
        }
        Err(_) => (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"error":"bad request"}"#,
        ),
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3101".to_string());
    let app = Router::new()
        .route("/alexa/{name}", post(answer))
        .route("/", post(answer));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("baseline listening on {addr}");
    axum::serve(listener, app).await
}
