//! The `/metrics`, `/healthz` and `/readyz` port against clients that connect and do not finish:
//! half-sent requests and idle connections are closed after the header timeout, connections
//! over the cap are closed at once, a slow reader is closed after the connection timeout, and
//! the probes answer again as soon as the held connections are gone.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use lattice_authz::app;
use lattice_authz::authz::FixedClock;
use lattice_authz::config::Settings;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::grpc_check::loopback_settings;
use crate::support;

/// The head of a request that never ends: what a slowloris client sends.
const HALF_REQUEST: &[u8] = b"GET /metrics HTTP/1.1\r\nHost: x\r\n";

/// Longest a test waits for the server to close a connection.
const PATIENCE: Duration = Duration::from_secs(8);

async fn start(settings: Settings) -> app::Running {
    app::start(settings, Arc::new(FixedClock(support::test_time())))
        .await
        .unwrap()
}

/// Reads until the server closes the connection (an end of file, or a reset when it closed with
/// our bytes unread); returns what was read and when it closed, or panics after [`PATIENCE`].
async fn until_closed(stream: &mut TcpStream) -> (Vec<u8>, Instant) {
    let mut seen = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match tokio::time::timeout(PATIENCE, stream.read(&mut buf)).await {
            Err(_) => panic!(
                "the server kept the connection open for {PATIENCE:?} (read {} bytes)",
                seen.len()
            ),
            Ok(Ok(0) | Err(_)) => return (seen, Instant::now()),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

/// A GET on a connection of its own: status line and body.
async fn get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let (seen, _) = until_closed(&mut s).await;
    let text = String::from_utf8(seen).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_request_and_an_idle_connection_are_closed_after_the_header_timeout() {
    let timeout = Duration::from_millis(300);
    let running = start(Settings {
        metrics_header_timeout: timeout,
        ..loopback_settings()
    })
    .await;
    let addr = running.metrics_addr;

    // Half a request, then nothing.
    let mut half = TcpStream::connect(addr).await.unwrap();
    half.write_all(HALF_REQUEST).await.unwrap();
    let sent = Instant::now();
    // Nothing at all.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    // A whole request on a kept-alive connection, answered, then nothing.
    let mut kept = TcpStream::connect(addr).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();

    for (what, stream) in [
        ("half-sent", &mut half),
        ("silent", &mut silent),
        ("kept-alive", &mut kept),
    ] {
        let (seen, closed) = until_closed(stream).await;
        let held = closed - sent;
        assert!(
            held >= timeout - Duration::from_millis(50) && held < Duration::from_secs(4),
            "{what}: closed after {held:?}, the header timeout is {timeout:?}"
        );
        let answer = String::from_utf8(seen).unwrap();
        if what == "kept-alive" {
            assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
            assert!(answer.ends_with("\r\n\r\nok\n"), "{answer}");
        } else {
            assert_eq!(answer, "", "{what}: closed without an answer");
        }
    }
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_are_closed_at_once_and_probes_answer_once_the_held_ones_time_out()
{
    let timeout = Duration::from_secs(2);
    let cap = 8;
    let running = start(Settings {
        metrics_header_timeout: timeout,
        metrics_max_connections: cap,
        ..loopback_settings()
    })
    .await;
    let addr = running.metrics_addr;

    let attack = 3 * cap;
    let mut readers = tokio::task::JoinSet::new();
    let opened = Instant::now();
    for _ in 0..attack {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(HALF_REQUEST).await.unwrap();
        readers.spawn(async move { until_closed(&mut s).await });
    }
    let mut held = Vec::new();
    while let Some(closed) = readers.join_next().await {
        let (seen, at) = closed.unwrap();
        assert!(seen.is_empty(), "no answer to half a request");
        held.push(at - opened);
    }
    held.sort();
    // The connections over the cap were closed as soon as accepted, long before the timeout;
    // exactly `cap` were held until it passed.
    let (refused, kept) = held.split_at(attack - cap);
    assert!(
        refused.iter().all(|d| *d < timeout / 2),
        "over the cap, closed at once: {held:?}"
    );
    assert!(
        kept.iter()
            .all(|d| *d >= timeout - Duration::from_millis(50) && *d < timeout * 2),
        "under the cap, held until the header timeout: {held:?}"
    );

    // The slots are free again: the probes answer, promptly.
    let asked = Instant::now();
    assert_eq!(
        get(addr, "/readyz").await,
        (
            "HTTP/1.1 200 OK".to_owned(),
            "ready: generation 1\n".to_owned()
        )
    );
    let (status, body) = get(addr, "/metrics").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.contains("lattice_authz_build_info"), "{body}");
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "{:?}",
        asked.elapsed()
    );
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_read_its_answers_is_closed_after_the_connection_timeout() {
    let timeout = Duration::from_millis(500);
    let running = start(Settings {
        metrics_connection_timeout: timeout,
        ..loopback_settings()
    })
    .await;
    // A small receive window and many pipelined requests, never read: the server's writes
    // block, so it is not waiting for a request head and the header timeout does not apply.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut s = socket.connect(running.metrics_addr).await.unwrap();
    let opened = Instant::now();
    let pipelined = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".repeat(500);
    s.write_all(&pipelined).await.unwrap();
    tokio::time::sleep(timeout * 2).await;
    let (seen, closed) = until_closed(&mut s).await;
    let answered = String::from_utf8_lossy(&seen)
        .matches("HTTP/1.1 200 OK")
        .count();
    assert!(
        answered < 500,
        "closed before every answer was sent: {answered} of 500"
    );
    assert!(
        closed - opened < timeout * 2 + Duration::from_secs(1),
        "closed {:?} after opening",
        closed - opened
    );
    running.stop().await.unwrap();
}
