//! The Kubernetes input: the AWS Gateway API Controller's `IAMAuthPolicy` resources, applied
//! to the merged world the way the controller applies them (lattice-auth §9), and which of the
//! Kubernetes objects a world directory may hold are read ([`classify`]): `IAMAuthPolicy` of a
//! version the controller serves, the items of a `List` (what `kubectl get -o yaml` prints), and
//! nothing of the other kinds (the `Gateway` and `HTTPRoute` a policy targets, kept beside it).
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

/// The API group of `IAMAuthPolicy`.
pub(super) const IAM_AUTH_POLICY_GROUP: &str = "application-networking.k8s.aws";
/// Every version of `IAMAuthPolicy` the AWS Gateway API Controller serves (its CRD has one).
pub(super) const IAM_AUTH_POLICY_VERSIONS: [&str; 1] = ["v1alpha1"];

/// What a document (or a `List` item) with a `kind` is to the world.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Resource {
    /// An `IAMAuthPolicy` of a served version: applied.
    IamAuthPolicy,
    /// A `List` (or `IAMAuthPolicyList`): its `items` are read as documents.
    List,
    /// Another Kubernetes object (it has an `apiVersion`): skipped.
    Other,
    /// An `IAMAuthPolicy` of a version the controller does not serve: an error.
    UnservedVersion,
    /// A `kind` without an `apiVersion`: not a Kubernetes object, and not a world part.
    NotKubernetes,
}

/// Classifies a document by its `kind` and `apiVersion` (empty when absent).
pub(super) fn classify(kind: &str, api: &str) -> Resource {
    if api.is_empty() {
        return Resource::NotKubernetes;
    }
    match kind {
        "IAMAuthPolicy" => match api.split_once('/') {
            Some((IAM_AUTH_POLICY_GROUP, version))
                if IAM_AUTH_POLICY_VERSIONS.contains(&version) =>
            {
                Resource::IamAuthPolicy
            }
            _ => Resource::UnservedVersion,
        },
        "List" if api == "v1" => Resource::List,
        "IAMAuthPolicyList"
            if api
                .split_once('/')
                .is_some_and(|(g, _)| g == IAM_AUTH_POLICY_GROUP) =>
        {
            Resource::List
        }
        _ => Resource::Other,
    }
}

/// The served `apiVersion`s of `IAMAuthPolicy`, for messages: `group/v1alpha1`, ….
pub(super) fn served_versions() -> String {
    IAM_AUTH_POLICY_VERSIONS
        .map(|v| format!("{IAM_AUTH_POLICY_GROUP}/{v}"))
        .join(", ")
}

/// A Kubernetes list: its items, each a Kubernetes object.
#[derive(Debug, serde::Deserialize)]
pub(super) struct List {
    #[serde(default)]
    pub(super) items: Vec<serde_json::Value>,
}

impl IamAuthPolicy {
    /// `namespace/name`, as Kubernetes names it (`default` when the namespace is left out).
    pub(super) fn qualified_name(&self) -> String {
        format!(
            "{}/{}",
            self.metadata.namespace.as_deref().unwrap_or("default"),
            self.metadata.name
        )
    }
}

/// The Lattice service name the controller gives a route: `<route[..20]>-<namespace[..18]>`.
fn controller_service_name(route: &str, namespace: &str) -> String {
    let cut = |s: &str, n: usize| s.chars().take(n).collect::<String>();
    format!("{}-{}", cut(route, 20), cut(namespace, 18))
}

/// A policy to apply: the resource, its file, and where it is in that file (`[document 2]`, or
/// `[document 0]/items/3` in a `List`).
pub(super) type Applied = (IamAuthPolicy, Option<String>, String);

/// A pointer prefix replaced wholesale: (prefix in the merged world, file, the pointer in that
/// file, the resource named in front of the problem's message: `IAMAuthPolicy ns/name`).
pub(super) type Override = (String, Option<String>, String, String);

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
        let name = p.qualified_name();
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
                        pointer: format!("{d}/spec/targetRef"),
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
                    pointer: d.clone(),
                    message: format!("IAMAuthPolicy `{name}` is Conflicted: an older policy already targets `{target}`; it is ignored"),
                    hint: None,
                },
            });
            continue;
        }
        let document = Some(DocumentSpec {
            document: Some(serde_json::Value::String(p.spec.policy.clone())),
            document_file: None,
            source: Some(format!("IAMAuthPolicy {name}")),
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
                let replacement = format!("{d}/spec/policy");
                overrides.push((
                    format!("/{collection}/{i}/authPolicy/document"),
                    file,
                    replacement,
                    format!("IAMAuthPolicy `{name}`"),
                ));
            }
            None => problems.push(FileProblem {
                file,
                problem: Problem {
                    severity: Severity::Error,
                    pointer: format!("{d}/spec/targetRef"),
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
    fn kinds_and_versions_are_classified() {
        let cases = [
            (
                "IAMAuthPolicy",
                "application-networking.k8s.aws/v1alpha1",
                Resource::IamAuthPolicy,
            ),
            (
                "IAMAuthPolicy",
                "application-networking.k8s.aws/v1",
                Resource::UnservedVersion,
            ),
            (
                "IAMAuthPolicy",
                "example.com/v1alpha1",
                Resource::UnservedVersion,
            ),
            ("IAMAuthPolicy", "", Resource::NotKubernetes),
            ("List", "v1", Resource::List),
            ("List", "example.com/v1", Resource::Other),
            (
                "IAMAuthPolicyList",
                "application-networking.k8s.aws/v1alpha1",
                Resource::List,
            ),
            ("Gateway", "gateway.networking.k8s.io/v1", Resource::Other),
            (
                "HTTPRoute",
                "gateway.networking.k8s.io/v1beta1",
                Resource::Other,
            ),
            ("ConfigMap", "v1", Resource::Other),
            ("Gateway", "", Resource::NotKubernetes),
        ];
        for (kind, api, expected) in cases {
            assert_eq!(classify(kind, api), expected, "{kind} {api}");
        }
        assert_eq!(served_versions(), "application-networking.k8s.aws/v1alpha1");
    }

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
