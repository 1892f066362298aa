//! What a request gives the evaluator: the caller (`Principal`, `AwsIdentity`), the action
//! and resource (`Request`), and the condition keys read lazily through `Context`.
//!
//! It must not evaluate anything: these are the borrowed views a caller fills per request, the
//! compiled key it is asked about, and the trait it implements.

use std::borrow::Cow;
use std::net::IpAddr;

/// Who is asking, as the identity-set model sees it (iam-policy §2.5).
#[derive(Debug, Clone, Copy)]
pub enum Principal<'a> {
    /// An unsigned caller. Only `"*"` (and, by option, `{"AWS":"*"}`) matches it.
    Anonymous,
    /// An IAM identity.
    Aws(AwsIdentity<'a>),
    /// An AWS service principal (`svc.amazonaws.com`).
    Service(&'a str),
    /// A web-identity or SAML federated principal.
    Federated(&'a str),
}

/// The identifiers an IAM identity is known by.
#[derive(Debug, Clone, Copy)]
pub struct AwsIdentity<'a> {
    /// 12-digit account id.
    pub account: &'a str,
    /// Exact ARN: `arn:aws:iam::A:user/path/u`, `arn:aws:sts::A:assumed-role/R/S`,
    /// `arn:aws:sts::A:federated-user/u` or `arn:aws:iam::A:root`.
    pub arn: &'a str,
    /// For a role session: the role's full ARN (with path), which matches its sessions.
    pub role_arn: Option<&'a str>,
    /// For a federated-user session: the IAM user who federated.
    pub federating_user_arn: Option<&'a str>,
}

/// The request one policy is evaluated against.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The caller.
    pub principal: Principal<'a>,
    /// The action, e.g. `vpc-lattice-svcs:Invoke`.
    pub action: &'a str,
    /// The resource ARN, e.g. `arn:aws:vpc-lattice:...:service/svc-.../path`.
    pub resource: &'a str,
}

/// A compiled condition key, as the [`Context`] sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConditionKey {
    lower: Box<str>,
    split: usize,
    original: Box<str>,
}

impl ConditionKey {
    /// Compiles a key as written in a policy.
    pub fn new(written: &str) -> Self {
        let lower: Box<str> = written.to_ascii_lowercase().into();
        let split = lower.find('/').unwrap_or(lower.len());
        Self {
            lower,
            split,
            original: written.into(),
        }
    }

    /// The whole key, ASCII-lower-cased: `aws:principaltag/team`.
    pub fn name(&self) -> &str {
        &self.lower
    }

    /// The key without its parameter, lower-cased: `aws:principaltag`.
    pub fn base(&self) -> &str {
        self.lower.get(..self.split).unwrap_or(&self.lower)
    }

    /// The parameter after the first `/`, as written (`Team`), if any. Tag keys and header
    /// names compare case-insensitively; query-string keys exactly.
    pub fn param(&self) -> Option<&str> {
        let at = self.original.find('/')?;
        self.original.get(at + 1..)
    }

    /// The key as written.
    pub fn as_written(&self) -> &str {
        &self.original
    }
}

/// A context value. `Absent` is distinct from an empty string (iam-policy §2.1).
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// The key is not in the request context.
    Absent,
    /// A single string value.
    String(Cow<'a, str>),
    /// A multi-valued key (`aws:PrincipalOrgPaths`, `RequestQueryString/*` with repeats).
    Strings(Vec<Cow<'a, str>>),
    /// A boolean (`aws:SecureTransport`).
    Bool(bool),
    /// An integer (`vpc-lattice-svcs:Port`, `aws:EpochTime`).
    Number(i64),
    /// A point in time as seconds since the epoch (`aws:CurrentTime`).
    Date(i64),
    /// An IP address (`aws:SourceIp`).
    Ip(IpAddr),
}

/// Where the evaluator reads condition keys and policy variables.
pub trait Context {
    /// The value of `key` for this request.
    fn value(&self, key: &ConditionKey) -> Value<'_>;
}
