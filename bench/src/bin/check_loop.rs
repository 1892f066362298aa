//! Runs one case of the whole-Check benches (`benches/check.rs`) a given number of times and
//! nothing else, on the sidecar's allocator, then once more through `last_check`: what
//! `scripts/count-instructions` counts under callgrind. Instruction counts do not drift with the
//! machine's load as times do, so two builds can be compared on a shared machine.
//!
//! With a third argument, every Check runs after the loop has written that many MiB of memory
//! (which pushes the Check's code and data out of the caches, as the rest of the system does
//! between two requests of a quiet sidecar), and the median and 90th percentile of those cold
//! Checks are printed. With a fourth, the Checks go round that many copies of the service, each
//! with its own world, metrics and request bytes: with `0` MiB written, every Check then finds its
//! data out of the caches while its code, the same for all, stays in them, which tells what the
//! data of a cold Check costs from what its code costs.
//!
//! With `CHECK_LOOP_MARKER=1` set, the address of a byte read just before and just after the last
//! Check is printed, so that a trace of memory accesses (valgrind's lackey, as
//! `scripts/count-instructions` uses it) can find that Check in it.
//!
//! `cargo run --release -p lattice-authz-bench --bin check_loop -- <rounds> [<case> [<MiB between> [<services>]]]`

#![allow(
    missing_docs,
    clippy::print_stderr,
    reason = "benchmark tool, not part of the product"
)]

use std::hint::black_box;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU8, Ordering};

use prost::Message as _;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../../../benches/support/check.rs"]
mod support;

/// Read just before and just after the last Check: marks it in a trace of memory accesses.
static MARKER: AtomicU8 = AtomicU8::new(0);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize, default: Option<usize>| match args.get(i) {
        Some(text) => text.parse::<usize>().ok(),
        None => default,
    };
    let cases = support::cases();
    let (Some(rounds), Some(case), Some(cold_mib), Some(services @ 1..)) = (
        number(0, None),
        number(1, Some(0)),
        number(2, Some(0)),
        number(3, Some(1)),
    ) else {
        eprintln!(
            "usage: check_loop <rounds> [<case index> [<MiB written between Checks> [<services>]]]"
        );
        return ExitCode::FAILURE;
    };
    let Some((name, request, status)) = cases.get(case) else {
        eprintln!("no case {case}: there are {}", cases.len());
        return ExitCode::FAILURE;
    };
    let service = support::service();
    match service.check_request(request) {
        Ok(response) if support::status(&response) == *status => {}
        other => {
            eprintln!("{name}: expected {status}, got {other:?}");
            return ExitCode::FAILURE;
        }
    }
    let bytes = request.encode_to_vec();
    if cold_mib > 0 || services > 1 {
        // Each copy answers once before the timed Checks, as a running sidecar has answered
        // before: its signing-key cache holds the key.
        let mut copies = vec![(service, bytes)];
        copies.extend((1..services).map(|_| (support::service(), request.encode_to_vec())));
        if copies.iter().any(|(s, b)| s.answer(b).is_err()) {
            eprintln!("{name}: a Check failed");
            return ExitCode::FAILURE;
        }
        return cold(name, &copies, rounds, cold_mib);
    }
    for _ in 0..rounds {
        if black_box(service.answer(black_box(&bytes))).is_err() {
            eprintln!("{name}: a Check failed");
            return ExitCode::FAILURE;
        }
    }
    // One more, through a function of its own, so that callgrind can collect a single warm
    // Check (`scripts/count-instructions` counts the code it touches).
    black_box(MARKER.load(Ordering::Relaxed));
    let last = last_check(&service, &bytes);
    black_box(MARKER.load(Ordering::Relaxed));
    if last.is_err() {
        eprintln!("{name}: a Check failed");
        return ExitCode::FAILURE;
    }
    eprintln!("{name}: {rounds} Checks");
    if std::env::var_os("CHECK_LOOP_MARKER").is_some() {
        eprintln!("marker: {:p}", &raw const MARKER);
    }
    ExitCode::SUCCESS
}

#[inline(never)]
fn last_check(
    service: &lattice_authz::authz::AuthzService,
    bytes: &[u8],
) -> Result<(), tonic::Status> {
    black_box(service.answer(black_box(bytes))).map(drop)
}

/// `rounds` Checks, each timed alone after writing `mib` MiB, going round the `copies`.
fn cold(
    name: &str,
    copies: &[(lattice_authz::authz::AuthzService, Vec<u8>)],
    rounds: usize,
    mib: usize,
) -> ExitCode {
    let mut junk = vec![0u64; mib << 17];
    let mut times = Vec::with_capacity(rounds);
    for (round, (service, bytes)) in (0..rounds).zip(copies.iter().cycle()) {
        for (i, word) in junk.iter_mut().enumerate() {
            *word = word.wrapping_add((i ^ round) as u64);
        }
        black_box(&junk);
        let started = std::time::Instant::now();
        let answer = black_box(service.answer(black_box(bytes)));
        times.push(started.elapsed());
        if answer.is_err() {
            eprintln!("{name}: a Check failed");
            return ExitCode::FAILURE;
        }
    }
    times.sort_unstable();
    let at = |q: usize| times.get(rounds * q / 100).copied().unwrap_or_default();
    eprintln!(
        "{name}: {rounds} Checks over {} services, each after writing {mib} MiB: median {:.2} µs, \
         p90 {:.2} µs",
        copies.len(),
        at(50).as_secs_f64() * 1e6,
        at(90).as_secs_f64() * 1e6,
    );
    ExitCode::SUCCESS
}
