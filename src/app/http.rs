//! The HTTP endpoint on `metrics_listen`: `/metrics`, `/healthz` and `/readyz`, for scrapers
//! and probes.
//!
//! It must not touch: the gRPC server, or request semantics.

use std::convert::Infallible;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::accept::AcceptBackoff;
use crate::metrics::Metrics;
use crate::store::Store;

/// Serves the endpoint on `listener` until the task is aborted.
pub(super) async fn serve(listener: TcpListener, store: Arc<Store>, metrics: Arc<Metrics>) {
    let http = http1::Builder::new();
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
        let (store, metrics, http) = (store.clone(), metrics.clone(), http.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let r = answer(&req, &store, &metrics);
                async move { Ok::<_, Infallible>(r) }
            });
            let connection = http.serve_connection(TokioIo::new(stream), service);
            let _ = connection.await;
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
