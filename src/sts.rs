//! The STS endpoint: AWS STS's Query API as botocore and the AWS CLI speak it, so that an
//! unchanged AWS SDK gets temporary credentials here exactly as from AWS (sts.md).
//!
//! - `error`: AWS's error catalogue: codes, statuses, fault types and the texts AWS sends.
//! - `wire`: the protocol: a request's parameters (form body and query), the action and version
//!   checks, each action's validated input, and the XML answers and error bodies.
//!
//! It must not: touch the ext_authz path.

pub mod error;
pub mod wire;

pub use error::{Constraint, ErrorCode, FieldError, FieldValue, StsError};
pub use wire::{
    Action, Answer, AssumeRoleInput, AssumedRole, CallerIdentity, IssuedCredentials, ListMember,
    Params, WebIdentityInput, render_answer, render_error,
};
