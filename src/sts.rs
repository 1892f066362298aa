//! The STS endpoint: AWS STS's Query API as botocore and the AWS CLI speak it, so that an
//! unchanged AWS SDK gets temporary credentials here exactly as from AWS (sts.md).
//!
//! - `error`: AWS's error catalogue: codes, statuses, fault types and the texts AWS sends.
//! - `wire`: the protocol: a request's parameters (form body and query), the action and version
//!   checks, each action's validated input, and the XML answers and error bodies.
//! - `server`: the HTTP listener and the [`Handler`] trait the actions implement; one metrics
//!   increment and one log line per request.
//! - `issue`: the actions ([`Issuer`]): web identity tokens against the world's OIDC providers,
//!   trust policies and identity policies as IAM combines them, the caller's signature through
//!   `sigv4`, and sessions minted and sealed with `tokens`.
//!
//! It must not: touch the ext_authz path. The listener knows the actions only as a
//! [`Handler`].

pub mod error;
mod issue;
pub mod server;
pub mod wire;

pub use error::{Constraint, ErrorCode, FieldError, FieldValue, StsError};
pub use issue::Issuer;
pub use server::{Call, Handled, Handler, Limits, LogDetail, serve};
pub use wire::{
    Action, Answer, AssumeRoleInput, AssumedRole, CallerIdentity, IssuedCredentials, ListMember,
    Params, WebIdentityInput, render_answer, render_error,
};
