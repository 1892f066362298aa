//! The compiled Lattice world: every reference resolved, every policy compiled, every index
//! built. Immutable once built; `store` swaps whole worlds.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use crate::policy::{self, Diagnostic, ParseOptions, Policy, PolicyKind};
use crate::sigv4::{self, Secret};

use super::Map;
use super::net::{Cidr, PrefixMap};
use super::spec::{self, DocumentSpec, SecretSourceSpec, SecretSpec, WorldSpec};

/// How a world is compiled: the policy-reading choices of lattice-auth §11.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorldOptions {
    /// Largest auth policy accepted, in bytes (lattice-auth §7: 10 KiB).
    pub max_policy_bytes: usize,
    /// Accept `"Principal": "123456789012"` with a warning (lattice-auth §11 q2).
    pub bare_account_principal: bool,
    /// `{"AWS":"*"}` matches anonymous callers (lattice-auth §11 q1).
    pub aws_wildcard_matches_anonymous: bool,
    /// Send `x-amzn-lattice-identity: Type=NONE` for anonymous callers (lattice-auth §11 q11).
    pub anonymous_identity_header: bool,
}

impl Default for WorldOptions {
    fn default() -> Self {
        Self {
            max_policy_bytes: policy::DEFAULT_MAX_POLICY_BYTES,
            bare_account_principal: true,
            aws_wildcard_matches_anonymous: true,
            anonymous_identity_header: false,
        }
    }
}

/// (network, service) → pre-rendered `x-amzn-lattice-target` value.
type AssociationMap = Map<(usize, usize), Arc<str>>;

/// VPC endpoint policies may be larger than auth policies (20,480 characters, iam-policy §1.10).
const MAX_ENDPOINT_POLICY_BYTES: usize = 20_480;

/// Most security groups on one service-network VPC association (lattice-auth §7).
const MAX_ASSOCIATION_SECURITY_GROUPS: usize = 5;

/// What `World::build` needs from the outside: secrets, policy files, and compiled policies
/// (so `store` can cache them by content).
pub trait Loader {
    /// Resolves a secret given by environment variable or file. Errors never contain the
    /// secret.
    fn secret(&self, source: &SecretSourceSpec) -> Result<String, LoaderError>;
    /// Reads a policy document file named in the world.
    fn document_file(&self, path: &str) -> Result<String, LoaderError>;
    /// Compiles a policy (a `store` implementation caches by content hash).
    fn compile(
        &self,
        text: &str,
        options: &ParseOptions,
    ) -> Result<CompiledPolicy, Vec<Diagnostic>>;
}

/// Why a [`Loader`] could not give a secret or a policy file. No message contains a secret.
#[derive(Debug, thiserror::Error)]
pub enum LoaderError {
    /// A secret source that names none of `value`, `env` and `file`.
    #[error("give one of `value`, `env` or `file`")]
    NoSecretSource,
    /// The environment variable a secret is read from is not set, or not UTF-8.
    #[error("environment variable `{0}` is not set (or not UTF-8)")]
    EnvNotSet(String),
    /// A secret from an environment variable or a file, in a world not loaded from files.
    #[error("secrets from environment variables or files need a world loaded from files")]
    SecretSourceNeedsFiles,
    /// A secret file, in a world not loaded from files.
    #[error("secret file `{0}` needs a world loaded from files")]
    SecretFileNeedsFiles(String),
    /// A secret file that cannot be read.
    #[error("secret file `{}`", .path.display())]
    SecretFile {
        /// The file, resolved against the world's directory.
        path: std::path::PathBuf,
        /// Why it cannot be read.
        source: std::io::Error,
    },
    /// A policy file, in a world not loaded from files.
    #[error("policy file `{0}` needs a world loaded from files")]
    PolicyFileNeedsFiles(String),
    /// A policy file that cannot be read.
    #[error("policy file `{}`", .path.display())]
    PolicyFile {
        /// The file, resolved against the world's directory.
        path: std::path::PathBuf,
        /// Why it cannot be read.
        source: ReadError,
    },
}

/// Why the text of a file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file system refused.
    #[error("cannot read")]
    Io(#[source] std::io::Error),
    /// The file is larger than the limit.
    #[error("file is {len} bytes, over the {limit}-byte limit")]
    TooLarge {
        /// The file's size in bytes.
        len: u64,
        /// The largest size read.
        limit: u64,
    },
    /// The file is not UTF-8 text.
    #[error("file is not UTF-8")]
    NotUtf8,
}

/// The message of a world problem caused by `error`: its text and each cause's, joined by `: `
/// (each error's `Display` says its own layer only).
pub fn problem_message(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// A compiled policy and the warnings found compiling it.
#[derive(Debug, Clone)]
pub struct CompiledPolicy {
    /// The policy.
    pub policy: Arc<Policy>,
    /// Its warnings.
    pub warnings: Arc<[Diagnostic]>,
}

/// A [`Loader`] for worlds that are complete in themselves: inline secrets and documents only.
#[derive(Debug, Clone, Copy, Default)]
pub struct InlineLoader;

impl Loader for InlineLoader {
    fn secret(&self, source: &SecretSourceSpec) -> Result<String, LoaderError> {
        match source {
            SecretSourceSpec {
                value: Some(v),
                env: None,
                file: None,
            } => Ok(v.clone()),
            _ => Err(LoaderError::SecretSourceNeedsFiles),
        }
    }

    fn document_file(&self, path: &str) -> Result<String, LoaderError> {
        Err(LoaderError::PolicyFileNeedsFiles(path.to_owned()))
    }

    fn compile(
        &self,
        text: &str,
        options: &ParseOptions,
    ) -> Result<CompiledPolicy, Vec<Diagnostic>> {
        compile_policy(text, options)
    }
}

/// Compiles a policy without caching.
pub fn compile_policy(
    text: &str,
    options: &ParseOptions,
) -> Result<CompiledPolicy, Vec<Diagnostic>> {
    let compiled = Policy::compile(text, options)?;
    Ok(CompiledPolicy {
        policy: Arc::new(compiled.policy),
        warnings: compiled.warnings.into(),
    })
}

/// One problem with a world: where it is (JSON pointer) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Error (the world is not loaded) or warning.
    pub severity: policy::Severity,
    /// JSON pointer into the world document, e.g. `/services/0/authPolicy/document/Statement/0`.
    pub pointer: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let severity = match self.severity {
            policy::Severity::Error => "error",
            policy::Severity::Warning => "warning",
        };
        write!(f, "{severity}: {}: {}", self.pointer, self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

/// The AWS managed policies the world knows by name.
const AWS_MANAGED: &[(&str, &str)] = &[
    (
        "VPCLatticeServicesInvokeAccess",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["vpc-lattice-svcs:Invoke"],"Resource":"*"}]}"#,
    ),
    (
        "AdministratorAccess",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    ),
];

/// The default policy of a VPC endpoint (iam-policy §1.1).
const FULL_ACCESS_ENDPOINT_POLICY: &str =
    r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#;

/// `NONE` or `AWS_IAM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthType {
    /// No authorization on this side.
    None,
    /// IAM auth: the side's auth policy must allow.
    AwsIam,
}

/// A policy with its name, for explanations.
#[derive(Debug, Clone)]
pub struct NamedPolicy {
    /// Name (or a description such as `auth policy of svc-…`).
    pub name: Arc<str>,
    /// The compiled policy.
    pub policy: Arc<Policy>,
}

/// An organization.
#[derive(Debug)]
pub struct Organization {
    /// `o-…`.
    pub id: Arc<str>,
    /// `r-…`.
    pub root_id: Arc<str>,
    /// The management account, exempt from SCPs and RCPs.
    pub management_account: Option<Arc<str>>,
    /// SCPs, each with the ids it is attached to.
    pub scps: Vec<(NamedPolicy, Vec<Arc<str>>)>,
    /// RCPs, each with the ids it is attached to.
    pub rcps: Vec<(NamedPolicy, Vec<Arc<str>>)>,
}

/// An account and its place in an organization.
#[derive(Debug)]
pub struct Account {
    /// 12-digit id.
    pub id: Arc<str>,
    /// Index into [`World::organizations`].
    pub organization: Option<usize>,
    /// OU path `o-…/r-…/ou-…/`.
    pub org_path: Option<Arc<str>>,
    /// Root, OUs, account: the levels guardrails attach to, top first.
    pub levels: Vec<Arc<str>>,
}

/// What kind of IAM identity a principal is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind {
    /// An IAM user with long-term keys (its name is the last part of its ARN).
    User,
    /// A role session.
    AssumedRole {
        /// The role's full ARN (with path).
        role_arn: Arc<str>,
        /// Session name.
        session_name: Arc<str>,
    },
}

/// An authenticated caller the world knows.
#[derive(Debug)]
pub struct Principal {
    /// User or session.
    pub kind: PrincipalKind,
    /// `arn:aws:iam::A:user/u` or `arn:aws:sts::A:assumed-role/R/S`.
    pub arn: Arc<str>,
    /// Account id.
    pub account: Arc<str>,
    /// `aws:userid`, if known.
    pub user_id: Option<Arc<str>>,
    /// Principal tags (role tags overridden by session tags).
    pub tags: Vec<(Arc<str>, Arc<str>)>,
    /// Identity-based policies.
    pub policies: Vec<NamedPolicy>,
    /// Index into [`World::accounts`].
    pub account_index: Option<usize>,
    /// The identity headers, rendered at this principal's first allow and kept: a world of
    /// 100,000 users holds header text only for those that call (about 300 bytes each).
    headers: OnceLock<IdentityHeaders>,
}

/// The identity header values of a principal (lattice-auth §6).
#[derive(Debug)]
pub struct IdentityHeaders {
    /// `x-amzn-lattice-identity`.
    pub identity: Box<str>,
    /// `x-amzn-lattice-identity-tags`.
    pub tags: Box<str>,
}

impl Principal {
    /// A user's name (`aws:username`): the last part of its ARN, after the path.
    pub fn user_name(&self) -> Option<&str> {
        match self.kind {
            PrincipalKind::User => self.arn.rsplit('/').next(),
            PrincipalKind::AssumedRole { .. } => None,
        }
    }

    /// The identity header values, rendered once. `world` must be the world that holds this
    /// principal (its organization and OU path come from there).
    pub fn identity_headers(&self, world: &World) -> &IdentityHeaders {
        self.headers.get_or_init(|| {
            let org = world.org_of(self.account_index);
            let session = match &self.kind {
                PrincipalKind::User => None,
                PrincipalKind::AssumedRole { session_name, .. } => Some(&**session_name),
            };
            IdentityHeaders {
                identity: identity_header(&self.arn, org, session),
                tags: identity_tags_header(&self.arn, org, &self.tags),
            }
        })
    }
}

/// A credential by access key id.
#[derive(Debug)]
struct CredentialEntry {
    secret: Secret,
    session_token: Option<Box<str>>,
    expires_at: Option<SystemTime>,
    principal: usize,
}

/// A VPC.
#[derive(Debug)]
pub struct Vpc {
    /// `vpc-…`.
    pub id: Arc<str>,
    /// Owner account id.
    pub owner: Arc<str>,
    /// Index into [`World::accounts`] of the owner.
    pub owner_index: Option<usize>,
    /// `arn:aws:ec2:<region>:<owner>:vpc/<id>`.
    pub arn: Arc<str>,
    /// Pre-rendered `x-amzn-lattice-network` value.
    pub network_header: Arc<str>,
    /// The service network it is associated with, and the association's security groups.
    pub association: Option<(usize, Vec<usize>)>,
}

/// An inbound rule of a security group.
#[derive(Debug, Clone)]
pub struct IngressRule {
    /// `None`: all protocols and ports; `Some((from, to))`: TCP ports.
    pub ports: Option<(u16, u16)>,
    /// Allowed sources.
    pub sources: Vec<Cidr>,
}

/// A security group.
#[derive(Debug)]
pub struct SecurityGroup {
    /// `sg-…`.
    pub id: Arc<str>,
    /// Inbound rules.
    pub ingress: Vec<IngressRule>,
}

/// A VPC endpoint of type service network.
#[derive(Debug)]
pub struct VpcEndpoint {
    /// `vpce-…`.
    pub id: Arc<str>,
    /// Index into [`World::vpcs`].
    pub vpc: usize,
    /// Index into [`World::networks`].
    pub network: usize,
    /// Endpoint policy (default: full access).
    pub policy: NamedPolicy,
}

/// A service network.
#[derive(Debug)]
pub struct ServiceNetwork {
    /// `sn-…`.
    pub id: Arc<str>,
    /// Name.
    pub name: Arc<str>,
    /// ARN.
    pub arn: Arc<str>,
    /// Owner account.
    pub owner: Arc<str>,
    /// Auth type.
    pub auth_type: AuthType,
    /// Auth policy (inactive when `auth_type` is `NONE`).
    pub auth_policy: Option<NamedPolicy>,
}

/// A service.
#[derive(Debug)]
pub struct Service {
    /// `svc-…`.
    pub id: Arc<str>,
    /// Name.
    pub name: Arc<str>,
    /// ARN (the resource of a request is this plus the path).
    pub arn: Arc<str>,
    /// Owner account.
    pub owner: Arc<str>,
    /// Index into [`World::accounts`] of the owner.
    pub owner_index: Option<usize>,
    /// Generated DNS name.
    pub dns_name: Arc<str>,
    /// Custom domain name.
    pub custom_domain_name: Option<Arc<str>>,
    /// Auth type.
    pub auth_type: AuthType,
    /// Auth policy (inactive when `auth_type` is `NONE`).
    pub auth_policy: Option<NamedPolicy>,
    /// Tags (`aws:ResourceTag/*`).
    pub tags: Vec<(Arc<str>, Arc<str>)>,
}

/// The whole compiled world.
#[derive(Debug)]
pub struct World {
    /// Partition (`aws`).
    pub partition: Arc<str>,
    /// Region.
    pub region: Arc<str>,
    /// Options it was compiled with.
    pub options: WorldOptions,
    /// Organizations.
    pub organizations: Vec<Organization>,
    /// Accounts.
    pub accounts: Vec<Account>,
    account_index: Map<Arc<str>, usize>,
    /// Principals.
    pub principals: Vec<Principal>,
    credentials: Map<Box<str>, CredentialEntry>,
    /// VPCs.
    pub vpcs: Vec<Vpc>,
    vpc_by_address: PrefixMap<usize>,
    /// Security groups.
    pub security_groups: Vec<SecurityGroup>,
    /// VPC endpoints.
    pub endpoints: Vec<VpcEndpoint>,
    endpoint_by_address: Map<IpAddr, usize>,
    endpoint_by_id: Map<Arc<str>, usize>,
    /// Service networks.
    pub networks: Vec<ServiceNetwork>,
    /// Services.
    pub services: Vec<Service>,
    service_by_host: Map<Box<str>, usize>,
    associations: AssociationMap,
    /// Warnings found while building.
    pub warnings: Vec<Problem>,
}

// === impl World: lookups ===

impl World {
    /// The organization id and OU path of account `account` (an index into
    /// [`World::accounts`]), when it belongs to an organization.
    pub fn org_of(&self, account: Option<usize>) -> Option<(&str, &str)> {
        let account = self.accounts.get(account?)?;
        let org = self.organizations.get(account.organization?)?;
        Some((&org.id, account.org_path.as_deref()?))
    }

    /// The service a request's `:authority` names (port removed, case-insensitive).
    pub fn service_by_host(&self, authority: &str) -> Option<usize> {
        let host = host_of(authority);
        if let Some(i) = self.service_by_host.get(host) {
            return Some(*i);
        }
        if host.bytes().any(|b| b.is_ascii_uppercase()) || host.ends_with('.') {
            let lower = host.trim_end_matches('.').to_ascii_lowercase();
            return self.service_by_host.get(lower.as_str()).copied();
        }
        None
    }

    /// The VPC a source address belongs to.
    pub fn vpc_by_address(&self, address: IpAddr) -> Option<usize> {
        self.vpc_by_address.lookup(address).copied()
    }

    /// The endpoint a destination address belongs to.
    pub fn endpoint_by_address(&self, address: IpAddr) -> Option<usize> {
        self.endpoint_by_address
            .get(&super::net::canonical(address))
            .copied()
    }

    /// The endpoint with this id.
    pub fn endpoint_by_id(&self, id: &str) -> Option<usize> {
        self.endpoint_by_id.get(id).copied()
    }

    /// The `x-amzn-lattice-target` value if `service` is associated with `network`.
    pub fn association(&self, network: usize, service: usize) -> Option<&Arc<str>> {
        self.associations.get(&(network, service))
    }

    /// The account with this id.
    pub fn account(&self, id: &str) -> Option<&Account> {
        self.account_index
            .get(id)
            .and_then(|i| self.accounts.get(*i))
    }

    /// Number of credentials (access keys and sessions).
    pub fn credential_count(&self) -> usize {
        self.credentials.len()
    }
}

impl sigv4::CredentialSource for World {
    type Principal = Principal;

    fn credential(&self, access_key_id: &str) -> Option<sigv4::Credential<'_, Principal>> {
        let (key, entry) = self.credentials.get_key_value(access_key_id)?;
        let principal = self.principals.get(entry.principal)?;
        Some(sigv4::Credential {
            access_key_id: key,
            secret: &entry.secret,
            session_token: entry.session_token.as_deref(),
            expires_at: entry.expires_at,
            principal,
        })
    }
}

/// `host[:port]` → `host`; IPv6 literals keep their brackets.
/// (Searched with `memchr` rather than `str`'s char patterns: every Check calls this twice on a
/// name of some 70 bytes, and the generic char searcher cost more than the rest of routing.)
pub(crate) fn host_of(authority: &str) -> &str {
    let bytes = authority.as_bytes();
    if bytes.first() == Some(&b'[') {
        return memchr::memchr(b']', bytes)
            .and_then(|i| authority.get(..=i))
            .unwrap_or(authority);
    }
    match memchr::memrchr(b':', bytes) {
        Some(colon)
            if bytes
                .get(colon + 1..)
                .is_some_and(|port| port.iter().all(u8::is_ascii_digit)) =>
        {
            authority.get(..colon).unwrap_or(authority)
        }
        _ => authority,
    }
}

// === impl World: building ===

impl World {
    /// The built-in example world (`../shared/spec/example-world.md`) as YAML.
    pub const EXAMPLE_YAML: &'static str = include_str!("example_world.yaml");

    /// Compiles a world, reporting every problem at once (errors and warnings).
    pub fn build(
        spec: &WorldSpec,
        options: &WorldOptions,
        loader: &dyn Loader,
    ) -> Result<World, Vec<Problem>> {
        let mut b = Builder {
            loader,
            options,
            problems: Vec::new(),
        };
        let world = b.world(spec);
        let errors = b
            .problems
            .iter()
            .any(|p| p.severity == policy::Severity::Error);
        match world {
            Some(mut world) if !errors => {
                world.warnings = b.problems;
                world.warnings.extend(super::lint::lint(&world, spec));
                Ok(world)
            }
            _ => Err(b.problems),
        }
    }

    /// The built-in example world, compiled.
    pub fn example(options: &WorldOptions) -> Result<World, Vec<Problem>> {
        let spec: WorldSpec = serde_saphyr::from_str(Self::EXAMPLE_YAML).map_err(|e| {
            vec![Problem {
                severity: policy::Severity::Error,
                pointer: String::new(),
                message: format!("built-in world does not parse: {e}"),
                hint: None,
            }]
        })?;
        Self::build(&spec, options, &InlineLoader)
    }
}

struct Builder<'a> {
    loader: &'a dyn Loader,
    options: &'a WorldOptions,
    problems: Vec<Problem>,
}

/// Parses an IAM user or role ARN: (partition, account, kind, path+name).
fn iam_arn<'t>(arn: &'t str, kind: &str) -> Option<(&'t str, &'t str, &'t str)> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let name = resource.strip_prefix(kind)?.strip_prefix('/')?;
    let valid_account = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    let last = name.rsplit('/').next().unwrap_or(name);
    (valid_account && !partition.is_empty() && !last.is_empty())
        .then_some((partition, account, name))
}

/// VPC id → index.
fn vpc_index(vpcs: &[Vpc]) -> Map<Arc<str>, usize> {
    vpcs.iter()
        .enumerate()
        .map(|(i, v)| (v.id.clone(), i))
        .collect()
}

/// Every name (id, ARN, name) of each item → its index; the first item wins a shared name.
fn name_index<'n>(items: impl Iterator<Item = [&'n str; 3]>) -> Map<&'n str, usize> {
    let mut out = Map::default();
    for (i, names) in items.enumerate() {
        for name in names {
            out.entry(name).or_insert(i);
        }
    }
    out
}

fn valid_account(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

fn valid_resource_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|rest| {
        rest.len() == 17
            && rest
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
    })
}

impl Builder<'_> {
    fn error(
        &mut self,
        pointer: impl Into<String>,
        message: impl Into<String>,
        hint: Option<&str>,
    ) {
        self.problems.push(Problem {
            severity: policy::Severity::Error,
            pointer: pointer.into(),
            message: message.into(),
            hint: hint.map(str::to_owned),
        });
    }

    fn warn(&mut self, pointer: impl Into<String>, message: impl Into<String>, hint: Option<&str>) {
        self.problems.push(Problem {
            severity: policy::Severity::Warning,
            pointer: pointer.into(),
            message: message.into(),
            hint: hint.map(str::to_owned),
        });
    }

    fn secret(&mut self, spec: &SecretSpec, pointer: &str) -> Option<String> {
        let resolved = match spec {
            SecretSpec::Inline(value) => Ok(value.clone()),
            SecretSpec::Source(source) => {
                let count = [
                    source.value.is_some(),
                    source.env.is_some(),
                    source.file.is_some(),
                ]
                .iter()
                .filter(|x| **x)
                .count();
                if count == 1 {
                    self.loader.secret(source).map_err(|e| problem_message(&e))
                } else {
                    Err("give exactly one of `value`, `env` or `file`".to_owned())
                }
            }
        };
        match resolved {
            Ok(v) if !v.is_empty() => Some(v),
            Ok(_) => {
                self.error(pointer, "secret is empty", None);
                None
            }
            Err(message) => {
                self.error(pointer, message, None);
                None
            }
        }
    }

    /// The JSON text of a document, from inline text, a mapping, or a file.
    fn document_text(&mut self, doc: &DocumentSpec, pointer: &str) -> Option<String> {
        match (&doc.document, &doc.document_file) {
            (Some(serde_json::Value::String(text)), None) => Some(text.clone()),
            (Some(value @ serde_json::Value::Object(_)), None) => {
                match serde_json::to_string(value) {
                    Ok(text) => Some(text),
                    Err(e) => {
                        self.error(
                            format!("{pointer}/document"),
                            format!("policy cannot be serialised: {e}"),
                            None,
                        );
                        None
                    }
                }
            }
            (Some(_), None) => {
                self.error(
                    format!("{pointer}/document"),
                    "a policy document must be a JSON string or a mapping",
                    None,
                );
                None
            }
            (None, Some(file)) => match self.loader.document_file(file) {
                Ok(text) => Some(text),
                Err(e) => {
                    self.error(format!("{pointer}/documentFile"), problem_message(&e), None);
                    None
                }
            },
            (Some(_), Some(_)) => {
                self.error(
                    pointer,
                    "give either `document` or `documentFile`, not both",
                    None,
                );
                None
            }
            (None, None) => {
                self.error(pointer, "missing `document` (or `documentFile`)", None);
                None
            }
        }
    }

    fn policy(
        &mut self,
        name: &str,
        text: &str,
        kind: PolicyKind,
        max_bytes: usize,
        pointer: &str,
    ) -> Option<NamedPolicy> {
        let options = ParseOptions {
            kind,
            max_bytes,
            bare_account_principal: self.options.bare_account_principal,
            aws_wildcard_matches_anonymous: self.options.aws_wildcard_matches_anonymous,
        };
        match self.loader.compile(text, &options) {
            Ok(compiled) => {
                for w in compiled.warnings.iter() {
                    self.problems.push(diagnostic_problem(w, pointer));
                }
                Some(NamedPolicy {
                    name: name.into(),
                    policy: compiled.policy,
                })
            }
            Err(diagnostics) => {
                self.problems
                    .extend(diagnostics.iter().map(|d| diagnostic_problem(d, pointer)));
                None
            }
        }
    }

    fn doc_policy(
        &mut self,
        name: &str,
        doc: &DocumentSpec,
        kind: PolicyKind,
        max: usize,
        pointer: &str,
    ) -> Option<NamedPolicy> {
        let text = self.document_text(doc, pointer)?;
        self.policy(name, &text, kind, max, &format!("{pointer}/document"))
    }

    fn world(&mut self, spec: &WorldSpec) -> Option<World> {
        let partition: Arc<str> = spec.partition.as_deref().unwrap_or("aws").into();
        let region: Arc<str> = match spec.region.as_deref() {
            Some(r)
                if !r.is_empty()
                    && r.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') =>
            {
                r.into()
            }
            Some(r) => {
                self.error(
                    "/region",
                    format!("`{r}` is not a region name"),
                    Some("e.g. `ap-northeast-1`"),
                );
                return None;
            }
            None => {
                self.error(
                    "/region",
                    "missing `region`",
                    Some("the region this sidecar plays, e.g. `ap-northeast-1`"),
                );
                return None;
            }
        };
        let organizations = self.organizations(spec);
        let (mut accounts, mut account_index) = self.accounts(spec, &organizations);
        let managed = self.managed_policies(spec);
        let (principals, credentials) = self.principals(
            spec,
            &managed,
            &mut accounts,
            &mut account_index,
            &partition,
        );
        let (mut vpcs, vpc_by_address) =
            self.vpcs(spec, &partition, &region, &mut accounts, &mut account_index);
        let (security_groups, sg_index) = self.security_groups(spec, &vpcs);
        let default_owner: Arc<str> = accounts
            .first()
            .map_or_else(|| "000000000000".into(), |a| a.id.clone());
        let services = self.services(
            spec,
            &partition,
            &region,
            &default_owner,
            &mut accounts,
            &mut account_index,
        );
        let mut service_by_host = Map::default();
        for (i, s) in services.iter().enumerate() {
            for host in std::iter::once(&s.dns_name).chain(s.custom_domain_name.iter()) {
                if let Some(other) =
                    service_by_host.insert(host.to_ascii_lowercase().into_boxed_str(), i)
                {
                    let other = services.get(other).map_or("", |o| &*o.id);
                    self.error(
                        format!("/services/{i}"),
                        format!("host `{host}` names both `{other}` and `{}`", s.id),
                        Some("DNS names and custom domain names must be unique"),
                    );
                }
            }
        }
        let (networks, associations) = self.networks(
            spec,
            &partition,
            &region,
            &default_owner,
            &services,
            &mut vpcs,
            &sg_index,
            &security_groups,
        );
        let (endpoints, endpoint_by_address, endpoint_by_id) =
            self.endpoints(spec, &vpcs, &networks);
        Some(World {
            partition,
            region,
            options: self.options.clone(),
            organizations,
            accounts,
            account_index,
            principals,
            credentials,
            vpcs,
            vpc_by_address,
            security_groups,
            endpoints,
            endpoint_by_address,
            endpoint_by_id,
            networks,
            services,
            service_by_host,
            associations,
            warnings: Vec::new(),
        })
    }

    fn organizations(&mut self, spec: &WorldSpec) -> Vec<Organization> {
        let mut out: Vec<Organization> = Vec::new();
        for (i, o) in spec.organizations.iter().enumerate() {
            let p = format!("/organizations/{i}");
            if !o.id.starts_with("o-") || o.id.len() < 4 {
                self.error(
                    format!("{p}/id"),
                    format!("`{}` is not an organization id", o.id),
                    Some("e.g. `o-a1b2c3d4e5`"),
                );
            }
            if !o.root_id.starts_with("r-") {
                self.error(
                    format!("{p}/rootId"),
                    format!("`{}` is not a root id", o.root_id),
                    Some("e.g. `r-ab12`"),
                );
            }
            if out.iter().any(|x| *x.id == *o.id) {
                self.error(
                    format!("{p}/id"),
                    format!("organization `{}` is defined twice", o.id),
                    None,
                );
            }
            let mut scps = Vec::new();
            for (j, g) in o.service_control_policies.iter().enumerate() {
                let gp = format!("{p}/serviceControlPolicies/{j}");
                if let Some(policy) = self.doc_policy(
                    &g.name,
                    &g.document,
                    PolicyKind::ServiceControl,
                    self.options.max_policy_bytes.max(5120),
                    &gp,
                ) {
                    scps.push((
                        policy,
                        g.targets.iter().map(|t| Arc::from(t.as_str())).collect(),
                    ));
                }
            }
            let mut rcps = Vec::new();
            for (j, g) in o.resource_control_policies.iter().enumerate() {
                let gp = format!("{p}/resourceControlPolicies/{j}");
                if let Some(policy) = self.doc_policy(
                    &g.name,
                    &g.document,
                    PolicyKind::ResourceControl,
                    self.options.max_policy_bytes.max(5120),
                    &gp,
                ) {
                    rcps.push((
                        policy,
                        g.targets.iter().map(|t| Arc::from(t.as_str())).collect(),
                    ));
                }
            }
            out.push(Organization {
                id: o.id.as_str().into(),
                root_id: o.root_id.as_str().into(),
                management_account: o.management_account_id.as_deref().map(Arc::from),
                scps,
                rcps,
            });
        }
        out
    }

    fn accounts(
        &mut self,
        spec: &WorldSpec,
        orgs: &[Organization],
    ) -> (Vec<Account>, Map<Arc<str>, usize>) {
        let mut accounts = Vec::new();
        let mut index = Map::default();
        for (i, a) in spec.accounts.iter().enumerate() {
            let p = format!("/accounts/{i}");
            if !valid_account(&a.id) {
                self.error(
                    format!("{p}/id"),
                    format!("`{}` is not a 12-digit account id", a.id),
                    Some("quote it in YAML: \"012345678901\""),
                );
                continue;
            }
            let organization = match &a.organization_id {
                None => None,
                Some(org) => match orgs.iter().position(|o| *o.id == **org) {
                    Some(o) => Some(o),
                    None => {
                        self.error(
                            format!("{p}/organizationId"),
                            format!(
                                "account `{}` names organization `{org}`, which is not defined",
                                a.id
                            ),
                            None,
                        );
                        None
                    }
                },
            };
            let (org_path, levels) = match (organization.and_then(|o| orgs.get(o)), &a.org_path) {
                (Some(org), path) => {
                    let default_path = format!("{}/{}/", org.id, org.root_id);
                    let path = path.clone().unwrap_or(default_path);
                    let mut segments = path.trim_end_matches('/').split('/');
                    let ok = path.ends_with('/')
                        && segments.next() == Some(&*org.id)
                        && segments.next() == Some(&*org.root_id);
                    if !ok {
                        self.error(
                            format!("{p}/orgPath"),
                            format!(
                                "org path `{path}` must start with `{}/{}/` and end with `/`",
                                org.id, org.root_id
                            ),
                            None,
                        );
                    }
                    let mut levels: Vec<Arc<str>> = vec![org.root_id.clone()];
                    levels.extend(segments.filter(|s| !s.is_empty()).map(Arc::from));
                    levels.push(a.id.as_str().into());
                    (Some(Arc::from(path.as_str())), levels)
                }
                (None, Some(_)) => {
                    self.error(
                        format!("{p}/orgPath"),
                        "an org path needs an `organizationId`",
                        None,
                    );
                    (None, Vec::new())
                }
                (None, None) => (None, Vec::new()),
            };
            let id: Arc<str> = a.id.as_str().into();
            if index.insert(id.clone(), accounts.len()).is_some() {
                self.error(
                    format!("{p}/id"),
                    format!("account `{}` is defined twice", a.id),
                    None,
                );
            }
            accounts.push(Account {
                id,
                organization,
                org_path,
                levels,
            });
        }
        (accounts, index)
    }

    fn managed_policies(&mut self, spec: &WorldSpec) -> Map<String, NamedPolicy> {
        let mut out = Map::default();
        for (name, text) in AWS_MANAGED {
            if let Some(p) = self.policy(name, text, PolicyKind::Identity, usize::MAX, "/") {
                out.insert((*name).to_owned(), p);
            }
        }
        for (i, m) in spec.managed_policies.iter().enumerate() {
            let p = format!("/managedPolicies/{i}");
            if out.contains_key(&m.name) {
                self.error(
                    format!("{p}/name"),
                    format!("managed policy `{}` is defined twice", m.name),
                    None,
                );
                continue;
            }
            if let Some(policy) =
                self.doc_policy(&m.name, &m.document, PolicyKind::Identity, 6144, &p)
            {
                out.insert(m.name.clone(), policy);
            }
        }
        out
    }

    fn identity_policies(
        &mut self,
        managed: &Map<String, NamedPolicy>,
        names: &[String],
        inline: &[spec::InlinePolicySpec],
        pointer: &str,
    ) -> Vec<NamedPolicy> {
        let mut out = Vec::new();
        for (j, name) in names.iter().enumerate() {
            // Accept the bare name or a policy ARN (`arn:aws:iam::aws:policy/NAME`).
            let short = name.rsplit('/').next().unwrap_or(name);
            match managed.get(name.as_str()).or_else(|| managed.get(short)) {
                Some(p) => out.push(p.clone()),
                None => self.error(
                    format!("{pointer}/managedPolicies/{j}"),
                    format!("managed policy `{name}` is not defined"),
                    Some("define it under `managedPolicies`, or use an AWS managed policy the sidecar knows: VPCLatticeServicesInvokeAccess, AdministratorAccess"),
                ),
            }
        }
        for (j, p) in inline.iter().enumerate() {
            let ip = format!("{pointer}/policies/{j}");
            if let Some(policy) =
                self.doc_policy(&p.name, &p.document, PolicyKind::Identity, 10_240, &ip)
            {
                out.push(policy);
            }
        }
        out
    }

    fn ensure_account(
        &mut self,
        id: &str,
        accounts: &mut Vec<Account>,
        index: &mut Map<Arc<str>, usize>,
    ) -> usize {
        if let Some(i) = index.get(id) {
            return *i;
        }
        let id: Arc<str> = id.into();
        index.insert(id.clone(), accounts.len());
        accounts.push(Account {
            id,
            organization: None,
            org_path: None,
            levels: Vec::new(),
        });
        accounts.len() - 1
    }

    #[expect(
        clippy::too_many_lines,
        reason = "one pass over users and roles with their keys"
    )]
    fn principals(
        &mut self,
        spec: &WorldSpec,
        managed: &Map<String, NamedPolicy>,
        accounts: &mut Vec<Account>,
        account_index: &mut Map<Arc<str>, usize>,
        partition: &str,
    ) -> (Vec<Principal>, Map<Box<str>, CredentialEntry>) {
        let mut principals = Vec::new();
        let mut credentials: Map<Box<str>, CredentialEntry> = Map::default();
        let mut key_owner: Map<String, String> = Map::default();
        let mut seen_arns = HashSet::new();
        let mut add_key =
            |b: &mut Self, akid: &str, pointer: &str, owner: &str, entry: CredentialEntry| {
                let valid = (16..=128).contains(&akid.len())
                    && akid.bytes().all(|c| c.is_ascii_alphanumeric());
                if !valid {
                    b.error(
                        pointer.to_owned(),
                        format!("`{akid}` is not an access key id"),
                        Some("16 to 128 letters and digits, e.g. `AKIAIOSFODNN7EXAMPLE`"),
                    );
                } else if let Some(first) = key_owner.get(akid) {
                    b.error(
                        pointer.to_owned(),
                        format!("access key `{akid}` belongs to both `{first}` and `{owner}`"),
                        None,
                    );
                } else {
                    key_owner.insert(akid.to_owned(), owner.to_owned());
                    credentials.insert(akid.into(), entry);
                }
            };
        for (i, u) in spec.users.iter().enumerate() {
            let p = format!("/users/{i}");
            let Some((arn_partition, account, _)) = iam_arn(&u.arn, "user") else {
                self.error(
                    format!("{p}/arn"),
                    format!("`{}` is not an IAM user ARN", u.arn),
                    Some("arn:aws:iam::123456789012:user/name"),
                );
                continue;
            };
            if arn_partition != partition {
                self.error(
                    format!("{p}/arn"),
                    format!("`{}` is not in partition `{partition}`", u.arn),
                    None,
                );
            }
            if !seen_arns.insert(u.arn.clone()) {
                self.error(
                    format!("{p}/arn"),
                    format!("user `{}` is defined twice", u.arn),
                    None,
                );
            }
            let account_i = self.ensure_account(account, accounts, account_index);
            let policies = self.identity_policies(managed, &u.managed_policies, &u.policies, &p);
            let tags: Vec<(Arc<str>, Arc<str>)> = u
                .tags
                .iter()
                .map(|(k, v)| (k.as_str().into(), v.as_str().into()))
                .collect();
            let index = principals.len();
            let owner = accounts.get(account_i);
            // The account's own id, shared: one allocation per account, not per principal.
            let account_id = owner.map_or_else(|| account.into(), |a| a.id.clone());
            let arn: Arc<str> = u.arn.as_str().into();
            principals.push(Principal {
                headers: OnceLock::new(),
                kind: PrincipalKind::User,
                arn,
                account: account_id,
                user_id: u.user_id.as_deref().map(Arc::from),
                tags,
                policies,
                account_index: Some(account_i),
            });
            for (j, k) in u.access_keys.iter().enumerate() {
                let kp = format!("{p}/accessKeys/{j}");
                match k.status.as_deref() {
                    None | Some("Active") => {}
                    Some("Inactive") => continue,
                    Some(other) => {
                        self.error(
                            format!("{kp}/status"),
                            format!("`{other}` is not a key status"),
                            Some("`Active` or `Inactive`"),
                        );
                        continue;
                    }
                }
                let Some(secret) =
                    self.secret(&k.secret_access_key, &format!("{kp}/secretAccessKey"))
                else {
                    continue;
                };
                let entry = CredentialEntry {
                    secret: Secret::new(secret),
                    session_token: None,
                    expires_at: None,
                    principal: index,
                };
                add_key(
                    self,
                    &k.access_key_id,
                    &format!("{kp}/accessKeyId"),
                    &u.arn,
                    entry,
                );
            }
        }
        for (i, r) in spec.roles.iter().enumerate() {
            let p = format!("/roles/{i}");
            let Some((arn_partition, account, path_name)) = iam_arn(&r.arn, "role") else {
                self.error(
                    format!("{p}/arn"),
                    format!("`{}` is not an IAM role ARN", r.arn),
                    Some("arn:aws:iam::123456789012:role/name"),
                );
                continue;
            };
            if arn_partition != partition {
                self.error(
                    format!("{p}/arn"),
                    format!("`{}` is not in partition `{partition}`", r.arn),
                    None,
                );
            }
            if !seen_arns.insert(r.arn.clone()) {
                self.error(
                    format!("{p}/arn"),
                    format!("role `{}` is defined twice", r.arn),
                    None,
                );
            }
            let role_name = path_name.rsplit('/').next().unwrap_or(path_name);
            let account_i = self.ensure_account(account, accounts, account_index);
            let policies = self.identity_policies(managed, &r.managed_policies, &r.policies, &p);
            let role_arn: Arc<str> = r.arn.as_str().into();
            let owner = accounts.get(account_i);
            let account_id: Arc<str> = owner.map_or_else(|| account.into(), |a| a.id.clone());
            for (j, s) in r.sessions.iter().enumerate() {
                let sp = format!("{p}/sessions/{j}");
                let valid_name = (2..=64).contains(&s.session_name.len())
                    && s.session_name
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || b"=,.@-_".contains(&c));
                if !valid_name {
                    self.error(
                        format!("{sp}/sessionName"),
                        format!("`{}` is not a role session name", s.session_name),
                        Some("2 to 64 characters of [A-Za-z0-9=,.@_-]"),
                    );
                    continue;
                }
                let Ok(expires_at) = humantime::parse_rfc3339_weak(&s.expiration) else {
                    self.error(
                        format!("{sp}/expiration"),
                        format!("`{}` is not an RFC 3339 time", s.expiration),
                        Some("e.g. `2099-01-01T00:00:00Z`"),
                    );
                    continue;
                };
                let arn: Arc<str> = format!(
                    "arn:{partition}:sts::{account}:assumed-role/{role_name}/{}",
                    s.session_name
                )
                .into();
                let mut tags: Vec<(Arc<str>, Arc<str>)> = r
                    .tags
                    .iter()
                    .map(|(k, v)| (k.as_str().into(), v.as_str().into()))
                    .collect();
                for (k, v) in &s.tags {
                    tags.retain(|(old, _)| !old.eq_ignore_ascii_case(k));
                    tags.push((k.as_str().into(), v.as_str().into()));
                }
                let index = principals.len();
                principals.push(Principal {
                    headers: OnceLock::new(),
                    kind: PrincipalKind::AssumedRole {
                        role_arn: role_arn.clone(),
                        session_name: s.session_name.as_str().into(),
                    },
                    arn,
                    account: account_id.clone(),
                    user_id: r
                        .role_id
                        .as_deref()
                        .map(|id| Arc::from(format!("{id}:{}", s.session_name))),
                    tags,
                    policies: policies.clone(),
                    account_index: Some(account_i),
                });
                let Some(secret) =
                    self.secret(&s.secret_access_key, &format!("{sp}/secretAccessKey"))
                else {
                    continue;
                };
                let Some(token) = self.secret(&s.session_token, &format!("{sp}/sessionToken"))
                else {
                    continue;
                };
                let entry = CredentialEntry {
                    secret: Secret::new(secret),
                    session_token: Some(token.into_boxed_str()),
                    expires_at: Some(expires_at),
                    principal: index,
                };
                add_key(
                    self,
                    &s.access_key_id,
                    &format!("{sp}/accessKeyId"),
                    &r.arn,
                    entry,
                );
            }
        }
        // Pushing one by one left up to half the capacity unused (100,000 principals in room
        // for 131,072); the world never grows.
        principals.shrink_to_fit();
        (principals, credentials)
    }

    fn vpcs(
        &mut self,
        spec: &WorldSpec,
        partition: &str,
        region: &str,
        accounts: &mut Vec<Account>,
        account_index: &mut Map<Arc<str>, usize>,
    ) -> (Vec<Vpc>, PrefixMap<usize>) {
        let mut vpcs: Vec<Vpc> = Vec::new();
        let mut by_address = PrefixMap::default();
        let mut blocks: Map<Cidr, String> = Map::default();
        let mut seen = HashSet::new();
        for (i, v) in spec.vpcs.iter().enumerate() {
            let p = format!("/vpcs/{i}");
            if !v.vpc_id.starts_with("vpc-") {
                self.error(
                    format!("{p}/vpcId"),
                    format!("`{}` is not a VPC id", v.vpc_id),
                    Some("e.g. `vpc-0a0a0a0a0a0a0a0a0`"),
                );
            }
            if !seen.insert(v.vpc_id.as_str()) {
                self.error(
                    format!("{p}/vpcId"),
                    format!("VPC `{}` is defined twice", v.vpc_id),
                    None,
                );
                continue;
            }
            if !valid_account(&v.owner_id) {
                self.error(
                    format!("{p}/ownerId"),
                    format!("`{}` is not a 12-digit account id", v.owner_id),
                    Some("quote it in YAML"),
                );
            }
            let owner_index = valid_account(&v.owner_id)
                .then(|| self.ensure_account(&v.owner_id, accounts, account_index));
            let index = vpcs.len();
            for (j, c) in v.cidr_blocks.iter().enumerate() {
                match Cidr::parse(c) {
                    Ok(cidr) => {
                        if let Some(other) = blocks.insert(cidr, v.vpc_id.clone()) {
                            self.error(
                                format!("{p}/cidrBlocks/{j}"),
                                format!("CIDR `{cidr}` is in both `{other}` and `{}`", v.vpc_id),
                                None,
                            );
                        }
                        by_address.insert(cidr, index);
                    }
                    Err(e) => self.error(format!("{p}/cidrBlocks/{j}"), e.to_string(), None),
                }
            }
            let arn: Arc<str> = format!(
                "arn:{partition}:ec2:{region}:{}:vpc/{}",
                v.owner_id, v.vpc_id
            )
            .into();
            vpcs.push(Vpc {
                id: v.vpc_id.as_str().into(),
                owner: v.owner_id.as_str().into(),
                owner_index,
                network_header: format!("SourceVpcArn={arn}").into(),
                arn,
                association: None,
            });
        }
        (vpcs, by_address)
    }

    fn security_groups(
        &mut self,
        spec: &WorldSpec,
        vpcs: &[Vpc],
    ) -> (Vec<SecurityGroup>, Map<String, (usize, usize)>) {
        let mut groups = Vec::new();
        let vpc_index = vpc_index(vpcs);
        let mut index = Map::default();
        for (i, g) in spec.security_groups.iter().enumerate() {
            let p = format!("/securityGroups/{i}");
            if !g.group_id.starts_with("sg-") {
                self.error(
                    format!("{p}/groupId"),
                    format!("`{}` is not a security group id", g.group_id),
                    None,
                );
            }
            let Some(vpc) = vpc_index.get(g.vpc_id.as_str()).copied() else {
                self.error(
                    format!("{p}/vpcId"),
                    format!(
                        "security group `{}` is in VPC `{}`, which is not defined",
                        g.group_id, g.vpc_id
                    ),
                    None,
                );
                continue;
            };
            let mut ingress = Vec::new();
            for (j, r) in g.ingress.iter().enumerate() {
                let rp = format!("{p}/ingress/{j}");
                let ports = match (r.ip_protocol.as_str(), r.from_port, r.to_port) {
                    ("-1", _, _) => None,
                    ("tcp" | "6", Some(from), Some(to)) if from <= to => Some((from, to)),
                    ("tcp" | "6", _, _) => {
                        self.error(rp.clone(), "a tcp rule needs `fromPort` <= `toPort`", None);
                        continue;
                    }
                    (other, _, _) => {
                        // Lattice carries HTTP over TCP only: other protocols never match a request.
                        self.warn(
                            format!("{rp}/ipProtocol"),
                            format!("protocol `{other}` never matches a Lattice request"),
                            Some("use `tcp` or `-1`"),
                        );
                        continue;
                    }
                };
                let mut sources = Vec::new();
                for (k, c) in r.cidr_blocks.iter().enumerate() {
                    match Cidr::parse(c) {
                        Ok(cidr) => sources.push(cidr),
                        Err(e) => self.error(format!("{rp}/cidrBlocks/{k}"), e.to_string(), None),
                    }
                }
                ingress.push(IngressRule { ports, sources });
            }
            if index
                .insert(g.group_id.clone(), (groups.len(), vpc))
                .is_some()
            {
                self.error(
                    format!("{p}/groupId"),
                    format!("security group `{}` is defined twice", g.group_id),
                    None,
                );
            }
            groups.push(SecurityGroup {
                id: g.group_id.as_str().into(),
                ingress,
            });
        }
        (groups, index)
    }

    fn auth_type(&mut self, value: &str, pointer: String) -> AuthType {
        match value {
            "AWS_IAM" => AuthType::AwsIam,
            "NONE" => AuthType::None,
            other => {
                self.error(
                    pointer,
                    format!("`{other}` is not an auth type"),
                    Some("`NONE` or `AWS_IAM`"),
                );
                AuthType::AwsIam
            }
        }
    }

    fn services(
        &mut self,
        spec: &WorldSpec,
        partition: &str,
        region: &str,
        default_owner: &Arc<str>,
        accounts: &mut Vec<Account>,
        account_index: &mut Map<Arc<str>, usize>,
    ) -> Vec<Service> {
        let mut out: Vec<Service> = Vec::new();
        let mut seen = HashSet::new();
        for (i, s) in spec.services.iter().enumerate() {
            let p = format!("/services/{i}");
            if !valid_resource_id(&s.id, "svc-") {
                self.error(
                    format!("{p}/id"),
                    format!("`{}` is not a service id", s.id),
                    Some("`svc-` and 17 lowercase letters or digits"),
                );
            }
            let valid_name = !s.name.is_empty()
                && s.name.len() <= 40
                && s.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !s.name.starts_with('-')
                && !s.name.ends_with('-')
                && !s.name.contains("--");
            if !valid_name {
                self.error(
                    format!("{p}/name"),
                    format!("`{}` is not a service name", s.name),
                    Some("3 to 40 of a-z, 0-9 and '-', no leading, trailing or double hyphen"),
                );
            }
            if !seen.insert(s.id.as_str()) {
                self.error(
                    format!("{p}/id"),
                    format!("service `{}` is defined twice", s.id),
                    None,
                );
                continue;
            }
            let owner: Arc<str> = s
                .owner_id
                .as_deref()
                .map_or_else(|| default_owner.clone(), Arc::from);
            if !valid_account(&owner) {
                self.error(
                    format!("{p}/ownerId"),
                    format!("`{owner}` is not a 12-digit account id"),
                    None,
                );
            }
            let owner_index =
                valid_account(&owner).then(|| self.ensure_account(&owner, accounts, account_index));
            let auth_type = self.auth_type(&s.auth_type, format!("{p}/authType"));
            let auth_policy = s.auth_policy.as_ref().and_then(|d| {
                self.doc_policy(
                    &format!("auth policy of {}", s.id),
                    d,
                    PolicyKind::Resource,
                    self.options.max_policy_bytes,
                    &format!("{p}/authPolicy"),
                )
            });
            let digits = s.id.strip_prefix("svc-").unwrap_or(&s.id);
            let dns_name = s.dns_name.clone().unwrap_or_else(|| {
                format!(
                    "{}-{digits}.7d67968.vpc-lattice-svcs.{region}.on.aws",
                    s.name
                )
            });
            out.push(Service {
                arn: format!(
                    "arn:{partition}:vpc-lattice:{region}:{owner}:service/{}",
                    s.id
                )
                .into(),
                id: s.id.as_str().into(),
                name: s.name.as_str().into(),
                owner,
                owner_index,
                dns_name: dns_name.to_ascii_lowercase().into(),
                custom_domain_name: s
                    .custom_domain_name
                    .as_deref()
                    .map(|d| Arc::from(d.to_ascii_lowercase())),
                auth_type,
                auth_policy,
                tags: s
                    .tags
                    .iter()
                    .map(|(k, v)| (k.as_str().into(), v.as_str().into()))
                    .collect(),
            });
        }
        out
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "the pieces built so far, passed explicitly"
    )]
    fn networks(
        &mut self,
        spec: &WorldSpec,
        partition: &str,
        region: &str,
        default_owner: &Arc<str>,
        services: &[Service],
        vpcs: &mut [Vpc],
        sg_index: &Map<String, (usize, usize)>,
        groups: &[SecurityGroup],
    ) -> (Vec<ServiceNetwork>, AssociationMap) {
        let mut out: Vec<ServiceNetwork> = Vec::new();
        let mut seen = HashSet::new();
        let vpc_index = vpc_index(vpcs);
        let service_index = name_index(services.iter().map(|s| [&*s.id, &*s.arn, &*s.name]));
        let mut associations = Map::default();
        for (i, n) in spec.service_networks.iter().enumerate() {
            let p = format!("/serviceNetworks/{i}");
            if !valid_resource_id(&n.id, "sn-") {
                self.error(
                    format!("{p}/id"),
                    format!("`{}` is not a service network id", n.id),
                    Some("`sn-` and 17 lowercase letters or digits"),
                );
            }
            if !seen.insert(n.id.as_str()) || !seen.insert(n.name.as_str()) {
                self.error(
                    format!("{p}/id"),
                    format!("service network `{}` ({}) is defined twice", n.id, n.name),
                    None,
                );
                continue;
            }
            let owner: Arc<str> = n
                .owner_id
                .as_deref()
                .map_or_else(|| default_owner.clone(), Arc::from);
            let arn: Arc<str> = format!(
                "arn:{partition}:vpc-lattice:{region}:{owner}:servicenetwork/{}",
                n.id
            )
            .into();
            let auth_type = self.auth_type(&n.auth_type, format!("{p}/authType"));
            let auth_policy = n.auth_policy.as_ref().and_then(|d| {
                self.doc_policy(
                    &format!("auth policy of {}", n.id),
                    d,
                    PolicyKind::Resource,
                    self.options.max_policy_bytes,
                    &format!("{p}/authPolicy"),
                )
            });
            let index = out.len();
            for (j, a) in n.vpc_associations.iter().enumerate() {
                let ap = format!("{p}/vpcAssociations/{j}");
                let Some(vpc_i) = vpc_index.get(a.vpc_id.as_str()).copied() else {
                    self.error(format!("{ap}/vpcId"), format!("service network `{}` is associated with VPC `{}`, which is not defined", n.id, a.vpc_id), None);
                    continue;
                };
                if a.security_group_ids.len() > MAX_ASSOCIATION_SECURITY_GROUPS {
                    self.error(format!("{ap}/securityGroupIds"), format!("at most {MAX_ASSOCIATION_SECURITY_GROUPS} security groups per association"), None);
                }
                let mut sgs = Vec::new();
                for (k, sg) in a.security_group_ids.iter().enumerate() {
                    match sg_index.get(sg) {
                        Some((g, vpc)) if *vpc == vpc_i => sgs.push(*g),
                        Some(_) => self.error(
                            format!("{ap}/securityGroupIds/{k}"),
                            format!("security group `{sg}` is not in VPC `{}`", a.vpc_id),
                            None,
                        ),
                        None => self.error(
                            format!("{ap}/securityGroupIds/{k}"),
                            format!("security group `{sg}` is not defined"),
                            None,
                        ),
                    }
                }
                let _ = groups;
                let Some(vpc) = vpcs.get_mut(vpc_i) else {
                    continue;
                };
                if let Some((other, _)) = vpc.association {
                    let other = out.get(other).map_or("", |o: &ServiceNetwork| &*o.id);
                    self.error(
                        ap,
                        format!(
                            "VPC `{}` is associated with both `{other}` and `{}`",
                            a.vpc_id, n.id
                        ),
                        Some("a VPC can be associated with one service network"),
                    );
                } else {
                    vpc.association = Some((index, sgs));
                }
            }
            for (j, reference) in n.service_associations.iter().enumerate() {
                match service_index.get(reference.as_str()).copied() {
                    Some(s) => {
                        let service = services.get(s).map_or("", |s| &*s.arn);
                        associations.insert((index, s), Arc::from(format!("ServiceArn={service}; ServiceNetworkArn={arn}")));
                    }
                    None => self.error(
                        format!("{p}/serviceAssociations/{j}"),
                        format!("service network `{}` is associated with service `{reference}`, which is not defined", n.id),
                        None,
                    ),
                }
            }
            out.push(ServiceNetwork {
                id: n.id.as_str().into(),
                name: n.name.as_str().into(),
                arn,
                owner,
                auth_type,
                auth_policy,
            });
        }
        (out, associations)
    }

    #[expect(
        clippy::type_complexity,
        reason = "the endpoint list and its two indexes"
    )]
    fn endpoints(
        &mut self,
        spec: &WorldSpec,
        vpcs: &[Vpc],
        networks: &[ServiceNetwork],
    ) -> (Vec<VpcEndpoint>, Map<IpAddr, usize>, Map<Arc<str>, usize>) {
        let vpc_index = vpc_index(vpcs);
        let network_index = name_index(networks.iter().map(|n| [&*n.id, &*n.arn, &*n.name]));
        let mut out = Vec::new();
        let mut by_address = Map::default();
        let mut by_id = Map::default();
        for (i, e) in spec.vpc_endpoints.iter().enumerate() {
            let p = format!("/vpcEndpoints/{i}");
            if !e.vpc_endpoint_id.starts_with("vpce-") {
                self.error(
                    format!("{p}/vpcEndpointId"),
                    format!("`{}` is not a VPC endpoint id", e.vpc_endpoint_id),
                    None,
                );
            }
            let Some(vpc) = vpc_index.get(e.vpc_id.as_str()).copied() else {
                self.error(
                    format!("{p}/vpcId"),
                    format!(
                        "endpoint `{}` is in VPC `{}`, which is not defined",
                        e.vpc_endpoint_id, e.vpc_id
                    ),
                    None,
                );
                continue;
            };
            let Some(network) = network_index.get(e.service_network.as_str()).copied() else {
                self.error(
                    format!("{p}/serviceNetwork"),
                    format!(
                        "endpoint `{}` names service network `{}`, which is not defined",
                        e.vpc_endpoint_id, e.service_network
                    ),
                    None,
                );
                continue;
            };
            let name = format!("endpoint policy of {}", e.vpc_endpoint_id);
            let policy = if e.policy.document.is_none() && e.policy.document_file.is_none() {
                self.policy(
                    &name,
                    FULL_ACCESS_ENDPOINT_POLICY,
                    PolicyKind::Resource,
                    MAX_ENDPOINT_POLICY_BYTES,
                    &p,
                )
            } else {
                self.doc_policy(
                    &name,
                    &e.policy,
                    PolicyKind::Resource,
                    MAX_ENDPOINT_POLICY_BYTES,
                    &p,
                )
            };
            let Some(policy) = policy else { continue };
            let index = out.len();
            for (j, a) in e.ip_addresses.iter().enumerate() {
                match a.parse::<IpAddr>() {
                    Ok(addr) => {
                        if by_address
                            .insert(super::net::canonical(addr), index)
                            .is_some()
                        {
                            self.error(
                                format!("{p}/ipAddresses/{j}"),
                                format!("address `{a}` belongs to two endpoints"),
                                None,
                            );
                        }
                    }
                    Err(_) => self.error(
                        format!("{p}/ipAddresses/{j}"),
                        format!("`{a}` is not an IP address"),
                        None,
                    ),
                }
            }
            let id: Arc<str> = e.vpc_endpoint_id.as_str().into();
            if by_id.insert(id.clone(), index).is_some() {
                self.error(
                    format!("{p}/vpcEndpointId"),
                    format!("endpoint `{id}` is defined twice"),
                    None,
                );
            }
            out.push(VpcEndpoint {
                id,
                vpc,
                network,
                policy,
            });
        }
        (out, by_address, by_id)
    }
}

fn diagnostic_problem(d: &Diagnostic, pointer: &str) -> Problem {
    let mut message = d.message.clone();
    if let Some(index) = d.statement {
        match &d.sid {
            Some(sid) => message = format!("{message} (statement {index}, Sid `{sid}`)"),
            None => message = format!("{message} (statement {index})"),
        }
    }
    Problem {
        severity: d.severity,
        pointer: format!("{pointer}{}", d.pointer),
        message,
        hint: d.hint.clone(),
    }
}

/// `Principal=…; PrincipalOrgID=…; PrincipalOrgPath=…; SessionName=…; Type=AWS_IAM` (lattice-auth §6).
fn identity_header(arn: &str, org: Option<(&str, &str)>, session: Option<&str>) -> Box<str> {
    let mut out = format!("Principal={arn}");
    if let Some((id, path)) = org {
        out.push_str(&format!("; PrincipalOrgID={id}; PrincipalOrgPath={path}"));
    }
    if let Some(session) = session {
        out.push_str(&format!("; SessionName={session}"));
    }
    out.push_str("; Type=AWS_IAM");
    out.into()
}

/// `principal=…;principalorgid=…;principalorgpath=…;<tag>=<value>` with `;` escaped (lattice-auth §6.1).
fn identity_tags_header(
    arn: &str,
    org: Option<(&str, &str)>,
    tags: &[(Arc<str>, Arc<str>)],
) -> Box<str> {
    let escape = |s: &str| s.replace(';', "\\;");
    let mut out = format!("principal={}", escape(arn));
    if let Some((id, path)) = org {
        out.push_str(&format!(
            ";principalorgid={};principalorgpath={}",
            escape(id),
            escape(path)
        ));
    }
    for (k, v) in tags {
        out.push_str(&format!(";{}={}", escape(k), escape(v)));
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_of_strips_a_numeric_port_only() {
        for (authority, host) in [
            ("svc.example:8443", "svc.example"),
            ("svc.example", "svc.example"),
            ("svc.example:", "svc.example"),
            ("svc.example:8x", "svc.example:8x"),
            ("a:b:80", "a:b"),
            ("[::1]:9000", "[::1]"),
            ("[::1]", "[::1]"),
            ("[::1", "[::1"),
            ("", ""),
            (":80", ""),
        ] {
            assert_eq!(host_of(authority), host, "{authority}");
        }
    }

    fn principal(kind: PrincipalKind, arn: &str) -> Principal {
        Principal {
            kind,
            arn: arn.into(),
            account: "123456789012".into(),
            user_id: None,
            tags: Vec::new(),
            policies: Vec::new(),
            account_index: None,
            headers: OnceLock::new(),
        }
    }

    #[test]
    fn a_user_name_is_the_last_part_of_its_arn_and_a_session_has_none() {
        let plain = principal(PrincipalKind::User, "arn:aws:iam::123456789012:user/alice");
        let pathed = principal(
            PrincipalKind::User,
            "arn:aws:iam::123456789012:user/division/team/bob",
        );
        let session = principal(
            PrincipalKind::AssumedRole {
                role_arn: "arn:aws:iam::123456789012:role/r".into(),
                session_name: "s".into(),
            },
            "arn:aws:sts::123456789012:assumed-role/r/s",
        );
        assert_eq!(plain.user_name(), Some("alice"));
        assert_eq!(pathed.user_name(), Some("bob"));
        assert_eq!(session.user_name(), None);
    }
}
