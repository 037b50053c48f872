//! The real [`Outbound`](crate::engine::Outbound): reqwest with timeouts, a body
//! cap and `--rewrite-outbound PREFIX=REPLACEMENT` rules.
//!
//! The engine never sees reqwest: it calls [`HttpOutbound`] through the
//! [`Outbound`] trait, so tests and other channels can plug in their own.
//!
//! OWNER: engine helper.

use std::str::FromStr;
use std::sync::Arc;

use crate::engine::{Outbound, OutboundError, OutboundRequest, OutboundResponse};
use crate::scenario::HttpMethod;

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

/// Outbound HTTP over reqwest (rustls, Mozilla's roots), with rewrite rules,
/// a per-request timeout and a body cap enforced while streaming.
#[derive(Clone)]
pub struct HttpOutbound {
    client: reqwest::Client,
    rewrites: Arc<[Rewrite]>,
}

impl HttpOutbound {
    /// A client that applies `rewrites` to every URL before sending.
    pub fn new(rewrites: Vec<Rewrite>) -> Result<HttpOutbound, OutboundError> {
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .user_agent(concat!("steptalk/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| OutboundError::Other(e.to_string()))?;
        Ok(HttpOutbound {
            client,
            rewrites: rewrites.into(),
        })
    }
}

#[async_trait::async_trait]
impl Outbound for HttpOutbound {
    async fn send(&self, req: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
        let url = Rewrite::apply(&self.rewrites, &req.url);
        let method = match req.method {
            HttpMethod::Get => reqwest::Method::GET,
            HttpMethod::Post => reqwest::Method::POST,
            HttpMethod::Put => reqwest::Method::PUT,
            HttpMethod::Patch => reqwest::Method::PATCH,
            HttpMethod::Delete => reqwest::Method::DELETE,
        };
        // reqwest's timeout covers connecting, the headers and the whole body.
        let mut builder = self.client.request(method, &url).timeout(req.timeout);
        for (name, value) in &req.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(body) = req.body {
            builder = builder.body(body);
        }
        let mut res = builder.send().await.map_err(classify)?;
        let status = res.status().as_u16();
        let cap = req.body_cap;
        if res.content_length().is_some_and(|len| len > cap as u64) {
            return Err(OutboundError::TooLarge(cap));
        }
        // Content-Length may be absent or lie: count while streaming.
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(classify)? {
            if body.len() + chunk.len() > cap {
                return Err(OutboundError::TooLarge(cap));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(OutboundResponse {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

/// Sorts a reqwest error into the cases a scenario may want to tell apart. The
/// URL is left out: it may carry a credential in its query.
fn classify(err: reqwest::Error) -> OutboundError {
    if err.is_timeout() {
        OutboundError::Timeout
    } else if err.is_connect() {
        OutboundError::Connect(root_cause(&err.without_url()))
    } else {
        OutboundError::Other(root_cause(&err.without_url()))
    }
}

/// The error and its causes on one line (reqwest's own message is often just
/// "error sending request").
fn root_cause(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrite_rules() {
        let rules: Vec<Rewrite> = [
            "https://api.amazon.com=http://127.0.0.1:3001",
            "https://=http://x/",
        ]
        .iter()
        .map(|r| r.parse().unwrap())
        .collect();
        let cases = [
            (
                "https://api.amazon.com/user/profile?a=1",
                "http://127.0.0.1:3001/user/profile?a=1",
            ),
            ("https://example.com/a", "http://x/example.com/a"),
            ("http://example.com/a", "http://example.com/a"),
        ];
        for (url, expected) in cases {
            assert_eq!(Rewrite::apply(&rules, url), expected);
        }
        assert!("=nothing".parse::<Rewrite>().is_err());
        assert!("no-equals".parse::<Rewrite>().is_err());
    }
}
