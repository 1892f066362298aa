//! Sessions issued by `lattice-authz sts`, on both sides.
//!
//! - The whole Check (`AuthzService::answer`, protobuf bytes in and out) signed with a session
//!   the world lists, against the same Check signed with a sealed session: warm (its token
//!   opened once and cached) and cold (every Check opens another token: the cache holds none).
//! - `AssumeRoleWithWebIdentity` on the STS's actions (`Issuer::handle`, the parameters parsed
//!   from the form body included), with an ES256 and an RS256 web identity token.
//!
//! `cargo bench --bench sessions` measures; `cargo test --benches` runs each routine once.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "benchmark harness"
)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use lattice_authz::authz::{AuthzService, FixedClock};
use lattice_authz::config::Settings;
use lattice_authz::sigv4::{self, Header};
use lattice_authz::store::{Reload, Store};
use lattice_authz::sts::{Call, Handler, Issuer, Params};
use lattice_authz::test_util::{HeaderMode, check_request, sign_lattice};
use lattice_authz::tokens::{SessionClaims, new_credentials};
use prost::Message as _;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair as _, RsaKeyPair};
use serde_json::json;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const RSA_PKCS8: &[u8] = include_bytes!("../src/tokens/testdata/rsa2048-test-key.pk8");
const ORDERS: &str = "orders-0a11e1c0ffee00002.7d67968.vpc-lattice-svcs.ap-northeast-1.on.aws";
const ROLE: &str = "arn:aws:iam::111122223333:role/app";

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_796_688_000)
}

/// A world with role `app` (one listed session, a trust policy for the provider), a session key,
/// and a service whose auth policy allows the role's sessions.
fn world(jwks: &str) -> String {
    format!(
        r#"
region: ap-northeast-1
accounts: [{{id: "111122223333"}}]
openIdConnectProviders:
  - url: https://oidc.test/cluster-a
    clientIdList: [sts.amazonaws.com]
    jwks: '{jwks}'
sessionKeys:
  - {{id: k1, secret: MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=}}
roles:
  - arn: {ROLE}
    roleId: AROAEXAMPLEAPPROLE01
    managedPolicies: [VPCLatticeServicesInvokeAccess]
    assumeRolePolicyDocument:
      Statement:
        - Effect: Allow
          Principal: {{Federated: arn:aws:iam::111122223333:oidc-provider/oidc.test/cluster-a}}
          Action: sts:AssumeRoleWithWebIdentity
          Condition: {{StringEquals: {{"oidc.test/cluster-a:sub": system:serviceaccount:shop:app}}}}
    sessions:
      - sessionName: app-session
        accessKeyId: ASIAEXAMPLELISTED001
        secretAccessKey: listedSecretKeyEXAMPLEEXAMPLEEXAMPLE0001
        sessionToken: {listed_token}
        expiration: "2099-01-01T00:00:00Z"
vpcs:
  - {{vpcId: vpc-0b0b0b0b0b0b0b0b0, ownerId: "111122223333", cidrBlocks: [127.0.0.0/24]}}
serviceNetworks:
  - id: sn-0123456789abcdef0
    name: shop-network
    authType: NONE
    vpcAssociations: [{{vpcId: vpc-0b0b0b0b0b0b0b0b0}}]
    serviceAssociations: [svc-0a11e1c0ffee00002]
services:
  - id: svc-0a11e1c0ffee00002
    name: orders
    dnsName: {ORDERS}
    authType: AWS_IAM
    authPolicy:
      document: {{Statement: [{{Effect: Allow, Principal: {{AWS: "{ROLE}"}}, Action: "vpc-lattice-svcs:Invoke", Resource: "*"}}]}}
"#,
        // A listed token as long as a sealed one, so that the two Checks compare their tokens
        // over the same length.
        listed_token = "L".repeat(600),
    )
}

struct Keys {
    es: EcdsaKeyPair,
    rsa: RsaKeyPair,
}

impl Keys {
    fn new() -> Self {
        let rng = SystemRandom::new();
        let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        Self {
            es: EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap(),
            rsa: RsaKeyPair::from_pkcs8(RSA_PKCS8).unwrap(),
        }
    }

    fn jwks(&self) -> String {
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let point = self.es.public_key().as_ref();
        let rsa = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(self.rsa.public());
        json!({"keys": [
            {"kty": "EC", "crv": "P-256", "kid": "es", "x": b64(&point[1..33]), "y": b64(&point[33..])},
            {"kty": "RSA", "kid": "rsa", "n": b64(&rsa.n), "e": b64(&rsa.e)},
        ]})
        .to_string()
    }

    fn jwt(&self, alg: &str) -> String {
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let t = i64::try_from(now().duration_since(UNIX_EPOCH).unwrap().as_secs()).unwrap();
        let header = json!({"alg": alg, "kid": if alg == "ES256" { "es" } else { "rsa" }});
        let claims = json!({
            "iss": "https://oidc.test/cluster-a", "sub": "system:serviceaccount:shop:app",
            "aud": ["sts.amazonaws.com"], "exp": t + 3600, "iat": t - 60, "nbf": t - 60,
            "kubernetes.io": {"namespace": "shop", "serviceaccount": {"name": "app"}},
        });
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let rng = SystemRandom::new();
        let signature = if alg == "ES256" {
            self.es
                .sign(&rng, input.as_bytes())
                .unwrap()
                .as_ref()
                .to_vec()
        } else {
            let mut s = vec![0; self.rsa.public().modulus_len()];
            self.rsa
                .sign(&signature::RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut s)
                .unwrap();
            s
        };
        format!("{input}.{}", b64(&signature))
    }
}

/// A store over the world, its session cache bounded to `cache_bytes`.
fn store(dir: &tempfile::TempDir, world: &str, cache_bytes: u64) -> Arc<Store> {
    let path = dir.path().join(format!("world-{cache_bytes}.yaml"));
    std::fs::write(&path, world).unwrap();
    let settings = Settings {
        world: Some(path),
        session_cache_bytes: cache_bytes,
        ..Settings::default()
    };
    let store = Arc::new(Store::new(settings));
    match store.poll(now()) {
        Reload::Loaded(..) => store,
        other => panic!("world does not load: {other:#?}"),
    }
}

fn service(store: &Arc<Store>) -> AuthzService {
    AuthzService::new(
        Arc::clone(store),
        Arc::new(lattice_authz::app::new_metrics("bench")),
        Arc::new(FixedClock(now())),
        true,
        Duration::from_secs(1),
    )
}

/// A fresh session of role `app`, sealed with the store's key: (access key, secret, token).
fn sealed(store: &Store) -> (String, String, String) {
    let (key, secret) = new_credentials().unwrap();
    let t = i64::try_from(now().duration_since(UNIX_EPOCH).unwrap().as_secs()).unwrap();
    let claims = SessionClaims {
        access_key_id: key.clone(),
        secret_access_key: secret.clone(),
        role_arn: ROLE.to_owned(),
        role_id: "AROAEXAMPLEAPPROLE01".to_owned(),
        session_name: "app-session".to_owned(),
        issued_at: t - 60,
        expires_at: t + 3600,
        tags: Vec::new(),
        transitive_tag_keys: Vec::new(),
        source_identity: None,
        federated_provider: Some(
            "arn:aws:iam::111122223333:oidc-provider/oidc.test/cluster-a".to_owned(),
        ),
        chained: false,
    };
    let token = store
        .current()
        .unwrap()
        .world
        .sessions
        .keyring()
        .seal(&claims)
        .unwrap();
    (key, secret.to_string(), token)
}

/// The encoded `CheckRequest` of a signed `GET /` to orders.
fn check_bytes(creds: (&str, &str, Option<&str>)) -> Vec<u8> {
    let headers = sign_lattice("GET", ORDERS, "/", &[], creds, "ap-northeast-1", now());
    check_request(
        "GET",
        "/",
        &headers,
        "127.0.0.1",
        "127.0.0.1",
        HeaderMode::Raw,
    )
    .encode_to_vec()
}

fn allowed(service: &AuthzService, bytes: &[u8]) -> bool {
    let request = envoy_types::ext_authz::v3::pb::CheckRequest::decode(bytes).unwrap();
    let response = service.check_request(&request).unwrap();
    response.status.is_some_and(|s| s.code == 0)
}

fn bench_check(c: &mut Criterion) {
    let keys = Keys::new();
    let dir = tempfile::tempdir().unwrap();
    let text = world(&keys.jwks());
    let warm = store(
        &dir,
        &text,
        lattice_authz::lattice::DEFAULT_SESSION_CACHE_BYTES,
    );
    let cold = store(&dir, &text, 0);
    let warm_service = service(&warm);
    let cold_service = service(&cold);

    let listed_token = "L".repeat(600);
    let listed = check_bytes((
        "ASIAEXAMPLELISTED001",
        "listedSecretKeyEXAMPLEEXAMPLEEXAMPLE0001",
        Some(&listed_token),
    ));
    let (key, secret, token) = sealed(&warm);
    let sealed_bytes = check_bytes((&key, &secret, Some(&token)));
    assert!(allowed(&warm_service, &listed));
    assert!(allowed(&warm_service, &sealed_bytes));
    // Every cold Check presents a token the cache has never held.
    let pool: Vec<Vec<u8>> = (0..4096)
        .map(|_| {
            let (k, s, t) = sealed(&cold);
            check_bytes((&k, &s, Some(&t)))
        })
        .collect();
    assert!(pool.iter().take(8).all(|b| allowed(&cold_service, b)));

    let mut group = c.benchmark_group("sessions");
    group.bench_function("check_listed_session", |b| {
        b.iter(|| black_box(warm_service.answer(black_box(&listed)).unwrap()))
    });
    group.bench_function("check_sealed_session_warm", |b| {
        b.iter(|| black_box(warm_service.answer(black_box(&sealed_bytes)).unwrap()))
    });
    let mut next = 0;
    group.bench_function("check_sealed_session_cold", |b| {
        b.iter(|| {
            next = (next + 1) % pool.len();
            black_box(cold_service.answer(black_box(&pool[next])).unwrap())
        })
    });
    group.finish();
    assert!(
        cold.current().unwrap().world.sessions.cached() == 0,
        "the cold store kept sessions: the cold figure would be warm"
    );
}

fn bench_issue(c: &mut Criterion) {
    let keys = Keys::new();
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir, &world(&keys.jwks()), 1 << 20);
    let issuer = Issuer::new(Arc::clone(&store), sigv4::Settings::sts());
    let mut group = c.benchmark_group("sts");
    for alg in ["ES256", "RS256"] {
        let body = format!(
            "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn={}&RoleSessionName=app&WebIdentityToken={}",
            percent_encoding::utf8_percent_encode(ROLE, percent_encoding::NON_ALPHANUMERIC),
            keys.jwt(alg)
        );
        let headers = [Header {
            name: "content-type",
            value: b"application/x-www-form-urlencoded; charset=utf-8",
        }];
        let issue = || {
            let (action, params) = Params::parse(
                "POST",
                "/",
                Some(b"application/x-www-form-urlencoded; charset=utf-8"),
                body.as_bytes(),
            )
            .unwrap();
            let call = Call {
                action,
                params: &params,
                http: sigv4::HttpRequest {
                    method: "POST",
                    target: "/",
                    authority: "sts.test",
                    headers: &headers,
                    body: Some(body.as_bytes()),
                },
                source: "127.0.0.1".parse().unwrap(),
                request_id: "bench",
            };
            issuer.handle(&call, now())
        };
        assert!(issue().result.is_ok(), "{alg}: {:?}", issue().log);
        group.bench_function(format!("assume_role_with_web_identity_{alg}"), |b| {
            b.iter(|| black_box(issue()))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_check, bench_issue);
criterion_main!(benches);
