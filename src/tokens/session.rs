//! Self-contained session tokens: a role session sealed under one of the world's session keys, and
//! opened by any holder of the keyring with no other state. Also the shapes of new temporary
//! credentials. It checks nothing about the session it opens (expiry, the request's access key
//! id, the role): the verifier does, with the [`SessionClaims`] this returns.
//!
//! # Wire format (version 1)
//!
//! This is the definition of the format; a change to it is a new version byte.
//!
//! The token text is the standard base64 encoding, with padding, of
//!
//! ```text
//! 0x01 (PREFIX, the format version)   1 byte
//! key id length L                     1 byte, 1..=64
//! key id                              L bytes of [A-Za-z0-9._-]
//! nonce                               12 bytes, random for every token
//! ciphertext                          AES-256-GCM of the payload
//! tag                                 16 bytes
//! ```
//!
//! The additional authenticated data is everything before the ciphertext (version, length, key id
//! and nonce), so none of it can be changed without the tag failing. The key id is in clear so a
//! verifier picks the key without trying each one; ids are not secret. The text is at most
//! [`MAX_TOKEN_BYTES`] long: [`Keyring::open`] refuses longer text before decoding it and
//! [`Keyring::seal`] refuses a session that would make one.
//!
//! The payload is a JSON object with short member names (`v` its own version, 1; `k` access key
//! id; `s` secret access key; `r` role ARN; `i` role id; `n` session name; `t` issue time and `e`
//! expiry, unix seconds; `g` session tags as `[key, value]` pairs; `x` transitive tag keys; `si`
//! source identity; `fp` federated provider; `c` chained). Empty lists, absent options and a false
//! `c` are left out. A member this version does not know makes the payload invalid.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::error::{KeyError, OpenError, SealError};

/// The first byte of every sealed token: the format version.
pub const PREFIX: u8 = 0x01;

/// Longest session token text accepted or produced, in bytes (spec sts §7.2 item 8).
pub const MAX_TOKEN_BYTES: usize = 4096;

/// Longest decoded token: what [`MAX_TOKEN_BYTES`] of base64 text decodes to.
const MAX_SEALED_BYTES: usize = MAX_TOKEN_BYTES / 4 * 3;

/// Length of a session key's secret, in bytes (AES-256).
const SECRET_BYTES: usize = 32;

/// Longest session key id, in bytes.
const MAX_KEY_ID_BYTES: usize = 64;

/// Length of the AES-GCM authentication tag.
const TAG_BYTES: usize = 16;

/// The payload's own version (`v`).
const PAYLOAD_VERSION: u8 = 1;

/// What `Debug` shows in place of a secret.
const REDACTED: &str = "** redacted **";

// === impl SessionKey ===

/// One session key: an id (1–64 characters of `[A-Za-z0-9._-]`) and 32 secret bytes. `Debug`
/// shows the id only.
#[derive(Clone)]
pub struct SessionKey {
    id: Box<str>,
    /// The id's length as the token's length byte (at most 64, checked when built).
    id_len: u8,
    /// ring's AES-256-GCM key, built once.
    key: LessSafeKey,
}

impl SessionKey {
    /// Builds a key from its id and its secret, which must be exactly 32 bytes.
    pub fn new(id: &str, secret: &[u8]) -> Result<Self, KeyError> {
        if !valid_key_id(id.as_bytes()) {
            return Err(KeyError::InvalidId);
        }
        let id_len = u8::try_from(id.len()).map_err(|_| KeyError::InvalidId)?;
        if secret.len() != SECRET_BYTES {
            return Err(KeyError::SecretLength(secret.len()));
        }
        let key = UnboundKey::new(&AES_256_GCM, secret)
            .map_err(|_| KeyError::SecretLength(secret.len()))?;
        Ok(Self {
            id: id.into(),
            id_len,
            key: LessSafeKey::new(key),
        })
    }

    /// Builds a key from its id and its secret as standard base64 text (with padding); whitespace
    /// around the text is ignored.
    pub fn from_base64(id: &str, secret_b64: &str) -> Result<Self, KeyError> {
        let secret = Zeroizing::new(
            STANDARD
                .decode(secret_b64.trim())
                .map_err(|_| KeyError::SecretBase64)?,
        );
        Self::new(id, &secret)
    }

    /// Generates a key with a fresh random secret; returns it with the secret as standard base64
    /// text (for the world's `sessionKeys`).
    pub fn generate(id: &str) -> Result<(Self, String), KeyError> {
        let mut secret = Zeroizing::new([0_u8; SECRET_BYTES]);
        SystemRandom::new()
            .fill(&mut secret[..])
            .map_err(|_| KeyError::Random)?;
        let key = Self::new(id, &secret[..])?;
        Ok((key, STANDARD.encode(&secret[..])))
    }

    /// The key's id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionKey")
            .field("id", &self.id)
            .field("secret", &format_args!("{REDACTED}"))
            .finish()
    }
}

/// Whether `id` is 1–64 bytes of `[A-Za-z0-9._-]`.
fn valid_key_id(id: &[u8]) -> bool {
    (1..=MAX_KEY_ID_BYTES).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

// === impl Keyring ===

/// The world's session keys: the first seals, every one opens. Ids are unique. The default ring
/// is empty.
#[derive(Clone, Default)]
pub struct Keyring {
    keys: Vec<SessionKey>,
}

impl Keyring {
    /// Builds a keyring; an empty one is allowed (it seals nothing and opens nothing).
    pub fn new(keys: Vec<SessionKey>) -> Result<Self, KeyError> {
        for (i, key) in keys.iter().enumerate() {
            if keys.iter().take(i).any(|k| k.id == key.id) {
                return Err(KeyError::DuplicateId(key.id.to_string()));
            }
        }
        Ok(Self { keys })
    }

    /// Whether the keyring holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// How many keys the keyring holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// The id of the key that seals, if any.
    pub fn sealing_key_id(&self) -> Option<&str> {
        self.keys.first().map(SessionKey::id)
    }

    /// Seals `session` under the first key with a fresh random nonce.
    pub fn seal(&self, session: &SessionClaims) -> Result<String, SealError> {
        self.seal_with(|buf| {
            serde_json::to_writer(buf, &PayloadRef::from(session)).map_err(|_| SealError::Encode)
        })
    }

    /// Seals what `write` appends to the buffer (the payload), after the header.
    fn seal_with(
        &self,
        write: impl FnOnce(&mut Vec<u8>) -> Result<(), SealError>,
    ) -> Result<String, SealError> {
        let key = self.keys.first().ok_or(SealError::NoKey)?;
        let mut nonce = [0_u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| SealError::Random)?;
        // The buffer holds the plaintext until it is encrypted in place: it is wiped on drop,
        // and sized so that writing any payload that can still be sealed never reallocates it
        // (a reallocation would leave a copy of the secret behind).
        let mut sealed = Zeroizing::new(Vec::with_capacity(MAX_SEALED_BYTES));
        sealed.push(PREFIX);
        sealed.push(key.id_len);
        sealed.extend_from_slice(key.id.as_bytes());
        sealed.extend_from_slice(&nonce);
        let header_len = sealed.len();
        write(&mut sealed)?;
        let text_len = (sealed.len() + TAG_BYTES).div_ceil(3) * 4;
        if text_len > MAX_TOKEN_BYTES {
            return Err(SealError::TooLarge(text_len));
        }
        let (aad, plaintext) = sealed
            .split_at_mut_checked(header_len)
            .ok_or(SealError::Encode)?;
        let tag = key
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&*aad),
                plaintext,
            )
            .map_err(|_| SealError::Encode)?;
        sealed.extend_from_slice(tag.as_ref());
        Ok(STANDARD.encode(&*sealed))
    }

    /// Opens a token (the text as the request carried it, no whitespace trimmed).
    pub fn open(&self, token: &[u8]) -> Result<SessionClaims, OpenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(OpenError::TooLarge);
        }
        // Decrypted in place on the stack, and wiped when done.
        let mut buf = Zeroizing::new([0_u8; MAX_SEALED_BYTES]);
        let len = STANDARD
            .decode_slice(token, &mut buf[..])
            .map_err(|_| OpenError::Malformed)?;
        let sealed = buf.get_mut(..len).ok_or(OpenError::Malformed)?;
        let (header, body) = split_header(sealed)?;
        let id = header
            .get(2..header.len() - NONCE_LEN)
            .ok_or(OpenError::Malformed)?;
        let nonce = header
            .get(header.len() - NONCE_LEN..)
            .and_then(|n| <[u8; NONCE_LEN]>::try_from(n).ok())
            .ok_or(OpenError::Malformed)?;
        let Some(key) = self.keys.iter().find(|k| k.id.as_bytes() == id) else {
            // The id passed `valid_key_id`, so it is ASCII.
            return Err(OpenError::UnknownKey(
                String::from_utf8_lossy(id).into_owned(),
            ));
        };
        let plaintext = key
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&*header),
                body,
            )
            .map_err(|_| OpenError::Rejected)?;
        let payload: Payload = serde_json::from_slice(plaintext).map_err(|_| OpenError::Payload)?;
        payload.into_claims()
    }
}

/// Splits a decoded token into its header (version, id length, id, nonce) and the ciphertext
/// with its tag, checking the version, the id and the lengths.
fn split_header(sealed: &mut [u8]) -> Result<(&mut [u8], &mut [u8]), OpenError> {
    let [version, id_len, ..] = *sealed else {
        return Err(OpenError::Malformed);
    };
    if version != PREFIX {
        return Err(OpenError::Malformed);
    }
    let header_len = 2 + usize::from(id_len) + NONCE_LEN;
    let (header, body) = sealed
        .split_at_mut_checked(header_len)
        .ok_or(OpenError::Malformed)?;
    let id = header
        .get(2..2 + usize::from(id_len))
        .ok_or(OpenError::Malformed)?;
    if !valid_key_id(id) || body.len() < TAG_BYTES {
        return Err(OpenError::Malformed);
    }
    Ok((header, body))
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field(
                "ids",
                &self.keys.iter().map(SessionKey::id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

// === impl SessionClaims ===

/// Everything a sealed session token carries.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionClaims {
    /// `ASIA` + 16 characters of `[A-Z2-7]`.
    pub access_key_id: String,
    /// 40 characters; never shown by `Debug`.
    pub secret_access_key: Zeroizing<String>,
    /// `arn:aws:iam::ACCOUNT:role/path/name`.
    pub role_arn: String,
    /// The role's unique id (`AROA…`).
    pub role_id: String,
    /// The role session name.
    pub session_name: String,
    /// Unix seconds (`aws:TokenIssueTime`).
    pub issued_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// Session tags in order, as issued.
    pub tags: Vec<(String, String)>,
    /// Keys of the session tags that pass to chained sessions.
    pub transitive_tag_keys: Vec<String>,
    /// `aws:SourceIdentity`.
    pub source_identity: Option<String>,
    /// The OIDC provider ARN of a web identity session (`aws:FederatedProvider`).
    pub federated_provider: Option<String>,
    /// Issued by `AssumeRole` called with role-session credentials (role chaining).
    pub chained: bool,
}

impl fmt::Debug for SessionClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            access_key_id,
            secret_access_key: _,
            role_arn,
            role_id,
            session_name,
            issued_at,
            expires_at,
            tags,
            transitive_tag_keys,
            source_identity,
            federated_provider,
            chained,
        } = self;
        f.debug_struct("SessionClaims")
            .field("access_key_id", access_key_id)
            .field("secret_access_key", &format_args!("{REDACTED}"))
            .field("role_arn", role_arn)
            .field("role_id", role_id)
            .field("session_name", session_name)
            .field("issued_at", issued_at)
            .field("expires_at", expires_at)
            .field("tags", tags)
            .field("transitive_tag_keys", transitive_tag_keys)
            .field("source_identity", source_identity)
            .field("federated_provider", federated_provider)
            .field("chained", chained)
            .finish()
    }
}

/// The payload as sealed, borrowing from the claims.
#[derive(Serialize)]
struct PayloadRef<'a> {
    v: u8,
    k: &'a str,
    s: &'a str,
    r: &'a str,
    i: &'a str,
    n: &'a str,
    t: i64,
    e: i64,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    g: &'a [(String, String)],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    x: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    si: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fp: Option<&'a str>,
    #[serde(skip_serializing_if = "is_false")]
    c: bool,
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_false(b: &bool) -> bool {
    !*b
}

impl<'a> From<&'a SessionClaims> for PayloadRef<'a> {
    fn from(claims: &'a SessionClaims) -> Self {
        let SessionClaims {
            access_key_id,
            secret_access_key,
            role_arn,
            role_id,
            session_name,
            issued_at,
            expires_at,
            tags,
            transitive_tag_keys,
            source_identity,
            federated_provider,
            chained,
        } = claims;
        Self {
            v: PAYLOAD_VERSION,
            k: access_key_id,
            s: secret_access_key,
            r: role_arn,
            i: role_id,
            n: session_name,
            t: *issued_at,
            e: *expires_at,
            g: tags,
            x: transitive_tag_keys,
            si: source_identity.as_deref(),
            fp: federated_provider.as_deref(),
            c: *chained,
        }
    }
}

/// The payload as opened.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    v: u8,
    k: String,
    s: String,
    r: String,
    i: String,
    n: String,
    t: i64,
    e: i64,
    #[serde(default)]
    g: Vec<(String, String)>,
    #[serde(default)]
    x: Vec<String>,
    #[serde(default)]
    si: Option<String>,
    #[serde(default)]
    fp: Option<String>,
    #[serde(default)]
    c: bool,
}

impl Payload {
    fn into_claims(self) -> Result<SessionClaims, OpenError> {
        let Self {
            v,
            k,
            s,
            r,
            i,
            n,
            t,
            e,
            g,
            x,
            si,
            fp,
            c,
        } = self;
        // The secret is moved, not copied, into its zeroizing wrapper.
        let secret_access_key = Zeroizing::new(s);
        if v != PAYLOAD_VERSION {
            return Err(OpenError::Payload);
        }
        Ok(SessionClaims {
            access_key_id: k,
            secret_access_key,
            role_arn: r,
            role_id: i,
            session_name: n,
            issued_at: t,
            expires_at: e,
            tags: g,
            transitive_tag_keys: x,
            source_identity: si,
            federated_provider: fp,
            chained: c,
        })
    }
}

// === new credentials ===

/// Generates a new temporary access key id (`ASIA` + 16 characters of the RFC 4648 base32
/// alphabet, from 10 random bytes) and secret access key (40 characters of `[A-Za-z0-9+/]`, the
/// standard base64 of 30 random bytes), the shapes AWS's temporary credentials have.
pub fn new_credentials() -> Result<(String, Zeroizing<String>), SealError> {
    let mut random = Zeroizing::new([0_u8; 40]);
    SystemRandom::new()
        .fill(&mut random[..])
        .map_err(|_| SealError::Random)?;
    let (id_bytes, secret_bytes) = random.split_at(10);
    let mut bits = id_bytes
        .iter()
        .fold(0_u128, |acc, &b| (acc << 8) | u128::from(b));
    let mut id = [b'A'; 16];
    for c in id.iter_mut().rev() {
        *c = base32_char(bits);
        bits >>= 5;
    }
    let mut access_key_id = String::with_capacity(20);
    access_key_id.push_str("ASIA");
    access_key_id.extend(id.iter().map(|&b| char::from(b)));
    let mut secret = Zeroizing::new(String::with_capacity(40));
    STANDARD.encode_string(secret_bytes, &mut secret);
    Ok((access_key_id, secret))
}

/// The RFC 4648 base32 character of the low 5 bits of `bits`.
fn base32_char(bits: u128) -> u8 {
    let v = u8::try_from(bits & 0x1f).unwrap_or(0);
    if v < 26 { b'A' + v } else { b'2' + (v - 26) }
}

#[cfg(test)]
mod tests;
