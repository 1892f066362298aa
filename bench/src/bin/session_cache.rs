//! A sidecar that sees COUNT distinct live sealed sessions: each is minted (as the STS mints
//! it, under the example world's session key) and opened once through the world, as a Check
//! signed with it opens it. Prints the resident memory before and after, and what the
//! opened-session cache holds, against its bound (`session_cache_bytes`).
//!
//! `cargo run --release -p lattice-authz-bench --bin session_cache -- 1000000 16777216`

#![allow(
    missing_docs,
    clippy::print_stderr,
    clippy::print_stdout,
    reason = "bench tool, not part of the product"
)]

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use lattice_authz::authz::{Clock as _, SystemClock};

use lattice_authz::config::Settings;
use lattice_authz::sigv4::CredentialSource as _;
use lattice_authz::store::{Reload, Store};
use lattice_authz::tokens::{SessionClaims, new_credentials};

// The sidecar's allocator, so that the memory is the product's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `VmRSS` of this process, in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parse = |i: usize, default: u64| args.get(i).map_or(Some(default), |a| a.parse().ok());
    let (Some(count), Some(cache_bytes)) = (parse(0, 1_000_000), parse(1, 16 << 20)) else {
        eprintln!("usage: session_cache [COUNT] [CACHE_BYTES]");
        return ExitCode::from(64);
    };
    let now = SystemClock.now();
    let settings = Settings {
        session_cache_bytes: cache_bytes,
        ..Settings::default()
    };
    let store = Arc::new(Store::new(settings));
    if !matches!(store.poll(now), Reload::Loaded(..)) {
        eprintln!("session_cache: the example world does not load");
        return ExitCode::FAILURE;
    }
    let Some(snapshot) = store.current() else {
        return ExitCode::FAILURE;
    };
    let world = &snapshot.world;
    let secs = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let t = i64::try_from(secs).unwrap_or(i64::MAX);
    let before = rss_kib();
    let started = Instant::now();
    let mut opened = 0u64;
    for _ in 0..count {
        let Ok((key, secret)) = new_credentials() else {
            return ExitCode::FAILURE;
        };
        let claims = SessionClaims {
            access_key_id: key.clone(),
            secret_access_key: secret,
            role_arn: "arn:aws:iam::111122223333:role/app".to_owned(),
            role_id: "AROAEXAMPLEAPPROLE01".to_owned(),
            session_name: "bench-session".to_owned(),
            issued_at: t,
            expires_at: t + 3600,
            tags: vec![("team".to_owned(), "shop".to_owned())],
            transitive_tag_keys: Vec::new(),
            source_identity: None,
            federated_provider: None,
            chained: false,
        };
        let Ok(token) = world.sessions.keyring().seal(&claims) else {
            eprintln!("session_cache: cannot seal");
            return ExitCode::FAILURE;
        };
        if world.credential(&key, Some(token.as_bytes())).is_some() {
            opened += 1;
        }
    }
    let elapsed = started.elapsed();
    let cached = world.sessions.cached();
    let after = rss_kib();
    println!(
        "sessions: {count} minted, {opened} opened in {:.1} s ({:.2} us each, minting included)",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / count.max(1) as f64
    );
    println!(
        "cache: bound {cache_bytes} bytes ({:.1} MiB), {cached} sessions kept",
        cache_bytes as f64 / 1_048_576.0
    );
    println!(
        "resident: {:.1} MiB before, {:.1} MiB after, grew {:.1} MiB",
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        after.saturating_sub(before) as f64 / 1024.0
    );
    if opened == count {
        ExitCode::SUCCESS
    } else {
        eprintln!("session_cache: {} sessions did not open", count - opened);
        ExitCode::FAILURE
    }
}
