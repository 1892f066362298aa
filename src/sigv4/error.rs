//! The AWS error catalogue for signature failures (sigv4 §1.11, lattice-auth §4.6).

/// A signature failure, with AWS's exception name and exact message.
///
/// `Display` renders the message only; [`SigV4Error::exception`] gives the exception name, so the
/// Lattice body is `format!("{}: {}", e.exception(), e)`.
///
/// CONTRACT (skeleton): the SigV4 issue adds the full catalogue; every variant must map to one
/// [`SigV4ErrorKind`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    /// The computed signature differs from the one the client sent.
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
    )]
    SignatureDoesNotMatch,
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
            Self::SignatureDoesNotMatch => "InvalidSignatureException",
        }
    }

    /// The closed classification of this failure.
    pub fn kind(&self) -> SigV4ErrorKind {
        match self {
            Self::SignatureDoesNotMatch => SigV4ErrorKind::Mismatch,
        }
    }
}
