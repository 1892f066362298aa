//! The IAM policy language: parse → validate → compile → evaluate → explain.
//!
//! This module owns the grammar of `../shared/spec/iam-policy.md` §1 (auth policies, identity
//! policies, VPC endpoint policies, SCPs, RCPs), validation with JSON pointers, compiled matchers,
//! and evaluation of one policy against one request. Combining several policies into a decision
//! is the caller's job (`lattice`).
//!
//! It must not touch: Lattice, SigV4, tokio, metrics. Request data reaches it through the
//! [`Context`] trait, so evaluation builds no maps.
//!
//! CONTRACT (skeleton): the public items below are the interface the rest of the crate codes
//! against. The implementation behind them belongs to the policy-engine issue.

mod error;

use std::borrow::Cow;
use std::net::IpAddr;

pub use error::{Diagnostic, Severity};

/// The default size limit of a policy document: Lattice's auth-policy quota (lattice-auth §7).
pub const DEFAULT_MAX_POLICY_BYTES: usize = 10 * 1024;

/// Which kind of policy a document is; decides which elements are required or forbidden.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// Resource-based: Lattice auth policies, VPC endpoint policies. `Principal` required.
    Resource,
    /// Identity-based: attached to users and roles. `Principal` forbidden.
    Identity,
    /// Service control policy (guardrail on principals). `Principal` forbidden.
    ServiceControl,
    /// Resource control policy (guardrail on resources). `Principal` must be `"*"`.
    ResourceControl,
}

/// Options that decide how a document is read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ParseOptions {
    /// The kind of policy.
    pub kind: PolicyKind,
    /// Largest accepted document, in bytes.
    pub max_bytes: usize,
    /// Accept a bare-string account principal (`"Principal": "123456789012"`) as
    /// `{"AWS": "123456789012"}` with a warning (lattice-auth §11 q2); rejected when false.
    pub bare_account_principal: bool,
    /// `{"AWS": "*"}` matches anonymous callers like `"*"` (lattice-auth §11 q1).
    pub aws_wildcard_matches_anonymous: bool,
}

impl ParseOptions {
    /// Defaults for `kind`: 10 KiB, bare account principals accepted, `{"AWS":"*"}` ≡ `"*"`.
    pub fn new(kind: PolicyKind) -> Self {
        Self {
            kind,
            max_bytes: DEFAULT_MAX_POLICY_BYTES,
            bare_account_principal: true,
            aws_wildcard_matches_anonymous: true,
        }
    }
}

/// A compiled, immutable policy. `Send + Sync`; share it behind an `Arc`.
#[derive(Debug)]
pub struct Policy {
    // Skeleton: the implementation replaces these fields.
    statements: Vec<StatementStub>,
}

#[derive(Debug)]
struct StatementStub {
    sid: Option<String>,
}

/// A successfully compiled policy and the warnings found while compiling it.
#[derive(Debug)]
pub struct Compiled {
    /// The policy.
    pub policy: Policy,
    /// Problems that do not stop the policy from loading.
    pub warnings: Vec<Diagnostic>,
}

impl Policy {
    /// Parses, validates and compiles `source`. On failure returns every error found (and the
    /// warnings), each with its JSON pointer.
    pub fn compile(source: &str, options: &ParseOptions) -> Result<Compiled, Vec<Diagnostic>> {
        // Skeleton: replaced by the policy-engine issue.
        let _ = (source, options);
        Ok(Compiled {
            policy: Policy {
                statements: Vec::new(),
            },
            warnings: Vec::new(),
        })
    }

    /// Evaluates this policy for `request`, reading condition keys from `context`.
    pub fn evaluate<C: Context + ?Sized>(
        &self,
        request: &Request<'_>,
        context: &C,
    ) -> Evaluation<'_> {
        let _ = (request, context, &self.statements.first().map(|s| &s.sid));
        Evaluation {
            outcome: Outcome::NoMatch,
            statement: None,
            principal_match: None,
            miss: None,
        }
    }

    /// Number of statements.
    pub fn statement_count(&self) -> usize {
        self.statements.len()
    }

    /// Every condition key the policy reads, as written, with the statement index and operator.
    /// Used by `validate` to flag keys a caller never sets.
    pub fn condition_keys(&self) -> Vec<KeyUse<'_>> {
        Vec::new()
    }

    /// Every `Resource` / `NotResource` pattern, as written, with its statement index.
    pub fn resource_patterns(&self) -> Vec<(usize, &str)> {
        Vec::new()
    }

    /// Whether the policy's `Version` makes `${...}` policy variables (2012-10-17).
    pub fn variables_enabled(&self) -> bool {
        false
    }

    /// Statement indices that use policy-variable syntax while variables are disabled.
    pub fn literal_variables(&self) -> Vec<usize> {
        Vec::new()
    }

    /// Statement indices of `Allow` statements that use `NotPrincipal`.
    pub fn allow_not_principal(&self) -> Vec<usize> {
        Vec::new()
    }
}

/// One use of a condition key in a policy.
#[derive(Debug, Clone, Copy)]
pub struct KeyUse<'p> {
    /// Statement index.
    pub statement: usize,
    /// The operator as written (`ForAnyValue:StringLike`).
    pub operator: &'p str,
    /// The key as written (`aws:PrincipalTag/Team`).
    pub key: &'p str,
}

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

/// What one policy says about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A matching `Deny` statement.
    ExplicitDeny,
    /// A matching `Allow` statement and no matching `Deny`.
    Allow,
    /// No statement applies (implicit deny).
    NoMatch,
}

/// How the request's principal matched an `Allow` statement's `Principal` (iam-policy §2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalMatch {
    /// `"*"` or `{"AWS":"*"}`, or a statement without `Principal` (identity policies).
    Wildcard,
    /// The exact user / session / federated-user ARN.
    Exact,
    /// A role ARN matching one of its sessions.
    Role,
    /// An account id or root ARN (delegation to the account).
    Account,
    /// A `Service` or `Federated` principal.
    Other,
}

/// A statement of a policy: its index and `Sid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatementRef<'p> {
    /// Zero-based index in the `Statement` array.
    pub index: usize,
    /// The `Sid`, if any.
    pub sid: Option<&'p str>,
}

/// Why the closest statement did not apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissReason<'p> {
    /// `Action` / `NotAction` did not match.
    Action,
    /// `Resource` / `NotResource` did not match.
    Resource,
    /// `Principal` / `NotPrincipal` did not match.
    Principal,
    /// A condition was false.
    Condition {
        /// Operator as written.
        operator: &'p str,
        /// Key as written.
        key: &'p str,
    },
}

/// The closest statement to applying, for explanations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Miss<'p> {
    /// The statement.
    pub statement: StatementRef<'p>,
    /// The first element that did not match.
    pub reason: MissReason<'p>,
}

/// The result of evaluating one policy: not a bool, but enough to explain it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Evaluation<'p> {
    /// Deny, allow or no match.
    pub outcome: Outcome,
    /// The deciding statement: the first matching `Deny`, else the first matching `Allow`.
    pub statement: Option<StatementRef<'p>>,
    /// For `Allow`: how the principal matched.
    pub principal_match: Option<PrincipalMatch>,
    /// For `NoMatch` (and useful otherwise): the closest statement and what failed.
    pub miss: Option<Miss<'p>>,
}
