//! The compiled Lattice world: every reference resolved, every policy compiled, every index
//! built. Immutable once built (by `build`); `store` swaps whole worlds.
//!
//! It owns the model's types, the lookups a request makes, the credentials as
//! [`sigv4::CredentialSource`] and the identity header values. It must not read documents or
//! report on them: building and its problems are `build`'s.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use crate::policy::{self, Policy};
use crate::sigv4::{self, Secret};

use super::Map;
use super::net::{Cidr, PrefixMap};
pub use super::sessions::{SealedSession, Sessions};

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
    /// Bound of the cache of opened session tokens, in (estimated) bytes.
    pub session_cache_bytes: u64,
}

impl Default for WorldOptions {
    fn default() -> Self {
        Self {
            max_policy_bytes: policy::DEFAULT_MAX_POLICY_BYTES,
            bare_account_principal: true,
            aws_wildcard_matches_anonymous: true,
            anonymous_identity_header: false,
            session_cache_bytes: super::sessions::DEFAULT_SESSION_CACHE_BYTES,
        }
    }
}

/// (network, service) → pre-rendered `x-amzn-lattice-target` value.
pub(super) type AssociationMap = Map<(usize, usize), Arc<str>>;

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
    /// For a session issued by `lattice-authz sts`: what its token adds to the request context.
    /// (Boxed: a world of users and listed sessions holds none, and a principal is in memory once
    /// per user of a world that may have a hundred thousand.)
    pub token: Option<Box<TokenFacts>>,
    /// The identity headers, rendered at this principal's first allow and kept: a world of
    /// 100,000 users holds header text only for those that call (about 300 bytes each).
    pub(super) headers: OnceLock<IdentityHeaders>,
}

/// What a sealed session's token says beyond its principal: the condition keys only temporary
/// credentials carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenFacts {
    /// `aws:TokenIssueTime`, seconds since the epoch.
    pub issued_at: i64,
    /// `aws:FederatedProvider`: the OIDC provider's ARN, for web identity sessions.
    pub federated_provider: Option<Arc<str>>,
    /// `aws:SourceIdentity`.
    pub source_identity: Option<Arc<str>>,
    /// The session tags marked transitive: a session this one assumes inherits them.
    pub transitive_tags: Vec<(Arc<str>, Arc<str>)>,
}

/// An IAM role: what its sessions share, and what the STS checks before issuing one.
#[derive(Debug)]
pub struct Role {
    /// `arn:aws:iam::A:role/path/name`.
    pub arn: Arc<str>,
    /// The name, without its path.
    pub name: Arc<str>,
    /// The unique id (`AROA…`), if given.
    pub id: Option<Arc<str>>,
    /// Account id.
    pub account: Arc<str>,
    /// Index into [`World::accounts`].
    pub account_index: usize,
    /// Role tags (a session's tags override those with the same key).
    pub tags: Vec<(Arc<str>, Arc<str>)>,
    /// Identity-based policies: every session's.
    pub policies: Vec<NamedPolicy>,
    /// The trust policy; without one, no session is issued.
    pub trust_policy: Option<NamedPolicy>,
    /// Longest session, in seconds.
    pub max_session_duration: u32,
}

/// An IAM OIDC identity provider.
#[derive(Debug)]
pub struct OidcProvider {
    /// The issuer URL, equal to its tokens' `iss`.
    pub url: Arc<str>,
    /// `arn:aws:iam::A:oidc-provider/<url without https://>`.
    pub arn: Arc<str>,
    /// The condition-key prefix: the URL without `https://` (`<prefix>:sub`).
    pub key_prefix: Arc<str>,
    /// Account id.
    pub account: Arc<str>,
    /// The audiences its tokens may name.
    pub client_ids: Vec<Arc<str>>,
    /// The issuer's signing keys.
    pub jwks: crate::tokens::Jwks,
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

/// A credential the world lists, by access key id: a user's access key or a listed session.
#[derive(Debug)]
pub struct CredentialEntry {
    pub(super) secret: Secret,
    pub(super) session_token: Option<Box<str>>,
    pub(super) expires_at: Option<SystemTime>,
    /// Index into [`World::principals`].
    pub(super) principal: usize,
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
    pub(super) account_index: Map<Arc<str>, usize>,
    /// Principals.
    pub principals: Vec<Principal>,
    pub(super) credentials: Map<Box<str>, CredentialEntry>,
    /// VPCs.
    pub vpcs: Vec<Vpc>,
    pub(super) vpc_by_address: PrefixMap<usize>,
    /// Security groups.
    pub security_groups: Vec<SecurityGroup>,
    /// VPC endpoints.
    pub endpoints: Vec<VpcEndpoint>,
    pub(super) endpoint_by_address: Map<IpAddr, usize>,
    pub(super) endpoint_by_id: Map<Arc<str>, usize>,
    /// Service networks.
    pub networks: Vec<ServiceNetwork>,
    /// Services.
    pub services: Vec<Service>,
    pub(super) service_by_host: Map<Box<str>, usize>,
    pub(super) associations: AssociationMap,
    /// Roles.
    pub roles: Vec<Role>,
    pub(super) role_by_arn: Map<Arc<str>, usize>,
    /// OIDC identity providers.
    pub oidc_providers: Vec<OidcProvider>,
    /// The session keys and the sessions opened with them.
    pub sessions: Sessions,
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

    /// The role with this ARN.
    pub fn role(&self, arn: &str) -> Option<&Role> {
        self.role_by_arn.get(arn).and_then(|i| self.roles.get(*i))
    }

    /// The OIDC provider of account `account` whose URL is `issuer`, compared exactly.
    pub fn oidc_provider(&self, account: &str, issuer: &str) -> Option<&OidcProvider> {
        self.oidc_providers
            .iter()
            .find(|p| *p.url == *issuer && *p.account == *account)
    }

    /// Number of credentials (access keys and sessions).
    pub fn credential_count(&self) -> usize {
        self.credentials.len()
    }
}

/// The credential that signed a request and the principal behind it: one the world lists, or a
/// session sealed into its own token.
#[derive(Debug, Clone)]
pub enum Signer<'w> {
    /// A user's access key or a session the world lists.
    Listed {
        /// The access key id, as the world holds it.
        access_key_id: &'w str,
        /// Its secret, token and expiry.
        entry: &'w CredentialEntry,
        /// The principal it names.
        principal: &'w Principal,
    },
    /// A session issued by `lattice-authz sts`, opened from the token the request presented.
    Sealed(Arc<SealedSession>),
}

impl Signer<'_> {
    /// The access key id that signed (not a secret; safe to log).
    pub fn access_key_id(&self) -> &str {
        match self {
            Self::Listed { access_key_id, .. } => access_key_id,
            Self::Sealed(session) => &session.access_key_id,
        }
    }

    /// The principal behind the credential.
    pub fn principal(&self) -> &Principal {
        match self {
            Self::Listed { principal, .. } => principal,
            Self::Sealed(session) => &session.principal,
        }
    }
}

impl std::ops::Deref for Signer<'_> {
    type Target = Principal;

    fn deref(&self) -> &Principal {
        self.principal()
    }
}

impl sigv4::KnownCredential for Signer<'_> {
    fn access_key_id(&self) -> &str {
        Signer::access_key_id(self)
    }

    fn secret(&self) -> &Secret {
        match self {
            Self::Listed { entry, .. } => &entry.secret,
            Self::Sealed(session) => &session.secret,
        }
    }

    fn session_token(&self) -> Option<&[u8]> {
        match self {
            Self::Listed { entry, .. } => entry.session_token.as_deref().map(str::as_bytes),
            Self::Sealed(session) => Some(&session.token),
        }
    }

    fn expires_at(&self) -> Option<SystemTime> {
        match self {
            Self::Listed { entry, .. } => entry.expires_at,
            Self::Sealed(session) => Some(session.expires_at),
        }
    }
}

impl sigv4::CredentialSource for World {
    type Credential<'s> = Signer<'s>;

    fn credential<'s>(
        &'s self,
        access_key_id: &str,
        session_token: Option<&[u8]>,
    ) -> Option<Signer<'s>> {
        if let Some((key, entry)) = self.credentials.get_key_value(access_key_id) {
            let principal = self.principals.get(entry.principal)?;
            return Some(Signer::Listed {
                access_key_id: key,
                entry,
                principal,
            });
        }
        let session = self.sessions.open(self, session_token?)?;
        (*session.access_key_id == *access_key_id).then_some(Signer::Sealed(session))
    }
}

/// A session's tags over its role's: a session tag replaces the role tag with the same key,
/// compared case-insensitively (sts §2.5).
pub(super) fn override_tags<'t>(
    tags: &mut Vec<(Arc<str>, Arc<str>)>,
    session: impl IntoIterator<Item = (&'t str, &'t str)>,
) {
    for (k, v) in session {
        tags.retain(|(old, _)| !old.eq_ignore_ascii_case(k));
        tags.push((k.into(), v.into()));
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
            token: None,
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
