//! The vocabulary of a decision: the request as the decision reads it, the caller, the layers and
//! their outcomes, the reasons, the trace, the route, and the decision itself with the exact deny
//! bodies (lattice-auth §5) and identity headers (§6) it renders.
//!
//! It owns these types and their rendering; it must not route, authenticate or evaluate (that is
//! `decide`), and it holds no time or I/O.

use std::fmt::{self, Write as _};
use std::net::IpAddr;
use std::sync::Arc;

use smallvec::SmallVec;

use crate::policy::{self, Evaluation, MissReason, Outcome};
use crate::sigv4::{self, CacheOutcome, SigV4Error, SigV4ErrorKind};

use super::net::display_ip;
use super::world::{Principal, Service, ServiceNetwork, Signer, Vpc, VpcEndpoint};

/// The only action of HTTP and gRPC services (lattice-auth §2.7).
pub const INVOKE: &str = "vpc-lattice-svcs:Invoke";

/// Identity headers Lattice sets on allowed requests; client-supplied copies are removed
/// (lattice-auth §6.3).
pub const IDENTITY_HEADERS: [&str; 5] = [
    "x-amzn-lattice-identity",
    "x-amzn-lattice-identity-tags",
    "x-amzn-lattice-network",
    "x-amzn-lattice-target",
    "x-amzn-source-vpc",
];

/// A request, as the decision needs it: borrowed from the caller.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Raw request target: path and query as sent.
    pub target: &'a str,
    /// `:authority` / Host.
    pub authority: &'a str,
    /// `http` or `https` (for `aws:SecureTransport` and the default port).
    pub scheme: &'a str,
    /// All header lines in arrival order, names lower-case.
    pub headers: &'a [sigv4::Header<'a>],
    /// Body, when known.
    pub body: Option<&'a [u8]>,
    /// The client's address: decides its VPC.
    pub source: IpAddr,
    /// The address the client connected to: a VPC endpoint's address routes through it.
    pub destination: Option<IpAddr>,
    /// An explicit VPC endpoint (Envoy `context_extensions`), overriding `destination`.
    pub vpc_endpoint: Option<&'a str>,
}

impl<'a> Request<'a> {
    /// The path without the query (the `RequestPath` and the resource suffix).
    pub fn path(&self) -> &'a str {
        self.target.split_once('?').map_or(self.target, |(p, _)| p)
    }

    pub(super) fn query(&self) -> Option<&'a str> {
        self.target.split_once('?').map(|(_, q)| q)
    }

    /// gRPC requests (content-type `application/grpc*`) are always `POST` and have no query keys.
    pub fn is_grpc(&self) -> bool {
        self.headers
            .iter()
            .find(|h| h.name == "content-type")
            .is_some_and(|h| h.value.starts_with(b"application/grpc"))
    }

    /// The listener port the client addressed: the `:authority` port, else the scheme's default.
    pub fn port(&self) -> u16 {
        let host = super::world::host_of(self.authority);
        self.authority
            .get(host.len()..)
            .and_then(|rest| rest.strip_prefix(':'))
            .and_then(|p| p.parse().ok())
            .unwrap_or(if self.scheme.eq_ignore_ascii_case("https") {
                443
            } else {
                80
            })
    }
}

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Caller<'w> {
    /// Unsigned request.
    Anonymous,
    /// A verified principal, with the credential that signed.
    Signed(Signer<'w>),
    /// A principal asserted by the one asking (`check --as`, `Explain`, `test`), not verified:
    /// never on the Check path.
    Asserted(&'w Principal),
}

impl Caller<'_> {
    /// `anonymous` or the principal's ARN, as deny messages name callers.
    pub fn name(&self) -> &str {
        match self {
            Self::Anonymous => "anonymous",
            Self::Signed(p) => &p.arn,
            Self::Asserted(p) => &p.arn,
        }
    }

    /// The access key that signed, if any (not a secret; safe to log).
    pub fn access_key_id(&self) -> Option<&str> {
        match self {
            Self::Anonymous | Self::Asserted(_) => None,
            Self::Signed(signer) => Some(signer.access_key_id()),
        }
    }

    /// The principal, if signed.
    pub fn principal(&self) -> Option<&Principal> {
        match self {
            Self::Anonymous => None,
            Self::Signed(signer) => Some(signer.principal()),
            Self::Asserted(principal) => Some(principal),
        }
    }
}

/// Allow or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// The request goes to the service.
    Allow,
    /// 403.
    Deny,
}

impl Effect {
    /// `allow` or `deny`, as the answer's metadata and `Explain` spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
        }
    }
}

/// The layers of a decision, in evaluation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layer {
    /// Service lookup, VPC lookup, associations.
    Association,
    /// Security groups on the service-network VPC association.
    SecurityGroup,
    /// SigV4 / SigV4A.
    Authentication,
    /// VPC endpoint policy.
    EndpointPolicy,
    /// Service control policies of the caller's organization.
    ServiceControlPolicy,
    /// Resource control policies of the service owner's organization.
    ResourceControlPolicy,
    /// The service network's auth policy.
    NetworkPolicy,
    /// The service's auth policy.
    ServicePolicy,
    /// The caller's identity-based policies.
    IdentityPolicy,
    /// Allowed: no layer denied.
    None,
}

impl Layer {
    /// Stable lower-case label (metrics, logs, JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Association => "association",
            Self::SecurityGroup => "security_group",
            Self::Authentication => "authentication",
            Self::EndpointPolicy => "endpoint_policy",
            Self::ServiceControlPolicy => "scp",
            Self::ResourceControlPolicy => "rcp",
            Self::NetworkPolicy => "network_policy",
            Self::ServicePolicy => "service_policy",
            Self::IdentityPolicy => "identity_policy",
            Self::None => "none",
        }
    }

    /// How IAM deny messages name the policy type of this layer (IAMDENY).
    fn policy_type(self) -> &'static str {
        match self {
            Self::EndpointPolicy => "VPC endpoint",
            Self::ServiceControlPolicy => "service control",
            Self::ResourceControlPolicy => "resource control",
            Self::NetworkPolicy => "network-based",
            Self::ServicePolicy => "service-based",
            Self::IdentityPolicy => "identity-based",
            Self::Association | Self::SecurityGroup | Self::Authentication | Self::None => "",
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a request was decided as it was: a closed set, safe as a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Allowed.
    Allowed,
    /// No service has the requested host name.
    UnknownService,
    /// The source address is in no VPC.
    UnknownSource,
    /// The VPC is not associated with a network that has the service.
    NotAssociated,
    /// The association's security groups do not admit the source.
    SecurityGroup,
    /// Signature verification failed.
    Signature(SigV4ErrorKind),
    /// An explicit deny in the named layer.
    ExplicitDeny(Layer),
    /// No allow in the named layer.
    NoAllow(Layer),
}

impl Reason {
    /// Every reason label, for pre-registering metrics.
    pub const ALL: &'static [Reason] = &[
        Self::Allowed,
        Self::UnknownService,
        Self::UnknownSource,
        Self::NotAssociated,
        Self::SecurityGroup,
        Self::Signature(SigV4ErrorKind::Malformed),
        Self::Signature(SigV4ErrorKind::Expired),
        Self::Signature(SigV4ErrorKind::Scope),
        Self::Signature(SigV4ErrorKind::UnknownKey),
        Self::Signature(SigV4ErrorKind::ExpiredToken),
        Self::Signature(SigV4ErrorKind::Payload),
        Self::Signature(SigV4ErrorKind::Mismatch),
        Self::NoAllow(Layer::EndpointPolicy),
        Self::NoAllow(Layer::ServiceControlPolicy),
        Self::NoAllow(Layer::NetworkPolicy),
        Self::NoAllow(Layer::ServicePolicy),
        Self::NoAllow(Layer::IdentityPolicy),
        Self::ExplicitDeny(Layer::EndpointPolicy),
        Self::ExplicitDeny(Layer::ServiceControlPolicy),
        Self::ExplicitDeny(Layer::ResourceControlPolicy),
        Self::ExplicitDeny(Layer::NetworkPolicy),
        Self::ExplicitDeny(Layer::ServicePolicy),
        Self::ExplicitDeny(Layer::IdentityPolicy),
    ];

    /// Stable snake_case label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::UnknownService => "unknown_service",
            Self::UnknownSource => "unknown_source",
            Self::NotAssociated => "not_associated",
            Self::SecurityGroup => "security_group",
            Self::Signature(kind) => match kind {
                SigV4ErrorKind::Malformed => "sigv4_malformed",
                SigV4ErrorKind::Expired => "sigv4_expired",
                SigV4ErrorKind::Scope => "sigv4_scope",
                SigV4ErrorKind::UnknownKey => "sigv4_unknown_key",
                SigV4ErrorKind::ExpiredToken => "sigv4_expired_token",
                SigV4ErrorKind::Payload => "sigv4_payload",
                SigV4ErrorKind::Mismatch => "sigv4_mismatch",
            },
            Self::NoAllow(layer) => match layer {
                Layer::EndpointPolicy => "no_endpoint_policy",
                Layer::ServiceControlPolicy => "no_scp",
                Layer::NetworkPolicy => "no_network_policy",
                Layer::ServicePolicy => "no_service_policy",
                _ => "no_identity_policy",
            },
            Self::ExplicitDeny(layer) => match layer {
                Layer::EndpointPolicy => "explicit_deny_endpoint",
                Layer::ServiceControlPolicy => "explicit_deny_scp",
                Layer::ResourceControlPolicy => "explicit_deny_rcp",
                Layer::NetworkPolicy => "explicit_deny_network",
                Layer::ServicePolicy => "explicit_deny_service",
                _ => "explicit_deny_identity",
            },
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one layer said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerOutcome {
    /// The layer allows.
    Allow,
    /// The layer denies explicitly.
    ExplicitDeny,
    /// No statement of the layer applies.
    NoMatch,
    /// The layer does not apply to this request (why).
    Skipped(&'static str),
    /// The layer denies (network checks, signature).
    Deny,
    /// The caller was asserted, not verified (authentication only; never on the Check path).
    Asserted,
}

impl LayerOutcome {
    /// Stable label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::ExplicitDeny => "explicit_deny",
            Self::NoMatch => "no_match",
            Self::Skipped(_) => "skipped",
            Self::Deny => "deny",
            Self::Asserted => "asserted",
        }
    }
}

/// One line of the layered trace.
#[derive(Debug, Clone, Copy)]
pub struct LayerTrace<'w> {
    /// Which layer.
    pub layer: Layer,
    /// What it said.
    pub outcome: LayerOutcome,
    /// The policy evaluated, if any.
    pub policy: Option<&'w str>,
    /// The policy's own evaluation.
    pub evaluation: Option<Evaluation<'w>>,
}

impl<'w> LayerTrace<'w> {
    /// A layer that said `outcome` without a policy of its own.
    const fn bare(layer: Layer, outcome: LayerOutcome) -> Self {
        Self {
            layer,
            outcome,
            policy: None,
            evaluation: None,
        }
    }

    /// A layer passed without a policy (routing, a verified signature).
    pub(super) const fn passed(layer: Layer) -> Self {
        Self::bare(layer, LayerOutcome::Allow)
    }

    /// A layer that denied without a policy (routing, a signature).
    pub(super) const fn denied(layer: Layer) -> Self {
        Self::bare(layer, LayerOutcome::Deny)
    }

    /// The authentication layer of an asserted caller; `note` says who was asserted.
    pub(super) const fn asserted(note: &'w str) -> Self {
        Self {
            layer: Layer::Authentication,
            outcome: LayerOutcome::Asserted,
            policy: Some(note),
            evaluation: None,
        }
    }

    /// A layer that does not apply to this request, and why.
    pub(super) const fn skipped(layer: Layer, why: &'static str) -> Self {
        Self::bare(layer, LayerOutcome::Skipped(why))
    }

    /// A layer without an allow, with what stands in for its policy (if anything).
    pub(super) const fn unmatched(layer: Layer, note: Option<&'w str>) -> Self {
        Self {
            layer,
            outcome: LayerOutcome::NoMatch,
            policy: note,
            evaluation: None,
        }
    }

    /// A layer decided by one policy's evaluation.
    pub(super) fn evaluated(layer: Layer, policy: &'w str, evaluation: Evaluation<'w>) -> Self {
        let outcome = match evaluation.outcome {
            Outcome::Allow => LayerOutcome::Allow,
            Outcome::ExplicitDeny => LayerOutcome::ExplicitDeny,
            Outcome::NoMatch => LayerOutcome::NoMatch,
        };
        Self {
            layer,
            outcome,
            policy: Some(policy),
            evaluation: Some(evaluation),
        }
    }
}

impl fmt::Display for LayerTrace<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let LayerOutcome::Skipped(why) = self.outcome {
            return f.write_str(why);
        }
        if let Some(policy) = self.policy {
            f.write_str(policy)?;
            if self.evaluation.is_some() {
                f.write_str(": ")?;
            }
        }
        let Some(e) = self.evaluation else {
            return Ok(());
        };
        let statement = |f: &mut fmt::Formatter<'_>, s: policy::StatementRef<'_>| match s.sid {
            Some(sid) => write!(f, "statement {} (Sid {sid})", s.index),
            None => write!(f, "statement {}", s.index),
        };
        match (e.outcome, e.statement) {
            (Outcome::ExplicitDeny, Some(s)) => {
                f.write_str("denied by ")?;
                statement(f, s)
            }
            (Outcome::Allow, Some(s)) => {
                f.write_str("allowed by ")?;
                statement(f, s)
            }
            _ => {
                f.write_str("no statement applies")?;
                if let Some(miss) = e.miss {
                    f.write_str("; closest is ")?;
                    statement(f, miss.statement)?;
                    match miss.reason {
                        MissReason::Action => f.write_str(", whose Action does not match")?,
                        MissReason::Resource => f.write_str(", whose Resource does not match")?,
                        MissReason::Principal => f.write_str(", whose Principal does not match")?,
                        MissReason::Condition { operator, key } => {
                            write!(f, ", whose condition {operator} on {key} is false")?
                        }
                    }
                }
                Ok(())
            }
        }
    }
}

/// Where the request goes: the result of routing.
#[derive(Debug, Clone, Copy)]
pub struct Route<'w> {
    /// The service.
    pub service: &'w Service,
    /// The network the request comes through.
    pub network: &'w ServiceNetwork,
    /// The caller's VPC.
    pub vpc: &'w Vpc,
    /// The VPC endpoint, when the request comes through one.
    pub endpoint: Option<&'w VpcEndpoint>,
    /// The listener port the client addressed ([`Request::port`], read once per request).
    pub port: u16,
    pub(super) target_header: &'w Arc<str>,
}

/// The result of authentication.
#[derive(Debug, Clone)]
pub struct Authenticated<'w> {
    /// The caller.
    pub caller: Caller<'w>,
    /// Key cache outcome, for metrics.
    pub key_cache: Option<CacheOutcome>,
    /// Signature algorithm.
    pub algorithm: Option<sigv4::Algorithm>,
    /// For an asserted caller: what the trace says of it (`asserted, not verified: …`).
    pub asserted: Option<&'w str>,
}

/// A routing or authentication failure, before any policy ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Failure {
    UnknownService(String),
    UnknownSource(IpAddr),
    VpcNotAssociated {
        vpc: Arc<str>,
    },
    ServiceNotAssociated {
        service: Arc<str>,
        network: Arc<str>,
        vpc: Arc<str>,
    },
    SecurityGroup {
        vpc: Arc<str>,
        network: Arc<str>,
        port: u16,
        source: IpAddr,
    },
    Signature(SigV4Error),
}

/// A decision: effect, one reason, and everything needed to render and explain it.
#[derive(Debug, Clone)]
pub struct Decision<'w> {
    /// Allow or deny.
    pub effect: Effect,
    /// The one reason reported.
    pub reason: Reason,
    /// The deciding layer.
    pub layer: Layer,
    /// The caller (anonymous until authenticated).
    pub caller: Caller<'w>,
    /// Key cache outcome.
    pub key_cache: Option<CacheOutcome>,
    /// The route, when routing succeeded.
    pub route: Option<Route<'w>>,
    /// The request path (resource suffix).
    pub path: &'w str,
    /// Every layer evaluated, in order.
    pub trace: SmallVec<[LayerTrace<'w>; 8]>,
    pub(super) failure: Option<Failure>,
    pub(super) anonymous_type_header: bool,
}

impl<'w> Decision<'w> {
    /// HTTP status Envoy answers with: 200 for allow, 403 for every deny (lattice-auth §11 q12).
    pub fn status(&self) -> u16 {
        match self.effect {
            Effect::Allow => 200,
            Effect::Deny => 403,
        }
    }

    /// The exception name of a deny (`x-amzn-errortype`).
    pub fn exception(&self) -> Option<&'static str> {
        match (&self.effect, &self.failure) {
            (Effect::Allow, _) => None,
            (Effect::Deny, Some(Failure::Signature(e))) => Some(e.exception()),
            (Effect::Deny, _) => Some("AccessDeniedException"),
        }
    }

    /// The exact deny body (lattice-auth §5), or `None` on allow.
    pub fn body(&self) -> Option<String> {
        if self.effect == Effect::Allow {
            return None;
        }
        let Some(failure) = &self.failure else {
            return Some(self.policy_deny_body());
        };
        let mut out = String::with_capacity(256);
        match failure {
            Failure::Signature(e) => {
                let _ = write!(out, "{}: {e}", e.exception());
            }
            Failure::UnknownService(host) => {
                let _ = write!(
                    out,
                    "AccessDeniedException: No VPC Lattice service has the host name '{host}'"
                );
            }
            Failure::UnknownSource(ip) => {
                let _ = write!(
                    out,
                    "AccessDeniedException: Source address {} is not in any VPC",
                    display_ip(*ip)
                );
            }
            Failure::VpcNotAssociated { vpc } => {
                let _ = write!(
                    out,
                    "AccessDeniedException: VPC {vpc} is not associated with a service network"
                );
            }
            Failure::ServiceNotAssociated {
                service,
                network,
                vpc,
            } => {
                let _ = write!(
                    out,
                    "AccessDeniedException: Service {service} is not associated with service network {network}, the service network of VPC {vpc}"
                );
            }
            Failure::SecurityGroup {
                vpc,
                network,
                port,
                source,
            } => {
                let _ = write!(
                    out,
                    "AccessDeniedException: The security groups of the association between VPC {vpc} and service network {network} do not allow TCP port {port} from {}",
                    display_ip(*source)
                );
            }
        }
        Some(out)
    }

    /// The body of a deny by the auth policies, the most frequent deny: its pieces are appended
    /// as they are, without the formatting machinery (a fifth of an anonymous deny's instructions
    /// went there), into a string of exactly their length (one allocation, never grown: with a
    /// service ARN and a path it is longer than any fixed guess short enough to be cheap).
    fn policy_deny_body(&self) -> String {
        let resource = self.route.map_or("", |r| &*r.service.arn);
        let head = [
            "AccessDeniedException: User: ",
            self.caller.name(),
            " is not authorized to perform: ",
            INVOKE,
            " on resource: ",
            resource,
            self.path,
            " ",
        ];
        let tail = match self.reason {
            Reason::ExplicitDeny(layer) => [
                "with an explicit deny in ",
                if layer == Layer::IdentityPolicy {
                    "an "
                } else {
                    "a "
                },
                layer.policy_type(),
                " policy",
                "",
            ],
            _ => [
                "because no ",
                self.layer.policy_type(),
                " policy allows the ",
                INVOKE,
                " action",
            ],
        };
        let pieces = || head.iter().chain(&tail);
        let mut out = String::with_capacity(pieces().map(|p| p.len()).sum());
        pieces().for_each(|p| out.push_str(p));
        out
    }

    /// Identity headers to set upstream on allow (lattice-auth §6), in a fixed order. Anonymous
    /// callers get no identity header, or `Type=NONE` when the world asks for it (§11 q11).
    pub fn identity_headers(&self) -> SmallVec<[(&'static str, &str); 5]> {
        let mut out = SmallVec::new();
        let (Effect::Allow, Some(route)) = (self.effect, self.route) else {
            return out;
        };
        match &self.caller {
            // INVARIANT: `decide` renders them for every signed allow.
            Caller::Signed(signer) => {
                if let Some(headers) = signer.headers.get() {
                    out.push(("x-amzn-lattice-identity", &*headers.identity));
                    out.push(("x-amzn-lattice-identity-tags", &*headers.tags));
                }
            }
            Caller::Asserted(principal) => {
                if let Some(headers) = principal.headers.get() {
                    out.push(("x-amzn-lattice-identity", &*headers.identity));
                    out.push(("x-amzn-lattice-identity-tags", &*headers.tags));
                }
            }
            Caller::Anonymous if self.anonymous_type_header => {
                out.push(("x-amzn-lattice-identity", "Type=NONE"));
            }
            Caller::Anonymous => {}
        }
        out.push(("x-amzn-lattice-network", &*route.vpc.network_header));
        out.push(("x-amzn-lattice-target", route.target_header));
        out.push(("x-amzn-source-vpc", &*route.vpc.id));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(authority: &'a str, scheme: &'a str) -> Request<'a> {
        Request {
            method: "GET",
            target: "/a/b?x=1",
            authority,
            scheme,
            headers: &[],
            body: None,
            source: "127.0.0.1".parse().unwrap(),
            destination: None,
            vpc_endpoint: None,
        }
    }

    #[test]
    fn port_from_authority_or_scheme() {
        assert_eq!(request("svc.example:8443", "http").port(), 8443);
        assert_eq!(request("svc.example", "http").port(), 80);
        assert_eq!(request("svc.example", "https").port(), 443);
        assert_eq!(request("[::1]:9000", "http").port(), 9000);
        assert_eq!(request("svc.example", "http").path(), "/a/b");
    }

    #[test]
    fn reason_labels_are_unique() {
        let mut labels: Vec<_> = Reason::ALL.iter().map(|r| r.as_str()).collect();
        labels.sort_unstable();
        let before = labels.len();
        labels.dedup();
        assert_eq!(before, labels.len());
    }
}
