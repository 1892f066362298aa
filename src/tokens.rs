//! Credentials the STS hands out and reads back: sealed session tokens and web identity tokens.
//!
//! - `session`: the self-contained session token. [`Keyring::seal`] turns [`SessionClaims`] into
//!   the text the STS returns as `SessionToken`; [`Keyring::open`] turns it back, so any sidecar
//!   holding the world's session keys verifies a session with no other state. Also the shapes of
//!   new temporary credentials ([`new_credentials`]).
//! - `jwks`: a JSON Web Key Set as an OIDC provider publishes it, reduced to the keys a web
//!   identity token may be checked with.
//! - `jwt`: a web identity token (a JWS compact JWT): [`UnverifiedJwt::parse`] reads and bounds it
//!   and refuses what no key could make acceptable; [`UnverifiedJwt::verify`] checks its signature
//!   against a [`Jwks`].
//!
//! This module decides nothing about roles, providers, audiences or times: the STS does those
//! checks, in its own order, with what these types expose. It reads no clock (expiry is a claim the
//! caller compares), no file and no network, and it uses nothing else in the crate. Nothing here
//! writes a secret, a token or a signature into an error or a `Debug` output.

mod error;
mod json;
mod jwks;
mod jwt;
mod session;
#[cfg(test)]
mod test_keys;

pub use error::{
    JwksError, JwtError, JwtPart, KeyError, KeyProblem, OpenError, SealError, TagsProblem,
};
pub use jwks::{Jwks, MAX_JWKS_BYTES};
pub use jwt::{
    Algorithm, Claims, MAX_JWT_BYTES, MAX_TAG_KEY_CHARS, MAX_TAG_VALUE_CHARS, MAX_TAGS,
    UnverifiedJwt,
};
pub use session::{Keyring, MAX_TOKEN_BYTES, PREFIX, SessionClaims, SessionKey, new_credentials};
