//! The real server on loopback: ext_authz Check, health, Explain, `/metrics`, `/readyz`, over
//! real sockets with Envoy-shaped requests.

use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::sync::Arc;

use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use envoy_types::pb::envoy::service::auth::v3::{CheckRequest, CheckResponse};
use lattice_authz::app;
use lattice_authz::authz::FixedClock;
use lattice_authz::config::Settings;
use lattice_authz::pb::diagnostics_client::DiagnosticsClient;
use tonic_health::pb::health_client::HealthClient;

use crate::support::{self, HeaderMode, Summary, check_request};

pub(crate) fn loopback_settings() -> Settings {
    Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        metrics_listen: "127.0.0.1:0".parse().unwrap(),
        ..Settings::default()
    }
}

/// A plain HTTP/1.1 GET: (status, body).
pub(crate) fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split(' ').nth(1).unwrap().parse().unwrap();
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

pub(crate) fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)
            .and_then(|rest| rest.trim().parse().ok())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_health_explain_and_metrics_over_loopback() {
    let running = app::start(
        loopback_settings(),
        Arc::new(FixedClock(support::test_time())),
    )
    .await
    .unwrap();
    let endpoint = format!("http://{}", running.grpc_addr);

    let mut health = HealthClient::new(
        tonic::transport::Channel::from_shared(endpoint.clone())
            .unwrap()
            .connect()
            .await
            .unwrap(),
    );
    for service in ["", "envoy.service.auth.v3.Authorization"] {
        let status = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(
            status,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32,
            "{service:?}"
        );
    }

    // Any other method of the Authorization service is UNIMPLEMENTED.
    let mut raw = tonic::client::Grpc::new(
        tonic::transport::Channel::from_shared(endpoint.clone())
            .unwrap()
            .connect()
            .await
            .unwrap(),
    );
    raw.ready().await.unwrap();
    let error = raw
        .unary::<CheckRequest, CheckResponse, _>(
            tonic::Request::new(CheckRequest::default()),
            http::uri::PathAndQuery::from_static("/envoy.service.auth.v3.Authorization/Report"),
            tonic_prost::ProstCodec::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(error.code(), tonic::Code::Unimplemented);

    let mut client = AuthorizationClient::connect(endpoint.clone())
        .await
        .unwrap();
    let allowed = support::signed("GET", support::NGINX_HOST, "/", &[], support::LATTICEUSER);
    let response = client
        .check(check_request(
            "GET",
            "/",
            &allowed,
            "127.0.0.1",
            HeaderMode::Raw,
        ))
        .await
        .unwrap()
        .into_inner();
    let summary = Summary::of(&response);
    assert_eq!((summary.status, summary.reason.as_str()), (200, "allowed"));
    // Client-supplied copies of the identity headers we do not set are removed.
    assert_eq!(summary.removed, Vec::<String>::new());

    let anonymous = support::unsigned(
        support::NGINX_HOST,
        &[("x-amzn-lattice-identity", "Principal=spoofed")],
    );
    let response = client
        .check(check_request(
            "GET",
            "/",
            &anonymous,
            "127.0.0.1",
            HeaderMode::Joined,
        ))
        .await
        .unwrap()
        .into_inner();
    let summary = Summary::of(&response);
    assert_eq!((summary.grpc_code, summary.status), (7, 403));
    assert_eq!(
        summary.body,
        format!(
            "AccessDeniedException: User: anonymous is not authorized to perform: vpc-lattice-svcs:Invoke on resource: {}/ because no service-based policy allows the vpc-lattice-svcs:Invoke action",
            support::NGINX_ARN
        )
    );

    // An anonymous allow (hello is auth NONE, the network allows the organization) strips the
    // client's identity headers and sets only the network ones.
    let hello = support::unsigned(
        support::HELLO_HOST,
        &[("x-amzn-lattice-identity", "Principal=spoofed")],
    );
    let response = client
        .check(check_request(
            "GET",
            "/",
            &hello,
            "127.0.0.1",
            HeaderMode::Raw,
        ))
        .await
        .unwrap()
        .into_inner();
    let summary = Summary::of(&response);
    assert_eq!(summary.status, 200);
    assert_eq!(
        summary.removed,
        vec!["x-amzn-lattice-identity", "x-amzn-lattice-identity-tags"]
    );
    assert_eq!(
        summary.headers.keys().collect::<Vec<_>>(),
        vec![
            "x-amzn-lattice-network",
            "x-amzn-lattice-target",
            "x-amzn-source-vpc"
        ]
    );

    let mut diagnostics = DiagnosticsClient::connect(endpoint).await.unwrap();
    let explained = diagnostics
        .explain(lattice_authz::pb::ExplainRequest {
            method: "GET".into(),
            path: "/".into(),
            authority: support::NGINX_HOST.into(),
            headers: vec![],
            source_ip: "127.0.0.1".into(),
            time: String::new(),
            body: vec![],
            as_principal: String::new(),
            destination_ip: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            explained.decision.as_str(),
            explained.reason.as_str(),
            explained.layer.as_str()
        ),
        ("deny", "no_service_policy", "service_policy")
    );
    let layers: Vec<_> = explained
        .trace
        .iter()
        .map(|t| (t.layer.as_str(), t.outcome.as_str()))
        .collect();
    assert_eq!(
        layers,
        vec![
            ("association", "allow"),
            ("authentication", "skipped"),
            ("network_policy", "allow"),
            ("service_policy", "no_match"),
            ("identity_policy", "skipped"),
        ]
    );
    assert!(
        explained.trace[3]
            .detail
            .starts_with("auth policy of svc-08c822987a0b6ab7d: no statement applies"),
        "{:?}",
        explained.trace[3]
    );

    let (status, text) = http_get(running.metrics_addr, "/metrics");
    assert_eq!(status, 200);
    assert_eq!(
        metric(
            &text,
            r#"lattice_authz_checks_total{decision="allow",reason="allowed"}"#
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            r#"lattice_authz_checks_total{decision="deny",reason="no_service_policy"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(
            &text,
            r#"grpc_server_handled_total{grpc_type="unary",grpc_service="envoy.service.auth.v3.Authorization",grpc_method="Check",grpc_code="OK"}"#
        ),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        metric(&text, r#"lattice_authz_reloads_total{result="success"}"#),
        Some(1.0)
    );
    assert_eq!(
        metric(&text, "lattice_authz_snapshot_generation"),
        Some(1.0)
    );
    assert!(
        text.contains("lattice_authz_sigv4_verify_duration_seconds_bucket"),
        "{text}"
    );
    assert_eq!(
        http_get(running.metrics_addr, "/readyz"),
        (200, "ready: generation 1\n".into())
    );
    assert_eq!(
        http_get(running.metrics_addr, "/healthz"),
        (200, "ok\n".into())
    );
    assert_eq!(http_get(running.metrics_addr, "/nope").0, 404);

    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_until_a_world_loads_and_fails_closed() {
    let dir = tempfile::tempdir().unwrap();
    let world = dir.path().join("world.yaml");
    std::fs::write(&world, "region: [not, a, region]\n").unwrap();
    let settings = Settings {
        world: Some(world.clone()),
        reload_interval: std::time::Duration::from_millis(50),
        ..loopback_settings()
    };
    let running = app::start(settings, Arc::new(FixedClock(support::test_time())))
        .await
        .unwrap();
    assert_eq!(http_get(running.metrics_addr, "/readyz").0, 503);

    let mut client = AuthorizationClient::connect(format!("http://{}", running.grpc_addr))
        .await
        .unwrap();
    let request = check_request(
        "GET",
        "/",
        &support::unsigned(support::HELLO_HOST, &[]),
        "127.0.0.1",
        HeaderMode::Raw,
    );
    let error = client.check(request.clone()).await.unwrap_err();
    assert_eq!(
        error.code(),
        tonic::Code::Unavailable,
        "no world: a gRPC error so Envoy fails closed"
    );
    let mut health = HealthClient::new(
        tonic::transport::Channel::from_shared(format!("http://{}", running.grpc_addr))
            .unwrap()
            .connect()
            .await
            .unwrap(),
    );
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::NotServing as i32
    );

    // Fix the world: the reload loop picks it up and the sidecar becomes ready.
    // Replace atomically: the poller may run at any moment and must not see a half-written file.
    let staged = dir.path().join(".world.yaml.tmp");
    std::fs::write(&staged, lattice_authz::lattice::World::EXAMPLE_YAML).unwrap();
    std::fs::rename(&staged, &world).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while http_get(running.metrics_addr, "/readyz").0 != 200 {
        assert!(std::time::Instant::now() < deadline, "world never loaded");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let summary = Summary::of(&client.check(request).await.unwrap().into_inner());
    assert_eq!(summary.status, 200);
    let (_, text) = http_get(running.metrics_addr, "/metrics");
    assert_eq!(
        metric(
            &text,
            r#"lattice_authz_checks_total{decision="error",reason="not_ready"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metric(&text, r#"lattice_authz_reloads_total{result="failure"}"#),
        Some(1.0),
        "{text}"
    );
    running.stop().await.unwrap();
}

#[test]
fn anonymous_identity_header_is_opt_in() {
    let settings = Settings {
        anonymous_identity_header: true,
        ..Settings::default()
    };
    let harness = support::Harness::with(None, settings);
    let hello = support::unsigned(support::HELLO_HOST, &[]);
    let summary = harness.check(&check_request(
        "GET",
        "/",
        &hello,
        "127.0.0.1",
        HeaderMode::Raw,
    ));
    assert_eq!(
        summary
            .headers
            .get("x-amzn-lattice-identity")
            .map(String::as_str),
        Some("Type=NONE")
    );
    assert_eq!(summary.removed, vec!["x-amzn-lattice-identity-tags"]);
}

/// Connections go round robin to the gRPC workers (three here), each serving on its own event
/// loop: checks on five connections at once are all answered, `stop` drains every worker, and
/// the port is closed afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_on_many_connections_are_answered_by_every_worker() {
    let settings = Settings {
        workers: 3,
        ..loopback_settings()
    };
    let running = app::start(settings, Arc::new(FixedClock(support::test_time())))
        .await
        .unwrap();
    let endpoint = format!("http://{}", running.grpc_addr);
    let mut calls = tokio::task::JoinSet::new();
    for connection in 0..5 {
        // A channel of its own is a connection of its own.
        let channel = tonic::transport::Channel::from_shared(endpoint.clone())
            .unwrap()
            .connect()
            .await
            .unwrap();
        calls.spawn(async move {
            let mut client = AuthorizationClient::new(channel);
            let mut statuses = Vec::new();
            for _ in 0..4 {
                let allowed =
                    support::signed("GET", support::NGINX_HOST, "/", &[], support::LATTICEUSER);
                let request = check_request("GET", "/", &allowed, "127.0.0.1", HeaderMode::Raw);
                let response = client.check(request).await.unwrap().into_inner();
                statuses.push(Summary::of(&response).status);
            }
            (connection, statuses)
        });
    }
    let mut answered = calls.join_all().await;
    answered.sort_unstable();
    assert_eq!(
        answered,
        (0..5).map(|c| (c, vec![200; 4])).collect::<Vec<_>>()
    );
    let (status, text) = http_get(running.metrics_addr, "/metrics");
    assert_eq!(status, 200);
    assert_eq!(
        metric(
            &text,
            r#"lattice_authz_checks_total{decision="allow",reason="allowed"}"#
        ),
        Some(20.0),
        "{text}"
    );
    let addr = running.grpc_addr;
    running.stop().await.unwrap();
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "the gRPC port is closed after stop"
    );
}
