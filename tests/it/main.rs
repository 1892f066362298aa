//! Integration tests: one binary, one module per concern.

mod decisions;
mod grpc_check;
mod reload;
mod sigv4_clients;
mod sigv4_common;
mod sigv4_lattice;
mod sigv4_suite;
mod support;
