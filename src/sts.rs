//! The STS endpoint: AWS STS's Query API as botocore and the AWS CLI speak it, so that an
//! unchanged AWS SDK gets temporary credentials here exactly as from AWS (sts.md).
//!
//! - `error`: AWS's error catalogue: codes, statuses, fault types and the texts AWS sends.
//! - `wire`: the protocol: a request's parameters (form body and query), the action and version
//!   checks, each action's validated input, and the XML answers and error bodies.
//! - `server`: the HTTP listener and the [`Handler`] trait the actions implement; one metrics
//!   increment and one log line per request.
//!
//! It must not: touch the ext_authz path. The actions (trust policies, minting, signature
//! verification) live behind [`Handler`]; this module only carries requests to them and their
//! answers back.

pub mod error;
pub mod server;
pub mod wire;

pub use error::{Constraint, ErrorCode, FieldError, FieldValue, StsError};
pub use server::{Call, Handled, Handler, Limits, LogDetail, serve};
pub use wire::{
    Action, Answer, AssumeRoleInput, AssumedRole, CallerIdentity, IssuedCredentials, ListMember,
    Params, WebIdentityInput, render_answer, render_error,
};
