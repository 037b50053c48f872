//! Just enough DER to read a certificate's validity window and its RSA public key.
//!
//! rustls-webpki validates chains but keeps validity and the raw key to
//! itself; the verifier needs both to serve a cached chain with one RSA check
//! (and to name an expired signing certificate precisely). This reader does
//! not validate anything: it runs only on certificates webpki also parses.

/// What the verifier needs from one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CertInfo {
    /// notBefore, seconds since the Unix epoch.
    pub not_before: i64,
    /// notAfter, seconds since the Unix epoch.
    pub not_after: i64,
    /// The `RSAPublicKey` DER (the SPKI bit string), when the key is RSA.
    pub rsa_public_key: Option<Vec<u8>>,
}

const SEQUENCE: u8 = 0x30;
const CONTEXT_0: u8 = 0xA0;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OID: u8 = 0x06;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
/// 1.2.840.113549.1.1.1 (rsaEncryption).
const RSA_ENCRYPTION: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];

/// Reads one tag-length-value; returns (tag, contents) and advances `input`.
fn read_tlv<'a>(input: &mut &'a [u8]) -> Option<(u8, &'a [u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7F);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let (bytes, after) = rest.split_at(n);
        rest = after;
        bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
    };
    if rest.len() < len {
        return None;
    }
    let (contents, after) = rest.split_at(len);
    *input = after;
    Some((tag, contents))
}

/// Reads a TLV and requires its tag.
fn expect<'a>(input: &mut &'a [u8], tag: u8) -> Option<&'a [u8]> {
    match read_tlv(input)? {
        (t, contents) if t == tag => Some(contents),
        _ => None,
    }
}

/// Parses a certificate's DER.
pub(crate) fn parse_cert(der: &[u8]) -> Option<CertInfo> {
    let mut input = der;
    let mut cert = expect(&mut input, SEQUENCE)?;
    let mut tbs = expect(&mut cert, SEQUENCE)?;
    if tbs.first() == Some(&CONTEXT_0) {
        read_tlv(&mut tbs)?; // version
    }
    expect(&mut tbs, INTEGER)?; // serialNumber
    expect(&mut tbs, SEQUENCE)?; // signature
    expect(&mut tbs, SEQUENCE)?; // issuer
    let mut validity = expect(&mut tbs, SEQUENCE)?;
    let not_before = read_time(&mut validity)?;
    let not_after = read_time(&mut validity)?;
    expect(&mut tbs, SEQUENCE)?; // subject
    let mut spki = expect(&mut tbs, SEQUENCE)?;
    let mut algorithm = expect(&mut spki, SEQUENCE)?;
    let oid = expect(&mut algorithm, OID)?;
    let key_bits = expect(&mut spki, BIT_STRING)?;
    let rsa_public_key = match key_bits.split_first() {
        // The first byte counts unused bits; a key has none.
        Some((0, key)) if oid == RSA_ENCRYPTION => Some(key.to_vec()),
        _ => None,
    };
    Some(CertInfo {
        not_before,
        not_after,
        rsa_public_key,
    })
}

/// Reads a UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`).
fn read_time(input: &mut &[u8]) -> Option<i64> {
    let (tag, text) = read_tlv(input)?;
    let text = std::str::from_utf8(text).ok()?;
    let digits = text.strip_suffix('Z')?;
    // All ASCII digits, so the byte slicing below stays on char boundaries.
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (year, rest) = match tag {
        UTC_TIME if digits.len() == 12 => {
            let yy: i32 = digits[..2].parse().ok()?;
            // RFC 5280 4.1.2.5.1: 50–99 are 19xx, 00–49 are 20xx.
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &digits[2..])
        }
        GENERALIZED_TIME if digits.len() == 14 => (digits[..4].parse().ok()?, &digits[4..]),
        _ => return None,
    };
    let field = |i: usize| rest.get(i..i + 2)?.parse::<u32>().ok();
    let date = chrono::NaiveDate::from_ymd_opt(year, field(0)?, field(2)?)?;
    let time = date.and_hms_opt(field(4)?, field(6)?, field(8)?)?;
    Some(time.and_utc().timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        let cases: &[(u8, &str, Option<i64>)] = &[
            (UTC_TIME, "161007000000Z", Some(1_475_798_400)),
            (UTC_TIME, "491231235959Z", Some(2_524_607_999)),
            (UTC_TIME, "500101000000Z", Some(-631_152_000)),
            (GENERALIZED_TIME, "20500101000000Z", Some(2_524_608_000)),
            (UTC_TIME, "1610070000Z", None),
            (UTC_TIME, "161307000000Z", None),
            (UTC_TIME, "1é100700000Z", None),
            (GENERALIZED_TIME, "161007000000Z", None),
        ];
        for (tag, text, want) in cases {
            let mut der = vec![*tag, text.len() as u8];
            der.extend_from_slice(text.as_bytes());
            assert_eq!(read_time(&mut der.as_slice()), *want, "{text}");
        }
    }

    #[test]
    fn truncated_input_is_none() {
        assert_eq!(read_tlv(&mut [0x30u8, 0x05, 0x00].as_slice()), None);
        assert_eq!(
            read_tlv(&mut [0x30u8, 0x85, 0, 0, 0, 0, 1].as_slice()),
            None
        );
        assert_eq!(parse_cert(&[0x30, 0x00]), None);
    }
}
