//! ARNs and ARN patterns.
//!
//! "Each of the six colon-delimited components of the ARN is checked separately": the value and
//! the pattern are both split at their first five colons; `*` and `?` in the first five
//! components therefore never cross a `:`, and the sixth component (the resource, which may
//! itself contain `:` and `/`) is one glob. Matching is case-sensitive.
//!
//! A `Resource` may also end early with a `*`: IAM's Resource element page says that "if the `*`
//! wildcard is the last character of a resource ARN segment, it can expand to match beyond colon
//! boundaries", so `arn:aws:vpc-lattice:us-west-2:*` names every Lattice resource of the region.
//! Such a pattern matches its last component against the rest of the ARN, colons included
//! ([`ArnPattern::resource`]). The `Arn*` condition operators keep the strict six components.

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
    /// When every component before the last is literal: `arn:p:s:r:a:` (shorter for a pattern
    /// that ends early) compared as one prefix.
    prefix: Option<Box<str>>,
    /// Otherwise: a glob per component between `arn` and the last component.
    parts: Box<[Glob]>,
    /// The last component, matched against the rest of the ARN, colons included.
    rest: Glob,
    /// The pattern ends before the resource component: the value must still be a whole ARN.
    short: bool,
}

/// The fewest components of a pattern that ends early: `arn`, partition, service, and the
/// component ending in `*` (a wildcard may not stand for the service).
const SHORT_MIN_COMPONENTS: usize = 4;

impl ArnPattern {
    /// Compiles `pattern`, which must have all six components (wildcards allowed anywhere): the
    /// form of the `Arn*` condition operators.
    pub fn new(pattern: &str) -> Result<Self, ArnPatternError> {
        let components: Vec<&str> = pattern.splitn(6, ':').collect();
        if components.len() < 6 {
            return Err(too_few(pattern));
        }
        Self::compile(&components, false)
    }

    /// Compiles a `Resource`/`NotResource` pattern: six components, or fewer when the last one
    /// ends in `*`, which then expands beyond the colons (`arn:aws:vpc-lattice:us-west-2:*`).
    pub fn resource(pattern: &str) -> Result<Self, ArnPatternError> {
        let components: Vec<&str> = pattern.splitn(6, ':').collect();
        let short = components.len() < 6;
        if short && !ends_early(&components) {
            return Err(too_few(pattern));
        }
        Self::compile(&components, short)
    }

    fn compile(components: &[&str], short: bool) -> Result<Self, ArnPatternError> {
        let [first, middle @ .., last] = components else {
            return Err(ArnPatternError::TooFewComponents);
        };
        if *first != "arn" {
            return Err(ArnPatternError::NotArn);
        }
        let literal = middle.iter().all(|c| !c.contains(['*', '?']));
        let (prefix, parts) = if literal {
            let mut prefix = String::from("arn:");
            for c in middle {
                prefix.push_str(c);
                prefix.push(':');
            }
            (Some(prefix.into_boxed_str()), Box::default())
        } else {
            (
                None,
                middle
                    .iter()
                    .map(|c| Glob::new(c, false))
                    .collect::<Vec<_>>()
                    .into_boxed_slice(),
            )
        };
        Ok(Self {
            prefix,
            parts,
            rest: Glob::new(last, false),
            short,
        })
    }

    /// Whether `arn` matches, component by component.
    pub fn matches(&self, arn: &str) -> bool {
        if self.short && split6(arn).is_none() {
            return false;
        }
        if let Some(prefix) = &self.prefix {
            return arn
                .strip_prefix(&**prefix)
                .is_some_and(|rest| self.rest.matches(rest));
        }
        let mut components = arn.splitn(self.parts.len() + 2, ':');
        components.next() == Some("arn")
            && self
                .parts
                .iter()
                .all(|g| components.next().is_some_and(|c| g.matches(c)))
            && components
                .next()
                .is_some_and(|rest| self.rest.matches(rest))
    }
}

/// Whether a pattern of fewer than six components ends early the way IAM accepts: its last
/// component ends in `*` and comes after the service.
pub(crate) fn ends_early(components: &[&str]) -> bool {
    components.len() >= SHORT_MIN_COMPONENTS && components.last().is_some_and(|c| c.ends_with('*'))
}

fn too_few(pattern: &str) -> ArnPatternError {
    if pattern.starts_with("arn:") || pattern == "arn" {
        ArnPatternError::TooFewComponents
    } else {
        ArnPatternError::NotArn
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
    fn a_resource_may_end_early_with_a_star() {
        let p = ArnPattern::resource("arn:aws:vpc-lattice:ap-northeast-1:*").unwrap();
        assert!(p.matches("arn:aws:vpc-lattice:ap-northeast-1:111122223333:service/svc-1/a:b"));
        assert!(!p.matches("arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-1/a"));
        // Still only whole ARNs.
        assert!(!p.matches("arn:aws:vpc-lattice:ap-northeast-1:111122223333"));
        let p = ArnPattern::resource("arn:aws:vpc-lattice:ap-northeast-1:1111*").unwrap();
        assert!(p.matches("arn:aws:vpc-lattice:ap-northeast-1:111122223333:service/svc-1/"));
        assert!(!p.matches("arn:aws:vpc-lattice:ap-northeast-1:211122223333:service/svc-1/"));
        let p = ArnPattern::resource("arn:aws:vpc-lattice:ap-*").unwrap();
        assert!(p.matches("arn:aws:vpc-lattice:ap-northeast-1:111122223333:service/svc-1/"));
        assert!(!p.matches("arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-1/"));
        let p = ArnPattern::resource("arn:*:vpc-lattice:*").unwrap();
        assert!(p.matches("arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-1/"));
        assert!(!p.matches("arn:aws:s3:us-west-2:111122223333:service/svc-1/"));
        // Not ending in `*`, or a wildcard standing for the service: still too short.
        for short in [
            "arn:aws:vpc-lattice:ap-northeast-1:111122223333",
            "arn:aws:vpc-lattice:ap-northeast-1:",
            "arn:aws:vpc*",
        ] {
            assert_eq!(
                ArnPattern::resource(short),
                Err(ArnPatternError::TooFewComponents),
                "{short}"
            );
        }
        // The condition operators keep six components.
        assert_eq!(
            ArnPattern::new("arn:aws:vpc-lattice:ap-northeast-1:*"),
            Err(ArnPatternError::TooFewComponents)
        );
        // A six-component pattern never lets an early `*` cross a colon.
        let p = ArnPattern::resource("arn:aws:vpc-lattice:*:111122223333:service/*").unwrap();
        assert!(!p.matches("arn:aws:vpc-lattice:x:y:111122223333:service/a"));
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
