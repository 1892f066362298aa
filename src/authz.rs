//! The ext_authz service: `CheckRequest` (the protobuf bytes the gRPC service received, read in
//! place by `decode`) → request view → decision → `CheckResponse` (the protobuf bytes it sends,
//! `wire`), one metrics increment and one decision-log line per Check; and the diagnostic
//! `Explain` service.
//!
//! Deny is a successful reply with `PERMISSION_DENIED` and a 403 `DeniedHttpResponse` carrying
//! Lattice's exact text; allow sets the identity headers (removing client-supplied copies);
//! anything that prevents a decision (no world loaded, deadline passed, bytes that are not a
//! `CheckRequest`) is a gRPC error so Envoy fails closed — never an allow (ext-authz §1.4, STYLE
//! rule 7).
//!
//! It must not touch: policy semantics or signature maths (those are `lattice` and `sigv4`).

mod clock;
mod convert;
pub(crate) mod decode;
mod explain;
mod grpc;
mod raw;
mod wire;

use std::sync::Arc;
use std::time::Duration;

use quanta::Instant;

use envoy_types::ext_authz::v3::pb::{CheckRequest, CheckResponse};
use prost::Message as _;
use smallvec::SmallVec;

use crate::lattice::{Authenticated, Decision, Effect, IDENTITY_HEADERS, Phases};
use crate::metrics::{DecisionLabel, GrpcMethod, Metrics};
use crate::sigv4::{CacheOutcome, SigV4Error};
use crate::store::{Snapshot, Store};

pub use clock::{Clock, FixedClock, SystemClock};
pub use convert::{
    InvalidCheckRequest, MAX_HEADER_BYTES, MAX_HEADERS, MAX_TARGET_BYTES, RequestView,
};
pub use decode::{DecodeError, Fault};
pub use explain::{DiagnosticsService, explain};
pub use grpc::AuthorizationServer;
pub use raw::{InvalidRawRequest, MAX_RAW_REQUEST_BYTES, RawRequest};
pub use wire::Answer;

/// Reasons of `decision="error"` and of malformed requests, besides `lattice::Reason`'s.
pub const ERROR_REASONS: &[&str] = &["not_ready", "deadline_exceeded"];
/// Deny reason of a `CheckRequest` that cannot be read.
pub const BAD_REQUEST: &str = "bad_request";
/// The message of every decision line.
const DECIDED: &str = "Authorization decided.";

/// The ext_authz `Authorization` service.
#[derive(Debug, Clone)]
pub struct AuthzService {
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    clock: Arc<dyn Clock>,
    log_allows: bool,
    /// Whether answers carry the decision as dynamic metadata (`dynamic_metadata`).
    dynamic_metadata: bool,
    deadline: Duration,
    /// Where decision lines go without `tracing` (the JSON log format), if installed.
    direct_log: Option<crate::logging::Stdout>,
}

impl AuthzService {
    /// A service answering from `store`'s live snapshot. A check that takes longer than
    /// `deadline` fails with `DEADLINE_EXCEEDED` instead of answering.
    pub fn new(
        store: Arc<Store>,
        metrics: Arc<Metrics>,
        clock: Arc<dyn Clock>,
        log_allows: bool,
        deadline: Duration,
    ) -> Self {
        // The first reading calibrates the TSC against the monotonic clock (about a
        // millisecond): done here, not in the first Check.
        let _ = Instant::now();
        Self {
            store,
            metrics,
            clock,
            log_allows,
            dynamic_metadata: true,
            deadline,
            direct_log: crate::logging::direct(),
        }
    }

    /// Whether answers carry the decision (`decision_id`, `decision`, `reason`, `layer`,
    /// `principal`) as Envoy dynamic metadata, for Envoy's access log. On by default; without it
    /// Envoy has less to take in with every answer (about 8 µs per request through a real
    /// Envoy, README).
    #[must_use]
    pub fn with_dynamic_metadata(mut self, on: bool) -> Self {
        self.dynamic_metadata = on;
        self
    }

    /// Decides one `CheckRequest`, given as the protobuf bytes the gRPC server received: the whole
    /// Check without the transport, answered in the wire form the server sends. Bytes that are
    /// not a `CheckRequest` are an `INTERNAL` error, as a gRPC server's failed decoding is (and
    /// Envoy fails closed).
    // Never inlined: `scripts/count-instructions` counts inside this symbol (one call per Check).
    #[inline(never)]
    pub fn answer(&self, request: &[u8]) -> Result<Answer, tonic::Status> {
        let started = Instant::now();
        let (result, elapsed) = self.check_inner(request, started);
        let code = match &result {
            Ok(_) => tonic::Code::Ok,
            Err(status) => status.code(),
        };
        self.metrics.grpc(GrpcMethod::Check, code, elapsed);
        result
    }

    /// [`AuthzService::answer`] for a prost message, decoded: the `CheckResponse` Envoy reads,
    /// for tests and tools.
    pub fn check_request(&self, request: &CheckRequest) -> Result<CheckResponse, tonic::Status> {
        self.answer(&request.encode_to_vec())?
            .to_message()
            .map_err(|e| {
                tonic::Status::internal(format!("lattice-authz encoded an unreadable answer: {e}"))
            })
    }

    /// The answer and the time it took. The clock is read five times on the way, never more:
    /// each read is the TSC through `quanta` (about 10 ns here, where the vDSO clock takes 25).
    fn check_inner(
        &self,
        request: &[u8],
        started: Instant,
    ) -> (Result<Answer, tonic::Status>, Duration) {
        let Some(snapshot) = self.store.current() else {
            let elapsed = started.elapsed();
            self.metrics
                .check(DecisionLabel::Error, "not_ready", elapsed);
            tracing::warn!(
                message = "Check refused: no world loaded yet.",
                reason = "not_ready"
            );
            let status = tonic::Status::unavailable("lattice-authz has no world loaded yet");
            return (Err(status), elapsed);
        };
        let mut fields = decode::Fields::default();
        if let Err(e) = decode::check_request(request, &mut fields) {
            tracing::warn!(
                message = "Check refused: the CheckRequest cannot be decoded.",
                error = %e
            );
            let status = tonic::Status::internal(format!(
                "lattice-authz cannot decode the CheckRequest: {e}"
            ));
            return (Err(status), started.elapsed());
        }
        let view = match RequestView::try_from(&fields) {
            Ok(view) => view,
            Err(invalid) => return self.bad_request(&invalid, started),
        };
        let lattice_request = view.lattice_request();
        let now = self.clock.now();
        let mut timer = PhaseTimer {
            metrics: &self.metrics,
            signing: None,
            signed: None,
        };
        let decision =
            snapshot
                .world
                .authorize(&snapshot.verifier, &lattice_request, now, &mut timer);
        let decided = Instant::now();
        if let Some(signed) = timer.signed {
            self.metrics.policy_eval(decided.duration_since(signed));
        }
        // INVARIANT: a check that overran its deadline never answers allow (ext-authz §4 item 4).
        let so_far = decided.duration_since(started);
        if so_far > self.deadline {
            self.metrics
                .check(DecisionLabel::Error, "deadline_exceeded", so_far);
            tracing::warn!(
                message = "Check abandoned: deadline exceeded.",
                reason = "deadline_exceeded",
                deadline_us = u64::try_from(self.deadline.as_micros()).unwrap_or(u64::MAX)
            );
            let status = tonic::Status::deadline_exceeded("lattice-authz check deadline exceeded");
            return (Err(status), so_far);
        }
        let mut id_text = uuid::Uuid::encode_buffer();
        let decision_id = new_decision_id(&mut id_text);
        let response = render(&decision, decision_id, self.dynamic_metadata);
        let elapsed = started.elapsed();
        let label = match decision.effect {
            Effect::Allow => DecisionLabel::Allow,
            Effect::Deny => DecisionLabel::Deny,
        };
        self.metrics.check(label, decision.reason.as_str(), elapsed);
        if decision.effect == Effect::Deny || self.log_allows {
            self.log_decision(&decision, label, &view, &snapshot, decision_id, elapsed);
        }
        (Ok(response), elapsed)
    }

    fn bad_request(
        &self,
        invalid: &InvalidCheckRequest,
        started: Instant,
    ) -> (Result<Answer, tonic::Status>, Duration) {
        let body = format!("AccessDeniedException: The request cannot be authorized: {invalid}");
        let mut id_text = uuid::Uuid::encode_buffer();
        let decision_id = new_decision_id(&mut id_text);
        let elapsed = started.elapsed();
        self.metrics
            .check(DecisionLabel::Deny, BAD_REQUEST, elapsed);
        tracing::info!(
            message = DECIDED,
            decision = "deny",
            reason = BAD_REQUEST,
            layer = "request",
            status = 403u16,
            error = %invalid,
            decision_id,
        );
        let metadata = self.dynamic_metadata.then_some(wire::Metadata {
            decision_id,
            decision: "deny",
            reason: BAD_REQUEST,
            layer: "request",
            principal: "anonymous",
        });
        let response = denied(403, "AccessDeniedException", &body, BAD_REQUEST, metadata);
        (Ok(response), elapsed)
    }

    /// One structured line per decision (ext-authz §5.3). Never the Authorization header, the
    /// session token, cookies or signatures; the path without its query.
    fn log_decision(
        &self,
        decision: &Decision<'_>,
        label: DecisionLabel,
        view: &RequestView<'_>,
        snapshot: &Snapshot,
        id: &str,
        elapsed: Duration,
    ) {
        let route = decision.route;
        let principal = decision.caller.name();
        let decision_label = label.as_str();
        let latency_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let service_arn = route.map_or("", |r| &*r.service.arn);
        let service_network_arn = route.map_or("", |r| &*r.network.arn);
        let source_vpc = route.map_or("", |r| &*r.vpc.id);
        match &self.direct_log {
            // The same line as the event below, field for field (pinned by a test).
            Some(out) if tracing::enabled!(tracing::Level::INFO) => {
                out.line(tracing::Level::INFO, module_path!(), |line| {
                    line.str("message", DECIDED)
                        .str("decision", decision_label)
                        .str("reason", decision.reason.as_str())
                        .str("layer", decision.layer.as_str())
                        .u64("status", u64::from(decision.status()))
                        .str("principal", principal)
                        .str("access_key_id", decision.access_key_id.unwrap_or(""))
                        .str("service_arn", service_arn)
                        .str("service_network_arn", service_network_arn)
                        .str("source_vpc", source_vpc)
                        .display("source_ip", view.source)
                        .str("method", view.method)
                        .str("path", decision.path)
                        .str("request_id", view.request_id.unwrap_or(""))
                        .str("decision_id", id)
                        .u64("latency_us", latency_us)
                        .u64("generation", snapshot.generation);
                });
            }
            Some(_) => {}
            None => tracing::info!(
                message = DECIDED,
                decision = decision_label,
                reason = decision.reason.as_str(),
                layer = decision.layer.as_str(),
                status = decision.status(),
                principal,
                access_key_id = decision.access_key_id.unwrap_or(""),
                service_arn,
                service_network_arn,
                source_vpc,
                source_ip = %view.source,
                method = view.method,
                path = decision.path,
                request_id = view.request_id.unwrap_or(""),
                decision_id = id,
                latency_us,
                generation = snapshot.generation,
            ),
        }
        if tracing::event_enabled!(tracing::Level::DEBUG) {
            for (i, t) in decision.trace.iter().enumerate() {
                tracing::debug!(message = "Decision layer.", decision_id = id, step = i, layer = t.layer.as_str(), outcome = t.outcome.as_str(), detail = %t);
            }
        }
    }
}

/// A fresh decision id, as the text that the response and the log line both carry (formatted
/// once per Check, into a buffer from `Uuid::encode_buffer`).
fn new_decision_id(buffer: &mut [u8; 45]) -> &str {
    uuid::Uuid::new_v4().hyphenated().encode_lower(buffer)
}

/// The Check path's [`Phases`]: reads the TSC where authentication starts and ends, and observes
/// the SigV4 histogram (with the key cache's outcome) as soon as authentication ends. The policy
/// evaluation is observed by the caller, from `signed` to the decision.
struct PhaseTimer<'m> {
    metrics: &'m Metrics,
    signing: Option<Instant>,
    /// When a verified authentication ended (anonymous included): policy evaluation follows.
    signed: Option<Instant>,
}

impl Phases for PhaseTimer<'_> {
    #[inline]
    fn authenticating(&mut self) {
        self.signing = Some(Instant::now());
    }

    #[inline]
    fn authenticated(&mut self, outcome: Result<&Authenticated<'_>, &SigV4Error>) {
        let signed = Instant::now();
        let elapsed = self
            .signing
            .map_or(Duration::ZERO, |signing| signed.duration_since(signing));
        match outcome {
            Err(_) => self.metrics.sigv4(elapsed, None),
            Ok(auth) => {
                if let Some(cache) = auth.key_cache {
                    self.metrics
                        .sigv4(elapsed, Some(cache == CacheOutcome::Hit));
                }
                self.signed = Some(signed);
            }
        }
    }
}

fn denied(
    status: u16,
    exception: &str,
    body: &str,
    reason: &str,
    metadata: Option<wire::Metadata<'_>>,
) -> Answer {
    wire::Response {
        status: wire::Status {
            code: tonic::Code::PermissionDenied,
            message: reason,
        },
        http: wire::Http::Denied {
            status,
            headers: [
                ("content-type", "text/plain"),
                ("x-amzn-errortype", exception),
            ],
            body,
        },
        metadata,
    }
    .encode()
}

/// Renders a decision as Envoy's `CheckResponse`, encoded, with the decision as dynamic metadata
/// if `dynamic_metadata`.
pub fn render(decision: &Decision<'_>, id: &str, dynamic_metadata: bool) -> Answer {
    let metadata = dynamic_metadata.then(|| wire::Metadata {
        decision_id: id,
        decision: decision.effect.as_str(),
        reason: decision.reason.as_str(),
        layer: decision.layer.as_str(),
        principal: decision.caller.name(),
    });
    match decision.effect {
        Effect::Deny => denied(
            decision.status(),
            decision.exception().unwrap_or("AccessDeniedException"),
            &decision.body().unwrap_or_default(),
            decision.reason.as_str(),
            metadata,
        ),
        Effect::Allow => {
            let set = decision.identity_headers();
            // Identity headers the answer does not set are removed, so a client cannot send
            // its own (lattice-auth §6.3).
            let mut remove: SmallVec<[&str; 5]> = SmallVec::new();
            remove.extend(
                IDENTITY_HEADERS
                    .iter()
                    .copied()
                    .filter(|h| !set.iter().any(|(k, _)| k == h)),
            );
            wire::Response {
                status: wire::Status {
                    code: tonic::Code::Ok,
                    message: "",
                },
                http: wire::Http::Ok {
                    set: &set,
                    remove: &remove,
                },
                metadata,
            }
            .encode()
        }
    }
}
