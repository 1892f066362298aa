//! Policy diagnostics: every problem with a JSON pointer, statement index and `Sid`.

use std::fmt;

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The document is not loaded.
    Error,
    /// The document loads, but something is probably wrong.
    Warning,
}

/// One problem found in a policy document.
///
/// CONTRACT (skeleton): the policy-engine issue may add fields; `Display` renders
/// `<pointer>: <message>` (with the statement and `Sid` where known).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Stable short code, e.g. `MalformedPolicyDocument`, `UnknownOperator`.
    pub code: &'static str,
    /// JSON pointer into the document, e.g. `/Statement/0/Condition/StringEqulas`.
    pub pointer: String,
    /// Statement index, when the problem is inside a statement.
    pub statement: Option<usize>,
    /// That statement's `Sid`, if it has one.
    pub sid: Option<String>,
    /// IAM-like wording of the problem.
    pub message: String,
    /// How to fix it, when there is an obvious fix.
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pointer = if self.pointer.is_empty() {
            "(document)"
        } else {
            &self.pointer
        };
        write!(f, "{pointer}: {}", self.message)?;
        match (self.statement, &self.sid) {
            (Some(i), Some(sid)) => write!(f, " (statement {i}, Sid `{sid}`)"),
            (Some(i), None) => write!(f, " (statement {i})"),
            (None, _) => Ok(()),
        }
    }
}

impl Diagnostic {
    /// Whether this diagnostic stops the document from loading.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The stable `code` values of [`Diagnostic`]s.
pub mod codes {
    /// Not JSON, wrong JSON types, or an element IAM does not know (`Syntax errors in policy.`).
    pub const MALFORMED: &str = "MalformedPolicyDocument";
    /// The document is larger than `ParseOptions::max_bytes`.
    pub const TOO_LARGE: &str = "PolicyTooLarge";
    /// Arrays and objects nest deeper than `MAX_JSON_DEPTH`.
    pub const TOO_DEEP: &str = "PolicyTooDeep";
    /// The same member appears twice in one JSON object.
    pub const DUPLICATE_KEY: &str = "DuplicateKey";
    /// An element name IAM does not define.
    pub const UNKNOWN_ELEMENT: &str = "UnknownElement";
    /// A required element is missing.
    pub const MISSING_ELEMENT: &str = "MissingElement";
    /// Two elements that exclude each other (`Action` and `NotAction`).
    pub const CONFLICTING_ELEMENTS: &str = "UnsupportedElementCombination";
    /// `Version` is not `2012-10-17` or `2008-10-17`.
    pub const INVALID_VERSION: &str = "InvalidVersion";
    /// `Effect` is not `Allow` or `Deny`.
    pub const INVALID_EFFECT: &str = "InvalidEffect";
    /// Two statements share a `Sid`.
    pub const DUPLICATE_SID: &str = "DuplicateSid";
    /// An action string that is not `vendor:name`.
    pub const INVALID_ACTION: &str = "InvalidAction";
    /// A resource that is not `*` or an ARN.
    pub const INVALID_RESOURCE: &str = "InvalidResource";
    /// A principal IAM would reject, or one not allowed for this kind of policy.
    pub const INVALID_PRINCIPAL: &str = "InvalidPrincipal";
    /// A condition operator IAM does not define (never ignored).
    pub const UNKNOWN_OPERATOR: &str = "UnknownOperator";
    /// `Null` with `IfExists`.
    pub const NULL_WITH_IF_EXISTS: &str = "NullWithIfExists";
    /// A condition key that is malformed or repeated with different case.
    pub const INVALID_CONDITION_KEY: &str = "InvalidConditionKey";
    /// A condition value the operator cannot read (number, date, CIDR, base-64, ...).
    pub const INVALID_CONDITION_VALUE: &str = "InvalidConditionValue";
    /// A malformed `${...}` or one where variables are not allowed.
    pub const INVALID_VARIABLE: &str = "InvalidVariable";
    /// Warning: something that loads but is probably not what the author meant.
    pub const SUSPICIOUS: &str = "Suspicious";
}

/// Where inside a document a diagnostic belongs.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Site<'a> {
    pub(crate) statement: Option<usize>,
    pub(crate) sid: Option<&'a str>,
}

/// Collects diagnostics while a document is read.
#[derive(Debug, Default)]
pub(crate) struct Diags {
    pub(crate) list: Vec<Diagnostic>,
}

impl Diags {
    pub(crate) fn push(
        &mut self,
        severity: Severity,
        code: &'static str,
        pointer: &str,
        site: Site<'_>,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        self.list.push(Diagnostic {
            severity,
            code,
            pointer: pointer.to_owned(),
            statement: site.statement,
            sid: site.sid.map(str::to_owned),
            message: message.into(),
            hint,
        });
    }

    pub(crate) fn error(
        &mut self,
        code: &'static str,
        pointer: &str,
        site: Site<'_>,
        message: impl Into<String>,
    ) {
        self.push(Severity::Error, code, pointer, site, message, None);
    }

    pub(crate) fn warn(
        &mut self,
        pointer: &str,
        site: Site<'_>,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        self.push(
            Severity::Warning,
            codes::SUSPICIOUS,
            pointer,
            site,
            message,
            hint,
        );
    }

    /// Adds a hint to the last diagnostic.
    pub(crate) fn hint(&mut self, hint: impl Into<String>) {
        if let Some(d) = self.list.last_mut() {
            d.hint = Some(hint.into());
        }
    }

    pub(crate) fn has_errors(&self) -> bool {
        self.list.iter().any(Diagnostic::is_error)
    }
}

/// The closest of `candidates` to `word` (case-insensitive equal, or edit distance ≤ 2), for
/// "did you mean" hints.
pub(crate) fn closest<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    if let Some(c) = candidates.iter().find(|c| c.eq_ignore_ascii_case(word)) {
        return Some(c);
    }
    let lower = word.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (edit_distance(&lower, &c.to_ascii_lowercase()), *c))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev.get(j).copied().unwrap_or(0) + usize::from(ca != *cb);
            let del = prev.get(j + 1).copied().unwrap_or(0) + 1;
            let ins = cur.get(j).copied().unwrap_or(0) + 1;
            cur.push(sub.min(del).min(ins));
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}
