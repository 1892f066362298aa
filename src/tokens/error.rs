//! Every way a session key, a sealed session token, a key set or a web identity token is refused.
//!
//! The variants carry no secret: never a key, a token, a claim set or a signature. What they do
//! carry is either small and fixed (a member name, a count) or not secret by design (a session
//! key id, an algorithm name cleaned to printable ASCII). The STS and the verifier map each one
//! to AWS's wording; the distinctions here are for logs and tests.

use thiserror::Error;

/// A session key that cannot be used, or a keyring that cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyError {
    /// The id is empty, longer than 64 characters or uses a character outside `[A-Za-z0-9._-]`.
    #[error("a session key id must be 1 to 64 characters of letters, digits, `.`, `_` and `-`")]
    InvalidId,
    /// The secret is not exactly 32 bytes (the number is the length given).
    #[error("a session key secret must be 32 bytes, not {0}")]
    SecretLength(usize),
    /// The secret text is not standard base64 with padding.
    #[error("a session key secret must be standard base64 text")]
    SecretBase64,
    /// Two keys of one keyring have the same id (ids are not secret).
    #[error("session key id `{0}` is listed more than once")]
    DuplicateId(String),
    /// The system's random number generator failed.
    #[error("the system random number generator failed")]
    Random,
}

/// A session that cannot be sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SealError {
    /// The keyring holds no key.
    #[error("no session key to seal with")]
    NoKey,
    /// The sealed token would be longer than its bound (the STS answers `PackedPolicyTooLarge`).
    #[error("the sealed session would be {0} bytes, more than the {max} allowed", max = super::MAX_TOKEN_BYTES)]
    TooLarge(usize),
    /// The system's random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// Encoding or encrypting the payload failed (it cannot for any session this module builds).
    #[error("the session could not be encoded")]
    Encode,
}

/// A session token that does not open. The verifier answers every one of them with AWS's
/// "The security token included in the request is invalid."
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OpenError {
    /// The token text is longer than its bound; it was not decoded.
    #[error("the session token is longer than {max} bytes", max = super::MAX_TOKEN_BYTES)]
    TooLarge,
    /// Not standard base64, too short, an unknown format version or a malformed key id.
    #[error("the session token is malformed")]
    Malformed,
    /// Sealed under a key id the keyring does not hold (ids are not secret).
    #[error("the session token was sealed under unknown key `{0}`")]
    UnknownKey(String),
    /// The authentication tag does not match: tampered, truncated, or sealed under another key
    /// that has the same id.
    #[error("the session token failed its authenticity check")]
    Rejected,
    /// Authentic, but what it holds is not a session this version reads.
    #[error("the session token does not hold a valid session")]
    Payload,
}

/// A document that is not a usable JSON Web Key Set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum JwksError {
    /// The document is longer than [`super::MAX_JWKS_BYTES`] (the number is its length).
    #[error("the key set is {0} bytes, more than the {max} allowed", max = super::MAX_JWKS_BYTES)]
    TooLarge(usize),
    /// Not a JSON object (or a member named twice, or text after it).
    #[error("the key set is not a JSON object")]
    NotJson,
    /// The object has no `keys` array.
    #[error("the key set has no `keys` array")]
    MissingKeys,
    /// One key of a kind this module uses (`kty` `RSA`, or `EC` on P-256 / P-384) is broken.
    #[error("key {index} of the key set: {problem}")]
    Key {
        /// Position of the key in `keys`, from 0.
        index: usize,
        /// What is wrong with it.
        problem: KeyProblem,
    },
}

/// What is wrong with one key of a key set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum KeyProblem {
    /// The entry is not a JSON object, or names a member twice.
    #[error("not a JSON object")]
    NotObject,
    /// A member is not a string.
    #[error("member `{0}` is not a string")]
    NotString(&'static str),
    /// A required member is absent.
    #[error("member `{0}` is missing")]
    Missing(&'static str),
    /// A member is not base64url without padding.
    #[error("member `{0}` is not base64url without padding")]
    Base64(&'static str),
    /// The RSA modulus is even or outside 2048 to 8192 bits (the number is its size in bits).
    #[error("the RSA modulus has {0} bits; 2048 to 8192 bits, odd, are allowed")]
    RsaModulus(usize),
    /// The RSA exponent is even, below 3 or above 2^33 - 1.
    #[error("the RSA exponent must be odd, at least 3 and below 2^33")]
    RsaExponent,
    /// An EC coordinate is not as long as the curve's field.
    #[error("member `{0}` is not as long as the curve's field elements")]
    EcCoordinate(&'static str),
}

/// Which part of a web identity token an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtPart {
    /// The JOSE header (first part).
    Header,
    /// The claims (second part).
    Payload,
    /// The signature (third part).
    Signature,
}

impl JwtPart {
    /// The part's name as messages show it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Header => "header",
            Self::Payload => "payload",
            Self::Signature => "signature",
        }
    }
}

/// A web identity token that is refused, by [`super::UnverifiedJwt::parse`] or
/// [`super::UnverifiedJwt::verify`]. The STS answers each with `InvalidIdentityToken`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum JwtError {
    /// The token (without surrounding whitespace) is longer than [`super::MAX_JWT_BYTES`].
    #[error("the token is {0} bytes, more than the {max} allowed", max = super::MAX_JWT_BYTES)]
    TooLarge(usize),
    /// Not three parts separated by dots.
    #[error("the token is not three parts separated by dots")]
    NotThreeParts,
    /// A part is not base64url without padding.
    #[error("the token's {} is not base64url without padding", .0.name())]
    Base64(JwtPart),
    /// The header or the payload is not one JSON object (or names a member twice).
    #[error("the token's {} is not a JSON object", .0.name())]
    NotJsonObject(JwtPart),
    /// `alg` is missing, not a string, `none`, HMAC, RSA-PSS, EdDSA, ES512 or unknown. The name is
    /// the header's (cleaned to at most 32 printable ASCII characters; empty when absent).
    #[error("the token's signing algorithm `{0}` is not supported")]
    UnsupportedAlgorithm(String),
    /// The header has a `crit` member: it asks for extensions this reader does not implement.
    #[error("the token's header has a `crit` member")]
    CriticalHeader,
    /// A header member that must be a string (`kid`) is not.
    #[error("the token's header member `{0}` is not a string")]
    HeaderMember(&'static str),
    /// A claim that must be a string is not.
    #[error("claim `{0}` is not a string")]
    NotString(&'static str),
    /// A numeric date claim (`exp`, `nbf`, `iat`) is not an integer.
    #[error("claim `{0}` is not an integer number of seconds")]
    NumericDate(&'static str),
    /// `aud` or `amr` is neither a string nor an array of strings.
    #[error("claim `{0}` is neither a string nor an array of strings")]
    StringList(&'static str),
    /// The `https://aws.amazon.com/tags` claim is malformed.
    #[error("claim `https://aws.amazon.com/tags`: {0}")]
    MalformedTags(TagsProblem),
    /// The header's `kid` names no key of the key set.
    #[error("the token's key id is not in the provider's key set")]
    UnknownKeyId,
    /// The token has no `kid` and the key set does not have exactly one key for its algorithm.
    #[error(
        "the token has no key id and the key set does not have exactly one key for its algorithm"
    )]
    AmbiguousKey,
    /// The key named by `kid` cannot check this algorithm (an RSA key for an ES256 token, a P-256
    /// key for ES384, a key whose own `alg` differs).
    #[error("the token's key cannot check a {0} signature")]
    KeyAlgorithmMismatch(super::Algorithm),
    /// The signature does not verify.
    #[error("the token's signature does not verify")]
    BadSignature,
}

/// What is wrong with a token's `https://aws.amazon.com/tags` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum TagsProblem {
    /// The claim, or its `principal_tags`, is not an object (or names a member twice).
    #[error("not an object")]
    NotObject,
    /// A tag's value is not an array of exactly one string.
    #[error("a tag's value is not an array of exactly one string")]
    Value,
    /// More tags than [`super::MAX_TAGS`] (the number is how many).
    #[error("{0} tags, more than the {max} allowed", max = super::MAX_TAGS)]
    TooMany(usize),
    /// Two tag keys equal when case is ignored.
    #[error("two tag keys differ only in case")]
    DuplicateKey,
    /// A tag key is empty or longer than [`super::MAX_TAG_KEY_CHARS`].
    #[error("a tag key is empty or longer than {max} characters", max = super::MAX_TAG_KEY_CHARS)]
    KeyLength,
    /// A tag value is longer than [`super::MAX_TAG_VALUE_CHARS`].
    #[error("a tag value is longer than {max} characters", max = super::MAX_TAG_VALUE_CHARS)]
    ValueLength,
    /// `transitive_tag_keys` is not an array of tag keys (at most [`super::MAX_TAGS`] strings,
    /// each a valid tag key).
    #[error("`transitive_tag_keys` is not an array of at most {max} tag keys", max = super::MAX_TAGS)]
    TransitiveKeys,
}
