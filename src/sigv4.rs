//! AWS Signature Version 4 (`AWS4-HMAC-SHA256`) and 4A (`AWS4-ECDSA-P256-SHA256`) verification,
//! server side, for requests as Envoy hands them to ext_authz.
//!
//! This module owns: parsing the `Authorization` header and the presigned query, the canonical
//! request, the string to sign, the signing-key and public-key caches, the checks in AWS's order
//! and AWS's exact error codes and messages, as AWS's *Signature Version 4* documentation and
//! Lattice's answers give them.
//!
//! It must not touch: policies, the Lattice model, protobuf types, or the clock. Time is a
//! parameter; credentials come from the caller through [`CredentialSource`].
//!
//! # Order of checks (sigv4 §1.12)
//!
//! 1. where the signature is: duplicate `Authorization`, header and query both, query auth off;
//! 2. `%` escapes in the path (`InvalidURIPath`) and query (`MalformedQueryString`);
//! 3. the `Authorization` header / presigned parameters: algorithm, `key=value` pairs, missing
//!    parameters (with the date header), `SignedHeaders` syntax;
//! 4. `host` signed, every signed header present, every header the verifier reads signed and
//!    unambiguous, signed values valid text;
//! 5. `x-amz-content-sha256` rules (Lattice or standard);
//! 6. date format, `X-Amz-Expires`, expired, not yet current;
//! 7. credential shape, scope (region, service, terminator, date), SigV4A region set;
//! 8. access key known, session token, token expiry;
//! 9. signature shape, then the crypto: double-encoded URI first, single-encoded fallback.
//!
//! Everything before step 9 is cheap and allocation-free for a typical Lattice request.
//!
//! # Files
//!
//! This file holds the types callers see. `verify` runs the checks above in order and the
//! signature check of both algorithms; `headers` finds the headers it reads in one pass and owns
//! the `SignedHeaders` rules; `parse` reads the `Authorization` header and the presigned query;
//! `canonical` writes the canonical forms; `crypto` holds HMAC, key derivation and the ECDSA
//! check; `time` reads dates; `error` holds AWS's codes and messages.

mod canonical;
mod crypto;
mod error;
mod headers;
mod parse;
mod time;
mod verify;

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub use canonical::MAX_QUERY_PARAMS;
pub use error::{
    BadEscape, Echo, MissingParams, ScopeProblems, SigV4Error, SigV4ErrorKind, Timestamp, Window,
};
pub use parse::{AuthParams, parse_authorization, parse_presigned_query};

/// The Lattice signing name, the default `service` of [`Settings`].
pub const LATTICE_SERVICE: &str = "vpc-lattice-svcs";

/// The default clock skew AWS allows either side of the request time (sigv4 §1.5).
pub const DEFAULT_MAX_SKEW: Duration = Duration::from_secs(300);

/// The longest `X-Amz-Expires` AWS accepts: seven days (sigv4 §1.3).
pub const MAX_EXPIRES_SECS: u64 = 604_800;

/// Upper bound on the number of names in `SignedHeaders`.
pub const MAX_SIGNED_HEADERS: usize = 64;

/// The payload line (and required `x-amz-content-sha256` value) of an unsigned payload.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// How the payload line of the canonical request is formed and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadMode {
    /// Lattice: `x-amz-content-sha256` must be signed and equal `UNSIGNED-PAYLOAD` (lattice-auth §4.2).
    Lattice,
    /// Standard SigV4: a real payload hash is checked against the body when the body is known.
    Standard,
}

/// Verifier settings. Lattice mode is [`Settings::lattice`].
#[derive(Debug, Clone)]
pub struct Settings {
    /// Signing name the credential scope must carry (`vpc-lattice-svcs`).
    pub service: String,
    /// Regions a SigV4 scope may name, and that a SigV4A region set must cover (one of them).
    /// An empty list accepts no region (unless `any_region`).
    pub regions: Vec<String>,
    /// Accept any well-formed region: STS clients sign with whatever region they are
    /// configured for (sts §1.1).
    pub any_region: bool,
    /// Payload rules.
    pub payload: PayloadMode,
    /// Allowed difference between the request time and `now`, either way.
    pub max_skew: Duration,
    /// Accept presigned (query-string) authentication. Off by default (lattice-auth §4.4).
    pub query_auth: bool,
    /// After the double-encoded, normalised canonical URI fails, retry with the single-encoded,
    /// verbatim path (sigv4 §1.6.2). On by default.
    pub single_encoding_fallback: bool,
    /// Maximum number of cached SigV4A public keys. (A SigV4 signing key is kept with its
    /// [`Secret`], the last one derived for it.)
    pub key_cache_capacity: u64,
}

impl Settings {
    /// Lattice mode for `region`: service `vpc-lattice-svcs`, unsigned payloads, ±5 minutes,
    /// no query auth, single-encoding fallback on.
    pub fn lattice(region: &str) -> Self {
        Self {
            service: LATTICE_SERVICE.to_owned(),
            regions: vec![region.to_owned()],
            any_region: false,
            payload: PayloadMode::Lattice,
            max_skew: DEFAULT_MAX_SKEW,
            query_auth: false,
            single_encoding_fallback: true,
            key_cache_capacity: 100_000,
        }
    }

    /// Standard SigV4 rules for `service` in `region` (what AWS's own test suites assume).
    pub fn standard(service: &str, region: &str) -> Self {
        Self {
            service: service.to_owned(),
            payload: PayloadMode::Standard,
            ..Self::lattice(region)
        }
    }
}

impl Settings {
    /// STS mode: service `sts`, any region, the body's own hash (botocore sends no
    /// `x-amz-content-sha256` on STS calls and hashes the form body), presigned queries
    /// accepted (presigned `GetCallerIdentity`).
    pub fn sts() -> Self {
        Self {
            service: "sts".to_owned(),
            regions: Vec::new(),
            any_region: true,
            payload: PayloadMode::Standard,
            query_auth: true,
            ..Self::lattice("")
        }
    }

    /// Whether a SigV4 scope may name `region`.
    fn accepts_region(&self, region: &[u8]) -> bool {
        if self.any_region {
            // A region name: lower-case letters, digits and hyphens (`us-east-1`, `cn-north-1`).
            return (1..=32).contains(&region.len())
                && region
                    .iter()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-');
        }
        self.regions.iter().any(|r| r.as_bytes() == region)
    }
}

/// Headers whose values `Debug` must never print.
const SENSITIVE_HEADERS: [&str; 2] = ["authorization", "x-amz-security-token"];

/// One request header as received: lower-case name, raw value bytes, in arrival order.
#[derive(Clone, Copy)]
pub struct Header<'a> {
    /// Lower-case header name. Pseudo-headers (`:authority`, ...) may appear and are ignored.
    pub name: &'a str,
    /// Raw value bytes (may be non-UTF-8 when they come from Envoy's `header_map`).
    pub value: &'a [u8],
}

impl fmt::Debug for Header<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sensitive = SENSITIVE_HEADERS
            .iter()
            .any(|s| self.name.eq_ignore_ascii_case(s));
        let value: Cow<'_, str> = if sensitive {
            Cow::Borrowed("** redacted **")
        } else {
            String::from_utf8_lossy(self.value)
        };
        f.debug_struct("Header")
            .field("name", &self.name)
            .field("value", &value)
            .finish()
    }
}

/// The parts of an HTTP request the verifier reads, borrowed from the caller.
#[derive(Clone, Copy)]
pub struct HttpRequest<'a> {
    /// Method as sent (`GET`).
    pub method: &'a str,
    /// Request target as sent: raw path plus `?query`, no decoding.
    pub target: &'a str,
    /// `:authority` / `Host` value as received (case and port preserved). A client's signed
    /// `host` header is checked against this value.
    pub authority: &'a str,
    /// Every header line in arrival order (duplicates not merged), names lower-case.
    pub headers: &'a [Header<'a>],
    /// The body, when the caller has it (Envoy `with_request_body`, `check` with a body).
    pub body: Option<&'a [u8]>,
}

impl fmt::Debug for HttpRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A presigned query carries the signature and maybe a session token.
        let (path, query) = split_target(self.target);
        let target: Cow<'_, str> = if query.is_empty() {
            Cow::Borrowed(self.target)
        } else {
            Cow::Owned(format!("{path}?** redacted **"))
        };
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("target", &target)
            .field("authority", &self.authority)
            .field("headers", &self.headers)
            .field("body", &self.body.map(<[u8]>::len))
            .finish()
    }
}

/// A secret access key. `Debug` never prints it; the bytes are zeroized on drop.
///
/// It also keeps the SigV4 signing key derived from it last, with the credential scope it was
/// derived for: a scope (`date/region/service/aws4_request`, each part checked for an exact
/// match against the verifier's settings) determines the key, and a caller signs with one scope
/// all day. The slot is read without a lock and without touching shared counters, so a Check
/// with a known key costs no cache lookup; memory is one key per secret of the world.
pub struct Secret {
    bytes: zeroize::Zeroizing<Box<[u8]>>,
    signing_key: arc_swap::ArcSwapOption<SigningKey>,
}

/// A derived SigV4 signing key and the credential scope it signs for.
struct SigningKey {
    scope: Box<[u8]>,
    key: crypto::HmacKey,
}

impl Clone for Secret {
    /// The same secret, with nothing derived yet.
    fn clone(&self) -> Self {
        Self {
            bytes: self.bytes.clone(),
            signing_key: arc_swap::ArcSwapOption::empty(),
        }
    }
}

impl Secret {
    /// Wraps a secret access key.
    pub fn new(secret: impl Into<String>) -> Self {
        // Copied into an allocation of its exact size (a shrinking reallocation would free the
        // old buffer unwiped), then the caller's buffer is wiped.
        let mut text: String = secret.into();
        let bytes = zeroize::Zeroizing::new(Box::<[u8]>::from(text.as_bytes()));
        zeroize::Zeroize::zeroize(&mut text);
        Self {
            bytes,
            signing_key: arc_swap::ArcSwapOption::empty(),
        }
    }

    /// The secret bytes, for key derivation.
    pub(crate) fn expose(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("** redacted **")
    }
}

/// What the caller knows about one access key.
#[derive(Debug, Clone, Copy)]
pub struct Credential<'s, P> {
    /// The access key id, as the source holds it (a request may have sent it escaped).
    pub access_key_id: &'s str,
    /// The secret access key.
    pub secret: &'s Secret,
    /// The session token a temporary credential must present (`x-amz-security-token`).
    pub session_token: Option<&'s str>,
    /// When a temporary credential stops being valid.
    pub expires_at: Option<SystemTime>,
    /// The caller's own handle for the principal behind the key (returned on success).
    pub principal: &'s P,
}

/// What the verifier reads of a credential its source knows.
pub trait KnownCredential {
    /// The access key id, as the source holds it (a request may have sent it escaped).
    fn access_key_id(&self) -> &str;
    /// The secret access key.
    fn secret(&self) -> &Secret;
    /// The session token a temporary credential must present (`x-amz-security-token`).
    fn session_token(&self) -> Option<&[u8]>;
    /// When a temporary credential stops being valid.
    fn expires_at(&self) -> Option<SystemTime>;
}

impl<P> KnownCredential for Credential<'_, P> {
    fn access_key_id(&self) -> &str {
        self.access_key_id
    }

    fn secret(&self) -> &Secret {
        self.secret
    }

    fn session_token(&self) -> Option<&[u8]> {
        self.session_token.map(str::as_bytes)
    }

    fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }
}

/// Where the verifier finds credentials by access key id.
pub trait CredentialSource {
    /// The credential handle returned on success: it names the caller.
    type Credential<'s>: KnownCredential
    where
        Self: 's;
    /// The credential for `access_key_id`, if known. `session_token` is the token the request
    /// presents, for sources whose temporary credentials travel inside it; the verifier still
    /// compares it with [`KnownCredential::session_token`].
    fn credential<'s>(
        &'s self,
        access_key_id: &str,
        session_token: Option<&[u8]>,
    ) -> Option<Self::Credential<'s>>;
}

/// Which signature algorithm a request used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// `AWS4-HMAC-SHA256`.
    SigV4,
    /// `AWS4-ECDSA-P256-SHA256`.
    SigV4A,
}

impl Algorithm {
    /// The algorithm token as it appears on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Self::SigV4 => "AWS4-HMAC-SHA256",
            Self::SigV4A => "AWS4-ECDSA-P256-SHA256",
        }
    }
}

/// Where the signature was carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureLocation {
    /// `Authorization` header.
    Header,
    /// Presigned query string.
    Query,
}

/// Whether the derived key came from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Found in the cache.
    Hit,
    /// Derived now (and cached).
    Miss,
}

/// A successfully verified signature.
#[derive(Debug)]
pub struct Signed<C> {
    /// The credential that signed, as its source returned it.
    pub credential: C,
    /// SigV4 or SigV4A.
    pub algorithm: Algorithm,
    /// Header or query.
    pub location: SignatureLocation,
    /// Key cache hit or miss.
    pub cache: CacheOutcome,
    /// The canonical URI form that verified.
    pub path_encoding: PathEncoding,
}

/// Which canonical URI form verified (sigv4 §1.6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathEncoding {
    /// Double-encoded, normalised (the SDK default for non-S3 services).
    Double,
    /// The wire path verbatim (S3 style, Lattice's Go example).
    Single,
    /// Double-encoded, normalised as botocore and the AWS CRT normalise: a path that ends in a
    /// `.` or `..` segment keeps no trailing slash (`/data/.` → `/data`).
    DoubleSdkDots,
}

/// The outcome of authentication: an unsigned request is anonymous, never an error.
#[derive(Debug)]
pub enum Verified<C> {
    /// No `Authorization` header and no presigned query: an anonymous caller.
    Anonymous,
    /// A valid signature.
    Signed(Signed<C>),
}

/// The canonical request and string to sign the verifier computes for a request, per canonical
/// URI candidate; for debug logs and conformance tests. Holds no secret (the session token of a
/// presigned URL or signed header does appear: redact before logging).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// Canonical request with the double-encoded, normalised URI.
    pub canonical_request: String,
    /// String to sign for it.
    pub string_to_sign: String,
    /// Canonical request with the single-encoded, verbatim URI.
    pub single_canonical_request: String,
    /// String to sign for it.
    pub single_string_to_sign: String,
}

/// The SigV4 signature (lower-case hex) a client computes over `string_to_sign` with `secret`,
/// for the scope's `date` (`YYYYMMDD`), `region` and `service`: `lattice-authz test` signs its
/// `signedBy` cases with it, the string to sign coming from [`Verifier::explain`], so that the
/// verifier then checks a signature made exactly as a client makes one.
pub fn signature(
    secret: &Secret,
    date: &str,
    region: &str,
    service: &str,
    string_to_sign: &str,
) -> String {
    let key = crypto::signing_key(
        secret.expose(),
        date.as_bytes(),
        region.as_bytes(),
        service.as_bytes(),
    );
    hex::encode(key.mac(string_to_sign.as_bytes()))
}

// === impl Verifier ===

/// Cache key of a SigV4A public key: (secret, access key id), folded into one digest. (SigV4
/// signing keys live with their [`Secret`].)
type CacheKey = [u8; 32];

/// Verifies SigV4 / SigV4A signatures. Cheap to share (`Arc`) across threads.
pub struct Verifier {
    settings: Settings,
    /// SigV4A uncompressed public points.
    keys: moka::sync::Cache<CacheKey, Arc<[u8; 65]>>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("settings", &self.settings)
            .field("cached_keys", &self.keys.entry_count())
            .finish()
    }
}

impl Verifier {
    /// Builds a verifier with empty key caches.
    pub fn new(settings: Settings) -> Self {
        let keys = moka::sync::Cache::builder()
            .max_capacity(settings.key_cache_capacity)
            .build();
        Self { settings, keys }
    }

    /// The settings this verifier enforces.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }
}

/// The path and the query (empty when there is none) of a request target.
fn split_target(target: &str) -> (&str, &str) {
    target.split_once('?').unwrap_or((target, ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_is_redacted() {
        let s = Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
        assert_eq!(format!("{s:?}"), "** redacted **");
        let c = Credential {
            access_key_id: "AKIDEXAMPLE",
            secret: &s,
            session_token: None,
            expires_at: None,
            principal: &"p",
        };
        assert!(!format!("{c:?}").contains("EXAMPLEKEY"));
    }

    #[test]
    fn request_debug_redacts_signature_and_token() {
        let headers = [
            Header {
                name: "authorization",
                value: b"AWS4-HMAC-SHA256 Signature=deadbeef",
            },
            Header {
                name: "x-amz-security-token",
                value: b"TOKEN",
            },
        ];
        let r = HttpRequest {
            method: "GET",
            target: "/?X-Amz-Signature=cafe",
            authority: "h",
            headers: &headers,
            body: None,
        };
        let text = format!("{r:?}");
        assert!(!text.contains("deadbeef") && !text.contains("TOKEN") && !text.contains("cafe"));
    }
}
