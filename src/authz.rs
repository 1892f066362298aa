//! The ext_authz service: `CheckRequest` (the protobuf bytes the gRPC service received, read in
//! place by `proto`) → request view → decision → `CheckResponse` (the protobuf bytes it sends,
//! `proto`), one metrics increment and one decision-log line per Check; and the diagnostic
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
mod explain;
mod grpc;
mod guard;
pub(crate) mod proto;
mod raw;

use std::sync::Arc;
use std::time::Duration;

use quanta::Instant;

use envoy_types::ext_authz::v3::pb::{CheckRequest, CheckResponse};
use prost::Message as _;
use smallvec::SmallVec;

use crate::lattice::{
    Authenticated, Decision, Effect, IDENTITY_HEADERS, Layer, LayerOutcome, LayerTrace, Phases,
    Reason,
};
use crate::metrics::{DecisionLabel, GrpcMethod, Metrics};
use crate::sigv4::{CacheOutcome, SigV4Error};
use crate::store::{Snapshot, Store};

pub use clock::{Clock, FixedClock, SystemClock};
pub use explain::{DiagnosticsService, explain, explain_refused};
pub use grpc::AuthorizationServer;
pub(crate) use guard::GuardLayer;
pub use proto::{
    Answer, DecodeError, Fault, InvalidCheckRequest, MAX_HEADER_BYTES, MAX_HEADERS,
    MAX_TARGET_BYTES, RequestView, check_bounds,
};
pub use raw::{InvalidRawRequest, MAX_RAW_REQUEST_BYTES, RawRequest};

/// Reasons of `decision="error"`: every Check answered with a gRPC error instead of a decision
/// (no world loaded, out of time, shed for lack of capacity, given up before an answer, bytes
/// that never became a `CheckRequest`).
pub const ERROR_REASONS: &[&str] = &[
    "not_ready",
    "deadline_exceeded",
    "overloaded",
    "cancelled",
    "undecodable",
];
/// Deny reason of a `CheckRequest` that cannot be read.
pub const BAD_REQUEST: &str = "bad_request";
/// The message of a Check answered `DEADLINE_EXCEEDED`, by the service or by the guard.
const DEADLINE_EXCEEDED: &str = "lattice-authz check deadline exceeded";
/// The message of every decision line.
const DECIDED: &str = "Authorization decided.";

/// Writes `name: how = value` fields, in order, into a direct [`crate::logging::JsonLine`].
macro_rules! json_fields {
    ($line:ident; $($name:ident: $how:ident = $value:expr),* $(,)?) => {
        $line$(.$how(stringify!($name), $value))*
    };
}

/// Records `name: how = value` fields, in order, as one `tracing` event at `INFO`: the fields of
/// [`json_fields`], for a process without the direct JSON output.
macro_rules! event_fields {
    (; $($name:ident: $how:ident = $value:expr),* $(,)?) => {
        tracing::info!($($name = event_value!($how, $value)),*)
    };
}

/// A field's value as `tracing` records it: `display` through its `Display`, the rest as is.
macro_rules! event_value {
    (display, $value:expr) => {
        tracing::field::display($value)
    };
    ($how:ident, $value:expr) => {
        $value
    };
}

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
    /// Envoy has less to take in with every answer (docs/performance.md measures how much).
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
    /// each read is the TSC through `quanta`, cheaper than the vDSO clock.
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
        let mut fields = proto::Fields::default();
        if let Err(e) = proto::check_request(request, &mut fields) {
            let elapsed = started.elapsed();
            self.metrics
                .check(DecisionLabel::Error, "undecodable", elapsed);
            tracing::warn!(
                message = "Check refused: the CheckRequest cannot be decoded.",
                error = %e
            );
            let status = tonic::Status::internal(format!(
                "lattice-authz cannot decode the CheckRequest: {e}"
            ));
            return (Err(status), elapsed);
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
        let decision = snapshot.world.authorize(
            &snapshot.verifier,
            &lattice_request,
            // The Check path never asserts a caller: only a verified signature names one.
            crate::lattice::Authentication::Verify,
            now,
            &mut timer,
        );
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
            let status = tonic::Status::deadline_exceeded(DEADLINE_EXCEEDED);
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
        let body = invalid.deny_body();
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
        let metadata = self.dynamic_metadata.then_some(proto::Metadata {
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
        let decided_by = deciding(decision);
        let evaluation = decided_by.and_then(|t| t.evaluation);
        let statement = evaluation.and_then(|e| e.statement);
        // The decision line, field by field: the one list that both outputs expand, so that the
        // direct JSON line and the `tracing` event cannot drift apart. A field is `name: how =
        // value`, `how` being how the direct line writes it (`str`, `u64` or `display`); the event
        // records the same types, `display` as `%value`.
        macro_rules! decision_line {
            ($emit:ident!($($target:tt)*)) => {
                $emit!($($target)*;
                    message: str = DECIDED,
                    decision: str = label.as_str(),
                    reason: str = decision.reason.as_str(),
                    layer: str = decision.layer.as_str(),
                    policy: opt_str = evaluation.and(decided_by.and_then(|t| t.policy)),
                    statement: opt_u64 = statement.map(|s| u64::try_from(s.index).unwrap_or(u64::MAX)),
                    sid: opt_str = statement.and_then(|s| s.sid),
                    status: u64 = u64::from(decision.status()),
                    principal: str = decision.caller.name(),
                    access_key_id: str = decision.caller.access_key_id().unwrap_or(""),
                    service_arn: str = route.map_or("", |r| &*r.service.arn),
                    service_network_arn: str = route.map_or("", |r| &*r.network.arn),
                    source_vpc: str = route.map_or("", |r| &*r.vpc.id),
                    source_ip: display = view.source,
                    method: str = view.method,
                    path: str = decision.path,
                    request_id: str = view.request_id.unwrap_or(""),
                    decision_id: str = id,
                    latency_us: u64 = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
                    generation: u64 = snapshot.generation,
                )
            };
        }
        match &self.direct_log {
            Some(out) if tracing::enabled!(tracing::Level::INFO) => {
                out.line(tracing::Level::INFO, module_path!(), |line| {
                    decision_line!(json_fields!(line));
                });
            }
            Some(_) => {}
            None => decision_line!(event_fields!()),
        }
        if tracing::event_enabled!(tracing::Level::DEBUG) {
            for (i, t) in decision.trace.iter().enumerate() {
                tracing::debug!(message = "Decision layer.", decision_id = id, step = i, layer = t.layer.as_str(), outcome = t.outcome.as_str(), detail = %t);
            }
        }
    }
}

/// The layer of the trace that decided, as the decision line names it (`policy`, `statement`,
/// `sid`). A deny: the entry of the deciding layer that gave the reason (its explicit deny, or its
/// lack of an allow). An allow: the resource's own auth policy that allowed — the service's, or
/// the service network's when the service's auth type is `NONE` — as that is the policy its owner
/// writes; `None` when neither is `AWS_IAM`.
fn deciding<'d, 'w>(decision: &'d Decision<'w>) -> Option<&'d LayerTrace<'w>> {
    match decision.effect {
        Effect::Deny => {
            let outcome = match decision.reason {
                Reason::ExplicitDeny(_) => LayerOutcome::ExplicitDeny,
                _ => LayerOutcome::NoMatch,
            };
            decision
                .trace
                .iter()
                .find(|t| t.layer == decision.layer && t.outcome == outcome)
        }
        Effect::Allow => decision.trace.iter().rev().find(|t| {
            matches!(t.layer, Layer::ServicePolicy | Layer::NetworkPolicy)
                && t.outcome == LayerOutcome::Allow
                && t.evaluation.is_some()
        }),
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
    metadata: Option<proto::Metadata<'_>>,
) -> Answer {
    proto::Response {
        status: proto::Status {
            code: tonic::Code::PermissionDenied,
            message: reason,
        },
        http: proto::Http::Denied {
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
    let metadata = dynamic_metadata.then(|| proto::Metadata {
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
            proto::Response {
                status: proto::Status {
                    code: tonic::Code::Ok,
                    message: "",
                },
                http: proto::Http::Ok {
                    set: &set,
                    remove: &remove,
                },
                metadata,
            }
            .encode()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::config::Settings;
    use crate::logging::{JsonLines, Stdout};
    use crate::store::Reload;
    use crate::test_util::{HeaderMode, check_request, sign_lattice};

    const NGINX: &str = "nginx-08c822987a0b6ab7d.7d67968.vpc-lattice-svcs.ap-northeast-1.on.aws";

    /// A decision line without what changes from Check to Check: the time, the decision id and
    /// the latency.
    fn steady(line: &str) -> String {
        let untimed = line.split_once("\"level\"").unwrap().1;
        untimed
            .split(',')
            .map(|field| match field.split_once(':') {
                Some((key @ ("\"decision_id\"" | "\"latency_us\""), _)) => format!("{key}:_"),
                _ => field.to_owned(),
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    #[test]
    fn the_direct_decision_line_is_the_line_the_event_gives() {
        let now = UNIX_EPOCH + Duration::from_secs(1_795_348_800);
        let store = Arc::new(Store::new(Settings::default()));
        assert!(matches!(store.poll(now), Reload::Loaded(..)));
        let metrics = Arc::new(crate::app::new_metrics("test"));
        let service = AuthzService::new(
            store,
            metrics,
            Arc::new(FixedClock(now)),
            true,
            Duration::from_secs(1),
        );
        let (out, written) = Stdout::in_memory();
        let direct = AuthzService {
            direct_log: Some(out.clone()),
            ..service.clone()
        };
        let through_tracing = AuthzService {
            direct_log: None,
            ..service
        };
        let headers = [("user-agent", "curl/7.88.1")];
        let signed = sign_lattice(
            "GET",
            NGINX,
            "/a",
            &headers,
            (
                "AKIAIOSFODNN7EXAMPLE",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                None,
            ),
            "ap-northeast-1",
            now,
        );
        let anonymous = vec![("host".to_owned(), NGINX.to_owned())];
        let requests = [signed, anonymous].map(|headers| {
            check_request(
                "GET",
                "/a",
                &headers,
                "127.0.0.1",
                "127.0.0.1",
                HeaderMode::Raw,
            )
            .encode_to_vec()
        });
        let subscriber = tracing_subscriber::fmt()
            .event_format(JsonLines)
            .with_max_level(tracing::Level::INFO)
            .with_writer(out)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            for request in &requests {
                direct.answer(request).unwrap();
                through_tracing.answer(request).unwrap();
            }
        });
        let text = String::from_utf8(written.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        for pair in lines.chunks(2) {
            assert_eq!(steady(pair[0]), steady(pair[1]));
            assert!(
                pair[0].contains("\"message\":\"Authorization decided.\""),
                "{text}"
            );
        }
        assert_eq!(
            steady(lines[0]),
            ":\"INFO\",\"message\":\"Authorization decided.\",\"decision\":\"allow\",\
             \"reason\":\"allowed\",\"layer\":\"none\",\
             \"policy\":\"auth policy of svc-08c822987a0b6ab7d\",\"statement\":0,\
             \"sid\":\"AllowAliceAccess\",\"status\":200,\
             \"principal\":\"arn:aws:iam::917561075114:user/latticeuser\",\
             \"access_key_id\":\"AKIAIOSFODNN7EXAMPLE\",\
             \"service_arn\":\"arn:aws:vpc-lattice:ap-northeast-1:917561075114:service/svc-08c822987a0b6ab7d\",\
             \"service_network_arn\":\"arn:aws:vpc-lattice:ap-northeast-1:917561075114:servicenetwork/sn-0123456789abcdef0\",\
             \"source_vpc\":\"vpc-0a0a0a0a0a0a0a0a0\",\"source_ip\":\"127.0.0.1\",\"method\":\"GET\",\
             \"path\":\"/a\",\"request_id\":\"\",\"decision_id\":_,\"latency_us\":_,\"generation\":1,\
             \"target\":\"lattice_authz::authz\"}"
        );
        // A deny without an allow names the policy that had none, and no statement.
        assert_eq!(
            steady(lines[2]),
            ":\"INFO\",\"message\":\"Authorization decided.\",\"decision\":\"deny\",\
             \"reason\":\"no_service_policy\",\"layer\":\"service_policy\",\
             \"policy\":\"auth policy of svc-08c822987a0b6ab7d\",\"status\":403,\
             \"principal\":\"anonymous\",\"access_key_id\":\"\",\
             \"service_arn\":\"arn:aws:vpc-lattice:ap-northeast-1:917561075114:service/svc-08c822987a0b6ab7d\",\
             \"service_network_arn\":\"arn:aws:vpc-lattice:ap-northeast-1:917561075114:servicenetwork/sn-0123456789abcdef0\",\
             \"source_vpc\":\"vpc-0a0a0a0a0a0a0a0a0\",\"source_ip\":\"127.0.0.1\",\"method\":\"GET\",\
             \"path\":\"/a\",\"request_id\":\"\",\"decision_id\":_,\"latency_us\":_,\"generation\":1,\
             \"target\":\"lattice_authz::authz\"}"
        );
    }
}
