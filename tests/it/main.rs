//! Integration tests: one binary, one module per concern.

#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::string_slice,
    reason = "test helpers fail loudly, like the tests that call them"
)]

mod bounds;
mod cli;
mod decisions;
mod docs;
mod files;
mod grpc_check;
mod hostile;
mod http_port;
mod kubernetes;
mod policy_api;
mod policy_props;
mod policy_validation;
mod policy_vectors;
mod reflection;
mod refusals;
mod reload;
mod scale;
mod scenarios;
mod sigv4_clients;
mod sigv4_common;
mod sigv4_lattice;
mod sigv4_suite;
mod streams;
mod sts;
mod support;
mod workbench;
mod world_limits;
