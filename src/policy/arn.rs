//! ARNs and ARN patterns (iam-policy §1.4).
//!
//! "Each of the six colon-delimited components of the ARN is checked separately": the value and
//! the pattern are both split at their first five colons; `*` and `?` in the first five
//! components therefore never cross a `:`, and the sixth component (the resource, which may
//! itself contain `:` and `/`) is one glob. Matching is case-sensitive.

use super::glob::{self, Glob, Tok};

/// An ARN split into its components: `arn:partition:service:region:account:resource`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arn<'a> {
    /// `aws`, `aws-cn`, ...
    pub partition: &'a str,
    /// Service namespace, e.g. `vpc-lattice`.
    pub service: &'a str,
    /// Region; empty for global services.
    pub region: &'a str,
    /// Account id; empty for some services.
    pub account: &'a str,
    /// Everything after the fifth colon, colons included.
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    /// Splits `text` into its six components; `None` unless it starts with `arn:` and has at
    /// least five colons.
    pub fn parse(text: &'a str) -> Option<Self> {
        let [arn, partition, service, region, account, resource] = split6(text)?;
        (arn == "arn").then_some(Self {
            partition,
            service,
            region,
            account,
            resource,
        })
    }
}

/// Splits at the first five colons.
pub(crate) fn split6(text: &str) -> Option<[&str; 6]> {
    let mut it = text.splitn(6, ':');
    Some([
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
    ])
}

/// Why a string is not an ARN pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArnPatternError {
    /// It does not start with `arn:`.
    NotArn,
    /// It has fewer than six colon-separated components.
    TooFewComponents,
}

/// A compiled ARN pattern for `Resource`/`NotResource` and the `Arn*` operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArnPattern {
    /// When the first five components are literal: `arn:p:s:r:a:` compared as one prefix.
    prefix: Option<Box<str>>,
    /// Otherwise: a glob per component (index 0 is the literal `arn`).
    parts: Box<[Glob]>,
    resource: Glob,
}

impl ArnPattern {
    /// Compiles `pattern`, which must have all six components (wildcards allowed anywhere).
    pub fn new(pattern: &str) -> Result<Self, ArnPatternError> {
        let Some(parts) = split6(pattern) else {
            return Err(if pattern.starts_with("arn:") || pattern == "arn" {
                ArnPatternError::TooFewComponents
            } else {
                ArnPatternError::NotArn
            });
        };
        let [first, p, s, r, a, resource] = parts;
        if first != "arn" {
            return Err(ArnPatternError::NotArn);
        }
        let literal = [p, s, r, a].iter().all(|c| !c.contains(['*', '?']));
        let (prefix, parts) = if literal {
            (Some(format!("arn:{p}:{s}:{r}:{a}:").into()), Box::default())
        } else {
            (
                None,
                [p, s, r, a]
                    .iter()
                    .map(|c| Glob::new(c, false))
                    .collect::<Vec<_>>()
                    .into_boxed_slice(),
            )
        };
        Ok(Self {
            prefix,
            parts,
            resource: Glob::new(resource, false),
        })
    }

    /// Whether `arn` matches, component by component.
    pub fn matches(&self, arn: &str) -> bool {
        if let Some(prefix) = &self.prefix {
            return arn
                .strip_prefix(&**prefix)
                .is_some_and(|rest| self.resource.matches(rest));
        }
        let Some([first, p, s, r, a, resource]) = split6(arn) else {
            return false;
        };
        first == "arn"
            && self
                .parts
                .iter()
                .zip([p, s, r, a])
                .all(|(g, c)| g.matches(c))
            && self.resource.matches(resource)
    }
}

/// Matches an ARN pattern given as tokens (a policy-variable template after substitution)
/// against `arn`, component by component. Allocates; used only when variables are present.
pub(crate) fn match_toks(toks: &[Tok<'_>], arn: &str) -> bool {
    let Some(values) = split6(arn) else {
        return false;
    };
    let mut comps: Vec<Vec<Tok<'_>>> = vec![Vec::new()];
    for t in toks {
        match *t {
            Tok::Lit(s) => {
                let mut rest = s;
                while comps.len() < 6 {
                    let Some((before, after)) = rest.split_once(':') else {
                        break;
                    };
                    if !before.is_empty()
                        && let Some(c) = comps.last_mut()
                    {
                        c.push(Tok::Lit(before));
                    }
                    comps.push(Vec::new());
                    rest = after;
                }
                if !rest.is_empty()
                    && let Some(c) = comps.last_mut()
                {
                    c.push(Tok::Lit(rest));
                }
            }
            other => {
                if let Some(c) = comps.last_mut() {
                    c.push(other);
                }
            }
        }
    }
    comps.len() == 6
        && comps
            .iter()
            .zip(values)
            .all(|(pat, value)| glob::match_toks(pat, value, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        let a = Arn::parse("arn:aws:s3:::bucket/a:b").unwrap();
        assert_eq!(a.service, "s3");
        assert_eq!(a.resource, "bucket/a:b");
        assert!(Arn::parse("arn:aws:s3::bucket").is_none());
        assert!(Arn::parse("urn:aws:s3:::b").is_none());
    }

    #[test]
    fn arn_like_vs_string_like() {
        // iam-policy §1.4: matches with StringLike, not with ArnLike.
        let p = "arn:aws:someservice:*:111122223333:finance/*";
        let v = "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt";
        assert!(!ArnPattern::new(p).unwrap().matches(v));
        assert!(Glob::new(p, false).matches(v));
    }

    #[test]
    fn literal_prefix_and_components() {
        let p =
            ArnPattern::new("arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-1/*").unwrap();
        assert!(p.matches("arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-1/a/b:c"));
        assert!(!p.matches("arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-2/a"));
        let p = ArnPattern::new("arn:aws:s3:*:*:bucket").unwrap();
        assert!(p.matches("arn:aws:s3:::bucket"));
        assert!(!p.matches("arn:aws:s3:::bucket2"));
        assert_eq!(ArnPattern::new("bucket"), Err(ArnPatternError::NotArn));
        assert_eq!(
            ArnPattern::new("arn:aws"),
            Err(ArnPatternError::TooFewComponents)
        );
    }

    #[test]
    fn token_arns() {
        let toks = [
            Tok::Lit("arn:aws:iam::"),
            Tok::Lit("111:x"),
            Tok::Lit(":role/"),
            Tok::Star,
        ];
        // The substituted `111:x` contributes a colon: the account becomes `111` and the
        // resource component starts with `x`, so `role/a` does not match.
        assert!(!match_toks(&toks, "arn:aws:iam::111:role/a"));
        let toks = [
            Tok::Lit("arn:aws:iam::"),
            Tok::Lit("111"),
            Tok::Lit(":role/"),
            Tok::Star,
        ];
        assert!(match_toks(&toks, "arn:aws:iam::111:role/a"));
        assert!(!match_toks(&toks, "arn:aws:iam::112:role/a"));
        let toks = [Tok::Lit("arn:aws:iam::"), Tok::Star, Tok::Lit(":role/a")];
        assert!(!match_toks(&toks, "arn:aws:iam::1:2:role/a"));
    }
}
