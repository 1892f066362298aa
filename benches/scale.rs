//! The large world of issue 6 (`test_util::scale_world` at `Scale::TARGET`: 10,000 services and
//! auth policies, 1,000 service networks, 100,000 principals and keys): load-and-compile time,
//! resident memory with it loaded, a one-policy reload, and the headline Check in it against the
//! same Check in the built-in example world.
//!
//! `cargo bench --bench scale` measures; `cargo test --benches` runs each part once at a tenth
//! of the size.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::indexing_slicing,
    reason = "benchmark harness"
)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use envoy_types::ext_authz::v3::pb::{CheckRequest, HttpResponse};
use lattice_authz::authz::{AuthzService, Clock as _, FixedClock};
use lattice_authz::config::Settings;
use lattice_authz::store::{CacheStats, Reload, Store};
use lattice_authz::test_util::{HeaderMode, Scale, check_request, scale_world, sign_lattice};
use prost::Message as _;

// The allocator of the lattice-authz binary, so that load times and memory are the product's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const NGINX: &str = "nginx-08c822987a0b6ab7d.7d67968.vpc-lattice-svcs.ap-northeast-1.on.aws";

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_348_800)
}

/// `cargo bench` passes `--bench`; `cargo test --benches` does not.
fn measuring() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn service(store: Arc<Store>) -> AuthzService {
    let metrics = Arc::new(lattice_authz::app::new_metrics("bench"));
    AuthzService::new(
        store,
        metrics,
        Arc::new(FixedClock(now())),
        true,
        Duration::from_secs(1),
    )
}

fn store_for(settings: Settings) -> (Arc<Store>, Duration) {
    let store = Arc::new(Store::new(settings));
    let started = Instant::now();
    let reload = store.poll(now());
    let elapsed = started.elapsed();
    assert!(matches!(reload, Reload::Loaded(..)), "{reload:?}");
    (store, elapsed)
}

/// The sidecar's memory, in KiB.
struct Memory {
    /// Resident 2 s after ready, before any Check.
    idle: u64,
    /// Resident after serving [`SERVED`] Checks.
    serving: u64,
    /// The high-water mark (`VmHWM`): the load's peak.
    peak: u64,
}

/// `max_world_nodes` and `max_world_bytes` for the scale world.
const SCALE_MAX_WORLD_NODES: u64 = 2_000_000;
const SCALE_MAX_WORLD_BYTES: u64 = 32 * 1024 * 1024;

/// Checks sent before the serving figure is read.
const SERVED: usize = 2_000;

/// A field of `/proc/<pid>/status`, in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// Sends `SERVED` Checks (the headline request, signed now) to the sidecar at `port`.
fn serve_checks(port: u16) {
    use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
    let request = headline_at(lattice_authz::authz::SystemClock.now());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut client = tokio::time::timeout(
            Duration::from_secs(10),
            AuthorizationClient::connect(format!("http://127.0.0.1:{port}")),
        )
        .await
        .unwrap()
        .unwrap();
        for _ in 0..SERVED {
            let response =
                tokio::time::timeout(Duration::from_secs(10), client.check(request.clone()))
                    .await
                    .unwrap()
                    .unwrap()
                    .into_inner();
            assert!(matches!(
                response.http_response,
                Some(HttpResponse::OkResponse(_))
            ));
        }
    });
}

/// Starts the release binary on `world`, waits until it is ready, reads its resident memory
/// idle, then after serving Checks, and its peak, and stops it.
fn sidecar_memory(world: &std::path::Path) -> (Memory, Duration) {
    let port = |_| {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (grpc, http) = (port(0), port(1));
    let started = Instant::now();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lattice-authz"))
        .env("LATTICE_AUTHZ_CONFIG", world)
        .env(
            "LATTICE_AUTHZ_MAX_WORLD_NODES",
            SCALE_MAX_WORLD_NODES.to_string(),
        )
        .env(
            "LATTICE_AUTHZ_MAX_WORLD_BYTES",
            SCALE_MAX_WORLD_BYTES.to_string(),
        )
        .env("LATTICE_AUTHZ_LISTEN", format!("127.0.0.1:{grpc}"))
        .env("LATTICE_AUTHZ_METRICS_LISTEN", format!("127.0.0.1:{http}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ready = || {
        use std::io::{Read, Write};
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", http)) else {
            return false;
        };
        let _ = s.write_all(b"GET /readyz HTTP/1.0\r\n\r\n");
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200")
    };
    while !ready() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the sidecar never got ready"
        );
        assert!(child.try_wait().unwrap().is_none(), "the sidecar exited");
        std::thread::sleep(Duration::from_millis(20));
    }
    let ready_in = started.elapsed();
    std::thread::sleep(Duration::from_secs(2));
    let idle = status_kib(child.id(), "VmRSS:");
    // mimalloc gives freed pages back lazily, when later frees release pages: serving does.
    serve_checks(grpc);
    let memory = Memory {
        idle,
        serving: status_kib(child.id(), "VmRSS:"),
        peak: status_kib(child.id(), "VmHWM:"),
    };
    child.kill().unwrap();
    child.wait().unwrap();
    (memory, ready_in)
}

fn headline() -> CheckRequest {
    headline_at(now())
}

/// The headline request, signed at `at`.
fn headline_at(at: SystemTime) -> CheckRequest {
    let headers = sign_lattice(
        "GET",
        NGINX,
        "/",
        &[("user-agent", "curl/7.88.1"), ("accept", "*/*")],
        (
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            None,
        ),
        "ap-northeast-1",
        at,
    );
    check_request(
        "GET",
        "/",
        &headers,
        "127.0.0.1",
        "127.0.0.1",
        HeaderMode::Raw,
    )
}

fn bench_scale(c: &mut Criterion) {
    let scale = if measuring() {
        Scale::TARGET
    } else {
        Scale {
            services: Scale::TARGET.services / 10,
            networks: Scale::TARGET.networks / 10,
            principals: Scale::TARGET.principals / 10,
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("world.json");
    let text = scale_world(scale, 0);
    let bytes = text.len();
    std::fs::write(&path, text).unwrap();
    // The full scale world (1.49 million nodes, 25.7 MiB) is past the default limits, which
    // fit a 256 MiB pod; these fit it and the 512 MiB it then needs.
    let settings = Settings {
        world: Some(path.clone()),
        max_world_nodes: SCALE_MAX_WORLD_NODES,
        max_world_bytes: SCALE_MAX_WORLD_BYTES,
        ..Settings::default()
    };

    // Load and compile, from a cold store each time.
    let rounds = if measuring() { 5 } else { 1 };
    let mut loads: Vec<Duration> = (0..rounds).map(|_| store_for(settings.clone()).1).collect();
    loads.sort();
    let (big, _) = store_for(settings);
    let policies = big.last_cache_stats().misses;
    println!(
        "scale world: {} services, {} networks, {} principals, {policies} policies, {:.1} MiB of JSON",
        scale.services,
        scale.networks,
        scale.principals,
        bytes as f64 / 1_048_576.0
    );
    println!(
        "load and compile: median {:.0} ms of {rounds} (min {:.0} ms, max {:.0} ms)",
        loads[loads.len() / 2].as_secs_f64() * 1e3,
        loads[0].as_secs_f64() * 1e3,
        loads[loads.len() - 1].as_secs_f64() * 1e3
    );

    // The sidecar's own resident memory, serving this world.
    let (memory, ready_in) = sidecar_memory(&path);
    println!(
        "lattice-authz with it: {:.1} MiB resident after {SERVED} Checks, {:.1} MiB idle 2 s after ready, {:.1} MiB peak; ready {:.0} ms after start",
        memory.serving as f64 / 1024.0,
        memory.idle as f64 / 1024.0,
        memory.peak as f64 / 1024.0,
        ready_in.as_secs_f64() * 1e3
    );

    // A reload that changes one policy.
    std::fs::write(&path, scale_world(scale, 1)).unwrap();
    let started = Instant::now();
    assert!(matches!(big.poll(now()), Reload::Loaded(..)));
    let reload = started.elapsed();
    assert_eq!(
        big.last_cache_stats(),
        CacheStats {
            hits: policies - 1,
            misses: 1
        }
    );
    println!(
        "reload with one policy changed: {:.0} ms, 1 policy compiled, {} reused",
        reload.as_secs_f64() * 1e3,
        policies - 1
    );

    // The same Check in both worlds.
    let example = service(store_for(Settings::default()).0);
    let large = service(big);
    let request = headline();
    for s in [&example, &large] {
        let response = s.check_request(&request).unwrap();
        assert!(matches!(
            response.http_response,
            Some(HttpResponse::OkResponse(_))
        ));
    }
    let bytes = request.encode_to_vec();
    let mut group = c.benchmark_group("scale");
    group.bench_function("check_example_world", |b| {
        b.iter(|| black_box(example.answer(black_box(&bytes)).unwrap()))
    });
    group.bench_function("check_large_world", |b| {
        b.iter(|| black_box(large.answer(black_box(&bytes)).unwrap()))
    });
    group.finish();
}

criterion_group!(benches, bench_scale);
criterion_main!(benches);
