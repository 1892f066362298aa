//! Verification: the checks of steps 1 to 9 in AWS's order (the module docs), the canonical
//! request's digest, the string to sign, and the signature check of each algorithm, trying the
//! double-encoded canonical URI first and the single-encoded one after.
//!
//! It must not touch: the key material's arithmetic (`crypto`), the header scan and the
//! `SignedHeaders` rules (`headers`), the canonical forms (`canonical`), the clock (time is a
//! parameter).

use std::borrow::Cow;
use std::sync::Arc;
use std::time::SystemTime;

use sha2::{Digest, Sha256};
use smallvec::SmallVec;

use super::canonical::{self, Buf, QueryPlus};
use super::error::{Echo, MissingParams, ScopeProblems, SigV4Error, Timestamp, Window};
use super::headers::{self, Found, Read, check_signed_headers, glob_match, is_signed, lines};
use super::{
    Algorithm, CacheKey, CacheOutcome, CredentialSource, Explanation, HttpRequest, KnownCredential,
    MAX_EXPIRES_SECS, PathEncoding, PayloadMode, Secret, Settings, SignatureLocation, Signed,
    SigningKey, UNSIGNED_PAYLOAD, Verified, Verifier, crypto, parse, split_target, time,
};

/// Everything the checks established, ready for the crypto. The canonical request's suffix
/// lives in a buffer of the caller's, so that this value stays small to return and move.
struct Prepared<'r, 'b> {
    algorithm: Algorithm,
    location: SignatureLocation,
    /// `AKID`, decoded: borrowed from the request unless it was sent escaped.
    access_key_id: Cow<'r, [u8]>,
    /// `YYYYMMDD/…/aws4_request` as the client sent it (validated).
    scope: Cow<'r, [u8]>,
    /// The request timestamp text (`YYYYMMDDTHHMMSSZ`).
    date: Cow<'r, [u8]>,
    /// The presented session token, if any.
    token: Option<Cow<'r, [u8]>>,
    signature: Option<Cow<'r, [u8]>>,
    method: &'r [u8],
    path: &'r [u8],
    /// The raw query, read again when a `+` in it may have been signed as a plus sign.
    query: &'r [u8],
    /// `\n` query `\n` headers `\n` signed-headers `\n` payload.
    suffix: &'b [u8],
    /// Where the canonical query ends in `suffix` (it starts after the first byte).
    query_end: usize,
}

/// One reading of the request as a canonical request: how its path is encoded, and the canonical
/// query when a `+` is read as a plus sign (`None`: as a space, the query already in `suffix`).
#[derive(Debug, Clone, Copy)]
struct Form<'q> {
    path: PathEncoding,
    plus_query: Option<&'q [u8]>,
}

/// The query parameter a canonical query leaves out: a presigned request's own signature.
fn signature_param(location: SignatureLocation) -> Option<&'static [u8]> {
    (location == SignatureLocation::Query).then_some(&b"X-Amz-Signature"[..])
}

/// Whether `path` holds `%25`, an encoded `%`.
fn contains_encoded_percent(path: &[u8]) -> bool {
    path.windows(3).any(|w| w == b"%25")
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
    /// Authenticates `request` at time `now` against `credentials`.
    ///
    /// Returns [`Verified::Anonymous`] for an unsigned request, [`Verified::Signed`] for a valid
    /// signature, and the first failing check in AWS's order otherwise (see the module docs).
    /// The returned access key id borrows from the request, hence the shared lifetime `'s`.
    pub fn verify<'s, C: CredentialSource>(
        &self,
        request: &HttpRequest<'_>,
        now: SystemTime,
        credentials: &'s C,
    ) -> Result<Verified<C::Credential<'s>>, SigV4Error> {
        let now = time::unix_secs(now);
        let mut suffix = Buf::new();
        let Some(prepared) = self.prepare(request, now, &mut suffix)? else {
            return Ok(Verified::Anonymous);
        };
        // Step 8: the credential.
        let access_key_id = std::str::from_utf8(&prepared.access_key_id)
            .map_err(|_| SigV4Error::UnrecognizedClient)?;
        let presented = prepared.token.as_deref();
        let credential = credentials
            .credential(access_key_id, presented)
            .ok_or(SigV4Error::UnrecognizedClient)?;
        let token_ok = match (credential.session_token(), presented) {
            (None, None) => true,
            (Some(expected), Some(presented)) => crypto::ct_eq(expected, presented),
            _ => false,
        };
        if !token_ok {
            return Err(SigV4Error::UnrecognizedClient);
        }
        if credential
            .expires_at()
            .is_some_and(|at| time::unix_secs(at) <= now)
        {
            return Err(SigV4Error::ExpiredToken);
        }
        // Step 9: the signature.
        let signature = prepared.signature.as_deref().unwrap_or_default();
        let (cache, path_encoding) = match prepared.algorithm {
            Algorithm::SigV4 => self.check_v4(&prepared, credential.secret(), signature)?,
            Algorithm::SigV4A => self.check_v4a(&prepared, credential.secret(), signature)?,
        };
        Ok(Verified::Signed(Signed {
            credential,
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
        let text = |path: PathEncoding| {
            let mut creq = Vec::new();
            let form = Form {
                path,
                plus_query: None,
            };
            prepared.write_canonical(form, |part| creq.extend_from_slice(part));
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
        let skip = signature_param(params.location);
        canonical::canonical_query(suffix, query.as_bytes(), skip, QueryPlus::Space)?;
        let query_end = suffix.len();
        suffix.push(b'\n');
        headers::canonical_headers(suffix, request, &found, &signed)?;
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
        let mut problems = ScopeProblems {
            region: region.is_some_and(|r| !self.settings.accepts_region(r)),
            ..ScopeProblems::default()
        };
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
            let covered = self.settings.any_region
                || set.split(|&b| b == b',').any(|entry| {
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
                Some(Cow::Borrowed(c)) => Cow::Borrowed(c.get(..akid.len()).unwrap_or_default()),
                _ => Cow::Borrowed(&b""[..]),
            },
            // Borrowed from the raw (still encoded) parameter when it equals the decoded one, as
            // it does unless the client escaped a character of it; decoded otherwise, as AWS
            // decodes every query value.
            SignatureLocation::Query => match params
                .credential_raw
                .and_then(|raw| raw.as_bytes().get(..akid.len()))
                .filter(|raw| *raw == akid)
            {
                Some(raw) => Cow::Borrowed(raw),
                None => Cow::Owned(akid.to_vec()),
            },
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
            token,
            signature: params.signature,
            method: request.method.as_bytes(),
            path: path.as_bytes(),
            query: query.as_bytes(),
            suffix,
            query_end,
        }))
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
                // `YYYYMMDD/REGION/SERVICE/aws4_request`, checked in `prepare`.
                let region = prepared
                    .scope
                    .split(|&b| b == b'/')
                    .nth(1)
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
        let matches = |form: Form<'_>| {
            let digest = prepared.canonical_digest(form);
            let sts = prepared.string_to_sign(&digest);
            crypto::ct_eq(&key.mac(&sts), &provided_sig)
        };
        prepared
            .try_forms(&self.settings, matches)
            .map(|path| (cache, path))
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
        let id: CacheKey = crypto::key_cache_id(secret.expose(), &prepared.access_key_id);
        let (point, cache) = match self.keys.get(&id) {
            Some(found) => (found, CacheOutcome::Hit),
            None => {
                let private = crypto::sigv4a_private_key(secret.expose(), &prepared.access_key_id)
                    .ok_or(SigV4Error::SignatureDoesNotMatch)?;
                let public =
                    crypto::sigv4a_public_key(&private).ok_or(SigV4Error::SignatureDoesNotMatch)?;
                let public = Arc::new(public);
                self.keys.insert(id, Arc::clone(&public));
                (public, CacheOutcome::Miss)
            }
        };
        let public = crypto::EcdsaKey::new(&point);
        let matches = |form: Form<'_>| {
            let digest = prepared.canonical_digest(form);
            let sts = prepared.string_to_sign(&digest);
            public.verify(&sts, der)
        };
        prepared
            .try_forms(&self.settings, matches)
            .map(|path| (cache, path))
    }
}

/// Whether a request shows no sign of a body (no `transfer-encoding`, `content-length` absent or 0).
fn looks_bodiless(request: &HttpRequest<'_>) -> bool {
    lines(request, b"transfer-encoding").next().is_none()
        && lines(request, b"content-length").all(|v| v.trim_ascii() == b"0")
}

impl Prepared<'_, '_> {
    /// Feeds the canonical request of `form` to `sink`, piece by piece.
    fn write_canonical(&self, form: Form<'_>, mut sink: impl FnMut(&[u8])) {
        let mut uri = Buf::new();
        match form.path {
            PathEncoding::Double => canonical::double_encoded_uri(&mut uri, self.path),
            PathEncoding::Single => canonical::single_encoded_uri(&mut uri, self.path),
            PathEncoding::DoubleSdkDots => canonical::sdk_double_encoded_uri(&mut uri, self.path),
        }
        sink(self.method);
        sink(b"\n");
        sink(&uri);
        match form.plus_query {
            None => sink(self.suffix),
            Some(query) => {
                sink(b"\n");
                sink(query);
                sink(self.suffix.get(self.query_end..).unwrap_or_default());
            }
        }
    }

    fn canonical_digest(&self, form: Form<'_>) -> [u8; 32] {
        let mut hasher = Sha256::new();
        self.write_canonical(form, |part| hasher.update(part));
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

    /// The canonical request as botocore signs it first; then, only if that does not verify,
    /// the other readings clients are known to sign, each only where it reads this request
    /// differently: the single-encoded path (when allowed and free of an encoded `%`), the path
    /// normalised as the SDKs do (a final `.` or `..` segment leaves no slash), and for each
    /// path a `+` in the query read as a plus sign (the AWS CRT signers).
    ///
    /// Why the single-encoded path not with `%25`: the single-encoded canonical URI of a path P
    /// equals the double-encoded one of a path Q only when P decoded once is Q as written, and P
    /// holds `%25` exactly where Q holds a `%`. Without `%25` in P, Q has no escapes and both
    /// name the same resource; with it, a request signed for `/a%20b` would verify when
    /// replayed as `/a%2520b`, a different resource. So a single-encoding client cannot sign a
    /// path with a literal `%`, and no replay can change what a path means.
    fn try_forms(
        &self,
        settings: &Settings,
        mut matches: impl FnMut(Form<'_>) -> bool,
    ) -> Result<PathEncoding, SigV4Error> {
        let first = Form {
            path: PathEncoding::Double,
            plus_query: None,
        };
        if matches(first) {
            return Ok(PathEncoding::Double);
        }
        let mut double = Buf::new();
        canonical::double_encoded_uri(&mut double, self.path);
        let mut paths: SmallVec<[PathEncoding; 3]> = SmallVec::new();
        paths.push(PathEncoding::Double);
        let mut single = Buf::new();
        if settings.single_encoding_fallback && !contains_encoded_percent(self.path) {
            canonical::single_encoded_uri(&mut single, self.path);
            if single != double {
                paths.push(PathEncoding::Single);
            }
        }
        let mut sdk = Buf::new();
        canonical::sdk_double_encoded_uri(&mut sdk, self.path);
        if sdk != double && !(paths.contains(&PathEncoding::Single) && sdk == single) {
            paths.push(PathEncoding::DoubleSdkDots);
        }
        let mut plus_query = Buf::new();
        let has_plus = self.query.contains(&b'+');
        if has_plus {
            let skip = signature_param(self.location);
            canonical::canonical_query(&mut plus_query, self.query, skip, QueryPlus::Plus)?;
        }
        for path in paths {
            for plus in [QueryPlus::Space, QueryPlus::Plus] {
                let plus_query = match plus {
                    QueryPlus::Space if path == PathEncoding::Double => continue,
                    QueryPlus::Space => None,
                    QueryPlus::Plus if !has_plus => continue,
                    QueryPlus::Plus => Some(&plus_query[..]),
                };
                if matches(Form { path, plus_query }) {
                    return Ok(path);
                }
            }
        }
        Err(SigV4Error::SignatureDoesNotMatch)
    }
}

#[cfg(test)]
mod tests;
