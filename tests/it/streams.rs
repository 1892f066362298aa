//! Streams and connections on the gRPC port that hold resources without sending requests
//! (issue 24, item 3), on the real server over loopback: the stream limit a connection is told,
//! streams that send HEADERS and never their DATA beside a connection of real Checks, and a
//! connection whose client goes silent.

use std::sync::Arc;
use std::time::{Duration, Instant};

use envoy_types::pb::envoy::service::auth::v3::CheckRequest;
use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use lattice_authz::app;
use lattice_authz::authz::FixedClock;
use lattice_authz::config::Settings;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tonic::transport::Channel;

use crate::grpc_check::loopback_settings;
use crate::support::{self, HeaderMode, check_request};

const CHECK: &str = "/envoy.service.auth.v3.Authorization/Check";

const DATA: u8 = 0;
const HEADERS: u8 = 1;
const RST_STREAM: u8 = 3;
const SETTINGS: u8 = 4;
const PING: u8 = 6;
const GOAWAY: u8 = 7;
const ACK: u8 = 1;
const END_HEADERS: u8 = 4;
const SETTINGS_MAX_CONCURRENT_STREAMS: u16 = 3;
const REFUSED_STREAM: u32 = 7;

async fn start(settings: Settings) -> app::Running {
    app::start(settings, Arc::new(FixedClock(support::test_time())))
        .await
        .unwrap()
}

fn allowed() -> CheckRequest {
    let headers = support::signed("GET", support::NGINX_HOST, "/", &[], support::LATTICEUSER);
    check_request("GET", "/", &headers, "127.0.0.1", HeaderMode::Raw)
}

/// One HTTP/2 frame.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let length = u32::try_from(payload.len()).unwrap().to_be_bytes();
    let mut out = vec![length[1], length[2], length[3], kind, flags];
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// The HEADERS of a Check on `stream`, its body left open (HPACK literals without indexing).
fn check_headers(stream: u32) -> Vec<u8> {
    let mut block = Vec::new();
    for (name, value) in [
        (":method", "POST"),
        (":scheme", "http"),
        (":path", CHECK),
        (":authority", "localhost"),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    ] {
        block.push(0);
        block.push(u8::try_from(name.len()).unwrap());
        block.extend_from_slice(name.as_bytes());
        block.push(u8::try_from(value.len()).unwrap());
        block.extend_from_slice(value.as_bytes());
    }
    frame(HEADERS, END_HEADERS, stream, &block)
}

/// A raw HTTP/2 client connection: preface and empty SETTINGS sent.
async fn raw_connection(running: &app::Running) -> TcpStream {
    let mut stream = TcpStream::connect(running.grpc_addr).await.unwrap();
    let mut start = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    start.extend(frame(SETTINGS, 0, 0, &[]));
    stream.write_all(&start).await.unwrap();
    stream
}

/// The next frame: (type, flags, stream, payload); `None` when the connection is closed.
async fn read_frame(stream: &mut TcpStream) -> Option<(u8, u8, u32, Vec<u8>)> {
    let mut head = [0u8; 9];
    stream.read_exact(&mut head).await.ok()?;
    let length = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
    let id = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
    let mut payload = vec![0u8; length];
    stream.read_exact(&mut payload).await.ok()?;
    Some((head[3], head[4], id, payload))
}

/// The server's first SETTINGS frame, as (identifier, value) pairs; acknowledged.
async fn server_settings(stream: &mut TcpStream) -> Vec<(u16, u32)> {
    loop {
        let (kind, flags, _, payload) =
            tokio::time::timeout(Duration::from_secs(5), read_frame(stream))
                .await
                .unwrap()
                .unwrap();
        if kind == SETTINGS && flags & ACK == 0 {
            stream
                .write_all(&frame(SETTINGS, ACK, 0, &[]))
                .await
                .unwrap();
            return payload
                .chunks_exact(6)
                .map(|p| {
                    (
                        u16::from_be_bytes([p[0], p[1]]),
                        u32::from_be_bytes([p[2], p[3], p[4], p[5]]),
                    )
                })
                .collect();
        }
    }
}

/// The server tells each connection how many streams it may open, and refuses the one over:
/// `RST_STREAM` `REFUSED_STREAM` for it, while the streams within the limit stay open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_is_told_its_stream_limit_and_the_stream_over_it_is_refused() {
    let settings = Settings {
        max_streams_per_connection: 10,
        check_timeout: Duration::from_secs(30),
        ..loopback_settings()
    };
    let running = start(settings).await;
    let mut stream = raw_connection(&running).await;
    let advertised = server_settings(&mut stream).await;
    assert!(
        advertised.contains(&(SETTINGS_MAX_CONCURRENT_STREAMS, 10)),
        "{advertised:?}"
    );

    let mut held = Vec::new();
    for n in 0..11u32 {
        held.extend(check_headers(2 * n + 1));
    }
    stream.write_all(&held).await.unwrap();
    let give_up = Instant::now() + Duration::from_secs(5);
    let refused = loop {
        let left = give_up.saturating_duration_since(Instant::now());
        let (kind, _, id, payload) = tokio::time::timeout(left, read_frame(&mut stream))
            .await
            .expect("no RST_STREAM within 5 s")
            .expect("the connection closed");
        assert_ne!(kind, GOAWAY, "{payload:?}");
        if kind == RST_STREAM {
            break (id, u32::from_be_bytes(payload[..4].try_into().unwrap()));
        }
        assert!(kind != HEADERS && kind != DATA, "stream {id} answered");
    };
    assert_eq!(refused, (21, REFUSED_STREAM), "the eleventh stream");
    running.stop().await.unwrap();
}

/// Four connections each keep as many streams open as they may, sending HEADERS and never the
/// request; another connection's Checks are all allowed meanwhile. (Before, each such stream
/// held a place of the concurrency limit until its deadline: with 4 × 64 of them and a limit
/// of 64, every other Check was refused `RESOURCE_EXHAUSTED`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_that_never_send_their_request_do_not_starve_other_connections() {
    let settings = Settings {
        max_concurrent_checks: 64,
        max_streams_per_connection: 64,
        check_timeout: Duration::from_secs(30),
        ..loopback_settings()
    };
    let running = start(settings).await;
    let mut attackers = Vec::new();
    for _ in 0..4 {
        let mut stream = raw_connection(&running).await;
        server_settings(&mut stream).await;
        let mut held = Vec::new();
        for n in 0..64u32 {
            held.extend(check_headers(2 * n + 1));
        }
        stream.write_all(&held).await.unwrap();
        attackers.push(stream);
    }
    // The held streams are open on the server before the Checks start (a PING's answer comes
    // after the frames sent before it were read).
    for stream in &mut attackers {
        stream.write_all(&frame(PING, 0, 0, &[7; 8])).await.unwrap();
        loop {
            let (kind, flags, _, _) = read_frame(stream).await.unwrap();
            assert_ne!(kind, RST_STREAM, "a held stream was refused");
            if kind == PING && flags & ACK != 0 {
                break;
            }
        }
    }

    let channel = Channel::from_shared(format!("http://{}", running.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let started = Instant::now();
    let mut checks = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let mut client = AuthorizationClient::new(channel.clone());
        checks.spawn(async move { client.check(allowed()).await.map(|_| ()) });
    }
    let answers = checks.join_all().await;
    let refused: Vec<_> = answers.iter().filter_map(|a| a.as_ref().err()).collect();
    assert!(
        refused.is_empty(),
        "{} refused: {:?}",
        refused.len(),
        refused.first()
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    drop(attackers);
    running.stop().await.unwrap();
}

/// A connection whose client sends nothing is closed between one and two idle timeouts after
/// its last byte; one that keeps sending (here, pings) stays open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_connection_is_closed_and_a_busy_one_is_not() {
    let settings = Settings {
        grpc_idle_timeout: Duration::from_secs(1),
        ..loopback_settings()
    };
    let running = start(settings).await;
    let mut silent = raw_connection(&running).await;
    server_settings(&mut silent).await;
    let mut busy = raw_connection(&running).await;
    server_settings(&mut busy).await;
    let last_byte = Instant::now();

    let closed = tokio::spawn(async move {
        // Everything the server sends until it closes: the SETTINGS ACK, perhaps a GOAWAY.
        while read_frame(&mut silent).await.is_some() {}
        last_byte.elapsed()
    });
    for _ in 0..15 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        busy.write_all(&frame(PING, 0, 0, &[1; 8])).await.unwrap();
    }
    let after = tokio::time::timeout(Duration::from_secs(2), closed)
        .await
        .expect("the silent connection is still open after 5 s")
        .unwrap();
    assert!(
        after >= Duration::from_secs(1) && after < Duration::from_millis(2500),
        "closed {after:?} after its last byte"
    );
    // The busy one answered every ping, and is still open.
    let mut acks = 0;
    while acks < 15 {
        let (kind, flags, _, _) =
            tokio::time::timeout(Duration::from_secs(5), read_frame(&mut busy))
                .await
                .unwrap()
                .expect("the busy connection was closed");
        if kind == PING && flags & ACK != 0 {
            acks += 1;
        }
    }
    running.stop().await.unwrap();
}
