//! SigV4 / SigV4A verification cost: a typical Lattice request (Envoy-shaped header list,
//! `x-amz-content-sha256: UNSIGNED-PAYLOAD`) with a warm and a cold key cache, with a session
//! token, and signed with SigV4A. With `--features peers`, the same request through
//! `scratchstack-aws-signature`, and the ratio printed.
//!
//! `cargo bench --bench sigv4` measures; `cargo test --benches` runs each routine once.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "benchmark harness"
)]

use std::hint::black_box;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::{v4, v4a};
use aws_smithy_runtime_api::client::identity::Identity;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use lattice_authz::sigv4::{
    Credential, CredentialSource, Header, HttpRequest, Secret, Settings, Verified, Verifier,
};

const REGION: &str = "ap-northeast-1";
const HOST: &str = "nginx-08c822987a0b6ab7d.7d67968.vpc-lattice-svcs.ap-northeast-1.on.aws";
const AKID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const PRINCIPAL: &str = "arn:aws:iam::917561075114:user/latticeuser";
const SIGNED_AT: u64 = 1_707_008_523; // 2024-02-04T01:02:03Z

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(SIGNED_AT)
}

/// A realistic STS session token length (~1 KB).
fn session_token() -> String {
    "IQoJb3JpZ2luX2VjEXAMPLE".repeat(40)
}

struct Creds {
    secret: Secret,
    token: Option<String>,
    principal: String,
}

impl CredentialSource for Creds {
    type Principal = String;
    fn credential(&self, access_key_id: &str) -> Option<Credential<'_, String>> {
        (access_key_id == AKID).then_some(Credential {
            secret: &self.secret,
            session_token: self.token.as_deref(),
            expires_at: None,
            principal: &self.principal,
        })
    }
}

/// An owned request as Envoy would present it.
struct Owned {
    method: String,
    target: String,
    headers: Vec<(String, Vec<u8>)>,
}

impl Owned {
    fn headers(&self) -> Vec<Header<'_>> {
        self.headers
            .iter()
            .map(|(n, v)| Header { name: n, value: v })
            .collect()
    }

    fn view<'a>(&'a self, headers: &'a [Header<'a>]) -> HttpRequest<'a> {
        HttpRequest {
            method: &self.method,
            target: &self.target,
            authority: HOST,
            headers,
            body: None,
        }
    }
}

/// `GET /api/v1/orders?limit=10` signed by `aws-sigv4` as a Lattice client signs it.
fn typical(token: Option<&str>, sigv4a: bool, payload: &str) -> Owned {
    let identity: Identity =
        Credentials::new(AKID, SECRET, token.map(str::to_owned), None, "bench").into();
    let params = if sigv4a {
        v4a::SigningParams::builder()
            .identity(&identity)
            .region_set("*")
            .name("vpc-lattice-svcs")
            .time(now())
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into()
    } else {
        v4::SigningParams::builder()
            .identity(&identity)
            .region(REGION)
            .name("vpc-lattice-svcs")
            .time(now())
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into()
    };
    let target = "/api/v1/orders?limit=10";
    let signed_headers = [("host", HOST), ("x-amz-content-sha256", payload)];
    let signable = SignableRequest::new(
        "GET",
        format!("https://{HOST}{target}"),
        signed_headers.iter().copied(),
        if payload == "UNSIGNED-PAYLOAD" {
            SignableBody::UnsignedPayload
        } else {
            SignableBody::Bytes(&[])
        },
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut headers: Vec<(String, Vec<u8>)> = vec![
        (":authority".into(), HOST.into()),
        (":method".into(), b"GET".to_vec()),
        (":path".into(), target.into()),
        (":scheme".into(), b"http".to_vec()),
        ("user-agent".into(), b"python-requests/2.31.0".to_vec()),
        ("accept-encoding".into(), b"gzip, deflate".to_vec()),
        ("accept".into(), b"*/*".to_vec()),
        ("x-amz-content-sha256".into(), payload.into()),
        ("x-forwarded-proto".into(), b"http".to_vec()),
        (
            "x-request-id".into(),
            b"3f1f5b4e-8a36-4a7e-9a4b-0c8b7f1e2d3c".to_vec(),
        ),
    ];
    for (name, value) in instructions.headers() {
        headers.push((name.to_owned(), value.as_bytes().to_vec()));
    }
    Owned {
        method: "GET".into(),
        target: target.into(),
        headers,
    }
}

fn creds(token: Option<&str>) -> Creds {
    Creds {
        secret: Secret::new(SECRET),
        token: token.map(str::to_owned),
        principal: PRINCIPAL.to_owned(),
    }
}

fn assert_signed(v: &Result<Verified<'_, String>, lattice_authz::sigv4::SigV4Error>) {
    assert!(matches!(v, Ok(Verified::Signed(_))), "{v:?}");
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

#[cfg(feature = "peers")]
mod peers {
    //! `scratchstack-aws-signature` 0.11 on the same request. It always hashes the body for the
    //! payload line (no `UNSIGNED-PAYLOAD`), so both verifiers get the empty-body-hash variant of
    //! the request, in standard mode.

    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};
    use std::time::Instant;

    use scratchstack_aws_signature::principal::{Principal, User};
    use scratchstack_aws_signature::{
        GetSigningKeyRequest, GetSigningKeyResponse, KSecretKey, NO_ADDITIONAL_SIGNED_HEADERS,
        SignatureOptions, sigv4_validate_request,
    };

    use super::*;

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

    pub(super) fn bench_peers(c: &mut Criterion) {
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

    use std::str::FromStr;
}

#[cfg(feature = "peers")]
criterion_group!(benches, bench_verify, peers::bench_peers);
#[cfg(not(feature = "peers"))]
criterion_group!(benches, bench_verify);
criterion_main!(benches);
