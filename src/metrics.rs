//! Every metric lattice-authz exports: names, help texts, buckets and closed label sets.
//!
//! This module owns the only Prometheus recorder of a server instance (no global recorder, so
//! several servers in one test process keep separate counts) and hands out pre-registered
//! handles: the hot path increments atomics and never builds a label. Label values come from
//! closed enums, never from request data.
//!
//! Duration histograms are our own [`DurationHistogram`]s, rendered after the recorder's text:
//! recording is a bucket search and two relaxed atomic adds. (The exporter's histograms queue
//! every sample with a timestamp, to be folded into buckets later: four of those per Check were
//! a visible share of the whole Check in `benches/check.rs`, and memory grew until the next
//! fold.)
//!
//! The `process_*` families are read from `/proc/self` at scrape time ([`process`], Linux only).
//!
//! It must not touch: decisions (it takes label values, not `Decision`s), I/O (but [`process`]'s
//! reads of `/proc/self`).

pub mod process;

use std::fmt::{self, Write as _};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use metrics::{Counter, Gauge, Key, KeyName, Label, Level, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

/// Histogram buckets, in seconds: 1 µs to 250 ms, fine enough to see microseconds.
pub const BUCKETS: &[f64] = &[
    0.000_001,
    0.000_002_5,
    0.000_005,
    0.000_01,
    0.000_025,
    0.000_05,
    0.000_1,
    0.000_25,
    0.000_5,
    0.001,
    0.002_5,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
];

/// [`BUCKETS`] in nanoseconds, the unit samples are counted in.
const BOUNDS_NS: [u64; BUCKETS.len()] = [
    1_000,
    2_500,
    5_000,
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
];

/// A Prometheus histogram of durations over [`BUCKETS`]: a count per bucket (not cumulative;
/// the last one is `+Inf`) and the sum in nanoseconds. A scrape reads each atomic once and
/// derives the cumulative buckets and the count from the same reads, so they always agree.
#[derive(Debug, Default)]
pub struct DurationHistogram {
    counts: [AtomicU64; BUCKETS.len() + 1],
    sum_ns: AtomicU64,
}

impl DurationHistogram {
    /// Counts one sample.
    pub fn record(&self, elapsed: Duration) {
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        // `le` buckets: the first bound at or above the sample.
        let bucket = BOUNDS_NS.partition_point(|&bound| bound < ns);
        if let Some(count) = self.counts.get(bucket) {
            count.fetch_add(1, Ordering::Relaxed);
        }
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// Appends `name_bucket`, `name_sum` and `name_count` lines for the series with `labels`
    /// (`k="v",…`, or empty).
    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0u64;
        for (i, count) in self.counts.iter().enumerate() {
            cumulative = cumulative.saturating_add(count.load(Ordering::Relaxed));
            let le: &dyn fmt::Display = match BUCKETS.get(i) {
                Some(bound) => bound,
                None => &"+Inf",
            };
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}"
            );
        }
        #[expect(
            clippy::cast_precision_loss,
            reason = "a sum of nanoseconds printed in seconds; f64 keeps 15 digits"
        )]
        let sum = self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        let braced = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braced} {sum}");
        let _ = writeln!(out, "{name}_count{braced} {cumulative}");
    }
}

/// Appends one histogram family: help, type, and each series.
fn render_family(out: &mut String, name: &str, help: &str, series: &[(&str, &DurationHistogram)]) {
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push('\n');
    }
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} histogram");
    for (labels, histogram) in series {
        histogram.render(out, name, labels);
    }
}

/// `lattice_authz_checks_total{decision, reason}`.
pub const CHECKS: &str = "lattice_authz_checks_total";
/// `lattice_authz_check_duration_seconds{decision}`.
pub const CHECK_DURATION: &str = "lattice_authz_check_duration_seconds";
/// `lattice_authz_sigv4_verify_duration_seconds`.
pub const SIGV4_DURATION: &str = "lattice_authz_sigv4_verify_duration_seconds";
/// `lattice_authz_policy_eval_duration_seconds`.
pub const POLICY_DURATION: &str = "lattice_authz_policy_eval_duration_seconds";
/// `lattice_authz_key_cache_requests_total{result}`.
pub const KEY_CACHE: &str = "lattice_authz_key_cache_requests_total";
/// `lattice_authz_policy_cache_requests_total{result}`.
pub const POLICY_CACHE: &str = "lattice_authz_policy_cache_requests_total";
/// `lattice_authz_reloads_total{result}`.
pub const RELOADS: &str = "lattice_authz_reloads_total";
/// `lattice_authz_last_reload_success_timestamp_seconds`.
pub const LAST_RELOAD_SUCCESS: &str = "lattice_authz_last_reload_success_timestamp_seconds";
/// `lattice_authz_last_reload_failure_timestamp_seconds`.
pub const LAST_RELOAD_FAILURE: &str = "lattice_authz_last_reload_failure_timestamp_seconds";
/// `lattice_authz_snapshot_generation`.
pub const SNAPSHOT_GENERATION: &str = "lattice_authz_snapshot_generation";
/// `lattice_authz_build_info{version}`.
pub const BUILD_INFO: &str = "lattice_authz_build_info";
/// `grpc_server_started_total{grpc_type, grpc_service, grpc_method}`.
pub const GRPC_STARTED: &str = "grpc_server_started_total";
/// `grpc_server_handled_total{grpc_type, grpc_service, grpc_method, grpc_code}`.
pub const GRPC_HANDLED: &str = "grpc_server_handled_total";
/// `grpc_server_handling_seconds{grpc_type, grpc_service, grpc_method}`.
pub const GRPC_HANDLING: &str = "grpc_server_handling_seconds";

// === Log output (issue 24) ===

/// `lattice_authz_log_lines_dropped_total`: log lines (nearly all of them decision lines)
/// dropped because standard output did not keep up; read from `logging` at each scrape.
pub const LOG_LINES_DROPPED: &str = "lattice_authz_log_lines_dropped_total";

// === end of log output ===

/// The `decision` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecisionLabel {
    /// Allowed.
    Allow,
    /// Denied (403).
    Deny,
    /// Could not decide: a gRPC error, Envoy fails closed.
    Error,
}

impl DecisionLabel {
    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
            Self::Error => "error",
        }
    }

    fn index(self) -> usize {
        match self {
            Self::Allow => 0,
            Self::Deny => 1,
            Self::Error => 2,
        }
    }
}

/// The gRPC methods the server answers, for `grpc_server_*` labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrpcMethod {
    /// `envoy.service.auth.v3.Authorization/Check`.
    Check,
    /// `lattice_authz.v1.Diagnostics/Explain`.
    Explain,
}

impl GrpcMethod {
    const ALL: [GrpcMethod; 2] = [Self::Check, Self::Explain];

    /// The method a request's path (`/service/method`) calls, if it is one of these.
    pub fn from_path(path: &str) -> Option<Self> {
        let (service, method) = path.strip_prefix('/')?.split_once('/')?;
        Self::ALL
            .into_iter()
            .find(|m| m.parts() == (service, method))
    }

    fn parts(self) -> (&'static str, &'static str) {
        match self {
            Self::Check => ("envoy.service.auth.v3.Authorization", "Check"),
            Self::Explain => ("lattice_authz.v1.Diagnostics", "Explain"),
        }
    }
}

/// gRPC status codes in the Title case of go-grpc-prometheus.
pub const GRPC_CODES: [&str; 17] = [
    "OK",
    "Canceled",
    "Unknown",
    "InvalidArgument",
    "DeadlineExceeded",
    "NotFound",
    "AlreadyExists",
    "PermissionDenied",
    "ResourceExhausted",
    "FailedPrecondition",
    "Aborted",
    "OutOfRange",
    "Unimplemented",
    "Internal",
    "Unavailable",
    "DataLoss",
    "Unauthenticated",
];

#[derive(Debug)]
struct GrpcHandles {
    started: Counter,
    handled: Vec<Counter>,
    /// `grpc_type="unary",grpc_service="…",grpc_method="…"`.
    labels: String,
    handling: DurationHistogram,
}

/// Pre-registered handles for every metric of one server instance.
#[derive(Debug)]
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    checks: Vec<(DecisionLabel, &'static str, Counter)>,
    check_duration: [DurationHistogram; 3],
    sigv4_duration: DurationHistogram,
    policy_duration: DurationHistogram,
    key_cache: [Counter; 2],
    policy_cache: [Counter; 2],
    reloads: [Counter; 2],
    last_reload_success: Gauge,
    last_reload_failure: Gauge,
    snapshot_generation: Gauge,
    grpc: Vec<(GrpcMethod, GrpcHandles)>,
    /// Registered by [`Metrics::register_sts`] when an STS listener starts.
    sts: OnceLock<StsHandles>,
    /// [`LOG_LINES_DROPPED`], set from the process's count at each scrape.
    log_lines_dropped: Counter,
}

const METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

fn key(name: &'static str, labels: &[(&'static str, &'static str)]) -> Key {
    Key::from_parts(
        name,
        labels
            .iter()
            .map(|(k, v)| Label::new(*k, *v))
            .collect::<Vec<_>>(),
    )
}

impl Metrics {
    /// Registers every metric. `deny_reasons` and `error_reasons` are the closed `reason` label
    /// sets (owned by `lattice` and `authz`); every (decision, reason) series exists from the
    /// start at 0, so dashboards and alerts see them before the first event.
    pub fn new(
        deny_reasons: &[&'static str],
        error_reasons: &[&'static str],
        version: &'static str,
    ) -> Self {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let r = &recorder;
        describe(
            r,
            CHECKS,
            Unit::Count,
            "Authorization checks answered, by decision and reason.",
            Kind::Counter,
        );
        describe(
            r,
            KEY_CACHE,
            Unit::Count,
            "Signing-key and public-key cache lookups, by result.",
            Kind::Counter,
        );
        describe(
            r,
            POLICY_CACHE,
            Unit::Count,
            "Compiled-policy cache lookups during reloads, by result.",
            Kind::Counter,
        );
        describe(
            r,
            RELOADS,
            Unit::Count,
            "World reloads, by result.",
            Kind::Counter,
        );
        describe(
            r,
            LAST_RELOAD_SUCCESS,
            Unit::Seconds,
            "Unix time of the last successful world load.",
            Kind::Gauge,
        );
        describe(
            r,
            LAST_RELOAD_FAILURE,
            Unit::Seconds,
            "Unix time of the last failed world load.",
            Kind::Gauge,
        );
        describe(
            r,
            SNAPSHOT_GENERATION,
            Unit::Count,
            "Generation of the world snapshot being served.",
            Kind::Gauge,
        );
        describe(
            r,
            BUILD_INFO,
            Unit::Count,
            "Build information; always 1.",
            Kind::Gauge,
        );
        describe(
            r,
            GRPC_STARTED,
            Unit::Count,
            "gRPC calls started.",
            Kind::Counter,
        );
        describe(
            r,
            GRPC_HANDLED,
            Unit::Count,
            "gRPC calls completed, by status code.",
            Kind::Counter,
        );

        let mut checks = vec![(
            DecisionLabel::Allow,
            "allowed",
            r.register_counter(
                &key(CHECKS, &[("decision", "allow"), ("reason", "allowed")]),
                &METADATA,
            ),
        )];
        for (decision, reasons) in [
            (DecisionLabel::Deny, deny_reasons),
            (DecisionLabel::Error, error_reasons),
        ] {
            for reason in reasons {
                let k = key(
                    CHECKS,
                    &[("decision", decision.as_str()), ("reason", reason)],
                );
                let counter = r.register_counter(&k, &METADATA);
                counter.increment(0);
                checks.push((decision, reason, counter));
            }
        }
        if let Some((_, _, c)) = checks.first() {
            c.increment(0);
        }
        let counter = |name, labels: &[(&'static str, &'static str)]| {
            let c = r.register_counter(&key(name, labels), &METADATA);
            c.increment(0);
            c
        };
        let grpc = GrpcMethod::ALL
            .iter()
            .map(|m| {
                let (service, method) = m.parts();
                let base = [
                    ("grpc_type", "unary"),
                    ("grpc_service", service),
                    ("grpc_method", method),
                ];
                let handled = GRPC_CODES
                    .iter()
                    .map(|code| {
                        r.register_counter(
                            &key(
                                GRPC_HANDLED,
                                &[base[0], base[1], base[2], ("grpc_code", code)],
                            ),
                            &METADATA,
                        )
                    })
                    .collect();
                (
                    *m,
                    GrpcHandles {
                        started: counter(GRPC_STARTED, &base),
                        handled,
                        labels: format!(
                            "grpc_type=\"unary\",grpc_service=\"{service}\",grpc_method=\"{method}\""
                        ),
                        handling: DurationHistogram::default(),
                    },
                )
            })
            .collect();
        r.register_gauge(&key(BUILD_INFO, &[("version", version)]), &METADATA)
            .set(1.0);
        describe(
            r,
            LOG_LINES_DROPPED,
            Unit::Count,
            "Log lines dropped because standard output did not keep up.",
            Kind::Counter,
        );
        let log_lines_dropped = counter(LOG_LINES_DROPPED, &[]);
        Self {
            log_lines_dropped,
            checks,
            check_duration: Default::default(),
            sigv4_duration: DurationHistogram::default(),
            policy_duration: DurationHistogram::default(),
            key_cache: [
                counter(KEY_CACHE, &[("result", "hit")]),
                counter(KEY_CACHE, &[("result", "miss")]),
            ],
            policy_cache: [
                counter(POLICY_CACHE, &[("result", "hit")]),
                counter(POLICY_CACHE, &[("result", "miss")]),
            ],
            reloads: [
                counter(RELOADS, &[("result", "success")]),
                counter(RELOADS, &[("result", "failure")]),
            ],
            last_reload_success: r.register_gauge(&key(LAST_RELOAD_SUCCESS, &[]), &METADATA),
            last_reload_failure: r.register_gauge(&key(LAST_RELOAD_FAILURE, &[]), &METADATA),
            snapshot_generation: r.register_gauge(&key(SNAPSHOT_GENERATION, &[]), &METADATA),
            grpc,
            sts: OnceLock::new(),
            handle,
            recorder,
        }
    }

    /// Counts one answered check: exactly one call per Check.
    pub fn check(&self, decision: DecisionLabel, reason: &str, elapsed: Duration) {
        if let Some((_, _, c)) = self
            .checks
            .iter()
            .find(|(d, r, _)| *d == decision && *r == reason)
        {
            c.increment(1);
        }
        if let Some(h) = self.check_duration.get(decision.index()) {
            h.record(elapsed);
        }
    }

    /// Records one signature verification.
    pub fn sigv4(&self, elapsed: Duration, cache_hit: Option<bool>) {
        self.sigv4_duration.record(elapsed);
        match cache_hit {
            Some(true) => self.key_cache[0].increment(1),
            Some(false) => self.key_cache[1].increment(1),
            None => {}
        }
    }

    /// Records one evaluation of the policy layers.
    pub fn policy_eval(&self, elapsed: Duration) {
        self.policy_duration.record(elapsed);
    }

    /// Records compiled-policy cache results of one reload.
    pub fn policy_cache(&self, hits: u64, misses: u64) {
        self.policy_cache[0].increment(hits);
        self.policy_cache[1].increment(misses);
    }

    /// Records a successful load: generation and time.
    pub fn reload_success(&self, generation: u64, unix_secs: f64) {
        self.reloads[0].increment(1);
        self.last_reload_success.set(unix_secs);
        #[expect(
            clippy::cast_precision_loss,
            reason = "generations stay far below 2^52"
        )]
        self.snapshot_generation.set(generation as f64);
    }

    /// Records a failed load (the previous snapshot keeps serving).
    pub fn reload_failure(&self, unix_secs: f64) {
        self.reloads[1].increment(1);
        self.last_reload_failure.set(unix_secs);
    }

    /// Records one gRPC call.
    pub fn grpc(&self, method: GrpcMethod, code: tonic::Code, elapsed: Duration) {
        let Some((_, h)) = self.grpc.iter().find(|(m, _)| *m == method) else {
            return;
        };
        h.started.increment(1);
        if let Some(c) = h.handled.get(code as usize) {
            c.increment(1);
        }
        h.handling.record(elapsed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        self.log_lines_dropped
            .absolute(crate::logging::dropped_lines());
        let mut out = self.handle.render();
        let decisions = [
            DecisionLabel::Allow,
            DecisionLabel::Deny,
            DecisionLabel::Error,
        ];
        let labels = decisions.map(|d| format!("decision=\"{}\"", d.as_str()));
        let checks: Vec<(&str, &DurationHistogram)> = labels
            .iter()
            .map(String::as_str)
            .zip(&self.check_duration)
            .collect();
        render_family(
            &mut out,
            CHECK_DURATION,
            "Time to answer one Check, from request to response.",
            &checks,
        );
        render_family(
            &mut out,
            SIGV4_DURATION,
            "Time to verify one SigV4 or SigV4A signature.",
            &[("", &self.sigv4_duration)],
        );
        render_family(
            &mut out,
            POLICY_DURATION,
            "Time to evaluate every policy layer of one request.",
            &[("", &self.policy_duration)],
        );
        let grpc: Vec<(&str, &DurationHistogram)> = self
            .grpc
            .iter()
            .map(|(_, h)| (h.labels.as_str(), &h.handling))
            .collect();
        render_family(&mut out, GRPC_HANDLING, "gRPC call handling time.", &grpc);
        self.render_sts(&mut out);
        process::ProcessStats::read().render(&mut out);
        out
    }

    /// The recorder (for tests that inspect it).
    pub fn recorder(&self) -> &PrometheusRecorder {
        &self.recorder
    }
}

// === STS ===
//
// The STS listener's metrics. Their closed label sets belong to `sts` (its actions and error
// codes), which this module may not use: the listener passes them in once, when it starts, and
// names one of them per request.

/// `lattice_authz_sts_requests_total{action, result}`.
pub const STS_REQUESTS: &str = "lattice_authz_sts_requests_total";
/// `lattice_authz_sts_request_duration_seconds{action}`.
pub const STS_DURATION: &str = "lattice_authz_sts_request_duration_seconds";

/// The STS series: a counter per (action, result), a histogram per action.
#[derive(Debug)]
struct StsHandles {
    requests: Vec<(&'static str, &'static str, Counter)>,
    /// Action, its `action="…"` label text, its histogram.
    duration: Vec<(&'static str, String, DurationHistogram)>,
}

impl Metrics {
    /// Registers every STS series at 0: one counter per `actions` × `results` pair and one
    /// duration histogram per action. The first call wins; later calls change nothing, so
    /// several listeners of one process share the series.
    pub fn register_sts(&self, actions: &[&'static str], results: &[&'static str]) {
        self.sts.get_or_init(|| {
            let r = &self.recorder;
            describe(
                r,
                STS_REQUESTS,
                Unit::Count,
                "STS requests answered, by action and result (ok or the error code).",
                Kind::Counter,
            );
            let mut requests = Vec::with_capacity(actions.len().saturating_mul(results.len()));
            for action in actions {
                for result in results {
                    let k = key(STS_REQUESTS, &[("action", action), ("result", result)]);
                    let counter = r.register_counter(&k, &METADATA);
                    counter.increment(0);
                    requests.push((*action, *result, counter));
                }
            }
            let duration = actions
                .iter()
                .map(|a| (*a, format!("action=\"{a}\""), DurationHistogram::default()))
                .collect();
            StsHandles { requests, duration }
        });
    }

    /// Counts one answered STS request. Label values outside the registered sets (or before
    /// [`Metrics::register_sts`]) are not counted: no series is ever made from request data.
    pub fn sts_request(&self, action: &str, result: &str, elapsed: Duration) {
        let Some(sts) = self.sts.get() else {
            return;
        };
        if let Some((_, _, c)) = sts
            .requests
            .iter()
            .find(|(a, r, _)| *a == action && *r == result)
        {
            c.increment(1);
        }
        if let Some((_, _, h)) = sts.duration.iter().find(|(a, _, _)| *a == action) {
            h.record(elapsed);
        }
    }

    fn render_sts(&self, out: &mut String) {
        let Some(sts) = self.sts.get() else {
            return;
        };
        let series: Vec<(&str, &DurationHistogram)> = sts
            .duration
            .iter()
            .map(|(_, labels, h)| (labels.as_str(), h))
            .collect();
        render_family(
            out,
            STS_DURATION,
            "Time to answer one STS request, from its head to the answer.",
            &series,
        );
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
}

fn describe(
    r: &PrometheusRecorder,
    name: &'static str,
    unit: Unit,
    help: &'static str,
    kind: Kind,
) {
    let (name, help) = (KeyName::from_const_str(name), SharedString::const_str(help));
    match kind {
        Kind::Counter => r.describe_counter(name, Some(unit), help),
        Kind::Gauge => r.describe_gauge(name, Some(unit), help),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_exist_from_the_start_and_count_once() {
        let m = Metrics::new(&["no_service_policy"], &["not_ready"], "0.0.0-test");
        let text = m.render();
        assert!(
            text.contains(
                r#"lattice_authz_checks_total{decision="deny",reason="no_service_policy"} 0"#
            ),
            "{text}"
        );
        m.check(
            DecisionLabel::Deny,
            "no_service_policy",
            Duration::from_micros(3),
        );
        let text = m.render();
        assert!(
            text.contains(
                r#"lattice_authz_checks_total{decision="deny",reason="no_service_policy"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"lattice_authz_check_duration_seconds_bucket{decision="deny",le="0.000005"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"lattice_authz_build_info{version="0.0.0-test"} 1"#),
            "{text}"
        );
        assert!(text.contains("# HELP lattice_authz_checks_total Authorization checks answered, by decision and reason."), "{text}");
    }

    #[test]
    fn methods_are_known_by_their_path_only() {
        assert_eq!(
            GrpcMethod::from_path("/envoy.service.auth.v3.Authorization/Check"),
            Some(GrpcMethod::Check)
        );
        assert_eq!(
            GrpcMethod::from_path("/lattice_authz.v1.Diagnostics/Explain"),
            Some(GrpcMethod::Explain)
        );
        for other in [
            "/envoy.service.auth.v3.Authorization/Report",
            "/grpc.health.v1.Health/Check",
            "envoy.service.auth.v3.Authorization/Check",
            "/envoy.service.auth.v3.Authorization/Check/",
            "/",
            "",
        ] {
            assert_eq!(GrpcMethod::from_path(other), None, "{other}");
        }
    }

    #[test]
    fn bounds_in_nanoseconds_are_the_buckets() {
        for (seconds, ns) in BUCKETS.iter().zip(BOUNDS_NS) {
            #[expect(clippy::cast_precision_loss, reason = "small exact integers")]
            let from_ns = ns as f64 / 1e9;
            assert!((seconds - from_ns).abs() < 1e-15, "{seconds} vs {ns}");
        }
    }

    #[test]
    fn histograms_render_cumulative_buckets_sum_and_count() {
        let h = DurationHistogram::default();
        h.record(Duration::from_nanos(1_000)); // on the bound: le="0.000001"
        h.record(Duration::from_nanos(1_001)); // le="0.0000025"
        h.record(Duration::from_micros(7));
        h.record(Duration::from_secs(1)); // +Inf only
        let mut out = String::new();
        render_family(&mut out, "x_seconds", "Help.", &[("k=\"v\"", &h)]);
        let expected = "# HELP x_seconds Help.\n# TYPE x_seconds histogram\n\
            x_seconds_bucket{k=\"v\",le=\"0.000001\"} 1\n\
            x_seconds_bucket{k=\"v\",le=\"0.0000025\"} 2\n\
            x_seconds_bucket{k=\"v\",le=\"0.000005\"} 2\n\
            x_seconds_bucket{k=\"v\",le=\"0.00001\"} 3\n";
        assert!(out.starts_with(expected), "{out}");
        assert!(
            out.ends_with(
                "x_seconds_bucket{k=\"v\",le=\"0.25\"} 3\n\
                 x_seconds_bucket{k=\"v\",le=\"+Inf\"} 4\n\
                 x_seconds_sum{k=\"v\"} 1.000009001\n\
                 x_seconds_count{k=\"v\"} 4\n"
            ),
            "{out}"
        );
        let mut bare = String::new();
        DurationHistogram::default().render(&mut bare, "y", "");
        assert!(bare.starts_with("y_bucket{le=\"0.000001\"} 0\n"), "{bare}");
        assert!(bare.ends_with("y_sum 0\ny_count 0\n"), "{bare}");
    }

    #[test]
    fn every_histogram_family_is_exposed_once() {
        let m = Metrics::new(&["no_service_policy"], &["not_ready"], "0.0.0-test");
        m.grpc(GrpcMethod::Check, tonic::Code::Ok, Duration::from_micros(4));
        let text = m.render();
        for name in [
            CHECK_DURATION,
            SIGV4_DURATION,
            POLICY_DURATION,
            GRPC_HANDLING,
        ] {
            assert_eq!(
                text.matches(&format!("# TYPE {name} histogram\n")).count(),
                1,
                "{text}"
            );
        }
        assert!(text.contains(
            "grpc_server_handling_seconds_bucket{grpc_type=\"unary\",\
             grpc_service=\"envoy.service.auth.v3.Authorization\",grpc_method=\"Check\",\
             le=\"0.000005\"} 1\n"
        ));
        assert!(
            text.contains("\n\n# HELP lattice_authz_check_duration_seconds "),
            "{text}"
        );
    }

    #[test]
    fn sts_series_exist_once_registered_and_count_only_their_labels() {
        let m = Metrics::new(&[], &[], "0.0.0-test");
        m.sts_request("AssumeRole", "ok", Duration::from_micros(3));
        assert!(
            !m.render().contains(STS_REQUESTS),
            "nothing before registration"
        );
        m.register_sts(&["AssumeRole", "unknown"], &["ok", "AccessDenied"]);
        // A second registration changes nothing.
        m.register_sts(&["Other"], &["other"]);
        m.sts_request("AssumeRole", "AccessDenied", Duration::from_micros(3));
        m.sts_request("AssumeRole", "not-a-result", Duration::from_micros(3));
        m.sts_request("Other", "other", Duration::from_micros(3));
        let text = m.render();
        for line in [
            "lattice_authz_sts_requests_total{action=\"AssumeRole\",result=\"ok\"} 0\n",
            "lattice_authz_sts_requests_total{action=\"AssumeRole\",result=\"AccessDenied\"} 1\n",
            "lattice_authz_sts_requests_total{action=\"unknown\",result=\"ok\"} 0\n",
            "lattice_authz_sts_requests_total{action=\"unknown\",result=\"AccessDenied\"} 0\n",
            "lattice_authz_sts_request_duration_seconds_bucket{action=\"AssumeRole\",le=\"0.000005\"} 2\n",
            "lattice_authz_sts_request_duration_seconds_count{action=\"unknown\"} 0\n",
            "# TYPE lattice_authz_sts_request_duration_seconds histogram\n",
            "# HELP lattice_authz_sts_requests_total STS requests answered, by action and result (ok or the error code).\n",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        assert_eq!(
            text.matches("lattice_authz_sts_requests_total{").count(),
            4,
            "{text}"
        );
        assert!(
            !text.contains("Other") && !text.contains("not-a-result"),
            "{text}"
        );
    }
}
