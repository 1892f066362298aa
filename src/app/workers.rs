//! The gRPC workers: one accepting task hands each connection to one of N threads, and each
//! thread serves its connections on an event loop of its own.
//!
//! Why not one multi-threaded runtime: there every HTTP/2 stream of a connection is a task,
//! and a stream that finishes its answer wakes the connection's task into the scheduler's
//! "run next" slot. The connection then writes that one answer before the next stream runs:
//! one `sendto` per Check, however many Checks arrived together. On a single-threaded loop the
//! woken connection queues behind the streams that are ready, and writes all their answers at
//! once, in far fewer writes and less CPU per Check (`scripts/bench-load.py` measures it;
//! docs/performance.md).
//!
//! A connection stays on the worker that accepted it, as in Envoy: Envoy opens a connection
//! per worker thread to its authorizer, so connections spread over the workers round robin.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tower::layer::util::{Identity, Stack};

use crate::authz::GuardLayer;
use crate::metrics::Metrics;

use super::conn::CheckConnection;
use super::error::AppError;
use crate::accept::AcceptBackoff;

/// The gRPC server each worker runs (every service behind [`layers`], see `app::start`);
/// cloned per worker.
pub(super) type Router = tonic::transport::server::Router<Stack<Layers, Identity>>;

type Layers = Stack<GuardLayer, Identity>;

/// The guard (`authz`'s: it answers past `deadline`, and counts what it answers in `metrics`)
/// with its concurrency limit shared by every worker: a Check whose request has arrived while
/// `max_concurrent` others are being decided, across the workers, is refused at once. A stream
/// still waiting for its request holds no place: the number of those is bounded per connection
/// (`Settings::max_streams_per_connection`, advertised by the server in `app::start`).
pub(super) fn layers(max_concurrent: usize, deadline: Duration, metrics: Arc<Metrics>) -> Layers {
    tower::ServiceBuilder::new()
        .layer(GuardLayer::new(metrics, deadline, max_concurrent))
        .into_inner()
}

/// Running workers and their acceptor.
#[derive(Debug)]
pub(super) struct Workers {
    acceptor: tokio::task::JoinHandle<()>,
    threads: Vec<Worker>,
}

/// One worker's thread and the result it sends when it ends.
#[derive(Debug)]
struct Worker {
    result: oneshot::Receiver<Result<(), AppError>>,
    thread: std::thread::JoinHandle<()>,
}

/// The number of workers `configured` asks for: 0 is one per CPU this process may use.
pub(super) fn count(configured: usize) -> usize {
    match configured {
        0 => std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
        n => n,
    }
}

impl Workers {
    /// Starts `workers` threads serving `router`, and the task accepting on `listener` for them.
    ///
    /// `stop` turning true (or its sender going away) stops accepting and starts each worker's
    /// drain; a worker still busy `grace` later closes its remaining connections. `draining`
    /// runs once, when accepting stops. A connection whose client sends nothing for
    /// `idle_timeout` is closed (see `conn`).
    pub(super) fn start(
        listener: TcpListener,
        router: &Router,
        workers: usize,
        stop: &watch::Receiver<bool>,
        grace: Duration,
        idle_timeout: Duration,
        draining: impl Future<Output = ()> + Send + 'static,
    ) -> Result<Self, AppError> {
        let mut senders = Vec::with_capacity(workers);
        let mut threads = Vec::with_capacity(workers);
        for index in 0..workers {
            let (tx, rx) = mpsc::unbounded_channel::<std::net::TcpStream>();
            let (result_tx, result_rx) = oneshot::channel();
            let router = router.clone();
            let stop = stop.clone();
            let thread = std::thread::Builder::new()
                .name(format!("grpc-worker-{index}"))
                .spawn(move || {
                    let _ = result_tx.send(run(router, rx, stop, grace, idle_timeout));
                })
                .map_err(AppError::Worker)?;
            senders.push(tx);
            threads.push(Worker {
                result: result_rx,
                thread,
            });
        }
        let acceptor = tokio::spawn(accept(listener, senders, stop.clone(), draining));
        Ok(Self { acceptor, threads })
    }

    /// Waits for the acceptor and every worker to finish (after `stop`); the first error wins.
    pub(super) async fn join(self) -> Result<(), AppError> {
        let _ = self.acceptor.await;
        let mut result = Ok(());
        for Worker {
            result: done,
            thread,
        } in self.threads
        {
            let outcome = done.await.unwrap_or_else(|_| {
                tracing::error!(message = "gRPC worker ended without a result.");
                Ok(())
            });
            if result.is_ok() {
                result = outcome;
            }
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        result
    }
}

/// Whether `stop` says stop; a dropped sender does too.
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Accepts until stopped, handing connections round robin to the workers. Closing the
/// listener when done makes new clients fail at once instead of waiting for an answer.
async fn accept(
    listener: TcpListener,
    mut workers: Vec<mpsc::UnboundedSender<std::net::TcpStream>>,
    stop: watch::Receiver<bool>,
    draining: impl Future<Output = ()>,
) {
    let stopping = stopped(stop);
    tokio::pin!(stopping);
    let mut next = 0usize;
    let mut backoff = AcceptBackoff::new("grpc");
    'accepting: loop {
        let accepted = tokio::select! {
            () = &mut stopping => break,
            accepted = listener.accept() => accepted,
        };
        let mut stream = match accepted.and_then(|(stream, _)| stream.into_std()) {
            Ok(stream) => {
                backoff.accepted();
                stream
            }
            Err(e) => {
                // Out of file descriptors, a connection reset before accept: the listener
                // itself is fine (see the `accept` module). The pause gives way to a stop.
                let pause = backoff.failed(&e);
                tokio::select! {
                    () = &mut stopping => break,
                    () = tokio::time::sleep(pause) => continue,
                }
            }
        };
        // A worker that is gone (its event loop failed) is skipped from then on.
        loop {
            let Some(worker) = workers.get(next % workers.len().max(1)) else {
                tracing::error!(message = "Every gRPC worker is gone; no longer accepting.");
                break 'accepting;
            };
            match worker.send(stream) {
                Ok(()) => break,
                Err(mpsc::error::SendError(returned)) => {
                    tracing::error!(
                        message = "A gRPC worker is gone; its share goes to the others."
                    );
                    workers.swap_remove(next % workers.len());
                    stream = returned;
                }
            }
        }
        next = next.wrapping_add(1);
    }
    drop(listener);
    draining.await;
}

/// One worker: its own single-threaded runtime serving the connections it is handed.
fn run(
    router: Router,
    connections: mpsc::UnboundedReceiver<std::net::TcpStream>,
    stop: watch::Receiver<bool>,
    grace: Duration,
    idle_timeout: Duration,
) -> Result<(), AppError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(AppError::Worker)?;
    runtime.block_on(async move {
        // Registered with this runtime's reactor here, where it is served.
        let incoming = UnboundedReceiverStream::new(connections).map(|stream| {
            tokio::net::TcpStream::from_std(stream)
                .and_then(|stream| CheckConnection::new(stream, idle_timeout))
        });
        let serve = router.serve_with_incoming_shutdown(incoming, stopped(stop.clone()));
        tokio::pin!(serve);
        tokio::select! {
            served = &mut serve => served.map_err(AppError::Grpc),
            () = async { stopped(stop).await; tokio::time::sleep(grace).await; } => {
                tracing::warn!(message = "Shutdown grace period over; closing remaining connections.");
                Ok(())
            }
        }
    })
}
