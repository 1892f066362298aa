//! `Principal` / `NotPrincipal` by the identity-set model (iam-policy §2.5).
//!
//! A caller is known by several identifiers: its account (as the id or the root ARN), its own
//! ARN, and for a role session the role's ARN (taken from [`AwsIdentity::role_arn`], never cut
//! out of the session ARN, because role paths are not in session ARNs). A statement's principal
//! matches when any entry names any of them; the result says how (the strongest entry wins:
//! Exact > Role > Wildcard = Other > Account).

use super::arn::Arn;
use super::evaluation::PrincipalMatch;
use super::request::{AwsIdentity, Principal};

/// What an ARN entry under `"AWS"` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArnKind {
    /// `arn:P:iam::A:root`: the account (delegation), like the bare id.
    Root,
    /// `arn:P:iam::A:role/...`: the role and every session of it.
    Role,
    /// `arn:P:iam::A:user/...`: the user, and federated-user sessions it started.
    User,
    /// `arn:P:sts::A:assumed-role/R/S` or `arn:P:sts::A:federated-user/U`: one session.
    Session,
}

/// Classifies an `"AWS"` principal ARN; `None` when IAM would reject it.
pub(crate) fn classify(arn: &str) -> Option<ArnKind> {
    let a = Arn::parse(arn)?;
    if a.partition.is_empty()
        || !a.region.is_empty()
        || a.account.len() != 12
        || !a.account.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let named = |prefix: &str| {
        a.resource
            .strip_prefix(prefix)
            .is_some_and(|rest| !rest.is_empty() && !rest.ends_with('/'))
    };
    match a.service {
        "iam" if a.resource == "root" => Some(ArnKind::Root),
        "iam" if named("role/") => Some(ArnKind::Role),
        "iam" if named("user/") => Some(ArnKind::User),
        "sts" if named("federated-user/") => Some(ArnKind::Session),
        "sts"
            if a.resource
                .strip_prefix("assumed-role/")
                .and_then(|r| r.split_once('/'))
                .is_some_and(|(role, session)| !role.is_empty() && !session.is_empty()) =>
        {
            Some(ArnKind::Session)
        }
        _ => None,
    }
}

/// Whether `s` is a 12-digit account id.
pub(crate) fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// A compiled `Principal` / `NotPrincipal` value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Principals {
    /// `"*"`.
    pub(crate) any: bool,
    /// `{"AWS": "*"}`.
    pub(crate) aws_any: bool,
    /// `{"AWS": "123456789012"}`.
    pub(crate) accounts: Vec<Box<str>>,
    /// `{"AWS": "arn:..."}`.
    pub(crate) arns: Vec<(Box<str>, ArnKind)>,
    pub(crate) services: Vec<Box<str>>,
    pub(crate) federated: Vec<Box<str>>,
    /// `CanonicalUser` ids: S3-only, never match a Lattice caller.
    pub(crate) canonical: Vec<Box<str>>,
}

fn rank(m: PrincipalMatch) -> u8 {
    match m {
        PrincipalMatch::Exact => 4,
        PrincipalMatch::Role => 3,
        PrincipalMatch::Wildcard | PrincipalMatch::Other => 2,
        PrincipalMatch::Account => 1,
    }
}

/// The stronger of two matches (the first on a tie).
pub(crate) fn stronger(
    a: Option<PrincipalMatch>,
    b: Option<PrincipalMatch>,
) -> Option<PrincipalMatch> {
    match (a, b) {
        (Some(x), Some(y)) => Some(if rank(y) > rank(x) { y } else { x }),
        (x, None) => x,
        (None, y) => y,
    }
}

impl Principals {
    /// How `who` matches these entries; `None` when it does not.
    /// `aws_any_anonymous`: whether `{"AWS":"*"}` covers anonymous callers.
    pub(crate) fn matches(
        &self,
        who: &Principal<'_>,
        aws_any_anonymous: bool,
    ) -> Option<PrincipalMatch> {
        if self.any {
            return Some(PrincipalMatch::Wildcard);
        }
        match who {
            Principal::Anonymous => {
                (self.aws_any && aws_any_anonymous).then_some(PrincipalMatch::Wildcard)
            }
            Principal::Aws(id) => self.match_aws(id),
            Principal::Service(s) => {
                if self.services.iter().any(|e| **e == **s) {
                    Some(PrincipalMatch::Other)
                } else {
                    self.aws_any.then_some(PrincipalMatch::Wildcard)
                }
            }
            Principal::Federated(f) => {
                if self.federated.iter().any(|e| **e == **f) {
                    Some(PrincipalMatch::Other)
                } else {
                    self.aws_any.then_some(PrincipalMatch::Wildcard)
                }
            }
        }
    }

    fn match_aws(&self, id: &AwsIdentity<'_>) -> Option<PrincipalMatch> {
        let mut best = self.aws_any.then_some(PrincipalMatch::Wildcard);
        if self.accounts.iter().any(|a| **a == *id.account) {
            best = stronger(best, Some(PrincipalMatch::Account));
        }
        for (entry, kind) in &self.arns {
            let m = match kind {
                // The root ARN names the account in the caller's partition.
                ArnKind::Root => Arn::parse(entry)
                    .filter(|e| {
                        e.account == id.account
                            && Arn::parse(id.arn).is_none_or(|a| a.partition == e.partition)
                    })
                    .map(|_| PrincipalMatch::Account),
                _ if **entry == *id.arn => Some(PrincipalMatch::Exact),
                ArnKind::Role if id.role_arn == Some(&**entry) => Some(PrincipalMatch::Role),
                // A user entry also covers the federated-user sessions that user started
                // ("SessionUserMatch"); like a role, it is limited by session policies, so it
                // reports as `Role`.
                ArnKind::User if id.federating_user_arn == Some(&**entry) => {
                    Some(PrincipalMatch::Role)
                }
                ArnKind::Role | ArnKind::User | ArnKind::Session => None,
            };
            best = stronger(best, m);
            if best == Some(PrincipalMatch::Exact) {
                break;
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies() {
        assert_eq!(
            classify("arn:aws:iam::123456789012:root"),
            Some(ArnKind::Root)
        );
        assert_eq!(
            classify("arn:aws:iam::123456789012:role/path/R"),
            Some(ArnKind::Role)
        );
        assert_eq!(
            classify("arn:aws:iam::123456789012:user/u"),
            Some(ArnKind::User)
        );
        assert_eq!(
            classify("arn:aws:sts::123456789012:assumed-role/R/s"),
            Some(ArnKind::Session)
        );
        assert_eq!(
            classify("arn:aws:sts::123456789012:federated-user/u"),
            Some(ArnKind::Session)
        );
        assert_eq!(classify("arn:aws:sts::123456789012:assumed-role/R"), None);
        assert_eq!(classify("arn:aws:iam::123456789012:group/g"), None);
        assert_eq!(classify("arn:aws:iam::12345:root"), None);
        assert_eq!(classify("arn:aws:iam:us-east-1:123456789012:root"), None);
    }
}
