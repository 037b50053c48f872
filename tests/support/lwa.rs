//! A stand-in for the Login with Amazon profile API (`GET /user/profile`), for tests and local
//! demos. It is a real HTTP server: steptalk reaches it through
//! `--rewrite-outbound https://api.amazon.com=http://127.0.0.1:PORT`.
//!
//! Tokens it knows (the account-linking scenario's tests use them):
//! - `Atza|valid-token`: 200 with Jane's profile;
//! - `Atza|expired-token` and any unknown token: 400 `invalid_token`, as Amazon answers;
//! - `Atza|slow-token`: the profile, but only after 10 s (longer than steptalk's 3 s call timeout);
//! - `Atza|broken-token`: the connection is dropped without an answer.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::Query;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

/// The e-mail of the `Atza|valid-token` user.
#[allow(dead_code)]
pub const EMAIL: &str = "jane@example.com";

/// The stand-in's routes.
pub fn router() -> Router {
    Router::new().route("/user/profile", get(profile))
}

async fn profile(Query(query): Query<HashMap<String, String>>, headers: HeaderMap) -> Response {
    // LWA accepts the token as a query parameter, a bearer token or `x-amz-access-token`.
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let header = headers
        .get("x-amz-access-token")
        .and_then(|v| v.to_str().ok());
    let token = query
        .get("access_token")
        .map(String::as_str)
        .or(bearer)
        .or(header);
    match token {
        Some("Atza|valid-token") => jane().into_response(),
        Some("Atza|slow-token") => {
            tokio::time::sleep(Duration::from_secs(10)).await;
            jane().into_response()
        }
        Some("Atza|broken-token") => {
            // A body stream that fails half-way: hyper aborts the connection mid-answer.
            let chunks: Vec<Result<&'static str, std::io::Error>> = vec![
                Ok("{\"email\""),
                Err(std::io::Error::other("connection dropped")),
            ];
            let body = axum::body::Body::from_stream(futures::stream::iter(chunks));
            (StatusCode::OK, [("content-type", "application/json")], body).into_response()
        }
        _ => (
            StatusCode::BAD_REQUEST,
            Json(json!({
                "error_description": "The request has an invalid parameter : access_token",
                "error": "invalid_token"
            })),
        )
            .into_response(),
    }
}

fn jane() -> Json<serde_json::Value> {
    Json(json!({"email": EMAIL, "name": "Jane Doe", "user_id": "amzn1.account.JANEDOE"}))
}

/// Serves the stand-in on `listener` until the process ends.
#[allow(dead_code)]
pub async fn serve(listener: tokio::net::TcpListener) -> std::io::Result<()> {
    axum::serve(listener, router()).await
}
