//! AWS STS's error catalogue (sts §1.5): the wire codes, their HTTP statuses and fault types, and
//! the message texts AWS is seen to send, including the `ValidationError` grammar that lists every
//! violated constraint at once.
//!
//! Everything here is data: an [`StsError`] is a code and the finished message, built where the
//! refusal is decided and rendered by `wire`. It must not: carry a secret, a session token, a JWT
//! or the value of a sensitive request member (the constructors leave those out), or know how a
//! request is parsed or answered.

use std::borrow::Cow;
use std::fmt;

/// The wire code of an STS error (`<Error><Code>`), with its HTTP status and fault type.
///
/// The codes and statuses are AWS's (sts §1.5, from the STS model and the common errors page),
/// except the four the protocol layer needs of its own, documented on their variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// `InvalidIdentityToken` (400): the web identity token could not be validated.
    InvalidIdentityToken,
    /// `ExpiredTokenException` (400): the web identity token has expired.
    ExpiredTokenException,
    /// `IDPRejectedClaim` (403): the identity provider rejected the claim.
    IdpRejectedClaim,
    /// `IDPCommunicationError` (400): the identity provider could not be reached; retried by
    /// botocore.
    IdpCommunicationError,
    /// `AccessDenied` (403): a trust or identity policy does not allow the call.
    AccessDenied,
    /// `MalformedPolicyDocument` (400): the session policy is malformed.
    MalformedPolicyDocument,
    /// `PackedPolicyTooLarge` (400): session policies and tags exceed the packed size.
    PackedPolicyTooLarge,
    /// `RegionDisabledException` (403): STS is not activated in the region.
    RegionDisabledException,
    /// `ValidationError` (400): a request member violates its constraints.
    ValidationError,
    /// `ExpiredToken` (403): the credentials that signed the request have expired.
    ExpiredToken,
    /// `InvalidClientTokenId` (403): unknown access key or invalid session token.
    InvalidClientTokenId,
    /// `SignatureDoesNotMatch` (403).
    SignatureDoesNotMatch,
    /// `IncompleteSignature` (400).
    IncompleteSignature,
    /// `MissingAuthenticationToken` (403).
    MissingAuthenticationToken,
    /// `InvalidAction` (400): no operation of that name for that version.
    InvalidAction,
    /// `MissingAction` (400): the request names no `Action` (AWS common errors). AWS itself is
    /// seen to redirect such a request to its web site; an SDK cannot read a redirect, so we
    /// answer this error instead.
    MissingAction,
    /// `Throttling` (400): rate exceeded; retried by SDKs.
    Throttling,
    /// `InternalFailure` (500, `Receiver`).
    InternalFailure,
    /// `ServiceUnavailable` (503, `Receiver`).
    ServiceUnavailable,
    /// `RequestEntityTooLarge` (413): ours, for a body over the listener's bound.
    RequestEntityTooLarge,
    /// `MethodNotAllowed` (405): ours, for a method other than `GET` and `POST`.
    MethodNotAllowed,
    /// `RequestTimeout` (408): ours, for a body that did not arrive within the request timeout.
    RequestTimeout,
}

impl ErrorCode {
    /// Every code: the closed set of the metrics' `result` label.
    pub const ALL: [ErrorCode; 22] = [
        Self::InvalidIdentityToken,
        Self::ExpiredTokenException,
        Self::IdpRejectedClaim,
        Self::IdpCommunicationError,
        Self::AccessDenied,
        Self::MalformedPolicyDocument,
        Self::PackedPolicyTooLarge,
        Self::RegionDisabledException,
        Self::ValidationError,
        Self::ExpiredToken,
        Self::InvalidClientTokenId,
        Self::SignatureDoesNotMatch,
        Self::IncompleteSignature,
        Self::MissingAuthenticationToken,
        Self::InvalidAction,
        Self::MissingAction,
        Self::Throttling,
        Self::InternalFailure,
        Self::ServiceUnavailable,
        Self::RequestEntityTooLarge,
        Self::MethodNotAllowed,
        Self::RequestTimeout,
    ];

    /// The code as sent in `<Code>`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidIdentityToken => "InvalidIdentityToken",
            Self::ExpiredTokenException => "ExpiredTokenException",
            Self::IdpRejectedClaim => "IDPRejectedClaim",
            Self::IdpCommunicationError => "IDPCommunicationError",
            Self::AccessDenied => "AccessDenied",
            Self::MalformedPolicyDocument => "MalformedPolicyDocument",
            Self::PackedPolicyTooLarge => "PackedPolicyTooLarge",
            Self::RegionDisabledException => "RegionDisabledException",
            Self::ValidationError => "ValidationError",
            Self::ExpiredToken => "ExpiredToken",
            Self::InvalidClientTokenId => "InvalidClientTokenId",
            Self::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            Self::IncompleteSignature => "IncompleteSignature",
            Self::MissingAuthenticationToken => "MissingAuthenticationToken",
            Self::InvalidAction => "InvalidAction",
            Self::MissingAction => "MissingAction",
            Self::Throttling => "Throttling",
            Self::InternalFailure => "InternalFailure",
            Self::ServiceUnavailable => "ServiceUnavailable",
            Self::RequestEntityTooLarge => "RequestEntityTooLarge",
            Self::MethodNotAllowed => "MethodNotAllowed",
            Self::RequestTimeout => "RequestTimeout",
        }
    }

    /// The HTTP status the error is answered with.
    pub fn status(self) -> u16 {
        match self {
            Self::InvalidIdentityToken
            | Self::ExpiredTokenException
            | Self::IdpCommunicationError
            | Self::MalformedPolicyDocument
            | Self::PackedPolicyTooLarge
            | Self::ValidationError
            | Self::IncompleteSignature
            | Self::InvalidAction
            | Self::MissingAction
            | Self::Throttling => 400,
            Self::IdpRejectedClaim
            | Self::AccessDenied
            | Self::RegionDisabledException
            | Self::ExpiredToken
            | Self::InvalidClientTokenId
            | Self::SignatureDoesNotMatch
            | Self::MissingAuthenticationToken => 403,
            Self::MethodNotAllowed => 405,
            Self::RequestTimeout => 408,
            Self::RequestEntityTooLarge => 413,
            Self::InternalFailure => 500,
            Self::ServiceUnavailable => 503,
        }
    }

    /// `<Type>`: `Receiver` for the server's faults, `Sender` for the caller's.
    pub fn fault(self) -> &'static str {
        match self {
            Self::InternalFailure | Self::ServiceUnavailable => "Receiver",
            Self::InvalidIdentityToken
            | Self::ExpiredTokenException
            | Self::IdpRejectedClaim
            | Self::IdpCommunicationError
            | Self::AccessDenied
            | Self::MalformedPolicyDocument
            | Self::PackedPolicyTooLarge
            | Self::RegionDisabledException
            | Self::ValidationError
            | Self::ExpiredToken
            | Self::InvalidClientTokenId
            | Self::SignatureDoesNotMatch
            | Self::IncompleteSignature
            | Self::MissingAuthenticationToken
            | Self::InvalidAction
            | Self::MissingAction
            | Self::Throttling
            | Self::RequestEntityTooLarge
            | Self::MethodNotAllowed
            | Self::RequestTimeout => "Sender",
        }
    }

    /// Whether the error is decided before any operation is chosen (no such operation, no
    /// readable request). AWS answers those in its generic fault namespace rather than STS's
    /// (seen for `InvalidAction`); botocore ignores namespaces either way.
    pub fn is_dispatch(self) -> bool {
        match self {
            Self::InvalidAction
            | Self::MissingAction
            | Self::RequestEntityTooLarge
            | Self::MethodNotAllowed
            | Self::RequestTimeout => true,
            Self::InvalidIdentityToken
            | Self::ExpiredTokenException
            | Self::IdpRejectedClaim
            | Self::IdpCommunicationError
            | Self::AccessDenied
            | Self::MalformedPolicyDocument
            | Self::PackedPolicyTooLarge
            | Self::RegionDisabledException
            | Self::ValidationError
            | Self::ExpiredToken
            | Self::InvalidClientTokenId
            | Self::SignatureDoesNotMatch
            | Self::IncompleteSignature
            | Self::MissingAuthenticationToken
            | Self::Throttling
            | Self::InternalFailure
            | Self::ServiceUnavailable => false,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One refusal as STS answers it: a code and the finished message.
///
/// The message is AWS's text where AWS's is known (the constructors below); it never holds a
/// secret, a token or a sensitive member's value, so it may be logged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct StsError {
    code: ErrorCode,
    message: String,
}

impl StsError {
    /// An error with `message` as given. Prefer the named constructors for texts AWS has.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// The wire code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The message, as sent in `<Message>`.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// `Sender` or `Receiver`.
    pub fn fault(&self) -> &'static str {
        self.code.fault()
    }

    // === The request as a whole ===

    /// `MissingAction`: the request names no `Action`. (The text is ours, in the words of the
    /// common errors page's `MissingParameter`.)
    pub fn missing_action() -> Self {
        Self::new(
            ErrorCode::MissingAction,
            "The request must contain the parameter Action",
        )
    }

    /// `InvalidAction`: `Could not find operation <action> for version <version>`, as AWS
    /// answers an unknown action, and a known one with a missing (`NO_VERSION_SPECIFIED`) or
    /// other version.
    pub fn invalid_action(action: &str, version: &str) -> Self {
        Self::new(
            ErrorCode::InvalidAction,
            format!("Could not find operation {action} for version {version}"),
        )
    }

    /// `ValidationError` with AWS's grammar: `1 validation error detected: <e>` or
    /// `<n> validation errors detected: <e>; <e>`. Meant for a non-empty list.
    pub fn validation(errors: &[FieldError]) -> Self {
        let mut message = match errors.len() {
            1 => "1 validation error detected: ".to_owned(),
            n => format!("{n} validation errors detected: "),
        };
        for (i, e) in errors.iter().enumerate() {
            if i > 0 {
                message.push_str("; ");
            }
            message.push_str(&e.to_string());
        }
        Self::new(ErrorCode::ValidationError, message)
    }

    /// `RequestEntityTooLarge`: the body is over `max_bytes`.
    pub fn body_too_large(max_bytes: usize) -> Self {
        Self::new(
            ErrorCode::RequestEntityTooLarge,
            format!("Request body must be at most {max_bytes} bytes"),
        )
    }

    /// `MethodNotAllowed`: not `GET` or `POST`.
    pub fn method_not_allowed() -> Self {
        Self::new(
            ErrorCode::MethodNotAllowed,
            "Only GET and POST requests are supported",
        )
    }

    /// `RequestTimeout`: the body did not arrive in time.
    pub fn request_timeout() -> Self {
        Self::new(
            ErrorCode::RequestTimeout,
            "The request body was not received within the request timeout",
        )
    }

    /// `Throttling` with AWS's text.
    pub fn throttling() -> Self {
        Self::new(ErrorCode::Throttling, "Rate exceeded")
    }

    /// `InternalFailure` with the common errors page's description.
    pub fn internal_failure() -> Self {
        Self::new(
            ErrorCode::InternalFailure,
            "The request processing has failed because of an unknown error, exception or failure.",
        )
    }

    /// `ServiceUnavailable` with the common errors page's description.
    pub fn service_unavailable() -> Self {
        Self::new(
            ErrorCode::ServiceUnavailable,
            "The request has failed due to a temporary failure of the server.",
        )
    }

    // === Signed calls ===

    /// `ExpiredToken`: the signing credentials have expired.
    pub fn expired_signing_token() -> Self {
        Self::new(
            ErrorCode::ExpiredToken,
            "The security token included in the request is expired",
        )
    }

    /// `InvalidClientTokenId`: unknown key or a session token that does not open.
    pub fn invalid_client_token() -> Self {
        Self::new(
            ErrorCode::InvalidClientTokenId,
            "The security token included in the request is invalid",
        )
    }

    // === Web identity ===

    /// `InvalidIdentityToken`: no provider for the token's issuer in the role's account.
    pub fn no_oidc_provider(issuer: &str) -> Self {
        Self::new(
            ErrorCode::InvalidIdentityToken,
            format!("No OpenIDConnect provider found in your account for {issuer}"),
        )
    }

    /// `InvalidIdentityToken`: the token's audience is not in the provider's list.
    pub fn incorrect_audience() -> Self {
        Self::new(ErrorCode::InvalidIdentityToken, "Incorrect token audience")
    }

    /// `InvalidIdentityToken`: a required claim (`aud`, ...) is absent.
    pub fn missing_claim(claim: &str) -> Self {
        Self::new(
            ErrorCode::InvalidIdentityToken,
            format!("Missing a required claim: {claim}"),
        )
    }

    /// `InvalidIdentityToken`: no key to verify the token with (the double space is AWS's).
    pub fn no_verification_key() -> Self {
        Self::new(
            ErrorCode::InvalidIdentityToken,
            "Couldn't retrieve verification key from your identity provider,  please reference \
             AssumeRoleWithWebIdentity documentation for requirements",
        )
    }

    /// `ExpiredTokenException`: the web identity token expired (`now` and `expiration` in Unix
    /// seconds).
    pub fn web_identity_token_expired(now: i64, expiration: i64) -> Self {
        Self::new(
            ErrorCode::ExpiredTokenException,
            format!(
                "Token expired: current date/time {now} must be before the expiration date/time \
                 {expiration}"
            ),
        )
    }

    // === Trust ===

    /// `AccessDenied` for `AssumeRoleWithWebIdentity` (also for a role that does not exist).
    pub fn web_identity_not_authorized() -> Self {
        Self::new(
            ErrorCode::AccessDenied,
            "Not authorized to perform sts:AssumeRoleWithWebIdentity",
        )
    }

    /// `AccessDenied` for `AssumeRole`: `User: <caller> is not authorized to perform:
    /// sts:AssumeRole on resource: <role>` (also for a role that does not exist).
    pub fn assume_role_not_authorized(caller_arn: &str, role_arn: &str) -> Self {
        Self::new(
            ErrorCode::AccessDenied,
            format!(
                "User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: \
                 {role_arn}"
            ),
        )
    }

    /// `AccessDenied`: the root user called `AssumeRole`.
    pub fn root_cannot_assume_roles() -> Self {
        Self::new(
            ErrorCode::AccessDenied,
            "Roles may not be assumed by root accounts.",
        )
    }

    // === Session limits ===

    /// `ValidationError`: `DurationSeconds` over the role's maximum.
    pub fn duration_exceeds_role_maximum() -> Self {
        Self::new(
            ErrorCode::ValidationError,
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        )
    }

    /// `ValidationError`: `DurationSeconds` over an hour for a chained session.
    pub fn duration_exceeds_chaining_limit() -> Self {
        Self::new(
            ErrorCode::ValidationError,
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed \
             by role chaining.",
        )
    }

    /// `PackedPolicyTooLarge`: session tags take `percent` of the allotted space.
    pub fn packed_tags_too_large(percent: u32) -> Self {
        Self::new(
            ErrorCode::PackedPolicyTooLarge,
            format!("Packed size of session tags consumes {percent}% of allotted space."),
        )
    }

    /// `PackedPolicyTooLarge`: session policies take `percent` of the allotted space.
    pub fn packed_policy_too_large(percent: u32) -> Self {
        Self::new(
            ErrorCode::PackedPolicyTooLarge,
            format!(
                "Packed policy consumes {percent}% of allotted space, please use smaller policy."
            ),
        )
    }
}

/// What a [`FieldError`] shows of the offending value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    /// The member is absent: `Value null at ...`.
    Null,
    /// A sensitive member (a token, a policy, an MFA code) or a list: `Value at ...`, the value
    /// left out. (AWS leaves sensitive values out the same way.)
    Hidden,
    /// `Value '<text>' at ...`.
    Shown(String),
}

/// The constraint a member violates, worded as AWS words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Constraint {
    /// `Member must not be null`.
    NotNull,
    /// `Member must have length greater than or equal to <n>`.
    MinLength(usize),
    /// `Member must have length less than or equal to <n>`.
    MaxLength(usize),
    /// `Member must satisfy regular expression pattern: <pattern>` (the model's pattern text).
    Pattern(&'static str),
    /// `Member must have value greater than or equal to <n>`.
    MinValue(i64),
    /// `Member must have value less than or equal to <n>`.
    MaxValue(i64),
    /// `Member must be an integer`: a number member that does not parse (our wording; AWS's
    /// text for it is not known).
    Integer,
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotNull => f.write_str("Member must not be null"),
            Self::MinLength(n) => write!(f, "Member must have length greater than or equal to {n}"),
            Self::MaxLength(n) => write!(f, "Member must have length less than or equal to {n}"),
            Self::Pattern(p) => write!(f, "Member must satisfy regular expression pattern: {p}"),
            Self::MinValue(n) => write!(f, "Member must have value greater than or equal to {n}"),
            Self::MaxValue(n) => write!(f, "Member must have value less than or equal to {n}"),
            Self::Integer => f.write_str("Member must be an integer"),
        }
    }
}

/// One violated constraint of one member: `Value '<v>' at '<member>' failed to satisfy
/// constraint: <constraint>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The member's path in AWS's lower-camel form (`roleSessionName`, `tags.1.member.key`).
    pub member: Cow<'static, str>,
    /// What the message shows of the value.
    pub value: FieldValue,
    /// The violated constraint.
    pub constraint: Constraint,
}

impl FieldError {
    /// A required member that is absent.
    pub fn null(member: impl Into<Cow<'static, str>>) -> Self {
        Self {
            member: member.into(),
            value: FieldValue::Null,
            constraint: Constraint::NotNull,
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            FieldValue::Null => f.write_str("Value null")?,
            FieldValue::Hidden => f.write_str("Value")?,
            FieldValue::Shown(v) => write!(f, "Value '{v}'")?,
        }
        write!(
            f,
            " at '{}' failed to satisfy constraint: {}",
            self.member, self.constraint
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_aws_spelling_status_and_fault() {
        let table: Vec<(&str, u16, &str)> = ErrorCode::ALL
            .iter()
            .map(|c| (c.as_str(), c.status(), c.fault()))
            .collect();
        assert_eq!(
            table,
            [
                ("InvalidIdentityToken", 400, "Sender"),
                ("ExpiredTokenException", 400, "Sender"),
                ("IDPRejectedClaim", 403, "Sender"),
                ("IDPCommunicationError", 400, "Sender"),
                ("AccessDenied", 403, "Sender"),
                ("MalformedPolicyDocument", 400, "Sender"),
                ("PackedPolicyTooLarge", 400, "Sender"),
                ("RegionDisabledException", 403, "Sender"),
                ("ValidationError", 400, "Sender"),
                ("ExpiredToken", 403, "Sender"),
                ("InvalidClientTokenId", 403, "Sender"),
                ("SignatureDoesNotMatch", 403, "Sender"),
                ("IncompleteSignature", 400, "Sender"),
                ("MissingAuthenticationToken", 403, "Sender"),
                ("InvalidAction", 400, "Sender"),
                ("MissingAction", 400, "Sender"),
                ("Throttling", 400, "Sender"),
                ("InternalFailure", 500, "Receiver"),
                ("ServiceUnavailable", 503, "Receiver"),
                ("RequestEntityTooLarge", 413, "Sender"),
                ("MethodNotAllowed", 405, "Sender"),
                ("RequestTimeout", 408, "Sender"),
            ]
        );
    }

    #[test]
    fn one_validation_error_has_the_singular_grammar() {
        let e = StsError::validation(&[FieldError {
            member: "roleSessionName".into(),
            value: FieldValue::Shown("a/b".into()),
            constraint: Constraint::Pattern(r"[\w+=,.@-]*"),
        }]);
        assert_eq!(e.code(), ErrorCode::ValidationError);
        assert_eq!(e.status(), 400);
        assert_eq!(
            e.message(),
            r"1 validation error detected: Value 'a/b' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*"
        );
    }

    #[test]
    fn several_validation_errors_are_counted_and_joined() {
        let e = StsError::validation(&[
            FieldError::null("roleArn"),
            FieldError {
                member: "webIdentityToken".into(),
                value: FieldValue::Hidden,
                constraint: Constraint::MinLength(4),
            },
            FieldError {
                member: "durationSeconds".into(),
                value: FieldValue::Shown("43201".into()),
                constraint: Constraint::MaxValue(43200),
            },
        ]);
        assert_eq!(
            e.message(),
            "3 validation errors detected: \
             Value null at 'roleArn' failed to satisfy constraint: Member must not be null; \
             Value at 'webIdentityToken' failed to satisfy constraint: Member must have length greater than or equal to 4; \
             Value '43201' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200"
        );
        assert_eq!(e.to_string(), format!("ValidationError: {}", e.message()));
    }

    #[test]
    fn named_texts_are_aws_texts() {
        let cases = [
            (
                StsError::invalid_action("GetCallerIdentity", "NO_VERSION_SPECIFIED"),
                "InvalidAction",
                "Could not find operation GetCallerIdentity for version NO_VERSION_SPECIFIED",
            ),
            (
                StsError::no_verification_key(),
                "InvalidIdentityToken",
                "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements",
            ),
            (
                StsError::web_identity_token_expired(1_700_000_400, 1_700_000_000),
                "ExpiredTokenException",
                "Token expired: current date/time 1700000400 must be before the expiration date/time 1700000000",
            ),
            (
                StsError::assume_role_not_authorized(
                    "arn:aws:iam::111122223333:user/alice",
                    "arn:aws:iam::444455556666:role/app",
                ),
                "AccessDenied",
                "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::444455556666:role/app",
            ),
            (
                StsError::duration_exceeds_chaining_limit(),
                "ValidationError",
                "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
            ),
            (
                StsError::packed_policy_too_large(112),
                "PackedPolicyTooLarge",
                "Packed policy consumes 112% of allotted space, please use smaller policy.",
            ),
            (
                StsError::expired_signing_token(),
                "ExpiredToken",
                "The security token included in the request is expired",
            ),
        ];
        for (error, code, message) in cases {
            assert_eq!((error.code().as_str(), error.message()), (code, message));
        }
    }

    #[test]
    fn only_pre_dispatch_errors_are_dispatch_errors() {
        let dispatch: Vec<&str> = ErrorCode::ALL
            .iter()
            .filter(|c| c.is_dispatch())
            .map(|c| c.as_str())
            .collect();
        assert_eq!(
            dispatch,
            [
                "InvalidAction",
                "MissingAction",
                "RequestEntityTooLarge",
                "MethodNotAllowed",
                "RequestTimeout"
            ]
        );
    }
}
