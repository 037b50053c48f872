//! Alexa request verification (protocol notes §3, "Step-by-step algorithm").
//!
//! [`Verifier::verify`] checks, in order: the signature headers, the
//! certificate-chain URL, the chain (fetched once per URL, then cached), the
//! leaf's validity and `echo-api.amazon.com` name, the chain to a trusted root
//! (rustls-webpki), the RSA PKCS#1 v1.5 signature over the raw body (ring;
//! SHA-256 from `Signature-256`, else legacy SHA-1 from `Signature`), the
//! request timestamp, and the skill-id allow-list. Every failed check is its
//! own [`VerifyError`] variant; the server answers 400 and logs the Display.
//!
//! Trust anchors, the chain fetcher and the clock (`now`) are injected, so
//! tests run offline on pinned dates. A cached chain is re-used while `now`
//! lies inside the validity of every certificate on its verified path: a
//! verified request then costs one RSA check.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};

use super::envelope::{RequestBody, RequestEnvelope};
use super::x509;

/// The header naming the certificate chain.
pub const CERT_URL_HEADER: &str = "SignatureCertChainUrl";
/// The SHA-256 signature header (since March 2022).
pub const SIGNATURE_256_HEADER: &str = "Signature-256";
/// The legacy SHA-1 signature header.
pub const SIGNATURE_HEADER: &str = "Signature";
/// The name the signing certificate must carry.
pub const SIGNING_CERT_NAME: &str = "echo-api.amazon.com";
/// Cap on a downloaded chain: real ones are under 8 KB.
pub const MAX_CHAIN_BYTES: usize = 64 * 1024;

/// Why a request failed verification. Each variant names one check.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("missing SignatureCertChainUrl header")]
    MissingCertUrl,
    #[error("missing Signature-256 (or legacy Signature) header")]
    MissingSignature,
    #[error("certificate URL `{0}` is not a valid URL")]
    CertUrlInvalid(String),
    #[error("certificate URL `{0}` does not use https")]
    CertUrlScheme(String),
    #[error("certificate URL `{0}` is not on host s3.amazonaws.com")]
    CertUrlHost(String),
    #[error("certificate URL `{0}` has a path that does not start with /echo.api/")]
    CertUrlPath(String),
    #[error("certificate URL `{0}` uses a port other than 443")]
    CertUrlPort(String),
    #[error("cannot fetch certificate chain from `{url}`: {source}")]
    CertFetch {
        url: String,
        #[source]
        source: FetchError,
    },
    #[error("certificate chain from `{0}` holds no readable certificate")]
    CertParse(String),
    #[error("signing certificate is not valid yet (notBefore {not_before})")]
    CertNotYetValid { not_before: String },
    #[error("signing certificate expired (notAfter {not_after})")]
    CertExpired { not_after: String },
    #[error("signing certificate is not issued to echo-api.amazon.com")]
    CertName,
    #[error("certificate chain does not lead to a trusted root: {0}")]
    CertChain(webpki::Error),
    #[error("signing certificate does not hold an RSA key")]
    CertKey,
    #[error("signature header is not valid base64")]
    SignatureEncoding,
    #[error("request body does not match the {algorithm} signature")]
    SignatureMismatch { algorithm: &'static str },
    #[error("request body is not an Alexa request: {0}")]
    Body(#[source] super::envelope::ParseError),
    #[error("request has no timestamp")]
    MissingTimestamp,
    #[error("request timestamp is {skew_secs} s old, over the {tolerance_secs} s tolerance")]
    TimestampStale { skew_secs: u64, tolerance_secs: u64 },
    #[error(
        "request timestamp is {skew_secs} s in the future, over the {tolerance_secs} s tolerance"
    )]
    TimestampFuture { skew_secs: u64, tolerance_secs: u64 },
    #[error("request carries no application id")]
    MissingApplicationId,
    #[error("application id `{0}` is not an accepted skill id")]
    UnknownSkill(String),
}

/// Why a chain download failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    #[error("HTTP status {0}")]
    Status(u16),
    #[error("chain is over {0} bytes")]
    TooLarge(usize),
    #[error("no chain at this URL")]
    NotFound,
    #[error("{0}")]
    Transport(String),
}

/// Downloads certificate chains (PEM). The real one is [`HttpFetcher`]; tests
/// serve chains from a [`MapFetcher`] or a loopback server.
#[async_trait::async_trait]
pub trait CertFetcher: Send + Sync {
    /// The PEM bytes at `url` (called once per URL while the chain stays valid).
    async fn fetch(&self, url: &str) -> Result<Vec<u8>, FetchError>;
}

/// Fetches chains over HTTPS with reqwest (5 s timeout, [`MAX_CHAIN_BYTES`] cap).
#[derive(Debug, Clone)]
pub struct HttpFetcher {
    client: reqwest::Client,
}

impl HttpFetcher {
    /// A fetcher with its own client.
    pub fn new() -> Result<HttpFetcher, FetchError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| FetchError::Transport(e.to_string()))?;
        Ok(HttpFetcher { client })
    }
}

#[async_trait::async_trait]
impl CertFetcher for HttpFetcher {
    async fn fetch(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let transport = |e: reqwest::Error| FetchError::Transport(e.to_string());
        let mut res = self.client.get(url).send().await.map_err(transport)?;
        if res.status() != reqwest::StatusCode::OK {
            return Err(FetchError::Status(res.status().as_u16()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(transport)? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_CHAIN_BYTES {
                return Err(FetchError::TooLarge(MAX_CHAIN_BYTES));
            }
        }
        Ok(body)
    }
}

/// Serves chains from memory (tests, offline demos) and counts the fetches.
#[derive(Debug, Default)]
pub struct MapFetcher {
    chains: HashMap<String, Vec<u8>>,
    fetches: AtomicUsize,
}

impl MapFetcher {
    /// A fetcher serving `chains` (URL → PEM).
    pub fn new(chains: impl IntoIterator<Item = (String, Vec<u8>)>) -> MapFetcher {
        MapFetcher {
            chains: chains.into_iter().collect(),
            fetches: AtomicUsize::new(0),
        }
    }

    /// How many times [`CertFetcher::fetch`] was called.
    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::Relaxed)
    }
}

#[async_trait::async_trait]
impl CertFetcher for MapFetcher {
    async fn fetch(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        self.chains.get(url).cloned().ok_or(FetchError::NotFound)
    }
}

/// What a [`Verifier`] trusts and accepts.
pub struct VerifierConfig {
    /// Roots a chain must lead to (default: the Mozilla roots of `webpki-roots`).
    pub trust_anchors: Vec<TrustAnchor<'static>>,
    /// Accepted application ids; empty accepts any.
    pub skill_ids: Vec<String>,
    /// Where chains come from.
    pub fetcher: Arc<dyn CertFetcher>,
    /// Allowed |now − timestamp| (default 150 s, Amazon's maximum).
    pub timestamp_tolerance: Duration,
    /// The same for `AlexaSkillEvent.*` (default 3600 s, as the SDKs allow).
    pub skill_event_tolerance: Duration,
}

impl VerifierConfig {
    /// The production settings: Mozilla roots, chains fetched over HTTPS.
    pub fn new(skill_ids: Vec<String>) -> Result<VerifierConfig, FetchError> {
        Ok(VerifierConfig {
            trust_anchors: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            skill_ids,
            fetcher: Arc::new(HttpFetcher::new()?),
            timestamp_tolerance: Duration::from_secs(150),
            skill_event_tolerance: Duration::from_secs(3600),
        })
    }
}

/// A chain that verified once, kept by URL.
struct CachedChain {
    /// The PEM's certificates, leaf first (kept to re-verify outside `window`).
    certs: Vec<CertificateDer<'static>>,
    /// The leaf's `RSAPublicKey` DER.
    leaf_key: Vec<u8>,
    /// Unix seconds in which every certificate of the verified path is valid.
    window: (i64, i64),
}

/// Verifies that requests come from Alexa. Cheap to share (`Arc<Verifier>`).
pub struct Verifier {
    config: VerifierConfig,
    /// URL → verified chain. A std lock: it is never held across `.await`.
    cache: RwLock<HashMap<String, Arc<CachedChain>>>,
}

impl Verifier {
    /// A verifier with an empty chain cache.
    pub fn new(config: VerifierConfig) -> Verifier {
        Verifier {
            config,
            cache: RwLock::new(HashMap::new()),
        }
    }

    /// Runs every check on one request: [`verify_signature`](Self::verify_signature),
    /// then [`check_request`](Self::check_request) on the parsed body.
    pub async fn verify(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), VerifyError> {
        self.verify_signature(headers, body, now).await?;
        let (envelope, _) = super::envelope::parse_request(body).map_err(VerifyError::Body)?;
        self.check_request(&envelope, now)
    }

    /// The headers, URL, chain and signature checks (steps 2–6), on the raw body.
    pub async fn verify_signature(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), VerifyError> {
        let cert_url = header(headers, CERT_URL_HEADER).ok_or(VerifyError::MissingCertUrl)?;
        let (signature, algorithm, name): (_, &'static ring::signature::RsaParameters, _) =
            match header(headers, SIGNATURE_256_HEADER) {
                Some(sig) => (sig, &ring::signature::RSA_PKCS1_2048_8192_SHA256, "SHA-256"),
                None => match header(headers, SIGNATURE_HEADER) {
                    Some(sig) => (
                        sig,
                        &ring::signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
                        "SHA-1",
                    ),
                    None => return Err(VerifyError::MissingSignature),
                },
            };
        let url = check_cert_url(cert_url)?;
        let chain = self.chain(&url, now).await?;
        let signature = base64::engine::general_purpose::STANDARD
            .decode(signature.trim())
            .map_err(|_| VerifyError::SignatureEncoding)?;
        ring::signature::UnparsedPublicKey::new(algorithm, &chain.leaf_key)
            .verify(body, &signature)
            .map_err(|_| VerifyError::SignatureMismatch { algorithm: name })
    }

    /// The timestamp and skill-id checks (steps 7–8) on a parsed envelope.
    pub fn check_request(&self, env: &RequestEnvelope, now: SystemTime) -> Result<(), VerifyError> {
        let timestamp = env.request.timestamp.ok_or(VerifyError::MissingTimestamp)?;
        let tolerance = match env.request.body {
            RequestBody::SkillEvent(_) => self.config.skill_event_tolerance,
            _ => self.config.timestamp_tolerance,
        };
        let now_ms = unix_millis(now);
        let skew_ms = now_ms - timestamp.0.timestamp_millis();
        let tolerance_ms = i64::try_from(tolerance.as_millis()).unwrap_or(i64::MAX);
        if skew_ms.abs() > tolerance_ms {
            let skew_secs = skew_ms.unsigned_abs() / 1000;
            let tolerance_secs = tolerance.as_secs();
            return Err(if skew_ms > 0 {
                VerifyError::TimestampStale {
                    skew_secs,
                    tolerance_secs,
                }
            } else {
                VerifyError::TimestampFuture {
                    skew_secs,
                    tolerance_secs,
                }
            });
        }
        if !self.config.skill_ids.is_empty() {
            let id = env
                .application_id()
                .ok_or(VerifyError::MissingApplicationId)?;
            if !self.config.skill_ids.iter().any(|s| s == id) {
                return Err(VerifyError::UnknownSkill(id.to_string()));
            }
        }
        Ok(())
    }

    /// The verified chain for `url` at `now`: from the cache while its window
    /// holds, else fetched (or taken from the stale entry) and verified again.
    async fn chain(&self, url: &str, now: SystemTime) -> Result<Arc<CachedChain>, VerifyError> {
        let now_secs = unix_millis(now).div_euclid(1000);
        let cached = self
            .cache
            .read()
            .ok()
            .and_then(|cache| cache.get(url).cloned());
        let certs = match cached {
            Some(chain) if chain.window.0 <= now_secs && now_secs <= chain.window.1 => {
                return Ok(chain)
            }
            // Outside its window: verify the same certificates again, which
            // reports precisely which date check fails.
            Some(chain) => chain.certs.clone(),
            None => {
                let pem = self.config.fetcher.fetch(url).await.map_err(|source| {
                    VerifyError::CertFetch {
                        url: url.to_string(),
                        source,
                    }
                })?;
                CertificateDer::pem_slice_iter(&pem)
                    .collect::<Result<Vec<_>, _>>()
                    .ok()
                    .filter(|certs| !certs.is_empty())
                    .ok_or_else(|| VerifyError::CertParse(url.to_string()))?
            }
        };
        let chain = Arc::new(self.verify_chain(url, certs, now)?);
        if let Ok(mut cache) = self.cache.write() {
            cache.insert(url.to_string(), chain.clone());
        }
        Ok(chain)
    }

    /// Step 5: leaf dates, leaf name, path to a trusted root.
    fn verify_chain(
        &self,
        url: &str,
        certs: Vec<CertificateDer<'static>>,
        now: SystemTime,
    ) -> Result<CachedChain, VerifyError> {
        let now_secs = unix_millis(now).div_euclid(1000);
        let (leaf_der, intermediates) = certs
            .split_first()
            .ok_or_else(|| VerifyError::CertParse(url.to_string()))?;
        let leaf_info =
            x509::parse_cert(leaf_der).ok_or_else(|| VerifyError::CertParse(url.to_string()))?;
        if now_secs < leaf_info.not_before {
            return Err(VerifyError::CertNotYetValid {
                not_before: format_unix(leaf_info.not_before),
            });
        }
        if now_secs > leaf_info.not_after {
            return Err(VerifyError::CertExpired {
                not_after: format_unix(leaf_info.not_after),
            });
        }
        let leaf_key = leaf_info.rsa_public_key.ok_or(VerifyError::CertKey)?;
        let leaf = webpki::EndEntityCert::try_from(leaf_der).map_err(VerifyError::CertChain)?;
        let name = ServerName::try_from(SIGNING_CERT_NAME).map_err(|_| VerifyError::CertName)?;
        leaf.verify_is_valid_for_subject_name(&name)
            .map_err(|_| VerifyError::CertName)?;
        let time = UnixTime::since_unix_epoch(Duration::from_secs(now_secs.max(0) as u64));
        let path = leaf
            .verify_for_usage(
                webpki::ALL_VERIFICATION_ALGS,
                &self.config.trust_anchors,
                intermediates,
                time,
                webpki::KeyUsage::server_auth(),
                None,
                None,
            )
            .map_err(VerifyError::CertChain)?;
        let mut window = (leaf_info.not_before, leaf_info.not_after);
        for cert in path.intermediate_certificates() {
            if let Some(info) = x509::parse_cert(cert.der().as_ref()) {
                window = (window.0.max(info.not_before), window.1.min(info.not_after));
            }
        }
        Ok(CachedChain {
            certs,
            leaf_key,
            window,
        })
    }
}

/// Step 3: the URL rules. Returns the normalized URL (the cache key).
///
/// The WHATWG parser behind `url` resolves `.` and `..`, lower-cases the scheme
/// and host, and drops a default port, which is exactly the normalization the
/// rules ask for.
pub fn check_cert_url(raw: &str) -> Result<String, VerifyError> {
    let url = url::Url::parse(raw.trim()).map_err(|_| VerifyError::CertUrlInvalid(raw.into()))?;
    if url.scheme() != "https" {
        return Err(VerifyError::CertUrlScheme(raw.into()));
    }
    if url.host_str() != Some("s3.amazonaws.com") {
        return Err(VerifyError::CertUrlHost(raw.into()));
    }
    if !url.path().starts_with("/echo.api/") {
        return Err(VerifyError::CertUrlPath(raw.into()));
    }
    // `port()` is `None` for an absent port and for https's default 443.
    if url.port().is_some() {
        return Err(VerifyError::CertUrlPort(raw.into()));
    }
    Ok(url.into())
}

/// A header as text (names are case-insensitive in `HeaderMap`).
fn header<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `now` in Unix milliseconds (negative before 1970).
fn unix_millis(now: SystemTime) -> i64 {
    match now.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// Unix seconds as RFC 3339, for error messages.
fn format_unix(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| secs.to_string())
}
