//! Wiring: the gRPC server (ext_authz, health, reflection, diagnostics) with its tower layers,
//! served by worker threads (`workers`), the HTTP endpoint for `/metrics`, `/healthz` and
//! `/readyz` (`http`), the world reload loop, and graceful shutdown; and the same for
//! `lattice-authz sts` (`sts`).
//!
//! It must not touch: request semantics (that is `authz` and below).

mod conn;
mod error;
mod http;
mod sts;
mod workers;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic_health::ServingStatus;

use crate::authz::{self, AuthorizationServer, AuthzService, Clock, DiagnosticsService};
use crate::config::Settings;
use crate::lattice::Reason;
use crate::metrics::Metrics;
use crate::store::{Reload, Store};

pub use error::AppError;
pub use sts::{RunningSts, serve_sts, start_sts};

/// The version reported in `lattice_authz_build_info`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Most problems of a failed reload written to the log (the rest are counted).
const MAX_LOGGED_PROBLEMS: usize = 20;

/// A running server.
#[derive(Debug)]
pub struct Running {
    /// Bound gRPC address.
    pub grpc_addr: SocketAddr,
    /// Bound metrics/health address.
    pub metrics_addr: SocketAddr,
    /// The world store.
    pub store: Arc<Store>,
    /// The metrics.
    pub metrics: Arc<Metrics>,
    shutdown: watch::Sender<bool>,
    workers: workers::Workers,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops accepting, drains in-flight checks (up to the grace period) and waits.
    pub async fn stop(self) -> Result<(), AppError> {
        let _ = self.shutdown.send(true);
        let result = self.workers.join().await;
        for t in self.tasks {
            t.abort();
        }
        result
    }
}

/// Every deny reason label (lattice's closed set plus malformed requests).
pub fn deny_reasons() -> Vec<&'static str> {
    Reason::ALL
        .iter()
        .filter(|r| **r != Reason::Allowed)
        .map(|r| r.as_str())
        .chain([authz::BAD_REQUEST])
        .collect()
}

/// A server's metrics: every (decision, reason) series registered from the start, with
/// `version` in `lattice_authz_build_info`. (Tests, benches and fuzz targets build theirs here
/// too, so that they count exactly what the server counts.)
pub fn new_metrics(version: &'static str) -> Metrics {
    Metrics::new(&deny_reasons(), authz::ERROR_REASONS, version)
}

/// Loads the world, binds both listeners and serves until [`Running::stop`].
pub async fn start(settings: Settings, clock: Arc<dyn Clock>) -> Result<Running, AppError> {
    let metrics = Arc::new(new_metrics(VERSION));
    let store = Arc::new(Store::new(settings.clone()));
    let (health, health_service) = tonic_health::server::health_reporter();
    report_health(&health, ServingStatus::NotServing).await;

    poll_once(&store, &metrics, &health, clock.as_ref()).await;
    require_world(&settings, &store)?;

    let grpc_listener = crate::accept::bind(settings.listen).map_err(|source| AppError::Bind {
        addr: settings.listen,
        source,
    })?;
    let metrics_listener = TcpListener::bind(settings.metrics_listen)
        .await
        .map_err(|source| AppError::Bind {
            addr: settings.metrics_listen,
            source,
        })?;
    let grpc_addr = grpc_listener
        .local_addr()
        .map_err(|source| AppError::Bind {
            addr: settings.listen,
            source,
        })?;
    let metrics_addr = metrics_listener
        .local_addr()
        .map_err(|source| AppError::Bind {
            addr: settings.metrics_listen,
            source,
        })?;

    let (shutdown, shutdown_rx) = watch::channel(false);
    let authz = AuthzService::new(
        store.clone(),
        metrics.clone(),
        clock.clone(),
        settings.log_allows,
        settings.check_timeout,
    )
    .with_dynamic_metadata(settings.dynamic_metadata);
    let diagnostics = DiagnosticsService::new(store.clone(), metrics.clone(), clock.clone());
    let reflection = reflection_builder().build_v1().ok();
    let reflection_v1alpha = reflection_builder().build_v1alpha().ok();

    // No `timeout` here: tonic answers its own as CANCELLED and counts it nowhere; the guard in
    // `layers` answers DEADLINE_EXCEEDED and counts it.
    let router = tonic::transport::Server::builder()
        .max_concurrent_streams(settings.max_streams_per_connection)
        .layer(workers::layers(
            settings.max_concurrent_checks,
            settings.check_timeout,
            metrics.clone(),
        ))
        .add_service(health_service)
        .add_service(AuthorizationServer::new(authz))
        .add_service(crate::pb::diagnostics_server::DiagnosticsServer::new(
            diagnostics,
        ))
        .add_optional_service(reflection)
        .add_optional_service(reflection_v1alpha);
    let drain_health = health.clone();
    let grace = settings.shutdown_grace;
    let draining = async move {
        report_health(&drain_health, ServingStatus::NotServing).await;
        tracing::info!(
            message = "Shutting down: draining in-flight checks.",
            grace_ms = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX)
        );
    };
    let worker_count = workers::count(settings.workers);
    let workers = workers::Workers::start(
        grpc_listener,
        &router,
        worker_count,
        &shutdown_rx,
        grace,
        settings.grpc_idle_timeout,
        draining,
    )?;

    let [http, reload] = spawn_upkeep(metrics_listener, &store, &metrics, health, clock, &settings);
    tracing::info!(
        message = "Serving.",
        grpc = %grpc_addr,
        metrics = %metrics_addr,
        workers = worker_count,
        world = %settings.world.as_ref().map_or_else(|| "built-in example world".to_owned(), |p| p.display().to_string()),
        version = VERSION,
    );
    Ok(Running {
        grpc_addr,
        metrics_addr,
        store,
        metrics,
        shutdown,
        workers,
        tasks: vec![http, reload],
    })
}

/// The tasks both servers run beside their own: the HTTP endpoint on `metrics_listener`, and
/// the world's reload loop.
fn spawn_upkeep(
    metrics_listener: TcpListener,
    store: &Arc<Store>,
    metrics: &Arc<Metrics>,
    health: tonic_health::server::HealthReporter,
    clock: Arc<dyn Clock>,
    settings: &Settings,
) -> [JoinHandle<()>; 2] {
    let http = tokio::spawn(http::serve(
        metrics_listener,
        Arc::clone(store),
        Arc::clone(metrics),
        http::Limits::from_settings(settings),
    ));
    let reload = tokio::spawn(reload_loop(
        Arc::clone(store),
        Arc::clone(metrics),
        health,
        clock,
        settings.reload_interval,
    ));
    [http, reload]
}

/// Serves until `signal` completes, then drains.
pub async fn serve(
    settings: Settings,
    clock: Arc<dyn Clock>,
    signal: impl Future<Output = ()>,
) -> Result<(), AppError> {
    let running = start(settings, clock).await?;
    signal.await;
    running.stop().await
}

/// Sets the health of the server (`""`) and of the ext_authz service together.
async fn report_health(health: &tonic_health::server::HealthReporter, status: ServingStatus) {
    health.set_service_status("", status).await;
    health
        .set_service_status(
            <AuthorizationServer as tonic::server::NamedService>::NAME,
            status,
        )
        .await;
}

/// Reflection over every service the gRPC listener serves, Envoy's `Authorization` included, and
/// both versions of reflection itself: `v1`, and `v1alpha` that grpcio-reflection and older
/// grpcurl speak. Each version lists the same services.
fn reflection_builder() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::pb::ENVOY_AUTH_FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(crate::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET)
}

/// With `require_world`, a process whose first load failed stops before it binds a port: an
/// orchestrator restarts it (and shows it crash-looping) instead of routing to a server that
/// answers every Check `UNAVAILABLE`.
fn require_world(settings: &Settings, store: &Store) -> Result<(), AppError> {
    if settings.require_world && store.current().is_none() {
        return Err(AppError::NoWorld);
    }
    Ok(())
}

async fn poll_once(
    store: &Arc<Store>,
    metrics: &Metrics,
    health: &tonic_health::server::HealthReporter,
    clock: &dyn Clock,
) {
    let now = clock.now();
    let s = store.clone();
    // Each poll runs on a thread of its own that ends with it, not on the blocking pool: a
    // load frees as much as it keeps (the text, the parsed documents), and mimalloc returns a
    // thread's freed pages to the system when the thread ends, where a pooled thread kept them
    // resident until traffic made the allocator purge (the scale world idled at 220-330 MiB
    // instead of 118). A thread a second costs some tens of microseconds.
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("world-load".into())
        .spawn(move || {
            let _ = tx.send(s.poll(now));
        });
    if let Err(e) = spawned {
        tracing::error!(message = "World reload task failed.", error = %e);
        return;
    }
    let outcome = match rx.await {
        Ok(outcome) => outcome,
        Err(e) => {
            tracing::error!(message = "World reload task failed.", error = %e);
            return;
        }
    };
    let unix = now
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    match outcome {
        Reload::Unchanged => {}
        Reload::Loaded(snapshot, warnings) => {
            let stats = store.last_cache_stats();
            metrics.policy_cache(stats.hits, stats.misses);
            metrics.reload_success(snapshot.generation, unix);
            report_health(health, ServingStatus::Serving).await;
            tracing::info!(
                message = "World loaded.",
                source = %snapshot.source,
                generation = snapshot.generation,
                services = snapshot.world.services.len(),
                service_networks = snapshot.world.networks.len(),
                credentials = snapshot.world.credential_count(),
                policies_compiled = stats.misses,
                policies_reused = stats.hits,
                warnings = warnings.len(),
            );
            for w in warnings.iter().take(MAX_LOGGED_PROBLEMS) {
                tracing::warn!(message = "World warning.", problem = %w);
            }
        }
        Reload::Failed(e) => {
            metrics.reload_failure(unix);
            let keeping = store.current().map(|s| s.generation);
            tracing::error!(
                message = "World not loaded; keeping the last good world.",
                errors = e.errors().count(),
                serving_generation = keeping.unwrap_or(0),
            );
            for p in e.errors().take(MAX_LOGGED_PROBLEMS) {
                tracing::error!(message = "World problem.", problem = %p);
            }
        }
    }
}

async fn reload_loop(
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    health: tonic_health::server::HealthReporter,
    clock: Arc<dyn Clock>,
    interval: Duration,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    #[cfg(unix)]
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    loop {
        #[cfg(unix)]
        {
            let hup = async {
                match hangup.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = ticker.tick() => {}
                () = hup => tracing::info!(message = "SIGHUP: checking the world now."),
            }
        }
        #[cfg(not(unix))]
        ticker.tick().await;
        poll_once(&store, &metrics, &health, clock.as_ref()).await;
    }
}
