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
        write!(f, "{}: {}", self.pointer, self.message)
    }
}
