//! Lattice-aware warnings for `validate`: problems a policy engine alone cannot see because they
//! depend on how Lattice uses the policy (issue 4, "For people").

use crate::policy::Severity;

use super::context::KNOWN_KEYS;
use super::spec::WorldSpec;
use super::world::{AuthType, NamedPolicy, Problem, World};

fn warning(pointer: String, message: String, hint: &str) -> Problem {
    Problem {
        severity: Severity::Warning,
        pointer,
        message,
        hint: Some(hint.to_owned()),
    }
}

/// Every Lattice-level warning of a compiled world.
pub(crate) fn lint(world: &World, spec: &WorldSpec) -> Vec<Problem> {
    let mut out = Vec::new();
    let sides = world
        .networks
        .iter()
        .zip(spec.service_networks.iter().enumerate())
        .map(|(n, (i, _))| {
            (
                format!("/serviceNetworks/{i}"),
                &n.id,
                n.auth_type,
                n.auth_policy.as_ref(),
            )
        })
        .chain(
            world
                .services
                .iter()
                .zip(spec.services.iter().enumerate())
                .map(|(s, (i, _))| {
                    (
                        format!("/services/{i}"),
                        &s.id,
                        s.auth_type,
                        s.auth_policy.as_ref(),
                    )
                }),
        );
    for (pointer, id, auth_type, policy) in sides {
        match (auth_type, policy) {
            (AuthType::None, Some(_)) => out.push(warning(
                format!("{pointer}/authPolicy"),
                format!("the auth policy of `{id}` is inactive because its auth type is NONE"),
                "set `authType: AWS_IAM` to enforce it, or remove the policy",
            )),
            (AuthType::AwsIam, None) => out.push(warning(
                format!("{pointer}/authType"),
                format!(
                    "`{id}` has auth type AWS_IAM and no auth policy: every request to it is denied"
                ),
                "attach an auth policy, or set `authType: NONE`",
            )),
            (_, Some(named)) => lint_policy(
                &format!("{pointer}/authPolicy/document"),
                named,
                true,
                &mut out,
            ),
            (AuthType::None, None) => {}
        }
    }
    for (i, e) in world.endpoints.iter().enumerate() {
        lint_policy(
            &format!("/vpcEndpoints/{i}/document"),
            &e.policy,
            false,
            &mut out,
        );
    }
    out
}

fn lint_policy(pointer: &str, named: &NamedPolicy, auth_policy: bool, out: &mut Vec<Problem>) {
    let policy = &named.policy;
    if auth_policy {
        for (statement, pattern) in policy.resource_patterns() {
            if never_matches_a_request(pattern) {
                out.push(warning(
                    format!("{pointer}/Statement/{statement}/Resource"),
                    format!("resource `{pattern}` has no path part and never matches an HTTP or gRPC request"),
                    "the resource of a request is the service ARN plus the path: use `.../service/svc-…/*`",
                ));
            }
        }
    }
    for key in policy.condition_keys() {
        let lower = key.key.to_ascii_lowercase();
        let base = lower.split_once('/').map_or(lower.as_str(), |(b, _)| b);
        if !KNOWN_KEYS.contains(&base) {
            out.push(warning(
                format!("{pointer}/Statement/{}/Condition", key.statement),
                format!("condition key `{}` is never set for a Lattice request, so it is always absent", key.key),
                "docs/condition-keys.md lists the keys a request sets; an absent key makes positive operators false and negated ones true",
            ));
        }
    }
    for statement in policy.literal_variables() {
        out.push(warning(
            format!("{pointer}/Statement/{statement}"),
            "`${...}` is literal text here because the policy's Version is not 2012-10-17"
                .to_owned(),
            "add \"Version\": \"2012-10-17\" to use policy variables",
        ));
    }
    for statement in policy.allow_not_principal() {
        out.push(warning(
            format!("{pointer}/Statement/{statement}/NotPrincipal"),
            "`NotPrincipal` with `Allow` grants access to everyone not listed, including anonymous callers".to_owned(),
            "use `Principal` with Allow; keep `NotPrincipal` for Deny",
        ));
    }
}

/// A service resource without a path (`...:service/svc-x`, no `/` after the id and no trailing
/// wildcard) never equals `service ARN + path`, because every path starts with `/`.
fn never_matches_a_request(pattern: &str) -> bool {
    let Some(rest) = pattern.split(':').nth(5) else {
        return false;
    };
    let Some(id) = rest.strip_prefix("service/") else {
        return false;
    };
    !id.contains('/') && !id.ends_with('*')
}

#[cfg(test)]
mod tests {
    use super::never_matches_a_request;

    #[test]
    fn resource_without_path() {
        assert!(never_matches_a_request(
            "arn:aws:vpc-lattice:us-west-2:123456789012:service/svc-0123456789abcdef0"
        ));
        assert!(!never_matches_a_request(
            "arn:aws:vpc-lattice:us-west-2:123456789012:service/svc-0123456789abcdef0/*"
        ));
        assert!(!never_matches_a_request(
            "arn:aws:vpc-lattice:us-west-2:123456789012:service/svc-0123456789abcdef*"
        ));
        assert!(!never_matches_a_request("*"));
    }
}
