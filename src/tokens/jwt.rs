//! Web identity tokens: a JWT in JWS compact form (RFC 7519, RFC 7515), as Kubernetes projects a
//! service-account token and as any OIDC provider issues one.
//!
//! Reading is split in two so the STS can run its checks in its own order (spec sts §2.3,
//! "Procedure we implement"): [`UnverifiedJwt::parse`] bounds the token, reads its header and
//! claims, and refuses what no key could make acceptable (an algorithm outside RS256/384/512 and
//! ES256/384, a `crit` header, claims of the wrong type, a malformed tags claim);
//! [`UnverifiedJwt::verify`] then finds the key in a [`Jwks`] and checks the signature. Neither
//! compares issuer, audience or times: the STS does, with [`Claims`] and its own clock.
//!
//! The header members `jku`, `x5u`, `jwk` and `x5c` are never read: a token does not choose the
//! key it is checked with. Base64url is read without padding only.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::value::RawValue;

use super::error::{JwtError, JwtPart, TagsProblem};
use super::json;
use super::jwks::Jwks;

/// Longest web identity token accepted, in bytes (STS's `WebIdentityToken` bound).
pub const MAX_JWT_BYTES: usize = 20_000;

/// Most session tags a token's tags claim may carry (spec sts §2.5).
pub const MAX_TAGS: usize = 50;

/// Longest session tag key, in characters.
pub const MAX_TAG_KEY_CHARS: usize = 128;

/// Longest session tag value, in characters.
pub const MAX_TAG_VALUE_CHARS: usize = 256;

/// Longest algorithm name an error repeats.
const MAX_ALG_ECHO: usize = 32;

/// The claim carrying session tags.
const TAGS_CLAIM: &str = "https://aws.amazon.com/tags";

/// The claim carrying the source identity.
const SOURCE_IDENTITY_CLAIM: &str = "https://aws.amazon.com/source_identity";

// === impl Algorithm ===

/// A signing algorithm this reader accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// ECDSA on P-384 with SHA-384.
    Es384,
}

impl Algorithm {
    /// The algorithm named `name` (the header's `alg`, case-sensitive), if it is accepted.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "RS256" => Some(Self::Rs256),
            "RS384" => Some(Self::Rs384),
            "RS512" => Some(Self::Rs512),
            "ES256" => Some(Self::Es256),
            "ES384" => Some(Self::Es384),
            _ => None,
        }
    }

    /// The algorithm's JOSE name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Rs384 => "RS384",
            Self::Rs512 => "RS512",
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
        }
    }

    /// Whether this is one of the RSA algorithms.
    pub fn is_rsa(self) -> bool {
        matches!(self, Self::Rs256 | Self::Rs384 | Self::Rs512)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

// === Claims ===

/// The claims of a web identity token that the STS reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claims {
    /// `iss`.
    pub iss: Option<String>,
    /// `sub`.
    pub sub: Option<String>,
    /// `aud`: a string or an array of strings in the token; empty when absent.
    pub aud: Vec<String>,
    /// `azp`.
    pub azp: Option<String>,
    /// `amr`: a string or an array of strings in the token; empty when absent.
    pub amr: Vec<String>,
    /// `exp`, unix seconds.
    pub exp: Option<i64>,
    /// `nbf`, unix seconds.
    pub nbf: Option<i64>,
    /// `iat`, unix seconds.
    pub iat: Option<i64>,
    /// `https://aws.amazon.com/tags`: `principal_tags` (key → array of one string), in the
    /// token's order.
    pub principal_tags: Vec<(String, String)>,
    /// `https://aws.amazon.com/tags`: `transitive_tag_keys`.
    pub transitive_tag_keys: Vec<String>,
    /// `https://aws.amazon.com/source_identity`.
    pub source_identity: Option<String>,
}

impl Claims {
    /// The claim names read.
    const NAMES: [&'static str; 10] = [
        "iss",
        "sub",
        "aud",
        "azp",
        "amr",
        "exp",
        "nbf",
        "iat",
        TAGS_CLAIM,
        SOURCE_IDENTITY_CLAIM,
    ];

    /// Reads the claims from the decoded payload.
    fn parse(payload: &[u8]) -> Result<Self, JwtError> {
        let [
            iss,
            sub,
            aud,
            azp,
            amr,
            exp,
            nbf,
            iat,
            tags,
            source_identity,
        ] = json::pick(payload, &Self::NAMES).ok_or(JwtError::NotJsonObject(JwtPart::Payload))?;
        let (principal_tags, transitive_tag_keys) = match tags {
            Some(raw) => read_tags(raw).map_err(JwtError::MalformedTags)?,
            None => (Vec::new(), Vec::new()),
        };
        Ok(Self {
            iss: claim_string(iss, "iss")?,
            sub: claim_string(sub, "sub")?,
            aud: claim_string_list(aud, "aud")?,
            azp: claim_string(azp, "azp")?,
            amr: claim_string_list(amr, "amr")?,
            exp: claim_date(exp, "exp")?,
            nbf: claim_date(nbf, "nbf")?,
            iat: claim_date(iat, "iat")?,
            principal_tags,
            transitive_tag_keys,
            source_identity: claim_string(source_identity, SOURCE_IDENTITY_CLAIM)?,
        })
    }
}

fn claim_string(raw: Option<&RawValue>, name: &'static str) -> Result<Option<String>, JwtError> {
    raw.map(|r| json::string(r).ok_or(JwtError::NotString(name)))
        .transpose()
}

fn claim_date(raw: Option<&RawValue>, name: &'static str) -> Result<Option<i64>, JwtError> {
    raw.map(|r| json::integer(r).ok_or(JwtError::NumericDate(name)))
        .transpose()
}

fn claim_string_list(raw: Option<&RawValue>, name: &'static str) -> Result<Vec<String>, JwtError> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    json::string(raw)
        .map(|one| vec![one])
        .or_else(|| json::strings(raw))
        .ok_or(JwtError::StringList(name))
}

/// Session tags as `(key, value)` pairs, in order.
type Tags = Vec<(String, String)>;

/// Principal tags (in order) and transitive tag keys from the tags claim (spec sts §2.5).
fn read_tags(raw: &RawValue) -> Result<(Tags, Vec<String>), TagsProblem> {
    let [principal, transitive] = json::pick(
        raw.get().as_bytes(),
        &["principal_tags", "transitive_tag_keys"],
    )
    .ok_or(TagsProblem::NotObject)?;
    let mut tags = Vec::new();
    if let Some(principal) = principal {
        let members = json::members_of(principal).ok_or(TagsProblem::NotObject)?;
        if members.len() > MAX_TAGS {
            return Err(TagsProblem::TooMany(members.len()));
        }
        let mut folded: Vec<String> = Vec::with_capacity(members.len());
        for (key, value) in members {
            if !valid_tag_key(&key) {
                return Err(TagsProblem::KeyLength);
            }
            let lower = key.to_lowercase();
            if folded.contains(&lower) {
                return Err(TagsProblem::DuplicateKey);
            }
            folded.push(lower);
            let value = match json::strings(value).as_deref() {
                Some([one]) => one.to_owned(),
                _ => return Err(TagsProblem::Value),
            };
            if value.chars().count() > MAX_TAG_VALUE_CHARS {
                return Err(TagsProblem::ValueLength);
            }
            tags.push((key.into_owned(), value));
        }
    }
    let transitive = match transitive {
        Some(raw) => json::strings(raw)
            .filter(|keys| keys.len() <= MAX_TAGS && keys.iter().all(|k| valid_tag_key(k)))
            .ok_or(TagsProblem::TransitiveKeys)?,
        None => Vec::new(),
    };
    Ok((tags, transitive))
}

/// Whether a tag key has an allowed length (its characters are the STS's to check).
fn valid_tag_key(key: &str) -> bool {
    !key.is_empty() && key.chars().count() <= MAX_TAG_KEY_CHARS
}

// === impl UnverifiedJwt ===

/// A parsed web identity token whose signature is NOT yet verified.
#[derive(Clone)]
pub struct UnverifiedJwt {
    algorithm: Algorithm,
    key_id: Option<String>,
    claims: Claims,
    /// `header.payload` as the token carried it: what the signature covers.
    signing_input: Box<[u8]>,
    signature: Box<[u8]>,
}

impl UnverifiedJwt {
    /// Parses a token, ignoring ASCII whitespace around it (a token file is sent as read).
    pub fn parse(token: &str) -> Result<Self, JwtError> {
        let token = token.trim_ascii();
        if token.len() > MAX_JWT_BYTES {
            return Err(JwtError::TooLarge(token.len()));
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::NotThreeParts);
        };
        let (algorithm, key_id) = read_header(&decode(header, JwtPart::Header)?)?;
        let payload_json = decode(payload, JwtPart::Payload)?;
        let signature = decode(signature, JwtPart::Signature)?;
        let claims = Claims::parse(&payload_json)?;
        // The signing input is everything before the last dot.
        let signed_len = header.len() + 1 + payload.len();
        let signing_input = token
            .as_bytes()
            .get(..signed_len)
            .ok_or(JwtError::NotThreeParts)?;
        Ok(Self {
            algorithm,
            key_id,
            claims,
            signing_input: signing_input.into(),
            signature: signature.into(),
        })
    }

    /// The header's `alg`.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The header's `kid`, if any.
    pub fn key_id(&self) -> Option<&str> {
        self.key_id.as_deref()
    }

    /// The claims (not yet trustworthy: check [`Self::verify`] before acting on them).
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// Finds the key and checks the signature with it. With a `kid`, the keys with that id are
    /// used, and one of them must fit the algorithm; without one, the set must hold exactly one
    /// key that fits the algorithm. A key checks only its own family: an RSA key never checks an
    /// ES* token, a P-256 key only ES256, a P-384 key only ES384.
    pub fn verify(&self, jwks: &Jwks) -> Result<(), JwtError> {
        let alg = self.algorithm;
        let verifies =
            |key: &super::jwks::Jwk| key.verify(alg, &self.signing_input, &self.signature);
        if let Some(kid) = self.key_id.as_deref() {
            let mut named = jwks.keys().filter(|k| k.kid() == Some(kid)).peekable();
            if named.peek().is_none() {
                return Err(JwtError::UnknownKeyId);
            }
            let mut fitting = named.filter(|k| k.fits(alg)).peekable();
            if fitting.peek().is_none() {
                return Err(JwtError::KeyAlgorithmMismatch(alg));
            }
            if fitting.any(verifies) {
                Ok(())
            } else {
                Err(JwtError::BadSignature)
            }
        } else {
            let mut fitting = jwks.keys().filter(|k| k.fits(alg));
            match (fitting.next(), fitting.next()) {
                (Some(key), None) if verifies(key) => Ok(()),
                (Some(_), None) => Err(JwtError::BadSignature),
                _ => Err(JwtError::AmbiguousKey),
            }
        }
    }
}

impl fmt::Debug for UnverifiedJwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnverifiedJwt")
            .field("algorithm", &self.algorithm)
            .field("key_id", &self.key_id)
            .field("claims", &self.claims)
            .field("signature", &format_args!("** redacted **"))
            .finish()
    }
}

/// Decodes one part: base64url without padding.
fn decode(part: &str, which: JwtPart) -> Result<Vec<u8>, JwtError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwtError::Base64(which))
}

/// Reads `alg`, `kid` and `crit` from the decoded header; every other member is ignored.
fn read_header(header: &[u8]) -> Result<(Algorithm, Option<String>), JwtError> {
    let [alg, kid, crit] = json::pick(header, &["alg", "kid", "crit"])
        .ok_or(JwtError::NotJsonObject(JwtPart::Header))?;
    let name = alg.and_then(json::string).unwrap_or_default();
    let algorithm =
        Algorithm::from_name(&name).ok_or_else(|| JwtError::UnsupportedAlgorithm(echo(&name)))?;
    if crit.is_some() {
        return Err(JwtError::CriticalHeader);
    }
    let key_id = kid
        .map(|k| json::string(k).ok_or(JwtError::HeaderMember("kid")))
        .transpose()?;
    Ok((algorithm, key_id))
}

/// An algorithm name as an error repeats it: at most 32 characters, printable ASCII, any other
/// character shown as `?`.
fn echo(name: &str) -> String {
    name.chars()
        .take(MAX_ALG_ECHO)
        .map(|c| {
            if c == ' ' || c.is_ascii_graphic() {
                c
            } else {
                '?'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
