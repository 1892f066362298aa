//! How a document is read: the kind of policy and the parse options, with their defaults.
//!
//! It must not parse or compile anything; `ast` and `compile` read these options.

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
    /// A role's trust policy (`AssumeRolePolicyDocument`): `Principal` required, `Resource`
    /// forbidden (the resource is the role).
    Trust,
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
