//! What evaluating one policy returns: the outcome, the deciding statement, how the principal
//! matched, and the closest statement that did not apply.
//!
//! It must not evaluate: these are the plain values `Policy::evaluate` returns and callers read.

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
