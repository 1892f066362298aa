//! Policy variables (iam-policy §1.9): `${key}`, `${key, 'default'}`, `${*}`, `${?}`, `${$}`.
//!
//! A template is compiled once into pieces. At request time each variable is read through the
//! same [`Context`] as condition keys. A value that cannot be resolved (absent without default,
//! or multi-valued) makes the whole template unmatchable: positive operators do not match it,
//! negated ones do, and a `Resource` holding it matches nothing; the empty string is never
//! substituted. Substituted text is always literal: a `*` in a tag value is not a wildcard.

use std::fmt::Write as _;

use super::glob::{self, AsTok, GTok, Tok};
use super::request::{ConditionKey, Context, Value};
use super::values::write_iso;

/// A string with `${...}` variables, compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    pieces: Box<[Piece]>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// Policy text; in `*Like`/`Arn*`/`Resource` templates `*` and `?` are wildcards.
    Glob(Box<[GTok]>),
    /// Literal text (equality operators, and `${*}`, `${?}`, `${$}`).
    Lit(Box<str>),
    /// A variable.
    Var {
        key: ConditionKey,
        default: Option<Box<str>>,
    },
}

/// What is wrong with a variable, in Access Analyzer's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TemplateError {
    MissingBrace,
    MissingQuote,
    Space,
    Empty,
}

impl TemplateError {
    pub(crate) fn message(self) -> &'static str {
        match self {
            Self::MissingBrace => "Missing brace in variable: a `${` has no closing `}`.",
            Self::MissingQuote => {
                "Missing quote in variable: a default value must be written `${key, 'default'}`."
            }
            Self::Space => "Unsupported space in variable: a variable name cannot contain spaces.",
            Self::Empty => "Empty variable: `${}` names no context key.",
        }
    }
}

/// Whether `s` uses variable syntax at all.
pub(crate) fn has_variables(s: &str) -> bool {
    s.contains("${")
}

impl Template {
    /// Compiles `s`. With `wildcards`, policy text keeps `*` and `?` as wildcards.
    pub(crate) fn parse(s: &str, wildcards: bool) -> Result<Self, TemplateError> {
        let mut pieces = Vec::new();
        let mut rest = s;
        let mut text = String::new();
        let flush = |text: &mut String, pieces: &mut Vec<Piece>| {
            if !text.is_empty() {
                let t = std::mem::take(text);
                pieces.push(if wildcards {
                    Piece::Glob(glob::tokenize(&t).into_boxed_slice())
                } else {
                    Piece::Lit(t.into())
                });
            }
        };
        while let Some(at) = rest.find("${") {
            text.push_str(rest.get(..at).unwrap_or_default());
            let inner_start = rest.get(at + 2..).unwrap_or_default();
            let Some(close) = inner_start.find('}') else {
                return Err(TemplateError::MissingBrace);
            };
            let inner = inner_start.get(..close).unwrap_or_default();
            rest = inner_start.get(close + 1..).unwrap_or_default();
            match inner {
                "*" | "?" | "$" => {
                    flush(&mut text, &mut pieces);
                    pieces.push(Piece::Lit(inner.into()));
                }
                "" => return Err(TemplateError::Empty),
                _ => {
                    flush(&mut text, &mut pieces);
                    let (name, default) = match inner.split_once(',') {
                        None => (inner, None),
                        Some((name, d)) => {
                            let d = d.trim_start_matches(' ');
                            let d = d
                                .strip_prefix('\'')
                                .and_then(|d| d.strip_suffix('\''))
                                .ok_or(TemplateError::MissingQuote)?;
                            (name, Some(d.into()))
                        }
                    };
                    if name.is_empty() {
                        return Err(TemplateError::Empty);
                    }
                    if name.contains(char::is_whitespace) {
                        return Err(TemplateError::Space);
                    }
                    pieces.push(Piece::Var {
                        key: ConditionKey::new(name),
                        default,
                    });
                }
            }
        }
        text.push_str(rest);
        flush(&mut text, &mut pieces);
        Ok(Self {
            pieces: pieces.into_boxed_slice(),
        })
    }

    /// The value of every variable, in order; `None` when one cannot be resolved.
    pub(crate) fn resolve<C: Context + ?Sized>(&self, ctx: &C) -> Option<Vec<String>> {
        let mut out = Vec::new();
        for p in self.pieces.iter() {
            if let Piece::Var { key, default } = p {
                out.push(resolve_one(ctx.value(key), default.as_deref())?);
            }
        }
        Some(out)
    }

    /// The template as tokens, with `vars` (from [`Template::resolve`]) as literal text.
    pub(crate) fn toks<'a>(&'a self, vars: &'a [String]) -> Vec<Tok<'a>> {
        let mut out = Vec::new();
        let mut vars = vars.iter();
        for p in self.pieces.iter() {
            match p {
                Piece::Glob(toks) => out.extend(toks.iter().map(AsTok::tok)),
                Piece::Lit(s) => out.push(Tok::Lit(s)),
                Piece::Var { .. } => {
                    if let Some(v) = vars.next() {
                        out.push(Tok::Lit(v));
                    }
                }
            }
        }
        out
    }

    /// The template's literal text with `vars` substituted (equality operators).
    pub(crate) fn concat(&self, vars: &[String]) -> String {
        let mut s = String::new();
        for t in self.toks(vars) {
            match t {
                Tok::Lit(l) => s.push_str(l),
                Tok::Star => s.push('*'),
                Tok::One => s.push('?'),
            }
        }
        s
    }

    /// Matches `text` against the resolved template (wildcards only where the policy had them).
    pub(crate) fn matches<C: Context + ?Sized>(&self, ctx: &C, text: &str) -> bool {
        self.resolve(ctx)
            .is_some_and(|vars| glob::match_toks(&self.toks(&vars), text, false))
    }
}

fn resolve_one(v: Value<'_>, default: Option<&str>) -> Option<String> {
    let mut s = String::new();
    match v {
        Value::Absent => return default.map(str::to_owned),
        Value::String(v) => return Some(v.into_owned()),
        // "you cannot use a multivalued context key as a policy variable": one value is fine,
        // zero or several leave the variable unresolved.
        Value::Strings(v) => {
            return match <[_; 1]>::try_from(v) {
                Ok([one]) => Some(one.into_owned()),
                Err(_) => None,
            };
        }
        Value::Bool(b) => s.push_str(if b { "true" } else { "false" }),
        Value::Number(n) => {
            let _ = write!(s, "{n}");
        }
        Value::Date(secs) => {
            let _ = write_iso(&mut s, secs);
        }
        Value::Ip(ip) => {
            let _ = write!(s, "{ip}");
        }
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;
    use std::collections::HashMap;

    struct Ctx(HashMap<&'static str, Value<'static>>);
    impl Context for Ctx {
        fn value(&self, key: &ConditionKey) -> Value<'_> {
            self.0.get(key.name()).cloned().unwrap_or(Value::Absent)
        }
    }

    #[test]
    fn parses_and_resolves() {
        let ctx = Ctx(HashMap::from([
            ("aws:username", Value::String(Cow::Borrowed("bob"))),
            ("aws:principaltag/team", Value::String(Cow::Borrowed("a*"))),
        ]));
        let t = Template::parse("home/${aws:username}/*", true).unwrap();
        assert!(t.matches(&ctx, "home/bob/x"));
        assert!(!t.matches(&ctx, "home/alice/x"));
        // A substituted `*` is literal.
        let t = Template::parse("${aws:PrincipalTag/Team}", true).unwrap();
        assert!(t.matches(&ctx, "a*"));
        assert!(!t.matches(&ctx, "ab"));
        // Defaults and specials.
        let t = Template::parse("${aws:PrincipalTag/dept, 'company-wide'}-${*}", true).unwrap();
        assert!(t.matches(&ctx, "company-wide-*"));
        assert!(!t.matches(&ctx, "company-wide-x"));
        // Unresolved: unmatchable, never "".
        let t = Template::parse("home/${aws:userid}/*", true).unwrap();
        assert!(t.resolve(&ctx).is_none());
        assert!(!t.matches(&ctx, "home//x"));
    }

    #[test]
    fn errors() {
        assert_eq!(
            Template::parse("${aws:username", true),
            Err(TemplateError::MissingBrace)
        );
        assert_eq!(Template::parse("${}", true), Err(TemplateError::Empty));
        assert_eq!(
            Template::parse("${aws: username}", true),
            Err(TemplateError::Space)
        );
        assert_eq!(
            Template::parse("${a:b, x}", true),
            Err(TemplateError::MissingQuote)
        );
        assert!(Template::parse("${a:b, 'with space'}", true).is_ok());
    }
}
