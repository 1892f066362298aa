//! AWS Signature Version 4 (`AWS4-HMAC-SHA256`) and 4A (`AWS4-ECDSA-P256-SHA256`) verification,
//! server side, for requests as Envoy hands them to ext_authz.
//!
//! This module owns: parsing the `Authorization` header and the presigned query, the canonical
//! request, the string to sign, the signing-key and public-key caches, the checks in AWS's order
//! and AWS's exact error codes and messages (`../shared/spec/sigv4.md`, `lattice-auth.md` §4).
//!
//! It must not touch: policies, the Lattice model, protobuf types, or the clock. Time is a
//! parameter; credentials come from the caller through [`CredentialSource`].
//!
//! CONTRACT (skeleton): the public items below are the interface the rest of the crate codes
//! against. The implementation behind them belongs to the SigV4 issue.

mod error;

use std::time::{Duration, SystemTime};

pub use error::{SigV4Error, SigV4ErrorKind};

/// The Lattice signing name, the default `service` of [`Settings`].
pub const LATTICE_SERVICE: &str = "vpc-lattice-svcs";

/// The default clock skew AWS allows either side of the request time (sigv4 §1.5).
pub const DEFAULT_MAX_SKEW: Duration = Duration::from_secs(300);

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
    pub regions: Vec<String>,
    /// Payload rules.
    pub payload: PayloadMode,
    /// Allowed difference between the request time and `now`, either way.
    pub max_skew: Duration,
    /// Accept presigned (query-string) authentication. Off by default (lattice-auth §4.4).
    pub query_auth: bool,
    /// After the double-encoded, normalised canonical URI fails, retry with the single-encoded,
    /// verbatim path (sigv4 §1.6.2). On by default.
    pub single_encoding_fallback: bool,
    /// Maximum number of cached derived keys (SigV4 signing keys and SigV4A public keys).
    pub key_cache_capacity: u64,
}

impl Settings {
    /// Lattice mode for `region`: service `vpc-lattice-svcs`, unsigned payloads, ±5 minutes,
    /// no query auth, single-encoding fallback on.
    pub fn lattice(region: &str) -> Self {
        Self {
            service: LATTICE_SERVICE.to_owned(),
            regions: vec![region.to_owned()],
            payload: PayloadMode::Lattice,
            max_skew: DEFAULT_MAX_SKEW,
            query_auth: false,
            single_encoding_fallback: true,
            key_cache_capacity: 100_000,
        }
    }
}

/// One request header as received: lower-case name, raw value bytes, in arrival order.
#[derive(Debug, Clone, Copy)]
pub struct Header<'a> {
    /// Lower-case header name. Pseudo-headers (`:authority`, ...) may appear and are ignored.
    pub name: &'a str,
    /// Raw value bytes (may be non-UTF-8 when they come from Envoy's `header_map`).
    pub value: &'a [u8],
}

/// The parts of an HTTP request the verifier reads, borrowed from the caller.
#[derive(Debug, Clone, Copy)]
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

/// A secret access key. `Debug` never prints it; the bytes are zeroized on drop.
#[derive(Clone)]
pub struct Secret {
    // Skeleton: the implementation may change the representation.
    bytes: zeroize::Zeroizing<Vec<u8>>,
}

impl Secret {
    /// Wraps a secret access key.
    pub fn new(secret: impl Into<String>) -> Self {
        Self {
            bytes: zeroize::Zeroizing::new(secret.into().into_bytes()),
        }
    }

    /// The secret bytes, for key derivation.
    #[expect(dead_code, reason = "skeleton: used by the verifier")]
    pub(crate) fn expose(&self) -> &[u8] {
        &self.bytes
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("** redacted **")
    }
}

/// What the caller knows about one access key.
#[derive(Debug, Clone, Copy)]
pub struct Credential<'s, P> {
    /// The secret access key.
    pub secret: &'s Secret,
    /// The session token a temporary credential must present (`x-amz-security-token`).
    pub session_token: Option<&'s str>,
    /// When a temporary credential stops being valid.
    pub expires_at: Option<SystemTime>,
    /// The caller's own handle for the principal behind the key (returned on success).
    pub principal: &'s P,
}

/// Where the verifier finds credentials by access key id.
pub trait CredentialSource {
    /// The caller's principal handle.
    type Principal;
    /// The credential for `access_key_id`, if known.
    fn credential(&self, access_key_id: &str) -> Option<Credential<'_, Self::Principal>>;
}

/// Which signature algorithm a request used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// `AWS4-HMAC-SHA256`.
    SigV4,
    /// `AWS4-ECDSA-P256-SHA256`.
    SigV4A,
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
pub struct Signed<'s, P> {
    /// The principal handle of the credential that signed.
    pub principal: &'s P,
    /// The access key id that signed (not a secret; safe to log).
    pub access_key_id: &'s str,
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
}

/// The outcome of authentication: an unsigned request is anonymous, never an error.
#[derive(Debug)]
pub enum Verified<'s, P> {
    /// No `Authorization` header and no presigned query: an anonymous caller.
    Anonymous,
    /// A valid signature.
    Signed(Signed<'s, P>),
}

/// Verifies SigV4 / SigV4A signatures. Cheap to share (`Arc`) across threads.
#[derive(Debug)]
pub struct Verifier {
    settings: Settings,
}

impl Verifier {
    /// Builds a verifier with empty key caches.
    pub fn new(settings: Settings) -> Self {
        Self { settings }
    }

    /// The settings this verifier enforces.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Authenticates `request` at time `now` against `credentials`.
    ///
    /// Returns [`Verified::Anonymous`] for an unsigned request, [`Verified::Signed`] for a valid
    /// signature, and the first failing check in AWS's order otherwise.
    pub fn verify<'s, C: CredentialSource>(
        &self,
        request: &HttpRequest<'_>,
        now: SystemTime,
        credentials: &'s C,
    ) -> Result<Verified<'s, C::Principal>, SigV4Error> {
        // Skeleton: replaced by the SigV4 issue.
        let _ = (now, credentials);
        let signed = request.headers.iter().any(|h| h.name == "authorization");
        if signed {
            Err(SigV4Error::SignatureDoesNotMatch)
        } else {
            Ok(Verified::Anonymous)
        }
    }
}
