//! The world as a user writes it: raw, serde-shaped, mirroring AWS API shapes (camelCase).
//!
//! Nothing here is validated beyond its syntax; [`super::World::build`] turns a [`WorldSpec`]
//! into the checked, compiled model and reports every problem at once. File handling (reading,
//! directories, secrets from environment variables and files, `IAMAuthPolicy` resources) is
//! `store`'s job: by the time a spec reaches `lattice`, every secret is a value.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A whole world: one document, or several merged by `store`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorldSpec {
    /// Partition (`aws`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// The region the sidecar plays (`ap-northeast-1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// AWS Organizations, with their guardrail policies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub organizations: Vec<OrganizationSpec>,
    /// Accounts and where they sit in an organization.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<AccountSpec>,
    /// Customer managed policies, referenced by name or ARN from users and roles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed_policies: Vec<ManagedPolicySpec>,
    /// IAM users.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<UserSpec>,
    /// IAM roles and their active sessions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<RoleSpec>,
    /// VPCs: a request's source address decides its VPC.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vpcs: Vec<VpcSpec>,
    /// Security groups referenced by service-network VPC associations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<SecurityGroupSpec>,
    /// VPC endpoints of type service network.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vpc_endpoints: Vec<VpcEndpointSpec>,
    /// Service networks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_networks: Vec<ServiceNetworkSpec>,
    /// Services.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<ServiceSpec>,
    /// IAM OIDC identity providers: whose web identity tokens `AssumeRoleWithWebIdentity` takes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub open_id_connect_providers: Vec<OidcProviderSpec>,
    /// The keys that seal and open the session tokens `lattice-authz sts` issues: the first
    /// seals, every one opens.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub session_keys: Vec<SessionKeySpec>,
}

/// An IAM OIDC identity provider (IAM's `CreateOpenIDConnectProvider`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OidcProviderSpec {
    /// The issuer URL: `https://`, no port, no query; equal to the tokens' `iss`.
    pub url: String,
    /// The account the provider belongs to (defaults to the first account).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// The audiences (client ids) a token's `aud` must name one of.
    pub client_id_list: Vec<String>,
    /// The issuer's JSON Web Key Set, given like a secret (inline, `env` or `file`); Kubernetes
    /// serves it at `/openid/v1/jwks`.
    pub jwks: SecretSpec,
}

/// A session key: an id and 32 random bytes as standard base64, given like a secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionKeySpec {
    /// The key's id, written in clear in every token it seals.
    pub id: String,
    /// The 32 secret bytes, standard base64.
    pub secret: SecretSpec,
}

/// An AWS Organization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrganizationSpec {
    /// `o-…`.
    pub id: String,
    /// `r-…`.
    pub root_id: String,
    /// The management account (SCPs and RCPs do not apply to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_account_id: Option<String>,
    /// Service control policies and where they are attached.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_control_policies: Vec<GuardrailSpec>,
    /// Resource control policies and where they are attached.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_control_policies: Vec<GuardrailSpec>,
}

/// An SCP or RCP attached to roots, OUs or accounts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GuardrailSpec {
    /// Policy name.
    pub name: String,
    /// Root id, OU id or account id each policy is attached to.
    pub targets: Vec<String>,
    /// The policy document.
    #[serde(flatten)]
    pub document: DocumentSpec,
}

/// An account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccountSpec {
    /// 12-digit account id.
    pub id: String,
    /// The organization the account is a member of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// OU path `o-…/r-…/ou-…/` (defaults to the organization root's path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_path: Option<String>,
}

/// A policy document: inline (a JSON string or a mapping), or a file beside the world.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DocumentSpec {
    /// The document: a JSON string, or the policy as a YAML/JSON mapping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<serde_json::Value>,
    /// A file holding the JSON document, relative to the world file. `store` reads it and
    /// replaces it with `document`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_file: Option<String>,
    /// Where the document came from when that is not the world itself (`IAMAuthPolicy ns/name`),
    /// named with the policy in traces. Never read from a world file.
    #[serde(skip)]
    pub source: Option<String>,
}

/// A customer managed policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManagedPolicySpec {
    /// Name, unique in the world.
    pub name: String,
    /// The document.
    #[serde(flatten)]
    pub document: DocumentSpec,
}

/// An inline identity policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InlinePolicySpec {
    /// Policy name.
    pub name: String,
    /// The document.
    #[serde(flatten)]
    pub document: DocumentSpec,
}

/// A secret: a value, or where to find it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SecretSpec {
    /// The secret itself, inline.
    Inline(String),
    /// One of `value`, `env`, `file`.
    Source(SecretSourceSpec),
}

/// Where a secret comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretSourceSpec {
    /// Inline value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Name of an environment variable holding it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// A file holding it (trailing newline removed), relative to the world file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// A long-term access key of an IAM user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessKeySpec {
    /// `AKIA…`.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: SecretSpec,
    /// `Active` (default) or `Inactive`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// An IAM user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserSpec {
    /// `arn:aws:iam::<account>:user/<path/>name`.
    pub arn: String,
    /// The unique id (`AIDA…`), for `aws:userid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Principal tags.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// AWS managed (`VPCLatticeServicesInvokeAccess`) or customer managed policy names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed_policies: Vec<String>,
    /// Inline policies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<InlinePolicySpec>,
    /// Long-term access keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_keys: Vec<AccessKeySpec>,
}

/// An IAM role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoleSpec {
    /// `arn:aws:iam::<account>:role/<path/>name`.
    pub arn: String,
    /// The unique id (`AROA…`), for `aws:userid` of its sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_id: Option<String>,
    /// Principal tags.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// AWS managed or customer managed policy names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed_policies: Vec<String>,
    /// Inline policies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<InlinePolicySpec>,
    /// The trust policy (`AssumeRolePolicyDocument`): JSON text or a mapping. Without one (and
    /// without `assumeRolePolicyDocumentFile`) the STS issues no session of the role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assume_role_policy_document: Option<serde_json::Value>,
    /// A file holding the trust policy, relative to the world file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assume_role_policy_document_file: Option<String>,
    /// Longest session the STS issues, in seconds: 3600 (the default) to 43200.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_session_duration: Option<u32>,
    /// Active sessions (temporary credentials).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sessions: Vec<SessionSpec>,
}

/// One role session: `AssumeRole` output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionSpec {
    /// Session name.
    pub session_name: String,
    /// `ASIA…`.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: SecretSpec,
    /// The session token the caller must present.
    pub session_token: SecretSpec,
    /// RFC 3339 expiry.
    pub expiration: String,
    /// Session tags (override role tags with the same key).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// A VPC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VpcSpec {
    /// `vpc-…`.
    pub vpc_id: String,
    /// Owner account id.
    pub owner_id: String,
    /// IPv4 / IPv6 CIDR blocks; a request's source address picks the VPC.
    pub cidr_blocks: Vec<String>,
}

/// A security group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecurityGroupSpec {
    /// `sg-…`.
    pub group_id: String,
    /// The VPC it belongs to.
    pub vpc_id: String,
    /// Inbound rules.
    #[serde(default)]
    pub ingress: Vec<IngressRuleSpec>,
}

/// An inbound rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IngressRuleSpec {
    /// `tcp` or `-1` (all).
    pub ip_protocol: String,
    /// First port (ignored for `-1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_port: Option<u16>,
    /// Last port (ignored for `-1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_port: Option<u16>,
    /// Source CIDR blocks.
    #[serde(default)]
    pub cidr_blocks: Vec<String>,
}

/// A VPC endpoint of type service network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VpcEndpointSpec {
    /// `vpce-…`.
    pub vpc_endpoint_id: String,
    /// The VPC it is in.
    pub vpc_id: String,
    /// The service network (id, name or ARN).
    pub service_network: String,
    /// The endpoint's addresses: a request whose destination is one of them goes through it.
    #[serde(default)]
    pub ip_addresses: Vec<String>,
    /// Endpoint policy; the default allows everything.
    #[serde(default, flatten)]
    pub policy: DocumentSpec,
}

/// A service network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceNetworkSpec {
    /// `sn-` + 17 characters.
    pub id: String,
    /// Name.
    pub name: String,
    /// Owner account (defaults to the first account).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    /// `NONE` or `AWS_IAM`.
    pub auth_type: String,
    /// The auth policy (JSON string, mapping, or `documentFile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_policy: Option<DocumentSpec>,
    /// VPC associations.
    #[serde(default)]
    pub vpc_associations: Vec<VpcAssociationSpec>,
    /// Services associated with the network (id, name or ARN).
    #[serde(default)]
    pub service_associations: Vec<String>,
    /// Tags.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// A service network ↔ VPC association.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VpcAssociationSpec {
    /// The VPC.
    pub vpc_id: String,
    /// Security groups on the association (none: no network-level filtering).
    #[serde(default)]
    pub security_group_ids: Vec<String>,
}

/// A Lattice service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceSpec {
    /// `svc-` + 17 characters.
    pub id: String,
    /// Name.
    pub name: String,
    /// Owner account (defaults to the first account).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    /// Generated DNS name; defaults to `<name>-<id digits>.7d67968.vpc-lattice-svcs.<region>.on.aws`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_name: Option<String>,
    /// Custom domain name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_domain_name: Option<String>,
    /// `NONE` or `AWS_IAM`.
    pub auth_type: String,
    /// The auth policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_policy: Option<DocumentSpec>,
    /// Tags (`aws:ResourceTag/*`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}
