//! Allocations per Check for the cases of `check.rs`, counted by an instrumented system
//! allocator (the count does not depend on the allocator; the time does, which is why
//! `check.rs` times with mimalloc in a binary of its own).
//!
//! `cargo bench --bench check_allocs` prints the counts, and for comparison those of prost
//! decoding the same request.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmark harness"
)]

#[path = "support/check.rs"]
mod support;

use std::hint::black_box;

use envoy_types::ext_authz::v3::pb::CheckRequest;
use prost::Message as _;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

fn main() {
    let service = support::service();
    for (name, request, status) in &support::cases() {
        let response = service.check_request(request).unwrap();
        assert_eq!(support::status(&response), *status, "{name}");
        let region = Region::new(GLOBAL);
        let bytes = request.encode_to_vec();
        let rounds = 1000;
        for _ in 0..rounds {
            black_box(service.answer(&bytes).unwrap());
        }
        let stats = region.change();
        println!(
            "allocations per check ({name}): {:.1} allocations, {:.0} bytes",
            stats.allocations as f64 / f64::from(rounds),
            stats.bytes_allocated as f64 / f64::from(rounds)
        );
        // For comparison: prost decoding the same bytes, as the Check did before it read them
        // in place.
        let region = Region::new(GLOBAL);
        for _ in 0..rounds {
            black_box(CheckRequest::decode(bytes.as_slice()).unwrap());
        }
        let stats = region.change();
        println!(
            "  reference, prost decoding the same request: {:.1} allocations, {:.0} bytes",
            stats.allocations as f64 / f64::from(rounds),
            stats.bytes_allocated as f64 / f64::from(rounds)
        );
    }
}
