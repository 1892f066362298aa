//! Integration tests: one binary, one module per concern.

mod decisions;
mod grpc_check;
mod reload;
mod support;
