//! Condition operators (iam-policy §1.6–§1.8): names, compiled values, evaluation.
//!
//! Rules implemented here, all pinned by tests in `tests/it/policy_vectors.rs`:
//! - absent key: positive operators false, negated operators (`*Not*`, `NotIpAddress`) true,
//!   `...IfExists` true, `Null` per its value;
//! - several policy values: OR for positive operators, NOR for negated ones;
//! - a plain operator on a multi-valued context value: positive → some context value matches;
//!   negated → no context value matches (lattice-auth §11 q7);
//! - `ForAnyValue:` some context value passes the base test, absent or empty → false;
//!   `ForAllValues:` every context value passes, absent or empty → true; the base test of a
//!   negated operator is itself negated per value;
//! - a context value the operator cannot read (`abc` for `NumericEquals`) matches no policy
//!   value, so positive operators are false and negated ones true.

use std::net::IpAddr;

use super::arn::{self, ArnPattern};
use super::glob::Glob;
use super::request::{ConditionKey, Context, Value};
use super::values::{Cidr, Decimal, StrBuf, Timestamp, parse_bool, write_iso};
use super::variable::Template;
use std::fmt::Write as _;

/// The comparison family of an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    String,
    StringIgnoreCase,
    StringLike,
    Numeric,
    Date,
    Bool,
    Binary,
    Ip,
    Arn,
    Null,
}

/// Ordering test of `Numeric*` / `Date*` (and equality for the rest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

/// `ForAnyValue:` / `ForAllValues:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetOp {
    ForAnyValue,
    ForAllValues,
}

/// A parsed operator name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Operator {
    pub(crate) family: Family,
    pub(crate) cmp: Cmp,
    pub(crate) negated: bool,
    pub(crate) if_exists: bool,
    pub(crate) set: Option<SetOp>,
}

/// Every base operator: name, family, comparison, negated.
pub(crate) const BASE_OPERATORS: &[(&str, Family, Cmp, bool)] = &[
    ("StringEquals", Family::String, Cmp::Eq, false),
    ("StringNotEquals", Family::String, Cmp::Eq, true),
    (
        "StringEqualsIgnoreCase",
        Family::StringIgnoreCase,
        Cmp::Eq,
        false,
    ),
    (
        "StringNotEqualsIgnoreCase",
        Family::StringIgnoreCase,
        Cmp::Eq,
        true,
    ),
    ("StringLike", Family::StringLike, Cmp::Eq, false),
    ("StringNotLike", Family::StringLike, Cmp::Eq, true),
    ("NumericEquals", Family::Numeric, Cmp::Eq, false),
    ("NumericNotEquals", Family::Numeric, Cmp::Eq, true),
    ("NumericLessThan", Family::Numeric, Cmp::Lt, false),
    ("NumericLessThanEquals", Family::Numeric, Cmp::Le, false),
    ("NumericGreaterThan", Family::Numeric, Cmp::Gt, false),
    ("NumericGreaterThanEquals", Family::Numeric, Cmp::Ge, false),
    ("DateEquals", Family::Date, Cmp::Eq, false),
    ("DateNotEquals", Family::Date, Cmp::Eq, true),
    ("DateLessThan", Family::Date, Cmp::Lt, false),
    ("DateLessThanEquals", Family::Date, Cmp::Le, false),
    ("DateGreaterThan", Family::Date, Cmp::Gt, false),
    ("DateGreaterThanEquals", Family::Date, Cmp::Ge, false),
    ("Bool", Family::Bool, Cmp::Eq, false),
    ("BinaryEquals", Family::Binary, Cmp::Eq, false),
    ("IpAddress", Family::Ip, Cmp::Eq, false),
    ("NotIpAddress", Family::Ip, Cmp::Eq, true),
    ("ArnEquals", Family::Arn, Cmp::Eq, false),
    ("ArnLike", Family::Arn, Cmp::Eq, false),
    ("ArnNotEquals", Family::Arn, Cmp::Eq, true),
    ("ArnNotLike", Family::Arn, Cmp::Eq, true),
    ("Null", Family::Null, Cmp::Eq, false),
];

/// Why an operator name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OperatorError {
    Unknown,
    NullWithIfExists,
}

impl Operator {
    /// Parses an operator name. Names are case-sensitive (iam-policy §6 q1; our choice): a
    /// wrongly-cased name is an unknown operator, reported with the right spelling as a hint.
    pub(crate) fn parse(name: &str) -> Result<Self, OperatorError> {
        let (set, rest) = if let Some(r) = name.strip_prefix("ForAnyValue:") {
            (Some(SetOp::ForAnyValue), r)
        } else if let Some(r) = name.strip_prefix("ForAllValues:") {
            (Some(SetOp::ForAllValues), r)
        } else {
            (None, name)
        };
        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(b) => (b, true),
            None => (rest, false),
        };
        let &(_, family, cmp, negated) = BASE_OPERATORS
            .iter()
            .find(|(n, ..)| *n == base)
            .ok_or(OperatorError::Unknown)?;
        if family == Family::Null && if_exists {
            return Err(OperatorError::NullWithIfExists);
        }
        Ok(Self {
            family,
            cmp,
            negated,
            if_exists,
            set,
        })
    }

    /// A correctly spelled name close to `name`, for hints.
    pub(crate) fn suggest(name: &str) -> Option<String> {
        let (prefix, rest) = ["ForAnyValue:", "ForAllValues:"]
            .iter()
            .find_map(|p| {
                name.get(..p.len())
                    .filter(|h| h.eq_ignore_ascii_case(p))
                    .map(|_| (*p, name.get(p.len()..).unwrap_or_default()))
            })
            .unwrap_or(("", name));
        let rest = rest.trim_start_matches(':');
        let (base, suffix) = match rest.len().checked_sub(8).and_then(|at| {
            rest.get(at..)
                .filter(|s| s.eq_ignore_ascii_case("IfExists"))
                .map(|_| at)
        }) {
            Some(at) => (rest.get(..at).unwrap_or_default(), "IfExists"),
            None => (rest, ""),
        };
        let names: Vec<&str> = BASE_OPERATORS.iter().map(|(n, ..)| *n).collect();
        let best = super::error::closest(base, &names)?;
        let s = format!("{prefix}{best}{suffix}");
        (s != name).then_some(s)
    }
}

// === compiled values ===

/// A `String*` value: literal, or a template when it uses variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StrVal {
    /// Literal text; lower-cased for `*IgnoreCase`.
    Lit(Box<str>),
    Tmpl(Template),
}

/// A `StringLike` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LikeVal {
    Glob(Glob),
    Tmpl(Template),
}

/// A `Bool` value (variables allowed: the operator page says so, iam-policy §6 q2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BoolVal {
    /// `None`: not `true`/`false`, never matches (warned at load).
    Lit(Option<bool>),
    Tmpl(Template),
}

/// An `Arn*` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ArnVal {
    Pattern(ArnPattern),
    /// Not an ARN: never matches (warned at load).
    Invalid,
    Tmpl(Template),
}

/// The policy values of one condition, pre-parsed for its operator family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Values {
    Str(Box<[StrVal]>),
    Like(Box<[LikeVal]>),
    Num(Box<[Decimal]>),
    Date(Box<[Timestamp]>),
    Bool(Box<[BoolVal]>),
    Binary(Box<[Box<[u8]>]>),
    Ip(Box<[Cidr]>),
    Arn(Box<[ArnVal]>),
    /// `Null`: `Some(true)` = "key absent", `Some(false)` = "key present", `None` = invalid.
    Null(Box<[Option<bool>]>),
}

/// One compiled `operator: { key: values }` entry.
#[derive(Debug, Clone)]
pub(crate) struct Condition {
    pub(crate) op: Operator,
    /// The operator as written, for [`super::MissReason`].
    pub(crate) operator: Box<str>,
    pub(crate) key: ConditionKey,
    pub(crate) values: Values,
}

/// One context value, as a condition compares it.
#[derive(Debug, Clone, Copy)]
enum Item<'v> {
    Str(&'v str),
    Bool(bool),
    Num(i64),
    Date(i64),
    Ip(IpAddr),
}

impl Condition {
    /// Evaluates the condition against `ctx`.
    pub(crate) fn eval<C: Context + ?Sized>(&self, ctx: &C) -> bool {
        let value = ctx.value(&self.key);
        let op = self.op;
        if let Values::Null(wants) = &self.values {
            let absent = is_empty(&value);
            return wants.contains(&Some(absent));
        }
        match op.set {
            None => {
                if is_empty(&value) {
                    return op.if_exists || op.negated;
                }
                let any = any_item(&value, |item| self.matches_any(item, ctx));
                any != op.negated
            }
            Some(SetOp::ForAnyValue) => {
                if is_empty_set(&value) {
                    return op.if_exists && matches!(value, Value::Absent);
                }
                any_item(&value, |item| self.matches_any(item, ctx) != op.negated)
            }
            Some(SetOp::ForAllValues) => {
                if is_empty_set(&value) {
                    return true;
                }
                !any_item(&value, |item| self.matches_any(item, ctx) == op.negated)
            }
        }
    }

    /// Whether one context item matches at least one policy value (the operator's positive
    /// test; negation is applied by the caller).
    fn matches_any<C: Context + ?Sized>(&self, item: Item<'_>, ctx: &C) -> bool {
        let cmp = self.op.cmp;
        match &self.values {
            Values::Str(vals) => with_text(item, |s| {
                let ic = self.op.family == Family::StringIgnoreCase;
                vals.iter().any(|v| match v {
                    StrVal::Lit(l) if ic => eq_lowercase(s, l),
                    StrVal::Lit(l) => **l == *s,
                    StrVal::Tmpl(t) => t.resolve(ctx).is_some_and(|vars| {
                        let want = t.concat(&vars);
                        if ic {
                            let want: String = want.chars().flat_map(char::to_lowercase).collect();
                            eq_lowercase(s, &want)
                        } else {
                            want == s
                        }
                    }),
                })
            }),
            Values::Like(vals) => with_text(item, |s| {
                vals.iter().any(|v| match v {
                    LikeVal::Glob(g) => g.matches(s),
                    LikeVal::Tmpl(t) => t.matches(ctx, s),
                })
            }),
            Values::Num(vals) => {
                let n = match item {
                    Item::Num(n) | Item::Date(n) => Some(Decimal::from_i64(n)),
                    Item::Str(s) => Decimal::parse(s),
                    Item::Bool(_) | Item::Ip(_) => None,
                };
                n.is_some_and(|n| vals.iter().any(|v| compare(cmp, &n, v)))
            }
            Values::Date(vals) => {
                let t = match item {
                    Item::Date(s) | Item::Num(s) => Some(Timestamp::from_secs(s)),
                    Item::Str(s) => Timestamp::parse(s),
                    Item::Bool(_) | Item::Ip(_) => None,
                };
                t.is_some_and(|t| vals.iter().any(|v| compare(cmp, &t, v)))
            }
            Values::Bool(vals) => {
                let b = match item {
                    Item::Bool(b) => Some(b),
                    Item::Str(s) => parse_bool(s),
                    Item::Num(_) | Item::Date(_) | Item::Ip(_) => None,
                };
                b.is_some_and(|b| {
                    vals.iter().any(|v| match v {
                        BoolVal::Lit(l) => *l == Some(b),
                        BoolVal::Tmpl(t) => {
                            t.resolve(ctx).and_then(|vars| parse_bool(&t.concat(&vars))) == Some(b)
                        }
                    })
                })
            }
            Values::Binary(vals) => match item {
                Item::Str(s) => vals.iter().any(|v| **v == *s.as_bytes()),
                Item::Bool(_) | Item::Num(_) | Item::Date(_) | Item::Ip(_) => false,
            },
            Values::Ip(vals) => {
                let ip = match item {
                    Item::Ip(ip) => Some(ip),
                    Item::Str(s) => s.parse().ok(),
                    Item::Bool(_) | Item::Num(_) | Item::Date(_) => None,
                };
                ip.is_some_and(|ip| vals.iter().any(|c| c.contains(ip)))
            }
            Values::Arn(vals) => with_text(item, |s| {
                vals.iter().any(|v| match v {
                    ArnVal::Pattern(p) => p.matches(s),
                    ArnVal::Invalid => false,
                    ArnVal::Tmpl(t) => t
                        .resolve(ctx)
                        .is_some_and(|vars| arn::match_toks(&t.toks(&vars), s)),
                })
            }),
            Values::Null(_) => false,
        }
    }
}

fn compare<T: Ord>(cmp: Cmp, ctx: &T, policy: &T) -> bool {
    match cmp {
        Cmp::Eq => ctx == policy,
        Cmp::Lt => ctx < policy,
        Cmp::Le => ctx <= policy,
        Cmp::Gt => ctx > policy,
        Cmp::Ge => ctx >= policy,
    }
}

/// `IgnoreCase`: simple per-character lower-casing of the context text, compared with the
/// already lower-cased policy text; no Unicode case folding (`ß` ≠ `ss`) or normalisation.
fn eq_lowercase(text: &str, lower: &str) -> bool {
    text.chars().flat_map(char::to_lowercase).eq(lower.chars())
}

/// Absent, or a multi-valued key with no values: "not present" for plain operators and `Null`.
fn is_empty(v: &Value<'_>) -> bool {
    match v {
        Value::Absent => true,
        Value::Strings(s) => s.is_empty(),
        Value::String(_) | Value::Bool(_) | Value::Number(_) | Value::Date(_) | Value::Ip(_) => {
            false
        }
    }
}

/// For set operators, also an empty string: "the key values resolve to a null data set, such
/// as an empty string" (iam-policy §1.8).
fn is_empty_set(v: &Value<'_>) -> bool {
    is_empty(v) || matches!(v, Value::String(s) if s.is_empty())
}

fn any_item(v: &Value<'_>, mut f: impl FnMut(Item<'_>) -> bool) -> bool {
    match v {
        Value::Absent => false,
        Value::String(s) => f(Item::Str(s)),
        Value::Strings(list) => list.iter().any(|s| f(Item::Str(s))),
        Value::Bool(b) => f(Item::Bool(*b)),
        Value::Number(n) => f(Item::Num(*n)),
        Value::Date(d) => f(Item::Date(*d)),
        Value::Ip(ip) => f(Item::Ip(*ip)),
    }
}

/// Runs `f` on the item as text; typed items are rendered into a stack buffer (a date as
/// `YYYY-MM-DDThh:mm:ssZ`, a boolean as `true`/`false`).
fn with_text<R>(item: Item<'_>, f: impl FnOnce(&str) -> R) -> R {
    let mut buf = StrBuf::new();
    // A 64-byte buffer holds every rendering (an IPv6 address is at most 45 bytes).
    let _ = match item {
        Item::Str(s) => return f(s),
        Item::Bool(b) => return f(if b { "true" } else { "false" }),
        Item::Num(n) => write!(buf, "{n}"),
        Item::Date(d) => write_iso(&mut buf, d),
        Item::Ip(ip) => write!(buf, "{ip}"),
    };
    f(buf.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_operators() {
        let op = Operator::parse("ForAnyValue:StringNotLikeIfExists").unwrap();
        assert_eq!(op.family, Family::StringLike);
        assert!(op.negated && op.if_exists);
        assert_eq!(op.set, Some(SetOp::ForAnyValue));
        assert_eq!(
            Operator::parse("NullIfExists"),
            Err(OperatorError::NullWithIfExists)
        );
        assert_eq!(Operator::parse("stringequals"), Err(OperatorError::Unknown));
        assert_eq!(
            Operator::parse("ForAnyValue::StringEquals"),
            Err(OperatorError::Unknown)
        );
        assert_eq!(
            Operator::suggest("stringequals").as_deref(),
            Some("StringEquals")
        );
        assert_eq!(
            Operator::suggest("StringEqulas").as_deref(),
            Some("StringEquals")
        );
        assert_eq!(
            Operator::suggest("forallvalues:stringlikeifexists").as_deref(),
            Some("ForAllValues:StringLikeIfExists")
        );
        assert_eq!(Operator::suggest("Frobnicate"), None);
        for (name, ..) in BASE_OPERATORS {
            assert!(Operator::parse(name).is_ok());
        }
    }
}
