//! SigV4 / SigV4A verification cost: a typical Lattice request (Envoy-shaped header list,
//! `x-amz-content-sha256: UNSIGNED-PAYLOAD`) with a warm and a cold key cache, with a session
//! token, and signed with SigV4A. The request and credentials are in `support/sigv4.rs`; the bench
//! tools crate verifies the same request with scratchstack-aws-signature
//! (`cargo bench -p lattice-authz-bench --bench sigv4`).
//!
//! `cargo bench --bench sigv4` measures; `cargo test --benches` runs each routine once.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmark harness"
)]

#[path = "support/sigv4.rs"]
mod support;

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use lattice_authz::sigv4::{Settings, Verifier};

use support::{REGION, assert_signed, creds, now, typical};

/// A realistic STS session token length (~1 KB).
fn session_token() -> String {
    "IQoJb3JpZ2luX2VjEXAMPLE".repeat(40)
}

fn bench_verify(c: &mut Criterion) {
    let settings = Settings::lattice(REGION);
    let mut group = c.benchmark_group("sigv4");

    let request = typical(None, false, "UNSIGNED-PAYLOAD");
    let headers = request.headers();
    let view = request.view(&headers);
    let plain = creds(None);
    let warm = Verifier::new(settings.clone());
    assert_signed(&warm.verify(&view, now(), &plain));
    group.bench_function("verify_warm", |b| {
        b.iter(|| warm.verify(black_box(&view), now(), &plain).is_ok())
    });
    // Cold: nothing derived yet, neither in the verifier nor in the secret (which keeps the
    // signing key it derived last), as after a reload or on a caller's first request of the day.
    group.bench_function("verify_cold", |b| {
        b.iter_batched(
            || (Verifier::new(settings.clone()), creds(None)),
            |(verifier, fresh)| {
                let ok = verifier.verify(black_box(&view), now(), &fresh).is_ok();
                (verifier, fresh, ok)
            },
            BatchSize::SmallInput,
        )
    });

    let token = session_token();
    let with_token = typical(Some(&token), false, "UNSIGNED-PAYLOAD");
    let token_headers = with_token.headers();
    let token_view = with_token.view(&token_headers);
    let token_creds = creds(Some(&token));
    assert_signed(&warm.verify(&token_view, now(), &token_creds));
    group.bench_function("verify_warm_session_token", |b| {
        b.iter(|| {
            warm.verify(black_box(&token_view), now(), &token_creds)
                .is_ok()
        })
    });

    let v4a_request = typical(None, true, "UNSIGNED-PAYLOAD");
    let v4a_headers = v4a_request.headers();
    let v4a_view = v4a_request.view(&v4a_headers);
    assert_signed(&warm.verify(&v4a_view, now(), &plain));
    group.bench_function("sigv4a_verify_warm", |b| {
        b.iter(|| warm.verify(black_box(&v4a_view), now(), &plain).is_ok())
    });
    group.finish();
}

criterion_group!(benches, bench_verify);
criterion_main!(benches);
