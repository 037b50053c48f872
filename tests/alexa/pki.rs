//! A throwaway PKI for signature tests and the verify bench: a CA made by
//! rcgen at run time, and leaves holding the committed test-only RSA key
//! (`keys/test-signing-key.pem`, made once with `openssl genpkey`; rcgen cannot
//! generate RSA keys and ring cannot either). Nothing here is trusted anywhere.

#![allow(dead_code)]

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer, TrustAnchor};

/// The test-only RSA key (PKCS#8 PEM).
pub const SIGNING_KEY_PEM: &str = include_str!("keys/test-signing-key.pem");

/// A CA that signs leaves.
pub struct Ca {
    key: KeyPair,
    cert: rcgen::Certificate,
}

impl Ca {
    /// A fresh CA valid 2000–2099.
    pub fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        params.not_after = rcgen::date_time_ymd(2099, 1, 1);
        let cert = params.self_signed(&key).unwrap();
        Ca { key, cert }
    }

    /// The CA as a trust anchor.
    pub fn anchor(&self) -> TrustAnchor<'static> {
        webpki::anchor_from_trusted_cert(self.cert.der())
            .unwrap()
            .to_owned()
    }

    /// A PEM chain (leaf, then this CA) for a leaf with the test RSA key.
    pub fn chain(&self, san: &str, valid: ((i32, u8, u8), (i32, u8, u8))) -> Vec<u8> {
        let leaf_key = KeyPair::from_pem(SIGNING_KEY_PEM).unwrap();
        let mut params = CertificateParams::new(vec![san.to_string()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, san);
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let ((y0, m0, d0), (y1, m1, d1)) = valid;
        params.not_before = rcgen::date_time_ymd(y0, m0, d0);
        params.not_after = rcgen::date_time_ymd(y1, m1, d1);
        let leaf = params.signed_by(&leaf_key, &self.cert, &self.key).unwrap();
        format!("{}{}", leaf.pem(), self.cert.pem()).into_bytes()
    }
}

/// Signs `body` with the test key: RSA PKCS#1 v1.5, SHA-256, base64.
pub fn sign_sha256(body: &[u8]) -> String {
    use base64::Engine as _;
    let der = PrivatePkcs8KeyDer::from_pem_slice(SIGNING_KEY_PEM.as_bytes()).unwrap();
    let key = RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).unwrap();
    let mut sig = vec![0; key.public().modulus_len()];
    key.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), body, &mut sig)
        .unwrap();
    base64::engine::general_purpose::STANDARD.encode(sig)
}

/// The certificates of a PEM file.
pub fn certs(pem: &[u8]) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .unwrap()
}
