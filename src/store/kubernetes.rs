//! The Kubernetes input: the AWS Gateway API Controller's `IAMAuthPolicy` resources, applied
//! to the merged world the way the controller applies them (lattice-auth §9).
//!
//! It must not touch: the file system, the parsing of documents (`documents` hands over the
//! resources read), the compilation of the world.

use crate::lattice::Problem;
use crate::lattice::spec::{DocumentSpec, WorldSpec};
use crate::policy::Severity;

use super::error::FileProblem;

/// A Kubernetes `IAMAuthPolicy` (lattice-auth §9).
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct IamAuthPolicy {
    metadata: K8sMetadata,
    spec: IamAuthPolicySpec,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct K8sMetadata {
    name: String,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    creation_timestamp: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct IamAuthPolicySpec {
    policy: String,
    target_ref: TargetRef,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TargetRef {
    #[serde(default)]
    group: Option<String>,
    kind: String,
    name: String,
    #[serde(default)]
    namespace: Option<String>,
}

pub(super) const IAM_AUTH_POLICY_API: &str = "application-networking.k8s.aws/v1alpha1";

/// The Lattice service name the controller gives a route: `<route[..20]>-<namespace[..18]>`.
fn controller_service_name(route: &str, namespace: &str) -> String {
    let cut = |s: &str, n: usize| s.chars().take(n).collect::<String>();
    format!("{}-{}", cut(route, 20), cut(namespace, 18))
}

pub(super) type Applied = (IamAuthPolicy, Option<String>, usize);

/// A pointer prefix replaced wholesale: (prefix in the merged world, file, the pointer in that
/// file).
pub(super) type Override = (String, Option<String>, String);

/// Applies `IAMAuthPolicy` resources the way the controller does: the policy on the target,
/// then its auth type `AWS_IAM`. One policy per target; the oldest wins (then
/// namespace/name), the others are reported as conflicted.
pub(super) fn apply_policies(
    world: &mut WorldSpec,
    mut policies: Vec<Applied>,
    overrides: &mut Vec<Override>,
    problems: &mut Vec<FileProblem>,
) {
    policies.sort_by(|(a, ..), (b, ..)| {
        let key = |p: &IamAuthPolicy| {
            (
                p.metadata.creation_timestamp.clone().unwrap_or_default(),
                p.metadata
                    .namespace
                    .clone()
                    .unwrap_or_else(|| "default".into()),
                p.metadata.name.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    let mut taken: Vec<(String, String)> = Vec::new();
    for (p, file, d) in policies {
        let namespace = p
            .spec
            .target_ref
            .namespace
            .clone()
            .or(p.metadata.namespace.clone())
            .unwrap_or_else(|| "default".into());
        let group_ok = p
            .spec
            .target_ref
            .group
            .as_deref()
            .is_none_or(|g| g == "gateway.networking.k8s.io");
        let name = format!(
            "{}/{}",
            p.metadata.namespace.as_deref().unwrap_or("default"),
            p.metadata.name
        );
        let (collection, target) = match p.spec.target_ref.kind.as_str() {
            "Gateway" if group_ok => ("serviceNetworks", p.spec.target_ref.name.clone()),
            "HTTPRoute" | "GRPCRoute" if group_ok => (
                "services",
                controller_service_name(&p.spec.target_ref.name, &namespace),
            ),
            other => {
                problems.push(FileProblem {
                    file: file.clone(),
                    problem: Problem {
                        severity: Severity::Error,
                        pointer: format!("[document {d}]/spec/targetRef"),
                        message: format!("IAMAuthPolicy `{name}` targets unsupported kind `{other}` (Invalid)"),
                        hint: Some("target a Gateway, HTTPRoute or GRPCRoute of group gateway.networking.k8s.io".into()),
                    },
                });
                continue;
            }
        };
        if taken.iter().any(|(c, t)| c == collection && *t == target) {
            problems.push(FileProblem {
                file: file.clone(),
                problem: Problem {
                    severity: Severity::Warning,
                    pointer: format!("[document {d}]"),
                    message: format!("IAMAuthPolicy `{name}` is Conflicted: an older policy already targets `{target}`; it is ignored"),
                    hint: None,
                },
            });
            continue;
        }
        let document = Some(DocumentSpec {
            document: Some(serde_json::Value::String(p.spec.policy.clone())),
            document_file: None,
        });
        let index = match collection {
            "serviceNetworks" => world
                .service_networks
                .iter()
                .position(|n| n.name == target)
                .inspect(|i| {
                    if let Some(n) = world.service_networks.get_mut(*i) {
                        n.auth_policy = document;
                        n.auth_type = "AWS_IAM".into();
                    }
                }),
            _ => world
                .services
                .iter()
                .position(|s| s.name == target)
                .inspect(|i| {
                    if let Some(s) = world.services.get_mut(*i) {
                        s.auth_policy = document;
                        s.auth_type = "AWS_IAM".into();
                    }
                }),
        };
        match index {
            Some(i) => {
                taken.push((collection.to_owned(), target));
                let replacement = format!("[document {d}]/spec/policy");
                overrides.push((format!("/{collection}/{i}/authPolicy/document"), file, replacement.clone()));
            }
            None => problems.push(FileProblem {
                file,
                problem: Problem {
                    severity: Severity::Error,
                    pointer: format!("[document {d}]/spec/targetRef"),
                    message: format!(
                        "IAMAuthPolicy `{name}` targets `{}` `{}`, but no {} is named `{target}` (TargetNotFound)",
                        p.spec.target_ref.kind,
                        p.spec.target_ref.name,
                        if collection == "services" { "service" } else { "service network" }
                    ),
                    hint: None,
                },
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controller_names_routes() {
        assert_eq!(
            controller_service_name("inventory", "default"),
            "inventory-default"
        );
        assert_eq!(
            controller_service_name(
                "a-very-long-route-name-indeed",
                "a-very-long-namespace-name"
            ),
            "a-very-long-route-na-a-very-long-namesp"
        );
    }
}
