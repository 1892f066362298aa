//! Wiring of `lattice-authz sts`: the world store and its reload loop, the STS listener and the
//! HTTP endpoint for `/metrics`, `/healthz` and `/readyz`, as `serve` has them.
//!
//! It must not touch: what an STS call means (that is `sts`).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::authz::Clock;
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::sigv4;
use crate::store::Store;
use crate::sts::{Issuer, server};

use super::error::AppError;
use super::{new_metrics, poll_once, spawn_upkeep};

/// A running STS.
#[derive(Debug)]
pub struct RunningSts {
    /// Bound STS address.
    pub sts_addr: SocketAddr,
    /// Bound metrics/health address.
    pub metrics_addr: SocketAddr,
    /// The world store.
    pub store: Arc<Store>,
    /// The metrics.
    pub metrics: Arc<Metrics>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningSts {
    /// Stops accepting and waits for the listener to end.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            t.abort();
        }
    }
}

/// Loads the world, binds both listeners and serves STS calls until [`RunningSts::stop`].
pub async fn start_sts(settings: Settings, clock: Arc<dyn Clock>) -> Result<RunningSts, AppError> {
    let metrics = Arc::new(new_metrics(super::VERSION));
    let store = Arc::new(Store::new(settings.clone()));
    // The STS has no gRPC health service; the reload loop reports to a reporter nobody reads,
    // and `/readyz` reads the store.
    let (health, _) = tonic_health::server::health_reporter();
    poll_once(&store, &metrics, &health, clock.as_ref()).await;
    super::require_world(&settings, &store)?;

    let bind = |addr: SocketAddr| async move {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| AppError::Bind { addr, source })?;
        let bound = listener
            .local_addr()
            .map_err(|source| AppError::Bind { addr, source })?;
        Ok::<_, AppError>((listener, bound))
    };
    let (sts_listener, sts_addr) = bind(settings.listen).await?;
    let (metrics_listener, metrics_addr) = bind(settings.metrics_listen).await?;

    let mut verifier = sigv4::Settings::sts();
    verifier.max_skew = settings.max_skew;
    verifier.key_cache_capacity = settings.key_cache_capacity;
    let issuer = Arc::new(Issuer::new(store.clone(), verifier));
    let (shutdown, shutdown_rx) = watch::channel(false);
    let sts = tokio::spawn(server::serve(
        sts_listener,
        issuer,
        metrics.clone(),
        clock.clone(),
        server::Limits::default(),
        shutdown_rx,
    ));
    let [http, reload] = spawn_upkeep(metrics_listener, &store, &metrics, health, clock, &settings);
    tracing::info!(
        message = "Serving STS.",
        sts = %sts_addr,
        metrics = %metrics_addr,
        world = %settings.world.as_ref().map_or_else(|| "built-in example world".to_owned(), |p| p.display().to_string()),
        version = super::VERSION,
    );
    Ok(RunningSts {
        sts_addr,
        metrics_addr,
        store,
        metrics,
        shutdown,
        tasks: vec![sts, http, reload],
    })
}

/// Serves STS calls until `signal` completes.
pub async fn serve_sts(
    settings: Settings,
    clock: Arc<dyn Clock>,
    signal: impl Future<Output = ()>,
) -> Result<(), AppError> {
    let running = start_sts(settings, clock).await?;
    signal.await;
    running.stop().await;
    Ok(())
}
