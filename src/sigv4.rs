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

mod canonical;
mod crypto;
mod error;
mod parse;
mod time;

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use smallvec::SmallVec;

use canonical::Buf;
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
    /// An empty list accepts no region.
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

/// Everything the checks established, ready for the crypto. The canonical request's suffix
/// lives in a buffer of the caller's, so that this value stays small to return and move.
struct Prepared<'r, 'b> {
    algorithm: Algorithm,
    location: SignatureLocation,
    /// `AKID`, borrowed from the request.
    access_key_id: &'r [u8],
    /// `YYYYMMDD/…/aws4_request` as the client sent it (validated).
    scope: Cow<'r, [u8]>,
    /// The request timestamp text (`YYYYMMDDTHHMMSSZ`).
    date: Cow<'r, [u8]>,
    /// Index into `Settings::regions` (SigV4).
    region: usize,
    /// The presented session token, if any.
    token: Option<Cow<'r, [u8]>>,
    signature: Option<Cow<'r, [u8]>>,
    method: &'r [u8],
    path: &'r [u8],
    /// `\n` query `\n` headers `\n` signed-headers `\n` payload.
    suffix: &'b [u8],
}

fn split_target(target: &str) -> (&str, &str) {
    target.split_once('?').unwrap_or((target, ""))
}

/// All lines of header `name`, in arrival order.
fn lines<'r, 'n>(
    request: &HttpRequest<'r>,
    name: &'n [u8],
) -> impl Iterator<Item = &'r [u8]> + use<'r, 'n> {
    request
        .headers
        .iter()
        .filter(move |h| h.name.as_bytes().eq_ignore_ascii_case(name))
        .map(|h| h.value)
}

/// Every line of one header name the verifier reads, as one pass over the request found them.
#[derive(Debug, Clone, Copy, Default)]
struct Slot<'r> {
    /// The first line's raw value.
    first: Option<&'r [u8]>,
    /// How many lines there are.
    count: usize,
    /// Whether a later line differs from the first (after trimming).
    ambiguous: bool,
}

impl<'r> Slot<'r> {
    fn add(&mut self, value: &'r [u8]) {
        match self.first {
            None => self.first = Some(value),
            Some(first) => self.ambiguous |= first.trim_ascii() != value.trim_ascii(),
        }
        self.count += 1;
    }
}

/// A header the verifier reads by name (besides `host`, checked against `:authority`).
#[derive(Debug, Clone, Copy)]
enum Read {
    Authorization,
    XAmzDate,
    Date,
    SecurityToken,
    ContentSha256,
    RegionSet,
}

impl Read {
    const ALL: [Read; 6] = [
        Read::Authorization,
        Read::XAmzDate,
        Read::Date,
        Read::SecurityToken,
        Read::ContentSha256,
        Read::RegionSet,
    ];

    fn name(self) -> &'static str {
        match self {
            Read::Authorization => "authorization",
            Read::XAmzDate => "x-amz-date",
            Read::Date => "date",
            Read::SecurityToken => "x-amz-security-token",
            Read::ContentSha256 => "x-amz-content-sha256",
            Read::RegionSet => "x-amz-region-set",
        }
    }

    /// Which header `name` is, matched case-insensitively as [`lines`] matches names (a
    /// different length is told by one comparison).
    fn of(name: &[u8]) -> Option<Read> {
        Read::ALL
            .into_iter()
            .find(|read| read.name().as_bytes().eq_ignore_ascii_case(name))
    }
}

/// The headers the verifier reads by name, found in one pass over the request instead of one
/// pass per name.
#[derive(Debug, Default)]
struct Found<'r> {
    slots: [Slot<'r>; Read::ALL.len()],
    /// Whether some `host` line disagrees with `:authority` (after trimming).
    host_differs: bool,
    /// Every `x-amz-*` line's name (each must be signed), in arrival order.
    amz: SmallVec<[&'r str; 8]>,
}

impl<'r> Found<'r> {
    fn scan(request: &HttpRequest<'r>) -> Self {
        let mut found = Found::default();
        let authority = request.authority.as_bytes().trim_ascii();
        for header in request.headers {
            if is_amz(header.name) {
                found.amz.push(header.name);
            }
            let name = header.name.as_bytes();
            if name.eq_ignore_ascii_case(b"host") {
                found.host_differs |= header.value.trim_ascii() != authority;
            } else if let Some(slot) =
                Read::of(name).and_then(|read| found.slots.get_mut(read as usize))
            {
                slot.add(header.value);
            }
        }
        found
    }

    /// The lines of header `read`.
    fn slot(&self, read: Read) -> Slot<'r> {
        self.slots.get(read as usize).copied().unwrap_or_default()
    }

    /// The single value (trimmed) of header `read`: repeated lines must agree.
    fn single(&self, read: Read) -> Result<Option<&'r [u8]>, SigV4Error> {
        let slot = self.slot(read);
        if slot.ambiguous {
            return Err(SigV4Error::AmbiguousHeader(read.name()));
        }
        Ok(slot.first.map(<[u8]>::trim_ascii))
    }
}

/// Whether a header name has the `x-amz-` prefix (any case) and more after it.
fn is_amz(name: &str) -> bool {
    name.len() > AMZ_PREFIX.len()
        && name
            .as_bytes()
            .get(..AMZ_PREFIX.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(AMZ_PREFIX))
}

/// The names of a `SignedHeaders` list, split once.
type SignedNames<'a> = SmallVec<[&'a [u8]; 8]>;

/// `SignedHeaders`: lowercase names (a leading `:` allowed for `:authority`), strictly increasing.
fn check_signed_headers(list: &[u8]) -> Result<SignedNames<'_>, SigV4Error> {
    // Lists are almost always plain names and semicolons: one branch-free pass over the whole
    // list (it vectorises) then stands for the check of every name's bytes.
    let plain = list.iter().fold(true, |plain, &b| {
        plain & (b == b';' || is_signed_name_byte(b))
    });
    let mut names = SignedNames::new();
    let mut previous: Option<&[u8]> = None;
    for (count, name) in list.split(|&b| b == b';').enumerate() {
        if count == MAX_SIGNED_HEADERS {
            return Err(SigV4Error::TooMany {
                what: "signed headers",
                limit: MAX_SIGNED_HEADERS,
            });
        }
        let body = name.strip_prefix(b":").unwrap_or(name);
        let valid = !body.is_empty() && (plain || body.iter().all(|&b| is_signed_name_byte(b)));
        if !valid || previous.is_some_and(|p| p >= name) {
            return Err(SigV4Error::InvalidSignedHeaders);
        }
        previous = Some(name);
        names.push(name);
    }
    Ok(names)
}

/// A byte a `SignedHeaders` name may hold: lowercase letters, digits and the other token
/// characters of RFC 9110 (`!#$%&'*+-.^_|~` and the backtick). A `matches!` compiles to a few
/// range tests, where the search of a 15-byte list it replaces ran for every byte of every name.
fn is_signed_name_byte(b: u8) -> bool {
    matches!(
        b,
        b'a'..=b'z'
            | b'0'..=b'9'
            | b'!'
            | b'#'
            | b'$'
            | b'%'
            | b'&'
            | b'\''
            | b'*'
            | b'+'
            | b'-'
            | b'.'
            | b'^'
            | b'_'
            | b'`'
            | b'|'
            | b'~'
    )
}

/// Whether `path` holds `%25`, an encoded `%`.
fn contains_encoded_percent(path: &[u8]) -> bool {
    path.windows(3).any(|w| w == b"%25")
}

/// Headers of this prefix carry AWS meaning and must be signed when present.
const AMZ_PREFIX: &[u8] = b"x-amz-";

/// Whether header `name` is among the signed `names` (lower-case; `name` in any case, as header
/// names are).
fn is_signed(names: &[&[u8]], name: &[u8]) -> bool {
    names.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// Glob match with `*` as any sequence (SigV4A region sets: `*`, `us-west-*`).
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        match (pattern.get(p), text.get(t)) {
            (Some(b'*'), _) => {
                backtrack = Some((p, t));
                p += 1;
            }
            (Some(a), Some(b)) if a == b => {
                p += 1;
                t += 1;
            }
            _ => match backtrack {
                Some((bp, bt)) => {
                    p = bp + 1;
                    t = bt + 1;
                    backtrack = Some((bp, bt + 1));
                }
                None => return false,
            },
        }
    }
    pattern
        .get(p..)
        .unwrap_or_default()
        .iter()
        .all(|&b| b == b'*')
}

/// A byte's value as a lowercase hex digit, or 0xff.
fn lower_hex_digit(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => 0xff,
    }
}

/// Decodes lowercase hex into `out`; `None` if not lowercase hex of a fitting length.
fn decode_lower_hex<'o>(hex_text: &[u8], out: &'o mut [u8]) -> Option<&'o [u8]> {
    if !hex_text.len().is_multiple_of(2) || hex_text.len() / 2 > out.len() {
        return None;
    }
    let n = hex_text.len() / 2;
    // No branch out of the loop per digit: a bad one (0xff) is caught once, after it.
    let mut bad = 0u8;
    for (dst, pair) in out.iter_mut().zip(hex_text.chunks_exact(2)) {
        let [hi, lo] = *pair else { return None };
        let (hi, lo) = (lower_hex_digit(hi), lower_hex_digit(lo));
        bad |= hi | lo;
        *dst = hi << 4 | lo;
    }
    (bad < 16).then_some(())?;
    out.get(..n)
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

    /// Authenticates `request` at time `now` against `credentials`.
    ///
    /// Returns [`Verified::Anonymous`] for an unsigned request, [`Verified::Signed`] for a valid
    /// signature, and the first failing check in AWS's order otherwise (see the module docs).
    /// The returned access key id borrows from the request, hence the shared lifetime `'s`.
    pub fn verify<'s, C: CredentialSource>(
        &self,
        request: &HttpRequest<'s>,
        now: SystemTime,
        credentials: &'s C,
    ) -> Result<Verified<'s, C::Principal>, SigV4Error> {
        let now = time::unix_secs(now);
        let mut suffix = Buf::new();
        let Some(prepared) = self.prepare(request, now, &mut suffix)? else {
            return Ok(Verified::Anonymous);
        };
        // Step 8: the credential.
        let access_key_id = std::str::from_utf8(prepared.access_key_id)
            .map_err(|_| SigV4Error::UnrecognizedClient)?;
        let credential = credentials
            .credential(access_key_id)
            .ok_or(SigV4Error::UnrecognizedClient)?;
        let token_ok = match (credential.session_token, prepared.token.as_deref()) {
            (None, None) => true,
            (Some(expected), Some(presented)) => crypto::ct_eq(expected.as_bytes(), presented),
            _ => false,
        };
        if !token_ok {
            return Err(SigV4Error::UnrecognizedClient);
        }
        if credential
            .expires_at
            .is_some_and(|at| time::unix_secs(at) <= now)
        {
            return Err(SigV4Error::ExpiredToken);
        }
        // Step 9: the signature.
        let signature = prepared.signature.as_deref().unwrap_or_default();
        let (cache, path_encoding) = match prepared.algorithm {
            Algorithm::SigV4 => self.check_v4(&prepared, credential.secret, signature)?,
            Algorithm::SigV4A => self.check_v4a(&prepared, credential.secret, signature)?,
        };
        Ok(Verified::Signed(Signed {
            principal: credential.principal,
            access_key_id,
            algorithm: prepared.algorithm,
            location: prepared.location,
            cache,
            path_encoding,
        }))
    }

    /// The canonical requests and strings to sign this verifier computes for `request` at `now`,
    /// after every check that needs no credential; `None` for an anonymous request.
    pub fn explain(
        &self,
        request: &HttpRequest<'_>,
        now: SystemTime,
    ) -> Result<Option<Explanation>, SigV4Error> {
        let mut suffix = Buf::new();
        let Some(prepared) = self.prepare(request, time::unix_secs(now), &mut suffix)? else {
            return Ok(None);
        };
        let text = |encoding: PathEncoding| {
            let mut creq = Vec::new();
            prepared.write_canonical(encoding, |part| creq.extend_from_slice(part));
            let sts = prepared.string_to_sign(&Sha256::digest(&creq).into());
            (
                String::from_utf8_lossy(&creq).into_owned(),
                String::from_utf8_lossy(&sts).into_owned(),
            )
        };
        let (canonical_request, string_to_sign) = text(PathEncoding::Double);
        let (single_canonical_request, single_string_to_sign) = text(PathEncoding::Single);
        Ok(Some(Explanation {
            canonical_request,
            string_to_sign,
            single_canonical_request,
            single_string_to_sign,
        }))
    }

    /// Steps 1–7: every check that needs neither credential nor crypto.
    fn prepare<'r, 'b>(
        &self,
        request: &HttpRequest<'r>,
        now: i64,
        suffix: &'b mut Buf,
    ) -> Result<Option<Prepared<'r, 'b>>, SigV4Error> {
        let (path, query) = split_target(request.target);
        // An unsigned request is told in one cheap pass; the scan below reads more.
        if query.is_empty() && lines(request, b"authorization").next().is_none() {
            return Ok(None);
        }
        let found = Found::scan(request);
        // Step 1: where the signature is.
        let authorization = found.slot(Read::Authorization);
        if authorization.count > 1 {
            return Err(SigV4Error::MultipleAuthorizationHeaders);
        }
        let authorization = authorization.first;
        let presigned = !query.is_empty() && parse::has_presigned_params(query.as_bytes());
        let header_auth = match (authorization, presigned) {
            (None, false) => return Ok(None),
            (Some(value), false) => Some(value),
            (Some(value), true) if parse::is_aws4_scheme(value) => {
                return Err(SigV4Error::HeaderAndQueryAuth);
            }
            // No header, or a foreign scheme left for the application (sigv4 §1.1).
            (_, true) => None,
        };
        if header_auth.is_none() && !self.settings.query_auth {
            return Err(SigV4Error::QueryAuthDisabled);
        }
        // Step 2: escapes.
        canonical::check_escapes(path.as_bytes()).map_err(SigV4Error::InvalidUriPath)?;
        canonical::check_escapes(query.as_bytes()).map_err(SigV4Error::MalformedQueryString)?;
        // Step 3: parameters.
        let params = match header_auth {
            Some(value) => {
                let params = parse::parse_authorization(value)?;
                let mut missing = MissingParams::default();
                for (value, bit) in [
                    (&params.credential, MissingParams::CREDENTIAL),
                    (&params.signature, MissingParams::SIGNATURE),
                    (&params.signed_headers, MissingParams::SIGNED_HEADERS),
                ] {
                    if value.is_none() {
                        missing.insert(bit);
                    }
                }
                if found.slot(Read::XAmzDate).count == 0 && found.slot(Read::Date).count == 0 {
                    missing.insert(MissingParams::DATE);
                }
                if !missing.is_empty() {
                    return Err(SigV4Error::MissingAuthParameters {
                        missing,
                        algorithm: params.algorithm,
                    });
                }
                params
            }
            None => parse::parse_presigned_query(query)?.ok_or(SigV4Error::QueryAuthDisabled)?,
        };
        let signed_headers = params.signed_headers.clone().unwrap_or_default();
        let signed = check_signed_headers(&signed_headers)?;

        // Step 4: signed headers.
        if !is_signed(&signed, b"host") && !is_signed(&signed, b":authority") {
            return Err(SigV4Error::HostNotSigned);
        }
        suffix.push(b'\n');
        let skip = (params.location == SignatureLocation::Query).then_some(&b"X-Amz-Signature"[..]);
        canonical::canonical_query(suffix, query.as_bytes(), skip)?;
        suffix.push(b'\n');
        self.canonical_headers(suffix, request, &found, &signed)?;
        suffix.push(b'\n');
        suffix.extend_from_slice(&signed_headers);
        suffix.push(b'\n');

        let header_mode = params.location == SignatureLocation::Header;
        let mut date = params.date.clone();
        let mut token = params.security_token.clone();
        let mut region_set = params.region_set.clone();
        if header_mode {
            let read = |read: Read| -> Result<Option<&'r [u8]>, SigV4Error> {
                let value = found.single(read)?;
                if value.is_some() && !is_signed(&signed, read.name().as_bytes()) {
                    return Err(SigV4Error::HeaderNotSigned(read.name()));
                }
                Ok(value)
            };
            date = match read(Read::XAmzDate)? {
                Some(v) => Some(Cow::Borrowed(v)),
                None => read(Read::Date)?.map(Cow::Borrowed),
            };
            token = read(Read::SecurityToken)?.map(Cow::Borrowed);
            if params.algorithm == Algorithm::SigV4A {
                if !is_signed(&signed, b"x-amz-region-set") {
                    return Err(SigV4Error::HeaderNotSigned("x-amz-region-set"));
                }
                region_set = read(Read::RegionSet)?.map(Cow::Borrowed);
            }
        }

        // Step 5: payload.
        self.payload_line(suffix, request, &found, &signed)?;
        // Every other `x-amz-*` header must be signed too: otherwise a replay could add one
        // (after the payload step, so an unsigned `x-amz-content-sha256` gets AWS's words).
        if let Some(name) = found
            .amz
            .iter()
            .find(|name| !is_signed(&signed, name.as_bytes()))
        {
            return Err(SigV4Error::AmzHeaderNotSigned(Echo::new(name.as_bytes())));
        }

        // Step 6: time.
        let date = date.unwrap_or_default();
        let request_time = time::parse_iso_basic(&date)
            .ok_or_else(|| SigV4Error::InvalidDate(Echo::new(&date)))?;
        let skew = self.settings.max_skew.as_secs();
        let expires = match params.expires.as_deref() {
            None => None,
            Some(text) => {
                let secs = std::str::from_utf8(text)
                    .ok()
                    .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|t| t.parse::<u64>().ok())
                    .filter(|&s| s >= 1)
                    .ok_or(SigV4Error::InvalidExpires)?;
                if secs > MAX_EXPIRES_SECS {
                    return Err(SigV4Error::ExpiresTooLarge);
                }
                Some(secs)
            }
        };
        let window = expires.unwrap_or(skew);
        if request_time < now.saturating_sub_unsigned(window) {
            return Err(SigV4Error::SignatureExpired {
                request: Timestamp(request_time),
                now: Timestamp(now),
                window: Window(window),
            });
        }
        if request_time > now.saturating_add_unsigned(skew) {
            return Err(SigV4Error::SignatureNotYetCurrent {
                request: Timestamp(request_time),
                now: Timestamp(now),
                window: Window(skew),
            });
        }

        // Step 7: credential scope.
        let credential = params.credential.clone().unwrap_or_default();
        // The first six slash-separated parts, without collecting them: enough to tell four or
        // five parts from any other count.
        let mut rest = Some(&*credential);
        let parts: [Option<&[u8]>; 6] = std::array::from_fn(|_| {
            let text = rest?;
            match memchr::memchr(b'/', text) {
                Some(slash) => {
                    rest = text.get(slash + 1..);
                    text.get(..slash)
                }
                None => {
                    rest = None;
                    Some(text)
                }
            }
        });
        let sigv4a = params.algorithm == Algorithm::SigV4A;
        let (akid, scope_date, region, service, terminator) = match (sigv4a, parts) {
            (
                false,
                [
                    Some(akid),
                    Some(date),
                    Some(region),
                    Some(service),
                    Some(term),
                    None,
                ],
            ) => (akid, date, Some(region), service, term),
            (true, [Some(akid), Some(date), Some(service), Some(term), None, _]) => {
                (akid, date, None, service, term)
            }
            _ => {
                return Err(SigV4Error::CredentialParts {
                    sigv4a,
                    credential: Echo::new(&credential),
                });
            }
        };
        let mut problems = ScopeProblems::default();
        let region_index =
            region.and_then(|r| self.settings.regions.iter().position(|x| x.as_bytes() == r));
        problems.region = region.is_some() && region_index.is_none();
        if service != self.settings.service.as_bytes() {
            problems.service = Some(Echo::new(self.settings.service.as_bytes()));
        }
        if terminator != b"aws4_request" {
            problems.terminator = Some(Echo::new(terminator));
        }
        if Some(scope_date) != date.get(..8) {
            problems.date = Some(Echo::new(scope_date));
            problems.request_time = Timestamp(request_time);
        }
        if problems != ScopeProblems::default() {
            return Err(SigV4Error::Scope(problems));
        }
        if sigv4a {
            let set = region_set.as_deref().unwrap_or_default();
            let covered = set.split(|&b| b == b',').any(|entry| {
                let entry = entry.trim_ascii();
                self.settings
                    .regions
                    .iter()
                    .any(|r| glob_match(entry, r.as_bytes()))
            });
            if !covered {
                return Err(SigV4Error::RegionSetMismatch);
            }
        }
        let scope_start = akid.len() + 1;
        let scope = match &params.credential {
            Some(Cow::Borrowed(c)) => Cow::Borrowed(c.get(scope_start..).unwrap_or_default()),
            _ => Cow::Owned(credential.get(scope_start..).unwrap_or_default().to_vec()),
        };
        let access_key_id = match params.location {
            SignatureLocation::Header => match &params.credential {
                Some(Cow::Borrowed(c)) => c.get(..akid.len()).unwrap_or_default(),
                _ => b"",
            },
            // The access key id must be returned borrowed from the request: take it from the raw
            // (still encoded) parameter, which equals the decoded one unless it holds escapes.
            SignatureLocation::Query => params
                .credential_raw
                .and_then(|raw| raw.as_bytes().get(..akid.len()))
                .filter(|raw| *raw == akid)
                .unwrap_or_default(),
        };
        if access_key_id.is_empty() {
            return Err(SigV4Error::UnrecognizedClient);
        }
        Ok(Some(Prepared {
            algorithm: params.algorithm,
            location: params.location,
            access_key_id,
            scope,
            date,
            region: region_index.unwrap_or_default(),
            token,
            signature: params.signature,
            method: request.method.as_bytes(),
            path: path.as_bytes(),
            suffix,
        }))
    }

    /// Appends `name:value\n` for every signed header, checking each exists and is valid text.
    fn canonical_headers(
        &self,
        out: &mut Buf,
        request: &HttpRequest<'_>,
        found: &Found<'_>,
        signed: &[&[u8]],
    ) -> Result<(), SigV4Error> {
        for &name in signed {
            out.extend_from_slice(name);
            out.push(b':');
            if name == b"host" || name == b":authority" {
                let authority = request.authority.as_bytes();
                if authority.is_empty() {
                    return Err(SigV4Error::SignedHeaderMissing(Echo::new(name)));
                }
                // A `host` line that disagrees with `:authority` is ambiguous.
                if found.host_differs {
                    return Err(SigV4Error::AmbiguousHeader("host"));
                }
                if !canonical::valid_header_value(authority) {
                    return Err(SigV4Error::InvalidHeaderValue(Echo::new(name)));
                }
                canonical::push_trimmed(out, authority);
            } else if let Some(Slot {
                first,
                count: 0..=1,
                ..
            }) = Read::of(name).map(|read| found.slot(read))
            {
                // A header the scan found: no second pass when it has one line (or none).
                let value =
                    first.ok_or_else(|| SigV4Error::SignedHeaderMissing(Echo::new(name)))?;
                if !canonical::valid_header_value(value) {
                    return Err(SigV4Error::InvalidHeaderValue(Echo::new(name)));
                }
                canonical::push_trimmed(out, value);
            } else {
                let mut count = 0usize;
                for value in lines(request, name) {
                    if !canonical::valid_header_value(value) {
                        return Err(SigV4Error::InvalidHeaderValue(Echo::new(name)));
                    }
                    if count > 0 {
                        out.push(b',');
                    }
                    canonical::push_trimmed(out, value);
                    count += 1;
                }
                if count == 0 {
                    return Err(SigV4Error::SignedHeaderMissing(Echo::new(name)));
                }
            }
            out.push(b'\n');
        }
        Ok(())
    }

    /// Checks `x-amz-content-sha256` and appends the payload line.
    fn payload_line(
        &self,
        out: &mut Buf,
        request: &HttpRequest<'_>,
        found: &Found<'_>,
        signed: &[&[u8]],
    ) -> Result<(), SigV4Error> {
        let value = found.single(Read::ContentSha256)?;
        let header_signed = is_signed(signed, b"x-amz-content-sha256");
        match self.settings.payload {
            PayloadMode::Lattice => {
                if !header_signed {
                    return Err(SigV4Error::MissingContentSha256);
                }
                if value != Some(UNSIGNED_PAYLOAD.as_bytes()) {
                    return Err(SigV4Error::SignedPayloadUnsupported);
                }
                out.extend_from_slice(UNSIGNED_PAYLOAD.as_bytes());
            }
            PayloadMode::Standard => {
                if value.is_some() && !header_signed {
                    return Err(SigV4Error::MissingContentSha256);
                }
                let body_hash = || -> Option<[u8; 64]> {
                    let body = request
                        .body
                        .or_else(|| looks_bodiless(request).then_some(&[][..]))?;
                    let mut hex_out = [0u8; 64];
                    hex::encode_to_slice(Sha256::digest(body), &mut hex_out).ok()?;
                    Some(hex_out)
                };
                match value {
                    Some(v) if v == UNSIGNED_PAYLOAD.as_bytes() => out.extend_from_slice(v),
                    Some(v) if v.starts_with(b"STREAMING-") => {
                        return Err(SigV4Error::StreamingPayloadUnsupported);
                    }
                    Some(v) => {
                        let expected = body_hash().ok_or(SigV4Error::PayloadUnavailable)?;
                        if v != expected.as_slice() {
                            return Err(SigV4Error::ContentSha256Mismatch);
                        }
                        out.extend_from_slice(v);
                    }
                    None => {
                        let expected = body_hash().ok_or(SigV4Error::PayloadUnavailable)?;
                        out.extend_from_slice(&expected);
                    }
                }
            }
        }
        Ok(())
    }

    fn check_v4(
        &self,
        prepared: &Prepared<'_, '_>,
        secret: &Secret,
        signature: &[u8],
    ) -> Result<(CacheOutcome, PathEncoding), SigV4Error> {
        let mut expected = [0u8; 32];
        let provided = decode_lower_hex(signature, &mut expected)
            .filter(|s| s.len() == 32)
            .ok_or(SigV4Error::SignatureDoesNotMatch)?;
        let mut provided_sig = [0u8; 32];
        provided_sig.copy_from_slice(provided);
        let cached = secret.signing_key.load();
        let derived;
        let (key, cache) = match cached.as_deref() {
            Some(found) if *found.scope == *prepared.scope => (&found.key, CacheOutcome::Hit),
            _ => {
                let date = prepared.date.get(..8).unwrap_or_default();
                let region = self
                    .settings
                    .regions
                    .get(prepared.region)
                    .map(String::as_bytes)
                    .unwrap_or_default();
                let key = crypto::signing_key(
                    secret.expose(),
                    date,
                    region,
                    self.settings.service.as_bytes(),
                );
                derived = Arc::new(SigningKey {
                    scope: prepared.scope.to_vec().into_boxed_slice(),
                    key,
                });
                secret.signing_key.store(Some(Arc::clone(&derived)));
                (&derived.key, CacheOutcome::Miss)
            }
        };
        let matches = |encoding: PathEncoding| {
            let digest = prepared.canonical_digest(encoding);
            let sts = prepared.string_to_sign(&digest);
            crypto::ct_eq(&key.mac(&sts), &provided_sig)
        };
        prepared
            .try_encodings(&self.settings, matches)
            .map(|enc| (cache, enc))
    }

    fn check_v4a(
        &self,
        prepared: &Prepared<'_, '_>,
        secret: &Secret,
        signature: &[u8],
    ) -> Result<(CacheOutcome, PathEncoding), SigV4Error> {
        let mut der = [0u8; 80];
        let der = decode_lower_hex(signature, &mut der)
            .filter(|s| s.len() >= 8)
            .ok_or(SigV4Error::SignatureDoesNotMatch)?;
        let id: CacheKey = crypto::key_cache_id(secret.expose(), prepared.access_key_id);
        let (point, cache) = match self.keys.get(&id) {
            Some(found) => (found, CacheOutcome::Hit),
            None => {
                let private = crypto::sigv4a_private_key(secret.expose(), prepared.access_key_id)
                    .ok_or(SigV4Error::SignatureDoesNotMatch)?;
                let public =
                    crypto::sigv4a_public_key(&private).ok_or(SigV4Error::SignatureDoesNotMatch)?;
                let public = Arc::new(public);
                self.keys.insert(id, Arc::clone(&public));
                (public, CacheOutcome::Miss)
            }
        };
        let public = ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_ASN1,
            point.as_slice(),
        );
        let matches = |encoding: PathEncoding| {
            let digest = prepared.canonical_digest(encoding);
            let sts = prepared.string_to_sign(&digest);
            public.verify(&sts, der).is_ok()
        };
        prepared
            .try_encodings(&self.settings, matches)
            .map(|enc| (cache, enc))
    }
}

/// Whether a request shows no sign of a body (no `transfer-encoding`, `content-length` absent or 0).
fn looks_bodiless(request: &HttpRequest<'_>) -> bool {
    lines(request, b"transfer-encoding").next().is_none()
        && lines(request, b"content-length").all(|v| v.trim_ascii() == b"0")
}

impl Prepared<'_, '_> {
    /// Feeds the canonical request for `encoding` to `sink`, piece by piece.
    fn write_canonical(&self, encoding: PathEncoding, mut sink: impl FnMut(&[u8])) {
        let mut uri = Buf::new();
        match encoding {
            PathEncoding::Double => canonical::double_encoded_uri(&mut uri, self.path),
            PathEncoding::Single => canonical::single_encoded_uri(&mut uri, self.path),
        }
        sink(self.method);
        sink(b"\n");
        sink(&uri);
        sink(self.suffix);
    }

    fn canonical_digest(&self, encoding: PathEncoding) -> [u8; 32] {
        let mut hasher = Sha256::new();
        self.write_canonical(encoding, |part| hasher.update(part));
        hasher.finalize().into()
    }

    fn string_to_sign(&self, digest: &[u8; 32]) -> SmallVec<[u8; 192]> {
        let mut sts = SmallVec::new();
        sts.extend_from_slice(self.algorithm.name().as_bytes());
        sts.push(b'\n');
        sts.extend_from_slice(&self.date);
        sts.push(b'\n');
        sts.extend_from_slice(&self.scope);
        sts.push(b'\n');
        let mut hex_digest = [0u8; 64];
        if hex::encode_to_slice(digest, &mut hex_digest).is_ok() {
            sts.extend_from_slice(&hex_digest);
        }
        sts
    }

    /// Double-encoded first; the single-encoded path only when allowed, different, and free of
    /// an encoded `%`.
    ///
    /// Why not with `%25`: the single-encoded canonical URI of a path P equals the double-encoded
    /// one of a path Q only when P decoded once is Q as written, and P holds `%25` exactly where Q
    /// holds a `%`. Without `%25` in P, Q has no escapes and both name the same resource; with
    /// it, a request signed for `/a%20b` would verify when replayed as `/a%2520b`, a different
    /// resource. So a single-encoding client cannot sign a path with a literal `%`, and no
    /// replay can change what a path means.
    fn try_encodings(
        &self,
        settings: &Settings,
        mut matches: impl FnMut(PathEncoding) -> bool,
    ) -> Result<PathEncoding, SigV4Error> {
        if matches(PathEncoding::Double) {
            return Ok(PathEncoding::Double);
        }
        if settings.single_encoding_fallback && !contains_encoded_percent(self.path) {
            let mut double = Buf::new();
            canonical::double_encoded_uri(&mut double, self.path);
            let mut single = Buf::new();
            canonical::single_encoded_uri(&mut single, self.path);
            if double != single && matches(PathEncoding::Single) {
                return Ok(PathEncoding::Single);
            }
        }
        Err(SigV4Error::SignatureDoesNotMatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_is_redacted() {
        let s = Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
        assert_eq!(format!("{s:?}"), "** redacted **");
        let c = Credential {
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

    /// One access key.
    struct OneKey(Secret);

    impl CredentialSource for OneKey {
        type Principal = &'static str;
        fn credential(&self, access_key_id: &str) -> Option<Credential<'_, &'static str>> {
            (access_key_id == "AKIDEXAMPLE").then_some(Credential {
                secret: &self.0,
                session_token: None,
                expires_at: None,
                principal: &"alice",
            })
        }
    }

    /// The headers `sign_lattice` gives a `GET /` to `host` signed with `OneKey`'s key at `at`.
    fn signed_get(host: &str, at: SystemTime) -> Vec<(String, String)> {
        crate::test_util::sign_lattice(
            "GET",
            host,
            "/",
            &[],
            ("AKIDEXAMPLE", "secret", None),
            "ap-northeast-1",
            at,
        )
    }

    /// Verifies a `GET /` to `host` with `headers` at `at`: the principal and key cache outcome
    /// of a signed request, `None` for an anonymous one, or the error's text.
    fn verify_get(
        verifier: &Verifier,
        keys: &OneKey,
        host: &str,
        headers: &[(&str, &str)],
        at: SystemTime,
    ) -> Result<Option<(&'static str, CacheOutcome)>, String> {
        let headers: Vec<Header<'_>> = headers
            .iter()
            .map(|&(name, value)| Header {
                name,
                value: value.as_bytes(),
            })
            .collect();
        let request = HttpRequest {
            method: "GET",
            target: "/",
            authority: host,
            headers: &headers,
            body: None,
        };
        match verifier.verify(&request, at, keys) {
            Ok(Verified::Signed(s)) => Ok(Some((*s.principal, s.cache))),
            Ok(Verified::Anonymous) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    #[test]
    fn a_secret_keeps_the_signing_key_of_its_last_scope() {
        use std::time::{Duration, UNIX_EPOCH};
        let verifier = Verifier::new(Settings::lattice("ap-northeast-1"));
        let day = |n: u64| UNIX_EPOCH + Duration::from_secs(1_795_305_600 + n * 86_400);
        let host = "svc.example";
        let outcome = |keys: &OneKey, at: SystemTime| {
            let signed = signed_get(host, at);
            let headers: Vec<(&str, &str)> = signed
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str()))
                .collect();
            match verify_get(&verifier, keys, host, &headers, at) {
                Ok(Some((_, cache))) => cache,
                other => panic!("{other:?}"),
            }
        };
        let keys = OneKey(Secret::new("secret"));
        assert_eq!(outcome(&keys, day(0)), CacheOutcome::Miss);
        assert_eq!(outcome(&keys, day(0)), CacheOutcome::Hit);
        // A new date is a new scope, hence a new key; the slot then holds that one.
        assert_eq!(outcome(&keys, day(1)), CacheOutcome::Miss);
        assert_eq!(outcome(&keys, day(1)), CacheOutcome::Hit);
        assert_eq!(outcome(&keys, day(0)), CacheOutcome::Miss);
        // A clone (a reloaded world) derives afresh.
        let reloaded = OneKey(keys.0.clone());
        assert_eq!(outcome(&reloaded, day(0)), CacheOutcome::Miss);
        assert_eq!(outcome(&keys, day(0)), CacheOutcome::Hit);
    }

    #[test]
    fn every_read_header_is_told_by_its_name_in_any_case() {
        for read in Read::ALL {
            let name = read.name();
            assert!(matches!(Read::of(name.as_bytes()), Some(r) if r as usize == read as usize));
            let upper = name.to_ascii_uppercase();
            assert!(matches!(Read::of(upper.as_bytes()), Some(r) if r as usize == read as usize));
        }
        for other in [
            "host",
            "x-amz-dates",
            "dat",
            "authorisation",
            "x-amz-content-sha25",
            "",
        ] {
            assert!(Read::of(other.as_bytes()).is_none(), "{other}");
        }
    }

    /// The one pass over the headers matches names in any case, as a pass per name did: a
    /// signed request verifies with mixed-case names, repeated lines are told apart, and an
    /// unsigned `x-amz-*` line is named as it arrived.
    #[test]
    fn headers_are_found_by_name_in_any_case() {
        use std::time::{Duration, UNIX_EPOCH};
        let verifier = Verifier::new(Settings::lattice("ap-northeast-1"));
        let at = UNIX_EPOCH + Duration::from_secs(1_795_305_600);
        let host = "svc.example";
        let signed = signed_get(host, at);
        let mixed: Vec<(String, String)> = signed
            .iter()
            .map(|(name, value)| {
                let name = match name.as_str() {
                    "authorization" => "Authorization".to_owned(),
                    "x-amz-date" => "X-Amz-Date".to_owned(),
                    "x-amz-content-sha256" => "X-AMZ-CONTENT-SHA256".to_owned(),
                    other => other.to_owned(),
                };
                (name, value.clone())
            })
            .collect();
        let keys = OneKey(Secret::new("secret"));
        let verify = |extra: &[(&str, &str)]| {
            let headers: Vec<(&str, &str)> = mixed
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str()))
                .chain(extra.iter().copied())
                .collect();
            verify_get(&verifier, &keys, host, &headers, at).map(|ok| ok.map(|(who, _)| who))
        };
        assert_eq!(verify(&[]), Ok(Some("alice")));
        // The same value again (after trimming) is not ambiguous, but both lines of a signed
        // header enter the canonical request (`v,v`), so the signature no longer matches; a
        // different value is ambiguous.
        let date = signed
            .iter()
            .find(|(name, _)| name == "x-amz-date")
            .map(|(_, value)| format!(" {value} "))
            .unwrap();
        assert_eq!(
            verify(&[("x-amz-date", &date)]),
            Err(SigV4Error::SignatureDoesNotMatch.to_string())
        );
        assert_eq!(
            verify(&[("X-AMZ-DATE", "20261122T000001Z")]),
            Err(
                "The request contains more than one 'x-amz-date' header with different values."
                    .to_owned()
            )
        );
        assert_eq!(
            verify(&[("AUTHORIZATION", "AWS4-HMAC-SHA256 Credential=x")]),
            Err(SigV4Error::MultipleAuthorizationHeaders.to_string())
        );
        assert_eq!(
            verify(&[("Host", "other.example")]),
            Err(
                "The request contains more than one 'host' header with different values."
                    .to_owned()
            )
        );
        assert_eq!(
            verify(&[("X-Amz-Meta-Role", "admin")]),
            Err("'X-Amz-Meta-Role' must be a 'SignedHeader' in the AWS Authorization.".to_owned())
        );
    }

    #[test]
    fn signatures_are_lowercase_hex() {
        let mut out = [0u8; 4];
        assert_eq!(
            decode_lower_hex(b"00ff7a", &mut out),
            Some(&[0x00, 0xff, 0x7a][..])
        );
        assert_eq!(decode_lower_hex(b"", &mut out), Some(&[][..]));
        for bad in [&b"00FF"[..], b"0g", b"0", b"0 ", b"0123456789"] {
            assert_eq!(decode_lower_hex(bad, &mut out), None, "{bad:?}");
        }
    }

    #[test]
    fn glob() {
        assert!(glob_match(b"*", b"us-east-1"));
        assert!(glob_match(b"us-west-*", b"us-west-2"));
        assert!(!glob_match(b"us-west-*", b"us-east-1"));
        assert!(glob_match(b"us-*-1", b"us-east-1"));
        assert!(glob_match(b"ap-northeast-1", b"ap-northeast-1"));
        assert!(!glob_match(b"ap-northeast-1", b"ap-northeast-10"));
        assert!(!glob_match(b"", b"x"));
    }

    #[test]
    fn signed_name_bytes() {
        for b in 0..=u8::MAX {
            let listed =
                b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b);
            assert_eq!(is_signed_name_byte(b), listed, "{b:#04x}");
        }
    }

    #[test]
    fn signed_headers_syntax() {
        assert!(check_signed_headers(b"host;x-amz-date").is_ok());
        assert!(check_signed_headers(b":authority;host").is_ok());
        assert!(check_signed_headers(b"x-amz-date;host").is_err());
        assert!(check_signed_headers(b"host;host").is_err());
        assert!(check_signed_headers(b"Host").is_err());
        assert!(check_signed_headers(b"host;;x").is_err());
        assert!(check_signed_headers(b"").is_err());
        assert!(check_signed_headers(b"host;").is_err());
        assert!(check_signed_headers(b";host").is_err());
        assert!(check_signed_headers(b"ho:st").is_err());
        assert!(check_signed_headers(b"::authority").is_err());
        assert!(check_signed_headers(b"host;x-amz-d\xc3\xa9").is_err());
        // Past the limit, the count is what is reported, even for a name that is also bad.
        let many: Vec<String> = (0..MAX_SIGNED_HEADERS + 1)
            .map(|i| format!("h{i:03}"))
            .collect();
        let too_many = |list: &str| {
            matches!(
                check_signed_headers(list.as_bytes()),
                Err(SigV4Error::TooMany { .. })
            )
        };
        assert!(too_many(&many.join(";")));
        assert!(too_many(&format!("{};H", many.join(";"))));
        assert_eq!(
            check_signed_headers(
                many.get(..MAX_SIGNED_HEADERS)
                    .unwrap_or_default()
                    .join(";")
                    .as_bytes()
            )
            .map(|names| names.len()),
            Ok(MAX_SIGNED_HEADERS)
        );
    }
}
