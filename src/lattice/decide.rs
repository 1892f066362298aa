//! The layered decision: route the request (service, network, VPC, security groups), authenticate
//! it (SigV4), then evaluate every auth layer in Lattice's order and report one reason with the
//! precedence of lattice-auth §2.10.
//!
//! It owns the orchestration ([`World::authorize`]) and its three steps; the types it speaks in
//! are `decision`'s. It must not read the clock: time comes in as `now`, and phase timings go out
//! through [`Phases`].

use std::time::{SystemTime, UNIX_EPOCH};

use smallvec::SmallVec;

use crate::policy;
use crate::sigv4::{self, SigV4Error, Verified, Verifier};

use super::assert::Authentication;
use super::context::RequestContext;
use super::decision::{
    Authenticated, Caller, Decision, Effect, Failure, INVOKE, Layer, LayerOutcome, LayerTrace,
    Reason, Request, Route,
};
use super::world::{AuthType, NamedPolicy, PrincipalKind, Signer, World, host_of};

/// What [`World::authorize`] tells its caller between its steps, so that the caller can time them
/// with a clock of its own (the decision reads none). Routing ends where authentication starts;
/// policy evaluation starts where a verified authentication ends.
pub trait Phases {
    /// Routing succeeded: authentication starts.
    fn authenticating(&mut self);
    /// Authentication ended with `outcome`; on `Ok`, policy evaluation starts.
    fn authenticated(&mut self, outcome: Result<&Authenticated<'_>, &SigV4Error>);
}

/// [`Phases`] for callers that do not time the steps.
#[derive(Debug, Clone, Copy, Default)]
pub struct Untimed;

impl Phases for Untimed {
    fn authenticating(&mut self) {}

    fn authenticated(&mut self, _outcome: Result<&Authenticated<'_>, &SigV4Error>) {}
}

// === impl World: the decision ===

impl World {
    /// Routes, authenticates and decides one request: the one orchestration of a decision, for
    /// the Check path as for `Explain`, `check` and `test`. `authentication` says whether the
    /// signature is verified (the Check path, always) or the caller asserted. `phases` hears where
    /// each step starts (an asserted caller has no authentication step to time).
    pub fn authorize<'w>(
        &'w self,
        verifier: &Verifier,
        request: &'w Request<'w>,
        authentication: Authentication<'w>,
        now: SystemTime,
        phases: &mut impl Phases,
    ) -> Decision<'w> {
        let route = match self.route(request) {
            Ok(route) => route,
            Err(decision) => return *decision,
        };
        if let Authentication::Assert(asserted) = authentication {
            let auth = Authenticated {
                caller: asserted
                    .principal
                    .as_ref()
                    .map_or(Caller::Anonymous, Caller::Asserted),
                key_cache: None,
                algorithm: None,
                asserted: Some(&asserted.note),
            };
            return self.decide(route, &auth, request, now);
        }
        phases.authenticating();
        let auth = self.authenticate(verifier, request, now);
        phases.authenticated(auth.as_ref());
        // Each arm ends in the call that makes the decision, so that the decision (1.4 KB with
        // its trace) is written where the caller keeps it instead of being copied out.
        match auth {
            Ok(auth) => self.decide(route, &auth, request, now),
            Err(e) => Self::signature_denied(route, request, e),
        }
    }

    fn denied<'w>(
        &'w self,
        request: &'w Request<'w>,
        reason: Reason,
        layer: Layer,
        failure: Failure,
    ) -> Decision<'w> {
        let mut trace = SmallVec::new();
        trace.push(LayerTrace::denied(layer));
        Decision {
            effect: Effect::Deny,
            reason,
            layer,
            caller: Caller::Anonymous,
            key_cache: None,
            route: None,
            path: request.path(),
            trace,
            failure: Some(failure),
            anonymous_type_header: false,
        }
    }

    /// A signature failure after routing: 403 with the AWS text.
    fn signature_denied<'w>(
        route: Route<'w>,
        request: &'w Request<'w>,
        error: SigV4Error,
    ) -> Decision<'w> {
        let mut trace = SmallVec::new();
        trace.push(LayerTrace::passed(Layer::Association));
        trace.push(LayerTrace::denied(Layer::Authentication));
        Decision {
            effect: Effect::Deny,
            reason: Reason::Signature(error.kind()),
            layer: Layer::Authentication,
            caller: Caller::Anonymous,
            key_cache: None,
            route: Some(route),
            path: request.path(),
            trace,
            failure: Some(Failure::Signature(error)),
            anonymous_type_header: false,
        }
    }

    /// The network layer: service by host, VPC by source, association (or VPC endpoint), and the
    /// association's security groups. A request that fails here never reaches Lattice's auth.
    fn route<'w>(&'w self, request: &'w Request<'w>) -> Result<Route<'w>, Box<Decision<'w>>> {
        let Some((service_index, service)) = self
            .service_by_host(request.authority)
            .and_then(|i| Some((i, self.services.get(i)?)))
        else {
            let host = sanitize(host_of(request.authority));
            return Err(Box::new(self.denied(
                request,
                Reason::UnknownService,
                Layer::Association,
                Failure::UnknownService(host),
            )));
        };
        let Some(vpc) = self
            .vpc_by_address(request.source)
            .and_then(|i| self.vpcs.get(i))
        else {
            return Err(Box::new(self.denied(
                request,
                Reason::UnknownSource,
                Layer::Association,
                Failure::UnknownSource(request.source),
            )));
        };
        let endpoint = match request.vpc_endpoint {
            Some(id) => self.endpoint_by_id(id),
            None => request
                .destination
                .and_then(|d| self.endpoint_by_address(d)),
        }
        .and_then(|i| self.endpoints.get(i));
        let (network_index, security_groups) = match (endpoint, &vpc.association) {
            (Some(e), _) => (e.network, &[][..]),
            (None, Some((network, sgs))) => (*network, &sgs[..]),
            (None, None) => {
                let failure = Failure::VpcNotAssociated {
                    vpc: vpc.id.clone(),
                };
                return Err(Box::new(self.denied(
                    request,
                    Reason::NotAssociated,
                    Layer::Association,
                    failure,
                )));
            }
        };
        let Some(network) = self.networks.get(network_index) else {
            let failure = Failure::VpcNotAssociated {
                vpc: vpc.id.clone(),
            };
            return Err(Box::new(self.denied(
                request,
                Reason::NotAssociated,
                Layer::Association,
                failure,
            )));
        };
        let Some(target_header) = self.association(network_index, service_index) else {
            let failure = Failure::ServiceNotAssociated {
                service: service.arn.clone(),
                network: network.arn.clone(),
                vpc: vpc.id.clone(),
            };
            return Err(Box::new(self.denied(
                request,
                Reason::NotAssociated,
                Layer::Association,
                failure,
            )));
        };
        let port = request.port();
        if !security_groups.is_empty() {
            let admitted = security_groups
                .iter()
                .filter_map(|g| self.security_groups.get(*g))
                .any(|g| {
                    g.ingress.iter().any(|rule| {
                        rule.ports
                            .is_none_or(|(from, to)| (from..=to).contains(&port))
                            && rule.sources.iter().any(|c| c.contains(request.source))
                    })
                });
            if !admitted {
                let failure = Failure::SecurityGroup {
                    vpc: vpc.id.clone(),
                    network: network.arn.clone(),
                    port,
                    source: request.source,
                };
                return Err(Box::new(self.denied(
                    request,
                    Reason::SecurityGroup,
                    Layer::SecurityGroup,
                    failure,
                )));
            }
        }
        Ok(Route {
            service,
            network,
            vpc,
            endpoint,
            port,
            target_header,
        })
    }

    /// SigV4 / SigV4A: an unsigned request is anonymous; a bad signature is an error, never
    /// anonymous (lattice-auth §2.5). Signatures are verified even when both sides are `NONE`
    /// (lattice-auth §11 q3).
    fn authenticate<'w>(
        &'w self,
        verifier: &Verifier,
        request: &Request<'w>,
        now: SystemTime,
    ) -> Result<Authenticated<'w>, SigV4Error> {
        let http = sigv4::HttpRequest {
            method: request.method,
            target: request.target,
            authority: request.authority,
            headers: request.headers,
            body: request.body,
        };
        Ok(match verifier.verify(&http, now, self)? {
            Verified::Anonymous => Authenticated {
                caller: Caller::Anonymous,
                key_cache: None,
                algorithm: None,
                asserted: None,
            },
            Verified::Signed(signed) => Authenticated {
                caller: Caller::Signed(signed.credential),
                key_cache: Some(signed.cache),
                algorithm: Some(signed.algorithm),
                asserted: None,
            },
        })
    }

    /// The auth layers, in Lattice's order: VPC endpoint policy, guardrails (SCP, RCP),
    /// service-network policy, service policy, the caller's identity policies.
    #[expect(
        clippy::too_many_lines,
        reason = "one layer after another, in Lattice's order"
    )]
    fn decide<'w>(
        &'w self,
        route: Route<'w>,
        auth: &Authenticated<'w>,
        request: &'w Request<'w>,
        now: SystemTime,
    ) -> Decision<'w> {
        let now_secs = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let context = RequestContext {
            world: self,
            request,
            caller: auth.caller.clone(),
            service: route.service,
            network: route.network,
            vpc: route.vpc,
            endpoint: route.endpoint,
            path: request.path(),
            query: request.query(),
            grpc: request.is_grpc(),
            port: route.port,
            now_secs,
        };
        let resource_buffer;
        let resource: &str = {
            resource_buffer = [&*route.service.arn, context.path].concat();
            &resource_buffer
        };
        let principal = match auth.caller.principal() {
            None => policy::Principal::Anonymous,
            Some(p) => policy::Principal::Aws(policy::AwsIdentity {
                account: &p.account,
                arn: &p.arn,
                role_arn: match &p.kind {
                    PrincipalKind::AssumedRole { role_arn, .. } => Some(role_arn),
                    PrincipalKind::User => None,
                },
                federating_user_arn: None,
            }),
        };
        let policy_request = policy::Request {
            principal,
            action: INVOKE,
            resource,
        };
        // The layers are pushed into the decision's own trace: assembling the trace apart and
        // moving it in at the end was one more 1.2 KB copy per Check. It starts as a deny; only
        // the verdict below, finding no explicit deny and no layer without an allow, allows.
        let mut decision = Decision {
            effect: Effect::Deny,
            reason: Reason::NoAllow(Layer::None),
            layer: Layer::None,
            caller: auth.caller.clone(),
            key_cache: auth.key_cache,
            route: Some(route),
            path: request.path(),
            trace: SmallVec::new(),
            failure: None,
            anonymous_type_header: self.options.anonymous_identity_header,
        };
        let trace = &mut decision.trace;
        trace.push(LayerTrace::passed(Layer::Association));
        trace.push(match (auth.asserted, &auth.caller) {
            (Some(note), _) => LayerTrace::asserted(note),
            (None, Caller::Anonymous) => {
                LayerTrace::skipped(Layer::Authentication, "unsigned request: anonymous caller")
            }
            (None, Caller::Signed(_) | Caller::Asserted(_)) => {
                LayerTrace::passed(Layer::Authentication)
            }
        });

        let evaluate = |layer: Layer, named: &'w NamedPolicy| -> LayerTrace<'w> {
            let evaluation = named.policy.evaluate(&policy_request, &context);
            LayerTrace::evaluated(layer, &named.name, evaluation)
        };

        // The VPC endpoint's policy applies to everything that passes through it.
        if let Some(endpoint) = route.endpoint {
            trace.push(evaluate(Layer::EndpointPolicy, &endpoint.policy));
        }

        let network_iam = route.network.auth_type == AuthType::AwsIam;
        let service_iam = route.service.auth_type == AuthType::AwsIam;
        if network_iam || service_iam {
            // Guardrails: SCPs constrain the caller's account, RCPs the service owner's account.
            if let Some(p) = auth.caller.principal() {
                self.guardrail(
                    Layer::ServiceControlPolicy,
                    p.account_index,
                    trace,
                    &evaluate,
                );
            }
            self.guardrail(
                Layer::ResourceControlPolicy,
                route.service.owner_index,
                trace,
                &evaluate,
            );
            for (iam, layer, policy) in [
                (
                    network_iam,
                    Layer::NetworkPolicy,
                    route.network.auth_policy.as_ref(),
                ),
                (
                    service_iam,
                    Layer::ServicePolicy,
                    route.service.auth_policy.as_ref(),
                ),
            ] {
                match (iam, policy) {
                    (false, _) => trace.push(LayerTrace::skipped(layer, "auth type NONE")),
                    (true, None) => trace.push(LayerTrace::unmatched(
                        layer,
                        Some("auth type AWS_IAM without an auth policy"),
                    )),
                    (true, Some(named)) => trace.push(evaluate(layer, named)),
                }
            }
            // Lattice requires the caller's own identity policies to allow, even within one
            // account (lattice-auth §2.2). Anonymous callers have none to consult.
            match &auth.caller {
                Caller::Anonymous => trace.push(LayerTrace::skipped(
                    Layer::IdentityPolicy,
                    "anonymous caller",
                )),
                Caller::Signed(_) | Caller::Asserted(_) => {
                    let policies = self.identity_policies(&auth.caller);
                    let mut result = LayerTrace::unmatched(Layer::IdentityPolicy, None);
                    for named in policies {
                        let t = evaluate(Layer::IdentityPolicy, named);
                        match t.outcome {
                            LayerOutcome::ExplicitDeny => {
                                result = t;
                                break;
                            }
                            LayerOutcome::Allow if result.outcome != LayerOutcome::Allow => {
                                result = t
                            }
                            LayerOutcome::NoMatch if result.policy.is_none() => result = t,
                            _ => {}
                        }
                    }
                    if policies.is_empty() {
                        result.policy = Some("no identity-based policies attached");
                    }
                    trace.push(result);
                }
            }
        } else {
            trace.push(LayerTrace::skipped(
                Layer::NetworkPolicy,
                "auth type NONE on the service network and the service: no authorization",
            ));
        }

        // One reason (lattice-auth §2.10): the first explicit deny in layer order, else the first
        // layer without an allow.
        let verdict = trace
            .iter()
            .find(|t| t.outcome == LayerOutcome::ExplicitDeny)
            .map(|t| (Reason::ExplicitDeny(t.layer), t.layer))
            .or_else(|| {
                trace
                    .iter()
                    .find(|t| t.outcome == LayerOutcome::NoMatch)
                    .map(|t| (Reason::NoAllow(t.layer), t.layer))
            });
        match verdict {
            Some((reason, layer)) => {
                decision.reason = reason;
                decision.layer = layer;
            }
            None => {
                decision.effect = Effect::Allow;
                decision.reason = Reason::Allowed;
                if let Some(p) = auth.caller.principal() {
                    // Rendered now, read by `Decision::identity_headers`.
                    p.identity_headers(self);
                }
            }
        }
        decision
    }

    /// The identity-based policies of a caller, as this world holds them: a sealed session's are
    /// its role's (its own copy of them lives only as long as the decision, not the world); an
    /// asserted principal's are its own (it lives as long as the decision's borrow).
    pub(crate) fn identity_policies<'w>(&'w self, caller: &Caller<'w>) -> &'w [NamedPolicy] {
        match caller {
            Caller::Anonymous => &[],
            Caller::Asserted(principal) => &principal.policies,
            Caller::Signed(Signer::Listed { principal, .. }) => &principal.policies,
            Caller::Signed(Signer::Sealed(session)) => match &session.principal.kind {
                PrincipalKind::AssumedRole { role_arn, .. } => {
                    self.role(role_arn).map_or(&[], |role| &role.policies)
                }
                PrincipalKind::User => &[],
            },
        }
    }

    /// The guardrail `layer` (`ServiceControlPolicy` on `account`'s path, or
    /// `ResourceControlPolicy`) as it applies to a request that is not a Lattice Invoke (the
    /// STS's): the policy that refuses and its evaluation, or `None` when the guardrail allows.
    ///
    /// SCPs: every level of the caller's account path that has SCPs attached must allow; levels
    /// without attached SCPs keep AWS's default `FullAWSAccess`. RCPs: `RCPFullAWSAccess` is
    /// always attached, so only explicit denies matter. The management account is exempt.
    pub(crate) fn guardrail_refusal<'w>(
        &'w self,
        layer: Layer,
        account: Option<usize>,
        evaluate: &dyn Fn(&'w policy::Policy) -> policy::Evaluation<'w>,
    ) -> Option<(&'w str, policy::Evaluation<'w>)> {
        let mut trace = SmallVec::new();
        self.guardrail(layer, account, &mut trace, &|layer, named| {
            LayerTrace::evaluated(layer, &named.name, evaluate(&named.policy))
        });
        // `guardrail` records a layer only when it refuses.
        let refusal = trace.into_iter().next()?;
        Some((refusal.policy?, refusal.evaluation?))
    }

    fn guardrail<'w>(
        &'w self,
        layer: Layer,
        account: Option<usize>,
        trace: &mut SmallVec<[LayerTrace<'w>; 8]>,
        evaluate: &dyn Fn(Layer, &'w NamedPolicy) -> LayerTrace<'w>,
    ) {
        let Some(account) = account.and_then(|a| self.accounts.get(a)) else {
            return;
        };
        let Some(org) = account.organization.and_then(|o| self.organizations.get(o)) else {
            return;
        };
        if org.management_account.as_deref() == Some(&*account.id) {
            return;
        }
        let policies = if layer == Layer::ServiceControlPolicy {
            &org.scps
        } else {
            &org.rcps
        };
        for level in &account.levels {
            let attached = policies
                .iter()
                .filter(|(_, targets)| targets.iter().any(|t| t == level));
            let mut level_result: Option<LayerTrace<'w>> = None;
            for (named, _) in attached {
                let t = evaluate(layer, named);
                match t.outcome {
                    LayerOutcome::ExplicitDeny => {
                        trace.push(t);
                        return;
                    }
                    LayerOutcome::Allow => level_result = Some(t),
                    _ if level_result.is_none() => level_result = Some(t),
                    _ => {}
                }
            }
            if let Some(mut t) = level_result {
                if layer == Layer::ResourceControlPolicy && t.outcome == LayerOutcome::NoMatch {
                    t.outcome = LayerOutcome::Allow; // RCPFullAWSAccess
                }
                if t.outcome == LayerOutcome::NoMatch {
                    trace.push(t);
                    return;
                }
            }
        }
    }
}

/// Host names echoed in messages: printable ASCII only, at most 253 characters.
fn sanitize(host: &str) -> String {
    host.chars()
        .take(253)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}
