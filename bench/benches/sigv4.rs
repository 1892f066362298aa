//! lattice-authz and scratchstack-aws-signature 0.11 verifying the same signed request: the
//! typical Lattice request of the sidecar's own SigV4 benches (`benches/sigv4.rs` at the root,
//! whose fixtures this shares). scratchstack always hashes the body for the payload line (no
//! `UNSIGNED-PAYLOAD`), so both verifiers get the empty-body-hash variant of the request, in
//! standard mode. Each is also timed in a plain loop and the ratio printed.
//!
//! `cargo bench -p lattice-authz-bench --bench sigv4` measures; `cargo test --benches` runs each
//! routine once.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "benchmark harness"
)]

#[path = "../../benches/support/sigv4.rs"]
mod support;

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::str::FromStr as _;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use lattice_authz::sigv4::{Settings, Verifier};
use scratchstack_aws_signature::principal::{Principal, User};
use scratchstack_aws_signature::{
    GetSigningKeyRequest, GetSigningKeyResponse, KSecretKey, NO_ADDITIONAL_SIGNED_HEADERS,
    SignatureOptions, sigv4_validate_request,
};

use support::{HOST, Owned, REGION, SECRET, SIGNED_AT, assert_signed, creds, now, typical};

const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Polls a future that never waits (the key service is immediate) to completion.
fn ready<T>(future: impl Future<Output = T>) -> T {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("scratchstack future was not immediately ready"),
    }
}

fn http_request(owned: &Owned) -> http::Request<()> {
    let mut builder = http::Request::builder()
        .method(owned.method.as_str())
        .uri(owned.target.as_str())
        .header("host", HOST);
    for (name, value) in &owned.headers {
        if !name.starts_with(':') {
            builder = builder.header(name.as_str(), value.as_slice());
        }
    }
    builder.body(()).unwrap()
}

fn time_per_call(iterations: u32, mut f: impl FnMut()) -> f64 {
    let mut samples: Vec<f64> = (0..9)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iterations {
                f();
            }
            start.elapsed().as_secs_f64() / f64::from(iterations)
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn bench_peers(c: &mut Criterion) {
    let owned = typical(None, false, EMPTY_SHA256);
    let headers = owned.headers();
    let view = owned.view(&headers);
    let plain = creds(None);
    let ours = Verifier::new(Settings::standard("vpc-lattice-svcs", REGION));
    assert_signed(&ours.verify(&view, now(), &plain));

    let k_signing = KSecretKey::from_str(SECRET).unwrap().to_ksigning(
        chrono::NaiveDate::from_ymd_opt(2024, 2, 4).unwrap(),
        REGION,
        "vpc-lattice-svcs",
    );
    let principal = Principal::from(vec![
        User::new("aws", "917561075114", "/", "latticeuser")
            .unwrap()
            .into(),
    ]);
    let mut keys = tower::service_fn(move |_req: GetSigningKeyRequest| {
        let response = GetSigningKeyResponse::builder()
            .principal(principal.clone())
            .signing_key(k_signing)
            .build()
            .map_err(Into::into);
        async move { response }
    });
    let server_time = chrono::DateTime::from_timestamp(SIGNED_AT as i64, 0).unwrap();
    let template = http_request(&owned);
    let mut scratch = |request: http::Request<()>| {
        ready(sigv4_validate_request(
            request,
            REGION,
            "vpc-lattice-svcs",
            &mut keys,
            server_time,
            &NO_ADDITIONAL_SIGNED_HEADERS,
            SignatureOptions::default(),
        ))
        .is_ok()
    };
    assert!(
        scratch(template.clone()),
        "scratchstack rejects the request"
    );

    let mut group = c.benchmark_group("peers");
    group.bench_function("lattice_authz_standard", |b| {
        b.iter(|| ours.verify(black_box(&view), now(), &plain).is_ok())
    });
    group.bench_function("scratchstack", |b| {
        b.iter_batched(|| template.clone(), &mut scratch, BatchSize::SmallInput)
    });
    group.finish();

    let measuring = std::env::args().any(|a| a == "--bench");
    let n = if measuring { 20_000 } else { 10 };
    let t_ours = time_per_call(n, || {
        black_box(ours.verify(black_box(&view), now(), &plain).is_ok());
    });
    let t_scratch = time_per_call(n, || {
        black_box(scratch(template.clone()));
    });
    println!(
        "peers: lattice-authz {:.0} ns, scratchstack-aws-signature {:.0} ns (incl. request clone), ratio {:.1}x",
        t_ours * 1e9,
        t_scratch * 1e9,
        t_scratch / t_ours
    );
}

criterion_group!(benches, bench_peers);
criterion_main!(benches);
