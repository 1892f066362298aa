//! The AWS error catalogue for signature failures (sigv4 §1.11, lattice-auth §4.6).
//!
//! Every variant is a cheap `Copy` value: request data that a message quotes (a header name, an
//! algorithm, a date) is copied into a small inline [`Echo`], and timestamps are kept as seconds.
//! Strings are built only when the error is rendered. No variant ever carries a secret, a session
//! token or a signature.

use std::fmt;

/// Which required authentication parameters were missing (a small bit set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MissingParams(u8);

impl MissingParams {
    /// `Credential` / `X-Amz-Credential`.
    pub const CREDENTIAL: Self = Self(1);
    /// `Signature` / `X-Amz-Signature`.
    pub const SIGNATURE: Self = Self(1 << 1);
    /// `SignedHeaders` / `X-Amz-SignedHeaders`.
    pub const SIGNED_HEADERS: Self = Self(1 << 2);
    /// The `X-Amz-Date` / `Date` header, or the `X-Amz-Date` query parameter.
    pub const DATE: Self = Self(1 << 3);
    /// The `X-Amz-Algorithm` query parameter.
    pub const ALGORITHM: Self = Self(1 << 4);
    /// The `X-Amz-Region-Set` query parameter (SigV4A).
    pub const REGION_SET: Self = Self(1 << 5);

    /// Adds `other` to the set.
    pub fn insert(&mut self, other: Self) {
        self.0 |= other.0;
    }

    /// Whether `other` is in the set.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// Request text quoted in an error message, copied inline (at most `N` bytes, 32 by default).
///
/// Only visible ASCII is kept; any other byte is shown as `?`, so an echo can never smuggle a line
/// break into a log. Longer input is cut and ends with `...`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Echo<const N: usize = 32> {
    len: u8,
    truncated: bool,
    bytes: [u8; N],
}

impl<const N: usize> Echo<N> {
    /// Maximum number of bytes kept.
    pub const CAPACITY: usize = N;

    /// Copies (a sanitised prefix of) `text`.
    pub fn new(text: &[u8]) -> Self {
        let mut bytes = [0u8; N];
        let mut len = 0u8;
        for (dst, &src) in bytes.iter_mut().zip(text).take(usize::from(u8::MAX)) {
            *dst = if src.is_ascii_graphic() || src == b' ' {
                src
            } else {
                b'?'
            };
            len = len.saturating_add(1);
        }
        Self {
            len,
            truncated: text.len() > usize::from(len),
            bytes,
        }
    }

    /// The echoed text.
    pub fn as_str(&self) -> &str {
        let bytes = self.bytes.get(..usize::from(self.len)).unwrap_or_default();
        // INVARIANT: `new` stores only visible ASCII and spaces, so this never fails.
        std::str::from_utf8(bytes).unwrap_or_default()
    }
}

impl<const N: usize> fmt::Display for Echo<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())?;
        if self.truncated {
            f.write_str("...")?;
        }
        Ok(())
    }
}

impl<const N: usize> fmt::Debug for Echo<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.to_string())
    }
}

/// A point in time, whole seconds since the Unix epoch, rendered as `YYYYMMDDTHHMMSSZ`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Timestamp(pub i64);

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, mo, d, h, mi, s) = super::time::civil(self.0);
        write!(f, "{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z")
    }
}

/// A time window as AWS prints it: `5 min.` when a whole number of minutes, else `90 sec.`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window(pub u64);

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_multiple_of(60) {
            write!(f, "{} min.", self.0 / 60)
        } else {
            write!(f, "{} sec.", self.0)
        }
    }
}

/// A bad `%` escape in the path or query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadEscape {
    /// `%` with fewer than two characters after it.
    Incomplete,
    /// `%` followed by something other than two hex digits (the two characters are quoted).
    IllegalHex(Echo<8>),
}

impl fmt::Display for BadEscape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Incomplete => f.write_str("Incomplete trailing escape % sequence"),
            Self::IllegalHex(pair) => {
                write!(f, "Illegal hex character in escape % pattern: %{pair}")
            }
        }
    }
}

/// The credential-scope problems of one request; AWS reports all of them together (sigv4 §1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScopeProblems {
    /// The scope names a region this verifier does not accept.
    pub region: bool,
    /// The scope names another service; holds the expected service.
    pub service: Option<Echo>,
    /// The terminator is not `aws4_request`; holds the one sent.
    pub terminator: Option<Echo>,
    /// The scope date differs from the request date; holds the scope date.
    pub date: Option<Echo<16>>,
    /// The request time (quoted when the dates differ).
    pub request_time: Timestamp,
}

impl fmt::Display for ScopeProblems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        if self.region {
            f.write_str("Credential should be scoped to a valid region.")?;
            sep = " ";
        }
        if let Some(service) = &self.service {
            write!(
                f,
                "{sep}Credential should be scoped to correct service: '{service}'."
            )?;
            sep = " ";
        }
        if let Some(terminator) = &self.terminator {
            write!(
                f,
                "{sep}Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'."
            )?;
            sep = " ";
        }
        if let Some(scope_date) = &self.date {
            let request_date = self.request_time.to_string();
            let day = request_date.get(..8).unwrap_or_default();
            write!(
                f,
                "{sep}Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{scope_date}' != '{day}', from '{request_date}'."
            )?;
        }
        Ok(())
    }
}

fn missing_auth_params(
    f: &mut fmt::Formatter<'_>,
    missing: MissingParams,
    algorithm: &str,
) -> fmt::Result {
    let sentences = [
        (
            MissingParams::CREDENTIAL,
            "Authorization header requires 'Credential' parameter. ",
        ),
        (
            MissingParams::SIGNATURE,
            "Authorization header requires 'Signature' parameter. ",
        ),
        (
            MissingParams::SIGNED_HEADERS,
            "Authorization header requires 'SignedHeaders' parameter. ",
        ),
        (
            MissingParams::DATE,
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
        ),
    ];
    for (bit, sentence) in sentences {
        if missing.contains(bit) {
            f.write_str(sentence)?;
        }
    }
    write!(f, "Authorization={algorithm}")
}

fn missing_query_params(f: &mut fmt::Formatter<'_>, missing: MissingParams) -> fmt::Result {
    let names = [
        (MissingParams::ALGORITHM, "X-Amz-Algorithm"),
        (MissingParams::CREDENTIAL, "X-Amz-Credential"),
        (MissingParams::SIGNATURE, "X-Amz-Signature"),
        (MissingParams::SIGNED_HEADERS, "X-Amz-SignedHeaders"),
        (MissingParams::DATE, "X-Amz-Date"),
        (MissingParams::REGION_SET, "X-Amz-Region-Set"),
    ];
    for (bit, name) in names {
        if missing.contains(bit) {
            write!(f, "AWS query-string parameters must include '{name}'. ")?;
        }
    }
    f.write_str("Re-examine the query-string parameters.")
}

/// A signature failure, with AWS's exception name and exact message.
///
/// `Display` renders the message only; [`SigV4Error::exception`] gives the exception name, so the
/// Lattice body is `format!("{}: {}", e.exception(), e)`.
///
/// Texts marked *AWS* are AWS's own (sigv4 §1.11, lattice-auth §4.6); texts marked *ours* are
/// chosen here because AWS's wording is unknown or would echo a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    /// More than one `Authorization` header. *Ours.*
    #[error("The request contains more than one 'Authorization' header.")]
    MultipleAuthorizationHeaders,
    /// Both an AWS4 `Authorization` header and a presigned query. *AWS (S3's wording).*
    #[error(
        "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified"
    )]
    HeaderAndQueryAuth,
    /// A presigned query while query-string authentication is off. *Ours.*
    #[error("Query-string authentication is not supported by this endpoint.")]
    QueryAuthDisabled,
    /// A bad `%` escape in the path. *AWS (exception `InvalidURIPath`).*
    #[error("{0}")]
    InvalidUriPath(BadEscape),
    /// A bad `%` escape in the query. *AWS (exception `MalformedQueryString`).*
    #[error("{0}")]
    MalformedQueryString(BadEscape),
    /// An algorithm other than `AWS4-HMAC-SHA256` / `AWS4-ECDSA-P256-SHA256`. *AWS.*
    #[error("Unsupported AWS 'algorithm': '{0}'.")]
    UnsupportedAlgorithm(Echo),
    /// A parameter without `=`. *AWS, without the trailing echo of the whole header (it holds the
    /// signature).*
    #[error("'{0}' not a valid key=value pair (missing equal-sign) in Authorization header.")]
    MissingEqualSign(Echo<96>),
    /// The `Authorization` header (or the query) repeats a parameter. *Ours.*
    #[error("The authentication parameter '{0}' appears more than once.")]
    DuplicateAuthParameter(&'static str),
    /// Required `Authorization` parameters or the date header are missing. *AWS; the header is echoed
    /// as its algorithm only.*
    #[error("{}", DisplayWith(|f| missing_auth_params(f, self.missing_params(), self.algorithm_name())))]
    MissingAuthParameters {
        /// What is missing.
        missing: MissingParams,
        /// The header's algorithm.
        algorithm: super::Algorithm,
    },
    /// Required presigned query parameters are missing. *AWS (scratchstack's wording).*
    #[error("{}", DisplayWith(|f| missing_query_params(f, self.missing_params())))]
    MissingQueryParameters(MissingParams),
    /// The `Authorization` header value is not visible ASCII. *Ours.*
    #[error("The Authorization header contains characters that are not allowed.")]
    InvalidAuthorizationHeader,
    /// More signed headers or query parameters than the verifier accepts. *Ours.*
    #[error("The request has more than {limit} {what}.")]
    TooMany {
        /// What there are too many of.
        what: &'static str,
        /// The bound.
        limit: usize,
    },
    /// `SignedHeaders` is not a lowercase, sorted, duplicate-free list of header names. *Ours.*
    #[error(
        "SignedHeaders must be a list of lowercase header names, sorted and without duplicates."
    )]
    InvalidSignedHeaders,
    /// Neither `host` nor `:authority` is signed. *AWS.*
    #[error("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")]
    HostNotSigned,
    /// A header named in `SignedHeaders` is not in the request. *AWS (Lattice).*
    #[error("'{0}' is named as a SignedHeader, but it does not exist in the HTTP request.")]
    SignedHeaderMissing(Echo<64>),
    /// A header the verifier reads (`x-amz-date`, `date`, `x-amz-security-token`,
    /// `x-amz-region-set`) is present but not signed. *Ours, after AWS's host wording.*
    #[error("'{0}' must be a 'SignedHeader' in the AWS Authorization.")]
    HeaderNotSigned(&'static str),
    /// An `x-amz-*` header is present but not signed: whatever it says is not the signer's
    /// (sigv4 §1.6.4, as S3 refuses unsigned `x-amz-*` headers). *Ours, after AWS's host
    /// wording.*
    #[error("'{0}' must be a 'SignedHeader' in the AWS Authorization.")]
    AmzHeaderNotSigned(Echo<64>),
    /// A header the verifier reads appears more than once with different values. *Ours.*
    #[error("The request contains more than one '{0}' header with different values.")]
    AmbiguousHeader(&'static str),
    /// A signed header's value is not valid UTF-8 or contains control characters. *Ours.*
    #[error("The value of the SignedHeader '{0}' is not valid text.")]
    InvalidHeaderValue(Echo<64>),
    /// Lattice: `x-amz-content-sha256` is not signed. *AWS (Lattice).*
    #[error("Missing the 'x-amz-content-sha256' in canonical headers.")]
    MissingContentSha256,
    /// Lattice: `x-amz-content-sha256` is not `UNSIGNED-PAYLOAD`. *AWS (Lattice).*
    #[error("Signed payloads are not supported")]
    SignedPayloadUnsupported,
    /// Standard mode: a `STREAMING-*` payload. *Ours.*
    #[error("Streaming payloads are not supported")]
    StreamingPayloadUnsupported,
    /// Standard mode: `x-amz-content-sha256` is not a hash of the body. *AWS (S3, exception
    /// `XAmzContentSHA256Mismatch`).*
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    ContentSha256Mismatch,
    /// Standard mode: a payload hash must be checked but the body was not provided. *Ours.*
    #[error("The request body is needed to check the payload hash but was not provided.")]
    PayloadUnavailable,
    /// The request date is not `YYYYMMDDTHHMMSSZ`. *AWS.*
    #[error(
        "Date must be in ISO-8601 'basic format'. Got '{0}'. See http://en.wikipedia.org/wiki/ISO_8601"
    )]
    InvalidDate(Echo),
    /// `X-Amz-Expires` is not a whole number of seconds from 1 to 604800. *Ours.*
    #[error("X-Amz-Expires must be a whole number of seconds from 1 to 604800.")]
    InvalidExpires,
    /// `X-Amz-Expires` above a week. *AWS (S3).*
    #[error(
        "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds"
    )]
    ExpiresTooLarge,
    /// The request time is before the window. *AWS.* For a presigned URL the window is its
    /// `X-Amz-Expires` (or the skew window when absent).
    #[error("Signature expired: {request} is now earlier than {} ({now} - {window})", Timestamp(now.0.saturating_sub_unsigned(window.0)))]
    SignatureExpired {
        /// The request time.
        request: Timestamp,
        /// The server time.
        now: Timestamp,
        /// The window.
        window: Window,
    },
    /// The request time is after the window. *AWS.*
    #[error("Signature not yet current: {request} is still later than {} ({now} + {window})", Timestamp(now.0.saturating_add_unsigned(window.0)))]
    SignatureNotYetCurrent {
        /// The request time.
        request: Timestamp,
        /// The server time.
        now: Timestamp,
        /// The window.
        window: Window,
    },
    /// The credential does not have 5 (SigV4) or 4 (SigV4A) parts. *AWS.*
    #[error(
        "Credential must have exactly {} slash-delimited elements, e.g. {}, got '{credential}'",
        if *sigv4a { 4 } else { 5 },
        if *sigv4a { "keyid/date/service/term" } else { "keyid/date/region/service/term" }
    )]
    CredentialParts {
        /// SigV4A (4 parts) rather than SigV4 (5 parts).
        sigv4a: bool,
        /// The credential as sent (access key id and scope; no secret).
        credential: Echo<96>,
    },
    /// The credential scope is wrong. *AWS (Lattice's region wording, without the region echo).*
    #[error("{0}")]
    Scope(ScopeProblems),
    /// SigV4A: the region set covers none of the accepted regions. *Ours.*
    #[error("The region set 'X-Amz-Region-Set' does not include a valid region.")]
    RegionSetMismatch,
    /// Unknown access key, or a wrong or missing session token. *AWS.*
    #[error("The security token included in the request is invalid.")]
    UnrecognizedClient,
    /// The temporary credential has expired. *AWS.*
    #[error("The security token included in the request is expired")]
    ExpiredToken,
    /// The computed signature differs from the one the client sent. *AWS.*
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
    )]
    SignatureDoesNotMatch,
}

/// Renders through a closure (lets `thiserror` attributes call helper functions).
struct DisplayWith<F: Fn(&mut fmt::Formatter<'_>) -> fmt::Result>(F);

impl<F: Fn(&mut fmt::Formatter<'_>) -> fmt::Result> fmt::Display for DisplayWith<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (self.0)(f)
    }
}

/// Closed classification of signature failures, for metric labels and decision logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigV4ErrorKind {
    /// Malformed or incomplete authentication information.
    Malformed,
    /// Request time outside the allowed window, or a presigned URL past its expiry.
    Expired,
    /// Credential scope names the wrong region, service, terminator or date.
    Scope,
    /// Unknown access key or wrong session token.
    UnknownKey,
    /// Temporary credential expired.
    ExpiredToken,
    /// `x-amz-content-sha256` rules (Lattice: missing, or a signed payload).
    Payload,
    /// The signature does not match.
    Mismatch,
}

impl SigV4Error {
    /// AWS's exception name, e.g. `InvalidSignatureException`.
    pub fn exception(&self) -> &'static str {
        match self {
            Self::InvalidUriPath(_) => "InvalidURIPath",
            Self::MalformedQueryString(_) => "MalformedQueryString",
            Self::ContentSha256Mismatch => "XAmzContentSHA256Mismatch",
            Self::InvalidExpires | Self::ExpiresTooLarge => "AuthorizationQueryParametersError",
            Self::UnrecognizedClient => "UnrecognizedClientException",
            Self::ExpiredToken => "ExpiredTokenException",
            Self::MultipleAuthorizationHeaders
            | Self::HeaderAndQueryAuth
            | Self::QueryAuthDisabled
            | Self::UnsupportedAlgorithm(_)
            | Self::MissingEqualSign(_)
            | Self::DuplicateAuthParameter(_)
            | Self::MissingAuthParameters { .. }
            | Self::MissingQueryParameters(_)
            | Self::InvalidAuthorizationHeader
            | Self::TooMany { .. }
            | Self::InvalidSignedHeaders
            | Self::SignedHeaderMissing(_)
            | Self::AmbiguousHeader(_)
            | Self::InvalidHeaderValue(_)
            | Self::MissingContentSha256
            | Self::InvalidDate(_)
            | Self::CredentialParts { .. } => "IncompleteSignatureException",
            Self::HostNotSigned
            | Self::HeaderNotSigned(_)
            | Self::AmzHeaderNotSigned(_)
            | Self::SignedPayloadUnsupported
            | Self::StreamingPayloadUnsupported
            | Self::PayloadUnavailable
            | Self::SignatureExpired { .. }
            | Self::SignatureNotYetCurrent { .. }
            | Self::Scope(_)
            | Self::RegionSetMismatch
            | Self::SignatureDoesNotMatch => "InvalidSignatureException",
        }
    }

    /// The closed classification of this failure.
    pub fn kind(&self) -> SigV4ErrorKind {
        match self {
            Self::MultipleAuthorizationHeaders
            | Self::HeaderAndQueryAuth
            | Self::QueryAuthDisabled
            | Self::InvalidUriPath(_)
            | Self::MalformedQueryString(_)
            | Self::UnsupportedAlgorithm(_)
            | Self::MissingEqualSign(_)
            | Self::DuplicateAuthParameter(_)
            | Self::MissingAuthParameters { .. }
            | Self::MissingQueryParameters(_)
            | Self::InvalidAuthorizationHeader
            | Self::TooMany { .. }
            | Self::InvalidSignedHeaders
            | Self::HostNotSigned
            | Self::SignedHeaderMissing(_)
            | Self::HeaderNotSigned(_)
            | Self::AmzHeaderNotSigned(_)
            | Self::AmbiguousHeader(_)
            | Self::InvalidHeaderValue(_)
            | Self::InvalidDate(_)
            | Self::InvalidExpires
            | Self::ExpiresTooLarge
            | Self::CredentialParts { .. } => SigV4ErrorKind::Malformed,
            Self::MissingContentSha256
            | Self::SignedPayloadUnsupported
            | Self::StreamingPayloadUnsupported
            | Self::ContentSha256Mismatch
            | Self::PayloadUnavailable => SigV4ErrorKind::Payload,
            Self::SignatureExpired { .. } | Self::SignatureNotYetCurrent { .. } => {
                SigV4ErrorKind::Expired
            }
            Self::Scope(_) | Self::RegionSetMismatch => SigV4ErrorKind::Scope,
            Self::UnrecognizedClient => SigV4ErrorKind::UnknownKey,
            Self::ExpiredToken => SigV4ErrorKind::ExpiredToken,
            Self::SignatureDoesNotMatch => SigV4ErrorKind::Mismatch,
        }
    }

    fn missing_params(&self) -> MissingParams {
        match self {
            Self::MissingAuthParameters { missing, .. } | Self::MissingQueryParameters(missing) => {
                *missing
            }
            _ => MissingParams::default(),
        }
    }

    fn algorithm_name(&self) -> &'static str {
        match self {
            Self::MissingAuthParameters { algorithm, .. } => algorithm.name(),
            _ => "",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_message_matches_aws() {
        // convox/rack#235: `Signature expired: 20151221T200419Z is now earlier than
        // 20151221T201450Z (20151221T201950Z - 5 min.)`
        let now = crate::sigv4::time::parse_iso_basic(b"20151221T201950Z").unwrap();
        let request = crate::sigv4::time::parse_iso_basic(b"20151221T200419Z").unwrap();
        let e = SigV4Error::SignatureExpired {
            request: Timestamp(request),
            now: Timestamp(now),
            window: Window(300),
        };
        assert_eq!(
            e.to_string(),
            "Signature expired: 20151221T200419Z is now earlier than 20151221T201450Z (20151221T201950Z - 5 min.)"
        );
        assert_eq!(e.exception(), "InvalidSignatureException");
        assert_eq!(e.kind(), SigV4ErrorKind::Expired);
    }

    #[test]
    fn not_yet_current_message_matches_aws() {
        // s12v/awsbeats#48.
        let now = crate::sigv4::time::parse_iso_basic(b"20181017T093139Z").unwrap();
        let request = crate::sigv4::time::parse_iso_basic(b"20181017T093750Z").unwrap();
        let e = SigV4Error::SignatureNotYetCurrent {
            request: Timestamp(request),
            now: Timestamp(now),
            window: Window(300),
        };
        assert_eq!(
            e.to_string(),
            "Signature not yet current: 20181017T093750Z is still later than 20181017T093639Z (20181017T093139Z + 5 min.)"
        );
    }

    #[test]
    fn missing_parameters_are_reported_together() {
        let mut missing = MissingParams::default();
        missing.insert(MissingParams::SIGNATURE);
        missing.insert(MissingParams::SIGNED_HEADERS);
        missing.insert(MissingParams::DATE);
        let e = SigV4Error::MissingAuthParameters {
            missing,
            algorithm: crate::sigv4::Algorithm::SigV4,
        };
        assert_eq!(
            e.to_string(),
            "Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256"
        );
    }

    #[test]
    fn echo_is_bounded_and_sanitised() {
        let e = Echo::<32>::new(b"a\r\nb");
        assert_eq!(e.to_string(), "a??b");
        let long = [b'x'; 100];
        let e = Echo::<32>::new(&long);
        assert_eq!(e.to_string().len(), 32 + 3);
    }

    #[test]
    fn scope_problems_join_with_a_space() {
        let p = ScopeProblems {
            region: true,
            service: Some(Echo::new(b"vpc-lattice-svcs")),
            terminator: None,
            date: None,
            request_time: Timestamp(0),
        };
        assert_eq!(
            SigV4Error::Scope(p).to_string(),
            "Credential should be scoped to a valid region. Credential should be scoped to correct service: 'vpc-lattice-svcs'."
        );
    }
}
