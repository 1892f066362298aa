//! The IAM policy language: parse → validate → compile → evaluate → explain.
//!
//! This module owns the grammar of IAM's JSON policy language (auth policies, identity
//! policies, VPC endpoint policies, SCPs, RCPs), validation with JSON pointers, compiled matchers,
//! and evaluation of one policy against one request. Combining several policies into a decision
//! is the caller's job (`lattice`).
//!
//! It must not touch: Lattice, SigV4, tokio, metrics. Request data reaches it through the
//! [`Context`] trait, so evaluation builds no maps.
//!
//! # Steps
//!
//! 1. `ast`: JSON (our own reader, `json`: duplicate keys kept, numbers as written, depth
//!    bounded) → a checked syntax tree. Shape problems are reported here.
//! 2. `compile`: tree → compiled statements: every pattern pre-split, every value pre-parsed,
//!    actions indexed. Content problems are reported here. Both steps report every problem,
//!    each with a JSON pointer, statement index and `Sid`.
//! 3. [`Policy::evaluate`]: compiled statements × [`Request`] × [`Context`] → [`Evaluation`].
//!    No allocation unless the policy uses `${...}` variables; no regex; context keys are read
//!    lazily through the trait.
//!
//! # Files
//!
//! Dependencies point one way: this file uses its children, the children use each other and
//! the leaves, and nothing below uses this file.
//! - Leaves, which use nothing else in `policy` and are re-exported here: `options` (the policy
//!   kind and [`ParseOptions`]), `request` (what a request gives the evaluator: [`Request`],
//!   [`Principal`], [`ConditionKey`], [`Value`], [`Context`]) and `evaluation` (what evaluating
//!   returns: [`Evaluation`] and its parts).
//! - Reading: `json` (the JSON reader and writer) and `ast` (step 1); `error` holds the
//!   diagnostics of both steps.
//! - Compiling: `compile` (step 2), with `condition` (operators), `principal` (`Principal`
//!   matching), `variable` (`${...}` templates), `arn`, `glob` and `values` (typed condition
//!   values).
//! - This file: [`Policy`], its compiling, evaluation and introspection.
//!
//! # Choices where AWS is silent (iam-policy §6, lattice-auth §11)
//!
//! Each is pinned by a test in `tests/it/policy_*.rs` and `tests/data/policy/`.
//! - Operator names are case-sensitive; a wrongly-cased one is an error with a hint.
//! - A plain operator on a multi-valued context value: positive → any value matches; negated →
//!   no value matches.
//! - A substituted variable value is literal (a `*` in a tag is not a wildcard).
//! - An empty condition value list: positive operators false, negated true, `ForAllValues` only
//!   when the key is absent, `ForAnyValue` never (warned at load).
//! - `Bool` accepts policy variables (the operator page says so).
//! - `NotPrincipal`: the statement applies when no entry matches any identity of the caller;
//!   an account entry (id or root ARN) therefore excludes every principal of that account.
//! - `{"AWS": "*"}` is `"*"` for every caller (services and federated callers included);
//!   only its match of anonymous callers is optional (`aws_wildcard_matches_anonymous`).
//! - A role session matches a role entry through `AwsIdentity::role_arn`; a federated-user
//!   session matches its federating user's entry and reports `PrincipalMatch::Role` (both are
//!   "limited by session policies"). `CanonicalUser` entries never match.
//! - IPv4-mapped IPv6 callers match IPv4 blocks by their IPv4 address.
//! - Four digits in a `Date*` value are a year; other all-digit values are epoch seconds.
//! - A context value an operator cannot read (`abc` for `NumericEquals`) matches no policy
//!   value: positive operators false, negated true.
//! - `Resource` values that are not ARNs but start with `*` (Lattice's `*/rates`) are one glob
//!   over the whole resource; ARN patterns are matched component by component.

mod arn;
mod ast;
mod compile;
mod condition;
mod error;
pub(crate) use error::closest;
mod evaluation;
mod glob;
mod json;
mod options;
mod principal;
mod request;
mod values;
mod variable;

pub use arn::{Arn, ArnPattern, ArnPatternError};
pub use error::{Diagnostic, Severity, codes};
pub use evaluation::{Evaluation, Miss, MissReason, Outcome, PrincipalMatch, StatementRef};
pub use glob::Glob;
pub use json::MAX_JSON_DEPTH;
pub use options::{DEFAULT_MAX_POLICY_BYTES, ParseOptions, PolicyKind};
pub use request::{AwsIdentity, ConditionKey, Context, Principal, Request, Value};
pub use values::{MAX_NUMBER_FRACTION_DIGITS, MAX_NUMBER_INTEGER_DIGITS};

use compile::{ActionIndex, ResourcePattern};
use error::{Diags, Site};

/// A compiled, immutable policy. `Send + Sync`; share it behind an `Arc`.
#[derive(Debug)]
pub struct Policy {
    /// The document as given, with the options it was read with ([`Policy::to_json`] reads it
    /// again; evaluation reads `aws_wildcard_matches_anonymous`). The checked tree itself is
    /// dropped after compiling: it was most of a small policy's memory, which a large world
    /// holds thousands of times.
    source: Box<str>,
    options: ParseOptions,
    version: ast::Version,
    /// What `validate` asks about the document, kept from the tree.
    introspection: Introspection,
    statements: Box<[compile::Statement]>,
    action_index: ActionIndex,
}

/// The parts of the checked tree that introspection reads, owned.
#[derive(Debug)]
struct Introspection {
    /// Every condition key, as written.
    keys: Box<[KeyText]>,
    /// (statement, pattern) for every `Resource` / `NotResource` entry, as written.
    resources: Box<[(usize, Box<str>)]>,
    /// Statements that use policy-variable syntax while the version disables variables.
    literal_variables: Box<[usize]>,
}

/// One condition key of a statement, with its operator, as written.
#[derive(Debug)]
struct KeyText {
    statement: usize,
    operator: Box<str>,
    key: Box<str>,
}

impl Introspection {
    fn of(doc: &ast::Document) -> Self {
        let statements = doc.statements.iter().enumerate();
        let keys = statements
            .clone()
            .flat_map(|(i, st)| {
                st.conditions.iter().flat_map(move |block| {
                    block.entries.iter().map(move |(key, _)| KeyText {
                        statement: i,
                        operator: block.operator.clone(),
                        key: key.clone(),
                    })
                })
            })
            .collect();
        let resources = statements
            .clone()
            .flat_map(|(i, st)| {
                st.resource
                    .iter()
                    .flat_map(move |r| r.items.iter().map(move |s| (i, s.clone())))
            })
            .collect();
        let literal_variables = if doc.version == ast::Version::V2012 {
            Box::default()
        } else {
            statements
                .filter(|(_, st)| compile::statement_uses_variables(st))
                .map(|(i, _)| i)
                .collect()
        };
        Self {
            keys,
            resources,
            literal_variables,
        }
    }
}

/// A successfully compiled policy and the warnings found while compiling it.
#[derive(Debug)]
pub struct Compiled {
    /// The policy.
    pub policy: Policy,
    /// Problems that do not stop the policy from loading.
    pub warnings: Vec<Diagnostic>,
}

/// Actions up to this many bytes are lower-cased on the stack and looked up in the policy's
/// action index; longer ones are compared statement by statement.
const ACTION_BUF: usize = 128;

/// How far a statement got before something failed: larger is closer to applying.
type Progress = usize;

impl Policy {
    /// Parses, validates and compiles `source`. On failure returns every error found (and the
    /// warnings), each with its JSON pointer.
    pub fn compile(source: &str, options: &ParseOptions) -> Result<Compiled, Vec<Diagnostic>> {
        let mut diags = Diags::default();
        if source.len() > options.max_bytes {
            diags.error(
                codes::TOO_LARGE,
                "",
                Site::default(),
                format!(
                    "The policy document is {} bytes, larger than the limit of {} bytes.",
                    source.len(),
                    options.max_bytes
                ),
            );
            diags.hint("Split it into fewer statements, or raise max_policy_bytes.");
            return Err(diags.list);
        }
        let Some(doc) = ast::parse(source, options, &mut diags) else {
            return Err(diags.list);
        };
        let (statements, action_index) = compile::compile(&doc, options, &mut diags);
        // Group by statement (document-level first), keeping discovery order within each.
        diags.list.sort_by_key(|d| d.statement.map_or(0, |i| i + 1));
        if diags.has_errors() {
            return Err(diags.list);
        }
        Ok(Compiled {
            policy: Policy {
                source: source.into(),
                options: options.clone(),
                version: doc.version,
                introspection: Introspection::of(&doc),
                statements: statements.into_boxed_slice(),
                action_index,
            },
            warnings: diags.list,
        })
    }

    /// Evaluates this policy for `request`, reading condition keys from `context`.
    ///
    /// `statement` is the first matching `Deny` in document order, else the first matching
    /// `Allow`, so the outcome never depends on statement order. `principal_match` is the
    /// strongest match among all matching `Allow` statements (Exact > Role > Wildcard = Other >
    /// Account). `miss` is the closest `Allow` statement that did not apply (for `NoMatch`), or
    /// the closest `Deny` that did not apply (for `Allow`); `None` for `ExplicitDeny`. Within a
    /// statement the cheapest test runs first: action, resource, principal, conditions.
    pub fn evaluate<C: Context + ?Sized>(
        &self,
        request: &Request<'_>,
        context: &C,
    ) -> Evaluation<'_> {
        let mut buf = [0u8; ACTION_BUF];
        let lower = lowercase(&mut buf, request.action);
        let hits: &[u32] = lower
            .and_then(|l| {
                let at = self
                    .action_index
                    .binary_search_by(|(action, _)| (**action).cmp(l))
                    .ok()?;
                self.action_index.get(at)
            })
            .map_or(&[], |(_, v)| v);
        let mut hits = hits.iter().copied().peekable();
        let mut allow: Option<usize> = None;
        let mut best: Option<PrincipalMatch> = None;
        let mut allow_miss: Option<(Progress, Miss<'_>)> = None;
        let mut deny_miss: Option<(Progress, Miss<'_>)> = None;
        for (i, st) in self.statements.iter().enumerate() {
            let idx = u32::try_from(i).unwrap_or(u32::MAX);
            while hits.next_if(|h| *h < idx).is_some() {}
            let exact_hit = hits.next_if_eq(&idx).is_some();
            // Once an Exact allow is known, only Deny statements can change the answer.
            if !st.deny && best == Some(PrincipalMatch::Exact) {
                continue;
            }
            let sref = StatementRef {
                index: i,
                sid: st.sid.as_deref(),
            };
            match self.check(st, request, context, lower.is_some(), exact_hit) {
                Ok(_) if st.deny => {
                    return Evaluation {
                        outcome: Outcome::ExplicitDeny,
                        statement: Some(sref),
                        principal_match: None,
                        miss: None,
                    };
                }
                Ok(m) => {
                    allow.get_or_insert(i);
                    best = principal::stronger(best, Some(m));
                }
                Err((progress, reason)) => {
                    let slot = if st.deny {
                        &mut deny_miss
                    } else {
                        &mut allow_miss
                    };
                    if slot.is_none_or(|(p, _)| progress > p) {
                        *slot = Some((
                            progress,
                            Miss {
                                statement: sref,
                                reason,
                            },
                        ));
                    }
                }
            }
        }
        match allow {
            Some(i) => Evaluation {
                outcome: Outcome::Allow,
                statement: self.statements.get(i).map(|st| StatementRef {
                    index: i,
                    sid: st.sid.as_deref(),
                }),
                principal_match: best,
                miss: deny_miss.map(|(_, m)| m),
            },
            None => Evaluation {
                outcome: Outcome::NoMatch,
                statement: None,
                principal_match: None,
                miss: allow_miss.map(|(_, m)| m),
            },
        }
    }

    /// Whether one statement applies; how the principal matched, or how far it got and why not.
    fn check<'p, C: Context + ?Sized>(
        &'p self,
        st: &'p compile::Statement,
        request: &Request<'_>,
        context: &C,
        indexed: bool,
        exact_hit: bool,
    ) -> Result<PrincipalMatch, (Progress, MissReason<'p>)> {
        let a = &st.actions;
        let action = a.any
            || (if indexed {
                exact_hit
            } else {
                a.exact
                    .iter()
                    .any(|e| e.eq_ignore_ascii_case(request.action))
            })
            || a.globs.iter().any(|g| g.matches(request.action));
        if action == a.negated {
            return Err((0, MissReason::Action));
        }
        let r = &st.resources;
        let resource = r.any
            || r.patterns.iter().any(|p| match p {
                ResourcePattern::Arn(p) => p.matches(request.resource),
                ResourcePattern::Glob(g) => g.matches(request.resource),
                ResourcePattern::Template(t) => t
                    .resolve(context)
                    .is_some_and(|vars| arn::match_toks(&t.toks(&vars), request.resource)),
            });
        if resource == r.negated {
            return Err((1, MissReason::Resource));
        }
        let matched = match &st.principal {
            None => Some(PrincipalMatch::Wildcard),
            Some(rule) => {
                let m = rule.principals.matches(
                    &request.principal,
                    self.options.aws_wildcard_matches_anonymous,
                );
                if rule.negated {
                    m.is_none().then_some(PrincipalMatch::Wildcard)
                } else {
                    m
                }
            }
        };
        let Some(matched) = matched else {
            return Err((2, MissReason::Principal));
        };
        for (j, c) in st.conditions.iter().enumerate() {
            if !c.eval(context) {
                return Err((
                    3 + j,
                    MissReason::Condition {
                        operator: &c.operator,
                        key: c.key.as_written(),
                    },
                ));
            }
        }
        Ok(matched)
    }

    /// Number of statements.
    pub fn statement_count(&self) -> usize {
        self.statements.len()
    }

    /// Every condition key the policy reads, as written, with the statement index and operator.
    /// Used by `validate` to flag keys a caller never sets.
    pub fn condition_keys(&self) -> Vec<KeyUse<'_>> {
        self.introspection
            .keys
            .iter()
            .map(|k| KeyUse {
                statement: k.statement,
                operator: &k.operator,
                key: &k.key,
            })
            .collect()
    }

    /// Every `Resource` / `NotResource` pattern, as written, with its statement index.
    pub fn resource_patterns(&self) -> Vec<(usize, &str)> {
        self.introspection
            .resources
            .iter()
            .map(|(i, pattern)| (*i, &**pattern))
            .collect()
    }

    /// Whether the policy's `Version` makes `${...}` policy variables (2012-10-17).
    pub fn variables_enabled(&self) -> bool {
        self.version == ast::Version::V2012
    }

    /// Statement indices that use policy-variable syntax while variables are disabled.
    pub fn literal_variables(&self) -> Vec<usize> {
        self.introspection.literal_variables.to_vec()
    }

    /// Statement indices of `Allow` statements that use `NotPrincipal`.
    pub fn allow_not_principal(&self) -> Vec<usize> {
        self.statements
            .iter()
            .enumerate()
            .filter(|(_, st)| !st.deny && st.principal.as_ref().is_some_and(|p| p.negated))
            .map(|(i, _)| i)
            .collect()
    }

    /// The policy as normalised JSON: every list an array, condition numbers and booleans as
    /// strings, a bare account principal as `{"AWS": ...}`. Compiling it again gives a policy
    /// with the same decisions and the same `to_json`.
    pub fn to_json(&self) -> String {
        // The source parsed once with these options; parsing is deterministic, so it parses
        // again (the source itself stands in should that ever not hold).
        let mut diags = Diags::default();
        ast::parse(&self.source, &self.options, &mut diags)
            .map_or_else(|| self.source.to_string(), |doc| doc.to_json())
    }
}

/// Lower-cases `action` into `buf` (ASCII only; other bytes are kept, so the result is still
/// UTF-8); `None` when it does not fit.
fn lowercase<'b>(buf: &'b mut [u8; ACTION_BUF], action: &str) -> Option<&'b str> {
    let dst = buf.get_mut(..action.len())?;
    dst.copy_from_slice(action.as_bytes());
    dst.make_ascii_lowercase();
    std::str::from_utf8(dst).ok()
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
