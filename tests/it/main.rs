//! Integration tests: one binary, one module per concern.

mod decisions;
mod grpc_check;
mod policy_props;
mod policy_validation;
mod policy_vectors;
mod reload;
mod sigv4_clients;
mod sigv4_common;
mod sigv4_lattice;
mod sigv4_suite;
mod support;
