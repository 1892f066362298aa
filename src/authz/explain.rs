//! The diagnostic `Explain` service: one request decided by [`World::authorize`] as the Check path
//! decides it, answered with the full layered trace instead of Envoy's `CheckResponse`. It must
//! not log decisions or count them: it is a question about the world, not a request. It may
//! decide as an asserted caller (`as_principal`), which the Check path never does.
//!
//! [`World::authorize`]: crate::lattice::World::authorize

use std::sync::Arc;

use quanta::Instant;

use crate::lattice::{Authentication, Decision, Untimed};
use crate::metrics::{GrpcMethod, Metrics};
use crate::sigv4::Header;
use crate::store::Store;

use super::{BAD_REQUEST, Clock, InvalidCheckRequest, check_bounds};

/// The diagnostic `Explain` service: the full layered trace, no log line, no decision counter.
#[derive(Debug, Clone)]
pub struct DiagnosticsService {
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    clock: Arc<dyn Clock>,
}

impl DiagnosticsService {
    /// A service answering from `store`'s live snapshot.
    pub fn new(store: Arc<Store>, metrics: Arc<Metrics>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            metrics,
            clock,
        }
    }

    /// Explains one request.
    pub fn explain_request(
        &self,
        request: &crate::pb::ExplainRequest,
    ) -> Result<crate::pb::ExplainResponse, tonic::Status> {
        let started = Instant::now();
        let result = self.explain_inner(request);
        let code = result
            .as_ref()
            .map_or_else(tonic::Status::code, |_| tonic::Code::Ok);
        self.metrics
            .grpc(GrpcMethod::Explain, code, started.elapsed());
        result
    }

    fn explain_inner(
        &self,
        request: &crate::pb::ExplainRequest,
    ) -> Result<crate::pb::ExplainResponse, tonic::Status> {
        let snapshot = self
            .store
            .current()
            .ok_or_else(|| tonic::Status::unavailable("lattice-authz has no world loaded yet"))?;
        let crate::pb::ExplainRequest {
            method,
            path,
            authority,
            headers,
            source_ip,
            time,
            body,
            as_principal,
            destination_ip,
        } = request;
        let now = if time.is_empty() {
            self.clock.now()
        } else {
            humantime::parse_rfc3339_weak(time).map_err(|_| {
                tonic::Status::invalid_argument(format!("`{time}` is not an RFC 3339 time"))
            })?
        };
        let source = source_ip.parse().map_err(|_| {
            tonic::Status::invalid_argument(format!("`{source_ip}` is not an IP address"))
        })?;
        let destination = if destination_ip.is_empty() {
            None
        } else {
            Some(destination_ip.parse().map_err(|_| {
                tonic::Status::invalid_argument(format!("`{destination_ip}` is not an IP address"))
            })?)
        };
        let asserted = if as_principal.is_empty() {
            None
        } else {
            Some(
                snapshot
                    .world
                    .asserted(as_principal)
                    .map_err(|e| tonic::Status::invalid_argument(e.to_string()))?,
            )
        };
        let headers: Vec<Header<'_>> = headers
            .iter()
            .map(|h| Header {
                name: &h.name,
                value: &h.value,
            })
            .collect();
        // The bounds the Check path holds a request to: an explanation is the decision.
        if let Err(invalid) = check_bounds(&headers, path) {
            return Ok(explain_refused(&invalid));
        }
        let req = crate::lattice::Request {
            method,
            target: path,
            authority,
            scheme: "http",
            headers: &headers,
            body: (!body.is_empty()).then_some(&body[..]),
            source,
            destination,
            vpc_endpoint: None,
        };
        let authentication = asserted
            .as_ref()
            .map_or(Authentication::Verify, Authentication::Assert);
        let decision =
            snapshot
                .world
                .authorize(&snapshot.verifier, &req, authentication, now, &mut Untimed);
        Ok(explain(&decision))
    }
}

/// The `ExplainResponse` of a decision (also used by `check --json`).
pub fn explain(decision: &Decision<'_>) -> crate::pb::ExplainResponse {
    crate::pb::ExplainResponse {
        decision: decision.effect.as_str().to_owned(),
        status: u32::from(decision.status()),
        body: decision.body().unwrap_or_default(),
        principal: decision.caller.name().to_owned(),
        reason: decision.reason.as_str().to_owned(),
        layer: decision.layer.as_str().to_owned(),
        headers: decision
            .identity_headers()
            .iter()
            .map(|(k, v)| crate::pb::Header {
                name: (*k).to_owned(),
                value: v.as_bytes().to_vec(),
            })
            .collect(),
        trace: decision
            .trace
            .iter()
            .map(|t| crate::pb::LayerTrace {
                layer: t.layer.as_str().to_owned(),
                outcome: t.outcome.as_str().to_owned(),
                detail: t.to_string(),
            })
            .collect(),
    }
}

/// The `ExplainResponse` of a request refused before any decision, as the Check path answers it:
/// a 403 with reason `bad_request` at layer `request` (also used by `check`).
pub fn explain_refused(invalid: &InvalidCheckRequest) -> crate::pb::ExplainResponse {
    crate::pb::ExplainResponse {
        decision: "deny".to_owned(),
        status: 403,
        body: invalid.deny_body(),
        principal: "anonymous".to_owned(),
        reason: BAD_REQUEST.to_owned(),
        layer: "request".to_owned(),
        headers: Vec::new(),
        trace: vec![crate::pb::LayerTrace {
            layer: "request".to_owned(),
            outcome: "deny".to_owned(),
            detail: invalid.to_string(),
        }],
    }
}

#[tonic::async_trait]
impl crate::pb::diagnostics_server::Diagnostics for DiagnosticsService {
    async fn explain(
        &self,
        request: tonic::Request<crate::pb::ExplainRequest>,
    ) -> Result<tonic::Response<crate::pb::ExplainResponse>, tonic::Status> {
        self.explain_request(request.get_ref())
            .map(tonic::Response::new)
    }
}
