//! Parsers for the two places a signature can be: the `Authorization` header (sigv4 §1.2) and the
//! presigned query string (sigv4 §1.3). Both are public so that the fuzz targets can call them.

use std::borrow::Cow;
use std::fmt;

use super::canonical::{Buf, QueryPlus, query_decode};
use super::error::{Echo, MissingParams, SigV4Error};
use super::{Algorithm, SignatureLocation};

/// The authentication parameters of one request, from either location. Values are raw bytes as
/// sent (the query form's are percent-decoded). `Debug` never prints the signature or the token.
#[derive(Clone)]
pub struct AuthParams<'a> {
    /// The signature algorithm.
    pub algorithm: Algorithm,
    /// Header or query.
    pub location: SignatureLocation,
    /// `Credential` / `X-Amz-Credential` (`AKID/scope`).
    pub credential: Option<Cow<'a, [u8]>>,
    /// Query form only: `X-Amz-Credential` exactly as it appears in the query (still encoded).
    pub credential_raw: Option<&'a str>,
    /// `SignedHeaders` / `X-Amz-SignedHeaders`.
    pub signed_headers: Option<Cow<'a, [u8]>>,
    /// `Signature` / `X-Amz-Signature`.
    pub(crate) signature: Option<Cow<'a, [u8]>>,
    /// Query form only: `X-Amz-Date`.
    pub date: Option<Cow<'a, [u8]>>,
    /// Query form only: `X-Amz-Expires`.
    pub expires: Option<Cow<'a, [u8]>>,
    /// Query form only: `X-Amz-Security-Token`.
    pub(crate) security_token: Option<Cow<'a, [u8]>>,
    /// Query form only: `X-Amz-Region-Set`.
    pub region_set: Option<Cow<'a, [u8]>>,
}

fn text<'v>(value: &'v Option<Cow<'_, [u8]>>) -> Option<Cow<'v, str>> {
    value.as_deref().map(String::from_utf8_lossy)
}

impl fmt::Debug for AuthParams<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthParams")
            .field("algorithm", &self.algorithm)
            .field("location", &self.location)
            .field("credential", &text(&self.credential))
            .field("signed_headers", &text(&self.signed_headers))
            .field(
                "signature",
                &self.signature.as_ref().map(|_| "** redacted **"),
            )
            .field("date", &text(&self.date))
            .field("expires", &text(&self.expires))
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "** redacted **"),
            )
            .field("region_set", &text(&self.region_set))
            .finish()
    }
}

impl<'a> AuthParams<'a> {
    fn empty(algorithm: Algorithm, location: SignatureLocation) -> Self {
        Self {
            algorithm,
            location,
            credential: None,
            credential_raw: None,
            signed_headers: None,
            signature: None,
            date: None,
            expires: None,
            security_token: None,
            region_set: None,
        }
    }
}

/// The algorithm token of an `Authorization` value: everything before the first space or tab.
pub(crate) fn scheme(value: &[u8]) -> &[u8] {
    let end = memchr::memchr2(b' ', b'\t', value).unwrap_or(value.len());
    value.get(..end).unwrap_or_default()
}

/// Whether an `Authorization` value uses an AWS4 scheme (any `AWS4-…` token).
pub(crate) fn is_aws4_scheme(value: &[u8]) -> bool {
    scheme(value).starts_with(b"AWS4-")
}

fn algorithm_from(token: &[u8]) -> Option<Algorithm> {
    match token {
        b"AWS4-HMAC-SHA256" => Some(Algorithm::SigV4),
        b"AWS4-ECDSA-P256-SHA256" => Some(Algorithm::SigV4A),
        _ => None,
    }
}

/// The algorithm as quoted in `Unsupported AWS 'algorithm'`: AWS-looking tokens and short
/// alphabetic schemes (`Bearer`, `Basic`) verbatim; anything else could be a bare credential and
/// is not echoed.
fn unsupported(token: &[u8]) -> SigV4Error {
    let looks_like_scheme = token.len() <= 16 && token.iter().all(u8::is_ascii_alphabetic);
    if token.starts_with(b"AWS") || looks_like_scheme {
        SigV4Error::UnsupportedAlgorithm(Echo::new(token))
    } else {
        SigV4Error::UnsupportedAlgorithm(Echo::new(b"** redacted **"))
    }
}

/// Whether a bare token (no `=`) looks like a signature, which must not be echoed.
fn looks_secret(token: &[u8]) -> bool {
    token.len() >= 16 && token.iter().all(u8::is_ascii_hexdigit)
}

/// Whether every byte of an `Authorization` value is visible ASCII, a space or a tab.
///
/// Written as a fold without an early exit so that it compiles to a vector loop: the header is
/// ~230 bytes and this check used to be a third of the parser's time.
fn valid_authorization_bytes(value: &[u8]) -> bool {
    let invalid = value.iter().fold(0u8, |acc, &b| {
        let graphic = b.wrapping_sub(b'!') <= b'~' - b'!';
        acc | u8::from(!graphic & (b != b' ') & (b != b'\t'))
    });
    invalid == 0
}

/// Parses an `Authorization` header value (`AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…,
/// Signature=…`). Parameters may be separated by commas and/or whitespace, as AWS accepts.
///
/// Missing parameters are left `None`: AWS reports them together with the date header's absence,
/// which only the caller can see.
pub fn parse_authorization(value: &[u8]) -> Result<AuthParams<'_>, SigV4Error> {
    if !valid_authorization_bytes(value) {
        return Err(SigV4Error::InvalidAuthorizationHeader);
    }
    let token = scheme(value);
    let algorithm = algorithm_from(token).ok_or_else(|| unsupported(token))?;
    let mut params = AuthParams::empty(algorithm, SignatureLocation::Header);
    let mut rest = value.get(token.len()..).unwrap_or_default();
    // One pass: each part is a maximal run of bytes other than `,`, space and tab, found with
    // `memchr3` rather than a byte-at-a-time split.
    loop {
        let start = rest
            .iter()
            .position(|&b| b != b',' && b != b' ' && b != b'\t')
            .unwrap_or(rest.len());
        rest = rest.get(start..).unwrap_or_default();
        if rest.is_empty() {
            break;
        }
        let end = memchr::memchr3(b',', b' ', b'\t', rest).unwrap_or(rest.len());
        let part = rest.get(..end).unwrap_or_default();
        rest = rest.get(end..).unwrap_or_default();
        // The key is everything before the part's first `=`; none of the three keys holds one,
        // so matching `key=` as a prefix is the same test.
        let (slot, name, val) = if let Some(val) = part.strip_prefix(b"Credential=") {
            (&mut params.credential, "Credential", val)
        } else if let Some(val) = part.strip_prefix(b"SignedHeaders=") {
            (&mut params.signed_headers, "SignedHeaders", val)
        } else if let Some(val) = part.strip_prefix(b"Signature=") {
            (&mut params.signature, "Signature", val)
        } else if memchr::memchr(b'=', part).is_some() {
            continue;
        } else {
            let echo = if looks_secret(part) {
                Echo::new(b"** redacted **")
            } else {
                Echo::new(part)
            };
            return Err(SigV4Error::MissingEqualSign(echo));
        };
        if slot.is_some() {
            return Err(SigV4Error::DuplicateAuthParameter(name));
        }
        *slot = Some(Cow::Borrowed(val));
    }
    Ok(params)
}

const QUERY_AUTH_NAMES: [&str; 8] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
    "X-Amz-Region-Set",
];

fn split_param(param: &[u8]) -> (&[u8], &[u8]) {
    match param.iter().position(|&b| b == b'=') {
        Some(eq) => (
            param.get(..eq).unwrap_or_default(),
            param.get(eq + 1..).unwrap_or_default(),
        ),
        None => (param, &[]),
    }
}

fn decode(text: &[u8]) -> Cow<'_, [u8]> {
    if text.iter().any(|&b| b == b'%' || b == b'+') {
        let mut out = Buf::new();
        query_decode(&mut out, text, QueryPlus::Space);
        Cow::Owned(out.to_vec())
    } else {
        Cow::Borrowed(text)
    }
}

/// A query parameter's decoded and raw value.
type Found<'a> = (Cow<'a, [u8]>, &'a [u8]);

/// Whether the query carries presigned authentication (`X-Amz-Algorithm`, `X-Amz-Credential` or
/// `X-Amz-Signature`, names compared after decoding).
pub(crate) fn has_presigned_params(query: &[u8]) -> bool {
    query.split(|&b| b == b'&').any(|param| {
        let name = decode(split_param(param).0);
        matches!(
            name.as_ref(),
            b"X-Amz-Algorithm" | b"X-Amz-Credential" | b"X-Amz-Signature"
        )
    })
}

/// Parses the presigned-URL parameters of a query string (without the leading `?`).
///
/// Returns `Ok(None)` when the query carries no presigned authentication at all. A repeated
/// authentication parameter, a missing required one or an unknown `X-Amz-Algorithm` is an error.
pub fn parse_presigned_query(query: &str) -> Result<Option<AuthParams<'_>>, SigV4Error> {
    let query = query.as_bytes();
    if !has_presigned_params(query) {
        return Ok(None);
    }
    let mut found: [Option<Found<'_>>; 8] = Default::default();
    for param in query.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = split_param(param);
        let name = decode(name);
        let Some(i) = QUERY_AUTH_NAMES
            .iter()
            .position(|n| n.as_bytes() == name.as_ref())
        else {
            continue;
        };
        let Some(slot) = found.get_mut(i) else {
            continue;
        };
        if slot.is_some() {
            let name = QUERY_AUTH_NAMES.get(i).copied().unwrap_or_default();
            return Err(SigV4Error::DuplicateAuthParameter(name));
        }
        *slot = Some((decode(value), value));
    }
    let [
        algorithm,
        credential,
        date,
        expires,
        signed_headers,
        signature,
        token,
        region_set,
    ] = found;
    let mut missing = MissingParams::default();
    let algorithm = match &algorithm {
        None => {
            missing.insert(MissingParams::ALGORITHM);
            None
        }
        Some((token, _)) => Some(algorithm_from(token).ok_or_else(|| unsupported(token))?),
    };
    for (value, bit) in [
        (&credential, MissingParams::CREDENTIAL),
        (&signature, MissingParams::SIGNATURE),
        (&signed_headers, MissingParams::SIGNED_HEADERS),
        (&date, MissingParams::DATE),
    ] {
        if value.is_none() {
            missing.insert(bit);
        }
    }
    if algorithm == Some(Algorithm::SigV4A) && region_set.is_none() {
        missing.insert(MissingParams::REGION_SET);
    }
    let Some(algorithm) = algorithm.filter(|_| missing.is_empty()) else {
        return Err(SigV4Error::MissingQueryParameters(missing));
    };
    let mut params = AuthParams::empty(algorithm, SignatureLocation::Query);
    params.credential_raw = credential
        .as_ref()
        .and_then(|(_, raw)| std::str::from_utf8(raw).ok());
    params.credential = credential.map(|(v, _)| v);
    params.signed_headers = signed_headers.map(|(v, _)| v);
    params.signature = signature.map(|(v, _)| v);
    params.date = date.map(|(v, _)| v);
    params.expires = expires.map(|(v, _)| v);
    params.security_token = token.map(|(v, _)| v);
    params.region_set = region_set.map(|(v, _)| v);
    Ok(Some(params))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_header_with_commas_or_spaces() {
        for value in [
            "AWS4-HMAC-SHA256 Credential=A/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc",
            "AWS4-HMAC-SHA256 Credential=A/20150830/us-east-1/service/aws4_request,SignedHeaders=host;x-amz-date,Signature=abc",
            "AWS4-HMAC-SHA256 Credential=A/20150830/us-east-1/service/aws4_request SignedHeaders=host;x-amz-date Signature=abc",
        ] {
            let p = parse_authorization(value.as_bytes()).unwrap();
            assert_eq!(p.algorithm, Algorithm::SigV4);
            assert_eq!(p.signed_headers.as_deref(), Some(&b"host;x-amz-date"[..]));
            assert_eq!(p.signature.as_deref(), Some(&b"abc"[..]));
        }
    }

    #[test]
    fn header_errors() {
        assert_eq!(
            parse_authorization(b"AWS4-HMAC-SHA512 Credential=x")
                .unwrap_err()
                .to_string(),
            "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'."
        );
        assert_eq!(
            parse_authorization(b"AWS4-HMAC-SHA256 Credential= AKID/x")
                .unwrap_err()
                .to_string(),
            "'AKID/x' not a valid key=value pair (missing equal-sign) in Authorization header."
        );
        assert_eq!(
            parse_authorization(b"AWS4-HMAC-SHA256 Signature=a, Signature=b").unwrap_err(),
            SigV4Error::DuplicateAuthParameter("Signature")
        );
        assert_eq!(
            parse_authorization(b"eyJhbGciOiJIUzI1NiJ9.e30.abcdefabcdef")
                .unwrap_err()
                .to_string(),
            "Unsupported AWS 'algorithm': '** redacted **'."
        );
    }

    #[test]
    fn parses_presigned_query() {
        let q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=ab";
        let p = parse_presigned_query(q).unwrap().unwrap();
        assert_eq!(
            p.credential.as_deref(),
            Some(&b"AKID/20150830/us-east-1/service/aws4_request"[..])
        );
        assert_eq!(p.expires.as_deref(), Some(&b"3600"[..]));
        assert!(parse_presigned_query("a=b&c=d").unwrap().is_none());
        assert_eq!(
            parse_presigned_query("X-Amz-Signature=ab")
                .unwrap_err()
                .to_string(),
            "AWS query-string parameters must include 'X-Amz-Algorithm'. AWS query-string parameters must include 'X-Amz-Credential'. AWS query-string parameters must include 'X-Amz-SignedHeaders'. AWS query-string parameters must include 'X-Amz-Date'. Re-examine the query-string parameters."
        );
    }

    /// The parser as it was before it became a single pass over bytes: the reference the
    /// property below holds the new one to.
    fn reference_parse(value: &[u8]) -> Result<AuthParams<'_>, SigV4Error> {
        if !value
            .iter()
            .all(|&b| b.is_ascii_graphic() || b == b' ' || b == b'\t')
        {
            return Err(SigV4Error::InvalidAuthorizationHeader);
        }
        let token = scheme(value);
        let algorithm = algorithm_from(token).ok_or_else(|| unsupported(token))?;
        let mut params = AuthParams::empty(algorithm, SignatureLocation::Header);
        let rest = value.get(token.len()..).unwrap_or_default();
        for part in rest
            .split(|&b| b == b',' || b == b' ' || b == b'\t')
            .filter(|p| !p.is_empty())
        {
            let Some(eq) = part.iter().position(|&b| b == b'=') else {
                let echo = if looks_secret(part) {
                    Echo::new(b"** redacted **")
                } else {
                    Echo::new(part)
                };
                return Err(SigV4Error::MissingEqualSign(echo));
            };
            let key = &part[..eq];
            let val = &part[eq + 1..];
            let (slot, name) = match key {
                b"Credential" => (&mut params.credential, "Credential"),
                b"SignedHeaders" => (&mut params.signed_headers, "SignedHeaders"),
                b"Signature" => (&mut params.signature, "Signature"),
                _ => continue,
            };
            if slot.is_some() {
                return Err(SigV4Error::DuplicateAuthParameter(name));
            }
            *slot = Some(Cow::Borrowed(val));
        }
        Ok(params)
    }

    /// The algorithm and the three parameters, owned.
    type Summary = (Algorithm, [Option<Vec<u8>>; 3]);

    fn summary(r: Result<AuthParams<'_>, SigV4Error>) -> Result<Summary, SigV4Error> {
        r.map(|p| {
            (
                p.algorithm,
                [p.credential, p.signed_headers, p.signature].map(|v| v.map(|v| v.to_vec())),
            )
        })
    }

    /// Bytes that exercise the parser's branches: separators, `=`, key prefixes, invalid bytes.
    fn header_bytes() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            Just(b",".to_vec()),
            Just(b" ".to_vec()),
            Just(b"\t".to_vec()),
            Just(b"=".to_vec()),
            Just(b"Credential".to_vec()),
            Just(b"Credential=".to_vec()),
            Just(b"SignedHeaders=".to_vec()),
            Just(b"Signature=".to_vec()),
            Just(b"Signature".to_vec()),
            Just(b"0123456789abcdef0123".to_vec()),
            Just(b"AKID/20150830/us-east-1/service/aws4_request".to_vec()),
            Just(b"host;x-amz-date".to_vec()),
            proptest::collection::vec(proptest::num::u8::ANY, 0..3),
        ];
        proptest::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
    }

    proptest::proptest! {
        /// The single-pass parser agrees with the reference, value for value and error for error.
        #[test]
        fn parser_matches_reference(
            scheme in proptest::prop_oneof![
                proptest::strategy::Just(&b"AWS4-HMAC-SHA256 "[..]),
                proptest::strategy::Just(&b"AWS4-ECDSA-P256-SHA256\t"[..]),
                proptest::strategy::Just(&b""[..]),
            ],
            rest in header_bytes(),
        ) {
            let value = [scheme, rest.as_slice()].concat();
            proptest::prop_assert_eq!(
                summary(parse_authorization(&value)),
                summary(reference_parse(&value))
            );
        }
    }

    proptest::proptest! {
        /// The parsers never panic, whatever the bytes (a cheap stand-in for the fuzz targets).
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300), text in ".{0,200}") {
            let _ = parse_authorization(&bytes);
            let mut header = b"AWS4-HMAC-SHA256 ".to_vec();
            header.extend_from_slice(&bytes);
            let _ = parse_authorization(&header);
            let _ = parse_presigned_query(&text);
            let _ = parse_presigned_query(&format!("X-Amz-Algorithm=AWS4-ECDSA-P256-SHA256&{text}"));
        }
    }
}
