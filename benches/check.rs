//! The whole Check on the service struct, no socket: `CheckRequest` in → `CheckResponse` out, for
//! the built-in example world. The headline case is a signed request (latticeuser → nginx)
//! through two auth-policy layers (service network and service) and the caller's identity
//! policies, as Envoy sends it with `encode_raw_headers`; also an anonymous deny and the joined
//! header map. After the timings it prints allocations per Check, counted by an instrumented
//! global allocator.
//!
//! `cargo bench --bench check` measures; `cargo test --benches` runs each routine once.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmark harness"
)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use envoy_types::ext_authz::v3::pb::CheckRequest;
use lattice_authz::authz::{AuthzService, FixedClock};
use lattice_authz::config::Settings;
use lattice_authz::metrics::Metrics;
use lattice_authz::store::{Reload, Store};
use lattice_authz::test_util::{HeaderMode, check_request, sign_lattice};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

const NGINX: &str = "nginx-08c822987a0b6ab7d.7d67968.vpc-lattice-svcs.ap-northeast-1.on.aws";

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_348_800)
}

fn service() -> AuthzService {
    let store = Arc::new(Store::new(Settings::default()));
    assert!(matches!(store.poll(now()), Reload::Loaded(..)));
    let metrics = Arc::new(Metrics::new(
        &lattice_authz::app::deny_reasons(),
        lattice_authz::authz::ERROR_REASONS,
        "bench",
    ));
    // Allowed decisions are logged in production; with no subscriber installed here the log
    // call is the cheap disabled path, as with a filter that excludes it.
    AuthzService::new(
        store,
        metrics,
        Arc::new(FixedClock(now())),
        true,
        Duration::from_secs(1),
    )
}

fn signed(mode: HeaderMode) -> CheckRequest {
    let headers = sign_lattice(
        "GET",
        NGINX,
        "/",
        &[("user-agent", "curl/7.88.1"), ("accept", "*/*")],
        (
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            None,
        ),
        "ap-northeast-1",
        now(),
    );
    check_request("GET", "/", &headers, "127.0.0.1", "127.0.0.1", mode)
}

fn anonymous() -> CheckRequest {
    let headers = vec![
        ("host".to_owned(), NGINX.to_owned()),
        ("user-agent".to_owned(), "curl/7.88.1".to_owned()),
    ];
    check_request(
        "GET",
        "/",
        &headers,
        "127.0.0.1",
        "127.0.0.1",
        HeaderMode::Raw,
    )
}

fn bench_check(c: &mut Criterion) {
    let service = service();
    let cases = [
        (
            "signed_allow_two_layers_raw_headers",
            signed(HeaderMode::Raw),
            200,
        ),
        (
            "signed_allow_two_layers_joined_headers",
            signed(HeaderMode::Joined),
            200,
        ),
        ("anonymous_deny", anonymous(), 403),
    ];
    let mut group = c.benchmark_group("check");
    for (name, request, status) in &cases {
        let response = service.check_request(request).unwrap();
        let got = match response.http_response {
            Some(envoy_types::ext_authz::v3::pb::HttpResponse::OkResponse(_)) => 200,
            _ => 403,
        };
        assert_eq!(got, *status, "{name}");
        group.bench_function(*name, |b| {
            b.iter(|| black_box(service.check_request(black_box(request)).unwrap()))
        });
    }
    group.finish();
    for (name, request, _) in &cases {
        let region = Region::new(GLOBAL);
        let rounds = 1000;
        for _ in 0..rounds {
            black_box(service.check_request(request).unwrap());
        }
        let stats = region.change();
        println!(
            "allocations per check ({name}): {:.1} allocations, {:.0} bytes",
            stats.allocations as f64 / f64::from(rounds),
            stats.bytes_allocated as f64 / f64::from(rounds)
        );
    }
}

criterion_group!(benches, bench_check);
criterion_main!(benches);
