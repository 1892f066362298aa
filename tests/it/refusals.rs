//! Every answer counted once, refusals included: a burst beside Checks that hold their streams,
//! a Check that runs out of time, one its caller gives up, and bytes that never become a
//! `CheckRequest`, each answered with its own gRPC code and counted in
//! `grpc_server_handled_total` and `lattice_authz_checks_total` — on the real server over
//! loopback.

use std::sync::Arc;
use std::time::{Duration, Instant};

use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use envoy_types::pb::envoy::service::auth::v3::{CheckRequest, CheckResponse};
use lattice_authz::app;
use lattice_authz::authz::{AuthzService, FixedClock};
use lattice_authz::config::Settings;
use tonic::transport::Channel;

use crate::grpc_check::{http_get, loopback_settings, metric};
use crate::support::{self, HeaderMode, check_request};

const CHECK: &str = "/envoy.service.auth.v3.Authorization/Check";
const DEADLINE_EXCEEDED: &str = "lattice-authz check deadline exceeded";

async fn start(settings: Settings) -> app::Running {
    app::start(settings, Arc::new(FixedClock(support::test_time())))
        .await
        .unwrap()
}

async fn channel(running: &app::Running) -> Channel {
    Channel::from_shared(format!("http://{}", running.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

fn allowed() -> CheckRequest {
    let headers = support::signed("GET", support::NGINX_HOST, "/", &[], support::LATTICEUSER);
    check_request("GET", "/", &headers, "127.0.0.1", HeaderMode::Raw)
}

/// A Check whose request message never arrives: the stream's headers are sent, its body stays
/// open and empty. The server holds the stream (but no place of the concurrency limit) until it
/// answers.
async fn held_check(channel: Channel) -> Result<CheckResponse, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    grpc.client_streaming(
        tonic::Request::new(tokio_stream::pending::<CheckRequest>()),
        http::uri::PathAndQuery::from_static(CHECK),
        tonic_prost::ProstCodec::default(),
    )
    .await
    .map(tonic::Response::into_inner)
}

/// A Check whose body ends without a message.
async fn empty_check(channel: Channel) -> Result<CheckResponse, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    grpc.client_streaming(
        tonic::Request::new(tokio_stream::empty::<CheckRequest>()),
        http::uri::PathAndQuery::from_static(CHECK),
        tonic_prost::ProstCodec::default(),
    )
    .await
    .map(tonic::Response::into_inner)
}

fn grpc_code_label(code: tonic::Code) -> &'static str {
    lattice_authz::metrics::GRPC_CODES[code as usize]
}

fn check_handled(text: &str, code: tonic::Code) -> f64 {
    let series = format!(
        r#"grpc_server_handled_total{{grpc_type="unary",grpc_service="envoy.service.auth.v3.Authorization",grpc_method="Check",grpc_code="{}"}}"#,
        grpc_code_label(code)
    );
    metric(text, &series).unwrap_or(0.0)
}

/// The sum of `grpc_server_handled_total` over every code of `Check`.
fn check_handled_sum(text: &str) -> f64 {
    text.lines()
        .filter(|l| {
            l.starts_with("grpc_server_handled_total{") && l.contains(r#"grpc_method="Check""#)
        })
        .map(|l| l.rsplit_once(' ').unwrap().1.parse::<f64>().unwrap())
        .sum()
}

/// The sum of `lattice_authz_checks_total` over every decision and reason.
fn checks_sum(text: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with("lattice_authz_checks_total{"))
        .map(|l| l.rsplit_once(' ').unwrap().1.parse::<f64>().unwrap())
        .sum()
}

fn checks(text: &str, decision: &str, reason: &str) -> f64 {
    metric(
        text,
        &format!(r#"lattice_authz_checks_total{{decision="{decision}",reason="{reason}"}}"#),
    )
    .unwrap_or(0.0)
}

/// Scrapes `/metrics` until `done` holds of it, for at most five seconds.
async fn metrics_until(running: &app::Running, done: impl Fn(&str) -> bool) -> String {
    let give_up = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, text) = http_get(running.metrics_addr, "/metrics");
        assert_eq!(status, 200);
        if done(&text) || Instant::now() > give_up {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// With the limit at 2, two Checks whose request never comes hold no place (a place is taken
/// once the request is in): a burst of 200 Checks over 8 connections is allowed, the two held
/// ones run out of time, and every answer is counted once with its code. (The refusal of a
/// Check that finds no place is `authz::guard`'s unit test: on the worker's event loop a Check
/// whose request is in is decided in one step, so a burst over loopback cannot fill the places.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_whose_request_never_comes_hold_no_place_and_every_answer_is_counted() {
    let settings = Settings {
        max_concurrent_checks: 2,
        workers: 2,
        check_timeout: Duration::from_secs(1),
        ..loopback_settings()
    };
    let running = start(settings).await;
    let mut held = tokio::task::JoinSet::new();
    for _ in 0..2 {
        let channel = channel(&running).await;
        held.spawn(held_check(channel));
    }
    // The held Checks are open on the server before the burst starts.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut connections = Vec::new();
    for _ in 0..8 {
        connections.push(channel(&running).await);
    }
    let mut burst = tokio::task::JoinSet::new();
    for i in 0..200 {
        let mut client = AuthorizationClient::new(connections[i % 8].clone());
        burst.spawn(async move { client.check(allowed()).await.map(|_| ()) });
    }
    for answer in burst.join_all().await {
        assert!(answer.is_ok(), "{answer:?}");
    }
    for answer in held.join_all().await {
        let status = answer.unwrap_err();
        assert_eq!(
            (status.code(), status.message()),
            (tonic::Code::DeadlineExceeded, DEADLINE_EXCEEDED)
        );
    }

    let text = metrics_until(&running, |text| check_handled_sum(text) >= 202.0).await;
    assert_eq!(check_handled_sum(&text), 202.0, "{text}");
    assert_eq!(checks_sum(&text), 202.0, "{text}");
    assert_eq!(check_handled(&text, tonic::Code::Ok), 200.0, "{text}");
    assert_eq!(
        check_handled(&text, tonic::Code::DeadlineExceeded),
        2.0,
        "{text}"
    );
    assert_eq!(
        check_handled(&text, tonic::Code::ResourceExhausted),
        0.0,
        "{text}"
    );
    assert_eq!(checks(&text, "error", "overloaded"), 0.0, "{text}");
    assert_eq!(checks(&text, "error", "deadline_exceeded"), 2.0, "{text}");
    assert_eq!(checks(&text, "allow", "allowed"), 200.0, "{text}");
    running.stop().await.unwrap();
}

/// A Check still unanswered at `check_timeout` is answered `DEADLINE_EXCEEDED` (not tonic's
/// `CANCELLED` "Timeout expired") and counted with that code and reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_past_its_deadline_answers_deadline_exceeded_and_is_counted() {
    let settings = Settings {
        check_timeout: Duration::from_millis(100),
        ..loopback_settings()
    };
    let running = start(settings).await;
    let started = Instant::now();
    let status = held_check(channel(&running).await).await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(
        (status.code(), status.message()),
        (tonic::Code::DeadlineExceeded, DEADLINE_EXCEEDED)
    );
    assert!(
        took >= Duration::from_millis(100) && took < Duration::from_secs(5),
        "{took:?}"
    );
    let (_, text) = http_get(running.metrics_addr, "/metrics");
    assert_eq!(
        check_handled(&text, tonic::Code::DeadlineExceeded),
        1.0,
        "{text}"
    );
    assert_eq!(check_handled_sum(&text), 1.0, "{text}");
    assert_eq!(checks(&text, "error", "deadline_exceeded"), 1.0, "{text}");
    running.stop().await.unwrap();
}

/// One HTTP/2 frame.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let length = u32::try_from(payload.len()).unwrap().to_be_bytes();
    let mut out = vec![length[1], length[2], length[3], kind, flags];
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// The start of an HTTP/2 connection with one Check on stream 1 whose body stays open: the
/// preface, SETTINGS and the Check's HEADERS (HPACK literals, without indexing or Huffman),
/// `grpc-timeout` among them.
fn held_check_frames(grpc_timeout: &str) -> Vec<u8> {
    const HEADERS: u8 = 1;
    const SETTINGS: u8 = 4;
    const END_HEADERS: u8 = 4;
    let mut block = Vec::new();
    for (name, value) in [
        (":method", "POST"),
        (":scheme", "http"),
        (":path", CHECK),
        (":authority", "localhost"),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
        ("grpc-timeout", grpc_timeout),
    ] {
        block.push(0);
        block.push(u8::try_from(name.len()).unwrap());
        block.extend_from_slice(name.as_bytes());
        block.push(u8::try_from(value.len()).unwrap());
        block.extend_from_slice(value.as_bytes());
    }
    let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    out.extend(frame(SETTINGS, 0, 0, &[]));
    out.extend(frame(HEADERS, END_HEADERS, 1, &block));
    out
}

/// A Check whose caller's own deadline (`grpc-timeout`) runs out before the sidecar's: tonic
/// answers it `CANCELLED` before the guard's deadline, and it is counted once, as `Canceled`.
/// (Raw frames: a tonic client enforces the same deadline itself and ends the body first.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_past_its_callers_own_deadline_is_counted_cancelled() {
    use tokio::io::AsyncWriteExt as _;

    let settings = Settings {
        check_timeout: Duration::from_secs(30),
        ..loopback_settings()
    };
    let running = start(settings).await;
    let mut stream = tokio::net::TcpStream::connect(running.grpc_addr)
        .await
        .unwrap();
    stream.write_all(&held_check_frames("100m")).await.unwrap();
    let text = metrics_until(&running, |text| checks(text, "error", "cancelled") > 0.0).await;
    assert_eq!(check_handled(&text, tonic::Code::Cancelled), 1.0, "{text}");
    assert_eq!(check_handled_sum(&text), 1.0, "{text}");
    assert_eq!(checks(&text, "error", "cancelled"), 1.0, "{text}");
    drop(stream);
    running.stop().await.unwrap();
}

/// A Check with no request message is refused by the gRPC framing before the service sees it,
/// and still counted, as `undecodable`; so is one whose bytes are not a `CheckRequest`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_that_never_becomes_a_check_request_is_counted() {
    let running = start(loopback_settings()).await;
    let status = empty_check(channel(&running).await).await.unwrap_err();
    assert_eq!(
        (status.code(), status.message()),
        (tonic::Code::Internal, "Missing request message.")
    );
    let (_, text) = http_get(running.metrics_addr, "/metrics");
    assert_eq!(check_handled(&text, tonic::Code::Internal), 1.0, "{text}");
    assert_eq!(check_handled_sum(&text), 1.0, "{text}");
    assert_eq!(checks(&text, "error", "undecodable"), 1.0, "{text}");
    running.stop().await.unwrap();

    let harness = support::Harness::example();
    let metrics = Arc::new(app::new_metrics("test"));
    let service = AuthzService::new(
        harness.store,
        metrics.clone(),
        Arc::new(FixedClock(support::test_time())),
        true,
        Duration::from_secs(1),
    );
    let status = service.answer(&[0xff]).unwrap_err();
    assert_eq!(status.code(), tonic::Code::Internal);
    let text = metrics.render();
    assert_eq!(checks(&text, "error", "undecodable"), 1.0, "{text}");
    assert_eq!(check_handled(&text, tonic::Code::Internal), 1.0, "{text}");
}
