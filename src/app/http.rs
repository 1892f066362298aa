//! The HTTP endpoint on `metrics_listen`: `/metrics`, `/healthz` and `/readyz`, for scrapers
//! and probes, bounded so that clients which connect and never finish cannot hold it.
//!
//! Deployments bind this port on every interface, so anyone who can reach the pod can open
//! connections to it. Each open connection costs memory (hyper's buffers and a task), so three
//! bounds keep the total small and the port answering:
//!
//! - a **header timeout**: a connection must finish sending a request's head within it, counted
//!   from when the server starts waiting for one, which is both when the connection opens and
//!   after each answer on a kept-alive connection; so it bounds half-sent requests and idle
//!   connections alike;
//! - a **connection timeout**: the whole connection, however busy, is closed after it (a client
//!   that reads the answer slowly, or sends a body slowly, is not waiting for a head);
//! - a **connection cap**: an accepted connection over it is closed at once, so the memory the
//!   port can take is bounded whatever the rate of new connections, and once the held ones time
//!   out, probes get in again.
//!
//! It must not touch: the gRPC server, or request semantics.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::accept::AcceptBackoff;
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::store::Store;

/// The bounds on the endpoint's connections (from [`Settings`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// Time to send a request's head, from when the server starts waiting for one.
    pub(super) header_timeout: Duration,
    /// Time a connection may stay open, whatever it does.
    pub(super) connection_timeout: Duration,
    /// Connections open at once; more are closed as soon as they are accepted.
    pub(super) max_connections: usize,
}

impl Limits {
    /// The limits `settings` configure.
    pub(super) fn from_settings(settings: &Settings) -> Self {
        Self {
            header_timeout: settings.metrics_header_timeout,
            connection_timeout: settings.metrics_connection_timeout,
            max_connections: settings.metrics_max_connections,
        }
    }
}

/// Serves the endpoint on `listener` until the task is aborted.
pub(super) async fn serve(
    listener: TcpListener,
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    limits: Limits,
) {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let mut backoff = AcceptBackoff::new("http");
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => {
                backoff.accepted();
                stream
            }
            Err(e) => {
                tokio::time::sleep(backoff.failed(&e)).await;
                continue;
            }
        };
        // Over the cap, the connection is dropped (closed) here, before it costs a buffer or
        // a task: waiting for a free slot would hold its descriptor instead.
        let Ok(slot) = open.clone().try_acquire_owned() else {
            continue;
        };
        let (store, metrics, http) = (store.clone(), metrics.clone(), http.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let r = answer(&req, &store, &metrics);
                async move { Ok::<_, Infallible>(r) }
            });
            let connection = http.serve_connection(TokioIo::new(stream), service);
            // Past the connection timeout the connection is dropped, closing its socket:
            // a graceful close would wait for the very client that is too slow.
            let _ = tokio::time::timeout(limits.connection_timeout, connection).await;
            drop(slot);
        });
    }
}

/// The answer to one request.
fn answer<B>(
    req: &hyper::Request<B>,
    store: &Store,
    metrics: &Metrics,
) -> hyper::Response<Full<Bytes>> {
    match (req.method(), req.uri().path()) {
        (&hyper::Method::GET, "/metrics") => {
            response(200, "text/plain; version=0.0.4", metrics.render())
        }
        (&hyper::Method::GET, "/healthz") => response(200, "text/plain", "ok\n".into()),
        (&hyper::Method::GET, "/readyz") => match store.current() {
            Some(s) => response(
                200,
                "text/plain",
                format!("ready: generation {}\n", s.generation),
            ),
            None => response(503, "text/plain", "not ready: no world loaded\n".into()),
        },
        _ => response(404, "text/plain", "not found\n".into()),
    }
}

fn response(status: u16, content_type: &'static str, body: String) -> hyper::Response<Full<Bytes>> {
    let mut r = hyper::Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    r
}
