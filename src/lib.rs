//! lattice-authz: an Envoy ext_authz sidecar that authorizes requests exactly the way Amazon VPC
//! Lattice does.
//!
//! # Layout
//!
//! - [`sigv4`]: SigV4 / SigV4A verification, key caches, AWS's error catalogue. Pure; time is a
//!   parameter.
//! - [`policy`]: the IAM policy language: parse, validate, compile, evaluate, explain. Pure.
//! - [`lattice`]: the Lattice world and its decision, in the order a request meets them. Pure:
//!   time comes in as a parameter, phase timings go out through a trait the caller implements.
//!   - `spec`: the world documents as written; `build`: documents → [`lattice::World`] (the
//!     identity side and the network side in files of their own), then `lint`'s warnings;
//!     `world`: the model, its lookups, and the world as SigV4's credential source.
//!   - `decision`: the request, caller, layers, reasons, trace, route and decision types, the
//!     deny texts and identity headers; `context`: a request's condition keys; `decide`:
//!     [`lattice::World::authorize`], the one orchestration (route → authenticate → decide),
//!     whose authentication calls `sigv4`'s verifier, or takes a caller `assert` resolved (never
//!     on the Check path).
//! - [`config`]: process settings, validated before any port opens.
//! - [`store`]: loads the world from files, compiles snapshots, hot reload, last good snapshot.
//! - [`metrics`]: every metric name, its help text and closed label sets; the duration
//!   histograms themselves.
//! - [`authz`]: the ext_authz service: `CheckRequest` → request view → `World::authorize` (with
//!   the snapshot's verifier, timing its phases) → `CheckResponse`, both as protobuf bytes (the
//!   request read in place, the answer written straight) and passed through its own gRPC service
//!   and codec; one metrics increment and one decision-log line per Check. Its `clock` holds the
//!   wall clock decisions read (`Clock`, `SystemClock`, `FixedClock`); `explain` the diagnostic
//!   `Explain` service.
//! - [`logging`]: the JSON log line format and batched standard output; the direct path by
//!   which `authz` writes decision lines without `tracing`.
//! - [`sts`]: the STS endpoint: Query-protocol requests and XML answers (`wire`), AWS's error
//!   catalogue (`error`), the HTTP listener (`server`), the actions (`issue`: trust policies,
//!   signatures through `sigv4`, sessions minted and sealed with `tokens`).
//! - [`suite`]: policy test suites (`lattice-authz test`): test files of requests, callers and
//!   expected decisions, decided by `World::authorize` as `check` decides, and their reports.
//! - [`tokens`]: sealed session tokens (seal/open under the world's session keys) and web identity
//!   tokens (JWT against a JWKS). Pure; time is a parameter; uses nothing else in the crate.
//! - `civil`: calendar arithmetic shared by `sigv4`, `policy` and `logging` (a leaf).
//! - `accept`: what every listener (gRPC, HTTP, STS) does when accepting fails, and the gRPC
//!   listener's bind with its backlog (a leaf).
//! - [`app`]: wiring: gRPC server (worker threads, each serving its connections on an event loop
//!   of its own), tower layers, health, reflection, metrics endpoint, shutdown.
//! - `test_util` (feature `test-util`): a real SigV4 client and Envoy-shaped `CheckRequest`s for
//!   tests and benches.
//!
//! Dependencies point one way: `app → {authz, sts, store, metrics, config, accept}`; `sts →
//! {lattice, sigv4, policy, tokens, store, metrics, accept, civil}` and `authz`'s `Clock`;
//! `authz → {lattice, sigv4, store, metrics, logging}`; `store → {policy, lattice, sigv4,
//! config}`; `lattice → {policy, sigv4, tokens}`; `suite → {lattice, sigv4, authz}`; `sigv4`,
//! `policy`, `metrics`, `config`, `tokens`, `accept` use nothing else in the crate. The SigV4
//! verifier is called by `lattice` (`World::authorize` authenticates through the snapshot's
//! `Verifier`, the world being its credential source, sealed sessions included); `authz` only
//! passes that verifier in and reads the outcome's key-cache result for its metrics; `sts`
//! verifies its signed calls with a verifier of its own (service `sts`, any region).

mod accept;
pub mod app;
pub mod authz;
mod civil;
pub mod config;
pub mod lattice;
pub mod logging;
pub mod metrics;
pub mod policy;
pub mod sigv4;
pub mod store;
pub mod sts;
pub mod suite;
#[cfg(any(test, feature = "test-util"))]
pub mod test_util;
pub mod tokens;

/// Generated code for the project's own protobuf API (`proto/`).
pub mod pb {
    #![allow(
        missing_docs,
        unreachable_pub,
        clippy::all,
        clippy::pedantic,
        reason = "generated code"
    )]
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        reason = "generated code"
    )]
    tonic::include_proto!("lattice_authz.v1");

    /// Encoded file descriptor set, for gRPC reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("diagnostics_descriptor");

    /// Encoded file descriptor set of Envoy's `envoy.service.auth.v3.Authorization` and
    /// everything it imports (built from the `.proto` files `envoy-types` ships), for gRPC
    /// reflection.
    pub const ENVOY_AUTH_FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("envoy_auth_descriptor");
}
