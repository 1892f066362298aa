//! The whole Check on the service struct, no socket: `CheckRequest` in → `CheckResponse` out (both
//! as the protobuf bytes the server receives and sends, `AuthzService::answer`), for the built-in
//! example world. The headline case is a signed request (latticeuser → nginx)
//! through two auth-policy layers (service network and service) and the caller's identity
//! policies, as Envoy sends it with `encode_raw_headers`; also an anonymous deny and the joined
//! header map. The allocator is the sidecar's (mimalloc); `check_allocs.rs` counts allocations.
//! `reading_only_*` times reading the request alone, `reference_prost_decode_*` prost decoding the
//! same bytes (what the Check did before it read them in place), for comparison.
//!
//! `cargo bench --bench check` measures; `cargo test --benches` runs each routine once.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmark harness"
)]

#[path = "support/check.rs"]
mod support;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use envoy_types::ext_authz::v3::pb::CheckRequest;
use lattice_authz::test_util::read_check_request;
use prost::Message as _;

// The allocator of the lattice-authz binary, so that the time is the product's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn bench_check(c: &mut Criterion) {
    let service = support::service();
    let mut group = c.benchmark_group("check");
    for (name, request, status) in &support::cases() {
        let response = service.check_request(request).unwrap();
        assert_eq!(support::status(&response), *status, "{name}");
        // As the gRPC server hands it over: the encoded message.
        let bytes = request.encode_to_vec();
        group.bench_function(*name, |b| {
            b.iter(|| black_box(service.answer(black_box(&bytes)).unwrap()))
        });
        // The reading alone, as the Check reads the message (in place, `authz::proto`), and
        // prost's decoding of the same bytes, which the Check did before.
        group.bench_function(format!("reading_only_{name}"), |b| {
            b.iter(|| read_check_request(black_box(&bytes)).unwrap())
        });
        group.bench_function(format!("reference_prost_decode_{name}"), |b| {
            b.iter(|| black_box(CheckRequest::decode(black_box(&bytes[..])).unwrap()))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_check);
criterion_main!(benches);
