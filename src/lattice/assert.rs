//! Asserted identities: a caller named by the one asking (`check --as`, `Explain`, `test`)
//! instead of proven by a signature. It owns [`Authentication`], the choice every caller of
//! [`World::authorize`] makes, and the resolution of a principal name into an [`Asserted`] caller.
//!
//! It must not verify or decide anything, and nothing from a request may reach it: the Check path
//! always passes [`Authentication::Verify`], so an assertion cannot be expressed by a client.

use std::sync::{Arc, OnceLock};

use super::sessions::role_session;
use super::world::{Principal, PrincipalKind, World};

/// The session name of a role asserted by its role ARN: a role never calls, its sessions do.
pub const ASSERTED_SESSION_NAME: &str = "asserted";

/// How [`World::authorize`] learns who is calling.
#[derive(Debug, Clone, Copy)]
pub enum Authentication<'a> {
    /// Verify the request's own signature (anonymous when unsigned): the Check path, always.
    Verify,
    /// Decide as this caller without verifying anything; the trace says so.
    Assert(&'a Asserted),
}

/// A caller asserted, not verified: a principal of the world, a session of one of its roles, or
/// anonymous. Built by [`World::asserted`] and decided against that same world.
#[derive(Debug)]
pub struct Asserted {
    /// `None`: anonymous.
    pub(super) principal: Option<Principal>,
    /// What the authentication layer of the trace says.
    pub(super) note: Box<str>,
}

impl Asserted {
    /// The asserted principal's ARN, or `anonymous`.
    pub fn name(&self) -> &str {
        self.principal.as_ref().map_or("anonymous", |p| &p.arn)
    }

    /// The kind of the asserted principal, if not anonymous.
    pub fn kind(&self) -> Option<&PrincipalKind> {
        self.principal.as_ref().map(|p| &p.kind)
    }
}

/// Why a principal cannot be asserted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssertError {
    /// No principal, role or role of the session has this name in the world.
    #[error(
        "`{name}` is not a principal of the world (a user, role or assumed-role session ARN, or `anonymous`){did_you_mean}"
    )]
    UnknownPrincipal {
        /// The name given.
        name: String,
        /// `; did you mean `…`?` or empty.
        did_you_mean: String,
    },
    /// The session part of an assumed-role ARN is not a session name AWS accepts.
    #[error(
        "`{name}` is not a valid role session name (2 to 64 characters of A-Z a-z 0-9 _ + = , . @ -)"
    )]
    InvalidSessionName {
        /// The session name given.
        name: String,
    },
}

/// AWS's `RoleSessionName` constraint: `[\w+=,.@-]{2,64}`.
fn valid_session_name(name: &str) -> bool {
    (2..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b))
}

// === impl World: assertion ===

impl World {
    /// The caller `name` asserts: `anonymous`, the ARN of a principal the world lists (a user or a
    /// listed session), a role ARN (decided as a session of it named
    /// [`ASSERTED_SESSION_NAME`]), or `arn:<partition>:sts::<account>:assumed-role/<role>/<session>`
    /// for any session name of a role the world holds.
    pub fn asserted(&self, name: &str) -> Result<Asserted, AssertError> {
        let principal = if name == "anonymous" {
            None
        } else if let Some(listed) = self.principals.iter().find(|p| *p.arn == *name) {
            Some(Principal {
                kind: listed.kind.clone(),
                arn: Arc::clone(&listed.arn),
                account: Arc::clone(&listed.account),
                user_id: listed.user_id.clone(),
                tags: listed.tags.clone(),
                policies: listed.policies.clone(),
                account_index: listed.account_index,
                token: listed.token.clone(),
                headers: OnceLock::new(),
            })
        } else if let Some(role) = self.role(name) {
            Some(role_session(
                self,
                role,
                ASSERTED_SESSION_NAME,
                role.id.as_deref(),
                role.tags.clone(),
                None,
            ))
        } else if let Some((account, role_name, session)) = self.assumed_role_parts(name) {
            let role = self
                .roles
                .iter()
                .find(|r| *r.account == *account && *r.name == *role_name)
                .ok_or_else(|| self.unknown(name))?;
            if !valid_session_name(session) {
                return Err(AssertError::InvalidSessionName {
                    name: session.to_owned(),
                });
            }
            Some(role_session(
                self,
                role,
                session,
                role.id.as_deref(),
                role.tags.clone(),
                None,
            ))
        } else {
            return Err(self.unknown(name));
        };
        let note = match &principal {
            None => "asserted, not verified: anonymous".into(),
            Some(p) => format!("asserted, not verified: {}", p.arn).into(),
        };
        Ok(Asserted { principal, note })
    }

    /// `(account, role name, session name)` of an assumed-role ARN in this world's partition.
    fn assumed_role_parts<'n>(&self, name: &'n str) -> Option<(&'n str, &'n str, &'n str)> {
        let rest = name
            .strip_prefix("arn:")?
            .strip_prefix(&*self.partition)?
            .strip_prefix(":sts::")?;
        let (account, rest) = rest.split_once(":assumed-role/")?;
        let (role, session) = rest.split_once('/')?;
        Some((account, role, session))
    }

    fn unknown(&self, name: &str) -> AssertError {
        let mut names: Vec<&str> = vec!["anonymous"];
        names.extend(self.principals.iter().map(|p| &*p.arn));
        names.extend(self.roles.iter().map(|r| &*r.arn));
        let did_you_mean = crate::policy::closest(name, &names)
            .map(|c| format!("; did you mean `{c}`?"))
            .unwrap_or_default();
        AssertError::UnknownPrincipal {
            name: name.to_owned(),
            did_you_mean,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world() -> World {
        World::example(&crate::lattice::WorldOptions::default()).unwrap()
    }

    #[test]
    fn session_names_follow_aws() {
        for (name, ok) in [
            ("ab", true),
            ("a", false),
            ("i-0abc123example", true),
            ("a+b=c,d.e@f_g-h", true),
            ("a b", false),
            ("a/b", false),
            (&"x".repeat(64), true),
            (&"x".repeat(65), false),
        ] {
            assert_eq!(valid_session_name(name), ok, "{name}");
        }
    }

    #[test]
    fn every_form_of_principal_resolves() {
        let world = world();
        for (name, arn, kind) in [
            ("anonymous", "anonymous", None),
            (
                "arn:aws:iam::917561075114:user/latticeuser",
                "arn:aws:iam::917561075114:user/latticeuser",
                Some("user"),
            ),
            (
                "arn:aws:iam::111122223333:role/app",
                "arn:aws:sts::111122223333:assumed-role/app/asserted",
                Some("session"),
            ),
            (
                "arn:aws:sts::111122223333:assumed-role/app/i-0abc123example",
                "arn:aws:sts::111122223333:assumed-role/app/i-0abc123example",
                Some("session"),
            ),
            (
                "arn:aws:sts::444455556666:assumed-role/outsider/my-session",
                "arn:aws:sts::444455556666:assumed-role/outsider/my-session",
                Some("session"),
            ),
        ] {
            let asserted = world.asserted(name).unwrap();
            assert_eq!(asserted.name(), arn, "{name}");
            let got = asserted.kind().map(|k| match k {
                PrincipalKind::User => "user",
                PrincipalKind::AssumedRole { .. } => "session",
            });
            assert_eq!(got, kind, "{name}");
        }
    }

    #[test]
    fn unknown_principals_are_refused_with_the_closest_name() {
        let world = world();
        assert_eq!(
            world
                .asserted("arn:aws:iam::917561075114:user/latticeusr")
                .unwrap_err()
                .to_string(),
            "`arn:aws:iam::917561075114:user/latticeusr` is not a principal of the world (a user, role or assumed-role session ARN, or `anonymous`); did you mean `arn:aws:iam::917561075114:user/latticeuser`?"
        );
        assert_eq!(
            world.asserted("bob").unwrap_err().to_string(),
            "`bob` is not a principal of the world (a user, role or assumed-role session ARN, or `anonymous`)"
        );
        assert_eq!(
            world
                .asserted("arn:aws:sts::111122223333:assumed-role/nope/s1")
                .unwrap_err(),
            AssertError::UnknownPrincipal {
                name: "arn:aws:sts::111122223333:assumed-role/nope/s1".into(),
                did_you_mean: String::new(),
            }
        );
        assert_eq!(
            world
                .asserted("arn:aws:sts::111122223333:assumed-role/app/a b")
                .unwrap_err(),
            AssertError::InvalidSessionName { name: "a b".into() }
        );
    }
}
