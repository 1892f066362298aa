//! A JSON Web Key Set (RFC 7517) as an OIDC provider publishes it (Kubernetes at
//! `/openid/v1/jwks`), reduced to the keys a web identity token may be checked with: RSA keys of
//! 2048 to 8192 bits and EC keys on P-256 and P-384. It reads the document it is given; where the
//! document comes from (a file, a secret, a URL) and when it is read again is the caller's.
//!
//! A key that is not for signatures (`use` other than `sig`), of a type or curve this module cannot
//! use (`oct`, `OKP`, P-521), or restricted by its own `alg` to an algorithm this module does not
//! accept is skipped, not an error. A key of a usable kind whose material is broken (not
//! base64url, too small a modulus, a coordinate of the wrong length) makes the whole document an
//! error: it was meant to be used, and skipping it would only show up later as an unknown key.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{
    self, ECDSA_P256_SHA256_FIXED, ECDSA_P384_SHA384_FIXED, RsaPublicKeyComponents,
    UnparsedPublicKey,
};
use serde_json::value::RawValue;

use super::error::{JwksError, KeyProblem};
use super::json;
use super::jwt::Algorithm;

/// Largest key set document accepted, in bytes.
pub const MAX_JWKS_BYTES: usize = 1 << 20;

/// Smallest and largest RSA modulus accepted, in bits (ring's verification bounds).
const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=8192;

/// A parsed JSON Web Key Set: the keys a web identity token may be checked with.
#[derive(Debug, Clone, Default)]
pub struct Jwks {
    keys: Vec<Jwk>,
}

impl Jwks {
    /// Parses a key set document (`{"keys": [...]}`).
    pub fn parse(json: &[u8]) -> Result<Self, JwksError> {
        if json.len() > MAX_JWKS_BYTES {
            return Err(JwksError::TooLarge(json.len()));
        }
        let [keys] = json::pick(json, &["keys"]).ok_or(JwksError::NotJson)?;
        let entries: Vec<&RawValue> = keys
            .and_then(|k| serde_json::from_str(k.get()).ok())
            .ok_or(JwksError::MissingKeys)?;
        let mut usable = Vec::new();
        for (index, entry) in entries.into_iter().enumerate() {
            if let Some(key) =
                Jwk::parse(entry).map_err(|problem| JwksError::Key { index, problem })?
            {
                usable.push(key);
            }
        }
        Ok(Self { keys: usable })
    }

    /// How many usable keys the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set holds no usable key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The usable keys, in document order.
    pub(super) fn keys(&self) -> impl Iterator<Item = &Jwk> {
        self.keys.iter()
    }
}

/// One usable key.
#[derive(Clone)]
pub(super) struct Jwk {
    kid: Option<Box<str>>,
    /// The key's own `alg`, when it names one.
    alg: Option<Algorithm>,
    material: Material,
}

/// A key's public material, as ring's verifiers take it.
#[derive(Clone)]
enum Material {
    /// Modulus and exponent, big-endian without leading zeros.
    Rsa { n: Box<[u8]>, e: Box<[u8]> },
    /// Uncompressed point `04 || x || y`.
    P256(Box<[u8]>),
    /// Uncompressed point `04 || x || y`.
    P384(Box<[u8]>),
}

impl Jwk {
    /// The members a key is read from.
    const MEMBERS: [&'static str; 9] = ["kty", "use", "kid", "alg", "n", "e", "crv", "x", "y"];

    /// Reads one entry of `keys`: `Ok(None)` for a key this module does not use.
    fn parse(entry: &RawValue) -> Result<Option<Self>, KeyProblem> {
        let [kty, use_, kid, alg, n, e, crv, x, y] =
            json::pick(entry.get().as_bytes(), &Self::MEMBERS).ok_or(KeyProblem::NotObject)?;
        let kty = required_string(kty, "kty")?;
        if optional_string(use_, "use")?.is_some_and(|u| u != "sig") {
            return Ok(None);
        }
        let kid = optional_string(kid, "kid")?;
        let alg = match optional_string(alg, "alg")? {
            None => None,
            Some(name) => match Algorithm::from_name(&name) {
                Some(alg) => Some(alg),
                None => return Ok(None),
            },
        };
        let material = match kty.as_str() {
            "RSA" => {
                if alg.is_some_and(|a| !a.is_rsa()) {
                    return Ok(None);
                }
                let n = strip_leading_zeros(base64url(n, "n")?);
                let e = strip_leading_zeros(base64url(e, "e")?);
                check_rsa(&n, &e)?;
                Material::Rsa {
                    n: n.into(),
                    e: e.into(),
                }
            }
            "EC" => {
                let (curve_alg, field_bytes) = match required_string(crv, "crv")?.as_str() {
                    "P-256" => (Algorithm::Es256, 32),
                    "P-384" => (Algorithm::Es384, 48),
                    _ => return Ok(None),
                };
                if alg.is_some_and(|a| a != curve_alg) {
                    return Ok(None);
                }
                let x = base64url(x, "x")?;
                let y = base64url(y, "y")?;
                if x.len() != field_bytes {
                    return Err(KeyProblem::EcCoordinate("x"));
                }
                if y.len() != field_bytes {
                    return Err(KeyProblem::EcCoordinate("y"));
                }
                let mut point = Vec::with_capacity(1 + 2 * field_bytes);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                if curve_alg == Algorithm::Es256 {
                    Material::P256(point.into())
                } else {
                    Material::P384(point.into())
                }
            }
            _ => return Ok(None),
        };
        Ok(Some(Self {
            kid: kid.map(String::into_boxed_str),
            alg,
            material,
        }))
    }

    /// The key's id, if it has one.
    pub(super) fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Whether this key can check a signature made with `alg`: an RSA key checks RS256/384/512, a
    /// P-256 key ES256, a P-384 key ES384, and a key with its own `alg` only that one.
    pub(super) fn fits(&self, alg: Algorithm) -> bool {
        let family = match self.material {
            Material::Rsa { .. } => alg.is_rsa(),
            Material::P256(_) => alg == Algorithm::Es256,
            Material::P384(_) => alg == Algorithm::Es384,
        };
        family && self.alg.is_none_or(|own| own == alg)
    }

    /// Whether `signature` over `message` verifies under this key with `alg` (which must fit).
    pub(super) fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        if !self.fits(alg) {
            return false;
        }
        match &self.material {
            Material::Rsa { n, e } => {
                let params = match alg {
                    Algorithm::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                    Algorithm::Rs384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                    Algorithm::Rs512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                    Algorithm::Es256 | Algorithm::Es384 => return false,
                };
                RsaPublicKeyComponents {
                    n: &n[..],
                    e: &e[..],
                }
                .verify(params, message, signature)
                .is_ok()
            }
            Material::P256(point) => UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                .verify(message, signature)
                .is_ok(),
            Material::P384(point) => UnparsedPublicKey::new(&ECDSA_P384_SHA384_FIXED, point)
                .verify(message, signature)
                .is_ok(),
        }
    }
}

impl Material {
    /// The key's kind and size, for `Debug`.
    fn kind(&self) -> String {
        match self {
            Self::Rsa { n, .. } => format!("RSA-{}", modulus_bits(n)),
            Self::P256(_) => "P-256".to_owned(),
            Self::P384(_) => "P-384".to_owned(),
        }
    }
}

impl fmt::Debug for Jwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwk")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("kind", &format_args!("{}", self.material.kind()))
            .finish()
    }
}

fn optional_string(
    raw: Option<&RawValue>,
    name: &'static str,
) -> Result<Option<String>, KeyProblem> {
    raw.map(|r| json::string(r).ok_or(KeyProblem::NotString(name)))
        .transpose()
}

fn required_string(raw: Option<&RawValue>, name: &'static str) -> Result<String, KeyProblem> {
    optional_string(raw, name)?.ok_or(KeyProblem::Missing(name))
}

fn base64url(raw: Option<&RawValue>, name: &'static str) -> Result<Vec<u8>, KeyProblem> {
    URL_SAFE_NO_PAD
        .decode(required_string(raw, name)?)
        .map_err(|_| KeyProblem::Base64(name))
}

fn strip_leading_zeros(mut bytes: Vec<u8>) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|&&b| b == 0).count();
    bytes.drain(..zeros);
    bytes
}

/// Size in bits of a big-endian number without leading zeros.
fn modulus_bits(n: &[u8]) -> usize {
    n.first().map_or(0, |&top| {
        (n.len() - 1) * 8 + (8 - usize::try_from(top.leading_zeros()).unwrap_or(8))
    })
}

/// The bounds ring's RSA verification puts on a public key, checked when the set is read.
fn check_rsa(n: &[u8], e: &[u8]) -> Result<(), KeyProblem> {
    let bits = modulus_bits(n);
    if !RSA_BITS.contains(&bits) || n.last().is_none_or(|b| b & 1 == 0) {
        return Err(KeyProblem::RsaModulus(bits));
    }
    if e.is_empty() || e.len() > 5 {
        return Err(KeyProblem::RsaExponent);
    }
    let value = e.iter().fold(0_u64, |acc, &b| (acc << 8) | u64::from(b));
    if value < 3 || value & 1 == 0 || value >= 1 << 33 {
        return Err(KeyProblem::RsaExponent);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
